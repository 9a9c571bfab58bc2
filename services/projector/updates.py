"""Projection updates for downstream services, on NATS.

When the projector changes a live count it publishes a `TellingUpdate` (versioned pydantic,
JSON) on `jeugdstroom.counts.<region>.<segment>`, and keeps the current figures in the KV
bucket `jeugdstroom-counts` (key `<region>.<segment>.<gemeente or 'alle'>`), so a new
subscriber reads the state first and then follows the changes. The contract is documented
by FastStream's AsyncAPI output (`jeugdstroom asyncapi`).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Literal

from faststream.nats import NatsBroker
from faststream.nats.publisher.usecase import LogicPublisher as NatsPublisher
from faststream.specification import AsyncAPI
from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from projections.flow import Telling
from projections.regio import Regio
from projections.vragen import VELDEN, Leeskant
from services.nats import nats_servers

SUBJECT = "jeugdstroom.counts.{region}.{segment}"
BUCKET = "jeugdstroom-counts"
ALLE = "alle"  # the key part for the whole region

log = logging.getLogger("jeugdstroom.updates")


class TellingUpdate(BaseModel):
    """A live count of one segment changed, for the region (gemeente null) or one gemeente."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    version: Literal[1] = 1
    region: str
    segment: str
    gemeente: str | None = Field(description="4-digit CBS code; null: the whole region")
    from_: date = Field(alias="from", description="first day of the live window")
    peildatum: date = Field(description="last day of the live window")
    figures: dict[str, int | None] = Field(description="all figures of the segment, now")
    changed: list[str] = Field(description="the figures that changed since the last update")
    position: int = Field(description="event-store notification id that the figures include")

    @property
    def kv_key(self) -> str:
        return f"{self.region}.{self.segment}.{self.gemeente or ALLE}"

    @property
    def subject(self) -> str:
        return SUBJECT.format(region=self.region, segment=self.segment)


def updates_broker(nats_url: str = "nats://localhost:4222") -> tuple[NatsBroker, NatsPublisher]:
    """The broker and its updates publisher: what is published, and its AsyncAPI contract."""
    broker = NatsBroker(nats_servers(nats_url), logger=logging.getLogger("jeugdstroom.faststream"))
    publisher = broker.publisher(
        SUBJECT, schema=TellingUpdate, title="jeugdstroom.counts",
        description="A live flow count changed; the current state is in KV bucket "
        f"'{BUCKET}' under <region>.<segment>.<gemeente|{ALLE}>.")
    return broker, publisher


def asyncapi_json() -> str:
    broker, _ = updates_broker()
    return AsyncAPI(broker, title="jeugdstroom updates", version="1").to_specification().to_json()


def veranderd(
    vorige: dict[str, dict[str, int | None]], tellingen: list[Telling], positie: int
) -> list[TellingUpdate]:
    """Pure: the updates for every (segment, gemeente) whose figures differ from `vorige`."""
    updates = []
    for telling in tellingen:
        for s in telling.segmenten:
            figures = {veld: getattr(s, veld) for veld in VELDEN}
            update = TellingUpdate(
                region=telling.regio, segment=s.segment, gemeente=telling.gemeente,
                peildatum=telling.peildatum, figures=figures,
                from_=telling.van,  # type: ignore[call-arg]  # pydantic alias of "from"
                changed=[], position=positie)
            oud = vorige.get(update.kv_key, {})
            changed = [veld for veld in VELDEN if oud.get(veld) != figures[veld]]
            if changed:
                updates.append(update.model_copy(update={"changed": changed}))
    return updates


class LiveUpdates:
    """After the projector catches up: compute the live figures, publish what changed."""

    def __init__(self, leeskant: Leeskant, regios: list[Regio], nats_url: str,
                 peildatum: date | None = None) -> None:
        self.leeskant = leeskant
        self.regios = regios
        self.nats_url = nats_url
        self.peildatum = peildatum  # None: today
        self.vorige: dict[str, dict[str, int | None]] | None = None

    def tellingen(self, regio: Regio) -> list[Telling]:
        pd = self.peildatum or date.today()
        van = date(pd.year, 1, 1)
        regio_telling, tellingen = self.leeskant.regio_en_gemeenten(regio, van, pd, None)
        return [regio_telling, *tellingen]

    async def publiceer(self, positie: int) -> int:
        """Publish the changed live counts; returns how many updates went out."""
        broker, publisher = updates_broker(self.nats_url)
        await broker.connect()
        try:
            kv = await broker.key_value(BUCKET, history=1)
            if self.vorige is None:  # after a restart: what subscribers have already seen
                self.vorige = {}
                for key in await _keys(kv):
                    entry = await kv.get(key)
                    if entry.value is not None:
                        self.vorige[key] = TellingUpdate.model_validate_json(entry.value).figures
            updates = [u for regio in self.regios
                       for u in veranderd(self.vorige, self.tellingen(regio), positie)]
            for update in updates:
                data = update.model_dump_json(by_alias=True).encode()
                await kv.put(update.kv_key, data)
                await publisher.publish(data, subject=update.subject,
                                        headers={"content-type": "application/json"})
                self.vorige[update.kv_key] = update.figures
            return len(updates)
        finally:
            await broker.stop()


async def _keys(kv: KeyValue) -> list[str]:
    try:
        return list(await kv.keys())
    except NoKeysError:
        return []
