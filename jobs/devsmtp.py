"""The development SMTP server: keeps every message it receives in a Maildir on disk."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Mailbox

log = logging.getLogger("jobs.devsmtp")


class DevMailbox(Mailbox):
    """Keeps every message in a Maildir (one plain-text file per message under new/)."""

    def __init__(self, maildir: Path) -> None:
        maildir.parent.mkdir(parents=True, exist_ok=True)  # Maildir makes tmp/, new/, cur/
        super().__init__(maildir)

    def handle_message(self, message: Any) -> None:
        super().handle_message(message)
        log.info("mail for %s: %s", message["X-RcptTo"], message["Subject"])


def dev_server(maildir: Path, host: str, port: int) -> Controller:
    """A development SMTP server that stores what it receives in ``maildir`` (not started)."""
    return Controller(DevMailbox(maildir), hostname=host, port=port)
