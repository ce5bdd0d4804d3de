"""PostgreSQL databases for the tests, when BRANDCRAWL_TEST_PG_URL names a server on this machine
(tests/with-postgres starts one)."""

from __future__ import annotations

import os
from uuid import uuid4

import pytest
from sqlalchemy import URL, Engine, create_engine, make_url, text
from sqlalchemy.pool import NullPool

from brandcrawl.storage import Store
from brandcrawl.storage.models import Base

PG_URL_VARIABLE = "BRANDCRAWL_TEST_PG_URL"
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


def postgres_admin_url() -> URL | None:
    """The test server's admin URL from the environment, or None to test on SQLite."""
    given = os.environ.get(PG_URL_VARIABLE)
    if not given:
        return None
    url = make_url(given)
    if url.get_backend_name() != "postgresql":
        raise pytest.UsageError(f"{PG_URL_VARIABLE} must be a postgresql+psycopg:// URL")
    if url.host not in _LOOPBACK:
        raise pytest.UsageError(f"{PG_URL_VARIABLE} must name a server on 127.0.0.1, not {url.host}")
    return url


class PostgresDatabases:
    """This test session's databases on the server behind an admin URL.

    Most tests share one migrated database, emptied before each: deleting a few rows takes
    milliseconds, where copying a migrated template takes a tenth of a second and migrating an empty
    database more. Tests that change the schema get a bare database of their own instead.
    """

    def __init__(self, admin_url: URL) -> None:
        self.admin_url = admin_url
        self.admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        self.prefix = f"brandcrawl_test_{uuid4().hex[:8]}"  # two sessions on one server never collide
        self.count = 0
        self.shared: Engine | None = None

    def emptied(self) -> str:
        """The shared database's URL, at the newest revision and with no rows, ids starting at 1."""
        if self.shared is None:
            url = self.bare()
            store = Store(url)
            try:
                store.upgrade()
            finally:
                store.close()
            self.shared = create_engine(url, poolclass=NullPool)
        with self.shared.begin() as connection:
            # A test that left an engine open must not hold a lock on what the next one needs.
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            for table in reversed(Base.metadata.sorted_tables):
                connection.execute(table.delete())
            connection.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(t, 'id'), 1, false) "
                    "FROM unnest(CAST(:names AS text[])) AS t"
                ),
                {"names": [table.name for table in Base.metadata.sorted_tables]},
            )
        return self.shared.url.render_as_string(hide_password=False)

    def bare(self) -> str:
        """A new database's URL, without even a schema."""
        self.count += 1
        name = f"{self.prefix}_{self.count}"
        self._execute(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'")
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def drop(self, url: str) -> None:
        # FORCE: a test that left an engine undisposed must not keep its database alive.
        self._execute(f"DROP DATABASE IF EXISTS {make_url(url).database} WITH (FORCE)")

    def close(self) -> None:
        if self.shared is not None:
            self.shared.dispose()
            self.drop(self.shared.url.render_as_string(hide_password=False))
        self.admin.dispose()

    def _execute(self, statement: str) -> None:
        with self.admin.connect() as connection:
            connection.execute(text(statement))
