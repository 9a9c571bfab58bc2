"""Ingest's aggregate reads keep what they decoded and read only what was stored since."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from eventsourcing.persistence import Tracking

from events.domain import Declaratie, Declaratieregel, Toewijzing
from services.eventstore import postgres
from services.eventstore.postgres import Gebeurtenissen

pytestmark = pytest.mark.integration


def _versie(toewijzing: Toewijzing, identificatie: str, einddatum: date | None = None) -> None:
    toewijzing.ontvang_versie(
        client="c" * 64, aanbieder="12345678", categorie="45", code="45A01",
        toegewezen_op=datetime(2023, 1, 1), ingangsdatum=date(2023, 1, 1), einddatum=einddatum,
        reden_wijziging=None, volume=None, eenheid=None, frequentie=None, budget=None,
        dagtekening=date(2023, 1, 1), bericht_identificatie=identificatie)


def test_a_read_includes_what_another_writer_stored_since(settings):
    eerste, tweede = Gebeurtenissen(settings.database_url), Gebeurtenissen(settings.database_url)
    try:
        toewijzing = Toewijzing.registreer("0935", "1")
        _versie(toewijzing, "1")
        eerste.leg_vast([toewijzing], tracking=Tracking("nats:test", 1))
        assert eerste.laad([toewijzing.id])[toewijzing.id].version == 2  # kept decoded now

        anders = tweede.laad([toewijzing.id])[toewijzing.id]
        _versie(anders, "2", einddatum=date(2023, 6, 30))  # a new version: a new event
        tweede.leg_vast([anders], tracking=Tracking("nats:test", 2))

        opnieuw = eerste.laad([toewijzing.id, Toewijzing.registreer("0935", "2").id])
        assert list(opnieuw) == [toewijzing.id]  # the second is not stored
        assert opnieuw[toewijzing.id].version == 3
        assert opnieuw[toewijzing.id].__dict__ == tweede.laad([toewijzing.id])[toewijzing.id].__dict__
    finally:
        eerste.close()
        tweede.close()


def test_what_it_committed_reads_back_as_the_store_decodes_it(settings):
    """The events `leg_vast` committed are kept as they were made; an aggregate built from them
    equals the one built from the stored events decoded."""
    schrijver, lezer = Gebeurtenissen(settings.database_url), Gebeurtenissen(settings.database_url)
    try:
        toewijzing = Toewijzing.registreer("0935", "7")
        _versie(toewijzing, "1")
        declaratie = Declaratie.open("0935", "12345678", "d1", date(2023, 2, 3))
        regel = Declaratieregel("c" * 64, "r1", None, "7", "45", "45A01", date(2023, 1, 1),
                                date(2023, 1, 31), 3, "14", 1000, 3000, ("0001",))
        declaratie.dien_in(declaratienummer="n1", periode_begin=date(2023, 1, 1),
                           periode_eind=date(2023, 1, 31), totaal_bedrag=3000, regels=(regel,),
                           dagtekening=date(2023, 2, 3), bericht_identificatie="d1")
        schrijver.leg_vast([toewijzing, declaratie], tracking=Tracking("nats:test", 1))
        ids = [toewijzing.id, declaratie.id]
        bewaard, gelezen = schrijver.laad(ids), lezer.laad(ids)
        assert {i: a.__dict__ for i, a in bewaard.items()} == {i: a.__dict__ for i, a in gelezen.items()}
        assert [e.regels for e in schrijver._gelezen[declaratie.id][1:]] == [(regel,)]
    finally:
        schrijver.close()
        lezer.close()


def test_what_is_kept_decoded_stays_within_its_bound(settings, monkeypatch):
    monkeypatch.setattr(postgres, "GELEZEN_EVENTS", 10)
    store = Gebeurtenissen(settings.database_url)
    try:
        toewijzingen = [Toewijzing.registreer("0935", str(i)) for i in range(20)]
        for t in toewijzingen:
            _versie(t, t.toewijzingnummer)
        store.leg_vast(toewijzingen, tracking=Tracking("nats:test", 1))
        for t in toewijzingen:
            assert store.laad([t.id])[t.id].version == 2
        assert sum(len(e) for e in store._gelezen.values()) <= 10
        alle = store.laad(t.id for t in toewijzingen)  # more than the bound in one read
        assert sorted(a.toewijzingnummer for a in alle.values()) == sorted(
            t.toewijzingnummer for t in toewijzingen)
    finally:
        store.close()
