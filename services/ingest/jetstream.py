"""The JetStream side of ingest: keeps the stream order and acks only what is committed.

Messages are committed strictly in stream order, because a tracking position means
"everything up to here is done":

- a delivered message at or below the position was done before a crash or redelivery: ack;
- a run of messages directly after the position is processed as one transaction;
- a gap (a message after the position whose predecessors are still out for redelivery, as
  after a crash) is filled by reading the missing messages from the stream itself.

So a SIGKILL anywhere loses nothing (unacked messages come back) and counts nothing twice
(their sequence is at or below the committed position).

Throughput comes from a pipeline over these rules: while one batch is written, the next is
validated in a worker process and NATS fetches the one after; commits and acks still happen
strictly one batch after the other.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from eventsourcing.persistence import IntegrityError
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from events.ijw import Afgewezen
from services import metrics
from services.eventstore.postgres import AndereStream
from services.ingest.handler import INFRA_ERRORS, Ingest, Uitkomst
from services.ingest.validatie import Gelezen, Lezers, StreamBericht
from services.nats import stream_identiteit
from services.uitval import Onbereikbaar, Uitval

log = logging.getLogger("jeugdstroom.ingest")


async def _of_niets(gelezen: asyncio.Future[list[Gelezen | Afgewezen]],
                    ) -> list[Gelezen | Afgewezen] | None:
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

    def __init__(self, ingest: Ingest, lezers: Lezers, stream: str, *,
                 grens: float = 300.0) -> None:
        self.ingest = ingest
        self.lezers = lezers
        self.stream = stream
        self._verwacht: int | None = None  # the position once all handed-over batches commit
        self._laatste: asyncio.Task[bool] | None = None  # commit of the last batch handed over
        self._stopt = False
        # why ingest must stop (another stream, a server away past the bound), from any batch
        self.fout: Exception | None = None
        self.database = Uitval("the event store (PostgreSQL)", grens, log)
        self.broker = Uitval("NATS", grens, log)
        self.totaal = Uitkomst()

    def _stop_bij_fout(self) -> None:
        if self.fout is not None:
            raise self.fout

    async def ontvang(self, msgs: Sequence[Msg], js: JetStreamContext) -> None:
        self._stop_bij_fout()
        if self._stopt:
            await _antwoord([m.nak() for m in msgs], "nak")  # for whoever consumes next
            return
        try:
            await self._zelfde_stream(js)
        except AndereStream as error:
            self.fout = error
            await _antwoord([m.nak() for m in msgs], "nak")  # never an ack against it
            raise
        if self._verwacht is None:
            await self.leeg()  # the store's position is final only once no commit is pending
            self._stop_bij_fout()
            self._laatste = None  # a new chain: it builds on the store, not on a failed batch
            try:
                self._verwacht = await asyncio.to_thread(self.ingest.positie)
            except INFRA_ERRORS as error:
                await _antwoord([m.nak(delay=1) for m in msgs], "nak")
                await asyncio.sleep(self._database_weg(error))
                self._stop_bij_fout()
                return
            self.database.gelukt()
        run = await self._aaneengesloten(msgs, js, self._verwacht)
        if run:
            self._verwacht = run[-1].seq
        gelezen = asyncio.ensure_future(self.lezers.lees_alle(run))
        vorige = self._laatste
        self._laatste = asyncio.create_task(self._leg_vast(vorige, run, gelezen, msgs))
        if vorige is not None:
            await asyncio.wait([vorige])

    async def _zelfde_stream(self, js: JetStreamContext) -> None:
        """Before anything of a batch is acked: the stream is still the one whose identity
        ingest took at its start (a stream deleted and created again restarts at seq 1)."""
        bekend = self.ingest.stream_identiteit
        if bekend is None:
            return
        try:
            nu, _ = await stream_identiteit(js, self.stream)
        except NotFoundError:
            nu = "(no such stream: deleted)"
        except (NatsError, TimeoutError):
            return  # cannot tell now; the commit checks the store's record of the stream too
        if nu != bekend:
            raise AndereStream(self.stream, bekend, nu, self._verwacht)

    def _database_weg(self, error: BaseException) -> float:
        """Seconds to wait before the event store is tried again; past the bound, stop."""
        try:
            return self.database.mislukt(error)
        except Onbereikbaar as einde:
            self.fout = einde
            return 0.0

    async def volg(self, subscription: JetStreamContext.PullSubscription, js: JetStreamContext,
                   batch: int, stop: asyncio.Event,
                   verbonden: Callable[[], bool] = lambda: True) -> None:
        """Fetch and hand over batches until `stop` is set; raises when ingest must stop
        (`self.fout`: another stream, or a server away past the bound).

        A plain nats-py pull loop: FastStream 0.7.8's batch loop lost a partly fetched batch
        whenever nats-py ended a fetch with a plain asyncio.TimeoutError (FastStream catches
        only nats' own subclass), so those messages waited out the ack wait (60 s)."""
        while not stop.is_set():
            self._stop_bij_fout()
            try:
                msgs = await subscription.fetch(batch, timeout=0.5)
            except TimeoutError as error:  # nats.errors.TimeoutError too: nothing new, or away
                if verbonden():
                    self.broker.gelukt()
                else:
                    await asyncio.sleep(self.broker.mislukt(error))
                continue
            except NatsError as error:
                # a consumer that vanished with its stream fails every fetch: say that, not
                # "NATS unreachable" five minutes later
                try:
                    await self._zelfde_stream(js)
                except AndereStream as andere:
                    self.fout = andere
                    raise
                await asyncio.sleep(self.broker.mislukt(error))
                continue
            self.broker.gelukt()
            await self.ontvang(msgs, js)
        self._stop_bij_fout()

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
                        gelezen: asyncio.Future[list[Gelezen | Afgewezen]],
                        msgs: Sequence[Msg]) -> bool:
        """Commit one batch after the one before it; True when it is committed and acked."""
        if vorige is not None and not await vorige:
            gelezen.cancel()
            return await self._opnieuw(msgs, delay=1)
        try:
            if run:
                uitkomst = await asyncio.to_thread(self.ingest.verwerk, run, await _of_niets(gelezen))
                self.totaal.plus(uitkomst)
                metrics.ingest_vastgelegd(uitkomst, run[-1].seq)
                log.debug("committed stream seq %d..%d: %d iJw records, %d events, %d rejected",
                          run[0].seq, run[-1].seq, uitkomst.records, uitkomst.events,
                          len(uitkomst.afgewezen))
                for a in uitkomst.afgewezen:
                    log.warning("rejected stream seq %d (%s): %s", a.stream_seq, a.subject, a.reden)
        except AndereStream as error:
            # another process took a new stream since this one started: ack nothing
            self.fout = error
            return await self._opnieuw(msgs, delay=1)
        except IntegrityError:
            # another ingest committed this range first: take its position, redo the rest
            return await self._opnieuw(msgs, delay=1)
        except INFRA_ERRORS as error:
            # the commit may or may not have happened: redelivered, the position decides
            wacht = self._database_weg(error)
            return await self._opnieuw(msgs, delay=max(wacht, 1.0))
        except Exception:
            log.exception("a batch of %d messages was not committed; it will be redelivered",
                          len(msgs))
            return await self._opnieuw(msgs, delay=2)
        self.database.gelukt()
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
                    run.append(StreamBericht(verwacht, raw.subject or "", raw.data or b"",
                                             ontvangen=raw.time.date() if raw.time else None))
                except NotFoundError:
                    run.append(StreamBericht(verwacht, "", b"", ontbreekt=True))
                verwacht += 1
            run.append(StreamBericht(seq, msg.subject, msg.data,
                                     ontvangen=msg.metadata.timestamp.date()))
            verwacht = seq + 1
        return run
