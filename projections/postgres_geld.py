"""The money view on PostgreSQL (see `projections.geldview` for what is stored and why).

`geld_periode` holds, per toewijzing, its counting version with the money attributes and the
knowledge-time interval [bekend_vanaf, bekend_tot) in which it counts, with a GiST index over
knowledge time x care time like `flow_periode`; `geld_regel` holds per declaration line the
copy that counts (one row answers every K), `geld_afwijzing` per rejected line the earliest
Dagtekening of a JW325 that lists it. A money question is two indexed reads in one
transaction; the money rules then compute the figures from what they return. The writes and
the library's tracking record (its own table, `geld_tracking`) share one transaction.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier

from projections.flow import Sleutel
from projections.geld import Afwijzing, Geldend, Geldversie, Regel, Regelgroep, regelsleutel
from projections.geldview import (
    Geldgegevens,
    Geldpagina,
    Geldperiode,
    GeldSchrijver,
    Geldsommen,
    Identiteit,
)
from projections.postgres import LiveAntwoorden

_KENNIS = "daterange(bekend_vanaf, bekend_tot)"
_ZORG = ("daterange(ingangsdatum, "
         "CASE WHEN einddatum < ingangsdatum THEN ingangsdatum ELSE einddatum END, '[]')")

_VERSIE = ("gemeentecode, toewijzingnummer, client, categorie, code, toegewezen_op, ingangsdatum, "
           "einddatum, reden_wijziging, dagtekening, identificatie, aanbieder, volume, eenheid, "
           "frequentie, budget")
_REGEL = ("gemeentecode, aanbieder, referentienummer, vorig_referentienummer, toewijzingnummer, "
          "client, categorie, code, begindatum, einddatum, bedrag, declaratie, dagtekening")
_VERSIE_DDL = """gemeentecode text NOT NULL, toewijzingnummer text NOT NULL, client text NOT NULL,
        categorie text, code text, toegewezen_op timestamp NOT NULL, ingangsdatum date NOT NULL,
        einddatum date, reden_wijziging text, dagtekening date NOT NULL, identificatie text NOT NULL,
        aanbieder text, volume bigint, eenheid text, frequentie text, budget bigint"""

_TABLES: list[Composable] = [
    SQL("""CREATE TABLE IF NOT EXISTS geld_toewijzing (
        originator_id uuid PRIMARY KEY, gemeentecode text NOT NULL, toewijzingnummer text NOT NULL)"""),
    SQL("""CREATE TABLE IF NOT EXISTS geld_declaratie (
        originator_id uuid PRIMARY KEY, gemeentecode text NOT NULL, aanbieder text NOT NULL)"""),
    SQL(f"""CREATE TABLE IF NOT EXISTS geld_versie (
        notification_id bigint PRIMARY KEY, nummer bigint NOT NULL, {_VERSIE_DDL})"""),
    SQL("CREATE INDEX IF NOT EXISTS geld_versie_toewijzing ON geld_versie (gemeentecode, nummer)"),
    SQL(f"""CREATE TABLE IF NOT EXISTS geld_periode (
        nummer bigint NOT NULL, {_VERSIE_DDL},
        bekend_vanaf date NOT NULL, bekend_tot date)"""),
    SQL("CREATE INDEX IF NOT EXISTS geld_periode_toewijzing ON geld_periode (gemeentecode, nummer)"),
    SQL(f"CREATE INDEX IF NOT EXISTS geld_periode_kennis_zorg ON geld_periode USING gist "
        f"({_KENNIS}, {_ZORG})"),
    SQL("""CREATE TABLE IF NOT EXISTS geld_regel (
        gemeentecode text NOT NULL, aanbieder text NOT NULL, referentienummer text NOT NULL,
        vorig_referentienummer text, toewijzingnummer text NOT NULL, nummer bigint,
        client text NOT NULL, categorie text, code text, begindatum date NOT NULL,
        einddatum date NOT NULL, bedrag bigint NOT NULL, declaratie text NOT NULL,
        dagtekening date NOT NULL, PRIMARY KEY (aanbieder, referentienummer))"""),
    # a window's lines: by month of care, then the knowledge filter on the same entries
    SQL("CREATE INDEX IF NOT EXISTS geld_regel_venster ON geld_regel "
        "(begindatum, gemeentecode, dagtekening)"),
    SQL("""CREATE TABLE IF NOT EXISTS geld_afwijzing (
        aanbieder text NOT NULL, referentienummer text NOT NULL, dagtekening date NOT NULL,
        PRIMARY KEY (aanbieder, referentienummer))"""),
    # the live questions asked and their answers, kept by the projector (like flow_live)
    SQL("""CREATE TABLE IF NOT EXISTS geld_live (
        regio text NOT NULL, van date NOT NULL, peildatum date NOT NULL, gemeente text NOT NULL,
        dag date NOT NULL, positie bigint NOT NULL DEFAULT -1, telling jsonb,
        PRIMARY KEY (regio, van, peildatum, gemeente, dag))"""),
]

_REGELS_IN_VENSTER = (
    "FROM geld_regel r WHERE r.begindatum BETWEEN %(van)s AND %(tot)s "
    "AND r.gemeentecode = ANY(%(gemeenten)s) AND r.dagtekening <= %(k)s")


class PostgresGeldView(LiveAntwoorden, PostgresTrackingRecorder):
    """The money view on PostgreSQL: read tables plus the library's tracking table."""

    live_tabel = "geld_live"

    def __init__(self, *args: Any, application_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.application_name = application_name
        self.sql_create_statements.extend(Composed([t]) for t in _TABLES)

    @contextmanager
    def schrijf(self, tot: int) -> Iterator[GeldSchrijver]:
        with self.datastore.transaction(commit=True) as curs:
            yield _PostgresSchrijver(curs)
            self._insert_tracking(curs, Tracking(self.application_name, tot))

    def positie(self) -> int:
        return self.max_tracking_id(self.application_name) or 0

    def gegevens_op(self, gemeenten: Iterable[str], k: date, van: date,
                    peildatum: date) -> Geldgegevens:
        """Two indexed reads in one snapshot: the window's lines known at K with their
        rejection known at K, and the counting versions at K of the toewijzingen that overlap
        the window or that those lines name."""
        if peildatum < van:
            return Geldgegevens([], [], [])
        p = {"gemeenten": list(gemeenten), "k": k, "van": van, "tot": peildatum}
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(
                f"SELECT {', '.join('r.' + c for c in _REGEL.split(', '))}, a.dagtekening "  # noqa: S608
                "FROM geld_regel r LEFT JOIN geld_afwijzing a ON a.aanbieder = r.aanbieder "
                "AND a.referentienummer = r.referentienummer AND a.dagtekening <= %(k)s "
                + _REGELS_IN_VENSTER.removeprefix("FROM geld_regel r "), p, binary=True)
            regels, afwijzingen = [], []
            for *rij, afgewezen in curs.fetchall():
                regel = Regel(*rij)  # type: ignore[arg-type]  # tuple rows
                regels.append(regel)
                if afgewezen is not None:
                    afwijzingen.append(Afwijzing(regel.aanbieder, regel.referentienummer,
                                                 afgewezen))  # type: ignore[arg-type]
            versies = _versies(curs, p)
        return Geldgegevens(versies, regels, afwijzingen)

    def sommen_op(self, gemeenten: Iterable[str], k: date, van: date, peildatum: date,
                  per_maand: bool = False) -> Geldsommen:
        """One query, summed and trimmed in SQL to what `geld.kosten` reads (`_SOMMEN`)."""
        if peildatum < van:
            return Geldsommen([], [])
        p = {"gemeenten": list(gemeenten), "k": k, "van": van, "tot": peildatum}
        maand = "date_trunc('month', r.begindatum)::date" if per_maand else "NULL::date"
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            # a year's lines (tens of thousands) stay in memory instead of going to disk
            curs.execute("SET LOCAL work_mem = '64MB'")
            curs.execute(_SOMMEN.format(maand=maand), p, binary=True)
            rijen = curs.fetchall()
        geldend, groepen = [], []
        for rij in rijen:
            if rij[0]:  # type: ignore[index]  # tuple rows
                geldend.append(Geldend((rij[1], rij[2]), *rij[3:13]))  # type: ignore[index]
            else:
                groepen.append(Regelgroep(*rij[13:]))  # type: ignore[index]
        return Geldsommen(geldend, groepen)

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        return self._namen("SELECT originator_id, gemeentecode, toewijzingnummer "
                           "FROM geld_toewijzing WHERE originator_id = ANY(%b)", ids)

    def declaraties(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        return self._namen("SELECT originator_id, gemeentecode, aanbieder "
                           "FROM geld_declaratie WHERE originator_id = ANY(%b)", ids)

    def _namen(self, query: str, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        if not ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(query, (list(ids),))
            return {r[0]: (r[1], r[2]) for r in curs.fetchall()}  # type: ignore[index]

    def wis(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("TRUNCATE geld_toewijzing, geld_declaratie, geld_versie, geld_periode, "
                         "geld_regel, geld_afwijzing, geld_live")
            curs.execute(SQL("DELETE FROM {0} WHERE application_name = %s").format(
                Identifier(self.tracking_table_name)), (self.application_name,))


_GELDEND = ("gemeentecode, nummer, client, categorie, code, ingangsdatum, einddatum, aanbieder, "
            "volume, eenheid, frequentie, budget")  # geld.Geldend, its key in two columns


_GELEGD = ", ".join("NULL" for _ in _GELDEND.split(", "))

# A money question in one statement: the window's lines known at K, each with whether it is
# rejected at K (r); the counting versions at K of the toewijzingen that overlap the window
# (o, the GiST index) and of the few that a line names without overlapping it (n); then
# those versions (v) and the lines summed per toewijzing, client (and month), with the parts
# rejected and outside the counting version's [start, end], in one result (first column
# true: a version). Each table is read once, and the periods only where the index points.
_SOMMEN = (
    "WITH r AS MATERIALIZED (SELECT r.gemeentecode, r.nummer, r.client, r.begindatum, "  # noqa: S608
    "r.einddatum, r.bedrag, a.dagtekening IS NOT NULL AS afgewezen "
    "FROM geld_regel r LEFT JOIN geld_afwijzing a ON a.aanbieder = r.aanbieder "
    "AND a.referentienummer = r.referentienummer AND a.dagtekening <= %(k)s "
    + _REGELS_IN_VENSTER.removeprefix("FROM geld_regel r ") + "), "  # noqa: S608
    f"o AS MATERIALIZED (SELECT {_GELDEND} FROM geld_periode "
    f"WHERE {_KENNIS} @> %(k)s::date AND {_ZORG} && daterange(%(van)s, %(tot)s, '[]') "
    "AND gemeentecode = ANY(%(gemeenten)s) "
    "AND ingangsdatum <= %(tot)s AND (einddatum IS NULL OR einddatum >= %(van)s) "
    "AND bekend_vanaf <= %(k)s AND (bekend_tot IS NULL OR bekend_tot > %(k)s)), "
    f"n AS (SELECT p.* FROM (SELECT gemeentecode, nummer FROM r WHERE nummer IS NOT NULL "
    "EXCEPT SELECT gemeentecode, nummer FROM o) t "
    # per key through the index (OFFSET 0 keeps the planner from a scan of every period)
    f"CROSS JOIN LATERAL (SELECT {_GELDEND} FROM geld_periode p "
    "WHERE p.gemeentecode = t.gemeentecode AND p.nummer = t.nummer "
    "AND p.bekend_vanaf <= %(k)s AND (p.bekend_tot IS NULL OR p.bekend_tot > %(k)s) OFFSET 0) p), "
    "v AS (SELECT * FROM o UNION ALL SELECT * FROM n) "
    f"SELECT true, v.*, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM v UNION ALL "
    f"SELECT false, {_GELEGD}, r.gemeentecode, r.nummer, r.client, {{maand}}, "
    "sum(r.bedrag)::bigint, coalesce(sum(r.bedrag) FILTER (WHERE r.afgewezen), 0)::bigint, "
    "coalesce(sum(r.bedrag) FILTER (WHERE r.begindatum < v.ingangsdatum "
    "OR r.einddatum > v.einddatum), 0)::bigint "
    "FROM r LEFT JOIN v ON v.gemeentecode = r.gemeentecode AND v.nummer = r.nummer "
    "GROUP BY r.gemeentecode, r.nummer, r.client, {maand}")


def _versies_sql(kolommen: str) -> str:
    """The counting versions at K of the toewijzingen that overlap the window (GiST index)
    and of those that the window's lines known at K name but that do not overlap it: the two
    parts never share a toewijzing (it has one counting version at K), so no deduplication."""
    return (
        f"SELECT {kolommen} FROM geld_periode "  # noqa: S608
        f"WHERE {_KENNIS} @> %(k)s::date AND {_ZORG} && daterange(%(van)s, %(tot)s, '[]') "
        "AND gemeentecode = ANY(%(gemeenten)s) "
        "AND ingangsdatum <= %(tot)s AND (einddatum IS NULL OR einddatum >= %(van)s) "
        "AND bekend_vanaf <= %(k)s AND (bekend_tot IS NULL OR bekend_tot > %(k)s) "
        f"UNION ALL SELECT {', '.join('p.' + c for c in kolommen.split(', '))} "
        f"FROM (SELECT DISTINCT r.gemeentecode, r.nummer {_REGELS_IN_VENSTER} "
        "AND r.nummer IS NOT NULL) t "
        "JOIN geld_periode p USING (gemeentecode, nummer) "
        "WHERE p.bekend_vanaf <= %(k)s AND (p.bekend_tot IS NULL OR p.bekend_tot > %(k)s) "
        "AND NOT (p.ingangsdatum <= %(tot)s AND (p.einddatum IS NULL OR p.einddatum >= %(van)s))")


def _versies(curs: Cursor[Any], p: dict[str, Any]) -> list[Geldversie]:
    """The counting versions at K of the toewijzingen that overlap the window or that the
    window's lines known at K name."""
    curs.execute(_versies_sql(_VERSIE), p, binary=True)
    return [_geldversie(r) for r in curs.fetchall()]


def _geldversie(r: tuple[Any, ...]) -> Geldversie:
    return Geldversie(*r[:11], aanbieder=r[11], volume=r[12], eenheid=r[13],  # type: ignore[misc]
                      frequentie=r[14], budget=r[15])


def _versierij(v: Geldversie) -> tuple[object, ...]:
    return (v.gemeentecode, v.toewijzingnummer, v.client, v.categorie, v.code, v.toegewezen_op,
            v.ingangsdatum, v.einddatum, v.reden_wijziging, v.dagtekening, v.identificatie,
            v.aanbieder, v.volume, v.eenheid, v.frequentie, v.budget)


def _regelrij(r: Regel) -> tuple[object, ...]:
    return (r.gemeentecode, r.aanbieder, r.referentienummer, r.vorig_referentienummer,
            r.toewijzingnummer, r.client, r.categorie, r.code, r.begindatum, r.einddatum,
            r.bedrag, r.declaratie, r.dagtekening)


class _PostgresSchrijver:
    """Set-based per page: COPY for new rows, one query per kind of read."""

    def __init__(self, curs: Cursor[DictRow]) -> None:
        self.curs = curs

    def voeg_toe(self, pagina: Geldpagina) -> set[Sleutel]:
        with self.curs.copy("COPY geld_toewijzing FROM STDIN") as copy:
            for rij in pagina.toewijzingen:
                copy.write_row(rij)
        with self.curs.copy("COPY geld_declaratie FROM STDIN") as copy:
            for rij in pagina.declaraties:
                copy.write_row(rij)
        with self.curs.copy(f"COPY geld_versie (notification_id, nummer, {_VERSIE}) FROM STDIN") as copy:
            for nid, v in pagina.versies:
                copy.write_row((nid, v.sleutel[1], *_versierij(v)))
        return {v.sleutel for _, v in pagina.versies}

    def versies_van(self, toewijzingen: set[Sleutel]) -> dict[Sleutel, list[Geldversie]]:
        result: dict[Sleutel, list[Geldversie]] = defaultdict(list)
        if not toewijzingen:
            return result
        gemeenten, nummers = zip(*toewijzingen, strict=True)
        self.curs.row_factory = tuple_row  # type: ignore[assignment]
        self.curs.execute(
            f"SELECT {_VERSIE} FROM geld_versie "  # noqa: S608
            "JOIN unnest(%b::text[], %b::bigint[]) AS t(gemeentecode, nummer) "
            "USING (gemeentecode, nummer)", (list(gemeenten), list(nummers)))
        for r in self.curs.fetchall():
            v = _geldversie(r)  # type: ignore[arg-type]
            result[v.sleutel].append(v)
        return result

    def vervang_perioden(self, toewijzingen: set[Sleutel], perioden: Iterable[Geldperiode]) -> None:
        if not toewijzingen:
            return
        gemeenten, nummers = zip(*toewijzingen, strict=True)
        self.curs.execute(
            "DELETE FROM geld_periode p USING unnest(%b::text[], %b::bigint[]) "
            "AS t(gemeentecode, nummer) WHERE p.gemeentecode = t.gemeentecode "
            "AND p.nummer = t.nummer", (list(gemeenten), list(nummers)))
        with self.curs.copy(f"COPY geld_periode (nummer, {_VERSIE}, bekend_vanaf, bekend_tot) "
                            "FROM STDIN") as copy:
            for p in perioden:
                copy.write_row((p.versie.sleutel[1], *_versierij(p.versie), p.bekend_vanaf,
                                p.bekend_tot))

    def eerste_regels(self, identiteiten: set[Identiteit]) -> dict[Identiteit, Regel]:
        if not identiteiten:
            return {}
        aanbieders, nummers = zip(*identiteiten, strict=True)
        self.curs.row_factory = tuple_row  # type: ignore[assignment]
        self.curs.execute(
            f"SELECT {', '.join('r.' + c for c in _REGEL.split(', '))} FROM geld_regel r "  # noqa: S608
            "JOIN unnest(%b::text[], %b::text[]) AS t(aanbieder, referentienummer) "
            "USING (aanbieder, referentienummer)", (list(aanbieders), list(nummers)))
        regels = [Regel(*r) for r in self.curs.fetchall()]  # type: ignore[arg-type]  # tuple rows
        return {r.identiteit: r for r in regels}

    def bewaar_regels(self, regels: Iterable[Regel]) -> None:
        regels = list(regels)
        if not regels:
            return
        aanbieders = [r.aanbieder for r in regels]
        nummers = [r.referentienummer for r in regels]
        self.curs.execute(
            "DELETE FROM geld_regel r USING unnest(%b::text[], %b::text[]) "
            "AS t(aanbieder, referentienummer) WHERE r.aanbieder = t.aanbieder "
            "AND r.referentienummer = t.referentienummer", (aanbieders, nummers))
        with self.curs.copy(f"COPY geld_regel ({_REGEL}, nummer) FROM STDIN") as copy:
            for r in regels:
                s = regelsleutel(r)
                copy.write_row((*_regelrij(r), s[1] if s else None))

    def bewaar_afwijzingen(self, afwijzingen: Iterable[Afwijzing]) -> None:
        eerste: dict[Identiteit, date] = {}
        for a in afwijzingen:
            key = (a.aanbieder, a.referentienummer)
            if key not in eerste or a.dagtekening < eerste[key]:
                eerste[key] = a.dagtekening
        if not eerste:
            return
        self.curs.execute(
            "INSERT INTO geld_afwijzing (aanbieder, referentienummer, dagtekening) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::date[]) "
            "ON CONFLICT (aanbieder, referentienummer) "
            "DO UPDATE SET dagtekening = LEAST(geld_afwijzing.dagtekening, EXCLUDED.dagtekening)",
            ([k[0] for k in eerste], [k[1] for k in eerste], list(eerste.values())))
