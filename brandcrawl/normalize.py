"""Turn the raw texts marketplaces show (prices, bid counts, time left) into typed values."""

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import price_parser

_DIGIT = re.compile(r"\d")
_MONEY_SCALE = re.compile(r"\d(?:[\d.,]*\d)?\s?[kKmM](?![a-zA-Z])")
# eBay writes "US $20.00" (French pages "20,00 $US"); price-parser only knows the glued "US$":
# it reads "US $" and "$CA" as a bare "$", and "$US" as the Uruguayan peso "$U".
_MARKED_DOLLAR = re.compile(r"\b([A-Z]{1,2}) \$|\$ ?([A-Z]{1,2})\b")
# price-parser's symbol search is case-sensitive: it knows "EUR" and "euro" but not "Eur" or "Euro".
_EUR_WORD = re.compile(r"\beur(?:os?)?\b", re.IGNORECASE)
_RANGE = re.compile(r" (?:to|bis|à|-) | ?[–—] ?", re.IGNORECASE)
# price-parser drops the sign; a negative figure is a discount or a refund, never an asking price.
_NEGATIVE = re.compile(r"[-−]|\D*[-−]\d")
_SYMBOL_ISO = {
    "US$": "USD",
    "C$": "CAD",
    "CA$": "CAD",
    "AU$": "AUD",
    "A$": "AUD",
    "NZ$": "NZD",
    "HK$": "HKD",
    "S$": "SGD",
    "€": "EUR",
    "£": "GBP",
    "¥": "JPY",
    "￥": "JPY",
}
# Currencies whose sites write their own money as a bare "$".
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "HKD", "SGD", "MXN"})

_COUNT = re.compile(r"\d{1,3}(?:[,.\s]\d{3})+(?!\d)|\d+")
# "12K", "2.5k", "1,8 M", "1.2 million", "3 Mio.": a figure with a thousands or millions suffix.
_NUMBER = r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?![\d.,]\d)|\d+(?:[.,]\d+)?"
_SUFFIXES = r"k|m|mil+ions?|mio\.?|mn"
_SUFFIX = rf"(?P<suffix>{_SUFFIXES})?"
_SCALED = re.compile(rf"(?P<number>{_NUMBER})\s?{_SUFFIX}(?![a-z])", re.IGNORECASE)
_AUDIENCE = r"(?:followers?|subs|subscribers?|abonn[ée]s|abonnenten|fans|members|membres)"
# "12K followers", "45K real followers", "12k IG followers" (one short word between), or the label
# first: "Followers: 12.4K", "Abonnés : 1,8 M".
_FOLLOWERS = re.compile(
    rf"(?:{_NUMBER})\s?(?:{_SUFFIXES})?\+?\s?(?:[a-z]{{1,10}} )?{_AUDIENCE}\b"
    rf"|\b{_AUDIENCE}\s?[:=\-–]\s?(?:{_NUMBER})(?:\s?(?:{_SUFFIXES})(?![a-z]))?",
    re.IGNORECASE,
)
# A bare figure after a price word: "asking 2.5k", "Price: 2500" (the site's own currency).
_BARE_PRICE = re.compile(
    rf"(?:price|prix|preis|asking|ask|bin|buy now|starting bid|sell(?:ing)? for)\W{{0,4}}"
    rf"(?P<amount>(?:{_NUMBER})(?:\s?k(?![a-z]))?)(?![\d.,]*\s?(?:%|x\b|followers?|abonn))",
    re.IGNORECASE,
)
_MONEY_SIGN = r"(?:US\s?\$|\$|€|£|USD|EUR|GBP|CAD|AUD|CHF)"
_MONEY = re.compile(
    rf"(?:{_MONEY_SIGN}\s?(?:{_NUMBER})(?:\s?(?:k|m)(?![a-z]))?"
    rf"|(?:{_NUMBER})(?:\s?(?:k|m)(?![a-z]))?\s?(?:{_MONEY_SIGN}|dollars?|euros?)(?![a-z]))",
    re.IGNORECASE,
)
# Words that make an amount in a sales pitch the asking price, or something else entirely.
_PRICE_WORDS = re.compile(
    r"(?:price|prix|preis|asking|ask|bin|buy now|buy it now|starting|start|bid|sell(?:ing)? for|for sale for"
    r"|à vendre|vends?|offers? (?:over|from)|obo)\W{0,12}$",
    re.IGNORECASE,
)
_NOT_PRICE_WORDS = re.compile(
    r"^\W{0,3}(?:/ ?mo|/ ?month|per month|a month|monthly|mensuel|revenue|profit|income|earnings|"
    r"net|ttm|/ ?year|per year|yearly|par mois|de ca|ca\b|spent|budget)",
    re.IGNORECASE,
)

_ENDED = re.compile(r"\b(?:ended|beendet|terminée?)\b", re.IGNORECASE)
_PART = (
    r"(\d+) ?(?:(?P<days>days?|tage?|t|jours?|j|d)|(?P<hours>hours?|stunden?|std|h)"
    r"|(?P<minutes>minutes?|minuten?|min|m)|(?P<seconds>seconds?|sekunden?|sek|sec|s))\.? ?"
)
_PART_RE = re.compile(_PART, re.IGNORECASE)
_TIME_LEFT = re.compile(rf"(?:noch |il reste )?(?P<parts>(?:{_PART})+)(?:left)?", re.IGNORECASE)


@dataclass(frozen=True)
class Price:
    """An asking price; for a range ("$3.25 to $195.87") the low end, with ``is_range`` set."""

    amount: Decimal
    currency: str | None  # ISO 4217 code
    is_range: bool


@dataclass(frozen=True)
class TimeLeft:
    """When a listing ends (aware UTC), or ``ended`` when the page says it is over."""

    end_time: datetime | None
    ended: bool


def to_utc(value: datetime) -> datetime:
    """Return ``value`` in UTC; a naive datetime is taken to be UTC already."""
    if value.utcoffset() is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _squash(text: str) -> str:
    # Pages are re-indented and use NBSP / U+202F inside numbers and between words.
    return " ".join(text.split())


def _iso_currency(symbol: str | None, default_currency: str | None) -> str | None:
    if not symbol:
        return default_currency
    if symbol == "$":
        return default_currency if default_currency in _DOLLAR_CURRENCIES else "USD"
    if symbol in _SYMBOL_ISO:
        return _SYMBOL_ISO[symbol]
    # price-parser hands back codes as written ("EUR", "CHF"); other local signs ("kr", "zł") are ambiguous.
    return symbol if re.fullmatch(r"[A-Z]{3}", symbol) else None


def parse_price(text: str | None, default_currency: str | None = None) -> Price | None:
    """Parse a displayed price; ``default_currency`` is the site's own (what a bare amount is in).

    Returns None when the text holds no number ("Make offer"), or a negative one.
    """
    # price-parser reads "Free" as 0; on a listing that is a missing price, not a free item.
    if text is None or not _DIGIT.search(text):
        return None
    text = _MARKED_DOLLAR.sub(lambda m: f"{m[1] or m[2]}$", _squash(text))
    text = _EUR_WORD.sub("EUR", text)
    low, *high = _RANGE.split(text, maxsplit=1)
    if _NEGATIVE.match(low):
        return None
    # The currency may be written only once, after the high end: "3,25 à 195,87 EUR".
    parsed = price_parser.Price.fromstring(low, currency_hint=text)
    if parsed.amount is None:
        return None
    amount = parsed.amount
    if scale := _MONEY_SCALE.search(low):  # "$2.5k" on forums; price-parser reads 2.5
        amount = parse_scaled(scale.group(0)) or amount
    is_range = bool(high and _DIGIT.search(high[0]))
    return Price(amount, _iso_currency(parsed.currency, default_currency), is_range)


def parse_scaled(text: str | None) -> Decimal | None:
    """The first figure of a text, with its suffix applied: "12K" 12000, "1,8 M" 1800000,
    "2.5k" 2500, "1,800" 1800, "1.800" 1800."""
    match = _SCALED.search(_squash(text or ""))
    if match is None:
        return None
    number = match["number"]
    if re.fullmatch(r"\d{1,3}(?:[,. \u00a0\u202f]\d{3})+", number) and not match["suffix"]:
        value = Decimal(re.sub(r"\D", "", number))  # thousands separators
    else:
        value = Decimal(number.replace(" ", "").replace("\u00a0", "").replace("\u202f", "").replace(",", "."))
    suffix = (match["suffix"] or "").casefold()
    if suffix == "k":
        value *= 1000
    elif suffix:
        value *= 1_000_000
    return value


def find_followers(text: str | None) -> str | None:
    """The follower count a free text states ("12K followers", "1,8 M abonnés"), as written."""
    match = _FOLLOWERS.search(_squash(text or ""))
    return match.group(0) if match else None


def parse_followers(text: str | None) -> int | None:
    """A follower count: "12K followers" 12000, "1,8 M abonnés" 1800000, "2.5k" 2500, "1 800" 1800."""
    value = parse_scaled(text)
    return int(value) if value is not None else None


def find_price_text(text: str | None) -> str | None:
    """The asking price in a free-text sales pitch ("Selling for $2,500", "prix : 1 800 €", "BIN $2.5k"),
    as written; amounts that are revenue or profit ("$517K revenue", "$40/mo") are passed over."""
    text = _squash(text or "")
    candidates = [m for m in _MONEY.finditer(text) if not _NOT_PRICE_WORDS.match(text[m.end() :])]
    for match in candidates:
        if _PRICE_WORDS.search(text[max(0, match.start() - 40) : match.start()]):
            return match.group(0)
    if candidates:
        return candidates[0].group(0)
    bare = _BARE_PRICE.search(text)
    return bare["amount"] if bare and not _NOT_PRICE_WORDS.match(text[bare.end() :]) else None


def parse_count(text: str | None) -> int | None:
    """Return the first integer of "1,234 bids", "2.345 Gebote", "1 234 enchères"; None without one."""
    match = _COUNT.search(text or "")
    return int(re.sub(r"\D", "", match.group())) if match else None


def parse_time_left(text: str | None, now: datetime) -> TimeLeft | None:
    """Read "1d 6h left", "Noch 2 T. 3 Std.", "Il reste 45 min", "Beendet"... relative to fetch time ``now``.

    Returns None for text that is neither a duration nor an ended marker.
    """
    text = _squash(text or "")
    if _ENDED.search(text):
        return TimeLeft(None, True)
    match = _TIME_LEFT.fullmatch(text)
    if match is None:
        return None
    delta = timedelta()
    try:
        for part in _PART_RE.finditer(match["parts"]):
            delta += timedelta(**{part.lastgroup: int(part[1])})
        return TimeLeft((to_utc(now) + delta).replace(microsecond=0), False)
    except OverflowError:  # a garbled count that runs past year 9999 is not a real listing
        return None
