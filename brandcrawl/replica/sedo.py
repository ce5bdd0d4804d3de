"""The replica's Sedo: the partner feeds ``/txt/auctions_us.txt`` and ``/txt/topdomains_<locale>.txt``,
written in ISO-8859-1 as Sedo writes them, from ``seed_sedo.toml`` plus ``filler`` generated auctions.
Where the formats come from: tests/fixtures/sedo/README.md."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from brandcrawl.replica.feeds import FeedApp
from brandcrawl.replica.server import ReplicaMarketplace

SEED = Path(__file__).with_name("seed_sedo.toml")
LOCALES = ("us", "d", "e", "fr", "es")
CONTENT_TYPE = "text/plain; charset=ISO-8859-1"
# Filler names: a word and a number, no brand in any (digits read as letters included).
_FILLER_WORDS = ("solar", "travel", "pixel", "harbor", "crypto", "garden", "rocket", "velvet")


@dataclass
class SedoAuction:
    """One line of auctions_us.txt; ``currency`` as Sedo writes it ("$US", "EUR", "&#163;")."""

    domain: str
    start: datetime
    end: datetime
    price: int
    currency: str
    bids: int

    def line(self) -> str:
        start, end = int(self.start.timestamp()), int(self.end.timestamp())
        return f"{self.domain};{start};{end};{self.price};{self.currency};{self.bids};\n"


@dataclass
class SedoTopDomain:
    """A name on the top lists of ``lists`` (locales); ``price`` "200.000 EUR" or "Make offer"."""

    domain: str
    price: str
    lists: list[str] = field(default_factory=lambda: ["us"])

    def line(self) -> str:
        return f"{self.domain}~{self.price}~\n"


class SedoApp(FeedApp):
    """Sedo's auction list and its five locale top lists."""

    name = "sedo"
    sites: ClassVar[tuple[str, ...]] = ("sedo.com",)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        seed = tomllib.loads(SEED.read_text(encoding="utf-8"))
        self.auctions = [SedoAuction(**table) for table in seed["auction"]]
        self.top_domains = [SedoTopDomain(**table) for table in seed["top"]]
        #: Generated auctions added to the seed's; raise it to benchmark a real-size list (~17,000).
        self.filler: int = seed["filler"]
        self.serve("/txt/auctions_us.txt", CONTENT_TYPE, self.auction_list)
        for locale in LOCALES:
            self.serve(f"/txt/topdomains_{locale}.txt", CONTENT_TYPE, self._top_list(locale))

    def auction_list(self) -> bytes:
        lines = [auction.line() for auction in self.auctions]
        # Filler auctions run as long as the seed's first.
        start, end = (int(time.timestamp()) for time in (self.auctions[0].start, self.auctions[0].end))
        lines += [
            f"{_FILLER_WORDS[number % len(_FILLER_WORDS)]}{number}.com;{start};{end};"
            f"{10 + number % 500};$US;{number % 4};\n"
            for number in range(self.filler)
        ]
        return "".join(lines).encode("iso-8859-1")

    def _top_list(self, locale: str) -> Callable[[], bytes]:
        def build() -> bytes:
            lines = (top.line() for top in self.top_domains if locale in top.lists)
            return "".join(lines).encode("iso-8859-1")

        return build
