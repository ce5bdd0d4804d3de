"""Brand matching: does a listing's domain, handle or title carry a watched brand?

This is the foundation's first matcher: the brand's label (accents folded, spaces and punctuation
removed) found inside the candidate's folded text. The dedicated matcher issue replaces the rule
behind the same interface.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from brandcrawl.config import Brand, WatchConfig

KINDS = ("domain", "handle", "title")


@dataclass(frozen=True)
class Match:
    brand: str  # as the user wrote it in the watch file
    rule: str
    span: tuple[int, int]  # in the candidate as given
    matched: str
    score: float
    explanation: str


def label(text: str) -> str:
    """The comparable form of a brand: ``société générale`` → ``societegenerale``."""
    return fold_with_map(text)[0]


def fold_with_map(text: str) -> tuple[str, list[int]]:
    """Fold accents and case, drop everything but letters and digits, and remember where each kept
    character came from so a match can be shown in the original text."""
    folded: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        for part in unicodedata.normalize("NFKD", char):
            if unicodedata.combining(part):
                continue
            for lowered in part.casefold():
                if lowered.isalnum():
                    folded.append(lowered)
                    origin.append(index)
    return "".join(folded), origin


# Words a seller adds to a common-word brand to pass the listing off as the brand's own.
BRAND_AFFIXES = (
    "official",
    "officiel",
    "officielle",
    "shop",
    "store",
    "boutique",
    "login",
    "account",
    "compte",
    "support",
    "help",
    "app",
    "online",
    "fr",
    "france",
    "uk",
    "us",
    "eu",
    "the",
    "my",
    "real",
    "vrai",
)
_TOKEN = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class _WatchedBrand:
    brand: Brand
    labels: tuple[tuple[str, str], ...]  # (label, the name or alias it came from)
    exclusions: tuple[str, ...]
    official_domains: frozenset[str]
    official_handles: frozenset[tuple[str | None, str]]  # (platform or None for any, handle label)


class BrandMatcher:
    """Finds watched brands in candidates; the pipeline, the digest and the CLI share one instance."""

    def __init__(self, brands: Iterable[Brand]) -> None:
        self._brands = [self._prepare(brand) for brand in brands]

    @classmethod
    def from_names(cls, names: Iterable[str]) -> BrandMatcher:
        return cls(Brand(name=name) for name in names)

    @classmethod
    def from_watch(cls, config: WatchConfig) -> BrandMatcher:
        return cls(config.brands)

    @staticmethod
    def _prepare(brand: Brand) -> _WatchedBrand:
        labels = {}
        for written in (brand.name, *brand.aliases):
            if key := label(written):
                labels.setdefault(key, written)
        return _WatchedBrand(
            brand=brand,
            labels=tuple(labels.items()),
            exclusions=tuple(filter(None, (label(phrase) for phrase in brand.exclusions))),
            official_domains=frozenset(label(domain) for domain in brand.official_domains),
            official_handles=frozenset((h.platform, label(h.handle)) for h in brand.official_handles),
        )

    def match(self, candidate: str, kind: str) -> list[Match]:
        """Every watched brand found in ``candidate``: a domain, a handle (``@name`` or
        ``platform:name``) or a listing title."""
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        # "x:gallimard": the platform decides what is official, the handle alone is matched.
        offset = candidate.rfind(":") + 1 if kind == "handle" else 0
        folded, origin = fold_with_map(candidate[offset:])
        if not folded:
            return []
        origin = [offset + index for index in origin]
        matches = []
        for watched in self._brands:
            if any(phrase in folded for phrase in watched.exclusions):
                continue
            if kind != "title" and self._is_official(watched, candidate, kind):
                continue
            finder = self._find_word if watched.brand.common_word else self._find_inside
            if found := finder(watched, candidate, kind, folded, origin):
                matches.append(found)
        return matches

    def match_many(self, candidates: Iterable[str], kind: str) -> Iterator[tuple[int, list[Match]]]:
        """The bulk path (feeds of a million names): ``(index, matches)`` for each candidate that hits."""
        for index, candidate in enumerate(candidates):
            if matches := self.match(candidate, kind):
                yield index, matches

    def excluded_brands(self, text: str) -> set[str]:
        """The brands one of whose exclusion phrases ``text`` contains."""
        folded = label(text)
        return {w.brand.name for w in self._brands if any(phrase in folded for phrase in w.exclusions)}

    def official_brands(self, candidate: str, kind: str) -> set[str]:
        """The brands whose own domain or handle ``candidate`` is: such listings are never reported."""
        return {w.brand.name for w in self._brands if self._is_official(w, candidate, kind)}

    def _find_inside(
        self, watched: _WatchedBrand, candidate: str, kind: str, folded: str, origin: list[int]
    ) -> Match | None:
        """A distinctive brand counts wherever its label appears, affixes and all."""
        for key, written in watched.labels:
            start = folded.find(key)
            while start != -1:
                span = (origin[start], origin[start + len(key) - 1] + 1)
                if kind != "title" or not self._names_official_handle(watched, candidate, span):
                    exact = len(key) == len(folded)
                    return _match(watched, candidate, span, written, "exact" if exact else "contains")
                start = folded.find(key, start + 1)
        return None

    def _find_word(
        self, watched: _WatchedBrand, candidate: str, kind: str, folded: str, origin: list[int]
    ) -> Match | None:
        """A common-word brand counts only as a whole word, alone or with a brand/commerce affix."""
        start = origin[0]
        words = [(found, label(found.group())) for found in _TOKEN.finditer(candidate, start)]
        for index, (_found, word) in enumerate(words):
            for key, written in watched.labels:
                span = _word_span(words, index, key, word)
                if span is None:
                    continue
                if kind == "title" and self._names_official_handle(watched, candidate, span):
                    continue
                return _match(watched, candidate, span, written, "word")
        return None

    @staticmethod
    def _is_official(watched: _WatchedBrand, candidate: str, kind: str) -> bool:
        text = candidate.strip().lower()
        if kind == "domain":
            return label(text.removeprefix("www.")) in watched.official_domains
        if kind == "handle":
            platform, _, handle = text.rpartition(":")
            key = label(handle)
            return (None, key) in watched.official_handles or (
                platform or None,
                key,
            ) in watched.official_handles
        return False

    @staticmethod
    def _names_official_handle(watched: _WatchedBrand, candidate: str, span: tuple[int, int]) -> bool:
        """In a title, the occurrence sits in a word that is one of the brand's own domains, or one
        of its handles on any platform (a title does not say which platform a bare @name is on)."""
        start, end = span
        while start > 0 and not candidate[start - 1].isspace():
            start -= 1
        while end < len(candidate) and not candidate[end].isspace():
            end += 1
        word = candidate[start:end].strip(".,;:!?()[]\"'").lower()
        if "." in word and label(word.removeprefix("www.").split("/", 1)[0]) in watched.official_domains:
            return True
        return label(word) in {handle for platform, handle in watched.official_handles if platform is None}


def _word_span(
    words: list[tuple[re.Match[str], str]], index: int, key: str, word: str
) -> tuple[int, int] | None:
    """Where the brand stands as this word, as this word plus an affix, or as this and the next
    words (a multi-word brand written with separators)."""
    found = words[index][0]
    if word == key or any(word in (key + affix, affix + key) for affix in BRAND_AFFIXES):
        return found.span()
    joined, last = word, index
    while len(joined) < len(key) and last + 1 < len(words):
        last += 1
        joined += words[last][1]
    if joined == key and last > index:
        return found.start(), words[last][0].end()
    return None


def _match(watched: _WatchedBrand, candidate: str, span: tuple[int, int], written: str, rule: str) -> Match:
    matched = candidate[span[0] : span[1]]
    explanation = {
        "exact": f"is {written!r}",
        "contains": f"contains {written!r}",
        "word": f"has the word {written!r}",
    }[rule]
    return Match(
        brand=watched.brand.name,
        rule=rule,
        span=span,
        matched=matched,
        score={"exact": 1.0, "word": 0.9, "contains": 0.8}[rule],
        explanation=explanation,
    )
