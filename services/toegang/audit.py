"""The access audit log: who asked for which detail, and every denied request.

Append-only: the application inserts and reads, never updates or deletes (a database role
without UPDATE/DELETE on the table makes that hold for people too, deploy/toegang.md). What a
row holds is what was asked (route and query string), never the token; a pseudonym appears
only when the caller put one in the question.

Two implementations of one small interface, as the flow view has: PostgreSQL (the table
`toegang_audit` in the event store's database) and in memory (unit tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

MAX_PARAMETERS = 2000  # a query string, not a document: longer ones are cut
MAX_IN_GEHEUGEN = 10_000  # rows the in-memory log keeps (serve --insecure-no-auth runs for days)


@dataclass(frozen=True)
class AuditRegel:
    moment: datetime
    sub: str | None  # None: no (valid) token, so nobody known
    rol: str | None  # the role that granted it, or the roles the token had when denied
    route: str
    parameters: str  # the query string, without any token
    status: int
    reden: str = ""  # why it was logged: detail, replay, denied and why


class AuditLog(Protocol):
    def voeg_toe(self, regel: AuditRegel) -> None: ...

    def lees(self, *, sinds: datetime | None = None, wie: str | None = None,
             max_regels: int = 1000) -> list[AuditRegel]: ...


def kort(parameters: str) -> str:
    return parameters if len(parameters) <= MAX_PARAMETERS else parameters[:MAX_PARAMETERS] + "..."


@dataclass
class AuditInGeheugen:
    regels: list[AuditRegel] = field(default_factory=list)

    def voeg_toe(self, regel: AuditRegel) -> None:
        self.regels.append(regel)
        if len(self.regels) > MAX_IN_GEHEUGEN:
            del self.regels[:len(self.regels) - MAX_IN_GEHEUGEN]

    def lees(self, *, sinds: datetime | None = None, wie: str | None = None,
             max_regels: int = 1000) -> list[AuditRegel]:
        gevonden = [r for r in self.regels if (sinds is None or r.moment >= sinds)
                    and (wie is None or r.sub == wie)]
        return gevonden[-max_regels:]


_TABEL = """
CREATE TABLE IF NOT EXISTS toegang_audit (
    id bigserial PRIMARY KEY,
    moment timestamptz NOT NULL DEFAULT now(),
    sub text,
    rol text,
    route text NOT NULL,
    parameters text NOT NULL,
    status integer NOT NULL,
    reden text NOT NULL DEFAULT ''
)
"""
_INDEX = "CREATE INDEX IF NOT EXISTS toegang_audit_sub_moment ON toegang_audit (sub, moment)"


class PostgresAudit:
    """`toegang_audit` through the eventsourcing library's datastore (its connection pool)."""

    def __init__(self, datastore: Any, nu: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.datastore = datastore
        self._nu = nu

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(_TABEL)
            curs.execute(_INDEX)

    def voeg_toe(self, regel: AuditRegel) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                "INSERT INTO toegang_audit (moment, sub, rol, route, parameters, status, reden) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                (regel.moment, regel.sub, regel.rol, regel.route, kort(regel.parameters),
                 regel.status, regel.reden))

    def lees(self, *, sinds: datetime | None = None, wie: str | None = None,
             max_regels: int = 1000) -> list[AuditRegel]:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(
                "SELECT moment, sub, rol, route, parameters, status, reden FROM ("
                "  SELECT * FROM toegang_audit"
                "  WHERE (%s::timestamptz IS NULL OR moment >= %s) AND (%s::text IS NULL OR sub = %s)"
                "  ORDER BY id DESC LIMIT %s) laatste ORDER BY id",
                (sinds, sinds, wie, wie, max_regels))
            return [AuditRegel(**rij) for rij in curs.fetchall()]
