"""Flippa (flippa.com): its public JSON API ``GET /v3/listings``, and, when the API answers no JSON
(withdrawn, moved, refused with an HTML page), the search page's inline ``const STATE = {…}``.

Both carry the same listing fields under different names (see ``Shape``); where each came from is in
tests/fixtures/flippa/README.md.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response, TextResponse

from brandcrawl.assets import NO_ASSET, Asset, extract_assets
from brandcrawl.items import Listing
from brandcrawl.normalize import to_utc
from spiders._base import PageFormatError, SearchSpider, Site


@dataclass(frozen=True)
class Shape:
    """Where one of Flippa's two listing shapes keeps the fields whose names differ."""

    url: str
    price: str
    end_time: str


# The API's JSON:API records ({meta, links, data: [...]}) and the search page's STATE results.
API = Shape(url="html_url", price="current_price", end_time="ends_at")
PAGE = Shape(url="listing_url", price="price", end_time="end_at")

API_PATH = "/v3/listings"
SEARCH_PATH = "/search"
API_PAGE_SIZE = 100  # the most the API hands out per page
# Open listings, newest first (the site's own "Most Recent" sort), so a daily crawl sees new ones.
OPEN_NEWEST = {"filter[status]": "open", "sort_alias": "most_recent"}
# Answers from a withdrawn or moved API. Any non-JSON answer (an HTML page) means the same.
API_GONE_STATUSES = (403, 404, 410)
STATUSES = {"open": "active", "won": "sold", "completed": "ended", "expired": "ended", "cancelled": "ended"}
STATE = re.compile(r"\bconst STATE = ")
DEFAULT_PAGE_SIZE = re.compile(r"\bconst DEFAULT_PAGE_SIZE = (\d+);")


class FlippaSpider(SearchSpider):
    name = "flippa"
    allowed_domains: ClassVar[list[str]] = ["flippa.com"]
    default_base_url = "https://{site}"
    # Flippa shows every price in US dollars; a listing's currency_label is the seller's currency,
    # used for its revenue and profit figures only.
    site_profiles: ClassVar[dict[str, Site]] = {"flippa.com": Site("flippa.com", "USD")}
    # Cloudflare's challenge and block pages.
    block_titles = ("Just a moment", "Attention Required", "Access denied")
    # Property types that sell handles and brandable names: social accounts, channels, domains.
    default_categories = ("social_media", "youtube", "domain")

    def search_url(self, site: Site, query: str) -> str:
        return self._api_url(site, {"query[keyword]": query})

    def category_url(self, site: Site, category: str) -> str:
        return self._api_url(site, {"filter[property_type]": category})

    def _api_url(self, site: Site, search: dict[str, str]) -> str:
        params = {**search, **OPEN_NEWEST, "page[size]": API_PAGE_SIZE, "page[number]": 1}
        return f"{self.site_root(site)}{API_PATH}?{urlencode(params)}"

    def _search_page_url(self, site: Site, search: dict[str, str]) -> str:
        params = {**search, **OPEN_NEWEST, "page[number]": 1}
        return f"{self.site_root(site)}{SEARCH_PATH}?{urlencode(params)}"

    def page_request(self, url: str, site: Site, page: int = 1, **meta: Any) -> scrapy.Request:
        request = super().page_request(url, site, page, **meta)
        if _is_api(url):
            # Let parse() see what a withdrawn API answers, to read the search page instead.
            request.meta["handle_httpstatus_list"] = list(API_GONE_STATUSES)
            request.headers["Accept"] = "application/json"
        return request

    def parse(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        if isinstance(response, TextResponse) and _is_api(response.url) and not self.is_blocked(response):
            if _is_json(response) and response.status == 403:
                self._refused(response)
                return
            if not _is_json(response) or response.status in API_GONE_STATUSES:
                yield self._search_page_request(response)
                return
        yield from super().parse(response)

    def _refused(self, response: TextResponse) -> None:
        site = self.site_for(response)
        self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/refused")
        self.logger.warning("the API refused %s: %s", response.url, response.text[:200])

    def _search_page_request(self, response: TextResponse) -> scrapy.Request:
        """The same search on the search page. Its URL is no API URL, so it never falls back again."""
        self.crawler.stats.inc_value("brandcrawl/flippa/fallback")
        if response.status == 403:
            # Answered after all, from the search page: no refusal for the run's health.
            self.crawler.stats.inc_value("brandcrawl/responses/recovered")
        self.logger.warning(
            "the API answered %s %s at %s: reading the search page instead",
            response.status,
            response.headers.get("Content-Type", b"").decode("latin-1"),
            response.url,
        )
        site = self.site_for(response)
        carried = {key: response.meta[key] for key in ("query", "category") if key in response.meta}
        asked = parse_qs(urlsplit(response.url).query)
        search = {key: asked[key][0] for key in ("query[keyword]", "filter[property_type]") if key in asked}
        return self.page_request(self._search_page_url(site, search), site, **carried)

    def is_blocked(self, response: TextResponse) -> bool:
        if response.headers.get("cf-mitigated") == b"challenge":
            return True  # before the title test, which parsel cannot run on JSON
        # A JSON answer has no <title> (and parsel refuses CSS on JSON).
        return not _is_json(response) and super().is_blocked(response)

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[Listing]:
        records, shape = self._records(response)
        for record in records:
            yield self._parse_listing(record, shape, response, site, seen_at)

    def _records(self, response: TextResponse) -> tuple[list[dict[str, Any]], Shape]:
        if _is_api(response.url):
            return response.json()["data"], API
        state = _state(response)
        if state["metadata"]["totalResults"] == 0:
            # A search that matches nothing still shows the promoted listings heading the
            # unfiltered search: placements, not results.
            return [], PAGE
        return state["results"], PAGE

    def _parse_listing(
        self, record: dict[str, Any], shape: Shape, response: TextResponse, site: Site, seen_at: datetime
    ) -> Listing:
        price = self._parse_price(record, shape)
        domain = self._parse_domain(record)
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            listing_id=str(record["id"]),
            url=self._parse_url(record, shape, response),
            title=" ".join(record["title"].split()),  # titles carry "\r\n" as typed
            seen_at=seen_at,
            default_currency=site.currency,
            description=self._parse_description(record),
            category=record.get("property_type"),
            sale_method=self._parse_sale_method(record, price),
            details=self._parse_details(record),
            price=price,
            currency=site.currency if price is not None else None,
            bid_count=self._parse_bid_count(record),
            end_time=self._parse_end_time(record, shape),
            status=STATUSES.get(record.get("status") or "", "active"),
            seller=self._parse_seller(record),
            asset_kind=domain.kind,
            asset=domain.value,
            asset_text=domain.written,
        )

    @staticmethod
    def _parse_url(record: dict[str, Any], shape: Shape, response: TextResponse) -> str:
        url = response.urljoin(record[shape.url])
        if urlsplit(url).scheme not in ("http", "https"):
            raise PageFormatError(f"listing {record['id']} links to {url!r}")
        return url

    @staticmethod
    def _parse_description(record: dict[str, Any]) -> str | None:
        summary = " ".join((record.get("summary") or "").split())
        # The search page repeats the title as the summary.
        return summary if summary and summary != " ".join(record["title"].split()) else None

    @staticmethod
    def _parse_price(record: dict[str, Any], shape: Shape) -> Decimal | None:
        """The current bid of an auction, the asking price of a classified; None without one."""
        value = record.get(shape.price)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise PageFormatError(f"listing {record['id']} has the price {value!r}")
        return Decimal(str(value)) if value > 0 else None

    @staticmethod
    def _parse_sale_method(record: dict[str, Any], price: Decimal | None) -> str | None:
        method = record.get("sale_method")
        if method == "auction":
            return "auction"
        if method == "classified":
            # A classified without an asking price takes offers.
            return "fixed" if price is not None else "offer"
        return None

    @staticmethod
    def _parse_bid_count(record: dict[str, Any]) -> int | None:
        value = record.get("bid_count")
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise PageFormatError(f"listing {record['id']} has the bid count {value!r}")
        return value

    @staticmethod
    def _parse_end_time(record: dict[str, Any], shape: Shape) -> datetime | None:
        value = record.get(shape.end_time)
        return to_utc(datetime.fromisoformat(value)) if value else None

    @staticmethod
    def _parse_seller(record: dict[str, Any]) -> str | None:
        """The seller's user id: the API links it; the search page does not name sellers."""
        seller = ((record.get("relationships") or {}).get("seller") or {}).get("data") or {}
        return str(seller["id"]) if seller.get("id") else None

    @staticmethod
    def _parse_domain(record: dict[str, Any]) -> Asset:
        """The domain a domain sale names in its own field (the API's hostname, else the property's
        name); without one the pipeline reads it from the title."""
        if not record.get("domain_only?") and (record.get("property_type") or "").casefold() != "domain":
            return NO_ASSET
        name = (record.get("hostname") or record.get("property_name") or "").strip()
        found = extract_assets(name)
        if len(found) == 1 and found[0].kind == "domain" and found[0].written == name:
            return found[0]
        return NO_ASSET

    @staticmethod
    def _parse_details(record: dict[str, Any]) -> dict[str, Any]:
        details = {key: record.get(key) for key in ("property_type", "sale_method")}
        if "domain_only?" in record:
            details["domain_only?"] = record["domain_only?"]
        return details

    def result_count(self, response: TextResponse) -> int | None:
        if _is_api(response.url):
            return int(response.json()["meta"]["total_results"])
        return int(_state(response)["metadata"]["totalResults"])

    def next_page(self, response: TextResponse) -> str | None:
        if _is_api(response.url):
            following = (response.json().get("links") or {}).get("next")
            if not following:
                return None
            # The API names its own host: the next page is asked of the same base_url (a mirror).
            query = urlsplit(following).query
            return f"{self.site_root(self.site_for(response))}{API_PATH}" + (f"?{query}" if query else "")
        # The search page pages with page[number] in its own script; its STATE says how many match.
        parts = urlsplit(response.url)
        params = parse_qs(parts.query)
        page = int(params.get("page[number]", ["1"])[0])
        size = DEFAULT_PAGE_SIZE.search(response.text)
        if size is None:
            raise PageFormatError("no DEFAULT_PAGE_SIZE on the search page")
        if page * int(size[1]) >= int(_state(response)["metadata"]["totalResults"]):
            return None
        params["page[number]"] = [str(page + 1)]
        return urlunsplit(parts._replace(query=urlencode(params, doseq=True)))


def _is_api(url: str) -> bool:
    return urlsplit(url).path.endswith(API_PATH)


def _is_json(response: TextResponse) -> bool:
    return b"json" in (response.headers.get("Content-Type") or b"").lower()


def _state(response: TextResponse) -> dict[str, Any]:
    """The search page's ``const STATE = {"results": [...], "metadata": {"totalResults": N}}``."""
    found = STATE.search(response.text)
    if found is None:
        raise PageFormatError("no `const STATE = {...}` on the search page")
    state: dict[str, Any] = json.JSONDecoder().raw_decode(response.text, found.end())[0]
    return state
