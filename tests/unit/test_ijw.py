"""Parsing and validation of iJw 3.2 messages: no servers involved."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest

from events.ijw import (
    DAGTEKENING_MARGE,
    DAGTEKENING_VANAF,
    Afgewezen,
    Antwoordbericht,
    Declaratiebericht,
    Startbericht,
    Stopbericht,
    Toewijzingbericht,
    elfproef,
    lees_bericht,
    lees_kop,
    redact,
)
from tests.conftest import EXAMPLE_SECRETS, INGESTED_EXAMPLES, example


@pytest.mark.parametrize("name", INGESTED_EXAMPLES)
def test_every_official_example_of_the_five_types_is_accepted(name, register, schemas):
    bericht = lees_bericht(example(name), register, schemas)
    assert bericht.kop.bericht == name[:5].lower()


def test_jw301_fields(register, schemas):
    bericht = lees_bericht(example("JW301.xml"), register, schemas)
    assert isinstance(bericht, Toewijzingbericht)
    assert bericht.kop.gemeentecode == "0384" and bericht.kop.aanbieder == "42420001"
    assert bericht.kop.subject == "ijw.0384.jw301"
    assert bericht.kop.msg_id == "0384-123456789012-2026-04-01"
    first = bericht.producten[0]
    assert first.toewijzingnummer == "300201"
    assert (first.product.categorie, first.product.code) == ("55", "55A11")
    assert first.toewijzingsdatum == date(2026, 4, 1) and first.toewijzingstijd == time(12, 34, 56)
    assert (first.ingangsdatum, first.einddatum) == (date(2026, 4, 1), date(2026, 7, 14))
    assert first.omvang is not None and first.omvang.volume == 2


def test_start_stop_declaratie_antwoord_fields(register, schemas):
    start = lees_bericht(example("JW305.xml"), register, schemas)
    stop = lees_bericht(example("JW307.xml"), register, schemas)
    declaratie = lees_bericht(example("JW323.xml"), register, schemas)
    antwoord = lees_bericht(example("JW325.xml"), register, schemas)
    assert isinstance(start, Startbericht) and start.kop.gemeentecode == "0363"
    assert [s.begindatum for s in start.producten] == [date(2026, 4, 3), date(2026, 4, 15)]
    assert isinstance(stop, Stopbericht)
    assert [(s.einddatum, s.reden_beeindiging) for s in stop.producten] == [
        (date(2026, 7, 17), "31"), (date(2026, 7, 17), "31")]
    assert isinstance(declaratie, Declaratiebericht)
    assert declaratie.totaal_bedrag == 79000
    assert sum(p.bedrag for p in declaratie.prestaties) == 79000
    assert isinstance(antwoord, Antwoordbericht)
    assert antwoord.declaratie_identificatie == "765432198"
    assert antwoord.totaal_toegekend == -34000  # C is credit: negative eurocent
    assert antwoord.prestaties[1].retourcodes == ("9339", "9340", "9341")


def test_jw315_is_rejected_naming_the_type_and_the_impossible_date(register, schemas):
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(example("JW315.xml"), register, schemas)
    reden = rejected.value.reden
    assert "JW315 is not ingested" in reden
    assert "ToewijzingEinddatum" in reden and "2027-06-31" in reden


def test_impossible_date_is_rejected_without_xsd_too(register):
    data = example("JW301.xml").replace(b"2026-07-14", b"2026-06-31")
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(data, register, None)
    assert rejected.value.problemen[0].element.endswith("ToegewezenProduct[1]/Einddatum")
    assert "'2026-06-31' is not a calendar date" in rejected.value.reden


def test_einddatum_before_ingangsdatum_is_rejected(register, schemas):
    data = example("JW301.xml").replace(b"2026-07-14", b"2026-03-31")
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(data, register, schemas)
    assert "Einddatum: 2026-03-31 lies before Ingangsdatum 2026-04-01" in rejected.value.reden


def test_deletion_form_is_accepted(register, schemas):
    data = example("JW301.xml").replace(
        b"<jw301:Einddatum>2026-07-14</jw301:Einddatum>",
        b"<jw301:Einddatum>2026-04-01</jw301:Einddatum><jw301:RedenWijziging>13</jw301:RedenWijziging>",
    )
    bericht = lees_bericht(data, register, schemas)
    assert bericht.producten[0].is_verwijdering
    assert not bericht.producten[1].is_verwijdering


@pytest.mark.parametrize("with_xsd", [True, False])
def test_invalid_bsn_is_rejected_and_never_echoed(register, schemas, with_xsd):
    data = example("JW301.xml").replace(b"999900006", b"999900007")
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(data, register, schemas if with_xsd else None)
    assert "Bsn" in rejected.value.reden and "11-proef" in rejected.value.reden
    assert "999900007" not in rejected.value.reden and "999900007" not in repr(rejected.value)


def test_bsn_of_wrong_length_is_not_echoed_by_the_xsd_error(register, schemas):
    data = example("JW301.xml").replace(b"999900006", b"9999000061")
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(data, register, schemas)
    assert "9999000061" not in rejected.value.reden


def test_unknown_gemeente_is_rejected(register, schemas):
    data = example("JW301.xml").replace(b"<jw301:Afzender>0384", b"<jw301:Afzender>0999")
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(data, register, schemas)
    assert "Header/Afzender: '0999' is not a gemeentecode on 2026-04-01" in rejected.value.reden


def test_subject_of_another_gemeente_is_rejected(register, schemas):
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(example("JW301.xml"), register, schemas, subject_gemeente="0363")
    assert "differs from gemeente 0363 of the subject; publish it to ijw.0384.jw301" in (
        rejected.value.reden)


def test_amounts_must_be_whole_eurocents(register):
    data = example("JW323.xml").replace(b"<ijw:Bedrag>5000<", b"<ijw:Bedrag>50.00<", 1)
    with pytest.raises(Afgewezen) as rejected:
        lees_bericht(data, register, None)
    assert "IngediendBedrag/Bedrag: '50.00' is not a whole number" in rejected.value.reden


def test_not_well_formed_and_foreign_xml(register):
    with pytest.raises(Afgewezen, match="XML: not well-formed"):
        lees_bericht(b"<jw301:Bericht", register)
    with pytest.raises(Afgewezen, match=r"not an iJw 3\.2 message"):
        lees_bericht(b"<html/>", register)


def test_header_is_enough_for_the_subject():
    assert lees_kop(example("JW307.xml")).subject == "ijw.0363.jw307"
    assert lees_kop(example("JW315.xml")).subject == "ijw.0384.jw315"


def test_parsed_values_never_show_the_bsn(register, schemas):
    for name in INGESTED_EXAMPLES:
        text = repr(lees_bericht(example(name), register, schemas))
        assert not [s for s in EXAMPLE_SECRETS if s in text]


@pytest.mark.parametrize(("bsn", "valid"), [
    ("999900006", True), ("999900018", True), ("111222333", True), ("123456782", True),
    ("999900007", False), ("12345678", False), ("000000000", False), ("12345678a", False),
])
def test_elfproef(bsn, valid):
    assert elfproef(bsn) is valid


def test_redact_hides_what_could_be_a_bsn_only():
    assert redact("client 999900006 in msg 123456789012") == "client [bsn] in msg 123456789012"
    assert redact("toewijzing 300201") == "toewijzing 300201"


@pytest.mark.parametrize(("original", "broken", "secret"), [
    (b"<ijw:Datum>2010-02-14</ijw:Datum>", b"<ijw:Datum>2010-02-14Z</ijw:Datum>", "2010-02-14"),
    (b"<ijw:Datum>2010-02-14</ijw:Datum>", b"<ijw:Datum>2010-02-30</ijw:Datum>", "2010-02-30"),
    (b"<ijw:Telefoonnummer>0201234567<", b"<ijw:Telefoonnummer>020-1234567<", "020-1234567"),
    (b"<ijw:Voorletters>T<", b"<ijw:Voorletters>T.J.<", "T.J."),
])
@pytest.mark.parametrize("with_xsd", [True, False])
def test_reasons_never_echo_personal_values(register, schemas, original, broken, secret, with_xsd):
    data = example("JW301.xml").replace(original, broken, 1)
    try:
        lees_bericht(data, register, schemas if with_xsd else None)
    except Afgewezen as rejected:
        assert secret not in rejected.reden and "Wit" not in rejected.reden
    else:
        assert not with_xsd  # without the XSD, not every such value is our business


def test_toewijzingnummer_is_normalised(register, schemas):
    data = example("JW301.xml").replace(b"<jw301:ToewijzingNummer>300201<",
                                        b"<jw301:ToewijzingNummer>0300201<")
    bericht = lees_bericht(data, register, None)
    assert bericht.producten[0].toewijzingnummer == "300201"


def _gedateerd(dagtekening: bytes) -> bytes:
    data = example("JW301.xml")
    return data.replace(b"<ijw:Dagtekening>2026-04-01<", b"<ijw:Dagtekening>" + dagtekening + b"<", 1)


@pytest.mark.parametrize("dagtekening", [b"1900-01-01", b"2014-12-31"])
def test_dagtekening_before_the_ijw_standard_is_rejected(dagtekening, register, schemas):
    with pytest.raises(Afgewezen) as afgewezen:
        lees_bericht(_gedateerd(dagtekening), register, schemas)
    [probleem] = afgewezen.value.problemen
    assert probleem.element == "Bericht/Header/BerichtIdentificatie/Dagtekening"
    assert f"Dagtekening {dagtekening.decode()} lies before 2015-01-01" in probleem.probleem


@pytest.mark.parametrize("dagtekening", [b"2030-01-01", b"9999-12-31", b"2026-05-12"])
def test_dagtekening_after_arrival_plus_a_day_is_rejected(dagtekening, register, schemas):
    with pytest.raises(Afgewezen) as afgewezen:
        lees_bericht(_gedateerd(dagtekening), register, schemas, ontvangen=date(2026, 5, 10))
    [probleem] = afgewezen.value.problemen
    assert probleem.element == "Bericht/Header/BerichtIdentificatie/Dagtekening"
    assert probleem.probleem.startswith(
        f"Dagtekening {dagtekening.decode()} lies after 2026-05-11, the day the message arrived "
        "(2026-05-10) plus 1 day")


def test_dagtekening_bounds_are_inclusive(register, schemas):
    ontvangen = date(2026, 5, 10)
    for grens in (DAGTEKENING_VANAF, ontvangen + DAGTEKENING_MARGE):
        bericht = lees_bericht(_gedateerd(grens.isoformat().encode()), register, schemas,
                               ontvangen=ontvangen)
        assert bericht.kop.dagtekening == grens
    assert ontvangen + DAGTEKENING_MARGE == ontvangen + timedelta(days=1)


def test_without_an_arrival_date_only_the_lower_bound_is_checked(register, schemas):
    assert lees_bericht(_gedateerd(b"2030-01-01"), register, schemas).kop.dagtekening == date(2030, 1, 1)
