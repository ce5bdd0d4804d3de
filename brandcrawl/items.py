"""The one item every spider yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

# The statuses of a listing no longer on sale.
OFF_SALE = ("ended", "sold", "gone")


@dataclass
class Listing:
    """A listing as read from a marketplace, read through ItemAdapter by the pipelines.

    Spiders fill the identity and the raw texts (``price_text``, ``bids_text``, ``time_left_text``,
    ``followers_text``); the normalise pipeline turns those into ``price``/``currency``/``bid_count``/
    ``end_time``/``followers`` so that every marketplace shares one parser per kind of value. A spider
    that reads typed values from an API sets them directly and leaves the texts empty.

    ``description`` is read for handles, follower counts and (when ``price_text`` is empty) a price,
    but never matched as a whole: a brand named in passing in a sales pitch is not a hit.
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
    asset_text: str | None = None  # the asset as the listing writes it: "@Gallimard", "x.com/Gallimard"
    description: str | None = None
    category: str | None = None  # the marketplace's own: Flippa's property type, a forum category
    sale_method: str | None = None  # auction | fixed | offer
    followers_text: str | None = None
    followers: int | None = None
    # Every handle and domain the listing names (the normaliser's reading of title and description);
    # ``asset`` is the one on sale, chosen by the match pipeline. Not stored.
    assets: list[Any] = field(default_factory=list)
    # What a marketplace says that fits no common field (Flippa's "domain_only?"), kept as it says it.
    details: dict[str, Any] = field(default_factory=dict)
    price_text: str | None = None
    bids_text: str | None = None
    time_left_text: str | None = None
    seller: str | None = None
    price: Decimal | None = None
    currency: str | None = None
    price_is_range: bool = False
    bid_count: int | None = None
    end_time: datetime | None = None
    # active | ended | sold | gone; None: the page read does not say (the stored status stays).
    status: str | None = "active"
    matches: list[dict[str, Any]] = field(default_factory=list)
