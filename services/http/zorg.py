"""Actual care over HTTP: `GET /api/care` (the `care` JSON or CSV), `GET /api/care/replay`, and
the dashboard's care section as HTML (`zorg_sectie`). A router that `services.http.api.maak_api`
includes; the composition root builds it with the care questions, the event log for replay and
the regions.

Access: the care figures have no suppressed form (a median or a 90th percentile over a few
children, or a count of 1 of them waiting, points at a child), so like money they are read in
full or not at all (`vereis_volledig`): a gemeente role its own gemeente's, `regio` and
`auditor` their region's. They are aggregates only: no toewijzing, client or message leaves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from html import escape
from typing import Any

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from projections.regio import Regio
from projections.zorg import Zorgtelling
from projections.zorgvragen import Zorgvragen, als_csv_zorg, replay_zorg
from services.http.vraag import Gemeente, KnownAt, Peildatum, Region, Van, VraagKop, lees_vraag


class ZorgFormaat(StrEnum):
    json = "json"
    csv = "csv"


class ZorgcijfersOut(BaseModel):
    """Actual care (JW305/JW307) of one segment or the total, as known at K. null: n.v.t."""

    toegewezen_niet_gestart: int = Field(description=(
        "toewijzingen whose counting version started at least the region's start_termijn days "
        "before min(known_at, peildatum), not ended before it, without a start known at K on "
        "or before it"))
    gestart: int = Field(description="toewijzingen whose first start known at K lies in the window")
    tijd_tot_start_mediaan: float | None = Field(description=(
        "median days from the counting version's Ingangsdatum to the first start (negative: 0), "
        "over `gestart`; may end in .5"))
    tijd_tot_start_p90: int | None = Field(description="90th percentile (nearest rank) of the same")
    stops: int = Field(description="JW307 StopProducts in force at K with their Einddatum in the window")
    tijdelijke_stops: int = Field(description="of which RedenBeeindiging 20 (a temporary stop)")


class SegmentZorgOut(ZorgcijfersOut):
    segment: str


class CareOut(VraagKop):
    """The shape of `jeugdstroom care --format json`."""

    segments: list[SegmentZorgOut]
    totaal: ZorgcijfersOut = Field(description="every toewijzing in a segment (unmapped: none)")
    warnings: list[str]


class CareReplayOut(BaseModel):
    agrees: bool
    projection: CareOut
    replay: CareOut


def _uit(telling: Zorgtelling) -> CareOut:
    return CareOut.model_validate(telling.als_dict())


@dataclass
class ZorgApi:
    """The care routes."""

    zorgvragen: Zorgvragen
    eventlog: Callable[[], Iterable[object]]
    regios: dict[str, Regio]

    def replay(self, region: str, peildatum: date, van: date | None, known_at: date | None,
               gemeente: str | None) -> CareReplayOut:
        regio, start, pd, k, code = lees_vraag(self.regios, region, peildatum, van, known_at, gemeente)
        opnieuw = replay_zorg(self.eventlog(), regio, start, pd, k, code)
        projectie = self.zorgvragen.zorgtelling(regio, start, pd, k, code)
        return CareReplayOut(agrees=opnieuw.als_dict() == projectie.als_dict(),
                             projection=_uit(projectie), replay=_uit(opnieuw))

    @property
    def router(self) -> APIRouter:
        router = APIRouter(tags=["care"])

        @router.get("/api/care", response_model=CareOut,
                    responses={200: {"content": {"text/csv": {}}}})
        def care(region: Region, peildatum: Peildatum, van: Van = None, known_at: KnownAt = None,
                 gemeente: Gemeente = None, format: ZorgFormaat = ZorgFormaat.json) -> Any:
            """Actual care per segment (DOMAIN.md, Actual care: start and stop) for the window
            from..peildatum as known at K: toegewezen niet gestart, tijd tot start (median,
            p90) and the stops. Read in full only: a gemeente role its own gemeente."""
            regio, start, pd, k, code = lees_vraag(self.regios, region, peildatum, van, known_at, gemeente)
            telling = self.zorgvragen.zorgtelling(regio, start, pd, k, code)
            if format is ZorgFormaat.csv:
                return PlainTextResponse(als_csv_zorg(telling), media_type="text/csv", headers={
                    "Content-Disposition": f'attachment; filename="{regio.id}-zorg-{pd}.csv"'})
            return _uit(telling)

        @router.get("/api/care/replay", response_model=CareReplayOut)
        def care_replay(region: Region, peildatum: Peildatum, van: Van = None,
                        known_at: KnownAt = None, gemeente: Gemeente = None) -> CareReplayOut:
            """The care figures recomputed from the event log alone, beside the projection's."""
            return self.replay(region, peildatum, van, known_at, gemeente)

        return router


def zorg_router(zorgvragen: Zorgvragen, eventlog: Callable[[], Iterable[object]],
                regios: dict[str, Regio]) -> ZorgApi:
    return ZorgApi(zorgvragen, eventlog, regios)


# -- the dashboard's care section ---------------------------------------------------------


def _dagen(waarde: object) -> str:
    if waarde is None:
        return "n.v.t."
    return str(waarde).removesuffix(".0").replace(".", ",")


_KOLOMMEN = (("toegewezen_niet_gestart", "toegewezen, niet gestart"), ("gestart", "gestart"),
             ("tijd_tot_start_mediaan", "tijd tot start, mediaan (dagen)"),
             ("tijd_tot_start_p90", "tijd tot start, p90 (dagen)"), ("stops", "stops"),
             ("tijdelijke_stops", "waarvan tijdelijk"))


def zorg_sectie(zorgvragen: Zorgvragen, regio: Regio, van: date, peildatum: date,
                bekend_op: date | None, gemeente: str | None) -> str:
    """The dashboard's care section (Dutch labels): one row per segment and the total, cells
    with data-segment/data-veld like the other tables."""
    telling = zorgvragen.zorgtelling(regio, van, peildatum, bekend_op, gemeente)
    kop = "".join(f"<th>{naam}</th>" for _, naam in _KOLOMMEN)
    rijen = [(s.naam, s.segment, s.cijfers.als_dict()) for s in telling.segmenten]
    rijen.append(("totaal", "totaal", telling.totaal.als_dict()))
    body = "".join(
        f"<tr><th>{escape(naam)}</th>" + "".join(
            f'<td class="n" data-segment="{escape(segment)}" data-veld="{veld}">'
            f"{_dagen(cijfers[veld])}</td>" for veld, _ in _KOLOMMEN) + "</tr>"
        for naam, segment, cijfers in rijen)
    return (f'<section id="zorg"><h2>Daadwerkelijke zorg (JW305 start, JW307 stop)</h2>'
            f'<p class="klein">Toegewezen, niet gestart: toewijzingen die op '
            f"{min(bekend_op or date.today(), peildatum).isoformat()} al minstens "
            f"{regio.start_termijn} dagen liepen zonder bekende start. Tijd tot start: van "
            "ingangsdatum tot eerste start, voor toewijzingen die in het venster startten.</p>"
            f'<table id="zorg-segmenten"><tr><th>segment</th>{kop}</tr>{body}</table></section>')
