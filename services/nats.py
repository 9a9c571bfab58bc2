"""NATS JetStream: the iJw stream, the ingest consumer, and publishing raw iJw files.

Subjects: `ijw.<gemeentecode>.<bericht>` (bericht: jw301, jw305, jw307, jw323, jw325), the
gemeente being the one the message concerns. The header `Nats-Msg-Id` carries the message's
BerichtIdentificatie, so JetStream drops a second publish of the same message within its
duplicate window; ingest is idempotent beyond it.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import nats
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    StorageType,
    StreamConfig,
    StreamSource,
    SubjectTransform,
)
from nats.js.errors import BadRequestError, NotFoundError, ServiceUnavailableError

from events.ijw import Afgewezen, lees_kop
from services.settings import Settings

SUBJECTS = "ijw.>"
PUBLICEER_POGINGEN = 8  # per file: NATS reconnecting or a cluster electing a leader, then a sentence

log = logging.getLogger("jeugdstroom.nats")


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
        num_replicas=settings.stream_replicas,
        description="iJw 3.2 messages as published by the municipal backoffices",
    )


def partitie_stream_config(settings: Settings, subjects: list[str]) -> StreamConfig:
    """A partition's own stream: NATS copies into it, in the iJw stream's order, the messages
    on its gemeenten' subjects. Its sequences have no gaps of other partitions' messages, so
    ingest's position and gap filling (services/ingest/jetstream.py) work on it unchanged.
    A filtered consumer on the iJw stream itself would see every other partition's message
    as a gap to fill with a read of its own."""
    assert settings.partition is not None
    return StreamConfig(
        name=settings.ingest_stream,
        sources=[StreamSource(name=settings.stream, subject_transforms=[
            SubjectTransform(src=subject, dest=subject) for subject in subjects])],
        storage=StorageType.FILE,
        duplicate_window=settings.duplicate_window_seconds,
        max_age=settings.stream_max_age_days * 86400.0,
        num_replicas=settings.stream_replicas,
        description=f"the iJw messages of partition {settings.partition}, sourced from {settings.stream}",
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


# how long creating or updating the stream may wait for a cluster to elect a new leader
STREAM_WACHT_SECONDEN = 30.0


async def ensure_stream(js: JetStreamContext, settings: Settings,
                        partitie_subjects: list[str] | None = None) -> None:
    """Create the stream, or bring an existing one to this configuration; with a
    partition's subjects, its own stream (`partitie_stream_config`) too.

    While a cluster elects a new leader (a node died) the JetStream API does not answer or
    says it is unavailable: try again, with backoff, for up to STREAM_WACHT_SECONDEN."""
    loop = asyncio.get_running_loop()
    einde, pauze = loop.time() + STREAM_WACHT_SECONDEN, 0.5
    while True:
        try:
            await _maak_of_werk_bij(js, stream_config(settings))
            if partitie_subjects is not None:
                await _maak_of_werk_bij(js, partitie_stream_config(settings, partitie_subjects))
            return
        except (TimeoutError, NoRespondersError, ServiceUnavailableError) as error:
            if loop.time() + pauze > einde:
                raise
            log.warning("JetStream did not answer for stream %s (%s); trying again in %.1f s",
                        settings.stream, type(error).__name__, pauze)
            await asyncio.sleep(pauze)
            pauze = min(pauze * 2, 5.0)


async def _maak_of_werk_bij(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        await js.add_stream(config=config)
    except BadRequestError:
        # never fewer copies than the stream has: a publisher without
        # JEUGDSTROOM_STREAM_REPLICAS must not shrink a cluster's stream to one node
        bestaand = (await js.stream_info(config.name)).config
        config.num_replicas = max(config.num_replicas or 1, bestaand.num_replicas or 1)
        if _onderwerpen(config) != _onderwerpen(bestaand):
            log.warning(
                "stream %s: the subjects of its gemeenten change (%d -> %d); NATS copies what "
                "%s holds on them again from its start, so ingest reads this partition's "
                "messages a second time (the figures stay the same; the data-quality counts "
                "count them again). deploy/partities.md: Adding a machine",
                config.name, len(_onderwerpen(bestaand)), len(_onderwerpen(config)),
                ", ".join(s.name for s in config.sources or []))
        await js.update_stream(config=config)


def _onderwerpen(config: StreamConfig) -> list[str]:
    """The subjects a sourced stream copies (empty for a stream with subjects of its own)."""
    return sorted(t.src for bron in config.sources or [] for t in bron.subject_transforms or [])


async def stream_identiteit(js: JetStreamContext, stream: str) -> tuple[str, int]:
    """The stream's identity (when JetStream created it) and its last sequence.

    A stream deleted and created again under the same name restarts its sequences at 1; its
    creation time tells the two apart (it survives server restarts, and in a cluster it is
    the meta leader's, the same on every node)."""
    info = await js.stream_info(stream)
    identiteit = info.created.isoformat() if info.created else "unknown"
    return identiteit, int(info.state.last_seq)


async def berichten_per_subject(js: JetStreamContext, stream: str) -> dict[str, int]:
    """How many messages the iJw stream holds per subject."""
    info = await js.stream_info(stream, subjects_filter=SUBJECTS)
    return dict(info.state.subjects or {})


async def partitie_berichten(js: JetStreamContext, stream: str, subjects: list[str]) -> int:
    """How many messages the iJw stream holds on a partition's subjects (what its own stream
    holds once NATS has copied everything)."""
    codes = {subject.split(".")[1] for subject in subjects}
    return sum(aantal for subject, aantal in (await berichten_per_subject(js, stream)).items()
               if subject.split(".")[1] in codes)


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
    """What became of every file: accepted, dropped by JetStream as a duplicate, or not
    published with the reason; together they are all the files."""

    geaccepteerd: int = 0
    dubbel: int = 0
    fouten: list[tuple[Path, str]] = field(default_factory=list)

    @property
    def bestanden(self) -> int:
        return self.geaccepteerd + self.dubbel + len(self.fouten)

    def samenvatting(self) -> str:
        return (f"{self.bestanden} files: {self.geaccepteerd} published, {self.dubbel} duplicate "
                f"(dropped by JetStream), {len(self.fouten)} not published")


def ijw_bestanden(paden: Iterable[Path]) -> Iterator[Path]:
    for pad in paden:
        if pad.is_dir():
            yield from sorted(p for p in pad.rglob("*.xml") if p.is_file())
        else:
            yield pad


class NatsNietBereikt(Exception):
    """NATS could not be reached to publish; the message says where and what to do."""


Callback = Callable[[], Awaitable[None]]


def verbindingsmeldingen(
    wat: str, verbinding: list[nats.NATS],
) -> tuple[Callback, Callback, Callable[[Exception], Awaitable[None]]]:
    """nats-py callbacks (disconnected, reconnected, error) that say when the connection to
    NATS goes and comes back; `verbinding` holds the client once it is made, so that its own
    close is not reported as a loss."""
    async def weg() -> None:
        if not (verbinding and verbinding[0].is_closed):
            log.warning("%s: connection to NATS lost; reconnecting", wat)

    async def terug() -> None:
        log.warning("%s: reconnected to NATS", wat)

    async def fout(error: Exception) -> None:
        log.debug("%s: NATS connection error: %s", wat, type(error).__name__)

    return weg, terug, fout


async def publiceer(
    nats_url: str, settings: Settings, bestanden: list[Path], *, voortgang=None, tegelijk: int = 256,
    pogingen: int = PUBLICEER_POGINGEN,
) -> Publicatie:
    """Publish iJw files as they are; the subject and Nats-Msg-Id come from each file's header.

    Up to `tegelijk` publishes are in flight at once (one connection keeps their order). A
    publish that NATS does not confirm (reconnecting, a cluster electing a leader) is sent
    again with the same Nats-Msg-Id, so JetStream keeps it once; after `pogingen` the file is
    reported as not published with the reason, never as a traceback.
    """
    resultaat = Publicatie()
    verbinding: list[nats.NATS] = []
    weg, terug, fout = verbindingsmeldingen("publish", verbinding)
    try:
        nc = await nats.connect(nats_servers(nats_url), max_reconnect_attempts=-1,
                                reconnect_time_wait=0.5, disconnected_cb=weg,
                                reconnected_cb=terug, error_cb=fout)
        verbinding.append(nc)
    except (NatsError, OSError, TimeoutError) as error:
        raise NatsNietBereikt(
            f"NATS does not answer at {_zonder_wachtwoord(nats_url)} ({type(error).__name__}); "
            "start it (`jeugdstroom up` for the embedded one) and publish again") from None
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings)

        async def een(bestand: Path) -> None:
            try:
                data = bestand.read_bytes()
            except OSError as error:
                resultaat.fouten.append((bestand, f"cannot be read ({error.strerror})"))
                return
            try:
                kop = lees_kop(data)
            except Afgewezen as afgewezen:
                resultaat.fouten.append((bestand, f"cannot derive a subject: {afgewezen.reden}"))
                return
            for poging in range(1, pogingen + 1):
                try:
                    ack = await js.publish(kop.subject, data, stream=settings.stream,
                                           headers={"Nats-Msg-Id": kop.msg_id})
                except (NatsError, TimeoutError) as error:
                    if poging == pogingen:
                        resultaat.fouten.append((bestand, (
                            f"NATS did not confirm it after {pogingen} attempts "
                            f"({type(error).__name__}); publish it again (JetStream keeps a "
                            "message once within its duplicate window)")))
                        return
                    await asyncio.sleep(min(5.0, 0.25 * 2 ** poging))
                    continue
                # a duplicate after a failed attempt is most likely that attempt, stored
                # before its confirmation was lost: it counts as published
                if ack.duplicate and poging == 1:
                    resultaat.dubbel += 1
                else:
                    resultaat.geaccepteerd += 1
                return

        for begin in range(0, len(bestanden), tegelijk):
            deel = bestanden[begin:begin + tegelijk]
            await asyncio.gather(*(een(b) for b in deel))
            if voortgang is not None:
                voortgang(len(deel))
    finally:
        try:
            await asyncio.wait_for(nc.drain(), timeout=10)
        except (NatsError, TimeoutError):
            await nc.close()
    return resultaat


def _zonder_wachtwoord(nats_url: str) -> str:
    return re.sub(r"//[^/@,]*@", "//", nats_url)
