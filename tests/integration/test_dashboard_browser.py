"""The dashboard in a real browser: headless Chromium (Debian's package) loads the page from a
real HTTP server over the seeded store; the figures on the page must equal the API's, and a
screenshot is kept in test-artifacts/ as evidence."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from services import bootstrap
from services.runtime import free_port
from services.toegang.tokens import maak_token

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
QUERY = "regio=zuid-limburg&peildatum=2023-12-31&bekend_op=2023-12-31"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium; the test setup installs it when it is missing (CI runs as root)."""
    found = shutil.which("chromium")
    if found is None:
        subprocess.run(["apt-get", "update", "-qq"], check=False, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False,
                       capture_output=True, env={"DEBIAN_FRONTEND": "noninteractive",
                                                 "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"})
        found = shutil.which("chromium")
    if found is None:
        pytest.skip("Chromium could not be installed (apt-get install chromium needs root)")
    return found


@pytest.fixture
def server(settings, projected) -> Iterator[str]:
    """The API as `serve` on loopback builds it: tokens of the local key in the state dir."""
    port = free_port()
    web = bootstrap.api(settings, settings.database_url)
    config = uvicorn.Config(web, host="127.0.0.1", port=port, log_level="warning")
    uvi = uvicorn.Server(config)
    thread = threading.Thread(target=uvi.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uvi.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    uvi.should_exit = True
    thread.join(timeout=10)


def _browser(chromium: str, *args: str) -> str:
    with tempfile.TemporaryDirectory() as profile:
        result = subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120, check=True)
    return result.stdout


def test_dashboard_in_chromium_shows_the_api_figures(chromium, server, settings):
    token = maak_token(settings.state_dir, ["regio:zuid-limburg"], minuten=10)
    # the link `serve` prints: the token goes into an HttpOnly cookie, then the page
    dom = _browser(chromium, "--dump-dom", f"{server}/login?token={token}&{QUERY}")
    api = httpx.get(f"{server}/api/counts", params={
        "region": "zuid-limburg", "peildatum": "2023-12-31", "known_at": "2023-12-31"},
        headers={"Authorization": f"Bearer {token}"}).json()
    tabel = re.search(r'id="tabel".*?</table>', dom, re.S).group(0)
    for segment in api["segments"]:
        for veld in ("instroom", "stapeling", "doorstroom", "recidive", "hernieuwde_instroom",
                     "uitstroom", "uitstroom_voorlopig", "in_zorg", "unieke_jeugdigen"):
            cel = re.search(rf'data-segment="{segment["segment"]}" data-veld="{veld}">([^<]+)<',
                            tabel).group(1)
            expected = "n.v.t." if segment[veld] is None else str(segment[veld])
            assert cel == expected, (segment["segment"], veld)
    assert re.search(r'id="totaal">(\d+)<', dom).group(1) == str(api["totaal_unieke_jeugdigen"])
    assert re.search(r'id="trend".*?<svg', dom, re.S), "the trend charts are missing"
    assert 'id="verschil"' in dom, "the difference view is missing"
    wijzigingen = re.search(r'id="wijzigingen".*?</table>', dom, re.S).group(0)
    assert "0935:15" in wijzigingen and "0935:16" in wijzigingen  # H's late shortening, and why

    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / "dashboard.png"
    screenshot.unlink(missing_ok=True)
    _browser(chromium, f"--screenshot={screenshot}", "--window-size=1280,2200",
             f"{server}/login?token={token}&{QUERY}")
    assert screenshot.exists() and screenshot.stat().st_size > 20_000
