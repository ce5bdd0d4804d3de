"""Item pipelines: normalise raw texts → match against the watch-list → store and deduplicate."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from itemadapter import ItemAdapter
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from brandcrawl.assets import Asset, domain_parts, extract_assets
from brandcrawl.matching import BrandMatcher, Match
from brandcrawl.normalize import (
    find_followers,
    find_price_text,
    parse_count,
    parse_followers,
    parse_price,
    parse_time_left,
    to_utc,
)
from brandcrawl.storage import Store
from brandcrawl.watch import watch_from_settings

logger = logging.getLogger(__name__)


class NormalizePipeline:
    """Turns the texts spiders read (price, bids, time left, followers) into values, and finds the
    assets a listing names; the match pipeline decides which of them is the one on sale."""

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
        description = listing.get("description") or ""
        if listing.get("price") is None and not listing.get("price_text"):
            listing["price_text"] = find_price_text(description)
        if listing.get("price") is not None:
            pass  # an API's typed price
        elif price := parse_price(listing.get("price_text"), listing.get("default_currency")):
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
        if listing.get("followers") is None:
            followers_text = listing.get("followers_text") or find_followers(
                f"{listing['title']} {description}"
            )
            listing["followers_text"] = followers_text
            listing["followers"] = parse_followers(followers_text)
        if left := parse_time_left(listing.get("time_left_text"), seen_at):
            listing["end_time"] = left.end_time
            if left.ended:
                listing["status"] = "ended"
        if not listing.get("sale_method") and listing.get("bid_count") is not None:
            listing["sale_method"] = "auction"
        listing["assets"] = assets = named_assets(listing)
        first = assets[0] if assets else Asset("other", None)
        listing["asset_kind"], listing["asset"], listing["asset_text"] = (
            first.kind,
            first.value,
            first.written,
        )
        return item


def named_assets(listing: ItemAdapter) -> list[Asset]:
    """The assets a listing may be selling: the one its spider read, else those its title names,
    then those its description names."""
    if listing.get("asset"):
        return [Asset(listing.get("asset_kind") or "other", listing["asset"], listing.get("asset_text"))]
    # A forum or shop category ("instagram") says the platform of a bare @handle when the text does not.
    category = listing.get("category") or ""
    found = extract_assets(listing["title"], context=category)
    values = {asset.value for asset in found}
    described = extract_assets(listing.get("description") or "", context=f"{listing['title']} {category}")
    found += [asset for asset in described if asset.value not in values]
    return found


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
        assets = [asset for asset in listing.get("assets") or [] if asset.kind in ("domain", "handle")]
        # An exclusion phrase in the title, or the brand's own asset as the thing on sale, rules the
        # brand out of the title; an official asset named beside another one rules out only itself.
        excluded = self.matcher.excluded_brands(listing["title"])
        official = [self.matcher.official_brands(asset.value, asset.kind) for asset in assets]
        title_ruled_out = excluded | (official[0] if official else set())
        # A feed's listing is titled with its domain: the asset match below says all the title would.
        title_is_asset = bool(assets) and listing["title"].strip().lower() == assets[0].value
        by_brand = {
            match.brand: _why(match, "title")
            for match in ([] if title_is_asset else self.matcher.match(listing["title"], "title"))
            if match.brand not in title_ruled_out
        }
        # The asset on sale is the first one that carries a watched brand, else the first named.
        on_sale = assets[0] if assets else Asset("other", None)
        by_asset: dict[str, dict[str, Any]] = {}
        for asset, its_own in reversed(
            list(zip(assets, official, strict=True))
        ):  # the first asset's reasons win
            ruled_out = excluded | its_own
            found = [m for m in self.matcher.match(asset.value, asset.kind) if m.brand not in ruled_out]
            if found:
                on_sale = asset
            by_asset |= {match.brand: _why(match, asset.kind) for match in found}
        # An asset match is the stronger evidence and replaces the title's.
        by_brand |= by_asset
        if not by_brand:
            self.stats.inc_value("brandcrawl/listings/no_match")
            raise DropItem("no watched brand in this listing", log_level="DEBUG")
        listing["asset_kind"], listing["asset"] = on_sale.kind, on_sale.value
        listing["asset_text"] = on_sale.written
        if on_sale.kind == "domain" and on_sale.value and (parts := domain_parts(on_sale.value)):
            # What registries sell: gallimard-shop under co.uk, whatever subdomain the listing shows.
            listing["details"] = {
                **(listing.get("details") or {}),
                "domain_unicode": parts.unicode,
                "registrable": parts.registrable,
                "suffix": parts.suffix,
            }
        listing["matches"] = list(by_brand.values())
        self.stats.inc_value("brandcrawl/hits/matched")
        return item


def _why(match: Match, kind: str) -> dict[str, Any]:
    return {
        "brand": match.brand,
        "rule": match.rule,
        "matched": match.matched,
        "score": match.score,
        "explanation": match.explanation,
        "kind": kind,
    }


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
