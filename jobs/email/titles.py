"""Subjects of email run names (see jobs/titles.py): who the message goes to, never what it says."""

from __future__ import annotations

from collections.abc import Sequence

from jobs import titles
from jobs.email.params import Recipient, SendEmail, SendNewsletter


def email(params: SendEmail) -> str:
    """``→ ada@example.com``, or ``→ ada@example.com +2`` with more recipients (cc, bcc too)."""
    return f"→ {titles.people([*params.to, *params.cc, *params.bcc])}"


def newsletter(params: SendNewsletter) -> str:
    """``→ 1200 recipients``, after the campaign key if it has one."""
    to = f"→ {titles.count(len(params.recipients), 'recipient')}"
    return f"{params.campaign_key} {to}" if params.campaign_key else to


def chunk(recipients: Sequence[Recipient]) -> str:
    """``→ ada@example.com +49``: the recipients of one newsletter chunk."""
    return f"→ {titles.people([recipient.email for recipient in recipients])}"
