"""Evidence for takedown requests: each hit's listing page kept as fetched, for a legal team to attach.

Bodies are kept exactly as received, gzip-compressed under their sha256 in the evidence folder
(``<sha[:2]>/<sha>.gz``) and referenced by ``snapshots`` rows. A kept file is never replaced: a later
fetch adds a row, and shares the file when the page has not changed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import logging
import os
import re
import tempfile
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from itemadapter import ItemAdapter
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Response
from sqlalchemy import exists, or_, select
from sqlalchemy.exc import SQLAlchemyError
from twisted.python.failure import Failure

from brandcrawl.runs import BLOCKED, judge
from brandcrawl.storage import Store
from brandcrawl.storage.models import ListingRow, Snapshot
from brandcrawl.triage import SuppressionsInForce

logger = logging.getLogger(__name__)

# Marks a request as an evidence fetch: (marketplace, listing id) of the listing whose page it asks for.
EVIDENCE_META = "brandcrawl_evidence"
# Every error status reaches the callback, to be kept as fetched; redirects are still followed.
_ERROR_STATUSES = list(range(400, 600))
# A page that shows the listing, or says it is gone, is kept for good; a refusal or a server error
# is kept too (it is what was fetched), but the listing's page is asked for again on its next run.
_GONE = (404, 410)
_BODY_PATH = re.compile(r"[0-9a-f]{2}/[0-9a-f]{64}\.gz")
# What RobotsTxtMiddleware says when it refuses a request (it counts robotstxt/forbidden too).
_ROBOTS_REFUSAL = "Forbidden by robots.txt"
_CHUNK = 500

ListingKey = tuple[str, str]  # (marketplace, listing id)


class EvidenceError(Exception):
    """A kept body that is missing, unreadable or not the one that was fetched."""


@dataclass(frozen=True)
class StoredBody:
    sha256: str
    size: int
    path: str  # relative to the evidence folder


@dataclass(frozen=True)
class FetchedPage:
    """A listing page as fetched: what a snapshot records, and the body to keep."""

    url: str
    status: int
    headers: dict[str, list[str]]
    body: bytes
    fetched_at: datetime

    @classmethod
    def of(cls, response: Response) -> FetchedPage:
        headers = {
            name.decode("latin-1"): [value.decode("latin-1") for value in values]
            for name, values in response.headers.items()
        }
        # Now: an answer reaches its callback, and a listing read from its page the pipelines, as it
        # arrives; the response carries no time of its own.
        return cls(response.url, response.status, headers, response.body, datetime.now(UTC))


def body_path(sha256: str) -> str:
    """Where a body with this sha256 is kept, relative to the evidence folder."""
    return f"{sha256[:2]}/{sha256}.gz"


class EvidenceFolder:
    """The evidence folder: bodies as received, gzip-compressed, named by their sha256."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def put(self, body: bytes) -> StoredBody:
        """Keep a body (unless a file already holds it) and say where it is."""
        sha256 = hashlib.sha256(body).hexdigest()
        stored = StoredBody(sha256, len(body), body_path(sha256))
        target = self.root / stored.path
        if target.exists():
            return stored  # named by its content: the same body
        target.parent.mkdir(parents=True, exist_ok=True)
        # Written aside, then linked into place: a crash leaves no half-written evidence under the name,
        # and a link, unlike a rename, never replaces a file another writer put there first.
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".part")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(gzip.compress(body, mtime=0))
                file.flush()
                os.fsync(file.fileno())
            with contextlib.suppress(FileExistsError):  # another crawl kept the same body meanwhile
                os.link(temporary, target)
        finally:
            os.unlink(temporary)
        return stored

    def read(self, path: str, sha256: str, size: int) -> bytes:
        """A kept body, checked against the sha256 and size recorded when it was fetched."""
        if not _BODY_PATH.fullmatch(path) or path != body_path(sha256):
            raise EvidenceError(f"{path!r} is not where a body with sha256 {sha256} is kept")
        file = self.root / path
        try:
            body = gzip.decompress(file.read_bytes())
        except FileNotFoundError as error:
            raise EvidenceError(f"{file} is missing") from error
        except (OSError, EOFError, zlib.error) as error:
            raise EvidenceError(f"{file} cannot be read: {error}") from error
        found = hashlib.sha256(body).hexdigest()
        if found != sha256 or len(body) != size:
            raise EvidenceError(
                f"{file} does not hold the page that was fetched: sha256 {found} ({len(body)} bytes), "
                f"recorded {sha256} ({size} bytes)"
            )
        return body


class EvidenceExtension:
    """When a spider has nothing left to do, keeps the listing page of each hit of this run that has
    none kept yet, new listings first, in the evidence folder with a ``snapshots`` row: the page the
    crawl itself read, where the spider had to read the listing's own page, else a fetch of it (up to
    ``BRANDCRAWL_EVIDENCE_MAX`` a run), whose every answer, 404 included, is kept.

    The requests go through the spider's own engine, so robots.txt, AutoThrottle, the backoff and the
    contact User-Agent apply. They are counted apart (``brandcrawl/evidence/*``): the run's health
    judges its searches, not these pages. A crawl pointed at a mirror or the replica (``base_url``)
    fetches only from there, never from the real marketplace.
    """

    def __init__(self, crawler: Crawler, folder: EvidenceFolder, limit: int) -> None:
        self.crawler = crawler
        self.folder = folder
        self.limit = limit
        self.started_at = datetime.now(UTC)
        self.hits: dict[ListingKey, str] = {}  # this run's hit listings → their URL, in order read
        # What a suppression may cover, per hit listing: its brands, asset kind, asset and seller.
        self.covered: dict[ListingKey, tuple[frozenset[str], str | None, str | None, str | None]] = {}
        self.read: dict[ListingKey, FetchedPage] = {}  # hits' own pages, as the crawl read them
        self.kept: list[dict[str, Any]] = []  # snapshot rows, written once the listings are stored
        self.done = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> EvidenceExtension:
        settings = crawler.settings
        folder = settings.get("BRANDCRAWL_EVIDENCE_DIR")
        if not settings.getbool("BRANDCRAWL_EVIDENCE_ENABLED") or not folder:
            raise NotConfigured(
                "evidence is turned off (BRANDCRAWL_EVIDENCE_ENABLED, BRANDCRAWL_EVIDENCE_DIR)"
            )
        limit = settings.getint("BRANDCRAWL_EVIDENCE_MAX")
        if limit <= 0:
            raise NotConfigured("BRANDCRAWL_EVIDENCE_MAX is 0")
        extension = cls(crawler, EvidenceFolder(folder), limit)
        for handler, signal in (
            (extension.spider_opened, signals.spider_opened),
            (extension.item_scraped, signals.item_scraped),
            (extension.spider_idle, signals.spider_idle),
            (extension.response_downloaded, signals.response_downloaded),
            (extension.response_received, signals.response_received),
            (extension.spider_closed, signals.spider_closed),
        ):
            crawler.signals.connect(handler, signal=signal)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.started_at = datetime.now(UTC)

    def item_scraped(self, item: Any, response: Response | None) -> None:
        """Every item that got through the pipelines is a hit."""
        if self.done:
            return  # a revisit's listing, not one this run's searches found
        listing = ItemAdapter(item)
        key = (listing["marketplace"], listing["listing_id"])
        self.hits.setdefault(key, listing["url"])
        brands = frozenset(match["brand"] for match in listing.get("matches") or ())
        self.covered[key] = (brands, listing.get("asset_kind"), listing.get("asset"), listing.get("seller"))
        if (
            response is not None
            and key not in self.read
            and len(self.read) < self.limit  # bodies held in memory until the spider is idle
            and _is_own_page(self.crawler.spider, response, listing["listing_id"])
        ):
            self.read[key] = FetchedPage.of(response)

    def spider_idle(self, spider: Spider) -> None:
        if self.done:
            return
        self.done = True
        read, self.read = self.read, {}
        wanted = self._without_kept_page()
        for key in wanted:
            if key in read:
                self._keep(key, read[key])
                self.crawler.stats.inc_value("brandcrawl/evidence/read_by_the_crawl")
        if requests := self._requests([key for key in wanted if key not in read], spider):
            assert self.crawler.engine is not None
            for request in requests:
                self.crawler.engine.crawl(request)
            raise DontCloseSpider

    def _without_kept_page(self) -> list[ListingKey]:
        """This run's hits with no page kept yet, leaving out those a suppression covers for every
        brand they carry: the team said they are not a problem, so no request is spent on them."""
        if not self.hits:
            return []
        store = Store(self.crawler.settings["BRANDCRAWL_DB_URL"])
        try:
            wanted = _without_kept_page(store, self.hits, self.started_at)
            with store.session() as session:
                suppressions = SuppressionsInForce.load(session, datetime.now(UTC))
        except SQLAlchemyError:
            logger.exception("could not tell which hits have a page kept: none kept this run")
            return []
        finally:
            store.close()
        kept = [key for key in wanted if not self._suppressed(key, suppressions)]
        if skipped := len(wanted) - len(kept):
            self.crawler.stats.inc_value("brandcrawl/evidence/suppressed", skipped)
        return kept

    def _suppressed(self, key: ListingKey, suppressions: SuppressionsInForce) -> bool:
        brands, asset_kind, asset, seller = self.covered.get(key, (frozenset(), None, None, None))
        return bool(brands) and all(
            suppressions.cover(brand, key[0], asset_kind, asset, seller) for brand in brands
        )

    def _requests(self, wanted: list[ListingKey], spider: Spider) -> list[Request]:
        """The fetches of the listing pages still wanted: none from a site that is blocking us, none
        off a mirror, at most the cap."""
        stats = self.crawler.stats
        if not wanted:
            return []
        if judge(stats.get_stats(), None).status == BLOCKED:
            logger.warning("%s is blocking us: no listing page fetched as evidence this run", spider.name)
            return []
        reachable = [key for key in wanted if _reachable(spider, self.hits[key])]
        if skipped := len(wanted) - len(reachable):
            stats.inc_value("brandcrawl/evidence/off_mirror", skipped)
            logger.info(
                "%s reads a mirror: %d listing pages on the real site not fetched", spider.name, skipped
            )
        chosen = reachable[: self.limit]
        if left := len(reachable) - len(chosen):
            stats.inc_value("brandcrawl/evidence/left_for_next_run", left)
            logger.info("%d hits left for a later run (BRANDCRAWL_EVIDENCE_MAX %d)", left, self.limit)
        if chosen:
            logger.info("%s: fetching the listing pages of %d hits as evidence", spider.name, len(chosen))
            stats.inc_value("brandcrawl/evidence/requested", len(chosen))
        return [self._request(key) for key in chosen]

    def _request(self, key: ListingKey) -> Request:
        return Request(
            self.hits[key],
            callback=self.keep_page,
            errback=self.fetch_failed,
            meta={EVIDENCE_META: key, "handle_httpstatus_list": _ERROR_STATUSES},
            dont_filter=True,
        )

    def response_downloaded(self, response: Response, request: Request) -> None:
        # Every answer, retried ones included, as the downloader's status counts see them.
        if EVIDENCE_META in request.meta and response.status in (403, 429):
            self.crawler.stats.inc_value("brandcrawl/evidence/responses_403_429")

    def response_received(self, response: Response, request: Request) -> None:
        if EVIDENCE_META in request.meta:
            self.crawler.stats.inc_value("brandcrawl/evidence/responses")

    def keep_page(self, response: Response) -> None:
        """An evidence fetch's answer, whatever its status: kept with what was fetched and when."""
        if _is_challenge(self.crawler.spider, response):
            # A challenge is not the listing's page: asked for again on the listing's next run.
            self.crawler.stats.inc_value("brandcrawl/evidence/challenged")
            logger.warning("bot-challenge page instead of the listing page %s: not kept", response.url)
            return
        marketplace, listing_id = response.meta[EVIDENCE_META]
        self._keep((marketplace, listing_id), FetchedPage.of(response))

    def _keep(self, key: ListingKey, page: FetchedPage) -> None:
        """The body into the evidence folder now; its row once the run's listings are stored."""
        try:
            stored = self.folder.put(page.body)
        except OSError as error:
            self.crawler.stats.inc_value("brandcrawl/evidence/unstored")
            logger.error("could not keep %s in %s: %s", page.url, self.folder.root, error)
            return
        self.kept.append(
            {
                "key": key,
                "url": page.url,
                "status": page.status,
                "headers": page.headers,
                "sha256": stored.sha256,
                "size": stored.size,
                "path": stored.path,
                "fetched_at": page.fetched_at,
            }
        )

    def fetch_failed(self, failure: Failure) -> None:
        """No answer at all (a network error after retries, robots.txt): nothing to keep."""
        request = failure.request  # type: ignore[attr-defined]
        if failure.check(IgnoreRequest) and str(failure.value) == _ROBOTS_REFUSAL:
            # RobotsTxtMiddleware counted it among the run's forbidden pages: told apart for the health.
            self.crawler.stats.inc_value("brandcrawl/evidence/robots_forbidden")
            logger.info("robots.txt forbids the listing page %s: not kept", request.url)
            return
        self.crawler.stats.inc_value("brandcrawl/evidence/failed")
        logger.warning("could not fetch the listing page %s: %s", request.url, failure.getErrorMessage())

    def spider_closed(self, spider: Spider) -> None:
        """The snapshot rows, now that the store pipeline has written the run's listings."""
        if not self.kept:
            return
        stats = self.crawler.stats
        store = Store(self.crawler.settings["BRANDCRAWL_DB_URL"])
        try:
            with store.session() as session:
                pks = _listing_pks(session, {row["key"] for row in self.kept})
                snapshots = [
                    Snapshot(listing_pk=pks[row["key"]], **{k: v for k, v in row.items() if k != "key"})
                    for row in self.kept
                    if row["key"] in pks
                ]
                session.add_all(snapshots)
        except SQLAlchemyError:
            stats.inc_value("brandcrawl/evidence/unrecorded", len(self.kept))
            logger.exception("could not record %d kept listing pages in the database", len(self.kept))
            return
        finally:
            store.close()
        stats.inc_value("brandcrawl/evidence/snapshots", len(snapshots))
        if unstored := len(self.kept) - len(snapshots):
            # Their listings were not stored (a failed database write): the files stay, unreferenced.
            stats.inc_value("brandcrawl/evidence/unrecorded", unstored)
            logger.warning("%d kept listing pages belong to listings that were not stored", unstored)


def _is_own_page(spider: Spider | None, response: Response, listing_id: str) -> bool:
    """Whether a listing was read from its own page (the spider's ``detail_request``), not from a
    results page or a feed."""
    callback = getattr(response.request, "callback", None)
    return (
        callback is not None
        and callback == getattr(spider, "parse_detail", None)
        and response.meta.get("listing_id") == listing_id
    )


def _is_challenge(spider: Spider | None, response: Response) -> bool:
    """A bot challenge instead of the page: Cloudflare's mark, or the marketplace's challenge title.
    Not the spider's ``is_blocked``, which some spiders make "not the JSON I parse"."""
    if response.headers.get("cf-mitigated") == b"challenge":
        return True
    if not isinstance(response, HtmlResponse):
        return False
    title = (response.css("title::text").get() or "").casefold()
    return any(marker.casefold() in title for marker in getattr(spider, "block_titles", ()))


def _kept_page() -> Any:
    """A snapshot that settles a listing's evidence: the page, or the marketplace saying it is gone."""
    return exists().where(
        Snapshot.listing_pk == ListingRow.id, or_(Snapshot.status < 400, Snapshot.status.in_(_GONE))
    )


def _without_kept_page(store: Store, hits: dict[ListingKey, str], since: datetime) -> list[ListingKey]:
    """The hit listings with no page kept yet: new ones (first seen since ``since``, or not written yet)
    first, then older ones, each in the order the crawl read them."""
    known: dict[ListingKey, tuple[bool, bool]] = {}  # → (is new, has a kept page)
    with store.session() as session:
        for marketplace, ids in _by_marketplace(hits):
            query = select(ListingRow.listing_id, ListingRow.first_seen >= since, _kept_page()).where(
                ListingRow.marketplace == marketplace, ListingRow.listing_id.in_(ids)
            )
            for listing_id, is_new, kept in session.execute(query):
                known[(marketplace, listing_id)] = (bool(is_new), bool(kept))
    new = [key for key in hits if key not in known or (known[key][0] and not known[key][1])]
    older = [key for key in hits if key in known and not known[key][0] and not known[key][1]]
    return new + older


def _listing_pks(session: Any, keys: Iterable[ListingKey]) -> dict[ListingKey, int]:
    found: dict[ListingKey, int] = {}
    for marketplace, ids in _by_marketplace(keys):
        query = select(ListingRow.listing_id, ListingRow.id).where(
            ListingRow.marketplace == marketplace, ListingRow.listing_id.in_(ids)
        )
        found.update({(marketplace, listing_id): pk for listing_id, pk in session.execute(query)})
    return found


def _by_marketplace(keys: Iterable[ListingKey]) -> Iterable[tuple[str, list[str]]]:
    """Listing ids by marketplace, in chunks small enough for one IN clause."""
    grouped: dict[str, list[str]] = {}
    for marketplace, listing_id in keys:
        grouped.setdefault(marketplace, []).append(listing_id)
    for marketplace, ids in grouped.items():
        for start in range(0, len(ids), _CHUNK):
            yield marketplace, ids[start : start + _CHUNK]


def _reachable(spider: Spider, url: str) -> bool:
    """Whether a listing page may be fetched: on the real site anything the spider read is; a crawl of
    a mirror or the replica fetches from its hosts only."""
    base_url = getattr(spider, "base_url", None)
    if base_url is None or base_url == getattr(spider, "default_base_url", None):
        return True
    hosts = {urlsplit(spider.site_root(site)).netloc for site in getattr(spider, "sites", ())}
    return urlsplit(url).netloc in hosts
