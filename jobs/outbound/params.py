"""Parameters of the outgoing HTTP job types: ``webhook`` and ``api_call``."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal, Self

from pydantic import AfterValidator, Field, JsonValue, model_validator

from jobs.outbound.guard import MAX_URL_LENGTH, check_url
from jobs.params import HeaderText, JobParams

MAX_BODY_BYTES = 256 * 1024
RESERVED_HEADERS = frozenset(
    {"host", "content-length", "transfer-encoding", "connection", "keep-alive", "te",
     "trailer", "upgrade", "proxy-connection"}
)  # fmt: skip
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})

WebUrl = Annotated[str, Field(max_length=MAX_URL_LENGTH), AfterValidator(check_url)]
BlockName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        pattern=r"^[a-z0-9-]+$",
        description="Name of a Prefect Secret block (lowercase letters, digits, dashes).",
    ),
]
HeaderName = Annotated[
    str, Field(min_length=1, max_length=100, pattern=r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
]
StatusCode = Annotated[int, Field(ge=100, le=599)]
Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def json_bytes(value: Any) -> bytes:
    """``value`` as compact UTF-8 JSON: the exact bytes sent."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _check_size(what: str, size: int) -> None:
    if size > MAX_BODY_BYTES:
        raise ValueError(f"{what} must be at most {MAX_BODY_BYTES} bytes; got {size} bytes")


class DeliverWebhook(JobParams):
    """Deliver one event, signed with the endpoint's secret, as a JSON POST."""

    event: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9][\w.:-]*$")
    payload: JsonValue = Field(description="The event's data, sent as the body's 'data'.")
    endpoint_id: int | None = Field(
        None, ge=1, description="A webhook_endpoints row: its URL and signing secret."
    )
    url: WebUrl | None = Field(None, description="Or: an explicit URL, with secret_block.")
    secret_block: BlockName | None = None
    delivery_id: HeaderText | None = Field(
        None, min_length=1, max_length=200, description="X-Webhook-Id; default: the job's id."
    )

    @model_validator(mode="after")
    def _one_destination(self) -> Self:
        if self.endpoint_id is not None and self.url is not None:
            raise ValueError("takes endpoint_id or url, not both")
        if self.endpoint_id is None and self.url is None:
            raise ValueError("needs endpoint_id, or url with secret_block; got neither")
        if self.url is not None and self.secret_block is None:
            raise ValueError("url needs secret_block, the Secret block holding the signing secret")
        if self.endpoint_id is not None and self.secret_block is not None:
            raise ValueError("secret_block goes with url; an endpoint brings its own secret")
        _check_size("payload (as JSON)", len(json_bytes(self.payload)))
        return self

    def body(self, delivery_id: str) -> bytes:
        """The JSON body sent: the delivery's id, the event and its data."""
        return json_bytes({"id": delivery_id, "event": self.event, "data": self.payload})


class ApiCall(JobParams):
    """One request to an external API; its status and (size-limited) response are the result."""

    method: Method = "POST"
    url: WebUrl
    headers: dict[HeaderName, HeaderText] = Field(default_factory=dict, max_length=50)
    secret_headers: dict[HeaderName, BlockName] = Field(
        default_factory=dict,
        max_length=10,
        description="Header name -> Secret block holding its value (e.g. Authorization).",
    )
    json_body: JsonValue | None = None
    text_body: str | None = None
    expected_status: list[StatusCode] = Field(
        default_factory=list, max_length=20, description="Success statuses; default: any 2xx."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.json_body is not None and self.text_body is not None:
            raise ValueError("takes json_body or text_body, not both")
        if self.method in ("GET", "HEAD") and self.content() is not None:
            raise ValueError(f"a {self.method} request takes no body; got one")
        if (size := len(self.content() or b"")) > 0:
            _check_size("the body", size)
        self._check_header_names()
        return self

    def _check_header_names(self) -> None:
        plain = {name.lower() for name in self.headers}
        secret = {name.lower() for name in self.secret_headers}
        if reserved := sorted((plain | secret) & RESERVED_HEADERS):
            raise ValueError(f"headers may not set {', '.join(reserved)}; they are set for you")
        if credentials := sorted(plain & CREDENTIAL_HEADERS):
            raise ValueError(
                f"{', '.join(credentials)} must not travel in headers (they show in the UI "
                "and logs); name a Secret block for it in secret_headers"
            )
        if both := sorted(plain & secret):
            raise ValueError(f"headers and secret_headers both set {', '.join(both)}")

    def content(self) -> bytes | None:
        """The request body's bytes, if it has one."""
        if self.json_body is not None:
            return json_bytes(self.json_body)
        return None if self.text_body is None else self.text_body.encode()
