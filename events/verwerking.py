"""From a validated iJw message to new domain events on its aggregates.

Pure apart from the `AggregaatBron`, which hands out the current state of an aggregate (from
the event store, or from earlier messages of the same batch). The aggregates returned carry
the pending events; storing them is the ingest service's job.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol
from uuid import UUID

from events.domain import (
    Declaratie,
    Declaratieregel,
    Toewijzing,
    declaratie_id,
    toewijzing_id,
)
from events.ijw import (
    Antwoordbericht,
    Bericht,
    Bsn,
    Declaratiebericht,
    Prestatie,
    Startbericht,
    Stopbericht,
    Toewijzingbericht,
)

Pseudoniem = Callable[[Bsn], str]


class AggregaatBron(Protocol):
    def toewijzing(self, gemeentecode: str, toewijzingnummer: str) -> Toewijzing: ...

    def declaratie(
        self, gemeentecode: str, aanbieder: str, identificatie: str, dagtekening: object
    ) -> Declaratie: ...


def verwerk(bericht: Bericht, pseudoniem: Pseudoniem, bron: AggregaatBron) -> None:
    """Apply one message to the aggregates it concerns; new events stay pending on them."""
    kop = bericht.kop
    dagtekening, identificatie = kop.dagtekening, kop.identificatie
    match bericht:
        case Toewijzingbericht(producten=producten):
            client = pseudoniem(bericht.bsn)
            for p in producten:
                bron.toewijzing(kop.gemeentecode, p.toewijzingnummer).ontvang_versie(
                    client=client,
                    aanbieder=kop.aanbieder,
                    categorie=p.product.categorie if p.product else None,
                    code=p.product.code if p.product else None,
                    toegewezen_op=datetime.combine(p.toewijzingsdatum, p.toewijzingstijd),
                    ingangsdatum=p.ingangsdatum,
                    einddatum=p.einddatum,
                    reden_wijziging=p.reden_wijziging,
                    volume=p.omvang.volume if p.omvang else None,
                    eenheid=p.omvang.eenheid if p.omvang else None,
                    frequentie=p.omvang.frequentie if p.omvang else None,
                    budget=p.budget,
                    dagtekening=dagtekening,
                    bericht_identificatie=identificatie,
                )
        case Startbericht(producten=producten):
            client = pseudoniem(bericht.bsn)
            for s in producten:
                bron.toewijzing(kop.gemeentecode, s.toewijzingnummer).ontvang_start(
                    client=client,
                    aanbieder=kop.aanbieder,
                    begindatum=s.begindatum,
                    status_aanlevering=s.status_aanlevering,
                    dagtekening=dagtekening,
                    bericht_identificatie=identificatie,
                )
        case Stopbericht(producten=stops):
            client = pseudoniem(bericht.bsn)
            for stop in stops:
                bron.toewijzing(kop.gemeentecode, stop.toewijzingnummer).ontvang_stop(
                    client=client,
                    aanbieder=kop.aanbieder,
                    begindatum=stop.begindatum,
                    einddatum=stop.einddatum,
                    reden_beeindiging=stop.reden_beeindiging,
                    status_aanlevering=stop.status_aanlevering,
                    dagtekening=dagtekening,
                    bericht_identificatie=identificatie,
                )
        case Declaratiebericht():
            declaratie = bron.declaratie(
                kop.gemeentecode, kop.aanbieder, kop.identificatie, kop.dagtekening
            )
            declaratie.dien_in(
                declaratienummer=bericht.declaratienummer,
                periode_begin=bericht.periode_begin,
                periode_eind=bericht.periode_eind,
                totaal_bedrag=bericht.totaal_bedrag,
                regels=tuple(_regel(p, pseudoniem) for p in bericht.prestaties),
                dagtekening=dagtekening,
                bericht_identificatie=identificatie,
            )
        case Antwoordbericht():
            declaratie = bron.declaratie(
                kop.gemeentecode,
                kop.aanbieder,
                bericht.declaratie_identificatie,
                bericht.declaratie_dagtekening,
            )
            declaratie.beantwoord(
                retourcodes=bericht.retourcodes,
                totaal_ingediend=bericht.totaal_ingediend,
                totaal_toegekend=bericht.totaal_toegekend,
                afgewezen_regels=tuple(_regel(p, pseudoniem) for p in bericht.prestaties),
                dagtekening=dagtekening,
                bericht_identificatie=identificatie,
            )


def _regel(p: Prestatie, pseudoniem: Pseudoniem) -> Declaratieregel:
    return Declaratieregel(
        client=pseudoniem(p.bsn),
        referentienummer=p.referentienummer,
        vorig_referentienummer=p.vorig_referentienummer,
        toewijzingnummer=p.toewijzingnummer,
        categorie=p.product.categorie,
        code=p.product.code,
        begindatum=p.begindatum,
        einddatum=p.einddatum,
        geleverd_volume=p.geleverd_volume,
        eenheid=p.eenheid,
        tarief=p.tarief,
        bedrag=p.bedrag,
        retourcodes=p.retourcodes,
    )


def aggregaat_ids(bericht: Bericht) -> list[UUID]:
    """The aggregates `verwerk` will touch, so that they can be loaded together beforehand."""
    kop = bericht.kop
    match bericht:
        case Declaratiebericht():
            return [declaratie_id(kop.gemeentecode, kop.aanbieder, kop.identificatie,
                                  kop.dagtekening)]
        case Antwoordbericht():
            return [declaratie_id(kop.gemeentecode, kop.aanbieder,
                                  bericht.declaratie_identificatie, bericht.declaratie_dagtekening)]
        case _:
            return [toewijzing_id(kop.gemeentecode, p.toewijzingnummer) for p in bericht.producten]


def ijw_records(bericht: Bericht) -> int:
    """How many iJw records (ToegewezenProduct, StartProduct, StopProduct, Prestatie) it holds."""
    if isinstance(bericht, Declaratiebericht | Antwoordbericht):
        return len(bericht.prestaties)
    return len(bericht.producten)
