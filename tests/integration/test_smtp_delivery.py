"""Delivery over real SMTP (loopback aiosmtpd) with the ledger on the session's SQLite database."""

from __future__ import annotations

import smtplib
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any

import pytest

from jobs import ledger
from jobs.db.models import EffectStatus
from jobs.email import send
from jobs.email.params import Recipient, SendEmail, SendNewsletter
from jobs.email.smtp import connect, deliver
from jobs.errors import PermanentJobError
from jobs.settings import get_settings
from tests.support.smtp import Recorder

pytestmark = pytest.mark.usefixtures("app_db")

REJECTED = "nobody@example.com"  # refused with 550 at RCPT by the session's server


def unique_address() -> str:
    return f"user-{uuid.uuid4().hex[:10]}@example.com"


def unique_key(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4()}"


def welcome(*to: str, **changes: Any) -> SendEmail:
    return SendEmail(
        to=list(to),
        subject="Welcome aboard",
        template="welcome",
        context={"name": "Ada", "app_name": "Acme"},
        **changes,
    )


def newsletter(addresses: list[str], **changes: Any) -> SendNewsletter:
    return SendNewsletter(
        subject="Spring news",
        template="newsletter",
        context={
            "headline": "Spring release",
            "body_paragraphs": ["Faster queues.", "New dashboard."],
            "unsubscribe_url": "https://example.com/unsubscribe",
        },
        recipients=[
            Recipient(email=address, context={"name": f"Reader {n}"})
            for n, address in enumerate(addresses)
        ],
        **changes,
    )


def plain(to: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "jobs@example.org"
    msg["To"] = to
    msg["Subject"] = "Plain"
    msg.set_content("Hello")
    return msg


@contextmanager
def failing_delivery(recorder: Recorder, number: int, reply: str) -> Iterator[None]:
    """Answer the ``number``-th DATA command from now with ``reply``, through ``fail_next``.

    The hook is bound when a connection opens, so use it before connecting.
    """
    original = recorder.handle_DATA
    seen = 0

    async def handle_DATA(server: Any, session: Any, envelope: Any) -> str:
        nonlocal seen
        seen += 1
        if seen == number:
            recorder.fail_next(1, reply)
        return await original(server, session, envelope)

    recorder.handle_DATA = handle_DATA  # type: ignore[method-assign]
    try:
        yield
    finally:
        del recorder.handle_DATA


@contextmanager
def smtp_connection() -> Iterator[smtplib.SMTP]:
    with connect(get_settings()) as conn:
        yield conn


def send_plain(conn: smtplib.SMTP, address: str) -> dict[str, str]:
    return deliver(conn, plain(address), [address])


# -- smtp.deliver ---------------------------------------------------------------------------


def test_deliver_sends_the_message(smtp: Recorder) -> None:
    address = unique_address()

    with smtp_connection() as conn:
        refused = send_plain(conn, address)

    assert refused == {}
    [received] = smtp.to(address)
    assert received["Subject"] == "Plain"
    assert received.get_content().strip() == "Hello"


def test_deliver_451_is_transient_not_permanent(smtp: Recorder) -> None:
    smtp.fail_next(1, "451 4.3.0 Mailbox busy, try again")
    address = unique_address()

    with smtp_connection() as conn, pytest.raises(smtplib.SMTPDataError) as info:
        send_plain(conn, address)

    assert not isinstance(info.value, PermanentJobError)
    assert info.value.smtp_code == 451
    assert b"Mailbox busy" in info.value.smtp_error
    assert smtp.messages == []


def test_deliver_after_a_transient_failure_on_the_same_connection(smtp: Recorder) -> None:
    smtp.fail_next(1)
    address = unique_address()

    with smtp_connection() as conn:
        with pytest.raises(smtplib.SMTPDataError):
            send_plain(conn, address)
        assert send_plain(conn, address) == {}

    assert len(smtp.to(address)) == 1


def test_deliver_to_a_rejected_recipient_is_permanent_and_names_it(smtp: Recorder) -> None:
    with smtp_connection() as conn, pytest.raises(PermanentJobError) as info:
        send_plain(conn, REJECTED)

    message = str(info.value)
    assert message.startswith("SMTP server refused every recipient: ")
    assert f"{REJECTED}: 550" in message
    assert "No such user here" in message
    assert isinstance(info.value.__cause__, smtplib.SMTPRecipientsRefused)
    assert smtp.messages == []


def test_deliver_message_rejected_at_data_with_5xx_is_permanent(smtp: Recorder) -> None:
    smtp.fail_next(1, "554 5.6.0 Message content rejected")

    with smtp_connection() as conn, pytest.raises(PermanentJobError) as info:
        send_plain(conn, unique_address())

    assert str(info.value) == "SMTP server rejected the message: 554 5.6.0 Message content rejected"
    assert smtp.messages == []


def test_deliver_partial_refusal_returns_the_refused(smtp: Recorder) -> None:
    good = unique_address()

    with smtp_connection() as conn:
        refused = deliver(conn, plain(good), [good, REJECTED])

    assert refused == {REJECTED: "550 5.1.1 No such user here"}
    assert len(smtp.to(good)) == 1
    assert smtp.to(REJECTED) == []


# -- send.send_email ------------------------------------------------------------------------


def test_send_email_sends_once_per_key(smtp: Recorder) -> None:
    address, key = unique_address(), unique_key("welcome")

    first = send.send_email(welcome(address), key, "job-1")
    second = send.send_email(welcome(address), key, "job-2")

    assert first.startswith("sent <")
    assert second == f"not sent again: message {key!r} is already done"
    [received] = smtp.to(address)
    assert received["Message-ID"] in first
    assert received["Subject"] == "Welcome aboard"
    assert ledger.status_of([key]) == {key: EffectStatus.DONE}


def test_send_email_reaches_to_cc_and_bcc_and_hides_bcc(smtp: Recorder) -> None:
    to, cc, bcc = unique_address(), unique_address(), unique_address()

    send.send_email(welcome(to, cc=[cc], bcc=[bcc]), unique_key("cc"), "job-1")

    [received] = smtp.messages
    assert smtp.to(to) == smtp.to(cc) == smtp.to(bcc) == [received]
    assert received["Cc"] == cc
    assert received["Bcc"] is None
    assert bcc not in received.as_string()


def test_send_email_after_a_transient_failure_sends_once(smtp: Recorder) -> None:
    smtp.fail_next(1, "451 4.3.0 Try again later")
    address, key = unique_address(), unique_key("retry")

    with pytest.raises(smtplib.SMTPDataError):
        send.send_email(welcome(address), key, "job-1")
    assert ledger.status_of([key]) == {key: EffectStatus.FAILED}
    assert smtp.to(address) == []

    outcome = send.send_email(welcome(address), key, "job-1")

    assert outcome.startswith("sent <")
    assert len(smtp.to(address)) == 1
    assert ledger.status_of([key]) == {key: EffectStatus.DONE}


def test_send_email_to_a_rejected_recipient_is_permanent_and_recorded(smtp: Recorder) -> None:
    key = unique_key("rejected")

    with pytest.raises(PermanentJobError, match=f"{REJECTED}: 550"):
        send.send_email(welcome(REJECTED), key, "job-1")

    assert ledger.status_of([key]) == {key: EffectStatus.REJECTED}
    assert smtp.messages == []


def test_send_email_with_one_refused_recipient_reports_it(smtp: Recorder) -> None:
    good, key = unique_address(), unique_key("partial")

    outcome = send.send_email(welcome(good, cc=[REJECTED]), key, "job-1")

    assert outcome.startswith("sent <")
    assert f"refused {{'{REJECTED}': '550 5.1.1 No such user here'}}" in outcome
    assert len(smtp.to(good)) == 1


def test_send_email_with_a_key_left_pending_is_not_sent(smtp: Recorder) -> None:
    address, key = unique_address(), unique_key("pending")
    ledger.claim(key, send.KIND, "job-that-died")

    with pytest.raises(PermanentJobError) as info:
        send.send_email(welcome(address), key, "job-2")

    message = str(info.value)
    assert f"message {key!r} stopped mid-send" in message
    assert "at most once per message key" in message
    assert smtp.to(address) == []


# -- send.send_newsletter_chunk -------------------------------------------------------------


def test_newsletter_chunk_sends_personalised_messages(smtp: Recorder) -> None:
    addresses = [unique_address() for _ in range(3)]
    params = newsletter(addresses)

    outcome = send.send_newsletter_chunk(
        params, list(params.recipients), unique_key("campaign"), "job-1"
    )

    assert outcome == {"sent": 3}
    for n, address in enumerate(addresses):
        [received] = smtp.to(address)
        assert received["To"] == address
        body = received.get_body(preferencelist=("plain",))
        assert body is not None and f"Hi Reader {n}," in body.get_content()


def test_newsletter_retry_skips_those_already_sent(smtp: Recorder) -> None:
    addresses = [unique_address() for _ in range(5)]
    params, campaign = newsletter(addresses), unique_key("campaign")
    recipients = list(params.recipients)

    with (
        failing_delivery(smtp, 3, "451 4.3.0 Try again later"),
        pytest.raises(smtplib.SMTPDataError),
    ):
        send.send_newsletter_chunk(params, recipients, campaign, "job-1")

    assert [len(smtp.to(a)) for a in addresses] == [1, 1, 0, 0, 0]
    keys = [send.newsletter_key(campaign, r) for r in recipients]
    assert ledger.status_of(keys) == {
        keys[0]: EffectStatus.DONE,
        keys[1]: EffectStatus.DONE,
        keys[2]: EffectStatus.FAILED,
    }

    outcome = send.send_newsletter_chunk(params, recipients, campaign, "job-1")

    assert outcome == {"skipped": 2, "sent": 3}
    assert [len(smtp.to(a)) for a in addresses] == [1, 1, 1, 1, 1]
    assert len(smtp.messages) == 5
    assert set(ledger.status_of(keys).values()) == {EffectStatus.DONE}


def test_newsletter_rejected_recipient_is_counted_and_others_are_sent(smtp: Recorder) -> None:
    addresses = [unique_address() for _ in range(3)]
    smtp.reject.add(addresses[1])
    try:
        params = newsletter(addresses)
        outcome = send.send_newsletter_chunk(
            params, list(params.recipients), unique_key("campaign"), "job-1"
        )
    finally:
        smtp.reject.discard(addresses[1])

    assert outcome == {"sent": 2, "rejected": 1}
    assert [len(smtp.to(a)) for a in addresses] == [1, 0, 1]


def test_newsletter_key_is_case_insensitive_per_campaign() -> None:
    recipient = Recipient(email="Ada@Example.com")

    assert send.newsletter_key("spring", recipient) == "spring:ada@example.com"


def test_newsletter_where_everyone_was_refused_is_a_failed_job() -> None:
    with pytest.raises(PermanentJobError, match=r"every recipient was refused: \{'rejected': 2\}"):
        send.check_newsletter_outcome(Counter(rejected=2))
    send.check_newsletter_outcome(Counter(rejected=2, sent=1))
    send.check_newsletter_outcome(Counter(rejected=1, skipped=1))
    send.check_newsletter_outcome(Counter())
