"""Every registered spider starts, takes base_url, and sends its requests there."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scrapy import Spider
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from brandcrawl.config import watch_sha256
from brandcrawl.storage.models import CrawlRun, ListingRow
from spiders.ebay import EbaySpider
from tests.conftest import WATCH, crawl, crawl_settings, project_settings, rows

LOADER = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["spiders"]}))
SPIDER_NAMES = LOADER.list()


def test_the_spiders_are_registered() -> None:
    assert "ebay" in SPIDER_NAMES


def watch_with_credentials(
    tmp_path: Path, spider_class: type[Spider], monkeypatch: pytest.MonkeyPatch
) -> Path:
    """The test watch file, giving a members-only spider its credentials from the environment."""
    text = WATCH
    roles = getattr(spider_class, "credential_roles", ())
    if roles:
        marketplace = getattr(spider_class, "marketplace", None) or spider_class.name
        names = {role: f"TEST_{marketplace.upper()}_{role.upper()}" for role in roles}
        for name in names.values():
            monkeypatch.setenv(name, "x")
        table = ", ".join(f'{role} = "{name}"' for role, name in names.items())
        if f"[marketplaces.{marketplace}]" in text:
            text = text.replace(
                f"[marketplaces.{marketplace}]",
                f"[marketplaces.{marketplace}]\ncredentials_env = {{ {table} }}",
            )
        else:
            text = text.replace(
                "[[brands]]",
                f"[marketplaces.{marketplace}]\ncredentials_env = {{ {table} }}\n\n[[brands]]",
                1,
            )
    path = tmp_path / "watch.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("name", SPIDER_NAMES)
@deferred_f_from_coro_f
async def test_spider_starts_on_the_given_base_url(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spider_class = LOADER.load(name)
    assert "start_requests" not in vars(spider_class), "Scrapy 2.16+ ignores start_requests(): use start()"
    assert not getattr(spider_class, "start_urls", None), "start() builds the requests"
    watch = watch_with_credentials(tmp_path, spider_class, monkeypatch)
    crawler = get_crawler(spider_class, project_settings(BRANDCRAWL_WATCH=str(watch)))
    # Scrapyd adds the argument _job, and passes on any other the scheduler gives.
    spider: Spider = spider_class.from_crawler(
        crawler, base_url="http://127.0.0.1:9/{site}", _job="scrapyd-job", scheduled_by="monitoring"
    )
    assert (spider._job, spider.scheduled_by) == ("scrapyd-job", "monitoring")
    requests = [request async for request in spider.start()]
    assert requests
    assert all(request.url.startswith("http://127.0.0.1:9/") for request in requests)
    if getattr(spider_class, "credential_roles", ()):
        assert [request.callback is not None for request in requests] == [True], "log in first, then search"
    else:
        assert all(request.callback is None for request in requests), "search pages go to parse()"


@pytest.mark.parametrize("name", SPIDER_NAMES)
def test_a_mirror_with_the_site_in_its_host_is_not_offsite(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spider_class = LOADER.load(name)
    watch = watch_with_credentials(tmp_path, spider_class, monkeypatch)
    crawler = get_crawler(spider_class, project_settings(BRANDCRAWL_WATCH=str(watch)))
    spider = spider_class.from_crawler(crawler, base_url="https://{site}.mirror.test")
    for site in spider.sites:
        assert urlsplit(spider.site_root(site)).hostname in spider.allowed_domains


def test_the_ebay_api_keyset_never_goes_to_the_pages_mirror(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spider_class = LOADER.load("ebay_api")
    watch = watch_with_credentials(tmp_path, spider_class, monkeypatch)
    watch.write_text(
        watch.read_text().replace(
            "[marketplaces.ebay]", '[marketplaces.ebay]\nbase_url = "https://mirror.test/{site}"'
        ),
        encoding="utf-8",
    )
    spider = spider_class.from_crawler(
        get_crawler(spider_class, project_settings(BRANDCRAWL_WATCH=str(watch)))
    )
    assert spider.base_url == "https://{site}"
    assert {urlsplit(spider.site_root(site)).hostname for site in spider.sites} == {"api.ebay.com"}


# -- brandcrawl dispatch's arguments: a shard of the brands, the watch file's SHA-256, unseen_since --

SHARDED_WATCH = """
[digest]
sender = "w@example.org"

[marketplaces.swapd]
categories = ["instagram/12"]
account_words = []

[[brands]]
name = "Gallimard"
aliases = ["Editions Gallimard"]

[[brands]]
name = "Hachette"

[[brands]]
name = "Folio"

[[brands]]
name = "Minuit"

[[brands]]
name = "Actes Sud"
"""


@pytest.mark.parametrize(
    ("arguments", "queries", "categories"),
    [
        pytest.param({}, ["Gallimard", "Editions Gallimard", "Hachette", "Folio", "Minuit", "Actes Sud"], 1),
        pytest.param({"shard": "1/2"}, ["Gallimard", "Editions Gallimard", "Hachette"], 1, id="first"),
        pytest.param({"shard": "2/2"}, ["Folio", "Minuit", "Actes Sud"], 0, id="second-no-categories"),
        pytest.param({"shard": "3/5"}, ["Folio"], 0, id="one-brand-each"),
        pytest.param({"brand": "Minuit"}, ["Minuit"], 1, id="one-brand"),
    ],
)
@deferred_f_from_coro_f
async def test_a_shard_searches_its_brands_and_only_the_first_reads_the_categories(
    tmp_path: Path, arguments: dict[str, str], queries: list[str], categories: int
) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(SHARDED_WATCH, encoding="utf-8")
    spider_class = LOADER.load("swapd")
    crawler = get_crawler(spider_class, project_settings(BRANDCRAWL_WATCH=str(watch)))
    spider = spider_class.from_crawler(crawler, base_url="http://127.0.0.1:9/{site}", **arguments)

    requests = [request async for request in spider.start()]

    assert [request.meta["query"] for request in requests if "query" in request.meta] == queries
    assert sum("category" in request.meta for request in requests) == categories


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        pytest.param({"shard": "0/3"}, "1 <= INDEX <= COUNT", id="from-1"),
        pytest.param({"shard": "4/3"}, "1 <= INDEX <= COUNT", id="past-the-count"),
        pytest.param({"shard": "3"}, "INDEX/COUNT", id="no-count"),
        pytest.param({"shard": "a/b"}, "INDEX/COUNT", id="not-numbers"),
        pytest.param(
            {"shard": "1/6"}, "shard 1/6, but the watch file has 5 brands", id="more-shards-than-brands"
        ),
        pytest.param({"shard": "1/2", "brand": "Folio"}, "brand or shard, not both", id="both"),
        pytest.param({"unseen_since": "2026-11-27T05:30:00"}, "must say its UTC offset", id="naive-time"),
    ],
)
def test_a_bad_dispatch_argument_stops_the_spider(
    tmp_path: Path, arguments: dict[str, str], problem: str
) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(SHARDED_WATCH, encoding="utf-8")
    spider_class = LOADER.load("swapd")
    crawler = get_crawler(spider_class, project_settings(BRANDCRAWL_WATCH=str(watch)))

    with pytest.raises(ValueError, match=problem):
        spider_class.from_crawler(crawler, **arguments)


@deferred_f_from_coro_f
async def test_a_node_whose_watch_file_differs_refuses_to_crawl_and_says_why(
    tmp_path: Path, watch_path: Path, db_url: str
) -> None:
    dispatchers = tmp_path / "dispatcher-watch.toml"
    dispatchers.write_text(WATCH + '\n[[brands]]\nname = "Hachette"\n', encoding="utf-8")

    result = await crawl(
        EbaySpider,
        crawl_settings(watch_path, db_url),
        base_url="http://127.0.0.1:9/{site}",  # nothing answers there: nothing must be asked
        watch_sha256=watch_sha256(dispatchers),
        _job="job-on-a-stale-node",
    )

    assert result.stats["finish_reason"] == "watch_file_differs"
    assert result.stats.get("downloader/request_count", 0) == 0
    [run] = rows(db_url, CrawlRun)
    assert (run.status, run.job, run.finish_reason) == ("broken", "job-on-a-stale-node", "watch_file_differs")
    assert run.detail.startswith(f"refused to start: the watch file {watch_path} on this node (sha256 ")
    assert "give every node the same file" in run.detail
    same = EbaySpider.from_crawler(
        get_crawler(EbaySpider, project_settings(BRANDCRAWL_WATCH=str(watch_path))),
        watch_sha256=watch_sha256(watch_path).upper(),
    )
    assert same.foreign_watch_file() is None


def test_the_last_shard_revisits_only_the_listings_no_shard_saw(watch_path: Path) -> None:
    since = datetime(2026, 11, 27, 5, 30, tzinfo=UTC)
    spider = EbaySpider.from_crawler(
        get_crawler(EbaySpider, project_settings(BRANDCRAWL_WATCH=str(watch_path))),
        shard="2/2",
        unseen_since="2026-11-27T06:30:00+01:00",
    )

    def stored(last_seen: datetime) -> ListingRow:
        return ListingRow(
            marketplace="ebay", listing_id="1", site="ebay.fr", url="https://www.ebay.fr/itm/1",
            title="@gallimard", asset_kind="handle", status="active", last_seen=last_seen,
        )  # fmt: skip

    assert spider.unseen_since == since
    assert spider.revisit_request(stored(since - timedelta(days=1))) is not None, "no shard saw it today"
    assert spider.revisit_request(stored(since + timedelta(minutes=3))) is None, "the first shard saw it"
