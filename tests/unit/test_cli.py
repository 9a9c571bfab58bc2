"""The CLI's answers to wrong input: a clear message and exit status 2, before any server."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from services.cli import app

RUNNER = CliRunner()


@pytest.mark.parametrize(("args", "message"), [
    (["counts", "--region", "nergens", "--peildatum", "2023-12-31"],
     "onbekende regio 'nergens': kies uit een-10-voor-de-jeugd, zuid-limburg"),
    (["counts", "--region", "zuid-limburg", "--peildatum", "2023-01-01", "--from", "2023-06-01"],
     "ligt vóór het begin 2023-06-01: het venster is [from, peildatum]"),
    (["counts", "--region", "zuid-limburg", "--peildatum", "2023-12-31", "--gemeente", "0363"],
     "gemeente '0363' hoort niet bij regio zuid-limburg"),
    (["diff", "--region", "zuid-limburg", "--peildatum", "2023-12-31", "--known-at", "2024-01-01"],
     "give --known-at exactly twice"),
    (["simulate", "--years", "2023-2021"], "the first year must not be after the last"),
])
def test_wrong_input_says_what_to_send_instead(args, message, tmp_path, monkeypatch):
    monkeypatch.setenv("JEUGDSTROOM_STATE_DIR", str(tmp_path))
    result = RUNNER.invoke(app, args)
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())
    assert not (tmp_path / "runtime.json").exists()  # nothing was started for it


def test_region_file_errors_name_the_file_and_field(tmp_path):
    bad = tmp_path / "regio.toml"
    bad.write_text('id = "x"\nnaam = "X"\nhistory_start = 2020-01-01\nsegmenten = []\n'
                   '[gemeenten]\n"935" = "M"\n')
    result = RUNNER.invoke(app, ["regions", "list", "--region-config", str(bad)])
    assert result.exit_code == 2
    assert "regio.toml" in result.output and "4-digit CBS codes" in " ".join(result.output.split())


def test_regions_from_cbs_writes_loadable_files(tmp_path):
    from tests.conftest import CBS_FILES

    result = RUNNER.invoke(app, ["regions", "from-cbs", str(CBS_FILES[0]), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    files = sorted(tmp_path.glob("*.toml"))
    assert len(files) == 42  # the CBS jeugdzorgregio's of 2026
    listing = RUNNER.invoke(app, ["regions", "list", "--region-config", str(tmp_path / "utrecht-stad.toml")])
    assert "categorie-45" in listing.output.replace("\n", "")
