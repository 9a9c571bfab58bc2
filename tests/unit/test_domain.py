"""Aggregates and message -> events translation, with an in-memory aggregate source."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from events.domain import Declaratie, Toewijzing, declaratie_id, toewijzing_id
from events.gemeenten import GemeenteRegister, GemeenteRegisterError
from events.ijw import Bsn, lees_bericht
from events.pseudonym import Pseudonimiseerder
from events.verwerking import ijw_records, verwerk
from services.bootstrap import ConfigurationError, pseudonym_key
from services.settings import Settings
from tests.conftest import EXAMPLE_SECRETS, INGESTED_EXAMPLES, example
from tests.ijw_factory import Toewijzing as T
from tests.ijw_factory import bsn, jw301

PSEUDONIEM = Pseudonimiseerder(b"0123456789abcdef0123456789abcdef")


class Bron:
    """Aggregates kept in a dict, as the event store would hand them out."""

    def __init__(self) -> None:
        self.aggregates: dict = {}

    def toewijzing(self, gemeentecode, toewijzingnummer):
        key = toewijzing_id(gemeentecode, toewijzingnummer)
        return self.aggregates.setdefault(key, Toewijzing.registreer(gemeentecode, toewijzingnummer))

    def declaratie(self, gemeentecode, aanbieder, identificatie, dagtekening):
        key = declaratie_id(gemeentecode, aanbieder, identificatie, dagtekening)
        return self.aggregates.setdefault(
            key, Declaratie.open(gemeentecode, aanbieder, identificatie, dagtekening))

    def nieuwe_events(self) -> list:
        return [e for a in self.aggregates.values() for e in a.collect_events()]


def _verwerk(bron: Bron, data: bytes, register) -> list:
    verwerk(lees_bericht(data, register), PSEUDONIEM, bron)
    return bron.nieuwe_events()


def _names(events) -> list[str]:
    return [type(e).__qualname__ for e in events]


def test_examples_become_events_without_personal_data(register):
    bron = Bron()
    events = []
    for name in INGESTED_EXAMPLES:
        events += _verwerk(bron, example(name), register)
    assert _names(events).count("Toewijzing.VersieOntvangen") == 2
    assert _names(events).count("Toewijzing.ZorgGestart") == 2
    assert _names(events).count("Toewijzing.ZorgGestopt") == 2
    assert _names(events).count("Declaratie.Ingediend") == 1
    assert _names(events).count("Declaratie.Beantwoord") == 1
    text = repr(events)
    assert not [s for s in EXAMPLE_SECRETS if s in text]
    assert PSEUDONIEM(Bsn("999900006")) in text


def test_every_event_carries_its_dagtekening(register):
    bron = Bron()
    for name in INGESTED_EXAMPLES:
        for event in _verwerk(bron, example(name), register):
            if not isinstance(event, Toewijzing.Geregistreerd | Declaratie.Geopend):
                assert isinstance(event.dagtekening, date)


def test_resent_identical_messages_add_nothing(register):
    bron = Bron()
    for name in INGESTED_EXAMPLES:
        _verwerk(bron, example(name), register)
    for name in INGESTED_EXAMPLES:
        assert _verwerk(bron, example(name), register) == []


def _jw301(dagtekening: date, identificatie: str, versie: T, client: str = "999900006") -> bytes:
    return jw301(gemeente="0935", aanbieder="12345678", identificatie=identificatie,
                 dagtekening=dagtekening, client_bsn=client, toewijzingen=[versie])


V1 = T("77", "45", "45A12", date(2026, 1, 1), date(2026, 6, 30), date(2025, 12, 20))


def test_jw301_snapshot_only_changed_toewijzingen_produce_events(register):
    bron = Bron()
    assert len(_verwerk(bron, _jw301(date(2025, 12, 21), "1", V1), register)) == 2
    # the same version in a later message: nothing new
    assert _verwerk(bron, _jw301(date(2026, 1, 10), "2", V1), register) == []
    # a newer version (end date corrected): one event
    v2 = replace(V1, eind=date(2026, 3, 31), toewijzingsdatum=date(2026, 2, 1))
    assert _names(_verwerk(bron, _jw301(date(2026, 2, 2), "3", v2), register)) == [
        "Toewijzing.VersieOntvangen"]


def test_older_version_arriving_late_is_recorded_but_newer_stays_newer(register):
    bron = Bron()
    v2 = replace(V1, eind=date(2026, 3, 31), toewijzingsdatum=date(2026, 2, 1))
    _verwerk(bron, _jw301(date(2026, 2, 2), "3", v2), register)
    late = _verwerk(bron, _jw301(date(2025, 12, 21), "1", V1), register)
    assert _names(late) == ["Toewijzing.VersieOntvangen"]
    aggregate = bron.toewijzing("0935", "77")
    newest = max(aggregate.versies, key=lambda v: v.toegewezen_op)
    assert newest.einddatum == date(2026, 3, 31)


def test_same_version_known_earlier_moves_knowledge_time_forward(register):
    bron = Bron()
    _verwerk(bron, _jw301(date(2026, 1, 10), "2", V1), register)
    earlier = _verwerk(bron, _jw301(date(2025, 12, 21), "1", V1), register)
    assert [e.dagtekening for e in earlier] == [date(2025, 12, 21)]


def test_ijw_records_counts_products_and_prestaties(register):
    assert ijw_records(lees_bericht(example("JW301.xml"), register)) == 2
    assert ijw_records(lees_bericht(example("JW323.xml"), register)) == 5


def test_pseudonym_is_stable_keyed_and_not_the_bsn():
    other = Pseudonimiseerder(b"another key of sixteen+ bytes!!")
    assert PSEUDONIEM(Bsn("999900006")) == PSEUDONIEM(Bsn("999900006"))
    assert PSEUDONIEM(Bsn("999900006")) != other(Bsn("999900006"))
    assert PSEUDONIEM(Bsn("999900006")) != PSEUDONIEM(Bsn("999900018"))
    assert "999900006" not in PSEUDONIEM(Bsn("999900006"))
    with pytest.raises(ValueError, match="16 bytes"):
        Pseudonimiseerder(b"short")


def test_factory_bsns_pass_the_elfproef(register):
    rng = random.Random(3)
    for _ in range(50):
        lees_bericht(_jw301(date(2026, 1, 1), "9", V1, client=bsn(rng)), register)


def test_gemeente_register_picks_the_list_of_the_date(tmp_path: Path):
    (tmp_path / "cbs-gemeenten-2025.csv").write_text(
        "gemeentecode,gemeentenaam,provincie,jeugdzorgregio\n0001,Oud,P,R\n")
    (tmp_path / "cbs-gemeenten-2026.csv").write_text(
        "gemeentecode,gemeentenaam,provincie,jeugdzorgregio\n0002,Nieuw,P,R\n")
    register = GemeenteRegister.from_csv(sorted(tmp_path.glob("*.csv")))
    assert register.gemeente("0001", date(2025, 12, 31)) is not None
    assert register.gemeente("0001", date(2026, 1, 1)) is None
    assert register.gemeente("0002", date(2026, 1, 1)).naam == "Nieuw"
    assert register.gemeente("0001", date(2020, 5, 1)) is not None  # before the oldest list


def test_gemeente_register_errors_say_what_to_do(tmp_path: Path):
    with pytest.raises(GemeenteRegisterError, match="JEUGDSTROOM_GEMEENTEN_FILES"):
        GemeenteRegister.from_csv([])
    bad = tmp_path / "gemeenten.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(GemeenteRegisterError, match="end in the year"):
        GemeenteRegister.from_csv([bad])


def test_settings_need_both_servers_or_neither(monkeypatch):
    monkeypatch.setenv("JEUGDSTROOM_NATS_URL", "nats://nats.example:4222")
    with pytest.raises(ValueError, match="set both"):
        Settings()
    monkeypatch.setenv("JEUGDSTROOM_DATABASE_URL", "postgresql://u@db.example/jeugdstroom")
    settings = Settings()
    assert not settings.embedded


def test_no_pseudonym_key_outside_the_embedded_default(monkeypatch, tmp_path):
    monkeypatch.setenv("JEUGDSTROOM_NATS_URL", "nats://nats.example:4222")
    monkeypatch.setenv("JEUGDSTROOM_DATABASE_URL", "postgresql://u@db.example/jeugdstroom")
    with pytest.raises(ConfigurationError, match="JEUGDSTROOM_PSEUDONYM_KEY is not set"):
        pseudonym_key(Settings())
    embedded = Settings(nats_url=None, database_url=None, state_dir=tmp_path)
    assert pseudonym_key(embedded) == pseudonym_key(embedded)  # made once, then kept
