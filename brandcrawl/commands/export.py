"""The ``brandcrawl export`` command: the hits ``hits list`` would show, as CSV or JSON Lines."""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from brandcrawl.commands.hits import (
    add_db_argument,
    add_filter_arguments,
    hit_filter,
    now,
    open_store,
    output_to_a_pipe,
)
from brandcrawl.export import COLUMNS, FORMATS, write_csv, write_jsonl
from brandcrawl.hitquery import HitRow, hit_rows, with_stored_names


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds this command to ``brandcrawl``'s subcommands."""
    export = commands.add_parser(
        "export",
        help="the hits as CSV (spreadsheets) or JSON Lines (scripts)",
        description="Write the hits the filters select, newest first, one per row, with the columns "
        f"{', '.join(COLUMNS)} in that order. Dates are ISO 8601 UTC, prices plain decimals beside "
        "their currency code. In CSV, a cell starting with = + - @, a tab or a carriage return gets a "
        "leading ' so that a spreadsheet shows it instead of running it; JSON Lines keep values as "
        "stored.",
    )
    export.add_argument("--format", choices=FORMATS, default="csv", help="csv (default) or jsonl")
    export.add_argument(
        "--out",
        metavar="FILE",
        default="-",
        help="write to FILE (replaced whole, once complete); - or nothing: standard output",
    )
    export.add_argument(
        "--bom", action="store_true", help="CSV starts with a UTF-8 byte order mark (Excel reads UTF-8 then)"
    )
    add_filter_arguments(export)
    add_db_argument(export)
    export.set_defaults(handler=_export)


def _export(args: argparse.Namespace) -> int:
    from brandcrawl.cli import UsageProblem

    if args.bom and args.format != "csv":
        raise UsageProblem("--bom goes with --format csv")
    filters = hit_filter(args)
    encoding = "utf-8-sig" if args.bom else "utf-8"
    store = open_store(args)
    try:
        with store.session() as session:
            filters, warnings = with_stored_names(session, filters)
            for warning in warnings:
                print(f"brandcrawl: {warning}", file=sys.stderr)
            rows = hit_rows(session, filters, now())
            if args.out == "-":
                count = _write_stdout(args.format, rows, encoding)
            else:
                count = _write_file(Path(args.out), args.format, rows, encoding)
                print(f"{count} hits exported to {args.out}", file=sys.stderr)
    finally:
        store.close()
    return 0


def _write(format_name: str, rows: Iterable[HitRow], out: IO[str]) -> int:
    return write_csv(rows, out) if format_name == "csv" else write_jsonl(rows, out)


def _write_stdout(format_name: str, rows: Iterable[HitRow], encoding: str) -> int:
    sys.stdout.flush()
    # The bytes underneath: CSV keeps its CRLF and the BOM comes first, whatever the terminal's encoding.
    out = io.TextIOWrapper(sys.stdout.buffer, encoding=encoding, newline="")
    count = 0
    try:
        with output_to_a_pipe():  # a reader that stops early (`| head`) read what it wanted
            count = _write(format_name, rows, out)
            out.flush()
    finally:
        out.detach()  # sys.stdout stays open; after a closed pipe, what is left goes to /dev/null
    return count


def _write_file(path: Path, format_name: str, rows: Iterable[HitRow], encoding: str) -> int:
    """Written beside, then renamed: an export that fails half-way leaves any earlier file whole."""
    from brandcrawl.cli import UsageProblem

    partial = path.with_name(path.name + ".part")
    try:
        with partial.open("w", encoding=encoding, newline="") as out:
            count = _write(format_name, rows, out)
        partial.replace(path)
    except OSError as error:
        _discard(partial)
        raise UsageProblem(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:
        _discard(partial)
        raise
    return count


def _discard(partial: Path) -> None:
    with contextlib.suppress(OSError):  # nothing was written, or it is not ours to remove
        partial.unlink(missing_ok=True)
