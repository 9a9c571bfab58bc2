"""Issue 14: about a minute of `jeugdstroom chaos`: faults while a simulated year flows through
the pipeline, then nothing lost, nothing doubled, the figures equal to a clean run's."""

from __future__ import annotations

import pytest

from projections.regio import laad_regios
from services.dev.chaos import chaos
from services.settings import Settings
from tests.conftest import CBS_FILES, XSD_DIR

pytestmark = pytest.mark.integration


def test_a_minute_of_chaos_loses_nothing_doubles_nothing_and_the_figures_agree(tmp_path):
    settings = Settings(state_dir=tmp_path, xsd_dir=XSD_DIR, gemeenten_files=CBS_FILES,
                        pseudonym_key="chaos-test-pseudonym-key-0123456789")
    meldingen: list[str] = []
    rapport = chaos(settings, laad_regios()["zuid-limburg"], 1.0, seed=3, meld=meldingen.append)
    print("\n".join(rapport.regels()))
    assert sum(rapport.fouten.values()) >= 5, rapport.regels()
    assert rapport.gepubliceerd + rapport.niet_gepubliceerd <= rapport.bestanden
    assert rapport.gepubliceerd > 10_000
    assert (rapport.verloren, rapport.dubbel) == (0, 0), rapport.regels()
    assert rapport.cijfers_gelijk, rapport.regels()
