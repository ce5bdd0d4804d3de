"""The ``brandcrawl evidence`` command: a hit's evidence pack for a takedown request.

For each hit, ``OUT/hit-<id>/`` holds every page kept of its listing, byte for byte as received (its
sha256 checked against the one recorded when it was fetched), ``manifest.json`` (the hit, its listing,
each page's URL, status, headers, fetch time, sha256 and size) and ``summary.txt`` in plain English,
ready to attach to an eBay VeRO notice, a registrar abuse report or a platform report.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brandcrawl import __version__
from brandcrawl.commands.hits import add_db_argument, ids_argument, open_store
from brandcrawl.export import iso_or_none
from brandcrawl.storage.models import Hit, ListingRow, Snapshot

if TYPE_CHECKING:
    from brandcrawl.evidence import EvidenceFolder
    from brandcrawl.storage import Store

# The file a page is written to, by its Content-Type; anything else is ".bin".
_EXTENSIONS = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "application/json": ".json",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/xml": ".xml",
    "text/xml": ".xml",
}
SUMMARY = "summary.txt"
MANIFEST = "manifest.json"


def add_parser(commands: argparse._SubParsersAction) -> None:
    """Adds this command to ``brandcrawl``'s subcommands."""
    parser = commands.add_parser(
        "evidence",
        help="write evidence packs for takedown requests: the kept listing pages, hashes, a summary",
        description="Crawls keep the listing page of each new hit as fetched (BRANDCRAWL_EVIDENCE_DIR). "
        "For each hit given, write OUT/hit-<id>/ with every page kept of its listing, byte for byte as "
        "received (named by fetch time and sha256, each checked against the sha256 recorded when it was "
        "fetched), manifest.json (hit, listing, and each page's URL, status, response headers, fetch "
        "time, sha256 and size) and summary.txt (marketplace, listing, seller, price, end time, brand, "
        "why it matched, first and last seen) for an eBay VeRO notice, a registrar abuse report or a "
        "platform report. A hit with no page kept still gets its summary and manifest.",
        epilog="Exit status: 0 every pack written; 1 a kept page is missing or altered (that hit is not "
        "packed, the others are) or a database error; 2 an unknown hit id, an existing pack folder, no "
        "database at --db or an --out that cannot be made (nothing written).",
    )
    parser.add_argument(
        "hit_ids", nargs="+", metavar="HIT_ID", help="a hit's id, as `brandcrawl hits list` shows it"
    )
    parser.add_argument("--out", required=True, help="folder to write the packs to (created if need be)")
    add_db_argument(parser)
    parser.add_argument(
        "--evidence-dir",
        default=None,
        help="where the crawls kept the pages (default: $BRANDCRAWL_EVIDENCE_DIR, else ./evidence)",
    )
    parser.set_defaults(handler=_evidence)


@dataclass(frozen=True)
class HitRecord:
    """A hit as the database holds it: the hit, its listing, and its listing's kept pages by time."""

    hit: Hit
    listing: ListingRow
    snapshots: list[Snapshot]


def _evidence(args: argparse.Namespace) -> int:
    # Imported here: brandcrawl.cli imports this module to build its parser, and brandcrawl.evidence
    # imports Scrapy, which listing the commands does without.
    from brandcrawl.cli import EXIT_FAILED, EXIT_OK, UsageProblem
    from brandcrawl.evidence import EvidenceError, EvidenceFolder
    from brandcrawl.settings import BRANDCRAWL_EVIDENCE_DIR

    out = Path(args.out)
    ids = list(dict.fromkeys(ids_argument(args.hit_ids, "hit")))
    if existing := [out / f"hit-{hit_id}" for hit_id in ids if (out / f"hit-{hit_id}").exists()]:
        raise UsageProblem(f"{existing[0]} exists: a pack is never overwritten; choose another --out")
    store = open_store(args)
    try:
        records = load_hits(store, ids)
    finally:
        store.close()
    if missing := [str(hit_id) for hit_id in ids if hit_id not in records]:
        # Not the database's URL: it may carry a password.
        raise UsageProblem(f"no hit {', '.join(missing)}: nothing written")
    folder = EvidenceFolder(args.evidence_dir or BRANDCRAWL_EVIDENCE_DIR)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UsageProblem(f"cannot write the packs to {out}: {error.strerror or error}") from None
    failed = False
    for hit_id in ids:
        record = records[hit_id]
        try:
            pack = write_pack(out, record, folder)
        except EvidenceError as error:
            failed = True
            print(f"brandcrawl: hit {hit_id} not packed: {error}", file=sys.stderr)
            continue
        pages = len(record.snapshots)
        print(f"hit {hit_id}: {pages} page{'s' if pages != 1 else ''} kept -> {pack}")
    return EXIT_FAILED if failed else EXIT_OK


def load_hits(store: Store, ids: list[int]) -> dict[int, HitRecord]:
    """The hits with these ids that the database holds, each with its listing and kept pages."""
    from sqlalchemy import select

    found: dict[int, HitRecord] = {}
    with store.session() as session:
        rows = session.execute(
            select(Hit, ListingRow).join(ListingRow, Hit.listing_pk == ListingRow.id).where(Hit.id.in_(ids))
        ).all()
        pages: dict[int, list[Snapshot]] = {}
        for snapshot in session.scalars(
            select(Snapshot)
            .where(Snapshot.listing_pk.in_({listing.id for _, listing in rows}))
            .order_by(Snapshot.fetched_at, Snapshot.id)
        ):
            pages.setdefault(snapshot.listing_pk, []).append(snapshot)
        for hit, listing in rows:
            found[hit.id] = HitRecord(hit, listing, pages.get(listing.id, []))
    return found


def write_pack(out: Path, record: HitRecord, folder: EvidenceFolder) -> Path:
    """``out/hit-<id>/``, written whole or not at all: a page missing or altered in the evidence folder
    raises EvidenceError and leaves nothing behind, so no pack is ever attached short of a page."""
    target = out / f"hit-{record.hit.id}"
    building = Path(tempfile.mkdtemp(dir=out, prefix=f".hit-{record.hit.id}-"))
    try:
        pages = []
        for snapshot in record.snapshots:
            body = folder.read(snapshot.path, snapshot.sha256, snapshot.size)
            name = page_name(snapshot)
            (building / name).write_bytes(body)
            pages.append((name, snapshot))
        summary = summary_text(record, [name for name, _ in pages]).encode("utf-8")
        (building / SUMMARY).write_bytes(summary)
        manifest = manifest_of(record, pages, hashlib.sha256(summary).hexdigest())
        (building / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", "utf-8")
        building.rename(target)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return target


def page_name(snapshot: Snapshot) -> str:
    """A kept page's file name: its fetch time, its sha256's start, the extension of its Content-Type."""
    content_type = next(
        (values[0] for name, values in snapshot.headers.items() if name.lower() == "content-type" and values),
        "",
    )
    extension = _EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".bin")
    return f"{snapshot.fetched_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{snapshot.sha256[:12]}{extension}"


def manifest_of(record: HitRecord, pages: list[tuple[str, Snapshot]], summary_sha256: str) -> dict[str, Any]:
    hit, listing = record.hit, record.listing
    manifest: dict[str, Any] = {
        "tool": f"brandcrawl {__version__}",
        "created_at": iso_or_none(datetime.now(UTC)),
        "hit": {
            "id": hit.id,
            "brand": hit.brand,
            "rule": hit.rule,
            "matched": hit.matched,
            "explanation": hit.explanation,
            "score": hit.score,
            "first_seen": iso_or_none(hit.first_seen),
            "state": hit.state,
        },
        "listing": {
            "marketplace": listing.marketplace,
            "listing_id": listing.listing_id,
            "site": listing.site,
            "url": listing.url,
            "title": listing.title,
            "asset_kind": listing.asset_kind,
            "asset": listing.asset,
            "seller": listing.seller,
            "price": None if listing.price is None else str(listing.price),
            "currency": listing.currency,
            "sale_method": listing.sale_method,
            "bid_count": listing.bid_count,
            "end_time": iso_or_none(listing.end_time),
            "status": listing.status,
            "first_seen": iso_or_none(listing.first_seen),
            "last_seen": iso_or_none(listing.last_seen),
        },
        "snapshots": [
            {
                "file": name,
                "url": snapshot.url,
                "status": snapshot.status,
                "fetched_at": iso_or_none(snapshot.fetched_at),
                "sha256": snapshot.sha256,
                "size": snapshot.size,
                "headers": snapshot.headers,
            }
            for name, snapshot in pages
        ],
        "summary": {"file": SUMMARY, "sha256": summary_sha256},
    }
    if not pages:
        manifest["note"] = "no page of this listing was kept"
    return manifest


def summary_text(record: HitRecord, names: list[str]) -> str:
    """The pack's plain-English summary."""
    hit, listing = record.hit, record.listing
    on = f"{listing.marketplace} ({listing.site})" if listing.site else listing.marketplace
    price = _unknown(None if listing.price is None else f"{listing.price} {listing.currency or ''}".strip())
    if listing.sale_method or listing.bid_count is not None:
        terms = [
            listing.sale_method or "",
            f"{listing.bid_count} bids" if listing.bid_count is not None else "",
        ]
        price += f" ({', '.join(term for term in terms if term)})"
    lines = [
        f"Evidence for hit {hit.id}: a listing carrying the brand {_plain(hit.brand)}",
        "",
        f"Marketplace:     {_plain(on)}",
        f"Listing id:      {_plain(listing.listing_id)}",
        f"Listing URL:     {_plain(listing.url)}",
        f"Title:           {_plain(listing.title)}",
        f"On sale:         {_plain(_unknown(listing.asset and f'{listing.asset_kind} {listing.asset}'))}",
        f"Seller:          {_plain(_unknown(listing.seller))}",
        f"Price:           {price}",
        f"Ends:            {_when(listing.end_time)}",
        f"Status:          {_plain(listing.status)}",
        f"Brand:           {_plain(hit.brand)}",
        f"Why it matched:  {_plain(hit.explanation)}",
        f"First seen:      {_when(listing.first_seen)}",
        f"Last seen:       {_when(listing.last_seen)}",
        "",
    ]
    if record.snapshots:
        lines.append("Listing pages kept, byte for byte as received (sha256 of each file):")
        for name, snapshot in zip(names, record.snapshots, strict=True):
            lines += [
                f"  {name}",
                f"    fetched {_when(snapshot.fetched_at)} from {_plain(snapshot.url)}",
                f"    HTTP status {snapshot.status}, {snapshot.size} bytes, sha256 {snapshot.sha256}",
            ]
    else:
        lines.append("No page of this listing was kept: the listing page was not fetched.")
    lines += [
        "",
        f"Written by brandcrawl {__version__} on {_when(datetime.now(UTC))}; {MANIFEST} records every "
        "page's URL, status, response headers, fetch time and sha256.",
    ]
    return "\n".join(lines) + "\n"


def _when(moment: datetime | None) -> str:
    return "not stated" if moment is None else f"{moment.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"


def _plain(text: str) -> str:
    """A marketplace's text as it reads: control and direction characters (which could reorder or hide
    what a reader sees) written out as \\uXXXX."""
    return "".join(f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") else c for c in text)


def _unknown(value: str | None) -> str:
    return value or "not stated"
