"""The replica's Namecheap Market files: ``/reports/Namecheap_Market_Sales.csv`` (every running auction,
25 columns) and ``/reports/Namecheap_Market_Sales_Buy_Now.csv``, as the CloudFront host serves them,
built from ``seed_namecheap.toml`` plus ``filler`` generated auctions that carry no brand (raise it to
serve a real file's million rows). Where the shapes come from: tests/fixtures/namecheap/README.md.

Namecheap-only: ``blocked`` answers CloudFront's own 403 page (its WAF), not Cloudflare's challenge.
"""

from __future__ import annotations

import secrets
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

from brandcrawl.replica.feeds import FeedApp
from brandcrawl.replica.filler import Filler, spread
from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply
from brandcrawl.replica.templates import render

SEED = Path(__file__).with_name("seed_namecheap.toml")
SITE = "namecheap.com"
SALES_PATH = "/reports/Namecheap_Market_Sales.csv"
BUY_NOW_PATH = "/reports/Namecheap_Market_Sales_Buy_Now.csv"
SALES_HEADER = (
    "url,name,startDate,endDate,price,startPrice,renewPrice,bidCount,ahrefsDomainRating,umbrellaRanking,"
    "cloudflareRanking,estibotValue,extensionsTaken,keywordSearchCount,registeredDate,lastSoldPrice,"
    "lastSoldYear,isPartnerSale,semrushAScore,majesticCitation,ahrefsBacklinks,semrushBacklinks,"
    "majesticBacklinks,majesticTrustFlow,goValue"
)
BUY_NOW_HEADER = "permalink,domain,price,extensions_taken"
MARKET = "https://www.namecheap.com/market"
RENEW_PRICES = ("13.98", "15.98", "10.28", "33.98", "79.98", "25.98")


@dataclass
class NamecheapSale:
    """One auction row. Amounts are written as Namecheap writes them ("1116.00"); "" is an empty field."""

    name: str
    sale_id: str
    starts: str
    ends: str
    price: str
    start_price: str = "1.00"
    renew_price: str = "13.98"
    bids: int = 0
    ahrefs_rating: str = ""
    estibot: str = ""
    extensions_taken: int | None = None
    keyword_searches: int | None = None
    registered: str = ""
    last_sold_price: str = ""
    last_sold_year: str = ""
    partner_sale: int = 1
    semrush_score: str = ""
    ahrefs_backlinks: str = ""
    semrush_backlinks: str = ""
    go_value: str = ""

    def line(self) -> str:
        fields = [
            f"{MARKET}/sale/{self.sale_id}/", self.name, self.starts, self.ends, self.price, self.start_price,
            self.renew_price, str(self.bids), self.ahrefs_rating, "", "", self.estibot,
            _optional(self.extensions_taken), _optional(self.keyword_searches), self.registered,
            self.last_sold_price, self.last_sold_year, str(self.partner_sale), self.semrush_score, "",
            self.ahrefs_backlinks, self.semrush_backlinks, "", "", self.go_value,
        ]  # fmt: skip
        return ",".join(fields)


@dataclass
class NamecheapBuyNow:
    """One buy-now row."""

    name: str
    price: str
    extensions_taken: int = 0

    def line(self) -> str:
        return f"{MARKET}/buynow/{self.name}/,{self.name},{self.price},{self.extensions_taken}"


def load_namecheap_seed(path: str | Path | None = None) -> tuple[list[NamecheapSale], list[NamecheapBuyNow]]:
    """Read ``[[sale]]`` and ``[[buy_now]]`` tables from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return (
        [NamecheapSale(**table) for table in data.get("sale", [])],
        [NamecheapBuyNow(**table) for table in data.get("buy_now", [])],
    )


class NamecheapApp(FeedApp):
    """Namecheap Market's two report files."""

    name = "namecheap"
    sites: ClassVar[tuple[str, ...]] = (SITE,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self.sales, self.buy_now = load_namecheap_seed()
        #: Generated auctions added to the sales file (a real one holds ~1.1 M rows).
        self.filler = 200
        #: Generated names added to the buy-now file.
        self.buy_now_filler = 20
        self._filler_lines: dict[tuple[str, int], list[bytes]] = {}
        self.serve(SALES_PATH, "csv", self._sales_file)
        self.serve(BUY_NOW_PATH, "csv", self._buy_now_file)

    def blocked_page(self, request: ReplicaRequest) -> Reply:
        request_id = secrets.token_urlsafe(42)[:56] + "=="
        headers = {"Server": "CloudFront", "X-Cache": "Error from cloudfront"}
        return 403, headers, render("namecheap/blocked.html", request_id=request_id)

    def _sales_file(self) -> bytes:
        seed = [sale.line().encode("utf-8") for sale in self.sales]
        return _csv(SALES_HEADER, spread(seed, self._filler("sales", self.filler)))

    def _buy_now_file(self) -> bytes:
        seed = [item.line().encode("utf-8") for item in self.buy_now]
        return _csv(BUY_NOW_HEADER, spread(seed, self._filler("buy_now", self.buy_now_filler)))

    def _filler(self, kind: str, count: int) -> list[bytes]:
        """Generated rows, built once per count (a million take seconds)."""
        if (kind, count) not in self._filler_lines:
            make = _filler_sale if kind == "sales" else _filler_buy_now
            filler = Filler()
            self._filler_lines[kind, count] = [
                make(filler, name).encode("utf-8") for name in filler.domains(count)
            ]
        return self._filler_lines[kind, count]


def _filler_sale(filler: Filler, name: str) -> str:
    """A generated auction row, written straight (a million are built per benchmark run)."""
    bids = filler.pick(FILLER_BIDS)
    rating = str(filler.below(30)) if filler.random() < 0.5 else ""
    backlinks = str(filler.amount(0, 300)) if filler.random() < 0.6 else ""
    return (
        f"{MARKET}/sale/{filler.sale_id()}/,{name},{filler.pick(FILLER_STARTS)},{filler.pick(FILLER_ENDS)},"
        f"{1 + bids * filler.amount(1, 40)}.00,1.00,{filler.pick(RENEW_PRICES)},{bids},{rating},,,"
        f"{filler.amount(0, 5000)}.00,{filler.below(400)},{filler.amount(0, 500_000)},"
        f"{filler.pick(FILLER_REGISTERED)},,,{filler.pick('11110')},,,{backlinks},,,,"
        f"{filler.amount(0, 8000)}.00"
    )


def _filler_buy_now(filler: Filler, name: str) -> str:
    return NamecheapBuyNow(name, f"{filler.amount(20, 20_000)}.00", filler.below(200)).line()


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# Filler auctions started within 30 days before this day and end within the 45 days the real file
# covers, at 16:00 UTC as Namecheap's do; names were registered between 1998 and 2024.
FILLER_EPOCH = datetime(2027, 1, 10, 16, 0, tzinfo=UTC)
FILLER_STARTS = tuple(_iso(FILLER_EPOCH - timedelta(minutes=7 * n + 3)) for n in range(30 * 24 * 60 // 7))
FILLER_ENDS = tuple(_iso(FILLER_EPOCH + timedelta(days=n)) for n in range(45))
FILLER_REGISTERED = tuple(
    f"{year}-{month:02d}-15T00:00:00Z" for year in range(1998, 2025) for month in range(1, 13)
)
# Most auctions have no bid or one; a few draw a crowd.
FILLER_BIDS = (0,) * 40 + (1,) * 25 + (2,) * 15 + (5,) * 10 + (12,) * 7 + (30,) * 3


def _csv(header: str, lines: list[bytes]) -> bytes:
    """An unquoted CSV with LF line ends, as Namecheap writes its reports."""
    return b"\n".join([header.encode("ascii"), *lines]) + b"\n"


def _optional(value: int | None) -> str:
    return "" if value is None else str(value)
