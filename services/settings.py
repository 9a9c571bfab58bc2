"""All configuration of jeugdstroom: one pydantic-settings class, read from JEUGDSTROOM_* variables."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from events.gemeenten import lijsten_per_jaar, meegeleverde_lijsten
from services.partities import controleer_indeling, ingest_stream, schema

PROJECT_ROOT = Path(__file__).resolve().parents[1]


# Said once when ingest starts without XSDs (the lead's ingest logs it).
SCHEMAVALIDATIE_UIT = (
    "schema validation is off: no iJw 3.2 XSDs configured, so messages are checked against "
    "jeugdstroom's own rules only. To turn it on, set JEUGDSTROOM_XSD_DIR to the directory "
    "with the official XSDs (JW301.xsd ... basisschema.xsd), e.g. "
    "JEUGDSTROOM_XSD_DIR=/opt/jeugdstroom/reference/ijw-3.2/xsd"
)


def _shared_dir() -> Path | None:
    """The workplace's shared reference data (../shared beside the checkout), if present.

    Only the XSD default of a developer checkout uses it: the XSDs are not ours to ship.
    Deployments set JEUGDSTROOM_XSD_DIR.
    """
    for candidate in (PROJECT_ROOT.parent / "shared", Path.cwd().parent / "shared"):
        if (candidate / "ijw" / "xsd").is_dir():
            return candidate
    return None


def _default_xsd_dir() -> Path | None:
    shared = _shared_dir()
    return shared / "ijw" / "xsd" if shared else None


class Settings(BaseSettings):
    """Where the servers are, where the reference data is, and the pseudonym secret.

    With both `nats_url` and `database_url` set, jeugdstroom talks to those servers
    (production, or the system services); with neither, it runs the embedded
    nats-server and PostgreSQL under `state_dir`.
    """

    model_config = SettingsConfigDict(env_prefix="JEUGDSTROOM_", extra="ignore")

    nats_url: str | None = None
    database_url: str | None = None
    # the API's only (deploy/partities.md): with database_url a read replica, the primary for
    # its few writes (access audit, the live questions it registers for the projector)
    primary_database_url: str | None = None
    state_dir: Path = Path(".jeugdstroom")
    xsd_dir: Path | None = None
    # the lists shipped in events/data, and these: a file replaces the shipped one of its year
    gemeenten_files: list[Path] = []
    pseudonym_key: SecretStr | None = None
    region_configs: list[Path] = []  # region files beside the shipped ones
    live_peildatum: date | None = None  # the live figures' window ends here (None: today)

    # access (deploy/toegang.md): the identity provider's key set (file path or https URL),
    # issuer and audience; all unset on loopback means the local key in state_dir
    auth_jwks: str | None = None
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_roles_claim: str = "jeugdstroom_roles"  # Entra ID: "roles"

    stream: str = "IJW"
    ingest_durable: str = "ingest"
    # scale-out by region (README, Partitions): every partition of the deployment with its
    # region ids, the same map on every process, and the one partition this ingest or
    # projector process runs; both unset: one partition with everything, as before
    partitions: dict[str, list[str]] = {}
    partition: str | None = None
    # messages per pull and per transaction; capped because one library save() of ~7,000
    # new aggregates hung in psycopg's pipeline here (tests/integration/test_save_guard.py)
    ingest_batch_size: int = Field(default=1000, ge=1, le=1000)
    # worker processes that validate the next batch while ingest writes this one (0: in the
    # ingest process); each holds the compiled XSDs, about 60 MB
    ingest_validation_processes: int = Field(default=1, ge=0, le=16)
    ingest_max_attempts: int = 3
    # try each ingested message against the iJw rules (events/kwaliteit.py) and store the
    # findings in ijw_bevinding; off (JEUGDSTROOM_QUALITY_RULES=0) only to measure without
    quality_rules: bool = True
    ack_wait_seconds: float = 60.0
    duplicate_window_seconds: float = 24 * 3600.0
    # raw messages hold BSNs and names: the stream keeps them only this long (the event
    # store keeps what is needed forever, pseudonymised)
    stream_max_age_days: int = 400
    # copies of the stream on a NATS cluster (3 on three nodes: one node may fail)
    stream_replicas: int = Field(default=1, ge=1, le=5)
    # how long a process keeps retrying (with backoff) a database or NATS that is away
    # before it exits non-zero with a sentence
    outage_limit_seconds: float = Field(default=300.0, gt=0)
    # "json": one JSON object per log line (services/metrics.py), never personal data
    log_format: Literal["text", "json"] = "text"
    # what `serve --workers N` hands its workers, each of which builds its own app
    # (bootstrap.api_voor_werker): the address it serves on and --insecure-no-auth
    serve_host: str = "127.0.0.1"
    serve_insecure_no_auth: bool = False

    @model_validator(mode="after")
    def _servers_together(self) -> Settings:
        if (self.nats_url is None) != (self.database_url is None):
            raise ValueError(
                "set both JEUGDSTROOM_NATS_URL and JEUGDSTROOM_DATABASE_URL to use external "
                "servers, or neither to use the embedded default"
            )
        auth = [self.auth_jwks, self.auth_issuer, self.auth_audience]
        if any(auth) and not all(auth):
            raise ValueError(
                "set all three of JEUGDSTROOM_AUTH_JWKS, JEUGDSTROOM_AUTH_ISSUER and "
                "JEUGDSTROOM_AUTH_AUDIENCE to verify tokens of an identity provider, or none "
                "of them for the local key on loopback (deploy/toegang.md)"
            )
        controleer_indeling(self.partitions, self.partition)
        if self.xsd_dir is None and "xsd_dir" not in self.model_fields_set:
            self.xsd_dir = _default_xsd_dir()
        self.gemeenten_files = lijsten_per_jaar(self.gemeenten_files, meegeleverde_lijsten())
        return self

    @property
    def embedded(self) -> bool:
        return self.nats_url is None

    @property
    def ingest_stream(self) -> str:
        """The stream this process ingests: the partition's own (sourced from `stream`), or
        `stream` itself without partitions."""
        return ingest_stream(self.stream, self.partition)

    @property
    def database_schema(self) -> str | None:
        """The PostgreSQL schema of this process's partition (None: the default, public)."""
        return schema(self.partition)

    @property
    def auth_ingesteld(self) -> bool:
        """Whether tokens come from a configured identity provider (else the local key)."""
        return self.auth_jwks is not None

    @property
    def schemavalidatie_uit(self) -> str | None:
        """What to say once at ingest start when no XSDs are configured, else None."""
        return SCHEMAVALIDATIE_UIT if self.xsd_dir is None else None
