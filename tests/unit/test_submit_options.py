"""Every submit option is checked before the server is contacted, and refused by name.

A refusal is ``<option>: expected <what it takes>, got <type> <value>``, in an InvalidJobParams
(so a ``jobs.JobsError``). The client here points at an address where nothing answers: a submit
that got as far as contacting the server would fail with SubmitFailed instead, so each refusal
below is also proof that nothing was sent. What valid options send is checked on a real server
(tests/integration/test_bulk_submit.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

import jobs
from jobs import registry
from jobs.client import Client
from jobs.email.params import SendEmail
from jobs.errors import InvalidJobParams, JobsError
from jobs.options import MAX_DELAY, SubmitOptions
from jobs.settings import Settings

DEAD_URL = "http://127.0.0.1:9/api"  # the discard port: nothing answers there
PRIORITY = "an integer from 1 (urgent) to 10 (low)"
DELAY = "seconds (int or float) or a timedelta, from 0 to 3650 days (ten years)"
RUN_AT = "a timezone-aware datetime"
KEY = "a non-empty string of at most 255 characters"
KEYS = "a list or tuple of idempotency keys, one per job"
TAGS = "a list, tuple or set of at most 50 tags"
TAG = "a non-empty string of at most 100 characters"
PARAMS_LIST = "a list or tuple of job parameters"
KNOWN = ", ".join(sorted(registry.JOB_TYPES))
TOO_MANY = [f"t{i}" for i in range(51)]


def email(**changes: Any) -> dict[str, Any]:
    return {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi Ada", **changes}


def pings(count: int) -> list[dict[str, Any]]:
    return [{"note": f"n{i}"} for i in range(count)]


@pytest.fixture
def client(app_db_url: str) -> Client:
    return Client(Settings(prefect_api_url=DEAD_URL, database_url=app_db_url))


def refusal(client: Client, **options: Any) -> str:
    """The message a single submit with ``options`` is refused with; nothing may be sent."""
    with pytest.raises(InvalidJobParams) as info:
        client.submit("email", email(), **options)
    return str(info.value)


def batch_refusal(client: Client, job_type: Any, params: Any, **options: Any) -> str:
    """The message a ``submit_many`` is refused with; nothing may be sent."""
    with pytest.raises(InvalidJobParams) as info:
        client.submit_many(job_type, params, **options)
    return str(info.value)


# -- first tries of a new user: each a JobsError naming the option, what it takes, what it got -


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"run_at": "not-a-date"}, f"run_at: expected {RUN_AT}, got str 'not-a-date'"),
        ({"tags": ["x", {"a": 1}]}, f"tags.1: expected {TAG}, got dict of 1 item {{'a': 1}}"),
        ({"tags": "urgent"}, f"tags: expected {TAGS}, got str 'urgent'"),
        ({"delay": "10"}, f"delay: expected {DELAY}, got str '10'"),
        (
            {"idempotency_key": "k" * 100_000},
            f"idempotency_key: expected {KEY}, got str of 100000 characters '{'k' * 76}...",
        ),
    ],
    ids=["run_at-str", "tag-dict", "tags-str", "delay-str", "key-100k"],
)
def test_what_a_new_user_tried_is_refused_as_a_jobs_error(
    client: Client, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(JobsError) as info:
        client.submit("email", email(), **options)

    assert isinstance(info.value, InvalidJobParams)
    assert str(info.value) == message


# -- priority -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "got"),
    [
        (0, "int 0"),
        (11, "int 11"),
        (-1, "int -1"),
        (True, "bool True"),
        ("5", "str '5'"),
        (2.0, "float 2.0"),
        (None, "NoneType None"),
    ],
)
def test_priority_outside_1_to_10_or_not_an_int_is_refused(
    client: Client, priority: Any, got: str
) -> None:
    assert refusal(client, priority=priority) == f"priority: expected {PRIORITY}, got {got}"


@pytest.mark.parametrize("priority", [1, 5, 10])
def test_priorities_from_1_to_10_are_accepted(priority: int) -> None:
    assert SubmitOptions.checked(priority=priority).priority == priority


# -- delay and run_at -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("delay", "got"),
    [
        ("10", "str '10'"),
        (True, "bool True"),
        (-5, "int -5"),
        (-0.5, "float -0.5"),
        (float("nan"), "float nan"),
        (float("inf"), "float inf"),
        (1e300, "float 1e+300"),
        pytest.param(10**5000, "int <int object>", id="int-too-long-to-show"),
        (timedelta(seconds=-30), "timedelta of -30.0 seconds"),
        (MAX_DELAY + timedelta(seconds=1), "timedelta of 315360001.0 seconds"),
        (315_360_001, "int 315360001"),
        ([10], "list of 1 item [10]"),
    ],
)
def test_delay_that_is_not_0_to_ten_years_of_seconds_is_refused(
    client: Client, delay: Any, got: str
) -> None:
    assert refusal(client, delay=delay) == f"delay: expected {DELAY}, got {got}"


@pytest.mark.parametrize(
    "delay", [90, 90.0, timedelta(seconds=90), timedelta(minutes=1.5)], ids=repr
)
def test_delay_is_added_to_now(delay: float | timedelta) -> None:
    before = datetime.now(UTC)
    when = SubmitOptions.checked(delay=delay).start_time()
    after = datetime.now(UTC)

    assert when is not None
    assert when.tzinfo is not None
    assert before + timedelta(seconds=90) <= when <= after + timedelta(seconds=90)


@pytest.mark.parametrize("delay", [0, 0.0, timedelta(0), MAX_DELAY, MAX_DELAY.total_seconds()])
def test_delay_from_0_to_ten_years_is_accepted(delay: float | timedelta) -> None:
    before = datetime.now(UTC)

    when = SubmitOptions.checked(delay=delay).start_time()

    assert when is not None
    assert before <= when <= datetime.now(UTC) + MAX_DELAY


def test_no_delay_and_no_run_at_means_now() -> None:
    assert SubmitOptions.checked().start_time() is None


@pytest.mark.parametrize(
    ("run_at", "got"),
    [
        ("not-a-date", "str 'not-a-date'"),
        ("2031-05-17T09:30:00+00:00", "str '2031-05-17T09:30:00+00:00'"),  # text is not parsed
        (datetime(2031, 5, 17, 9, 30), "naive datetime 2031-05-17T09:30:00"),  # noqa: DTZ001
        (date(2031, 5, 17), "date datetime.date(2031, 5, 17)"),
        (1_968_000_000, "int 1968000000"),
        (timedelta(hours=1), "timedelta of 3600.0 seconds"),
    ],
)
def test_run_at_that_is_not_an_aware_datetime_is_refused(
    client: Client, run_at: Any, got: str
) -> None:
    assert refusal(client, run_at=run_at) == f"run_at: expected {RUN_AT}, got {got}"


def test_aware_run_at_is_kept() -> None:
    run_at = datetime(2031, 5, 17, 9, 30, tzinfo=timezone(timedelta(hours=2)))

    assert SubmitOptions.checked(run_at=run_at).start_time() == run_at


def test_delay_and_run_at_together_are_refused(client: Client) -> None:
    run_at = datetime(2031, 1, 1, tzinfo=UTC)

    assert refusal(client, delay=10, run_at=run_at) == (
        "delay and run_at: expected one or the other, not both, "
        "got delay int 10 and run_at datetime 2031-01-01T00:00:00+00:00"
    )


# -- idempotency keys -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "got"),
    [
        ("", "str ''"),
        ("k" * 256, f"str of 256 characters '{'k' * 76}..."),
        (5, "int 5"),
        (b"key", "bytes b'key'"),
        (["key"], "list of 1 item ['key']"),
    ],
    ids=["empty", "256-chars", "int", "bytes", "list"],
)
def test_idempotency_key_that_is_not_a_short_string_is_refused(
    client: Client, key: Any, got: str
) -> None:
    assert refusal(client, idempotency_key=key) == f"idempotency_key: expected {KEY}, got {got}"


@pytest.mark.parametrize("key", ["k", "welcome-ada", "k" * 255])
def test_idempotency_key_of_1_to_255_characters_is_accepted(key: str) -> None:
    assert SubmitOptions.checked(idempotency_key=key).keys(1) == [key]


def test_no_keys_means_none_for_each_job() -> None:
    assert SubmitOptions.checked().keys(3) == [None, None, None]


def test_one_key_per_job_is_kept_in_order() -> None:
    options = SubmitOptions.checked(params_list=pings(3), idempotency_keys=("a", "b", "c"))

    assert options.keys(3) == ["a", "b", "c"]


@pytest.mark.parametrize(
    ("keys", "count", "got"),
    [
        (["a", "b"], 3, "list of 2 items ['a', 'b']"),
        (("a", "b", "c", "d"), 3, "tuple of 4 items ('a', 'b', 'c', 'd')"),
        ([], 1, "list of 0 items []"),
    ],
)
def test_wrong_number_of_keys_says_how_many_were_expected(
    client: Client, keys: Sequence[str], count: int, got: str
) -> None:
    message = batch_refusal(client, "ping", pings(count), idempotency_keys=keys)

    assert message == f"idempotency_keys: expected {count} keys, one per job, got {got}"


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        ("ab", f"idempotency_keys: expected {KEYS}, got str 'ab'"),
        (
            {"a": 1, "b": 2},
            f"idempotency_keys: expected {KEYS}, got dict of 2 items {{'a': 1, 'b': 2}}",
        ),
        (7, f"idempotency_keys: expected {KEYS}, got int 7"),
        (["a", ""], f"idempotency_keys.1: expected {KEY}, got str ''"),
        (["a", None], f"idempotency_keys.1: expected {KEY}, got NoneType None"),
        ([7, "b"], f"idempotency_keys.0: expected {KEY}, got int 7"),
        (
            ["a", "k" * 300],
            f"idempotency_keys.1: expected {KEY}, got str of 300 characters '{'k' * 76}...",
        ),
    ],
    ids=["str", "dict", "int", "empty", "none", "int-item", "long"],
)
def test_keys_that_are_not_a_list_of_short_strings_are_refused(
    client: Client, keys: Any, message: str
) -> None:
    assert batch_refusal(client, "ping", pings(2), idempotency_keys=keys) == message


# -- tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "message"),
    [
        ("urgent", f"tags: expected {TAGS}, got str 'urgent'"),
        (b"urgent", f"tags: expected {TAGS}, got bytes b'urgent'"),
        (None, f"tags: expected {TAGS}, got NoneType None"),
        ({"urgent": True}, f"tags: expected {TAGS}, got dict of 1 item {{'urgent': True}}"),
        (7, f"tags: expected {TAGS}, got int 7"),
        (TOO_MANY, f"tags: expected {TAGS}, got list of 51 items {repr(TOO_MANY)[:77]}..."),
        (["x", {"a": 1}], f"tags.1: expected {TAG}, got dict of 1 item {{'a': 1}}"),
        (["x", ""], f"tags.1: expected {TAG}, got str ''"),
        (("x" * 101,), f"tags.0: expected {TAG}, got str of 101 characters '{'x' * 76}..."),
        ([None], f"tags.0: expected {TAG}, got NoneType None"),
        (
            ["job:ping"],
            "tags.0: expected a tag not starting with 'job:', which marks job types, "
            "got str 'job:ping'",
        ),
    ],
    ids=[
        "str",
        "bytes",
        "none",
        "dict",
        "int",
        "51-tags",
        "dict-item",
        "empty",
        "101-chars",
        "none-item",
        "reserved",
    ],
)
def test_tags_that_are_not_a_collection_of_short_strings_are_refused(
    client: Client, tags: Any, message: str
) -> None:
    assert refusal(client, tags=tags) == message


@pytest.mark.parametrize(
    "tags",
    [
        ["a", "b"],
        ("a", "b"),
        {"a", "b"},
        frozenset({"a", "b"}),
        ["b", "a", "a"],
        {"a": 1, "b": 2}.keys(),
    ],
    ids=["list", "tuple", "set", "frozenset", "repeated", "dict-keys"],
)
def test_tags_in_a_list_tuple_or_set_are_accepted(tags: Any) -> None:
    assert sorted(SubmitOptions.checked(tags=tags).tags) == sorted(tags)


def test_fifty_tags_of_a_hundred_characters_are_accepted() -> None:
    tags = [f"{i:02}" + "x" * 98 for i in range(50)]

    assert SubmitOptions.checked(tags=tags).tags == tags


# -- job type, parameters list --------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "got"),
    [
        ("abc", "str 'abc'"),
        ({"note": "x"}, "dict of 1 item {'note': 'x'}"),
        (None, "NoneType None"),
        (7, "int 7"),
    ],
)
def test_params_list_that_is_not_a_list_is_refused(client: Client, params: Any, got: str) -> None:
    message = batch_refusal(client, "ping", params)

    assert message == f"params_list: expected {PARAMS_LIST}, got {got}"


@pytest.mark.parametrize(
    ("job_type", "got"),
    [("sms", "str 'sms'"), (["ping"], "list of 1 item ['ping']"), (None, "NoneType None")],
)
def test_submit_many_of_an_unknown_job_type_is_refused(
    client: Client, job_type: Any, got: str
) -> None:
    message = batch_refusal(client, job_type, pings(1))

    assert message == f"job_type: expected one of {KNOWN}, got {got}"


@pytest.mark.parametrize(
    ("job_type", "got"),
    [
        (None, "NoneType None"),
        (email(), "dict of 3 items {'to': ['ada@example.com'], "),
        (["email"], "list of 1 item ['email']"),
    ],
    ids=["none", "dict", "list"],
)
def test_submit_of_neither_a_job_type_nor_a_model_is_refused(
    client: Client, job_type: Any, got: str
) -> None:
    with pytest.raises(InvalidJobParams) as info:
        client.submit(job_type)

    assert str(info.value).startswith(
        "job_type: expected a job type's name or a parameter model such as jobs.SendEmail, "
        f"got {got}"
    )


def test_a_model_with_params_besides_is_refused(client: Client) -> None:
    with pytest.raises(InvalidJobParams) as info:
        client.submit(SendEmail.model_validate(email()), {"note": "x"})

    assert str(info.value) == (
        "params: expected none with a SendEmail model as job_type, got dict of 1 item {'note': 'x'}"
    )


def test_an_unknown_job_type_is_refused_before_the_options(client: Client) -> None:
    with pytest.raises(InvalidJobParams) as single:
        client.submit("sms", {}, tags="urgent")  # type: ignore[arg-type]

    assert str(single.value) == f"job_type: expected one of {KNOWN}, got str 'sms'"
    assert batch_refusal(client, "sms", "abc") == single.value.args[0]


# -- several problems, async forms, whole batches -------------------------------------------


def test_every_refused_option_is_named(client: Client) -> None:
    message = refusal(client, priority=0, tags="x", delay=-1)

    assert message == (
        f"priority: expected {PRIORITY}, got int 0; "
        f"delay: expected {DELAY}, got int -1; "
        f"tags: expected {TAGS}, got str 'x'"
    )


async def test_the_async_forms_refuse_options_alike(client: Client) -> None:
    with pytest.raises(InvalidJobParams) as refused_one:
        await client.submit_async("email", email(), tags="urgent")  # type: ignore[arg-type]
    with pytest.raises(InvalidJobParams) as refused_many:
        await client.submit_many_async("ping", pings(2), delay="10")  # type: ignore[arg-type]

    assert str(refused_one.value) == f"tags: expected {TAGS}, got str 'urgent'"
    assert str(refused_many.value) == f"delay: expected {DELAY}, got str '10'"


@pytest.mark.parametrize(
    "options",
    [
        {"tags": ["ok", 3]},
        {"idempotency_keys": [*(f"k{i}" for i in range(119)), ""]},
        {"priority": 11},
    ],
    ids=["tag", "last-key", "priority"],
)
def test_a_bad_option_sends_no_part_of_a_batch(client: Client, options: dict[str, Any]) -> None:
    with pytest.raises(InvalidJobParams):
        client.submit_many("ping", pings(120), **options)  # three bulk requests' worth


# -- valid options go on to the server ---------------------------------------------------


def test_a_valid_submit_goes_on_to_the_unreachable_server(client: Client) -> None:
    # no stand-in here: the real connection is tried, and fails, once the checks have passed
    with pytest.raises(jobs.SubmitFailed, match=f"could not submit ping jobs at {DEAD_URL}"):
        client.submit(
            "ping", {}, priority=10, delay=0, idempotency_key="k", tags=["t"], lane="flow"
        )
