"""The ``brandcrawl`` command: run the daily job, write the digest, or try it all on the replica."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from brandcrawl import __version__
from brandcrawl.config import WatchConfig, WatchFileError, load_watch
from brandcrawl.runs import listings_read, pages_fetched

if TYPE_CHECKING:
    from brandcrawl.delivery import DeliveryResult

# For cron and monitoring: 3 means the digest was written but some marketplace could not be checked.
# 1: a digest could not be delivered (it is sent next run), or an unexpected error (with its traceback).
# 75 (EX_TEMPFAIL, "try again later"): another run holds the lock, so this one did not start.
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNHEALTHY, EXIT_LOCKED = 0, 1, 2, 3, 75
# PostgreSQL's SQLSTATE for a transaction that lost a race to a concurrent one.
SERIALIZATION_FAILURE = "40001"
# The word for each exit status of `run` in its JSON summary.
RUN_STATUSES = {
    EXIT_OK: "ok",
    EXIT_UNHEALTHY: "incomplete",
    EXIT_FAILED: "failed",
    EXIT_USAGE: "usage_error",
    EXIT_LOCKED: "skipped",
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except Exception as error:
        return _failure_status(error)


def _failure_status(error: Exception) -> int:
    """Says on stderr why a command stopped and returns its exit status: one line for a usage,
    watch-file or database error, the traceback for anything unexpected."""
    if isinstance(error, WatchFileError | UsageProblem):
        print(f"brandcrawl: {error}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(error, SQLAlchemyError):
        # The driver's first line says it ("connection refused"); PostgreSQL's DETAIL and HINT lines follow.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines() or [type(error).__name__]
        print(f"brandcrawl: database error: {reason[0]}", file=sys.stderr)
        return EXIT_FAILED
    traceback.print_exception(error)
    return EXIT_FAILED


class UsageProblem(Exception):
    """A mistake in how brandcrawl was called, shown as one line."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="brandcrawl",
        description="Watch auction and marketplace sites for handles and domains that carry your brands.",
        epilog="Exit status: 0 all marketplaces checked; 3 the digest was written but some marketplace "
        "was blocked, disallowed or broken (see its health section); 2 a usage or watch-file error; "
        "1 a digest could not be delivered (it is sent next run) or the run itself failed; "
        "75 (run only) another run holds the lock, so this one did not start.",
    )
    parser.add_argument("--version", action="version", version=f"brandcrawl {__version__}")
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    run = commands.add_parser(
        "run",
        help="crawl every enabled marketplace, store the hits, then write the digest",
        description="Crawl every marketplace enabled in the watch file for every brand, store and "
        "deduplicate the hits, then write the digest of what is new or changed. One run at a time per "
        "database: a run finding the lock held by a live run does not start; a lock file left by a "
        "run that died is taken over at once.",
        epilog="Exit status: 0 every marketplace checked and every digest delivered; 3 the digest went "
        "out but some marketplace was blocked, disallowed or broken; 1 a digest could not be delivered "
        "(it is sent next run) or the run failed (a database error in one line, anything unexpected "
        "with its traceback); 2 a usage or watch-file error; 75 another run holds the lock: this one "
        "did nothing.",
    )
    _watch_and_db(run)
    run.add_argument(
        "--lock",
        metavar="PATH",
        help="the run lock file (default: $BRANDCRAWL_LOCK, else DB.lock beside a SQLite database "
        "file, else brandcrawl/run-*.lock in $XDG_RUNTIME_DIR or the user's cache folder)",
    )
    run.add_argument(
        "--summary-json",
        metavar="PATH",
        help="when the run ends, write one line of JSON about it to PATH (replaced atomically; '-': "
        "standard output), also when it failed or was skipped for the lock",
    )
    run.add_argument("--out", help="digest folder (default: the watch file's digest.out_dir)")
    run.add_argument(
        "--spider", action="append", metavar="NAME", help="crawl only this marketplace (repeatable)"
    )
    run.add_argument(
        "-s", "--set", action="append", default=[], metavar="NAME=VALUE", help="a Scrapy setting"
    )
    run.add_argument("--log-level", default="INFO", help="Scrapy log level (default INFO)")
    run.set_defaults(handler=_run)

    digest = commands.add_parser(
        "digest",
        help="write the team digest and send each recipient theirs",
        description="Write the team's digest (HTML and plain text, every brand) of what is not yet in one, "
        "then send each recipient one e-mail with their brands' new hits and changes, marked only once "
        "their server accepted it. Without [digest.smtp] in the watch file, each recipient's digest is "
        "written to OUT/recipients/ as .html, .txt and a ready .eml instead. Each recipient gets one a day "
        "(digest.timezone): a second run the same day leaves those already served alone and says so, and "
        "tries again those whose digest failed.",
    )
    _watch_and_db(digest)
    digest.add_argument("--out", help="digest folder (default: the watch file's digest.out_dir)")
    digest.add_argument(
        "--dry-run", action="store_true", help="show what would be sent to whom; write, send and mark nothing"
    )
    digest.add_argument(
        "--again",
        action="store_true",
        help="send another digest today, of what is new since the last one, to recipients (and the ops "
        "address) who already had today's",
    )
    digest.set_defaults(handler=_digest)

    match = commands.add_parser(
        "match",
        help="test a watch-list: which texts carry a watched brand, and why",
        description="Match domains, handles or listing titles against the watch-list and print one line "
        "per input: the text, then each brand found with its rule, score and explanation (or '-'). Texts "
        "come from the arguments or, without any, from standard input, one per line (streamed: fine "
        "on a million-line drop list).",
    )
    brands = match.add_mutually_exclusive_group(required=True)
    brands.add_argument("--watch", help="the watch file (TOML) whose brands to use")
    brands.add_argument("--brand", action="append", metavar="NAME", help="a brand to look for (repeatable)")
    match.add_argument(
        "--kind",
        choices=["auto", "domain", "handle", "title"],
        default="auto",
        help="what the texts are (default auto: a title if it has a space, a handle if it starts with @ "
        "or 'platform:', else a domain if it has a dot, else a handle)",
    )
    match.add_argument("--hits-only", action="store_true", help="print only the texts that carry a brand")
    match.add_argument("texts", nargs="*", metavar="TEXT")
    match.set_defaults(handler=_match)

    demo = commands.add_parser(
        "demo",
        help="offline demo: crawl the bundled replica marketplace and write a digest",
        description="Start the bundled replica marketplace on 127.0.0.1, crawl it with the real spiders "
        "and pipelines into a fresh SQLite file, and write the digest to disk. Needs no network.",
    )
    demo.add_argument(
        "--out", default="demo-output", help="folder for the database and digest (default demo-output)"
    )
    demo.add_argument("--log-level", default="WARNING", help="Scrapy log level (default WARNING)")
    demo.set_defaults(handler=_demo)

    from brandcrawl.commands import db, dispatch, evidence, export, hits, suppress

    for command in (hits, suppress, export, evidence, db, dispatch):
        command.add_parser(commands)
    return parser


def _watch_and_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--watch", required=True, help="the watch file (TOML); see watch.example.toml")
    parser.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy database URL (default: $BRANDCRAWL_DB_URL, else sqlite:///brandcrawl.db)",
    )


def _run(args: argparse.Namespace) -> int:
    from brandcrawl.lock import LockFileError, RunLocked

    if args.summary_json not in (None, "-") and not Path(args.summary_json).absolute().parent.is_dir():
        raise UsageProblem(f"--summary-json: no folder {Path(args.summary_json).absolute().parent}")
    started = datetime.now(UTC)
    summary: dict[str, Any] = {
        "lock": None,
        "marketplaces": {},
        "digest": None,
        "recipients": None,
        "error": None,
    }
    try:
        status = _run_locked(args, started, summary)
    except RunLocked as refused:
        print(f"brandcrawl: {refused}: this run did not start", file=sys.stderr)
        status, summary["error"] = EXIT_LOCKED, str(refused)
    except LockFileError as problem:  # --lock or $BRANDCRAWL_LOCK names a place we cannot write
        status, summary["error"] = _failure_status(UsageProblem(str(problem))), str(problem)
    except Exception as error:
        status, summary["error"] = _failure_status(error), f"{type(error).__name__}: {error}"
    if args.summary_json:
        status = _write_summary(args.summary_json, started, status, summary)
    return status


def _run_locked(args: argparse.Namespace, started: datetime, summary: dict[str, Any]) -> int:
    """The run itself, under its lock; what it did goes into ``summary`` as it goes."""
    from brandcrawl.lock import default_lock_path, run_lock

    watch = load_watch(args.watch)
    db_url = _db_url(args.db)
    overrides = dict(_setting(item) for item in args.set)
    names = args.spider or [m.name for m in watch.enabled_marketplaces()]
    lock = Path(args.lock).absolute() if args.lock else default_lock_path(db_url)
    summary["lock"] = str(lock)
    with run_lock(lock, started) as abandoned_by:
        if abandoned_by is not None:
            died = f"left by a run that died ({abandoned_by.describe()})"
            print(f"brandcrawl: taking over {lock}, {died}", file=sys.stderr)
        results = crawl(watch, names, db_url=db_url, settings=overrides, log_level=args.log_level)
        summary["marketplaces"] = {name: _marketplace_summary(stats) for name, stats in results.items()}
        delivered = _report(watch, db_url, args.out or watch.digest.out_dir)
        summary["digest"] = _digest_written_since(db_url, started)
        summary["recipients"] = {
            "sent": delivered.sent,
            "written": [str(path) for path in delivered.written if path.suffix == ".eml"],
            "failed": delivered.failed,
            "skipped": delivered.skipped,
        }
    _summarise(results)
    return EXIT_FAILED if delivered.failed else _exit_status(results)


def _digest_written_since(db_url: str, since: datetime) -> str | None:
    """Where the team digest this run wrote is (the newest since it started)."""
    from sqlalchemy import select

    from brandcrawl.storage import Store
    from brandcrawl.storage.models import Digest

    store = Store(db_url)
    try:
        with store.session() as session:
            query = select(Digest.location).where(Digest.created_at >= since).order_by(Digest.id.desc())
            return session.scalars(query.limit(1)).first()
    finally:
        store.close()


def _write_summary(destination: str, started: datetime, status: int, summary: dict[str, Any]) -> int:
    """Writes the run's one-line JSON summary; returns the run's exit status, or 1 when it cannot be
    written after a run that went well (monitoring would otherwise see the previous summary)."""
    from brandcrawl.digest import write_atomically

    finished = datetime.now(UTC)
    line = json.dumps(
        {
            "command": "run",
            "status": RUN_STATUSES.get(status, "failed"),
            "exit_status": status,
            "started": started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "duration_s": round((finished - started).total_seconds(), 1),
            "version": __version__,
            **summary,
        },
        ensure_ascii=False,
    )
    if destination == "-":
        print(line, flush=True)
        return status
    try:
        write_atomically(Path(destination), line + "\n")
    except OSError as error:
        print(f"brandcrawl: cannot write the run summary to {destination}: {error}", file=sys.stderr)
        return status or EXIT_FAILED
    return status


def _digest(args: argparse.Namespace) -> int:
    watch = load_watch(args.watch)
    out_dir = args.out or watch.digest.out_dir
    delivered = _report(watch, _db_url(args.db), out_dir, dry_run=args.dry_run, again=args.again)
    return EXIT_FAILED if delivered.failed else EXIT_OK


def _match(args: argparse.Namespace) -> int:
    from brandcrawl.matching import BrandMatcher

    matcher = (
        BrandMatcher.from_watch(load_watch(args.watch)) if args.watch else BrandMatcher.from_names(args.brand)
    )
    texts = args.texts or (line.rstrip("\r\n") for line in sys.stdin)
    out = sys.stdout
    for text in texts:
        if not text.strip():
            continue
        matches = matcher.match(text.strip(), args.kind if args.kind != "auto" else guess_kind(text.strip()))
        if matches:
            found = " | ".join(f"{m.brand} ({m.rule}, {m.score:.2f}): {m.explanation}" for m in matches)
            out.write(f"{text}\t{found}\n")
        elif not args.hits_only:
            out.write(f"{text}\t-\n")
    out.flush()
    return EXIT_OK


def guess_kind(text: str) -> str:
    if " " in text:
        return "title"
    if text.startswith("@") or (":" in text and "://" not in text):
        return "handle"
    return "domain" if "." in text else "handle"


def _demo(args: argparse.Namespace) -> int:
    from importlib.resources import as_file, files

    from brandcrawl.replica import ReplicaMarketplace

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    database = out / "brandcrawl-demo.db"
    database.unlink(missing_ok=True)  # every demo starts from an empty database, so it shows hits
    db_url = f"sqlite:///{database}"
    with (
        as_file(files("brandcrawl.replica") / "demo_watch.toml") as watch_path,
        ReplicaMarketplace() as replica,
    ):
        watch = load_watch(watch_path)
        names = [m.name for m in watch.enabled_marketplaces()]
        print(f"replica marketplace serving on {replica.base_url}")
        results = crawl(
            watch,
            names,
            db_url=db_url,
            # The replica is our own server on loopback: no need to wait between requests.
            settings={
                "DOWNLOAD_DELAY": 0,
                "AUTOTHROTTLE_ENABLED": False,
                "CONCURRENT_REQUESTS_PER_DOMAIN": 8,
                # The hits' listing pages, kept as evidence beside the demo's database.
                "BRANDCRAWL_EVIDENCE_DIR": str(out / "evidence"),
            },
            spider_args={"base_url": f"{replica.base_url}/{{site}}"},
            log_level=args.log_level,
        )
        delivered = _report(watch, db_url, out / "digest")
    _summarise(results)
    return EXIT_FAILED if delivered.failed else _exit_status(results)


def crawl(
    watch: WatchConfig,
    names: Sequence[str],
    *,
    db_url: str,
    settings: dict[str, Any] | None = None,
    spider_args: dict[str, Any] | None = None,
    log_level: str = "INFO",
) -> dict[str, dict[str, Any]]:
    """Crawl the named marketplaces in this process; returns each crawl's stats.

    A marketplace whose spider cannot start is recorded as a broken run, so the digest says so.
    """
    os.environ.setdefault("SCRAPY_SETTINGS_MODULE", "brandcrawl.settings")
    from scrapy.crawler import AsyncCrawlerProcess
    from scrapy.spiderloader import get_spider_loader
    from scrapy.utils.project import get_project_settings

    clashing = sorted({"BRANDCRAWL_WATCH", "BRANDCRAWL_DB_URL"} & set(settings or {}))
    if clashing:
        raise UsageProblem(f"set {' and '.join(clashing)} with --watch and --db, not -s")
    project = get_project_settings()
    project.setdict({"BRANDCRAWL_WATCH": watch.path, "BRANDCRAWL_DB_URL": db_url, "LOG_LEVEL": log_level})
    project.setdict(settings or {}, priority="cmdline")
    names = choose_spiders(watch, names, get_spider_loader(project), os.environ)
    process = AsyncCrawlerProcess(project)
    crawlers = {name: process.create_crawler(name) for name in names}
    tasks = {name: process.crawl(crawler, **(spider_args or {})) for name, crawler in crawlers.items()}
    process.start()
    results = {}
    for name, crawler in crawlers.items():
        error = tasks[name].exception() if tasks[name].done() and not tasks[name].cancelled() else None
        if error is None:
            results[name] = crawler.stats.get_stats()
        else:
            results[name] = {"brandcrawl/run/status": "broken"}
            _record_start_failure(db_url, name, error)
    return results


def choose_spiders(
    watch: WatchConfig, names: Sequence[str], loader: Any, environ: Mapping[str, str]
) -> list[str]:
    """The spider to run for each named marketplace (or spider).

    A marketplace read by more than one spider (eBay: its Browse API and its search pages) runs the
    one whose credentials are all set in the environment, else the one that needs none.
    """
    classes = {name: loader.load(name) for name in loader.list()}
    by_marketplace: dict[str, list[str]] = {}
    for name, spider_class in classes.items():
        by_marketplace.setdefault(getattr(spider_class, "marketplace", None) or name, []).append(name)
    chosen = []
    for name in names:
        candidates = list(by_marketplace.get(name) or ([name] if name in classes else []))
        if not candidates:
            known = sorted({*classes, *by_marketplace})
            raise UsageProblem(f"no marketplace spider named {name} (known: {', '.join(known)})")
        if len(candidates) > 1:
            table = watch.marketplaces.get(name)
            credentialed = table is not None and table.credentials(environ) is not None
            candidates.sort(
                key=lambda spider: bool(getattr(classes[spider], "credential_roles", ())) != credentialed
            )
        chosen.append(candidates[0])
    return chosen


def _record_start_failure(db_url: str, name: str, error: BaseException) -> None:
    from datetime import UTC, datetime

    from brandcrawl.storage import Store

    print(f"brandcrawl: {name} could not start: {error}", file=sys.stderr)
    now = datetime.now(UTC)
    store = Store(db_url)
    try:
        store.upgrade()
        store.record_not_crawled(name, now, f"could not start: {error}")
    finally:
        store.close()


def _exit_status(results: dict[str, dict[str, Any]]) -> int:
    # A marketplace waiting for login credentials is told in the digest, not an unhealthy run.
    healthy = all(stats.get("brandcrawl/run/status") in ("ok", "needs_login") for stats in results.values())
    return EXIT_OK if healthy else EXIT_UNHEALTHY


def _report(
    watch: WatchConfig, db_url: str, out_dir: str | Path, *, dry_run: bool = False, again: bool = False
) -> DeliveryResult:
    """The team digest on disk, then each recipient's (sent, or written without SMTP settings) unless
    they had today's; ``again`` sends them another."""
    from datetime import UTC, datetime

    from sqlalchemy import inspect

    from brandcrawl.delivery import DeliveryResult, deliver
    from brandcrawl.digest import write_digest
    from brandcrawl.storage import Store
    from brandcrawl.triage import resolve_taken_down

    store = Store(db_url)
    try:
        if dry_run and not inspect(store.engine).has_table("hits"):
            print(f"nothing stored yet in {db_url}: a digest would be empty")  # a dry run creates nothing
            return DeliveryResult()
        if not dry_run:
            store.upgrade()
            store.close_past_end(datetime.now(UTC))
            resolve_taken_down(store, datetime.now(UTC))  # actioned hits whose listing went: resolved
            try:
                path = write_digest(store, watch, out_dir)
                print(f"digest written to {path} (and {path.with_suffix('.txt')})")
            except DBAPIError as error:
                if getattr(error.orig, "sqlstate", None) != SERIALIZATION_FAILURE:
                    raise
                # PostgreSQL: another digest run marked the same hits first; the team digest is
                # theirs, and each recipient's is still claimed once below.
                print("brandcrawl: the team digest is being written by another digest run", file=sys.stderr)
        result = deliver(store, watch, out_dir, dry_run=dry_run, again=again)
    finally:
        store.close()
    for line in result.previews:
        print(f"would send to {line}")
    for address in result.sent:
        print(f"sent to {address}")
    for address, reason in result.held.items():
        print(f"not sent to {address}: {reason}")
    if result.written:
        print(f"recipients' digests written to {Path(result.written[0]).parent} (.html, .txt, .eml)")
    for address, error in result.failed.items():
        print(
            f"brandcrawl: digest for {address} not delivered: {error}; it is sent next run", file=sys.stderr
        )
    return result


def _summarise(results: dict[str, dict[str, Any]]) -> None:
    for name, stats in results.items():
        crawled = _marketplace_summary(stats)
        print(
            f"{name}: {crawled['status']}, {crawled['pages']} pages, {crawled['listings_read']} listings "
            f"read, {crawled['matched']} carry a watched brand, {crawled['new_hits']} new hits"
        )


def _marketplace_summary(stats: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": stats.get("brandcrawl/run/status", "not run"),
        "pages": pages_fetched(stats),
        "listings_read": listings_read(stats),
        "matched": stats.get("brandcrawl/hits/matched", 0),
        "new_hits": stats.get("brandcrawl/hits/new", 0),
    }


def _db_url(given: str | None) -> str:
    return given or os.environ.get("BRANDCRAWL_DB_URL") or "sqlite:///brandcrawl.db"


def _setting(text: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageProblem(f"-s takes NAME=VALUE, got {text!r}")
    return name, value


if __name__ == "__main__":
    sys.exit(main())
