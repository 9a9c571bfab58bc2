"""The API's security headers and the limit on its expensive routes (issue 14, finding 8)."""

from __future__ import annotations

import asyncio
import threading

import httpx
from fastapi.testclient import TestClient

from projections.regio import laad_regios
from projections.view import InMemoryFlowView
from projections.vragen import Leeskant
from services.http.api import maak_api
from services.http.toegang import Toegang

REGIOS = laad_regios([])


def _api(eventlog=lambda: [], limiet: int = 2):
    return maak_api(Leeskant(InMemoryFlowView()), eventlog, REGIOS,
                    toegang=Toegang.zonder_controle(REGIOS), duur_limiet=limiet)


def test_every_answer_carries_the_security_headers_and_figures_are_not_stored():
    client = TestClient(_api())
    for pad in ("/api/counts?region=zuid-limburg&peildatum=2023-12-31", "/",
                "/api/counts?region=nergens&peildatum=2023-12-31", "/healthz", "/docs"):
        antwoord = client.get(pad)
        assert antwoord.headers["x-content-type-options"] == "nosniff", pad
        assert "frame-ancestors 'none'" in antwoord.headers["content-security-policy"], pad
        assert antwoord.headers["referrer-policy"] == "no-referrer", pad
        assert antwoord.headers["cache-control"] == "no-store", pad
    assert client.get("/docs-assets/swagger-ui.css").headers.get("cache-control") != "no-store"


def test_a_replay_beyond_the_limit_gets_503_with_retry_after_and_cheap_reads_go_on():
    bezig, verder = threading.Event(), threading.Event()

    def trage_eventlog():
        bezig.set()
        verder.wait(10)
        return []

    app = _api(trage_eventlog, limiet=1)
    vraag = "/api/replay?region=zuid-limburg&peildatum=2023-12-31"

    async def samen():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            eerste = asyncio.create_task(client.get(vraag))
            while not bezig.is_set():
                await asyncio.sleep(0.01)
            tweede = await client.get(vraag)  # the one slot is taken: waits 2 s, then 503
            goedkoop = await client.get("/api/counts?region=zuid-limburg&peildatum=2023-12-31")
            verder.set()
            return await eerste, tweede, goedkoop

    eerste, tweede, goedkoop = asyncio.run(samen())
    assert eerste.status_code == 200
    assert tweede.status_code == 503
    assert tweede.headers["retry-after"] == "5"
    assert tweede.headers["x-content-type-options"] == "nosniff"
    assert "opnieuw" in tweede.json()["detail"]
    assert goedkoop.status_code == 200
