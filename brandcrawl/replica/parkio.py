"""The replica's Park.io: ``/auctions.json`` and ``/domains/index/<tld>.json``, paged as Park.io pages
them (``?limit=``, then ``/auctions/index/page:N.json`` and ``/domains/index/<tld>/page:N.json``), built
from ``seed_parkio.toml`` plus ``filler`` generated names per list. Where the shape comes from:
tests/fixtures/parkio/README.md."""

from __future__ import annotations

import json
import math
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from brandcrawl.replica.feeds import ERROR_PAGE_TEMPLATE, FeedApp
from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply
from brandcrawl.replica.templates import template

SEED = Path(__file__).with_name("seed_parkio.toml")
# A list's first page is at its own address, the next ones where CakePHP's paginator puts them.
_PAGE = re.compile(
    r"/auctions(?:/index/page:(?P<auction_page>\d+))?\.json"
    r"|/domains/index/(?P<tld>[a-z0-9]+)(?:/page:(?P<drop_page>\d+))?\.json"
)
JSON = {"Content-Type": "application/json; charset=UTF-8"}
NEW_YORK = ZoneInfo("America/New_York")


def close_stamp(moment: datetime) -> str:
    """Park.io's close_date for ``moment``: "2026-07-10EDT12:41:01000" is 7 October, New York time."""
    local = moment.astimezone(NEW_YORK)
    zone = local.tzname() or "EST"
    return (
        f"{local.year}-{local.day:02d}-{local.month:02d}{zone}{local:%H:%M:%S}{local.microsecond // 1000:03d}"
    )


def _dated(row: dict[str, Any], now: datetime) -> dict[str, Any]:
    """A seed row with its times from now written as Park.io writes them."""
    row = dict(row)
    if (hours := row.pop("closes_in_hours", None)) is not None:
        row["close_date"] = close_stamp(now + timedelta(hours=hours))
    if (days := row.pop("drops_in_days", None)) is not None:
        row["date_available"] = (now + timedelta(days=days)).date().isoformat()
    return row


class ParkioApp(FeedApp):
    """Park.io's auctions and its per-TLD lists of names about to drop."""

    name = "parkio"
    sites: ClassVar[tuple[str, ...]] = ("park.io",)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        seed = tomllib.loads(SEED.read_text(encoding="utf-8"))
        now = datetime.now(UTC)
        self.auctions: list[dict[str, Any]] = [_dated(row, now) for row in seed["auctions"]]
        self.drops: list[dict[str, Any]] = [_dated(row, now) for row in seed["drops"]]
        #: Generated names added to every list (no brand in them); raise it to benchmark real sizes.
        self.filler: int = seed["filler"]
        #: The largest page served, whatever ``?limit=`` asks for (Park.io caps it too).
        self.max_limit: int = seed["max_limit"]

    def respond(self, request: ReplicaRequest) -> Reply | None:
        found = _PAGE.fullmatch(request.path)
        if found is None:
            return None
        if self.replica.layout_changed:
            return 200, {}, template(ERROR_PAGE_TEMPLATE)
        tld, page = found["tld"], int(found["auction_page"] or found["drop_page"] or 1)
        limit = min(int(request.arg("limit", "20") or 20), self.max_limit)
        data = self.page(tld, page, limit)
        if self.truncated:
            data = data[: len(data) // 2]
        return 200, JSON, data

    def rows(self, tld: str | None) -> list[dict[str, Any]]:
        """Every row of a list: the seed's, then the filler."""
        later = datetime.now(UTC) + timedelta(days=7)
        if tld is None:
            close = close_stamp(later)
            filler = [
                {"id": str(90000 + n), "name": f"{n:07d}.io", "price": "99", "close_date": close}
                for n in range(self.filler)
            ]
            return [*self.auctions, *filler]
        seeded = [row for row in self.drops if row["name"].rpartition(".")[2].lower() == tld]
        filler = [
            {"name": f"{n:07d}.{tld}", "date_available": later.date().isoformat()} for n in range(self.filler)
        ]
        return [*seeded, *filler]

    def page(self, tld: str | None, page: int, limit: int) -> bytes:
        rows = self.rows(tld)
        count = len(rows)
        page_count = max(1, math.ceil(count / limit))
        # The paging keys come first, as Park.io writes them; the spider reads them wherever they are.
        body = {
            "success": True,
            "nextPage": page < page_count,
            "page": page,
            "pageCount": page_count,
            "count": count,
            "auctions" if tld is None else "domains": rows[(page - 1) * limit : page * limit],
        }
        return json.dumps(body, separators=(",", ":")).encode("utf-8")
