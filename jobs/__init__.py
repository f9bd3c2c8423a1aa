"""Background jobs and queues for Python applications, on Prefect 3.

import jobs

client = jobs.Client()
job = client.submit("email", {"to": ["ada@example.com"], "subject": "Hi", "text": "Hello"})
client.wait(job).state  # JobState.COMPLETED
"""

from jobs.client import Client
from jobs.email.params import SendEmail, SendNewsletter
from jobs.errors import InvalidJobParams, JobNotFound, JobsError, PermanentJobError, SubmitFailed
from jobs.settings import Settings
from jobs.status import Job, JobState, JobStatus, QueueStats, RecurringJob

__all__ = [
    "Client",
    "InvalidJobParams",
    "Job",
    "JobNotFound",
    "JobState",
    "JobStatus",
    "JobsError",
    "PermanentJobError",
    "QueueStats",
    "RecurringJob",
    "SendEmail",
    "SendNewsletter",
    "Settings",
    "SubmitFailed",
]
