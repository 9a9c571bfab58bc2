"""A server that is away: logged at once, retried with growing waits, given up past the bound."""

from __future__ import annotations

import logging

import psycopg
import pytest

from services.uitval import Onbereikbaar, Uitval


class Klok:
    def __init__(self) -> None:
        self.nu = 0.0

    def __call__(self) -> float:
        return self.nu


def test_waits_grow_up_to_the_highest_and_stop_at_the_bound(caplog):
    klok = Klok()
    uitval = Uitval("the event store", 30.0, logging.getLogger("t"), klok=klok)
    wachten = []
    with caplog.at_level(logging.WARNING), pytest.raises(Onbereikbaar) as einde:
        while True:
            wacht = uitval.mislukt(psycopg.OperationalError("connection refused"))
            wachten.append(wacht)
            klok.nu += wacht
    assert wachten[:6] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0]
    assert sum(wachten) == pytest.approx(30.0)
    assert "the event store unreachable for 30s" in str(einde.value)
    assert "start this process again" in str(einde.value)
    assert "unreachable for 0s (attempt 1, OperationalError: connection refused)" in caplog.text


def test_a_success_ends_the_outage_and_the_next_one_starts_afresh(caplog):
    klok = Klok()
    uitval = Uitval("NATS", 10.0, logging.getLogger("t"), klok=klok)
    uitval.mislukt(OSError("refused"))
    klok.nu = 9.0
    with caplog.at_level(logging.WARNING):
        uitval.gelukt()
    assert "NATS reachable again after 9s" in caplog.text
    assert uitval.weg_sinds is None
    klok.nu = 100.0
    assert uitval.mislukt(OSError("refused")) == 0.5


def test_probeer_tries_again_until_it_works():
    pogingen = []

    def doe() -> str:
        pogingen.append(1)
        if len(pogingen) < 3:
            raise ConnectionError("not yet")
        return "verbonden"

    uitval = Uitval("x", 60.0, logging.getLogger("t"), klok=Klok())
    assert uitval.probeer(doe, (ConnectionError,), slaap=lambda s: None) == "verbonden"
    assert len(pogingen) == 3


def test_no_bsn_in_the_reason():
    uitval = Uitval("x", 0.0001, logging.getLogger("t"), klok=iter([0.0, 1.0]).__next__)
    uitval.mislukt(ValueError("first"))
    with pytest.raises(Onbereikbaar) as einde:
        uitval.mislukt(ValueError("row with 999900006 failed"))
    assert "999900006" not in str(einde.value)


def test_the_projector_follows_again_after_the_database_was_away_and_stops_past_the_bound(
        monkeypatch):
    import typer

    from services.cli import beheer

    monkeypatch.setattr(beheer.time, "sleep", lambda s: None)
    klok = Klok()
    pogingen = []

    def volg() -> None:
        pogingen.append(1)
        klok.nu += 1
        if len(pogingen) < 3:
            raise psycopg.OperationalError("server closed the connection unexpectedly")

    beheer._met_herstel(Uitval("the event store", 60.0, logging.getLogger("t"), klok=klok), volg)
    assert len(pogingen) == 3

    def altijd_weg() -> None:
        klok.nu += 10
        raise psycopg.OperationalError("connection refused")

    with pytest.raises(typer.Exit) as einde:
        beheer._met_herstel(Uitval("the event store", 60.0, logging.getLogger("t"), klok=klok),
                            altijd_weg)
    assert einde.value.exit_code == 2
