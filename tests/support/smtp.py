"""A scriptable SMTP server for tests: real SMTP on loopback, messages kept in memory."""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterable
from email.message import EmailMessage
from typing import Any


class Recorder:
    """aiosmtpd handler that keeps messages in memory and can be told to fail.

    ``fail_next(n, code)`` answers the next ``n`` DATA commands with ``code`` (e.g. 451);
    ``reject`` holds addresses refused with 550 at RCPT.
    """

    def __init__(self, reject: Iterable[str] = ()) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[list[str]] = []
        self.reject = {address.lower() for address in reject}
        self._failures: list[str] = []

    def fail_next(self, count: int, reply: str = "451 4.3.0 Try again later") -> None:
        self._failures.extend([reply] * count)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.lower() in self.reject:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self._failures:
            return self._failures.pop(0)
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        self.messages.append(msg)
        self.envelopes.append([address.lower() for address in envelope.rcpt_tos])
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        """Messages delivered to ``address`` (by envelope, so Bcc counts)."""
        pairs = zip(self.messages, self.envelopes, strict=True)
        return [msg for msg, rcpts in pairs if address.lower() in rcpts]

    def clear(self) -> None:
        self.messages.clear()
        self.envelopes.clear()
        self._failures.clear()
