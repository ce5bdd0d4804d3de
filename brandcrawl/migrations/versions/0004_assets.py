"""assets: one row per domain or handle on sale, linking its listings across marketplaces

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

import brandcrawl.storage.models

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("first_seen", brandcrawl.storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
        sa.UniqueConstraint("kind", "value", name=op.f("uq_assets_kind")),
    )
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("asset_pk", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_listings_asset_pk"), ["asset_pk"], unique=False)
        batch_op.create_foreign_key(batch_op.f("fk_listings_asset_pk_assets"), "assets", ["asset_pk"], ["id"])
    # Listings stored before this revision get their assets now, so the digest groups them too.
    op.execute(
        "INSERT INTO assets (kind, value, first_seen) "
        "SELECT asset_kind, asset, MIN(first_seen) FROM listings "
        "WHERE asset IS NOT NULL AND asset_kind IN ('domain', 'handle') GROUP BY asset_kind, asset"
    )
    op.execute(
        "UPDATE listings SET asset_pk = (SELECT assets.id FROM assets "
        "WHERE assets.kind = listings.asset_kind AND assets.value = listings.asset)"
    )


def downgrade() -> None:
    with op.batch_alter_table("listings", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_listings_asset_pk_assets"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_listings_asset_pk"))
        batch_op.drop_column("asset_pk")
    op.drop_table("assets")
