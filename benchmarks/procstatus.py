"""Memory figures of the benchmark's own process, from /proc/self/status (Linux)."""

from __future__ import annotations

from pathlib import Path


def status_mb(field: str) -> float:
    """A field of /proc/self/status (VmHWM: peak RSS, VmRSS: RSS now), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0
