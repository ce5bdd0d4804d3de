"""Ordinary words (English and French, from wordfreq's shipped frequency lists) and the affixes
sellers put around a brand."""

from __future__ import annotations

from functools import cache

from wordfreq import zipf_frequency

LANGUAGES = ("en", "fr")
# Zipf frequency (log10 of uses per billion words): 3 is "a word most people know".
WORD = 3.0  # an affix beside a brand must be at least this common to read as a word
WORD_SHORT = 5.0  # ... and two-letter affixes this common ("my", "le", "la")
IN_WORD = 1.5  # a token this common is a word of its own: a brand inside it is not the brand
TYPO_WORD = 2.5  # a "typo" this common is an ordinary word, not a typo of the brand

# Words sellers add to a brand to pass a listing off as the brand's own. Common-word brands
# (apple, free, orange) count only with these; the watch file can add more per brand.
COMMERCE_AFFIXES = frozenset(
    """official officiel officielle offical store shop boutique login account compte support help
    service services app apps online web site mail secure verify verification pay payment client
    clients customer france fr paris uk us usa eu europe de es it intl international global group
    the my get go real vrai team hq news info""".split()
)
# Short prefixes and suffixes that make a brand look official or local without being words.
SHORT_AFFIXES = frozenset("e i x my le la les the go get fr us uk eu de es it hq tv app pro".split())


@cache
def zipf(word: str) -> float:
    """How common ``word`` is in English or French, whichever is higher."""
    return max(zipf_frequency(word, language) for language in LANGUAGES)


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
