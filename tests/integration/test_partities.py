"""Two partitions ingest and project one stream with both regions' traffic: each partition's
figures equal the single-partition figures of its region, and every message is counted once."""

from __future__ import annotations

import asyncio
import json
import random
from datetime import date, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.sql import SQL, Identifier
from typer.testing import CliRunner

from services import bootstrap
from services.cli import app
from services.nats import verwijder_stream
from services.partities import schema as partitie_schema
from tests.ijw_factory import Toewijzing, bsn, jw301
from tests.integration.helpers import (
    cli_env,
    event_topics,
    ingest_until_caught_up,
    last_seq,
    publish,
    tracking_position,
    verbind,
)

pytestmark = pytest.mark.integration

PARTITIONS = {"zuid": ["zuid-limburg"], "brabant": ["een-10-voor-de-jeugd"]}
# Maastricht, Heerlen (Zuid-Limburg); Eindhoven, Best (Een 10 voor de Jeugd)
GEMEENTEN = ["0935", "0917", "0772", "0753"]
BERICHTEN = 1200
VAN, PEILDATUM = date(2025, 1, 1), date(2025, 12, 31)


def _verkeer() -> list[tuple[str, bytes, str]]:
    """JW301s of four gemeenten in two regions, interleaved; a client now and then gets a
    follow-up toewijzing, so that doorstroom and stapeling have something to count."""
    rng = random.Random(15)
    berichten = []
    clienten: dict[str, list[str]] = {g: [] for g in GEMEENTEN}
    for i in range(BERICHTEN):
        gemeente = GEMEENTEN[i % 4]
        if clienten[gemeente] and rng.random() < 0.3:
            client = rng.choice(clienten[gemeente])
        else:
            client = bsn(rng)
            clienten[gemeente].append(client)
        start = date(2024, 6, 1) + timedelta(days=rng.randint(0, 540))
        product = rng.choice(["45A12", "43A09", "41A02"])
        toewijzing = Toewijzing(str(300000 + i), product[:2], product, start,
                                start + timedelta(days=rng.randint(20, 300)),
                                start - timedelta(days=3))
        data = jw301(gemeente=gemeente, aanbieder="12345678", identificatie=str(i + 1),
                     dagtekening=start - timedelta(days=2), client_bsn=client,
                     toewijzingen=[toewijzing])
        berichten.append((f"ijw.{gemeente}.jw301", data, f"{gemeente}-{i + 1}"))
    return berichten


def _cijfers(settings, regio_id: str):
    """The region's counts, whole region and per gemeente, as known at two dates and now."""
    projector = bootstrap.projector(settings, settings.database_url)
    try:
        projector.volg(tot_bij=True)
        leeskant = bootstrap.leeskant(projector)
        regio = {r.id: r for r in projector.projectie.regios}[regio_id]
        return {(k, g): leeskant.telling(regio, VAN, PEILDATUM, k, g)
                for k in (date(2025, 6, 30), date(2026, 3, 31), None)
                for g in (None, *regio.gemeenten)}
    finally:
        projector.store.close()


@pytest.fixture
def partities(settings):
    """The settings of both partitions; their streams deleted before and after."""
    gedeeld = {naam: settings.model_copy(update={"partitions": PARTITIONS, "partition": naam})
               for naam in PARTITIONS}

    def weg() -> None:
        for s in gedeeld.values():
            asyncio.run(verwijder_stream(settings.nats_url, s.ingest_stream))

    weg()
    yield gedeeld
    weg()


def test_two_partitions_count_what_one_counts_each_message_once(settings, partities):
    asyncio.run(publish(settings, _verkeer()))
    assert asyncio.run(last_seq(settings)) == BERICHTEN

    # one partition with everything, as without partitions
    asyncio.run(ingest_until_caught_up(settings))
    eens = {regio: _cijfers(settings, regio) for regio in ("zuid-limburg", "een-10-voor-de-jeugd")}
    alle_events = event_topics(settings)

    # both partitions at once, each into its own schema of the same database
    async def beide() -> None:
        await asyncio.gather(*(ingest_until_caught_up(s) for s in partities.values()))

    asyncio.run(beide())
    zuid, brabant = partities["zuid"], partities["brabant"]
    for s in (zuid, brabant):
        # the partition's stream holds exactly its half, and ingest committed all of it
        assert asyncio.run(last_seq(s, s.ingest_stream)) == BERICHTEN // 2
        assert tracking_position(s) == BERICHTEN // 2
        with verbind(s) as conn:
            assert conn.execute("SELECT count(*) FROM ijw_afwijzing").fetchone() == (0,)
    assert event_topics(zuid) + event_topics(brabant) == alle_events

    assert _cijfers(zuid, "zuid-limburg") == eens["zuid-limburg"]
    assert _cijfers(brabant, "een-10-voor-de-jeugd") == eens["een-10-voor-de-jeugd"]
    assert any(t.totaal_unieke_jeugdigen for t in eens["zuid-limburg"].values())

    # replay from each partition's event log agrees with its projections (flow, money, care),
    # and a question about a region of the other partition names that partition
    for s, regio in ((zuid, "zuid-limburg"), (brabant, "een-10-voor-de-jeugd")):
        env = cli_env(s, JEUGDSTROOM_PARTITIONS=json.dumps(PARTITIONS),
                      JEUGDSTROOM_PARTITION=s.partition or "")
        for k in ("2025-06-30", None):
            result = CliRunner().invoke(app, ["replay", "--region", regio, "--peildatum", "2025-12-31",
                                              *(["--known-at", k] if k else [])], env=env)
            assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["counts", "--region", "een-10-voor-de-jeugd", "--peildatum",
                                      "2025-12-31"], env=cli_env(zuid, JEUGDSTROOM_PARTITIONS=json.dumps(
                                          PARTITIONS), JEUGDSTROOM_PARTITION="zuid"))
    assert result.exit_code == 2 and "JEUGDSTROOM_PARTITION=brabant" in result.output

    # the API of a partition answers its own regions only
    client = TestClient(bootstrap.api(zuid, zuid.database_url or "", zonder_auth=True))
    assert [r["id"] for r in client.get("/api/regions").json()] == ["zuid-limburg"]
    assert client.get("/api/counts", params={"region": "een-10-voor-de-jeugd",
                                             "peildatum": "2025-12-31"}).status_code == 404


def test_the_api_on_a_read_replica_writes_only_to_the_primary(settings, partities):
    """A read replica refuses every write; read-only connections stand in for it here."""
    zuid = partities["zuid"]
    asyncio.run(publish(settings, _verkeer()[:40]))
    asyncio.run(ingest_until_caught_up(zuid))
    _cijfers(zuid, "zuid-limburg")  # projected (and every table made) on the primary
    replica = f"{zuid.database_url}?options=-c%20default_transaction_read_only%3Don"
    lezer = zuid.model_copy(update={"primary_database_url": zuid.database_url})
    client = TestClient(bootstrap.api(lezer, replica, zonder_auth=True))
    for params in ({}, {"known_at": "2025-06-30"}):
        antwoord = client.get("/api/counts", params={"region": "zuid-limburg",
                                                     "peildatum": "2025-12-31", **params})
        assert antwoord.status_code == 200, antwoord.text
    assert client.get("/api/costs", params={"region": "zuid-limburg",
                                            "peildatum": "2025-12-31"}).status_code == 200
    with verbind(zuid) as conn:  # the live questions went to the primary, for the projector
        assert conn.execute("SELECT count(*) FROM flow_live").fetchone()[0] >= 1


def test_status_counts_the_messages_no_partition_ingests(settings, partities):
    """Without partitions ingest rejects a message of an unknown gemeente with its reason; with
    partitions no stream receives it, so status says how many there are and on which subjects."""
    amsterdam = jw301(gemeente="0363", aanbieder="12345678", identificatie="1",
                      dagtekening=date(2025, 3, 1), client_bsn=bsn(random.Random(3)),
                      toewijzingen=[Toewijzing("900001", "45", "45A12", date(2025, 3, 3), None,
                                               date(2025, 3, 1))])
    asyncio.run(publish(settings, [*_verkeer()[:8], ("ijw.0363.jw301", amsterdam, "0363-1")]))
    zuid = partities["zuid"]
    asyncio.run(ingest_until_caught_up(zuid))
    env = cli_env(zuid, JEUGDSTROOM_PARTITIONS=json.dumps(PARTITIONS), JEUGDSTROOM_PARTITION="zuid")
    result = CliRunner().invoke(app, ["status"], env=env)
    assert result.exit_code == 0, result.output
    assert "IJW_ZUID" in result.output and "ijw.0363.jw301" in result.output
    assert "in no partition" in result.output


def test_an_insert_in_one_partition_wakes_only_its_own_projector(settings, partities):
    """Each partition's events notify on a channel of its own: the library names the channel
    after the table alone, which is the same in every partition's schema."""
    stores = {naam: bootstrap.event_store(s.database_url or "", partitie_schema(naam))
              for naam, s in partities.items()}
    try:
        kanalen = {naam: store.ingest_recorder.channel_name for naam, store in stores.items()}
    finally:
        for store in stores.values():
            store.close()
    assert len(set(kanalen.values())) == 2
    with psycopg.connect(settings.database_url, autocommit=True) as luister:
        for kanaal in kanalen.values():
            luister.execute(SQL("LISTEN {0}").format(Identifier(kanaal)))
        asyncio.run(publish(settings, [b for b in _verkeer()[:40] if b[0] in (
            "ijw.0935.jw301", "ijw.0917.jw301")]))  # Zuid-Limburg's traffic only
        asyncio.run(ingest_until_caught_up(partities["zuid"]))
        gehoord = {n.channel for n in luister.notifies(timeout=1.0)}
    assert gehoord == {kanalen["zuid"]}
