"""Every registered spider starts, takes base_url, and sends its requests there."""

from pathlib import Path

import pytest
from scrapy import Spider
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler

from tests.conftest import project_settings

SPIDER_NAMES = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["spiders"]})).list()


def test_the_spiders_are_registered() -> None:
    assert "ebay" in SPIDER_NAMES


@pytest.mark.parametrize("name", SPIDER_NAMES)
@deferred_f_from_coro_f
async def test_spider_starts_on_the_given_base_url(name: str, watch_path: Path) -> None:
    spider_class = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["spiders"]})).load(name)
    assert "start_requests" not in vars(spider_class), "Scrapy 2.16+ ignores start_requests(): use start()"
    crawler = get_crawler(spider_class, project_settings(BRANDCRAWL_WATCH=str(watch_path)))
    spider: Spider = spider_class.from_crawler(
        crawler, base_url="http://127.0.0.1:9/{site}", _job="scrapyd-job"
    )
    requests = [request async for request in spider.start()]
    assert requests
    assert all(request.url.startswith("http://127.0.0.1:9/") for request in requests)
    assert all(request.callback is None for request in requests), "search pages go to parse()"
