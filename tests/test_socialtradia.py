"""The Social Tradia spider on constructed pages (tests/fixtures/socialtradia/README.md) and whole
crawls of the replica's Social Tradia over HTTP."""

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
from sqlalchemy import select

from brandcrawl.pipelines import NormalizePipeline
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.socialtradia import SocialTradiaApp
from brandcrawl.storage import Store
from brandcrawl.storage.models import CrawlRun, ListingChange, ListingRow
from spiders.socialtradia import SocialTradiaSpider
from tests.conftest import (
    count,
    crawl,
    crawl_settings,
    parsed,
    parsing_spider,
    rows,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "socialtradia"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SEARCH = "https://socialtradia.com/?s=Gallimard&post_type=product"


def page(name: str, url: str = SEARCH, status: int = 200, **meta: object) -> HtmlResponse:
    request = Request(url, meta={"site": "socialtradia.com", **meta})
    body = (FIXTURES / name).read_bytes()
    return HtmlResponse(url=url, status=status, body=body, encoding="utf-8", request=request)


@pytest.fixture
def spider(watch_path: Path) -> SocialTradiaSpider:
    return parsing_spider(SocialTradiaSpider, watch_path)


def test_a_search_page_yields_titled_handles_and_asks_for_the_other_pages(spider) -> None:
    listings, requests = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    assert [listing.listing_id for listing in listings] == ["4827", "4826"]
    # Titles naming only the niche: the account's address is on the product's page.
    details = [r for r in requests if r.callback == spider.parse_detail]
    assert [(r.url, r.meta["listing_id"]) for r in details] == [
        ("https://socialtradia.com/product/books-literature-instagram-page-12k/", "4829"),
        ("https://socialtradia.com/product/twitter-account-publishing-news-25k/", "4825"),
    ]
    [next_page] = [r for r in requests if r.callback is None]
    assert next_page.url == "https://socialtradia.com/page/2/?s=gallimard&post_type=product"
    assert (next_page.meta["page"], next_page.meta["query"]) == (2, "Gallimard")
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") == 1


def test_a_page_seen_twice_asks_for_nothing_twice_and_is_no_layout_change(spider) -> None:
    # The same cards answer the brand's search and its platform's category.
    parsed(spider, page("search_gallimard.html", query="Gallimard"))
    listings, requests = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    assert listings == []
    assert [r.url for r in requests] == ["https://socialtradia.com/page/2/?s=gallimard&post_type=product"]
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") is None


def test_every_field_of_a_handle_hit(spider) -> None:
    listings, _ = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    hit = through_pipelines(spider, next(item for item in listings if item.listing_id == "4826"), NOW)
    assert (hit.marketplace, hit.site) == ("socialtradia", "socialtradia.com")
    assert hit.url == "https://socialtradia.com/product/tiktok-gallimardjeunesse/"
    assert hit.title == "TikTok @gallimardjeunesse (1.8M Followers)"
    assert (hit.asset_kind, hit.asset, hit.asset_text) == (
        "handle",
        "tiktok:gallimardjeunesse",
        "@gallimardjeunesse",
    )
    assert (hit.followers, hit.followers_text) == (1_800_000, "1.8M Followers")
    assert (hit.price, hit.currency, hit.price_text) == (Decimal("3200.00"), "USD", "$3,200.00")
    assert (hit.sale_method, hit.end_time, hit.bid_count, hit.status) == ("fixed", None, None, "active")
    assert hit.seller is None, "the shop sells its own stock: no seller is shown"
    assert hit.category == "tiktok"
    assert [(m["brand"], m["kind"]) for m in hit.matches] == [("Gallimard", "handle")]


def test_the_category_gives_the_platform_of_a_handle_the_title_names_alone(spider) -> None:
    listings, _ = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    hit = through_pipelines(spider, next(item for item in listings if item.listing_id == "4827"), NOW)
    assert (hit.asset, hit.asset_text) == ("instagram:gallimard.fr", "@gallimard.fr")
    assert (hit.followers, hit.price) == (4_200, Decimal("650.00"))


def test_the_handle_is_read_from_the_product_page(spider) -> None:
    [listing] = spider.parse_detail(
        page(
            "product_books_literature.html",
            "https://socialtradia.com/product/books-literature-instagram-page-12k/",
        )
    )
    hit = through_pipelines(spider, listing, NOW)
    assert hit.listing_id == "4829"
    assert hit.url == "https://socialtradia.com/product/books-literature-instagram-page-12k/"
    assert "https://www.instagram.com/gallimard_officiel/" in hit.description
    assert (hit.asset_kind, hit.asset) == ("handle", "instagram:gallimard_officiel")
    assert hit.asset_text == "https://www.instagram.com/gallimard_officiel"
    assert (hit.followers, hit.followers_text) == (12_000, "12K Followers")
    # On sale: the price asked is the <ins> one, the struck-out one is kept aside.
    assert (hit.price, hit.currency) == (Decimal("1500.00"), "USD")
    assert hit.details == {"regular_price": "$2,000.00"}
    assert (hit.sale_method, hit.status, hit.category) == ("fixed", "active", "instagram")


def test_a_search_with_one_result_lands_on_the_product_page(spider) -> None:
    # WooCommerce redirects a product search with a single result to that product.
    url = "https://socialtradia.com/product/books-literature-instagram-page-12k/"
    listings, requests = parsed(spider, page("product_books_literature.html", url, query="Folio"))
    assert ([listing.listing_id for listing in listings], requests) == (["4829"], [])
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") is None


def test_the_brands_own_instagram_is_not_reported_and_a_sold_account_is(spider) -> None:
    listings, requests = parsed(spider, page("search_gallimard_page2.html", query="Gallimard", page=2))
    assert not requests, "the last page: no next link"
    official, sold = listings
    assert official.asset == "instagram:gallimard"
    with pytest.raises(DropItem):
        through_pipelines(spider, official, NOW)
    hit = through_pipelines(spider, sold, NOW)
    assert (hit.asset, hit.status, hit.price) == ("tiktok:gallimard_livres", "sold", Decimal("750.00"))


def test_a_category_page(spider) -> None:
    url = "https://socialtradia.com/product-category/tiktok/"
    listings, requests = parsed(spider, page("category_tiktok.html", url, category="tiktok"))
    assert [(item.listing_id, item.status) for item in listings] == [("4826", "active"), ("4812", "sold")]
    assert [r.url for r in requests] == ["https://socialtradia.com/product/cooking-tiktok-account-120k/"]


@pytest.mark.parametrize(
    ("title", "price_text", "followers", "price", "currency"),
    [
        ("Fashion Instagram Page (12K followers)", "$2.5k", 12_000, Decimal(2500), "USD"),
        ("Page Instagram mode (1,8 M abonnés)", "2 500 €", 1_800_000, Decimal(2500), "EUR"),
        ("Recipes TikTok (1,800 Followers)", "$1,500.00", 1_800, Decimal(1500), "USD"),
        ("Quotes Instagram Page (2.5k Followers)", "1.500,00 €", 2_500, Decimal(1500), "EUR"),
    ],
)
def test_odd_follower_and_price_texts(
    spider, title: str, price_text: str, followers: int, price: Decimal, currency: str
) -> None:
    listing = spider.listing(
        spider.site_profiles["socialtradia.com"],
        NOW,
        listing_id="1",
        url="https://socialtradia.com/product/x/",
        title=title,
        price_text=price_text,
        followers_text=title[title.rindex("(") + 1 : -1],
    )
    NormalizePipeline(spider.crawler).process_item(listing)
    assert (listing.followers, listing.price, listing.currency) == (followers, price, currency)


def test_a_cloudflare_challenge_is_counted_as_blocked_not_as_no_results(spider) -> None:
    listings, requests = parsed(spider, page("blocked.html", status=403, query="Gallimard"))
    assert (listings, requests) == ([], [])
    assert spider.crawler.stats.get_value("brandcrawl/pages/blocked") == 1
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") is None


def test_a_challenge_instead_of_a_product_page_is_counted_as_blocked(spider) -> None:
    assert list(spider.parse_detail(page("blocked.html", status=403))) == []
    assert spider.crawler.stats.get_value("brandcrawl/pages/blocked") == 1


def test_a_layout_change_is_counted_as_unexpectedly_empty(spider) -> None:
    listings, _ = parsed(spider, page("layout_changed.html", query="Gallimard"))
    assert listings == []
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") == 1


def test_a_real_zero_results_page_is_fine(spider) -> None:
    listings, requests = parsed(spider, page("no_results.html", query="Gallimard zzqx"))
    assert (listings, requests) == ([], [])
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") is None
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") == 1


def test_pagination_stops_at_max_pages(spider) -> None:
    spider.max_pages = 2
    _, requests = parsed(spider, page("search_gallimard.html", query="Gallimard", page=2))
    assert all(r.callback == spider.parse_detail for r in requests)


# --- whole crawls of the replica


@pytest.fixture
def replica() -> Iterator[ReplicaMarketplace]:
    with ReplicaMarketplace(apps=[SocialTradiaApp]) as server:
        yield server


HITS = {
    "4829": "instagram:gallimard_officiel",
    "4827": "instagram:gallimard.fr",
    "4826": "tiktok:gallimardjeunesse",
    "4825": "x:gallimard",
    "4821": "instagram:folio.poche",
    "4812": "tiktok:gallimard_livres",
}


@deferred_f_from_coro_f
async def test_a_crawl_finds_the_handles_on_sale(replica, watch_path: Path, db_url: str) -> None:
    result = await crawl(
        SocialTradiaSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert {item.listing_id: item.asset for item in result.items} == HITS
    assert "4824" not in {item.listing_id for item in result.items}, "the brand's own @gallimard"
    by_id = {item.listing_id: item for item in result.items}
    assert by_id["4812"].status == "sold"
    assert {(item.currency, item.sale_method) for item in result.items} == {("USD", "fixed")}
    assert all(item.price is not None and item.followers for item in result.items)

    paths = [urlsplit(path) for path in replica.requests if path.startswith("/socialtradia.com/")]
    searches = {parse_qs(p.query)["s"][0] for p in paths if "s=" in p.query}
    assert searches == {"Gallimard", "Folio"}
    assert "/socialtradia.com/page/2/" in {p.path for p in paths if "s=" in p.query}, "search pages followed"
    categories = {p.path for p in paths if "/product-category/" in p.path}
    assert {
        f"/socialtradia.com/product-category/{c}/" for c in ("instagram", "tiktok", "youtube", "twitter")
    } <= (categories)
    assert "/socialtradia.com/product-category/instagram/page/2/" in categories
    products = {p.path.split("/")[-2] for p in paths if "/product/" in p.path}
    # Read from their pages: the titles naming no handle, and the single "Folio" result WooCommerce
    # redirected to.
    assert {"books-literature-instagram-page-12k", "twitter-account-publishing-news-25k"} <= products
    assert "folio-poche-instagram-page" in products
    assert "tiktok-gallimardjeunesse" not in products, "a title naming the handle needs no page of its own"

    stats = result.stats
    assert stats["brandcrawl/run/status"] == "ok"
    assert stats["brandcrawl/hits/matched"] == len(HITS)
    assert count(db_url, ListingRow) == len(HITS)


@deferred_f_from_coro_f
async def test_a_cloudflare_challenge_is_a_blocked_crawl(replica, watch_path: Path, db_url: str) -> None:
    replica.blocked = True
    result = await crawl(
        SocialTradiaSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 6  # 2 searches, 4 categories
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_a_layout_change_is_a_broken_crawl_that_keeps_what_was_stored(
    replica, watch_path: Path, db_url: str
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    first = await crawl(SocialTradiaSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    replica.layout_changed = True
    second = await crawl(SocialTradiaSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert second.stats["brandcrawl/run/status"] == "broken"
    assert second.stats["brandcrawl/pages/unexpected_empty"] >= 1
    assert count(db_url, ListingRow) == len(first.items) == len(HITS)
    assert [run.status for run in rows(db_url, CrawlRun)] == ["ok", "broken"]


@deferred_f_from_coro_f
async def test_a_second_crawl_records_a_new_price_and_a_sale(replica, watch_path: Path, db_url: str) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    await crawl(SocialTradiaSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    replica.apps["socialtradia"].update("tiktok-gallimardjeunesse", price="2,900.00", in_stock=False)
    second = await crawl(SocialTradiaSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert second.stats["brandcrawl/hits/new"] == 0
    assert count(db_url, ListingRow) == len(HITS)
    store = Store(db_url)
    try:
        with store.session() as session:
            changes = {(c.field, c.old_value, c.new_value) for c in session.scalars(select(ListingChange))}
    finally:
        store.close()
    assert changes == {("price", "3200.00", "2900.00"), ("status", "active", "sold")}
