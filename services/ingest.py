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
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from uuid import UUID

import eventsourcing.persistence as es
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from nats.aio.msg import Msg
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


class Ingest:
    """Validates, pseudonymises and stores contiguous runs of stream messages."""

    def __init__(
        self,
        store: Gebeurtenissen,
        register: GemeenteRegister,
        schemas: XsdSchemas | None,
        pseudoniem: Pseudoniem,
        *,
        bron: str,
        max_pogingen: int = 3,
    ) -> None:
        self.store = store
        self.register = register
        self.schemas = schemas
        self.pseudoniem = pseudoniem
        self.bron = bron  # the tracking name: one per stream
        self.max_pogingen = max_pogingen

    def positie(self) -> int:
        return self.store.positie(self.bron)

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

    def verwerk(self, berichten: Sequence[StreamBericht]) -> Uitkomst:
        """Commit a contiguous run of messages: one transaction, or one per message on trouble."""
        if not berichten:
            return Uitkomst()
        try:
            return self._in_een_transactie(berichten)
        except (*INFRA_ERRORS, IntegrityError):
            raise  # not the message's fault: retry later, never reject for it
        except Exception:
            log.warning("batch of %d failed; retrying message by message", len(berichten))
        uitkomst = Uitkomst()
        for bericht in berichten:
            uitkomst.plus(self._een_bericht(bericht))
        return uitkomst

    def _in_een_transactie(self, berichten: Sequence[StreamBericht]) -> Uitkomst:
        uitkomst = Uitkomst(berichten=len(berichten))
        gelezen: list[Bericht] = []
        for bericht in berichten:
            try:
                gelezen.append(self.lees(bericht))
            except Afgewezen as afgewezen:
                uitkomst.afgewezen.append(
                    Afwijzing(bericht.seq, bericht.subject, afgewezen.reden)
                )
        batch = _Batch(self.store, gelezen)
        for bericht in gelezen:
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
        gelezen = self.lees(bericht)  # raises Afgewezen when it is still wrong
        batch = _Batch(self.store, [gelezen])
        verwerk(gelezen, self.pseudoniem, batch)
        events = self.store.leg_vast(batch.aggregates.values(), tracking=None, hersteld=[bericht.seq])
        return Uitkomst(berichten=1, records=ijw_records(gelezen), events=events)


class NatsIngest:
    """The JetStream side: keeps the stream order and acks only what is committed."""

    def __init__(self, ingest: Ingest, stream: str) -> None:
        self.ingest = ingest
        self.stream = stream
        self._positie: int | None = None
        self.totaal = Uitkomst()

    async def ontvang(self, msgs: Sequence[Msg], js: JetStreamContext) -> None:
        if self._positie is None:
            self._positie = await asyncio.to_thread(self.ingest.positie)
        run = await self._aaneengesloten(msgs, js, self._positie)
        try:
            await self._verwerk(run, msgs)
        except BaseException:
            self._positie = None  # unsure what was committed: read it again next time
            raise

    async def _verwerk(self, run: list[StreamBericht], msgs: Sequence[Msg]) -> None:
        try:
            if run:
                uitkomst = await asyncio.to_thread(self.ingest.verwerk, run)
                self._positie = run[-1].seq
                self.totaal.plus(uitkomst)
                for a in uitkomst.afgewezen:
                    log.warning("rejected stream seq %d (%s): %s", a.stream_seq, a.subject, a.reden)
        except IntegrityError:
            # another ingest committed this range first: take its position, redo the rest
            self._positie = None
            await asyncio.gather(*(m.nak(delay=1) for m in msgs))
            return
        except INFRA_ERRORS:
            log.exception("event store unavailable; messages will be redelivered")
            self._positie = None  # the commit may or may not have happened
            await asyncio.gather(*(m.nak(delay=2) for m in msgs))
            return
        await asyncio.gather(*(m.ack() for m in msgs))

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
