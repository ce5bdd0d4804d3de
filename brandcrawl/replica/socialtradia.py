"""The replica's Social Tradia: a WooCommerce shop on the Savoy theme (see tests/fixtures/socialtradia/
README.md for where the markup comes from): product search, ``/product-category/<slug>/`` listings,
product pages, WooCommerce's numbered pagination; a layout change is the shop moving to WooCommerce's
block grid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from brandcrawl.replica.templates import render
from brandcrawl.replica.wordpress import ShopListing, WordPressShopApp

# How the shop names its platform categories.
CATEGORY_NAMES = {"instagram": "Instagram", "tiktok": "TikTok", "youtube": "YouTube", "twitter": "Twitter"}


class SocialTradiaApp(WordPressShopApp):
    name = "socialtradia"
    sites: ClassVar[tuple[str, ...]] = ("socialtradia.com",)
    seed: ClassVar[Path] = Path(__file__).with_name("seed_socialtradia.toml")
    category_path: ClassVar[str] = "/product-category/{category}/"

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
        kind = "layout_changed_" if self.replica.layout_changed else ""
        cards = "".join(render(f"socialtradia/{kind}card.html", **self._fields(item)) for item in shown)
        if shown:
            loop = render(
                f"socialtradia/{kind}products.html",
                cards=cards,
                pagination=self._pagination(page, pages, url),
            )
        else:
            loop = render("socialtradia/no_products.html")
        heading = CATEGORY_NAMES.get(category or "", (category or "").title()) if category else "Shop"
        return render(
            "socialtradia/page.html",
            title=f"Search Results for “{term}”" if term is not None else f"{heading} Archives",
            body_class=(
                "search search-results post-type-archive post-type-archive-product"
                if term is not None
                else f"archive tax-product_cat term-{category}"
            ),
            heading=heading,
            term=term or "",
            site_url=self.root(site),
            loop=loop,
        )

    def product_page(self, item: ShopListing) -> str:
        category = item.categories[0]
        return render(
            "socialtradia/product.html",
            **self._fields(item),
            site_url=self.root(item.site),
            short_description=item.short_description,
            description=item.description,
            stock_class="in-stock" if item.in_stock else "out-of-stock",
            stock_text="1 in stock" if item.in_stock else "Out of stock",
            category_url=f"{self.root(item.site)}/product-category/{category}/",
            category_name=CATEGORY_NAMES.get(category, category.title()),
        )

    def _fields(self, item: ShopListing) -> dict[str, object]:
        return {
            "post_id": item.post_id,
            "url": self.product_url(item),
            "title": item.title,
            "stock": "instock" if item.in_stock else "outofstock",
            "in_stock": item.in_stock,
            "cat_classes": " ".join(f"product_cat-{slug}" for slug in item.categories),
            "sale": item.regular_price is not None,
            "price_html": _price_html(item),
        }

    @staticmethod
    def _pagination(page: int, pages: int, url: Callable[[int], str]) -> str:
        if pages <= 1:
            return ""
        items = [render("socialtradia/page_item.html", prev=True, n=page - 1, url=url(page - 1))] * (page > 1)
        items += [
            render("socialtradia/page_item.html", current=n == page, link=n != page, n=n, url=url(n))
            for n in range(1, pages + 1)
        ]
        items += [render("socialtradia/page_item.html", next=True, n=page + 1, url=url(page + 1))] * (
            page < pages
        )
        return "\n".join(items)


def _price_html(item: ShopListing) -> str:
    # WooCommerce's wc_price(), as this shop prints it: no <bdi>; a sale is <del> then <ins>.
    price = render("socialtradia/amount.html", amount=item.price)
    if item.regular_price is None:
        return price
    regular = render("socialtradia/amount.html", amount=item.regular_price)
    return f"<del>{regular}</del> <ins>{price}</ins>"
