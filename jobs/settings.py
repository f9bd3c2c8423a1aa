"""All settings of the jobs package: one class, read from ``JOBS_*`` environment variables."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class SmtpTls(StrEnum):
    """How the SMTP connection is secured."""

    NONE = "none"
    STARTTLS = "starttls"
    SSL = "ssl"


class Settings(BaseSettings):
    """Settings for the API, the workers and ``make up``; each field is ``JOBS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="JOBS_", extra="ignore")

    home: Path = Field(Path(".jobs"), description="Folder for local state: databases, mail, logs.")
    server_host: str = Field("127.0.0.1", description="Address the Prefect server binds to.")
    server_port: int = Field(4200, description="Port of the Prefect server (API and UI).")
    prefect_api_url: str | None = Field(
        None, description="Prefect API URL; default http://<server_host>:<server_port>/api."
    )
    prefect_database_url: str | None = Field(
        None, description="Prefect server database; default SQLite in <home>/prefect.db."
    )
    database_url: str | None = Field(
        None, description="Application database (SQLAlchemy URL); default SQLite <home>/app.db."
    )
    work_pool: str = Field("jobs", description="Name of the work pool the jobs run in.")
    worker_limit: int = Field(4, ge=1, description="How many jobs one worker runs at once.")
    worker_poll_seconds: float = Field(
        0.25, gt=0, description="How often the warm worker asks the server for due jobs."
    )
    worker_drain_seconds: float = Field(
        60, ge=0, description="On stop, how long in-flight jobs may take to finish."
    )
    worker_time_limit_seconds: float = Field(
        3600, gt=0, description="Time limit of jobs whose flow sets none; then they are killed."
    )
    smtp_host: str = Field("127.0.0.1", description="SMTP server host.")
    smtp_port: int = Field(8025, description="SMTP server port.")
    smtp_tls: SmtpTls = Field(SmtpTls.NONE, description="none, starttls or ssl.")
    smtp_username: str | None = Field(None, description="SMTP user name, if the server needs one.")
    smtp_password: SecretStr | None = Field(None, description="SMTP password (never logged).")
    smtp_password_secret: str | None = Field(
        None, description="Name of a Prefect Secret block that holds the SMTP password."
    )
    smtp_timeout_seconds: float = Field(15.0, description="SMTP connect and command timeout.")
    mail_from: str = Field("Jobs <jobs@localhost>", description="Default sender address.")
    dev_smtp_port: int = Field(8025, description="Port of the development SMTP server.")
    max_params_bytes: int = Field(
        1_000_000, description="Largest accepted job parameters, JSON-encoded, in bytes."
    )
    retention_days: float = Field(
        30, ge=1 / 24, description="Finished job runs (with logs, artifacts) are kept this long."
    )

    @property
    def api_url(self) -> str:
        return self.prefect_api_url or f"http://{self.server_host}:{self.server_port}/api"

    @property
    def ui_url(self) -> str:
        return self.api_url.removesuffix("/api")

    @property
    def app_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home.resolve() / 'app.db'}"

    @property
    def maildir(self) -> Path:
        return self.home / "mail"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
