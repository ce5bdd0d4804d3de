"""Storage on a real database (SQLite, or PostgreSQL: see tests/with-postgres): schema by migration,
upserts without duplicates, history of changes, values every backend can store, writers taking turns."""

import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import event, func, inspect, select, text
from sqlalchemy.exc import SQLAlchemyError

from brandcrawl.config import load_watch
from brandcrawl.digest import write_digest
from brandcrawl.items import Listing
from brandcrawl.storage import SaveResult, Store
from brandcrawl.storage.models import AssetRow, Base, CrawlRun, Hit, ListingChange, ListingRow
from tests.conftest import gallimard_listing

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def listing(listing_id: str = "1", price: str | None = "1500.00", **changes: object) -> Listing:
    values: dict = {"seen_at": NOW, "bid_count": 17, "end_time": NOW + timedelta(days=1), **changes}
    return gallimard_listing(listing_id, values.pop("seen_at"), price, **values)


def count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def schema_differences(store: Store) -> list[Any]:
    with store.engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)


def test_migrations_build_exactly_the_models_schema(store: Store) -> None:
    assert schema_differences(store) == []


def test_every_migration_goes_down_and_up_again(bare_db_url: str) -> None:
    store = Store(bare_db_url)
    try:
        _, revisions = store.revisions()
        with store.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", "brandcrawl:migrations")
            config.attributes["connection"] = connection
            for revision in revisions:  # one step at a time, each undone and redone
                command.upgrade(config, revision)
                command.downgrade(config, "-1")
                command.upgrade(config, revision)
            command.downgrade(config, "base")
            assert inspect(connection).get_table_names() == ["alembic_version"]
            command.upgrade(config, "head")
        assert store.revisions()[0] == revisions[-1]
        assert schema_differences(store) == []
    finally:
        store.close()


@pytest.mark.sqlite_only(reason="a SQLite file's journal mode")
def test_connections_switching_a_new_database_to_wal_at_once_all_get_through(tmp_path: Path) -> None:
    """Connections switching a new SQLite file to WAL at once can each hold a read lock another
    needs gone, and SQLite then fails one at once ("database is locked") instead of waiting."""
    errors: list[SQLAlchemyError] = []

    def connect(store: Store, barrier: threading.Barrier) -> None:
        barrier.wait()
        try:
            with store.engine.connect() as connection:
                connection.exec_driver_sql("SELECT 1")
        except SQLAlchemyError as error:
            errors.append(error)

    for attempt in range(100):
        stores = [Store(f"sqlite:///{tmp_path / f'new-{attempt}.db'}") for _ in range(3)]
        barrier = threading.Barrier(len(stores))
        with ThreadPoolExecutor(len(stores)) as pool:
            list(pool.map(connect, stores, [barrier] * len(stores)))
        for store in stores:
            store.close()
    assert errors == []


def test_two_processes_creating_the_schema_at_once_take_turns(bare_db_url: str) -> None:
    upgrade = [sys.executable, "-m", "brandcrawl.cli", "db", "upgrade", "--db", bare_db_url]
    processes = [
        subprocess.Popen(upgrade, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outcomes = [(*process.communicate(timeout=120), process.returncode) for process in processes]
    assert [status for _, _, status in outcomes] == [0, 0], outcomes
    store = Store(bare_db_url)
    try:
        newest = store.revisions()[1][-1]
        assert schema_differences(store) == []
    finally:
        store.close()
    said = sorted(out.split(": ", 1)[1].strip() for out, _, _ in outcomes)
    assert said == [
        f"already at the newest revision, {newest}",
        f"migrated from an empty database to revision {newest}",
    ]


def test_upgrade_twice_is_harmless(store: Store) -> None:
    store.upgrade()
    assert count(store, ListingRow) == 0


def test_a_listing_seen_again_is_updated_not_duplicated(store: Store) -> None:
    first = store.save_listings([listing()], NOW)
    assert (first.new_listings, first.new_hits, first.changes) == (1, 1, 0)
    later = NOW + timedelta(hours=6)
    again = store.save_listings([listing(price="1800.00", bid_count=21, seen_at=later)], later)
    assert (again.new_listings, again.new_hits, again.changes) == (0, 0, 2)
    assert count(store, ListingRow) == 1
    assert count(store, Hit) == 1
    with store.session() as session:
        row = session.scalars(select(ListingRow)).one()
        assert (row.price, row.bid_count, row.first_seen, row.last_seen) == (
            Decimal("1800.00"),
            21,
            NOW,
            later,
        )
        history = {(c.field, c.old_value, c.new_value) for c in session.scalars(select(ListingChange))}
    assert history == {("price", "1500.00", "1800.00"), ("bid_count", "17", "21")}


def test_end_time_drift_from_rounded_time_left_is_not_a_change(store: Store) -> None:
    store.save_listings([listing()], NOW)
    drifted = listing(end_time=NOW + timedelta(days=1, minutes=40))
    assert store.save_listings([drifted], NOW).changes == 0
    extended = listing(end_time=NOW + timedelta(days=3))
    assert store.save_listings([extended], NOW).changes == 1


def test_an_ended_listing_records_its_status(store: Store) -> None:
    store.save_listings([listing()], NOW)
    result = store.save_listings([listing(status="ended")], NOW)
    assert result.changes == 1
    with store.session() as session:
        change = session.scalars(select(ListingChange)).one()
    assert (change.field, change.old_value, change.new_value) == ("status", "active", "ended")


def test_batches_larger_than_a_chunk_and_duplicates_within_a_batch(store: Store) -> None:
    batch = [listing(str(n)) for n in range(1, 1201)] + [listing("7", price="9.00", site="ebay.com")]
    result = store.save_listings(batch, NOW)
    assert (result.listings, result.new_listings, result.new_hits) == (1200, 1200, 1200)
    with store.session() as session:
        # The same item from a second site in the same batch: the first copy is the one stored.
        seven = session.scalars(select(ListingRow).where(ListingRow.listing_id == "7")).one()
        assert (seven.price, seven.site) == (Decimal("1500.00"), "ebay.fr")


def handle_listing(listing_id: str, seen_at: datetime = NOW, **changes: Any) -> Listing:
    """A listing selling its own handle, so that listings share an asset only where a test says."""
    return listing(listing_id, seen_at=seen_at, **{"asset": f"x:gallimard_{listing_id}", **changes})


def test_a_mixed_batch_records_each_change_once(store: Store) -> None:
    """New, changed, unchanged and relisted listings in one batch bigger than the pipeline's, each
    following the rules of what a re-seen listing keeps."""
    store.save_listings(
        [
            handle_listing(name)
            for name in ("same", "repriced", "drifted", "sold", "unread-price", "unsaid-status")
        ]
        + [
            handle_listing("other-site", site="ebay.fr", url="https://www.ebay.fr/itm/9"),
            handle_listing("ended", asset="x:relisted", status="ended"),
            handle_listing("gone", asset="x:relisted_unsaid", status="gone"),
            handle_listing("ended-again", asset="x:ended_again", status="ended"),
        ],
        NOW,
    )
    later = NOW + timedelta(hours=6)
    batch = [
        handle_listing("same", later),
        handle_listing("repriced", later, price="1800.00"),
        handle_listing("drifted", later, bid_count=18, end_time=NOW + timedelta(days=1, minutes=40)),
        handle_listing("sold", later, status="sold"),
        handle_listing("unread-price", later, price=None, currency=None),
        handle_listing("unsaid-status", later, status=None),
        handle_listing(
            "other-site", later, site="ebay.com", url="https://www.ebay.com/itm/9", price="1620.00",
            currency="USD", bid_count=19,
        ),
        handle_listing("relisted", later, asset="x:relisted"),
        handle_listing("relisted-unsaid", later, asset="x:relisted_unsaid", status=None),
        handle_listing("offered-ended", later, asset="x:ended_again", status="ended"),
        handle_listing("repriced", later, price="9.00"),  # a second copy: the first one counts
        *(handle_listing(f"new-{n}", later) for n in range(1200)),
    ]  # fmt: skip
    result = store.save_listings(batch, later)
    assert result == SaveResult(listings=1210, new_listings=1203, new_hits=1203, changes=6)
    with store.session() as session:
        changes = set(
            session.execute(
                select(
                    ListingRow.listing_id,
                    ListingChange.field,
                    ListingChange.old_value,
                    ListingChange.new_value,
                ).join(ListingRow, ListingRow.id == ListingChange.listing_pk)
            ).all()
        )
        stored = {row.listing_id: row for row in session.scalars(select(ListingRow))}
    assert changes == {
        ("repriced", "price", "1500.00", "1800.00"),
        ("drifted", "bid_count", "17", "18"),
        ("sold", "status", "active", "sold"),
        ("other-site", "bid_count", "17", "19"),
        ("relisted", "status", "ended", "active"),
        ("relisted-unsaid", "status", "gone", "active"),
    }
    unread, other_site = stored["unread-price"], stored["other-site"]
    assert (unread.price, unread.currency) == (Decimal("1500.00"), "EUR")
    assert (other_site.site, other_site.url, other_site.price, other_site.currency, other_site.bid_count) == (
        "ebay.fr", "https://www.ebay.fr/itm/9", Decimal("1500.00"), "EUR", 19
    )  # fmt: skip
    assert stored["drifted"].end_time == NOW + timedelta(days=1, minutes=40), "stored as read, no change"
    assert (stored["unsaid-status"].status, stored["relisted-unsaid"].status) == ("active", "active")


@pytest.mark.parametrize(
    ("first", "then", "recorded"),
    [
        ({"price": "1500"}, {"price": "1800.5"}, [("price", "1500.00", "1800.50")]),
        ({"price": "0.10"}, {"price": "99999999.99"}, [("price", "0.10", "99999999.99")]),
        ({"price": None}, {"price": "12"}, [("price", None, "12.00")]),
        ({"currency": "EUR"}, {"currency": "USD"}, [("currency", "EUR", "USD")]),
        ({"bid_count": 0}, {"bid_count": 2**31 - 1}, [("bid_count", "0", "2147483647")]),
        ({"bid_count": 3}, {"bid_count": None}, [("bid_count", "3", None)]),
        (
            {"end_time": NOW + timedelta(days=1)},
            {"end_time": NOW + timedelta(days=3, microseconds=123456)},
            [("end_time", "2026-11-28T09:00:00+00:00", "2026-11-30T09:00:00.123456+00:00")],
        ),
        (
            {"end_time": None},
            {"end_time": datetime(2026, 12, 1, 23, 59, 59, 1, tzinfo=UTC)},
            [("end_time", None, "2026-12-01T23:59:59.000001+00:00")],
        ),
        # An hour is a change; a microsecond less is the drift of a "1d 6h left" text.
        (
            {"end_time": NOW},
            {"end_time": NOW + timedelta(hours=1)},
            [("end_time", "2026-11-27T09:00:00+00:00", "2026-11-27T10:00:00+00:00")],
        ),
        ({"end_time": NOW}, {"end_time": NOW - timedelta(minutes=59, seconds=59, microseconds=999999)}, []),
        ({"status": "active"}, {"status": "gone"}, [("status", "active", "gone")]),
    ],
    ids=[
        "price", "price-cents", "price-first-read", "currency", "bids", "bids-unread", "end-time",
        "end-time-first-read", "end-time-an-hour-later", "end-time-drift", "status",
    ],
)  # fmt: skip
def test_a_change_is_recorded_as_the_digest_reads_it(
    store: Store, first: dict[str, Any], then: dict[str, Any], recorded: list[tuple[str, str, str]]
) -> None:
    """Old and new values as text: plain decimals with their cents, whole numbers, ISO times in UTC."""
    store.save_listings([gallimard_listing("1", NOW, **first)], NOW)
    result = store.save_listings([gallimard_listing("1", NOW, **then)], NOW)
    with store.session() as session:
        changes = session.execute(
            select(ListingChange.field, ListingChange.old_value, ListingChange.new_value).order_by(
                ListingChange.id
            )
        ).all()
    assert (changes, result.changes) == (recorded, len(recorded))


@pytest.mark.parametrize(
    "text",
    [
        "tab\there, new line\nhere, carriage\rreturn",
        "back\\slash \\N \\. \\\\ end\\",
        "\\.",
        "quotes ' \" and a comma, in ;a; row",
        "Gallimard ÉDITIONS 伽利玛 🦉 \u200b\u00a0",
        "x" * 1_000_000,
    ],
    ids=["control", "backslashes", "copy-end-marker", "quotes", "unicode", "a-megabyte"],
)
def test_text_is_stored_exactly_as_read(store: Store, text: str) -> None:
    """What COPY's text format escapes (tabs, new lines, backslashes, "\\."), as written."""
    details = {"note": text, "nested": {"list": [1, text[:20]]}}
    hostile = listing(
        "1", title=text, seller=text[:200], details=details, url=f"https://example.org/{text[:50]}"
    )
    assert store.save_listings([hostile, listing("2")], NOW).new_listings == 2
    with store.session() as session:
        row = session.scalars(select(ListingRow).where(ListingRow.listing_id == "1")).one()
    assert (row.title, row.seller, row.details, row.url) == (
        text, text[:200], details, f"https://example.org/{text[:50]}"
    )  # fmt: skip


def test_the_same_item_on_another_country_site_is_no_price_change(store: Store) -> None:
    store.save_listings([listing()], NOW)
    later = NOW + timedelta(hours=6)
    other_site = listing(price="1620.00", currency="USD", site="ebay.com", bid_count=18, seen_at=later)
    assert store.save_listings([other_site], later).changes == 1  # the bids, not the price in dollars
    with store.session() as session:
        row = session.scalars(select(ListingRow)).one()
        assert (row.price, row.currency, row.site, row.bid_count) == (
            Decimal("1500.00"),
            "EUR",
            "ebay.fr",
            18,
        )


def test_an_unreadable_price_keeps_the_known_one(store: Store) -> None:
    store.save_listings([listing()], NOW)
    assert store.save_listings([listing(price=None, currency=None)], NOW).changes == 0
    with store.session() as session:
        assert session.scalar(select(ListingRow.price)) == Decimal("1500.00")


@pytest.mark.parametrize(
    ("broken", "error"),
    [
        # No rule or explanation: the batch fails before it reaches the database.
        ({"matches": [{"brand": "Gallimard"}]}, KeyError),
        # Refused by the UTC column (SQLite), or by the loading of the staging table (COPY).
        ({"end_time": datetime(2026, 11, 28, 9, 0)}, SQLAlchemyError),  # a naive time
        ({"price": "cheap"}, SQLAlchemyError),  # not a number: fitting leaves it to the column
    ],
    ids=["match-without-rule", "naive-end-time", "price-not-a-number"],
)
def test_a_failed_batch_leaves_stored_rows_untouched(
    store: Store, broken: dict[str, Any], error: type[Exception]
) -> None:
    """A database's refusal is a SQLAlchemyError, which the store pipeline counts and survives."""
    store.save_listings([listing()], NOW)
    hostile = listing(price="2000.00")
    for name, value in broken.items():
        setattr(hostile, name, value)
    with pytest.raises(error):
        store.save_listings([listing("2"), hostile], NOW)
    with store.session() as session:
        assert session.scalar(select(ListingRow.price)) == Decimal("1500.00")
        assert session.scalar(select(func.count()).select_from(ListingChange)) == 0
    assert count(store, ListingRow) == 1
    assert store.save_listings([listing("2")], NOW).new_listings == 1, "the next batch is written"


@pytest.mark.sqlite_only(reason="SQLite alters a table by copying it; PostgreSQL alters it in place")
def test_a_batch_migration_that_rebuilds_listings_keeps_every_hit(store: Store) -> None:
    """SQLite rebuilds a table by copy and drop; no foreign-key cascade may follow the drop."""
    from alembic.operations import Operations
    from sqlalchemy import Column, String

    store.save_listings([listing("1"), listing("2")], NOW)
    with store.engine.begin() as connection:
        operations = Operations(MigrationContext.configure(connection))
        with operations.batch_alter_table("listings", recreate="always") as batch:
            batch.add_column(Column("note", String(20), nullable=True))
    assert count(store, Hit) == 2


def test_a_handle_offered_again_after_its_auction_ended_is_relisted(store: Store) -> None:
    store.save_listings([gallimard_listing("1", NOW, status="ended")], NOW)
    later = NOW + timedelta(days=2)
    store.save_listings([gallimard_listing("2", later)], later)  # same asset x:gallimard, new listing
    with store.session() as session:
        relisted = session.execute(
            select(
                ListingRow.listing_id, ListingChange.field, ListingChange.old_value, ListingChange.new_value
            ).join(ListingChange, ListingChange.listing_pk == ListingRow.id)
        ).all()
    assert relisted == [("2", "status", "ended", "active")]


def test_listings_past_their_end_time_are_closed_with_a_change(store: Store) -> None:
    store.save_listings(
        [gallimard_listing("1", NOW), gallimard_listing("2", NOW, end_time=NOW + timedelta(days=9))], NOW
    )
    assert store.close_past_end(NOW + timedelta(hours=29)) == 0, "within the hour's grace"
    assert store.close_past_end(NOW + timedelta(hours=32)) == 1
    with store.session() as session:
        statuses = dict(session.execute(select(ListingRow.listing_id, ListingRow.status)).all())
        changes = session.execute(select(ListingChange.old_value, ListingChange.new_value)).all()
    assert statuses == {"1": "ended", "2": "active"}
    assert changes == [("active", "ended")]


def test_a_price_read_without_cents_is_no_change(store: Store) -> None:
    store.save_listings([gallimard_listing("1", NOW, price="2100.00")], NOW)
    result = store.save_listings([gallimard_listing("1", NOW, price="2100")], NOW)
    assert result.changes == 0
    result = store.save_listings([gallimard_listing("1", NOW, price="2500")], NOW)
    with store.session() as session:
        assert session.execute(select(ListingChange.old_value, ListingChange.new_value)).one() == (
            "2100.00",
            "2500.00",
        )


def test_a_page_that_does_not_say_the_status_keeps_the_stored_one(store: Store) -> None:
    store.save_listings([gallimard_listing("1", NOW, status="sold")], NOW)
    result = store.save_listings([gallimard_listing("1", NOW, status=None)], NOW)
    assert result.changes == 0
    store.save_listings([gallimard_listing("2", NOW, status=None)], NOW)
    with store.session() as session:
        assert dict(session.execute(select(ListingRow.listing_id, ListingRow.status)).all()) == {
            "1": "sold",
            "2": "active",
        }


@pytest.mark.parametrize(
    ("changes", "stored"),
    [
        ({"title": "Vends @Gallimard\x00 pas cher"}, {"title": "Vends @Gallimard pas cher"}),
        ({"seller": "v" * 500}, {"seller": "v" * 199 + "…"}),
        ({"category": "c" * 300, "site": "s" * 80}, {"category": "c" * 99 + "…", "site": "s" * 63 + "…"}),
        ({"price": Decimal("1e20")}, {"price": None}),
        ({"price": Decimal("99999999999999.999")}, {"price": None}),
        ({"bid_count": 2**40, "followers": 10**30}, {"bid_count": None, "followers": None}),
    ],
    ids=[
        "nul",
        "long-seller",
        "long-category-and-site",
        "huge-price",
        "price-rounding-up-to-huge",
        "huge-counts",
    ],
)
def test_a_value_its_column_cannot_hold_does_not_lose_the_batch(
    store: Store, changes: dict[str, Any], stored: dict[str, Any]
) -> None:
    """PostgreSQL refuses what SQLite stores as given; both store the same fitted values."""
    result = store.save_listings([listing("1", **changes), listing("2")], NOW)
    assert (result.new_listings, result.new_hits) == (2, 2)
    assert store.save_listings([listing("1", **changes)], NOW).new_listings == 0, "the same listing again"
    with store.session() as session:
        row = session.scalars(select(ListingRow).where(ListingRow.listing_id == "1")).one()
    assert {name: getattr(row, name) for name in stored} == stored


def test_a_hit_whose_explanation_has_a_nul_is_stored(store: Store) -> None:
    hostile = listing("1")
    hostile.matches = [{**hostile.matches[0], "explanation": "contains 'Gallimard'\x00"}]
    assert store.save_listings([hostile], NOW).new_hits == 1
    with store.session() as session:
        assert session.scalar(select(Hit.explanation)) == "contains 'Gallimard'"


def test_a_domain_longer_than_a_listing_id_stays_one_listing(store: Store) -> None:
    """Feeds name a listing by its domain, up to 253 characters, where a listing id holds 128."""
    domain = ".".join(["gallimard-livres-de-poche"] * 6) + ".com"
    later = NOW + timedelta(days=1)
    store.save_listings([gallimard_listing(domain, NOW, asset_kind="domain", asset=domain)], NOW)
    assert store.save_listings(
        [gallimard_listing(domain, NOW, asset_kind="domain", asset=domain)], later
    ) == (SaveResult(listings=1, new_listings=0, new_hits=0, changes=0))
    after = later + timedelta(minutes=1)
    assert store.unseen_active("ebay", after, 10, seen={domain}) == []
    assert store.end_unseen("ebay", after, {domain}, after) == 0, "seen under its whole name"
    with store.session() as session:
        row = session.scalars(select(ListingRow)).one()
        asset = session.scalar(select(AssetRow.value))
    assert (row.asset, asset, row.status) == (domain, domain, "active")
    assert len(row.listing_id) == 128
    assert row.listing_id.startswith(domain[:100])


def test_a_crawl_run_with_a_long_finish_reason_is_recorded(store: Store) -> None:
    reason = "closespider_" + "x" * 100
    store.record_run(
        spider="ebay", started_at=NOW, finished_at=NOW, pages_fetched=1, listings_seen=0, hits=0, new_hits=0,
        errors=0, status="broken", detail="\x00odd", finish_reason=reason,
    )  # fmt: skip
    with store.session() as session:
        run = session.scalars(select(CrawlRun)).one()
    assert (run.finish_reason, run.detail) == (reason[:63] + "…", "odd")


@pytest.mark.parametrize(
    "marketplaces",
    [("ebay", "ebay"), ("sedo", "godaddy")],
    ids=["the-same-listings", "the-same-assets-on-two-marketplaces"],
)
def test_writers_at_once_never_deadlock_nor_lose_an_update(
    store: Store, db_url: str, marketplaces: tuple[str, str]
) -> None:
    """Two crawls writing at the same time, round after round, the same listings or listings of the
    same new handles: every listing's price history is one unbroken chain ending at its stored price,
    and every handle is stored once, linked from each of its listings."""
    rounds, size = 6, 80

    def crawl(writer: int) -> None:
        own = Store(db_url)
        try:
            for round_ in range(rounds):
                price = f"{100 + 10 * round_ + writer}"  # never the price another save wrote
                batch = [
                    listing(
                        str(n), price, marketplace=marketplaces[writer], asset=f"x:gallimard_{round_}_{n}"
                    )
                    for n in range(size)
                ]
                own.save_listings(batch, NOW + timedelta(hours=round_))
        finally:
            own.close()

    with ThreadPoolExecutor(2) as pool:
        for crawled in [pool.submit(crawl, writer) for writer in (0, 1)]:
            crawled.result()
    with store.session() as session:
        changes = session.execute(
            select(
                ListingRow.marketplace,
                ListingRow.listing_id,
                ListingChange.old_value,
                ListingChange.new_value,
            )
            .join(ListingRow, ListingRow.id == ListingChange.listing_pk)
            .where(ListingChange.field == "price")
            .order_by(ListingChange.id)
        ).all()
        prices = session.execute(
            select(ListingRow.marketplace, ListingRow.listing_id, ListingRow.price)
        ).all()
        linked = session.execute(
            select(ListingRow.asset, AssetRow.value).join(AssetRow, AssetRow.id == ListingRow.asset_pk)
        ).all()
    histories: dict[tuple[str, str], list[tuple[str, str]]] = {}
    for marketplace, listing_id, old, new in changes:
        histories.setdefault((marketplace, listing_id), []).append((old, new))
    saves = 2 * rounds if marketplaces[0] == marketplaces[1] else rounds  # of each listing
    for marketplace, listing_id, price in prices:
        history = histories[marketplace, listing_id]
        assert len(history) == saves - 1, (marketplace, listing_id, history)
        assert all(before[1] == after[0] for before, after in pairwise(history)), history
        assert history[-1][1] == str(price)
    assert len(prices) == size * len(set(marketplaces))
    assert count(store, AssetRow) == rounds * size
    assert len(linked) == len(prices)
    assert all(asset == value for asset, value in linked)


def wait_for_a_lock_wait(store: Store) -> None:
    """Until a connection to the database waits for a lock another holds."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    for _ in range(6000):
        with store.engine.connect() as connection:
            if connection.scalar(query):
                return
        time.sleep(0.01)
    raise AssertionError("nobody waited for a lock within a minute")


@pytest.mark.postgres_only(reason="PostgreSQL lets writers overlap, where SQLite has one writer at a time")
@pytest.mark.parametrize(
    ("second_writer", "prices", "status"),
    [
        (
            lambda store: store.save_listings(
                [listing(price="130.00", status=None)], NOW + timedelta(hours=2)
            ),
            [("100.00", "120.00"), ("120.00", "130.00")],
            "sold",
        ),
        (lambda store: store.close_past_end(NOW + timedelta(days=3)), [("100.00", "120.00")], "sold"),
    ],
    ids=["another-crawl", "closing-past-end"],
)
def test_writers_of_one_marketplace_take_turns(
    store: Store, db_url: str, second_writer: Any, prices: list[tuple[str, str]], status: str
) -> None:
    """The second writer reads the listing as the first left it, so its history has each change once."""
    store.save_listings([listing(price="100.00")], NOW)
    first, second = Store(db_url), Store(db_url)
    written, go_on = threading.Event(), threading.Event()

    @event.listens_for(first.engine, "after_cursor_execute")
    def hold(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("INSERT INTO listings ") and not written.is_set():
            written.set()  # the first writer stops inside its transaction, its listing written
            go_on.wait(timeout=60)

    try:
        with ThreadPoolExecutor(2) as pool:
            one = pool.submit(first.save_listings, [listing(price="120.00", status="sold")], NOW)
            assert written.wait(timeout=60)
            two = pool.submit(second_writer, second)
            wait_for_a_lock_wait(store)
            go_on.set()
            one.result(), two.result()
    finally:
        first.close()
        second.close()
    with store.session() as session:
        changes = session.execute(
            select(ListingChange.field, ListingChange.old_value, ListingChange.new_value).order_by(
                ListingChange.id
            )
        ).all()
        assert session.scalar(select(ListingRow.status)) == status
    assert [(old, new) for field, old, new in changes if field == "price"] == prices
    assert [(old, new) for field, old, new in changes if field == "status"] == [("active", "sold")]


@pytest.mark.postgres_only(
    reason="COPY is PostgreSQL's; on SQLite the staging tables are filled by executemany"
)
def test_a_batch_reaches_postgresql_through_copy(db_url: str, tmp_path: Path) -> None:
    """What the server answered, from libpq's own trace of the connection: it took the batch's
    listings and matches as COPY data, and said how many rows each COPY brought."""
    from psycopg.pq import Trace

    writer = Store(db_url)  # on a migrated database: its first connection writes the batch
    trace_path = tmp_path / "libpq.trace"
    with trace_path.open("w") as trace:

        @event.listens_for(writer.engine, "connect")
        def traced(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.pgconn.trace(trace.fileno())
            dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS)

        try:
            result = writer.save_listings([listing(str(n)) for n in range(700)], NOW)
        finally:
            writer.close()  # before the trace's file: libpq writes to it until then
    said = trace_path.read_text(encoding="utf-8")
    assert result.new_listings == 700
    assert re.findall(r'Query\t "(COPY \w+)', said) == [
        "COPY brandcrawl_staged_listings",
        "COPY brandcrawl_staged_matches",
    ]
    assert "\tCopyInResponse\t" in said
    assert "\tCopyData\t" in said
    assert re.findall(r'CommandComplete\t "(COPY \d+)"', said) == ["COPY 700", "COPY 700"]
    assert "INSERT INTO brandcrawl_staged" not in said


@pytest.mark.postgres_only(reason="on SQLite the digest holds the one write lock: no crawl writes during it")
def test_a_change_a_crawl_writes_while_the_digest_reads_waits_for_the_next_digest(
    store: Store, db_url: str, watch_path: Path, tmp_path: Path
) -> None:
    store.save_listings([listing(price="100.00")], NOW)  # a new hit: the digest shows the listing
    crawl, later = Store(db_url), NOW + timedelta(hours=1)
    written: list[SaveResult] = []

    @event.listens_for(store.engine, "after_cursor_execute")
    def crawl_meanwhile(connection: Any, cursor: Any, statement: str, *_: Any) -> None:
        if " hits" in statement and not written:  # once the digest has read its new hits
            written.append(crawl.save_listings([listing(price="120.00", seen_at=later)], later))

    watch = load_watch(watch_path)
    try:
        write_digest(store, watch, tmp_path / "first", now=later)
    finally:
        crawl.close()
    assert written[0].changes == 1
    with store.session() as session:
        change = session.scalars(select(ListingChange)).one()
    assert (change.old_value, change.new_value, change.reported_in) == ("100.00", "120.00", None)
    write_digest(store, watch, tmp_path / "second", now=later)
    assert "120" in next((tmp_path / "second").glob("*.txt")).read_text(encoding="utf-8")


def test_deliveries_get_their_day_and_only_the_first_of_a_day_counts_for_it(bare_db_url: str) -> None:
    from datetime import date

    from sqlalchemy import Column, Date, Integer, String, table

    from brandcrawl.storage.models import UTCDateTime

    deliveries = table(
        "deliveries",
        Column("id", Integer),
        Column("recipient", String),
        Column("status", String),
        Column("claimed_at", UTCDateTime),
        Column("day", Date),
    )
    rows = [  # sent twice on the 27th before deliveries were once a day
        (1, "a@x.example", "sent", datetime(2026, 11, 26, 23, 30, tzinfo=UTC), date(2026, 11, 26)),
        (2, "a@x.example", "failed", datetime(2026, 11, 27, 5, 0, tzinfo=UTC), date(2026, 11, 27)),
        (3, "a@x.example", "sent", datetime(2026, 11, 27, 6, 0, tzinfo=UTC), date(2026, 11, 27)),
        (4, "a@x.example", "written", datetime(2026, 11, 27, 9, 0, tzinfo=UTC), None),
        (5, "b@x.example", "sent", datetime(2026, 11, 27, 9, 0, tzinfo=UTC), date(2026, 11, 27)),
    ]
    store = Store(bare_db_url)
    try:
        with store.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", "brandcrawl:migrations")
            config.attributes["connection"] = connection
            command.upgrade(config, "0006")
            connection.execute(
                deliveries.insert(),
                [
                    dict(zip(("id", "recipient", "status", "claimed_at"), row[:4], strict=True))
                    for row in rows
                ],
            )
            command.upgrade(config, "0007")
            days = connection.execute(select(deliveries.c.id, deliveries.c.day).order_by("id")).all()
    finally:
        store.close()
    assert days == [(row[0], row[4]) for row in rows]
