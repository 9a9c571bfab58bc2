"""The composition root: settings in, wired services out. Nothing else builds adapters."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import signal
from pathlib import Path
from typing import TYPE_CHECKING

import nats

from events.gemeenten import GemeenteRegister
from events.ijw import XsdSchemas
from events.pseudonym import Pseudonimiseerder
from projections.geldvragen import Geldvragen
from projections.postgres import PostgresFlowView
from projections.postgres_geld import PostgresGeldView
from projections.projectie import GELD_TOPICS, FlowProjectie, GeldProjectie
from projections.regio import Regio, laad_regios
from projections.vragen import Leeskant
from services.eventstore.postgres import APPLICATION_NAME, Gebeurtenissen, bij_gelijktijdige_start
from services.ingest.handler import Ingest
from services.ingest.jetstream import NatsIngest
from services.ingest.validatie import BerichtLezer, Lezers
from services.nats import SUBJECTS, ensure_stream, ingest_consumer, nats_servers
from services.projector.runner import Projector, eventlog
from services.projector.updates import LiveUpdates
from services.runtime import EmbeddedRuntime, Endpoints
from services.settings import Settings
from services.toegang.audit import PostgresAudit
from services.toegang.tokens import TokenInstellingen, TokenVerificateur, lokale_instellingen

if TYPE_CHECKING:
    from fastapi import FastAPI

    from services.http.toegang import Toegang


log = logging.getLogger("jeugdstroom")


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


def flow_view(store: Gebeurtenissen) -> PostgresFlowView:
    """The flow view, in the event store's database (its own tables and tracking table)."""
    view = PostgresFlowView(store.ingest_recorder.datastore, application_name=APPLICATION_NAME,
                            tracking_table_name="flow_tracking")
    bij_gelijktijdige_start(view.create_table)
    return view


def geld_view(store: Gebeurtenissen) -> PostgresGeldView:
    """The money view, in the event store's database (its own tables and tracking table)."""
    view = PostgresGeldView(store.ingest_recorder.datastore, application_name=APPLICATION_NAME,
                            tracking_table_name="geld_tracking")
    bij_gelijktijdige_start(view.create_table)
    return view


def projector(settings: Settings, database_url: str, extra: list[Path] | None = None) -> Projector:
    store = event_store(database_url)
    return Projector(store, FlowProjectie(flow_view(store), list(regios(settings, extra).values())),
                     GeldProjectie(geld_view(store)))


def geldvragen(projector: Projector) -> Geldvragen:
    """The money questions over the projector's money view."""
    assert projector.geld is not None
    return Geldvragen(projector.geld.view)


def leeskant(projector: Projector) -> Leeskant:
    """The questions over the projector's view (the CLI and the bench read what it wrote)."""
    return Leeskant(projector.projectie.view, laatste=projector.laatste)


def live_updates(settings: Settings, projector: Projector, nats_url: str) -> LiveUpdates:
    return LiveUpdates(leeskant(projector), projector.projectie.regios, nats_url,
                       settings.live_peildatum, geldvragen=geldvragen(projector))


def api(settings: Settings, database_url: str, extra: list[Path] | None = None, *,
        host: str = "127.0.0.1", zonder_auth: bool = False) -> FastAPI:
    """The HTTP API and dashboard over the flow view, with access control: the identity
    provider of JEUGDSTROOM_AUTH_*, else on loopback the local key in the state dir; on any
    other address without those settings only with `zonder_auth` (--insecure-no-auth)."""
    from services.http.api import maak_api  # FastAPI takes ~0.3 s to import: only `serve` needs it
    from services.http.geld import geld_router

    store = event_store(database_url)
    alle = regios(settings, extra)
    toegang = maak_toegang(settings, store, alle, host=host, zonder_auth=zonder_auth)
    return maak_api(Leeskant(flow_view(store), laatste=lambda: store.recorder.max_notification_id() or 0),
                    lambda: eventlog(store), alle, toegang=toegang,
                    geld=geld_router(Geldvragen(geld_view(store)),
                                     lambda: eventlog(store, GELD_TOPICS), alle))


def maak_toegang(settings: Settings, store: Gebeurtenissen, alle: dict[str, Regio], *,
                 host: str, zonder_auth: bool) -> Toegang:
    from services.http.toegang import Toegang

    audit = toegang_audit(store)
    if zonder_auth:
        return Toegang.zonder_controle(alle, audit)
    return Toegang(TokenVerificateur(token_instellingen(settings, host),
                                     bekende_regios=list(alle)), alle, audit)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def token_instellingen(settings: Settings, host: str) -> TokenInstellingen:
    """Whose tokens `serve` accepts: JEUGDSTROOM_AUTH_*, or on loopback the local key."""
    if settings.auth_jwks and settings.auth_issuer and settings.auth_audience:
        try:
            return TokenInstellingen(jwks=settings.auth_jwks, issuer=settings.auth_issuer,
                                     audience=settings.auth_audience,
                                     rollen_claim=settings.auth_roles_claim)
        except ValueError as error:
            raise ConfigurationError(f"JEUGDSTROOM_AUTH_*: {error}") from None
    if is_loopback(host):
        return lokale_instellingen(settings.state_dir)
    raise ConfigurationError(
        f"serve on {host} needs the identity provider's JEUGDSTROOM_AUTH_JWKS, "
        "JEUGDSTROOM_AUTH_ISSUER and JEUGDSTROOM_AUTH_AUDIENCE (deploy/toegang.md); without them "
        "it serves on 127.0.0.1 only, with the local key (jeugdstroom token). "
        "--insecure-no-auth opens every region's figures and detail to anyone who can reach it"
    )


def toegang_audit(store: Gebeurtenissen) -> PostgresAudit:
    """The access audit log, in the event store's database."""
    audit = PostgresAudit(store.ingest_recorder.datastore)
    bij_gelijktijdige_start(audit.create_table)
    return audit




def ingest_bron(settings: Settings) -> str:
    """The name of ingest's tracking position: one per stream."""
    return f"nats:{settings.stream}"


def ingest(settings: Settings, database_url: str) -> Ingest:
    if settings.schemavalidatie_uit:
        log.warning(settings.schemavalidatie_uit)
    return Ingest(
        event_store(database_url),
        BerichtLezer(gemeente_register(settings), xsd_schemas(settings)),
        Pseudonimiseerder(pseudonym_key(settings)),
        bron=ingest_bron(settings),
        max_pogingen=settings.ingest_max_attempts,
    )


def nats_ingest(settings: Settings, servers: Endpoints) -> NatsIngest:
    service = ingest(settings, servers.database_url)
    return NatsIngest(service, Lezers(service.lezer, settings.ingest_validation_processes),
                      settings.stream)


async def _consumeer(settings: Settings, servers: Endpoints, dienst: NatsIngest,
                     stop: asyncio.Event) -> None:
    """The durable pull consumer on the iJw stream, acked by hand after each commit."""
    nc = await nats.connect(nats_servers(servers.nats_url), max_reconnect_attempts=-1)
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings)
        subscription = await js.pull_subscribe(
            SUBJECTS, durable=settings.ingest_durable, stream=settings.stream,
            config=ingest_consumer(settings))
        await dienst.volg(subscription, js, settings.ingest_batch_size, stop)
    finally:
        await dienst.stop()
        with contextlib.suppress(nats.errors.Error):  # NATS gone: unacked messages come back
            await nc.flush()  # the last acks; drain() waits forever on a pull subscription
        await nc.close()
        dienst.ingest.store.close()


async def ingest_service(settings: Settings, servers: Endpoints) -> None:
    """The ingest service (`jeugdstroom ingest`) until SIGTERM or Ctrl-C; what is handed
    over by then is committed and acked before it stops."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signaal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signaal, stop.set)
    await _consumeer(settings, servers, nats_ingest(settings, servers), stop)


async def ingest_until_caught_up(
    settings: Settings, servers: Endpoints, *, timeout: float = 3600.0, voortgang=None
) -> NatsIngest:
    """Run ingest until it has committed everything the stream held when it started.

    For a backfill, the demo and the tests: the same consumer as the service, stopped when
    its tracking position reaches the stream's last sequence.
    """
    nc = await nats.connect(nats_servers(servers.nats_url))
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings)
        target = int((await js.stream_info(settings.stream)).state.last_seq)
    finally:
        await nc.close()
    dienst = nats_ingest(settings, servers)
    stop = asyncio.Event()
    consument = asyncio.create_task(_consumeer(settings, servers, dienst, stop))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while (positie := await asyncio.to_thread(dienst.ingest.positie)) < target:
            if voortgang is not None:
                voortgang(positie, target)
            if consument.done():
                consument.result()  # it stopped: say why
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"ingest reached seq {positie} of {target} in {timeout:.0f}s")
            await asyncio.sleep(0.05)
        if voortgang is not None:
            voortgang(target, target)
    finally:
        stop.set()
        await consument
    return dienst
