"""Account shops behind Cloudflare (Accs-market, Fameswap, and the WooCommerce shops in _wordpress.py),
whose listings are read on their own pages where the results page does not say enough.

Cloudflare answers a crawler it stops with 403: its managed challenge ("Just a moment...", marked by a
``cf-mitigated: challenge`` header) and its firewall's block page ("Attention Required!"). Scrapy drops
non-2xx answers before a spider sees them, so these spiders let 403 through and read every 403 as a
blocked page: on these sites it is Cloudflare's answer, and the run must say "blocked", not "broken".
"""

from __future__ import annotations

from typing import Any, ClassVar

from scrapy.http import TextResponse

from spiders._base import SearchSpider

#: Cloudflare's pages, by <title>.
CLOUDFLARE_TITLES = ("Just a moment...", "Attention Required!")
#: 403 answers reach the spider (default: dropped as HttpError), which counts them as blocked pages.
CLOUDFLARE_SETTINGS: dict[str, Any] = {"HTTPERROR_ALLOWED_CODES": [403]}


class ShopSpider(SearchSpider):
    """A results page yields ``detail_request``s; ``detail_listing`` reads each listing's own page."""

    block_titles = CLOUDFLARE_TITLES
    custom_settings: ClassVar[dict[str, Any]] = CLOUDFLARE_SETTINGS

    def is_blocked(self, response: TextResponse) -> bool:
        return response.status == 403 or super().is_blocked(response)
