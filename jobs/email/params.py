"""Parameters of the email job types: one message (``email``), one message to many
recipients (``newsletter``)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    PlainSerializer,
    model_validator,
)

from jobs.email import render  # the template folder is the source of truth
from jobs.params import HeaderText, JobParams

MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024


def _strict_base64(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    try:
        decoded = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise ValueError(f"must be valid base64 text ({exc})") from exc
    if len(decoded) > MAX_ATTACHMENT_BYTES:
        raise ValueError(
            f"must be at most {MAX_ATTACHMENT_BYTES} bytes decoded; got {len(decoded)} bytes"
        )
    return decoded


Base64Content = Annotated[
    bytes,
    BeforeValidator(_strict_base64),
    PlainSerializer(lambda data: base64.b64encode(data).decode("ascii"), return_type=str),
]


def _known_template(name: str) -> str:
    if name not in render.template_names():
        known = ", ".join(sorted(render.template_names()))
        raise ValueError(f"must be one of the templates {known}; got {name!r}")
    return name


TemplateName = Annotated[str, AfterValidator(_known_template)]


class Attachment(BaseModel):
    """A file attached to an email, its content base64-encoded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    filename: Annotated[HeaderText, Field(min_length=1, max_length=255, pattern=r"^[^/\\]+$")]
    content: Base64Content
    content_type: str = Field("application/octet-stream", pattern=r"^[\w.+-]+/[\w.+-]+$")


class EmailContent(JobParams):
    """Subject and body of an email: a template with its context, or raw text and/or HTML."""

    subject: Annotated[HeaderText, Field(min_length=1, max_length=998)]
    template: TemplateName | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    text: str | None = None
    html: str | None = None

    @model_validator(mode="after")
    def _template_or_body(self) -> Self:
        has_body = self.text is not None or self.html is not None
        if self.template is None and not has_body:
            raise ValueError("needs either a template or a text and/or html body; got neither")
        if self.template is not None and has_body:
            raise ValueError("takes a template or a text/html body, not both")
        return self


class SendEmail(EmailContent):
    """Send one email to one or more recipients."""

    to: list[EmailStr] = Field(min_length=1, max_length=100)
    cc: list[EmailStr] = Field(default_factory=list, max_length=100)
    bcc: list[EmailStr] = Field(default_factory=list, max_length=100)
    reply_to: EmailStr | None = None
    attachments: list[Attachment] = Field(default_factory=list, max_length=20)
    message_key: HeaderText | None = Field(
        None, max_length=200, description="Sent at most once per key; default: the job's id."
    )

    @model_validator(mode="after")
    def _template_renders(self) -> Self:
        if self.template is not None:
            render.check(self.template, self.context)
        return self


class Recipient(BaseModel):
    """One recipient of a newsletter, with context merged over the shared context."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    email: EmailStr
    context: dict[str, Any] = Field(default_factory=dict)


class SendNewsletter(EmailContent):
    """Send one message to many recipients, in chunks over reused SMTP connections."""

    recipients: list[Recipient] = Field(min_length=1, max_length=10_000)
    chunk_size: int = Field(50, ge=1, le=500)
    campaign_key: HeaderText | None = Field(
        None, max_length=200, description="Each recipient gets at most one message per key."
    )

    @model_validator(mode="after")
    def _unique_recipients(self) -> Self:
        seen: set[str] = set()
        for recipient in self.recipients:
            address = recipient.email.lower()
            if address in seen:
                raise ValueError(f"recipients must be unique; {recipient.email!r} is listed twice")
            seen.add(address)
            if self.template is not None:
                self._check_template_for(recipient)
        return self

    def _check_template_for(self, recipient: Recipient) -> None:
        assert self.template is not None
        try:
            render.check(self.template, {**self.context, **recipient.context})
        except ValueError as exc:
            raise ValueError(f"recipient {recipient.email}: {exc}") from None
