"""The GoDaddy Auctions inventory spider: its three daily files (fixtures: tests/fixtures/godaddy/README.md),
what goes wrong with a download, and whole crawls of the replica's inventory host."""

import codecs
import io
import json
import logging
import urllib.request
import zipfile
from datetime import UTC, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.config import parse_watch
from brandcrawl.items import Listing
from brandcrawl.matching import BrandMatcher
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.feeds import zipped
from brandcrawl.replica.godaddy import FILES, GoDaddyApp, load_godaddy_seed
from brandcrawl.replica.templates import render, template
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.godaddy import GoDaddySpider
from tests.conftest import (
    WATCH,
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

FIXTURES = Path(__file__).parent / "fixtures" / "godaddy"
SITE = "auctions.godaddy.com"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
BIDDABLE, EXPIRING, CLOSEOUT = "all_biddable_auctions", "all_expiring_auctions", "closeout_listings"
# The replica's hits, each from the first file (expiring, biddable, closeout) that lists it.
HITS = {
    "gallimard-shop.com": ("auction", EXPIRING),
    "editions-gallimard.net": ("auction", EXPIRING),
    "folioshop.com": ("auction", EXPIRING),
    "xn--gllimard-16g.fr": ("auction", BIDDABLE),
    "folio-officiel.com": ("auction", BIDDABLE),
    "librairie-gallimard.store": ("fixed", BIDDABLE),
    "gallimard-livres.fr": ("closeout", CLOSEOUT),
    "galimard.com": ("closeout", CLOSEOUT),
}
OFFICIAL = "gallimard.fr"


@pytest.fixture
def spider(watch_path: Path) -> GoDaddySpider:
    return parsing_spider(GoDaddySpider, watch_path)


def fixture_json(name: str) -> bytes:
    return (FIXTURES / f"{name}.json").read_bytes()


def feed_response(name: str, body: bytes | None = None, **meta: Any) -> Response:
    """The file ``name`` as downloaded: the fixture zipped as GoDaddy zips it, unless ``body`` is given."""
    url = f"https://inventory.{SITE}/{name}.json.zip"
    data = zipped(f"{name}.json", fixture_json(name)) if body is None else body
    request = Request(url, meta={"site": SITE, "feed": name, "read_next": True, **meta})
    return Response(url, body=data, headers={"Content-Type": "application/zip"}, request=request)


def html_response(name: str, body: str, status: int = 200, **headers: str) -> HtmlResponse:
    url = f"https://inventory.{SITE}/{name}.json.zip"
    request = Request(url, meta={"site": SITE, "feed": name, "read_next": True})
    return HtmlResponse(url, status=status, body=body, encoding="utf-8", headers=headers, request=request)


def by_id(listings: list[Listing]) -> dict[str, Listing]:
    return {listing.listing_id: listing for listing in listings}


def with_items(name: str, *items: dict[str, Any]) -> bytes:
    """The fixture's document with its items replaced."""
    document = json.loads(fixture_json(name))
    return json.dumps({**document, "data": list(items)}, ensure_ascii=False).encode("utf-8")


def item(**changes: Any) -> dict[str, Any]:
    """A biddable item like the fixture's, with ``changes``."""
    return {
        "domainName": "GALLIMARD-BOOKS.COM",
        "link": "https://www.godaddy.com/domain-auctions/gallimard-books-com-611830030?isc=json_biddable",
        "auctionType": "Bid",
        "auctionEndTime": "2026-11-28T16:00:00Z",
        "price": "$75",
        "numberOfBids": 2,
        "domainAge": 3,
        "pageviews": 14,
        "valuation": "$500",
        "monthlyParkingRevenue": "$0",
        "isAdult": False,
        **changes,
    }


# -- the files, parsed ------------------------------------------------------------------------------


def test_every_hit_of_the_biddable_file_and_nothing_else(spider: GoDaddySpider) -> None:
    listings, requests = parsed(spider, feed_response(BIDDABLE))
    assert set(by_id(listings)) == {
        "gallimard-shop.com",
        "xn--gllimard-16g.fr",
        "folio-officiel.com",
        "librairie-gallimard.store",
    }
    assert OFFICIAL not in by_id(listings), "the brand's own domain is never a hit"
    assert (stat(spider, "brandcrawl/feed/rows"), stat(spider, "brandcrawl/feed/matched")) == (9, 4)
    assert stat(spider, "brandcrawl/feed/malformed") == 1  # the item with an empty domainName
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None
    [closeouts] = requests
    assert closeouts.url == f"https://inventory.{SITE}/{CLOSEOUT}.json.zip", "then the next file"
    assert closeouts.meta["feed"] == CLOSEOUT


def test_a_domain_hit_carries_every_field(spider: GoDaddySpider) -> None:
    listings, _ = parsed(spider, feed_response(BIDDABLE))
    listing = by_id(listings)["gallimard-shop.com"]
    assert (listing.marketplace, listing.site, listing.title) == ("godaddy", SITE, "gallimard-shop.com")
    assert (listing.asset_kind, listing.asset, listing.asset_text) == (
        "domain",
        "gallimard-shop.com",
        "gallimard-shop.com",
    )
    # The link without its "?isc=json_biddable": one address whichever file listed the domain.
    assert listing.url == "https://www.godaddy.com/domain-auctions/gallimard-shop-com-611830001"
    assert (listing.sale_method, listing.price_text, listing.bid_count) == ("auction", "$1,324", 7)
    assert listing.end_time == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert listing.status == "active"

    through_pipelines(spider, listing, NOW)
    assert (listing.price, listing.currency) == (Decimal("1324"), "USD")
    assert listing.details == {
        "auction_type": "Bid",
        "domain_age": 12,
        "pageviews": 840,
        "valuation_usd": 2950,
        "domain_unicode": "gallimard-shop.com",
        "registrable": "gallimard-shop.com",
        "suffix": "com",
    }
    [match] = listing.matches
    assert (match["brand"], match["rule"], match["kind"]) == ("Gallimard", "exact+affix", "domain")


def test_a_punycode_look_alike_is_kept_in_punycode_and_shown_in_unicode(spider: GoDaddySpider) -> None:
    listing = by_id(parsed(spider, feed_response(BIDDABLE))[0])["xn--gllimard-16g.fr"]
    assert listing.asset == "xn--gllimard-16g.fr"
    through_pipelines(spider, listing, NOW)
    assert listing.details["domain_unicode"] == "g\u0430llimard.fr"  # a Cyrillic "а"
    assert [(m["brand"], m["rule"]) for m in listing.matches] == [("Gallimard", "idn")]
    assert (listing.price, listing.bid_count) == (Decimal("45"), 2)


def test_a_buy_now_item_among_the_auctions_is_a_fixed_price_sale(spider: GoDaddySpider) -> None:
    listing = by_id(parsed(spider, feed_response(BIDDABLE))[0])["librairie-gallimard.store"]
    assert (listing.sale_method, listing.details["auction_type"]) == ("fixed", "BuyNow")
    through_pipelines(spider, listing, NOW)
    assert (listing.price, listing.currency, listing.bid_count) == (Decimal("2500"), "USD", 0)


def test_the_expiring_file_marks_its_auctions(spider: GoDaddySpider) -> None:
    listings, [biddable] = parsed(spider, feed_response(EXPIRING))
    assert set(by_id(listings)) == {"editions-gallimard.net", "gallimard-shop.com", "folioshop.com"}
    listing = by_id(listings)["editions-gallimard.net"]
    assert (listing.sale_method, listing.price_text, listing.bid_count) == ("auction", "$12", 1)
    assert listing.end_time == datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    assert listing.details["expiring"] is True
    assert listing.url == "https://www.godaddy.com/domain-auctions/editions-gallimard-net-611830005"
    assert biddable.meta["feed"] == BIDDABLE, "the expiring auctions come first, then the biddable"


def test_closeouts(spider: GoDaddySpider) -> None:
    listings, requests = parsed(spider, feed_response(CLOSEOUT))
    assert set(by_id(listings)) == {"gallimard-livres.fr", "galimard.com"}
    listing = by_id(listings)["galimard.com"]
    assert (listing.sale_method, listing.price_text, listing.bid_count) == ("closeout", "$9", 0)
    assert "expiring" not in listing.details
    through_pipelines(spider, listing, NOW)
    assert (listing.price, listing.currency) == (Decimal("9"), "USD")
    assert [(m["brand"], m["rule"]) for m in listing.matches] == [("Gallimard", "typo")]
    assert requests == [], "the closeouts are the last file"


def test_a_domain_in_two_files_is_reported_once_from_the_first(spider: GoDaddySpider) -> None:
    expiring, _ = parsed(spider, feed_response(EXPIRING))
    biddable, _ = parsed(spider, feed_response(BIDDABLE))
    assert "gallimard-shop.com" in by_id(expiring)
    assert "gallimard-shop.com" not in by_id(biddable)
    assert by_id(expiring)["gallimard-shop.com"].details["expiring"] is True
    assert stat(spider, "brandcrawl/feed/matched") == 3 + 3


def test_a_file_with_a_byte_order_mark_reads_the_same(spider: GoDaddySpider) -> None:
    body = zipped(f"{BIDDABLE}.json", codecs.BOM_UTF8 + fixture_json(BIDDABLE))
    listings, _ = parsed(spider, feed_response(BIDDABLE, body))
    assert len(listings) == 4
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_a_unicode_domain_name_is_read_as_punycode(spider: GoDaddySpider) -> None:
    body = zipped(f"{BIDDABLE}.json", with_items(BIDDABLE, item(domainName="G\u0410LLIMARD.FR")))
    [listing] = parsed(spider, feed_response(BIDDABLE, body))[0]
    assert listing.asset == listing.listing_id == "xn--gllimard-16g.fr"


def test_a_file_not_in_utf_8_is_a_parse_error(spider: GoDaddySpider) -> None:
    """JSON is UTF-8: an ISO-8859-1 byte means the file is not what GoDaddy publishes."""
    text = with_items(BIDDABLE, item(), item(domainName="CAF\u00c9-GALLIMARD.FR")).decode("utf-8")
    body = zipped(f"{BIDDABLE}.json", text.encode("iso-8859-1"))
    listings, requests = parsed(spider, feed_response(BIDDABLE, body))
    assert listings == []
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None
    assert [request.meta["feed"] for request in requests] == [CLOSEOUT], "the next file is still read"


def test_item_values_in_other_forms(spider: GoDaddySpider) -> None:
    body = zipped(
        f"{BIDDABLE}.json",
        with_items(
            BIDDABLE,
            # a typed price, an end time without its "Z", no link, no optional field
            item(domainName="GALLIMARD-BOOKS.COM", price=75, auctionEndTime="2026-11-28T16:00:00", link=None),
            {"domainName": "GALLIMARD-BD.COM", "auctionType": "Bid", "price": "$5"},
        ),
    )
    listings = by_id(parsed(spider, feed_response(BIDDABLE, body))[0])
    books, bd = listings["gallimard-books.com"], listings["gallimard-bd.com"]
    assert (books.price, books.currency, books.price_text) == (Decimal("75"), "USD", None)
    assert books.end_time == datetime(2026, 11, 28, 16, 0, tzinfo=UTC)
    assert books.url == "https://auctions.godaddy.com/trpItemListing.aspx?domain=gallimard-books.com"
    assert (bd.price_text, bd.bid_count, bd.end_time) == ("$5", None, None)
    assert bd.details == {"auction_type": "Bid"}


def test_a_malformed_item_is_counted_and_skipped(
    spider: GoDaddySpider, caplog: pytest.LogCaptureFixture
) -> None:
    real = json.loads(fixture_json(BIDDABLE))["data"]  # one of them malformed already
    body = zipped(
        f"{BIDDABLE}.json",
        with_items(
            BIDDABLE,
            *real,
            item(domainName="GALLIMARD-PARIS.COM", auctionEndTime="28/11/2026 16:00"),
            {"link": "https://www.godaddy.com/domain-auctions/x-1"},
            item(domainName=None),
            "GALLIMARD-ROMANS.COM",
        ),
    )
    with caplog.at_level(logging.WARNING):
        listings, _ = parsed(spider, feed_response(BIDDABLE, body))
    assert len(listings) == 4
    assert "gallimard-paris.com" not in by_id(listings)
    assert (stat(spider, "brandcrawl/feed/rows"), stat(spider, "brandcrawl/feed/malformed")) == (13, 5)
    assert "malformed row skipped (ValueError: Invalid isoformat string" in caplog.text  # the end time
    assert "malformed row skipped (PageFormatError: not a domain name: None)" in caplog.text  # none, null
    assert "malformed row skipped (AttributeError" in caplog.text  # a bare string
    assert stat(spider, "brandcrawl/parse_errors") is None, "a few bad items do not spoil the file"


def test_a_file_of_malformed_items_is_a_parse_error(spider: GoDaddySpider) -> None:
    renamed = [{"domain": f"NAME{number}.COM"} for number in range(5)]
    body = zipped(f"{BIDDABLE}.json", with_items(BIDDABLE, item(), *renamed))
    parsed(spider, feed_response(BIDDABLE, body))
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None


def test_a_file_no_longer_under_data_is_unexpectedly_empty(spider: GoDaddySpider) -> None:
    body = zipped(f"{BIDDABLE}.json", json.dumps([item()]).encode("utf-8"))
    assert parsed(spider, feed_response(BIDDABLE, body))[0] == []
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1


def test_a_truncated_zip_is_a_parse_error(spider: GoDaddySpider) -> None:
    whole = zipped(f"{BIDDABLE}.json", fixture_json(BIDDABLE))
    assert parsed(spider, feed_response(BIDDABLE, whole[: len(whole) // 2]))[0] == []
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_an_error_page_instead_of_the_file_is_a_parse_error(spider: GoDaddySpider) -> None:
    listings, requests = parsed(spider, html_response(BIDDABLE, template("feeds/error_page.html")))
    assert listings == []
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/auctions.godaddy.com/failed") == 1
    assert [request.meta["feed"] for request in requests] == [CLOSEOUT]


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (render("feeds/challenge.html", domain=SITE, path="/"), {"cf-mitigated": "challenge"}),
        ("<html><head><title>Access Denied</title></head><body>Reference #18.5f</body></html>", {}),
    ],
    ids=["cloudflare", "access-denied"],
)
def test_a_challenge_or_a_refusal_is_blocked(
    spider: GoDaddySpider, body: str, headers: dict[str, str]
) -> None:
    listings, _ = parsed(spider, html_response(BIDDABLE, body, 403, **headers))
    assert listings == []
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_scrapy_parse_of_one_file_asks_for_no_other(spider: GoDaddySpider) -> None:
    url = f"https://inventory.{SITE}/{BIDDABLE}.json.zip"
    body = zipped(f"{BIDDABLE}.json", fixture_json(BIDDABLE))
    response = Response(url, body=body, request=Request(url))
    listings, requests = parsed(spider, response)
    assert (len(listings), requests) == (4, [])


def test_urls(spider: GoDaddySpider) -> None:
    [request] = list(spider.feed_requests())
    assert request.url == f"https://inventory.{SITE}/{EXPIRING}.json.zip"
    assert spider.listing_url(spider.sites[0], "gallimard-shop.com") == (
        "https://auctions.godaddy.com/trpItemListing.aspx?domain=gallimard-shop.com"
    )
    assert spider.settings.getint("DOWNLOAD_MAXSIZE") == 100 * 1024 * 1024


# -- the replica -------------------------------------------------------------------------------------


def test_filler_names_are_distinct_ordinary_upper_case_and_carry_no_brand() -> None:
    app: GoDaddyApp = ReplicaMarketplace(apps=[GoDaddyApp]).apps["godaddy"]  # type: ignore[assignment]
    app.filler = 10_000
    seeded = {seed.domain for seed in load_godaddy_seed()}
    names: list[str] = []
    for feed, file in FILES.items():
        with zipfile.ZipFile(io.BytesIO(app.build(feed))) as archive:
            data = json.loads(archive.read(f"{file}.json"))["data"]
        seeds_in_file = sum(feed in seed.feeds for seed in app.items)
        assert len(data) == seeds_in_file + 10_000, "the seed's items, then the filler"
        names += [entry["domainName"] for entry in data[seeds_in_file:]]
    assert len(set(names)) == len(names), "no name twice, in a file or across the three"
    assert all(name.isascii() and name.isupper() and name.count(".") == 1 for name in names)
    matcher = BrandMatcher.from_watch(parse_watch(WATCH))
    assert list(matcher.match_many(names, "domain")) == []
    assert not seeded & set(names)
    assert app.build("biddable") is app.build("biddable"), "a file is built once"


def test_the_replica_serves_the_index_and_the_files(tmp_path: Path) -> None:
    with ReplicaMarketplace(apps=[GoDaddyApp]) as replica:
        with urllib.request.urlopen(f"{replica.site_url(SITE)}/metadata.json") as answer:
            index = json.loads(answer.read())
        with urllib.request.urlopen(f"{replica.site_url(SITE)}/{CLOSEOUT}.json.zip") as answer:
            zip_path = tmp_path / "closeouts.zip"
            zip_path.write_bytes(answer.read())
    assert [entry["fileName"] for entry in index["files"]] == [
        f"{BIDDABLE}.json.zip",
        f"{EXPIRING}.json.zip",
        f"{CLOSEOUT}.json.zip",
    ]
    with zipfile.ZipFile(zip_path) as archive:
        [member] = archive.namelist()
        document = json.loads(archive.read(member))
    assert member == f"{CLOSEOUT}.json"
    assert set(document) == {"meta", "data"}
    seeded = [seed for seed in load_godaddy_seed() if "closeout" in seed.feeds]
    assert len(document["data"]) == len(seeded) + 50
    first = document["data"][0]
    assert list(first) == list(item())  # the keys of the fixtures' items, in their order
    built = datetime.combine(datetime.now(UTC).date(), time(), UTC)
    assert first["auctionEndTime"] == (built + timedelta(hours=seeded[0].ends_in_hours)).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


# -- whole crawls --------------------------------------------------------------------------------------


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> CrawlResult:
    return await crawl(
        GoDaddySpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


def files_requested(replica: ReplicaMarketplace) -> list[str]:
    return [urlsplit(raw).path.rsplit("/", 1)[1] for raw in replica.requests if "robots" not in raw]


def seeded_rows(filler: int) -> int:
    """The items of the three files: the seed's, in each file listing them, and the filler."""
    return sum(len(seed.feeds) for seed in load_godaddy_seed()) + 3 * filler


@deferred_f_from_coro_f
async def test_a_crawl_reads_the_three_files_in_turn_and_stores_the_hits(
    watch_path: Path, db_url: str
) -> None:
    with ReplicaMarketplace(apps=[GoDaddyApp]) as replica:
        app: GoDaddyApp = replica.apps["godaddy"]  # type: ignore[assignment]
        app.filler = 2_000
        result = await crawl_replica(replica, watch_path, db_url)
        requested = files_requested(replica)

    assert requested == [f"{EXPIRING}.json.zip", f"{BIDDABLE}.json.zip", f"{CLOSEOUT}.json.zip"]
    found = {item.listing_id: (item.sale_method, item.details.get("expiring")) for item in result.items}
    assert found == {
        domain: (method, True if feed == EXPIRING else None) for domain, (method, feed) in HITS.items()
    }
    assert OFFICIAL not in found
    shop = next(item for item in result.items if item.listing_id == "gallimard-shop.com")
    assert (shop.price, shop.currency, shop.bid_count) == (Decimal("1324"), "USD", 7)
    assert shop.end_time is not None
    assert shop.end_time > datetime.now(UTC) - timedelta(days=1)
    assert shop.url == "https://www.godaddy.com/domain-auctions/gallimard-shop-com-611830001"

    stats = result.stats
    assert stats["brandcrawl/feed/rows"] == seeded_rows(2_000)
    assert stats["brandcrawl/feed/matched"] == len(HITS)
    assert stats["brandcrawl/feed/malformed"] == 1  # the seed's empty domainName
    assert stats["brandcrawl/searches"] == stats["brandcrawl/pages/parsed"] == 3
    assert stats["brandcrawl/run/status"] == "ok"
    assert {row.listing_id for row in rows(db_url, ListingRow)} == set(HITS)
    [run] = rows(db_url, CrawlRun)
    assert (run.status, run.listings_seen, run.hits) == ("ok", seeded_rows(2_000), len(HITS))


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl_not_zero_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[GoDaddyApp]) as replica:
        replica.blocked = True
        result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 3
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@pytest.mark.parametrize("failure", ["layout_changed", "truncated"])
@deferred_f_from_coro_f
async def test_an_error_page_or_a_cut_file_is_a_broken_crawl_that_keeps_what_was_stored(
    watch_path: Path, db_url: str, failure: str
) -> None:
    with ReplicaMarketplace(apps=[GoDaddyApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        if failure == "layout_changed":
            replica.layout_changed = True
        else:
            replica.apps["godaddy"].truncated = True  # type: ignore[attr-defined]
        result = await crawl_replica(replica, watch_path, db_url)

    assert result.items == []
    assert result.stats["brandcrawl/parse_errors"] == 3
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == len(HITS)
    assert [run.status for run in sorted(rows(db_url, CrawlRun), key=lambda run: run.id)] == ["ok", "broken"]


@deferred_f_from_coro_f
async def test_a_file_lost_after_retries_breaks_the_run_but_not_the_other_files(
    watch_path: Path, db_url: str
) -> None:
    with ReplicaMarketplace(apps=[GoDaddyApp]) as replica:
        replica.throttle_status, replica.throttle_times = 500, 4  # the expiring file, every retry
        result = await crawl_replica(replica, watch_path, db_url)
        requested = files_requested(replica)

    assert requested == [f"{EXPIRING}.json.zip"] * 4 + [f"{BIDDABLE}.json.zip", f"{CLOSEOUT}.json.zip"]
    only_expiring = {"editions-gallimard.net", "folioshop.com"}
    assert {item.listing_id for item in result.items} == set(HITS) - only_expiring
    assert result.stats["brandcrawl/site/auctions.godaddy.com/failed"] == 1
    assert result.stats["brandcrawl/run/status"] == "broken"
