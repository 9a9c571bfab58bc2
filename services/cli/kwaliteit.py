"""`jeugdstroom kwaliteit`: where each gemeente's and provider's messages fall short of the
iJw rules (the findings stored at ingest, and the cross-message rules of the read side)."""

from __future__ import annotations

import csv
import json
import sys
from datetime import datetime
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from projections.kwaliteit import CSV_KOP, KRUISREGELS, als_csv_rijen, als_json
from services import bootstrap
from services.cli.basis import (
    Formaat,
    GemeenteOpt,
    RegionConfigOpt,
    RegionOpt,
    _datum,
    _endpoints,
    _gemeente,
    _regio,
    _settings,
    app,
    console,
)

DagOpt = Annotated[datetime | None, typer.Option(parser=_datum, metavar="JJJJ-MM-DD")]


@app.command()
def kwaliteit(
    region: RegionOpt,
    gemeente: GemeenteOpt = None,
    aanbieder: Annotated[str | None, typer.Option(help="one provider (AGB code)")] = None,
    van: Annotated[datetime | None, typer.Option(
        "--from", parser=_datum, metavar="JJJJ-MM-DD",
        help="first Dagtekening counted (default: all)")] = None,
    tot: Annotated[datetime | None, typer.Option(
        "--to", parser=_datum, metavar="JJJJ-MM-DD",
        help="last Dagtekening counted (default: all)")] = None,
    formaat: Annotated[Formaat, typer.Option("--format", help="table, json or csv")] = Formaat.table,
    region_config: RegionConfigOpt = None,
) -> None:
    """Data quality: per iJw rule, gemeente, provider and month, the number and share of
    messages with a finding, worst rules first, with stream sequences to open
    (`jeugdstroom rejected`-style). Rules JS01-JS04 are checked across messages.

    Example: jeugdstroom kwaliteit --region zuid-limburg --gemeente Maastricht --from 2023-01-01"""
    settings = _settings()
    regio = _regio(settings, region, region_config)
    code = _gemeente(regio, gemeente)
    store = bootstrap.event_store(_endpoints(settings).database_url, settings.database_schema)
    r = bootstrap.kwaliteitsvragen(store).rapport(
        [code] if code else list(regio.gemeenten), aanbieder=aanbieder,
        van=van.date() if van else None, tot=tot.date() if tot else None)
    if formaat is Formaat.json:
        console.print_json(json.dumps(als_json(r)))
        return
    if formaat is Formaat.csv:
        schrijver = csv.writer(sys.stdout)
        schrijver.writerow(CSV_KOP)
        schrijver.writerows(als_csv_rijen(r))
        return
    console.print(f"{regio.naam}{' / ' + regio.gemeenten[code] if code else ''}: "
                  f"{r.met_bevinding} of {r.berichten} messages with a finding"
                  f" ({'n.v.t.' if r.aandeel is None else f'{r.aandeel:.1f}%'})")
    regels = Table("rule", "with finding", "examined", "share", "per month", "stream seqs",
                   title="per rule (worst first)", title_justify="left")
    for g in r.regels:
        maanden = " ".join(f"{m}:{n}" for m, n in list(g.per_maand.items())[-6:])
        naam = f"{g.regel} ({KRUISREGELS[g.regel]})" if g.regel in KRUISREGELS else g.regel
        regels.add_row(escape(naam), str(g.berichten), str(g.onderzocht),
                       "n.v.t." if g.aandeel is None else f"{g.aandeel:.1f}%", maanden,
                       " ".join(map(str, g.stream_seqs[:8])))
    console.print(regels)
    for titel, partijen in (("gemeente", r.gemeenten), ("aanbieder", r.aanbieders)):
        tabel = Table(titel, "messages", "with finding", "share", "worst rule",
                      title=f"per {titel}", title_justify="left")
        for p in partijen:
            naam = regio.gemeenten.get(p.code, p.code) if titel == "gemeente" else p.code
            tabel.add_row(escape(naam), str(p.berichten), str(p.met_bevinding),
                          "n.v.t." if p.aandeel is None else f"{p.aandeel:.1f}%",
                          p.ergste_regel or "")
        console.print(tabel)
    trend = Table("month", "messages", "with finding", "share", title="trend per month",
                    title_justify="left")
    for m in r.maanden:
        trend.add_row(m.maand, str(m.berichten), str(m.met_bevinding),
                        "n.v.t." if m.aandeel is None else f"{m.aandeel:.1f}%")
    console.print(trend)
