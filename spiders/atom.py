"""Atom (atom.com, formerly Squadhelp): brandable domain names at a fixed "Buy Now" price.

Read from its keyword search ``/premium-domains-for-sale/all/q/<keyword>`` and, where the watch file
names them, its listing pages read whole (``/premium-domains-for-sale``, ``/ultra-premium-marketplace``…),
each paged ``…/page/N`` up to the ``totalPages: N`` its script states. A name is an ``a.domain-name``
(the domain as written, linking to its page ``/name/<Name>``) and its price the ``.domain-price``
after it. Where this markup comes from: tests/fixtures/atom/README.md.

Atom sits behind Cloudflare, which stops crawlers with a 403 challenge: every 403 reads as blocked.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote, urlsplit, urlunsplit

from parsel import Selector
from scrapy.http import TextResponse

from brandcrawl.assets import ascii_host
from brandcrawl.config import WatchConfig
from brandcrawl.items import Listing
from spiders._base import PageFormatError, SearchSpider, Site, texts
from spiders._shops import CLOUDFLARE_SETTINGS, CLOUDFLARE_TITLES

# Names and prices, in document order: a price belongs to the name before it.
NAME_OR_PRICE = "a.domain-name, .domain-price"
TOTAL_PAGES = re.compile(r"\btotalPages:\s*(\d+)")
PAGE_SUFFIX = re.compile(r"/page/(\d+)/?$")
DIGIT = re.compile(r"\d")
MAKE_OFFER = re.compile(r"\boffer\b", re.IGNORECASE)
# The listing pages sold at a fixed price, read whole when the watch file names them. Atom's
# /expired-domains are auctions, whose bids and end times no known source shows: left out.
CATEGORIES = (
    "premium-domains-for-sale",
    "ai-domains-for-sale",
    "ultra-premium-marketplace",
    "aged-domains",
    "aftermarket-domains",
)


class AtomSpider(SearchSpider):
    name = "atom"
    allowed_domains: ClassVar[list[str]] = ["atom.com"]
    # Atom prices every name in US dollars.
    site_profiles: ClassVar[dict[str, Site]] = {"atom.com": Site("atom.com", "USD")}
    block_titles = CLOUDFLARE_TITLES
    # Read by Scrapy: 403 reaches the spider, which counts it as a blocked page.
    custom_settings: ClassVar[dict[str, Any]] = CLOUDFLARE_SETTINGS

    def configure(self, watch: WatchConfig, environ: Mapping[str, str] = os.environ) -> None:
        super().configure(watch, environ)
        # Checked before the crawl: an unknown listing page would otherwise read as a layout change.
        if unknown := [c for c in self.categories if c not in CATEGORIES]:
            raise ValueError(f"atom: unknown categories {', '.join(unknown)}; known: {', '.join(CATEGORIES)}")

    def is_blocked(self, response: TextResponse) -> bool:
        return response.status == 403 or super().is_blocked(response)

    def search_url(self, site: Site, query: str) -> str:
        return f"{self.site_root(site)}/premium-domains-for-sale/all/q/{quote(query, safe='')}"

    def category_url(self, site: Site, category: str) -> str:
        return f"{self.site_root(site)}/{category}"

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[Listing]:
        for name, price in _names_and_prices(response):
            listing = self._parse_listing(name, price, response, site, seen_at)
            if listing is not None:
                yield listing

    def _parse_listing(
        self,
        name: Selector,
        price: Selector | None,
        response: TextResponse,
        site: Site,
        seen_at: datetime,
    ) -> Listing | None:
        written = self._parse_domain(name)
        if written is None:
            return None  # a business name without its domain: nothing a registry sells
        url = self._parse_url(name, response)
        if url is None:
            self._card_error(response, f"the name {written!r} links nowhere")
            return None
        if price is None:
            # Kept, as the name is what a hit needs, but the run reads broken: the card changed.
            self._card_error(response, f"the name {written!r} has no price")
        price_text = self._parse_price(price)
        asset = ascii_host(written)
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            listing_id=asset,
            url=url,
            title=written,
            seen_at=seen_at,
            default_currency=site.currency,
            asset_kind="domain",
            asset=asset,
            asset_text=written,
            category=response.meta.get("category"),
            sale_method=self._parse_sale_method(price_text),
            # "Make Offer" is no price the normaliser should fail to read.
            price_text=price_text if price_text and DIGIT.search(price_text) else None,
        )

    @staticmethod
    def _parse_domain(name: Selector) -> str | None:
        written = texts(name, "::text")
        return written if "." in written and " " not in written else None

    @staticmethod
    def _parse_url(name: Selector, response: TextResponse) -> str | None:
        href = name.attrib.get("href")
        if not href:
            return None
        parts = urlsplit(response.urljoin(href))
        if parts.scheme not in ("http", "https"):
            return None  # a javascript: link is no listing, and must not reach the digest
        # Without the tracking parameters Atom's links carry ("?lp=d", "?source=direct").
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    @staticmethod
    def _parse_price(price: Selector | None) -> str | None:
        if price is None:
            return None
        return texts(price, "::text") or None

    @staticmethod
    def _parse_sale_method(text: str | None) -> str | None:
        """An amount is the Buy Now price; "Make Offer" instead of one takes offers."""
        if not text:
            return None
        if DIGIT.search(text):
            return "fixed"
        return "offer" if MAKE_OFFER.search(text) else None

    def _card_error(self, response: TextResponse, problem: str) -> None:
        self.crawler.stats.inc_value("brandcrawl/parse_errors")
        self.logger.error("%s on %s", problem, response.url)

    def result_count(self, response: TextResponse) -> int | None:
        # Atom states no count, but a search that matches nothing has no page at all.
        return 0 if _total_pages(response) == 0 else None

    def next_page(self, response: TextResponse) -> str | None:
        parts = urlsplit(response.url)
        found = PAGE_SUFFIX.search(parts.path)
        page = int(found[1]) if found else 1
        if page >= _total_pages(response):
            return None
        return urlunsplit(parts._replace(path=f"{PAGE_SUFFIX.sub('', parts.path)}/page/{page + 1}"))


def _names_and_prices(response: TextResponse) -> Iterator[tuple[Selector, Selector | None]]:
    """Each name with the price after it, before the next name (None: the card shows no price)."""
    name: Selector | None = None
    for node in response.css(NAME_OR_PRICE):
        if "domain-name" in node.attrib.get("class", "").split():
            if name is not None:
                yield name, None
            name = node
        elif name is not None:
            yield name, node
            name = None
    if name is not None:
        yield name, None


def _total_pages(response: TextResponse) -> int:
    """The ``totalPages: N`` of the page's script; none there is a changed page."""
    found = TOTAL_PAGES.search(" ".join(response.xpath("//script/text()").getall()))
    if found is None:
        raise PageFormatError("no `totalPages: N` in the page's scripts")
    return int(found[1])
