"""Every route of the HTTP API and the dashboard, on the hand-made history, including the 4xx
answers; then a property-based run over the OpenAPI document that must never see a 500."""

from __future__ import annotations

import re
from datetime import date

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services import bootstrap
from services.http.api import maak_api
from services.http.toegang import Toegang
from services.projector.runner import eventlog
from tests.integration.handmade import EXPECTED_2025, FLOW

pytestmark = pytest.mark.integration

COUNTS = "/api/counts?region=zuid-limburg&peildatum=2023-12-31"


@pytest.fixture
def client(settings, projected) -> TestClient:
    """The figures, not access (tests/integration/test_toegang_api.py): no token checks."""
    regios = bootstrap.regios(settings)
    return TestClient(maak_api(bootstrap.leeskant(projected), lambda: eventlog(projected.store),
                      regios, toegang=Toegang.zonder_controle(regios)))


def test_regions(client):
    regions = client.get("/api/regions").json()
    assert {r["id"] for r in regions} == {"zuid-limburg", "een-10-voor-de-jeugd"}
    zl = client.get("/api/regions/zuid-limburg").json()
    assert len(zl["gemeenten"]) == 16 and zl["min_cel"] == 10
    assert [s["id"] for s in zl["segments"]] == ["gik-j", "wonen", "ambulant", "crisis"]
    missing = client.get("/api/regions/nergens")
    assert missing.status_code == 404 and "kies uit" in missing.json()["detail"]


def test_counts_json_is_the_cli_shape_with_the_hand_computed_figures(client):
    data = client.get(COUNTS + "&known_at=2025-01-01").json()
    assert {s["segment"]: {k: s[k] for k in FLOW} for s in data["segments"]} == EXPECTED_2025
    assert (data["from"], data["known_at"], data["gemeente"]) == ("2023-01-01", "2025-01-01", None)
    assert data["totaal_unieke_jeugdigen"] == 6 and data["unmapped_toewijzingen"] == 1
    now = client.get(COUNTS).json()
    assert now["known_at"] is None


def test_counts_csv_exact_and_for_publication(client):
    exact = client.get(COUNTS + "&known_at=2025-01-01&format=csv")
    assert exact.headers["content-type"].startswith("text/csv")
    wonen = next(line for line in exact.text.splitlines() if line.startswith("wonen,"))
    assert wonen == "wonen,Wonen,2,0,1,0,1,1,0,3,4"
    publication = client.get(COUNTS + "&known_at=2025-01-01&publication=true").text
    wonen = next(line for line in publication.splitlines() if line.startswith("wonen,"))
    assert wonen == "wonen,Wonen,<10,0,<10,0,<10,<10,0,<10,<10"  # zero stays zero
    assert publication.splitlines()[-1].startswith("# cellen van 1 tot 10 staan als <10")


@pytest.mark.parametrize(("query", "status", "hint"), [
    ("/api/counts?region=nergens&peildatum=2023-12-31", 404, "kies uit"),
    (COUNTS + "&from=2024-01-01", 400, "het venster is [from, peildatum]"),
    ("/api/counts?region=zuid-limburg&peildatum=2023-02-30", 422, "YYYY-MM-DD"),
    ("/api/counts?region=zuid-limburg", 422, "peildatum"),
    (COUNTS + "&gemeente=363", 400, "hoort niet bij regio zuid-limburg"),
    (COUNTS + "&gemeente=0363", 400, "hoort niet bij regio zuid-limburg"),
    (COUNTS + "&format=xml", 422, "format"),
    ("/api/diff?region=zuid-limburg&peildatum=2023-12-31&known_at=2024-01-01", 400,
     "known_at twice"),
    ("/api/timeseries?region=zuid-limburg&from_month=2023-13&to_month=2023-12", 400, "YYYY-MM"),
    ("/api/timeseries?region=zuid-limburg&from_month=2023-06&to_month=2023-01", 400,
     "ligt vóór de eerste maand"),
    ("/api/timeseries?region=zuid-limburg&from_month=2000-01&to_month=2023-01", 400, "120 maanden"),
    ("/api/timeseries?region=zuid-limburg&from_month=9999-01&to_month=9999-12", 400, "controleer het jaar"),
    ("/api/counts?region=zuid-limburg&peildatum=9999-12-31", 400, "controleer het jaar"),
    (COUNTS + "&known_at=0001-01-01", 400, "controleer het jaar"),
])
def test_invalid_questions_get_a_4xx_that_says_what_to_send(client, query, status, hint):
    response = client.get(query)
    assert response.status_code == status
    assert hint in response.json()["detail"]


def test_replay_route_agrees(client):
    data = client.get(COUNTS + "&known_at=2023-12-31").json()
    replayed = client.get("/api/replay?region=zuid-limburg&peildatum=2023-12-31"
                          "&known_at=2023-12-31").json()
    assert replayed["agrees"] is True and replayed["projection"] == data


def test_diff_route_names_the_allocation_and_message(client):
    data = client.get("/api/diff?region=zuid-limburg&peildatum=2023-12-31"
                      "&known_at=2023-12-31&known_at=2025-01-01").json()
    assert [(a["toewijzing"], a["at_k1"], a["at_k2"], a["caused_by"]) for a in data["allocations"]] \
        == [("0935:15", "instroom+uitstroom+in_zorg", "instroom+uitstroom", "0935:16")]
    assert len(data["allocations"][0]["client"]) == 12  # a shortened pseudonym, never a BSN


def test_timeseries_months(client):
    rows = client.get("/api/timeseries?region=zuid-limburg&from_month=2023-01&to_month=2023-12"
                      "&known_at=2025-01-01").json()
    wonen = {r["month"]: r for r in rows if r["segment"] == "wonen"}
    assert [wonen[m]["instroom"] for m in ("2023-01", "2023-02", "2023-03", "2023-04", "2023-05")] \
        == [1, 1, 1, 0, 1]   # H, E, A (doorstroom), -, D
    assert (wonen["2023-10"]["uitstroom"], wonen["2023-10"]["in_zorg"], wonen["2023-11"]["in_zorg"]) \
        == (1, 4, 3)         # H ends 31 Oct
    crisis = {r["month"]: r for r in rows if r["segment"] == "crisis"}
    assert crisis["2023-05"]["instroom"] is None
    csv = client.get("/api/timeseries?region=zuid-limburg&from_month=2023-01&to_month=2023-02"
                     "&format=csv").text
    kop = next(r for r in csv.splitlines() if not r.startswith("#"))  # after the header block
    assert kop == "month,segment,instroom_totaal,uitstroom,in_zorg"


def test_gemeenten_side_by_side_with_shares(client):
    rows = client.get("/api/gemeenten?region=zuid-limburg&peildatum=2023-12-31"
                      "&known_at=2025-01-01").json()
    assert len(rows) == 16
    meerssen = next(r for r in rows if r["gemeente"] == "0938")
    ambulant = next(s for s in meerssen["counts"]["segments"] if s["segment"] == "ambulant")
    assert ambulant["instroom"] == 1 and meerssen["share_of_region"]["ambulant"] == 0.5
    assert meerssen["share_of_region"]["gik-j"] is None  # nobody in the region: no share
    csv = client.get("/api/gemeenten?region=zuid-limburg&peildatum=2023-12-31&format=csv").text
    assert next(r for r in csv.splitlines() if not r.startswith("#")).startswith("gemeente,name,segment")


def test_dashboard_shows_the_api_figures(client):
    page = client.get("/?regio=zuid-limburg&peildatum=2023-12-31&bekend_op=2025-01-01")
    assert page.status_code == 200
    tabel = re.search(r'id="tabel".*?</table>', page.text, re.S).group(0)
    cells = dict(re.findall(r'data-segment="wonen" data-veld="(\w+)">([^<]+)<', tabel))
    assert cells["instroom"] == "2" and cells["in_zorg"] == "3"
    assert "n.v.t." in page.text and "Toen versus nu" in page.text and "<svg" in page.text
    wrong = client.get("/?regio=zuid-limburg&peildatum=31-12-2023")
    assert wrong.status_code == 400 and "schrijf JJJJ-MM-DD" in wrong.text
    for vraag in ("peildatum=0001-01-15", "peildatum=9999-12-31", "bekend_op=9999-12-31"):
        assert client.get(f"/?regio=zuid-limburg&{vraag}").status_code == 400


DATES = st.one_of(
    st.dates(date(1990, 1, 1), date(2040, 12, 31)).map(date.isoformat),
    st.text(max_size=12),
)
VALUES = {
    "region": st.sampled_from(["zuid-limburg", "een-10-voor-de-jeugd", "", "x" * 5]),
    "gemeente": st.one_of(st.none(), st.sampled_from(["0935", "0363", "12"]), st.text(max_size=5)),
    "format": st.sampled_from(["json", "csv", "pdf"]),
    "from_month": st.one_of(st.dates(date(2015, 1, 1), date(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m")), st.text(max_size=8)),
    "to_month": st.one_of(st.dates(date(2015, 1, 1), date(2030, 1, 1)).map(
        lambda d: d.strftime("%Y-%m")), st.text(max_size=8)),
    "publication": st.sampled_from(["true", "false", "maybe"]),
}


def test_no_500_for_any_parameters_the_openapi_document_allows(client):
    """Property-based run over every GET route and parameter of /openapi.json."""
    document = client.get("/openapi.json").json()
    routes = [(path, [p["name"] for p in op["get"].get("parameters", [])])
              for path, op in document["paths"].items() if "get" in op and "{" not in path]
    assert {path for path, _ in routes} >= {"/api/counts", "/api/replay", "/api/diff",
                                            "/api/timeseries", "/api/gemeenten", "/api/regions"}

    @settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(routes), st.data())
    def run(route, data):
        path, names = route
        params = []
        for name in names:
            if data.draw(st.booleans()):
                waarde = data.draw(VALUES.get(name, DATES))
                if waarde is not None:
                    params.append((name, waarde))
        response = client.get(path, params=params)
        assert response.status_code < 500, (path, params, response.text[:300])

    run()
