"""A small hand-made history, published as iJw XML through NATS, ingested and projected:
the counts must equal what DOMAIN.md gives when worked out by hand (comments below)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from typer.testing import CliRunner

from projections.view import telling_uit_rij
from projections.vragen import replay, tel_op
from services import bootstrap
from services.cli import app
from services.projector.runner import eventlog, ververs_live
from tests.integration.handmade import (
    EXPECTED_2025,
    EXPECTED_PEILDATUM,
    FLOW,
    MAASTRICHT,
    MEERSSEN,
)

pytestmark = pytest.mark.integration

def _counts(settings, *args: str) -> dict:
    env = {"JEUGDSTROOM_NATS_URL": settings.nats_url,
           "JEUGDSTROOM_DATABASE_URL": settings.database_url}
    result = CliRunner().invoke(app, ["counts", "--region", "zuid-limburg", "--format", "json",
                                      *args], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize(("known_at", "expected"), [
    ("2025-01-01", EXPECTED_2025), ("2023-12-31", EXPECTED_PEILDATUM)])
def test_hand_made_history_gives_the_hand_computed_table(settings, projected, known_at, expected):
    data = _counts(settings, "--peildatum", "2023-12-31", "--known-at", known_at)
    assert {s["segment"]: {k: s[k] for k in FLOW} for s in data["segments"]} == expected
    assert data["unmapped_toewijzingen"] == 1              # F's landelijk product
    assert data["totaal_unieke_jeugdigen"] == 6            # A, B, C, D, E, H (not F, not G)
    assert (data["region"], data["from"], data["known_at"]) == ("zuid-limburg", "2023-01-01", known_at)
    assert data["warnings"] == []


def test_per_gemeente_each_figure_goes_to_the_gemeente_of_its_allocation(settings, projected):
    meerssen = _counts(settings, "--peildatum", "2023-12-31", "--known-at", "2025-01-01",
                       "--gemeente", MEERSSEN)
    ambulant = {s["segment"]: s for s in meerssen["segments"]}["ambulant"]
    assert (ambulant["instroom"], ambulant["stapeling"], ambulant["in_zorg"]) == (1, 0, 1)
    assert meerssen["totaal_unieke_jeugdigen"] == 1


def test_deletion_counts_only_while_not_deleted(settings, projected):
    before = _counts(settings, "--peildatum", "2023-06-30", "--known-at", "2023-06-30")
    after = _counts(settings, "--peildatum", "2023-06-30", "--known-at", "2023-07-01")
    wonen = {s["segment"]: s for s in before["segments"]}["wonen"]
    wonen_na = {s["segment"]: s for s in after["segments"]}["wonen"]
    assert wonen["instroom"] - wonen_na["instroom"] == 1  # G
    assert before["totaal_unieke_jeugdigen"] - after["totaal_unieke_jeugdigen"] == 1


def test_replay_from_the_event_log_agrees_with_the_projection(settings, projected, leeskant):
    regio = bootstrap.regios(settings)["zuid-limburg"]
    for k in (date(2023, 6, 30), date(2023, 12, 31), date(2024, 3, 30), None):
        for peildatum in (date(2023, 6, 30), date(2023, 12, 31)):
            van = date(peildatum.year, 1, 1)
            assert (replay(eventlog(projected.store), regio, van, peildatum, k).als_dict()
                    == leeskant.telling(regio, van, peildatum, k).als_dict())


def test_diff_explains_the_late_shortening(settings, leeskant):
    regio = bootstrap.regios(settings)["zuid-limburg"]
    een, twee, wijzigingen = leeskant.diff(regio, date(2023, 1, 1), date(2023, 12, 31),
                                           date(2023, 12, 31), date(2025, 1, 1))
    assert [(w.gemeentecode, w.toewijzingnummer, w.oud, w.nieuw, w.oorzaak) for w in wijzigingen] == [
        (MAASTRICHT, 15, "instroom+uitstroom+in_zorg", "instroom+uitstroom", f"{MAASTRICHT}:16")]
    wonen = [(a.in_zorg, b.in_zorg) for a, b in zip(een.segmenten, twee.segmenten, strict=True)
             if a.segment == "wonen"]
    assert wonen == [(4, 3)]


def test_projector_restart_continues_without_double_counting(settings, projected, leeskant):
    before = leeskant.telling(bootstrap.regios(settings)["zuid-limburg"], date(2023, 1, 1),
                               date(2023, 12, 31), None).als_dict()
    again = bootstrap.projector(settings, settings.database_url)
    again.volg(tot_bij=True)
    assert again.positie() == projected.positie()
    after = bootstrap.leeskant(again).telling(bootstrap.regios(settings)["zuid-limburg"], date(2023, 1, 1),
                          date(2023, 12, 31), None).als_dict()
    assert before == after
    again.herbouw()
    again.volg(tot_bij=True)
    assert bootstrap.leeskant(again).telling(bootstrap.regios(settings)["zuid-limburg"], date(2023, 1, 1),
                         date(2023, 12, 31), None).als_dict() == before
    again.store.close()


def test_a_remembered_answer_is_not_given_once_the_projection_moved(settings, projected):
    regio = bootstrap.regios(settings)["zuid-limburg"]
    vraag = (regio, date(2023, 1, 1), date(2023, 12, 31), None)
    projector = bootstrap.projector(settings, settings.database_url)
    projector.herbouw()
    projector.pagina = 3  # a few versions per step, so the figures move between steps
    leeskant = bootstrap.leeskant(projector)
    antwoorden = [leeskant.telling(*vraag).als_dict()]
    while projector.stap():
        antwoord = leeskant.telling(*vraag).als_dict()  # an older answer is remembered
        leeskant.vergeet_tellingen()
        assert antwoord == leeskant.telling(*vraag).als_dict()  # ... and not given
        antwoorden.append(antwoord)
    assert len({json.dumps(a, sort_keys=True, default=str) for a in antwoorden}) > 2
    projector.store.close()


def test_the_projector_keeps_the_live_answer_at_its_position(settings, projected):
    """On PostgreSQL: after every step, the stored answer to a live question a reader asked
    is the one counted from the view, at the view's position, and the reader gives it."""
    regio = bootstrap.regios(settings)["zuid-limburg"]
    van, pd = date(2023, 1, 1), date(2023, 12, 31)
    projector = bootstrap.projector(settings, settings.database_url)
    projector.herbouw()
    projector.pagina = 3
    view = projector.projectie.view
    leeskant = bootstrap.leeskant(projector)
    leeskant.telling(regio, van, pd, None)  # asked: registered for the projector
    stappen = 0
    while projector.stap():
        assert ververs_live(projector.projectie) == 1
        bewaard = view.live_telling((regio.id, van, pd, None, date.today()))
        assert bewaard is not None and bewaard[0] == view.positie()
        geteld = tel_op(view, regio, van, pd, date.today(), None, None)
        assert telling_uit_rij(bewaard[1]) == geteld
        leeskant.vergeet_tellingen()
        assert leeskant.telling(regio, van, pd, None).als_dict() == geteld.als_dict()
        stappen += 1
    assert stappen > 2
    projector.store.close()
