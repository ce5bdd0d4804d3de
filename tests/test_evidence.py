"""Evidence for takedown requests: hits' listing pages kept as fetched during real crawls of the replica,
the evidence folder's files and hashes, and the packs ``brandcrawl evidence`` writes from them."""

from __future__ import annotations

import gzip
import hashlib
import html
import json
import os
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

import pytest
from scrapy import signals
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.test import get_crawler
from sqlalchemy import select

from brandcrawl.cli import main
from brandcrawl.evidence import EvidenceError, EvidenceFolder
from brandcrawl.replica import ReplicaMarketplace, ReplicaRequest, SeedListing
from brandcrawl.replica.ebay import EbayApp
from brandcrawl.replica.godaddy import GoDaddyApp
from brandcrawl.replica.server import Reply
from brandcrawl.runs import judge
from brandcrawl.storage import Store
from brandcrawl.storage.models import CrawlRun, Hit, ListingRow, Snapshot
from brandcrawl.triage import Target, suppress
from spiders.accsmarket import AccsMarketSpider
from spiders.ebay import EbaySpider
from spiders.godaddy import GoDaddySpider
from tests.conftest import crawl, crawl_settings, gallimard_listing, rows

# A small crawl: one site, one brand, one page per search (7 search pages, 2 hits on the seed).
SMALL = {"sites": "ebay.fr", "brand": "Gallimard", "max_pages": "1"}


def evidence_settings(watch_path: Path, db_url: str, folder: Path, **overrides: Any) -> dict[str, Any]:
    evidence = {"BRANDCRAWL_EVIDENCE_ENABLED": True, "BRANDCRAWL_EVIDENCE_DIR": str(folder)}
    return crawl_settings(watch_path, db_url, **{**evidence, **overrides})


def base_url(replica: ReplicaMarketplace) -> str:
    return f"{replica.base_url}/{{site}}"


def listing_pages_asked(replica: ReplicaMarketplace, since: int = 0) -> list[str]:
    return sorted(path for path in replica.requests[since:] if "/itm/" in path)


def kept_body(folder: Path, snapshot: Snapshot) -> bytes:
    return gzip.decompress((folder / snapshot.path).read_bytes())


class StatusEbay(EbayApp):
    """The replica's eBay, whose listing pages answer ``item_status`` and whose site ``refusing``
    answers 403 to everything, when set."""

    item_status: ClassVar[int | None] = None
    refusing: ClassVar[str | None] = None

    def respond(self, request: ReplicaRequest) -> Reply | None:
        if request.site == self.refusing:
            return 403, {"Content-Type": "text/plain"}, "403\n"
        if self.item_status is not None and "/itm/" in request.path:
            return self.item_status, {"Content-Type": "text/plain"}, f"{self.item_status}\n"
        return super().respond(request)


@pytest.fixture
def status_replica(monkeypatch: pytest.MonkeyPatch) -> Any:
    def serve(
        item_status: int | None = None,
        listings: list[SeedListing] | None = None,
        page_size: int = 4,
        refusing: str | None = None,
    ) -> ReplicaMarketplace:
        monkeypatch.setattr(StatusEbay, "item_status", item_status)
        monkeypatch.setattr(StatusEbay, "refusing", refusing)
        return ReplicaMarketplace(listings, apps=[StatusEbay], page_size=page_size)

    return serve


# -- crawls keep the hits' pages -----------------------------------------------------------------------


@deferred_f_from_coro_f
async def test_each_hits_listing_page_is_kept_as_fetched(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "evidence"
    started = datetime.now(UTC)
    result = await crawl(
        EbaySpider, evidence_settings(watch_path, db_url, folder), base_url=base_url(replica)
    )

    listings = {row.id: row for row in rows(db_url, ListingRow)}
    snapshots = rows(db_url, Snapshot)
    assert len(listings) == len(result.items) >= 10
    assert sorted(snapshot.listing_pk for snapshot in snapshots) == sorted(listings), "one per hit listing"
    # Only the hits' pages are asked for: the listings the watch-list does not match never are.
    assert listing_pages_asked(replica) == sorted(urlsplit(row.url).path for row in listings.values())
    for snapshot in snapshots:
        listing = listings[snapshot.listing_pk]
        body = kept_body(folder, snapshot)
        assert (snapshot.url, snapshot.status) == (listing.url, 200)
        assert snapshot.path == f"{snapshot.sha256[:2]}/{snapshot.sha256}.gz"
        assert hashlib.sha256(body).hexdigest() == snapshot.sha256
        assert len(body) == snapshot.size
        assert listing.title in html.unescape(body.decode("utf-8"))
        assert snapshot.headers["Content-Type"] == ["text/html; charset=utf-8"]
        assert started <= snapshot.fetched_at <= datetime.now(UTC)

    stats = result.stats
    assert stats["brandcrawl/evidence/snapshots"] == stats["brandcrawl/evidence/responses"] == len(listings)
    assert stats["brandcrawl/run/status"] == "ok"
    [run] = rows(db_url, CrawlRun)
    assert run.status == "ok"
    assert run.pages_fetched == stats["brandcrawl/pages/parsed"], "listing pages are no search pages"


@deferred_f_from_coro_f
async def test_a_later_crawl_keeps_only_the_new_hits_pages(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "evidence"
    settings = evidence_settings(watch_path, db_url, folder)
    await crawl(EbaySpider, settings, base_url=base_url(replica), **SMALL)
    first = {snapshot.id: snapshot for snapshot in rows(db_url, Snapshot)}
    files = sorted(folder.rglob("*.gz"))
    assert len(first) == 2
    new = SeedListing(
        site="ebay.fr", listing_id="226199999999", title="Lot Gallimard collection blanche 12 romans",
        price="45,00 EUR", bids="2 enchères", time_left="3j 4h", seller="bouquiniste75",
    )  # fmt: skip
    replica.ebay.add(new)
    asked_before = len(replica.requests)

    second = await crawl(EbaySpider, settings, base_url=base_url(replica), **SMALL)

    assert listing_pages_asked(replica, asked_before) == ["/ebay.fr/itm/226199999999"]
    snapshots = rows(db_url, Snapshot)
    added = [snapshot for snapshot in snapshots if snapshot.id not in first]
    [listing] = [row for row in rows(db_url, ListingRow) if row.listing_id == new.listing_id]
    assert [snapshot.listing_pk for snapshot in added] == [listing.id]
    assert second.stats["brandcrawl/evidence/snapshots"] == 1
    # Nothing kept is touched: the earlier rows and files are as they were.
    assert {s.id: (s.sha256, s.path, s.fetched_at) for s in snapshots if s.id in first} == {
        s.id: (s.sha256, s.path, s.fetched_at) for s in first.values()
    }
    assert set(files) < set(folder.rglob("*.gz"))


@deferred_f_from_coro_f
async def test_no_listing_page_is_fetched_for_a_hit_a_suppression_covers(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    """An authorised reseller's listings cost no request and no place under BRANDCRAWL_EVIDENCE_MAX."""
    folder = tmp_path / "evidence"
    settings = evidence_settings(watch_path, db_url, folder)
    await crawl(
        EbaySpider, {**settings, "BRANDCRAWL_EVIDENCE_ENABLED": False}, base_url=base_url(replica), **SMALL
    )
    listings = rows(db_url, ListingRow)
    reseller = next(row.seller for row in listings if row.seller)
    covered = sorted(urlsplit(row.url).path for row in listings if row.seller == reseller)
    store = Store(db_url)
    try:
        with store.session() as session:
            suppress(
                session,
                Target("seller", reseller.upper(), marketplace="ebay"),
                brand=None,
                by="alice",
                now=datetime.now(UTC),
                note="our reseller",
            )
    finally:
        store.close()
    asked_before = len(replica.requests)

    result = await crawl(EbaySpider, settings, base_url=base_url(replica), **SMALL)

    asked = listing_pages_asked(replica, asked_before)
    assert covered
    assert not set(covered) & set(asked)
    assert result.stats["brandcrawl/evidence/suppressed"] == len(covered)
    assert len(asked) == len(listings) - len(covered)


@deferred_f_from_coro_f
async def test_a_listing_page_the_crawl_read_is_kept_without_asking_for_it_again(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "evidence"
    # Accs-market's lists lack what a hit carries: the spider reads every listing's own page.
    result = await crawl(
        AccsMarketSpider, evidence_settings(watch_path, db_url, folder), base_url=base_url(replica)
    )

    asked = Counter(path for path in replica.requests if "/group/" in path)
    assert set(asked.values()) == {1}, "each listing's page asked for once, by the crawl"
    listings = {row.id: row for row in rows(db_url, ListingRow)}
    assert result.stats["brandcrawl/evidence/read_by_the_crawl"] == len(listings) == 6
    assert "brandcrawl/evidence/requested" not in result.stats
    snapshots = rows(db_url, Snapshot)
    assert sorted(snapshot.listing_pk for snapshot in snapshots) == sorted(listings)
    for snapshot in snapshots:
        body = kept_body(folder, snapshot)
        assert (snapshot.url, snapshot.status) == (listings[snapshot.listing_pk].url, 200)
        assert hashlib.sha256(body).hexdigest() == snapshot.sha256


@pytest.mark.parametrize(
    ("status", "kept_for_good"),
    [
        pytest.param(404, True, id="404-the-listing-is-gone"),
        pytest.param(410, True, id="410-the-listing-is-gone"),
        pytest.param(403, False, id="403-refused"),
        pytest.param(500, False, id="500-after-retries"),
    ],
)
@deferred_f_from_coro_f
async def test_every_answer_is_kept_and_only_a_page_or_a_gone_listing_settles_it(
    status_replica, watch_path: Path, db_url: str, tmp_path: Path, status: int, kept_for_good: bool
) -> None:
    folder = tmp_path / "evidence"
    settings = evidence_settings(watch_path, db_url, folder)
    with status_replica(status) as replica:
        first = await crawl(EbaySpider, settings, base_url=base_url(replica), **SMALL)
        second = await crawl(EbaySpider, settings, base_url=base_url(replica), **SMALL)

    assert first.stats["brandcrawl/run/status"] == second.stats["brandcrawl/run/status"] == "ok"
    kept = rows(db_url, Snapshot)
    assert {snapshot.status for snapshot in kept} == {status}
    assert {kept_body(folder, snapshot) for snapshot in kept} == {f"{status}\n".encode()}
    assert len(list(folder.rglob("*.gz"))) == 1, "one body, kept once, whatever the fetches"
    if kept_for_good:
        assert len(kept) == 2
        assert "brandcrawl/evidence/requested" not in second.stats
    else:
        assert len(kept) == 4, "asked again on the next run; a later fetch adds a snapshot"
        assert second.stats["brandcrawl/evidence/snapshots"] == 2


@deferred_f_from_coro_f
async def test_refused_listing_pages_do_not_make_a_healthy_run_blocked(
    status_replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    lots = [
        SeedListing(site="ebay.fr", listing_id=f"2261000000{n:02}", title=f"Lot de livres Gallimard n°{n}",
                    price="20,00 EUR", bids="1 enchère", time_left="1j 2h", seller="bouquiniste75")
        for n in range(10)
    ]  # fmt: skip
    with status_replica(403, lots, page_size=20) as replica:
        result = await crawl(
            EbaySpider,
            evidence_settings(watch_path, db_url, tmp_path / "evidence"),
            base_url=base_url(replica),
            **SMALL,
        )

    stats = result.stats
    assert stats["brandcrawl/evidence/responses_403_429"] == 10
    assert stats["brandcrawl/run/status"] == "ok"
    [run] = rows(db_url, CrawlRun)
    assert (run.status, run.pages_fetched) == ("ok", stats["brandcrawl/pages/parsed"])
    # Counted with the searches, the ten 403s would have outnumbered them.
    searches_and_pages = {key: value for key, value in stats.items() if "/evidence/" not in key}
    assert judge(searches_and_pages, "finished").status == "blocked"


@deferred_f_from_coro_f
async def test_listing_pages_forbidden_by_robots_txt_are_not_fetched_nor_a_disallowed_run(
    watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    robots_txt = "User-agent: *\nDisallow: /ebay.fr/itm/\n"
    with ReplicaMarketplace(robots_txt=robots_txt) as replica:
        result = await crawl(
            EbaySpider,
            evidence_settings(watch_path, db_url, tmp_path / "evidence"),
            base_url=base_url(replica),
            **SMALL,
        )
        assert listing_pages_asked(replica) == []

    stats = result.stats
    assert stats["brandcrawl/evidence/robots_forbidden"] == stats["robotstxt/forbidden"] == 2
    assert stats["brandcrawl/run/status"] == "ok"
    assert rows(db_url, Snapshot) == []
    searches_and_pages = {key: value for key, value in stats.items() if "/evidence/" not in key}
    assert judge(searches_and_pages, "finished").status == "disallowed"


@deferred_f_from_coro_f
async def test_a_listing_page_that_cannot_be_had_is_counted_and_nothing_is_kept(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "evidence"
    crawler = get_crawler(EbaySpider, evidence_settings(watch_path, db_url, folder))
    # Once the searches are done, the marketplace goes away: the listing pages meet a closed port.
    crawler.signals.connect(lambda **_: replica.stop(), signal=signals.spider_idle, weak=False)
    await crawler.crawl_async(base_url=base_url(replica), **SMALL)

    stats = crawler.stats.get_stats()
    assert stats["brandcrawl/evidence/requested"] == stats["brandcrawl/evidence/failed"] == 2
    assert "brandcrawl/evidence/snapshots" not in stats
    assert stats["brandcrawl/run/status"] == "ok"
    assert rows(db_url, Snapshot) == []
    assert not folder.exists()


@deferred_f_from_coro_f
async def test_a_challenge_instead_of_the_listing_page_is_not_kept_and_asked_again_later(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    settings = evidence_settings(watch_path, db_url, tmp_path / "evidence")
    crawler = get_crawler(EbaySpider, settings)
    # Once the searches are done, the site starts answering with its bot challenge.
    crawler.signals.connect(
        lambda **_: setattr(replica, "blocked", True), signal=signals.spider_idle, weak=False
    )
    await crawler.crawl_async(base_url=base_url(replica), **SMALL)

    stats = crawler.stats.get_stats()
    assert stats["brandcrawl/evidence/challenged"] == 2
    assert stats["brandcrawl/run/status"] == "ok"
    assert rows(db_url, Snapshot) == []

    replica.blocked = False
    later = await crawl(EbaySpider, settings, base_url=base_url(replica), **SMALL)
    assert later.stats["brandcrawl/evidence/snapshots"] == 2
    assert {snapshot.status for snapshot in rows(db_url, Snapshot)} == {200}


@deferred_f_from_coro_f
async def test_a_blocked_run_fetches_no_listing_page(
    status_replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    with status_replica(refusing="ebay.de") as replica:
        result = await crawl(
            EbaySpider,
            evidence_settings(watch_path, db_url, tmp_path / "evidence"),
            base_url=base_url(replica),
        )
        assert listing_pages_asked(replica) == []
    assert result.items, "the other sites' hits"
    assert result.stats["brandcrawl/run/status"] == "blocked"
    assert "brandcrawl/evidence/requested" not in result.stats
    assert rows(db_url, Snapshot) == []


@deferred_f_from_coro_f
async def test_at_most_the_cap_per_run_the_rest_on_later_runs(
    replica, watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    settings = evidence_settings(watch_path, db_url, tmp_path / "evidence", BRANDCRAWL_EVIDENCE_MAX=4)
    first = await crawl(EbaySpider, settings, base_url=base_url(replica))
    hits = len(rows(db_url, ListingRow))
    assert first.stats["brandcrawl/evidence/requested"] == 4
    assert first.stats["brandcrawl/evidence/left_for_next_run"] == hits - 4

    second = await crawl(EbaySpider, settings, base_url=base_url(replica))

    assert second.stats["brandcrawl/evidence/requested"] == 4
    listings = [snapshot.listing_pk for snapshot in rows(db_url, Snapshot)]
    assert len(listings) == len(set(listings)) == 8


@deferred_f_from_coro_f
async def test_a_crawl_of_a_mirror_never_fetches_from_the_real_marketplace(
    watch_path: Path, db_url: str, tmp_path: Path
) -> None:
    # The GoDaddy feeds name each listing's page on www.godaddy.com, also when read from the replica.
    with ReplicaMarketplace(apps=[GoDaddyApp]) as replica:
        result = await crawl(
            GoDaddySpider,
            evidence_settings(watch_path, db_url, tmp_path / "evidence"),
            base_url=base_url(replica),
        )
    listings = rows(db_url, ListingRow)
    assert listings
    assert all(urlsplit(row.url).hostname == "www.godaddy.com" for row in listings)
    assert result.stats["brandcrawl/evidence/off_mirror"] == len(listings)
    assert "brandcrawl/evidence/requested" not in result.stats
    assert result.stats["downloader/request_count"] == len(replica.requests)


@pytest.mark.parametrize(
    ("settings", "turned_on"),
    [
        pytest.param({}, True, id="on-with-a-folder"),
        pytest.param({"BRANDCRAWL_EVIDENCE_ENABLED": False}, False, id="disabled"),
        pytest.param({"BRANDCRAWL_EVIDENCE_DIR": ""}, False, id="no-folder"),
        pytest.param({"BRANDCRAWL_EVIDENCE_MAX": 0}, False, id="cap-0"),
    ],
)
def test_the_settings_turn_it_on_and_off(
    watch_path: Path, db_url: str, tmp_path: Path, settings: dict[str, Any], turned_on: bool
) -> None:
    from brandcrawl.evidence import EvidenceExtension

    crawler = get_crawler(EbaySpider, evidence_settings(watch_path, db_url, tmp_path / "ev", **settings))
    assert (crawler.get_extension(EvidenceExtension) is not None) == turned_on


# -- the evidence folder -------------------------------------------------------------------------------


def test_a_body_is_kept_once_under_its_sha256_and_never_rewritten(tmp_path: Path) -> None:
    folder = EvidenceFolder(tmp_path)
    body = b"<html><title>Compte @Gallimard</title></html>"
    first = folder.put(body)
    sha256 = hashlib.sha256(body).hexdigest()
    assert (first.sha256, first.size, first.path) == (sha256, len(body), f"{sha256[:2]}/{sha256}.gz")
    file = tmp_path / first.path
    written = file.stat()

    assert folder.put(body) == first
    assert (file.stat().st_ino, file.stat().st_mtime_ns) == (written.st_ino, written.st_mtime_ns)
    assert folder.read(first.path, first.sha256, first.size) == body
    other = folder.put(b"another page")
    assert other.path != first.path
    assert sorted(
        path.relative_to(tmp_path).as_posix() for path in tmp_path.rglob("*") if path.is_file()
    ) == sorted([first.path, other.path]), "no temporary file left behind"


def _replace_body(file: Path) -> None:
    file.write_bytes(gzip.compress(b"<html>an altered page</html>"))


def _cut(file: Path) -> None:
    file.write_bytes(file.read_bytes()[:-12])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(_replace_body, "does not hold the page that was fetched", id="altered"),
        pytest.param(Path.unlink, "is missing", id="missing"),
        pytest.param(_cut, "cannot be read", id="truncated"),
        pytest.param(lambda file: file.write_bytes(b"not gzip at all"), "cannot be read", id="not-gzip"),
    ],
)
def test_a_damaged_body_is_detected(tmp_path: Path, damage: Any, message: str) -> None:
    folder = EvidenceFolder(tmp_path)
    stored = folder.put(b"<html>the listing page</html>")
    damage(tmp_path / stored.path)
    with pytest.raises(EvidenceError, match=message):
        folder.read(stored.path, stored.sha256, stored.size)


def test_a_path_that_is_not_the_bodys_own_is_refused(tmp_path: Path) -> None:
    folder = EvidenceFolder(tmp_path)
    stored = folder.put(b"page")
    with pytest.raises(EvidenceError, match="is not where a body"):
        folder.read("../../etc/passwd", stored.sha256, stored.size)


# -- evidence packs ------------------------------------------------------------------------------------


def pack(hit_ids: list[int], out: Path, db_url: str, folder: Path) -> int:
    arguments = ["evidence", *map(str, hit_ids), "--out", str(out), "--db", db_url]
    return main([*arguments, "--evidence-dir", str(folder)])


def sha256_of(file: Path) -> str:
    return hashlib.sha256(file.read_bytes()).hexdigest()


@deferred_f_from_coro_f
async def test_a_pack_holds_the_pages_as_received_a_manifest_and_a_summary(
    replica, watch_path: Path, db_url: str, tmp_path: Path, capsys
) -> None:
    folder, out = tmp_path / "evidence", tmp_path / "packs"
    await crawl(
        EbaySpider, evidence_settings(watch_path, db_url, folder), base_url=base_url(replica), **SMALL
    )
    [snapshot, _] = rows(db_url, Snapshot)
    listing = next(row for row in rows(db_url, ListingRow) if row.id == snapshot.listing_pk)
    hit = next(row for row in rows(db_url, Hit) if row.listing_pk == listing.id)

    assert pack([hit.id], out, db_url, folder) == 0

    written = out / f"hit-{hit.id}"
    page_name = f"{snapshot.fetched_at:%Y%m%dT%H%M%SZ}-{snapshot.sha256[:12]}.html"
    assert sorted(path.name for path in written.iterdir()) == sorted(
        [page_name, "manifest.json", "summary.txt"]
    )
    assert sorted(path.name for path in out.iterdir()) == [f"hit-{hit.id}"], "nothing else left in --out"
    assert sha256_of(written / page_name) == snapshot.sha256, "the bytes as received"
    manifest = json.loads((written / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["tool"].startswith("brandcrawl ")
    assert manifest["hit"]["id"] == hit.id
    assert (manifest["hit"]["brand"], manifest["hit"]["explanation"]) == ("Gallimard", hit.explanation)
    assert manifest["listing"]["marketplace"] == "ebay"
    assert (manifest["listing"]["listing_id"], manifest["listing"]["url"]) == (
        listing.listing_id,
        listing.url,
    )
    assert manifest["listing"]["seller"] == listing.seller
    [entry] = manifest["snapshots"]
    assert entry == {
        "file": page_name,
        "url": listing.url,
        "status": 200,
        "fetched_at": snapshot.fetched_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "sha256": snapshot.sha256,
        "size": snapshot.size,
        "headers": snapshot.headers,
    }
    assert manifest["summary"] == {"file": "summary.txt", "sha256": sha256_of(written / "summary.txt")}
    assert "note" not in manifest
    summary = (written / "summary.txt").read_text(encoding="utf-8")
    for expected in (
        "Marketplace:     ebay (ebay.fr)",
        f"Listing id:      {listing.listing_id}",
        f"Listing URL:     {listing.url}",
        f"Seller:          {listing.seller}",
        f"Price:           {listing.price} EUR",
        "Brand:           Gallimard",
        f"Why it matched:  {hit.explanation}",
        f"First seen:      {listing.first_seen:%Y-%m-%d %H:%M:%S} UTC",
        f"Last seen:       {listing.last_seen:%Y-%m-%d %H:%M:%S} UTC",
        page_name,
        snapshot.sha256,
    ):
        assert expected in summary
    assert f"hit {hit.id}: 1 page kept" in capsys.readouterr().out


@pytest.fixture
def stored_hit(db_url: str, tmp_path: Path) -> Any:
    """Stores a Gallimard hit on ebay.fr with its listing's pages kept as ``bodies`` (status, body),
    fetched an hour apart, and the listing's fields ``changes``; returns the hit's id."""
    folder = EvidenceFolder(tmp_path / "evidence")
    count = 0

    def store_hit(*bodies: tuple[int, bytes], **changes: Any) -> int:
        nonlocal count
        count += 1
        now = datetime.now(UTC)
        store = Store(db_url)
        try:
            store.upgrade()
            store.save_listings([gallimard_listing(str(count), now, **changes)], now)
            with store.session() as session:
                listing = session.scalars(select(ListingRow).where(ListingRow.listing_id == str(count))).one()
                for hour, (status, body) in enumerate(bodies):
                    kept = folder.put(body)
                    session.add(
                        Snapshot(
                            listing_pk=listing.id, url=listing.url, status=status,
                            headers={"Content-Type": ["text/html; charset=utf-8"]},
                            sha256=kept.sha256, size=kept.size, path=kept.path,
                            fetched_at=now - timedelta(hours=len(bodies) - hour),
                        )
                    )  # fmt: skip
                return session.scalars(select(Hit.id).where(Hit.listing_pk == listing.id)).one()
        finally:
            store.close()

    return store_hit


def test_a_pack_lists_every_fetch_in_time_order(stored_hit, db_url: str, tmp_path: Path) -> None:
    hit_id = stored_hit((200, b"<html>on sale</html>"), (404, b"<html>gone</html>"))
    assert pack([hit_id], tmp_path / "packs", db_url, tmp_path / "evidence") == 0
    manifest = json.loads(
        (tmp_path / "packs" / f"hit-{hit_id}" / "manifest.json").read_text(encoding="utf-8")
    )
    assert [entry["status"] for entry in manifest["snapshots"]] == [200, 404]
    files = [tmp_path / "packs" / f"hit-{hit_id}" / entry["file"] for entry in manifest["snapshots"]]
    assert [file.read_bytes() for file in files] == [b"<html>on sale</html>", b"<html>gone</html>"]
    assert [sha256_of(file) for file in files] == [entry["sha256"] for entry in manifest["snapshots"]]


def test_a_hit_without_a_kept_page_still_gets_its_summary_and_manifest(
    stored_hit, db_url: str, tmp_path: Path
) -> None:
    hit_id = stored_hit(title="Compte @Gallimard \u202eelas a\u202c")  # a right-to-left override
    assert pack([hit_id], tmp_path / "packs", db_url, tmp_path / "evidence") == 0
    written = tmp_path / "packs" / f"hit-{hit_id}"
    assert sorted(path.name for path in written.iterdir()) == ["manifest.json", "summary.txt"]
    manifest = json.loads((written / "manifest.json").read_text(encoding="utf-8"))
    assert (manifest["snapshots"], manifest["note"]) == ([], "no page of this listing was kept")
    summary = (written / "summary.txt").read_text(encoding="utf-8")
    assert "No page of this listing was kept" in summary
    assert "Title:           Compte @Gallimard \\u202eelas a\\u202c\n" in summary, "shown, not obeyed"
    assert "Seller:          vendeur42" in summary
    assert "Price:           100.00 EUR (3 bids)" in summary


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        pytest.param(_replace_body, "does not hold the page that was fetched", id="altered"),
        pytest.param(Path.unlink, "is missing", id="missing"),
    ],
)
def test_a_damaged_page_is_reported_and_its_hit_not_packed(
    stored_hit, db_url: str, tmp_path: Path, capsys, damage: Any, message: str
) -> None:
    damaged = stored_hit((200, b"<html>the page as fetched</html>"))
    sound = stored_hit((200, b"<html>another page</html>"))
    [snapshot, _] = sorted(rows(db_url, Snapshot), key=lambda snapshot: snapshot.listing_pk)
    damage(tmp_path / "evidence" / snapshot.path)
    out = tmp_path / "packs"

    assert pack([damaged, sound], out, db_url, tmp_path / "evidence") == 1

    error = capsys.readouterr().err
    assert f"hit {damaged} not packed: " in error
    assert message in error
    assert error.count("\n") == 1
    assert sorted(os.listdir(out)) == [f"hit-{sound}"], "no partial pack, no leftovers; the sound one packed"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        pytest.param(["999"], "no hit 999: nothing written", id="unknown-hit"),
        pytest.param(["{hit}", "7x"], "hit ids are numbers, got '7x'", id="not-a-number"),
        pytest.param(["{hit}", "²"], "hit ids are numbers, got '²'", id="superscript"),
        pytest.param(["99999999999999999999999"], "no hit '99999999999999999999999'", id="too-big"),
        pytest.param(["{hit}", "999", "998"], "no hit 999, 998: nothing written", id="some-unknown"),
        pytest.param(["{hit}", "--out", "{taken}"], "exists: a pack is never overwritten", id="pack-exists"),
        pytest.param(["{hit}", "--out", "{file}"], "cannot write the packs to {file}: ", id="out-is-a-file"),
    ],
)
def test_a_usage_problem_is_one_line_and_writes_nothing(
    stored_hit, db_url: str, tmp_path: Path, capsys, arguments: list[str], message: str
) -> None:
    hit_id = stored_hit((200, b"<html>page</html>"))
    taken, file = tmp_path / "taken", tmp_path / "a-file"
    (taken / f"hit-{hit_id}").mkdir(parents=True)
    file.write_text("mine", encoding="utf-8")
    filled = [argument.format(hit=hit_id, taken=taken, file=file) for argument in arguments]
    out = ["--out", str(tmp_path / "packs")] if "--out" not in filled else []
    assert (
        main(["evidence", *filled, *out, "--db", db_url, "--evidence-dir", str(tmp_path / "evidence")]) == 2
    )
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert message.format(file=file) in error
    assert db_url not in error, "a database URL may carry its password"
    assert not (tmp_path / "packs").exists()
    assert file.read_text(encoding="utf-8") == "mine"
    assert os.listdir(taken / f"hit-{hit_id}") == []


def test_a_mistyped_database_path_is_a_usage_problem_not_a_new_file(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "typo.db"
    assert main(["evidence", "1", "--out", str(tmp_path / "packs"), "--db", f"sqlite:///{missing}"]) == 2
    assert (
        capsys.readouterr().err
        == f"brandcrawl: no database at {missing} (give --db, or set $BRANDCRAWL_DB_URL)\n"
    )
    assert not missing.exists()
    assert not (tmp_path / "packs").exists()


def test_the_summary_shows_the_stored_text_without_obeying_it(
    stored_hit, db_url: str, tmp_path: Path
) -> None:
    match = {"brand": "Gallimard", "rule": "contains", "matched": "Gallimard", "score": 0.8}
    hit_id = stored_hit(matches=[{**match, "explanation": "contains 'Gallimard'\u202e\x1b[2J"}])
    assert pack([hit_id], tmp_path / "packs", db_url, tmp_path / "evidence") == 0
    summary = (tmp_path / "packs" / f"hit-{hit_id}" / "summary.txt").read_text(encoding="utf-8")
    assert "Why it matched:  contains 'Gallimard'\\u202e\\u001b[2J\n" in summary
