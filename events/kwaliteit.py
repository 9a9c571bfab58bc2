"""The iJw 3.2 rules on the content of one message: data-quality findings, not rejections.

`controleer(root, bericht)` tries an already parsed, XSD-valid message against every
condition (CD), constraint (CS) and technical rule (TR) of `regels-op-berichten.csv` that can
be checked within that one message, and returns a `Bevinding` per violation: the rule code,
the element path (as in the parser's rejection reasons) and what is wrong. A finding never
quotes the value of a personal element (BSN, name, address, postcode, house number, phone,
birth date); codes and dates of allocations, products and declarations may be quoted.

One small function per rule, named after its code, reads a `_Lezing`: the message's classes
(header, clients, relaties, contacts, products, prestaties), each read once into a flat dict of
the fields the rules use, so no rule searches the tree; it appends its findings to the
message's list (a plain call: a generator per rule cost more than most rules). `REGELS` maps
each code to the messages it applies to and its function. It expects a message that passed `lees_bericht`
(XSD-valid, real calendar dates); it never raises on one.

Not here: rules that need other messages (a JW305 for an unknown toewijzing, a late
declaration, TR416 against earlier declarations), and the restrictions (RS), which the XSDs
already enforce.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date

from lxml import etree

from events.ijw import (
    DECLARATIE,
    HEADER,
    PRESTATIE,
    PRODUCT,
    Index,
    Spec,
    Velden,
    elfproef,
    kinderen,
    lees_velden,
    spec,
    waarde,
)

_BERICHTEN = ("jw301", "jw305", "jw307", "jw323", "jw325")
_NA_2020 = date(2020, 12, 31)
_VANAF_2021 = date(2021, 1, 1)
_ONBEKEND = date(1900, 1, 1)
_NL_POSTCODE = re.compile(r"[1-9][0-9]{3}[A-Z]{2}")
_ALFANUMERIEK = re.compile(r"[A-Za-z0-9]+")
_PREFIX = re.compile(r"[\w-]+:")


@dataclass(frozen=True, slots=True)
class Bevinding:
    """One rule violation: the rule code, the element path and what is wrong (no personal data)."""

    regel: str
    pad: str
    toelichting: str

    def __str__(self) -> str:
        return f"{self.regel} {self.pad}: {self.toelichting}"


# -- reading ----------------------------------------------------------------------------------

# The rules read each class flat (events/ijw.py `Velden`): a plain dict of the fields they use,
# as on the 2-core target a method call or conversion per element cost more than the rules
# themselves. The children and their texts come from the parser's index (`kinderen`), which has
# walked most of the elements the rules read and read their texts already, and a class the
# parser read flat itself (header, products, declaration, prestaties) is not read again.


def _kinderen(el: etree._Element, index: Index, ouder: str, tag: str) -> list[etree._Element]:
    """The children `tag` (qualified) of the first child `ouder` (local name) of `el`: the
    parent from the index, as a tag search costs more than the few children it finds."""
    gevonden = (index.get(el) or kinderen(el, index))[0].get(ouder)
    return [] if gevonden is None else list(gevonden.iterchildren(tag))


def _pad(velden: Velden, sleutel: str | None = None) -> str:
    """The readable path of the element of `velden`, or of its (possibly absent) child."""
    el = velden[""]
    pad = _PREFIX.sub("", el.getroottree().getpath(el)).lstrip("/")
    return f"{pad}/{sleutel}" if sleutel else pad


_DATUM = ("Datum", "DatumGebruik")
_PERIODE = ("Begindatum", "Einddatum")
_PERSOON = spec(Bsn=None, Nummer=None, Geboortedatum=_DATUM, Naam=("NaamGebruik", "Partnernaam"),
                 Communicatie=("Vorm", "Taal"))
_START_STOP_CLIENT = spec(Bsn=None, Geboortedatum=_DATUM)  # JW305, JW307
_CONTACT = spec(Soort=None, Adres=("Huis", "Postcode", "LandCode"), Periode=_PERIODE)
_PRODUCTEN = {"jw301": ("ToegewezenProducten", "ToegewezenProduct"),
              "jw305": ("StartProducten", "StartProduct"), "jw307": ("StopProducten", "StopProduct")}


class _Lezing:
    """The classes of one message that the rules read, each read once."""

    __slots__ = (
        "bericht",
        "client",
        "client_contacten",
        "clienten",
        "contacten",
        "dagtekening",
        "declaratie",
        "header",
        "index",
        "personen",
        "plat",
        "prestaties",
        "producten",
        "relaties",
        "retourcodes",
    )

    def __init__(self, root: etree._Element, bericht: str, index: Index | None = None,
                 plat: dict[etree._Element, Velden] | None = None) -> None:
        ns = root.tag.rpartition("}")[0] + "}"
        self.bericht = bericht
        self.index: Index = {} if index is None else index
        self.plat = plat or {}
        header = kinderen(root, self.index)[0].get("Header")
        self.header: Velden = (self._lees(header, HEADER) if header is not None
                               else {"": root})
        dagtekening = self.header.get("BerichtIdentificatie/Dagtekening")
        self.dagtekening: date | None = dagtekening if isinstance(dagtekening, date) else None
        self.client: Velden | None = None
        self.clienten: list[Velden] = []
        self.personen: list[tuple[Velden, bool]] = []  # (Client or Relatie, is the client)
        self.contacten: list[Velden] = []
        self.client_contacten: list[Velden] = []
        self.relaties: list[Velden] = []
        self.producten: list[Velden] = []
        self.declaratie: Velden | None = None
        self.prestaties: list[tuple[int, Velden]] = []  # (index of its Client, Prestatie)
        self.retourcodes: list[str] = []
        if bericht in _PRODUCTEN:
            client = kinderen(root, self.index)[0].get("Client")
            if client is not None:
                self._client(client, ns)
        else:
            naam = "Declaratie" if bericht == "jw323" else "DeclaratieAntwoord"
            declaratie = kinderen(root, self.index)[0].get(naam)
            if declaratie is not None:
                self._declaratie(declaratie, ns)

    def _lees(self, el: etree._Element, lees: Spec) -> Velden:
        """`el` read flat: as the parser read it, if it did."""
        gelezen = self.plat.get(el)
        return lees_velden(el, lees, self.index) if gelezen is None else gelezen

    def _client(self, el: etree._Element, ns: str) -> None:
        self.client = self._lees(el, _PERSOON if self.bericht == "jw301" else _START_STOP_CLIENT)
        self.clienten = [self.client]
        self.personen.append((self.client, True))
        if self.bericht == "jw301":
            self.client_contacten = [self._lees(c, _CONTACT) for c in
                                     _kinderen(el, self.index, "Contactgegevens", ns + "Contact")]
            self.contacten = list(self.client_contacten)
            for relatie in _kinderen(el, self.index, "Relaties", ns + "Relatie"):
                velden = self._lees(relatie, _PERSOON)
                self.relaties.append(velden)
                self.personen.append((velden, False))
                self.contacten.extend(self._lees(c, _CONTACT)
                                      for c in relatie.iterchildren(ns + "Contact"))
        ouder, naam = _PRODUCTEN[self.bericht]
        lees = PRODUCT[self.bericht]
        self.producten = [self._lees(p, lees)
                          for p in _kinderen(el, self.index, ouder, ns + naam)]

    def _declaratie(self, el: etree._Element, ns: str) -> None:
        self.declaratie = self._lees(el, DECLARATIE)
        self.retourcodes = [(r.text or "").strip()
                            for r in _kinderen(el, self.index, "RetourCodes", ns + "RetourCode")]
        for i, client in enumerate(_kinderen(el, self.index, "Clienten", ns + "Client")):
            # only its Bsn is read (TR101, CS002), so not the presence of its other children
            bsn = (self.index.get(client) or kinderen(client, self.index))[1].get("Bsn")
            self.clienten.append({"": client, "Bsn": waarde(bsn)})
            for p in _kinderen(client, self.index, "Prestaties", ns + "Prestatie"):
                self.prestaties.append((i, self._lees(p, PRESTATIE)))


Regel = Callable[[_Lezing, list[Bevinding]], None]  # adds its findings to the list


def _in_zelfde_maand(a: date, b: date) -> bool:
    return (a.year, a.month) == (b.year, b.month)


def _jaren_terug(dag: date, jaren: int) -> date:
    try:
        return dag.replace(year=dag.year - jaren)
    except ValueError:  # 29 February
        return dag.replace(year=dag.year - jaren, day=28)


def _geheel(waarde: object) -> int | None:
    try:
        return int(waarde)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def _met_teken(velden: Velden, bedrag: str, veld: str = "Bedrag") -> int | None:
    """The amount `bedrag`/`veld` in eurocent signed by its DebetCredit, or None."""
    cent, teken = _geheel(velden.get(f"{bedrag}/{veld}")), velden.get(f"{bedrag}/DebetCredit")
    if cent is None or teken not in ("D", "C"):
        return None
    return cent if teken == "D" else -cent


def _dubbel(rijen: Iterable[tuple[object, Velden]]) -> Iterator[Velden]:
    """Every row whose key already occurred."""
    gezien: set[object] = set()
    for sleutel, velden in rijen:
        if sleutel in gezien:
            yield velden
        gezien.add(sleutel)


def _nummer(velden: Velden, naam: str = "ToewijzingNummer") -> str | None:
    """A ToewijzingNummer in canonical form: '012' is toewijzing 12 (as the parser reads it)."""
    waarde = _geheel(velden.get(naam))
    return None if waarde is None else str(waarde)


def _datum(waarde: object) -> date | None:
    return waarde if isinstance(waarde, date) else None


# -- Header, Client (all messages) ------------------------------------------------------------


def cs002(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS002: Bsn — de waarde moet voldoen aan de 11-proef."""
    for client in b.clienten:
        bsn = client.get("Bsn")
        if bsn is not None and not elfproef(str(bsn)):
            uit.append(Bevinding("CS002", _pad(client, "Bsn"), "the BSN fails the 11-proef"))


def cs015(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS015: BerichtSubversie vullen met 2."""
    waarde = b.header.get("BerichtSubversie")
    if waarde != "2":
        uit.append(Bevinding("CS015", _pad(b.header, "BerichtSubversie"),
                             f"BerichtSubversie is {waarde}; iJw 3.2 requires 2"))


def cs025(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS025: BerichtVersie vullen met 3."""
    waarde = b.header.get("BerichtVersie")
    if waarde != "3":
        uit.append(Bevinding("CS025", _pad(b.header, "BerichtVersie"),
                             f"BerichtVersie is {waarde}; iJw 3.2 requires 3"))


def cs139(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS139: voor Geboortedatum moeten DatumGebruik en Datum met elkaar in overeenstemming zijn
    (1 dag onbekend: dag 01; 2 dag en maand onbekend: 1 januari; 3 onbekend: 01-01-1900)."""
    for persoon, _ in b.personen:
        gebruik, datum = persoon.get("Geboortedatum/DatumGebruik"), persoon.get("Geboortedatum/Datum")
        if gebruik is None or not isinstance(datum, date):
            continue
        if gebruik == "1" and datum.day != 1:
            fout = "DatumGebruik 1 (day unknown) requires day 01 in Datum"
        elif gebruik == "2" and (datum.day, datum.month) != (1, 1):
            fout = "DatumGebruik 2 (day and month unknown) requires 1 January in Datum"
        elif gebruik == "3" and datum != _ONBEKEND:
            fout = "DatumGebruik 3 (date unknown) requires Datum 1900-01-01"
        else:
            continue
        uit.append(Bevinding("CS139", _pad(persoon, "Geboortedatum/Datum"), fout))


def tr002(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR002: Geboortedatum mag niet meer dan 120 jaar voor de Dagtekening liggen, tenzij
    onbekend (DatumGebruik 3 en Datum 01-01-1900)."""
    if b.dagtekening is None:
        return
    grens = _jaren_terug(b.dagtekening, 120)
    for persoon, _ in b.personen:
        datum = _datum(persoon.get("Geboortedatum/Datum"))
        onbekend = persoon.get("Geboortedatum/DatumGebruik") == "3" and datum == _ONBEKEND
        if datum is not None and datum < grens and not onbekend:
            uit.append(Bevinding("TR002", _pad(persoon, "Geboortedatum/Datum"),
                                 "the birth date lies more than 120 years before the Dagtekening "
                                 "(an unknown date is DatumGebruik 3 with 1900-01-01)"))


_TR134_VELD = {"jw301": "Toewijzingsdatum", "jw305": "Begindatum", "jw307": "Einddatum"}


def tr134(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR134: vullen met een bestaande datum die niet groter is dan de Dagtekening van het
    bericht. Checked on: Geboortedatum, Toewijzingsdatum (JW301), Begindatum (JW305),
    Einddatum (JW307), DeclaratieDagtekening (JW323), DeclaratieIdentificatie/Dagtekening
    (JW325); a ProductPeriode is TR137's."""
    dagtekening = b.dagtekening
    if dagtekening is None:
        return
    na = f"lies after the Dagtekening {dagtekening.isoformat()}"
    for persoon, _ in b.personen:
        datum = _datum(persoon.get("Geboortedatum/Datum"))
        if datum is not None and datum > dagtekening:
            uit.append(Bevinding("TR134", _pad(persoon, "Geboortedatum/Datum"),
                                 "the birth date lies after the Dagtekening"))
    veld = _TR134_VELD.get(b.bericht)
    if veld is not None:
        for p in b.producten:
            datum = _datum(p.get(veld))
            if datum is not None and datum > dagtekening:
                uit.append(Bevinding("TR134", _pad(p, veld), f"{veld} {datum.isoformat()} {na}"))
    if b.bericht == "jw323" and b.declaratie is not None:
        datum = _datum(b.declaratie.get("DeclaratieDagtekening"))
        if datum is not None and datum > dagtekening:
            uit.append(Bevinding("TR134", _pad(b.declaratie, "DeclaratieDagtekening"),
                                 f"DeclaratieDagtekening {datum.isoformat()} {na}"))
    if b.bericht == "jw325":
        datum = _datum(b.header.get("DeclaratieIdentificatie/Dagtekening"))
        if datum is not None and datum > dagtekening:
            uit.append(Bevinding("TR134", _pad(b.header, "DeclaratieIdentificatie/Dagtekening"),
                                 f"the declaration's Dagtekening {datum.isoformat()} {na}"))


def _product(velden: Velden) -> tuple[object, object]:
    return velden.get("Product/Categorie"), velden.get("Product/Code")


def _tr101(velden: Velden, klasse: str, sleutel: str) -> Bevinding:
    return Bevinding("TR101", _pad(velden), f"a second {klasse} with the same logical key "
                     f"({sleutel}) as an earlier one")


def tr101(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR101: binnen een bericht zijn dubbele regels niet toegestaan: de logische sleutel van
    iedere berichtklasse, met die van de bovenliggende klassen, is uniek."""
    meer = len(b.producten) > 1  # one of a class cannot be a duplicate: the usual message
    if b.bericht == "jw301":
        if len(b.client_contacten) > 1:
            for c in _dubbel((c.get("Soort"), c) for c in b.client_contacten):
                uit.append(_tr101(c, "Contact", f"Soort {c.get('Soort')}"))
        if len(b.relaties) > 1:
            for r in _dubbel((r.get("Nummer"), r) for r in b.relaties):
                uit.append(_tr101(r, "Relatie", "Nummer"))
        if meer:
            for p in _dubbel((_nummer(p), p) for p in b.producten):
                uit.append(_tr101(p, "ToegewezenProduct", f"ToewijzingNummer {_nummer(p)}"))
    elif b.bericht == "jw305":
        if meer:
            for p in _dubbel(((_nummer(p), _product(p), p.get("Begindatum")), p)
                             for p in b.producten):
                uit.append(_tr101(p, "StartProduct",
                                  f"ToewijzingNummer {_nummer(p)}, Product, Begindatum"))
    elif b.bericht == "jw307":
        if meer:
            for p in _dubbel(((_nummer(p), _product(p), p.get("Begindatum"),
                               p.get("RedenBeeindiging"), p.get("Einddatum")), p)
                             for p in b.producten):
                uit.append(_tr101(p, "StopProduct", f"ToewijzingNummer {_nummer(p)}, Product, "
                                  "Begindatum, RedenBeeindiging, Einddatum"))
    else:
        if len(b.clienten) > 1:
            for c in _dubbel((c.get("Bsn"), c) for c in b.clienten):
                uit.append(_tr101(c, "Client", "Bsn"))
        if len(b.prestaties) > 1:
            for p in _dubbel(((i, p.get("ProductReferentie/ReferentieNummer"),
                               p.get("ProductReferentie/VorigReferentieNummer")), p)
                             for i, p in b.prestaties):
                uit.append(_tr101(p, "Prestatie", f"ReferentieNummer "
                                  f"{p.get('ProductReferentie/ReferentieNummer')} within the same "
                                  "Client"))


# -- JW301: Client, Relatie, Contact ----------------------------------------------------------


def cs050(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS050: als Partnernaam gevuld is, dan NaamGebruik 1, 2, 3 of 4; anders 1 of 6."""
    for persoon, _ in b.personen:
        gebruik = persoon.get("Naam/NaamGebruik")
        if gebruik is None:
            continue
        partner = "Naam/Partnernaam" in persoon
        toegestaan = ("1", "2", "3", "4") if partner else ("1", "6")
        if gebruik not in toegestaan:
            uit.append(Bevinding("CS050", _pad(persoon, "Naam/NaamGebruik"),
                                 f"NaamGebruik {gebruik} {'with' if partner else 'without'} a "
                                 f"Partnernaam; allowed are {', '.join(toegestaan)}"))


def cs318(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS318: NaamGebruik 6 (niet-natuurlijk persoon) niet vullen (bij de Client)."""
    if b.client is not None and b.client.get("Naam/NaamGebruik") == "6":
        uit.append(Bevinding("CS318", _pad(b.client, "Naam/NaamGebruik"),
                             "NaamGebruik 6 (niet-natuurlijk persoon) is not allowed for a Client"))


def cd007(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD007: Taal verplicht als Communicatie/Vorm 1 (tolk taal) is, anders leeg laten."""
    if b.client is None or "Communicatie" not in b.client:
        return
    vorm, taal = b.client.get("Communicatie/Vorm"), "Communicatie/Taal" in b.client
    if vorm == "1" and not taal:
        uit.append(Bevinding("CD007", _pad(b.client, "Communicatie/Taal"),
                             "Taal is missing while Vorm is 1 (tolk taal)"))
    elif vorm != "1" and taal:
        uit.append(Bevinding("CD007", _pad(b.client, "Communicatie/Taal"),
                             f"Taal is filled while Vorm is {vorm}; leave it empty unless Vorm is 1"))


def cd005(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD005: LandCode verplicht als Postcode gevuld is, anders leeg laten."""
    for c in b.contacten:
        postcode, land = c.get("Adres/Postcode"), c.get("Adres/LandCode")
        if (postcode is None) != (land is None):
            uit.append(Bevinding("CD005", _pad(c, "Adres/LandCode"),
                                 "LandCode is missing while Postcode is filled" if land is None
                                 else "LandCode is filled while Postcode is empty"))


def cd009(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD009: Periode alleen vullen als Soort adres 04 (tijdelijk adres) is."""
    for c in b.contacten:
        if "Periode" in c and c.get("Soort") != "04":
            uit.append(Bevinding("CD009", _pad(c, "Periode"), f"Periode is filled for Soort "
                                 f"{c.get('Soort')}; only a 04 (tijdelijk adres) may have one"))


def cd025(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD025: Huis verplicht als Adres/LandCode NL (Nederland) is."""
    for c in b.contacten:
        if c.get("Adres/LandCode") == "NL" and "Adres/Huis" not in c:
            uit.append(Bevinding("CD025", _pad(c, "Adres/Huis"), "Huis is missing in a Dutch address"))


_SOORT_ADRES = {"01": "BRP-adres", "03": "verblijfadres"}


def cd034(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD034: Postcode verplicht als Soort adres 01 (BRP-adres) of 03 (verblijfadres) is."""
    for c in b.contacten:
        soort = c.get("Soort")
        if soort in _SOORT_ADRES and c.get("Adres/Postcode") is None:
            uit.append(Bevinding("CD034", _pad(c, "Adres/Postcode"),
                                 f"an address of Soort {soort} ({_SOORT_ADRES[soort]}) has no Postcode"))


def cs089(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS089: als LandCode NL is, moet Postcode het formaat van een Nederlandse postcode hebben."""
    for c in b.contacten:
        postcode = c.get("Adres/Postcode")
        if c.get("Adres/LandCode") == "NL" and postcode is not None \
                and not _NL_POSTCODE.fullmatch(str(postcode)):
            uit.append(Bevinding("CS089", _pad(c, "Adres/Postcode"),
                                 "the Postcode of a Dutch address is not four digits (the first not "
                                 "0) and two capital letters"))


def tr006(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR006: een Contact bevat Telefoon en/of de combinatie Huis en Postcode."""
    for c in b.contacten:
        if "Telefoon" not in c and ("Adres/Huis" not in c or c.get("Adres/Postcode") is None):
            uit.append(Bevinding("TR006", _pad(c), "the Contact has neither Telefoon nor both Huis "
                                 "and Postcode"))


def tr061(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR061: bij een Client minimaal één Adres met Soort 01 (BRP), 02 (correspondentie) of 03
    (verblijf)."""
    if b.client is not None and not any(c.get("Soort") in ("01", "02", "03")
                                        for c in b.client_contacten):
        uit.append(Bevinding("TR061", _pad(b.client, "Contactgegevens"),
                             "the Client has no Contact of Soort 01, 02 or 03"))


# -- JW301: ToegewezenProduct -----------------------------------------------------------------


def cd041(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD041: Omvang verplicht als Code in Product gevuld is."""
    for p in b.producten:
        code = p.get("Product/Code")
        if code is not None and "Omvang" not in p:
            uit.append(Bevinding("CD041", _pad(p, "Omvang"), f"Omvang is missing for product code {code}"))


def cd075(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD075: Einddatum verplicht als Budget gevuld is."""
    for p in b.producten:
        if "Budget" in p and "Einddatum" not in p:
            uit.append(Bevinding("CD075", _pad(p, "Einddatum"),
                                 "Einddatum is missing while Budget is filled"))


def cd076(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD076: Einddatum verplicht als Frequentie 2 (per week) is."""
    for p in b.producten:
        if p.get("Omvang/Frequentie") == "2" and "Einddatum" not in p:
            uit.append(Bevinding("CD076", _pad(p, "Einddatum"),
                                 "Einddatum is missing while Frequentie is 2 (per week)"))


def cd077(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD077: Omvang leeg laten als Budget gevuld is."""
    for p in b.producten:
        if "Budget" in p and "Omvang" in p:
            uit.append(Bevinding("CD077", _pad(p, "Omvang"), "Omvang is filled while Budget is filled"))


def cd078(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD078: Budget leeg laten als Omvang gevuld is."""
    for p in b.producten:
        if "Omvang" in p and "Budget" in p:
            uit.append(Bevinding("CD078", _pad(p, "Budget"), "Budget is filled while Omvang is filled"))


def cd079(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD079: Product verplicht als Budget leeg is."""
    for p in b.producten:
        if "Budget" not in p and "Product" not in p:
            uit.append(Bevinding("CD079", _pad(p, "Product"), "Product is missing while Budget is empty"))


def cd080(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD080: Omvang leeg laten als Code in Product leeg is en Einddatum na 31-12-2020 of leeg."""
    for p in b.producten:
        if "Omvang" in p and p.get("Product/Code") is None:
            eind = _datum(p.get("Einddatum"))
            if eind is None or eind > _NA_2020:
                uit.append(Bevinding("CD080", _pad(p, "Omvang"),
                                     "Omvang is filled for a product without Code (a non-specific "
                                     "allocation ending after 2020 has no Omvang)"))


def cs003(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS003: Einddatum groter dan of gelijk aan de Begindatum (of Ingangsdatum) van de periode
    (ToegewezenProduct; Contact/Periode)."""
    for p in b.producten:
        ingang, eind = _datum(p.get("Ingangsdatum")), _datum(p.get("Einddatum"))
        if ingang is not None and eind is not None and eind < ingang:
            uit.append(Bevinding("CS003", _pad(p, "Einddatum"), f"Einddatum {eind.isoformat()} lies "
                                 f"before Ingangsdatum {ingang.isoformat()}"))
    for c in b.contacten:
        begin, eind = _datum(c.get("Periode/Begindatum")), _datum(c.get("Periode/Einddatum"))
        if begin is not None and eind is not None and eind < begin:
            uit.append(Bevinding("CS003", _pad(c, "Periode/Einddatum"),
                                 "the Einddatum of the Periode lies before its Begindatum"))


def cs335(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS335: RedenWijziging 13 (verwijderd) alleen als Ingangsdatum gelijk is aan Einddatum."""
    for p in b.producten:
        if p.get("RedenWijziging") == "13" and p.get("Einddatum") != p.get("Ingangsdatum"):
            uit.append(Bevinding("CS335", _pad(p, "RedenWijziging"),
                                 "RedenWijziging 13 (verwijderd) while Einddatum differs from "
                                 "Ingangsdatum"))


def cs336(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS336: RedenWijziging 01 (administratieve correctie, vervallen) niet gebruiken."""
    for p in b.producten:
        if p.get("RedenWijziging") == "01":
            uit.append(Bevinding("CS336", _pad(p, "RedenWijziging"),
                                 "RedenWijziging 01 (administratieve correctie) is no longer used"))


def cs338(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS338: als Eenheid 14, 16, 83 of 84 is en Einddatum na 31-12-2020 of leeg, dan Frequentie
    2, 4 of 6."""
    for p in b.producten:
        eenheid, frequentie = p.get("Omvang/Eenheid"), p.get("Omvang/Frequentie")
        if eenheid not in ("14", "16", "83", "84") or frequentie in ("2", "4", "6"):
            continue
        eind = _datum(p.get("Einddatum"))
        if eind is None or eind > _NA_2020:
            uit.append(Bevinding("CS338", _pad(p, "Omvang/Frequentie"),
                                 f"Frequentie {frequentie} with Eenheid {eenheid}; allowed are 2 (per "
                                 "week), 4 (per maand) or 6 (totaal binnen geldigheidsduur)"))


def _overlapt(a: tuple[object, object], b: tuple[object, object]) -> bool:
    """Whether two products count as the same for TR302: on Code, else on Categorie; a product
    without Categorie is the same as any other."""
    (categorie, code), (categorie2, code2) = a, b
    if categorie is None or categorie2 is None:
        return True
    if code is None or code2 is None:
        return categorie == categorie2
    return code == code2


def tr302(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR302: een Product mag alleen vaker in een toewijzingsbericht voorkomen als de
    zorgperiodes niet overlappen (op Code; zonder Code op Categorie; zonder Product met geen
    enkel ander); verwijderde toewijzingen (Einddatum = Ingangsdatum, reden 13 of 01) tellen
    niet mee."""
    if len(b.producten) < 2:
        return
    levend: list[tuple[Velden, tuple[object, object], date, date]] = []
    for p in b.producten:
        ingang, eind = _datum(p.get("Ingangsdatum")), _datum(p.get("Einddatum"))
        if ingang is None or (eind == ingang and p.get("RedenWijziging") in ("13", "01")):
            continue
        product = _product(p)
        eind = eind or date.max
        if any(ingang <= eind2 and ingang2 <= eind and _overlapt(product, product2)
               for _, product2, ingang2, eind2 in levend):
            uit.append(Bevinding("TR302", _pad(p), "its period overlaps that of an earlier "
                                 "ToegewezenProduct for the same product (code, or category without "
                                 "code)"))
        levend.append((p, product, ingang, eind))


# -- JW305, JW307 -----------------------------------------------------------------------------


def cs058(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS058: StatusAanlevering 1 (eerste aanlevering) of 3 (verwijderen aanlevering)."""
    for p in b.producten:
        status = p.get("StatusAanlevering")
        if status not in ("1", "3"):
            uit.append(Bevinding("CS058", _pad(p, "StatusAanlevering"),
                                 f"StatusAanlevering {status}; allowed are 1 and 3"))


def tr018(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR018: Einddatum moet groter dan of gelijk zijn aan Begindatum (JW307)."""
    for p in b.producten:
        begin, eind = _datum(p.get("Begindatum")), _datum(p.get("Einddatum"))
        if begin is not None and eind is not None and eind < begin:
            uit.append(Bevinding("TR018", _pad(p, "Einddatum"), f"Einddatum {eind.isoformat()} lies "
                                 f"before Begindatum {begin.isoformat()}"))


# -- JW323, JW325 -----------------------------------------------------------------------------


def cd060(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD060: VorigReferentieNummer verplicht als DebetCredit van het IngediendBedrag C (credit)
    is, anders leeg laten."""
    for _, p in b.prestaties:
        credit = p.get("IngediendBedrag/DebetCredit") == "C"
        vorig = "ProductReferentie/VorigReferentieNummer" in p
        if credit != vorig:
            uit.append(Bevinding("CD060", _pad(p, "ProductReferentie/VorigReferentieNummer"),
                                 "a credit prestatie without VorigReferentieNummer" if credit
                                 else "a debit prestatie with a VorigReferentieNummer"))


def cd087(b: _Lezing, uit: list[Bevinding]) -> None:
    """CD087: ProductTarief verplicht als Eenheid ongelijk is aan 83 (euro's), anders leeg."""
    for _, p in b.prestaties:
        eenheid, tarief = p.get("Eenheid"), "ProductTarief" in p
        if (eenheid != "83") != tarief:
            uit.append(Bevinding("CD087", _pad(p, "ProductTarief"),
                                 f"ProductTarief is missing for Eenheid {eenheid}" if not tarief
                                 else "ProductTarief is filled for Eenheid 83 (euro's)"))


def _perioden(b: _Lezing, declaratieperiode: bool) -> list[tuple[Velden, str, str]]:
    """Each period as (its element's fields, the key of its Begindatum, of its Einddatum)."""
    perioden = [(p, "ProductPeriode/Begindatum", "ProductPeriode/Einddatum") for _, p in b.prestaties]
    if declaratieperiode and b.declaratie is not None:
        perioden.insert(0, (b.declaratie, "DeclaratiePeriode/Begindatum",
                            "DeclaratiePeriode/Einddatum"))
    return perioden


def cs100(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS100: DeclaratiePeriode en ProductPeriode vullen met datums vanaf 01-01-2021."""
    for velden, begin, eind in _perioden(b, True):
        for sleutel in (begin, eind):
            datum = _datum(velden.get(sleutel))
            if datum is not None and datum < _VANAF_2021:
                uit.append(Bevinding("CS100", _pad(velden, sleutel), f"{sleutel.rpartition('/')[2]} "
                                     f"{datum.isoformat()} lies before 2021-01-01"))


def cs319(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS319: DeclaratieNummer aaneengesloten vullen met cijfers en/of letters."""
    nummer = b.declaratie.get("DeclaratieNummer") if b.declaratie else None
    if b.declaratie is not None and nummer is not None and not _ALFANUMERIEK.fullmatch(str(nummer)):
        uit.append(Bevinding("CS319", _pad(b.declaratie, "DeclaratieNummer"),
                             f"DeclaratieNummer {nummer!r} holds other characters than digits and letters"))


def cs325(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS325: als (Totaal)Bedrag 0 is, dan DebetCredit D (debet)."""
    # (fields, amount, key of the amount, key of its DebetCredit)
    bedragen = [(p, "IngediendBedrag", "IngediendBedrag/Bedrag", "IngediendBedrag/DebetCredit")
                for _, p in b.prestaties]
    if b.declaratie is not None:
        bedragen[:0] = [(b.declaratie, naam, f"{naam}/TotaalBedrag", f"{naam}/DebetCredit")
                        for naam in ("TotaalIngediendBedrag", "TotaalToegekendBedrag")]
    for velden, bedrag, sleutel, teken in bedragen:
        if velden.get(teken) == "C" and _geheel(velden.get(sleutel)) == 0:
            uit.append(Bevinding("CS325", _pad(velden, teken),
                                 f"{bedrag} 0 with DebetCredit C; an amount of 0 is D"))


def cs337(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS337: Einddatum van de ProductPeriode in dezelfde kalendermaand en hetzelfde jaar als de
    Begindatum."""
    for _, p in b.prestaties:
        begin, eind = _datum(p.get("ProductPeriode/Begindatum")), _datum(p.get("ProductPeriode/Einddatum"))
        if begin is not None and eind is not None and not _in_zelfde_maand(begin, eind):
            uit.append(Bevinding("CS337", _pad(p, "ProductPeriode/Einddatum"),
                                 f"ProductPeriode {begin.isoformat()}..{eind.isoformat()} spans more "
                                 "than one calendar month"))


def cs339(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS339: als Eenheid 83 (euro's) is, moet IngediendBedrag gelijk zijn aan GeleverdVolume."""
    for _, p in b.prestaties:
        if p.get("Eenheid") != "83":
            continue
        cent, volume = _geheel(p.get("IngediendBedrag/Bedrag")), _geheel(p.get("GeleverdVolume"))
        if cent is not None and volume is not None and cent != volume:
            uit.append(Bevinding("CS339", _pad(p, "IngediendBedrag/Bedrag"),
                                 f"IngediendBedrag {cent} differs from GeleverdVolume {volume} "
                                 "for Eenheid 83 (euro's)"))


def cs340(b: _Lezing, uit: list[Bevinding]) -> None:
    """CS340: de DeclaratiePeriode is exact gelijk aan één hele kalendermaand."""
    if b.declaratie is None:
        return
    begin = _datum(b.declaratie.get("DeclaratiePeriode/Begindatum"))
    eind = _datum(b.declaratie.get("DeclaratiePeriode/Einddatum"))
    if begin is None or eind is None:
        return
    volgende = date(begin.year + begin.month // 12, begin.month % 12 + 1, 1)
    if begin.day != 1 or eind != date.fromordinal(volgende.toordinal() - 1):
        uit.append(Bevinding("CS340", _pad(b.declaratie, "DeclaratiePeriode"),
                             f"DeclaratiePeriode {begin.isoformat()}..{eind.isoformat()} is not "
                             "exactly one calendar month"))


def tr137(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR137: Einddatum van de periode groter dan of gelijk aan de Begindatum én niet groter dan
    de Dagtekening van het bericht (ProductPeriode; ook DeclaratiePeriode in JW323)."""
    for velden, begin_sleutel, eind_sleutel in _perioden(b, b.bericht == "jw323"):
        begin = _datum(velden.get(begin_sleutel))
        eind = _datum(velden.get(eind_sleutel))
        if eind is None:
            continue
        if begin is not None and eind < begin:
            uit.append(Bevinding("TR137", _pad(velden, eind_sleutel), f"Einddatum "
                                 f"{eind.isoformat()} lies before Begindatum {begin.isoformat()}"))
        elif b.dagtekening is not None and eind > b.dagtekening:
            uit.append(Bevinding("TR137", _pad(velden, eind_sleutel),
                                 f"Einddatum {eind.isoformat()} lies after the Dagtekening "
                                 f"{b.dagtekening.isoformat()}"))


def tr315(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR315: VorigReferentieNummer van de Prestatie moet uniek zijn in het bericht."""
    vorige = [(vorig, p) for _, p in b.prestaties
              if (vorig := p.get("ProductReferentie/VorigReferentieNummer")) is not None]
    for p in _dubbel(vorige):
        uit.append(Bevinding("TR315", _pad(p, "ProductReferentie/VorigReferentieNummer"),
                             f"VorigReferentieNummer {p.get('ProductReferentie/VorigReferentieNummer')} "
                             "occurs more than once in the message"))


def tr316(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR316: debetregels mogen niet in hetzelfde bericht gecrediteerd worden:
    VorigReferentieNummer niet gelijk aan een ReferentieNummer in hetzelfde bericht."""
    nummers = {p.get("ProductReferentie/ReferentieNummer") for _, p in b.prestaties}
    for _, p in b.prestaties:
        vorig = p.get("ProductReferentie/VorigReferentieNummer")
        if vorig is not None and vorig in nummers:
            uit.append(Bevinding("TR316", _pad(p, "ProductReferentie/VorigReferentieNummer"),
                                 f"credits prestatie {vorig}, which is declared in the same message"))


def tr335(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR335: Einddatum (ProductPeriode) mag niet meer dan 5 jaar voor DeclaratieDagtekening
    liggen."""
    dagtekening = _datum(b.declaratie.get("DeclaratieDagtekening")) if b.declaratie else None
    if dagtekening is None:
        return
    grens = _jaren_terug(dagtekening, 5)
    for _, p in b.prestaties:
        eind = _datum(p.get("ProductPeriode/Einddatum"))
        if eind is not None and eind < grens:
            uit.append(Bevinding("TR335", _pad(p, "ProductPeriode/Einddatum"),
                                 f"Einddatum {eind.isoformat()} lies more than 5 years before "
                                 f"DeclaratieDagtekening {dagtekening.isoformat()}"))


def _som(b: _Lezing) -> int | None:
    """The signed sum of IngediendBedrag over the prestaties, None if one cannot be read."""
    som = 0
    for _, p in b.prestaties:
        bedrag = _met_teken(p, "IngediendBedrag")
        if bedrag is None:
            return None
        som += bedrag
    return som


def tr358(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR358: TotaalBedrag in TotaalIngediendBedrag is de som van Bedrag in IngediendBedrag van
    alle Prestaties (debet opgeteld, credit afgetrokken)."""
    if b.declaratie is None:
        return
    totaal, som = _met_teken(b.declaratie, "TotaalIngediendBedrag", "TotaalBedrag"), _som(b)
    if totaal is not None and som is not None and som != totaal:
        uit.append(Bevinding("TR358", _pad(b.declaratie, "TotaalIngediendBedrag"),
                             f"TotaalBedrag {totaal} (eurocent, credit negative) differs from the sum "
                             f"of the prestaties, {som}"))


def tr342(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR342: alleen afgewezen Prestaties in het antwoord: SOM(Prestatie.IngediendBedrag) =
    TotaalIngediendBedrag - TotaalToegekendBedrag; bij afkeur van de DeclaratieAntwoord zelf (een
    RetourCode anders dan 0200) is TotaalToegekendBedrag 0."""
    if b.declaratie is None:
        return
    ingediend = _met_teken(b.declaratie, "TotaalIngediendBedrag", "TotaalBedrag")
    toegekend = _met_teken(b.declaratie, "TotaalToegekendBedrag", "TotaalBedrag")
    afkeur = sorted(set(b.retourcodes) - {"0200"})
    if afkeur:
        if toegekend:
            uit.append(Bevinding("TR342", _pad(b.declaratie, "TotaalToegekendBedrag"),
                                 f"the declaration is rejected as a whole (RetourCode "
                                 f"{', '.join(afkeur)}) but TotaalToegekendBedrag is not 0"))
        return
    som = _som(b)
    if ingediend is not None and toegekend is not None and som is not None \
            and som != ingediend - toegekend:
        uit.append(Bevinding("TR342", _pad(b.declaratie, "TotaalToegekendBedrag"),
                             f"the rejected prestaties sum to {som} (eurocent, credit negative) but "
                             f"TotaalIngediendBedrag - TotaalToegekendBedrag is {ingediend - toegekend}"))


def tr416(b: _Lezing, uit: list[Bevinding]) -> None:
    """TR416 (binnen het bericht): een debet-Prestatie alleen als er voor dezelfde ProductPeriode,
    ProductCategorie, ProductCode en ToewijzingNummer niet al een debet-Prestatie is. Earlier
    messages are not seen here."""
    debet = [((i, p.get("ProductPeriode/Begindatum"), p.get("ProductPeriode/Einddatum"),
               p.get("ProductCategorie"), p.get("ProductCode"), _nummer(p)), p)
             for i, p in b.prestaties if p.get("IngediendBedrag/DebetCredit") == "D"]
    for p in _dubbel(debet):
        uit.append(Bevinding("TR416", _pad(p), f"a second debit prestatie for toewijzing {_nummer(p)}, "
                             "its product and ProductPeriode within the same Client"))


# -- registry and entry point -----------------------------------------------------------------

_ALLE = frozenset(_BERICHTEN)
_CLIENTBERICHTEN = frozenset({"jw301", "jw305", "jw307"})
_DECLARATIEBERICHTEN = frozenset({"jw323", "jw325"})
_301, _323 = frozenset({"jw301"}), frozenset({"jw323"})

REGELS: dict[str, tuple[frozenset[str], Regel]] = {
    "CD005": (_301, cd005), "CD007": (_301, cd007), "CD009": (_301, cd009),
    "CD025": (_301, cd025), "CD034": (_301, cd034), "CD041": (_301, cd041),
    "CD060": (_DECLARATIEBERICHTEN, cd060), "CD075": (_301, cd075), "CD076": (_301, cd076),
    "CD077": (_301, cd077), "CD078": (_301, cd078), "CD079": (_301, cd079),
    "CD080": (_301, cd080), "CD087": (_323, cd087),
    "CS002": (_ALLE, cs002), "CS003": (_301, cs003), "CS015": (_ALLE, cs015),
    "CS025": (_ALLE, cs025), "CS050": (_301, cs050), "CS058": (frozenset({"jw305", "jw307"}), cs058),
    "CS089": (_301, cs089), "CS100": (_323, cs100), "CS139": (_CLIENTBERICHTEN, cs139),
    "CS318": (_301, cs318), "CS319": (_323, cs319), "CS325": (_DECLARATIEBERICHTEN, cs325),
    "CS335": (_301, cs335), "CS336": (_301, cs336), "CS337": (_323, cs337),
    "CS338": (_301, cs338), "CS339": (_323, cs339), "CS340": (_323, cs340),
    "TR002": (_CLIENTBERICHTEN, tr002), "TR006": (_301, tr006), "TR018": (frozenset({"jw307"}), tr018),
    "TR061": (_301, tr061), "TR101": (_ALLE, tr101), "TR134": (_ALLE, tr134),
    "TR137": (_DECLARATIEBERICHTEN, tr137), "TR302": (_301, tr302), "TR315": (_323, tr315),
    "TR316": (_323, tr316), "TR335": (_323, tr335), "TR342": (frozenset({"jw325"}), tr342),
    "TR358": (_323, tr358), "TR416": (_323, tr416),
}

_PER_BERICHT: dict[str, tuple[Regel, ...]] = {
    bericht: tuple(f for berichten, f in REGELS.values() if bericht in berichten)
    for bericht in _BERICHTEN
}
# Rules that lees_bericht enforces itself, as rejections: on a message it accepted they cannot
# fail (the 11-proef of every Client's Bsn; a JW307 Einddatum before its Begindatum), so after
# it they are not run again (CS002 was a tenth of the rules' time on declarations).
DOOR_DE_PARSER = frozenset({"CS002", "TR018"})
_NA_DE_PARSER: dict[str, tuple[Regel, ...]] = {
    bericht: tuple(f for code, (berichten, f) in REGELS.items()
                   if bericht in berichten and code not in DOOR_DE_PARSER)
    for bericht in _BERICHTEN
}


def controleer(root: etree._Element, bericht: str, index: Index | None = None,
               plat: dict[etree._Element, Velden] | None = None, *,
               gelezen: bool = False) -> list[Bevinding]:
    """Every finding of the single-message iJw rules on one parsed message (`bericht` is its
    lower-case type, e.g. 'jw301'); an empty list when the message meets them all. `index`:
    the parser's child index of this tree, when it has one (it is added to, never changed);
    `plat`: the elements the parser read flat (events/ijw.py `Velden`), not read again.
    `gelezen`: lees_bericht accepted the message, so the rules it enforces are skipped."""
    regels = (_NA_DE_PARSER if gelezen else _PER_BERICHT).get(bericht)
    if not regels:
        return []
    lezing = _Lezing(root, bericht, index, plat)
    bevindingen: list[Bevinding] = []
    for regel in regels:
        regel(lezing, bevindingen)
    return bevindingen
