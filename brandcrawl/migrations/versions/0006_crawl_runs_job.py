"""crawl runs: the Scrapyd job each crawl ran as, which `brandcrawl dispatch` reads to learn how it went

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Runs recorded before this revision ran outside Scrapyd or before anyone asked: no job.
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job", sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f("ix_crawl_runs_job"), ["job"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_runs_job"))
        batch_op.drop_column("job")
