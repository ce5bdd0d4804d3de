"""The Accs-market spider: its list and listing pages (tests/fixtures/accsmarket/README.md), then whole
crawls of the replica over real HTTP."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.items import Listing
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.accsmarket import AccsMarketApp
from brandcrawl.storage.models import CrawlRun, Hit, ListingChange, ListingRow
from spiders.accsmarket import AccsMarketSpider
from tests.conftest import (
    count,
    crawl,
    crawl_settings,
    parsing_spider,
    rows,
    stat,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "accsmarket"
SITE = "https://accs-market.com"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def page(name: str, url: str, status: int = 200, body: bytes | None = None, **meta: Any) -> HtmlResponse:
    request = Request(url, meta={"site": "accs-market.com", **meta})
    body = (FIXTURES / name).read_bytes() if body is None else body
    return HtmlResponse(url=url, status=status, body=body, encoding="utf-8", request=request)


@pytest.fixture
def spider(watch_path: Path) -> AccsMarketSpider:
    return parsing_spider(AccsMarketSpider, watch_path)


def listing_of(spider: AccsMarketSpider, response: HtmlResponse) -> Listing:
    [listing] = spider.parse_detail(response)
    return listing


GROUP = f"{SITE}/group/431215"


# -- list pages --


def test_a_list_page_asks_for_each_listing_page_and_the_next_page(spider: AccsMarketSpider) -> None:
    requests = list(spider.parse(page("list_twitter.html", f"{SITE}/twitter", category="twitter")))
    *details, following = requests
    assert [r.url for r in details] == [f"{SITE}/group/{n}" for n in ("431210", "431188", "431175", "431160")]
    assert all(r.callback == spider.parse_detail for r in details)
    assert {(r.meta["listing_id"], r.meta["category"]) for r in details} >= {("431210", "twitter")}
    assert (following.url, following.meta["page"], following.meta["category"]) == (
        f"{SITE}/twitter?page=2",
        2,
        "twitter",
    )
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_the_last_page_has_no_next_page(spider: AccsMarketSpider) -> None:
    requests = list(spider.parse(page("list_twitter_page2.html", f"{SITE}/twitter?page=2", page=2)))
    assert [r.url for r in requests] == [f"{SITE}/group/431142", f"{SITE}/group/431120"]


def test_the_brand_queries_are_not_sent_as_the_site_has_no_search(spider: AccsMarketSpider) -> None:
    assert spider.queries == []
    assert spider.categories == ["twitter", "in", "youtube", "fb", "tiktok"]
    assert spider.category_url(spider.sites[0], "in") == "https://accs-market.com/in"


def test_an_empty_list_is_no_results(spider: AccsMarketSpider) -> None:
    assert list(spider.parse(page("list_empty.html", f"{SITE}/fb"))) == []
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None


def test_a_changed_list_layout_is_unexpectedly_empty(spider: AccsMarketSpider) -> None:
    requests = list(spider.parse(page("list_layout_changed.html", f"{SITE}/twitter")))
    assert [r.url for r in requests] == [f"{SITE}/twitter?page=2"], "no listing page: only the next list page"
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1


@pytest.mark.parametrize("name", ["list_twitter.html", "blocked_just_a_moment.html"])
def test_cloudflare_is_blocked_not_zero_results(spider: AccsMarketSpider, name: str) -> None:
    """Cloudflare's challenge (403, its title) on a list page; a 403 whatever its body."""
    assert list(spider.parse(page(name, f"{SITE}/twitter", status=403))) == []
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None


def test_a_challenge_page_served_200_is_blocked_too(spider: AccsMarketSpider) -> None:
    assert list(spider.parse(page("blocked_just_a_moment.html", f"{SITE}/twitter"))) == []
    assert list(spider.parse_detail(page("blocked_just_a_moment.html", GROUP))) == []
    assert stat(spider, "brandcrawl/pages/blocked") == 2


def test_a_listing_link_without_its_id_is_a_parse_error(spider: AccsMarketSpider) -> None:
    body = (FIXTURES / "list_twitter.html").read_bytes().replace(b"/group/431188", b"/group/new")
    assert list(spider.parse(page("", f"{SITE}/twitter", body=body))) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/accs-market.com/failed") == 1


# -- listing pages --


def test_every_field_of_a_handle_hit(spider: AccsMarketSpider) -> None:
    listing = listing_of(spider, page("group_431215.html", GROUP, listing_id="431215", category="in"))
    assert (listing.marketplace, listing.site, listing.listing_id, listing.url) == (
        "accsmarket",
        "accs-market.com",
        "431215",
        GROUP,
    )
    assert listing.title == "Gallimard Officiel"
    assert (listing.seller, listing.category, listing.sale_method) == (
        "insta_pages_fr",
        "Books & Literature",
        "fixed",
    )
    assert (
        listing.description == "Page littéraire, 12,4K abonnés, audience 80 % France. Email d'origine fourni."
    )
    assert listing.details == {
        "listed": "15.11.2026",
        "views": "540",
        "link": "https://www.instagram.com/gallimard_officiel/",
        "monthly_income": "150 $",
        "monthly_expense": "0 $",
        "Original email included": "Yes",
        "Ways of promotion": "Shoutouts, hashtags",
        "Source of expense": "No expenses",
        "Source of income": "Sponsored posts",
        "Account support": "Posting every day",
        "Content": "Book covers and quotes",
    }
    hit = through_pipelines(spider, listing, NOW)
    assert (hit.asset_kind, hit.asset, hit.asset_text) == (
        "handle",
        "instagram:gallimard_officiel",
        "https://www.instagram.com/gallimard_officiel/",
    )
    assert (hit.followers, hit.price, hit.currency, hit.end_time, hit.status) == (
        12400,
        Decimal("2200"),
        "USD",
        None,
        "active",
    )
    assert [match["brand"] for match in hit.matches] == ["Gallimard"]


@pytest.mark.parametrize(
    ("link", "category", "asset"),
    [
        ("https://x.com/Gallimard", "twitter", "x:gallimard"),
        ("https://www.tiktok.com/@gallimardjeunesse", "tiktok", "tiktok:gallimardjeunesse"),
        ("@gallimard.fr", "in", "instagram:gallimard.fr"),
        ("instagram.com/gallimard.fr/", "in", "instagram:gallimard.fr"),
    ],
)
def test_the_handle_from_the_account_link(
    spider: AccsMarketSpider, link: str, category: str, asset: str
) -> None:
    body = (FIXTURES / "group_431215.html").read_bytes()
    body = body.replace(b"https://www.instagram.com/gallimard_officiel/", link.encode())
    listing = listing_of(spider, page("", GROUP, body=body, category=category))
    assert (listing.asset_kind, listing.asset, listing.asset_text) == ("handle", asset, link)


def test_a_channel_address_names_no_handle(spider: AccsMarketSpider) -> None:
    url = f"{SITE}/group/431090"
    listing = listing_of(spider, page("group_431090_youtube.html", url, category="youtube"))
    assert (listing.asset_kind, listing.asset) == ("other", None)
    assert listing.details["Monetization enabled"] == "Yes"
    assert listing.listing_id == "431090", "read from the address when the request does not carry it"
    with pytest.raises(DropItem):
        through_pipelines(spider, listing, NOW)


def test_the_official_handle_is_not_a_hit(spider: AccsMarketSpider) -> None:
    body = (FIXTURES / "group_431215.html").read_bytes().replace(b"gallimard_officiel", b"gallimard")
    listing = listing_of(spider, page("", GROUP, body=body, category="in"))
    assert listing.asset == "instagram:gallimard"
    with pytest.raises(DropItem):
        through_pipelines(spider, listing, NOW)


@pytest.mark.parametrize(
    ("followers", "price", "count", "amount", "currency"),
    [
        ("12K followers", "$2.5k", 12000, Decimal("2500"), "USD"),
        ("1,8 M abonnés", "2 500 €", 1800000, Decimal("2500"), "EUR"),
        ("18,5K", "1 500 $", 18500, Decimal("1500"), "USD"),
        ("12 400", "350$", 12400, Decimal("350"), "USD"),
    ],
)
def test_odd_follower_and_price_texts(
    spider: AccsMarketSpider, followers: str, price: str, count: int, amount: Decimal, currency: str
) -> None:
    body = (FIXTURES / "group_431215.html").read_text(encoding="utf-8")
    body = body.replace("12 400 - subscribers", f"{followers} - subscribers").replace("2 200 $", price)
    listing = listing_of(spider, page("", GROUP, body=body.encode(), category="in"))
    assert (listing.followers_text, listing.price_text) == (f"{followers} - subscribers", price)
    hit = through_pipelines(spider, listing, NOW)
    assert (hit.followers, hit.price, hit.currency) == (count, amount, currency)


def test_a_listing_gone_since_the_list_was_read_is_no_error(spider: AccsMarketSpider) -> None:
    assert list(spider.parse_detail(page("group_gone.html", GROUP))) == []
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_a_changed_listing_page_is_a_parse_error(spider: AccsMarketSpider) -> None:
    body = (FIXTURES / "group_431215.html").read_bytes().replace(b"group-info", b"group-title")
    assert list(spider.parse_detail(page("", GROUP, body=body))) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/accs-market.com/failed") == 1


# -- whole crawls of the replica --


@pytest.fixture
def replica() -> Any:
    with ReplicaMarketplace(apps=[AccsMarketApp]) as server:
        yield server


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> Any:
    base_url = f"{replica.base_url}/{{site}}"
    return await crawl(AccsMarketSpider, crawl_settings(watch_path, db_url), base_url=base_url)


@deferred_f_from_coro_f
async def test_a_crawl_reads_every_platform_list_and_finds_the_hits(
    replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    result = await crawl_replica(replica, watch_path, db_url)

    found = {item.asset: item for item in result.items}
    assert set(found) == {
        "x:gallimard",
        "x:gallimard_livres",  # on the second page of the Twitter list
        "instagram:gallimard_officiel",
        "instagram:gallimard.fr",
        "instagram:folio",
        "tiktok:gallimardjeunesse",
    }
    assert "instagram:gallimard" not in found, "the brand's own account is not reported"
    assert found["instagram:folio"].matches[0]["brand"] == "Folio"
    gallimard_x = found["x:gallimard"]
    assert (gallimard_x.title, gallimard_x.price, gallimard_x.currency, gallimard_x.followers) == (
        "Gallimard",
        Decimal("1500"),
        "USD",
        1800,
    )
    assert gallimard_x.url == f"{replica.site_url('accs-market.com')}/group/431210"
    assert gallimard_x.seller == "handle_brokers"

    paths = [path.removeprefix("/accs-market.com") for path in replica.requests if path.startswith("/accs")]
    lists = [path for path in paths if not path.startswith("/group/")]
    assert sorted(lists) == sorted(
        ["/twitter", "/twitter?page=2", "/in", "/in?page=2", "/youtube", "/fb", "/tiktok"]
    )
    assert sorted(path for path in paths if path.startswith("/group/")) == sorted(
        f"/group/{item.listing_id}"
        for item in replica.apps["accsmarket"].listings()  # type: ignore[attr-defined]
    ), "each listing's page once"

    stats = result.stats
    assert stats["brandcrawl/run/status"] == "ok"
    assert stats["brandcrawl/searches"] == 5
    assert stats["brandcrawl/listings/seen"] == 17
    assert stats["brandcrawl/hits/matched"] == 6
    assert count(db_url, ListingRow) == 6
    assert count(db_url, Hit) == 6
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits) == ("accsmarket", "ok", 6)


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl(
    replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    replica.blocked = True
    result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 5
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"
    assert "challenge" in run.detail


@deferred_f_from_coro_f
async def test_a_layout_change_is_a_broken_crawl_and_loses_no_stored_hit(
    replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    await crawl_replica(replica, watch_path, db_url)
    replica.layout_changed = True
    result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/pages/unexpected_empty"] == 7  # every list page, the second ones too
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == 6
    assert count(db_url, Hit) == 6
    runs = sorted(rows(db_url, CrawlRun), key=lambda run: run.id)
    assert [run.status for run in runs] == ["ok", "broken"]
    assert "layout" in runs[1].detail


@deferred_f_from_coro_f
async def test_a_listing_removed_from_the_site_is_revisited_and_found_gone(
    replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    await crawl_replica(replica, watch_path, db_url)
    app = replica.apps["accsmarket"]
    assert isinstance(app, AccsMarketApp)
    # Off its list, and its page says "has been removed" with a 200, as the site does.
    app.replace([item for item in app.listings() if item.listing_id != "431210"])
    app.gone.add("431210")

    second = await crawl_replica(replica, watch_path, db_url)
    assert second.stats["brandcrawl/revisits/gone"] == 1
    changes = {(c.field, c.old_value, c.new_value) for c in rows(db_url, ListingChange)}
    assert changes == {("status", "active", "gone")}
