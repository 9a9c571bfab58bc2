"""Publishing with plain nats-py, running ingest until it has caught up, reading the store."""

from __future__ import annotations

import os
import random
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import nats
import psycopg

from services import bootstrap
from services.ingest.jetstream import NatsIngest
from services.nats import ensure_stream
from services.runtime import Endpoints
from services.settings import Settings
from tests.ijw_factory import Toewijzing, bsn, jw301


async def publish(settings: Settings, berichten: list[tuple[str, bytes, str | None]]) -> list[bool]:
    """Publish (subject, xml, Nats-Msg-Id) as a backoffice would; True where JetStream dropped it."""
    nc = await nats.connect(settings.nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings)
        dubbel = []
        for subject, data, msg_id in berichten:
            headers = {"Nats-Msg-Id": msg_id} if msg_id else None
            ack = await js.publish(subject, data, headers=headers)
            dubbel.append(bool(ack.duplicate))
        return dubbel
    finally:
        await nc.close()


async def last_seq(settings: Settings, stream: str | None = None) -> int:
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(stream or settings.stream)
        return int(info.state.last_seq)
    finally:
        await nc.close()


def servers_of(settings: Settings) -> Endpoints:
    assert settings.nats_url and settings.database_url
    return Endpoints(settings.nats_url, settings.database_url)


async def ingest_until_caught_up(settings: Settings, timeout: float = 60) -> NatsIngest:
    """Run the real ingest consumer in-process until its position is the stream's last seq."""
    return await bootstrap.ingest_until_caught_up(settings, servers_of(settings), timeout=timeout)


def verbind(settings: Settings) -> psycopg.Connection:
    """A connection to the test database, in the schema of the settings' partition if any."""
    schema = settings.database_schema
    assert settings.database_url
    if schema is None:
        return psycopg.connect(settings.database_url)
    return psycopg.connect(settings.database_url, options=f"-c search_path={schema}")


def event_topics(settings: Settings) -> Counter[str]:
    with verbind(settings) as conn:
        rows = conn.execute("SELECT topic FROM jeugdstroom_events").fetchall()
    return Counter(topic.split(":", 1)[1] for (topic,) in rows)


def tracking_position(settings: Settings) -> int:
    with verbind(settings) as conn:
        row = conn.execute(
            "SELECT notification_id FROM jeugdstroom_tracking WHERE application_name = %s",
            (f"nats:{settings.ingest_stream}",),
        ).fetchone()
    return int(row[0]) if row else 0


def whole_database_as_text(settings: Settings) -> str:
    """Every value of every user table, bytea decoded, for privacy checks."""
    parts: list[str] = []
    with psycopg.connect(settings.database_url) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
        for (table,) in tables:
            for row in conn.execute(f'SELECT * FROM "{table}"').fetchall():  # noqa: S608
                for value in row:
                    parts.append(
                        bytes(value).decode("utf-8", "replace")
                        if isinstance(value, bytes | memoryview) else str(value))
    return "\n".join(parts)


def kinderen(pid: int) -> list[int]:
    """The pids of a process's children (Linux /proc)."""
    gevonden = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                velden = (proc / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(velden[1]) == pid:
                gevonden.append(int(proc.name))
    return gevonden


def leeft(pid: int) -> bool:
    """Whether a process still runs."""
    try:
        toestand = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return toestand != "Z"  # a zombie has ended; only its parent's bookkeeping is left


def jw301_berichten(aantal: int, seed: int = 14) -> list[tuple[str, bytes, str]]:
    """JW301s of Maastricht, one new toewijzing each."""
    rng = random.Random(seed)
    berichten = []
    for i in range(aantal):
        start = date(2024, 3, 1) + timedelta(days=i % 600)  # Dagtekeningen in the past
        toewijzing = Toewijzing(str(700000 + i), "45", "45A12", start, start + timedelta(days=90),
                                start - timedelta(days=3))
        data = jw301(gemeente="0935", aanbieder="12345678", identificatie=str(5000 + i),
                     dagtekening=start - timedelta(days=2), client_bsn=bsn(rng),
                     toewijzingen=[toewijzing])
        berichten.append(("ijw.0935.jw301", data, f"0935-{5000 + i}"))
    return berichten


def cli_env(settings, **extra: str) -> dict[str, str]:
    """The environment of a `jeugdstroom` subprocess (or CliRunner) against these settings."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("JEUGDSTROOM_")},
        "JEUGDSTROOM_NATS_URL": settings.nats_url,
        "JEUGDSTROOM_DATABASE_URL": settings.database_url,
        "JEUGDSTROOM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
        "JEUGDSTROOM_XSD_DIR": str(settings.xsd_dir),
        "JEUGDSTROOM_GEMEENTEN_FILES": f'["{settings.gemeenten_files[0]}"]',
        "JEUGDSTROOM_INGEST_BATCH_SIZE": "50",
        "JEUGDSTROOM_ACK_WAIT_SECONDS": "10",
        **extra,
    }


def positie_of_niets(settings: Settings) -> int:
    """Ingest's position, -1 while the database does not answer (or has no tables yet)."""
    try:
        return tracking_position(settings)
    except psycopg.Error:
        return -1


def wacht_tot(klaar: Callable[[], bool], proces: subprocess.Popen, log: Path,
              timeout: float = 60) -> None:
    """Until `klaar()`, failing with the end of the log when the process exits or time runs out."""
    deadline = time.monotonic() + timeout
    while not klaar():
        assert proces.poll() is None, f"ingest exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"not reached in {timeout}s:\n{log.read_text()[-3000:]}"
        time.sleep(0.1)
