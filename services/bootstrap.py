"""The composition root: settings in, wired services out. Nothing else builds adapters."""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path

import nats
from fastapi import FastAPI
from faststream import FastStream
from faststream.middlewares import AckPolicy
from faststream.nats import NatsBroker, PullSub
from faststream.nats.annotations import JsClient, NatsMessage
from nats.aio.msg import Msg

from events.gemeenten import GemeenteRegister
from events.ijw import XsdSchemas
from events.pseudonym import Pseudonimiseerder
from projections.regio import Regio, laad_regios
from services.api import maak_api
from services.eventstore import Gebeurtenissen
from services.ingest import Ingest, NatsIngest
from services.nats import ensure_stream, ijw_stream, ingest_consumer
from services.projector import Projector
from services.runtime import EmbeddedRuntime, Endpoints
from services.settings import Settings
from services.updates import LiveUpdates


class ConfigurationError(Exception):
    """The configuration cannot work; the message says which setting to change."""


def endpoints(settings: Settings) -> Endpoints:
    """The servers to use: the configured ones, or the embedded default (started if needed)."""
    if settings.embedded:
        return EmbeddedRuntime(settings.state_dir).up()
    assert settings.nats_url and settings.database_url
    return Endpoints(settings.nats_url, settings.database_url)


def pseudonym_key(settings: Settings) -> bytes:
    """The secret behind the pseudonyms; only the embedded default may make one up."""
    if settings.pseudonym_key is not None:
        return settings.pseudonym_key.get_secret_value().encode()
    if not settings.embedded:
        raise ConfigurationError(
            "JEUGDSTROOM_PSEUDONYM_KEY is not set: ingest will not store pseudonyms under an "
            "unknown key. Set it to the region's secret (at least 16 characters, e.g. "
            "`openssl rand -hex 32`) and keep it: pseudonyms change with the key."
        )
    path = settings.state_dir / "pseudonym.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip().encode()


def gemeente_register(settings: Settings) -> GemeenteRegister:
    return GemeenteRegister.from_csv(settings.gemeenten_files)


def xsd_schemas(settings: Settings) -> XsdSchemas | None:
    if settings.xsd_dir is None:
        return None
    if not settings.xsd_dir.is_dir():
        raise ConfigurationError(
            f"JEUGDSTROOM_XSD_DIR={settings.xsd_dir} is not a directory: point it at the "
            "official iJw 3.2 XSDs (JW301.xsd ... basisschema.xsd), or unset it"
        )
    return XsdSchemas(settings.xsd_dir)


def event_store(database_url: str) -> Gebeurtenissen:
    return Gebeurtenissen(database_url)


def regios(settings: Settings, extra: list[Path] | None = None) -> dict[str, Regio]:
    """The shipped regions, JEUGDSTROOM_REGION_CONFIGS and --region-config files, by id."""
    return laad_regios([*settings.region_configs, *(extra or [])])


def projector(settings: Settings, database_url: str, extra: list[Path] | None = None) -> Projector:
    return Projector(event_store(database_url), list(regios(settings, extra).values()))


def live_updates(settings: Settings, projector: Projector, nats_url: str) -> LiveUpdates:
    return LiveUpdates(projector, projector.regios, nats_url, settings.live_peildatum)


def api(settings: Settings, database_url: str, extra: list[Path] | None = None) -> FastAPI:
    """The HTTP API and dashboard over the flow projection."""
    return maak_api(projector(settings, database_url, extra), regios(settings, extra))


def ingest(settings: Settings, database_url: str) -> Ingest:
    return Ingest(
        event_store(database_url),
        gemeente_register(settings),
        xsd_schemas(settings),
        Pseudonimiseerder(pseudonym_key(settings)),
        bron=f"nats:{settings.stream}",
        max_pogingen=settings.ingest_max_attempts,
    )


def ingest_broker(settings: Settings, servers: Endpoints) -> tuple[NatsBroker, NatsIngest]:
    """A durable pull consumer on the iJw stream, acked by hand after the commit."""
    nats_ingest = NatsIngest(ingest(settings, servers.database_url), settings.stream)
    # FastStream logs through our logging config; per-batch lines only with --verbose (DEBUG)
    broker = NatsBroker(servers.nats_url, logger=logging.getLogger("jeugdstroom.faststream"),
                        log_level=logging.DEBUG)

    @broker.subscriber(
        "ijw.>",
        stream=ijw_stream(settings),
        durable=settings.ingest_durable,
        config=ingest_consumer(settings),
        pull_sub=PullSub(batch_size=settings.ingest_batch_size, timeout=0.5, batch=True),
        ack_policy=AckPolicy.MANUAL,
        description="Raw iJw 3.2 XML published by a municipal backoffice",
    )
    async def ontvang(body: list[bytes], message: NatsMessage, js: JsClient) -> None:
        raw: list[Msg] = message.raw_message  # type: ignore[assignment]
        await nats_ingest.ontvang(raw, js)

    return broker, nats_ingest


async def ingest_until_caught_up(
    settings: Settings, servers: Endpoints, *, timeout: float = 3600.0, voortgang=None
) -> NatsIngest:
    """Run ingest until it has committed everything the stream held when it started.

    For a backfill, the demo and the tests: the same consumer as the service, stopped when
    its tracking position reaches the stream's last sequence.
    """
    nc = await nats.connect(servers.nats_url)
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings)
        target = int((await js.stream_info(settings.stream)).state.last_seq)
    finally:
        await nc.close()
    broker, nats_ingest = ingest_broker(settings, servers)
    await broker.start()
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while (positie := await asyncio.to_thread(nats_ingest.ingest.positie)) < target:
            if voortgang is not None:
                voortgang(positie, target)
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"ingest reached seq {positie} of {target} in {timeout:.0f}s")
            await asyncio.sleep(0.05)
        if voortgang is not None:
            voortgang(target, target)
    finally:
        await broker.stop()
        nats_ingest.ingest.store.close()
    return nats_ingest


def ingest_app(settings: Settings, servers: Endpoints) -> FastStream:
    """The ingest service (`jeugdstroom ingest`): the broker, after declaring the stream."""
    broker, _ = ingest_broker(settings, servers)
    faststream_app = FastStream(broker)

    @faststream_app.on_startup
    async def declare_stream() -> None:
        nc = await nats.connect(servers.nats_url)
        try:
            await ensure_stream(nc.jetstream(), settings)
        finally:
            await nc.close()

    return faststream_app
