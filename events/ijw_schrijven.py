"""iJw 3.2 XML written from the typed values of `events.ijw`: the inverse of `lees_bericht`.

Used to make test and demo traffic (services/simulator.py). Only what the dataclasses hold is
written; client details that the XSD requires but jeugdstroom never keeps (birth date, sex, name,
contact) get fixed synthetic placeholders, so no real person can end up in a generated message.
Prefixes are those of the official examples (`jw301:`, `ijw:`): lxml reports paths through them,
and `lees_bericht` turns those paths into the element names of its rejection reasons.

By default a message also meets every single-message iJw rule that `events.kwaliteit` checks,
as far as the values it is given do (an Omvang that breaks CS338 is written as given).
`breek` names rules to break on purpose (`BREEKBAAR` lists them per message type): the message
stays valid against its XSD, so ingest takes it and reports a data-quality finding.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time
from xml.sax.saxutils import escape

from events.ijw import (
    Antwoordbericht,
    BerichtKop,
    Declaratiebericht,
    Omvang,
    Prestatie,
    Product,
    Startbericht,
    StartProduct,
    Stopbericht,
    StopProduct,
    ToegewezenProduct,
    Toewijzingbericht,
)

Schrijfbaar = Toewijzingbericht | Startbericht | Stopbericht | Declaratiebericht | Antwoordbericht

_BASISSCHEMA = "http://www.istandaarden.nl/ijw/3_2/basisschema/schema"
# The rules `breek` can break, per message type: each in personal or administrative details
# that jeugdstroom's figures do not read (CS338: the Frequentie; TR358: the total), so a
# broken message still counts like its conformant twin, except for the broken value itself.
BREEKBAAR: dict[str, frozenset[str]] = {
    "jw301": frozenset({"CD007", "CD034", "CS139", "CS318", "CS338", "TR002", "TR006"}),
    "jw305": frozenset({"CS139", "TR002"}),
    "jw307": frozenset({"CS139", "TR002"}),
    "jw323": frozenset({"CD087", "TR358"}),
    "jw325": frozenset(),
}
_BERICHTCODE = {"jw301": "436", "jw305": "438", "jw307": "440", "jw323": "490", "jw325": "491"}
# A JW325 lists only rejected lines (DOMAIN.md); each gets this RetourCode (an assumption: the
# simulator does not model why), while the message, its answer and its clients get 0200
# ("geen fouten" on that level).
AFWIJZINGSCODE, GEEN_FOUTEN = "9307", "0200"


def schrijf(bericht: Schrijfbaar, *, breek: frozenset[str] = frozenset()) -> bytes:
    """The XML of one message, valid against its XSD; `lees_bericht` reads back an equal value.

    JW323 prestaties are grouped per client (one `Client` per BSN, in order of first
    appearance), so a declaration round-trips exactly when its prestaties are already grouped.
    `breek`: iJw rule codes (from `BREEKBAAR`) that the message is to break; then what is read
    back differs from `bericht` where the rule is broken (CS338: a Frequentie; TR358: the total;
    CD087: a ProductTarief).
    """
    match bericht:
        case Toewijzingbericht():
            soort = "jw301"
        case Startbericht():
            soort = "jw305"
        case Stopbericht():
            soort = "jw307"
        case Declaratiebericht():
            soort = "jw323"
        case Antwoordbericht():
            soort = "jw325"
        case _:
            raise TypeError(f"cannot write {type(bericht).__name__}: only JW301, JW305, JW307, "
                            "JW323, JW325")
    if bericht.kop.bericht != soort:
        raise ValueError(f"kop.bericht is '{bericht.kop.bericht}' but a {type(bericht).__name__} "
                         f"is a {soort.upper()}: make them agree")
    if breek - BREEKBAAR[soort]:
        raise ValueError(f"cannot break {', '.join(sorted(breek - BREEKBAAR[soort]))} in a "
                         f"{soort.upper()}: breakable are {', '.join(sorted(BREEKBAAR[soort]))}")
    match bericht:
        case Toewijzingbericht():
            inhoud = _jw301(_met_cs338_gebroken(bericht) if "CS338" in breek else bericht, breek)
        case Startbericht():
            inhoud = _jw305(bericht, breek)
        case Stopbericht():
            inhoud = _jw307(bericht, breek)
        case Declaratiebericht():
            inhoud = _jw323(_declaratie_gebroken(bericht, breek) if breek else bericht)
        case Antwoordbericht():
            inhoud = _jw325(bericht)
    header = _jw325_header(bericht) if isinstance(bericht, Antwoordbericht) else _header(bericht.kop)
    xml = _met_prefix(_el("Bericht", header, inhoud), soort)
    namespaces = (f'xmlns:ijw="{_BASISSCHEMA}" '
                  f'xmlns:{soort}="http://www.istandaarden.nl/ijw/3_2/{soort}/schema"')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            + xml.replace(f"<{soort}:Bericht>", f"<{soort}:Bericht {namespaces}>", 1) + "\n").encode()


def _met_prefix(xml: str, soort: str) -> str:
    """Put the message's prefix on every tag outside the basisschema.

    Plain replaces, not a regex: this runs over every tag of tens of thousands of simulated
    messages. Each pattern starts with '<', which escaped text never holds.
    """
    eigen = f"<{soort}:"
    return (xml.replace("<", eigen).replace(f"{eigen}/", f"</{soort}:")
            .replace(f"{eigen}ijw:", "<ijw:").replace(f"</{soort}:ijw:", "</ijw:"))


# -- building blocks ------------------------------------------------------------------------


def _el(naam: str, *kinderen: str | None) -> str:
    """An element around already written children; an absent optional child (None) is left out."""
    return f"<{naam}>{''.join(k for k in kinderen if k is not None)}</{naam}>"


def _tekst(naam: str, waarde: str | int | date | time | None) -> str | None:
    if waarde is None:
        return None
    if isinstance(waarde, str):
        tekst = escape(waarde)  # only text can hold & or <
    else:
        tekst = str(waarde) if isinstance(waarde, int) else waarde.isoformat()
    return f"<{naam}>{tekst}</{naam}>"


def _bedrag(naam: str, cent: int, veld: str = "ijw:Bedrag") -> str:
    """Integer eurocent as an amount plus DebetCredit: negative is credit."""
    return _el(naam, _tekst(veld, abs(cent)), _tekst("ijw:DebetCredit", "C" if cent < 0 else "D"))


def _product(product: Product | None) -> str | None:
    if product is None:
        return None
    return _el("Product", _tekst("ijw:Categorie", product.categorie), _tekst("ijw:Code", product.code))


def _omvang(omvang: Omvang | None) -> str | None:
    if omvang is None:
        return None
    return _el("Omvang", _tekst("ijw:Volume", omvang.volume), _tekst("ijw:Eenheid", omvang.eenheid),
               _tekst("ijw:Frequentie", omvang.frequentie))


def _header(kop: BerichtKop) -> str:
    return _el(
        "Header",
        _tekst("BerichtCode", _BERICHTCODE[kop.bericht]),
        _tekst("BerichtVersie", 3),
        _tekst("BerichtSubversie", 2),
        _tekst("Afzender", kop.afzender),
        _tekst("Ontvanger", kop.ontvanger),
        _el("BerichtIdentificatie", _tekst("ijw:Identificatie", kop.identificatie),
            _tekst("ijw:Dagtekening", kop.dagtekening)),
        _el("XsdVersie", _tekst("ijw:BasisschemaXsdVersie", "1.0.0"),
            _tekst("ijw:BerichtXsdVersie", "1.0.0")),
    )


# Required by the XSD, never read by jeugdstroom: fixed and obviously synthetic. The BRP
# address has what CD025/CD034/TR006 ask of it: Huis, a Dutch-format Postcode and LandCode.
_GEBOORTEDATUM = _el("Geboortedatum", _tekst("ijw:Datum", "2010-01-01"))
_GESLACHT = _tekst("Geslacht", "0")  # 0: onbekend
_GESLACHTSNAAM = _el("ijw:Geslachtsnaam", _tekst("ijw:Achternaam", "Synthetisch"))
_NAAM_KORT = _el("Naam", _GESLACHTSNAAM, _tekst("ijw:Voorletters", "X"))
_NAAM_VOLLEDIG = _el("Naam", _GESLACHTSNAAM, _tekst("ijw:Voorletters", "X"),
                     _tekst("ijw:NaamGebruik", "1"))
_BRP_ADRES = _el("Contact", _tekst("Soort", "01"), _el(
    "Adres", _el("ijw:Huis", _tekst("ijw:Huisnummer", 1)), _tekst("ijw:Postcode", "9999XX"),
    _tekst("ijw:Straatnaam", "Synthetisch"), _tekst("ijw:Plaatsnaam", "Synthetisch"),
    _tekst("ijw:LandCode", "NL")))
_CONTACTGEGEVENS = _el("Contactgegevens", _BRP_ADRES)

# The same details breaking one rule each (see BREEKBAAR); combined, they break each.
_NAAM_NIET_NATUURLIJK = _el("Naam", _GESLACHTSNAAM, _tekst("ijw:Voorletters", "X"),
                            _tekst("ijw:NaamGebruik", "6"))
_COMMUNICATIE_ZONDER_TAAL = _el("Communicatie", _tekst("ijw:Vorm", "1"))  # tolk taal
_BRP_ZONDER_ADRES = _el("Contact", _tekst("Soort", "01"), _el(  # reachable by phone only
    "Telefoon", _el("ijw:Telefoon01", _tekst("ijw:Telefoonnummer", "0000000000"),
                    _tekst("ijw:Landnummer", "0031"))))
_ONBEREIKBAAR = _el("Contact", _tekst("Soort", "02"))  # no phone, no house number and postcode


def _geboortedatum(breek: frozenset[str]) -> str:
    """CS139: DatumGebruik 2 (day and month unknown) with a day and month; TR002: over 120
    years before any Dagtekening."""
    if "CS139" not in breek and "TR002" not in breek:
        return _GEBOORTEDATUM
    jaar = "1890" if "TR002" in breek else "2010"
    if "CS139" not in breek:
        return _el("Geboortedatum", _tekst("ijw:Datum", f"{jaar}-01-01"))
    return _el("Geboortedatum", _tekst("ijw:Datum", f"{jaar}-03-04"),
               _tekst("ijw:DatumGebruik", "2"))


def _met_cs338_gebroken(bericht: Toewijzingbericht) -> Toewijzingbericht:
    """The first product with an Omvang (and an end after 2020 or none) gets Frequentie 1 (per
    dag) in Etmaal, Dagdeel, Euro's or Stuks: CS338 allows only 2, 4 or 6 there."""
    producten = list(bericht.producten)
    for i, p in enumerate(producten):
        if p.omvang is not None and (p.einddatum is None or p.einddatum > date(2020, 12, 31)):
            eenheid = p.omvang.eenheid if p.omvang.eenheid in ("14", "16", "83", "84") else "14"
            producten[i] = replace(p, omvang=Omvang(p.omvang.volume, eenheid, "1"))
            return replace(bericht, producten=tuple(producten))
    raise ValueError("cannot break CS338: no ToegewezenProduct has an Omvang and an Einddatum "
                     "after 2020 (or none)")


def _declaratie_gebroken(bericht: Declaratiebericht, breek: frozenset[str]) -> Declaratiebericht:
    if "TR358" in breek:  # one euro more than the prestaties add up to
        bericht = replace(bericht, totaal_bedrag=bericht.totaal_bedrag + 100)
    if "CD087" in breek:  # the first prestatie without its ProductTarief (or with one for euro's)
        if not bericht.prestaties:
            raise ValueError("cannot break CD087: the declaration has no prestatie")
        eerste, *rest = bericht.prestaties
        eerste = replace(eerste, tarief=1 if eerste.eenheid == "83" else None)
        bericht = replace(bericht, prestaties=(eerste, *rest))
    return bericht


# -- messages ---------------------------------------------------------------------------------


def _jw301(bericht: Toewijzingbericht, breek: frozenset[str] = frozenset()) -> str:
    producten = _el("ToegewezenProducten", *map(_toegewezen_product, bericht.producten))
    if not breek:
        return _el("Client", _tekst("Bsn", bericht.bsn.waarde), _GEBOORTEDATUM, _GESLACHT,
                   _NAAM_VOLLEDIG, _CONTACTGEGEVENS, producten)
    contactgegevens = _el("Contactgegevens",
                          _BRP_ZONDER_ADRES if "CD034" in breek else _BRP_ADRES,
                          _ONBEREIKBAAR if "TR006" in breek else None)
    return _el("Client", _tekst("Bsn", bericht.bsn.waarde), _geboortedatum(breek), _GESLACHT,
               _NAAM_NIET_NATUURLIJK if "CS318" in breek else _NAAM_VOLLEDIG,
               _COMMUNICATIE_ZONDER_TAAL if "CD007" in breek else None, contactgegevens,
               producten)


def _toegewezen_product(p: ToegewezenProduct) -> str:
    return _el(
        "ToegewezenProduct",
        _tekst("ToewijzingNummer", p.toewijzingnummer),
        _product(p.product),
        _tekst("Toewijzingsdatum", p.toewijzingsdatum),
        _tekst("Toewijzingstijd", p.toewijzingstijd),
        _tekst("Ingangsdatum", p.ingangsdatum),
        _tekst("Einddatum", p.einddatum),
        _tekst("RedenWijziging", p.reden_wijziging),
        _omvang(p.omvang),
        _tekst("Budget", p.budget),
    )


def _jw305(bericht: Startbericht, breek: frozenset[str] = frozenset()) -> str:
    return _el("Client", _tekst("Bsn", bericht.bsn.waarde), _geboortedatum(breek), _GESLACHT,
               _NAAM_KORT,
               _el("StartProducten", *map(_start_product, bericht.producten)))


def _start_product(p: StartProduct) -> str:
    return _el(
        "StartProduct",
        _tekst("ToewijzingNummer", p.toewijzingnummer),
        _product(p.product),
        _tekst("ToewijzingIngangsdatum", p.toewijzing_ingangsdatum),
        _tekst("Begindatum", p.begindatum),
        _tekst("StatusAanlevering", p.status_aanlevering),
    )


def _jw307(bericht: Stopbericht, breek: frozenset[str] = frozenset()) -> str:
    return _el("Client", _tekst("Bsn", bericht.bsn.waarde), _geboortedatum(breek), _GESLACHT,
               _NAAM_KORT,
               _el("StopProducten", *map(_stop_product, bericht.producten)))


def _stop_product(p: StopProduct) -> str:
    return _el(
        "StopProduct",
        _tekst("ToewijzingNummer", p.toewijzingnummer),
        _product(p.product),
        _tekst("ToewijzingIngangsdatum", p.toewijzing_ingangsdatum),
        _tekst("Begindatum", p.begindatum),
        _tekst("RedenBeeindiging", p.reden_beeindiging),
        _tekst("Einddatum", p.einddatum),
        _tekst("StatusAanlevering", p.status_aanlevering),
    )


def _jw323(bericht: Declaratiebericht) -> str:
    per_client: dict[str, list[Prestatie]] = {}
    for prestatie in bericht.prestaties:
        per_client.setdefault(prestatie.bsn.waarde, []).append(prestatie)
    clienten = [
        _el("Client", _tekst("Bsn", bsn), _el("Prestaties", *map(_prestatie, prestaties)))
        for bsn, prestaties in per_client.items()
    ]
    return _el(
        "Declaratie",
        _tekst("DeclaratieNummer", bericht.declaratienummer),
        _el("DeclaratiePeriode", _tekst("ijw:Begindatum", bericht.periode_begin),
            _tekst("ijw:Einddatum", bericht.periode_eind)),
        _tekst("DeclaratieDagtekening", bericht.kop.dagtekening),
        _bedrag("TotaalIngediendBedrag", bericht.totaal_bedrag, "ijw:TotaalBedrag"),
        _el("Clienten", *clienten),
    )


def _retourcodes(*codes: str) -> str:
    return _el("RetourCodes", *(_tekst("RetourCode", c) for c in codes))


def _jw325_header(bericht: Antwoordbericht) -> str:
    """A JW325 header: the usual one plus the declaration it answers and a RetourCode."""
    kop = bericht.kop
    return _el(
        "Header",
        _tekst("BerichtCode", _BERICHTCODE[kop.bericht]),
        _tekst("BerichtVersie", 3),
        _tekst("BerichtSubversie", 2),
        _tekst("Afzender", kop.afzender),
        _tekst("Ontvanger", kop.ontvanger),
        _el("BerichtIdentificatie", _tekst("ijw:Identificatie", kop.identificatie),
            _tekst("ijw:Dagtekening", kop.dagtekening)),
        _el("XsdVersie", _tekst("ijw:BasisschemaXsdVersie", "1.0.0"),
            _tekst("ijw:BerichtXsdVersie", "1.0.0")),
        _el("DeclaratieIdentificatie", _tekst("ijw:Identificatie", bericht.declaratie_identificatie),
            _tekst("ijw:Dagtekening", bericht.declaratie_dagtekening)),
        _el("XsdVersieDeclaratie", _tekst("ijw:BasisschemaXsdVersie", "1.0.0"),
            _tekst("ijw:BerichtXsdVersie", "1.0.0")),
        _retourcodes(*(bericht.retourcodes or (GEEN_FOUTEN,))),
    )


def _jw325(bericht: Antwoordbericht) -> str:
    """The answer with the rejected lines, grouped per client like a JW323."""
    per_client: dict[str, list[Prestatie]] = {}
    for prestatie in bericht.prestaties:
        per_client.setdefault(prestatie.bsn.waarde, []).append(prestatie)
    clienten = [
        _el("Client", _tekst("Bsn", bsn),
            _el("Prestaties", *(_prestatie(p, retour=p.retourcodes or (AFWIJZINGSCODE,))
                                for p in prestaties)),
            _retourcodes(GEEN_FOUTEN))
        for bsn, prestaties in per_client.items()
    ]
    return _el(
        "DeclaratieAntwoord",
        _tekst("DeclaratieNummer", bericht.declaratienummer),
        _bedrag("TotaalIngediendBedrag", bericht.totaal_ingediend or 0, "ijw:TotaalBedrag"),
        _bedrag("TotaalToegekendBedrag", bericht.totaal_toegekend or 0, "ijw:TotaalBedrag"),
        _el("Clienten", *clienten) if clienten else None,
        _retourcodes(GEEN_FOUTEN),
    )


def _prestatie(p: Prestatie, *, retour: tuple[str, ...] | None = None) -> str:
    if p.product.code is None or (p.retourcodes and retour is None):
        # The JW323 XSD requires ProductCode and has no RetourCodes (those belong in a JW325).
        raise ValueError(f"prestatie {p.referentienummer} cannot be declared in a JW323: it needs "
                         "a ProductCode and no RetourCodes")
    return _el(
        "Prestatie",
        _el("ProductReferentie", _tekst("ijw:ReferentieNummer", p.referentienummer),
            _tekst("ijw:VorigReferentieNummer", p.vorig_referentienummer)),
        _tekst("ToewijzingNummer", p.toewijzingnummer),
        _tekst("ProductCategorie", p.product.categorie),
        _tekst("ProductCode", p.product.code),
        _el("ProductPeriode", _tekst("ijw:Begindatum", p.begindatum),
            _tekst("ijw:Einddatum", p.einddatum)),
        _tekst("GeleverdVolume", p.geleverd_volume),
        _tekst("Eenheid", p.eenheid),
        _tekst("ProductTarief", p.tarief),
        _bedrag("IngediendBedrag", p.bedrag),
        _retourcodes(*retour) if retour is not None else None,
    )
