"""The digest: what is new or changed since the last one, per brand, with the health of every crawl."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import ColumnElement, and_, exists, func, literal, not_, select, true, update
from sqlalchemy.orm import Session, aliased

from brandcrawl.config import WatchConfig
from brandcrawl.items import OFF_SALE
from brandcrawl.render import render
from brandcrawl.report import BrandSection, DigestReport, Health, OtherListing, ReportedChange, ReportedHit
from brandcrawl.storage import Store
from brandcrawl.storage.models import (
    CrawlRun,
    DeliveredChange,
    DeliveredHit,
    Delivery,
    Digest,
    Hit,
    ListingChange,
    ListingRow,
)
from brandcrawl.triage import TAKEN_DOWN, is_suppressed

# A delivery in one of these states has reached its recipient (or the disk standing in for them).
DELIVERED = ("sent", "written")


@dataclass(frozen=True)
class Audience:
    """Whose digest: the team's overview on disk (every brand, ``recipient`` None), or one
    recipient's e-mail (their brands, reported to them)."""

    recipient: str | None = None
    brands: frozenset[str] | None = None

    def covers(self, hit: type[Hit]) -> ColumnElement[bool]:
        """The hit is about one of this audience's brands."""
        return hit.brand.in_(self.brands) if self.brands is not None else true()

    def hit_reported(self, hit: type[Hit]) -> ColumnElement[bool]:
        if self.recipient is None:
            return hit.reported_in.is_not(None)
        return exists().where(
            DeliveredHit.hit_id == hit.id,
            DeliveredHit.delivery_id == Delivery.id,
            Delivery.recipient == self.recipient,
            Delivery.status.in_(DELIVERED),
        )

    def previous(self, session: Session) -> datetime | None:
        """When this audience last got a digest."""
        if self.recipient is None:
            return session.scalar(select(func.max(Digest.created_at)))
        return session.scalar(
            select(func.max(Delivery.finished_at)).where(
                Delivery.recipient == self.recipient, Delivery.status.in_(DELIVERED)
            )
        )

    def change_reported(self) -> ColumnElement[bool]:
        if self.recipient is None:
            return ListingChange.reported_in.is_not(None)
        return exists().where(
            DeliveredChange.change_id == ListingChange.id,
            DeliveredChange.delivery_id == Delivery.id,
            Delivery.recipient == self.recipient,
            Delivery.status.in_(DELIVERED),
        )


TEAM = Audience()


def collect(session: Session, watch: WatchConfig, now: datetime, audience: Audience = TEAM) -> DigestReport:
    """Everything not yet reported to ``audience``: new hits, changes to hits already reported to
    it, and the latest crawl health.

    False positives and hits under a suppression in force at ``now`` are left out (and left
    unreported: they show once the suppression is removed or expires). An asset or listing whose
    takedown was requested or done, offered again, comes first in its brand's section.
    """
    order = {brand.name: index for index, brand in enumerate(watch.brands)}
    sections: dict[str, BrandSection] = {}

    new_hits = session.execute(
        select(Hit, ListingRow)
        .join(ListingRow, Hit.listing_pk == ListingRow.id)
        .where(audience.covers(Hit), not_(audience.hit_reported(Hit)), _shown(Hit, ListingRow, now))
        .order_by(Hit.id)  # ties in rank keep this order, the same on every database
    ).all()
    takedowns = _takedowns_of_assets(session, [listing for _, listing in new_hits])
    back = _back_on_sale_since_takedown(session, [(hit, listing) for hit, listing in new_hits])
    for hit, listing in new_hits:
        earlier = [
            i for i in takedowns.get((hit.brand, listing.asset_kind, listing.asset), ()) if i != hit.id
        ]
        takedown = earlier[-1] if earlier else (hit.id if hit.id in back else None)
        sections.setdefault(hit.brand, BrandSection(hit.brand)).new_hits.append(
            _reported_hit(hit, listing, takedown_hit_id=takedown)
        )

    reported = aliased(Hit)
    changes = session.execute(
        select(ListingChange, ListingRow, reported)
        .join(ListingRow, ListingChange.listing_pk == ListingRow.id)
        .join(reported, reported.listing_pk == ListingRow.id)
        .where(
            not_(audience.change_reported()),
            audience.hit_reported(reported),
            audience.covers(reported),
            _shown(reported, ListingRow, now),
        )
        .order_by(ListingChange.changed_at, ListingChange.id)
    ).all()
    back_on_sale: dict[int, ReportedHit] = {}
    for change, listing, hit in changes:
        section = sections.setdefault(hit.brand, BrandSection(hit.brand))
        if _back_after_takedown(change, hit):
            if hit.id not in back_on_sale:
                back_on_sale[hit.id] = _reported_hit(hit, listing, takedown_hit_id=hit.id)
                section.relisted.append(back_on_sale[hit.id])
            continue
        section.changes.append(
            ReportedChange(
                change_id=change.id,
                brand=hit.brand,
                marketplace=listing.marketplace,
                title=listing.title,
                url=listing.url,
                asset=listing.asset,
                field=change.field,
                old_value=change.old_value,
                new_value=change.new_value,
                changed_at=change.changed_at,
            )
        )
    for section in sections.values():
        others = _listings_of(session, section.brand, {hit.asset_pk for hit in section.new_hits}, now)
        relisted = [hit for hit in section.new_hits if hit.takedown_hit_id is not None]
        fresh = [hit for hit in section.new_hits if hit.takedown_hit_id is None]
        section.relisted = _one_per_asset(sorted(relisted, key=_rank), others) + sorted(
            section.relisted, key=_rank
        )
        section.new_hits = _one_per_asset(sorted(fresh, key=_rank), others)

    # Changes to listings whose hits are still new are folded into the new hit: it shows current values.
    new_listings = sorted({listing.id for _, listing in new_hits})
    folded = [
        change_id
        for start in range(0, len(new_listings), 500)
        for change_id in session.scalars(
            select(ListingChange.id).where(
                not_(audience.change_reported()),
                ListingChange.listing_pk.in_(new_listings[start : start + 500]),
            )
        )
    ]
    change_ids = sorted({change.id for change, _, _ in changes} | set(folded))
    return DigestReport(
        generated_at=now,
        timezone=watch.digest.timezone,
        sections=sorted(sections.values(), key=lambda s: (order.get(s.brand, len(order)), s.brand)),
        health=_health(session, audience.previous(session)),
        hit_ids=[hit.id for hit, _ in new_hits],
        change_ids=change_ids,
    )


def _shown(hit: type[Hit], listing: type[ListingRow], now: datetime) -> ColumnElement[bool]:
    """The hit belongs in a digest: not a false positive, and no suppression in force covers it."""
    return and_(hit.state != "false_positive", not_(is_suppressed(hit.brand, listing, now)))


def _takedowns_of_assets(
    session: Session, listings: list[ListingRow]
) -> dict[tuple[str, str, str], list[int]]:
    """For these listings' domains and handles, the hits whose takedown was requested or done, on any
    marketplace: (brand, asset kind, asset) → their ids, oldest first."""
    assets = sorted({row.asset for row in listings if row.asset and row.asset_kind in ("domain", "handle")})
    earlier, theirs = aliased(Hit), aliased(ListingRow)
    found: dict[tuple[str, str, str], list[int]] = {}
    for start in range(0, len(assets), 500):
        rows = session.execute(
            select(earlier.id, earlier.brand, theirs.asset_kind, theirs.asset)
            .join(theirs, earlier.listing_pk == theirs.id)
            .where(earlier.state.in_(TAKEN_DOWN), theirs.asset.in_(assets[start : start + 500]))
            .order_by(earlier.id)
        )
        for hit_id, brand, kind, asset in rows:
            found.setdefault((brand, kind, asset), []).append(hit_id)
    return found


def _back_on_sale_since_takedown(session: Session, hits: list[tuple[Hit, ListingRow]]) -> set[int]:
    """Of these hits not reported yet, those taken down whose own listing went and is on sale again
    since (triaged from ``hits list`` before any digest showed them, as when crawls and digests run
    apart)."""
    taken = {
        listing.id: hit
        for hit, listing in hits
        if hit.state in TAKEN_DOWN and hit.state_changed_at is not None and listing.status == "active"
    }
    back: set[int] = set()
    pks = sorted(taken)
    for start in range(0, len(pks), 500):
        rows = session.execute(
            select(ListingChange.listing_pk, ListingChange.changed_at).where(
                ListingChange.listing_pk.in_(pks[start : start + 500]),
                ListingChange.field == "status",
                ListingChange.new_value == "active",
                ListingChange.old_value.in_(OFF_SALE),
            )
        )
        for listing_pk, changed_at in rows:
            hit = taken[listing_pk]
            if hit.state_changed_at is not None and changed_at >= hit.state_changed_at:
                back.add(hit.id)
    return back


def _back_after_takedown(change: ListingChange, hit: Hit) -> bool:
    """The listing of a hit taken down (or being taken down) is on sale again."""
    return (
        hit.state in TAKEN_DOWN
        and change.field == "status"
        and change.new_value == "active"
        and change.old_value in OFF_SALE
    )


def _listings_of(
    session: Session, brand: str, asset_pks: set[int | None], now: datetime
) -> dict[int, list[tuple[int, OtherListing]]]:
    """Every listing of these assets still on sale, by asset: (listing pk, the listing). Leaves out
    what the digest leaves out for ``brand``: suppressed sellers, and false positives."""
    found: dict[int, list[tuple[int, OtherListing]]] = {}
    pks = sorted(pk for pk in asset_pks if pk is not None)
    false_positive = exists().where(
        Hit.listing_pk == ListingRow.id, Hit.brand == brand, Hit.state == "false_positive"
    )
    for start in range(0, len(pks), 500):
        rows = session.scalars(
            select(ListingRow)
            .where(
                ListingRow.asset_pk.in_(pks[start : start + 500]),
                ListingRow.status == "active",
                not_(false_positive),
                not_(is_suppressed(literal(brand), ListingRow, now)),
            )
            .order_by(ListingRow.marketplace, ListingRow.id)
        )
        for row in rows:
            assert row.asset_pk is not None
            found.setdefault(row.asset_pk, []).append(
                (
                    row.id,
                    OtherListing(
                        marketplace=row.marketplace,
                        site=row.site,
                        url=row.url,
                        price=row.price,
                        currency=row.currency,
                        sale_method=row.sale_method,
                        end_time=row.end_time,
                        status=row.status,
                    ),
                )
            )
    return found


def _one_per_asset(
    ranked: list[ReportedHit], others: dict[int, list[tuple[int, OtherListing]]]
) -> list[ReportedHit]:
    """One entry per domain or handle: its best-ranked new hit, with the asset's other listings."""
    entries: list[ReportedHit] = []
    shown: set[int] = set()
    for hit in ranked:
        if hit.asset_pk is None or hit.status != "active":
            entries.append(hit)  # an ended, sold or gone listing tells its own news
            continue
        if hit.asset_pk in shown:
            continue  # listed under the asset's first entry
        shown.add(hit.asset_pk)
        also = tuple(other for pk, other in others.get(hit.asset_pk, ()) if pk != hit.listing_pk)
        entries.append(replace(hit, also_listed=also))
    return entries


def _reported_hit(hit: Hit, listing: ListingRow, takedown_hit_id: int | None = None) -> ReportedHit:
    return ReportedHit(
        hit_id=hit.id,
        brand=hit.brand,
        marketplace=listing.marketplace,
        site=listing.site,
        title=listing.title,
        url=listing.url,
        asset_kind=listing.asset_kind,
        asset=listing.asset,
        asset_text=listing.asset_text,
        followers=listing.followers,
        sale_method=listing.sale_method,
        listing_pk=listing.id,
        asset_pk=listing.asset_pk,
        matched=hit.matched,
        explanation=hit.explanation,
        score=hit.score,
        price=listing.price,
        currency=listing.currency,
        price_is_range=listing.price_is_range,
        bid_count=listing.bid_count,
        end_time=listing.end_time,
        status=listing.status,
        seller=listing.seller,
        takedown_hit_id=takedown_hit_id,
    )


def _rank(hit: ReportedHit) -> tuple[bool, float, float, datetime]:
    """A domain or handle for sale first (what brand teams act on), then by match strength, price
    and ending soonest."""
    far = datetime.max.replace(tzinfo=UTC)
    return (
        hit.asset_kind not in ("domain", "handle"),
        -hit.score,
        -float(hit.price or 0),
        hit.end_time or far,
    )


# Worst first: the status a marketplace crawled in several Scrapyd jobs (brand shards) shows.
_SEVERITY = {"broken": 4, "blocked": 3, "disallowed": 2, "needs_login": 1, "ok": 0}
# Without a previous digest, the shards of one dispatch are the jobs of the day before the latest.
_ONE_DISPATCH = timedelta(days=1)


def _health(session: Session, previous_digest: datetime | None) -> list[Health]:
    """The latest crawl of each marketplace; one that ran before the previous digest is stale.

    A marketplace crawled as several Scrapyd jobs since (``brandcrawl dispatch``'s brand shards)
    shows them as one: the worst status and its detail, pages, listings and hits summed.
    """
    latest = select(CrawlRun.spider, func.max(CrawlRun.id).label("id")).group_by(CrawlRun.spider).subquery()
    runs = session.scalars(
        select(CrawlRun).join(latest, CrawlRun.id == latest.c.id).order_by(CrawlRun.spider)
    )
    health = []
    for run in runs:
        stale = previous_digest is not None and run.finished_at < previous_digest
        parts = [run] if stale or run.job is None else _dispatched_with(session, run, previous_digest)
        worst = max(parts, key=lambda part: (_SEVERITY.get(part.status, 4), part.id))
        troubled = sum(part.status != "ok" for part in parts)
        detail = (
            worst.detail
            if len(parts) == 1 or not troubled
            else f"{worst.detail} ({troubled} of {len(parts)} jobs)"
        )
        health.append(
            Health(
                marketplace=run.spider,
                status="stale" if stale else worst.status,
                detail="no crawl since the last digest" if stale else detail,
                pages_fetched=sum(part.pages_fetched for part in parts),
                listings_seen=sum(part.listings_seen for part in parts),
                hits=sum(part.hits for part in parts),
                finished_at=run.finished_at,
                source=run.source,
            )
        )
    return health


def _dispatched_with(session: Session, run: CrawlRun, previous_digest: datetime | None) -> list[CrawlRun]:
    """The Scrapyd jobs of ``run``'s marketplace since the previous digest: one crawl cut in shards."""
    since = previous_digest or run.finished_at - _ONE_DISPATCH
    return list(
        session.scalars(
            select(CrawlRun).where(
                CrawlRun.spider == run.spider, CrawlRun.job.is_not(None), CrawlRun.finished_at >= since
            )
        )
    )


def write_digest(store: Store, watch: WatchConfig, out_dir: str | Path, now: datetime | None = None) -> Path:
    """Render everything not yet reported to ``out_dir`` and mark it reported.

    Marking comes after the files are written, so a failure leaves the hits for the next digest.
    """
    now = now or datetime.now(UTC)
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    with store.snapshot() as session:
        report = collect(session, watch, now)
        html, text = render(report)
        stem = _free_stem(folder / f"digest-{now:%Y%m%d-%H%M%S}")
        write_atomically(stem.with_suffix(".html"), html)
        write_atomically(stem.with_suffix(".txt"), text)
        mark_reported(session, report, str(stem.with_suffix(".html")))
    return stem.with_suffix(".html")


def mark_reported(session: Session, report: DigestReport, location: str) -> int:
    digest = Digest(
        created_at=report.generated_at,
        location=location,
        hit_count=report.new_hit_count + report.relisted_count,
        change_count=report.change_count,
    )
    session.add(digest)
    session.flush()
    for model, ids in ((Hit, report.hit_ids), (ListingChange, report.change_ids)):
        for start in range(0, len(ids), 500):
            session.execute(
                update(model).where(model.id.in_(ids[start : start + 500])).values(reported_in=digest.id)
            )
    return digest.id


def _free_stem(stem: Path) -> Path:
    """A name no earlier digest has: two digests in the same second must not overwrite each other."""
    candidate, number = stem, 1
    while candidate.with_suffix(".html").exists():
        number += 1
        candidate = stem.with_name(f"{stem.name}-{number}")
    return candidate


def write_atomically(path: Path, content: str) -> None:
    """Written beside, then renamed: a reader never sees half a digest."""
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(content, encoding="utf-8")
    partial.replace(path)
