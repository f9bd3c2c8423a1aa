"""Mail the weekly report: a separate `email` job, with the chart and the CSV attached."""

from __future__ import annotations

from pydantic import ValidationError

from jobs import runlog, titles
from jobs.data.report import Report, summary
from jobs.email.params import Attachment, SendEmail
from jobs.errors import PermanentJobError
from jobs.submitter import Submitter


def email(report: Report, recipients: list[str]) -> SendEmail:
    """The report email: summary as text, chart (PNG) and daily table (CSV) attached."""
    png, csv = report.files["png"], report.files["csv"]
    attachments = [
        Attachment(filename=png.name, content=png.read_bytes(), content_type="image/png"),
        Attachment(filename=csv.name, content=csv.read_bytes(), content_type="text/csv"),
    ]
    try:
        return SendEmail(
            to=recipients, subject=report.title, text=summary(report), attachments=attachments
        )
    except ValidationError as exc:  # e.g. a bad address in JOBS_REPORT_RECIPIENTS
        raise PermanentJobError(f"cannot mail the report to {recipients}: {exc}") from None


def submit(message: SendEmail, report_job_id: str) -> str:
    """Submit the email job once per report job (idempotency key); returns its id."""
    job = Submitter.of_this_run().submit(
        message,
        idempotency_key=f"report-email-{report_job_id}",
        tags=[f"report:{report_job_id}"],
    )
    runlog.logger(__name__).info(
        "Submitted email job %s: the report to %s", job.id, titles.people(message.to)
    )
    return str(job.id)
