"""Hostile or mistaken parameters of each job family are refused at submit, before the client
contacts the server: its server here cannot be reached, so a job that got as far as being sent
would fail with SubmitFailed instead of the InvalidJobParams expected."""

from __future__ import annotations

import pytest

from jobs.client import Client
from jobs.errors import InvalidJobParams
from jobs.settings import Settings
from tests.support.emails import unique_address, welcome

DEAD_URL = "http://127.0.0.1:9/api"  # the discard port: nothing answers there


@pytest.fixture
def offline() -> Client:
    return Client(Settings(prefect_api_url=DEAD_URL))


def test_invalid_email_params_are_refused(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match=r"to\.0: value is not a valid email address"):
        offline.submit("email", welcome("not-an-address"))
    with pytest.raises(InvalidJobParams, match="CR or LF"):
        offline.submit("email", welcome(unique_address(), subject="Hi\r\nBcc: all@example.com"))


def test_export_of_a_table_or_column_off_the_allow_list_is_refused(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match="table: Value error, must be one of the exportable"):
        offline.submit("export", {"table": "side_effects"})
    with pytest.raises(InvalidJobParams, match=r"columns \['token'\] are not exportable"):
        offline.submit("export", {"table": "sessions", "columns": ["id", "token"]})


def test_paths_out_of_the_storage_root_are_refused(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match=r"source: .*inside the storage root"):
        offline.submit("image", {"source": "../../etc/passwd", "format": "png"})
    with pytest.raises(InvalidJobParams, match=r"sources\.0: .*relative to the storage root"):
        offline.submit("pdf", {"sources": ["/etc/hosts"], "output": "hosts.pdf"})


def test_bad_urls_are_refused(offline: Client) -> None:
    with pytest.raises(InvalidJobParams, match=r"url: .*must use http or https; got scheme 'file'"):
        offline.submit("api_call", {"url": "file:///etc/passwd"})
    with pytest.raises(InvalidJobParams, match="url needs secret_block"):
        offline.submit("webhook", {"url": "https://example.com/", "event": "e", "payload": {}})
