"""A small hand-made history, published as iJw XML through NATS, ingested and projected:
the counts must equal what DOMAIN.md gives when worked out by hand (comments below)."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from services import bootstrap
from services.cli import app
from services.projector import diff, replay
from tests.ijw_factory import Toewijzing, jw301
from tests.integration.helpers import ingest_until_caught_up, publish

pytestmark = pytest.mark.integration

MAASTRICHT, MEERSSEN, HEERLEN = "0935", "0938", "0917"
BSN = {"A": "111222333", "B": "123456782", "C": "999900006", "D": "999900018",
       "E": "100000046", "F": "100000010", "G": "100000022", "H": "100000034"}


def _msg(client: str, gemeente: str, nr: int, product: str, start: date, eind: date | None, *,
         ident: int, dagtekening: date | None = None, reden: str | None = None,
         toegewezen: date | None = None):
    dag = dagtekening or start - timedelta(days=5)
    t = Toewijzing(str(nr), product[:2], product, start, eind, toegewezen or dag, reden=reden)
    data = jw301(gemeente=gemeente, aanbieder="12345678", identificatie=str(ident),
                 dagtekening=dag, client_bsn=BSN[client], toewijzingen=[t])
    return f"ijw.{gemeente}.jw301", data, None


HISTORY = [
    # A, Wonen: T1 ends 28 Feb, T2 starts 5 Mar (Δ = 5): doorstroom; T1 is no uitstroom.
    _msg("A", MAASTRICHT, 1, "43A01", date(2022, 3, 1), date(2023, 2, 28), ident=1),
    _msg("A", MAASTRICHT, 2, "43A01", date(2023, 3, 5), None, ident=2),
    # B, Ambulant: T3 instroom and uitstroom (nothing within 14 days), T4 after 93 days:
    # recidive; T4 ends 20 Dec: uitstroom, provisional while K < 3 Jan 2024.
    _msg("B", MAASTRICHT, 3, "45A01", date(2023, 1, 10), date(2023, 4, 30), ident=3),
    _msg("B", MAASTRICHT, 4, "45A01", date(2023, 8, 1), date(2023, 12, 20), ident=4),
    # C, Ambulant across two gemeenten: T5 (Meerssen) open, T6 (Maastricht) starts while
    # T5 runs: stapeling (Δ = -∞); T6 ends while T5 goes on: no uitstroom.
    _msg("C", MEERSSEN, 5, "45A01", date(2023, 2, 1), None, ident=5),
    _msg("C", MAASTRICHT, 6, "45A01", date(2023, 6, 1), date(2023, 9, 30), ident=6),
    # D: crisis (no flow figures, but a unique child) then Wonen: instroom (other segment).
    _msg("D", MAASTRICHT, 7, "46A01", date(2023, 5, 1), date(2023, 5, 10), ident=7),
    _msg("D", MAASTRICHT, 8, "43A01", date(2023, 5, 11), None, ident=8),
    # E, Wonen: ended 30 Jun 2022, back on 1 Feb 2023 (Δ = 216 > 180): hernieuwde instroom.
    _msg("E", MAASTRICHT, 9, "43A01", date(2021, 1, 1), date(2022, 6, 30), ident=9),
    _msg("E", MAASTRICHT, 10, "43A01", date(2023, 2, 1), None, ident=10),
    # F: ambulant in Heerlen (excluded: nowhere) and a landelijk product (unmapped).
    _msg("F", HEERLEN, 11, "45A01", date(2023, 3, 1), None, ident=11),
    _msg("F", MAASTRICHT, 12, "55A11", date(2023, 4, 1), date(2023, 4, 30), ident=12),
    # G, Wonen: allocated in May, deleted in-band on 1 Jul (RedenWijziging 13).
    _msg("G", MAASTRICHT, 13, "43A01", date(2023, 6, 1), None, ident=13),
    _msg("G", MAASTRICHT, 13, "43A01", date(2023, 6, 1), date(2023, 6, 1), reden="13",
         dagtekening=date(2023, 7, 1), ident=14),
    # H, Wonen: allocated for 2023, shortened to 31 Oct by a version of 15 Jan 2024.
    _msg("H", MAASTRICHT, 15, "43A01", date(2023, 1, 1), date(2023, 12, 31), ident=15),
    _msg("H", MAASTRICHT, 15, "43A01", date(2023, 1, 1), date(2023, 10, 31),
         dagtekening=date(2024, 1, 15), ident=16),
]

FLOW = ["instroom", "stapeling", "doorstroom", "recidive", "hernieuwde_instroom", "uitstroom",
        "uitstroom_voorlopig", "in_zorg", "unieke_jeugdigen"]


def _row(*values):
    return dict(zip(FLOW, values, strict=True))


# as known on 1 Jan 2025: H ends 31 Oct (uitstroom, not in zorg); nothing provisional
EXPECTED_2025 = {
    "gik-j": _row(0, 0, 0, 0, 0, 0, 0, 0, 0),
    "wonen": _row(2, 0, 1, 0, 1, 1, 0, 3, 4),        # instroom D,H; doorstroom A; hernieuwd E
    "ambulant": _row(2, 1, 0, 1, 0, 2, 0, 1, 2),     # instroom B,C; stapeling C; recidive B
    "crisis": _row(None, None, None, None, None, None, None, 0, 1),
}
# as known on the peildatum: H still runs to 31 Dec (in zorg, provisional uitstroom), B's
# uitstroom of 20 Dec is provisional too
EXPECTED_PEILDATUM = {
    **EXPECTED_2025,
    "wonen": _row(2, 0, 1, 0, 1, 1, 1, 4, 4),
    "ambulant": _row(2, 1, 0, 1, 0, 2, 1, 1, 2),
}


@pytest.fixture
def projected(settings):
    asyncio.run(publish(settings, HISTORY))
    asyncio.run(ingest_until_caught_up(settings))
    projector = bootstrap.projector(settings, settings.database_url)
    projector.volg(tot_bij=True)
    yield projector
    projector.store.close()


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


def test_replay_from_the_event_log_agrees_with_the_projection(settings, projected):
    regio = bootstrap.regios(settings)["zuid-limburg"]
    for k in (date(2023, 6, 30), date(2023, 12, 31), date(2024, 3, 30), None):
        for peildatum in (date(2023, 6, 30), date(2023, 12, 31)):
            van = date(peildatum.year, 1, 1)
            assert (replay(projected.store, regio, van, peildatum, k).als_dict()
                    == projected.telling(regio, van, peildatum, k).als_dict())


def test_diff_explains_the_late_shortening(settings, projected):
    regio = bootstrap.regios(settings)["zuid-limburg"]
    een, twee, wijzigingen = diff(projected, regio, date(2023, 1, 1), date(2023, 12, 31),
                                  date(2023, 12, 31), date(2025, 1, 1))
    assert [(w.gemeentecode, w.toewijzingnummer, w.oud, w.nieuw, w.oorzaak) for w in wijzigingen] == [
        (MAASTRICHT, 15, "instroom+uitstroom+in_zorg", "instroom+uitstroom", f"{MAASTRICHT}:16")]
    wonen = [(a.in_zorg, b.in_zorg) for a, b in zip(een.segmenten, twee.segmenten, strict=True)
             if a.segment == "wonen"]
    assert wonen == [(4, 3)]


def test_projector_restart_continues_without_double_counting(settings, projected):
    before = projected.telling(bootstrap.regios(settings)["zuid-limburg"], date(2023, 1, 1),
                               date(2023, 12, 31), None).als_dict()
    again = bootstrap.projector(settings, settings.database_url)
    again.volg(tot_bij=True)
    assert again.positie() == projected.positie()
    after = again.telling(bootstrap.regios(settings)["zuid-limburg"], date(2023, 1, 1),
                          date(2023, 12, 31), None).als_dict()
    assert before == after
    again.herbouw()
    again.volg(tot_bij=True)
    assert again.telling(bootstrap.regios(settings)["zuid-limburg"], date(2023, 1, 1),
                         date(2023, 12, 31), None).als_dict() == before
    again.store.close()
