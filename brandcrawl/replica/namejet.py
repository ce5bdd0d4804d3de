"""The replica's NameJet: today's pending-delete list at ``/download/M-DD-YYYY.txt`` (the day in New
York, as NameJet names its lists), built from ``seed_namejet.toml`` plus ``filler`` generated names.
Where the list's shape comes from: tests/fixtures/namejet/README.md."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

from brandcrawl.replica.feeds import FeedApp
from brandcrawl.replica.server import ReplicaMarketplace, ReplicaRequest, Reply

SEED = Path(__file__).with_name("seed_namejet.toml")
NAMEJET_TIME = ZoneInfo("America/New_York")


def list_path(now: datetime) -> str:
    """Where the list of the day ``now`` is in (in New York) is published."""
    day = now.astimezone(NAMEJET_TIME)
    return f"/download/{day.month}-{day.day:02d}-{day.year}.txt"


class NameJetApp(FeedApp):
    """NameJet's daily list of the names about to drop."""

    name = "namejet"
    sites: ClassVar[tuple[str, ...]] = ("namejet.com",)

    def __init__(self, replica: ReplicaMarketplace) -> None:
        super().__init__(replica)
        seed = tomllib.loads(SEED.read_text(encoding="utf-8"))
        #: The seed's names: hits, then others.
        self.names: list[str] = [*seed["hits"], *seed["others"]]
        #: Generated names added to the list (no brand in them); raise it to benchmark a real-size list.
        self.filler: int = seed["filler"]

    def respond(self, request: ReplicaRequest) -> Reply | None:
        # Only today's list is published here: yesterday's address answers 404, as a stale URL would.
        self.files.clear()
        self.serve(list_path(datetime.now(UTC)), "txt", self.pending_delete_list)
        return super().respond(request)

    def pending_delete_list(self) -> bytes:
        # Seven digits, no letter: no brand can be read into them, leetspeak included.
        filler = (f"{number:07d}.com" for number in range(self.filler))
        return "".join(f"{name}\n" for name in sorted([*self.names, *filler])).encode("ascii")
