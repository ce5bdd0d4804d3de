"""The replica's Mid-Man: a WordPress marketplace of accounts, WooCommerce underneath (see
tests/fixtures/midman/README.md for where the markup comes from): product search, one section per
platform (``/instagram/``...), listing pages naming the seller, WordPress's "nav-links" pagination; a
layout change is a theme update renaming the card's classes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

from brandcrawl.replica.templates import render
from brandcrawl.replica.wordpress import ShopListing, WordPressShopApp

SECTIONS = {
    "instagram": "Instagram",
    "twitter": "Twitter",
    "tiktok": "Tiktok",
    "youtube": "Youtube",
    "facebook": "Facebook",
}


class MidManApp(WordPressShopApp):
    name = "midman"
    sites: ClassVar[tuple[str, ...]] = ("mid-man.com",)
    seed: ClassVar[Path] = Path(__file__).with_name("seed_midman.toml")
    category_path: ClassVar[str] = "/{category}/"

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
        card = "midman/layout_changed_card.html" if self.replica.layout_changed else "midman/card.html"
        if shown:
            cards = "".join(render(card, **self._fields(item)) for item in shown)
        else:
            cards = render("midman/no_products.html")
        heading = f"Search results for: {term}" if term is not None else SECTIONS.get(category or "", "Shop")
        return render(
            "midman/page.html",
            title=f"You searched for {term}" if term is not None else f"{heading} Archives",
            body_class=(
                "search search-results post-type-archive post-type-archive-product"
                if term is not None
                else f"archive tax-product_cat term-{category}"
            ),
            heading=heading,
            site_url=self.root(site),
            cards=cards,
            pagination=self._pagination(page, pages, url),
        )

    def product_page(self, item: ShopListing) -> str:
        return render(
            "midman/product.html",
            **self._fields(item),
            site_url=self.root(item.site),
            post_id=item.post_id,
            stock="instock" if item.in_stock else "outofstock",
            cat_classes=" ".join(f"product_cat-{slug}" for slug in item.categories),
            sale=item.regular_price is not None,
            followers_label=(item.followers or "").replace("followers", "Followers"),
            description=item.description,
            in_stock=item.in_stock,
            stock_class="in-stock" if item.in_stock else "out-of-stock",
            stock_text="1 in stock" if item.in_stock else "Out of stock",
            seller=item.seller,
        )

    def _fields(self, item: ShopListing) -> dict[str, object]:
        return {
            "slug": item.slug,
            "url": self.product_url(item),
            "title": item.title,
            "topic": item.topic or "",
            "followers": item.followers or "",
            "price_html": _price_html(item),
        }

    @staticmethod
    def _pagination(page: int, pages: int, url: Callable[[int], str]) -> str:
        if pages <= 1:
            return ""
        links = [render("midman/page_item.html", prev=True, url=url(page - 1))] * (page > 1)
        links += [
            render("midman/page_item.html", current=n == page, link=n != page, n=n, url=url(n))
            for n in range(1, pages + 1)
        ]
        links += [render("midman/page_item.html", next=True, url=url(page + 1))] * (page < pages)
        return render("midman/pagination.html", links="\n".join(links))


def _price_html(item: ShopListing) -> str:
    # WooCommerce's wc_price() with its <bdi>; a sale is <del> then <ins>, each with its screen-reader text.
    price = render("midman/amount.html", amount=item.price)
    if item.regular_price is None:
        return price
    regular = render("midman/amount.html", amount=item.regular_price)
    return (
        f'<del aria-hidden="true">{regular}</del> <span class="screen-reader-text">Original price was: '
        f'${item.regular_price}.</span><ins aria-hidden="true">{price}</ins><span class="screen-reader-text">'
        f"Current price is: ${item.price}.</span>"
    )
