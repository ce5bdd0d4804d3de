"""The ``brandcrawl db`` command: the database's schema, migrated by Alembic on SQLite and PostgreSQL."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import make_url

from brandcrawl.commands.hits import add_db_argument
from brandcrawl.storage import Store

_UPGRADE_HINT = "run `brandcrawl db upgrade`"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds this command to ``brandcrawl``'s subcommands."""
    db = commands.add_parser(
        "db",
        help="migrate the database's schema, or show its revision",
        description="The schema of brandcrawl's database (SQLite or PostgreSQL) changes through Alembic "
        "migrations. `run`, `digest` and the crawls migrate it themselves when they start; `db upgrade` "
        "does it alone, e.g. on a new PostgreSQL database or right after installing a new brandcrawl.",
    )
    actions = db.add_subparsers(required=True, metavar="ACTION")

    upgrade = actions.add_parser(
        "upgrade",
        help="migrate the schema to the newest revision (creating it in an empty database)",
        description="Migrate the database's schema to the newest revision this brandcrawl knows, "
        "creating it in an empty database. Stored data is kept; doing it again changes nothing. Two "
        "processes migrating at once take turns. Exit status 1 with one line on a database error, or "
        "when a newer brandcrawl has already migrated the database further.",
    )
    add_db_argument(upgrade)
    upgrade.set_defaults(handler=_upgrade)

    current = actions.add_parser(
        "current",
        help="show the schema's revision, and whether it is the newest",
        description="Show the revision of the database's schema and whether it is the newest this "
        "brandcrawl knows. Changes nothing.",
    )
    add_db_argument(current)
    current.set_defaults(handler=_current)


def _upgrade(args: argparse.Namespace) -> int:
    from brandcrawl.cli import EXIT_FAILED, EXIT_OK, _db_url

    url = _db_url(args.db)
    store = Store(url)
    try:
        current, known = store.revisions()
        if current is not None and current not in known:
            print(f"brandcrawl: {_shown(url)}: {_unknown(current, known)}", file=sys.stderr)
            return EXIT_FAILED
        before = store.upgrade()  # as found once its turn came: another process may have migrated
        after, _ = store.revisions()
    finally:
        store.close()
    if before == after:
        print(f"{_shown(url)}: already at the newest revision, {after}")
    else:
        print(f"{_shown(url)}: migrated from {_revision(before)} to revision {after}")
    return EXIT_OK


def _current(args: argparse.Namespace) -> int:
    from brandcrawl.cli import EXIT_OK, _db_url

    url = _db_url(args.db)
    if _missing_sqlite_file(url):
        print(f"{_shown(url)}: no database file yet: {_UPGRADE_HINT} (or any command that stores)")
        return EXIT_OK
    store = Store(url)
    try:
        current, known = store.revisions()
    finally:
        store.close()
    if current is None:
        state = f"no schema yet (the newest revision is {known[-1]}): {_UPGRADE_HINT}"
    elif current == known[-1]:
        state = f"revision {current}, the newest"
    elif current in known:
        state = f"revision {current}, behind the newest ({known[-1]}): {_UPGRADE_HINT}"
    else:
        state = _unknown(current, known)
    print(f"{_shown(url)}: {state}")
    return EXIT_OK


def _revision(revision: str | None) -> str:
    return f"revision {revision}" if revision is not None else "an empty database"


def _unknown(revision: str, known: list[str]) -> str:
    return (
        f"revision {revision} is unknown to this brandcrawl (its newest is {known[-1]}): "
        "a newer version migrated the database"
    )


def _missing_sqlite_file(url: str) -> bool:
    """A SQLite URL naming a file that does not exist: opening it would create it."""
    parsed = make_url(url)
    return (
        parsed.get_backend_name() == "sqlite"
        and parsed.database not in (None, "", ":memory:")
        and not Path(parsed.database).exists()
    )


def _shown(url: str) -> str:
    """The URL as it can be printed: without its password."""
    return make_url(url).render_as_string(hide_password=True)
