"""Actual care through NATS and PostgreSQL: hand-made JW305/JW307 beside the hand-made JW301
history, published, ingested and projected by the real projector; the figures worked out by
hand, replay equal to the projection at several K (in Python, over HTTP and with the CLI), a
rebuild equal to the live projection, and the access rule of /api/care."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from events.ijw import BerichtKop, Bsn, Product, Startbericht, StartProduct, Stopbericht, StopProduct
from events.ijw_schrijven import schrijf
from projections.zorgprojectie import ZORG_TOPICS
from projections.zorgvragen import replay_zorg
from services import bootstrap
from services.cli import app as cli
from services.http.api import maak_api
from services.http.toegang import Toegang
from services.http.zorg import zorg_router
from services.projector.runner import eventlog
from services.toegang.tokens import maak_token
from tests.integration.handmade import BSN, HISTORY, MAASTRICHT, MEERSSEN
from tests.integration.helpers import cli_env, ingest_until_caught_up, publish
from tests.integration.test_api import DATES, VALUES

pytestmark = pytest.mark.integration

AANBIEDER = "12345678"
_nummer = iter(range(9001, 10_000))


def _start(client: str, nr: int, product: str, ingang: date, begin: date, dag: date,
           status: str = "1") -> tuple[str, bytes, None]:
    kop = BerichtKop("jw305", AANBIEDER, MAASTRICHT, str(next(_nummer)), dag)
    bericht = Startbericht(kop, Bsn(BSN[client]), (
        StartProduct(str(nr), Product(product[:2], product), ingang, begin, status),))
    return f"ijw.{MAASTRICHT}.jw305", schrijf(bericht), None


def _stop(client: str, nr: int, product: str, ingang: date, begin: date, eind: date, reden: str,
          dag: date) -> tuple[str, bytes, None]:
    kop = BerichtKop("jw307", AANBIEDER, MAASTRICHT, str(next(_nummer)), dag)
    bericht = Stopbericht(kop, Bsn(BSN[client]), (
        StopProduct(str(nr), Product(product[:2], product), ingang, begin, eind, reden, "1"),))
    return f"ijw.{MAASTRICHT}.jw307", schrijf(bericht), None


ZORG = [
    # A, Wonen T2 (5 Mar): started 15 Mar (10 days)
    _start("A", 2, "43A01", date(2023, 3, 5), date(2023, 3, 15), date(2023, 3, 20)),
    # B, Ambulant T4 (1 Aug - 20 Dec): started 3 Aug (2 days), stopped 20 Dec, known in 2024
    _start("B", 4, "45A01", date(2023, 8, 1), date(2023, 8, 3), date(2023, 8, 4)),
    _stop("B", 4, "45A01", date(2023, 8, 1), date(2023, 8, 3), date(2023, 12, 20), "31",
          date(2024, 1, 5)),
    # E, Wonen T10 (1 Feb): started 21 Feb, deleted on 1 Jun, sent again as 25 Feb on 2 Jun
    _start("E", 10, "43A01", date(2023, 2, 1), date(2023, 2, 21), date(2023, 2, 22)),
    _start("E", 10, "43A01", date(2023, 2, 1), date(2023, 2, 21), date(2023, 6, 1), status="3"),
    _start("E", 10, "43A01", date(2023, 2, 1), date(2023, 2, 25), date(2023, 6, 2)),
    # D, Wonen T8 (11 May): its start of 20 May is known only in February 2024
    _start("D", 8, "43A01", date(2023, 5, 11), date(2023, 5, 20), date(2024, 2, 1)),
    # H, Wonen T15 (1 Jan): started 3 Jan, a temporary stop (20) until 30 Apr
    _start("H", 15, "43A01", date(2023, 1, 1), date(2023, 1, 3), date(2023, 1, 4)),
    _stop("H", 15, "43A01", date(2023, 1, 1), date(2023, 1, 3), date(2023, 4, 30), "20",
          date(2023, 5, 2)),
    # C, Ambulant T5 in Meerssen (1 Feb, open): never started
]

Q = "region=zuid-limburg&peildatum=2023-12-31"


@pytest.fixture
def projector(settings):
    asyncio.run(publish(settings, [*HISTORY, *ZORG]))
    asyncio.run(ingest_until_caught_up(settings))
    projector = bootstrap.projector(settings, settings.database_url)
    projector.volg(tot_bij=True)
    yield projector
    projector.store.close()


def _regio(projector):
    return next(r for r in projector.projectie.regios if r.id == "zuid-limburg")


def _segmenten(data: dict) -> dict[str, dict]:
    return {s["segment"]: s for s in data["segments"]}


def test_the_care_figures_worked_out_by_hand(projector):
    vragen, regio = bootstrap.zorgvragen(projector), _regio(projector)
    van, pd = date(2023, 1, 1), date(2023, 12, 31)
    bij_peildatum = vragen.zorgtelling(regio, van, pd, pd).als_dict()
    wonen, ambulant = _segmenten(bij_peildatum)["wonen"], _segmenten(bij_peildatum)["ambulant"]
    # Wonen: D not started (known only later); A 10, E 24 (the start sent again), H 2 days
    assert (wonen["toegewezen_niet_gestart"], wonen["gestart"], wonen["tijd_tot_start_mediaan"],
            wonen["tijd_tot_start_p90"], wonen["stops"], wonen["tijdelijke_stops"]) == (
        1, 3, 10.0, 24, 1, 1)
    # Ambulant: C (Meerssen) never started; B 2 days; B's stop is not known yet
    assert (ambulant["toegewezen_niet_gestart"], ambulant["gestart"], ambulant["stops"]) == (1, 1, 0)
    assert bij_peildatum["totaal"]["tijd_tot_start_mediaan"] == 6.0  # 2, 2, 10, 24
    later = _segmenten(vragen.zorgtelling(regio, van, pd, date(2025, 1, 1)).als_dict())
    assert (later["wonen"]["toegewezen_niet_gestart"], later["wonen"]["tijd_tot_start_mediaan"]) == (
        0, 9.5)  # 2, 9, 10, 24
    assert later["ambulant"]["stops"] == 1
    # on 1 June E's start is deleted and its new one not known yet: E waits since 1 Feb
    juni = _segmenten(vragen.zorgtelling(regio, van, pd, date(2023, 6, 1)).als_dict())
    assert juni["wonen"]["toegewezen_niet_gestart"] == 1  # D (11 May) is not 30 days old yet
    maastricht = vragen.zorgtelling(regio, van, pd, pd, MAASTRICHT).als_dict()
    assert _segmenten(maastricht)["ambulant"]["toegewezen_niet_gestart"] == 0
    assert vragen.zorgtelling(regio, van, pd, pd, MEERSSEN).totaal.toegewezen_niet_gestart == 1


@pytest.mark.parametrize("k", [date(2023, 3, 1), date(2023, 6, 1), date(2023, 6, 2),
                               date(2023, 12, 31), date(2024, 1, 5), date(2024, 3, 30), None])
def test_replay_from_the_event_log_equals_the_projection(projector, k):
    vragen, regio = bootstrap.zorgvragen(projector), _regio(projector)
    for van, pd in ((date(2023, 1, 1), date(2023, 12, 31)), (date(2023, 6, 1), date(2023, 8, 31))):
        for gemeente in (None, MAASTRICHT, MEERSSEN):
            opnieuw = replay_zorg(eventlog(projector.store, ZORG_TOPICS), regio, van, pd, k, gemeente)
            assert vragen.zorgtelling(regio, van, pd, k, gemeente).als_dict() == opnieuw.als_dict()


def test_a_rebuild_gives_the_same_care_figures(projector):
    vragen, regio = bootstrap.zorgvragen(projector), _regio(projector)
    voor = [vragen.zorgtelling(regio, date(2023, 1, 1), date(2023, 12, 31), k).als_dict()
            for k in (date(2023, 6, 1), None)]
    projector.herbouw()
    assert projector.zorg is not None and projector.zorg.view.positie() == 0
    projector.volg(tot_bij=True)
    vragen = bootstrap.zorgvragen(projector)  # nothing from memory: the rebuilt view itself
    assert [vragen.zorgtelling(regio, date(2023, 1, 1), date(2023, 12, 31), k).als_dict()
            for k in (date(2023, 6, 1), None)] == voor


def test_a_care_view_behind_the_others_catches_up_on_pages_of_its_own(projector):
    """The projector reads one page for the views at the same position; a view that is behind
    (added to an existing store, or wiped alone) catches up without the others moving."""
    vragen, regio = bootstrap.zorgvragen(projector), _regio(projector)
    voor = vragen.zorgtelling(regio, date(2023, 1, 1), date(2023, 12, 31), None).als_dict()
    assert projector.zorg is not None and projector.geld is not None
    flow, geld = projector.projectie.view.positie(), projector.geld.view.positie()
    projector.zorg.view.wis()
    projector.pagina = 3  # several pages of its own
    projector.volg(tot_bij=True)
    assert (projector.projectie.view.positie(), projector.geld.view.positie()) == (flow, geld)
    assert projector.zorg.view.positie() == flow
    vragen = bootstrap.zorgvragen(projector)  # nothing from memory
    assert vragen.zorgtelling(regio, date(2023, 1, 1), date(2023, 12, 31), None).als_dict() == voor


@pytest.fixture
def client(settings, projector) -> TestClient:
    regios = bootstrap.regios(settings)
    zorg = zorg_router(bootstrap.zorgvragen(projector),
                       lambda: eventlog(projector.store, ZORG_TOPICS), regios)
    return TestClient(maak_api(bootstrap.leeskant(projector), lambda: eventlog(projector.store),
                               regios, toegang=Toegang.zonder_controle(regios), zorg=zorg))


def test_api_care_json_csv_replay_and_openapi(client):
    data = client.get(f"/api/care?{Q}&known_at=2023-12-31").json()
    assert set(data) == {"region", "from", "peildatum", "known_at", "gemeente", "segments",
                         "totaal", "warnings"}
    assert _segmenten(data)["wonen"]["tijd_tot_start_p90"] == 24
    tekst = client.get(f"/api/care?{Q}&format=csv").text
    assert tekst.splitlines()[0].startswith("segment,toegewezen_niet_gestart,gestart")
    for k in ("2023-06-01", "2024-01-05", ""):
        replay = client.get(f"/api/care/replay?{Q}&known_at={k}").json()
        assert replay["agrees"] is True and replay["projection"] == replay["replay"]
    document = client.get("/openapi.json").json()
    assert "CareOut" in document["components"]["schemas"] and "/api/care" in document["paths"]
    assert client.get(f"/api/care?{Q}&gemeente=Utrecht").status_code == 400
    pagina = client.get("/?regio=zuid-limburg&peildatum=2023-12-31&bekend_op=2023-12-31").text
    assert 'id="zorg-segmenten"' in pagina
    assert 'data-segment="wonen" data-veld="tijd_tot_start_p90">24<' in pagina
    assert 'data-segment="wonen" data-veld="toegewezen_niet_gestart">1<' in pagina  # D
    meerssen = client.get(f"/?regio=zuid-limburg&peildatum=2023-12-31&bekend_op=2023-12-31"
                          f"&gemeente={MEERSSEN}").text  # a gemeente's page: its own care
    assert 'data-segment="wonen" data-veld="toegewezen_niet_gestart">0<' in meerssen
    assert 'data-segment="ambulant" data-veld="toegewezen_niet_gestart">1<' in meerssen  # C


def test_care_is_read_in_full_only(settings, projector):
    web = TestClient(bootstrap.api(settings, settings.database_url))

    def met(*rollen: str) -> dict[str, str]:
        return {"Authorization": "Bearer " + maak_token(settings.state_dir, list(rollen), minuten=5,
                                                        sub="zorg")}

    care = f"/api/care?{Q}"
    assert web.get(care).status_code == 401
    assert web.get(f"{care}&gemeente={MAASTRICHT}", headers=met(f"gemeente:{MAASTRICHT}")).status_code == 200
    for vraag in (f"&gemeente={MEERSSEN}", ""):
        geweigerd = web.get(care + vraag, headers=met(f"gemeente:{MAASTRICHT}"))
        assert geweigerd.status_code == 403 and "regio:zuid-limburg" in geweigerd.json()["detail"]
    assert web.get(care, headers=met("auditor:zuid-limburg")).status_code == 200
    assert web.get(f"/api/care/replay?{Q}", headers=met("regio:zuid-limburg")).json()["agrees"]
    alles = web.get(f"/api/replay?{Q}", headers=met("auditor:zuid-limburg")).json()
    assert alles["agrees"] and alles["care"]["agrees"] and alles["money"]["agrees"]
    eigen = web.get(f"/api/replay?{Q}&gemeente={MAASTRICHT}", headers=met(f"gemeente:{MAASTRICHT}"))
    assert eigen.json()["care"]["projection"]["gemeente"] == MAASTRICHT
    assert web.get(care, headers=met("subscriber")).status_code == 403


def test_the_cli_care_and_replay_cover_care(settings, projector):
    env = cli_env(settings)
    uit = CliRunner().invoke(cli, ["care", "--region", "zuid-limburg", "--peildatum", "2023-12-31",
                                   "--known-at", "2023-12-31", "--format", "json"], env=env)
    assert uit.exit_code == 0, uit.output
    assert _segmenten(json.loads(uit.stdout))["wonen"]["gestart"] == 3
    tabel = CliRunner().invoke(cli, ["care", "--region", "zuid-limburg", "--peildatum",
                                     "2023-12-31", "--gemeente", "Maastricht"], env=env)
    assert tabel.exit_code == 0 and "toegewezen" in tabel.output
    replay = CliRunner().invoke(cli, ["replay", "--region", "zuid-limburg", "--peildatum",
                                      "2023-12-31", "--known-at", "2024-01-05"], env=env)
    assert replay.exit_code == 0, replay.output
    assert "care replay agrees with the projection" in replay.output


def test_no_500_for_any_care_parameters(client):
    document = client.get("/openapi.json").json()
    routes = [(path, [p["name"] for p in op["get"].get("parameters", [])])
              for path, op in document["paths"].items() if path.startswith("/api/care")]
    waarden = {**VALUES, "format": st.sampled_from(["json", "csv", "xlsx"])}

    @given(st.sampled_from(routes), st.data())
    @hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    def run(route, data):
        path, names = route
        params = [(name, waarde) for name in names if data.draw(st.booleans())
                  if (waarde := data.draw(waarden.get(name, DATES))) is not None]
        response = client.get(path, params=params)
        assert response.status_code < 500, (path, params, response.text[:300])

    run()
