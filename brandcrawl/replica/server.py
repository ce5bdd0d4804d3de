"""A local eBay look-alike: serves search pages in eBay's real markup over HTTP on 127.0.0.1.

The page templates in ``pages/`` are cut from real captured eBay pages (see tests/fixtures/ebay/README.md):
``scard_*`` from the current ``li.s-card`` markup, ``sitem_*`` from the older ``li.s-item`` markup.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import re
import threading
import tomllib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

PAGES = Path(__file__).with_name("pages")
SEED = Path(__file__).with_name("seed.toml")


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

_SECTION = re.compile(r"\{\{([#^])(\w+)\}\}(.*?)\{\{/\2\}\}", re.S)
_VALUE = re.compile(r"\{\{(\{?)(\w+)\}?\}\}")
_SEARCH = re.compile(r"/(?P<site>[\w.]+)/sch/i\.html")
_ITEM = re.compile(r"/(?P<site>[\w.]+)/itm/(?:[^/]+/)?(?P<id>\d+)")


@functools.cache
def _template(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def render(name: str, **ctx: object) -> str:
    """Fill a template: {{x}} escaped, {{{x}}} raw HTML, {{#x}}..{{/x}} if x, {{^x}}..{{/x}} if not."""
    text, previous = _template(name), None
    while text != previous:  # nested sections resolve from the outside in
        previous, text = (
            text,
            _SECTION.sub(lambda m: m[3] if bool(ctx.get(m[2])) == (m[1] == "#") else "", text),
        )
    return _VALUE.sub(lambda m: str(ctx[m[2]]) if m[1] else html.escape(str(ctx[m[2]])), text)


def fold(text: str) -> str:
    """Case- and accent-fold; @ - _ . become spaces so handles and domains split into words."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[@\-_.]", " ", "".join(c for c in text if not unicodedata.combining(c)))


def matches(query: str, title: str) -> bool:
    words, folded = fold(query).split(), fold(title)
    return bool(words) and all(word in folded for word in words)


def load_seed(path: str | Path | None = None) -> list[SeedListing]:
    """Read ``[[listing]]`` tables (SeedListing fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [SeedListing(**table) for table in data["listing"]]


class ReplicaMarketplace:
    """eBay search pages for ebay.com/.de/.fr (current markup) and ebay.co.uk (older markup)."""

    def __init__(
        self,
        listings: Iterable[SeedListing] | None = None,
        *,
        page_size: int = 4,
        robots_txt: str = "User-agent: *\nAllow: /\n",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._listings = {item.listing_id: item for item in (load_seed() if listings is None else listings)}
        self.page_size, self.robots_txt, self._address = page_size, robots_txt, (host, port)
        self.requests: list[str] = []
        self.blocked = False
        self.layout_changed = False
        self.throttle_status: int | None = None
        self.throttle_times = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the replica first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def site_url(self, site: str) -> str:
        return f"{self.base_url}/{site}"

    def start(self) -> ReplicaMarketplace:
        handler = type("Handler", (_Handler,), {"replica": self})
        self._server = ThreadingHTTPServer(self._address, handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="replica", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> ReplicaMarketplace:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

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

    # -- request handling (called from the server threads) --

    def _respond(self, raw_path: str) -> tuple[int, dict[str, str], str]:
        with self._lock:
            self.requests.append(raw_path)
        url = urlsplit(raw_path)
        if url.path == "/robots.txt":
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, self.robots_txt
        if (m := _SEARCH.fullmatch(url.path)) and m["site"] in LOCALES:
            with self._lock:
                throttled = self.throttle_status is not None and self.throttle_times > 0
                self.throttle_times -= throttled
                listings = list(self._listings.values())
            if throttled:
                return self.throttle_status, {"Retry-After": "0"}, f"{self.throttle_status}\n"
            if self.blocked:
                return 200, {}, _template("blocked.html")
            query = parse_qs(url.query).get("_nkw", [""])[0]
            page = parse_qs(url.query).get("_pgn", ["1"])[0]
            page_number = max(int(page), 1) if page.isdigit() else 1
            return 200, {}, self._search_page(m["site"], query, page_number, listings)
        if (m := _ITEM.fullmatch(url.path)) and m["site"] in LOCALES:
            with self._lock:
                item = self._listings.get(m["id"])
            if item is not None and item.site == m["site"]:
                return (
                    200,
                    {},
                    render("item.html", lang=LOCALES[item.site].lang, title=item.title, price=item.price),
                )
        return 404, {}, "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body></body></html>"

    def _search_url(self, site: str, query: str, page: int) -> str:
        return f"{self.site_url(site)}/sch/i.html?" + urlencode({"_nkw": query, "_sop": 10, "_pgn": page})

    def _search_page(self, site: str, query: str, page: int, listings: list[SeedListing]) -> str:
        loc, site_url = LOCALES[site], self.site_url(site)
        hits = sorted(
            (item for item in listings if item.site == site and matches(query, item.title)),
            key=lambda item: int(item.listing_id),
            reverse=True,  # newest first, like _sop=10
        )
        shown = hits[(page - 1) * self.page_size : page * self.page_size]
        kind = "layout_changed" if self.layout_changed and loc.markup == "scard" else loc.markup
        labels = {f.name: getattr(loc, f.name) for f in dataclasses.fields(loc)}
        cards = "".join(
            render(
                f"{kind}_card.html",
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
        pages = -(-len(hits) // self.page_size)
        pagination = ""
        if hits:
            items = "".join(
                render(
                    f"{loc.markup}_page_item.html",
                    n=n,
                    i=n - 1,
                    current=n == page,
                    url=self._search_url(site, query, n),
                )
                for n in range(1, pages + 1)
            )
            pagination = render(
                f"{loc.markup}_pagination.html", page=page, page_items=items, query=query, site_url=site_url,
                next_url=self._search_url(site, query, page + 1) if page < pages else "",
                prev_url=self._search_url(site, query, max(page - 1, 1)),
            )  # fmt: skip
        return render(
            f"{kind}_page.html", **labels, query=query, count=len(hits), cards=cards, pagination=pagination,
            no_results=not hits, site_url=site_url, search_url=self._search_url(site, query, page),
        )  # fmt: skip

    def _item_url(self, site: str, item: SeedListing) -> str:
        if LOCALES[site].markup == "sitem":  # the older markup links /itm/<title-slug>/<id>
            slug = re.sub(r"[^A-Za-z0-9]+", "-", unicodedata.normalize("NFKD", item.title)).strip("-")
            return f"{self.site_url(site)}/itm/{slug}/{item.listing_id}"
        return f"{self.site_url(site)}/itm/{item.listing_id}"


class _Handler(BaseHTTPRequestHandler):
    replica: ReplicaMarketplace

    def do_GET(self) -> None:
        status, headers, body = self.replica._respond(self.path)
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "text/html; charset=utf-8"))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the tests and the demo read ``replica.requests`` instead."""
