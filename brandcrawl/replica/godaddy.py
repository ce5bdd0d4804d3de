"""The replica's GoDaddy Auctions inventory host (``inventory.auctions.godaddy.com``): the three daily
files the spider reads, zipped JSON ``{"meta": {…}, "data": [item, …]}``, and the ``/metadata.json``
index, built from ``seed_godaddy.toml`` plus ``filler`` generated domains per file.

The seed holds the demo's hits and near misses; the filler is the replica's generated names that carry
no demo brand (brandcrawl/replica/filler.py), upper case as GoDaddy writes names, none in two files
nor a seed's, so a benchmark can serve files of a million items (``app.filler = 1_000_000``). A file
is built once a day for a given seed and filler count, and kept (about 45 MB zipped at a million
items, built in ~10 s, the first ~10 s more: it draws the three files' names); the items' end
times count from 00:00 UTC on that day. Where the item shape comes from:
tests/fixtures/godaddy/README.md.
"""

from __future__ import annotations

import functools
import json
import tomllib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from io import BytesIO
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar

from brandcrawl.replica.feeds import FeedApp
from brandcrawl.replica.filler import Filler
from brandcrawl.replica.server import ReplicaMarketplace

SEED = Path(__file__).with_name("seed_godaddy.toml")
SITE = "auctions.godaddy.com"
# The seed's feed names → the files, as the real host names them.
FILES = {
    "biddable": "all_biddable_auctions",
    "expiring": "all_expiring_auctions",
    "closeout": "closeout_listings",
}
LINK = "https://www.godaddy.com/domain-auctions/{slug}-{id}?isc=json_{feed}"
# Items written to the zip at a time: a million items are never one string in memory.
WRITE_CHUNK = 10_000


@dataclass(frozen=True)
class GoDaddyItem:
    """One domain of the inventory; amounts in whole US dollars."""

    domain: str
    id: int
    feeds: tuple[str, ...]
    type: str = "Bid"
    price: int = 10
    bids: int = 0
    ends_in_hours: int = 24
    age: int = 0
    pageviews: int = 0
    valuation: int = 0
    parking: int = 0


def load_godaddy_seed(path: str | Path | None = None) -> list[GoDaddyItem]:
    """Read ``[[item]]`` tables (GoDaddyItem fields) from a TOML file; default: the bundled seed."""
    data = tomllib.loads(Path(path or SEED).read_text(encoding="utf-8"))
    return [GoDaddyItem(**{**table, "feeds": tuple(table["feeds"])}) for table in data["item"]]


class GoDaddyApp(FeedApp):
    """The inventory host: ``/<file>.json.zip`` for each seed feed, and ``/metadata.json``."""

    name = "godaddy"
    sites: ClassVar[tuple[str, ...]] = (SITE,)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        self.items = load_godaddy_seed()
        #: Generated domains added to each file, after the seed's.
        self.filler = 50
        self._built: dict[tuple[str, int, date, tuple[GoDaddyItem, ...]], bytes] = {}
        self._filler_names: dict[tuple[int, frozenset[str]], list[str]] = {}
        for feed, file in FILES.items():
            self.serve(f"/{file}.json.zip", "zip", lambda feed=feed: self.build(feed))
        self.serve("/metadata.json", "json", self.metadata)

    def build(self, feed: str) -> bytes:
        """The zipped file of ``feed`` (a seed feed name), built once a day per seed and filler count."""
        key = (feed, self.filler, datetime.now(UTC).date(), tuple(self.items))
        if key not in self._built:
            self._built = {k: v for k, v in self._built.items() if k[2] == key[2]}
            self._built[key] = self._zipped(feed, key[2])
        return self._built[key]

    def metadata(self) -> bytes:
        # The index's real shape is not known from a public source: this one is constructed.
        built = datetime.combine(datetime.now(UTC).date(), time(14, 30), UTC)
        files = [
            {
                "fileName": f"{file}.json.zip",
                "url": f"https://inventory.{SITE}/{file}.json.zip",
                "lastUpdated": _stamp(built),
                "sizeBytes": len(self.build(feed)),
            }
            for feed, file in FILES.items()
        ]
        return json.dumps({"files": files}, indent=2).encode("utf-8")

    def _zipped(self, feed: str, day: date) -> bytes:
        start = datetime.combine(day, time(), UTC)
        buffer = BytesIO()
        with (
            zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive,
            archive.open(f"{FILES[feed]}.json", "w", force_zip64=True) as member,
        ):
            meta = {"fileName": f"{FILES[feed]}.json", "generated": _stamp(start + timedelta(hours=14.5))}
            member.write(b'{"meta":' + json.dumps(meta).encode() + b',"data":[')
            items = self._items(feed, start)
            separator = b""
            while chunk := list(islice(items, WRITE_CHUNK)):
                text = json.dumps(chunk, separators=(",", ":"), ensure_ascii=False)[1:-1]
                member.write(separator + text.encode("utf-8"))
                separator = b","
            member.write(b"]}")
        return buffer.getvalue()

    def _items(self, feed: str, start: datetime) -> Iterator[dict[str, Any]]:
        for item in self.items:
            if feed in item.feeds:
                yield _item_json(item, feed, start)
        names = self._names(self.filler)
        offset = list(FILES).index(feed) * self.filler  # each file its own filler names
        for number in range(offset, offset + self.filler):
            yield _item_json(_filler_item(number, feed, names[number].upper()), feed, start)

    def _names(self, count: int) -> list[str]:
        """``count`` filler names for each file, in the files' order: none twice, none a seed's, in
        lower case (upper-cased as written). Built once per count and seed, and only the last kept."""
        seeded = frozenset(item.domain.lower() for item in self.items)
        key = (count, seeded)
        if key not in self._filler_names:
            wanted = len(FILES) * count
            names = [name for name in Filler().domains(wanted + len(seeded)) if name not in seeded]
            del names[wanted:]
            self._filler_names = {key: names}
        return self._filler_names[key]


def _filler_item(number: int, feed: str, domain: str = "") -> GoDaddyItem:
    """The ``number``-th filler item, in ``feed``'s file, named ``domain``: its id and figures follow
    from ``number`` (benchmarks/feed_speed.py calls it without a name and puts in its own)."""
    closeout = feed == "closeout"
    return GoDaddyItem(
        domain=domain,
        id=700_000_000 + number,
        feeds=(feed,),
        type="BuyNow" if closeout else "Bid",
        price=5 + number % 7 if closeout else 5 + number * 37 % 4_000,
        bids=0 if closeout else number % 13,
        ends_in_hours=1 + number % 240,
        age=number % 26,
        pageviews=number * 13 % 900,
        valuation=100 + number * 53 % 9_000,
        parking=number % 5,
    )


def _item_json(item: GoDaddyItem, feed: str, start: datetime) -> dict[str, Any]:
    """An item as the files write it (key order as in the public captures)."""
    slug = item.domain.lower().replace(".", "-")
    return {
        "domainName": item.domain,
        "link": LINK.format(slug=slug, id=item.id, feed=feed),
        "auctionType": item.type,
        "auctionEndTime": _end_stamp(start, item.ends_in_hours),
        "price": _dollars(item.price),
        "numberOfBids": item.bids,
        "domainAge": item.age,
        "pageviews": item.pageviews,
        "valuation": _dollars(item.valuation),
        "monthlyParkingRevenue": _dollars(item.parking),
        "isAdult": False,
    }


def _dollars(amount: int) -> str:
    return f"${amount:,}"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@functools.cache
def _end_stamp(start: datetime, hours: int) -> str:
    # Cached: a million filler items share a few hundred end times.
    return _stamp(start + timedelta(hours=hours))
