"""Commands for the analyst and the auditor: the figures, their replay and their difference."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from projections.vragen import VELDEN
from projections.vragen import replay as replay_telling
from services.cli.basis import (
    _KOP,
    DateOpt,
    Formaat,
    FromOpt,
    GemeenteOpt,
    KnownAtOpt,
    RegionConfigOpt,
    RegionOpt,
    _fail,
    _leeskant,
    _titel,
    _toon,
    _vraag,
    app,
    console,
    err,
)
from services.projector.runner import eventlog


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
    _, leeskant = _leeskant(settings, region_config)
    telling = leeskant.telling(regio, start, pd, k, gemeente)
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
    projector, leeskant = _leeskant(settings, region_config)
    opnieuw = replay_telling(eventlog(projector.store), regio, start, pd, k, gemeente)
    _toon(opnieuw, formaat, "replay from the event log: " + _titel(regio, start, pd, k, gemeente))
    if opnieuw.als_dict() != leeskant.telling(regio, start, pd, k, gemeente).als_dict():
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
    _, leeskant = _leeskant(settings, region_config)
    een, twee, wijzigingen = leeskant.diff(regio, start, pd, k1, k2, gemeente)
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
