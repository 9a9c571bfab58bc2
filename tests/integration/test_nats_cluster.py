"""Issue 14: a three-node NATS cluster, the stream on all three, one node killed while ingest
runs and messages are still published: nothing lost, nothing doubled.

The nodes are configured as deploy/nats/cluster/nats-N.conf, on loopback ports, without TLS.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import nats
import pytest

from services.nats import publiceer
from services.runtime import _nats_server_binary, free_port
from tests.integration.helpers import (
    cli_env,
    event_topics,
    jw301_berichten,
    positie_of_niets,
    tracking_position,
    wacht_tot,
)
from tests.integration.test_publiceren import _schrijf

pytestmark = pytest.mark.integration

BERICHTEN = 1500


class Cluster:
    def __init__(self, map_: Path) -> None:
        self.map = map_
        self.poorten = [free_port() for _ in range(3)]
        self.routes = [free_port() for _ in range(3)]
        self.processen: dict[int, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        return ",".join(f"nats://127.0.0.1:{p}" for p in self.poorten)

    def start(self, i: int) -> None:
        conf = self.map / f"nats-{i + 1}.conf"
        routes = "\n".join(f'    "nats-route://127.0.0.1:{r}"' for r in self.routes)
        conf.write_text(f"""
server_name: "jeugdstroom-nats-{i + 1}"
listen: "127.0.0.1:{self.poorten[i]}"
jetstream {{ store_dir: "{self.map / f'js-{i + 1}'}" }}
cluster {{
  name: "jeugdstroom"
  listen: "127.0.0.1:{self.routes[i]}"
  routes: [
{routes}
  ]
}}
""")
        self.processen[i] = subprocess.Popen(
            [_nats_server_binary(), "-c", str(conf), "-l", str(self.map / f"nats-{i + 1}.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def kill(self, i: int) -> None:
        self.processen[i].send_signal(signal.SIGKILL)
        self.processen[i].wait()

    def stop(self) -> None:
        for p in self.processen.values():
            if p.poll() is None:
                p.kill()
                p.wait()


async def _wacht_op_jetstream(url: str, timeout: float = 30) -> None:
    """Until the cluster has a meta leader: a stream can be created then."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            nc = await nats.connect(url.split(","), connect_timeout=1, max_reconnect_attempts=1)
            try:
                await nc.jetstream().account_info()
                return
            finally:
                await nc.close()
        except Exception:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def _stream_leider(url: str, stream: str) -> str:
    nc = await nats.connect(url.split(","))
    try:
        info = await nc.jetstream().stream_info(stream)
        assert info.config.num_replicas == 3
        assert info.cluster is not None and info.cluster.leader
        return info.cluster.leader
    finally:
        await nc.close()


def test_a_node_killed_during_ingest_loses_and_doubles_nothing(settings, tmp_path):
    cluster = Cluster(tmp_path)
    for i in range(3):
        cluster.start(i)
    ingest: subprocess.Popen | None = None
    log_pad = tmp_path / "ingest.log"
    try:
        for p in cluster.poorten:
            _wacht_op_poort(p)
        asyncio.run(_wacht_op_jetstream(cluster.url))
        cluster_settings = settings.model_copy(update={"nats_url": cluster.url,
                                                       "stream_replicas": 3})
        paden = _schrijf(tmp_path / "in", jw301_berichten(BERICHTEN))
        eerst = asyncio.run(publiceer(cluster.url, cluster_settings, paden[:1000]))
        assert eerst.geaccepteerd == 1000, eerst.samenvatting()
        leider = asyncio.run(_stream_leider(cluster.url, settings.stream))

        with log_pad.open("w") as log:
            ingest = subprocess.Popen(
                [sys.executable, "-m", "services.cli", "ingest"],
                env=cli_env(cluster_settings, JEUGDSTROOM_NATS_URL=cluster.url,
                         JEUGDSTROOM_STREAM_REPLICAS="3"),
                stdout=log, stderr=subprocess.STDOUT)
        wacht_tot(lambda: positie_of_niets(settings) >= 200, ingest, log_pad)
        cluster.kill(int(leider.rsplit("-", 1)[1]) - 1)  # the node that leads the stream
        daarna = asyncio.run(publiceer(cluster.url, cluster_settings, paden[1000:]))
        assert daarna.fouten == [], daarna.samenvatting()
        wacht_tot(lambda: positie_of_niets(settings) >= BERICHTEN, ingest, log_pad, timeout=120)
        time.sleep(1.0)  # redeliveries of acks lost in the election come in now
        ingest.send_signal(signal.SIGTERM)
        assert ingest.wait(timeout=30) == 0, log_pad.read_text()[-3000:]
    finally:
        if ingest is not None and ingest.poll() is None:
            ingest.kill()
        cluster.stop()
    assert tracking_position(settings) == BERICHTEN
    assert event_topics(settings) == {"Toewijzing.Geregistreerd": BERICHTEN,
                                      "Toewijzing.VersieOntvangen": BERICHTEN}


def _wacht_op_poort(poort: int) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            with socket.create_connection(("127.0.0.1", poort), timeout=0.2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"nats-server does not answer on {poort}"
            time.sleep(0.05)
