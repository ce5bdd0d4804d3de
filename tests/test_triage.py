"""Triage on a real database: hits marked with their audit trail, false positives suppressing their
asset on every marketplace (or their seller), suppressions listed, removed and expiring, takedowns
resolved by the digest, and `brandcrawl hits list`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from brandcrawl.cli import main
from brandcrawl.config import load_watch
from brandcrawl.digest import collect
from brandcrawl.items import Listing
from brandcrawl.storage import Store
from brandcrawl.storage.models import Hit, ListingRow, Suppression, TriageAction
from brandcrawl.triage import TriageError, actor, handle_target, mark, parse_state, suppress
from tests.conftest import gallimard_listing, rows


def listing(listing_id: str, seen_at: datetime, **changes: Any) -> Listing:
    return gallimard_listing(listing_id, seen_at, **changes)


def domain(listing_id: str, seen_at: datetime, marketplace: str = "ebay", **changes: Any) -> Listing:
    values: dict[str, Any] = {
        "title": "gallimard-shop.net premium domain",
        "asset_kind": "domain",
        "asset": "gallimard-shop.net",
        "marketplace": marketplace,
        "url": f"https://{marketplace}.example/{listing_id}",
        **changes,
    }
    return gallimard_listing(listing_id, seen_at, **values)


def folio_match() -> dict[str, Any]:
    return {"brand": "Folio", "rule": "contains", "matched": "folio", "score": 0.7, "explanation": "x"}


def hit_id(store: Store, marketplace: str, listing_id: str, brand: str = "Gallimard") -> int:
    with store.session() as session:
        return session.scalars(
            select(Hit.id)
            .join(ListingRow, Hit.listing_pk == ListingRow.id)
            .where(
                ListingRow.marketplace == marketplace, ListingRow.listing_id == listing_id, Hit.brand == brand
            )
        ).one()


def shown(store: Store, watch_path: Path, now: datetime) -> list[tuple[str, str, str]]:
    """(brand, marketplace, listing url) of every listing a digest at ``now`` would show as new, on
    its own or under another listing of its asset ("also on")."""
    with store.session() as session:
        report = collect(session, load_watch(watch_path), now)
    entries = [
        (section.brand, hit) for section in report.sections for hit in (*section.relisted, *section.new_hits)
    ]
    return sorted(
        [(brand, hit.marketplace, hit.url) for brand, hit in entries]
        + [(brand, other.marketplace, other.url) for brand, hit in entries for other in hit.also_listed]
    )


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- states and their audit trail -------------------------------------------------------------------


def test_marking_records_each_change_with_time_actor_and_note(store: Store, db_url: str, capsys) -> None:
    before = datetime.now(UTC)
    store.save_listings([listing("1", before), listing("2", before)], before)
    first, second = hit_id(store, "ebay", "1"), hit_id(store, "ebay", "2")

    code, out, err = run(
        capsys, "hits", "mark", str(first), str(second), "--state", "reviewed",
        "--note", "seen", "--by", "alice", "--db", db_url,
    )  # fmt: skip
    assert (code, err) == (0, "")
    assert out.splitlines() == [f"hit {first}: new -> reviewed", f"hit {second}: new -> reviewed"]
    assert (
        run(capsys, "hits", "mark", str(first), "--state", "actioned", "--by", "bob", "--db", db_url)[0] == 0
    )

    states = {hit.id: (hit.state, hit.state_changed_at) for hit in rows(db_url, Hit)}
    assert states[first][0] == "actioned"
    assert states[second][0] == "reviewed"
    assert all(before <= changed <= datetime.now(UTC) for _, changed in states.values())
    trail = sorted(
        (a.hit_id, a.actor, a.old_state, a.new_state, a.note, a.id) for a in rows(db_url, TriageAction)
    )
    assert [entry[:5] for entry in trail] == [
        (first, "alice", "new", "reviewed", "seen"),
        (first, "bob", "reviewed", "actioned", None),
        (second, "alice", "new", "reviewed", "seen"),
    ]
    code, out, _ = run(capsys, "hits", "history", str(first), "--db", db_url)
    assert code == 0
    assert [line.split()[3:] for line in out.splitlines()[1:]] == [
        ["alice", "new", "->", "reviewed", "seen"],
        ["bob", "reviewed", "->", "actioned"],
    ]


@pytest.mark.parametrize(
    ("given", "environ", "expected"),
    [
        ("alice", {"BRANDCRAWL_ACTOR": "bob"}, "alice"),
        (None, {"BRANDCRAWL_ACTOR": "bob"}, "bob"),
        ("  ", {"BRANDCRAWL_ACTOR": " bob "}, "bob"),
        (None, {}, "login"),
    ],
)
def test_the_actor_is_by_else_the_environment_else_the_login_name(
    monkeypatch: pytest.MonkeyPatch, given: str | None, environ: dict[str, str], expected: str
) -> None:
    monkeypatch.setattr("getpass.getuser", lambda: "login")
    assert actor(given, environ) == expected


@pytest.mark.parametrize(
    ("typed", "state"),
    [
        ("false-positive", "false_positive"),
        ("False_Positive", "false_positive"),
        ("false positive", "false_positive"),
        ("ACTIONED", "actioned"),
        ("resolved", "resolved"),
        ("new", "new"),
    ],
)
def test_state_names_as_typed(typed: str, state: str) -> None:
    assert parse_state(typed) == state


def test_an_unknown_id_changes_nothing(store: Store, db_url: str, capsys) -> None:
    now = datetime.now(UTC)
    store.save_listings([listing("1", now)], now)
    known = hit_id(store, "ebay", "1")
    code, out, err = run(
        capsys, "hits", "mark", str(known), "999999", "--state", "false-positive", "--db", db_url
    )
    assert (code, out) == (2, "")
    assert err == "brandcrawl: no hit 999999: nothing changed\n"
    assert [hit.state for hit in rows(db_url, Hit)] == ["new"]
    assert rows(db_url, TriageAction) == []
    assert rows(db_url, Suppression) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--state", "bogus"], "--state: unknown state 'bogus'"),
        (["--state", "reviewed", "--seller"], "--until and --seller go with --state false_positive"),
        (
            ["--state", "actioned", "--until", "2999-01-01"],
            "--until and --seller go with --state false_positive",
        ),
        (
            ["--state", "false_positive", "--until", "2001-01-01"],
            "--until 2001-01-01 00:00 UTC is not in the future",
        ),
        (["--state", "false_positive", "--until", "next week"], "--until: 'next week' is not an ISO date"),
    ],
)
def test_a_bad_mark_is_one_line_and_changes_nothing(
    store: Store, db_url: str, capsys, arguments: list[str], message: str
) -> None:
    now = datetime.now(UTC)
    store.save_listings([listing("1", now)], now)
    code, out, err = run(capsys, "hits", "mark", str(hit_id(store, "ebay", "1")), *arguments, "--db", db_url)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err
    assert [hit.state for hit in rows(db_url, Hit)] == ["new"]
    assert rows(db_url, TriageAction) == []


@pytest.mark.parametrize("written", ["²", "99999999999999999999999", "12x"])
@pytest.mark.parametrize(
    "command",
    [
        ["hits", "mark", "{id}", "--state", "reviewed"],
        ["hits", "history", "{id}"],
        ["suppress", "remove", "{id}"],
    ],
)
def test_an_id_no_database_holds_is_one_line(
    store: Store, db_url: str, capsys, command: list[str], written: str
) -> None:
    now = datetime.now(UTC)
    store.save_listings([listing("1", now)], now)
    code, out, err = run(capsys, *[part.format(id=written) for part in command], "--db", db_url)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1, err
    assert repr(written) in err
    assert rows(db_url, TriageAction) == []


def test_a_mark_with_a_seller_the_listing_does_not_name_changes_nothing(
    store: Store, db_url: str, capsys
) -> None:
    now = datetime.now(UTC)
    store.save_listings([listing("1", now), listing("2", now, seller=None)], now)
    ids = [str(hit_id(store, "ebay", "1")), str(hit_id(store, "ebay", "2"))]
    code, _, err = run(capsys, "hits", "mark", *ids, "--state", "false_positive", "--seller", "--db", db_url)
    assert code == 2
    assert f"the listing of hit {ids[1]} names no seller" in err
    assert rows(db_url, Suppression) == []
    assert {hit.state for hit in rows(db_url, Hit)} == {"new"}


# -- suppressions ----------------------------------------------------------------------------------


def test_a_false_positive_suppresses_its_asset_on_every_marketplace_for_its_brand(
    store: Store, db_url: str, watch_path: Path, capsys
) -> None:
    now = datetime.now(UTC)
    store.save_listings([domain("1", now)], now)
    code, out, _ = run(
        capsys, "hits", "mark", str(hit_id(store, "ebay", "1")), "--state", "false-positive",
        "--note", "our own shop", "--by", "alice", "--db", db_url,
    )  # fmt: skip
    assert code == 0
    assert "suppressed: domain gallimard-shop.net on every marketplace for Gallimard" in out

    later = now + timedelta(minutes=1)
    elsewhere = domain("gallimard-shop.net", later, "sedo")
    elsewhere.matches.append(folio_match())  # the same domain also carries another watched brand
    store.save_listings([elsewhere, listing("2", later)], later)

    assert shown(store, watch_path, later) == [
        ("Folio", "ebay", "https://ebay.example/1"),  # also on ebay: a false positive for Gallimard only
        ("Folio", "sedo", "https://sedo.example/gallimard-shop.net"),
        ("Gallimard", "ebay", "https://www.ebay.fr/itm/2"),
    ]
    (suppression,) = rows(db_url, Suppression)
    assert (suppression.kind, suppression.value, suppression.asset_kind, suppression.brand) == (
        "asset",
        "gallimard-shop.net",
        "domain",
        "Gallimard",
    )
    assert (suppression.created_by, suppression.note, suppression.until) == ("alice", "our own shop", None)


def test_a_suppression_until_a_date_expires(store: Store, watch_path: Path) -> None:
    now = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
    store.save_listings([domain("1", now)], now)
    with store.session() as session:
        mark(
            session,
            [hit_id(store, "ebay", "1")],
            "false_positive",
            by="alice",
            now=now,
            until=now + timedelta(days=7),
        )
    store.save_listings([domain("2", now, "godaddy")], now)

    assert shown(store, watch_path, now + timedelta(days=6)) == []
    assert shown(store, watch_path, now + timedelta(days=7)) == [
        ("Gallimard", "godaddy", "https://godaddy.example/2")
    ], "from its end on, the asset is watched again (the false positive itself stays out)"


def test_a_seller_suppression_covers_that_seller_on_that_marketplace_only(
    store: Store, db_url: str, watch_path: Path, capsys
) -> None:
    now = datetime.now(UTC)
    store.save_listings([listing("1", now, seller="Reseller_Officiel")], now)
    code, out, _ = run(
        capsys,
        "hits",
        "mark",
        str(hit_id(store, "ebay", "1")),
        "--state",
        "false_positive",
        "--seller",
        "--db",
        db_url,
    )
    assert code == 0
    assert "suppressed: seller Reseller_Officiel on ebay for Gallimard" in out
    later = now + timedelta(minutes=1)
    store.save_listings(
        [
            listing("2", later, seller="reseller_officiel", asset="x:gallimard_fr"),  # any case
            listing("3", later, seller="someone_else", asset="x:gallimard_fr"),
            listing(
                "4", later, marketplace="swapd", seller="Reseller_Officiel", url="https://swapd.example/4"
            ),
        ],
        later,
    )
    assert shown(store, watch_path, later) == [
        ("Gallimard", "ebay", "https://www.ebay.fr/itm/3"),
        ("Gallimard", "swapd", "https://swapd.example/4"),
    ]


def test_a_title_only_false_positive_has_nothing_more_to_suppress(
    store: Store, db_url: str, watch_path: Path, capsys
) -> None:
    now = datetime.now(UTC)
    store.save_listings(
        [listing("1", now, title="Lot livres Gallimard NRF", asset_kind="other", asset=None)], now
    )
    code, out, _ = run(
        capsys, "hits", "mark", str(hit_id(store, "ebay", "1")), "--state", "false_positive", "--db", db_url
    )
    assert code == 0
    assert "its listing sells no domain or handle: nothing to suppress beyond the hit itself" in out
    assert rows(db_url, Suppression) == []
    assert shown(store, watch_path, now) == []


def test_suppress_add_before_any_hit_then_list_and_remove(
    watch_path: Path, db_url: str, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRANDCRAWL_ACTOR", "alice")
    code, out, err = run(
        capsys, "suppress", "add", "--domain", "WWW.Gallimard-Shop.NET", "--brand", "gallimard",
        "--note", "our reseller", "--db", db_url,
    )  # fmt: skip
    assert code == 0
    assert "no hit is stored for the brand 'gallimard' (stored: none yet): check that it is spelt" in err
    (made,) = rows(db_url, Suppression)
    assert (made.value, made.asset_kind, made.brand, made.created_by) == (
        "gallimard-shop.net",
        "domain",
        "gallimard",
        "alice",
    )
    assert out == f"suppression {made.id}: domain gallimard-shop.net on every marketplace for gallimard\n"
    again = run(
        capsys, "suppress", "add", "--domain", "gallimard-shop.net", "--brand", "Gallimard", "--db", db_url
    )
    assert again[1].startswith(f"already suppressed by suppression {made.id}: ")
    assert len(rows(db_url, Suppression)) == 1

    store = Store(db_url)
    try:
        now = datetime.now(UTC)
        store.save_listings([domain("1", now), domain("2", now, "sedo", asset="gallimard-shop.fr")], now)
        assert shown(store, watch_path, now) == [("Gallimard", "sedo", "https://sedo.example/2")]

        code, out, _ = run(capsys, "suppress", "list", "--db", db_url)
        header, *lines = out.splitlines()
        assert header.split() == ["ID", "WHAT", "BRAND", "UNTIL", "UTC", "BY", "SINCE", "UTC", "NOTE"]
        assert [line.split()[:5] for line in lines] == [
            [str(made.id), "domain", "gallimard-shop.net", "gallimard", "-"]
        ]
        assert lines[0].rstrip().endswith("our reseller")

        code, out, _ = run(
            capsys,
            "suppress",
            "remove",
            str(made.id),
            "--note",
            "contract ended",
            "--by",
            "bob",
            "--db",
            db_url,
        )
        assert out == f"suppression {made.id} removed: {again[1].split(': ', 1)[1]}"
        assert len(shown(store, watch_path, now)) == 2
    finally:
        store.close()
    assert run(capsys, "suppress", "list", "--db", db_url)[1] == "no suppression in force\n"
    (kept,) = json.loads(run(capsys, "suppress", "list", "--all", "--json", "--db", db_url)[1])
    assert (kept["status"], kept["created_by"], kept["removed_by"], kept["note"]) == (
        "removed",
        "alice",
        "bob",
        "our reseller\nremoved: contract ended",
    )
    code, out, _ = run(capsys, "suppress", "list", "--all", "--db", db_url)
    assert f"{made.id}   removed " in out
    assert " by bob " in out
    code, out, _ = run(capsys, "suppress", "remove", str(made.id), "--db", db_url)
    assert (code, out.split(" UTC ")[-1]) == (0, "by bob\n")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--domain", "nope"], "'nope' is not a domain name"),
        (["--domain", "galli mard.fr"], "'galli mard.fr' is not a domain name"),
        (["--domain", "\u202egallimard.fr"], "is not a domain name"),
        (["--domain", "https://gallimard.fr/"], "is not a domain name"),
        (["--handle", "gallimard"], "'gallimard' is not a handle"),
        (["--seller", "bob"], "--seller needs --marketplace"),
        (["--domain", "gallimard.shop", "--marketplace", "ebay"], "--marketplace goes with --seller"),
        (["--domain", "gallimard.shop", "--until", "2001-02-03"], "--until 2001-02-03 is not in the future"),
        (["--domain", "gallimard.shop", "--brand", " "], "--brand: give a brand's name"),
    ],
)
def test_a_bad_suppression_is_one_line(tmp_path: Path, capsys, arguments: list[str], message: str) -> None:
    database = tmp_path / "never.db"
    code, out, err = run(capsys, "suppress", "add", *arguments, "--db", f"sqlite:///{database}")
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err
    assert not database.exists()


@pytest.mark.parametrize(
    ("written", "stored"),
    [
        ("x:@Gallimard", "x:gallimard"),
        ("twitter:gallimard", "x:gallimard"),
        ("IG:gallimard_shop", "instagram:gallimard_shop"),
        ("https://www.instagram.com/Gallimard_Shop", "instagram:gallimard_shop"),
        ("@Gallimard", "@gallimard"),
    ],
)
def test_handles_are_suppressed_as_listings_store_them(written: str, stored: str) -> None:
    assert handle_target(written).value == stored


def test_suppress_remove_with_an_unknown_id_removes_nothing(store: Store, db_url: str, capsys) -> None:
    now = datetime.now(UTC)
    with store.session() as session:
        made, _ = suppress(session, handle_target("x:gallimard"), brand=None, by="alice", now=now)
        made_id = made.id
    code, _, err = run(capsys, "suppress", "remove", str(made_id), "424242", "--db", db_url)
    assert (code, err) == (2, "brandcrawl: no suppression 424242: nothing changed\n")
    assert [row.removed_at for row in rows(db_url, Suppression)] == [None]


def test_a_hit_no_longer_false_positive_lifts_its_suppression(
    store: Store, db_url: str, watch_path: Path, capsys
) -> None:
    now = datetime.now(UTC)
    store.save_listings([domain("1", now)], now)
    hit = str(hit_id(store, "ebay", "1"))
    run(capsys, "hits", "mark", hit, "--state", "false_positive", "--db", db_url)
    _, out, _ = run(
        capsys, "hits", "mark", hit, "--state", "reviewed", "--note", "it is not ours", "--db", db_url
    )
    (suppression,) = rows(db_url, Suppression)
    assert out == f"hit {hit}: false_positive -> reviewed; suppression {suppression.id} lifted\n"
    assert suppression.removed_at is not None
    assert suppression.note == f"removed: hit {hit} marked reviewed (it is not ours)", (
        "why, in the audit trail"
    )
    later = now + timedelta(minutes=1)
    store.save_listings([domain("2", later, "sedo")], later)
    assert ("Gallimard", "sedo", "https://sedo.example/2") in shown(store, watch_path, later)


def test_a_suppression_must_end_in_the_future(store: Store) -> None:
    now = datetime.now(UTC)
    store.save_listings([domain("1", now)], now)
    with pytest.raises(TriageError, match="not in the future"), store.session() as session:
        mark(session, [hit_id(store, "ebay", "1")], "false_positive", by="a", now=now, until=now)


# -- takedowns resolved by the digest ----------------------------------------------------------------


def test_an_actioned_hit_whose_listing_went_is_resolved_before_the_digest(
    store: Store, db_url: str, watch_path: Path, tmp_path: Path, capsys
) -> None:
    now = datetime.now(UTC)
    store.save_listings([listing("1", now), listing("2", now)], now)
    gone, still_on_sale = hit_id(store, "ebay", "1"), hit_id(store, "ebay", "2")
    run(
        capsys,
        "hits",
        "mark",
        str(gone),
        str(still_on_sale),
        "--state",
        "actioned",
        "--by",
        "alice",
        "--db",
        db_url,
    )
    store.save_listings([listing("1", now, status="gone"), listing("2", now)], now)

    code, _, err = run(
        capsys, "digest", "--watch", str(watch_path), "--db", db_url, "--out", str(tmp_path / "out")
    )
    assert code == 0, err
    states = {hit.id: hit.state for hit in rows(db_url, Hit)}
    assert states == {gone: "resolved", still_on_sale: "actioned"}
    last = max(rows(db_url, TriageAction), key=lambda action: action.id)
    assert (last.hit_id, last.actor, last.old_state, last.new_state, last.note) == (
        gone,
        "brandcrawl",
        "actioned",
        "resolved",
        "listing gone",
    )


# -- hits list -------------------------------------------------------------------------------------


@pytest.fixture
def listed(store: Store, db_url: str) -> dict[str, int]:
    """Four hits: two brands, two marketplaces, first seen on two days, one false positive."""
    day = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
    folio = listing("3", day + timedelta(days=2), title="@folio_officiel", asset="x:folio_officiel")
    folio.matches = [folio_match()]
    store.save_listings([listing("1", day), domain("2", day, "sedo")], day)
    store.save_listings([folio, listing("4", day + timedelta(days=2))], day + timedelta(days=2))
    ids = {
        "old ebay": hit_id(store, "ebay", "1"),
        "old sedo": hit_id(store, "sedo", "2"),
        "folio": hit_id(store, "ebay", "3", "Folio"),
        "new ebay": hit_id(store, "ebay", "4"),
    }
    with store.session() as session:
        mark(session, [ids["old sedo"]], "false_positive", by="alice", now=day + timedelta(days=3))
    return ids


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([], ["new ebay", "folio", "old sedo", "old ebay"]),
        (["--brand", "folio"], ["folio"]),
        (["--brand", "Folio", "--brand", "GALLIMARD"], ["new ebay", "folio", "old sedo", "old ebay"]),
        (["--marketplace", "sedo"], ["old sedo"]),
        (["--state", "false-positive"], ["old sedo"]),
        (["--state", "new", "--marketplace", "ebay"], ["new ebay", "folio", "old ebay"]),
        (["--since", "2026-11-21"], ["new ebay", "folio"]),
        (["--since", "2026-11-22T09:00:00+00:00"], ["new ebay", "folio"]),
        (["--since", "2026-11-22T10:30+01:00"], []),
        (["--limit", "2"], ["new ebay", "folio"]),
        (["--limit", "99999999999999999999"], ["new ebay", "folio", "old sedo", "old ebay"]),
    ],
)
def test_hits_list_filters(
    listed: dict[str, int], db_url: str, capsys, filters: list[str], expected: list[str]
) -> None:
    code, out, _ = run(capsys, "hits", "list", "--json", *filters, "--db", db_url)
    assert code == 0
    names = {hit_id: name for name, hit_id in listed.items()}
    assert [names[row["hit_id"]] for row in json.loads(out)] == expected


def test_a_brand_filter_takes_every_stored_spelling_of_the_brand(store: Store, db_url: str, capsys) -> None:
    now = datetime.now(UTC)
    renamed = listing("2", now)  # stored before the watch file wrote the brand in capitals
    renamed.matches = [{**renamed.matches[0], "brand": "GALLIMARD"}]
    store.save_listings([listing("1", now), renamed], now)
    code, out, err = run(capsys, "hits", "list", "--json", "--brand", "gallimard", "--db", db_url)
    assert (code, err) == (0, "")
    assert sorted(row["brand"] for row in json.loads(out)) == ["GALLIMARD", "Gallimard"]


def test_hits_list_is_an_aligned_table_with_suppressed_hits_marked(
    listed: dict[str, int], db_url: str, capsys
) -> None:
    code, out, _ = run(capsys, "hits", "list", "--db", db_url)
    assert code == 0
    header, *lines = out.splitlines()
    assert header.split() == [
        "ID", "STATE", "BRAND", "MARKETPLACE", "FOR", "SALE", "(OR", "TITLE)", "PRICE", "LISTING",
        "FIRST", "SEEN", "UTC",
    ]  # fmt: skip
    columns = [header.index(name) for name in ("STATE", "BRAND", "MARKETPLACE", "PRICE", "FIRST SEEN UTC")]
    for line in lines:
        assert all(line[column - 2 : column] == "  " for column in columns), line
    by_id = {int(line.split()[0]): line for line in lines}
    assert "false_positive" in by_id[listed["old sedo"]]
    assert "gallimard-shop.net" in by_id[listed["old sedo"]]
    assert "100.00 EUR" in by_id[listed["old ebay"]]
    assert "2026-11-20 09:00" in by_id[listed["old ebay"]]
    assert "x:folio_officiel" in by_id[listed["folio"]]


def test_hits_list_blanks_control_characters_and_says_when_nothing_matches(
    store: Store, db_url: str, capsys
) -> None:
    now = datetime.now(UTC)
    store.save_listings(
        [listing("1", now, title="Gallimard\r\n\x1b[31mred\u202e", asset=None, asset_kind="other")], now
    )
    out = run(capsys, "hits", "list", "--db", db_url)[1]
    assert "\x1b" not in out
    assert "\u202e" not in out
    assert len(out.splitlines()) == 2
    code, out, err = run(capsys, "hits", "list", "--brand", "Galimard", "--db", db_url)
    assert (code, out) == (0, "no hit matches\n")
    assert "no hit is stored for the brand 'Galimard' (stored: Gallimard)" in err


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--since", "yesterday"], "--since: 'yesterday' is not an ISO date"),
        (["--limit", "0"], "--limit takes a positive number"),
        (["--state", "closed"], "--state: unknown state 'closed'"),
        (["--since", "9999-12-31T23:00-02:00"], "--since: '9999-12-31T23:00-02:00' is not an ISO date"),
    ],
)
def test_bad_filters_are_one_line(
    listed: dict[str, int], db_url: str, capsys, arguments: list[str], message: str
) -> None:
    code, out, err = run(capsys, "hits", "list", *arguments, "--db", db_url)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert message in err


@pytest.mark.parametrize(
    "command",
    [["hits", "list"], ["hits", "list", "--json"], ["suppress", "list", "--json"], ["export"]],
)
def test_a_reader_that_stops_early_ends_the_output_quietly(
    store: Store, db_url: str, tmp_path: Path, command: list[str]
) -> None:
    now = datetime.now(UTC)
    many = 1500  # more output than a pipe holds: the command is still writing when the reader goes
    store.save_listings([listing(str(n), now, asset=f"x:gallimard{n}") for n in range(many)], now)
    with store.session() as session:
        for n in range(many):
            suppress(session, handle_target(f"x:gallimard{n}"), brand=None, by="alice", now=now)
    with subprocess.Popen(
        [sys.executable, "-m", "brandcrawl.cli", *command, "--db", db_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    ) as reader:  # `brandcrawl hits list | head -1`
        assert reader.stdout is not None
        assert reader.stderr is not None
        assert reader.stdout.readline()
        reader.stdout.close()
        error = reader.stderr.read().decode()
        assert (reader.wait(), error) == (0, "")


def test_a_mistyped_database_path_is_an_error_not_a_new_file(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "typo.db"
    for command in (
        ["hits", "list"],
        ["hits", "mark", "1", "--state", "reviewed"],
        ["suppress", "list"],
        ["export"],
    ):
        code, _, err = run(capsys, *command, "--db", f"sqlite:///{missing}")
        assert code == 2
        assert err == f"brandcrawl: no database at {missing} (give --db, or set $BRANDCRAWL_DB_URL)\n"
    assert not missing.exists()
