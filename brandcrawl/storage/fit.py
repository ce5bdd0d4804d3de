"""Values made to fit their columns before they are written.

A marketplace's text is the seller's to write: a NUL character, a seller name longer than its
column, a price of 10^20 or a follower count past 64 bits. SQLite would store most of them;
PostgreSQL refuses each one, and one refused value loses the whole batch it came in (which then
stays buffered and fails every later write too). So every backend stores the same fitted values:
NULs dropped, over-long text cut with an ellipsis, and a number out of its column's range unknown
(None), as an unreadable one is. An over-long identifier (a listing id, an asset) is shortened to a
prefix and a hash of the whole instead, so that it still names one thing, the same on every crawl.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from sqlalchemy import BigInteger, Column, Integer, Numeric, String, Table

_ELLIPSIS = "…"
_HASH_LENGTH = 16
# What PostgreSQL's integer and bigint hold (SQLite's integers are all 64-bit).
_INTEGER_LIMIT = 2**31
_BIG_INTEGER_LIMIT = 2**63

# (value, whether the column is an identity) → the value to store
Fitter = Callable[[Any, bool], Any]


def fit_row(table: Table, values: Mapping[str, Any], identities: Collection[str] = ()) -> dict[str, Any]:
    """A copy of ``values`` where each value of a column of ``table`` fits it; other keys are kept.

    ``identities`` are the columns whose value names something: shortened with a hash, not cut.
    """
    fitted = dict(values)
    for name, fit in _fitters(table):
        if name in fitted:
            fitted[name] = fit(fitted[name], name in identities)
    return fitted


def fit_identities(column: Column[str], values: Collection[str]) -> set[str]:
    """Identifiers as ``fit_row`` stores them in ``column``, to compare them with stored ones."""
    length = column.type.length  # type: ignore[attr-defined]  # a String column
    fit = _text_fitter(length)
    # Most fit as they are: a million feed names are checked at the cost of a length and a search.
    return {value if len(value) <= length and "\x00" not in value else fit(value, True) for value in values}


@cache
def _fitters(table: Table) -> tuple[tuple[str, Fitter], ...]:
    found: list[tuple[str, Fitter]] = []
    for column in table.columns:
        kind = column.type
        if isinstance(kind, String):
            found.append((column.name, _text_fitter(kind.length)))
        elif isinstance(kind, Integer):
            limit = _BIG_INTEGER_LIMIT if isinstance(kind, BigInteger) else _INTEGER_LIMIT
            found.append((column.name, _integer_fitter(limit)))
        elif isinstance(kind, Numeric) and kind.precision is not None:
            found.append((column.name, _number_fitter(kind.precision, kind.scale or 0)))
    return tuple(found)


def _text_fitter(length: int | None) -> Fitter:
    def fit(value: Any, identity: bool) -> Any:
        if not isinstance(value, str):
            return value
        value = value.replace("\x00", "")
        if length is None or len(value) <= length:
            return value
        if identity:
            digest = hashlib.sha256(value.encode()).hexdigest()[:_HASH_LENGTH]
            return f"{value[: length - _HASH_LENGTH - 1]}#{digest}"
        return value[: length - 1] + _ELLIPSIS

    return fit


def _integer_fitter(limit: int) -> Fitter:
    def fit(value: Any, identity: bool) -> Any:
        if isinstance(value, int) and not isinstance(value, bool) and not -limit <= value < limit:
            return None
        return value

    return fit


def _number_fitter(precision: int, scale: int) -> Fitter:
    limit, step = Decimal(10) ** (precision - scale), Decimal(1).scaleb(-scale)

    def fit(value: Any, identity: bool) -> Any:
        if value is None:
            return None
        try:
            number = Decimal(value)
        except (InvalidOperation, TypeError, ValueError):
            return value  # not a number at all: the column's own error says so
        if not number.is_finite() or abs(number) >= limit:
            return None
        number = number.quantize(step)  # as the column rounds it, which can reach the limit
        return number if abs(number) < limit else None

    return fit
