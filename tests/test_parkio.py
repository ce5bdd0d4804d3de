"""Park.io: its auctions and drop lists parsed from fixtures (tests/fixtures/parkio/README.md), and
whole crawls of the replica's Park.io over real HTTP."""

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.parkio import ParkioApp
from brandcrawl.runs import listings_read
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.parkio import ParkioSpider, parse_close_date
from tests.conftest import WATCH, crawl, crawl_settings, parsed, parsing_spider, rows, stat, through_pipelines

FIXTURES = Path(__file__).parent / "fixtures" / "parkio"
ROOT = "https://park.io"
NOW = datetime(2026, 10, 1, 8, 0, tzinfo=UTC)
# Five TLDs, so that a crawl stays short.
WATCH_PARKIO = WATCH.replace(
    "[[brands]]", '[marketplaces.parkio]\ncategories = ["io", "me", "sh", "ly", "co"]\n\n[[brands]]', 1
)


@pytest.fixture
def watch_parkio(tmp_path: Path) -> Path:
    path = tmp_path / "watch_parkio.toml"
    path.write_text(WATCH_PARKIO, encoding="utf-8")
    return path


@pytest.fixture
def spider(watch_parkio: Path) -> ParkioSpider:
    return parsing_spider(ParkioSpider, watch_parkio)


def page(
    body: bytes, feed: str = "auctions", path: str = "/auctions.json", status: int = 200, **headers: str
) -> TextResponse:
    request = Request(f"{ROOT}{path}?limit=10000", meta={"site": "park.io", "feed": feed})
    kind = HtmlResponse if body.lstrip().startswith(b"<") else TextResponse
    content_type = "text/html" if kind is HtmlResponse else "application/json"
    return kind(
        url=request.url,
        body=body,
        status=status,
        encoding="utf-8",
        headers={"Content-Type": content_type, **headers},
        request=request,
    )


def fixture(name: str, **kwargs: str) -> TextResponse:
    return page((FIXTURES / name).read_bytes(), **kwargs)


def drops(name: str, tld: str = "co") -> TextResponse:
    return fixture(name, feed=f"drops_{tld}", path=f"/domains/index/{tld}.json")


# -- parsing -------------------------------------------------------------------------------------


def test_the_auctions_that_carry_a_brand_and_nothing_else(spider: ParkioSpider) -> None:
    listings, requests = parsed(spider, fixture("auctions.json"))
    assert [listing.listing_id for listing in listings] == [
        "gallimard-shop.io", "xn--gllimard-16g.io", "folio-officiel.ly", "gallimard.me",
    ]  # fmt: skip
    assert requests == [], "one page: nextPage is false"
    assert (stat(spider, "brandcrawl/feed/rows"), stat(spider, "brandcrawl/feed/matched")) == (6, 4)
    assert stat(spider, "brandcrawl/feed/malformed") == 0
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_an_auction_hit_carries_every_field(spider: ParkioSpider) -> None:
    listings, _ = parsed(spider, fixture("auctions.json"))
    shop = through_pipelines(spider, listings[0], NOW)
    assert (shop.marketplace, shop.site, shop.asset_kind, shop.asset, shop.title) == (
        "parkio", "park.io", "domain", "gallimard-shop.io", "gallimard-shop.io",
    )  # fmt: skip
    assert (shop.sale_method, shop.price, shop.currency, shop.bid_count) == (
        "auction", Decimal("1250"), "USD", 7,
    )  # fmt: skip
    assert shop.end_time == datetime(2026, 10, 7, 16, 41, 1, tzinfo=UTC)
    assert shop.url == f"{ROOT}/auctions/view/gallimard-shop.io"
    assert shop.details["auction_id"] == "41907"
    assert shop.details["suffix"] == "io"
    assert [match["brand"] for match in shop.matches] == ["Gallimard"]


def test_a_look_alike_auction_is_reported_in_unicode_too(spider: ParkioSpider) -> None:
    listings, _ = parsed(spider, fixture("auctions.json"))
    look_alike = through_pipelines(spider, listings[1], NOW)
    assert look_alike.asset == "xn--gllimard-16g.io"
    assert look_alike.details["domain_unicode"] == "gаllimard.io"
    assert look_alike.bid_count is None, "no num_bids in the row"
    assert look_alike.details["auction_id"] == "41911"
    assert look_alike.matches[0]["rule"] == "idn"


def test_an_unreadable_close_date_keeps_the_hit(
    spider: ParkioSpider, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        listings, _ = parsed(spider, fixture("auctions.json"))
    odd = next(listing for listing in listings if listing.listing_id == "gallimard.me")
    assert (odd.end_time, odd.price) == (None, Decimal("240"))
    assert "unreadable Park.io close_date '2026-08-10XYZ13:05:00000'" in caplog.text


@pytest.mark.parametrize(
    ("stamp", "expected"),
    [
        ("2026-07-10EDT12:41:01000", datetime(2026, 10, 7, 16, 41, 1, tzinfo=UTC)),  # the sample's
        ("2026-07-10EDT11:00:00000", datetime(2026, 10, 7, 15, 0, tzinfo=UTC)),  # a public client's test
        ("2026-12-12EST09:30:00500", datetime(2026, 12, 12, 14, 30, 0, 500_000, tzinfo=UTC)),
        ("2027-31-01EST23:59:59999", datetime(2027, 2, 1, 4, 59, 59, 999_000, tzinfo=UTC)),
    ],
)
def test_the_close_date_is_year_day_month_in_new_york_time(stamp: str, expected: datetime) -> None:
    assert parse_close_date(stamp) == expected


@pytest.mark.parametrize("stamp", ["2026-07-10XYZ12:41:01000", "2026-13-13EDT12:41:01000", "2026-07-10"])
def test_an_odd_close_date_is_refused(stamp: str) -> None:
    with pytest.raises((ValueError, KeyError)):
        parse_close_date(stamp)


def test_a_drop_list_gives_pending_deletes(spider: ParkioSpider, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        listings, _ = parsed(spider, drops("domains_co.json"))
    assert [listing.listing_id for listing in listings] == [
        "gallimard-livres.co", "xn--gllimard-16g.co", "folio-officiel.co", "galimard.co",
    ]  # fmt: skip
    livres = through_pipelines(spider, listings[0], NOW)
    assert (livres.sale_method, livres.price, livres.bid_count) == ("pending_delete", None, None)
    assert livres.end_time == datetime(2026, 10, 9, tzinfo=UTC), "the end of the drop day"
    assert livres.url == f"{ROOT}/domains/view/gallimard-livres.co"
    assert (livres.details["date_available"], livres.details["tld"]) == ("2026-10-08", "co")
    typo = listings[3]
    assert typo.end_time is None, "a US-style date is not Park.io's: logged, the hit kept"
    assert "unreadable Park.io date_available '10/11/2026'" in caplog.text


def test_a_list_with_nothing_today_is_read_not_broken(spider: ParkioSpider) -> None:
    listings, requests = parsed(spider, drops("domains_empty.json", "sh"))
    assert (listings, requests) == ([], [])
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_the_next_page_is_followed_wherever_its_keys_are(spider: ParkioSpider) -> None:
    listings, [next_page] = parsed(spider, fixture("auctions_next_page.json"))
    assert [listing.listing_id for listing in listings] == ["gallimard-shop.io"]
    assert next_page.url == f"{ROOT}/auctions/index/page:2.json?limit=10000"
    assert (next_page.meta["page"], next_page.meta["feed"], next_page.callback) == (2, "auctions", None)

    drop_page = drops("domains_co.json", "io")
    drop_page.meta["page"] = 2
    body = (FIXTURES / "auctions_next_page.json").read_bytes().replace(b'"auctions"', b'"domains"')
    request = Request(f"{ROOT}/domains/index/io/page:2.json?limit=10000", meta={**drop_page.meta})
    response = TextResponse(request.url, body=body, encoding="utf-8", request=request)
    _, [third] = parsed(spider, response)
    assert third.url == f"{ROOT}/domains/index/io/page:3.json?limit=10000"


def test_paging_stops_at_max_pages(watch_parkio: Path, caplog: pytest.LogCaptureFixture) -> None:
    spider = parsing_spider(ParkioSpider, watch_parkio, max_pages="1")
    with caplog.at_level(logging.WARNING):
        _, requests = parsed(spider, fixture("auctions_next_page.json"))
    assert requests == []
    assert "auctions: stopped at page 1 of 3 (max_pages)" in caplog.text


def test_a_utf8_bom_is_read(spider: ParkioSpider) -> None:
    listings, _ = parsed(spider, fixture("auctions_bom.json"))
    assert [listing.listing_id for listing in listings] == ["xn--gllimard-16g.io"]
    assert stat(spider, "brandcrawl/feed/rows") == 2


def test_a_malformed_row_is_counted_and_skipped(spider: ParkioSpider) -> None:
    listings, _ = parsed(spider, fixture("auctions_malformed.json"))
    assert [listing.listing_id for listing in listings] == ["gallimard-shop.io"]
    assert (stat(spider, "brandcrawl/feed/rows"), stat(spider, "brandcrawl/feed/malformed")) == (4, 1)
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_an_html_error_page_is_a_parse_error(spider: ParkioSpider) -> None:
    assert parsed(spider, fixture("error_page.html")) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/pages/blocked") is None


def test_a_challenge_is_blocked(spider: ParkioSpider) -> None:
    response = fixture("challenge.html", status=403)
    response.headers["cf-mitigated"] = "challenge"
    assert parsed(spider, response) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_a_truncated_page_is_a_parse_error(spider: ParkioSpider) -> None:
    body = (FIXTURES / "auctions.json").read_bytes()
    listings, requests = parsed(spider, page(body[: len(body) // 2]))
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert requests == []
    assert len(listings) <= 2, "the hits before the cut"


def test_a_renamed_list_is_a_changed_format(spider: ParkioSpider) -> None:
    assert parsed(spider, fixture("auctions_layout_changed.json")) == ([], [])
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1


def test_the_watch_files_categories_choose_the_drop_lists(watch_parkio: Path, watch_path: Path) -> None:
    chosen = parsing_spider(ParkioSpider, watch_parkio)
    names = [feed.name for feed in chosen.feeds]
    assert names == ["auctions", *(f"drops_{tld}" for tld in ("io", "me", "sh", "ly", "co"))]
    assert chosen.feed_url(chosen.sites[0], chosen.feeds[1]) == f"{ROOT}/domains/index/io.json?limit=10000"
    default = parsing_spider(ParkioSpider, watch_path)
    assert len(default.feeds) == 1 + 23


# -- crawls of the replica -------------------------------------------------------------------------


@pytest.fixture
def replica() -> Iterator[ReplicaMarketplace]:
    with ReplicaMarketplace(apps=[ParkioApp]) as server:
        yield server


def parkio_app(replica: ReplicaMarketplace) -> ParkioApp:
    app = replica.apps["parkio"]
    assert isinstance(app, ParkioApp)
    return app


@deferred_f_from_coro_f
async def test_a_crawl_reads_every_page_of_every_list(
    replica: ReplicaMarketplace, watch_parkio: Path, db_url: str
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    result = await crawl(ParkioSpider, crawl_settings(watch_parkio, db_url), base_url=base_url)

    by_name = {item.listing_id: item for item in result.items}
    assert set(by_name) == {
        "gallimard-shop.io", "xn--gllimard-16g.io", "folio-officiel.ly",  # auctions
        "gallimard-livres.me", "editionsgallimard.io", "galimard.io", "folioshop.sh", "gallimard.io",
    }  # fmt: skip
    shop = by_name["gallimard-shop.io"]
    assert (shop.sale_method, shop.price, shop.currency, shop.bid_count) == (
        "auction", Decimal("1250"), "USD", 7,
    )  # fmt: skip
    assert shop.url == f"{replica.site_url('park.io')}/auctions/view/gallimard-shop.io"
    assert by_name["galimard.io"].sale_method == "pending_delete"

    paths = [path.partition("?")[0] for path in replica.requests]
    assert "/park.io/auctions/index/page:3.json" in paths, "6 auctions + 6 filler, 5 a page"
    assert "/park.io/domains/index/io/page:2.json" in paths
    assert "/park.io/domains/index/red.json" not in paths, "only the TLDs the watch file names"

    app = parkio_app(replica)
    read = len(app.rows(None)) + sum(len(app.rows(tld)) for tld in ("io", "me", "sh", "ly", "co"))
    stats = result.stats
    assert (stats["brandcrawl/feed/rows"], stats["brandcrawl/feed/matched"]) == (read, len(result.items))
    assert stats["brandcrawl/feed/malformed"] == 0
    assert stats["brandcrawl/run/status"] == "ok"
    assert len(rows(db_url, ListingRow)) == len(result.items)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.listings_seen) == ("parkio", "ok", read)
    assert listings_read(stats) == read


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl(
    replica: ReplicaMarketplace, watch_parkio: Path, db_url: str
) -> None:
    replica.blocked = True
    result = await crawl(
        ParkioSpider, crawl_settings(watch_parkio, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 6
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_a_changed_site_is_a_broken_crawl_and_keeps_what_is_stored(
    replica: ReplicaMarketplace, watch_parkio: Path, db_url: str
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    first = await crawl(ParkioSpider, crawl_settings(watch_parkio, db_url), base_url=base_url)
    replica.layout_changed = True
    second = await crawl(ParkioSpider, crawl_settings(watch_parkio, db_url), base_url=base_url)
    assert second.items == []
    assert second.stats["brandcrawl/run/status"] == "broken"
    assert len(rows(db_url, ListingRow)) == len(first.items), "nothing stored is lost"
    assert [run.status for run in rows(db_url, CrawlRun)] == ["ok", "broken"]


@deferred_f_from_coro_f
async def test_truncated_files_are_a_broken_crawl(
    replica: ReplicaMarketplace, watch_parkio: Path, db_url: str
) -> None:
    parkio_app(replica).truncated = True
    result = await crawl(
        ParkioSpider, crawl_settings(watch_parkio, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.stats["brandcrawl/parse_errors"] >= 6
    assert result.stats["brandcrawl/run/status"] == "broken"


@deferred_f_from_coro_f
async def test_the_replica_pages_as_park_io_does(
    replica: ReplicaMarketplace, watch_parkio: Path, db_url: str
) -> None:
    app = parkio_app(replica)
    app.filler, app.max_limit = 0, 100
    result = await crawl(
        ParkioSpider, crawl_settings(watch_parkio, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert not any("page:" in path for path in replica.requests), "one page holds a whole list"
    assert len(result.items) == 8
