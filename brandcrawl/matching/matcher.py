"""BrandMatcher: does a domain, handle or listing title carry a watched brand, and why."""

from __future__ import annotations

import functools
import logging
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice, pairwise

import ahocorasick
from rapidfuzz.distance import OSA

from brandcrawl.assets import canonical_platform
from brandcrawl.config import Brand, WatchConfig
from brandcrawl.matching import explain, words
from brandcrawl.matching.bulk import AnchoredLabels, BulkFilter, WordChecks, two_typo_anchors
from brandcrawl.matching.candidates import REGIONS, Region, ascii_host, domain_region
from brandcrawl.matching.text import SKELETON_LETTERS, Folded, label, skeleton_of

logger = logging.getLogger(__name__)

KINDS = tuple(REGIONS)
PLURALS = frozenset({"s", "es", "x"})
# Typos only for labels long enough that one changed letter still reads as the brand.
MIN_TYPO_LENGTH = 3
BULK_CHUNK = 50_000
# Domains the bulk path found to hit, kept with their matches: a feed's hit is asked about again,
# one by one, by the match pipeline of the same crawl a moment later.
RECENT_HITS = 4_096
MAX_CANDIDATE = 1_000
MAX_WORD = 63  # the longest DNS label
# A word that starts with a digit.
_NUMBER_FIRST = re.compile(r"(?<![a-z0-9])\d", re.IGNORECASE)
TWO_TYPOS_LENGTH = 8
# The letters a typo can bring in, on the skeleton ("i" reads as "l" there).
TYPO_ALPHABET = "abcdefghjklmnopqrstuvwxyz0123456789"
# A title word before or after the brand that makes it a passing mention, not what is sold.
PASSING_BEFORE = frozenset(
    """for pour with avec via compatible like comme style type genre fits fit pay payer paiement payment
    par sur on suivi securise secure envoi livraison shipping shipped delivery expedition expedie""".split()
)
PASSING_AFTER = frozenset(
    "accepted accepte acceptee acceptes acceptees payment paiement compatible style".split()
)
# Words around a brand written as a plain word that make it the payment or delivery method.
PAYMENT_OR_SHIPPING = frozenset(
    """virement paiement payment payments cash especes cheque cheques accepted accepte acceptee acceptes
    livraison envoi shipping shipped delivery expedition expedie remise colis colissimo postage propre
    tracked""".split()
)
# A title word naming an account or a platform: the common word after it is the account's name.
ACCOUNT_WORDS = frozenset(
    """account accounts compte comptes page channel chaine handle username pseudo profile profil user
    instagram twitter tiktok youtube facebook twitch snapchat x ig""".split()
)
# Words that end a domain written in a title (the TLD), not words around the brand.
TITLE_TLDS = frozenset("com net org info biz io co fr de uk eu shop store online site app".split())


@dataclass(frozen=True)
class Match:
    brand: str  # as the user wrote it in the watch file
    rule: str  # exact, separators, homoglyph, idn or typo; "+affix" when words were added
    span: tuple[int, int]  # in the candidate as given
    matched: str
    score: float
    explanation: str


@dataclass(frozen=True)
class _Label:
    brand: int
    written: str
    text: str
    skeleton: str
    edits: int


@dataclass(frozen=True)
class _Watched:
    brand: Brand
    exclusions: tuple[str, ...]
    official_domains: frozenset[str]
    official_handles: frozenset[tuple[str | None, str]]
    # The commerce affixes and the brand's own: what may stand beside it.
    vocabulary: frozenset[str]


@dataclass(frozen=True)
class _Occurrence:
    label: _Label
    start: int  # in the region's folded text
    end: int
    distance: int


class BrandMatcher:
    """Finds watched brands and their disguises; built once per watch-list, shared by the pipeline,
    the digest and the ``brandcrawl match`` command."""

    def __init__(self, brands: Iterable[Brand]) -> None:
        self._watched = [_prepare(brand) for brand in brands]
        # Looked up for every hit of a feed: indexed, not a walk through every brand.
        self._official: dict[tuple[str, str | None, str], set[str]] = {}
        for watched in self._watched:
            keys = [("domain", None, domain) for domain in watched.official_domains]
            keys += [("handle", platform, handle) for platform, handle in watched.official_handles]
            for key in keys:
                self._official.setdefault(key, set()).add(watched.brand.name)
        # Every brand's exclusion phrases in one automaton: a title is scanned once, not per brand.
        self._exclusions = ahocorasick.Automaton()
        for watched in self._watched:
            for phrase in watched.exclusions:
                brands = self._exclusions.get(phrase, set())
                self._exclusions.add_word(phrase, brands | {watched.brand.name})
        if len(self._exclusions):
            self._exclusions.make_automaton()
        self._labels: list[_Label] = []
        for index, watched in enumerate(self._watched):
            seen: set[str] = set()
            for written in (watched.brand.name, *watched.brand.aliases):
                text = label(written)
                if not text or text in seen:
                    continue
                seen.add(text)
                if len(text) < 3:
                    logger.warning("brand %r folds to %r: too short to match reliably", written, text)
                edits = _edits(text, watched.brand.common_word)
                self._labels.append(_Label(index, written, text, skeleton_of(text), edits))
        self._label_texts = frozenset(lab.text for lab in self._labels)
        self._exact = ahocorasick.Automaton()
        for number, lab in enumerate(self._labels):
            self._exact.add_word(lab.skeleton, (*self._exact.get(lab.skeleton, ()), number))
        if self._labels:
            self._exact.make_automaton()
        self._bulk: BulkFilter | None = None  # built on the first bulk call
        self._recent_hits: dict[str, list[Match]] = {}
        # One typo: every one-edit variant of each label, looked up whole. Two typos: anchors of the
        # label that any word two edits away holds, found by an automaton, then an edit distance.
        self._one_typo: dict[str, tuple[int, ...]] = {}
        anchored: dict[str, int | list[int]] = {}
        for number, lab in enumerate(self._labels):
            if lab.edits >= 1:
                # Most variants belong to one label: they share its one tuple (~40 MB at 1,000 brands).
                alone_number = (number,)
                for variant in _one_edit(lab.skeleton):
                    held = self._one_typo.get(variant)
                    self._one_typo[variant] = alone_number if held is None else (*held, number)
            if lab.edits >= 2:
                for anchor in two_typo_anchors(lab.skeleton, _one_edit):
                    held = anchored.setdefault(anchor, number)
                    if held != number:
                        anchored[anchor] = [*held, number] if isinstance(held, list) else [held, number]
        self._anchors = ahocorasick.Automaton()
        # Most anchors stand for one label: they share that label's one value object.
        alone = {
            n: AnchoredLabels((n,), (len(lab.skeleton),))
            for n, lab in enumerate(self._labels)
            if lab.edits >= 2
        }
        for anchor, held in anchored.items():
            if isinstance(held, int):
                self._anchors.add_word(anchor, alone[held])
                continue
            by_length = sorted(held, key=lambda n: len(self._labels[n].skeleton))
            lengths = tuple(len(self._labels[n].skeleton) for n in by_length)
            self._anchors.add_word(anchor, AnchoredLabels(tuple(by_length), lengths))
        if len(self._anchors):
            self._anchors.make_automaton()

    @classmethod
    def from_names(cls, names: Iterable[str]) -> BrandMatcher:
        return cls(Brand(name=name) for name in names)

    @classmethod
    def from_watch(cls, config: WatchConfig) -> BrandMatcher:
        """The watch file's matcher, built once per process: a feed spider and the match pipeline of
        the same crawl share it (at 1,000 brands it holds ~200 MB of tables)."""
        return _matcher_for(config.brands)

    def match(self, candidate: str, kind: str) -> list[Match]:
        """Every watched brand ``candidate`` carries: a domain, a handle (``@name`` or
        ``platform:name``) or a listing title. The best match per brand, strongest first."""
        if kind not in REGIONS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        if kind == "domain" and (known := self._recent_hits.get(candidate)) is not None:
            return list(known)
        # Listings are short; a page of text is read only up to here (spans stay valid).
        candidate = candidate[:MAX_CANDIDATE]
        return self._matches(REGIONS[kind](candidate), kind, candidate)

    def _matches(self, region: Region, kind: str, candidate: str) -> list[Match]:
        if not region.folded.text:
            return []
        by_brand: dict[int, list[_Occurrence]] = {}
        for occurrence in self._occurrences(region):
            by_brand.setdefault(occurrence.label.brand, []).append(occurrence)
        matches = []
        for brand_index, occurrences in by_brand.items():
            watched = self._watched[brand_index]
            if any(phrase in region.folded.text for phrase in watched.exclusions):
                continue
            if kind != "title" and _is_official(watched, region, kind):
                continue
            occurrences.sort(key=lambda o: (o.distance, o.end - o.start != len(o.label.text), o.start))
            for occurrence in occurrences:
                if found := self._accept(region, occurrence, kind, candidate):
                    matches.append(found)
                    break
        return sorted(matches, key=lambda m: -m.score)

    def match_many(self, candidates: Iterable[str], kind: str) -> Iterator[tuple[int, list[Match]]]:
        """The bulk path (feeds of a million names): ``(index, matches)`` for each candidate that
        hits, the same answers as ``match`` one by one. Domains are read a chunk at a time, and only
        those the bulk filter picks are matched (see ``bulk.py``)."""
        if kind != "domain":
            for index, candidate in enumerate(candidates):
                if matches := self.match(candidate, kind):
                    yield index, matches
            return
        if self._bulk is None:
            skeletons = [lab.skeleton for lab in self._labels]
            self._bulk = BulkFilter(skeletons, self._one_typo.keys(), self._anchors, self.word_checks())
        offset = 0
        for chunk in _chunks(candidates, BULK_CHUNK):
            for position in self._bulk.candidates(chunk):
                domain = chunk[position][:MAX_CANDIDATE]
                if matches := self._matches(domain_region(domain), kind, domain):
                    self._remember(chunk[position], matches)
                    yield offset + position, matches
            offset += len(chunk)

    def word_checks(self) -> WordChecks:
        """How the bulk filter reads the words around the labels it finds, as ``match`` does."""
        labels = [
            (lab.text, lab.skeleton, watched.brand.common_word, watched.vocabulary != words.COMMERCE_AFFIXES)
            for lab in self._labels
            for watched in (self._watched[lab.brand],)
        ]
        return WordChecks(labels, PLURALS, MAX_WORD, self._labels_only_say_no)

    def _remember(self, domain: str, matches: list[Match]) -> None:
        if len(self._recent_hits) >= RECENT_HITS:
            del self._recent_hits[next(iter(self._recent_hits))]  # the oldest
        self._recent_hits[domain] = list(matches)

    def excluded_brands(self, text: str) -> set[str]:
        """The brands one of whose exclusion phrases ``text`` contains."""
        folded = label(text)
        if not len(self._exclusions):
            return set()
        return {brand for _end, brands in self._exclusions.iter(folded) for brand in brands}

    def official_brands(self, candidate: str, kind: str) -> set[str]:
        """The brands whose own domain or handle ``candidate`` is: such listings are never reported."""
        if kind not in ("domain", "handle"):
            return set()
        region = REGIONS[kind](candidate)
        if kind == "domain":
            # The domain itself or any parent of it: shop.gallimard.fr is gallimard.fr's.
            labels = region.host.split(".")
            keys = [("domain", None, ".".join(labels[i:])) for i in range(len(labels))]
        else:
            keys = [("handle", None, region.folded.text), ("handle", region.platform, region.folded.text)]
        return {brand for key in keys for brand in self._official.get(key, ())}

    def _occurrences(self, region: Region) -> Iterator[_Occurrence]:
        yield from self._exact_occurrences(region)
        yield from self._typo_occurrences(region)

    def _exact_occurrences(self, region: Region) -> Iterator[_Occurrence]:
        folded = region.folded
        if self._labels:
            for end, numbers in self._exact.iter(folded.skeleton):
                for number in numbers:
                    lab = self._labels[number]
                    start, stop = folded.text_span(end + 1 - len(lab.skeleton), end + 1)
                    yield _Occurrence(lab, start, stop, 0)

    def _typo_occurrences(self, region: Region) -> Iterator[_Occurrence]:
        folded = region.folded
        if not self._one_typo:
            return
        for start, end in _words(folded.starts, len(folded.text)):
            token = folded.text[start:end]
            if len(token) < MIN_TYPO_LENGTH - 1:
                continue
            token_skeleton = skeleton_of(token)
            # Also the letters merged but not the pairs: a missing "e" can make "rn" out of "ren".
            token_letters = token.translate(SKELETON_LETTERS)
            candidates = {*self._one_typo.get(token_skeleton, ()), *self._one_typo.get(token_letters, ())}
            if len(self._anchors) and len(token_skeleton) >= TWO_TYPOS_LENGTH - 2:
                # Two edits change the length by two at most: only labels of a length near the
                # token's (either reading of it) can be within them.
                shortest = min(len(token_skeleton), len(token_letters)) - 2
                longest = max(len(token_skeleton), len(token_letters)) + 2
                for _, anchored in self._anchors.iter(f"|{token_skeleton}|"):
                    lengths = anchored.lengths
                    candidates.update(
                        anchored.numbers[bisect_left(lengths, shortest) : bisect_right(lengths, longest)]
                    )
            spelled_apart = token_letters != token_skeleton
            for number in candidates:
                lab = self._labels[number]
                edits = lab.edits
                distance = OSA.distance(lab.skeleton, token_skeleton, score_cutoff=edits)
                if spelled_apart:
                    distance = min(distance, OSA.distance(lab.skeleton, token_letters, score_cutoff=edits))
                if 0 < distance <= lab.edits:
                    yield _Occurrence(lab, start, end, distance)

    def _accept(self, region: Region, occurrence: _Occurrence, kind: str, candidate: str) -> Match | None:
        """The product rule for one place a brand's label (or a variant) appears; None if not a hit."""
        folded, lab = region.folded, occurrence.label
        watched = self._watched[lab.brand]
        common = watched.brand.common_word
        start, end = occurrence.start, occurrence.end
        word_start, word_end = folded.word_bounds(start, end)
        left, right = folded.text[word_start:start], folded.text[end:word_end]
        written = folded.text[start:end]
        if occurrence.distance and (written in self._label_texts or words.is_word(written, words.TYPO_WORD)):
            return None  # another watched brand, or an ordinary word: not a typo
        if (left or right) and self._words_around_say_no(region, occurrence, word_start, word_end):
            return None
        if common and not self._common_word_context(region, kind, word_start, word_end, watched):
            return None
        span = region.candidate_span(start, end)
        if kind == "title" and (
            _passing_mention(candidate, span) or _names_official(watched, candidate, span)
        ):
            return None
        # What was added, as written: in a domain or handle every other word is added too
        # (gallimard-shop, the.gallimard); in a title only the letters joined to the brand.
        added_before, added_after = (0, len(folded.text)) if kind != "title" else (word_start, word_end)
        left_shown = _written(folded, added_before, start)
        right_shown = _written(folded, end, added_after)
        return _describe(region, occurrence, left_shown, right_shown, span, candidate, watched)

    def _words_around_say_no(
        self, region: Region, occurrence: _Occurrence, word_start: int, word_end: int
    ) -> bool:
        """Whether the words holding a label with letters around it (``text[word_start:word_end]``
        holds more than the label) say it is not the brand."""
        folded, lab = region.folded, occurrence.label
        start, end = occurrence.start, occurrence.end
        if any(start < s < end for s in folded.starts):
            return True  # split across words only when whole words spell it: galli-mard, not chouchou-berceau
        if word_end - word_start > MAX_WORD:
            return True  # longer than any domain label or handle: no word reading is worth its cost
        whole = folded.text[word_start:word_end]
        if whole != lab.text and words.is_word(whole, words.IN_WORD):
            return True  # inside a longer word: tuberose, unfree, pineapple
        watched = self._watched[lab.brand]
        common, vocabulary = watched.brand.common_word, watched.vocabulary
        if not self._affix(region, word_start, start, folded.text[word_start:start], common, vocabulary):
            return True
        right = folded.text[end:word_end]
        if not (right in PLURALS or self._affix(region, end, word_end, right, common, vocabulary)):
            return True
        letters_start = start if self._is_number(region, word_start, start) else word_start
        letters_end = end if self._is_number(region, end, word_end) else word_end
        # hello|realise: the label crosses two ordinary words.
        return words.straddles(
            folded.text[letters_start:letters_end], start - letters_start, end - letters_start
        )

    def _labels_only_say_no(self, domain: str) -> bool:
        """For a domain the bulk filter found a label in but no word that may be a typo: whether
        the words around each label say it is not the brand, so that matching it would find
        nothing."""
        if _NUMBER_FIRST.search(domain):
            # A number ("2024", "139k"): the bulk filter reads its digits as letters, the matcher as
            # written, so the filter's "no word may be a typo" does not hold for it.
            return False
        region = domain_region(domain[:MAX_CANDIDATE])
        folded = region.folded
        for occurrence in self._exact_occurrences(region):
            word_start, word_end = folded.word_bounds(occurrence.start, occurrence.end)
            fills_its_words = word_start == occurrence.start and occurrence.end == word_end
            if fills_its_words or not self._words_around_say_no(region, occurrence, word_start, word_end):
                return False
        return True

    @staticmethod
    def _is_number(region: Region, start: int, end: int) -> bool:
        """``text[start:end]`` was written in digits (leetspeak reading aside)."""
        return (
            start < end and region.folded.original[slice(*region.folded.original_span(start, end))].isdigit()
        )

    def _affix(
        self, region: Region, start: int, end: int, text: str, common: bool, vocabulary: frozenset[str]
    ) -> bool:
        if not text:
            return True
        if self._is_number(region, start, end):
            return not common  # "gallimard2024" yes, "apple2" no
        if common:
            return _splits_into(text, vocabulary)
        return words.splits_into_words(text, vocabulary)

    @staticmethod
    def _common_word_context(
        region: Region, kind: str, word_start: int, word_end: int, watched: _Watched
    ) -> bool:
        """A common-word brand stands with nothing but commerce words around it (apple-store, not
        apple-tree), and in a title only inside a domain or handle written there."""
        folded = region.folded
        vocabulary = watched.vocabulary
        if kind == "title":
            original_start, original_end = folded.original_span(word_start, word_end)
            left = folded.original.rfind(" ", 0, original_start) + 1
            right = folded.original.find(" ", original_end)
            token = folded.original[left : right if right != -1 else len(folded.original)]
            before = folded.original[:left].split()
            if before and label(before[-1]) in ACCOUNT_WORDS and not any(mark in token for mark in "@./_"):
                return _splits_into_around(label(token), folded.text[word_start:word_end], vocabulary)
            if not any(mark in token for mark in "@./_") or token.endswith("."):
                return False
            lowered = label(token.rsplit(".", 1)[0] if "." in token else token)
            return _splits_into_around(lowered, folded.text[word_start:word_end], vocabulary)
        others = [
            folded.text[a:b]
            for a, b in _words(folded.starts, len(folded.text))
            if b <= word_start or a >= word_end
        ]
        return all(other.isdigit() or _splits_into(other, vocabulary) for other in others)


def _prepare(brand: Brand) -> _Watched:
    return _Watched(
        brand=brand,
        exclusions=tuple(filter(None, (label(phrase) for phrase in brand.exclusions))),
        official_domains=frozenset(ascii_host(d).removeprefix("www.") for d in brand.official_domains),
        official_handles=frozenset(
            (canonical_platform(h.platform) if h.platform else None, label(h.handle))
            for h in brand.official_handles
        ),
        vocabulary=words.COMMERCE_AFFIXES | {label(affix) for affix in brand.affixes},
    )


@functools.lru_cache(maxsize=2)
def _matcher_for(brands: tuple[Brand, ...]) -> BrandMatcher:
    return BrandMatcher(brands)


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    if isinstance(items, list):  # a feed's chunk: sliced, not copied one by one
        for start in range(0, len(items), size):
            yield items[start : start + size]
        return
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):  # taken at C speed, not appended one by one
        yield chunk


def _edits(text: str, common_word: bool) -> int:
    if common_word or len(text) < MIN_TYPO_LENGTH:
        return 0
    return 2 if len(text) >= TWO_TYPOS_LENGTH else 1


def _one_edit(word: str) -> set[str]:
    variants = {word[:i] + word[i + 1 :] for i in range(len(word))}
    variants |= {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(len(word) - 1)}
    for i in range(len(word) + 1):
        for letter in TYPO_ALPHABET:
            variants.add(word[:i] + letter + word[i:])
            if i < len(word):
                variants.add(word[:i] + letter + word[i + 1 :])
    variants.discard(word)
    return variants


def _is_official(watched: _Watched, region: Region, kind: str) -> bool:
    if kind == "domain":
        return any(
            region.host == domain or region.host.endswith("." + domain) for domain in watched.official_domains
        )
    if kind == "handle":
        key = region.folded.text
        return (None, key) in watched.official_handles or (region.platform, key) in watched.official_handles
    return False


def _words(starts: frozenset[int], length: int) -> Iterator[tuple[int, int]]:
    """The (start, end) of each word of a folded text."""
    bounds = sorted({*starts, length})
    for start, end in pairwise(bounds):
        if start < end:
            yield start, end


def _splits_into(text: str, vocabulary: frozenset[str]) -> bool:
    if not text:
        return True
    return any(text.startswith(word) and _splits_into(text[len(word) :], vocabulary) for word in vocabulary)


def _splits_into_around(token: str, brand_word: str, vocabulary: frozenset[str]) -> bool:
    position = token.find(brand_word)
    if position == -1:
        return False
    return _splits_into(token[:position], vocabulary) and _splits_into(
        token[position + len(brand_word) :], vocabulary | TITLE_TLDS
    )


def _written(folded: Folded, start: int, end: int) -> str:
    """``text[start:end]`` as the candidate wrote it, separators trimmed: "2024", not "2o2a"."""
    if start >= end:
        return ""
    return folded.original[slice(*folded.original_span(start, end))].strip(".-_ @")


def _names_official(watched: _Watched, candidate: str, span: tuple[int, int]) -> bool:
    """In a title, the brand sits in one of its own domains, or in a handle it owns on every
    platform (a title does not say which platform a bare @name is on)."""
    start = candidate.rfind(" ", 0, span[0]) + 1
    end = candidate.find(" ", span[1])
    word = candidate[start : end if end != -1 else len(candidate)].strip(".,;:!?()[]\"'").lower()
    host = ascii_host(word.split("//", 1)[-1].split("/", 1)[0]).removeprefix("www.")
    if any(host == domain or host.endswith("." + domain) for domain in watched.official_domains):
        return True
    return (None, label(word)) in watched.official_handles


def _passing_mention(candidate: str, span: tuple[int, int]) -> bool:
    """The brand is how the seller is paid or ships ("PayPal ou virement", "envoi suivi La Poste"),
    or what an accessory fits ("for Nike"), not what is for sale. A brand written as a handle or a
    domain is what is for sale."""
    start = candidate.rfind(" ", 0, span[0]) + 1
    end = candidate.find(" ", span[1])
    if any(mark in candidate[start : end if end != -1 else len(candidate)] for mark in "@._/"):
        return False
    before = [label(word) for word in candidate[: span[0]].split()]
    after = [label(word) for word in candidate[span[1] :].split()]
    if (before and before[-1] in PASSING_BEFORE) or (after and after[0] in PASSING_AFTER):
        return True
    return any(word in PAYMENT_OR_SHIPPING for word in (*before[-5:], *after[:3]))


def _describe(
    region: Region,
    occurrence: _Occurrence,
    left: str,
    right: str,
    span: tuple[int, int],
    candidate: str,
    watched: _Watched,
) -> Match:
    folded, lab = region.folded, occurrence.label
    matched = candidate[span[0] : span[1]]
    written = folded.text[occurrence.start : occurrence.end]
    inner_separator = any(occurrence.start < s < occurrence.end for s in folded.starts)
    # Read on the decoded text: a punycode label's own digits are no leetspeak.
    look_alikes = explain.look_alikes(
        folded.original[slice(*folded.original_span(occurrence.start, occurrence.end))]
    )
    decoded = [f"{raw} reads {text}" for raw, text in region.decoded if raw in matched]
    if occurrence.distance:
        rule, detail = "typo", explain.typo(lab.text, written)
        score = 0.85 if occurrence.distance == 1 else 0.75
    elif decoded:
        rule, detail, score = "idn", "; ".join([*decoded, *look_alikes]), 0.95
    elif look_alikes or written != lab.text:
        differences = look_alikes or explain.look_alike_letters(lab.text, written)
        rule, detail, score = "homoglyph", ", ".join(differences), 0.95
    elif inner_separator:
        rule, detail, score = "separators", f"written {matched!r}", 0.95
    else:
        rule, detail, score = "exact", "", 1.0
    if rule == "exact":
        explanation = f"is {lab.written!r}"
    else:
        name = {
            "typo": "typo",
            "idn": "IDN homograph",
            "homoglyph": "homoglyph",
            "separators": "split spelling",
        }
        explanation = f"{name[rule]} of {lab.written}: {detail}"
    if left or right:
        added = " and ".join(
            f"{part!r} {where}" for part, where in ((left, "before"), (right, "after")) if part
        )
        explanation = f"{explanation}, with {added}" if rule != "exact" else f"{lab.written} with {added}"
        rule += "+affix"
        score *= 0.85 if watched.brand.common_word else 0.9
    return Match(
        brand=watched.brand.name,
        rule=rule,
        span=span,
        matched=matched,
        score=round(score, 3),
        explanation=explanation,
    )
