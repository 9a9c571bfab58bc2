"""The dashboard as an analyst uses it, in a real browser: Playwright (the PyPI package) drives
Debian's Chromium (never a downloaded browser). It picks a region, two knowledge dates and a
gemeente in the form, checks every figure on the page against the API, sorts the gemeenten,
follows a drill-down, downloads the CSV and the xlsx and reads them back, and keeps
screenshots (desktop and a 390 px phone) in test-artifacts/.

One hand-made history, one server and one browser for the module's one test."""

from __future__ import annotations

import csv
import io
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from openpyxl import load_workbook

from services import bootstrap
from services.http.api import maak_api
from services.http.toegang import Toegang
from services.projector.runner import eventlog
from services.runtime import free_port
from tests.integration.handmade import MAASTRICHT
from tests.integration.test_dashboard_browser import chromium  # noqa: F401  (the fixture)

pytestmark = pytest.mark.integration

playwright_sync = pytest.importorskip("playwright.sync_api")

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
REGIO = "zuid-limburg"
PEILDATUM, K1, K2 = "2023-12-31", "2023-12-31", "2025-01-01"
FIGUREN = ["instroom", "stapeling", "doorstroom", "recidive", "hernieuwde_instroom", "uitstroom",
           "uitstroom_voorlopig", "in_zorg", "unieke_jeugdigen"]


@pytest.fixture
def browser(server: str, chromium: str) -> Iterator[Any]:  # noqa: F811  (the fixture)
    """Debian's Chromium (installed with apt when missing, see `chromium`) under Playwright.
    Started after the server: the setup of the history runs asyncio, which cannot run inside
    Playwright's sync loop. One test, one browser."""
    with playwright_sync.sync_playwright() as p:
        try:
            b = p.chromium.launch(executable_path=chromium, args=["--no-sandbox", "--disable-gpu"])
        except playwright_sync.Error as fout:
            pytest.skip(f"Playwright cannot start {chromium}: {str(fout).splitlines()[0]}")
        yield b
        b.close()


@pytest.fixture
def server(settings, projected) -> Iterator[str]:
    """The API over the projected hand-made history; access is not what this test is about."""
    regios = bootstrap.regios(settings)
    web = maak_api(bootstrap.leeskant(projected), lambda: eventlog(projected.store), regios,
                   toegang=Toegang.zonder_controle(regios))
    port = free_port()
    uvi = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uvi.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvi.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvi.should_exit = True
    thread.join(timeout=10)


def _getal(waarde: object) -> str:
    return "n.v.t." if waarde is None else str(waarde)


def _cellen(page: Any, selector: str) -> list[dict[str, str]]:
    return page.eval_on_selector_all(selector, """els => els.map(e => ({
        segment: e.dataset.segment, veld: e.dataset.veld, gemeente: e.dataset.gemeente || '',
        tekst: (e.firstChild ? e.firstChild.textContent : '').trim(), vorig: e.querySelector
        && e.querySelector('[data-vorig]') ? e.querySelector('[data-vorig]').dataset.vorig : '',
        toen: e.dataset.toen || '', nu: e.dataset.nu || '', maand: e.dataset.maand || '',
        waarde: e.dataset.waarde || ''}))""")


def _instroom_totaal(s: dict[str, Any]) -> int | None:
    return None if not s["flow"] else sum(s[c] for c in FIGUREN[:5])


def _per_segment(counts: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {s["segment"]: {**s, "instroom_totaal": _instroom_totaal(s)} for s in counts["segments"]}


def _vergelijk_met_api(page: Any, api: httpx.Client, gemeente: str | None) -> int:
    """Every figure on the page against the API; returns how many were compared."""
    vraag = {"region": REGIO, "peildatum": PEILDATUM, "known_at": K1}
    if gemeente:
        vraag["gemeente"] = gemeente
    counts = _per_segment(api.get("/api/counts", params=vraag).json())
    vorig = _per_segment(api.get("/api/counts", params={
        **vraag, "peildatum": "2022-12-31", "from": "2022-01-01"}).json())
    vergeleken = 0
    for cel in _cellen(page, "#tabel td[data-veld], #kaarten dd[data-veld]"):
        assert cel["tekst"] == _getal(counts[cel["segment"]][cel["veld"]]), cel
        if cel["vorig"]:
            assert cel["vorig"] == _getal(vorig[cel["segment"]][cel["veld"]]), cel
        vergeleken += 1
    totaal = api.get("/api/counts", params=vraag).json()["totaal_unieke_jeugdigen"]
    assert page.inner_text("#totaal") == str(totaal)
    duur = {d["segment"]: d for d in api.get("/api/zorgduur", params=vraag).json()}
    namen = {"afgesloten": "ended", "mediaan": "median_days", "p90": "p90_days", "lopend": "ongoing"}
    for cel in _cellen(page, "#zorgduur td[data-veld]"):
        if cel["veld"] in namen:
            assert cel["tekst"] == _getal(duur[cel["segment"]][namen[cel["veld"]]]), cel
            vergeleken += 1
    reeks = {(r["month"], r["segment"]): r for r in api.get("/api/timeseries", params={
        "region": REGIO, "from_month": "2023-01", "to_month": "2023-12", "known_at": K1,
        **({"gemeente": gemeente} if gemeente else {})}).json()}
    for figuur in page.query_selector_all("#trend figure"):
        segment = figuur.get_attribute("data-segment")
        for punt in _cellen(figuur, "[data-maand]"):
            assert punt["waarde"] == _getal(reeks[(punt["maand"], segment)][punt["veld"]]), punt
            vergeleken += 1
    diff = api.get("/api/diff", params=[("region", REGIO), ("peildatum", PEILDATUM),
                                        ("known_at", K1), ("known_at", K2),
                                        *([("gemeente", gemeente)] if gemeente else [])]).json()
    een, twee = _per_segment(diff["k1"]), _per_segment(diff["k2"])
    for cel in _cellen(page, "#verschil td[data-veld]"):
        assert (cel["toen"], cel["nu"]) == (str(een[cel["segment"]][cel["veld"]]),
                                            str(twee[cel["segment"]][cel["veld"]])), cel
        vergeleken += 1
    toewijzingen = page.inner_text("#wijzigingen") if diff["allocations"] else ""
    for a in diff["allocations"]:
        assert a["toewijzing"] in toewijzingen
    return vergeleken


def test_an_analyst_day_in_the_browser(browser, server):
    api = httpx.Client(base_url=server)
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()

    # the first view: the last day with data, said so
    page.goto(server + "/")
    assert page.input_value("#veld-peildatum") == "2023-08-31"
    assert "de laatste peildatum met gegevens" in page.inner_text("#peildatum-keuze")

    # region, window and two knowledge dates from the form: a shareable URL
    page.select_option("#veld-regio", REGIO)
    page.fill("#veld-van", "2023-01-01")
    page.fill("#veld-peildatum", PEILDATUM)
    page.fill("#veld-bekend_op", K1)
    page.fill("#veld-vergelijk_op", K2)
    page.click("#toon")
    page.wait_for_load_state()
    for deel in (f"regio={REGIO}", f"peildatum={PEILDATUM}", f"bekend_op={K1}", f"vergelijk_op={K2}"):
        assert deel in page.url
    assert _vergelijk_met_api(page, api, None) > 100

    # the gemeenten side by side, against the API, then sorted by a column
    gemeenten = {g["gemeente"]: {s["segment"]: s for s in g["counts"]["segments"]}
                 for g in api.get("/api/gemeenten", params={
                     "region": REGIO, "peildatum": PEILDATUM, "known_at": K1}).json()}
    for cel in _cellen(page, "#gemeenten td[data-veld]"):
        s = gemeenten[cel["gemeente"]][cel["segment"]]
        verwacht = _instroom_totaal(s) if cel["veld"] == "instroom_totaal" else s[cel["veld"]]
        assert cel["tekst"] == _getal(verwacht), cel
    page.click('#gemeenten th[data-kolom="5"]')  # wonen: uitstroom
    page.click('#gemeenten th[data-kolom="5"]')  # descending
    eerste = page.eval_on_selector("#gemeenten tbody tr", "r => r.cells[5].textContent")
    assert eerste == str(max(g["wonen"]["uitstroom"] for g in gemeenten.values()))
    page.screenshot(path=str(ARTIFACTS / "dashboard-desktop.png"), full_page=True)

    # the drill-down to Maastricht: its own figures, trends and difference
    page.click(f'#gemeenten a.drill[data-gemeente="{MAASTRICHT}"]')
    page.wait_for_load_state()
    assert f"gemeente={MAASTRICHT}" in page.url
    assert "Maastricht (0935)" in page.inner_text("#titel")
    _vergelijk_met_api(page, api, MAASTRICHT)
    page.screenshot(path=str(ARTIFACTS / "dashboard-gemeente-desktop.png"), full_page=True)

    # downloads from this view: CSV and xlsx, read back against the API
    counts = api.get("/api/counts", params={"region": REGIO, "peildatum": PEILDATUM, "known_at": K1,
                                            "gemeente": MAASTRICHT}).json()
    with page.expect_download() as gekregen:
        page.click('.uitvoer a[data-export="csv"] >> nth=0')
    tekst = Path(gekregen.value.path()).read_text(encoding="utf-8")
    assert "# gemeente: Maastricht (0935)" in tekst and f"# bekend op: {K1}" in tekst
    rijen = {r[0]: r for r in csv.reader(line for line in io.StringIO(tekst)
                                         if not line.startswith("#"))}
    for s in counts["segments"]:
        assert rijen[s["segment"]][2:11] == [_getal(s[f]) for f in FIGUREN]
    with page.expect_download() as gekregen:
        page.click('.uitvoer a[data-export="xlsx"] >> nth=0')
    assert gekregen.value.suggested_filename.endswith(".xlsx")
    blad = load_workbook(io.BytesIO(Path(gekregen.value.path()).read_bytes())).active
    xrijen = {r[0]: r for r in blad.iter_rows(values_only=True) if r and r[0]}
    assert xrijen["gemeente"][1] == "Maastricht (0935)"
    for s in counts["segments"]:
        assert [_getal(v) for v in xrijen[s["segment"]][2:11]] == [_getal(s[f]) for f in FIGUREN]

    # another gemeente by the selector, and back to the region
    page.select_option("#veld-gemeente", "0938")
    page.click("#toon")
    page.wait_for_load_state()
    assert "Meerssen (0938)" in page.inner_text("#titel")
    page.click("#naar-regio")
    page.wait_for_load_state()
    assert "gemeente=" not in page.url and page.query_selector("#gemeenten") is not None
    context.close()

    # a phone: 390 px wide, the same page without sideways scrolling of the page itself
    telefoon = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2)
    klein = telefoon.new_page()
    klein.goto(server + f"/?regio={REGIO}&peildatum={PEILDATUM}&bekend_op={K1}&vergelijk_op={K2}")
    breedte = klein.evaluate("document.documentElement.scrollWidth")
    assert breedte <= 400, f"the page is {breedte}px wide on a 390px screen"
    klein.screenshot(path=str(ARTIFACTS / "dashboard-telefoon.png"), full_page=True)
    klein.screenshot(path=str(ARTIFACTS / "dashboard-telefoon-eerste-scherm.png"))
    klein.locator("#trend").screenshot(path=str(ARTIFACTS / "dashboard-telefoon-trend.png"))
    telefoon.close()
    for naam in ("dashboard-desktop.png", "dashboard-gemeente-desktop.png", "dashboard-telefoon.png"):
        assert (ARTIFACTS / naam).stat().st_size > 20_000
