"""The email job's work: send one message, or one chunk of a newsletter, at most once per key."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from smtplib import SMTP

from jobs import ledger, runlog, titles
from jobs.db.models import EffectStatus
from jobs.email import message, smtp
from jobs.email.params import Recipient, SendEmail, SendNewsletter
from jobs.errors import PermanentJobError
from jobs.settings import get_settings

KIND = "email"


def send_email(params: SendEmail, key: str, job_id: str) -> str:
    """Send the message unless the ledger says it was sent; returns what happened."""
    settings = get_settings()
    msg = message.build(
        params,
        sender=settings.mail_from,
        to=list(params.to),
        cc=list(params.cc),
        reply_to=params.reply_to,
        attachments=list(params.attachments),
    )
    recipients = [*params.to, *params.cc, *params.bcc]
    found = ledger.claim(key, KIND, job_id)
    if found is not ledger.Claim.GO:
        outcome = _already(found, key)
        _log().info("Email %s", outcome)
        return outcome
    with _settling(key), smtp.connect(settings) as conn:
        refused = smtp.deliver(conn, msg, recipients)
    detail = f"sent {msg['Message-ID']}" + (f"; refused {refused}" if refused else "")
    ledger.settle(key, EffectStatus.DONE, detail)
    _log().info(
        "Sent email %s to %s (%s)%s",
        msg["Message-ID"],
        titles.people(recipients),
        titles.count(len(recipients), "recipient"),
        f"; refused by the server: {', '.join(refused)}" if refused else "",
    )
    return detail


def _log() -> runlog.Logger:
    return runlog.logger(__name__)


def _already(found: ledger.Claim, key: str) -> str:
    if found is ledger.Claim.UNKNOWN:
        raise PermanentJobError(
            f"an earlier attempt at message {key!r} stopped mid-send, so it may have been "
            "delivered; it is not sent again (at most once per message key)"
        )
    return f"not sent again: message {key!r} is already {found.value}"


@contextmanager
def _settling(key: str) -> Iterator[None]:
    """Mark the claimed key rejected (permanent) or failed (retryable) when the block raises."""
    try:
        yield
    except PermanentJobError as exc:
        ledger.settle(key, EffectStatus.REJECTED, str(exc))
        raise
    except Exception as exc:
        ledger.settle(key, EffectStatus.FAILED, repr(exc))
        raise


def newsletter_key(campaign: str, recipient: Recipient) -> str:
    return f"{campaign}:{recipient.email.lower()}"


def send_newsletter_chunk(
    params: SendNewsletter, recipients: list[Recipient], campaign: str, job_id: str
) -> Counter[str]:
    """Send to each recipient over one connection; skips those already done. Counts outcomes."""
    settings = get_settings()
    outcomes: Counter[str] = Counter()
    with smtp.connect(settings) as conn:
        for recipient in recipients:
            outcomes[
                _send_to(conn, params, recipient, newsletter_key(campaign, recipient), job_id)
            ] += 1
    _log().info(
        "Newsletter chunk of %s (%s): %s",
        titles.count(len(recipients), "recipient"),
        titles.people([recipient.email for recipient in recipients]),
        ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())),
    )
    return outcomes


def _send_to(
    conn: SMTP, params: SendNewsletter, recipient: Recipient, key: str, job_id: str
) -> str:
    msg = message.build(
        params,
        sender=get_settings().mail_from,
        to=[recipient.email],
        extra_context=recipient.context,
    )
    found = ledger.claim(key, KIND, job_id)
    if found is not ledger.Claim.GO:
        return "skipped" if found is ledger.Claim.DONE else "unknown"
    try:
        with _settling(key):
            smtp.deliver(conn, msg, [recipient.email])
    except PermanentJobError:
        return "rejected"  # this recipient is refused for good; the others go on
    ledger.settle(key, EffectStatus.DONE, f"sent {msg['Message-ID']}")
    return "sent"


def check_newsletter_outcome(totals: Counter[str]) -> None:
    """A newsletter that reached nobody, with recipients refused, is a failed job."""
    if totals["rejected"] and not (totals["sent"] or totals["skipped"]):
        raise PermanentJobError(f"every recipient was refused: {dict(totals)}")
