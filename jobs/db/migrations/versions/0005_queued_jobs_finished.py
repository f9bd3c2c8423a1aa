"""queued jobs by state, lane and end: dead letters and metrics without full scans

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_queued_jobs_finished", "queued_jobs", ["state", "lane", "finished_at"])


def downgrade() -> None:
    op.drop_index("ix_queued_jobs_finished", table_name="queued_jobs")
