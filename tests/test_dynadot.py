"""The Dynadot spider: its auction file as a fixture (tests/fixtures/dynadot/README.md), what breaks it,
and whole crawls of the replica's three files."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.items import Listing
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.dynadot import PATHS, DynadotApp
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.dynadot import DynadotSpider, _parse_end_time
from tests.conftest import CrawlResult, count, crawl, crawl_settings, parsed, parsing_spider, rows, stat
from tests.conftest import through_pipelines as piped

FIXTURES = Path(__file__).parent / "fixtures" / "dynadot"
URL = "https://www.dynadot.com/market/auction/auctions.csv?currency=USD"
NOW = datetime(2027, 1, 10, 8, 0, tzinfo=UTC)
AUCTIONS = (FIXTURES / "auctions.csv").read_bytes()
HEADER = AUCTIONS.split(b"\n", 1)[0]


@pytest.fixture
def spider(watch_path: Path) -> DynadotSpider:
    return parsing_spider(DynadotSpider, watch_path)


def feed_response(body: bytes, status: int = 200, content_type: str = "text/csv", **headers: str) -> Response:
    request = Request(URL, meta={"site": "dynadot.com", "feed": "auctions"})
    response_class = HtmlResponse if content_type.startswith("text/html") else TextResponse
    return response_class(
        URL, status=status, body=body, headers={"Content-Type": content_type, **headers}, request=request
    )


def by_asset(listings: list[Listing]) -> dict[str, Listing]:
    return {listing.asset or "": listing for listing in listings}


def test_every_hit_of_the_file_and_nothing_else(spider: DynadotSpider) -> None:
    listings, requests = parsed(spider, feed_response(AUCTIONS))
    assert sorted(by_asset(listings)) == ["folio-officiel.net", "gallimard-jeunesse.fr", "gallimard.shop"]
    assert requests == []
    assert (stat(spider, "brandcrawl/feed/rows"), stat(spider, "brandcrawl/feed/matched")) == (6, 3)
    assert stat(spider, "brandcrawl/feed/malformed") == 1  # the last row stops after its bid
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_a_hit_carries_every_field(spider: DynadotSpider) -> None:
    listings, _ = parsed(spider, feed_response(AUCTIONS))
    listing = piped(spider, by_asset(listings)["gallimard-jeunesse.fr"], NOW)
    assert (listing.marketplace, listing.site, listing.listing_id, listing.title) == (
        "dynadot",
        "dynadot.com",
        "gallimard-jeunesse.fr",
        "gallimard-jeunesse.fr",
    )
    assert (listing.asset_kind, listing.asset) == ("domain", "gallimard-jeunesse.fr")
    assert listing.url == "https://www.dynadot.com/market/auction/gallimard-jeunesse.fr"
    assert (listing.sale_method, listing.status) == ("auction", "active")
    assert (listing.price, listing.currency, listing.bid_count) == (Decimal("240"), "USD", 11)
    # 11:05 "PST" on 2027/01/14 is its End Timestamp, 1799953500000.
    assert listing.end_time == datetime(2027, 1, 14, 19, 5, tzinfo=UTC)
    assert listing.details == {
        "links": 312,
        "age_years": 9,
        "appraisal": "1850 USD",
        "domain_unicode": "gallimard-jeunesse.fr",
        "registrable": "gallimard-jeunesse.fr",
        "suffix": "fr",
    }
    assert [(m["brand"], m["rule"]) for m in listing.matches] == [("Gallimard", "exact+affix")]


def test_amounts_with_a_thousands_separator_are_quoted_and_read(spider: DynadotSpider) -> None:
    listings, _ = parsed(spider, feed_response(AUCTIONS))
    listing = by_asset(listings)["gallimard.shop"]
    assert (listing.price, listing.details["appraisal"]) == (Decimal("1250"), "2200 USD")


def test_without_its_timestamp_the_end_is_read_as_pacific_time(spider: DynadotSpider) -> None:
    """Dynadot writes "PST" in every season: 11:00 on 4 July is 18:00 UTC (daylight time)."""
    listings, _ = parsed(spider, feed_response(AUCTIONS))
    assert by_asset(listings)["folio-officiel.net"].end_time == datetime(2026, 7, 4, 18, 0, tzinfo=UTC)


def test_the_samples_end_time_and_timestamp_agree() -> None:
    assert _parse_end_time("1791782224112", "") == _parse_end_time("", "2026/10/11 22:17 PST").replace(
        second=4, microsecond=112_000
    )


def test_a_utf8_bom_is_no_part_of_the_first_column(spider: DynadotSpider) -> None:
    listings, _ = parsed(spider, feed_response(b"\xef\xbb\xbf" + AUCTIONS))
    assert len(listings) == 3
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_a_latin1_byte_is_a_parse_error(spider: DynadotSpider) -> None:
    body = AUCTIONS + "gallimard-édition.fr,$20,USD,1,2027/01/15 13:30 PST,,0,1,$90,USD\n".encode(
        "iso-8859-1"
    )
    assert parsed(spider, feed_response(body)) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_a_hit_with_an_unreadable_bid_is_skipped_and_counted(spider: DynadotSpider) -> None:
    body = AUCTIONS + b"folioshop.com,$abc,USD,1,2027/01/15 13:30 PST,,0,1,$90,USD\n"
    listings, _ = parsed(spider, feed_response(body))
    assert "folioshop.com" not in by_asset(listings)
    assert stat(spider, "brandcrawl/feed/malformed") == 2


def test_a_renamed_column_is_a_parse_error(spider: DynadotSpider) -> None:
    assert parsed(spider, feed_response(AUCTIONS.replace(b"Bid Price,", b"Current Bid,", 1))) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_cloudflares_challenge_is_blocked(spider: DynadotSpider) -> None:
    body = (FIXTURES / "blocked_cloudflare.html").read_bytes()
    response = feed_response(body, status=403, content_type="text/html", **{"cf-mitigated": "challenge"})
    assert parsed(spider, response) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_an_html_page_where_the_file_should_be_is_a_parse_error(spider: DynadotSpider) -> None:
    body = b"<!DOCTYPE html><html><head><title>Dynadot</title></head><body>Page not found</body></html>"
    assert parsed(spider, feed_response(body, content_type="text/html")) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


@deferred_f_from_coro_f
async def test_the_three_files_are_asked_in_us_dollars(spider: DynadotSpider) -> None:
    requests = [request async for request in spider.start()]
    assert [request.url for request in requests] == [spider.feed_url(spider.sites[0], spider.feeds[0])]
    assert requests[0].meta["read_next"], "one file after another"
    assert [spider.feed_url(spider.sites[0], feed) for feed in spider.feeds] == [
        "https://www.dynadot.com/market/auction/auctions.csv?currency=USD",
        "https://www.dynadot.com/market/user-auction/user_auctions.csv?currency=USD",
        "https://www.dynadot.com/market/pre-expiry-auction/pre_expiry_auctions.csv?currency=USD",
    ]


# --- whole crawls of the replica

HITS = {"gallimard-jeunesse.fr", "gallimard.shop", "folio-officiel.net", "gallimardlivres.com"}


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> CrawlResult:
    return await crawl(
        DynadotSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


@deferred_f_from_coro_f
async def test_a_crawl_reads_the_three_files_and_stores_the_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[DynadotApp]) as replica:
        app = replica.apps["dynadot"]
        assert isinstance(app, DynadotApp)
        result = await crawl_replica(replica, watch_path, db_url)
        files = [path for path in replica.requests if not path.endswith("/robots.txt")]
        site_url = replica.site_url("dynadot.com")
        written = len(app.auctions) + app.filler

    assert {item.asset for item in result.items} == HITS
    pre_expiry = next(item for item in result.items if item.asset == "gallimardlivres.com")
    assert (pre_expiry.price, pre_expiry.bid_count, pre_expiry.end_time) == (
        Decimal("5"),
        0,
        datetime(2027, 1, 22, 23, 59, tzinfo=UTC),
    )
    assert pre_expiry.url == f"{site_url}/market/auction/gallimardlivres.com"
    assert sorted(files) == sorted(f"/dynadot.com{path}?currency=USD" for path in PATHS.values())
    stats = result.stats
    assert (stats["brandcrawl/feed/rows"], stats["brandcrawl/feed/matched"]) == (written, len(HITS))
    assert stats["brandcrawl/run/status"] == "ok"
    assert count(db_url, ListingRow) == len(HITS)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.listings_seen) == ("dynadot", "ok", written)


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl_not_zero_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[DynadotApp]) as replica:
        replica.blocked = True
        result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 3
    assert result.stats["brandcrawl/run/status"] == "blocked"


@deferred_f_from_coro_f
async def test_an_error_page_is_a_broken_crawl_that_keeps_what_was_stored(
    watch_path: Path, db_url: str
) -> None:
    with ReplicaMarketplace(apps=[DynadotApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        replica.layout_changed = True
        result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/parse_errors"] == 3
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == len(HITS)
    assert [run.status for run in sorted(rows(db_url, CrawlRun), key=lambda run: run.id)] == ["ok", "broken"]


@pytest.mark.parametrize(("feed", "empty_is_news"), [("user_auctions", False), ("auctions", True)])
def test_a_header_without_rows_is_a_quiet_day_only_for_the_files_that_have_them(
    spider: DynadotSpider, feed: str, empty_is_news: bool
) -> None:
    header = (FIXTURES / "auctions.csv").read_bytes().splitlines(keepends=True)[0]
    url = f"https://www.dynadot.com/{feed}.csv"
    response = Response(url, body=header, request=Request(url, meta={"site": "dynadot.com", "feed": feed}))
    assert parsed(spider, response) == ([], [])
    assert ("brandcrawl/pages/unexpected_empty" in spider.crawler.stats.get_stats()) is empty_is_news
    assert stat(spider, "brandcrawl/pages/parsed") == 1
