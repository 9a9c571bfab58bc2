"""The analyst's questions without servers (issue 13): dates that do not exist, gemeenten by
name, warnings for doubtful questions, readable labels, zorgduur, the last day with data,
and the CLI's answers to them."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import pytest
from typer.testing import CliRunner

from projections.flow import Allocatie, Categorie, Classificatie, Periode, wat_veranderde
from projections.projectie import FlowProjectie
from projections.regio import laad_regios
from projections.view import InMemoryFlowView
from projections.vragen import (
    Leeskant,
    OngeldigeVraag,
    kies_gemeente,
    label,
    lees_datum,
    rangwaarde,
    twijfels,
    uitvoer_telling,
    zorgduur_per_segment,
)
from services.cli import app
from tests.unit.test_projectie_in_geheugen import _eventlog

ZL = laad_regios([])["zuid-limburg"]
RUNNER = CliRunner()


def _output(args: list[str], tmp_path, monkeypatch) -> tuple[int, str]:
    monkeypatch.setenv("JEUGDSTROOM_STATE_DIR", str(tmp_path))
    result = RUNNER.invoke(app, args)
    return result.exit_code, " ".join(result.output.replace("│", " ").split())


# -- defect 5: a date that does not exist, gemeenten by name -----------------------------------


@pytest.mark.parametrize(("tekst", "melding"), [
    ("2023-02-30", "bestaat niet: februari 2023 heeft 28 dagen"),
    ("2024-02-30", "bestaat niet: februari 2024 heeft 29 dagen"),
    ("2023-04-31", "bestaat niet: april 2023 heeft 30 dagen"),
    ("2023-13-01", "bestaat niet: een jaar heeft 12 maanden"),
    ("31-12-2023", "is geen datum: schrijf JJJJ-MM-DD"),
    ("gisteren", "is geen datum"),
])
def test_a_date_that_does_not_exist_is_called_that(tekst, melding):
    with pytest.raises(OngeldigeVraag, match=melding):
        lees_datum(tekst, "peildatum")


def test_real_dates_are_read():
    assert lees_datum("2024-02-29", "peildatum") == date(2024, 2, 29)
    assert lees_datum("9999-12-31", "peildatum") == date(9999, 12, 31)


@pytest.mark.parametrize("gevraagd", ["Maastricht", "maastricht", " MAASTRICHT ", "0935", "935"])
def test_a_gemeente_is_asked_by_name_or_code(gevraagd):
    assert kies_gemeente(ZL, gevraagd) == "0935"
    assert kies_gemeente(ZL, None) is None and kies_gemeente(ZL, "") is None


def test_an_unknown_gemeente_lists_names_with_codes():
    with pytest.raises(OngeldigeVraag) as fout:
        kies_gemeente(ZL, "Amsterdam")
    assert "Maastricht (0935)" in str(fout.value) and "Heerlen (0917)" in str(fout.value)
    assert "datum" not in str(fout.value).replace("peildatum", "")  # no hint about dates


def test_cli_says_the_date_does_not_exist(tmp_path, monkeypatch):
    code, uit = _output(["counts", "--region", "zuid-limburg", "--peildatum", "2023-02-30"],
                        tmp_path, monkeypatch)
    assert code == 2
    assert "bestaat niet: februari 2023 heeft 28 dagen" in uit
    assert "does not match the format" not in uit


def test_cli_lists_gemeenten_by_name_and_code(tmp_path, monkeypatch):
    code, uit = _output(["counts", "--region", "zuid-limburg", "--peildatum", "2023-12-31",
                         "--gemeente", "Amsterdam"], tmp_path, monkeypatch)
    assert code == 2
    assert "Maastricht (0935)" in uit and "YYYY" not in uit
    assert not (tmp_path / "runtime.json").exists()  # refused before any server


# -- defect 9: doubtful questions --------------------------------------------------------------


def test_doubtful_questions_get_a_warning():
    vandaag = date(2026, 12, 1)
    assert twijfels(date(2025, 12, 31), None, vandaag) == []
    assert twijfels(date(2025, 12, 31), date(2026, 3, 31), vandaag) == []
    [toekomst] = twijfels(date(2027, 6, 30), None, vandaag)
    assert "in de toekomst" in toekomst
    [te_vroeg] = twijfels(date(2025, 12, 31), date(2025, 6, 30), vandaag)
    assert "vóór de peildatum" in te_vroeg
    [ver] = twijfels(date(2025, 12, 31), date(2030, 1, 1), vandaag)
    assert "meer dan een jaar in de toekomst" in ver


def test_the_counts_carry_the_warnings():
    view = InMemoryFlowView()
    events = _eventlog()
    FlowProjectie(view, [ZL]).projecteer(list(enumerate(events, start=1)), len(events))
    telling = Leeskant(view).telling(ZL, date(2023, 1, 1), date(2023, 12, 31), date(2023, 6, 30))
    assert any("vóór de peildatum" in w for w in telling.waarschuwingen)
    toekomst = date.today() + timedelta(days=30)
    later = Leeskant(view).telling(ZL, date(toekomst.year, 1, 1), toekomst, None)
    assert any("in de toekomst" in w for w in later.waarschuwingen)


# -- defect 10: Dutch, readable labels, what changed -------------------------------------------


def test_history_start_warning_is_dutch_without_jargon():
    waarschuwing = ZL.window_waarschuwing(ZL.history_start)
    assert waarschuwing is not None
    assert "instroom kan te hoog zijn" in waarschuwing
    assert "history_start" not in waarschuwing and "m=" not in waarschuwing


def test_states_read_as_labels():
    assert label("hernieuwde_instroom+uitstroom") == "hernieuwde instroom + uitstroom"
    assert label("instroom+uitstroom+in_zorg") == "instroom + uitstroom + in zorg op peildatum"
    assert label("-") == "niet geteld"
    assert label("doorstroom (ambulant)") == "doorstroom (segment ambulant)"


def _periode(eind: date | None, categorie: Categorie, uitstroom: bool) -> Periode:
    a = Allocatie(("0935", 15), "c", "wonen", date(2023, 1, 1), eind)
    return Periode(Classificatie(a, categorie, None, None, uitstroom), date(2023, 1, 1), None, "0935:1")


def test_what_changed_names_the_end_date_and_the_uitstroom():
    wat = wat_veranderde(_periode(date(2023, 12, 31), Categorie.INSTROOM, False),
                         _periode(date(2023, 10, 31), Categorie.INSTROOM, True))
    assert "einddatum 2023-12-31 → 2023-10-31" in wat
    assert "geen uitstroom → uitstroom" in wat
    assert wat_veranderde(None, _periode(None, Categorie.INSTROOM, False)).startswith("nieuw bekend")


def test_the_diff_says_when_and_what():
    view = InMemoryFlowView()
    events = _eventlog()
    FlowProjectie(view, [ZL]).projecteer(list(enumerate(events, start=1)), len(events))
    _, _, wijzigingen = Leeskant(view).diff(ZL, date(2023, 1, 1), date(2023, 12, 31),
                                            date(2023, 12, 31), date(2024, 3, 1))
    kort = next(w for w in wijzigingen if w.toewijzingnummer == 1)
    assert kort.datum == date(2024, 2, 1)
    assert "einddatum 2023-05-31 → 2023-03-31" in kort.wat


# -- defect 1 and the stand: the last day with data ---------------------------------------------


def test_the_last_day_with_data_is_the_last_dagtekening():
    view = InMemoryFlowView()
    leeskant = Leeskant(view, laatste=lambda: 9)
    assert leeskant.laatste_dag(ZL) is None
    events = _eventlog()
    FlowProjectie(view, [ZL]).projecteer(list(enumerate(events, start=1)), len(events))
    assert leeskant.laatste_dag(ZL) == date(2024, 2, 1)
    # the first view: the end of the month of the last start (the Heerlen one of 5 June)
    assert leeskant.laatste_peildatum(ZL, date(2026, 12, 1)) == date(2023, 6, 30)
    assert leeskant.laatste_peildatum(ZL, date(2023, 6, 10)) == date(2023, 6, 10)  # not past today
    assert leeskant.laatste_peildatum(ZL, date(2022, 1, 1)) is None
    stand = leeskant.stand(ZL)
    assert (stand.laatste_bericht, stand.positie, stand.achter) == (date(2024, 2, 1), len(events),
                                                                    max(9 - len(events), 0))


# -- defect 2: one name per meaning in the monthly series ---------------------------------------


def test_the_monthly_series_calls_all_inflow_instroom_totaal():
    view = InMemoryFlowView()
    events = _eventlog()
    FlowProjectie(view, [ZL]).projecteer(list(enumerate(events, start=1)), len(events))
    reeks = Leeskant(view).tijdreeks(ZL, "2023-01", "2023-12", date(2023, 12, 31))
    assert "instroom" not in {f.name for f in dataclasses.fields(reeks[0])}
    juni = {m.segment: m for m in reeks if m.maand == "2023-06"}
    assert juni["wonen"].instroom_totaal == 1  # the doorstroom to Heerlen: inflow, not instroom


# -- exports: the header block -------------------------------------------------------------------


def test_the_csv_says_what_was_asked():
    view = InMemoryFlowView()
    events = _eventlog()
    FlowProjectie(view, [ZL]).projecteer(list(enumerate(events, start=1)), len(events))
    telling = Leeskant(view).telling(ZL, date(2023, 1, 1), date(2023, 12, 31), date(2024, 3, 1), "0935")
    tekst = uitvoer_telling(telling, ZL, min_cel=10).als_csv()
    for kop in ("# regio: Zuid-Limburg (zuid-limburg)", "# venster: 2023-01-01 t/m 2023-12-31",
                "# peildatum: 2023-12-31", "# bekend op: 2024-03-01", "# gemeente: Maastricht (0935)",
                "# definities: ", "# onderdrukking: cellen van 1 tot 10 staan als <10"):
        assert kop in tekst, kop


# -- zorgduur -------------------------------------------------------------------------------------


def test_percentiles_by_nearest_rank():
    assert rangwaarde([], 50) is None
    assert rangwaarde([10], 90) == 10
    assert rangwaarde([1, 2, 3, 4], 50) == 2
    assert rangwaarde(list(range(1, 11)), 90) == 9
    assert rangwaarde(list(range(1, 11)), 50) == 5


def test_zorgduur_per_segment():
    def c(nr: int, client: str, start: date, eind: date | None, cat: Categorie, uit: bool,
          voor: int | None = None) -> Classificatie:
        return Classificatie(Allocatie(("0935", nr), client, "wonen", start, eind), cat, None,
                             ("0935", voor) if voor else None, uit)

    classificaties = [
        # one episode of two allocations (doorstroom), ended 30 Jun: 181 days
        c(1, "a", date(2023, 1, 1), date(2023, 3, 31), Categorie.INSTROOM, False),
        c(2, "a", date(2023, 4, 1), date(2023, 6, 30), Categorie.DOORSTROOM, True, 1),
        # ended 10 Jan: 10 days
        c(3, "b", date(2023, 1, 1), date(2023, 1, 10), Categorie.INSTROOM, True),
        # ongoing on the peildatum
        c(4, "d", date(2023, 5, 1), None, Categorie.INSTROOM, False),
    ]
    duur = zorgduur_per_segment(classificaties, ZL, date(2023, 1, 1), date(2023, 12, 31))
    wonen = duur["wonen"]
    assert (wonen.afgesloten, wonen.mediaan, wonen.p90, wonen.lopend) == (2, 10, 181, 1)
    assert wonen.aandeel_lopend == round(1 / 3, 4)
    assert "crisis" not in duur  # no flow figures, no zorgduur
    assert zorgduur_per_segment(classificaties, ZL, date(2023, 1, 1), date(2023, 12, 31),
                                "0917")["wonen"].afgesloten == 0


# -- defect 8: the bench labels a run with what it stored -------------------------------------------


class _Elk(float):
    def __getitem__(self, _: str) -> float:
        return 1.0


@dataclasses.dataclass
class _NepMeting:
    events: int = 29_186
    ijw_records: int = 12_000

    def __getattr__(self, _: str) -> _Elk:
        return _Elk(1.0)


def test_bench_labels_each_run_with_the_events_stored(tmp_path, monkeypatch):
    import services.dev.bench as bench

    monkeypatch.setattr(bench, "meet", lambda *a, **k: _NepMeting())
    code, uit = _output(["bench", "--sizes", "5000"], tmp_path, monkeypatch)
    assert code == 0, uit
    assert "29,186 events" in uit
    assert "~5,000 events" not in uit.replace("size ~5,000 events", "")


# -- progress and help ----------------------------------------------------------------------------


def test_progress_shows_the_time_left():
    from rich.progress import TimeRemainingColumn

    from services.cli.basis import _progress

    assert any(isinstance(k, TimeRemainingColumn) for k in _progress().columns)


@pytest.mark.parametrize("commando", [["counts"], ["diff"], ["replay"]])
def test_help_has_an_example_and_describes_every_option(commando, tmp_path, monkeypatch):
    code, uit = _output([*commando, "--help"], tmp_path, monkeypatch)
    assert code == 0 and "Example: jeugdstroom" in uit
    assert "JJJJ-MM-DD" in uit and "Maastricht of 0935" in uit
