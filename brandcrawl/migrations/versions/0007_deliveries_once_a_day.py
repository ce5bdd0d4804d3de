"""deliveries: the day each digest was claimed for, one sent (or written) per recipient and day

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

COUNTED_FOR_THE_DAY = "status IN ('sending', 'sent', 'written')"


def upgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.add_column(sa.Column("day", sa.Date(), nullable=True))
    # Before this revision the digest timezone was not recorded: UTC is the best guess of the day.
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE deliveries SET day = date(claimed_at)")
    else:
        op.execute("UPDATE deliveries SET day = (claimed_at AT TIME ZONE 'UTC')::date")
    # Earlier runs could send twice a day: the first of the day keeps it, the others count as extra
    # digests (as `digest --again` sends), or the once-a-day index could not be built.
    op.execute(
        "UPDATE deliveries SET day = NULL WHERE status IN ('sending', 'sent', 'written') AND id NOT IN ("
        "SELECT MIN(id) FROM deliveries WHERE status IN ('sending', 'sent', 'written') "
        "GROUP BY recipient, day)"
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "uq_deliveries_recipient_day",
            ["recipient", "day"],
            unique=True,
            sqlite_where=sa.text(COUNTED_FOR_THE_DAY),
            postgresql_where=sa.text(COUNTED_FOR_THE_DAY),
        )


def downgrade() -> None:
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("uq_deliveries_recipient_day")
        batch_op.drop_column("day")
