"""Properties of the money figures over random versions, lines and rejections: amounts add up,
every line in the window lands in exactly one place, nothing after K matters, and the order
of the input never does."""

from __future__ import annotations

from dataclasses import fields
from datetime import date, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.geld import Geldcijfers, bekende_regels, bereken, in_window
from tests.unit.test_geld import (
    AANBIEDER,
    ANDERE_AANBIEDER,
    BUITEN,
    HEERLEN,
    MAASTRICHT,
    MEERSSEN,
    REGIO,
    afwijzing,
    regel,
    versie,
)

BASIS = date(2022, 10, 1)
GEMEENTEN = [MAASTRICHT, MEERSSEN, HEERLEN]  # Heerlen is excluded from ambulant
BEDRAGEN = ("gedeclareerd", "afgewezen", "toegekend", "beschikt", "toewijzingen_zonder_declaratie",
            "zonder_declaratie_beschikt", "zonder_beschikte_waarde", "buiten_toewijzingsperiode")


def dag(draw, hoogste: int = 600) -> date:
    return BASIS + timedelta(days=draw(st.integers(0, hoogste)))


@st.composite
def geldversie(draw):
    start = dag(draw)
    soort = draw(st.sampled_from(["open", "eind", "verwijder"]))
    eind = (None if soort == "open" else start if soort == "verwijder"
            else start + timedelta(days=draw(st.integers(0, 400))))
    waarde = draw(st.sampled_from(["budget", "week", "maand", "dag", "totaal", "geen", "zonder-tarief"]))
    geld: dict[str, object] = {}
    if waarde == "budget":
        geld = {"budget": draw(st.integers(0, 10_000_000))}
    elif waarde == "zonder-tarief":
        geld = {"volume": 3, "eenheid": "16", "frequentie": "2"}
    elif waarde != "geen":
        geld = {"volume": draw(st.integers(1, 40)), "eenheid": draw(st.sampled_from(["04", "14", "83"])),
                "frequentie": {"week": "2", "maand": "4", "dag": "1", "totaal": "6"}[waarde]}
    toegewezen = dag(draw, 700)
    return versie(
        draw(st.integers(1, 6)), start, eind,
        categorie=draw(st.sampled_from(["43", "45", "45", "46", "55"])),
        gemeente=draw(st.sampled_from(GEMEENTEN)), client=draw(st.sampled_from("abc")),
        aanbieder=draw(st.sampled_from([AANBIEDER, ANDERE_AANBIEDER])),
        toegewezen=toegewezen, dagtekening=toegewezen + timedelta(days=draw(st.integers(0, 60))),
        reden="13" if soort == "verwijder" else None,
        identificatie=str(draw(st.integers(1, 3))), **geld,  # type: ignore[arg-type]
    )


@st.composite
def declaratieregel(draw):
    begin = dag(draw)
    return regel(
        f"r{draw(st.integers(0, 14))}", draw(st.integers(-50_000, 50_000)), begin,
        begin + timedelta(days=draw(st.integers(0, 40))), nr=draw(st.integers(1, 7)),
        gemeente=draw(st.sampled_from([*GEMEENTEN, BUITEN])),
        aanbieder=draw(st.sampled_from([AANBIEDER, ANDERE_AANBIEDER])),
        client=draw(st.sampled_from("abc")),
        dagtekening=begin + timedelta(days=draw(st.integers(0, 200))),
        declaratie=str(draw(st.integers(1, 5))),
    )


@st.composite
def afwijzing_(draw):
    return afwijzing(f"r{draw(st.integers(0, 14))}", dag(draw, 800),
                     draw(st.sampled_from([AANBIEDER, ANDERE_AANBIEDER])))


@st.composite
def invoer(draw):
    van = dag(draw, 400)
    return (draw(st.lists(geldversie(), max_size=12)), draw(st.lists(declaratieregel(), max_size=25)),
            draw(st.lists(afwijzing_(), max_size=8)), van,
            van + timedelta(days=draw(st.integers(0, 300))), dag(draw, 800))


def alle_cijfers(telling) -> list[Geldcijfers]:
    return [telling.totaal, telling.unmapped, *(s.cijfers for s in telling.segmenten),
            *telling.uitsplitsing.values()]


@settings(max_examples=200, deadline=None)
@given(invoer(), st.sampled_from(["segment", "gemeente", "maand", "aanbieder", "product"]))
def test_toegekend_is_gedeclareerd_minus_afgewezen_and_realisatie_needs_beschikt(data, per):
    versies, regels, afwijzingen, van, peildatum, k = data
    telling = bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k, per=per)
    for c in alle_cijfers(telling):
        assert c.toegekend == c.gedeclareerd - c.afgewezen
        assert (c.realisatie is None) == (c.beschikt == 0)
        assert (c.kosten_per_jeugdige is None) == (c.jeugdigen_met_declaratie == 0)


@settings(max_examples=200, deadline=None)
@given(invoer())
def test_every_line_in_the_window_lands_in_exactly_one_place(data):
    versies, regels, afwijzingen, van, peildatum, k = data
    telling = bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k)
    verwacht = sum(r.bedrag for r in bekende_regels(regels, k)
                   if r.gemeentecode in REGIO.gemeenten and in_window(r, van, peildatum))
    segmenten = sum(s.cijfers.gedeclareerd for s in telling.segmenten)
    assert (segmenten + telling.unmapped.gedeclareerd + telling.ongekoppeld + telling.buiten_scope
            == verwacht)
    assert telling.ongekoppeld == sum(telling.ongekoppeld_per_gemeente.values())


@settings(max_examples=150, deadline=None)
@given(invoer(), st.sampled_from(["gemeente", "aanbieder", "product", "segment"]))
def test_the_totaal_is_the_sum_of_the_segments_and_of_every_breakdown(data, per):
    versies, regels, afwijzingen, van, peildatum, k = data
    telling = bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k, per=per)
    for naam in BEDRAGEN:
        assert getattr(telling.totaal, naam) == sum(getattr(s.cijfers, naam) for s in telling.segmenten)
        assert getattr(telling.totaal, naam) == sum(getattr(c, naam) for c in telling.uitsplitsing.values())
    kinderen = [s.cijfers.jeugdigen_met_declaratie for s in telling.segmenten]
    assert telling.totaal.jeugdigen_met_declaratie <= sum(kinderen)


@settings(max_examples=100, deadline=None)
@given(invoer())
def test_a_gemeente_alone_equals_its_cell_of_the_gemeente_breakdown(data):
    versies, regels, afwijzingen, van, peildatum, k = data
    per_gemeente = bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k, per="gemeente")
    for gemeente in GEMEENTEN:
        alleen = bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k, gemeente=gemeente)
        assert alleen.totaal == per_gemeente.uitsplitsing.get(gemeente, Geldcijfers())
        assert alleen.ongekoppeld == per_gemeente.ongekoppeld_per_gemeente.get(gemeente, 0)


@settings(max_examples=200, deadline=None)
@given(invoer(), st.sampled_from(["segment", "maand", "product"]))
def test_results_at_k_never_depend_on_what_is_dated_after_k(data, per):
    versies, regels, afwijzingen, van, peildatum, k = data
    alles = bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k, per=per)
    bekend = bereken([v for v in versies if v.dagtekening <= k], [r for r in regels if r.dagtekening <= k],
                     [a for a in afwijzingen if a.dagtekening <= k], REGIO, van, peildatum, k, per=per)
    assert alles == bekend


@settings(max_examples=200, deadline=None)
@given(invoer(), st.randoms(use_true_random=False), st.sampled_from(["segment", "maand", "aanbieder"]))
def test_the_order_of_the_input_never_matters(data, random, per):
    versies, regels, afwijzingen, van, peildatum, k = data
    eerst = bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k, per=per)
    for lijst in (versies, regels, afwijzingen):
        random.shuffle(lijst)
    assert bereken(versies, regels, afwijzingen, REGIO, van, peildatum, k, per=per) == eerst


def test_the_properties_cover_every_figure():
    assert set(BEDRAGEN) | {"realisatie", "jeugdigen_met_declaratie", "kosten_per_jeugdige"} == {
        f.name for f in fields(Geldcijfers)}
