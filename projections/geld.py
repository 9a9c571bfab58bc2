"""The money rules of DOMAIN.md ("Money: declarations, allocated value and realisation"), as
pure functions over plain data.

This is the one place where gedeclareerd, afgewezen, toegekend, beschikt and realisatie are
decided. The live projection and replay both call it:

    versies --(flow.geldende_versies at K)--> flow.allocaties(regio) ----------------+
    regels --(bekende_regels at K, afgewezen_op K)--> koppel(window) --> cijfers per segment, ...

Amounts are integer eurocent. The allocated value (beschikt) is computed exactly with
`Fraction` and rounded once per toewijzing and window, half away from zero.

Where DOMAIN.md is silent this module decides (each rule repeats it where it applies):

- A line seen more than once (same aanbieder and ReferentieNummer) counts once, in the copy
  known first (earliest Dagtekening, then the smallest declaration identificatie).
- A rejection is matched by (aanbieder, ReferentieNummer) only, like the line's identity; a
  rejected credit line makes afgewezen negative, as a signed sum must.
- Lines of a toewijzing excluded from its segment are out of scope (`buiten_scope`, kept
  beside the figures but not in the JSON contract), never ongekoppeld. Lines sent to a
  gemeente outside the region are not the region's and count nowhere.
- Lines of an unmapped toewijzing (no segment) are in no segment and not in the totaal; they
  are reported as `unmapped` and in a warning, never dropped silently. The totaal is the sum of
  the segments; ongekoppeld is beside it, not in it.
- Frequentie 6 (totaal binnen geldigheidsduur) with an open end has no allocated value, like a
  budget with an open end. A Frequentie other than 1, 2, 4, 6, an Omvang without Frequentie, or
  an Omvang whose product and Eenheid have no tariff: no allocated value (a warning names the
  products without a tariff). Eenheid 83 (euro's) is priced at 100 eurocent by definition.
- A toewijzing has an allocated value in a window only when it overlaps the window; only those
  and their lines count in realisatie.
- A breakdown cell is a window of its own: per month the window is that month within
  [from, peildatum] (also for toewijzingen zonder declaratie: its reference date is then
  min(K, end of that month)), and beschikt is rounded per toewijzing and month, so the months
  may differ from the year by at most half a cent per toewijzing and month. Per segment,
  gemeente, aanbieder and product a toewijzing lies in one cell, so those cells add up exactly.
- Per gemeente, aanbieder and product a line goes with its toewijzing (its gemeente, its
  aanbieder, its product (gemeentecode, categorie, code)), so that a cell's lines and allocated
  value belong together; per month a line goes by its own month.
- Jeugdigen met declaratie of a scope: the children whose net toegekend over that scope's lines
  is positive. In the totaal a child counts once, by its net over all segments.
- realisatie is a percentage with one decimal (half away from zero), kosten per jeugdige is
  rounded to whole eurocent half away from zero; None is "n.v.t.".
"""

from __future__ import annotations

import calendar
import math
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal

from projections.flow import (
    Allocatie,
    Sleutel,
    Versie,
    allocaties,
    geldende_versies,
    sleutel,
    vraag_kop,
)
from projections.regio import Regio

FREQUENTIE_PER_DAG, FREQUENTIE_PER_WEEK, FREQUENTIE_PER_MAAND, FREQUENTIE_TOTAAL = "1", "2", "4", "6"

Per = Literal["segment", "gemeente", "maand", "aanbieder", "product"]
Product = tuple[str, str | None, str | None]  # (gemeentecode, categorie, code): codes are per gemeente
_WIRE_PER = {"segment": "segment", "gemeente": "gemeente", "maand": "month",
             "aanbieder": "aanbieder", "product": "product"}


# -- input ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Geldversie(Versie):
    """A toewijzing version with what money needs: provider, Omvang and Budget. It is a
    `flow.Versie`, so the counting version and the segment are decided exactly as for flow."""

    aanbieder: str | None = None
    volume: int | None = None
    eenheid: str | None = None
    frequentie: str | None = None
    budget: int | None = None  # eurocent


@dataclass(frozen=True, slots=True)
class Regel:
    """One declaration line: a Prestatie of a JW323, with its signed amount."""

    gemeentecode: str  # Ontvanger of the JW323
    aanbieder: str  # Afzender of the JW323
    referentienummer: str
    vorig_referentienummer: str | None
    toewijzingnummer: str
    client: str  # pseudonym
    categorie: str | None
    code: str | None
    begindatum: date  # ProductPeriode
    einddatum: date
    bedrag: int  # eurocent: Bedrag for debet, -Bedrag for credit
    declaratie: str  # BerichtIdentificatie of the JW323
    dagtekening: date  # knowledge time

    @property
    def identiteit(self) -> tuple[str, str]:
        return self.aanbieder, self.referentienummer

    @property
    def maand(self) -> date:
        """The month of a line: that of its ProductPeriode Begindatum (first day)."""
        return self.begindatum.replace(day=1)


@dataclass(frozen=True, slots=True)
class Afwijzing:
    """One line a JW325 rejects, by ReferentieNummer, known from the JW325's Dagtekening."""

    aanbieder: str
    referentienummer: str
    dagtekening: date


# -- the rules ------------------------------------------------------------------------------


def bekende_regels(regels: Iterable[Regel], k: date) -> list[Regel]:
    """The lines known at K, each (aanbieder, ReferentieNummer) once: a resent line adds
    nothing. The copy known first counts (earliest Dagtekening, then smallest identificatie)."""
    eerste: dict[tuple[str, str], Regel] = {}
    for regel in regels:
        if regel.dagtekening > k:
            continue
        identiteit = (regel.aanbieder, regel.referentienummer)
        huidige = eerste.get(identiteit)
        if huidige is None or regelvolgorde(regel) < regelvolgorde(huidige):
            eerste[identiteit] = regel
    return list(eerste.values())


def regelvolgorde(regel: Regel) -> tuple[object, ...]:
    """The order of copies of one line: the smallest is the copy known first (its Dagtekening
    first, so the copy known first at any K is the smallest overall, when known at K)."""
    ident = regel.declaratie
    return (regel.dagtekening, (1, int(ident)) if ident.isdigit() else (0, ident),
            regel.bedrag, regel.begindatum, regel.einddatum, regel.toewijzingnummer,
            regel.gemeentecode, regel.client, regel.categorie or "", regel.code or "",
            regel.vorig_referentienummer or "")


def afgewezen_op(afwijzingen: Iterable[Afwijzing], k: date) -> set[tuple[str, str]]:
    """The lines rejected at K: listed by a JW325 dated on or before K."""
    return {(a.aanbieder, a.referentienummer) for a in afwijzingen if a.dagtekening <= k}


def in_window(regel: Regel, van: date, peildatum: date) -> bool:
    """A line counts in a window when its ProductPeriode Begindatum lies in it."""
    return van <= regel.begindatum <= peildatum


def buiten_toewijzingsperiode(regel: Regel, allocatie: Allocatie) -> bool:
    """The line's ProductPeriode is not inside [start, end] of the counting version."""
    return regel.begindatum < allocatie.start or (
        allocatie.eind is not None and regel.einddatum > allocatie.eind)


def afronden(waarde: Fraction) -> int:
    """To a whole number, half away from zero."""
    geheel, rest = divmod(abs(waarde.numerator), waarde.denominator)
    if 2 * rest >= waarde.denominator:
        geheel += 1
    return geheel if waarde >= 0 else -geheel


def percentage(teller: int, noemer: int) -> Decimal | None:
    """teller / noemer as a percentage with one decimal, half away from zero; None (n.v.t.)
    when the denominator is 0."""
    if noemer == 0:
        return None
    return Decimal(afronden(Fraction(teller * 1000, noemer))) / 10


def _dagen(van: date, tot: date) -> int:
    """Days of [van, tot], both inclusive; 0 when empty."""
    return max(0, (tot - van).days + 1)


def _dagen_in_maand(d: date) -> int:
    if d.month == 2:
        return 29 if calendar.isleap(d.year) else 28
    return 30 if d.month in (4, 6, 9, 11) else 31


def _maanden(van: date, tot: date) -> Iterable[tuple[date, date]]:
    """[van, tot] cut at month boundaries."""
    begin = van
    while begin <= tot:
        laatste = begin.replace(day=_dagen_in_maand(begin))
        yield begin, min(laatste, tot)
        begin = laatste + timedelta(days=1)


def beschikte_waarde(
    versie: Geldversie, tarief: int | None, van: date, peildatum: date
) -> Fraction | None:
    """The allocated value of a counting version in the window [van, peildatum], exactly, in
    eurocent; None: no allocated value (zonder beschikte waarde).

    - with a Budget: the budget spread evenly over the days of [start, end]; an open end has
      no allocated value;
    - otherwise Omvang x the tariff of its product and Eenheid (`tarief`): per dag x days in
      the window, per week x days / 7, per maand x days / days of that month summed per month,
      totaal like a budget of Volume x tariff. An open end counts until the peildatum, except
      for totaal, which like a budget then has no allocated value;
    - otherwise (no Omvang, no tariff, unknown Frequentie) none.
    """
    start, eind = versie.ingangsdatum, versie.einddatum
    if versie.budget is not None:
        return _gespreid(versie.budget, start, eind, van, peildatum)
    if versie.volume is None or tarief is None:
        return None
    per_eenheid = versie.volume * tarief
    if versie.frequentie == FREQUENTIE_TOTAAL:
        return _gespreid(per_eenheid, start, eind, van, peildatum)
    begin, einde = max(start, van), min(eind or peildatum, peildatum)
    if versie.frequentie == FREQUENTIE_PER_DAG:
        return Fraction(per_eenheid * _dagen(begin, einde))
    if versie.frequentie == FREQUENTIE_PER_WEEK:
        return Fraction(per_eenheid * _dagen(begin, einde), 7)
    if versie.frequentie == FREQUENTIE_PER_MAAND:
        # sum of days / days of the month over the months, in integers over a common
        # denominator (one Fraction instead of one per month: the money queries compute
        # this for every toewijzing in the window)
        teller = sum(_dagen(a, b) * (_MAANDNOEMER // _dagen_in_maand(a))
                     for a, b in _maanden(begin, einde))
        return Fraction(per_eenheid * teller, _MAANDNOEMER)
    return None


_MAANDNOEMER = math.lcm(28, 29, 30, 31)


def _gespreid(waarde: int, start: date, eind: date | None, van: date, peildatum: date
              ) -> Fraction | None:
    if eind is None or eind < start:
        return None
    return Fraction(waarde * _dagen(max(start, van), min(eind, peildatum)), _dagen(start, eind))


# -- matching -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GeldendeToewijzing:
    """A toewijzing in scope at K: its allocation (segment, start, end), counting version and
    the tariff of its product and Eenheid on its start date."""

    allocatie: Allocatie
    versie: Geldversie
    tarief: int | None

    @property
    def sleutel(self) -> Sleutel:
        return self.allocatie.sleutel

    @property
    def aanbieder(self) -> str:
        return self.versie.aanbieder or ""

    @property
    def product(self) -> Product:
        return self.versie.gemeentecode, self.versie.categorie, self.versie.code

    def waarde(self, van: date, peildatum: date) -> Fraction | None:
        return beschikte_waarde(self.versie, self.tarief, van, peildatum)

    @property
    def mist_tarief(self) -> bool:
        return self.versie.budget is None and self.versie.volume is not None and self.tarief is None


@dataclass(frozen=True, slots=True)
class GekoppeldeRegel:
    """A line known at K with its fate: matched to a toewijzing in scope, ongekoppeld (its
    toewijzing unknown or deleted at K), or out of scope (its toewijzing excluded)."""

    regel: Regel
    afgewezen: bool
    toewijzing: GeldendeToewijzing | None  # None: ongekoppeld or out of scope
    buiten_scope: bool = False
    buiten_periode: bool = False  # matched, and not inside [start, end] of the counting version

    @staticmethod
    def van(regel: Regel, afgewezen: bool, toewijzing: GeldendeToewijzing | None,
            buiten_scope: bool = False) -> GekoppeldeRegel:
        """Decides buiten_periode once (every scope that counts the line asks it)."""
        return GekoppeldeRegel(regel, afgewezen, toewijzing, buiten_scope,
                               toewijzing is not None
                               and buiten_toewijzingsperiode(regel, toewijzing.allocatie))

    @property
    def toegekend(self) -> int:
        return 0 if self.afgewezen else self.regel.bedrag

    @property
    def ongekoppeld(self) -> bool:
        return self.toewijzing is None and not self.buiten_scope


def regelsleutel(regel: Regel) -> Sleutel | None:
    """The key of the toewijzing a line names; None when its number is not a number."""
    try:
        return sleutel(regel.gemeentecode, regel.toewijzingnummer)
    except ValueError:  # not a number: matches no toewijzing
        return None


def _geldversie_volgorde(v: Geldversie) -> tuple[object, ...]:
    return (v.volgorde, v.aanbieder or "", v.volume if v.volume is not None else -1,
            v.eenheid or "", v.frequentie or "", v.budget if v.budget is not None else -1)


def toewijzingen_op(
    versies: Iterable[Geldversie], regio: Regio, k: date
) -> dict[Sleutel, GeldendeToewijzing]:
    """The toewijzingen of the region in scope at K (exclusions removed; unmapped ones kept
    with segment None), each in its counting version, with its tariff."""
    return _in_scope(geldend_op(versies, k), regio)


def geldend_op(versies: Iterable[Geldversie], k: date) -> dict[Sleutel, Geldversie]:
    """The counting version per toewijzing at K (deleted ones left out), money fields included:
    `flow.geldende_versies` per toewijzing, whose versions are sorted first, so that versions
    flow.Versie.volgorde cannot tell apart (they differ in money only) are decided by content,
    never by arrival order. Grouped first: the money queries pass one version per toewijzing
    (its counting version), and sorting those would be wasted."""
    per_toewijzing: dict[Sleutel, list[Geldversie]] = {}
    for v in versies:
        if v.dagtekening <= k:
            per_toewijzing.setdefault(v.sleutel, []).append(v)
    result: dict[Sleutel, Geldversie] = {}
    for groep in per_toewijzing.values():
        if len(groep) > 1:
            groep.sort(key=_geldversie_volgorde)
        result.update(geldende_versies(groep, k))  # type: ignore[arg-type]
    return result


def _in_scope(geldend: dict[Sleutel, Geldversie], regio: Regio) -> dict[Sleutel, GeldendeToewijzing]:
    result = {}
    for a in allocaties(geldend.values(), regio):
        v = geldend[a.sleutel]
        tarief = (None if v.budget is not None or v.volume is None
                  else regio.tarief_voor(v.gemeentecode, v.categorie, v.code, v.eenheid, v.ingangsdatum))
        result[a.sleutel] = GeldendeToewijzing(a, v, tarief)
    return result


def koppel(
    regels: Iterable[Regel], afwijzingen: Iterable[Afwijzing], versies: Iterable[Geldversie],
    regio: Regio, k: date,
) -> tuple[dict[Sleutel, GeldendeToewijzing], list[GekoppeldeRegel]]:
    """Everything known at K: the toewijzingen in scope and every line of the region's
    gemeenten, matched to its toewijzing's counting version and marked rejected or not. A
    line whose toewijzing is unknown or deleted at K is ongekoppeld; one whose toewijzing
    exists but is excluded from its segment is out of scope."""
    geldend = geldend_op(versies, k)
    toewijzingen = _in_scope(geldend, regio)
    afgewezen = afgewezen_op(afwijzingen, k)
    gekoppeld = []
    sleutels: dict[tuple[str, str], Sleutel | None] = {}  # a toewijzing has a line a month
    for regel in bekende_regels(regels, k):
        if regel.gemeentecode not in regio.gemeenten:
            continue
        naam = (regel.gemeentecode, regel.toewijzingnummer)
        key = sleutels[naam] if naam in sleutels else sleutels.setdefault(naam, regelsleutel(regel))
        t = toewijzingen.get(key) if key else None
        gekoppeld.append(GekoppeldeRegel.van(regel, (regel.aanbieder, regel.referentienummer)
                                             in afgewezen, t,
                                             buiten_scope=t is None and key in geldend))
    return toewijzingen, gekoppeld


# -- figures --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Geldcijfers:
    """The money figures of one scope (segment, gemeente, month, ...) for one window and K.
    Amounts in eurocent; realisatie a percentage with one decimal; None is n.v.t."""

    gedeclareerd: int = 0
    afgewezen: int = 0
    toegekend: int = 0
    beschikt: int = 0
    realisatie: Decimal | None = None
    toewijzingen_zonder_declaratie: int = 0
    zonder_declaratie_beschikt: int = 0
    zonder_beschikte_waarde: int = 0
    buiten_toewijzingsperiode: int = 0
    jeugdigen_met_declaratie: int = 0
    kosten_per_jeugdige: int | None = None

    def als_dict(self) -> dict[str, object]:
        """The keys of the `costs --format json` contract (zonder_declaratie_beschikt is not one)."""
        return {
            "gedeclareerd": self.gedeclareerd, "afgewezen": self.afgewezen,
            "toegekend": self.toegekend, "beschikt": self.beschikt,
            "realisatie": float(self.realisatie) if self.realisatie is not None else None,
            "toewijzingen_zonder_declaratie": self.toewijzingen_zonder_declaratie,
            "zonder_beschikte_waarde": self.zonder_beschikte_waarde,
            "buiten_toewijzingsperiode": self.buiten_toewijzingsperiode,
            "jeugdigen_met_declaratie": self.jeugdigen_met_declaratie,
            "kosten_per_jeugdige": self.kosten_per_jeugdige,
        }


def cijfers(
    toewijzingen: Iterable[GeldendeToewijzing], regels: Iterable[GekoppeldeRegel], van: date,
    peildatum: date, k: date, declaratie_termijn: int,
    waarden: dict[Sleutel, Fraction | None] | None = None,
) -> Geldcijfers:
    """The figures of one scope: its toewijzingen and the matched lines of them in the window
    [van, peildatum] (the caller passes the scope's lines; those outside the window are
    skipped here). `waarden`: the toewijzingen's exact allocated values in this window when
    the caller has them already (the segments and the totaal share them)."""
    gedeclareerd = afgewezen = buiten = 0
    toegekend_per_toewijzing: dict[Sleutel, int] = defaultdict(int)
    toegekend_per_kind: dict[str, int] = defaultdict(int)
    for g in regels:  # the hot loop of every money question: plain locals
        t, regel = g.toewijzing, g.regel
        if t is None or not van <= regel.begindatum <= peildatum:  # in_window
            continue
        bedrag = regel.bedrag
        gedeclareerd += bedrag
        toegekend_regel = bedrag
        if g.afgewezen:
            afgewezen += bedrag
            toegekend_regel = 0
        if g.buiten_periode:
            buiten += bedrag
        toegekend_per_toewijzing[t.allocatie.sleutel] += toegekend_regel
        toegekend_per_kind[regel.client] += toegekend_regel
    beschikt = met_waarde_toegekend = zonder_waarde = zonder_decl = zonder_decl_beschikt = 0
    peil = min(k, peildatum) - timedelta(days=declaratie_termijn)
    for t in toewijzingen:
        if not t.allocatie.overlapt(van, peildatum):
            continue
        exact = waarden[t.sleutel] if waarden is not None else t.waarde(van, peildatum)
        waarde = afronden(exact) if exact is not None else 0
        if exact is None:
            zonder_waarde += 1
        else:
            beschikt += waarde
            met_waarde_toegekend += toegekend_per_toewijzing.get(t.sleutel, 0)
        if t.allocatie.start <= peil and toegekend_per_toewijzing.get(t.sleutel, 0) <= 0:
            zonder_decl += 1
            zonder_decl_beschikt += waarde
    toegekend = gedeclareerd - afgewezen
    jeugdigen = sum(1 for bedrag in toegekend_per_kind.values() if bedrag > 0)
    return Geldcijfers(
        gedeclareerd=gedeclareerd, afgewezen=afgewezen, toegekend=toegekend, beschikt=beschikt,
        realisatie=percentage(met_waarde_toegekend, beschikt),
        toewijzingen_zonder_declaratie=zonder_decl, zonder_declaratie_beschikt=zonder_decl_beschikt,
        zonder_beschikte_waarde=zonder_waarde, buiten_toewijzingsperiode=buiten,
        jeugdigen_met_declaratie=jeugdigen,
        kosten_per_jeugdige=afronden(Fraction(toegekend, jeugdigen)) if jeugdigen else None,
    )


@dataclass(frozen=True, slots=True)
class Segmentgeld:
    segment: str
    naam: str
    cijfers: Geldcijfers

    def als_dict(self) -> dict[str, object]:
        return {"segment": self.segment, **self.cijfers.als_dict()}


@dataclass
class Kostentelling:
    """The money figures for one (region, window, K, gemeente?), in the shape of
    `costs --format json`."""

    regio: str
    van: date
    peildatum: date
    k: date | None  # None: the default K (now), shown as null like the flow figures
    gemeente: str | None
    segmenten: list[Segmentgeld]
    totaal: Geldcijfers  # the sum of the segments; ongekoppeld and unmapped are beside it
    ongekoppeld: int  # gedeclareerd of the lines without a toewijzing at K
    ongekoppeld_per_gemeente: dict[str, int]
    unmapped: Geldcijfers  # toewijzingen in no segment, and their lines
    buiten_scope: int  # gedeclareerd of the lines of excluded toewijzingen
    per: Per = "segment"
    uitsplitsing: dict[Hashable, Geldcijfers] = field(default_factory=dict)
    waarschuwingen: list[str] = field(default_factory=list)

    def als_dict(self) -> dict[str, object]:
        """For per="segment" exactly the `costs --by segment --format json` contract. For
        another breakdown "segments" is replaced by "by" and "rows", each row its key fields
        (month "YYYY-MM"; product gemeente, categorie, code) and the segment's figure keys."""
        kop = vraag_kop(self.regio, self.van, self.peildatum, self.k, self.gemeente)
        if self.per == "segment":
            kop["segments"] = [s.als_dict() for s in self.segmenten]
        else:
            kop["by"] = _WIRE_PER[self.per]
            kop["rows"] = [{**self._sleutelvelden(key), **c.als_dict()}
                           for key, c in self.uitsplitsing.items()]
        return {**kop, "ongekoppeld": self.ongekoppeld, "totaal": self.totaal.als_dict(),
                "warnings": self.waarschuwingen}

    def _sleutelvelden(self, key: Hashable) -> dict[str, object]:
        if self.per == "maand" and isinstance(key, date):
            return {"month": f"{key:%Y-%m}"}
        if self.per == "product" and isinstance(key, tuple):
            gemeentecode, categorie, code = key
            return {"gemeente": gemeentecode, "categorie": categorie, "code": code}
        if self.per == "gemeente":
            return {"gemeente": key, "ongekoppeld": self.ongekoppeld_per_gemeente.get(str(key), 0)}
        return {_WIRE_PER[self.per]: key}


_SLEUTEL_PER: dict[str, Callable[[GeldendeToewijzing], Hashable]] = {
    "segment": lambda t: t.allocatie.segment,
    "gemeente": lambda t: t.allocatie.gemeentecode,
    "aanbieder": lambda t: t.aanbieder,
    "product": lambda t: t.product,
}


def _groepen(
    toewijzingen: Iterable[GeldendeToewijzing], regels: Iterable[GekoppeldeRegel],
    sleutel_van: Callable[[GeldendeToewijzing], Hashable],
) -> dict[Hashable, tuple[list[GeldendeToewijzing], list[GekoppeldeRegel]]]:
    """Toewijzingen and their matched lines, grouped by a property of the toewijzing."""
    groepen: dict[Hashable, tuple[list[GeldendeToewijzing], list[GekoppeldeRegel]]] = defaultdict(
        lambda: ([], []))
    for t in toewijzingen:
        groepen[sleutel_van(t)][0].append(t)
    for g in regels:
        if g.toewijzing is not None:
            groepen[sleutel_van(g.toewijzing)][1].append(g)
    return groepen


def bereken(
    versies: Iterable[Geldversie],
    regels: Iterable[Regel],
    afwijzingen: Iterable[Afwijzing],
    regio: Regio,
    van: date,
    peildatum: date,
    k: date,
    gemeente: str | None = None,
    per: Per = "segment",
    *,
    k_getoond: date | None = None,
) -> Kostentelling:
    """The money figures of a window [van, peildatum] as known at K, for the region or one
    gemeente: per segment (every configured one), a totaal, ongekoppeld beside them, and the
    breakdown `per` (segment, gemeente, maand, aanbieder or product)."""
    if peildatum < van:
        raise ValueError(f"peildatum {peildatum} lies before from {van}")
    if per not in _WIRE_PER:
        raise ValueError(f"per is one of {', '.join(_WIRE_PER)}, not {per!r}")
    toewijzingen, gekoppeld = koppel(regels, afwijzingen, versies, regio, k)
    if gemeente is not None:
        toewijzingen = {key: t for key, t in toewijzingen.items() if key[0] == gemeente}
        gekoppeld = [g for g in gekoppeld if g.regel.gemeentecode == gemeente]
    gekoppeld = [g for g in gekoppeld if in_window(g.regel, van, peildatum)]
    termijn = regio.declaratie_termijn
    leeg: tuple[list[GeldendeToewijzing], list[GekoppeldeRegel]] = ([], [])

    waarden = {key: t.waarde(van, peildatum) for key, t in toewijzingen.items()
               if t.allocatie.overlapt(van, peildatum)}
    per_segment = _groepen(toewijzingen.values(), gekoppeld, _SLEUTEL_PER["segment"])
    segmenten = [Segmentgeld(s.id, s.naam, cijfers(*per_segment.get(s.id, leeg), van, peildatum, k,
                                                    termijn, waarden))
                 for s in regio.segmenten]
    bekend = {s.id for s in regio.segmenten}
    in_scope = [t for t in toewijzingen.values() if t.allocatie.segment in bekend]
    in_scope_regels = [g for g in gekoppeld
                       if g.toewijzing is not None and g.toewijzing.allocatie.segment in bekend]
    totaal = cijfers(in_scope, in_scope_regels, van, peildatum, k, termijn, waarden)
    unmapped = cijfers(*per_segment.get(None, leeg), van, peildatum, k, termijn, waarden)

    uitsplitsing: dict[Hashable, Geldcijfers] = {}
    if per == "segment":
        uitsplitsing = {s.segment: s.cijfers for s in segmenten}
    elif per == "maand":
        for a, b in _maanden(van, peildatum):
            uitsplitsing[a.replace(day=1)] = cijfers(in_scope, in_scope_regels, a, b, k, termijn)
    else:
        groepen = _groepen(in_scope, in_scope_regels, _SLEUTEL_PER[per])
        for key in sorted(groepen, key=_sorteerbaar):
            groep_toewijzingen, groep_regels = groepen[key]
            if groep_regels or any(t.allocatie.overlapt(van, peildatum) for t in groep_toewijzingen):
                uitsplitsing[key] = cijfers(groep_toewijzingen, groep_regels, van, peildatum, k,
                                            termijn, waarden)

    ongekoppeld_per_gemeente: dict[str, int] = defaultdict(int)
    for g in gekoppeld:
        if g.ongekoppeld:
            ongekoppeld_per_gemeente[g.regel.gemeentecode] += g.regel.bedrag
    return Kostentelling(
        regio=regio.id, van=van, peildatum=peildatum, k=k_getoond, gemeente=gemeente,
        segmenten=segmenten, totaal=totaal,
        ongekoppeld=sum(ongekoppeld_per_gemeente.values()),
        ongekoppeld_per_gemeente=dict(sorted(ongekoppeld_per_gemeente.items())),
        unmapped=unmapped,
        buiten_scope=sum(g.regel.bedrag for g in gekoppeld if g.buiten_scope),
        per=per, uitsplitsing=uitsplitsing,
        waarschuwingen=_waarschuwingen(regio, toewijzingen.values(), unmapped, van, peildatum, k),
    )


def _sorteerbaar(key: Hashable) -> tuple[object, ...]:
    if isinstance(key, tuple):
        return tuple("" if part is None else part for part in key)
    return (key,)


def _waarschuwingen(
    regio: Regio, toewijzingen: Iterable[GeldendeToewijzing], unmapped: Geldcijfers, van: date,
    peildatum: date, k: date,
) -> list[str]:
    result = []
    if k < peildatum + timedelta(days=regio.declaratie_termijn):
        result.append(
            f"known_at lies less than declaratie_termijn={regio.declaratie_termijn} days after the "
            "peildatum: declarations for the window may still arrive")
    zonder_tarief: set[tuple[str | None, str | None, str | None]] = set()
    for t in toewijzingen:
        if t.mist_tarief and t.allocatie.overlapt(van, peildatum) and t.allocatie.segment is not None:
            zonder_tarief.add((t.versie.categorie, t.versie.code, t.versie.eenheid))
    if zonder_tarief:
        namen = ", ".join(f"{cat}/{code} eenheid {eenheid}"
                          for cat, code, eenheid in sorted(zonder_tarief, key=_sorteerbaar)[:5])
        meer = f" and {len(zonder_tarief) - 5} more" if len(zonder_tarief) > 5 else ""
        result.append(f"no tariff for {namen}{meer}: their toewijzingen have no allocated value; "
                      "add [[tarieven]] to the region file")
    if unmapped != Geldcijfers():
        result.append(
            f"toewijzingen in no segment (unmapped): gedeclareerd {unmapped.gedeclareerd} and beschikt "
            f"{unmapped.beschikt} eurocent are in no segment and not in the totaal; add a product rule")
    return result
