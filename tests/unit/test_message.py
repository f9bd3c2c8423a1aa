"""Building MIME messages from email job parameters."""

from __future__ import annotations

import base64
import email
import email.policy
from email.message import EmailMessage
from typing import Any

import pytest
from pydantic import ValidationError

from jobs.email import message
from jobs.email.params import SendEmail, SendNewsletter

SENDER = "Jobs <jobs@mail.example.org>"


def params(**changes: Any) -> SendEmail:
    fields: dict[str, Any] = {
        "to": ["ada@example.com"],
        "subject": "Welcome aboard",
        "template": "welcome",
        "context": {"name": "Ada", "app_name": "Acme"},
        **changes,
    }
    return SendEmail.model_validate(fields)


def build(model: SendEmail, sender: str = SENDER) -> EmailMessage:
    return message.build(
        model,
        sender=sender,
        to=list(model.to),
        cc=list(model.cc),
        reply_to=model.reply_to,
        attachments=list(model.attachments),
    )


def on_the_wire(msg: EmailMessage) -> EmailMessage:
    """The message as a receiving mail program parses it."""
    parsed = email.message_from_bytes(msg.as_bytes(), policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_template_message_is_multipart_alternative_with_text_and_html() -> None:
    msg = on_the_wire(build(params()))

    assert msg.get_content_type() == "multipart/alternative"
    assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None
    assert "Hi Ada," in text.get_content()
    assert "Welcome to Acme!" in text.get_content()
    assert "<h1" in html.get_content() and "Welcome to Acme!" in html.get_content()


def test_headers_carry_subject_sender_and_recipients() -> None:
    msg = on_the_wire(build(params(to=["ada@example.com", "bob@example.com"])))

    assert msg["Subject"] == "Welcome aboard"
    assert msg["From"] == SENDER
    assert msg["To"] == "ada@example.com, bob@example.com"
    assert msg["MIME-Version"] == "1.0"


def test_cc_is_a_header() -> None:
    msg = on_the_wire(build(params(cc=["carol@example.com", "dan@example.com"])))

    assert msg["Cc"] == "carol@example.com, dan@example.com"


def test_no_cc_means_no_cc_header() -> None:
    assert on_the_wire(build(params()))["Cc"] is None


def test_bcc_is_left_out_of_the_headers() -> None:
    msg = build(params(bcc=["secret@example.com"]))

    assert msg["Bcc"] is None
    assert b"secret@example.com" not in msg.as_bytes()


def test_reply_to_is_a_header() -> None:
    msg = on_the_wire(build(params(reply_to="support@example.com")))

    assert msg["Reply-To"] == "support@example.com"


def test_no_reply_to_means_no_header() -> None:
    assert on_the_wire(build(params()))["Reply-To"] is None


@pytest.mark.parametrize(
    ("content_type", "payload"),
    [
        ("application/pdf", b"%PDF-1.7\n\x00\xff\xfe binary \r\n bytes"),
        ("image/png", bytes(range(256))),
    ],
)
def test_attachment_round_trips_with_filename_type_and_bytes(
    content_type: str, payload: bytes
) -> None:
    attachment = {
        "filename": "report.pdf",
        "content": base64.b64encode(payload).decode(),
        "content_type": content_type,
    }

    msg = on_the_wire(build(params(attachments=[attachment])))

    assert msg.get_content_type() == "multipart/mixed"
    [attached] = list(msg.iter_attachments())
    assert attached.get_filename() == "report.pdf"
    assert attached.get_content_type() == content_type
    assert attached.get_content() == payload
    body = msg.get_body(preferencelist=("plain",))
    assert body is not None and "Hi Ada," in body.get_content()


def test_several_attachments_keep_their_order_and_names() -> None:
    attachments = [
        {"filename": name, "content": base64.b64encode(name.encode()).decode()}
        for name in ("a.bin", "résumé.bin", "c.bin")
    ]

    msg = on_the_wire(build(params(attachments=attachments)))

    found = [(part.get_filename(), part.get_content()) for part in msg.iter_attachments()]
    assert found == [
        ("a.bin", b"a.bin"),
        ("résumé.bin", "résumé.bin".encode()),
        ("c.bin", b"c.bin"),
    ]


def test_raw_text_body_gives_a_single_text_part() -> None:
    model = params(template=None, context={}, text="Plain words only.")

    msg = on_the_wire(build(model))

    assert msg.get_content_type() == "text/plain"
    assert not msg.is_multipart()
    assert msg.get_content().strip() == "Plain words only."


def test_raw_html_body_gets_a_text_part_that_points_to_it() -> None:
    model = params(template=None, context={}, html="<p>Only <b>HTML</b></p>")

    msg = on_the_wire(build(model))

    assert msg.get_content_type() == "multipart/alternative"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and "has an HTML part" in text.get_content()
    assert html is not None and "<p>Only <b>HTML</b></p>" in html.get_content()


@pytest.mark.parametrize(
    ("sender", "domain"),
    [
        (SENDER, "mail.example.org"),
        ("bare@example.net", "example.net"),
        ("no address at all", "localhost"),
    ],
)
def test_message_id_domain_comes_from_the_sender(sender: str, domain: str) -> None:
    msg = build(params(), sender=sender)

    message_id = msg["Message-ID"]
    assert message_id.startswith("<")
    assert message_id.endswith(f"@{domain}>")


def test_message_ids_are_unique() -> None:
    model = params()

    assert build(model)["Message-ID"] != build(model)["Message-ID"]


def test_extra_context_overrides_the_shared_context() -> None:
    news = SendNewsletter.model_validate(
        {
            "subject": "News",
            "template": "newsletter",
            "context": {
                "name": "reader",
                "headline": "Spring release",
                "body_paragraphs": ["Faster queues."],
                "unsubscribe_url": "https://example.com/u",
            },
            "recipients": [{"email": "ada@example.com", "context": {"name": "Ada"}}],
        }
    )

    msg = message.build(news, sender=SENDER, to=["ada@example.com"], extra_context={"name": "Ada"})

    text = on_the_wire(msg).get_body(preferencelist=("plain",))
    assert text is not None
    assert "Hi Ada," in text.get_content()
    assert "reader" not in text.get_content()


def test_subject_with_trailing_newline_cannot_reach_the_headers() -> None:
    with pytest.raises(ValidationError, match="must be a single line without CR or LF"):
        params(subject="Welcome aboard\n")
