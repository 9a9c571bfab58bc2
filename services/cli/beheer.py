"""Commands for the operator on call: servers, publishing, ingest, rejections, the projector
and the API."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import nats
import typer
from nats.js.errors import NotFoundError
from rich.markup import escape
from rich.table import Table

from events.gemeenten import DATA_DIR, GemeenteRegister, GemeenteRegisterError, werk_bij
from events.ijw import Afgewezen, redact
from projections.regio import RegioConfigError, regios_uit_cbs
from services import bootstrap, metrics
from services.cli.basis import (
    HostOpt,
    PortOpt,
    RegionConfigOpt,
    _alle_regios,
    _endpoints,
    _fail,
    _progress,
    _settings,
    app,
    console,
    err,
    rejected_app,
)
from services.eventstore.postgres import AndereStream
from services.ingest.handler import INFRA_ERRORS
from services.ingest.validatie import StreamBericht
from services.nats import (
    NatsNietBereikt,
    berichten_per_subject,
    ijw_bestanden,
    nats_servers,
    publiceer,
    stream_identiteit,
)
from services.opstart import na_opstart
from services.partities import PartitieFout, buiten_partities, ingest_stream, schema, verdeel
from services.projector.updates import asyncapi_json
from services.runtime import EmbeddedRuntime, free_port, port_free
from services.settings import Settings
from services.toegang.tokens import maak_token
from services.uitval import Onbereikbaar, Uitval

MetricsPortOpt = Annotated[int | None, typer.Option(
    "--metrics-port", help="serve Prometheus /metrics and /healthz on 127.0.0.1:PORT")]
JsonLogsOpt = Annotated[bool, typer.Option(
    "--json-logs", help="log one JSON object per line (also JEUGDSTROOM_LOG_FORMAT=json)")]


def _logs(settings: Settings, json_logs: bool) -> None:
    if json_logs or settings.log_format == "json":
        metrics.json_logs()


@app.command()
def up() -> None:
    """Start the embedded nats-server (JetStream) and PostgreSQL on free ports, and say where.

    Example: jeugdstroom up"""
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
    """Stop the embedded servers; their data stays in the state dir for the next `up`.

    Example: jeugdstroom down"""
    settings = _settings()
    EmbeddedRuntime(settings.state_dir).down()
    console.print("embedded servers stopped")


@app.command()
def publish(
    paths: Annotated[list[Path], typer.Argument(help="iJw XML files, or directories of them")],
) -> None:
    """Publish iJw files to ijw.<gemeentecode>.<bericht>, as a municipal backoffice would.

    Example: jeugdstroom publish ../shared/ijw/examples"""
    settings = _settings()
    bestanden = list(ijw_bestanden(paths))
    missing = [p for p in bestanden if not p.is_file()]
    if missing:
        raise _fail(f"no such file: {missing[0]}")
    servers = _endpoints(settings)
    try:
        with _progress() as progress:
            task = progress.add_task("publishing", total=len(bestanden))
            resultaat = asyncio.run(
                publiceer(servers.nats_url, settings, bestanden,
                          voortgang=lambda n: progress.advance(task, n))
            )
    except NatsNietBereikt as error:
        raise _fail(str(error)) from None
    console.print(resultaat.samenvatting())
    for pad, reden in resultaat.fouten:
        err.print(f"[yellow]not published[/yellow] {escape(str(pad))}: {escape(reden)}")
    if resultaat.fouten:
        raise typer.Exit(1)


@app.command()
def ingest(
    until_caught_up: Annotated[bool, typer.Option(
        "--until-caught-up", help="stop once everything now in the stream is ingested")] = False,
    accept_new_stream: Annotated[bool, typer.Option(
        "--accept-new-stream",
        help="the stream was deleted and created again: continue from its seq 1 (the old "
             "stream's rejections are kept aside; re-sent messages add nothing twice)")] = False,
    metrics_port: MetricsPortOpt = None,
    json_logs: JsonLogsOpt = False,
) -> None:
    """Run the ingest service: validate, pseudonymise and store iJw messages from JetStream.

    Example: jeugdstroom ingest --until-caught-up"""
    settings = _settings()
    _logs(settings, json_logs)
    servers = _endpoints(settings)
    na_opstart()
    try:
        if until_caught_up:
            _ingest_until_caught_up(settings, servers, nieuwe_stream=accept_new_stream)
            return
        # the URL may carry user:password@ (deploy/): show the servers only
        err.print(f"ingest: {re.sub(r'//[^/@,]*@', '//', servers.nats_url)} -> event store; "
                  "Ctrl-C stops"
                  + (f"; metrics on http://127.0.0.1:{metrics_port}/metrics" if metrics_port else ""))
        asyncio.run(bootstrap.ingest_service(settings, servers, nieuwe_stream=accept_new_stream,
                                             metrics_poort=metrics_port))
    except (bootstrap.ConfigurationError, GemeenteRegisterError, AndereStream,
            Onbereikbaar) as error:
        raise _fail(str(error)) from None


def _ingest_until_caught_up(settings: Settings, servers: bootstrap.Endpoints, *,
                            nieuwe_stream: bool = False) -> None:
    with _progress() as progress:
        task = progress.add_task("ingesting (stream seq)", total=None)

        def voortgang(positie: int, target: int) -> None:
            progress.update(task, completed=positie, total=target)

        result = asyncio.run(bootstrap.ingest_until_caught_up(
            settings, servers, voortgang=voortgang, nieuwe_stream=nieuwe_stream))
    totaal = result.totaal
    console.print(f"{totaal.berichten} messages ingested: {totaal.records} iJw records, "
                  f"{totaal.events} new events, {len(totaal.afgewezen)} rejected"
                  + (" (see `jeugdstroom rejected`)" if totaal.afgewezen else ""))


@app.command()
def status() -> None:
    """How far ingest is: stream messages, committed position, open rejections.

    Example: jeugdstroom status"""
    settings = _settings()
    servers = _endpoints(settings)
    store = bootstrap.event_store(servers.database_url, settings.database_schema)
    bron = bootstrap.ingest_bron(settings)
    positie = store.positie(bron)
    vastgelegd = store.ingest_recorder.stream_identiteit(bron)

    async def stream() -> tuple[str | None, int]:
        nc = await nats.connect(nats_servers(servers.nats_url))
        try:
            return await stream_identiteit(nc.jetstream(), settings.ingest_stream)
        except NotFoundError:
            return None, 0
        finally:
            await nc.close()

    async def buiten() -> dict[str, int]:
        nc = await nats.connect(nats_servers(servers.nats_url))
        try:
            return await berichten_per_subject(nc.jetstream(), settings.stream)
        except NotFoundError:
            return {}
        finally:
            await nc.close()

    identiteit, laatste = asyncio.run(stream())
    try:
        weg = (buiten_partities(asyncio.run(buiten()), bootstrap.alle_partitie_codes(settings))
               if settings.partitions else {})
    except bootstrap.ConfigurationError as error:
        raise _fail(str(error)) from None
    anders = (vastgelegd is not None and identiteit is not None and identiteit != vastgelegd) or (
        vastgelegd is None and positie > laatste)
    table = Table(show_header=False)
    table.add_row("stream", settings.ingest_stream)
    table.add_row("stream created at", identiteit or "(no stream yet)")
    table.add_row("last stream seq", str(laatste))
    table.add_row("ingested up to seq", str(positie)
                  + (f" of the stream created at {vastgelegd}" if anders and vastgelegd else ""))
    table.add_row("open rejections", str(len(store.afwijzingen())))
    if settings.partitions:
        table.add_row(f"messages in {settings.stream} of no partition", str(sum(weg.values())))
    console.print(table)
    if weg:
        voorbeelden = ", ".join(f"{subject} ({aantal})" for subject, aantal in list(weg.items())[:5])
        err.print(f"[yellow]{sum(weg.values())} messages in {settings.stream} are on subjects of "
                  f"gemeenten in no partition[/yellow] ({voorbeelden}): no partition ingests or "
                  "rejects them. Give their gemeente a region in JEUGDSTROOM_PARTITIONS, or ask "
                  "the publisher what they are.")
    if anders:
        err.print("[red]the stream is not the one ingest's position belongs to[/red] (deleted and "
                  "created again?): ingest refuses to ack anything against it. To ingest the new "
                  "stream from its seq 1: jeugdstroom ingest --accept-new-stream")
        raise typer.Exit(1)


@rejected_app.callback()
def rejected(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="also those replayed since")] = False,
) -> None:
    """List rejected messages: stream sequence, subject and reason (never a BSN).

    Example: jeugdstroom rejected --all"""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings()
    store = bootstrap.event_store(_endpoints(settings).database_url, settings.database_schema)
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
    """Validate and ingest one rejected message again, with the current configuration.

    Example: jeugdstroom rejected replay 42"""
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
            raw = await nc.jetstream().get_msg(settings.ingest_stream, seq)
            return StreamBericht(seq, raw.subject or "", raw.data or b"",
                                 ontvangen=raw.time.date() if raw.time else None)
        finally:
            await nc.close()

    try:
        bericht = asyncio.run(fetch())
    except NotFoundError:
        raise _fail(f"stream seq {seq} is no longer in stream {settings.ingest_stream}") from None
    try:
        uitkomst = service.herstel(bericht)
    except Afgewezen as afgewezen:
        err.print(f"[yellow]still rejected:[/yellow] {escape(afgewezen.reden)}")
        raise typer.Exit(1) from None
    except Exception as error:  # an operator's command never ends in a traceback
        err.print(f"[red]replay failed[/red] ({type(error).__name__}: {escape(redact(str(error)))}); "
                  f"stream seq {seq} stays rejected; run again with -v for the log, or report it")
        raise typer.Exit(1) from None
    console.print(f"stream seq {seq} ingested: {uitkomst.records} iJw records, "
                  f"{uitkomst.events} new events")


@app.command()
def project(
    until_caught_up: Annotated[bool, typer.Option(
        "--until-caught-up", help="stop once the projection has reached the event store")] = False,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="drop the read tables and project the whole event log again")] = False,
    region_config: RegionConfigOpt = None,
    metrics_port: MetricsPortOpt = None,
    json_logs: JsonLogsOpt = False,
) -> None:
    """Run the projector: keep the flow read tables up to date with the event store.

    Example: jeugdstroom project --rebuild --until-caught-up"""
    settings = _settings()
    _logs(settings, json_logs)
    try:
        projector = bootstrap.projector(settings, _endpoints(settings).database_url, region_config)
    except (RegioConfigError, bootstrap.ConfigurationError) as error:
        raise _fail(str(error)) from None
    live = bootstrap.live_updates(settings, projector, _endpoints(settings).nats_url)
    na_opstart()
    database = Uitval("the event store (PostgreSQL)", settings.outage_limit_seconds,
                      logging.getLogger("jeugdstroom.projector"))
    gemeten = [0.0]

    def bijgewerkt(positie: int) -> None:
        n = asyncio.run(live.publiceer(positie))
        if n:
            err.print(f"{n} live count updates published (jeugdstroom.counts.*)")

    def loopt() -> bool:
        """Called by the projector's loop after every step that worked: the database is back
        (if it was away), and every few seconds the lag for the metrics. Never stops it."""
        database.gelukt()
        if metrics_port is not None and time.monotonic() - gemeten[0] > 2:
            gemeten[0] = time.monotonic()
            metrics.projector_achter(projector.positie(), projector.laatste())
        return False

    def gezondheid() -> tuple[bool, dict[str, object]]:
        sinds = database.weg_sinds
        weg = 0.0 if sinds is None else time.monotonic() - sinds
        metrics.WEG.labels("database").set(weg)
        return sinds is None, {"unreachable_seconds": {"database": round(weg, 1)} if sinds else {}}

    if metrics_port is not None:
        metrics.serveer(metrics_port, gezondheid)
    if rebuild:
        projector.herbouw()
    if not until_caught_up:
        err.print("projector: following the event store; Ctrl-C stops")
        _met_herstel(database, lambda: projector.volg(bijgewerkt=bijgewerkt, stop=loopt))
        return
    with _progress() as progress:
        task = progress.add_task("projecting (events)", total=None)
        _met_herstel(database, lambda: projector.volg(
            tot_bij=True, bijgewerkt=bijgewerkt, stop=loopt,
            voortgang=lambda pos, doel: progress.update(task, completed=pos, total=doel)))
    console.print(f"projection at event {projector.positie()}")


def _met_herstel(database: Uitval, volg: Callable[[], None]) -> None:
    """Follow the event log; when the database goes away, say so and follow again with
    backoff, until the outage bound passes: then a sentence and exit 2."""
    while True:
        try:
            volg()
            return
        except INFRA_ERRORS as error:
            try:
                wacht = database.mislukt(error)
            except Onbereikbaar as einde:
                raise _fail(str(einde)) from None
            time.sleep(wacht)


@app.command()
def asyncapi() -> None:
    """Print the AsyncAPI document of the projection updates published on NATS.

    Example: jeugdstroom asyncapi > asyncapi.json"""
    sys.stdout.write(asyncapi_json() + "\n")


def _serve(settings: Settings, database_url: str, extra: list[Path] | None, host: str,
           port: int, *, insecure_no_auth: bool = False, dashboard: str = "",
           workers: int = 1) -> None:
    """Serve the API; `dashboard` is the query of the page to print a ready link for.
    With `workers` > 1 each worker process builds its own app (bootstrap.api_voor_werker):
    the figures are counted in Python, so one process serves one core."""
    import uvicorn

    if insecure_no_auth:
        err.print("[red bold]WARNING: --insecure-no-auth: no token is checked; anyone who can "
                  f"reach {escape(host)}:{port} reads every region's figures and detail[/red bold]")
    try:
        if workers == 1:
            web = bootstrap.api(settings, database_url, extra, host=host,
                                zonder_auth=insecure_no_auth)
        else:  # the workers build their apps; a wrong region file is refused here, first
            bootstrap.regios(settings, extra)
    except (RegioConfigError, bootstrap.ConfigurationError) as error:
        raise _fail(str(error)) from None
    if host == "127.0.0.1" and not port_free(port):
        vrij = free_port()
        err.print(f"port {port} is taken; serving on {vrij} instead (choose one with --port)")
        port = vrij
    adres = f"http://{host}:{port}"
    if insecure_no_auth or settings.auth_ingesteld:
        console.print(f"dashboard: {adres}/{'?' + dashboard if dashboard else ''}   "
                      f"API: {adres}/docs   (Ctrl-C stops)")
    else:
        regio = dict(p.split("=", 1) for p in dashboard.split("&") if "=" in p).get(
            "regio", "zuid-limburg")
        sleutel = maak_token(settings.state_dir, [f"regio:{regio}"], minuten=8 * 60)
        # soft_wrap: the terminal wraps the long link, so it stays one link to click or copy
        console.print(f"dashboard (regio:{regio}, 8 hours): {adres}/login?token={sleutel}"
                      f"{'&' + dashboard if dashboard else ''}", soft_wrap=True, highlight=False)
        console.print(f"API: {adres}/docs with a bearer token: jeugdstroom token --role "
                      f"regio:{regio}   (Ctrl-C stops)")
    if workers == 1:
        uvicorn.run(web, host=host, port=port, log_level="warning")
        return
    os.environ.update({  # what the workers' Settings read
        "JEUGDSTROOM_SERVE_HOST": host,
        "JEUGDSTROOM_SERVE_INSECURE_NO_AUTH": "true" if insecure_no_auth else "false",
        "JEUGDSTROOM_REGION_CONFIGS": json.dumps(
            [str(p.resolve()) for p in [*settings.region_configs, *(extra or [])]]),
    })
    uvicorn.run("services.bootstrap:api_voor_werker", factory=True, workers=workers, host=host,
                port=port, log_level="warning")


@app.command()
def serve(
    host: HostOpt = "127.0.0.1",
    port: PortOpt = 8000,
    region_config: RegionConfigOpt = None,
    insecure_no_auth: Annotated[bool, typer.Option(
        "--insecure-no-auth", help="check no token at all (never on a shared network)")] = False,
    workers: Annotated[int, typer.Option(
        min=1, max=32, help="worker processes (about one per core; each ~100 MB)")] = 2,
) -> None:
    """Serve the HTTP API (OpenAPI at /docs) and the dashboard page (/).

    Every route but /healthz needs a bearer token: of JEUGDSTROOM_AUTH_* (deploy/toegang.md),
    or on 127.0.0.1 without them of the local key (`jeugdstroom token`; a ready dashboard link
    is printed). Another address without JEUGDSTROOM_AUTH_* is refused."""
    settings = _settings()
    if not insecure_no_auth:
        try:  # refused before any server starts
            bootstrap.token_instellingen(settings, host)
        except bootstrap.ConfigurationError as error:
            raise _fail(str(error)) from None
    _serve(settings, _endpoints(settings).database_url, region_config, host, port,
           insecure_no_auth=insecure_no_auth, workers=workers)


regions_app = typer.Typer(help="Region configurations: list them, or make them from the CBS list.")
app.add_typer(regions_app, name="regions")


@regions_app.command("list")
def regions_list(region_config: RegionConfigOpt = None) -> None:
    """The regions jeugdstroom knows, with their gemeenten and segments.

    Example: jeugdstroom regions list"""
    settings = _settings()
    table = Table("id", "name", "gemeenten", "segments", "history_start")
    for regio in _alle_regios(settings, region_config).values():
        table.add_row(regio.id, regio.naam, str(len(regio.gemeenten)),
                      ", ".join(s.id + ("" if s.flow else " (no flow)") for s in regio.segmenten),
                      regio.history_start.isoformat())
    console.print(table)


@regions_app.command("from-cbs")
def regions_from_cbs(
    cbs_file: Annotated[Path, typer.Argument(help="CBS list of gemeenten with jeugdzorgregio (CSV)")],
    out: Annotated[Path, typer.Option(help="directory for the region files")] = Path("regions"),
) -> None:
    """Write one region file per CBS jeugdzorgregio, with a segment per product category.

    Example: jeugdstroom regions from-cbs ../shared/reference/cbs-gemeenten-2026.csv --out regions"""
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


@regions_app.command("partitions")
def regions_partitions(
    count: Annotated[int, typer.Option(help="how many partitions (ingest + projector pairs)")],
    region: Annotated[list[str] | None, typer.Option(
        "--region", help="a region to place (repeat); default: every known region")] = None,
    region_config: RegionConfigOpt = None,
) -> None:
    """Spread regions over partitions, weighed by their number of gemeenten, and print
    JEUGDSTROOM_PARTITIONS (README, Partitions; deploy/partities.md).

    Example: jeugdstroom regions partitions --count 6"""
    settings = _settings()
    alle = _alle_regios(settings, region_config)
    gekozen = region or list(alle)
    onbekend = [r for r in gekozen if r not in alle]
    if onbekend:
        raise _fail(f"unknown region {onbekend[0]}: choose from {', '.join(sorted(alle))}")
    try:
        indeling = verdeel({r: len(alle[r].gemeenten) for r in gekozen}, count)
    except PartitieFout as error:
        raise _fail(str(error)) from None
    table = Table("partition", "regions", "gemeenten", "stream", "schema")
    for naam, regios in indeling.items():
        table.add_row(naam, ", ".join(regios), str(sum(len(alle[r].gemeenten) for r in regios)),
                      ingest_stream(settings.stream, naam), schema(naam) or "")
    err.print(table)
    print(f"JEUGDSTROOM_PARTITIONS={json.dumps(indeling, separators=(',', ':'))}")


gemeenten_app = typer.Typer(help="The CBS list of gemeenten that ingest checks gemeentecodes against.")
app.add_typer(gemeenten_app, name="gemeenten")


@gemeenten_app.command("bijwerken")
def gemeenten_bijwerken(
    cbs_file: Annotated[Path, typer.Argument(help="a new CBS list of gemeenten (CSV, as shipped)")],
    jaar: Annotated[int | None, typer.Option(
        help="the year it holds from (default: the year in the file name)")] = None,
    out: Annotated[Path, typer.Option(help="directory of the lists")] = DATA_DIR,
) -> None:
    """Check a new CBS list and add it beside the shipped ones (cbs-gemeenten-JJJJ.csv).

    Example: jeugdstroom gemeenten bijwerken cbs-gemeenten-2027.csv"""
    try:
        pad = werk_bij(cbs_file, out, jaar)
    except GemeenteRegisterError as error:
        raise _fail(str(error)) from None
    console.print(f"written {pad}; it holds from 1 January of its year (a list of the same year "
                  "in JEUGDSTROOM_GEMEENTEN_FILES takes precedence)")
