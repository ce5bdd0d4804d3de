"""Whole crawls of the replica marketplace over real HTTP, in-process: items, stats, rows in SQLite."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.config import load_watch
from brandcrawl.digest import write_digest
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.storage import Store
from brandcrawl.storage.models import CrawlRun, Hit, ListingChange, ListingRow
from spiders.ebay import EbaySpider
from tests.conftest import WATCH, count, crawl, crawl_settings, record_crawl, rows


@deferred_f_from_coro_f
async def test_a_crawl_finds_the_brand_abuse_and_stores_it(replica, watch_path: Path, db_url: str) -> None:
    result = await crawl(
        EbaySpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )

    titles = {item.title for item in result.items}
    assert any("Twitter account @Gallimard" in title for title in titles)
    assert any("Vends compte Twitter @Gallimard" in title for title in titles)
    assert not any("Pléiade" in title for title in titles), "an exclusion of the watch file"
    gallimard_x = next(item for item in result.items if "Twitter account @Gallimard" in item.title)
    assert (gallimard_x.asset_kind, gallimard_x.asset, gallimard_x.currency) == (
        "handle",
        "x:gallimard",
        "USD",
    )
    assert gallimard_x.price is not None
    assert gallimard_x.bid_count is not None
    assert gallimard_x.end_time is not None

    stats = result.stats
    assert stats["finish_reason"] == "finished"
    assert stats["brandcrawl/run/status"] == "ok"
    hits = sum(len(item.matches) for item in result.items)  # one per listing and brand
    assert stats["brandcrawl/hits/matched"] == len(result.items)
    assert stats["brandcrawl/hits/new"] == hits
    assert stats["brandcrawl/listings/seen"] > len(result.items)  # non-matching listings are dropped
    assert stats["brandcrawl/listings/no_match"] == stats["brandcrawl/listings/seen"] - len(result.items)
    assert any("_pgn=2" in path for path in replica.requests), "pagination followed"
    assert {"/ebay.com/", "/ebay.fr/", "/ebay.de/", "/ebay.co.uk/"} <= {
        "/" + path.split("/")[1] + "/" for path in replica.requests if path.startswith("/ebay")
    }

    assert count(db_url, ListingRow) == len(result.items)
    assert count(db_url, Hit) == hits
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits, run.new_hits) == ("ebay", "ok", len(result.items), hits)
    assert run.pages_fetched >= 5


@deferred_f_from_coro_f
async def test_a_second_crawl_updates_instead_of_duplicating(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    first = await crawl(EbaySpider, crawl_settings(watch_path, db_url), base_url=base_url)
    store = Store(db_url)
    watch = load_watch(watch_path)
    try:
        write_digest(store, watch, tmp_path / "digest")
        auction = next(item for item in first.items if "Twitter account @Gallimard" in item.title)
        replica.ebay.update(auction.listing_id, price="$2,100.00", bids="23 bids")

        second = await crawl(EbaySpider, crawl_settings(watch_path, db_url), base_url=base_url)
        assert len(second.items) == len(first.items)
        assert second.stats["brandcrawl/hits/new"] == 0
        assert count(db_url, ListingRow) == len(first.items)
        changes = {(c.field, c.old_value, c.new_value) for c in rows(db_url, ListingChange)}
        assert {("price", "1500.00", "2100.00"), ("bid_count", "17", "23")} <= changes

        digest = (
            write_digest(store, watch, tmp_path / "digest").with_suffix(".txt").read_text(encoding="utf-8")
        )
    finally:
        store.close()
    assert "0 new hits" in digest
    assert "price 1,500.00 -> 2,100.00" in digest
    assert "bid count 17 -> 23" in digest


@deferred_f_from_coro_f
async def test_a_hit_the_searches_no_longer_show_is_revisited_and_found_gone(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    first = await crawl(EbaySpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert "brandcrawl/revisits/sent" not in first.stats, "nothing stored before the first crawl"
    withdrawn = next(item for item in first.items if "Twitter account @Gallimard" in item.title)
    replica.ebay.remove(withdrawn.listing_id)

    second = await crawl(EbaySpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert second.stats["brandcrawl/revisits/sent"] == 1
    assert second.stats["brandcrawl/revisits/gone"] == 1
    assert any(path.endswith(f"/itm/{withdrawn.listing_id}") for path in replica.requests)
    changes = {(c.field, c.old_value, c.new_value) for c in rows(db_url, ListingChange)}
    assert changes == {("status", "active", "gone")}
    store = Store(db_url)
    try:
        digest = write_digest(store, load_watch(watch_path), tmp_path / "d").with_suffix(".txt")
    finally:
        store.close()
    assert "gone" in digest.read_text(encoding="utf-8")

    replica.blocked = True
    third = await crawl(EbaySpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert third.stats["brandcrawl/run/status"] == "blocked"
    assert "brandcrawl/revisits/sent" not in third.stats, "a blocked site must not make every hit gone"


@deferred_f_from_coro_f
async def test_a_challenge_page_is_a_blocked_crawl_not_zero_hits(
    replica, watch_path: Path, db_url: str
) -> None:
    replica.blocked = True
    result = await crawl(
        EbaySpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/run/status"] == "blocked"
    assert result.stats["brandcrawl/pages/blocked"] >= 4
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"
    assert "challenge" in run.detail


@deferred_f_from_coro_f
async def test_a_layout_change_is_a_broken_crawl(replica, watch_path: Path, db_url: str) -> None:
    replica.layout_changed = True  # on the sites with the current markup; ebay.co.uk keeps the older one
    result = await crawl(
        EbaySpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert {item.site for item in result.items} == {"ebay.co.uk"}
    assert result.stats["brandcrawl/run/status"] == "broken"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "broken"
    assert "layout" in run.detail


@pytest.mark.parametrize(
    "robots_txt",
    ["User-agent: *\nDisallow: /\n", "User-agent: brandcrawl\nDisallow: /\n\nUser-agent: *\nAllow: /\n"],
    ids=["everyone", "brandcrawl-by-name"],
)
@deferred_f_from_coro_f
async def test_robots_txt_is_obeyed_and_said(watch_path: Path, db_url: str, robots_txt: str) -> None:
    with ReplicaMarketplace(robots_txt=robots_txt) as replica:
        result = await crawl(
            EbaySpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
        )
        assert not any(path.startswith("/ebay") for path in replica.requests)
    assert result.stats["brandcrawl/run/status"] == "disallowed"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "disallowed"
    assert "robots.txt" in run.detail


@deferred_f_from_coro_f
async def test_429_backs_off_and_retries(replica, watch_path: Path, db_url: str) -> None:
    replica.throttle_status, replica.throttle_times = 429, 2
    result = await crawl(
        EbaySpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.stats["brandcrawl/backoff"] == 2
    assert result.stats["retry/count"] == 2
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert result.items


@deferred_f_from_coro_f
async def test_a_storm_of_403_is_a_blocked_crawl(replica, watch_path: Path, db_url: str) -> None:
    replica.throttle_status, replica.throttle_times = 403, 1000
    result = await crawl(
        EbaySpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/run/status"] == "blocked"


@deferred_f_from_coro_f
async def test_one_brand_one_site(replica, watch_path: Path, db_url: str) -> None:
    result = await crawl(
        EbaySpider,
        crawl_settings(watch_path, db_url),
        base_url=f"{replica.base_url}/{{site}}",
        sites="ebay.fr",
        brand="Gallimard",
        max_pages="1",
    )
    assert {item.site for item in result.items} == {"ebay.fr"}
    searched = [parse_qs(urlsplit(path).query)["_nkw"][0] for path in replica.requests if "/sch/" in path]
    # The brand, then the brand beside each French account word.
    assert sorted(searched) == sorted(
        ["Gallimard", "Gallimard instagram", "Gallimard twitter", "Gallimard tiktok", "Gallimard compte",
         "Gallimard pseudo", "@Gallimard"]
    )  # fmt: skip
    assert not any("_pgn=2" in path for path in replica.requests)


@deferred_f_from_coro_f
async def test_account_words_come_from_the_watch_file(replica, tmp_path: Path, db_url: str) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(
        WATCH.replace('sites = ["ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"]',
                      'sites = ["ebay.fr", "ebay.de"]\naccount_words = { "ebay.fr" = ["insta"] }'),
        encoding="utf-8",
    )  # fmt: skip
    await crawl(
        EbaySpider, crawl_settings(watch, db_url), base_url=f"{replica.base_url}/{{site}}", brand="Folio"
    )
    searched = {
        (path.split("/")[1], parse_qs(urlsplit(path).query)["_nkw"][0])
        for path in replica.requests
        if "/sch/" in path and "_pgn" not in path
    }
    assert searched == {("ebay.fr", "Folio"), ("ebay.fr", "Folio insta"), ("ebay.de", "Folio")}


@deferred_f_from_coro_f
async def test_search_pages_lost_after_retries_make_a_broken_crawl(
    replica, watch_path: Path, db_url: str
) -> None:
    replica.throttle_status, replica.throttle_times = 500, 1000
    result = await crawl(
        EbaySpider, crawl_settings(watch_path, db_url, RETRY_TIMES=1), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    [run] = rows(db_url, CrawlRun)
    assert run.status == "broken"
    assert "lost after retries" in run.detail
    assert "ebay.fr" in run.detail


@deferred_f_from_coro_f
async def test_a_failed_database_write_keeps_the_batch_and_says_broken(
    replica, watch_path: Path, db_url: str, monkeypatch
) -> None:
    from sqlalchemy.exc import OperationalError

    real_save = Store.save_listings
    failures = iter([OperationalError("INSERT", {}, Exception("database is locked"))])

    def save_failing_once(self, listings, now):
        if (error := next(failures, None)) is not None:
            raise error
        return real_save(self, listings, now)

    monkeypatch.setattr(Store, "save_listings", save_failing_once)
    result = await crawl(
        EbaySpider,
        crawl_settings(watch_path, db_url, BRANDCRAWL_DB_BATCH_SIZE=5),
        base_url=f"{replica.base_url}/{{site}}",
    )
    assert result.stats["brandcrawl/db/errors"] == 1
    assert count(db_url, ListingRow) == len(result.items), "the batch that failed was written later"
    [run] = rows(db_url, CrawlRun)
    assert (run.status, run.detail) == ("broken", "1 failed writes to the database")


@deferred_f_from_coro_f
async def test_zero_listings_where_the_last_runs_read_some_is_broken(watch_path: Path, db_url: str) -> None:
    store = Store(db_url)
    store.upgrade()
    for day in (3, 2, 1):
        record_crawl(store, datetime.now(UTC) - timedelta(days=day), listings=40)
    store.close()
    with ReplicaMarketplace(listings=[]) as empty:  # every search says "0 results"
        result = await crawl(
            EbaySpider,
            crawl_settings(watch_path, db_url),
            base_url=f"{empty.base_url}/{{site}}",
            sites="ebay.fr",
        )
    assert result.stats["brandcrawl/run/status"] == "broken"
    run = rows(db_url, CrawlRun)[-1]
    assert (run.status, run.listings_seen) == ("broken", 0)
    assert "each of the last 3 runs read 40 or more" in run.detail


@deferred_f_from_coro_f
async def test_zero_listings_on_a_new_watch_is_a_quiet_day(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(listings=[]) as empty:
        result = await crawl(
            EbaySpider,
            crawl_settings(watch_path, db_url),
            base_url=f"{empty.base_url}/{{site}}",
            sites="ebay.fr",
        )
    assert result.stats["brandcrawl/run/status"] == "ok"
