"""Base spiders: the marketplace spiders only set class attributes and per-field parsers.

A marketplace spider takes, as ``-a`` arguments (which win over its watch-file table):
``base_url`` (a mirror or the replica; ``{site}`` in it is replaced by each site's domain),
``sites`` (comma-separated), ``max_pages`` and ``brand`` (crawl for one brand only).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlsplit

import scrapy
from parsel import Selector
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from brandcrawl.config import WatchConfig
from brandcrawl.items import Listing
from brandcrawl.watch import watch_from_settings


@dataclass(frozen=True)
class Site:
    """One country site of a marketplace: its domain and the currency a bare "$" or number means."""

    domain: str
    currency: str


class SearchSpider(scrapy.Spider):
    """A marketplace searched by keyword: one query per watched brand name and alias, newest first,
    following the site's own "next page" link up to ``max_pages``.

    Subclasses set the class attributes below and implement ``search_url``, ``listings``,
    ``result_count`` and ``next_page``.
    """

    #: Read by start() when no base_url is given: the real site, ``{site}`` replaced by its domain.
    default_base_url: ClassVar[str] = "https://www.{site}"
    #: Read by __init__: the sites crawled when neither ``-a sites`` nor the watch file choose.
    site_profiles: ClassVar[dict[str, Site]] = {}
    #: Read by is_blocked(): words in a bot-challenge page's <title>.
    block_titles: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str | None = None,
        *,
        base_url: str | None = None,
        sites: str | Iterable[str] | None = None,
        max_pages: int | str | None = None,
        brand: str | None = None,
        **kwargs: Any,  # Scrapyd adds _job and others
    ) -> None:
        super().__init__(name, **kwargs)
        self.base_url = base_url
        self.requested_sites = sites
        self.requested_max_pages = max_pages
        self.requested_brand = brand
        self.yielded: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SearchSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        watch = watch_from_settings(crawler.settings)
        assert watch is not None
        spider.configure(watch)
        return spider

    def configure(self, watch: WatchConfig) -> None:
        table = watch.marketplaces.get(self.name)
        self.base_url = self.base_url or (table.base_url if table else None) or self.default_base_url
        if self.base_url != self.default_base_url:
            # A mirror or the replica: let the offsite filter accept its host too.
            host = urlsplit(self.base_url.replace("{site}", "site")).hostname
            self.allowed_domains = [*self.allowed_domains, *([host] if host else [])]
        self.sites = self._choose_sites(self.requested_sites or (table.sites if table else None))
        self.max_pages = int(self.requested_max_pages or watch.max_pages_for(self.name))
        if self.max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {self.max_pages}")
        self.queries = self._queries(watch)

    def _choose_sites(self, chosen: str | Iterable[str] | None) -> list[Site]:
        if chosen is None:
            return list(self.site_profiles.values())
        names = [s.strip() for s in chosen.split(",")] if isinstance(chosen, str) else list(chosen)
        unknown = [n for n in names if n not in self.site_profiles]
        if unknown:
            raise ValueError(
                f"{self.name}: unknown site(s) {', '.join(unknown)}; known: {', '.join(self.site_profiles)}"
            )
        return [self.site_profiles[n] for n in names]

    def _queries(self, watch: WatchConfig) -> list[str]:
        brands = [b for b in watch.brands if not self.requested_brand or b.name == self.requested_brand]
        if not brands:
            raise ValueError(f"{self.name}: no brand named {self.requested_brand!r} in the watch file")
        queries: dict[str, str] = {}
        for brand in brands:
            for text in (brand.name, *brand.aliases):
                queries.setdefault(text.casefold(), text)
        return list(queries.values())

    def site_root(self, site: Site) -> str:
        assert self.base_url is not None
        return self.base_url.format(site=site.domain).rstrip("/")

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for site in self.sites:
            for query in self.queries:
                # Counted so the run recorder knows this is a watch crawl, not a `scrapy parse`.
                self.crawler.stats.inc_value("brandcrawl/searches")
                yield scrapy.Request(
                    self.search_url(site, query),
                    meta={"site": site.domain, "query": query, "page": 1},
                    errback=self.search_failed,
                )

    def search_failed(self, failure: Failure) -> None:
        """A search page that could not be had after retries: counted per site for the run's health."""
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            return  # robots.txt or the offsite filter; counted by Scrapy itself
        request = failure.request  # type: ignore[attr-defined]
        site = request.meta.get("site", "unknown")
        status = failure.value.response.status if failure.check(HttpError) else None
        outcome = "refused" if status in (403, 429) else "failed"
        self.crawler.stats.inc_value(f"brandcrawl/site/{site}/{outcome}")
        self.logger.warning(
            "search page %s %s: %s", request.url, outcome, status or failure.getErrorMessage()
        )

    def parse(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """A search results page: its listings, then the next page (``scrapy parse`` calls this)."""
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("brandcrawl/parse_errors")
            self.logger.error("not a text page: %s (%s)", response.url, response.headers.get("Content-Type"))
            return
        if self.is_blocked(response):
            self.crawler.stats.inc_value("brandcrawl/pages/blocked")
            self.logger.warning("bot-challenge page instead of results: %s", response.url)
            return
        site = self.site_for(response)
        seen_at = datetime.now(UTC)
        listings = list(self.listings(response, site, seen_at))
        self.crawler.stats.inc_value("brandcrawl/pages/parsed")
        self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/parsed")
        if not listings and self.result_count(response) != 0:
            # A page that claims results (or does not say) but yields none: the markup changed.
            self.crawler.stats.inc_value("brandcrawl/pages/unexpected_empty")
            self.logger.error("no listing could be read on %s: has the page layout changed?", response.url)
        for listing in listings:
            # The same listing answers several queries (a brand and its alias) and, on eBay, shows on
            # every country site: yield it once.
            if listing.listing_id not in self.yielded:
                self.yielded.add(listing.listing_id)
                yield listing
        page = response.meta.get("page", 1)
        next_url = self.next_page(response)
        if next_url and page < self.max_pages:
            meta = {"site": site.domain, "query": response.meta.get("query"), "page": page + 1}
            yield response.follow(next_url, meta=meta, errback=self.search_failed)

    def is_blocked(self, response: TextResponse) -> bool:
        title = (response.css("title::text").get() or "").casefold()
        return any(marker.casefold() in title for marker in self.block_titles)

    def site_for(self, response: Response) -> Site:
        """The site a page belongs to: from the request, else from its URL (``scrapy parse``)."""
        if (domain := response.meta.get("site")) in self.site_profiles:
            return self.site_profiles[domain]
        parts = urlsplit(response.url)
        where = f"{parts.netloc}{parts.path}".casefold()
        for domain in sorted(self.site_profiles, key=len, reverse=True):
            if domain in where:
                return self.site_profiles[domain]
        return next(iter(self.site_profiles.values()))

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[Listing]:
        """Every listing on a results page (placeholders and ads left out)."""
        raise NotImplementedError

    def search_url(self, site: Site, query: str) -> str:
        raise NotImplementedError

    def result_count(self, response: TextResponse) -> int | None:
        """How many results the page says there are; None when it does not say."""
        raise NotImplementedError

    def next_page(self, response: TextResponse) -> str | None:
        raise NotImplementedError


def clean_text(parts: Iterable[str]) -> str:
    """Join text nodes and fold runs of white space (pages are often re-indented)."""
    return " ".join(" ".join(parts).split())


def texts(node: Selector, css: str) -> str:
    return clean_text(node.css(css).getall())
