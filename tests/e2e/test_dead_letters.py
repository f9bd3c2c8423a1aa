"""Dead letters end to end: an incident (an API answering 503 until the jobs' retries run out)
fails jobs of both lanes; they are selected by job type, failure reason and time window, shown
by a dry run, and replayed: only the selected ones run again, once each, counted where their
requests land (the test HTTP receiver)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from prefect.states import Crashed

from jobs.client import Client
from jobs.prefect_api import prefect_client
from jobs.settings import Settings
from jobs.status import Job, JobState, JobStatus, Lane
from tests.support.receiver import Answer, Receiver

ATTEMPTS = 6  # api_call: the first attempt and 5 retries


@pytest.fixture
def receiver(settings: Settings) -> Receiver:
    return Receiver.allowed(settings)


def api_call(receiver: Receiver, path: str, n: int) -> dict[str, object]:
    return {"url": receiver.url(path), "method": "POST", "json_body": {"n": n}}


def crash(client: Client, job: Job, reason: str) -> None:
    """Put a job that has not started into Crashed, as a lost worker's run would be."""

    async def go() -> None:
        async with prefect_client(client.settings.api_url) as prefect:
            await prefect.set_flow_run_state(job.id, Crashed(message=reason), force=True)

    asyncio.run(go())


def finished(client: Client, jobs: list[Job]) -> list[JobStatus]:
    return [client.wait(job, timeout=300) for job in jobs]


def test_an_incident_is_selected_dry_run_and_replayed_once(
    client: Client, receiver: Receiver
) -> None:
    since = datetime.now(UTC)
    down = [receiver.path(*[Answer(503, body=b"down")] * ATTEMPTS) for _ in range(3)]
    gone, fine = receiver.path(Answer(410, body=b"gone")), receiver.path()
    incident = client.submit_many(
        "api_call", [api_call(receiver, p, n) for n, p in enumerate(down)]
    )
    keyed = client.submit(
        "api_call", api_call(receiver, gone, 9), lane="flow", idempotency_key=f"gone-{uuid4()}"
    )
    ok = client.submit("api_call", api_call(receiver, fine, 10))
    note = f"dead-letter-{uuid4().hex[:8]}"
    pinged = client.submit("ping", {"note": note, "fail": True}, lane="flow")
    lost = client.submit("ping", {"note": note}, lane="flow", delay=3600)
    crash(client, lost, f"worker lost ({note})")

    statuses = finished(client, [*incident, keyed, ok, pinged])
    assert [s.state for s in statuses] == [JobState.FAILED] * 3 + [
        JobState.FAILED, JobState.COMPLETED, JobState.FAILED
    ]  # fmt: skip
    assert all(len(receiver.received(path)) == ATTEMPTS for path in down)

    # the dry run: exactly the incident's jobs, as status reports them
    selected = client.dead_letters(job_type="api_call", reason="http 503", since=since)
    assert {s.id for s in selected} == {job.id for job in incident}
    for status in selected:
        assert status.lane is Lane.BATCH and status.attempts == ATTEMPTS
        assert status.failure_reason is not None and "HTTP 503" in status.failure_reason

    everything = client.dead_letters(since=since)
    assert {s.id for s in everything} == {*(j.id for j in incident), keyed.id, pinged.id, lost.id}
    ends = [s.finished_at for s in everything]
    assert all(e is not None for e in ends) and ends == sorted(ends, reverse=True)  # type: ignore[type-var]
    [crashed] = [s for s in everything if s.id == lost.id]
    assert crashed.prefect_state == "Crashed"
    assert crashed.failure_reason == f"worker lost ({note})"
    pings = client.dead_letters(job_type="ping", reason=note.upper(), since=since)
    assert [s.id for s in pings] == [pinged.id, lost.id]  # crashed at once, failed later
    newest = ends[0]
    assert newest is not None
    assert client.dead_letters(since=since, until=ends[-1]) == []  # type: ignore[arg-type]
    assert [s.id for s in client.dead_letters(since=newest)] == [everything[0].id]
    assert [s.id for s in client.dead_letters(since=since, limit=2)] == [
        s.id for s in everything[:2]
    ]

    unknown = uuid4()
    replay = client.replay([*selected, ok, unknown])

    assert sorted(replay.replayed) == sorted(job.id for job in incident)
    assert replay.skipped == {
        str(ok.id): "completed, not failed",
        str(unknown): f"no job with id {unknown}",
    }
    for status in finished(client, incident):
        assert status.state is JobState.COMPLETED
        assert status.attempts == ATTEMPTS + 1  # the same job, tried once more
    assert all(len(receiver.received(path)) == ATTEMPTS + 1 for path in down)
    assert len(receiver.received(gone)) == 1 and len(receiver.received(fine)) == 1
    assert client.status(pinged).state is JobState.FAILED  # not selected, not replayed

    again = client.replay(incident)
    assert again.replayed == []
    assert again.skipped == {str(job.id): "completed, not failed" for job in incident}
    assert all(len(receiver.received(path)) == ATTEMPTS + 1 for path in down)


def test_replaying_a_flow_lane_job_keeps_its_id_and_key(client: Client, receiver: Receiver) -> None:
    since = datetime.now(UTC) - timedelta(seconds=1)
    path = receiver.path(Answer(410, body=b"gone for now"))
    key = f"replay-{uuid4()}"
    job = client.submit("api_call", api_call(receiver, path, 1), lane="flow", idempotency_key=key)
    failed = client.wait(job, timeout=300)
    assert failed.state is JobState.FAILED and failed.attempts == 1
    lost = client.submit("ping", {"note": "lost"}, lane="flow", delay=3600)
    crash(client, lost, "worker lost")

    [selected] = client.dead_letters(job_type="api_call", reason="HTTP 410", since=since)
    assert selected.id == job.id and selected.idempotency_key == key
    replay = client.replay([str(job.id), lost])

    assert replay.replayed == [job.id, lost.id] and replay.skipped == {}
    done = client.wait(job, timeout=300)
    assert done.state is JobState.COMPLETED and done.id == job.id
    assert done.attempts == 2 and done.idempotency_key == key
    assert client.submit("api_call", api_call(receiver, path, 1), idempotency_key=key) == job
    assert client.wait(lost, timeout=300).state is JobState.COMPLETED
    assert len(receiver.received(path)) == 2
    assert client.replay([job]).skipped == {str(job.id): "completed, not failed"}
    assert client.dead_letters(job_type="api_call", reason="HTTP 410", since=since) == []
