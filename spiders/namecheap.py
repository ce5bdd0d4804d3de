"""Namecheap Market: the public files its auctions pages link to, rewritten every hour on Namecheap's
CloudFront host.

- ``Namecheap_Market_Sales.csv`` (~194 MB, ~1.1 M rows, 25 columns): every running auction, one row
  each, with its sale page (``url``), current price, bids, start and end (ISO UTC) and SEO figures.
- ``Namecheap_Market_Sales_Buy_Now.csv`` (``permalink,domain,price,extensions_taken``): the names
  sold at a fixed price.

Both are unquoted UTF-8 CSV in US dollars. Where each shape comes from: tests/fixtures/namecheap/README.md.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote

from scrapy.http import TextResponse

from brandcrawl.assets import ascii_host
from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site
from spiders._csv_feeds import CsvFeed, CsvFeedSpider
from spiders._feeds import BIG_FILE_PART

MARKET_SALES = CsvFeed(
    "market_sales",
    "/reports/Namecheap_Market_Sales.csv",
    "auction",
    domain_column="name",
    columns=(
        "url", "startDate", "endDate", "price", "startPrice", "renewPrice", "bidCount", "estibotValue",
        "extensionsTaken", "registeredDate", "lastSoldPrice", "lastSoldYear",
    ),
)  # fmt: skip
BUY_NOW = CsvFeed(
    "buy_now",
    "/reports/Namecheap_Market_Sales_Buy_Now.csv",
    "fixed",
    domain_column="domain",
    columns=("permalink", "price", "extensions_taken"),
)
# Amounts kept in a hit's details, by the column they are read from.
AMOUNT_DETAILS = (
    ("start_price", "startPrice"),
    ("renew_price", "renewPrice"),
    ("estibot_value", "estibotValue"),
)
#: Where the listings are seen: the market on www.namecheap.com, not the files' host.
MARKET = "https://www.namecheap.com/market"
# The files grow with the market (194 MB on 2026-10-07): room to double before a run refuses them.
MAX_FILE = 400 * 1024 * 1024


class NamecheapSpider(CsvFeedSpider):
    name = "namecheap"
    # The host serving Namecheap Market's own web app and its reports (no {site}: one host for all).
    default_base_url = "https://d3ry1h4w5036x1.cloudfront.net"
    allowed_domains: ClassVar[list[str]] = ["d3ry1h4w5036x1.cloudfront.net", "namecheap.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"namecheap.com": Site("namecheap.com", "USD")}
    feeds = (MARKET_SALES, BUY_NOW)
    # A name in both is reported as the auction (bids, end) whatever download ends first.
    one_file_at_a_time = True
    feed_maxsize = MAX_FILE
    feed_part_size = BIG_FILE_PART
    # CloudFront's WAF answers a refused client 403 with its own HTML page.
    block_titles = ("ERROR: The request could not be satisfied",)
    #: Read by HttpErrorMiddleware: a 403 reaches parse(), where an HTML one is a block and anything
    #: else (S3's AccessDenied XML for a moved file) a parse error.
    handle_httpstatus_list: ClassVar[list[int]] = [403]
    custom_settings: ClassVar[dict[str, Any]] = {
        # default 32 MiB: not worth a warning on every run.
        "DOWNLOAD_WARNSIZE": MAX_FILE // 2,
        # default 60 s (brandcrawl): 194 MB must also come through a slow link.
        "DOWNLOAD_TIMEOUT": 900,
    }

    def is_blocked(self, response: TextResponse) -> bool:
        return response.status == 403 or super().is_blocked(response)

    def hit_listing(self, fields: dict[str, str], site: Site, feed: CsvFeed, seen_at: datetime) -> Listing:
        if feed.name == BUY_NOW.name:
            return self._buy_now_listing(fields, site, feed, seen_at)
        domain = _parse_domain(fields["name"])
        price = _parse_amount(fields["price"])
        return self.feed_listing(
            domain,
            site,
            feed,
            seen_at,
            asset_text=fields["name"].strip(),
            url=_parse_url(fields["url"]) or self.listing_url(site, domain),
            price=price,
            currency=site.currency if price is not None else None,
            bid_count=_parse_count(fields["bidCount"]),
            end_time=_parse_time(fields["endDate"]),
            details=_parse_sale_details(fields, site.currency),
        )

    def _buy_now_listing(
        self, fields: dict[str, str], site: Site, feed: CsvFeed, seen_at: datetime
    ) -> Listing:
        domain = _parse_domain(fields["domain"])
        price = _parse_amount(fields["price"])
        extensions = _parse_count(fields["extensions_taken"])
        return self.feed_listing(
            domain,
            site,
            feed,
            seen_at,
            asset_text=fields["domain"].strip(),
            url=_parse_url(fields["permalink"]) or self.listing_url(site, domain),
            price=price,
            currency=site.currency if price is not None else None,
            details={"extensions_taken": extensions} if extensions is not None else {},
        )

    def listing_url(self, site: Site, domain: str) -> str:
        # The market's search: it finds a name whatever its sale type (rows name their own page).
        return f"{MARKET}/?term={quote(domain)}"


def _parse_domain(text: str) -> str:
    """The name as registries write it: ASCII, Unicode labels in punycode (``asset_text`` keeps it
    as the file writes it)."""
    return ascii_host(text.strip())


def _parse_url(text: str) -> str | None:
    url = text.strip()
    if not url:
        return None
    if not url.startswith(("https://", "http://")):
        raise PageFormatError(f"not a listing URL: {url!r}")
    return url


def _parse_amount(text: str) -> Decimal | None:
    """A plain amount ("1116.00"); none when the field is empty."""
    if not text.strip():
        return None
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise PageFormatError(f"not an amount: {text!r}") from None


def _parse_count(text: str) -> int | None:
    return int(text) if text.strip() else None


def _parse_time(text: str) -> datetime | None:
    """An ISO time in UTC ("2026-02-15T16:00:00Z")."""
    if not text.strip():
        return None
    value = datetime.fromisoformat(text.strip())
    if value.utcoffset() is None:
        raise PageFormatError(f"a time without its zone: {text!r}")
    return value


def _parse_sale_details(fields: dict[str, str], currency: str) -> dict[str, Any]:
    """What the auction file adds that a reader of a hit weighs: when it started and at what price,
    what the name costs to renew, its appraisal, its age, how many other extensions are taken, and
    its last sale."""
    details: dict[str, Any] = {}
    if started := _parse_time(fields["startDate"]):
        details["started"] = started.isoformat()
    for key, column in AMOUNT_DETAILS:
        if (amount := _parse_amount(fields[column])) is not None:
            details[key] = f"{amount} {currency}"
    if registered := _parse_time(fields["registeredDate"]):
        details["registered"] = registered.date().isoformat()
    if (extensions := _parse_count(fields["extensionsTaken"])) is not None:
        details["extensions_taken"] = extensions
    if (sold := _parse_amount(fields["lastSoldPrice"])) is not None:
        year = fields["lastSoldYear"].strip()
        details["last_sold"] = f"{sold} {currency}" + (f" in {year}" if year else "")
    return details
