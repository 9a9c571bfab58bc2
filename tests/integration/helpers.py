"""Publishing with plain nats-py, running ingest until it has caught up, reading the store."""

from __future__ import annotations

from collections import Counter

import nats
import psycopg

from services import bootstrap
from services.ingest.jetstream import NatsIngest
from services.nats import ensure_stream
from services.runtime import Endpoints
from services.settings import Settings


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


async def last_seq(settings: Settings) -> int:
    nc = await nats.connect(settings.nats_url)
    try:
        info = await nc.jetstream().stream_info(settings.stream)
        return int(info.state.last_seq)
    finally:
        await nc.close()


def servers_of(settings: Settings) -> Endpoints:
    assert settings.nats_url and settings.database_url
    return Endpoints(settings.nats_url, settings.database_url)


async def ingest_until_caught_up(settings: Settings, timeout: float = 60) -> NatsIngest:
    """Run the real ingest consumer in-process until its position is the stream's last seq."""
    return await bootstrap.ingest_until_caught_up(settings, servers_of(settings), timeout=timeout)


def event_topics(settings: Settings) -> Counter[str]:
    with psycopg.connect(settings.database_url) as conn:
        rows = conn.execute("SELECT topic FROM jeugdstroom_events").fetchall()
    return Counter(topic.split(":", 1)[1] for (topic,) in rows)


def tracking_position(settings: Settings) -> int:
    with psycopg.connect(settings.database_url) as conn:
        row = conn.execute(
            "SELECT notification_id FROM jeugdstroom_tracking WHERE application_name = %s",
            (f"nats:{settings.stream}",),
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
