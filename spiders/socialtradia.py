"""Social Tradia (socialtradia.com): a WooCommerce shop of social-media accounts, on the Savoy theme.

A product is one account. Its title names the niche or platform and, in brackets, the followers
("Books & Literature Instagram Page (12K Followers)"); its categories (``product_cat-<slug>`` on the
card) the platform. The account's address is mostly given only on the product's own page, in the short
description ("https://www.instagram.com/…"), so a listing whose title names no handle is read from
its page. Sold accounts stay listed, out of stock.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import ClassVar

import scrapy
from parsel import Selector, SelectorList
from scrapy.http import TextResponse

from brandcrawl.assets import extract_assets
from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site, clean_text, texts
from spiders._wordpress import (
    WooCommerceSpider,
    category_platform,
    category_slugs,
    handle_asset,
    platform_named,
    price_text,
    product_url,
    regular_price_text,
)

# Savoy's loop item: li.product > div.nm-shop-loop-thumbnail (a.woocommerce-LoopProduct-link) and
# div.nm-shop-loop-details (h3 > a title, div.nm-shop-loop-price > span.price).
CARD = "ul.products > li.product"
CARD_TITLE = ".nm-shop-loop-details h3 ::text, .woocommerce-loop-product__title ::text"
CARD_LINK = "a.woocommerce-LoopProduct-link::attr(href), .nm-shop-loop-details h3 a::attr(href)"
# The product's own page: div#product-<id>.product with the summary, then the description tab.
PRODUCT = "div.product[id^='product-']"
DESCRIPTION = "//*[@id='tab-description']//text()[not(ancestor::h2)]"
_POST_ID = re.compile(r"\bpost-(\d+)\b")
# "(12K Followers)", "(1.2M Subscribers)" closing the title.
_FOLLOWERS = re.compile(r"\(([^()]*\d[^()]*)\)\s*$")


class SocialTradiaSpider(WooCommerceSpider):
    name = "socialtradia"
    allowed_domains: ClassVar[list[str]] = ["socialtradia.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"socialtradia.com": Site("socialtradia.com", "USD")}
    # The platforms' category slugs; a watch file's `categories` replaces them if the shop renames one.
    default_categories = ("instagram", "tiktok", "youtube", "twitter")

    def card_listings(
        self, response: TextResponse, site: Site, seen_at: datetime
    ) -> Iterator[Listing | scrapy.Request]:
        for card in response.css(CARD):
            listing = self._parse_card(card, response, site, seen_at)
            if not _names_a_handle(listing.title):
                # Most titles name only the niche: the account's address is on the product's page.
                if request := self.detail_request(listing.url, listing.listing_id, response):
                    yield request
            else:
                yield listing

    def _parse_card(self, card: Selector, response: TextResponse, site: Site, seen_at: datetime) -> Listing:
        classes = card.attrib.get("class", "")
        title = clean_text(card.css(CARD_TITLE).getall())
        if not title:
            raise PageFormatError(f"a product card without a title on {response.url}")
        platform = category_platform(classes) or platform_named(response.meta.get("category"))
        return self.listing(
            site,
            seen_at,
            listing_id=_parse_post_id(classes),
            url=product_url(response, card.css(CARD_LINK).get()),
            title=title,
            category=_parse_category(classes) or response.meta.get("category"),
            followers_text=_parse_followers(title),
            price_text=price_text(card.css(".price")),
            status="sold" if "outofstock" in classes.split() else "active",
            details=_parse_details(card),
            **handle_asset(platform, title),
        )

    def detail_listing(self, response: TextResponse, site: Site, seen_at: datetime) -> Listing:
        product = response.css(PRODUCT)
        if not product:
            raise PageFormatError(f"a product page without its product on {response.url}")
        classes = product.attrib.get("class", "")
        title = texts(product, "h1.product_title ::text")
        summary = texts(product, ".woocommerce-product-details__short-description ::text")
        description = clean_text(product.xpath(DESCRIPTION).getall())
        return self.listing(
            site,
            seen_at,
            listing_id=_parse_post_id(classes),
            url=product_url(response, response.url),
            title=title,
            description="\n".join(text for text in (summary, description) if text) or None,
            category=_parse_category(classes),
            followers_text=_parse_followers(title),
            price_text=price_text(product.css(".summary .price")),
            status="sold" if product.css(".stock.out-of-stock") else "active",
            details=_parse_details(product.css(".summary")),
            **handle_asset(category_platform(classes), title),
        )


def _names_a_handle(title: str) -> bool:
    return any(asset.kind == "handle" for asset in extract_assets(title))


def _parse_post_id(classes: str) -> str:
    # WooCommerce's "post-4821": the product's id, on its card and on its page alike.
    found = _POST_ID.search(classes)
    if found is None:
        raise PageFormatError(f"a product without its post id: {classes!r}")
    return found.group(1)


def _parse_category(classes: str) -> str | None:
    return ", ".join(category_slugs(classes)) or None


def _parse_followers(title: str) -> str | None:
    found = _FOLLOWERS.search(title)
    return found.group(1).strip() if found else None


def _parse_details(node: Selector | SelectorList[Selector]) -> dict[str, str]:
    # On sale: the struck-out price, beside the one asked (price_text).
    regular = regular_price_text(node.css(".price"))
    return {"regular_price": regular} if regular else {}
