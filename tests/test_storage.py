"""Storage on a real SQLite file: schema by migration, upserts without duplicates, history of changes."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from brandcrawl.items import Listing
from brandcrawl.storage import Store
from brandcrawl.storage.models import Base, Hit, ListingChange, ListingRow
from tests.conftest import gallimard_listing

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)


def listing(listing_id: str = "1", price: str | None = "1500.00", **changes: object) -> Listing:
    values: dict = {"seen_at": NOW, "bid_count": 17, "end_time": NOW + timedelta(days=1), **changes}
    return gallimard_listing(listing_id, values.pop("seen_at"), price, **values)


def count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_migrations_build_exactly_the_models_schema(store: Store) -> None:
    with store.engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


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


def test_a_failed_batch_leaves_stored_rows_untouched(store: Store) -> None:
    store.save_listings([listing()], NOW)
    broken = listing(price="2000.00", seen_at=NOW)
    broken.matches = [{"brand": "Gallimard"}]  # no rule or explanation: the write must fail whole
    with pytest.raises(KeyError):
        store.save_listings([broken], NOW)
    with store.session() as session:
        assert session.scalar(select(ListingRow.price)) == Decimal("1500.00")
        assert session.scalar(select(func.count()).select_from(ListingChange)) == 0


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
