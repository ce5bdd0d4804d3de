"""The database schema. Changes to it go through an Alembic migration in brandcrawl/migrations."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import (
    JSON,
    BigInteger,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out, also on SQLite, which stores them without a zone."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class Digest(Base):
    """One digest written or sent: what it reported points here, so the next one skips it."""

    __tablename__ = "digests"

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    location: Mapped[str | None] = mapped_column(Text)
    hit_count: Mapped[int] = mapped_column(Integer, default=0)
    change_count: Mapped[int] = mapped_column(Integer, default=0)


class AssetRow(Base):
    """A domain or handle on sale, once, whatever the marketplaces and listings that offer it."""

    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # domain | handle
    value: Mapped[str] = mapped_column(String(300))  # "gallimard-shop.net" (ASCII), "x:gallimard"
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class ListingRow(Base):
    """A listing on one marketplace, unique by (marketplace, listing_id), updated when seen again."""

    __tablename__ = "listings"
    __table_args__ = (UniqueConstraint("marketplace", "listing_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    marketplace: Mapped[str] = mapped_column(String(40))
    listing_id: Mapped[str] = mapped_column(String(128))
    site: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    asset_kind: Mapped[str] = mapped_column(String(16))
    asset: Mapped[str | None] = mapped_column(String(300), index=True)
    # The same domain on several marketplaces is one asset with several listings.
    asset_pk: Mapped[int | None] = mapped_column(ForeignKey("assets.id"), index=True)
    asset_text: Mapped[str | None] = mapped_column(String(300))
    category: Mapped[str | None] = mapped_column(String(100))
    sale_method: Mapped[str | None] = mapped_column(String(16))  # auction | fixed | offer
    followers: Mapped[int | None] = mapped_column(BigInteger)
    details: Mapped[dict | None] = mapped_column(JSON)
    seller: Mapped[str | None] = mapped_column(String(200))
    price: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    price_is_range: Mapped[bool] = mapped_column(default=False)
    bid_count: Mapped[int | None] = mapped_column(Integer)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(16))
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime)


class Hit(Base):
    """A listing that carries a watched brand."""

    __tablename__ = "hits"
    __table_args__ = (UniqueConstraint("listing_pk", "brand"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    brand: Mapped[str] = mapped_column(String(200))
    rule: Mapped[str] = mapped_column(String(40))
    matched: Mapped[str] = mapped_column(String(300))
    explanation: Mapped[str] = mapped_column(Text)
    score: Mapped[float]
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_in: Mapped[int | None] = mapped_column(ForeignKey("digests.id"), index=True)
    # Triage: new | reviewed | false_positive | actioned (takedown requested) | resolved (gone after action)
    state: Mapped[str] = mapped_column(String(16), default="new", server_default="new", index=True)
    state_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class TriageAction(Base):
    """One change of a hit's triage state, with who made it, when and why: the audit trail."""

    __tablename__ = "triage_actions"

    id: Mapped[int] = mapped_column(primary_key=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(200))
    old_state: Mapped[str] = mapped_column(String(16))
    new_state: Mapped[str] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)


class Suppression(Base):
    """An asset (domain, or platform + handle) or a seller the team said is not a problem for a brand.

    ``brand`` NULL covers every brand. Removing one keeps the row (``removed_at``) for the audit trail.
    """

    __tablename__ = "suppressions"
    __table_args__ = (Index("ix_suppressions_target", "kind", "value"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # asset | seller
    # asset: the asset's stored value ("gallimard-shop.net", "x:gallimard"); seller: the seller's name
    value: Mapped[str] = mapped_column(String(300))
    asset_kind: Mapped[str | None] = mapped_column(String(16))  # domain | handle, for assets
    marketplace: Mapped[str | None] = mapped_column(String(40))  # for sellers: a seller is per marketplace
    brand: Mapped[str | None] = mapped_column(String(200))
    until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hit_id: Mapped[int | None] = mapped_column(ForeignKey("hits.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by: Mapped[str | None] = mapped_column(String(200))


class Snapshot(Base):
    """A listing page as fetched, kept as evidence: the body lives compressed under its sha256.

    Never updated: a later fetch of the same page adds a row (and shares the file if the body is equal).
    """

    __tablename__ = "snapshots"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict] = mapped_column(JSON)
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # of the raw body, as received
    size: Mapped[int] = mapped_column(BigInteger)  # raw body bytes
    path: Mapped[str] = mapped_column(String(300))  # relative to the evidence folder
    fetched_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ListingChange(Base):
    """What changed on a re-seen listing: price, bids, end time or status, old and new."""

    __tablename__ = "listing_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    listing_pk: Mapped[int] = mapped_column(ForeignKey("listings.id", ondelete="CASCADE"), index=True)
    field: Mapped[str] = mapped_column(String(32))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reported_in: Mapped[int | None] = mapped_column(ForeignKey("digests.id"), index=True)


class CrawlRun(Base):
    """One spider's crawl, so the digest can tell "no hits" from "could not look"."""

    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    spider: Mapped[str] = mapped_column(String(40), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime)
    pages_fetched: Mapped[int] = mapped_column(Integer)
    listings_seen: Mapped[int] = mapped_column(Integer)
    hits: Mapped[int] = mapped_column(Integer)
    new_hits: Mapped[int] = mapped_column(Integer)
    errors: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))  # ok | blocked | disallowed | broken | needs_login
    # How the marketplace was read, when it can be read more than one way ("Browse API", "search pages").
    source: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text, default="")
    finish_reason: Mapped[str | None] = mapped_column(String(64))
    # The Scrapyd job this crawl ran as (its ``_job`` argument): how `brandcrawl dispatch` learns how
    # a job went, Scrapyd saying "finished" even of a job that died at start. None outside Scrapyd.
    job: Mapped[str | None] = mapped_column(String(100), index=True)


class Delivery(Base):
    """One digest for one recipient: claimed while sending, then sent (or written to disk, or failed).

    At most one delivery per recipient is ``sending`` at a time (a partial unique index): two digest
    runs cannot both send to the same person. And one a day: a second claim for the same ``day``
    while one is sending, sent or written is refused, so two cron entries never both send it.
    """

    __tablename__ = "deliveries"
    __table_args__ = (
        Index(
            "uq_deliveries_sending_recipient",
            "recipient",
            unique=True,
            sqlite_where=text("status = 'sending'"),
            postgresql_where=text("status = 'sending'"),
        ),
        Index(
            "uq_deliveries_recipient_day",
            "recipient",
            "day",
            unique=True,
            # Failed or abandoned deliveries leave the day's digest to the next run.
            sqlite_where=text("status IN ('sending', 'sent', 'written')"),
            postgresql_where=text("status IN ('sending', 'sent', 'written')"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(320), index=True)
    status: Mapped[str] = mapped_column(String(16))  # sending | sent | written | failed | abandoned
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The day of the claim in the digest's timezone; None for a digest sent on purpose beyond the
    # day's one (`brandcrawl digest --again`), which the once-a-day index leaves out.
    day: Mapped[date | None] = mapped_column(Date)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[str | None] = mapped_column(String(200))
    subject: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)


class DeliveredHit(Base):
    __tablename__ = "delivered_hits"
    __table_args__ = (UniqueConstraint("delivery_id", "hit_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    hit_id: Mapped[int] = mapped_column(ForeignKey("hits.id"), index=True)


class DeliveredChange(Base):
    __tablename__ = "delivered_changes"
    __table_args__ = (UniqueConstraint("delivery_id", "change_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id"), index=True)
    change_id: Mapped[int] = mapped_column(ForeignKey("listing_changes.id"), index=True)
