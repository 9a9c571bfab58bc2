"""HTTP API and dashboard (`jeugdstroom serve`): the same figures as the CLI, for people and
services. OpenAPI comes from the code (`/openapi.json`, `/docs`); every table also as CSV."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import date
from enum import StrEnum
from functools import partial
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from swagger_ui_bundle import swagger_ui_path

from projections.flow import Telling
from projections.regio import Regio
from projections.vragen import (
    VELDEN,
    Leeskant,
    OngeldigeVraag,
    Uitvoer,
    aandeel_in_regio,
    kies_gemeente,
    kies_regio,
    kopblok,
    redelijk,
    replay,
    uitvoer_diff,
    uitvoer_telling,
    venster,
)
from services.http import dashboard
from services.http.bescherming import DUUR_LIMIET, Bescherming, beperk_draden
from services.http.geld import GeldApi, GeldReplayOut, geld_sectie
from services.http.kwaliteit import KwaliteitApi
from services.http.toegang import (
    GEZONDHEID,
    LOGIN,
    Toegang,
    ToegangMiddleware,
    beslis,
    controleer,
    dashboard_gemeente,
    gemeente_besluit,
    gezondheid,
    login,
    markeer,
    onderdruk,
    onderdrukte_telling,
    regio_figuur,
    vereis_volledig,
    zichtbaar,
)
from services.http.vraag import Gemeente, KnownAt, Peildatum, Region, Van, VraagKop
from services.http.xlsx import XLSX, als_xlsx
from services.http.zorg import CareReplayOut, ZorgApi, zorg_sectie
from services.toegang.rollen import Vraag


class Formaat(StrEnum):
    json = "json"
    csv = "csv"
    xlsx = "xlsx"


# A count, or the string "<10" (the region's min_cel) where the caller reads another
# gemeente's or the region's figures as a benchmark; null: n.v.t. (no flow figures).
Cijfer = Annotated[int | str | None, Field(description='a count; "<10" when suppressed; null: n.v.t.')]
Aantal = Annotated[int | str, Field(description='a count; "<10" when suppressed')]


class SegmentOut(BaseModel):
    segment: str
    name: str
    flow: bool
    instroom: Cijfer
    stapeling: Cijfer
    doorstroom: Cijfer
    recidive: Cijfer
    hernieuwde_instroom: Cijfer
    uitstroom: Cijfer
    uitstroom_voorlopig: Cijfer
    in_zorg: Aantal
    unieke_jeugdigen: Aantal


class CountsOut(VraagKop):
    """The shape of `jeugdstroom counts --format json`."""

    segments: list[SegmentOut]
    unmapped_toewijzingen: Aantal
    totaal_unieke_jeugdigen: Aantal
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
    agrees: bool = Field(description="the flow figures and (when served) the money and care "
                         "figures agree")
    projection: CountsOut
    replay: CountsOut
    money: GeldReplayOut | None = Field(None, description="the money figures' replay check")
    care: CareReplayOut | None = Field(None, description="the care figures' replay check")


class ChangeOut(BaseModel):
    client: str = Field(description="pseudonym, shortened")
    toewijzing: str = Field(description="gemeentecode:ToewijzingNummer")
    segment: str | None
    at_k1: str
    at_k2: str
    caused_by: str
    message_date: date | None = Field(
        default=None, description="Dagtekening of the JW301 that caused the K2 state")
    what_changed: str = Field(default="", description="what differs between K1 and K2, in Dutch")


class StandOut(BaseModel):
    last_message_date: date | None = Field(
        description="the last Dagtekening that changed the region's figures")
    position: int = Field(description="event log position the projection has reached")
    behind: int | None = Field(description="events not yet projected (null: unknown)")


class ZorgduurOut(BaseModel):
    segment: str
    ended: int = Field(description="episodes whose uitstroom lies in the window")
    median_days: int | None
    p90_days: int | None
    ongoing: int = Field(description="episodes started by the peildatum without uitstroom by then")
    share_ongoing: float | None


class DiffOut(BaseModel):
    k1: CountsOut
    k2: CountsOut
    allocations: list[ChangeOut]


class MonthOut(BaseModel):
    month: str
    segment: str
    instroom_totaal: Cijfer = Field(
        description="all five inflow categories together: every allocation that started")
    instroom: Cijfer = Field(deprecated=True, description=(
        "deprecated: the same figure as instroom_totaal, kept for existing clients; it is not "
        "the `instroom` of /api/counts (that is the first inflow category only)"))
    uitstroom: Cijfer
    in_zorg: Aantal


class GemeenteOut(BaseModel):
    gemeente: str
    name: str
    counts: CountsOut
    share_of_region: dict[str, float | None] = Field(
        description="per segment: this gemeente's share of the region's unieke jeugdigen")


def _counts(t: Telling, min_cel: int | None = None) -> CountsOut:
    """The counts; with `min_cel` (a benchmark read) small cells suppressed."""
    data = t.als_dict()
    return CountsOut.model_validate(data if min_cel is None else onderdrukte_telling(data, min_cel))


def _csv(text: str, naam: str) -> Response:
    return PlainTextResponse(text, media_type="text/csv",
                             headers={"Content-Disposition": f'attachment; filename="{naam}.csv"'})


def _bestand(uitvoer: Uitvoer, formaat: Formaat) -> Response:
    """An export as CSV or xlsx, both with the header block."""
    if formaat is Formaat.xlsx:
        return Response(als_xlsx(uitvoer), media_type=XLSX, headers={
            "Content-Disposition": f'attachment; filename="{uitvoer.naam}.xlsx"'})
    return _csv(uitvoer.als_csv(), uitvoer.naam)


_BESTANDEN: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {}, XLSX: {}}}}


ACCESS = """

**Access.** Every route but `/healthz` and these docs needs `Authorization: Bearer <JWT>` of
the region's identity provider (a browser may use the cookie that `/login?token=...` sets).
No or a bad token: 401 with `WWW-Authenticate`; a role that does not read it: 403 naming the
role needed. Roles (claim `jeugdstroom_roles`): `gemeente:<code>` reads its own gemeente in
full, its detail (`/api/diff`, `/api/replay` with `gemeente=<own>`) and, as a benchmark, the
region's totals and the other gemeenten's figures **suppressed**: every count from 1 to
min_cel-1 (the region's `min_cel`, default 10) is the string `"<10"`, as in the publication
CSV; 0 stays 0 and null stays n.v.t. `regio:<id>` and `auditor:<id>` read all of their
region; `subscriber` reads nothing over HTTP. Detail reads, replays, benchmark reads and every
denial are written to the audit log (`jeugdstroom audit`)."""


def maak_api(leeskant: Leeskant, eventlog: Callable[[], Iterable[object]],
             regios: dict[str, Regio], *, toegang: Toegang, geld: GeldApi | None = None,
             duur_limiet: int = DUUR_LIMIET, kwaliteit: KwaliteitApi | None = None,
             zorg: ZorgApi | None = None) -> FastAPI:
    """The API over the flow view's questions; `eventlog` gives the events `replay` reads,
    `toegang` who may read what (`Toegang.zonder_controle` only for `--insecure-no-auth` and
    tests about the figures), `duur_limiet` how many replays and diffs run at once
    (services/http/bescherming.py). The composition root passes them in."""
    api = FastAPI(
        title="jeugdstroom",
        description="Flow figures of Dutch youth-care regions from their iJw traffic, for any "
        "peildatum as known at any date. Dates are YYYY-MM-DD; known_at empty means now."
        + ACCESS,
        version="0.1.0",
        dependencies=[Depends(controleer)],
        docs_url=None, redoc_url=None,  # /docs below serves Swagger UI from a package: no CDN
        lifespan=beperk_draden,
    )
    api.mount("/docs-assets", _Openbaar(StaticFiles(directory=swagger_ui_path)), name="docs-assets")

    @api.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=api.openapi_url or "/openapi.json", title="jeugdstroom API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png")
    api.state.toegang = toegang
    api.add_middleware(ToegangMiddleware)
    api.add_middleware(Bescherming, limiet=duur_limiet)  # outermost: every answer, 401s too
    api.get(GEZONDHEID, summary="health check (no token)")(gezondheid)
    api.get(LOGIN, include_in_schema=False)(login)
    if geld is not None:  # money has no suppressed form: full readers only
        api.include_router(geld.router, dependencies=[Depends(vereis_volledig)])
    if kwaliteit is not None:  # findings have no suppressed form either
        api.include_router(kwaliteit.router, dependencies=[Depends(vereis_volledig)])
    if zorg is not None:  # care neither (services/http/zorg.py says why)
        api.include_router(zorg.router, dependencies=[Depends(vereis_volledig)])

    @api.exception_handler(OngeldigeVraag)
    async def ongeldig(_: Request, error: OngeldigeVraag) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=404 if error.onbekend else 400)

    @api.exception_handler(RequestValidationError)
    async def onleesbaar(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [f"{e['loc'][-1]}: {e['msg']}" for e in error.errors()]
        return JSONResponse(
            {"detail": "; ".join(problems) + " (dates are YYYY-MM-DD, e.g. 2023-12-31, and must exist; "
             "months YYYY-MM)"},
            status_code=422)

    @api.get("/api/regions", response_model=list[RegionOut])
    def regions(request: Request) -> list[RegionOut]:
        zichtbare = zichtbaar(request, regios)
        return [_regio_uit(r) for r in regios.values() if r.id in zichtbare]

    @api.get("/api/regions/{region}", response_model=RegionOut)
    def region(request: Request, region: str) -> RegionOut:
        regio = kies_regio(regios, region)
        if regio.id not in zichtbaar(request, regios):
            beslis(request, regio, Vraag.REGIO_CIJFERS)  # the 403 that names the role needed
        return _regio_uit(regio)

    @api.get("/api/counts", response_model=CountsOut, responses=_BESTANDEN)
    def counts(request: Request, region: Region, peildatum: Peildatum, van: Van = None,
               known_at: KnownAt = None, gemeente: Gemeente = None,
               format: Formaat = Formaat.json,
               publication: Annotated[bool, Query(
                   description="CSV (or xlsx) for publication: small cells suppressed")] = False,
               ) -> Any:
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, gemeente)
        gemeente = kies_gemeente(regio, gemeente)
        onderdrukt = regio_figuur(request, regio, gemeente).onderdrukt
        telling = leeskant.telling(regio, start, pd, redelijk(known_at, "known_at"), gemeente)
        if format is not Formaat.json or publication:
            return _bestand(uitvoer_telling(telling, regio, min_cel=regio.min_cel
                                            if publication or onderdrukt else None),
                            Formaat.xlsx if format is Formaat.xlsx else Formaat.csv)
        return _counts(telling, regio.min_cel if onderdrukt else None)

    @api.get("/api/replay", response_model=ReplayOut)
    def replay_check(request: Request, region: Region, peildatum: Peildatum, van: Van = None,
                     known_at: KnownAt = None, gemeente: Gemeente = None) -> ReplayOut:
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, gemeente)
        gemeente = kies_gemeente(regio, gemeente)
        known_at = redelijk(known_at, "known_at")
        beslis(request, regio, Vraag.REPLAY, gemeente)
        opnieuw = replay(eventlog(), regio, start, pd, known_at, gemeente)
        projectie = leeskant.telling(regio, start, pd, known_at, gemeente)
        geldcheck = geld.replay(region, peildatum, van, known_at, gemeente) if geld else None
        zorgcheck = zorg.replay(region, peildatum, van, known_at, gemeente) if zorg else None
        return ReplayOut(agrees=opnieuw.als_dict() == projectie.als_dict()
                         and (geldcheck is None or geldcheck.agrees)
                         and (zorgcheck is None or zorgcheck.agrees),
                         projection=_counts(projectie), replay=_counts(opnieuw), money=geldcheck,
                         care=zorgcheck)

    @api.get("/api/diff", response_model=DiffOut, responses=_BESTANDEN)
    def diff_route(request: Request, region: Region, peildatum: Peildatum,
                   known_at: Annotated[list[date], Query(description="K1 and K2")],
                   van: Van = None, gemeente: Gemeente = None,
                   format: Formaat = Formaat.json) -> Any:
        if len(known_at) != 2:
            raise OngeldigeVraag("send known_at twice: ?known_at=K1&known_at=K2")
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, gemeente)
        gemeente = kies_gemeente(regio, gemeente)
        for k in known_at:
            redelijk(k, "known_at")
        # detail: a gemeente role reads its own (gemeente=<own code>: only its allocations)
        beslis(request, regio, Vraag.DETAIL, gemeente)
        een, twee, wijzigingen = leeskant.diff(regio, start, pd, known_at[0], known_at[1],
                                               gemeente)
        if format is not Formaat.json:
            return _bestand(uitvoer_diff(regio, een, twee, wijzigingen), format)
        return DiffOut(k1=_counts(een), k2=_counts(twee), allocations=[
            ChangeOut(client=w.client[:12], toewijzing=f"{w.gemeentecode}:{w.toewijzingnummer}",
                      segment=w.segment, at_k1=w.oud, at_k2=w.nieuw, caused_by=w.oorzaak,
                      message_date=w.datum, what_changed=w.wat)
            for w in wijzigingen])

    @api.get("/api/timeseries", response_model=list[MonthOut], responses=_BESTANDEN)
    def timeseries(request: Request, region: Region,
                   from_month: Annotated[str, Query(description="YYYY-MM")],
                   to_month: Annotated[str, Query(description="YYYY-MM")],
                   known_at: KnownAt = None, gemeente: Gemeente = None,
                   format: Formaat = Formaat.json) -> Any:
        regio = kies_regio(regios, region)
        gemeente = kies_gemeente(regio, gemeente)
        known_at = redelijk(known_at, "known_at")
        onderdrukt = regio_figuur(request, regio, gemeente).onderdrukt
        reeks = leeskant.tijdreeks(regio, from_month, to_month, known_at, gemeente)

        def cel(waarde: int | None) -> int | str | None:
            return onderdruk(waarde, regio.min_cel) if onderdrukt else waarde

        rows = [MonthOut(month=m.maand, segment=m.segment, instroom_totaal=cel(m.instroom_totaal),
                         instroom=cel(m.instroom_totaal), uitstroom=cel(m.uitstroom),
                         in_zorg=cel(m.in_zorg) or 0) for m in reeks]
        if format is not Formaat.json:
            return _bestand(Uitvoer(
                f"{regio.id}-maanden", kopblok(regio, from_month, to_month, known_at, gemeente,
                                               regio.min_cel if onderdrukt else None),
                ["month", "segment", "instroom_totaal", "uitstroom", "in_zorg"],
                [[r.month, r.segment, r.instroom_totaal, r.uitstroom, r.in_zorg] for r in rows],
                ["instroom_totaal: alle vijf instroomcategorieën samen (elke toewijzing die in de "
                 "maand begon); in_zorg: op de laatste dag van de maand"]), format)
        return rows

    @api.get("/api/gemeenten", response_model=list[GemeenteOut], responses=_BESTANDEN)
    def gemeenten(request: Request, region: Region, peildatum: Peildatum, van: Van = None,
                  known_at: KnownAt = None, format: Formaat = Formaat.json) -> Any:
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, None)
        known_at = redelijk(known_at, "known_at")
        regio_onderdrukt = regio_figuur(request, regio, None).onderdrukt
        regio_telling, tellingen = leeskant.regio_en_gemeenten(regio, start, pd, known_at)
        rows = []
        for t in tellingen:
            code = t.gemeente or ""
            onderdrukt = gemeente_besluit(request, regio, code).onderdrukt
            aandeel = aandeel_in_regio(t, regio_telling)
            if onderdrukt or regio_onderdrukt:
                # a share times the region's total would give a suppressed cell back
                klein = {s.segment for s in regio_telling.segmenten
                         if 0 < s.unieke_jeugdigen < regio.min_cel}
                aandeel = {seg: None if onderdrukt or seg in klein else a
                           for seg, a in aandeel.items()}
            rows.append(GemeenteOut(
                gemeente=code, name=regio.gemeenten[code],
                counts=_counts(t, regio.min_cel if onderdrukt else None),
                share_of_region=aandeel))
        if format is not Formaat.json:
            return _bestand(Uitvoer(
                f"{regio.id}-gemeenten-{pd}", kopblok(regio, start, pd, known_at, None, None),
                ["gemeente", "name", "segment", *VELDEN, "share"],
                [[g.gemeente, g.name, s.segment,
                  *("n.v.t." if getattr(s, v) is None else getattr(s, v) for v in VELDEN),
                  g.share_of_region[s.segment]] for g in rows for s in g.counts.segments],
                ["share: aandeel van de gemeente in de unieke jeugdigen van de regio; "
                 "<10: onderdrukt als benchmark voor een andere gemeente"]), format)
        return rows

    @api.get("/api/zorgduur", response_model=list[ZorgduurOut])
    def zorgduur(request: Request, region: Region, peildatum: Peildatum, van: Van = None,
                 known_at: KnownAt = None, gemeente: Gemeente = None) -> list[ZorgduurOut]:
        """Zorgduur per segment with flow figures: episodes ended in the window (median and
        90th percentile in days, nearest rank) and the share still ongoing on the peildatum."""
        regio = kies_regio(regios, region)
        start, pd = venster(regio, peildatum, van, gemeente)
        gemeente = kies_gemeente(regio, gemeente)
        beslis(request, regio, Vraag.DETAIL, gemeente)
        duren = leeskant.zorgduur(regio, start, pd, redelijk(known_at, "known_at"), gemeente)
        return [ZorgduurOut(segment=z.segment, ended=z.afgesloten, median_days=z.mediaan,
                            p90_days=z.p90, ongoing=z.lopend, share_ongoing=z.aandeel_lopend)
                for z in duren.values()]

    @api.get("/api/stand", response_model=StandOut)
    def stand(request: Request, region: Region) -> StandOut:
        """How current the figures are: the last message date, the projection's position and
        how many events it is behind."""
        regio = kies_regio(regios, region)
        regio_figuur(request, regio, None)
        s = leeskant.stand(regio)
        return StandOut(last_message_date=s.laatste_bericht, position=s.positie, behind=s.achter)

    @api.get("/", response_class=HTMLResponse, include_in_schema=False)
    def pagina(request: Request, regio: str | None = None, peildatum: str | None = None,
               bekend_op: str | None = None) -> HTMLResponse:
        # the page shows allocations that changed (detail): the whole region's for regio and
        # auditor, a gemeente's own page (gemeente=<code>, its default) for a gemeente role
        zichtbare = zichtbaar(request, regios)
        regio = regio or ("zuid-limburg" if "zuid-limburg" in zichtbare or not zichtbare
                          else zichtbare[0])
        vraag = dict(request.query_params)
        if regio in regios:
            gemeente = dashboard_gemeente(request, regios[regio], vraag.get("gemeente"))
            beslis(request, regios[regio], Vraag.DETAIL, gemeente)
            if gemeente:
                vraag["gemeente"] = gemeente
        # the page's own parameters (gemeente, van, toen, ...) are read by the page itself
        html, status = dashboard.pagina(
            leeskant, regios, {**vraag, "regio": regio},
            geld=None if geld is None else partial(geld_sectie, geld.geldvragen),
            zorg=None if zorg is None else partial(zorg_sectie, zorg.zorgvragen))
        return HTMLResponse(html, status_code=status)

    return api


class _Openbaar:
    """Swagger UI's own script and style sheet: public like /docs itself (they hold no data),
    so the access middleware is told the route decided."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        markeer(Request(scope))
        await self.app(scope, receive, send)


def _regio_uit(regio: Regio) -> RegionOut:
    return RegionOut(
        id=regio.id, name=regio.naam, gemeenten=regio.gemeenten, history_start=regio.history_start,
        n=regio.n, m=regio.m, min_cel=regio.min_cel,
        segments=[{"id": s.id, "name": s.naam, "flow": s.flow,
                   "excluded_gemeenten": list(s.uitgesloten_gemeenten)} for s in regio.segmenten])
