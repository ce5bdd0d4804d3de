"""Scrapyd: the project deploys as it is with scrapyd-deploy, and a job scheduled on a real Scrapyd
crawls the replica marketplace into the database."""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from scrapy.settings import Settings
from scrapy.spiderloader import SpiderLoader

from brandcrawl.storage.models import CrawlRun, Hit
from tests.conftest import WATCH, count, rows
from tests.scrapyd_nodes import VERSION, Scrapyd, deploy, project_copy, scrapyd_node, wait_for_job


@pytest.fixture(scope="module")
def scrapyd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scrapyd]:
    with scrapyd_node(tmp_path_factory.mktemp("scrapyd")) as node:
        yield node


@pytest.fixture(scope="module")
def deployed(scrapyd: Scrapyd, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    """The project deployed with scrapyd-deploy: the copy it was built from, and Scrapyd's answer."""
    project = project_copy(tmp_path_factory.mktemp("project"))
    [answer] = deploy(project, [scrapyd], tmp_path_factory.mktemp("deploy"))
    return project, answer


def test_the_deployed_egg_carries_the_whole_project(
    scrapyd: Scrapyd, deployed: tuple[Path, dict[str, Any]]
) -> None:
    project, answer = deployed
    with zipfile.ZipFile(scrapyd.home / "eggs" / "brandcrawl" / f"{VERSION}.egg") as egg:
        inside = set(egg.namelist())
        entry_points = egg.read("EGG-INFO/entry_points.txt").decode()
    # Every file of the packages: the code, the migrations, the digest's templates, the replica's data,
    # but the bulk matcher's compiled extension (a checkout's in-place build): an egg cannot load it on
    # Python 3.11 (setup.py), and its jobs match in Python. Its C source goes with the code.
    files = {
        path.relative_to(project).as_posix()
        for package in ("brandcrawl", "spiders", "reports")
        for path in (project / package).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".so", ".pyd")
    }
    assert sorted(files - inside) == []
    assert {"reports/digest.html", "brandcrawl/migrations/versions/0001_initial_schema.py"} <= inside
    assert [name for name in inside if "_bulkscan" in name] == ["brandcrawl/matching/_bulkscan.c"]
    assert "[scrapy]\nsettings = brandcrawl.settings" in entry_points
    spiders = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["spiders"]})).list()
    assert answer["spiders"] == len(spiders)
    assert scrapyd.call("listspiders.json?project=brandcrawl")["spiders"] == sorted(spiders)


def test_a_scheduled_job_crawls_into_the_database(
    scrapyd: Scrapyd, deployed: tuple[Path, dict[str, Any]], replica, tmp_path: Path
) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(WATCH, encoding="utf-8")
    db_url = f"sqlite:///{tmp_path / 'brandcrawl.db'}"
    job = scrapyd.call(
        "schedule.json",
        [
            ("project", "brandcrawl"),
            ("spider", "ebay"),
            ("setting", f"BRANDCRAWL_WATCH={watch}"),
            ("setting", f"BRANDCRAWL_DB_URL={db_url}"),
            ("setting", "DOWNLOAD_DELAY=0"),
            ("setting", "AUTOTHROTTLE_ENABLED=False"),
            ("base_url", f"{replica.base_url}/{{site}}"),
            ("sites", "ebay.fr,ebay.com"),
        ],
    )
    assert job["status"] == "ok", job
    log = f"logs/brandcrawl/ebay/{job['jobid']}.log"
    wait_for_job(scrapyd, job["jobid"], log)

    # Scrapyd says "finished" even of a job that died at start: the job's own record says how it went.
    job_log = scrapyd.log(log)
    assert "Spider closed (finished)" in job_log, job_log
    assert " ERROR: " not in job_log, job_log
    [run] = rows(db_url, CrawlRun)
    assert (run.spider, run.status, run.finish_reason) == ("ebay", "ok", "finished"), job_log
    assert count(db_url, Hit) > 0, job_log
    assert any(path.startswith("/ebay.fr/") for path in replica.requests)
    assert not any(path.startswith("/ebay.de/") for path in replica.requests), "the spider argument sites"
