"""The event store: the `eventsourcing` library's Application on PostgreSQL, and its tables.

Ingest records a contiguous run of JetStream messages in one transaction: their new events,
their rejections and the stream sequence of the last one as the library's tracking record.
The rejections ride along through the recorder's `_insert_events` hook, the library's own
place for extra writes in the events transaction, so a message is either stored, or
rejected with its reason, together with its position, never half.
"""

from __future__ import annotations

import dataclasses
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, cast
from uuid import UUID

import psycopg
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    InfrastructureFactory,
    IntegrityError,
    InternalError,
    JSONTranscoder,
    ProgrammingError,
    StoredEvent,
    Tracking,
    Transcoding,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import Environment
from psycopg import Cursor
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composable, Composed, Identifier

from events.domain import Declaratieregel
from services.eventstore.transcoder import OrjsonTranscoder

APPLICATION_NAME = "jeugdstroom"


@dataclass(frozen=True)
class Afwijzing:
    """A message that was not ingested: where it is in the stream, and why."""

    stream_seq: int
    subject: str
    reden: str
    pogingen: int = 1
    afgewezen_op: datetime | None = None
    hersteld_op: datetime | None = None


@dataclass(frozen=True)
class Bevindingrij:
    """One data-quality finding as stored: the rule, where in the message, which message
    (stream sequence, type, gemeente, provider, Dagtekening). No personal value."""

    stream_seq: int
    regel: str
    pad: str
    toelichting: str
    bericht: str
    gemeente: str
    aanbieder: str
    dagtekening: date


@dataclass(frozen=True)
class Berichttelling:
    """How many messages of one type one provider and gemeente sent in one month (by
    Dagtekening): the denominator of the share of messages with a finding."""

    gemeente: str
    aanbieder: str
    bericht: str
    maand: date  # the first day of the month
    aantal: int


def _kolommen(rijen: Sequence[Any]) -> list[list[Any]]:
    """Rows of one dataclass as one list per field, for `unnest`: shallow, as
    `dataclasses.astuple` deep-copies every value (6% of ingest's CPU for the counts alone)."""
    return [[getattr(rij, veld.name) for rij in rijen] for veld in dataclasses.fields(rijen[0])]


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class DataclassAsDict(Transcoding):
    """Frozen dataclasses inside events (e.g. a declaration line) as plain JSON objects."""

    def __init__(self, cls: type) -> None:
        self.type = cls
        self.name = cls.__name__
        self._velden = tuple(f.name for f in dataclasses.fields(cls))  # fields() is slow per call

    def encode(self, obj: Any) -> dict[str, Any]:
        return {naam: getattr(obj, naam) for naam in self._velden}

    def decode(self, data: dict[str, Any]) -> Any:
        return self.type(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


_AFWIJZING_TABLE: Composable = SQL("""
CREATE TABLE IF NOT EXISTS ijw_afwijzing (
    stream_seq bigint PRIMARY KEY,
    subject text NOT NULL,
    reden text NOT NULL,
    pogingen integer NOT NULL,
    afgewezen_op timestamptz NOT NULL DEFAULT now(),
    hersteld_op timestamptz
)
""")

# Data-quality findings (events/kwaliteit.py) of ingested messages, written with the batch's
# events and position; the messages' counts per month beside them for the shares.
_BEVINDING_TABLES: tuple[Composable, ...] = (
    SQL("""
CREATE TABLE IF NOT EXISTS ijw_bevinding (
    stream_seq bigint NOT NULL,
    regel text NOT NULL,
    pad text NOT NULL,
    toelichting text NOT NULL,
    bericht text NOT NULL,
    gemeente text NOT NULL,
    aanbieder text NOT NULL,
    dagtekening date NOT NULL,
    PRIMARY KEY (stream_seq, regel, pad)
)"""),
    SQL("CREATE INDEX IF NOT EXISTS ijw_bevinding_gemeente ON ijw_bevinding (gemeente, dagtekening)"),
    SQL("""
CREATE TABLE IF NOT EXISTS ijw_bericht_telling (
    gemeente text NOT NULL,
    aanbieder text NOT NULL,
    bericht text NOT NULL,
    maand date NOT NULL,
    aantal bigint NOT NULL,
    PRIMARY KEY (gemeente, aanbieder, bericht, maand)
)"""),
)

# Which JetStream stream ingest's position belongs to: its identity (the creation time that
# JetStream reports) is written with every position, in the same transaction. A stream that
# was deleted and created again starts its sequences at 1 anew; without this, its first
# messages looked like duplicates of the old position and were acked unread.
_STREAM_TABLE: Composable = SQL("""
CREATE TABLE IF NOT EXISTS ijw_stream (
    bron text PRIMARY KEY,
    identiteit text NOT NULL,
    sinds timestamptz NOT NULL DEFAULT now()
)
""")

# The rejections of a stream that was replaced: kept for the audit, out of the way of the
# new stream's sequences.
_AFWIJZING_EERDER_TABLE: Composable = SQL("""
CREATE TABLE IF NOT EXISTS ijw_afwijzing_eerder (
    stream_identiteit text NOT NULL,
    stream_seq bigint NOT NULL,
    subject text NOT NULL,
    reden text NOT NULL,
    pogingen integer NOT NULL,
    afgewezen_op timestamptz NOT NULL,
    hersteld_op timestamptz,
    PRIMARY KEY (stream_identiteit, stream_seq)
)
""")


class AndereStream(Exception):
    """The stream is not the one ingest's position belongs to; nothing may be acked against it."""

    def __init__(self, stream: str, vastgelegd: str | None, nu: str, positie: int | None) -> None:
        self.stream, self.vastgelegd, self.nu, self.positie = stream, vastgelegd, nu, positie
        van = (f"the stream created at {vastgelegd}" if vastgelegd
               else "an earlier stream (written before this one was created, or longer)")
        pos = f" (seq {positie})" if positie is not None else ""
        super().__init__(
            f"stream {stream} is not the stream ingest's position belongs to: the position"
            f"{pos} was recorded against {van}, but stream {stream} now was created at {nu} "
            f"(deleted and created again?). Nothing is acked. If the new stream is the one to "
            f"ingest, run `jeugdstroom ingest --accept-new-stream`: it continues from seq 1 of "
            f"the new stream (re-sent messages add nothing twice)."
        )


def _eenmaal(methode: Callable[..., Any]) -> Callable[..., Any]:
    """The library's method without its retry decorator."""
    return getattr(methode, "__wrapped__", methode)


class IngestRecorder(PostgresProcessRecorder):
    """The library's process recorder, plus the rejections of the same batch of messages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.append(Composed([_AFWIJZING_TABLE]))
        self.sql_create_statements.append(Composed([_STREAM_TABLE]))
        self.sql_create_statements.append(Composed([_AFWIJZING_EERDER_TABLE]))
        self.sql_create_statements.extend(Composed([tabel]) for tabel in _BEVINDING_TABLES)
        if self.datastore.schema != "public":
            # a partition's own channel: the library names it after the table alone, so an
            # insert in one partition woke the projectors of all partitions of the database
            self.channel_name = f"{self.datastore.schema}_{self.channel_name}"
        # the library's statement, but over four plain arrays instead of one array of
        # composite rows, sent in binary (%b): psycopg adapts composites and escapes bytea
        # text in Python, which cost more than PostgreSQL's own work on an ingest batch
        self._insert_kolommen = SQL(
            "INSERT INTO {0}.{1} (originator_id, originator_version, topic, state) "
            "SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[]) "
            "RETURNING notification_id"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))

    # The library retries these ten times on a connection error, each attempt waiting up to
    # the pool timeout: a database that went away kept ingest silent for about a minute per
    # call. Each is tried once here; the processes count the outage, log it and back off
    # themselves (services/uitval.py).
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Any:
        return _eenmaal(PostgresApplicationRecorder.insert_events)(self, stored_events, **kwargs)

    def select_notifications(self, *args: Any, **kwargs: Any) -> Any:
        return _eenmaal(PostgresApplicationRecorder.select_notifications)(self, *args, **kwargs)

    def max_notification_id(self) -> int | None:
        return _eenmaal(PostgresApplicationRecorder.max_notification_id)(self)

    def max_tracking_id(self, application_name: str) -> int | None:
        return _eenmaal(PostgresTrackingRecorder.max_tracking_id)(self, application_name)

    def _insert_stored_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        """As the library's application recorder: lock (notification ids in commit order),
        notify, insert; only the insert's parameters differ."""
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(self._insert_kolommen, (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        ))

    def _insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[Any], **kwargs: Any
    ) -> None:
        stream: tuple[str, str, str] | None = kwargs.get("stream")
        if stream is not None:
            self._zelfde_stream(curs, *stream)
        super()._insert_events(curs, stored_events, **kwargs)
        afwijzingen: Iterable[Afwijzing] = kwargs.get("afwijzingen", ())
        for a in afwijzingen:
            curs.execute(
                "INSERT INTO ijw_afwijzing (stream_seq, subject, reden, pogingen) "
                "VALUES (%s, %s, %s, %s) ON CONFLICT (stream_seq) DO UPDATE "
                "SET reden = EXCLUDED.reden, pogingen = EXCLUDED.pogingen, "
                "afgewezen_op = now(), hersteld_op = NULL",
                (a.stream_seq, a.subject, a.reden, a.pogingen),
            )
        bevindingen: Sequence[Bevindingrij] = kwargs.get("bevindingen", ())
        if bevindingen:
            curs.execute(
                "INSERT INTO ijw_bevinding (stream_seq, regel, pad, toelichting, bericht, "
                "gemeente, aanbieder, dagtekening) SELECT * FROM unnest(%s::bigint[], "
                "%s::text[], %s::text[], %s::text[], %s::text[], %s::text[], %s::text[], "
                "%s::date[]) ON CONFLICT DO NOTHING",
                _kolommen(bevindingen),
            )
        tellingen: Sequence[Berichttelling] = kwargs.get("tellingen", ())
        if tellingen:
            curs.execute(
                "INSERT INTO ijw_bericht_telling (gemeente, aanbieder, bericht, maand, aantal) "
                "SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::date[], "
                "%s::bigint[]) ON CONFLICT (gemeente, aanbieder, bericht, maand) "
                "DO UPDATE SET aantal = ijw_bericht_telling.aantal + EXCLUDED.aantal",
                _kolommen(tellingen),
            )
        for seq in kwargs.get("hersteld", ()):
            curs.execute("UPDATE ijw_afwijzing SET hersteld_op = now() WHERE stream_seq = %s", (seq,))

    @staticmethod
    def _zelfde_stream(curs: Cursor[DictRow], bron: str, stream: str, identiteit: str) -> None:
        """In the position's transaction: the stream is still the one the position belongs
        to (another process may have taken a new stream since this one started)."""
        curs.execute("INSERT INTO ijw_stream (bron, identiteit) VALUES (%s, %s) "
                     "ON CONFLICT (bron) DO NOTHING", (bron, identiteit))
        curs.execute("SELECT identiteit FROM ijw_stream WHERE bron = %s FOR SHARE", (bron,))
        row = curs.fetchone()
        if row is not None and row["identiteit"] != identiteit:
            raise AndereStream(stream, str(row["identiteit"]), identiteit, None)

    def stream_identiteit(self, bron: str) -> str | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT identiteit FROM ijw_stream WHERE bron = %s", (bron,))
            row = curs.fetchone()
            return str(row["identiteit"]) if row else None

    def neem_stream_aan(self, bron: str, identiteit: str) -> int:
        """Continue from a new stream at seq 0, in one transaction: the old stream's
        rejections move to ijw_afwijzing_eerder, the position starts again, the identity is
        the new one. Returns the position it had.

        The library's tracking record only moves forward (a position is "everything up to
        here"), which is right within one stream; a new stream is a new sequence, so its
        row is removed here rather than given a second name: every reader of the position
        (status, bench, tests) keeps asking one name."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("SELECT identiteit FROM ijw_stream WHERE bron = %s FOR UPDATE", (bron,))
            row = curs.fetchone()
            oud = str(row["identiteit"]) if row else "unknown"
            curs.execute(
                "INSERT INTO ijw_afwijzing_eerder SELECT %s, stream_seq, subject, reden, pogingen, "
                "afgewezen_op, hersteld_op FROM ijw_afwijzing ON CONFLICT DO NOTHING", (oud,))
            curs.execute("DELETE FROM ijw_afwijzing")
            # findings are keyed by the old stream's sequences; re-sent messages bring theirs
            curs.execute("DELETE FROM ijw_bevinding")
            curs.execute("DELETE FROM ijw_bericht_telling")
            curs.execute(
                SQL("DELETE FROM {0}.{1} WHERE application_name = %s RETURNING notification_id")
                .format(Identifier(self.datastore.schema), Identifier(self.tracking_table_name)),
                (bron,))
            was = curs.fetchone()
            curs.execute("INSERT INTO ijw_stream (bron, identiteit) VALUES (%s, %s) "
                         "ON CONFLICT (bron) DO UPDATE SET identiteit = EXCLUDED.identiteit, "
                         "sinds = now()", (bron, identiteit))
            return int(was["notification_id"]) if was else 0


def bij_gelijktijdige_start(maak: Callable[[], None], pogingen: int = 10) -> None:
    """Create tables even when another process does so at the same moment.

    Ingest and projector often start together on an empty database; PostgreSQL's CREATE
    TYPE / CREATE TABLE IF NOT EXISTS / CREATE OR REPLACE FUNCTION can then fail (unique
    violation, "tuple concurrently updated") for the one that loses the race. The objects
    exist by then, so trying again succeeds."""
    for poging in range(pogingen):
        try:
            maak()
            return
        except (IntegrityError, InternalError, ProgrammingError, psycopg.errors.UniqueViolation,
                psycopg.errors.DuplicateObject, psycopg.errors.InternalError_) as error:
            gelijktijdig = not isinstance(error, ProgrammingError) or "already exists" in str(error)
            if not gelijktijdig or poging == pogingen - 1:
                raise
            time.sleep(0.1 * (poging + 1))


def library_env(database_url: str, schema: str | None = None, *,
                tabellen: bool = True) -> dict[str, str]:
    """The library's configuration (its own environment keys) from one PostgreSQL DSN, the
    schema of a partition (services/partities.py), and whether to create its tables (not on
    a read replica)."""
    parts = conninfo_to_dict(database_url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(parts.get("dbname", "postgres")),
        "POSTGRES_HOST": str(parts.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(parts.get("port", "5432")),
        "POSTGRES_USER": str(parts.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(parts.get("password", "")),
        "PROCESS_RECORDER_TOPIC": f"{IngestRecorder.__module__}:{IngestRecorder.__qualname__}",
        # the library's JSON, byte for byte, written by orjson: less CPU for every event
        # ingest stores (services/eventstore/transcoder.py)
        "TRANSCODER_TOPIC": f"{OrjsonTranscoder.__module__}:{OrjsonTranscoder.__qualname__}",
        "CREATE_TABLE": "y" if tabellen else "n",
        "POSTGRES_POOL_SIZE": "4",
        "POSTGRES_LOCK_TIMEOUT": "30",
        # how long a caller waits for a pooled connection (the library's default is 30 s): a
        # database that is away then shows within seconds, not after half a minute of silence
        "POSTGRES_CONNECT_TIMEOUT": "5",
    }
    if schema is not None:
        env["POSTGRES_SCHEMA"] = schema
    return env


# stored events `Gebeurtenissen.laad` keeps decoded: enough for what ingest touches again
# within weeks (a JW305 after its JW301, a JW325 after its JW323) in a partition of a dozen
# regions; 0.5 KB a toewijzing version, 7 KB a declaration of 13 lines (tracemalloc): 210 MB
# if all were such declarations; at 1M events ingest's peak RSS grew 272 -> 384 MB of 500
GELEZEN_EVENTS = 30_000


class Gebeurtenissen(Application[UUID]):
    """All domain events of jeugdstroom, in tables `jeugdstroom_events` and `jeugdstroom_tracking`.

    With a `schema` (a partition's) everything lives in that schema: the library qualifies
    its own tables with it, and every connection of the pool gets it as its search_path, so
    the views, rejections and audit, written with plain table names, land there too. The
    libpq `options` of the URL reach every connection as well. `alleen_lezen`: a read
    replica, on which nothing is created (the primary's services create it)."""

    name = APPLICATION_NAME
    # the default schema, as the library's runners construct it (from an env, past __init__)
    _schema: str | None = None
    _alleen_lezen = False
    _opties = ""

    def __init__(self, database_url: str, schema: str | None = None, *,
                 alleen_lezen: bool = False) -> None:
        self._schema, self._alleen_lezen = schema, alleen_lezen
        # the decoded stored events of the aggregates `laad` read, oldest use first
        self._gelezen: OrderedDict[UUID, list[Any]] = OrderedDict()
        self._gelezen_aantal = 0
        opties = [str(conninfo_to_dict(database_url).get("options") or ""),
                  f"-c search_path={schema}" if schema else ""]
        self._opties = " ".join(o for o in opties if o)
        bij_gelijktijdige_start(lambda: super(Gebeurtenissen, self).__init__(
            env=library_env(database_url, schema, tabellen=not alleen_lezen)))

    def construct_factory(self, env: Environment) -> InfrastructureFactory:
        factory = super().construct_factory(env)
        datastore = cast(PostgresFactory, factory).datastore
        if self._opties:
            # before the pool opens (the recorders' CREATE TABLE opens it): every connection
            kwargs = cast(dict[str, Any], datastore.pool.kwargs)  # the library passes a dict
            datastore.pool.kwargs = {**kwargs, "options": self._opties}
        if self._schema is not None and not self._alleen_lezen:
            with datastore.transaction(commit=True) as curs:
                curs.execute(SQL("CREATE SCHEMA IF NOT EXISTS {0}").format(Identifier(self._schema)))
        return factory

    def construct_recorder(self) -> IngestRecorder:
        recorder = self.factory.process_recorder()
        assert isinstance(recorder, IngestRecorder)
        return recorder

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(DataclassAsDict(Declaratieregel))

    @property
    def ingest_recorder(self) -> IngestRecorder:
        assert isinstance(self.recorder, IngestRecorder)
        return self.recorder

    def positie(self, bron: str) -> int:
        """The last stream sequence of `bron` whose outcome is committed (0: none yet)."""
        return self.ingest_recorder.max_tracking_id(bron) or 0

    def leg_vast(
        self,
        aggregates: Iterable[Aggregate],
        *,
        tracking: Tracking | None,
        afwijzingen: Sequence[Afwijzing] = (),
        hersteld: Sequence[int] = (),
        stream: tuple[str, str, str] | None = None,
        bevindingen: Sequence[Bevindingrij] = (),
        tellingen: Sequence[Berichttelling] = (),
    ) -> int:
        """Commit the aggregates' new events, rejections and tracking position atomically.

        Uses the library's ProcessingEvent, as its own event-processing applications do,
        so that events and tracking are one transaction. Returns the number of new events.
        """
        processing_event = ProcessingEvent[UUID](tracking=tracking)
        # what ProcessingEvent.collect_events does, without its two typing-Protocol
        # isinstance checks per aggregate (they cost more than collecting the events)
        for aggregate in aggregates:
            if aggregate.pending_events:
                processing_event.events.extend(aggregate.collect_events())
                processing_event.aggregates[aggregate.id] = aggregate
        processing_event.saved_kwargs.update(afwijzingen=afwijzingen, hersteld=hersteld,
                                             stream=stream, bevindingen=bevindingen,
                                             tellingen=tellingen)
        recordings = self._record(processing_event)
        self._notify(recordings)
        self._houd_bij(processing_event.events)
        return len(processing_event.events)

    def _houd_bij(self, events: Sequence[Any]) -> None:
        """Keep the events just committed with those `laad` decoded, so that the next batch
        touching their aggregates (a JW305 after its JW301, a JW325 after its JW323) does not
        read and decode them again."""
        gelezen = self._gelezen
        for event in events:
            eerder = gelezen.get(event.originator_id)
            if eerder is not None and eerder[-1].originator_version == event.originator_version - 1:
                eerder.append(event)
            elif eerder is None and event.originator_version == 1:
                gelezen[event.originator_id] = [event]
            else:  # not what this process read: `laad` reads it all again
                self._gelezen_aantal -= len(gelezen.pop(event.originator_id, ()))
                continue
            self._gelezen_aantal += 1
        self._begrens()

    def laad(self, aggregate_ids: Iterable[UUID]) -> dict[UUID, Aggregate]:
        """Many aggregates in one query: the repository's reconstruction (mapper, then each
        event's mutate(), as project_aggregate does, without its per-event protocol
        isinstance assertion, which cost more than the mutation), batched because one SELECT
        per aggregate dominated ingest.

        The stored events it decoded, and those `leg_vast` committed, are kept (`GELEZEN_EVENTS`
        at most): a later call reads only the events stored since, by this process or any
        other, so what is kept is never stale, only short; reading and decoding them again in
        every batch that touched their aggregate was a tenth of ingest's CPU."""
        ids = list(set(aggregate_ids))
        if not ids:
            return {}
        gelezen = self._gelezen
        versies = [gelezen[i][-1].originator_version if i in gelezen else 0 for i in ids]
        with self.ingest_recorder.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT e.originator_id, e.originator_version, e.topic, e.state FROM {0} e "
                    "JOIN unnest(%b::uuid[], %b::bigint[]) AS k(id, versie) "
                    "ON e.originator_id = k.id AND e.originator_version > k.versie "
                    "ORDER BY e.originator_id, e.originator_version"
                    ).format(Identifier(self.ingest_recorder.events_table_name)),
                (ids, versies), binary=True,
            )
            rows = curs.fetchall()
        for row in rows:
            gelezen.setdefault(row["originator_id"], []).append(self.mapper.to_domain_event(
                StoredEvent(originator_id=row["originator_id"],
                            originator_version=row["originator_version"],
                            topic=row["topic"], state=bytes(row["state"]))))
        self._gelezen_aantal += len(rows)
        aggregates: dict[UUID, Aggregate] = {}
        for key in ids:
            events = gelezen.get(key)
            if events is None:
                continue  # not stored yet
            gelezen.move_to_end(key)
            aggregate: Aggregate | None = None
            for event in events:
                aggregate = event.mutate(aggregate)
            assert aggregate is not None  # an aggregate has at least its created event
            aggregates[key] = aggregate
        self._begrens(blijven=len(aggregates))
        return aggregates

    def _begrens(self, blijven: int = 0) -> None:
        """Drop the least recently used aggregates' events past `GELEZEN_EVENTS`, but never
        the last `blijven` (the ones a read just returned)."""
        while self._gelezen_aantal > GELEZEN_EVENTS and len(self._gelezen) > blijven:
            self._gelezen_aantal -= len(self._gelezen.popitem(last=False)[1])

    def laatst_vastgelegd(self) -> datetime | None:
        """When ingest last committed anything: the newest event's or rejection's time."""
        with self.ingest_recorder.datastore.transaction(commit=False) as curs:
            curs.execute(
                SQL("SELECT originator_id, originator_version, topic, state FROM {0} "
                    "ORDER BY notification_id DESC LIMIT 1"
                    ).format(Identifier(self.ingest_recorder.events_table_name)))
            row = curs.fetchone()
            curs.execute("SELECT max(afgewezen_op) AS op FROM ijw_afwijzing")
            afgewezen = curs.fetchone()
        tijden: list[datetime] = []
        if row is not None:
            event = cast(Aggregate.Event, self.mapper.to_domain_event(StoredEvent(
                originator_id=row["originator_id"], originator_version=row["originator_version"],
                topic=row["topic"], state=bytes(row["state"]))))
            tijden.append(event.timestamp)
        if afgewezen is not None and afgewezen["op"] is not None:
            tijden.append(afgewezen["op"])
        return max(tijden) if tijden else None

    def afwijzingen(self, *, ook_hersteld: bool = False) -> list[Afwijzing]:
        with self.ingest_recorder.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT stream_seq, subject, reden, pogingen, afgewezen_op, hersteld_op "
                "FROM ijw_afwijzing WHERE %s OR hersteld_op IS NULL ORDER BY stream_seq",
                (ook_hersteld,),
            )
            return [Afwijzing(**row) for row in curs.fetchall()]

    def afwijzing(self, stream_seq: int) -> Afwijzing | None:
        with self.ingest_recorder.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT stream_seq, subject, reden, pogingen, afgewezen_op, hersteld_op "
                "FROM ijw_afwijzing WHERE stream_seq = %s",
                (stream_seq,),
            )
            row = curs.fetchone()
            return Afwijzing(**row) if row else None
