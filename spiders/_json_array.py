"""The items of a big JSON array, read as a stream at C speed.

A feed's JSON is one document holding an array of a million small items (GoDaddy's ``{"meta": …,
"data": [item, …]}``). Parsing it event by event in a streaming parser costs three times what
inflating and decoding it in runs does, so the bytes are read a megabyte at a time, cut between two
items (``}``, a comma, ``{``) and each run of items is decoded whole by msgspec, numbers as Decimal:
as they are, or into a msgspec Struct naming the fields a spider reads (the others are skipped
while decoding, a quarter of the time).

A cut is only trusted once its run decodes: a cut inside a string or inside a nested value leaves
an unterminated string or an unclosed bracket, which does not decode, so the run is kept and grows
until a later cut does. Bytes that never decode are a broken file, raised as ``BrokenJSON`` once
more of them than any real run of items is held.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from functools import cache
from typing import Any, BinaryIO

import msgspec

READ_SIZE = 1 << 20
# Bytes held without a cut that decodes, or before the array is found: a real item is well under a
# kilobyte, so this much without one is a broken or foreign file, never held whole in memory.
MAX_PENDING = 16 << 20
ITEM_GAP = re.compile(rb"\}\s*,\s*\{")
# What may follow the array's end: the document's remaining keys (Park.io's paging) are short.
MAX_TAIL = 64 << 10
TOP_LEVEL_ARRAY = re.compile(rb"\A\s*\[")

DECODER = msgspec.json.Decoder(float_hook=Decimal)


class BrokenJSON(ValueError):
    """The document is not JSON, or not the array it should hold."""


def array_items(stream: BinaryIO, key: str | None = None, item_type: type | None = None) -> Iterator[Any]:
    """The items of the array at ``key`` of the top-level object (None: the top-level array), as
    they are read; each object as ``item_type`` where given (a msgspec Struct), any other item as it
    is. A document without that array yields nothing, as a streaming parser would."""
    opener = TOP_LEVEL_ARRAY if key is None else re.compile(rb'"' + re.escape(key.encode()) + rb'"\s*:\s*\[')
    # What closes the document's opening once the array is closed: the check that a found opener
    # is the document's own, not text inside a string or a nested object.
    closing = b"]" if key is None else b"]}"
    pending, start = _find_array(stream, opener, closing)
    if start is None:
        yield from _whole_document_items(pending, key, item_type)
        return
    pending = pending[start:]
    while more := stream.read(READ_SIZE):
        pending += more
        cut = _last_gap(pending)
        items = _decoded(pending[:cut], item_type) if cut is not None else None
        if items is not None:
            yield from items
            pending = pending[cut:].lstrip()[1:]  # past the comma
        elif len(pending) > MAX_PENDING:
            why = f": {_error(pending[:cut])}" if cut is not None else ", nor any end of an item"
            raise BrokenJSON(f"no readable run of items in {len(pending):,} bytes{why}")
    yield from _last_items(pending, key is None, item_type)


def _find_array(stream: BinaryIO, opener: re.Pattern[bytes], closing: bytes) -> tuple[bytes, int | None]:
    """The bytes read so far, and where the array's first item starts in them (None: not found)."""
    head = b""
    while len(head) <= MAX_PENDING:
        more = stream.read(READ_SIZE)
        head += more
        for found in opener.finditer(head):
            if _decodes(head[: found.end()] + closing):
                return head, found.end()
        if not more:
            return head, None
    raise BrokenJSON(f"the array is not in the first {MAX_PENDING:,} bytes")


def _whole_document_items(document: bytes, key: str | None, item_type: type | None) -> Iterator[Any]:
    """A short document without the array where it is looked for: read whole."""
    try:
        value = DECODER.decode(document)
    except msgspec.DecodeError as error:
        raise BrokenJSON(str(error)) from error
    if key is not None:
        value = value.get(key) if isinstance(value, dict) else None
    if isinstance(value, list):
        yield from _as_items(value, item_type)


def _last_gap(pending: bytes) -> int | None:
    """Where the last item that ends in ``pending`` ends (just past its ``}``), if another follows."""
    end = len(pending)
    while (brace := pending.rfind(b"}", 0, end)) >= 0:
        if ITEM_GAP.match(pending, brace):
            return brace + 1
        end = brace
    return None


def _last_items(pending: bytes, top_level: bool, item_type: type | None) -> list[Any]:
    """The items of the file's last run: up to the ``]`` closing the array, after which only the
    document's end (top-level array) or its remaining keys and ``}`` may follow. A ``]`` of those
    keys' values leaves items that do not decode, so only the array's own one passes both checks."""
    end = len(pending)
    while (bracket := pending.rfind(b"]", max(0, len(pending) - MAX_TAIL), end)) >= 0:
        rest = pending[bracket + 1 :]
        tail_fits = (rest.strip() == b"") if top_level else _decodes(b'{"":0' + rest)
        if tail_fits and (items := _decoded(pending[:bracket], item_type)) is not None:
            return items
        end = bracket
    raise BrokenJSON("the array does not end as JSON (a truncated file?)")


def _decoded(items: bytes, item_type: type | None) -> list[Any] | None:
    """A run of items as a list, or None if it does not decode."""
    run = b"[" + items + b"]"
    try:
        return (DECODER if item_type is None else _decoder_of(item_type)).decode(run)
    except msgspec.ValidationError:
        return _as_items(DECODER.decode(run), item_type)  # an item that is no object
    except msgspec.DecodeError:
        return None


@cache
def _decoder_of(item_type: type) -> msgspec.json.Decoder:
    return msgspec.json.Decoder(list[item_type], float_hook=Decimal)  # type: ignore[valid-type]


def _as_items(values: list[Any], item_type: type | None) -> list[Any]:
    """Decoded values as items: each object as ``item_type``, any other value as it is (the spider
    counts it as a malformed row)."""
    if item_type is None:
        return values
    return [msgspec.convert(value, item_type) if isinstance(value, dict) else value for value in values]


def _decodes(document: bytes) -> bool:
    try:
        DECODER.decode(document)
    except msgspec.DecodeError:
        return False
    return True


def _error(items: bytes) -> str:
    """Why a run that does not decode does not, in msgspec's words."""
    try:
        DECODER.decode(b"[" + items + b"]")
    except msgspec.DecodeError as error:
        return str(error)
    return "it does"
