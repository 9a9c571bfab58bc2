"""Ingest: iJw messages from JetStream into the event store, exactly once.

The position of ingest is the JetStream stream sequence, kept as the library's tracking
record in the same transaction as the events (and rejections) it produced. Messages are
committed strictly in stream order, because a tracking position means "everything up to
here is done":

- a delivered message at or below the position was done before a crash or redelivery: ack;
- a run of messages directly after the position is processed as one transaction;
- a gap (a message after the position whose predecessors are still out for redelivery, as
  after a crash) is filled by reading the missing messages from the stream itself.

So a SIGKILL anywhere loses nothing (unacked messages come back) and counts nothing twice
(their sequence is at or below the committed position).

Throughput comes from a pipeline over these rules: while one batch is written, the next is
validated in a worker process (validation is pure CPU and the larger part of the work) and
NATS fetches the one after; commits and acks still happen strictly one batch after the other.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import re
from collections.abc import Coroutine, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import eventsourcing.persistence as es
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from psycopg import InterfaceError, OperationalError

from events.domain import Declaratie, Toewijzing, declaratie_id, toewijzing_id
from events.gemeenten import GemeenteRegister
from events.ijw import Afgewezen, Bericht, Probleem, XsdSchemas, lees_bericht, redact
from events.verwerking import Pseudoniem, aggregaat_ids, ijw_records, verwerk
from services.eventstore import Afwijzing, Gebeurtenissen

log = logging.getLogger("jeugdstroom.ingest")

SUBJECT = re.compile(r"^ijw\.([^.]+)\.([^.]+)$")
# The event store being unreachable is never the message's fault: psycopg's errors, and the
# eventsourcing library's own wrappers of them (not subclasses of psycopg's), are retried.
INFRA_ERRORS = (OperationalError, InterfaceError, es.OperationalError, es.InterfaceError,
                ConnectionError, TimeoutError)


@dataclass(frozen=True)
class StreamBericht:
    """One message as stored in the stream: its sequence, subject and raw XML."""

    seq: int
    subject: str
    data: bytes
    ontbreekt: bool = False  # the stream no longer holds it: recorded, not silently skipped


@dataclass
class Uitkomst:
    berichten: int = 0
    records: int = 0
    events: int = 0
    afgewezen: list[Afwijzing] = field(default_factory=list)

    def plus(self, other: Uitkomst) -> None:
        self.berichten += other.berichten
        self.records += other.records
        self.events += other.events
        self.afgewezen.extend(other.afgewezen)


class _Batch:
    """The aggregates touched by one batch, loaded in one query, so that two messages on one
    toewijzing chain up and a batch costs one read and one write."""

    def __init__(self, store: Gebeurtenissen, berichten: Sequence[Bericht]) -> None:
        self.aggregates: dict[UUID, Aggregate] = store.laad(
            key for b in berichten for key in aggregaat_ids(b))

    def toewijzing(self, gemeentecode: str, toewijzingnummer: str) -> Toewijzing:
        key = toewijzing_id(gemeentecode, toewijzingnummer)
        if key not in self.aggregates:
            self.aggregates[key] = Toewijzing.registreer(gemeentecode, toewijzingnummer)
        return self.aggregates[key]  # type: ignore[return-value]

    def declaratie(
        self, gemeentecode: str, aanbieder: str, identificatie: str, dagtekening: object
    ) -> Declaratie:
        key = declaratie_id(gemeentecode, aanbieder, identificatie, dagtekening)  # type: ignore[arg-type]
        if key not in self.aggregates:
            self.aggregates[key] = Declaratie.open(
                gemeentecode, aanbieder, identificatie, dagtekening  # type: ignore[arg-type]
            )
        return self.aggregates[key]  # type: ignore[return-value]


class BerichtLezer:
    """Validates stream messages: plain data in and out, so it can run in a worker process."""

    def __init__(self, register: GemeenteRegister, schemas: XsdSchemas | None) -> None:
        self.register = register
        self.schemas = schemas

    def lees(self, bericht: StreamBericht) -> Bericht:
        """Validate one message, including that its subject names its gemeente and type."""
        if bericht.ontbreekt:
            raise Afgewezen([Probleem("stream", "this sequence is no longer in the stream "
                                      "(removed by its limits or a purge): nothing to ingest")])
        match = SUBJECT.match(bericht.subject)
        if not match:
            raise Afgewezen([Probleem(
                "subject", f"'{bericht.subject}' is not ijw.<gemeentecode>.<bericht>"
            )])
        gemeente, soort = match.groups()
        problemen = []
        if not re.fullmatch(r"\d{4}", gemeente):
            problemen.append(Probleem(
                "subject", f"'{gemeente}' in {bericht.subject} is not a 4-digit gemeentecode"
            ))
        try:
            gelezen = lees_bericht(
                bericht.data, self.register, self.schemas,
                subject_gemeente=None if problemen else gemeente,
            )
        except Afgewezen as afgewezen:
            raise Afgewezen(problemen + afgewezen.problemen) from None
        if gelezen.kop.bericht != soort:
            problemen.append(Probleem(
                "subject",
                f"the subject says {soort.upper()} but the message is a "
                f"{gelezen.kop.bericht.upper()}; publish it to {gelezen.kop.subject}",
            ))
        if problemen:
            raise Afgewezen(problemen)
        return gelezen

    def lees_alle(self, berichten: Sequence[StreamBericht]) -> list[Bericht | Afgewezen]:
        """Each message validated, or the reason it is not."""
        uitkomsten: list[Bericht | Afgewezen] = []
        for bericht in berichten:
            try:
                uitkomsten.append(self.lees(bericht))
            except Afgewezen as afgewezen:
                uitkomsten.append(afgewezen)
        return uitkomsten


_lezer_van_dit_proces: BerichtLezer | None = None  # set in each validation worker process


def _start_lezer(lezer: BerichtLezer) -> None:
    global _lezer_van_dit_proces
    _lezer_van_dit_proces = lezer


def _lees_in_lezer(berichten: Sequence[StreamBericht]) -> list[Bericht | Afgewezen]:
    assert _lezer_van_dit_proces is not None
    return _lezer_van_dit_proces.lees_alle(berichten)


class Lezers:
    """Validation in worker processes, so that it runs on another core than the writing.

    With no worker processes it runs in a thread of this process (the same results). A
    worker that dies (killed, out of memory) costs no message: its batch is validated here
    and a new pool is started."""

    def __init__(self, lezer: BerichtLezer, processen: int) -> None:
        self.lezer = lezer
        self.processen = processen
        self._pool = self._nieuwe_pool()

    def _nieuwe_pool(self) -> ProcessPoolExecutor | None:
        if not self.processen:
            return None
        # spawn, not fork: this process already runs threads (connection pools, asyncio)
        return ProcessPoolExecutor(self.processen, mp_context=multiprocessing.get_context("spawn"),
                                   initializer=_start_lezer, initargs=(self.lezer,))

    async def lees_alle(self, berichten: Sequence[StreamBericht]) -> list[Bericht | Afgewezen]:
        if not berichten:
            return []
        if self._pool is None:
            return await asyncio.to_thread(self.lezer.lees_alle, berichten)
        loop = asyncio.get_running_loop()
        delen = [list(berichten[i::self.processen]) for i in range(self.processen)]
        try:
            gelezen = await asyncio.gather(
                *(loop.run_in_executor(self._pool, _lees_in_lezer, deel) for deel in delen if deel))
        except BrokenProcessPool:
            log.warning("a validation worker process died; validating this batch here and "
                        "starting new workers")
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._nieuwe_pool()
            return await asyncio.to_thread(self.lezer.lees_alle, berichten)
        uitkomsten: list[Bericht | Afgewezen] = [None] * len(berichten)  # type: ignore[list-item]
        for i, deel in enumerate(gelezen):
            uitkomsten[i::self.processen] = deel
        return uitkomsten

    def sluit(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


class Ingest:
    """Stores contiguous runs of validated stream messages, or their rejections."""

    def __init__(
        self,
        store: Gebeurtenissen,
        lezer: BerichtLezer,
        pseudoniem: Pseudoniem,
        *,
        bron: str,
        max_pogingen: int = 3,
    ) -> None:
        self.store = store
        self.lezer = lezer
        self.pseudoniem = pseudoniem
        self.bron = bron  # the tracking name: one per stream
        self.max_pogingen = max_pogingen

    def positie(self) -> int:
        return self.store.positie(self.bron)

    def verwerk(self, berichten: Sequence[StreamBericht],
                gelezen: Sequence[Bericht | Afgewezen] | None = None) -> Uitkomst:
        """Commit a contiguous run of messages: one transaction, or one per message on trouble.

        `gelezen`: the messages already validated (by `Lezers`), else they are validated here."""
        if not berichten:
            return Uitkomst()
        try:
            return self._in_een_transactie(berichten, gelezen)
        except (*INFRA_ERRORS, IntegrityError):
            raise  # not the message's fault: retry later, never reject for it
        except Exception:
            log.warning("batch of %d failed; retrying message by message", len(berichten))
        uitkomst = Uitkomst()
        for bericht in berichten:
            uitkomst.plus(self._een_bericht(bericht))
        return uitkomst

    def _in_een_transactie(self, berichten: Sequence[StreamBericht],
                           gelezen: Sequence[Bericht | Afgewezen] | None = None) -> Uitkomst:
        uitkomst = Uitkomst(berichten=len(berichten))
        geldig: list[Bericht] = []
        for bericht, uit in zip(berichten, gelezen or self.lezer.lees_alle(berichten), strict=True):
            if isinstance(uit, Afgewezen):
                uitkomst.afgewezen.append(Afwijzing(bericht.seq, bericht.subject, uit.reden))
            else:
                geldig.append(uit)
        batch = _Batch(self.store, geldig)
        for bericht in geldig:
            verwerk(bericht, self.pseudoniem, batch)
            uitkomst.records += ijw_records(bericht)
        uitkomst.events = self.store.leg_vast(
            batch.aggregates.values(),
            tracking=Tracking(self.bron, berichten[-1].seq),
            afwijzingen=uitkomst.afgewezen,
        )
        return uitkomst

    def _een_bericht(self, bericht: StreamBericht) -> Uitkomst:
        """Bounded retries for one message, then its rejection record: never a spin, never a loss."""
        fout: Exception | None = None
        for _ in range(self.max_pogingen):
            try:
                return self._in_een_transactie([bericht])
            except (*INFRA_ERRORS, IntegrityError):
                raise
            except Exception as error:
                fout = error
        reden = redact(
            f"internal error after {self.max_pogingen} attempts: "
            f"{type(fout).__name__}: {fout}; fix the cause, then replay this message"
        )
        afwijzing = Afwijzing(bericht.seq, bericht.subject, reden, pogingen=self.max_pogingen)
        self.store.leg_vast([], tracking=Tracking(self.bron, bericht.seq), afwijzingen=[afwijzing])
        return Uitkomst(berichten=1, afgewezen=[afwijzing])

    def herstel(self, bericht: StreamBericht) -> Uitkomst:
        """Replay one rejected message (after a fix); its tracking position is already past.

        The domain is idempotent (a known version or declaration adds nothing), so a replay
        that is repeated or races with the stream adds no event twice.
        """
        gelezen = self.lezer.lees(bericht)  # raises Afgewezen when it is still wrong
        batch = _Batch(self.store, [gelezen])
        verwerk(gelezen, self.pseudoniem, batch)
        events = self.store.leg_vast(batch.aggregates.values(), tracking=None, hersteld=[bericht.seq])
        return Uitkomst(berichten=1, records=ijw_records(gelezen), events=events)


async def _of_niets(gelezen: asyncio.Future[list[Bericht | Afgewezen]],
                    ) -> list[Bericht | Afgewezen] | None:
    """The validated batch, or None when validating it crashed: `Ingest.verwerk` then
    validates it again here, message by message, so that a message that crashes the
    validation becomes a rejection after bounded attempts instead of coming back forever."""
    try:
        return await gelezen
    except Exception as error:
        log.warning("validating a batch failed (%s); validating it message by message",
                    type(error).__name__)
        return None


async def _antwoord(antwoorden: list[Coroutine[Any, Any, None]], wat: str) -> None:
    """Ack or nak a batch; NATS being away then is logged, not raised: JetStream redelivers
    whatever it did not hear about, and the stream order decides what happens with it."""
    try:
        await asyncio.gather(*antwoorden)
    except Exception as error:
        log.warning("%s of %d messages failed (%s); JetStream redelivers them",
                    wat, len(antwoorden), type(error).__name__)


class NatsIngest:
    """The JetStream side: keeps the stream order and acks only what is committed.

    A batch is handed over (`ontvang`) and validated at once in the `Lezers`; its commit
    waits for the batch before it, and `ontvang` returns when that one is committed, so the
    consumer fetches the next batch while this one is validated and written. A commit that
    fails (event store away, another ingest first) fails every batch handed over after it
    too: all their messages are nak'ed and the position is read again from the store."""

    def __init__(self, ingest: Ingest, lezers: Lezers, stream: str) -> None:
        self.ingest = ingest
        self.lezers = lezers
        self.stream = stream
        self._verwacht: int | None = None  # the position once all handed-over batches commit
        self._laatste: asyncio.Task[bool] | None = None  # commit of the last batch handed over
        self._stopt = False
        self.totaal = Uitkomst()

    async def ontvang(self, msgs: Sequence[Msg], js: JetStreamContext) -> None:
        if self._stopt:
            await _antwoord([m.nak() for m in msgs], "nak")  # for whoever consumes next
            return
        if self._verwacht is None:
            await self.leeg()  # the store's position is final only once no commit is pending
            self._laatste = None  # a new chain: it builds on the store, not on a failed batch
            self._verwacht = await asyncio.to_thread(self.ingest.positie)
        run = await self._aaneengesloten(msgs, js, self._verwacht)
        if run:
            self._verwacht = run[-1].seq
        gelezen = asyncio.ensure_future(self.lezers.lees_alle(run))
        vorige = self._laatste
        self._laatste = asyncio.create_task(self._leg_vast(vorige, run, gelezen, msgs))
        if vorige is not None:
            await asyncio.wait([vorige])

    async def volg(self, subscription: JetStreamContext.PullSubscription, js: JetStreamContext,
                   batch: int, stop: asyncio.Event) -> None:
        """Fetch and hand over batches until `stop` is set.

        A plain nats-py pull loop: FastStream 0.7.8's batch loop lost a partly fetched batch
        whenever nats-py ended a fetch with a plain asyncio.TimeoutError (FastStream catches
        only nats' own subclass), so those messages waited out the ack wait (60 s)."""
        while not stop.is_set():
            try:
                msgs = await subscription.fetch(batch, timeout=0.5)
            except TimeoutError:  # nats.errors.TimeoutError too: nothing new
                continue
            except NatsError as error:
                log.warning("fetching from NATS failed (%s); trying again", error)
                await asyncio.sleep(1)
                continue
            await self.ontvang(msgs, js)

    async def leeg(self) -> None:
        """Wait until every batch handed over is committed and acked (or nak'ed)."""
        if self._laatste is not None:
            await asyncio.wait([self._laatste])

    async def stop(self) -> None:
        """Take no new batches, finish the ones handed over (before the connection closes)."""
        self._stopt = True
        await self.leeg()
        self.lezers.sluit()

    async def _leg_vast(self, vorige: asyncio.Task[bool] | None, run: list[StreamBericht],
                        gelezen: asyncio.Future[list[Bericht | Afgewezen]],
                        msgs: Sequence[Msg]) -> bool:
        """Commit one batch after the one before it; True when it is committed and acked."""
        if vorige is not None and not await vorige:
            gelezen.cancel()
            return await self._opnieuw(msgs, delay=1)
        try:
            if run:
                uitkomst = await asyncio.to_thread(self.ingest.verwerk, run, await _of_niets(gelezen))
                self.totaal.plus(uitkomst)
                log.debug("committed stream seq %d..%d: %d iJw records, %d events, %d rejected",
                          run[0].seq, run[-1].seq, uitkomst.records, uitkomst.events,
                          len(uitkomst.afgewezen))
                for a in uitkomst.afgewezen:
                    log.warning("rejected stream seq %d (%s): %s", a.stream_seq, a.subject, a.reden)
        except IntegrityError:
            # another ingest committed this range first: take its position, redo the rest
            return await self._opnieuw(msgs, delay=1)
        except INFRA_ERRORS:
            log.exception("event store unavailable; messages will be redelivered")
            return await self._opnieuw(msgs, delay=2)  # the commit may or may not have happened
        except Exception:
            log.exception("a batch of %d messages was not committed; it will be redelivered",
                          len(msgs))
            return await self._opnieuw(msgs, delay=2)
        await _antwoord([m.ack() for m in msgs], "ack")  # lost: the redelivery is acked as done
        return True

    async def _opnieuw(self, msgs: Sequence[Msg], *, delay: float) -> bool:
        """Not committed: unsure what the store holds, so read the position again next time."""
        self._verwacht = None
        await _antwoord([m.nak(delay=delay) for m in msgs], "nak")  # lost: back after ack wait
        return False

    async def _aaneengesloten(
        self, msgs: Sequence[Msg], js: JetStreamContext, positie: int
    ) -> list[StreamBericht]:
        """The messages after `positie` in stream order, gaps filled from the stream."""
        nieuw = sorted(
            {m.metadata.sequence.stream: m for m in msgs if m.metadata.sequence.stream > positie}
            .items()
        )
        run: list[StreamBericht] = []
        verwacht = positie + 1
        for seq, msg in nieuw:
            while verwacht < seq:
                try:
                    raw = await js.get_msg(self.stream, verwacht)
                    run.append(StreamBericht(verwacht, raw.subject or "", raw.data or b""))
                except NotFoundError:
                    run.append(StreamBericht(verwacht, "", b"", ontbreekt=True))
                verwacht += 1
            run.append(StreamBericht(seq, msg.subject, msg.data))
            verwacht = seq + 1
        return run
