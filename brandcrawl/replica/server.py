"""A local marketplace server: each real site's pages, in its real markup, over HTTP on 127.0.0.1.

Every site is mounted under its own domain: ``http://127.0.0.1:PORT/ebay.fr/sch/i.html?...``, so a
spider pointed at ``http://127.0.0.1:PORT/{site}`` sends the very paths it sends the real site.
Each marketplace is a :class:`SiteApp` in its own module; the server routes to it, logs requests,
and plays the failures real sites show: a bot-challenge page, a layout change, 429/403/500 answers.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qs, urlsplit

if TYPE_CHECKING:
    from brandcrawl.replica.ebay import EbayApp, SeedListing

# (status, extra headers, body); Content-Type defaults to HTML.
Reply = tuple[int, dict[str, str], str | bytes]
NOT_FOUND: Reply = (
    404,
    {},
    "<!DOCTYPE html><html><head><title>404 Not Found</title></head><body></body></html>",
)


@dataclass(frozen=True)
class ReplicaRequest:
    """One request, as a site app sees it: ``site`` is the domain it is mounted under."""

    method: str
    site: str
    path: str  # after the site, from "/"
    query: Mapping[str, list[str]]
    headers: Mapping[str, str]
    body: bytes = b""
    raw_query: str = ""
    form: Mapping[str, list[str]] = field(default_factory=dict)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[0] if values else default


class SiteApp:
    """One marketplace of the replica. Subclasses set ``name`` and ``sites`` and answer ``respond``."""

    #: Read by ReplicaMarketplace: its attribute name for this app (``replica.apps["flippa"]``).
    name: ClassVar[str]
    #: Read by ReplicaMarketplace: the domains this app answers under.
    sites: ClassVar[tuple[str, ...]]

    def __init__(self, replica: ReplicaMarketplace) -> None:
        self.replica = replica

    def respond(self, request: ReplicaRequest) -> Reply | None:
        """The answer to a request, or None for a 404."""
        raise NotImplementedError

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        """What the site shows a crawler it has decided to stop (its bot challenge)."""
        raise NotImplementedError


def default_apps() -> list[type[SiteApp]]:
    """Every marketplace of the replica."""
    from brandcrawl.replica.accsmarket import AccsMarketApp
    from brandcrawl.replica.atom import AtomApp
    from brandcrawl.replica.dropcatch import DropCatchApp
    from brandcrawl.replica.dynadot import DynadotApp
    from brandcrawl.replica.ebay import EbayApp
    from brandcrawl.replica.ebay_api import EbayApiApp
    from brandcrawl.replica.fameswap import FameswapApp
    from brandcrawl.replica.flippa import FlippaApp
    from brandcrawl.replica.godaddy import GoDaddyApp
    from brandcrawl.replica.midman import MidManApp
    from brandcrawl.replica.namecheap import NamecheapApp
    from brandcrawl.replica.namejet import NameJetApp
    from brandcrawl.replica.parkio import ParkioApp
    from brandcrawl.replica.sedo import SedoApp
    from brandcrawl.replica.socialtradia import SocialTradiaApp
    from brandcrawl.replica.swapd import SwapdApp

    # EbayApiApp serves EbayApp's listings: it comes after it.
    return [
        EbayApp,
        EbayApiApp,
        FlippaApp,
        SwapdApp,
        SocialTradiaApp,
        MidManApp,
        AccsMarketApp,
        FameswapApp,
        AtomApp,
        SedoApp,
        NameJetApp,
        ParkioApp,
        DropCatchApp,
        GoDaddyApp,
        NamecheapApp,
        DynadotApp,
    ]


class ReplicaMarketplace:
    """The replica server: start() it (or use it as a context manager), then point spiders at
    ``f"{replica.base_url}/{{site}}"``.

    ``listings`` replaces the bundled eBay seed; ``apps`` limits the marketplaces served.
    """

    def __init__(
        self,
        listings: Iterable[SeedListing] | None = None,
        *,
        apps: Iterable[type[SiteApp]] | None = None,
        page_size: int = 4,
        robots_txt: str = "User-agent: *\nAllow: /\n",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.page_size, self.robots_txt, self._address = page_size, robots_txt, (host, port)
        self.requests: list[str] = []
        #: Every site answers with its bot-challenge page.
        self.blocked = False
        #: Sites that can show a changed layout do.
        self.layout_changed = False
        #: Answer this status (with Retry-After: 0) to the next ``throttle_times`` requests.
        self.throttle_status: int | None = None
        self.throttle_times = 0
        self.apps: dict[str, SiteApp] = {}
        for app_class in apps or default_apps():
            app = app_class(self)
            self.apps[app.name] = app
        if listings is not None:
            self.ebay.replace(listings)
        self._routes = {site: app for app in self.apps.values() for site in app.sites}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def ebay(self) -> EbayApp:
        return self.apps["ebay"]  # type: ignore[return-value]

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
            assert self._thread is not None
            self._thread.join()
            self._server = self._thread = None

    def __enter__(self) -> ReplicaMarketplace:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- request handling (called from the server threads) --

    def respond(self, method: str, raw_path: str, headers: Mapping[str, str], body: bytes = b"") -> Reply:
        with self._lock:
            self.requests.append(raw_path if method == "GET" else f"{method} {raw_path}")
        url = urlsplit(raw_path)
        if url.path == "/robots.txt" or url.path.endswith("/robots.txt"):
            return 200, {"Content-Type": "text/plain; charset=utf-8"}, self.robots_txt
        site, _, rest = url.path.lstrip("/").partition("/")
        app = self._routes.get(site)
        if app is None:
            return NOT_FOUND
        with self._lock:
            throttled = self.throttle_status is not None and self.throttle_times > 0
            self.throttle_times -= throttled
        if throttled:
            assert self.throttle_status is not None
            return self.throttle_status, {"Retry-After": "0"}, f"{self.throttle_status}\n"
        is_form = headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
        request = ReplicaRequest(
            method=method,
            site=site,
            path=f"/{rest}",
            query=parse_qs(url.query),
            headers=headers,
            body=body,
            raw_query=url.query,
            form=parse_qs(body.decode("utf-8", "replace")) if is_form else {},
        )
        if self.blocked:
            return app.blocked_page(request)
        return app.respond(request) or NOT_FOUND


class _Handler(BaseHTTPRequestHandler):
    replica: ReplicaMarketplace

    def do_GET(self) -> None:
        self._answer(self.replica.respond("GET", self.path, self.headers))

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.replica.respond("POST", self.path, self.headers, self.rfile.read(length)))

    def _answer(self, reply: Reply) -> None:
        status, headers, body = reply
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", headers.pop("Content-Type", "text/html; charset=utf-8"))
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        """Silent: the tests and the demo read ``replica.requests`` instead."""
