"""brandcrawl dispatch: the plan (brand shards, one job at a time per marketplace, the least-loaded
node), and the crawl spread over real Scrapyd nodes on 127.0.0.1 into one database, with a node
dying and jobs dying at start."""

from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from scrapy.utils.defer import deferred_f_from_coro_f
from sqlalchemy import select

from brandcrawl.cli import _parser, main
from brandcrawl.config import parse_watch
from brandcrawl.dispatch import (
    Dispatcher,
    DispatchOptions,
    Jobs,
    NodeDown,
    Outcome,
    Shard,
    assign,
    plan,
    searches_by_brand,
)
from brandcrawl.replica import ReplicaMarketplace
from brandcrawl.runs import CrawlLock
from brandcrawl.storage import Store
from brandcrawl.storage.models import CrawlRun, DeliveredHit, Delivery, Hit, ListingRow
from spiders.accsmarket import AccsMarketSpider
from spiders.ebay import EbaySpider
from spiders.ebay_api import EbayApiSpider
from spiders.namejet import NameJetSpider
from spiders.swapd import SwapdSpider
from tests.conftest import count, crawl, crawl_settings, rows
from tests.databases import postgres_admin_url
from tests.local import free_port, race, smtp_inbox
from tests.scrapyd_nodes import Scrapyd, deploy, deploy_egg, project_copy, scrapyd_node
from tests.test_deploy import DEPLOY, brandcrawl_arguments, unit

# -- the plan ---------------------------------------------------------------------------------

MARKETPLACES = [("ebay", "ebay", True), ("godaddy", "godaddy", False), ("swapd", "swapd", True)]


@pytest.mark.parametrize(
    ("brands", "shard_size", "expected"),
    [
        pytest.param(
            6,
            2,
            {"ebay": ["1/3", "2/3", "3/3"], "godaddy": ["all"], "swapd": ["1/3", "2/3", "3/3"]},
            id="three-shards",
        ),
        pytest.param(
            7, 3, {"ebay": ["1/3", "2/3", "3/3"], "godaddy": ["all"], "swapd": ["1/3", "2/3", "3/3"]}
        ),
        pytest.param(6, 6, {"ebay": ["all"], "godaddy": ["all"], "swapd": ["all"]}, id="one-shard"),
        pytest.param(2, 50, {"ebay": ["all"], "godaddy": ["all"], "swapd": ["all"]}, id="fewer-brands"),
        pytest.param(1000, 50, {"ebay": 20, "godaddy": ["all"], "swapd": 20}, id="an-agency"),
    ],
)
def test_each_searching_marketplace_is_cut_into_brand_shards(
    brands: int, shard_size: int, expected: dict[str, Any]
) -> None:
    shards = plan(MARKETPLACES, brands, shard_size)

    labels = {name: [shard.label for shard in planned] for name, planned in shards.items()}
    assert {
        name: len(found) if isinstance(expected[name], int) else found for name, found in labels.items()
    } == (expected)
    assert list(shards) == ["ebay", "godaddy", "swapd"]  # the watch file's order
    assert all(shard.spider == name for name, planned in shards.items() for shard in planned)


@pytest.mark.parametrize(("brands", "count"), [(6, 3), (7, 3), (1000, 20), (5, 5)])
def test_the_shards_cover_every_brand_once_each_within_the_shard_size(brands: int, count: int) -> None:
    watch = parse_watch(_watch_text(brands))

    shards = [watch.shard(index, count) for index in range(1, count + 1)]

    assert [brand for shard in shards for brand in shard] == list(watch.brands)  # in the file's order
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert max(map(len, shards)) <= -(-brands // count)


def _watch_text(brands: int) -> str:
    names = "".join(f'[[brands]]\nname = "Brand{i}"\n' for i in range(brands))
    return f'[digest]\nsender = "w@example.org"\n[marketplaces.ebay]\n{names}'


@pytest.mark.parametrize(
    ("spider", "table", "by_brand"),
    [
        pytest.param(EbaySpider, "", True, id="search-pages"),
        pytest.param(EbayApiSpider, "", True, id="search-api"),
        pytest.param(SwapdSpider, "", True, id="searches-and-categories"),
        pytest.param(SwapdSpider, "search = false", False, id="categories-only-by-choice"),
        pytest.param(AccsMarketSpider, "", False, id="no-keyword-search"),
        pytest.param(NameJetSpider, "", False, id="a-feed"),
    ],
)
def test_only_a_crawl_that_searches_by_brand_is_sharded(spider: type, table: str, by_brand: bool) -> None:
    watch = parse_watch(
        f'[digest]\nsender = "w@example.org"\n[marketplaces.x]\n{table}\n[[brands]]\nname = "A"\n'
    )

    assert searches_by_brand(spider, watch.marketplaces["x"]) is by_brand


def shards(name: str, count: int) -> list[Shard]:
    return [Shard(name, name, index, count) for index in range(1, count + 1)]


EBAY, SWAPD, GODADDY = shards("ebay", 3), shards("swapd", 2), [Shard("godaddy", "godaddy")]


@pytest.mark.parametrize(
    ("waiting", "busy", "loads", "capacity", "avoid", "expected"),
    [
        pytest.param(
            {"ebay": EBAY, "godaddy": GODADDY},
            set(),
            {"a": 0, "b": 0},
            4,
            {},
            [(EBAY[0], "a"), (GODADDY[0], "b")],
            id="one-shard-of-each-marketplace-spread-over-the-nodes",
        ),
        pytest.param(
            {"ebay": EBAY[1:], "godaddy": GODADDY},
            {"ebay"},
            {"a": 0, "b": 0},
            4,
            {},
            [(GODADDY[0], "a")],
            id="never-two-jobs-on-one-marketplace",
        ),
        pytest.param(
            {"ebay": EBAY, "godaddy": GODADDY, "swapd": SWAPD},
            set(),
            {"a": 3, "b": 1, "c": 2},
            4,
            {},
            [(EBAY[0], "b"), (SWAPD[0], "b"), (GODADDY[0], "c")],
            id="least-loaded-first-most-shards-first",
        ),
        pytest.param(
            {"ebay": EBAY, "godaddy": GODADDY, "swapd": SWAPD},
            set(),
            {"a": 4, "b": 3},
            4,
            {},
            [(EBAY[0], "b")],
            id="full-nodes-get-nothing",
        ),
        pytest.param(
            {"ebay": EBAY}, set(), {"a": 0, "b": 2}, 4, {EBAY[0]: {"a"}}, [(EBAY[0], "b")], id="another-node"
        ),
        pytest.param(
            {"ebay": EBAY},
            set(),
            {"a": 0, "b": 4},
            4,
            {EBAY[0]: {"a"}},
            [(EBAY[0], "a")],
            id="the-same-node-when-no-other-is-free",
        ),
        pytest.param({"ebay": []}, set(), {"a": 0}, 4, {}, [], id="nothing-left"),
    ],
)
def test_the_next_jobs_go_to_the_least_loaded_nodes_one_per_marketplace(
    waiting: dict[str, list[Shard]],
    busy: set[str],
    loads: dict[str, int],
    capacity: int,
    avoid: dict[Shard, set[str]],
    expected: list[tuple[Shard, str]],
) -> None:
    assert assign(waiting, busy, loads, capacity, avoid) == expected


# -- the wait loop, on stand-in nodes (no waiting: its logic alone) -------------------------------


Result = Callable[[str, dict[str, str]], str | None]
EVENTS: list[tuple[str, str]] = []  # ("scheduled" or "over", shard), on every stand-in node, in order


class StandInNode:
    """Answers as a Scrapyd node would, without running anything: a job waits one look at the node,
    runs one more, then is over, having recorded the run ``result(spider, args)`` says (a status, or
    None for a job that died without recording one). ``dies_after`` looks, it stops answering."""

    def __init__(
        self, url: str, store: Store, result: Result = lambda spider, args: "ok", dies_after: int = 0
    ):
        self.url, self.store, self.result, self.dies_after = url, store, result, dies_after
        self.pending: dict[str, tuple[str, dict[str, str]]] = {}
        self.running: dict[str, tuple[str, dict[str, str]]] = {}
        self.scheduled: list[tuple[str, dict[str, str], dict[str, str]]] = []  # spider, settings, args
        self.looks = 0

    def jobs(self) -> Jobs:
        self.looks += 1
        if self.dies_after and self.looks > self.dies_after:
            raise NodeDown("listjobs.json: [Errno 111] Connection refused")
        for job, (spider, args) in self.running.items():
            EVENTS.append(("over", f"{spider} {args.get('shard', 'all')}"))
            status = self.result(spider, args)
            if status is not None:
                now = datetime.now(UTC)
                self.store.record_run(
                    spider=spider, started_at=now, finished_at=now, pages_fetched=3, listings_seen=10,
                    hits=1, new_hits=1, errors=0, status=status, detail="", finish_reason="finished", job=job,
                )  # fmt: skip
        self.running, self.pending = self.pending, {}
        return Jobs(frozenset(self.pending), frozenset(self.running))

    def schedule(self, project: str, spider: str, version: str, job: str, settings: Any, args: Any) -> None:
        if self.dies_after and self.looks >= self.dies_after:
            raise NodeDown("schedule.json: [Errno 111] Connection refused")
        self.pending[job] = (spider, dict(args))
        self.scheduled.append((spider, dict(settings), dict(args)))
        EVENTS.append(("scheduled", f"{spider} {args.get('shard', 'all')}"))


def run_plan(
    nodes: list[StandInNode], store: Store, shards: dict[str, list[Shard]], retries: int = 2
) -> Outcome:
    options = DispatchOptions("brandcrawl", "r1", {"BRANDCRAWL_WATCH": "/w.toml"}, "sha", 4, retries, 0.2)
    EVENTS.clear()
    nodes_as_scrapyd: list[Any] = nodes  # they answer the calls the dispatcher makes
    return Dispatcher(nodes_as_scrapyd, store, options, sleep=lambda seconds: None).run(shards)


def test_one_job_at_a_time_per_marketplace_each_revisit_by_the_last_shard(store: Store) -> None:
    a, b = StandInNode("http://a/", store), StandInNode("http://b/", store)

    outcome = run_plan([a, b], store, {"ebay": shards("ebay", 3), "godaddy": [Shard("godaddy", "godaddy")]})

    assert outcome.exit_status() == 0
    # Free slots on both nodes, yet eBay's shards ran one after another, beside GoDaddy's one job.
    assert [event for event in EVENTS if event[1].startswith("ebay")] == [
        ("scheduled", "ebay 1/3"), ("over", "ebay 1/3"),
        ("scheduled", "ebay 2/3"), ("over", "ebay 2/3"),
        ("scheduled", "ebay 3/3"), ("over", "ebay 3/3"),
    ]  # fmt: skip
    assert EVENTS[:2] == [("scheduled", "ebay 1/3"), ("scheduled", "godaddy all")]
    scheduled = {
        args.get("shard", "all"): (settings, args) for _, settings, args in a.scheduled + b.scheduled
    }
    assert scheduled["1/3"][0]["BRANDCRAWL_REVISIT_MAX"] == "0"
    assert "BRANDCRAWL_REVISIT_MAX" not in scheduled["3/3"][0]
    assert "unseen_since" in scheduled["3/3"][1]
    assert "unseen_since" not in scheduled["1/3"][1]
    assert all(args["watch_sha256"] == "sha" for _, args in scheduled.values())


@pytest.mark.parametrize(
    ("result", "retries", "outcomes", "status", "unfinished"),
    [
        pytest.param(lambda spider, args: "blocked", 2, ["blocked"], 3, {}, id="blocked-told-not-retried"),
        pytest.param(lambda spider, args: "needs_login", 2, ["needs_login"], 0, {}, id="needs-login-is-fine"),
        pytest.param(
            lambda spider, args: None, 2, ["no_record"] * 3, 1, {"all": "failed"}, id="died-past-the-retries"
        ),
        pytest.param(lambda spider, args: None, 0, ["no_record"], 1, {"all": "failed"}, id="no-retries"),
    ],
)
def test_how_a_job_went_is_its_recorded_run(
    store: Store, result: Any, retries: int, outcomes: list[str], status: int, unfinished: dict[str, str]
) -> None:
    nodes = [StandInNode("http://a/", store, result), StandInNode("http://b/", store, result)]

    outcome = run_plan(nodes, store, {"namejet": [Shard("namejet", "namejet")]}, retries)

    assert [attempt.outcome for attempt in outcome.attempts] == outcomes
    assert [attempt.node for attempt in outcome.attempts][:2] == ["http://a/", "http://b/"][: len(outcomes)]
    assert {shard.label: why for shard, why in outcome.unfinished.items()} == unfinished
    assert outcome.exit_status() == status


def test_the_jobs_of_a_node_that_stops_answering_run_elsewhere_until_no_node_is_left(store: Store) -> None:
    a = StandInNode("http://a/", store, dies_after=2)  # dies while its first job runs
    b = StandInNode("http://b/", store, dies_after=6)  # and while its second one runs

    outcome = run_plan([a, b], store, {"ebay": shards("ebay", 3)})

    assert [(attempt.shard.label, attempt.node, attempt.outcome) for attempt in outcome.attempts] == [
        ("1/3", "http://a/", "node_died"),
        ("1/3", "http://b/", "ok"),
        ("2/3", "http://b/", "node_died"),
    ]
    assert {shard.label: why for shard, why in outcome.unfinished.items()} == {
        "2/3": "not_run",
        "3/3": "not_run",
    }
    assert outcome.exit_status() == 1


# -- on real Scrapyd nodes ---------------------------------------------------------------------

WATCH = """
[digest]
sender = "Brand watch <watch@example.org>"

[crawl]
contact = "mailto:tests@example.org"
max_pages = 2

[marketplaces.ebay]
sites = ["ebay.fr", "ebay.com"]
base_url = "{base}/{{site}}"

[marketplaces.socialtradia]
base_url = "{base}/{{site}}"

[marketplaces.namejet]
base_url = "{base}/{{site}}"

[[brands]]
name = "Gallimard"
official_domains = ["gallimard.fr"]

[[brands]]
name = "Hachette"

[[brands]]
name = "Flammarion"

[[brands]]
name = "Folio"
common_word = true

[[brands]]
name = "Actes Sud"

[[brands]]
name = "Minuit"
"""
# The replica is our own server on loopback: no waiting between requests.
FAST = [
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "AUTOTHROTTLE_ENABLED=False",
    "-s",
    "CONCURRENT_REQUESTS_PER_DOMAIN=8",
]


@dataclass
class Cluster:
    nodes: list[Scrapyd]
    project: Path
    egg: Path
    replica: Any
    watch: Path
    expected: set[tuple[str, str, str]]  # (marketplace, listing id, brand) of one unsharded run


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two Scrapyd nodes with the project deployed, the replica, the watch file, and the hits a plain
    `brandcrawl run` of it finds."""
    with (
        ReplicaMarketplace() as replica,
        scrapyd_node(tmp_path_factory.mktemp("node-a")) as a,
        scrapyd_node(tmp_path_factory.mktemp("node-b")) as b,
    ):
        project = project_copy(tmp_path_factory.mktemp("project"))
        work = tmp_path_factory.mktemp("deploy")
        deploy(project, [a, b], work)
        watch = tmp_path_factory.mktemp("watch") / "watch.toml"
        watch.write_text(WATCH.format(base=replica.base_url), encoding="utf-8")
        reference = f"sqlite:///{tmp_path_factory.mktemp('reference') / 'reference.db'}"
        done = subprocess.run(
            [sys.executable, "-m", "brandcrawl.cli", "run", "--watch", str(watch), "--db", reference,
             "--out", str(watch.parent / "digest"), "--log-level", "WARNING", *FAST],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        expected = hits(reference)
        assert {marketplace for marketplace, _, _ in expected} == {"ebay", "socialtradia", "namejet"}
        assert {brand for _, _, brand in expected} == {"Gallimard", "Folio"}
        yield Cluster([a, b], project, work / "brandcrawl-r1.egg", replica, watch, expected)


def hits(db_url: str) -> set[tuple[str, str, str]]:
    store = Store(db_url)
    try:
        with store.session() as session:
            query = select(ListingRow.marketplace, ListingRow.listing_id, Hit.brand).join(
                Hit, Hit.listing_pk == ListingRow.id
            )
            return {tuple(row) for row in session.execute(query)}  # type: ignore[misc]
    finally:
        store.close()


def dispatch(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    status = main(["dispatch", "--poll", "0.2", "--timeout", "10", *FAST, "--json", *args])
    out, err = capsys.readouterr()
    print(err)  # shown when the test fails
    return status, json.loads(out)


def node_logs(cluster: Cluster, *more: Scrapyd) -> str:
    return "\n".join(node.job_logs() for node in (*cluster.nodes, *more))


def test_the_crawl_spread_over_two_nodes_stores_every_hit_once_and_mails_it_once(
    cluster: Cluster, db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, b = cluster.nodes
    nodes = f"{a.url},{b.url}"
    args = ["--watch", str(cluster.watch), "--db", db_url, "--nodes", nodes, "--shard-size", "3"]

    status = main(["dispatch", "--poll", "0.2", *FAST, *args])

    out, err = capsys.readouterr()
    *lines, totals, on_a, on_b = out.splitlines()
    assert status == 0, (out, err, node_logs(cluster))
    # One line per job: marketplace, shard, node, job id, outcome, listings, new hits, duration.
    jobs = [line.split() for line in lines]
    assert sorted((job[0], job[1]) for job in jobs) == [
        ("ebay", "1/2"), ("ebay", "2/2"), ("namejet", "all"),
        ("socialtradia", "1/2"), ("socialtradia", "2/2"),
    ]  # fmt: skip
    assert {job[4] for job in jobs} == {"ok"}
    assert {job[2] for job in jobs} == {a.url, b.url}, "both nodes worked"
    assert all(job[6] == "listings" and job[9] == "hits" and job[-1] == "s" for job in jobs), lines
    assert totals.startswith("dispatch of version r1 on 2 nodes: 5 jobs (0 retried) in ")
    assert "5 shards: 5 crawled, 0 blocked, disallowed or broken, 0 failed;" in totals
    assert [on_a.split(": ")[0], on_b.split(": ")[0]] == [f"node {a.url}", f"node {b.url}"]

    # Every hit a plain run finds, once.
    assert hits(db_url) == cluster.expected
    assert count(db_url, Hit) == len(cluster.expected)
    # Each job recorded its run under its Scrapyd job id, and no two ran on one marketplace at once.
    runs = rows(db_url, CrawlRun)
    assert sorted((run.job, run.spider, run.status) for run in runs) == sorted(
        (j[3], j[0], "ok") for j in jobs
    )
    for marketplace in ("ebay", "socialtradia"):
        crawls = sorted((run.started_at, run.finished_at) for run in runs if run.spider == marketplace)
        assert all(before[1] <= after[0] for before, after in pairwise(crawls)), crawls

    # Then both nodes' timers run the digest at once: each recipient gets one mail with every hit.
    with smtp_inbox() as (inbox, port):
        watch = mailing_watch(cluster.watch, port, tmp_path)
        digest = [sys.executable, "-m", "brandcrawl.cli", "digest", "--watch", str(watch), "--db", db_url]
        outcomes = race([[*digest, "--out", str(tmp_path / f"node-{n}")] for n in range(2)])
    assert [status for _, _, status in outcomes] == [0, 0], outcomes
    for recipient, brand in RECIPIENTS.items():
        [mail] = inbox.to(recipient)
        assert mail["Subject"], mail
        assert delivered(db_url, recipient) == {hit for hit in cluster.expected if hit[2] == brand}


RECIPIENTS = {"juridique@gallimard.example": "Gallimard", "veille@gallimard.example": "Folio"}


def mailing_watch(watch: Path, smtp_port: int, folder: Path) -> Path:
    """The cluster's watch file with each brand's recipient and the test's SMTP server."""
    text = watch.read_text(encoding="utf-8").replace(
        "[crawl]", f'[digest.smtp]\nhost = "127.0.0.1"\nport = {smtp_port}\nsecurity = "none"\n\n[crawl]'
    )
    for recipient, brand in RECIPIENTS.items():
        text = text.replace(f'name = "{brand}"\n', f'name = "{brand}"\nrecipients = ["{recipient}"]\n')
    mailing = folder / "mailing.toml"
    mailing.write_text(text, encoding="utf-8")
    return mailing


def delivered(db_url: str, recipient: str) -> set[tuple[str, str, str]]:
    """(marketplace, listing id, brand) of the hits sent to ``recipient``."""
    store = Store(db_url)
    try:
        with store.session() as session:
            query = (
                select(ListingRow.marketplace, ListingRow.listing_id, Hit.brand)
                .join(Hit, Hit.listing_pk == ListingRow.id)
                .join(DeliveredHit, DeliveredHit.hit_id == Hit.id)
                .join(Delivery, Delivery.id == DeliveredHit.delivery_id)
                .where(Delivery.recipient == recipient, Delivery.status == "sent")
            )
            found = [tuple(row) for row in session.execute(query)]
    finally:
        store.close()
    assert len(found) == len(set(found)), "a hit sent twice"
    return set(found)  # type: ignore[arg-type]


def test_the_shards_of_a_node_killed_mid_way_run_on_another(
    cluster: Cluster, db_url: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a, _ = cluster.nodes
    (tmp_path / "node-c").mkdir()
    with scrapyd_node(tmp_path / "node-c") as c:
        deploy_egg(cluster.project, c, tmp_path, cluster.egg)
        outcome: list[tuple[int, dict[str, Any]]] = []
        # The killed node listed first: it gets the first job (eBay).
        args = ("--watch", str(cluster.watch), "--db", db_url, "--nodes", f"{c.url},{a.url}",
                "--spider", "ebay", "--spider", "namejet", "--shard-size", "6")  # fmt: skip
        dispatcher = threading.Thread(target=lambda: outcome.append(dispatch(capsys, *args)))
        dispatcher.start()
        try:
            while not any(c.call("listjobs.json")[state] for state in ("pending", "running")):
                assert dispatcher.is_alive(), outcome
                time.sleep(0.05)
            c.kill()  # mid-way: the job had not even started crawling
        finally:
            dispatcher.join(timeout=300)
        [(status, summary)] = outcome

    assert status == 0, (summary, node_logs(cluster, c))
    died = [job for job in summary["jobs"] if job["node"] == c.url]
    assert [(job["marketplace"], job["outcome"], job["retried"]) for job in died] == [
        ("ebay", "node_died", True)
    ]
    on_a = sorted((job["marketplace"], job["outcome"]) for job in summary["jobs"] if job["node"] == a.url)
    assert on_a == [("ebay", "ok"), ("namejet", "ok")]
    assert "stopped answering" in {node["url"]: node["problem"] for node in summary["nodes"]}[c.url]
    assert hits(db_url) == {hit for hit in cluster.expected if hit[0] in ("ebay", "namejet")}
    assert died[0]["job"] not in {run.job for run in rows(db_url, CrawlRun)}


@pytest.mark.parametrize(
    ("on_b", "outcome", "recorded"),
    [
        pytest.param(None, "no_record", None, id="no-watch-file-there-the-job-dies-at-start"),
        pytest.param(
            "# another team's copy\n", "foreign_watch", "refused to start: the watch file", id="another-one"
        ),
    ],
)
def test_a_job_that_cannot_crawl_on_one_node_is_told_and_runs_on_another(
    cluster: Cluster,
    db_url: str,
    capsys: pytest.CaptureFixture[str],
    on_b: str | None,
    outcome: str,
    recorded: str | None,
) -> None:
    a, b = cluster.nodes
    # A relative --node-watch is read from each node's own folder: node B's copy is missing or differs.
    shutil.copy(cluster.watch, a.home / "dispatch-watch.toml")
    (b.home / "dispatch-watch.toml").unlink(missing_ok=True)
    if on_b is not None:
        (b.home / "dispatch-watch.toml").write_text(on_b + cluster.watch.read_text(encoding="utf-8"))

    status, summary = dispatch(
        capsys, "--watch", str(cluster.watch), "--db", db_url, "--nodes", f"{b.url},{a.url}",
        "--node-watch", "dispatch-watch.toml", "--spider", "ebay", "--spider", "namejet", "--shard-size", "6",
    )  # fmt: skip

    assert status == 0, (summary, node_logs(cluster))
    [failed] = [job for job in summary["jobs"] if job["node"] == b.url]
    assert (failed["marketplace"], failed["outcome"], failed["retried"]) == ("ebay", outcome, True)
    assert sorted(job["marketplace"] for job in summary["jobs"] if job["outcome"] == "ok") == [
        "ebay",
        "namejet",
    ]
    assert {job["node"] for job in summary["jobs"] if job["outcome"] == "ok"} == {a.url}
    assert hits(db_url) == {hit for hit in cluster.expected if hit[0] in ("ebay", "namejet")}
    refused = [run for run in rows(db_url, CrawlRun) if run.job == failed["job"]]
    if recorded is None:
        assert refused == []  # it died before its crawl could record anything
    else:
        [run] = refused
        assert (run.status, run.finish_reason) == ("broken", "watch_file_differs")
        assert run.detail.startswith(recorded)
        problem = {node["url"]: node["problem"] for node in summary["nodes"]}[b.url]
        assert problem == "its watch file is not the dispatcher's"


# -- one crawl of a marketplace at a time, across machines (PostgreSQL) -----------------------


@pytest.mark.skipif(
    postgres_admin_url() is None, reason="the crawl lock is PostgreSQL's (tests/with-postgres)"
)
@deferred_f_from_coro_f
async def test_a_crawl_waits_for_another_crawl_of_its_marketplace(
    replica, watch_path: Path, db_url: str
) -> None:
    settings = crawl_settings(watch_path, db_url, BRANDCRAWL_CRAWL_LOCK_WAIT=0)
    base_url = f"{replica.base_url}/{{site}}"
    elsewhere = CrawlLock(db_url, "ebay")  # another machine's crawl of eBay
    assert elsewhere.try_take()
    try:
        busy = await crawl(EbaySpider, settings, base_url=base_url, sites="ebay.fr")
        sent_while_busy = list(replica.requests)
    finally:
        elsewhere.release()
    ended = await crawl(EbaySpider, settings, base_url=base_url, sites="ebay.fr")

    assert busy.stats["finish_reason"] == "marketplace_busy"
    assert sent_while_busy == []
    assert ended.stats["finish_reason"] == "finished"
    assert [run.status for run in rows(db_url, CrawlRun)] == ["ok"], "the busy crawl recorded nothing"
    after = CrawlLock(db_url, "ebay")
    assert after.try_take(), "the lock ends with its crawl"
    after.release()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(
            ["--version", "r9"], "lacks version 'r9' of project 'brandcrawl' (it has: r1)", id="version"
        ),
        pytest.param(["--project", "other"], "has no version of project 'other'", id="project"),
        pytest.param(["--spider", "nosuch"], "no marketplace spider named nosuch", id="spider"),
        pytest.param(["-s", "BRANDCRAWL_DB_URL=sqlite://"], "set BRANDCRAWL_DB_URL with", id="db-as-setting"),
        pytest.param(["--nodes", "a:6800"], "expected http:// or https:// URLs, got 'a:6800'", id="url"),
        pytest.param(["--nodes", "{a},{a}/"], "a node is listed twice", id="twice"),
    ],
)
def test_what_the_nodes_cannot_run_is_one_line_and_nothing_is_scheduled(
    cluster: Cluster, db_url: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    a, b = cluster.nodes
    nodes = ["--nodes", f"{a.url},{b.url}"]
    args = [arg.format(a=a.url.rstrip("/")) for arg in args]
    jobs_before = [jobs_on(node) for node in cluster.nodes]

    status = main(["dispatch", "--watch", str(cluster.watch), "--db", db_url, *nodes, *args])

    err = capsys.readouterr().err
    assert status == 2
    assert err.startswith("brandcrawl: ")
    assert message in err
    assert err.count("\n") == 1, err
    assert [jobs_on(node) for node in cluster.nodes] == jobs_before


def jobs_on(node: Scrapyd) -> int:
    """Every job the node was given, waiting, running or finished."""
    jobs = node.call("listjobs.json")
    return sum(len(jobs[state]) for state in ("pending", "running", "finished"))


def test_without_a_node_that_answers_nothing_is_scheduled(
    watch_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    silent = f"http://127.0.0.1:{free_port()}"  # nobody listens there

    status = main(
        ["dispatch", "--watch", str(watch_path), "--db", db_url, "--nodes", silent, "--timeout", "5"]
    )

    err = capsys.readouterr().err
    assert status == 1
    assert f"node {silent}/ left out: it did not answer (listversions.json: " in err
    assert "no Scrapyd node answered: nothing was scheduled" in err


def test_without_any_node_named_the_command_says_where_to_name_them(
    watch_path: Path, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["dispatch", "--watch", str(watch_path), "--db", db_url]) == 2
    assert (
        "no Scrapyd node: give --nodes URL,URL or [dispatch] nodes in the watch file"
        in capsys.readouterr().err
    )


# -- the units that run it every morning ----------------------------------------------------------


def test_the_dispatch_unit_crawls_over_the_nodes_then_sends_the_digests() -> None:
    service = unit("brandcrawl-dispatch.service")["Service"]
    program, flag, script = shlex.split(service["ExecStart"])
    shell = script.replace("$$", "$")  # systemd turns $$ into $ before the shell reads it

    commands = [brandcrawl_arguments(part) for part in re.split(r";|\|\|", shell)]
    parsed = [_parser().parse_args(arguments) for arguments in commands if arguments is not None]

    assert (program, flag) == ("/bin/sh", "-c")
    assert [command.handler.__name__ for command in parsed] == ["_dispatch", "_digest"]
    assert {command.watch for command in parsed} == {"/etc/brandcrawl/watch.toml"}
    assert shell.endswith("|| exit 1; exit $crawled"), "the digest's failure, else the dispatch's status"
    assert (service["Type"], service["User"]) == ("oneshot", "brandcrawl")
    timer = unit("brandcrawl-dispatch.timer")
    assert (timer["Timer"]["OnCalendar"], timer["Timer"]["Persistent"]) == ("*-*-* 05:00:00", "true")
    assert timer["Install"]["WantedBy"] == "timers.target"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_finds_nothing_to_say_about_the_dispatch_units(tmp_path: Path) -> None:
    for name in ("brandcrawl-dispatch.service", "brandcrawl-dispatch.timer"):
        shutil.copy(DEPLOY / name, tmp_path / name)

    done = subprocess.run(
        ["systemd-analyze", "verify", "brandcrawl-dispatch.service", "brandcrawl-dispatch.timer"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip

    assert (done.returncode, done.stderr) == (0, "")


def test_a_shard_whose_jobs_keep_dying_is_failed_and_recorded_broken(
    cluster: Cluster, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = cluster.nodes
    for node in cluster.nodes:
        (node.home / "dispatch-watch.toml").unlink(missing_ok=True)  # on no node

    status, summary = dispatch(
        capsys, "--watch", str(cluster.watch), "--db", db_url, "--nodes", f"{a.url},{b.url}",
        "--node-watch", "dispatch-watch.toml", "--spider", "namejet", "--retries", "1",
    )  # fmt: skip

    assert status == 1
    jobs = [(job["node"], job["outcome"], job["retried"]) for job in summary["jobs"]]
    assert jobs == [(a.url, "no_record", True), (b.url, "no_record", False)], "once more, on the other node"
    assert summary["unfinished"] == [{"marketplace": "namejet", "shard": "all", "outcome": "failed"}]
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.job) == ("namejet", "broken", summary["jobs"][-1]["job"])
    assert (
        run.detail
        == "dispatch: the crawl: its 2 jobs ended without recording a run (see their logs on the nodes)"
    )
