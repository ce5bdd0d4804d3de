"""The one item every spider yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass
class Listing:
    """A listing as read from a marketplace, read through ItemAdapter by the pipelines.

    Spiders fill the identity and the raw texts (``price_text``, ``bids_text``, ``time_left_text``);
    the normalise pipeline turns those into ``price``/``currency``/``bid_count``/``end_time`` so that
    every marketplace shares one parser per kind of value.
    """

    marketplace: str
    listing_id: str
    url: str
    title: str
    seen_at: datetime
    site: str | None = None
    default_currency: str | None = None
    asset_kind: str = "other"  # domain | handle | other
    asset: str | None = None  # normalised domain, or "platform:handle"
    price_text: str | None = None
    bids_text: str | None = None
    time_left_text: str | None = None
    seller: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    price_is_range: bool = False
    bid_count: int | None = None
    end_time: datetime | None = None
    status: str = "active"  # active | ended
    matches: list[dict[str, Any]] = field(default_factory=list)
