"""The money rules of DOMAIN.md ("Money: declarations, allocated value and realisation"), as
pure functions over plain data.

This is the one place where gedeclareerd, afgewezen, toegekend, beschikt and realisatie are
decided. The live projection and replay both call it:

    versies --(geldend_op K: flow.geldende_versies)--> Geldend ------------------+--> kosten
    regels --(bekende_regels at K, afgewezen_op K, window)--> regelgroepen -------+    (cijfers per
                                                                                        segment, ...)

The money view sums the same groups in SQL and hands the counting versions and groups to
`kosten` directly, so a question and a replay share every rule after the summing.

Amounts are integer eurocent. The allocated value (beschikt) is computed exactly, as a
fraction of integers, and rounded once per toewijzing and window, half away from zero.

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
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction
from typing import Literal, NamedTuple

from projections.flow import (
    Sleutel,
    Versie,
    geldende_versies,
    sleutel,
    vraag_kop,
)
from projections.regio import ProductRegel, Regio

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


def buiten_toewijzingsperiode(regel: Regel, v: Geldend) -> bool:
    """The line's ProductPeriode is not inside [start, end] of the counting version."""
    return regel.begindatum < v.ingangsdatum or (
        v.einddatum is not None and regel.einddatum > v.einddatum)


def afronden(waarde: Fraction) -> int:
    """To a whole number, half away from zero."""
    return _afgerond(waarde.numerator, waarde.denominator)


def _afgerond(teller: int, noemer: int) -> int:
    """teller / noemer (noemer > 0) to a whole number, half away from zero, in integers."""
    geheel, rest = divmod(abs(teller), noemer)
    if 2 * rest >= noemer:
        geheel += 1
    return geheel if teller >= 0 else -geheel


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
    deel = _beschikt(versie, tarief, van, peildatum)
    return None if deel is None else Fraction(*deel)


def _beschikt(versie: Geldversie | Geldend, tarief: int | None, van: date, peildatum: date
              ) -> tuple[int, int] | None:
    """`beschikte_waarde` as (teller, noemer) in integers: a question computes it for every
    toewijzing in the window and rounds it once, which needs no Fraction."""
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
        return per_eenheid * _dagen(begin, einde), 1
    if versie.frequentie == FREQUENTIE_PER_WEEK:
        return per_eenheid * _dagen(begin, einde), 7
    if versie.frequentie == FREQUENTIE_PER_MAAND:
        return per_eenheid * _maanddelen(begin, einde), _MAANDNOEMER
    return None


def _maanddelen(begin: date, einde: date) -> int:
    """The sum over the months of [begin, einde] of (its days in it / the month's days), in
    units of 1/_MAANDNOEMER: a whole month is one, so only the first and last month count
    days (a question computes this for thousands of toewijzingen)."""
    if einde < begin:
        return 0
    eerste = _MAANDNOEMER // _dagen_in_maand(begin)
    if (begin.year, begin.month) == (einde.year, einde.month):
        return (einde.day - begin.day + 1) * eerste
    tussen = (einde.year * 12 + einde.month) - (begin.year * 12 + begin.month) - 1
    return ((_dagen_in_maand(begin) - begin.day + 1) * eerste + tussen * _MAANDNOEMER
            + einde.day * (_MAANDNOEMER // _dagen_in_maand(einde)))


_MAANDNOEMER = math.lcm(28, 29, 30, 31)


def _gespreid(waarde: int, start: date, eind: date | None, van: date, peildatum: date
              ) -> tuple[int, int] | None:
    if eind is None or eind < start:
        return None
    return waarde * _dagen(max(start, van), min(eind, peildatum)), _dagen(start, eind)


# -- matching -------------------------------------------------------------------------------


class Geldend(NamedTuple):
    """A toewijzing's counting version at K, as the figures read it (a plain tuple: a question
    reads thousands, from the money view or from `geldend_op` in a replay)."""

    sleutel: Sleutel
    client: str
    categorie: str | None
    code: str | None
    ingangsdatum: date
    einddatum: date | None
    aanbieder: str | None
    volume: int | None
    eenheid: str | None
    frequentie: str | None
    budget: int | None

    @staticmethod
    def uit(v: Geldversie) -> Geldend:
        return Geldend(v.sleutel, v.client, v.categorie, v.code, v.ingangsdatum, v.einddatum,
                       v.aanbieder, v.volume, v.eenheid, v.frequentie, v.budget)


class Regelgroep(NamedTuple):
    """The lines known at K in the window of one toewijzing (as the lines name it), client
    and, for the breakdown per month, month, summed. Every figure sums line amounts per
    toewijzing, client, gemeente or month, so a group counts exactly as its lines: the
    rules decide per line whether it is rejected at K and whether it lies outside its
    counting version's period, and the group keeps the sums of those lines apart."""

    gemeentecode: str
    nummer: int | None  # ToewijzingNummer as an integer; None: not a number (matches nothing)
    client: str
    maand: date | None  # first day of the lines' month; None: not grouped per month
    gedeclareerd: int  # signed eurocent
    afgewezen: int  # of those rejected at K
    buiten_periode: int  # of those outside [start, end] of their toewijzing's counting version


def regelsleutel(regel: Regel) -> Sleutel | None:
    """The key of the toewijzing a line names; None when its number is not a number."""
    try:
        return sleutel(regel.gemeentecode, regel.toewijzingnummer)
    except ValueError:  # not a number: matches no toewijzing
        return None


def regelgroepen(
    regels: Iterable[Regel], afwijzingen: Iterable[Afwijzing], geldend: dict[Sleutel, Geldend],
    gemeenten: Iterable[str], van: date, peildatum: date, k: date, per_maand: bool = False,
) -> list[Regelgroep]:
    """The lines of these gemeenten known at K in the window (each line once: `bekende_regels`),
    summed per toewijzing, client (and month); `geldend`: the counting versions at K."""
    binnen = set(gemeenten)
    afgewezen = afgewezen_op(afwijzingen, k)
    sommen: dict[tuple[str, int | None, str, date | None], list[int]] = {}
    for r in bekende_regels(regels, k):
        if r.gemeentecode not in binnen or not in_window(r, van, peildatum):
            continue
        key = regelsleutel(r)
        v = geldend.get(key) if key else None
        som = sommen.setdefault((r.gemeentecode, key[1] if key else None, r.client,
                                 r.maand if per_maand else None), [0, 0, 0])
        som[0] += r.bedrag
        if (r.aanbieder, r.referentienummer) in afgewezen:
            som[1] += r.bedrag
        if v is not None and buiten_toewijzingsperiode(r, v):
            som[2] += r.bedrag
    return [Regelgroep(*key, *som) for key, som in sommen.items()]


def _geldversie_volgorde(v: Geldversie) -> tuple[object, ...]:
    return (v.volgorde, v.aanbieder or "", v.volume if v.volume is not None else -1,
            v.eenheid or "", v.frequentie or "", v.budget if v.budget is not None else -1)

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
    for key, groep in per_toewijzing.items():
        if len(groep) == 1:  # geldende_versies of one version known at K: itself, unless deleted
            if not groep[0].is_verwijdering:
                result[key] = groep[0]
            continue
        groep.sort(key=_geldversie_volgorde)
        result.update(geldende_versies(groep, k))  # type: ignore[arg-type]
    return result


def _grenzen(regels: Iterable[ProductRegel]) -> list[date]:
    """The start dates on which a rule's validity begins or ends: between two of them each
    rule matches a product on every start date or on none."""
    punten = set()
    for r in regels:
        if r.geldig_vanaf is not None:
            punten.add(r.geldig_vanaf)
        if r.geldig_tot is not None and r.geldig_tot < date.max:
            punten.add(r.geldig_tot + timedelta(days=1))
    return sorted(punten)


class _Indeling:
    """Where a region places products on allocation start dates: in scope or not, segment
    and tariff, looked up once per product, Eenheid and run of start dates between
    `_grenzen`: a question places thousands of toewijzingen that share a few hundred
    products, and a lookup tries the region's rules in turn."""

    def __init__(self, regio: Regio) -> None:
        self.regio = regio
        self._grenzen = _grenzen([*(r for s in regio.segmenten for r in s.regels), *regio.tarieven])
        self._plaatsen: dict[tuple[object, ...], tuple[bool, str | None, int | None]] = {}

    def plaats(self, v: Geldend) -> tuple[bool, str | None, int | None]:
        """(in scope, segment id or None: unmapped, tariff of its product and Eenheid): the
        segment on the start date, and a segment that excludes the gemeente puts it out of
        scope, as `flow.allocaties` decides."""
        gemeentecode = v.sleutel[0]
        key = (gemeentecode, v.categorie, v.code, v.eenheid,
               bisect_right(self._grenzen, v.ingangsdatum))
        plaats = self._plaatsen.get(key)
        if plaats is None:
            segment = self.regio.segment_voor(gemeentecode, v.categorie, v.code, v.ingangsdatum)
            plaats = self._plaatsen[key] = (
                segment is None or gemeentecode not in segment.uitgesloten_gemeenten,
                segment.id if segment else None,
                self.regio.tarief_voor(gemeentecode, v.categorie, v.code, v.eenheid,
                                       v.ingangsdatum))
        return plaats


class _Geplaatst(NamedTuple):
    """A toewijzing in scope: its counting version, segment (None: unmapped) and tariff."""

    v: Geldend
    segment: str | None
    tarief: int | None

    def overlapt(self, van: date, tot: date) -> bool:
        return self.v.ingangsdatum <= tot and (self.v.einddatum is None or self.v.einddatum >= van)

    def waarde(self, van: date, peildatum: date) -> int | None:
        """The allocated value in the window, rounded once (None: zonder beschikte waarde)."""
        deel = _beschikt(self.v, self.tarief, van, peildatum)
        return None if deel is None else _afgerond(*deel)

    @property
    def mist_tarief(self) -> bool:
        return self.v.budget is None and self.v.volume is not None and self.tarief is None


def _in_scope(geldend: Iterable[Geldend], regio: Regio) -> dict[Sleutel, _Geplaatst]:
    """The region's toewijzingen in scope, with their segment and, when they have an Omvang
    and no Budget, the tariff of their product and Eenheid."""
    indeling = _Indeling(regio)
    result = {}
    for v in geldend:
        if v.sleutel[0] not in regio.gemeenten:
            continue
        in_scope, segment, tarief = indeling.plaats(v)
        if in_scope:
            result[v.sleutel] = _Geplaatst(
                v, segment, None if v.budget is not None or v.volume is None else tarief)
    return result


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


Gekoppeld = tuple[_Geplaatst, Regelgroep]  # a line group and the toewijzing in scope it names


def cijfers(
    toewijzingen: Iterable[_Geplaatst], groepen: Iterable[Gekoppeld], van: date,
    peildatum: date, k: date, declaratie_termijn: int,
    waarden: dict[Sleutel, int | None] | None = None,
) -> Geldcijfers:
    """The figures of one scope: its toewijzingen and the groups of their lines in the window
    [van, peildatum] (the caller passes only those). `waarden`: the rounded allocated values
    in this window of the toewijzingen that overlap it, when the caller has them already (the
    segments and the totaal share them)."""
    gedeclareerd = afgewezen = buiten = 0
    toegekend_per_toewijzing: dict[Sleutel, int] = defaultdict(int)
    toegekend_per_kind: dict[str, int] = defaultdict(int)
    for t, g in groepen:
        gedeclareerd += g.gedeclareerd
        afgewezen += g.afgewezen
        buiten += g.buiten_periode
        toegekend_groep = g.gedeclareerd - g.afgewezen
        toegekend_per_toewijzing[t.v.sleutel] += toegekend_groep
        toegekend_per_kind[g.client] += toegekend_groep
    beschikt = met_waarde_toegekend = zonder_waarde = zonder_decl = zonder_decl_beschikt = 0
    peil = min(k, peildatum) - timedelta(days=declaratie_termijn)
    for t in toewijzingen:
        key = t.v.sleutel
        if waarden is not None:  # holds exactly the toewijzingen that overlap the window
            if key not in waarden:
                continue
            afgerond = waarden[key]
        elif t.overlapt(van, peildatum):
            afgerond = t.waarde(van, peildatum)
        else:
            continue
        waarde = afgerond or 0
        if afgerond is None:
            zonder_waarde += 1
        else:
            beschikt += waarde
            met_waarde_toegekend += toegekend_per_toewijzing.get(key, 0)
        if t.v.ingangsdatum <= peil and toegekend_per_toewijzing.get(key, 0) <= 0:
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
        kosten_per_jeugdige=_afgerond(toegekend, jeugdigen) if jeugdigen else None,
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


_SLEUTEL_PER: dict[str, Callable[[_Geplaatst], Hashable]] = {
    "segment": lambda t: t.segment,
    "gemeente": lambda t: t.v.sleutel[0],
    "aanbieder": lambda t: t.v.aanbieder or "",
    "product": lambda t: (t.v.sleutel[0], t.v.categorie, t.v.code),
}


def _groepen(
    toewijzingen: Iterable[_Geplaatst], groepen: Iterable[Gekoppeld],
    sleutel_van: Callable[[_Geplaatst], Hashable],
) -> dict[Hashable, tuple[list[_Geplaatst], list[Gekoppeld]]]:
    """Toewijzingen and their line groups, grouped by a property of the toewijzing."""
    result: dict[Hashable, tuple[list[_Geplaatst], list[Gekoppeld]]] = defaultdict(lambda: ([], []))
    for t in toewijzingen:
        result[sleutel_van(t)][0].append(t)
    for gekoppeld in groepen:
        result[sleutel_van(gekoppeld[0])][1].append(gekoppeld)
    return result


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
    gemeente, from every version, line and rejection: the counting versions at K and the
    window's lines known at K summed per toewijzing and client (`regelgroepen`), then
    `kosten`, as a money question does from the money view's sums."""
    _controleer(van, peildatum, per)
    geldend = {key: Geldend.uit(v) for key, v in geldend_op(versies, k).items()}
    groepen = regelgroepen(regels, afwijzingen, geldend, regio.gemeenten, van, peildatum, k,
                           per_maand=per == "maand")
    return kosten(list(geldend.values()), groepen, regio, van, peildatum, k, gemeente, per,
                  k_getoond=k_getoond)


def _controleer(van: date, peildatum: date, per: str) -> None:
    if peildatum < van:
        raise ValueError(f"peildatum {peildatum} lies before from {van}")
    if per not in _WIRE_PER:
        raise ValueError(f"per is one of {', '.join(_WIRE_PER)}, not {per!r}")


def kosten(
    geldend: list[Geldend],
    groepen: Iterable[Regelgroep],
    regio: Regio,
    van: date,
    peildatum: date,
    k: date,
    gemeente: str | None = None,
    per: Per = "segment",
    *,
    k_getoond: date | None = None,
) -> Kostentelling:
    """The money figures from the counting versions at K (at least of the toewijzingen that
    overlap the window or that a group names) and the window's line groups (per month when
    `per` is "maand"): per segment (every configured one), a totaal, ongekoppeld beside them,
    and the breakdown `per` (segment, gemeente, maand, aanbieder or product)."""
    _controleer(van, peildatum, per)
    toewijzingen = _in_scope(geldend, regio)
    bestaand = {v.sleutel for v in geldend}
    if gemeente is not None:
        toewijzingen = {key: t for key, t in toewijzingen.items() if key[0] == gemeente}
    gekoppeld: list[Gekoppeld] = []
    ongekoppeld_per_gemeente: dict[str, int] = defaultdict(int)
    buiten_scope = 0
    for g in groepen:
        if g.gemeentecode not in regio.gemeenten or (gemeente is not None
                                                     and g.gemeentecode != gemeente):
            continue
        if per == "maand" and g.maand is None:
            raise ValueError("the breakdown per month needs the line groups per month")
        key = (g.gemeentecode, g.nummer) if g.nummer is not None else None
        t = toewijzingen.get(key) if key else None
        if t is not None:
            gekoppeld.append((t, g))
        elif key in bestaand:  # its toewijzing is excluded from its segment: out of scope
            buiten_scope += g.gedeclareerd
        else:  # unknown or deleted at K
            ongekoppeld_per_gemeente[g.gemeentecode] += g.gedeclareerd
    termijn = regio.declaratie_termijn
    leeg: tuple[list[_Geplaatst], list[Gekoppeld]] = ([], [])

    waarden = {key: t.waarde(van, peildatum) for key, t in toewijzingen.items()
               if t.overlapt(van, peildatum)}
    per_segment = _groepen(toewijzingen.values(), gekoppeld, _SLEUTEL_PER["segment"])
    segmenten = [Segmentgeld(s.id, s.naam, cijfers(*per_segment.get(s.id, leeg), van, peildatum, k,
                                                    termijn, waarden))
                 for s in regio.segmenten]
    bekend = {s.id for s in regio.segmenten}
    in_scope = [t for t in toewijzingen.values() if t.segment in bekend]
    in_scope_groepen = [(t, g) for t, g in gekoppeld if t.segment in bekend]
    totaal = cijfers(in_scope, in_scope_groepen, van, peildatum, k, termijn, waarden)
    unmapped = cijfers(*per_segment.get(None, leeg), van, peildatum, k, termijn, waarden)

    uitsplitsing: dict[Hashable, Geldcijfers] = {}
    if per == "segment":
        uitsplitsing = {s.segment: s.cijfers for s in segmenten}
    elif per == "maand":
        per_maand: dict[date | None, list[Gekoppeld]] = defaultdict(list)
        for t, g in in_scope_groepen:
            per_maand[g.maand].append((t, g))
        for a, b in _maanden(van, peildatum):
            maand = a.replace(day=1)
            uitsplitsing[maand] = cijfers(in_scope, per_maand.get(maand, []), a, b, k, termijn)
    else:
        groepen_per = _groepen(in_scope, in_scope_groepen, _SLEUTEL_PER[per])
        for cel in sorted(groepen_per, key=_sorteerbaar):
            groep_toewijzingen, groep_groepen = groepen_per[cel]
            if groep_groepen or any(t.overlapt(van, peildatum) for t in groep_toewijzingen):
                uitsplitsing[cel] = cijfers(groep_toewijzingen, groep_groepen, van, peildatum, k,
                                            termijn, waarden)

    return Kostentelling(
        regio=regio.id, van=van, peildatum=peildatum, k=k_getoond, gemeente=gemeente,
        segmenten=segmenten, totaal=totaal,
        ongekoppeld=sum(ongekoppeld_per_gemeente.values()),
        ongekoppeld_per_gemeente=dict(sorted(ongekoppeld_per_gemeente.items())),
        unmapped=unmapped, buiten_scope=buiten_scope, per=per, uitsplitsing=uitsplitsing,
        waarschuwingen=_waarschuwingen(regio, toewijzingen.values(), unmapped, van, peildatum, k),
    )


def _sorteerbaar(key: Hashable) -> tuple[object, ...]:
    if isinstance(key, tuple):
        return tuple("" if part is None else part for part in key)
    return (key,)


def _waarschuwingen(
    regio: Regio, toewijzingen: Iterable[_Geplaatst], unmapped: Geldcijfers, van: date,
    peildatum: date, k: date,
) -> list[str]:
    result = []
    if k < peildatum + timedelta(days=regio.declaratie_termijn):
        result.append(
            f"known_at lies less than declaratie_termijn={regio.declaratie_termijn} days after the "
            "peildatum: declarations for the window may still arrive")
    zonder_tarief: set[tuple[str | None, str | None, str | None]] = set()
    for t in toewijzingen:
        if t.mist_tarief and t.overlapt(van, peildatum) and t.segment is not None:
            zonder_tarief.add((t.v.categorie, t.v.code, t.v.eenheid))
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
