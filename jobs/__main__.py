"""``python -m jobs``: Prefect's own settings (API URL, home, ...) are derived from the ``JOBS_``
settings here, before Prefect is imported, so this process and every process it starts (a
worker's forked runs, the jobs they submit) talk to the one server the settings name."""

import os

from jobs.services import prefect_env
from jobs.settings import get_settings

os.environ.update(prefect_env(get_settings()))

from jobs.cli import main

main()
