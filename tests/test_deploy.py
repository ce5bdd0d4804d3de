"""deploy/: every brandcrawl command in the cron line, the systemd units and their README is one that
brandcrawl's own parser takes, and the units are what systemd expects."""

from __future__ import annotations

import configparser
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from brandcrawl.cli import _parser, _run

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
COMMAND_SEPARATORS = {"&&", "||", ";", "|", "&"}


def unit(name: str) -> configparser.ConfigParser:
    # systemd allows repeated keys (Environment=); strict=False keeps the last, which is enough here.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / name, encoding="utf-8")
    return parser


def brandcrawl_arguments(command_line: str) -> list[str] | None:
    """The arguments a shell command line gives brandcrawl, if one of its commands runs brandcrawl."""
    lexer = shlex.shlex(command_line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    command: list[str] = []
    for token in [*lexer, ";"]:
        if token not in COMMAND_SEPARATORS:
            command.append(token)
            continue
        words = command[1:] if command[:1] == ["sudo"] else command
        if words and Path(words[0]).name == "brandcrawl":
            # Up to the first redirection: ">>", or "2" before ">&" (punctuation is a token of its own).
            redirections = [
                i
                for i, word in enumerate(words)
                if word[0] in "<>" or (word.isdigit() and words[i + 1 : i + 2] and words[i + 1][0] in "<>")
            ]
            return words[1 : redirections[0]] if redirections else words[1:]
        command = []
    return None


def command_lines() -> list[tuple[str, str]]:
    """(file, command line) for every command of the deploy files that may run brandcrawl."""
    lines = []
    cron = (DEPLOY / "brandcrawl.cron").read_text(encoding="utf-8")
    for line in cron.splitlines():
        if line.strip() and not line.lstrip().startswith("#") and not re.match(r"^\w+=", line):
            lines.append(("brandcrawl.cron", " ".join(line.split()[5:])))  # after the five time fields
    lines.append(("brandcrawl.service", unit("brandcrawl.service")["Service"]["ExecStart"]))
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for block in re.findall(r"```sh\n(.*?)```", readme, flags=re.DOTALL):
        lines.extend(("README.md", line.split("#")[0]) for line in block.splitlines() if line.strip())
    return [(name, line) for name, line in lines if brandcrawl_arguments(line) is not None]


COMMAND_LINES = command_lines()


def test_the_deploy_files_run_brandcrawl() -> None:
    assert {name for name, _ in COMMAND_LINES} >= {"brandcrawl.cron", "brandcrawl.service"}


@pytest.mark.parametrize(("name", "line"), COMMAND_LINES, ids=[name for name, _ in COMMAND_LINES])
def test_each_brandcrawl_command_is_one_brandcrawl_takes(name: str, line: str) -> None:
    arguments = brandcrawl_arguments(line)
    assert arguments is not None
    try:
        parsed = _parser().parse_args(arguments)
    except SystemExit:
        pytest.fail(f"{name}: brandcrawl refuses {shlex.join(arguments)}")
    assert parsed.handler is _run, f"{name}: the scheduled command is `brandcrawl run`"
    assert parsed.watch.startswith("/etc/brandcrawl/")
    assert parsed.summary_json, f"{name}: monitoring reads the run's summary"


def test_the_cron_line_runs_every_day_and_mails_only_a_failed_run() -> None:
    cron = (DEPLOY / "brandcrawl.cron").read_text(encoding="utf-8")
    [line] = [line for name, line in COMMAND_LINES if name == "brandcrawl.cron"]
    schedule = next(row for row in cron.splitlines() if line in " ".join(row.split()))
    assert schedule.split()[2:5] == ["*", "*", "*"]
    assert re.search(r"^MAILTO=\S+@", cron, flags=re.MULTILINE)
    assert ">> brandcrawl.log 2>&1 || echo " in line
    assert "%" not in line, "cron turns % into a newline"


def test_the_timer_catches_up_a_missed_morning() -> None:
    timer = unit("brandcrawl.timer")["Timer"]
    assert timer["Persistent"] == "true"
    assert timer["OnCalendar"] == "*-*-* 05:30:00"
    assert timer["RandomizedDelaySec"]
    assert unit("brandcrawl.timer")["Install"]["WantedBy"] == "timers.target"


def test_the_service_is_a_oneshot_run_as_its_own_user() -> None:
    service = unit("brandcrawl.service")["Service"]
    assert service["Type"] == "oneshot"
    assert service["User"] == "brandcrawl"
    assert service["ProtectSystem"] == "strict"
    assert service["StateDirectory"] == "brandcrawl"
    assert service["ExecStart"].startswith("/opt/brandcrawl/.venv/bin/brandcrawl run ")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_finds_nothing_to_say_about_the_units(tmp_path: Path) -> None:
    # verify wants ExecStart's program to exist: this environment's brandcrawl stands in for /opt's.
    installed = Path(sys.executable).with_name("brandcrawl")
    service = (DEPLOY / "brandcrawl.service").read_text(encoding="utf-8")
    (tmp_path / "brandcrawl.service").write_text(
        service.replace("/opt/brandcrawl/.venv/bin/brandcrawl", str(installed)), encoding="utf-8"
    )
    shutil.copy(DEPLOY / "brandcrawl.timer", tmp_path / "brandcrawl.timer")
    done = subprocess.run(
        ["systemd-analyze", "verify", "brandcrawl.service", "brandcrawl.timer"],
        capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
