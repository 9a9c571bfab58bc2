"""The projector: a runner that feeds the event store's notification log to the projection.

It reads the log a page at a time (only the topics the projection needs; the database
filters them), hands each page to the flow projection, which writes the view and its
tracking position in one transaction, and calls back when it has caught up, so that live
updates go out once per burst. Between bursts it waits on PostgreSQL's NOTIFY, which the
event store sends on every insert, instead of polling.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from datetime import date

from psycopg.sql import SQL, Identifier

from projections.geldview import GeldView, kosten_als_rij
from projections.geldvragen import kosten_per_gemeente
from projections.projectie import TOPICS, FlowProjectie, GeldProjectie
from projections.regio import Regio
from projections.view import Livevraag, telling_als_rij
from projections.vragen import tel_op
from projections.zorgprojectie import ZorgProjectie
from services.eventstore.postgres import Gebeurtenissen

WACHT_OP_NIEUWS = 1.0  # seconds between checks when no NOTIFY arrives (a new day, a stop)


class Projector:
    """Keeps the flow view, and the money view when given, up to date with the event store.

    Each projection keeps its own tracking position and reads only its own topics, so a
    money view added to an existing store catches up from the start without touching the
    flow view; `positie` is the lower of the two (everything up to it is in both)."""

    def __init__(self, store: Gebeurtenissen, projectie: FlowProjectie,
                 geld: GeldProjectie | None = None, *, pagina: int = 5000,
                 zorg: ZorgProjectie | None = None) -> None:
        self.store = store
        self.projectie = projectie
        self.geld = geld
        self.zorg = zorg  # the care view: a third projection, same discipline
        self.pagina = pagina

    def positie(self) -> int:
        posities = [self.projectie.view.positie()]
        if self.geld is not None:
            posities.append(self.geld.view.positie())
        if self.zorg is not None:
            posities.append(self.zorg.view.positie())
        return min(posities)

    def laatste(self) -> int:
        return self.store.recorder.max_notification_id() or 0

    def stap(self) -> int:
        """Project one page of the notification log; returns how many log positions it covered.

        The position advances over the topics the projection skips: the library commits
        notification ids in order, so everything up to the last id seen before the query
        is there to be read. Each projection takes one page of its own topics."""
        laatste = self.laatste()
        verwerkt = self._stap(self.projectie, TOPICS, laatste)
        if self.geld is not None:
            verwerkt += self._stap(self.geld, self.geld.topics, laatste)
        if self.zorg is not None:
            verwerkt += self._stap(self.zorg, self.zorg.topics, laatste)
        return verwerkt

    def _stap(self, projectie: FlowProjectie | GeldProjectie | ZorgProjectie, topics: Sequence[str],
              laatste: int) -> int:
        start = projectie.view.positie() + 1
        if start > laatste:
            return 0
        notifications = self.store.recorder.select_notifications(
            start=start, limit=self.pagina, stop=laatste, topics=topics)
        tot = notifications[-1].id if len(notifications) == self.pagina else laatste
        projectie.projecteer(
            ((n.id, self.store.mapper.to_domain_event(n)) for n in notifications), tot)
        return tot - start + 1

    def volg(
        self, *, tot_bij: bool = False, voortgang: Callable[[int, int], None] | None = None,
        stop: Callable[[], bool] = lambda: False,
        bijgewerkt: Callable[[int], object] | None = None,
    ) -> None:
        """Project until caught up (`tot_bij`), or follow the log until `stop()` says so.

        `bijgewerkt(position)` is called each time the projection has caught up after new
        events (live updates then go out once per burst, not once per page)."""
        recorder = self.store.ingest_recorder
        with recorder.datastore.get_connection() as luister:
            luister.execute(SQL("LISTEN {0}").format(Identifier(recorder.channel_name)))
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
                if verwerkt:
                    continue
                # caught up: the live answers first, at every pause (a reader may have asked a
                # new live question since; a new day makes every one new)
                ververs_live(self.projectie)
                if self.geld is not None:
                    ververs_live_geld(self.geld.view, self.projectie.regios)
                if nieuw and bijgewerkt is not None:
                    bijgewerkt(self.positie())
                nieuw = False
                if tot_bij:
                    if self.positie() >= doel:
                        return
                    doel = self.laatste()
                    continue
                # the insert's NOTIFY wakes us; the timeout notices a stop or a new day
                for _ in luister.notifies(timeout=WACHT_OP_NIEUWS, stop_after=1):
                    pass

    def herbouw(self) -> None:
        """Forget the projections; the next `volg` rebuilds them from the event log."""
        self.projectie.view.wis()
        if self.geld is not None:
            self.geld.view.wis()
        if self.zorg is not None:
            self.zorg.view.wis()


def ververs_live(projectie: FlowProjectie) -> int:
    """Answer the live questions readers have asked today at the flow view's position, so
    that the first reader after the projection moved reads one stored row instead of
    counting the window's periods; returns how many were answered. Only the projector
    writes the view, so its position holds while it counts."""
    view = projectie.view
    positie, vandaag = view.positie(), date.today()
    regios = {r.id: r for r in projectie.regios}
    vragen = view.te_verversen(positie, vandaag)
    for vraag in vragen:
        regio_id, van, peildatum, gemeente, dag = vraag
        if regio_id in regios:
            telling = tel_op(view, regios[regio_id], van, peildatum, dag, gemeente, None)
            view.bewaar_live(vraag, positie, telling_als_rij(telling))
    return len(vragen)


def ververs_live_geld(view: GeldView, regios: Sequence[Regio]) -> int:
    """As `ververs_live`, for the live money questions per segment readers have asked today,
    at the money view's position; returns how many were answered."""
    positie, vandaag = view.positie(), date.today()
    per_id = {r.id: r for r in regios}
    vragen = view.te_verversen(positie, vandaag)
    per_venster: dict[tuple[str, date, date, date], list[Livevraag]] = defaultdict(list)
    for vraag in vragen:
        regio_id, van, peildatum, _, dag = vraag
        if regio_id in per_id:
            per_venster[regio_id, van, peildatum, dag].append(vraag)
    for (regio_id, van, peildatum, dag), deze in per_venster.items():  # one read per window
        tellingen = kosten_per_gemeente(view, per_id[regio_id], van, peildatum, dag,
                                        [vraag[3] for vraag in deze])
        for vraag, telling in zip(deze, tellingen, strict=True):
            view.bewaar_live(vraag, positie, kosten_als_rij(telling))
    return len(vragen)


def eventlog(store: Gebeurtenissen, topics: Sequence[str] = TOPICS,
             pagina: int = 10_000) -> Iterator[object]:
    """Events of these topics (default: the flow projection's) from the log alone, for replay."""
    start = 1
    while True:
        notifications = store.recorder.select_notifications(start=start, limit=pagina, topics=topics)
        if not notifications:
            return
        for n in notifications:
            yield store.mapper.to_domain_event(n)
        start = notifications[-1].id + 1
