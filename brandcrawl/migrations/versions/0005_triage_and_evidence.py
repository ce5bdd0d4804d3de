"""triage and evidence: a state per hit with its audit trail, suppressions, listing page snapshots

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

import brandcrawl.storage.models

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    utc = brandcrawl.storage.models.UTCDateTime(timezone=True)
    # Hits stored before this revision start as "new": nobody has triaged them yet.
    with op.batch_alter_table("hits", schema=None) as batch_op:
        batch_op.add_column(sa.Column("state", sa.String(length=16), server_default="new", nullable=False))
        batch_op.add_column(sa.Column("state_changed_at", utc, nullable=True))
        batch_op.create_index(batch_op.f("ix_hits_state"), ["state"], unique=False)
    op.create_table(
        "triage_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("hit_id", sa.Integer(), nullable=False),
        sa.Column("at", utc, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("old_state", sa.String(length=16), nullable=False),
        sa.Column("new_state", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["hit_id"], ["hits.id"], name=op.f("fk_triage_actions_hit_id_hits"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_triage_actions")),
    )
    op.create_index(op.f("ix_triage_actions_hit_id"), "triage_actions", ["hit_id"], unique=False)
    op.create_table(
        "suppressions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("asset_kind", sa.String(length=16), nullable=True),
        sa.Column("marketplace", sa.String(length=40), nullable=True),
        sa.Column("brand", sa.String(length=200), nullable=True),
        sa.Column("until", utc, nullable=True),
        sa.Column("hit_id", sa.Integer(), nullable=True),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("removed_at", utc, nullable=True),
        sa.Column("removed_by", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["hit_id"], ["hits.id"], name=op.f("fk_suppressions_hit_id_hits"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_suppressions")),
    )
    op.create_index("ix_suppressions_target", "suppressions", ["kind", "value"], unique=False)
    op.create_table(
        "snapshots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("listing_pk", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(length=300), nullable=False),
        sa.Column("fetched_at", utc, nullable=False),
        sa.ForeignKeyConstraint(
            ["listing_pk"], ["listings.id"], name=op.f("fk_snapshots_listing_pk_listings"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_snapshots")),
    )
    op.create_index(op.f("ix_snapshots_listing_pk"), "snapshots", ["listing_pk"], unique=False)
    op.create_index(op.f("ix_snapshots_sha256"), "snapshots", ["sha256"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_snapshots_sha256"), table_name="snapshots")
    op.drop_index(op.f("ix_snapshots_listing_pk"), table_name="snapshots")
    op.drop_table("snapshots")
    op.drop_index("ix_suppressions_target", table_name="suppressions")
    op.drop_table("suppressions")
    op.drop_index(op.f("ix_triage_actions_hit_id"), table_name="triage_actions")
    op.drop_table("triage_actions")
    with op.batch_alter_table("hits", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_hits_state"))
        batch_op.drop_column("state_changed_at")
        batch_op.drop_column("state")
