"""eBay's Browse API: parsing its JSON (tests/fixtures/ebay_api/README.md), the application token, and
whole crawls of the replica's API over real HTTP."""

import base64
import json
import logging
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.replica import ReplicaMarketplace, load_seed
from brandcrawl.replica.ebay import EbayApp
from brandcrawl.replica.ebay_api import EbayApiApp
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders import ebay_api
from spiders.ebay import EbaySpider
from spiders.ebay_api import EbayApiSpider
from tests.conftest import (
    WATCH,
    crawl,
    crawl_settings,
    parsed,
    parsing_spider,
    rows,
    stat,
    stored_text,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "ebay_api"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
API = "https://api.ebay.com"
SEARCH = f"{API}/buy/browse/v1/item_summary/search?q=gallimard&limit=200"
WATCH_API = WATCH.replace(
    'sites = ["ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"]',
    'sites = ["ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"]\n'
    'credentials_env = { client_id = "EBAY_CLIENT_ID", client_secret = "EBAY_CLIENT_SECRET" }',
)
CLIENT_ID, CLIENT_SECRET = "replica-client-id", "replica-client-secret"
BUYING, MARKETPLACE = "buyingOptions:{AUCTION|FIXED_PRICE}", "X-EBAY-C-MARKETPLACE-ID"
MARKETPLACES = {"ebay.com": "EBAY_US", "ebay.fr": "EBAY_FR", "ebay.de": "EBAY_DE", "ebay.co.uk": "EBAY_GB"}


@pytest.fixture
def watch_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A watch file naming the keyset's variables, and the replica's keyset in them."""
    monkeypatch.setenv("EBAY_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("EBAY_CLIENT_SECRET", CLIENT_SECRET)
    path = tmp_path / "watch.toml"
    path.write_text(WATCH_API, encoding="utf-8")
    return path


def json_response(
    body: str | bytes, url: str = SEARCH, status: int = 200, request: Request | None = None, **meta: object
) -> TextResponse:
    data = body.encode("utf-8") if isinstance(body, str) else body
    request = request or Request(url, meta={"site": "ebay.com", "page": 1, **meta})
    return TextResponse(
        url=request.url,
        body=data,
        status=status,
        encoding="utf-8",
        headers={"Content-Type": "application/json"},
        request=request,
    )


def fixture(name: str, **kwargs: object) -> TextResponse:
    return json_response((FIXTURES / name).read_bytes(), **kwargs)


def new_spider(watch: Path, **kwargs: object) -> EbayApiSpider:
    return parsing_spider(EbayApiSpider, watch, **kwargs)


@pytest.fixture
def spider(watch_api: Path) -> EbayApiSpider:
    """A spider holding a token, as after its first token answer."""
    spider = new_spider(watch_api)
    list(spider.after_login(fixture("token.json", url=f"{API}/identity/v1/oauth2/token")))
    return spider


# -- parsing -------------------------------------------------------------------------------------


def test_every_item_of_a_page_and_the_next_page(spider: EbayApiSpider) -> None:
    listings, requests = parsed(spider, fixture("search_ebay_com.json"))
    assert [listing.listing_id for listing in listings] == [
        "176033835717", "306112470011", "306112470022", "306112470033", "306112470044", "306112470055",
    ]  # fmt: skip
    assert {(listing.marketplace, listing.site) for listing in listings} == {("ebay", "ebay.com")}
    assert listings[0].url == "https://www.ebay.com/itm/176033835717", "tracking parameters dropped"
    [next_page] = requests
    assert next_page.url.endswith("&offset=200")
    assert next_page.headers["Authorization"].startswith(b"Bearer v^1.1#")
    assert next_page.headers["X-EBAY-C-MARKETPLACE-ID"] == b"EBAY_US"
    assert next_page.meta["page"] == 2
    assert stat(spider, "brandcrawl/pages/parsed") == 1


@pytest.mark.parametrize(
    ("listing_id", "price", "currency", "bids", "end_time", "sale_method", "seller", "category", "details"),
    [
        (  # the sample's own item: fixed price that takes offers
            "176033835717", "1370.00", "USD", None, None, "fixed", "scrambled", "Graphics/Video Cards",
            {"buying_options": ["FIXED_PRICE", "BEST_OFFER"]},
        ),
        (  # an auction in the documented shape: the current bid, the bid count, the end date
            "306112470033", "250.00", "USD", 7, datetime(2026, 11, 28, 14, 0, tzinfo=UTC), "auction",
            "social_growth_24", "Other", {"buying_options": ["AUCTION"]},
        ),
        (  # an auction with Buy It Now: its price is the current bid, Buy It Now kept aside
            "306112470044", "120.00", "USD", 2, datetime(2026, 11, 29, 9, 30, tzinfo=UTC), "auction",
            "social_growth_24", "Other",
            {"buying_options": ["AUCTION", "FIXED_PRICE"], "buy_it_now_price": "400.00 USD"},
        ),
        (  # Best Offer alone: no price of its own
            "306112470055", None, None, None, None, "offer", "handle_brokers", "Other",
            {"buying_options": ["BEST_OFFER"]},
        ),
    ],
)  # fmt: skip
def test_fields_of_an_item(
    spider: EbayApiSpider,
    listing_id: str,
    price: str | None,
    currency: str | None,
    bids: int | None,
    end_time: datetime | None,
    sale_method: str,
    seller: str,
    category: str,
    details: dict,
) -> None:
    listings, _ = parsed(spider, fixture("search_ebay_com.json"))
    listing = next(item for item in listings if item.listing_id == listing_id)
    assert (listing.price, listing.currency) == (Decimal(price) if price else None, currency)
    assert (listing.bid_count, listing.end_time, listing.sale_method) == (bids, end_time, sale_method)
    assert (listing.seller, listing.category, listing.details) == (seller, category, details)
    assert listing.url == f"https://www.ebay.com/itm/{listing_id}"
    assert (listing.price_text, listing.bids_text, listing.time_left_text) == (None, None, None)


@pytest.mark.parametrize(
    ("name", "listing_id", "asset", "written", "followers", "price", "currency", "sale_method"),
    [
        ("search_ebay_com.json", "306112470011", "x:gallimard", "x.com/Gallimard", 12_000, "1500.00", "USD",
         "fixed"),
        ("search_ebay_com.json", "306112470033", "tiktok:gallimardjeunesse", "@gallimardjeunesse", 12_000,
         "250.00", "USD", "auction"),  # the followers from the short description
        ("search_ebay_com.json", "306112470044", "instagram:gallimard_officiel", "@gallimard_officiel", None,
         "120.00", "USD", "auction"),
        ("search_ebay_com.json", "306112470055", "x:gallimardbooks", "@GallimardBooks", 3_400, "2500", "USD",
         "offer"),  # "Asking $2.5k" in the description
        ("search_ebay_fr.json", "226104960011", "instagram:gallimard.fr", "@gallimard.fr", 1_800_000,
         "2500.00", "EUR", "fixed"),  # "1,8 M abonnés"
        ("search_ebay_fr.json", "226104960022", "tiktok:gallimard_livres", "@gallimard_livres", 45_000,
         "2500", "EUR", "offer"),  # "45 k abonnés", "Prix : 2 500 €"
    ],
)  # fmt: skip
def test_a_handle_hit_carries_what_the_digest_shows(
    spider: EbayApiSpider,
    name: str,
    listing_id: str,
    asset: str,
    written: str,
    followers: int | None,
    price: str,
    currency: str,
    sale_method: str,
) -> None:
    listings, _ = parsed(spider, fixture(name))
    hit = through_pipelines(spider, next(item for item in listings if item.listing_id == listing_id), NOW)
    assert (hit.asset_kind, hit.asset, hit.asset_text) == ("handle", asset, written)
    assert hit.followers == followers
    assert (hit.price, hit.currency) == (Decimal(price), currency)
    assert hit.sale_method == sale_method
    assert [match["brand"] for match in hit.matches] == ["Gallimard"]
    assert hit.seller
    assert hit.url.endswith(f"/itm/{listing_id}")


def test_the_brands_own_account_and_other_goods_are_no_hits(spider: EbayApiSpider) -> None:
    listings, _ = parsed(spider, fixture("search_ebay_com.json"))
    for listing_id in ("306112470022", "176033835717"):  # Instagram @gallimard; a graphics card
        with pytest.raises(DropItem):
            through_pipelines(spider, next(item for item in listings if item.listing_id == listing_id), NOW)


def test_a_sparse_item_is_read_and_read_once(spider: EbayApiSpider) -> None:
    """The second sample page: the same item three times, with no price, seller or web URL."""
    listings, requests = parsed(spider, fixture("search_page_2.json", page=2))
    [listing] = listings
    assert (listing.listing_id, listing.url) == ("296057072805", "https://www.ebay.com/itm/296057072805")
    assert (listing.price, listing.seller, listing.category, listing.sale_method) == (None, None, None, None)
    assert [request.meta["page"] for request in requests] == [3]


def test_no_results_is_fine(spider: EbayApiSpider) -> None:
    assert parsed(spider, fixture("search_no_results.json")) == ([], [])
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None


def test_a_renamed_list_is_a_layout_change(spider: EbayApiSpider) -> None:
    listings, _ = parsed(spider, fixture("search_layout_changed.json"))
    assert listings == []
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1


@pytest.mark.parametrize(
    "body",
    [
        '{"href": "x", "total": 3, "itemSummaries": [{"itemId": "v1|1',  # cut short
        "[]",
        '{"itemSummaries": [], "count": 0}',  # no total
        '{"total": 1, "itemSummaries": [{"itemId": "not-an-id", "title": "x"}]}',
        '{"total": 1, "itemSummaries": [{"itemId": "v1|1|0", "title": "x", "price": {"value": "n/a"}}]}',
        "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body></body></html>",
    ],
    ids=["cut", "list", "no-total", "bad-id", "bad-price", "html-error-page"],
)
def test_an_answer_that_is_not_the_apis_is_a_parse_error(spider: EbayApiSpider, body: str) -> None:
    assert parsed(spider, json_response(body)) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/ebay.com/failed") == 1
    assert stat(spider, "brandcrawl/pages/parsed") is None


def test_an_edge_refusal_page_is_counted_as_blocked(spider: EbayApiSpider) -> None:
    body = (FIXTURES / "access_denied.html").read_bytes()
    response = HtmlResponse(
        url=SEARCH, body=body, status=403, request=Request(SEARCH, meta={"site": "ebay.com"})
    )
    assert parsed(spider, response) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1


def test_a_403_from_the_api_is_a_refusal(spider: EbayApiSpider) -> None:
    body = '{"errors": [{"errorId": 1100, "message": "Access denied"}]}'
    assert parsed(spider, json_response(body, status=403)) == ([], [])
    assert stat(spider, "brandcrawl/site/ebay.com/refused") == 1
    assert stat(spider, "brandcrawl/pages/blocked") is None


# -- the token ------------------------------------------------------------------------------------


def test_the_token_request_uses_the_keyset(watch_api: Path) -> None:
    spider = new_spider(watch_api)
    request = spider.login_request(spider.credentials or {})
    assert (request.method, request.url) == ("POST", f"{API}/identity/v1/oauth2/token")
    assert request.headers["Authorization"] == b"Basic " + base64.b64encode(
        f"{CLIENT_ID}:{CLIENT_SECRET}".encode()
    )
    assert parse_qs(request.body.decode()) == {
        "grant_type": ["client_credentials"],
        "scope": ["https://api.ebay.com/oauth/api_scope"],
    }
    assert CLIENT_SECRET not in request.url


def test_after_the_token_every_search_carries_it_and_its_marketplace(watch_api: Path) -> None:
    spider = new_spider(watch_api, sites="ebay.fr,ebay.de", brand="Gallimard")
    requests = list(spider.after_login(fixture("token.json")))
    token = json.loads((FIXTURES / "token.json").read_text())["access_token"]
    assert len(requests) == 2 * 7  # per site: the brand, then beside each of 6 account words
    assert {request.headers["Authorization"] for request in requests} == {f"Bearer {token}".encode()}
    assert [request.headers["X-EBAY-C-MARKETPLACE-ID"] for request in requests[:7]] == [b"EBAY_FR"] * 7
    assert [request.headers["X-EBAY-C-MARKETPLACE-ID"] for request in requests[7:]] == [b"EBAY_DE"] * 7
    query = parse_qs(urlsplit(requests[0].url).query)
    assert query == {
        "q": ["Gallimard"],
        "filter": ["buyingOptions:{AUCTION|FIXED_PRICE}"],
        "sort": ["newlyListed"],
        "limit": ["200"],
        "fieldgroups": ["EXTENDED"],
    }
    assert parse_qs(urlsplit(requests[7].url).query)["q"] == ["Gallimard"], "the same URL for every site"
    assert all(request.dont_filter for request in requests)


def test_a_refused_keyset_needs_login(watch_api: Path) -> None:
    spider = new_spider(watch_api)
    response = fixture("token_refused.json", status=401)
    assert list(spider.after_login(response)) == []
    reason = stat(spider, "brandcrawl/needs_login")
    assert isinstance(reason, str)
    assert "invalid_client: client authentication failed" in reason
    assert "credentials_env" in reason


def test_an_unreadable_token_answer_is_a_parse_error(watch_api: Path) -> None:
    spider = new_spider(watch_api, sites="ebay.fr", brand="Folio")
    assert list(spider.after_login(json_response('{"token_type": "Application Access Token"}'))) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/site/ebay.fr/failed") == stat(spider, "brandcrawl/searches") == 7


def test_the_token_is_renewed_before_it_expires(
    spider: EbayApiSpider, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, requests = parsed(spider, fixture("search_ebay_com.json"))
    assert [request.url for request in requests if "oauth2" in request.url] == []
    later = ebay_api.monotonic() + 7200 - 60  # the token lives 7,200 s: within the margin
    monkeypatch.setattr(ebay_api, "monotonic", lambda: later)
    _, requests = parsed(spider, fixture("search_ebay_com.json"))
    _, more = parsed(spider, fixture("search_ebay_com.json"))
    renewals = [request for request in [*requests, *more] if "oauth2" in request.url]
    assert len(renewals) == 1, "one renewal at a time"
    searches = list(renewals[0].callback(fixture("token.json")))
    assert searches == [], "nothing was waiting for it"


def refused(request: Request) -> TextResponse:
    return json_response((FIXTURES / "invalid_token.json").read_bytes(), status=401, request=request)


def test_a_refused_token_is_renewed_once_and_the_searches_sent_again(spider: EbayApiSpider) -> None:
    first, second = (spider.page_request(f"{SEARCH}&n={n}", spider.site_profiles["ebay.fr"]) for n in (1, 2))
    [renewal] = list(spider.parse(refused(first)))
    assert list(spider.parse(refused(second))) == [], "waits for the renewal under way"
    again = list(renewal.callback(fixture("token.json")))
    assert [request.url for request in again] == [first.url, second.url]
    assert all(request.meta["token_retried"] for request in again)
    assert {request.headers["X-EBAY-C-MARKETPLACE-ID"] for request in again} == {b"EBAY_FR"}
    assert list(spider.parse(refused(again[0]))) == [], "a new token refused too: the search is lost"
    assert stat(spider, "brandcrawl/site/ebay.fr/failed") == 1


def test_a_search_with_an_older_token_is_sent_with_the_current_one(spider: EbayApiSpider) -> None:
    older = spider.page_request(SEARCH, spider.site_profiles["ebay.com"])
    list(spider.after_login(fixture("token.json")))  # a newer token arrived meanwhile
    [again] = list(spider.parse(refused(older)))
    assert again.meta["token_generation"] == older.meta["token_generation"] + 1
    assert "oauth2" not in again.url


def test_no_keyset_named_is_needs_login_not_a_broken_watch_file(watch_path: Path) -> None:
    spider = new_spider(watch_path)  # conftest's watch: [marketplaces.ebay] without credentials_env
    assert spider.credentials is None
    assert "credentials_env" in (spider.needs_login_reason() or "")


def test_max_pages_comes_from_the_marketplace_table(tmp_path: Path, watch_api: Path) -> None:
    watch = tmp_path / "pages.toml"
    watch.write_text(WATCH_API.replace("[marketplaces.ebay]", "[marketplaces.ebay]\nmax_pages = 1"), "utf-8")
    assert new_spider(watch).max_pages == 1
    assert new_spider(watch, max_pages="2").max_pages == 2


# -- the replica's API ----------------------------------------------------------------------------


def call(
    url: str, headers: dict[str, str] | None = None, form: dict[str, str] | None = None
) -> tuple[int, dict]:
    data = urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def basic(client_id: str = CLIENT_ID, secret: str = CLIENT_SECRET) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


TOKEN_FORM = {"grant_type": "client_credentials", "scope": "https://api.ebay.com/oauth/api_scope"}


def test_the_replicas_token_endpoint(api_replica: ReplicaMarketplace) -> None:
    url = f"{api_replica.site_url('api.ebay.com')}/identity/v1/oauth2/token"
    status, answer = call(url, basic(), TOKEN_FORM)
    assert (status, answer["expires_in"], answer["token_type"]) == (200, 7200, "Application Access Token")
    assert call(url, basic(secret="wrong"), TOKEN_FORM) == (
        401, {"error": "invalid_client", "error_description": "client authentication failed"},
    )  # fmt: skip
    assert call(url, basic(), TOKEN_FORM | {"grant_type": "password"})[1]["error"] == "unsupported_grant_type"
    assert call(url, basic(), TOKEN_FORM | {"scope": "https://api.ebay.com/oauth/api_scope/sell"})[1] == {
        "error": "invalid_scope",
        "error_description": "The requested scope is invalid, unknown, malformed, "
        "or exceeds the scope granted to the client",
    }


def test_the_replicas_search_answers_in_the_apis_shape(api_replica: ReplicaMarketplace) -> None:
    api = api_replica.site_url("api.ebay.com")
    _, answer = call(f"{api}/identity/v1/oauth2/token", basic(), TOKEN_FORM)
    bearer = {"Authorization": f"Bearer {answer['access_token']}"}
    url = f"{api}/buy/browse/v1/item_summary/search?q=gallimard&limit=200&filter=" + quote(BUYING)

    status, first = call(url, bearer)  # no marketplace header: eBay answers for EBAY_US
    assert (status, first["total"], first["limit"], first["offset"]) == (200, 7, 4, 0)
    assert {item["listingMarketplaceId"] for item in first["itemSummaries"]} == {"EBAY_US"}
    ids = [item["legacyItemId"] for item in first["itemSummaries"]]
    assert ids == sorted(ids, reverse=True), "newest first"
    assert "306112463540" not in ids, "an ended listing is no longer found"
    tiktok = first["itemSummaries"][0]
    assert tiktok["itemId"] == "v1|306112470300|0"
    assert (tiktok["buyingOptions"], tiktok["bidCount"], tiktok["currentBidPrice"]) == (
        ["AUCTION"], 7, {"value": "250.00", "currency": "USD"},
    )  # fmt: skip
    assert "price" not in tiktok
    assert tiktok["itemEndDate"].endswith(".000Z")
    status, second = call(first["next"], bearer)
    assert (status, second["offset"], len(second["itemSummaries"]), "next" in second) == (200, 4, 3, False)

    status, fr = call(url.replace("q=gallimard", "q=gallimard+compte"), bearer | {MARKETPLACE: "EBAY_FR"})
    assert [item["legacyItemId"] for item in fr["itemSummaries"]] == ["226104960100", "226104951120"]
    assert fr["itemSummaries"][1]["currentBidPrice"] == {"value": "1500.00", "currency": "EUR"}
    assert call(url, {MARKETPLACE: "EBAY_FR"})[0] == 403, "no token"
    status, refused = call(url, {"Authorization": "Bearer v^1.1#made-up"})
    assert (status, refused["errors"][0]["errorId"]) == (401, 1001)
    assert api_app(api_replica).marketplaces == [None, None, "EBAY_FR"]


# -- whole crawls of the replica's API ----------------------------------------------------------


@pytest.fixture
def api_replica() -> Iterator[ReplicaMarketplace]:
    listings = [*load_seed(), *load_seed(FIXTURES / "seed_extra.toml")]
    with ReplicaMarketplace(listings, apps=[EbayApp, EbayApiApp]) as server:
        yield server


def api_app(replica: ReplicaMarketplace) -> EbayApiApp:
    app = replica.apps["ebay_api"]
    assert isinstance(app, EbayApiApp)
    return app


def token_posts(replica: ReplicaMarketplace) -> list[str]:
    return [path for path in replica.requests if path.startswith("POST ") and "oauth2/token" in path]


def searches(replica: ReplicaMarketplace) -> list[str]:
    return [path for path in replica.requests if "/item_summary/search" in path]


@deferred_f_from_coro_f
async def test_a_crawl_of_the_api_finds_the_handle_sales(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str
) -> None:
    base_url = f"{api_replica.base_url}/{{site}}"
    result = await crawl(EbayApiSpider, crawl_settings(watch_api, db_url), base_url=base_url)

    assets = {item.asset for item in result.items}
    assert {"x:gallimard", "instagram:gallimard_officiel", "tiktok:gallimardjeunesse"} <= assets
    assert "instagram:gallimard.fr" in assets
    assert "306112470200" not in {item.listing_id for item in result.items}, "the brand's own Instagram"
    assert not any("Pléiade" in item.title for item in result.items), "an exclusion of the watch file"
    tiktok = next(item for item in result.items if item.asset == "tiktok:gallimardjeunesse")
    assert (tiktok.price, tiktok.currency, tiktok.bid_count, tiktok.sale_method) == (
        Decimal("250.00"), "USD", 7, "auction",
    )  # fmt: skip
    assert tiktok.end_time is not None
    assert (tiktok.followers, tiktok.seller, tiktok.url) == (
        12_000, "social_growth_24", f"{api_replica.site_url('ebay.com')}/itm/306112470300",
    )  # fmt: skip

    assert len(token_posts(api_replica)) == 1, "one token for the whole crawl"
    assert set(api_app(api_replica).marketplaces) == set(MARKETPLACES.values())
    assert any("offset=4" in path for path in searches(api_replica)), "pagination followed"
    assert not any("robots.txt" in path for path in api_replica.requests)
    assert not any("/sch/" in path for path in api_replica.requests), "no search page read"

    stats = result.stats
    assert (stats["brandcrawl/run/status"], stats["brandcrawl/source"]) == ("ok", "api")
    assert stats["brandcrawl/hits/matched"] == len(result.items)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.source, run.status) == ("ebay", "api", "ok")
    assert len(rows(db_url, ListingRow)) == len(result.items)


@deferred_f_from_coro_f
async def test_a_token_that_expires_mid_crawl_is_renewed_once(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str
) -> None:
    base_url = f"{api_replica.base_url}/{{site}}"
    args = {"base_url": base_url, "sites": "ebay.fr", "brand": "Gallimard", "max_pages": "1"}
    steady = await crawl(EbayApiSpider, crawl_settings(watch_api, db_url), **args)
    api_replica.requests.clear()

    api_app(api_replica).token_uses = 4  # the first token answers 4 of the 7 searches
    result = await crawl(EbayApiSpider, crawl_settings(watch_api, db_url), **args)
    assert len(token_posts(api_replica)) == 2
    assert len(searches(api_replica)) == 7 + 3
    assert sorted(item.listing_id for item in result.items) == sorted(
        item.listing_id for item in steady.items
    )
    assert result.stats["brandcrawl/run/status"] == "ok"


@deferred_f_from_coro_f
async def test_a_wrong_keyset_is_a_run_that_needs_login(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str
) -> None:
    api_app(api_replica).client_secret = "another-secret"
    result = await crawl(
        EbayApiSpider, crawl_settings(watch_api, db_url), base_url=f"{api_replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert len(token_posts(api_replica)) == 1
    assert searches(api_replica) == []
    [run] = rows(db_url, CrawlRun)
    assert (run.status, run.source) == ("needs_login", "api")
    assert "invalid_client" in run.detail


@deferred_f_from_coro_f
async def test_without_the_keyset_nothing_is_sent(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EBAY_CLIENT_SECRET")
    result = await crawl(
        EbayApiSpider, crawl_settings(watch_api, db_url), base_url=f"{api_replica.base_url}/{{site}}"
    )
    assert api_replica.requests == []
    assert result.stats["brandcrawl/run/status"] == "needs_login"
    assert "EBAY_CLIENT_SECRET" in result.stats["brandcrawl/needs_login"]


@deferred_f_from_coro_f
async def test_an_edge_refusal_is_a_blocked_crawl(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str
) -> None:
    api_replica.blocked = True
    result = await crawl(
        EbayApiSpider, crawl_settings(watch_api, db_url), base_url=f"{api_replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 1
    assert searches(api_replica) == [], "no search without a token"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_a_changed_api_is_a_broken_crawl_and_keeps_what_is_stored(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str
) -> None:
    base_url = f"{api_replica.base_url}/{{site}}"
    first = await crawl(EbayApiSpider, crawl_settings(watch_api, db_url), base_url=base_url)
    api_replica.layout_changed = True
    second = await crawl(EbayApiSpider, crawl_settings(watch_api, db_url), base_url=base_url)
    assert second.items == []
    assert second.stats["brandcrawl/run/status"] == "broken"
    assert len(rows(db_url, ListingRow)) == len(first.items), "nothing stored is lost"
    assert [run.status for run in rows(db_url, CrawlRun)] == ["ok", "broken"]


@deferred_f_from_coro_f
async def test_429_backs_off_and_retries(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str
) -> None:
    api_replica.throttle_status, api_replica.throttle_times = 429, 2
    result = await crawl(
        EbayApiSpider,
        crawl_settings(watch_api, db_url),
        base_url=f"{api_replica.base_url}/{{site}}",
        sites="ebay.fr",
    )
    assert result.stats["retry/count"] == 2
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert result.items


@deferred_f_from_coro_f
async def test_a_listing_read_both_ways_is_one_row(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str
) -> None:
    base_url = f"{api_replica.base_url}/{{site}}"
    pages = await crawl(EbaySpider, crawl_settings(watch_api, db_url), base_url=base_url)
    api = await crawl(EbayApiSpider, crawl_settings(watch_api, db_url), base_url=base_url)

    by_title = {item.title: item.listing_id for item in pages.items}
    assert {item.title: item.listing_id for item in api.items} == by_title
    assert api.stats["brandcrawl/listings/new"] == 0
    assert len(rows(db_url, ListingRow)) == len(pages.items)
    assert [(run.spider, run.source) for run in rows(db_url, CrawlRun)] == [
        ("ebay", "pages"),
        ("ebay", "api"),
    ]


@deferred_f_from_coro_f
async def test_the_keyset_and_token_stay_out_of_logs_stats_and_the_database(
    api_replica: ReplicaMarketplace, watch_api: Path, db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    api_app(api_replica).token_uses = 5  # a renewal too
    with caplog.at_level(logging.DEBUG):
        result = await crawl(
            EbayApiSpider,
            crawl_settings(watch_api, db_url, LOG_LEVEL="DEBUG"),
            base_url=f"{api_replica.base_url}/{{site}}",
        )
    assert len(token_posts(api_replica)) >= 2
    keyset = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    database = stored_text(db_url)
    for where in (caplog.text, repr(result.stats), database):
        assert CLIENT_SECRET not in where
        assert keyset not in where
        assert "v^1.1#" not in where, "no token"
