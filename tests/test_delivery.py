"""Each recipient's digest, through a real SMTP server on 127.0.0.1 (aiosmtpd): delivered once."""

from __future__ import annotations

import email
import ssl
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from email.message import Message
from email.policy import default as default_policy
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select, update

from brandcrawl.cli import main
from brandcrawl.config import load_watch
from brandcrawl.delivery import STALE_CLAIM, _claim, build_message, deliver
from brandcrawl.render import RenderedDigest
from brandcrawl.storage import Store
from brandcrawl.storage.models import DeliveredHit, Delivery
from tests.conftest import gallimard_listing, record_crawl
from tests.local import Inbox, free_port, race

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


WATCH = """
[digest]
sender = "Veille <veille@brandcrawl.example>"
timezone = "Europe/Paris"
{digest_extra}

[marketplaces.ebay]

[[brands]]
name = "Gallimard"
recipients = ["juridique@gallimard.example", "veille@gallimard.example"]

[[brands]]
name = "Folio"
common_word = true
recipients = ["veille@gallimard.example"]
"""


def watch_file(tmp_path: Path, digest_extra: str) -> Path:
    path = tmp_path / "watch.toml"
    path.write_text(WATCH.format(digest_extra=digest_extra), encoding="utf-8")
    return path


def smtp_watch(tmp_path: Path, port: int, digest: str = "", **smtp: str) -> Path:
    settings = {"host": '"127.0.0.1"', "port": str(port), "security": '"none"', **smtp}
    lines = "\n".join(f"{key} = {value}" for key, value in settings.items())
    return watch_file(tmp_path, f"{digest}\n[digest.smtp]\n{lines}")


def seed(store: Store) -> None:
    folio = gallimard_listing(
        "2", NOW, title="folio.shop domain name", asset_kind="domain", asset="folio.shop"
    )
    folio.matches = [{**folio.matches[0], "brand": "Folio", "explanation": "is 'Folio'"}]
    store.save_listings([gallimard_listing("1", NOW, title="Vends compte Twitter @Gallimard"), folio], NOW)


def parts(message: Message) -> dict[str, str]:
    return {part.get_content_type(): part.get_content() for part in message.walk() if not part.is_multipart()}


def test_each_recipient_gets_one_message_with_their_brands(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    seed(store)
    result = deliver(store, load_watch(smtp_watch(tmp_path, port)), tmp_path, now=NOW)
    assert sorted(result.sent) == ["juridique@gallimard.example", "veille@gallimard.example"]

    [legal] = handler.to("juridique@gallimard.example")
    [team] = handler.to("veille@gallimard.example")
    assert legal["Message-ID"].endswith("@brandcrawl.example>")
    assert legal["Date"]
    assert legal["From"] == "Veille <veille@brandcrawl.example>"
    assert "\n" not in legal["Subject"]
    assert legal.get_content_type() == "multipart/alternative"
    legal_parts, team_parts = parts(legal), parts(team)
    assert set(legal_parts) == {"text/plain", "text/html"}
    assert "@Gallimard" in legal_parts["text/plain"]
    assert "folio.shop" not in legal_parts["text/plain"]
    assert "@Gallimard" in team_parts["text/plain"]
    assert "folio.shop" in team_parts["text/plain"]
    assert "folio.shop" in team_parts["text/html"]


def test_a_hit_is_never_sent_twice(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port, digest="send_quiet = false"))
    deliver(store, watch, tmp_path, now=NOW)
    again = deliver(store, watch, tmp_path, now=NOW + timedelta(hours=24))
    assert again.sent == []
    assert len(handler.to("veille@gallimard.example")) == 1


def test_a_quiet_day_still_says_all_quiet(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port))
    deliver(store, watch, tmp_path, now=NOW)
    deliver(store, watch, tmp_path, now=NOW + timedelta(hours=24))
    first, second = handler.to("juridique@gallimard.example")
    assert "@Gallimard" in parts(first)["text/plain"]
    assert "@Gallimard" not in parts(second)["text/plain"]


def test_a_refused_message_is_not_lost(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port))
    handler.refuse_next = 1
    first = deliver(store, watch, tmp_path, now=NOW)
    assert len(first.failed) == 1
    assert "554" in next(iter(first.failed.values()))
    refused = next(iter(first.failed))
    assert handler.to(refused) == []
    second = deliver(store, watch, tmp_path, now=NOW + timedelta(minutes=5))
    assert refused in second.sent
    [message] = handler.to(refused)
    assert "@Gallimard" in parts(message)["text/plain"]


def test_a_run_already_delivering_to_a_recipient_is_left_alone(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port))
    paris = ZoneInfo("Europe/Paris")
    assert isinstance(_claim(store, "veille@gallimard.example", NOW, NOW.date(), paris), int)  # alive
    result = deliver(store, watch, tmp_path, now=NOW + timedelta(minutes=1))
    assert result.skipped == ["veille@gallimard.example"]
    assert result.held == {"veille@gallimard.example": "another digest run is delivering it"}
    again = deliver(store, watch, tmp_path, now=NOW + timedelta(minutes=1), again=True)
    assert again.held == {"veille@gallimard.example": "another digest run is delivering it"}
    assert handler.to("veille@gallimard.example") == []
    # That run died: once its claim is stale, the hits go out (a duplicate at worst, never a loss).
    later = deliver(store, watch, tmp_path, now=NOW + STALE_CLAIM + timedelta(minutes=2))
    assert "veille@gallimard.example" in later.sent


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return key, cert


def test_starttls_and_login(certificate, tmp_path: Path, store: Store) -> None:
    key, cert = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
        assert isinstance(auth_data, LoginPassword)
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"s3cret")

    handler, port = Inbox(), free_port()
    controller = Controller(
        handler,
        hostname="127.0.0.1",
        port=port,
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        seed(store)
        watch = load_watch(
            smtp_watch(
                tmp_path,
                port,
                security='"starttls"',
                username='"veille"',
                password_env='"BRANDCRAWL_TEST_SMTP_PASSWORD"',
                ca_file=f'"{cert}"',
            )
        )
        missing = deliver(store, watch, tmp_path, now=NOW, environ={})
        assert "BRANDCRAWL_TEST_SMTP_PASSWORD" in next(iter(missing.failed.values()))
        result = deliver(store, watch, tmp_path, now=NOW, environ={"BRANDCRAWL_TEST_SMTP_PASSWORD": "s3cret"})
    finally:
        controller.stop()
    assert sorted(result.sent) == ["juridique@gallimard.example", "veille@gallimard.example"]
    assert logins[-1] == (b"veille", b"s3cret")
    assert len(handler.messages) == 2


def test_without_smtp_each_recipient_gets_files_and_a_ready_eml(tmp_path: Path, store: Store) -> None:
    seed(store)
    watch = load_watch(watch_file(tmp_path, ""))
    preview = deliver(store, watch, tmp_path / "out", now=NOW, dry_run=True)
    assert len(preview.previews) == 2
    assert not (tmp_path / "out").exists()
    result = deliver(store, watch, tmp_path / "out", now=NOW)
    emls = sorted(path.name for path in result.written if path.suffix == ".eml")
    assert emls == [
        "juridique@gallimard.example-20261127-060000.eml",
        "veille@gallimard.example-20261127-060000.eml",
    ]
    eml = next(path for path in result.written if path.name.startswith("veille") and path.suffix == ".eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=default_policy)
    assert message["To"] == "veille@gallimard.example"
    assert "folio.shop" in parts(message)["text/plain"]
    # Written counts as delivered: the next run has nothing new for them.
    assert deliver(store, watch, tmp_path / "out", now=NOW + timedelta(days=1)).written


def test_no_header_can_be_injected() -> None:
    rendered = RenderedDigest(subject="Gallimard\nBcc: attacker@example.org", html="<p>x</p>", text="x")
    with pytest.raises(ValueError, match="linefeed"):
        build_message("veille@brandcrawl.example", "a@b.example", rendered, "<id@brandcrawl.example>", NOW)


def test_the_digest_command_exits_1_and_says_why_when_smtp_fails(
    tmp_path: Path, store: Store, capsys
) -> None:
    seed(store)
    watch = smtp_watch(tmp_path, free_port())  # nothing listens there
    code = main(["digest", "--watch", str(watch), "--db", store.url, "--out", str(tmp_path / "out")])
    assert code == 1
    error = capsys.readouterr().err
    assert "not delivered" in error
    assert "it is sent next run" in error
    assert "Traceback" not in error


def test_the_team_digest_does_not_make_a_recipients_health_stale(tmp_path: Path, store: Store) -> None:
    from brandcrawl.digest import write_digest

    seed(store)
    record_crawl(store, NOW)
    watch = load_watch(watch_file(tmp_path, ""))
    write_digest(store, watch, tmp_path / "team", now=NOW + timedelta(minutes=1))
    result = deliver(store, watch, tmp_path / "out", now=NOW + timedelta(minutes=2))
    text = next(path for path in result.written if path.suffix == ".txt").read_text(encoding="utf-8")
    assert "stale" not in text


def test_the_ops_address_hears_only_about_marketplaces_that_could_not_be_checked(
    inbox, tmp_path: Path, store: Store
) -> None:
    handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port, digest='ops = "ops@brandcrawl.example"'))
    deliver(store, watch, tmp_path, now=NOW)
    assert handler.to("ops@brandcrawl.example") == []  # nothing wrong: no message
    record_crawl(store, NOW, status="blocked", detail="challenge page on 8 of 8 pages", listings=0)
    deliver(store, watch, tmp_path, now=NOW + timedelta(hours=1))
    [alert] = handler.to("ops@brandcrawl.example")
    text = parts(alert)["text/plain"]
    assert "blocked" in text
    assert "challenge page on 8 of 8 pages" in text
    assert "@Gallimard" not in text


def test_one_recipients_failure_does_not_cost_the_others_their_digest(
    inbox, tmp_path: Path, store: Store, monkeypatch
) -> None:
    import brandcrawl.delivery as delivery

    _handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port))
    real_render = delivery.render_digest
    calls = iter([RuntimeError("template broke"), None])

    def render_failing_first(*args, **kwargs):
        if (error := next(calls, None)) is not None:
            raise error
        return real_render(*args, **kwargs)

    monkeypatch.setattr(delivery, "render_digest", render_failing_first)
    result = deliver(store, watch, tmp_path, now=NOW)
    assert result.failed == {"juridique@gallimard.example": "RuntimeError: template broke"}
    assert result.sent == ["veille@gallimard.example"]
    # The failed claim is released, not left "sending": the next run delivers at once.
    again = deliver(store, watch, tmp_path, now=NOW + timedelta(minutes=1))
    assert "juridique@gallimard.example" in again.sent


def test_the_ops_address_as_a_recipient_gets_no_false_alert(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    seed(store)
    record_crawl(store, NOW)
    watch = load_watch(smtp_watch(tmp_path, port, digest='ops = "veille@gallimard.example"'))
    deliver(store, watch, tmp_path, now=NOW + timedelta(minutes=1))
    [digest] = handler.to("veille@gallimard.example")
    assert "INCOMPLETE" not in digest["Subject"]


def test_different_messages_never_share_a_message_id(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    watch = load_watch(smtp_watch(tmp_path, port, digest='ops = "ops@brandcrawl.example"'))
    record_crawl(store, NOW, status="blocked", detail="challenge page", listings=0)
    deliver(store, watch, tmp_path, now=NOW)
    deliver(store, watch, tmp_path, now=NOW + timedelta(days=1))
    ids = [message["Message-ID"] for _, message in handler.messages]
    assert len(ids) == len(set(ids)) >= 4  # two quiet digests and two alerts per run


def message_ids(handler: Inbox, address: str) -> list[str]:
    return [message["Message-ID"] for message in handler.to(address)]


@pytest.mark.parametrize(
    ("second_run", "again", "messages"),
    [
        (timedelta(hours=2), False, 1),  # a second cron entry the same day: nothing more
        (timedelta(hours=16, minutes=30), False, 1),  # 23:30 in Paris: still the same day there
        (timedelta(hours=17, minutes=30), False, 2),  # 00:30 in Paris (not yet in UTC): the next day
        (timedelta(days=1), False, 2),
        (timedelta(hours=2), True, 2),  # --again: a second digest on purpose
    ],
)
def test_one_digest_a_day_unless_asked_again(
    inbox, tmp_path: Path, store: Store, second_run: timedelta, again: bool, messages: int
) -> None:
    handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port, digest='ops = "ops@brandcrawl.example"'))
    record_crawl(store, NOW, status="blocked", detail="challenge page", listings=0)
    deliver(store, watch, tmp_path, now=NOW)
    result = deliver(store, watch, tmp_path, now=NOW + second_run, again=again)
    for address in ("juridique@gallimard.example", "veille@gallimard.example", "ops@brandcrawl.example"):
        assert len(handler.to(address)) == messages, address
    if messages == 1:
        assert result.sent == []
        assert result.held["juridique@gallimard.example"] == "already delivered today (sent at 07:00)"
        assert set(result.held) == {
            "juridique@gallimard.example",
            "veille@gallimard.example",
            "ops@brandcrawl.example",
        }


def test_a_day_held_by_a_failed_or_empty_delivery_is_tried_again(inbox, tmp_path: Path, store: Store) -> None:
    handler, port = inbox
    watch = load_watch(smtp_watch(tmp_path, port, digest="send_quiet = false"))
    handler.refuse_next = 1
    first = deliver(store, watch, tmp_path, now=NOW)
    assert first.skipped  # nothing to say yet: released, not the day's digest
    assert first.failed == {}
    seed(store)
    failing = deliver(store, watch, tmp_path, now=NOW + timedelta(hours=1))
    assert len(failing.failed) == 1
    assert len(failing.sent) == 1
    retried = deliver(store, watch, tmp_path, now=NOW + timedelta(hours=2))
    assert retried.sent == list(failing.failed)
    assert len(handler.messages) == 2


def test_a_stale_claim_the_same_day_is_taken_over_with_the_same_message_id(
    inbox, tmp_path: Path, store: Store
) -> None:
    handler, port = inbox
    seed(store)
    watch = load_watch(smtp_watch(tmp_path, port))
    deliver(store, watch, tmp_path, now=NOW)
    [first] = message_ids(handler, "veille@gallimard.example")
    # The run crashed after the server accepted the message: its claim stays "sending", hits unmarked.
    with store.session() as session:
        crashed = session.scalars(
            select(Delivery.id).where(Delivery.recipient == "veille@gallimard.example")
        ).one()
        session.execute(update(Delivery).where(Delivery.id == crashed).values(status="sending"))
        session.execute(DeliveredHit.__table__.delete().where(DeliveredHit.delivery_id == crashed))
    early = deliver(store, watch, tmp_path, now=NOW + STALE_CLAIM - timedelta(minutes=1))
    assert early.held["veille@gallimard.example"] == "another digest run is delivering it"
    late = deliver(store, watch, tmp_path, now=NOW + STALE_CLAIM + timedelta(minutes=1))
    assert late.sent == ["veille@gallimard.example"]
    assert message_ids(handler, "veille@gallimard.example") == [first, first]
    with store.session() as session:
        statuses = session.execute(
            select(Delivery.status, Delivery.day).where(Delivery.recipient == "veille@gallimard.example")
        ).all()
    assert sorted(statuses) == [("abandoned", NOW.date()), ("sent", NOW.date())]


# What one of two racing processes runs: the recipients' part of `brandcrawl digest`. (The team digest
# before it is not raced here: on PostgreSQL the loser of that race fails its snapshot and stops.)
RACER = """
import sys
from brandcrawl.config import load_watch
from brandcrawl.delivery import deliver
from brandcrawl.storage import Store

store = Store(sys.argv[2])
result = deliver(store, load_watch(sys.argv[1]), sys.argv[3])
store.close()
for address in result.sent:
    print(f"sent {address}")
for address, reason in result.held.items():
    print(f"held {address}: {reason}")
"""


def test_two_processes_delivering_at_once_send_each_recipient_one_mail(
    inbox, tmp_path: Path, store: Store
) -> None:
    handler, port = inbox
    seed(store)
    watch = smtp_watch(tmp_path, port)
    outcomes = race(
        [[sys.executable, "-c", RACER, str(watch), store.url, str(tmp_path / f"out{n}")] for n in range(2)]
    )
    assert [status for _, _, status in outcomes] == [0, 0], outcomes
    said = sorted(line.split(":")[0] for out, _, _ in outcomes for line in out.splitlines())
    assert said == [
        "held juridique@gallimard.example",
        "held veille@gallimard.example",
        "sent juridique@gallimard.example",
        "sent veille@gallimard.example",
    ]
    assert len(handler.to("juridique@gallimard.example")) == 1
    assert len(handler.to("veille@gallimard.example")) == 1


def test_the_digest_command_says_who_had_todays_and_sends_again_on_request(
    inbox, tmp_path: Path, store: Store, capsys
) -> None:
    handler, port = inbox
    seed(store)
    arguments = [
        "digest",
        "--watch",
        str(smtp_watch(tmp_path, port)),
        "--db",
        store.url,
        "--out",
        str(tmp_path),
    ]
    held = "not sent to veille@gallimard.example: already delivered today (sent at "
    assert main(arguments) == 0
    capsys.readouterr()
    assert main([*arguments, "--dry-run"]) == 0
    assert held in capsys.readouterr().out
    assert main([*arguments, "--dry-run", "--again"]) == 0
    assert "would send to veille@gallimard.example" in capsys.readouterr().out
    assert main(arguments) == 0
    assert held in capsys.readouterr().out
    assert len(handler.to("veille@gallimard.example")) == 1
    assert main([*arguments, "--again"]) == 0
    assert "sent to veille@gallimard.example" in capsys.readouterr().out
    assert len(handler.to("veille@gallimard.example")) == 2
