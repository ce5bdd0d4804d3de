"""The eBay spider on saved pages in both markups and four locales (tests/fixtures/ebay/README.md)."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse

from brandcrawl.items import Listing
from spiders.ebay import EbaySpider
from tests.conftest import normalised, parsing_spider

FIXTURES = Path(__file__).parent / "fixtures" / "ebay"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


def page(name: str, site: str = "ebay.com") -> HtmlResponse:
    url = f"https://www.{site}/sch/i.html?_nkw=gallimard&_sop=10"
    return HtmlResponse(url=url, body=(FIXTURES / name).read_bytes(), encoding="utf-8", request=Request(url))


@pytest.fixture
def spider(watch_path: Path) -> EbaySpider:
    return parsing_spider(EbaySpider, watch_path)


def parsed(spider: EbaySpider, name: str, site: str = "ebay.com") -> tuple[list[Listing], list[Request]]:
    output = list(spider.parse(page(name, site)))
    return [o for o in output if isinstance(o, Listing)], [o for o in output if isinstance(o, Request)]


@pytest.mark.parametrize(
    ("name", "site", "ids"),
    [
        (
            "scard_ebay_com.html",
            "ebay.com",
            ["377342825628", "117305985463", "398174416741", "298505076265", "168535828393"],
        ),
        (
            "sitem_ebay_com.html",
            "ebay.com",
            ["254871683242", "184662176991", "184662192574", "303885539268", "224354979708"],
        ),
        (
            "scard_ebay_de.html",
            "ebay.de",
            ["305612840117", "305612837461", "305612841358", "305612842773", "305612839902"],
        ),
        (
            "scard_ebay_fr.html",
            "ebay.fr",
            ["226104940336", "226104938275", "226104941802", "226104942519", "226104939914"],
        ),
        (
            "sitem_ebay_co_uk.html",
            "ebay.co.uk",
            ["314928383890", "314928377105", "314928379960", "314928382517", "314928381244"],
        ),
    ],
)
def test_every_result_card_and_nothing_else(spider: EbaySpider, name: str, site: str, ids: list[str]) -> None:
    """The "Shop on eBay" placeholder, "Recently viewed" cards and left-rail items are not listings."""
    listings, requests = parsed(spider, name, site)
    assert [listing.listing_id for listing in listings] == ids
    assert {listing.site for listing in listings} == {site}
    for listing in listings:
        assert listing.url.startswith(f"https://www.{site}/itm/")
        assert listing.url.endswith(listing.listing_id)
    assert all("?" not in listing.url for listing in listings), "tracking parameters dropped"
    assert [request.url for request in requests]
    assert "_pgn=2" in requests[0].url
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") == 1


@pytest.mark.parametrize(
    ("name", "site", "listing_id", "title", "price", "currency", "bids", "end_time", "seller"),
    [
        (
            "scard_ebay_com.html",
            "ebay.com",
            "168535828393",
            "7 Nintendo Switch DS 3DS Pokemon Empty Game Cases No Games",
            "41.00",
            "USD",
            17,
            datetime(2026, 11, 27, 8, 3, tzinfo=UTC),
            "gg_collectibles0",
        ),
        (
            "scard_ebay_com.html",
            "ebay.com",
            "298505076265",  # a customs row before the seller row
            "Mew V 060/159 Crown Zenith Pokemon Card Mint / NM Condition",
            "7.39",
            "USD",
            0,
            datetime(2026, 11, 27, 8, 0, 49, tzinfo=UTC),
            "mintetcg",
        ),
        (
            "scard_ebay_com.html",
            "ebay.com",
            "377342825628",  # auction + Buy It Now: the current bid
            "The Pokémon Company AGS 8 Blastoise ex 009/165 SV 151 Holo Eng 2023 DR",
            "10.00",
            "USD",
            0,
            None,
            "bray-richh",
        ),
        (
            "sitem_ebay_com.html",
            "ebay.com",
            "184662176991",
            "Hot Toys Star Wars Darth Maul 1:6 Scale Figure Solo A Star Wars Story DX18 New",
            "237.50",
            "USD",
            17,
            datetime(2026, 11, 28, 14, 0, tzinfo=UTC),
            None,
        ),
        (
            "sitem_ebay_com.html",
            "ebay.com",
            "254871683242",  # "New Listing" badge left out
            "Star Wars Hot Toys Shock Trooper",
            "345.00",
            "USD",
            None,
            None,
            None,
        ),
        (
            "sitem_ebay_com.html",
            "ebay.com",
            "303885539268",  # sponsored: tag block left out
            'Hot Toys Star Wars "SHADOW TROOPER" 1/6 *Sideshow Exclusive* Figure MMS 271',
            "400.00",
            "USD",
            None,
            None,
            None,
        ),
        (
            "scard_ebay_de.html",
            "ebay.de",
            "305612837461",
            "Instagram Account @gallimard_officiel 12K Follower",
            "1500.00",
            "EUR",
            3,
            datetime(2026, 11, 29, 11, 0, tzinfo=UTC),
            "social_growth_24",
        ),
        (
            "scard_ebay_fr.html",
            "ebay.fr",
            "226104938275",
            "Vends compte Twitter @Gallimard 1800 abonnés",
            "1500.00",
            "EUR",
            5,
            datetime(2026, 11, 28, 10, 0, tzinfo=UTC),
            "reseaux_pro_75",
        ),
        (
            "sitem_ebay_co_uk.html",
            "ebay.co.uk",
            "314928377105",
            "gallimard-shop.co.uk premium domain name",
            "1299.99",
            "GBP",
            4,
            datetime(2026, 11, 29, 13, 0, tzinfo=UTC),
            None,
        ),
    ],
    ids=lambda value: value if isinstance(value, str) and value.endswith(".html") else "",
)
def test_fields_of_a_card(
    spider: EbaySpider,
    name: str,
    site: str,
    listing_id: str,
    title: str,
    price: str,
    currency: str,
    bids: int | None,
    end_time: datetime | None,
    seller: str | None,
) -> None:
    listings, _ = parsed(spider, name, site)
    listing = normalised(spider, next(item for item in listings if item.listing_id == listing_id), NOW)
    assert listing.title == title, "hidden 'opens in a new window' text in every language is stripped"
    assert (listing.price, listing.currency, listing.price_is_range) == (Decimal(price), currency, False)
    assert listing.bid_count == bids
    assert listing.end_time == end_time
    assert listing.seller == seller


def test_an_ended_auction_is_marked_ended(spider: EbaySpider) -> None:
    listings, _ = parsed(spider, "scard_ebay_fr.html", "ebay.fr")
    ended = normalised(spider, next(item for item in listings if item.listing_id == "226104940336"), NOW)
    assert (ended.status, ended.end_time) == ("ended", None)


def test_what_the_listing_sells(spider: EbaySpider) -> None:
    listings = [normalised(spider, item, NOW) for item in parsed(spider, "scard_ebay_fr.html", "ebay.fr")[0]]
    assets = {item.listing_id: (item.asset_kind, item.asset) for item in listings}
    assert assets["226104938275"] == ("handle", "x:gallimard")
    assert assets["226104940336"] == ("domain", "gallimard-livres.fr")
    assert assets["226104941802"] == ("other", None)


def test_a_challenge_page_is_counted_as_blocked_not_as_no_results(spider: EbaySpider) -> None:
    listings, requests = parsed(spider, "blocked.html")
    assert (listings, requests) == ([], [])
    assert spider.crawler.stats.get_value("brandcrawl/pages/blocked") == 1
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") is None


def test_a_layout_change_is_counted_as_unexpectedly_empty(spider: EbaySpider) -> None:
    listings, _ = parsed(spider, "scard_layout_changed.html")
    assert listings == []
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") == 1


def test_a_real_zero_results_page_is_fine(spider: EbaySpider) -> None:
    listings, requests = parsed(spider, "scard_no_results.html")
    assert (listings, requests) == ([], [])
    assert spider.crawler.stats.get_value("brandcrawl/pages/unexpected_empty") is None
    assert spider.crawler.stats.get_value("brandcrawl/pages/parsed") == 1


def test_pagination_stops_at_max_pages(spider: EbaySpider) -> None:
    spider.max_pages = 2
    response = page("scard_ebay_com.html")
    last = response.replace(request=Request(response.url, meta={"page": 2}))
    assert not [o for o in spider.parse(last) if isinstance(o, Request)]


def test_sale_methods(spider: EbaySpider) -> None:
    listings, _ = parsed(spider, "sitem_ebay_com.html")
    methods = {item.listing_id: item.sale_method for item in listings}
    assert methods == {
        "254871683242": "offer",  # Shock Trooper, "or Best Offer"
        "184662176991": "auction",  # Darth Maul, 17 bids
        "184662192574": "auction",
        "303885539268": "fixed",  # Shadow Trooper, "Buy It Now"
        "224354979708": "auction",  # Kylo Ren, 1 bid
    }
