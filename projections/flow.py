"""The flow rules of DOMAIN.md, as pure functions over plain data.

This is the one place where instroom, stapeling, doorstroom, recidive, hernieuwde instroom
and uitstroom are decided. The live projection and `jeugdstroom replay` both call it:

    versies --(geldende_versies at K)--> allocaties(regio) --classificeer--> tel(window, K)

Knowledge time K is a date: a version is known from its message's Dagtekening on.
"""

from __future__ import annotations

import enum
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from projections.regio import Regio

REDENWIJZIGING_VERWIJDERD = "13"


class Categorie(enum.StrEnum):
    INSTROOM = "instroom"
    STAPELING = "stapeling"
    DOORSTROOM = "doorstroom"
    RECIDIVE = "recidive"
    HERNIEUWDE_INSTROOM = "hernieuwde_instroom"


Sleutel = tuple[str, int]  # (gemeentecode, ToewijzingNummer as an integer): the key order


def sleutel(gemeentecode: str, toewijzingnummer: str) -> Sleutel:
    return gemeentecode, int(toewijzingnummer)


@dataclass(frozen=True, slots=True)
class Versie:
    """One version of a toewijzing (one ToegewezenProduct of one JW301)."""

    gemeentecode: str
    toewijzingnummer: str
    client: str
    categorie: str | None
    code: str | None
    toegewezen_op: datetime
    ingangsdatum: date
    einddatum: date | None
    reden_wijziging: str | None
    dagtekening: date
    identificatie: str

    @property
    def sleutel(self) -> Sleutel:
        return sleutel(self.gemeentecode, self.toewijzingnummer)

    @property
    def is_verwijdering(self) -> bool:
        return self.reden_wijziging == REDENWIJZIGING_VERWIJDERD and self.einddatum == self.ingangsdatum

    @property
    def volgorde(self) -> tuple[object, ...]:
        """Latest Toewijzingsdatum+tijd wins; on a tie the later Dagtekening, then the larger
        Identificatie (numerically when it is a number). Versions equal on all three (one
        message naming a toewijzing twice) are ordered by content, so that arrival order
        never decides: a deletion last, then the later end, start, client and product."""
        ident = self.identificatie
        return (self.toegewezen_op, self.dagtekening,
                (1, int(ident)) if ident.isdigit() else (0, ident),
                self.is_verwijdering, self.einddatum or date.max, self.ingangsdatum,
                self.client, self.categorie or "", self.code or "", self.reden_wijziging or "")


def geldende_versies(versies: Iterable[Versie], k: date) -> dict[Sleutel, Versie]:
    """The counting version per toewijzing at knowledge time K; deleted ones are left out."""
    geldend: dict[Sleutel, Versie] = {}
    for versie in versies:
        if versie.dagtekening > k:
            continue
        huidige = geldend.get(versie.sleutel)
        if huidige is None or versie.volgorde > huidige.volgorde:
            geldend[versie.sleutel] = versie
    return {key: v for key, v in geldend.items() if not v.is_verwijdering}


@dataclass(frozen=True, slots=True)
class Allocatie:
    """A toewijzing in its counting version, placed in a segment of the region (None: unmapped)."""

    sleutel: Sleutel
    client: str
    segment: str | None
    start: date
    eind: date | None  # inclusive; None: open end

    @property
    def gemeentecode(self) -> str:
        return self.sleutel[0]

    def overlapt(self, van: date, tot: date) -> bool:
        return self.start <= tot and (self.eind is None or self.eind >= van)


def allocaties(geldend: Iterable[Versie], regio: Regio) -> list[Allocatie]:
    """Counting versions of the region's gemeenten, mapped to segments; exclusions removed.

    The most specific rule picks the segment on the allocation's start date; if that
    segment excludes the gemeente, the allocation is out of scope: not counted, not
    unmapped, no fall-through to another rule.
    """
    result = []
    for v in geldend:
        if v.gemeentecode not in regio.gemeenten:
            continue
        segment = regio.segment_voor(v.gemeentecode, v.categorie, v.code, v.ingangsdatum)
        if segment is not None and v.gemeentecode in segment.uitgesloten_gemeenten:
            continue
        result.append(Allocatie(v.sleutel, v.client, segment.id if segment else None,
                                v.ingangsdatum, v.einddatum))
    return result


@dataclass(frozen=True, slots=True)
class Classificatie:
    allocatie: Allocatie
    categorie: Categorie | None  # None for an unmapped allocation
    delta: int | None  # S - end(P) in days; None: no predecessor or an open-ended one
    voorganger: Sleutel | None
    uitstroom: bool  # definitive or provisional: that depends on K, see `is_voorlopig`

    def is_voorlopig(self, n: int, k: date) -> bool:
        """A follow-up may still arrive: E + n lies after K."""
        return self.uitstroom and self.allocatie.eind is not None and (
            plus_dagen(self.allocatie.eind, n) > k)


_OPEN = date.max


def plus_dagen(d: date, dagen: int) -> date:
    """d + dagen, capped at date.max: backoffices send Einddatum 9999-12-31 for 'open'."""
    return d + timedelta(days=dagen) if d <= date.max - timedelta(days=dagen) else date.max


def categorie_voor(delta: int | None, n: int, m: int) -> Categorie:
    """The category of an allocation that has a predecessor; Δ = S - end(P), None for an
    open end (Δ = -∞). Without a predecessor it is instroom."""
    if delta is None or delta < -n:
        return Categorie.STAPELING
    if delta <= n:
        return Categorie.DOORSTROOM
    if delta <= m:
        return Categorie.RECIDIVE
    return Categorie.HERNIEUWDE_INSTROOM


def classificeer(alle: Iterable[Allocatie], n: int, m: int) -> list[Classificatie]:
    """Give every allocation exactly one inflow category, and decide uitstroom.

    Per client and segment (across all gemeenten of the region):
    - predecessor P of A: among the others that started before A (earlier start, or the
      same start and a smaller key) the one with the latest end (open end latest);
    - A with end E is an uitstroom unless some B starts by E + n and ends after E (or on
      E with a larger key): two ending on the same day give one uitstroom, the larger key's.
    """
    groepen: dict[tuple[str, str], list[Allocatie]] = defaultdict(list)
    result: list[Classificatie] = []
    for a in alle:
        if a.segment is None:
            result.append(Classificatie(a, None, None, None, False))
        else:
            groepen[(a.client, a.segment)].append(a)
    for groep in groepen.values():
        groep.sort(key=lambda a: (a.start, a.sleutel))
        laatste_eind: date | None = None
        laatste: Allocatie | None = None
        for a in groep:
            if laatste is None:
                delta, categorie = None, Categorie.INSTROOM
            else:
                assert laatste_eind is not None  # set with `laatste`
                delta = None if laatste_eind == _OPEN else (a.start - laatste_eind).days
                categorie = categorie_voor(delta, n, m)
            result.append(Classificatie(a, categorie, delta,
                                        laatste.sleutel if laatste else None,
                                        _is_uitstroom(a, groep, n)))
            eind = a.eind or _OPEN
            if laatste_eind is None or eind > laatste_eind:
                laatste_eind, laatste = eind, a
    return result


def _is_uitstroom(a: Allocatie, groep: Sequence[Allocatie], n: int) -> bool:
    if a.eind is None:
        return False
    grens = plus_dagen(a.eind, n)
    for b in groep:
        if b is a or b.start > grens:
            continue
        b_eind = b.eind or _OPEN
        if b_eind > a.eind or (b_eind == a.eind and b.sleutel > a.sleutel):
            return False
    return True


def classificeer_op(versies: Iterable[Versie], regio: Regio, k: date) -> list[Classificatie]:
    """Everything known at K, classified: the whole pipeline for one knowledge time."""
    return classificeer(allocaties(geldende_versies(versies, k).values(), regio), regio.n, regio.m)


# -- counting -------------------------------------------------------------------------------


INSTROOMCATEGORIEEN = tuple(c.value for c in Categorie)  # together: all inflow ("alle instroom")
FLOW = (*INSTROOMCATEGORIEEN, "uitstroom", "uitstroom_voorlopig")


def instroom_in(c: Classificatie, van: date, peildatum: date) -> bool:
    """The allocation counts in its inflow category: it started in the window."""
    return van <= c.allocatie.start <= peildatum


def uitstroom_in(c: Classificatie, van: date, peildatum: date) -> bool:
    """The allocation is an uitstroom that ended in the window."""
    return c.uitstroom and c.allocatie.eind is not None and van <= c.allocatie.eind <= peildatum


def in_zorg_op(a: Allocatie, peildatum: date) -> bool:
    """Running on the peildatum (open end included)."""
    return a.start <= peildatum and (a.eind is None or a.eind >= peildatum)


@dataclass
class SegmentTelling:
    segment: str
    naam: str
    flow: bool
    instroom: int | None = 0
    stapeling: int | None = 0
    doorstroom: int | None = 0
    recidive: int | None = 0
    hernieuwde_instroom: int | None = 0
    uitstroom: int | None = 0
    uitstroom_voorlopig: int | None = 0
    in_zorg: int = 0
    unieke_jeugdigen: int = 0

    @property
    def alle_instroom(self) -> int | None:
        """All five inflow categories together: every allocation that started in the window."""
        if not self.flow:
            return None
        return sum(getattr(self, c) for c in INSTROOMCATEGORIEEN)

    def als_dict(self) -> dict[str, object]:
        return {"segment": self.segment, "name": self.naam, "flow": self.flow,
                **{k: getattr(self, k) for k in (*FLOW, "in_zorg", "unieke_jeugdigen")}}


def vraag_kop(regio: str, van: date, peildatum: date, k: date | None,
              gemeente: str | None) -> dict[str, object]:
    """The question every figure answers, as the JSON keys of counts, costs and care."""
    return {"region": regio, "from": van.isoformat(), "peildatum": peildatum.isoformat(),
            "known_at": k.isoformat() if k else None, "gemeente": gemeente}


@dataclass
class Telling:
    """The figures for one (region, window, K, gemeente?), in the shape of `counts --format json`."""

    regio: str
    van: date
    peildatum: date
    k: date | None
    gemeente: str | None
    segmenten: list[SegmentTelling]
    unmapped_toewijzingen: int
    totaal_unieke_jeugdigen: int
    waarschuwingen: list[str] = field(default_factory=list)

    def als_dict(self) -> dict[str, object]:
        return {
            **vraag_kop(self.regio, self.van, self.peildatum, self.k, self.gemeente),
            "segments": [s.als_dict() for s in self.segmenten],
            "unmapped_toewijzingen": self.unmapped_toewijzingen,
            "totaal_unieke_jeugdigen": self.totaal_unieke_jeugdigen,
            "warnings": self.waarschuwingen,
        }


def tel(
    classificaties: Iterable[Classificatie],
    regio: Regio,
    van: date,
    peildatum: date,
    k: date,
    gemeente: str | None = None,
    *,
    k_getoond: date | None = None,
) -> Telling:
    """Count a window [van, peildatum] as known at K, for the region or one gemeente.

    Inflow categories count allocations starting in the window, uitstroom those ending in
    it, in zorg those running on the peildatum, unique children those overlapping it. Each
    figure goes to the gemeente of the allocation it counts.
    """
    if peildatum < van:
        raise ValueError(f"peildatum {peildatum} lies before from {van}")
    per_segment = {s.id: SegmentTelling(s.id, s.naam, s.flow) for s in regio.segmenten}
    kinderen: dict[str, set[str]] = defaultdict(set)
    unmapped = 0
    onbekend: set[str] = set()
    for c in classificaties:
        a = c.allocatie
        if gemeente is not None and a.gemeentecode != gemeente:
            continue
        if a.segment is None:
            unmapped += a.overlapt(van, peildatum)
            continue
        if a.segment not in per_segment:
            onbekend.add(a.segment)  # projected under an older region file
            continue
        t = per_segment[a.segment]
        if c.categorie is not None and instroom_in(c, van, peildatum):
            setattr(t, c.categorie.value, getattr(t, c.categorie.value) + 1)
        if uitstroom_in(c, van, peildatum):
            t.uitstroom += 1  # type: ignore[operator]
            t.uitstroom_voorlopig += c.is_voorlopig(regio.n, k)  # type: ignore[operator]
        if in_zorg_op(a, peildatum):
            t.in_zorg += 1
        if a.overlapt(van, peildatum):
            kinderen[a.segment].add(a.client)
    for t in per_segment.values():
        t.unieke_jeugdigen = len(kinderen[t.segment])
        if not t.flow:
            for naam in FLOW:
                setattr(t, naam, None)
    waarschuwingen = [w for w in [regio.window_waarschuwing(van)] if w]
    if onbekend:
        waarschuwingen.append(
            f"de projectie kent segmenten die niet meer in het regiobestand staan "
            f"({', '.join(sorted(onbekend))}): laat de beheerder `jeugdstroom project --rebuild` "
            "draaien na een wijziging van de regels van de regio")
    return Telling(
        regio=regio.id, van=van, peildatum=peildatum, k=k_getoond, gemeente=gemeente,
        segmenten=list(per_segment.values()), unmapped_toewijzingen=unmapped,
        totaal_unieke_jeugdigen=len(set().union(*kinderen.values())),
        waarschuwingen=waarschuwingen,
    )


# -- knowledge time -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Periode:
    """A classification as it was known for knowledge times K in [bekend_vanaf, bekend_tot)."""

    classificatie: Classificatie
    bekend_vanaf: date
    bekend_tot: date | None  # None: still known so
    oorzaak: str  # the message(s) of bekend_vanaf that made it so, "gemeente:identificatie"


def tijdlijn(versies: Sequence[Versie], regio: Regio, clients: set[str]) -> list[Periode]:
    """How the classification of these clients' allocations changed over knowledge time.

    `versies` must hold every version of every toewijzing that ever belonged to one of the
    clients (classification looks at one client's allocations only, so that is enough).
    The classification can only change on a Dagtekening, so it is computed once per
    distinct Dagtekening: the live projection stores these periods, and any K is answered
    by the periods that contain it.
    """
    momenten: dict[date, set[str]] = defaultdict(set)
    for v in versies:
        momenten[v.dagtekening].add(f"{v.gemeentecode}:{v.identificatie}")
    lopend: dict[Sleutel, tuple[Classificatie, date, str]] = {}
    result: list[Periode] = []
    for k in sorted(momenten):
        oorzaak = ",".join(sorted(momenten[k]))
        huidig = {c.allocatie.sleutel: c for c in classificeer_op(versies, regio, k)
                  if c.allocatie.client in clients}
        for key, (c, vanaf, o) in list(lopend.items()):
            if huidig.get(key) != c:
                result.append(Periode(c, vanaf, k, o))
                del lopend[key]
        for key, c in huidig.items():
            if key not in lopend:
                lopend[key] = (c, k, oorzaak)
    result.extend(Periode(c, vanaf, None, o) for c, vanaf, o in lopend.values())
    return result


def geldig_op(perioden: Iterable[Periode], k: date) -> list[Classificatie]:
    return [p.classificatie for p in perioden
            if p.bekend_vanaf <= k and (p.bekend_tot is None or k < p.bekend_tot)]


# -- zorgduur -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Episode:
    """A care episode in one segment: allocations linked by doorstroom or stapeling."""

    client: str
    segment: str
    start: date
    eind: date | None  # the end of its uitstroom allocation; None: ongoing at K
    allocaties: tuple[Sleutel, ...]

    @property
    def zorgduur(self) -> int | None:
        """End of the uitstroom allocation minus the first start, plus one day."""
        return (self.eind - self.start).days + 1 if self.eind else None


def episodes(classificaties: Iterable[Classificatie]) -> list[Episode]:
    """Chain allocations into episodes: instroom, recidive and hernieuwde instroom open one,
    doorstroom and stapeling continue their predecessor's; an uitstroom closes it."""
    per_sleutel: dict[Sleutel, int] = {}
    ketens: list[list[Classificatie]] = []
    gesorteerd = sorted((c for c in classificaties if c.categorie is not None),
                        key=lambda c: (c.allocatie.start, c.allocatie.sleutel))
    for c in gesorteerd:
        vervolg = c.categorie in (Categorie.DOORSTROOM, Categorie.STAPELING)
        if vervolg and c.voorganger in per_sleutel:
            index = per_sleutel[c.voorganger]
        else:
            index = len(ketens)
            ketens.append([])
        ketens[index].append(c)
        per_sleutel[c.allocatie.sleutel] = index
    result = []
    for keten in ketens:
        eerste = keten[0].allocatie
        uitstroom = [c.allocatie.eind for c in keten if c.uitstroom]
        result.append(Episode(eerste.client, eerste.segment or "", eerste.start,
                              uitstroom[0] if uitstroom else None,
                              tuple(c.allocatie.sleutel for c in keten)))
    return result


# -- the difference between two knowledge times -----------------------------------------------


@dataclass(frozen=True)
class Wijziging:
    """One allocation whose figures differ between two knowledge times K1 and K2."""

    client: str
    gemeentecode: str
    toewijzingnummer: int
    segment: str | None
    oud: str  # how it counted at K1 ("-" when not counted then)
    nieuw: str
    oorzaak: str  # the message(s) that made the K2 state, or "" when unchanged since K1
    datum: date | None = None  # the Dagtekening of those messages (None: unchanged since K1)
    wat: str = ""  # what changed between the two states, in words (see `wat_veranderde`)


def beschrijf(p: Periode | None, van: date, peildatum: date) -> str:
    """How one allocation counts in the window, in the words of the figures it adds to."""
    if p is None:
        return "-"
    c = p.classificatie
    delen = []
    if c.categorie is not None and instroom_in(c, van, peildatum):
        delen.append(c.categorie.value)
    if uitstroom_in(c, van, peildatum):
        delen.append("uitstroom")
    if in_zorg_op(c.allocatie, peildatum):
        delen.append("in_zorg")
    return "+".join(delen) or ("unmapped" if c.allocatie.segment is None else "in window")


def verschillen(k1: date, bij_k1: Iterable[Periode], bij_k2: Iterable[Periode], van: date,
                peildatum: date, gemeente: str | None = None) -> list[Wijziging]:
    """The allocations behind the difference between the figures at K1 and at K2 (> K1),
    given the periods that held at each (as `geldig_op` or the view returns them)."""
    perioden = [{p.classificatie.allocatie.sleutel: p for p in bij
                 if gemeente is None or p.classificatie.allocatie.gemeentecode == gemeente}
                for bij in (bij_k1, bij_k2)]
    wijzigingen = []
    for key in sorted(perioden[0].keys() | perioden[1].keys()):
        oud, nieuw = perioden[0].get(key), perioden[1].get(key)
        voor, na = beschrijf(oud, van, peildatum), beschrijf(nieuw, van, peildatum)
        segment_oud = oud.classificatie.allocatie.segment if oud else None
        segment_nieuw = nieuw.classificatie.allocatie.segment if nieuw else None
        if voor == na and segment_oud == segment_nieuw:
            continue
        bron = nieuw or oud
        assert bron is not None
        wijzigingen.append(Wijziging(
            client=bron.classificatie.allocatie.client, gemeentecode=key[0],
            toewijzingnummer=key[1], segment=segment_nieuw or segment_oud,
            oud=voor if segment_oud == segment_nieuw or oud is None else f"{voor} ({segment_oud})",
            nieuw=na,
            oorzaak=nieuw.oorzaak if nieuw and nieuw.bekend_vanaf > k1 else
            ("deleted or superseded" if nieuw is None else ""),
            datum=nieuw.bekend_vanaf if nieuw and nieuw.bekend_vanaf > k1 else None,
            wat=wat_veranderde(oud, nieuw),
        ))
    return wijzigingen


def _dag(d: date | None) -> str:
    return "open" if d is None else d.isoformat()


def wat_veranderde(oud: Periode | None, nieuw: Periode | None) -> str:
    """What differs between an allocation's state at K1 and at K2, in Dutch words for the
    page and the CLI (the stored cause names only the messages)."""
    if oud is None:
        if nieuw is None:
            return ""
        a = nieuw.classificatie.allocatie
        return f"nieuw bekend: ingangsdatum {a.start.isoformat()}, einddatum {_dag(a.eind)}"
    if nieuw is None:
        return "niet meer geteld: verwijderd (RedenWijziging 13) of buiten het venster geraakt"
    c, d = oud.classificatie, nieuw.classificatie
    delen = []
    if c.allocatie.segment != d.allocatie.segment:
        delen.append(f"segment {c.allocatie.segment or 'geen'} → {d.allocatie.segment or 'geen'}")
    if c.allocatie.start != d.allocatie.start:
        delen.append(f"ingangsdatum {c.allocatie.start.isoformat()} → {d.allocatie.start.isoformat()}")
    if c.allocatie.eind != d.allocatie.eind:
        delen.append(f"einddatum {_dag(c.allocatie.eind)} → {_dag(d.allocatie.eind)}")
    if c.categorie != d.categorie:
        delen.append(f"categorie {c.categorie.value if c.categorie else 'geen'} → "
                     f"{d.categorie.value if d.categorie else 'geen'} (door een andere toewijzing "
                     "van dezelfde jeugdige)")
    if c.uitstroom != d.uitstroom:
        delen.append("uitstroom → geen uitstroom (er is een vervolg bekend)" if c.uitstroom
                     else "geen uitstroom → uitstroom (het vervolg is vervallen)")
    return "; ".join(delen)


def aandeel(deel: int, geheel: int) -> float | None:
    """A share as a fraction with four decimals; None (n.v.t.) when there is nothing to share."""
    return round(deel / geheel, 4) if geheel else None
