"""The care projection: toewijzing versions, JW305 starts and JW307 stops in, the care view's
knowledge-time periods out (`projections.zorgview`).

A third projection beside the flow and money projections, with its own tracking position
(`zorg_tracking`), fed by the same projector from the same notification log: a care view
added to an existing store catches up from the start of the log without touching the other
views. `replay` reads the same events through `zorg_uit_eventlog` and counts them with the
same rules (`projections.zorg`).
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from eventsourcing.utils import get_topic

from events.domain import Toewijzing
from projections.flow import Versie
from projections.projectie import TOPICS, versie_uit_event
from projections.zorg import Start, Stop
from projections.zorgview import Zorgpagina, ZorgView, meldingperioden, zorgperioden

ZORG_TOPICS = (*TOPICS, get_topic(Toewijzing.ZorgGestart), get_topic(Toewijzing.ZorgGestopt))


def start_uit_event(e: Toewijzing.ZorgGestart, gemeentecode: str, nummer: str) -> Start:
    return Start(gemeentecode, nummer, e.begindatum, e.status_aanlevering, e.dagtekening,
                 e.bericht_identificatie, e.aanbieder)


def stop_uit_event(e: Toewijzing.ZorgGestopt, gemeentecode: str, nummer: str) -> Stop:
    return Stop(gemeentecode, nummer, e.begindatum, e.einddatum, e.reden_beeindiging,
                e.status_aanlevering, e.dagtekening, e.bericht_identificatie, e.aanbieder)


def zorg_uit_eventlog(events: Iterable[object]) -> tuple[list[Versie], list[Start], list[Stop]]:
    """Versions, starts and stops from the event log alone, in any order after each
    toewijzing's registration: the input of `zorg.bereken_zorg` for replay."""
    toewijzingen: dict[UUID, tuple[str, str]] = {}
    versies: list[Versie] = []
    starts: list[Start] = []
    stops: list[Stop] = []
    for e in events:
        if isinstance(e, Toewijzing.Geregistreerd):
            toewijzingen[e.originator_id] = (e.gemeentecode, e.toewijzingnummer)
        elif isinstance(e, Toewijzing.VersieOntvangen):
            versies.append(versie_uit_event(e, *toewijzingen[e.originator_id]))
        elif isinstance(e, Toewijzing.ZorgGestart):
            starts.append(start_uit_event(e, *toewijzingen[e.originator_id]))
        elif isinstance(e, Toewijzing.ZorgGestopt):
            stops.append(stop_uit_event(e, *toewijzingen[e.originator_id]))
    return versies, starts, stops


class ZorgProjectie:
    """Writes pages of toewijzing, start and stop events into a care view. Nothing in it
    depends on a region, so a change of segments or start_termijn needs no rebuild."""

    topics = ZORG_TOPICS

    def __init__(self, view: ZorgView) -> None:
        self.view = view

    def pagina(self, events: Iterable[tuple[int, object]]) -> Zorgpagina:
        """One page of (notification id, domain event) as the care view stores it. A
        version's, start's or stop's toewijzing is registered earlier in the log (the
        aggregate's first event): in this page or in the view already."""
        pagina = Zorgpagina()
        nieuw: dict[UUID, tuple[str, str]] = {}
        ruw: list[tuple[int, Toewijzing.VersieOntvangen | Toewijzing.ZorgGestart
                        | Toewijzing.ZorgGestopt]] = []
        for nid, e in events:
            if isinstance(e, Toewijzing.Geregistreerd):
                pagina.toewijzingen.append((e.originator_id, e.gemeentecode, e.toewijzingnummer))
                nieuw[e.originator_id] = (e.gemeentecode, e.toewijzingnummer)
            elif isinstance(e, Toewijzing.VersieOntvangen | Toewijzing.ZorgGestart
                            | Toewijzing.ZorgGestopt):
                ruw.append((nid, e))
        namen = {**self.view.toewijzingen({e.originator_id for _, e in ruw} - nieuw.keys()),
                 **nieuw}
        for nid, e in ruw:
            naam = namen[e.originator_id]
            if isinstance(e, Toewijzing.VersieOntvangen):
                pagina.versies.append((nid, versie_uit_event(e, *naam)))
            elif isinstance(e, Toewijzing.ZorgGestart):
                pagina.starts.append((nid, start_uit_event(e, *naam)))
            else:
                pagina.stops.append((nid, stop_uit_event(e, *naam)))
        return pagina

    def projecteer(self, events: Iterable[tuple[int, object]], tot: int) -> int:
        """Store a page and recompute the periods of exactly the toewijzingen, starts and
        stops it touches, in one transaction ending at log position `tot`; returns how many."""
        pagina = self.pagina(events)
        toewijzingen = {v.sleutel for _, v in pagina.versies}
        starts = {s.logische_sleutel for _, s in pagina.starts}
        stops = {s.logische_sleutel for _, s in pagina.stops}
        with self.view.schrijf(tot) as schrijver:
            schrijver.voeg_toe(pagina)
            if toewijzingen:
                schrijver.vervang_perioden(toewijzingen, [
                    p for versies in schrijver.versies_van(toewijzingen).values()
                    for p in zorgperioden(versies)])
            if starts:
                schrijver.vervang_starts(starts, [
                    p for meldingen in schrijver.starts_van(starts).values()
                    for p in meldingperioden(meldingen)])
            if stops:
                schrijver.vervang_stops(stops, [
                    p for meldingen in schrijver.stops_van(stops).values()
                    for p in meldingperioden(meldingen)])
        return len(toewijzingen) + len(starts) + len(stops)
