"""The replica's DropCatch API on ``api.dropcatch.com``: the token call (``POST /Authorize``), the
auction search (``GET /v2/auctions``, paged by an opaque cursor) and the dropping lists
(``GET /v2/downloads/dropping/<day>?fileType=Csv``, a zipped CSV), built from ``seed_dropcatch.toml``.

The JSON follows the shapes public clients of the API read (tests/fixtures/dropcatch/README.md). One
liberty: ``size`` is capped at ``max_size`` (the API caps it at 200) so that a few auctions make
several pages.
"""

from __future__ import annotations

import base64
import csv
import io
import json
import secrets
import threading
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

from brandcrawl.replica.feeds import ERROR_PAGE_TEMPLATE, FeedApp, zipped
from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply
from brandcrawl.replica.templates import fold, template

SEED = Path(__file__).with_name("seed_dropcatch.toml")
HOST = "api.dropcatch.com"
AUTHORIZE_PATH = "/Authorize"
AUCTIONS_PATH = "/v2/auctions"
DROPPING_PREFIX = "/v2/downloads/dropping/"
DAYS = {"DaysOut0": 0, "DaysOut1": 1, "DaysOut2": 2, "DaysOut3": 3, "DaysOut4": 4, "AllDays": None}
JSON = {"Content-Type": "application/json; charset=utf-8"}
# What the API answers a key it does not know.
REFUSED_KEY = "An error occured trying to process this request"
# ASP.NET's answer to a missing or expired bearer token: no body, the reason in the header.
INVALID_TOKEN: Reply = (401, {"WWW-Authenticate": 'Bearer error="invalid_token"'}, b"")


class DropCatchApp(FeedApp):
    """DropCatch's API: a key for a token, then auctions and dropping lists."""

    name = "dropcatch"
    sites: ClassVar[tuple[str, ...]] = (HOST,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        seed = tomllib.loads(SEED.read_text(encoding="utf-8"))
        self.auctions: list[dict[str, Any]] = seed["auctions"]
        self.dropping: list[dict[str, Any]] = seed["dropping"]
        #: Generated names added to the dropping lists; raise it to benchmark a real-size list.
        self.filler: int = seed["filler"]
        #: The largest page of auctions served, whatever ``size`` asks for.
        self.max_size: int = seed["max_size"]
        #: The API key the token call accepts.
        self.client_id = "replica-client-id"
        self.client_secret = "replica-client-secret"  # noqa: S105 - the replica's own demo key
        #: Requests a token answers before it is refused as expired; None: every request.
        self.token_uses: int | None = None
        #: The ``searchTerm`` of every auction search, as sent.
        self.search_terms: list[str] = []
        self._tokens: dict[str, int | None] = {}
        self._lock = threading.Lock()

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if request.path == AUTHORIZE_PATH and request.method == "POST":
            return self._authorize(request)
        if request.path == AUCTIONS_PATH and request.method == "GET":
            return self._authorized(request) or self._auctions(request)
        day = request.path.removeprefix(DROPPING_PREFIX)
        if request.path.startswith(DROPPING_PREFIX) and day in DAYS and request.method == "GET":
            return self._authorized(request) or self._dropping(day)
        return None

    def _authorize(self, request: ReplicaRequest) -> Reply:
        try:
            key = json.loads(request.body or b"{}")
        except ValueError:
            key = {}
        # Public clients send camelCase, PascalCase or both: the API reads either.
        client_id = key.get("clientId") or key.get("ClientId")
        client_secret = key.get("clientSecret") or key.get("ClientSecret")
        if (client_id, client_secret) != (self.client_id, self.client_secret):
            return 400, JSON, json.dumps(REFUSED_KEY)
        token = f"eyJhbGciOiJSUzI1NiJ9.{secrets.token_urlsafe(32)}"
        with self._lock:
            self._tokens[token] = self.token_uses
        return 200, JSON, json.dumps({"token": token})

    def _authorized(self, request: ReplicaRequest) -> Reply | None:
        """None when the bearer token is good (and counts its use), else the API's 401."""
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        with self._lock:
            if token not in self._tokens:
                return INVALID_TOKEN
            uses = self._tokens[token]
            if uses is not None and uses <= 0:
                return INVALID_TOKEN
            if uses is not None:
                self._tokens[token] = uses - 1
        return None

    def _auctions(self, request: ReplicaRequest) -> Reply:
        term = request.arg("searchTerm")
        self.search_terms.append(term)
        now = datetime.now(UTC)
        found = [row for row in self.auctions if fold(term) in fold(row["name"])]
        found.sort(key=lambda row: row["hours_left"])  # EndTimeAsc, the spider's sort
        size = min(int(request.arg("size", "50")), self.max_size)
        start = int(base64.b64decode(request.arg("next")).decode()) if request.arg("next") else 0
        end = start + size
        items = [_auction(row, now) for row in found[start:end]]
        cursor = {
            "previous": base64.b64encode(str(max(0, start - size)).encode()).decode() if start else None,
            "next": base64.b64encode(str(end).encode()).decode() if end < len(found) else None,
        }
        body: dict[str, Any] = {"items": items, "totalRecords": len(found), "cursor": cursor}
        if self.replica.layout_changed:
            body = {"results": items, "total": len(found), "paging": cursor}
        return 200, JSON, json.dumps(body)

    def _dropping(self, day: str) -> Reply:
        if self.replica.layout_changed:
            return 200, {}, template(ERROR_PAGE_TEMPLATE)
        data = zipped(f"Dropping_{day}.csv", self.dropping_csv(DAYS[day]))
        if self.truncated:
            data = data[: len(data) // 2]
        return 200, {"Content-Type": "application/zip"}, data

    def dropping_csv(self, days_out: int | None) -> bytes:
        """The names dropping ``days_out`` days from today (None: the five days), as a CSV."""
        today = datetime.now(UTC).date()
        rows = [
            (row["name"], today + timedelta(days=row["days_out"]))
            for row in self.dropping
            if days_out is None or row["days_out"] == days_out
        ]
        # Seven digits, no letter: no brand can be read into them, leetspeak included.
        rows += [(f"{n:07d}.com", today + timedelta(days=days_out or 0)) for n in range(self.filler)]
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["DomainName", "DropDate"])
        writer.writerows((name, drop.isoformat()) for name, drop in sorted(rows))
        return out.getvalue().encode("utf-8")


def _auction(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A seed auction in the API's item shape."""
    end = (now + timedelta(hours=row["hours_left"])).replace(microsecond=0)
    fields = {key: value for key, value in row.items() if key != "hours_left"}
    return {**fields, "endTime": end.isoformat().replace("+00:00", "Z"), "winning": False, "maxBid": 0.0}
