"""The single-message iJw rules: each tells a conforming message from a violating one."""

from __future__ import annotations

import csv
from collections.abc import Callable

import pytest
from lxml import etree

from events.ijw import Afgewezen, bericht_type, lees_bericht
from events.kwaliteit import DOOR_DE_PARSER, REGELS, Bevinding, controleer
from services.dev.simulator import BREEKBAAR, simuleer
from tests.conftest import EXAMPLE_SECRETS, SHARED, example
from tests.unit.test_simulator import JAREN, KLEIN

Wijziging = Callable[[etree._Element], None]

# Rules of regels-op-berichten.csv that need other messages or concern messages we do not
# ingest; everything else of kind CD, CS or TR must be in REGELS.
NIET_HIER = {"TR352", "TR353", "TR377", "TR380", "TR383", "TR386", "TR409", "TR410"}
# The official examples break these, as the rule text says they should: the JW323 declares
# ReferentieNummer RN004 twice for the same Client (TR101, duplicate logical key).
IN_DE_VOORBEELDEN = {"JW323.xml": {"TR101"}}


def _el(root: etree._Element, pad: str) -> etree._Element:
    """The element at `pad` (local names; `Naam[2]` is the second of that name)."""
    gevonden = root.find("/".join(f"{{*}}{stap}" for stap in pad.split("/")))
    assert gevonden is not None, pad
    return gevonden


def zet(pad: str, tekst: str) -> Wijziging:
    def wijzig(root: etree._Element) -> None:
        _el(root, pad).text = tekst
    return wijzig


def weg(pad: str) -> Wijziging:
    def wijzig(root: etree._Element) -> None:
        el = _el(root, pad)
        el.getparent().remove(el)
    return wijzig


def na(pad: str, naam: str, tekst: str | None = None) -> Wijziging:
    """Insert element `naam` (in the namespace of the element at `pad`) right after it."""
    def wijzig(root: etree._Element) -> None:
        el = _el(root, pad)
        nieuw = etree.Element(el.tag.rpartition("}")[0] + "}" + naam)
        nieuw.text = tekst
        el.addnext(nieuw)
    return wijzig


def alles(*wijzigingen: Wijziging) -> Wijziging:
    def wijzig(root: etree._Element) -> None:
        for w in wijzigingen:
            w(root)
    return wijzig


def niets(root: etree._Element) -> None:
    pass


TP1 = "Client/ToegewezenProducten/ToegewezenProduct[1]"
TP2 = "Client/ToegewezenProducten/ToegewezenProduct[2]"
C1 = "Client/Contactgegevens/Contact[1]"
C2 = "Client/Contactgegevens/Contact[2]"
P1 = "Declaratie/Clienten/Client[1]/Prestaties/Prestatie[1]"
P2 = "Declaratie/Clienten/Client[1]/Prestaties/Prestatie[2]"
P5 = "Declaratie/Clienten/Client[2]/Prestaties/Prestatie[3]"
A1 = "DeclaratieAntwoord/Clienten/Client[1]/Prestaties/Prestatie[1]"
# The official JW323 without its duplicate ReferentieNummer: conforming to every rule.
JW323_GOED = zet(f"{P5}/ProductReferentie/ReferentieNummer", "RN005")

# (rule, example, a conforming variant, a violating variant); conforming variants meet the
# rule's condition where it has one.
GEVALLEN: list[tuple[str, str, Wijziging, Wijziging]] = [
    ("CD005", "JW301", niets, weg(f"{C1}/Adres/LandCode")),
    ("CD007", "JW301", niets, weg("Client/Communicatie/Taal")),
    ("CD009", "JW301", niets, zet(f"{C2}/Soort", "02")),
    ("CD025", "JW301", niets, weg(f"{C1}/Adres/Huis")),
    ("CD034", "JW301", niets, weg(f"{C1}/Adres/Postcode")),
    ("CD041", "JW301", niets, weg(f"{TP1}/Omvang")),
    ("CD075", "JW301", alles(weg(f"{TP1}/Omvang"), na(f"{TP1}/Einddatum", "Budget", "1000")),
     alles(weg(f"{TP1}/Omvang"), na(f"{TP1}/Einddatum", "Budget", "1000"),
           weg(f"{TP1}/Einddatum"))),
    ("CD076", "JW301", niets, weg(f"{TP1}/Einddatum")),
    ("CD077", "JW301", niets, na(f"{TP1}/Omvang", "Budget", "1000")),
    ("CD078", "JW301", niets, na(f"{TP1}/Omvang", "Budget", "1000")),
    ("CD079", "JW301", niets, weg(f"{TP1}/Product")),
    ("CD080", "JW301", alles(weg(f"{TP1}/Product/Code"), weg(f"{TP1}/Omvang")),
     weg(f"{TP1}/Product/Code")),
    ("CS002", "JW301", niets, zet("Client/Bsn", "999900007")),
    ("CS003", "JW301", niets, zet(f"{TP1}/Einddatum", "2026-03-01")),
    ("CS003", "JW301", na(f"{C2}/Periode/Begindatum", "Einddatum", "2018-02-03"),
     na(f"{C2}/Periode/Begindatum", "Einddatum", "2018-02-02")),
    ("CS015", "JW301", niets, zet("Header/BerichtSubversie", "1")),
    ("CS025", "JW301", niets, zet("Header/BerichtVersie", "2")),
    ("CS050", "JW301", niets, zet("Client/Relaties/Relatie[1]/Naam/NaamGebruik", "6")),
    ("CS089", "JW301", niets, zet(f"{C1}/Adres/Postcode", "9999 XX")),
    ("CS139", "JW301", alles(zet("Client/Geboortedatum/Datum", "2010-02-01"),
                             na("Client/Geboortedatum/Datum", "DatumGebruik", "1")),
     na("Client/Geboortedatum/Datum", "DatumGebruik", "1")),
    ("CS318", "JW301", niets, zet("Client/Naam/NaamGebruik", "6")),
    ("CS335", "JW301", alles(zet(f"{TP1}/Einddatum", "2026-04-01"),
                             na(f"{TP1}/Einddatum", "RedenWijziging", "13")),
     na(f"{TP1}/Einddatum", "RedenWijziging", "13")),
    ("CS336", "JW301", na(f"{TP1}/Einddatum", "RedenWijziging", "05"),
     na(f"{TP1}/Einddatum", "RedenWijziging", "01")),
    ("CS338", "JW301", niets, zet(f"{TP2}/Omvang/Frequentie", "1")),
    ("TR002", "JW301", alles(zet("Client/Geboortedatum/Datum", "1900-01-01"),
                             na("Client/Geboortedatum/Datum", "DatumGebruik", "3")),
     zet("Client/Geboortedatum/Datum", "1900-01-01")),
    ("TR006", "JW301", weg(f"{C1}/Telefoon"), alles(weg(f"{C1}/Telefoon"), weg(f"{C1}/Adres/Huis"))),
    ("TR061", "JW301", niets, zet(f"{C1}/Soort", "04")),
    ("TR101", "JW301", niets, zet(f"{TP2}/ToewijzingNummer", "300201")),
    ("TR134", "JW301", niets, zet(f"{TP1}/Toewijzingsdatum", "2026-04-02")),
    ("TR302", "JW301", zet(f"{TP2}/Ingangsdatum", "2026-07-15"), zet(f"{TP2}/Product/Code", "55A11")),
    ("CS058", "JW305", zet("Client/StartProducten/StartProduct[1]/StatusAanlevering", "3"),
     zet("Client/StartProducten/StartProduct[1]/StatusAanlevering", "2")),
    ("TR101", "JW305", niets, alles(
        zet("Client/StartProducten/StartProduct[2]/Product/Code", "55A11"),
        zet("Client/StartProducten/StartProduct[2]/ToewijzingNummer", "300201"),
        zet("Client/StartProducten/StartProduct[2]/Begindatum", "2026-04-03"))),
    ("TR134", "JW305", niets, zet("Client/StartProducten/StartProduct[2]/Begindatum", "2026-04-16")),
    ("CS139", "JW305", alles(zet("Client/Geboortedatum/Datum", "1900-01-01"),
                             na("Client/Geboortedatum/Datum", "DatumGebruik", "3")),
     na("Client/Geboortedatum/Datum", "DatumGebruik", "2")),
    ("TR018", "JW307", niets, zet("Client/StopProducten/StopProduct[1]/Einddatum", "2026-04-02")),
    ("TR134", "JW307", niets, zet("Client/StopProducten/StopProduct[1]/Einddatum", "2026-07-21")),
    ("CS058", "JW307", niets, zet("Client/StopProducten/StopProduct[1]/StatusAanlevering", "9")),
    ("CD060", "JW323", JW323_GOED,
     alles(JW323_GOED, na(f"{P1}/ProductReferentie/ReferentieNummer", "VorigReferentieNummer", "X"))),
    ("CD087", "JW323", JW323_GOED, alles(JW323_GOED, weg(f"{P1}/ProductTarief"))),
    ("CS002", "JW323", JW323_GOED, alles(JW323_GOED, zet("Declaratie/Clienten/Client[2]/Bsn",
                                                         "999900019"))),
    ("CS100", "JW323", JW323_GOED, alles(JW323_GOED,
                                         zet(f"{P1}/ProductPeriode/Begindatum", "2020-12-01"),
                                         zet(f"{P1}/ProductPeriode/Einddatum", "2020-12-31"))),
    ("CS319", "JW323", JW323_GOED, alles(JW323_GOED, zet("Declaratie/DeclaratieNummer", "DN-001"))),
    ("CS325", "JW323", alles(JW323_GOED, zet(f"{P1}/IngediendBedrag/Bedrag", "0"),
                             zet("Declaratie/TotaalIngediendBedrag/TotaalBedrag", "74000")),
     alles(JW323_GOED, zet(f"{P1}/IngediendBedrag/Bedrag", "0"),
           zet(f"{P1}/IngediendBedrag/DebetCredit", "C"))),
    ("CS337", "JW323", JW323_GOED, alles(JW323_GOED, zet(f"{P1}/ProductPeriode/Einddatum",
                                                         "2026-05-01"))),
    ("CS339", "JW323",
     alles(JW323_GOED, zet(f"{P1}/Eenheid", "83"), weg(f"{P1}/ProductTarief"),
           zet(f"{P1}/GeleverdVolume", "5000")),
     alles(JW323_GOED, zet(f"{P1}/Eenheid", "83"), weg(f"{P1}/ProductTarief"))),
    ("CS340", "JW323", JW323_GOED, alles(JW323_GOED, zet("Declaratie/DeclaratiePeriode/Einddatum",
                                                         "2026-04-29"))),
    ("TR101", "JW323", JW323_GOED, niets),
    ("TR134", "JW323", JW323_GOED, alles(JW323_GOED, zet("Declaratie/DeclaratieDagtekening",
                                                         "2026-05-07"))),
    ("TR137", "JW323", JW323_GOED, alles(JW323_GOED,
                                         zet(f"{P1}/ProductPeriode/Begindatum", "2026-05-01"),
                                         zet(f"{P1}/ProductPeriode/Einddatum", "2026-05-07"))),
    ("TR315", "JW323", JW323_GOED, alles(
        JW323_GOED, na(f"{P1}/ProductReferentie/ReferentieNummer", "VorigReferentieNummer", "X"),
        na(f"{P2}/ProductReferentie/ReferentieNummer", "VorigReferentieNummer", "X"))),
    ("TR316", "JW323", JW323_GOED, alles(
        JW323_GOED, na(f"{P2}/ProductReferentie/ReferentieNummer", "VorigReferentieNummer",
                       "RN001"))),
    ("TR335", "JW323", JW323_GOED, alles(JW323_GOED, zet("Declaratie/DeclaratieDagtekening",
                                                         "2031-05-01"))),
    ("TR358", "JW323", JW323_GOED, alles(JW323_GOED, zet(
        "Declaratie/TotaalIngediendBedrag/TotaalBedrag", "79001"))),
    ("TR416", "JW323", JW323_GOED, alles(JW323_GOED,
                                         zet(f"{P5}/ProductPeriode/Begindatum", "2026-04-01"),
                                         zet(f"{P5}/ProductPeriode/Einddatum", "2026-04-30"))),
    ("CD060", "JW325", niets, weg(f"{A1}/ProductReferentie/VorigReferentieNummer")),
    ("CS002", "JW325", niets, zet("DeclaratieAntwoord/Clienten/Client[1]/Bsn", "999900007")),
    ("CS325", "JW325", niets, alles(
        zet("DeclaratieAntwoord/TotaalIngediendBedrag/TotaalBedrag", "24000"),
        zet("DeclaratieAntwoord/TotaalToegekendBedrag/TotaalBedrag", "0"))),
    ("TR101", "JW325", niets, alles(zet(f"{A1}/ProductReferentie/ReferentieNummer", "RN002"),
                                    zet(f"{A1}/ProductReferentie/VorigReferentieNummer", "RT002"))),
    ("TR134", "JW325", niets, zet("Header/DeclaratieIdentificatie/Dagtekening", "2023-05-08")),
    ("TR137", "JW325", niets, zet(f"{A1}/ProductPeriode/Einddatum", "2023-05-31")),
    ("TR342", "JW325", niets, zet("DeclaratieAntwoord/TotaalToegekendBedrag/TotaalBedrag", "34001")),
    ("TR342", "JW325", alles(zet("DeclaratieAntwoord/RetourCodes/RetourCode", "8001"),
                             zet("DeclaratieAntwoord/TotaalToegekendBedrag/TotaalBedrag", "0")),
     zet("DeclaratieAntwoord/RetourCodes/RetourCode", "8001")),
]


def _gewijzigd(naam: str, wijziging: Wijziging) -> tuple[etree._Element, str]:
    root = etree.fromstring(example(f"{naam}.xml"))
    wijziging(root)
    return root, bericht_type(root)  # type: ignore[return-value]


def _regels(naam: str, wijziging: Wijziging) -> set[str]:
    return {b.regel for b in controleer(*_gewijzigd(naam, wijziging))}


@pytest.mark.parametrize(("regel", "naam", "goed", "fout"), GEVALLEN,
                         ids=[f"{r}-{n}-{i}" for i, (r, n, _, _) in enumerate(GEVALLEN)])
def test_each_rule_tells_a_conforming_message_from_a_violating_one(regel, naam, goed, fout):
    assert regel not in _regels(naam, goed)
    assert regel in _regels(naam, fout)


def test_every_single_message_rule_of_the_list_is_implemented_and_tested():
    with (SHARED / "ijw" / "regels-op-berichten.csv").open(encoding="utf-8") as f:
        codes = {r["code"] for r in csv.DictReader(f) if r["code"][:2] in ("CD", "CS", "TR")}
    assert set(REGELS) == codes - NIET_HIER
    assert {regel for regel, *_ in GEVALLEN} == set(REGELS)


@pytest.mark.parametrize("naam", ["JW301.xml", "JW305.xml", "JW307.xml", "JW323.xml", "JW325.xml"])
def test_the_official_examples_break_only_what_the_rules_say_they_do(naam):
    root = etree.fromstring(example(naam))
    assert {b.regel for b in controleer(root, bericht_type(root))} == \
        IN_DE_VOORBEELDEN.get(naam, set())


@pytest.mark.parametrize(("regel", "naam", "goed", "fout"),
                         [g for g in GEVALLEN if g[0] in DOOR_DE_PARSER],
                         ids=[f"{g[0]}-{g[1]}" for g in GEVALLEN if g[0] in DOOR_DE_PARSER])
def test_the_rules_lees_bericht_skips_are_rejections_there(regel, naam, goed, fout, register,
                                                           schemas):
    """Why lees_bericht runs the rules without them: it does not accept a message breaking them."""
    accepted, _ = _gewijzigd(naam, goed)
    lees_bericht(etree.tostring(accepted), register, schemas)
    violating, bericht = _gewijzigd(naam, fout)
    with pytest.raises(Afgewezen):
        lees_bericht(etree.tostring(violating), register, schemas)
    assert regel not in {b.regel for b in controleer(violating, bericht, gelezen=True)}


def test_a_finding_names_the_element_and_the_rule():
    root, bericht = _gewijzigd("JW301", zet(f"{TP2}/Omvang/Frequentie", "1"))
    assert controleer(root, bericht) == [Bevinding(
        "CS338", "Bericht/Client/ToegewezenProducten/ToegewezenProduct[2]/Omvang/Frequentie",
        "Frequentie 1 with Eenheid 16; allowed are 2 (per week), 4 (per maand) or 6 (totaal "
        "binnen geldigheidsduur)")]


def test_no_finding_quotes_a_personal_value():
    teksten = " ".join(str(b) for _, naam, _, fout in GEVALLEN
                       for b in controleer(*_gewijzigd(naam, fout)))
    geheimen = [*EXAMPLE_SECRETS, "999900007", "999900019", "9999 XX", "9999XX", "2010-02"]
    assert teksten and not [s for s in geheimen if s in teksten]


def test_a_message_type_without_rules_has_no_findings():
    root = etree.fromstring(example("JW315.xml"))
    assert controleer(root, "jw315") == []


@pytest.mark.parametrize("naam", ["JW301.xml", "JW323.xml"])
def test_restrictions_are_left_to_the_xsd(naam, schemas):
    """RS rules are not implemented here: e.g. a time zone on a date (RS032) or a BerichtCode
    other than the specification's (RS047) already fails the XSD."""
    root = etree.fromstring(example(naam))
    schema = schemas.voor(bericht_type(root))
    assert schema.validate(root.getroottree())
    _el(root, "Header/BerichtIdentificatie/Dagtekening").text += "+01:00"
    assert not schema.validate(root.getroottree())
    _el(root, "Header/BerichtIdentificatie/Dagtekening").text = "2026-04-01"
    _el(root, "Header/BerichtCode").text = "999"
    assert not schema.validate(root.getroottree())


def test_the_rules_find_the_same_on_the_parsers_flat_reads(tmp_path, register, schemas):
    """lees_bericht hands the rules the classes it read flat; they must find exactly what the
    rules find reading the message themselves, on traffic that breaks every rule it can."""
    simuleer(KLEIN, JAREN, seed=3, out=tmp_path, breek_aandeel=1.0)
    gevonden: set[str] = set()
    for path in sorted(tmp_path.iterdir()):
        data, bevindingen = path.read_bytes(), []
        try:
            gelezen = lees_bericht(data, register, schemas, bevindingen=bevindingen)
        except Afgewezen:
            continue
        zelf = controleer(etree.fromstring(data), gelezen.kop.bericht, gelezen=True)
        assert bevindingen == zelf, path.name
        gevonden.update(b.regel for b in bevindingen)
    assert frozenset().union(*BREEKBAAR.values()) <= gevonden
