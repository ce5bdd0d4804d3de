"""Ordinary words (English and French, from wordfreq's shipped frequency lists, accents folded) and
the affixes sellers put around a brand."""

from __future__ import annotations

import hashlib
import logging
import math
import os
import pickle
import re
import unicodedata
from array import array
from functools import cache
from importlib.metadata import version
from importlib.resources import files
from pathlib import Path
from typing import NamedTuple

import ahocorasick

try:
    from brandcrawl.matching._bulkscan import Readings
except ImportError:  # not built (no compiler at install time) or built for another platform
    Readings = None

logger = logging.getLogger(__name__)

LANGUAGES = ("en", "fr")
# Zipf frequency (log10 of uses per billion words): 3 is "a word most people know".
WORD = 3.0  # an affix beside a brand must be at least this common to read as a word
WORD_SHORT = 5.0  # ... and two-letter affixes this common ("my", "le", "la")
IN_WORD = 1.5  # a token this common is a word of its own: a brand inside it is not the brand
TYPO_WORD = 2.5  # a "typo" this common is an ordinary word, not a typo of the brand
KNOWN = 1.5  # rarer words are left out of the table

# Words sellers add to a brand to pass a listing off as the brand's own. Common-word brands
# (apple, free, orange) count only with these; the watch file can add more per brand.
COMMERCE_AFFIXES = frozenset(
    """official officiel officielle offical store shop boutique login account compte support help
    service services app apps online web site mail secure verify verification pay payment client
    clients customer france fr paris uk us usa eu europe de es it intl international global group
    the my get go real vrai team hq news info www""".split()
)
# Short prefixes and suffixes that make a brand look official or local without being words.
SHORT_AFFIXES = frozenset("e i x my le la les the go get fr us uk eu de es it hq tv app pro www".split())


def zipf(word: str) -> float:
    """How common ``word`` (folded: lower case, no accents) is in English or French."""
    return frequencies().get(word, 0.0)


def is_word(text: str, threshold: float = WORD) -> bool:
    if len(text) == 1:
        return False  # every letter is "common"; none is a word beside a brand
    if len(text) == 2:
        return text in SHORT_AFFIXES or zipf(text) >= WORD_SHORT
    return zipf(text) >= threshold


def splits_into_words(text: str, extra: frozenset[str] = frozenset()) -> bool:
    """``text`` is empty, a number, one of the short affixes ("e", "my"), or a run of known affixes
    and common words ("officialstore")."""
    return text in SHORT_AFFIXES or _segments(text, extra)


def straddles(token: str, start: int, end: int) -> bool:
    """``token`` reads better as ordinary words in which ``token[start:end]`` crosses from one word
    into the next (hello|realise holds "loreal") than as that brand with words around it
    (shop|gallimard). Readings are compared by cost: fewer and more common words cost less. Read
    in C where the bulk path's extension is built (``Readings``), which ``_straddles`` is the
    reference of."""
    if (readings_in_c := readings()) is not None and (
        answer := readings_in_c.straddles(token, start, end)
    ) is not None:
        return answer
    return _straddles(token, start, end)


@cache
def readings() -> Readings | None:
    """The dictionary's readings in C, or None where ``_bulkscan`` is not built."""
    if Readings is None:
        return None
    words, costs = dictionary().words, dictionary().costs
    return Readings(words, costs, BRAND_COST, LONGEST_WORD)


def _straddles(token: str, start: int, end: int) -> bool:
    # The three readings share the token's words, looked up once.
    words = _words_at(token)
    respecting = _reading(words, 0, start) + BRAND_COST + _reading(words, end, len(token))
    return _reading(words, 0, len(token), avoid=frozenset({start, end} - {0, len(token)})) < respecting


BRAND_COST = 1.0
# Words longer than this are not looked for inside a token.
LONGEST_WORD = 24
_DIGITS = re.compile(r"\d+")


# Words that cost no more than the brand beside them: affixes, plural endings (numbers too).
_FREE_WORDS = SHORT_AFFIXES | COMMERCE_AFFIXES | {"s", "es", "x"}


def _word_cost(word: str) -> float:
    if word.isdigit() or word in _FREE_WORDS:
        return 1.0
    if len(word) < 3 or (value := zipf(word)) < KNOWN:
        return math.inf
    return 1.0 + max(0.3, 7.0 - value)


def _words_at(text: str) -> list[list[tuple[int, float]]]:
    """For each position of ``text``, the words starting there: (where each ends, its cost), the
    nearest end first."""
    found: list[list[tuple[int, float]]] = [[] for _ in text]
    automaton, costs, _words = dictionary()
    for end, value in automaton.iter(text):
        # The automaton reports the words by where they end: each start's list grows in order.
        found[end + 1 - (value & 31)].append((end + 1, costs[value >> 5]))
    for digits in _DIGITS.finditer(text):
        # Every run of digits is a word: a number beside a brand reads as part of the listing.
        for begin in range(digits.start(), digits.end()):
            stops = range(begin + 1, min(digits.end(), begin + LONGEST_WORD) + 1)
            found[begin] = sorted([*found[begin], *((stop, 1.0) for stop in stops)])
    return found


class Dictionary(NamedTuple):
    """Every word ``_word_cost`` prices (numbers aside), in one automaton, so that one pass over a
    token finds all the words in it: each word's value holds its length (low 5 bits) and the index
    of its cost in ``costs``; ``words[index]`` is that word (the C bulk path reads them so)."""

    automaton: ahocorasick.Automaton
    costs: array
    words: list[str]


@cache
def dictionary() -> Dictionary:
    """The words ``straddles`` reads. Kept in a cache file (0.05 s to load, ~0.4 s to build) that
    this module's code, wordfreq's and pyahocorasick's versions name: a change to any of them
    builds it again."""
    source = files(__package__).joinpath("words.py").read_bytes()  # also inside a zipped egg
    key = f"{version('wordfreq')} {version('pyahocorasick')}".encode() + source
    path = _cache_dir() / f"dictionary-{hashlib.sha256(key).hexdigest()[:16]}.pickle"
    try:
        with path.open("rb") as cached:
            # The user's own cache folder, written only by this function, as Python's __pycache__ is.
            automaton, costs, words = pickle.load(cached)  # noqa: S301
        if (
            isinstance(automaton, ahocorasick.Automaton)
            and isinstance(costs, array)
            and isinstance(words, list)
        ):
            return Dictionary(automaton, costs, words)
    except FileNotFoundError:
        pass
    except Exception as error:  # a cache file that does not load, whatever the reason, is built again
        logger.info("the word automaton's cache %s does not load (%r): building it again", path, error)
    built = _build_dictionary()
    if _write_cache(path, pickle.dumps(tuple(built), protocol=pickle.HIGHEST_PROTOCOL), "word automaton"):
        for stale in path.parent.glob("dictionary-*.pickle"):
            if stale != path:
                stale.unlink(missing_ok=True)  # built by another version: never read again
    return built


def _build_dictionary() -> Dictionary:
    built = Dictionary(ahocorasick.Automaton(ahocorasick.STORE_INTS), array("d"), [])
    for word in _FREE_WORDS.union(frequencies()):
        if len(word) <= LONGEST_WORD and not word.isdigit() and (cost := _word_cost(word)) != math.inf:
            built.automaton.add_word(word, len(built.costs) << 5 | len(word))
            built.costs.append(cost)
            built.words.append(word)
    built.automaton.make_automaton()
    return built


def _reading(
    words: list[list[tuple[int, float]]], first: int, last: int, avoid: frozenset[int] = frozenset()
) -> float:
    """The cheapest reading as words of the text from ``first`` to ``last`` (``words`` from
    ``_words_at``), never cutting at a position in ``avoid``."""
    inf = math.inf
    best = dict.fromkeys(range(first + 1, last + 1), inf)
    best[first] = 0.0
    for begin in range(first, last):
        here = best[begin]
        if here == inf or (begin != first and begin in avoid):
            continue
        for stop, step in words[begin]:
            if stop > last:
                break
            if stop in avoid and stop != last:
                continue
            if here + step < best[stop]:
                best[stop] = here + step
    return best[last]


@cache
def frequencies() -> dict[str, float]:
    """Folded word → Zipf frequency, from a cache file built once per wordfreq version (~1 s)."""
    path = _cache_dir() / f"words-{'-'.join(LANGUAGES)}-wordfreq-{version('wordfreq')}.tsv"
    try:
        with path.open(encoding="utf-8") as lines:
            return {word: float(value) for word, value in (line.rstrip("\n").split("\t") for line in lines)}
    except (OSError, ValueError):
        pass
    table = _build()
    _write_cache(path, "".join(f"{w}\t{z:.2f}\n" for w, z in table.items()).encode(), "word list")
    return table


def _write_cache(path: Path, data: bytes, what: str) -> bool:
    """Write a cache file whole or not at all (two processes may build it at once); False if not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(path)
    except OSError as error:
        logger.warning("could not cache the %s in %s (%s); it is rebuilt next time", what, path, error)
        return False
    return True


def _build() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    table: dict[str, float] = {}
    for language in LANGUAGES:
        for word, frequency in get_frequency_dict(language).items():
            value = math.log10(frequency) + 9
            if value < KNOWN:
                continue
            folded = "".join(
                c for c in unicodedata.normalize("NFKD", word) if not unicodedata.combining(c)
            ).lower()
            if folded.isascii() and folded.isalnum() and table.get(folded, 0.0) < value:
                table[folded] = round(value, 2)
    return table


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "brandcrawl"


@cache
def _segments(text: str, extra: frozenset[str]) -> bool:
    if not text or text.isdigit():
        return True
    for end in range(len(text), 1, -1):
        head = text[:end]
        if (head in COMMERCE_AFFIXES or head in extra or head.isdigit() or is_word(head)) and _segments(
            text[end:], extra
        ):
            return True
    return False
