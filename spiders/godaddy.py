"""GoDaddy Auctions' daily inventory: every domain on sale there, as zipped JSON files on
``inventory.auctions.godaddy.com`` (index: ``/metadata.json``), rebuilt once a day.

Each file is one JSON document ``{"meta": {…}, "data": [item, …]}`` of about a million items (~37 MB
zipped, ~450 MB unzipped), read as a stream. An item::

    {"domainName": "SHOP.IO", "link": "https://www.godaddy.com/domain-auctions/shop-io-1?isc=…",
     "auctionType": "Bid", "auctionEndTime": "2026-10-13T16:01:00Z", "price": "$1,324",
     "numberOfBids": 3, "domainAge": 12, "pageviews": 40, "valuation": "$1,200",
     "monthlyParkingRevenue": "$0", "isAdult": false, …}

Where that shape comes from: tests/fixtures/godaddy/README.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

import msgspec
from scrapy.http import Response, TextResponse

from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site
from spiders._feeds import BIG_FILE_PART, Feed, FeedSpider, feed_name, file_in, json_items

BIDDABLE = Feed("all_biddable_auctions", "/all_biddable_auctions.json.zip", "auction")
# Expired-domain auctions: the name lapsed at its registrar and is auctioned before it is released.
EXPIRING = Feed("all_expiring_auctions", "/all_expiring_auctions.json.zip", "auction")
# Names no auction sold, on sale at a fixed price that falls day by day.
CLOSEOUT = Feed("closeout_listings", "/closeout_listings.json.zip", "closeout")

# The items sit in the document's "data" array, after its "meta" object.
ITEMS = "data"
# A "Buy Now" item outside the closeouts is a fixed-price sale, whatever file lists it.
BUY_NOW = "BuyNow"
# The listing page when an item carries no link (GoDaddy's long-standing address, redirected to the
# current /domain-auctions/<name>-<id> page).
LEGACY_LISTING = "https://auctions.godaddy.com/trpItemListing.aspx?domain={domain}"


class Item(msgspec.Struct, rename="camel"):
    """The fields of an item the spider reads (the others are skipped while the file is decoded)."""

    domain_name: Any = None
    link: Any = None
    auction_type: Any = None
    auction_end_time: Any = None
    price: Any = None
    number_of_bids: Any = None
    domain_age: Any = None
    pageviews: Any = None
    valuation: Any = None


class GoDaddySpider(FeedSpider):
    name = "godaddy"
    # The files live on the inventory host of the auctions site.
    default_base_url = "https://inventory.{site}"
    allowed_domains: ClassVar[list[str]] = ["godaddy.com"]
    # GoDaddy Auctions prices everything in US dollars.
    site_profiles: ClassVar[dict[str, Site]] = {"auctions.godaddy.com": Site("auctions.godaddy.com", "USD")}
    # Most expiring auctions are biddable too: read in this order, one after another, so each is
    # reported from the expiring file, which says the most about it.
    feeds = (EXPIRING, BIDDABLE, CLOSEOUT)
    one_file_at_a_time = True
    # Read by FeedSpider.update_settings: the biddable and expiring files run to ~37 MB zipped each.
    feed_maxsize = 100 * 1024 * 1024
    feed_part_size = BIG_FILE_PART
    custom_settings: ClassVar[dict[str, Any]] = {
        # Read by the download handlers (default 32 MiB): warn when a file nears twice its usual size.
        "DOWNLOAD_WARNSIZE": 64 * 1024 * 1024,
        # Read by HttpErrorMiddleware (default []): a 403 is an edge's challenge or "Access Denied"
        # page, which must reach parse() to be counted as blocked rather than lost as a failed download.
        "HTTPERROR_ALLOWED_CODES": [403],
    }

    def is_blocked(self, response: TextResponse) -> bool:
        return response.status == 403 or super().is_blocked(response)

    def rows(self, response: Response, feed: Feed) -> Iterator[Item]:
        """The items, each an ``Item`` (or, where the file holds something else than an object,
        that value, which row_domain counts as malformed)."""
        return iter(json_items(file_in(response), ITEMS, Item))

    def row_domain(self, row: Item, feed: Feed) -> str:
        # Real files hold a few items with an empty domainName: malformed, counted and skipped.
        name = row.domain_name  # AttributeError where the file holds something else than an object
        if not isinstance(name, str) or "." not in name:
            raise PageFormatError(f"not a domain name: {name!r}")
        return name

    def row_listing(self, row: Item, site: Site, feed: Feed, seen_at: datetime) -> Listing:
        domain = feed_name(row.domain_name)
        fields: dict[str, Any] = {
            "url": self._parse_url(row, site, domain),
            "bid_count": _parse_int(row.number_of_bids),
            "end_time": _parse_end_time(row.auction_end_time),
            "details": self._parse_details(row, feed),
        }
        price = row.price
        if isinstance(price, int | Decimal):
            fields |= {"price": Decimal(price), "currency": site.currency}
        else:
            fields["price_text"] = price  # "$1,324": the normalise pipeline reads it
        if row.auction_type == BUY_NOW and feed is not CLOSEOUT:
            fields["sale_method"] = "fixed"
        return self.feed_listing(domain, site, feed, seen_at, **fields)

    def listing_url(self, site: Site, domain: str) -> str:
        return LEGACY_LISTING.format(domain=quote(domain))

    def _parse_url(self, row: Item, site: Site, domain: str) -> str:
        link = row.link
        if not isinstance(link, str) or not link.startswith("https://"):
            return self.listing_url(site, domain)
        # "?isc=json_biddable" says which file the link came from: one address per listing.
        return link.partition("?")[0]

    def _parse_details(self, row: Item, feed: Feed) -> dict[str, Any]:
        details = {
            "auction_type": row.auction_type,
            "domain_age": _parse_int(row.domain_age),
            "pageviews": _parse_int(row.pageviews),
            "valuation_usd": _parse_dollars(row.valuation),
        }
        if feed is EXPIRING:
            details["expiring"] = True
        return {key: value for key, value in details.items() if value is not None}


def _parse_int(value: Any) -> int | None:
    return None if value is None or value == "" else int(value)


def _parse_end_time(text: str | None) -> datetime | None:
    """ "2026-10-13T16:01:00Z"; a stamp without an offset is UTC too."""
    if not text:
        return None
    end = datetime.fromisoformat(text)
    return end.replace(tzinfo=UTC) if end.tzinfo is None else end.astimezone(UTC)


def _parse_dollars(value: Any) -> int | None:
    """ "$8,850" → 8850: GoDaddy's valuations are whole dollars."""
    if value is None or isinstance(value, int):
        return value
    try:
        return int(Decimal(str(value).replace("$", "").replace(",", "").strip()))
    except InvalidOperation:
        return None
