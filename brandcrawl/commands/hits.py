"""The ``brandcrawl hits`` command: list hits, mark their triage state (with a note, by whom), and read
a hit's triage history. Also the database option, hit filters and tables that ``export`` and
``suppress`` share."""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from brandcrawl.hitquery import HitFilter, HitRow, hit_rows, parse_moment, with_stored_names
from brandcrawl.storage import Store
from brandcrawl.storage.models import Suppression
from brandcrawl.triage import Marked, TriageError, actor, history, mark, parse_state

_STATE_HELP = "new, reviewed, false_positive (or false-positive), actioned (takedown requested), resolved"
_TITLE_WIDTH = 50
# The largest id or count SQLite can hold (a 64-bit integer): a longer number names nothing stored.
MAX_ID = 2**63 - 1
_HIT_HEADERS = (
    "ID",
    "STATE",
    "BRAND",
    "MARKETPLACE",
    "FOR SALE (OR TITLE)",
    "PRICE",
    "LISTING",
    "FIRST SEEN UTC",
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds this command to ``brandcrawl``'s subcommands."""
    hits = commands.add_parser(
        "hits",
        help="list hits and triage them: reviewed, false positive, actioned, resolved",
        description="List the stored hits, and record what the team decided about them. Each hit has a "
        f"triage state: {_STATE_HELP}. Every change is kept with its time, who made it and why.",
    )
    actions = hits.add_subparsers(required=True, metavar="ACTION")

    listing = actions.add_parser(
        "list",
        help="the hits, newest first, as a table or JSON",
        description="The hits the filters select, newest first: a table (id, state, brand, marketplace, "
        "what is for sale or the title, price, listing status, first seen in UTC), or with --json a "
        "JSON array whose objects carry the columns of `brandcrawl export`. A hit covered by a "
        "suppression shows '(suppressed)' after its state.",
    )
    add_db_argument(listing)
    add_filter_arguments(listing)
    listing.add_argument(
        "--json", action="store_true", help="a JSON array (the export's columns) instead of the table"
    )
    listing.set_defaults(handler=pipe_safe(_list))

    marking = actions.add_parser(
        "mark",
        help="set hits' triage state, with a note",
        description="Set the triage state of the hits (all of them or, if one ID is unknown, none). A "
        "false positive suppresses the domain or handle its listing sells for that brand on every "
        "marketplace from then on (with --seller: the listing's seller on that marketplace instead); a "
        "hit marked otherwise later lifts the suppressions made from it. A title-only listing sells "
        "no domain or handle: only the hit itself is set aside. An actioned hit whose listing ends, "
        "sells or goes becomes resolved at the next digest.",
    )
    marking.add_argument("ids", nargs="+", metavar="ID", help="hit ids, as `brandcrawl hits list` shows them")
    marking.add_argument("--state", required=True, metavar="STATE", help=_STATE_HELP)
    marking.add_argument("--note", help="why: kept with the change (and with the suppression it makes)")
    add_by_argument(marking)
    marking.add_argument(
        "--until",
        metavar="DATE",
        help="with false_positive: the suppression ends at this date (00:00 UTC) or date and time",
    )
    marking.add_argument(
        "--seller",
        action="store_true",
        help="with false_positive: suppress the listing's seller on its marketplace instead of the asset",
    )
    add_db_argument(marking)
    marking.set_defaults(handler=_mark)

    past = actions.add_parser(
        "history",
        help="who changed the hits' triage state, when and why",
        description="Every triage action on the hits, oldest first: time (UTC), who, old and new state, "
        "note. 'brandcrawl' is the digest resolving an actioned hit whose listing ended.",
    )
    past.add_argument("ids", nargs="+", metavar="ID")
    add_db_argument(past)
    past.set_defaults(handler=pipe_safe(_history))


# -- shared with `export` and `suppress` ------------------------------------------------------------


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        default=None,
        help="SQLAlchemy database URL (default: $BRANDCRAWL_DB_URL, else sqlite:///brandcrawl.db)",
    )


def add_by_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--by", metavar="NAME", help="who is acting (default: $BRANDCRAWL_ACTOR, else your login name)"
    )


def add_filter_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--brand", action="append", default=[], help="only this brand (repeatable)")
    parser.add_argument(
        "--marketplace", action="append", default=[], help="only this marketplace (repeatable)"
    )
    parser.add_argument(
        "--state", action="append", default=[], help=f"only this triage state (repeatable): {_STATE_HELP}"
    )
    parser.add_argument(
        "--since",
        metavar="WHEN",
        help="only hits first seen at or after this ISO date (00:00 UTC) or date and time",
    )
    parser.add_argument("--limit", type=int, metavar="N", help="at most N hits, the newest")


def hit_filter(args: argparse.Namespace) -> HitFilter:
    """The filter the options ask for; a bad value is a one-line usage error."""
    from brandcrawl.cli import UsageProblem

    if args.limit is not None and args.limit < 1:
        raise UsageProblem(f"--limit takes a positive number, got {args.limit}")
    try:
        states = tuple(dict.fromkeys(parse_state(state) for state in args.state))
    except TriageError as error:
        raise UsageProblem(f"--state: {error}") from None
    return HitFilter(
        brands=tuple(args.brand),
        marketplaces=tuple(args.marketplace),
        states=states,
        since=moment_option("--since", args.since),
        limit=None if args.limit is None else min(args.limit, MAX_ID),  # no more hits than ids
    )


def moment_option(option: str, text: str | None) -> datetime | None:
    from brandcrawl.cli import UsageProblem

    if text is None:
        return None
    try:
        return parse_moment(text)
    except ValueError as error:
        raise UsageProblem(f"{option}: {error}") from None


def open_store(args: argparse.Namespace, *, create: bool = False) -> Store:
    """The database of --db (else $BRANDCRAWL_DB_URL), migrated. A SQLite file that is not there is
    a usage error unless ``create``: a mistyped path must not leave an empty database behind."""
    from sqlalchemy.engine import make_url

    from brandcrawl.cli import UsageProblem, _db_url

    url = _db_url(args.db)
    parsed = make_url(url)
    path = parsed.database
    is_file = parsed.get_backend_name() == "sqlite" and path and path != ":memory:"
    if is_file and not create and not Path(path).exists():
        raise UsageProblem(f"no database at {path} (give --db, or set $BRANDCRAWL_DB_URL)")
    store = Store(url)
    store.upgrade()
    return store


def ids_argument(texts: Sequence[str], what: str) -> list[int]:
    """IDs written "12 13" or "12,13"."""
    from brandcrawl.cli import UsageProblem

    ids = []
    for text in texts:
        for part in (piece.strip() for piece in text.split(",")):
            if not part:
                continue
            if not part.isdecimal():  # isdigit() would take "²", which int() refuses
                raise UsageProblem(f"{what} ids are numbers, got {part!r}")
            if int(part) > MAX_ID:
                raise UsageProblem(f"no {what} {part!r}: ids go up to {MAX_ID}")
            ids.append(int(part))
    if not ids:
        raise UsageProblem(f"give at least one {what} id")
    return ids


def pipe_safe(handler: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A handler whose output may go to a reader that stops early (`| head`, quitting `less`)."""

    @functools.wraps(handler)
    def handle(args: argparse.Namespace) -> int:
        with output_to_a_pipe():
            return handler(args)
        return 0  # the reader went: it read what it wanted

    return handle


@contextmanager
def output_to_a_pipe() -> Iterator[None]:
    """Standard output whose reader went away ends quietly, as Python's documentation advises: the
    rest goes to /dev/null, so that Python's own flush at exit does not fail on the closed pipe."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns padded to their widest cell; the last one is not padded."""
    widths = [max(len(str(cell)) for cell in column) for column in zip(headers, *rows, strict=True)]
    for line in (headers, *rows):
        cells = [str(cell).ljust(width) for cell, width in zip(line[:-1], widths, strict=False)]
        print("  ".join([*cells, str(line[-1])]).rstrip())


def text_cell(text: str | None, width: int | None = None) -> str:
    """Hostile listing text on one line of a terminal: control and bidi characters blanked, cut."""
    from brandcrawl.render import one_line

    cell = one_line(text or "") or "-"
    if width is not None and len(cell) > width:
        cell = cell[: width - 1] + "…"
    return cell


def when_cell(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


def now() -> datetime:
    return datetime.now(UTC)


def target_text(row: Suppression) -> str:
    """What a suppression covers: "seller bob on ebay", "domain gallimard-shop.net"."""
    if row.kind == "seller":
        return f"seller {text_cell(row.value)} on {text_cell(row.marketplace)}"
    return f"{row.asset_kind} {text_cell(row.value)}"


def suppression_text(row: Suppression) -> str:
    """ "domain gallimard-shop.net on every marketplace for Gallimard until 2027-01-01 00:00 UTC" """
    where = "" if row.kind == "seller" else " on every marketplace"
    brand = f"for {text_cell(row.brand)}" if row.brand else "for every brand"
    ends = f" until {when_cell(row.until)} UTC" if row.until else ""
    return f"{target_text(row)}{where} {brand}{ends}"


# -- handlers -------------------------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    from brandcrawl.export import record

    filters = hit_filter(args)
    store = open_store(args)
    try:
        with store.session() as session:
            filters, warnings = with_stored_names(session, filters)
            rows = list(hit_rows(session, filters, now()))
    finally:
        store.close()
    for warning in warnings:
        print(f"brandcrawl: {warning}", file=sys.stderr)
    if args.json:
        json.dump([record(row) for row in rows], sys.stdout, ensure_ascii=False, indent=1)
        print()
    elif rows:
        print_table(
            _HIT_HEADERS,
            [_hit_line(row) for row in rows],
        )
    else:
        print("no hit matches")
    return 0


def _hit_line(row: HitRow) -> list[str]:
    price = "-"
    if row.price is not None:
        price = f"{'from ' if row.price_is_range else ''}{row.price:f} {text_cell(row.currency)}".strip()
    return [
        str(row.hit_id),
        f"{row.state} (suppressed)" if row.suppressed and row.state != "false_positive" else row.state,
        text_cell(row.brand, 30),
        text_cell(row.marketplace),
        text_cell(row.asset or row.title, _TITLE_WIDTH),
        price,
        row.listing_status,
        when_cell(row.first_seen),
    ]


def _mark(args: argparse.Namespace) -> int:
    from brandcrawl.cli import UsageProblem

    try:
        state = parse_state(args.state)
    except TriageError as error:
        raise UsageProblem(f"--state: {error}") from None
    if (args.until or args.seller) and state != "false_positive":
        raise UsageProblem("--until and --seller go with --state false_positive")
    hit_ids = ids_argument(args.ids, "hit")
    until = moment_option("--until", args.until)
    by = actor(args.by)
    store = open_store(args)
    try:
        with store.session() as session:
            results = mark(
                session, hit_ids, state, by=by, now=now(), note=args.note, until=until, seller=args.seller
            )
            lines = [_marked_line(result) for result in results]
    except TriageError as error:
        raise UsageProblem(str(error)) from None
    finally:
        store.close()
    print("\n".join(lines))
    return 0


def _marked_line(result: Marked) -> str:
    line = f"hit {result.hit_id}: {result.old_state} -> {result.new_state}"
    for lifted in result.lifted:
        line += f"; suppression {lifted.id} lifted"
    if result.nothing_to_suppress:
        line += "; its listing sells no domain or handle: nothing to suppress beyond the hit itself"
    elif result.suppression is not None:
        verb = "suppressed" if result.suppression_created else "already suppressed"
        line += f"; {verb}: {suppression_text(result.suppression)} (suppression {result.suppression.id})"
    return line


def _history(args: argparse.Namespace) -> int:
    from sqlalchemy import select

    from brandcrawl.cli import UsageProblem
    from brandcrawl.storage.models import Hit

    hit_ids = ids_argument(args.ids, "hit")
    store = open_store(args)
    try:
        with store.session() as session:
            hits = {hit.id: hit for hit in session.scalars(select(Hit).where(Hit.id.in_(hit_ids)))}
            missing = [str(hit_id) for hit_id in dict.fromkeys(hit_ids) if hit_id not in hits]
            if missing:
                raise UsageProblem(f"no hit {', '.join(missing)}")
            actions = history(session, hit_ids)
    finally:
        store.close()
    rows = [
        [
            str(action.hit_id),
            when_cell(action.at),
            text_cell(action.actor),
            f"{action.old_state} -> {action.new_state}",
            text_cell(action.note) if action.note else "",
        ]
        for action in actions
    ]
    untriaged = [hit_id for hit_id in dict.fromkeys(hit_ids) if all(a.hit_id != hit_id for a in actions)]
    if rows:
        print_table(("HIT", "AT UTC", "BY", "STATE", "NOTE"), rows)
    for hit_id in untriaged:
        print(f"hit {hit_id}: never triaged (state {hits[hit_id].state})")
    return 0
