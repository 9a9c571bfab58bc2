"""Issue 14, finding 7: publish accounts for every file, and NATS going away and coming back
mid-publish ends in an account, not a traceback."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import nats
import pytest
from typer.testing import CliRunner

from services.cli import app
from services.nats import Publicatie, publiceer
from services.runtime import _nats_server_binary, free_port
from tests.integration.helpers import cli_env, jw301_berichten

pytestmark = pytest.mark.integration


def _schrijf(map_: Path, berichten: list[tuple[str, bytes, str]]) -> list[Path]:
    map_.mkdir(parents=True, exist_ok=True)
    paden = []
    for i, (_, data, _) in enumerate(berichten):
        pad = map_ / f"{i:05d}.xml"
        pad.write_bytes(data)
        paden.append(pad)
    return paden


def test_publish_accounts_for_every_file(settings, tmp_path):
    paden = _schrijf(tmp_path / "in", jw301_berichten(3))
    (tmp_path / "in" / "00003.xml").write_bytes(paden[0].read_bytes())  # a duplicate
    (tmp_path / "in" / "00004.xml").write_bytes(paden[1].read_bytes()[:150])  # truncated
    uitvoer = CliRunner().invoke(app, ["publish", str(tmp_path / "in")], env=cli_env(settings))
    assert uitvoer.exit_code == 1, uitvoer.output
    tekst = " ".join(uitvoer.output.split())
    assert "5 files: 3 published, 1 duplicate (dropped by JetStream), 1 not published" in tekst
    assert "00004.xml" in tekst and "Traceback" not in tekst


def _wacht_op(poort: int) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            with socket.create_connection(("127.0.0.1", poort), timeout=0.2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"nats-server does not answer on {poort}"
            time.sleep(0.05)


def _nats(poort: int, opslag: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [_nats_server_binary(), "-a", "127.0.0.1", "-p", str(poort), "-js", "-sd", str(opslag)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _berichten_in_stream(url: str, stream: str) -> int:
    nc = await nats.connect(url)
    try:
        return int((await nc.jetstream().stream_info(stream)).state.messages)
    finally:
        await nc.close()


def test_publish_carries_on_when_nats_goes_away_and_comes_back(settings, tmp_path):
    poort = free_port()
    url = f"nats://127.0.0.1:{poort}"
    server = _nats(poort, tmp_path / "js")
    paden = _schrijf(tmp_path / "in", jw301_berichten(3000))
    try:
        _wacht_op(poort)
        uitkomst: list[Publicatie | BaseException] = []

        def publiceren() -> None:
            try:
                uitkomst.append(asyncio.run(publiceer(url, settings, paden, tegelijk=64)))
            except BaseException as fout:  # the test reports it below
                uitkomst.append(fout)

        draad = threading.Thread(target=publiceren)
        draad.start()
        time.sleep(0.4)
        os.kill(server.pid, signal.SIGKILL)
        server.wait()
        time.sleep(1.5)
        server = _nats(poort, tmp_path / "js")
        draad.join(timeout=120)
        assert not draad.is_alive(), "publish did not finish"
        [resultaat] = uitkomst
        assert isinstance(resultaat, Publicatie), f"publish died: {resultaat!r}"
        assert resultaat.bestanden == 3000
        assert resultaat.fouten == []
        assert asyncio.run(_berichten_in_stream(url, settings.stream)) == 3000
    finally:
        server.kill()
        server.wait()
