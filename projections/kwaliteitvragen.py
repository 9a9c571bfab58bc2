"""The data-quality questions on PostgreSQL: plain reads of the stored findings and message
counts (written by ingest with each batch), and the cross-message rules over the money view's
tables, then `projections.kwaliteit.rapport` on what they return.

The cross-message rules are decided at the question from what the read side already keeps
(`geld_regel`: the declaration lines that count; `geld_periode`: the counting version of each
toewijzing; `geld_versie`: every version; `zorg_start` and `zorg_periode`: the JW305 starts and
the counting versions of the care view), as known now, so they need no projection of their
own and follow a late JW301 at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any, NamedTuple

import psycopg
from eventsourcing.persistence import ProgrammingError

from projections.kwaliteit import Kwaliteitsrapport, rapport

RETROACTIEF_DAGEN = 30
LAAT_MAANDEN = 12


class Rij(NamedTuple):
    stream_seq: int
    regel: str
    pad: str
    toelichting: str
    bericht: str
    gemeente: str
    aanbieder: str
    dagtekening: date


class Telling(NamedTuple):
    gemeente: str
    aanbieder: str
    bericht: str
    maand: date
    aantal: int


_BEVINDINGEN = (
    "SELECT stream_seq, regel, pad, toelichting, bericht, gemeente, aanbieder, dagtekening "
    "FROM ijw_bevinding WHERE gemeente = ANY(%(gemeenten)s) "
    "AND (%(aanbieder)s::text IS NULL OR aanbieder = %(aanbieder)s) "
    "AND (%(van)s::date IS NULL OR dagtekening >= %(van)s) "
    "AND (%(tot)s::date IS NULL OR dagtekening <= %(tot)s) ORDER BY stream_seq")
_AANTAL_REGELS = (
    "SELECT count(*) AS n "
    "FROM geld_regel r WHERE r.gemeentecode = ANY(%(gemeenten)s) "
    "AND (%(aanbieder)s::text IS NULL OR r.aanbieder = %(aanbieder)s) "
    "AND (%(van)s::date IS NULL OR r.dagtekening >= %(van)s) "
    "AND (%(tot)s::date IS NULL OR r.dagtekening <= %(tot)s)")
_KRUISREGELS = (
    "SELECT r.gemeentecode, r.aanbieder, r.dagtekening, r.declaratie, r.toewijzingnummer, "
    "r.einddatum, NOT EXISTS (SELECT 1 FROM geld_periode g WHERE g.gemeentecode = "
    "r.gemeentecode AND g.nummer = r.nummer AND g.bekend_tot IS NULL) AS zonder, "
    "r.dagtekening > r.einddatum + make_interval(months => %(laat)s) AS laat "
    "FROM geld_regel r WHERE r.gemeentecode = ANY(%(gemeenten)s) "
    "AND (%(aanbieder)s::text IS NULL OR r.aanbieder = %(aanbieder)s) "
    "AND (%(van)s::date IS NULL OR r.dagtekening >= %(van)s) "
    "AND (%(tot)s::date IS NULL OR r.dagtekening <= %(tot)s)")
# every StartProduct that says care started (status 1), and whether a counting toewijzing is
# known now for it
_STARTS = (
    "SELECT s.gemeentecode, s.aanbieder, s.dagtekening, s.identificatie, s.toewijzingnummer, "
    "NOT EXISTS (SELECT 1 FROM zorg_periode p WHERE p.gemeentecode = s.gemeentecode "
    "AND p.nummer = s.nummer AND p.bekend_tot IS NULL) AS zonder "
    "FROM zorg_start s WHERE s.status_aanlevering = '1' AND s.gemeentecode = ANY(%(gemeenten)s) "
    "AND (%(aanbieder)s::text IS NULL OR s.aanbieder = %(aanbieder)s) "
    "AND (%(van)s::date IS NULL OR s.dagtekening >= %(van)s) "
    "AND (%(tot)s::date IS NULL OR s.dagtekening <= %(tot)s)")


class Kwaliteitsvragen:
    """The report's reads, over a datastore of the eventsourcing library (its pool)."""

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore

    def rapport(self, gemeenten: Sequence[str], *, aanbieder: str | None = None,
                van: date | None = None, tot: date | None = None) -> Kwaliteitsrapport:
        p = {"gemeenten": list(gemeenten), "aanbieder": aanbieder, "van": van, "tot": tot,
             "maand_van": van.replace(day=1) if van else None}
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(_BEVINDINGEN, p)
            bevindingen = [Rij(**r) for r in curs.fetchall()]
            curs.execute(
                "SELECT gemeente, aanbieder, bericht, maand, aantal FROM ijw_bericht_telling "
                "WHERE gemeente = ANY(%(gemeenten)s) "
                "AND (%(aanbieder)s::text IS NULL OR aanbieder = %(aanbieder)s) "
                "AND (%(maand_van)s::date IS NULL OR maand >= %(maand_van)s) "
                "AND (%(tot)s::date IS NULL OR maand <= %(tot)s)", p)
            tellingen = [Telling(**r) for r in curs.fetchall()]
        kruis, onderzocht = self.kruisbevindingen(p)
        starts, gestart = self.startbevindingen(p)
        return rapport(bevindingen, tellingen, kruis + starts, {**onderzocht, **gestart})

    def kruisbevindingen(self, p: dict[str, Any]) -> tuple[list[Rij], dict[str, int]]:
        """JS01 (a line for an unknown or deleted toewijzing), JS02 (a line declared more than
        12 months after its ProductPeriode) and JS03 (a toewijzing first sent more than 30
        days after its Ingangsdatum), from the money view's tables; none before the
        projector has made them."""
        try:
            with self.datastore.transaction(commit=False) as curs:
                return self._kruis(curs, p)
        except (psycopg.errors.UndefinedTable, ProgrammingError):
            return [], {}

    def startbevindingen(self, p: dict[str, Any]) -> tuple[list[Rij], dict[str, int]]:
        """JS04 (a JW305 start for an unknown or deleted toewijzing), from the care view's
        tables; none before the projector has made them."""
        try:
            with self.datastore.transaction(commit=False) as curs:
                curs.execute(_STARTS, p)
                starts = curs.fetchall()
        except (psycopg.errors.UndefinedTable, ProgrammingError):
            return [], {}
        return [Rij(0, "JS04", f"JW305 {r['identificatie']} ToewijzingNummer {r['toewijzingnummer']}",
                    "no counting toewijzing known now", "jw305", r["gemeentecode"],
                    r["aanbieder"], r["dagtekening"]) for r in starts if r["zonder"]], \
            {"JS04": len(starts)}

    @staticmethod
    def _kruis(curs: Any, p: dict[str, Any]) -> tuple[list[Rij], dict[str, int]]:
        curs.execute(_AANTAL_REGELS, p)
        lijnen = int(curs.fetchone()["n"])
        curs.execute(_KRUISREGELS, {**p, "laat": LAAT_MAANDEN})
        rijen: list[Rij] = []
        for r in curs.fetchall():
            waar = f"JW323 {r['declaratie']} ToewijzingNummer {r['toewijzingnummer']}"
            if r["zonder"]:
                rijen.append(Rij(0, "JS01", waar, "no counting toewijzing known now",
                                 "jw323", r["gemeentecode"], r["aanbieder"], r["dagtekening"]))
            if r["laat"]:
                rijen.append(Rij(0, "JS02", waar, f"ProductPeriode ended {r['einddatum']}",
                                 "jw323", r["gemeentecode"], r["aanbieder"], r["dagtekening"]))
        curs.execute(
            "SELECT DISTINCT ON (gemeentecode, nummer) gemeentecode, toewijzingnummer, "
            "coalesce(aanbieder, '') AS aanbieder, ingangsdatum, dagtekening FROM geld_versie "
            "WHERE gemeentecode = ANY(%(gemeenten)s) "
            "AND (%(aanbieder)s::text IS NULL OR aanbieder = %(aanbieder)s) "
            "ORDER BY gemeentecode, nummer, dagtekening, notification_id", p)
        eerste = [r for r in curs.fetchall()
                  if (p["van"] is None or r["dagtekening"] >= p["van"])
                  and (p["tot"] is None or r["dagtekening"] <= p["tot"])]
        for r in eerste:
            if r["dagtekening"] > r["ingangsdatum"] + timedelta(days=RETROACTIEF_DAGEN):
                rijen.append(Rij(0, "JS03", f"JW301 ToewijzingNummer {r['toewijzingnummer']}",
                                 f"Ingangsdatum {r['ingangsdatum']}", "jw301",
                                 r["gemeentecode"], r["aanbieder"], r["dagtekening"]))
        return rijen, {"JS01": lijnen, "JS02": lijnen, "JS03": len(eerste)}
