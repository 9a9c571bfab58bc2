"""The care view on PostgreSQL (see `projections.zorgview` for what is stored and why).

`zorg_versie`, `zorg_start` and `zorg_stop` keep every record as the event store holds it (to
decide the periods again when a later message touches the same toewijzing, start or stop);
`zorg_periode`, `zorg_startperiode` and `zorg_stopperiode` keep the knowledge-time periods
[bekend_vanaf, bekend_tot) that the care questions read. A care question is three indexed
reads in one snapshot; the care rules then compute the figures from what they return. The
writes and the library's tracking record (its own table, `zorg_tracking`) share one
transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier

from projections.flow import Sleutel, Versie
from projections.zorg import Start, Stop
from projections.zorgview import (
    Startperiode,
    Stopperiode,
    Zorggegevens,
    Zorgpagina,
    Zorgperiode,
    ZorgSchrijver,
)

_KENNIS = "daterange(bekend_vanaf, bekend_tot)"
_ZORG = ("daterange(ingangsdatum, "
         "CASE WHEN einddatum < ingangsdatum THEN ingangsdatum ELSE einddatum END, '[]')")
_BIJ_K = "bekend_vanaf <= %(k)s AND (bekend_tot IS NULL OR bekend_tot > %(k)s)"
_VERSIE = ("gemeentecode, toewijzingnummer, client, categorie, code, toegewezen_op, ingangsdatum, "
           "einddatum, reden_wijziging, dagtekening, identificatie")
_VERSIE_DDL = """gemeentecode text NOT NULL, toewijzingnummer text NOT NULL, client text NOT NULL,
        categorie text, code text, toegewezen_op timestamp NOT NULL, ingangsdatum date NOT NULL,
        einddatum date, reden_wijziging text, dagtekening date NOT NULL, identificatie text NOT NULL"""
_START = ("gemeentecode, toewijzingnummer, begindatum, status_aanlevering, dagtekening, "
          "identificatie, aanbieder")
_STOP = ("gemeentecode, toewijzingnummer, begindatum, einddatum, reden_beeindiging, "
         "status_aanlevering, dagtekening, identificatie, aanbieder")
_MELDING_DDL = """gemeentecode text NOT NULL, toewijzingnummer text NOT NULL, nummer bigint NOT NULL,
        begindatum date NOT NULL"""

_TABLES: list[Composable] = [
    SQL("""CREATE TABLE IF NOT EXISTS zorg_toewijzing (
        originator_id uuid PRIMARY KEY, gemeentecode text NOT NULL, toewijzingnummer text NOT NULL)"""),
    SQL(f"""CREATE TABLE IF NOT EXISTS zorg_versie (
        notification_id bigint PRIMARY KEY, nummer bigint NOT NULL, {_VERSIE_DDL})"""),
    SQL("CREATE INDEX IF NOT EXISTS zorg_versie_toewijzing ON zorg_versie (gemeentecode, nummer)"),
    SQL(f"""CREATE TABLE IF NOT EXISTS zorg_periode (
        nummer bigint NOT NULL, {_VERSIE_DDL}, bekend_vanaf date NOT NULL, bekend_tot date)"""),
    SQL("CREATE INDEX IF NOT EXISTS zorg_periode_toewijzing ON zorg_periode (gemeentecode, nummer)"),
    # the versions running on the reference date at K: knowledge time x care time, as the
    # GiST indexes of flow_periode and geld_periode (the CASE keeps an end before the start
    # from failing the insert; the plain conditions beside it stay exact)
    SQL(f"CREATE INDEX IF NOT EXISTS zorg_periode_kennis_zorg ON zorg_periode USING gist "
        f"({_KENNIS}, {_ZORG})"),
    SQL(f"""CREATE TABLE IF NOT EXISTS zorg_start (
        notification_id bigint PRIMARY KEY, {_MELDING_DDL}, status_aanlevering text NOT NULL,
        dagtekening date NOT NULL, identificatie text NOT NULL, aanbieder text NOT NULL)"""),
    SQL("CREATE INDEX IF NOT EXISTS zorg_start_sleutel ON zorg_start (gemeentecode, nummer, begindatum)"),
    SQL(f"""CREATE TABLE IF NOT EXISTS zorg_startperiode (
        {_MELDING_DDL}, bekend_vanaf date NOT NULL, bekend_tot date)"""),
    SQL("CREATE INDEX IF NOT EXISTS zorg_startperiode_sleutel ON zorg_startperiode "
        "(gemeentecode, nummer, begindatum)"),
    SQL("CREATE INDEX IF NOT EXISTS zorg_startperiode_venster ON zorg_startperiode "
        "(begindatum, gemeentecode)"),
    SQL(f"""CREATE TABLE IF NOT EXISTS zorg_stop (
        notification_id bigint PRIMARY KEY, {_MELDING_DDL}, einddatum date NOT NULL,
        reden_beeindiging text, status_aanlevering text NOT NULL, dagtekening date NOT NULL,
        identificatie text NOT NULL, aanbieder text NOT NULL)"""),
    SQL("CREATE INDEX IF NOT EXISTS zorg_stop_sleutel ON zorg_stop "
        "(gemeentecode, nummer, begindatum, einddatum)"),
    SQL(f"""CREATE TABLE IF NOT EXISTS zorg_stopperiode (
        {_MELDING_DDL}, einddatum date NOT NULL, reden_beeindiging text,
        bekend_vanaf date NOT NULL, bekend_tot date)"""),
    SQL("CREATE INDEX IF NOT EXISTS zorg_stopperiode_sleutel ON zorg_stopperiode "
        "(gemeentecode, nummer, begindatum, einddatum)"),
    SQL("CREATE INDEX IF NOT EXISTS zorg_stopperiode_venster ON zorg_stopperiode "
        "(einddatum, gemeentecode)"),
]

# toewijzingen with a start or a stop in force at K in the window (`zorgview.nodig`)
_MET_MELDING = (
    f"SELECT gemeentecode, nummer FROM zorg_startperiode WHERE {_BIJ_K} "  # noqa: S608
    "AND begindatum BETWEEN %(van)s AND %(tot)s AND gemeentecode = ANY(%(gemeenten)s) "
    f"UNION SELECT gemeentecode, nummer FROM zorg_stopperiode WHERE {_BIJ_K} "
    "AND einddatum BETWEEN %(van)s AND %(tot)s AND gemeentecode = ANY(%(gemeenten)s)")


class PostgresZorgView(PostgresTrackingRecorder):
    """The care view on PostgreSQL: read tables plus the library's tracking table."""

    def __init__(self, *args: Any, application_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.application_name = application_name
        self.sql_create_statements.extend(Composed([t]) for t in _TABLES)

    @contextmanager
    def schrijf(self, tot: int) -> Iterator[ZorgSchrijver]:
        with self.datastore.transaction(commit=True) as curs:
            yield _PostgresSchrijver(curs)
            self._insert_tracking(curs, Tracking(self.application_name, tot))

    def positie(self) -> int:
        return self.max_tracking_id(self.application_name) or 0

    def gegevens_op(self, gemeenten: Iterable[str], k: date, van: date, peildatum: date,
                    start_termijn: int) -> Zorggegevens:
        """Three reads in one snapshot (the same rows as `zorgview.selecteer`): the counting
        versions at K old enough at the reference date or with a start or stop in the window,
        the starts at K of those toewijzingen up to the peildatum, and the stops at K in the
        window."""
        if peildatum < van:
            return Zorggegevens([], [], [])
        referentie = min(k, peildatum)
        p = {"gemeenten": list(gemeenten), "k": k, "van": van, "tot": peildatum,
             "ref": referentie, "oud": referentie - timedelta(days=start_termijn)}
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(
                f"SELECT nummer, {_VERSIE} FROM zorg_periode "  # noqa: S608
                f"WHERE {_KENNIS} @> %(k)s::date AND {_ZORG} @> %(ref)s::date AND {_BIJ_K} "
                "AND gemeentecode = ANY(%(gemeenten)s) AND ingangsdatum <= %(oud)s "
                "AND (einddatum IS NULL OR einddatum >= %(ref)s) "
                f"UNION SELECT p.nummer, {', '.join('p.' + c for c in _VERSIE.split(', '))} "
                f"FROM ({_MET_MELDING}) m JOIN zorg_periode p USING (gemeentecode, nummer) "
                "WHERE p.bekend_vanaf <= %(k)s AND (p.bekend_tot IS NULL OR p.bekend_tot > %(k)s)",
                p, binary=True)
            rijen = _rijen(curs)
            versies = [Versie(*r[1:]) for r in rijen]
            curs.execute(
                "SELECT s.gemeentecode, s.toewijzingnummer, s.begindatum, s.bekend_vanaf "
                "FROM zorg_startperiode s JOIN unnest(%(sg)s::text[], %(sn)s::bigint[]) "
                "AS t(gemeentecode, nummer) USING (gemeentecode, nummer) "
                "WHERE s.bekend_vanaf <= %(k)s AND (s.bekend_tot IS NULL OR s.bekend_tot > %(k)s) "
                "AND s.begindatum <= %(tot)s",
                {**p, "sg": [r[1] for r in rijen], "sn": [r[0] for r in rijen]}, binary=True)
            starts = [Start(g, n, b, "1", d, "") for g, n, b, d in _rijen(curs)]
            curs.execute(
                "SELECT gemeentecode, toewijzingnummer, begindatum, einddatum, reden_beeindiging, "  # noqa: S608
                f"bekend_vanaf FROM zorg_stopperiode WHERE {_BIJ_K} "
                "AND einddatum BETWEEN %(van)s AND %(tot)s AND gemeentecode = ANY(%(gemeenten)s)",
                p, binary=True)
            stops = [Stop(g, n, b, e, r, "1", d, "") for g, n, b, e, r, d in _rijen(curs)]
        return Zorggegevens(versies, starts, stops)

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        if not ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute("SELECT originator_id, gemeentecode, toewijzingnummer "
                         "FROM zorg_toewijzing WHERE originator_id = ANY(%b)", (list(ids),))
            return {r[0]: (r[1], r[2]) for r in curs.fetchall()}  # type: ignore[index]

    def wis(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("TRUNCATE zorg_toewijzing, zorg_versie, zorg_periode, zorg_start, "
                         "zorg_startperiode, zorg_stop, zorg_stopperiode")
            curs.execute(SQL("DELETE FROM {0} WHERE application_name = %s").format(
                Identifier(self.tracking_table_name)), (self.application_name,))


def _rijen(curs: Cursor[Any]) -> list[tuple[Any, ...]]:
    """The rows of a cursor whose row factory was set to tuples."""
    return cast(list[tuple[Any, ...]], curs.fetchall())


def _versierij(v: Versie) -> tuple[object, ...]:
    return (v.gemeentecode, v.toewijzingnummer, v.client, v.categorie, v.code, v.toegewezen_op,
            v.ingangsdatum, v.einddatum, v.reden_wijziging, v.dagtekening, v.identificatie)


def _kolommen(sleutels: set[tuple[object, ...]]) -> list[list[object]]:
    """Logical keys (gemeentecode, nummer, begindatum[, einddatum]) as one array per column."""
    return [list(kolom) for kolom in zip(*sleutels, strict=True)]


class _PostgresSchrijver:
    """Set-based per page: COPY for new rows, one query per kind of read."""

    def __init__(self, curs: Cursor[DictRow]) -> None:
        self.curs = curs

    def voeg_toe(self, pagina: Zorgpagina) -> None:
        with self.curs.copy("COPY zorg_toewijzing FROM STDIN") as copy:
            for rij in pagina.toewijzingen:
                copy.write_row(rij)
        with self.curs.copy(f"COPY zorg_versie (notification_id, nummer, {_VERSIE}) FROM STDIN") as copy:
            for nid, v in pagina.versies:
                copy.write_row((nid, v.sleutel[1], *_versierij(v)))
        with self.curs.copy(f"COPY zorg_start (notification_id, nummer, {_START}) FROM STDIN") as copy:
            for nid, start in pagina.starts:
                copy.write_row((nid, start.toewijzing[1], start.gemeentecode,
                                start.toewijzingnummer, start.begindatum,
                                start.status_aanlevering, start.dagtekening, start.identificatie,
                                start.aanbieder))
        with self.curs.copy(f"COPY zorg_stop (notification_id, nummer, {_STOP}) FROM STDIN") as copy:
            for nid, s in pagina.stops:
                copy.write_row((nid, s.toewijzing[1], s.gemeentecode, s.toewijzingnummer,
                                s.begindatum, s.einddatum, s.reden_beeindiging,
                                s.status_aanlevering, s.dagtekening, s.identificatie,
                                s.aanbieder))

    def versies_van(self, toewijzingen: set[Sleutel]) -> dict[Sleutel, list[Versie]]:
        result: dict[Sleutel, list[Versie]] = defaultdict(list)
        if not toewijzingen:
            return result
        gemeenten, nummers = _kolommen(set(toewijzingen))
        self.curs.row_factory = tuple_row  # type: ignore[assignment]
        self.curs.execute(
            f"SELECT {_VERSIE} FROM zorg_versie "  # noqa: S608
            "JOIN unnest(%b::text[], %b::bigint[]) AS t(gemeentecode, nummer) "
            "USING (gemeentecode, nummer)", (gemeenten, nummers))
        for r in _rijen(self.curs):
            v = Versie(*r)
            result[v.sleutel].append(v)
        return result

    def starts_van(self, sleutels: set[tuple[object, ...]]) -> dict[tuple[object, ...], list[Start]]:
        result: dict[tuple[object, ...], list[Start]] = defaultdict(list)
        if not sleutels:
            return result
        self.curs.row_factory = tuple_row  # type: ignore[assignment]
        self.curs.execute(
            f"SELECT {', '.join('s.' + c for c in _START.split(', '))} FROM zorg_start s "  # noqa: S608
            "JOIN unnest(%b::text[], %b::bigint[], %b::date[]) AS t(gemeentecode, nummer, begindatum) "
            "USING (gemeentecode, nummer, begindatum)", _kolommen(sleutels))
        for r in _rijen(self.curs):
            start = Start(*r)
            result[start.logische_sleutel].append(start)
        return result

    def stops_van(self, sleutels: set[tuple[object, ...]]) -> dict[tuple[object, ...], list[Stop]]:
        result: dict[tuple[object, ...], list[Stop]] = defaultdict(list)
        if not sleutels:
            return result
        self.curs.row_factory = tuple_row  # type: ignore[assignment]
        self.curs.execute(
            f"SELECT {', '.join('s.' + c for c in _STOP.split(', '))} FROM zorg_stop s "  # noqa: S608
            "JOIN unnest(%b::text[], %b::bigint[], %b::date[], %b::date[]) "
            "AS t(gemeentecode, nummer, begindatum, einddatum) "
            "USING (gemeentecode, nummer, begindatum, einddatum)", _kolommen(sleutels))
        for r in _rijen(self.curs):
            stop = Stop(*r)
            result[stop.logische_sleutel].append(stop)
        return result

    def vervang_perioden(self, toewijzingen: set[Sleutel], perioden: Iterable[Zorgperiode]) -> None:
        if not toewijzingen:
            return
        self.curs.execute(
            "DELETE FROM zorg_periode p USING unnest(%b::text[], %b::bigint[]) "
            "AS t(gemeentecode, nummer) WHERE p.gemeentecode = t.gemeentecode "
            "AND p.nummer = t.nummer", _kolommen(set(toewijzingen)))
        with self.curs.copy(f"COPY zorg_periode (nummer, {_VERSIE}, bekend_vanaf, bekend_tot) "
                            "FROM STDIN") as copy:
            for p in perioden:
                copy.write_row((p.waarde.sleutel[1], *_versierij(p.waarde), p.bekend_vanaf,
                                p.bekend_tot))

    def vervang_starts(self, sleutels: set[tuple[object, ...]],
                       perioden: Iterable[Startperiode]) -> None:
        if not sleutels:
            return
        self.curs.execute(
            "DELETE FROM zorg_startperiode p USING unnest(%b::text[], %b::bigint[], %b::date[]) "
            "AS t(gemeentecode, nummer, begindatum) WHERE p.gemeentecode = t.gemeentecode "
            "AND p.nummer = t.nummer AND p.begindatum = t.begindatum", _kolommen(sleutels))
        with self.curs.copy("COPY zorg_startperiode (gemeentecode, toewijzingnummer, nummer, "
                            "begindatum, bekend_vanaf, bekend_tot) FROM STDIN") as copy:
            for p in perioden:
                start = p.waarde
                copy.write_row((start.gemeentecode, start.toewijzingnummer, start.toewijzing[1],
                                start.begindatum, p.bekend_vanaf, p.bekend_tot))

    def vervang_stops(self, sleutels: set[tuple[object, ...]],
                      perioden: Iterable[Stopperiode]) -> None:
        if not sleutels:
            return
        self.curs.execute(
            "DELETE FROM zorg_stopperiode p USING unnest(%b::text[], %b::bigint[], %b::date[], "
            "%b::date[]) AS t(gemeentecode, nummer, begindatum, einddatum) "
            "WHERE p.gemeentecode = t.gemeentecode AND p.nummer = t.nummer "
            "AND p.begindatum = t.begindatum AND p.einddatum = t.einddatum", _kolommen(sleutels))
        with self.curs.copy("COPY zorg_stopperiode (gemeentecode, toewijzingnummer, nummer, "
                            "begindatum, einddatum, reden_beeindiging, bekend_vanaf, bekend_tot) "
                            "FROM STDIN") as copy:
            for p in perioden:
                s = p.waarde
                copy.write_row((s.gemeentecode, s.toewijzingnummer, s.toewijzing[1],
                                s.begindatum, s.einddatum, s.reden_beeindiging, p.bekend_vanaf,
                                p.bekend_tot))
