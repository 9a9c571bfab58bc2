"""NATS users and permissions for a region (or all regions): a nats-server configuration.

Who may do what, enforced by the server:

- `gemeente-<code>`, one per gemeente backoffice: publish only `ijw.<code>.>`.
- `ingest`: manage the stream IJW and consume it through the durable pull consumer `ingest`;
  read single messages of the stream (`jeugdstroom rejected replay`). With partitions
  (README, Partitions) one `ingest-<partition>` each instead: create the stream IJW and read
  its state, and all of the above on the partition's own stream `IJW_<PARTITION>`.
- `projector`: publish `jeugdstroom.counts.>` and `jeugdstroom.costs.>`, own the KV buckets
  `jeugdstroom-counts` and `jeugdstroom-costs`, and see the stream's and the ingest consumer's
  state (`jeugdstroom status`), never its messages.
- `subscriber-<name>`: subscribe both update subjects and read both KV buckets; publish nothing.

The reply inbox. A publish to JetStream is a request: the server sends the ack to the reply
subject, by default `_INBOX.<random>`, so a publisher needs a subscribe permission for its
inbox. The old configuration granted every gemeente `_INBOX.>`, and with that a gemeente
received every message that ingest pulled from the stream (pull responses go to ingest's
`_INBOX.…` too): other gemeenten's raw messages, BSNs and names included. `allow_responses`
does not help: it lets a *responder* publish to the reply subject of a request it received,
it grants no subscription. So every user here has its own inbox prefix, `_INBOX_<user>`, and
may subscribe only below it; clients pass it on connect (nats-py:
`nats.connect(..., inbox_prefix="_INBOX_gemeente-0935")`, FastStream: the same keyword on
NatsBroker). JetStream's acks and pull responses then arrive on the prefix, and a client that
does not set it fails loudly on its first subscription instead of snooping. Nobody holds
`_INBOX.>` any more.

Subscribers get no consumer-create right on the KV stream: a push consumer's deliver subject
is whatever the request says, not checked against the creator's publish permissions, so
creating consumers would be a way to make JetStream publish on the creator's behalf. They
read the KV bucket with get (direct or message get) and list its keys from the stream info
(`stream_info("KV_jeugdstroom-counts", subjects_filter="$KV.jeugdstroom-counts.>")`), then
follow `jeugdstroom.counts.>`; nats-py's `kv.get()` works, `kv.keys()`/`kv.watch()` (which
create consumers) do not.

Passwords are random (256 bits), stored in the configuration only as bcrypt hashes, and
handed to the operator once, in one credentials file per user (mode 0600).
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import bcrypt

from projections.regio import Regio
from services.partities import ingest_stream

# The names services/nats.py, services/settings.py and services/updates.py use.
STREAM = "IJW"
INGEST_DURABLE = "ingest"
BUCKET = "jeugdstroom-counts"
GELD_BUCKET = "jeugdstroom-costs"
BUCKETS = (BUCKET, GELD_BUCKET)
UPDATES = "jeugdstroom.counts.>"
GELD_UPDATES = "jeugdstroom.costs.>"
ALLE_UPDATES = (UPDATES, GELD_UPDATES)  # flow and money updates (services/projector/updates.py)
ACCOUNT = "JEUGDSTROOM"

INGEST = "ingest"
PROJECTOR = "projector"
BCRYPT_KOSTEN = 11  # what `nats server passwd` uses


@dataclass(frozen=True)
class NatsGebruiker:
    naam: str
    soort: str  # gemeente, ingest, projector, subscriber
    omschrijving: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    publish_deny: tuple[str, ...] = ()

    @property
    def inbox_prefix(self) -> str:
        return inbox_prefix(self.naam)


def inbox_prefix(gebruiker: str) -> str:
    """The reply-inbox prefix a user must pass on connect (`inbox_prefix=`)."""
    return f"_INBOX_{gebruiker}"


def _inbox(naam: str) -> str:
    return f"{inbox_prefix(naam)}.>"


def _kv_lezen(bucket: str) -> tuple[str, ...]:
    stream = f"KV_{bucket}"
    return (f"$JS.API.STREAM.INFO.{stream}", f"$JS.API.STREAM.MSG.GET.{stream}",
            f"$JS.API.DIRECT.GET.{stream}", f"$JS.API.DIRECT.GET.{stream}.>")


def gemeente_gebruiker(code: str, naam: str = "") -> NatsGebruiker:
    if not (len(code) == 4 and code.isdigit()):
        raise ValueError(f"a gemeentecode is 4 digits, not {code!r}")
    gebruiker = f"gemeente-{code}"
    return NatsGebruiker(
        gebruiker, "gemeente", f"backoffice of gemeente {code} {naam}".rstrip(),
        publish=(f"ijw.{code}.>",), subscribe=(_inbox(gebruiker),))


def ingest_gebruiker(stream: str = STREAM, durable: str = INGEST_DURABLE,
                     partitie: str | None = None) -> NatsGebruiker:
    api = "$JS.API"
    naam = INGEST if partitie is None else f"{INGEST}-{partitie}"
    # a partition's ingest creates the iJw stream too (it sources from it) and counts what it
    # holds on the partition's subjects (`ingest --until-caught-up`); it consumes its own
    bron = () if partitie is None else (f"{api}.STREAM.CREATE.{stream}", f"{api}.STREAM.UPDATE.{stream}",
                                        f"{api}.STREAM.INFO.{stream}")
    stream = ingest_stream(stream, partitie)
    return NatsGebruiker(
        naam, "ingest", f"jeugdstroom ingest: stream {stream}, durable pull consumer {durable}",
        publish=(
            f"{api}.INFO", *bron,
            f"{api}.STREAM.CREATE.{stream}", f"{api}.STREAM.UPDATE.{stream}",
            f"{api}.STREAM.INFO.{stream}", f"{api}.STREAM.MSG.GET.{stream}",
            f"{api}.DIRECT.GET.{stream}", f"{api}.DIRECT.GET.{stream}.>",
            f"{api}.CONSUMER.CREATE.{stream}.{durable}", f"{api}.CONSUMER.CREATE.{stream}.{durable}.>",
            f"{api}.CONSUMER.DURABLE.CREATE.{stream}.{durable}",
            f"{api}.CONSUMER.INFO.{stream}.{durable}",
            f"{api}.CONSUMER.MSG.NEXT.{stream}.{durable}",
            f"$JS.ACK.{stream}.{durable}.>",
        ),
        subscribe=(_inbox(naam),),
        publish_deny=(*ALLE_UPDATES, "$KV.>"))


def _kv_beheren(bucket: str) -> tuple[str, ...]:
    api, kv = "$JS.API", f"KV_{bucket}"
    return (f"$KV.{bucket}.>",
            f"{api}.STREAM.CREATE.{kv}", f"{api}.STREAM.UPDATE.{kv}", *_kv_lezen(bucket),
            # kv.keys() and kv.watch() run an ordered consumer on the bucket's stream
            f"{api}.CONSUMER.CREATE.{kv}", f"{api}.CONSUMER.CREATE.{kv}.>",
            f"{api}.CONSUMER.INFO.{kv}.>", f"{api}.CONSUMER.DELETE.{kv}.>",
            f"$JS.FC.{kv}.>")


def projector_gebruiker(stream: str = STREAM, durable: str = INGEST_DURABLE,
                        buckets: Sequence[str] = BUCKETS, partities: Sequence[str] = ()) -> NatsGebruiker:
    api = "$JS.API"
    streams = [ingest_stream(stream, p) for p in partities] or [stream]
    return NatsGebruiker(
        PROJECTOR, "projector",
        f"jeugdstroom projector: publishes {' and '.join(ALLE_UPDATES)}, "
        f"keeps KV buckets {', '.join(buckets)}",
        publish=(
            *ALLE_UPDATES, f"{api}.INFO",
            *(recht for bucket in buckets for recht in _kv_beheren(bucket)),
            # the state of ingest for `jeugdstroom status`, not the messages
            *(recht for s in streams
              for recht in (f"{api}.STREAM.INFO.{s}", f"{api}.CONSUMER.INFO.{s}.{durable}")),
        ),
        subscribe=(_inbox(PROJECTOR),),
        publish_deny=("ijw.>",))


def subscriber_gebruiker(naam: str, buckets: Sequence[str] = BUCKETS) -> NatsGebruiker:
    if not naam or not all(c.isalnum() or c == "-" for c in naam) or not naam.isascii():
        raise ValueError(f"a subscriber name is letters, digits and '-', not {naam!r}")
    gebruiker = f"subscriber-{naam.lower()}"
    return NatsGebruiker(
        gebruiker, "subscriber",
        f"reads {' and '.join(ALLE_UPDATES)} and KV buckets {', '.join(buckets)}",
        publish=tuple(recht for bucket in buckets for recht in _kv_lezen(bucket)),
        subscribe=(*ALLE_UPDATES, _inbox(gebruiker)),
        publish_deny=(*ALLE_UPDATES, "$KV.>", "ijw.>"))


def gemeenten_van(regios: Iterable[Regio]) -> dict[str, str]:
    """Gemeentecode -> name over the given regions."""
    return {code: naam for regio in regios for code, naam in sorted(regio.gemeenten.items())}


def gebruikers(gemeenten: Mapping[str, str], subscribers: Sequence[str] = (), *,
               stream: str = STREAM, durable: str = INGEST_DURABLE,
               buckets: Sequence[str] = BUCKETS, partities: Sequence[str] = ()) -> list[NatsGebruiker]:
    """All users: one per gemeente (code -> name), ingest (one per partition), projector and
    the subscribers."""
    lijst = [gemeente_gebruiker(code, naam) for code, naam in sorted(gemeenten.items())]
    lijst += [ingest_gebruiker(stream, durable, p) for p in partities] or [ingest_gebruiker(stream, durable)]
    lijst += [projector_gebruiker(stream, durable, buckets, partities)]
    lijst += [subscriber_gebruiker(naam, buckets) for naam in subscribers]
    namen = [g.naam for g in lijst]
    dubbel = sorted({n for n in namen if namen.count(n) > 1})
    if dubbel:
        raise ValueError(f"user names must be unique: {dubbel}")
    return lijst


# -- the configuration text ---------------------------------------------------------------------


@dataclass(frozen=True)
class Tls:
    cert_file: str
    key_file: str
    ca_file: str | None = None  # set it to require client certificates as well
    verify: bool = False


@dataclass(frozen=True)
class ServerOpties:
    listen: str = "0.0.0.0:4222"
    server_name: str = "jeugdstroom-nats-1"
    store_dir: str = "/var/lib/nats/jetstream"
    max_file_store: str = "200G"
    tls: Tls | None = field(
        default_factory=lambda: Tls("/etc/nats/tls/server.crt", "/etc/nats/tls/server.key"))
    kop: str = ""  # comment lines at the top


def _q(tekst: str) -> str:
    """A quoted string for the NATS configuration format (quoted: no `$variable` expansion)."""
    return json.dumps(tekst)


def _lijst(subjects: Iterable[str], inspringing: str = "") -> str:
    subjects = list(subjects)
    if len(subjects) <= 2:
        return "[" + ", ".join(_q(s) for s in subjects) + "]"
    binnen = f",\n{inspringing}  ".join(_q(s) for s in subjects)
    return f"[\n{inspringing}  {binnen}\n{inspringing}]"


def server_config(lijst: Sequence[NatsGebruiker], hashes: Mapping[str, str],
                  opties: ServerOpties) -> str:
    """The nats-server configuration; `hashes` maps each user name to its bcrypt hash."""
    ontbreekt = [g.naam for g in lijst if not hashes.get(g.naam, "").startswith("$2")]
    if ontbreekt:
        raise ValueError(f"no bcrypt hash for {ontbreekt}")
    regels = [f"# {r}" if r else "#" for r in opties.kop.splitlines()]
    regels += [
        f"server_name: {_q(opties.server_name)}",
        f"listen: {_q(opties.listen)}",
        "",
        "jetstream {",
        f"  store_dir: {_q(opties.store_dir)}",
        f"  max_file_store: {opties.max_file_store}",
        "}",
        "",
    ]
    if opties.tls:
        regels += [
            "# With a tls block every client must use TLS: the server refuses plain-text connections.",
            "tls {",
            f"  cert_file: {_q(opties.tls.cert_file)}",
            f"  key_file: {_q(opties.tls.key_file)}",
            *([f"  ca_file: {_q(opties.tls.ca_file)}"] if opties.tls.ca_file else []),
            *(["  verify: true"] if opties.tls.verify else []),
            "  timeout: 2",
            "}",
            "",
        ]
    regels += [
        "# One account: the stream IJW and the KV buckets live in it. Every user has an allow-list;",
        "# each subscribes only below its own reply inbox _INBOX_<user> (clients set inbox_prefix).",
        "accounts {",
        f"  {ACCOUNT}: {{",
        "    jetstream: enabled",
        "    users: [",
    ]
    for gebruiker in lijst:
        regels += [
            f"      # {gebruiker.omschrijving}",
            f"      {{ user: {_q(gebruiker.naam)}, password: {_q(hashes[gebruiker.naam])},",
            "        permissions: {",
            "          publish: {",
            f"            allow: {_lijst(gebruiker.publish, ' ' * 12)}",
            *([f"            deny: {_lijst(gebruiker.publish_deny, ' ' * 12)}"]
              if gebruiker.publish_deny else []),
            "          }",
            f"          subscribe: {{ allow: {_lijst(gebruiker.subscribe)} }}",
            "        } }",
        ]
    regels += ["    ]", "  }", "}", ""]
    return "\n".join(regels)


def nieuw_wachtwoord() -> str:
    return secrets.token_urlsafe(32)  # URL-safe: it can sit in a nats://user:pass@ URL


def bcrypt_hash(wachtwoord: str, kosten: int = BCRYPT_KOSTEN) -> str:
    return bcrypt.hashpw(wachtwoord.encode(), bcrypt.gensalt(rounds=kosten)).decode()


def credentials_tekst(gebruiker: NatsGebruiker, wachtwoord: str, server: str) -> str:
    """The credentials of one user for the operator, as an environment file.

    `server` is the URL clients use, e.g. tls://nats.regio.example:4222.
    """
    schema, _, adres = server.rpartition("://")
    url = f"{schema or 'nats'}://{gebruiker.naam}:{wachtwoord}@{adres}"
    regels = [
        f"# NATS credentials of {gebruiker.naam}: {gebruiker.omschrijving}.",
        f"# Generated {date.today().isoformat()}. Secret: keep mode 0600, hand over once, never commit.",
        f"# May publish: {', '.join(gebruiker.publish)}",
        f"# May subscribe: {', '.join(gebruiker.subscribe)}",
        "# Connect with this inbox prefix, or the server refuses the reply subscription.",
        f"NATS_USER={gebruiker.naam}",
        f"NATS_PASSWORD={wachtwoord}",
        f"NATS_INBOX_PREFIX={gebruiker.inbox_prefix}",
        f"NATS_URL={url}",
    ]
    if gebruiker.soort in ("ingest", "projector"):
        regels.append(f"JEUGDSTROOM_NATS_URL={url}")
    return "\n".join(regels) + "\n"


@dataclass(frozen=True)
class Uitvoer:
    config: Path
    credentials: dict[str, Path]  # user name -> its credentials file


def schrijf_nats_config(doel: Path, gemeenten: Mapping[str, str], *,
                        subscribers: Sequence[str] = (), opties: ServerOpties | None = None,
                        server: str | None = None, kosten: int = BCRYPT_KOSTEN,
                        overschrijf: bool = False, partities: Sequence[str] = ()) -> Uitvoer:
    """Write `nats-server.conf` (mode 0640) and `credentials/<user>.env` (mode 0600) into `doel`.

    New random passwords each time: refuses to replace earlier output unless `overschrijf`
    (every client then needs its new credentials). `server` is the URL clients use
    (default: from `opties.listen`, tls:// when TLS is on).
    """
    opties = opties or ServerOpties()
    lijst = gebruikers(gemeenten, subscribers, partities=partities)
    config_pad = doel / "nats-server.conf"
    map_ = doel / "credentials"
    if not overschrijf and (config_pad.exists() or (map_.exists() and any(map_.iterdir()))):
        raise FileExistsError(f"{doel} already holds a configuration; its passwords are in use. "
                              f"Pass overwrite to make new ones for every user")
    map_.mkdir(parents=True, exist_ok=True)
    map_.chmod(0o700)
    wachtwoorden = {g.naam: nieuw_wachtwoord() for g in lijst}
    hashes = {naam: bcrypt_hash(w, kosten) for naam, w in wachtwoorden.items()}
    _schrijf(config_pad, server_config(lijst, hashes, opties), 0o640)
    if server is None:
        host, _, poort = opties.listen.rpartition(":")
        if host in ("", "0.0.0.0", "::", "[::]"):  # noqa: S104 (reading the listen address)
            host = "localhost"
        server = f"{'tls' if opties.tls else 'nats'}://{host}:{poort}"
    paden = {}
    for gebruiker in lijst:
        pad = map_ / f"{gebruiker.naam}.env"
        _schrijf(pad, credentials_tekst(gebruiker, wachtwoorden[gebruiker.naam], server), 0o600)
        paden[gebruiker.naam] = pad
    return Uitvoer(config_pad, paden)


def _schrijf(pad: Path, tekst: str, modus: int) -> None:
    """Created with its final mode, so a secret is never readable by others for a moment."""
    pad.unlink(missing_ok=True)
    fd = os.open(pad, os.O_WRONLY | os.O_CREAT | os.O_EXCL, modus)
    with os.fdopen(fd, "w") as uit:
        uit.write(tekst)
