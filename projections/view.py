"""The flow view: what the projection writes and every query reads.

As in the event store library's projection design, a view is an interface with a PostgreSQL
implementation (`projections.postgres.PostgresFlowView`) and an in-memory one (below, for
fast tests of the projection and the queries). The projection writes one page of the event
log per transaction, together with its tracking position, so that a restart neither skips
nor doubles a page; readers ask for the periods that held at a knowledge time.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, Protocol
from uuid import UUID

from projections.flow import Periode, SegmentTelling, Sleutel, Telling, Versie, tel
from projections.regio import Regio

Livevraag = tuple[str, date, date, str | None, date]  # region, van, peildatum, gemeente?, today


def telling_als_rij(telling: Telling) -> dict[str, Any]:
    """A counted answer as JSON-able data, to store beside the view."""
    data = asdict(telling)
    for veld in ("van", "peildatum", "k"):
        data[veld] = data[veld] and data[veld].isoformat()
    return data


def telling_uit_rij(data: dict[str, Any]) -> Telling:
    return Telling(**{**data, "van": date.fromisoformat(data["van"]),
                      "peildatum": date.fromisoformat(data["peildatum"]),
                      "k": data["k"] and date.fromisoformat(data["k"]),
                      "segmenten": [SegmentTelling(**s) for s in data["segmenten"]],
                      "waarschuwingen": list(data["waarschuwingen"])})


@dataclass(frozen=True)
class Pagina:
    """What one page of the event log adds: new toewijzingen and new versions.

    A toewijzing is (aggregate id, gemeentecode, ToewijzingNummer); a version is
    (notification id, aggregate id, the version as the flow rules see it)."""

    toewijzingen: list[tuple[UUID, str, str]]
    versies: list[tuple[int, UUID, Versie]]


class FlowSchrijver(Protocol):
    """The writes of one page, inside one transaction with the tracking position."""

    def voeg_toe(self, pagina: Pagina) -> set[Sleutel]:
        """Store the page's toewijzingen and versions; returns the toewijzingen it touched."""
        ...

    def clients_van(self, toewijzingen: set[Sleutel]) -> list[str]:
        """Every client these toewijzingen ever belonged to: all their figures may move."""
        ...

    def versies_van(self, clients: Sequence[str], gemeenten: Iterable[str]) -> dict[str, list[Versie]]:
        """Per client, every version of every toewijzing (of these gemeenten) that ever
        belonged to it: all that classifying that client needs."""
        ...

    def vervang_perioden(self, regio: str, clients: Sequence[str], perioden: Iterable[Periode]) -> None:
        """Replace these clients' periods in the region by the given ones."""
        ...


class FlowView(Protocol):
    def positie(self) -> int:
        """The last event log position projected (0: none)."""
        ...

    def schrijf(self, tot: int) -> AbstractContextManager[FlowSchrijver]:
        """One transaction that ends with the tracking position `tot`."""
        ...

    def perioden_op(self, regio: str, k: date, van: date, peildatum: date) -> list[Periode]:
        """Allocations as classified at K that overlap [van, peildatum]: all any count needs."""
        ...

    def tellingen_op(self, regio: Regio, k: date, van: date, peildatum: date,
                     gemeenten: Sequence[str | None], k_getoond: date | None) -> list[Telling]:
        """`flow.tel` at K over [van, peildatum] for each of `gemeenten` (None: the whole
        region), from one read: exactly what `tel` gives over `perioden_op`'s periods."""
        ...

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        """(gemeentecode, ToewijzingNummer) of already projected toewijzingen, by aggregate id."""
        ...

    def laatste_dag(self, regio: str) -> date | None:
        """The last Dagtekening that changed the region's classifications (None: no data)."""
        ...

    def laatste_start(self, regio: str, tot: date) -> date | None:
        """The latest start, on or before `tot`, of the region's allocations as known now."""
        ...

    def wis(self) -> None:
        """Forget the projection, for a rebuild from the event log."""
        ...

    # The live answers: a live question (K = now) is registered by the reader that asks it;
    # the projector keeps its answer at its own position whenever it has caught up, so that
    # the first reader after the projection moved reads one row instead of counting.

    def live_telling(self, vraag: Livevraag) -> tuple[int, dict[str, Any]] | None:
        """The stored answer to a live question and the position it holds at (None: not
        asked before, or not answered yet: position -1)."""
        ...

    def vraag_live(self, vraag: Livevraag) -> None:
        """Register a live question for the projector to keep answered."""
        ...

    def te_verversen(self, positie: int, vandaag: date) -> list[Livevraag]:
        """The live questions of today whose answer is not at this position; questions of
        earlier days are forgotten."""
        ...

    def bewaar_live(self, vraag: Livevraag, positie: int, telling: dict[str, Any]) -> None:
        ...


class LiveVragen(Protocol):
    def live_telling(self, vraag: Livevraag) -> tuple[int, dict[str, Any]] | None: ...
    def vraag_live(self, vraag: Livevraag) -> None: ...


def live_antwoord(view: LiveVragen, vraag: Livevraag, positie: int) -> dict[str, Any] | None:
    """The projector's stored answer to a live question when it is at the view's position
    (None: answer it from the view); a question not asked before is registered, so that the
    projector answers it from now on. The same for flow and money."""
    bewaard = view.live_telling(vraag)
    if bewaard is None:
        view.vraag_live(vraag)
        return None
    return bewaard[1] if bewaard[0] == positie else None


class LiveAntwoordenInGeheugen:
    """The live questions readers asked and the projector's answers, in a dictionary: the
    in-memory half of `live_telling`/`vraag_live`/`te_verversen`/`bewaar_live`, for the flow
    and the money view alike."""

    _live: dict[Livevraag, tuple[int, dict[str, Any]]]

    def live_telling(self, vraag: Livevraag) -> tuple[int, dict[str, Any]] | None:
        return self._live.get(vraag)

    def vraag_live(self, vraag: Livevraag) -> None:
        self._live.setdefault(vraag, (-1, {}))

    def te_verversen(self, positie: int, vandaag: date) -> list[Livevraag]:
        for vraag in [v for v in self._live if v[4] < vandaag]:
            del self._live[vraag]
        return [v for v, (p, _) in self._live.items() if p != positie and v[4] == vandaag]

    def bewaar_live(self, vraag: Livevraag, positie: int, telling: dict[str, Any]) -> None:
        self._live[vraag] = (positie, telling)


class InMemoryFlowView(LiveAntwoordenInGeheugen):
    """The flow view in plain dictionaries: the same contract, for unit tests."""

    def __init__(self) -> None:
        self._positie = 0
        self._toewijzingen: dict[UUID, tuple[str, str]] = {}
        self._versies: dict[int, Versie] = {}
        self._perioden: dict[str, dict[str, list[Periode]]] = defaultdict(dict)
        self._live: dict[Livevraag, tuple[int, dict[str, Any]]] = {}

    def positie(self) -> int:
        return self._positie

    @contextmanager
    def schrijf(self, tot: int) -> Iterator[FlowSchrijver]:
        if tot <= self._positie:
            raise ValueError(f"position {tot} is already projected (at {self._positie})")
        yield _InMemorySchrijver(self)
        self._positie = tot

    def perioden_op(self, regio: str, k: date, van: date, peildatum: date) -> list[Periode]:
        return [p for perioden in self._perioden[regio].values() for p in perioden
                if p.bekend_vanaf <= k and (p.bekend_tot is None or k < p.bekend_tot)
                and p.classificatie.allocatie.overlapt(van, peildatum)]

    def tellingen_op(self, regio: Regio, k: date, van: date, peildatum: date,
                     gemeenten: Sequence[str | None], k_getoond: date | None) -> list[Telling]:
        classificaties = [p.classificatie for p in self.perioden_op(regio.id, k, van, peildatum)]
        return [tel(classificaties, regio, van, peildatum, k, g, k_getoond=k_getoond)
                for g in gemeenten]

    def toewijzingen(self, ids: set[UUID]) -> dict[UUID, tuple[str, str]]:
        return {i: self._toewijzingen[i] for i in ids if i in self._toewijzingen}

    def laatste_dag(self, regio: str) -> date | None:
        return max((p.bekend_vanaf for perioden in self._perioden[regio].values() for p in perioden),
                   default=None)

    def laatste_start(self, regio: str, tot: date) -> date | None:
        return max((p.classificatie.allocatie.start for perioden in self._perioden[regio].values()
                    for p in perioden
                    if p.bekend_tot is None and p.classificatie.allocatie.start <= tot), default=None)

    def wis(self) -> None:
        self.__init__()  # type: ignore[misc]



class _InMemorySchrijver:
    def __init__(self, view: InMemoryFlowView) -> None:
        self.view = view

    def voeg_toe(self, pagina: Pagina) -> set[Sleutel]:
        for originator, gemeentecode, nummer in pagina.toewijzingen:
            self.view._toewijzingen[originator] = (gemeentecode, nummer)
        for nid, _, versie in pagina.versies:
            self.view._versies[nid] = versie
        return {v.sleutel for _, _, v in pagina.versies}

    def clients_van(self, toewijzingen: set[Sleutel]) -> list[str]:
        return sorted({v.client for v in self.view._versies.values() if v.sleutel in toewijzingen})

    def versies_van(self, clients: Sequence[str], gemeenten: Iterable[str]) -> dict[str, list[Versie]]:
        binnen = set(gemeenten)
        result: dict[str, list[Versie]] = {}
        for client in clients:
            sleutels = {v.sleutel for v in self.view._versies.values() if v.client == client}
            versies = [v for v in self.view._versies.values()
                       if v.sleutel in sleutels and v.gemeentecode in binnen]
            if versies:
                result[client] = versies
        return result

    def vervang_perioden(self, regio: str, clients: Sequence[str], perioden: Iterable[Periode]) -> None:
        per_regio = self.view._perioden[regio]
        for client in clients:
            per_regio.pop(client, None)
        for p in perioden:
            per_regio.setdefault(p.classificatie.allocatie.client, []).append(p)
