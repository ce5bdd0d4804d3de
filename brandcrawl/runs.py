"""Records every crawl with a status, so a quiet digest can be told from a crawl that could not look."""

from __future__ import annotations

import asyncio
import logging
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider
from sqlalchemy import BigInteger, func, literal, make_url, select

from brandcrawl.storage import Store

logger = logging.getLogger(__name__)

OK, BLOCKED, DISALLOWED, BROKEN = "ok", "blocked", "disallowed", "broken"
# A marketplace that shows its listings only to members, with no credentials given (or refused): told
# in the digest's health section, but no failure of the run (it is the watch file's choice).
NEEDS_LOGIN = "needs_login"
# Finish reasons of crawls that sent nothing: the node's watch file is not the one the dispatcher
# sent the job for (recorded as broken), or another crawl of the marketplace held it too long (not
# recorded: the crawl never looked).
WATCH_FILE_DIFFERS, MARKETPLACE_BUSY = "watch_file_differs", "marketplace_busy"
# A PostgreSQL advisory lock kind (brandcrawl.storage.store takes kinds 1 and 2), held by the crawl
# of a marketplace for as long as it runs, with the marketplace's CRC-32 in the low 32 bits.
_CRAWL_LOCK = 0x6272_0003
_CRAWL_LOCK_POLL = 5.0  # seconds between two tries of a crawl waiting for its marketplace


@dataclass(frozen=True)
class RunVerdict:
    status: str
    detail: str


def pages_fetched(stats: dict[str, Any]) -> int:
    """Pages of the marketplace answered, robots.txt and listing pages kept as evidence not counted."""
    return (
        stats.get("response_received_count", 0)
        - stats.get("robotstxt/response_count", 0)
        - stats.get("brandcrawl/evidence/responses", 0)
    )


def listings_read(stats: dict[str, Any]) -> int:
    """Listings read: by the pipelines, plus the feed rows that never became items (no brand)."""
    return (
        stats.get("brandcrawl/listings/seen", 0)
        + stats.get("brandcrawl/feed/rows", 0)
        - stats.get("brandcrawl/feed/matched", 0)
    )


def judge(stats: dict[str, Any], finish_reason: str | None, blocked_status_min: int = 3) -> RunVerdict:
    """What a crawl's stats say about whether it could look at the marketplace.

    Listing pages fetched as evidence (brandcrawl.evidence) are left out: the run is judged on its
    searches, and a listing page refused or forbidden after healthy searches is no blocked run.
    """
    responses = pages_fetched(stats)
    refused = (
        sum(stats.get(f"downloader/response_status_count/{code}", 0) for code in (403, 429))
        - stats.get("brandcrawl/responses/recovered", 0)
        - stats.get("brandcrawl/evidence/responses_403_429", 0)
    )
    challenges = stats.get("brandcrawl/pages/blocked", 0)
    forbidden = stats.get("robotstxt/forbidden", 0) - stats.get("brandcrawl/evidence/robots_forbidden", 0)
    unexpected_empty = stats.get("brandcrawl/pages/unexpected_empty", 0)
    parse_errors = stats.get("brandcrawl/parse_errors", 0) + stats.get("spider_exceptions/count", 0)
    db_errors = stats.get("brandcrawl/db/errors", 0)
    parsed = stats.get("brandcrawl/pages/parsed", 0)
    listings = stats.get("brandcrawl/listings/seen", 0)  # priced or not: the items, not feed rows
    unpriced = stats.get("brandcrawl/listings/price_unparsed", 0)
    sites = _per_site(stats)

    if refusal := stats.get("brandcrawl/refused"):
        return RunVerdict(BROKEN, f"refused to start: {refusal}")
    if login := stats.get("brandcrawl/needs_login"):
        return RunVerdict(NEEDS_LOGIN, str(login))
    if challenges:
        return RunVerdict(
            BLOCKED, f"bot-challenge page on {challenges} of {parsed + challenges} search pages"
        )
    if refused >= blocked_status_min and refused * 2 >= responses:
        return RunVerdict(BLOCKED, f"{refused} of {responses} answers were 403/429")
    if shut := [site for site, counts in sites.items() if counts.get("refused") and not counts.get("parsed")]:
        return RunVerdict(BLOCKED, f"{', '.join(shut)} refused every search (403/429)")
    if forbidden and not parsed:
        return RunVerdict(
            DISALLOWED, f"the site's robots.txt forbids the {forbidden} search pages we would fetch"
        )
    if unexpected_empty:
        return RunVerdict(
            BROKEN,
            f"{unexpected_empty} pages said results exist but no listing could be read (layout change?)",
        )
    if parse_errors:
        return RunVerdict(BROKEN, f"{parse_errors} parse errors")
    if db_errors:
        return RunVerdict(BROKEN, f"{db_errors} failed writes to the database")
    if failed := {site: counts["failed"] for site, counts in sites.items() if counts.get("failed")}:
        return RunVerdict(
            BROKEN,
            "search pages lost after retries: " + ", ".join(f"{n} on {site}" for site, n in failed.items()),
        )
    if listings >= 3 and unpriced * 2 > listings:
        return RunVerdict(BROKEN, f"no readable price on {unpriced} of {listings} listings (layout change?)")
    if finish_reason not in (None, "finished"):
        return RunVerdict(BROKEN, f"the crawl stopped early: {finish_reason}")
    if not parsed:
        return RunVerdict(BROKEN, "no search page could be read")
    if forbidden:
        return RunVerdict(
            DISALLOWED, f"robots.txt forbids {forbidden} of the search pages; the others were read"
        )
    return RunVerdict(OK, "")


# A marketplace that read listings on each of its last runs and none now has most likely changed
# (a soft block, a search that silently returns nothing), not emptied overnight.
RECENT_RUNS = 3
_USED_TO_SEE = 5


def _emptied(verdict: RunVerdict, recent: list[int]) -> RunVerdict:
    """Zero listings read where the last runs each read some: broken, not a quiet day."""
    if len(recent) == RECENT_RUNS and min(recent) >= _USED_TO_SEE:
        return RunVerdict(
            BROKEN, f"no listing read, where each of the last {RECENT_RUNS} runs read {min(recent)} or more"
        )
    return verdict


def _per_site(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    """``brandcrawl/site/<domain>/<outcome>`` counters, by site."""
    sites: dict[str, dict[str, int]] = {}
    for key, value in stats.items():
        if key.startswith("brandcrawl/site/"):
            site, _, outcome = key.removeprefix("brandcrawl/site/").rpartition("/")
            sites.setdefault(site, {})[outcome] = value
    return sites


class CrawlLock:
    """One crawl of a marketplace at a time over every machine on a PostgreSQL database: a session
    advisory lock on a connection of its own, which PostgreSQL also releases when the connection
    drops (a job killed with its node)."""

    def __init__(self, db_url: str, marketplace: str) -> None:
        self.store = Store(db_url)
        self.connection = self.store.engine.connect()
        self.key = literal((_CRAWL_LOCK << 32) | zlib.crc32(marketplace.encode()), BigInteger)

    def try_take(self) -> bool:
        taken = self.connection.scalar(select(func.pg_try_advisory_lock(self.key)))
        self.connection.commit()  # the lock outlives the transaction; an idle one would not
        return bool(taken)

    def release(self) -> None:
        try:
            self.connection.scalar(select(func.pg_advisory_unlock(self.key)))
            self.connection.commit()
        finally:
            self.close()

    def close(self) -> None:
        self.connection.close()
        self.store.close()


class RunRecorder:
    """Writes one ``crawl_runs`` row per spider run and logs its verdict.

    On PostgreSQL it also keeps two crawls of one marketplace from running at once, from any machine
    (``brandcrawl dispatch`` over several Scrapyd nodes, or two dispatchers): a crawl waits up to
    ``BRANDCRAWL_CRAWL_LOCK_WAIT`` seconds for the other to end, then closes as ``marketplace_busy``
    without a run recorded. On SQLite one machine writes, and the dispatcher's plan is the guard.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.started_at = datetime.now(UTC)
        self.lock: CrawlLock | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RunRecorder:
        recorder = cls(crawler)
        crawler.signals.connect(recorder.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(recorder.spider_closed, signal=signals.spider_closed)
        return recorder

    async def spider_opened(self, spider: Spider) -> None:
        self.lock = await self._wait_for_marketplace(getattr(spider, "marketplace_name", spider.name))
        self.started_at = datetime.now(UTC)

    async def _wait_for_marketplace(self, marketplace: str) -> CrawlLock | None:
        db_url = self.crawler.settings["BRANDCRAWL_DB_URL"]
        if make_url(db_url).get_backend_name() != "postgresql":
            return None
        lock = CrawlLock(db_url, marketplace)
        wait = self.crawler.settings.getfloat("BRANDCRAWL_CRAWL_LOCK_WAIT", 3600)
        deadline = time.monotonic() + wait
        while not lock.try_take():
            left = deadline - time.monotonic()
            if left <= 0:
                lock.close()
                logger.warning("%s not crawled: another crawl of it still ran after %d s", marketplace, wait)
                raise CloseSpider(MARKETPLACE_BUSY)
            logger.info("%s: waiting for another crawl of this marketplace to end", marketplace)
            await asyncio.sleep(min(_CRAWL_LOCK_POLL, left))
        return lock

    def spider_closed(self, spider: Spider, reason: str) -> None:
        try:
            self._record(spider, reason)
        finally:
            if self.lock is not None:
                self.lock.release()  # only now: the next crawl finds this one's run recorded

    def _record(self, spider: Spider, reason: str) -> None:
        settings = self.crawler.settings
        stats = self.crawler.stats.get_stats()
        if not any(
            stats.get(f"brandcrawl/{key}") for key in ("searches", "needs_login", "logins", "refused")
        ):
            return  # `scrapy parse` or a spider that never searched: no run of the watch to record
        verdict = judge(stats, reason, settings.getint("BRANDCRAWL_BLOCKED_STATUS_MIN"))
        # Two spiders can read one marketplace (eBay's API and its pages): runs are the marketplace's.
        marketplace = getattr(spider, "marketplace_name", spider.name)
        store = Store(settings["BRANDCRAWL_DB_URL"])
        try:
            store.upgrade()
            # A shard searched some of the brands: its earlier runs may have searched others.
            sharded = getattr(spider, "shard", None) is not None
            if verdict.status == OK and not listings_read(stats) and not sharded:
                verdict = _emptied(verdict, store.recent_listings_seen(marketplace, RECENT_RUNS))
            self.crawler.stats.set_value("brandcrawl/run/status", verdict.status)
            log = logger.info if verdict.status == OK else logger.warning
            log(
                "%s crawl: %s%s",
                spider.name,
                verdict.status,
                f" ({verdict.detail})" if verdict.detail else "",
            )
            store.record_run(
                spider=marketplace,
                source=stats.get("brandcrawl/source"),
                started_at=self.started_at,
                finished_at=datetime.now(UTC),
                pages_fetched=pages_fetched(stats),
                listings_seen=listings_read(stats),
                hits=stats.get("brandcrawl/hits/matched", 0),
                new_hits=stats.get("brandcrawl/hits/new", 0),
                errors=stats.get("log_count/ERROR", 0) + stats.get("brandcrawl/parse_errors", 0),
                status=verdict.status,
                detail=verdict.detail,
                finish_reason=reason,
                job=getattr(spider, "_job", None),  # Scrapyd's job id, its spider argument
            )
        finally:
            store.close()
