"""Commands for developers and first-time users: simulated traffic, the demo and the bench.

`services.dev` (simulator, bench) is imported inside the commands: no production process
loads it."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.markup import escape
from rich.table import Table

from events.gemeenten import GemeenteRegisterError
from projections.geldvragen import Geldvragen
from projections.kwaliteit import samenvatting
from projections.regio import Regio
from projections.vragen import VELDEN
from services import bootstrap
from services.cli.analist import _delta, _toon_zorg
from services.cli.basis import (
    _KOP,
    Formaat,
    PortOpt,
    RegionConfigOpt,
    RegionOpt,
    _endpoints,
    _fail,
    _progress,
    _regio,
    _settings,
    _titel,
    _toon,
    app,
    console,
    err,
)
from services.cli.beheer import _ingest_until_caught_up, _serve
from services.nats import ijw_bestanden, publiceer
from services.settings import Settings

if TYPE_CHECKING:
    from services.dev.bench import Meting

def _jaren(years: str) -> range:
    try:
        eerste, _, laatste = years.partition("-")
        jaren = range(int(eerste), int(laatste or eerste) + 1)
    except ValueError:
        raise _fail(f"--years '{years}': write a year or a range, e.g. 2021-2023") from None
    if not jaren:
        raise _fail(f"--years '{years}': the first year must not be after the last")
    return jaren


BreekAandeelOpt = Annotated[float, typer.Option(
    "--breek-aandeel", min=0.0, max=1.0,
    help="share of valid messages written breaking one iJw rule (data-quality findings; the "
    "message is still ingested), e.g. 0.02")]
BreekRegelOpt = Annotated[list[str] | None, typer.Option(
    "--breek-regel", help="only break this rule (repeat the option); default every rule the "
    "writer can break (CD007, CD034, CD087, CS139, CS318, CS338, TR002, TR006, TR358)")]


def _simuleer(regio: Regio, jaren: range, seed: int, out: Path, breek_aandeel: float = 0.0,
              breek_regels: list[str] | None = None) -> int:
    from services.dev.simulator import simulatie_profiel, simuleer

    try:
        profiel = simulatie_profiel(regio)
    except ValueError as error:
        raise _fail(str(error)) from None
    if out.exists() and any(out.glob("*.xml")):
        raise _fail(f"{out} already holds .xml files: choose an empty --out directory")
    with _progress() as progress:
        task = progress.add_task(f"simulating {regio.naam} {jaren.start}-{jaren.stop - 1}",
                                 total=None)
        try:
            resultaat = simuleer(profiel, jaren, seed, out,
                                 voortgang=lambda n: progress.advance(task, n),
                                 breek_aandeel=breek_aandeel,
                                 breek_regels=frozenset(breek_regels) if breek_regels else None)
        except ValueError as error:
            raise _fail(str(error)) from None
    console.print(f"{resultaat.totaal} files ({resultaat.toewijzingen} toewijzingen, "
                  f"{resultaat.ijw_records} iJw records, {resultaat.ongeldig} invalid, "
                  f"{resultaat.duplicaten} duplicates) in {out}")
    if resultaat.gebroken:
        console.print("breaking iJw rules on purpose: " + ", ".join(
            f"{regel} {n}" for regel, n in resultaat.gebroken.items()))
    return resultaat.totaal


@app.command()
def simulate(
    region: RegionOpt = "zuid-limburg",
    years: Annotated[str, typer.Option(help="e.g. 2021-2023")] = "2021-2023",
    seed: Annotated[int, typer.Option(help="same seed, same files")] = 1,
    out: Annotated[Path, typer.Option(help="directory for the XML files")] = Path("simulated"),
    region_config: RegionConfigOpt = None,
    breek_aandeel: BreekAandeelOpt = 0.0,
    breek_regel: BreekRegelOpt = None,
) -> None:
    """Write valid iJw 3.2 traffic of a synthetic region, with realistic messiness; with
    --breek-aandeel a share of it breaks named iJw rules (for the data-quality report).

    Example: jeugdstroom simulate --years 2021-2023 --out simulated --breek-aandeel 0.02"""
    settings = _settings()
    _simuleer(_regio(settings, region, region_config), _jaren(years), seed, out, breek_aandeel,
              breek_regel)


@app.command()
def demo(
    region: RegionOpt = "zuid-limburg",
    years: Annotated[str, typer.Option(help="simulated years, e.g. 2021-2023")] = "2021-2023",
    seed: Annotated[int, typer.Option(help="same seed, same traffic")] = 1,
    region_config: RegionConfigOpt = None,
    no_serve: Annotated[bool, typer.Option(
        "--no-serve", help="exit after printing instead of serving the dashboard")] = False,
    port: PortOpt = 8000,
    breek_aandeel: BreekAandeelOpt = 0.02,
) -> None:
    """The whole path on the embedded default: simulate a region, publish its traffic through
    NATS, ingest, project, and print the 0-meting of the last year as known 90 days after
    its peildatum and as known now; then serve the dashboard until Ctrl-C.

    Example: jeugdstroom demo --years 2021-2023 --no-serve"""
    settings = _settings()
    regio = _regio(settings, region, region_config)
    jaren = _jaren(years)
    servers = _endpoints(settings)
    console.print(f"NATS {servers.nats_url}, PostgreSQL {servers.database_url}")
    out = (settings.state_dir / "demo" / f"{regio.id}-{jaren.start}-{jaren.stop - 1}-{seed}"
           f"{f'-breek{breek_aandeel}' if breek_aandeel else ''}")
    if out.exists() and any(out.glob("*.xml")):
        console.print(f"reusing the simulated traffic in {out} (same seed, same files)")
    else:
        _simuleer(regio, jaren, seed, out, breek_aandeel)
    bestanden = list(ijw_bestanden([out]))
    with _progress() as progress:
        task = progress.add_task("publishing to NATS", total=len(bestanden))
        gepubliceerd = asyncio.run(publiceer(servers.nats_url, settings, bestanden,
                                             voortgang=lambda n: progress.advance(task, n)))
    console.print(gepubliceerd.samenvatting())
    for pad, reden in gepubliceerd.fouten:  # the simulator's deliberately broken files, say
        console.print(f"  not published: {escape(pad.name)}: {escape(reden)}")
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
    een, twee, wijzigingen = bootstrap.leeskant(projector).diff(regio, van, pd, k1, date.today())
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
    _geld_toen_en_nu(bootstrap.geldvragen(projector), regio, van, pd, k1)
    _toon_zorg(bootstrap.zorgvragen(projector).zorgtelling(regio, van, pd, None),
               "daadwerkelijke zorg (JW305/JW307): " + _titel(regio, van, pd, None, None))
    kwaliteit = bootstrap.kwaliteitsvragen(projector.store).rapport(list(regio.gemeenten))
    for regel in samenvatting(kwaliteit, regio.gemeenten):
        console.print(regel)
    console.print(f"per rule, provider and month: jeugdstroom kwaliteit --region {regio.id}")
    console.print(f"{len(wijzigingen)} allocations explain the difference: "
                  f"jeugdstroom diff --region {regio.id} --peildatum {pd} "
                  f"--known-at {k1} --known-at {date.today()}")
    console.print(f"check it from the event log alone: jeugdstroom replay --region {regio.id} "
                  f"--peildatum {pd} --known-at {k1}")
    if not no_serve:
        _serve(settings, servers.database_url, region_config, "127.0.0.1", port,
               dashboard=f"regio={regio.id}&peildatum={pd}&bekend_op={k1}")  # a ready link


TARGETS = {"ingest_records_per_s": 20_000, "rebuild_records_per_s": 100_000,
           "query_historic_p95_ms": 250, "query_live_p95_ms": 20, "peak_rss_mb": 500}


@app.command()
def bench(
    sizes: Annotated[list[int] | None, typer.Option(
        "--sizes", help="approximate number of stored events per run (repeat the option); "
        "default 25000, 100000 and 400000 (half an hour or more; 100000 alone took 10 "
        "minutes here)")] = None,
    json_file: Annotated[Path | None, typer.Option("--json", help="write the figures here")] = None,
    baseline_events: Annotated[int, typer.Option(
        help="events in the straightforward-path sample (b)")] = 20_000,
    rules_passes: Annotated[bool, typer.Option(
        help="also ingest the stream alone with the iJw rules off, on, on, off (issue 16); "
        "at 1M events these four take about half an hour")] = True,
    partitions_only: Annotated[bool, typer.Option(
        "--partitions-only", help="only ingest of two regions' traffic as one partition and as "
        "two partitions at once (README, Partitions)")] = False,
) -> None:
    """Measure ingest end to end, rebuild, queries and memory, beside a raw COPY, the
    straightforward library path and plain SQL, on embedded servers of its own.

    Example: jeugdstroom bench --sizes 25000 --json bench.json"""
    from services.dev.bench import SCHEMA_VERSION, meet

    sizes = sizes or [25_000, 100_000, 400_000]
    settings = _settings()
    if partitions_only:
        _bench_partities(settings, sizes)
        return
    regio = _regio(settings, "zuid-limburg", None)
    metingen = []
    for n in sizes:
        err.print(f"[bold]size ~{n:,} events[/bold]")
        metingen.append(meet(settings, regio, n, lambda tekst: err.print(f"  {escape(tekst)}"),
                             baseline_events, regels_passes=rules_passes))
    document = {"schema_version": SCHEMA_VERSION, "machine": {"cores": os.cpu_count(),
                                                  "python": sys.version.split()[0]},
                "targets": TARGETS, "baseline_events": baseline_events,
                "runs": [dataclasses.asdict(m) for m in metingen]}
    if json_file:
        json_file.write_text(json.dumps(document, indent=2))
    # each run is labelled with what it stored, not with the size asked (--sizes is approximate)
    table = Table("figure", *(f"{m.events:,} events" for m in metingen), "target",
                  title="jeugdstroom bench",
                  title_justify="left")

    def rij(naam: str, waarde: Callable[[Meting], str], doel: str = "") -> None:
        table.add_row(naam, *(waarde(m) for m in metingen), doel)

    rij("events stored / iJw records", lambda m: f"{m.events:,} / {m.ijw_records:,}")
    rij("ingest end to end, iJw records/s", lambda m: f"{m.ingest_records_per_s:,.0f}", "20,000")
    rij("  ratio to (a) COPY rows/s", lambda m: f"{m.ingest_records_per_s / m.copy_rows_per_s:.3f}")
    rij("ingest alone, iJw rules off / on, records/s",
        lambda m: f"{m.ingest_rules_off_records_per_s:,.0f} / {m.ingest_rules_on_records_per_s:,.0f}"
        if m.ingest_rules_off_records_per_s else "not run (--no-rules-passes)")
    rij("  on / off (issue 16: at least 0.90)",
        lambda m: f"{m.ingest_rules_on_records_per_s / m.ingest_rules_off_records_per_s:.3f}"
        if m.ingest_rules_off_records_per_s else "", "0.90")
    rij("  findings stored with rules on (messages with one)",
        lambda m: f"{m.ingest_rules_findings:,} ({m.ingest_rules_messages_with_findings:,})"
        if m.ingest_rules_off_records_per_s else "")
    rij("ingest alone, 1 / 2 partitions, records/s (two regions' traffic)",
        lambda m: f"{m.partitions_1_records_per_s:,.0f} / {m.partitions_2_records_per_s:,.0f}")
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
    rij("money historic p50/p95/p99 ms",
        lambda m: "/".join(str(m.money_query_historic_ms[p]) for p in ("p50", "p95", "p99")),
        "p95 250")
    rij("money live p50/p95/p99 ms (asked again)",
        lambda m: "/".join(str(m.money_query_live_ms[p]) for p in ("p50", "p95", "p99")), "p95 20")
    rij("money live p50/p95/p99 ms (first after a change)",
        lambda m: "/".join(str(m.money_query_live_cold_ms[p]) for p in ("p50", "p95", "p99")),
        "p95 20")
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
    rij("(c) SQL gedeclareerd ms (agrees)",
        lambda m: f"{m.money_sql_ms:.0f} ({'yes' if m.money_sql_agrees else 'NO'})")
    console.print(table)


def _bench_partities(settings: Settings, sizes: list[int]) -> None:
    """`bench --partitions-only`: one partition against two, side by side per size."""
    from services.dev.bench import meet_alleen_partities

    table = Table("events (about)", "iJw records", "1 partition, records/s",
                  "2 partitions, records/s", "2 / 1", "CPU us a message, 1 / 2",
                  title="jeugdstroom bench: partitions", title_justify="left")
    for n in sizes:
        err.print(f"[bold]size ~{n:,} events[/bold]")
        m = meet_alleen_partities(settings, n, lambda tekst: err.print(f"  {escape(tekst)}"))
        een, twee = m.partitions_1_records_per_s, m.partitions_2_records_per_s
        table.add_row(f"{n:,}", f"{m.partitions_ijw_records:,}", f"{een:,.0f}", f"{twee:,.0f}",
                      f"{twee / een:.2f}", f"{m.partitions_1_cpu_us_per_message:,.0f} / "
                      f"{m.partitions_2_cpu_us_per_message:,.0f}")
    console.print(table)


def _geld_toen_en_nu(geldvragen: Geldvragen, regio: Regio, van: date, pd: date, k1: date) -> None:
    """The money of the window as known at K1 and now, per segment, with the difference
    (from the money projection; `jeugdstroom replay` checks it against the event log)."""
    toen = geldvragen.kostentelling(regio, van, pd, k1)
    nu = geldvragen.kostentelling(regio, van, pd, None)
    table = Table(title=f"geld (euro) {van} t/m {pd}: bekend op {k1} en nu", title_justify="left")
    for kolom in ("segment", "gedeclareerd toen", "gedeclareerd nu", "verschil", "toegekend nu",
                  "beschikt nu", "realisatie nu"):
        table.add_column(kolom, justify="left" if kolom == "segment" else "right")
    for a, b in [*zip(toen.segmenten, nu.segmenten, strict=True), (None, None)]:
        c_toen, c_nu = (a.cijfers, b.cijfers) if a and b else (toen.totaal, nu.totaal)
        table.add_row(a.naam if a else "totaal", f"{c_toen.gedeclareerd / 100:,.2f}",
                      f"{c_nu.gedeclareerd / 100:,.2f}",
                      f"{(c_nu.gedeclareerd - c_toen.gedeclareerd) / 100:+,.2f}",
                      f"{c_nu.toegekend / 100:,.2f}", f"{c_nu.beschikt / 100:,.2f}",
                      "n.v.t." if c_nu.realisatie is None else f"{c_nu.realisatie}%")
    console.print(table)
    console.print("the difference is declarations (and rejections) dated after "
                  f"{k1}; per line: jeugdstroom diff --region {regio.id} --peildatum {pd} "
                  f"--known-at {k1} --known-at {date.today()} --money")
