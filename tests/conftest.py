"""Shared fixtures and helpers: a watch file, a real database (SQLite, or PostgreSQL when
BRANDCRAWL_TEST_PG_URL is set: see tests/with-postgres), the replica marketplace, in-process crawls,
spiders for parse tests and what the pipelines make of a listing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import pytest
from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.http import TextResponse
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler
from sqlalchemy import MetaData, func, make_url, select

from brandcrawl.items import Listing
from brandcrawl.pipelines import MatchPipeline, NormalizePipeline
from brandcrawl.storage import Store
from tests.databases import PostgresDatabases, postgres_admin_url
from tests.local import Inbox, smtp_inbox

SpiderT = TypeVar("SpiderT", bound=Spider)

WATCH = """
[digest]
sender = "Brand watch <watch@example.org>"
timezone = "Europe/Paris"

[crawl]
contact = "mailto:tests@example.org"
max_pages = 3

[marketplaces.ebay]
sites = ["ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"]

[[brands]]
name = "Gallimard"
official_domains = ["gallimard.fr"]
official_handles = ["instagram:@gallimard", "@editions_gallimard"]
exclusions = ["la pléiade"]
recipients = ["veille@gallimard.example"]

[[brands]]
name = "Folio"
common_word = true
"""


@pytest.fixture
def watch_path(tmp_path: Path) -> Path:
    path = tmp_path / "watch.toml"
    path.write_text(WATCH, encoding="utf-8")
    return path


def pytest_configure(config: pytest.Config) -> None:
    for backend in ("sqlite", "postgres"):
        config.addinivalue_line(
            "markers", f"{backend}_only(reason=...): a test about that database alone, skipped on the other"
        )


def pytest_runtest_setup(item: pytest.Item) -> None:
    on_postgres = postgres_admin_url() is not None
    for marker, skipped in (("sqlite_only", on_postgres), ("postgres_only", not on_postgres)):
        if skipped and (found := item.get_closest_marker(marker)) is not None:
            pytest.skip(f"{marker.removesuffix('_only')} only: {found.kwargs['reason']}")


@pytest.fixture(scope="session")
def postgres_databases() -> Iterator[PostgresDatabases | None]:
    admin_url = postgres_admin_url()
    if admin_url is None:
        yield None
        return
    databases = PostgresDatabases(admin_url)
    yield databases
    databases.close()


@pytest.fixture
def db_url(tmp_path: Path, postgres_databases: PostgresDatabases | None) -> str:
    """A database with nothing stored: a new SQLite file (its schema made on first use), or the
    session's PostgreSQL database, migrated and emptied (upgrading it again does nothing). A test
    must not change its schema: migration tests use ``bare_db_url``."""
    if postgres_databases is None:
        return f"sqlite:///{tmp_path / 'brandcrawl.db'}"
    return postgres_databases.emptied()


@pytest.fixture
def bare_db_url(tmp_path: Path, postgres_databases: PostgresDatabases | None) -> Iterator[str]:
    """A database of the test's own without even a schema, on either backend: for migration tests."""
    if postgres_databases is None:
        yield f"sqlite:///{tmp_path / 'bare.db'}"
        return
    url = postgres_databases.bare()
    yield url
    postgres_databases.drop(url)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    """A real SMTP server on 127.0.0.1: what it received, and its port."""
    with smtp_inbox() as server:
        yield server


@pytest.fixture
def replica() -> Iterator[Any]:
    from brandcrawl.replica import ReplicaMarketplace

    with ReplicaMarketplace() as server:
        yield server


def project_settings(**overrides: Any) -> dict[str, Any]:
    """brandcrawl's own settings, made fast for a loopback server, plus the test's overrides."""
    settings = Settings()
    settings.setmodule("brandcrawl.settings", priority="project")
    settings.setdict(
        {
            "DOWNLOAD_DELAY": 0,
            "AUTOTHROTTLE_ENABLED": False,
            "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
            "BRANDCRAWL_BACKOFF_MAX_DELAY": 0.1,
            # Listing pages kept as evidence are tested in test_evidence.py; elsewhere they would add
            # requests to every crawl's exact request list, and files to the current folder.
            "BRANDCRAWL_EVIDENCE_ENABLED": False,
            "LOG_LEVEL": "INFO",
            **overrides,
        },
        priority="cmdline",
    )
    # Only what brandcrawl and the test set: passing Scrapy's defaults back in at a higher priority
    # would trip its deprecation warnings (RANDOMIZE_DOWNLOAD_DELAY).
    return {name: value for name, value in settings.items() if settings.getpriority(name) > 0}


def crawl_settings(watch_path: Path, db_url: str, **overrides: Any) -> dict[str, Any]:
    """The settings of a whole crawl: the watch file, the database, and the test's overrides."""
    return project_settings(BRANDCRAWL_WATCH=str(watch_path), BRANDCRAWL_DB_URL=db_url, **overrides)


class CrawlResult:
    def __init__(self, crawler: Crawler, items: list[Any]) -> None:
        self.crawler = crawler
        self.items = items
        self.stats: dict[str, Any] = crawler.stats.get_stats()


async def crawl(spider: type[Spider], settings: dict[str, Any], **spider_args: Any) -> CrawlResult:
    crawler = get_crawler(spider, settings)
    items: list[Any] = []
    crawler.signals.connect(lambda item, **_: items.append(item), signal=signals.item_scraped, weak=False)
    await crawler.crawl_async(**spider_args)
    return CrawlResult(crawler, items)


def parsing_spider(spider_class: type[SpiderT], watch_path: Path, **spider_args: Any) -> SpiderT:
    """A spider for parse tests, not crawling: made by its crawler, whose stats are open."""
    crawler = get_crawler(spider_class, project_settings(BRANDCRAWL_WATCH=str(watch_path)))
    crawler.stats.open_spider()
    spider = spider_class.from_crawler(crawler, **spider_args)
    crawler.spider = spider
    return spider


def parsed(spider: Spider, response: TextResponse) -> tuple[list[Listing], list[Request]]:
    """What ``spider.parse`` makes of a response: the listings, and the requests."""
    output = list(spider.parse(response))
    return [o for o in output if isinstance(o, Listing)], [o for o in output if isinstance(o, Request)]


def stat(spider: Spider, name: str) -> Any:
    return spider.crawler.stats.get_value(name)


def normalised(spider: Spider, listing: Listing, now: datetime) -> Listing:
    """The listing, seen at ``now``, as the normalise pipeline leaves it."""
    listing.seen_at = now
    NormalizePipeline(spider.crawler).process_item(listing)
    return listing


def through_pipelines(spider: Spider, listing: Listing, now: datetime) -> Listing:
    """The listing, seen at ``now``, as the normalise and match pipelines leave it (DropItem when it is
    no hit)."""
    normalised(spider, listing, now)
    MatchPipeline.from_crawler(spider.crawler).process_item(listing)
    return listing


def rows(db_url: str, model: type) -> list[Any]:
    """Every row of ``model`` in the database, oldest first (PostgreSQL returns updated rows last)."""
    store = Store(db_url)
    try:
        with store.session() as session:
            return list(session.scalars(select(model).order_by(*model.__table__.primary_key)))
    finally:
        store.close()


def stored_text(db_url: str) -> str:
    """Everything the database holds, as text, to check that a secret never reached it: the SQLite
    file's bytes with its write-ahead log (deleted rows too), or every row of every PostgreSQL table."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        files = (Path(f"{url.database}{suffix}") for suffix in ("", "-wal"))
        return b"".join(file.read_bytes() for file in files if file.exists()).decode("latin-1")
    store = Store(db_url)
    try:
        tables = MetaData()
        tables.reflect(store.engine)
        with store.engine.connect() as connection:
            found = (connection.execute(select(table)) for table in tables.sorted_tables)
            return "\n".join(repr(tuple(row)) for result in found for row in result)
    finally:
        store.close()


def count(db_url: str, model: type) -> int:
    """How many rows of ``model`` the database holds."""
    store = Store(db_url)
    try:
        with store.session() as session:
            return session.scalar(select(func.count()).select_from(model)) or 0
    finally:
        store.close()


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    store = Store(db_url)
    store.upgrade()
    yield store
    store.close()


def gallimard_listing(
    listing_id: str, seen_at: datetime, price: str | None = "100.00", **changes: Any
) -> Listing:
    """A stored-ready hit on ebay.fr for the brand Gallimard; ``changes`` override any field."""
    values: dict[str, Any] = {
        "marketplace": "ebay",
        "listing_id": listing_id,
        "url": f"https://www.ebay.fr/itm/{listing_id}",
        "title": f"Vends compte Twitter @Gallimard #{listing_id}",
        "seen_at": seen_at,
        "site": "ebay.fr",
        "asset_kind": "handle",
        "asset": "x:gallimard",
        "price": None if price is None else Decimal(price),
        "currency": "EUR",
        "bid_count": 3,
        "end_time": seen_at + timedelta(hours=30),
        "seller": "vendeur42",
        "matches": [
            {
                "brand": "Gallimard",
                "rule": "contains",
                "matched": "Gallimard",
                "score": 0.8,
                "explanation": "contains 'Gallimard'",
            }
        ],
        **changes,
    }
    return Listing(**values)


def record_crawl(
    store: Store, finished_at: datetime, status: str = "ok", detail: str = "", listings: int = 40
) -> None:
    """A finished eBay crawl in the runs table, as the run recorder writes it."""
    store.record_run(
        spider="ebay",
        started_at=finished_at,
        finished_at=finished_at,
        pages_fetched=8,
        listings_seen=listings,
        hits=2 if listings else 0,
        new_hits=2 if listings else 0,
        errors=0,
        status=status,
        detail=detail,
        finish_reason="finished",
    )
