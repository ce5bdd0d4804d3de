"""Base spiders: the marketplace spiders only set class attributes and per-field parsers.

A marketplace spider takes, as ``-a`` arguments (which win over its watch-file table):
``base_url`` (a mirror or the replica; ``{site}`` in it is replaced by each site's domain),
``sites`` (comma-separated), ``max_pages`` and ``brand`` (crawl for one brand only). From
``brandcrawl dispatch``: ``shard`` ("3/20": search the third of 20 runs of the watch file's brands),
``watch_sha256`` (crawl only if this node's watch file has that SHA-256) and ``unseen_since`` (an
ISO time: listings seen since then were read by an earlier shard and are not revisited).

What a run sends: an optional login first (members-only marketplaces), then per site one search per
query (each brand's name and aliases, and on marketplaces that hide account sales the brand beside
each account word) and one listing of each category the watch file or the spider names, each
followed to ``max_pages`` pages; listings whose page lacks a field are completed from their own page.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, TypeGuard
from urllib.parse import urlsplit

import scrapy
from parsel import Selector
from scrapy.crawler import Crawler
from scrapy.exceptions import CloseSpider, IgnoreRequest
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from brandcrawl.config import Brand, MarketplaceConfig, WatchConfig, watch_sha256
from brandcrawl.items import Listing
from brandcrawl.runs import WATCH_FILE_DIFFERS
from brandcrawl.storage.models import ListingRow
from brandcrawl.watch import watch_from_settings


@dataclass(frozen=True)
class Site:
    """One country site of a marketplace: its domain and the currency a bare "$" or number means."""

    domain: str
    currency: str


class PageFormatError(ValueError):
    """A page that is not what the marketplace serves there (bad JSON, a missing key): a recorded
    parse error, never an empty result."""


# What reading a changed page or API answer raises.
PAGE_ERRORS = (PageFormatError, ValueError, KeyError, TypeError, AttributeError, ArithmeticError)


class SearchSpider(scrapy.Spider):
    """A marketplace searched by keyword: one query per watched brand name and alias, newest first,
    following the site's own "next page" link up to ``max_pages``.

    Subclasses set the class attributes below and implement ``listings``, ``result_count`` and
    ``next_page``, with ``search_url`` and/or ``category_url``.
    """

    #: Read by the pipelines (Listing.marketplace) and the run recorder: the marketplace this spider
    #: reads, when another spider reads it too (eBay's API and pages). Default: the spider's name.
    marketplace: ClassVar[str | None] = None
    #: Read by start(): how this spider reads its marketplace, shown in the digest's health section
    #: when there is more than one way ("api" or "pages"). None: the only way.
    source: ClassVar[str | None] = None
    #: Read by start() when no base_url is given: the real site, ``{site}`` replaced by its domain.
    default_base_url: ClassVar[str] = "https://www.{site}"
    #: Read by __init__: the sites crawled when neither ``-a sites`` nor the watch file choose.
    site_profiles: ClassVar[dict[str, Site]] = {}
    #: Read by is_blocked(): words in a bot-challenge page's <title>.
    block_titles: ClassVar[tuple[str, ...]] = ()
    #: Read by configure(): the categories read whole when the watch file names none.
    default_categories: ClassVar[tuple[str, ...]] = ()
    #: Read by configure(): words searched beside each brand name, by site ("*": every site). A word
    #: with "{brand}" in it is the whole query ("@{brand}"). Empty: brand names and aliases only.
    default_account_words: ClassVar[Mapping[str, tuple[str, ...]]] = {}
    #: Read by start(): the credentials (watch file ``credentials_env`` roles) without which the
    #: marketplace shows nothing; the run is then recorded as "needs login" and sends nothing.
    credential_roles: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        name: str | None = None,
        *,
        base_url: str | None = None,
        sites: str | Iterable[str] | None = None,
        max_pages: int | str | None = None,
        brand: str | None = None,
        shard: str | None = None,
        watch_sha256: str | None = None,
        unseen_since: str | datetime | None = None,
        **kwargs: Any,  # Scrapyd adds _job and others
    ) -> None:
        super().__init__(name, **kwargs)
        self.base_url = base_url
        self.requested_sites = sites
        self.requested_max_pages = max_pages
        self.requested_brand = brand
        if brand and shard:
            raise ValueError(f"{self.name}: give brand or shard, not both")
        self.shard = parse_shard(shard) if shard else None
        self.expected_watch_sha256 = watch_sha256
        self.unseen_since = parse_utc(unseen_since, "unseen_since") if unseen_since else None
        self.yielded: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SearchSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        watch = watch_from_settings(crawler.settings)
        assert watch is not None
        spider.configure(watch)
        return spider

    @property
    def marketplace_name(self) -> str:
        return self.marketplace or self.name

    def configure(self, watch: WatchConfig, environ: Mapping[str, str] = os.environ) -> None:
        table = watch.marketplaces.get(self.marketplace_name)
        self.base_url = self.base_url or (table.base_url if table else None) or self.default_base_url
        self.sites = self._choose_sites(self.requested_sites or (table.sites if table else None))
        if self.base_url != self.default_base_url:
            # A mirror or the replica: let the offsite filter accept its hosts too ({site} may be in one).
            hosts = {urlsplit(self.site_root(site)).hostname for site in self.sites}
            self.allowed_domains = [*self.allowed_domains, *sorted(host for host in hosts if host)]
        self.max_pages = int(self.requested_max_pages or watch.max_pages_for(self.marketplace_name))
        if self.max_pages < 1:
            raise ValueError(f"max_pages must be at least 1, got {self.max_pages}")
        brands = self.searched_brands(watch)
        self.queries = self._queries(brands)
        self.account_queries = self._account_queries(brands, table)
        self.categories = list((table.categories if table else None) or self.default_categories)
        self.credentials = self._credentials(table, environ)

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

    def searched_brands(self, watch: WatchConfig) -> tuple[Brand, ...]:
        """The brands this run searches for: the one ``brand`` names, the ``shard``'s, or all."""
        if self.requested_brand:
            named = tuple(b for b in watch.brands if b.name == self.requested_brand)
            if not named:
                raise ValueError(f"{self.name}: no brand named {self.requested_brand!r} in the watch file")
            return named
        if self.shard:
            index, count = self.shard
            if count > len(watch.brands):
                raise ValueError(
                    f"{self.name}: shard {index}/{count}, but the watch file has {len(watch.brands)} brands"
                )
            return watch.shard(index, count)
        return watch.brands

    @property
    def reads_categories(self) -> bool:
        """Categories are read whole whatever the brands: by the first shard of a sharded crawl only."""
        return self.shard is None or self.shard[0] == 1

    def _queries(self, brands: Sequence[Brand]) -> list[str]:
        queries: dict[str, str] = {}
        for brand in brands:
            for text in (brand.name, *brand.aliases):
                queries.setdefault(text.casefold(), text)
        return list(queries.values())

    def _account_queries(
        self, brands: Sequence[Brand], table: MarketplaceConfig | None
    ) -> dict[str, list[str]]:
        """Per site, the brand beside each account word, e.g. "gallimard compte", "@gallimard"."""
        words = (table.account_words if table and table.account_words is not None else None) or dict(
            self.default_account_words
        )
        found: dict[str, list[str]] = {}
        for site in self.sites:
            chosen = words.get(site.domain, words.get("*", ()))
            queries = [
                w.replace("{brand}", b.name) if "{brand}" in w else f"{b.name} {w}"
                for b in brands
                for w in chosen
            ]
            found[site.domain] = list(dict.fromkeys(queries))
        return found

    def _credentials(
        self, table: MarketplaceConfig | None, environ: Mapping[str, str]
    ) -> dict[str, str] | None:
        if not self.credential_roles or table is None or not table.credentials_env:
            return None  # none named: the run is recorded as "needs login"
        missing_roles = [role for role in self.credential_roles if role not in table.credentials_env]
        if missing_roles:
            raise ValueError(
                f"{self.marketplace_name}: credentials_env needs {', '.join(self.credential_roles)}"
                f" (missing {', '.join(missing_roles)})"
            )
        return table.credentials(environ)

    def watch_table(self) -> MarketplaceConfig | None:
        """This marketplace's table in the watch file, if it has one."""
        watch = watch_from_settings(self.crawler.settings)
        return watch.marketplaces.get(self.marketplace_name) if watch else None

    def needs_login_reason(self) -> str | None:
        """Why this run cannot look, when the marketplace needs credentials that are not given."""
        if not self.credential_roles or self.credentials is not None:
            return None
        table = self.watch_table()
        if table is None or not table.credentials_env:
            names = " and ".join(self.credential_roles)
            return f"members only: name the environment variables holding the {names} in credentials_env"
        return f"members only: set {' and '.join(table.missing_credentials(os.environ))} to log in"

    def site_root(self, site: Site) -> str:
        assert self.base_url is not None
        return self.base_url.format(site=site.domain).rstrip("/")

    def foreign_watch_file(self) -> str | None:
        """Why this node must not crawl: its watch file is not the one the job was sent for."""
        if self.expected_watch_sha256 is None:
            return None
        path = os.path.abspath(self.crawler.settings["BRANDCRAWL_WATCH"])
        found = watch_sha256(path)
        if found == self.expected_watch_sha256.lower():
            return None
        return (
            f"the watch file {path} on this node (sha256 {found[:12]}) is not the dispatcher's "
            f"(sha256 {self.expected_watch_sha256[:12]}): give every node the same file"
        )

    async def start(self) -> AsyncIterator[scrapy.Request]:
        if refusal := self.foreign_watch_file():
            self.crawler.stats.set_value("brandcrawl/refused", refusal)
            self.logger.error("%s not crawled: %s", self.marketplace_name, refusal)
            raise CloseSpider(WATCH_FILE_DIFFERS)
        if self.source:
            self.crawler.stats.set_value("brandcrawl/source", self.source)
        if reason := self.needs_login_reason():
            self.crawler.stats.set_value("brandcrawl/needs_login", reason)
            self.logger.warning("%s not crawled: %s", self.marketplace_name, reason)
            return
        if self.credential_roles:
            assert self.credentials is not None
            # Counted so that a login lost to an outage or a challenge is still a recorded run.
            self.crawler.stats.inc_value("brandcrawl/logins")
            yield self.login_request(self.credentials)
            return
        for request in self.search_requests():
            yield request

    def search_requests(self) -> Iterator[scrapy.Request]:
        """The first page of every search and category listing."""
        table = self.watch_table()
        searching = table.search if table else True
        for site in self.sites:
            queries = [*self.queries, *self.account_queries.get(site.domain, ())] if searching else []
            for query in queries:
                # Counted so the run recorder knows this is a watch crawl, not a `scrapy parse`.
                self.crawler.stats.inc_value("brandcrawl/searches")
                yield self.page_request(self.search_url(site, query), site, query=query)
            for category in self.categories if self.reads_categories else ():
                self.crawler.stats.inc_value("brandcrawl/searches")
                yield self.page_request(self.category_url(site, category), site, category=category)

    def page_request(self, url: str, site: Site, page: int = 1, **meta: Any) -> scrapy.Request:
        """A results page; ``meta`` (query or category) is carried to its next pages."""
        return scrapy.Request(
            url,
            meta={"site": site.domain, "page": page, **meta},
            errback=self.search_failed,
            dont_filter=page == 1,
        )

    def login_request(self, credentials: dict[str, str]) -> scrapy.Request:
        """For members-only marketplaces: the request that logs in, its callback ``after_login``."""
        raise NotImplementedError

    def after_login(self, response: Response) -> Iterator[scrapy.Request]:
        if not self.readable(response):
            return  # a challenge instead of the logged-in page: the run reads blocked
        if not self.logged_in(response):
            reason = "the login was refused: check the credentials named in credentials_env"
            self.crawler.stats.set_value("brandcrawl/needs_login", reason)
            self.logger.error("%s: %s", self.marketplace_name, reason)
            return
        yield from self.search_requests()

    def logged_in(self, response: Response) -> bool:
        raise NotImplementedError

    def parse_detail(self, response: Response) -> Iterator[Listing]:
        """A listing's own page, asked for by ``detail_request``: the listing, complete."""
        if not self.readable(response):
            return
        site = self.site_for(response)
        try:
            listing = self.detail_listing(response, site, datetime.now(UTC))
        except PAGE_ERRORS as error:
            self.unreadable(response, site, error)
            return
        if listing is not None:
            yield listing

    def detail_listing(self, response: TextResponse, site: Site, seen_at: datetime) -> Listing | None:
        """The listing on its own page; None when the page says there is none to report."""
        raise NotImplementedError

    def detail_request(
        self, url: str, listing_id: str, response: Response, **meta: Any
    ) -> scrapy.Request | None:
        """A listing's own page (read by ``detail_listing``), once per run, for fields the results
        page does not show."""
        # A results page whose listings were all requested already was still read.
        response.meta["brandcrawl_cards"] = response.meta.get("brandcrawl_cards", 0) + 1
        if listing_id in self.yielded:
            return None
        self.yielded.add(listing_id)
        meta = {"site": response.meta.get("site"), "listing_id": listing_id, **meta}
        return response.follow(url, callback=self.parse_detail, meta=meta, errback=self.detail_failed)

    def detail_failed(self, failure: Failure) -> None:
        """A listing's own page that could not be had: withdrawn since its results page showed it
        (404/410), or lost like a search page, which the run's health counts."""
        if failure.check(HttpError) and failure.value.response.status in (404, 410):
            self.crawler.stats.inc_value("brandcrawl/details/withdrawn")
            self.logger.info("listing withdrawn before its page was read: %s", failure.request.url)  # type: ignore[attr-defined]
            return
        self.search_failed(failure)

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

    def readable(self, response: Response) -> TypeGuard[TextResponse]:
        """Whether a page can be read: text, and no bot challenge (counted, so the run reads blocked)."""
        if not isinstance(response, TextResponse):
            self.crawler.stats.inc_value("brandcrawl/parse_errors")
            self.logger.error("not a text page: %s (%s)", response.url, response.headers.get("Content-Type"))
            return False
        if self.is_blocked(response):
            self.crawler.stats.inc_value("brandcrawl/pages/blocked")
            self.logger.warning("bot-challenge page instead of %s (%s)", response.url, response.status)
            return False
        return True

    def unreadable(self, response: Response, site: Site, error: Exception) -> None:
        """Bad JSON or a changed shape: recorded, so the run reads as broken and not as "no hits"."""
        self.crawler.stats.inc_value("brandcrawl/parse_errors")
        self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/failed")
        self.logger.error("could not read %s: %s: %s", response.url, type(error).__name__, error)

    def parse(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """A search results page: its listings, then the next page (``scrapy parse`` calls this)."""
        if not self.readable(response):
            return
        site = self.site_for(response)
        seen_at = datetime.now(UTC)
        try:
            found = list(self.listings(response, site, seen_at))
            count = self.result_count(response)
            next_url = self.next_page(response)
        except PAGE_ERRORS as error:
            self.unreadable(response, site, error)
            return
        self.crawler.stats.inc_value("brandcrawl/pages/parsed")
        self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/parsed")
        if not found and not response.meta.get("brandcrawl_cards") and count != 0:
            # A page that claims results (or does not say) but yields none: the markup changed.
            self.crawler.stats.inc_value("brandcrawl/pages/unexpected_empty")
            self.logger.error("no listing could be read on %s: has the page layout changed?", response.url)
        for item in found:
            if isinstance(item, scrapy.Request):
                yield item  # a listing's own page, for what the results page lacks
            # The same listing answers several queries (a brand and its alias) and, on eBay, shows on
            # every country site: yield it once.
            elif item.listing_id not in self.yielded:
                self.yielded.add(item.listing_id)
                yield item
        page = response.meta.get("page", 1)
        if next_url and page < self.max_pages:
            carried = {key: response.meta[key] for key in ("query", "category") if key in response.meta}
            yield self.page_request(response.urljoin(next_url), site, page + 1, **carried)

    def revisit_request(self, stored: ListingRow) -> scrapy.Request | None:
        """The request that tells whether a stored listing the searches no longer show is still on
        sale (see brandcrawl.revisit): its own page, by default. None: not revisited."""
        if self.unseen_since is not None and stored.last_seen >= self.unseen_since:
            return None  # an earlier shard of this dispatch saw it, searching for other brands
        return scrapy.Request(
            stored.url,
            callback=self.parse_revisit,
            errback=self.revisit_failed,
            meta={
                "listing": listing_from_row(stored),
                "site": stored.site,
                "handle_httpstatus_list": [404, 410],
            },
            dont_filter=True,
        )

    def parse_revisit(self, response: Response) -> Iterator[Listing]:
        """The stored listing again, with its status now: gone (404/410), or as the page says."""
        listing: Listing = response.meta["listing"]
        if response.status in (404, 410):
            status: str | None = "gone"
        elif isinstance(response, TextResponse) and not self.is_blocked(response):
            status = self.revisit_status(response)
        else:
            status = None
        if status is None or status == listing.status:
            self.crawler.stats.inc_value("brandcrawl/revisits/unchanged")
            return
        self.crawler.stats.inc_value(f"brandcrawl/revisits/{status}")
        listing.status, listing.seen_at = status, datetime.now(UTC)
        yield listing

    def revisit_failed(self, failure: Failure) -> None:
        """A revisit that could not be had: the listing keeps its status; no search was lost."""
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            return  # robots.txt or the offsite filter, counted by Scrapy
        self.crawler.stats.inc_value("brandcrawl/revisits/failed")
        self.logger.info("could not revisit %s: %s", failure.request.url, failure.getErrorMessage())  # type: ignore[attr-defined]

    def revisit_status(self, response: TextResponse) -> str | None:
        """ "active", "ended", "sold" or "gone", as a listing's own page says; None when it cannot
        tell. By default the spider's ``detail_listing`` reads the page: no listing there is gone."""
        if type(self).detail_listing is SearchSpider.detail_listing:
            return None  # the results page is all this spider reads: only a 404 or 410 tells
        try:
            listing = self.detail_listing(response, self.site_for(response), datetime.now(UTC))
        except PAGE_ERRORS as error:
            self.logger.info("could not read the revisited %s: %s", response.url, error)
            return None
        return listing.status if listing is not None else "gone"

    def is_blocked(self, response: TextResponse) -> bool:
        if response.headers.get("cf-mitigated") == b"challenge":
            return True  # Cloudflare marks its challenge so, whatever the page says
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

    def listings(
        self, response: TextResponse, site: Site, seen_at: datetime
    ) -> Iterator[Listing | scrapy.Request]:
        """Every listing on a results page (placeholders and ads left out), or the request for a
        listing's own page (``detail_request``) where the results page lacks what a hit must carry."""
        raise NotImplementedError

    def search_url(self, site: Site, query: str) -> str:
        raise NotImplementedError

    def category_url(self, site: Site, category: str) -> str:
        raise NotImplementedError

    def result_count(self, response: TextResponse) -> int | None:
        """How many results the page says there are; None when it does not say."""
        raise NotImplementedError

    def next_page(self, response: TextResponse) -> str | None:
        raise NotImplementedError


def parse_shard(text: str) -> tuple[int, int]:
    """``"3/20"`` → (3, 20): the third of 20 shards."""
    index, slash, count = text.partition("/")
    try:
        shard = int(index), int(count)
    except ValueError:
        shard = (0, 0)
    if not slash or not 1 <= shard[0] <= shard[1]:
        raise ValueError(f"shard must be INDEX/COUNT with 1 <= INDEX <= COUNT, e.g. 3/20; got {text!r}")
    return shard


def parse_utc(value: str | datetime, name: str) -> datetime:
    """A spider argument's ISO 8601 time, which must say its offset."""
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if moment.tzinfo is None:
        raise ValueError(f"{name} must say its UTC offset (e.g. 2026-11-27T05:30:00+00:00), got {value!r}")
    return moment.astimezone(UTC)


def listing_from_row(row: ListingRow) -> Listing:
    """A stored listing as an item again, to store its new status through the pipelines."""
    return Listing(
        marketplace=row.marketplace,
        listing_id=row.listing_id,
        url=row.url,
        title=row.title,
        seen_at=row.last_seen,
        site=row.site,
        asset_kind=row.asset_kind,
        asset=row.asset,
        asset_text=row.asset_text,
        category=row.category,
        sale_method=row.sale_method,
        followers=row.followers,
        seller=row.seller,
        price=row.price,
        currency=row.currency,
        price_is_range=row.price_is_range,
        bid_count=row.bid_count,
        end_time=row.end_time,
        status=row.status,
        details=dict(row.details or {}),
    )


def clean_text(parts: Iterable[str]) -> str:
    """Join text nodes and fold runs of white space (pages are often re-indented)."""
    return " ".join(" ".join(parts).split())


def texts(node: Selector, css: str) -> str:
    return clean_text(node.css(css).getall())
