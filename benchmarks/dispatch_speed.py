"""Dispatch speed: every replica marketplace crawled for 1,000 brands by ``brandcrawl dispatch``, over
one Scrapyd node and over two, as jobs/s and items (listings read)/s.

The replica runs in a subprocess of its own; each Scrapyd node is a real Scrapyd on 127.0.0.1 with the
project deployed by scrapyd-deploy (tests/scrapyd_nodes.py), and each measurement is one
``brandcrawl dispatch --json`` into a fresh SQLite file. The watch file is the demo's marketplaces,
``max_pages = 1``, with the first N brands of ``brands-1000.json`` (matcher_speed.py writes it).
Every node runs on this machine, so two nodes share its CPUs: the figures show the dispatch's own
cost and what running marketplaces side by side gives, not what a second machine adds.

    .venv/bin/python benchmarks/dispatch_speed.py [--brands 1000] [--shard-size 50] [--nodes 1,2]
    .venv/bin/python benchmarks/dispatch_speed.py --brands 100 --shard-size 25          # quick
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.request import urlopen

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DATA_DIR = BENCH_DIR / "data"
sys.path[:0] = [str(ROOT), str(BENCH_DIR)]

from matcher_speed import brand_file  # noqa: E402 (after the path)

from tests.scrapyd_nodes import deploy, free_port, project_copy, scrapyd_node  # noqa: E402

# The replica is our own server on loopback: no waiting between requests.
FAST = (
    "DOWNLOAD_DELAY=0",
    "AUTOTHROTTLE_ENABLED=False",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
    "LOG_LEVEL=INFO",
)


def watch_toml(brands: list[dict[str, Any]], base_url: str) -> str:
    """The demo's watch file, every marketplace on the replica, ``max_pages = 1``, with ``brands``."""
    demo = (ROOT / "brandcrawl" / "replica" / "demo_watch.toml").read_text(encoding="utf-8")
    head, _, _ = demo.partition("[[brands]]")
    head = head.replace("max_pages = 3", "max_pages = 1")
    lines = [
        line + f'\nbase_url = "{base_url}/{{site}}"' if line.startswith("[marketplaces.") else line
        for line in head.splitlines()
    ]
    for brand in brands:
        lines += ["", "[[brands]]", f"name = {json.dumps(brand['name'], ensure_ascii=False)}"]
        if brand["common_word"]:
            lines.append("common_word = true")
        for key in ("official_domains", "exclusions"):
            if brand[key]:
                lines.append(f"{key} = {json.dumps(brand[key], ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def serve_replica(stack: ExitStack) -> str:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "brandcrawl.replica", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    stack.callback(process.wait)
    stack.callback(process.terminate)
    base_url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urlopen(f"{base_url}/robots.txt", timeout=5):
                return base_url
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def measure(nodes: list[str], watch: Path, db: Path, shard_size: int, jobs_per_node: int) -> dict[str, Any]:
    settings = [arg for setting in FAST for arg in ("-s", setting)]
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "brandcrawl.cli", "dispatch", "--watch", str(watch), "--db", f"sqlite:///{db}",
         "--nodes", ",".join(nodes), "--shard-size", str(shard_size), "--jobs-per-node", str(jobs_per_node),
         "--poll", "0.5", "--json", *settings],
        capture_output=True, text=True, check=False, cwd=ROOT,
    )  # fmt: skip
    wall = time.monotonic() - started
    if not done.stdout.strip():
        raise SystemExit(f"dispatch failed ({done.returncode}):\n{done.stderr}")
    summary = json.loads(done.stdout)
    chains: dict[str, float] = defaultdict(float)
    for job in summary["jobs"]:
        chains[job["marketplace"]] += job["duration_s"]
    slowest = max(chains, key=chains.__getitem__)
    return {
        "nodes": len(nodes),
        "exit_status": done.returncode,
        "wall_s": round(wall, 1),
        "jobs": summary["jobs"],
        "job_count": len(summary["jobs"]),
        "shards": summary["shards"],
        "pages": summary["pages"],
        "pages_per_s": round(summary["pages"] / wall, 1),
        "listings": summary["listings"],
        "new_hits": summary["new_hits"],
        "jobs_per_s": round(len(summary["jobs"]) / wall, 3),
        "items_per_s": round(summary["listings"] / wall, 1),
        "slowest_marketplace": slowest,
        "slowest_crawl_s": round(chains[slowest], 1),
        "outcomes": sorted({job["outcome"] for job in summary["jobs"]}),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--brands", type=int, default=1000)
    parser.add_argument("--shard-size", type=int, default=50)
    parser.add_argument("--nodes", default="1,2", help="node counts to measure, comma-separated")
    parser.add_argument("--jobs-per-node", type=int, default=4)
    args = parser.parse_args()
    brands = json.loads(brand_file(1000).read_text(encoding="utf-8"))[: args.brands]
    counts = [int(n) for n in args.nodes.split(",")]

    results = []
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="dispatch-speed-") as folder:
        work = Path(folder)
        base_url = serve_replica(stack)
        homes = [work / f"node-{i}" for i in range(max(counts))]
        for home in homes:
            home.mkdir()
        nodes = [stack.enter_context(scrapyd_node(home)) for home in homes]
        (work / "project").mkdir()
        (work / "deploy").mkdir()
        deploy(project_copy(work / "project"), nodes, work / "deploy")
        watch = work / "watch.toml"
        watch.write_text(watch_toml(brands, base_url), encoding="utf-8")
        for count in counts:
            urls = [node.url for node in nodes[:count]]
            figures = measure(urls, watch, work / f"dispatch-{count}.db", args.shard_size, args.jobs_per_node)
            results.append(figures)
            print(
                f"{count} node(s), {args.jobs_per_node} jobs each: {figures['job_count']} jobs "
                f"({figures['shards']} shards) in {figures['wall_s']} s = {figures['jobs_per_s']} jobs/s, "
                f"{figures['pages']} pages = {figures['pages_per_s']} pages/s, "
                f"{figures['listings']} listings = {figures['items_per_s']} items/s; slowest marketplace "
                f"{figures['slowest_marketplace']} ({figures['slowest_crawl_s']} s of crawling); "
                f"outcomes {', '.join(figures['outcomes'])}; exit {figures['exit_status']}",
                flush=True,
            )

    DATA_DIR.mkdir(parents=True, exist_ok=True)
    out = DATA_DIR / f"dispatch-speed-{args.brands}-{args.shard_size}.json"
    out.write_text(
        json.dumps({"brands": args.brands, "shard_size": args.shard_size, "runs": results}, indent=1)
    )
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
