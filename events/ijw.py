"""iJw 3.2 messages as typed, validated values: the boundary between raw XML and the domain.

`lees_bericht` turns the bytes a backoffice published into one of five frozen dataclasses, or
raises `Afgewezen` with every problem it found (element path + what is wrong). It is a pure
function: the XSDs and the CBS register are passed in, nothing is read from the network.
Only what the flow figures and declarations need is kept; names, addresses, birth dates and
free-text comments are never copied out of the XML. The BSN stays wrapped in `Bsn` so that it
cannot end up in a repr, a log line or a reason; ingest replaces it by a pseudonym.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from lxml import etree

from events.gemeenten import GemeenteRegister

if TYPE_CHECKING:
    from events.kwaliteit import Bevinding

INGESTED = ("jw301", "jw305", "jw307", "jw323", "jw325")
_NAMESPACE = re.compile(r"^http://www\.istandaarden\.nl/ijw/3_2/(jw\d{3})/schema$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATE_BYTES = re.compile(rb">\s*(\d{4}-\d{2}-\d{2})\s*<")
_NINE_DIGITS = re.compile(r"(?<!\d)\d{9}(?!\d)")
# Nothing in a message is fetched or expanded: no DTD loaded, no entity resolved, no network;
# a message that declares a document type is refused before the parser sees it (_doctype).
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          dtd_validation=False, attribute_defaults=False, huge_tree=False)
_SPATIE = re.compile(rb"\s*")
GEEN_DTD = "DTD and entities are not allowed in iJw messages"
# The Jeugdwet and with it the iJw standard started on 1 January 2015: no message is older.
DAGTEKENING_VANAF = date(2015, 1, 1)
# A sender's clock or time zone may be a day ahead of ours; more than that is a wrong date.
DAGTEKENING_MARGE = timedelta(days=1)
REDENWIJZIGING_VERWIJDERD = "13"
T = TypeVar("T")


# -- values ---------------------------------------------------------------------------------


_VELDWAARDEN: dict[type, Callable[[object], tuple[object, ...]]] = {}


def _veldwaarden(cls: type) -> Callable[[object], tuple[object, ...]]:
    """The field values of a `_Waarde` subclass's object, read in C (operator.attrgetter)."""
    gevonden = _VELDWAARDEN.get(cls)
    if gevonden is None:
        gevonden = _VELDWAARDEN[cls] = _ophaler(cls.__dict__["__slots__"])
    return gevonden


def _ophaler(velden: tuple[str, ...]) -> Callable[[object], tuple[object, ...]]:
    if len(velden) == 1:
        haal = operator.attrgetter(velden[0])
        return lambda waarde: (haal(waarde),)
    return operator.attrgetter(*velden)


class _Waarde:
    """Base of the parsed values: pickled as their field values, because ingest validates in
    worker processes and unpickling a frozen slotted dataclass the default way (a
    `dataclasses.fields()` call per object) cost more than the validation it moved."""

    __slots__ = ()

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        return (type(self), _veldwaarden(type(self))(self))


@dataclass(frozen=True, slots=True)
class Bsn(_Waarde):
    """A burgerservicenummer; its repr never shows the number."""

    waarde: str = field(repr=False)

    def __str__(self) -> str:
        return "Bsn(***)"


@dataclass(frozen=True, slots=True)
class Product(_Waarde):
    categorie: str
    code: str | None


@dataclass(frozen=True, slots=True)
class BerichtKop(_Waarde):
    bericht: str
    afzender: str
    ontvanger: str
    identificatie: str
    dagtekening: date

    GEMEENTE_IS_AFZENDER: ClassVar[frozenset[str]] = frozenset({"jw301", "jw325"})

    @property
    def gemeentecode(self) -> str:
        """The gemeente the message concerns: the sender of a JW301/JW325, else the receiver."""
        return self.afzender if self.bericht in self.GEMEENTE_IS_AFZENDER else self.ontvanger

    @property
    def aanbieder(self) -> str:
        return self.ontvanger if self.bericht in self.GEMEENTE_IS_AFZENDER else self.afzender

    @property
    def msg_id(self) -> str:
        """BerichtIdentificatie as JetStream's de-duplication id (Nats-Msg-Id)."""
        return f"{self.afzender}-{self.identificatie}-{self.dagtekening.isoformat()}"

    @property
    def subject(self) -> str:
        return f"ijw.{self.gemeentecode}.{self.bericht}"


@dataclass(frozen=True, slots=True)
class Omvang(_Waarde):
    volume: int
    eenheid: str
    frequentie: str


@dataclass(frozen=True, slots=True)
class ToegewezenProduct(_Waarde):
    toewijzingnummer: str
    product: Product | None
    toewijzingsdatum: date
    toewijzingstijd: time
    ingangsdatum: date
    einddatum: date | None
    reden_wijziging: str | None
    omvang: Omvang | None
    budget: int | None

    @property
    def is_verwijdering(self) -> bool:
        """The in-band deletion form: RedenWijziging 13 with Einddatum == Ingangsdatum."""
        return (
            self.reden_wijziging == REDENWIJZIGING_VERWIJDERD
            and self.einddatum == self.ingangsdatum
        )


@dataclass(frozen=True, slots=True)
class Toewijzingbericht(_Waarde):
    """JW301: a snapshot of all current toewijzingen of one client at one provider."""

    kop: BerichtKop
    bsn: Bsn
    producten: tuple[ToegewezenProduct, ...]


@dataclass(frozen=True, slots=True)
class StartProduct(_Waarde):
    toewijzingnummer: str
    product: Product | None
    toewijzing_ingangsdatum: date | None
    begindatum: date
    status_aanlevering: str


@dataclass(frozen=True, slots=True)
class Startbericht(_Waarde):
    """JW305: actual start of care."""

    kop: BerichtKop
    bsn: Bsn
    producten: tuple[StartProduct, ...]


@dataclass(frozen=True, slots=True)
class StopProduct(_Waarde):
    toewijzingnummer: str
    product: Product | None
    toewijzing_ingangsdatum: date | None
    begindatum: date
    einddatum: date
    reden_beeindiging: str
    status_aanlevering: str


@dataclass(frozen=True, slots=True)
class Stopbericht(_Waarde):
    """JW307: actual stop of care."""

    kop: BerichtKop
    bsn: Bsn
    producten: tuple[StopProduct, ...]


@dataclass(frozen=True, slots=True)
class Prestatie(_Waarde):
    bsn: Bsn
    referentienummer: str
    vorig_referentienummer: str | None
    toewijzingnummer: str
    product: Product
    begindatum: date
    einddatum: date
    geleverd_volume: int
    eenheid: str
    tarief: int | None
    bedrag: int  # eurocent, negative for credit
    retourcodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Declaratiebericht(_Waarde):
    """JW323: delivered care per client per month."""

    kop: BerichtKop
    declaratienummer: str
    periode_begin: date
    periode_eind: date
    totaal_bedrag: int
    prestaties: tuple[Prestatie, ...]


@dataclass(frozen=True, slots=True)
class Antwoordbericht(_Waarde):
    """JW325: the gemeente's answer to a declaration, listing rejected lines."""

    kop: BerichtKop
    declaratie_identificatie: str
    declaratie_dagtekening: date
    declaratienummer: str | None
    retourcodes: tuple[str, ...]
    totaal_ingediend: int | None
    totaal_toegekend: int | None
    prestaties: tuple[Prestatie, ...]


Bericht = Toewijzingbericht | Startbericht | Stopbericht | Declaratiebericht | Antwoordbericht


@dataclass(frozen=True, slots=True)
class Probleem(_Waarde):
    element: str
    probleem: str

    def __str__(self) -> str:
        return f"{self.element}: {self.probleem}"


class Afgewezen(Exception):
    """The message is not ingested; `problemen` say which element is wrong and how."""

    def __init__(self, problemen: list[Probleem]) -> None:
        self.problemen = problemen
        super().__init__(self.reden)

    @property
    def reden(self) -> str:
        return "; ".join(str(p) for p in self.problemen)

    def __reduce__(self) -> tuple[type[Afgewezen], tuple[list[Probleem]]]:
        # rebuilt from its problems (not from args, the joined reason) when it comes back
        # from a validation worker process
        return (Afgewezen, (self.problemen,))


# -- BSN --------------------------------------------------------------------------------------


def elfproef(bsn: str) -> bool:
    """The BSN 11-proef: 9 digits, weights 9..2 and -1, sum divisible by 11 (and not zero)."""
    if len(bsn) != 9 or not bsn.isdigit():
        return False
    digits = [int(c) for c in bsn]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0 and total != 0


def redact(text: str) -> str:
    """Hide anything that could be a BSN: every 9-digit number that passes the 11-proef."""
    return _NINE_DIGITS.sub(lambda m: "[bsn]" if elfproef(m.group()) else m.group(), text)


# -- XSD --------------------------------------------------------------------------------------


class XsdSchemas:
    """The official iJw XSDs of one directory, compiled on first use per message type."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._compiled: dict[str, etree.XMLSchema | None] = {}

    def voor(self, bericht: str) -> etree.XMLSchema | None:
        if bericht not in self._compiled:
            path = self.directory / f"{bericht.upper()}.xsd"
            self._compiled[bericht] = (
                etree.XMLSchema(etree.parse(str(path))) if path.exists() else None
            )
        return self._compiled[bericht]

    def __getstate__(self) -> dict[str, object]:
        # compiled schemas do not pickle: a validation worker process compiles its own
        return {"directory": self.directory, "_compiled": {}}


# Elements whose values may appear in a rejection reason: message, product and allocation
# data. Any other value (a birth date, a name, a phone number) is masked, because the XSD
# validator quotes the offending value and reasons are shown to operators and logged.
ZONDER_PERSOONSGEGEVENS = frozenset({
    "BerichtCode", "BerichtVersie", "BerichtSubversie", "Afzender", "Ontvanger",
    "Identificatie", "Dagtekening", "BasisschemaXsdVersie", "BerichtXsdVersie", "XsltVersie",
    "ToewijzingNummer", "Categorie", "Code", "ProductCategorie", "ProductCode",
    "Toewijzingsdatum", "Toewijzingstijd", "Ingangsdatum", "Einddatum", "Begindatum",
    "ToewijzingIngangsdatum", "ToewijzingEinddatum", "RedenWijziging", "RedenBeeindiging",
    "StatusAanlevering", "Bedrag", "TotaalBedrag", "DebetCredit", "GeleverdVolume", "Eenheid",
    "ProductTarief", "Volume", "Frequentie", "Budget", "DeclaratieNummer", "ReferentieNummer",
    "VorigReferentieNummer", "RetourCode", "DeclaratieDagtekening",
})


def _element_naam(pad: str) -> str:
    return re.sub(r"\[\d+\]$", "", pad.rsplit("/", 1)[-1])


def _zonder_waarden(pad: str, tekst: str) -> str:
    """Mask quoted values in a reason unless the element carries no personal data."""
    if _element_naam(pad) in ZONDER_PERSOONSGEGEVENS:
        return tekst
    return re.sub(r"(Element )?'[^']*'",
                  lambda m: m.group(0) if m.group(1) else "'…'", tekst)


def _xsd_problemen(schema: etree.XMLSchema, document: etree._ElementTree) -> list[Probleem]:
    if schema.validate(document):
        return []
    problemen = []
    for error in schema.error_log:
        message = re.sub(r"\{[^}]*\}", "", error.message)
        element = _leesbaar_pad(error.path) or f"line {error.line}"
        problemen.append(Probleem(element, f"not valid against the XSD: {message}"))
    return problemen


# -- parsing ----------------------------------------------------------------------------------


def _leesbaar_pad(path: str | None) -> str:
    return re.sub(r"[\w-]+:", "", path or "").lstrip("/")


def bericht_type(root: etree._Element) -> str | None:
    match = _NAMESPACE.match(etree.QName(root).namespace or "")
    return match.group(1) if match else None


# element -> ({local name: its first child of that name}, {local name: that child's stripped
# text, None when empty}): one pass over an element's children, made on first use and shared by
# the parser and the rules (events/kwaliteit.py), so neither walks the children or reads and
# strips a text the other has already (lxml makes a new string on each `.text`).
Kinderen = tuple[dict[str, etree._Element], dict[str, str | None]]
Index = dict[etree._Element, Kinderen]


_LOKALE_NAAM: dict[object, str] = {}  # qualified tag -> local name: the iJw messages have ~200


def kinderen(element: etree._Element, index: Index) -> Kinderen:
    """The children of `element` by local name and their texts, from `index` or read into it."""
    gevonden = index.get(element)
    if gevonden is None:
        elementen: dict[str, etree._Element] = {}
        teksten: dict[str, str | None] = {}
        for kind in element:  # a plain walk: a tag filter costs more to set up than the children
            tag = kind.tag
            naam = _LOKALE_NAAM.get(tag)
            if naam is None:
                if not isinstance(tag, str):  # a comment or processing instruction
                    continue
                naam = tag.rpartition("}")[2]
                if len(_LOKALE_NAAM) < 4096:  # bounded: without XSDs any tag can come in
                    _LOKALE_NAAM[tag] = naam
            if naam not in elementen:
                elementen[naam] = kind
                tekst = kind.text
                teksten[naam] = (tekst.strip() or None) if tekst else None
        gevonden = index[element] = (elementen, teksten)
    return gevonden


# One element of a class as a flat dict: local name -> value for each child in its `Spec`,
# "Samengesteld/Kind" -> value for the children it reads of a composite, True for any other
# child (its presence is all a reader asks); "" holds the element itself (for a path). A value
# is the stripped text (None when empty), a `date` when it reads as one. The parser reads the
# classes it shares with the rules (events/kwaliteit.py) this way and the rules take its dicts:
# each read and converted once (the rules reading them again was most of the rules' cost).
Velden = dict[str, Any]
# child -> None (its value is read) or {grandchild read: its key "Child/Grandchild"}
Spec = dict[str, dict[str, str] | None]


def spec(**kinderen: tuple[str, ...] | None) -> Spec:
    return {naam: None if kleinen is None else {k: f"{naam}/{k}" for k in kleinen}
            for naam, kleinen in kinderen.items()}


def waarde(tekst: str | None) -> str | date | None:
    """A stripped text as a flat reader reads it (see `Velden`)."""
    if tekst is not None and len(tekst) == 10 and tekst[4] == "-" and tekst[7] == "-":
        try:
            return date.fromisoformat(tekst)
        except ValueError:  # the parser rejects such a message; here it is no date
            return None
    return tekst


def lees_velden(el: etree._Element, lees: Spec, index: Index) -> Velden:
    """`el` as a flat dict of the children `lees` names, from the child index."""
    elementen, teksten = index.get(el) or kinderen(el, index)
    gelezen: Velden = dict.fromkeys(elementen, True)
    gelezen[""] = el
    for naam, kleinen in lees.items():
        kind = elementen.get(naam)
        if kind is None:
            continue
        if kleinen is None:
            gelezen[naam] = waarde(teksten[naam])
            continue
        kleinkinderen = index.get(kind) or kinderen(kind, index)
        for kleinnaam, sleutel in kleinen.items():
            if kleinnaam in kleinkinderen[0]:
                gelezen[sleutel] = waarde(kleinkinderen[1][kleinnaam])
    return gelezen


_PERIODE = ("Begindatum", "Einddatum")
_TOTAAL = ("TotaalBedrag", "DebetCredit")
_PRODUCTCODE = ("Categorie", "Code")
# What the parser and the rules (events/kwaliteit.py) read of each class they both read.
HEADER = spec(Afzender=None, Ontvanger=None, BerichtVersie=None, BerichtSubversie=None,
              BerichtIdentificatie=("Identificatie", "Dagtekening"),
              DeclaratieIdentificatie=("Identificatie", "Dagtekening"))
PRODUCT: dict[str, Spec] = {  # ToegewezenProduct, StartProduct, StopProduct
    "jw301": spec(ToewijzingNummer=None, Toewijzingsdatum=None, Toewijzingstijd=None,
                  Ingangsdatum=None, Einddatum=None, RedenWijziging=None, Product=_PRODUCTCODE,
                  Omvang=("Eenheid", "Frequentie"), Budget=None),
    "jw305": spec(ToewijzingNummer=None, Product=_PRODUCTCODE, ToewijzingIngangsdatum=None,
                  Begindatum=None, StatusAanlevering=None),
    "jw307": spec(ToewijzingNummer=None, Product=_PRODUCTCODE, ToewijzingIngangsdatum=None,
                  Begindatum=None, Einddatum=None, RedenBeeindiging=None, StatusAanlevering=None),
}
DECLARATIE = spec(DeclaratieNummer=None, DeclaratieDagtekening=None, DeclaratiePeriode=_PERIODE,
                  TotaalIngediendBedrag=_TOTAAL, TotaalToegekendBedrag=_TOTAAL)  # and its antwoord
PRESTATIE = spec(ProductReferentie=("ReferentieNummer", "VorigReferentieNummer"),
                 ToewijzingNummer=None, ProductCategorie=None, ProductCode=None,
                 ProductPeriode=_PERIODE, GeleverdVolume=None, Eenheid=None, ProductTarief=None,
                 IngediendBedrag=("Bedrag", "DebetCredit"))


class _Lezer:
    """Reads typed fields from one document and collects problems instead of stopping at one."""

    def __init__(self, document: etree._ElementTree) -> None:
        self.document = document
        self.problemen: list[Probleem] = []
        self.kinderen: Index = {}  # shared with the rules (events/kwaliteit.py)
        self.velden: dict[etree._Element, Velden] = {}  # the flat reads, shared with the rules

    def pad(self, element: etree._Element) -> str:
        return _leesbaar_pad(self.document.getpath(element))

    def probleem(self, element: etree._Element | str, tekst: str) -> None:
        where = element if isinstance(element, str) else self.pad(element)
        self.problemen.append(Probleem(where, _zonder_waarden(where, tekst)))

    def element(self, parent: etree._Element, pad: str) -> etree._Element | None:
        """The first element at `pad` (local names, any namespace): a walk over child indexes
        built once per element, because lxml's `{*}` path search per field was most of the
        time spent reading a message."""
        element = parent
        index = self.kinderen
        for naam in _stappen(pad):
            gevonden = (index.get(element) or kinderen(element, index))[0].get(naam)
            if gevonden is None:
                return None
            element = gevonden
        return element

    def tekst(self, parent: etree._Element, pad: str, *, verplicht: bool = True) -> str | None:
        ouder, naam = _ouder_en_naam(pad)
        element = self.element(parent, ouder) if ouder else parent
        waarde = None if element is None else \
            (self.kinderen.get(element) or kinderen(element, self.kinderen))[1].get(naam)
        if waarde is None and verplicht:
            self.probleem(f"{self.pad(parent)}/{pad}", "required element is missing")
        return waarde

    def _omgezet(self, parent: etree._Element, pad: str, zet_om: Callable[[str], T], wat: str,
                 *, verplicht: bool = True) -> T | None:
        """Read a field and convert it; a value that does not convert is a problem, not a crash."""
        waarde = self.tekst(parent, pad, verplicht=verplicht)
        if waarde is None:
            return None
        try:
            return zet_om(waarde)
        except ValueError:
            self.probleem(f"{self.pad(parent)}/{pad}", f"'{waarde}' is not {wat}")
            return None

    def nummer(self, parent: etree._Element, pad: str, *, verplicht: bool = True) -> str | None:
        """A ToewijzingNummer as its canonical integer text: '012' and '+12' are toewijzing 12."""
        return self._omgezet(parent, pad, lambda w: str(_geheel(w, _NUMMER)),
                             "a whole number", verplicht=verplicht)

    def datum(self, parent: etree._Element, pad: str, *, verplicht: bool = True) -> date | None:
        return self._omgezet(parent, pad, date.fromisoformat, "a calendar date", verplicht=verplicht)

    def tijd(self, parent: etree._Element, pad: str) -> time | None:
        return self._omgezet(parent, pad, time.fromisoformat, "a time of day")

    def geheel(self, parent: etree._Element, pad: str, *, verplicht: bool = True) -> int | None:
        return self._omgezet(parent, pad, lambda w: _geheel(w, _CIJFERS), "a whole number",
                             verplicht=verplicht)

    def bedrag(self, parent: etree._Element, pad: str, bedrag: str = "Bedrag") -> int | None:
        """An amount in integer eurocent, negative when DebetCredit is C."""
        element = self.element(parent, pad)
        if element is None:
            return None
        cent = self.geheel(element, bedrag)
        teken = self.tekst(element, "DebetCredit")
        if cent is None or teken is None:
            return None
        if teken not in ("D", "C"):
            self.probleem(f"{self.pad(element)}/DebetCredit", f"'{teken}' is neither D nor C")
            return None
        return cent if teken == "D" else -cent

    def product(self, parent: etree._Element, pad: str = "Product") -> Product | None:
        element = self.element(parent, pad)
        if element is None:
            return None
        categorie = self.tekst(element, "Categorie")
        return Product(categorie or "", self.tekst(element, "Code", verplicht=False))

    def bsn(self, parent: etree._Element) -> Bsn | None:
        waarde = self.tekst(parent, "Bsn")
        if waarde is None:
            return None
        if not elfproef(waarde):
            self.probleem(f"{self.pad(parent)}/Bsn", "not a valid BSN (fails the 11-proef)")
            return None
        return Bsn(waarde)

    # The flat readers: the value of `sleutel` in `v` (see `Velden`) as the reader of the same
    # name reads it from the element, which they fall back to for anything but a plain value
    # (an empty text, a date-shaped text, an invalid one), so problems read the same.

    def plat(self, element: etree._Element, lees: Spec) -> Velden:
        """`element` read flat once, kept for the rules."""
        gelezen = self.velden.get(element)
        if gelezen is None:
            gelezen = self.velden[element] = lees_velden(element, lees, self.kinderen)
        return gelezen

    def _plat_traag(self, v: Velden, sleutel: str, lees: Callable[..., T | None],
                    verplicht: bool) -> T | None:
        """What `lees` reads of the element of `v` (absent and optional: None, no problem)."""
        if sleutel not in v and not verplicht:
            return None
        return lees(v[""], sleutel, verplicht=verplicht)

    def plat_tekst(self, v: Velden, sleutel: str, *, verplicht: bool = True) -> str | None:
        w = v.get(sleutel)
        if w.__class__ is str:
            return w
        return self._plat_traag(v, sleutel, self.tekst, verplicht)

    def plat_datum(self, v: Velden, sleutel: str, *, verplicht: bool = True) -> date | None:
        w = v.get(sleutel)
        if w.__class__ is date:
            return w
        return self._plat_traag(v, sleutel, self.datum, verplicht)

    def plat_geheel(self, v: Velden, sleutel: str, *, verplicht: bool = True) -> int | None:
        w = v.get(sleutel)
        if w.__class__ is str and _CIJFERS.fullmatch(w):
            return int(w)
        return self._plat_traag(v, sleutel, self.geheel, verplicht)

    def plat_nummer(self, v: Velden, sleutel: str, *, verplicht: bool = True) -> str | None:
        w = v.get(sleutel)
        if w.__class__ is str and _NUMMER.fullmatch(w):
            return str(int(w))
        return self._plat_traag(v, sleutel, self.nummer, verplicht)

    def plat_tijd(self, v: Velden, sleutel: str) -> time | None:
        w = v.get(sleutel)
        if w.__class__ is str:
            try:
                return time.fromisoformat(w)
            except ValueError:
                pass
        return self.tijd(v[""], sleutel)

    def plat_bedrag(self, v: Velden, samengesteld: str, bedrag: str = "Bedrag") -> int | None:
        cent = v.get(f"{samengesteld}/{bedrag}")
        teken = v.get(f"{samengesteld}/DebetCredit")
        if cent.__class__ is str and teken in ("D", "C") and _CIJFERS.fullmatch(cent):
            return int(cent) if teken == "D" else -int(cent)
        if samengesteld not in v:
            return None
        return self.bedrag(v[""], samengesteld, bedrag)

    def plat_product(self, v: Velden) -> Product | None:
        categorie, code = v.get("Product/Categorie"), v.get("Product/Code")
        if categorie.__class__ is str and (code.__class__ is str or "Product/Code" not in v):
            return Product(categorie, code)
        if "Product" not in v:
            return None
        return self.product(v[""])

    def periode_volgorde(self, element: etree._Element, begin: date | None, eind: date | None,
                         begin_naam: str, eind_naam: str) -> None:
        if begin and eind and eind < begin:
            self.probleem(
                f"{self.pad(element)}/{eind_naam}",
                f"{eind.isoformat()} lies before {begin_naam} {begin.isoformat()}",
            )


_NUMMER = re.compile(r"\+?\d{1,18}")  # a ToewijzingNummer: '012' and '+12' are 12
_CIJFERS = re.compile(r"\d+")


def _geheel(waarde: str, patroon: re.Pattern[str]) -> int:
    if not patroon.fullmatch(waarde):
        raise ValueError(waarde)
    return int(waarde)


@functools.cache
def _stappen(pad: str) -> tuple[str, ...]:
    return tuple(pad.split("/"))


@functools.cache
def _ouder_en_naam(pad: str) -> tuple[str, str]:
    ouder, _, naam = pad.rpartition("/")
    return ouder, naam


@functools.cache
def _pad(pad: str) -> str:
    return "/".join(f"{{*}}{deel}" for deel in pad.split("/"))


def _kalenderdatums(lezer: _Lezer, root: etree._Element, data: bytes) -> None:
    """Every date-shaped value anywhere in the message must be a real calendar date.

    Checked on the raw bytes first (one regex pass); a message with a suspect date, CDATA,
    character references or another encoding than UTF-8 is walked element by element."""
    utf8 = (root.getroottree().docinfo.encoding or "").upper() == "UTF-8"
    if utf8 and b"<![CDATA[" not in data and b"&#" not in data:
        try:
            for waarde in _DATE_BYTES.findall(data):
                date.fromisoformat(waarde.decode("ascii"))
            return
        except ValueError:
            pass
    for element in root.iter():
        text = (element.text or "").strip()
        if isinstance(element.tag, str) and _DATE_TEXT.match(text):
            try:
                date.fromisoformat(text)
            except ValueError:
                lezer.probleem(element, f"'{text}' is not a calendar date")


def _kop(lezer: _Lezer, root: etree._Element, bericht: str) -> BerichtKop | None:
    header = lezer.element(root, "Header")
    if header is None:
        lezer.probleem(lezer.pad(root) + "/Header", "required element is missing")
        return None
    v = lezer.plat(header, HEADER)
    afzender = lezer.plat_tekst(v, "Afzender")
    ontvanger = lezer.plat_tekst(v, "Ontvanger")
    identificatie = lezer.plat_tekst(v, "BerichtIdentificatie/Identificatie")
    dagtekening = lezer.plat_datum(v, "BerichtIdentificatie/Dagtekening")
    if None in (afzender, ontvanger, identificatie, dagtekening):
        return None
    return BerichtKop(bericht, afzender, ontvanger, identificatie, dagtekening)  # type: ignore[arg-type]


def _check_gemeente(lezer: _Lezer, kop: BerichtKop, register: GemeenteRegister) -> None:
    rol = "Afzender" if kop.bericht in BerichtKop.GEMEENTE_IS_AFZENDER else "Ontvanger"
    if register.gemeente(kop.gemeentecode, kop.dagtekening) is None:
        lijst = register.lijst_op(kop.dagtekening).geldig_vanaf
        lezer.probleem(
            f"Bericht/Header/{rol}",
            f"'{kop.gemeentecode}' is not a gemeentecode on {kop.dagtekening.isoformat()} "
            f"(CBS list of {lijst.isoformat()})",
        )


def _check_dagtekening(lezer: _Lezer, kop: BerichtKop, ontvangen: date | None) -> None:
    pad = "Bericht/Header/BerichtIdentificatie/Dagtekening"
    dagtekening = kop.dagtekening.isoformat()
    if kop.dagtekening < DAGTEKENING_VANAF:
        lezer.probleem(
            pad,
            f"Dagtekening {dagtekening} lies before {DAGTEKENING_VANAF.isoformat()}, when the "
            "iJw standard came into use: correct the Dagtekening and publish the message again",
        )
    elif ontvangen is not None and kop.dagtekening > ontvangen + DAGTEKENING_MARGE:
        dagen = DAGTEKENING_MARGE.days
        lezer.probleem(
            pad,
            f"Dagtekening {dagtekening} lies after {(ontvangen + DAGTEKENING_MARGE).isoformat()}, "
            f"the day the message arrived ({ontvangen.isoformat()}) plus {dagen} "
            f"day{'s' if dagen != 1 else ''}: a message cannot be dated in the future; correct "
            "the Dagtekening and publish the message again",
        )


def _jw301(lezer: _Lezer, root: etree._Element, kop: BerichtKop) -> Toewijzingbericht | None:
    client = lezer.element(root, "Client")
    if client is None:
        lezer.probleem("Bericht/Client", "required element is missing")
        return None
    bsn = lezer.bsn(client)
    producten = []
    for element in client.iterfind(_pad("ToegewezenProducten/ToegewezenProduct")):
        v = lezer.plat(element, PRODUCT["jw301"])
        nummer = lezer.plat_nummer(v, "ToewijzingNummer")
        toewijzingsdatum = lezer.plat_datum(v, "Toewijzingsdatum")
        toewijzingstijd = lezer.plat_tijd(v, "Toewijzingstijd")
        ingang = lezer.plat_datum(v, "Ingangsdatum")
        eind = lezer.plat_datum(v, "Einddatum", verplicht=False)
        lezer.periode_volgorde(element, ingang, eind, "Ingangsdatum", "Einddatum")
        omvang_element = lezer.element(element, "Omvang") if "Omvang" in v else None
        omvang = None
        if omvang_element is not None:
            volume = lezer.geheel(omvang_element, "Volume")
            eenheid = lezer.tekst(omvang_element, "Eenheid")
            frequentie = lezer.tekst(omvang_element, "Frequentie")
            if volume is not None and eenheid and frequentie:
                omvang = Omvang(volume, eenheid, frequentie)
        if nummer is None or toewijzingsdatum is None or toewijzingstijd is None or ingang is None:
            continue
        producten.append(
            ToegewezenProduct(
                toewijzingnummer=nummer,
                product=lezer.plat_product(v),
                toewijzingsdatum=toewijzingsdatum,
                toewijzingstijd=toewijzingstijd,
                ingangsdatum=ingang,
                einddatum=eind,
                reden_wijziging=lezer.plat_tekst(v, "RedenWijziging", verplicht=False),
                omvang=omvang,
                budget=lezer.plat_geheel(v, "Budget", verplicht=False),
            )
        )
    if bsn is None:
        return None
    return Toewijzingbericht(kop, bsn, tuple(producten))


def _start_stop_nummer(lezer: _Lezer, v: Velden) -> str | None:
    if "ToewijzingNummer" not in v:
        lezer.probleem(
            f"{lezer.pad(v[''])}/ToewijzingNummer",
            "missing: jeugdstroom links start and stop of care to a toewijzing by its number",
        )
        return None
    return lezer.plat_nummer(v, "ToewijzingNummer", verplicht=False)


def _jw305(lezer: _Lezer, root: etree._Element, kop: BerichtKop) -> Startbericht | None:
    client = lezer.element(root, "Client")
    if client is None:
        lezer.probleem("Bericht/Client", "required element is missing")
        return None
    bsn = lezer.bsn(client)
    producten = []
    for element in client.iterfind(_pad("StartProducten/StartProduct")):
        v = lezer.plat(element, PRODUCT["jw305"])
        nummer = _start_stop_nummer(lezer, v)
        begin = lezer.plat_datum(v, "Begindatum")
        status = lezer.plat_tekst(v, "StatusAanlevering")
        ingang = lezer.plat_datum(v, "ToewijzingIngangsdatum", verplicht=False)
        if nummer is None or begin is None or status is None:
            continue
        producten.append(StartProduct(nummer, lezer.plat_product(v), ingang, begin, status))
    if bsn is None:
        return None
    return Startbericht(kop, bsn, tuple(producten))


def _jw307(lezer: _Lezer, root: etree._Element, kop: BerichtKop) -> Stopbericht | None:
    client = lezer.element(root, "Client")
    if client is None:
        lezer.probleem("Bericht/Client", "required element is missing")
        return None
    bsn = lezer.bsn(client)
    producten = []
    for element in client.iterfind(_pad("StopProducten/StopProduct")):
        v = lezer.plat(element, PRODUCT["jw307"])
        nummer = _start_stop_nummer(lezer, v)
        begin = lezer.plat_datum(v, "Begindatum")
        eind = lezer.plat_datum(v, "Einddatum")
        lezer.periode_volgorde(element, begin, eind, "Begindatum", "Einddatum")
        reden = lezer.plat_tekst(v, "RedenBeeindiging")
        status = lezer.plat_tekst(v, "StatusAanlevering")
        ingang = lezer.plat_datum(v, "ToewijzingIngangsdatum", verplicht=False)
        if None in (nummer, begin, eind, reden, status):
            continue
        producten.append(
            StopProduct(nummer, lezer.plat_product(v), ingang, begin, eind, reden, status)  # type: ignore[arg-type]
        )
    if bsn is None:
        return None
    return Stopbericht(kop, bsn, tuple(producten))


def _prestaties(lezer: _Lezer, clienten: etree._Element | None) -> list[Prestatie]:
    prestaties: list[Prestatie] = []
    if clienten is None:
        return prestaties
    for client in clienten.iterfind(_pad("Client")):
        bsn = lezer.bsn(client)
        for element in client.iterfind(_pad("Prestaties/Prestatie")):
            v = lezer.plat(element, PRESTATIE)  # a declaration has many: one walk over each
            referentie = lezer.plat_tekst(v, "ProductReferentie/ReferentieNummer")
            vorig = lezer.plat_tekst(v, "ProductReferentie/VorigReferentieNummer", verplicht=False)
            nummer = lezer.plat_nummer(v, "ToewijzingNummer")
            categorie = lezer.plat_tekst(v, "ProductCategorie")
            code = lezer.plat_tekst(v, "ProductCode", verplicht=False)
            begin = lezer.plat_datum(v, "ProductPeriode/Begindatum")
            eind = lezer.plat_datum(v, "ProductPeriode/Einddatum")
            lezer.periode_volgorde(element, begin, eind, "ProductPeriode/Begindatum",
                                   "ProductPeriode/Einddatum")
            volume = lezer.plat_geheel(v, "GeleverdVolume")
            eenheid = lezer.plat_tekst(v, "Eenheid")
            tarief = lezer.plat_geheel(v, "ProductTarief", verplicht=False)
            bedrag = lezer.plat_bedrag(v, "IngediendBedrag")
            retourcodes = tuple(
                (code_element.text or "").strip()
                for code_element in element.iterfind(_pad("RetourCodes/RetourCode"))
            ) if "RetourCodes" in v else ()
            if bsn is None or None in (referentie, nummer, categorie, begin, eind, volume,
                                       eenheid, bedrag):
                continue
            prestaties.append(
                Prestatie(
                    bsn=bsn,
                    referentienummer=referentie,  # type: ignore[arg-type]
                    vorig_referentienummer=vorig,
                    toewijzingnummer=nummer,  # type: ignore[arg-type]
                    product=Product(categorie, code),  # type: ignore[arg-type]
                    begindatum=begin,  # type: ignore[arg-type]
                    einddatum=eind,  # type: ignore[arg-type]
                    geleverd_volume=volume,  # type: ignore[arg-type]
                    eenheid=eenheid,  # type: ignore[arg-type]
                    tarief=tarief,
                    bedrag=bedrag,  # type: ignore[arg-type]
                    retourcodes=retourcodes,
                )
            )
    return prestaties


def _jw323(lezer: _Lezer, root: etree._Element, kop: BerichtKop) -> Declaratiebericht | None:
    declaratie = lezer.element(root, "Declaratie")
    if declaratie is None:
        lezer.probleem("Bericht/Declaratie", "required element is missing")
        return None
    v = lezer.plat(declaratie, DECLARATIE)
    nummer = lezer.plat_tekst(v, "DeclaratieNummer")
    begin = lezer.plat_datum(v, "DeclaratiePeriode/Begindatum")
    eind = lezer.plat_datum(v, "DeclaratiePeriode/Einddatum")
    lezer.periode_volgorde(declaratie, begin, eind, "DeclaratiePeriode/Begindatum",
                           "DeclaratiePeriode/Einddatum")
    totaal = lezer.plat_bedrag(v, "TotaalIngediendBedrag", "TotaalBedrag")
    prestaties = _prestaties(lezer, lezer.element(declaratie, "Clienten"))
    if None in (nummer, begin, eind, totaal):
        return None
    return Declaratiebericht(kop, nummer, begin, eind, totaal, tuple(prestaties))  # type: ignore[arg-type]


def _jw325(lezer: _Lezer, root: etree._Element, kop: BerichtKop) -> Antwoordbericht | None:
    header = lezer.element(root, "Header")
    assert header is not None  # _kop checked it
    v = lezer.plat(header, HEADER)
    identificatie = lezer.plat_tekst(v, "DeclaratieIdentificatie/Identificatie")
    dagtekening = lezer.plat_datum(v, "DeclaratieIdentificatie/Dagtekening")
    retourcodes = tuple(
        (element.text or "").strip() for element in header.iterfind(_pad("RetourCodes/RetourCode"))
    )
    antwoord = lezer.element(root, "DeclaratieAntwoord")
    nummer = ingediend = toegekend = None
    prestaties: list[Prestatie] = []
    if antwoord is not None:
        v = lezer.plat(antwoord, DECLARATIE)
        nummer = lezer.plat_tekst(v, "DeclaratieNummer", verplicht=False)
        ingediend = lezer.plat_bedrag(v, "TotaalIngediendBedrag", "TotaalBedrag")
        toegekend = lezer.plat_bedrag(v, "TotaalToegekendBedrag", "TotaalBedrag")
        prestaties = _prestaties(lezer, lezer.element(antwoord, "Clienten"))
    if identificatie is None or dagtekening is None:
        return None
    return Antwoordbericht(kop, identificatie, dagtekening, nummer, retourcodes, ingediend,
                          toegekend, tuple(prestaties))


_LEZERS = {"jw301": _jw301, "jw305": _jw305, "jw307": _jw307, "jw323": _jw323, "jw325": _jw325}


def lees_kop(data: bytes) -> BerichtKop:
    """Only the header: enough to derive the subject and Nats-Msg-Id for publishing."""
    document, root, bericht = _document(data)
    lezer = _Lezer(document)
    kop = _kop(lezer, root, bericht)
    if kop is None:
        raise Afgewezen(lezer.problemen)
    return kop


def _doctype(data: bytes) -> bool:
    """Whether the prolog declares a document type (the only place a DTD can be).

    A scan over the XML declaration, comments and processing instructions before the root
    element, so a DOCTYPE quoted in a comment or CDATA of the body is not one."""
    i = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while True:
        i = _SPATIE.match(data, i).end()  # type: ignore[union-attr]
        for begin, eind in ((b"<?", b"?>"), (b"<!--", b"-->")):
            if data.startswith(begin, i):
                einde = data.find(eind, i + len(begin))
                if einde < 0:
                    return False  # not well-formed: the parser says so
                i = einde + len(eind)
                break
        else:
            return data.startswith(b"<!DOCTYPE", i)


def _geen_dtd() -> Afgewezen:
    return Afgewezen([Probleem("XML", f"{GEEN_DTD}; send the message without a DOCTYPE declaration")])


def _document(data: bytes) -> tuple[etree._ElementTree, etree._Element, str]:
    if _doctype(data):
        raise _geen_dtd()
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as error:
        raise Afgewezen([Probleem("XML", f"not well-formed: {redact(str(error))}")]) from None
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:  # e.g. UTF-16, which the scan misses
        raise _geen_dtd()
    bericht = bericht_type(root)
    if bericht is None:
        namespace = etree.QName(root).namespace
        raise Afgewezen(
            [Probleem(etree.QName(root).localname, f"not an iJw 3.2 message (namespace {namespace})")]
        )
    return root.getroottree(), root, bericht


def lees_bericht(
    data: bytes,
    register: GemeenteRegister,
    schemas: XsdSchemas | None = None,
    *,
    subject_gemeente: str | None = None,
    ontvangen: date | None = None,
    bevindingen: list[Bevinding] | None = None,
) -> Bericht:
    """Parse and validate one iJw message; raise `Afgewezen` with every problem found.

    `ontvangen` is the day the message arrived (its stream timestamp): a Dagtekening more than
    `DAGTEKENING_MARGE` later is rejected. None skips that check, not the lower bound.
    `bevindingen`: a list to which the data-quality findings of an accepted message are added
    (`events.kwaliteit.controleer` on the tree parsed here, so the message is parsed once)."""
    document, root, bericht = _document(data)
    lezer = _Lezer(document)
    if bericht not in INGESTED:
        lezer.probleem(
            "Bericht",
            f"{bericht.upper()} is not ingested (jeugdstroom takes "
            f"{', '.join(b.upper() for b in INGESTED)})",
        )
    schema = schemas.voor(bericht) if schemas else None
    if schema is not None:
        lezer.problemen.extend(_xsd_problemen(schema, document))
    _kalenderdatums(lezer, root, data)
    if lezer.problemen:
        raise Afgewezen(_uniek(lezer.problemen))

    kop = _kop(lezer, root, bericht)
    result = _LEZERS[bericht](lezer, root, kop) if kop else None
    if kop is not None:
        _check_dagtekening(lezer, kop, ontvangen)
        _check_gemeente(lezer, kop, register)
        if subject_gemeente is not None and subject_gemeente != kop.gemeentecode:
            rol = "Afzender" if bericht in BerichtKop.GEMEENTE_IS_AFZENDER else "Ontvanger"
            lezer.probleem(
                f"Bericht/Header/{rol}",
                f"gemeente {kop.gemeentecode} of the message differs from gemeente "
                f"{subject_gemeente} of the subject; publish it to {kop.subject}",
            )
    if lezer.problemen or result is None:
        raise Afgewezen(_uniek(lezer.problemen) or [Probleem("Bericht", "cannot be read")])
    if bevindingen is not None:
        from events.kwaliteit import controleer  # kwaliteit imports this module

        bevindingen.extend(controleer(root, bericht, lezer.kinderen, lezer.velden, gelezen=True))
    return result


def _uniek(problemen: list[Probleem]) -> list[Probleem]:
    """The first problem per element: the XSD and our own rules often say the same thing."""
    seen: dict[str, Probleem] = {}
    for p in problemen:
        seen.setdefault(p.element, Probleem(p.element, redact(_zonder_waarden(p.element, p.probleem))))
    return list(seen.values())
