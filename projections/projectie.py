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
            gemeentecode, nummer = toewijzingen[e.originator_id]
            versies.append(Geldversie(
                gemeentecode, nummer, e.client, e.categorie, e.code, e.toegewezen_op,
                e.ingangsdatum, e.einddatum, e.reden_wijziging, e.dagtekening,
                e.bericht_identificatie, aanbieder=e.aanbieder, volume=e.volume, eenheid=e.eenheid,
                frequentie=e.frequentie, budget=e.budget))
        elif isinstance(e, Declaratie.Geopend):
            declaraties[e.originator_id] = e
        elif isinstance(e, Declaratie.Ingediend):
            d = declaraties[e.originator_id]
            regels.extend(Regel(
                d.gemeentecode, d.aanbieder, r.referentienummer, r.vorig_referentienummer,
                r.toewijzingnummer, r.client, r.categorie, r.code, r.begindatum, r.einddatum,
                r.bedrag, e.bericht_identificatie, e.dagtekening) for r in e.regels)
        elif isinstance(e, Declaratie.Beantwoord):
            d = declaraties[e.originator_id]
            afwijzingen.extend(Afwijzing(d.aanbieder, r.referentienummer, e.dagtekening)
                               for r in e.afgewezen_regels)
    return versies, regels, afwijzingen
