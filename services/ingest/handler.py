"""Ingest's unit of work: contiguous runs of validated stream messages into the event store.

The position of ingest is the JetStream stream sequence, kept as the library's tracking
record in the same transaction as the events (and rejections) it produced, so a run is
stored, or rejected with its reasons, together with its position, never half. The NATS side
(`services.ingest.jetstream`) hands runs over strictly in stream order.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

import eventsourcing.persistence as es
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Tracking
from psycopg import InterfaceError, OperationalError

from events.domain import Declaratie, Toewijzing, declaratie_id, toewijzing_id
from events.ijw import Afgewezen, Bericht, redact
from events.kwaliteit import Bevinding
from events.verwerking import Pseudoniem, aggregaat_ids, ijw_records, verwerk
from services.eventstore.postgres import (
    Afwijzing,
    AndereStream,
    Berichttelling,
    Bevindingrij,
    Gebeurtenissen,
)
from services.ingest.validatie import BerichtLezer, Gelezen, StreamBericht

log = logging.getLogger("jeugdstroom.ingest")

# The event store being unreachable is never the message's fault: psycopg's errors, and the
# eventsourcing library's own wrappers of them (not subclasses of psycopg's), are retried.
INFRA_ERRORS = (OperationalError, InterfaceError, es.OperationalError, es.InterfaceError,
                ConnectionError, TimeoutError)


@dataclass
class Uitkomst:
    berichten: int = 0
    records: int = 0
    events: int = 0
    afgewezen: list[Afwijzing] = field(default_factory=list)
    bevindingen: int = 0

    def plus(self, other: Uitkomst) -> None:
        self.berichten += other.berichten
        self.records += other.records
        self.events += other.events
        self.afgewezen.extend(other.afgewezen)
        self.bevindingen += other.bevindingen


def bevindingrijen(seq: int, gelezen: Gelezen) -> list[Bevindingrij]:
    """The stored form of one message's findings: rule, path and the message's seq, type,
    gemeente, provider and Dagtekening; nothing of the message's content beyond those."""
    kop = gelezen.bericht.kop
    return [Bevindingrij(seq, b.regel, b.pad, b.toelichting, kop.bericht, kop.gemeentecode,
                         kop.aanbieder, kop.dagtekening) for b in gelezen.bevindingen]


def berichttellingen(berichten: Iterable[Bericht]) -> list[Berichttelling]:
    """The messages of a batch counted per gemeente, provider, type and month."""
    per = Counter((b.kop.gemeentecode, b.kop.aanbieder, b.kop.bericht,
                   b.kop.dagtekening.replace(day=1)) for b in berichten)
    return [Berichttelling(*sleutel, aantal) for sleutel, aantal in sorted(per.items())]


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


def _aangemaakt(identiteit: str) -> datetime:
    """A stream identity (its creation time) as an aware datetime; far past when unknown."""
    try:
        return datetime.fromisoformat(identiteit)
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


class Ingest:
    """Stores contiguous runs of validated stream messages, or their rejections."""

    def __init__(
        self,
        store: Gebeurtenissen,
        lezer: BerichtLezer,
        pseudoniem: Pseudoniem,
        *,
        bron: str,
        stream: str = "IJW",
        max_pogingen: int = 3,
    ) -> None:
        self.store = store
        self.lezer = lezer
        self.pseudoniem = pseudoniem
        self.bron = bron  # the tracking name: one per stream
        self.stream = stream
        self.max_pogingen = max_pogingen
        # the identity of the stream being ingested, checked with every position written
        self.stream_identiteit: str | None = None

    def positie(self) -> int:
        return self.store.positie(self.bron)

    def controleer_stream(self, identiteit: str, laatste_seq: int) -> None:
        """Take `identiteit` as the stream being ingested, or raise AndereStream when the
        position belongs to another stream.

        A position from before identities were recorded belongs to another stream when this
        stream holds fewer sequences, or was created after ingest's last commit (a stream
        cannot have held what was committed before it existed); otherwise it is taken to
        belong to this one."""
        vastgelegd = self.store.ingest_recorder.stream_identiteit(self.bron)
        if vastgelegd is None:
            positie = self.positie()
            laatst = self.store.laatst_vastgelegd() if positie else None
            if positie > laatste_seq or (laatst is not None and _aangemaakt(identiteit) > laatst):
                raise AndereStream(self.stream, None, identiteit, positie)
            if positie:
                log.warning("no stream identity recorded with position %d yet; taking stream %s "
                            "created at %s as its stream", positie, self.stream, identiteit)
        elif vastgelegd != identiteit:
            raise AndereStream(self.stream, vastgelegd, identiteit, self.positie())
        self.stream_identiteit = identiteit

    def neem_stream_aan(self, identiteit: str) -> int:
        """The operator's decision: continue from seq 1 of this (new) stream. Returns the
        old position."""
        oud = self.store.ingest_recorder.neem_stream_aan(self.bron, identiteit)
        log.warning("stream %s created at %s accepted as the new stream: ingest starts again at "
                    "its seq 1 (the old position was %d; the old stream's rejections are kept in "
                    "ijw_afwijzing_eerder)", self.stream, identiteit, oud)
        self.stream_identiteit = identiteit
        return oud

    def _stream(self) -> tuple[str, str, str] | None:
        if self.stream_identiteit is None:
            return None
        return (self.bron, self.stream, self.stream_identiteit)

    def verwerk(self, berichten: Sequence[StreamBericht],
                gelezen: Sequence[Gelezen | Afgewezen] | None = None) -> Uitkomst:
        """Commit a contiguous run of messages: one transaction, or one per message on trouble.

        `gelezen`: the messages already validated (by `Lezers`), else they are validated here."""
        if not berichten:
            return Uitkomst()
        try:
            return self._in_een_transactie(berichten, gelezen)
        except (*INFRA_ERRORS, IntegrityError, AndereStream):
            raise  # not the message's fault: retry later, never reject for it
        except Exception:
            log.warning("batch of %d failed; retrying message by message", len(berichten))
        uitkomst = Uitkomst()
        for bericht in berichten:
            uitkomst.plus(self._een_bericht(bericht))
        return uitkomst

    def _in_een_transactie(self, berichten: Sequence[StreamBericht],
                           gelezen: Sequence[Gelezen | Afgewezen] | None = None) -> Uitkomst:
        uitkomst = Uitkomst(berichten=len(berichten))
        geldig: list[Bericht] = []
        bevindingen: list[Bevindingrij] = []
        for bericht, uit in zip(berichten, gelezen or self.lezer.lees_alle(berichten), strict=True):
            if isinstance(uit, Afgewezen):
                uitkomst.afgewezen.append(Afwijzing(bericht.seq, bericht.subject, uit.reden))
            else:
                geldig.append(uit.bericht)
                if uit.bevindingen:
                    bevindingen.extend(bevindingrijen(bericht.seq, uit))
        batch = _Batch(self.store, geldig)
        for gelezen_bericht in geldig:
            verwerk(gelezen_bericht, self.pseudoniem, batch)
            uitkomst.records += ijw_records(gelezen_bericht)
        uitkomst.events = self.store.leg_vast(
            batch.aggregates.values(),
            tracking=Tracking(self.bron, berichten[-1].seq),
            afwijzingen=uitkomst.afgewezen,
            stream=self._stream(),
            bevindingen=bevindingen,
            tellingen=berichttellingen(geldig),
        )
        uitkomst.bevindingen = len(bevindingen)
        return uitkomst

    def _een_bericht(self, bericht: StreamBericht) -> Uitkomst:
        """Bounded retries for one message, then its rejection record: never a spin, never a loss."""
        fout: Exception | None = None
        for _ in range(self.max_pogingen):
            try:
                return self._in_een_transactie([bericht])
            except (*INFRA_ERRORS, IntegrityError, AndereStream):
                raise
            except Exception as error:
                fout = error
        reden = redact(
            f"internal error after {self.max_pogingen} attempts: "
            f"{type(fout).__name__}: {fout}; fix the cause, then replay this message"
        )
        afwijzing = Afwijzing(bericht.seq, bericht.subject, reden, pogingen=self.max_pogingen)
        self.store.leg_vast([], tracking=Tracking(self.bron, bericht.seq), afwijzingen=[afwijzing],
                            stream=self._stream())
        return Uitkomst(berichten=1, afgewezen=[afwijzing])

    def herstel(self, bericht: StreamBericht) -> Uitkomst:
        """Replay one rejected message (after a fix); its tracking position is already past.

        The domain is idempotent (a known version or declaration adds nothing), so a replay
        that is repeated or races with the stream adds no event twice.
        """
        bevindingen: list[Bevinding] | None = [] if self.lezer.regels else None
        gelezen = self.lezer.lees(bericht, bevindingen)  # raises Afgewezen when still wrong
        batch = _Batch(self.store, [gelezen])
        verwerk(gelezen, self.pseudoniem, batch)
        events = self.store.leg_vast(
            batch.aggregates.values(), tracking=None, hersteld=[bericht.seq],
            bevindingen=bevindingrijen(bericht.seq, Gelezen(gelezen, tuple(bevindingen or ()))),
            tellingen=berichttellingen([gelezen]))
        return Uitkomst(berichten=1, records=ijw_records(gelezen), events=events)
