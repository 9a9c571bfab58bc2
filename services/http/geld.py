"""Money over HTTP: `GET /api/costs` (the `costs` JSON or CSV, per segment, gemeente, month,
aanbieder or product), `GET /api/costs/replay`, and the dashboard's money section as HTML
(`geld_sectie`). A router that `services.http.api.maak_api` includes; the composition root
builds it with the money questions, the event log for replay and the regions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from html import escape
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from projections.geld import Kostentelling, Per
from projections.geldvragen import Geldvragen, als_csv_geld, replay_geld
from projections.regio import Regio
from services.http.vraag import Gemeente, KnownAt, Peildatum, Region, Van, VraagKop, lees_vraag


class Uitsplitsing(StrEnum):
    segment = "segment"
    gemeente = "gemeente"
    month = "month"
    aanbieder = "aanbieder"
    product = "product"


class GeldFormaat(StrEnum):
    json = "json"
    csv = "csv"


PER: dict[Uitsplitsing, Per] = {
    Uitsplitsing.segment: "segment", Uitsplitsing.gemeente: "gemeente",
    Uitsplitsing.month: "maand", Uitsplitsing.aanbieder: "aanbieder",
    Uitsplitsing.product: "product"}


class GeldcijfersOut(BaseModel):
    """Money figures of one cell. Amounts in eurocent; realisatie a percentage with one
    decimal; null: n.v.t."""

    gedeclareerd: int = Field(description="signed sum of the lines known at K in the window")
    afgewezen: int = Field(description="the same over the lines rejected at K")
    toegekend: int = Field(description="gedeclareerd - afgewezen")
    beschikt: int = Field(description="allocated value of the toewijzingen in the window")
    realisatie: float | None = Field(description="toegekend / beschikt in %, toewijzingen with "
                                     "an allocated value only; null: beschikt is 0")
    toewijzingen_zonder_declaratie: int = Field(description="count of toewijzingen")
    zonder_beschikte_waarde: int = Field(description="count of toewijzingen")
    buiten_toewijzingsperiode: int = Field(description="gedeclareerd outside [start, end]")
    jeugdigen_met_declaratie: int
    kosten_per_jeugdige: int | None


class SegmentGeldOut(GeldcijfersOut):
    segment: str


class RijGeldOut(GeldcijfersOut):
    """One row of a breakdown other than per segment: its key fields, then the figures."""

    gemeente: str | None = Field(None, description="by=gemeente or by=product")
    ongekoppeld: int | None = Field(None, description="by=gemeente: declared without a toewijzing")
    month: str | None = Field(None, description="by=month: YYYY-MM")
    aanbieder: str | None = Field(None, description="by=aanbieder: AGB code")
    categorie: str | None = Field(None, description="by=product")
    code: str | None = Field(None, description="by=product")


class CostsOut(VraagKop):
    """The shape of `jeugdstroom costs --format json`: `segments` for by=segment (the
    contract), `by` and `rows` for any other breakdown."""

    segments: list[SegmentGeldOut] | None = Field(None, description="by=segment")
    by: str | None = Field(None, description="the breakdown of `rows`")
    rows: list[RijGeldOut] | None = Field(None, description="by other than segment")
    ongekoppeld: int = Field(description="gedeclareerd of lines without a toewijzing at K")
    totaal: GeldcijfersOut = Field(description="the sum of the segments")
    warnings: list[str]


class GeldReplayOut(BaseModel):
    agrees: bool
    projection: CostsOut
    replay: CostsOut


def _uit(telling: Kostentelling) -> CostsOut:
    return CostsOut.model_validate(telling.als_dict())


@dataclass
class GeldApi:
    """The money routes and the money half of `/api/replay`."""

    geldvragen: Geldvragen
    eventlog: Callable[[], Iterable[object]]
    regios: dict[str, Regio]

    def replay(self, region: str, peildatum: date, van: date | None, known_at: date | None,
               gemeente: str | None) -> GeldReplayOut:
        regio, start, pd, k, code = lees_vraag(self.regios, region, peildatum, van, known_at, gemeente)
        opnieuw = replay_geld(self.eventlog(), regio, start, pd, k, code)
        projectie = self.geldvragen.kostentelling(regio, start, pd, k, code)
        return GeldReplayOut(agrees=opnieuw.als_dict() == projectie.als_dict(),
                             projection=_uit(projectie), replay=_uit(opnieuw))

    @property
    def router(self) -> APIRouter:
        router = APIRouter(tags=["money"])

        @router.get("/api/costs", response_model=CostsOut, response_model_exclude_unset=True,
                    responses={200: {"content": {"text/csv": {}}}})
        def costs(region: Region, peildatum: Peildatum, van: Van = None, known_at: KnownAt = None,
                  gemeente: Gemeente = None, by: Uitsplitsing = Uitsplitsing.segment,
                  format: GeldFormaat = GeldFormaat.json,
                  publication: Annotated[bool, Query(
                      description="CSV for publication: the amounts of cells with fewer than the "
                      "region's min_cel jeugdigen met declaratie are suppressed")] = False,
                  ) -> Any:
            """Money per segment (DOMAIN.md, Money) for the window from..peildatum as known at
            K; amounts in eurocent. `by` picks the breakdown."""
            regio, start, pd, k, code = lees_vraag(self.regios, region, peildatum, van, known_at, gemeente)
            telling = self.geldvragen.kostentelling(regio, start, pd, k, code, PER[by])
            if format is GeldFormaat.csv or publication:
                tekst = als_csv_geld(telling, min_cel=regio.min_cel if publication else None)
                return PlainTextResponse(tekst, media_type="text/csv", headers={
                    "Content-Disposition": f'attachment; filename="{regio.id}-geld-{pd}.csv"'})
            return _uit(telling)

        @router.get("/api/costs/replay", response_model=GeldReplayOut,
                    response_model_exclude_unset=True)
        def costs_replay(region: Region, peildatum: Peildatum, van: Van = None,
                         known_at: KnownAt = None, gemeente: Gemeente = None) -> GeldReplayOut:
            """The money figures recomputed from the event log alone, beside the projection's."""
            return self.replay(region, peildatum, van, known_at, gemeente)

        return router


def geld_router(geldvragen: Geldvragen, eventlog: Callable[[], Iterable[object]],
                regios: dict[str, Regio]) -> GeldApi:
    return GeldApi(geldvragen, eventlog, regios)


# -- the dashboard's money section --------------------------------------------------------


def _euro(eurocent: int | None) -> str:
    if eurocent is None:
        return "n.v.t."
    return f"€ {eurocent / 100:,.0f}".replace(",", ".")


def _pct(waarde: object) -> str:
    return "n.v.t." if waarde is None else f"{waarde}%".replace(".", ",")


_KOLOMMEN = (("gedeclareerd", "gedeclareerd"), ("afgewezen", "afgewezen"),
             ("toegekend", "toegekend"), ("beschikt", "beschikt"), ("realisatie", "realisatie"),
             ("toewijzingen_zonder_declaratie", "toewijzingen zonder declaratie"),
             ("zonder_beschikte_waarde", "zonder beschikte waarde"),
             ("buiten_toewijzingsperiode", "buiten toewijzingsperiode"),
             ("jeugdigen_met_declaratie", "jeugdigen met declaratie"),
             ("kosten_per_jeugdige", "kosten per jeugdige"))
_AANTALLEN = {"toewijzingen_zonder_declaratie", "zonder_beschikte_waarde",
              "jeugdigen_met_declaratie"}


def _waarde(veld: str, waarde: Any) -> str:
    if veld == "realisatie":
        return _pct(waarde)
    if veld in _AANTALLEN:
        return str(waarde)
    return _euro(waarde)


def geld_sectie(geldvragen: Geldvragen, regio: Regio, van: date, peildatum: date,
                bekend_op: date | None, *, aanbieders: int = 10) -> str:
    """The dashboard's money section (Dutch labels, inline SVG): per segment; per month
    toegekend against beschikt; the gemeenten side by side; the providers with the largest
    unused allocation. Decided here: "onbenut" of a provider is beschikt - toegekend of its
    cell (its toewijzingen in the window and their lines), providers without allocated value
    left out. The segment table's cells carry data-segment/data-veld like the flow tables."""
    per_segment = geldvragen.kostentelling(regio, van, peildatum, bekend_op)
    per_maand = geldvragen.kostentelling(regio, van, peildatum, bekend_op, per="maand")
    per_gemeente = geldvragen.kostentelling(regio, van, peildatum, bekend_op, per="gemeente")
    per_aanbieder = geldvragen.kostentelling(regio, van, peildatum, bekend_op, per="aanbieder")
    bekend = bekend_op.isoformat() if bekend_op else "nu"
    kop = "".join(f"<th>{naam}</th>" for _, naam in _KOLOMMEN)
    segmentrijen = "".join(
        f"<tr><th>{escape(s.naam)}</th>" + "".join(
            f'<td class="n" data-segment="{escape(s.segment)}" data-veld="{veld}">'
            f"{_waarde(veld, s.cijfers.als_dict()[veld])}</td>" for veld, _ in _KOLOMMEN) + "</tr>"
        for s in per_segment.segmenten)
    totaal = per_segment.totaal.als_dict()
    totaalrij = "<tr><th>totaal</th>" + "".join(
        f'<td class="n" data-segment="totaal" data-veld="{veld}">{_waarde(veld, totaal[veld])}</td>'
        for veld, _ in _KOLOMMEN) + "</tr>"
    delen = [
        f'<section id="geld"><h2>Geld: {van.isoformat()} t/m {peildatum.isoformat()}, '
        f"bekend op {bekend}</h2>",
        f'<table id="geld-segmenten"><tr><th>segment</th>{kop}</tr>{segmentrijen}{totaalrij}</table>',
        f"<p>ongekoppeld (gedeclareerd zonder toewijzing): {_euro(per_segment.ongekoppeld)}</p>",
        *(f'<p class="fout">let op: {escape(w)}</p>' for w in per_segment.waarschuwingen),
        "<h3>Per maand: toegekend tegenover beschikt</h3>",
        _maandgrafiek([(f"{m:%Y-%m}", c.toegekend, c.beschikt)
                       for m, c in per_maand.uitsplitsing.items()]),
        "<h3>Gemeenten naast elkaar</h3>",
        _gemeentetabel(regio, per_gemeente),
        f"<h3>Aanbieders met de grootste onbenutte beschikte waarde (top {aanbieders})</h3>",
        _aanbiederstabel(per_aanbieder, aanbieders),
        "</section>",
    ]
    return "".join(delen)


def _maandgrafiek(punten: list[tuple[str, int, int]]) -> str:
    breed, hoog, links, onder = 640, 200, 60, 30
    hoogste = max([1, *(max(t, b) for _, t, b in punten)])
    stap = (breed - links - 10) / max(len(punten), 1)
    balk = max(stap / 2 - 2, 1)

    def h(waarde: int) -> float:
        return max(waarde, 0) / hoogste * (hoog - onder - 10)

    staven = "".join(
        f'<rect x="{links + i * stap:.1f}" y="{hoog - onder - h(b):.1f}" width="{balk:.1f}" '
        f'height="{h(b):.1f}" fill="#b8c7e0"><title>{maand} beschikt {_euro(b)}</title></rect>'
        f'<rect x="{links + i * stap + balk:.1f}" y="{hoog - onder - h(t):.1f}" '
        f'width="{balk:.1f}" height="{h(t):.1f}" fill="#1f5fbf"><title>{maand} toegekend '
        f"{_euro(t)}</title></rect>"
        + (f'<text x="{links + i * stap:.1f}" y="{hoog - 10}" font-size="10">{maand}</text>'
           if i % 3 == 0 else "")
        for i, (maand, t, b) in enumerate(punten))
    return (f'<figure id="geld-maanden"><figcaption><span style="color:#1f5fbf">toegekend</span> '
            f'en <span style="color:#7f93b8">beschikt</span> per maand</figcaption>'
            f'<svg width="{breed}" height="{hoog}" role="img" aria-label="geld per maand">'
            f'<line x1="{links}" y1="{hoog - onder}" x2="{breed}" y2="{hoog - onder}" stroke="#999"/>'
            f'<text x="2" y="14" font-size="10">{_euro(hoogste)}</text>{staven}</svg></figure>')


def _gemeentetabel(regio: Regio, telling: Kostentelling) -> str:
    rijen = []
    for code, c in sorted(telling.uitsplitsing.items(),
                          key=lambda kc: regio.gemeenten.get(str(kc[0]), str(kc[0]))):
        rijen.append(
            f'<tr><th>{escape(regio.gemeenten.get(str(code), str(code)))}</th>'
            f'<td class="n">{_euro(c.toegekend)}</td><td class="n">{_euro(c.beschikt)}</td>'
            f'<td class="n">{_pct(c.realisatie)}</td><td class="n">{c.jeugdigen_met_declaratie}</td>'
            f'<td class="n">{_euro(c.kosten_per_jeugdige)}</td>'
            f'<td class="n">{_euro(telling.ongekoppeld_per_gemeente.get(str(code), 0))}</td></tr>')
    return ('<table id="geld-gemeenten"><tr><th>gemeente</th><th>toegekend</th><th>beschikt</th>'
            "<th>realisatie</th><th>jeugdigen met declaratie</th><th>kosten per jeugdige</th>"
            f"<th>ongekoppeld</th></tr>{''.join(rijen)}</table>")


def _aanbiederstabel(telling: Kostentelling, aantal: int) -> str:
    onbenut = sorted(((c.beschikt - c.toegekend, str(a), c) for a, c in telling.uitsplitsing.items()
                      if c.beschikt > 0), key=lambda x: (-x[0], x[1]))[:aantal]
    if not onbenut:
        return "<p>Geen aanbieders met beschikte waarde in dit venster.</p>"
    rijen = "".join(
        f'<tr><th>{escape(a)}</th><td class="n">{_euro(c.beschikt)}</td>'
        f'<td class="n">{_euro(c.toegekend)}</td><td class="n">{_euro(verschil)}</td>'
        f'<td class="n">{_pct(c.realisatie)}</td></tr>' for verschil, a, c in onbenut)
    return ('<table id="geld-aanbieders"><tr><th>aanbieder (AGB)</th><th>beschikt</th>'
            f"<th>toegekend</th><th>onbenut</th><th>realisatie</th></tr>{rijen}</table>")
