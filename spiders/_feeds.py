"""The base of the feed spiders: marketplaces that publish their whole inventory as daily files.

A feed is downloaded through Scrapy (robots.txt, AutoThrottle, retries, the spider's
``feed_maxsize``), the big ones in parts (HTTP range requests) into a spool file, and read as a
stream of rows: a zip member, CSV or text lines decoded as they are read, a JSON array a run of
items at a time (``_json_array``). The rows' domains go through the matcher's bulk path a chunk at a
time, and only the rows that carry a watched brand become listings; a million-row file is never held
as a list of parsed rows.

What cannot be read is recorded, never taken for "no hits": a challenge page is blocked; an HTML
page where the file should be, a truncated zip, bad JSON or an undecodable byte is a parse error; a
feed with no row at all is unexpectedly empty; malformed rows are counted (a sample is logged) and a
feed made mostly of them is a parse error.
"""

from __future__ import annotations

import codecs
import csv
import io
import os
import re
import tempfile
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
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
from spiders._json_array import BrokenJSON, array_items

# Rows matched at a time: the matcher's bulk path works on chunks of this order.
CHUNK_ROWS = 20_000
# Malformed rows logged per feed, as a sample.
MALFORMED_SAMPLE = 5
# What a broken file raises while it is read.
FEED_ERRORS = (
    zipfile.BadZipFile,
    EOFError,
    BrokenJSON,
    ijson.JSONError,
    UnicodeDecodeError,
    csv.Error,
    OSError,
)
# The part size of the files big enough to download in parts (see FeedSpider.feed_part_size).
BIG_FILE_PART = 16 * 1024 * 1024
CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class Feed:
    """One file a marketplace publishes."""

    name: str  # "all_biddable_auctions"
    path: str  # where it is under the site's root: "/all_biddable_auctions.json.zip"
    sale_method: str  # what its rows are: auction | fixed | offer | pending_delete | closeout


@dataclass
class Spool:
    """A file being downloaded in parts: where its bytes go, and what must not change meanwhile."""

    path: Path
    # The first part's ETag (or Last-Modified), sent back as If-Range: a file replaced on the server
    # between two parts comes back whole, never as two versions stitched together.
    validator: str | None
    received: int = 0
    parts: int = field(default=0)

    def append(self, data: bytes) -> None:
        with self.path.open("ab") as file:
            file.write(data)
        self.received += len(data)
        self.parts += 1


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
    #: Read by feed_request(): download each file in parts of this many bytes (HTTP range requests,
    #: one after another) into a spool file, so that a file of hundreds of MB is never held in
    #: memory. 0: in one response. A server that ignores ranges sends the whole file at once.
    feed_part_size: ClassVar[int] = 0

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        settings.set("DOWNLOAD_MAXSIZE", cls.feed_maxsize, priority="spider")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.spools: set[Path] = set()

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
        # Carried to say the next file is asked for after this one (not so for ``scrapy parse``).
        meta = {"site": site.domain, "feed": feed.name, "read_next": self.one_file_at_a_time}
        if self.feed_part_size:
            return self.part_request(self.feed_url(site, feed), meta, None)
        return scrapy.Request(
            self.feed_url(site, feed), errback=self.search_failed, meta=meta, dont_filter=True
        )

    def part_request(self, url: str, meta: dict[str, Any], spool: Spool | None) -> scrapy.Request:
        start = spool.received if spool else 0
        headers = {
            "Range": f"bytes={start}-{start + self.feed_part_size - 1}",
            # A range of a compressed encoding cannot be decompressed on its own.
            "Accept-Encoding": "identity",
        }
        if spool and spool.validator:
            headers["If-Range"] = spool.validator
        return scrapy.Request(
            url,
            errback=self.part_failed,
            headers=headers,
            # 416: the range starts past the end, which the first part's does only of an empty file.
            meta={
                **meta,
                "feed_spool": spool,
                "handle_httpstatus_list": [*self._allowed_statuses(), 416],
            },
            dont_filter=True,
        )

    def _allowed_statuses(self) -> list[int]:
        # A request's list replaces the spider's (or HTTPERROR_ALLOWED_CODES) in HttpErrorMiddleware.
        return list(getattr(self, "handle_httpstatus_list", self.settings.getlist("HTTPERROR_ALLOWED_CODES")))

    def feed_part(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """One part of a file downloaded in parts: the next part is asked for, and once the last
        one is in, the file is read from the spool as ``parse`` reads a whole response."""
        spool: Spool | None = response.meta.get("feed_spool")
        if response.status != 206:
            # The whole file: the server ignores ranges, the file is empty (416), or it changed
            # since the first part (If-Range).
            self._discard(spool)
            yield from self.read_file(
                response if response.status != 416 else response.replace(status=200, body=b"")
            )
            return
        found = CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", b"").decode("latin-1"))
        start = spool.received if spool else 0
        if found is None or int(found[1]) != start:
            self._discard(spool)
            self.unreadable(response, self.site_for(response), ValueError("a part of the file out of order"))
            yield from self.next_feed(response.meta)
            return
        total = None if found[3] == "*" else int(found[3])
        if spool is None:
            if self.html_instead_of_file(response):
                yield from self.next_feed(response.meta)
                return
            limit = self.crawler.settings.getint("DOWNLOAD_MAXSIZE")
            if total is not None and limit and total > limit:
                self._too_large(response, total, limit)
                yield from self.next_feed(response.meta)
                return
            spool = self._spool(response)
        spool.append(response.body)
        end = int(found[2]) + 1
        if response.body and (total is None or end < total):
            yield self.part_request(response.url, response.meta, spool)
            return
        self.crawler.stats.inc_value("brandcrawl/feed/parts", spool.parts)
        response.meta["feed_file"] = spool.path
        try:
            yield from self.read_file(response.replace(status=200, body=b""))
        finally:
            self._discard(spool)

    def part_failed(self, failure: Failure) -> list[scrapy.Request]:
        self._discard(failure.request.meta.get("feed_spool"))  # type: ignore[attr-defined]
        return self.search_failed(failure)

    def _spool(self, response: Response) -> Spool:
        handle, name = tempfile.mkstemp(prefix=f"brandcrawl-{self.name}-", suffix=".part")
        os.close(handle)
        etag = response.headers.get("ETag", b"").decode("latin-1")
        modified = response.headers.get("Last-Modified", b"").decode("latin-1")
        # Only a strong ETag may be sent back as If-Range.
        validator = (etag if etag and not etag.startswith("W/") else None) or modified or None
        if validator is None:
            self.logger.info("%s gives no ETag: a change between two parts goes unnoticed", response.url)
        spool = Spool(Path(name), validator)
        self.spools.add(spool.path)
        return spool

    def _discard(self, spool: Spool | None) -> None:
        if spool is not None:
            spool.path.unlink(missing_ok=True)
            self.spools.discard(spool.path)

    def _too_large(self, response: Response, total: int, limit: int) -> None:
        site = response.meta.get("site", "unknown")
        self.crawler.stats.inc_value(f"brandcrawl/site/{site}/failed")
        self.logger.warning(
            "feed %s not read: %d bytes, over DOWNLOAD_MAXSIZE (%d)", response.url, total, limit
        )

    def closed(self, reason: str) -> None:
        """Parts of files a crawl stopped in the middle of are not left behind."""
        for path in list(self.spools):
            path.unlink(missing_ok=True)
        self.spools.clear()

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
        """A downloaded feed, or a part of one (``scrapy parse`` calls this too)."""
        if "feed_spool" in response.meta:
            yield from self.feed_part(response)
        else:
            yield from self.read_file(response)

    def read_file(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """The listings of a whole file's rows that carry a watched brand, then the next file if they
        are read one at a time."""
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
            # While the rows' readers still hold them: a spooled file is closed, not left to the GC.
            for file in response.meta.pop("feed_handles", ()):
                file.close()
            stats = self.crawler.stats
            for name, value in counts.items():
                stats.inc_value(f"brandcrawl/feed/{name}", value)
        self._judge_feed(response, site, feed, counts)

    def _domain(self, row: Any, feed: Feed, counts: dict[str, int]) -> str:
        try:
            # Matched in lower case, as its listing's asset is named (GoDaddy writes names in
            # capitals), so that the match pipeline finds the spider's answer among the recent hits.
            return self.row_domain(row, feed).lower()
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
        if not counts["rows"] and (feed.name not in self.may_be_empty or not feed_head(response).strip()):
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
        head = feed_head(response).lstrip(codecs.BOM_UTF8).lstrip().lower()
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


def feed_bytes(response: Response) -> BinaryIO:
    """The downloaded file: its spool when it came in parts, else the response's body."""
    spooled = response.meta.get("feed_file")
    if not spooled:
        return io.BytesIO(response.body)
    file = open(spooled, "rb")  # noqa: SIM115 (read as a stream, closed by read_feed once read)
    response.meta.setdefault("feed_handles", []).append(file)
    return file


def feed_head(response: Response, size: int = 512) -> bytes:
    """The first ``size`` bytes of the downloaded file."""
    with feed_bytes(response) as file:
        return file.read(size)


def file_in(response: Response, member: str | None = None) -> BinaryIO:
    """The downloaded file as a stream; for a zip, its member (``member``, else the first)."""
    body = feed_bytes(response)
    is_zip = zipfile.is_zipfile(body)
    body.seek(0)  # is_zipfile reads the end of the file
    if not is_zip:
        if member is not None or body.read(4) == b"PK\x03\x04":
            raise zipfile.BadZipFile("a zip archive was expected (truncated?)")
        body.seek(0)
        return body
    archive = zipfile.ZipFile(body)
    names = [info.filename for info in archive.infolist() if not info.is_dir()]
    if not names:
        raise zipfile.BadZipFile("an empty archive")
    return archive.open(member if member in names else names[0])


def text_lines(stream: BinaryIO, encoding: str = "utf-8-sig") -> Iterator[str]:
    """Lines decoded as they are read (``utf-8-sig`` drops a BOM), without their line ends."""
    with io.TextIOWrapper(stream, encoding=encoding, newline="") as lines:
        for line in lines:
            yield line.rstrip("\r\n")


def csv_rows(stream: BinaryIO, encoding: str = "utf-8-sig", **options: Any) -> Iterator[dict[str, str]]:
    """CSV rows as dicts by header, read as they are decoded."""
    with io.TextIOWrapper(stream, encoding=encoding, newline="") as text:
        yield from csv.DictReader(text, **options)


def json_items(stream: BinaryIO, key: str | None, item_type: type | None = None) -> Iterable[Any]:
    """The items of the JSON array at ``key`` of the top-level object (None: a top-level array), read
    as a stream; numbers come as Decimal; objects as ``item_type`` where given (a msgspec Struct of
    the fields the spider reads)."""
    with without_bom(stream) as source:
        yield from array_items(source, key, item_type)


def without_bom(stream: BinaryIO) -> BinaryIO:
    """The stream past a UTF-8 byte-order mark, which the JSON parser refuses."""
    buffered = io.BufferedReader(stream)  # type: ignore[arg-type]
    if buffered.peek(len(codecs.BOM_UTF8)).startswith(codecs.BOM_UTF8):
        buffered.read(len(codecs.BOM_UTF8))
    return buffered
