"""Dynadot's public auction files on www.dynadot.com: expired-domain auctions, auctions its users run,
and pre-expiry auctions, each a CSV of every running auction (asked in US dollars):

``Domain,Bid Price,Bid Price Currency,Bids,End Time,End Timestamp,Links,Age, Appraisal, Appraisal Currency``

The bid is written with its symbol ("$101"), the end both as Pacific time ("2026/10/11 22:17 PST",
PST even in summer) and in epoch milliseconds. Where the shape comes from: tests/fixtures/dynadot/README.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from scrapy.http import TextResponse

from brandcrawl.assets import ascii_host
from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site
from spiders._csv_feeds import CsvFeed, CsvFeedSpider
from spiders._feeds import BIG_FILE_PART

COLUMNS = (
    "Bid Price",
    "Bid Price Currency",
    "Bids",
    "End Time",
    "End Timestamp",
    "Links",
    "Age",
    "Appraisal",
)
# Every file takes the currency its prices are written in; USD is what every other feed uses.
EXPIRED = CsvFeed("auctions", "/market/auction/auctions.csv?currency=USD", "auction", "Domain", COLUMNS)
USER = CsvFeed(
    "user_auctions", "/market/user-auction/user_auctions.csv?currency=USD", "auction", "Domain", COLUMNS
)
PRE_EXPIRY = CsvFeed(
    "pre_expiry_auctions",
    "/market/pre-expiry-auction/pre_expiry_auctions.csv?currency=USD",
    "auction",
    "Domain",
    COLUMNS,
)
# "End Time" is Pacific wall time, labelled PST whatever the season (the sample's 22:17 "PST" on
# 2026/10/11 is its timestamp's 05:17 UTC: daylight time).
PACIFIC = ZoneInfo("America/Los_Angeles")
END_TIME_FORMAT = "%Y/%m/%d %H:%M"
CURRENCY_SYMBOLS = "$€£¥ "


class DynadotSpider(CsvFeedSpider):
    name = "dynadot"
    default_base_url = "https://www.{site}"
    allowed_domains: ClassVar[list[str]] = ["dynadot.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"dynadot.com": Site("dynadot.com", "USD")}
    feeds = (EXPIRED, USER, PRE_EXPIRY)
    one_file_at_a_time = True  # a name on two files is reported from the same one every run
    # Sellers' own auctions and pre-expiry auctions come and go: a day can have none.
    may_be_empty = frozenset({USER.name, PRE_EXPIRY.name})
    # Tens of thousands of auctions a file, a few MB: ample room.
    feed_maxsize = 64 * 1024 * 1024
    feed_part_size = BIG_FILE_PART
    # Dynadot sits behind Cloudflare.
    block_titles = ("Just a moment...", "Attention Required!")
    #: Read by HttpErrorMiddleware: Cloudflare's challenge (403) reaches parse(), to count as blocked.
    handle_httpstatus_list: ClassVar[list[int]] = [403]

    def is_blocked(self, response: TextResponse) -> bool:
        return response.status == 403 or super().is_blocked(response)

    def hit_listing(self, fields: dict[str, str], site: Site, feed: CsvFeed, seen_at: datetime) -> Listing:
        price = _parse_money(fields["Bid Price"])
        written = fields["Domain"].strip()
        return self.feed_listing(
            ascii_host(written),  # Unicode labels in punycode, as registries write names
            site,
            feed,
            seen_at,
            asset_text=written,
            price=price,
            currency=(fields["Bid Price Currency"].strip() or site.currency) if price is not None else None,
            bid_count=_parse_count(fields["Bids"]),
            end_time=_parse_end_time(fields["End Timestamp"], fields["End Time"]),
            details=_parse_details(fields),
        )

    def listing_url(self, site: Site, domain: str) -> str:
        return f"{self.site_root(site)}/market/auction/{quote(domain)}"


def _parse_money(text: str) -> Decimal | None:
    """An amount with its symbol: "$101", "$4097", "$1,250.50"; none when the field is empty."""
    amount = text.strip().lstrip(CURRENCY_SYMBOLS).replace(",", "")
    if not amount:
        return None
    try:
        return Decimal(amount)
    except InvalidOperation:
        raise PageFormatError(f"not an amount: {text!r}") from None


def _parse_count(text: str) -> int | None:
    return int(text) if text.strip() else None


def _parse_end_time(timestamp: str, written: str) -> datetime | None:
    """The end in epoch milliseconds, else as written in Pacific time."""
    if timestamp.strip():
        return datetime.fromtimestamp(int(timestamp) / 1000, UTC)
    if not written.strip():
        return None
    wall_time, _, _zone = written.strip().rpartition(" ")
    return datetime.strptime(wall_time, END_TIME_FORMAT).replace(tzinfo=PACIFIC).astimezone(UTC)


def _parse_details(fields: dict[str, str]) -> dict[str, Any]:
    """The figures the file gives beside the bid: inbound links, age in years, Dynadot's appraisal."""
    details: dict[str, Any] = {}
    for key, column in (("links", "Links"), ("age_years", "Age")):
        if (value := _parse_count(fields[column])) is not None:
            details[key] = value
    if (appraisal := _parse_money(fields["Appraisal"])) is not None:
        currency = fields.get("Appraisal Currency", "").strip()
        details["appraisal"] = f"{appraisal} {currency}".strip()
    return details
