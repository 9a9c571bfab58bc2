"""The flow view on PostgreSQL: the projection's read tables and the one query that reads them.

`flow_versie` keeps every toewijzing version as the event store recorded it; `flow_periode`
keeps, per region and client, each allocation's classification with the knowledge-time
interval [bekend_vanaf, bekend_tot) in which it held (see `flow.tijdlijn`). Any K is then
one indexed range query; the live figures are the rows with bekend_tot NULL. The writes
and the library's tracking record share one transaction (a TrackingRecorder subclass, the
library's materialised-view pattern), so a restart neither skips nor doubles a page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg import Cursor
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier
from psycopg.types.json import Jsonb

from projections.flow import (
    INSTROOMCATEGORIEEN,
    Allocatie,
    Categorie,
    Classificatie,
    Periode,
    Sleutel,
    Telling,
    Versie,
    tel,
)
from projections.regio import Regio
from projections.view import FlowSchrijver, Livevraag, Pagina

# Range expressions of the GiST index. The CASE keeps an end before the start (which the rules
# never produce) from failing the insert; the plain conditions beside them stay exact.
_KENNIS = "daterange(bekend_vanaf, bekend_tot)"
_ZORG = "daterange(start, CASE WHEN eind < start THEN start ELSE eind END, '[]')"

_TABLES: list[Composable] = [
    SQL("""CREATE TABLE IF NOT EXISTS flow_toewijzing (
        originator_id uuid PRIMARY KEY, gemeentecode text NOT NULL, toewijzingnummer text NOT NULL)"""),
    SQL("""CREATE TABLE IF NOT EXISTS flow_versie (
        notification_id bigint PRIMARY KEY, gemeentecode text NOT NULL,
        toewijzingnummer text NOT NULL, client text NOT NULL, categorie text, code text,
        toegewezen_op timestamp NOT NULL, ingangsdatum date NOT NULL, einddatum date,
        reden_wijziging text, dagtekening date NOT NULL, identificatie text NOT NULL)"""),
    SQL("CREATE INDEX IF NOT EXISTS flow_versie_client ON flow_versie (client)"),
    SQL("CREATE INDEX IF NOT EXISTS flow_versie_toewijzing ON flow_versie (gemeentecode, toewijzingnummer)"),
    SQL("""CREATE TABLE IF NOT EXISTS flow_periode (
        regio text NOT NULL, client text NOT NULL, gemeentecode text NOT NULL,
        toewijzingnummer bigint NOT NULL, segment text, start date NOT NULL, eind date,
        categorie text, delta integer, voorganger_gemeente text, voorganger_nummer bigint,
        uitstroom boolean NOT NULL, bekend_vanaf date NOT NULL, bekend_tot date,
        oorzaak text NOT NULL)"""),
    SQL("CREATE INDEX IF NOT EXISTS flow_periode_client ON flow_periode (regio, client)"),
    # any K and any window is one lookup in two dimensions: knowledge time [bekend_vanaf,
    # bekend_tot) and care time [start, eind] (NULL: open); btree indexes on either alone
    # read most of a long history (5M events: 160-230 ms per count, against ~10 with this)
    SQL("DROP INDEX IF EXISTS flow_periode_k"),
    SQL(f"CREATE INDEX IF NOT EXISTS flow_periode_kennis_zorg ON flow_periode USING gist "
        f"({_KENNIS}, {_ZORG})"),
    # the live questions asked and their answers, kept by the projector (see FlowView)
    SQL("""CREATE TABLE IF NOT EXISTS flow_live (
        regio text NOT NULL, van date NOT NULL, peildatum date NOT NULL, gemeente text NOT NULL,
        dag date NOT NULL, positie bigint NOT NULL DEFAULT -1, telling jsonb,
        PRIMARY KEY (regio, van, peildatum, gemeente, dag))"""),
]

_CATEGORIEEN = {c.value: c for c in Categorie}

# The periods that hold at K and overlap [van, tot]: the range conditions let the GiST index
# find exactly these rows, however long the history; the plain conditions beside them say
# the same and decide.
_OP_K_IN_VENSTER = (
    f"regio = %(regio)s AND {_KENNIS} @> %(k)s::date "
    f"AND {_ZORG} && daterange(%(van)s, %(tot)s, '[]') "
    "AND start <= %(tot)s AND (eind IS NULL OR eind >= %(van)s) "
    "AND bekend_vanaf <= %(k)s AND (bekend_tot IS NULL OR bekend_tot > %(k)s)")

# `flow.tel`'s figures over one group of those periods, in the order `_vul` reads them: per
# inflow category the allocations that started in the window (`instroom_in`), the uitstroom
# that ended in it (`uitstroom_in`) and of those the provisional ones (`is_voorlopig`: E + n,
# capped at 9999-12-31 as `plus_dagen` does, after K), in zorg on the peildatum
# (`in_zorg_op`), all rows (unmapped: they all overlap the window) and the distinct clients of
# the region's segments (every row overlaps the window: `unieke_jeugdigen`, and over the
# whole group `totaal_unieke_jeugdigen`).
_UIT = "uitstroom AND eind >= %(van)s AND eind <= %(tot)s"
_SOMMEN = ", ".join([
    *(f"count(*) FILTER (WHERE categorie = %(c{i})s AND start >= %(van)s AND start <= %(tot)s)"
      for i in range(len(INSTROOMCATEGORIEEN))),
    f"count(*) FILTER (WHERE {_UIT})",
    f"count(*) FILTER (WHERE {_UIT} AND "
    "LEAST(eind + %(n)s::integer, DATE '9999-12-31') > %(k)s::date)",
    "count(*) FILTER (WHERE start <= %(tot)s AND (eind IS NULL OR eind >= %(tot)s))",
    "count(*)",
    "count(DISTINCT client) FILTER (WHERE segment = ANY(%(segmenten)s))",
])


def _vul(telling: Telling, segment: str | None, totaal: bool, sommen: Sequence[int]) -> None:
    """Put one group's sums (`_SOMMEN`) into the empty count `tel` made for the question."""
    *instroom, uitstroom, voorlopig, in_zorg, allocaties, kinderen = sommen
    if totaal:
        telling.totaal_unieke_jeugdigen = kinderen
        return
    if segment is None:
        telling.unmapped_toewijzingen = allocaties
        return
    t = next(s for s in telling.segmenten if s.segment == segment)
    t.in_zorg, t.unieke_jeugdigen = in_zorg, kinderen
    if t.flow:
        for naam, aantal in zip(INSTROOMCATEGORIEEN, instroom, strict=True):
            setattr(t, naam, aantal)
        t.uitstroom, t.uitstroom_voorlopig = uitstroom, voorlopig

_VERSIE_KOLOMMEN = ("gemeentecode, toewijzingnummer, client, categorie, code, toegewezen_op, "
                    "ingangsdatum, einddatum, reden_wijziging, dagtekening, identificatie")

_V_KOLOMMEN = ", ".join("v." + k for k in _VERSIE_KOLOMMEN.split(", "))


def _livesleutel(vraag: Livevraag) -> tuple[object, ...]:
    regio, van, peildatum, gemeente, dag = vraag
    return regio, van, peildatum, gemeente or "", dag


class LiveAntwoorden:
    """The live questions readers asked and the projector's answers, in the table
    `live_tabel` (flow_live, geld_live): a reader registers a live question, the projector
    answers every registered one at its position each time it catches up, and a reader takes
    the stored answer when it is at the view's position."""

    live_tabel: str
    datastore: PostgresDatastore
    # where a reader registers its live questions: the primary, when the view reads a replica
    registratie: PostgresDatastore | None = None

    def _sql(self, tekst: str) -> Composed:
        return SQL(tekst).format(tabel=Identifier(self.live_tabel))

    def live_telling(self, vraag: Livevraag) -> tuple[int, dict[str, Any]] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(self._sql(
                "SELECT positie, telling FROM {tabel} WHERE regio = %s AND van = %s "
                "AND peildatum = %s AND gemeente = %s AND dag = %s"), _livesleutel(vraag))
            rij = curs.fetchone()
        return None if rij is None else (rij[0], rij[1] or {})  # type: ignore[index]

    def vraag_live(self, vraag: Livevraag) -> None:
        """Registered only while today has fewer than LIVE_VRAGEN: the projector answers every
        registered question each time it catches up."""
        with (self.registratie or self.datastore).transaction(commit=True) as curs:
            curs.execute(self._sql(
                "INSERT INTO {tabel} (regio, van, peildatum, gemeente, dag) "
                "SELECT %s, %s, %s, %s, %s WHERE (SELECT count(*) FROM {tabel} WHERE dag = %s) "
                "< %s ON CONFLICT DO NOTHING"), (*_livesleutel(vraag), vraag[4], LIVE_VRAGEN))

    def te_verversen(self, positie: int, vandaag: date) -> list[Livevraag]:
        with self.datastore.transaction(commit=True) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(self._sql("DELETE FROM {tabel} WHERE dag < %s"), (vandaag,))
            curs.execute(self._sql("SELECT regio, van, peildatum, gemeente, dag FROM {tabel} "
                                   "WHERE dag = %s AND positie <> %s"), (vandaag, positie))
            rijen = curs.fetchall()
        return [(r[0], r[1], r[2], r[3] or None, r[4]) for r in rijen]  # type: ignore[index]

    def bewaar_live(self, vraag: Livevraag, positie: int, telling: dict[str, Any]) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self._sql(
                "INSERT INTO {tabel} (regio, van, peildatum, gemeente, dag, positie, telling) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (regio, van, peildatum, gemeente, "
                "dag) DO UPDATE SET positie = EXCLUDED.positie, telling = EXCLUDED.telling"),
                (*_livesleutel(vraag), positie, Jsonb(telling)))


class PostgresFlowView(LiveAntwoorden, PostgresTrackingRecorder):
    """The flow view on PostgreSQL: read tables plus the library's tracking table (the
    library's materialised-view pattern: a TrackingRecorder with the view's own methods)."""

    live_tabel = "flow_live"

    def __init__(self, *args: Any, application_name: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.application_name = application_name
        self.sql_create_statements.extend(Composed([t]) for t in _TABLES)

    @contextmanager
    def schrijf(self, tot: int) -> Iterator[FlowSchrijver]:
        """One transaction for a page's writes and its tracking record.

        Set-based per page (COPY for the new rows, one query for the affected clients, one
        for their versions, COPY for the new periods): a page costs a handful of round
        trips. List parameters go in binary (%b): psycopg builds text arrays in Python."""
        with self.datastore.transaction(commit=True) as curs:
            yield _PostgresSchrijver(curs)
            self._insert_tracking(curs, Tracking(self.application_name, tot))

    def positie(self) -> int:
        return self.max_tracking_id(self.application_name) or 0

    def perioden_op(self, regio: str, k: date, van: date, peildatum: date) -> list[Periode]:
        """Allocations as classified at K that overlap [van, peildatum] (all any count needs).

        The range conditions let the GiST index find exactly these rows, however long the
        history; the plain conditions beside them say the same and decide. Rows come as
        tuples: building dicts per row cost more than the query itself."""
        if peildatum < van:
            return []  # no window (the callers refuse it; a daterange would fail on it)
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(
                f"SELECT {_PERIODE_KOLOMMEN} FROM flow_periode WHERE {_OP_K_IN_VENSTER}",  # noqa: S608
                {"regio": regio, "k": k, "van": van, "tot": peildatum}, binary=True)
            rijen = curs.fetchall()
        return [_periode(*r) for r in rijen]  # type: ignore[arg-type]  # tuple rows

    def tellingen_op(self, regio: Regio, k: date, van: date, peildatum: date,
                     gemeenten: Sequence[str | None], k_getoond: date | None) -> list[Telling]:
        """`flow.tel` over the periods at K, summed in SQL: one aggregate per segment (and per
        gemeente and segment when several gemeenten are asked) instead of an object per row
        (thousands at the demo's size: two thirds of a count's CPU when built in Python).

        Each FILTER is one of `tel`'s conditions on the rows `perioden_op` returns (the same
        WHERE); tests/integration/test_telling_sql.py holds them equal on simulated traffic.
        Periods of a segment the region file no longer has are counted by `tel` itself (its
        warning names them)."""
        leeg = [tel((), regio, van, peildatum, k, g, k_getoond=k_getoond) for g in gemeenten]
        if not leeg:
            return leeg
        een = len(set(gemeenten)) == 1
        groepen = "(segment), ()" if een else "(segment), (), (gemeentecode, segment), (gemeentecode)"
        parameters: dict[str, object] = {
            "regio": regio.id, "k": k, "van": van, "tot": peildatum, "n": regio.n,
            "segmenten": [s.id for s in regio.segmenten], "gemeente": gemeenten[0],
            **{f"c{i}": c for i, c in enumerate(INSTROOMCATEGORIEEN)}}
        with self.datastore.transaction(commit=False) as curs:
            curs.row_factory = tuple_row  # type: ignore[assignment]
            curs.execute(
                f"SELECT {'NULL' if een else 'gemeentecode'}, segment, "  # noqa: S608
                f"GROUPING(segment), {_SOMMEN} FROM flow_periode WHERE {_OP_K_IN_VENSTER} "
                f"{'AND gemeentecode = %(gemeente)s ' if een and gemeenten[0] else ''}"
                f"GROUP BY GROUPING SETS ({groepen})", parameters, binary=True)
            rijen = cast(list[tuple[Any, ...]], curs.fetchall())  # tuple rows
        bekend = {s.id for s in regio.segmenten}
        if any(r[1] is not None and r[1] not in bekend for r in rijen):
            classificaties = [p.classificatie for p in self.perioden_op(regio.id, k, van, peildatum)]
            return [tel(classificaties, regio, van, peildatum, k, g, k_getoond=k_getoond)
                    for g in gemeenten]
        for gemeente, segment, totaal, *sommen in rijen:
            for g, telling in zip(gemeenten, leeg, strict=True):
                if een or g == gemeente:  # gemeente NULL: the region's group
                    _vul(telling, segment, bool(totaal), sommen)
        return leeg

    def laatste_dag(self, regio: str) -> date | None:
        """The last Dagtekening that changed the region's classifications (None: no data)."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT max(bekend_vanaf) AS dag FROM flow_periode WHERE regio = %s",
                         (regio,))
            rij = curs.fetchone()
        return rij["dag"] if rij else None

    def laatste_start(self, regio: str, tot: date) -> date | None:
        """The latest start, on or before `tot`, of the region's allocations as known now."""
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT max(start) AS dag FROM flow_periode WHERE regio = %s "
                         "AND bekend_tot IS NULL AND start <= %s", (regio, tot))
            rij = curs.fetchone()
        return rij["dag"] if rij else None

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        if not ids:
            return {}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute("SELECT originator_id, gemeentecode, toewijzingnummer FROM flow_toewijzing "
                         "WHERE originator_id = ANY(%b)", (list(ids),))
            return {r["originator_id"]: (r["gemeentecode"], r["toewijzingnummer"])
                    for r in curs.fetchall()}

    def wis(self) -> None:
        """Forget the projection, for a rebuild from the event log (e.g. after a config change)."""
        with self.datastore.transaction(commit=True) as curs:
            curs.execute("TRUNCATE flow_toewijzing, flow_versie, flow_periode, flow_live")
            curs.execute(SQL("DELETE FROM {0} WHERE application_name = %s").format(
                Identifier(self.tracking_table_name)), (self.application_name,))


LIVE_VRAGEN = 200  # live questions kept answered per day (the regions, their gemeenten, a few windows)


class _PostgresSchrijver:
    def __init__(self, curs: Cursor[DictRow]) -> None:
        self.curs = curs

    def voeg_toe(self, pagina: Pagina) -> set[Sleutel]:
        # plain COPY: the tracking record in this transaction means a page is never
        # written twice, so a duplicate key here would be a bug worth stopping for
        with self.curs.copy("COPY flow_toewijzing FROM STDIN") as copy:
            for rij in pagina.toewijzingen:
                copy.write_row(rij)
        with self.curs.copy(f"COPY flow_versie (notification_id, {_VERSIE_KOLOMMEN}) "
                            "FROM STDIN") as copy:
            for nid, _, v in pagina.versies:
                copy.write_row((nid, v.gemeentecode, v.toewijzingnummer, v.client, v.categorie,
                                v.code, v.toegewezen_op, v.ingangsdatum, v.einddatum,
                                v.reden_wijziging, v.dagtekening, v.identificatie))
        return {v.sleutel for _, _, v in pagina.versies}

    def clients_van(self, toewijzingen: set[Sleutel]) -> list[str]:
        if not toewijzingen:
            return []
        gemeenten, nummers = zip(*toewijzingen, strict=True)
        self.curs.execute(
            "SELECT DISTINCT v.client FROM flow_versie v "
            "JOIN unnest(%b::text[], %b::text[]) AS t(gemeentecode, toewijzingnummer) "
            "USING (gemeentecode, toewijzingnummer)",
            (list(gemeenten), [str(n) for n in nummers]))  # stored as canonical integer text
        return [r["client"] for r in self.curs.fetchall()]

    def versies_van(self, clients: Sequence[str], gemeenten: Iterable[str]) -> dict[str, list[Versie]]:
        per_client: dict[str, list[Versie]] = defaultdict(list)
        if not clients:
            return per_client
        self.curs.execute(
            "WITH t AS (SELECT DISTINCT client AS voor, gemeentecode, toewijzingnummer "  # noqa: S608
            "FROM flow_versie WHERE client = ANY(%b)) "
            f"SELECT t.voor, {_V_KOLOMMEN} "
            "FROM t JOIN flow_versie v USING (gemeentecode, toewijzingnummer) "
            "WHERE v.gemeentecode = ANY(%b)",
            (list(clients), list(gemeenten)))
        for row in self.curs.fetchall():
            voor = row.pop("voor")
            per_client[voor].append(Versie(**row))
        return per_client

    def vervang_perioden(self, regio: str, clients: Sequence[str], perioden: Iterable[Periode]) -> None:
        if not clients:
            return
        self.curs.execute("DELETE FROM flow_periode WHERE regio = %s AND client = ANY(%b)",
                          (regio, list(clients)))
        with self.curs.copy("COPY flow_periode FROM STDIN") as copy:
            for periode in perioden:
                copy.write_row(_rij(regio, periode))


_PERIODE_KOLOMMEN = ("client, gemeentecode, toewijzingnummer, segment, start, eind, categorie, "
                     "delta, voorganger_gemeente, voorganger_nummer, uitstroom, bekend_vanaf, "
                     "bekend_tot, oorzaak")


def _periode(client: str, gemeentecode: str, nummer: int, segment: str | None, start: date,
             eind: date | None, categorie: str | None, delta: int | None,
             voorganger_gemeente: str | None, voorganger_nummer: int | None, uitstroom: bool,
             bekend_vanaf: date, bekend_tot: date | None, oorzaak: str) -> Periode:
    c = Classificatie(
        Allocatie((gemeentecode, nummer), client, segment, start, eind),
        _CATEGORIEEN[categorie] if categorie else None,
        delta,
        (voorganger_gemeente, voorganger_nummer)
        if voorganger_gemeente and voorganger_nummer is not None else None,
        uitstroom,
    )
    return Periode(c, bekend_vanaf, bekend_tot, oorzaak)


def _rij(regio: str, p: Periode) -> tuple[object, ...]:
    c = p.classificatie
    a = c.allocatie
    return (regio, a.client, a.gemeentecode, a.sleutel[1], a.segment, a.start, a.eind,
            c.categorie.value if c.categorie else None, c.delta,
            c.voorganger[0] if c.voorganger else None, c.voorganger[1] if c.voorganger else None,
            c.uitstroom, p.bekend_vanaf, p.bekend_tot, p.oorzaak)

