"""Fameswap (fameswap.com): members only, behind Cloudflare. Logged out, the site masks usernames
("******ttyvidz") and locks prices; a run logs in with the credentials the watch file names
(``[marketplaces.fameswap] credentials_env = { username = "FAMESWAP_USER", password =
"FAMESWAP_PASSWORD" }``), else it is recorded as "needs login" and sends nothing.

The login page's form carries a CSRF token (``_token``, Laravel) tied to the session cookie: the run
reads the form first, then posts it. Searches (``/browse?search=<q>``, newest first) list results in
a table whose first cell links to the listing's own page, which says what the table does not: the
seller, the price, the exact audience. Markup: tests/fixtures/fameswap/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any, ClassVar
from urllib.parse import quote_plus, urlsplit

import scrapy
from scrapy.http import Response, TextResponse

from brandcrawl.assets import canonical_platform
from brandcrawl.items import Listing
from spiders._base import PageFormatError, Site, clean_text, texts
from spiders._shops import CLOUDFLARE_SETTINGS, ShopSpider

LISTING = re.compile(r"\blisting/(?P<id>\d+)-(?P<platform>[a-z]+)-account-for-sale")
LOGIN_FORM = "//form[.//input[@type='password']]"
# A login that cannot be automated: the site then needs a person, and the run says so.
CAPTCHA = ".g-recaptcha, .h-captcha, .cf-turnstile, [data-sitekey]"
ROWS = "div.panel-body > table.table > tbody > tr"
# A listing's page is laid out by position: the public scrapers of the site read it by these same
# paths (tests/fixtures/fameswap/README.md).
PANEL = "//body/div[1]/div/div[2]/div[1]/div[1]/div"  # the listing's own panel
CELLS = f"{PANEL}/div[3]/table/tbody/tr/td"  # audience, price, listed, category
DESCRIPTION = f"{PANEL}/div[4]/p//text()"
HEADING = "//body/div[1]/div/div[1]/h1/span//text()"  # "Instagram account for sale"
SELLER = "//div[@class='panel-body']/strong/a//text()"
TRUST = "//div[@class='panel-body']//small/strong//text()"  # "(95)"
COUNTRY = "(//p[@class='text-muted']/small)[2]//text()"
BEST_OFFER = "//div[@class='panel-body']/p[contains(., 'best offer so far')]//text()"


class FameswapSpider(ShopSpider):
    name = "fameswap"
    default_base_url = "https://{site}"
    allowed_domains: ClassVar[list[str]] = ["fameswap.com"]
    site_profiles: ClassVar[dict[str, Site]] = {"fameswap.com": Site("fameswap.com", "USD")}
    credential_roles = ("username", "password")
    # The login lives in a session cookie (the project turns cookies off).
    custom_settings: ClassVar[dict[str, Any]] = {**CLOUDFLARE_SETTINGS, "COOKIES_ENABLED": True}

    def search_url(self, site: Site, query: str) -> str:
        return f"{self.site_root(site)}/browse?search={quote_plus(query)}"

    def category_url(self, site: Site, category: str) -> str:
        return f"{self.site_root(site)}/browse?t={quote_plus(category)}"  # "instagram", "youtube", "tiktok"

    # -- the login --

    def login_request(self, credentials: dict[str, str]) -> scrapy.Request:
        site = self.sites[0]
        # The run starts here: counted as a search, so that a run stopped at the login page (by a
        # challenge, a lost connection) is recorded like one stopped at its first results page.
        self.crawler.stats.inc_value("brandcrawl/searches")
        return scrapy.Request(
            f"{self.site_root(site)}/auth/login",
            callback=self.submit_login,
            errback=self.search_failed,
            meta={"site": site.domain},
            dont_filter=True,
        )

    def submit_login(self, response: Response) -> Iterator[scrapy.FormRequest]:
        """Posts the login form with its hidden CSRF token (the session cookie came with the page)."""
        if not self.readable(response):
            return
        form = response.xpath(LOGIN_FORM)[:1] if isinstance(response, TextResponse) else None
        user = form.css("input[type=email][name], input[type=text][name]")[:1] if form else None
        password = form.css("input[type=password][name]")[:1] if form else None
        if not form or not user or not password:
            self.crawler.stats.inc_value("brandcrawl/parse_errors")
            self.logger.error("no login form on %s: has the page layout changed?", response.url)
            return
        if form.css(CAPTCHA):
            reason = "the login form asks for a captcha, which a crawler cannot answer"
            self.crawler.stats.set_value("brandcrawl/needs_login", reason)
            self.logger.error("%s: %s", self.marketplace_name, reason)
            return
        assert self.credentials is not None
        formdata = {i.attrib["name"]: i.attrib.get("value", "") for i in form.css("input[type=hidden][name]")}
        formdata[user.attrib["name"]] = self.credentials["username"]
        formdata[password.attrib["name"]] = self.credentials["password"]
        yield scrapy.FormRequest(
            response.urljoin(form.attrib.get("action") or response.url),
            formdata=formdata,
            callback=self.after_login,
            errback=self.search_failed,
            meta={"site": response.meta.get("site")},
            dont_filter=True,
        )

    def after_login(self, response: Response) -> Iterator[scrapy.Request]:
        yield from super().after_login(response)
        refused = self.crawler.stats.get_value("brandcrawl/needs_login")
        if refused and isinstance(response, TextResponse) and (said := self._refusal(response)):
            # The site's own words tell a wrong password from a locked or unconfirmed account.
            self.crawler.stats.set_value("brandcrawl/needs_login", f"{refused} ({self.name} says: {said})")

    def logged_in(self, response: Response) -> bool:
        return isinstance(response, TextResponse) and bool(response.css("a[href$='/auth/logout']"))

    def _refusal(self, response: TextResponse) -> str:
        """What the login page says went wrong, with the credentials blanked out (the form is
        shown again filled with the username)."""
        said = texts(response, ".alert-danger li ::text, .help-block ::text")
        for secret in (self.credentials or {}).values():
            said = said.replace(secret, "***")
        return said

    # -- results pages --

    def listings(self, response: TextResponse, site: Site, seen_at: datetime) -> Iterator[scrapy.Request]:
        if response.xpath(LOGIN_FORM):
            raise PageFormatError("the login page instead of results: the session was lost")
        for row in response.css(ROWS):
            link = row.css("td:first-child > a")
            found = LISTING.search(link.attrib.get("href", ""))
            if found is None:
                raise PageFormatError(f"a result row without a listing link: {row.get()[:200]!r}")
            handle = texts(link, "::text")  # after the row's <img>; masked ("****ropz") when logged out
            url = response.urljoin(link.attrib["href"])
            meta = {"handle": handle, "platform": found["platform"]}
            if request := self.detail_request(url, found["id"], response, **meta):
                yield request

    def result_count(self, response: TextResponse) -> int | None:
        # No count is shown; the results table shown empty is a search that found nothing.
        table = response.css("div.panel-body > table.table")
        return 0 if table and not table.css("tbody > tr") else None

    def next_page(self, response: TextResponse) -> str | None:
        return response.css("ul.pagination a[rel=next]::attr(href)").get()

    # -- a listing's own page --

    def detail_listing(self, response: TextResponse, site: Site, seen_at: datetime) -> Listing:
        if response.xpath(LOGIN_FORM):
            raise PageFormatError("the login page instead of a listing: the session was lost")
        cells = [clean_text(td.xpath(".//text()").getall()) for td in response.xpath(CELLS)]
        if len(cells) < 4:
            raise PageFormatError(f"the listing's table has {len(cells)} cells, not 4")
        followers, price, listed, category = cells[:4]
        found = LISTING.search(urlsplit(response.url).path)
        listing_id = response.meta.get("listing_id") or (found["id"] if found else None)
        if listing_id is None:
            raise PageFormatError(f"not a listing's address: {response.url}")
        platform = response.meta.get("platform") or (found["platform"] if found else None)
        handle = response.meta.get("handle") or ""
        # A masked username ("******ttyvidz") is what the logged-out site shows: no handle to report.
        known = platform and handle and "*" not in handle
        asset = f"{canonical_platform(platform)}:{handle.lower()}" if known else None
        return Listing(
            marketplace=self.marketplace_name,
            site=site.domain,
            listing_id=listing_id,
            url=response.url,
            title=handle or clean_text(response.xpath(HEADING).getall()),
            seen_at=seen_at,
            default_currency=site.currency,
            asset_kind="handle" if asset else "other",
            asset=asset,
            asset_text=handle if asset else None,
            description=clean_text(response.xpath(DESCRIPTION).getall()) or None,
            category=category or None,
            sale_method="fixed",
            followers_text=followers or None,
            price_text=price or None,
            seller=clean_text(response.xpath(SELLER).getall()) or None,
            details=self._parse_details(response, listed),
        )

    @staticmethod
    def _parse_details(response: TextResponse, listed: str) -> dict[str, str]:
        """When it was listed, the seller's trust score and country, the best offer, the statistics
        ("Avg. Views: 1,234")."""
        details = {
            "listed": listed,
            "trust_score": clean_text(response.xpath(TRUST).getall()).strip("()"),
            "seller_country": clean_text(response.xpath(COUNTRY).getall()),
            "best_offer": clean_text(response.xpath(BEST_OFFER).getall()).partition(" ")[0],
        }
        stats = response.css("ul.list-unstyled li")
        pairs = (clean_text(li.xpath(".//text()").getall()).partition(":") for li in stats)
        details |= {label.strip(): value.strip() for label, _, value in pairs if value.strip()}
        return {key: value for key, value in details.items() if value}
