"""End-to-end speed and memory of the feed spiders on million-row files, served by the replica.

The drop list of ``matcher_speed.py`` (1,000,000 realistic word-combination domains with a few hundred
planted brand variants, cached under ``benchmarks/data/``) becomes the files of two replica apps:

- Namecheap: ``Namecheap_Market_Sales.csv`` holds the drop-list names as its auctions (rows written by
  the replica's own ``_filler_sale``), beside its seed; the buy-now file stays small.
- GoDaddy: ``all_biddable_auctions.json.zip`` holds them as its items (upper case, as GoDaddy writes
  names; ``_filler_item``/``_item_json``); the expiring and closeout files hold only the seed.

The replica runs in a subprocess of its own (``--serve``) that builds every file before it answers,
so building and serving share no GIL with the crawl. Each measurement is a fresh subprocess:

- crawl: the real spider through ``brandcrawl.cli.crawl`` against the replica, with a watch list of the
  first N brands of ``brands-1000.json``: wall time (start-up, download, parse, match, store), rows read,
  rows/s, hits stored, peak RSS (VmHWM), and which planted variants of those brands were stored;
- raw parse (the ceiling): the same bytes read from disk through the spider's own ``rows()`` and
  ``row_domain()``, in the spider's chunks, no matching and no HTTP.

    .venv/bin/python benchmarks/feed_speed.py [--rows 1000000] [--brands 40,1000] [--feeds namecheap,godaddy]
    .venv/bin/python benchmarks/feed_speed.py --rows 20000 --brands 40      # quick
    .venv/bin/python benchmarks/feed_speed.py --profile namecheap           # + one crawl under cProfile
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import io
import json
import pstats
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

from procstatus import status_mb  # noqa: E402 (after the path)

if TYPE_CHECKING:
    from datetime import datetime

    from brandcrawl.replica.server import ReplicaMarketplace, SiteApp
    from spiders._feeds import FeedSpider

FEEDS = ("namecheap", "godaddy")
# brandcrawl demo's settings against the replica: our own server on loopback, no need to wait.
CRAWL_SETTINGS = {"DOWNLOAD_DELAY": 0, "AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS_PER_DOMAIN": 8}
TARGET_RATE = 150_000  # rows/s end to end, at the largest watch list
TARGET_SHARE = 0.5  # of the raw-parse ceiling
TARGET_RSS_MB = 400


def _spider_class(feed: str) -> type[FeedSpider]:
    if feed == "namecheap":
        from spiders.namecheap import NamecheapSpider

        return NamecheapSpider
    from spiders.godaddy import GoDaddySpider

    return GoDaddySpider


# --- The replica, serving the drop list (``--serve``) ---------------------------------------------


def droplist_apps(names: list[str], feeds: list[str]) -> list[type[SiteApp]]:
    """The replica apps of ``feeds``, with the drop-list ``names`` in place of their filler."""
    from brandcrawl.replica.filler import Filler
    from brandcrawl.replica.godaddy import GoDaddyApp, _filler_item, _item_json
    from brandcrawl.replica.namecheap import NamecheapApp, _filler_sale

    class DroplistNamecheap(NamecheapApp):
        """The sales file: the seed spread through one generated auction per drop-list name."""

        def __init__(self, replica: ReplicaMarketplace) -> None:
            super().__init__(replica)
            self.filler = len(names)

        def _filler(self, kind: str, count: int) -> list[bytes]:
            if kind != "sales":
                return super()._filler(kind, count)  # the buy-now file keeps its 20 generated names
            filler = Filler()
            return [_filler_sale(filler, name).encode("utf-8") for name in names]

    class DroplistGoDaddy(GoDaddyApp):
        """The biddable file: its seed, then one item per drop-list name; the other two, the seed."""

        def __init__(self, replica: ReplicaMarketplace) -> None:
            super().__init__(replica)
            self.filler = 0

        def _items(self, feed: str, start: datetime) -> Iterator[dict[str, Any]]:
            yield from super()._items(feed, start)
            if feed == "biddable":
                for number, name in enumerate(names):
                    item = dataclasses.replace(_filler_item(number, feed), domain=name.upper())
                    yield _item_json(item, feed, start)

    apps: dict[str, type[SiteApp]] = {"namecheap": DroplistNamecheap, "godaddy": DroplistGoDaddy}
    return [apps[feed] for feed in feeds]


def serve(droplist_path: Path, feeds: list[str], files_dir: Path) -> None:
    """Build every file once, write it under ``files_dir/<app>/<path>`` (for the raw parse), serve the
    built bytes, print the base URL, and serve until standard input closes."""
    from brandcrawl.replica.feeds import FeedApp
    from brandcrawl.replica.server import ReplicaMarketplace

    names = droplist_path.read_text(encoding="utf-8").split()
    replica = ReplicaMarketplace(apps=droplist_apps(names, feeds))
    sizes: dict[str, int] = {}
    for app in replica.apps.values():
        assert isinstance(app, FeedApp)
        for path, (content_type, build) in list(app.files.items()):
            data = build()
            target = files_dir / app.name / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            sizes[f"{app.name}{path}"] = len(data)
            app.files[path] = (content_type, lambda data=data: data)
    with replica:
        print(json.dumps({"base_url": replica.base_url, "sizes": sizes}), flush=True)
        sys.stdin.read()  # until the benchmark closes the pipe (or dies)


# --- Children: one measurement each, in a fresh interpreter ----------------------------------------


def _toml(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)  # a JSON string is a TOML basic string


def watch_toml(feed: str, brands: list[dict[str, Any]]) -> str:
    """A watch file crawling ``feed`` for ``brands`` (entries of brands-N.json)."""
    lines = [
        "[digest]",
        'sender = "Feed benchmark <feed-benchmark@example.org>"',
        "",
        "[crawl]",
        "max_pages = 1",
        "",
        f"[marketplaces.{feed}]",
    ]
    for brand in brands:
        lines += ["", "[[brands]]", f"name = {_toml(brand['name'])}"]
        if brand["common_word"]:
            lines.append("common_word = true")
        for key in ("official_domains", "exclusions"):
            if brand[key]:
                lines.append(f"{key} = [{', '.join(_toml(v) for v in brand[key])}]")
    return "\n".join(lines) + "\n"


def crawl_child(feed: str, brands: list[dict[str, Any]], base_url: str, profile_out: str | None) -> dict:
    """One crawl of the replica by the real spider; the figures and the (domain, brand) hits stored."""
    from brandcrawl.cli import crawl
    from brandcrawl.config import load_watch

    with tempfile.TemporaryDirectory(prefix="feed-speed-") as tmp:
        watch_path = Path(tmp) / "watch.toml"
        watch_path.write_text(watch_toml(feed, brands), encoding="utf-8")
        watch = load_watch(watch_path)
        database = Path(tmp) / "bench.db"
        profiler = cProfile.Profile() if profile_out else None
        rss_before = status_mb("VmRSS")
        start = time.perf_counter()
        if profiler:
            profiler.enable()
        stats = crawl(
            watch,
            [feed],
            db_url=f"sqlite:///{database}",
            settings=CRAWL_SETTINGS,
            spider_args={"base_url": f"{base_url}/{{site}}"},
            log_level="WARNING",
        )[feed]
        if profiler:
            profiler.disable()
        wall_s = time.perf_counter() - start
        peak = status_mb("VmHWM")
        if profiler and profile_out:
            profiler.dump_stats(profile_out)
        with sqlite3.connect(database) as connection:
            stored = connection.execute(
                "SELECT l.listing_id, h.brand FROM listings l JOIN hits h ON h.listing_pk = l.id "
                "WHERE l.marketplace = ?",
                (feed,),
            ).fetchall()
        connection.close()
    elapsed = stats.get("elapsed_time_seconds")
    return {
        "brands": len(brands),
        "wall_s": wall_s,
        "scrapy_elapsed_s": elapsed,
        "rows": stats.get("brandcrawl/feed/rows", 0),
        "matched": stats.get("brandcrawl/feed/matched", 0),
        "malformed": stats.get("brandcrawl/feed/malformed", 0),
        "status": stats.get("brandcrawl/run/status"),
        "response_bytes": stats.get("downloader/response_bytes", 0),
        "hits": len({domain for domain, _ in stored}),
        "stored": sorted(stored),
        "rss_before_mb": rss_before,
        "peak_rss_mb": peak,
    }


def parse_child(feed: str, files_dir: Path) -> dict:
    """The raw-parse ceiling: every file of ``feed`` through the spider's ``rows()`` and
    ``row_domain()``, a chunk at a time as ``FeedSpider.parse`` reads them, without matching."""
    from scrapy import Request
    from scrapy.http import Response

    from spiders._base import PAGE_ERRORS
    from spiders._feeds import CHUNK_ROWS

    spider = _spider_class(feed)()
    rows = malformed = 0
    parse_s = 0.0
    for source in spider.feeds:
        path = files_dir / feed / source.path.lstrip("/")
        url = f"http://replica.invalid{source.path}"
        # Read from the file, as the crawl reads a file it downloaded in parts (spider.feed_part_size).
        meta = {"feed_file": path} if spider.feed_part_size else {}
        response = Response(url, body=b"" if meta else path.read_bytes(), request=Request(url, meta=meta))
        start = time.perf_counter()
        stream = spider.rows(response, source)
        while chunk := list(islice(stream, CHUNK_ROWS)):
            rows += len(chunk)
            domains = []
            for row in chunk:
                try:
                    domains.append(spider.row_domain(row, source))
                except PAGE_ERRORS:
                    malformed += 1
                    domains.append("")
        parse_s += time.perf_counter() - start
        del response, stream
    return {"parse_s": parse_s, "rows": rows, "malformed": malformed, "peak_rss_mb": status_mb("VmHWM")}


def _run_child(arguments: list[str]) -> dict:
    """This script in a fresh interpreter, with ``arguments``; its last stdout line, as JSON."""
    command = [sys.executable, str(Path(__file__).resolve()), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"child {arguments[:2]} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- The report -----------------------------------------------------------------------------------


def start_replica(droplist_path: Path, feeds: list[str], files_dir: Path) -> tuple[subprocess.Popen, dict]:
    """The replica subprocess, once its files are built: the process and what it printed."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--serve",
        str(droplist_path),
        "--feeds",
        ",".join(feeds),
        "--files-dir",
        str(files_dir),
    ]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        process.wait()
        raise RuntimeError(f"the replica exited ({process.returncode}) before serving")
    return process, json.loads(line)


def stop_replica(process: subprocess.Popen) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.terminate()
        process.wait()


def print_profile(path: Path, top: int = 25) -> str:
    """The profile's functions by own time, then by cumulative time."""
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def measure_crawl(
    feed: str, brands_path: Path, count: int, base_url: str, profile_out: Path | None = None
) -> dict:
    """One crawl child: ``feed`` crawled for the first ``count`` brands of ``brands_path``."""
    arguments = ["--child", "crawl", "--feed", feed, "--brand-file", str(brands_path)]
    arguments += ["--brand-count", str(count), "--base-url", base_url]
    if profile_out is not None:
        arguments += ["--profile-out", str(profile_out)]
    return _run_child(arguments)


def planted_missed(
    planted: list[tuple], watched: set[str], stored: list[list[str]]
) -> tuple[int, list[tuple]]:
    """How many planted variants of the ``watched`` brands there are, and those not stored for their
    brand: ``(domain, brand, family)``."""
    expected = {(domain, brand, family) for _, brand, domain, family in planted if brand in watched}
    hits = {(domain, brand) for domain, brand in stored}
    return len(expected), sorted(p for p in expected if p[:2] not in hits)


def report_feed(
    feed: str, sizes: list[int], brands_path: Path, planted: list[tuple], base_url: str, files_dir: Path
) -> tuple[dict, list[tuple[str, bool, str]]]:
    """The raw parse and one crawl per watch-list size of ``feed``, printed; the figures and targets."""
    all_brands = json.loads(brands_path.read_text(encoding="utf-8"))
    print(f"\n{feed}")
    ceiling = _run_child(["--child", "parse", "--feed", feed, "--files-dir", str(files_dir)])
    raw_rate = ceiling["rows"] / ceiling["parse_s"]
    print(
        f"  {'raw parse (no matching)':26} rows {ceiling['rows']:>9,} | {ceiling['parse_s']:6.2f} s "
        f"{'':22}| "
        f"{raw_rate:>9,.0f} rows/s | peak RSS {ceiling['peak_rss_mb']:6.1f} MB"
    )
    crawls = {}
    for count in sizes:
        run = measure_crawl(feed, brands_path, count, base_url)
        expected, missed = planted_missed(planted, {b["name"] for b in all_brands[:count]}, run.pop("stored"))
        rate = run["rows"] / run["wall_s"]
        print(
            f"  {f'crawl, {count:,} brands':26} rows {run['rows']:>9,} | {run['wall_s']:6.2f} s "
            f"(spider open {run['scrapy_elapsed_s']:5.2f} s) | "
            f"{rate:>9,.0f} rows/s ({rate / raw_rate:.0%} of raw) | "
            f"peak RSS {run['peak_rss_mb']:6.1f} MB | hits {run['hits']:,} | "
            f"planted found {expected - len(missed)}/{expected} | "
            f"{run['status']}, {run['malformed']} malformed"
        )
        if missed:
            print("    missed:", ", ".join(f"{d} [{b}, {f}]" for d, b, f in missed[:10]))
        crawls[count] = run | {"rows_per_s": rate, "planted_expected": expected, "planted_missed": missed}
    largest = crawls[sizes[-1]]
    checks = [
        (
            f"{feed}: >= {TARGET_RATE:,} rows/s at {sizes[-1]:,} brands",
            largest["rows_per_s"] >= TARGET_RATE,
            f"{largest['rows_per_s']:,.0f} rows/s",
        ),
        (
            f"{feed}: >= {TARGET_SHARE:.0%} of the raw-parse ceiling",
            largest["rows_per_s"] >= TARGET_SHARE * raw_rate,
            f"{largest['rows_per_s'] / raw_rate:.0%} of {raw_rate:,.0f} rows/s",
        ),
        (
            f"{feed}: peak RSS <= {TARGET_RSS_MB} MB",
            all(r["peak_rss_mb"] <= TARGET_RSS_MB for r in crawls.values()),
            f"{max(r['peak_rss_mb'] for r in crawls.values()):.0f} MB",
        ),
        (
            f"{feed}: every planted variant found",
            not any(r["planted_missed"] for r in crawls.values()),
            ", ".join(
                f"{r['planted_expected'] - len(r['planted_missed'])}/{r['planted_expected']}"
                for r in crawls.values()
            ),
        ),
    ]
    return {"raw_parse": ceiling | {"rows_per_s": raw_rate}, "crawls": crawls}, checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="drop-list names served")
    parser.add_argument("--brands", default="40,1000", help="watch-list sizes, comma-separated")
    parser.add_argument("--feeds", default=",".join(FEEDS), help="namecheap,godaddy or one of them")
    parser.add_argument("--profile", choices=FEEDS, help="also run one crawl of this feed under cProfile")
    # Child modes (internal).
    parser.add_argument("--serve", help=argparse.SUPPRESS)  # the drop-list file
    parser.add_argument("--files-dir", help=argparse.SUPPRESS)
    parser.add_argument("--child", choices=("crawl", "parse"), help=argparse.SUPPRESS)
    parser.add_argument("--feed", choices=FEEDS, help=argparse.SUPPRESS)
    parser.add_argument("--brand-file", help=argparse.SUPPRESS)
    parser.add_argument("--brand-count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--base-url", help=argparse.SUPPRESS)
    parser.add_argument("--profile-out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    feeds = [f.strip() for f in args.feeds.split(",") if f.strip()]
    if unknown := set(feeds) - set(FEEDS):
        parser.error(f"unknown feeds: {', '.join(sorted(unknown))}")
    if args.serve:
        serve(Path(args.serve), feeds, Path(args.files_dir))
        return 0
    if args.child == "crawl":
        spec = json.loads(Path(args.brand_file).read_text(encoding="utf-8"))[: args.brand_count]
        print(json.dumps(crawl_child(args.feed, spec, args.base_url, args.profile_out)))
        return 0
    if args.child == "parse":
        print(json.dumps(parse_child(args.feed, Path(args.files_dir))))
        return 0

    from matcher_speed import brand_file, droplist  # the cached drop list and watch lists

    sizes = sorted(int(n) for n in args.brands.split(","))
    brands_path = brand_file(max(1000, sizes[-1]))
    droplist_path, planted_path = droplist(args.rows)
    planted = [tuple(p) for p in json.loads(planted_path.read_text(encoding="utf-8"))]
    files_dir = DATA_DIR / f"feeds-{args.rows}"
    print(f"drop list: {args.rows:,} names ({len(planted)} planted variants), {droplist_path}")
    started = time.perf_counter()
    replica, served = start_replica(droplist_path, feeds, files_dir)
    print(f"replica: {served['base_url']}, files built in {time.perf_counter() - started:.0f} s, {files_dir}")
    for name, size in served["sizes"].items():
        print(f"  {name}: {size / 1e6:,.1f} MB")
    figures: dict[str, Any] = {"rows": args.rows, "planted": len(planted), "files": served["sizes"]}
    checks: list[tuple[str, bool, str]] = []
    try:
        for feed in feeds:
            figures[feed], feed_checks = report_feed(
                feed, sizes, brands_path, planted, served["base_url"], files_dir
            )
            checks += feed_checks
        if args.profile:
            out = DATA_DIR / f"feed-profile-{args.profile}-{args.rows}-{sizes[-1]}.prof"
            run = measure_crawl(args.profile, brands_path, sizes[-1], served["base_url"], out)
            print(
                f"\nPROFILE ({args.profile}, {sizes[-1]:,} brands, "
                f"{run['wall_s']:.1f} s under cProfile, {out})"
            )
            print(print_profile(out))
    finally:
        stop_replica(replica)

    print("\nTARGETS")
    for label, ok, value in checks:
        print(f"  {'✓' if ok else '✗'} {label:48} {value}")
    figures["targets"] = {label: {"met": ok, "value": value} for label, ok, value in checks}
    out = DATA_DIR / f"feed-speed-{args.rows}-{'-'.join(feeds)}-{'-'.join(map(str, sizes))}.json"
    out.write_text(json.dumps(figures, indent=1, default=str), encoding="utf-8")
    print(f"\nfigures: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
