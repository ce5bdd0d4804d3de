"""Sedo's public partner feeds: the auction list and the locale top lists, on sedo.com under ``/txt/``.

- ``auctions_us.txt``: every running auction, ``domain;start_unix;end_unix;price;currency;bids;``, in
  ISO-8859-1. The currency is ``$US``, ``EUR`` or ``&#163;`` (pounds, an HTML entity whose ``;`` pushes
  the bids one field on).
- ``topdomains_{us,d,e,fr,es}.txt``: premium names on sale, ``domain~200.000 EUR~`` (a dot for
  thousands) or ``domain~Make offer~``.

A name on several lists is reported once, from the first list in ``feeds`` order. Where the
addresses and formats come from: tests/fixtures/sedo/README.md.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import ClassVar
from urllib.parse import quote

from scrapy.http import Response

from brandcrawl.assets import ascii_host
from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site
from spiders._feeds import Feed, FeedSpider, feed_head, file_in, text_lines
from spiders._shops import CLOUDFLARE_TITLES

AUCTIONS = Feed("auctions_us", "/txt/auctions_us.txt", "auction")
# The other locales' auction files repeat auctions_us.txt; each locale has its own top list.
TOP_LISTS = tuple(
    Feed(f"topdomains_{locale}", f"/txt/topdomains_{locale}.txt", "fixed")
    for locale in ("us", "d", "e", "fr", "es")
)
#: Currencies the feeds write otherwise than as ISO codes ("&#163;" is read as "£" first).
CURRENCIES = {"$US": "USD", "£": "GBP"}


class SedoSpider(FeedSpider):
    name = "sedo"
    allowed_domains: ClassVar[list[str]] = ["sedo.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"sedo.com": Site("sedo.com", "USD")}
    block_titles = CLOUDFLARE_TITLES
    feeds = (AUCTIONS, *TOP_LISTS)
    # A name on several lists is reported from the first, the auction (bids, end) before an asking price.
    one_file_at_a_time = True
    # The auction list holds ~17,000 lines (under 1 MB), the top lists a few hundred.
    feed_maxsize = 16 * 1024 * 1024

    def rows(self, response: Response, feed: Feed) -> Iterator[str]:
        # Sedo writes ISO-8859-1; a copy saved again as UTF-8 says so with a byte-order mark.
        encoding = "utf-8-sig" if feed_head(response).startswith(codecs.BOM_UTF8) else "iso-8859-1"
        return (row for line in text_lines(file_in(response), encoding) if (row := line.strip()))

    def row_domain(self, row: str, feed: Feed) -> str:
        domain, separator, _rest = row.partition(";" if feed is AUCTIONS else "~")
        if not separator or "." not in domain or " " in domain:
            raise PageFormatError(f"not a {feed.name} line")
        return domain

    def row_listing(self, row: str, site: Site, feed: Feed, seen_at: datetime) -> Listing:
        written = self.row_domain(row, feed)
        domain = ascii_host(written)
        if feed is AUCTIONS:
            listing = self._auction(row, domain, site, feed, seen_at)
        else:
            listing = self._top_listing(row, domain, site, feed, seen_at)
        listing.asset_text = written
        return listing

    def _auction(self, row: str, domain: str, site: Site, feed: Feed, seen_at: datetime) -> Listing:
        _domain, start, end, price, currency, bids, *_rest = row.replace("&#163;", "£").split(";")
        return self.feed_listing(
            domain,
            site,
            feed,
            seen_at,
            price=_parse_amount(price),
            currency=_parse_currency(currency),
            bid_count=int(bids) if bids else None,
            end_time=_parse_time(end),
            details={"auction_start": _parse_time(start).isoformat()},
        )

    def _top_listing(self, row: str, domain: str, site: Site, feed: Feed, seen_at: datetime) -> Listing:
        _domain, price_text, *_rest = row.split("~")
        listing = self.feed_listing(
            domain, site, feed, seen_at, details={"top_list": feed.name.removeprefix("topdomains_")}
        )
        if price_text and not any(character.isdigit() for character in price_text):
            listing.sale_method = "offer"  # "Make offer": no asking price
            return listing
        amount, currency = price_text.split()
        listing.price, listing.currency = _parse_grouped(amount), _parse_currency(currency)
        return listing

    def listing_url(self, site: Site, domain: str) -> str:
        return f"{self.site_root(site)}/search/details/?domain={quote(domain)}"


def _parse_amount(text: str) -> Decimal:
    try:
        amount = Decimal(text)
    except InvalidOperation as error:
        raise PageFormatError(f"not an amount: {text!r}") from error
    if not amount.is_finite() or amount < 0:
        raise PageFormatError(f"not an amount: {text!r}")
    return amount


def _parse_grouped(text: str) -> Decimal:
    """ "200.000", "1.250,50": dots group thousands, a comma starts the cents. "19.99" or "200,000"
    (written the American way) are refused rather than read a thousand times off."""
    whole, comma, cents = text.partition(",")
    groups = whole.split(".")
    if any(len(group) != 3 for group in groups[1:]) or (comma and not 1 <= len(cents) <= 2):
        raise PageFormatError(f"not an amount with thousands dots: {text!r}")
    return _parse_amount(f"{''.join(groups)}.{cents}" if comma else "".join(groups))


def _parse_currency(text: str) -> str:
    code = CURRENCIES.get(text, text)
    if not (len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()):
        raise PageFormatError(f"not a currency: {text!r}")
    return code


def _parse_time(unix: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(unix), UTC)
    except (OverflowError, OSError) as error:
        raise PageFormatError(f"not a time: {unix!r}") from error
