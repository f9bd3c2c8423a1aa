"""SMTP connections and delivery, with errors sorted into transient (retry) and permanent."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from email.message import EmailMessage

from jobs.errors import PermanentJobError
from jobs.settings import Settings, SmtpTls


def password_of(settings: Settings) -> str | None:
    """The SMTP password: from the setting, else from the named Prefect Secret block."""
    if settings.smtp_password is not None:
        return settings.smtp_password.get_secret_value()
    if settings.smtp_password_secret:
        from prefect.blocks.system import Secret

        return str(Secret.load(settings.smtp_password_secret).get())  # type: ignore[union-attr]
    return None


@contextmanager
def connect(settings: Settings) -> Iterator[smtplib.SMTP]:
    """An open, authenticated SMTP connection; closed on exit. Connection errors are transient."""
    factory = smtplib.SMTP_SSL if settings.smtp_tls is SmtpTls.SSL else smtplib.SMTP
    conn = factory(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds)
    try:
        if settings.smtp_tls is SmtpTls.STARTTLS:
            conn.starttls(context=ssl.create_default_context())
        if settings.smtp_username:
            _login(conn, settings)
        yield conn
    finally:
        with suppress(smtplib.SMTPException, OSError):
            conn.quit()


def _login(conn: smtplib.SMTP, settings: Settings) -> None:
    try:
        conn.login(settings.smtp_username or "", password_of(settings) or "")
    except smtplib.SMTPAuthenticationError as exc:
        raise PermanentJobError(f"SMTP login refused for {settings.smtp_username!r}") from exc


def deliver(conn: smtplib.SMTP, msg: EmailMessage, recipients: list[str]) -> dict[str, str]:
    """Send ``msg`` to ``recipients``; returns the refused ones (address -> reason).

    Raises PermanentJobError when the server refuses the message or every recipient for good
    (5xx); transient failures (4xx, dropped connections, timeouts) propagate to be retried.
    """
    try:
        refused = conn.send_message(msg, to_addrs=recipients)
    except smtplib.SMTPRecipientsRefused as exc:
        if all(code >= 500 for code, _ in exc.recipients.values()):
            raise PermanentJobError(
                f"SMTP server refused every recipient: {_reasons(exc.recipients)}"
            ) from exc
        raise
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code >= 500:
            raise PermanentJobError(
                f"SMTP server rejected the message: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        raise
    return {address: f"{code} {_text(reason)}" for address, (code, reason) in refused.items()}


def _reasons(refused: dict[str, tuple[int, bytes]]) -> str:
    return "; ".join(
        f"{address}: {code} {_text(reason)}" for address, (code, reason) in refused.items()
    )


def _text(reason: bytes | str) -> str:
    return reason.decode(errors="replace") if isinstance(reason, bytes) else reason
