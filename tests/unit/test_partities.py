"""Partitions: their settings, names, subjects; the stream config NATS sources them with."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from events.gemeenten import Gemeente, GemeenteLijst, GemeenteRegister
from projections.regio import laad_regios
from services import bootstrap
from services.nats import partitie_stream_config
from services.partities import (
    PartitieFout,
    buiten_partities,
    elders_geteld,
    gemeentecodes,
    ingest_stream,
    onbekende_regios,
    partitie_van,
    schema,
    subjects,
    verdeel,
)
from services.settings import Settings
from services.toegang.nats_accounts import gebruikers

INDELING = {"zuid": ["zuid-limburg"], "brabant": ["een-10-voor-de-jeugd"]}


def test_unset_is_one_partition_with_everything(monkeypatch):
    monkeypatch.delenv("JEUGDSTROOM_PARTITION", raising=False)
    monkeypatch.delenv("JEUGDSTROOM_PARTITIONS", raising=False)
    settings = Settings()
    assert settings.ingest_stream == "IJW" and settings.database_schema is None
    assert bootstrap.ingest_bron(settings) == "nats:IJW"
    assert bootstrap.partitie_subjects(settings) is None
    assert bootstrap.partitie_regios(settings, laad_regios()) == laad_regios()


def test_a_partition_has_its_own_stream_schema_and_position(monkeypatch):
    monkeypatch.setenv("JEUGDSTROOM_PARTITIONS",
                       '{"zuid": ["zuid-limburg"], "brabant": ["een-10-voor-de-jeugd"]}')
    monkeypatch.setenv("JEUGDSTROOM_PARTITION", "zuid")
    settings = Settings()
    assert settings.partitions == INDELING
    assert (settings.ingest_stream, settings.database_schema) == ("IJW_ZUID", "partitie_zuid")
    assert bootstrap.ingest_bron(settings) == "nats:IJW_ZUID"
    assert list(bootstrap.partitie_regios(settings, laad_regios())) == ["zuid-limburg"]
    onderwerpen = bootstrap.partitie_subjects(settings)
    assert onderwerpen is not None and "ijw.0935.>" in onderwerpen and "ijw.0772.>" not in onderwerpen
    config = partitie_stream_config(settings, onderwerpen)
    assert config.subjects is None  # no subjects of its own: NATS copies them from IJW
    assert config.sources is not None and config.sources[0].name == "IJW"
    assert [t.src for t in config.sources[0].subject_transforms or []] == onderwerpen


def test_a_region_in_two_partitions_is_refused():
    with pytest.raises(ValidationError, match="region 'zuid-limburg' is in partition 'a' and in 'b'"):
        Settings(partitions={"a": ["zuid-limburg"], "b": ["zuid-limburg"]})


def test_the_partition_must_be_one_of_the_partitions():
    with pytest.raises(ValidationError, match="JEUGDSTROOM_PARTITION=noord is not a partition"):
        Settings(partitions=INDELING, partition="noord")
    with pytest.raises(ValidationError, match=r"not a partition.*none: JEUGDSTROOM_PARTITIONS"):
        Settings(partition="zuid")


@pytest.mark.parametrize("naam", ["Zuid", "zuid-limburg", "1e", "a" * 31, ""])
def test_a_partition_name_must_do_as_a_stream_and_schema_name(naam):
    with pytest.raises(ValidationError, match="lower-case letters, digits and _"):
        Settings(partitions={naam: ["zuid-limburg"]})


def test_a_partition_without_regions_is_refused():
    with pytest.raises(ValidationError, match="partition 'leeg' has no regions"):
        Settings(partitions={"leeg": []})


def test_an_unknown_region_names_the_known_ones():
    with pytest.raises(PartitieFout, match=r"unknown regions \['utrecht'\]; known: een-10"):
        onbekende_regios({"midden": ["utrecht"]}, laad_regios())
    settings = Settings(partitions={"midden": ["utrecht"]}, partition="midden")
    with pytest.raises(bootstrap.ConfigurationError, match="JEUGDSTROOM_REGION_CONFIGS"):
        bootstrap.partitie_regios(settings, laad_regios())


def test_subjects_include_old_codes_of_the_region_in_any_cbs_year():
    """A gemeente merged away keeps its old code in the older list; its traffic still routes."""
    oud = GemeenteLijst(date(2018, 1, 1), {
        "0001": Gemeente("0001", "Opgeheven", "Limburg", "Zuid-Limburg"),
        "0002": Gemeente("0002", "Elders", "Utrecht", "Utrecht stad")})
    nieuw = GemeenteLijst(date(2026, 1, 1), {
        "0935": Gemeente("0935", "Maastricht", "Limburg", "Zuid-Limburg")})
    register = GemeenteRegister([oud, nieuw])
    codes = gemeentecodes({"zuid-limburg": ["0935", "0917"]}, ["zuid-limburg"], register)
    assert codes == ["0001", "0917", "0935"]
    assert subjects(codes) == ["ijw.0001.>", "ijw.0917.>", "ijw.0935.>"]


def test_messages_of_gemeenten_in_no_partition():
    per_subject = {"ijw.0935.jw301": 4, "ijw.0363.jw301": 2, "ijw.9999.jw305": 1, "ijw": 1}
    assert buiten_partities(per_subject, ["0935", "0772"]) == {"ijw.0363.jw301": 2, "ijw.9999.jw305": 1}


def test_names_and_lookup():
    assert ingest_stream("IJW", None) == "IJW" and ingest_stream("IJW", "noord_1") == "IJW_NOORD_1"
    assert schema(None) is None and schema("noord_1") == "partitie_noord_1"
    assert partitie_van(INDELING, "een-10-voor-de-jeugd") == "brabant"
    assert partitie_van(INDELING, "utrecht") is None


def test_a_question_about_a_region_counted_elsewhere_names_where():
    assert elders_geteld({}, None, "zuid-limburg") is None
    assert elders_geteld(INDELING, "zuid", "zuid-limburg") is None
    assert "JEUGDSTROOM_PARTITION=brabant" in (elders_geteld(INDELING, "zuid", "een-10-voor-de-jeugd") or "")
    assert "JEUGDSTROOM_PARTITION=zuid" in (elders_geteld(INDELING, None, "zuid-limburg") or "")
    assert "in no partition" in (elders_geteld(INDELING, "zuid", "utrecht") or "")
    assert elders_geteld(INDELING, None, "utrecht") is None


def test_each_partition_gets_an_ingest_user_for_its_own_stream():
    lijst = {g.naam: g for g in gebruikers({"0935": "Maastricht"}, partities=["zuid", "brabant"])}
    assert "ingest" not in lijst
    zuid = lijst["ingest-zuid"]
    assert "$JS.API.CONSUMER.MSG.NEXT.IJW_ZUID.ingest" in zuid.publish
    assert "$JS.API.STREAM.CREATE.IJW" in zuid.publish  # it sources from IJW
    assert "$JS.API.CONSUMER.MSG.NEXT.IJW.ingest" not in zuid.publish
    assert not [r for r in zuid.publish if "IJW_BRABANT" in r]
    assert "$JS.API.STREAM.INFO.IJW_BRABANT" in lijst["projector"].publish
    zonder = {g.naam for g in gebruikers({"0935": "Maastricht"})}
    assert {"ingest", "projector", "gemeente-0935"} == zonder


def test_verdeel_puts_the_heaviest_region_first_onto_the_lightest_partition():
    indeling = verdeel({"a": 20, "b": 16, "c": 10, "d": 7, "e": 6, "f": 1}, 2)
    assert indeling == {"p1": ["a", "d", "f"], "p2": ["b", "c", "e"]}  # 28 and 32
    assert sorted(r for regios in indeling.values() for r in regios) == list("abcdef")
    with pytest.raises(PartitieFout, match="choose 1 to 6"):
        verdeel({r: 1 for r in "abcdef"}, 7)
