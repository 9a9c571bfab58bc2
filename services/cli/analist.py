"""Commands for the analyst and the auditor: the figures, their replay and their difference."""

from __future__ import annotations

import csv
import enum
import json
import sys
from datetime import date, datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from projections.geld import Kostentelling, Per
from projections.geldvragen import replay_geld
from projections.vragen import VELDEN, label, uitvoer_diff, uitvoer_telling
from projections.vragen import replay as replay_telling
from projections.zorg import Zorgtelling
from projections.zorgvragen import ZORGVELDEN, als_csv_zorg, replay_zorg, zorgrijen
from services.cli.basis import (
    _KOP,
    DateOpt,
    Formaat,
    FromOpt,
    GemeenteOpt,
    KnownAtOpt,
    RegionConfigOpt,
    RegionOpt,
    _datum,
    _fail,
    _gemeente,
    _leeszijde,
    _titel,
    _toon,
    _vraag,
    app,
    console,
    err,
)


@app.command()
def counts(
    region: RegionOpt,
    peildatum: DateOpt,
    van: FromOpt = None,
    known_at: KnownAtOpt = None,
    gemeente: GemeenteOpt = None,
    formaat: Annotated[Formaat, typer.Option(
        "--format", help="table (leesbaar), json, of csv (met een kopblok: regio, venster, "
        "peildatum, bekend op, gemeente, definities, onderdrukking)")] = Formaat.table,
    publication: Annotated[bool, typer.Option(
        "--publication", help="CSV voor publicatie: aantallen van 1 tot min_cel van de regio "
        "(standaard 10) als <10, met een voetregel die dat zegt")] = False,
    region_config: RegionConfigOpt = None,
) -> None:
    """Flow figures per segment for the window from..peildatum, as known at a date (default: now).

    Example: jeugdstroom counts --region zuid-limburg --peildatum 2023-12-31 --gemeente Maastricht"""
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    gemeente = _gemeente(regio, gemeente)
    k = known_at.date() if known_at else None
    lezen = _leeszijde(settings)
    leeskant = lezen.leeskant
    telling = leeskant.telling(regio, start, pd, k, gemeente)
    if publication:
        sys.stdout.write(uitvoer_telling(telling, regio, min_cel=regio.min_cel).als_csv())
        return
    _toon(telling, formaat, _titel(regio, start, pd, k, gemeente), regio)


@app.command()
def replay(
    region: RegionOpt,
    peildatum: DateOpt,
    van: FromOpt = None,
    known_at: KnownAtOpt = None,
    gemeente: GemeenteOpt = None,
    formaat: Annotated[Formaat, typer.Option(
        "--format", help="table (leesbaar), json of csv")] = Formaat.table,
    region_config: RegionConfigOpt = None,
) -> None:
    """Recompute the flow, the money and the care figures from the event log alone and compare
    them with the projections.

    Exit status 1 when any differs.
    Example: jeugdstroom replay --region zuid-limburg --peildatum 2023-12-31 --known-at 2024-03-30"""
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    gemeente = _gemeente(regio, gemeente)
    k = known_at.date() if known_at else None
    lezen = _leeszijde(settings)
    leeskant = lezen.leeskant
    opnieuw = replay_telling(lezen.flow_eventlog(), regio, start, pd, k, gemeente)
    _toon(opnieuw, formaat, "replay from the event log: " + _titel(regio, start, pd, k, gemeente))
    flow_gelijk = opnieuw.als_dict() == leeskant.telling(regio, start, pd, k, gemeente).als_dict()
    geld_opnieuw = replay_geld(lezen.geld_eventlog(), regio, start, pd, k, gemeente)
    geld_gelijk = geld_opnieuw.als_dict() == lezen.geldvragen.kostentelling(
        regio, start, pd, k, gemeente).als_dict()
    zorg_opnieuw = replay_zorg(lezen.zorg_eventlog(), regio, start, pd, k, gemeente)
    zorg_gelijk = zorg_opnieuw.als_dict() == lezen.zorgvragen.zorgtelling(
        regio, start, pd, k, gemeente).als_dict()
    if formaat is Formaat.table:
        _toon_geld(geld_opnieuw, "money replay from the event log: "
                   + _titel(regio, start, pd, k, gemeente))
        _toon_zorg(zorg_opnieuw, "care replay from the event log: "
                   + _titel(regio, start, pd, k, gemeente))
    for naam, gelijk, vergelijk in (("flow", flow_gelijk, "counts"), ("money", geld_gelijk, "costs"),
                                    ("care", zorg_gelijk, "care")):
        if not gelijk:
            err.print(f"[red]the {naam} replay DIFFERS from the projection[/red]: compare with "
                      f"`jeugdstroom {vergelijk}` using the same options; rebuild with "
                      "`jeugdstroom project --rebuild`")
        else:
            err.print(f"{naam} replay agrees with the projection")
    if not (flow_gelijk and geld_gelijk and zorg_gelijk):
        raise typer.Exit(1)


@app.command()
def diff(
    region: RegionOpt,
    peildatum: DateOpt,
    known_at: Annotated[list[datetime], typer.Option(
        "--known-at", parser=_datum, metavar="JJJJ-MM-DD",
        help="twee kennisdatums: eerst K1 (toen), dan K2 (nu)")],
    van: FromOpt = None,
    gemeente: GemeenteOpt = None,
    money: Annotated[bool, typer.Option(
        "--money", help="also the money figures and the declaration lines and answers behind "
        "their change")] = False,
    formaat: Annotated[Formaat, typer.Option(
        "--format", help="table (leesbaar), json (de vorm van GET /api/diff) of csv (met kopblok)")
    ] = Formaat.table,
    region_config: RegionConfigOpt = None,
) -> None:
    """Explain how the figures for one peildatum differ between two knowledge dates.

    Example: jeugdstroom diff --region zuid-limburg --peildatum 2023-12-31 --known-at 2024-03-30
    --known-at 2025-01-01"""
    if len(known_at) != 2:
        raise _fail("give --known-at exactly twice: the earlier and the later knowledge date")
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    gemeente = _gemeente(regio, gemeente)
    k1, k2 = (k.date() for k in known_at)
    lezen = _leeszijde(settings)
    leeskant = lezen.leeskant
    een, twee, wijzigingen = leeskant.diff(regio, start, pd, k1, k2, gemeente)
    if formaat is Formaat.csv:
        sys.stdout.write(uitvoer_diff(regio, een, twee, wijzigingen).als_csv())
        return
    if formaat is Formaat.json:
        console.print_json(json.dumps({
            "k1": een.als_dict(), "k2": twee.als_dict(), "allocations": [
                {"client": w.client[:12], "toewijzing": f"{w.gemeentecode}:{w.toewijzingnummer}",
                 "segment": w.segment, "at_k1": w.oud, "at_k2": w.nieuw, "caused_by": w.oorzaak,
                 "message_date": w.datum.isoformat() if w.datum else None,
                 "what_changed": w.wat} for w in wijzigingen]}))
        return
    table = Table(title=f"{_titel(regio, start, pd, k1, gemeente)} -> {k2.isoformat()}",
                  title_justify="left")
    table.add_column("segment")
    for veld in VELDEN:
        table.add_column(_KOP[veld], justify="right")
    for a, b in zip(een.segmenten, twee.segmenten, strict=True):
        table.add_row(a.naam, *(_verschil(getattr(a, v), getattr(b, v)) for v in VELDEN))
    console.print(table)
    detail = Table("jeugdige (pseudoniem)", "toewijzing", "segment", "telde bij K1 als",
                   "telt bij K2 als", "oorzaak: JW301 (gemeente:identificatie), dagtekening, wat",
                   title=f"{len(wijzigingen)} toewijzingen verklaren het verschil", title_justify="left")
    for w in wijzigingen:
        oorzaak = (f"{w.oorzaak} van {w.datum.isoformat()}: {w.wat}" if w.datum
                   else w.wat or "geen nieuw bericht (een voorlopige uitstroom werd definitief)")
        detail.add_row(w.client[:12], f"{w.gemeentecode}:{w.toewijzingnummer}", w.segment or "-",
                       label(w.oud), label(w.nieuw), oorzaak)
    console.print(detail)
    if money:
        _geldverschil(settings, regio, start, pd, k1, k2, gemeente, region_config)


def _geldverschil(settings: Any, regio: Any, start: date, pd: date, k1: date, k2: date,
                  gemeente: str | None, region_config: Any) -> None:
    """The money half of `diff --money`: per segment K1 -> K2, then the lines behind it."""
    lezen = _leeszijde(settings)
    een, twee, regels = lezen.geldvragen.verschil(regio, start, pd, k1, k2, gemeente)
    table = Table(title=f"geld (euro): {_titel(regio, start, pd, k1, gemeente)} -> {k2.isoformat()}",
                  title_justify="left")
    table.add_column("segment")
    for kolom in _GELDKOLOMMEN:
        table.add_column(kolom.replace("_", " "), justify="right")
    rijen = [(s.naam, a.cijfers.als_dict(), s.cijfers.als_dict())
             for a, s in zip(een.segmenten, twee.segmenten, strict=True)]
    rijen.append(("totaal", een.totaal.als_dict(), twee.totaal.als_dict()))
    for naam, oud, nieuw in rijen:
        table.add_row(naam, *(_geldverschil_cel(kolom, oud[kolom], nieuw[kolom])
                              for kolom in _GELDKOLOMMEN))
    table.add_row("ongekoppeld", _geldverschil_cel("gedeclareerd", een.ongekoppeld, twee.ongekoppeld))
    console.print(table)
    detail = Table("aanbieder", "referentienummer", "toewijzing", "month", "bedrag", "at K1",
                   "at K2", "caused by", title=f"{len(regels)} declaration lines behind the "
                   "difference", title_justify="left")
    for r in regels:
        detail.add_row(r.aanbieder, r.referentienummer, r.toewijzing, r.maand,
                       _euro("bedrag", r.bedrag), r.oud, r.nieuw, r.oorzaak)
    console.print(detail)


def _geldverschil_cel(kolom: str, oud: object, nieuw: object) -> str:
    if oud == nieuw:
        return _euro(kolom, oud)
    return f"{_euro(kolom, oud)} -> {_euro(kolom, nieuw)}"


def _delta(oud: int | None, nieuw: int | None) -> str:
    return "n.v.t." if oud is None or nieuw is None else f"{nieuw - oud:+d}" if nieuw != oud else "0"


def _verschil(oud: int | None, nieuw: int | None) -> str:
    if oud is None or nieuw is None:
        return "n.v.t."
    return f"{oud} -> {nieuw} ({nieuw - oud:+d})" if nieuw != oud else str(oud)


class Uitsplitsing(enum.StrEnum):
    segment = "segment"
    gemeente = "gemeente"
    month = "month"
    aanbieder = "aanbieder"
    product = "product"


_PER: dict[Uitsplitsing, Per] = {
    Uitsplitsing.segment: "segment", Uitsplitsing.gemeente: "gemeente",
    Uitsplitsing.month: "maand", Uitsplitsing.aanbieder: "aanbieder",
    Uitsplitsing.product: "product"}
_GELDKOLOMMEN = ("gedeclareerd", "afgewezen", "toegekend", "beschikt", "realisatie",
                 "toewijzingen_zonder_declaratie", "zonder_beschikte_waarde",
                 "buiten_toewijzingsperiode", "jeugdigen_met_declaratie", "kosten_per_jeugdige")


@app.command()
def costs(
    region: RegionOpt,
    peildatum: DateOpt,
    van: FromOpt = None,
    known_at: KnownAtOpt = None,
    gemeente: GemeenteOpt = None,
    by: Annotated[Uitsplitsing, typer.Option(
        "--by", help="one row per segment (default), gemeente, month, aanbieder or product")
    ] = Uitsplitsing.segment,
    formaat: Annotated[Formaat, typer.Option("--format", help="table, json or csv")] = Formaat.table,
    region_config: RegionConfigOpt = None,
) -> None:
    """Money per segment: gedeclareerd, afgewezen, toegekend, beschikt, realisatie and more
    (DOMAIN.md, Money), for the window from..peildatum as known at a date (default: now).

    Amounts are eurocent. Read from the money projection (`jeugdstroom replay` recomputes
    them from the event log and compares).
    Example: jeugdstroom costs --region zuid-limburg --peildatum 2023-12-31 --known-at 2024-03-30"""
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    gemeente = _gemeente(regio, gemeente)
    k = known_at.date() if known_at else None
    lezen = _leeszijde(settings)
    telling = lezen.geldvragen.kostentelling(regio, start, pd, k, gemeente, _PER[by])
    data: dict[str, Any] = telling.als_dict()
    if formaat is Formaat.json:
        console.print_json(json.dumps(data))
        return
    rijen = data["segments"] if by is Uitsplitsing.segment else data["rows"]
    sleutels = [k for k in (rijen[0] if rijen else {}) if k not in _GELDKOLOMMEN]
    if formaat is Formaat.csv:
        schrijver = csv.writer(sys.stdout)
        schrijver.writerow([*sleutels, *_GELDKOLOMMEN])
        for rij in [*rijen, {"segment": "totaal", **data["totaal"]}]:
            schrijver.writerow([rij.get(s, "") for s in sleutels]
                               + ["" if rij[k] is None else rij[k] for k in _GELDKOLOMMEN])
        return
    _toon_geld(telling, "geld (euro): " + _titel(regio, start, pd, k, gemeente))


def _toon_geld(telling: Kostentelling, titel: str) -> None:
    """The money table (euro), its ongekoppeld line and its warnings."""
    data: dict[str, Any] = telling.als_dict()
    rijen = data["segments"] if telling.per == "segment" else data["rows"]
    sleutels = [k for k in (rijen[0] if rijen else {}) if k not in _GELDKOLOMMEN]
    table = Table(title=titel, title_justify="left")
    for s in sleutels:
        table.add_column(s)
    for kolom in _GELDKOLOMMEN:
        table.add_column(kolom.replace("_", " "), justify="right")
    for rij in [*rijen, {sleutels[0] if sleutels else "segment": "totaal", **data["totaal"]}]:
        table.add_row(*(str(rij.get(s, "")) for s in sleutels), *(_euro(k, rij[k]) for k in _GELDKOLOMMEN))
    console.print(table)
    console.print(f"ongekoppeld (declared without a toewijzing at K): {_euro('bedrag', data['ongekoppeld'])}")
    for waarschuwing in data["warnings"]:
        err.print(f"[yellow]warning:[/yellow] {escape(waarschuwing)}")


def _euro(kolom: str, waarde: object) -> str:
    if waarde is None:
        return "n.v.t."
    if kolom == "realisatie":
        return f"{waarde}%"
    if kolom in ("toewijzingen_zonder_declaratie", "zonder_beschikte_waarde", "jeugdigen_met_declaratie"):
        return str(waarde)
    assert isinstance(waarde, int)
    return f"{waarde / 100:,.2f}"


@app.command()
def care(
    region: RegionOpt,
    peildatum: DateOpt,
    van: FromOpt = None,
    known_at: KnownAtOpt = None,
    gemeente: GemeenteOpt = None,
    formaat: Annotated[Formaat, typer.Option("--format", help="table, json or csv")] = Formaat.table,
    region_config: RegionConfigOpt = None,
) -> None:
    """Actual care per segment (JW305 start, JW307 stop; DOMAIN.md, Actual care): toegewezen
    niet gestart, tijd tot start (median, p90 in days), starts and stops in the window from..peildatum, as
    known at a date (default: now).

    Read from the care projection (`jeugdstroom replay` recomputes them from the event log
    and compares).
    Example: jeugdstroom care --region zuid-limburg --peildatum 2023-12-31 --known-at 2024-03-30"""
    settings, regio, start, pd = _vraag(region, peildatum, van, gemeente, region_config)
    gemeente = _gemeente(regio, gemeente)
    k = known_at.date() if known_at else None
    lezen = _leeszijde(settings)
    telling = lezen.zorgvragen.zorgtelling(regio, start, pd, k, gemeente)
    if formaat is Formaat.json:
        console.print_json(json.dumps(telling.als_dict()))
    elif formaat is Formaat.csv:
        sys.stdout.write(als_csv_zorg(telling))
    else:
        _toon_zorg(telling, "zorg: " + _titel(regio, start, pd, k, gemeente))


def _toon_zorg(telling: Zorgtelling, titel: str) -> None:
    """The care table (days for tijd tot start; n.v.t. without a start in the window)."""
    table = Table(title=titel, title_justify="left")
    table.add_column("segment")
    for kolom in ZORGVELDEN:
        table.add_column(kolom.replace("_", " "), justify="right")
    for rij in zorgrijen(telling):
        table.add_row(str(rij["segment"]), *("n.v.t." if rij[k] is None else str(rij[k])
                                             for k in ZORGVELDEN))
    console.print(table)
    for waarschuwing in telling.waarschuwingen:
        err.print(f"[yellow]warning:[/yellow] {escape(waarschuwing)}")
