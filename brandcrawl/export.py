"""Hits as CSV (for spreadsheets) or JSON Lines (for scripts), in a fixed, documented column order.

Dates are ISO 8601 in UTC (``2026-11-27T06:00:00Z``), prices plain decimals beside their currency
code. In CSV, a cell that a spreadsheet would run as a formula (it starts with = + - @, a tab or a
carriage return) gets a leading apostrophe, as OWASP advises against CSV injection: listing titles,
sellers and handles are written by strangers. JSON Lines keep every value exactly as stored.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from dataclasses import fields
from datetime import UTC, datetime
from decimal import Decimal
from typing import IO, Any

from brandcrawl.hitquery import HitRow

# The export's columns, in order (HitRow's fields): changing them breaks users' spreadsheets and
# scripts, so add new ones at the end.
COLUMNS: tuple[str, ...] = tuple(field.name for field in fields(HitRow))
FORMATS = ("csv", "jsonl")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def record(row: HitRow) -> dict[str, Any]:
    """The row as JSON values: ISO dates, prices as numbers, None as null."""
    return {name: _json_value(getattr(row, name)) for name in COLUMNS}


def write_jsonl(rows: Iterable[HitRow], out: IO[str]) -> int:
    """One JSON object per line; returns how many rows."""
    written = 0
    for row in rows:
        out.write(json.dumps(record(row), ensure_ascii=False) + "\n")
        written += 1
    return written


def write_csv(rows: Iterable[HitRow], out: IO[str]) -> int:
    """A header, then one line per row (RFC 4180: CRLF, quoted as needed); returns how many rows.
    ``out`` must be opened with ``newline=""``."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    written = 0
    for row in rows:
        writer.writerow([neutralise(_csv_text(getattr(row, name))) for name in COLUMNS])
        written += 1
    return written


def neutralise(cell: str) -> str:
    """A cell a spreadsheet shows as text, never runs: a formula's first character is escaped."""
    return f"'{cell}" if cell.startswith(_FORMULA_STARTS) else cell


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_or_none(moment: datetime | None) -> str | None:
    return None if moment is None else iso(moment)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return float(value)
    return value


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Decimal):
        return f"{value:f}"
    return str(value)
