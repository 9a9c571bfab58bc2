"""The care view: what the care projection writes and every care question reads.

Like the money view (`projections.geldview`) it is an interface with a PostgreSQL
implementation (`projections.postgres_zorg.PostgresZorgView`) and an in-memory one (below). It
stores what the care rules (`projections.zorg`) need, bitemporally, so that any
(window, peildatum, K) is one read of stored rows and never a replay:

- per toewijzing, the knowledge-time periods [bekend_vanaf, bekend_tot) of its counting
  version (`Zorgperiode`; a deletion leaves a gap, as in the flow and money views);
- per start (gemeente, ToewijzingNummer, Begindatum) the knowledge-time periods in which it
  is in force (`Startperiode`): a StatusAanlevering 3 known later closes its period, a start
  sent again after it opens a new one;
- per stop (... , Einddatum) likewise, with its RedenBeeindiging (`Stopperiode`).

The periods are decided by the rules themselves (`flow.geldende_versies`,
`zorg.geldende_meldingen`) once per Dagtekening of the record's messages, so the view answers
exactly what a replay answers. The stored rows hold no region: segments and `start_termijn`
are decided at the question, so a change of a region's rules needs no rebuild.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Generic, Protocol, TypeVar
from uuid import UUID

from projections.flow import Sleutel, Versie, geldende_versies
from projections.zorg import Start, Stop, geldende_meldingen

T = TypeVar("T", Versie, Start, Stop)
M = TypeVar("M", Start, Stop)


@dataclass(frozen=True, slots=True)
class Kennisperiode(Generic[T]):
    """A record as it holds in the knowledge-time interval [bekend_vanaf, bekend_tot)
    (None: still holds)."""

    waarde: T
    bekend_vanaf: date
    bekend_tot: date | None

    def geldt_op(self, k: date) -> bool:
        return self.bekend_vanaf <= k and (self.bekend_tot is None or k < self.bekend_tot)


Zorgperiode = Kennisperiode[Versie]
Startperiode = Kennisperiode[Start]
Stopperiode = Kennisperiode[Stop]


def _perioden(records: Sequence[T], dagtekening: Callable[[T], date],
              op: Callable[[date], T | None], gelijk: Callable[[T, T], bool]) -> list[Kennisperiode[T]]:
    """The knowledge-time periods of whatever `op(K)` says holds at K, decided once per
    Dagtekening of the records (nothing can change in between); equal neighbours merged."""
    punten = sorted({dagtekening(r) for r in records})
    result: list[Kennisperiode[T]] = []
    for i, dag in enumerate(punten):
        tot = punten[i + 1] if i + 1 < len(punten) else None
        waarde = op(dag)
        if waarde is None:
            continue
        if result and result[-1].bekend_tot == dag and gelijk(result[-1].waarde, waarde):
            result[-1] = Kennisperiode(result[-1].waarde, result[-1].bekend_vanaf, tot)
        else:
            result.append(Kennisperiode(waarde, dag, tot))
    return result


def zorgperioden(versies: Sequence[Versie]) -> list[Zorgperiode]:
    """The periods of one toewijzing's counting version, from all its versions."""
    return _perioden(versies, lambda v: v.dagtekening,
                     lambda k: next(iter(geldende_versies(versies, k).values()), None),
                     lambda a, b: a == b)


def _als_melding(m: M, bekend_vanaf: date) -> M:
    """A record as the view stores it: in force (status 1) and known from its period's start;
    the message's identificatie decided the order already."""
    return replace(m, status_aanlevering="1", dagtekening=bekend_vanaf, identificatie="",
                   aanbieder="")


def meldingperioden(meldingen: Sequence[M]) -> list[Kennisperiode[M]]:
    """The periods in which the records of one logical key (one start, or one stop) are in
    force; a stop whose RedenBeeindiging changes starts a new period."""
    def op(k: date) -> M | None:
        geldend = geldende_meldingen(meldingen, k)
        return geldend[0] if geldend else None

    return [Kennisperiode(_als_melding(p.waarde, p.bekend_vanaf), p.bekend_vanaf, p.bekend_tot)
            for p in _perioden(meldingen, lambda m: m.dagtekening, op, _zelfde_inhoud)]


def _zelfde_inhoud(a: Start | Stop, b: Start | Stop) -> bool:
    return a.logische_sleutel == b.logische_sleutel and (
        not isinstance(a, Stop) or not isinstance(b, Stop)
        or a.reden_beeindiging == b.reden_beeindiging)


@dataclass(frozen=True)
class Zorggegevens:
    """What one care question reads: the input of `zorg.bereken_zorg` for one (window, K)."""

    versies: list[Versie]  # counting versions at K that matter for the window (see `nodig`)
    starts: list[Start]  # starts in force at K of those toewijzingen, up to the peildatum
    stops: list[Stop]  # stops in force at K with their Einddatum in the window


def nodig(v: Versie, met_melding: set[Sleutel], referentie: date, start_termijn: int) -> bool:
    """Whether a counting version can be in a care figure: it is old enough at the reference
    date min(K, peildatum) to be toegewezen, niet gestart, or its toewijzing has a start or a
    stop in the window. Any other version is in none of them (`zorg.zorgcijfers`)."""
    return v.sleutel in met_melding or (
        v.ingangsdatum <= referentie - timedelta(days=start_termijn)
        and (v.einddatum is None or v.einddatum >= referentie))


@dataclass(frozen=True)
class Zorgpagina:
    """What one page of the event log adds to the care view."""

    toewijzingen: list[tuple[UUID, str, str]] = field(default_factory=list)
    versies: list[tuple[int, Versie]] = field(default_factory=list)
    starts: list[tuple[int, Start]] = field(default_factory=list)
    stops: list[tuple[int, Stop]] = field(default_factory=list)


class ZorgSchrijver(Protocol):
    """The writes of one page, inside one transaction with the tracking position."""

    def voeg_toe(self, pagina: Zorgpagina) -> None:
        """Store the page's toewijzingen, versions, starts and stops as received."""
        ...

    def versies_van(self, toewijzingen: set[Sleutel]) -> dict[Sleutel, list[Versie]]:
        ...

    def starts_van(self, sleutels: set[tuple[object, ...]]) -> dict[tuple[object, ...], list[Start]]:
        """Every received start of these logical keys."""
        ...

    def stops_van(self, sleutels: set[tuple[object, ...]]) -> dict[tuple[object, ...], list[Stop]]:
        ...

    def vervang_perioden(self, toewijzingen: set[Sleutel], perioden: Iterable[Zorgperiode]) -> None:
        ...

    def vervang_starts(self, sleutels: set[tuple[object, ...]],
                       perioden: Iterable[Startperiode]) -> None:
        ...

    def vervang_stops(self, sleutels: set[tuple[object, ...]],
                      perioden: Iterable[Stopperiode]) -> None:
        ...


class ZorgView(Protocol):
    def positie(self) -> int:
        ...

    def schrijf(self, tot: int) -> AbstractContextManager[ZorgSchrijver]:
        ...

    def gegevens_op(self, gemeenten: Iterable[str], k: date, van: date, peildatum: date,
                    start_termijn: int) -> Zorggegevens:
        """Everything the care rules need for these gemeenten, window and K."""
        ...

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        """(gemeentecode, ToewijzingNummer) of already projected toewijzingen, by aggregate id."""
        ...

    def wis(self) -> None:
        ...


def selecteer(versies: Iterable[Zorgperiode], starts: Iterable[Startperiode],
              stops: Iterable[Stopperiode], k: date, van: date, peildatum: date,
              start_termijn: int) -> Zorggegevens:
    """The rows of a care question from all periods: what the PostgreSQL view reads with
    indexed queries, as plain filters (the in-memory view, and the contract of both)."""
    referentie = min(k, peildatum)
    bij_k = [p.waarde for p in starts if p.geldt_op(k) and p.waarde.begindatum <= peildatum]
    gestopt = [p.waarde for p in stops if p.geldt_op(k) and van <= p.waarde.einddatum <= peildatum]
    met_melding = ({s.toewijzing for s in bij_k if s.begindatum >= van}
                   | {s.toewijzing for s in gestopt})
    geldend = [p.waarde for p in versies if p.geldt_op(k)
               and nodig(p.waarde, met_melding, referentie, start_termijn)]
    gelezen = {v.sleutel for v in geldend}
    return Zorggegevens(geldend, [s for s in bij_k if s.toewijzing in gelezen], gestopt)


class InMemoryZorgView:
    """The care view in plain dictionaries: the same contract, for unit tests."""

    def __init__(self) -> None:
        self._positie = 0
        self._toewijzingen: dict[UUID, tuple[str, str]] = {}
        self._versies: dict[Sleutel, dict[int, Versie]] = {}
        self._starts: dict[tuple[object, ...], dict[int, Start]] = {}
        self._stops: dict[tuple[object, ...], dict[int, Stop]] = {}
        self._perioden: dict[Sleutel, list[Zorgperiode]] = {}
        self._startperioden: dict[tuple[object, ...], list[Startperiode]] = {}
        self._stopperioden: dict[tuple[object, ...], list[Stopperiode]] = {}

    def positie(self) -> int:
        return self._positie

    @contextmanager
    def schrijf(self, tot: int) -> Iterator[ZorgSchrijver]:
        if tot <= self._positie:
            raise ValueError(f"position {tot} is already projected (at {self._positie})")
        yield _InMemorySchrijver(self)
        self._positie = tot

    def gegevens_op(self, gemeenten: Iterable[str], k: date, van: date, peildatum: date,
                    start_termijn: int) -> Zorggegevens:
        binnen = set(gemeenten)
        return selecteer(
            [p for key, ps in self._perioden.items() if key[0] in binnen for p in ps],
            [p for ps in self._startperioden.values() for p in ps
             if p.waarde.gemeentecode in binnen],
            [p for ps in self._stopperioden.values() for p in ps
             if p.waarde.gemeentecode in binnen],
            k, van, peildatum, start_termijn)

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        return {i: self._toewijzingen[i] for i in ids if i in self._toewijzingen}

    def wis(self) -> None:
        self.__init__()  # type: ignore[misc]


class _InMemorySchrijver:
    def __init__(self, view: InMemoryZorgView) -> None:
        self.view = view

    def voeg_toe(self, pagina: Zorgpagina) -> None:
        for originator, gemeentecode, nummer in pagina.toewijzingen:
            self.view._toewijzingen[originator] = (gemeentecode, nummer)
        for nid, versie in pagina.versies:
            self.view._versies.setdefault(versie.sleutel, {})[nid] = versie
        for nid, start in pagina.starts:
            self.view._starts.setdefault(start.logische_sleutel, {})[nid] = start
        for nid, stop in pagina.stops:
            self.view._stops.setdefault(stop.logische_sleutel, {})[nid] = stop

    def versies_van(self, toewijzingen: set[Sleutel]) -> dict[Sleutel, list[Versie]]:
        return {key: list(self.view._versies.get(key, {}).values()) for key in toewijzingen}

    def starts_van(self, sleutels: set[tuple[object, ...]]) -> dict[tuple[object, ...], list[Start]]:
        return {key: list(self.view._starts.get(key, {}).values()) for key in sleutels}

    def stops_van(self, sleutels: set[tuple[object, ...]]) -> dict[tuple[object, ...], list[Stop]]:
        return {key: list(self.view._stops.get(key, {}).values()) for key in sleutels}

    def vervang_perioden(self, toewijzingen: set[Sleutel], perioden: Iterable[Zorgperiode]) -> None:
        for key in toewijzingen:
            self.view._perioden.pop(key, None)
        for p in perioden:
            self.view._perioden.setdefault(p.waarde.sleutel, []).append(p)

    def vervang_starts(self, sleutels: set[tuple[object, ...]],
                       perioden: Iterable[Startperiode]) -> None:
        for key in sleutels:
            self.view._startperioden.pop(key, None)
        for p in perioden:
            self.view._startperioden.setdefault(p.waarde.logische_sleutel, []).append(p)

    def vervang_stops(self, sleutels: set[tuple[object, ...]],
                      perioden: Iterable[Stopperiode]) -> None:
        for key in sleutels:
            self.view._stopperioden.pop(key, None)
        for p in perioden:
            self.view._stopperioden.setdefault(p.waarde.logische_sleutel, []).append(p)

