"""A deterministic simulator of one region's iJw traffic: test and demo data of a known shape.

Clients enter a segment, get a chain of allocations (doorstroom, stapeling, recidive, hernieuwde
instroom with the profile's probabilities), and every allocation becomes the messages a
backoffice would see: JW301 versions from the gemeente, JW305/JW307 and monthly JW323 from the
provider, the gemeente's JW325 answers, plus the mess of real traffic (corrected end dates, late
versions, deletions, duplicate files, invalid messages; declarations 1-6 months late, corrected
lines, lines without a toewijzing or outside its period, rejected lines). The same profile and
seed give byte-identical files.

Money choices (assumptions, written down here): hours (Eenheid 04) are allocated per week
(only with an Einddatum: CD076), per month or as a total; etmalen (Eenheid 14) per week
(7 a week, with an Einddatum) or per month (31 a month: CS338 allows no Frequentie 1 with
Eenheid 14), and a share of the verblijf allocations (categorie 44) with an Einddatum get a
Budget (the days times the tariff) instead of an Omvang (CD077/CD078), with a product without
code (CD041 asks an Omvang whenever there is a code). A stacked allocation at the same
provider gets another product code (TR302). Every JW323 gets a JW325 one to four weeks later,
listing the lines it rejects (about 3% of the debit lines).

Clients are simulated from `_AANLOOP_JAREN` years before the first year so that the region
starts with a realistic stock in care; only allocations still running on 1 January of the first
year (or starting later) are written, so the data are complete from that day (history_start).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, time, timedelta
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING

from events.ijw import (
    REDENWIJZIGING_VERWIJDERD,
    Antwoordbericht,
    BerichtKop,
    Bsn,
    Declaratiebericht,
    Omvang,
    Prestatie,
    Product,
    Startbericht,
    StartProduct,
    Stopbericht,
    StopProduct,
    ToegewezenProduct,
    Toewijzingbericht,
)
from events.ijw_schrijven import AFWIJZINGSCODE, BREEKBAAR, GEEN_FOUTEN, Schrijfbaar, schrijf
from events.verwerking import ijw_records

if TYPE_CHECKING:
    from projections.regio import ProductRegel, Regio

_AANLOOP_JAREN = 5  # long enough for Wonen (stays of years) to reach its usual stock
_GEDEELDE_CLIENTEN = 0.1  # share of a later segment's new clients already known in an earlier one
_N = 14  # the region's doorstroom margin n (DOMAIN.md), used to aim follow-ups at a category
_M = 180  # the recidive margin m
_LAATSTE_DECLARATIEMAAND = 6  # a month is declared 1 to 6 months later
_DECLARATIE_VERTRAGING = (6, 3, 2, 1, 1, 1)  # weights of 1..6 months: most come the next month
_P_CORRECTIE = 0.02  # a line credited and declared again later
_P_ZONDER_TOEWIJZING = 0.003  # a line naming a ToewijzingNummer that does not exist
_P_BUITEN_PERIODE = 0.05  # the last month declared to its end although care ended earlier
_P_AFGEWEZEN = 0.03  # a debit line that the gemeente's JW325 rejects
_P_BUDGET = 0.6  # a verblijf excl. behandeling (44) alone at its provider, with an end: a Budget
_OPEN_BEKEND = 160  # days after its real end that a version sent open can still be current
_VERVOLG = ("doorstroom", "stapeling", "recidive", "hernieuwd")


@dataclass(frozen=True)
class SegmentProfiel:
    """How clients enter one segment and how their allocations follow each other.

    After each allocation at most one follow-up is drawn: p_doorstroom (starts 0-14 days after
    the end), p_stapeling (starts while it still runs), p_recidive (15-180 days after),
    p_hernieuwd (181-730 days after); otherwise the client leaves the segment.
    """

    naam: str
    producten: Sequence[tuple[str, str]]  # (categorie, code)
    instroom_per_jaar: int
    gemiddelde_duur_dagen: int
    p_doorstroom: float
    p_stapeling: float
    p_recidive: float
    p_hernieuwd: float


@dataclass(frozen=True)
class Ruis:
    """The mess of real traffic; everything off by default."""

    aandeel_einde_gecorrigeerd: float = 0.0  # a later JW301 version changes the Einddatum
    aandeel_laat: float = 0.0  # a JW301 whose Dagtekening lies weeks after its Toewijzingsdatum
    aandeel_verwijderd: float = 0.0  # an extra allocation made by mistake and deleted (reden 13)
    aandeel_dubbel: float = 0.0  # a file whose bytes are written a second time
    aantal_ongeldig: int = 0  # broken copies of JW301s that validation must reject
    aandeel_niet_gestart: float = 0.0  # allocations without any care: no JW305/JW307/JW323
    aandeel_laat_gecorrigeerd: float = 0.0  # of the corrections: known 2-5 months after the end


@dataclass(frozen=True)
class SimulatieProfiel:
    gemeenten: Sequence[str]  # 4-digit CBS codes
    aanbieders: Sequence[str]  # 8-digit AGB codes, most used first
    segmenten: Sequence[SegmentProfiel]
    ruis: Ruis = Ruis()


@dataclass(frozen=True)
class SimulatieResultaat:
    bestanden: dict[str, int]  # files per message type, duplicates and invalid ones included
    toewijzingen: int  # distinct toewijzingen in the JW301s, deleted ones included
    verwijderd: int
    ongeldig: int
    duplicaten: int
    ijw_records: int  # ToegewezenProduct, StartProduct, StopProduct, Prestatie in valid files
    gebroken: dict[str, int] = field(default_factory=dict)  # iJw rule -> messages breaking it

    @property
    def totaal(self) -> int:
        return sum(self.bestanden.values())


def zuid_limburg_profiel() -> SimulatieProfiel:
    """Zuid-Limburg at the yearly size of its 0-meting, region-wide over all 16 gemeenten.

    Ambulant: about 2,200 instroom and 3,600 uitstroom a year, so many clients come back
    (recidive, hernieuwd) and the allocations are short; Wonen about 260 instroom, GIK-J +
    gedwongen kader about 105, Crisis some tens.
    """
    # Jeugdzorgregio "Zuid-Limburg" in CBS' gemeentelijke indeling 2026
    # (shared/reference/cbs-gemeenten-2026.csv).
    gemeenten = ["0888", "1954", "0899", "1903", "1729", "0917", "0928", "0882",
                 "0935", "0938", "0965", "1883", "0971", "0981", "0994", "0986"]
    ambulant = SegmentProfiel(
        "Ambulant", [("45", f"45A{i:02d}") for i in range(1, 21)], instroom_per_jaar=2200,
        gemiddelde_duur_dagen=150, p_doorstroom=0.07, p_stapeling=0.03, p_recidive=0.2,
        p_hernieuwd=0.15,
    )
    wonen = SegmentProfiel(
        "Wonen", [("43", "43A09"), ("43", "43A10"), ("43", "43A14"), ("44", "44A01")],
        instroom_per_jaar=260, gemiddelde_duur_dagen=500, p_doorstroom=0.25, p_stapeling=0.05,
        p_recidive=0.05, p_hernieuwd=0.03,
    )
    gedwongen = SegmentProfiel(
        "GIK-J + gedwongen kader", [("47", "47A01"), ("48", "48A01"), ("43", "43G01")],
        instroom_per_jaar=105, gemiddelde_duur_dagen=365, p_doorstroom=0.2, p_stapeling=0.15,
        p_recidive=0.05, p_hernieuwd=0.05,
    )
    crisis = SegmentProfiel(
        "Crisis", [("46", "46A01")], instroom_per_jaar=40, gemiddelde_duur_dagen=21,
        p_doorstroom=0.1, p_stapeling=0.0, p_recidive=0.15, p_hernieuwd=0.05,
    )
    return SimulatieProfiel(
        gemeenten=gemeenten,
        aanbieders=[f"9999{i:04d}" for i in range(1, 11)],  # made up, clearly not real AGB codes
        segmenten=[ambulant, wonen, gedwongen, crisis],
        ruis=Ruis(aandeel_einde_gecorrigeerd=0.12, aandeel_laat=0.03, aandeel_verwijderd=0.01,
                  aandeel_dubbel=0.01, aantal_ongeldig=20, aandeel_niet_gestart=0.03,
                  aandeel_laat_gecorrigeerd=0.5),
    )


_PROFIELEN = {"zuid-limburg": zuid_limburg_profiel}


def simulatie_profiel(regio: Regio) -> SimulatieProfiel:
    """The profile of a region: measured magnitudes where known (its 0-meting), otherwise a
    plain profile made from its configuration (see `_uit_configuratie`)."""
    if regio.id in _PROFIELEN:
        return _PROFIELEN[regio.id]()
    return _uit_configuratie(regio)


def _product_codes(regel: ProductRegel) -> list[tuple[str, str]]:
    """Product codes a rule matches: its exact code, or one made from its prefix or categorie."""
    if regel.code:
        return [(regel.categorie or regel.code[:2], regel.code)]
    if regel.prefix:
        return [(regel.categorie or regel.prefix[:2], (regel.prefix + "01")[:5])]
    return [(regel.categorie or "45", f"{regel.categorie}A01")]


def _uit_configuratie(regio: Regio) -> SimulatieProfiel:
    """A region without known magnitudes: every segment gets 25 new clients a year per gemeente,
    stays of half a year and the Zuid-Limburg messiness; enough to exercise every figure."""
    segmenten = [
        SegmentProfiel(
            segment.naam, [c for regel in segment.regels for c in _product_codes(regel)],
            instroom_per_jaar=25 * len(regio.gemeenten), gemiddelde_duur_dagen=180,
            p_doorstroom=0.1, p_stapeling=0.05, p_recidive=0.15, p_hernieuwd=0.1,
        )
        for segment in regio.segmenten
    ]
    return replace(zuid_limburg_profiel(), gemeenten=list(regio.gemeenten), segmenten=segmenten)


# -- the simulated world ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Client:
    bsn: Bsn
    gemeente: str


@dataclass
class _Toewijzing:
    """One allocation as it really went; its messages are derived from it."""

    client: _Client
    segment: SegmentProfiel
    aanbieder: str
    product: Product
    ingang: date
    eind: date  # the real last day, possibly after the simulated years
    nummer: str = ""
    versies: list[ToegewezenProduct] = field(default_factory=list)
    verwijderd: bool = False
    soort_omvang: str = ""  # week, maand, totaal or budget: see `_omvang`
    uren_per_week: int = 1


@dataclass(frozen=True)
class _Tijdvak:
    eerste: date  # 1 January of the first simulated year: history_start
    einde: date  # 31 December of the last simulated year
    horizon: date  # no Dagtekening after this day


@dataclass(frozen=True)
class _Uitgaand:
    sorteer: date
    volgnummer: int
    bericht: Schrijfbaar
    bederf: str | None = None  # how an invalid copy is broken
    dubbel: bool = False


def bestandsnaam(seq: int, totaal: int, bericht: str, gemeentecode: str) -> str:
    """`<seq>-<bericht>-<gemeente>.xml`, the sequence zero-padded to the width of the total,
    so that sorting by name (as `publish` does) is publishing order: with a fixed six
    digits, 200 simulated years (3.3 million files) published "1000000" before "100001"."""
    return f"{seq:0{max(6, len(str(totaal)))}d}-{bericht}-{gemeentecode}.xml"


def simuleer(
    profiel: SimulatieProfiel,
    jaren: range,
    seed: int,
    out: Path,
    voortgang: Callable[[int], None] | None = None,
    *,
    breek_aandeel: float = 0.0,
    breek_regels: frozenset[str] | None = None,
) -> SimulatieResultaat:
    """Write the region's iJw traffic for `jaren` as .xml files into `out`, named in order of arrival.

    `voortgang` is called now and then with the number of files written since its last call.
    `breek_aandeel`: the share of valid messages written breaking one iJw rule (data-quality
    findings, still ingested), drawn from `breek_regels` (default: every rule the writer can
    break, `BREEKBAAR`) that applies to the message's type. 0 (the default): conformant, and
    the same files as without this option.
    """
    if not 0.0 <= breek_aandeel <= 1.0:
        raise ValueError(f"breek_aandeel is a share between 0 and 1, not {breek_aandeel}")
    onbekend = (breek_regels or frozenset()) - frozenset().union(*BREEKBAAR.values())
    if onbekend:
        raise ValueError(f"the simulator cannot break {', '.join(sorted(onbekend))}; it can "
                         f"break {', '.join(sorted(frozenset().union(*BREEKBAAR.values())))}")
    breekbaar = {soort: sorted(regels & breek_regels if breek_regels is not None else regels)
                 for soort, regels in BREEKBAAR.items()}
    # its own generator, so that the traffic itself is the same with and without breaking
    breek_rng = random.Random(seed + 1_000_003)  # noqa: S311 - reproducible test data
    gebroken: dict[str, int] = {}
    if not jaren or jaren.step != 1:
        raise ValueError(f"jaren must be consecutive years such as range(2021, 2024), not {jaren}")
    if out.exists() and any(out.glob("*.xml")):
        raise FileExistsError(f"{out} already holds .xml files: simulate into an empty directory "
                              "so that the files of two runs cannot mix")
    rng = random.Random(seed)  # noqa: S311 - reproducible test data, not security
    tijdvak = _Tijdvak(date(jaren[0], 1, 1), date(jaren[-1], 12, 31), date(jaren[-1] + 1, 4, 30))

    toewijzingen = _toewijzingen(rng, profiel, jaren, tijdvak)
    berichten = _berichten(rng, profiel.ruis, toewijzingen, tijdvak, profiel.aanbieders)
    uitgaand = _met_ruis(rng, profiel.ruis, berichten)

    out.mkdir(parents=True, exist_ok=True)
    bestanden = dict.fromkeys(("jw301", "jw305", "jw307", "jw323", "jw325"), 0)
    records = gemeld = 0
    for seq, u in enumerate(uitgaand, start=1):
        kandidaten = breekbaar[u.bericht.kop.bericht] if breek_aandeel else []
        data = None
        if kandidaten and u.bederf is None and breek_rng.random() < breek_aandeel:
            # a rule the message has nothing to break in (CS338 without an Omvang) is skipped
            for regel in breek_rng.sample(kandidaten, len(kandidaten)):
                try:
                    data = schrijf(u.bericht, breek=frozenset({regel}))
                except ValueError:
                    continue
                gebroken[regel] = gebroken.get(regel, 0) + 1
                break
        if data is None:
            data = schrijf(u.bericht)
        if u.bederf:
            data = _bederf(data, u.bederf)
        elif not u.dubbel:
            records += ijw_records(u.bericht)
        kop = u.bericht.kop
        (out / bestandsnaam(seq, len(uitgaand), kop.bericht, kop.gemeentecode)).write_bytes(data)
        bestanden[kop.bericht] += 1
        if voortgang and (seq % 1000 == 0 or seq == len(uitgaand)):
            voortgang(seq - gemeld)
            gemeld = seq
    return SimulatieResultaat(
        bestanden=bestanden,
        toewijzingen=len(toewijzingen),
        verwijderd=sum(t.verwijderd for t in toewijzingen),
        ongeldig=sum(u.bederf is not None for u in uitgaand),
        duplicaten=sum(u.dubbel for u in uitgaand),
        ijw_records=records,
        gebroken=dict(sorted(gebroken.items())),
    )


def _dagen(n: int) -> timedelta:
    return timedelta(days=n)


def _toewijzingen(
    rng: random.Random, profiel: SimulatieProfiel, jaren: range, tijdvak: _Tijdvak
) -> list[_Toewijzing]:
    """Every allocation that runs on or after history_start, numbered per gemeente."""
    bsns: set[str] = set()
    eerdere: list[_Client] = []
    # A few large providers and a tail of small ones, as in every region.
    cumulatief = list(accumulate(1 / (i + 1) for i in range(len(profiel.aanbieders))))

    def aanbieder() -> str:
        return rng.choices(profiel.aanbieders, cum_weights=cumulatief)[0]

    def nieuwe_client() -> _Client:
        while (bsn := _bsn(rng)) in bsns:
            pass
        bsns.add(bsn)
        return _Client(Bsn(bsn), rng.choice(profiel.gemeenten))

    gekozen: list[_Toewijzing] = []
    for segment in profiel.segmenten:
        clienten: list[_Client] = []
        for jaar in range(jaren[0] - _AANLOOP_JAREN, jaren[-1] + 1):
            begin = date(jaar, 1, 1)
            lengte = (date(jaar + 1, 1, 1) - begin).days
            for _ in range(segment.instroom_per_jaar):
                deelt = bool(eerdere) and rng.random() < _GEDEELDE_CLIENTEN
                client = rng.choice(eerdere) if deelt else nieuwe_client()
                clienten.append(client)
                instroom = begin + _dagen(rng.randrange(lengte))
                keten = _keten(rng, segment, client, instroom, tijdvak.einde, aanbieder)
                gekozen.extend(t for t in keten if t.eind >= tijdvak.eerste)
        eerdere.extend(clienten)

    toewijzingen: list[_Toewijzing] = []
    for t in gekozen:
        toewijzingen.append(t)
        if rng.random() < profiel.ruis.aandeel_verwijderd:
            toewijzingen.append(_vergissing(rng, t, aanbieder()))
    nummers: dict[str, int] = {}
    for t in toewijzingen:
        nummers[t.client.gemeente] = nummers.get(t.client.gemeente, 100000) + 1
        t.nummer = str(nummers[t.client.gemeente])
    return toewijzingen


def _keten(
    rng: random.Random,
    segment: SegmentProfiel,
    client: _Client,
    ingang: date,
    einde: date,
    aanbieder: Callable[[], str],
) -> list[_Toewijzing]:
    """One client's allocations in a segment, each follow-up aimed at one flow category."""
    keten: list[_Toewijzing] = []
    bij = aanbieder()
    laatste_eind = ingang
    while ingang <= einde:
        duur = max(1, round(rng.expovariate(1 / segment.gemiddelde_duur_dagen)))
        t = _Toewijzing(client, segment, bij, Product(*rng.choice(segment.producten)), ingang,
                        ingang + _dagen(duur - 1))
        keten.append(t)
        laatste_eind = max(laatste_eind, t.eind)
        kans = rng.random()
        grenzen = accumulate((segment.p_doorstroom, segment.p_stapeling, segment.p_recidive,
                              segment.p_hernieuwd))
        soort = next((s for s, grens in zip(_VERVOLG, grenzen, strict=True) if kans < grens), None)
        speling = (laatste_eind - ingang).days - _N - 1  # latest start that overlaps more than n
        if soort == "stapeling" and speling < 0:  # too short to stack on
            soort = "doorstroom"
        match soort:
            case "doorstroom":
                ingang = laatste_eind + _dagen(rng.randint(0, _N))
            case "stapeling":
                ingang += _dagen(rng.randint(0, speling))
            case "recidive":
                ingang = laatste_eind + _dagen(rng.randint(_N + 1, _M))
            case "hernieuwd":
                ingang = laatste_eind + _dagen(rng.randint(_M + 1, 730))
            case _:
                break
        if soort in ("recidive", "hernieuwd") or rng.random() < 0.5:  # often another provider
            bij = aanbieder()
    return keten


def _tr302(rng: random.Random, toewijzingen: list[_Toewijzing], aanbieders: Sequence[str]) -> None:
    """TR302: one JW301 holds a product code at most once per overlapping care period, and a
    JW301 carries all current toewijzingen of the client at the provider. So an allocation
    that overlaps an earlier one of the client at the same provider with the same product gets
    another product code of its segment, or when none is free another provider. An earlier
    allocation first sent open or longer can still be current in the provider's JW301 up to
    `_OPEN_BEKEND` days after its real end, so that counts as overlapping too."""
    marge = _dagen(_OPEN_BEKEND)
    per_client: dict[tuple[str, str], list[_Toewijzing]] = {}
    for t in sorted(toewijzingen, key=lambda a: (a.ingang, a.client.gemeente, int(a.nummer))):
        eerdere = per_client.setdefault((t.client.bsn.waarde, t.client.gemeente), [])
        overlap = [e for e in eerdere if e.ingang <= t.eind + marge and t.ingang <= e.eind + marge]

        def bezet(aanbieder: str) -> set[Product]:
            return {e.product for e in overlap if e.aanbieder == aanbieder}  # noqa: B023

        if t.product in bezet(t.aanbieder):
            vrij = [Product(*p) for p in t.segment.producten if Product(*p) not in bezet(t.aanbieder)]
            if vrij:
                t.product = rng.choice(vrij)
            else:
                t.aanbieder = next((a for a in aanbieders if t.product not in bezet(a)), t.aanbieder)
        eerdere.append(t)


def _vergissing(rng: random.Random, echt: _Toewijzing, aanbieder: str) -> _Toewijzing:
    """An allocation made by mistake for the same client, deleted later."""
    ingang = echt.ingang + _dagen(rng.randint(0, 30))
    return _Toewijzing(echt.client, echt.segment, aanbieder,
                       Product(*rng.choice(echt.segment.producten)), ingang,
                       ingang + _dagen(rng.randint(30, 365)), verwijderd=True)


def _bsn(rng: random.Random) -> str:
    """A random 9-digit number that passes the 11-proef (never a real person's on purpose)."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        check = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10 and any(digits):
            return "".join(map(str, digits)) + str(check)


# -- messages ---------------------------------------------------------------------------------


_TARIEF = {  # categorie: (eenheid, eurocent per eenheid); other categories per etmaal
    "43": ("14", 21000), "44": ("14", 9500), "45": ("04", 9800),
    "46": ("14", 38000), "47": ("14", 2100), "48": ("14", 2600),
}


def _tarief(product: Product) -> tuple[str, int]:
    return _TARIEF.get(product.categorie, ("14", 10000))


def _kop(bericht: str, afzender: str, ontvanger: str, dagtekening: date) -> BerichtKop:
    """A header without Identificatie yet: that is numbered per sender in order of Dagtekening."""
    return BerichtKop(bericht, afzender, ontvanger, "", dagtekening)


def _berichten(
    rng: random.Random, ruis: Ruis, toewijzingen: list[_Toewijzing], tijdvak: _Tijdvak,
    aanbieders: Sequence[str],
) -> list[Schrijfbaar]:
    _tr302(rng, toewijzingen, aanbieders)
    per_aanbieder: dict[tuple[str, str, str], list[_Toewijzing]] = {}
    for t in toewijzingen:
        per_aanbieder.setdefault((t.client.bsn.waarde, t.client.gemeente, t.aanbieder), []).append(t)
    for t in toewijzingen:
        # a Budget goes with a product without code (CD041 wants an Omvang with a code, CD077
        # none with a Budget); TR302 then holds per categorie: only for an allocation alone
        # at its provider
        alleen = not any(
            a is not t and a.ingang <= t.eind + _dagen(_OPEN_BEKEND)
            and t.ingang <= a.eind + _dagen(_OPEN_BEKEND)
            for a in per_aanbieder[t.client.bsn.waarde, t.client.gemeente, t.aanbieder])
        t.versies = _versies(rng, ruis, t, tijdvak, budget_mogelijk=alleen)
    berichten: list[Schrijfbaar] = []
    zorg: list[tuple[_Toewijzing, date, date]] = []
    for t in toewijzingen:
        for versie in t.versies:
            dagtekening = versie.toewijzingsdatum
            if rng.random() < ruis.aandeel_laat:
                dagtekening = min(dagtekening + _dagen(rng.randint(14, 70)), tijdvak.horizon)
            producten = _momentopname(t, versie, per_aanbieder[t.client.bsn.waarde,
                                                                t.client.gemeente, t.aanbieder])
            berichten.append(Toewijzingbericht(
                _kop("jw301", t.client.gemeente, t.aanbieder, dagtekening), t.client.bsn, producten))
        if t.verwijderd or rng.random() < ruis.aandeel_niet_gestart:
            continue
        begin = min(t.ingang + _dagen(rng.randint(0, 10)), t.eind)
        if begin > tijdvak.einde:
            continue
        berichten.append(Startbericht(
            _kop("jw305", t.aanbieder, t.client.gemeente, begin + _dagen(rng.randint(0, _N))),
            t.client.bsn, (StartProduct(t.nummer, t.product, t.ingang, begin, "1"),)))
        if t.eind > tijdvak.einde:  # still in care: declared up to the last simulated day
            eind = tijdvak.einde
        else:
            eind = max(begin, t.eind - _dagen(rng.randint(0, 7)))
            berichten.append(Stopbericht(
                _kop("jw307", t.aanbieder, t.client.gemeente, eind + _dagen(rng.randint(0, _N))),
                t.client.bsn, (StopProduct(t.nummer, t.product, t.ingang, begin, eind, "31", "1"),)))
        zorg.append((t, begin, eind))
    berichten.extend(_declaraties(rng, zorg, tijdvak, len(berichten)))
    return berichten


def _kies_omvang(rng: random.Random, t: _Toewijzing, budget_mogelijk: bool) -> None:
    """How the allocation is sized (`_omvang` writes it per version)."""
    eenheid, _ = _tarief(t.product)
    t.uren_per_week = rng.randint(1, 4)
    kans = rng.random()
    if eenheid == "04":
        t.soort_omvang = "week" if kans < 0.6 else "maand" if kans < 0.9 else "totaal"
    elif t.product.categorie == "44" and kans < _P_BUDGET and budget_mogelijk:
        t.soort_omvang = "budget"
    else:
        t.soort_omvang = "week" if rng.random() < 0.5 else "maand"


def _omvang(t: _Toewijzing, eind: date | None) -> tuple[Omvang | None, int | None]:
    """Omvang or Budget of one version: what needs an Einddatum (per week: CD076; a Budget:
    CD075; a total) falls back to per month in a version without one."""
    eenheid, tarief = _tarief(t.product)
    soort = t.soort_omvang if eind is not None else "maand"
    dagen = (eind - t.ingang).days + 1 if eind is not None else 0
    if eenheid == "04":
        if soort == "week":
            return Omvang(t.uren_per_week, "04", "2"), None
        if soort == "totaal":
            return Omvang(max(1, (dagen * t.uren_per_week + 6) // 7), "04", "6"), None
        return Omvang(t.uren_per_week * 4 + 1, "04", "4"), None
    if soort == "budget":
        return None, max(1, dagen) * tarief
    if soort == "week":
        return Omvang(7, eenheid, "2"), None
    return Omvang(31, eenheid, "4"), None


def _versies(
    rng: random.Random, ruis: Ruis, t: _Toewijzing, tijdvak: _Tijdvak, *, budget_mogelijk: bool
) -> list[ToegewezenProduct]:
    """The JW301 versions of one allocation: the first, then a correction or a deletion."""
    _kies_omvang(rng, t, budget_mogelijk)

    def versie(op: date, eind: date | None, reden: str | None) -> ToegewezenProduct:
        tijd = time(rng.randint(8, 17), rng.randint(0, 59), rng.randint(0, 59))
        omvang, budget = _omvang(t, eind)
        product = Product(t.product.categorie, None) if budget is not None else t.product
        return ToegewezenProduct(t.nummer, product, op, tijd, t.ingang, eind, reden, omvang, budget)

    eerste = t.ingang + _dagen(rng.randint(-21, 3))  # allocations are also made retroactively
    if t.verwijderd:  # eerste lies months before the horizon, so the deletion always fits
        weg = min(eerste + _dagen(rng.randint(1, 45)), tijdvak.horizon)
        return [versie(eerste, t.eind, None), versie(weg, t.ingang, REDENWIJZIGING_VERWIJDERD)]
    if rng.random() >= ruis.aandeel_einde_gecorrigeerd:
        return [versie(eerste, t.eind, None)]
    # First sent open or with another end; the real end becomes known around the earlier of both.
    gepland = None if rng.random() < 0.5 else max(
        t.ingang, t.eind + _dagen(rng.choice((-1, 1)) * rng.randint(15, 90)))
    vertraging = (rng.randint(60, 150) if rng.random() < ruis.aandeel_laat_gecorrigeerd
                  else rng.randint(-30, 30))  # an administrative backlog: known months later
    bekend = max(eerste + _dagen(1), min(t.eind, gepland or t.eind) + _dagen(vertraging))
    if bekend > tijdvak.horizon or gepland == t.eind:
        return [versie(eerste, t.eind, None)]
    reden = "14" if gepland is None else "04" if t.eind > gepland else "05"
    return [versie(eerste, gepland, None), versie(bekend, t.eind, reden)]


def _momentopname(
    t: _Toewijzing, versie: ToegewezenProduct, bij_aanbieder: list[_Toewijzing]
) -> tuple[ToegewezenProduct, ...]:
    """A JW301 holds all current toewijzingen of the client at this provider, each as last sent."""
    moment = (versie.toewijzingsdatum, versie.toewijzingstijd)
    producten = [versie]
    for ander in bij_aanbieder:
        if ander is t or ander.verwijderd:
            continue
        eerder = [v for v in ander.versies if (v.toewijzingsdatum, v.toewijzingstijd) <= moment]
        if eerder and (eerder[-1].einddatum is None or eerder[-1].einddatum >= moment[0]):
            producten.append(eerder[-1])
    return tuple(sorted(producten, key=lambda p: int(p.toewijzingnummer)))


def _declaraties(
    rng: random.Random, zorg: list[tuple[_Toewijzing, date, date]], tijdvak: _Tijdvak,
    volgnummer: int,
) -> list[Declaratiebericht | Antwoordbericht]:
    """One JW323 per provider, gemeente and month, with a prestatie per allocation and month,
    1-6 months later; a few lines corrected in a JW323 of their own later (a credit of the
    original, then a new debit), a few naming a toewijzing that does not exist or declared
    past the end of care; and to every JW323 the gemeente's JW325, listing the lines it
    rejects. A JW325 names its JW323 as `#<position in the returned list + volgnummer>` until
    `_met_ruis` has numbered the JW323 (see there)."""
    per_maand: dict[tuple[str, str, date], list[Prestatie]] = {}
    for t, begin, eind in zorg:
        eenheid, tarief = _tarief(t.product)
        maand = max(begin, tijdvak.eerste).replace(day=1)
        while maand <= eind:
            volgende = _maand_erna(maand)
            van, tot = max(begin, maand), min(eind, volgende - _dagen(1))
            if tot == eind < volgende - _dagen(1) and rng.random() < _P_BUITEN_PERIODE:
                tot = volgende - _dagen(1)  # declared to the end of the month: past the toewijzing
            dagen = (tot - van).days + 1
            volume = dagen if eenheid == "14" else max(1, (dagen * t.uren_per_week + 6) // 7)
            nummer = "8" + t.nummer if rng.random() < _P_ZONDER_TOEWIJZING else t.nummer
            per_maand.setdefault((t.aanbieder, t.client.gemeente, maand), []).append(Prestatie(
                # unique per provider across all its messages (TR314): numbers are per gemeente
                t.client.bsn, f"{t.client.gemeente}-{t.nummer}-{maand:%Y%m}", None, nummer,
                t.product, van, tot,
                volume, eenheid, tarief, volume * tarief))
            maand = volgende
    declaraties: list[Declaratiebericht | Antwoordbericht] = []

    def dien_in(aanbieder: str, gemeente: str, maand: date, nummer: str, dagtekening: date,
                prestaties: list[Prestatie]) -> None:
        prestaties.sort(key=lambda p: (p.bsn.waarde, p.toewijzingnummer, p.referentienummer))
        positie = volgnummer + len(declaraties)
        declaraties.append(Declaratiebericht(
            _kop("jw323", aanbieder, gemeente, dagtekening), nummer, maand,
            _maand_erna(maand) - _dagen(1), sum(p.bedrag for p in prestaties), tuple(prestaties)))
        antwoord = dagtekening + _dagen(rng.randint(7, 28))
        if antwoord > tijdvak.horizon:
            return
        afgewezen = tuple(replace(p, retourcodes=(AFWIJZINGSCODE,)) for p in prestaties
                          if p.bedrag > 0 and rng.random() < _P_AFGEWEZEN)
        ingediend = sum(p.bedrag for p in prestaties)
        declaraties.append(Antwoordbericht(
            _kop("jw325", gemeente, aanbieder, antwoord), f"#{positie}", dagtekening, nummer,
            (GEEN_FOUTEN,), ingediend, ingediend - sum(p.bedrag for p in afgewezen), afgewezen))

    for (aanbieder, gemeente, maand), prestaties in per_maand.items():
        later = maand
        for _ in range(rng.choices(range(1, _LAATSTE_DECLARATIEMAAND + 1), _DECLARATIE_VERTRAGING)[0]):
            later = _maand_erna(later)
        dagtekening = later.replace(day=rng.randint(1, 28))
        if dagtekening > tijdvak.horizon:
            continue
        dien_in(aanbieder, gemeente, maand, f"D{maand:%Y%m}{gemeente}", dagtekening, prestaties)
        correcties: list[Prestatie] = []
        for p in prestaties:
            if rng.random() < _P_CORRECTIE:
                nieuw_volume = max(1, p.geleverd_volume - rng.randint(1, 3))
                correcties.append(replace(p, referentienummer=p.referentienummer + "-C",
                                          vorig_referentienummer=p.referentienummer,
                                          bedrag=-p.bedrag))
                correcties.append(replace(p, referentienummer=p.referentienummer + "-N",
                                          geleverd_volume=nieuw_volume,
                                          bedrag=nieuw_volume * (p.tarief or 0)))
        correctiedag = dagtekening + _dagen(rng.randint(20, 90))
        if correcties and correctiedag <= tijdvak.horizon:
            dien_in(aanbieder, gemeente, maand, f"C{maand:%Y%m}{gemeente}", correctiedag, correcties)
    return declaraties


def _maand_erna(maand: date) -> date:
    """The first day of the next month."""
    return (maand.replace(day=1) + _dagen(32)).replace(day=1)


# -- the mess ---------------------------------------------------------------------------------


def _met_ruis(rng: random.Random, ruis: Ruis, berichten: list[Schrijfbaar]) -> list[_Uitgaand]:
    """Messages in order of arrival, with broken copies and duplicates, numbered per sender."""
    uitgaand = [_Uitgaand(b.kop.dagtekening, i, b) for i, b in enumerate(berichten)]
    toewijzingen = [u for u in uitgaand if u.bericht.kop.bericht == "jw301"]
    soorten = ("bsn", "datum", "gemeente", "xml")
    for i in range(ruis.aantal_ongeldig if toewijzingen else 0):
        bron = rng.choice(toewijzingen)
        uitgaand.append(replace(bron, volgnummer=len(uitgaand), bederf=soorten[i % len(soorten)]))
    uitgaand.sort(key=lambda u: (u.sorteer, u.volgnummer))

    volgnummers: dict[str, int] = {}
    declaraties: dict[int, str] = {}  # volgnummer of a JW323: the Identificatie it got
    genummerd = []
    for u in uitgaand:
        kop = u.bericht.kop
        volgnummers[kop.afzender] = volgnummers.get(kop.afzender, 0) + 1
        nieuw = replace(kop, identificatie=str(volgnummers[kop.afzender]))
        bericht = replace(u.bericht, kop=nieuw)
        if isinstance(bericht, Declaratiebericht) and u.bederf is None:
            declaraties[u.volgnummer] = nieuw.identificatie
        elif isinstance(bericht, Antwoordbericht):  # dated after its JW323: numbered already
            bericht = replace(bericht, declaratie_identificatie=declaraties[
                int(bericht.declaratie_identificatie.removeprefix("#"))])
        genummerd.append(replace(u, bericht=bericht))

    dubbel: list[_Uitgaand] = []
    for u in genummerd:
        if u.bederf is None and rng.random() < ruis.aandeel_dubbel:
            later = u.sorteer + _dagen(rng.randint(0, 30))
            dubbel.append(replace(u, sorteer=later, volgnummer=len(genummerd) + len(dubbel),
                                  dubbel=True))
    return sorted(genummerd + dubbel, key=lambda u: (u.sorteer, u.volgnummer))


def _bederf(data: bytes, soort: str) -> bytes:
    """Break a written JW301 the way real senders do; the dataclasses cannot hold these values."""
    match soort:
        case "bsn":  # one digit off: the 11-proef fails whatever the digit was
            return re.sub(rb"Bsn>(\d{8})(\d)<",
                          lambda m: b"Bsn>%s%d<" % (m[1], (int(m[2]) + 1) % 10), data, count=1)
        case "datum":
            return re.sub(rb"Ingangsdatum>(\d{4})-\d\d-\d\d<", rb"Ingangsdatum>\1-06-31<", data,
                          count=1)
        case "gemeente":
            return re.sub(rb"Afzender>\d{4}<", b"Afzender>0000<", data, count=1)
        case _:
            return data[: len(data) // 2]
