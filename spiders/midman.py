"""Mid-Man (mid-man.com): a WordPress marketplace of social-media accounts, WooCommerce underneath.

Each listing is a card (``div.download-item-content``): the account's @handle is the card's title
(``a.product-title``), its followers ``li.list-follow``, its niche ``div.product-topic``, its price
``p.price``. The platform is the section the card is listed in (``/instagram/``, ``/twitter/``,
``/tiktok/``, ``/youtube/``, ``/facebook/``), which a search result has none of: those are read from
the listing's own page, whose WooCommerce product classes name its categories (``product_cat-instagram``)
and which also names the seller (``.name-author``) and holds the description.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

import scrapy
from parsel import Selector, SelectorList
from scrapy.http import TextResponse

from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site, clean_text, texts
from spiders._wordpress import (
    WooCommerceSpider,
    category_platform,
    handle_asset,
    platform_named,
    price_text,
    product_url,
    regular_price_text,
)

CARD = ".product-shop-area .download-item-content"
# The listing's own page: WooCommerce's div#product-<id>.product holding the theme's blocks.
PRODUCT = "div.product[id^='product-']"
DESCRIPTION = "//*[@id='tab-description']//text()[not(ancestor::h2)]"


class MidManSpider(WooCommerceSpider):
    name = "midman"
    allowed_domains: ClassVar[list[str]] = ["mid-man.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"mid-man.com": Site("mid-man.com", "USD")}
    # The sections are WooCommerce product categories with the category base removed.
    category_path = "/{category}/"
    default_categories = ("instagram", "twitter", "tiktok", "youtube", "facebook")

    def card_listings(
        self, response: TextResponse, site: Site, seen_at: datetime
    ) -> Iterator[Listing | scrapy.Request]:
        platform = platform_named(response.meta.get("category"))
        for card in response.css(CARD):
            listing = self._parse_card(card, response, site, seen_at, platform)
            if platform is None:
                # A search result: without its section the handle's platform is unknown, and an official
                # handle (instagram:@gallimard) is only told from a squatted one on the right platform.
                if request := self.detail_request(listing.url, listing.listing_id, response):
                    yield request
            else:
                yield listing

    def _parse_card(
        self, card: Selector, response: TextResponse, site: Site, seen_at: datetime, platform: str | None
    ) -> Listing:
        handle = texts(card, "a.product-title ::text")
        if not handle:
            raise PageFormatError(f"a listing card without its handle on {response.url}")
        url = product_url(response, card.css("a.product-title::attr(href)").get())
        return self.listing(
            site,
            seen_at,
            listing_id=_parse_slug(url),
            url=url,
            title=handle,
            category=texts(card, ".product-topic ::text") or None,
            followers_text=texts(card, ".list-follow ::text") or None,
            price_text=price_text(card.css(".price")),
            status=None,  # a card does not say whether the account sold: its own page does
            details=_parse_details(card, platform),
            **handle_asset(platform, handle, handle_field=True),
        )

    def detail_listing(self, response: TextResponse, site: Site, seen_at: datetime) -> Listing:
        product = response.css(PRODUCT)
        if not product:
            raise PageFormatError(f"a listing page without its product on {response.url}")
        title = texts(product, ".widget-title-product h1 ::text")
        platform = category_platform(product.attrib.get("class"))
        # The meta row: followers first, the niche last.
        meta = [clean_text(item.xpath(".//text()").getall()) for item in product.css(".list-meta li")]
        seller = product.css(".name-author a")
        url = product_url(response, response.url)
        # Scoped: WooCommerce puts related products, with their own prices, inside the product too.
        price = product.css(".widget-product-price")
        details = _parse_details(price, platform)
        if seller_url := seller.attrib.get("href"):
            details["seller_url"] = seller_url
        return self.listing(
            site,
            seen_at,
            listing_id=_parse_slug(url),
            url=url,
            title=title,
            description=clean_text(product.xpath(DESCRIPTION).getall()) or None,
            category=meta[-1] if len(meta) > 1 else None,
            followers_text=meta[0] if meta else None,
            price_text=price_text(price.css(".price")),
            seller=texts(seller, "::text") or None,
            status="sold" if product.css(".stock.out-of-stock") else "active",
            details=details,
            **handle_asset(platform, title, handle_field=True),
        )


def _parse_slug(url: str) -> str:
    # The product's slug is its id: the card does not show WooCommerce's post id.
    slug = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    if not slug:
        raise PageFormatError(f"a listing address without its slug: {url}")
    return slug


def _parse_details(node: Selector | SelectorList[Selector], platform: str | None) -> dict[str, str]:
    details = {"platform": platform} if platform else {}
    if regular := regular_price_text(node.css(".price")):
        details["regular_price"] = regular  # on sale: the struck-out price
    return details
