"""The replica's eBay Browse API on ``api.ebay.com``: the OAuth token endpoint (client-credentials
grant) and ``item_summary/search``, answering for the listings the replica's eBay pages show
(``replica.ebay``), so a listing is the same item read either way.

The JSON follows eBay's documented shapes (see tests/fixtures/ebay_api/README.md). Two liberties:
``limit`` is capped at the replica's page size (eBay caps it at 200) so that a few listings make
several pages, and every query's listings are sorted newest first (eBay sorts so for newlyListed).
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import urlencode

from brandcrawl.normalize import parse_count, parse_price, parse_time_left
from brandcrawl.replica.ebay import SeedListing
from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import matches, render

HOST = "api.ebay.com"
TOKEN_PATH = "/identity/v1/oauth2/token"  # noqa: S105 - a path, not a password
SEARCH_PATH = "/buy/browse/v1/item_summary/search"
API_SCOPE = "https://api.ebay.com/oauth/api_scope"
JSON = {"Content-Type": "application/json"}
_BUYING_OPTIONS = re.compile(r"buyingOptions:\{([^}]*)\}")


@dataclass(frozen=True)
class _Marketplace:
    site: str
    currency: str


# eBay answers for EBAY_US when the header is missing or unknown.
MARKETPLACES = {
    "EBAY_US": _Marketplace("ebay.com", "USD"),
    "EBAY_FR": _Marketplace("ebay.fr", "EUR"),
    "EBAY_DE": _Marketplace("ebay.de", "EUR"),
    "EBAY_GB": _Marketplace("ebay.co.uk", "GBP"),
}
_DEFAULT_MARKETPLACE = "EBAY_US"


@dataclass
class _Token:
    expires_at: float  # time.monotonic()
    uses_left: int | None


def _errors(error_id: int, domain: str, message: str, long_message: str) -> str:
    return json.dumps(
        {
            "errors": [
                {
                    "errorId": error_id,
                    "domain": domain,
                    "category": "REQUEST",
                    "message": message,
                    "longMessage": long_message,
                }
            ]
        }
    )


INVALID_TOKEN: Reply = (
    401,
    JSON,
    _errors(
        1001,
        "OAuth",
        "Invalid access token",
        "Invalid access token. Check the value of the Authorization HTTP request header.",
    ),
)
NO_TOKEN: Reply = (
    403,
    JSON,
    _errors(1100, "ACCESS", "Access denied", "Insufficient permissions to fulfill the request."),
)


class EbayApiApp(SiteApp):
    """eBay's Browse API; needs the replica's eBay pages (``EbayApp``) for its listings."""

    name = "ebay_api"
    sites: ClassVar[tuple[str, ...]] = (HOST,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        #: The developer keyset the token endpoint accepts.
        self.client_id = "replica-client-id"
        self.client_secret = "replica-client-secret"  # noqa: S105 - the replica's own demo keyset
        #: Seconds a token lives (eBay: 7,200).
        self.token_lifetime = 7200
        #: Searches a token answers before it expires; None: until its lifetime is over.
        self.token_uses: int | None = None
        #: The X-EBAY-C-MARKETPLACE-ID of every search, as sent (None when missing).
        self.marketplaces: list[str | None] = []
        self._tokens: dict[str, _Token] = {}
        self._lock = threading.Lock()

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        # api.ebay.com sits behind Akamai, whose refusal is an HTML page with a 403.
        url = f"http://{HOST}{request.path}"
        reference = "18.d1293417.1713458297.bc53830"
        return 403, {}, render("ebay_api/access_denied.html", url=url, reference=reference)

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if request.path == TOKEN_PATH and request.method == "POST":
            return self._token(request)
        if request.path == SEARCH_PATH and request.method == "GET":
            return self._search(request)
        return None

    def _token(self, request: ReplicaRequest) -> Reply:
        keyset = f"{self.client_id}:{self.client_secret}".encode()
        if request.headers.get("Authorization") != f"Basic {base64.b64encode(keyset).decode()}":
            body = {"error": "invalid_client", "error_description": "client authentication failed"}
            return 401, JSON, json.dumps(body)
        if request.form.get("grant_type") != ["client_credentials"]:
            body = {
                "error": "unsupported_grant_type",
                "error_description": "grant type in request is not supported by the authorization server",
            }
            return 400, JSON, json.dumps(body)
        if API_SCOPE not in " ".join(request.form.get("scope", [])).split():
            body = {
                "error": "invalid_scope",
                "error_description": "The requested scope is invalid, unknown, malformed, "
                "or exceeds the scope granted to the client",
            }
            return 400, JSON, json.dumps(body)
        token = f"v^1.1#i^1#p^1#r^0#I^3#f^0#t^{secrets.token_urlsafe(48)}"
        with self._lock:
            self._tokens[token] = _Token(time.monotonic() + self.token_lifetime, self.token_uses)
        body = {
            "access_token": token,
            "expires_in": self.token_lifetime,
            "token_type": "Application Access Token",
        }
        return 200, JSON, json.dumps(body)

    def _search(self, request: ReplicaRequest) -> Reply:
        authorization = request.headers.get("Authorization") or ""
        if not authorization.startswith("Bearer "):
            return NO_TOKEN
        if not self._use_token(authorization.removeprefix("Bearer ")):
            return INVALID_TOKEN
        marketplace_id = request.headers.get("X-EBAY-C-MARKETPLACE-ID")
        with self._lock:
            self.marketplaces.append(marketplace_id)
        marketplace = MARKETPLACES.get(marketplace_id or "", MARKETPLACES[_DEFAULT_MARKETPLACE])
        query = request.arg("q")
        wanted = _BUYING_OPTIONS.search(request.arg("filter"))
        options = set(wanted[1].split("|")) if wanted else None
        limit = max(1, min(_int(request.arg("limit"), 50), 200, self.replica.page_size))
        offset = _int(request.arg("offset"), 0)
        now = datetime.now(UTC)
        found = [
            summary
            for item in sorted(
                self.replica.ebay.listings(), key=lambda item: int(item.listing_id), reverse=True
            )
            if item.site == marketplace.site and matches(query, item.title)
            if (summary := self._summary(item, marketplace, now)) is not None
            if options is None or options & set(summary["buyingOptions"])
        ]
        params = {key: values[0] for key, values in request.query.items()} | {"limit": str(limit)}
        page: dict[str, Any] = {
            "href": self._search_url(params | {"offset": str(offset)}),
            "total": len(found),
            "limit": limit,
            "offset": offset,
        }
        if offset + limit < len(found):
            page["next"] = self._search_url(params | {"offset": str(offset + limit)})
        if shown := found[offset : offset + limit]:
            # What a changed API could look like: its list under another name.
            page["items" if self.replica.layout_changed else "itemSummaries"] = shown
        return 200, JSON, json.dumps(page)

    def _use_token(self, token: str) -> bool:
        with self._lock:
            known = self._tokens.get(token)
            if known is None or known.expires_at <= time.monotonic() or known.uses_left == 0:
                return False
            if known.uses_left is not None:
                known.uses_left -= 1
            return True

    def _search_url(self, params: dict[str, str]) -> str:
        return f"{self.replica.site_url(HOST)}{SEARCH_PATH}?{urlencode(params)}"

    def _summary(self, item: SeedListing, marketplace: _Marketplace, now: datetime) -> dict[str, Any] | None:
        """The seed's displayed texts as the API's typed fields; None for an ended listing, which
        the API no longer finds."""
        left = parse_time_left(item.time_left, now)
        if left is not None and left.ended:
            return None
        price = parse_price(item.price, marketplace.currency)
        amount = {"value": f"{price.amount:.2f}", "currency": price.currency} if price else None
        auction = item.bids is not None
        options = (
            ["AUCTION"] if auction else ["FIXED_PRICE"] if item.buy_it_now else ["FIXED_PRICE", "BEST_OFFER"]
        )
        category_id, category = (
            ("3755", "Domain Names") if "domain" in item.title.casefold() else ("99", "Other")
        )
        item_id = f"v1|{item.listing_id}|0"
        summary: dict[str, Any] = {
            "itemId": item_id,
            "title": item.title,
            "leafCategoryIds": [category_id],
            "categories": [{"categoryId": category_id, "categoryName": category}],
            "itemHref": f"{self.replica.site_url(HOST)}/buy/browse/v1/item/{item_id.replace('|', '%7C')}",
            "seller": {"username": item.seller, "feedbackPercentage": "100.0", "feedbackScore": 12},
            "condition": "Used",
            "conditionId": "3000",
            "buyingOptions": options,
            # Tracking parameters as eBay adds them; the spider drops them.
            "itemWebUrl": f"{self.replica.site_url(item.site)}/itm/{item.listing_id}"
            f"?hash=item{int(item.listing_id):x}:g:AAAAAAAAAAAAAAAA",
            "legacyItemId": item.listing_id,
            "listingMarketplaceId": next(key for key, m in MARKETPLACES.items() if m.site == item.site),
        }
        if auction:
            summary["bidCount"] = parse_count(item.bids) or 0
            if amount:
                summary["currentBidPrice"] = amount
            if left is not None and left.end_time is not None:
                summary["itemEndDate"] = left.end_time.strftime("%Y-%m-%dT%H:%M:%S.000Z")
        elif amount:
            summary["price"] = amount
        return summary


def _int(text: str, default: int) -> int:
    return max(int(text), 0) if text.isdigit() else default
