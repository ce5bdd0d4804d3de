"""Sending each recipient their digest exactly once a day: claimed in the database for the day (in
the digest's timezone), marked only once their mail server accepted it (or, without SMTP settings,
once it is written to disk). A second run the same day leaves a delivered recipient alone, unless
asked for another digest on purpose (``again``); a failed delivery is tried again the same day.

Which way it errs: a crash after the server accepted a message but before it is marked leaves the
claim behind; once the claim is stale the next run sends the same hits again, under the same
Message-ID, so mail clients fold the duplicate. A hit is never marked without having been sent.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import smtplib
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from brandcrawl.config import SmtpConfig, WatchConfig
from brandcrawl.digest import Audience, collect, write_atomically
from brandcrawl.render import RenderedDigest, render_digest
from brandcrawl.report import DigestReport
from brandcrawl.storage import Store
from brandcrawl.storage.models import DeliveredChange, DeliveredHit, Delivery

logger = logging.getLogger(__name__)

# A claim older than this belongs to a run that died: the next run takes it over and resends.
STALE_CLAIM = timedelta(minutes=30)


class DeliveryError(Exception):
    """Some digests could not be delivered; they stay unmarked for the next run."""


@dataclass(frozen=True)
class Held:
    """Why a recipient's digest cannot be claimed: another run is sending it, or it went out today."""

    reason: str


@dataclass
class DeliveryResult:
    sent: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # nothing to say, or held by another claim
    held: dict[str, str] = field(default_factory=dict)  # skipped recipient → which claim holds it
    failed: dict[str, str] = field(default_factory=dict)  # recipient → error
    previews: list[str] = field(default_factory=list)  # --dry-run


def recipients(watch: WatchConfig) -> dict[str, frozenset[str]]:
    """Each recipient's address → the brands they get, in watch-file order of first mention."""
    found: dict[str, set[str]] = {}
    for brand in watch.brands:
        for address in brand.recipients:
            found.setdefault(address.lower(), set()).add(brand.name)
    return {address: frozenset(brands) for address, brands in found.items()}


def deliver(
    store: Store,
    watch: WatchConfig,
    out_dir: str | Path,
    *,
    now: datetime | None = None,
    dry_run: bool = False,
    again: bool = False,
    environ: dict[str, str] | None = None,
) -> DeliveryResult:
    """Send (or, without SMTP settings, write) each recipient's digest of what they have not seen,
    once a day; ``again`` sends another one to those who had today's."""
    now = now or datetime.now(UTC)
    started = time.monotonic()
    environ = dict(os.environ) if environ is None else environ
    result = DeliveryResult()
    audiences = [(address, Audience(address, brands), False) for address, brands in recipients(watch).items()]
    if watch.digest.ops:
        # The ops address hears about marketplaces that could not be checked, and nothing else; its
        # deliveries are kept apart from any digest the same address gets as a recipient.
        ops = watch.digest.ops.lower()
        audiences.append((ops, Audience(f"ops:{ops}", frozenset()), True))
    for address, audience, health_only in audiences:
        # Claims are stamped when made: a run that takes long must not make its own claims look stale.
        clock = now + timedelta(seconds=time.monotonic() - started)
        _deliver_one(
            store,
            watch,
            Path(out_dir),
            address,
            audience,
            health_only,
            clock,
            dry_run,
            again,
            environ,
            result,
        )
    return result


def _deliver_one(
    store: Store,
    watch: WatchConfig,
    out_dir: Path,
    address: str,
    audience: Audience,
    health_only: bool,
    now: datetime,
    dry_run: bool,
    again: bool,
    environ: dict[str, str],
    result: DeliveryResult,
) -> None:
    key = audience.recipient or address
    zone = ZoneInfo(watch.digest.timezone)
    day = None if again else now.astimezone(zone).date()
    if dry_run:  # a preview claims nothing, but tells who a real run would leave alone
        claim = _delivered_on(store, key, day, zone) if day else None
    else:
        claim = _claim(store, key, now, day, zone)
    if isinstance(claim, Held):
        result.skipped.append(address)
        result.held[address] = claim.reason
        logger.warning("digest for %s left alone: %s", address, claim.reason)
        return
    try:
        with store.snapshot() as session:
            report = collect(session, watch, now, audience)
        if (not report.problems) if health_only else (report.quiet and not watch.digest.send_quiet):
            _release(store, claim)
            result.skipped.append(address)
            return
        rendered = render_digest(report, language=watch.digest.language, timezone=watch.digest.timezone)
        message = build_message(watch.digest.sender, address, rendered, _message_id(key, report, watch), now)
        if dry_run:
            result.previews.append(_preview(address, rendered, report))
            return
        assert claim is not None
        if watch.digest.smtp is None:
            result.written.extend(_write(out_dir, address, rendered, message, now))
            status = "written"
        else:
            send(watch.digest.smtp, message, environ)
            result.sent.append(address)
            status = "sent"
        _mark(store, claim, report, status, message, now)
    except Exception as error:  # one recipient's failure must not cost the others their digest
        if claim is not None:
            _fail(store, claim, error, now)
        result.failed[address] = _describe(error)
        expected = isinstance(error, OSError | smtplib.SMTPException | DeliveryError | SQLAlchemyError)
        log = logger.error if expected else logger.exception
        log("digest for %s not delivered: %s (it will be sent next run)", address, _describe(error))


def build_message(
    sender: str, recipient: str, rendered: RenderedDigest, message_id: str, now: datetime
) -> EmailMessage:
    """multipart/alternative: the plain text first, the HTML as the preferred alternative."""
    message = EmailMessage()
    # Header values go through the email package, which refuses line breaks: no header injection.
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


def send(smtp: SmtpConfig, message: EmailMessage, environ: dict[str, str]) -> None:
    """Hand the message to the SMTP server; returns only once the server accepted it."""
    context = ssl.create_default_context(cafile=smtp.ca_file)
    client: smtplib.SMTP
    if smtp.security == "tls":
        client = smtplib.SMTP_SSL(smtp.host, smtp.effective_port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.effective_port, timeout=smtp.timeout)
    with client:
        if smtp.security == "starttls":
            client.starttls(context=context)
        if smtp.username:
            password = environ.get(smtp.password_env or "", "")
            if smtp.password_env and not password:
                raise DeliveryError(
                    f"the environment variable {smtp.password_env} (SMTP password) is not set"
                )
            client.login(smtp.username, password)
        refused = client.send_message(message)
        if refused:
            raise DeliveryError(f"the server refused {', '.join(refused)}")


def _claim(store: Store, recipient: str, now: datetime, day: date | None, zone: ZoneInfo) -> int | Held:
    """A delivery row in state "sending" for ``recipient`` and ``day`` (None: beyond the day's one),
    or what holds it: another live run's claim, or the day's digest already delivered."""
    with store.session() as session:
        stale = now - STALE_CLAIM
        session.execute(
            update(Delivery)
            .where(Delivery.recipient == recipient, Delivery.status == "sending", Delivery.claimed_at < stale)
            .values(status="abandoned", finished_at=now, error="claim left by a run that stopped")
        )
    try:
        with store.session() as session:
            delivery = Delivery(recipient=recipient, status="sending", claimed_at=now, day=day)
            session.add(delivery)
            session.flush()
            return delivery.id
    except IntegrityError:
        return _holder(store, recipient, day, zone)


def _holder(store: Store, recipient: str, day: date | None, zone: ZoneInfo) -> Held:
    # Beyond the day's digest (day None) only a live claim can be in the way.
    delivered = _delivered_on(store, recipient, day, zone) if day else None
    return delivered or Held("another digest run is delivering it")


def _delivered_on(store: Store, recipient: str, day: date, zone: ZoneInfo) -> Held | None:
    """What holds the digest of ``day`` back when it was already sent or written."""
    with store.session() as session:
        delivered = session.scalars(
            select(Delivery)
            .where(
                Delivery.recipient == recipient, Delivery.day == day, Delivery.status.in_(("sent", "written"))
            )
            .limit(1)
        ).first()
        if delivered is None:
            return None
        at = (delivered.finished_at or delivered.claimed_at).astimezone(zone)
        return Held(f"already delivered today ({delivered.status} at {at:%H:%M})")


def _release(store: Store, claim: int | None) -> None:
    if claim is None:
        return
    with store.session() as session:
        session.execute(
            update(Delivery).where(Delivery.id == claim).values(status="abandoned", error="nothing to send")
        )


def _fail(store: Store, claim: int, error: BaseException, now: datetime) -> None:
    with store.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == claim)
            .values(status="failed", finished_at=now, error=_describe(error))
        )


def _mark(
    store: Store, claim: int, report: DigestReport, status: str, message: EmailMessage, now: datetime
) -> None:
    """What the message held is now delivered to its recipient: one transaction."""
    with store.session() as session:
        session.execute(
            update(Delivery)
            .where(Delivery.id == claim)
            .values(
                status=status, finished_at=now, message_id=message["Message-ID"], subject=message["Subject"]
            )
        )
        _insert_all(session, DeliveredHit, [{"delivery_id": claim, "hit_id": h} for h in report.hit_ids])
        _insert_all(
            session, DeliveredChange, [{"delivery_id": claim, "change_id": c} for c in report.change_ids]
        )


def _insert_all(session: Session, model: type, rows: list[dict[str, int]]) -> None:
    for start in range(0, len(rows), 500):
        session.execute(model.__table__.insert(), rows[start : start + 500])


def _message_id(key: str, report: DigestReport, watch: WatchConfig) -> str:
    """The same hits and changes for the same recipient keep their Message-ID, so that a resend
    after a crash folds into the first message; a digest without any (all quiet, ops alerts) gets a
    fresh one, so that no two different messages share one."""
    if report.hit_ids or report.change_ids:
        content = f"{key}|{sorted(report.hit_ids)}|{sorted(report.change_ids)}"
    else:
        content = f"{key}|{report.generated_at.isoformat()}|{secrets.token_hex(8)}"
    digest = hashlib.sha256(content.encode()).hexdigest()[:32]
    domain = parseaddr(watch.digest.sender)[1].rpartition("@")[2] or "brandcrawl.invalid"
    return f"<digest.{digest}@{domain}>"


def _write(
    out_dir: Path, recipient: str, rendered: RenderedDigest, message: EmailMessage, now: datetime
) -> list[Path]:
    folder = out_dir / "recipients"
    folder.mkdir(parents=True, exist_ok=True)
    # Named in full: an address has dots, which Path.with_suffix would take for an extension.
    stem = f"{_slug(recipient)}-{now:%Y%m%d-%H%M%S}"
    paths = []
    for suffix, content in ((".html", rendered.html), (".txt", rendered.text), (".eml", message.as_string())):
        path = folder / f"{stem}{suffix}"
        write_atomically(path, content)
        paths.append(path)
    return paths


def _slug(address: str) -> str:
    return re.sub(r"[^a-z0-9@._-]+", "-", address.lower())


def _preview(address: str, rendered: RenderedDigest, report: DigestReport) -> str:
    return f"{address}: {rendered.subject} ({report.new_hit_count} new, {report.change_count} changed)"


def _describe(error: BaseException) -> str:
    if isinstance(error, SQLAlchemyError):
        return f"database error: {getattr(error, 'orig', None) or type(error).__name__}"
    if isinstance(error, smtplib.SMTPResponseException):
        text = error.smtp_error
        return f"SMTP {error.smtp_code}: {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        return "the server refused the recipient: " + ", ".join(error.recipients)
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
