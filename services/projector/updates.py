"""Projection updates for downstream services, on NATS.

When the projector changes a live count it publishes a `TellingUpdate` (versioned pydantic,
JSON) on `jeugdstroom.counts.<region>.<segment>`, and keeps the current figures in the KV
bucket `jeugdstroom-counts` (key `<region>.<segment>.<gemeente or 'alle'>`), so a new
subscriber reads the state first and then follows the changes. Live money figures go the
same way beside them: a `GeldUpdate` on `jeugdstroom.costs.<region>.<segment>` (segment
`totaal` for the sum of the segments), state in the KV bucket `jeugdstroom-costs`. The
contract is documented by FastStream's AsyncAPI output (`jeugdstroom asyncapi`).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Literal

from faststream.nats import NatsBroker
from faststream.nats.publisher.usecase import LogicPublisher as NatsPublisher
from faststream.specification import AsyncAPI
from nats.errors import Error as NatsError
from nats.js.errors import NoKeysError
from nats.js.kv import KeyValue
from pydantic import BaseModel, ConfigDict, Field

from projections.flow import Telling
from projections.geld import Kostentelling
from projections.geldvragen import GELDVELDEN, Geldvragen, kosten_per_gemeente
from projections.regio import Regio
from projections.vragen import VELDEN, Leeskant
from services.nats import nats_servers

SUBJECT = "jeugdstroom.counts.{region}.{segment}"
BUCKET = "jeugdstroom-counts"
GELD_SUBJECT = "jeugdstroom.costs.{region}.{segment}"
GELD_BUCKET = "jeugdstroom-costs"
TOTAAL = "totaal"  # the segment part for the sum of the segments
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


class GeldUpdate(BaseModel):
    """The live money figures of one segment (or `totaal`) changed, for the region (gemeente
    null) or one gemeente. Amounts in eurocent; realisatie a percentage with one decimal."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    version: Literal[1] = 1
    region: str
    segment: str = Field(description=f"segment id, or '{TOTAAL}' for the sum of the segments")
    gemeente: str | None = Field(description="4-digit CBS code; null: the whole region")
    from_: date = Field(alias="from", description="first day of the live window")
    peildatum: date = Field(description="last day of the live window")
    figures: dict[str, int | float | None] = Field(
        description="the keys of `costs --format json` per segment; null: n.v.t.")
    ongekoppeld: int = Field(description="declared without a toewijzing (region or gemeente)")
    changed: list[str] = Field(description="the figures that changed since the last update")
    position: int = Field(description="event-store notification id that the figures include")

    @property
    def kv_key(self) -> str:
        return f"{self.region}.{self.segment}.{self.gemeente or ALLE}"

    @property
    def subject(self) -> str:
        return GELD_SUBJECT.format(region=self.region, segment=self.segment)


def updates_broker(nats_url: str = "nats://localhost:4222") -> tuple[NatsBroker, NatsPublisher]:
    """The broker and its updates publisher: what is published, and its AsyncAPI contract."""
    broker, publisher, _ = _broker(nats_url)
    return broker, publisher


def _broker(nats_url: str) -> tuple[NatsBroker, NatsPublisher, NatsPublisher]:
    broker = NatsBroker(nats_servers(nats_url), logger=logging.getLogger("jeugdstroom.faststream"))
    publisher = broker.publisher(
        SUBJECT, schema=TellingUpdate, title="jeugdstroom.counts",
        description="A live flow count changed; the current state is in KV bucket "
        f"'{BUCKET}' under <region>.<segment>.<gemeente|{ALLE}>.")
    geld = broker.publisher(
        GELD_SUBJECT, schema=GeldUpdate, title="jeugdstroom.costs",
        description="Live money figures changed; the current state is in KV bucket "
        f"'{GELD_BUCKET}' under <region>.<segment|{TOTAAL}>.<gemeente|{ALLE}>.")
    return broker, publisher, geld


def asyncapi_json() -> str:
    broker, _, _ = _broker("nats://localhost:4222")
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


def geld_veranderd(
    vorige: dict[str, dict[str, int | float | None]], tellingen: list[Kostentelling], positie: int
) -> list[GeldUpdate]:
    """Pure: the money updates for every (segment or totaal, gemeente) whose figures differ
    from `vorige` (ongekoppeld is compared too, under its own name)."""
    updates = []
    for telling in tellingen:
        rijen = [(s.segment, s.cijfers.als_dict()) for s in telling.segmenten]
        rijen.append((TOTAAL, telling.totaal.als_dict()))
        for segment, cijfers in rijen:
            figures: dict[str, int | float | None] = {
                veld: cijfers[veld] for veld in GELDVELDEN}  # type: ignore[misc]
            update = GeldUpdate(
                region=telling.regio, segment=segment, gemeente=telling.gemeente,
                peildatum=telling.peildatum, figures=figures, ongekoppeld=telling.ongekoppeld,
                from_=telling.van,  # type: ignore[call-arg]  # pydantic alias of "from"
                changed=[], position=positie)
            oud = vorige.get(update.kv_key, {})
            nu = {**figures, "ongekoppeld": telling.ongekoppeld}
            changed = [veld for veld in nu if veld not in oud or oud[veld] != nu[veld]]
            if changed:
                updates.append(update.model_copy(update={"changed": changed}))
    return updates


class LiveUpdates:
    """After the projector catches up: compute the live figures, publish what changed."""

    def __init__(self, leeskant: Leeskant, regios: list[Regio], nats_url: str,
                 peildatum: date | None = None, *, geldvragen: Geldvragen | None = None) -> None:
        self.leeskant = leeskant
        self.regios = regios
        self.nats_url = nats_url
        self.peildatum = peildatum  # None: today
        self.geldvragen = geldvragen
        self.vorige: dict[str, dict[str, int | None]] | None = None
        self.vorige_geld: dict[str, dict[str, int | float | None]] | None = None

    def kostentellingen(self, regio: Regio) -> list[Kostentelling]:
        """The live money figures of the region and of each gemeente (window as the counts)."""
        assert self.geldvragen is not None
        pd = self.peildatum or date.today()
        van = date(pd.year, 1, 1)
        return kosten_per_gemeente(self.geldvragen.view, regio, van, pd, date.today(),
                                   [None, *sorted(regio.gemeenten)])

    def tellingen(self, regio: Regio) -> list[Telling]:
        pd = self.peildatum or date.today()
        van = date(pd.year, 1, 1)
        regio_telling, tellingen = self.leeskant.regio_en_gemeenten(regio, van, pd, None)
        return [regio_telling, *tellingen]

    async def publiceer(self, positie: int) -> int:
        """Publish the changed live counts, then the changed live money figures; returns how
        many updates went out."""
        broker, publisher, geld = _broker(self.nats_url)
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
            if self.geldvragen is None:
                return len(updates)
            try:
                return len(updates) + await self._publiceer_geld(broker, geld, positie)
            except (NatsError, TimeoutError) as fout:
                # the flow updates went out; an account without the money subjects (deploy/
                # nats) must not stop them. Said at every burst, so that it is noticed.
                log.warning("live money figures not published (%s): the projector's NATS account "
                            "needs publish rights on %s and the KV bucket %s", type(fout).__name__,
                            GELD_SUBJECT.format(region="*", segment="*"), GELD_BUCKET)
                return len(updates)
        finally:
            await broker.stop()

    async def _publiceer_geld(self, broker: NatsBroker, publisher: NatsPublisher, positie: int) -> int:
        kv = await broker.key_value(GELD_BUCKET, history=1)
        if self.vorige_geld is None:
            self.vorige_geld = {}
            for key in await _keys(kv):
                entry = await kv.get(key)
                if entry.value is not None:
                    oud = GeldUpdate.model_validate_json(entry.value)
                    self.vorige_geld[key] = {**oud.figures, "ongekoppeld": oud.ongekoppeld}
        updates = [u for regio in self.regios
                   for u in geld_veranderd(self.vorige_geld, self.kostentellingen(regio), positie)]
        for update in updates:
            data = update.model_dump_json(by_alias=True).encode()
            await kv.put(update.kv_key, data)
            await publisher.publish(data, subject=update.subject,
                                    headers={"content-type": "application/json"})
            self.vorige_geld[update.kv_key] = {**update.figures, "ongekoppeld": update.ongekoppeld}
        return len(updates)


async def _keys(kv: KeyValue) -> list[str]:
    try:
        return list(await kv.keys())
    except NoKeysError:
        return []
