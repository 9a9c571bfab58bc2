"""The data path against the real nats-server and PostgreSQL: publish -> ingest -> event store."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import date

import nats
import pytest

from events.ijw import lees_kop
from services import bootstrap
from services.cli import app
from services.ingest.jetstream import NatsIngest
from services.ingest.validatie import Lezers
from services.runtime import _pg_bin, free_port
from tests.conftest import CBS_FILES, EXAMPLE_SECRETS, INGESTED_EXAMPLES, example
from tests.ijw_factory import Toewijzing, jw301
from tests.integration.helpers import (
    event_topics,
    ingest_until_caught_up,
    publish,
    servers_of,
    tracking_position,
    whole_database_as_text,
)

pytestmark = pytest.mark.integration


def _as_published(name: str, *, with_msg_id: bool = True) -> tuple[str, bytes, str | None]:
    data = example(name)
    kop = lees_kop(data)
    return kop.subject, data, kop.msg_id if with_msg_id else None


def _dump(settings) -> str:
    """pg_dump of the whole database, with every bytea value decoded to text."""
    dump = subprocess.run(
        [_pg_bin("pg_dump"), settings.database_url], check=True, capture_output=True, text=True
    ).stdout
    return re.sub(r"\\\\x([0-9a-f]+)",
                  lambda m: bytes.fromhex(m.group(1)).decode("utf-8", "replace"), dump)


EXPECTED_EXAMPLE_EVENTS = {
    "Toewijzing.Geregistreerd": 4,
    "Toewijzing.VersieOntvangen": 2,
    "Toewijzing.ZorgGestart": 2,
    "Toewijzing.ZorgGestopt": 2,
    "Declaratie.Geopend": 2,
    "Declaratie.Ingediend": 1,
    "Declaratie.Beantwoord": 1,
}


def test_official_examples_through_nats_into_the_event_store(settings):
    asyncio.run(publish(settings, [_as_published(n) for n in INGESTED_EXAMPLES]))
    asyncio.run(ingest_until_caught_up(settings))
    assert event_topics(settings) == EXPECTED_EXAMPLE_EVENTS
    assert tracking_position(settings) == len(INGESTED_EXAMPLES)

    dump = _dump(settings)
    assert "Toewijzing.VersieOntvangen" in dump  # the decoding works: events are readable
    leaks = [s for s in EXAMPLE_SECRETS if s in dump or s in whole_database_as_text(settings)]
    assert leaks == []


def test_publishing_everything_again_adds_no_event(settings):
    asyncio.run(publish(settings, [_as_published(n) for n in INGESTED_EXAMPLES]))
    asyncio.run(ingest_until_caught_up(settings))
    before = event_topics(settings)
    # the same ids: JetStream drops them; without ids they reach the stream and ingest
    dubbel = asyncio.run(publish(settings, [_as_published(n) for n in INGESTED_EXAMPLES]))
    assert all(dubbel)
    asyncio.run(publish(settings, [_as_published(n, with_msg_id=False) for n in INGESTED_EXAMPLES]))
    asyncio.run(ingest_until_caught_up(settings))
    assert event_topics(settings) == before
    assert tracking_position(settings) == 2 * len(INGESTED_EXAMPLES)


def test_jw315_is_rejected_with_its_reason_and_nothing_stored(settings):
    asyncio.run(publish(settings, [_as_published("JW315.xml")]))
    asyncio.run(ingest_until_caught_up(settings))
    assert event_topics(settings) == {}
    store = bootstrap.event_store(settings.database_url)
    [afwijzing] = store.afwijzingen()
    assert (afwijzing.stream_seq, afwijzing.subject) == (1, "ijw.0384.jw315")
    assert "JW315 is not ingested" in afwijzing.reden
    assert "ToewijzingEinddatum" in afwijzing.reden and "2027-06-31" in afwijzing.reden
    assert tracking_position(settings) == 1
    store.close()


def test_message_on_the_subject_of_another_gemeente_is_rejected(settings):
    _, data, msg_id = _as_published("JW301.xml")
    asyncio.run(publish(settings, [("ijw.0363.jw301", data, msg_id)]))
    asyncio.run(ingest_until_caught_up(settings))
    store = bootstrap.event_store(settings.database_url)
    [afwijzing] = store.afwijzingen()
    assert "publish it to ijw.0384.jw301" in afwijzing.reden
    assert event_topics(settings) == {}
    store.close()


def test_rejected_message_is_replayed_after_the_configuration_is_fixed(settings, tmp_path):
    # a CBS list without Diemen (0384): the JW301 of Diemen is rejected
    partial = tmp_path / "cbs-gemeenten-2026.csv"
    lines = CBS_FILES[0].read_text(encoding="utf-8").splitlines()
    partial.write_text("\n".join(line for line in lines if not line.startswith("0384,")) + "\n")
    broken = settings.model_copy(update={"gemeenten_files": [partial]})
    asyncio.run(publish(broken, [_as_published("JW301.xml"), _as_published("JW305.xml")]))
    asyncio.run(ingest_until_caught_up(broken))
    store = bootstrap.event_store(settings.database_url)
    [afwijzing] = store.afwijzingen()
    assert afwijzing.stream_seq == 1 and "'0384' is not a gemeentecode" in afwijzing.reden
    assert "Toewijzing.VersieOntvangen" not in event_topics(settings)

    # replaying with the broken configuration keeps it rejected; with the fixed one it lands
    from typer.testing import CliRunner

    env = {"JEUGDSTROOM_NATS_URL": settings.nats_url,
           "JEUGDSTROOM_DATABASE_URL": settings.database_url,
           "JEUGDSTROOM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
           "JEUGDSTROOM_XSD_DIR": str(settings.xsd_dir)}
    runner = CliRunner()
    still = runner.invoke(app, ["rejected", "replay", "1"],
                          env={**env, "JEUGDSTROOM_GEMEENTEN_FILES": f'["{partial}"]'})
    assert still.exit_code == 1 and "still rejected" in still.output
    fixed = runner.invoke(app, ["rejected", "replay", "1"],
                          env={**env, "JEUGDSTROOM_GEMEENTEN_FILES": f'["{CBS_FILES[0]}"]'})
    assert fixed.exit_code == 0, fixed.output
    assert "2 iJw records, 4 new events" in fixed.output
    assert event_topics(settings)["Toewijzing.VersieOntvangen"] == 2
    assert store.afwijzingen() == []
    again = runner.invoke(app, ["rejected", "replay", "1"],
                          env={**env, "JEUGDSTROOM_GEMEENTEN_FILES": f'["{CBS_FILES[0]}"]'})
    assert again.exit_code == 2 and "replayed already" in again.output
    listing = runner.invoke(app, ["rejected", "--all"], env=env)
    assert "ijw.0384.jw301" in listing.output
    store.close()


def _ingest_with_a_bad_second_message(settings) -> None:
    """Three JW301 messages, the second (Identificatie 666) the one a test makes fail."""
    versie = Toewijzing("5", "45", "45A12", date(2026, 1, 1), None, date(2025, 12, 20))
    berichten = [
        ("ijw.0935.jw301", jw301(gemeente="0935", aanbieder="12345678", identificatie=ident,
                                 dagtekening=date(2026, 1, 2), client_bsn="999900006",
                                 toewijzingen=[Toewijzing(**{**versie.__dict__, "nummer": ident})]),
         None)
        for ident in ("1", "666", "3")
    ]
    asyncio.run(publish(settings, berichten))
    asyncio.run(ingest_until_caught_up(settings))


def test_unexpected_error_is_retried_a_bounded_number_of_times_then_rejected(settings, monkeypatch):
    import services.ingest.handler as ingest_module

    real = ingest_module.verwerk
    calls = {"bad": 0}

    def verwerk(bericht, pseudoniem, bron):
        if bericht.kop.identificatie == "666":
            calls["bad"] += 1
            raise RuntimeError("cannot handle client 999900006")  # a BSN in an error text
        return real(bericht, pseudoniem, bron)

    monkeypatch.setattr(ingest_module, "verwerk", verwerk)
    _ingest_with_a_bad_second_message(settings)
    assert event_topics(settings)["Toewijzing.VersieOntvangen"] == 2
    store = bootstrap.event_store(settings.database_url)
    [afwijzing] = store.afwijzingen()
    assert afwijzing.stream_seq == 2 and afwijzing.pogingen == settings.ingest_max_attempts
    assert "internal error after 3 attempts: RuntimeError" in afwijzing.reden
    assert "999900006" not in afwijzing.reden
    assert calls["bad"] == 1 + settings.ingest_max_attempts  # the batch, then each attempt
    store.close()


def test_a_message_that_crashes_validation_is_rejected_after_bounded_attempts(settings,
                                                                            monkeypatch):
    """Validation runs ahead of the commit (in a thread here, as with 0 worker processes): a
    crash there must end as a rejection, as a crash in the domain does, not loop forever."""
    from services.ingest.validatie import BerichtLezer

    echte = BerichtLezer.lees
    calls = {"bad": 0}

    def lees(self, bericht, *args):
        if b"Identificatie>666</" in bericht.data:
            calls["bad"] += 1
            raise RuntimeError("parser bug")
        return echte(self, bericht, *args)

    monkeypatch.setattr(BerichtLezer, "lees", lees)
    settings = settings.model_copy(update={"ingest_validation_processes": 0})
    _ingest_with_a_bad_second_message(settings)
    assert event_topics(settings)["Toewijzing.VersieOntvangen"] == 2
    store = bootstrap.event_store(settings.database_url)
    [afwijzing] = store.afwijzingen()
    assert afwijzing.stream_seq == 2
    assert "internal error after 3 attempts: RuntimeError" in afwijzing.reden
    # ahead of the commit, then for the batch, then once per attempt
    assert calls["bad"] == 2 + settings.ingest_max_attempts
    store.close()


def test_gap_after_the_position_is_filled_from_the_stream(settings):
    """As after a crash: the consumer hands over later messages while earlier ones are out."""
    asyncio.run(publish(settings, [_as_published(n) for n in INGESTED_EXAMPLES]))

    async def scenario() -> NatsIngest:
        nc = await nats.connect(settings.nats_url)
        js = nc.jetstream()
        subscription = await js.pull_subscribe("ijw.>", durable="gap-test", stream=settings.stream)
        msgs = await subscription.fetch(5, timeout=5)
        ingest = bootstrap.ingest(settings, settings.database_url)
        nats_ingest = NatsIngest(ingest, Lezers(ingest.lezer, 1), settings.stream)
        await nats_ingest.ontvang(msgs[3:], js)  # seq 4 and 5 only: 1..3 must be fetched
        await nats_ingest.leeg()
        assert await asyncio.to_thread(nats_ingest.ingest.positie) == 5
        await nats_ingest.ontvang(msgs[:3], js)  # redelivered 1..3: already done
        await nats_ingest.stop()
        await nc.close()
        return nats_ingest

    nats_ingest = asyncio.run(scenario())
    assert nats_ingest.totaal.berichten == 5
    topics = event_topics(settings)
    assert sum(topics.values()) == sum(EXPECTED_EXAMPLE_EVENTS.values())
    nats_ingest.ingest.store.close()


def test_servers_of_settings_are_used_and_nothing_embedded_starts(settings):
    assert servers_of(settings).nats_url == settings.nats_url
    assert not (settings.state_dir / "runtime.json").exists()


def test_event_store_outage_is_retried_never_a_rejection(settings, monkeypatch):
    """The library wraps psycopg's errors in its own OperationalError: still not the message's fault."""
    import eventsourcing.persistence as es

    from services.eventstore.postgres import Gebeurtenissen

    echte = Gebeurtenissen.leg_vast
    storingen = {"over": 4}  # more than a batch try plus the per-message attempts

    def leg_vast(self, *args, **kwargs):
        if storingen["over"]:
            storingen["over"] -= 1
            raise es.OperationalError("connection to server lost")
        return echte(self, *args, **kwargs)

    monkeypatch.setattr(Gebeurtenissen, "leg_vast", leg_vast)
    asyncio.run(publish(settings, [_as_published("JW301.xml")]))
    asyncio.run(ingest_until_caught_up(settings, timeout=60))
    assert storingen["over"] == 0
    assert event_topics(settings)["Toewijzing.VersieOntvangen"] == 2
    store = bootstrap.event_store(settings.database_url)
    assert store.afwijzingen() == []
    store.close()


def test_a_cluster_url_with_a_dead_server_in_it_still_ingests(settings):
    """JEUGDSTROOM_NATS_URL as deploy/ writes it, servers separated by commas (nats-py
    itself refuses that string: it takes a cluster only as a list)."""
    asyncio.run(publish(settings, [_as_published("JW301.xml")]))
    cluster = settings.model_copy(
        update={"nats_url": f"nats://127.0.0.1:{free_port()},{settings.nats_url}"})
    asyncio.run(ingest_until_caught_up(cluster, timeout=60))
    assert event_topics(settings)["Toewijzing.VersieOntvangen"] == 2
