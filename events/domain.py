"""Domain events and aggregates: what is stored, forever, in the event store.

One `Toewijzing` aggregate per (gemeentecode, ToewijzingNummer) holds every version the
gemeente sent (JW301) and the actual start/stop of care (JW305/JW307). One `Declaratie`
aggregate per declaration message holds the declared lines (JW323) and the answer (JW325).
Nothing personal is stored: the client is a keyed pseudonym, and names, addresses, birth
dates and comments never leave the parser. Every event carries the Dagtekening of the
message it came from (knowledge time) and its BerichtIdentificatie.

Events are versioned with the library's `class_version`; a change to a stored event's
attributes gets a new version and an `upcast_vN_vM` method, never an edit in place.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

_NAMESPACE = uuid5(NAMESPACE_URL, "https://jeugdstroom.nl/ids")


@lru_cache(maxsize=65536)  # asked twice per product in a batch (load, then apply): sha1 each
def toewijzing_id(gemeentecode: str, toewijzingnummer: str) -> UUID:
    return uuid5(_NAMESPACE, f"toewijzing:{gemeentecode}:{toewijzingnummer}")


def declaratie_id(gemeentecode: str, aanbieder: str, identificatie: str, dagtekening: date) -> UUID:
    """A declaration is known by the provider's BerichtIdentificatie, which the JW325 repeats."""
    return uuid5(
        _NAMESPACE, f"declaratie:{gemeentecode}:{aanbieder}:{identificatie}:{dagtekening}"
    )


@dataclass(frozen=True)
class Declaratieregel:
    """One Prestatie of a JW323 (or a rejected one in a JW325), without personal data."""

    client: str
    referentienummer: str
    vorig_referentienummer: str | None
    toewijzingnummer: str
    categorie: str
    code: str | None
    begindatum: date
    einddatum: date
    geleverd_volume: int
    eenheid: str
    tarief: int | None
    bedrag: int
    retourcodes: tuple[str, ...]


class Toewijzing(Aggregate):
    """All that is known of one toewijzing: its versions and the actual start and stop of care."""

    class Geregistreerd(Aggregate.Created):
        gemeentecode: str
        toewijzingnummer: str

    class VersieOntvangen(Aggregate.Event):
        """One ToegewezenProduct of a JW301: one version of this toewijzing."""

        client: str
        aanbieder: str
        categorie: str | None
        code: str | None
        toegewezen_op: datetime  # Toewijzingsdatum + Toewijzingstijd: the version order
        ingangsdatum: date
        einddatum: date | None
        reden_wijziging: str | None
        volume: int | None
        eenheid: str | None
        frequentie: str | None
        budget: int | None
        dagtekening: date
        bericht_identificatie: str

        def apply(self, aggregate: Toewijzing) -> None:
            aggregate.versies.append(self)

    class ZorgGestart(Aggregate.Event):
        """One StartProduct of a JW305."""

        client: str
        aanbieder: str
        begindatum: date
        status_aanlevering: str
        dagtekening: date
        bericht_identificatie: str

        def apply(self, aggregate: Toewijzing) -> None:
            aggregate.starts.append(self)

    class ZorgGestopt(Aggregate.Event):
        """One StopProduct of a JW307."""

        client: str
        aanbieder: str
        begindatum: date
        einddatum: date
        reden_beeindiging: str
        status_aanlevering: str
        dagtekening: date
        bericht_identificatie: str

        def apply(self, aggregate: Toewijzing) -> None:
            aggregate.stops.append(self)

    def __init__(self, gemeentecode: str, toewijzingnummer: str) -> None:
        self.gemeentecode = gemeentecode
        self.toewijzingnummer = toewijzingnummer
        self.versies: list[Toewijzing.VersieOntvangen] = []
        self.starts: list[Toewijzing.ZorgGestart] = []
        self.stops: list[Toewijzing.ZorgGestopt] = []

    @classmethod
    def registreer(cls, gemeentecode: str, toewijzingnummer: str) -> Toewijzing:
        return cls._create(
            cls.Geregistreerd,
            id=toewijzing_id(gemeentecode, toewijzingnummer),
            gemeentecode=gemeentecode,
            toewijzingnummer=toewijzingnummer,
        )

    def ontvang_versie(
        self, *, client: str, aanbieder: str, categorie: str | None, code: str | None,
        toegewezen_op: datetime, ingangsdatum: date, einddatum: date | None,
        reden_wijziging: str | None, volume: int | None, eenheid: str | None,
        frequentie: str | None, budget: int | None, dagtekening: date, bericht_identificatie: str,
    ) -> None:
        """Record a version unless the same content is already known from this date or earlier.

        A resent JW301 adds nothing; an identical version seen with an earlier Dagtekening is
        recorded, because it moves the knowledge time of that version forward. An older
        version that arrives late is recorded too; which version counts is decided by the
        version order in the projection, never by arrival.
        """
        versie = {"client": client, "aanbieder": aanbieder, "categorie": categorie, "code": code,
                  "toegewezen_op": toegewezen_op, "ingangsdatum": ingangsdatum,
                  "einddatum": einddatum, "reden_wijziging": reden_wijziging, "volume": volume,
                  "eenheid": eenheid, "frequentie": frequentie, "budget": budget}
        if not _al_bekend(self.versies, versie, dagtekening):
            self.trigger_event(self.VersieOntvangen, **versie, dagtekening=dagtekening,
                               bericht_identificatie=bericht_identificatie)

    def ontvang_start(
        self, *, client: str, aanbieder: str, begindatum: date, status_aanlevering: str,
        dagtekening: date, bericht_identificatie: str,
    ) -> None:
        """Record a StartProduct of a JW305 unless already known from this date or earlier."""
        start = {"client": client, "aanbieder": aanbieder, "begindatum": begindatum,
                 "status_aanlevering": status_aanlevering}
        if not _al_bekend(self.starts, start, dagtekening):
            self.trigger_event(self.ZorgGestart, **start, dagtekening=dagtekening,
                               bericht_identificatie=bericht_identificatie)

    def ontvang_stop(
        self, *, client: str, aanbieder: str, begindatum: date, einddatum: date,
        reden_beeindiging: str, status_aanlevering: str, dagtekening: date,
        bericht_identificatie: str,
    ) -> None:
        """Record a StopProduct of a JW307 unless already known from this date or earlier."""
        stop = {"client": client, "aanbieder": aanbieder, "begindatum": begindatum,
                "einddatum": einddatum, "reden_beeindiging": reden_beeindiging,
                "status_aanlevering": status_aanlevering}
        if not _al_bekend(self.stops, stop, dagtekening):
            self.trigger_event(self.ZorgGestopt, **stop, dagtekening=dagtekening,
                               bericht_identificatie=bericht_identificatie)


def _al_bekend(bekend: Sequence[Aggregate.Event], inhoud: Mapping[str, object], dagtekening: date) -> bool:
    """The same content (all but the knowledge fields) is known from this date or earlier."""
    return any(
        all(getattr(event, k) == v for k, v in inhoud.items())
        and getattr(event, "dagtekening") <= dagtekening  # noqa: B009  (every kind has one)
        for event in bekend
    )


class Declaratie(Aggregate):
    """A declaration (JW323) and the gemeente's answer to it (JW325)."""

    class Geopend(Aggregate.Created):
        gemeentecode: str
        aanbieder: str
        identificatie: str
        declaratie_dagtekening: date

    class Ingediend(Aggregate.Event):
        declaratienummer: str
        periode_begin: date
        periode_eind: date
        totaal_bedrag: int
        regels: tuple[Declaratieregel, ...]
        dagtekening: date
        bericht_identificatie: str

        def apply(self, aggregate: Declaratie) -> None:
            aggregate.ingediend = True

    class Beantwoord(Aggregate.Event):
        retourcodes: tuple[str, ...]
        totaal_ingediend: int | None
        totaal_toegekend: int | None
        afgewezen_regels: tuple[Declaratieregel, ...]
        dagtekening: date
        bericht_identificatie: str

        def apply(self, aggregate: Declaratie) -> None:
            aggregate.antwoorden.add((self.bericht_identificatie, self.dagtekening))

    def __init__(
        self, gemeentecode: str, aanbieder: str, identificatie: str, declaratie_dagtekening: date
    ) -> None:
        self.gemeentecode = gemeentecode
        self.aanbieder = aanbieder
        self.identificatie = identificatie
        self.declaratie_dagtekening = declaratie_dagtekening
        self.ingediend = False
        self.antwoorden: set[tuple[str, date]] = set()

    @classmethod
    def open(
        cls, gemeentecode: str, aanbieder: str, identificatie: str, declaratie_dagtekening: date
    ) -> Declaratie:
        return cls._create(
            cls.Geopend,
            id=declaratie_id(gemeentecode, aanbieder, identificatie, declaratie_dagtekening),
            gemeentecode=gemeentecode,
            aanbieder=aanbieder,
            identificatie=identificatie,
            declaratie_dagtekening=declaratie_dagtekening,
        )

    def dien_in(
        self, *, declaratienummer: str, periode_begin: date, periode_eind: date,
        totaal_bedrag: int, regels: tuple[Declaratieregel, ...], dagtekening: date,
        bericht_identificatie: str,
    ) -> None:
        """A JW323 is recorded once: a resent declaration message adds nothing."""
        if not self.ingediend:
            self.trigger_event(
                self.Ingediend, declaratienummer=declaratienummer, periode_begin=periode_begin,
                periode_eind=periode_eind, totaal_bedrag=totaal_bedrag, regels=regels,
                dagtekening=dagtekening, bericht_identificatie=bericht_identificatie)

    def beantwoord(
        self, *, retourcodes: tuple[str, ...], totaal_ingediend: int | None,
        totaal_toegekend: int | None, afgewezen_regels: tuple[Declaratieregel, ...],
        dagtekening: date, bericht_identificatie: str,
    ) -> None:
        """A JW325 answer is recorded once per answer message."""
        if (bericht_identificatie, dagtekening) not in self.antwoorden:
            self.trigger_event(
                self.Beantwoord, retourcodes=retourcodes, totaal_ingediend=totaal_ingediend,
                totaal_toegekend=totaal_toegekend, afgewezen_regels=afgewezen_regels,
                dagtekening=dagtekening, bericht_identificatie=bericht_identificatie)
