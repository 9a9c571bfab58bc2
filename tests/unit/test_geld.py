"""Every rule of DOMAIN.md's money section, on the pure core (no servers).

The builders at the top (a small region with known tariffs, versions and lines with sensible
defaults) are shared with the property and actual-care tests."""

from __future__ import annotations

import calendar
import json
from dataclasses import replace
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from projections import geld as geld_module
from projections.geld import (
    Afwijzing,
    Geldcijfers,
    Geldversie,
    Regel,
    afronden,
    bekende_regels,
    bereken,
    beschikte_waarde,
    percentage,
)
from projections.regio import Regio

MAASTRICHT, MEERSSEN, HEERLEN, BUITEN = "0935", "0938", "0917", "0344"  # Utrecht: not in the region
AANBIEDER, ANDERE_AANBIEDER = "99990001", "99990002"

REGIO = Regio.model_validate({
    "id": "test", "naam": "Test", "history_start": date(2019, 1, 1),
    "gemeenten": {MAASTRICHT: "Maastricht", MEERSSEN: "Meerssen", HEERLEN: "Heerlen"},
    "declaratie_termijn": 90, "start_termijn": 30,
    "segmenten": [
        {"id": "wonen", "naam": "Wonen", "regels": [{"categorie": "43"}, {"categorie": "44"}]},
        {"id": "ambulant", "naam": "Ambulant", "uitgesloten_gemeenten": [HEERLEN],
         "regels": [{"categorie": "45"}]},
        {"id": "crisis", "naam": "Crisis", "flow": False, "regels": [{"categorie": "46"}]},
    ],
    "tarieven": [
        {"categorie": "43", "eenheid": "14", "tarief": 21000},
        {"categorie": "45", "eenheid": "04", "tarief": 9800},
        {"code": "45A02", "eenheid": "04", "tarief": 12000},
        {"categorie": "45", "eenheid": "84", "tarief": 1},
        {"categorie": "46", "eenheid": "14", "tarief": 30000, "geldig_tot": date(2022, 12, 31)},
        {"categorie": "46", "eenheid": "14", "tarief": 40000, "geldig_vanaf": date(2023, 1, 1)},
    ],
})


def versie(
    nr: int, start: date, eind: date | None = None, *, categorie: str = "45", code: str | None = None,
    gemeente: str = MAASTRICHT, client: str = "c1", aanbieder: str = AANBIEDER,
    budget: int | None = None, volume: int | None = None, eenheid: str | None = None,
    frequentie: str | None = None, toegewezen: date | None = None, dagtekening: date | None = None,
    reden: str | None = None, identificatie: str = "1",
) -> Geldversie:
    toegewezen = toegewezen or start
    return Geldversie(
        gemeentecode=gemeente, toewijzingnummer=str(nr), client=client, categorie=categorie,
        code=code or f"{categorie}A01", toegewezen_op=datetime.combine(toegewezen, time(12)),
        ingangsdatum=start, einddatum=eind, reden_wijziging=reden,
        dagtekening=dagtekening or toegewezen, identificatie=identificatie, aanbieder=aanbieder,
        volume=volume, eenheid=eenheid, frequentie=frequentie, budget=budget,
    )


def regel(
    ref: str, bedrag: int, begin: date, eind: date | None = None, *, nr: int = 1,
    gemeente: str = MAASTRICHT, aanbieder: str = AANBIEDER, client: str = "c1",
    dagtekening: date | None = None, declaratie: str = "1", vorig: str | None = None,
    categorie: str = "45",
) -> Regel:
    return Regel(
        gemeentecode=gemeente, aanbieder=aanbieder, referentienummer=ref,
        vorig_referentienummer=vorig, toewijzingnummer=str(nr), client=client,
        categorie=categorie, code=f"{categorie}A01", begindatum=begin, einddatum=eind or begin,
        bedrag=bedrag, declaratie=declaratie, dagtekening=dagtekening or (eind or begin),
    )


def afwijzing(ref: str, dagtekening: date, aanbieder: str = AANBIEDER) -> Afwijzing:
    return Afwijzing(aanbieder, ref, dagtekening)


JAAR = (date(2023, 1, 1), date(2023, 12, 31))
LAAT = date(2024, 12, 31)  # a K at which everything of 2023 is known


def seg(telling, segment_id):
    return next(s.cijfers for s in telling.segmenten if s.segment == segment_id)


def geld(versies=(), regels=(), afwijzingen=(), *, van=JAAR[0], peildatum=JAAR[1], k=LAAT, **kw):
    return bereken(list(versies), list(regels), list(afwijzingen), REGIO, van, peildatum, k, **kw)


# -- lines: knowledge time, identity, month, window --------------------------------------


def test_a_line_counts_from_its_dagtekening_on():
    v = versie(1, date(2023, 1, 1))
    r = regel("r1", 1000, date(2023, 1, 1), dagtekening=date(2023, 2, 10))
    assert seg(geld([v], [r], k=date(2023, 2, 9)), "ambulant").gedeclareerd == 0
    assert seg(geld([v], [r], k=date(2023, 2, 10)), "ambulant").gedeclareerd == 1000


def test_a_line_seen_again_adds_nothing_and_counts_from_its_first_dagtekening():
    v = versie(1, date(2023, 1, 1))
    eerst = regel("r1", 1000, date(2023, 1, 1), dagtekening=date(2023, 2, 10), declaratie="7")
    opnieuw = regel("r1", 1000, date(2023, 1, 1), dagtekening=date(2023, 3, 1), declaratie="9")
    assert seg(geld([v], [opnieuw, eerst]), "ambulant").gedeclareerd == 1000
    assert seg(geld([v], [opnieuw, eerst], k=date(2023, 2, 10)), "ambulant").gedeclareerd == 1000
    assert bekende_regels([opnieuw, eerst], LAAT) == [eerst]


def test_the_same_referentienummer_of_another_provider_is_another_line():
    v = versie(1, date(2023, 1, 1))
    regels = [regel("r1", 1000, date(2023, 1, 1)),
              regel("r1", 500, date(2023, 1, 1), aanbieder=ANDERE_AANBIEDER)]
    assert seg(geld([v], regels), "ambulant").gedeclareerd == 1500


def test_a_correction_nets_to_the_new_amount():
    v = versie(1, date(2023, 1, 1))
    origineel = regel("r1", 1000, date(2023, 3, 1), date(2023, 3, 31), dagtekening=date(2023, 4, 5))
    credit = regel("r2", -1000, date(2023, 3, 1), date(2023, 3, 31), vorig="r1",
                   dagtekening=date(2023, 5, 5), declaratie="2")
    nieuw = regel("r3", 800, date(2023, 3, 1), date(2023, 3, 31), dagtekening=date(2023, 5, 5),
                  declaratie="2")
    regels = [origineel, credit, nieuw]
    voor = seg(geld([v], regels, k=date(2023, 4, 30)), "ambulant")
    na = seg(geld([v], regels), "ambulant")
    assert (voor.gedeclareerd, voor.toegekend) == (1000, 1000)
    assert (na.gedeclareerd, na.afgewezen, na.toegekend) == (800, 0, 800)


def test_the_month_and_window_of_a_line_are_those_of_its_begindatum():
    v = versie(1, date(2022, 6, 1))
    over_de_jaargrens = regel("r1", 1000, date(2022, 12, 20), date(2023, 1, 10))
    assert over_de_jaargrens.maand == date(2022, 12, 1)
    assert seg(geld([v], [over_de_jaargrens]), "ambulant").gedeclareerd == 0
    assert seg(geld([v], [over_de_jaargrens], van=date(2022, 12, 1), peildatum=date(2022, 12, 20)),
               "ambulant").gedeclareerd == 1000
    per_maand = geld([v], [over_de_jaargrens], van=date(2022, 1, 1), peildatum=date(2023, 3, 31),
                     per="maand").uitsplitsing
    assert per_maand[date(2022, 12, 1)].gedeclareerd == 1000
    assert per_maand[date(2023, 1, 1)].gedeclareerd == 0


# -- rejections -----------------------------------------------------------------------------


def test_a_rejection_known_only_after_k_does_not_count_at_k():
    v = versie(1, date(2023, 1, 1))
    r = regel("r1", 1000, date(2023, 1, 1), dagtekening=date(2023, 2, 1))
    nee = afwijzing("r1", date(2023, 2, 20))
    voor = seg(geld([v], [r], [nee], k=date(2023, 2, 19)), "ambulant")
    na = seg(geld([v], [r], [nee], k=date(2023, 2, 20)), "ambulant")
    assert (voor.gedeclareerd, voor.afgewezen, voor.toegekend) == (1000, 0, 1000)
    assert (na.gedeclareerd, na.afgewezen, na.toegekend) == (1000, 1000, 0)


def test_a_rejection_names_the_line_by_provider_and_referentienummer():
    v = versie(1, date(2023, 1, 1))
    regels = [regel("r1", 1000, date(2023, 1, 1)), regel("r2", 300, date(2023, 1, 1))]
    c = seg(geld([v], regels, [afwijzing("r2", date(2023, 3, 1)),
                               afwijzing("r1", date(2023, 3, 1), aanbieder=ANDERE_AANBIEDER)]),
            "ambulant")
    assert (c.gedeclareerd, c.afgewezen, c.toegekend) == (1300, 300, 1000)


def test_a_rejected_credit_line_is_a_negative_afgewezen():
    v = versie(1, date(2023, 1, 1))
    regels = [regel("r1", 1000, date(2023, 1, 1)), regel("r2", -1000, date(2023, 1, 1), vorig="r1")]
    c = seg(geld([v], regels, [afwijzing("r2", date(2023, 3, 1))]), "ambulant")
    assert (c.gedeclareerd, c.afgewezen, c.toegekend) == (0, -1000, 1000)


# -- matching -------------------------------------------------------------------------------


def test_a_line_for_a_deleted_toewijzing_is_ongekoppeld():
    v = versie(1, date(2023, 1, 1))
    weg = versie(1, date(2023, 1, 1), date(2023, 1, 1), reden="13", toegewezen=date(2023, 2, 1))
    r = regel("r1", 1000, date(2023, 1, 5), dagtekening=date(2023, 1, 20))
    voor = geld([v, weg], [r], k=date(2023, 1, 31))
    na = geld([v, weg], [r], k=date(2023, 2, 1))
    assert seg(voor, "ambulant").gedeclareerd == 1000 and voor.ongekoppeld == 0
    assert seg(na, "ambulant").gedeclareerd == 0 and na.totaal.gedeclareerd == 0
    assert na.ongekoppeld == 1000 and na.ongekoppeld_per_gemeente == {MAASTRICHT: 1000}


def test_a_line_for_an_unknown_toewijzing_is_ongekoppeld_per_gemeente():
    regels = [regel("r1", 1000, date(2023, 1, 5), nr=99),
              regel("r2", 200, date(2023, 1, 5), nr=98, gemeente=MEERSSEN),
              regel("r3", 50, date(2023, 1, 5), nr=1)]
    t = geld([versie(1, date(2023, 1, 1), dagtekening=date(2024, 1, 1))], regels,
             k=date(2023, 12, 31))
    assert t.ongekoppeld == 1250
    assert t.ongekoppeld_per_gemeente == {MAASTRICHT: 1050, MEERSSEN: 200}


def test_a_line_with_a_non_numeric_toewijzingnummer_is_ongekoppeld():
    r = replace(regel("r1", 1000, date(2023, 1, 5)), toewijzingnummer="x1")
    assert geld([versie(1, date(2023, 1, 1))], [r]).ongekoppeld == 1000


def test_an_excluded_toewijzing_and_its_lines_are_out_of_scope_not_ongekoppeld():
    v = versie(1, date(2023, 1, 1), gemeente=HEERLEN, budget=36500, eind=date(2023, 12, 31))
    t = geld([v], [regel("r1", 1000, date(2023, 1, 5), gemeente=HEERLEN)])
    assert t.totaal == Geldcijfers() and t.unmapped == Geldcijfers()  # nothing anywhere
    assert t.ongekoppeld == 0 and t.buiten_scope == 1000


def test_lines_of_a_gemeente_outside_the_region_count_nowhere():
    t = geld([versie(1, date(2023, 1, 1), gemeente=BUITEN)],
             [regel("r1", 1000, date(2023, 1, 5), gemeente=BUITEN)])
    assert (t.totaal.gedeclareerd, t.ongekoppeld, t.buiten_scope, t.unmapped.gedeclareerd) == (0, 0, 0, 0)


def test_an_unmapped_toewijzing_is_reported_beside_the_totaal_with_a_warning():
    v = versie(1, date(2023, 1, 1), categorie="55")
    t = geld([v], [regel("r1", 500, date(2023, 1, 5), categorie="55")])
    assert t.unmapped.gedeclareerd == 500 and t.unmapped.zonder_beschikte_waarde == 1
    assert t.totaal.gedeclareerd == 0 and t.ongekoppeld == 0
    assert any("unmapped" in w and "500" in w for w in t.waarschuwingen)


def test_a_line_outside_the_toewijzingsperiode_counts_in_its_segment_and_beside_it():
    v = versie(1, date(2023, 2, 1), date(2023, 2, 28))
    regels = [regel("voor", 1000, date(2023, 1, 20), date(2023, 1, 31)),
              regel("over-het-eind", 500, date(2023, 2, 20), date(2023, 3, 5)),
              regel("binnen", 700, date(2023, 2, 1), date(2023, 2, 28))]
    c = seg(geld([v], regels), "ambulant")
    assert c.gedeclareerd == 2200 and c.buiten_toewijzingsperiode == 1500


def test_the_counting_version_at_k_decides_the_allocated_value():
    eerst = versie(1, date(2023, 1, 1), date(2023, 12, 31), budget=36500)
    later = versie(1, date(2023, 1, 1), date(2023, 12, 31), budget=73000, toegewezen=date(2023, 3, 1))
    assert seg(geld([later, eerst], k=date(2023, 2, 28)), "ambulant").beschikt == 36500
    assert seg(geld([later, eerst], k=date(2023, 3, 1)), "ambulant").beschikt == 73000


def test_the_segment_of_a_line_is_its_toewijzings_not_its_own_product():
    v = versie(1, date(2023, 1, 1), categorie="43")
    c = geld([v], [regel("r1", 1000, date(2023, 1, 5), categorie="45")])
    assert seg(c, "wonen").gedeclareerd == 1000 and seg(c, "ambulant").gedeclareerd == 0


# -- allocated value ------------------------------------------------------------------------


def test_a_budget_is_spread_evenly_over_the_days_of_the_allocation():
    heel_jaar = versie(1, date(2023, 1, 1), date(2023, 12, 31), budget=365000)
    over_de_jaargrens = versie(2, date(2022, 12, 1), date(2023, 1, 31), budget=62000)
    assert seg(geld([heel_jaar], peildatum=date(2023, 3, 31)), "ambulant").beschikt == 90000
    assert seg(geld([over_de_jaargrens]), "ambulant").beschikt == 31000


def test_an_open_ended_budget_has_no_allocated_value_and_stays_out_of_realisatie():
    open_ = versie(1, date(2023, 1, 1), budget=100000)
    met = versie(2, date(2023, 1, 1), date(2023, 12, 31), budget=365000)
    regels = [regel("r1", 50000, date(2023, 1, 1), nr=1), regel("r2", 36500, date(2023, 1, 1), nr=2)]
    c = seg(geld([open_, met], regels), "ambulant")
    assert c.zonder_beschikte_waarde == 1 and c.beschikt == 365000
    assert c.toegekend == 86500 and c.realisatie == Decimal("10.0")


def test_per_dag_volume_times_tariff_times_days():
    v = versie(1, date(2023, 2, 1), date(2023, 2, 10), categorie="43", volume=1, eenheid="14",
               frequentie="1")
    assert seg(geld([v]), "wonen").beschikt == 10 * 21000


def test_per_week_is_days_over_seven_and_an_open_end_counts_until_the_peildatum():
    v = versie(1, date(2023, 1, 1), date(2023, 12, 31), volume=3, eenheid="04", frequentie="2")
    open_ = versie(2, date(2023, 3, 1), volume=7, eenheid="04", frequentie="2")
    assert seg(geld([v], peildatum=date(2023, 3, 31)), "ambulant").beschikt == 3 * 9800 * 90 // 7
    assert seg(geld([open_], peildatum=date(2023, 3, 10)), "ambulant").beschikt == 10 * 9800


def test_per_maand_is_days_over_the_days_of_that_month_summed_per_month():
    v = versie(1, date(2023, 1, 15), date(2023, 2, 14), volume=10, eenheid="04", frequentie="4")
    exact = Fraction(98000 * 17, 31) + Fraction(98000 * 14, 28)
    assert beschikte_waarde(v, 9800, *JAAR) == exact
    assert seg(geld([v]), "ambulant").beschikt == 102742 == afronden(exact)


def test_totaal_binnen_geldigheidsduur_is_spread_like_a_budget():
    v = versie(1, date(2023, 1, 1), date(2023, 4, 10), volume=100, eenheid="04", frequentie="6")
    open_ = versie(2, date(2023, 1, 1), volume=100, eenheid="04", frequentie="6")
    assert seg(geld([v], peildatum=date(2023, 3, 31)), "ambulant").beschikt == 980000 * 90 // 100
    assert seg(geld([open_]), "ambulant").zonder_beschikte_waarde == 1


def test_the_most_specific_tariff_on_the_allocation_start_applies():
    code = versie(1, date(2023, 1, 1), date(2023, 1, 7), code="45A02", volume=1, eenheid="04",
                  frequentie="2")
    assert seg(geld([code]), "ambulant").beschikt == 12000
    voor = versie(2, date(2022, 12, 30), date(2023, 1, 2), categorie="46", volume=1, eenheid="14",
                  frequentie="1")
    na = versie(3, date(2023, 1, 1), date(2023, 1, 2), categorie="46", volume=1, eenheid="14",
                frequentie="1")
    assert seg(geld([voor]), "crisis").beschikt == 2 * 30000  # the 2022 tariff, also in 2023
    assert seg(geld([na]), "crisis").beschikt == 2 * 40000


def test_eenheid_euro_needs_no_tariff():
    v = versie(1, date(2023, 1, 1), date(2023, 12, 31), volume=500, eenheid="83", frequentie="4")
    assert seg(geld([v], peildatum=date(2023, 3, 31)), "ambulant").beschikt == 3 * 50000


def test_without_budget_omvang_or_tariff_there_is_no_allocated_value_and_a_warning():
    zonder = versie(1, date(2023, 1, 1), date(2023, 12, 31))
    geen_tarief = versie(2, date(2023, 1, 1), date(2023, 12, 31), volume=2, eenheid="16", frequentie="2")
    t = geld([zonder, geen_tarief])
    assert seg(t, "ambulant").zonder_beschikte_waarde == 2 and seg(t, "ambulant").beschikt == 0
    assert any("no tariff for 45/45A01 eenheid 16" in w for w in t.waarschuwingen)


def test_only_toewijzingen_overlapping_the_window_have_an_allocated_value():
    v = versie(1, date(2022, 1, 1), date(2022, 12, 31), budget=36500)
    c = seg(geld([v], [regel("r1", 1000, date(2023, 1, 5))]), "ambulant")
    assert (c.beschikt, c.zonder_beschikte_waarde, c.gedeclareerd) == (0, 0, 1000)
    assert c.buiten_toewijzingsperiode == 1000 and c.realisatie is None


def test_rounding_happens_once_per_toewijzing_and_window():
    # 1 uur per week at 120 euro: 1714.29 eurocent a day. Over two days in two months the
    # toewijzing is worth 3428.57 -> 3429, where rounding per month would give 1714 + 1714.
    v = versie(1, date(2023, 1, 31), date(2023, 2, 1), code="45A02", volume=1, eenheid="04",
               frequentie="2")
    t = geld([v], peildatum=date(2023, 2, 28), per="maand")
    assert seg(t, "ambulant").beschikt == 3429 and t.totaal.beschikt == 3429
    # a month is a window of its own: rounded per toewijzing and month
    assert t.uitsplitsing[date(2023, 1, 1)].beschikt == 1714
    assert t.uitsplitsing[date(2023, 2, 1)].beschikt == 1714


def test_rounding_is_per_toewijzing_not_over_their_sum():
    a = versie(1, date(2023, 1, 31), date(2023, 1, 31), code="45A02", volume=1, eenheid="04",
               frequentie="2")
    b = versie(2, date(2023, 1, 31), date(2023, 1, 31), code="45A02", volume=1, eenheid="04",
               frequentie="2")
    assert seg(geld([a, b]), "ambulant").beschikt == 1714 + 1714  # not round(3428.57) = 3429


@pytest.mark.parametrize(("waarde", "verwacht"), [
    (Fraction(5, 2), 3), (Fraction(-5, 2), -3), (Fraction(7, 3), 2), (Fraction(-7, 3), -2),
    (Fraction(249999, 100000), 2), (Fraction(0), 0), (Fraction(-1, 2), -1),
])
def test_afronden_is_half_away_from_zero(waarde, verwacht):
    assert afronden(waarde) == verwacht


# -- realisatie, zonder declaratie, jeugdigen -----------------------------------------------


def test_realisatie_is_toegekend_over_beschikt_with_one_decimal():
    v = versie(1, date(2023, 2, 1), date(2023, 2, 10), categorie="43", volume=1, eenheid="14",
               frequentie="1")
    regels = [regel("r1", 100000, date(2023, 2, 1)), regel("r2", 50000, date(2023, 2, 5))]
    c = seg(geld([v], regels, [afwijzing("r2", date(2023, 3, 1))]), "wonen")
    assert (c.beschikt, c.toegekend, c.realisatie) == (210000, 100000, Decimal("47.6"))
    assert (percentage(1, 8), percentage(1, 16), percentage(-1, 16)) == (
        Decimal("12.5"), Decimal("6.3"), Decimal("-6.3"))


def test_realisatie_is_nvt_when_beschikt_is_zero():
    c = seg(geld([versie(1, date(2023, 1, 1))], [regel("r1", 1000, date(2023, 1, 5))]), "ambulant")
    assert c.beschikt == 0 and c.realisatie is None
    assert seg(geld(), "wonen").realisatie is None


def test_toewijzingen_zonder_declaratie():
    # peildatum 2023-12-31 before K: reference date 2023-12-31, 90 days before: 2023-10-02
    precies = versie(1, date(2023, 10, 2), date(2023, 12, 31), budget=9100)
    te_kort = versie(2, date(2023, 10, 3), date(2023, 12, 31), budget=9000)
    teruggedraaid = versie(3, date(2023, 1, 1), date(2023, 12, 31), budget=36500)
    betaald = versie(4, date(2023, 1, 1), date(2023, 12, 31), budget=36500)
    afgewezen = versie(5, date(2023, 1, 1), date(2023, 12, 31))
    regels = [regel("a", 1000, date(2023, 2, 1), nr=3), regel("b", -1000, date(2023, 2, 1), nr=3, vorig="a"),
              regel("c", 1000, date(2023, 2, 1), nr=4), regel("d", 1000, date(2023, 2, 1), nr=5)]
    c = seg(geld([precies, te_kort, teruggedraaid, betaald, afgewezen], regels,
                 [afwijzing("d", date(2023, 3, 1))]), "ambulant")
    assert c.toewijzingen_zonder_declaratie == 3  # precies, teruggedraaid, afgewezen
    assert c.zonder_declaratie_beschikt == 9100 + 36500


def test_zonder_declaratie_counts_from_min_k_peildatum():
    v = versie(1, date(2023, 3, 1), date(2023, 12, 31), budget=30600)
    assert seg(geld([v], k=date(2023, 5, 29)), "ambulant").toewijzingen_zonder_declaratie == 0
    assert seg(geld([v], k=date(2023, 5, 30)), "ambulant").toewijzingen_zonder_declaratie == 1


def test_jeugdigen_met_declaratie_and_kosten_per_jeugdige():
    versies = [versie(1, date(2023, 1, 1), client="c1"), versie(2, date(2023, 1, 1), client="c2"),
               versie(3, date(2023, 1, 1), client="c1", categorie="43"),
               versie(4, date(2023, 1, 1), client="c3", categorie="43"),
               versie(5, date(2023, 1, 1), client="c3")]
    regels = [regel("a", 1000, date(2023, 1, 1), nr=1, client="c1"),
              regel("b", 1000, date(2023, 1, 1), nr=2, client="c2"),
              regel("c", -1000, date(2023, 1, 1), nr=2, client="c2", vorig="b"),
              regel("d", 3001, date(2023, 1, 1), nr=3, client="c1"),
              regel("e", -200, date(2023, 1, 1), nr=4, client="c3"),
              regel("f", 100, date(2023, 1, 1), nr=5, client="c3")]
    t = geld(versies, regels)
    ambulant, wonen = seg(t, "ambulant"), seg(t, "wonen")
    assert (ambulant.jeugdigen_met_declaratie, ambulant.toegekend, ambulant.kosten_per_jeugdige) == (
        2, 1100, 550)  # c1 and c3; c2 nets to zero
    assert (wonen.jeugdigen_met_declaratie, wonen.kosten_per_jeugdige) == (1, 2801)
    # the totaal de-duplicates c1, and c3 nets to -100 over the totaal's lines
    assert (t.totaal.jeugdigen_met_declaratie, t.totaal.toegekend, t.totaal.kosten_per_jeugdige) == (
        1, 3901, 3901)


def test_kosten_per_jeugdige_is_rounded_half_away_from_zero_and_nvt_without_children():
    versies = [versie(1, date(2023, 1, 1), client="c1"), versie(2, date(2023, 1, 1), client="c2")]
    regels = [regel("a", 500, date(2023, 1, 1), nr=1, client="c1"),
              regel("b", 501, date(2023, 1, 1), nr=2, client="c2")]
    assert seg(geld(versies, regels), "ambulant").kosten_per_jeugdige == 501
    assert seg(geld(versies), "ambulant").kosten_per_jeugdige is None


# -- scope, breakdowns, contract ------------------------------------------------------------


def _voorbeeld():
    versies = [
        versie(1, date(2023, 1, 1), date(2023, 12, 31), budget=365000),
        versie(2, date(2023, 1, 1), date(2023, 12, 31), categorie="43", volume=1, eenheid="14",
               frequentie="1", gemeente=MEERSSEN, client="c2", aanbieder=ANDERE_AANBIEDER),
        versie(3, date(2023, 6, 1), code="45A02", volume=2, eenheid="04", frequentie="2", client="c3"),
    ]
    regels = [regel("a", 20000, date(2023, 1, 1), date(2023, 1, 31), nr=1),
              regel("b", 30000, date(2023, 2, 1), date(2023, 2, 28), nr=1),
              regel("c", 651000, date(2023, 1, 1), date(2023, 1, 31), nr=2, gemeente=MEERSSEN,
                    client="c2", aanbieder=ANDERE_AANBIEDER, categorie="43"),
              regel("d", 9999, date(2023, 6, 1), date(2023, 6, 30), nr=3, client="c3"),
              regel("e", 777, date(2023, 6, 1), nr=42)]
    return versies, regels, [afwijzing("b", date(2023, 3, 15))]


def test_every_configured_segment_is_reported_and_the_totaal_is_their_sum():
    t = geld(*_voorbeeld(), peildatum=date(2023, 6, 30), k=date(2023, 12, 31))
    assert [s.segment for s in t.segmenten] == ["wonen", "ambulant", "crisis"]
    assert seg(t, "crisis") == Geldcijfers()
    for naam in ("gedeclareerd", "afgewezen", "toegekend", "beschikt", "zonder_beschikte_waarde",
                 "toewijzingen_zonder_declaratie", "buiten_toewijzingsperiode"):
        assert getattr(t.totaal, naam) == sum(getattr(s.cijfers, naam) for s in t.segmenten)
    assert t.ongekoppeld == 777 and t.totaal.gedeclareerd == 20000 + 30000 + 651000 + 9999


def test_one_gemeente():
    t = geld(*_voorbeeld(), gemeente=MEERSSEN)
    assert t.totaal.gedeclareerd == 651000 and t.ongekoppeld == 0
    assert seg(t, "ambulant").gedeclareerd == 0


@pytest.mark.parametrize("per", ["gemeente", "aanbieder", "product"])
def test_breakdowns_add_up_to_the_totaal(per):
    t = geld(*_voorbeeld(), per=per)
    for naam in ("gedeclareerd", "afgewezen", "toegekend", "beschikt", "zonder_beschikte_waarde"):
        assert getattr(t.totaal, naam) == sum(getattr(c, naam) for c in t.uitsplitsing.values())


def test_breakdown_keys():
    versies, regels, afwijzingen = _voorbeeld()
    assert list(geld(versies, regels, afwijzingen, per="gemeente").uitsplitsing) == [MAASTRICHT, MEERSSEN]
    assert list(geld(versies, regels, afwijzingen, per="aanbieder").uitsplitsing) == [
        AANBIEDER, ANDERE_AANBIEDER]
    assert list(geld(versies, regels, afwijzingen, per="product").uitsplitsing) == [
        (MAASTRICHT, "45", "45A01"), (MAASTRICHT, "45", "45A02"), (MEERSSEN, "43", "43A01")]
    maanden = geld(versies, regels, afwijzingen, per="maand").uitsplitsing
    assert list(maanden) == [date(2023, m, 1) for m in range(1, 13)]
    assert maanden[date(2023, 2, 1)].gedeclareerd == 30000
    assert maanden[date(2023, 2, 1)].afgewezen == 30000
    assert maanden[date(2023, 2, 1)].beschikt == 28000 + 28 * 21000 + 0


def test_als_dict_follows_the_costs_json_contract():
    t = geld(*_voorbeeld(), k=date(2024, 1, 31), k_getoond=date(2024, 1, 31))
    d = json.loads(json.dumps(t.als_dict()))
    assert list(d) == ["region", "from", "peildatum", "known_at", "gemeente", "segments",
                       "ongekoppeld", "totaal", "warnings"]
    sleutels = ["gedeclareerd", "afgewezen", "toegekend", "beschikt", "realisatie",
                "toewijzingen_zonder_declaratie", "zonder_beschikte_waarde",
                "buiten_toewijzingsperiode", "jeugdigen_met_declaratie", "kosten_per_jeugdige"]
    assert all(list(s) == ["segment", *sleutels] for s in d["segments"])
    assert list(d["totaal"]) == sleutels
    assert (d["region"], d["from"], d["peildatum"], d["known_at"], d["gemeente"]) == (
        "test", "2023-01-01", "2023-12-31", "2024-01-31", None)
    ambulant = d["segments"][1]
    assert ambulant["segment"] == "ambulant" and isinstance(ambulant["realisatie"], float)
    assert d["segments"][2]["realisatie"] is None and d["segments"][2]["kosten_per_jeugdige"] is None
    assert d["ongekoppeld"] == 777 and isinstance(d["warnings"], list)
    for s in [*d["segments"], d["totaal"]]:
        assert all(type(s[k]) is int for k in sleutels if k not in ("realisatie", "kosten_per_jeugdige"))


def test_als_dict_of_another_breakdown_has_rows():
    d = geld(*_voorbeeld(), per="maand").als_dict()
    assert d["by"] == "month" and d["rows"][0]["month"] == "2023-01" and "segments" not in d
    d = geld(*_voorbeeld(), per="gemeente").als_dict()
    assert d["rows"][0]["gemeente"] == MAASTRICHT and d["rows"][0]["ongekoppeld"] == 777


def test_a_k_soon_after_the_peildatum_warns_that_declarations_may_still_arrive():
    assert any("may still arrive" in w for w in geld(k=JAAR[1] + timedelta(days=89)).waarschuwingen)
    assert not any("may still arrive" in w for w in geld(k=JAAR[1] + timedelta(days=90)).waarschuwingen)


def test_a_peildatum_before_from_is_refused():
    with pytest.raises(ValueError, match="before from"):
        geld(van=date(2023, 2, 1), peildatum=date(2023, 1, 1))


@pytest.mark.parametrize("begin, einde", [
    (date(2023, 1, 1), date(2023, 12, 31)), (date(2023, 1, 15), date(2023, 1, 20)),
    (date(2023, 1, 31), date(2023, 2, 1)), (date(2023, 2, 10), date(2024, 3, 5)),
    (date(2024, 2, 29), date(2024, 2, 29)), (date(2023, 5, 2), date(2023, 5, 1)),
    (date(2021, 11, 30), date(2024, 1, 31)),
])
def test_per_maand_counts_days_over_days_of_each_month(begin, einde):
    """The closed form (whole months count one) against the sum month by month."""
    maanden = sum((Fraction(min(eind, einde).day - max(start, begin).day + 1,
                            calendar.monthrange(start.year, start.month)[1])
                   for start, eind in _maandvensters(begin, einde)), Fraction(0))
    assert Fraction(geld_module._maanddelen(begin, einde), geld_module._MAANDNOEMER) == maanden


def _maandvensters(begin: date, einde: date):
    maand = begin.replace(day=1)
    while maand <= einde:
        laatste = maand.replace(day=calendar.monthrange(maand.year, maand.month)[1])
        yield maand, laatste
        maand = laatste + timedelta(days=1)


GEDATEERD = Regio.model_validate({
    "id": "gedateerd", "naam": "Gedateerd", "history_start": date(2019, 1, 1),
    "gemeenten": {MAASTRICHT: "Maastricht", HEERLEN: "Heerlen"},
    "segmenten": [
        {"id": "oud", "naam": "Oud", "regels": [{"categorie": "45", "geldig_tot": date(2022, 6, 30)}]},
        {"id": "nieuw", "naam": "Nieuw", "uitgesloten_gemeenten": [HEERLEN],
         "regels": [{"categorie": "45", "geldig_vanaf": date(2022, 7, 1)},
                    {"code": "45A02", "gemeenten": [MAASTRICHT], "geldig_vanaf": date(2023, 3, 1)}]},
    ],
    "tarieven": [
        {"categorie": "45", "eenheid": "04", "tarief": 9000, "geldig_tot": date(2022, 12, 31)},
        {"categorie": "45", "eenheid": "04", "tarief": 9500, "geldig_vanaf": date(2023, 1, 1)},
        {"code": "45A02", "eenheid": "04", "tarief": 12000, "geldig_vanaf": date(2023, 2, 15)},
    ],
})


def test_a_question_places_every_toewijzing_as_the_region_rules_do_on_its_start_date():
    """Segment, scope and tariff are looked up once per product and run of start dates
    between the rules' validity dates: on and around every such date the answer is the
    rules' own (`Regio.segment_voor`, `tarief_voor`)."""
    starts = [date(2022, 6, 29) + timedelta(days=d) for d in range(0, 300, 3)] + [
        date(2022, 6, 30), date(2022, 7, 1), date(2022, 12, 31), date(2023, 1, 1),
        date(2023, 2, 14), date(2023, 2, 15), date(2023, 2, 28), date(2023, 3, 1)]
    versies = [versie(i, start, start + timedelta(days=40), code=code, gemeente=gemeente,
                      volume=1, eenheid="04", frequentie="1")
               for i, (start, code, gemeente) in enumerate(
                   (s, c, g) for s in starts for c in ("45A01", "45A02") for g in (MAASTRICHT, HEERLEN))]
    geplaatst = geld_module._in_scope([geld_module.Geldend.uit(v) for v in versies], GEDATEERD)
    for v in versies:
        segment = GEDATEERD.segment_voor(v.gemeentecode, v.categorie, v.code, v.ingangsdatum)
        t = geplaatst.get(v.sleutel)
        if segment is not None and v.gemeentecode in segment.uitgesloten_gemeenten:
            assert t is None, v
            continue
        assert t is not None and t.segment == (segment.id if segment else None), v
        assert t.tarief == GEDATEERD.tarief_voor(v.gemeentecode, v.categorie, v.code, "04",
                                                 v.ingangsdatum), v
