"""The NameJet feed spider: its pending-delete list on the fixture (tests/fixtures/namejet/README.md),
the list's address by New York's day, broken files, and whole crawls of the replica."""

from datetime import UTC, datetime
from decimal import InvalidOperation
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.items import Listing
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.namejet import NameJetApp
from brandcrawl.replica.namejet import list_path as published_path
from brandcrawl.replica.templates import PAGES
from brandcrawl.storage.models import CrawlRun, ListingChange, ListingRow
from spiders.namejet import NameJetSpider, list_path
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

FIXTURE = Path(__file__).parent / "fixtures" / "namejet" / "pending_delete_11-05-2020.txt"
URL = "https://www.namejet.com/download/11-05-2020.txt"
NOW = datetime(2020, 11, 5, 14, 0, tzinfo=UTC)


@pytest.fixture
def spider(watch_path: Path) -> NameJetSpider:
    return parsing_spider(NameJetSpider, watch_path)


def list_response(
    body: bytes | None = None, status: int = 200, content_type: str = "text/plain", **headers: str
) -> TextResponse:
    request = Request(URL, meta={"site": "namejet.com", "feed": "pending_delete"})
    response_class = HtmlResponse if "html" in content_type else TextResponse
    return response_class(
        URL,
        status=status,
        body=FIXTURE.read_bytes() if body is None else body,
        headers={"Content-Type": content_type, **headers},
        request=request,
    )


def read(spider: NameJetSpider, body: bytes | None = None) -> dict[str, Listing]:
    listings, requests = parsed(spider, list_response(body))
    assert requests == []
    return {listing.listing_id: listing for listing in listings}


# --- the list's address: /download/M-DD-YYYY.txt, by the day in New York


@pytest.mark.parametrize(
    ("now", "path"),
    [
        (datetime(2020, 11, 5, 14, 0, tzinfo=UTC), "/download/11-05-2020.txt"),
        # 21:00 in New York: still the 5th there.
        (datetime(2020, 11, 6, 2, 0, tzinfo=UTC), "/download/11-05-2020.txt"),
        (datetime(2026, 1, 7, 12, 0, tzinfo=UTC), "/download/1-07-2026.txt"),
    ],
)
def test_the_list_is_named_by_the_day_in_new_york(now: datetime, path: str) -> None:
    assert list_path(now) == path
    assert published_path(now) == path, "the replica publishes where the spider looks"


def test_the_spider_asks_for_todays_list(spider: NameJetSpider) -> None:
    [request] = spider.feed_requests()
    assert request.url == f"https://www.namejet.com{list_path(datetime.now(UTC))}"
    assert stat(spider, "brandcrawl/searches") == 1


# --- the list: one name a line


def test_the_list_yields_its_hits(spider: NameJetSpider) -> None:
    # gallimard.fr is the brand's own domain; portfolio-design.com and the real names carry no brand.
    assert list(read(spider)) == [
        "folio-officiel.com",
        "gallimard-livres.fr",
        "gallimard-shop.com",
        "xn--gllimard-16g.fr",
    ]
    assert stat(spider, "brandcrawl/feed/rows") == 66
    assert stat(spider, "brandcrawl/feed/matched") == 4
    assert stat(spider, "brandcrawl/feed/malformed") == 0
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_a_hit_carries_every_field(spider: NameJetSpider) -> None:
    listing = through_pipelines(spider, read(spider)["xn--gllimard-16g.fr"], NOW)
    assert (listing.marketplace, listing.site, listing.url) == (
        "namejet",
        "namejet.com",
        "https://www.namejet.com/Pages/Auctions/BackorderDetails.aspx?domainname=xn--gllimard-16g.fr",
    )
    assert (listing.title, listing.asset_kind, listing.asset, listing.asset_text) == (
        "xn--gllimard-16g.fr",
        "domain",
        "xn--gllimard-16g.fr",
        "xn--gllimard-16g.fr",
    )
    assert (listing.sale_method, listing.status) == ("pending_delete", "active")
    # A drop list says nothing of a price, bids or an end.
    assert (listing.price, listing.currency, listing.bid_count, listing.end_time) == (None, None, None, None)
    assert listing.details == {
        "domain_unicode": "gаllimard.fr",
        "registrable": "xn--gllimard-16g.fr",
        "suffix": "fr",
    }
    assert [(match["brand"], match["rule"], match["kind"]) for match in listing.matches] == [
        ("Gallimard", "idn", "domain")
    ]


def test_a_utf8_byte_order_mark_and_windows_line_ends(spider: NameJetSpider) -> None:
    body = b"\xef\xbb\xbfgallimard-shop.com\r\n0-5-0.com\r\n\r\n"
    assert list(read(spider, body)) == ["gallimard-shop.com"]
    assert stat(spider, "brandcrawl/feed/rows") == 2


# --- broken files


def test_a_malformed_row_is_counted_and_skipped(spider: NameJetSpider) -> None:
    body = FIXTURE.read_bytes() + b"Pending delete list: not available\nlocalhost\n"
    assert len(read(spider, body)) == 4
    assert stat(spider, "brandcrawl/feed/rows") == 68
    assert stat(spider, "brandcrawl/feed/malformed") == 2
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_an_html_error_page_instead_of_the_list_is_a_parse_error(spider: NameJetSpider) -> None:
    page = (PAGES / "feeds" / "error_page.html").read_bytes()
    assert read(spider, page) == {}
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/namejet.com/failed") == 1


@pytest.mark.parametrize("header", [{"cf-mitigated": "challenge"}, {}], ids=["header", "title"])
def test_a_challenge_instead_of_the_list_is_blocked(spider: NameJetSpider, header: dict[str, str]) -> None:
    page = (PAGES / "feeds" / "challenge.html").read_bytes()
    response = list_response(page, status=403, content_type="text/html", **header)
    assert parsed(spider, response) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


# --- whole crawls of the replica

HITS = {
    "gallimard-shop.com",
    "xn--gllimard-16g.fr",
    "gallimard-livres.fr",
    "folio-officiel.com",
    "editions-gallimard.net",
    "galimard.com",
}
# The seed's 6 hits and 16 other names, and the replica's 200 filler names.
ROWS = 6 + 16 + 200


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> CrawlResult:
    return await crawl(
        NameJetSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


@deferred_f_from_coro_f
async def test_a_crawl_reads_todays_list_and_stores_the_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NameJetApp]) as replica:
        result = await crawl_replica(replica, watch_path, db_url)
        site_url = replica.site_url("namejet.com")

    assert {item.listing_id for item in result.items} == HITS
    assert "gallimard.fr" not in {item.listing_id for item in result.items}
    assert {item.sale_method for item in result.items} == {"pending_delete"}
    galimard = next(item for item in result.items if item.listing_id == "galimard.com")
    assert galimard.url == f"{site_url}/Pages/Auctions/BackorderDetails.aspx?domainname=galimard.com"
    assert [match["rule"] for match in galimard.matches] == ["typo"]
    assert replica.requests == ["/robots.txt", f"/namejet.com{list_path(datetime.now(UTC))}"]
    assert result.stats["brandcrawl/feed/rows"] == ROWS
    assert result.stats["brandcrawl/feed/matched"] == len(HITS)
    assert result.stats["brandcrawl/feed/malformed"] == 0
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert count(db_url, ListingRow) == len(HITS)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits, run.listings_seen) == ("namejet", "ok", len(HITS), ROWS)


@deferred_f_from_coro_f
async def test_a_list_of_real_size_finds_the_same_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NameJetApp]) as replica:
        replica.apps["namejet"].filler = 300_000  # type: ignore[attr-defined]
        result = await crawl_replica(replica, watch_path, db_url)
    assert {item.listing_id for item in result.items} == HITS
    assert result.stats["brandcrawl/feed/rows"] == 6 + 16 + 300_000
    assert result.stats["brandcrawl/run/status"] == "ok"


@deferred_f_from_coro_f
async def test_a_list_not_published_is_a_broken_crawl_not_zero_hits(watch_path: Path, db_url: str) -> None:
    """A list that is not where it is looked for (moved, or not out yet) answers 404."""
    with ReplicaMarketplace(apps=[NameJetApp]) as replica:
        result = await crawl(
            NameJetSpider,
            crawl_settings(watch_path, db_url),
            base_url=f"{replica.base_url}/{{site}}/old",
        )
    assert result.items == []
    assert result.stats["downloader/response_status_count/404"] == 1
    assert result.stats["brandcrawl/run/status"] == "broken"


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl_not_zero_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NameJetApp]) as replica:
        replica.blocked = True
        result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_an_error_page_instead_of_the_list_is_a_broken_crawl_that_keeps_what_was_stored(
    watch_path: Path, db_url: str
) -> None:
    with ReplicaMarketplace(apps=[NameJetApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        replica.layout_changed = True
        result = await crawl_replica(replica, watch_path, db_url)

    assert result.items == []
    assert result.stats["brandcrawl/parse_errors"] == 1
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == len(HITS)
    assert [run.status for run in sorted(rows(db_url, CrawlRun), key=lambda run: run.id)] == ["ok", "broken"]


@deferred_f_from_coro_f
async def test_a_name_gone_from_the_next_list_has_ended(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NameJetApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        app = replica.apps["namejet"]
        assert isinstance(app, NameJetApp)
        app.names.remove("galimard.com")  # dropped, or renewed: no longer pending delete
        second = await crawl_replica(replica, watch_path, db_url)
        assert [path for path in replica.requests if "BackorderDetails" in path] == [], "nothing fetched"
    assert second.stats["brandcrawl/revisits/ended"] == 1
    changes = {(c.field, c.old_value, c.new_value) for c in rows(db_url, ListingChange)}
    assert changes == {("status", "active", "ended")}


@deferred_f_from_coro_f
async def test_a_list_much_shorter_than_last_time_ends_nothing(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NameJetApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        app = replica.apps["namejet"]
        assert isinstance(app, NameJetApp)
        app.filler = 0  # a partial export: cut at a line end, it still parses
        app.names.remove("galimard.com")
        second = await crawl_replica(replica, watch_path, db_url)
    assert second.stats["brandcrawl/run/status"] == "ok"
    assert "brandcrawl/revisits/ended" not in second.stats
    assert rows(db_url, ListingChange) == []


def test_a_hit_row_that_cannot_be_read_is_counted_and_kept_from_being_ended(
    spider: NameJetSpider, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreadable(row: str, *args: object) -> Listing:
        if row == "galimard.com":
            raise InvalidOperation("a price that is no number")  # not a ValueError: must not end the file
        return original(row, *args)

    original = spider.row_listing
    monkeypatch.setattr(spider, "row_listing", unreadable)
    listings = read(spider, b"galimard.com\ngallimard-shop.com\nXN--GLLIMARD-16G.FR\n")
    assert set(listings) == {"gallimard-shop.com", "xn--gllimard-16g.fr"}
    assert "galimard.com" in spider.yielded, "still on sale: its stored listing is not ended as missing"
    assert stat(spider, "brandcrawl/feed/malformed") == 1
