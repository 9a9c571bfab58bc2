"""The main job end to end on simulated traffic: `jeugdstroom demo`, then the replay check
for every year end as known at the peildatum, 90 days later and now."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from projections.flow import classificeer_op, tel
from projections.geld import bereken
from projections.projectie import GELD_TOPICS, geld_uit_eventlog, uit_eventlog
from projections.vragen import replay
from projections.zorg import bereken_zorg
from projections.zorgprojectie import ZORG_TOPICS, zorg_uit_eventlog
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
    assert "datakwaliteit:" in result.stdout and "Maastricht (0935):" in result.stdout

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
    # the dashboard's first view is the last simulated year, not an empty one (issue 13)
    assert leeskant.laatste_peildatum(regio, date.today()) == date(2023, 12, 31)
    # and the replay function itself, as `jeugdstroom replay` calls it
    assert (replay(eventlog(projector.store), regio, date(2023, 1, 1), date(2023, 12, 31), None).als_dict()
            == leeskant.telling(regio, date(2023, 1, 1), date(2023, 12, 31), None).als_dict())
    assert checked == 6
    assert "geld (euro) 2023-01-01 t/m 2023-12-31: bekend op 2024-03-30 en nu" in result.stdout
    assert "daadwerkelijke zorg (JW305/JW307):" in result.stdout
    _money_projection_equals_the_replay(projector, regio)
    _care_projection_equals_the_replay(projector, regio)
    _costs_follow_the_contract(env)
    replayed = CliRunner().invoke(app, ["replay", "--region", "zuid-limburg", "--peildatum",
                                        "2023-12-31", "--known-at", "2024-03-30"], env=env)
    assert replayed.exit_code == 0, replayed.output
    assert "flow replay agrees" in replayed.output and "money replay agrees" in replayed.output
    assert "care replay agrees" in replayed.output
    diff = CliRunner().invoke(app, ["diff", "--region", "zuid-limburg", "--peildatum", "2023-12-31",
                                    "--known-at", "2024-03-30", "--known-at", date.today().isoformat(),
                                    "--money"], env=env)
    assert diff.exit_code == 0, diff.output
    assert "declaration lines behind the difference" in diff.stdout
    projector.store.close()


def _care_projection_equals_the_replay(projector, regio) -> None:
    """The care projection gives exactly what the care rules give on the whole event log, at
    K = peildatum, +90 days and now, for the region and a gemeente, on simulated JW305/JW307."""
    versies, starts, stops = zorg_uit_eventlog(eventlog(projector.store, ZORG_TOPICS))
    assert starts and stops  # the simulator starts and stops care
    zorgvragen = bootstrap.zorgvragen(projector)
    for jaar in (2022, 2023):
        van, peildatum = date(jaar, 1, 1), date(jaar, 12, 31)
        for k in (peildatum, peildatum + timedelta(days=90), None):
            for gemeente in (None, "0935"):
                opnieuw = bereken_zorg(versies, starts, regio, van, peildatum, k or date.today(),
                                       gemeente, stops=stops, k_getoond=k)
                projectie = zorgvragen.zorgtelling(regio, van, peildatum, k, gemeente)
                assert opnieuw.als_dict() == projectie.als_dict(), (jaar, k, gemeente)
    assert projectie.totaal.gestart > 100 and projectie.totaal.stops > 100


def _money_projection_equals_the_replay(projector, regio) -> None:
    """The money projection gives exactly what the money rules give on the whole event log,
    at K = peildatum, +90 days and now, for the region, a gemeente and every breakdown."""
    versies, regels, afwijzingen = geld_uit_eventlog(eventlog(projector.store, GELD_TOPICS))
    assert regels and afwijzingen  # the simulator declares, and some lines are rejected
    geldvragen = bootstrap.geldvragen(projector)
    for jaar in (2022, 2023):
        van, peildatum = date(jaar, 1, 1), date(jaar, 12, 31)
        for k in (peildatum, peildatum + timedelta(days=90), None):
            k_eff = k or date.today()
            for gemeente, per in ((None, "segment"), ("0935", "segment"), (None, "maand"),
                                  (None, "gemeente"), (None, "aanbieder"), (None, "product")):
                opnieuw = bereken(versies, regels, afwijzingen, regio, van, peildatum, k_eff,
                                  gemeente, per, k_getoond=k)
                projectie = geldvragen.kostentelling(regio, van, peildatum, k, gemeente, per)
                assert opnieuw.als_dict() == projectie.als_dict(), (jaar, k, gemeente, per)


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
