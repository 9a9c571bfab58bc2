"""The money view: what the money projection writes and every money question reads.

Like the flow view (`projections.view`) it is an interface with a PostgreSQL implementation
(`projections.postgres_geld.PostgresGeldView`) and an in-memory one (below). It stores what
the money rules (`projections.geld`) need, bitemporally, so that any (window, peildatum, K)
is one read of stored rows and never a replay:

- per toewijzing, the knowledge-time periods [bekend_vanaf, bekend_tot) of its counting
  version with its money attributes (`Geldperiode`, like the flow view's `flow_periode`;
  while a deletion counts there is no period, so its lines are ongekoppeld);
- per declaration line (aanbieder, ReferentieNummer) the copy that counts: the rules count
  the copy known first, and since that order starts with the Dagtekening, the copy known
  first at any K is the first copy overall when that is known at K, and nothing otherwise.
  So one stored row per line answers every K;
- per rejected line the earliest Dagtekening of a JW325 that lists it.

The stored rows hold no region: the segment, the scope and the tariff are decided at the
question by the region's configuration, so changing a region's rules or tariffs needs no
rebuild of the money view.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from projections.flow import Sleutel
from projections.geld import (
    Afwijzing,
    Geldcijfers,
    Geldend,
    Geldversie,
    Kostentelling,
    Regel,
    Regelgroep,
    Segmentgeld,
    geldend_op,
    regelgroepen,
    regelsleutel,
    regelvolgorde,
)
from projections.view import LiveAntwoordenInGeheugen, Livevraag

Identiteit = tuple[str, str]  # (aanbieder, ReferentieNummer): a declaration line


def kosten_als_rij(telling: Kostentelling) -> dict[str, Any]:
    """A live answer per segment as JSON-able data, to store beside the money view (its
    breakdown is the segments again, so it is left out)."""
    if telling.per != "segment":
        raise ValueError("only the money figures per segment are kept as live answers")
    data = asdict(telling)
    del data["uitsplitsing"]
    for veld in ("van", "peildatum", "k"):
        data[veld] = data[veld] and data[veld].isoformat()
    for cijfers in (data["totaal"], data["unmapped"], *(s["cijfers"] for s in data["segmenten"])):
        cijfers["realisatie"] = cijfers["realisatie"] and str(cijfers["realisatie"])
    return data


def kosten_uit_rij(data: dict[str, Any]) -> Kostentelling:
    def cijfers(c: dict[str, Any]) -> Geldcijfers:
        return Geldcijfers(**{**c, "realisatie": c["realisatie"] and Decimal(c["realisatie"])})

    segmenten = [Segmentgeld(s["segment"], s["naam"], cijfers(s["cijfers"]))
                 for s in data["segmenten"]]
    return Kostentelling(**{
        **data, "van": date.fromisoformat(data["van"]),
        "peildatum": date.fromisoformat(data["peildatum"]),
        "k": data["k"] and date.fromisoformat(data["k"]),
        "segmenten": segmenten, "totaal": cijfers(data["totaal"]),
        "unmapped": cijfers(data["unmapped"]),
        "ongekoppeld_per_gemeente": dict(data["ongekoppeld_per_gemeente"]),
        "uitsplitsing": {s.segment: s.cijfers for s in segmenten},
        "waarschuwingen": list(data["waarschuwingen"])})


@dataclass(frozen=True, slots=True)
class Geldperiode:
    """The counting version of a toewijzing in the knowledge-time interval
    [bekend_vanaf, bekend_tot) (None: still counting)."""

    versie: Geldversie
    bekend_vanaf: date
    bekend_tot: date | None

    def geldt_op(self, k: date) -> bool:
        return self.bekend_vanaf <= k and (self.bekend_tot is None or k < self.bekend_tot)


def geldperioden(versies: Sequence[Geldversie]) -> list[Geldperiode]:
    """The knowledge-time periods of one toewijzing's counting version, from all its versions.

    The counting version can change only on a version's Dagtekening, so it is decided with
    the rules (`geld.geldend_op`) once per Dagtekening; equal neighbours are merged and a
    deletion leaves a gap."""
    punten = sorted({v.dagtekening for v in versies})
    result: list[Geldperiode] = []
    for i, dag in enumerate(punten):
        tot = punten[i + 1] if i + 1 < len(punten) else None
        geldend = geldend_op(versies, dag)
        versie = next(iter(geldend.values()), None)
        if versie is None:
            continue
        if result and result[-1].versie == versie and result[-1].bekend_tot == dag:
            result[-1] = Geldperiode(versie, result[-1].bekend_vanaf, tot)
        else:
            result.append(Geldperiode(versie, dag, tot))
    return result


@dataclass(frozen=True)
class Geldgegevens:
    """What one money question reads: the input of `geld.bereken` for one (window, K)."""

    versies: list[Geldversie]  # counting versions at K of toewijzingen that overlap the window or
    # that a line in the window names
    regels: list[Regel]  # the lines known at K in the window (the copy that counts)
    afwijzingen: list[Afwijzing]  # rejections known at K of those lines


@dataclass(frozen=True)
class Geldsommen:
    """What a money question reads: the input of `geld.kosten` for one (window, K)."""

    geldend: list[Geldend]  # counting versions at K of toewijzingen that overlap the window or
    # that a group names
    groepen: list[Regelgroep]  # the window's lines known at K, summed (`geld.regelgroepen`)


@dataclass(frozen=True)
class Geldpagina:
    """What one page of the event log adds to the money view."""

    toewijzingen: list[tuple[UUID, str, str]] = field(default_factory=list)
    versies: list[tuple[int, Geldversie]] = field(default_factory=list)
    declaraties: list[tuple[UUID, str, str]] = field(default_factory=list)  # id, gemeente, aanbieder
    regels: list[Regel] = field(default_factory=list)
    afwijzingen: list[Afwijzing] = field(default_factory=list)


class GeldSchrijver(Protocol):
    """The writes of one page, inside one transaction with the tracking position."""

    def voeg_toe(self, pagina: Geldpagina) -> set[Sleutel]:
        """Store the page's toewijzingen, declarations and versions; returns the toewijzingen
        whose versions changed."""
        ...

    def versies_van(self, toewijzingen: set[Sleutel]) -> dict[Sleutel, list[Geldversie]]:
        """Every stored version of these toewijzingen."""
        ...

    def vervang_perioden(self, toewijzingen: set[Sleutel], perioden: Iterable[Geldperiode]) -> None:
        ...

    def eerste_regels(self, identiteiten: set[Identiteit]) -> dict[Identiteit, Regel]:
        """The stored (first) copy of these lines."""
        ...

    def bewaar_regels(self, regels: Iterable[Regel]) -> None:
        """Store these lines as the copies that count, replacing a stored copy of the same line."""
        ...

    def bewaar_afwijzingen(self, afwijzingen: Iterable[Afwijzing]) -> None:
        """Keep, per line, the earliest Dagtekening of a rejection."""
        ...


class GeldView(Protocol):
    def positie(self) -> int:
        ...

    def schrijf(self, tot: int) -> AbstractContextManager[GeldSchrijver]:
        ...

    def gegevens_op(self, gemeenten: Iterable[str], k: date, van: date,
                    peildatum: date) -> Geldgegevens:
        """Everything the money rules need for these gemeenten, window and K."""
        ...

    def sommen_op(self, gemeenten: Iterable[str], k: date, van: date, peildatum: date,
                  per_maand: bool = False) -> Geldsommen:
        """The counting versions at K and the window's lines summed as `geld.regelgroepen`
        sums them (per month too, `per_maand`): what `geld.kosten` needs, as plain tuples."""
        ...

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        ...

    def declaraties(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        """(gemeentecode, aanbieder) of already projected declarations, by aggregate id."""
        ...

    def wis(self) -> None:
        ...

    # The live answers per segment, as for the flow view (`FlowView.live_telling`): a reader
    # registers a live question, the projector keeps its answer at the view's position.

    def live_telling(self, vraag: Livevraag) -> tuple[int, dict[str, Any]] | None:
        """The stored answer and the position it holds at (None: not asked before)."""
        ...

    def vraag_live(self, vraag: Livevraag) -> None:
        ...

    def te_verversen(self, positie: int, vandaag: date) -> list[Livevraag]:
        """Today's live questions whose answer is not at this position (earlier days' are
        forgotten)."""
        ...

    def bewaar_live(self, vraag: Livevraag, positie: int, telling: dict[str, Any]) -> None:
        ...


def kies_eerste(nieuw: Iterable[Regel], bekend: dict[Identiteit, Regel]) -> list[Regel]:
    """The lines of a page that become the copy that counts (earlier than the stored one)."""
    winnaars: dict[Identiteit, Regel] = {}
    for regel in nieuw:
        huidige = winnaars.get(regel.identiteit) or bekend.get(regel.identiteit)
        if huidige is None or regelvolgorde(regel) < regelvolgorde(huidige):
            winnaars[regel.identiteit] = regel
    return list(winnaars.values())


class InMemoryGeldView(LiveAntwoordenInGeheugen):
    """The money view in plain dictionaries: the same contract, for unit tests."""

    def __init__(self) -> None:
        self._positie = 0
        self._toewijzingen: dict[UUID, tuple[str, str]] = {}
        self._declaraties: dict[UUID, tuple[str, str]] = {}
        self._versies: dict[Sleutel, dict[int, Geldversie]] = {}
        self._perioden: dict[Sleutel, list[Geldperiode]] = {}
        self._regels: dict[Identiteit, Regel] = {}
        self._afwijzingen: dict[Identiteit, date] = {}
        self._live: dict[Livevraag, tuple[int, dict[str, Any]]] = {}

    def positie(self) -> int:
        return self._positie

    @contextmanager
    def schrijf(self, tot: int) -> Iterator[GeldSchrijver]:
        if tot <= self._positie:
            raise ValueError(f"position {tot} is already projected (at {self._positie})")
        yield _InMemorySchrijver(self)
        self._positie = tot

    def gegevens_op(self, gemeenten: Iterable[str], k: date, van: date,
                    peildatum: date) -> Geldgegevens:
        binnen = set(gemeenten)
        regels = [r for r in self._regels.values()
                  if r.gemeentecode in binnen and r.dagtekening <= k
                  and van <= r.begindatum <= peildatum]
        genoemd = {s for r in regels if (s := regelsleutel(r)) is not None}
        versies = [p.versie for key, perioden in self._perioden.items() if key[0] in binnen
                   for p in perioden if p.geldt_op(k) and (
                       key in genoemd or (p.versie.ingangsdatum <= peildatum and (
                           p.versie.einddatum is None or p.versie.einddatum >= van)))]
        afwijzingen = [Afwijzing(r.aanbieder, r.referentienummer, self._afwijzingen[r.identiteit])
                       for r in regels
                       if r.identiteit in self._afwijzingen and self._afwijzingen[r.identiteit] <= k]
        return Geldgegevens(versies, regels, afwijzingen)

    def sommen_op(self, gemeenten: Iterable[str], k: date, van: date, peildatum: date,
                  per_maand: bool = False) -> Geldsommen:
        binnen = set(gemeenten)
        g = self.gegevens_op(binnen, k, van, peildatum)
        geldend = {v.sleutel: Geldend.uit(v) for v in g.versies}
        return Geldsommen(list(geldend.values()), regelgroepen(
            g.regels, g.afwijzingen, geldend, binnen, van, peildatum, k, per_maand))

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        return {i: self._toewijzingen[i] for i in ids if i in self._toewijzingen}

    def declaraties(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        return {i: self._declaraties[i] for i in ids if i in self._declaraties}

    def wis(self) -> None:
        self.__init__()  # type: ignore[misc]



class _InMemorySchrijver:
    def __init__(self, view: InMemoryGeldView) -> None:
        self.view = view

    def voeg_toe(self, pagina: Geldpagina) -> set[Sleutel]:
        for originator, gemeentecode, nummer in pagina.toewijzingen:
            self.view._toewijzingen[originator] = (gemeentecode, nummer)
        for originator, gemeentecode, aanbieder in pagina.declaraties:
            self.view._declaraties[originator] = (gemeentecode, aanbieder)
        for nid, versie in pagina.versies:
            self.view._versies.setdefault(versie.sleutel, {})[nid] = versie
        return {v.sleutel for _, v in pagina.versies}

    def versies_van(self, toewijzingen: set[Sleutel]) -> dict[Sleutel, list[Geldversie]]:
        return {key: list(self.view._versies.get(key, {}).values()) for key in toewijzingen}

    def vervang_perioden(self, toewijzingen: set[Sleutel], perioden: Iterable[Geldperiode]) -> None:
        for key in toewijzingen:
            self.view._perioden.pop(key, None)
        for p in perioden:
            self.view._perioden.setdefault(p.versie.sleutel, []).append(p)

    def eerste_regels(self, identiteiten: set[Identiteit]) -> dict[Identiteit, Regel]:
        return {i: self.view._regels[i] for i in identiteiten if i in self.view._regels}

    def bewaar_regels(self, regels: Iterable[Regel]) -> None:
        for regel in regels:
            self.view._regels[regel.identiteit] = regel

    def bewaar_afwijzingen(self, afwijzingen: Iterable[Afwijzing]) -> None:
        for a in afwijzingen:
            key = (a.aanbieder, a.referentienummer)
            huidige = self.view._afwijzingen.get(key)
            if huidige is None or a.dagtekening < huidige:
                self.view._afwijzingen[key] = a.dagtekening
