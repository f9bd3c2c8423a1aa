"""What the HTTP API takes and answers, as pydantic models: the OpenAPI schema is made of them.

A submit's body is ``{"params": {...}, "priority": 1, "delay": 30, ...}``: the job type's own
parameter model (the registry's, shared with the Python client) and the options of
:meth:`jobs.Client.submit`, in their JSON form. The models here describe that form for the
docs, one per job type; the checking is the client's (:meth:`submit_call`), so a refusal reads
exactly as in Python.
"""

from __future__ import annotations

import json
from copy import copy
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, create_model

from jobs import registry
from jobs.deadletter import MAX_LIMIT
from jobs.errors import InvalidJobParams, received
from jobs.options import MAX_DELAY, SubmitOptions
from jobs.status import JobStatus, QueueStats

_SAYS = {
    "priority": "1 (urgent) to 10 (low); a worker with a free slot takes the most urgent.",
    "run_at": "When the job is due: an ISO 8601 time with its offset, e.g. 2031-05-17T09:30:00Z; "
    "or `delay`.",
    "tags": "Labels for the UI and filters; none may start with `job:`.",
    "lane": "`batch`: a task run in a batch with others of its type; `flow`: its own flow run; "
    "null: the job type's lane.",
    "fairness_key": "E.g. a tenant: within a priority, jobs are handed out round-robin by key.",
    "idempotency_key": "Submitting again with the same key answers the same job.",
    "idempotency_keys": "One key per job, in the order of `params`.",
}


def _option(name: str) -> Any:
    """The client's option ``name`` (:class:`SubmitOptions`' field: type, default, bounds) with
    what it does, for the docs."""
    field = copy(SubmitOptions.model_fields[name])
    field.description = _SAYS[name]
    return field.annotation, field


Options = create_model(
    "Options",
    __doc__="The options of a submit, each optional: the Python client's.",
    priority=_option("priority"),
    # the client also takes a timedelta; JSON has only seconds
    delay=(
        float | None,
        Field(
            None,
            ge=0,
            le=MAX_DELAY.total_seconds(),
            description="Seconds from now until the job is due (int or float); or `run_at`.",
        ),
    ),
    run_at=_option("run_at"),
    tags=_option("tags"),
    lane=_option("lane"),
    fairness_key=_option("fairness_key"),
)
OneJob = create_model(
    "OneJob",
    __base__=Options,
    __doc__="The options of submitting one job.",
    idempotency_key=_option("idempotency_key"),
)
ManyJobs = create_model(
    "ManyJobs",
    __base__=Options,
    __doc__="The options of submitting many jobs of one type at once.",
    idempotency_keys=_option("idempotency_keys"),
)

ONE_FIELDS = ("params", *OneJob.model_fields)
MANY_FIELDS = ("params", *ManyJobs.model_fields)


def one_job_model(spec: registry.JobType) -> type[BaseModel]:
    """The body of ``POST /jobs/<type>``: the type's parameters and the options."""
    required = any(field.is_required() for field in spec.params.model_fields.values())
    params: Any = Field(... if required else {}, description=spec.description)
    return create_model(
        f"{spec.params.__name__}Job",
        __base__=OneJob,
        __doc__=f"One {spec.name} job: {spec.description}",
        params=(spec.params, params),
    )


def many_jobs_model(spec: registry.JobType) -> type[BaseModel]:
    """The body of ``POST /jobs/<type>/bulk``: a list of the type's parameters and the options."""
    return create_model(
        f"{spec.params.__name__}Jobs",
        __base__=ManyJobs,
        __doc__=f"Many {spec.name} jobs, all checked before any is submitted.",
        params=(list[spec.params], Field(..., description="One item per job.")),  # type: ignore[name-defined]
    )


def job_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or InvalidJobParams saying what it was."""
    try:
        body = json.loads(raw) if raw.strip() else None
    except (ValueError, RecursionError) as exc:
        text = raw[:60].decode(errors="replace")
        raise InvalidJobParams(f"body: expected a JSON object, got text that is not JSON "
                               f"({exc.__class__.__name__}) {text!r}") from None  # fmt: skip
    if not isinstance(body, dict):
        raise InvalidJobParams(
            f"body: expected a JSON object of params and options, got {received(body)}"
        )
    return body


def submit_call(
    spec: registry.JobType, body: dict[str, Any], *, many: bool
) -> tuple[Any, dict[str, Any]]:
    """The parameters (a list of them when ``many``) and the options of the client's
    ``submit_async`` (``submit_many_async``) from a request body, in the types the client
    takes: only what the body gives is passed, so the client's defaults and checks apply."""
    allowed = MANY_FIELDS if many else ONE_FIELDS
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise InvalidJobParams(
            f"{unknown[0]}: expected a field of the body ({', '.join(allowed)}), "
            f"got {received(body[unknown[0]])}"
        )
    options = {name: value for name, value in body.items() if name != "params"}
    if "run_at" in options:
        options["run_at"] = _time(options["run_at"])
    if not many:
        return body.get("params", {}), options
    params = body.get("params")
    if not isinstance(params, list):
        got = received(params) if "params" in body else "nothing"
        raise InvalidJobParams(
            f"params: expected a list of {spec.name} job parameters, one per job, got {got}"
        )
    return params, options


def _time(value: Any) -> Any:
    """An ISO 8601 string as a datetime for the client, which refuses one without an offset;
    anything else as it is, for the client to refuse."""
    if not isinstance(value, str):
        return value
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise InvalidJobParams(
            "run_at: expected an ISO 8601 time with its offset, e.g. 2031-05-17T09:30:00Z, "
            f"got {received(value)}"
        ) from None


class Submitted(BaseModel):
    """A job taken: its id, and where its status is read."""

    id: UUID
    job_type: str
    url: str = Field(description="The job's status: `GET` it, with `?wait=<seconds>` to wait.")


class SubmittedMany(BaseModel):
    """Jobs taken, in the order of the request's `params`."""

    jobs: list[Submitted]


class AllStats(BaseModel):
    """Counts of jobs by state: of every job type, and of each."""

    overall: QueueStats = Field(description="The sums over all job types (`job_type` is `all`).")
    job_types: dict[str, QueueStats]


class Problem(BaseModel):
    """A refusal or failure; `detail` says what was wrong (`<field>: expected ..., got ...`)."""

    detail: str


class ReplayRequest(BaseModel):
    """Which failed jobs to replay: explicit `ids`, or the filters of `GET /dead-letters`."""

    model_config = ConfigDict(extra="forbid")

    ids: list[UUID] | None = Field(None, description="These jobs; not with the filters.")
    type: str | None = Field(None, description="Failed jobs of this job type ...")
    reason: str | None = Field(None, description="... whose failure reason contains this text ...")
    since: AwareDatetime | None = Field(None, description="... that ended at or after this ...")
    until: AwareDatetime | None = Field(None, description="... and before this.")
    limit: int = Field(500, ge=1, le=MAX_LIMIT, description="At most this many of them.")
    dry_run: bool = Field(True, description="Only list what would be replayed (the default).")


class ReplayAnswer(BaseModel):
    """The selection, and what a replay did with each job of it."""

    dry_run: bool
    selected: list[JobStatus] = Field(
        description="The failed jobs chosen by the filters, newest first; with `ids`, in a dry "
        "run, those that would be replayed."
    )
    replayed: list[UUID] = Field(description="Run again (same id and key; attempts go up).")
    skipped: dict[str, str] = Field(description="Job id -> why it was not replayed.")
