"""The `jeugdstroom` command: one entry point for operators, analysts and the demo."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import json
import logging
import os
import re
import sys
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import nats
import typer
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from events.gemeenten import GemeenteRegister, GemeenteRegisterError
from events.ijw import Afgewezen
from projections.flow import Telling
from projections.regio import Regio, RegioConfigError, regios_uit_cbs
from services import bootstrap
from services.bench import SCHEMA_VERSION, Meting, meet
from services.ingest import StreamBericht
from services.leeskant import VELDEN, OngeldigeVraag, als_csv, kies_regio, venster
from services.nats import ijw_bestanden, nats_servers, publiceer
from services.projector import Projector
from services.projector import diff as diff_figures
from services.projector import replay as replay_telling
from services.runtime import EmbeddedRuntime, RuntimeError_, free_port, port_free
from services.settings import Settings
from services.simulator import simulatie_profiel, simuleer
from services.updates import asyncapi_json

app = typer.Typer(
    help="jeugdstroom: youth-care flow figures from a region's own iJw message traffic.\n\n"
    "Without JEUGDSTROOM_NATS_URL and JEUGDSTROOM_DATABASE_URL every command uses the "
    "embedded nats-server and PostgreSQL under JEUGDSTROOM_STATE_DIR (default .jeugdstroom), "
    "starting them when needed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
rejected_app = typer.Typer(
    help="Messages that were not ingested, with their reason; replay one after a fix.",
    invoke_without_command=True,
)
app.add_typer(rejected_app, name="rejected")
# piped output (CI logs, files) gets room for the 0-meting table instead of 80 columns
console = Console(width=None if sys.stdout.isatty() else 150)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 150)


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log every batch")] = False,
) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("faststream").setLevel(logging.WARNING)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for e in error.errors():
            err.print(f"[red]configuration:[/red] {'.'.join(map(str, e['loc']))} {e['msg']}")
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {escape(message)}")
    return typer.Exit(2)


def _endpoints(settings: Settings) -> bootstrap.Endpoints:
    try:
        return bootstrap.endpoints(settings)
    except RuntimeError_ as error:
        raise _fail(str(error)) from None


@app.command()
def up() -> None:
    """Start the embedded nats-server (JetStream) and PostgreSQL on free ports, and say where."""
    settings = _settings()
    if not settings.embedded:
        raise _fail("JEUGDSTROOM_NATS_URL/DATABASE_URL are set: nothing embedded to start")
    servers = _endpoints(settings)
    console.print(f"state dir   {settings.state_dir.resolve()}")
    console.print(f"NATS        {servers.nats_url}")
    console.print(f"PostgreSQL  {servers.database_url}")
    console.print("stop them with: jeugdstroom down")


@app.command()
def down() -> None:
    """Stop the embedded servers; their data stays in the state dir for the next `up`."""
    settings = _settings()
    EmbeddedRuntime(settings.state_dir).down()
    console.print("embedded servers stopped")


@app.command()
def publish(
    paths: Annotated[list[Path], typer.Argument(help="iJw XML files, or directories of them")],
) -> None:
    """Publish iJw files to ijw.<gemeentecode>.<bericht>, as a municipal backoffice would."""
    settings = _settings()
    bestanden = list(ijw_bestanden(paths))
    missing = [p for p in bestanden if not p.is_file()]
    if missing:
        raise _fail(f"no such file: {missing[0]}")
    servers = _endpoints(settings)
    with _progress() as progress:
        task = progress.add_task("publishing", total=len(bestanden))
        resultaat = asyncio.run(
            publiceer(servers.nats_url, settings, bestanden,
                      voortgang=lambda n: progress.advance(task, n))
        )
    console.print(
        f"{resultaat.geaccepteerd} accepted, {resultaat.dubbel} duplicate "
        f"(dropped by JetStream), {len(resultaat.fouten)} not published"
    )
    for pad, reden in resultaat.fouten:
        err.print(f"[yellow]not published[/yellow] {escape(str(pad))}: {escape(reden)}")
    if resultaat.fouten:
        raise typer.Exit(1)


@app.command()
def ingest(
    until_caught_up: Annotated[bool, typer.Option(
        "--until-caught-up", help="stop once everything now in the stream is ingested")] = False,
) -> None:
    """Run the ingest service: validate, pseudonymise and store iJw messages from JetStream."""
    settings = _settings()
    servers = _endpoints(settings)
    try:
        if until_caught_up:
            _ingest_until_caught_up(settings, servers)
            return
        # the URL may carry user:password@ (deploy/): show the servers only
        err.print(f"ingest: {re.sub(r'//[^/@,]*@', '//', servers.nats_url)} -> event store; "
                  "Ctrl-C stops")
        asyncio.run(bootstrap.ingest_service(settings, servers))
    except (bootstrap.ConfigurationError, GemeenteRegisterError) as error:
        raise _fail(str(error)) from None


def _ingest_until_caught_up(settings: Settings, servers: bootstrap.Endpoints) -> None:
    with _progress() as progress:
        task = progress.add_task("ingesting (stream seq)", total=None)

        def voortgang(positie: int, target: int) -> None:
            progress.update(task, completed=positie, total=target)

        result = asyncio.run(bootstrap.ingest_until_caught_up(settings, servers, voortgang=voortgang))
    totaal = result.totaal
    console.print(f"{totaal.berichten} messages ingested: {totaal.records} iJw records, "
                  f"{totaal.events} new events, {len(totaal.afgewezen)} rejected"
                  + (" (see `jeugdstroom rejected`)" if totaal.afgewezen else ""))


@app.command()
def status() -> None:
    """How far ingest is: stream messages, committed position, open rejections."""
    settings = _settings()
    servers = _endpoints(settings)
    store = bootstrap.event_store(servers.database_url)
    positie = store.positie(f"nats:{settings.stream}")

    async def last_seq() -> int:
        nc = await nats.connect(nats_servers(servers.nats_url))
        try:
            info = await nc.jetstream().stream_info(settings.stream)
            return int(info.state.last_seq)
        except NotFoundError:
            return 0
        finally:
            await nc.close()

    table = Table(show_header=False)
    table.add_row("stream", settings.stream)
    table.add_row("last stream seq", str(asyncio.run(last_seq())))
    table.add_row("ingested up to seq", str(positie))
    table.add_row("open rejections", str(len(store.afwijzingen())))
    console.print(table)


@rejected_app.callback()
def rejected(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="also those replayed since")] = False,
) -> None:
    """List rejected messages: stream sequence, subject and reason (never a BSN)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    store = bootstrap.event_store(_endpoints(settings).database_url)
    afwijzingen = store.afwijzingen(ook_hersteld=all_)
    table = Table("seq", "subject", "rejected at", "reason", *(["replayed"] if all_ else []))
    for a in afwijzingen:
        moment = a.afgewezen_op.strftime("%Y-%m-%d %H:%M") if a.afgewezen_op else ""
        hersteld = [a.hersteld_op.strftime("%Y-%m-%d %H:%M") if a.hersteld_op else ""]
        table.add_row(str(a.stream_seq), escape(a.subject), moment, escape(a.reden),
                      *(hersteld if all_ else []))
    console.print(table)
    console.print(f"{len(afwijzingen)} rejected; replay one after a fix with "
                  "`jeugdstroom rejected replay SEQ`")


@rejected_app.command("replay")
def replay_rejected(
    seq: Annotated[int, typer.Argument(help="stream sequence of the rejected message")],
) -> None:
    """Validate and ingest one rejected message again, with the current configuration."""
    settings = _settings()
    servers = _endpoints(settings)
    try:
        service = bootstrap.ingest(settings, servers.database_url)
    except (bootstrap.ConfigurationError, GemeenteRegisterError) as error:
        raise _fail(str(error)) from None
    afwijzing = service.store.afwijzing(seq)
    if afwijzing is None:
        raise _fail(f"stream seq {seq} is not a rejected message (see `jeugdstroom rejected`)")
    if afwijzing.hersteld_op is not None:
        raise _fail(f"stream seq {seq} was replayed already at {afwijzing.hersteld_op:%Y-%m-%d %H:%M}")

    async def fetch() -> StreamBericht:
        nc = await nats.connect(nats_servers(servers.nats_url))
        try:
            raw = await nc.jetstream().get_msg(settings.stream, seq)
            return StreamBericht(seq, raw.subject or "", raw.data or b"")
        finally:
            await nc.close()

    try:
        bericht = asyncio.run(fetch())
    except NotFoundError:
        raise _fail(f"stream seq {seq} is no longer in stream {settings.stream}") from None
    try:
        uitkomst = service.herstel(bericht)
    except Afgewezen as afgewezen:
        err.print(f"[yellow]still rejected:[/yellow] {escape(afgewezen.reden)}")
        raise typer.Exit(1) from None
    console.print(f"stream seq {seq} ingested: {uitkomst.records} iJw records, "
                  f"{uitkomst.events} new events")


# -- flow figures ---------------------------------------------------------------------------

RegionOpt = Annotated[str, typer.Option("--region", help="region id (see `jeugdstroom regions list`)")]
DateOpt = Annotated[datetime, typer.Option(formats=["%Y-%m-%d"])]
FromOpt = Annotated[datetime | None, typer.Option(
    "--from", formats=["%Y-%m-%d"], help="first day of the window (default: 1 January)")]
KnownAtOpt = Annotated[datetime | None, typer.Option(
    "--known-at", formats=["%Y-%m-%d"], help="knowledge date K (default: now)")]
GemeenteOpt = Annotated[str | None, typer.Option(help="one gemeente (4-digit CBS code)")]
RegionConfigOpt = Annotated[list[Path] | None, typer.Option(
    "--region-config", help="extra region file(s) (TOML), beside the shipped ones")]


_KOP = {"instroom": "instr.", "stapeling": "stap.", "doorstroom": "doorstr.",
        "recidive": "recid.", "hernieuwde_instroom": "hern. instr.", "uitstroom": "uitstr.",
        "uitstroom_voorlopig": "w.v. voorl.", "in_zorg": "in zorg", "unieke_jeugdigen": "uniek"}


class Formaat(enum.StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _regio(settings: Settings, region: str, extra: list[Path] | None) -> Regio:
    try:
        return kies_regio(_alle_regios(settings, extra), region)
    except OngeldigeVraag as error:
        raise _fail(str(error)) from None


def _vraag(region: str, peildatum: datetime, van: datetime | None, gemeente: str | None,
           extra: list[Path] | None) -> tuple[Settings, Regio, date, date]:
    """Settings, region and window of a counts/replay/diff question, or a clear failure."""
    settings = _settings()
    regio = _regio(settings, region, extra)
    try:
        start, pd = venster(regio, peildatum.date(), van.date() if van else None, gemeente)
    except OngeldigeVraag as error:
        raise _fail(str(error)) from None
    return settings, regio, start, pd


def _projector(settings: Settings, extra: list[Path] | None) -> Projector:
    servers = _endpoints(settings)
    try:
        projector = bootstrap.projector(settings, servers.database_url, extra)
    except RegioConfigError as error:
        raise _fail(str(error)) from None
    achter = projector.laatste() - projector.positie()
    if achter > 0:
        err.print(f"[yellow]note:[/yellow] the projection is {achter} events behind the event "
                  "store; run `jeugdstroom project` for the latest figures")
    return projector


def _toon(telling: Telling, formaat: Formaat, titel: str) -> None:
    data = telling.als_dict()
    if formaat is Formaat.json:
        console.print_json(json.dumps(data))
        return
    kolommen = VELDEN
    if formaat is Formaat.csv:
        sys.stdout.write(als_csv(telling))
        return
    table = Table(title=titel, title_justify="left")
    table.add_column("segment")
    for k in kolommen:
        table.add_column(_KOP[k], justify="right")
    for s in data["segments"]:
        table.add_row(s["name"], *("n.v.t." if s[k] is None else str(s[k]) for k in kolommen))
    console.print(table)
    console.print(f"unieke jeugdigen totaal: {data['totaal_unieke_jeugdigen']}; "
                  f"toewijzingen zonder segment (unmapped): {data['unmapped_toewijzingen']}")
    for waarschuwing in data["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(waarschuwing)}")


def _titel(regio: Regio, van: date, pd: date, k: date | None, gemeente: str | None) -> str:
    waar = regio.gemeenten[gemeente] if gemeente else regio.naam
    return (f"{waar}: {van.isoformat()} t/m {pd.isoformat()}, "
            f"bekend op {k.isoformat() if k else 'nu'}")


@app.command()
def counts(
    region: RegionOpt,
    peildatum: DateOpt,
    van: FromOpt = None,
    known_at: KnownAtOpt = None,
    gemeente: GemeenteOpt = None,
    formaat: Annotated[Formaat, typer.Option("--format")] = Formaat.table,
    region_config: RegionConfigOpt = None,
) -> None:
    """Flow figures per segment for the window from..peildatum, as known at a date (default: now)."""
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    k = known_at.date() if known_at else None
    telling = _projector(settings, region_config).telling(regio, start, pd, k, gemeente)
    _toon(telling, formaat, _titel(regio, start, pd, k, gemeente))


@app.command()
def replay(
    region: RegionOpt,
    peildatum: DateOpt,
    van: FromOpt = None,
    known_at: KnownAtOpt = None,
    gemeente: GemeenteOpt = None,
    formaat: Annotated[Formaat, typer.Option("--format")] = Formaat.table,
    region_config: RegionConfigOpt = None,
) -> None:
    """Recompute the figures from the event log alone and compare with the projection.

    Exit status 1 when they differ."""
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    k = known_at.date() if known_at else None
    projector = _projector(settings, region_config)
    opnieuw = replay_telling(projector.store, regio, start, pd, k, gemeente)
    _toon(opnieuw, formaat, "replay from the event log: " + _titel(regio, start, pd, k, gemeente))
    if opnieuw.als_dict() != projector.telling(regio, start, pd, k, gemeente).als_dict():
        err.print("[red]the replay DIFFERS from the projection[/red]: compare with "
                  "`jeugdstroom counts` using the same options; rebuild with "
                  "`jeugdstroom project --rebuild`")
        raise typer.Exit(1)
    err.print("replay agrees with the projection")


@app.command()
def diff(
    region: RegionOpt,
    peildatum: DateOpt,
    known_at: Annotated[list[datetime], typer.Option(
        "--known-at", formats=["%Y-%m-%d"], help="two knowledge dates: K1 then K2")],
    van: FromOpt = None,
    gemeente: GemeenteOpt = None,
    region_config: RegionConfigOpt = None,
) -> None:
    """Explain how the figures for one peildatum differ between two knowledge dates."""
    if len(known_at) != 2:
        raise _fail("give --known-at exactly twice: the earlier and the later knowledge date")
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    k1, k2 = (k.date() for k in known_at)
    een, twee, wijzigingen = diff_figures(
        _projector(settings, region_config), regio, start, pd, k1, k2, gemeente)
    table = Table(title=f"{_titel(regio, start, pd, k1, gemeente)} -> {k2.isoformat()}",
                  title_justify="left")
    table.add_column("segment")
    for veld in VELDEN:
        table.add_column(_KOP[veld], justify="right")
    for a, b in zip(een.segmenten, twee.segmenten, strict=True):
        table.add_row(a.naam, *(_verschil(getattr(a, v), getattr(b, v)) for v in VELDEN))
    console.print(table)
    detail = Table("client (pseudonym)", "toewijzing", "segment", "at K1", "at K2", "caused by",
                   title=f"{len(wijzigingen)} allocations behind the difference", title_justify="left")
    for w in wijzigingen:
        detail.add_row(w.client[:12], f"{w.gemeentecode}:{w.toewijzingnummer}", w.segment or "-",
                       w.oud, w.nieuw, w.oorzaak)
    console.print(detail)


def _delta(oud: int | None, nieuw: int | None) -> str:
    return "n.v.t." if oud is None or nieuw is None else f"{nieuw - oud:+d}" if nieuw != oud else "0"


def _verschil(oud: int | None, nieuw: int | None) -> str:
    if oud is None or nieuw is None:
        return "n.v.t."
    return f"{oud} -> {nieuw} ({nieuw - oud:+d})" if nieuw != oud else str(oud)


@app.command()
def project(
    until_caught_up: Annotated[bool, typer.Option(
        "--until-caught-up", help="stop once the projection has reached the event store")] = False,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="drop the read tables and project the whole event log again")] = False,
    region_config: RegionConfigOpt = None,
) -> None:
    """Run the projector: keep the flow read tables up to date with the event store."""
    settings = _settings()
    projector = _projector(settings, region_config)
    live = bootstrap.live_updates(settings, projector, _endpoints(settings).nats_url)

    def bijgewerkt(positie: int) -> None:
        n = asyncio.run(live.publiceer(positie))
        if n:
            err.print(f"{n} live count updates published (jeugdstroom.counts.*)")

    if rebuild:
        projector.herbouw()
    if not until_caught_up:
        err.print("projector: following the event store; Ctrl-C stops")
        projector.volg(bijgewerkt=bijgewerkt)
        return
    with _progress() as progress:
        task = progress.add_task("projecting (events)", total=None)
        projector.volg(tot_bij=True, bijgewerkt=bijgewerkt,
                       voortgang=lambda pos, doel: progress.update(task, completed=pos, total=doel))
    console.print(f"projection at event {projector.positie()}")


@app.command()
def asyncapi() -> None:
    """Print the AsyncAPI document of the projection updates published on NATS."""
    sys.stdout.write(asyncapi_json() + "\n")


def _jaren(years: str) -> range:
    try:
        eerste, _, laatste = years.partition("-")
        jaren = range(int(eerste), int(laatste or eerste) + 1)
    except ValueError:
        raise _fail(f"--years '{years}': write a year or a range, e.g. 2021-2023") from None
    if not jaren:
        raise _fail(f"--years '{years}': the first year must not be after the last")
    return jaren


def _simuleer(regio: Regio, jaren: range, seed: int, out: Path) -> int:
    try:
        profiel = simulatie_profiel(regio)
    except ValueError as error:
        raise _fail(str(error)) from None
    if out.exists() and any(out.glob("*.xml")):
        raise _fail(f"{out} already holds .xml files: choose an empty --out directory")
    with _progress() as progress:
        task = progress.add_task(f"simulating {regio.naam} {jaren.start}-{jaren.stop - 1}",
                                 total=None)
        resultaat = simuleer(profiel, jaren, seed, out,
                             voortgang=lambda n: progress.advance(task, n))
    console.print(f"{resultaat.totaal} files ({resultaat.toewijzingen} toewijzingen, "
                  f"{resultaat.ijw_records} iJw records, {resultaat.ongeldig} invalid, "
                  f"{resultaat.duplicaten} duplicates) in {out}")
    return resultaat.totaal


@app.command()
def simulate(
    region: RegionOpt = "zuid-limburg",
    years: Annotated[str, typer.Option(help="e.g. 2021-2023")] = "2021-2023",
    seed: Annotated[int, typer.Option(help="same seed, same files")] = 1,
    out: Annotated[Path, typer.Option(help="directory for the XML files")] = Path("simulated"),
    region_config: RegionConfigOpt = None,
) -> None:
    """Write valid iJw 3.2 traffic of a synthetic region, with realistic messiness."""
    settings = _settings()
    _simuleer(_regio(settings, region, region_config), _jaren(years), seed, out)


@app.command()
def demo(
    region: RegionOpt = "zuid-limburg",
    years: Annotated[str, typer.Option(help="simulated years, e.g. 2021-2023")] = "2021-2023",
    seed: Annotated[int, typer.Option(help="same seed, same traffic")] = 1,
    region_config: RegionConfigOpt = None,
    no_serve: Annotated[bool, typer.Option(
        "--no-serve", help="exit after printing instead of serving the dashboard")] = False,
    port: PortOpt = 8000,
) -> None:
    """The whole path on the embedded default: simulate a region, publish its traffic through
    NATS, ingest, project, and print the 0-meting of the last year as known 90 days after
    its peildatum and as known now; then serve the dashboard until Ctrl-C."""
    settings = _settings()
    regio = _regio(settings, region, region_config)
    jaren = _jaren(years)
    servers = _endpoints(settings)
    console.print(f"NATS {servers.nats_url}, PostgreSQL {servers.database_url}")
    out = settings.state_dir / "demo" / f"{regio.id}-{jaren.start}-{jaren.stop - 1}-{seed}"
    if out.exists() and any(out.glob("*.xml")):
        console.print(f"reusing the simulated traffic in {out} (same seed, same files)")
    else:
        _simuleer(regio, jaren, seed, out)
    bestanden = list(ijw_bestanden([out]))
    with _progress() as progress:
        task = progress.add_task("publishing to NATS", total=len(bestanden))
        gepubliceerd = asyncio.run(publiceer(servers.nats_url, settings, bestanden,
                                             voortgang=lambda n: progress.advance(task, n)))
    console.print(f"{gepubliceerd.geaccepteerd} published, {gepubliceerd.dubbel} dropped by "
                  "JetStream as duplicates")
    try:
        _ingest_until_caught_up(settings, servers)
    except (bootstrap.ConfigurationError, GemeenteRegisterError) as error:
        raise _fail(str(error)) from None
    projector = bootstrap.projector(settings, servers.database_url, region_config)
    live = bootstrap.live_updates(settings, projector, servers.nats_url)
    with _progress() as progress:
        task = progress.add_task("projecting", total=None)
        projector.volg(tot_bij=True, bijgewerkt=lambda pos: asyncio.run(live.publiceer(pos)),
                       voortgang=lambda pos, doel: progress.update(task, completed=pos, total=doel))
    pd = date(jaren.stop - 1, 12, 31)
    van = date(pd.year, 1, 1)
    k1 = pd + timedelta(days=90)
    een, twee, wijzigingen = diff_figures(projector, regio, van, pd, k1, date.today())
    _toon(een, Formaat.table, _titel(regio, van, pd, k1, None))
    _toon(twee, Formaat.table, _titel(regio, van, pd, None, None))
    verschil = Table(title=f"difference: as known now minus as known on {k1.isoformat()}",
                     title_justify="left")
    verschil.add_column("segment")
    for veld in VELDEN:
        verschil.add_column(_KOP[veld], justify="right")
    for a, b in zip(een.segmenten, twee.segmenten, strict=True):
        verschil.add_row(a.naam, *(_delta(getattr(a, v), getattr(b, v)) for v in VELDEN))
    console.print(verschil)
    console.print(f"{len(wijzigingen)} allocations explain the difference: "
                  f"jeugdstroom diff --region {regio.id} --peildatum {pd} "
                  f"--known-at {k1} --known-at {date.today()}")
    console.print(f"check it from the event log alone: jeugdstroom replay --region {regio.id} "
                  f"--peildatum {pd} --known-at {k1}")
    if not no_serve:
        console.print(f"dashboard for this peildatum: /?regio={regio.id}&peildatum={pd}"
                      f"&bekend_op={k1} on the address below")
        _serve(settings, servers.database_url, region_config, "127.0.0.1", port)


HostOpt = Annotated[str, typer.Option(help="address to listen on")]
PortOpt = Annotated[int, typer.Option(help="port to listen on")]


def _serve(settings: Settings, database_url: str, extra: list[Path] | None, host: str,
           port: int) -> None:
    import uvicorn

    try:
        web = bootstrap.api(settings, database_url, extra)
    except RegioConfigError as error:
        raise _fail(str(error)) from None
    if host == "127.0.0.1" and not port_free(port):
        vrij = free_port()
        err.print(f"port {port} is taken; serving on {vrij} instead (choose one with --port)")
        port = vrij
    console.print(f"dashboard: http://{host}:{port}/   API: http://{host}:{port}/docs   "
                  "(Ctrl-C stops)")
    uvicorn.run(web, host=host, port=port, log_level="warning")


@app.command()
def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    region_config: RegionConfigOpt = None,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the dashboard page (/)."""
    settings = _settings()
    _serve(settings, _endpoints(settings).database_url, region_config, host, port)


TARGETS = {"ingest_records_per_s": 20_000, "rebuild_records_per_s": 100_000,
           "query_historic_p95_ms": 250, "query_live_p95_ms": 20, "peak_rss_mb": 500}


@app.command()
def bench(
    sizes: Annotated[list[int] | None, typer.Option(
        "--sizes", help="approximate number of stored events per run (repeat the option); "
        "default 25000, 100000 and 400000 (about 10 minutes)")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the figures here")] = None,
    baseline_events: Annotated[int, typer.Option(
        help="events in the straightforward-path sample (b)")] = 20_000,
) -> None:
    """Measure ingest end to end, rebuild, queries and memory, beside a raw COPY, the
    straightforward library path and plain SQL, on embedded servers of its own."""
    sizes = sizes or [25_000, 100_000, 400_000]
    settings = _settings()
    regio = _regio(settings, "zuid-limburg", None)
    metingen = []
    for n in sizes:
        err.print(f"[bold]size ~{n:,} events[/bold]")
        metingen.append(meet(settings, regio, n, lambda tekst: err.print(f"  {escape(tekst)}"),
                             baseline_events))
    document = {"schema_version": SCHEMA_VERSION, "machine": {"cores": os.cpu_count(),
                                                  "python": sys.version.split()[0]},
                "targets": TARGETS, "baseline_events": baseline_events,
                "runs": [dataclasses.asdict(m) for m in metingen]}
    if json_file:
        json_file.write_text(json.dumps(document, indent=2))
    table = Table("figure", *(f"~{n:,} events" for n in sizes), "target", title="jeugdstroom bench",
                  title_justify="left")

    def rij(naam: str, waarde: Callable[[Meting], str], doel: str = "") -> None:
        table.add_row(naam, *(waarde(m) for m in metingen), doel)

    rij("events stored / iJw records", lambda m: f"{m.events:,} / {m.ijw_records:,}")
    rij("ingest end to end, iJw records/s", lambda m: f"{m.ingest_records_per_s:,.0f}", "20,000")
    rij("  ratio to (a) COPY rows/s", lambda m: f"{m.ingest_records_per_s / m.copy_rows_per_s:.3f}")
    rij("  ratio to (b) save() per message",
        lambda m: f"{m.ingest_records_per_s / m.straightforward_save_events_per_s:.1f}x")
    rij("  growth: ingest us per stored event", lambda m: f"{m.ingest_seconds / m.events * 1e6:.0f}")
    rij("rebuild, iJw records/s", lambda m: f"{m.rebuild_records_per_s:,.0f}", "100,000")
    rij("  ratio to (a) COPY rows/s", lambda m: f"{m.rebuild_records_per_s / m.copy_rows_per_s:.3f}")
    rij("  ratio to (b) per-event runner",
        lambda m: f"{m.rebuild_records_per_s / m.straightforward_projection_events_per_s:.1f}x")
    rij("  growth: rebuild seconds / us per stored event",
        lambda m: f"{m.rebuild_seconds:.1f} / {m.rebuild_seconds / m.events * 1e6:.0f}")
    rij("query historic p50/p95/p99 ms",
        lambda m: "/".join(str(m.query_historic_ms[p]) for p in ("p50", "p95", "p99")), "p95 250")
    rij("query live p50/p95/p99 ms (asked again)",
        lambda m: "/".join(str(m.query_live_ms[p]) for p in ("p50", "p95", "p99")), "p95 20")
    rij("query live p50/p95/p99 ms (first after a change)",
        lambda m: "/".join(str(m.query_live_cold_ms[p]) for p in ("p50", "p95", "p99")), "p95 20")
    rij("  historic p95 ratio to (c) plain SQL",
        lambda m: f"{m.query_historic_ms['p95'] / m.analyst_sql_ms:.1f}x")
    rij("peak RSS ingest (with its workers) / projector MB",
        lambda m: f"{m.peak_rss_mb['ingest']:.0f} / {m.peak_rss_mb['projector']:.0f}", "500")
    rij("(a) raw COPY, rows/s", lambda m: f"{m.copy_rows_per_s:,.0f}")
    rij("(b) save() per message, events/s", lambda m: f"{m.straightforward_save_events_per_s:,.0f}")
    rij("(b) library per-event runner, events/s",
        lambda m: f"{m.straightforward_projection_events_per_s:,.0f}")
    rij("(c) plain SQL inflow counts, ms (agrees)",
        lambda m: f"{m.analyst_sql_ms:.0f} ({'yes' if m.analyst_sql_agrees else 'NO'})")
    console.print(table)


regions_app = typer.Typer(help="Region configurations: list them, or make them from the CBS list.")
app.add_typer(regions_app, name="regions")


@regions_app.command("list")
def regions_list(region_config: RegionConfigOpt = None) -> None:
    """The regions jeugdstroom knows, with their gemeenten and segments."""
    settings = _settings()
    table = Table("id", "name", "gemeenten", "segments", "history_start")
    for regio in _alle_regios(settings, region_config).values():
        table.add_row(regio.id, regio.naam, str(len(regio.gemeenten)),
                      ", ".join(s.id + ("" if s.flow else " (no flow)") for s in regio.segmenten),
                      regio.history_start.isoformat())
    console.print(table)


def _alle_regios(settings: Settings, extra: list[Path] | None) -> dict[str, Regio]:
    try:
        return bootstrap.regios(settings, extra)
    except RegioConfigError as error:
        raise _fail(str(error)) from None


@regions_app.command("from-cbs")
def regions_from_cbs(
    cbs_file: Annotated[Path, typer.Argument(help="CBS list of gemeenten with jeugdzorgregio (CSV)")],
    out: Annotated[Path, typer.Option(help="directory for the region files")] = Path("regions"),
) -> None:
    """Write one region file per CBS jeugdzorgregio, with a segment per product category."""
    try:
        register = GemeenteRegister.from_csv([cbs_file])
    except GemeenteRegisterError as error:
        raise _fail(str(error)) from None
    out.mkdir(parents=True, exist_ok=True)
    bestanden = regios_uit_cbs(register)
    for naam, tekst in bestanden.items():
        (out / f"{naam}.toml").write_text(tekst, encoding="utf-8")
    console.print(f"{len(bestanden)} region files written to {out}/; refine their segments, then "
                  f"use them with --region-config or JEUGDSTROOM_REGION_CONFIGS")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err,
    )


if __name__ == "__main__":
    app()
