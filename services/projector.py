"""The projector, `replay` and `diff`: the event store's notification log into figures.

The projector follows the library's notification log a page at a time; each page's read
table writes and its tracking position are one transaction (FlowRecorder). Replay reads the
same log from the start and computes the figures with the same pure rules, without the read
tables, so the two can be compared.
"""

from __future__ import annotations

import copy
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date

from eventsourcing.persistence import Tracking
from eventsourcing.utils import get_topic

from events.domain import Toewijzing
from projections.flow import Periode, Telling, classificeer_op, tel
from projections.leesmodel import FlowRecorder, Pagina, uit_eventlog
from projections.regio import Regio
from services.eventstore import APPLICATION_NAME, Gebeurtenissen, bij_gelijktijdige_start

GEREGISTREERD = get_topic(Toewijzing.Geregistreerd)
VERSIE = get_topic(Toewijzing.VersieOntvangen)
TELLINGEN_IN_GEHEUGEN = 256  # answered questions kept per projector (a few KB each)


class Projector:
    """Keeps the flow read tables of the given regions up to date with the event store."""

    def __init__(self, store: Gebeurtenissen, regios: Sequence[Regio], *, pagina: int = 5000) -> None:
        self.store = store
        self.regios = list(regios)
        self.pagina = pagina
        self._tellingen: OrderedDict[tuple[object, ...], Telling] = OrderedDict()
        self.recorder = FlowRecorder(store.ingest_recorder.datastore, tracking_table_name="flow_tracking")
        bij_gelijktijdige_start(self.recorder.create_table)

    def positie(self) -> int:
        return self.recorder.positie(APPLICATION_NAME)

    def laatste(self) -> int:
        return self.store.recorder.max_notification_id() or 0

    def stap(self) -> int:
        """Project one page of the notification log; returns how many log positions it covered.

        Only toewijzing registrations and versions are read (the database filters by topic):
        declarations, starts and stops do not move the flow figures, and skipping them on
        the server keeps a rebuild from decoding most of the log. The position still
        advances over them: the library commits notification ids in order, so everything up
        to the last id seen before the query is there to be read."""
        start, laatste = self.positie() + 1, self.laatste()
        if start > laatste:
            return 0
        notifications = self.store.recorder.select_notifications(
            start=start, limit=self.pagina, stop=laatste, topics=[GEREGISTREERD, VERSIE])
        tot = notifications[-1].id if len(notifications) == self.pagina else laatste
        pagina = Pagina([], [])
        for n in notifications:
            e = self.store.mapper.to_domain_event(n)
            if n.topic == GEREGISTREERD:
                pagina.toewijzingen.append((e.originator_id, e.gemeentecode, e.toewijzingnummer))
            else:
                pagina.versies.append((n.id, e.originator_id, e))
        self.recorder.verwerk(pagina, self.regios, Tracking(APPLICATION_NAME, tot))
        return tot - start + 1

    def volg(
        self, *, tot_bij: bool = False, voortgang: Callable[[int, int], None] | None = None,
        stop: Callable[[], bool] = lambda: False,
        bijgewerkt: Callable[[int], None] | None = None,
    ) -> None:
        """Project until caught up (`tot_bij`), or follow the log until `stop()` says so.

        `bijgewerkt(position)` is called each time the projection has caught up after new
        events (live updates then go out once per burst, not once per page)."""
        doel = self.laatste()
        nieuw = False
        dag = date.today()
        while not stop():
            verwerkt = self.stap()
            # a new day turns provisional uitstroom into definitive: live figures move too
            nieuw = nieuw or verwerkt > 0 or date.today() != dag
            dag = date.today()
            if voortgang is not None:
                voortgang(self.positie(), max(doel, self.positie()))
            if verwerkt == 0:
                if nieuw and bijgewerkt is not None:
                    bijgewerkt(self.positie())
                nieuw = False
                if tot_bij and self.positie() >= doel:
                    return
                if tot_bij:
                    doel = self.laatste()
                time.sleep(0.2)

    def herbouw(self) -> None:
        self.recorder.wis(APPLICATION_NAME)
        self._tellingen.clear()

    def telling(self, regio: Regio, van: date, peildatum: date, k: date | None,
                gemeente: str | None = None) -> Telling:
        """The figures from the read tables; K None means now (the live figures).

        The same question asked again before the projection moved (and on the same day,
        which K None and provisional uitstroom depend on) is answered from memory: the
        dashboard and API ask the live figures over and over, and a position read is a
        fraction of a millisecond where counting all allocations is tens."""
        k_eff = k or date.today()
        sleutel = (regio.id, van, peildatum, k, gemeente, date.today(), self.positie())
        if sleutel in self._tellingen:
            self._tellingen.move_to_end(sleutel)
            return copy.deepcopy(self._tellingen[sleutel])
        perioden = self.recorder.perioden_op(regio.id, k_eff, van, peildatum)
        telling = tel([p.classificatie for p in perioden], regio, van, peildatum, k_eff,
                      gemeente, k_getoond=k)
        self._tellingen[sleutel] = copy.deepcopy(telling)
        if len(self._tellingen) > TELLINGEN_IN_GEHEUGEN:
            self._tellingen.popitem(last=False)
        return telling

    def vergeet_tellingen(self) -> None:
        """Answer the next questions from the read tables (the bench's cold measurement)."""
        self._tellingen.clear()


def _eventlog(store: Gebeurtenissen, pagina: int = 10_000) -> Iterator[object]:
    start = 1
    while True:
        notifications = store.recorder.select_notifications(
            start=start, limit=pagina, topics=[GEREGISTREERD, VERSIE])
        if not notifications:
            return
        for n in notifications:
            yield store.mapper.to_domain_event(n)
        start = notifications[-1].id + 1


def replay(store: Gebeurtenissen, regio: Regio, van: date, peildatum: date, k: date | None,
           gemeente: str | None = None) -> Telling:
    """The figures from the event log alone, recomputed from scratch."""
    k_eff = k or date.today()
    versies = uit_eventlog(_eventlog(store))
    return tel(classificeer_op(versies, regio, k_eff), regio, van, peildatum, k_eff, gemeente,
               k_getoond=k)


@dataclass(frozen=True)
class Wijziging:
    """One allocation whose figures differ between two knowledge times."""

    client: str
    gemeentecode: str
    toewijzingnummer: int
    segment: str | None
    oud: str  # category (and uitstroom) at K1, or "-" when not counted then
    nieuw: str
    oorzaak: str  # the message(s) that made the K2 state, or "" when unchanged since K1


def _beschrijf(p: Periode | None, van: date, peildatum: date) -> str:
    if p is None:
        return "-"
    c = p.classificatie
    a = c.allocatie
    delen = []
    if c.categorie is not None and van <= a.start <= peildatum:
        delen.append(c.categorie.value)
    if c.uitstroom and a.eind is not None and van <= a.eind <= peildatum:
        delen.append("uitstroom")
    if a.start <= peildatum and (a.eind is None or a.eind >= peildatum):
        delen.append("in_zorg")
    return "+".join(delen) or ("unmapped" if a.segment is None else "in window")


def diff(projector: Projector, regio: Regio, van: date, peildatum: date, k1: date, k2: date,
         gemeente: str | None = None) -> tuple[Telling, Telling, list[Wijziging]]:
    """The figures at K1 and K2, and the allocations behind the difference."""
    perioden = {}
    for k in (k1, k2):
        perioden[k] = {p.classificatie.allocatie.sleutel: p
                       for p in projector.recorder.perioden_op(regio.id, k, van, peildatum)
                       if gemeente is None or p.classificatie.allocatie.gemeentecode == gemeente}
    wijzigingen = []
    for key in sorted(perioden[k1].keys() | perioden[k2].keys()):
        oud, nieuw = perioden[k1].get(key), perioden[k2].get(key)
        voor, na = _beschrijf(oud, van, peildatum), _beschrijf(nieuw, van, peildatum)
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
        ))
    return (projector.telling(regio, van, peildatum, k1, gemeente),
            projector.telling(regio, van, peildatum, k2, gemeente), wijzigingen)

