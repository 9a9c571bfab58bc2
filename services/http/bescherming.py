"""What every answer of the API carries, and how many expensive questions run at once.

- Security headers on every answer: no MIME sniffing, a Content-Security-Policy that allows
  only the page's own (inline) script and style and no framing (clickjacking), no Referer
  to other sites, and `Cache-Control: no-store` on everything but Swagger UI's static
  assets: the figures and the detail must not stay in a shared or browser cache after the
  token that read them is gone.
- A limit on the expensive routes (replay recomputes the figures from the whole event log,
  a diff reads two knowledge dates' periods): at most `limiet` of them run at once per
  worker; a further one waits up to `wachten` seconds for a slot, then gets 503 with
  Retry-After, so that a burst of replays cannot starve the cheap reads.

A plain ASGI middleware (not BaseHTTPMiddleware): it adds headers to the response start and
passes the body through untouched, so it costs next to nothing per request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# the dashboard is one server-rendered page with inline SVG, an inline sorting script and
# inline style; Swagger UI (/docs) its own assets and an inline start script
CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
KOPPEN: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CSP.encode()),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)
NIET_BEWAREN = (b"cache-control", b"no-store")
STATISCH = "/docs-assets/"  # Swagger UI's script and style: no figures, may be cached

DUUR = frozenset({"/api/replay", "/api/costs/replay", "/api/diff"})
# per worker: a replay reads the whole event log into memory (~100 MB at the demo's size)
# and keeps a core busy for seconds; measured, two per worker grew the server by 400 MB
DUUR_LIMIET = 1
DUUR_WACHTEN = 2.0  # seconds a request waits for a slot before the 503
OPNIEUW_NA = 5  # Retry-After, seconds


# Threads that answer the (synchronous) routes at once, per worker: the figures are counted in
# Python, so more threads only take turns at the GIL (and each keeps its own malloc arena:
# with 40, the default, memory grew by ~100 MB under 20 readers); as many as the connection
# pool has connections, so no thread waits for one.
DRADEN = 4


@asynccontextmanager
async def beperk_draden(_: object) -> AsyncIterator[None]:
    """The app's lifespan: at most `DRADEN` threads answer routes at once; the rest wait
    their turn in order, which also keeps the slowest answers close to the median."""
    anyio.to_thread.current_default_thread_limiter().total_tokens = DRADEN
    yield


class Bescherming:
    """Security headers on every answer; the limit on the expensive routes (`DUUR`)."""

    def __init__(self, app: ASGIApp, limiet: int = DUUR_LIMIET, wachten: float = DUUR_WACHTEN,
                 duur: frozenset[str] = DUUR) -> None:
        self.app = app
        self.duur = duur
        self.wachten = wachten
        self._plekken = asyncio.Semaphore(limiet)  # binds to the running loop on first wait

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        bewaren = scope["path"].startswith(STATISCH)

        async def met_koppen(bericht: Message) -> None:
            if bericht["type"] == "http.response.start":
                namen = {naam.lower() for naam, _ in bericht.get("headers", [])}
                koppen = list(bericht.get("headers", []))
                koppen.extend(k for k in KOPPEN if k[0] not in namen)
                if not bewaren:
                    koppen = [k for k in koppen if k[0].lower() != b"cache-control"]
                    koppen.append(NIET_BEWAREN)
                bericht["headers"] = koppen
            await send(bericht)

        if scope["path"] not in self.duur:
            await self.app(scope, receive, met_koppen)
            return
        try:
            await asyncio.wait_for(self._plekken.acquire(), timeout=self.wachten)
        except TimeoutError:
            await _vol(met_koppen)
            return
        try:
            await self.app(scope, receive, met_koppen)
        finally:
            self._plekken.release()


async def _vol(send: Send) -> None:
    tekst = json.dumps({"detail": "te veel zware vragen tegelijk (replay, diff): probeer het over "
                        f"{OPNIEUW_NA} seconden opnieuw"}).encode()
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(tekst)).encode()),
        (b"retry-after", str(OPNIEUW_NA).encode())]})
    await send({"type": "http.response.body", "body": tekst})
