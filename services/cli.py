"""The `jeugdstroom` command: one entry point for operators, analysts and the demo."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Annotated

import nats
import typer
from nats.js.errors import NotFoundError
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from events.gemeenten import GemeenteRegisterError
from events.ijw import Afgewezen
from services import bootstrap
from services.ingest import StreamBericht
from services.nats import ijw_bestanden, publiceer
from services.runtime import EmbeddedRuntime, RuntimeError_
from services.settings import Settings

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
console = Console()
err = Console(stderr=True)


def _settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        for e in error.errors():
            err.print(f"[red]configuration:[/red] {'.'.join(map(str, e['loc']))} {e['msg']}")
        raise typer.Exit(2) from None


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
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
                      voortgang=lambda: progress.advance(task))
        )
    console.print(
        f"{resultaat.geaccepteerd} accepted, {resultaat.dubbel} duplicate "
        f"(dropped by JetStream), {len(resultaat.fouten)} not published"
    )
    for pad, reden in resultaat.fouten:
        err.print(f"[yellow]not published[/yellow] {pad}: {reden}")
    if resultaat.fouten:
        raise typer.Exit(1)


@app.command()
def ingest(
    until_caught_up: Annotated[bool, typer.Option(
        "--until-caught-up", help="stop once everything now in the stream is ingested")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="log every batch")] = False,
) -> None:
    """Run the ingest service: validate, pseudonymise and store iJw messages from JetStream."""
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not verbose:
        logging.getLogger("faststream").setLevel(logging.WARNING)
    settings = _settings()
    servers = _endpoints(settings)
    try:
        if until_caught_up:
            _ingest_until_caught_up(settings, servers)
            return
        faststream_app = bootstrap.ingest_app(settings, servers)
    except (bootstrap.ConfigurationError, GemeenteRegisterError) as error:
        raise _fail(str(error)) from None
    err.print(f"ingest: {servers.nats_url} -> event store; Ctrl-C stops")
    asyncio.run(faststream_app.run())


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
        nc = await nats.connect(servers.nats_url)
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
        table.add_row(str(a.stream_seq), a.subject, moment, a.reden, *(hersteld if all_ else []))
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
        nc = await nats.connect(servers.nats_url)
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
        err.print(f"[yellow]still rejected:[/yellow] {afgewezen.reden}")
        raise typer.Exit(1) from None
    console.print(f"stream seq {seq} ingested: {uitkomst.records} iJw records, "
                  f"{uitkomst.events} new events")


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err,
    )


if __name__ == "__main__":
    app()
