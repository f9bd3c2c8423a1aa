"""The HTTP API's gate, served by real uvicorn on a real application database: keys, scopes,
rate limit, body size, and refused submits, which enqueue nothing. No Prefect server is
needed: every refusal here happens before one is asked (batched jobs taken go to the outbox)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from jobs import apikeys
from jobs.db.engine import session
from jobs.db.models import QueuedJob
from jobs.settings import Settings
from tests.support.api import ThreadedApi, assert_keys_and_scopes_checked, key
from tests.support.ports import free_port

WELCOME = {"to": ["ada@example.com"], "subject": "Welcome", "text": "Hi Ada"}


@pytest.fixture(scope="module")
def settings(app_db_url: str) -> Settings:
    # a Prefect API nobody listens on: nothing here may reach it
    return Settings(database_url=app_db_url, server_port=free_port(), api_max_body_bytes=20_000)


@pytest.fixture(scope="module")
def api(settings: Settings) -> Iterator[ThreadedApi]:
    with ThreadedApi(settings) as served:
        yield served


def queued(url: str) -> int:
    with session(url) as db:
        return int(db.scalar(select(func.count()).select_from(QueuedJob)) or 0)


def test_every_operation_asks_for_a_key_of_its_scope(api: ThreadedApi, settings: Settings) -> None:
    assert_keys_and_scopes_checked(api.url, settings)


def test_a_revoked_key_is_refused_at_once(api: ThreadedApi, settings: Settings) -> None:
    name = f"revoked-{uuid.uuid4().hex[:8]}"
    _, made = apikeys.create(name, "submit", settings.app_database_url)
    headers = {"Authorization": f"Bearer {made}"}
    assert httpx.post(f"{api.url}/jobs/ping", json={}, headers=headers).status_code == 202
    apikeys.revoke(name, settings.app_database_url)
    refused = httpx.post(f"{api.url}/jobs/ping", json={}, headers=headers)
    assert refused.status_code == 401


HOSTILE: list[tuple[str, Any, int, str]] = [
    (
        "email",
        {"params": {**WELCOME, "subject": "Hi\r\nBcc: everyone@example.com"}},
        422,
        "invalid email job parameters: subject: Value error, must be a single line without "
        "CR or LF, got 'Hi\\r\\nBcc: everyone@example.com'",
    ),
    (
        "email",
        {"params": {**WELCOME, "to": ["ada@example.com\r\nBcc: everyone@example.com"]}},
        422,
        "invalid email job parameters: to.0: value is not a valid email address",
    ),
    (
        "email",
        {"params": {**WELCOME, "reply_to": "a@example.com\nX-Injected: 1"}},
        422,
        "invalid email job parameters: reply_to: value is not a valid email address",
    ),
    (
        "newsletter",
        {
            "params": {
                "subject": "News\nBcc: x@example.com",
                "text": "t",
                "recipients": [{"email": "a@example.com"}],
            }
        },
        422,
        "invalid newsletter job parameters: subject: Value error, must be a single line",
    ),
    (
        "email",
        {
            "params": {
                **WELCOME,
                "attachments": [
                    {"filename": "a.txt\r\nContent-Type: text/html", "content": "aGk="}
                ],
            }
        },
        422,
        "invalid email job parameters: attachments.0.filename: Value error, must be a single line",
    ),
    (
        "email",
        {"params": WELCOME, "priority": 11},
        422,
        "priority: expected an integer from 1 (urgent) to 10 (low), got int 11",
    ),
    (
        "email",
        {"params": WELCOME, "priority": "1"},
        422,
        "priority: expected an integer from 1 (urgent) to 10 (low), got str '1'",
    ),
    (
        "email",
        {"params": WELCOME, "priority": True},
        422,
        "priority: expected an integer from 1 (urgent) to 10 (low), got bool True",
    ),
    (
        "email",
        {"params": WELCOME, "tags": "urgent", "delay": "soon"},
        422,
        "delay: expected seconds (int or float) or a timedelta, from 0 to 3650 days (ten "
        "years), got str 'soon'; tags: expected a list, tuple or set of at most 50 tags, got "
        "str 'urgent'",
    ),
    (
        "email",
        {"params": WELCOME, "run_at": "next tuesday"},
        422,
        "run_at: expected an ISO 8601 time with its offset, e.g. 2031-05-17T09:30:00Z, got str "
        "'next tuesday'",
    ),
    (
        "email",
        {"params": WELCOME, "run_at": "2031-05-17T09:30:00"},
        422,
        "run_at: expected a timezone-aware datetime, got naive datetime 2031-05-17T09:30:00",
    ),
    (
        "email",
        {"params": WELCOME, "delay": 5, "run_at": "2031-05-17T09:30:00Z"},
        422,
        "delay and run_at: expected one or the other, not both",
    ),
    ("email", {"params": WELCOME, "priorty": 1}, 422, "priorty: expected a field of the body"),
    ("email", {"params": {**WELCOME, "to": "ada@example.com"}}, 422, "to: Input should be a"),
    ("email", {"params": {**WELCOME, "cc": 5}}, 422, "cc: Input should be a valid list"),
    ("email", [WELCOME], 422, "body: expected a JSON object of params and options, got list"),
    ("email", "not json", 422, "body: expected a JSON object, got text that is not JSON"),
    ("email", "[" * 5000 + "]" * 5000, 422, "body: expected a JSON object"),
    ("ping", {"params": {"seconds": "forever"}}, 422, "seconds: Input should be a valid number"),
    ("ping", {"params": {"note": "x"}, "lane": "fast"}, 422, 'lane: expected "flow" or "batch"'),
    ("ping", {"params": {"nope": 1}}, 422, "nope: Extra inputs are not permitted"),
    ("ping", {"params": {}, "idempotency_key": ""}, 422, "idempotency_key: expected a non-empty"),
    ("ping", {"params": {}, "tags": ["job:email"]}, 422, "tags.0: expected a tag not starting"),
    ("no-such-type", {"params": {}}, 404, "no job type 'no-such-type'; the job types are api_"),
    ("ping/bulk", {"params": {"note": "x"}}, 422, "params: expected a list of ping job parameters"),
    ("ping/bulk", {"priority": 3}, 422, "params: expected a list of ping job parameters, one per"),
    (
        "ping/bulk",
        {"params": [{}, {"seconds": -1}, {}]},
        422,
        "invalid ping job parameters #1: seconds: Input should be greater than or equal to 0",
    ),
    (
        "ping/bulk",
        {"params": [{}, {}], "idempotency_keys": ["a"]},
        422,
        "idempotency_keys: expected 2 keys, one per job",
    ),
    (
        "email/bulk",
        {"params": [WELCOME, {**WELCOME, "subject": "a\r\nb"}]},
        422,
        "invalid email job parameters #1: subject: Value error, must be a single line",
    ),
]


@pytest.mark.parametrize(("path", "body", "status", "message"), HOSTILE)
def test_a_hostile_submit_is_refused_saying_why_and_enqueues_nothing(
    api: ThreadedApi, settings: Settings, path: str, body: Any, status: int, message: str
) -> None:
    url = settings.app_database_url
    before = queued(url)
    content = body.encode() if isinstance(body, str) else None
    answer = httpx.post(
        f"{api.url}/jobs/{path}",
        json=None if content else body,
        content=content,
        headers={**key("submit", url), "Content-Type": "application/json"},
    )
    assert answer.status_code == status, answer.text
    assert message in answer.json()["detail"]
    assert queued(url) == before


def test_a_body_over_the_limit_is_refused_by_its_length_or_while_it_streams(
    api: ThreadedApi, settings: Settings
) -> None:
    url = settings.app_database_url
    headers = {**key("submit", url), "Content-Type": "application/json"}
    big = {"params": {**WELCOME, "text": "x" * 30_000}}
    before = queued(url)

    declared = httpx.post(f"{api.url}/jobs/email", json=big, headers=headers)
    assert declared.status_code == 413
    assert declared.json()["detail"].startswith("request body: expected at most 20000 bytes, got")

    def chunks() -> Iterator[bytes]:  # no Content-Length: sent chunked
        yield b'{"params": {"text": "'
        for _ in range(40):
            yield b"x" * 1000
        yield b'"}}'

    streamed = httpx.post(f"{api.url}/jobs/email", content=chunks(), headers=headers)
    assert streamed.status_code == 413
    assert streamed.json()["detail"] == "request body: expected at most 20000 bytes, got more"
    assert queued(url) == before


def test_query_refusals_name_the_field_like_the_client(
    api: ThreadedApi, settings: Settings
) -> None:
    headers = key("read", settings.app_database_url)
    job = f"{api.url}/jobs/{uuid.uuid4()}"
    nan = httpx.get(job, params={"wait": "soon"}, headers=headers)
    assert nan.status_code == 422
    assert nan.json()["detail"] == "wait: expected a number, got str 'soon'"
    negative = httpx.get(f"{job}/wait", params={"timeout": "-1"}, headers=headers)
    assert negative.status_code == 422
    assert negative.json()["detail"] == "timeout: expected a number at least 0, got str '-1'"
    unknown = httpx.get(f"{api.url}/stats/nope", headers=headers)
    assert unknown.status_code == 404
    assert unknown.json()["detail"].startswith("no job type 'nope'; the job types are api_call")
    not_an_id = httpx.get(f"{api.url}/jobs/12", headers=headers)
    assert not_an_id.status_code == 404
    assert not_an_id.json()["detail"] == "a job id is a UUID; got '12'"
    naive = httpx.get(
        f"{api.url}/dead-letters", params={"since": "2031-05-17T09:30"}, headers=headers
    )
    assert naive.status_code == 422
    assert naive.json()["detail"] == (
        "since: expected an ISO 8601 time with its offset (Z or +hh:mm), got str '2031-05-17T09:30'"
    )
    many = httpx.get(f"{api.url}/dead-letters", params={"limit": "0", "type": "x"}, headers=headers)
    assert many.json()["detail"] == "limit: expected a number at least 1, got str '0'"
    unknown_type = httpx.get(f"{api.url}/dead-letters", params={"type": "x"}, headers=headers)
    assert unknown_type.status_code == 404
    assert unknown_type.json()["detail"].startswith("no job type 'x'; the job types are")


def test_a_replay_takes_ids_or_filters_not_both(api: ThreadedApi, settings: Settings) -> None:
    headers = key("admin", settings.app_database_url)
    replay = f"{api.url}/dead-letters/replay"
    both = httpx.post(replay, json={"ids": [str(uuid.uuid4())], "reason": "x"}, headers=headers)
    assert both.status_code == 422
    assert both.json()["detail"] == (
        "ids: expected the jobs' ids or the filters (type, reason, since, until), not both, got "
        "ids and reason"
    )
    odd = httpx.post(replay, json={"ids": ["12"], "dry_run": "maybe", "when": 1}, headers=headers)
    assert odd.status_code == 422
    assert odd.json()["detail"] == (
        "ids.0: expected a job id (a UUID), got str '12'; dry_run: expected true or false, got "
        "str 'maybe'; when: expected no such field, got int 1"
    )


def test_batched_jobs_are_taken_once_per_key_one_by_one_and_in_bulk(
    api: ThreadedApi, settings: Settings
) -> None:
    url = settings.app_database_url
    headers = key("submit", url)
    label = uuid.uuid4().hex[:8]
    before = queued(url)
    first = httpx.post(
        f"{api.url}/jobs/ping",
        json={"params": {"note": "a"}, "priority": 2, "tags": ["http"], "idempotency_key": label},
        headers=headers,
    )
    again = httpx.post(
        f"{api.url}/jobs/ping", json={"params": {}, "idempotency_key": label}, headers=headers
    )
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["url"] == f"/jobs/{first.json()['id']}"

    bulk = httpx.post(
        f"{api.url}/jobs/ping/bulk",
        json={"params": [{}, {"note": "b"}], "idempotency_keys": [f"{label}-1", label]},
        headers=headers,
    )
    assert bulk.status_code == 202, bulk.text
    ids = [job["id"] for job in bulk.json()["jobs"]]
    assert ids[1] == first.json()["id"] and ids[0] != ids[1]
    assert queued(url) == before + 2
    with session(url) as db:
        row = db.get(QueuedJob, first.json()["id"])
        assert row is not None
        assert (row.priority, row.tags, row.params) == (2, ["http"], {"note": "a", **row.params})


def test_past_its_rate_a_key_gets_429_with_retry_after(app_db_url: str) -> None:
    settings = Settings(database_url=app_db_url, server_port=free_port(), api_rate_limit="3/minute")
    headers = key("submit", app_db_url)
    other = key("submit", app_db_url)
    with ThreadedApi(settings) as api, httpx.Client(base_url=api.url) as http:
        answers = [http.post("/jobs/nope", json={}, headers=headers) for _ in range(4)]
        assert [answer.status_code for answer in answers] == [404, 404, 404, 429]
        limited = answers[-1]
        assert 1 <= int(limited.headers["Retry-After"]) <= 60
        assert limited.json()["detail"].startswith("rate limit of key 'test-submit-")
        assert http.post("/jobs/nope", json={}, headers=other).status_code == 404  # its own


def test_the_docs_show_each_job_types_parameters(api: ThreadedApi) -> None:
    schema = httpx.get(f"{api.url}/openapi.json").json()
    components = schema["components"]["schemas"]
    email = schema["paths"]["/jobs/email"]["post"]
    assert email["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/SendEmailJob"
    }
    body = components["SendEmailJob"]
    assert body["properties"]["params"]["$ref"] == "#/components/schemas/SendEmail"
    assert {"priority", "delay", "run_at", "idempotency_key", "tags"} <= set(body["properties"])
    assert "subject" in components["SendEmail"]["properties"]
    bulk = components["PingJobs"]["properties"]
    assert bulk["params"]["items"] == {"$ref": "#/components/schemas/Ping"}
    assert "idempotency_keys" in bulk
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    docs = httpx.get(f"{api.url}/docs")
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    assert "https://" not in docs.text  # the page's files are served by the API itself
    script = httpx.get(f"{api.url}/docs/static/swagger-ui-bundle.js")
    assert script.status_code == 200 and "SwaggerUIBundle" in script.text


def test_a_rate_limit_setting_that_does_not_parse_is_refused_saying_what_it_takes() -> None:
    with pytest.raises(ValidationError, match=r"api_rate_limit: expected one limit .* got str "):
        Settings(api_rate_limit="fifty a second")
    with pytest.raises(ValidationError, match=r"got str '0/second'"):
        Settings(api_rate_limit="0/second")
    assert Settings(api_rate_limit="1000/hour").api_rate_limit == "1000/hour"


def test_an_unreachable_server_is_503_and_takes_nothing(
    api: ThreadedApi, settings: Settings
) -> None:
    headers = key("admin", settings.app_database_url)
    before = queued(settings.app_database_url)
    letter = {"subject": "News", "text": "Hello", "recipients": [{"email": "a@example.com"}]}
    submit = httpx.post(f"{api.url}/jobs/newsletter", json={"params": letter}, headers=headers)
    assert submit.status_code == 503
    assert submit.json()["detail"].startswith(
        f"could not submit newsletter jobs at {settings.api_url}"
    )
    status = httpx.get(f"{api.url}/jobs/{uuid.uuid4()}", headers=headers)
    assert status.status_code == 503
    assert status.json()["detail"].startswith(f"could not read a job at {settings.api_url}")
    assert queued(settings.app_database_url) == before
