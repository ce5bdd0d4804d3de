"""Triage: each hit's state (new → reviewed, false positive, actioned, resolved) changed with its audit
trail, and the suppressions of assets and sellers the team said are not a problem.

A false positive is said once: the asset it sells (a domain, or platform + handle) is then suppressed
for that brand on every marketplace, or, asked for, its seller on that marketplace. Suppressions are
never deleted: removing one stamps it, so the audit trail keeps who said what and when.
"""

from __future__ import annotations

import getpass
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from brandcrawl.assets import HANDLE, ascii_host, canonical_platform, extract_assets
from brandcrawl.items import OFF_SALE
from brandcrawl.storage import Store
from brandcrawl.storage.models import Hit, ListingRow, Suppression, TriageAction

STATES = ("new", "reviewed", "false_positive", "actioned", "resolved")
# A takedown was requested (actioned) or done (resolved): the same asset offered again is news.
TAKEN_DOWN = ("actioned", "resolved")
# Who resolves a takedown when its listing disappears.
SYSTEM_ACTOR = "brandcrawl"
_CHUNK = 500
# A domain's label once in punycode: letters, digits and inner hyphens, 63 at most.
_ASCII_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class TriageError(Exception):
    """A triage request that cannot be carried out, in one line; nothing was changed."""


def parse_state(text: str) -> str:
    """A state as typed: "false-positive", "False_Positive" and "false positive" are false_positive."""
    state = text.strip().lower().replace("-", "_").replace(" ", "_")
    if state not in STATES:
        raise TriageError(f"unknown state {text!r} (states: {', '.join(STATES)})")
    return state


def actor(given: str | None = None, environ: Mapping[str, str] | None = None) -> str:
    """Who is acting: ``given`` (--by), else $BRANDCRAWL_ACTOR, else the login name."""
    environ = os.environ if environ is None else environ
    if given and given.strip():
        return given.strip()
    if environ.get("BRANDCRAWL_ACTOR", "").strip():
        return environ["BRANDCRAWL_ACTOR"].strip()
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return "unknown"


@dataclass(frozen=True)
class Target:
    """What a suppression covers: an asset for sale anywhere, or a seller on one marketplace."""

    kind: str  # asset | seller
    value: str
    asset_kind: str | None = None  # domain | handle, for assets
    marketplace: str | None = None  # for sellers


@dataclass
class Marked:
    """What marking one hit did."""

    hit_id: int
    old_state: str
    new_state: str
    suppression: Suppression | None = None  # the one covering it now, for a false positive
    suppression_created: bool = False  # False: an active suppression already covered it
    nothing_to_suppress: bool = False  # a false positive selling no domain or handle
    lifted: list[Suppression] = field(default_factory=list)  # removed as the hit left false_positive


def mark(
    session: Session,
    hit_ids: Sequence[int],
    state: str,
    *,
    by: str,
    now: datetime,
    note: str | None = None,
    until: datetime | None = None,
    seller: bool = False,
) -> list[Marked]:
    """Set the hits' state, each with its triage action, all or nothing.

    A false positive suppresses the asset its listing sells for the hit's brand (``seller``: the
    listing's seller instead), until ``until`` if given. A hit leaving false_positive lifts the
    suppressions made from it, so that its asset is watched again.
    """
    if state not in STATES:
        raise TriageError(f"unknown state {state!r} (states: {', '.join(STATES)})")
    if (until is not None or seller) and state != "false_positive":
        raise TriageError("a suppression (--seller, --until) goes with the state false_positive")
    if until is not None and until <= now:
        raise TriageError(f"--until {until:%Y-%m-%d %H:%M} UTC is not in the future")
    wanted = list(dict.fromkeys(hit_ids))
    found = {hit.id: (hit, listing) for hit, listing in _hits_with_listings(session, wanted)}
    missing = [str(hit_id) for hit_id in wanted if hit_id not in found]
    if missing:
        raise TriageError(f"no hit {', '.join(missing)}: nothing changed")
    if seller:
        anonymous = [str(hit_id) for hit_id in wanted if not found[hit_id][1].seller]
        if anonymous:
            raise TriageError(
                f"the listing of hit {', '.join(anonymous)} names no seller: nothing to suppress, "
                "nothing changed"
            )
    results = []
    for hit_id in wanted:
        hit, listing = found[hit_id]
        result = Marked(hit_id, hit.state, state)
        session.add(
            TriageAction(hit_id=hit_id, at=now, actor=by, old_state=hit.state, new_state=state, note=note)
        )
        if hit.state != state:
            if hit.state == "false_positive":
                why = f"hit {hit_id} marked {state}" + (f" ({note})" if note else "")
                result.lifted = _lift(session, hit_id, by, now, why)
            hit.state, hit.state_changed_at = state, now
        if state == "false_positive":
            target = _seller_of(listing) if seller else _asset_of(listing)
            if target is None:
                result.nothing_to_suppress = True
            else:
                result.suppression, result.suppression_created = suppress(
                    session, target, brand=hit.brand, until=until, by=by, now=now, note=note, hit_id=hit_id
                )
        results.append(result)
    session.flush()
    return results


def _hits_with_listings(session: Session, hit_ids: list[int]) -> list[tuple[Hit, ListingRow]]:
    found: list[tuple[Hit, ListingRow]] = []
    for start in range(0, len(hit_ids), _CHUNK):
        rows = session.execute(
            select(Hit, ListingRow)
            .join(ListingRow, Hit.listing_pk == ListingRow.id)
            .where(Hit.id.in_(hit_ids[start : start + _CHUNK]))
        )
        found += [(hit, listing) for hit, listing in rows]
    return found


def _asset_of(listing: ListingRow) -> Target | None:
    if listing.asset and listing.asset_kind in ("domain", "handle"):
        return Target("asset", listing.asset, asset_kind=listing.asset_kind)
    return None  # a title-only listing: the hit itself is all there is to set aside


def _seller_of(listing: ListingRow) -> Target:
    assert listing.seller
    return Target("seller", listing.seller, marketplace=listing.marketplace)


def _lift(session: Session, hit_id: int, by: str, now: datetime, why: str) -> list[Suppression]:
    lifted = list(
        session.scalars(
            select(Suppression).where(Suppression.hit_id == hit_id, Suppression.removed_at.is_(None))
        )
    )
    for suppression in lifted:
        _stamp_removed(suppression, by, now, why)
    return lifted


def suppress(
    session: Session,
    target: Target,
    *,
    brand: str | None,
    by: str,
    now: datetime,
    until: datetime | None = None,
    note: str | None = None,
    hit_id: int | None = None,
) -> tuple[Suppression, bool]:
    """The suppression covering ``target`` for ``brand`` (None: every brand) at least until ``until``:
    an active one already there, else a new one. Returns it and whether it is new."""
    for existing in session.scalars(
        select(Suppression).where(
            Suppression.kind == target.kind,
            Suppression.value == target.value,
            active(now),
            or_(Suppression.brand.is_(None), func.lower(Suppression.brand) == func.lower(brand)),
        )
    ):
        same_place = existing.asset_kind == target.asset_kind and existing.marketplace == target.marketplace
        lasts = existing.until is None or (until is not None and existing.until >= until)
        if same_place and lasts:
            return existing, False
    suppression = Suppression(
        kind=target.kind,
        value=target.value,
        asset_kind=target.asset_kind,
        marketplace=target.marketplace,
        brand=brand,
        until=until,
        hit_id=hit_id,
        created_at=now,
        created_by=by,
        note=note,
    )
    session.add(suppression)
    session.flush()
    return suppression, True


def remove(
    session: Session, suppression_ids: Sequence[int], *, by: str, now: datetime, note: str | None = None
) -> tuple[list[Suppression], list[Suppression]]:
    """Stamp the suppressions removed (the rows stay); returns (removed now, removed before).
    An unknown id changes nothing."""
    wanted = list(dict.fromkeys(suppression_ids))
    found = {
        row.id: row
        for start in range(0, len(wanted), _CHUNK)
        for row in session.scalars(
            select(Suppression).where(Suppression.id.in_(wanted[start : start + _CHUNK]))
        )
    }
    missing = [str(suppression_id) for suppression_id in wanted if suppression_id not in found]
    if missing:
        raise TriageError(f"no suppression {', '.join(missing)}: nothing changed")
    removed, earlier = [], []
    for suppression_id in wanted:
        row = found[suppression_id]
        if row.removed_at is not None:
            earlier.append(row)
            continue
        _stamp_removed(row, by, now, note)
        removed.append(row)
    return removed, earlier


def _stamp_removed(row: Suppression, by: str, now: datetime, why: str | None) -> None:
    row.removed_at, row.removed_by = now, by
    if why:
        # The table has one note: the reason for removing it follows the reason for making it.
        row.note = f"{row.note}\nremoved: {why}" if row.note else f"removed: {why}"


def suppressions(session: Session, now: datetime, *, everything: bool = False) -> list[Suppression]:
    """The active suppressions (``everything``: removed and expired ones too), oldest first."""
    query = select(Suppression).order_by(Suppression.id)
    return list(session.scalars(query if everything else query.where(active(now))))


def status(suppression: Suppression, now: datetime) -> str:
    """active | expired | removed"""
    if suppression.removed_at is not None:
        return "removed"
    if suppression.until is not None and suppression.until <= now:
        return "expired"
    return "active"


def active(now: datetime) -> ColumnElement[bool]:
    """The suppression is in force at ``now``: not removed, not expired."""
    return and_(Suppression.removed_at.is_(None), or_(Suppression.until.is_(None), Suppression.until > now))


class SuppressionsInForce:
    """The suppressions in force at one moment, held in memory: ``is_suppressed`` for a crawl's
    listings before the store pipeline has written them. Indexed by what they cover, so that a
    feed's thousands of hits against an agency's thousands of suppressions stay look-ups."""

    def __init__(self, rows: Iterable[Suppression]) -> None:
        # What is covered → the brands it is covered for (lower case; None: every brand).
        self._assets: dict[tuple[str | None, str], set[str | None]] = {}
        self._sellers: dict[tuple[str | None, str], set[str | None]] = {}
        for row in rows:
            brand = row.brand.lower() if row.brand is not None else None
            if row.kind == "asset":
                self._assets.setdefault((row.asset_kind, row.value), set()).add(brand)
            elif row.kind == "seller":
                self._sellers.setdefault((row.marketplace, row.value.lower()), set()).add(brand)

    @classmethod
    def load(cls, session: Session, now: datetime) -> SuppressionsInForce:
        return cls(suppressions(session, now))

    def cover(
        self, brand: str, marketplace: str, asset_kind: str | None, asset: str | None, seller: str | None
    ) -> bool:
        brands: set[str | None] = set()
        if asset is not None:
            brands |= self._assets.get((asset_kind, asset), set())
        if seller:
            brands |= self._sellers.get((marketplace, seller.lower()), set())
        return None in brands or brand.lower() in brands


def is_suppressed(brand: ColumnElement[str], listing: type[ListingRow], now: datetime) -> ColumnElement[bool]:
    """The listing, for ``brand`` (a hit's brand column, or a literal), is covered by a suppression
    in force at ``now``: its asset, or its seller on its marketplace, for that brand or every brand.
    Brands and sellers compare without case (typed by hand, before any hit shows their spelling)."""
    return exists().where(
        active(now),
        or_(Suppression.brand.is_(None), func.lower(Suppression.brand) == func.lower(brand)),
        or_(
            and_(
                Suppression.kind == "asset",
                Suppression.value == listing.asset,
                Suppression.asset_kind == listing.asset_kind,
            ),
            and_(
                Suppression.kind == "seller",
                Suppression.marketplace == listing.marketplace,
                func.lower(Suppression.value) == func.lower(listing.seller),
            ),
        ),
    )


def resolve_taken_down(store: Store, now: datetime) -> int:
    """Actioned hits whose listing has ended, sold or gone become resolved, each with its triage
    action by brandcrawl; returns how many."""
    with store.session() as session:
        rows = session.execute(
            select(Hit, ListingRow.status)
            .join(ListingRow, Hit.listing_pk == ListingRow.id)
            .where(Hit.state == "actioned", ListingRow.status.in_(OFF_SALE))
        ).all()
        for hit, listing_status in rows:
            session.add(
                TriageAction(
                    hit_id=hit.id,
                    at=now,
                    actor=SYSTEM_ACTOR,
                    old_state=hit.state,
                    new_state="resolved",
                    note=f"listing {listing_status}",
                )
            )
            hit.state, hit.state_changed_at = "resolved", now
        return len(rows)


def history(session: Session, hit_ids: Iterable[int]) -> list[TriageAction]:
    """The triage actions on these hits, oldest first."""
    ids = sorted(set(hit_ids))
    actions: list[TriageAction] = []
    for start in range(0, len(ids), _CHUNK):
        actions += session.scalars(
            select(TriageAction).where(TriageAction.hit_id.in_(ids[start : start + _CHUNK]))
        )
    return sorted(actions, key=lambda action: (action.hit_id, action.at, action.id))


# -- what a user types, as the database stores it ---------------------------------------------------


def domain_target(text: str) -> Target:
    """A domain as listings store it: lower case, punycode, without www."""
    domain = ascii_host(text.strip()).removeprefix("www.")
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(_ASCII_LABEL.fullmatch(label) for label in labels):
        raise TriageError(f"{text!r} is not a domain name (e.g. gallimard-shop.net)")
    return Target("asset", domain, asset_kind="domain")


def handle_target(text: str) -> Target:
    """A handle as listings store it: "x:gallimard" from "x:@Gallimard", "twitter:gallimard" or a
    profile URL; "@gallimard" alone matches listings that did not say the platform."""
    written = text.strip()
    if ":" in written and "://" not in written:
        platform, handle = written.split(":", 1)
        value = f"{canonical_platform(platform)}:{handle.strip().lstrip('@').lower()}"
        if platform.strip() and HANDLE.fullmatch(value.split(":", 1)[1]):
            return Target("asset", value, asset_kind="handle")
    elif written.startswith("@") and HANDLE.fullmatch(written[1:]):
        return Target("asset", written.lower(), asset_kind="handle")
    else:
        profiles = [asset for asset in extract_assets(written) if asset.kind == "handle"]
        if len(profiles) == 1 and profiles[0].value:
            return Target("asset", profiles[0].value, asset_kind="handle")
    raise TriageError(f"{text!r} is not a handle: write PLATFORM:HANDLE (x:gallimard) or a profile URL")


def seller_target(name: str, marketplace: str) -> Target:
    if not name.strip() or not marketplace.strip():
        raise TriageError("a seller needs its name and its marketplace")
    return Target("seller", name.strip(), marketplace=marketplace.strip().lower())
