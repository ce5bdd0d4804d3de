"""The ``brandcrawl suppress`` command: the assets and sellers the team said are not a problem, added
directly (before any hit), listed, and removed (the row stays, stamped, for the audit trail)."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime

from brandcrawl.commands.hits import (
    add_by_argument,
    add_db_argument,
    ids_argument,
    moment_option,
    now,
    open_store,
    pipe_safe,
    print_table,
    suppression_text,
    target_text,
    text_cell,
    when_cell,
)
from brandcrawl.export import iso_or_none
from brandcrawl.hitquery import HitFilter, with_stored_names
from brandcrawl.storage.models import Suppression
from brandcrawl.triage import (
    Target,
    TriageError,
    actor,
    domain_target,
    handle_target,
    remove,
    seller_target,
    status,
    suppress,
    suppressions,
)


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds this command to ``brandcrawl``'s subcommands."""
    command = commands.add_parser(
        "suppress",
        help="assets and sellers left out of the digest: add, list, remove",
        description="A suppressed domain or handle (on every marketplace) or seller (on one marketplace) "
        "is left out of the digest for its brand, or every brand. `brandcrawl hits mark ID --state "
        "false_positive` makes one from a hit; `suppress add` makes one before any hit, e.g. for your "
        "own reseller.",
    )
    actions = command.add_subparsers(required=True, metavar="ACTION")

    adding = actions.add_parser(
        "add",
        help="suppress a domain, handle or seller",
        description="Suppress a domain or handle on every marketplace, or a seller on one marketplace, "
        "for one brand or (without --brand) every brand.",
    )
    target = adding.add_mutually_exclusive_group(required=True)
    target.add_argument("--domain", help="a domain, e.g. gallimard-shop.net")
    target.add_argument(
        "--handle", help="PLATFORM:HANDLE (x:gallimard, instagram:gallimard_shop) or a profile URL"
    )
    target.add_argument(
        "--seller", metavar="NAME", help="a seller's name as the marketplace shows it (needs --marketplace)"
    )
    adding.add_argument("--marketplace", help="the seller's marketplace (ebay, swapd…), with --seller")
    adding.add_argument(
        "--brand", help="only for this brand, spelt as in the watch file (default: every brand)"
    )
    adding.add_argument(
        "--until", metavar="DATE", help="the suppression ends at this date (00:00 UTC) or date and time"
    )
    adding.add_argument("--note", help="why: kept with the suppression")
    add_by_argument(adding)
    add_db_argument(adding)
    adding.set_defaults(handler=_add)

    listing = actions.add_parser(
        "list",
        help="the suppressions in force (--all: removed and expired ones too)",
        description="The suppressions in force, oldest first: id, what, brand, until when, who made it "
        "and when (UTC), note. With --all, removed and expired ones too, with their status.",
    )
    listing.add_argument("--all", action="store_true", help="removed and expired suppressions too")
    listing.add_argument("--json", action="store_true", help="a JSON array instead of the table")
    add_db_argument(listing)
    listing.set_defaults(handler=pipe_safe(_list))

    removing = actions.add_parser(
        "remove",
        help="lift suppressions (kept, stamped removed)",
        description="Lift suppressions: what they covered shows in the digest again from the next one. "
        "The rows stay, stamped with who removed them and when (see `suppress list --all`).",
    )
    removing.add_argument("ids", nargs="+", metavar="ID", help="suppression ids, as `suppress list` shows")
    removing.add_argument("--note", help="why: added to the suppression's note")
    add_by_argument(removing)
    add_db_argument(removing)
    removing.set_defaults(handler=_remove)


def _add(args: argparse.Namespace) -> int:
    from brandcrawl.cli import UsageProblem

    if args.brand is not None and not args.brand.strip():
        raise UsageProblem("--brand: give a brand's name, or leave --brand out for every brand")
    if args.marketplace and not args.seller:
        raise UsageProblem("--marketplace goes with --seller (a domain or handle is suppressed everywhere)")
    if args.seller and not args.marketplace:
        raise UsageProblem("--seller needs --marketplace: a seller's name is only unique on its marketplace")
    try:
        target = _target(args)
    except TriageError as error:
        raise UsageProblem(str(error)) from None
    until = moment_option("--until", args.until)
    moment = now()
    if until is not None and until <= moment:
        raise UsageProblem(f"--until {args.until} is not in the future")
    store = open_store(args, create=True)
    try:
        with store.session() as session:
            brand = None
            if args.brand is not None:
                # Spelt as the hits spell it; a brand no hit carries yet is taken as typed, with a warning.
                spelt, warnings = with_stored_names(session, HitFilter(brands=(args.brand.strip(),)))
                brand = spelt.brands[0]  # any of its spellings: suppressions compare brands without case
                for warning in warnings:
                    print(
                        f"brandcrawl: {warning}: check that it is spelt as in the watch file", file=sys.stderr
                    )
            row, created = suppress(
                session, target, brand=brand, by=actor(args.by), now=moment, until=until, note=args.note
            )
            line = f"{'suppression' if created else 'already suppressed by suppression'} {row.id}: "
            line += suppression_text(row)
    finally:
        store.close()
    print(line)
    return 0


def _target(args: argparse.Namespace) -> Target:
    if args.domain is not None:
        return domain_target(args.domain)
    if args.handle is not None:
        return handle_target(args.handle)
    return seller_target(args.seller, args.marketplace)


def _list(args: argparse.Namespace) -> int:
    store = open_store(args)
    moment = now()
    try:
        with store.session() as session:
            rows = suppressions(session, moment, everything=args.all)
    finally:
        store.close()
    if args.json:
        json.dump([_record(row, moment) for row in rows], sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    if not rows:
        print("no suppression" if args.all else "no suppression in force")
        return 0
    headers = ["ID", "WHAT", "BRAND", "UNTIL UTC", "BY", "SINCE UTC", "NOTE"]
    lines = [
        [
            str(row.id),
            target_text(row),
            text_cell(row.brand, 30) if row.brand else "every brand",
            when_cell(row.until),
            text_cell(row.created_by),
            when_cell(row.created_at),
            text_cell(row.note, 60) if row.note else "",
        ]
        for row in rows
    ]
    if args.all:
        headers.insert(1, "STATUS")
        for line, row in zip(lines, rows, strict=True):
            line.insert(1, _status_text(row, moment))
    print_table(headers, lines)
    return 0


def _remove(args: argparse.Namespace) -> int:
    from brandcrawl.cli import UsageProblem

    suppression_ids = ids_argument(args.ids, "suppression")
    store = open_store(args)
    try:
        with store.session() as session:
            removed, earlier = remove(session, suppression_ids, by=actor(args.by), now=now(), note=args.note)
            lines = [f"suppression {row.id} removed: {suppression_text(row)}" for row in removed]
            lines += [
                f"suppression {row.id} was already removed on {when_cell(row.removed_at)} UTC by "
                f"{text_cell(row.removed_by)}"
                for row in earlier
            ]
    except TriageError as error:
        raise UsageProblem(str(error)) from None
    finally:
        store.close()
    print("\n".join(lines))
    return 0


def _status_text(row: Suppression, moment: datetime) -> str:
    state = status(row, moment)
    if state == "removed":
        return f"removed {when_cell(row.removed_at)} by {text_cell(row.removed_by)}"
    return state


def _record(row: Suppression, moment: datetime) -> dict[str, object]:
    return {
        "id": row.id,
        "status": status(row, moment),
        "kind": row.kind,
        "value": row.value,
        "asset_kind": row.asset_kind,
        "marketplace": row.marketplace,
        "brand": row.brand,
        "until": iso_or_none(row.until),
        "hit_id": row.hit_id,
        "created_at": iso_or_none(row.created_at),
        "created_by": row.created_by,
        "note": row.note,
        "removed_at": iso_or_none(row.removed_at),
        "removed_by": row.removed_by,
    }
