"""What Social Tradia and Mid-Man share: both are WordPress shops running WooCommerce.

Both answer WordPress's product search ``/?s=<term>&post_type=product`` and page with ``/page/N/`` and a
``a.next.page-numbers`` link (WooCommerce's ``nav.woocommerce-pagination``, WordPress's ``div.nav-links``),
print prices with WooCommerce's ``wc_price()`` markup (``span.woocommerce-Price-amount``, a sale as
``<del>`` then ``<ins>``), and sit behind Cloudflare, whose challenge is a 403 "Just a moment..." page.

WooCommerce answers a product search with exactly one result by a 302 to that product's own page
(``woocommerce_redirect_single_search_result``), so a search can land on a product page: ``listings``
reads one as the single result.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote, quote_plus, urlsplit, urlunsplit

import scrapy
from parsel import Selector, SelectorList
from scrapy.http import TextResponse

from brandcrawl.assets import AT_HANDLE, HANDLE, canonical_platform
from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site, clean_text
from spiders._shops import CLOUDFLARE_TITLES, ShopSpider

PLATFORMS = frozenset({"x", "instagram", "tiktok", "youtube", "facebook", "twitch", "snapchat"})
# WordPress's body class on any product's own page, whatever the theme.
PRODUCT_PAGE = "body.single-product"
# WooCommerce's "No products were found matching your selection." (Savoy wraps it in its own div),
# WordPress's "Nothing found" section.
NO_RESULTS = ".woocommerce-no-products-found, .nm-shop-no-products, section.no-results"
_PRODUCT_CAT = re.compile(r"\bproduct_cat-([a-z0-9-]+)")


class WooCommerceSpider(ShopSpider):
    """A WooCommerce shop of social-media accounts: one product per account, sold at a fixed price."""

    default_base_url = "https://{site}"
    block_titles = (*CLOUDFLARE_TITLES, "Access denied")
    #: Read by category_url(): where a category's listing is, ``{category}`` its slug.
    category_path: ClassVar[str] = "/product-category/{category}/"

    def search_url(self, site: Site, query: str) -> str:
        return f"{self.site_root(site)}/?s={quote_plus(query)}&post_type=product"

    def category_url(self, site: Site, category: str) -> str:
        return self.site_root(site) + self.category_path.format(category=quote(category))

    def listings(
        self, response: TextResponse, site: Site, seen_at: datetime
    ) -> Iterator[Listing | scrapy.Request]:
        if response.css(PRODUCT_PAGE):
            yield self.detail_listing(response, site, seen_at)
        else:
            yield from self.card_listings(response, site, seen_at)

    def card_listings(
        self, response: TextResponse, site: Site, seen_at: datetime
    ) -> Iterator[Listing | scrapy.Request]:
        """The listings of a results page: a Listing per card, or the request for its own page."""
        raise NotImplementedError

    def result_count(self, response: TextResponse) -> int | None:
        if response.css(NO_RESULTS):
            return 0
        return 1 if response.css(PRODUCT_PAGE) else None

    def next_page(self, response: TextResponse) -> str | None:
        return response.css("a.next.page-numbers::attr(href)").get()

    def listing(self, site: Site, seen_at: datetime, **fields: Any) -> Listing:
        """A listing of this shop: its identity, USD by default, a fixed price."""
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            seen_at=seen_at,
            default_currency=site.currency,
            sale_method="fixed",
            **fields,
        )


def product_url(response: TextResponse, href: str | None) -> str:
    """A product's absolute address without query or fragment; a card without one is a changed layout."""
    if not href:
        raise PageFormatError(f"a product card without a link on {response.url}")
    parts = urlsplit(response.urljoin(href))
    if parts.scheme not in ("http", "https"):
        raise PageFormatError(f"a product link that is no web address: {href!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def price_text(node: Selector | SelectorList[Selector]) -> str | None:
    """The price a product sells at: the ``<ins>`` one of a sale, else the first amount shown."""
    amount = node.css("ins .woocommerce-Price-amount") or node.css(".woocommerce-Price-amount")
    return _amount(amount)


def regular_price_text(node: Selector | SelectorList[Selector]) -> str | None:
    """The struck-out price of a product on sale."""
    return _amount(node.css("del .woocommerce-Price-amount"))


def _amount(amounts: SelectorList[Selector]) -> str | None:
    # "$1,500.00": the currency symbol's span and the figure, with or without WooCommerce 4.4's <bdi>,
    # glued as shown.
    if not amounts:
        return None
    return clean_text(["".join(amounts[0].css("::text").getall())]) or None


def category_slugs(classes: str | None) -> list[str]:
    """The ``product_cat-<slug>`` classes WooCommerce puts on a product (``wc_product_class``)."""
    return _PRODUCT_CAT.findall(classes or "")


def category_platform(classes: str | None) -> str | None:
    """The platform a product's categories name (``product_cat-instagram``), if any does."""
    return next(filter(None, map(platform_named, category_slugs(classes))), None)


def platform_named(text: str | None) -> str | None:
    """The platform a category slug or label names: "instagram", "twitter" (x), "tiktok-accounts"."""
    for word in re.split(r"[^a-z0-9]+", (text or "").casefold()):
        if (platform := canonical_platform(word)) in PLATFORMS:
            return platform
    return None


def handle_asset(platform: str | None, text: str, *, handle_field: bool = False) -> dict[str, str]:
    """The asset fields for the one @handle a text names, on a platform the site states structurally
    (its section or category); nothing when either is unknown, so the pipeline reads the text.

    ``handle_field``: the text is the site's handle field, where a lone word is the handle even
    written without its "@".
    """
    handles = [(found.group(0), found.group(1)) for found in AT_HANDLE.finditer(text)]
    if not handles and handle_field and (bare := HANDLE.fullmatch(text.strip())):
        handles = [(bare.group(0), bare.group(0))]
    if platform is None or len(handles) != 1:
        return {}
    written, handle = handles[0]
    return {"asset_kind": "handle", "asset": f"{platform}:{handle.lower()}", "asset_text": written}
