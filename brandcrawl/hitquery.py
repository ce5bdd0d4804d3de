"""Which hits: the filters shared by ``brandcrawl hits list`` and ``brandcrawl export`` turned into
rows, one per hit with its listing, its triage and whether a suppression covers it, newest first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from brandcrawl.storage.models import Hit, ListingRow, TriageAction
from brandcrawl.triage import is_suppressed

_BATCH = 500


@dataclass(frozen=True)
class HitFilter:
    """Every field narrows: hits of any of these brands, on any of these marketplaces, in any of these
    states, first seen at or after ``since``; at most ``limit`` of them (the newest)."""

    brands: tuple[str, ...] = ()
    marketplaces: tuple[str, ...] = ()
    states: tuple[str, ...] = ()
    since: datetime | None = None
    limit: int | None = None


@dataclass(frozen=True)
class HitRow:
    """One hit as listed and exported. The field order is the export's column order."""

    hit_id: int
    state: str
    state_changed_at: datetime | None
    brand: str
    marketplace: str
    site: str | None
    listing_id: str
    url: str
    title: str
    asset_kind: str
    asset: str | None
    asset_text: str | None
    seller: str | None
    price: Decimal | None
    currency: str | None
    price_is_range: bool
    sale_method: str | None
    bid_count: int | None
    followers: int | None
    end_time: datetime | None
    listing_status: str
    first_seen: datetime
    last_seen: datetime
    rule: str
    matched: str
    explanation: str
    score: float
    suppressed: bool
    triaged_at: datetime | None
    triaged_by: str | None
    triage_note: str | None


def parse_moment(text: str) -> datetime:
    """An ISO date (midnight UTC) or date and time (UTC unless it names its offset)."""
    written = text.strip()
    try:
        if len(written) == 10:
            day = date.fromisoformat(written)
            return datetime(day.year, day.month, day.day, tzinfo=UTC)
        moment = datetime.fromisoformat(written)
        # OverflowError: an offset that takes it past year 9999 in UTC.
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except (ValueError, OverflowError):
        example = "2026-11-27, 2026-11-27T08:00"
        raise ValueError(f"{text!r} is not an ISO date or date and time ({example})") from None


def with_stored_names(session: Session, filters: HitFilter) -> tuple[HitFilter, list[str]]:
    """The filter with brands and marketplaces spelt as stored (they are typed in any case; a brand
    renamed in the watch file may be stored in several), and a warning for each name no stored hit
    carries (a typo shows, instead of an empty answer)."""
    warnings = []
    names = {}
    for label, column, given in (
        ("brand", Hit.brand, filters.brands),
        ("marketplace", ListingRow.marketplace, filters.marketplaces),
    ):
        if not given:
            names[label] = given
            continue
        stored = sorted(session.scalars(select(column).distinct().join_from(Hit, ListingRow)))
        spellings: dict[str, list[str]] = {}
        for name in stored:
            spellings.setdefault(name.casefold(), []).append(name)
        names[label] = tuple(
            dict.fromkeys(spelt for name in given for spelt in spellings.get(name.casefold(), [name]))
        )
        for name in given:
            if name.casefold() not in spellings:
                known = ", ".join(stored) or "none yet"
                warnings.append(f"no hit is stored for the {label} {name!r} (stored: {known})")
    return replace(filters, brands=names["brand"], marketplaces=names["marketplace"]), warnings


def hit_rows(session: Session, filters: HitFilter, now: datetime) -> Iterator[HitRow]:
    """The hits the filter selects, newest first, read in batches; ``now`` decides which
    suppressions are in force."""
    for hit, listing, suppressed, action in session.execute(
        _query(filters, now).execution_options(yield_per=_BATCH)
    ):
        yield HitRow(
            hit_id=hit.id,
            state=hit.state,
            state_changed_at=hit.state_changed_at,
            brand=hit.brand,
            marketplace=listing.marketplace,
            site=listing.site,
            listing_id=listing.listing_id,
            url=listing.url,
            title=listing.title,
            asset_kind=listing.asset_kind,
            asset=listing.asset,
            asset_text=listing.asset_text,
            seller=listing.seller,
            price=listing.price,
            currency=listing.currency,
            price_is_range=listing.price_is_range,
            sale_method=listing.sale_method,
            bid_count=listing.bid_count,
            followers=listing.followers,
            end_time=listing.end_time,
            listing_status=listing.status,
            first_seen=hit.first_seen,
            last_seen=listing.last_seen,
            rule=hit.rule,
            matched=hit.matched,
            explanation=hit.explanation,
            score=hit.score,
            suppressed=bool(suppressed),
            triaged_at=action.at if action else None,
            triaged_by=action.actor if action else None,
            triage_note=action.note if action else None,
        )


def _query(filters: HitFilter, now: datetime) -> Select:
    latest = (
        select(TriageAction.hit_id, func.max(TriageAction.id).label("action_id"))
        .group_by(TriageAction.hit_id)
        .subquery()
    )
    query = (
        select(Hit, ListingRow, is_suppressed(Hit.brand, ListingRow, now).label("suppressed"), TriageAction)
        .join(ListingRow, Hit.listing_pk == ListingRow.id)
        .outerjoin(latest, latest.c.hit_id == Hit.id)
        .outerjoin(TriageAction, TriageAction.id == latest.c.action_id)
        .order_by(Hit.id.desc())
    )
    if filters.brands:
        query = query.where(Hit.brand.in_(filters.brands))
    if filters.marketplaces:
        query = query.where(ListingRow.marketplace.in_(filters.marketplaces))
    if filters.states:
        query = query.where(Hit.state.in_(filters.states))
    if filters.since is not None:
        query = query.where(Hit.first_seen >= filters.since)
    if filters.limit is not None:
        query = query.limit(filters.limit)
    return query
