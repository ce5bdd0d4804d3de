"""The replica's Atom (atom.com, formerly Squadhelp): the keyword search
``/premium-domains-for-sale/all/q/<keyword>``, the listing pages (``/premium-domains-for-sale``,
``/ultra-premium-marketplace``…), each paged ``…/page/N`` with ``totalPages: N`` in its script, and
each name's own page ``/name/<Name>``. Where the markup comes from: tests/fixtures/atom/README.md.

A layout change is a redesign renaming the cards' classes; the bot challenge is Cloudflare's (403).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar
from urllib.parse import quote, unquote

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import matches, render, template

SEED = Path(__file__).with_name("seed_atom.toml")
SITE = "atom.com"
SEARCHED = "premium-domains-for-sale"  # the listing whose /all/q/<keyword> searches every name
HEADINGS = {
    "premium-domains-for-sale": "Premium Domains For Sale",
    "ai-domains-for-sale": "AI Domains For Sale",
    "ultra-premium-marketplace": "Ultra Premium Marketplace",
    "aged-domains": "Aged Domains For Sale",
    "aftermarket-domains": "Aftermarket Domains For Sale",
}
_LISTING = re.compile(
    rf"/(?P<collection>{'|'.join(HEADINGS)})(?P<all>/all)?(?:/q/(?P<query>[^/]+))?(?:/page/(?P<page>\d+))?/?"
)
_NAME = re.compile(r"/name/(?P<slug>[^/]+)")
# Atom answers a page past the last one with 400 (the public scrapers stop on it).
PAST_THE_END: Reply = (
    400,
    {},
    "<!DOCTYPE html><html><head><title>400 Bad Request</title></head><body></body></html>",
)


@dataclass
class AtomName:
    """One name as Atom shows it."""

    name: str  # as written: "GallimardBooks.com"
    price: str  # as displayed: "$2,995", or "Make Offer"
    collections: tuple[str, ...] = ("premium-domains-for-sale",)

    @property
    def slug(self) -> str:
        """Its page's name: a .com goes without its extension (/name/GallimardBooks), others with it."""
        return self.name[: -len(".com")] if self.name.lower().endswith(".com") else self.name


def load_atom_seed(path: str | Path | None = None) -> list[AtomName]:
    """Read ``[[name]]`` tables (AtomName fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [
        AtomName(**{**table, "collections": tuple(table.get("collections", AtomName.collections))})
        for table in data["name"]
    ]


class AtomApp(SiteApp):
    """Atom's marketplace pages."""

    name = "atom"
    sites: ClassVar[tuple[str, ...]] = (SITE,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        #: The names on sale, in the order the marketplace shows them; tests may change it.
        self.names = load_atom_seed()

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        # Cloudflare's managed challenge, which Atom's pages and feeds answer crawlers with.
        return 403, {"cf-mitigated": "challenge"}, template("atom/blocked.html")

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if found := _LISTING.fullmatch(request.path):
            collection, query = found["collection"], unquote(found["query"] or "") or None
            return self._listing_page(
                request.site, collection, bool(found["all"]), query, int(found["page"] or 1)
            )
        if found := _NAME.fullmatch(request.path):
            return self._name_page(request.site, unquote(found["slug"]))
        return None

    def _listing_page(self, site: str, collection: str, all_: bool, query: str | None, page: int) -> Reply:
        if query is not None:
            pool = self.names if collection == SEARCHED else self._in(collection)
            shown = [item for item in pool if matches(query, item.name)]
        else:
            shown = self._in(collection)
        size = self.replica.page_size
        pages = -(-len(shown) // size)
        if page < 1 or page > max(pages, 1):
            return PAST_THE_END
        site_url = self.replica.site_url(site)
        root = f"{site_url}/{collection}" + ("/all" if all_ else "") + (f"/q/{quote(query)}" if query else "")

        def url(n: int) -> str:
            return root if n == 1 else f"{root}/page/{n}"

        card = "atom/layout_changed_card.html" if self.replica.layout_changed else "atom/card.html"
        cards = "".join(
            render(card, **self._fields(site_url, item)) for item in shown[(page - 1) * size : page * size]
        )
        heading = f"“{query}” Domain Names For Sale" if query else HEADINGS[collection]
        body = render(
            "atom/page.html",
            title=heading,
            heading=heading,
            canonical=url(page),
            site_url=site_url,
            query=query or "",
            cards=cards or render("atom/no_results.html", query=query or "", site_url=site_url),
            pagination=self._pagination(page, pages, url),
            page=page,
            pages=pages,
            per_page=size,
        )
        return 200, {}, body

    def _in(self, collection: str) -> list[AtomName]:
        return [item for item in self.names if collection in item.collections]

    @staticmethod
    def _pagination(page: int, pages: int, url: Callable[[int], str]) -> str:
        if pages <= 1:
            return ""
        links = "".join(
            render("atom/page_link.html", n=n, current=n == page, url=url(n)) for n in range(1, pages + 1)
        )
        return render(
            "atom/pagination.html",
            links=links,
            prev_url=url(page - 1) if page > 1 else "",
            next_url=url(page + 1) if page < pages else "",
        )

    def _name_page(self, site: str, slug: str) -> Reply | None:
        item = next((item for item in self.names if item.slug.casefold() == slug.casefold()), None)
        if item is None:
            return None
        return 200, {}, render("atom/name.html", **self._fields(self.replica.site_url(site), item))

    @staticmethod
    def _fields(site_url: str, item: AtomName) -> dict[str, object]:
        priced = any(c.isdigit() for c in item.price)
        return {
            "domain": item.name,
            "lower": item.name.lower(),
            "slug": item.slug,
            "url": f"{site_url}/name/{quote(item.slug)}",
            "price": item.price,
            "button": "Buy Now" if priced else "Make Offer",
            "site_url": site_url,
        }
