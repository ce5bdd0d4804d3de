"""The replica's Fameswap: members only. A session cookie (``laravel_session``) carries the login; the
login form carries a CSRF token tied to the session (Laravel's ``_token``). Without a logged-in
session, /browse and the listings' pages redirect to /auth/login. Markup and where it comes from:
tests/fixtures/fameswap/README.md."""

from __future__ import annotations

import dataclasses
import html
import re
import secrets
import threading
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from http.cookies import SimpleCookie
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlencode

from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply, SiteApp
from brandcrawl.replica.templates import matches, render

SEED = Path(__file__).with_name("seed_fameswap.toml")
SITE = "fameswap.com"
COOKIE = "laravel_session"
PLATFORM_LABELS = {"instagram": "Instagram", "youtube": "Youtube", "tiktok": "Tiktok", "twitter": "Twitter"}
# The site's category filter ids (its browse page's checkboxes).
CATEGORY_IDS = {"Humor & Memes": 1, "Quotes & Sayings": 2, "Educational & QA": 12, "Tech & Science": 15}
_LISTING = re.compile(r"/listing/(?P<id>\d+)-(?P<platform>[a-z]+)-account-for-sale")
# Laravel's own refusal, as its auth scaffolding words it.
REFUSED = "These credentials do not match our records."


@dataclass
class FameswapListing:
    """One listing as Fameswap displays it to a member (texts as shown)."""

    listing_id: str  # digits, in /listing/<id>-<platform>-account-for-sale
    platform: str  # instagram | youtube | tiktok | twitter
    username: str  # the handle, unmasked for members
    audience: str  # as the results table rounds it: "12.4k"
    followers: str  # as the listing's page shows it: "12,400"
    price: str  # "1,500.00" (US dollars)
    category: str  # "Educational & QA"
    seller: str
    description: str
    listed: str = "2 days ago"
    trust: str = "95"
    country: str = "France"
    member_since: str = "2021"
    best_offer: str | None = None  # "$900"
    statistics: str = "Posts: 310 | Avg. Likes: 640 | Avg. Comments: 22 | Eng. Rate: 5.3%"


@dataclass
class _Session:
    token: str
    member: bool = False
    error: str = ""  # flashed to the next login page
    email: str = ""


def load_seed(path: str | Path | None = None) -> list[FameswapListing]:
    """Read ``[[listing]]`` tables (FameswapListing fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [FameswapListing(**table) for table in data["listing"]]


class FameswapApp(SiteApp):
    """Fameswap's login, searches and listing pages, for members only."""

    name = "fameswap"
    sites: ClassVar[tuple[str, ...]] = (SITE,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self._listings = {item.listing_id: item for item in load_seed()}
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()
        #: The one member account: what a crawl must log in with.
        self.email, self.password = "watch@example.org", "correct horse battery staple"
        #: The login form asks for a reCAPTCHA, as the real site's may.
        self.captcha = False
        #: Every login attempt: accepted or not (the credentials are not kept).
        self.logins: list[bool] = []

    def replace(self, listings: Iterable[FameswapListing]) -> None:
        with self._lock:
            self._listings = {item.listing_id: item for item in listings}

    def listings(self) -> list[FameswapListing]:
        with self._lock:
            return list(self._listings.values())

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        # Cloudflare's challenge: 403, marked by its header.
        body = render("fameswap/blocked.html", domain=SITE, path=request.path)
        return 403, {"cf-mitigated": "challenge", "Server": "cloudflare"}, body

    def respond(self, request: ReplicaRequest) -> Reply | None:
        sid, session, new = self._session(request)
        headers = {"Set-Cookie": f"{COOKIE}={sid}; path=/; httponly"} if new else {}
        if request.path == "/auth/login":
            reply = self._login(request, session) if request.method == "POST" else self._login_page(session)
        elif request.path == "/auth/logout":
            session.member = False
            reply = self._redirect("/")
        elif request.path == "/":
            reply = 200, {}, render("fameswap/home.html", header=self._header(session))
        elif not session.member:
            reply = self._redirect("/auth/login")  # members only
        elif request.path == "/browse":
            reply = 200, {}, self._browse_page(request, session)
        elif m := _LISTING.fullmatch(request.path):
            with self._lock:
                item = self._listings.get(m["id"])
            reply = (200, {}, self._listing_page(item, session)) if item else None
        else:
            reply = None
        if reply is None:
            return None
        status, reply_headers, body = reply
        return status, {**headers, **reply_headers}, body

    # -- sessions and the login --

    def _session(self, request: ReplicaRequest) -> tuple[str, _Session, bool]:
        """The request's session, or a new one (then the answer sets its cookie)."""
        cookie = SimpleCookie(request.headers.get("Cookie", ""))
        sid = cookie[COOKIE].value if COOKIE in cookie else ""
        with self._lock:
            if sid in self._sessions:
                return sid, self._sessions[sid], False
            sid = secrets.token_hex(16)
            self._sessions[sid] = _Session(token=secrets.token_hex(20))
            return sid, self._sessions[sid], True

    def _login_page(self, session: _Session) -> Reply:
        error, session.error = session.error, ""  # flashed once
        body = render(
            "fameswap/login.html",
            header=self._header(session),
            site_url=self.replica.site_url(SITE),
            token=session.token,
            error=error,
            email=session.email,
            captcha=self.captcha,
        )
        return 200, {}, body

    def _login(self, request: ReplicaRequest, session: _Session) -> Reply:
        form = {name: values[0] for name, values in request.form.items()}
        if form.get("_token") != session.token:
            return 419, {}, render("fameswap/expired.html")
        accepted = (form.get("email"), form.get("password")) == (self.email, self.password)
        with self._lock:
            self.logins.append(accepted)
        if accepted:
            session.member, session.token = True, secrets.token_hex(20)
            return self._redirect("/")
        session.error, session.email = REFUSED, form.get("email", "")
        return self._redirect("/auth/login")

    def _redirect(self, path: str) -> Reply:
        return 302, {"Location": self.replica.site_url(SITE) + path}, ""

    def _header(self, session: _Session) -> str:
        return render("fameswap/header.html", site_url=self.replica.site_url(SITE), member=session.member)

    # -- pages --

    def _browse_url(self, search: str, kind: str, page: int) -> str:
        query = {key: value for key, value in (("search", search), ("t", kind)) if value}
        return f"{self.replica.site_url(SITE)}/browse?" + urlencode({**query, "page": page})

    def _browse_page(self, request: ReplicaRequest, session: _Session) -> str:
        search, kind = request.arg("search"), request.arg("t")
        page_arg = request.arg("page", "1")
        page, size = max(int(page_arg), 1) if page_arg.isdigit() else 1, self.replica.page_size
        found = sorted(
            (
                item
                for item in self.listings()
                if (not search or matches(search, f"{item.username} {item.description}"))
                and (not kind or item.platform == kind)
            ),
            key=lambda item: int(item.listing_id),
            reverse=True,  # newest first
        )
        shown = [dataclasses.asdict(item) for item in found[(page - 1) * size : page * size]]
        if self.replica.layout_changed:  # the table became cards
            cards = "".join(render("fameswap/card.html", **item) for item in shown)
            results = f'<div class="listings">{cards}</div>'
        else:
            rows = "".join(render("fameswap/row.html", **item) for item in shown)
            results = render("fameswap/table.html", rows=rows)
        pages = -(-len(found) // size)
        numbers = "".join(
            f'<li class="active"><span>{n}</span></li>'
            if n == page
            else f'<li><a href="{html.escape(self._browse_url(search, kind, n))}">{n}</a></li>'
            for n in range(1, pages + 1)
        )
        pagination = ""
        if pages > 1:
            pagination = render(
                "fameswap/pagination.html",
                numbers=numbers,
                prev_url=self._browse_url(search, kind, page - 1) if page > 1 else "",
                next_url=self._browse_url(search, kind, page + 1) if page < pages else "",
            )
        return render(
            "fameswap/browse.html",
            header=self._header(session),
            results=results,
            pagination=pagination,
            search=search,
        )

    def _listing_page(self, item: FameswapListing, session: _Session) -> str:
        statistics = "\n".join(
            f"                            <li>{html.escape(stat.strip())}</li>"
            for stat in item.statistics.split("|")
        )
        fields = {**dataclasses.asdict(item), "best_offer": item.best_offer or "", "statistics": statistics}
        return render(
            "fameswap/listing.html",
            **fields,
            header=self._header(session),
            site_url=self.replica.site_url(SITE),
            platform_label=PLATFORM_LABELS.get(item.platform, item.platform.title()),
            category_id=CATEGORY_IDS.get(item.category, 0),
        )
