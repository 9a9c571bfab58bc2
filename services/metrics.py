"""What an operator on call sees of a running process: Prometheus metrics, /healthz, JSON logs.

`jeugdstroom ingest --metrics-port P` and `jeugdstroom project --metrics-port P` serve
`/metrics` (Prometheus text format) and `/healthz` (200 when the process reaches its servers,
503 with the reason when not) on 127.0.0.1:P. Labels are fixed words (a reason class, never
a reason's text), so no personal data can reach a metric.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, cast

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest

from events.ijw import redact

if TYPE_CHECKING:
    from services.ingest.handler import Uitkomst

INGEST_BERICHTEN = Counter("jeugdstroom_ingest_messages", "stream messages committed by ingest")
INGEST_RECORDS = Counter("jeugdstroom_ingest_ijw_records", "iJw records committed by ingest")
INGEST_EVENTS = Counter("jeugdstroom_ingest_events", "new domain events stored by ingest")
AFWIJZINGEN = Counter("jeugdstroom_ingest_rejections", "messages rejected, by reason class",
                      ["reason"])
INGEST_POSITIE = Gauge("jeugdstroom_ingest_position", "last stream sequence ingest committed")
STREAM_LAATSTE = Gauge("jeugdstroom_stream_last_seq", "last sequence in the iJw stream")
INGEST_ACHTER = Gauge("jeugdstroom_ingest_lag", "consumer lag: stream last seq minus position")
PROJECTOR_POSITIE = Gauge("jeugdstroom_projector_position", "last event-log position projected")
PROJECTOR_ACHTER = Gauge("jeugdstroom_projector_lag",
                         "projector lag: event-log notifications not projected yet")
WEG = Gauge("jeugdstroom_server_unreachable_seconds",
            "how long a server has been unreachable (0: it answers)", ["server"])

# Reason classes, in order: the first whose pattern is in the reason text wins.
_KLASSEN = [
    ("dtd", r"DTD|entit"),
    ("stream", r"no longer in the stream"),
    ("subject", r"^subject|subject says|ijw\.<gemeentecode>"),
    ("dagtekening", r"Dagtekening"),
    ("bsn", r"11-proef|Bsn|BSN"),
    ("gemeente", r"gemeente"),
    ("schema", r"XSD|schema|not well-formed|Element|element"),
    ("internal", r"internal error"),
]


def reden_klasse(reden: str) -> str:
    """A rejection reason as one of a few fixed words (a metric label never quotes a value)."""
    for klasse, patroon in _KLASSEN:
        if re.search(patroon, reden):
            return klasse
    return "other"


def ingest_vastgelegd(uitkomst: Uitkomst, positie: int) -> None:
    INGEST_BERICHTEN.inc(uitkomst.berichten)
    INGEST_RECORDS.inc(uitkomst.records)
    INGEST_EVENTS.inc(uitkomst.events)
    for a in uitkomst.afgewezen:
        AFWIJZINGEN.labels(reden_klasse(a.reden)).inc()
    INGEST_POSITIE.set(positie)


def ingest_achter(positie: int, laatste_seq: int) -> None:
    INGEST_POSITIE.set(positie)
    STREAM_LAATSTE.set(laatste_seq)
    INGEST_ACHTER.set(max(0, laatste_seq - positie))


def projector_achter(positie: int, laatste: int) -> None:
    PROJECTOR_POSITIE.set(positie)
    PROJECTOR_ACHTER.set(max(0, laatste - positie))


Gezondheid = Callable[[], tuple[bool, dict[str, Any]]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, adres: tuple[str, int], gezondheid: Gezondheid) -> None:
        super().__init__(adres, _Handler)
        self.gezondheid = gezondheid


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        pad = self.path.split("?")[0]
        if pad == "/metrics":
            self._antwoord(200, generate_latest(), CONTENT_TYPE_LATEST)
        elif pad == "/healthz":
            goed, details = cast(_Server, self.server).gezondheid()
            body = json.dumps({"status": "ok" if goed else "unavailable", **details}).encode()
            self._antwoord(200 if goed else 503, body, "application/json")
        else:
            self._antwoord(404, b"not found: /metrics or /healthz\n", "text/plain")

    def _antwoord(self, status: int, body: bytes, soort: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", soort)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # scrapes every few seconds would drown the process's own log


def serveer(poort: int, gezondheid: Gezondheid, host: str = "127.0.0.1") -> ThreadingHTTPServer:
    """Serve /metrics and /healthz on host:poort in a daemon thread; returns the server."""
    server = _Server((host, poort), gezondheid)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message (and the exception's type).

    The message goes through the same BSN redaction as rejection reasons; log calls already
    pass no names or BSNs, this is the second line of defence. A traceback is not included
    (its locals' reprs could hold a message's content): only the exception's type."""

    def format(self, record: logging.LogRecord) -> str:
        regel: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        if record.exc_info and record.exc_info[0] is not None:
            regel["exception"] = record.exc_info[0].__name__
        return json.dumps(regel, ensure_ascii=False)


def json_logs() -> None:
    """Every handler of the root logger writes JSON lines from now on."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig()
    for handler in root.handlers:
        handler.setFormatter(JsonFormatter())
