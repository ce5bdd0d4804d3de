"""The replica's Dynadot auction files: ``/market/auction/auctions.csv`` (expired-domain auctions),
``/market/user-auction/user_auctions.csv`` and ``/market/pre-expiry-auction/pre_expiry_auctions.csv``,
built from ``seed_dynadot.toml`` plus ``filler`` generated expired auctions that carry no brand. Where
the shape comes from: tests/fixtures/dynadot/README.md. Blocked, the site answers Cloudflare's
challenge (FeedApp's).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from brandcrawl.replica.feeds import FeedApp
from brandcrawl.replica.filler import Filler, spread
from brandcrawl.replica.server import ReplicaMarketplace

SEED = Path(__file__).with_name("seed_dynadot.toml")
SITE = "dynadot.com"
PATHS = {
    "auctions": "/market/auction/auctions.csv",
    "user_auctions": "/market/user-auction/user_auctions.csv",
    "pre_expiry_auctions": "/market/pre-expiry-auction/pre_expiry_auctions.csv",
}
HEADER = (
    "Domain,Bid Price,Bid Price Currency,Bids,End Time,End Timestamp,Links,Age, Appraisal, Appraisal Currency"
)
PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass
class DynadotAuction:
    """One auction row; amounts in whole US dollars, as the files write them."""

    feed: str  # auctions | user_auctions | pre_expiry_auctions
    name: str
    bid: int
    ends: str  # ISO, UTC
    bids: int = 0
    links: int = 0
    age: int = 0
    appraisal: int = 0

    def line(self) -> str:
        wall, stamp = _end(datetime.fromisoformat(self.ends))
        return (
            f"{self.name},${self.bid},USD,{self.bids},{wall},{stamp},{self.links},{self.age},"
            f"${self.appraisal},USD"
        )


def load_dynadot_seed(path: str | Path | None = None) -> list[DynadotAuction]:
    """Read ``[[auction]]`` tables (DynadotAuction fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [DynadotAuction(**table) for table in data["auction"]]


class DynadotApp(FeedApp):
    """Dynadot's three auction files."""

    name = "dynadot"
    sites: ClassVar[tuple[str, ...]] = (SITE,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self.auctions = load_dynadot_seed()
        #: Generated auctions added to the expired-auctions file (the real one holds tens of thousands).
        self.filler = 100
        self._filler_lines: dict[int, list[bytes]] = {}
        for feed, path in PATHS.items():
            self.serve(path, "csv", lambda feed=feed: self._file(feed))

    def _file(self, feed: str) -> bytes:
        seed = [item.line().encode("utf-8") for item in self.auctions if item.feed == feed]
        lines = spread(seed, self._filler(self.filler)) if feed == "auctions" else seed
        return b"\n".join([HEADER.encode("ascii"), *lines]) + b"\n"

    def _filler(self, count: int) -> list[bytes]:
        """Generated rows, built once per count."""
        if count not in self._filler_lines:
            filler = Filler()
            self._filler_lines[count] = [
                _filler_auction(filler, name).encode("utf-8") for name in filler.domains(count)
            ]
        return self._filler_lines[count]


def _filler_auction(filler: Filler, name: str) -> str:
    """A generated expired-auction row, written straight (a benchmark may ask for many)."""
    bids = filler.pick(FILLER_BIDS)
    wall, stamp = filler.pick(FILLER_ENDS)
    return (
        f"{name},${5 + bids * filler.amount(1, 60)},USD,{bids},{wall},{stamp},{filler.amount(0, 500)},"
        f"{1 + filler.below(25)},${filler.amount(10, 6000)},USD"
    )


def _end(moment: datetime) -> tuple[str, int]:
    """An end as Dynadot writes it: Pacific wall time labelled PST, and epoch milliseconds."""
    return f"{moment.astimezone(PACIFIC):%Y/%m/%d %H:%M} PST", round(moment.timestamp() * 1000)


# Filler auctions end within ten days of this day, on any minute.
FILLER_EPOCH = datetime(2027, 1, 10, 16, 0, tzinfo=UTC)
FILLER_ENDS = tuple(_end(FILLER_EPOCH + timedelta(minutes=7 * n + 3)) for n in range(10 * 24 * 60 // 7))
FILLER_BIDS = (0,) * 35 + (1,) * 30 + (3,) * 20 + (8,) * 10 + (20,) * 5
