"""The HTTP API's application: its resources, each a thin call of :class:`jobs.Client`."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from openapi_ui_bundles import swagger_ui
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import AwareDatetime, BaseModel

from jobs import deadletter, registry
from jobs.apikeys import Scope
from jobs.client import Client
from jobs.errors import (
    InvalidJobParams,
    JobNotFound,
    JobsError,
    KeyNotFound,
    ServerUnavailable,
    SubmitFailed,
)
from jobs.http import bodies
from jobs.http.bodies import (
    AllStats,
    Problem,
    ReplayAnswer,
    ReplayRequest,
    Submitted,
    SubmittedMany,
)
from jobs.http.guard import BodyLimit, Keys, require
from jobs.http.refusals import validation_message
from jobs.metrics import registry as queue_metrics
from jobs.settings import Settings, get_settings
from jobs.status import Job, JobState, JobStatus, QueueStats, RecurringJob

MAX_WAIT_SECONDS = 60.0
"""Longest long poll: a longer wait is answered after this with the job's status then."""
STATS_AT_ONCE = 4
"""Job types counted at once by ``GET /stats`` (each is several queries to the server)."""

_WAITING = (
    f"Seconds to wait for the job to finish (at most {MAX_WAIT_SECONDS:g}); the status is "
    "answered when it finishes or the time is up."
)
Wait = Annotated[float, Query(ge=0, description=_WAITING)]
Timeout = Annotated[float, Query(ge=0, alias="timeout", description=_WAITING)]

_STATUS_OF: list[tuple[type[JobsError], int]] = [
    (InvalidJobParams, 422),
    (JobNotFound, 404),
    (KeyNotFound, 404),
    (ServerUnavailable, 503),
    (SubmitFailed, 503),
    (JobsError, 409),  # e.g. retrying a job that has not failed, cancelling a finished one
]

Responses = dict[int | str, dict[str, Any]]

_AUTH: Responses = {
    422: {"model": Problem, "description": "Refused: `<field>: expected ..., got ...`"},
    401: {"model": Problem, "description": "No API key, or not a valid one"},
    403: {"model": Problem, "description": "The key lacks this scope"},
    429: {"model": Problem, "description": "The key's rate limit is reached (see Retry-After)"},
}
_JOB: Responses = {
    **_AUTH,
    404: {"model": Problem, "description": "No such job (or job type, or recurring job)"},
    409: {"model": Problem, "description": "The job's state does not allow it"},
    503: {"model": Problem, "description": "The server or the database cannot be reached"},
}
_SUBMIT: Responses = {
    **_AUTH,
    413: {"model": Problem, "description": "The body is over JOBS_API_MAX_BODY_BYTES"},
    503: {"model": Problem, "description": "The server or the database did not take the jobs"},
}


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API, on the Prefect server and application database ``settings`` name."""
    settings = settings or get_settings()
    app = FastAPI(
        title="jobs",
        version="1",
        summary="Background jobs on Prefect 3: submit, follow, retry, cancel, count.",
        docs_url=None,  # served below from local files: no CDN needed
        redoc_url=None,
        description=(
            "Every request but `GET /health` needs `Authorization: Bearer <key>`, a key with "
            "the scope the operation names (`submit`, `read` or `admin`; `admin` covers all). "
            'Refusals answer `{"detail": "<field>: expected ..., got ..."}`.'
        ),
    )
    client = Client(settings)
    app.state.keys = Keys(settings)
    app.add_middleware(BodyLimit, limit=settings.api_max_body_bytes)
    _handle_errors(app)

    read = Depends(require(Scope.READ))
    submit = Depends(require(Scope.SUBMIT))
    admin = Depends(require(Scope.ADMIN))

    app.mount("/docs/static", StaticFiles(directory=swagger_ui.static_path), name="docs-static")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """The docs page: Swagger UI on /openapi.json, its files served from here."""
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="jobs: HTTP API",
            swagger_js_url="/docs/static/swagger-ui-bundle.js",
            swagger_css_url="/docs/static/swagger-ui.css",
            swagger_favicon_url="/docs/static/favicon-32x32.png",
        )

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        """Whether the API is up (no key needed)."""
        return {"status": "ok"}

    # -- submitting: one route per job type, so the docs show each type's parameters --------

    documented = [
        model
        for spec in registry.JOB_TYPES.values()
        for model in _submit(app, client, spec, submit)
    ]

    @app.post("/jobs/{job_type}", include_in_schema=False, dependencies=[submit])
    async def unknown_type(job_type: str) -> None:
        raise HTTPException(404, _unknown(job_type))

    @app.post("/jobs/{job_type}/bulk", include_in_schema=False, dependencies=[submit])
    async def unknown_type_bulk(job_type: str) -> None:
        raise HTTPException(404, _unknown(job_type))

    # -- following and managing jobs ---------------------------------------------------------

    @app.get("/jobs/{job_id}", tags=["jobs"], responses=_JOB, dependencies=[read])
    async def status(job_id: str, wait: Wait = 0) -> JobStatus:
        """A job's state, progress, failure reason, attempts, times and its Prefect UI page."""
        return await _status(client, job_id, wait)

    @app.get("/jobs/{job_id}/wait", tags=["jobs"], responses=_JOB, dependencies=[read])
    async def wait_for(job_id: str, seconds: Timeout = MAX_WAIT_SECONDS) -> JobStatus:
        """Wait until the job has finished, at most ``timeout`` seconds; its status then."""
        return await _status(client, job_id, seconds)

    @app.post("/jobs/{job_id}/retry", tags=["jobs"], responses=_JOB, dependencies=[admin])
    async def retry(job_id: str) -> JobStatus:
        """Run a failed, crashed or cancelled job again (same id; attempts go up); 409 if it
        has not failed."""
        await client.retry_async(job_id)
        return await client.status_async(job_id)

    @app.post("/jobs/{job_id}/cancel", tags=["jobs"], responses=_JOB, dependencies=[admin])
    async def cancel(job_id: str) -> JobStatus:
        """Cancel a job: at once if it has not started, else its worker stops it; 409 if it
        has finished."""
        await client.cancel_async(job_id)
        return await client.status_async(job_id)

    # -- counting ------------------------------------------------------------------------------

    @app.get("/stats", tags=["stats"], responses=_AUTH, dependencies=[read])
    async def all_stats() -> AllStats:
        """Jobs by state (waiting, active, completed, failed, delayed, cancelled, paused) for
        every job type, and overall."""
        return await _all_stats(client)

    @app.get("/stats/{job_type}", tags=["stats"], responses=_JOB, dependencies=[read])
    async def stats(job_type: str) -> QueueStats:
        """Jobs of one type by state."""
        _known(job_type)
        return await client.stats_async(job_type)

    # -- recurring jobs ---------------------------------------------------------------------

    @app.get("/recurring", tags=["recurring"], responses=_AUTH, dependencies=[read])
    async def recurring() -> list[RecurringJob]:
        """The jobs that run on schedules: schedule, next run, whether active."""
        return await client.recurring_jobs_async()

    @app.post(
        "/recurring/{name:path}/pause", tags=["recurring"], responses=_JOB, dependencies=[admin]
    )
    async def pause(name: str) -> RecurringJob:
        """Turn a recurring job's schedules off."""
        return await client.pause_recurring_async(name)

    @app.post(
        "/recurring/{name:path}/resume", tags=["recurring"], responses=_JOB, dependencies=[admin]
    )
    async def resume(name: str) -> RecurringJob:
        """Turn a recurring job's schedules on again."""
        return await client.resume_recurring_async(name)

    @app.post(
        "/recurring/{name:path}/trigger",
        tags=["recurring"],
        status_code=202,
        responses=_JOB,
        dependencies=[admin],
    )
    async def trigger(name: str) -> Submitted:
        """Run a recurring job now, once, besides its schedule."""
        return _submitted(await client.trigger_recurring_async(name))

    # -- dead letters ------------------------------------------------------------------------

    @app.get("/dead-letters", tags=["dead letters"], responses=_JOB, dependencies=[read])
    async def dead_letters(
        job_type: Annotated[str | None, Query(alias="type", description="A job type")] = None,
        reason: Annotated[str | None, Query(description="Text of the failure reason")] = None,
        since: Annotated[AwareDatetime | None, Query(description="Ended at or after")] = None,
        until: Annotated[AwareDatetime | None, Query(description="Ended before")] = None,
        limit: Annotated[int, Query(ge=1, le=deadletter.MAX_LIMIT)] = 500,
    ) -> list[JobStatus]:
        """Failed and crashed jobs of both lanes, newest first, by job type, failure reason
        (any case) and end time (ISO 8601 with offset, e.g. `2031-05-17T09:30:00Z`)."""
        if job_type is not None:
            _known(job_type)
        return await client.dead_letters_async(job_type, reason, since, until, limit)

    @app.post("/dead-letters/replay", tags=["dead letters"], responses=_JOB, dependencies=[admin])
    async def replay(selection: ReplayRequest) -> ReplayAnswer:
        """Replay failed jobs: the selection of `GET /dead-letters` or explicit `ids`. A dry
        run (the default) answers what would be replayed; else each job is retried (same id and
        idempotency key, attempts go up) and reported by id; jobs not failed are skipped."""
        return await _replay(client, selection)

    # -- metrics -------------------------------------------------------------------------------

    @app.get(
        "/metrics",
        tags=["metrics"],
        responses={**_AUTH, 200: {"content": {CONTENT_TYPE_LATEST: {}}}},
        response_class=Response,
        dependencies=[read],
    )
    async def metrics() -> Response:
        """Queue metrics in Prometheus' text format: depth by job type, priority, lane and
        state, the oldest waiting job's age, outcomes, pickup latency and run duration."""
        scraped = await asyncio.to_thread(generate_latest, queue_metrics(settings))
        return Response(scraped, media_type=CONTENT_TYPE_LATEST)

    _documented(app, documented)
    return app


def _submit(
    app: FastAPI, client: Client, spec: registry.JobType, submit: Any
) -> list[type[BaseModel]]:
    """The routes submitting jobs of one type; the models of their bodies, for the docs."""
    one, many = bodies.one_job_model(spec), bodies.many_jobs_model(spec)

    async def submit_one(request: Request) -> Submitted:
        params, options = bodies.submit_call(
            spec, bodies.job_body(await request.body()), many=False
        )
        return _submitted(await client.submit_async(spec.name, params, **options))

    async def submit_many(request: Request) -> SubmittedMany:
        params, options = bodies.submit_call(spec, bodies.job_body(await request.body()), many=True)
        jobs = await client.submit_many_async(spec.name, params, **options)
        return SubmittedMany(jobs=[_submitted(job) for job in jobs])

    for path, endpoint, model, summary in (
        (f"/jobs/{spec.name}", submit_one, one, f"Submit one {spec.name} job"),
        (f"/jobs/{spec.name}/bulk", submit_many, many, f"Submit many {spec.name} jobs"),
    ):
        app.add_api_route(
            path,
            endpoint,
            methods=["POST"],
            status_code=202,
            summary=summary,
            description=spec.description,
            tags=["submit"],
            responses=_SUBMIT,
            dependencies=[submit],
            openapi_extra={
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"$ref": _schema_ref(model)}}},
                }
            },
        )
    return [one, many]


def _schema_ref(model: type[BaseModel]) -> str:
    return f"#/components/schemas/{model.__name__}"


def _documented(app: FastAPI, models: list[type[BaseModel]]) -> None:
    """The OpenAPI schema with the submit bodies in it: they are read by the client, not by
    FastAPI, so it does not add them itself."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                description=app.description,
                routes=app.routes,
            )
            found = schema.setdefault("components", {}).setdefault("schemas", {})
            for model in models:
                body = model.model_json_schema(ref_template="#/components/schemas/{model}")
                found.update(body.pop("$defs", {}))
                found[model.__name__] = body
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _known(job_type: str) -> registry.JobType:
    try:
        return registry.job_type(job_type)
    except InvalidJobParams:
        raise HTTPException(404, _unknown(job_type)) from None


def _unknown(job_type: str) -> str:
    return f"no job type {job_type!r}; the job types are {', '.join(sorted(registry.JOB_TYPES))}"


def _submitted(job: Job) -> Submitted:
    return Submitted(id=job.id, job_type=job.job_type, url=f"/jobs/{job.id}")


async def _status(client: Client, job_id: str, wait: float) -> JobStatus:
    if wait > 0:
        try:
            return await client.wait_async(job_id, timeout=min(wait, MAX_WAIT_SECONDS))
        except TimeoutError:
            pass
    return await client.status_async(job_id)


async def _replay(client: Client, selection: ReplayRequest) -> ReplayAnswer:
    filters = {
        name: value
        for name in ("type", "reason", "since", "until")
        if (value := getattr(selection, name)) is not None
    }
    if selection.ids is None:
        if selection.type is not None:
            _known(selection.type)
        chosen = await client.dead_letters_async(
            selection.type, selection.reason, selection.since, selection.until, selection.limit
        )
        if selection.dry_run:
            return ReplayAnswer(dry_run=True, selected=chosen, replayed=[], skipped={})
        done = await client.replay_async([status.id for status in chosen])
        return ReplayAnswer(
            dry_run=False, selected=chosen, replayed=done.replayed, skipped=done.skipped
        )
    if filters:
        raise InvalidJobParams(
            "ids: expected the jobs' ids or the filters (type, reason, since, until), not both, "
            f"got ids and {', '.join(filters)}"
        )
    if not selection.dry_run:
        done = await client.replay_async(selection.ids)
        return ReplayAnswer(
            dry_run=False, selected=[], replayed=done.replayed, skipped=done.skipped
        )
    seen: dict[UUID, JobStatus] = {}

    async def state_of(job_id: UUID) -> JobState:
        seen[job_id] = await client.status_async(job_id)
        return seen[job_id].state

    async def not_yet(job_id: UUID) -> None:
        """A dry run retries nothing."""

    would = await deadletter.replay(selection.ids, state_of, not_yet)
    chosen = [seen[job_id] for job_id in would.replayed]
    return ReplayAnswer(dry_run=True, selected=chosen, replayed=[], skipped=would.skipped)


async def _all_stats(client: Client) -> AllStats:
    gate = asyncio.Semaphore(STATS_AT_ONCE)

    async def one(name: str) -> QueueStats:
        async with gate:
            return await client.stats_async(name)

    found = await asyncio.gather(*(one(name) for name in registry.JOB_TYPES))
    counts = [name for name in QueueStats.model_fields if name != "job_type"]
    overall = QueueStats(
        job_type="all", **{name: sum(getattr(s, name) for s in found) for name in counts}
    )
    return AllStats(overall=overall, job_types={s.job_type: s for s in found})


def _handle_errors(app: FastAPI) -> None:
    async def jobs_error(request: Request, exc: Exception) -> JSONResponse:
        status = next(code for kind, code in _STATUS_OF if isinstance(exc, kind))
        return JSONResponse({"detail": str(exc)}, status)

    async def invalid_request(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": validation_message(exc)}, 422)

    app.add_exception_handler(JobsError, jobs_error)
    app.add_exception_handler(RequestValidationError, invalid_request)
