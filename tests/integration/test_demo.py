"""The main job end to end on simulated traffic: `jeugdstroom demo`, then the replay check
for every year end as known at the peildatum, 90 days later and now."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from projections.flow import classificeer_op, tel
from projections.projectie import uit_eventlog
from projections.vragen import replay
from services import bootstrap
from services.cli import app
from services.projector.runner import eventlog

pytestmark = pytest.mark.integration


def test_demo_and_replay_agree_for_every_year_end_and_knowledge_time(settings, tmp_path):
    env = {"JEUGDSTROOM_NATS_URL": settings.nats_url,
           "JEUGDSTROOM_DATABASE_URL": settings.database_url,
           "JEUGDSTROOM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
           "JEUGDSTROOM_STATE_DIR": str(tmp_path)}
    result = CliRunner().invoke(
        app, ["demo", "--years", "2022-2023", "--seed", "3", "--no-serve"], env=env)
    assert result.exit_code == 0, result.output
    assert "Zuid-Limburg: 2023-01-01 t/m 2023-12-31, bekend op 2024-03-30" in result.stdout
    assert "bekend op nu" in result.stdout and "difference" in result.stdout

    projector = bootstrap.projector(settings, settings.database_url)
    regio = bootstrap.regios(settings)["zuid-limburg"]
    assert projector.positie() == projector.laatste()
    leeskant = bootstrap.leeskant(projector)
    versies = uit_eventlog(eventlog(projector.store))  # the event log alone, read once
    checked = 0
    for jaar in (2022, 2023):
        van, peildatum = date(jaar, 1, 1), date(jaar, 12, 31)
        for k in (peildatum, peildatum + timedelta(days=90), None):
            k_eff = k or date.today()
            opnieuw = tel(classificeer_op(versies, regio, k_eff), regio, van, peildatum, k_eff,
                          k_getoond=k)
            projectie = leeskant.telling(regio, van, peildatum, k)
            assert opnieuw.als_dict() == projectie.als_dict(), (jaar, k)
            checked += 1
    wonen = {s.segment: s for s in leeskant.telling(
        regio, date(2023, 1, 1), date(2023, 12, 31), None).segmenten}["wonen"]
    assert wonen.instroom > 100  # the simulated region is of 0-meting size, not empty
    # and the replay function itself, as `jeugdstroom replay` calls it
    assert (replay(eventlog(projector.store), regio, date(2023, 1, 1), date(2023, 12, 31), None).als_dict()
            == leeskant.telling(regio, date(2023, 1, 1), date(2023, 12, 31), None).als_dict())
    assert checked == 6
    assert "geld (euro) 2023-01-01 t/m 2023-12-31: bekend op 2024-03-30 en nu" in result.stdout
    _costs_follow_the_contract(env)
    projector.store.close()


CIJFERS = {"gedeclareerd", "afgewezen", "toegekend", "beschikt", "realisatie",
           "toewijzingen_zonder_declaratie", "zonder_beschikte_waarde", "buiten_toewijzingsperiode",
           "jeugdigen_met_declaratie", "kosten_per_jeugdige"}


def _costs_follow_the_contract(env: dict[str, str]) -> None:
    """`costs --format json` keeps the keys downstream users script against, and its totals
    are the sums of the segments; a later K knows at least the declarations of an earlier."""
    def costs(*args: str) -> dict:
        result = CliRunner().invoke(app, ["costs", "--region", "zuid-limburg", "--peildatum",
                                          "2023-12-31", "--format", "json", *args], env=env)
        assert result.exit_code == 0, result.output
        return json.loads(result.stdout)

    toen, nu = costs("--known-at", "2024-03-30"), costs()
    assert set(nu) == {"region", "from", "peildatum", "known_at", "gemeente", "segments",
                       "ongekoppeld", "totaal", "warnings"}
    assert toen["known_at"] == "2024-03-30" and nu["known_at"] is None
    for data in (toen, nu):
        assert all(set(s) == {"segment"} | CIJFERS for s in data["segments"])
        assert set(data["totaal"]) == CIJFERS
        for veld in ("gedeclareerd", "afgewezen", "toegekend", "beschikt"):
            assert data["totaal"][veld] == sum(s[veld] for s in data["segments"])
        assert data["totaal"]["toegekend"] == data["totaal"]["gedeclareerd"] - data["totaal"]["afgewezen"]
    assert 0 < toen["totaal"]["gedeclareerd"] <= nu["totaal"]["gedeclareerd"]
    assert nu["totaal"]["beschikt"] > 0
