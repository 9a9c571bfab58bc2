"""`jeugdstroom chaos`: simulated traffic through the whole pipeline while its parts are killed.

On embedded servers of its own (under `<state dir>/chaos`, loopback only, never the
configured servers), for a bounded number of minutes: publish a simulated year of a region in
portions, and meanwhile, at random moments, SIGKILL ingest or the projector (restarted after
a moment), stop PostgreSQL with `-m immediate` or SIGKILL nats-server (both started again on
the same ports). Then let everything catch up and compare with a clean run: the same stream
ingested once, without faults, into a database of its own, and projected once.

- lost: events of the clean run that the chaos run does not have;
- doubled: events of the chaos run that the clean run does not have (a message counted twice
  shows up here as an extra version of an aggregate);
- figures equal: the chaos run's projection (built in pieces between kills) answers every
  question (each year's peildatum 31-12, as known then + 90 days and now) as the clean one.

Events are compared by aggregate, topic and content, without the library's timestamp (the
moment of writing differs between two runs, the content may not).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import psycopg
from pydantic import SecretStr

from projections.regio import Regio
from projections.vragen import Leeskant
from services import bootstrap
from services.nats import NatsNietBereikt, ijw_bestanden, publiceer, stream_identiteit, verwijder_stream
from services.runtime import EmbeddedRuntime, Endpoints
from services.settings import Settings

FOUTEN = ("ingest", "projector", "postgres", "nats")
JAAR = 2023  # the simulated year: enough traffic for every figure, ~17,000 files


@dataclass
class ChaosRapport:
    minuten: float
    fouten: Counter[str] = field(default_factory=Counter)
    bestanden: int = 0
    niet_gepubliceerd: int = 0  # the simulator's deliberately broken files, with their reason
    gepubliceerd: int = 0  # messages in the stream
    verloren: int = 0
    dubbel: int = 0
    cijfers_gelijk: bool = False
    vragen: int = 0
    zelf_gestopt: Counter[str] = field(default_factory=Counter)  # exits nobody asked for

    @property
    def goed(self) -> bool:
        return self.verloren == 0 and self.dubbel == 0 and self.cijfers_gelijk

    def regels(self) -> list[str]:
        fouten = ", ".join(f"{self.fouten[f]} {f}" for f in FOUTEN)
        return [
            f"faults injected: {sum(self.fouten.values())} ({fouten}) in {self.minuten:g} min",
            f"files: {self.bestanden} = messages published {self.gepubliceerd} + duplicate "
            f"(dropped by JetStream) {self.bestanden - self.gepubliceerd - self.niet_gepubliceerd}"
            f" + not published {self.niet_gepubliceerd} (the simulator's broken files)",
            f"lost: {self.verloren}",
            f"doubled: {self.dubbel}",
            f"figures equal: {'yes' if self.cijfers_gelijk else 'NO'} ({self.vragen} questions)",
            *([f"processes that stopped on their own: {dict(self.zelf_gestopt)}"]
              if self.zelf_gestopt else []),
        ]


class _Proces:
    """One jeugdstroom process of the run, restarted after every kill."""

    def __init__(self, naam: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.naam, self.args, self.env, self.log = naam, args, env, log
        self.proces: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as uit:
            self.proces = subprocess.Popen([sys.executable, "-m", "services.cli", *self.args],
                                           env=self.env, stdout=uit, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proces is not None and self.proces.poll() is None:
            self.proces.send_signal(signal.SIGKILL)
            self.proces.wait()

    def stop(self) -> None:
        if self.proces is not None and self.proces.poll() is None:
            self.proces.send_signal(signal.SIGTERM)
            try:
                self.proces.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()

    def gestopt(self) -> bool:
        """True (and restarted) when it exited without being killed."""
        if self.proces is not None and self.proces.poll() is not None:
            self.start()
            return True
        return False


def _env(settings: Settings, servers: Endpoints) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("JEUGDSTROOM_")}
    env.update({
        "JEUGDSTROOM_NATS_URL": servers.nats_url,
        "JEUGDSTROOM_DATABASE_URL": servers.database_url,
        "JEUGDSTROOM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value()
        if settings.pseudonym_key else "",
        "JEUGDSTROOM_GEMEENTEN_FILES": json.dumps([str(p) for p in settings.gemeenten_files]),
        "JEUGDSTROOM_XSD_DIR": str(settings.xsd_dir) if settings.xsd_dir else "",
        "JEUGDSTROOM_STATE_DIR": str(settings.state_dir / "chaos"),
        # faults last seconds; a process that gives up would only count as stopped on its own
        "JEUGDSTROOM_OUTAGE_LIMIT_SECONDS": "300",
        "JEUGDSTROOM_ACK_WAIT_SECONDS": "10",
    })
    if not settings.xsd_dir:
        env.pop("JEUGDSTROOM_XSD_DIR")
    return env


def _database(servers: Endpoints, naam: str) -> str:
    admin = servers.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{naam}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{naam}"')
    return servers.database_url.rsplit("/", 1)[0] + f"/{naam}"


def _verkeer(regio: Regio, state_dir: Path, seed: int) -> list[Path]:
    from services.dev.simulator import simulatie_profiel, simuleer

    out = state_dir / "chaos" / f"traffic-{regio.id}-{JAAR}-{seed}"
    if not (out.exists() and any(out.glob("*.xml"))):
        simuleer(simulatie_profiel(regio), range(JAAR, JAAR + 1), seed, out)
    return list(ijw_bestanden([out]))


def _gebeurtenissen(database_url: str) -> Counter[tuple[Any, str, str]]:
    """Every stored event as (aggregate, topic, content without the library's timestamp)."""
    uit: Counter[tuple[Any, str, str]] = Counter()
    with psycopg.connect(database_url) as conn:
        for originator, topic, state in conn.execute(
                "SELECT originator_id, topic, state FROM jeugdstroom_events"):
            inhoud = json.loads(bytes(state))
            inhoud.pop("timestamp", None)
            uit[(originator, topic, json.dumps(inhoud, sort_keys=True))] += 1
    return uit


def _vragen(regio: Regio) -> list[tuple[date, date, date | None]]:
    pd = date(JAAR, 12, 31)
    return [(date(JAAR, 1, 1), pd, pd + timedelta(days=90)), (date(JAAR, 1, 1), pd, None),
            (date(JAAR, 7, 1), date(JAAR, 9, 30), date(JAAR, 10, 31))]


def _cijfers(settings: Settings, database_url: str, regio: Regio) -> list[dict[str, Any]]:
    projector = bootstrap.projector(settings, database_url)
    try:
        projector.volg(tot_bij=True)
        leeskant = Leeskant(projector.projectie.view)
        return [dataclasses.asdict(leeskant.telling(regio, van, pd, k)) for van, pd, k in _vragen(regio)]
    finally:
        projector.store.close()


def _positie(database_url: str, bron: str) -> int:
    try:
        with psycopg.connect(database_url, connect_timeout=3) as conn:
            row = conn.execute("SELECT notification_id FROM jeugdstroom_tracking "
                               "WHERE application_name = %s", (bron,)).fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error:
        return -1


def _laatste_seq(settings: Settings, servers: Endpoints) -> int:
    async def vraag() -> int:
        import nats

        nc = await nats.connect(servers.nats_url, connect_timeout=2, max_reconnect_attempts=1)
        try:
            return (await stream_identiteit(nc.jetstream(), settings.stream))[1]
        finally:
            await nc.close()

    try:
        return asyncio.run(vraag())
    except Exception:
        return -1


def chaos(settings: Settings, regio: Regio, minuten: float, *, seed: int = 1,
          meld: Callable[[str], None] = print) -> ChaosRapport:
    """Run the chaos campaign for `minuten` minutes and compare with a clean run."""
    rng = random.Random(seed)  # noqa: S311 - when to fault, not security
    rapport = ChaosRapport(minuten=minuten)
    runtime = EmbeddedRuntime(settings.state_dir / "chaos" / "servers")
    servers = runtime.up()
    settings = settings.model_copy(update={
        "nats_url": servers.nats_url, "state_dir": settings.state_dir,
        "pseudonym_key": settings.pseudonym_key or SecretStr("chaos-pseudonym-key-0123456789")})
    meld(f"servers of the chaos run: {servers.nats_url}, PostgreSQL on {servers.database_url}")
    bestanden = _verkeer(regio, settings.state_dir, seed)
    rapport.bestanden = len(bestanden)
    chaos_db = _database(servers, "chaos")
    asyncio.run(verwijder_stream(servers.nats_url, settings.stream))
    chaos_servers = Endpoints(servers.nats_url, chaos_db)
    env = _env(settings, chaos_servers)
    logs = settings.state_dir / "chaos"
    processen = {
        "ingest": _Proces("ingest", ["ingest"], env, logs / "ingest.log"),
        "projector": _Proces("projector", ["project"], env, logs / "projector.log"),
    }
    for p in processen.values():
        p.start()

    # publish in portions spread over the run, in a thread: faults happen in between
    portie = max(1, len(bestanden) // max(1, int(minuten * 60 / 2)))
    gepubliceerd = {"volgende": 0, "niet": 0}
    klaar_met_publiceren = threading.Event()

    def publiceer_portie(deel: list[Path]) -> bool:
        try:
            uitkomst = asyncio.run(publiceer(servers.nats_url, settings, deel, pogingen=4))
        except NatsNietBereikt:
            return False
        # files NATS did not confirm are published again with the next portion
        opnieuw = [p for p, reden in uitkomst.fouten if reden.startswith("NATS")]
        gepubliceerd["niet"] += len(uitkomst.fouten) - len(opnieuw)
        return not opnieuw

    def publiceren(eind: float) -> None:
        while gepubliceerd["volgende"] < len(bestanden):
            begin = gepubliceerd["volgende"]
            deel = bestanden[begin:begin + portie]
            if publiceer_portie(deel):
                gepubliceerd["volgende"] += len(deel)
            if time.monotonic() < eind:
                time.sleep(max(0.0, min(2.0, eind - time.monotonic())))
        klaar_met_publiceren.set()

    eind = time.monotonic() + minuten * 60
    draad = threading.Thread(target=publiceren, args=(eind,), daemon=True)
    draad.start()
    try:
        while time.monotonic() < eind:
            time.sleep(min(rng.uniform(2.0, 8.0), max(0.0, eind - time.monotonic())))
            if time.monotonic() >= eind:
                break
            fout = rng.choice(FOUTEN)
            rapport.fouten[fout] += 1
            meld(f"fault: {fout}")
            if fout in processen:
                processen[fout].kill()
                time.sleep(rng.uniform(0.2, 2.0))
                processen[fout].start()
            elif fout == "postgres":
                runtime._pg_ctl(["-m", "immediate", "-w", "stop"])
                time.sleep(rng.uniform(0.5, 3.0))
                runtime.up()
            else:
                nats_pid = runtime._load_state().nats_pid
                if nats_pid:
                    os.kill(nats_pid, signal.SIGKILL)
                    runtime._wait_gone(nats_pid)
                time.sleep(rng.uniform(0.5, 3.0))
                runtime.up()
            for naam, p in processen.items():
                if p.gestopt():
                    rapport.zelf_gestopt[naam] += 1

        meld("faults over: publishing the rest and waiting until everything has caught up")
        runtime.up()
        klaar_met_publiceren.wait(timeout=600)
        rapport.niet_gepubliceerd = gepubliceerd["niet"]
        bron = bootstrap.ingest_bron(settings)
        deadline = time.monotonic() + 600
        while True:
            laatste = _laatste_seq(settings, servers)
            if laatste > 0 and _positie(chaos_db, bron) >= laatste:
                break
            for naam, p in processen.items():
                if p.gestopt():
                    rapport.zelf_gestopt[naam] += 1
            if time.monotonic() > deadline:
                raise TimeoutError("ingest did not catch up within 10 minutes after the faults; "
                                   f"see {logs}/ingest.log")
            time.sleep(0.5)
        rapport.gepubliceerd = laatste
        time.sleep(2.0)  # the projector's last page
    finally:
        for p in processen.values():
            p.stop()

    meld("clean run: the same stream ingested once into a database of its own")
    schoon_db = _database(servers, "chaos_schoon")
    schoon = settings.model_copy(update={"database_url": schoon_db, "ingest_durable": "schoon",
                                         "nats_url": servers.nats_url})
    asyncio.run(bootstrap.ingest_until_caught_up(schoon, Endpoints(servers.nats_url, schoon_db),
                                                 timeout=1800))
    verwacht, gekregen = _gebeurtenissen(schoon_db), _gebeurtenissen(chaos_db)
    rapport.verloren = sum((verwacht - gekregen).values())
    rapport.dubbel = sum((gekregen - verwacht).values())
    meld("figures: the chaos run's projection against a clean projection")
    chaos_settings = settings.model_copy(update={"database_url": chaos_db})
    rapport.vragen = len(_vragen(regio))
    rapport.cijfers_gelijk = (_cijfers(chaos_settings, chaos_db, regio)
                              == _cijfers(schoon, schoon_db, regio))
    runtime.down()
    return rapport
