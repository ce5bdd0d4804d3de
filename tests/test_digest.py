"""The digest on disk: what is new or changed, per brand, health of the crawls, hostile text escaped."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select

from brandcrawl.config import load_watch
from brandcrawl.digest import collect, write_digest
from brandcrawl.items import Listing
from brandcrawl.render import render, template_environment
from brandcrawl.storage import Store
from brandcrawl.storage.models import AssetRow, Hit, ListingRow
from brandcrawl.triage import mark, resolve_taken_down
from tests.conftest import gallimard_listing, record_crawl

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
HOSTILE = '"><img src=x onerror=alert(1)><script>alert("gallimard")</script>'


def hit(listing_id: str, title: str, price: str = "100.00", **changes: object) -> Listing:
    return gallimard_listing(listing_id, NOW, price, title=title, **changes)


def test_a_digest_reports_each_hit_once_then_only_changes(
    store: Store, watch_path: Path, tmp_path: Path
) -> None:
    watch = load_watch(watch_path)
    domain = hit("2", "gallimard-shop.net", asset_kind="domain", asset="gallimard-shop.net")
    store.save_listings([hit("1", "Vends compte Twitter @Gallimard"), domain], NOW)

    first = write_digest(store, watch, tmp_path / "out", now=NOW)
    text = first.with_suffix(".txt").read_text(encoding="utf-8")
    assert "2 new hits, 0 changes" in text
    assert "Vends compte Twitter @Gallimard" in text
    assert "gallimard-shop.net" in text
    assert "100.00 EUR" in text
    assert "3 bids" in text
    assert "ends 2026-11-28 13:00 CET" in text  # the watch file's time zone

    later = NOW + timedelta(hours=12)
    store.save_listings([hit("1", "Vends compte Twitter @Gallimard", price="250.00")], later)
    second = write_digest(store, watch, tmp_path / "out", now=later)
    text = second.with_suffix(".txt").read_text(encoding="utf-8")
    assert "0 new hits, 1 change" in text
    assert "price 100.00 -> 250.00" in text
    assert "gallimard-shop.net" not in text

    third = write_digest(store, watch, tmp_path / "out", now=later + timedelta(hours=1))
    assert "Nothing new or changed" in third.with_suffix(".txt").read_text(encoding="utf-8")


def test_changes_before_the_first_report_fold_into_the_new_hit(store: Store, watch_path: Path) -> None:
    store.save_listings([hit("1", "gallimard.shop")], NOW)
    store.save_listings([hit("1", "gallimard.shop", price="120.00")], NOW + timedelta(hours=1))
    with store.session() as session:
        report = collect(session, load_watch(watch_path), NOW)
    assert (report.new_hit_count, report.change_count, len(report.change_ids)) == (1, 0, 1)
    assert report.sections[0].new_hits[0].price == Decimal("120.00")


def test_hostile_titles_are_escaped_in_html_and_kept_readable_in_text(store: Store, watch_path: Path) -> None:
    store.save_listings([hit("1", f"Gallimard {HOSTILE}", seller=HOSTILE)], NOW)
    with store.session() as session:
        html, text = render(collect(session, load_watch(watch_path), NOW))
    assert "<script>" not in html
    assert "<img" not in html
    assert "&lt;script&gt;" in html
    assert '"&gt;&lt;img' in html
    assert HOSTILE in text


def test_every_html_template_is_autoescaped() -> None:
    environment = template_environment()
    html_templates = [name for name in environment.list_templates() if name.endswith(".html")]
    assert html_templates
    for name in html_templates:
        assert environment.get_template(name).render  # loads
        assert environment.autoescape(name) is True  # type: ignore[operator]


def test_health_section_says_a_blocked_marketplace_could_not_be_checked(
    store: Store, watch_path: Path
) -> None:
    record_crawl(store, NOW, status="blocked", detail="bot-challenge page on 8 of 8 search pages", listings=0)
    with store.session() as session:
        html, text = render(collect(session, load_watch(watch_path), NOW))
    assert "could not be checked" in text
    assert "ebay: blocked (bot-challenge page on 8 of 8 search pages)" in text
    assert "could not be checked" in html


def test_a_marketplace_crawled_in_shards_shows_its_worst_shard_and_their_sums(
    store: Store, watch_path: Path
) -> None:
    """`brandcrawl dispatch` crawls eBay as one Scrapyd job per brand shard: a blocked shard followed
    by an ok one is a blocked eBay, not an ok one."""
    for number, status in enumerate(("ok", "blocked", "ok"), start=1):
        store.record_run(
            spider="ebay",
            started_at=NOW + timedelta(minutes=number),
            finished_at=NOW + timedelta(minutes=number),
            pages_fetched=8,
            listings_seen=40 if status == "ok" else 0,
            hits=2,
            new_hits=2,
            errors=0,
            status=status,
            detail="bot-challenge page on 8 of 8 search pages" if status == "blocked" else "",
            finish_reason="finished",
            job=f"job-{number}",
        )
    with store.session() as session:
        report = collect(session, load_watch(watch_path), NOW + timedelta(hours=1))
    (ebay,) = report.health
    assert (ebay.status, ebay.pages_fetched, ebay.listings_seen, ebay.hits) == ("blocked", 24, 80, 6)
    assert ebay.detail == "bot-challenge page on 8 of 8 search pages (1 of 3 jobs)"


def test_a_range_shows_its_low_end_and_a_fixed_price_no_end(store: Store, watch_path: Path) -> None:
    store.save_listings([hit("1", "gallimard.shop", price="3.25", price_is_range=True, end_time=None)], NOW)
    with store.session() as session:
        html, text = render(collect(session, load_watch(watch_path), NOW))
    assert "from 3.25 EUR" in text
    assert "from 3.25 EUR" in html
    assert "no end time shown" in text


def test_a_marketplace_not_crawled_since_the_last_digest_is_stale(
    store: Store, watch_path: Path, tmp_path: Path
) -> None:
    watch = load_watch(watch_path)
    record_crawl(store, NOW)
    first = write_digest(store, watch, tmp_path, now=NOW + timedelta(hours=1))
    assert "could not be checked" not in first.with_suffix(".txt").read_text(encoding="utf-8")
    second = write_digest(store, watch, tmp_path, now=NOW + timedelta(days=1))
    assert "ebay: stale (no crawl since the last digest)" in second.with_suffix(".txt").read_text(
        encoding="utf-8"
    )


def test_two_digests_in_the_same_second_keep_both_files(
    store: Store, watch_path: Path, tmp_path: Path
) -> None:
    watch = load_watch(watch_path)
    store.save_listings([hit("1", "gallimard.shop")], NOW)
    first = write_digest(store, watch, tmp_path, now=NOW)
    store.save_listings([hit("2", "gallimard.store")], NOW)
    second = write_digest(store, watch, tmp_path, now=NOW)
    assert first != second
    assert "gallimard.shop" in first.with_suffix(".txt").read_text(encoding="utf-8")
    assert "gallimard.store" in second.with_suffix(".txt").read_text(encoding="utf-8")


def test_assets_for_sale_come_before_mere_mentions(store: Store, watch_path: Path) -> None:
    book = hit("1", "Gallimard NRF Le Petit Prince 1946", price="900.00", asset_kind="other", asset=None)
    domain = hit("2", "gallimard-shop.net", price="50.00", asset_kind="domain", asset="gallimard-shop.net")
    domain.matches[0]["score"] = 0.9
    book.matches[0]["score"] = 1.0
    store.save_listings([book, domain], NOW)
    with store.session() as session:
        report = collect(session, load_watch(watch_path), NOW)
    assert [h.title for h in report.sections[0].new_hits] == [
        "gallimard-shop.net",
        "Gallimard NRF Le Petit Prince 1946",
    ]


def test_one_domain_on_several_marketplaces_is_one_entry_with_its_listings(
    store: Store, watch_path: Path, tmp_path: Path
) -> None:
    def listing(marketplace: str, listing_id: str, price: str, sale_method: str) -> Listing:
        return hit(
            listing_id,
            "gallimard-shop.net",
            price,
            marketplace=marketplace,
            url=f"https://{marketplace}.example/{listing_id}",
            asset_kind="domain",
            asset="gallimard-shop.net",
            sale_method=sale_method,
            currency="USD",
            bid_count=None,
        )

    store.save_listings([listing("godaddy", "gallimard-shop.net", "120.00", "auction")], NOW)
    store.save_listings(
        [listing("sedo", "gallimard-shop.net", "900.00", "fixed"), listing("ebay", "3", "850.00", "fixed")],
        NOW,
    )
    text = write_digest(store, load_watch(watch_path), tmp_path / "out", now=NOW).with_suffix(".txt")
    digest = text.read_text(encoding="utf-8")
    assert "1 new hit, 0 changes" in digest
    assert digest.count(" * gallimard-shop.net") == 1
    assert "also on ebay (ebay.fr): 850.00 USD, fixed price" in digest
    assert "https://sedo.example/gallimard-shop.net" in digest
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(AssetRow)) == 1
        assert set(session.scalars(select(ListingRow.asset_pk))) == {1}


# -- triage: relisted after takedown, false positives and suppressions ------------------------------


def hit_id_of(store: Store, listing_id: str) -> int:
    with store.session() as session:
        return session.scalars(
            select(Hit.id)
            .join(ListingRow, Hit.listing_pk == ListingRow.id)
            .where(ListingRow.listing_id == listing_id)
        ).one()


def taken_down(store: Store, listing: Listing, watch_path: Path, out: Path) -> int:
    """``listing`` reported, its takedown requested, then its listing gone and the hit resolved."""
    watch = load_watch(watch_path)
    store.save_listings([listing], NOW)
    write_digest(store, watch, out, now=NOW)
    taken = hit_id_of(store, listing.listing_id)
    with store.session() as session:
        mark(
            session, [taken], "actioned", by="alice", now=NOW + timedelta(hours=1), note="takedown requested"
        )
    gone = NOW + timedelta(days=1)
    listing.status = "gone"
    store.save_listings([listing], gone)
    assert resolve_taken_down(store, gone) == 1
    write_digest(store, watch, out, now=gone)
    return taken


def test_the_same_asset_offered_again_after_a_takedown_comes_first_in_its_brand_section(
    store: Store, watch_path: Path, tmp_path: Path
) -> None:
    taken = taken_down(store, hit("1", "Vends compte Twitter @Gallimard"), watch_path, tmp_path)
    back = NOW + timedelta(days=2)
    again = gallimard_listing(
        "77",
        back,
        title="Selling old twitter account @gallimard",
        marketplace="swapd",
        url="https://swapd.example/t/77",
    )
    fresh = hit("8", "gallimard-livres.com", asset_kind="domain", asset="gallimard-livres.com")
    fresh.matches[0]["score"] = 1.0  # ranks above the relisted one on its own merits
    store.save_listings([again, fresh], back)

    path = write_digest(store, load_watch(watch_path), tmp_path, now=back)
    text = path.with_suffix(".txt").read_text(encoding="utf-8")
    assert "1 relisted after takedown, 1 new hit, 0 changes" in text
    section = text.split("== Gallimard ==", 1)[1]
    relisted, new = section.split("!! Relisted after takedown (1):", 1)[1].split("New (1):", 1)
    assert " * Selling old twitter account @gallimard\n" in relisted
    assert f"   !! relisted after takedown of hit #{taken}\n" in relisted
    assert "gallimard-livres.com" in new
    html = path.read_text(encoding="utf-8")
    assert html.index("Relisted after takedown (1)") < html.index("New (1)")
    assert f"relisted after takedown of hit #{taken}</strong>" in html


def test_a_taken_down_listing_on_sale_again_is_relisted_after_takedown(
    store: Store, watch_path: Path, tmp_path: Path
) -> None:
    listing = hit("1", "gallimard-shop.net", asset_kind="domain", asset="gallimard-shop.net")
    taken = taken_down(store, listing, watch_path, tmp_path)
    back = NOW + timedelta(days=2)
    listing.status = "active"
    store.save_listings([listing], back)
    with store.session() as session:
        report = collect(session, load_watch(watch_path), back)
    (section,) = report.sections
    assert [(h.hit_id, h.takedown_hit_id, h.status) for h in section.relisted] == [(taken, taken, "active")]
    assert (section.new_hits, section.changes) == ([], [])
    assert (report.relisted_count, report.quiet) == (1, False)
    text = render(report)[1]
    assert "   !! relisted after takedown\n" in text
    assert len(report.change_ids) == 1, "the status change that said so is marked reported with it"


def test_a_hit_taken_down_before_any_digest_and_back_on_sale_is_relisted_after_takedown(
    store: Store, watch_path: Path
) -> None:
    """Crawls and digests run apart: the team triaged the hit from `hits list` before any digest."""
    listing = hit("1", "gallimard-shop.net", asset_kind="domain", asset="gallimard-shop.net")
    store.save_listings([listing], NOW)
    taken = hit_id_of(store, "1")
    with store.session() as session:
        mark(session, [taken], "actioned", by="alice", now=NOW + timedelta(hours=1), note="takedown sent")
    gone = NOW + timedelta(days=1)
    listing.status = "gone"
    store.save_listings([listing], gone)
    assert resolve_taken_down(store, gone) == 1
    back = NOW + timedelta(days=2)
    listing.status = "active"
    store.save_listings([listing], back)
    with store.session() as session:
        report = collect(session, load_watch(watch_path), back)
    (section,) = report.sections
    assert [(h.hit_id, h.takedown_hit_id) for h in section.relisted] == [(taken, taken)]
    assert section.new_hits == []
    assert report.relisted_count == 1


def test_false_positives_and_suppressed_hits_are_neither_shown_nor_counted(
    store: Store, watch_path: Path, tmp_path: Path
) -> None:
    watch = load_watch(watch_path)
    handle = hit("1", "Vends compte Twitter @Gallimard")
    domain = hit("2", "gallimard-shop.net", asset_kind="domain", asset="gallimard-shop.net")
    book = hit("3", "Lot livres Gallimard NRF", asset_kind="other", asset=None)
    store.save_listings([handle, domain, book], NOW)
    write_digest(store, watch, tmp_path, now=NOW)
    with store.session() as session:
        mark(session, [hit_id_of(store, "1"), hit_id_of(store, "3")], "false_positive", by="alice", now=NOW)

    later = NOW + timedelta(hours=12)
    elsewhere = gallimard_listing(
        "9", later, marketplace="swapd", url="https://swapd.example/9"
    )  # x:gallimard
    store.save_listings(
        [
            hit("1", handle.title, price="250.00"),
            hit("2", domain.title, price="250.00", asset_kind="domain", asset="gallimard-shop.net"),
            hit("3", book.title, price="250.00", asset_kind="other", asset=None),
            elsewhere,
        ],
        later,
    )
    with store.session() as session:
        report = collect(session, watch, later)
    assert (report.new_hit_count, report.change_count, report.relisted_count) == (0, 1, 0)
    assert [change.url for section in report.sections for change in section.changes] == [domain.url]
    text = render(report)[1]
    assert "@Gallimard" not in text
    assert "Lot livres" not in text
    assert "swapd" not in text
    path = write_digest(store, watch, tmp_path, now=later)
    assert "0 new hits, 1 change" in path.with_suffix(".txt").read_text(encoding="utf-8")
