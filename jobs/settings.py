"""All settings of the jobs package: one class, read from ``JOBS_*`` environment variables."""

from __future__ import annotations

import ipaddress
from enum import StrEnum
from functools import lru_cache
from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobs.errors import received

DEV_HOST = "127.0.0.1"
"""Where the development SMTP server and HTTP receiver listen: loopback only, always."""


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
        None, description="Prefect server database; default SQLite in <home>/prefect/prefect.db."
    )
    database_url: str | None = Field(
        None, description="Application database (SQLAlchemy URL); default SQLite <home>/app.db."
    )
    server_auth: SecretStr | None = Field(
        None,
        description="user:password the Prefect API asks of every client (basic auth); required "
        "when server_host is not a loopback address. `make cluster` makes one when unset.",
    )
    cluster_name: str = Field(
        "jobs",
        description="`make cluster`: prefix of its network namespaces and links (10 characters "
        "at most); two clusters on one machine need two names, networks and sets of ports.",
    )
    cluster_network: str = Field(
        "10.231.0.0/24",
        description="`make cluster`'s virtual network: the server host takes its first address, "
        "worker host i the (10 + i)th.",
    )
    cluster_api_processes: int = Field(
        2, ge=1, le=16, description="`make cluster`: Prefect API processes (--workers N)."
    )
    cluster_worker_hosts: int = Field(
        2,
        ge=1,
        le=50,
        description="`make cluster`: worker hosts (network namespaces), a worker each.",
    )
    postgres_port: int = Field(55432, description="`make cluster`: PostgreSQL's port.")
    postgres_password: SecretStr | None = Field(
        None, description="`make cluster`: PostgreSQL's password; one is made when unset."
    )
    redis_port: int = Field(56379, description="`make cluster`: Redis's port.")
    redis_password: SecretStr | None = Field(
        None, description="`make cluster`: Redis's password; one is made when unset."
    )
    work_pool: str = Field("jobs", description="Name of the work pool the jobs run in.")
    worker_limit: int = Field(4, ge=1, description="How many jobs one worker runs at once.")
    worker_poll_seconds: float = Field(
        10,
        gt=0,
        description="Longest pause between the warm worker's polls for due jobs; it also wakes "
        "on the server's scheduled-run events and when a delayed job falls due.",
    )
    worker_drain_seconds: float = Field(
        60, ge=0, description="On stop, how long in-flight jobs may take to finish."
    )
    worker_time_limit_seconds: float = Field(
        3600, gt=0, description="Time limit of jobs whose flow sets none; then they are killed."
    )
    worker_heartbeat_seconds: float = Field(
        10,
        gt=0,
        description="How often a worker reports each job it holds as alive (one heartbeat "
        "event per job, all in one request).",
    )
    zombie_after_seconds: float = Field(
        45,
        gt=0,
        description="A claimed or running job without a heartbeat for this long has lost its "
        "worker: the recovery service marks it Crashed (a cancelled one Cancelled). At least "
        "twice the heartbeat interval; over 30 s when Prefect's stock worker runs jobs too.",
    )
    recovery_interval_seconds: float = Field(
        5, gt=0, description="How often the recovery service looks for lost and crashed jobs."
    )
    recovery_max_reruns: int = Field(
        3,
        ge=0,
        description="Times a crashed job is re-run automatically; then it fails (TooManyCrashes).",
    )
    recovery_max_reruns_by_type: dict[str, int] = Field(
        default_factory=dict,
        description='The same limit by job type, e.g. {"video": 1}; other types: the default.',
    )
    recovery_backoff_seconds: float = Field(
        5,
        ge=0,
        description="Wait before the first automatic re-run after a crash; doubles for each next.",
    )
    server_event_queue_size: int = Field(
        200_000,
        ge=10_000,
        description="Messages each consumer of the embedded server's in-memory event broker may "
        "fall behind by before events are dropped (Prefect: 10,000).",
    )
    late_after_seconds: float = Field(
        120,
        gt=0,
        description="A due job no worker has taken for this long is marked Late (Prefect's "
        "late-runs service; each mark is a state change, so a short value slows long backlogs).",
    )
    batch_size: int = Field(
        500, ge=1, le=10_000, description="Most jobs the relay packs into one batch flow run."
    )
    batch_linger_ms: float = Field(
        20,
        ge=0,
        description="How long the relay lets a due job that is not enough for a full batch wait "
        "for company (submits within it share a batch).",
    )
    batch_max_in_flight: int = Field(
        4,
        ge=1,
        description="Batches of one job type handed to Prefect and unfinished; the rest wait in "
        "the outbox, in priority and fairness order.",
    )
    relay_poll_ms: float = Field(
        25, gt=0, description="How often the relay looks for committed jobs when it is idle."
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
    api_host: str = Field(
        "127.0.0.1", description="Address the HTTP API binds to (`make up`: loopback)."
    )
    api_port: int = Field(8400, description="Port of the HTTP API.")
    api_max_body_bytes: int = Field(
        2_000_000, gt=0, description="Largest request body the HTTP API reads; larger is 413."
    )
    api_rate_limit: str = Field(
        "50/second",
        description="Requests each API key may make, as `<count>/<second|minute|hour>`; "
        "more are answered 429 with Retry-After.",
    )
    dev_webhook_port: int = Field(
        8026, description="Port of the development HTTP receiver `make up` starts."
    )
    dev_smtp_port: int = Field(8025, description="Port of the development SMTP server.")
    max_params_bytes: int = Field(
        1_000_000, description="Largest accepted job parameters, JSON-encoded, in bytes."
    )
    storage_root: Path | None = Field(
        None, description="Folder of files jobs read and write; default <home>/storage."
    )
    report_recipients: list[str] = Field(
        ["ops@example.com"], description="Who receives the weekly report email."
    )
    http_timeout_seconds: float = Field(
        10.0, gt=0, description="Connect, read and write timeout of each outgoing HTTP request."
    )
    http_max_response_bytes: int = Field(
        1_048_576, ge=0, description="Largest HTTP response body read; a longer one fails the job."
    )
    http_max_redirects: int = Field(
        5, ge=0, description="Redirects followed per request, each hop checked again."
    )
    http_retry_after_max_seconds: float = Field(
        60.0, ge=0, description="Longest Retry-After (429/503) honoured by waiting in the attempt."
    )
    http_rate_limit_default: float = Field(
        10.0, ge=0, description="Requests per second per destination host, unless configured."
    )
    http_rate_limits: dict[str, float] = Field(
        default_factory=dict, description="Requests per second by host, e.g. {host: 2}; 0 = none."
    )
    http_rate_limit_wait_seconds: float = Field(
        60.0, gt=0, description="Longest wait for a host's rate-limit slot; then the attempt fails."
    )
    http_allow_hosts: list[str] = Field(
        default_factory=list,
        description="host or host:port entries exempt from the private-address check (tests only).",
    )
    image_max_pixels: int = Field(
        50_000_000, ge=1, description="Largest image (width x height) read or written by jobs."
    )
    retention_completed_days: float = Field(
        7, ge=0, description="Completed and cancelled job runs are deleted after this (days) ..."
    )
    retention_completed_keep: int = Field(
        1000, ge=0, description="... or once this many newer ones of their job type exist; 0: off."
    )
    retention_failed_days: float = Field(
        30, ge=0, description="Failed and crashed job runs are deleted after this (days)."
    )
    side_effects_retention_days: float = Field(
        90, gt=0, description="Side-effect ledger rows are deleted this long after their update."
    )
    http_attempts_retention_days: float = Field(
        30, gt=0, description="Rows of http_attempts (outgoing HTTP log) are kept this long."
    )
    cache_max_age_hours: float = Field(
        24 * 7, gt=0, description="Generated files (exports, reports, media variants) kept (hours)."
    )
    reminder_days_before: float = Field(
        3, gt=0, description="Reminder email this long before a subscription period ends."
    )
    billing_url: str | None = Field(
        None, description="Billing API that renewals POST charges to; None: renewals are skipped."
    )
    billing_auth_secret: str | None = Field(
        None, description="Prefect Secret block with the billing API's Authorization header."
    )
    plan_period_months: dict[str, int] = Field(
        default_factory=dict, description="Billing period in months by plan; others: 1 month."
    )
    alert_email: str = Field("ops@example.com", description="Who receives the operator alerts.")
    alert_failure_threshold: int = Field(
        5, ge=1, description="This many failed or crashed runs of one job type raise an alert ..."
    )
    alert_window_minutes: float = Field(10, gt=0, description="... within this many minutes.")
    alert_late_minutes: float = Field(
        30, gt=0, description="Alert when a job stays Late (no worker picked it up) this long."
    )
    alert_stuck_grace_minutes: float = Field(
        15, gt=0, description="Alert when a job runs this long past its time limit."
    )

    @field_validator("api_rate_limit")
    @classmethod
    def _one_rate_limit(cls, value: str) -> str:
        from limits import parse_many  # on first use: `import jobs` stays light

        expected = (
            "api_rate_limit: expected one limit `<count>/<second|minute|hour|day>` with a count "
            "of at least 1, such as 50/second or 1000/hour"
        )
        try:
            parsed = parse_many(value)
        except ValueError:
            parsed = []
        if len(parsed) != 1 or parsed[0].amount < 1:
            raise ValueError(f"{expected}, got {received(value)}")
        return value

    @model_validator(mode="after")
    def _exposed_api_needs_auth(self) -> Settings:
        if self.server_auth is None and not _is_loopback(self.server_host):
            raise ValueError(
                "server_auth (JOBS_SERVER_AUTH, user:password) is required when the Prefect API "
                f"binds a non-loopback address; server_host is {self.server_host!r}"
            )
        return self

    @model_validator(mode="after")
    def _zombie_after_spans_heartbeats(self) -> Settings:
        if self.zombie_after_seconds < 2 * self.worker_heartbeat_seconds:
            raise ValueError(
                "zombie_after_seconds must be at least twice worker_heartbeat_seconds "
                f"({2 * self.worker_heartbeat_seconds:g}); got {self.zombie_after_seconds:g}"
            )
        return self

    def max_reruns(self, job_type: str) -> int:
        """How many times a crashed job of ``job_type`` is re-run automatically."""
        return self.recovery_max_reruns_by_type.get(job_type, self.recovery_max_reruns)

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

    @property
    def storage_dir(self) -> Path:
        return self.storage_root or self.home / "storage"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings, read once per process."""
    return Settings()
