"""The main job end to end on simulated traffic: `jeugdstroom demo`, then the replay check
for every year end as known at the peildatum, 90 days later and now."""

from __future__ import annotations

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
    projector.store.close()
