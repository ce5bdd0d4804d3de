"""The Fameswap spider: members only, behind Cloudflare. Its pages (tests/fixtures/fameswap/README.md),
then whole crawls of the replica over real HTTP: without credentials, with a wrong password, with the
right one."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from scrapy import FormRequest, Request
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.config import load_watch
from brandcrawl.digest import write_digest
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.fameswap import FameswapApp
from brandcrawl.storage import Store
from brandcrawl.storage.models import CrawlRun, Hit, ListingRow
from spiders.fameswap import FameswapSpider
from tests.conftest import (
    WATCH,
    count,
    crawl,
    crawl_settings,
    parsing_spider,
    rows,
    stat,
    stored_text,
    through_pipelines,
)

FIXTURES = Path(__file__).parent / "fixtures" / "fameswap"
SITE = "https://fameswap.com"
NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)
USER, PASSWORD = "watch@example.org", "correct horse battery staple"
WATCH_WITH_LOGIN = (
    WATCH
    + """
[marketplaces.fameswap]
credentials_env = { username = "FAMESWAP_USER", password = "FAMESWAP_PASSWORD" }
"""
)


@pytest.fixture
def login_watch(tmp_path: Path) -> Path:
    path = tmp_path / "watch-fameswap.toml"
    path.write_text(WATCH_WITH_LOGIN, encoding="utf-8")
    return path


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAMESWAP_USER", USER)
    monkeypatch.setenv("FAMESWAP_PASSWORD", PASSWORD)


@pytest.fixture
def no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FAMESWAP_USER", raising=False)
    monkeypatch.delenv("FAMESWAP_PASSWORD", raising=False)


def page(name: str, url: str, status: int = 200, body: bytes | None = None, **meta: Any) -> HtmlResponse:
    request = Request(url, meta={"site": "fameswap.com", **meta})
    body = (FIXTURES / name).read_bytes() if body is None else body
    return HtmlResponse(url=url, status=status, body=body, encoding="utf-8", request=request)


@pytest.fixture
def spider(login_watch: Path, credentials: None) -> FameswapSpider:
    return parsing_spider(FameswapSpider, login_watch)


LISTING_URL = f"{SITE}/listing/64120-instagram-account-for-sale"
MEMBER_META = {"listing_id": "64120", "handle": "gallimard_officiel", "platform": "instagram"}


# -- the login --


def test_the_run_opens_on_the_login_page(spider: FameswapSpider) -> None:
    request = spider.login_request(spider.credentials or {})
    assert request.url == f"{SITE}/auth/login"
    assert request.callback == spider.submit_login
    assert spider.custom_settings["COOKIES_ENABLED"] is True


def test_the_login_form_is_posted_with_its_csrf_token(spider: FameswapSpider) -> None:
    [post] = spider.submit_login(page("login.html", f"{SITE}/auth/login"))
    assert isinstance(post, FormRequest)
    assert (post.method, post.url, post.callback) == ("POST", f"{SITE}/auth/login", spider.after_login)
    assert parse_qs(post.body.decode()) == {
        "_token": ["pXqv3GfT0yW8kLm2NcRb7sHdJ4aEoZ1uIt9VxY6Q"],
        "email": [USER],
        "password": [PASSWORD],
    }


def test_a_captcha_on_the_login_form_means_needs_login(spider: FameswapSpider) -> None:
    assert list(spider.submit_login(page("login_captcha.html", f"{SITE}/auth/login"))) == []
    assert "captcha" in stat(spider, "brandcrawl/needs_login")


def test_a_login_page_without_its_form_is_a_parse_error(spider: FameswapSpider) -> None:
    assert list(spider.submit_login(page("home_member.html", f"{SITE}/auth/login"))) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1


def test_logged_in_is_read_from_the_page(spider: FameswapSpider) -> None:
    assert spider.logged_in(page("home_member.html", f"{SITE}/"))
    assert not spider.logged_in(page("login_refused.html", f"{SITE}/auth/login"))
    assert not spider.logged_in(page("login.html", f"{SITE}/auth/login"))


def test_a_refused_login_needs_login_with_the_site_s_words(spider: FameswapSpider) -> None:
    body = (FIXTURES / "login_refused.html").read_text(encoding="utf-8")
    body = body.replace("These credentials", f"The credentials of {USER}")  # a site that repeats them
    assert list(spider.after_login(page("", f"{SITE}/auth/login", body=body.encode()))) == []
    reason = stat(spider, "brandcrawl/needs_login")
    assert reason.startswith("the login was refused: check the credentials named in credentials_env")
    assert reason.endswith("(fameswap says: The credentials of *** do not match our records.)")


def test_a_login_answered_with_a_challenge_is_blocked(spider: FameswapSpider) -> None:
    assert list(spider.submit_login(page("blocked_just_a_moment.html", f"{SITE}/auth/login", 403))) == []
    assert list(spider.after_login(page("blocked_just_a_moment.html", f"{SITE}/", 403))) == []
    assert stat(spider, "brandcrawl/pages/blocked") == 2
    assert stat(spider, "brandcrawl/needs_login") is None


def test_a_good_login_searches_each_brand(spider: FameswapSpider) -> None:
    requests = list(spider.after_login(page("home_member.html", f"{SITE}/")))
    assert [r.url for r in requests] == [f"{SITE}/browse?search=Gallimard", f"{SITE}/browse?search=Folio"]


# -- results pages --


def test_a_results_page_asks_for_each_listing_page_and_the_next_page(spider: FameswapSpider) -> None:
    url = f"{SITE}/browse?search=Gallimard"
    *details, following = spider.parse(page("browse_search_gallimard.html", url, query="Gallimard"))
    assert [(r.url, r.meta["handle"], r.meta["platform"]) for r in details] == [
        (f"{SITE}/listing/64120-instagram-account-for-sale", "gallimard_officiel", "instagram"),
        (f"{SITE}/listing/64115-twitter-account-for-sale", "Gallimard", "twitter"),
        (f"{SITE}/listing/64110-instagram-account-for-sale", "gallimard", "instagram"),
        (f"{SITE}/listing/64102-tiktok-account-for-sale", "gallimardjeunesse", "tiktok"),
    ]
    assert all(r.callback == spider.parse_detail for r in details)
    assert (following.url, following.meta["query"]) == (f"{SITE}/browse?search=Gallimard&page=2", "Gallimard")


def test_the_logged_out_table_masks_the_usernames(spider: FameswapSpider) -> None:
    """The real page a visitor sees: usernames masked, prices locked."""
    *details, following = spider.parse(page("browse_logged_out.html", f"{SITE}/browse"))
    assert [(r.meta["listing_id"], r.meta["handle"], r.meta["platform"]) for r in details] == [
        ("63751", "******ttyvidz", "instagram"),
        ("63750", "*******odtruck", "instagram"),
        ("63710", "*****rasin", "youtube"),
    ]
    assert following.url == f"{SITE}/browse?page=2"
    body = (FIXTURES / "listing_64120.html").read_bytes()
    meta = {"listing_id": "63751", "handle": "******ttyvidz", "platform": "instagram"}
    [listing] = spider.parse_detail(
        page("", f"{SITE}/listing/63751-instagram-account-for-sale", body=body, **meta)
    )
    assert (listing.asset_kind, listing.asset, listing.title) == ("other", None, "******ttyvidz")


def test_a_search_without_results_is_no_results(spider: FameswapSpider) -> None:
    assert list(spider.parse(page("browse_no_results.html", f"{SITE}/browse?search=zzqx"))) == []
    assert stat(spider, "brandcrawl/pages/parsed") == 1
    assert stat(spider, "brandcrawl/pages/unexpected_empty") is None


def test_a_changed_results_layout_is_unexpectedly_empty(spider: FameswapSpider) -> None:
    requests = list(spider.parse(page("browse_layout_changed.html", f"{SITE}/browse?search=Gallimard")))
    assert [r.url for r in requests] == [f"{SITE}/browse?search=Gallimard&page=2"]
    assert stat(spider, "brandcrawl/pages/unexpected_empty") == 1


def test_the_login_page_instead_of_results_is_a_parse_error(spider: FameswapSpider) -> None:
    assert list(spider.parse(page("login.html", f"{SITE}/auth/login"))) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1


@pytest.mark.parametrize("status", [200, 403])
def test_cloudflare_is_blocked_not_zero_results(spider: FameswapSpider, status: int) -> None:
    assert (
        list(spider.parse(page("blocked_just_a_moment.html", f"{SITE}/browse?search=Gallimard", status)))
        == []
    )
    assert list(spider.parse_detail(page("blocked_just_a_moment.html", LISTING_URL, status))) == []
    assert stat(spider, "brandcrawl/pages/blocked") == 2
    assert stat(spider, "brandcrawl/pages/parsed") is None


# -- listing pages --


def test_every_field_of_a_handle_hit(spider: FameswapSpider) -> None:
    [listing] = spider.parse_detail(page("listing_64120.html", LISTING_URL, **MEMBER_META))
    assert (listing.marketplace, listing.site, listing.listing_id, listing.url) == (
        "fameswap",
        "fameswap.com",
        "64120",
        LISTING_URL,
    )
    assert (listing.title, listing.seller, listing.category, listing.sale_method) == (
        "gallimard_officiel",
        "insta_pages_fr",
        "Educational & QA",
        "fixed",
    )
    assert listing.description == "Page littéraire française, audience 80 % France, email d'origine inclus."
    assert listing.details == {
        "listed": "6 hours ago",
        "trust_score": "97",
        "seller_country": "France",
        "best_offer": "$1,800",
        "Posts": "310",
        "Avg. Likes": "640",
        "Avg. Comments": "22",
        "Eng. Rate": "5.3%",
    }
    hit = through_pipelines(spider, listing, NOW)
    assert (hit.asset_kind, hit.asset, hit.asset_text) == (
        "handle",
        "instagram:gallimard_officiel",
        "gallimard_officiel",
    )
    assert (hit.followers, hit.price, hit.currency, hit.end_time, hit.status) == (
        12400,
        Decimal("2200.00"),
        "USD",
        None,
        "active",
    )
    assert [match["brand"] for match in hit.matches] == ["Gallimard"]


@pytest.mark.parametrize(
    ("handle", "platform", "asset"),
    [("Gallimard", "twitter", "x:gallimard"), ("gallimardjeunesse", "tiktok", "tiktok:gallimardjeunesse")],
)
def test_the_platform_comes_from_the_listing_address(
    spider: FameswapSpider, handle: str, platform: str, asset: str
) -> None:
    meta = {**MEMBER_META, "handle": handle, "platform": platform}
    [listing] = spider.parse_detail(page("listing_64120.html", LISTING_URL, **meta))
    assert (listing.asset, listing.asset_text) == (asset, handle)


def test_the_official_handle_is_not_a_hit(spider: FameswapSpider) -> None:
    meta = {**MEMBER_META, "handle": "gallimard"}
    [listing] = spider.parse_detail(page("listing_64120.html", LISTING_URL, **meta))
    with pytest.raises(DropItem):
        through_pipelines(spider, listing, NOW)


@pytest.mark.parametrize(
    ("followers", "price", "count", "amount", "currency"),
    [
        ("12K followers", "$2.5k", 12000, Decimal("2500"), "USD"),
        ("1,8 M abonnés", "2 500 €", 1800000, Decimal("2500"), "EUR"),
        ("1.2m", "18,000.00", 1200000, Decimal("18000.00"), "USD"),
    ],
)
def test_odd_follower_and_price_texts(
    spider: FameswapSpider, followers: str, price: str, count: int, amount: Decimal, currency: str
) -> None:
    body = (FIXTURES / "listing_64120.html").read_text(encoding="utf-8")
    body = body.replace("</i> 12,400", f"</i> {followers}").replace("</i> 2,200.00", f"</i> {price}")
    [listing] = spider.parse_detail(page("", LISTING_URL, body=body.encode(), **MEMBER_META))
    assert (listing.followers_text, listing.price_text) == (followers, price)
    hit = through_pipelines(spider, listing, NOW)
    assert (hit.followers, hit.price, hit.currency) == (count, amount, currency)


def test_a_changed_listing_page_is_a_parse_error(spider: FameswapSpider) -> None:
    body = (FIXTURES / "listing_64120.html").read_bytes().replace(b"table-responsive", b"listing-stats")
    body = body.replace(b'<div class="listing-stats">', b"<section>", 1)
    assert list(spider.parse_detail(page("", LISTING_URL, body=body, **MEMBER_META))) == []
    assert stat(spider, "brandcrawl/parse_errors") == 1


# -- whole crawls of the replica --


@pytest.fixture
def replica() -> Any:
    with ReplicaMarketplace(apps=[FameswapApp]) as server:
        server.apps["fameswap"].email, server.apps["fameswap"].password = USER, PASSWORD  # type: ignore[attr-defined]
        yield server


def site_paths(replica: ReplicaMarketplace) -> list[str]:
    return [path.replace("/fameswap.com", "", 1) for path in replica.requests if "fameswap.com" in path]


async def crawl_replica(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> Any:
    return await crawl(
        FameswapSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


@pytest.mark.parametrize(
    "watch", ["login_watch", "watch_path"], ids=["variables-unset", "no-credentials_env"]
)
@deferred_f_from_coro_f
async def test_without_credentials_the_run_needs_login_and_sends_nothing(
    replica: ReplicaMarketplace,
    request: pytest.FixtureRequest,
    watch: str,
    db_url: str,
    no_credentials: None,
    tmp_path: Path,
) -> None:
    watch_path: Path = request.getfixturevalue(watch)
    result = await crawl_replica(replica, watch_path, db_url)
    assert result.items == []
    assert site_paths(replica) == []
    assert result.stats["brandcrawl/run/status"] == "needs_login"
    reason = result.stats["brandcrawl/needs_login"]
    assert ("FAMESWAP_USER and FAMESWAP_PASSWORD" if watch == "login_watch" else "credentials_env") in reason
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.detail, run.pages_fetched) == ("fameswap", "needs_login", reason, 0)

    store = Store(db_url)
    try:
        digest = write_digest(store, load_watch(watch_path), tmp_path / "digest").with_suffix(".txt")
    finally:
        store.close()
    health = digest.read_text(encoding="utf-8")
    assert "fameswap" in health
    assert "needs login" in health


@deferred_f_from_coro_f
async def test_a_wrong_password_needs_login_with_the_refusal(
    replica: ReplicaMarketplace,
    login_watch: Path,
    db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("FAMESWAP_USER", USER)
    monkeypatch.setenv("FAMESWAP_PASSWORD", "wrong password 123")
    result = await crawl_replica(replica, login_watch, db_url)
    assert result.items == []
    assert replica.apps["fameswap"].logins == [False]  # type: ignore[attr-defined]
    assert site_paths(replica) == ["/auth/login", "POST /auth/login", "/auth/login"], "no search sent"
    assert result.stats["brandcrawl/run/status"] == "needs_login"
    assert result.stats["brandcrawl/needs_login"] == (
        "the login was refused: check the credentials named in credentials_env"
        " (fameswap says: These credentials do not match our records.)"
    )
    [run] = rows(db_url, CrawlRun)
    assert run.status == "needs_login"
    assert run.detail == result.stats["brandcrawl/needs_login"]
    assert "wrong password 123" not in caplog.text
    assert USER not in caplog.text
    assert "wrong password 123" not in stored_text(db_url)


@deferred_f_from_coro_f
async def test_with_credentials_the_members_listings_are_crawled(
    replica: ReplicaMarketplace,
    login_watch: Path,
    db_url: str,
    credentials: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = await crawl_replica(replica, login_watch, db_url)

    found = {item.asset: item for item in result.items}
    assert set(found) == {
        "instagram:gallimard_officiel",
        "x:gallimard",
        "tiktok:gallimardjeunesse",
        "instagram:gallimard.fr",  # on the second page of results
        "instagram:folio",
    }
    assert "instagram:gallimard" not in found, "the brand's own account is not reported"
    officiel = found["instagram:gallimard_officiel"]
    assert (officiel.price, officiel.currency, officiel.followers, officiel.seller) == (
        Decimal("2200.00"),
        "USD",
        12400,
        "insta_pages_fr",
    )
    assert officiel.url == f"{replica.site_url('fameswap.com')}/listing/64120-instagram-account-for-sale"

    paths = site_paths(replica)
    assert paths[:3] == ["/auth/login", "POST /auth/login", "/"]
    assert replica.apps["fameswap"].logins == [True]  # type: ignore[attr-defined]
    searches = sorted(path for path in paths if path.startswith("/browse"))
    assert searches == ["/browse?search=Folio", "/browse?search=Gallimard", "/browse?search=Gallimard&page=2"]
    listings = [path for path in paths if path.startswith("/listing/")]
    assert len(listings) == len(set(listings)) == 8, "each result's page once"
    assert paths.count("/auth/login") == 1, "the session cookie kept the login: no redirect to the login page"

    stats = result.stats
    assert stats["brandcrawl/run/status"] == "ok"
    assert stats["brandcrawl/listings/seen"] == 8
    assert stats["brandcrawl/hits/matched"] == 5
    assert count(db_url, ListingRow) == count(db_url, Hit) == 5
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.hits) == ("fameswap", "ok", 5)
    assert PASSWORD not in caplog.text
    assert USER not in caplog.text
    assert PASSWORD not in stored_text(db_url)
    assert USER not in stored_text(db_url)


@deferred_f_from_coro_f
async def test_a_captcha_on_the_login_form_needs_login(
    replica: ReplicaMarketplace, login_watch: Path, db_url: str, credentials: None
) -> None:
    replica.apps["fameswap"].captcha = True  # type: ignore[attr-defined]
    result = await crawl_replica(replica, login_watch, db_url)
    assert site_paths(replica) == ["/auth/login"]
    assert result.stats["brandcrawl/run/status"] == "needs_login"
    assert "captcha" in result.stats["brandcrawl/needs_login"]


@deferred_f_from_coro_f
async def test_a_challenge_at_the_login_page_is_a_blocked_crawl(
    replica: ReplicaMarketplace, login_watch: Path, db_url: str, credentials: None
) -> None:
    replica.blocked = True
    result = await crawl_replica(replica, login_watch, db_url)
    assert site_paths(replica) == ["/auth/login"]
    assert result.stats["brandcrawl/pages/blocked"] == 1
    assert result.stats["brandcrawl/run/status"] == "blocked"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "blocked"
    assert "challenge" in run.detail


@deferred_f_from_coro_f
async def test_a_layout_change_is_a_broken_crawl_and_loses_no_stored_hit(
    replica: ReplicaMarketplace, login_watch: Path, db_url: str, credentials: None
) -> None:
    await crawl_replica(replica, login_watch, db_url)
    replica.layout_changed = True
    result = await crawl_replica(replica, login_watch, db_url)
    assert result.items == []
    assert result.stats["brandcrawl/run/status"] == "broken"
    assert count(db_url, ListingRow) == count(db_url, Hit) == 5
    runs = sorted(rows(db_url, CrawlRun), key=lambda run: run.id)
    assert [run.status for run in runs] == ["ok", "broken"]
    assert "layout" in runs[1].detail


def test_the_replica_keeps_its_pages_for_members(replica: ReplicaMarketplace) -> None:
    """Without the session cookie of a login, a search is sent to the login page."""
    import urllib.request

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirect)
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(f"{replica.site_url('fameswap.com')}/browse?search=Gallimard")
    assert answer.value.code == 302
    assert answer.value.headers["Location"] == f"{replica.site_url('fameswap.com')}/auth/login"
    answer.value.close()
