"""The run lock: a second run is refused and told who holds it; a dead run's lock is taken over."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from brandcrawl.lock import RunLocked, default_lock_path, run_lock

_HOLDER = """
import sys
from pathlib import Path
from brandcrawl.lock import run_lock
with run_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


@contextmanager
def lock_held_by_another_process(path: Path) -> Iterator[subprocess.Popen[str]]:
    """A real process holding the run lock at ``path`` until the block ends (or it is killed)."""
    with subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "locked\n"
        try:
            yield holder
        finally:
            if holder.poll() is None:
                holder.communicate("")  # lets it leave its with block: a normal release


def test_a_second_run_is_refused_and_told_who_holds_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "brandcrawl.db.lock"
    with lock_held_by_another_process(path) as holder, pytest.raises(RunLocked) as refused, run_lock(path):
        pytest.fail("two runs held the lock")
    assert refused.value.holder is not None
    assert (refused.value.holder.pid, refused.value.holder.host) == (holder.pid, socket.gethostname())
    message = str(refused.value)
    assert message.startswith(f"another brandcrawl run (pid {holder.pid} on {socket.gethostname()}, since ")
    assert message.endswith(f" UTC) holds {path}")


def test_a_lock_left_by_a_killed_run_is_taken_over_at_once(tmp_path: Path) -> None:
    path = tmp_path / "brandcrawl.db.lock"
    with lock_held_by_another_process(path) as holder:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert path.read_text(), "a killed run leaves its file behind"
    with run_lock(path) as abandoned_by:
        assert abandoned_by is not None
        assert abandoned_by.pid == holder.pid
        assert f'"pid": {os.getpid()}' in path.read_text()


def test_a_run_that_ends_releases_the_lock_and_leaves_no_holder(tmp_path: Path) -> None:
    path = tmp_path / "brandcrawl.db.lock"
    with lock_held_by_another_process(path):
        pass
    assert path.read_text() == ""
    with run_lock(path) as abandoned_by:
        assert abandoned_by is None
    with run_lock(path) as abandoned_by:
        assert abandoned_by is None, "released by this process too"


def test_a_lock_file_that_names_no_holder_still_locks(tmp_path: Path) -> None:
    path = tmp_path / "brandcrawl.db.lock"
    with run_lock(path):
        path.write_text("not ours")
        with pytest.raises(RunLocked, match=f"^another brandcrawl run holds {path}$"), run_lock(path):
            pytest.fail("two runs held the lock")


def _runtime_lock(url: str) -> str:
    return f"run/brandcrawl/run-{hashlib.sha256(url.encode()).hexdigest()[:16]}.lock"


@pytest.mark.parametrize(
    ("db_url", "environ", "expected"),
    [
        ("sqlite:///{tmp}/data/brandcrawl.db", {}, "data/brandcrawl.db.lock"),
        ("sqlite:///relative.db", {}, "relative.db.lock"),  # beside it, from the current folder
        ("sqlite:///{tmp}/data/brandcrawl.db", {"BRANDCRAWL_LOCK": "{tmp}/mine.lock"}, "mine.lock"),
        (
            "postgresql://watch:secret@db.internal/brandcrawl",
            {"XDG_RUNTIME_DIR": "{tmp}/run"},
            _runtime_lock("postgresql://watch:***@db.internal/brandcrawl"),
        ),
        (
            "postgresql://watch:another-secret@db.internal/brandcrawl",
            {"XDG_RUNTIME_DIR": "{tmp}/run"},
            _runtime_lock("postgresql://watch:***@db.internal/brandcrawl"),
        ),
        ("sqlite://", {"XDG_CACHE_HOME": "{tmp}/run"}, _runtime_lock("sqlite://")),
    ],
)
def test_where_the_lock_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, db_url: str, environ: dict[str, str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    environ = {name: value.format(tmp=tmp_path) for name, value in environ.items()}
    assert default_lock_path(db_url.format(tmp=tmp_path), environ) == tmp_path / expected
