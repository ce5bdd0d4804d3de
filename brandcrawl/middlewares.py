"""Downloader middlewares that keep the crawler polite and reachable."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.http import Response
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred

from brandcrawl import __version__
from brandcrawl.watch import watch_from_settings

logger = logging.getLogger(__name__)


class ContactUserAgentMiddleware:
    """An honest User-Agent: who we are and how to reach whoever runs the crawl.

    The contact is the watch file's ``crawl.contact``, else the ``BRANDCRAWL_CONTACT`` setting.
    """

    def __init__(self, user_agent: str) -> None:
        self.user_agent = user_agent

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContactUserAgentMiddleware:
        watch = watch_from_settings(crawler.settings, required=False)
        contact = (watch.crawl.contact if watch else None) or crawler.settings["BRANDCRAWL_CONTACT"]
        return cls(f"brandcrawl/{__version__} (brand-protection marketplace watch; +{contact})")

    def process_request(self, request: Request) -> None:
        request.headers.setdefault(b"User-Agent", self.user_agent)


class BackoffMiddleware:
    """On 429 or 503, raise the delay of that site's download slot before the retry goes out.

    Honours ``Retry-After`` (seconds or an HTTP date), otherwise doubles the slot's delay, never above
    ``BRANDCRAWL_BACKOFF_MAX_DELAY``. AutoThrottle then eases the delay back down on good answers.
    """

    STATUSES = frozenset({429, 503})

    def __init__(self, crawler: Crawler, max_delay: float) -> None:
        self.crawler = crawler
        self.max_delay = max_delay

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BackoffMiddleware:
        return cls(crawler, crawler.settings.getfloat("BRANDCRAWL_BACKOFF_MAX_DELAY"))

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in self.STATUSES:
            return response
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        if slot is None:
            return response
        asked = _retry_after(response)
        delay = min(self.max_delay, max(asked or 0.0, slot.delay * 2, 1.0))
        if delay > slot.delay:
            logger.info(
                "%s answered %s: waiting %.0fs between its requests", request.url, response.status, delay
            )
            slot.delay = delay
        self.crawler.stats.inc_value("brandcrawl/backoff")
        return response


def _retry_after(response: Response) -> float | None:
    value = response.headers.get(b"Retry-After")
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with every request that waits for the file getting its rules.

    In Scrapy 2.19 the requests that arrive while a site's robots.txt is still downloading all await
    the same Deferred; the first one consumes its result and the others receive None, which means
    "no robots.txt": they go out unchecked. Each waiter here gets a Deferred of its own.
    """

    async def robot_parser(self, request: Request) -> RobotParser | None:
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        mine: Deferred[RobotParser | None] = Deferred()

        def hand_over(parser: RobotParser | None) -> RobotParser | None:
            mine.callback(parser)
            return parser  # unchanged for the next waiter

        pending.addCallback(hand_over)
        return await maybe_deferred_to_future(mine)
