"""The Mid-Man spider on constructed pages (tests/fixtures/midman/README.md) and whole crawls of the
replica's Mid-Man over HTTP."""

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.midman import MidManApp
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.midman import MidManSpider
from tests.conftest import (
    count,
    crawl,
    crawl_settings,
    parsed,
    parsing_spider,
    rows,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "midman"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SECTION = "https://mid-man.com/instagram/"
SEARCH = "https://mid-man.com/?s=Gallimard&post_type=product"


def page(name: str, url: str = SECTION, status: int = 200, **meta: object) -> HtmlResponse:
    request = Request(url, meta={"site": "mid-man.com", **meta})
    body = (FIXTURES / name).read_bytes()
    return HtmlResponse(url=url, status=status, body=body, encoding="utf-8", request=request)


@pytest.fixture
def spider(watch_path: Path) -> MidManSpider:
    return parsing_spider(MidManSpider, watch_path)


def test_a_section_page_gives_every_card_on_its_platform(spider) -> None:
    listings, requests = parsed(spider, page("section_instagram.html", category="instagram"))
    assert [(item.listing_id, item.asset) for item in listings] == [
        ("gallimard_officiel", "instagram:gallimard_officiel"),
        ("gallimard", "instagram:gallimard"),
        ("gallimard-fr", "instagram:gallimard.fr"),
        ("folio-poche", "instagram:folio.poche"),
    ]
    [next_page] = requests
    assert (next_page.url, next_page.meta["page"], next_page.meta["category"]) == (
        "https://mid-man.com/instagram/page/2/",
        2,
        "instagram",
    )


def test_every_field_of_a_handle_hit(spider) -> None:
    listings, _ = parsed(spider, page("section_instagram.html", category="instagram"))
    hit = through_pipelines(spider, listings[0], NOW)
    assert (hit.marketplace, hit.site) == ("midman", "mid-man.com")
    assert hit.url == "https://mid-man.com/product/gallimard_officiel/"
    assert hit.title == "@gallimard_officiel"
    assert (hit.asset_kind, hit.asset, hit.asset_text) == (
        "handle",
        "instagram:gallimard_officiel",
        "@gallimard_officiel",
    )
    assert (hit.followers, hit.followers_text) == (12_500, "12.5K followers")
    assert (hit.price, hit.currency, hit.price_text) == (Decimal("1200.00"), "USD", "$1,200.00")
    assert (hit.sale_method, hit.end_time, hit.status) == ("fixed", None, None), (
        "a card does not say if it sold"
    )
    assert hit.seller is None, "the card does not name the seller; the listing's page does"
    assert (hit.category, hit.details) == ("Books", {"platform": "instagram"})
    assert [(m["brand"], m["kind"]) for m in hit.matches] == [("Gallimard", "handle")]


def test_a_sale_price_and_an_odd_follower_count(spider) -> None:
    listings, _ = parsed(spider, page("section_instagram.html", category="instagram"))
    by_id = {item.listing_id: item for item in listings}
    folio = through_pipelines(spider, by_id["folio-poche"], NOW)
    assert (folio.price, folio.details["regular_price"]) == (Decimal("900.00"), "$1,100.00")
    assert [m["brand"] for m in folio.matches] == ["Folio"]
    assert through_pipelines(spider, by_id["gallimard-fr"], NOW).followers == 4_200


def test_the_brands_own_instagram_is_not_reported(spider) -> None:
    listings, _ = parsed(spider, page("section_instagram.html", category="instagram"))
    with pytest.raises(DropItem):
        through_pipelines(spider, next(item for item in listings if item.listing_id == "gallimard"), NOW)


def test_search_results_are_read_from_their_own_pages(spider) -> None:
    # A search result shows no section: its platform is on its page.
    listings, requests = parsed(spider, page("search_gallimard.html", SEARCH, query="Gallimard"))
    assert listings == []
    details = [r for r in requests if r.callback == spider.parse_detail]
    assert [r.meta["listing_id"] for r in details] == [
        "gallimard_officiel",
        "gallimard-x",
        "gallimard",
        "gallimardjeunesse",
    ]
    [next_page] = [r for r in requests if r.callback is None]
    assert next_page.url == "https://mid-man.com/page/2/?s=gallimard&post_type=product"


def test_a_card_already_read_from_its_section_is_not_asked_for_again(spider) -> None:
    parsed(spider, page("section_instagram.html", category="instagram"))
    _, requests = parsed(spider, page("search_gallimard.html", SEARCH, query="Gallimard"))
    assert [r.meta["listing_id"] for r in requests if r.callback] == ["gallimard-x", "gallimardjeunesse"]
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") is None


def test_the_listing_page_gives_the_platform_and_the_seller(spider) -> None:
    url = "https://mid-man.com/product/gallimard_officiel/"
    [listing] = spider.parse_detail(page("product_gallimard_officiel.html", url))
    hit = through_pipelines(spider, listing, NOW)
    assert (hit.listing_id, hit.url) == ("gallimard_officiel", url)
    assert (hit.asset, hit.asset_text) == ("instagram:gallimard_officiel", "@gallimard_officiel")
    assert (hit.followers, hit.followers_text) == (12_500, "12.5K Followers")
    assert (hit.price, hit.currency, hit.sale_method) == (Decimal("1200.00"), "USD", "fixed")
    assert hit.seller == "libro_trader"
    assert hit.details == {"platform": "instagram", "seller_url": "https://mid-man.com/store/libro_trader/"}
    assert hit.description == "French literature page, 4% engagement, original email included."
    assert (hit.category, hit.status, hit.end_time) == ("Books", "active", None)


def test_a_search_with_one_result_lands_on_the_listing_page(spider) -> None:
    url = "https://mid-man.com/product/gallimard_officiel/"
    listings, requests = parsed(spider, page("product_gallimard_officiel.html", url, query="Gallimard"))
    assert ([item.asset for item in listings], requests) == (["instagram:gallimard_officiel"], [])


def test_the_last_search_page(spider) -> None:
    _, requests = parsed(spider, page("search_gallimard_page2.html", SEARCH, query="Gallimard", page=2))
    assert all(r.callback == spider.parse_detail for r in requests)
    assert len(requests) == 2


def test_a_cloudflare_challenge_is_counted_as_blocked_not_as_no_results(spider) -> None:
    listings, requests = parsed(spider, page("blocked.html", SEARCH, status=403, query="Gallimard"))
    assert (listings, requests) == ([], [])
    assert spider.crawler.stats.get_value("brandcrawl/pages/blocked") == 1
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") is None


def test_a_layout_change_is_counted_as_unexpectedly_empty(spider) -> None:
    listings, _ = parsed(spider, page("layout_changed.html", category="instagram"))
    assert listings == []
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") == 1


def test_a_real_zero_results_page_is_fine(spider) -> None:
    listings, requests = parsed(spider, page("no_results.html", SEARCH, query="Gallimard zzqx"))
    assert (listings, requests) == ([], [])
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") is None
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") == 1


def test_a_card_without_its_link_is_a_parse_error(spider) -> None:
    body = (FIXTURES / "section_instagram.html").read_text(encoding="utf-8")
    broken = body.replace(
        '<a class="product-title" href="https://mid-man.com/product/gallimard/">', '<a class="product-title">'
    )
    response = HtmlResponse(
        url=SECTION, body=broken, encoding="utf-8", request=Request(SECTION, meta={"category": "instagram"})
    )
    listings, _ = parsed(spider, response)
    assert listings == []
    assert spider.crawler.stats.get_value("brandcrawl/parse_errors") == 1


# --- whole crawls of the replica


@pytest.fixture
def replica() -> Iterator[ReplicaMarketplace]:
    with ReplicaMarketplace(apps=[MidManApp]) as server:
        yield server


HITS = {
    "gallimard_officiel": "instagram:gallimard_officiel",
    "gallimard-x": "x:gallimard",
    "gallimardjeunesse": "tiktok:gallimardjeunesse",
    "gallimard-fr": "instagram:gallimard.fr",
    "folio-poche": "instagram:folio.poche",
}


@deferred_f_from_coro_f
async def test_a_crawl_finds_the_handles_on_sale(replica, watch_path: Path, db_url: str) -> None:
    result = await crawl(
        MidManSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert {item.listing_id: item.asset for item in result.items} == HITS
    ids = {item.listing_id for item in result.items}
    assert not {"gallimard", "editions_gallimard"} & ids, "the brand's own accounts"
    assert {(item.currency, item.sale_method) for item in result.items} == {("USD", "fixed")}
    assert all(item.price is not None and item.followers for item in result.items)

    paths = [urlsplit(path) for path in replica.requests if path.startswith("/mid-man.com/")]
    assert {parse_qs(p.query)["s"][0] for p in paths if "s=" in p.query} == {"Gallimard", "Folio"}
    assert "/mid-man.com/page/2/" in {p.path for p in paths if "s=" in p.query}, "search pages followed"
    sections = {p.path for p in paths if not p.query and "/product/" not in p.path}
    assert {
        f"/mid-man.com/{s}/" for s in ("instagram", "twitter", "tiktok", "youtube", "facebook")
    } <= sections
    assert "/mid-man.com/instagram/page/2/" in sections
    # Every product page asked for is a search result's (its platform) or the single "Folio" result
    # WooCommerce redirected to; sections give the platform themselves.
    products = {p.path.split("/")[-2] for p in paths if "/product/" in p.path}
    assert "folio-poche" in products
    assert products <= {"gallimard_officiel", "gallimard-x", "gallimard", "gallimardjeunesse",
                        "gallimard-fr", "editions_gallimard", "folio-poche"}  # fmt: skip

    assert result.stats["brandcrawl/run/status"] == "ok"
    assert count(db_url, ListingRow) == len(HITS)


@deferred_f_from_coro_f
async def test_a_cloudflare_challenge_is_a_blocked_crawl(replica, watch_path: Path, db_url: str) -> None:
    replica.blocked = True
    result = await crawl(
        MidManSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 7  # 2 searches, 5 sections
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_a_layout_change_is_a_broken_crawl_that_keeps_what_was_stored(
    replica, watch_path: Path, db_url: str
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    first = await crawl(MidManSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    replica.layout_changed = True
    second = await crawl(MidManSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert second.stats["brandcrawl/run/status"] == "broken"
    assert second.stats["brandcrawl/pages/unexpected_empty"] >= 1
    assert count(db_url, ListingRow) == len(first.items) == len(HITS)
    assert [run.status for run in rows(db_url, CrawlRun)] == ["ok", "broken"]
