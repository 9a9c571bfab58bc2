"""Actual care (JW305 start, JW307 stop) per DOMAIN.md ("Actual care: start and stop"), as
pure functions over plain data: toegewezen niet gestart and tijd tot start.

    starts --(geldende_meldingen at K)--> eerste_starts --+
    versies --(flow.geldende_versies at K)--> allocaties --+--> bereken_zorg(window)

These figures never change the flow figures. Where DOMAIN.md is silent this module decides:

- The logical key of a start is (gemeentecode, ToewijzingNummer, Begindatum), of a stop
  (gemeentecode, ToewijzingNummer, Begindatum, Einddatum): a StatusAanlevering 3 repeats the
  record it deletes. Per key the latest known at K decides (Dagtekening, then the larger
  message Identificatie, numerically when it is a number; on a full tie the deletion wins):
  a deletion known after a start removes it, a start sent again after a deletion revives it.
- toegewezen, niet gestart is a count at the reference date R = min(K, peildatum): toewijzingen
  in scope (in a segment, not excluded) with start <= R - start_termijn, end open or >= R,
  and no start known at K with a Begindatum on or before R (a start that lies after the
  reference date had not happened yet on it).
- tijd tot start: the median is the middle value (the mean of the two middle values for an
  even count, so it may end in .5); the 90th percentile is the nearest-rank value
  (the ceil(0.9 n)-th smallest), a whole number of days. None (n.v.t.) without starts.
- The totaal takes every toewijzing in a segment (unmapped ones are in no figure).
- stops: the StopProducts in force at K whose Einddatum lies in the window, of toewijzingen in
  a segment at K; tijdelijke_stops: of which RedenBeeindiging 20. Records, not toewijzingen:
  a toewijzing stopped for a while and then for good counts twice, once as tijdelijk. A stop
  does not end the allocation for toegewezen, niet gestart (the spec reads the counting
  version's Einddatum, and a stop says nothing about whether care started).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Protocol, TypeVar

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

STATUS_VERWIJDERD = "3"
REDEN_TIJDELIJK = "20"  # RedenBeeindiging 20: a temporary stop


@dataclass(frozen=True, slots=True)
class Start:
    """One StartProduct of a JW305, known from its Dagtekening."""

    gemeentecode: str
    toewijzingnummer: str
    begindatum: date
    status_aanlevering: str  # 1: new or resent, 3: deletes the start with the same key
    dagtekening: date
    identificatie: str = ""  # BerichtIdentificatie
    aanbieder: str = ""  # the sender (AGB code): for the data-quality report only

    @property
    def toewijzing(self) -> Sleutel:
        return sleutel(self.gemeentecode, self.toewijzingnummer)

    @property
    def logische_sleutel(self) -> tuple[object, ...]:
        return *self.toewijzing, self.begindatum


@dataclass(frozen=True, slots=True)
class Stop:
    """One StopProduct of a JW307, known from its Dagtekening."""

    gemeentecode: str
    toewijzingnummer: str
    begindatum: date
    einddatum: date
    reden_beeindiging: str | None
    status_aanlevering: str
    dagtekening: date
    identificatie: str = ""
    aanbieder: str = ""  # the sender (AGB code): for the data-quality report only

    @property
    def toewijzing(self) -> Sleutel:
        return sleutel(self.gemeentecode, self.toewijzingnummer)

    @property
    def logische_sleutel(self) -> tuple[object, ...]:
        return *self.toewijzing, self.begindatum, self.einddatum

    @property
    def is_tijdelijk(self) -> bool:
        return self.reden_beeindiging == REDEN_TIJDELIJK


class _Melding(Protocol):
    @property
    def logische_sleutel(self) -> tuple[object, ...]: ...
    @property
    def status_aanlevering(self) -> str: ...
    @property
    def dagtekening(self) -> date: ...
    @property
    def identificatie(self) -> str: ...


M = TypeVar("M", Start, Stop)


def _volgorde(melding: _Melding) -> tuple[object, ...]:
    ident = melding.identificatie
    return (melding.dagtekening, (1, int(ident)) if ident.isdigit() else (0, ident),
            melding.status_aanlevering == STATUS_VERWIJDERD, repr(melding))


def geldende_meldingen(meldingen: Iterable[M], k: date) -> list[M]:
    """The starts (or stops) in force at K: per logical key the latest known at K, unless that
    is a deletion (StatusAanlevering 3)."""
    laatste: dict[tuple[object, ...], M] = {}
    for m in meldingen:
        if m.dagtekening > k:
            continue
        huidige = laatste.get(m.logische_sleutel)
        if huidige is None or _volgorde(m) > _volgorde(huidige):
            laatste[m.logische_sleutel] = m
    return [m for m in laatste.values() if m.status_aanlevering != STATUS_VERWIJDERD]


def eerste_starts(starts: Iterable[Start], k: date) -> dict[Sleutel, date]:
    """The first actual start per toewijzing known at K."""
    eerste: dict[Sleutel, date] = {}
    for s in geldende_meldingen(starts, k):
        if s.toewijzing not in eerste or s.begindatum < eerste[s.toewijzing]:
            eerste[s.toewijzing] = s.begindatum
    return eerste


def tijd_tot_start(allocatie: Allocatie, eerste_start: date) -> int:
    """Days from the counting version's Ingangsdatum to the first start; negative is 0."""
    return max(0, (eerste_start - allocatie.start).days)


def is_niet_gestart(
    allocatie: Allocatie, eerste_start: date | None, referentie: date, start_termijn: int
) -> bool:
    """Toegewezen, niet gestart at the reference date min(K, peildatum): started at least
    start_termijn days before it, not ended before it, and no start on or before it."""
    return (allocatie.start <= referentie - timedelta(days=start_termijn)
            and (allocatie.eind is None or allocatie.eind >= referentie)
            and (eerste_start is None or eerste_start > referentie))


def mediaan(waarden: Sequence[int]) -> Decimal | None:
    if not waarden:
        return None
    geordend = sorted(waarden)
    midden = len(geordend) // 2
    if len(geordend) % 2:
        return Decimal(geordend[midden])
    return Decimal(geordend[midden - 1] + geordend[midden]) / 2


def percentiel(waarden: Sequence[int], p: int) -> int | None:
    """The nearest-rank p-th percentile: the ceil(p/100 n)-th smallest value."""
    if not waarden:
        return None
    geordend = sorted(waarden)
    return geordend[max(1, math.ceil(p * len(geordend) / 100)) - 1]


@dataclass(frozen=True, slots=True)
class Zorgcijfers:
    toegewezen_niet_gestart: int = 0
    gestart: int = 0  # toewijzingen whose first start lies in the window
    tijd_tot_start_mediaan: Decimal | None = None  # days
    tijd_tot_start_p90: int | None = None  # days
    stops: int = 0  # StopProducts in force at K with their Einddatum in the window
    tijdelijke_stops: int = 0  # of which RedenBeeindiging 20

    def als_dict(self) -> dict[str, object]:
        return {
            "toegewezen_niet_gestart": self.toegewezen_niet_gestart,
            "gestart": self.gestart,
            "tijd_tot_start_mediaan": (float(self.tijd_tot_start_mediaan)
                                       if self.tijd_tot_start_mediaan is not None else None),
            "tijd_tot_start_p90": self.tijd_tot_start_p90,
            "stops": self.stops,
            "tijdelijke_stops": self.tijdelijke_stops,
        }


def zorgcijfers(
    allocaties_: Iterable[Allocatie], eerste: dict[Sleutel, date], van: date, peildatum: date,
    k: date, start_termijn: int, stops: dict[Sleutel, list[Stop]] | None = None,
) -> Zorgcijfers:
    """The figures of one segment (or the total); `stops`: the stops in force at K in the
    window, per toewijzing."""
    referentie = min(k, peildatum)
    niet_gestart = aantal_stops = tijdelijk = 0
    dagen: list[int] = []
    for a in allocaties_:
        start = eerste.get(a.sleutel)
        niet_gestart += is_niet_gestart(a, start, referentie, start_termijn)
        if start is not None and van <= start <= peildatum:
            dagen.append(tijd_tot_start(a, start))
        for stop in (stops or {}).get(a.sleutel, ()):
            aantal_stops += 1
            tijdelijk += stop.is_tijdelijk
    return Zorgcijfers(niet_gestart, len(dagen), mediaan(dagen), percentiel(dagen, 90),
                       aantal_stops, tijdelijk)


@dataclass(frozen=True, slots=True)
class Segmentzorg:
    segment: str
    naam: str
    cijfers: Zorgcijfers

    def als_dict(self) -> dict[str, object]:
        return {"segment": self.segment, **self.cijfers.als_dict()}


@dataclass
class Zorgtelling:
    regio: str
    van: date
    peildatum: date
    k: date | None
    gemeente: str | None
    segmenten: list[Segmentzorg]
    totaal: Zorgcijfers
    waarschuwingen: list[str] = field(default_factory=list)

    def als_dict(self) -> dict[str, object]:
        return {
            **vraag_kop(self.regio, self.van, self.peildatum, self.k, self.gemeente),
            "segments": [s.als_dict() for s in self.segmenten],
            "totaal": self.totaal.als_dict(),
            "warnings": self.waarschuwingen,
        }


def bereken_zorg(
    versies: Iterable[Versie],
    starts: Iterable[Start],
    regio: Regio,
    van: date,
    peildatum: date,
    k: date,
    gemeente: str | None = None,
    *,
    stops: Iterable[Stop] = (),
    k_getoond: date | None = None,
) -> Zorgtelling:
    """Toegewezen niet gestart, tijd tot start and stops per segment and in total, as known
    at K."""
    if peildatum < van:
        raise ValueError(f"peildatum {peildatum} lies before from {van}")
    alle = [a for a in allocaties(geldende_versies(versies, k).values(), regio)
            if a.segment is not None and (gemeente is None or a.gemeentecode == gemeente)]
    eerste = eerste_starts(starts, k)
    in_venster: dict[Sleutel, list[Stop]] = defaultdict(list)
    for stop in geldende_meldingen(stops, k):
        if van <= stop.einddatum <= peildatum:
            in_venster[stop.toewijzing].append(stop)
    per_segment: dict[str, list[Allocatie]] = defaultdict(list)
    for a in alle:
        per_segment[a.segment or ""].append(a)
    bekend = {s.id for s in regio.segmenten}
    return Zorgtelling(
        regio=regio.id, van=van, peildatum=peildatum, k=k_getoond, gemeente=gemeente,
        segmenten=[Segmentzorg(s.id, s.naam, zorgcijfers(per_segment[s.id], eerste, van, peildatum,
                                                          k, regio.start_termijn, in_venster))
                   for s in regio.segmenten],
        totaal=zorgcijfers([a for a in alle if a.segment in bekend], eerste, van, peildatum, k,
                           regio.start_termijn, in_venster),
    )
