"""A batch of listings written as sets: the same SQL on SQLite and PostgreSQL, two ways to load it.

The batch goes into two staging tables, its listings and their matches (temporary tables, made once
per connection and empty at every commit): with COPY on PostgreSQL, one executemany on SQLite. Then
a few statements, each over the whole batch, do the rest:

1. resolve: a re-seen listing's stored id, and the values it keeps from what is stored (below);
2. the domains and handles on sale, each stored once (``assets``);
3. what changed on re-seen listings (``listing_changes``);
4. the listings, inserted or updated by (marketplace, listing_id);
5. a new listing of a domain or handle whose earlier listing on the marketplace ended: relisted, a
   status change from that listing's status;
6. the hits, counting the new ones.

What a re-seen listing keeps from what is stored:

- its country site's values: eBay shows one item on every country site, priced in that site's
  currency, so the site it was first stored from keeps its site, url, title, price, currency and
  range, and the order a crawl reads the sites in is no change;
- a price not read this time is unknown, not removed: its price, currency and range stay;
- a status not read (None) stays ('active' for a new listing).

And an end time moved by less than an hour is no change: end times are read from "1d 6h left"
texts relative to the fetch time, whose rounding drifts between two crawls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, is_dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Dialect,
    Integer,
    MetaData,
    Table,
    Text,
    and_,
    bindparam,
    case,
    cast,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.schema import CreateTable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from brandcrawl.items import OFF_SALE
from brandcrawl.storage.fit import fit_row
from brandcrawl.storage.models import AssetRow, Hit, ListingChange, ListingRow, UTCDateTime

# Fields whose change on a re-seen listing is history worth a line in the digest.
TRACKED_FIELDS = ("price", "currency", "bid_count", "end_time", "status")
LISTING_FIELDS = (
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
ASSET_KINDS = ("domain", "handle")
_DRIFT_SECONDS = 3600
# Listing fields that name the listing or what it sells: shortened with a hash when too long, not cut.
_IDENTITIES = ("marketplace", "listing_id", "asset", "brand")
_MATCH_FIELDS = ("brand", "rule", "matched", "explanation", "score")
# A listing's fields as read from its item and staged, in the staging table's order.
_READ = ("marketplace", "listing_id", *LISTING_FIELDS)

_LISTINGS = ListingRow.__table__
_HITS = Hit.__table__
_ASSETS = AssetRow.__table__
_CHANGES = ListingChange.__table__

_staging = MetaData()
STAGED_LISTINGS = Table(
    "brandcrawl_staged_listings",
    _staging,
    Column("seq", Integer, primary_key=True, autoincrement=False),  # the listing's place in the batch
    Column("listing_pk", Integer),  # the stored listing's id, once resolved; None: a new listing
    *(Column(name, _LISTINGS.c[name].type) for name in _READ),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
STAGED_MATCHES = Table(
    "brandcrawl_staged_matches",
    _staging,
    Column("seq", Integer),  # the match's place in the batch
    Column("listing_seq", Integer),
    *(Column(name, _HITS.c[name].type) for name in _MATCH_FIELDS),
    prefixes=["TEMPORARY"],
    postgresql_on_commit="DELETE ROWS",
)
# What the batch fills in; the rest (listing_pk) the statements do.
_LOADED = {
    STAGED_LISTINGS: [column for column in STAGED_LISTINGS.c if column.name != "listing_pk"],
    STAGED_MATCHES: list(STAGED_MATCHES.c),
}
_CREATE = {table: CreateTable(table, if_not_exists=True) for table in _LOADED}
_NOW = bindparam("now", type_=UTCDateTime())
# The INSERT of either database, for its ON CONFLICT clauses.
_Insert = postgresql.Insert | sqlite.Insert


@dataclass
class SaveResult:
    """What a batch wrote: its listings (one per marketplace and id), how many were new, their new
    hits, and the changes recorded."""

    listings: int = 0
    new_listings: int = 0
    new_hits: int = 0
    changes: int = 0


class StagedBatch:
    """A batch of listings made ready for the staging tables: one copy of each listing (the first),
    in a fixed order, each value fitted to its column (see brandcrawl.storage.fit) and bound as the
    database driver takes it."""

    def __init__(self, listings: Iterable[Any], dialect: Dialect) -> None:
        self.dialect = dialect
        unique: dict[tuple[str, str], tuple[dict[str, Any], Any]] = {}
        for item in listings:
            read = _field_reader(item)
            values = fit_row(_LISTINGS, {name: read(name) for name in _READ}, _IDENTITIES)
            unique.setdefault((values["marketplace"], values["listing_id"]), (values, read("matches")))
        # A fixed order keeps concurrent writers from deadlocking.
        self.keys = sorted(unique)
        listing_rows: list[list[Any]] = []
        match_rows: list[list[Any]] = []
        for seq, key in enumerate(self.keys):
            values, matches = unique[key]
            listing_rows.append([seq, *(values[name] for name in _READ)])
            for match in matches or ():
                fitted = fit_row(_HITS, match, _IDENTITIES)
                match_rows.append([len(match_rows), seq, *(fitted[name] for name in _MATCH_FIELDS)])
        self.rows = {
            STAGED_LISTINGS: _bind(STAGED_LISTINGS, listing_rows, dialect),
            STAGED_MATCHES: _bind(STAGED_MATCHES, match_rows, dialect),
        }

    @property
    def marketplaces(self) -> set[str]:
        return {marketplace for marketplace, _ in self.keys}

    def write(self, connection: Connection, now: datetime) -> SaveResult:
        """Stage the batch and write it, in the connection's transaction."""
        statements = _statements(self.dialect.name)
        on_postgresql = self.dialect.name == "postgresql"
        if on_postgresql:
            # Each statement reads a few rows by index in a millisecond or two, but an estimate
            # over jit_above_cost (the relisted one's, say) would have it compiled first, in ~20 ms.
            connection.exec_driver_sql("SET LOCAL jit = off")
        for table, rows in self.rows.items():
            connection.execute(_CREATE[table])
            if rows:
                (_copy if on_postgresql else _insert_many)(connection, table, rows)
        params = {"now": now}
        existing = connection.execute(statements.resolve).rowcount
        connection.execute(statements.assets, params)
        changes = connection.execute(statements.changes, params).rowcount
        connection.execute(statements.listings, params)
        changes += connection.execute(statements.relisted, params).rowcount
        new_hits = connection.execute(statements.hits, params).rowcount
        if not on_postgresql:  # SQLite knows no ON COMMIT DELETE ROWS
            for table in self.rows:
                connection.execute(table.delete())
        return SaveResult(
            listings=len(self.keys),
            new_listings=len(self.keys) - existing,
            new_hits=new_hits,
            changes=changes,
        )


def _field_reader(item: Any) -> Callable[[str], Any]:
    """How to read an item's fields: a dataclass's (every spider's Listing) from its attributes,
    anything else through ItemAdapter, which builds a table of the fields for each item it wraps:
    a third of the time a million-row load spends in Python."""
    if is_dataclass(item) and not isinstance(item, type):
        return lambda name: getattr(item, name, None)
    # Imported here: itemadapter imports Scrapy and Twisted (~35 MB), which a digest run,
    # reading and marking only, does without.
    from itemadapter import ItemAdapter

    return ItemAdapter(item).get


def insert_into(table: Table, dialect_name: str) -> _Insert:
    """The dialect's INSERT (for its ON CONFLICT) on ``table``."""
    module = {"sqlite": sqlite, "postgresql": postgresql}.get(dialect_name)
    if module is None:
        raise RuntimeError(f"unsupported database {dialect_name!r}: use SQLite or PostgreSQL")
    return module.insert(table)


def _bind(table: Table, rows: list[list[Any]], dialect: Dialect) -> list[list[Any]]:
    """The rows, in place, as SQLAlchemy would bind them to the staging table's columns (UTC times,
    JSON text…), for a load that goes past SQLAlchemy: COPY, or a plain executemany."""
    binders: list[tuple[int, Callable[[Any], Any]]] = []
    for index, column in enumerate(_LOADED[table]):
        process = column.type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            binders.append((index, process))
    for row in rows:
        try:
            for index, process in binders:
                row[index] = process(row[index])
        except (TypeError, ValueError, ArithmeticError) as error:
            # As SQLAlchemy says it of a value it cannot bind: the pipeline keeps the batch for later.
            raise StatementError(str(error), str(table.insert()), None, error) from error
    return rows


def _copy(connection: Connection, table: Table, rows: list[list[Any]]) -> None:
    """COPY the rows into the staging table (PostgreSQL, psycopg), in the connection's transaction."""
    quote = connection.dialect.identifier_preparer.quote
    columns = ", ".join(quote(column.name) for column in _LOADED[table])
    statement = f"COPY {quote(table.name)} ({columns}) FROM STDIN"
    driver_error = connection.dialect.loaded_dbapi.Error
    driver = connection.connection.driver_connection
    assert driver is not None  # a connection in a transaction
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except driver_error as error:
        # Said as SQLAlchemy says the driver's errors, which the pipeline counts and survives.
        raise DBAPIError.instance(statement, None, error, driver_error) from error


def _insert_many(connection: Connection, table: Table, rows: list[list[Any]]) -> None:
    """Insert the rows into the staging table (SQLite) with one executemany."""
    statement = table.insert().compile(
        dialect=connection.dialect, column_keys=[column.name for column in _LOADED[table]]
    )
    connection.exec_driver_sql(str(statement), [tuple(row) for row in rows])  # as SQLAlchemy takes them


# --- The statements -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Statements:
    resolve: Any
    assets: Any
    changes: Any
    listings: Any
    relisted: Any
    hits: Any


@cache
def _statements(dialect_name: str) -> _Statements:
    """The batch's statements on one kind of database (built once; SQLAlchemy caches their SQL)."""
    # SQLAlchemy keeps the count of rows an INSERT wrote only when asked to.
    counted = {"preserve_rowcount": True}
    return _Statements(
        resolve=_resolve(),
        assets=_assets(insert_into(_ASSETS, dialect_name)),
        changes=_tracked_changes(insert_into(_CHANGES, dialect_name)).execution_options(**counted),
        listings=_listings(insert_into(_LISTINGS, dialect_name)),
        relisted=_relisted(insert_into(_CHANGES, dialect_name)).execution_options(**counted),
        hits=_hits(insert_into(_HITS, dialect_name)).execution_options(**counted),
    )


_staged, _stored, _matches = STAGED_LISTINGS.c, _LISTINGS.c, STAGED_MATCHES.c
_SAME_LISTING = and_(_stored.marketplace == _staged.marketplace, _stored.listing_id == _staged.listing_id)
_SELLS_AN_ASSET = and_(_staged.asset_kind.in_(ASSET_KINDS), _staged.asset != "")


def _resolve() -> Any:
    """Re-seen listings: their stored id, and the values they keep from what is stored."""
    other_site = and_(func.coalesce(_stored.site, "") != "", _staged.site.is_distinct_from(_stored.site))
    keeps_price = or_(_staged.price.is_(None), other_site)
    kept = {"site": other_site, "url": other_site, "title": other_site}
    kept |= {"price": keeps_price, "currency": keeps_price, "price_is_range": keeps_price}
    return (
        update(STAGED_LISTINGS)
        .where(_SAME_LISTING)
        .values(
            listing_pk=_stored.id,
            status=func.coalesce(_staged.status, _stored.status),
            **{name: case((when, _stored[name]), else_=_staged[name]) for name, when in kept.items()},
        )
    )


def _assets(insert: _Insert) -> Any:
    """The domains and handles on sale, each stored once (in a fixed order: no deadlock)."""
    wanted = (
        select(_staged.asset_kind, _staged.asset, _NOW)
        .where(_SELLS_AN_ASSET)
        .distinct()
        .order_by(_staged.asset_kind, _staged.asset)
    )
    return insert.from_select(["kind", "value", "first_seen"], wanted).on_conflict_do_nothing()


def _tracked_changes(insert: _Insert) -> Any:
    """A change for each tracked field a re-seen listing's resolved value changes, in the batch's
    order, then the fields' order."""
    found = []
    for order, name in enumerate(TRACKED_FIELDS):
        old, new = _stored[name], _staged[name]
        changed = new.is_distinct_from(old)
        if name == "end_time":
            changed = and_(
                changed, or_(old.is_(None), new.is_(None), _SecondsApart(old, new) >= _DRIFT_SECONDS)
            )
        found.append(
            select(
                _stored.id.label("listing_pk"),
                literal(name).label("field"),
                _as_text(name, old).label("old_value"),
                _as_text(name, new).label("new_value"),
                _staged.seq.label("seq"),
                literal(order).label("field_order"),
            )
            .join_from(STAGED_LISTINGS, _LISTINGS, _stored.id == _staged.listing_pk)
            .where(changed)
        )
    changes = union_all(*found).subquery()
    rows = select(
        changes.c.listing_pk, changes.c.field, changes.c.old_value, changes.c.new_value, _NOW
    ).order_by(changes.c.seq, changes.c.field_order)
    return insert.from_select(["listing_pk", "field", "old_value", "new_value", "changed_at"], rows)


def _listings(insert: _Insert) -> Any:
    """Every listing of the batch inserted, or updated where stored (its first_seen kept)."""
    status = func.coalesce(_staged.status, "active")
    fields = [status if name == "status" else _staged[name] for name in LISTING_FIELDS]
    # Looked up listing by listing, not joined: a join lets PostgreSQL hash the whole assets table
    # for every batch while its statistics still say the table is small.
    asset_pk = (
        select(_ASSETS.c.id)
        .where(_ASSETS.c.kind == _staged.asset_kind, _ASSETS.c.value == _staged.asset)
        .scalar_subquery()
    )
    rows = (
        select(
            _staged.marketplace,
            _staged.listing_id,
            *fields,
            asset_pk,
            _NOW.label("first_seen"),
            _NOW.label("last_seen"),
        )
        .where(true())  # SQLite would read "ON CONFLICT" as part of the SELECT without a WHERE
        .order_by(_staged.seq)
    )
    names = ["marketplace", "listing_id", *LISTING_FIELDS, "asset_pk", "first_seen", "last_seen"]
    upsert = insert.from_select(names, rows)
    return upsert.on_conflict_do_update(
        index_elements=["marketplace", "listing_id"],
        set_={name: upsert.excluded[name] for name in (*LISTING_FIELDS, "asset_pk", "last_seen")},
    )


def _relisted(insert: _Insert) -> Any:
    """New listings on sale of an asset whose latest listing on the same marketplace went off sale
    (that listing's status → active). Run after the listings are written, so that a listing of the
    batch that ended counts too."""
    earlier = _LISTINGS.alias("earlier")
    went_off_sale = (
        select(earlier.c.status)
        .where(
            earlier.c.asset == _staged.asset,
            # Not "=": PostgreSQL would also look the marketplace up in the (marketplace, listing_id)
            # index until its statistics say one marketplace holds most listings, reading them all
            # for each new listing. The asset's own index finds the few listings worth reading.
            earlier.c.marketplace.is_not_distinct_from(_staged.marketplace),
            earlier.c.status.in_(OFF_SALE),
        )
        .order_by(earlier.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    offered = (
        select(_stored.id.label("listing_pk"), went_off_sale.label("old_value"), _staged.seq)
        .join_from(STAGED_LISTINGS, _LISTINGS, _SAME_LISTING)
        .where(
            _staged.listing_pk.is_(None),
            func.coalesce(_staged.status, "active") == "active",
            _SELLS_AN_ASSET,
        )
        .subquery()
    )
    rows = (
        select(offered.c.listing_pk, literal("status"), offered.c.old_value, literal("active"), _NOW)
        .where(offered.c.old_value.is_not(None))
        .order_by(offered.c.seq)
    )
    return insert.from_select(["listing_pk", "field", "old_value", "new_value", "changed_at"], rows)


def _hits(insert: _Insert) -> Any:
    """Each match as a hit of its listing, unless the listing already has one for the brand."""
    rows = (
        select(
            _stored.id,
            _matches.brand,
            _matches.rule,
            _matches.matched,
            _matches.explanation,
            _matches.score,
            _NOW,
        )
        .join_from(STAGED_MATCHES, STAGED_LISTINGS, _staged.seq == _matches.listing_seq)
        .join(_LISTINGS, _SAME_LISTING)
        .where(true())  # see _listings
        .order_by(_matches.seq)
    )
    names = ["listing_pk", "brand", "rule", "matched", "explanation", "score", "first_seen"]
    return insert.from_select(names, rows).on_conflict_do_nothing()


# --- Values as text, and times apart, as the row-by-row store computed them in Python -------------


def _as_text(field: str, value: Any) -> Any:
    """A tracked field's value as a change records it: str() of the Python value (isoformat() for a
    time), as the digest reads it back."""
    if field == "price":
        return _CentsText(value)
    if field == "bid_count":
        return cast(value, Text)
    if field == "end_time":
        return _IsoTimeText(value)
    return value


class _CentsText(FunctionElement[str]):
    """A price as text with its two decimals ("2100.00")."""

    type = Text()
    inherit_cache = True


class _IsoTimeText(FunctionElement[str]):
    """A time as datetime.isoformat() writes it in UTC: "2026-11-27T09:00:00+00:00", with
    ".ffffff" before the zone when it has microseconds."""

    type = Text()
    inherit_cache = True


class _SecondsApart(FunctionElement[float]):
    """How many seconds two times are apart (exact to the microsecond)."""

    inherit_cache = True


def _arguments(element: FunctionElement[Any], compiler: SQLCompiler, **kw: Any) -> list[str]:
    return [compiler.process(argument, **kw) for argument in element.clauses]


@compiles(_CentsText, "postgresql")
def _cents_text_postgresql(element: _CentsText, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _arguments(element, compiler, **kw)
    return f"CAST({value} AS TEXT)"  # numeric(16, 2) keeps its scale


@compiles(_CentsText, "sqlite")
def _cents_text_sqlite(element: _CentsText, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite stores the price as a number (SQLAlchemy binds it as a float), without its scale.
    (value,) = _arguments(element, compiler, **kw)
    return f"CASE WHEN {value} IS NULL THEN NULL ELSE printf('%.2f', {value}) END"


@compiles(_IsoTimeText, "postgresql")
def _iso_time_text_postgresql(element: _IsoTimeText, compiler: SQLCompiler, **kw: Any) -> str:
    (value,) = _arguments(element, compiler, **kw)
    utc = f"({value} AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') "
        f"|| CASE WHEN to_char({utc}, 'US') = '000000' THEN '' ELSE '.' || to_char({utc}, 'US') END "
        "|| '+00:00'"
    )


@compiles(_IsoTimeText, "sqlite")
def _iso_time_text_sqlite(element: _IsoTimeText, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLAlchemy stores SQLite times in UTC as "2026-11-27 09:00:00.000000".
    (value,) = _arguments(element, compiler, **kw)
    return (
        f"substr({value}, 1, 10) || 'T' || substr({value}, 12, 8) "
        f"|| CASE WHEN substr({value}, 20, 7) IN ('', '.000000') THEN '' ELSE substr({value}, 20, 7) END "
        "|| '+00:00'"
    )


@compiles(_SecondsApart, "postgresql")
def _seconds_apart_postgresql(element: _SecondsApart, compiler: SQLCompiler, **kw: Any) -> str:
    first, second = _arguments(element, compiler, **kw)
    return f"abs(extract(epoch FROM ({first} - {second})))"


@compiles(_SecondsApart, "sqlite")
def _seconds_apart_sqlite(element: _SecondsApart, compiler: SQLCompiler, **kw: Any) -> str:
    # Whole seconds, then microseconds: julianday()'s floating days would blur an exact hour.
    first, second = _arguments(element, compiler, **kw)
    return (
        f"abs((strftime('%s', {first}) - strftime('%s', {second})) "
        f"+ (CAST(substr({first}, 21, 6) AS INTEGER) - CAST(substr({second}, 21, 6) AS INTEGER)) "
        "/ 1000000.0)"
    )
