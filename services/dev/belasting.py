"""`jeugdstroom loadtest`: the served API under concurrent readers (issue 14, finding 8).

N readers ask the API at the same time, each its next question as soon as the last is
answered, for a bounded number of requests or seconds, over loopback only. Against a URL and
token (`--url`, `--token`), or against a `serve` of its own started as a subprocess on the
configured (embedded) servers, with a regio token of the local key. It reports latency
percentiles, requests per second, errors by status, the CPU per request of the server and of
the embedded PostgreSQL, and the RSS of the server (the process and its workers) at the
start, every 1,000 requests and at the end, beside the targets.

Modes: `counts` (historic counts: random peildatum and knowledge date), `mixed` (the
dashboard page, counts and the gemeenten table) and `replay` (`/api/replay`, the most
expensive route; behind the server's limit, so 503 with Retry-After is an expected answer).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode, urlsplit

DOEL_P95_MS = 500  # issue 14: p95 <= 500 ms with 20 concurrent readers of historic counts
DOEL_LEZERS = 20
MAX_VERZOEKEN = 100_000
MAX_SECONDEN = 600
MODI = ("counts", "mixed", "replay")


@dataclass
class Uitslag:
    modus: str
    lezers: int
    duur: float = 0.0
    tijden_ms: list[float] = field(default_factory=list)
    statussen: Counter[str] = field(default_factory=Counter)
    rss_mb: list[tuple[int, float]] = field(default_factory=list)  # (requests done, MB)
    cpu_s: float | None = None  # the server's CPU seconds during the run
    db_cpu_s: float | None = None  # PostgreSQL's (all its processes) during the run

    @property
    def fouten(self) -> int:
        return sum(n for s, n in self.statussen.items() if s != "200")

    def percentiel(self, p: int) -> float:
        if not self.tijden_ms:
            return float("nan")
        gesorteerd = sorted(self.tijden_ms)
        return gesorteerd[min(len(gesorteerd) - 1, max(0, -(-p * len(gesorteerd) // 100) - 1))]

    def regels(self) -> list[str]:
        n = len(self.tijden_ms)
        regels = [
            f"mode {self.modus}, {self.lezers} concurrent readers: {n} requests in "
            f"{self.duur:.1f} s = {n / self.duur if self.duur else 0:.1f} requests/s",
            f"latency p50/p95/p99: {self.percentiel(50):.0f} / {self.percentiel(95):.0f} / "
            f"{self.percentiel(99):.0f} ms   (target: p95 <= {DOEL_P95_MS} ms with "
            f"{DOEL_LEZERS} readers of historic counts)",
            f"errors: {self.fouten}" + (" (" + ", ".join(
                f"{s}: {c}" for s, c in sorted(self.statussen.items()) if s != "200") + ")"
                if self.fouten else ""),
        ]
        if self.cpu_s is not None and n:
            regels.append(f"server CPU: {self.cpu_s:.1f} s = {self.cpu_s / n * 1000:.0f} ms per "
                          f"request (comparable across runs on a busy machine; load average "
                          f"{os.getloadavg()[0]:.1f})")
        if self.db_cpu_s is not None and n:
            regels.append(f"database CPU: {self.db_cpu_s:.1f} s = {self.db_cpu_s / n * 1000:.0f} ms "
                          "per request (PostgreSQL, every process of it)")
        if self.rss_mb:
            begin, eind = self.rss_mb[0][1], self.rss_mb[-1][1]
            regels.append(
                f"server RSS: {begin:.0f} MB at the start, {eind:.0f} MB at the end "
                f"({eind - begin:+.0f} MB; target: flat)   every 1,000 requests: "
                + " ".join(f"{mb:.0f}" for _, mb in self.rss_mb))
        return regels


def _boom(pid: int) -> list[int]:
    """A process and all its descendants (uvicorn's workers)."""
    kinderen: dict[int, list[int]] = {}
    for pad in Path("/proc").iterdir():
        if not pad.name.isdigit():
            continue
        try:
            velden = (pad / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kinderen.setdefault(int(velden[1]), []).append(int(pad.name))
    boom, open_ = [], [pid]
    while open_:
        p = open_.pop()
        boom.append(p)
        open_.extend(kinderen.get(p, []))
    return boom


def rss_mb(pid: int) -> float:
    """RSS of a process and its descendants, in MB; 0 when gone."""
    totaal = 0
    for p in _boom(pid):
        try:
            for regel in Path(f"/proc/{p}/status").read_text().splitlines():
                if regel.startswith("VmRSS:"):
                    totaal += int(regel.split()[1])
        except OSError:
            continue
    return totaal / 1024


def cpu_seconden(pid: int) -> float:
    """CPU time (user + system) used so far by a process and its descendants, those that ended
    included (PostgreSQL's backends of closed connections): on a shared machine the CPU per
    request is comparable between runs where requests/s is not."""
    tikken = 0
    for p in _boom(pid):
        try:
            velden = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tikken += sum(int(v) for v in velden[11:15])  # utime, stime, cutime, cstime
    return tikken / os.sysconf("SC_CLK_TCK")


def postgres_pid(state_dir: Path) -> int | None:
    """The embedded PostgreSQL's postmaster (None: not running here, e.g. an external one)."""
    try:
        return int((state_dir / "postgres" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _vrije_poort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def alleen_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise ValueError(f"loadtest runs over loopback only, not against {host}: serve on "
                         "127.0.0.1 and point --url there")


class Server:
    """`jeugdstroom serve` as a subprocess on a free loopback port."""

    def __init__(self, werkers: int, extra: list[str] | None = None) -> None:
        self.poort = _vrije_poort()
        self.url = f"http://127.0.0.1:{self.poort}"
        opdracht = [sys.executable, "-m", "services.cli", "serve", "--port", str(self.poort),
                    "--workers", str(werkers), *(extra or [])]
        self.proces = subprocess.Popen(opdracht, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.PIPE, env=os.environ.copy())

    def wacht(self, seconden: float = 120) -> None:
        import httpx

        einde = time.monotonic() + seconden
        while time.monotonic() < einde:
            if self.proces.poll() is not None:
                fout = (self.proces.stderr.read() if self.proces.stderr else b"").decode()[-2000:]
                raise RuntimeError(f"serve stopped with {self.proces.returncode}: {fout}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"serve did not answer on {self.url} in {seconden:.0f} s")

    def stop(self) -> None:
        self.proces.terminate()
        try:
            self.proces.wait(20)
        except subprocess.TimeoutExpired:
            self.proces.kill()
            self.proces.wait()


def vragen(modus: str, regio: str, jaren: range, rnd: random.Random) -> Callable[[], str]:
    """The next path to ask, at random: historic questions over the simulated years."""
    def peil() -> tuple[date, date]:
        jaar = rnd.choice(jaren)
        pd = date(jaar, 1, 1) + timedelta(days=rnd.randrange(365))
        return pd, pd + timedelta(days=rnd.randrange(1, 720))

    def counts() -> str:
        pd, k = peil()
        return "/api/counts?" + urlencode({"region": regio, "peildatum": pd, "known_at": k})

    def gemeenten() -> str:
        pd, k = peil()
        return "/api/gemeenten?" + urlencode({"region": regio, "peildatum": pd, "known_at": k})

    def pagina() -> str:
        pd, k = peil()
        return "/?" + urlencode({"regio": regio, "peildatum": pd, "bekend_op": k})

    def replay() -> str:
        pd, k = peil()
        return "/api/replay?" + urlencode({"region": regio, "peildatum": pd, "known_at": k})

    if modus == "counts":
        return counts
    if modus == "replay":
        return replay
    return lambda: rnd.choice((counts, counts, gemeenten, pagina))()


async def _draai(url: str, token: str, modus: str, lezers: int, aantal: int, seconden: float,
                 regio: str, jaren: range, pid: int | None, db_pid: int | None, seed: int,
                 meld: Callable[[str], None]) -> Uitslag:
    import httpx

    uitslag = Uitslag(modus, lezers)
    volgende = vragen(modus, regio, jaren, random.Random(seed))  # noqa: S311 - reproducible questions
    if pid is not None:
        uitslag.rss_mb.append((0, rss_mb(pid)))
        cpu_begin = cpu_seconden(pid)
    if db_pid is not None:
        db_begin = cpu_seconden(db_pid)
    gedaan = 0
    begin = time.perf_counter()
    einde = begin + seconden
    limieten = httpx.Limits(max_connections=lezers, max_keepalive_connections=lezers)
    async with httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"},
                                 timeout=120, limits=limieten) as client:

        async def lezer() -> None:
            nonlocal gedaan
            while gedaan < aantal and time.perf_counter() < einde:
                gedaan += 1
                pad = volgende()
                t0 = time.perf_counter()
                try:
                    antwoord = await client.get(pad)
                    await antwoord.aread()
                    status = str(antwoord.status_code)
                except httpx.HTTPError as fout:
                    status = type(fout).__name__
                uitslag.tijden_ms.append((time.perf_counter() - t0) * 1000)
                uitslag.statussen[status] += 1
                klaar = len(uitslag.tijden_ms)
                if klaar % 1000 == 0:
                    if pid is not None:
                        uitslag.rss_mb.append((klaar, rss_mb(pid)))
                    meld(f"{klaar} requests, p95 so far {uitslag.percentiel(95):.0f} ms"
                         + (f", server RSS {uitslag.rss_mb[-1][1]:.0f} MB" if pid else ""))

        await asyncio.gather(*(lezer() for _ in range(lezers)))
    uitslag.duur = time.perf_counter() - begin
    if pid is not None:
        uitslag.cpu_s = cpu_seconden(pid) - cpu_begin
    if db_pid is not None:
        uitslag.db_cpu_s = cpu_seconden(db_pid) - db_begin
    if pid is not None and (not uitslag.rss_mb or uitslag.rss_mb[-1][0] != len(uitslag.tijden_ms)):
        uitslag.rss_mb.append((len(uitslag.tijden_ms), rss_mb(pid)))
    return uitslag


def belasting(url: str, token: str, modus: str, *, lezers: int, aantal: int, seconden: float,
              regio: str, jaren: range, pid: int | None = None, db_pid: int | None = None,
              seed: int = 1, meld: Callable[[str], None] = lambda _: None) -> Uitslag:
    """Run one load: `lezers` concurrent readers until `aantal` requests or `seconden`."""
    if modus not in MODI:
        raise ValueError(f"mode {modus}: choose one of {', '.join(MODI)}")
    alleen_loopback(url)
    if not 1 <= lezers <= 200:
        raise ValueError("readers: 1..200")
    aantal = min(aantal, MAX_VERZOEKEN)
    seconden = min(seconden, MAX_SECONDEN)
    return asyncio.run(_draai(url, token, modus, lezers, aantal, seconden, regio, jaren, pid,
                              db_pid, seed, meld))
