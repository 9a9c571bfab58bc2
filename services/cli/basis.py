"""What every `jeugdstroom` command shares: the app, settings, output and the question options."""

from __future__ import annotations

import enum
import json
import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from projections.flow import Telling
from projections.regio import Regio, RegioConfigError
from projections.vragen import (
    VELDEN,
    OngeldigeVraag,
    kies_gemeente,
    kies_regio,
    lees_datum,
    uitvoer_telling,
    venster,
)
from services import bootstrap
from services.partities import elders_geteld
from services.runtime import RuntimeError_
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
    err.print(f"[red]fout:[/red] {escape(message)}")
    return typer.Exit(2)


def _endpoints(settings: Settings) -> bootstrap.Endpoints:
    try:
        return bootstrap.endpoints(settings)
    except RuntimeError_ as error:
        raise _fail(str(error)) from None


def _datum(tekst: str | datetime) -> datetime:
    """A JJJJ-MM-DD option; an impossible date (2023-02-30) is called that."""
    if isinstance(tekst, datetime):
        return tekst
    try:
        return datetime.combine(lees_datum(tekst, "datum"), datetime.min.time())
    except OngeldigeVraag as fout:
        raise typer.BadParameter(str(fout)) from None


RegionOpt = Annotated[str, typer.Option(
    "--region", help="regio-id, bijvoorbeeld zuid-limburg (zie `jeugdstroom regions list`)")]
DateOpt = Annotated[datetime, typer.Option(
    parser=_datum, metavar="JJJJ-MM-DD", help="peildatum: de laatste dag van het venster")]
FromOpt = Annotated[datetime | None, typer.Option(
    "--from", parser=_datum, metavar="JJJJ-MM-DD",
    help="eerste dag van het venster (standaard: 1 januari van het jaar van de peildatum)")]
KnownAtOpt = Annotated[datetime | None, typer.Option(
    "--known-at", parser=_datum, metavar="JJJJ-MM-DD",
    help="kennisdatum: alleen berichten gedateerd op of vóór deze dag tellen (standaard: nu)")]
GemeenteOpt = Annotated[str | None, typer.Option(
    help="één gemeente van de regio, naam of CBS-code (Maastricht of 0935); standaard de hele regio")]
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


def _gemeente(regio: Regio, gemeente: str | None) -> str | None:
    """The CBS code of `--gemeente` (a name or a code), or a failure listing names and codes."""
    try:
        return kies_gemeente(regio, gemeente)
    except OngeldigeVraag as error:
        raise _fail(str(error)) from None


def _vraag(region: str, peildatum: datetime, van: datetime | None, gemeente: str | None,
           extra: list[Path] | None) -> tuple[Settings, Regio, date, date]:
    """Settings, region and window of a counts/replay/diff question, or a clear failure.
    The gemeente is checked here; `_gemeente` gives its code."""
    settings = _settings()
    regio = _regio(settings, region, extra)
    elders = elders_geteld(settings.partitions, settings.partition, regio.id)
    if elders is not None:
        raise _fail(elders)
    try:
        start, pd = venster(regio, peildatum.date(), van.date() if van else None, gemeente)
    except OngeldigeVraag as error:
        raise _fail(str(error)) from None
    return settings, regio, start, pd


def _leeszijde(settings: Settings) -> bootstrap.Leeszijde:
    """The questions over the views, with a note when the figures lag behind the event store."""
    leeszijde = bootstrap.leeszijde(_endpoints(settings).database_url, settings.database_schema)
    achter = leeszijde.achter()
    if achter > 0:
        err.print(f"[yellow]let op:[/yellow] de cijfers lopen {achter} gebeurtenissen achter op "
                  "de opgeslagen berichten; `jeugdstroom project --until-caught-up` werkt ze bij")
    return leeszijde


def _toon(telling: Telling, formaat: Formaat, titel: str, regio: Regio | None = None) -> None:
    data: dict[str, Any] = telling.als_dict()
    if formaat is Formaat.json:
        console.print_json(json.dumps(data))
        return
    kolommen = VELDEN
    if formaat is Formaat.csv:
        sys.stdout.write(uitvoer_telling(telling, regio).als_csv())
        return
    table = Table(title=titel, title_justify="left")
    # (the table shows the first inflow category as "instr."; totale instroom is all five)
    table.add_column("segment")
    for k in kolommen:
        table.add_column(_KOP[k], justify="right")
    for s in data["segments"]:
        table.add_row(s["name"], *("n.v.t." if s[k] is None else str(s[k]) for k in kolommen))
    console.print(table)
    console.print(f"unieke jeugdigen totaal: {data['totaal_unieke_jeugdigen']}; "
                  f"toewijzingen zonder segment (unmapped): {data['unmapped_toewijzingen']}")
    for waarschuwing in data["warnings"]:
        err.print(f"[yellow]let op:[/yellow] {escape(waarschuwing)}")


def _titel(regio: Regio, van: date, pd: date, k: date | None, gemeente: str | None) -> str:
    waar = regio.gemeenten[gemeente] if gemeente else regio.naam
    return (f"{waar}: {van.isoformat()} t/m {pd.isoformat()}, "
            f"bekend op {k.isoformat() if k else 'nu'}")



def _alle_regios(settings: Settings, extra: list[Path] | None) -> dict[str, Regio]:
    try:
        return bootstrap.regios(settings, extra)
    except RegioConfigError as error:
        raise _fail(str(error)) from None


def _progress() -> Progress:
    """A progress bar on stderr, redrawn twice a second: at rich's default of ten, redrawing
    took 5% of the samples of `ingest --until-caught-up` (py-spy)."""
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TextColumn("nog"), TimeRemainingColumn(), console=err, refresh_per_second=2,
    )




HostOpt = Annotated[str, typer.Option(help="address to listen on")]
PortOpt = Annotated[int, typer.Option(help="port to listen on")]
