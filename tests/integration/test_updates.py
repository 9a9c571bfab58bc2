"""Projection updates on the real nats-server: a subscriber started before the XML is
published receives the changed live counts, and the KV bucket holds the current state."""

from __future__ import annotations

import asyncio
import json
from datetime import date

import nats
import pytest

from services import bootstrap
from services.projector.updates import BUCKET, GELD_BUCKET
from tests.ijw_factory import Toewijzing, jw301
from tests.integration.handmade import EXPECTED_2025, FLOW, HISTORY
from tests.integration.helpers import ingest_until_caught_up, publish

pytestmark = pytest.mark.integration


def test_subscriber_receives_the_changed_counts_and_kv_holds_the_state(settings):
    settings = settings.model_copy(update={"live_peildatum": date(2023, 12, 31)})

    async def scenario() -> tuple[list[dict], list[dict], dict, int]:
        nc = await nats.connect(settings.nats_url)
        ontvangen: list[dict] = []

        async def ontvang(msg) -> None:
            ontvangen.append(json.loads(msg.data))

        await nc.subscribe("jeugdstroom.counts.zuid-limburg.>", cb=ontvang)
        geld: list[dict] = []

        async def ontvang_geld(msg) -> None:
            geld.append(json.loads(msg.data))

        await nc.subscribe("jeugdstroom.costs.zuid-limburg.>", cb=ontvang_geld)
        await publish(settings, HISTORY)
        await ingest_until_caught_up(settings)
        projector = bootstrap.projector(settings, settings.database_url)
        live = bootstrap.live_updates(settings, projector, settings.nats_url)
        gepubliceerd: list[int] = []

        def bijgewerkt(positie: int) -> None:
            gepubliceerd.append(asyncio.run(live.publiceer(positie)))

        await asyncio.to_thread(projector.volg, tot_bij=True, bijgewerkt=bijgewerkt)
        await asyncio.sleep(0.3)
        eerste = list(ontvangen)
        positie = projector.positie()
        kv = await nc.jetstream().key_value(BUCKET)
        state = json.loads((await kv.get("zuid-limburg.wonen.alle")).value)
        # the live money figures beside them: one update per segment and the totaal, kept in KV
        geld_totaal = json.loads((await (await nc.jetstream().key_value(GELD_BUCKET)).get(
            "zuid-limburg.totaal.alle")).value)
        assert geld_totaal in geld and geld_totaal["version"] == 1
        assert {u["segment"] for u in geld if u["gemeente"] is None} == {
            "gik-j", "wonen", "ambulant", "crisis", "totaal"}
        assert geld_totaal["figures"]["beschikt"] == sum(
            u["figures"]["beschikt"] for u in geld if u["gemeente"] is None and u["segment"] != "totaal")

        # nothing new: nothing published; one new Wonen toewijzing: only what it changes
        assert await asyncio.to_thread(lambda: asyncio.run(live.publiceer(projector.positie()))) == 0
        ontvangen.clear()
        nieuw = jw301(gemeente="0938", aanbieder="12345678", identificatie="99",
                      dagtekening=date(2023, 8, 25), client_bsn="100000058",
                      toewijzingen=[Toewijzing("77", "43", "43A01", date(2023, 9, 1), None,
                                               date(2023, 8, 25))])
        await publish(settings, [("ijw.0938.jw301", nieuw, None)])
        await ingest_until_caught_up(settings)
        await asyncio.to_thread(projector.volg, tot_bij=True, bijgewerkt=bijgewerkt)
        await asyncio.sleep(0.3)
        await nc.close()
        projector.store.close()
        return eerste, list(ontvangen), state, positie

    eerste, tweede, state, positie = asyncio.run(scenario())
    regio_wonen = [u for u in eerste if u["segment"] == "wonen" and u["gemeente"] is None]
    assert len(regio_wonen) == 1
    update = regio_wonen[0]
    assert update["version"] == 1 and update["region"] == "zuid-limburg"
    assert (update["from"], update["peildatum"]) == ("2023-01-01", "2023-12-31")
    assert {k: update["figures"][k] for k in FLOW} == EXPECTED_2025["wonen"]
    assert update["position"] == positie  # the event-store position the figures include
    assert state == update  # the KV bucket holds what was published last
    maastricht = [u for u in eerste if u["segment"] == "wonen" and u["gemeente"] == "0935"]
    assert maastricht and maastricht[0]["figures"]["instroom"] == 2

    # the new toewijzing in Meerssen: Wonen instroom and in zorg, for the region and Meerssen
    assert sorted((u["segment"], u["gemeente"] or "") for u in tweede) == [
        ("wonen", ""), ("wonen", "0938")]
    regio = next(u for u in tweede if u["gemeente"] is None)
    assert set(regio["changed"]) == {"instroom", "in_zorg", "unieke_jeugdigen"}
    assert regio["figures"]["instroom"] == EXPECTED_2025["wonen"]["instroom"] + 1
