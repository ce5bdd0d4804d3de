"""Batched, idempotent writes of listings and hits, and the schema's migrations."""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
import zlib
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from importlib.resources import files
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Connection, Engine, create_engine, event, func, literal, select
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from brandcrawl.storage.bulk import SaveResult, StagedBatch, insert_into
from brandcrawl.storage.fit import fit_identities, fit_row
from brandcrawl.storage.models import CrawlRun, ListingChange, ListingRow

DEFAULT_DB_URL = "sqlite:///brandcrawl.db"
# Rows read at a time when a query walks many listings.
CHUNK_SIZE = 500
# How long a SQLite connection waits for another one's write lock before "database is locked".
SQLITE_BUSY_TIMEOUT_S = 30
# PostgreSQL advisory locks, a kind of lock each (with a name's CRC-32 in the low 32 bits of the
# key), taken where SQLite's one write lock already makes writers take turns.
_MIGRATION_LOCK = 0x6272_0001
_MARKETPLACE_LOCK = 0x6272_0002


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
        """Upsert listings by (marketplace, listing_id), record what changed, add their hits: the
        whole batch at once, through staging tables (see brandcrawl.storage.bulk)."""
        batch = StagedBatch(listings, self.engine.dialect)
        if not batch.keys:
            return SaveResult()
        with self.session() as session:
            connection = session.connection()
            # What is stored is read, compared and written without another writer in between.
            self._take_turns(connection, _MARKETPLACE_LOCK, batch.marketplaces)
            return batch.write(connection, now)

    def _insert(self, model: type) -> Any:
        """The dialect's INSERT on the model's table, run with a list of rows: one statement
        compiled once and cached, where ``.values(rows)`` compiles every call anew."""
        return insert_into(model.__table__, self.engine.dialect.name)  # type: ignore[attr-defined]

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
    # The timeout waits out the other writer; WAL lets a digest read while a crawl writes.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
    _switch_to_wal(cursor)
    # Foreign keys stay unenforced on SQLite: a batch migration rebuilds a table by copying and
    # dropping it, and enforced keys would cascade that drop into every hit and change.
    cursor.close()


def _switch_to_wal(cursor: Any) -> None:
    """Two connections switching a new database to WAL at once can each hold a read lock the other
    needs gone: SQLite then fails one of them at once ("database is locked") rather than wait, so
    that one tries again once the other is through."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _sqlite_begin(connection: Any) -> None:
    """One snapshot per transaction, taken with the write lock: the sqlite3 module would otherwise
    run each SELECT on its own, and a digest could mark a change a crawl wrote between its reads."""
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _change(listing_pk: int, field: str, old: str | None, new: str | None, now: datetime) -> dict[str, Any]:
    return {"listing_pk": listing_pk, "field": field, "old_value": old, "new_value": new, "changed_at": now}
