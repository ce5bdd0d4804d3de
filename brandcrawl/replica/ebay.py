"""The replica's eBay: search pages for ebay.com/.de/.fr (current ``li.s-card`` markup) and ebay.co.uk
(older ``li.s-item`` markup), cut from real captured pages (see tests/fixtures/ebay/README.md)."""

from __future__ import annotations

import dataclasses
import re
import threading
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import matches, render, template

SEED = Path(__file__).with_name("seed_ebay.toml")
_SEARCH = re.compile(r"/sch/i\.html")
_ITEM = re.compile(r"/itm/(?:[^/]+/)?(?P<id>\d+)")


@dataclass
class SeedListing:
    """One listing as eBay displays it (texts as shown, in the site's language)."""

    site: str  # "ebay.com" | "ebay.fr" | "ebay.de" | "ebay.co.uk"
    listing_id: str  # digits
    title: str
    price: str  # e.g. "$1,500.00", "EUR 1.500,00", "1 500,00 EUR", "£950.00"
    bids: str | None = None  # e.g. "17 bids"; None for fixed price
    time_left: str | None = None  # e.g. "1d 6h left", "Ended"
    buy_it_now: bool = False
    seller: str = "seller"


@dataclass(frozen=True)
class _Locale:
    markup: str  # "scard" (current) or "sitem" (older)
    lang: str
    results_for: str
    opens_new_window: str
    time_left_label: str
    buy_it_now_label: str
    best_offer_label: str
    no_matches: str
    condition: str
    feedback: str
    placeholder_price: str
    placeholder_condition: str


LOCALES = {
    "ebay.com": _Locale(
        "scard",
        "en",
        " results for ",
        "Opens in a new window or tab",
        "Time left",
        "Buy It Now",
        "or Best Offer",
        "No exact matches found",
        "Pre-Owned",
        "100% positive (12)",
        "$20.00",
        "Brand New",
    ),
    "ebay.de": _Locale(
        "scard",
        "de",
        " Ergebnisse für ",
        "Wird in neuem Fenster oder Tab geöffnet",
        "Restzeit",
        "Sofort-Kaufen",
        "oder Preisvorschlag",
        "Keine exakten Treffer gefunden",
        "Gebraucht",
        "100 % positiv (12)",
        "EUR 20,00",
        "Neu",
    ),
    "ebay.fr": _Locale(
        "scard",
        "fr",
        " résultats pour ",
        "S'ouvre dans une nouvelle fenêtre ou un nouvel onglet",
        "Temps restant",
        "Achat immédiat",
        "ou Offre directe",
        "Aucun résultat correspondant n'a été trouvé",
        "Occasion",
        "100 % d'évaluations positives (12)",
        "20,00\u00a0EUR",
        "Neuf",
    ),
    # The older markup has no hidden "opens in a new window" span and no seller row.
    "ebay.co.uk": _Locale(
        "sitem",
        "en-GB",
        " results for ",
        "",
        "Time left",
        "Buy It Now",
        "or Best Offer",
        "No exact matches found",
        "Pre-owned",
        "",
        "£20.00",
        "Brand new",
    ),
}


def load_seed(path: str | Path | None = None) -> list[SeedListing]:
    """Read ``[[listing]]`` tables (SeedListing fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [SeedListing(**table) for table in data["listing"]]


class EbayApp(SiteApp):
    """eBay's search and item pages, on each country site."""

    name = "ebay"
    sites: ClassVar[tuple[str, ...]] = tuple(LOCALES)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self._listings = {item.listing_id: item for item in load_seed()}
        self._lock = threading.Lock()

    def replace(self, listings: Iterable[SeedListing]) -> None:
        """Serve these listings instead of the bundled seed."""
        with self._lock:
            self._listings = {item.listing_id: item for item in listings}

    def update(self, listing_id: str, **changes: object) -> None:
        """Change fields (price, bids, time_left, title...) of a listing, e.g. between two crawls."""
        with self._lock:
            self._listings[listing_id] = dataclasses.replace(self._listings[listing_id], **changes)

    def add(self, listing: SeedListing) -> None:
        with self._lock:
            self._listings[listing.listing_id] = listing

    def remove(self, listing_id: str) -> None:
        with self._lock:
            del self._listings[listing_id]

    def listings(self) -> list[SeedListing]:
        with self._lock:
            return list(self._listings.values())

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        return 200, {}, template("ebay/blocked.html")

    def respond(self, request: ReplicaRequest) -> Reply | None:
        site = request.site
        if _SEARCH.fullmatch(request.path):
            query = request.arg("_nkw", "")
            page = request.arg("_pgn", "1")
            page_number = max(int(page), 1) if page.isdigit() else 1
            return 200, {}, self._search_page(site, query, page_number, self.listings())
        if m := _ITEM.fullmatch(request.path):
            with self._lock:
                item = self._listings.get(m["id"])
            if item is not None and item.site == site:
                return (
                    200,
                    {},
                    render("ebay/item.html", lang=LOCALES[site].lang, title=item.title, price=item.price),
                )
        return None

    def _search_url(self, site: str, query: str, page: int) -> str:
        return f"{self.replica.site_url(site)}/sch/i.html?" + urlencode(
            {"_nkw": query, "_sop": 10, "_pgn": page}
        )

    def _search_page(self, site: str, query: str, page: int, listings: list[SeedListing]) -> str:
        loc, site_url = LOCALES[site], self.replica.site_url(site)
        hits = sorted(
            (item for item in listings if item.site == site and matches(query, item.title)),
            key=lambda item: int(item.listing_id),
            reverse=True,  # newest first, like _sop=10
        )
        shown = hits[(page - 1) * self.replica.page_size : page * self.replica.page_size]
        kind = "layout_changed" if self.replica.layout_changed and loc.markup == "scard" else loc.markup
        labels = {f.name: getattr(loc, f.name) for f in dataclasses.fields(loc)}
        cards = "".join(
            render(
                f"ebay/{kind}_card.html",
                **labels,
                **dataclasses.asdict(item),
                index=index,
                hex_id=format(int(item.listing_id), "x"),
                item_url=self._item_url(site, item),
                site_url=site_url,
                best_offer=not item.bids and not item.buy_it_now,
            )
            for index, item in enumerate(shown, 1)
        )
        pages = -(-len(hits) // self.replica.page_size)
        pagination = ""
        if hits:
            items = "".join(
                render(
                    f"ebay/{loc.markup}_page_item.html",
                    n=n,
                    i=n - 1,
                    current=n == page,
                    url=self._search_url(site, query, n),
                )
                for n in range(1, pages + 1)
            )
            pagination = render(
                f"ebay/{loc.markup}_pagination.html", page=page, page_items=items, query=query,
                site_url=site_url,
                next_url=self._search_url(site, query, page + 1) if page < pages else "",
                prev_url=self._search_url(site, query, max(page - 1, 1)),
            )  # fmt: skip
        return render(
            f"ebay/{kind}_page.html", **labels, query=query, count=len(hits), cards=cards,
            pagination=pagination,
            no_results=not hits, site_url=site_url, search_url=self._search_url(site, query, page),
        )  # fmt: skip

    def _item_url(self, site: str, item: SeedListing) -> str:
        if LOCALES[site].markup == "sitem":  # the older markup links /itm/<title-slug>/<id>
            slug = re.sub(r"[^A-Za-z0-9]+", "-", unicodedata.normalize("NFKD", item.title)).strip("-")
            return f"{self.replica.site_url(site)}/itm/{slug}/{item.listing_id}"
        return f"{self.replica.site_url(site)}/itm/{item.listing_id}"
