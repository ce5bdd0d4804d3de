"""The ``brandcrawl dispatch`` command: the day's crawl spread over Scrapyd nodes (see
brandcrawl.dispatch), then one line per job and the totals."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import make_url

from brandcrawl.config import WatchConfig, load_watch, watch_sha256
from brandcrawl.dispatch import (
    DONE,
    FAILED,
    NOT_RUN,
    REPORTED,
    Attempt,
    DeploymentError,
    Dispatcher,
    DispatchOptions,
    Outcome,
    ScrapydNode,
    Shard,
    check_spiders,
    pinned_version,
    plan,
    record_unfinished,
    searches_by_brand,
)
from brandcrawl.storage import Store

_EXIT_HELP = (
    "Exit status: 0 every shard of every marketplace crawled; 3 some marketplace was blocked, "
    "disallowed or broken (told, not retried); 1 a shard's jobs kept failing past --retries, or no "
    "node was left to run it; 2 a usage or watch-file error, or the nodes lack the version or a spider "
    "(nothing was scheduled)."
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds this command to ``brandcrawl``'s subcommands."""
    from brandcrawl.cli import _watch_and_db

    dispatch = commands.add_parser(
        "dispatch",
        help="spread the crawl over Scrapyd nodes, one job per marketplace and brand shard",
        description="Cut the crawl into jobs, one per marketplace and shard of --shard-size brands (a "
        "domain feed, or a marketplace read by its categories only, is one job: it reads the same whole "
        "files or lists whatever the brands), and schedule them on the project already deployed to the "
        "Scrapyd nodes (scrapyd-deploy; this command deploys nothing), at one pinned version. A "
        "marketplace's jobs run one after another, never two at once, so each site sees one polite "
        "crawler; different marketplaces run side by side on the least-loaded nodes. Waits for every "
        "job, then prints one line per job and the totals. A job that ends without recording a run (it "
        "died) is scheduled again on another node; a node that stops answering gets no more jobs and "
        "its jobs run elsewhere; a blocked, disallowed or broken marketplace is told, not retried. "
        "Every job crawls with the same watch file (checked by its SHA-256: a node with another file "
        "refuses) into the same database. Send the digest afterwards with `brandcrawl digest`.",
        epilog=_EXIT_HELP,
    )
    _watch_and_db(dispatch)
    dispatch.add_argument(
        "--nodes",
        metavar="URL,URL",
        help="the Scrapyd nodes, comma-separated (default: [dispatch] nodes in the watch file)",
    )
    dispatch.add_argument(
        "--node-watch",
        metavar="PATH",
        help="where the watch file is on the nodes, when not where --watch is (a relative path is "
        "from the Scrapyd node's working folder)",
    )
    dispatch.add_argument(
        "--node-db",
        metavar="URL",
        help="the database URL as the nodes reach it, when not as --db (its password is never sent: "
        "Scrapyd shows job settings to whoever can reach it; give the nodes theirs in ~/.pgpass or "
        "$PGPASSWORD)",
    )
    dispatch.add_argument(
        "--shard-size",
        type=_positive,
        metavar="N",
        help="brands searched per job (default: [dispatch] shard_size, else 50)",
    )
    dispatch.add_argument(
        "--version",
        help="the deployed project version to run (default: [dispatch] version, else the newest on the "
        "first node that answers); every node must have it, or nothing is scheduled",
    )
    dispatch.add_argument(
        "--project", default="brandcrawl", help="the Scrapyd project name (default brandcrawl)"
    )
    dispatch.add_argument(
        "--jobs-per-node",
        type=_positive,
        metavar="N",
        help="no more jobs for a node with this many running or waiting, anyone's (default: "
        "[dispatch] jobs_per_node, else 4)",
    )
    dispatch.add_argument(
        "--retries",
        type=_not_negative,
        default=2,
        metavar="N",
        help="times a shard whose job died is scheduled again (default 2)",
    )
    dispatch.add_argument(
        "--poll",
        type=_positive_seconds,
        default=5.0,
        metavar="SECONDS",
        help="how often the nodes are asked about their jobs (default 5)",
    )
    dispatch.add_argument(
        "--timeout",
        type=_positive_seconds,
        default=30.0,
        metavar="SECONDS",
        help="a node not answering a call within this is dead (default 30)",
    )
    dispatch.add_argument(
        "--spider", action="append", metavar="NAME", help="dispatch only this marketplace (repeatable)"
    )
    dispatch.add_argument(
        "-s",
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Scrapy setting for every job",
    )
    dispatch.add_argument(
        "--json", action="store_true", help="print one JSON object at the end instead of the lines"
    )
    dispatch.set_defaults(handler=_dispatch)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return int(text)


def _not_negative(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return int(text)


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        seconds = 0
    if not seconds > 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return seconds


def _dispatch(args: argparse.Namespace) -> int:
    from brandcrawl.cli import EXIT_FAILED, UsageProblem, _db_url, _setting

    watch = load_watch(args.watch)
    db_url = _db_url(args.db)
    settings = dict(_setting(item) for item in args.set)
    if clashing := sorted({"BRANDCRAWL_WATCH", "BRANDCRAWL_DB_URL"} & set(settings)):
        raise UsageProblem(
            f"set {' and '.join(clashing)} with --watch/--node-watch and --db/--node-db, not -s"
        )
    nodes = [ScrapydNode(url, args.timeout) for url in _node_urls(args.nodes, watch)]
    shard_size = args.shard_size or watch.dispatch.shard_size
    shards = plan(_marketplaces(watch, args.spider), len(watch.brands), shard_size)
    started = time.monotonic()
    version, silent = _pinned_version(nodes, args.project, args.version or watch.dispatch.version, shards)
    if version is None:
        print("brandcrawl: no Scrapyd node answered: nothing was scheduled", file=sys.stderr)
        return EXIT_FAILED

    options = DispatchOptions(
        project=args.project,
        version=version,
        settings={
            "BRANDCRAWL_WATCH": args.node_watch or os.path.abspath(args.watch),
            "BRANDCRAWL_DB_URL": _without_password(args.node_db or db_url),
            **settings,
        },
        watch_sha256=watch_sha256(args.watch),
        jobs_per_node=args.jobs_per_node or watch.dispatch.jobs_per_node,
        retries=args.retries,
        poll=args.poll,
    )
    store = Store(db_url)
    try:
        store.upgrade()  # the jobs' runs are looked up by job id, a column of the newest schema
        dispatcher = Dispatcher(
            [node for node in nodes if node.url not in silent],
            store,
            options,
            on_ended=(lambda attempt: None) if args.json else _print_job,
            on_node_lost=lambda url, problem: print(
                f"brandcrawl: node {url}: no more jobs, it {problem}", file=sys.stderr, flush=True
            ),
        )
        outcome = dispatcher.run(shards)
        record_unfinished(store, outcome, datetime.now(UTC))
    finally:
        store.close()

    report = _Report(outcome, version, nodes, dispatcher, silent, time.monotonic() - started)
    print(json.dumps(report.as_json(), ensure_ascii=False) if args.json else report.as_text())
    return outcome.exit_status()


def _pinned_version(
    nodes: Sequence[ScrapydNode], project: str, wanted: str | None, shards: dict[str, list[Shard]]
) -> tuple[str | None, dict[str, str]]:
    """The version the jobs run, checked to be on every node that answers with every spider the plan
    runs, and the nodes left out (why); (None, …) when no node answered."""
    from brandcrawl.cli import UsageProblem

    try:
        version, silent = pinned_version(nodes, project, wanted)
        for url, problem in silent.items():
            print(f"brandcrawl: node {url} left out: it did not answer ({problem})", file=sys.stderr)
        if version is not None:
            first = next(node for node in nodes if node.url not in silent)
            check_spiders(first, project, version, {s.spider for planned in shards.values() for s in planned})
    except DeploymentError as problem:
        raise UsageProblem(f"{problem}: nothing was scheduled") from problem
    return version, silent


def _node_urls(given: str | None, watch: WatchConfig) -> list[str]:
    from brandcrawl.cli import UsageProblem

    urls = [url.strip() for url in given.split(",") if url.strip()] if given else list(watch.dispatch.nodes)
    if not urls:
        raise UsageProblem("no Scrapyd node: give --nodes URL,URL or [dispatch] nodes in the watch file")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageProblem(f"--nodes: expected http:// or https:// URLs, got {url!r}")
    if len({url.rstrip("/") for url in urls}) < len(urls):
        raise UsageProblem(f"--nodes: a node is listed twice in {', '.join(urls)}")
    return urls


def _marketplaces(watch: WatchConfig, names: Sequence[str] | None) -> list[tuple[str, str, bool]]:
    """(marketplace, spider, searches by brand) for each marketplace to crawl, in watch-file order."""
    from scrapy.settings import Settings
    from scrapy.spiderloader import SpiderLoader

    from brandcrawl.cli import UsageProblem, choose_spiders

    names = names or [m.name for m in watch.enabled_marketplaces()]
    if not names:
        raise UsageProblem(f"{watch.path}: no marketplace is enabled")
    settings = Settings()
    settings.setmodule("brandcrawl.settings")
    loader = SpiderLoader.from_settings(settings)
    # The dispatcher's environment chooses between two ways of reading a marketplace (eBay's API
    # when its credentials are set): give it the nodes' credentials too.
    spiders = choose_spiders(watch, names, loader, os.environ)
    return [
        (name, spider, searches_by_brand(loader.load(spider), watch.marketplaces.get(name)))
        for name, spider in zip(names, spiders, strict=True)
    ]


def _without_password(db_url: str) -> str:
    url = make_url(db_url)
    if url.password is None:
        return db_url
    print(
        "brandcrawl: the database password is not sent to the nodes (Scrapyd shows job settings to "
        "whoever can reach it): give them theirs in ~/.pgpass or $PGPASSWORD",
        file=sys.stderr,
    )
    return url.set(password=None).render_as_string(hide_password=False)


def _job_line(attempt: Attempt) -> str:
    after = " → retried" if attempt.retried else ""
    why = f"  ({attempt.detail})" if attempt.detail and attempt.outcome not in DONE else ""
    return (
        f"{attempt.shard.marketplace:<14} {attempt.shard.label:>7}  {attempt.node}  {attempt.job}  "
        f"{attempt.outcome:<13} {attempt.listings:>6} listings {attempt.new_hits:>5} new hits "
        f"{attempt.duration:>7.1f} s{after}{why}"
    )


def _print_job(attempt: Attempt) -> None:
    print(_job_line(attempt), flush=True)


class _Report:
    """What a dispatch did, as the totals' lines or one JSON object."""

    def __init__(
        self,
        outcome: Outcome,
        version: str,
        nodes: Sequence[ScrapydNode],
        dispatcher: Dispatcher,
        silent: dict[str, str],
        duration: float,
    ) -> None:
        self.outcome, self.version, self.nodes, self.duration = outcome, version, nodes, duration
        self.jobs = {url: state.jobs for url, state in dispatcher.nodes.items()}
        self.lost = {url: f"did not answer ({problem})" for url, problem in silent.items()} | {
            url: state.problem for url, state in dispatcher.nodes.items() if state.problem
        }

    def tally(self) -> dict[str, int]:
        final, attempts = self.outcome.final(), self.outcome.attempts
        return {
            "shards": len(final),
            "crawled": sum(1 for o in final if o in DONE),
            "reported": sum(1 for o in final if o in REPORTED),
            "failed": sum(1 for o in final if o in (FAILED, NOT_RUN)),
            "jobs": len(attempts),
            "retried": sum(1 for attempt in attempts if attempt.retried),
            "pages": sum(attempt.pages for attempt in attempts),
            "listings": sum(attempt.listings for attempt in attempts),
            "new_hits": sum(attempt.new_hits for attempt in attempts),
        }

    def as_text(self) -> str:
        """After the jobs' own lines: the shards that never crawled, the totals, then each node."""
        tally = self.tally()
        lines = [
            f"{shard.marketplace:<14} {shard.label:>7}  {why}: "
            + ("no node was left to run it" if why == NOT_RUN else "its jobs kept failing")
            for shard, why in self.outcome.unfinished.items()
        ]
        lines.append(
            f"dispatch of version {self.version} on {len(self.nodes)} nodes: {tally['jobs']} jobs "
            f"({tally['retried']} retried) in {self.duration:.1f} s, "
            f"{tally['jobs'] / max(self.duration, 1e-9):.2f} jobs/s; {tally['shards']} shards: "
            f"{tally['crawled']} crawled, {tally['reported']} blocked, disallowed or broken, "
            f"{tally['failed']} failed; {tally['pages']} pages, {tally['listings']} listings read, "
            f"{tally['new_hits']} new hits"
        )
        for node in self.nodes:
            problem = f"; {self.lost[node.url]}" if node.url in self.lost else ""
            lines.append(f"node {node.url}: {self.jobs.get(node.url, 0)} jobs{problem}")
        return "\n".join(lines)

    def as_json(self) -> dict[str, Any]:
        return {
            "command": "dispatch",
            "version": self.version,
            "exit_status": self.outcome.exit_status(),
            "duration_s": round(self.duration, 1),
            **self.tally(),
            "nodes": [
                {"url": node.url, "jobs": self.jobs.get(node.url, 0), "problem": self.lost.get(node.url)}
                for node in self.nodes
            ],
            "jobs": [attempt.as_json() for attempt in self.outcome.attempts],
            "unfinished": [
                {"marketplace": shard.marketplace, "shard": shard.label, "outcome": why}
                for shard, why in self.outcome.unfinished.items()
            ],
        }
