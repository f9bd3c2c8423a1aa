"""Build a MIME message (text + HTML alternative, attachments) from an email job's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import make_msgid, parseaddr
from typing import Any

from jobs.email import render
from jobs.email.params import Attachment, EmailContent


def body_of(
    content: EmailContent, extra_context: Mapping[str, Any] | None = None
) -> render.RenderedBody:
    """The text and HTML of the message: rendered from its template, or taken as given."""
    if content.template is not None:
        return render.render(content.template, {**content.context, **(extra_context or {})})
    return render.RenderedBody(text=content.text or "", html=content.html or "")


def build(
    content: EmailContent,
    *,
    sender: str,
    to: list[str],
    cc: list[str] | None = None,
    reply_to: str | None = None,
    attachments: list[Attachment] | None = None,
    extra_context: Mapping[str, Any] | None = None,
) -> EmailMessage:
    """A multipart message ready for SMTP; Bcc recipients are left out of the headers."""
    body = body_of(content, extra_context)
    msg = EmailMessage()
    msg["Subject"] = content.subject
    msg["From"] = sender
    msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Message-ID"] = make_msgid(domain=_domain_of(sender))
    msg.set_content(body.text or _strip_html_hint(body.html))
    if body.html:
        msg.add_alternative(body.html, subtype="html")
    for attachment in attachments or []:
        maintype, subtype = attachment.content_type.split("/", 1)
        msg.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    return msg


def _domain_of(sender: str) -> str:
    address = parseaddr(sender)[1]
    return Address(addr_spec=address).domain if "@" in address else "localhost"


def _strip_html_hint(html: str) -> str:
    return (
        "This message has an HTML part; open it in a mail program that shows HTML." if html else ""
    )
