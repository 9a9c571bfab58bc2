"""Roles and who may read what (DOMAIN.md, Privacy and access), as pure functions.

Roles arrive in the token claim `jeugdstroom_roles`, a list of strings:

- `gemeente:<4-digit CBS code>`: its own figures and detail in full; as a benchmark the
  region's totals and the other gemeenten's figures with small cells suppressed; never another
  gemeente's detail.
- `regio:<region id>`: everything of that region, including detail, replay and changes.
- `auditor:<region id>`: everything of that region, read-only: figures, detail, replays.
- `subscriber`: nothing over HTTP; it reads the aggregate updates on NATS.

Parsing is strict per string but lenient per claim: a string that is not one of these forms,
or names a region that does not exist, is *ignored* with a reason, and the other roles of
the token still count. Ignoring can only take access away (an ignored role grants nothing),
while refusing the whole token would lock a user out of everything over one typo in the
identity provider; the reasons are returned so that the HTTP layer can log them and name
them in a 403.

A region's data is only ever visible under a role of that region: `regio:`/`auditor:` by
its id, `gemeente:` by being one of its gemeenten.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import Enum, StrEnum

from projections.regio import Regio

ROLLEN_CLAIM = "jeugdstroom_roles"

_GEMEENTECODE = re.compile(r"^[0-9]{4}$")
_REGIO_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")  # as projections.regio.Regio.id


class Soort(StrEnum):
    GEMEENTE = "gemeente"
    REGIO = "regio"
    AUDITOR = "auditor"
    ABONNEE = "subscriber"


@dataclass(frozen=True, order=True)
class Rol:
    soort: Soort
    waarde: str | None = None  # gemeentecode or region id; None for subscriber

    def __str__(self) -> str:
        return self.soort.value if self.waarde is None else f"{self.soort.value}:{self.waarde}"


@dataclass(frozen=True)
class GenegeerdeRol:
    """A role string from the token that grants nothing, and why."""

    tekst: str
    reden: str


class OngeldigeRol(ValueError):
    """A role string is not one of the four forms; the message says which forms exist."""


def lees_rol(tekst: str, bekende_regios: Collection[str] | None = None) -> Rol:
    """One role string, strictly: exact lower-case forms, no spaces, no extra parts."""
    if not isinstance(tekst, str):
        raise OngeldigeRol("a role is a string")
    if tekst == Soort.ABONNEE.value:
        return Rol(Soort.ABONNEE)
    soort, sep, waarde = tekst.partition(":")
    if not sep:
        raise OngeldigeRol(
            "a role is gemeente:<4-digit code>, regio:<region id>, auditor:<region id> or "
            "subscriber")
    if soort == Soort.GEMEENTE.value:
        if not _GEMEENTECODE.match(waarde):
            raise OngeldigeRol("gemeente: needs a 4-digit CBS code, e.g. gemeente:0935")
        return Rol(Soort.GEMEENTE, waarde)
    if soort in (Soort.REGIO.value, Soort.AUDITOR.value):
        if not _REGIO_ID.match(waarde):
            raise OngeldigeRol(f"{soort}: needs a region id (lower case, digits, '-'), "
                               f"e.g. {soort}:zuid-limburg")
        if bekende_regios is not None and waarde not in bekende_regios:
            raise OngeldigeRol(f"{soort}: names region '{waarde}', which is not configured")
        return Rol(Soort(soort), waarde)
    raise OngeldigeRol(
        "a role is gemeente:<4-digit code>, regio:<region id>, auditor:<region id> or subscriber")


def lees_rollen(
    claim: object, bekende_regios: Collection[str] | None = None
) -> tuple[tuple[Rol, ...], tuple[GenegeerdeRol, ...]]:
    """The roles of a `jeugdstroom_roles` claim, and the strings that were ignored.

    A missing claim (None) means no roles. A single string is taken as a list of one (a
    Keycloak mapper that is not marked multivalued emits one). Anything else in the claim is
    ignored with a reason; duplicates count once.
    """
    if claim is None:
        return (), ()
    if isinstance(claim, str):
        claim = [claim]
    if not isinstance(claim, list):
        return (), (GenegeerdeRol(_kort(claim), f"{ROLLEN_CLAIM} must be a list of strings"),)
    rollen: set[Rol] = set()
    genegeerd: list[GenegeerdeRol] = []
    for tekst in claim:
        try:
            rollen.add(lees_rol(tekst, bekende_regios))
        except OngeldigeRol as fout:
            genegeerd.append(GenegeerdeRol(_kort(tekst), str(fout)))
    return tuple(sorted(rollen)), tuple(genegeerd)


def _kort(waarde: object) -> str:
    """An ignored role for a log line: it comes from a signed token, but keep it short."""
    tekst = waarde if isinstance(waarde, str) else type(waarde).__name__
    return tekst if len(tekst) <= 64 else tekst[:61] + "..."


# -- decisions ----------------------------------------------------------------------------------


class Vraag(StrEnum):
    """What a request asks for, as far as access is concerned."""

    REGIO_CIJFERS = "region figures"  # totals of the whole region
    GEMEENTE_CIJFERS = "gemeente figures"  # the figures of one gemeente
    DETAIL = "detail"  # pseudonyms, toewijzingen, declaration lines, diff causes
    REPLAY = "replay"  # figures recomputed from the event store, as known at a date
    WIJZIGING = "change"  # anything that changes state (read-only roles never may)


class Uitkomst(Enum):
    VOLLEDIG = "full"
    ONDERDRUKT = "suppressed"  # figures with small cells suppressed, as the publication CSV
    GEWEIGERD = "denied"


@dataclass(frozen=True)
class RegioScope:
    """What a decision needs of a region: its id and the codes of its gemeenten."""

    id: str
    gemeenten: frozenset[str]

    @classmethod
    def van(cls, regio: Regio) -> RegioScope:
        return cls(regio.id, frozenset(regio.gemeenten))


@dataclass(frozen=True)
class Besluit:
    uitkomst: Uitkomst
    vraag: Vraag
    reden: str  # safe to show the caller: names the role that would be needed
    rol: Rol | None = None  # the role that grants it (None when denied)

    @property
    def toegestaan(self) -> bool:
        return self.uitkomst is not Uitkomst.GEWEIGERD

    @property
    def onderdrukt(self) -> bool:
        return self.uitkomst is Uitkomst.ONDERDRUKT

    @property
    def auditen(self) -> bool:
        """Reads of detail and replays, and every denial, go to the audit log."""
        return self.vraag in (Vraag.DETAIL, Vraag.REPLAY) or not self.toegestaan


_RANG = {Uitkomst.VOLLEDIG: 2, Uitkomst.ONDERDRUKT: 1, Uitkomst.GEWEIGERD: 0}


def besluit(
    rollen: Iterable[Rol], regio: RegioScope, vraag: Vraag, gemeente: str | None = None
) -> Besluit:
    """May a caller with these roles ask this of this region (and gemeente)?

    `gemeente` is required for GEMEENTE_CIJFERS and not given for REGIO_CIJFERS; for DETAIL,
    REPLAY and WIJZIGING None means the whole region. With several roles the most generous answer wins.
    """
    if vraag is Vraag.GEMEENTE_CIJFERS and gemeente is None:
        raise ValueError("gemeente figures need a gemeente")
    if vraag is Vraag.REGIO_CIJFERS and gemeente is not None:
        raise ValueError("region figures are the whole region's: ask GEMEENTE_CIJFERS for one")
    if gemeente is not None and gemeente not in regio.gemeenten:
        return Besluit(Uitkomst.GEWEIGERD, vraag,
                       f"gemeente {gemeente} is not part of region {regio.id}")
    rollen = list(rollen)
    beste: Besluit | None = None
    for rol in rollen:
        kandidaat = _per_rol(rol, regio, vraag, gemeente)
        if kandidaat and (beste is None or _RANG[kandidaat.uitkomst] > _RANG[beste.uitkomst]):
            beste = kandidaat
    if beste is not None:
        return beste
    return Besluit(Uitkomst.GEWEIGERD, vraag, _nodig(rollen, regio, vraag, gemeente))


def _per_rol(rol: Rol, regio: RegioScope, vraag: Vraag, gemeente: str | None) -> Besluit | None:
    if rol.soort is Soort.REGIO and rol.waarde == regio.id:
        return Besluit(Uitkomst.VOLLEDIG, vraag, f"{rol} reads all of its region", rol)
    if rol.soort is Soort.AUDITOR and rol.waarde == regio.id:
        if vraag is Vraag.WIJZIGING:
            return None
        return Besluit(Uitkomst.VOLLEDIG, vraag, f"{rol} reads all of its region", rol)
    if rol.soort is Soort.GEMEENTE and rol.waarde in regio.gemeenten:
        eigen = gemeente == rol.waarde
        if vraag in (Vraag.GEMEENTE_CIJFERS, Vraag.DETAIL, Vraag.REPLAY) and eigen:
            return Besluit(Uitkomst.VOLLEDIG, vraag, f"{rol} reads its own gemeente", rol)
        if vraag in (Vraag.GEMEENTE_CIJFERS, Vraag.REGIO_CIJFERS):
            return Besluit(Uitkomst.ONDERDRUKT, vraag,
                           f"{rol} reads this as a benchmark, small cells suppressed", rol)
    return None


def _nodig(rollen: list[Rol], regio: RegioScope, vraag: Vraag, gemeente: str | None) -> str:
    if any(rol.soort is Soort.ABONNEE for rol in rollen) and len(rollen) == 1:
        prefix = "subscriber reads only the aggregate updates on NATS; "
    elif not rollen:
        prefix = "the token carries no jeugdstroom role; "
    else:
        prefix = ""
    if vraag is Vraag.WIJZIGING:
        return prefix + f"{vraag.value} in region {regio.id} needs role regio:{regio.id}"
    opties = [f"regio:{regio.id}", f"auditor:{regio.id}"]
    if vraag is Vraag.GEMEENTE_CIJFERS or (vraag in (Vraag.DETAIL, Vraag.REPLAY) and gemeente):
        opties.insert(0, f"gemeente:{gemeente}")
        wat = f"{vraag.value} of gemeente {gemeente}"
    elif vraag is Vraag.REGIO_CIJFERS:
        opties.insert(0, f"gemeente:<one of {regio.id}>")
        wat = f"{vraag.value} of region {regio.id}"
    else:
        wat = f"{vraag.value} of all of region {regio.id}"
    return prefix + f"{wat} needs role {' or '.join(opties)}"


def zichtbare_regios(rollen: Iterable[Rol], regios: Iterable[RegioScope]) -> list[str]:
    """The ids of the regions of which the caller may read at least something."""
    rollen = list(rollen)
    return [regio.id for regio in regios
            if besluit(rollen, regio, Vraag.REGIO_CIJFERS).toegestaan]


def leest_http(rollen: Iterable[Rol]) -> bool:
    """Whether any of the roles reads anything over HTTP (subscriber alone does not)."""
    return any(rol.soort is not Soort.ABONNEE for rol in rollen)
