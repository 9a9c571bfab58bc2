"""`jeugdstroom bench`: throughput and latency of the real pipeline, beside its baselines.

Runs on its own embedded servers under <state dir>/bench, never on the user's data. Per size:
simulate Zuid-Limburg traffic (deterministic), publish it to NATS while the real `ingest` and
`project` processes run, and time until the projection has caught up; rebuild the
projection from the event store; time counts queries. Beside it, in the same run:
(a) a raw PostgreSQL COPY of as many rows as events were stored, (b) the straightforward
path on a sample (one `save()` per message, the library's per-event ProjectionRunner),
(c) the same counts in plain SQL from a flat table of allocations, as an analyst would, and
gedeclareerd per segment in plain SQL beside the money projection's answer.
Money queries (`costs` per segment: the money view's read plus the money rules) are timed
like the counts: historic at random peildatum and K, live asked again and first after a change.
Throughput is in iJw records (ToegewezenProduct, StartProduct, StopProduct, Prestatie).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import partial
from itertools import zip_longest
from pathlib import Path
from typing import Any

import nats
import psycopg
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection, ProjectionRunner
from pydantic import SecretStr

from events.domain import Declaratie, Toewijzing, declaratie_id, toewijzing_id
from events.gemeenten import GemeenteRegister, meegeleverde_lijsten
from events.ijw import Afgewezen, XsdSchemas, lees_bericht
from events.pseudonym import Pseudonimiseerder
from events.verwerking import verwerk
from projections.flow import Telling
from projections.geld import Kostentelling
from projections.geldvragen import Geldvragen
from projections.postgres import PostgresFlowView
from projections.regio import SHIPPED, Regio, laad_regios, regio_id
from projections.vragen import Leeskant
from services import bootstrap
from services.dev.simulator import SimulatieProfiel, simuleer, zuid_limburg_profiel
from services.eventstore.postgres import Gebeurtenissen, library_env
from services.nats import ijw_bestanden, nats_servers, publiceer, verwijder_stream
from services.projector.runner import ververs_live, ververs_live_geld
from services.runtime import EmbeddedRuntime, Endpoints
from services.settings import Settings

EVENTS_PER_JAAR = 25_000  # Zuid-Limburg-sized traffic stores about this many events a year
MEESTE_JAREN = 3  # simulated years end in 2023 and start no earlier than 2021
BASELINE_EVENTS = 20_000
SCHEMA_VERSION = 2


@dataclass
class Meting:
    """All figures of one size; the JSON document is a list of these (schema_version 2)."""

    events: int = 0
    ijw_records: int = 0
    berichten: int = 0
    ingest_seconds: float = 0.0
    ingest_records_per_s: float = 0.0
    rebuild_seconds: float = 0.0
    rebuild_records_per_s: float = 0.0
    query_historic_ms: dict[str, float] = field(default_factory=dict)
    query_live_ms: dict[str, float] = field(default_factory=dict)  # asked again, unchanged
    query_live_cold_ms: dict[str, float] = field(default_factory=dict)  # first after a change
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    copy_rows_per_s: float = 0.0
    straightforward_save_events_per_s: float = 0.0
    straightforward_projection_events_per_s: float = 0.0
    analyst_sql_ms: float = 0.0
    analyst_sql_agrees: bool | None = None
    money_query_historic_ms: dict[str, float] = field(default_factory=dict)
    money_query_live_ms: dict[str, float] = field(default_factory=dict)
    money_query_live_cold_ms: dict[str, float] = field(default_factory=dict)
    money_sql_ms: float = 0.0  # plain SQL gedeclareerd per segment
    money_sql_agrees: bool | None = None
    # ingest alone (`ingest --until-caught-up`, process start included) on the same stream,
    # into a fresh database each: the iJw rules (issue 16) on and off; beside the rates the CPU
    # of ingest and its validation worker per message, which other load on a shared machine
    # barely moves (the rates swing by half between passes there)
    ingest_rules_on_records_per_s: float = 0.0
    ingest_rules_off_records_per_s: float = 0.0
    ingest_rules_on_cpu_us_per_message: float = 0.0
    ingest_rules_off_cpu_us_per_message: float = 0.0
    # what the rules found in that traffic: storing findings is part of the rules' cost
    ingest_rules_findings: int = 0
    ingest_rules_messages_with_findings: int = 0
    # scale-out by region (issue 15): ingest alone of one stream with two regions' traffic,
    # as one partition and as two partitions at once (a process each), on this machine
    partitions_ijw_records: int = 0
    partitions_1_records_per_s: float = 0.0
    partitions_2_records_per_s: float = 0.0
    partitions_1_cpu_us_per_message: float = 0.0  # ingest processes with their workers
    partitions_2_cpu_us_per_message: float = 0.0


class _BenchRuntime:
    """Fresh database and stream per size, on embedded servers of the bench's own."""

    def __init__(self, state_dir: Path) -> None:
        self.runtime = EmbeddedRuntime(state_dir / "bench" / "servers")
        self.servers: Endpoints = self.runtime.up()

    def nieuw(self, naam: str, settings: Settings) -> Settings:
        admin = self.servers.database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{naam}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{naam}"')
        asyncio.run(verwijder_stream(self.servers.nats_url, settings.stream))
        return settings.model_copy(update={
            "nats_url": self.servers.nats_url,
            "database_url": self.servers.database_url.rsplit("/", 1)[0] + f"/{naam}",
            "pseudonym_key": settings.pseudonym_key or SecretStr("bench-pseudonym-key-0123456789"),
        })


    def database(self, naam: str, settings: Settings) -> Settings:
        """A fresh database beside the same stream (ingest reads the stream again)."""
        admin = self.servers.database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{naam}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{naam}"')
        return settings.model_copy(update={
            "database_url": self.servers.database_url.rsplit("/", 1)[0] + f"/{naam}"})


def _ingest_alleen(settings: Settings, regels: bool, durable: str, doel: int) -> tuple[float, float]:
    """Seconds and CPU seconds (ingest with its validation worker) for `ingest
    --until-caught-up` of the whole stream, rules on or off; a durable consumer of its own (the
    pipeline's has acked everything: it would hand over nothing)."""
    env = {**_env(settings), "JEUGDSTROOM_QUALITY_RULES": "1" if regels else "0",
           "JEUGDSTROOM_INGEST_DURABLE": durable}
    log = settings.state_dir / "bench" / "ingest-alleen.log"
    begin, cpu = time.perf_counter(), _cpu_kinderen()
    with log.open("ab") as uit:
        subprocess.run([sys.executable, "-m", "services.cli", "ingest", "--until-caught-up"],
                       env=env, stdout=uit, stderr=subprocess.STDOUT, check=True)
    seconden, cpu = time.perf_counter() - begin, _cpu_kinderen() - cpu
    store = bootstrap.event_store(settings.database_url or "")
    try:
        positie = store.positie(bootstrap.ingest_bron(settings))
    finally:
        store.close()
    if positie != doel:
        raise RuntimeError(f"ingest alone stopped at stream seq {positie} of {doel}; see "
                           "<state dir>/bench/ingest-alleen.log")
    return seconden, cpu


def _bevindingen(database_url: str) -> tuple[int, int]:
    """The findings a rules-on pass stored, and the messages they are in."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*), count(DISTINCT stream_seq) FROM ijw_bevinding").fetchone()
    return (row[0], row[1]) if row else (0, 0)


def _cpu_kinderen() -> float:
    """CPU seconds of this process's finished children and theirs (a pool reaps its workers)."""
    gebruik = resource.getrusage(resource.RUSAGE_CHILDREN)
    return gebruik.ru_utime + gebruik.ru_stime


def _env(settings: Settings) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDSTROOM_")}
    env.update({
        "JEUGDSTROOM_NATS_URL": settings.nats_url or "",
        "JEUGDSTROOM_DATABASE_URL": settings.database_url or "",
        "JEUGDSTROOM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value()
        if settings.pseudonym_key else "",
        "JEUGDSTROOM_GEMEENTEN_FILES": json.dumps([str(p) for p in settings.gemeenten_files]),
    })
    if settings.xsd_dir:
        env["JEUGDSTROOM_XSD_DIR"] = str(settings.xsd_dir)
    if settings.region_configs:
        env["JEUGDSTROOM_REGION_CONFIGS"] = json.dumps([str(p) for p in settings.region_configs])
    return env


def _piek_rss_mb(pid: int) -> float:
    """VmHWM, the peak resident set size so far, of the process and its children (ingest's
    validation workers): summed, so an upper bound of what they held at once."""
    try:
        kinderen = [int(k) for taak in Path(f"/proc/{pid}/task").iterdir()
                    for k in (taak / "children").read_text().split()]
        status = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:  # a child that has just stopped
        return 0.0
    hwm = next((int(r.split()[1]) / 1024 for r in status if r.startswith("VmHWM:")), 0.0)
    return hwm + sum(_piek_rss_mb(k) for k in kinderen)


def _proces(settings: Settings, *args: str) -> subprocess.Popen:
    log = settings.state_dir / "bench" / f"{args[0]}.log"
    with log.open("ab") as uit:
        return subprocess.Popen([sys.executable, "-m", "services.cli", *args], env=_env(settings),
                                stdout=uit, stderr=subprocess.STDOUT)


def _leeft(*processen: subprocess.Popen) -> None:
    """A pipeline process that stops during a measurement makes the bench fail, not hang."""
    for p in processen:
        if p.poll() is not None:
            command = p.args if isinstance(p.args, list) else [p.args]
            raise RuntimeError(f"{' '.join(map(str, command[3:]))} stopped with status "
                               f"{p.returncode}; see its log in <state dir>/bench/")


def _verkeer(state_dir: Path, events: int) -> tuple[list[Path], list[Path]]:
    """A country's traffic, 2021-2023: Zuid-Limburg, and as many other CBS jeugdzorgregio's at
    Zuid-Limburg's size as `events` needs, each with a region file like Zuid-Limburg's.
    Returns the traffic directories and those region files.

    A larger store is more regions, as it is in production, not more of one region: a
    question about Zuid-Limburg reads the same window whatever the store's size (a 1M run
    with five times Zuid-Limburg's yearly traffic measured that heavier region, money p95 1.1 s).
    Years start no earlier than 2021, when iJw 3.2 took effect: its CS100 wants every
    DeclaratiePeriode and ProductPeriode from 2021, so each declaration line of an earlier
    year is a data-quality finding (at 100k, 2020-2023, a quarter of the JW323 carried about
    thirty each, and the rules on/off passes measured storing findings, not the rules)."""
    jaren = min(MEESTE_JAREN, max(1, math.ceil(events / EVENTS_PER_JAAR)))
    nodig = max(1, math.ceil(events / (EVENTS_PER_JAAR * jaren)))
    andere = _andere_regios()
    keer = math.ceil(nodig / (len(andere) + 1))  # beyond every region: more of each
    nodig = math.ceil(nodig / keer)
    basis = zuid_limburg_profiel()
    basis = replace(basis, segmenten=[replace(s, instroom_per_jaar=s.instroom_per_jaar * keer)
                                      for s in basis.segmenten])
    map_ = state_dir / "bench" / f"traffic-{jaren}y-{keer}x"
    mappen, bestanden = [], []
    for i, (naam, gemeenten) in enumerate([("zuid-limburg", list(basis.gemeenten)),
                                           *andere[:nodig - 1]]):
        out = map_ / naam
        if i:
            bestanden.append(_regiobestand(map_ / f"{naam}.toml", naam, gemeenten))
        mappen.append(_simuleer_regio(out, replace(basis, gemeenten=gemeenten), i, jaren))
    return mappen, bestanden


def _simuleer_regio(out: Path, profiel: SimulatieProfiel, i: int, jaren: int) -> Path:
    """The `i`th region's traffic of the last `jaren` years to 2023 in `out`, simulated once
    (same seed, same files). A provider numbers its messages from 1 and the Nats-Msg-Id is
    sender, number and Dagtekening: the same providers in two regions would send ids JetStream
    already holds and drops (a 1M run lost messages so), so each region has providers of its own."""
    if i:
        profiel = replace(profiel, aanbieders=[f"98{i:02d}{a[4:]}" for a in profiel.aanbieders])
    if not (out.exists() and any(out.glob("*.xml"))):
        simuleer(profiel, range(2024 - jaren, 2024), 7 + i, out)
    return out


def _andere_regios() -> list[tuple[str, list[str]]]:
    """The CBS jeugdzorgregio's that share no gemeente with a shipped region, as (id, codes):
    the gemeenten that existed in 2021 already, as ingest refuses a code on a day before it."""
    register = GemeenteRegister.from_csv(meegeleverde_lijsten())
    bezet = {code for regio in laad_regios().values() for code in regio.gemeenten}
    per_regio: dict[str, list[str]] = {}
    for gemeente in register.actueel().values():
        if register.gemeente(gemeente.code, date(2021, 1, 1)) is not None:  # not merged since
            per_regio.setdefault(gemeente.jeugdzorgregio, []).append(gemeente.code)
    return [(regio_id(naam), sorted(codes))
            for naam, codes in sorted(per_regio.items()) if not bezet & set(codes)]


def _regiobestand(pad: Path, naam: str, gemeenten: list[str]) -> Path:
    """Zuid-Limburg's region file (segments, tariffs, parameters) for another region's
    gemeenten, under the region id `naam`."""
    tekst = (SHIPPED / "zuid-limburg.toml").read_text(encoding="utf-8")
    tekst = tekst.replace('id = "zuid-limburg"', f'id = "{naam}"', 1)
    tekst = tekst.replace('naam = "Zuid-Limburg"', f'naam = "bench {naam}"', 1)
    tekst = re.sub(r"(?m)^uitgesloten_gemeenten = .*\n", "", tekst)  # Zuid-Limburg's own
    blok = re.search(r"\[gemeenten\]\n(?:\"\d{4}\" = .*\n)+", tekst)
    assert blok is not None  # the shipped file lists its gemeenten
    tekst = tekst.replace(blok.group(0), "[gemeenten]\n" + "".join(
        f'"{code}" = "{code}"\n' for code in gemeenten), 1)
    pad.parent.mkdir(parents=True, exist_ok=True)
    pad.write_text(tekst, encoding="utf-8")
    return pad


def meet(settings: Settings, regio: Regio, events: int, meld: Callable[[str], None],
         baseline_events: int = BASELINE_EVENTS, *, regels_passes: bool = True) -> Meting:
    """One size: the pipeline end to end, rebuild, queries, and the three baselines;
    `regels_passes`: also ingest alone with the rules off and on (four more ingests)."""
    runtime = _BenchRuntime(settings.state_dir)
    processen: list[subprocess.Popen] = []
    try:
        settings = runtime.nieuw(f"bench_{events}", settings)
        meting = Meting()
        meld(f"simulating traffic for about {events:,} events")
        mappen, regiobestanden = _verkeer(settings.state_dir, events)
        settings = settings.model_copy(update={
            "region_configs": [*settings.region_configs, *regiobestanden]})
        bestanden = list(ijw_bestanden(mappen))
        meld(f"{len(mappen)} region(s), {len(bestanden):,} messages")

        meld("ingest + projection, end to end (publish until the projection has caught up)")
        ingest = _proces(settings, "ingest")
        projector_proces = _proces(settings, "project")
        processen += [ingest, projector_proces]
        begin = time.perf_counter()
        asyncio.run(publiceer(settings.nats_url or "", settings, bestanden))
        projector = bootstrap.projector(settings, settings.database_url or "")
        store = projector.store
        view = bootstrap.flow_view(store)
        leeskant = Leeskant(view)
        doel = asyncio.run(_last_seq(settings))
        bron = bootstrap.ingest_bron(settings)
        while store.positie(bron) < doel or projector.positie() < projector.laatste():
            _leeft(ingest, projector_proces)
            time.sleep(0.2)
        meting.ingest_seconds = time.perf_counter() - begin
        meting.peak_rss_mb = {"ingest": _piek_rss_mb(ingest.pid),
                              "projector": _piek_rss_mb(projector_proces.pid)}
        for p in (ingest, projector_proces):
            p.terminate()
            p.wait(timeout=30)
        meting.events = projector.laatste()
        meting.berichten = doel
        meting.ijw_records = _records_in_store(store)
        meting.ingest_records_per_s = meting.ijw_records / meting.ingest_seconds

        meld("projection rebuild from the event store")
        projector.herbouw()
        begin = time.perf_counter()
        rebuild = _proces(settings, "project", "--until-caught-up")
        rebuild.wait()
        meting.rebuild_seconds = time.perf_counter() - begin
        meting.rebuild_records_per_s = meting.ijw_records / meting.rebuild_seconds

        meld("counts queries")
        meting.query_historic_ms, meting.query_live_ms, meting.query_live_cold_ms = _queries(
            leeskant, view, regio, partial(ververs_live, projector.projectie), meld)
        meld("money queries")
        geldvragen = bootstrap.geldvragen(projector)
        (meting.money_query_historic_ms, meting.money_query_live_ms,
         meting.money_query_live_cold_ms) = _geldqueries(
            geldvragen, view, regio, partial(ververs_live_geld, geldvragen.view, [regio]), meld)

        meld("baseline (a): raw COPY")
        meting.copy_rows_per_s = _copy(settings.database_url or "", meting.events)
        meld("baseline (c): the counts in plain SQL from a flat allocations table")
        meting.analyst_sql_ms, meting.analyst_sql_agrees = _analist(leeskant, view, regio)
        meld("baseline (c): gedeclareerd per segment in plain SQL")
        meting.money_sql_ms, meting.money_sql_agrees = _geld_analist(geldvragen, view, regio)
        # before baseline (b), which deletes the stream
        if regels_passes:
            _regels_passes(meting, runtime, settings, events, doel, meld)
        meld(f"baseline (b): the straightforward path on {baseline_events:,} events")
        straight = runtime.nieuw(f"bench_straight_{events}", settings)
        (meting.straightforward_save_events_per_s,
         meting.straightforward_projection_events_per_s) = _rechttoe(straight, bestanden,
                                                                      baseline_events)
        store.close()
        partities = meet_partities(runtime, settings, min(events, PARTITIES_MAX_EVENTS), meld)
        meting = replace(meting, **vars(partities))
        return meting
    finally:
        for p in processen:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)
        runtime.runtime.down()  # the bench's own servers never outlive it


# two regions of one size in two partitions: Zuid-Limburg, and Zuid-Limburg's traffic profile
# on the gemeenten of Een 10 voor de Jeugd
PARTITIES = {"zuid": ["zuid-limburg"], "brabant": ["een-10-voor-de-jeugd"]}
# the phase of a full run compares one partition with two, at most this large, so that the
# default sizes stay short (`bench --partitions-only` takes the sizes as asked)
PARTITIES_MAX_EVENTS = 50_000


@dataclass
class Partitiemeting:
    """One partition against two: iJw records, records/s and CPU us a message of each."""

    partitions_ijw_records: int
    partitions_1_records_per_s: float
    partitions_2_records_per_s: float
    partitions_1_cpu_us_per_message: float
    partitions_2_cpu_us_per_message: float


def meet_partities(runtime: _BenchRuntime, settings: Settings, events: int,
                   meld: Callable[[str], None]) -> Partitiemeting:
    """iJw records, and records/s of `ingest --until-caught-up` (process start and, for the
    partitions, NATS copying into their streams included) of one stream with two regions'
    traffic (about `events` in all, interleaved): one partition with both, then two
    partitions at once, a process each, each variant into a fresh database. Beside the rates
    the CPU of the ingest processes and their validation workers per message (PostgreSQL's and
    NATS' not included): on a shared machine the steadier figure."""
    regios = laad_regios()
    meld(f"partitions: simulating two regions' traffic, about {events // 2:,} events each")
    jaren = min(MEESTE_JAREN, max(1, math.ceil(events / 2 / EVENTS_PER_JAAR)))
    halven = [list(ijw_bestanden([_simuleer_regio(
        settings.state_dir / "bench" / f"partities-{jaren}y" / naam,
        replace(zuid_limburg_profiel(), gemeenten=gemeenten), i, jaren)]))
        for i, naam in enumerate(("zuid-limburg", "een-10-voor-de-jeugd"))
        for gemeenten in [list(regios[naam].gemeenten)]]
    bestanden = [b for paar in zip_longest(*halven) for b in paar if b is not None]
    settings = runtime.nieuw(f"bench_partities_{events}", settings)
    gedeeld = {naam: settings.model_copy(update={"partitions": PARTITIES, "partition": naam})
               for naam in PARTITIES}
    for s in gedeeld.values():
        asyncio.run(verwijder_stream(runtime.servers.nats_url, s.ingest_stream))
    asyncio.run(publiceer(settings.nats_url or "", settings, bestanden))
    doel = asyncio.run(_last_seq(settings))

    meld("partitions: ingest alone, one partition with both regions")
    een = runtime.database(f"bench_partities_1_{events}", settings)
    seconden_een, cpu_een = _ingest_alleen(een, True, "ingest", doel)
    records = _records(een)

    meld("partitions: ingest alone, two partitions at once (a process each)")
    twee = runtime.database(f"bench_partities_2_{events}", settings)
    begin, cpu = time.perf_counter(), _cpu_kinderen()
    processen = []
    for s in gedeeld.values():
        s = s.model_copy(update={"database_url": twee.database_url})
        env = {**_env(s), "JEUGDSTROOM_PARTITIONS": json.dumps(PARTITIES),
               "JEUGDSTROOM_PARTITION": s.partition or ""}
        log = settings.state_dir / "bench" / f"ingest-{s.partition}.log"
        with log.open("ab") as uit:
            processen.append(subprocess.Popen(
                [sys.executable, "-m", "services.cli", "ingest", "--until-caught-up"],
                env=env, stdout=uit, stderr=subprocess.STDOUT))
    for p in processen:
        if p.wait() != 0:
            raise RuntimeError("a partition's ingest failed; see <state dir>/bench/ingest-<partition>.log")
    seconden_twee, cpu_twee = time.perf_counter() - begin, _cpu_kinderen() - cpu
    records_twee = sum(_records(s.model_copy(update={"database_url": twee.database_url}))
                       for s in gedeeld.values())
    if records_twee != records:
        raise RuntimeError(f"two partitions stored {records_twee:,} iJw records, one stored {records:,}")
    meld(f"partitions: {records:,} iJw records; one partition {records / seconden_een:,.0f} "
         f"records/s, two partitions {records / seconden_twee:,.0f} records/s; CPU of the ingest "
         f"processes with their workers per message {cpu_een / doel * 1e6:,.0f} / "
         f"{cpu_twee / doel * 1e6:,.0f} us (PostgreSQL and NATS not included), "
         f"{os.cpu_count()} cores")
    return Partitiemeting(records, records / seconden_een, records / seconden_twee,
                          cpu_een / doel * 1e6, cpu_twee / doel * 1e6)


def meet_alleen_partities(settings: Settings, events: int,
                          meld: Callable[[str], None]) -> Partitiemeting:
    """`bench --partitions-only`: `meet_partities` on the bench's own servers."""
    runtime = _BenchRuntime(settings.state_dir)
    try:
        return meet_partities(runtime, settings, events, meld)
    finally:
        runtime.runtime.down()


def _records(settings: Settings) -> int:
    """The iJw records in the event store of the settings' partition."""
    store = bootstrap.event_store(settings.database_url or "", settings.database_schema)
    try:
        return _records_in_store(store)
    finally:
        store.close()


async def _last_seq(settings: Settings) -> int:
    nc = await nats.connect(nats_servers(settings.nats_url or ""))
    try:
        return int((await nc.jetstream().stream_info(settings.stream)).state.last_seq)
    finally:
        await nc.close()


def _records_in_store(store: Gebeurtenissen) -> int:
    """iJw records as stored: versions, starts, stops and declaration lines."""
    with store.ingest_recorder.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT topic, count(*) AS n, sum(CASE WHEN topic LIKE '%%Ingediend' "
                     "THEN json_array_length((convert_from(state, 'UTF8')::json)->'regels') "
                     "ELSE 0 END) AS regels FROM jeugdstroom_events GROUP BY topic")
        rows = curs.fetchall()
    return sum(int(r["n"]) for r in rows if r["topic"].rsplit(".", 1)[1] in
               ("VersieOntvangen", "ZorgGestart", "ZorgGestopt")) + sum(
        int(r["regels"] or 0) for r in rows)


def _percentielen(ms: list[float]) -> dict[str, float]:
    q = statistics.quantiles(ms, n=100)
    return {"p50": round(q[49], 1), "p95": round(q[94], 1), "p99": round(q[98], 1)}


def _queries(leeskant: Leeskant, view: PostgresFlowView, regio: Regio,
             ververs: Callable[[], object], meld: Callable[[str], None],
             n: int = 60) -> tuple[dict, dict, dict]:
    """Historic at random peildatum and K; live asked repeatedly (the dashboard's case) and
    cold, right after the projection moved (answer from memory forgotten). The live question
    is asked once first and then answered by `ververs` (`runner.ververs_live`), as the running
    projector answers every asked live question when it has caught up: the cold reader then
    finds the answer at the view's position. What that costs the projector is said apart."""
    rng = random.Random(1)  # noqa: S311 - reproducible query dates
    eerste, laatste = _bereik(view, "start", "flow_periode")

    def live() -> Telling:
        return leeskant.telling(regio, date(laatste.year, 1, 1), laatste, None)

    live()
    begin = time.perf_counter()
    ververs()
    meld(f"the projector answered the live question in {(time.perf_counter() - begin) * 1000:.0f} ms")
    historisch, opnieuw, koud = [], [], []
    for _ in range(n):
        pd = eerste + timedelta(days=rng.randint(180, max(181, (laatste - eerste).days)))
        k = pd + timedelta(days=rng.randint(0, 400))
        historisch.append(_ms(partial(leeskant.telling, regio, date(pd.year, 1, 1), pd, k)))
        leeskant.vergeet_tellingen()
        koud.append(_ms(live))
        opnieuw.append(_ms(live))
    return _percentielen(historisch), _percentielen(opnieuw), _percentielen(koud)


def _ms(vraag: Callable[[], object]) -> float:
    """How long one question takes, in milliseconds."""
    begin = time.perf_counter()
    vraag()
    return (time.perf_counter() - begin) * 1000


def _bereik(view: PostgresFlowView, kolom: str, tabel: str) -> tuple[date, date]:
    """The first and last date of a column in the store: the range the questions draw from."""
    with view.datastore.transaction(commit=False) as curs:
        curs.execute(f"SELECT min({kolom}) AS a, max({kolom}) AS b FROM {tabel}")  # noqa: S608
        row = curs.fetchone()
    assert row is not None  # an aggregate query returns one row
    return row["a"] or date(2023, 1, 1), row["b"] or date(2023, 12, 31)


def _geldqueries(geldvragen: Geldvragen, view: PostgresFlowView, regio: Regio,
                 ververs: Callable[[], object], meld: Callable[[str], None],
                 n: int = 60) -> tuple[dict, dict, dict]:
    """The money figures per segment like the counts: historic at random peildatum and K,
    live asked again (from memory until the money view moves) and cold. As for the counts,
    the live question is asked once and then answered by `ververs`
    (`runner.ververs_live_geld`), as the running projector does when it has caught up."""
    rng = random.Random(2)  # noqa: S311 - reproducible query dates
    eerste, laatste = _bereik(view, "begindatum", "geld_regel")

    def live() -> Kostentelling:
        return geldvragen.kostentelling(regio, date(laatste.year, 1, 1), laatste, None)

    live()
    begin = time.perf_counter()
    ververs()
    meld("the projector answered the live money question in "
         f"{(time.perf_counter() - begin) * 1000:.0f} ms")
    historisch, opnieuw, koud = [], [], []
    for _ in range(n):
        pd = eerste + timedelta(days=rng.randint(180, max(181, (laatste - eerste).days)))
        k = pd + timedelta(days=rng.randint(0, 400))
        historisch.append(_ms(partial(geldvragen.kostentelling, regio, date(pd.year, 1, 1), pd, k)))
        geldvragen.vergeet_tellingen()
        koud.append(_ms(live))
        opnieuw.append(_ms(live))
    return _percentielen(historisch), _percentielen(opnieuw), _percentielen(koud)


def _copy(database_url: str, rijen: int) -> float:
    """PostgreSQL's own speed for rows shaped like stored events: the physical reference."""
    state = os.urandom(300)
    with psycopg.connect(database_url) as conn:
        conn.execute("CREATE TEMP TABLE copy_ref (originator_id uuid, originator_version bigint, "
                     "topic text, state bytea)")
        begin = time.perf_counter()
        with conn.cursor().copy("COPY copy_ref FROM STDIN") as copy:
            for i in range(rijen):
                copy.write_row((uuid.UUID(int=i), 1, "events.domain:Toewijzing.VersieOntvangen",
                                state))
        conn.commit()
        return rijen / (time.perf_counter() - begin)


_ANALIST_SQL = """
WITH geldend AS (
  SELECT DISTINCT ON (gemeentecode, toewijzingnummer) *
  FROM flow_versie WHERE dagtekening <= %(k)s AND gemeentecode = ANY(%(gemeenten)s)
  ORDER BY gemeentecode, toewijzingnummer, toegewezen_op DESC, dagtekening DESC,
           length(identificatie) DESC, identificatie DESC
), alloc AS (
  SELECT g.*, m.segment FROM geldend g
  JOIN analist_segment m ON m.gemeentecode = g.gemeentecode  -- a product without code (a budget)
   AND m.categorie IS NOT DISTINCT FROM g.categorie AND m.code IS NOT DISTINCT FROM g.code
  WHERE NOT (coalesce(reden_wijziging = '13' AND einddatum = ingangsdatum, false))
), met_voorganger AS (
  SELECT *, max(coalesce(einddatum, 'infinity'::date)) OVER (
      PARTITION BY client, segment ORDER BY ingangsdatum, gemeentecode, toewijzingnummer::bigint
      ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS p_eind
  FROM alloc
)
SELECT segment,
  count(*) FILTER (WHERE p_eind IS NULL) AS instroom,
  count(*) FILTER (WHERE p_eind = 'infinity' OR ingangsdatum - p_eind < -%(n)s) AS stapeling,
  count(*) FILTER (WHERE p_eind <> 'infinity' AND ingangsdatum - p_eind BETWEEN -%(n)s AND %(n)s)
    AS doorstroom,
  count(*) FILTER (WHERE p_eind <> 'infinity' AND ingangsdatum - p_eind > %(n)s
                   AND ingangsdatum - p_eind <= %(m)s) AS recidive,
  count(*) FILTER (WHERE p_eind <> 'infinity' AND ingangsdatum - p_eind > %(m)s)
    AS hernieuwde_instroom
FROM met_voorganger WHERE ingangsdatum BETWEEN %(van)s AND %(pd)s GROUP BY segment
"""


def _analist(leeskant: Leeskant, view: PostgresFlowView, regio: Regio) -> tuple[float, bool]:
    """Inflow counts as an analyst would write them in SQL, timed and checked against ours."""
    with view.datastore.transaction(commit=True) as curs:
        curs.execute("SELECT DISTINCT gemeentecode, categorie, code, min(ingangsdatum) AS d "
                     "FROM flow_versie GROUP BY 1, 2, 3")
        rijen = curs.fetchall()
        curs.execute("DROP TABLE IF EXISTS analist_segment")
        curs.execute("CREATE TABLE analist_segment (gemeentecode text, categorie text, code text, "
                     "segment text)")
        for r in rijen:
            segment = regio.segment_voor(r["gemeentecode"], r["categorie"], r["code"], r["d"])
            if segment and r["gemeentecode"] not in segment.uitgesloten_gemeenten:
                curs.execute("INSERT INTO analist_segment VALUES (%s, %s, %s, %s)",
                             (r["gemeentecode"], r["categorie"], r["code"], segment.id))
        curs.execute("SELECT max(ingangsdatum) AS d FROM flow_versie")
        row = curs.fetchone()
        assert row is not None  # an aggregate query returns one row
        laatste = row["d"] or date(2023, 12, 31)
    pd = date(laatste.year - 1, 12, 31)
    k = pd + timedelta(days=90)
    begin = time.perf_counter()
    with view.datastore.transaction(commit=False) as curs:
        curs.execute(_ANALIST_SQL, {"k": k, "n": regio.n, "m": regio.m,
                                    "gemeenten": list(regio.gemeenten),
                                    "van": date(pd.year, 1, 1), "pd": pd})
        sql = {r["segment"]: r for r in curs.fetchall()}
    ms = (time.perf_counter() - begin) * 1000
    ons = leeskant.telling(regio, date(pd.year, 1, 1), pd, k)
    velden = ("instroom", "stapeling", "doorstroom", "recidive", "hernieuwde_instroom")
    agrees = all(
        (sql[s.segment][v] if s.segment in sql else 0) == getattr(s, v)
        for s in ons.segmenten if s.flow for v in velden)
    return ms, agrees


_GELD_SQL = """
WITH geldend AS (
  SELECT DISTINCT ON (gemeentecode, toewijzingnummer) *
  FROM flow_versie WHERE dagtekening <= %(k)s AND gemeentecode = ANY(%(gemeenten)s)
  ORDER BY gemeentecode, toewijzingnummer, toegewezen_op DESC, dagtekening DESC,
           length(identificatie) DESC, identificatie DESC
), alloc AS (
  SELECT g.gemeentecode, g.toewijzingnummer::bigint AS nummer, m.segment FROM geldend g
  JOIN analist_segment m ON m.gemeentecode = g.gemeentecode
   AND m.categorie IS NOT DISTINCT FROM g.categorie AND m.code IS NOT DISTINCT FROM g.code
  WHERE NOT (coalesce(reden_wijziging = '13' AND einddatum = ingangsdatum, false))
)
SELECT a.segment, sum(r.bedrag) AS gedeclareerd
FROM geld_regel r JOIN alloc a ON a.gemeentecode = r.gemeentecode AND a.nummer = r.nummer
WHERE r.dagtekening <= %(k)s AND r.begindatum BETWEEN %(van)s AND %(pd)s
GROUP BY a.segment
"""


def _geld_analist(geldvragen: Geldvragen, view: PostgresFlowView, regio: Regio) -> tuple[float, bool]:
    """Gedeclareerd per segment as an analyst would write it in SQL (the counting version of
    each toewijzing at K, its segment from the flat mapping `_analist` made, the lines known
    at K in the window), timed and checked against the money projection's answer."""
    with view.datastore.transaction(commit=False) as curs:
        curs.execute("SELECT max(begindatum) AS d FROM geld_regel")
        row = curs.fetchone()
    assert row is not None  # an aggregate query returns one row
    laatste = row["d"] or date(2023, 12, 31)
    pd = date(laatste.year - 1, 12, 31)
    k = pd + timedelta(days=90)
    begin = time.perf_counter()
    with view.datastore.transaction(commit=False) as curs:
        curs.execute(_GELD_SQL, {"k": k, "van": date(pd.year, 1, 1), "pd": pd,
                                 "gemeenten": list(regio.gemeenten)})
        sql = {r["segment"]: int(r["gedeclareerd"]) for r in curs.fetchall()}
    ms = (time.perf_counter() - begin) * 1000
    ons = geldvragen.kostentelling(regio, date(pd.year, 1, 1), pd, k)
    agrees = all(sql.get(s.segment, 0) == s.cijfers.gedeclareerd for s in ons.segmenten)
    return ms, agrees


def _regels_passes(meting: Meting, runtime: _BenchRuntime, settings: Settings, events: int,
                   doel: int, meld: Callable[[str], None]) -> None:
    """Ingest alone on the same stream with the iJw rules off, on, on, off (issue 16)."""
    meld("ingest alone on the same stream, iJw rules off, on, on, off (the best of each)")
    tijden: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
    for i, regels in enumerate((False, True, True, False)):
        naam = f"bench_regels_{'aan' if regels else 'uit'}_{i}_{events}"
        instellingen = runtime.database(naam, settings)
        tijden[regels].append(_ingest_alleen(instellingen, regels, naam.replace("_", "-"), doel))
        if regels:
            database_aan = instellingen.database_url or ""
    meting.ingest_rules_off_records_per_s = meting.ijw_records / min(t for t, _ in tijden[False])
    meting.ingest_rules_on_records_per_s = meting.ijw_records / min(t for t, _ in tijden[True])
    meting.ingest_rules_off_cpu_us_per_message = min(c for _, c in tijden[False]) / doel * 1e6
    meting.ingest_rules_on_cpu_us_per_message = min(c for _, c in tijden[True]) / doel * 1e6
    (meting.ingest_rules_findings,
     meting.ingest_rules_messages_with_findings) = _bevindingen(database_aan)
    meld(f"ingest alone, CPU per message (ingest + validation worker): rules off "
         f"{meting.ingest_rules_off_cpu_us_per_message:,.0f} us, on "
         f"{meting.ingest_rules_on_cpu_us_per_message:,.0f} us, off/on "
         f"{meting.ingest_rules_off_cpu_us_per_message / meting.ingest_rules_on_cpu_us_per_message:.3f}")


class _Repository:
    """Aggregates one at a time through the library's repository: the straightforward way."""

    def __init__(self, store: Gebeurtenissen) -> None:
        self.store = store
        self.aggregates: dict[uuid.UUID, Any] = {}

    def _get(self, key: uuid.UUID, nieuw: Callable[[], Any]) -> Any:
        if key not in self.aggregates:
            try:
                self.aggregates[key] = self.store.repository.get(key)
            except AggregateNotFoundError:
                self.aggregates[key] = nieuw()
        return self.aggregates[key]

    def toewijzing(self, gemeentecode: str, nummer: str) -> Toewijzing:
        return self._get(toewijzing_id(gemeentecode, nummer),
                         lambda: Toewijzing.registreer(gemeentecode, nummer))

    def declaratie(self, gemeentecode: str, aanbieder: str, identificatie: str,
                   dagtekening: Any) -> Declaratie:
        return self._get(declaratie_id(gemeentecode, aanbieder, identificatie, dagtekening),
                         lambda: Declaratie.open(gemeentecode, aanbieder, identificatie, dagtekening))


class _StoreVoorRunner(Gebeurtenissen):
    """The event store as the library's ProjectionRunner constructs it (from an env)."""

    def __init__(self, env: dict[str, str]) -> None:
        Application.__init__(self, env=env)


class _Teller(PostgresTrackingRecorder):
    def tel(self, topic: str, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("INSERT INTO rechttoe_telling VALUES (%s)", (topic,))
            self._insert_tracking(curs, tracking)


class _PerEvent(Projection[_Teller]):
    name = "rechttoe"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.tel(type(domain_event).__qualname__, tracking)


def _rechttoe(settings: Settings, bestanden: list[Path], sample: int) -> tuple[float, float]:
    """The straightforward path: one save() per message, then one transaction per event."""
    env = library_env(settings.database_url or "")
    store = _StoreVoorRunner(env)
    register = GemeenteRegister.from_csv(settings.gemeenten_files)
    schemas = XsdSchemas(settings.xsd_dir) if settings.xsd_dir else None
    pseudoniem = Pseudonimiseerder(settings.pseudonym_key.get_secret_value().encode()
                                   if settings.pseudonym_key else b"0" * 32)
    events = 0
    begin = time.perf_counter()
    for bestand in bestanden:
        try:
            bericht = lees_bericht(bestand.read_bytes(), register, schemas)
        except Afgewezen:
            continue
        bron = _Repository(store)
        verwerk(bericht, pseudoniem, bron)
        recordings = store.save(*bron.aggregates.values())
        events += len(recordings)
        if events >= sample:
            break
    save_per_s = events / (time.perf_counter() - begin)
    laatste = store.recorder.max_notification_id() or 0
    with psycopg.connect(settings.database_url or "") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS rechttoe_telling (topic text)")
    begin = time.perf_counter()
    with ProjectionRunner(application_class=_StoreVoorRunner, projection_class=_PerEvent,
                          view_class=_Teller, env=env) as runner:
        runner.wait(laatste, timeout=600)
    projection_per_s = laatste / (time.perf_counter() - begin)
    store.close()
    return save_per_s, projection_per_s

