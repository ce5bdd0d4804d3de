"""The replica's Accs-market: a list page per platform (/twitter, /in, /youtube, /fb, /tiktok, newest
first, ``?page=N``) whose cards link to each listing's own page, /group/<id>. Markup and where it
comes from: tests/fixtures/accsmarket/README.md."""

from __future__ import annotations

import dataclasses
import html
import re
import threading
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import render

SEED = Path(__file__).with_name("seed_accsmarket.toml")
SITE = "accs-market.com"
HEADINGS = {
    "twitter": "Buy Twitter accounts",
    "in": "Buy Instagram accounts",
    "youtube": "Buy YouTube channels",
    "fb": "Buy Facebook groups and pages",
    "tiktok": "Buy TikTok accounts",
}
_LIST = re.compile(r"/(?P<category>" + "|".join(HEADINGS) + r")/?")
_GROUP = re.compile(r"/group/(?P<id>\d+)")
# What a seller states about the account, as the site labels it (``div.group-data p``).
DEFAULT_GROUP_DATA = {
    "Original email included": "Yes",
    "Ways of promotion": "Organic growth",
    "Source of expense": "No expenses",
    "Source of income": "No income",
    "Account support": "Posting once a week",
    "Content": "Unique",
}


@dataclass
class AccsListing:
    """One listing as Accs-market displays it (texts as shown)."""

    listing_id: str  # digits, in /group/<id>
    category: str  # the platform list it is in: twitter | in | youtube | fb | tiktok
    title: str  # the account's name, as the seller wrote it
    link: str  # the account's address: "https://twitter.com/Gallimard", "@gallimard.fr"
    niche: str  # "Books & Literature"
    subscribers: str  # "12 400"
    price: str  # "1 500 $"
    seller: str
    description: str
    listed: str = "12.11.2026"
    views: str = "120"
    income: str = "0 $"
    expense: str = "0 $"
    group_data: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_GROUP_DATA))


def load_seed(path: str | Path | None = None) -> list[AccsListing]:
    """Read ``[[listing]]`` tables (AccsListing fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [AccsListing(**table) for table in data["listing"]]


class AccsMarketApp(SiteApp):
    """Accs-market's platform lists and listing pages."""

    name = "accsmarket"
    sites: ClassVar[tuple[str, ...]] = (SITE,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self._listings = {item.listing_id: item for item in load_seed()}
        #: Listings sold or withdrawn: still linked from nowhere, their page says so.
        self.gone: set[str] = set()
        self._lock = threading.Lock()

    def replace(self, listings: Iterable[AccsListing]) -> None:
        with self._lock:
            self._listings = {item.listing_id: item for item in listings}

    def update(self, listing_id: str, **changes: object) -> None:
        with self._lock:
            self._listings[listing_id] = dataclasses.replace(self._listings[listing_id], **changes)

    def listings(self) -> list[AccsListing]:
        with self._lock:
            return list(self._listings.values())

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        # Cloudflare's challenge: 403, marked by its header.
        body = render("accsmarket/blocked.html", domain=SITE, path=request.path)
        return 403, {"cf-mitigated": "challenge", "Server": "cloudflare"}, body

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if m := _LIST.fullmatch(request.path):
            page = request.arg("page", "1")
            return 200, {}, self._list_page(m["category"], max(int(page), 1) if page.isdigit() else 1)
        if m := _GROUP.fullmatch(request.path):
            with self._lock:
                item = None if m["id"] in self.gone else self._listings.get(m["id"])
            if item is None:
                return 200, {}, render("accsmarket/gone.html", site_url=self.replica.site_url(SITE))
            return 200, {}, self._group_page(item)
        return None

    def _list_url(self, category: str, page: int) -> str:
        return f"{self.replica.site_url(SITE)}/{category}" + (f"?page={page}" if page > 1 else "")

    def _list_page(self, category: str, page: int) -> str:
        site_url, size = self.replica.site_url(SITE), self.replica.page_size
        items = sorted(
            (item for item in self.listings() if item.category == category),
            key=lambda item: int(item.listing_id),
            reverse=True,  # newest first
        )
        shown = items[(page - 1) * size : page * size]
        # A changed layout: the cards' "more" link block is renamed.
        more_class = "post__link" if self.replica.layout_changed else "post__more"
        posts = "".join(
            render(
                "accsmarket/post.html", **dataclasses.asdict(item), more_class=more_class, site_url=site_url
            )
            for item in shown
        )
        pages = -(-len(items) // size)
        pagination = ""
        if pages > 1:
            numbers = "".join(
                f'<span class="current">{n}</span>'
                if n == page
                else f'<a href="{html.escape(self._list_url(category, n))}">{n}</a>'
                for n in range(1, pages + 1)
            )
            pagination = render(
                "accsmarket/pagination.html",
                numbers=numbers,
                prev_url=self._list_url(category, page - 1) if page > 1 else "",
                next_url=self._list_url(category, page + 1) if page < pages else "",
            )
        return render(
            "accsmarket/list.html",
            heading=HEADINGS[category],
            category=category,
            posts=posts,
            pagination=pagination,
            site_url=site_url,
        )

    def _group_page(self, item: AccsListing) -> str:
        group_data = "\n".join(
            f"            <p>{html.escape(label)}: {html.escape(value)}</p>"
            for label, value in item.group_data.items()
        )
        fields = {k: v for k, v in dataclasses.asdict(item).items() if k != "group_data"}
        return render(
            "accsmarket/group.html", **fields, group_data=group_data, site_url=self.replica.site_url(SITE)
        )
