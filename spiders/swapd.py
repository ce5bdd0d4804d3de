"""SWAPD (swapd.co), a marketplace forum for social-media accounts running stock Discourse, read through
Discourse's JSON: ``/search.json`` for each watched brand and ``/c/<slug>/<id>.json`` for the
social-media categories, then ``/t/<id>.json`` for each topic, whose first post is the listing.

Nothing is structured: price, follower count and handle are in the seller's free text (the first
post), which the normalise pipeline reads. SWAPD's rules forbid naming the @handle of an account on
sale in public, so many listings name none and cannot match a brand; those that do are the ones
worth a look.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import parse_qsl, quote_plus, urlencode, urlsplit, urlunsplit

import lxml.html
import scrapy
from scrapy.http import Response, TextResponse

from brandcrawl.config import WatchConfig
from brandcrawl.items import Listing
from brandcrawl.normalize import find_price_text
from brandcrawl.storage.models import ListingRow
from spiders._base import PageFormatError, SearchSpider, Site

# Social-media account categories, as "<slug>/<id>" (the watch file's ``categories`` replaces them).
# The ids are SWAPD's own; Discourse finds a category by its id, the slug only reads well.
CATEGORIES = ("instagram/12", "twitter/13", "tiktok/58", "youtube/14")
# Discourse refuses a full-page search past page 10 (SearchController::PAGE_LIMIT).
SEARCH_PAGE_LIMIT = 10
# Cloudflare sits in front of the forum: its challenge comes as a 403 HTML page (a 503 for its older
# "I'm Under Attack" check), which must reach is_blocked() instead of being dropped as an HTTP error.
CHALLENGE_STATUSES = (403, 503)

_SOLD_TITLE = re.compile(r"\[\s*(?:sold|vendu)\s*\]|^\s*\(?(?:sold|vendu)\b", re.IGNORECASE)
_AUCTION = re.compile(r"\b(?:auction|starting bid|current bid|ench[èe]res?)\b", re.IGNORECASE)
_OFFER = re.compile(
    r"\b(?:obo|or best offer|make (?:me )?an offer|open to (?:reasonable )?offers|offers? welcome"
    r"|faites une offre|faire offre)\b",
    re.IGNORECASE,
)
# Elements after which the text of a post starts a new line.
_BLOCKS = frozenset(
    "p br div li ul ol h1 h2 h3 h4 h5 h6 tr table blockquote pre aside details summary".split()
)


class SwapdSpider(SearchSpider):
    name = "swapd"
    allowed_domains: ClassVar[list[str]] = ["swapd.co"]
    default_base_url = "https://{site}"
    site_profiles: ClassVar[dict[str, Site]] = {"swapd.co": Site("swapd.co", "USD")}
    default_categories = CATEGORIES
    # Read by HttpErrorMiddleware. No custom_settings: past its per-IP limits (anonymous searches a
    # minute: rate_limit_search_anon_user_per_minute) Discourse answers 429 with a Retry-After, which
    # the project's BackoffMiddleware honours.
    handle_httpstatus_list = CHALLENGE_STATUSES

    def configure(self, watch: WatchConfig, environ: Mapping[str, str] = os.environ) -> None:
        super().configure(watch, environ)
        # Category ids to slugs, to name the category of a search hit (search pages name none).
        self.category_slugs = {
            category_id: slug for slug, category_id in map(_split_category, self.categories)
        }

    def search_url(self, site: Site, query: str) -> str:
        # order:latest: newest posts first, so a daily crawl sees what appeared since yesterday.
        return f"{self.site_root(site)}/search.json?q={quote_plus(f'{query} order:latest')}"

    def category_url(self, site: Site, category: str) -> str:
        slug, category_id = _split_category(category)
        return f"{self.site_root(site)}/c/{slug}/{category_id}.json"

    def is_blocked(self, response: TextResponse) -> bool:
        # Every page asked for is JSON: anything else is whatever stands in front of the forum
        # (Cloudflare's "Just a moment...", a WAF or a login wall), never an empty result.
        return not response.text.lstrip("\ufeff \t\r\n").startswith(("{", "["))

    def listings(
        self, response: TextResponse, site: Site, seen_at: datetime
    ) -> Iterator[Listing | scrapy.Request]:
        data = self._page_data(response)
        topics, categories = self._page_topics(response, data)
        crawled = _split_category(response.meta["category"])[0] if "category" in response.meta else None
        for topic in topics:
            if topic.get("pinned"):
                continue  # the category's "About" topic and staff rules: sellers cannot pin
            topic_id = str(topic["id"])
            category_id = topic.get("category_id")
            request = self.detail_request(
                f"{self.site_root(site)}/t/{topic_id}.json",
                topic_id,
                response,
                category=self.category_slugs.get(category_id) or categories.get(category_id) or crawled,
            )
            if request:  # None: asked for already, as it answers another query too
                yield request

    def detail_listing(self, response: TextResponse, site: Site, seen_at: datetime) -> Listing:
        """A topic's own JSON: its first post is the listing's text."""
        return self._parse_topic(self._page_data(response), response, site)

    def revisit_request(self, stored: ListingRow) -> scrapy.Request | None:
        """A stored topic's JSON, not its HTML page: whether it is closed, archived or tagged sold."""
        request = super().revisit_request(stored)
        site = self.site_profiles.get(stored.site or "", self.sites[0])
        return request and request.replace(url=f"{self.site_root(site)}/t/{stored.listing_id}.json")

    def revisit_status(self, response: TextResponse) -> str | None:
        try:
            topic = self._page_data(response)
            return self._parse_status(topic, _text(topic["title"]), _tag_names(topic.get("tags")))
        except (PageFormatError, ValueError, KeyError, TypeError, AttributeError):
            return None  # a changed shape tells nothing about the listing

    def _parse_topic(self, topic: dict[str, Any], response: Response, site: Site) -> Listing:
        first = self._parse_first_post(topic)
        title = _text(topic["title"])
        description = cooked_text(first["cooked"])
        tags = _tag_names(topic.get("tags"))
        # The pitch states the asking price; a title alone ("IG 40k - $900") is the fallback.
        price_text = find_price_text(description) or find_price_text(title)
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            listing_id=str(topic["id"]),
            url=self._parse_url(topic, site),
            title=title,
            seen_at=datetime.now(UTC),
            default_currency=site.currency,
            description=description,
            category=response.meta.get("category") or self.category_slugs.get(topic.get("category_id")),
            sale_method=self._parse_sale_method(f"{title}\n{description}", tags, price_text),
            price_text=price_text,
            seller=first.get("username") or None,
            status=self._parse_status(topic, title, tags),
            details=self._parse_details(topic, tags),
        )

    @staticmethod
    def _page_data(response: TextResponse) -> dict[str, Any]:
        data = response.json()
        if not isinstance(data, dict):
            raise PageFormatError(f"a JSON {type(data).__name__} where Discourse answers an object")
        if data.get("error_type") or data.get("errors"):
            # Discourse's own refusal ("invalid_access" for a members-only category, "not_found").
            raise PageFormatError(f"SWAPD answered {data.get('error_type')}: {data.get('errors')}")
        return data

    @staticmethod
    def _page_topics(
        response: TextResponse, data: dict[str, Any]
    ) -> tuple[list[dict[str, Any]], dict[Any, str]]:
        """The topics of a search or category page, and the category slugs the page names."""
        if _is_search(response):
            grouped = data["grouped_search_result"]
            if grouped is None or grouped.get("error"):
                raise PageFormatError(f"the search failed: {grouped and grouped.get('error')}")
            categories = {c["id"]: c["slug"] for c in data.get("categories") or []}
            topics = list(data.get("topics") or [])
            # An empty result omits the lists; posts without their topics are a changed shape.
            if data.get("posts") and not topics:
                raise PageFormatError("search posts without their topics")
            return topics, categories
        return list(data["topic_list"]["topics"]), {}

    @staticmethod
    def _parse_first_post(topic: dict[str, Any]) -> dict[str, Any]:
        for post in topic["post_stream"]["posts"]:
            if post["post_number"] == 1:
                return post
        raise PageFormatError(f"topic {topic['id']} has no first post in its post stream")

    def _parse_url(self, topic: dict[str, Any], site: Site) -> str:
        return f"{self.site_root(site)}/t/{topic['slug']}/{topic['id']}"

    @staticmethod
    def _parse_sale_method(text: str, tags: list[str], price_text: str | None) -> str | None:
        if "auction" in tags or _AUCTION.search(text):
            return "auction"
        if _OFFER.search(text):
            return "offer"  # "OBO" beside a price too: the price is where bargaining starts
        return "fixed" if price_text else None

    @staticmethod
    def _parse_status(topic: dict[str, Any], title: str, tags: list[str]) -> str:
        # Staff tag a sold listing "sold" and usually close it; a closed or archived topic takes no
        # more offers.
        if "sold" in tags or _SOLD_TITLE.search(title):
            return "sold"
        if topic.get("closed") or topic.get("archived"):
            return "ended"
        return "active"

    @staticmethod
    def _parse_details(topic: dict[str, Any], tags: list[str]) -> dict[str, Any]:
        found = {
            "topic_created_at": topic.get("created_at"),
            "category_id": topic.get("category_id"),
            "tags": tags,
            "views": topic.get("views"),
            "posts_count": topic.get("posts_count"),
        }
        return {key: value for key, value in found.items() if value not in (None, [])}

    def result_count(self, response: TextResponse) -> int | None:
        data = self._page_data(response)
        topics, _ = self._page_topics(response, data)
        # Discourse gives no total: say 0 only when the page lists no listing and leads nowhere.
        if any(not topic.get("pinned") for topic in topics) or self.next_page(response):
            return None
        return 0

    def next_page(self, response: TextResponse) -> str | None:
        data = self._page_data(response)
        if _is_search(response):
            if not (data["grouped_search_result"] or {}).get("more_full_page_results"):
                return None
            parts = urlsplit(response.url)
            query = dict(parse_qsl(parts.query))
            page = int(query.get("page", "1")) + 1
            if page > SEARCH_PAGE_LIMIT:
                return None
            return urlunsplit(parts._replace(query=urlencode({**query, "page": page})))
        more = data["topic_list"].get("more_topics_url")
        if not more:
            return None
        # Discourse writes the HTML address from the site's root ("/c/instagram/12?page=1"): ask for
        # its JSON, under the mirror's root too.
        parts = urlsplit(more)
        path = parts.path if parts.path.endswith(".json") else f"{parts.path}.json"
        site_root = self.site_root(self.site_for(response))
        return f"{site_root}{path}" + (f"?{parts.query}" if parts.query else "")


def cooked_text(cooked: str) -> str:
    """A post's text from Discourse's rendered HTML ("cooked"), one line per paragraph or list item."""
    if not cooked.strip():
        return ""
    root = lxml.html.fragment_fromstring(cooked, create_parent="div")
    # An uploaded image's caption is its file name and size ("IMG_2041.png 1080×1920 245 KB"): noise.
    for meta in root.xpath(".//a[contains(@class, 'lightbox')]//div[contains(@class, 'meta')]"):
        meta.drop_tree()
    for element in root.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
    lines = (" ".join(line.split()) for line in root.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _split_category(category: str) -> tuple[str, int]:
    """ "instagram/12" → ("instagram", 12); a parent's slug may come first: "social-media/instagram/12"."""
    slug, _, category_id = category.strip("/").rpartition("/")
    if not slug or not category_id.isdigit():
        raise ValueError(f"swapd: a category is '<slug>/<id>' (e.g. 'instagram/12'), got {category!r}")
    return slug, int(category_id)


def _is_search(response: Response) -> bool:
    return urlsplit(response.url).path.endswith("/search.json")


def _tag_names(tags: Any) -> list[str]:
    # Discourse lists tags as names; newer versions as {"id", "name", "slug"} objects.
    return [str(tag["name"] if isinstance(tag, dict) else tag).casefold() for tag in tags or ()]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise PageFormatError(f"a title that is no text: {value!r}")
    return " ".join(value.split())
