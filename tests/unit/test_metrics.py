"""Metrics and /healthz of a process, JSON logs: fixed labels, never personal data."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request

from services import metrics
from services.eventstore.postgres import Afwijzing
from services.ingest.handler import Uitkomst
from services.runtime import free_port


def test_reason_classes_are_fixed_words():
    assert metrics.reden_klasse("XML: DTD and entities are not allowed in iJw messages") == "dtd"
    assert metrics.reden_klasse("Client/Bsn: fails the 11-proef") == "bsn"
    assert metrics.reden_klasse("Dagtekening: 2030-01-01 is after the message arrived") == "dagtekening"
    assert metrics.reden_klasse("stream: this sequence is no longer in the stream") == "stream"
    assert metrics.reden_klasse("internal error after 3 attempts: KeyError") == "internal"
    assert metrics.reden_klasse("something new") == "other"


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as antwoord:  # noqa: S310 (loopback)
            return antwoord.status, antwoord.read().decode()
    except urllib.error.HTTPError as fout:
        return fout.code, fout.read().decode()


def test_metrics_and_healthz_over_http():
    gezond = [True]
    poort = free_port()
    server = metrics.serveer(poort, lambda: (gezond[0], {"unreachable_seconds": {}}))
    try:
        metrics.ingest_vastgelegd(Uitkomst(berichten=3, records=4, events=5, afgewezen=[
            Afwijzing(7, "ijw.0935.jw301", "Client/Bsn: 999900006 fails the 11-proef")]), 7)
        metrics.ingest_achter(7, 10)
        status, tekst = _get(f"http://127.0.0.1:{poort}/metrics")
        assert status == 200
        assert 'jeugdstroom_ingest_rejections_total{reason="bsn"}' in tekst
        assert "jeugdstroom_ingest_lag 3.0" in tekst
        assert "999900006" not in tekst
        assert _get(f"http://127.0.0.1:{poort}/healthz") == (
            200, json.dumps({"status": "ok", "unreachable_seconds": {}}))
        gezond[0] = False
        assert _get(f"http://127.0.0.1:{poort}/healthz")[0] == 503
    finally:
        server.shutdown()


def test_json_log_lines_redact_a_bsn():
    record = logging.LogRecord("jeugdstroom.ingest", logging.WARNING, __file__, 1,
                               "rejected stream seq %d: %s", (3, "Bsn 999900006 fails"), None)
    regel = json.loads(metrics.JsonFormatter().format(record))
    assert regel["level"] == "warning" and regel["logger"] == "jeugdstroom.ingest"
    assert "999900006" not in regel["message"] and "[bsn]" in regel["message"]
