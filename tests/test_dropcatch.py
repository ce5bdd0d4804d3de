"""DropCatch's API: the key and its token, auctions searched by brand and the dropping lists parsed
from fixtures (tests/fixtures/dropcatch/README.md), and whole crawls of the replica's API."""

import codecs
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response, TextResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.items import Listing
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.dropcatch import DropCatchApp
from brandcrawl.replica.feeds import zipped
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.dropcatch import DropCatchSpider
from tests.conftest import WATCH, crawl, crawl_settings, parsed, parsing_spider, rows, stat, through_pipelines

FIXTURES = Path(__file__).parent / "fixtures" / "dropcatch"
API = "https://api.dropcatch.com"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
SEARCH = f"{API}/v2/auctions?searchTerm=Gallimard&showAllActive=true&size=200&sort=EndTimeAsc"
DROPPING = f"{API}/v2/downloads/dropping/AllDays?fileType=Csv"
CLIENT_ID, CLIENT_SECRET = "replica-client-id", "replica-client-secret"
WATCH_KEY = WATCH.replace(
    "[[brands]]",
    "[marketplaces.dropcatch]\n"
    'credentials_env = { client_id = "DROPCATCH_CLIENT_ID", client_secret = "DROPCATCH_CLIENT_SECRET" }\n\n'
    "[[brands]]",
    1,
)


@pytest.fixture
def watch_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A watch file naming the key's variables, and the replica's key in them."""
    monkeypatch.setenv("DROPCATCH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("DROPCATCH_CLIENT_SECRET", CLIENT_SECRET)
    path = tmp_path / "watch_dropcatch.toml"
    path.write_text(WATCH_KEY, encoding="utf-8")
    return path


def answer(
    body: bytes, url: str = SEARCH, status: int = 200, request: Request | None = None, **meta: object
) -> TextResponse:
    request = request or Request(url, meta={"site": "dropcatch.com", "page": 1, "query": "Gallimard", **meta})
    kind = HtmlResponse if body.lstrip().startswith(b"<") else TextResponse
    return kind(
        url=request.url,
        body=body,
        status=status,
        encoding="utf-8",
        headers={"Content-Type": "text/html" if kind is HtmlResponse else "application/json"},
        request=request,
    )


def auctions(spider: DropCatchSpider, response: TextResponse) -> tuple[list[Listing], list[Request]]:
    """What the spider makes of a page of auctions."""
    output = list(spider.parse_auctions(response))
    return [o for o in output if isinstance(o, Listing)], [o for o in output if isinstance(o, Request)]


def fixture(name: str, **kwargs: object) -> TextResponse:
    return answer((FIXTURES / name).read_bytes(), **kwargs)  # type: ignore[arg-type]


def dropping(body: bytes, status: int = 200) -> Response:
    request = Request(DROPPING, meta={"site": "dropcatch.com", "feed": "dropping_AllDays"})
    if body.lstrip().startswith(b"<"):
        return HtmlResponse(url=DROPPING, body=body, status=status, encoding="utf-8", request=request)
    return Response(url=DROPPING, body=body, status=status, request=request)


def csv_zip(csv: bytes | None = None) -> bytes:
    return zipped("Dropping_AllDays.csv", csv or (FIXTURES / "dropping_AllDays.csv").read_bytes())


@pytest.fixture
def spider(watch_key: Path) -> DropCatchSpider:
    """A spider holding a token, as after its token answer."""
    spider = parsing_spider(DropCatchSpider, watch_key)
    list(spider.after_login(fixture("token.json", url=f"{API}/Authorize")))
    return spider


# -- the key and the token -------------------------------------------------------------------------


def test_without_a_key_the_run_needs_one(watch_path: Path) -> None:
    spider = parsing_spider(DropCatchSpider, watch_path)
    reason = spider.needs_login_reason()
    assert reason is not None
    assert reason.startswith("no DropCatch API key: name the environment variables")
    assert "credentials_env" in reason


def test_a_key_named_but_unset_says_which_variable(watch_key: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DROPCATCH_CLIENT_SECRET")
    spider = parsing_spider(DropCatchSpider, watch_key)
    assert spider.needs_login_reason() == "no DropCatch API key: set DROPCATCH_CLIENT_SECRET"


def test_the_token_call_sends_the_key(watch_key: Path) -> None:
    spider = parsing_spider(DropCatchSpider, watch_key)
    assert spider.needs_login_reason() is None
    request = spider.login_request(spider.credentials or {})
    assert (request.method, request.url) == ("POST", f"{API}/Authorize")
    assert json.loads(request.body) == {"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}
    assert request.headers["Content-Type"] == b"application/json"
    assert request.callback == spider.after_login


def test_after_the_token_every_search_and_file_carries_it(watch_key: Path) -> None:
    spider = parsing_spider(DropCatchSpider, watch_key)
    requests = list(spider.after_login(fixture("token.json", url=f"{API}/Authorize")))
    assert [request.url for request in requests] == [
        SEARCH,
        SEARCH.replace("Gallimard", "Folio"),
        DROPPING,
    ]
    assert {request.headers["Authorization"] for request in requests} == {
        b"Bearer eyJhbGciOiJSUzI1NiJ9.replica-token"
    }
    assert [request.callback for request in requests] == [spider.parse_auctions, spider.parse_auctions, None]
    assert all(401 in request.meta["handle_httpstatus_list"] for request in requests)
    assert stat(spider, "brandcrawl/searches") == 3


def test_a_refused_key_needs_login(watch_key: Path) -> None:
    spider = parsing_spider(DropCatchSpider, watch_key)
    refused = fixture("token_refused.json", url=f"{API}/Authorize", status=400)
    assert list(spider.after_login(refused)) == []
    reason = stat(spider, "brandcrawl/needs_login")
    assert reason.startswith("DropCatch refused the API key (An error occured trying to process")


def test_an_unreadable_token_answer_is_a_parse_error(watch_key: Path) -> None:
    spider = parsing_spider(DropCatchSpider, watch_key)
    assert list(spider.after_login(answer(b"{not json", url=f"{API}/Authorize"))) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1
    assert stat(spider, "brandcrawl/needs_login") is None


def test_a_refused_token_is_renewed_once_and_the_request_sent_again(spider: DropCatchSpider) -> None:
    search = spider.page_request(SEARCH, spider.sites[0], query="Gallimard")
    [renewal] = auctions(spider, answer(b"", status=401, request=search))[1]
    assert renewal.url == f"{API}/Authorize"
    new_token = json.dumps({"token": "second-token"}).encode()
    [again] = list(renewal.callback(answer(new_token, url=renewal.url), **renewal.cb_kwargs))
    assert (again.url, again.headers["Authorization"]) == (SEARCH, b"Bearer second-token")
    assert again.meta["token_retried"] is True
    assert auctions(spider, answer(b"", status=401, request=again)) == ([], [])
    assert stat(spider, "brandcrawl/site/dropcatch.com/failed") == 1


# -- the auctions ----------------------------------------------------------------------------------


def test_a_page_of_auctions_and_the_next_one(spider: DropCatchSpider) -> None:
    listings, [next_page] = auctions(spider, fixture("auctions_gallimard.json"))
    assert [listing.listing_id for listing in listings] == ["gallimard-shop.com", "editions-gallimard.net"]
    assert next_page.url == f"{SEARCH}&next=Mg%3D%3D"
    assert next_page.headers["Authorization"].startswith(b"Bearer ")
    assert (next_page.meta["page"], next_page.callback) == (2, spider.parse_auctions)
    assert stat(spider, "brandcrawl/pages/parsed") == 1

    last, no_more = auctions(spider, fixture("auctions_gallimard_page2.json"))
    assert no_more == []
    assert last[0].end_time == datetime(2026, 11, 30, 6, 0, tzinfo=UTC), "no zone: UTC"


def test_an_auction_hit_carries_every_field(spider: DropCatchSpider) -> None:
    listings, _ = auctions(spider, fixture("auctions_gallimard.json"))
    shop = through_pipelines(spider, listings[0], NOW)
    assert (shop.marketplace, shop.site, shop.asset_kind, shop.asset) == (
        "dropcatch", "dropcatch.com", "domain", "gallimard-shop.com",
    )  # fmt: skip
    assert (shop.sale_method, shop.price, shop.currency, shop.bid_count) == (
        "auction", Decimal("125.0"), "USD", None,
    )  # fmt: skip
    assert shop.end_time == datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
    assert shop.url == "https://www.dropcatch.com/domain/gallimard-shop.com"
    kept = ("auction_id", "auction_type", "bidders", "minimum_next_bid")
    assert {key: shop.details[key] for key in kept} == {
        "auction_id": 73010451, "auction_type": "Dropped", "bidders": 3, "minimum_next_bid": "130.0",
    }  # fmt: skip
    assert "highestBidder" not in shop.details, "a bidder's alias is not kept"
    assert [match["brand"] for match in shop.matches] == ["Gallimard"]


def test_pascal_case_items_read_the_same(spider: DropCatchSpider) -> None:
    listings, requests = auctions(spider, fixture("auctions_pascal_case.json"))
    assert requests == []
    folio = listings[0]
    assert (folio.listing_id, folio.price, folio.details["bidders"]) == (
        "folio-officiel.com",
        Decimal("89.0"),
        2,
    )
    assert folio.end_time == datetime(2026, 11, 28, 2, 0, tzinfo=UTC)
    assert listings[1].listing_id == "portfolio-design.com", "the match pipeline drops it"


def test_no_results_is_fine(spider: DropCatchSpider) -> None:
    assert auctions(spider, fixture("auctions_no_results.json")) == ([], [])
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None
    assert stat(spider, "brandcrawl/parse_errors") is None


@pytest.mark.parametrize("body", [b'{"results": []}', b"[]", b"{not json"])
def test_an_answer_that_is_not_the_apis_is_a_parse_error(spider: DropCatchSpider, body: bytes) -> None:
    assert auctions(spider, answer(body)) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_a_renamed_list_is_a_parse_error(spider: DropCatchSpider) -> None:
    assert auctions(spider, fixture("auctions_layout_changed.json")) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_a_challenge_instead_of_the_api_is_blocked(spider: DropCatchSpider) -> None:
    assert auctions(spider, fixture("challenge.html")) == ([], [])
    assert stat(spider, "brandcrawl/pages/blocked") == 1


# -- the dropping lists ----------------------------------------------------------------------------


def test_the_dropping_list_gives_pending_deletes(
    spider: DropCatchSpider, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        listings, _ = parsed(spider, dropping(csv_zip()))
    assert [listing.listing_id for listing in listings] == [
        "gallimard-livres.com", "xn--gllimard-16g.com", "galimard.net", "folio-officiel.org",
    ]  # fmt: skip
    assert (stat(spider, "brandcrawl/feed/rows"), stat(spider, "brandcrawl/feed/malformed")) == (10, 1)
    assert stat(spider, "brandcrawl/feed/matched") == 4
    livres = through_pipelines(spider, listings[0], NOW)
    assert (livres.sale_method, livres.price, livres.bid_count) == ("pending_delete", None, None)
    assert livres.end_time == datetime(2026, 11, 28, tzinfo=UTC), "the end of the drop day"
    assert livres.url == "https://www.dropcatch.com/domain/gallimard-livres.com"
    assert (livres.details["drop_date"], livres.details["list"]) == ("2026-11-27", "AllDays")
    look_alike = through_pipelines(spider, listings[1], NOW)
    assert look_alike.details["domain_unicode"] == "gаllimard.com"
    assert listings[2].end_time == datetime(2026, 11, 30, tzinfo=UTC), "a US-style date"
    assert "unreadable" not in caplog.text


def test_a_bom_is_read(spider: DropCatchSpider) -> None:
    body = codecs.BOM_UTF8 + (FIXTURES / "dropping_AllDays.csv").read_bytes()
    listings, _ = parsed(spider, dropping(csv_zip(body)))
    assert len(listings) == 4


def test_a_truncated_zip_is_a_parse_error(spider: DropCatchSpider) -> None:
    data = csv_zip()
    assert parsed(spider, dropping(data[: len(data) // 2])) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_an_html_page_instead_of_the_list_is_a_parse_error(spider: DropCatchSpider) -> None:
    assert parsed(spider, dropping((FIXTURES / "error_page.html").read_bytes())) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_a_changed_header_is_a_parse_error(spider: DropCatchSpider) -> None:
    body = (FIXTURES / "dropping_AllDays.csv").read_bytes().replace(b"DomainName", b"Domain", 1)
    assert parsed(spider, dropping(csv_zip(body))) == ([], [])
    assert stat(spider, "brandcrawl/parse_errors") == 1, "every row malformed"


def test_the_watch_file_chooses_the_dropping_lists(tmp_path: Path, watch_key: Path) -> None:
    watch = tmp_path / "days.toml"
    watch.write_text(
        watch_key.read_text().replace(
            "credentials_env", 'categories = ["DaysOut0", "DaysOut1"]\ncredentials_env'
        ),
        encoding="utf-8",
    )
    spider = parsing_spider(DropCatchSpider, watch)
    assert [feed.path for feed in spider.feeds] == [
        "/v2/downloads/dropping/DaysOut0?fileType=Csv",
        "/v2/downloads/dropping/DaysOut1?fileType=Csv",
    ]
    watch.write_text(watch.read_text().replace("DaysOut1", "Tomorrow"), encoding="utf-8")
    with pytest.raises(ValueError, match="unknown dropping list"):
        parsing_spider(DropCatchSpider, watch)


# -- crawls of the replica -------------------------------------------------------------------------


@pytest.fixture
def replica() -> Iterator[ReplicaMarketplace]:
    with ReplicaMarketplace(apps=[DropCatchApp]) as server:
        yield server


def api_app(replica: ReplicaMarketplace) -> DropCatchApp:
    app = replica.apps["dropcatch"]
    assert isinstance(app, DropCatchApp)
    return app


def token_posts(replica: ReplicaMarketplace) -> list[str]:
    return [path for path in replica.requests if path == "POST /api.dropcatch.com/Authorize"]


@deferred_f_from_coro_f
async def test_a_crawl_finds_the_auctions_and_the_names_about_to_drop(
    replica: ReplicaMarketplace, watch_key: Path, db_url: str
) -> None:
    result = await crawl(
        DropCatchSpider, crawl_settings(watch_key, db_url), base_url=f"{replica.base_url}/{{site}}"
    )

    by_name = {item.listing_id: item for item in result.items}
    assert set(by_name) == {
        "gallimard-shop.com", "editions-gallimard.net", "gallimardjeunesse.com", "folio-officiel.com",
        "gallimard-livres.com", "xn--gllimard-16g.com", "galimard.net", "folio-officiel.org",
    }  # fmt: skip
    shop = by_name["gallimard-shop.com"]
    assert (shop.sale_method, shop.price, shop.currency, shop.details["bidders"]) == (
        "auction", Decimal("125.0"), "USD", 3,
    )  # fmt: skip
    assert shop.end_time is not None
    assert by_name["galimard.net"].sale_method == "pending_delete"

    assert len(token_posts(replica)) == 1, "one token for the whole crawl"
    assert sorted(api_app(replica).search_terms) == ["Folio", "Gallimard", "Gallimard"], "2 Gallimard pages"
    assert any("next=" in path for path in replica.requests), "the cursor followed"
    assert "/api.dropcatch.com/v2/downloads/dropping/AllDays?fileType=Csv" in replica.requests
    assert not any("robots.txt" in path for path in replica.requests)

    stats = result.stats
    assert stats["brandcrawl/run/status"] == "ok"
    assert stats["brandcrawl/feed/rows"] == 7 + api_app(replica).filler
    assert stats["brandcrawl/feed/matched"] == 4
    assert stats["brandcrawl/listings/no_match"] == 1, "portfolio-design.com, found by searching Folio"
    assert len(rows(db_url, ListingRow)) == len(result.items)
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status) == ("dropcatch", "ok")
    assert run.listings_seen == stats["brandcrawl/feed/rows"] - 4 + stats["brandcrawl/listings/seen"]


@deferred_f_from_coro_f
async def test_without_a_key_nothing_is_sent(
    replica: ReplicaMarketplace, watch_path: Path, db_url: str
) -> None:
    result = await crawl(
        DropCatchSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert replica.requests == []
    assert result.items == []
    [run] = rows(db_url, CrawlRun)
    assert run.status == "needs_login"
    assert "no DropCatch API key" in run.detail


@deferred_f_from_coro_f
async def test_a_wrong_key_is_a_run_that_needs_login(
    replica: ReplicaMarketplace, watch_key: Path, db_url: str
) -> None:
    api_app(replica).client_secret = "another-secret"
    result = await crawl(
        DropCatchSpider, crawl_settings(watch_key, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert replica.requests == ["POST /api.dropcatch.com/Authorize"]
    [run] = rows(db_url, CrawlRun)
    assert run.status == "needs_login"
    assert "DropCatch refused the API key" in run.detail


@deferred_f_from_coro_f
async def test_a_token_that_expires_mid_crawl_is_renewed(
    replica: ReplicaMarketplace, watch_key: Path, db_url: str
) -> None:
    api_app(replica).token_uses = 2  # the first token answers 2 of the 4 calls
    result = await crawl(
        DropCatchSpider, crawl_settings(watch_key, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert len(token_posts(replica)) >= 2
    assert len(result.items) == 8
    assert result.stats["brandcrawl/run/status"] == "ok"


@deferred_f_from_coro_f
async def test_a_challenge_is_a_blocked_crawl(
    replica: ReplicaMarketplace, watch_key: Path, db_url: str
) -> None:
    replica.blocked = True
    result = await crawl(
        DropCatchSpider, crawl_settings(watch_key, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.items == []
    assert result.stats["brandcrawl/pages/blocked"] == 1
    assert replica.requests == ["POST /api.dropcatch.com/Authorize"], "nothing without a token"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"


@deferred_f_from_coro_f
async def test_a_changed_api_is_a_broken_crawl_and_keeps_what_is_stored(
    replica: ReplicaMarketplace, watch_key: Path, db_url: str
) -> None:
    base_url = f"{replica.base_url}/{{site}}"
    first = await crawl(DropCatchSpider, crawl_settings(watch_key, db_url), base_url=base_url)
    replica.layout_changed = True
    second = await crawl(DropCatchSpider, crawl_settings(watch_key, db_url), base_url=base_url)
    assert second.items == []
    assert second.stats["brandcrawl/run/status"] == "broken"
    assert len(rows(db_url, ListingRow)) == len(first.items), "nothing stored is lost"
    assert [run.status for run in rows(db_url, CrawlRun)] == ["ok", "broken"]


@deferred_f_from_coro_f
async def test_a_truncated_list_is_a_broken_crawl(
    replica: ReplicaMarketplace, watch_key: Path, db_url: str
) -> None:
    api_app(replica).truncated = True
    result = await crawl(
        DropCatchSpider, crawl_settings(watch_key, db_url), base_url=f"{replica.base_url}/{{site}}"
    )
    assert result.stats["brandcrawl/parse_errors"] == 1
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert {item.sale_method for item in result.items} == {"auction"}, "the searches were read"
