"""What the client checks before it talks to the Prefect server."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from jobs import outbox, registry
from jobs.client import Client
from jobs.email.params import SendEmail
from jobs.errors import InvalidJobParams, ServerUnavailable, SubmitFailed
from jobs.params import JobParams
from jobs.settings import Settings

DEAD_URL = "http://127.0.0.1:9/api"  # the discard port: nothing answers there


def email(**changes: Any) -> dict[str, Any]:
    return {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi Ada", **changes}


@pytest.fixture
def offline(app_db_url: str) -> Client:
    """A client whose server cannot be reached: any contact fails with SubmitFailed. Its
    application database (the outbox) is there."""
    return Client(Settings(prefect_api_url=DEAD_URL, database_url=app_db_url))


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
        ({"delay": -5}, "delay: expected seconds"),
        ({"run_at": datetime(2031, 1, 1)}, "run_at: expected a timezone-aware"),  # noqa: DTZ001
        ({"idempotency_key": ""}, "idempotency_key: expected a non-empty string"),
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
        offline.submit("email", email(), lane="flow")

    message = str(info.value)
    assert message.startswith(f"could not submit email jobs at {DEAD_URL}: ")


def test_valid_model_submit_to_an_unreachable_server_names_the_url(offline: Client) -> None:
    with pytest.raises(SubmitFailed, match=f"at {DEAD_URL}"):
        offline.submit(SendEmail.model_validate(email()), lane="flow")


def test_a_batched_submit_is_kept_in_the_outbox_while_the_server_is_away(
    offline: Client,
) -> None:
    job = offline.submit("email", email(subject="Kept"))

    row = outbox.get(str(job.id), offline.settings.app_database_url)
    assert row is not None
    assert (row.job_type, row.lane, row.state) == ("email", "batch", "queued")
    assert row.params["subject"] == "Kept"


def test_a_batched_submit_to_a_database_without_the_outbox_says_how_to_make_it(
    tmp_path: Path,
) -> None:
    bare = Client(Settings(prefect_api_url=DEAD_URL, database_url=f"sqlite:///{tmp_path}/a.db"))

    with pytest.raises(SubmitFailed, match="python -m jobs migrate"):
        bare.submit("email", email())


def test_reads_of_an_unreachable_server_raise_server_unavailable(offline: Client) -> None:
    job = "8e4b8d2a-6a8a-4f0e-9d55-0c7c4c0c2a11"
    for read in (lambda: offline.status(job), lambda: offline.stats("email")):
        with pytest.raises(ServerUnavailable, match=f"at {DEAD_URL}") as info:
            read()
        assert not isinstance(info.value, SubmitFailed)
