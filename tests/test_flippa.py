"""The Flippa spider: its API and search-page fixtures (tests/fixtures/flippa/README.md), the fall back
from a withdrawn API to the search page, and whole crawls of the replica."""

import json
import urllib.request
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.items import Listing
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.flippa import FlippaApp
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.flippa import FlippaSpider
from tests.conftest import (
    WATCH,
    CrawlResult,
    count,
    crawl,
    crawl_settings,
    normalised,
    parsed,
    parsing_spider,
    rows,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "flippa"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
API_URL = (
    "https://flippa.com/v3/listings?query%5Bkeyword%5D=gallimard&filter%5Bstatus%5D=open"
    "&sort_alias=most_recent&page%5Bsize%5D=100&page%5Bnumber%5D=1"
)
PAGE_URL = (
    "https://flippa.com/search?query%5Bkeyword%5D=gallimard&filter%5Bstatus%5D=open&sort_alias=most_recent"
)


@pytest.fixture
def spider(watch_path: Path) -> FlippaSpider:
    return parsing_spider(FlippaSpider, watch_path)


def api_response(
    body: bytes | None = None,
    status: int = 200,
    content_type: str = "application/json; charset=utf-8",
    **headers: str,
) -> TextResponse:
    body = (FIXTURES / "api_listings.json").read_bytes() if body is None else body
    request = Request(API_URL, meta={"site": "flippa.com", "page": 1, "query": "gallimard"})
    return TextResponse(
        API_URL,
        status=status,
        body=body,
        headers={"Content-Type": content_type, **headers},
        encoding="utf-8",
        request=request,
    )


def api_payload() -> dict[str, Any]:
    return json.loads((FIXTURES / "api_listings.json").read_text(encoding="utf-8"))


def page_response(name: str, url: str = PAGE_URL) -> HtmlResponse:
    body = (FIXTURES / name).read_bytes()
    return HtmlResponse(url, body=body, encoding="utf-8", request=Request(url, meta={"site": "flippa.com"}))


def by_id(listings: list[Listing]) -> dict[str, Listing]:
    return {listing.listing_id: listing for listing in listings}


def stats(spider: FlippaSpider) -> dict[str, Any]:
    return spider.crawler.stats.get_stats()


# --- the API: {meta, links, data: [...]}


def test_every_api_listing(spider: FlippaSpider) -> None:
    listings, requests = parsed(spider, api_response())
    assert [listing.listing_id for listing in listings] == [
        "12204101", "12204102", "12204103", "12204104", "12204105", "12204106"
    ]  # fmt: skip
    assert {listing.site for listing in listings} == {"flippa.com"}
    assert [request.url for request in requests] == [API_URL.replace("number%5D=1", "number%5D=2")]
    assert requests[0].meta["query"] == "gallimard"
    assert stats(spider)["brandcrawl/pages/parsed"] == 1


def test_the_apis_next_page_is_asked_of_the_mirror(watch_path: Path) -> None:
    mirror = parsing_spider(FlippaSpider, watch_path, base_url="http://127.0.0.1:9/{site}")
    _listings, requests = parsed(mirror, api_response())
    assert [request.url for request in requests] == [
        "http://127.0.0.1:9/flippa.com"
        + API_URL.removeprefix("https://flippa.com").replace("number%5D=1", "number%5D=2")
    ]


def test_an_api_handle_hit_carries_every_field(spider: FlippaSpider) -> None:
    listing = through_pipelines(spider, by_id(parsed(spider, api_response())[0])["12204101"], NOW)
    assert (listing.marketplace, listing.site, listing.url) == (
        "flippa",
        "flippa.com",
        "https://flippa.com/12204101",
    )
    assert listing.title == "Instagram @gallimard_officiel | 12K followers | French literature niche"
    assert (listing.asset_kind, listing.asset, listing.asset_text) == (
        "handle",
        "instagram:gallimard_officiel",
        "@gallimard_officiel",
    )
    assert (listing.followers_text, listing.followers) == ("12K followers", 12000)
    assert (listing.price, listing.currency) == (Decimal("1200"), "USD")
    assert (listing.sale_method, listing.bid_count, listing.status) == ("fixed", 0, "active")
    assert listing.end_time == datetime(2027, 1, 20, 10, 0, tzinfo=UTC)
    assert listing.seller == "918273"
    assert listing.category == "social_media"
    assert listing.details == {"property_type": "social_media", "sale_method": "classified"}
    assert [match["brand"] for match in listing.matches] == ["Gallimard"]


def test_an_api_auction(spider: FlippaSpider) -> None:
    listing = through_pipelines(spider, by_id(parsed(spider, api_response())[0])["12204102"], NOW)
    assert (listing.asset, listing.asset_text) == ("x:gallimard", "x.com/Gallimard")
    assert listing.followers == 1_800_000  # "1,8 M abonnés"
    assert (listing.sale_method, listing.price, listing.bid_count) == ("auction", Decimal("2500"), 7)
    assert listing.end_time == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)  # written +01:00


def test_a_domain_sale_names_its_domain(spider: FlippaSpider) -> None:
    """domain_only? listings: the domain is the API's hostname, not in the title."""
    listing = through_pipelines(spider, by_id(parsed(spider, api_response())[0])["12204103"], NOW)
    assert (listing.asset_kind, listing.asset) == ("domain", "gallimard-editions.com")
    assert listing.title == "Brandable domain for a French publishing house"
    assert listing.details == {
        "property_type": "domain",
        "sale_method": "auction",
        "domain_only?": True,
        # Added by the match pipeline to every domain on sale.
        "domain_unicode": "gallimard-editions.com",
        "registrable": "gallimard-editions.com",
        "suffix": "com",
    }


def test_a_listing_open_to_offers_takes_its_price_from_the_summary(spider: FlippaSpider) -> None:
    listing = through_pipelines(spider, by_id(parsed(spider, api_response())[0])["12204104"], NOW)
    assert listing.sale_method == "offer"
    assert (listing.price, listing.currency) == (Decimal("2500"), "USD")  # "Asking $2.5k"
    assert listing.asset == "tiktok:gallimardjeunesse"


def test_the_brands_own_account_on_sale_is_not_a_hit(spider: FlippaSpider) -> None:
    listing = by_id(parsed(spider, api_response())[0])["12204106"]
    with pytest.raises(DropItem):
        through_pipelines(spider, listing, NOW)
    assert listing.asset == "instagram:gallimard"


def test_api_result_count_and_last_page(spider: FlippaSpider) -> None:
    assert spider.result_count(api_response()) == 105
    payload = api_payload()
    payload["links"]["next"] = None
    assert spider.next_page(api_response(json.dumps(payload).encode())) is None


@pytest.mark.parametrize(
    ("sale_method", "price", "status", "expected"),
    [
        ("auction", 300, "open", ("auction", "active")),
        ("classified", 1200, "open", ("fixed", "active")),
        ("classified", None, "open", ("offer", "active")),
        ("classified", 0, "open", ("offer", "active")),
        ("auction", 300, "won", ("auction", "sold")),
        ("auction", 300, "completed", ("auction", "ended")),
        ("classified", 1200, "expired", ("fixed", "ended")),
    ],
)
def test_sale_method_and_status(
    spider: FlippaSpider, sale_method: str, price: int | None, status: str, expected: tuple[str, str]
) -> None:
    payload = api_payload()
    payload["data"][0].update(sale_method=sale_method, current_price=price, status=status)
    listing = parsed(spider, api_response(json.dumps(payload).encode()))[0][0]
    assert (listing.sale_method, listing.status) == expected


@pytest.mark.parametrize(
    ("title", "summary", "followers", "price"),
    [
        ("Instagram @lectures_du_soir - 12K followers", "", 12_000, None),
        ("Compte Instagram @lectures_du_soir - 1,8 M abonnés", "", 1_800_000, None),
        ("TikTok @lectures_du_soir", "45 200 abonnés, prix : 2 500 €", 45_200, (Decimal("2500"), "EUR")),
        ("X account @lectures_du_soir", "2.5k followers. Asking $2.5k", 2_500, (Decimal("2500"), "USD")),
    ],
)
def test_followers_and_prices_written_in_the_text(
    spider: FlippaSpider, title: str, summary: str, followers: int, price: tuple[Decimal, str] | None
) -> None:
    payload = api_payload()
    payload["data"][0].update(title=title, summary=summary, current_price=None)
    listing = normalised(spider, parsed(spider, api_response(json.dumps(payload).encode()))[0][0], NOW)
    assert listing.followers == followers
    assert (None if listing.price is None else (listing.price, listing.currency)) == price


# --- the search page's `const STATE = {...}`


def test_every_search_page_result_and_nothing_else(spider: FlippaSpider) -> None:
    """The early_access_listings beside the results are Flippa Premium teasers, not results."""
    listings, requests = parsed(spider, page_response("search_page.html"))
    assert [listing.listing_id for listing in listings] == [
        "12203101", "12203102", "12203103", "12203104", "12203105"
    ]  # fmt: skip
    assert [request.url for request in requests] == [f"{PAGE_URL}&page%5Bnumber%5D=2"]


def test_a_search_page_handle_hit_carries_every_field(spider: FlippaSpider) -> None:
    listing = through_pipelines(
        spider, by_id(parsed(spider, page_response("search_page.html"))[0])["12203101"], NOW
    )
    assert listing.url == "https://flippa.com/12203101"
    assert (listing.asset_kind, listing.asset, listing.asset_text) == (
        "handle",
        "instagram:gallimard_officiel",
        "@gallimard_officiel",
    )
    assert listing.followers == 12000
    # Flippa shows the price in US dollars; "EUR €" is the seller's currency, for the financials.
    assert (listing.price, listing.currency) == (Decimal("1200"), "USD")
    assert (listing.sale_method, listing.bid_count) == ("fixed", 0)
    assert listing.end_time == datetime(2027, 1, 20, 10, 0, tzinfo=UTC)
    assert listing.seller is None  # the search page names no seller
    assert listing.category == "Social Media"


def test_search_page_auction_domain_and_offer(spider: FlippaSpider) -> None:
    listings = by_id(parsed(spider, page_response("search_page.html"))[0])
    auction = listings["12203102"]
    assert (auction.sale_method, auction.price, auction.bid_count) == ("auction", Decimal("2500"), 7)
    domain = listings["12203103"]
    assert (domain.asset_kind, domain.asset, domain.details["domain_only?"]) == (
        "domain",
        "gallimard-editions.com",
        True,
    )
    offer = listings["12203104"]
    assert (offer.sale_method, offer.price) == ("offer", None)
    assert listings["12203105"].title == "Portfolio website template business for photographers"


def test_search_page_count_and_paging(spider: FlippaSpider) -> None:
    first = page_response("search_page.html")
    assert spider.result_count(first) == 31
    # 25 a page (DEFAULT_PAGE_SIZE): page 2 of 31 results is the last.
    assert spider.next_page(page_response("search_page.html", f"{PAGE_URL}&page%5Bnumber%5D=2")) is None


def test_a_search_matching_nothing_shows_placements_not_results(spider: FlippaSpider) -> None:
    listings, requests = parsed(spider, page_response("search_page_no_results.html"))
    assert (listings, requests) == ([], [])
    assert "brandcrawl/pages/unexpected_empty" not in stats(spider)
    assert stats(spider)["brandcrawl/pages/parsed"] == 1


# --- blocked, withdrawn, broken


@pytest.mark.parametrize("header", [{"cf-mitigated": "challenge"}, {}], ids=["header", "title"])
def test_a_cloudflare_challenge_is_blocked(spider: FlippaSpider, header: dict[str, str]) -> None:
    body = (FIXTURES / "blocked_cloudflare.html").read_bytes()
    response = api_response(body, status=403, content_type="text/html; charset=UTF-8", **header)
    assert parsed(spider, response) == ([], [])
    assert stats(spider)["brandcrawl/pages/blocked"] == 1
    assert "brandcrawl/flippa/fallback" not in stats(spider)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, b"<html>\n<head><title>404 Not Found</title></head>\n<body></body>\n</html>\n"),
        (403, b"<html>\n<head><title>403 Forbidden</title></head>\n<body></body>\n</html>\n"),
        (200, b"<!DOCTYPE html><html><head><title>Flippa</title></head><body></body></html>"),
    ],
    ids=["gone", "refused-with-a-page", "a-page-instead-of-json"],
)
def test_an_api_answering_no_json_is_read_from_the_search_page(
    spider: FlippaSpider, status: int, body: bytes
) -> None:
    listings, requests = parsed(spider, api_response(body, status=status, content_type="text/html"))
    assert listings == []
    [request] = requests
    assert urlsplit(request.url).path == "/search"
    assert parse_qs(urlsplit(request.url).query) == {
        "query[keyword]": ["gallimard"],
        "filter[status]": ["open"],
        "sort_alias": ["most_recent"],
        "page[number]": ["1"],
    }
    assert (request.meta["query"], request.meta["page"], request.dont_filter) == ("gallimard", 1, True)
    assert "handle_httpstatus_list" not in request.meta, "the search page never falls back again"
    assert stats(spider)["brandcrawl/flippa/fallback"] == 1


def test_the_api_refusing_in_json_is_a_refusal(spider: FlippaSpider) -> None:
    body = b'{"errors":[{"status":"403","title":"Forbidden"}]}'
    assert parsed(spider, api_response(body, status=403)) == ([], [])
    assert stats(spider)["brandcrawl/site/flippa.com/refused"] == 1
    assert "brandcrawl/flippa/fallback" not in stats(spider)


@pytest.mark.parametrize(
    "body",
    [
        b'{"meta": {"page_number": 1, "total_results": 105}, "data": [{"id": "1220',
        json.dumps({"meta": {"total_results": 1}, "listings": api_payload()["data"]}).encode(),
        json.dumps(
            {**api_payload(), "data": [{**api_payload()["data"][0], "current_price": "1,200"}]}
        ).encode(),
    ],
    ids=["truncated", "renamed-key", "price-as-text"],
)
def test_a_changed_api_is_a_parse_error(spider: FlippaSpider, body: bytes) -> None:
    assert parsed(spider, api_response(body)) == ([], [])
    assert stats(spider)["brandcrawl/parse_errors"] == 1
    assert stats(spider)["brandcrawl/site/flippa.com/failed"] == 1
    assert "brandcrawl/flippa/fallback" not in stats(spider)


def test_a_changed_search_page_is_a_parse_error(spider: FlippaSpider) -> None:
    assert parsed(spider, page_response("search_page_layout_changed.html")) == ([], [])
    assert stats(spider)["brandcrawl/parse_errors"] == 1


def test_api_and_category_urls(spider: FlippaSpider) -> None:
    [site] = spider.sites
    assert spider.categories == ["social_media", "youtube", "domain"]
    request = spider.page_request(spider.category_url(site, "social_media"), site, category="social_media")
    assert request.url == (
        "https://flippa.com/v3/listings?filter%5Bproperty_type%5D=social_media&filter%5Bstatus%5D=open"
        "&sort_alias=most_recent&page%5Bsize%5D=100&page%5Bnumber%5D=1"
    )
    assert request.meta["handle_httpstatus_list"] == [403, 404, 410]
    assert request.headers["Accept"] == b"application/json"


# --- whole crawls of the replica


HITS = {
    "12201014": "instagram:gallimard_officiel",
    "12201013": "x:gallimard",
    "12201012": "instagram:gallimard.fr",
    "12201011": "tiktok:gallimardjeunesse",
    "12201010": "gallimard-editions.com",
    "12201009": "youtube:gallimardlivres",
    "12201008": "instagram:folio_officiel",
}
OFFICIAL = "12201007"  # Instagram @gallimard, the brand's own account


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> CrawlResult:
    return await crawl(
        FlippaSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


def searched(replica: ReplicaMarketplace, path: str) -> list[tuple[str, str]]:
    """(what was searched, page) of every request to ``path``, in order."""
    found = []
    for raw in replica.requests:
        url = urlsplit(raw)
        if url.path == f"/flippa.com{path}":
            query = parse_qs(url.query)
            what = (query.get("query[keyword]") or query.get("filter[property_type]") or [""])[0]
            found.append((what, query["page[number]"][0]))
    return found


@deferred_f_from_coro_f
async def test_a_crawl_reads_the_api_and_stores_the_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[FlippaApp]) as replica:
        result = await crawl_replica(replica, watch_path, db_url)
        api, pages = searched(replica, "/v3/listings"), searched(replica, "/search")
        site_url = replica.site_url("flippa.com")

    assert {item.listing_id: item.asset for item in result.items} == HITS
    assert OFFICIAL not in {item.listing_id for item in result.items}
    x = next(item for item in result.items if item.asset == "x:gallimard")
    assert (x.sale_method, x.price, x.currency, x.bid_count, x.seller) == (
        "auction",
        Decimal("2500"),
        "USD",
        7,
        "557120",
    )
    assert x.end_time == datetime(2026, 12, 5, 17, 0, tzinfo=UTC)
    assert x.url == f"{site_url}/12201013"
    # Each brand, then each property type, paged while there is a next link.
    assert sorted(api) == sorted(
        [("Gallimard", "1"), ("Gallimard", "2"), ("Folio", "1"), ("social_media", "1"), ("social_media", "2"),
         ("youtube", "1"), ("domain", "1")]
    )  # fmt: skip
    assert pages == []
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert result.stats["brandcrawl/hits/matched"] == len(HITS)
    assert "brandcrawl/flippa/fallback" not in result.stats
    assert count(db_url, ListingRow) == len(HITS)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits) == ("flippa", "ok", len(HITS))


@pytest.mark.parametrize("status", [404, 403])
@deferred_f_from_coro_f
async def test_a_withdrawn_api_falls_back_to_the_search_page(
    watch_path: Path, db_url: str, status: int
) -> None:
    with ReplicaMarketplace(apps=[FlippaApp]) as replica:
        replica.apps["flippa"].api_withdrawn = status
        result = await crawl_replica(replica, watch_path, db_url)
        api, pages = searched(replica, "/v3/listings"), searched(replica, "/search")

    assert {item.listing_id: item.asset for item in result.items} == HITS
    # The search page repeats the title as the summary: the "Asking $2.5k" of @gallimard.fr is lost.
    assert next(item for item in result.items if item.listing_id == "12201012").price is None
    first_pages = [("Gallimard", "1"), ("Folio", "1"), ("social_media", "1"), ("youtube", "1"),
                   ("domain", "1")]  # fmt: skip
    assert sorted(api) == sorted(first_pages), "each search tries the API once"
    assert sorted(pages) == sorted([*first_pages, ("Gallimard", "2"), ("social_media", "2")])
    assert result.stats["brandcrawl/flippa/fallback"] == len(first_pages)
    assert result.stats["brandcrawl/run/status"] == "ok"


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl_not_zero_hits(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[FlippaApp]) as replica:
        replica.blocked = True
        result = await crawl_replica(replica, watch_path, db_url)
        pages = searched(replica, "/search")
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 5
    assert pages == [], "a challenge is no reason to try the search page"
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@pytest.mark.parametrize("api_withdrawn", [None, 404], ids=["api", "search-page"])
@deferred_f_from_coro_f
async def test_a_changed_layout_is_a_broken_crawl_that_keeps_what_was_stored(
    watch_path: Path, db_url: str, api_withdrawn: int | None
) -> None:
    with ReplicaMarketplace(apps=[FlippaApp]) as replica:
        await crawl_replica(replica, watch_path, db_url)
        replica.layout_changed = True
        replica.apps["flippa"].api_withdrawn = api_withdrawn
        result = await crawl_replica(replica, watch_path, db_url)

    assert result.items == []
    assert result.stats["brandcrawl/parse_errors"] == 5
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == len(HITS)
    assert [run.status for run in sorted(rows(db_url, CrawlRun), key=lambda run: run.id)] == ["ok", "broken"]


@deferred_f_from_coro_f
async def test_a_brand_with_no_listing_is_no_hits_on_either_path(tmp_path: Path, db_url: str) -> None:
    """The search page answers a search matching nothing with promoted listings: not read as results,
    nor as a layout change."""
    watch = tmp_path / "watch.toml"
    watch.write_text(WATCH.split("[[brands]]")[0] + '[[brands]]\nname = "Minuit"\n', encoding="utf-8")
    with ReplicaMarketplace(apps=[FlippaApp]) as replica:
        replica.apps["flippa"].api_withdrawn = 404
        result = await crawl_replica(replica, watch, db_url)
        pages = searched(replica, "/search")
        url = f"{replica.site_url('flippa.com')}/search?query%5Bkeyword%5D=Minuit"
        with urllib.request.urlopen(url) as answer:
            shown = answer.read().decode("utf-8")
    assert ("Minuit", "1") in pages
    state = json.loads(shown.split("const STATE = ", 1)[1].split(";\n", 1)[0])
    assert (state["metadata"]["totalResults"], len(state["results"])) == (0, 5)
    assert result.items == []
    assert "brandcrawl/pages/unexpected_empty" not in result.stats
    assert result.stats["brandcrawl/run/status"] == "ok"
