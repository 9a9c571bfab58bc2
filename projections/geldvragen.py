"""The money questions, shared by the CLI, the HTTP API, the live updates and the bench: one
read of the money view (`projections.geldview`), then the money rules (`projections.geld`)
on what it returns. Plain reads, like `projections.vragen` for the flow figures; replay
computes the same from the event log alone, and `verschil` names the declaration lines and
answers behind a change between two knowledge dates.
"""

from __future__ import annotations

import copy
import csv
import gc
import io
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date

from projections.geld import Kostentelling, Per, Regel, bereken, kosten, regelsleutel
from projections.geldview import Geldgegevens, GeldView, kosten_uit_rij
from projections.projectie import geld_uit_eventlog
from projections.regio import Regio
from projections.view import live_antwoord

TELLINGEN_IN_GEHEUGEN = 128

GELDVELDEN = ("gedeclareerd", "afgewezen", "toegekend", "beschikt", "realisatie",
              "toewijzingen_zonder_declaratie", "zonder_beschikte_waarde",
              "buiten_toewijzingsperiode", "jeugdigen_met_declaratie", "kosten_per_jeugdige")
BEDRAGEN = ("gedeclareerd", "afgewezen", "toegekend", "beschikt", "buiten_toewijzingsperiode",
            "kosten_per_jeugdige")


def kosten_op(view: GeldView, regio: Regio, van: date, peildatum: date, k: date,
              gemeente: str | None = None, per: Per = "segment", *,
              k_getoond: date | None = None) -> Kostentelling:
    """The money figures of a window at K from the view: what every money question computes,
    and what the projector stores for the live questions (`GeldView.bewaar_live`)."""
    return kosten_per_gemeente(view, regio, van, peildatum, k, [gemeente], per,
                               k_getoond=k_getoond)[0]


def kosten_per_gemeente(view: GeldView, regio: Regio, van: date, peildatum: date, k: date,
                        gemeenten: list[str | None], per: Per = "segment", *,
                        k_getoond: date | None = None) -> list[Kostentelling]:
    """`kosten_op` for the region (None) and gemeenten of one window from one read of the
    view (the region's read holds every gemeente's lines and toewijzingen): the projector
    answers the live questions of a region and its gemeenten at once."""
    with _zonder_gc():
        s = view.sommen_op(regio.gemeenten, k, van, peildatum, per_maand=per == "maand")
        return [kosten(s.geldend, s.groepen, regio, van, peildatum, k, gemeente, per,
                       k_getoond=k_getoond) for gemeente in gemeenten]


@contextmanager
def _zonder_gc() -> Iterator[None]:
    """Without the cycle collector: a money question allocates some 100,000 tuples (rows,
    groups, toewijzingen) that form no cycles and go with reference counting, while the
    collector would make full passes over the whole process heap meanwhile (measured on the
    bench's 100k store: a question took 20-40 ms of rules, 80-110 ms with such a pass)."""
    aan = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if aan:
            gc.enable()


class Geldvragen:
    """The money figures from a money view, for every reader.

    The same question asked again before the view moved (and on the same day: "now"
    depends on it) is answered from memory, as the flow questions are: the dashboard and
    the live updates ask the live figures over and over. A live question per segment is
    answered from the projector's stored answer when that is at the view's position (the
    projector answers every registered one when it has caught up)."""

    def __init__(self, view: GeldView) -> None:
        self.view = view
        self._tellingen: OrderedDict[tuple[object, ...], Kostentelling] = OrderedDict()

    def gegevens(self, regio: Regio, van: date, peildatum: date, k: date) -> Geldgegevens:
        return self.view.gegevens_op(regio.gemeenten, k, van, peildatum)

    def kostentelling(self, regio: Regio, van: date, peildatum: date, bekend_op: date | None,
                      gemeente: str | None = None, per: Per = "segment") -> Kostentelling:
        """The money figures for a window as known at a date; None means now."""
        positie = self.view.positie()
        sleutel = (regio.id, van, peildatum, bekend_op, gemeente, per, date.today(), positie)
        if sleutel in self._tellingen:
            self._tellingen.move_to_end(sleutel)
            return copy.deepcopy(self._tellingen[sleutel])
        k = bekend_op or date.today()
        telling = None
        if bekend_op is None and per == "segment":
            rij = live_antwoord(self.view, (regio.id, van, peildatum, gemeente, k), positie)
            telling = kosten_uit_rij(rij) if rij is not None else None
        telling = telling or kosten_op(self.view, regio, van, peildatum, k, gemeente, per,
                                       k_getoond=bekend_op)
        self._tellingen[sleutel] = copy.deepcopy(telling)
        if len(self._tellingen) > TELLINGEN_IN_GEHEUGEN:
            self._tellingen.popitem(last=False)
        return telling

    def vergeet_tellingen(self) -> None:
        """Answer the next questions from the view (the bench's cold measurement)."""
        self._tellingen.clear()

    def verschil(self, regio: Regio, van: date, peildatum: date, k1: date, k2: date,
                 gemeente: str | None = None) -> tuple[Kostentelling, Kostentelling,
                                                       list[Geldwijziging]]:
        """The money figures at K1 and K2 and the lines and answers behind the difference."""
        een, twee = (self.gegevens(regio, van, peildatum, k) for k in (k1, k2))
        return (self.kostentelling(regio, van, peildatum, k1, gemeente),
                self.kostentelling(regio, van, peildatum, k2, gemeente),
                geldwijzigingen(een, twee, regio, k1, k2, gemeente))


def replay_geld(events: Iterable[object], regio: Regio, van: date, peildatum: date,
                bekend_op: date | None, gemeente: str | None = None,
                per: Per = "segment") -> Kostentelling:
    """The money figures from the event log alone, recomputed from scratch with the same rules."""
    versies, regels, afwijzingen = geld_uit_eventlog(events)
    return bereken(versies, regels, afwijzingen, regio, van, peildatum, bekend_op or date.today(),
                   gemeente, per, k_getoond=bekend_op)


@dataclass(frozen=True)
class Geldwijziging:
    """A declaration line whose part in the figures differs between K1 and K2, and why."""

    aanbieder: str
    referentienummer: str
    toewijzing: str  # gemeentecode:ToewijzingNummer as the line names it
    maand: str  # YYYY-MM of its ProductPeriode
    bedrag: int  # signed eurocent
    oud: str  # its part at K1
    nieuw: str  # its part at K2
    oorzaak: str  # the message behind it


def _rol(regel: Regel, afgewezen: bool, gekoppeld: str | None) -> str:
    if gekoppeld is None:
        return "ongekoppeld" + (", afgewezen" if afgewezen else "")
    return f"{gekoppeld}, " + ("afgewezen" if afgewezen else "toegekend")


def geldwijzigingen(een: Geldgegevens, twee: Geldgegevens, regio: Regio, k1: date, k2: date,
                    gemeente: str | None = None) -> list[Geldwijziging]:
    """Pure: per line in the window, its part at K1 and at K2 (unknown; ongekoppeld; matched to
    a toewijzing in a segment, toegekend or afgewezen); the lines whose part changed, with the
    message behind it: the JW323 that brought the line, the JW325 that rejected it, or the
    JW301 whose later version changed the toewijzing it belongs to."""
    def rollen(g: Geldgegevens, k: date) -> dict[tuple[str, str], tuple[Regel, str, str]]:
        telling_versies = {v.sleutel: v for v in g.versies}
        afgewezen = {(a.aanbieder, a.referentienummer): a for a in g.afwijzingen if a.dagtekening <= k}
        result = {}
        for r in g.regels:
            if r.gemeentecode not in regio.gemeenten or (gemeente and r.gemeentecode != gemeente):
                continue
            key = regelsleutel(r)
            v = telling_versies.get(key) if key else None
            segment = None
            if v is not None:
                s = regio.segment_voor(v.gemeentecode, v.categorie, v.code, v.ingangsdatum)
                segment = (s.id if s else "unmapped") if not (
                    s and v.gemeentecode in s.uitgesloten_gemeenten) else "buiten scope"
            oorzaak = ""
            if r.identiteit in afgewezen and afgewezen[r.identiteit].dagtekening > k1:
                oorzaak = f"JW325 of {afgewezen[r.identiteit].dagtekening}"
            elif r.dagtekening > k1:
                oorzaak = f"JW323 {r.declaratie} of {r.dagtekening}"
            elif v is not None and v.dagtekening > k1:
                oorzaak = f"JW301 {v.identificatie} of {v.dagtekening}"
            result[r.identiteit] = (r, _rol(r, r.identiteit in afgewezen, segment), oorzaak)
        return result

    oud, nieuw = rollen(een, k1), rollen(twee, k2)
    wijzigingen = []
    for ident in sorted(oud.keys() | nieuw.keys()):
        regel, rol_nieuw, oorzaak = nieuw[ident] if ident in nieuw else (oud[ident][0], "onbekend", "")
        rol_oud = oud[ident][1] if ident in oud else "onbekend"
        if rol_oud == rol_nieuw:
            continue
        wijzigingen.append(Geldwijziging(
            regel.aanbieder, regel.referentienummer,
            f"{regel.gemeentecode}:{regel.toewijzingnummer}", f"{regel.begindatum:%Y-%m}",
            regel.bedrag, rol_oud, rol_nieuw,
            oorzaak or "a toewijzing version or deletion known between K1 and K2"))
    return wijzigingen


def rijen(telling: Kostentelling) -> list[dict[str, object]]:
    """The table rows of a money question (its breakdown, then "totaal"), as in the JSON."""
    data = telling.als_dict()
    lijst = data["segments"] if telling.per == "segment" else data["rows"]
    assert isinstance(lijst, list)
    totaal = data["totaal"]
    assert isinstance(totaal, dict)
    eerste = next(iter(lijst[0]), "segment") if lijst else "segment"
    return [*lijst, {eerste: "totaal", **totaal}]


def als_csv_geld(telling: Kostentelling, *, min_cel: int | None = None) -> str:
    """The money table as CSV (amounts in eurocent). With `min_cel` (publication), a row whose
    jeugdigen met declaratie are 1..min_cel-1 shows no amount and `<min_cel` children: with so
    few children an amount (kosten per jeugdige above all) points at a child. Without it, the
    exact figures for the region's own users."""
    rows = rijen(telling)
    sleutels = [k for k in rows[0] if k not in GELDVELDEN] if rows else ["segment"]
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*sleutels, *GELDVELDEN])
    for rij in rows:
        jeugdigen = rij.get("jeugdigen_met_declaratie")
        klein = (min_cel is not None and isinstance(jeugdigen, int) and 0 < jeugdigen < min_cel)
        writer.writerow([rij.get(s, "") for s in sleutels] + [
            _cel(veld, rij[veld], klein, min_cel) for veld in GELDVELDEN])
    if min_cel is not None:
        writer.writerow([f"# amounts of rows with 1 to {min_cel - 1} jeugdigen met declaratie are "
                         "suppressed (shown as empty, the children as <"
                         f"{min_cel}) so that no child can be recognised"])
    return out.getvalue()


def _cel(veld: str, waarde: object, klein: bool, min_cel: int | None) -> str:
    if klein and veld == "jeugdigen_met_declaratie":
        return f"<{min_cel}"
    if klein and (veld in BEDRAGEN or veld == "realisatie"):
        return ""
    return "" if waarde is None else str(waarde)
