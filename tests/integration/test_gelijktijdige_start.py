"""Ingest and projector often start together on an empty database: table creation must not
make one of them die (PostgreSQL's CREATE TYPE / TABLE / FUNCTION race; seen in the bench)."""

from __future__ import annotations

import subprocess
import sys
from uuid import uuid4

import psycopg
import pytest

pytestmark = pytest.mark.integration

START = ("import sys; from services import bootstrap; from services.settings import Settings; "
         "p = bootstrap.projector(Settings(), sys.argv[1]); p.store.close()")


def test_four_processes_creating_the_tables_at_once_all_start(servers):
    admin = servers.database_url.rsplit("/", 1)[0] + "/postgres"
    for _ in range(3):
        database = f"t_{uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        url = servers.database_url.rsplit("/", 1)[0] + f"/{database}"
        processen = [subprocess.Popen([sys.executable, "-c", START, url], stderr=subprocess.PIPE)
                     for _ in range(4)]
        for p in processen:
            _, stderr = p.communicate(timeout=120)
            assert p.returncode == 0, stderr.decode()[-1500:]
