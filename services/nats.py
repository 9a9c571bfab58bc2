"""NATS JetStream: the iJw stream, the ingest consumer, and publishing raw iJw files.

Subjects: `ijw.<gemeentecode>.<bericht>` (bericht: jw301, jw305, jw307, jw323, jw325), the
gemeente being the one the message concerns. The header `Nats-Msg-Id` carries the message's
BerichtIdentificatie, so JetStream drops a second publish of the same message within its
duplicate window; ingest is idempotent beyond it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, NotFoundError

from events.ijw import Afgewezen, lees_kop
from services.settings import Settings

SUBJECTS = "ijw.>"


def nats_servers(nats_url: str) -> list[str]:
    """`nats://a:4222,nats://b:4222` as a list: nats-py takes a cluster only as a list
    (a comma-separated string fails with "invalid connect url option")."""
    return [url.strip() for url in nats_url.split(",") if url.strip()]


def stream_config(settings: Settings) -> StreamConfig:
    """One file-backed stream for all iJw traffic; messages are kept for replay and audit."""
    return StreamConfig(
        name=settings.stream,
        subjects=[SUBJECTS],
        storage=StorageType.FILE,
        duplicate_window=settings.duplicate_window_seconds,
        max_age=settings.stream_max_age_days * 86400.0,
        description="iJw 3.2 messages as published by the municipal backoffices",
    )


def ingest_consumer(settings: Settings) -> ConsumerConfig:
    return ConsumerConfig(
        durable_name=settings.ingest_durable,
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=settings.ack_wait_seconds,
        max_ack_pending=settings.ingest_batch_size * 4,
        max_deliver=-1,  # ingest never gives up on a message: it records a rejection instead
    )


async def ensure_stream(js: JetStreamContext, settings: Settings) -> None:
    config = stream_config(settings)
    try:
        await js.add_stream(config=config)
    except BadRequestError:
        await js.update_stream(config=config)


async def verwijder_stream(nats_url: str, stream: str) -> None:
    """Delete a stream and its consumers if it exists (bench and tests start from nothing)."""
    nc = await nats.connect(nats_servers(nats_url))
    try:
        await nc.jetstream().delete_stream(stream)
    except NotFoundError:
        pass
    finally:
        await nc.close()


@dataclass
class Publicatie:
    geaccepteerd: int = 0
    dubbel: int = 0
    fouten: list[tuple[Path, str]] = field(default_factory=list)


def ijw_bestanden(paden: Iterable[Path]) -> Iterator[Path]:
    for pad in paden:
        if pad.is_dir():
            yield from sorted(p for p in pad.rglob("*.xml") if p.is_file())
        else:
            yield pad


async def publiceer(
    nats_url: str, settings: Settings, bestanden: list[Path], *, voortgang=None, tegelijk: int = 256
) -> Publicatie:
    """Publish iJw files as they are; the subject and Nats-Msg-Id come from each file's header.

    Up to `tegelijk` publishes are in flight at once (one connection keeps their order).
    """
    resultaat = Publicatie()
    nc = await nats.connect(nats_servers(nats_url))
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings)

        async def een(bestand: Path) -> None:
            data = bestand.read_bytes()
            try:
                kop = lees_kop(data)
            except Afgewezen as afgewezen:
                resultaat.fouten.append((bestand, f"cannot derive a subject: {afgewezen.reden}"))
                return
            ack = await js.publish(
                kop.subject, data, stream=settings.stream, headers={"Nats-Msg-Id": kop.msg_id}
            )
            if ack.duplicate:
                resultaat.dubbel += 1
            else:
                resultaat.geaccepteerd += 1

        for begin in range(0, len(bestanden), tegelijk):
            deel = bestanden[begin:begin + tegelijk]
            await asyncio.gather(*(een(b) for b in deel))
            if voortgang is not None:
                voortgang(len(deel))
    finally:
        await nc.drain()
    return resultaat
