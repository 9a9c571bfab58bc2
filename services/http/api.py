"""HTTP API and dashboard (`jeugdstroom serve`): the same figures as the CLI, for people and
services. OpenAPI comes from the code (`/openapi.json`, `/docs`); every table also as CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from projections.flow import Telling
from projections.regio import Regio
from projections.vragen import (
    Leeskant,
    OngeldigeVraag,
    aandeel_in_regio,
    als_csv,
    kies_regio,
    redelijk,
    replay,
    venster,
)
from services.http import dashboard


class Formaat(StrEnum):
    json = "json"
    csv = "csv"


class SegmentOut(BaseModel):
    segment: str
    name: str
    flow: bool
    instroom: int | None
    stapeling: int | None
    doorstroom: int | None
    recidive: int | None
    hernieuwde_instroom: int | None
    uitstroom: int | None
    uitstroom_voorlopig: int | None
    in_zorg: int
    unieke_jeugdigen: int


class CountsOut(BaseModel):
    """The shape of `jeugdstroom counts --format json`."""

    model_config = {"populate_by_name": True}

    region: str
    from_: date = Field(alias="from")
    peildatum: date
    known_at: date | None = Field(description="null: now")
    gemeente: str | None = Field(description="null: all gemeenten of the region")
    segments: list[SegmentOut]
    unmapped_toewijzingen: int
    totaal_unieke_jeugdigen: int
    warnings: list[str]


class RegionOut(BaseModel):
    id: str
    name: str
    gemeenten: dict[str, str]
    segments: list[dict[str, Any]]
    history_start: date
    n: int
    m: int
    min_cel: int


class ReplayOut(BaseModel):
    agrees: bool
    projection: CountsOut
    replay: CountsOut


class ChangeOut(BaseModel):
    client: str = Field(description="pseudonym, shortened")
    toewijzing: str = Field(description="gemeentecode:ToewijzingNummer")
    segment: str | None
    at_k1: str
    at_k2: str
    caused_by: str


class DiffOut(BaseModel):
    k1: CountsOut
    k2: CountsOut
    allocations: list[ChangeOut]


class MonthOut(BaseModel):
    month: str
    segment: str
    instroom: int | None
    uitstroom: int | None
    in_zorg: int


class GemeenteOut(BaseModel):
    gemeente: str
    name: str
    counts: CountsOut
    share_of_region: dict[str, float | None] = Field(
        description="per segment: this gemeente's share of the region's unieke jeugdigen")


Region = Annotated[str, Query(description="region id, see /api/regions")]
Peildatum = Annotated[date, Query(description="last day of the window")]
Van = Annotated[date | None, Query(alias="from", description="first day (default 1 January)")]
KnownAt = Annotated[date | None, Query(description="knowledge date K (empty: now)")]
Gemeente = Annotated[str | None, Query(pattern=r"^\d{4}$", description="4-digit CBS code")]


def _counts(t: Telling) -> CountsOut:
    return CountsOut.model_validate(t.als_dict())


def _csv(text: str, naam: str) -> Response:
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{naam}.csv"'})


def maak_api(leeskant: Leeskant, eventlog: Callable[[], Iterable[object]],
             regios: dict[str, Regio]) -> FastAPI:
    """The API over the flow view's questions; `eventlog` gives the events `replay` reads.
    The composition root passes all three in."""
    api = FastAPI(
        title="jeugdstroom",
        description="Flow figures of Dutch youth-care regions from their iJw traffic, for any "
        "peildatum as known at any date. Dates are YYYY-MM-DD; known_at empty means now.",
        version="0.1.0",
    )

    @api.exception_handler(OngeldigeVraag)
    async def ongeldig(_: Request, error: OngeldigeVraag) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404 if error.onbekend else 400)

    @api.exception_handler(RequestValidationError)
    async def onleesbaar(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{e['loc'][-1]}: {e['msg']}" for e in error.errors()]
        return JSONResponse(
            {"detail": "; ".join(problems) + " (dates are YYYY-MM-DD, months YYYY-MM)"},
            status_code=422)

    @api.get("/api/regions", response_model=list[RegionOut])
    def regions() -> list[RegionOut]:
        return [_regio_uit(r) for r in regios.values()]

    @api.get("/api/regions/{region}", response_model=RegionOut)
    def region(region: str) -> RegionOut:
        return _regio_uit(kies_regio(regios, region))

    @api.get("/api/counts", response_model=CountsOut,
             responses={200: {"content": {"text/csv": {}}}})
    def counts(region: Region, peildatum: Peildatum, van: Van = None, known_at: KnownAt = None,
               gemeente: Gemeente = None, format: Formaat = Formaat.json,
               publication: Annotated[bool, Query(
                   description="CSV for publication: small cells suppressed")] = False,
               ) -> Any:
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, gemeente)
        telling = leeskant.telling(regio, start, pd, redelijk(known_at, "known_at"), gemeente)
        if format is Formaat.csv or publication:
            return _csv(als_csv(telling, min_cel=regio.min_cel if publication else None),
                        f"{regio.id}-{pd}")
        return _counts(telling)

    @api.get("/api/replay", response_model=ReplayOut)
    def replay_check(region: Region, peildatum: Peildatum, van: Van = None,
                     known_at: KnownAt = None, gemeente: Gemeente = None) -> ReplayOut:
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, gemeente)
        opnieuw = replay(eventlog(), regio, start, pd, known_at, gemeente)
        projectie = leeskant.telling(regio, start, pd, known_at, gemeente)
        return ReplayOut(agrees=opnieuw.als_dict() == projectie.als_dict(),
                         projection=_counts(projectie), replay=_counts(opnieuw))

    @api.get("/api/diff", response_model=DiffOut)
    def diff_route(region: Region, peildatum: Peildatum,
                   known_at: Annotated[list[date], Query(description="K1 and K2")],
                   van: Van = None, gemeente: Gemeente = None) -> DiffOut:
        if len(known_at) != 2:
            raise OngeldigeVraag("send known_at twice: ?known_at=K1&known_at=K2")
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, gemeente)
        een, twee, wijzigingen = leeskant.diff(regio, start, pd, known_at[0], known_at[1],
                                               gemeente)
        return DiffOut(k1=_counts(een), k2=_counts(twee), allocations=[
            ChangeOut(client=w.client[:12], toewijzing=f"{w.gemeentecode}:{w.toewijzingnummer}",
                      segment=w.segment, at_k1=w.oud, at_k2=w.nieuw, caused_by=w.oorzaak)
            for w in wijzigingen])

    @api.get("/api/timeseries", response_model=list[MonthOut],
             responses={200: {"content": {"text/csv": {}}}})
    def timeseries(region: Region,
                   from_month: Annotated[str, Query(description="YYYY-MM")],
                   to_month: Annotated[str, Query(description="YYYY-MM")],
                   known_at: KnownAt = None, gemeente: Gemeente = None,
                   format: Formaat = Formaat.json) -> Any:
        regio = kies_regio(regios, region)
        venster(regio, date.today(), date.today(), gemeente)  # checks the gemeente
        reeks = leeskant.tijdreeks(regio, from_month, to_month, known_at, gemeente)
        rows = [MonthOut(month=m.maand, segment=m.segment, instroom=m.instroom,
                         uitstroom=m.uitstroom, in_zorg=m.in_zorg) for m in reeks]
        if format is Formaat.csv:
            return _csv("month,segment,instroom,uitstroom,in_zorg\n" + "".join(
                f"{r.month},{r.segment},{_n(r.instroom)},{_n(r.uitstroom)},{r.in_zorg}\n"
                for r in rows), f"{regio.id}-maanden")
        return rows

    @api.get("/api/gemeenten", response_model=list[GemeenteOut],
             responses={200: {"content": {"text/csv": {}}}})
    def gemeenten(region: Region, peildatum: Peildatum, van: Van = None,
                  known_at: KnownAt = None, format: Formaat = Formaat.json) -> Any:
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, None)
        regio_telling, tellingen = leeskant.regio_en_gemeenten(regio, start, pd, known_at)
        rows = [GemeenteOut(
            gemeente=t.gemeente or "", name=regio.gemeenten[t.gemeente or ""], counts=_counts(t),
            share_of_region=aandeel_in_regio(t, regio_telling))
            for t in tellingen]
        if format is Formaat.csv:
            kop = "gemeente,name,segment,instroom,uitstroom,in_zorg,unieke_jeugdigen,share\n"
            return _csv(kop + "".join(
                f"{g.gemeente},\"{g.name}\",{s.segment},{_n(s.instroom)},{_n(s.uitstroom)},"
                f"{s.in_zorg},{s.unieke_jeugdigen},{_n(g.share_of_region[s.segment])}\n"
                for g in rows for s in g.counts.segments), f"{regio.id}-gemeenten-{pd}")
        return rows

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def pagina(regio: str | None = None, peildatum: str | None = None,
               bekend_op: str | None = None) -> HTMLResponse:
        html, status = dashboard.pagina(leeskant, regios, regio, peildatum, bekend_op)
        return HTMLResponse(html, status_code=status)

    return api


def _n(value: object) -> str:
    return "" if value is None else str(value)


def _regio_uit(regio: Regio) -> RegionOut:
    return RegionOut(
        id=regio.id, name=regio.naam, gemeenten=regio.gemeenten, history_start=regio.history_start,
        n=regio.n, m=regio.m, min_cel=regio.min_cel,
        segments=[{"id": s.id, "name": s.naam, "flow": s.flow,
                   "excluded_gemeenten": list(s.uitgesloten_gemeenten)} for s in regio.segmenten])
