"""Submit-time validation of job parameters, through the registry as the client calls it."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from jobs import registry
from jobs.email.params import MAX_ATTACHMENT_BYTES, Attachment, Recipient, SendEmail, SendNewsletter
from jobs.errors import InvalidJobParams, JobsError

EMAIL = registry.job_type("email")
NEWSLETTER = registry.job_type("newsletter")
NEWS_CONTEXT = {
    "headline": "Spring release",
    "body_paragraphs": ["Faster queues."],
    "unsubscribe_url": "https://example.com/unsubscribe",
}


def email(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"to": ["ada@example.com"], "subject": "Hello", "text": "Hi Ada"}
    params.update(changes)
    return {key: value for key, value in params.items() if value is not None}


def newsletter(**changes: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "subject": "News",
        "template": "newsletter",
        "context": NEWS_CONTEXT,
        "recipients": [
            {"email": "ada@example.com", "context": {"name": "Ada"}},
            {"email": "bob@example.com", "context": {"name": "Bob"}},
        ],
    }
    params.update(changes)
    return params


def attachment(content: bytes, filename: str = "report.pdf") -> dict[str, str]:
    return {
        "filename": filename,
        "content": base64.b64encode(content).decode(),
        "content_type": "application/pdf",
    }


def refusal(kind: registry.JobType, params: Any) -> str:
    with pytest.raises(InvalidJobParams) as info:
        registry.validate(kind, params)
    return str(info.value)


# -- email: what is accepted ----------------------------------------------------------------


def test_minimal_email_is_accepted_with_defaults() -> None:
    model = registry.validate(EMAIL, email())

    assert isinstance(model, SendEmail)
    assert model.to == ["ada@example.com"]
    assert model.subject == "Hello"
    assert model.text == "Hi Ada"
    assert (model.cc, model.bcc, model.attachments) == ([], [], [])
    assert model.template is None and model.message_key is None


def test_template_email_with_full_context_is_accepted() -> None:
    params = email(text=None, template="welcome", context={"name": "Ada", "app_name": "Acme"})

    model = registry.validate(EMAIL, params)

    assert isinstance(model, SendEmail)
    assert model.template == "welcome"
    assert model.context == {"name": "Ada", "app_name": "Acme"}


def test_html_only_body_is_accepted() -> None:
    model = registry.validate(EMAIL, email(text=None, html="<p>Hi</p>"))

    assert isinstance(model, SendEmail)
    assert model.html == "<p>Hi</p>" and model.text is None


def test_a_model_of_the_right_type_is_returned_as_is() -> None:
    model = SendEmail.model_validate(email())

    assert registry.validate(EMAIL, model) is model


# -- email: what is refused, and what the message says --------------------------------------


def test_malformed_address_names_the_field_and_shows_the_input() -> None:
    message = refusal(EMAIL, email(to=["ada@example.com", "not-an-address"]))

    assert message.startswith("invalid email job parameters: ")
    assert "to.1: value is not a valid email address" in message
    assert "'not-an-address'" in message


def test_first_malformed_address_is_to_0() -> None:
    message = refusal(EMAIL, email(to=["ada.example.com"]))

    assert "to.0:" in message
    assert "@-sign" in message
    assert "(got 'ada.example.com')" in message


def test_every_problem_is_listed() -> None:
    message = refusal(EMAIL, email(to=["nope"], cc=["also-nope"], reply_to="bad"))

    assert "to.0:" in message
    assert "cc.0:" in message
    assert "reply_to:" in message


def test_unknown_field_is_refused_by_name() -> None:
    message = refusal(EMAIL, email(sender="me@example.com"))

    assert "sender: Extra inputs are not permitted" in message
    assert "'me@example.com'" in message


@pytest.mark.parametrize("subject", ["Hi\r\nBcc: all@example.com", "Hi\nthere", "Hi\rthere"])
def test_line_break_in_subject_is_refused(subject: str) -> None:
    message = refusal(EMAIL, email(subject=subject))

    assert "subject:" in message
    assert "must be a single line without CR or LF" in message
    assert repr(subject) in message


def test_line_break_in_attachment_filename_is_refused() -> None:
    params = email(attachments=[attachment(b"%PDF", filename="a.pdf\r\nX-Evil: 1")])

    message = refusal(EMAIL, params)

    assert "attachments.0.filename:" in message
    assert "must be a single line without CR or LF" in message


def test_line_break_in_message_key_is_refused() -> None:
    message = refusal(EMAIL, email(message_key="order-1\r\nX: y"))

    assert "message_key:" in message
    assert "must be a single line without CR or LF" in message


@pytest.mark.parametrize(
    "changes",
    [
        {"subject": "Hello\n"},
        {"message_key": "order-1\n"},
        {"attachments": [attachment(b"%PDF", filename="a.pdf\n")]},
    ],
    ids=["subject", "message_key", "filename"],
)
def test_trailing_newline_in_header_text_is_refused(changes: dict[str, Any]) -> None:
    message = refusal(EMAIL, email(**changes))

    assert "must be a single line without CR or LF" in message


def test_filename_with_a_path_is_refused() -> None:
    message = refusal(EMAIL, email(attachments=[attachment(b"x", filename="../etc/passwd")]))

    assert "attachments.0.filename:" in message
    assert "'../etc/passwd'" in message


def test_unknown_template_lists_the_known_templates() -> None:
    message = refusal(EMAIL, email(text=None, template="welcme"))

    assert "template:" in message
    assert "newsletter, order_confirmation, password_reset, reminder, welcome" in message
    assert "got 'welcme'" in message


def test_template_missing_a_context_variable_names_it() -> None:
    message = refusal(EMAIL, email(text=None, template="welcome", context={"name": "Ada"}))

    assert "template 'welcome' needs variable 'app_name'" in message
    assert "which the context does not have" in message


def test_template_and_text_together_are_refused() -> None:
    params = email(template="welcome", context={"name": "Ada", "app_name": "Acme"})

    message = refusal(EMAIL, params)

    assert "takes a template or a text/html body, not both" in message


def test_neither_template_nor_body_is_refused() -> None:
    message = refusal(EMAIL, email(text=None))

    assert "needs either a template or a text and/or html body; got neither" in message


def test_empty_subject_is_refused() -> None:
    message = refusal(EMAIL, email(subject=""))

    assert "subject: Value should have at least 1 item" in message
    assert "(got '')" in message


def test_no_recipients_is_refused() -> None:
    message = refusal(EMAIL, email(to=[]))

    assert "to: List should have at least 1 item" in message


def test_too_many_recipients_is_refused_with_the_limit() -> None:
    message = refusal(EMAIL, email(to=[f"user{i}@example.com" for i in range(101)]))

    assert "to: List should have at most 100 items" in message
    assert "not 101" in message


def test_hundred_recipients_are_accepted() -> None:
    model = registry.validate(EMAIL, email(to=[f"user{i}@example.com" for i in range(100)]))

    assert isinstance(model, SendEmail)
    assert len(model.to) == 100


# -- attachments ----------------------------------------------------------------------------


def test_attachment_content_is_base64_decoded() -> None:
    payload = bytes(range(256))

    model = registry.validate(EMAIL, email(attachments=[attachment(payload)]))

    assert isinstance(model, SendEmail)
    [attached] = model.attachments
    assert isinstance(attached, Attachment)
    assert attached.content == payload
    assert attached.filename == "report.pdf"
    assert attached.content_type == "application/pdf"


def test_attachment_content_type_defaults_to_octet_stream() -> None:
    params = email(attachments=[{"filename": "blob", "content": "aGVsbG8="}])

    model = registry.validate(EMAIL, params)

    assert isinstance(model, SendEmail)
    assert model.attachments[0].content_type == "application/octet-stream"
    assert model.attachments[0].content == b"hello"


def test_attachment_that_is_not_base64_is_refused() -> None:
    params = email(attachments=[{"filename": "a.bin", "content": "abc"}])

    message = refusal(EMAIL, params)

    assert "attachments.0.content: Value error, must be valid base64 text" in message
    assert "(got 'abc')" in message


def test_malformed_content_type_is_refused() -> None:
    params = email(attachments=[{**attachment(b"x"), "content_type": "pdf"}])

    message = refusal(EMAIL, params)

    assert "attachments.0.content_type:" in message
    assert "'pdf'" in message


def test_attachment_over_five_mib_decoded_is_refused() -> None:
    params = email(attachments=[attachment(b"\0" * (MAX_ATTACHMENT_BYTES + 1))])

    message = refusal(EMAIL, params)

    assert "attachments.0.content:" in message
    assert f"at most {MAX_ATTACHMENT_BYTES} bytes" in message


def test_attachment_well_under_the_limit_is_accepted() -> None:
    payload = b"\1" * (1024 * 1024)

    model = registry.validate(EMAIL, email(attachments=[attachment(payload)]))

    assert isinstance(model, SendEmail)
    assert model.attachments[0].content == payload


@pytest.mark.parametrize("size", [4 * 1024 * 1024, MAX_ATTACHMENT_BYTES])
def test_attachment_up_to_five_mib_decoded_is_accepted(size: int) -> None:
    model = registry.validate(EMAIL, email(attachments=[attachment(b"\1" * size)]))

    assert isinstance(model, SendEmail)
    assert len(model.attachments[0].content) == size


def test_too_many_attachments_are_refused() -> None:
    params = email(attachments=[attachment(b"x", filename=f"f{i}.pdf") for i in range(21)])

    message = refusal(EMAIL, params)

    assert "attachments: List should have at most 20 items" in message


# -- newsletter -----------------------------------------------------------------------------


def test_newsletter_is_accepted_with_per_recipient_context() -> None:
    model = registry.validate(NEWSLETTER, newsletter())

    assert isinstance(model, SendNewsletter)
    assert [r.email for r in model.recipients] == ["ada@example.com", "bob@example.com"]
    assert all(isinstance(r, Recipient) for r in model.recipients)
    assert model.chunk_size == 50
    assert model.campaign_key is None


def test_newsletter_duplicate_recipients_are_refused_case_insensitively() -> None:
    recipients = [
        {"email": "ada@example.com", "context": {"name": "Ada"}},
        {"email": "ADA@example.com", "context": {"name": "Ada again"}},
    ]

    message = refusal(NEWSLETTER, newsletter(recipients=recipients))

    assert message.startswith("invalid newsletter job parameters: ")
    assert "recipients must be unique" in message
    assert "'ADA@example.com' is listed twice" in message


def test_newsletter_variable_in_one_recipients_context_only_fails_for_the_others() -> None:
    recipients = [
        {"email": "ada@example.com", "context": {"name": "Ada"}},
        {"email": "bob@example.com"},
    ]

    message = refusal(NEWSLETTER, newsletter(recipients=recipients))

    assert "template 'newsletter' needs variable 'name'" in message


def test_newsletter_shared_context_covers_recipients_without_their_own() -> None:
    params = newsletter(
        context={**NEWS_CONTEXT, "name": "reader"},
        recipients=[{"email": "ada@example.com", "context": {"name": "Ada"}}, {"email": "b@x.org"}],
    )

    model = registry.validate(NEWSLETTER, params)

    assert isinstance(model, SendNewsletter)
    assert model.recipients[1].context == {}


def test_newsletter_missing_variable_names_the_recipient() -> None:
    recipients = [
        {"email": "ada@example.com", "context": {"name": "Ada"}},
        {"email": "bob@example.com"},
    ]

    message = refusal(NEWSLETTER, newsletter(recipients=recipients))

    assert "bob@example.com" in message


def test_newsletter_chunk_size_bounds() -> None:
    assert "chunk_size: Input should be greater than or equal to 1" in refusal(
        NEWSLETTER, newsletter(chunk_size=0)
    )
    assert "chunk_size: Input should be less than or equal to 500" in refusal(
        NEWSLETTER, newsletter(chunk_size=501)
    )


def test_newsletter_campaign_key_with_line_break_is_refused() -> None:
    message = refusal(NEWSLETTER, newsletter(campaign_key="spring\r\n2025"))

    assert "campaign_key:" in message
    assert "must be a single line without CR or LF" in message


def test_newsletter_without_recipients_is_refused() -> None:
    message = refusal(NEWSLETTER, newsletter(recipients=[]))

    assert "recipients: List should have at least 1 item" in message


# -- job types ------------------------------------------------------------------------------


def test_job_types_and_their_deployments() -> None:
    assert EMAIL.params is SendEmail
    assert EMAIL.deployment_name == "send-email/email"
    assert NEWSLETTER.params is SendNewsletter
    assert NEWSLETTER.deployment_name == "send-newsletter/newsletter"


def test_unknown_job_type_lists_the_known_types() -> None:
    with pytest.raises(InvalidJobParams) as info:
        registry.job_type("sms")

    known = ", ".join(sorted(registry.JOB_TYPES))
    assert str(info.value) == f"job_type: expected one of {known}, got str 'sms'"
    assert isinstance(info.value, JobsError)


@pytest.mark.parametrize(
    ("name", "got"),
    [(["email"], "list of 1 item ['email']"), (None, "NoneType None"), (5, "int 5")],
)
def test_a_job_type_that_is_not_a_name_is_refused_alike(name: Any, got: str) -> None:
    with pytest.raises(InvalidJobParams) as info:
        registry.job_type(name)

    known = ", ".join(sorted(registry.JOB_TYPES))
    assert str(info.value) == f"job_type: expected one of {known}, got {got}"


def test_model_instance_of_the_wrong_type_is_refused() -> None:
    model = SendNewsletter.model_validate(newsletter())

    message = refusal(EMAIL, model)

    assert message == "email jobs take SendEmail; got SendNewsletter"


def test_job_type_of_a_model() -> None:
    assert registry.job_type_of(SendEmail.model_validate(email())) is EMAIL
    assert registry.job_type_of(SendNewsletter.model_validate(newsletter())) is NEWSLETTER


# -- priorities -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "queue"), [(1, "priority-1"), (5, "priority-5"), (10, "priority-10")]
)
def test_queue_for_priority(priority: int, queue: str) -> None:
    assert registry.queue_for(priority) == queue


def test_named_priorities() -> None:
    assert (registry.URGENT, registry.NORMAL, registry.LOW) == (1, 5, 10)
    assert registry.queue_for(registry.NORMAL) == "priority-5"


@pytest.mark.parametrize("priority", [0, 11, -1, True, "5", 2.5, None])
def test_queue_for_refuses_what_is_not_a_priority(priority: Any) -> None:
    with pytest.raises(InvalidJobParams) as info:
        registry.queue_for(priority)

    assert str(info.value) == (
        "priority: expected an integer from 1 (urgent) to 10 (low), "
        f"got {type(priority).__name__} {priority!r}"
    )


@pytest.mark.parametrize(
    ("queue", "priority"),
    [
        ("priority-1", 1),
        ("priority-5", 5),
        ("priority-10", 10),
        ("default", None),
        ("priority-", None),
        ("priority-x", None),
        ("priority--1", None),
        ("", None),
        (None, None),
    ],
)
def test_priority_of_queue(queue: str | None, priority: int | None) -> None:
    assert registry.priority_of(queue) == priority


@pytest.mark.parametrize("priority", registry.PRIORITIES)
def test_priority_of_inverts_queue_for(priority: int) -> None:
    assert registry.priority_of(registry.queue_for(priority)) == priority
