"""Run names: job type and subject, short, without secrets or message bodies."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from prefect import Flow, Task
from prefect.runtime import flow_run

from flows import data, mail, maintenance, media, outbound
from jobs import titles
from jobs.data import titles as data_titles
from jobs.data.params import CancelStaleOrders, DailyRollups, ExportTable, WeeklyReport
from jobs.email import titles as email_titles
from jobs.email.params import Recipient, SendEmail, SendNewsletter
from jobs.images import titles as media_titles
from jobs.images.params import ImagesToPdf, MakeThumbnails, ProcessImage, TranscodeVideo
from jobs.maintenance import titles as maintenance_titles
from jobs.maintenance.params import CleanupDatabase, InvalidateCache, SendReminders
from jobs.outbound import titles as outbound_titles
from jobs.outbound.params import ApiCall, DeliverWebhook
from jobs.registry import JOB_TYPES

EMAIL = {"subject": "Your password: hunter2", "text": "Secret body text"}


def flow_run_name(job_flow: Flow[Any, Any], monkeypatch: pytest.MonkeyPatch, params: Any) -> str:
    """The name Prefect gives a run of ``job_flow`` with these params, as the engine asks."""
    monkeypatch.setattr(flow_run, "parameters", {"params": params}, raising=False)
    namer = job_flow.flow_run_name
    assert callable(namer)
    name = namer()
    assert isinstance(name, str)
    return name


def task_run_name(task: Task[Any, Any], **parameters: Any) -> str:
    namer = task.task_run_name
    assert callable(namer)
    name = namer(parameters=parameters)  # type: ignore[call-arg]
    assert isinstance(name, str)
    return name


# --- the helpers ------------------------------------------------------------------------------


def test_shorten_keeps_short_text_and_cuts_long_text_in_the_middle() -> None:
    assert titles.shorten("image photos/cat.jpg") == "image photos/cat.jpg"
    long = "image " + "a/" * 60 + "cat.jpg"
    short = titles.shorten(long)
    assert len(short) == titles.MAX_LENGTH
    assert short.startswith("image a/a/") and short.endswith("a/cat.jpg")
    assert titles.ELLIPSIS in short


def test_shorten_makes_one_line_of_control_characters() -> None:
    assert titles.shorten("a\nb\r\n\tc\x00d") == "a b c d"


def test_host_drops_credentials_port_path_and_query() -> None:
    url = "https://user:pw@API.example.com:8443/v1/sync/tok123?token=abc#frag"
    assert titles.host(url) == "api.example.com"
    assert titles.where(url) == "api.example.com/v1/sync/tok123"
    assert titles.where("https://example.com?token=abc") == "example.com/"
    assert titles.without_query(url) == "https://API.example.com:8443/v1/sync/tok123"
    assert titles.host("not a url") == "?"


@pytest.mark.parametrize(
    ("addresses", "text"),
    [([], "nobody"), (["a@x.io"], "a@x.io"), (["a@x.io", "b@x.io", "c@x.io"], "a@x.io +2")],
)
def test_people_names_the_first_and_counts_the_rest(addresses: list[str], text: str) -> None:
    assert titles.people(addresses) == text


def test_a_subject_that_fails_leaves_the_prefix_alone() -> None:
    def broken() -> str:
        raise KeyError("params")

    assert titles.safely("email", broken) == "email"


# --- subjects per job type --------------------------------------------------------------------


def test_email_names_its_first_recipient_and_counts_the_others() -> None:
    one = SendEmail(to=["ada@example.com"], **EMAIL)
    three = SendEmail(to=["ada@example.com"], cc=["bob@example.com"], bcc=["eve@x.io"], **EMAIL)
    assert email_titles.email(one) == "→ ada@example.com"
    assert email_titles.email(three) == "→ ada@example.com +2"


def test_newsletter_counts_recipients_after_its_campaign_key() -> None:
    recipients = [{"email": f"user{i}@example.com"} for i in range(3)]
    plain = SendNewsletter(recipients=recipients, **EMAIL)
    keyed = SendNewsletter(recipients=recipients[:1], campaign_key="spring-sale", **EMAIL)
    assert email_titles.newsletter(plain) == "→ 3 recipients"
    assert email_titles.newsletter(keyed) == "spring-sale → 1 recipient"
    chunk = [Recipient(email="a@example.com"), Recipient(email="b@example.com")]
    assert email_titles.chunk(chunk) == "→ a@example.com +1"


def test_webhook_names_event_and_host_or_endpoint() -> None:
    by_url = DeliverWebhook(
        event="order.paid",
        payload={"card": "4242"},
        url="https://hooks.example.com/in/T0KEN?sig=abc",
        secret_block="hook-secret",
    )
    by_endpoint = DeliverWebhook(event="order.paid", payload={}, endpoint_id=3)
    assert outbound_titles.webhook(by_url) == "order.paid → hooks.example.com"
    assert outbound_titles.webhook(by_endpoint) == "order.paid → endpoint 3"


def test_api_call_names_method_and_host() -> None:
    params = ApiCall(
        url="https://api.example.com/v1/sync?api_key=abc",
        secret_headers={"Authorization": "api-token"},
        json_body={"since": "2026-01-01"},
    )
    assert outbound_titles.api_call(params) == "POST api.example.com"


def test_media_names_files_relative_to_the_storage_root() -> None:
    image = ProcessImage(source="photos/cat.jpg", width=600, height=400, fit="cover")
    assert media_titles.image(image) == "photos/cat.jpg → cat.600x400-cover.jpg"
    thumbs = MakeThumbnails(source="photos/cat.jpg")
    assert media_titles.thumbnails(thumbs) == "photos/cat.jpg (150, 300, 600 px)"
    pdf = ImagesToPdf(sources=["scans/1.jpg", "scans/2.png"], output="scans/all.pdf")
    assert media_titles.pdf(pdf) == "scans/all.pdf (2 images)"
    video = TranscodeVideo(source="clips/intro.mov", max_height=720)
    assert media_titles.video(video) == "clips/intro.mov → intro.720p.h264.mp4"
    assert media_titles.poster(video) == "clips/intro.mov → intro.poster.jpg"


def test_data_names_table_formats_and_days_but_no_filter_values() -> None:
    export = ExportTable(table="orders", formats=["csv"], where={"status": "paid"})
    assert data_titles.export(export) == "orders (csv)"
    ranged = ExportTable(
        table="users",
        since=datetime(2026, 1, 1, tzinfo=UTC),
        until=datetime(2026, 2, 1, tzinfo=UTC),
    )
    assert (
        data_titles.export(ranged) == "users (csv, xlsx, parquet) since 2026-01-01 until 2026-02-01"
    )
    report = WeeklyReport(week_ending=date(2025, 11, 23), currency="USD")
    assert data_titles.report(report) == "week ending 2025-11-23 (USD)"
    rollup = DailyRollups(start=date(2025, 11, 17), end=date(2025, 11, 23))
    assert data_titles.rollup(rollup) == "2025-11-17 to 2025-11-23"
    assert data_titles.stale_orders(CancelStaleOrders(older_than_days=30)) == "pending over 30 days"


def test_maintenance_names_only_what_differs_from_the_defaults() -> None:
    assert maintenance_titles.db_cleanup(CleanupDatabase()) == ""
    assert maintenance_titles.db_cleanup(CleanupDatabase(vacuum=False)) == "without vacuum"
    assert maintenance_titles.cache_cleanup(InvalidateCache()) == ""
    assert maintenance_titles.cache_cleanup(InvalidateCache(max_age_hours=24)) == "older than 24 h"
    assert maintenance_titles.reminders(SendReminders(days_before=7)) == "ending within 7 days"


# --- what the flows and tasks are named -------------------------------------------------------


def test_flow_runs_are_named_by_job_type_and_subject(monkeypatch: pytest.MonkeyPatch) -> None:
    email = SendEmail(to=["ada@example.com", "bob@example.com", "cy@example.com"], **EMAIL)
    assert flow_run_name(mail.send_email, monkeypatch, email) == "email → ada@example.com +2"
    call = ApiCall(method="GET", url="https://api.example.com/v1/me?token=abc")
    assert flow_run_name(outbound.call_api, monkeypatch, call) == "api_call GET api.example.com"
    image = ProcessImage(source="photos/cat.jpg", width=600)
    assert flow_run_name(media.process_image, monkeypatch, image) == (
        "image photos/cat.jpg → cat.600w.jpg"
    )
    export = ExportTable(table="orders", formats=["csv"])
    assert flow_run_name(data.export_table, monkeypatch, export) == "export orders (csv)"
    cleanup = CleanupDatabase()
    assert flow_run_name(maintenance.cleanup_database, monkeypatch, cleanup) == "db_cleanup"


def test_raw_parameters_are_validated_before_naming(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = {"event": "user.created", "payload": [], "endpoint_id": 7}
    assert flow_run_name(outbound.deliver_webhook, monkeypatch, raw) == (
        "webhook user.created → endpoint 7"
    )


def test_parameters_that_cannot_be_named_leave_the_job_type(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert flow_run_name(mail.send_email, monkeypatch, {"to": "not a list"}) == "email"
    assert flow_run_name(mail.send_email, monkeypatch, None) == "email"


def test_names_hold_no_secrets_or_message_bodies(monkeypatch: pytest.MonkeyPatch) -> None:
    email = SendEmail(to=["ada@example.com"], **EMAIL)
    call = ApiCall(
        url="https://api.example.com/v1/sync?token=t0ps3cret",
        secret_headers={"Authorization": "api-token"},
        text_body="card 4242",
    )
    names = [
        flow_run_name(mail.send_email, monkeypatch, email),
        task_run_name(mail.send_message, params=email, key="k", job_id="j"),
        flow_run_name(outbound.call_api, monkeypatch, call),
        task_run_name(outbound.call, params=call, job_id="j"),
    ]
    for secret in ("hunter2", "Secret body", "t0ps3cret", "api-token", "4242", "/v1"):
        assert not [name for name in names if secret in name], secret


def test_names_are_at_most_80_characters(monkeypatch: pytest.MonkeyPatch) -> None:
    source = "photos/" + "very-long-folder-name/" * 10 + "cat.jpg"
    name = flow_run_name(media.process_image, monkeypatch, ProcessImage(source=source))
    assert len(name) == 80
    assert name.startswith("image photos/very-long") and name.endswith("cat.full.jpg")


def test_the_two_deliver_tasks_have_distinct_names_and_runs() -> None:
    email = SendEmail(to=["ada@example.com"], **EMAIL)
    hook = DeliverWebhook(
        event="order.paid", payload={}, url="https://hooks.example.com/x", secret_block="s"
    )
    assert (mail.send_message.name, outbound.deliver.name) == ("send-email", "deliver-webhook")
    assert task_run_name(mail.send_message, params=email, key="k", job_id="j") == (
        "send-email → ada@example.com"
    )
    assert task_run_name(outbound.deliver, params=hook, job_id="j") == (
        "deliver-webhook order.paid → hooks.example.com"
    )
    chunk = [Recipient(email="a@example.com"), Recipient(email="b@example.com")]
    assert task_run_name(mail.send_chunk, recipients=chunk) == (
        "send-newsletter-chunk → a@example.com +1"
    )


def test_flow_names_stay_those_deployments_refer_to() -> None:
    flows = [
        value
        for module in (data, mail, maintenance, media, outbound)
        for value in vars(module).values()
        if isinstance(value, Flow)
    ]
    names = {job_flow.name for job_flow in flows}
    assert names == {kind.flow for kind in JOB_TYPES.values()} - {"ping"}
    assert all(job_flow.flow_run_name is not None for job_flow in flows)
