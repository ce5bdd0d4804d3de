"""Accs-market (accs-market.com): one list page per platform (/twitter, /in, /youtube, /fb, /tiktok)
whose cards link (``div.post__more a``) to each listing's own page, /group/<id>, which alone says
what is sold: the account's link, its followers, the price, the seller and the ``div.group-data``
label/value pairs. The site has no keyword search: every platform list is read whole, newest first,
and the match pipeline keeps the hits. Markup: tests/fixtures/accsmarket/README.md."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import ClassVar
from urllib.parse import urlsplit

import scrapy
from scrapy.http import TextResponse

from brandcrawl.assets import HANDLE, extract_assets
from brandcrawl.config import WatchConfig
from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site, clean_text, texts
from spiders._shops import ShopSpider

#: The site's platform lists (its own paths) and the platform each sells.
PLATFORMS = {"twitter": "x", "in": "instagram", "youtube": "youtube", "fb": "facebook", "tiktok": "tiktok"}
LISTING_ID = re.compile(r"/group/(\d+)")
# What the site shows instead of a listing sold or withdrawn since its list page was read.
GONE = "has been removed"

# A listing's page is laid out by position, with few classes: the public scrapers of the site read it
# by these same paths (tests/fixtures/accsmarket/README.md).
TITLE = "div.group-info h1 span ::text"
FACTS = "//main/div/div/div[2]/span"  # "Listed: 12.11.2026", "ID: 427586", "Views: 312"
INFO = "//main/div/div/div[3]/div[2]"
NICHE_AND_LINK = f"{INFO}/p[1]//text()"  # "Books & Literature | https://twitter.com/Gallimard"
FIGURES = f"{INFO}/div[1]/p"  # "12 400 - subscribers", "0 $ - income per month", "0 $ - expense …"
PRICE = f"{INFO}/div[2]//text()"
DESCRIPTION = "//main/div/div/div[4]/div/div[1]/p[2]//text()"


class AccsMarketSpider(ShopSpider):
    name = "accsmarket"
    default_base_url = "https://{site}"
    allowed_domains: ClassVar[list[str]] = ["accs-market.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"accs-market.com": Site("accs-market.com", "USD")}
    default_categories = tuple(PLATFORMS)

    def configure(self, watch: WatchConfig, environ: Mapping[str, str] = os.environ) -> None:
        super().configure(watch, environ)
        # No keyword search on the site: the brand queries are not sent, the platform lists are read.
        self.queries, self.account_queries = [], {}

    def category_url(self, site: Site, category: str) -> str:
        return f"{self.site_root(site)}/{category}"

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[scrapy.Request]:
        for href in response.css("div.post__more a::attr(href)").getall():
            url = response.urljoin(href)
            found = LISTING_ID.search(urlsplit(url).path)
            if found is None:
                raise PageFormatError(f"a listing link without its /group/<id>: {href!r}")
            category = response.meta.get("category")
            if request := self.detail_request(url, found[1], response, category=category):
                yield request

    def result_count(self, response: TextResponse) -> int | None:
        # No count is shown; a list that is there and holds no card is really empty.
        posts = response.css("main div.posts")
        return 0 if posts and not posts.css("div.post") else None

    def next_page(self, response: TextResponse) -> str | None:
        return response.css("div.pagination a.next::attr(href)").get()

    def detail_listing(self, response: TextResponse, site: Site, seen_at: datetime) -> Listing | None:
        title = texts(response, TITLE)
        if not title:
            if GONE in response.text:
                self.logger.info("listing gone since its list page was read: %s", response.url)
                return None
            raise PageFormatError("no title on the listing's page")
        niche, _, link = clean_text(response.xpath(NICHE_AND_LINK).getall()).partition("|")
        followers, income, expense = self._parse_figures(response)
        price = clean_text(response.xpath(PRICE).getall()) or None
        if not link.strip() and followers is None and price is None:
            raise PageFormatError("neither the account, its followers nor its price where they were")
        asset = self._parse_asset(link.strip(), PLATFORMS.get(response.meta.get("category") or ""))
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            listing_id=response.meta.get("listing_id") or self._parse_listing_id(response),
            url=response.url,
            title=title,
            seen_at=seen_at,
            default_currency=site.currency,
            asset_kind="handle" if asset else "other",
            asset=asset,
            asset_text=link.strip() or None,
            description=clean_text(response.xpath(DESCRIPTION).getall()) or None,
            category=niche.strip() or None,
            sale_method="fixed",
            followers_text=followers,
            price_text=price,
            seller=texts(response, ".right-top__name .bold ::text") or None,
            details={
                **self._parse_facts(response),
                **({"link": link.strip()} if link.strip() else {}),
                **({"monthly_income": income} if income else {}),
                **({"monthly_expense": expense} if expense else {}),
                **self._parse_group_data(response),
            },
        )

    @staticmethod
    def _parse_listing_id(response: TextResponse) -> str:
        found = LISTING_ID.search(urlsplit(response.url).path)
        if found is None:
            raise PageFormatError(f"not a listing's address: {response.url}")
        return found[1]

    @staticmethod
    def _parse_asset(link: str, platform: str | None) -> str | None:
        """ "platform:handle" from "https://twitter.com/Gallimard" (the address's platform wins over
        the list's) or "@gallimard" (the list's platform); None for an address naming no single
        account (a YouTube /channel/UC…, facebook.com/profile.php?id=…)."""
        handles = [asset for asset in extract_assets(link) if asset.kind == "handle"]
        if "/" in link:
            return handles[0].value if handles and ":" in (handles[0].value or "") else None
        handle = link.removeprefix("@")
        return f"{platform}:{handle.lower()}" if platform and HANDLE.fullmatch(handle) else None

    @staticmethod
    def _parse_figures(response: TextResponse) -> tuple[str | None, str | None, str | None]:
        """Subscribers as written ("12 400 - subscribers"), the monthly income and expense."""
        figures = [clean_text(p.xpath(".//text()").getall()) or None for p in response.xpath(FIGURES)]
        followers, income, expense = [*figures, None, None, None][:3]
        # The money figures without their label ("150 $ - income per month": "150 $").
        return followers, income and income.partition(" - ")[0], expense and expense.partition(" - ")[0]

    @staticmethod
    def _parse_facts(response: TextResponse) -> dict[str, str]:
        """ "Listed: 12.11.2026" and "Views: 312" (the "ID" is the listing id)."""
        facts = (clean_text(span.xpath(".//text()").getall()) for span in response.xpath(FACTS))
        pairs = (fact.partition(":") for fact in facts)
        return {label.strip().casefold(): value.strip() for label, _, value in pairs if label.strip() != "ID"}

    @staticmethod
    def _parse_group_data(response: TextResponse) -> dict[str, str]:
        """The ``div.group-data`` pairs, as labelled: "Original email included: Yes"."""
        rows = response.css("div.group-data p")
        pairs = (clean_text(row.xpath(".//text()").getall()).partition(":") for row in rows)
        return {label.strip(): value.strip() for label, _, value in pairs if label.strip() and value.strip()}
