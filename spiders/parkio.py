"""Park.io: auctions of caught .io, .ly, .me… names (``/auctions.json``) and, per TLD, the names about
to drop that anyone may backorder (``/domains/index/<tld>.json``).

Both are public JSON lists, paged the CakePHP way: ``{"success", "nextPage", "page", "pageCount",
"count", "auctions" | "domains": [...]}``, ``?limit=`` the page size, and the next pages at
``/auctions/index/page:N.json`` and ``/domains/index/<tld>/page:N.json`` (public clients:
tests/fixtures/parkio/README.md). The TLDs read are the watch file's ``categories``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, BinaryIO, ClassVar
from urllib.parse import quote

import ijson
import scrapy
from scrapy.http import Response, TextResponse

from brandcrawl.items import Listing
from spiders._base import PAGE_ERRORS, PageFormatError, Site
from spiders._feeds import FEED_ERRORS, Feed, FeedSpider, file_in, json_items, without_bom
from spiders._shops import CLOUDFLARE_TITLES

AUCTIONS = Feed("auctions", "/auctions.json", "auction")
# The drop lists' feeds are named "drops_<tld>"; their rows are names Park.io backorders before they
# drop on ``date_available``: pending deletes, with no price in the list.
DROPS_PREFIX = "drops_"
# Names a page: usually the whole list, which saves the site the paging (a TLD lists a few thousand).
PAGE_LIMIT = 10_000
# The feed_maxsize: a page of PAGE_LIMIT names is under 1 MB; the rest is headroom.
MAXSIZE = 16 * 1024 * 1024
# The TLDs Park.io backorders (its /domains page links each list): the watch file's categories win.
TLDS = (
    "io", "ly", "me", "sh", "ac", "ai", "co", "gg", "je", "to", "vc", "lc", "sc", "bz", "ag", "mn",
    "pro", "red", "us", "info", "net", "org", "com",
)  # fmt: skip
# close_date carries New York's zone abbreviation: its offsets from UTC.
NEW_YORK_OFFSETS = {"EDT": -4, "EST": -5}
# A page this small may be a list that is really empty: read whole to tell it from a broken one.
SMALL_PAGE = 4096


class ParkioSpider(FeedSpider):
    name = "parkio"
    allowed_domains: ClassVar[list[str]] = ["park.io"]
    site_profiles: ClassVar[dict[str, Site]] = {"park.io": Site("park.io", "USD")}
    block_titles = CLOUDFLARE_TITLES
    default_categories = TLDS
    feed_maxsize = MAXSIZE
    custom_settings: ClassVar[dict[str, Any]] = {
        # Read by HttpErrorMiddleware (default []): Cloudflare's challenge comes with a 403 and must
        # reach parse() to be counted as blocked, not lost as a failed download.
        "HTTPERROR_ALLOWED_CODES": [403],
    }

    @property
    def feeds(self) -> tuple[Feed, ...]:  # type: ignore[override]
        """The auctions, then one drop list per TLD chosen."""
        drops = (
            Feed(f"{DROPS_PREFIX}{tld}", f"/domains/index/{tld}.json", "pending_delete")
            for tld in self.categories
        )
        return (AUCTIONS, *drops)

    def feed_url(self, site: Site, feed: Feed) -> str:
        return f"{self.site_root(site)}{feed.path}?limit={PAGE_LIMIT}"

    def parse(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """A page of a list: its hits, then the next page while the list says there is one."""
        if self._says_empty(response):
            return
        yield from super().parse(response)
        if next_page := self._next_page(response):
            yield next_page

    def _says_empty(self, response: Response) -> bool:
        """A list Park.io says is empty today (a TLD with no drop): read, not a changed format,
        which the base takes any file without rows for."""
        if len(response.body) > SMALL_PAGE:
            return False
        feed = self.feed_named(response.meta.get("feed"))
        try:
            answer = json.loads(response.body.decode("utf-8-sig"))
        except ValueError:
            return False  # the base reads it and says what it is
        if not (isinstance(answer, dict) and answer.get("success") and answer.get(_list_key(feed)) == []):
            return False
        site = self.site_for(response)
        self.crawler.stats.inc_value("brandcrawl/pages/parsed")
        self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/parsed")
        self.logger.info("%s: Park.io lists nothing today (%s)", feed.name, response.url)
        return True

    def _next_page(self, response: Response) -> scrapy.Request | None:
        feed = self.feed_named(response.meta.get("feed"))
        page = response.meta.get("page", 1)
        try:
            paging = _paging(without_bom(file_in(response)))
        except (*FEED_ERRORS, *PAGE_ERRORS):
            return None  # an unreadable page: the base has recorded why
        if not paging.get("nextPage"):
            return None
        if page >= self.max_pages:
            # The rest of the list is unread: its stored listings must not be ended as missing.
            self.crawler.stats.inc_value("brandcrawl/feed/incomplete")
            self.logger.warning(
                "%s: stopped at page %d of %s (max_pages); raise max_pages to read the rest",
                feed.name,
                page,
                paging.get("pageCount", "?"),
            )
            return None
        site = self.site_for(response)
        stem = "/auctions/index" if feed is AUCTIONS else feed.path.removesuffix(".json")
        url = f"{self.site_root(site)}{stem}/page:{page + 1}.json?limit={PAGE_LIMIT}"
        return scrapy.Request(
            url, errback=self.search_failed, meta={"site": site.domain, "feed": feed.name, "page": page + 1}
        )

    def rows(self, response: Response, feed: Feed) -> Iterable[dict[str, Any]]:
        return json_items(file_in(response), _list_key(feed))

    def row_domain(self, row: dict[str, Any], feed: Feed) -> str:
        name = row["name"]
        if not isinstance(name, str) or "." not in name:
            raise PageFormatError(f"not a domain name: {name!r}")
        return name

    def row_listing(self, row: dict[str, Any], site: Site, feed: Feed, seen_at: datetime) -> Listing:
        name = row["name"]
        if feed is AUCTIONS:
            return self.feed_listing(
                name,
                site,
                feed,
                seen_at,
                price=self._parse_price(row),
                currency="USD",
                bid_count=self._parse_bid_count(row),
                end_time=self._parse_close_date(row),
                details={"auction_id": str(row["id"])} if row.get("id") else {},
            )
        available = row.get("date_available")
        return self.feed_listing(
            name,
            site,
            feed,
            seen_at,
            url=f"{self.site_root(site)}/domains/view/{quote(name.strip().lower())}",
            end_time=self._parse_date_available(row),
            details={"date_available": available, "tld": feed.name.removeprefix(DROPS_PREFIX)},
        )

    @staticmethod
    def _parse_price(row: dict[str, Any]) -> Decimal:
        # A string ("99") in the feed; Decimal already if it ever comes as a JSON number.
        return Decimal(str(row["price"]).replace(",", ""))

    @staticmethod
    def _parse_bid_count(row: dict[str, Any]) -> int | None:
        # Older clients of the feed read "num_bids"; today's items often leave it out.
        bids = row.get("num_bids")
        return int(bids) if bids is not None and str(bids).strip().isdigit() else None

    def _parse_close_date(self, row: dict[str, Any]) -> datetime | None:
        stamp = row.get("close_date")
        if not stamp:
            return None
        try:
            return parse_close_date(stamp)
        except (ValueError, KeyError) as error:
            # The hit is worth more than its end time: kept, and the odd stamp logged.
            self.logger.warning("unreadable Park.io close_date %r on %s: %s", stamp, row["name"], error)
            return None

    def _parse_date_available(self, row: dict[str, Any]) -> datetime | None:
        # The day the name drops, with no hour: its backorder window runs to the end of that day (UTC).
        day = row.get("date_available")
        if not day:
            return None
        try:
            return datetime.fromisoformat(day).replace(tzinfo=UTC) + timedelta(days=1)
        except (ValueError, TypeError) as error:
            self.logger.warning("unreadable Park.io date_available %r on %s: %s", day, row["name"], error)
            return None

    def listing_url(self, site: Site, domain: str) -> str:
        return f"{self.site_root(site)}/auctions/view/{quote(domain)}"

    def is_blocked(self, response: TextResponse) -> bool:
        # A 403 where a public list should be is a refusal, whatever its page says.
        return response.status == 403 or super().is_blocked(response)


def parse_close_date(stamp: str) -> datetime:
    """Park.io's ``close_date``, ``2026-07-10EDT12:41:01000``: year, DAY, month, New York's zone,
    the wall-clock time and milliseconds (7 October 2026, 16:41:01 UTC)."""
    zone, clock, millis = stamp[10:-11], stamp[-11:-3], stamp[-3:]
    offset = timedelta(hours=NEW_YORK_OFFSETS[zone])
    wall = datetime.strptime(f"{stamp[:10]} {clock}", "%Y-%d-%m %H:%M:%S")
    return (wall - offset + timedelta(milliseconds=int(millis))).replace(tzinfo=UTC)


def _list_key(feed: Feed) -> str:
    return "auctions" if feed is AUCTIONS else "domains"


def _paging(stream: BinaryIO) -> dict[str, Any]:
    """The page's top-level ``nextPage``, ``page`` and ``pageCount``, wherever they are in it."""
    wanted = {"nextPage", "page", "pageCount"}
    found: dict[str, Any] = {}
    for prefix, event, value in ijson.parse(stream):
        if prefix in wanted and event in ("boolean", "number", "string"):
            found[prefix] = value
            if len(found) == len(wanted):
                break
    return found
