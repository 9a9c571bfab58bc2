"""Exactly once: SIGKILL the ingest process in the middle of a stream, restart it, count;
with and without partitions (then the stream carries another partition's traffic too)."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from datetime import date, timedelta

import psycopg
import pytest

from services.nats import verwijder_stream
from tests.ijw_factory import Toewijzing, bsn, jw301
from tests.integration.helpers import (
    event_topics,
    kinderen,
    leeft,
    publish,
    tracking_position,
    verbind,
)

pytestmark = pytest.mark.integration

MESSAGES = 3000
# Zuid-Limburg in partition zuid, Een 10 voor de Jeugd (Eindhoven, 0772) in partition brabant
PARTITIONS = {"zuid": ["zuid-limburg"], "brabant": ["een-10-voor-de-jeugd"]}


def _stream(rng: random.Random, bsns: list[str], andere: bool = False) -> list[tuple[str, bytes, str]]:
    """A few thousand JW301s of Maastricht and Heerlen: one new toewijzing each; `andere`:
    every third message is one of Eindhoven's (another partition) besides them."""
    berichten = []
    for i in range(MESSAGES * 3 // 2 if andere else MESSAGES):
        gemeente = "0772" if andere and i % 3 == 2 else "0935" if i % 2 else "0917"
        bsns.append(bsn(rng))
        start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 600))
        toewijzing = Toewijzing(str(100000 + i), "45", "45A12", start,
                                start + timedelta(days=rng.randint(30, 400)),
                                start - timedelta(days=3))
        data = jw301(gemeente=gemeente, aanbieder="12345678", identificatie=str(i + 1),
                     dagtekening=start - timedelta(days=2), client_bsn=bsns[-1],
                     toewijzingen=[toewijzing])
        berichten.append((f"ijw.{gemeente}.jw301", data, f"{gemeente}-{i + 1}"))
    return berichten


def _ingest_process(settings, log) -> subprocess.Popen:
    partitie = {"JEUGDSTROOM_PARTITIONS": json.dumps(settings.partitions),
                "JEUGDSTROOM_PARTITION": settings.partition} if settings.partition else {}
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("JEUGDSTROOM_PARTITION")},
        **partitie,
        "JEUGDSTROOM_NATS_URL": settings.nats_url,
        "JEUGDSTROOM_DATABASE_URL": settings.database_url,
        "JEUGDSTROOM_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
        "JEUGDSTROOM_XSD_DIR": str(settings.xsd_dir),
        "JEUGDSTROOM_GEMEENTEN_FILES": f'["{settings.gemeenten_files[0]}"]',
        "JEUGDSTROOM_INGEST_BATCH_SIZE": "50",
        "JEUGDSTROOM_ACK_WAIT_SECONDS": "10",
    }
    return subprocess.Popen([sys.executable, "-m", "services.cli", "ingest"], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _wait_for_position(settings, target: int, process: subprocess.Popen, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        position = tracking_position(settings)
        if position >= target:
            return position
        assert process.poll() is None, "ingest exited on its own"
        time.sleep(0.01)
    raise AssertionError(f"ingest did not reach {target} within {timeout}s")


@pytest.fixture(params=[None, "zuid"], ids=["one-partition", "partition-zuid"])
def partitie_settings(request, settings):
    """The settings of an ingest of the whole stream, or of partition zuid only."""
    if request.param is None:
        yield settings
        return
    gedeeld = settings.model_copy(update={"partitions": PARTITIONS, "partition": request.param})
    asyncio.run(verwijder_stream(settings.nats_url, gedeeld.ingest_stream))
    yield gedeeld
    asyncio.run(verwijder_stream(settings.nats_url, gedeeld.ingest_stream))


def test_sigkill_in_the_middle_loses_nothing_and_doubles_nothing(partitie_settings, tmp_path):
    settings = partitie_settings
    bsns: list[str] = []
    asyncio.run(publish(settings, _stream(random.Random(7), bsns, andere=settings.partition is not None)))
    log = (tmp_path / "ingest.log").open("w")

    first = _ingest_process(settings, log)
    try:
        # tracking_position fails before the tables exist: wait for the first commit
        deadline = time.monotonic() + 60
        while True:
            try:
                _wait_for_position(settings, MESSAGES // 3, first, 120)
                break
            except psycopg.errors.UndefinedTable:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        children = kinderen(first.pid)  # its validation worker and the resource tracker
        first.send_signal(signal.SIGKILL)
        first.wait()
        deadline = time.monotonic() + 5
        while [c for c in children if leeft(c)] and time.monotonic() < deadline:
            time.sleep(0.1)
        assert children and not [c for c in children if leeft(c)], \
            "the killed ingest's worker processes outlived it"
    finally:
        if first.poll() is None:
            first.kill()
    at_kill = tracking_position(settings)
    assert MESSAGES // 3 <= at_kill < MESSAGES, "the kill did not land in the middle"

    second = _ingest_process(settings, log)
    try:
        _wait_for_position(settings, MESSAGES, second, 180)
        time.sleep(1.0)  # redeliveries of what the first process left unacked come in now
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=30)

    topics = event_topics(settings)
    assert topics == {"Toewijzing.Geregistreerd": MESSAGES, "Toewijzing.VersieOntvangen": MESSAGES}
    assert tracking_position(settings) == MESSAGES
    with verbind(settings) as conn:
        per_toewijzing = conn.execute(
            "SELECT count(*) FROM jeugdstroom_events GROUP BY originator_id HAVING count(*) <> 2"
        ).fetchall()
        rejected = conn.execute("SELECT count(*) FROM ijw_afwijzing").fetchone()[0]
    assert per_toewijzing == [] and rejected == 0
    log.close()
    output = (tmp_path / "ingest.log").read_text()
    assert not [b for b in bsns if b in output]
