"""The flow projection: domain events in, the flow view's periods out.

It knows which events move the flow figures (toewijzing registrations and versions; starts,
stops and declarations do not), turns them into the flow rules' plain data, and re-classifies
exactly the clients a page touches (`flow.tijdlijn`). It is fed by the projector (a runner
over the event store's notification log) and, for `replay`, not at all: replay reads the
same events through `uit_eventlog` and counts them with the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from uuid import UUID

from eventsourcing.utils import get_topic

from events.domain import Declaratie, Toewijzing
from projections.flow import Versie, tijdlijn
from projections.geld import Afwijzing, Geldversie, Regel
from projections.geldview import Geldpagina, GeldView, geldperioden, kies_eerste
from projections.regio import Regio
from projections.view import FlowView, Pagina

TOPICS = (get_topic(Toewijzing.Geregistreerd), get_topic(Toewijzing.VersieOntvangen))


def versie_uit_event(e: Toewijzing.VersieOntvangen, gemeentecode: str, nummer: str) -> Versie:
    """A stored version event as the flow rules see it."""
    return Versie(gemeentecode, nummer, e.client, e.categorie, e.code, e.toegewezen_op,
                  e.ingangsdatum, e.einddatum, e.reden_wijziging, e.dagtekening,
                  e.bericht_identificatie)


def uit_eventlog(events: Iterable[object]) -> list[Versie]:
    """All versions from the event log alone, in any order: the input of `replay`."""
    toewijzingen: dict[UUID, tuple[str, str]] = {}
    versies = []
    for e in events:
        if isinstance(e, Toewijzing.Geregistreerd):
            toewijzingen[e.originator_id] = (e.gemeentecode, e.toewijzingnummer)
        elif isinstance(e, Toewijzing.VersieOntvangen):
            versies.append(versie_uit_event(e, *toewijzingen[e.originator_id]))
    return versies


class FlowProjectie:
    """Writes pages of toewijzing events into a flow view, for the given regions."""

    def __init__(self, view: FlowView, regios: Sequence[Regio]) -> None:
        self.view = view
        self.regios = list(regios)

    def pagina(self, events: Iterable[tuple[int, object]]) -> Pagina:
        """One page of (notification id, domain event) as the view stores it.

        A version's toewijzing is registered earlier in the log (its aggregate's first
        event), in this page or in the view already."""
        toewijzingen: list[tuple[UUID, str, str]] = []
        nieuw: dict[UUID, tuple[str, str]] = {}
        ruwe_versies: list[tuple[int, Toewijzing.VersieOntvangen]] = []
        for nid, e in events:
            if isinstance(e, Toewijzing.Geregistreerd):
                toewijzingen.append((e.originator_id, e.gemeentecode, e.toewijzingnummer))
                nieuw[e.originator_id] = (e.gemeentecode, e.toewijzingnummer)
            elif isinstance(e, Toewijzing.VersieOntvangen):
                ruwe_versies.append((nid, e))
        bekend = self.view.toewijzingen({e.originator_id for _, e in ruwe_versies} - nieuw.keys())
        sleutels = {**bekend, **nieuw}
        return Pagina(toewijzingen, [
            (nid, e.originator_id, versie_uit_event(e, *sleutels[e.originator_id]))
            for nid, e in ruwe_versies])

    def projecteer(self, events: Iterable[tuple[int, object]], tot: int) -> int:
        """Store a page and re-classify exactly the clients it touches, in one transaction
        ending at log position `tot`; returns the number of clients re-classified."""
        pagina = self.pagina(events)
        with self.view.schrijf(tot) as schrijver:
            clients = schrijver.clients_van(schrijver.voeg_toe(pagina))
            for regio in self.regios:
                per_client = schrijver.versies_van(clients, regio.gemeenten)
                schrijver.vervang_perioden(regio.id, clients, [
                    periode for client, versies in per_client.items()
                    for periode in tijdlijn(versies, regio, {client})])
        return len(clients)


GELD_TOPICS = (*TOPICS, get_topic(Declaratie.Geopend), get_topic(Declaratie.Ingediend),
               get_topic(Declaratie.Beantwoord))


def geldversie_uit_event(e: Toewijzing.VersieOntvangen, gemeentecode: str, nummer: str
                         ) -> Geldversie:
    """A stored version event as the money rules see it."""
    return Geldversie(
        gemeentecode, nummer, e.client, e.categorie, e.code, e.toegewezen_op, e.ingangsdatum,
        e.einddatum, e.reden_wijziging, e.dagtekening, e.bericht_identificatie,
        aanbieder=e.aanbieder, volume=e.volume, eenheid=e.eenheid, frequentie=e.frequentie,
        budget=e.budget)


def regels_uit_event(e: Declaratie.Ingediend, gemeentecode: str, aanbieder: str) -> list[Regel]:
    """The lines of a stored JW323 (gemeente = Ontvanger, aanbieder = Afzender)."""
    return [Regel(gemeentecode, aanbieder, r.referentienummer, r.vorig_referentienummer,
                  r.toewijzingnummer, r.client, r.categorie, r.code, r.begindatum, r.einddatum,
                  r.bedrag, e.bericht_identificatie, e.dagtekening) for r in e.regels]


def afwijzingen_uit_event(e: Declaratie.Beantwoord, aanbieder: str) -> list[Afwijzing]:
    return [Afwijzing(aanbieder, r.referentienummer, e.dagtekening) for r in e.afgewezen_regels]


def geld_uit_eventlog(events: Iterable[object]) -> tuple[list[Geldversie], list[Regel], list[Afwijzing]]:
    """Versions with their money fields, declaration lines and rejections from the event log
    alone, in any order: the input of the money rules (`projections.geld.bereken`)."""
    toewijzingen: dict[UUID, tuple[str, str]] = {}
    declaraties: dict[UUID, Declaratie.Geopend] = {}
    versies: list[Geldversie] = []
    regels: list[Regel] = []
    afwijzingen: list[Afwijzing] = []
    for e in events:
        if isinstance(e, Toewijzing.Geregistreerd):
            toewijzingen[e.originator_id] = (e.gemeentecode, e.toewijzingnummer)
        elif isinstance(e, Toewijzing.VersieOntvangen):
            versies.append(geldversie_uit_event(e, *toewijzingen[e.originator_id]))
        elif isinstance(e, Declaratie.Geopend):
            declaraties[e.originator_id] = e
        elif isinstance(e, Declaratie.Ingediend):
            d = declaraties[e.originator_id]
            regels.extend(regels_uit_event(e, d.gemeentecode, d.aanbieder))
        elif isinstance(e, Declaratie.Beantwoord):
            afwijzingen.extend(afwijzingen_uit_event(e, declaraties[e.originator_id].aanbieder))
    return versies, regels, afwijzingen


class GeldProjectie:
    """Writes pages of toewijzing and declaration events into a money view.

    A second projection beside the flow projection, with its own tracking position (the
    projector feeds both from the same log): a money view added to an existing store
    catches up from the start of the log without touching the flow view. Nothing in it
    depends on a region, so a change of segments or tariffs needs no rebuild."""

    topics = GELD_TOPICS

    def __init__(self, view: GeldView) -> None:
        self.view = view

    def pagina(self, events: Iterable[tuple[int, object]]) -> Geldpagina:
        """One page of (notification id, domain event) as the money view stores it. A
        version's toewijzing and a line's declaration are registered earlier in the log (the
        aggregate's first event): in this page or in the view already."""
        pagina = Geldpagina()
        nieuw_t: dict[UUID, tuple[str, str]] = {}
        nieuw_d: dict[UUID, tuple[str, str]] = {}
        ruw: list[tuple[int, Toewijzing.VersieOntvangen | Declaratie.Ingediend
                        | Declaratie.Beantwoord]] = []
        for nid, e in events:
            if isinstance(e, Toewijzing.Geregistreerd):
                pagina.toewijzingen.append((e.originator_id, e.gemeentecode, e.toewijzingnummer))
                nieuw_t[e.originator_id] = (e.gemeentecode, e.toewijzingnummer)
            elif isinstance(e, Declaratie.Geopend):
                pagina.declaraties.append((e.originator_id, e.gemeentecode, e.aanbieder))
                nieuw_d[e.originator_id] = (e.gemeentecode, e.aanbieder)
            elif isinstance(e, Toewijzing.VersieOntvangen | Declaratie.Ingediend
                            | Declaratie.Beantwoord):
                ruw.append((nid, e))
        ids_t = {e.originator_id for _, e in ruw if isinstance(e, Toewijzing.VersieOntvangen)}
        ids_d = {e.originator_id for _, e in ruw if not isinstance(e, Toewijzing.VersieOntvangen)}
        toewijzingen = {**self.view.toewijzingen(ids_t - nieuw_t.keys()), **nieuw_t}
        declaraties = {**self.view.declaraties(ids_d - nieuw_d.keys()), **nieuw_d}
        for nid, e in ruw:
            if isinstance(e, Toewijzing.VersieOntvangen):
                pagina.versies.append((nid, geldversie_uit_event(e, *toewijzingen[e.originator_id])))
            elif isinstance(e, Declaratie.Ingediend):
                pagina.regels.extend(regels_uit_event(e, *declaraties[e.originator_id]))
            elif isinstance(e, Declaratie.Beantwoord):
                pagina.afwijzingen.extend(afwijzingen_uit_event(e, declaraties[e.originator_id][1]))
        return pagina

    def projecteer(self, events: Iterable[tuple[int, object]], tot: int) -> int:
        """Store a page and recompute the knowledge-time periods of exactly the toewijzingen
        it touches, in one transaction ending at log position `tot`; returns how many."""
        pagina = self.pagina(events)
        with self.view.schrijf(tot) as schrijver:
            geraakt = schrijver.voeg_toe(pagina)
            if geraakt:
                per_toewijzing = schrijver.versies_van(geraakt)
                schrijver.vervang_perioden(geraakt, [
                    p for versies in per_toewijzing.values() for p in geldperioden(versies)])
            if pagina.regels:
                bekend = schrijver.eerste_regels({r.identiteit for r in pagina.regels})
                schrijver.bewaar_regels(kies_eerste(pagina.regels, bekend))
            if pagina.afwijzingen:
                schrijver.bewaar_afwijzingen(pagina.afwijzingen)
        return len(geraakt)
