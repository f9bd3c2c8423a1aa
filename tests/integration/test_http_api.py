"""The HTTP API against the real system: Prefect server, warm worker, relay and SMTP, and the API
itself served by ``jobs.http.serve`` in a process of its own, reached by Node's fetch, curl and
httpx."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from jobs.client import Client
from jobs.registry import JOB_TYPES
from jobs.status import JobState
from tests.support.api import ApiProcess, assert_keys_and_scopes_checked, key
from tests.support.emails import unique_address
from tests.support.smtp import Recorder
from tests.support.stack import Stack

README = Path(__file__).resolve().parents[2] / "README.md"
NODE = shutil.which("node") or "/usr/bin/node"


@pytest.fixture(scope="module")
def stack(prefect_server: Stack, app_db: str, smtp_server: Recorder) -> Stack:
    prefect_server.start_worker(limit=2)
    prefect_server.start_relay()
    return prefect_server


@pytest.fixture(scope="module")
def api(stack: Stack) -> Iterator[ApiProcess]:
    with ApiProcess(stack.settings) as served:
        yield served


@pytest.fixture(scope="module")
def http(api: ApiProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api.url, timeout=90) as client:
        yield client


@pytest.fixture(scope="module")
def admin(stack: Stack) -> dict[str, str]:
    return key("admin", stack.settings.app_database_url)


def test_every_operation_asks_for_a_key_of_its_scope(api: ApiProcess, stack: Stack) -> None:
    assert_keys_and_scopes_checked(api.url, stack.settings)


NODE_SCRIPT = """
const headers = {Authorization: `Bearer ${process.env.KEY}`, "Content-Type": "application/json"};
const submitted = await fetch(`${process.env.API}/jobs/ping`, {
  method: "POST", headers,
  body: JSON.stringify({params: {note: "from node"}, priority: 2, tags: ["node"]}),
});
if (submitted.status !== 202) throw new Error(`${submitted.status} ${await submitted.text()}`);
const job = await submitted.json();
let status = {state: "waiting"};
for (let i = 0; i < 10 && !["completed", "failed", "cancelled"].includes(status.state); i++) {
  status = await (await fetch(`${process.env.API}${job.url}?wait=30`, {headers})).json();
}
console.log(JSON.stringify({job, status}));
"""


def test_a_job_submitted_by_node_fetch_runs_and_its_status_is_read_back(
    api: ApiProcess, client: Client
) -> None:
    token = key("submit,read")["Authorization"].removeprefix("Bearer ")
    env = {**os.environ, "API": api.url, "KEY": token}
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", NODE_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    status = answer["status"]
    assert status["state"] == "completed", status
    assert (status["id"], status["job_type"]) == (answer["job"]["id"], "ping")
    assert status["params"]["note"] == "from node" and status["priority"] == 2
    assert "node" in status["tags"] and status["attempts"] == 1
    assert status["finished_at"] and status["ui_url"].startswith(client.settings.ui_url)
    assert client.status(status["id"]).state is JobState.COMPLETED


def test_a_job_submitted_by_curl_runs_and_its_status_is_read_back(
    api: ApiProcess, client: Client
) -> None:
    auth = f"Authorization: {key('submit,read')['Authorization']}"
    body = json.dumps({"params": {"note": "from curl"}, "lane": "flow", "idempotency_key": "c1"})
    submit = ["curl", "-sS", "-X", "POST", "-H", auth, "-H", "Content-Type: application/json"]
    first = json.loads(subprocess.run(
        [*submit, "-d", body, f"{api.url}/jobs/ping"], capture_output=True, text=True, check=True
    ).stdout)  # fmt: skip
    again = json.loads(subprocess.run(
        [*submit, "-d", body, f"{api.url}/jobs/ping"], capture_output=True, text=True, check=True
    ).stdout)  # fmt: skip
    assert first["id"] == again["id"]  # the idempotency key: one job
    waited = subprocess.run(
        ["curl", "-sS", "-H", auth, f"{api.url}/jobs/{first['id']}/wait?timeout=60"],
        capture_output=True,
        text=True,
        check=True,
    )
    status = json.loads(waited.stdout)
    assert status["state"] == "completed", status
    assert status["lane"] == "flow" and status["idempotency_key"] == "c1"
    assert status["ui_url"] == f"{client.settings.ui_url}/runs/flow-run/{first['id']}"


def wait_final(http: httpx.Client, job_id: str, headers: dict[str, str]) -> dict[str, Any]:
    status: dict[str, Any] = {"state": "waiting"}
    for _ in range(5):
        answer = http.get(f"/jobs/{job_id}", params={"wait": 60}, headers=headers)
        assert answer.status_code == 200, answer.text
        status = answer.json()
        if JobState(status["state"]).is_final:
            break
    return status


def test_a_failed_job_is_retried_and_a_delayed_one_cancelled_by_an_admin_key(
    http: httpx.Client, admin: dict[str, str]
) -> None:
    fail = {"params": {"fail": True}, "lane": "flow"}
    failing = http.post("/jobs/ping", json=fail, headers=admin)
    assert failing.status_code == 202, failing.text
    job_id = failing.json()["id"]
    failed = wait_final(http, job_id, admin)
    assert failed["state"] == "failed" and failed["failure_reason"], failed

    retried = http.post(f"/jobs/{job_id}/retry", headers=admin)
    assert retried.status_code == 200, retried.text
    again = wait_final(http, job_id, admin)
    assert again["state"] == "failed" and again["attempts"] == failed["attempts"] + 1

    later = http.post("/jobs/ping", json={"params": {}, "delay": 3600}, headers=admin).json()
    assert http.get(f"/jobs/{later['id']}", headers=admin).json()["state"] == "delayed"
    cancelled = http.post(f"/jobs/{later['id']}/cancel", headers=admin)
    assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
    twice = http.post(f"/jobs/{later['id']}/cancel", headers=admin)
    assert twice.status_code == 409
    assert "has already finished (cancelled); nothing to cancel" in twice.json()["detail"]

    done = http.post("/jobs/ping", json={"params": {}}, headers=admin).json()
    assert wait_final(http, done["id"], admin)["state"] == "completed"
    refused = http.post(f"/jobs/{done['id']}/retry", headers=admin)
    assert refused.status_code == 409
    assert "only failed, crashed or cancelled jobs can be retried" in refused.json()["detail"]
    missing = http.get("/jobs/00000000-0000-4000-8000-000000000000", headers=admin)
    assert missing.status_code == 404
    assert missing.json()["detail"] == "no job with id 00000000-0000-4000-8000-000000000000"


def test_a_long_poll_answers_the_status_when_its_time_is_up(
    http: httpx.Client, admin: dict[str, str]
) -> None:
    later = http.post("/jobs/ping", json={"params": {}, "delay": 3600}, headers=admin).json()
    try:
        answer = http.get(f"/jobs/{later['id']}/wait", params={"timeout": 1}, headers=admin)
        assert answer.status_code == 200 and answer.json()["state"] == "delayed"
    finally:
        http.post(f"/jobs/{later['id']}/cancel", headers=admin)


def test_stats_count_every_job_type_and_overall_as_the_client_does(
    http: httpx.Client, client: Client
) -> None:
    reader = key("read")
    everything = http.get("/stats", headers=reader)
    assert everything.status_code == 200, everything.text
    found = everything.json()
    assert set(found["job_types"]) == set(JOB_TYPES)
    overall = found["overall"]
    assert overall["job_type"] == "all"
    for state in ("waiting", "active", "completed", "failed", "delayed", "cancelled", "total"):
        assert overall[state] == sum(stats[state] for stats in found["job_types"].values())
    assert found["job_types"]["ping"]["completed"] >= 1

    one = http.get("/stats/newsletter", headers=reader).json()
    assert one == client.stats("newsletter").model_dump(mode="json")


def test_recurring_jobs_are_listed_paused_resumed_and_triggered(
    http: httpx.Client, admin: dict[str, str], client: Client
) -> None:
    listed = http.get("/recurring", headers=key("read"))
    assert listed.status_code == 200
    assert {"retention", "db_cleanup"} <= {job["name"] for job in listed.json()}
    paused = http.post("/recurring/cache_cleanup/pause", headers=admin)
    assert paused.status_code == 200 and paused.json()["active"] is False
    resumed = http.post("/recurring/cache_cleanup/resume", headers=admin)
    assert resumed.status_code == 200 and resumed.json()["active"] is True
    triggered = http.post("/recurring/cache_cleanup/trigger", headers=admin)
    assert triggered.status_code == 202 and triggered.json()["job_type"] == "cache_cleanup"
    assert wait_final(http, triggered.json()["id"], admin)["state"] == "completed"
    unknown = http.post("/recurring/nope/pause", headers=admin)
    assert unknown.status_code == 404


HOSTILE = [
    ("email", {"params": {"to": ["a@example.com"], "subject": "Hi\r\nBcc: all@example.com",
                          "text": "x"}}),
    ("email", {"params": {"to": ["a@example.com\r\nBcc: all@example.com"], "subject": "Hi",
                          "text": "x"}}),
    ("newsletter", {"params": {"subject": "News\nBcc: all@example.com", "text": "x",
                               "recipients": [{"email": "a@example.com"}]}}),
    ("newsletter", {"params": {"subject": "News", "text": "x", "recipients": [
        {"email": "a@example.com"}]}, "priority": 0}),
    ("newsletter", {"params": {"subject": 5, "text": "x", "recipients": "a@example.com"}}),
    ("email", {"params": {"to": ["a@example.com"], "subject": "Hi", "text": "x" * 3_000_000}}),
    ("no_such_type", {"params": {}}),
]  # fmt: skip


def test_hostile_submits_are_refused_and_nothing_is_enqueued(
    http: httpx.Client, client: Client
) -> None:
    headers = key("submit")
    before = {name: client.stats(name) for name in ("email", "newsletter")}
    answers = [http.post(f"/jobs/{path}", json=body, headers=headers) for path, body in HOSTILE]

    codes = [answer.status_code for answer in answers]
    assert codes == [422, 422, 422, 422, 422, 413, 404]
    details = [answer.json()["detail"] for answer in answers]
    assert "subject: Value error, must be a single line without CR or LF" in details[0]
    assert "to.0: value is not a valid email address" in details[1]
    assert "subject: Value error, must be a single line without CR or LF" in details[2]
    assert details[3] == "priority: expected an integer from 1 (urgent) to 10 (low), got int 0"
    assert "subject: Input should be a valid string" in details[4]
    assert "recipients: Input should be a valid list" in details[4]
    assert details[5].startswith("request body: expected at most 2000000 bytes, got")
    assert details[6].startswith("no job type 'no_such_type'; the job types are api_call, ")
    assert {name: client.stats(name) for name in ("email", "newsletter")} == before


def readme_curl() -> str:
    """The shell example of the README's "From any language" section."""
    section = README.read_text().split("## From any language", 1)[1].split("\n## ", 1)[0]
    [example] = re.findall(r"^```bash\n(.*?)^```", section, flags=re.DOTALL | re.M)
    return str(example)


def test_the_readme_curl_example_runs(api: ApiProcess, smtp: Recorder) -> None:
    address = unique_address()
    example = readme_curl().replace("lin@example.com", address)
    token = key("submit,read")["Authorization"].removeprefix("Bearer ")
    env = {**os.environ, "JOBS_API": api.url, "JOBS_KEY": token}
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", example],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"state":"completed"' in done.stdout, done.stdout
    [message] = smtp.to(address)
    assert message["Subject"] == "Welcome!"


def test_serve_stops_cleanly_on_sigterm_and_enforces_its_rate_limit(stack: Stack) -> None:
    with ApiProcess(stack.settings, JOBS_API_RATE_LIMIT="2/minute") as api:
        headers = key("read")
        codes = [httpx.get(f"{api.url}/stats/ping", headers=headers) for _ in range(3)]
        assert [answer.status_code for answer in codes] == [200, 200, 429]
        assert 1 <= int(codes[-1].headers["Retry-After"]) <= 60
        # uvicorn shuts down, then ends by the signal it was stopped with, as its exit status
        assert api.stop() == -signal.SIGTERM
    log = api.tail()
    assert "Application shutdown complete." in log and "Finished server process" in log
    assert "Traceback" not in log


def test_dead_letters_are_selected_shown_by_a_dry_run_and_replayed_once(
    http: httpx.Client, admin: dict[str, str], client: Client
) -> None:
    since = datetime.now(UTC).isoformat()
    note = f"incident-{uuid.uuid4().hex[:8]}"
    failing = {"params": [{"note": note, "fail": True}] * 2}
    batched = http.post("/jobs/ping/bulk", json=failing, headers=admin).json()["jobs"]
    single = http.post(
        "/jobs/ping", json={"params": {"note": note, "fail": True}, "lane": "flow"}, headers=admin
    ).json()
    fine = http.post("/jobs/ping", json={"params": {"note": note}}, headers=admin).json()
    failed = sorted([job["id"] for job in batched] + [single["id"]])
    before = {job_id: wait_final(http, job_id, admin) for job_id in failed}
    assert {status["state"] for status in before.values()} == {"failed"}
    assert wait_final(http, fine["id"], admin)["state"] == "completed"

    listed = http.get(
        "/dead-letters",
        params={"type": "ping", "reason": note.upper(), "since": since},
        headers=key("read"),
    )
    assert listed.status_code == 200, listed.text
    assert sorted(status["id"] for status in listed.json()) == failed
    assert all(note in status["failure_reason"] for status in listed.json())

    selection = {"type": "ping", "reason": note, "since": since}
    dry = http.post("/dead-letters/replay", json=selection, headers=admin).json()
    assert dry["dry_run"] is True and dry["replayed"] == []
    assert sorted(status["id"] for status in dry["selected"]) == failed
    assert all(client.status(job_id).attempts == before[job_id]["attempts"] for job_id in failed)

    done = http.post("/dead-letters/replay", json={**selection, "dry_run": False}, headers=admin)
    assert done.status_code == 200, done.text
    assert sorted(done.json()["replayed"]) == failed and done.json()["skipped"] == {}
    for job_id in failed:
        again = wait_final(http, job_id, admin)
        assert again["state"] == "failed"
        assert again["attempts"] == before[job_id]["attempts"] + 1  # the same job, once more

    nobody = str(uuid.uuid4())
    by_id = http.post(
        "/dead-letters/replay", json={"ids": [failed[0], fine["id"], nobody]}, headers=admin
    ).json()
    assert [status["id"] for status in by_id["selected"]] == [failed[0]]
    assert by_id["skipped"] == {
        fine["id"]: "completed, not failed",
        nobody: f"no job with id {nobody}",
    }


def test_metrics_are_scraped_with_a_read_key(http: httpx.Client, admin: dict[str, str]) -> None:
    later = http.post(
        "/jobs/ping", json={"params": {}, "delay": 3600, "priority": 7, "lane": "flow"},
        headers=admin,
    ).json()  # fmt: skip
    try:
        scraped = http.get("/metrics", headers=key("read"))
        assert scraped.status_code == 200
        assert scraped.headers["content-type"].startswith("text/plain; version=")
        depth = {
            tuple(sorted(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(scraped.text)
            for sample in family.samples
            if sample.name == "jobs_queue_depth"
        }
        labels = {"job_type": "ping", "priority": "7", "lane": "flow", "state": "delayed"}
        assert depth[tuple(sorted(labels.items()))] >= 1
    finally:
        http.post(f"/jobs/{later['id']}/cancel", headers=admin)
