"""Shared fixtures: a watch file, a real SQLite database, the replica marketplace, in-process crawls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from brandcrawl.items import Listing
from brandcrawl.storage import Store

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


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'brandcrawl.db'}"


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
            "LOG_LEVEL": "INFO",
            **overrides,
        },
        priority="cmdline",
    )
    # Only what brandcrawl and the test set: passing Scrapy's defaults back in at a higher priority
    # would trip its deprecation warnings (RANDOMIZE_DOWNLOAD_DELAY).
    return {name: value for name, value in settings.items() if settings.getpriority(name) > 0}


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
