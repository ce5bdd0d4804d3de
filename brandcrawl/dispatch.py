"""Spread a day's crawl over Scrapyd nodes, on one shared database (``brandcrawl dispatch``).

The plan: one job per marketplace and brand shard (a feed, or a site read by its categories only,
is one job whatever the brands). A marketplace's shards run one after another, so no two jobs ever
crawl one marketplace at once; different marketplaces run side by side, each job on the least-loaded
node with a free slot. Scrapyd says "finished" even of a job that died at start, so how a job went is
read from the ``crawl_runs`` row its crawl recorded under its job id: none means it failed, and its
shard is scheduled again on another node, up to ``retries`` times. A node that does not answer is
dead: its jobs are scheduled elsewhere and it gets no more.
"""

from __future__ import annotations

import json
import math
import time
import uuid
from collections import deque
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import urlencode
from urllib.request import urlopen

from sqlalchemy import select

from brandcrawl.config import MarketplaceConfig
from brandcrawl.runs import BLOCKED, BROKEN, DISALLOWED, NEEDS_LOGIN, OK, WATCH_FILE_DIFFERS
from brandcrawl.storage import Store
from brandcrawl.storage.models import CrawlRun

# What became of one job, besides the run statuses it recorded (ok, needs_login, blocked...):
NO_RECORD = "no_record"  # it ended without recording a run: it died (at start, most often)
NODE_DIED = "node_died"  # its node stopped answering before it recorded a run
FOREIGN_WATCH = "foreign_watch"  # its node's watch file is not the dispatcher's: it refused to crawl
# Final outcomes of a shard that never got a run recorded.
FAILED = "failed"  # its jobs kept failing, past the retries
NOT_RUN = "not_run"  # no node was left to run it
DONE = (OK, NEEDS_LOGIN)
REPORTED = (BLOCKED, BROKEN, DISALLOWED)  # told, not retried: a retry would hammer a blocking site
RETRIED = (NO_RECORD, NODE_DIED, FOREIGN_WATCH)
# A node whose jobs ended without a run this many times in a row is set aside (a watch file missing
# there, a broken install): the next shards would die there too.
NODE_FAILURES_IN_A_ROW = 3


class NodeDown(Exception):
    """A Scrapyd node that did not answer (connection refused, timeout, not Scrapyd's JSON)."""


class NodeRefused(Exception):
    """A Scrapyd node that answered with an error."""


class DeploymentError(Exception):
    """The nodes cannot run the plan (the version or a spider missing): nothing was scheduled."""


@dataclass(frozen=True)
class Jobs:
    """A node's jobs, all projects': the ids still waiting or running."""

    pending: frozenset[str]
    running: frozenset[str]

    @property
    def load(self) -> int:
        return len(self.pending) + len(self.running)


class ScrapydNode:
    """The few calls of Scrapyd's JSON API the dispatcher needs, over urllib."""

    def __init__(self, url: str, timeout: float = 30) -> None:
        self.url = url.rstrip("/") + "/"
        self.timeout = timeout

    def __repr__(self) -> str:
        return f"ScrapydNode({self.url!r})"

    def call(self, endpoint: str, query: Mapping[str, str] | None = None, form: Any = None) -> dict[str, Any]:
        url = f"{self.url}{endpoint}" + (f"?{urlencode(query)}" if query else "")
        body = urlencode(form).encode() if form is not None else None
        try:
            with urlopen(url, body, timeout=self.timeout) as answer:  # noqa: S310 (the node's http URL)
                data = json.load(answer)
        except HTTPError as error:  # before URLError, its base: the node answered
            raise NodeRefused(f"{endpoint}: HTTP {error.code} {error.reason}") from error
        except (URLError, OSError, HTTPException, ValueError) as error:
            raise NodeDown(f"{endpoint}: {getattr(error, 'reason', None) or error}") from error
        if not isinstance(data, dict):
            raise NodeDown(f"{endpoint}: not Scrapyd's answer: {str(data)[:100]}")
        if data.get("status") == "error":
            raise NodeRefused(f"{endpoint}: {data.get('message', 'error')}")
        return data

    def versions(self, project: str) -> list[str]:
        """The project's deployed versions, oldest first."""
        return list(self.call("listversions.json", {"project": project})["versions"])

    def spiders(self, project: str, version: str) -> list[str]:
        return list(self.call("listspiders.json", {"project": project, "_version": version})["spiders"])

    def jobs(self) -> Jobs:
        answer = self.call("listjobs.json")
        return Jobs(
            frozenset(job["id"] for job in answer["pending"]),
            frozenset(job["id"] for job in answer["running"]),
        )

    def schedule(
        self,
        project: str,
        spider: str,
        version: str,
        job: str,
        settings: Mapping[str, str],
        args: Mapping[str, str],
    ) -> None:
        """Queue a crawl under the given job id (chosen here, so that it is known even if the answer
        is lost): the settings as ``-s``, the args as the spider's ``-a``."""
        form = [("project", project), ("spider", spider), ("_version", version), ("jobid", job)]
        form += [("setting", f"{name}={value}") for name, value in settings.items()]
        form += list(args.items())
        self.call("schedule.json", form=form)


def pinned_version(
    nodes: Sequence[ScrapydNode], project: str, wanted: str | None
) -> tuple[str | None, dict[str, str]]:
    """The project version every job runs, checked to be on every node that answers, and the nodes
    that did not answer (why). ``wanted`` None: the newest on the first node that answers. None
    when no node answered; raises DeploymentError when one that answered lacks it."""
    deployed: dict[str, list[str]] = {}
    silent: dict[str, str] = {}
    for node in nodes:
        try:
            deployed[node.url] = node.versions(project)
        except (NodeDown, NodeRefused) as error:
            silent[node.url] = str(error)
    if not deployed:
        return None, silent
    first, versions = next(iter(deployed.items()))
    version = wanted or (versions[-1] if versions else None)
    if version is None:
        raise DeploymentError(f"{first} has no version of project {project!r}: deploy it with scrapyd-deploy")
    for url, versions in deployed.items():
        if version not in versions:
            has = ", ".join(versions[-5:]) or "none"
            raise DeploymentError(f"{url} lacks version {version!r} of project {project!r} (it has: {has})")
    return version, silent


def check_spiders(node: ScrapydNode, project: str, version: str, spiders: Collection[str]) -> None:
    """Raises DeploymentError when the deployed version lacks a spider the plan runs."""
    try:
        deployed = set(node.spiders(project, version))
    except (NodeDown, NodeRefused) as error:
        problem = f"{node.url} could not list the spiders of {project!r} {version}: {error}"
        raise DeploymentError(problem) from error
    if missing := sorted(set(spiders) - deployed):
        raise DeploymentError(
            f"version {version!r} on {node.url} has no spider {', '.join(missing)}: deploy a newer one"
        )


# -- the plan ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Shard:
    """One job's worth of a marketplace: shard ``index`` (from 1) of ``count`` of the brands."""

    marketplace: str
    spider: str
    index: int = 1
    count: int = 1  # 1: the marketplace whole, every brand

    @property
    def label(self) -> str:
        return f"{self.index}/{self.count}" if self.count > 1 else "all"


def searches_by_brand(spider_class: type, table: MarketplaceConfig | None) -> bool:
    """Whether a marketplace's crawl can be cut by brands. Not a feed: it downloads the same whole
    files whatever the brands. Not a site read by its categories only (no keyword search, or
    ``search = false``): every shard would read the same lists."""
    from spiders._base import SearchSpider
    from spiders._feeds import FeedSpider

    if not issubclass(spider_class, SearchSpider) or issubclass(spider_class, FeedSpider):
        return False
    if table is not None and not table.search:
        return False
    return spider_class.search_url is not SearchSpider.search_url


def plan(
    marketplaces: Sequence[tuple[str, str, bool]], brands: int, shard_size: int
) -> dict[str, list[Shard]]:
    """Each marketplace's shards, for (marketplace, spider, searches by brand) in watch-file order:
    ``brands`` cut into runs of at most ``shard_size`` where the crawl searches by brand, else one."""
    count = max(1, math.ceil(brands / shard_size))
    return {
        name: [Shard(name, spider, index, count) for index in range(1, count + 1)]
        if by_brand and count > 1
        else [Shard(name, spider)]
        for name, spider, by_brand in marketplaces
    }


def assign(
    waiting: Mapping[str, Sequence[Shard]],
    busy: Collection[str],
    loads: Mapping[str, int],
    capacity: int,
    avoid: Mapping[Shard, Collection[str]] | None = None,
) -> list[tuple[Shard, str]]:
    """The jobs to schedule now, as (shard, node): the next shard of every marketplace not being
    crawled (``busy``), the marketplaces with the most shards left first (they finish last), each
    on the least-loaded node (``loads``: jobs running or waiting there, anyone's) below
    ``capacity``, the first listed on a tie. A shard goes back to a node it failed on (``avoid``)
    only when no other has a free slot."""
    loads = dict(loads)
    chosen = []
    ready = [name for name, shards in waiting.items() if shards and name not in busy]
    for name in sorted(ready, key=lambda name: -len(waiting[name])):  # stable: file order on a tie
        shard = waiting[name][0]
        free = [node for node, load in loads.items() if load < capacity]
        if not free:
            break
        fresh = [node for node in free if node not in (avoid or {}).get(shard, ())] or free
        node = min(fresh, key=lambda node: loads[node])
        loads[node] += 1
        chosen.append((shard, node))
    return chosen


# -- the run ----------------------------------------------------------------------------------


@dataclass
class Attempt:
    """One job: a shard scheduled on a node, and what became of it."""

    shard: Shard
    node: str
    job: str
    scheduled: float  # on the dispatcher's clock
    outcome: str | None = None  # a run status, or NO_RECORD, NODE_DIED, FOREIGN_WATCH
    pages: int = 0
    listings: int = 0
    new_hits: int = 0
    detail: str = ""
    duration: float = 0.0
    retried: bool = False  # its shard was scheduled again

    def as_json(self) -> dict[str, Any]:
        return {
            "marketplace": self.shard.marketplace,
            "spider": self.shard.spider,
            "shard": self.shard.label,
            "node": self.node,
            "job": self.job,
            "outcome": self.outcome,
            "retried": self.retried,
            "pages": self.pages,
            "listings": self.listings,
            "new_hits": self.new_hits,
            "duration_s": round(self.duration, 1),
            "detail": self.detail,
        }


@dataclass
class NodeState:
    node: ScrapydNode
    problem: str | None = None  # why it gets no more jobs
    dead: bool = False  # it stopped answering: not even asked about its jobs any more
    jobs: int = 0  # scheduled there by this dispatch
    failures_in_a_row: int = 0  # its last jobs that ended without a run


@dataclass
class Outcome:
    """What a dispatch did: every job, and the shards that never got a run recorded."""

    attempts: list[Attempt] = field(default_factory=list)
    unfinished: dict[Shard, str] = field(default_factory=dict)  # shard → FAILED or NOT_RUN

    def final(self) -> list[str]:
        """Each shard's last word: its last job's run status, or FAILED / NOT_RUN."""
        last = {attempt.shard: attempt.outcome or "" for attempt in self.attempts}
        return [*(o for s, o in last.items() if s not in self.unfinished), *self.unfinished.values()]

    def exit_status(self) -> int:
        """0 every shard crawled; 3 some marketplace blocked, broken or disallowed; 1 a shard failed
        past its retries or found no node."""
        final = self.final()
        if not final or any(outcome in (FAILED, NOT_RUN) for outcome in final):
            return 1
        return 3 if any(outcome in REPORTED for outcome in final) else 0


@dataclass
class DispatchOptions:
    project: str
    version: str
    settings: dict[str, str]  # sent to every job (BRANDCRAWL_WATCH, BRANDCRAWL_DB_URL, -s ones)
    watch_sha256: str
    jobs_per_node: int = 4
    retries: int = 2
    poll: float = 5.0


class Dispatcher:
    """Runs a plan to its end over the nodes. Time is injectable (``clock``, ``sleep``, ``now``)."""

    def __init__(
        self,
        nodes: Sequence[ScrapydNode],
        store: Store,
        options: DispatchOptions,
        *,
        on_ended: Callable[[Attempt], None] = lambda attempt: None,
        on_node_lost: Callable[[str, str], None] = lambda url, problem: None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.nodes = {node.url: NodeState(node) for node in nodes}
        self.store = store
        self.options = options
        self.on_ended, self.on_node_lost = on_ended, on_node_lost
        self.clock, self.sleep, self.now = clock, sleep, now
        self.outcome = Outcome()
        self.active: dict[str, Attempt] = {}  # by marketplace: one job at a time on each
        self.jobs: dict[str, Jobs] = {}  # by node, as last asked
        self.failures: dict[Shard, int] = {}
        self.failed_on: dict[Shard, set[str]] = {}
        # When each marketplace's first shard was scheduled: its last shard revisits only the
        # listings no shard of this dispatch has seen since.
        self.first_scheduled: dict[str, datetime] = {}

    def run(self, shards: Mapping[str, Sequence[Shard]]) -> Outcome:
        waiting = {name: deque(planned) for name, planned in shards.items()}
        while True:
            loads = self._poll()
            for name, shard in self._finished():
                waiting[name].appendleft(shard)  # next, before the marketplace's later shards
            usable = {url: load for url, load in loads.items() if self.nodes[url].problem is None}
            if not usable:
                for shard in (shard for queue in waiting.values() for shard in queue):
                    self.outcome.unfinished[shard] = NOT_RUN
                waiting.clear()
            capacity = self.options.jobs_per_node
            for shard, url in assign(waiting, self.active, usable, capacity, self.failed_on):
                # A node lost while scheduling this round's earlier jobs gets none of the others.
                if self.nodes[url].problem is None and self._schedule(shard, url):
                    waiting[shard.marketplace].popleft()
            if not self.active and not any(waiting.values()):
                return self.outcome
            self.sleep(self.options.poll)

    def _poll(self) -> dict[str, int]:
        """Each answering node's load; the jobs of a node that stopped answering are ended."""
        loads: dict[str, int] = {}
        for url, state in self.nodes.items():
            if state.dead:
                continue
            try:
                self.jobs[url] = state.node.jobs()
            except NodeDown as error:
                self._lose(url, f"stopped answering ({error})", dead=True)
                continue
            except NodeRefused as error:
                self._lose(url, f"answered with an error ({error})", dead=True)
                continue
            loads[url] = self.jobs[url].load
        return loads

    def _finished(self) -> list[tuple[str, Shard]]:
        """Ends the jobs no longer waiting or running; returns the shards to schedule again."""
        again = []
        for name, attempt in list(self.active.items()):
            state = self.nodes[attempt.node]
            jobs = self.jobs[attempt.node]
            if not state.dead and attempt.job in jobs.pending | jobs.running:
                continue
            del self.active[name]
            if self._end(attempt, dead=state.dead):
                again.append((name, attempt.shard))
        return again

    def _end(self, attempt: Attempt, *, dead: bool) -> bool:
        """Reads how a job went from its recorded run; True when its shard is to run again."""
        run = self._run_of(attempt.job)
        attempt.duration = self.clock() - attempt.scheduled
        if run is None:
            attempt.outcome = NODE_DIED if dead else NO_RECORD
            attempt.detail = (
                "its node stopped answering" if dead else "it ended without recording a run: see its log"
            )
        elif run.finish_reason == WATCH_FILE_DIFFERS:
            attempt.outcome, attempt.detail = FOREIGN_WATCH, run.detail
            self._lose(attempt.node, "its watch file is not the dispatcher's")
        else:
            attempt.outcome, attempt.detail = run.status, run.detail
            attempt.pages, attempt.listings, attempt.new_hits = (
                run.pages_fetched,
                run.listings_seen,
                run.new_hits,
            )
            attempt.duration = (run.finished_at - run.started_at).total_seconds()
        shard, node = attempt.shard, self.nodes[attempt.node]
        again = attempt.outcome in RETRIED
        node.failures_in_a_row = node.failures_in_a_row + 1 if attempt.outcome == NO_RECORD else 0
        if attempt.outcome == NO_RECORD:
            # Only a job that died counts against its shard: a dead or foreign node gets no more jobs.
            self.failures[shard] = self.failures.get(shard, 0) + 1
            self.failed_on.setdefault(shard, set()).add(attempt.node)
            if self.failures[shard] > self.options.retries:
                again = False
                self.outcome.unfinished[shard] = FAILED
            if node.failures_in_a_row >= NODE_FAILURES_IN_A_ROW:
                self._lose(attempt.node, f"its last {node.failures_in_a_row} jobs ended without a run")
        attempt.retried = again
        self.on_ended(attempt)
        return again

    def _run_of(self, job: str) -> CrawlRun | None:
        with self.store.session() as session:
            query = select(CrawlRun).where(CrawlRun.job == job).order_by(CrawlRun.id.desc()).limit(1)
            return session.scalars(query).first()

    def _schedule(self, shard: Shard, url: str) -> bool:
        settings = dict(self.options.settings)
        args = {"watch_sha256": self.options.watch_sha256}
        scheduled_at = self.first_scheduled.setdefault(shard.marketplace, self.now())
        if shard.count > 1:
            args["shard"] = f"{shard.index}/{shard.count}"
            if shard.index < shard.count:
                # Revisits look for the listings the searches no longer show: only the last shard
                # has seen what every shard of the marketplace showed.
                settings["BRANDCRAWL_REVISIT_MAX"] = "0"
            else:
                args["unseen_since"] = scheduled_at.isoformat()
        job = uuid.uuid4().hex
        state = self.nodes[url]
        try:
            state.node.schedule(self.options.project, shard.spider, self.options.version, job, settings, args)
        except NodeDown as error:
            self._lose(url, f"did not answer ({error})", dead=True)
            return False
        except NodeRefused as error:
            self._lose(url, f"refused a job ({error})")
            return False
        state.jobs += 1
        attempt = Attempt(shard, url, job, self.clock())
        self.active[shard.marketplace] = attempt
        self.outcome.attempts.append(attempt)
        return True

    def _lose(self, url: str, problem: str, *, dead: bool = False) -> None:
        """No more jobs for this node; a dead one's jobs end at the next look."""
        state = self.nodes[url]
        if state.problem is None:
            state.problem = problem
            self.on_node_lost(url, problem)
        state.dead = state.dead or dead


def record_unfinished(store: Store, outcome: Outcome, now: datetime) -> None:
    """A broken run for each shard that never got one, so the digest's health says its marketplace
    was not (wholly) crawled, as ``brandcrawl run`` does for a spider that could not start."""
    last_job = {attempt.shard: attempt.job for attempt in outcome.attempts}
    for shard, why in outcome.unfinished.items():
        tries = sum(1 for attempt in outcome.attempts if attempt.shard == shard)
        what = f"shard {shard.label}" if shard.count > 1 else "the crawl"
        detail = (
            f"{what}: no Scrapyd node was left to run it"
            if why == NOT_RUN
            else f"{what}: its {tries} jobs ended without recording a run (see their logs on the nodes)"
        )
        store.record_not_crawled(shard.marketplace, now, f"dispatch: {detail}", job=last_job.get(shard))
