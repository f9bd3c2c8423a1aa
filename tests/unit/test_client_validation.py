"""What the client checks before it talks to the Prefect server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from jobs import registry
from jobs.client import Client, _checked_keys, _start_time
from jobs.errors import InvalidJobParams, SubmitFailed
from jobs.params import JobParams, SendEmail
from jobs.settings import Settings

DEAD_URL = "http://127.0.0.1:9/api"  # the discard port: nothing answers there


def email(**changes: Any) -> dict[str, Any]:
    return {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi Ada", **changes}


@pytest.fixture
def offline() -> Client:
    """A client whose server cannot be reached: any contact fails with SubmitFailed."""
    return Client(Settings(prefect_api_url=DEAD_URL))


# -- start time -----------------------------------------------------------------------------


def test_no_delay_and_no_run_at_means_now() -> None:
    assert _start_time(None, None) is None


@pytest.mark.parametrize("delay", [90, 90.0, timedelta(seconds=90), timedelta(minutes=1.5)])
def test_delay_is_added_to_now(delay: float | timedelta) -> None:
    before = datetime.now(UTC)
    when = _start_time(delay, None)
    after = datetime.now(UTC)

    assert when is not None
    assert when.tzinfo is not None
    assert before + timedelta(seconds=90) <= when <= after + timedelta(seconds=90)


def test_zero_delay_is_allowed() -> None:
    before = datetime.now(UTC)
    when = _start_time(0, None)

    assert when is not None
    assert when >= before


@pytest.mark.parametrize(
    ("delay", "shown"), [(-1, "-1.0"), (-0.5, "-0.5"), (timedelta(seconds=-30), "-30.0")]
)
def test_negative_delay_is_refused(delay: float | timedelta, shown: str) -> None:
    with pytest.raises(InvalidJobParams) as info:
        _start_time(delay, None)

    assert str(info.value) == f"delay must be zero or more seconds; got {shown}"


@pytest.mark.parametrize("delay", [float("nan"), float("inf")])
def test_non_finite_delay_is_refused(delay: float) -> None:
    with pytest.raises(InvalidJobParams, match="delay"):
        _start_time(delay, None)


def test_aware_run_at_is_kept() -> None:
    run_at = datetime(2031, 5, 17, 9, 30, tzinfo=timezone(timedelta(hours=2)))

    assert _start_time(None, run_at) == run_at


def test_naive_run_at_is_refused_and_shown() -> None:
    with pytest.raises(InvalidJobParams) as info:
        _start_time(None, datetime(2031, 5, 17, 9, 30))  # noqa: DTZ001 - naive on purpose

    assert str(info.value) == "run_at must be timezone-aware; got naive 2031-05-17T09:30:00"


def test_delay_and_run_at_together_are_refused() -> None:
    with pytest.raises(InvalidJobParams, match=r"^give delay or run_at, not both$"):
        _start_time(10, datetime.now(UTC))


# -- idempotency keys -----------------------------------------------------------------------


def test_no_keys_means_none_for_each_job() -> None:
    assert _checked_keys(None, 3) == [None, None, None]


def test_one_key_per_job_is_kept_in_order() -> None:
    assert _checked_keys(("a", "b", "c"), 3) == ["a", "b", "c"]


@pytest.mark.parametrize(("keys", "count"), [(["a", "b"], 3), (["a", "b", "c", "d"], 3), ([], 1)])
def test_wrong_number_of_keys_says_how_many_were_expected(keys: list[str], count: int) -> None:
    with pytest.raises(InvalidJobParams) as info:
        _checked_keys(keys, count)

    assert str(info.value) == (f"expected {count} idempotency keys, one per job; got {len(keys)}")


@pytest.mark.parametrize("keys", [["a", ""], ["a", None], ["a", 7]])
def test_empty_or_non_string_key_is_refused(keys: list[Any]) -> None:
    with pytest.raises(InvalidJobParams, match=r"^idempotency keys must be non-empty strings$"):
        _checked_keys(keys, 2)


# -- parameters as a whole ------------------------------------------------------------------


def test_validated_returns_the_job_type_and_models() -> None:
    kind, models = Client(Settings())._validated("email", [email(), email(subject="Again")])

    assert kind is registry.job_type("email")
    assert all(isinstance(m, SendEmail) for m in models)
    assert [m.model_dump()["subject"] for m in models] == ["Hello", "Again"]


def test_validated_takes_the_job_type_from_a_model() -> None:
    model = SendEmail.model_validate(email())

    kind, models = Client(Settings())._validated(None, [model])

    assert kind.name == "email"
    assert models == [model]


def test_oversize_params_are_refused_with_size_and_limit() -> None:
    client = Client(Settings(max_params_bytes=200))
    small, large = email(), email(text="x" * 300)

    with pytest.raises(InvalidJobParams) as info:
        client._validated("email", [small, large])

    message = str(info.value)
    assert message.startswith("email job parameters #1 are ")
    assert message.endswith("bytes as JSON; at most 200 are accepted")
    size = int(message.split(" are ")[1].split()[0])
    assert size > 300


def test_params_at_the_limit_are_accepted() -> None:
    client = Client(Settings(max_params_bytes=10_000))

    _, [model] = client._validated("email", [email(text="x" * 5_000)])

    assert isinstance(model, SendEmail)


def test_dict_without_a_job_type_is_refused() -> None:
    with pytest.raises(InvalidJobParams, match=r"^no job type takes dict parameters$"):
        Client(Settings())._validated(None, [email()])


def test_model_of_no_job_type_is_refused_by_name() -> None:
    class Unregistered(JobParams):
        value: int = 1

    with pytest.raises(InvalidJobParams, match=r"^no job type takes Unregistered parameters$"):
        Client(Settings())._validated(None, [Unregistered()])


# -- submit: checks first, then the server --------------------------------------------------


def test_invalid_params_are_refused_before_the_server_is_contacted(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match=r"to\.0: value is not a valid email address"):
        offline.submit("email", email(to=["not-an-address"]))


def test_unknown_job_type_is_refused_before_the_server_is_contacted(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match=r"^job_type: expected one of .*, got str 'sms'$"):
        offline.submit("sms", email())


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({"priority": 0}, "priority: expected an integer from 1"),
        ({"delay": -5}, "delay must be zero or more seconds"),
        ({"run_at": datetime(2031, 1, 1)}, "run_at must be timezone-aware"),  # noqa: DTZ001
        ({"idempotency_key": ""}, "idempotency keys must be non-empty strings"),
    ],
)
def test_invalid_options_are_refused_before_the_server_is_contacted(
    offline: Client, options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(InvalidJobParams, match=expected):
        offline.submit("email", email(), **options)


def test_oversize_params_are_refused_before_the_server_is_contacted() -> None:
    client = Client(Settings(prefect_api_url=DEAD_URL, max_params_bytes=200))

    with pytest.raises(InvalidJobParams, match="at most 200 are accepted"):
        client.submit("email", email(text="x" * 300))


def test_oversize_params_of_a_single_submit_are_not_named_by_an_index() -> None:
    client = Client(Settings(prefect_api_url=DEAD_URL, max_params_bytes=200))

    with pytest.raises(InvalidJobParams) as info:
        client.submit("email", email(text="x" * 300))

    assert str(info.value).startswith("email job parameters are ")
    assert "#" not in str(info.value)


def test_oversize_params_in_a_batch_are_named_by_their_index_even_alone() -> None:
    client = Client(Settings(prefect_api_url=DEAD_URL, max_params_bytes=200))

    with pytest.raises(InvalidJobParams, match=r"^email job parameters #0 are "):
        client.submit_many("email", [email(text="x" * 300)])


def test_invalid_params_of_a_single_submit_are_not_named_by_an_index(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match=r"^invalid email job parameters: to\.0: "):
        offline.submit("email", email(to=["broken"]))


def test_invalid_params_in_a_batch_of_one_are_named_by_their_index(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match=r"^invalid email job parameters #0: to\.0: "):
        offline.submit_many("email", [email(to=["broken"])])


def test_one_bad_job_in_a_batch_stops_the_whole_batch(offline: Client) -> None:
    batch = [email(), email(), email(to=["broken"])]

    with pytest.raises(InvalidJobParams, match=r"to\.0: value is not a valid email address"):
        offline.submit_many("email", batch)


def test_bad_job_in_a_batch_is_named_by_its_index(offline: Client) -> None:
    batch = [email(), email(), email(to=["broken"])]

    with pytest.raises(InvalidJobParams, match="#2"):
        offline.submit_many("email", batch)


def test_valid_submit_to_an_unreachable_server_names_the_url(offline: Client) -> None:
    with pytest.raises(SubmitFailed) as info:
        offline.submit("email", email())

    message = str(info.value)
    assert message.startswith(f"could not submit email jobs at {DEAD_URL}: ")


def test_valid_model_submit_to_an_unreachable_server_names_the_url(offline: Client) -> None:
    with pytest.raises(SubmitFailed, match=f"at {DEAD_URL}"):
        offline.submit(SendEmail.model_validate(email()))
