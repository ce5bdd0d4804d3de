"""Batched, idempotent writes of listings and hits, and the schema's migrations."""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Connection, Engine, create_engine, event, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from brandcrawl.items import OFF_SALE
from brandcrawl.storage.fit import fit_identities, fit_row
from brandcrawl.storage.models import AssetRow, CrawlRun, Hit, ListingChange, ListingRow

if TYPE_CHECKING:
    from itemadapter import ItemAdapter

DEFAULT_DB_URL = "sqlite:///brandcrawl.db"
# Fields whose change on a re-seen listing is history worth a line in the digest.
TRACKED_FIELDS = ("price", "currency", "bid_count", "end_time", "status")
_LISTING_FIELDS = (
    "site",
    "url",
    "title",
    "asset_kind",
    "asset",
    "asset_text",
    "category",
    "sale_method",
    "followers",
    "details",
    "seller",
    "price",
    "currency",
    "price_is_range",
    "bid_count",
    "end_time",
    "status",
)
# What a listing looks like on one country site of a marketplace.
_SITE_BOUND_FIELDS = ("site", "url", "title", "price", "currency", "price_is_range")
# SQLite allows 32766 bound parameters; 500 rows of ~22 columns stays far below on every backend.
CHUNK_SIZE = 500
ASSET_KINDS = ("domain", "handle")
_CENT = Decimal("0.01")
# Listing fields that name the listing or what it sells: shortened with a hash when too long, not cut.
_IDENTITIES = ("marketplace", "listing_id", "asset", "brand")
# PostgreSQL advisory locks, a kind of lock each (with a name's CRC-32 in the low 32 bits of the
# key), taken where SQLite's one write lock already makes writers take turns.
_MIGRATION_LOCK = 0x6272_0001
_MARKETPLACE_LOCK = 0x6272_0002


@dataclass
class SaveResult:
    listings: int = 0
    new_listings: int = 0
    new_hits: int = 0
    changes: int = 0


@contextmanager
def _migration_scripts() -> Iterator[Path]:
    """The Alembic scripts as a folder: where they are, or copied out of a zipped egg (Scrapyd runs
    the project from one), as Alembic reads only real files."""
    scripts = files("brandcrawl.migrations")
    if isinstance(scripts, Path):
        yield scripts
        return
    with tempfile.TemporaryDirectory(prefix="brandcrawl-migrations-") as folder:
        _copy_tree(scripts, Path(folder))
        yield Path(folder)


def _copy_tree(source: Traversable, target: Path) -> None:
    for entry in source.iterdir():
        if entry.is_dir():
            (target / entry.name).mkdir()
            _copy_tree(entry, target / entry.name)
        else:
            (target / entry.name).write_bytes(entry.read_bytes())


def db_url_from_env(default: str = DEFAULT_DB_URL) -> str:
    return os.environ.get("BRANDCRAWL_DB_URL") or default


class Store:
    def __init__(self, url: str = DEFAULT_DB_URL) -> None:
        self.url = url
        try:
            self.engine: Engine = create_engine(url)
        except ModuleNotFoundError as missing:
            # Said without the URL, which may hold a password. SQLite's driver comes with Python.
            raise ArgumentError(
                f"the database driver {missing.name} is not installed "
                "(PostgreSQL: pip install 'brandcrawl[postgresql]', then a postgresql+psycopg:// URL)"
            ) from missing
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", _sqlite_begin)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def upgrade(self) -> str | None:
        """Create or migrate the schema to the newest revision (safe to call on every start); returns
        the revision it found (None: an empty database)."""
        from alembic import command  # only here: most processes never migrate
        from alembic.config import Config
        from alembic.runtime.migration import MigrationContext

        with _migration_scripts() as folder, self.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", str(folder))
            # Two processes starting on a new database: the second waits, then finds it migrated.
            self._take_turns(connection, _MIGRATION_LOCK, [""])
            found = MigrationContext.configure(connection).get_current_revision()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        return found

    def revisions(self) -> tuple[str | None, list[str]]:
        """The schema's revision in the database (None before the first upgrade), and every revision
        this brandcrawl can migrate to, oldest first."""
        from alembic.runtime.migration import MigrationContext
        from alembic.script import ScriptDirectory

        with _migration_scripts() as folder, self.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
            known = [script.revision for script in ScriptDirectory(str(folder)).walk_revisions()]
        return current, known[::-1]

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def snapshot(self) -> Iterator[Session]:
        """A session whose reads all see the database as it was at the first one, as every SQLite
        transaction does (see _sqlite_begin): REPEATABLE READ on PostgreSQL, whose default lets each
        statement see what others committed meanwhile. For a digest: what it marks is what it read.
        On PostgreSQL a write to rows another transaction changed meanwhile fails the whole session."""
        with self.session() as session:
            if self.engine.dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    def close(self) -> None:
        self.engine.dispose()

    def save_listings(self, listings: Sequence[Any], now: datetime) -> SaveResult:
        """Upsert listings by (marketplace, listing_id), record what changed, add their hits."""
        # Imported here: itemadapter imports Scrapy and Twisted (~35 MB), which a digest run,
        # reading and marking only, does without.
        from itemadapter import ItemAdapter

        unique: dict[tuple[str, str], ItemAdapter] = {}
        for item in listings:
            adapter = _fitted(ItemAdapter(item))
            unique.setdefault((adapter["marketplace"], adapter["listing_id"]), adapter)
        result = SaveResult(listings=len(unique))
        keys = sorted(unique)  # a fixed order keeps concurrent writers from deadlocking
        with self.session() as session:
            # What is stored is read, compared and written without another writer in between.
            self._take_turns(session.connection(), _MARKETPLACE_LOCK, [market for market, _ in keys])
            for start in range(0, len(keys), CHUNK_SIZE):
                chunk = [unique[key] for key in keys[start : start + CHUNK_SIZE]]
                self._save_chunk(session, chunk, now, result)
        return result

    def _save_chunk(
        self, session: Session, chunk: list[ItemAdapter], now: datetime, result: SaveResult
    ) -> None:
        existing = {(row.marketplace, row.listing_id): row for row in _existing_rows(session, chunk)}
        rows = [
            {
                "marketplace": item["marketplace"],
                "listing_id": item["listing_id"],
                **_listing_values(item, existing.get((item["marketplace"], item["listing_id"]))),
                "first_seen": now,
                "last_seen": now,
            }
            for item in chunk
        ]
        asset_pks = self._save_assets(session, rows, now)
        for row in rows:
            row["asset_pk"] = asset_pks.get((row["asset_kind"], row["asset"]))
        insert = self._insert(ListingRow)
        upsert = insert.on_conflict_do_update(
            index_elements=["marketplace", "listing_id"],
            set_={name: insert.excluded[name] for name in (*_LISTING_FIELDS, "asset_pk", "last_seen")},
        )
        session.execute(upsert, rows)
        pks = _primary_keys(session, chunk)

        changes, hits = [], []
        ended_before = _ended_with_same_asset(
            session, [item for item in chunk if (item["marketplace"], item["listing_id"]) not in existing]
        )
        for item in chunk:
            key = (item["marketplace"], item["listing_id"])
            if (before := existing.get(key)) is None:
                result.new_listings += 1
                old = ended_before.get((item["marketplace"], item.get("asset")))
                if old and old[0] != pks[key] and item.get("status") in ("active", None):
                    # The handle or domain whose listing ended is offered again, under a new listing.
                    changes.append(_change(pks[key], "status", old[1], item.get("status"), now))
            else:
                changes += _changes(before, _listing_values(item, before), pks[key], now)
            hits += [
                {
                    "listing_pk": pks[key],
                    "brand": match["brand"],
                    "rule": match["rule"],
                    "matched": match["matched"][:300],
                    "explanation": match["explanation"],
                    "score": match["score"],
                    "first_seen": now,
                }
                for match in item.get("matches") or ()
            ]
        if changes:
            session.execute(self._insert(ListingChange), changes)
            result.changes += len(changes)
        if hits:
            inserted = session.execute(
                self._insert(Hit).on_conflict_do_nothing().returning(Hit.__table__.c.id), hits
            ).all()
            result.new_hits += len(inserted)

    def _save_assets(
        self, session: Session, rows: list[dict[str, Any]], now: datetime
    ) -> dict[tuple[str, str], int]:
        """The domains and handles on sale in ``rows``, each stored once: (kind, value) → its id."""
        wanted = sorted(
            {(r["asset_kind"], r["asset"]) for r in rows if r["asset"] and r["asset_kind"] in ASSET_KINDS}
        )
        if not wanted:
            return {}
        session.execute(
            self._insert(AssetRow).on_conflict_do_nothing(),
            [{"kind": kind, "value": value, "first_seen": now} for kind, value in wanted],
        )
        found = session.execute(
            select(AssetRow.kind, AssetRow.value, AssetRow.id).where(
                AssetRow.value.in_({value for _, value in wanted})
            )
        )
        return {(kind, value): pk for kind, value, pk in found}

    def _insert(self, model: type) -> Any:
        """The dialect's INSERT (for its ON CONFLICT) on the model's table, run with a list of rows:
        one statement compiled once and cached, where ``.values(rows)`` compiles every chunk anew."""
        dialect = {"sqlite": sqlite, "postgresql": postgresql}.get(self.engine.dialect.name)
        if dialect is None:
            raise RuntimeError(f"unsupported database {self.engine.dialect.name!r}: use SQLite or PostgreSQL")
        return dialect.insert(model.__table__)  # type: ignore[attr-defined]

    def unseen_active(
        self, marketplace: str, since: datetime, limit: int, seen: Collection[str] = ()
    ) -> list[ListingRow]:
        """Up to ``limit`` active listings of a marketplace not seen since ``since`` nor among the
        ``seen`` listing ids (read by a crawl that has not written them yet), the longest unseen first."""
        query = (
            select(ListingRow)
            .where(
                ListingRow.marketplace == marketplace,
                ListingRow.status == "active",
                ListingRow.last_seen < since,
            )
            .order_by(ListingRow.last_seen, ListingRow.id)
            .execution_options(yield_per=CHUNK_SIZE)
        )
        found: list[ListingRow] = []
        seen = fit_identities(ListingRow.__table__.c.listing_id, seen)
        with self.session() as session:
            for row in session.scalars(query):
                if row.listing_id not in seen:
                    found.append(row)
                    if len(found) == limit:
                        break
        return found

    def recent_listings_seen(self, marketplace: str, runs: int) -> list[int]:
        """Listings read by each of a marketplace's last ``runs`` healthy runs, newest first."""
        with self.session() as session:
            return list(
                session.scalars(
                    select(CrawlRun.listings_seen)
                    .where(CrawlRun.spider == marketplace, CrawlRun.status == "ok")
                    .order_by(CrawlRun.id.desc())
                    .limit(runs)
                )
            )

    def end_unseen(self, marketplace: str, since: datetime, seen: Collection[str], now: datetime) -> int:
        """Mark as ended, each with its change, a marketplace's active listings not seen since ``since``
        nor among ``seen``: its whole inventory was read and they are no longer in it."""
        seen = fit_identities(ListingRow.__table__.c.listing_id, seen)
        with self.session() as session:
            self._take_turns(session.connection(), _MARKETPLACE_LOCK, [marketplace])
            rows = [
                row
                for row in session.scalars(
                    select(ListingRow).where(
                        ListingRow.marketplace == marketplace,
                        ListingRow.status == "active",
                        ListingRow.last_seen < since,
                    )
                )
                if row.listing_id not in seen
            ]
            return self._end(session, rows, now)

    def close_past_end(self, now: datetime, grace: timedelta = timedelta(hours=1)) -> int:
        """Mark active listings whose end time has passed as ended, each with its change; returns how
        many. Their marketplace would say so if re-crawled; a search no longer shows them."""
        past_end = (ListingRow.status == "active", ListingRow.end_time < now - grace)
        with self.session() as session:
            marketplaces = session.scalars(select(ListingRow.marketplace).where(*past_end).distinct()).all()
            self._take_turns(session.connection(), _MARKETPLACE_LOCK, marketplaces)
            rows = session.scalars(select(ListingRow).where(*past_end)).all()  # as they are now
            return self._end(session, list(rows), now)

    def _end(self, session: Session, rows: list[ListingRow], now: datetime) -> int:
        """Mark listings ended, each with its change; returns how many."""
        for row in rows:
            row.status = "ended"
        if rows:
            session.execute(
                self._insert(ListingChange),
                [_change(row.id, "status", "active", "ended", now) for row in rows],
            )
        return len(rows)

    def record_run(self, **fields: Any) -> int:
        with self.session() as session:
            run = CrawlRun(**fit_row(CrawlRun.__table__, fields))
            session.add(run)
            session.flush()
            return run.id

    def record_not_crawled(
        self, marketplace: str, when: datetime, detail: str, job: str | None = None
    ) -> int:
        """A crawl that never looked (its spider could not start, or no Scrapyd job recorded a run):
        a broken run, so the digest's health says the marketplace was not checked."""
        return self.record_run(
            spider=marketplace,
            started_at=when,
            finished_at=when,
            pages_fetched=0,
            listings_seen=0,
            hits=0,
            new_hits=0,
            errors=1,
            status="broken",
            detail=detail,
            finish_reason=None,
            job=job,
        )

    def _take_turns(self, connection: Connection, lock: int, names: Iterable[str]) -> None:
        """On PostgreSQL, wait for then hold until commit the lock of each name (in a fixed order, so
        that two writers never wait for each other). SQLite needs none: BEGIN IMMEDIATE takes the
        database's one write lock (see _sqlite_begin)."""
        if self.engine.dialect.name != "postgresql":
            return
        for name in sorted(set(names)):
            key = (lock << 32) | zlib.crc32(name.encode())
            connection.execute(select(func.pg_advisory_xact_lock(literal(key, BigInteger))))


def _sqlite_connect(connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions start (see _sqlite_begin).
    connection.isolation_level = None
    cursor = connection.cursor()
    # WAL lets a digest read while a crawl writes; the timeout waits out the other writer.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    # Foreign keys stay unenforced on SQLite: a batch migration rebuilds a table by copying and
    # dropping it, and enforced keys would cascade that drop into every hit and change.
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    """One snapshot per transaction, taken with the write lock: the sqlite3 module would otherwise
    run each SELECT on its own, and a digest could mark a change a crawl wrote between its reads."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _fitted(item: ItemAdapter) -> ItemAdapter:
    """The listing with each value as its column can store it (see brandcrawl.storage.fit): the item
    itself when all fit, else a copy, the item being the crawl's (feed exports show it as read)."""
    from itemadapter import ItemAdapter

    values = {name: item.get(name) for name in ("marketplace", "listing_id", *_LISTING_FIELDS)}
    matches = list(item.get("matches") or ())
    fitted = fit_row(ListingRow.__table__, values, _IDENTITIES)
    fitted_matches = [fit_row(Hit.__table__, match, _IDENTITIES) for match in matches]
    if fitted == values and fitted_matches == matches:
        return item
    return ItemAdapter({**item.asdict(), **fitted, "matches": fitted_matches})


def _by_marketplace(chunk: Iterable[ItemAdapter]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = {}
    for item in chunk:
        grouped.setdefault(item["marketplace"], []).append(item["listing_id"])
    return grouped


def _existing_rows(session: Session, chunk: list[ItemAdapter]) -> list[ListingRow]:
    rows: list[ListingRow] = []
    for marketplace, ids in _by_marketplace(chunk).items():
        query = select(ListingRow).where(
            ListingRow.marketplace == marketplace, ListingRow.listing_id.in_(ids)
        )
        rows += session.scalars(query)
    for row in rows:
        session.expunge(row)  # keep the values as they were before this upsert
    return rows


def _primary_keys(session: Session, chunk: list[ItemAdapter]) -> dict[tuple[str, str], int]:
    pks = {}
    for marketplace, ids in _by_marketplace(chunk).items():
        query = select(ListingRow.id, ListingRow.listing_id).where(
            ListingRow.marketplace == marketplace, ListingRow.listing_id.in_(ids)
        )
        pks.update({(marketplace, listing_id): pk for pk, listing_id in session.execute(query)})
    return pks


def _listing_values(item: ItemAdapter, before: ListingRow | None) -> dict[str, Any]:
    """The values to store for a listing, given what is stored already."""
    values = {name: item.get(name) for name in _LISTING_FIELDS}
    if values["price"] is not None:
        # As the column stores it, so that "2100" read now and "2100.00" stored are no change.
        values["price"] = Decimal(values["price"]).quantize(_CENT)
    if values["status"] is None:
        values["status"] = before.status if before is not None else "active"
    if before is None:
        return values
    if before.site and values["site"] != before.site:
        # eBay shows one item on every country site, priced in that site's currency: keep the
        # site it was first stored from, so that each crawl's order of sites is not a "change".
        for name in _SITE_BOUND_FIELDS:
            values[name] = getattr(before, name)
    if values["price"] is None:
        # A price that could not be read this time is unknown, not removed.
        values["price"], values["currency"], values["price_is_range"] = (
            before.price,
            before.currency,
            before.price_is_range,
        )
    return values


def _ended_with_same_asset(
    session: Session, new: list[ItemAdapter]
) -> dict[tuple[str, str], tuple[int, str]]:
    """For new listings' assets, an earlier listing of the same asset on the same marketplace that has
    ended, sold or gone: (marketplace, asset) → (its primary key, its status)."""
    assets = {
        item.get("asset")
        for item in new
        if item.get("asset_kind") in ("domain", "handle") and item.get("asset")
    }
    if not assets:
        return {}
    found: dict[tuple[str, str], tuple[int, str]] = {}
    for marketplace, asset, pk, status in session.execute(
        select(ListingRow.marketplace, ListingRow.asset, ListingRow.id, ListingRow.status)
        .where(ListingRow.asset.in_(assets), ListingRow.status.in_(OFF_SALE))
        .order_by(ListingRow.id)
    ):
        found[(marketplace, asset)] = (pk, status)
    return found


def _change(listing_pk: int, field: str, old: Any, new: Any, now: datetime) -> dict[str, Any]:
    return {
        "listing_pk": listing_pk,
        "field": field,
        "old_value": _as_text(old),
        "new_value": _as_text(new),
        "changed_at": now,
    }


def _changes(
    before: ListingRow, values: dict[str, Any], listing_pk: int, now: datetime
) -> list[dict[str, Any]]:
    return [
        _change(listing_pk, name, getattr(before, name), values[name], now)
        for name in TRACKED_FIELDS
        if getattr(before, name) != values[name]
        and not (name == "end_time" and _display_drift(getattr(before, name), values[name]))
    ]


def _display_drift(old: datetime | None, new: datetime | None) -> bool:
    # End times come from "1d 6h left" texts relative to the fetch time, so they drift by the
    # rounding of that text between two crawls; only a real extension or shortening is a change.
    return old is not None and new is not None and abs((old - new).total_seconds()) < 3600


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)
