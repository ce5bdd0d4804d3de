"""NameJet's daily pending-delete list: every name about to drop, one a line (``/download/M-DD-YYYY.txt``).

A name on it can be backordered before it drops: a brand name there is one a squatter can take.
Where the list's address, date and format come from: tests/fixtures/namejet/README.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

from scrapy.http import Response

from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site
from spiders._feeds import Feed, FeedSpider, file_in, text_lines
from spiders._shops import CLOUDFLARE_TITLES

PENDING_DELETE = Feed("pending_delete", "/download/{month}-{day:02d}-{year}.txt", "pending_delete")
#: NameJet names its lists by the day in New York: a UTC date runs a day ahead from 19:00 or 20:00.
NAMEJET_TIME = ZoneInfo("America/New_York")


def list_path(now: datetime) -> str:
    """The path of the list of the day ``now`` is in, in New York."""
    day = now.astimezone(NAMEJET_TIME)
    return PENDING_DELETE.path.format(month=day.month, day=day.day, year=day.year)


class NameJetSpider(FeedSpider):
    name = "namejet"
    default_base_url = "https://www.{site}"
    allowed_domains: ClassVar[list[str]] = ["namejet.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"namejet.com": Site("namejet.com", "USD")}
    block_titles = CLOUDFLARE_TITLES
    feeds = (PENDING_DELETE,)
    # Lists run to a few hundred thousand names (~5 MB).
    feed_maxsize = 64 * 1024 * 1024

    def feed_url(self, site: Site, feed: Feed) -> str:
        return self.site_root(site) + list_path(datetime.now(UTC))

    def rows(self, response: Response, feed: Feed) -> Iterator[str]:
        return (row for line in text_lines(file_in(response)) if (row := line.strip()))

    def row_domain(self, row: str, feed: Feed) -> str:
        if " " in row or "." not in row:
            raise PageFormatError("not a domain name")
        return row

    def row_listing(self, row: str, site: Site, feed: Feed, seen_at: datetime) -> Listing:
        return self.feed_listing(row, site, feed, seen_at)

    def listing_url(self, site: Site, domain: str) -> str:
        return f"{self.site_root(site)}/Pages/Auctions/BackorderDetails.aspx?domainname={quote(domain)}"
