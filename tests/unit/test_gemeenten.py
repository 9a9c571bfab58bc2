"""Finding 6 of issue 14: the CBS list of gemeenten ships with the package, so a fresh clone
with nothing beside it works; settings default to it; `werk_bij` adds a year's list."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from events import gemeenten
from events.gemeenten import (
    DATA_DIR,
    GemeenteRegister,
    GemeenteRegisterError,
    lijsten_per_jaar,
    meegeleverde_lijsten,
    werk_bij,
)
from services import settings as settings_module
from services.settings import SCHEMAVALIDATIE_UIT, Settings

KOP = "gemeentecode,gemeentenaam,provincie,jeugdzorgregio\n"


def test_the_shipped_list_knows_maastricht_and_its_jeugdzorgregio():
    lijsten = meegeleverde_lijsten()
    assert [p.name for p in lijsten][:1] == ["cbs-gemeenten-2026.csv"]
    assert all(p.parent == DATA_DIR for p in lijsten)
    register = GemeenteRegister.from_csv(lijsten)
    maastricht = register.gemeente("0935", date(2026, 1, 1))
    assert maastricht is not None
    assert (maastricht.naam, maastricht.provincie, maastricht.jeugdzorgregio) == (
        "Maastricht", "Limburg", "Zuid-Limburg")
    assert len(register.lijst_op(date(2026, 1, 1)).gemeenten) == 342


def test_the_shipped_list_is_in_the_form_werk_bij_writes(tmp_path):
    [lijst_2026] = [p for p in meegeleverde_lijsten() if p.name == "cbs-gemeenten-2026.csv"]
    geschreven = werk_bij(lijst_2026, tmp_path)
    assert geschreven == tmp_path / "cbs-gemeenten-2026.csv"
    assert geschreven.read_bytes() == lijst_2026.read_bytes()


@pytest.fixture
def verse_clone(tmp_path, monkeypatch) -> Path:
    """A checkout with no ../shared beside it and no JEUGDSTROOM_* reference settings."""
    checkout = tmp_path / "clone" / "jeugdstroom"
    checkout.mkdir(parents=True)
    monkeypatch.setattr(settings_module, "PROJECT_ROOT", checkout)
    monkeypatch.chdir(checkout)
    for naam in ("JEUGDSTROOM_GEMEENTEN_FILES", "JEUGDSTROOM_XSD_DIR", "JEUGDSTROOM_NATS_URL",
                 "JEUGDSTROOM_DATABASE_URL"):
        monkeypatch.delenv(naam, raising=False)
    return checkout


def test_settings_default_to_the_shipped_list_without_shared(verse_clone):
    settings = Settings()
    assert settings.gemeenten_files == meegeleverde_lijsten()
    register = GemeenteRegister.from_csv(settings.gemeenten_files)
    assert register.gemeente("0935", date(2026, 6, 1)).jeugdzorgregio == "Zuid-Limburg"
    assert settings.xsd_dir is None
    assert settings.schemavalidatie_uit == SCHEMAVALIDATIE_UIT
    assert "schema validation is off" in SCHEMAVALIDATIE_UIT
    assert "JEUGDSTROOM_XSD_DIR=" in SCHEMAVALIDATIE_UIT


def test_xsd_dir_default_comes_from_shared_when_present(verse_clone):
    xsd = verse_clone.parent / "shared" / "ijw" / "xsd"
    xsd.mkdir(parents=True)
    settings = Settings()
    assert settings.xsd_dir == xsd and settings.schemavalidatie_uit is None
    assert settings.gemeenten_files == meegeleverde_lijsten()  # not from ../shared


def test_configured_lists_replace_the_shipped_one_of_their_year(verse_clone, monkeypatch):
    eigen_2026 = verse_clone / "cbs-gemeenten-2026.csv"
    eigen_2026.write_text(KOP + "0935,Maastricht,Limburg,Zuid-Limburg\n", encoding="utf-8")
    monkeypatch.setenv("JEUGDSTROOM_GEMEENTEN_FILES", f'["{eigen_2026}"]')
    settings = Settings()
    assert settings.gemeenten_files == [eigen_2026]
    register = GemeenteRegister.from_csv(settings.gemeenten_files)
    assert register.gemeente("0384", date(2026, 6, 1)) is None  # not in the configured 2026 list


def test_lijsten_per_jaar_adds_the_shipped_years_nobody_configured():
    meegeleverd = [Path("data/cbs-gemeenten-2026.csv"), Path("data/cbs-gemeenten-2027.csv")]
    eigen = [Path("/etc/x/cbs-gemeenten-2025.csv"), Path("/etc/x/cbs-gemeenten-2027.csv")]
    assert lijsten_per_jaar(eigen, meegeleverd) == [*eigen, meegeleverd[0]]
    assert lijsten_per_jaar([], meegeleverd) == meegeleverd
    assert lijsten_per_jaar(meegeleverd, meegeleverd) == meegeleverd  # settings validated twice


def test_werk_bij_writes_next_years_list(tmp_path):
    bron = tmp_path / "indeling.csv"
    bron.write_text(
        "\ufeffGemeentecode,Gemeentenaam,Provincie,Jeugdzorgregio,extra\n"
        "GM0935,Maastricht,Limburg,Zuid-Limburg,x\n"
        '820,"Nuenen, Gerwen en Nederwetten",Noord-Brabant,Zuid-Oost Brabant,y\n'
        "\n",
        encoding="utf-8",
    )
    doel = werk_bij(bron, tmp_path / "data", jaar=2027)
    assert doel == tmp_path / "data" / "cbs-gemeenten-2027.csv"
    assert doel.read_text(encoding="utf-8") == (
        KOP + "0935,Maastricht,Limburg,Zuid-Limburg\n"
        '0820,"Nuenen, Gerwen en Nederwetten",Noord-Brabant,Zuid-Oost Brabant\n')
    register = GemeenteRegister.from_csv([doel])
    assert register.lijst_op(date(2027, 3, 1)).geldig_vanaf == date(2027, 1, 1)
    assert register.gemeente("0820", date(2027, 3, 1)).jeugdzorgregio == "Zuid-Oost Brabant"


@pytest.mark.parametrize(("inhoud", "melding"), [
    ("gemeentecode,naam\n0935,Maastricht\n", "columns gemeentenaam, provincie, jeugdzorgregio are missing"),
    (KOP + "0935,Maastricht,Limburg,Zuid-Limburg\n935,Maastricht,Limburg,Zuid-Limburg\n",
     "line 3: gemeentecode 0935 appears twice"),
    (KOP + "0935,Maastricht,Limburg,\n", "line 2: gemeentecode 0935 has no jeugdzorgregio"),
    (KOP + "MAAS,Maastricht,Limburg,Zuid-Limburg\n", "is not a 4-digit CBS code"),
    (KOP, "has no gemeenten"),
])
def test_werk_bij_refuses_a_list_it_cannot_use_and_writes_nothing(tmp_path, inhoud, melding):
    bron = tmp_path / "cbs-gemeenten-2027.csv"
    bron.write_text(inhoud, encoding="utf-8")
    doel_dir = tmp_path / "data"
    with pytest.raises(GemeenteRegisterError, match=melding):
        werk_bij(bron, doel_dir)
    assert not doel_dir.exists() or not list(doel_dir.iterdir())


def test_werk_bij_needs_the_year(tmp_path):
    bron = tmp_path / "indeling.csv"
    bron.write_text(KOP + "0935,Maastricht,Limburg,Zuid-Limburg\n", encoding="utf-8")
    with pytest.raises(GemeenteRegisterError, match="say which year"):
        werk_bij(bron, tmp_path)
    with pytest.raises(GemeenteRegisterError, match="before the iJw standard"):
        werk_bij(bron, tmp_path, jaar=2014)


def test_package_data_declares_the_lists():
    pyproject = Path(gemeenten.__file__).resolve().parents[1] / "pyproject.toml"
    assert 'events = ["data/*.csv"]' in pyproject.read_text(encoding="utf-8")
