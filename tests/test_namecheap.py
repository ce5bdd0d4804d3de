"""The Namecheap Market spider: its two report files as fixtures (tests/fixtures/namecheap/README.md),
what breaks them, and whole crawls of the replica."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.items import Listing
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.namecheap import BUY_NOW_PATH, SALES_PATH, NamecheapApp
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.namecheap import MARKET_SALES, NamecheapSpider
from tests.conftest import CrawlResult, count, crawl, crawl_settings, parsed, parsing_spider, rows, stat
from tests.conftest import through_pipelines as piped

FIXTURES = Path(__file__).parent / "fixtures" / "namecheap"
HOST = "https://d3ry1h4w5036x1.cloudfront.net"
NOW = datetime(2026, 2, 10, 8, 0, tzinfo=UTC)
SALES = (FIXTURES / "Namecheap_Market_Sales.csv").read_bytes()
BUY_NOW_FILE = (FIXTURES / "Namecheap_Market_Sales_Buy_Now.csv").read_bytes()
SALES_HEADER = SALES.split(b"\n", 1)[0]


@pytest.fixture
def spider(watch_path: Path) -> NamecheapSpider:
    return parsing_spider(NamecheapSpider, watch_path)


def feed_response(
    body: bytes, feed: str = "market_sales", status: int = 200, content_type: str = "text/csv", **headers: str
) -> Response:
    path = SALES_PATH if feed == "market_sales" else BUY_NOW_PATH
    url = f"{HOST}{path}"
    request = Request(url, meta={"site": "namecheap.com", "feed": feed})
    response_class = HtmlResponse if content_type.startswith("text/html") else TextResponse
    return response_class(
        url, status=status, body=body, headers={"Content-Type": content_type, **headers}, request=request
    )


def by_asset(listings: list[Listing]) -> dict[str, Listing]:
    return {listing.asset or "": listing for listing in listings}


def sales_row(name: str, price: str = "20.00", bids: str = "2") -> bytes:
    return (
        f"https://www.namecheap.com/market/sale/Xx{len(name)}Yy/,{name},2026-02-01T10:00:00Z,"
        f"2026-02-20T16:00:00Z,{price},1.00,13.98,{bids},,,,,,,,,,1,,,,,,,\n"
    ).encode()


# --- the auctions file


def test_every_hit_of_the_sales_file_and_nothing_else(spider: NamecheapSpider) -> None:
    listings, requests = parsed(spider, feed_response(SALES))
    assert sorted(by_asset(listings)) == ["folio-officiel.com", "gallimard-shop.com", "xn--gllimard-16g.fr"]
    assert requests == []
    # 7 whole rows and the last one, cut in the middle of its name; the brand's own gallimard.fr
    # is no match at all.
    assert (stat(spider, "brandcrawl/feed/rows"), stat(spider, "brandcrawl/feed/matched")) == (8, 3)
    assert stat(spider, "brandcrawl/feed/malformed") == 1
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_an_auction_hit_carries_every_field(spider: NamecheapSpider) -> None:
    listings, _ = parsed(spider, feed_response(SALES))
    listing = piped(spider, by_asset(listings)["gallimard-shop.com"], NOW)
    assert (listing.marketplace, listing.site, listing.listing_id, listing.title) == (
        "namecheap",
        "namecheap.com",
        "gallimard-shop.com",
        "gallimard-shop.com",
    )
    assert (listing.asset_kind, listing.asset, listing.asset_text) == (
        "domain",
        "gallimard-shop.com",
        "gallimard-shop.com",
    )
    assert listing.url == "https://www.namecheap.com/market/sale/Gm7Qx2LhVt9pWcK3nRbE4d/"
    assert (listing.sale_method, listing.status) == ("auction", "active")
    assert (listing.price, listing.currency, listing.bid_count) == (Decimal("145.00"), "USD", 9)
    assert listing.end_time == datetime(2026, 2, 16, 16, 0, tzinfo=UTC)
    assert listing.details == {
        "started": "2026-01-25T09:12:44+00:00",
        "start_price": "1.00 USD",
        "renew_price": "13.98 USD",
        "estibot_value": "1200.00 USD",
        "registered": "2019-03-02",
        "extensions_taken": 12,
        "last_sold": "310.00 USD in 2021",
        "domain_unicode": "gallimard-shop.com",
        "registrable": "gallimard-shop.com",
        "suffix": "com",
    }
    assert [(m["brand"], m["rule"]) for m in listing.matches] == [("Gallimard", "exact+affix")]


def test_a_punycode_look_alike_keeps_its_punycode_and_reads_in_unicode(spider: NamecheapSpider) -> None:
    listings, _ = parsed(spider, feed_response(SALES))
    listing = piped(spider, by_asset(listings)["xn--gllimard-16g.fr"], NOW)
    assert listing.asset == "xn--gllimard-16g.fr"
    assert listing.details["domain_unicode"] == "g\u0430llimard.fr"  # a Cyrillic а
    assert (listing.price, listing.bid_count) == (Decimal("12.00"), 2)
    assert "estibot_value" not in listing.details
    assert "last_sold" not in listing.details
    assert [(m["brand"], m["rule"]) for m in listing.matches] == [("Gallimard", "idn")]


def test_a_name_written_in_unicode_is_stored_in_punycode(spider: NamecheapSpider) -> None:
    listings, _ = parsed(spider, feed_response(SALES_HEADER + b"\n" + sales_row("gallimard-édition.fr")))
    [listing] = listings
    assert (listing.asset, listing.asset_text) == ("xn--gallimard-dition-kqb.fr", "gallimard-édition.fr")
    assert piped(spider, listing, NOW).details["domain_unicode"] == "gallimard-édition.fr"


def test_a_utf8_bom_is_no_part_of_the_first_column(spider: NamecheapSpider) -> None:
    listings, _ = parsed(spider, feed_response(b"\xef\xbb\xbf" + SALES))
    assert by_asset(listings)["gallimard-shop.com"].url.endswith("/Gm7Qx2LhVt9pWcK3nRbE4d/")
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_a_latin1_byte_is_a_parse_error_not_a_misread_name(spider: NamecheapSpider) -> None:
    """The files are UTF-8: a byte that is not is a broken file, never a name read wrong."""
    body = SALES + sales_row("gallimard-édition.fr").decode().encode("iso-8859-1")
    assert parsed(spider, feed_response(body)) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/namecheap.com/failed") == 1


def test_a_hit_row_with_an_unreadable_price_is_skipped_and_counted(spider: NamecheapSpider) -> None:
    body = SALES + sales_row("gallimard-store.com", price="n/a") + sales_row("gallimard-club.com", bids="x")
    listings, _ = parsed(spider, feed_response(body))
    assert "gallimard-store.com" not in by_asset(listings)
    assert "gallimard-club.com" not in by_asset(listings)
    assert stat(spider, "brandcrawl/feed/malformed") == 3
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_a_quoted_field_with_a_comma_is_read_as_csv(spider: NamecheapSpider) -> None:
    row = sales_row("gallimard-books.com").replace(
        b"https://www.namecheap.com/market/sale/Xx19Yy/", b'"https://x.test/a,b"'
    )
    listings, _ = parsed(spider, feed_response(SALES_HEADER + b"\n" + row))
    assert [(listing.asset, listing.url) for listing in listings] == [
        ("gallimard-books.com", "https://x.test/a,b")
    ]
    assert stat(spider, "brandcrawl/feed/malformed") == 0


def test_blank_lines_are_no_rows_to_report(spider: NamecheapSpider) -> None:
    listings, _ = parsed(spider, feed_response(SALES.replace(b"\n", b"\n\n", 2)))
    assert len(listings) == 3
    assert stat(spider, "brandcrawl/feed/malformed") == 1


def test_a_file_made_mostly_of_malformed_rows_is_a_parse_error(spider: NamecheapSpider) -> None:
    """The file changed shape: the run is broken, whatever the few readable rows hold."""
    body = SALES_HEADER + b"\n" + b"".join(f"row {n},of,another,shape\n".encode() for n in range(5))
    listings, _ = parsed(spider, feed_response(body + sales_row("gallimard-shop.com")))
    assert [listing.asset for listing in listings] == ["gallimard-shop.com"]
    assert stat(spider, "brandcrawl/feed/malformed") == 5
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None


def test_a_renamed_column_is_a_parse_error(spider: NamecheapSpider) -> None:
    body = SALES.replace(b",name,", b",domainName,", 1)
    assert parsed(spider, feed_response(body)) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/feed/rows") == 0


def test_an_empty_file_is_unexpectedly_empty(spider: NamecheapSpider) -> None:
    assert parsed(spider, feed_response(SALES_HEADER + b"\n")) == ([], [])
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1


# --- the buy-now file


def test_buy_now_hits_are_fixed_price_sales(spider: NamecheapSpider) -> None:
    listings, _ = parsed(spider, feed_response(BUY_NOW_FILE, feed="buy_now"))
    found = by_asset(listings)
    assert sorted(found) == ["galimard.com", "gallimard-livres.fr"]
    listing = piped(spider, found["gallimard-livres.fr"], NOW)
    assert (listing.sale_method, listing.price, listing.currency, listing.bid_count, listing.end_time) == (
        "fixed",
        Decimal("499.00"),
        "USD",
        None,
        None,
    )
    assert listing.url == "https://www.namecheap.com/market/buynow/gallimard-livres.fr/"
    assert listing.details["extensions_taken"] == 6
    # A row without its permalink links to the market's search for the name.
    assert found["galimard.com"].url == "https://www.namecheap.com/market/?term=galimard.com"
    typo = piped(spider, found["galimard.com"], NOW)
    assert [(m["brand"], m["rule"]) for m in typo.matches] == [("Gallimard", "typo")]


# --- what is not the file


def test_cloudfronts_403_page_is_blocked_not_broken(spider: NamecheapSpider) -> None:
    body = (FIXTURES / "cloudfront_403.html").read_bytes()
    response = feed_response(body, status=403, content_type="text/html", Server="CloudFront")
    assert parsed(spider, response) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_an_html_page_where_the_file_should_be_is_a_parse_error(spider: NamecheapSpider) -> None:
    body = (FIXTURES / "nginx_502.html").read_bytes()
    assert parsed(spider, feed_response(body, content_type="text/html")) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/pages/blocked") is None


def test_s3s_access_denied_for_a_moved_file_is_a_parse_error(spider: NamecheapSpider) -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied'
        b"</Message><RequestId>8Q2Z3C1V</RequestId></Error>"
    )
    assert parsed(spider, feed_response(body, status=403, content_type="application/xml")) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/pages/blocked") is None


# --- requests and settings


@deferred_f_from_coro_f
async def test_the_two_files_are_asked_of_namecheaps_cloudfront_host(spider: NamecheapSpider) -> None:
    requests = [request async for request in spider.start()]
    assert [request.meta["feed"] for request in requests] == [MARKET_SALES.name], "the auctions first"
    assert [spider.feed_url(spider.sites[0], feed) for feed in spider.feeds] == [
        f"{HOST}/reports/Namecheap_Market_Sales.csv",
        f"{HOST}/reports/Namecheap_Market_Sales_Buy_Now.csv",
    ]
    settings = spider.crawler.settings
    assert settings.getint("DOWNLOAD_MAXSIZE") >= 300 * 1024 * 1024, "the sales file is ~194 MB"
    assert settings.getint("DOWNLOAD_TIMEOUT") >= 600


# --- whole crawls of the replica

HITS = {
    "gallimard-shop.com": "auction",
    "xn--gllimard-16g.fr": "auction",
    "folio-officiel.com": "auction",
    "editions-gallimard.com": "auction",
    "gallimard-livres.fr": "fixed",
    "galimard.com": "fixed",
    "folioshop.com": "fixed",
}


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> CrawlResult:
    return await crawl(
        NamecheapSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


@deferred_f_from_coro_f
async def test_a_crawl_reads_both_files_and_stores_the_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NamecheapApp]) as replica:
        app = replica.apps["namecheap"]
        assert isinstance(app, NamecheapApp)
        result = await crawl_replica(replica, watch_path, db_url)
        files = [path for path in replica.requests if not path.endswith("/robots.txt")]
        written = len(app.sales) + app.filler + len(app.buy_now) + app.buy_now_filler

    assert {item.asset: item.sale_method for item in result.items} == HITS
    assert "gallimard.fr" not in {item.asset for item in result.items}, "the brand's own domain"
    shop = next(item for item in result.items if item.asset == "gallimard-shop.com")
    assert (shop.price, shop.currency, shop.bid_count, shop.end_time) == (
        Decimal("145.00"),
        "USD",
        9,
        datetime(2027, 1, 18, 16, 0, tzinfo=UTC),
    )
    assert shop.url == "https://www.namecheap.com/market/sale/Gm7Qx2LhVt9pWcK3nRbE4d/"
    assert sorted(files) == sorted([f"/namecheap.com{SALES_PATH}", f"/namecheap.com{BUY_NOW_PATH}"])
    stats = result.stats
    assert (stats["brandcrawl/feed/rows"], stats["brandcrawl/feed/matched"]) == (written, len(HITS))
    assert stats["brandcrawl/feed/malformed"] == 0
    assert stats["brandcrawl/run/status"] == "ok"
    assert count(db_url, ListingRow) == len(HITS)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits, run.listings_seen) == ("namecheap", "ok", len(HITS), written)


@deferred_f_from_coro_f
async def test_filler_rows_carry_no_brand(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NamecheapApp]) as replica:
        app = replica.apps["namecheap"]
        assert isinstance(app, NamecheapApp)
        app.filler = 20_000
        result = await crawl_replica(replica, watch_path, db_url)
    assert {item.asset for item in result.items} == set(HITS)
    assert result.stats["brandcrawl/feed/rows"] == len(app.sales) + 20_000 + len(app.buy_now) + 20


@deferred_f_from_coro_f
async def test_a_block_is_a_blocked_crawl_not_zero_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NamecheapApp]) as replica:
        replica.blocked = True
        result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 2
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_an_error_page_is_a_broken_crawl_that_keeps_what_was_stored(
    watch_path: Path, db_url: str
) -> None:
    with ReplicaMarketplace(apps=[NamecheapApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        replica.layout_changed = True
        result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/parse_errors"] == 2
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == len(HITS)
    assert [run.status for run in sorted(rows(db_url, CrawlRun), key=lambda run: run.id)] == ["ok", "broken"]
