"""The Sedo feed spider: its auction list and top lists on the fixtures (tests/fixtures/sedo/README.md),
their encodings and broken files, and whole crawls of the replica."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.items import Listing
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.sedo import SedoApp
from brandcrawl.replica.templates import PAGES
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.sedo import SedoSpider
from tests.conftest import (
    CrawlResult,
    count,
    crawl,
    crawl_settings,
    parsed,
    parsing_spider,
    rows,
    stat,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "sedo"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
LATIN_1 = "text/plain; charset=ISO-8859-1"


@pytest.fixture
def spider(watch_path: Path) -> SedoSpider:
    return parsing_spider(SedoSpider, watch_path)


def feed_response(
    feed: str, body: bytes, status: int = 200, content_type: str = LATIN_1, **headers: str
) -> TextResponse:
    url = f"https://sedo.com/txt/{feed}.txt"
    request = Request(url, meta={"site": "sedo.com", "feed": feed})
    response_class = HtmlResponse if "html" in content_type else TextResponse
    return response_class(
        url, status=status, body=body, headers={"Content-Type": content_type, **headers}, request=request
    )


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def read(spider: SedoSpider, feed: str, body: bytes) -> dict[str, Listing]:
    listings, requests = parsed(spider, feed_response(feed, body))
    assert requests == []
    return {listing.listing_id: listing for listing in listings}


def feed_stats(spider: SedoSpider) -> tuple[Any, ...]:
    """The feed's rows, matched and malformed counts."""
    return tuple(stat(spider, f"brandcrawl/feed/{name}") for name in ("rows", "matched", "malformed"))


# --- the auction list: domain;start_unix;end_unix;price;currency;bids;


def test_the_auction_list_yields_its_hits(spider: SedoSpider) -> None:
    listings = read(spider, "auctions_us", fixture("auctions_us.txt"))
    # gallimard.fr is the brand's own domain; the others carry no brand.
    assert list(listings) == [
        "gallimard-shop.com",
        "xn--gallimard-ditions-ktb.fr",
        "gallimard-books.co.uk",
        "folio-officiel.com",
    ]
    assert feed_stats(spider) == (8, 4, 0)
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_an_auction_hit_carries_every_field(spider: SedoSpider) -> None:
    listing = through_pipelines(
        spider, read(spider, "auctions_us", fixture("auctions_us.txt"))["gallimard-shop.com"], NOW
    )
    assert (listing.marketplace, listing.site, listing.url) == (
        "sedo",
        "sedo.com",
        "https://sedo.com/search/details/?domain=gallimard-shop.com",
    )
    assert (listing.title, listing.asset_kind, listing.asset, listing.asset_text) == (
        "gallimard-shop.com",
        "domain",
        "gallimard-shop.com",
        "gallimard-shop.com",
    )
    assert (listing.sale_method, listing.status) == ("auction", "active")
    assert (listing.price, listing.currency, listing.bid_count) == (Decimal("450"), "EUR", 3)
    assert listing.end_time == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert listing.details == {
        "auction_start": "2026-11-20T18:00:00+00:00",
        # Added by the match pipeline to every domain on sale.
        "domain_unicode": "gallimard-shop.com",
        "registrable": "gallimard-shop.com",
        "suffix": "com",
    }
    assert [(match["brand"], match["rule"], match["kind"]) for match in listing.matches] == [
        ("Gallimard", "exact+affix", "domain")
    ]


def test_an_accented_iso_8859_1_line_is_an_idn_in_punycode(spider: SedoSpider) -> None:
    assert "gallimard-\xe9ditions.fr".encode("iso-8859-1") in fixture("auctions_us.txt")
    listing = read(spider, "auctions_us", fixture("auctions_us.txt"))["xn--gallimard-ditions-ktb.fr"]
    listing = through_pipelines(spider, listing, NOW)
    assert (listing.asset, listing.asset_text) == ("xn--gallimard-ditions-ktb.fr", "gallimard-éditions.fr")
    assert listing.url == "https://sedo.com/search/details/?domain=xn--gallimard-ditions-ktb.fr"
    assert listing.details["domain_unicode"] == "gallimard-éditions.fr"
    assert (listing.price, listing.currency, listing.bid_count) == (Decimal("180"), "USD", 1)


def test_a_price_in_pounds_is_an_html_entity_that_shifts_the_bids(spider: SedoSpider) -> None:
    """ "&#163;" ends with a ";": the bids are one field further on."""
    listing = through_pipelines(
        spider, read(spider, "auctions_us", fixture("auctions_us.txt"))["gallimard-books.co.uk"], NOW
    )
    assert (listing.price, listing.currency, listing.bid_count) == (Decimal("95"), "GBP", 2)
    assert listing.end_time == datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert (listing.details["registrable"], listing.details["suffix"]) == ("gallimard-books.co.uk", "co.uk")


def test_a_pound_sign_written_as_its_iso_8859_1_byte(spider: SedoSpider) -> None:
    body = b"gallimard-shop.net;1795348800;1796558400;95;\xa3;2;\n"
    listing = read(spider, "auctions_us", body)["gallimard-shop.net"]
    assert (listing.price, listing.currency, listing.bid_count) == (Decimal("95"), "GBP", 2)


def test_a_utf8_file_with_a_byte_order_mark(spider: SedoSpider) -> None:
    """A copy saved as UTF-8 (BOM, CRLF): the BOM is no part of the first domain, é is one letter."""
    body = fixture("auctions_us_utf8_bom.txt")
    assert body.startswith(b"\xef\xbb\xbfgallimard-\xc3\xa9ditions.fr;")
    listing = read(spider, "auctions_us", body)["xn--gallimard-ditions-ktb.fr"]
    assert listing.asset_text == "gallimard-éditions.fr"
    assert listing.bid_count == 1
    assert feed_stats(spider) == (2, 1, 0)


# --- the top lists: domain~200.000 EUR~ or domain~Make offer~


def test_a_top_list_yields_fixed_prices_and_offers(spider: SedoSpider) -> None:
    listings = read(spider, "topdomains_fr", fixture("topdomains_fr.txt"))
    assert {domain: listing.sale_method for domain, listing in listings.items()} == {
        "gallimard-livres.fr": "fixed",
        "xn--gllimard-16g.fr": "offer",
        "folio.fr": "fixed",
    }
    assert feed_stats(spider) == (6, 3, 0)
    fixed = through_pipelines(spider, listings["gallimard-livres.fr"], NOW)
    assert (fixed.price, fixed.currency, fixed.bid_count, fixed.end_time) == (
        Decimal("12500"),
        "EUR",
        None,
        None,
    )
    assert fixed.url == "https://sedo.com/search/details/?domain=gallimard-livres.fr"
    assert fixed.details == {
        "top_list": "fr",
        "domain_unicode": "gallimard-livres.fr",
        "registrable": "gallimard-livres.fr",
        "suffix": "fr",
    }
    assert listings["folio.fr"].price == Decimal("1250.50")  # "1.250,50 EUR"
    offer = through_pipelines(spider, listings["xn--gllimard-16g.fr"], NOW)
    assert (offer.price, offer.currency, offer.price_text) == (None, None, None)
    assert offer.details["domain_unicode"] == "gаllimard.fr"
    assert [(match["brand"], match["rule"]) for match in offer.matches] == [("Gallimard", "idn")]


@pytest.mark.parametrize("price", ["19.99 USD", "200,000 USD", "12.500", "lots EUR 5", ""])
def test_a_price_not_written_the_sedo_way_is_a_malformed_row(spider: SedoSpider, price: str) -> None:
    body = fixture("topdomains_fr.txt") + f"gallimard-shop.fr~{price}~\n".encode()
    assert "gallimard-shop.fr" not in read(spider, "topdomains_fr", body)
    assert feed_stats(spider) == (7, 3, 1)
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_a_name_on_two_lists_is_reported_once(spider: SedoSpider) -> None:
    assert "gallimard-livres.fr" in read(spider, "topdomains_fr", fixture("topdomains_fr.txt"))
    assert read(spider, "topdomains_d", b"gallimard-livres.fr~12.500 EUR~\n") == {}


# --- broken files


def test_a_malformed_row_is_counted_and_skipped(spider: SedoSpider) -> None:
    body = fixture("auctions_us.txt") + b"<b>Warning</b>: something went wrong\n"
    body += b"gallimard-store.com;soon;1796407200;450;EUR;3;\n"  # a hit whose start is no time
    assert len(read(spider, "auctions_us", body)) == 4
    assert feed_stats(spider) == (10, 4, 2)
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_a_file_of_malformed_rows_is_a_parse_error(spider: SedoSpider) -> None:
    body = b"gallimard-shop.com,1795197600,1796407200,450,EUR,3\nwinfox.com,1790844429,1791449229,30,$US,1\n"
    assert read(spider, "auctions_us", body) == {}
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/sedo.com/failed") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None


def test_an_html_error_page_instead_of_the_file_is_a_parse_error(spider: SedoSpider) -> None:
    page = (PAGES / "feeds" / "error_page.html").read_bytes()
    listings, _ = parsed(spider, feed_response("auctions_us", page, content_type="text/html"))
    assert listings == []
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/pages/blocked") is None


@pytest.mark.parametrize("header", [{"cf-mitigated": "challenge"}, {}], ids=["header", "title"])
def test_a_challenge_instead_of_the_file_is_blocked(spider: SedoSpider, header: dict[str, str]) -> None:
    page = (PAGES / "feeds" / "challenge.html").read_bytes()
    response = feed_response("auctions_us", page, status=403, content_type="text/html", **header)
    assert parsed(spider, response) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_an_empty_file_is_unexpectedly_empty(spider: SedoSpider) -> None:
    assert read(spider, "auctions_us", b"\n") == {}
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1


# --- requests


def test_the_spider_asks_for_the_auction_list_and_each_top_list(spider: SedoSpider) -> None:
    assert [request.url for request in spider.feed_requests()] == ["https://sedo.com/txt/auctions_us.txt"]
    assert [spider.feed_url(spider.sites[0], feed) for feed in spider.feeds] == [
        "https://sedo.com/txt/auctions_us.txt",
        "https://sedo.com/txt/topdomains_us.txt",
        "https://sedo.com/txt/topdomains_d.txt",
        "https://sedo.com/txt/topdomains_e.txt",
        "https://sedo.com/txt/topdomains_fr.txt",
        "https://sedo.com/txt/topdomains_es.txt",
    ]
    assert stat(spider, "brandcrawl/searches") == 1, "the others one after another"


# --- whole crawls of the replica

HITS = {
    "gallimard-shop.com": "auction",
    "xn--gallimard-ditions-ktb.fr": "auction",
    "gallimard-books.co.uk": "auction",
    "folio-officiel.com": "auction",
    "gallimard-livres.fr": "fixed",
    "xn--gllimard-16g.fr": "offer",
    "foliogallimard.com": "fixed",
}
# The seed's 8 auctions and 10 top-list lines, and the replica's 100 filler auctions.
ROWS = 8 + 10 + 100


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> CrawlResult:
    return await crawl(
        SedoSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


def stats_of(result: CrawlResult, *names: str) -> dict[str, Any]:
    return {name: result.stats.get(f"brandcrawl/{name}") for name in names}


@deferred_f_from_coro_f
async def test_a_crawl_reads_every_list_and_stores_the_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[SedoApp]) as replica:
        result = await crawl_replica(replica, watch_path, db_url)
        site_url = replica.site_url("sedo.com")

    assert {item.listing_id: item.sale_method for item in result.items} == HITS
    assert "gallimard.fr" not in {item.listing_id for item in result.items}
    by_id = {item.listing_id: item for item in result.items}
    shop = by_id["gallimard-shop.com"]
    assert (shop.price, shop.currency, shop.bid_count) == (Decimal("450"), "EUR", 3)
    assert shop.end_time == datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
    assert shop.url == f"{site_url}/search/details/?domain=gallimard-shop.com"
    assert by_id["xn--gallimard-ditions-ktb.fr"].asset_text == "gallimard-éditions.fr"
    assert (by_id["foliogallimard.com"].price, by_id["foliogallimard.com"].currency) == (
        Decimal("5000"),
        "USD",
    )
    assert sorted(replica.requests) == sorted(
        ["/robots.txt", "/sedo.com/txt/auctions_us.txt"]
        + [f"/sedo.com/txt/topdomains_{locale}.txt" for locale in ("us", "d", "e", "fr", "es")]
    )
    assert stats_of(result, "feed/rows", "feed/matched", "feed/malformed", "pages/parsed") == {
        "feed/rows": ROWS,
        "feed/matched": len(HITS),
        "feed/malformed": 0,
        "pages/parsed": 6,
    }
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert count(db_url, ListingRow) == len(HITS)
    stored = {row.listing_id: (row.sale_method, row.price, row.currency) for row in rows(db_url, ListingRow)}
    assert stored["xn--gllimard-16g.fr"] == ("offer", None, None)
    assert stored["gallimard-books.co.uk"] == ("auction", Decimal("95"), "GBP")
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits, run.listings_seen) == ("sedo", "ok", len(HITS), ROWS)


@deferred_f_from_coro_f
async def test_a_longer_auction_list_finds_the_same_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[SedoApp]) as replica:
        replica.apps["sedo"].filler = 20_000  # type: ignore[attr-defined]
        result = await crawl_replica(replica, watch_path, db_url)
    assert {item.listing_id for item in result.items} == set(HITS)
    assert result.stats["brandcrawl/feed/rows"] == 8 + 10 + 20_000
    assert result.stats["brandcrawl/run/status"] == "ok"


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl_not_zero_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[SedoApp]) as replica:
        replica.blocked = True
        result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["downloader/response_status_count/403"] == 6
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_an_error_page_instead_of_the_files_is_a_broken_crawl_that_keeps_what_was_stored(
    watch_path: Path, db_url: str
) -> None:
    with ReplicaMarketplace(apps=[SedoApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        replica.layout_changed = True
        result = await crawl_replica(replica, watch_path, db_url)

    assert result.items == []
    assert result.stats["brandcrawl/parse_errors"] == 6
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == len(HITS)
    assert [run.status for run in sorted(rows(db_url, CrawlRun), key=lambda run: run.id)] == ["ok", "broken"]
