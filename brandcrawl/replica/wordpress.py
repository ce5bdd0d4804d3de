"""What the replica's WordPress shops (Social Tradia, Mid-Man) share: WooCommerce's URLs and behaviour.

Product search ``/?s=<term>&post_type=product`` (matching title, short description and description, as
WordPress's search does), category listings, ``/page/N/`` paging (404 past the last page, as WordPress
answers), a product page per listing at ``/product/<slug>/``, the 302 WooCommerce answers a search with
exactly one result by, and Cloudflare's 403 challenge as the bot-challenge page.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import matches, template

_PAGED = re.compile(r"(?P<base>.*?/)page/(?P<page>\d+)/")
_PRODUCT = re.compile(r"/product/(?P<slug>[^/]+)/")


@dataclass
class ShopListing:
    """One account for sale, as the shop shows it (texts as displayed)."""

    site: str
    post_id: int  # WordPress's post id; newer listings have higher ones
    slug: str
    title: str  # Social Tradia: "Books & Literature Instagram Page (12K Followers)"; Mid-Man: "@handle"
    price: str  # the amount as wc_price() prints it, without the symbol: "1,500.00"
    categories: list[str]  # product_cat slugs; the platform's first
    regular_price: str | None = None  # on sale: the struck-out amount
    followers: str | None = None  # Mid-Man's li.list-follow: "12.5K followers"
    topic: str | None = None  # Mid-Man's niche: "Books"
    short_description: str = ""
    description: str = ""
    seller: str = ""  # Mid-Man's seller name
    in_stock: bool = True
    text: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # What WordPress's search reads: the title, the excerpt and the content.
        self.text = " ".join((self.title, self.short_description, self.description))


def load_shop_seed(path: str | Path) -> list[ShopListing]:
    """Read ``[[listing]]`` tables (ShopListing fields) from a TOML file."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    return [ShopListing(**table) for table in data["listing"]]


class WordPressShopApp(SiteApp):
    """A WooCommerce shop of the replica: subclasses render the pages."""

    #: The seed TOML read at start.
    seed: ClassVar[Path]
    #: Where a category's listing is, ``{category}`` its slug (as on the real site).
    category_path: ClassVar[str]

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self._listings = {item.slug: item for item in load_shop_seed(self.seed)}
        self._lock = threading.Lock()

    def update(self, slug: str, **changes: object) -> None:
        """Change fields (price, in_stock, title...) of a listing, e.g. between two crawls."""
        with self._lock:
            self._listings[slug] = dataclasses.replace(self._listings[slug], **changes)

    def listings(self) -> list[ShopListing]:
        with self._lock:
            return list(self._listings.values())

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        # Cloudflare's managed challenge: a 403 that says so in a header.
        headers = {"cf-mitigated": "challenge", "Server": "cloudflare"}
        return 403, headers, template(f"{self.name}/blocked.html")

    def respond(self, request: ReplicaRequest) -> Reply | None:
        path, page = request.path, 1
        if paged := _PAGED.fullmatch(path):
            path, page = paged["base"], int(paged["page"])
        if path == "/" and "s" in request.query:
            return self._search(request.site, request.arg("s"), page)
        if (category := self._category(path)) is not None:
            found = [item for item in self._newest(request.site) if category in item.categories]
            if not found:
                return None  # no such category: WordPress's 404
            return self._results(request.site, found, page, self.root(request.site) + path, category=category)
        if page == 1 and (product := _PRODUCT.fullmatch(path)):
            with self._lock:
                item = self._listings.get(product["slug"])
            if item is not None and item.site == request.site:
                return 200, {}, self.product_page(item)
        return None

    def root(self, site: str) -> str:
        return self.replica.site_url(site)

    def product_url(self, item: ShopListing) -> str:
        return f"{self.root(item.site)}/product/{item.slug}/"

    def _category(self, path: str) -> str | None:
        prefix, _, suffix = self.category_path.partition("{category}")
        if path.startswith(prefix) and path.endswith(suffix) and len(path) > len(prefix) + len(suffix):
            slug = path[len(prefix) : len(path) - len(suffix)]
            return slug if "/" not in slug else None
        return None

    def _newest(self, site: str) -> list[ShopListing]:
        return sorted(
            (item for item in self.listings() if item.site == site), key=lambda i: i.post_id, reverse=True
        )

    def _search(self, site: str, term: str, page: int) -> Reply | None:
        found = [item for item in self._newest(site) if matches(term, item.text)]
        if len(found) == 1 and page == 1:
            # WooCommerce's woocommerce_redirect_single_search_result.
            return 302, {"Location": self.product_url(found[0])}, ""
        query = "?" + urlencode({"s": term, "post_type": "product"})
        return self._results(site, found, page, self.root(site) + "/", query=query, term=term)

    def _results(
        self,
        site: str,
        found: list[ShopListing],
        page: int,
        base: str,
        *,
        query: str = "",
        term: str | None = None,
        category: str | None = None,
    ) -> Reply | None:
        size = self.replica.page_size
        pages = max(1, -(-len(found) // size))
        if page > pages:
            return None  # WordPress answers a page past the last with its 404
        shown = found[(page - 1) * size : page * size]

        def url(n: int) -> str:
            return (base if n == 1 else f"{base}page/{n}/") + query

        return 200, {}, self.results_page(site, shown, page, pages, url, term=term, category=category)

    def results_page(
        self,
        site: str,
        shown: list[ShopListing],
        page: int,
        pages: int,
        url: Callable[[int], str],
        *,
        term: str | None,
        category: str | None,
    ) -> str:
        """A search or category page: ``shown`` are this page's listings, ``url(n)`` page n's address."""
        raise NotImplementedError

    def product_page(self, item: ShopListing) -> str:
        raise NotImplementedError
