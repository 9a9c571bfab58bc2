"""All configuration of jeugdstroom: one pydantic-settings class, read from JEUGDSTROOM_* variables."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path | None:
    """The workplace's shared reference data (../shared beside the checkout), if present.

    Only the developer and demo defaults use it; deployments set the paths explicitly.
    """
    for candidate in (PROJECT_ROOT.parent / "shared", Path.cwd().parent / "shared"):
        if (candidate / "ijw" / "xsd").is_dir():
            return candidate
    return None


def _default_xsd_dir() -> Path | None:
    shared = _shared_dir()
    return shared / "ijw" / "xsd" if shared else None


def _default_gemeenten_files() -> list[Path]:
    shared = _shared_dir()
    return sorted((shared / "reference").glob("cbs-gemeenten-*.csv")) if shared else []


class Settings(BaseSettings):
    """Where the servers are, where the reference data is, and the pseudonym secret.

    With both `nats_url` and `database_url` set, jeugdstroom talks to those servers
    (production, or the system services); with neither, it runs the embedded
    nats-server and PostgreSQL under `state_dir`.
    """

    model_config = SettingsConfigDict(env_prefix="JEUGDSTROOM_", extra="ignore")

    nats_url: str | None = None
    database_url: str | None = None
    state_dir: Path = Path(".jeugdstroom")
    xsd_dir: Path | None = None
    gemeenten_files: list[Path] = []
    pseudonym_key: SecretStr | None = None
    region_configs: list[Path] = []  # region files beside the shipped ones
    live_peildatum: date | None = None  # the live figures' window ends here (None: today)

    stream: str = "IJW"
    ingest_durable: str = "ingest"
    # messages per pull and per transaction; capped because one library save() of ~7,000
    # new aggregates hung in psycopg's pipeline here (tests/integration/test_save_guard.py)
    ingest_batch_size: int = Field(default=1000, ge=1, le=1000)
    # worker processes that validate the next batch while ingest writes this one (0: in the
    # ingest process); each holds the compiled XSDs, about 60 MB
    ingest_validation_processes: int = Field(default=1, ge=0, le=16)
    ingest_max_attempts: int = 3
    ack_wait_seconds: float = 60.0
    duplicate_window_seconds: float = 24 * 3600.0
    # raw messages hold BSNs and names: the stream keeps them only this long (the event
    # store keeps what is needed forever, pseudonymised)
    stream_max_age_days: int = 400

    @model_validator(mode="after")
    def _servers_together(self) -> Settings:
        if (self.nats_url is None) != (self.database_url is None):
            raise ValueError(
                "set both JEUGDSTROOM_NATS_URL and JEUGDSTROOM_DATABASE_URL to use external "
                "servers, or neither to use the embedded default"
            )
        if self.xsd_dir is None and "xsd_dir" not in self.model_fields_set:
            self.xsd_dir = _default_xsd_dir()
        if not self.gemeenten_files and "gemeenten_files" not in self.model_fields_set:
            self.gemeenten_files = _default_gemeenten_files()
        return self

    @property
    def embedded(self) -> bool:
        return self.nats_url is None
