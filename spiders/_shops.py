"""Account shops (Accs-market, Fameswap): results pages that link to each listing's own page, which
alone says what is sold, and a site behind Cloudflare.

Cloudflare answers a crawler it stops with 403: its managed challenge ("Just a moment...", marked by a
``cf-mitigated: challenge`` header) and its firewall's block page ("Attention Required!"). Scrapy drops
non-2xx answers before a spider sees them, so these spiders let 403 through and read every 403 as a
blocked page: on these sites it is Cloudflare's answer, and the run must say "blocked", not "broken".
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from scrapy.http import Response, TextResponse

from brandcrawl.items import Listing
from spiders._base import PageFormatError, SearchSpider, Site

#: Cloudflare's pages, by <title>.
CLOUDFLARE_TITLES = ("Just a moment...", "Attention Required!")
#: 403 answers reach the spider (default: dropped as HttpError), which counts them as blocked pages.
CLOUDFLARE_SETTINGS: dict[str, Any] = {"HTTPERROR_ALLOWED_CODES": [403]}


class ShopSpider(SearchSpider):
    """A results page yields ``detail_request``s; ``listing`` reads each listing's own page."""

    block_titles = CLOUDFLARE_TITLES
    custom_settings: ClassVar[dict[str, Any]] = CLOUDFLARE_SETTINGS

    def is_blocked(self, response: TextResponse) -> bool:
        return (
            response.status == 403
            or response.headers.get("cf-mitigated") == b"challenge"
            or super().is_blocked(response)
        )

    def count_blocked(self, response: TextResponse) -> bool:
        """Whether a page is a bot challenge, counted as such so that the run reads as blocked."""
        if not self.is_blocked(response):
            return False
        self.crawler.stats.inc_value("brandcrawl/pages/blocked")
        self.logger.warning("bot-challenge page instead of %s (%s)", response.url, response.status)
        return True

    def parse_listing(self, response: Response) -> Iterator[Listing]:
        """A listing's own page (``scrapy parse --callback parse_listing <url>``)."""
        site = self.site_for(response)
        try:
            if not isinstance(response, TextResponse):
                raise PageFormatError(f"not a text page ({response.headers.get('Content-Type')!r})")
            if self.count_blocked(response):
                return
            listing = self.listing(response, site, datetime.now(UTC))
        except (PageFormatError, ValueError, KeyError, TypeError, AttributeError) as error:
            # Counted as the base counts a results page it cannot read: the run is "broken".
            self.crawler.stats.inc_value("brandcrawl/parse_errors")
            self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/failed")
            self.logger.error("could not read %s: %s: %s", response.url, type(error).__name__, error)
            return
        if listing is not None:
            yield listing

    def listing(self, response: TextResponse, site: Site, seen_at: datetime) -> Listing | None:
        """The listing on its own page; None when the site says it is gone."""
        raise NotImplementedError
