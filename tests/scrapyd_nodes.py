"""Real Scrapyd nodes on 127.0.0.1 for the tests, and the project deployed to them with scrapyd-deploy,
as an operator deploys it: the egg built from the project's files, uploaded to each node."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import urlopen

from tests.local import free_port

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
VERSION = "r1"
PROJECT = "brandcrawl"


@dataclass
class Scrapyd:
    url: str
    home: Path
    process: subprocess.Popen[bytes]

    def call(self, endpoint: str, data: list[tuple[str, str]] | None = None) -> dict[str, Any]:
        body = urlencode(data).encode() if data is not None else None
        with urlopen(f"{self.url}{endpoint}", body, timeout=30) as answer:
            return json.load(answer)

    def log(self, name: str) -> str:
        path = self.home / name
        return path.read_text(encoding="utf-8", errors="replace") if path.exists() else f"(no {name})"

    def job_logs(self) -> str:
        """Every job's log, for a failing test's message."""
        return "\n".join(
            f"--- {path.name}\n{path.read_text(encoding='utf-8', errors='replace')[-3000:]}"
            for path in sorted((self.home / "logs").rglob("*.log"))
        )

    def kill(self) -> None:
        """Scrapyd and its running jobs die at once, as when its machine goes down."""
        with suppress(ProcessLookupError):  # gone already
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def environment(**extra: str) -> dict[str, str]:
    """This environment without brandcrawl's and Scrapy's variables: the job gets its settings
    from Scrapyd and the egg, as on a real node."""
    kept = {n: v for n, v in os.environ.items() if not n.startswith(("BRANDCRAWL_", "SCRAPY_"))}
    return {**kept, **extra}


@contextmanager
def scrapyd_node(home: Path) -> Iterator[Scrapyd]:
    """A Scrapyd answering on a free port, run from ``home`` (its jobs' working folder too), which
    must be outside the checkout: a job started inside it would import the checkout's code instead of
    the deployed egg's. It polls its queue every 0.2 s, so that jobs start at once."""
    port = free_port()
    (home / "scrapyd.conf").write_text(
        f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\npoll_interval = 0.2\n"
        f"eggs_dir = {home / 'eggs'}\nlogs_dir = {home / 'logs'}\ndbs_dir = {home / 'dbs'}\nitems_dir =\n",
        encoding="utf-8",
    )
    with (home / "scrapyd.log").open("w", encoding="utf-8") as log:
        # A session of its own: kill() takes its jobs down with it.
        process = subprocess.Popen(
            [BIN / "scrapyd"],
            cwd=home,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment(),
            start_new_session=True,
        )
        server = Scrapyd(f"http://127.0.0.1:{port}/", home, process)
        try:
            deadline = time.monotonic() + 60
            while True:
                assert process.poll() is None, f"scrapyd exited:\n{server.log('scrapyd.log')}"
                assert time.monotonic() < deadline, f"scrapyd never answered:\n{server.log('scrapyd.log')}"
                try:
                    if server.call("daemonstatus.json")["status"] == "ok":
                        break
                except OSError:
                    time.sleep(0.2)
            yield server
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # a job still running when its node stopped


def project_copy(target: Path) -> Path:
    """The files scrapyd-deploy builds the egg from, copied out of the checkout, so that its build
    folders (and another test run's) stay out of it: the project's files and its top-level packages."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.split(".")[0] for pattern in patterns}
    for name in ("scrapy.cfg", "setup.py", "pyproject.toml", config["project"]["readme"]):
        shutil.copy(ROOT / name, target / name)
    for package in packages:
        shutil.copytree(ROOT / package, target / package, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def deploy(
    project: Path, nodes: Sequence[Scrapyd], work: Path, version: str = VERSION
) -> list[dict[str, Any]]:
    """The project built once into an egg by scrapyd-deploy and deployed with it to every node;
    returns each node's answer. The egg stays in ``work``, for ``deploy_egg``."""
    # The targets come from the user's scrapy.cfg (merged with the project's), so the project's file
    # is deployed as it is, to the tests' ports.
    config_home = work / "config"
    config_home.mkdir()
    (config_home / "scrapy.cfg").write_text(
        "".join(f"[deploy:node{i}]\nurl = {node.url}\nproject = {PROJECT}\n" for i, node in enumerate(nodes)),
        encoding="utf-8",
    )
    build = work / "build"
    build.mkdir()
    env = environment(XDG_CONFIG_HOME=str(config_home), TMPDIR=str(build))
    egg = work / f"{PROJECT}-{version}.egg"
    _scrapyd_deploy(project, env, "--build-egg", str(egg))
    return [_deploy_egg(project, env, f"node{i}", egg, version) for i in range(len(nodes))]


def deploy_egg(project: Path, node: Scrapyd, work: Path, egg: Path, version: str = VERSION) -> dict[str, Any]:
    """An egg ``deploy`` built, deployed with scrapyd-deploy to one more node."""
    config_home = work / "config"
    config_home.mkdir()
    (config_home / "scrapy.cfg").write_text(
        f"[deploy:node]\nurl = {node.url}\nproject = {PROJECT}\n", encoding="utf-8"
    )
    return _deploy_egg(project, environment(XDG_CONFIG_HOME=str(config_home)), "node", egg, version)


def _deploy_egg(project: Path, env: dict[str, str], target: str, egg: Path, version: str) -> dict[str, Any]:
    done = _scrapyd_deploy(project, env, target, "--egg", str(egg), "--version", version)
    answer = json.loads(next(line for line in reversed(done.splitlines()) if line.startswith("{")))
    assert answer["status"] == "ok", answer
    return answer


def _scrapyd_deploy(project: Path, env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [BIN / "scrapyd-deploy", *args, "--debug"],
        cwd=project, capture_output=True, text=True, timeout=300, check=False, env=env,
    )  # fmt: skip
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    return done.stdout


def wait_for_job(node: Scrapyd, job: str, log: str, timeout: float = 180) -> None:
    """Until Scrapyd lists the job as finished (whatever became of it)."""
    deadline = time.monotonic() + timeout
    while not any(j["id"] == job for j in node.call("listjobs.json")["finished"]):
        assert time.monotonic() < deadline, f"the job did not finish:\n{node.log(log)}"
        time.sleep(0.2)
