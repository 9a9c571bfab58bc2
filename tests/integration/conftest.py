"""Real servers for integration tests: the embedded nats-server and PostgreSQL, started once
per test session on free ports in a temp dir; every test gets a fresh database and stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from uuid import uuid4

import psycopg
import pytest

from services import bootstrap
from services.nats import verwijder_stream
from services.runtime import EmbeddedRuntime, Endpoints
from services.settings import Settings
from tests.conftest import CBS_FILES, XSD_DIR
from tests.integration.handmade import HISTORY
from tests.integration.helpers import ingest_until_caught_up, publish

PSEUDONYM_KEY = "integration-test-pseudonym-key-0123456789"


@pytest.fixture(scope="session")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Endpoints]:
    runtime = EmbeddedRuntime(tmp_path_factory.mktemp("runtime"), durable=False)
    endpoints = runtime.up()
    yield endpoints
    runtime.down()


@pytest.fixture
def settings(servers: Endpoints, tmp_path) -> Settings:
    database = f"t_{uuid4().hex[:12]}"
    admin = servers.database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    asyncio.run(verwijder_stream(servers.nats_url, "IJW"))
    return Settings(
        nats_url=servers.nats_url,
        database_url=servers.database_url.rsplit("/", 1)[0] + f"/{database}",
        pseudonym_key=PSEUDONYM_KEY,
        xsd_dir=XSD_DIR,
        gemeenten_files=CBS_FILES,
        state_dir=tmp_path / "state",
        ingest_batch_size=50,
        ack_wait_seconds=10,
    )


@pytest.fixture
def projected(settings):
    """The hand-made history published through NATS, ingested and projected."""
    asyncio.run(publish(settings, HISTORY))
    asyncio.run(ingest_until_caught_up(settings))
    projector = bootstrap.projector(settings, settings.database_url)
    projector.volg(tot_bij=True)
    yield projector
    projector.store.close()


@pytest.fixture
def leeskant(projected):
    """The questions over the projected view."""
    return bootstrap.leeskant(projected)


