"""Big feed files downloaded in parts (HTTP range requests) into a spool file: what is read is the
same as from one response, a file replaced between parts is never stitched from two versions, and no
spool file is left behind. Driven on the Namecheap spider against the replica, which serves ranges
as CloudFront does."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f

from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.replica.namecheap import SALES_PATH, NamecheapApp
from brandcrawl.replica.server import ReplicaRequest, Reply
from spiders.namecheap import NamecheapSpider
from tests.conftest import CrawlResult, crawl, crawl_settings
from tests.test_namecheap import HITS

PART = 4096


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(NamecheapSpider, "feed_part_size", PART)
    spool_dir = tmp_path / "spool"
    spool_dir.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spool_dir))
    return spool_dir


class ReplacedAfterFirstPart(NamecheapApp):
    """Publishes a new version of the sales file (more rows) right after serving its first part."""

    def respond(self, request: ReplicaRequest) -> Reply | None:
        reply = super().respond(request)
        if request.path == SALES_PATH and reply is not None and reply[0] == 206 and self.filler == 200:
            self.filler = 300
        return reply


async def crawl_namecheap(replica: ReplicaMarketplace, watch_path: Path, db_url: str) -> CrawlResult:
    return await crawl(
        NamecheapSpider, crawl_settings(watch_path, db_url), base_url=f"{replica.base_url}/{{site}}"
    )


def ranges_asked(replica: ReplicaMarketplace) -> int:
    return sum(path.endswith(SALES_PATH) for path in replica.requests)


@deferred_f_from_coro_f
async def test_a_file_read_in_parts_gives_what_one_response_gives(
    watch_path: Path, db_url: str, small_parts: Path
) -> None:
    with ReplicaMarketplace(apps=[NamecheapApp]) as replica:
        app = replica.apps["namecheap"]
        assert isinstance(app, NamecheapApp)
        size = len(app.files[SALES_PATH][1]())
        result = await crawl_namecheap(replica, watch_path, db_url)
        parts = ranges_asked(replica)
    assert size > 3 * PART
    assert parts == -(-size // PART)
    assert {item.asset: item.sale_method for item in result.items} == HITS
    assert result.stats["brandcrawl/feed/parts"] >= parts
    assert (
        result.stats["brandcrawl/feed/rows"]
        == len(app.sales) + app.filler + len(app.buy_now) + app.buy_now_filler
    )
    assert result.stats["brandcrawl/run/status"] == "ok"
    assert list(small_parts.iterdir()) == [], "spool files are removed once read"


@deferred_f_from_coro_f
async def test_a_server_that_ignores_ranges_sends_the_file_whole(watch_path: Path, db_url: str) -> None:
    with ReplicaMarketplace(apps=[NamecheapApp]) as replica:
        app = replica.apps["namecheap"]
        assert isinstance(app, NamecheapApp)
        app.ignores_ranges = True
        result = await crawl_namecheap(replica, watch_path, db_url)
        parts = ranges_asked(replica)
    assert parts == 1
    assert {item.asset: item.sale_method for item in result.items} == HITS
    assert "brandcrawl/feed/parts" not in result.stats
    assert result.stats["brandcrawl/run/status"] == "ok"


@deferred_f_from_coro_f
async def test_a_file_replaced_between_parts_is_read_whole_in_its_new_version(
    watch_path: Path, db_url: str, small_parts: Path
) -> None:
    with ReplicaMarketplace(apps=[ReplacedAfterFirstPart]) as replica:
        app = replica.apps["namecheap"]
        assert isinstance(app, NamecheapApp)
        result = await crawl_namecheap(replica, watch_path, db_url)
        parts = ranges_asked(replica)
    # The second part's If-Range no longer matches: the server answers with the whole new file.
    assert parts == 2
    assert app.filler == 300
    assert (
        result.stats["brandcrawl/feed/rows"] == len(app.sales) + 300 + len(app.buy_now) + app.buy_now_filler
    )
    assert result.stats.get("brandcrawl/feed/malformed", 0) == 0
    assert {item.asset: item.sale_method for item in result.items} == HITS
    assert list(small_parts.iterdir()) == []


@deferred_f_from_coro_f
async def test_a_file_over_the_size_limit_is_not_read_and_the_run_says_so(
    watch_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(NamecheapSpider, "feed_maxsize", 3 * PART)
    with ReplicaMarketplace(apps=[NamecheapApp]) as replica:
        result = await crawl_namecheap(replica, watch_path, db_url)
        parts = ranges_asked(replica)
    assert parts == 1, "the first part tells the size: no more is fetched"
    assert result.stats["brandcrawl/site/namecheap.com/failed"] >= 1
    assert result.stats["brandcrawl/run/status"] != "ok"


@deferred_f_from_coro_f
async def test_an_empty_file_is_unexpectedly_empty_not_an_error(watch_path: Path, db_url: str) -> None:
    class EmptyFiles(NamecheapApp):
        def __init__(self, replica: ReplicaMarketplace) -> None:
            super().__init__(replica)
            self.serve(SALES_PATH, "csv", lambda: b"")

    with ReplicaMarketplace(apps=[EmptyFiles]) as replica:
        result = await crawl_namecheap(replica, watch_path, db_url)
    assert result.stats["brandcrawl/pages/unexpected_empty"] >= 1
    assert result.stats.get("brandcrawl/parse_errors", 0) == 0
