"""The dashboard page rendered over the in-memory view, in milliseconds: what the page says
and how (Dutch, charts readable without colour, every view a URL)."""

from __future__ import annotations

import re

from projections.projectie import FlowProjectie
from projections.regio import laad_regios
from projections.view import InMemoryFlowView
from projections.vragen import Leeskant
from services.http import dashboard
from tests.unit.test_projectie_in_geheugen import _eventlog

REGIOS = laad_regios([])
ZL = REGIOS["zuid-limburg"]


def _leeskant() -> Leeskant:
    view = InMemoryFlowView()
    events = _eventlog()
    FlowProjectie(view, [ZL]).projecteer(list(enumerate(events, start=1)), len(events))
    return Leeskant(view, laatste=lambda: len(events) + 3)


def _tekst(html: str) -> str:
    html = re.sub(r"<style>.*?</style>|<script>.*?</script>", "", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_first_view_is_the_last_peildatum_with_data():
    html, status = dashboard.pagina(_leeskant(), REGIOS, {})
    assert status == 200
    assert "Peildatum 2023-06-30: de laatste peildatum met gegevens" in _tekst(html)
    assert "3 gebeurtenissen nog niet verwerkt" in _tekst(html)  # the stand, with the lag


def test_a_gemeente_by_name_is_its_own_page_with_a_way_back():
    html, status = dashboard.pagina(_leeskant(), REGIOS, {
        "regio": "zuid-limburg", "gemeente": "heerlen", "peildatum": "2023-12-31"})
    assert status == 200
    assert "gemeente Heerlen (0917) in Zuid-Limburg" in _tekst(html)
    assert '<option value="0917" selected>' in html and 'id="naar-regio"' in html


def test_charts_have_axes_gridlines_legend_and_values_on_hover():
    html, _ = dashboard.pagina(_leeskant(), REGIOS, {"regio": "zuid-limburg",
                                                     "peildatum": "2023-12-31"})
    grafiek = re.search(r'<figure data-segment="wonen">.*?</figure>', html, re.S).group(0)
    assert "aantal toewijzingen" in grafiek and 'stroke="#ddd"' in grafiek  # axis title, grid
    assert "<title>2023-06: totale instroom 1</title>" in grafiek  # the Heerlen doorstroom
    assert 'stroke-dasharray="6 4"' in grafiek and "<rect" in grafiek  # not colour alone
    assert "uitstroom (gestreept, vierkantjes)" in grafiek


def test_gemeenten_sortable_one_figure_per_column_with_drill_down_links():
    html, _ = dashboard.pagina(_leeskant(), REGIOS, {"regio": "zuid-limburg",
                                                     "peildatum": "2023-12-31"})
    tabel = re.search(r'<table id="gemeenten".*?</table>', html, re.S).group(0)
    assert 'class="sorteerbaar"' in tabel and 'class="sorteer"' in tabel
    # one column per figure: a cell per gemeente and flow segment, but for the 3 that buy
    # ambulant themselves; crisis (no flow figures) has in zorg only
    assert tabel.count('data-veld="instroom_totaal"') == 16 * 3 - 3
    assert tabel.count('data-segment="crisis"') == 16
    assert "/?regio=zuid-limburg&amp;gemeente=0935&amp;" in tabel


def test_kpi_cards_compare_with_a_year_earlier():
    html, _ = dashboard.pagina(_leeskant(), REGIOS, {"regio": "zuid-limburg",
                                                     "peildatum": "2023-12-31"})
    kaarten = _tekst(re.search(r'id="kaarten".*?</div>', html, re.S).group(0))
    assert "2022-01-01 t/m 2022-12-31" in _tekst(html)
    assert "▲ +" in kaarten and "(was 0)" in kaarten


def test_exports_are_links_to_the_same_question():
    html, _ = dashboard.pagina(_leeskant(), REGIOS, {"regio": "zuid-limburg", "gemeente": "0935",
                                                     "peildatum": "2023-12-31",
                                                     "bekend_op": "2024-03-01"})
    assert ('/api/counts?region=zuid-limburg&amp;peildatum=2023-12-31&amp;from=2023-01-01&amp;'
            'known_at=2024-03-01&amp;gemeente=0935&amp;format=xlsx') in html
    assert "publication=true" in html and "/api/diff?" in html and "/api/timeseries?" in html


def test_a_wrong_question_keeps_the_form_and_says_what_was_wrong():
    html, status = dashboard.pagina(_leeskant(), REGIOS, {"regio": "zuid-limburg",
                                                          "gemeente": "Amsterdam"})
    assert status == 400 and 'id="vraag"' in html and "Maastricht (0935)" in html
