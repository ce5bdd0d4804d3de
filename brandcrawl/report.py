"""What a digest reports: the data the templates in reports/ render, built by brandcrawl.digest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class OtherListing:
    """Another listing of the same domain or handle, on this or another marketplace."""

    marketplace: str
    site: str | None
    url: str
    price: Decimal | None
    currency: str | None
    sale_method: str | None
    end_time: datetime | None
    status: str


@dataclass(frozen=True)
class ReportedHit:
    hit_id: int
    brand: str
    marketplace: str
    site: str | None
    title: str
    url: str
    asset_kind: str
    asset: str | None
    matched: str
    explanation: str
    score: float
    price: Decimal | None
    currency: str | None
    price_is_range: bool
    bid_count: int | None
    end_time: datetime | None
    status: str
    seller: str | None
    asset_text: str | None = None  # as the listing writes it
    followers: int | None = None
    sale_method: str | None = None  # auction | fixed | offer | pending_delete | closeout
    listing_pk: int | None = None
    asset_pk: int | None = None
    # The same asset's other listings: one entry per domain or handle, however many offer it.
    also_listed: tuple[OtherListing, ...] = ()
    # Set when this is the asset (or listing) of a hit whose takedown was requested or done, offered
    # again: that hit's id (this hit's own when its listing came back).
    takedown_hit_id: int | None = None


@dataclass(frozen=True)
class ReportedChange:
    change_id: int
    brand: str
    marketplace: str
    title: str
    url: str
    asset: str | None
    field: str
    old_value: str | None
    new_value: str | None
    changed_at: datetime


@dataclass
class BrandSection:
    brand: str
    new_hits: list[ReportedHit] = field(default_factory=list)
    changes: list[ReportedChange] = field(default_factory=list)
    # Relisted after takedown, shown first: new hits of an asset taken down, and taken-down listings
    # seen on sale again (current values; the status change that said so is not repeated).
    relisted: list[ReportedHit] = field(default_factory=list)


@dataclass(frozen=True)
class Health:
    marketplace: str
    status: str
    detail: str
    pages_fetched: int
    listings_seen: int
    hits: int
    finished_at: datetime
    source: str | None = None  # "api" | "pages" when a marketplace can be read both ways


@dataclass
class DigestReport:
    generated_at: datetime
    timezone: str
    sections: list[BrandSection]
    health: list[Health]
    hit_ids: list[int]
    change_ids: list[int]

    @property
    def new_hit_count(self) -> int:
        return sum(len(s.new_hits) for s in self.sections)

    @property
    def relisted_count(self) -> int:
        return sum(len(s.relisted) for s in self.sections)

    @property
    def change_count(self) -> int:
        """Changes shown; one listing reported under two brands counts once."""
        return len({change.change_id for s in self.sections for change in s.changes})

    @property
    def problems(self) -> list[Health]:
        """Marketplaces that could not be checked: blocked, disallowed, broken or stale (one waiting for
        login credentials is the watch file's choice, shown in the health section only)."""
        return [h for h in self.health if h.status not in ("ok", "needs_login")]

    @property
    def listings_checked(self) -> int:
        return sum(h.listings_seen for h in self.health)

    @property
    def quiet(self) -> bool:
        """Nothing new, relisted or changed."""
        return not self.new_hit_count and not self.change_count and not self.relisted_count
