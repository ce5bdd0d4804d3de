"""eBay through its Browse API (``item_summary/search``): the compliant way to search ebay.com, .fr, .de
and .co.uk, whose robots.txt keeps generic crawlers off the search pages.

The API wants an application token (OAuth client-credentials grant with the developer keyset named
in the watch file's ``[marketplaces.ebay] credentials_env``: ``client_id`` and ``client_secret``).
The token is asked for once, kept until shortly before it expires, and asked for again when the API
refuses it (401): every search refused meanwhile is sent again with the new one, once.

Listings get eBay's legacy item id, as on the search pages, so a listing read both ways is one row.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from time import monotonic
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit, urlunsplit

import scrapy
from scrapy.http import Response, TextResponse
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from brandcrawl.config import WatchConfig
from brandcrawl.items import Listing
from brandcrawl.normalize import to_utc
from brandcrawl.storage.models import ListingRow
from spiders._base import PageFormatError, SearchSpider, Site
from spiders.ebay import ACCOUNT_WORDS, EbaySpider

API_HOST = "api.ebay.com"
OAUTH_PATH = "/identity/v1/oauth2/token"
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
# The base scope: the Browse API has no scope of its own.
API_SCOPE = "https://api.ebay.com/oauth/api_scope"
MARKETPLACE_HEADER = "X-EBAY-C-MARKETPLACE-ID"
# Without the header (or with an unknown value) eBay silently answers for EBAY_US.
MARKETPLACE_IDS = {"ebay.com": "EBAY_US", "ebay.fr": "EBAY_FR", "ebay.de": "EBAY_DE", "ebay.co.uk": "EBAY_GB"}
# The API's largest page: the default keyset may make 5,000 searches a day, so fewer, fuller pages.
PAGE_SIZE = 200
# Both kinds named: clients of the API report that without the filter only fixed prices come back.
BUYING_OPTIONS = "buyingOptions:{AUCTION|FIXED_PRICE}"
# Ask for a new token this long before the current one expires (eBay's last 7,200 s): searches
# already queued still carry the old one, and it must outlive them.
TOKEN_MARGIN = 600.0
# The keyset may also be refused because it is still disabled, in the very same words.
REFUSED = (
    "eBay refused the API keyset ({error}): check the client id and secret named in credentials_env, "
    "and that the keyset is enabled (a new production keyset stays disabled until its marketplace "
    "account deletion notifications are set up or opted out of)"
)


class EbayApiSpider(SearchSpider):
    name = "ebay_api"
    marketplace = "ebay"
    source = "api"
    # The API is a service eBay licenses to registered developers (its API License Agreement sets the
    # rules and the call limits), not pages for crawlers; api.ebay.com has no robots.txt anyway.
    custom_settings: ClassVar[dict[str, Any]] = {"ROBOTSTXT_OBEY": False}  # default False, project True
    default_base_url = "https://{site}"
    default_account_words = ACCOUNT_WORDS
    allowed_domains: ClassVar[list[str]] = [API_HOST]
    site_profiles = EbaySpider.site_profiles
    # An API answers JSON; an HTML page there is the edge network's refusal or eBay's challenge.
    block_titles = (*EbaySpider.block_titles, "Access Denied")
    credential_roles = ("client_id", "client_secret")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._token: str | None = None
        self._token_renew_at = 0.0  # monotonic()
        self._token_generation = 0  # which token a search carries: a 401 with an older one is stale
        self._renewing = False
        self._waiting: list[scrapy.Request] = []  # searches refused with the current token

    def configure(self, watch: WatchConfig, environ: Mapping[str, str] = os.environ) -> None:
        # [marketplaces.ebay] base_url mirrors eBay's pages: the keyset goes to the API host, or to
        # a base_url given to this spider itself (-a base_url, the replica).
        self.base_url = self.base_url or self.default_base_url
        super().configure(watch, environ)

    def revisit_request(self, stored: ListingRow) -> None:
        """No revisits: they would fetch eBay's pages, which this spider, reading an API, does not
        check against robots.txt (the pages spider does revisit)."""
        return None

    def site_root(self, site: Site) -> str:
        # Every country site is searched on the one API host; the marketplace is a header.
        return self._api_root

    @property
    def _api_root(self) -> str:
        assert self.base_url is not None
        return self.base_url.format(site=API_HOST).rstrip("/")

    def search_url(self, site: Site, query: str) -> str:
        params = {
            "q": query,
            "filter": BUYING_OPTIONS,
            "sort": "newlyListed",  # newest first, so a daily crawl sees what appeared since yesterday
            "limit": PAGE_SIZE,
            "fieldgroups": "EXTENDED",  # adds shortDescription, read for handles and followers
        }
        return f"{self._api_root}{SEARCH_PATH}?{urlencode(params)}"

    # -- the token ------------------------------------------------------------------------------

    def login_request(self, credentials: dict[str, str]) -> scrapy.Request:
        return self._token_request(self.after_login)

    def _token_request(self, callback: Callable[[Response], Iterator[scrapy.Request]]) -> scrapy.Request:
        assert self.credentials is not None
        keyset = f"{self.credentials['client_id']}:{self.credentials['client_secret']}"
        return scrapy.FormRequest(
            f"{self._api_root}{OAUTH_PATH}",
            formdata={"grant_type": "client_credentials", "scope": API_SCOPE},
            headers={"Authorization": f"Basic {base64.b64encode(keyset.encode()).decode()}"},
            callback=callback,
            errback=self._token_failed,
            # Refusals and challenge pages are read, to say which it was.
            meta={"handle_httpstatus_list": [400, 401, 403]},
            dont_filter=True,
        )

    def after_login(self, response: Response) -> Iterator[scrapy.Request]:
        if self._keep_token(response):
            yield from self.search_requests()
        else:
            self._searches_lost("failed")

    def _keep_token(self, response: Response) -> bool:
        """Keep the token of a token answer; otherwise record why there is none and say False."""
        stats = self.crawler.stats
        if isinstance(response, TextResponse) and self.is_blocked(response):
            stats.inc_value("brandcrawl/pages/blocked")
            self.logger.warning("challenge page instead of an API token: %s", response.url)
            return False
        if response.status != 200:
            reason = REFUSED.format(error=_error_text(response))
            if self._token is None:
                stats.set_value("brandcrawl/needs_login", reason)
            # A renewal refused mid-run loses the searches waiting for it (counted), not the whole run.
            self.logger.error("%s: %s", self.marketplace_name, reason)
            return False
        try:
            answer = response.json()  # type: ignore[attr-defined]
            token, lifetime = str(answer["access_token"]), float(answer["expires_in"])
        except (AttributeError, ValueError, KeyError, TypeError) as error:
            stats.inc_value("brandcrawl/parse_errors")
            self.logger.error("could not read the API token answer: %s: %s", type(error).__name__, error)
            return False
        self._token, self._token_generation = token, self._token_generation + 1
        self._token_renew_at = monotonic() + lifetime - min(TOKEN_MARGIN, lifetime / 2)
        return True

    def _renewal(self) -> scrapy.Request | None:
        """The request for a new token, unless one is on its way."""
        if self._renewing:
            return None
        self._renewing = True
        return self._token_request(self._token_renewed)

    def _token_renewed(self, response: Response) -> Iterator[scrapy.Request]:
        self._renewing = False
        waiting, self._waiting = self._waiting, []
        if self._keep_token(response):
            yield from (self._with_token(request, retried=True) for request in waiting)
        else:
            for request in waiting:
                self._lost(request, "no new API token")

    def _token_failed(self, failure: Failure) -> None:
        """The token endpoint could not be had (after retries), or refused us with a 403/429."""
        status = failure.value.response.status if failure.check(HttpError) else None
        self.logger.warning("no API token: %s", status or failure.getErrorMessage())
        outcome = "refused" if status in (403, 429) else "failed"
        if self._token is None:
            self._searches_lost(outcome)
            return
        self._renewing = False
        waiting, self._waiting = self._waiting, []
        for request in waiting:
            self._lost(request, "no new API token", outcome)

    def _searches_lost(self, outcome: str) -> None:
        """Without a first token the run sends no search: count the searches it would have sent as
        lost, so that the run is recorded (broken or blocked) instead of passing unnoticed."""
        for site in self.sites:
            count = len(self.queries) + len(self.account_queries.get(site.domain, ()))
            self.crawler.stats.inc_value("brandcrawl/searches", count)
            self.crawler.stats.inc_value(f"brandcrawl/site/{site.domain}/{outcome}", count)

    def _lost(self, request: scrapy.Request, why: str, outcome: str = "failed") -> None:
        self.crawler.stats.inc_value(f"brandcrawl/site/{request.meta.get('site', 'unknown')}/{outcome}")
        self.logger.error("search %s lost: %s", request.url, why)

    # -- the searches -----------------------------------------------------------------------------

    def page_request(self, url: str, site: Site, page: int = 1, **meta: Any) -> scrapy.Request:
        request = super().page_request(url, site, page, **meta)
        return self._with_token(
            request.replace(
                headers={MARKETPLACE_HEADER: MARKETPLACE_IDS[site.domain]},
                # A refused token is renewed, a challenge page recognised: both are read.
                meta={**request.meta, "handle_httpstatus_list": [401, 403]},
                # One URL serves every country site (the marketplace is a header, which the duplicate
                # filter does not look at): a second site's page 2 is no duplicate. max_pages bounds paging.
                dont_filter=True,
            ),
            retried=False,
        )

    def _with_token(self, request: scrapy.Request, retried: bool) -> scrapy.Request:
        assert self._token is not None
        request = request.replace(
            meta={**request.meta, "token_generation": self._token_generation, "token_retried": retried}
        )
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def parse(self, response: Response) -> Iterator[Listing | scrapy.Request]:
        if response.status == 401:
            yield from self._token_refused(response)
            return
        if response.status == 403 and not (isinstance(response, TextResponse) and self.is_blocked(response)):
            self.crawler.stats.inc_value(f"brandcrawl/site/{self.site_for(response).domain}/refused")
            self.logger.warning("search %s refused: %s", response.url, _error_text(response))
            return
        if monotonic() >= self._token_renew_at and (renewal := self._renewal()):
            yield renewal
        yield from super().parse(response)

    def _token_refused(self, response: Response) -> Iterator[scrapy.Request]:
        """A search refused for its token (401): send it again with a new one, once."""
        request = response.request
        assert request is not None
        if request.meta.get("token_retried"):
            self._lost(request, f"a new API token was refused too ({_error_text(response)})")
        elif request.meta.get("token_generation", 0) < self._token_generation:
            yield self._with_token(request, retried=True)  # a newer token came meanwhile
        else:
            self._waiting.append(request)
            if renewal := self._renewal():
                self.logger.info(
                    "the API token was refused (%s): asking for a new one", _error_text(response)
                )
                yield renewal

    # -- the answers ------------------------------------------------------------------------------

    def is_blocked(self, response: TextResponse) -> bool:
        content_type = response.headers.get("Content-Type", b"").decode("latin-1")
        looks_html = "html" in content_type or response.body.lstrip()[:1] == b"<"
        return looks_html and super().is_blocked(response)

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[Listing]:
        answer = _answer(response)
        for warning in answer.get("warnings", ()):
            # An invalid filter is a 200 with a warning, and unfiltered results.
            self.logger.warning("eBay warns on %s: %s", response.url, _message(warning))
        for summary in answer.get("itemSummaries", ()):
            yield self._parse_listing(summary, site, seen_at)

    def _parse_listing(self, summary: dict[str, Any], site: Site, seen_at: datetime) -> Listing:
        listing_id = self._parse_listing_id(summary)
        options = list(summary.get("buyingOptions") or ())
        auction = "AUCTION" in options
        price = self._parse_price(summary, auction)
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            listing_id=listing_id,
            url=self._parse_url(summary, site, listing_id),
            title=summary["title"],
            seen_at=seen_at,
            default_currency=site.currency,
            description=summary.get("shortDescription"),
            category=self._parse_category(summary),
            sale_method=self._parse_sale_method(options),
            price=price[0] if price else None,
            currency=price[1] if price else None,
            bid_count=int(summary["bidCount"]) if auction and "bidCount" in summary else None,
            end_time=self._parse_end_time(summary) if auction else None,
            seller=(summary.get("seller") or {}).get("username"),
            details=self._parse_details(summary, options, auction),
        )

    @staticmethod
    def _parse_listing_id(summary: dict[str, Any]) -> str:
        # The legacy id, as in the pages' URLs; the RESTful id "v1|306112458731|0" wraps it.
        listing_id = str(summary.get("legacyItemId") or "")
        if not listing_id and len(parts := summary["itemId"].split("|")) == 3:
            listing_id = parts[1]
        if not listing_id.isdigit():
            raise PageFormatError(f"not an eBay item id: {summary.get('itemId')!r}")
        return listing_id

    @staticmethod
    def _parse_url(summary: dict[str, Any], site: Site, listing_id: str) -> str:
        if not (href := summary.get("itemWebUrl")):
            return f"https://www.{site.domain}/itm/{listing_id}"
        # Drop eBay's tracking parameters (hash, amdata): the listing's address is its path.
        parts = urlsplit(href)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))

    @staticmethod
    def _parse_price(summary: dict[str, Any], auction: bool) -> tuple[Decimal, str] | None:
        # An auction's price is its current bid (as on the search pages); its "price", when it has
        # one, is the Buy It Now price, kept in the details.
        amount = (summary.get("currentBidPrice") if auction else None) or summary.get("price")
        if not amount:
            return None
        try:
            return Decimal(str(amount["value"])), amount["currency"]
        except InvalidOperation as error:
            raise PageFormatError(f"not an amount: {amount['value']!r}") from error

    @staticmethod
    def _parse_sale_method(options: list[str]) -> str | None:
        # An auction with Buy It Now is still an auction; a fixed price that takes offers still
        # names its price; Best Offer without a price (a value eBay documents) is an offer.
        if "AUCTION" in options:
            return "auction"
        if "FIXED_PRICE" in options:
            return "fixed"
        return "offer" if "BEST_OFFER" in options else None

    @staticmethod
    def _parse_end_time(summary: dict[str, Any]) -> datetime | None:
        # Only for auctions: a fixed-price listing's date is rolled forward on every renewal.
        text = summary.get("itemEndDate")
        return to_utc(datetime.fromisoformat(text)) if text else None

    @staticmethod
    def _parse_category(summary: dict[str, Any]) -> str | None:
        categories = summary.get("categories") or ()
        return categories[0]["categoryName"] if categories else None

    @staticmethod
    def _parse_details(summary: dict[str, Any], options: list[str], auction: bool) -> dict[str, Any]:
        details: dict[str, Any] = {"buying_options": options}
        if auction and "FIXED_PRICE" in options and (buy_now := summary.get("price")):
            details["buy_it_now_price"] = f"{buy_now['value']} {buy_now['currency']}"
        return details

    def result_count(self, response: TextResponse) -> int | None:
        return int(_answer(response)["total"])

    def next_page(self, response: TextResponse) -> str | None:
        next_url = _answer(response).get("next")
        return str(next_url) if next_url else None


def _answer(response: TextResponse) -> dict[str, Any]:
    answer = response.json()
    if not isinstance(answer, dict):
        raise PageFormatError(f"expected a JSON object, got {type(answer).__name__}")
    return answer


def _message(error: dict[str, Any]) -> str:
    return f"{error.get('errorId', '?')} {error.get('longMessage') or error.get('message', '')}".strip()


def _error_text(response: Response) -> str:
    """eBay's own words for an error: the APIs' ``errors`` list, or the OAuth ``error`` pair."""
    try:
        answer = response.json()  # type: ignore[attr-defined]
        if errors := answer.get("errors"):
            return "; ".join(_message(error) for error in errors)
        if "error" in answer:
            return f"{answer['error']}: {answer.get('error_description', '')}"
    except (AttributeError, ValueError, TypeError):
        pass  # not JSON: the status is all there is
    return f"HTTP {response.status}"
