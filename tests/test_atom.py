"""The Atom spider on constructed pages (tests/fixtures/atom/README.md) and whole crawls of the
replica's Atom over HTTP."""

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.atom import AtomApp
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.atom import AtomSpider
from tests.conftest import (
    WATCH,
    count,
    crawl,
    crawl_settings,
    normalised,
    parsed,
    parsing_spider,
    rows,
    stat,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "atom"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SEARCH = "https://www.atom.com/premium-domains-for-sale/all/q/Gallimard"
AGED = "https://www.atom.com/aged-domains"


def page(
    name: str, url: str = SEARCH, status: int = 200, body: str | None = None, **meta: object
) -> HtmlResponse:
    request = Request(url, meta={"site": "atom.com", **meta})
    content = body if body is not None else (FIXTURES / name).read_text(encoding="utf-8")
    return HtmlResponse(url=url, status=status, body=content, encoding="utf-8", request=request)


def edited(name: str, old: str, new: str) -> str:
    body = (FIXTURES / name).read_text(encoding="utf-8")
    assert old in body
    return body.replace(old, new)


@pytest.fixture
def spider(watch_path: Path) -> AtomSpider:
    return parsing_spider(AtomSpider, watch_path)


def test_a_search_page_gives_every_name_and_the_next_page(spider) -> None:
    listings, requests = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    assert [(item.listing_id, item.title) for item in listings] == [
        ("gallimardbooks.com", "GallimardBooks.com"),
        ("gallimard.ai", "Gallimard.ai"),
        ("gallimardjeunesse.com", "GallimardJeunesse.com"),
        ("gallimard.fr", "Gallimard.fr"),
    ]
    [next_page] = requests
    assert (next_page.url, next_page.meta["page"], next_page.meta["query"]) == (
        f"{SEARCH}/page/2",
        2,
        "Gallimard",
    )
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_every_field_of_a_domain_hit(spider) -> None:
    listings, _ = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    hit = through_pipelines(spider, listings[0], NOW)
    assert (hit.marketplace, hit.site, hit.listing_id) == ("atom", "atom.com", "gallimardbooks.com")
    assert hit.url == "https://www.atom.com/name/GallimardBooks"
    assert hit.title == "GallimardBooks.com"
    assert (hit.asset_kind, hit.asset, hit.asset_text) == (
        "domain",
        "gallimardbooks.com",
        "GallimardBooks.com",
    )
    assert (hit.price, hit.currency, hit.price_text) == (Decimal("2995"), "USD", "$2,995")
    assert (hit.sale_method, hit.bid_count, hit.end_time, hit.status) == ("fixed", None, None, "active")
    assert (hit.seller, hit.category, hit.followers) == (None, None, None), "Atom names no seller"
    assert hit.details == {
        "domain_unicode": "gallimardbooks.com",
        "registrable": "gallimardbooks.com",
        "suffix": "com",
    }
    assert [(m["brand"], m["kind"], m["rule"]) for m in hit.matches] == [
        ("Gallimard", "domain", "exact+affix")
    ]


def test_make_offer_is_an_offer_without_a_price(spider) -> None:
    listings, _ = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    hit = through_pipelines(spider, listings[2], NOW)
    assert (hit.asset, hit.sale_method) == ("gallimardjeunesse.com", "offer")
    assert (hit.price, hit.currency, hit.price_text) == (None, None, None)
    assert stat(spider, "brandcrawl/listings/price_unparsed") is None, (
        "no unreadable price for the run's health"
    )


def test_the_brands_own_domain_is_not_reported(spider) -> None:
    listings, _ = parsed(spider, page("search_gallimard.html", query="Gallimard"))
    official = next(item for item in listings if item.asset == "gallimard.fr")
    with pytest.raises(DropItem):
        through_pipelines(spider, official, NOW)


def test_the_last_search_page_and_a_misspelled_brand(spider) -> None:
    url = f"{SEARCH}/page/2"
    listings, requests = parsed(spider, page("search_gallimard_page2.html", url, query="Gallimard", page=2))
    assert requests == []
    assert [item.asset for item in listings] == ["editionsgallimard.com", "gallimardo.com"]
    typo = through_pipelines(spider, listings[1], NOW)
    assert [(m["brand"], m["rule"]) for m in typo.matches] == [("Gallimard", "typo")]
    assert typo.price == Decimal("1995")


@pytest.mark.parametrize(
    ("shown", "amount", "currency"),
    [
        ("$2,995", Decimal("2995"), "USD"),
        ("$12,500.00", Decimal("12500.00"), "USD"),
        ("US$4,850", Decimal("4850"), "USD"),
        ("$2.5k", Decimal("2500"), "USD"),
        ("2 500 €", Decimal("2500"), "EUR"),
        ("1\u00a0800,00\u00a0€", Decimal("1800.00"), "EUR"),
    ],
)
def test_odd_price_texts(spider, shown: str, amount: Decimal, currency: str) -> None:
    body = edited(
        "search_gallimard.html",
        '<div class="domain-price">$2,995</div>',
        f'<div class="domain-price">{shown}</div>',
    )
    listings, _ = parsed(spider, page("", body=body, query="Gallimard"))
    hit = normalised(spider, listings[0], NOW)
    assert (hit.price, hit.currency, hit.sale_method) == (amount, currency, "fixed")
    assert (hit.followers, hit.followers_text) == (None, None), "a domain has no followers"


def test_a_listing_page_read_whole_keeps_its_category(spider) -> None:
    listings, requests = parsed(spider, page("aged_domains.html", AGED, category="aged-domains"))
    assert [item.asset for item in listings] == [
        "gallimardo.com",
        "portfolioly.com",
        "gallimrd.com",
        "zentrova.com",
    ]
    assert {item.category for item in listings} == {"aged-domains"}
    [next_page] = requests
    assert (next_page.url, next_page.meta["category"]) == (f"{AGED}/page/2", "aged-domains")
    hits = []
    for listing in listings:
        with contextlib.suppress(DropItem):
            hits.append(through_pipelines(spider, listing, NOW).asset)
    assert hits == ["gallimardo.com", "gallimrd.com"], "folio inside portfolio is not the brand"


def test_a_tracking_parameter_is_left_out_of_the_link(spider) -> None:
    body = edited(
        "search_gallimard.html",
        'class="domain-name" href="https://www.atom.com/name/GallimardBooks"',
        'class="domain-name" href="/name/GallimardBooks?lp=d"',
    )
    listings, _ = parsed(spider, page("", body=body, query="Gallimard"))
    assert listings[0].url == "https://www.atom.com/name/GallimardBooks"


def test_a_cloudflare_challenge_is_counted_as_blocked_not_as_no_results(spider) -> None:
    listings, requests = parsed(spider, page("blocked.html", status=403, query="Gallimard"))
    assert (listings, requests) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None


def test_a_challenge_served_with_200_is_blocked_too(spider) -> None:
    parsed(spider, page("blocked.html", query="Gallimard"))
    assert stat(spider, "brandcrawl/pages/blocked") == 1


def test_a_layout_change_is_counted_as_unexpectedly_empty(spider) -> None:
    listings, requests = parsed(spider, page("layout_changed.html", query="Gallimard"))
    assert listings == []
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1
    assert len(requests) == 1, "the script still says there is a second page"


def test_a_real_zero_results_page_is_fine(spider) -> None:
    url = "https://www.atom.com/premium-domains-for-sale/all/q/Gallimard%20zzqx"
    listings, requests = parsed(spider, page("search_no_results.html", url, query="Gallimard zzqx"))
    assert (listings, requests) == ([], [])
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None
    assert stat(spider, "brandcrawl/pages/parsed") == 1


def test_a_page_without_its_page_count_is_a_parse_error(spider) -> None:
    body = edited("search_gallimard.html", "totalPages: 2,", "pageCount: 2,")
    listings, requests = parsed(spider, page("", body=body, query="Gallimard"))
    assert (listings, requests) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/atom.com/failed") == 1


def test_a_name_without_its_link_is_a_parse_error(spider) -> None:
    body = edited(
        "search_gallimard.html",
        '<a class="domain-name" href="https://www.atom.com/name/Gallimard.ai">',
        '<a class="domain-name">',
    )
    listings, _ = parsed(spider, page("", body=body, query="Gallimard"))
    assert "gallimard.ai" not in [item.asset for item in listings]
    assert len(listings) == 3
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_a_name_without_its_price_is_kept_but_counted(spider) -> None:
    body = edited("search_gallimard.html", '<div class="domain-price">$4,850</div>', "")
    listings, _ = parsed(spider, page("", body=body, query="Gallimard"))
    by_asset = {item.asset: item for item in listings}
    assert (by_asset["gallimard.ai"].price_text, by_asset["gallimard.ai"].sale_method) == (None, None)
    assert by_asset["gallimardjeunesse.com"].sale_method == "offer", "the next name keeps its own price"
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_a_name_without_a_domain_is_no_listing(spider) -> None:
    body = edited("search_gallimard.html", ">GallimardBooks.com</a>", ">Gallimard Books</a>")
    listings, _ = parsed(spider, page("", body=body, query="Gallimard"))
    assert [item.asset for item in listings] == ["gallimard.ai", "gallimardjeunesse.com", "gallimard.fr"]
    assert stat(spider, "brandcrawl/parse_errors") is None


def test_search_and_listing_urls(spider) -> None:
    [site] = spider.sites
    assert spider.search_url(site, "Éditions Gallimard") == (
        "https://www.atom.com/premium-domains-for-sale/all/q/%C3%89ditions%20Gallimard"
    )
    assert (
        spider.category_url(site, "ultra-premium-marketplace")
        == "https://www.atom.com/ultra-premium-marketplace"
    )


def test_an_unknown_listing_page_is_refused_before_the_crawl(tmp_path: Path) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(
        WATCH.replace("[[brands]]", '[marketplaces.atom]\ncategories = ["expired-domains"]\n\n[[brands]]', 1),
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="unknown categories expired-domains"):
        parsing_spider(AtomSpider, watch)


# --- whole crawls of the replica


@pytest.fixture
def replica() -> Iterator[ReplicaMarketplace]:
    with ReplicaMarketplace(apps=[AtomApp]) as server:
        yield server


HITS = {
    "gallimardbooks.com": "fixed",
    "gallimard.ai": "fixed",
    "gallimardjeunesse.com": "offer",
    "editionsgallimard.com": "fixed",
    "gallimardo.com": "fixed",
    "folio.ai": "fixed",
    "folioshop.com": "fixed",
    "getfolio.com": "fixed",
    "folioapp.com": "offer",
}


@deferred_f_from_coro_f
async def test_a_crawl_finds_the_brand_domains_on_sale(replica, watch_path: Path, db_url: str) -> None:
    result = await crawl(
        AtomSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert {item.asset: item.sale_method for item in result.items} == HITS
    assert not {"gallimard.fr", "portfolioly.com", "folioly.com"} & {item.asset for item in result.items}
    assert {item.currency for item in result.items if item.sale_method == "fixed"} == {"USD"}
    assert all(item.asset_kind == "domain" and item.url.startswith(replica.base_url) for item in result.items)
    by_asset = {item.asset: item for item in result.items}
    assert by_asset["folio.ai"].price == Decimal("12500")
    assert by_asset["folio.ai"].url == f"{replica.base_url}/atom.com/name/Folio.ai"

    searched = [path for path in replica.requests if path.startswith("/atom.com/")]
    assert sorted(searched) == [
        "/atom.com/premium-domains-for-sale/all/q/Folio",
        "/atom.com/premium-domains-for-sale/all/q/Folio/page/2",
        "/atom.com/premium-domains-for-sale/all/q/Gallimard",
        "/atom.com/premium-domains-for-sale/all/q/Gallimard/page/2",
    ], "each search followed to its last page, and no further"
    assert result.stats["brandcrawl/pages/parsed"] == 4
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert count(db_url, ListingRow) == len(HITS)
    stored = {row.asset: row for row in rows(db_url, ListingRow)}
    assert (stored["gallimardbooks.com"].price, stored["gallimardbooks.com"].currency) == (
        Decimal("2995"),
        "USD",
    )
    assert stored["gallimardbooks.com"].details["suffix"] == "com"


@deferred_f_from_coro_f
async def test_max_pages_stops_the_paging(replica, watch_path: Path, db_url: str) -> None:
    result = await crawl(
        AtomSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}", max_pages=1
    )
    assert not [path for path in replica.requests if "/page/" in path]
    first_pages = {"gallimardbooks.com", "gallimard.ai", "gallimardjeunesse.com", "folio.ai", "folioshop.com"}
    assert {item.asset for item in result.items} == first_pages | {"getfolio.com"}


@deferred_f_from_coro_f
async def test_a_listing_page_read_whole_finds_what_no_search_does(
    replica, tmp_path: Path, db_url: str
) -> None:
    watch = tmp_path / "watch.toml"
    table = '[marketplaces.atom]\ncategories = ["aged-domains"]\nsearch = false\n\n[[brands]]'
    watch.write_text(WATCH.replace("[[brands]]", table, 1), encoding="utf-8")
    result = await crawl(AtomSpider, crawl_settings(watch, db_url), base_url=f"{replica.base_url}/{{site}}")
    assert {item.asset: item.category for item in result.items} == {
        "gallimardo.com": "aged-domains",
        "gallimrd.com": "aged-domains",
    }
    assert [path for path in replica.requests if path.startswith("/atom.com/")] == [
        "/atom.com/aged-domains",
        "/atom.com/aged-domains/page/2",
    ]
    assert result.stats["brandcrawl/run/status"] == "ok"


@deferred_f_from_coro_f
async def test_a_cloudflare_challenge_is_a_blocked_crawl(replica, watch_path: Path, db_url: str) -> None:
    replica.blocked = True
    result = await crawl(
        AtomSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 2  # the two searches
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_a_layout_change_is_a_broken_crawl_that_keeps_what_was_stored(
    replica, watch_path: Path, db_url: str
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    first = await crawl(AtomSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    replica.layout_changed = True
    second = await crawl(AtomSpider, crawl_settings(watch_path, db_url), base_url=base_url)
    assert second.items == []
    assert second.stats["brandcrawl/run/status"] == "broken"
    assert second.stats["brandcrawl/pages/unexpected_empty"] == 4
    assert count(db_url, ListingRow) == len(first.items) == len(HITS)
    assert [run.status for run in rows(db_url, CrawlRun)] == ["ok", "broken"]
