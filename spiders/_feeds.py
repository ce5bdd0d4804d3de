"""The base of the feed spiders: marketplaces that publish their whole inventory as daily files.

A feed is downloaded through Scrapy (robots.txt, AutoThrottle, retries, the spider's
``feed_maxsize``) and read as a stream of rows: a zip member, CSV or text lines decoded as they
are read, a JSON array through ijson. The rows' domains go through the matcher's bulk path a chunk at
a time, and only the rows that carry a watched brand become listings; a million-row file is never
held as a list of parsed rows.

What cannot be read is recorded, never taken for "no hits": a challenge page is blocked; an HTML
page where the file should be, a truncated zip, bad JSON or an undecodable byte is a parse error; a
feed with no row at all is unexpectedly empty; malformed rows are counted (a sample is logged) and a
feed made mostly of them is a parse error.
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any, BinaryIO, ClassVar

import ijson
import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from brandcrawl.assets import ascii_host
from brandcrawl.items import Listing
from brandcrawl.matching import BrandMatcher
from brandcrawl.watch import watch_from_settings
from spiders._base import PAGE_ERRORS, SearchSpider, Site

# Rows matched at a time: the matcher's bulk path works on chunks of this order.
CHUNK_ROWS = 20_000
# Malformed rows logged per feed, as a sample.
MALFORMED_SAMPLE = 5
# What a broken file raises while it is read.
FEED_ERRORS = (zipfile.BadZipFile, EOFError, ijson.JSONError, UnicodeDecodeError, csv.Error, OSError)


@dataclass(frozen=True)
class Feed:
    """One file a marketplace publishes."""

    name: str  # "all_biddable_auctions"
    path: str  # where it is under the site's root: "/all_biddable_auctions.json.zip"
    sale_method: str  # what its rows are: auction | fixed | offer | pending_delete | closeout


class FeedSpider(SearchSpider):
    """Subclasses set ``feeds`` and implement ``rows`` (the raw rows of a downloaded feed, streamed),
    ``row_domain`` (a row's domain name) and ``row_listing`` (a hit row as a Listing)."""

    #: Read by start(): the files to download on each site.
    feeds: ClassVar[tuple[Feed, ...]] = ()
    #: Read by feed_requests(): read the files one after another, in ``feeds`` order, the next asked
    #: for once one is read or lost, so that a name several files list is reported from the first
    #: (the one that says the most about it) whatever order downloads end in, and one file is held
    #: in memory at a time.
    one_file_at_a_time: ClassVar[bool] = False
    #: Read by parse(): files that can hold no row on a quiet day (a header, then nothing) without
    #: the format having changed. Any other file without rows is unexpectedly empty.
    may_be_empty: ClassVar[frozenset[str]] = frozenset()
    #: Read by the revisit extension: the files hold the marketplace's whole inventory, so a stored
    #: listing missing from a healthy run's files has ended (no page is fetched to say so).
    complete_inventory: ClassVar[bool] = True
    default_base_url = "https://{site}"
    #: Read by update_settings(): the largest file accepted (this spider's DOWNLOAD_MAXSIZE, which
    #: ``-s DOWNLOAD_MAXSIZE=…`` still overrides). Default 64 MiB; set it to the feed's size.
    feed_maxsize: ClassVar[int] = 64 * 1024 * 1024

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        settings.set("DOWNLOAD_MAXSIZE", cls.feed_maxsize, priority="spider")

    def search_requests(self) -> Iterator[scrapy.Request]:
        """What the base's start() sends (after a login, where there is one): the files."""
        return self.feed_requests()

    def feed_requests(self) -> Iterator[scrapy.Request]:
        for site in self.sites:
            for feed in self.feeds[:1] if self.one_file_at_a_time else self.feeds:
                yield self.feed_request(site, feed)

    def feed_request(self, site: Site, feed: Feed) -> scrapy.Request:
        # Counted so the run recorder knows this is a watch crawl (one "search" per file).
        self.crawler.stats.inc_value("brandcrawl/searches")
        return scrapy.Request(
            self.feed_url(site, feed),
            errback=self.search_failed,
            # Carried to say the next file is asked for after this one (not so for ``scrapy parse``).
            meta={"site": site.domain, "feed": feed.name, "read_next": self.one_file_at_a_time},
            dont_filter=True,
        )

    def next_feed(self, meta: dict[str, Any]) -> Iterator[scrapy.Request]:
        """With ``one_file_at_a_time``, the file after the one just read or lost."""
        if not meta.get("read_next"):
            return  # all asked for at once, or one file read on its own
        following = [feed.name for feed in self.feeds].index(meta["feed"]) + 1
        if following < len(self.feeds):
            yield self.feed_request(self.site_profiles[meta["site"]], self.feeds[following])

    def feed_url(self, site: Site, feed: Feed) -> str:
        return f"{self.site_root(site)}{feed.path}"

    def feed_named(self, name: str | None) -> Feed:
        return next((feed for feed in self.feeds if feed.name == name), self.feeds[0])

    def parse(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """A downloaded feed: the listings of its rows that carry a watched brand, then the next file
        if they are read one at a time (``scrapy parse`` calls this too)."""
        yield from self.read_feed(response)
        yield from self.next_feed(response.meta)

    def read_feed(self, response: Response) -> Iterator[Listing]:
        site, feed = self.site_for(response), self.feed_named(response.meta.get("feed"))
        if self.html_instead_of_file(response):
            return
        watch = watch_from_settings(self.crawler.settings)
        assert watch is not None
        matcher = BrandMatcher.from_watch(watch)
        seen_at = datetime.now(UTC)
        counts = {"rows": 0, "malformed": 0, "matched": 0}
        try:
            rows = self.rows(response, feed)
            while chunk := list(islice(rows, CHUNK_ROWS)):
                counts["rows"] += len(chunk)
                domains = [self._domain(row, feed, counts) for row in chunk]
                for index, _matches in matcher.match_many(domains, "domain"):
                    listing = self._listing(chunk[index], domains[index], site, feed, seen_at, counts)
                    # Once per run: a name on two files of the marketplace is one listing.
                    if listing is not None and listing.listing_id not in self.yielded:
                        self.yielded.add(listing.listing_id)
                        counts["matched"] += 1
                        yield listing
        except (*FEED_ERRORS, *PAGE_ERRORS) as error:
            self.unreadable(response, site, error)
            return
        finally:
            stats = self.crawler.stats
            for name, value in counts.items():
                stats.inc_value(f"brandcrawl/feed/{name}", value)
        self._judge_feed(response, site, feed, counts)

    def _domain(self, row: Any, feed: Feed, counts: dict[str, int]) -> str:
        try:
            return self.row_domain(row, feed)
        except PAGE_ERRORS as error:
            self._malformed(row, error, counts)
            return ""  # matches nothing, keeps the chunk's positions

    def _listing(
        self, row: Any, domain: str, site: Site, feed: Feed, seen_at: datetime, counts: dict[str, int]
    ) -> Listing | None:
        try:
            return self.row_listing(row, site, feed, seen_at)
        except PAGE_ERRORS as error:
            self._malformed(row, error, counts)
            # Still on sale, only unreadable today: its stored listing must not be ended as missing.
            self.yielded.add(feed_name(domain))
            return None

    def _malformed(self, row: Any, error: Exception, counts: dict[str, int]) -> None:
        counts["malformed"] += 1
        if counts["malformed"] <= MALFORMED_SAMPLE:
            self.logger.warning("malformed row skipped (%s: %s): %.200r", type(error).__name__, error, row)

    def _judge_feed(self, response: Response, site: Site, feed: Feed, counts: dict[str, int]) -> None:
        stats = self.crawler.stats
        if counts["rows"] and counts["malformed"] * 2 > counts["rows"]:
            # Mostly unreadable rows: the format changed, whatever the few good ones say.
            self.unreadable(
                response, site, ValueError(f"{counts['malformed']} of {counts['rows']} rows malformed")
            )
            return
        stats.inc_value("brandcrawl/pages/parsed")
        stats.inc_value(f"brandcrawl/site/{site.domain}/parsed")
        if not counts["rows"] and (feed.name not in self.may_be_empty or not response.body.strip()):
            stats.inc_value("brandcrawl/pages/unexpected_empty")
            self.logger.error(
                "the %s feed at %s holds no row: has its format changed?", feed.name, response.url
            )
        self.logger.info(
            "%s: %d rows read, %d carry a watched brand, %d malformed",
            feed.name,
            counts["rows"],
            counts["matched"],
            counts["malformed"],
        )

    def html_instead_of_file(self, response: Response) -> bool:
        """A challenge page (counted as blocked) or another HTML page (a parse error) where the file
        should be."""
        head = response.body[:512].lstrip(codecs.BOM_UTF8).lstrip().lower()
        if not (head.startswith((b"<!doctype html", b"<html")) or b"<head" in head):
            return False
        if isinstance(response, TextResponse) and self.is_blocked(response):
            self.crawler.stats.inc_value("brandcrawl/pages/blocked")
            self.logger.warning("bot-challenge page instead of the feed %s", response.url)
        else:
            self.unreadable(
                response, self.site_for(response), ValueError("an HTML page where the feed should be")
            )
        return True

    def rows(self, response: Response, feed: Feed) -> Iterator[Any]:
        """The feed's raw rows, read as a stream (see ``csv_rows``, ``json_items``, ``text_lines``)."""
        raise NotImplementedError

    def row_domain(self, row: Any, feed: Feed) -> str:
        raise NotImplementedError

    def row_listing(self, row: Any, site: Site, feed: Feed, seen_at: datetime) -> Listing | None:
        """A hit row as a listing; None to pass over it (a name already listed by another feed)."""
        raise NotImplementedError

    def search_failed(self, failure: Failure) -> list[scrapy.Request]:
        """A file not had is a feed not read, whatever stopped it (robots.txt, the offsite filter,
        the size limit too): the run must not pass for a whole inventory read. The next file is
        still read."""
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            site = failure.request.meta.get("site", "unknown")  # type: ignore[attr-defined]
            self.crawler.stats.inc_value(f"brandcrawl/site/{site}/failed")
            self.logger.warning("feed %s not read: %s", failure.request.url, failure.getErrorMessage())  # type: ignore[attr-defined]
        else:
            super().search_failed(failure)
        return list(self.next_feed(failure.request.meta))  # type: ignore[attr-defined]

    def feed_listing(self, domain: str, site: Site, feed: Feed, seen_at: datetime, **fields: Any) -> Listing:
        """A domain hit of a feed: the domain is its id on the marketplace, its title and its asset."""
        name = feed_name(domain)
        values: dict[str, Any] = {
            "listing_id": name,
            "title": name,
            "url": self.listing_url(site, name),
            "default_currency": site.currency,
            "asset_kind": "domain",
            "asset": name,
            "asset_text": domain.strip(),
            "sale_method": feed.sale_method,
        }
        return Listing(
            marketplace=self.marketplace_name, site=site.domain, seen_at=seen_at, **{**values, **fields}
        )

    def listing_url(self, site: Site, domain: str) -> str:
        """Where a person sees the domain's listing on the marketplace."""
        raise NotImplementedError


def feed_name(domain: str) -> str:
    """A feed's domain as its listing id and asset: lower case, Unicode labels in punycode (IDNA 2008,
    as every marketplace's listing of it is named)."""
    return ascii_host(domain.strip().rstrip("."))


def file_in(response: Response, member: str | None = None) -> BinaryIO:
    """The response's bytes as a file; for a zip, its member (``member``, else the first), read as
    a stream."""
    body = io.BytesIO(response.body)
    is_zip = zipfile.is_zipfile(body)
    body.seek(0)  # is_zipfile reads the end of the file
    if not is_zip:
        if member is not None or response.body.startswith(b"PK\x03\x04"):
            raise zipfile.BadZipFile("a zip archive was expected (truncated?)")
        return body
    archive = zipfile.ZipFile(body)
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    if not names:
        raise zipfile.BadZipFile("an empty archive")
    return archive.open(member if member in names else names[0])


def text_lines(stream: BinaryIO, encoding: str = "utf-8-sig") -> Iterator[str]:
    """Lines decoded as they are read (``utf-8-sig`` drops a BOM), without their line ends."""
    for line in io.TextIOWrapper(stream, encoding=encoding, newline=""):
        yield line.rstrip("\r\n")


def csv_rows(stream: BinaryIO, encoding: str = "utf-8-sig", **options: Any) -> Iterator[dict[str, str]]:
    """CSV rows as dicts by header, read as they are decoded."""
    return csv.DictReader(io.TextIOWrapper(stream, encoding=encoding, newline=""), **options)


def json_items(stream: BinaryIO, prefix: str) -> Iterable[Any]:
    """The items of a JSON array at ``prefix`` ("item" for a top-level array, "data.item" under a key),
    parsed as a stream; numbers come as Decimal."""
    return ijson.items(without_bom(stream), prefix)


def without_bom(stream: BinaryIO) -> BinaryIO:
    """The stream past a UTF-8 byte-order mark, which the JSON parser refuses."""
    buffered = io.BufferedReader(stream)  # type: ignore[arg-type]
    if buffered.peek(len(codecs.BOM_UTF8)).startswith(codecs.BOM_UTF8):
        buffered.read(len(codecs.BOM_UTF8))
    return buffered
