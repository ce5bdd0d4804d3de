"""One ``brandcrawl run`` at a time per database: an OS file lock that dies with its process.

The lock is ``flock`` on a lock file, so the kernel releases it the moment its holder exits, however
it exits: a file left behind by a killed run is not a lock, and the next run takes it over at once.
The file says who holds it (pid, host, start time), for the message of a run that is refused.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import make_url

_MAX_HOLDER_BYTES = 4096


@dataclass(frozen=True)
class Holder:
    """Who holds (or last held) a run lock."""

    pid: int
    host: str
    since: datetime

    def describe(self) -> str:
        return f"pid {self.pid} on {self.host}, since {self.since:%Y-%m-%d %H:%M} UTC"


class LockFileError(Exception):
    """The lock file cannot be opened or created (a folder that is not there or not writable)."""


class RunLocked(Exception):
    """Another run holds the lock: this one must not start."""

    def __init__(self, path: Path, holder: Holder | None) -> None:
        self.path, self.holder = path, holder
        who = f" ({holder.describe()})" if holder else ""
        super().__init__(f"another brandcrawl run{who} holds {path}")


def default_lock_path(db_url: str, environ: Mapping[str, str] = os.environ) -> Path:
    """Where a run on this database takes its lock when ``--lock`` is not given.

    $BRANDCRAWL_LOCK, else beside a SQLite database file (``brandcrawl.db.lock``: every run on that
    file, from any folder, meets the same lock), else a file named after the database in the user's
    runtime folder ($XDG_RUNTIME_DIR) or cache folder.
    """
    if environ.get("BRANDCRAWL_LOCK"):
        return Path(environ["BRANDCRAWL_LOCK"]).absolute()
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        database = Path(url.database).absolute()
        return database.with_name(f"{database.name}.lock")
    folder = environ.get("XDG_RUNTIME_DIR") or environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    # Named by the database without its password, which would otherwise change the lock with it.
    key = hashlib.sha256(url.render_as_string(hide_password=True).encode()).hexdigest()[:16]
    return Path(folder) / "brandcrawl" / f"run-{key}.lock"


@contextmanager
def run_lock(path: Path, now: datetime | None = None) -> Iterator[Holder | None]:
    """Hold the run lock at ``path`` for the ``with`` block, or raise RunLocked at once.

    Yields the holder a previous run left in the file when it died without releasing it (the
    file is emptied on a normal release), else None.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
        raise LockFileError(f"cannot open the run lock {path}: {error.strerror or error}") from error
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLocked(path, _read_holder(descriptor)) from None
        previous = _read_holder(descriptor)
        holder = Holder(os.getpid(), socket.gethostname(), now or datetime.now(UTC))
        _write_holder(descriptor, holder)
        try:
            yield previous
        finally:
            # Emptied, not removed: a run that opened the file just before a removal would lock the
            # removed file while the next run locks a new one, and both would run.
            os.ftruncate(descriptor, 0)
    finally:
        os.close(descriptor)  # releases the lock


def _read_holder(descriptor: int) -> Holder | None:
    try:
        data = json.loads(os.pread(descriptor, _MAX_HOLDER_BYTES, 0))
        return Holder(int(data["pid"]), str(data["host"]), datetime.fromisoformat(data["since"]))
    except (ValueError, KeyError, TypeError):  # empty, being written, or not ours
        return None


def _write_holder(descriptor: int, holder: Holder) -> None:
    text = json.dumps({"pid": holder.pid, "host": holder.host, "since": holder.since.isoformat()})
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{text}\n".encode(), 0)
