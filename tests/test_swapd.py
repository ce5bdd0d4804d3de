"""The SWAPD spider (stock Discourse JSON) on saved responses (tests/fixtures/swapd/README.md), and whole
crawls of the replica's SWAPD."""

import json
from collections import Counter
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
from scrapy.utils.test import get_crawler

from brandcrawl.items import Listing
from brandcrawl.pipelines import MatchPipeline, NormalizePipeline
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.swapd import SwapdApp
from brandcrawl.storage.models import CrawlRun, ListingChange, ListingRow
from spiders.swapd import SwapdSpider, cooked_text
from tests.conftest import (
    WATCH,
    count,
    crawl,
    crawl_settings,
    parsed,
    parsing_spider,
    project_settings,
    rows,
    stat,
)

FIXTURES = Path(__file__).parent / "fixtures" / "swapd"
ROOT = "https://swapd.co"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
# The topics of the replica's seed that carry a watched brand, and what each sells.
HITS = {
    "482311": "instagram:gallimard_officiel",
    "482250": "x:gallimard",
    "482140": "instagram:gallimard.fr",
    "482005": "tiktok:gallimardjeunesse",
    "481890": "x:gallimardnews",
    "481700": "youtube:gallimardclassiques",
    "481502": "instagram:gallimardbooks",
    "481355": "instagram:folio_shop",
}
OFFICIAL = "481977"  # Instagram @gallimard: the brand's own account, never reported
EXCLUDED = "480533"  # "Gallimard La Pléiade": an exclusion phrase of the watch file


@pytest.fixture
def spider(watch_path: Path) -> SwapdSpider:
    return parsing_spider(SwapdSpider, watch_path)


def response(name: str, url: str, status: int = 200, **meta: Any) -> TextResponse:
    body = (FIXTURES / name).read_bytes()
    request = Request(url, meta={"site": "swapd.co", "page": 1, **meta})
    if name.endswith(".html"):
        return HtmlResponse(url=url, body=body, status=status, encoding="utf-8", request=request)
    headers = {"Content-Type": "application/json; charset=utf-8"}
    return TextResponse(url=url, body=body, status=status, headers=headers, encoding="utf-8", request=request)


def search_page(name: str, page: int = 1) -> TextResponse:
    url = f"{ROOT}/search.json?q=Gallimard+order%3Alatest" + (f"&page={page}" if page > 1 else "")
    return response(name, url, page=page, query="Gallimard")


def category_page(name: str, page: int = 1) -> TextResponse:
    url = f"{ROOT}/c/instagram/12.json" + (f"?page={page - 1}" if page > 1 else "")
    return response(name, url, page=page, category="instagram/12")


def topic_page(name: str, category: str | None = "instagram", **changes: Any) -> TextResponse:
    """A topic's JSON; ``changes`` replace the topic's keys, ``cooked`` its first post's HTML."""
    data = json.loads((FIXTURES / name).read_text(encoding="utf-8"))
    if "cooked" in changes:
        data["post_stream"]["posts"][0]["cooked"] = changes.pop("cooked")
    data.update(changes)
    url = f"{ROOT}/t/{data['id']}.json"
    request = Request(url, meta={"site": "swapd.co", "listing_id": str(data["id"]), "category": category})
    return TextResponse(url=url, body=json.dumps(data).encode(), encoding="utf-8", request=request)


def topic_listing(spider: SwapdSpider, page: TextResponse) -> Listing:
    [listing] = spider.parse_detail(page)
    listing.seen_at = NOW
    return listing


def normalised(spider: SwapdSpider, listing: Listing) -> Listing:
    NormalizePipeline(spider.crawler).process_item(listing)
    return listing


def matched(spider: SwapdSpider, listing: Listing) -> Listing:
    MatchPipeline.from_crawler(spider.crawler).process_item(normalised(spider, listing))
    return listing


# --- results pages


def test_a_category_page_asks_for_each_listing_topic_and_the_next_page(spider: SwapdSpider) -> None:
    listings, requests = parsed(spider, category_page("category_instagram.json"))
    assert listings == []
    *topics, next_page = requests
    # The pinned "About the Instagram category" topic is no listing.
    assert [r.url for r in topics] == [f"{ROOT}/t/{i}.json" for i in ("482311", "482140", "480876")]
    assert {r.meta["category"] for r in topics} == {"instagram"}
    assert all((r.callback, r.errback) == (spider.parse_detail, spider.detail_failed) for r in topics)
    # Discourse links the next page's HTML address ("/c/instagram/12?page=1"): its JSON is asked for.
    assert next_page.url == f"{ROOT}/c/instagram/12.json?page=1"
    assert (next_page.meta["page"], next_page.meta["category"]) == (2, "instagram/12")
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_the_last_category_page_leads_nowhere(spider: SwapdSpider) -> None:
    _, requests = parsed(spider, category_page("category_instagram_last_page.json", page=3))
    assert [r.url for r in requests] == [f"{ROOT}/t/480876.json"]


def test_a_category_with_only_its_about_topic_is_no_layout_change(spider: SwapdSpider) -> None:
    assert parsed(spider, category_page("category_empty.json")) == ([], [])
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_a_search_page_asks_for_each_topic_with_its_category(spider: SwapdSpider) -> None:
    listings, requests = parsed(spider, search_page("search_gallimard.json"))
    assert listings == []
    *topics, next_page = requests
    assert [(r.url, r.meta["category"]) for r in topics] == [
        (f"{ROOT}/t/482311.json", "instagram"),
        (f"{ROOT}/t/482250.json", "twitter"),
        (f"{ROOT}/t/482140.json", "instagram"),
        (f"{ROOT}/t/482005.json", "tiktok"),
    ]
    assert parse_qs(urlsplit(next_page.url).query) == {"q": ["Gallimard order:latest"], "page": ["2"]}
    assert (next_page.meta["page"], next_page.meta["query"]) == (2, "Gallimard")


def test_the_last_search_page_leads_nowhere(spider: SwapdSpider) -> None:
    _, requests = parsed(spider, search_page("search_gallimard_last_page.json", page=3))
    assert [r.url for r in requests] == [f"{ROOT}/t/480533.json"]


def test_discourse_serves_no_search_page_past_the_tenth(spider: SwapdSpider) -> None:
    spider.max_pages = 20
    assert spider.next_page(search_page("search_gallimard.json", page=9)) is not None
    assert spider.next_page(search_page("search_gallimard.json", page=10)) is None


def test_a_real_zero_results_search_is_fine(spider: SwapdSpider) -> None:
    assert parsed(spider, search_page("search_no_results.json")) == ([], [])
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_a_topic_found_twice_is_asked_for_once(spider: SwapdSpider) -> None:
    """482311 and 482140 answer the search and sit in the category: the category page still reads as
    read (no layout-change alarm), and only 480876 is new there."""
    parsed(spider, search_page("search_gallimard.json"))
    listings, requests = parsed(spider, category_page("category_instagram.json"))
    assert listings == [], "the repeats are dropped"
    assert [r.url for r in requests] == [f"{ROOT}/t/480876.json", f"{ROOT}/c/instagram/12.json?page=1"]
    _, again = parsed(spider, category_page("category_instagram_last_page.json", page=3))
    assert again == []
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None


def test_pagination_stops_at_max_pages(spider: SwapdSpider) -> None:
    spider.max_pages = 1
    _, requests = parsed(spider, category_page("category_instagram.json"))
    assert all("/t/" in r.url for r in requests)


# --- a topic: the listing


def test_fields_of_a_handle_sale(spider: SwapdSpider) -> None:
    listing = matched(spider, topic_listing(spider, topic_page("topic_482311.json")))
    assert (listing.marketplace, listing.site, listing.listing_id) == ("swapd", "swapd.co", "482311")
    assert (
        listing.url == f"{ROOT}/t/instagram-gallimard-officiel-48-5k-followers-french-literature-niche/482311"
    )
    assert listing.title == "Instagram @gallimard_officiel | 48.5K followers | French literature niche"
    assert (listing.asset_kind, listing.asset, listing.asset_text) == (
        "handle",
        "instagram:gallimard_officiel",
        "@gallimard_officiel",
    )
    assert (listing.followers, listing.followers_text) == (48_500, "48.5K followers")
    assert (listing.price, listing.currency, listing.price_text) == (Decimal("2500"), "USD", "$2,500")
    assert (listing.sale_method, listing.status, listing.end_time) == ("fixed", "active", None)
    assert (listing.seller, listing.category) == ("litpages_fr", "instagram")
    assert listing.details == {
        "topic_created_at": "2026-11-26T18:02:11.245Z",
        "category_id": 12,
        "tags": ["premium"],
        "views": 212,
        "posts_count": 2,
    }
    assert [m["brand"] for m in listing.matches] == ["Gallimard"]


def test_the_listing_is_the_first_post_only(spider: SwapdSpider) -> None:
    """A buyer's reply ("I can do $1,800") is no part of the listing, nor an image's file size."""
    listing = topic_listing(spider, topic_page("topic_482311.json"))
    assert listing.description == (
        "Instagram @gallimard_officiel for sale.\nNiche: books, French literature\n"
        "48.5K followers, 70% France\nEngagement 3.1%\nPrice: $2,500"
    )


def test_a_french_listing(spider: SwapdSpider) -> None:
    listing = matched(spider, topic_listing(spider, topic_page("topic_482140.json")))
    assert (listing.asset, listing.asset_text) == ("instagram:gallimard.fr", "@gallimard.fr")
    assert (listing.followers, listing.price, listing.currency) == (1_800_000, Decimal("2500"), "EUR")
    assert listing.seller == "reseaux_pro_75"


def test_an_auction_with_tags_as_objects(spider: SwapdSpider) -> None:
    """Newer Discourse lists tags as {"id", "name", "slug"}."""
    listing = matched(spider, topic_listing(spider, topic_page("topic_481890.json", category="twitter")))
    assert (listing.asset, listing.sale_method, listing.followers) == ("x:gallimardnews", "auction", 5_200)
    assert (listing.price, listing.currency) == (Decimal("300"), "USD")
    assert listing.details["tags"] == ["auction"]


@pytest.mark.parametrize(
    ("name", "changes", "status"),
    [
        ("topic_481502.json", {}, "sold"),  # tagged "sold" and closed: sold wins
        ("topic_481502.json", {"tags": [], "closed": False}, "sold"),  # "[SOLD]" in the title
        ("topic_482140.json", {"title": "[Vendu] Compte Instagram 1,8 M abonnés"}, "sold"),
        ("topic_480701_archived.json", {}, "ended"),
        ("topic_482140.json", {"closed": True}, "ended"),
        ("topic_482140.json", {}, "active"),
    ],
)
def test_status(spider: SwapdSpider, name: str, changes: dict[str, Any], status: str) -> None:
    assert topic_listing(spider, topic_page(name, **changes)).status == status


@pytest.mark.parametrize(
    ("cooked", "sale_method"),
    [
        ("<p>Price: $900</p>", "fixed"),
        ("<p>Asking $4k OBO.</p>", "offer"),
        ("<p>Clean history. Make an offer.</p>", "offer"),
        ("<p>Enchères, départ 300 €</p>", "auction"),
        ("<p>Clean history, DM me.</p>", None),
    ],
)
def test_sale_method(spider: SwapdSpider, cooked: str, sale_method: str | None) -> None:
    page = topic_page("topic_482140.json", cooked=cooked, title="Compte Instagram")
    assert topic_listing(spider, page).sale_method == sale_method


def test_the_brands_own_account_is_not_reported(spider: SwapdSpider) -> None:
    listing = normalised(spider, topic_listing(spider, topic_page("topic_481977.json")))
    assert listing.asset == "instagram:gallimard"
    with pytest.raises(DropItem):
        MatchPipeline.from_crawler(spider.crawler).process_item(listing)


@pytest.mark.parametrize(
    ("title", "cooked", "followers", "price", "currency"),
    [
        ("Instagram @gallimard_officiel", "<p>12K followers</p><p>Price: $2.5k</p>", 12_000, "2500", "USD"),
        ("Compte Instagram @gallimard_officiel", "<p>1,8 M abonnés</p><p>Prix : 2 500 €</p>", 1_800_000,
         "2500", "EUR"),
        ("Compte Instagram @gallimard_officiel", "<p>Audience : 45 000 abonnés. Prix : 1 500 euros</p>",
         45_000, "1500", "EUR"),
        ("Instagram @gallimard_officiel 18.5k followers — $900", "<p>DM me.</p>", 18_500, "900", "USD"),
        ("TikTok @gallimardjeunesse", "<p>250K fans, 4.2M likes</p><p>BIN 1200$</p>", 250_000, "1200", "USD"),
        ("Instagram @gallimard_officiel", "<p>Made $300/mo. Selling for $1,200 OBO. 120k+ followers</p>",
         120_000, "1200", "USD"),
        ("Instagram @gallimard_officiel", "<p>Insta with 45K <strong>real</strong> followers, $2,500 USD</p>",
         45_000, "2500", "USD"),
        ("Instagram @gallimard_officiel", "<p>Prix : 1.500€ – 18 500 followers</p>", 18_500, "1500", "EUR"),
    ],
)  # fmt: skip
def test_odd_follower_and_price_texts(
    spider: SwapdSpider, title: str, cooked: str, followers: int, price: str, currency: str
) -> None:
    listing = normalised(
        spider, topic_listing(spider, topic_page("topic_482140.json", title=title, cooked=cooked))
    )
    assert (listing.followers, listing.price, listing.currency) == (followers, Decimal(price), currency)


@pytest.mark.parametrize(
    ("cooked", "followers", "price"),
    [
        pytest.param("<p>Followers: 12.4K</p><p>Price: $2,500</p>", 12_400, "2500", id="label-before-count"),
        pytest.param(
            "<p>Abonnés : 1,8 M</p><p>Prix : 2 500 €</p>", 1_800_000, "2500", id="label-before-count-fr"
        ),
        pytest.param(
            "<p>12k IG followers, Price: $900</p>", 12_000, "900", id="word-between-count-and-followers"
        ),
        pytest.param("<p>45K US followers, Price: $900</p>", 45_000, "900", id="audience-word-between"),
        pytest.param("<p>12K followers, asking 2.5k</p>", 12_000, "2500", id="price-without-currency-sign"),
    ],
)
def test_forum_follower_and_price_texts(spider: SwapdSpider, cooked: str, followers: int, price: str) -> None:
    page = topic_page("topic_482140.json", title="Instagram @gallimard_officiel", cooked=cooked)
    listing = normalised(spider, topic_listing(spider, page))
    assert (listing.followers, listing.price) == (followers, Decimal(price))


def test_cooked_text_keeps_one_line_per_block() -> None:
    assert cooked_text("<p>a <strong>b</strong></p>\n<ul><li>c</li><li>d<br>e</li></ul>") == "a b\nc\nd\ne"
    assert cooked_text("") == ""


# --- failures: challenge, changed API, refusals


def test_a_challenge_page_is_counted_as_blocked_not_as_no_results(spider: SwapdSpider) -> None:
    page = response("blocked.html", f"{ROOT}/search.json?q=Gallimard+order%3Alatest", status=403)
    assert parsed(spider, page) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None


def test_a_challenge_instead_of_a_topic_is_counted_as_blocked(spider: SwapdSpider) -> None:
    page = response("blocked.html", f"{ROOT}/t/482311.json", status=403)
    assert list(spider.parse_detail(page)) == []
    assert stat(spider, "brandcrawl/pages/blocked") == 1


@pytest.mark.parametrize(
    "page",
    [
        pytest.param(lambda: search_page("search_truncated.json"), id="truncated-json"),
        pytest.param(lambda: category_page("category_layout_changed.json"), id="renamed-key"),
        pytest.param(
            lambda: response("search_gallimard.json", f"{ROOT}/c/instagram/12.json", category="instagram/12"),
            id="search-shape-on-a-category",
        ),
        pytest.param(
            lambda: response(
                "search_gallimard.json", f"{ROOT}/search.json?q=Gallimard", query="Gallimard"
            ).replace(
                body=(FIXTURES / "search_gallimard.json")
                .read_bytes()
                .replace(b'"topics"', b'"topic_results"')
            ),
            id="search-topics-renamed",
        ),
    ],
)
def test_a_changed_api_is_a_parse_error_not_no_results(spider: SwapdSpider, page: Any) -> None:
    assert parsed(spider, page()) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/swapd.co/failed") == 1


def test_a_topic_in_a_changed_shape_is_a_parse_error(spider: SwapdSpider) -> None:
    page = topic_page("topic_482311.json", post_stream={"items": []})
    assert list(spider.parse_detail(page)) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_discourses_own_refusal_is_a_parse_error(spider: SwapdSpider) -> None:
    refusal = {
        "errors": ["You are not permitted to view the requested resource."],
        "error_type": "invalid_access",
    }
    url = f"{ROOT}/c/instagram/12.json"
    request = Request(url, meta={"site": "swapd.co", "category": "instagram/12"})
    page = TextResponse(url, body=json.dumps(refusal).encode(), status=403, encoding="utf-8", request=request)
    assert parsed(spider, page) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_a_stored_topic_is_revisited_through_its_json(spider: SwapdSpider) -> None:
    stored = ListingRow(
        marketplace="swapd",
        site="swapd.co",
        listing_id="481502",
        url=f"{ROOT}/t/sold-instagram-gallimardbooks-9-800-followers/481502",
        title="[SOLD] Instagram @gallimardbooks 9,800 followers",
        asset_kind="handle",
        status="active",
        last_seen=NOW,
    )
    request = spider.revisit_request(stored)
    assert request is not None
    assert request.url == f"{ROOT}/t/481502.json"
    page = topic_page("topic_481502.json")
    [listing] = spider.parse_revisit(page.replace(request=request))
    assert (listing.listing_id, listing.status) == ("481502", "sold")


@pytest.mark.parametrize(
    ("page", "status"),
    [
        (lambda: topic_page("topic_480701_archived.json"), "ended"),
        (lambda: topic_page("topic_482140.json"), "active"),
        (lambda: topic_page("topic_482311.json", post_stream=None, title=None), None),
        (lambda: response("blocked.html", f"{ROOT}/t/482311.json", status=403), None),
    ],
)
def test_what_a_revisit_reads(spider: SwapdSpider, page: Any, status: str | None) -> None:
    answer = page()
    assert (None if spider.is_blocked(answer) else spider.revisit_status(answer)) == status


# --- configuration


def test_categories_come_from_the_watch_file(tmp_path: Path) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(
        WATCH + '\n[marketplaces.swapd]\ncategories = ["social-media/instagram/12", "snapchat/61"]\n',
        encoding="utf-8",
    )
    spider = SwapdSpider.from_crawler(get_crawler(SwapdSpider, project_settings(BRANDCRAWL_WATCH=str(watch))))
    assert [spider.category_url(spider.sites[0], c) for c in spider.categories] == [
        f"{ROOT}/c/social-media/instagram/12.json",
        f"{ROOT}/c/snapchat/61.json",
    ]
    assert spider.category_slugs == {12: "social-media/instagram", 61: "snapchat"}


def test_a_category_without_its_id_is_refused(tmp_path: Path) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(WATCH + '\n[marketplaces.swapd]\ncategories = ["instagram"]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="'<slug>/<id>'"):
        SwapdSpider.from_crawler(get_crawler(SwapdSpider, project_settings(BRANDCRAWL_WATCH=str(watch))))


# --- whole crawls of the replica


@pytest.fixture
def swapd_replica() -> Any:
    with ReplicaMarketplace(apps=[SwapdApp]) as server:
        yield server


@deferred_f_from_coro_f
async def test_a_crawl_finds_the_handle_sales_and_stores_them(
    swapd_replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    result = await crawl(
        SwapdSpider, crawl_settings(watch_path, db_url), base_url=f"{swapd_replica.base_url}/{{site}}"
    )

    assert {item.listing_id: item.asset for item in result.items} == HITS
    assert OFFICIAL not in {item.listing_id for item in result.items}
    assert EXCLUDED not in {item.listing_id for item in result.items}
    by_id = {item.listing_id: item for item in result.items}
    assert (by_id["481502"].status, by_id["481700"].status, by_id["482311"].status) == (
        "sold",
        "ended",
        "active",
    )
    assert (by_id["482140"].price, by_id["482140"].currency, by_id["482140"].followers) == (
        Decimal("2500"),
        "EUR",
        1_800_000,
    )
    assert (
        by_id["482250"].url
        == f"{swapd_replica.base_url}/swapd.co/t/twitter-handle-for-sale-rare-publisher-name/482250"
    )
    assert {
        item.listing_id: item.category for item in result.items if item.listing_id in ("482005", "481700")
    } == {
        "482005": "tiktok",
        "481700": "youtube",
    }

    requests = swapd_replica.requests
    prefix = "/swapd.co"
    searched = [parse_qs(urlsplit(p).query) for p in requests if p.startswith(f"{prefix}/search.json")]
    assert sorted((q["q"][0], q.get("page", ["1"])[0]) for q in searched) == [
        ("Folio order:latest", "1"),
        ("Folio order:latest", "2"),
        ("Gallimard order:latest", "1"),
        ("Gallimard order:latest", "2"),
        ("Gallimard order:latest", "3"),
    ]
    listed = {p for p in requests if p.startswith(f"{prefix}/c/")}
    assert listed == {
        f"{prefix}/c/instagram/12.json",
        f"{prefix}/c/instagram/12.json?page=1",
        f"{prefix}/c/instagram/12.json?page=2",
        f"{prefix}/c/twitter/13.json",
        f"{prefix}/c/twitter/13.json?page=1",
        f"{prefix}/c/tiktok/58.json",
        f"{prefix}/c/youtube/14.json",
    }
    topics = Counter(p for p in requests if p.startswith(f"{prefix}/t/"))
    assert set(topics.values()) == {1}, "each topic is asked for once, whatever found it"
    assert len(topics) == 21, "every topic but the pinned one"

    stats = result.stats
    assert stats["brandcrawl/run/status"] == "ok"
    assert stats["brandcrawl/pages/parsed"] == 12
    assert stats["brandcrawl/listings/seen"] == 21
    assert stats["brandcrawl/hits/matched"] == len(HITS)
    assert count(db_url, ListingRow) == len(HITS)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits) == ("swapd", "ok", len(HITS))


@deferred_f_from_coro_f
async def test_a_second_crawl_records_a_new_price(
    swapd_replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    base_url = f"{swapd_replica.base_url}/{{site}}"
    await crawl(SwapdSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    app = swapd_replica.apps["swapd"]
    assert isinstance(app, SwapdApp)
    app.update(482140, cooked="<p>Compte Instagram @gallimard.fr, 1,8 M abonnés.</p><p>Prix : 2 100 €</p>")
    second = await crawl(SwapdSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert second.stats["brandcrawl/hits/new"] == 0
    assert count(db_url, ListingRow) == len(HITS)
    # Compared as numbers: the store writes the new value as the item has it ("2100"), the old one as read
    # back from its column ("2500.00").
    changes = [(c.field, Decimal(c.old_value), Decimal(c.new_value)) for c in rows(db_url, ListingChange)]
    assert changes == [("price", Decimal("2500"), Decimal("2100"))]


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl_not_zero_hits(
    swapd_replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    swapd_replica.blocked = True
    result = await crawl(
        SwapdSpider, crawl_settings(watch_path, db_url), base_url=f"{swapd_replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 6, "2 searches and 4 categories"
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"
    assert "challenge" in run.detail


@deferred_f_from_coro_f
async def test_a_changed_api_is_a_broken_crawl_and_loses_nothing_stored(
    swapd_replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    base_url = f"{swapd_replica.base_url}/{{site}}"
    await crawl(SwapdSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    swapd_replica.layout_changed = True
    result = await crawl(SwapdSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert result.items == []
    assert result.stats["brandcrawl/parse_errors"] == 6
    assert count(db_url, ListingRow) == len(HITS), "yesterday's listings are kept"
    first, second = sorted(rows(db_url, CrawlRun), key=lambda run: run.id)
    assert (first.status, second.status) == ("ok", "broken")
    assert "parse errors" in second.detail


@deferred_f_from_coro_f
async def test_discourses_stock_robots_txt_leaves_the_categories(watch_path: Path, db_url: str) -> None:
    """Stock Discourse's robots.txt forbids /search to every crawler but Googlebot
    (RobotsTxtController); the replica mounts the site under /swapd.co, as Discourse's base_path."""
    robots_txt = (
        "User-agent: *\nDisallow: /swapd.co/admin/\nDisallow: /swapd.co/u/\nDisallow: /swapd.co/search\n"
    )
    with ReplicaMarketplace(apps=[SwapdApp], robots_txt=robots_txt) as replica:
        result = await crawl(
            SwapdSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
        )
        assert not any("/search.json" in path for path in replica.requests)
        assert any(path.startswith("/swapd.co/c/") for path in replica.requests)
    # Every hit of the seed sits in one of the default categories.
    assert {item.listing_id for item in result.items} == set(HITS)
    assert result.stats["brandcrawl/run/status"] == "disallowed"
    [run] = rows(db_url, CrawlRun)
    assert "robots.txt forbids 2 of the search pages" in run.detail


@deferred_f_from_coro_f
async def test_search_off_reads_the_categories_only_and_is_healthy(tmp_path: Path, db_url: str) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(WATCH + "\n[marketplaces.swapd]\nsearch = false\n", encoding="utf-8")
    robots_txt = "User-agent: *\nDisallow: /swapd.co/search\n"
    with ReplicaMarketplace(apps=[SwapdApp], robots_txt=robots_txt) as replica:
        result = await crawl(
            SwapdSpider, crawl_settings(watch, db_url), base_url=f"{replica.base_url}/{{site}}"
        )
    assert {item.listing_id for item in result.items} == set(HITS)
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert "robotstxt/forbidden" not in result.stats


@deferred_f_from_coro_f
async def test_a_hit_gone_from_the_forum_is_revisited_and_found_gone(
    swapd_replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    base_url = f"{swapd_replica.base_url}/{{site}}"
    first = await crawl(SwapdSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert "brandcrawl/revisits/sent" not in first.stats
    app = swapd_replica.apps["swapd"]
    assert isinstance(app, SwapdApp)
    app.remove(482250)  # deleted by staff: Discourse answers 404

    second = await crawl(SwapdSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert second.stats["brandcrawl/revisits/sent"] == 1
    assert second.stats["brandcrawl/revisits/gone"] == 1
    assert "/swapd.co/t/482250.json" in swapd_replica.requests
    assert {(c.field, c.old_value, c.new_value) for c in rows(db_url, ListingChange)} == {
        ("status", "active", "gone")
    }
