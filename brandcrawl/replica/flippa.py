"""The replica's Flippa: the public JSON API ``/v3/listings`` and the search page ``/search`` with its
inline ``const STATE = {…}``, both from one seed. Where each shape comes from:
tests/fixtures/flippa/README.md.

Flippa-only failure mode: ``api_withdrawn`` (an HTTP status) makes the API answer that status with an
HTML page, as a withdrawn or moved API would, while the search page keeps working.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import matches, render, template

SEED = Path(__file__).with_name("seed_flippa.toml")
SITE = "flippa.com"
# How the search page's STATE names a property type; the API and the filters use the value itself.
PROPERTY_LABELS = {
    "social_media": "Social Media",
    "youtube": "YouTube",
    "domain": "Domain",
    "website": "Content",
}
# The promoted listings a search matching nothing still shows.
PLACEMENTS = 5


@dataclass
class FlippaListing:
    """One listing as Flippa holds it; amounts in US dollars, as Flippa shows them."""

    listing_id: str
    title: str
    property_type: str  # the API's value: social_media | youtube | domain | website
    summary: str = ""
    property_name: str = ""  # the account, channel or domain on sale
    sale_method: str = "classified"  # auction | classified
    price: int | None = None  # the current bid or the asking price; None: open to offers only
    bid_count: int = 0
    ends_at: str = "2027-01-31T12:00:00+00:00"
    status: str = "open"  # open | won | completed | expired | cancelled
    domain_only: bool = False
    industry: str = "Books and Literature"
    seller_id: str = "100001"


def load_flippa_seed(path: str | Path | None = None) -> list[FlippaListing]:
    """Read ``[[listing]]`` tables (FlippaListing fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [FlippaListing(**table) for table in data["listing"]]


class FlippaApp(SiteApp):
    """Flippa's listings API and search page."""

    name = "flippa"
    sites: ClassVar[tuple[str, ...]] = (SITE,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self.listings = load_flippa_seed()
        #: When set, the API is gone: it answers this status (404, 403...) with an HTML page.
        self.api_withdrawn: int | None = None

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        # Cloudflare's managed challenge, as it answers pages and API calls alike.
        return 403, {"cf-mitigated": "challenge"}, template("flippa/blocked.html")

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if request.path == "/v3/listings":
            if self.api_withdrawn is not None:
                status = HTTPStatus(self.api_withdrawn)
                return status.value, {}, render("flippa/gone.html", status=f"{status.value} {status.phrase}")
            body = json.dumps(self._api_page(request))
            return 200, {"Content-Type": "application/json; charset=utf-8"}, body
        if request.path == "/search":
            return 200, {}, self._search_page(request)
        return None

    def _hits(self, request: ReplicaRequest) -> list[FlippaListing]:
        keyword = request.arg("query[keyword]")
        types = [value for value in request.arg("filter[property_type]").split(",") if value]
        statuses = [value for value in request.arg("filter[status]").split(",") if value]
        hits = [
            item
            for item in self.listings
            if (not keyword or matches(keyword, f"{item.title} {item.summary} {item.property_name}"))
            and (not types or item.property_type in types)
            and (not statuses or item.status in statuses)
        ]
        return sorted(hits, key=lambda item: int(item.listing_id), reverse=True)  # sort_alias=most_recent

    # -- the API: {meta, links, data: [...]} --

    def _api_page(self, request: ReplicaRequest) -> dict[str, Any]:
        hits = self._hits(request)
        asked = request.arg("page[size]")
        size = min(int(asked), self.replica.page_size) if asked.isdigit() else self.replica.page_size
        page = _page_number(request)
        pages = -(-len(hits) // size)
        payload = {
            "meta": {"page_number": page, "page_size": size, "total_results": len(hits)},
            "links": {
                "self": self._api_url(request, page),
                "prev": self._api_url(request, page - 1) if page > 1 else None,
                "next": self._api_url(request, page + 1) if page < pages else None,
            },
            "data": [self._api_record(item) for item in hits[(page - 1) * size : page * size]],
        }
        if self.replica.layout_changed:
            payload["listings"] = payload.pop("data")
        return payload

    def _api_url(self, request: ReplicaRequest, page: int) -> str:
        params = {**request.query, "page[number]": [str(page)]}
        return f"{self.replica.site_url(SITE)}/v3/listings?{urlencode(params, doseq=True)}"

    def _api_record(self, item: FlippaListing) -> dict[str, Any]:
        record = json.loads(template("flippa/api_listing.json"))  # the fields public API clients read
        record.update(
            id=item.listing_id,
            title=item.title,
            summary=item.summary or item.title,
            property_name=item.property_name,
            property_type=item.property_type,
            industry=item.industry,
            status=item.status,
            sale_method=item.sale_method,
            current_price=item.price,
            display_price=item.price,
            bid_count=item.bid_count,
            ends_at=item.ends_at,
            html_url=self._listing_url(item),
            hostname=item.property_name if item.property_type in ("domain", "website") else None,
        )
        record["domain_only?"] = item.domain_only
        seller, api = record["relationships"]["seller"], f"{self.replica.site_url(SITE)}/v3"
        seller["data"]["id"], seller["links"]["self"] = item.seller_id, f"{api}/users/{item.seller_id}"
        record["links"]["self"] = f"{api}/listings/{item.listing_id}"
        return record

    # -- the search page: const STATE = {"results": [...], "metadata": {"totalResults": N}} --

    def _search_page(self, request: ReplicaRequest) -> str:
        hits = self._hits(request)
        size, page = self.replica.page_size, _page_number(request)
        shown = hits[(page - 1) * size : page * size]
        if not hits:
            open_listings = [item for item in self.listings if item.status == "open"]
            shown = sorted(open_listings, key=lambda item: int(item.listing_id), reverse=True)[:PLACEMENTS]
        state: dict[str, Any] = {
            "results": [self._state_record(item) for item in shown],
            "early_access_listings": [],
            "error?": False,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "metadata": {"totalResults": len(hits), "timeoutDelay": 300, "totalRequests": 1},
        }
        if self.replica.layout_changed:
            state["listings"] = state.pop("results")
        first = (page - 1) * size + 1 if hits else 0
        return render(
            "flippa/search.html",
            page_size=size,
            state=script_json(state),
            first=first,
            last=first + len(shown) - 1 if hits else 0,
            count=f"{len(hits):,}",
        )

    def _state_record(self, item: FlippaListing) -> dict[str, Any]:
        record = json.loads(template("flippa/state_result.json"))  # a real result, as captured
        label = PROPERTY_LABELS[item.property_type]
        record.update(
            id=item.listing_id,
            listing_url=self._listing_url(item),
            title=item.title,
            summary=item.title,  # the search page repeats the title
            price=item.price,
            original_price=None,
            price_dropped=False,
            price_dropped_percent=None,
            bid_count=item.bid_count,
            sale_method=item.sale_method,
            sale_method_title=_sale_method_title(item),
            status=item.status,
            category=item.industry,
            end_at=item.ends_at,
            property_name=item.property_name,
            property_type=label,
            open_to_offer=item.price is None,
        )
        record["domain_only?"] = item.domain_only
        record["basic_info"]["name"] = item.property_name or f"{label} | {item.industry}"
        record["key_data"][0]["value"], record["key_data"][1]["value"] = label, item.industry
        return record

    def _listing_url(self, item: FlippaListing) -> str:
        return f"{self.replica.site_url(SITE)}/{item.listing_id}"


def script_json(value: object) -> str:
    """JSON as Flippa's Rails views write it into a <script>: compact, with & < > escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _page_number(request: ReplicaRequest) -> int:
    page = request.arg("page[number]", "1")
    return max(int(page), 1) if page.isdigit() else 1


def _sale_method_title(item: FlippaListing) -> str:
    if item.sale_method != "auction":
        return "Asking Price"
    days = (datetime.fromisoformat(item.ends_at) - datetime.now(UTC)).days
    return f"{max(days, 0)} days left"
