"""handle listings: what the listing writes, its category, sale method, followers and extras; run source

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns only: existing listings keep every value; the next crawl fills the new ones.
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asset_text", sa.String(length=300), nullable=True))
        batch_op.add_column(sa.Column("category", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("sale_method", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("followers", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("details", sa.JSON(), nullable=True))
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("crawl_runs", schema=None) as batch_op:
        batch_op.drop_column("source")
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_column("details")
        batch_op.drop_column("followers")
        batch_op.drop_column("sale_method")
        batch_op.drop_column("category")
        batch_op.drop_column("asset_text")
