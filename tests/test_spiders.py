"""Every registered spider starts, takes base_url, and sends its requests there."""

from pathlib import Path
from urllib.parse import urlsplit

import pytest
from scrapy import Spider
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from tests.conftest import WATCH, project_settings

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
    spider: Spider = spider_class.from_crawler(
        crawler, base_url="http://127.0.0.1:9/{site}", _job="scrapyd-job"
    )
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
