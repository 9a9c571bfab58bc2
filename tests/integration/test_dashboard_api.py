"""Issue 13's defects on the HTTP side and the CLI, on the hand-made history: the dashboard
opens on the last day with data, honours a gemeente, speaks Dutch; the API takes an empty
known_at, gemeenten by name, serves /docs offline, exports CSV with a header block and xlsx;
`project --rebuild --until-caught-up` does not tell you to run `project`."""

from __future__ import annotations

import asyncio
import io
import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook
from typer.testing import CliRunner

from services import bootstrap
from services.cli import app
from services.http.api import maak_api
from services.http.toegang import Toegang
from services.projector.runner import eventlog
from tests.integration.handmade import HISTORY, MAASTRICHT
from tests.integration.helpers import ingest_until_caught_up, publish

pytestmark = pytest.mark.integration

COUNTS = "/api/counts?region=zuid-limburg&peildatum=2023-12-31"


@pytest.fixture
def client(settings, projected) -> TestClient:
    regios = bootstrap.regios(settings)
    leeskant = bootstrap.leeskant(projected)
    return TestClient(maak_api(leeskant, lambda: eventlog(projected.store), regios,
                               toegang=Toegang.zonder_controle(regios)))


def _tekst(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_page_opens_on_the_last_peildatum_with_data_and_says_so(client):
    html = client.get("/").text  # defect 1
    # B's recidive, starting 1 Aug 2023, is the last allocation that started: its month's end
    assert re.search(r'id="veld-peildatum"[^>]*value="2023-08-31"', html)
    assert "Peildatum 2023-08-31: de laatste peildatum met gegevens" in _tekst(html)
    assert "2023-01-01 t/m 2023-08-31" in _tekst(html)
    wonen_in_zorg = re.search(r'id="tabel".*?data-segment="wonen" data-veld="in_zorg">(\d+)<',
                              html, re.S).group(1)
    assert int(wonen_in_zorg) > 0  # not an empty year
    # the stand: H's shortening of 15 Jan 2024 is the last message that changed the figures
    assert "laatste bericht met gevolgen voor de cijfers gedateerd 2024-01-15" in _tekst(html)


def test_one_name_per_meaning_in_the_monthly_series(client):
    rows = client.get("/api/timeseries?region=zuid-limburg&from_month=2023-01&to_month=2023-12"
                      "&known_at=2025-01-01").json()  # defect 2
    maart = next(r for r in rows if r["month"] == "2023-03" and r["segment"] == "wonen")
    assert maart["instroom_totaal"] == 1  # A's doorstroom: inflow, not the instroom category
    assert maart["instroom"] == maart["instroom_totaal"]  # kept, deprecated
    schema = client.get("/openapi.json").json()["components"]["schemas"]["MonthOut"]
    assert schema["properties"]["instroom"].get("deprecated") is True
    csv = client.get("/api/timeseries?region=zuid-limburg&from_month=2023-01&to_month=2023-12"
                     "&format=csv").text
    assert "month,segment,instroom_totaal,uitstroom,in_zorg" in csv
    html = client.get("/?regio=zuid-limburg&peildatum=2023-12-31").text
    assert "totale instroom" in html


def test_docs_work_offline(client):
    html = client.get("/docs").text  # defect 3
    assert "cdn" not in html.lower() and "/docs-assets/swagger-ui-bundle.js" in html
    js = client.get("/docs-assets/swagger-ui-bundle.js")
    assert js.status_code == 200 and len(js.content) > 100_000
    assert client.get("/docs-assets/swagger-ui.css").status_code == 200


def test_an_empty_known_at_means_now(client):
    leeg = client.get(COUNTS + "&known_at=")  # defect 4
    assert leeg.status_code == 200, leeg.text
    assert leeg.json()["known_at"] is None
    assert leeg.json()["segments"] == client.get(COUNTS).json()["segments"]


@pytest.mark.parametrize("gemeente", ["Maastricht", "maastricht", "0935", "935"])
def test_a_gemeente_by_name_or_code(client, gemeente):
    data = client.get(COUNTS + f"&gemeente={gemeente}").json()  # defect 5
    assert data["gemeente"] == MAASTRICHT


def test_an_unknown_gemeente_lists_names_with_codes(client):
    antwoord = client.get(COUNTS + "&gemeente=Amsterdam")
    assert antwoord.status_code == 400
    assert "Maastricht (0935)" in antwoord.json()["detail"]
    assert "YYYY" not in antwoord.json()["detail"]


def test_a_date_that_does_not_exist_is_called_that_on_the_page(client):
    antwoord = client.get("/?regio=zuid-limburg&peildatum=2023-02-30")
    assert antwoord.status_code == 400
    assert "februari 2023 heeft 28 dagen" in antwoord.text


def test_the_page_honours_the_gemeente(client):
    html = client.get("/?regio=zuid-limburg&peildatum=2023-12-31&bekend_op=2025-01-01"
                      "&gemeente=0935").text  # defect 7
    assert "gemeente Maastricht (0935)" in _tekst(html)
    assert '<option value="0935" selected>' in html
    api = client.get(COUNTS + "&known_at=2025-01-01&gemeente=0935").json()
    tabel = re.search(r'id="tabel".*?</table>', html, re.S).group(0)
    for s in api["segments"]:
        cel = re.search(rf'data-segment="{s["segment"]}" data-veld="in_zorg">([^<]+)<', tabel).group(1)
        assert cel == str(s["in_zorg"])
    assert re.search(r'id="totaal">(\d+)<', html).group(1) == str(api["totaal_unieke_jeugdigen"])
    assert 'id="naar-regio"' in html and 'id="gemeenten"' not in html
    meerssen = client.get("/?regio=zuid-limburg&peildatum=2023-12-31&gemeente=Meerssen").text
    assert "gemeente Meerssen (0938)" in _tekst(meerssen)


def test_doubtful_questions_are_warned_on_api_and_page(client):
    te_vroeg = client.get(COUNTS + "&known_at=2023-06-30").json()  # defect 9
    assert any("vóór de peildatum" in w for w in te_vroeg["warnings"])
    ver = client.get(COUNTS + f"&known_at={date.today().year + 3}-01-01").json()
    assert any("meer dan een jaar in de toekomst" in w for w in ver["warnings"])
    toekomst = (date.today() + timedelta(days=40)).isoformat()
    html = client.get(f"/?regio=zuid-limburg&peildatum={toekomst}").text
    assert "in de toekomst" in html


def test_dutch_labels_causes_and_a_legend(client):
    html = client.get("/?regio=zuid-limburg&peildatum=2023-12-31&bekend_op=2023-12-31"
                      "&vergelijk_op=2025-01-01").text  # defect 10
    tekst = _tekst(html)
    wijzigingen = _tekst(re.search(r'id="wijzigingen".*?</table>', html, re.S).group(0))
    assert "in_zorg" not in wijzigingen and "+uitstroom" not in wijzigingen
    assert "instroom + uitstroom + in zorg op peildatum" in wijzigingen
    assert "JW301 (toewijzing) 0935:16" in wijzigingen and "gedateerd 2024-01-15" in wijzigingen
    assert "einddatum 2023-12-31 → 2023-10-31" in wijzigingen
    assert "Legenda" in tekst and "▼" in html
    assert "history_start" not in tekst and "overstated" not in tekst
    assert 'class="plus"' not in html and 'class="min"' not in html  # no red/green judgement


def test_exports_carry_a_header_block_and_xlsx_reads_back(client):
    csv = client.get(COUNTS + "&known_at=2025-01-01&gemeente=Maastricht&format=csv").text
    for regel in ("# regio: Zuid-Limburg (zuid-limburg)", "# venster: 2023-01-01 t/m 2023-12-31",
                  "# bekend op: 2025-01-01", "# gemeente: Maastricht (0935)", "# definities:",
                  "# onderdrukking: geen"):
        assert regel in csv
    xlsx = client.get(COUNTS + "&known_at=2025-01-01&format=xlsx")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    blad = load_workbook(io.BytesIO(xlsx.content)).active
    rijen = [tuple(r) for r in blad.iter_rows(values_only=True)]
    assert rijen[0][:2] == ("regio", "Zuid-Limburg (zuid-limburg)")
    wonen = next(r for r in rijen if r[0] == "wonen")
    assert list(wonen[:11]) == ["wonen", "Wonen", 2, 0, 1, 0, 1, 1, 0, 3, 4]
    diff = client.get("/api/diff?region=zuid-limburg&peildatum=2023-12-31&known_at=2023-12-31"
                      "&known_at=2025-01-01&format=csv").text
    assert "toewijzing,wonen,0935:15" in diff and "2024-01-15" in diff
    gemeenten = load_workbook(io.BytesIO(client.get(
        "/api/gemeenten?region=zuid-limburg&peildatum=2023-12-31&format=xlsx").content)).active
    assert any(r[1] == "Maastricht" for r in gemeenten.iter_rows(values_only=True))


def test_zorgduur_and_stand_routes(client):
    duur = client.get("/api/zorgduur?region=zuid-limburg&peildatum=2023-12-31&known_at=2025-01-01"
                      ).json()
    assert {d["segment"] for d in duur} == {"gik-j", "wonen", "ambulant"}
    stand = client.get("/api/stand?region=zuid-limburg").json()
    assert stand["last_message_date"] == "2024-01-15" and stand["behind"] == 0


def _cli(settings, args: list[str], monkeypatch) -> str:
    for naam, waarde in (("NATS_URL", settings.nats_url), ("DATABASE_URL", settings.database_url),
                         ("PSEUDONYM_KEY", settings.pseudonym_key.get_secret_value()),
                         ("STATE_DIR", str(settings.state_dir))):
        monkeypatch.setenv(f"JEUGDSTROOM_{naam}", waarde)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    return " ".join(result.output.replace("│", " ").split())


def test_project_rebuild_does_not_tell_you_to_run_project(settings, monkeypatch):
    asyncio.run(publish(settings, HISTORY))  # defect 6: ingested, not projected
    asyncio.run(ingest_until_caught_up(settings))
    uit = _cli(settings, ["project", "--rebuild", "--until-caught-up"], monkeypatch)
    assert "jeugdstroom project" not in uit and "projection at event" in uit
    # counts by gemeente name, the publication CSV and the diff as JSON and CSV
    counts = _cli(settings, ["counts", "--region", "zuid-limburg", "--peildatum", "2023-12-31",
                             "--known-at", "2025-01-01", "--gemeente", "Maastricht", "--format",
                             "json"], monkeypatch)
    assert '"gemeente": "0935"' in counts
    publicatie = _cli(settings, ["counts", "--region", "zuid-limburg", "--peildatum", "2023-12-31",
                                 "--known-at", "2025-01-01", "--publication"], monkeypatch)
    assert "wonen,Wonen,<10,0,<10,0,<10,<10,0,<10,<10" in publicatie
    diff = _cli(settings, ["diff", "--region", "zuid-limburg", "--peildatum", "2023-12-31",
                           "--known-at", "2023-12-31", "--known-at", "2025-01-01", "--format",
                           "json"], monkeypatch)
    assert '"caused_by": "0935:16"' in diff and '"message_date": "2024-01-15"' in diff
    assert "toewijzing,wonen,0935:15" in _cli(settings, [
        "diff", "--region", "zuid-limburg", "--peildatum", "2023-12-31", "--known-at", "2023-12-31",
        "--known-at", "2025-01-01", "--format", "csv"], monkeypatch)
