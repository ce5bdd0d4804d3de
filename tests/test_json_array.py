"""The JSON array reader of the feed spiders: the items a streaming parser (ijson) reads, a run at a
time, whatever the items hold and wherever the reads cut them."""

from __future__ import annotations

import io
import json
import random
from decimal import Decimal
from typing import Any

import ijson
import msgspec
import pytest

from spiders import _json_array
from spiders._json_array import BrokenJSON, array_items

# Strings a cut between items could be fooled by.
TRICKY_TEXT = ["},{", '"},{"', "]}", '"data":[', "\\", "é😀", "} , {", "", "]"]


def random_item(rng: random.Random, depth: int = 0) -> Any:
    choice = rng.randrange(8 if depth < 2 else 5)
    if choice == 0:
        return rng.choice(TRICKY_TEXT) + rng.choice("abc")
    if choice == 1:
        return rng.randint(-(10**20), 10**20)
    if choice == 2:
        return Decimal(f"{rng.randint(0, 10**6)}.{rng.randint(0, 99):02d}")
    if choice == 3:
        return rng.choice([True, False, None])
    if choice == 4:
        return rng.choice(TRICKY_TEXT)
    if choice == 5:
        return [random_item(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {rng.choice(TRICKY_TEXT) + str(n): random_item(rng, depth + 1) for n in range(rng.randint(0, 4))}


def encoded(document: Any, rng: random.Random) -> bytes:
    default = lambda value: float(value) if isinstance(value, Decimal) else value  # noqa: E731
    if rng.random() < 0.5:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, default=default)
    else:
        text = json.dumps(document, indent=rng.choice([1, 2, 4]), default=default)
    return text.encode("utf-8")


def streamed(body: bytes, key: str | None) -> list[Any]:
    return list(array_items(io.BytesIO(body), key))


@pytest.fixture
def tiny_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """Reads of a few bytes, so that every way a read can cut an item is met on small documents."""
    monkeypatch.setattr(_json_array, "READ_SIZE", 5)
    monkeypatch.setattr(_json_array, "MAX_PENDING", 4096)


@pytest.mark.usefixtures("tiny_reads")
@pytest.mark.parametrize("seed", range(40))
def test_items_are_those_a_streaming_parser_reads(seed: int) -> None:
    rng = random.Random(seed)
    items = [random_item(rng) for _ in range(rng.randint(0, 30))]
    if rng.random() < 0.5:
        # Items shaped as GoDaddy's: objects, strings that look like the gap between two of them.
        items = [{"domainName": rng.choice(TRICKY_TEXT) + f"{n}.COM", "bids": n} for n in range(30)]
    layouts: list[tuple[Any, str | None, str]] = [
        (items, None, "item"),
        ({"meta": {"data": [{"x": 1}], "note": '"data":['}, "data": items}, "data", "data.item"),
        ({"data": items, "nextPage": [1, {"a": "]}"}], "success": True}, "data", "data.item"),
    ]
    for document, key, prefix in layouts:
        body = encoded(document, rng)
        assert streamed(body, key) == list(ijson.items(io.BytesIO(body), prefix)), body[:300]


def test_a_file_of_many_reads_gives_every_item() -> None:
    link = "https://x/?a={b},{c}"
    items = [{"domainName": f"NAME{n}.COM", "link": link, "price": "$1"} for n in range(50_000)]
    body = json.dumps({"meta": {}, "data": items}).encode()
    assert streamed(body, "data") == items


@pytest.mark.parametrize(
    ("body", "key", "items"),
    [
        (b'{"data":[]}', "data", []),
        (b"[]", None, []),
        (b' \n[ {"a": 1.5} ]\n', None, [{"a": Decimal("1.5")}]),
        (b'{"meta":{},"items":[1,2]}', "data", []),  # no such array: nothing, as ijson says
        (b'{"data":{"a":1}}', "data", []),
        (b'[{"data":[1]}]', "data", []),
    ],
)
def test_documents_without_the_usual_layout(body: bytes, key: str | None, items: list[Any]) -> None:
    assert streamed(body, key) == items


@pytest.mark.usefixtures("tiny_reads")
@pytest.mark.parametrize(
    "body",
    [
        b'{"data":[{"a":1},{"a":2},{"a":',  # truncated
        b'{"data":[{"a":1},{"a":2}]',  # the document not closed
        b'{"data":[{"a":1},{"a":2}]} trailing',
        b'{"data":[{"a":1},{"a":tru},{"a":3}]}',
        b"<html><body>Service unavailable</body></html>",
        b'{"data":[{"a":"unterminated},{"a":2}]}',
    ],
    ids=["truncated", "unclosed", "trailing", "bad-literal", "html", "unterminated-string"],
)
def test_a_broken_document_raises(body: bytes) -> None:
    with pytest.raises(BrokenJSON):
        streamed(body, "data")


def test_bytes_that_never_decode_are_not_held_past_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_json_array, "MAX_PENDING", 64 << 10)
    monkeypatch.setattr(_json_array, "READ_SIZE", 16 << 10)
    garbage = b'{"data":[' + b'{"a":tru},' * 100_000 + b'{"a":1}]}'
    read: list[int] = []

    class Counted(io.BytesIO):
        def read(self, size: int | None = -1) -> bytes:
            data = super().read(size)
            read.append(len(data))
            return data

    with pytest.raises(BrokenJSON, match="no readable run of items"):
        list(array_items(Counted(garbage), "data"))
    assert sum(read) <= (64 << 10) + 2 * (16 << 10)


def test_items_read_before_a_break_in_the_file_are_given() -> None:
    good = [{"n": n} for n in range(200_000)]
    body = json.dumps({"data": good}).encode()[:-1000]
    items: list[Any] = []
    with pytest.raises(BrokenJSON):
        items.extend(array_items(io.BytesIO(body), "data"))
    assert 0 < len(items) < len(good)
    assert items == good[: len(items)]


class Named(msgspec.Struct, rename="camel"):
    domain_name: Any = None
    price: Any = None


@pytest.mark.usefixtures("tiny_reads")
def test_objects_come_as_the_item_type_and_other_items_as_they_are() -> None:
    items = [{"domainName": "A.COM", "price": 1.5, "skipped": [{"a": 1}]}, "junk", {"price": "$2"}, 7, {}]
    body = json.dumps({"meta": {}, "data": items}).encode()
    expected = [Named("A.COM", Decimal("1.5")), "junk", Named(None, "$2"), 7, Named()]
    assert list(array_items(io.BytesIO(body), "data", Named)) == expected
    # A key written with an escape is not found by its bytes: the short document is read whole.
    escaped = b'{"d\\u0061ta": ' + json.dumps(items[:2]).encode() + b"}"
    assert list(array_items(io.BytesIO(escaped), "data", Named)) == expected[:2]
