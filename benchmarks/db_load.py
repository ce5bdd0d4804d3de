"""Rows/s and peak memory of a million feed listings written into SQLite and into PostgreSQL.

Both for the set-based store (brandcrawl.storage.bulk) and for the row-by-row store it replaced.

The listings are what the Namecheap spider emits for its auctions file: each name of the drop list
(matcher_speed.py's, cached under ``benchmarks/data/``) becomes an auction row written by the
replica's own ``_filler_sale``, read by ``NamecheapSpider.hit_listing``, and gets one match, as the
match pipeline leaves it (with the domain's parts in ``details``). They go through
``Store.save_listings`` in the pipeline's batches (``BRANDCRAWL_DB_BATCH_SIZE``), twice into the same
database: a first load (all new), then a re-load a day later in which ~5 % of the auctions have a new
bid (price and bid count changed), as a daily re-crawl of the feed finds them.

Each measurement is a fresh subprocess: the time spent inside ``save_listings`` (the listings are
made between the calls, untimed), rows/s, peak RSS (VmHWM) and RSS before the first write, the
counts the store returned, and the database's size after.

- SQLite: a file in a temporary folder.
- PostgreSQL: ``--pg URL`` (an admin URL: a fresh database is created there for each store and
  dropped after), else ``BRANDCRAWL_TEST_PG_URL``, else the run starts again under
  tests/with-postgres (a throwaway server on 127.0.0.1) with ``WITH_POSTGRES_DURABLE=1``: PostgreSQL's
  default durability (fsync and synchronous commits on), as a production server runs.
- The row-by-row store is ``brandcrawl/storage/store.py`` as of ``--old-rev`` (``git show``), loaded
  beside the current one; ``--paths new`` leaves it out.

    .venv/bin/python benchmarks/db_load.py [--rows 1000000] [--backends sqlite,postgresql] [--paths new,old]
    .venv/bin/python benchmarks/db_load.py --rows 20000                    # quick
    .venv/bin/python benchmarks/db_load.py --rows 200000 --paths new --batch 5000
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

from procstatus import status_mb  # noqa: E402

from brandcrawl.settings import BRANDCRAWL_DB_BATCH_SIZE  # noqa: E402 (after the path)

BACKENDS = ("sqlite", "postgresql")
PATHS = ("new", "old")
PHASES = ("first", "reload")
# The last commit whose store wrote row by row (read, compare in Python, executemany).
OLD_REV = "dc4d447"
FIRST_SEEN = datetime(2027, 1, 10, 6, 0, tzinfo=UTC)
# One auction in 20 has a new bid by the next day's crawl.
REBID_EVERY = 20


# --- The listings ---------------------------------------------------------------------------------


def feed_listings(droplist_path: Path, rows: int, brands: list[str], rebid: bool) -> Iterator[Any]:
    """The first ``rows`` drop-list names as Namecheap auction listings with a match each; with
    ``rebid``, one in ``REBID_EVERY`` has a new bid (the same rows otherwise: the filler is seeded).
    Everything the listings need is loaded before this returns (the filler's word list is ~90 MB)."""
    from brandcrawl.replica.filler import Filler
    from brandcrawl.replica.namecheap import SALES_HEADER, _filler_sale
    from spiders.namecheap import MARKET_SALES, NamecheapSpider

    spider = NamecheapSpider()
    site = spider.site_profiles["namecheap.com"]
    columns = SALES_HEADER.split(",")
    filler = Filler()
    seen_at = FIRST_SEEN + timedelta(days=1) if rebid else FIRST_SEEN

    def listings() -> Iterator[Any]:
        with droplist_path.open(encoding="utf-8") as names:
            for number, line in enumerate(islice(names, rows)):
                name = line.strip()
                fields = dict(zip(columns, _filler_sale(filler, name).split(","), strict=True))
                listing = spider.hit_listing(fields, site, MARKET_SALES, seen_at)
                if rebid and number % REBID_EVERY == 0:
                    listing.price = (listing.price or Decimal(0)) + Decimal("5.00")
                    listing.bid_count = (listing.bid_count or 0) + 1
                label, _, suffix = listing.asset.partition(".")
                parts = {"domain_unicode": listing.asset, "registrable": listing.asset, "suffix": suffix}
                listing.details |= parts
                brand = brands[number % len(brands)]
                listing.matches = [
                    {
                        "brand": brand,
                        "rule": "typo",
                        "matched": label,
                        "score": 0.82,
                        "explanation": f"one letter away from '{brand}'",
                        "kind": "domain",
                    }
                ]
                yield listing

    return listings()


def old_store_class(rev: str) -> type:
    """``Store`` of brandcrawl/storage/store.py as of ``rev``, beside today's models and fitting."""
    source = subprocess.run(
        ["git", "show", f"{rev}:brandcrawl/storage/store.py"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    module = types.ModuleType("brandcrawl_store_" + rev)
    sys.modules[module.__name__] = module  # dataclasses look their module up
    exec(compile(source, f"{rev}:brandcrawl/storage/store.py", "exec"), module.__dict__)
    return module.Store


# --- A child: one load, in a fresh interpreter ----------------------------------------------------


def load_child(args: argparse.Namespace) -> dict[str, Any]:
    from brandcrawl.storage import Store

    store_class = old_store_class(args.old_rev) if args.path == "old" else Store
    brands = [brand["name"] for brand in json.loads(Path(args.brand_file).read_text(encoding="utf-8"))]
    store = store_class(args.url)
    store.upgrade()
    rebid = args.phase == "reload"
    listings = feed_listings(Path(args.droplist), args.rows, brands, rebid)
    now = FIRST_SEEN + timedelta(days=1) if rebid else FIRST_SEEN
    rss_before = status_mb("VmRSS")
    totals = {"listings": 0, "new_listings": 0, "new_hits": 0, "changes": 0}
    writing = 0.0
    started = time.perf_counter()
    while batch := list(islice(listings, args.batch)):
        start = time.perf_counter()
        result = store.save_listings(batch, now)
        writing += time.perf_counter() - start
        for name in totals:
            totals[name] += getattr(result, name)
    wall = time.perf_counter() - started
    peak = status_mb("VmHWM")
    size = database_size(store)
    content = content_digest(store) if rebid else None
    store.close()
    return {
        "rows": args.rows,
        "batch": args.batch,
        "write_s": writing,
        "wall_s": wall,
        "rows_per_s": args.rows / writing,
        "peak_rss_mb": peak,
        "rss_before_mb": rss_before,
        "database_mb": size / 1e6,
        "content": content,
        **totals,
    }


def content_digest(store: Any) -> str:
    """A digest of what the database holds (every listing's tracked values and asset, every hit,
    every change as text), whatever the order rows come in: equal on two databases that hold the
    same, whichever store wrote them, SQLite or PostgreSQL."""
    from sqlalchemy import select

    from brandcrawl.storage.models import AssetRow, Hit, ListingChange, ListingRow

    queries = [
        select(
            ListingRow.marketplace, ListingRow.listing_id, ListingRow.price, ListingRow.currency,
            ListingRow.bid_count, ListingRow.end_time, ListingRow.status, ListingRow.first_seen,
            ListingRow.last_seen, AssetRow.value,
        ).join(AssetRow, AssetRow.id == ListingRow.asset_pk),
        select(ListingRow.listing_id, Hit.brand, Hit.rule, Hit.matched, Hit.first_seen).join(
            ListingRow, ListingRow.id == Hit.listing_pk
        ),
        select(
            ListingRow.listing_id, ListingChange.field, ListingChange.old_value, ListingChange.new_value
        ).join(ListingRow, ListingRow.id == ListingChange.listing_pk),
    ]  # fmt: skip
    total = 0
    with store.engine.connect() as connection:
        for query in queries:
            for row in connection.execute(query.execution_options(yield_per=10_000)):
                digest = hashlib.sha256(repr(tuple(row)).encode()).digest()
                total = (total + int.from_bytes(digest)) % 2**256
    return f"{total:064x}"


def database_size(store: Any) -> int:
    """The database's bytes: the SQLite file with its write-ahead log, or PostgreSQL's own count."""
    from sqlalchemy import text

    if store.engine.dialect.name == "sqlite":
        path = Path(store.engine.url.database)
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())
    with store.engine.connect() as connection:
        return int(connection.scalar(text("SELECT pg_database_size(current_database())")))


def _run_child(arguments: list[str]) -> dict[str, Any]:
    """This script in a fresh interpreter, with ``arguments``; its last stdout line, as JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"child {' '.join(arguments[:8])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- Databases ------------------------------------------------------------------------------------


@contextmanager
def fresh_database(backend: str, admin_url: str | None, name: str) -> Iterator[str]:
    """A new empty database's URL, removed after."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="db-load-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    assert admin_url is not None
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            connection.execute(text(f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"))
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        admin.dispose()


# --- The report -----------------------------------------------------------------------------------


def measure(backend: str, path: str, admin_url: str | None, common: list[str]) -> dict[str, Any]:
    """The first load and the re-load of one store into a fresh database, printed."""
    runs: dict[str, Any] = {}
    with fresh_database(backend, admin_url, f"brandcrawl_db_load_{path}") as url:
        for phase in PHASES:
            run = _run_child([*common, "--child", "--url", url, "--path", path, "--phase", phase])
            runs[phase] = run
            print(
                f"  {backend:10} {path:3} {phase:6} rows {run['rows']:>9,} | {run['write_s']:7.1f} s | "
                f"{run['rows_per_s']:>8,.0f} rows/s | peak RSS {run['peak_rss_mb']:6.1f} MB "
                f"(before {run['rss_before_mb']:5.1f}) | new {run['new_listings']:,}, "
                f"hits {run['new_hits']:,}, changes {run['changes']:,} | db {run['database_mb']:,.0f} MB",
                flush=True,
            )
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="listings per load (default 1,000,000)")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="sqlite,postgresql or one of them")
    parser.add_argument("--paths", default=",".join(PATHS), help="new,old or one of them (old: row by row)")
    parser.add_argument(
        "--batch",
        type=int,
        default=BRANDCRAWL_DB_BATCH_SIZE,
        help=f"listings per save_listings call (default the pipeline's, {BRANDCRAWL_DB_BATCH_SIZE})",
    )
    parser.add_argument(
        "--pg", help="a PostgreSQL admin URL: a fresh database is made there (default: a throwaway server)"
    )
    parser.add_argument(
        "--old-rev", default=OLD_REV, help=f"git revision of the row-by-row store ({OLD_REV})"
    )
    # Child mode (internal).
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--path", choices=PATHS, help=argparse.SUPPRESS)
    parser.add_argument("--phase", choices=PHASES, help=argparse.SUPPRESS)
    parser.add_argument("--droplist", help=argparse.SUPPRESS)
    parser.add_argument("--brand-file", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(load_child(args)))
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    paths = [p.strip() for p in args.paths.split(",") if p.strip()]
    if unknown := (set(backends) - set(BACKENDS)) | (set(paths) - set(PATHS)):
        parser.error(f"unknown backends or paths: {', '.join(sorted(unknown))}")

    admin_url = args.pg or os.environ.get("BRANDCRAWL_TEST_PG_URL")
    if "postgresql" in backends and admin_url is None:
        # This same run on a throwaway server started as the tests start theirs, with PostgreSQL's
        # default durability.
        arguments = sys.argv[1:] if argv is None else argv
        again = [str(ROOT / "tests" / "with-postgres"), sys.executable, __file__, *arguments]
        return subprocess.run(again, env={**os.environ, "WITH_POSTGRES_DURABLE": "1"}, check=False).returncode

    from matcher_speed import brand_file, droplist  # the cached drop list and watch lists

    droplist_path, _ = droplist(max(args.rows, 1_000_000))  # its first names (one cached list)
    common = ["--rows", str(args.rows), "--batch", str(args.batch), "--old-rev", args.old_rev]
    common += ["--droplist", str(droplist_path)]
    common += ["--brand-file", str(brand_file(1000))]
    print(
        f"{args.rows:,} Namecheap auction listings ({droplist_path.name}) in batches of {args.batch:,}, "
        "a first load and a re-load"
    )
    figures: dict[str, Any] = {
        "rows": args.rows,
        "batch": args.batch,
        "old_rev": args.old_rev,
        "measured": {},
    }
    for backend in backends:
        url = admin_url if backend == "postgresql" else None
        figures["measured"][backend] = {path: measure(backend, path, url, common) for path in paths}

    print("\nTHE SAME RESULTS")
    for backend, by_path in figures["measured"].items():
        if len(by_path) == len(PATHS):
            for phase in PHASES:
                new, old = (
                    {k: by_path[p][phase][k] for k in ("new_listings", "new_hits", "changes")} for p in PATHS
                )
                print(
                    f"  {'✓' if new == old else '✗'} {backend} {phase}, both stores: {new}"
                    + ("" if new == old else f" vs {old}")
                )
    contents = {
        f"{backend} {path}": runs["reload"]["content"]
        for backend, by_path in figures["measured"].items()
        for path, runs in by_path.items()
    }
    same = len(set(contents.values())) == 1
    print(f"  {'✓' if same else '✗'} the same listings, hits and changes stored by: {', '.join(contents)}")
    if not same:
        print("    " + "\n    ".join(f"{name}: {digest[:16]}" for name, digest in contents.items()))
    batch = "" if args.batch == BRANDCRAWL_DB_BATCH_SIZE else f"-batch{args.batch}"
    name = f"db-load-{args.rows}{batch}-{'-'.join(backends)}-{'-'.join(paths)}.json"
    out = DATA_DIR / name
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(f"\nfigures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
