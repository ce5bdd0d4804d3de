"""`brandcrawl db`: the schema migrated and its revision shown, on SQLite and PostgreSQL alike."""

from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from brandcrawl.cli import main
from brandcrawl.storage import Store


def migrate(db_url: str, revision: str) -> None:
    """The database's schema at ``revision``, as an older brandcrawl left it."""
    store = Store(db_url)
    try:
        with store.engine.begin() as connection:
            config = Config()
            config.set_main_option("script_location", "brandcrawl:migrations")
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        store.close()


def brandcrawl(capsys: pytest.CaptureFixture[str], *arguments: str) -> tuple[int, str, str]:
    status = main(list(arguments))
    said = capsys.readouterr()
    return status, said.out, said.err


@pytest.fixture
def newest(bare_db_url: str) -> str:
    store = Store(bare_db_url)
    try:
        return store.revisions()[1][-1]
    finally:
        store.close()


def test_upgrade_creates_the_schema_then_has_nothing_to_do(
    capsys: pytest.CaptureFixture[str], bare_db_url: str, newest: str
) -> None:
    status, out, _ = brandcrawl(capsys, "db", "current", "--db", bare_db_url)
    assert status == 0
    assert out.endswith(": run `brandcrawl db upgrade` (or any command that stores)\n") or out.endswith(
        f"no schema yet (the newest revision is {newest}): run `brandcrawl db upgrade`\n"
    )
    assert brandcrawl(capsys, "db", "upgrade", "--db", bare_db_url) == (
        0,
        f"{bare_db_url}: migrated from an empty database to revision {newest}\n",
        "",
    )
    assert brandcrawl(capsys, "db", "upgrade", "--db", bare_db_url)[1].endswith(
        f": already at the newest revision, {newest}\n"
    )
    assert brandcrawl(capsys, "db", "current", "--db", bare_db_url)[1].endswith(
        f": revision {newest}, the newest\n"
    )


def test_an_older_schema_is_migrated_with_its_data(
    capsys: pytest.CaptureFixture[str], bare_db_url: str, newest: str
) -> None:
    migrate(bare_db_url, "0004")
    store = Store(bare_db_url)
    try:
        with store.engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO listings (marketplace, listing_id, url, title, asset_kind, price_is_range, "
                    "status, first_seen, last_seen) VALUES ('ebay', '1', 'https://www.ebay.fr/itm/1', "
                    "'Vends compte @Gallimard', 'handle', false, 'active', :now, :now)"
                ),
                {"now": "2026-11-27T09:00:00+00:00"},
            )
    finally:
        store.close()
    said = brandcrawl(capsys, "db", "current", "--db", bare_db_url)[1]
    assert said.endswith(f": revision 0004, behind the newest ({newest}): run `brandcrawl db upgrade`\n")
    assert brandcrawl(capsys, "db", "upgrade", "--db", bare_db_url)[1].endswith(
        f": migrated from revision 0004 to revision {newest}\n"
    )
    store = Store(bare_db_url)
    try:
        with store.engine.connect() as connection:
            assert connection.execute(text("SELECT listing_id, title FROM listings")).all() == [
                ("1", "Vends compte @Gallimard")
            ]
    finally:
        store.close()


def test_a_schema_a_newer_brandcrawl_migrated_is_left_alone(
    capsys: pytest.CaptureFixture[str], bare_db_url: str, newest: str
) -> None:
    migrate(bare_db_url, "head")
    store = Store(bare_db_url)
    try:
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        store.close()
    unknown = f"revision 9999 is unknown to this brandcrawl (its newest is {newest})"
    status, out, err = brandcrawl(capsys, "db", "upgrade", "--db", bare_db_url)
    assert (status, out) == (1, "")
    assert err.count("\n") == 1
    assert unknown in err
    assert unknown in brandcrawl(capsys, "db", "current", "--db", bare_db_url)[1]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("postgresql+psycopg://watch:s3cret@127.0.0.1:1/brandcrawl", "database error: connection failed"),
        (
            "postgresql+pg8000://watch:s3cret@127.0.0.1:1/brandcrawl",
            "database error: the database driver pg8000 is not installed",
        ),
        ("sqlite:///{tmp}/no/such/folder/brandcrawl.db", "database error: unable to open database file"),
    ],
    ids=["no-server", "no-driver", "no-folder"],
)
def test_a_database_that_cannot_be_opened_is_said_without_its_password(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, url: str, said: str
) -> None:
    status, out, err = brandcrawl(capsys, "db", "upgrade", "--db", url.format(tmp=tmp_path))
    assert (status, out) == (1, "")
    assert err.startswith(f"brandcrawl: {said}")
    assert err.count("\n") == 1, "one line"
    assert "s3cret" not in err
