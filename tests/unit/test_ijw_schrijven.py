"""Writing iJw 3.2 messages: every writer round-trips through `lees_bericht` with the XSDs."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, time

import pytest
from lxml import etree

from events.ijw import (
    Antwoordbericht,
    BerichtKop,
    Bsn,
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
    bericht_type,
    lees_bericht,
)
from events.ijw_schrijven import BREEKBAAR, schrijf
from events.kwaliteit import controleer
from tests.conftest import EXAMPLE_SECRETS, example

BSN_A, BSN_B = Bsn("999900006"), Bsn("999900018")


def kop(bericht: str, afzender: str, ontvanger: str) -> BerichtKop:
    return BerichtKop(bericht, afzender, ontvanger, "id&<1>", date(2024, 3, 5))


def toewijzing() -> Toewijzingbericht:
    return Toewijzingbericht(kop("jw301", "0935", "99990001"), BSN_A, (
        ToegewezenProduct("100001", Product("45", "45A12"), date(2024, 3, 1), time(9, 15, 0),
                          date(2024, 3, 4), date(2024, 9, 30), "05", Omvang(3, "04", "2"), 125000),
        ToegewezenProduct("100002", Product("43", None), date(2024, 3, 5), time(16, 0, 59),
                          date(2024, 4, 1), None, None, None, None),
        ToegewezenProduct("100003", None, date(2024, 3, 5), time(17, 0, 0),
                          date(2024, 2, 1), date(2024, 2, 1), "13", None, None),
    ))


def start() -> Startbericht:
    return Startbericht(kop("jw305", "99990001", "0935"), BSN_A, (
        StartProduct("100001", Product("45", "45A12"), date(2024, 3, 4), date(2024, 3, 6), "1"),
        StartProduct("100002", None, None, date(2024, 4, 2), "3"),
    ))


def stop() -> Stopbericht:
    return Stopbericht(kop("jw307", "99990001", "0935"), BSN_A, (
        StopProduct("100001", Product("45", "45A12"), date(2024, 3, 4), date(2024, 3, 6),
                    date(2024, 9, 27), "31", "1"),
        StopProduct("100002", None, None, date(2024, 4, 2), date(2024, 4, 20), "20", "1"),
    ))


def declaratie() -> Declaratiebericht:
    def prestatie(bsn: Bsn, referentie: str, bedrag: int, vorig: str | None = None) -> Prestatie:
        return Prestatie(bsn, referentie, vorig, "100001", Product("45", "45A12"),
                         date(2024, 2, 1), date(2024, 2, 29), 4, "04", 9800 if bedrag > 0 else None,
                         bedrag)

    prestaties = (prestatie(BSN_A, "R&D<1>", 39200), prestatie(BSN_A, "R2", -19600, "R&D<1>"),
                  prestatie(BSN_B, "R3", 39200))
    return Declaratiebericht(kop("jw323", "99990001", "0935"), "D2024020935", date(2024, 2, 1),
                             date(2024, 2, 29), 58800, prestaties)


def antwoord() -> Antwoordbericht:
    """A JW325 rejecting one line of `declaratie()`; header and answer say 0200 (no errors)."""
    afgewezen = replace(declaratie().prestaties[2], retourcodes=("9307",))
    return Antwoordbericht(kop("jw325", "0935", "99990001"), "12345", date(2024, 3, 5),
                           "D2024020935", ("0200",), 58800, 58800 - afgewezen.bedrag, (afgewezen,))


@pytest.mark.parametrize("maak", [toewijzing, start, stop, declaratie, antwoord])
def test_every_writer_round_trips_through_the_xsd_checked_parser(maak, register, schemas):
    bericht = maak()
    assert lees_bericht(schrijf(bericht), register, schemas) == bericht


def test_a_credit_total_is_written_as_c(register, schemas):
    bericht = replace(declaratie(), totaal_bedrag=-100)
    data = schrijf(bericht)
    assert b"<ijw:TotaalBedrag>100</ijw:TotaalBedrag><ijw:DebetCredit>C<" in data
    assert lees_bericht(data, register, schemas) == bericht


@pytest.mark.parametrize("name", ["JW301.xml", "JW305.xml", "JW307.xml", "JW323.xml", "JW325.xml"])
def test_official_examples_survive_read_write_read_without_their_personal_data(
    name, register, schemas
):
    gelezen = lees_bericht(example(name), register, schemas)
    data = schrijf(gelezen)
    assert lees_bericht(data, register, schemas) == gelezen
    geheimen = [s for s in EXAMPLE_SECRETS if not s.startswith("9999")]  # the BSN is kept
    assert not [s for s in geheimen if s.encode() in data]


def test_prestaties_are_grouped_per_client(register, schemas):
    a, b, c = declaratie().prestaties
    data = schrijf(replace(declaratie(), prestaties=(a, c, b)))
    assert data.count(b"<jw323:Client>") == 2
    assert lees_bericht(data, register, schemas).prestaties == (a, b, c)


def test_an_answer_without_rejected_lines_is_valid_too(register, schemas):
    leeg = replace(antwoord(), prestaties=(), totaal_toegekend=58800)
    assert lees_bericht(schrijf(leeg), register, schemas) == leeg
    assert _bevindingen(schrijf(antwoord())) == set()


def test_a_type_and_header_that_disagree_are_refused():
    with pytest.raises(ValueError, match=r"kop\.bericht is 'jw305'"):
        schrijf(replace(toewijzing(), kop=kop("jw305", "0935", "99990001")))


def test_a_prestatie_without_product_code_cannot_be_declared():
    a, *rest = declaratie().prestaties
    with pytest.raises(ValueError, match="needs a ProductCode"):
        schrijf(replace(declaratie(), prestaties=(replace(a, product=Product("45", None)), *rest)))


# -- the iJw rules ------------------------------------------------------------------------------


def conform() -> list[Toewijzingbericht | Startbericht | Stopbericht | Declaratiebericht]:
    """The messages above with values that meet the iJw rules: an Omvang without a Budget (CD077,
    CD078), a Product for each toewijzing (CD079), start and stop reported after the fact
    (TR134), no credit of a line in its own declaration (TR316)."""
    eerste, tweede, derde = toewijzing().producten
    toegewezen = replace(toewijzing(), producten=(
        replace(eerste, budget=None), tweede, replace(derde, product=Product("45", "45A12"),
                                                      omvang=Omvang(1, "04", "2"))))
    a, _, c = declaratie().prestaties
    gedeclareerd = replace(declaratie(), prestaties=(a, c), totaal_bedrag=a.bedrag + c.bedrag)
    later = date(2024, 10, 1)
    return [toegewezen, replace(start(), kop=replace(start().kop, dagtekening=later)),
            replace(stop(), kop=replace(stop().kop, dagtekening=later)), gedeclareerd]


def _bevindingen(data: bytes) -> set[str]:
    root = etree.fromstring(data)
    return {b.regel for b in controleer(root, bericht_type(root))}  # type: ignore[arg-type]


@pytest.mark.parametrize("bericht", conform(), ids=["jw301", "jw305", "jw307", "jw323"])
def test_written_messages_meet_the_ijw_rules(bericht, register, schemas):
    data = schrijf(bericht)
    assert lees_bericht(data, register, schemas) == bericht
    assert _bevindingen(data) == set()


@pytest.mark.parametrize(("bericht", "regel"), [
    (b, regel) for b in conform() for regel in sorted(BREEKBAAR[b.kop.bericht])
], ids=lambda x: x if isinstance(x, str) else x.kop.bericht)
def test_a_named_rule_is_broken_on_request_in_an_xsd_valid_message(bericht, regel, register,
                                                                    schemas):
    data = schrijf(bericht, breek=frozenset({regel}))
    lees_bericht(data, register, schemas)  # valid: ingested, with a finding
    assert _bevindingen(data) == {regel}


@pytest.mark.parametrize("bericht", conform(), ids=["jw301", "jw305", "jw307", "jw323"])
def test_all_breakable_rules_break_together(bericht, register, schemas):
    regels = BREEKBAAR[bericht.kop.bericht]
    data = schrijf(bericht, breek=regels)
    lees_bericht(data, register, schemas)
    assert _bevindingen(data) == regels


def test_breaking_keeps_what_the_figures_read_except_the_broken_value(register, schemas):
    bericht = conform()[0]
    gelezen = lees_bericht(schrijf(bericht, breek=BREEKBAAR["jw301"] - {"CS338"}), register,
                           schemas)
    assert gelezen == bericht


def test_a_rule_that_cannot_be_broken_is_refused():
    with pytest.raises(ValueError, match="cannot break TR999 in a JW305: breakable are CS139"):
        schrijf(start(), breek=frozenset({"TR999"}))
    zonder_omvang = replace(toewijzing(), producten=(replace(toewijzing().producten[1]),))
    with pytest.raises(ValueError, match="cannot break CS338"):
        schrijf(zonder_omvang, breek=frozenset({"CS338"}))
