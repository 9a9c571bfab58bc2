"""The composition root: settings in, wired services out. Nothing else builds adapters."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import secrets
import signal
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import nats
from nats.js import JetStreamContext

from events.gemeenten import GemeenteRegister
from events.ijw import XsdSchemas
from events.pseudonym import Pseudonimiseerder
from projections.geldvragen import Geldvragen
from projections.kwaliteitvragen import Kwaliteitsvragen
from projections.postgres import PostgresFlowView
from projections.postgres_geld import PostgresGeldView
from projections.postgres_zorg import PostgresZorgView
from projections.projectie import GELD_TOPICS, FlowProjectie, GeldProjectie
from projections.regio import Regio, laad_regios
from projections.vragen import Leeskant
from projections.zorgprojectie import ZORG_TOPICS, ZorgProjectie
from projections.zorgvragen import Zorgvragen
from services.eventstore.postgres import (
    APPLICATION_NAME,
    AndereStream,
    Gebeurtenissen,
    bij_gelijktijdige_start,
)
from services.ingest.handler import INFRA_ERRORS, Ingest
from services.ingest.jetstream import NatsIngest
from services.ingest.validatie import BerichtLezer, Lezers
from services.nats import (
    SUBJECTS,
    ensure_stream,
    ingest_consumer,
    nats_servers,
    partitie_berichten,
    stream_identiteit,
    verbindingsmeldingen,
)
from services.partities import PartitieFout, gemeentecodes, onbekende_regios, subjects
from services.projector.runner import Projector, eventlog
from services.projector.updates import LiveUpdates
from services.runtime import EmbeddedRuntime, Endpoints
from services.settings import Settings
from services.toegang.audit import PostgresAudit
from services.toegang.tokens import TokenInstellingen, TokenVerificateur, lokale_instellingen
from services.uitval import Uitval

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


def event_store(database_url: str, schema: str | None = None, *,
                alleen_lezen: bool = False) -> Gebeurtenissen:
    """The event store, in a partition's schema (Settings.database_schema) or the default one;
    `alleen_lezen`: on a read replica (nothing created)."""
    return Gebeurtenissen(database_url, schema, alleen_lezen=alleen_lezen)


def regios(settings: Settings, extra: list[Path] | None = None) -> dict[str, Regio]:
    """The shipped regions, JEUGDSTROOM_REGION_CONFIGS and --region-config files, by id."""
    return laad_regios([*settings.region_configs, *(extra or [])])


def partitie_regios(settings: Settings, alle: dict[str, Regio]) -> dict[str, Regio]:
    """The regions this process counts: its partition's, or all of them without one."""
    try:
        onbekende_regios(settings.partitions, alle)
    except PartitieFout as error:
        raise ConfigurationError(str(error)) from None
    if settings.partition is None:
        return alle
    return {regio: alle[regio] for regio in settings.partitions[settings.partition]}


def partitie_subjects(settings: Settings) -> list[str] | None:
    """The subjects of this process's partition (None: no partition, the whole stream)."""
    if settings.partition is None:
        return None
    alle = regios(settings)
    ids = list(partitie_regios(settings, alle))
    return subjects(gemeentecodes({r.id: r.gemeenten for r in alle.values()}, ids,
                                  gemeente_register(settings)))


def alle_partitie_codes(settings: Settings) -> set[str]:
    """The gemeentecodes some partition of JEUGDSTROOM_PARTITIONS ingests."""
    alle = regios(settings)
    partitie_regios(settings, alle)  # every region named is known
    per_regio = {r.id: r.gemeenten for r in alle.values()}
    register = gemeente_register(settings)
    return {code for ids in settings.partitions.values()
            for code in gemeentecodes(per_regio, ids, register)}


def flow_view(store: Gebeurtenissen, *, maak: bool = True) -> PostgresFlowView:
    """The flow view, in the event store's database (its own tables and tracking table)."""
    view = PostgresFlowView(store.ingest_recorder.datastore, application_name=APPLICATION_NAME,
                            tracking_table_name="flow_tracking")
    if maak:  # not on a read replica: the primary's projector creates them
        bij_gelijktijdige_start(view.create_table)
    return view


def geld_view(store: Gebeurtenissen, *, maak: bool = True) -> PostgresGeldView:
    """The money view, in the event store's database (its own tables and tracking table)."""
    view = PostgresGeldView(store.ingest_recorder.datastore, application_name=APPLICATION_NAME,
                            tracking_table_name="geld_tracking")
    if maak:
        bij_gelijktijdige_start(view.create_table)
    return view


def zorg_view(store: Gebeurtenissen, *, maak: bool = True) -> PostgresZorgView:
    """The care view, in the event store's database (its own tables and tracking table)."""
    view = PostgresZorgView(store.ingest_recorder.datastore, application_name=APPLICATION_NAME,
                            tracking_table_name="zorg_tracking")
    if maak:
        bij_gelijktijdige_start(view.create_table)
    return view


def projector(settings: Settings, database_url: str, extra: list[Path] | None = None) -> Projector:
    store = event_store(database_url, settings.database_schema)
    return Projector(store, FlowProjectie(flow_view(store),
                                          list(partitie_regios(settings, regios(settings, extra)).values())),
                     GeldProjectie(geld_view(store)), zorg=ZorgProjectie(zorg_view(store)))


def geldvragen(projector: Projector) -> Geldvragen:
    """The money questions over the projector's money view."""
    assert projector.geld is not None
    return Geldvragen(projector.geld.view)


def zorgvragen(projector: Projector) -> Zorgvragen:
    """The care questions over the projector's care view."""
    assert projector.zorg is not None
    return Zorgvragen(projector.zorg.view)


def kwaliteitsvragen(store: Gebeurtenissen) -> Kwaliteitsvragen:
    """The data-quality report's reads (findings, message counts, the money view's tables)."""
    return Kwaliteitsvragen(store.ingest_recorder.datastore)


@dataclass(frozen=True)
class Leeszijde:
    """What a reader (the analyst's commands) receives: the questions over both views, the
    event log for replay, and how far the views lag behind the event store. Hold on to it
    while asking: the event store it keeps closes the shared connection pool when it goes."""

    store: Gebeurtenissen
    leeskant: Leeskant
    geldvragen: Geldvragen
    flow_eventlog: Callable[[], Iterable[object]]
    geld_eventlog: Callable[[], Iterable[object]]
    achter: Callable[[], int]
    zorgvragen: Zorgvragen
    zorg_eventlog: Callable[[], Iterable[object]]


def leeszijde(database_url: str, schema: str | None = None) -> Leeszijde:
    store = event_store(database_url, schema)
    flow, geld, zorg = flow_view(store), geld_view(store), zorg_view(store)

    def laatste() -> int:
        return store.recorder.max_notification_id() or 0

    return Leeszijde(
        store, Leeskant(flow, laatste=laatste), Geldvragen(geld), lambda: eventlog(store),
        lambda: eventlog(store, GELD_TOPICS),
        lambda: laatste() - min(flow.positie(), geld.positie(), zorg.positie()),
        Zorgvragen(zorg), lambda: eventlog(store, ZORG_TOPICS))


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
    other address without those settings only with `zonder_auth` (--insecure-no-auth).

    With JEUGDSTROOM_PRIMARY_DATABASE_URL, `database_url` is a read replica: the API reads
    there, creates nothing, and writes its access audit and the live questions it registers
    (for the projector to answer) to the primary."""
    from services.http.api import maak_api  # FastAPI takes ~0.3 s to import: only `serve` needs it
    from services.http.geld import geld_router
    from services.http.kwaliteit import kwaliteit_router
    from services.http.zorg import zorg_router

    if settings.partitions and settings.partition is None:
        raise ConfigurationError(
            "serve with JEUGDSTROOM_PARTITIONS needs JEUGDSTROOM_PARTITION: one API process "
            "answers the regions of one partition, from that partition's schema "
            "(deploy/partities.md routes each region to its partition's API)")
    replica = settings.primary_database_url is not None
    store = event_store(database_url, settings.database_schema, alleen_lezen=replica)
    primair = (event_store(settings.primary_database_url, settings.database_schema)
               if settings.primary_database_url is not None else store)
    flow, geld = flow_view(store, maak=not replica), geld_view(store, maak=not replica)
    flow.registratie = geld.registratie = primair.ingest_recorder.datastore
    alle = partitie_regios(settings, regios(settings, extra))
    toegang = maak_toegang(settings, primair, alle, host=host, zonder_auth=zonder_auth)
    app = maak_api(Leeskant(flow, laatste=lambda: store.recorder.max_notification_id() or 0),
                   lambda: eventlog(store), alle, toegang=toegang,
                   geld=geld_router(Geldvragen(geld), lambda: eventlog(store, GELD_TOPICS), alle),
                   kwaliteit=kwaliteit_router(kwaliteitsvragen(store).rapport, alle),
                   zorg=zorg_router(Zorgvragen(zorg_view(store, maak=not replica)),
                                    lambda: eventlog(store, ZORG_TOPICS), alle))
    # an event store closes its connection pool when it goes: the app keeps the primary's,
    # whose pool the audit and the live questions use
    app.state.primair = primair
    return app


def api_voor_werker() -> FastAPI:
    """The app of one `serve --workers N` worker (uvicorn's factory, in the worker process):
    built from the settings the command handed down (JEUGDSTROOM_SERVE_*, and the region
    files in JEUGDSTROOM_REGION_CONFIGS), each with its own connection pool and caches."""
    settings = Settings()
    return api(settings, endpoints(settings).database_url, host=settings.serve_host,
               zonder_auth=settings.serve_insecure_no_auth)


def maak_toegang(settings: Settings, store: Gebeurtenissen, alle: dict[str, Regio], *,
                 host: str, zonder_auth: bool) -> Toegang:
    """Who may read what; the audit is written to `store` (the primary)."""
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
    """The name of ingest's tracking position: one per stream (a partition's own stream)."""
    return f"nats:{settings.ingest_stream}"


def ingest(settings: Settings, database_url: str) -> Ingest:
    if settings.schemavalidatie_uit:
        log.warning(settings.schemavalidatie_uit)
    # the event store may be starting (or restarting) at the same moment: bounded retries
    store = Uitval("the event store (PostgreSQL)", settings.outage_limit_seconds, log).probeer(
        lambda: event_store(database_url, settings.database_schema), INFRA_ERRORS)
    return Ingest(
        store,
        BerichtLezer(gemeente_register(settings), xsd_schemas(settings),
                     regels=settings.quality_rules),
        Pseudonimiseerder(pseudonym_key(settings)),
        bron=ingest_bron(settings),
        stream=settings.ingest_stream,
        max_pogingen=settings.ingest_max_attempts,
    )


def nats_ingest(settings: Settings, servers: Endpoints) -> NatsIngest:
    service = ingest(settings, servers.database_url)
    return NatsIngest(service, Lezers(service.lezer, settings.ingest_validation_processes),
                      settings.ingest_stream, grens=settings.outage_limit_seconds)


async def verbind_nats(settings: Settings, nats_url: str, wat: str) -> nats.NATS:
    """A connection that reconnects by itself and says so; the first connect is retried with
    backoff up to the outage bound (nats-py gives up on a first connect at once)."""
    uitval = Uitval("NATS", settings.outage_limit_seconds, log)
    verbinding: list[nats.NATS] = []
    weg, terug, fout = verbindingsmeldingen(wat, verbinding)
    while True:
        try:
            nc = await nats.connect(nats_servers(nats_url), max_reconnect_attempts=-1,
                                    reconnect_time_wait=1, disconnected_cb=weg,
                                    reconnected_cb=terug, error_cb=fout)
        except (nats.errors.Error, OSError, TimeoutError) as error:
            await asyncio.sleep(uitval.mislukt(error))
            continue
        uitval.gelukt()
        verbinding.append(nc)
        return nc


async def _neem_stream(js: JetStreamContext, settings: Settings, dienst: NatsIngest,
                       nieuwe_stream: bool) -> int:
    """Check (or, on the operator's word, accept) the stream before anything is consumed.
    Returns the stream's last sequence."""
    identiteit, laatste = await stream_identiteit(js, settings.ingest_stream)
    try:
        await asyncio.to_thread(dienst.ingest.controleer_stream, identiteit, laatste)
    except AndereStream:
        if not nieuwe_stream:
            raise
        await asyncio.to_thread(dienst.ingest.neem_stream_aan, identiteit)
    return laatste


async def _consumeer(settings: Settings, servers: Endpoints, dienst: NatsIngest,
                     stop: asyncio.Event, *, nieuwe_stream: bool = False,
                     klaar: asyncio.Event | None = None) -> None:
    """The durable pull consumer on the iJw stream, acked by hand after each commit.

    Before the consumer exists the stream is checked against the one ingest's position
    belongs to (`AndereStream` when it is another), so nothing is delivered, let alone
    acked, against a stale position."""
    nc = await verbind_nats(settings, servers.nats_url, "ingest")
    try:
        js = nc.jetstream()
        await ensure_stream(js, settings, partitie_subjects(settings))
        await _neem_stream(js, settings, dienst, nieuwe_stream)
        if klaar is not None:
            klaar.set()
        subscription = await js.pull_subscribe(
            SUBJECTS, durable=settings.ingest_durable, stream=settings.ingest_stream,
            config=ingest_consumer(settings))
        await dienst.volg(subscription, js, settings.ingest_batch_size, stop,
                          verbonden=lambda: nc.is_connected)
    finally:
        await dienst.stop()
        with contextlib.suppress(nats.errors.Error):  # NATS gone: unacked messages come back
            await nc.flush()  # the last acks; drain() waits forever on a pull subscription
        await nc.close()
        dienst.ingest.store.close()


async def _volg_achterstand(settings: Settings, servers: Endpoints, dienst: NatsIngest,
                            stop: asyncio.Event) -> None:
    """Consumer lag for the metrics: the stream's last sequence against the position."""
    from services import metrics

    nc = await verbind_nats(settings, servers.nats_url, "ingest metrics")
    try:
        js = nc.jetstream()
        while not stop.is_set():
            with contextlib.suppress(Exception):  # a metric never stops ingest
                _, laatste = await stream_identiteit(js, settings.ingest_stream)
                metrics.ingest_achter(await asyncio.to_thread(dienst.ingest.positie), laatste)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=5)
    finally:
        await nc.close()


def ingest_gezondheid(dienst: NatsIngest) -> Callable[[], tuple[bool, dict[str, Any]]]:
    """/healthz of ingest: its servers answer (an outage in progress makes it 503)."""
    import time

    from services import metrics

    def gezondheid() -> tuple[bool, dict[str, Any]]:
        nu = time.monotonic()
        weg: dict[str, float] = {}
        for naam, uitval in (("database", dienst.database), ("nats", dienst.broker)):
            sinds = uitval.weg_sinds
            metrics.WEG.labels(naam).set(0 if sinds is None else nu - sinds)
            if sinds is not None:
                weg[naam] = round(nu - sinds, 1)
        fout = type(dienst.fout).__name__ if dienst.fout is not None else None
        goed = not weg and fout is None
        return goed, {"unreachable_seconds": weg, "stopping_because": fout}

    return gezondheid


async def ingest_service(settings: Settings, servers: Endpoints, *, nieuwe_stream: bool = False,
                         metrics_poort: int | None = None) -> None:
    """The ingest service (`jeugdstroom ingest`) until SIGTERM or Ctrl-C; what is handed
    over by then is committed and acked before it stops. Raises AndereStream or
    Onbereikbaar when it must stop on its own."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signaal in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signaal, stop.set)
    dienst = nats_ingest(settings, servers)
    achterstand = None
    if metrics_poort is not None:
        from services import metrics

        metrics.serveer(metrics_poort, ingest_gezondheid(dienst))
        achterstand = asyncio.create_task(_volg_achterstand(settings, servers, dienst, stop))
    try:
        await _consumeer(settings, servers, dienst, stop, nieuwe_stream=nieuwe_stream)
    finally:
        stop.set()
        if achterstand is not None:
            with contextlib.suppress(Exception):
                await achterstand


async def ingest_until_caught_up(
    settings: Settings, servers: Endpoints, *, timeout: float = 3600.0, voortgang=None,
    nieuwe_stream: bool = False,
) -> NatsIngest:
    """Run ingest until it has committed everything the stream held when it started.

    For a backfill, the demo and the tests: the same consumer as the service, stopped when
    its tracking position reaches the stream's last sequence. `nieuwe_stream`: the
    operator's word that a recreated stream is to be ingested from its seq 1.
    """
    nc = await verbind_nats(settings, servers.nats_url, "ingest")
    try:
        js = nc.jetstream()
        subjects = partitie_subjects(settings)
        await ensure_stream(js, settings, subjects)
        if subjects is not None:
            await _tot_gekopieerd(js, settings, subjects, timeout)
        target = int((await js.stream_info(settings.ingest_stream)).state.last_seq)
    finally:
        await nc.close()
    dienst = nats_ingest(settings, servers)
    stop = asyncio.Event()
    klaar = asyncio.Event()  # the stream is checked (or accepted): the position means it
    consument = asyncio.create_task(_consumeer(settings, servers, dienst, stop,
                                               nieuwe_stream=nieuwe_stream, klaar=klaar))
    gecontroleerd = asyncio.create_task(klaar.wait())
    try:
        await asyncio.wait([consument, gecontroleerd], return_when=asyncio.FIRST_COMPLETED)
        if consument.done():
            consument.result()  # it stopped before it began: say why
        deadline = asyncio.get_running_loop().time() + timeout
        while (positie := await _positie(dienst)) < target:
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
        gecontroleerd.cancel()
        stop.set()
        await consument
    return dienst


async def _tot_gekopieerd(js: JetStreamContext, settings: Settings, subjects: list[str],
                          timeout: float) -> None:
    """Wait until NATS has copied into the partition's stream every message of its subjects
    that the iJw stream holds now (sourcing runs on its own, a little behind).

    Its count can stay short: a message the iJw stream holds twice (the same Nats-Msg-Id
    sent again after the duplicate window) is dropped as a duplicate when both copies reach
    the partition's stream within its window, as they do when it catches up. So after a
    while a source that reports nothing pending, having copied something, is done too."""
    doel = await partitie_berichten(js, settings.stream, subjects)
    loop = asyncio.get_running_loop()
    begin = loop.time()
    while True:
        info = await js.stream_info(settings.ingest_stream)
        er_in = int(info.state.messages)
        bron = info.sources[0] if info.sources else None
        if er_in >= doel or (loop.time() - begin > 2.0 and bron is not None
                             and bron.active is not None and bron.active >= 0 and bron.lag == 0):
            return
        if loop.time() - begin > timeout:
            raise TimeoutError(f"stream {settings.ingest_stream} holds {er_in} of the {doel} "
                               f"messages of partition {settings.partition} after {timeout:.0f}s")
        await asyncio.sleep(0.05)


async def _positie(dienst: NatsIngest) -> int:
    """The committed position; -1 while the event store is away (the consumer counts the
    outage against its bound and stops past it)."""
    try:
        return await asyncio.to_thread(dienst.ingest.positie)
    except INFRA_ERRORS:
        await asyncio.sleep(0.5)
        return -1
