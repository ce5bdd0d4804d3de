"""eBay search result pages on ebay.com, ebay.fr, ebay.de and ebay.co.uk, in both markups eBay serves:
the current ``li.s-card[data-listingid]`` cards and the older ``li.s-item`` ones."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote_plus, urlsplit, urlunsplit

from parsel import Selector
from scrapy.http import TextResponse

from brandcrawl.items import Listing
from brandcrawl.normalize import parse_count
from spiders._base import SearchSpider, Site, clean_text, texts


@dataclass(frozen=True)
class Markup:
    """Where one generation of eBay's result cards keeps each field."""

    card: str
    link: str
    price: str
    bids: str | None  # None: the bid count is an unclassed attribute row, found by its wording
    time_left: str
    seller: str


# Only cards in the results list: the "Shop on eBay" placeholders sit before it, "Recently viewed"
# carousels and left-rail merchandising after or beside it.
CARD = Markup(
    card=".srp-results li.s-card[data-listingid]",
    link="a.s-card__link::attr(href)",
    price=".s-card__price",  # auctions with Buy It Now show two prices: the first is the current bid
    bids=None,
    time_left=".s-card__time-left ::text",
    # The seller row is the one with the feedback score ("99.2% positive (308)"); a customs row may
    # come before it.
    seller=(
        ".su-card-container__attributes__secondary .s-card__attribute-row:has(span:contains('%'))"
        " > span:first-child::text"
    ),
)
ITEM = Markup(
    card=".srp-results li.s-item",
    link="a.s-item__link::attr(href)",
    price=".s-item__price",
    bids=".s-item__bidCount ::text",
    time_left=".s-item__time-left ::text",
    seller=".s-item__seller-info-text ::text",
)
# Title text without the screen-reader-only spans ("Opens in a new window or tab") and the
# "New listing" badge, in every language.
TITLE_TEXT = (
    ".//*[contains(concat(' ', normalize-space(@class), ' '), ' s-card__title ')"
    " or contains(concat(' ', normalize-space(@class), ' '), ' s-item__title ')]"
    "//text()[not(ancestor::*[contains(concat(' ', normalize-space(@class), ' '), ' clipped ')"
    " or contains(@class, 'LIGHT_HIGHLIGHT')])]"
)
HIDDEN_PHRASES = re.compile(
    r"\s*(opens in a new window or tab|wird in neuem fenster oder tab geöffnet"
    r"|s'ouvre dans une nouvelle fenêtre ou un nouvel onglet)\s*$",
    re.IGNORECASE,
)
BIDS = re.compile(r"^\s*[\d.,\s\u00a0\u202f]+\s*(bids?|gebote?|enchères?|offres?)\s*$", re.IGNORECASE)
BEST_OFFER = re.compile(r"best\s+offer|preisvorschlag|offre\s+directe", re.IGNORECASE)
ITEM_ID = re.compile(r"/itm/(?:[^/?#]+/)?(\d{6,})")
# eBay's "Shop on eBay" card heads the current markup's results and sells nothing.
PLACEHOLDER_TITLES = frozenset({"shop on ebay"})
PLACEHOLDER_ITEM_ID = "123456"


# eBay forbids selling social-media accounts, so such sales are worded in disguise: searched as the
# brand beside these words in each site's language, they surface even when the brand alone has
# pages of ordinary goods (books, for a publisher) that push them past max_pages.
ACCOUNT_WORDS_EN = ("instagram", "twitter", "tiktok", "account", "username", "handle", "@{brand}")
ACCOUNT_WORDS = {
    "ebay.com": ACCOUNT_WORDS_EN,
    "ebay.co.uk": ACCOUNT_WORDS_EN,
    "ebay.fr": ("instagram", "twitter", "tiktok", "compte", "pseudo", "@{brand}"),
    "ebay.de": ("instagram", "twitter", "tiktok", "konto", "username", "@{brand}"),
}


class EbaySpider(SearchSpider):
    name = "ebay"
    source = "pages"
    default_account_words = ACCOUNT_WORDS
    allowed_domains: ClassVar[list[str]] = ["ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"]
    site_profiles: ClassVar[dict[str, Site]] = {
        "ebay.com": Site("ebay.com", "USD"),
        "ebay.fr": Site("ebay.fr", "EUR"),
        "ebay.de": Site("ebay.de", "EUR"),
        "ebay.co.uk": Site("ebay.co.uk", "GBP"),
    }
    block_titles = ("Pardon Our Interruption", "Security Measure", "Checking your browser")

    def search_url(self, site: Site, query: str) -> str:
        # _sop=10: newest listings first, so a daily crawl sees what appeared since yesterday.
        return f"{self.site_root(site)}/sch/i.html?_nkw={quote_plus(query)}&_sop=10"

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[Listing]:
        for markup in (CARD, ITEM):
            for card in response.css(markup.card):
                listing = self._parse_listing(card, markup, response, site, seen_at)
                if listing is not None:
                    yield listing

    def _parse_listing(
        self, card: Selector, markup: Markup, response: TextResponse, site: Site, seen_at: datetime
    ) -> Listing | None:
        title = self._parse_title(card)
        url = self._parse_url(card, markup, response)
        listing_id = self._parse_listing_id(card, url)
        if not title or title.casefold() in PLACEHOLDER_TITLES or listing_id == PLACEHOLDER_ITEM_ID:
            return None
        if url is None or listing_id is None:
            self.crawler.stats.inc_value("brandcrawl/parse_errors")
            self.logger.error("a result card without a usable link on %s: %r", response.url, title)
            return None
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            listing_id=listing_id,
            url=url,
            title=title,
            seen_at=seen_at,
            default_currency=site.currency,
            price_text=self._parse_price(card, markup),
            bids_text=self._parse_bids(card, markup),
            time_left_text=texts(card, markup.time_left) or None,
            seller=self._parse_seller(card, markup),
            sale_method=self._parse_sale_method(card, markup),
        )

    @staticmethod
    def _parse_title(card: Selector) -> str:
        return HIDDEN_PHRASES.sub("", clean_text(card.xpath(TITLE_TEXT).getall()))

    @staticmethod
    def _parse_url(card: Selector, markup: Markup, response: TextResponse) -> str | None:
        href = card.css(markup.link).get()
        if not href:
            return None
        # Drop eBay's tracking parameters: the listing's address is its path.
        parts = urlsplit(response.urljoin(href))
        if parts.scheme not in ("http", "https"):
            return None  # a javascript: or data: link is no listing, and must not reach the digest
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    @staticmethod
    def _parse_listing_id(card: Selector, url: str | None) -> str | None:
        if listing_id := card.attrib.get("data-listingid"):
            # The "Shop on eBay" card carries a real-looking id but links to the fake item 123456.
            if url and (found := ITEM_ID.search(url)) and found.group(1) == PLACEHOLDER_ITEM_ID:
                return PLACEHOLDER_ITEM_ID
            return listing_id
        found = ITEM_ID.search(url or "")
        return found.group(1) if found else None

    @staticmethod
    def _parse_price(card: Selector, markup: Markup) -> str | None:
        first = card.css(markup.price)[:1]
        return texts(first, "::text") if first else None

    @staticmethod
    def _parse_bids(card: Selector, markup: Markup) -> str | None:
        if markup.bids:
            return texts(card, markup.bids) or None
        for row in card.css(".s-card__attribute-row span::text").getall():
            if BIDS.match(row):
                return clean_text([row])
        return None

    def _parse_sale_method(self, card: Selector, markup: Markup) -> str:
        """An auction when bids are shown (with or without Buy It Now), else "or Best Offer" or a
        fixed price."""
        if self._parse_bids(card, markup) is not None:
            return "auction"
        return "offer" if BEST_OFFER.search(" ".join(card.css("::text").getall())) else "fixed"

    @staticmethod
    def _parse_seller(card: Selector, markup: Markup) -> str | None:
        text = texts(card, markup.seller)
        # "jeffk01725" or, in the older markup, "jeffk01725 (2) 100%": the name is the first word.
        return text.split()[0] if text else None

    def result_count(self, response: TextResponse) -> int | None:
        heading = texts(response, ".srp-controls__count-heading ::text")
        return parse_count(heading) if heading else None

    def next_page(self, response: TextResponse) -> str | None:
        link = response.css("a.pagination__next")
        href = link.attrib.get("href") if link else None
        if not href or href == "#" or link.attrib.get("aria-disabled") == "true":
            return None
        return href
