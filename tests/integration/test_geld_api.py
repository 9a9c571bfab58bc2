"""The money routes over a real projection (PostgreSQL): /api/costs in the `costs` contract,
every breakdown, CSV and publication CSV, the replay checks, and no 500 for any parameters the
OpenAPI document allows. Access is tested in test_toegang_api.py: no token checks here."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.geldview import kosten_uit_rij
from projections.geldvragen import kosten_op
from projections.projectie import GELD_TOPICS
from services import bootstrap
from services.http.api import maak_api
from services.http.geld import geld_router
from services.http.toegang import Toegang
from services.projector.runner import eventlog, ververs_live_geld
from tests.integration.test_api import DATES, VALUES

pytestmark = pytest.mark.integration

COSTS = "/api/costs?region=zuid-limburg&peildatum=2023-12-31"
CIJFERS = {"gedeclareerd", "afgewezen", "toegekend", "beschikt", "realisatie",
           "toewijzingen_zonder_declaratie", "zonder_beschikte_waarde", "buiten_toewijzingsperiode",
           "jeugdigen_met_declaratie", "kosten_per_jeugdige"}


@pytest.fixture
def client(settings, projected) -> TestClient:
    regios = bootstrap.regios(settings)
    geld = geld_router(bootstrap.geldvragen(projected),
                       lambda: eventlog(projected.store, GELD_TOPICS), regios)
    return TestClient(maak_api(bootstrap.leeskant(projected), lambda: eventlog(projected.store),
                               regios, toegang=Toegang.zonder_controle(regios), geld=geld))


def test_costs_json_is_the_cli_contract(client):
    data = client.get(COSTS).json()
    assert set(data) == {"region", "from", "peildatum", "known_at", "gemeente", "segments",
                         "ongekoppeld", "totaal", "warnings"}
    assert all(set(s) == {"segment"} | CIJFERS for s in data["segments"])
    assert set(data["totaal"]) == CIJFERS
    assert data["totaal"]["beschikt"] == sum(s["beschikt"] for s in data["segments"])


@pytest.mark.parametrize("by", ["gemeente", "month", "aanbieder", "product"])
def test_every_breakdown_gives_rows(client, by):
    data = client.get(f"{COSTS}&by={by}").json()
    assert data["by"] == by and "segments" not in data
    assert all(set(rij) >= CIJFERS for rij in data["rows"])
    if by == "month":
        assert [r["month"] for r in data["rows"]] == [f"2023-{m:02d}" for m in range(1, 13)]


def test_csv_and_publication_csv(client):
    gewoon = client.get(f"{COSTS}&format=csv")
    assert gewoon.headers["content-type"].startswith("text/csv")
    assert gewoon.text.splitlines()[0].startswith("segment,gedeclareerd")
    publicatie = client.get(f"{COSTS}&publication=true").text
    assert "suppressed" in publicatie.splitlines()[-1]


def test_replay_routes_cover_money(client):
    geld = client.get("/api/costs/replay?region=zuid-limburg&peildatum=2023-12-31"
                      "&known_at=2024-03-30").json()
    assert geld["agrees"] is True and geld["projection"] == geld["replay"]
    beide = client.get("/api/replay?region=zuid-limburg&peildatum=2023-12-31").json()
    assert beide["agrees"] is True and beide["money"]["agrees"] is True


def test_an_empty_known_at_means_now_for_money_as_for_counts(client):
    """The dashboard's form sends known_at= when the field is left empty (issue 13)."""
    leeg = client.get("/api/costs?region=zuid-limburg&peildatum=2023-12-31&known_at=")
    assert leeg.status_code == 200, leeg.text
    assert leeg.json() == client.get("/api/costs?region=zuid-limburg&peildatum=2023-12-31").json()


def test_no_500_for_any_money_parameters(client):
    document = client.get("/openapi.json").json()
    assert "CostsOut" in document["components"]["schemas"]
    routes = [(path, [p["name"] for p in op["get"].get("parameters", [])])
              for path, op in document["paths"].items() if path.startswith("/api/costs")]
    waarden = {**VALUES, "by": st.sampled_from(["segment", "month", "product", "x"])}

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(routes), st.data())
    def run(route, data):
        path, names = route
        params = [(name, waarde) for name in names if data.draw(st.booleans())
                  if (waarde := data.draw(waarden.get(name, DATES))) is not None]
        response = client.get(path, params=params)
        assert response.status_code < 500, (path, params, response.text[:300])

    run()


def test_the_projector_keeps_the_live_money_answers_at_its_position(settings, projected):
    """On PostgreSQL: after every step, the stored answers to the live money questions a reader
    asked (the region and a gemeente) are the ones computed from the money view, at the view's
    position, and the reader gives them; the running projector answers a new one when it has
    caught up."""
    regio = bootstrap.regios(settings)["zuid-limburg"]
    van, pd, vandaag = date(2023, 1, 1), date(2023, 12, 31), date.today()
    projector = bootstrap.projector(settings, settings.database_url)
    projector.herbouw()
    projector.pagina = 3
    assert projector.geld is not None
    view = projector.geld.view
    geldvragen = bootstrap.geldvragen(projector)
    gemeenten = [None, "0935"]
    for gemeente in gemeenten:  # asked: registered for the projector
        geldvragen.kostentelling(regio, van, pd, None, gemeente)
    stappen = 0
    while projector.stap():
        ververs_live_geld(view, [regio])
        for gemeente in gemeenten:
            bewaard = view.live_telling((regio.id, van, pd, gemeente, vandaag))
            assert bewaard is not None and bewaard[0] == view.positie()
            berekend = kosten_op(view, regio, van, pd, vandaag, gemeente)
            assert kosten_uit_rij(bewaard[1]) == berekend
            geldvragen.vergeet_tellingen()
            assert geldvragen.kostentelling(regio, van, pd, None, gemeente).als_dict() == (
                berekend.als_dict())
        stappen += 1
    assert stappen > 2
    geldvragen.kostentelling(regio, date(2023, 7, 1), pd, None)  # a new question
    projector.volg(tot_bij=True)
    bewaard = view.live_telling((regio.id, date(2023, 7, 1), pd, None, vandaag))
    assert bewaard is not None and bewaard[0] == view.positie()
    projector.store.close()
