"""Revisits: after a crawl's searches, look again at stored hits the searches no longer showed, to
tell the digest which were sold, ended or are gone (a search only shows what is still on sale).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider, NotConfigured

from brandcrawl.runs import OK, judge, listings_read
from brandcrawl.storage import Store

# A complete inventory read with fewer rows than this share of the last run's is taken as partial.
COMPLETE_SHARE = 0.7

logger = logging.getLogger(__name__)


class RevisitExtension:
    """When a spider has nothing left to do, schedules ``spider.revisit_request(listing)`` for up to
    ``BRANDCRAWL_REVISIT_MAX`` of its marketplace's active listings that this run did not see, oldest
    first. Only after a crawl that read its search pages without being blocked: a site that blocks or
    errs must not turn every stored hit into "gone".

    A feed spider (``complete_inventory``) reads the marketplace's whole inventory instead: then every
    listing missing from a healthy run's files is ended, without fetching anything, unless the files
    came out much shorter than last time.
    """

    def __init__(self, crawler: Crawler, limit: int) -> None:
        self.crawler = crawler
        self.limit = limit
        self.started_at = datetime.now(UTC)
        self.done = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RevisitExtension:
        limit = crawler.settings.getint("BRANDCRAWL_REVISIT_MAX")
        if limit <= 0:
            raise NotConfigured("BRANDCRAWL_REVISIT_MAX is 0")
        extension = cls(crawler, limit)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_idle, signal=signals.spider_idle)
        return extension

    def spider_opened(self, spider: Spider) -> None:
        self.started_at = datetime.now(UTC)

    def spider_idle(self, spider: Spider) -> None:
        if self.done or not hasattr(spider, "revisit_request"):
            return
        self.done = True
        stats = self.crawler.stats
        healthy = (
            stats.get_value("brandcrawl/pages/parsed", 0) > 0
            and not stats.get_value("brandcrawl/feed/incomplete")
            and not any(key.endswith(("/failed", "/refused")) for key in stats.get_stats())
            and judge(stats.get_stats(), None).status == OK
        )
        if not healthy:
            return
        store = Store(self.crawler.settings["BRANDCRAWL_DB_URL"])
        # The crawl's own listings may still sit in the store pipeline's buffer: the spider knows them.
        seen = getattr(spider, "yielded", ())
        try:
            if getattr(spider, "complete_inventory", False):
                # Every file of the marketplace was read whole: a listing missing from them has ended,
                # unless the files are much shorter than last time (a partial export that still parses).
                previous = store.recent_listings_seen(spider.marketplace_name, 1)
                if previous and listings_read(stats.get_stats()) < previous[0] * COMPLETE_SHARE:
                    logger.warning(
                        "%s: the files are much shorter than last time; nothing ended", spider.name
                    )
                    return
                ended = store.end_unseen(spider.marketplace_name, self.started_at, seen, datetime.now(UTC))
                stats.inc_value("brandcrawl/revisits/ended", ended)
                return
            listings = store.unseen_active(spider.marketplace_name, self.started_at, self.limit, seen)
        finally:
            store.close()
        requests = [r for r in (spider.revisit_request(listing) for listing in listings) if r is not None]
        if not requests:
            return
        logger.info("%s: revisiting %d listings the searches no longer show", spider.name, len(requests))
        stats.inc_value("brandcrawl/revisits/sent", len(requests))
        assert self.crawler.engine is not None
        for request in requests:
            self.crawler.engine.crawl(request)
        raise DontCloseSpider
