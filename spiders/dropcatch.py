"""DropCatch through its API (``api.dropcatch.com``, v2): the auctions of caught and expiring names,
searched by brand (``GET /v2/auctions?searchTerm=…``, paged by a cursor), and the names about to drop
(``GET /v2/downloads/dropping/<day>?fileType=Csv``: a zipped CSV, read as a stream and matched whole,
typos and look-alikes included, which a search by brand name would miss).

The API wants a key: the client id and secret a DropCatch account makes on its API page, named in the
watch file's ``[marketplaces.dropcatch] credentials_env = { client_id = …, client_secret = … }`` and
traded for a bearer token at ``POST /Authorize``. Without them the run is recorded as "needs login"
and sends nothing. Where the shapes come from: tests/fixtures/dropcatch/README.md.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar
from urllib.parse import quote, urlencode

import scrapy
from scrapy.http import JsonRequest, Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from brandcrawl.config import WatchConfig
from brandcrawl.items import Listing
from brandcrawl.normalize import to_utc
from brandcrawl.storage.models import ListingRow
from spiders._base import PageFormatError, SearchSpider, Site
from spiders._feeds import Feed, FeedSpider, csv_rows, file_in
from spiders._shops import CLOUDFLARE_TITLES

API_HOST = "api.dropcatch.com"
AUTHORIZE_PATH = "/Authorize"
AUCTIONS_PATH = "/v2/auctions"
# Where a person sees a name's auction or backorder page.
WEB_ROOT = "https://www.dropcatch.com"
# The auctions' rows, for feed_listing: found by search, not downloaded.
AUCTIONS = Feed("auctions", AUCTIONS_PATH, "auction")
# The dropping lists the API offers: the names dropping in N days, or all five days at once.
DROP_DAYS = ("DaysOut0", "DaysOut1", "DaysOut2", "DaysOut3", "DaysOut4", "AllDays")
DROPS_PREFIX = "dropping_"
# The API's largest page (its clients cap ``size`` at 200): fewer calls against its rate limit.
PAGE_SIZE = 200
# The five days' list holds some 600,000 names (~130,000 a day), a few MB zipped.
MAXSIZE = 64 * 1024 * 1024
# DropDate as the CSV writes it: ISO, or the US month/day/year of DropCatch's site.
DAY_FORMATS = ("%Y-%m-%d", "%m/%d/%Y")
# What a request refused for its token carries when it is sent again.
RESENT_META = ("site", "page", "query", "feed", "handle_httpstatus_list")


class DropCatchSpider(FeedSpider):
    name = "dropcatch"
    # Auctions are found by searching for the brands: what a search misses has not ended.
    complete_inventory = False
    # The API is a service DropCatch licenses to account holders with a key, not pages for crawlers.
    feed_maxsize = MAXSIZE
    custom_settings: ClassVar[dict[str, Any]] = {
        "ROBOTSTXT_OBEY": False,  # default False, project True
    }
    default_base_url = "https://{site}"
    allowed_domains: ClassVar[list[str]] = [API_HOST]
    site_profiles: ClassVar[dict[str, Site]] = {"dropcatch.com": Site("dropcatch.com", "USD")}
    # An API answers JSON or a zip; an HTML page there is the edge network's challenge or refusal.
    block_titles = (*CLOUDFLARE_TITLES, "Access Denied")
    credential_roles = ("client_id", "client_secret")
    #: Read by configure(): the dropping lists read whole (watch file ``categories``: DROP_DAYS).
    default_categories = ("AllDays",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token: str | None = None

    def configure(self, watch: WatchConfig, environ: Mapping[str, str] = os.environ) -> None:
        super().configure(watch, environ)
        if unknown := [day for day in self.categories if day not in DROP_DAYS]:
            raise ValueError(f"dropcatch: unknown dropping list(s) {', '.join(unknown)}; known: {DROP_DAYS}")

    @property
    def feeds(self) -> tuple[Feed, ...]:  # type: ignore[override]
        """The dropping lists chosen."""
        return tuple(
            Feed(f"{DROPS_PREFIX}{day}", f"/v2/downloads/dropping/{day}?fileType=Csv", "pending_delete")
            for day in self.categories
        )

    def needs_login_reason(self) -> str | None:
        if self.credentials is not None:
            return None
        table = self.watch_table()
        if table is None or not table.credentials_env:
            return (
                "no DropCatch API key: name the environment variables holding its client_id and "
                "client_secret in [marketplaces.dropcatch] credentials_env"
            )
        return f"no DropCatch API key: set {' and '.join(table.missing_credentials(os.environ))}"

    def site_root(self, site: Site) -> str:
        # The API answers on its own host, whatever site the listings are on.
        assert self.base_url is not None
        return self.base_url.format(site=API_HOST).rstrip("/")

    def revisit_request(self, stored: ListingRow) -> None:
        """No revisits: they would fetch DropCatch's pages, which this spider, reading an API, does not
        check against robots.txt."""
        return None

    # -- the token ------------------------------------------------------------------------------

    def login_request(self, credentials: dict[str, str]) -> scrapy.Request:
        return self._token_request(self.after_login)

    def _token_request(
        self, callback: Callable[..., Iterator[scrapy.Request]], **cb_kwargs: Any
    ) -> scrapy.Request:
        assert self.credentials is not None
        return JsonRequest(
            f"{self.site_root(self.sites[0])}{AUTHORIZE_PATH}",
            data={
                "clientId": self.credentials["client_id"],
                "clientSecret": self.credentials["client_secret"],
            },
            callback=callback,
            cb_kwargs=cb_kwargs,
            errback=self._token_failed,
            # Refusals and challenge pages are read, to say which it was.
            meta={"handle_httpstatus_list": [400, 401, 403]},
            dont_filter=True,
        )

    def after_login(self, response: Response) -> Iterator[scrapy.Request]:
        if not self._keep_token(response):
            self._searches_lost("failed")
            return
        yield from self.search_requests()
        yield from self.feed_requests()

    def _keep_token(self, response: Response) -> bool:
        """Keep the token of a token answer; otherwise record why there is none and say False."""
        stats = self.crawler.stats
        if isinstance(response, TextResponse) and self.is_blocked(response):
            stats.inc_value("brandcrawl/pages/blocked")
            self.logger.warning("challenge page instead of an API token: %s", response.url)
            return False
        try:
            answer = response.json()  # type: ignore[attr-defined]
        except (AttributeError, ValueError) as error:
            stats.inc_value("brandcrawl/parse_errors")
            self.logger.error("could not read the API token answer: %s: %s", type(error).__name__, error)
            return False
        token = answer.get("token") if isinstance(answer, dict) else None
        if response.status != 200 or not token:
            # A refused key answers an error text ("An error occured trying to process this request").
            reason = f"DropCatch refused the API key ({_error_text(answer, response.status)}): check the "
            reason += "client id and secret named in credentials_env"
            if self._token is None:
                stats.set_value("brandcrawl/needs_login", reason)
            self.logger.error("%s: %s", self.marketplace_name, reason)
            return False
        self._token = str(token)
        return True

    def _token_failed(self, failure: Failure) -> None:
        """The token endpoint could not be had (after retries), or throttled us (429)."""
        status = failure.value.response.status if failure.check(HttpError) else None
        self.logger.warning("no API token: %s", status or failure.getErrorMessage())
        outcome = "refused" if status in (403, 429) else "failed"
        if retry := failure.request.cb_kwargs.get("retry"):  # type: ignore[attr-defined]
            self._lost(retry, "no new API token", outcome)
        else:
            self._searches_lost(outcome)

    def _searches_lost(self, outcome: str) -> None:
        """Without a token the run sends nothing: count what it would have sent as lost, so the run
        is recorded (broken or blocked) instead of passing unnoticed."""
        for site in self.sites:
            count = len(self.queries) + len(self.feeds)
            self.crawler.stats.inc_value("brandcrawl/searches", count)
            self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/{outcome}", count)

    def _lost(self, request: scrapy.Request, why: str, outcome: str = "failed") -> None:
        self.crawler.stats.inc_value(f"brandcrawl/site/{request.meta.get('site', 'unknown')}/{outcome}")
        self.logger.error("request %s lost: %s", request.url, why)

    def _with_token(self, request: scrapy.Request, retried: bool = False) -> scrapy.Request:
        assert self._token is not None
        # A refused token (401) is read, to renew it once.
        handled = [*request.meta.get("handle_httpstatus_list", ()), 401]
        request = request.replace(
            meta={**request.meta, "token_retried": retried, "handle_httpstatus_list": handled}
        )
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def _token_refused(self, response: Response) -> Iterator[scrapy.Request]:
        """A request refused for its token (401: it expired, DropCatch's last 30 minutes): ask for a
        new one, and send the request again with it, once."""
        request = response.request
        assert request is not None
        if request.meta.get("token_retried"):
            self._lost(request, "a new API token was refused too")
            return
        self.logger.info("the API token was refused: asking for a new one")
        yield self._token_request(self._token_renewed, retry=request)

    def _token_renewed(self, response: Response, retry: scrapy.Request) -> Iterator[scrapy.Request]:
        if not self._keep_token(response):
            self._lost(retry, "no new API token")
            return
        # The request as it was first sent (the downloader's own meta left behind), past the duplicate
        # filter, which saw it already.
        meta = {key: retry.meta[key] for key in RESENT_META if key in retry.meta}
        yield self._with_token(retry.replace(meta=meta, dont_filter=True), retried=True)

    # -- the auctions: searched by brand --------------------------------------------------------

    def search_url(self, site: Site, query: str) -> str:
        params = {
            "searchTerm": query,
            # Every active auction, not only those the key's account bids in.
            "showAllActive": "true",
            "size": PAGE_SIZE,
            # Soonest ending first: what max_pages leaves out ends last.
            "sort": "EndTimeAsc",
        }
        return f"{self.site_root(site)}{AUCTIONS_PATH}?{urlencode(params)}"

    def search_requests(self) -> Iterator[scrapy.Request]:
        """One auction search per brand name and alias; this spider's categories are the dropping
        lists, which ``feed_requests`` downloads."""
        table = self.watch_table()
        if table is not None and not table.search:
            return
        for site in self.sites:
            for query in self.queries:
                self.crawler.stats.inc_value("brandcrawl/searches")
                yield self.page_request(self.search_url(site, query), site, query=query)

    def page_request(self, url: str, site: Site, page: int = 1, **meta: Any) -> scrapy.Request:
        request = super().page_request(url, site, page, **meta)
        return self._with_token(request.replace(callback=self.parse_auctions))

    def parse_auctions(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """A page of auctions: its listings, then the next page (the base's paging)."""
        if response.status == 401:
            yield from self._token_refused(response)
            return
        yield from SearchSpider.parse(self, response)

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[Listing]:
        for item in _answer(response)["items"]:
            yield self._parse_auction(_camel(item), site, seen_at)

    def _parse_auction(self, item: dict[str, Any], site: Site, seen_at: datetime) -> Listing:
        name = str(item["name"])
        high_bid = item.get("highBid")
        return self.feed_listing(
            name,
            site,
            AUCTIONS,
            seen_at,
            url=self.listing_url(site, name.strip().lower()),
            price=Decimal(str(high_bid)) if high_bid is not None else None,
            currency="USD",
            end_time=to_utc(datetime.fromisoformat(item["endTime"])) if item.get("endTime") else None,
            details=self._parse_details(item),
        )

    @staticmethod
    def _parse_details(item: dict[str, Any]) -> dict[str, Any]:
        # The API counts bidders, not bids: kept here rather than as a bid count.
        wanted = {"auctionId": "auction_id", "type": "auction_type", "numberOfBidders": "bidders"}
        details = {key: item[field] for field, key in wanted.items() if item.get(field) is not None}
        if (next_bid := item.get("minimumNextBid")) is not None:
            details["minimum_next_bid"] = str(next_bid)
        return details

    def result_count(self, response: TextResponse) -> int | None:
        total = _answer(response).get("totalRecords")
        return int(total) if total is not None else None

    def next_page(self, response: TextResponse) -> str | None:
        cursor = _answer(response).get("cursor") or {}
        following = cursor.get("next") if isinstance(cursor, dict) else None
        if not following or not response.meta.get("query"):
            return None
        first = self.search_url(self.site_for(response), response.meta["query"])
        return f"{first}&{urlencode({'next': following})}"

    # -- the names about to drop: whole files ---------------------------------------------------

    def feed_requests(self) -> Iterator[scrapy.Request]:
        for request in super().feed_requests():
            yield self._with_token(request)

    def parse(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        """A dropping list (``scrapy parse`` calls this too)."""
        if response.status == 401:
            yield from self._token_refused(response)
            return
        yield from super().parse(response)

    def rows(self, response: Response, feed: Feed) -> Iterator[dict[str, str]]:
        return csv_rows(file_in(response))

    def row_domain(self, row: dict[str, str], feed: Feed) -> str:
        name = row.get("DomainName")
        if not name or "." not in name:
            raise PageFormatError(f"no domain name in the row: {name!r}")
        return name

    def row_listing(self, row: dict[str, str], site: Site, feed: Feed, seen_at: datetime) -> Listing:
        drop_date = row.get("DropDate") or None
        return self.feed_listing(
            row["DomainName"],
            site,
            feed,
            seen_at,
            end_time=self._parse_drop_date(row),
            details={"drop_date": drop_date, "list": feed.name.removeprefix(DROPS_PREFIX)},
        )

    def _parse_drop_date(self, row: dict[str, str]) -> datetime | None:
        # The day the name drops: its backorder window runs to the end of that day (UTC). An odd date
        # keeps the hit, which is worth more than its date.
        text = (row.get("DropDate") or "").strip()
        for day_format in DAY_FORMATS if text else ():
            try:
                return datetime.strptime(text[:10], day_format).replace(tzinfo=UTC) + timedelta(days=1)
            except ValueError:
                continue
        if text:
            self.logger.warning("unreadable DropCatch DropDate %r on %s", text, row["DomainName"])
        return None

    def listing_url(self, site: Site, domain: str) -> str:
        return f"{WEB_ROOT}/domain/{quote(domain)}"

    def is_blocked(self, response: TextResponse) -> bool:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        looks_html = "html" in content_type or response.body.lstrip()[:1] == b"<"
        return looks_html and super().is_blocked(response)


def _answer(response: TextResponse) -> dict[str, Any]:
    answer = response.json()
    if not isinstance(answer, dict):
        raise PageFormatError(f"expected a JSON object, got {type(answer).__name__}")
    return answer


def _camel(item: dict[str, Any]) -> dict[str, Any]:
    """An auction's fields in camelCase: the API's JSON writes them so ("highBid"), its Swagger
    schema and some clients in PascalCase ("HighBid")."""
    return {key[:1].lower() + key[1:]: value for key, value in item.items()}


def _error_text(answer: object, status: int) -> str:
    """DropCatch's own words for a refusal: a bare JSON string, or a problem object's title/detail."""
    if isinstance(answer, str):
        return answer
    if isinstance(answer, dict) and (text := answer.get("detail") or answer.get("title")):
        return str(text)
    return f"HTTP {status}"
