"""Item pipelines: normalise raw texts → match against the watch-list → store and deduplicate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from brandcrawl.assets import extract_asset
from brandcrawl.matching import BrandMatcher
from brandcrawl.normalize import parse_count, parse_price, parse_time_left, to_utc
from brandcrawl.storage import Store
from brandcrawl.watch import watch_from_settings

logger = logging.getLogger(__name__)


class NormalizePipeline:
    """Turns the texts spiders read (price, bids, time left) into values, and finds the asset sold."""

    def __init__(self, crawler: Crawler) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> NormalizePipeline:
        return cls(crawler)

    def process_item(self, item: object) -> object:
        listing = ItemAdapter(item)
        self.stats.inc_value("brandcrawl/listings/seen")
        seen_at = to_utc(listing["seen_at"])
        listing["seen_at"] = seen_at
        if price := parse_price(listing.get("price_text"), listing.get("default_currency")):
            listing["price"], listing["currency"], listing["price_is_range"] = (
                price.amount,
                price.currency,
                price.is_range,
            )
            if price.is_range:
                self.stats.inc_value("brandcrawl/listings/price_range")
        elif listing.get("price_text"):
            self.stats.inc_value("brandcrawl/listings/price_unparsed")
        if listing.get("bids_text"):
            listing["bid_count"] = parse_count(listing["bids_text"])
        if left := parse_time_left(listing.get("time_left_text"), seen_at):
            listing["end_time"] = left.end_time
            if left.ended:
                listing["status"] = "ended"
        if not listing.get("asset"):
            asset = extract_asset(listing["title"])
            listing["asset_kind"], listing["asset"] = asset.kind, asset.value
        return item


class MatchPipeline:
    """Keeps listings that carry a watched brand, with why; drops and counts the others."""

    def __init__(self, crawler: Crawler, matcher: BrandMatcher) -> None:
        self.stats = crawler.stats
        self.matcher = matcher

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> MatchPipeline:
        watch = watch_from_settings(crawler.settings)
        assert watch is not None  # watch_from_settings raises when it is required and missing
        return cls(crawler, BrandMatcher.from_watch(watch))

    def process_item(self, item: object) -> object:
        listing = ItemAdapter(item)
        by_brand = {}
        candidates = [(listing["title"], "title")]
        asset_kind, asset = listing.get("asset_kind"), listing.get("asset")
        # An exclusion phrase in the title, or the brand's own asset on sale, rules the brand out
        # whatever else the listing names.
        ruled_out = self.matcher.excluded_brands(listing["title"])
        if asset_kind in ("domain", "handle") and asset:
            # After the title: an asset match is the stronger evidence and replaces the title's.
            candidates.append((asset, asset_kind))
            ruled_out |= self.matcher.official_brands(asset, asset_kind)
        for candidate, kind in candidates:
            for match in self.matcher.match(candidate, kind):
                if match.brand in ruled_out:
                    continue
                by_brand[match.brand] = {
                    "brand": match.brand,
                    "rule": match.rule,
                    "matched": match.matched,
                    "score": match.score,
                    "explanation": match.explanation,
                    "kind": kind,
                }
        if not by_brand:
            self.stats.inc_value("brandcrawl/listings/no_match")
            raise DropItem("no watched brand in this listing", log_level="DEBUG")
        listing["matches"] = list(by_brand.values())
        self.stats.inc_value("brandcrawl/hits/matched")
        return item


class StorePipeline:
    """Buffers hits and writes them in batches: one row per listing, history of what changed."""

    def __init__(self, crawler: Crawler, store: Store, batch_size: int) -> None:
        self.stats = crawler.stats
        self.store = store
        self.batch_size = batch_size
        self.buffer: list[object] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> StorePipeline:
        settings = crawler.settings
        return cls(crawler, Store(settings["BRANDCRAWL_DB_URL"]), settings.getint("BRANDCRAWL_DB_BATCH_SIZE"))

    def open_spider(self) -> None:
        self.store.upgrade()

    def process_item(self, item: object) -> object:
        self.buffer.append(item)
        if len(self.buffer) >= self.batch_size:
            self.flush()
        return item

    def close_spider(self) -> None:
        try:
            self.flush()
        finally:
            self.store.close()

    def flush(self) -> None:
        """Write the buffer in one transaction; on failure keep it for the next try and count it."""
        if not self.buffer:
            return
        try:
            result = self.store.save_listings(self.buffer, datetime.now(UTC))
        except SQLAlchemyError:
            self.stats.inc_value("brandcrawl/db/errors")
            logger.exception(
                "could not store %d listings; they stay buffered for the next write", len(self.buffer)
            )
            return
        self.buffer = []
        self.stats.inc_value("brandcrawl/db/flushes")
        self.stats.inc_value("brandcrawl/listings/stored", result.listings)
        self.stats.inc_value("brandcrawl/listings/new", result.new_listings)
        self.stats.inc_value("brandcrawl/listings/changes", result.changes)
        self.stats.inc_value("brandcrawl/hits/new", result.new_hits)
        logger.info(
            "stored %d listings (%d new hits, %d changes)", result.listings, result.new_hits, result.changes
        )
