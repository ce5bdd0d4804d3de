"""The bulk path: pick, out of a million domains, the few that can carry a brand, mostly in C.

A chunk of domains is folded at once (lower case, leetspeak digits and ``i`` read as letters,
``rn`` as ``m``, TLD left out: a superset of what ``BrandMatcher`` folds), then:

- each line, separators skipped, is scanned by an Aho-Corasick automaton of every label's
  skeleton: the brand with any affix, split by hyphens or dots, in look-alike letters (a label
  with a character outside ASCII is left out: only a domain with one too can hold it, and such
  a domain goes to the matcher whole);
- each of its pieces (the words between separators) is looked up in the matcher's table of
  one-edit variants: whole-word typos (``gallimrd``, ``bnpw``);
- for labels allowed two typos, anchors tied to word boundaries (see ``two_typo_anchors``) find
  the few pieces worth an edit-distance check;
- a line found only for typo-like words that are all ordinary words (``haie``, ``brutal``) is left
  out: the matcher reads no dictionary word as a typo;
- a line holding a label but no word that may be a typo is read for what the words around each
  label say, by the matcher's own rule (``terminale``, ``freedom-sale``: the matcher reads no brand
  inside a longer word, across words it does not fill, or beside letters that are no words): most
  lines the scan finds end there.

The folding, the exact scan and the per-piece work are done in one call by the C extension
``_bulkscan`` where it is built (an optional one: ``pip install`` goes on without a compiler; its
automaton is a dense table), else by ``PythonPieces`` with pyahocorasick, the reference both follow.
The words around the labels are read by its ``LabelJudge``, which settles plain domains and leaves
the others to the matcher's own code. Only the domains picked go through ``BrandMatcher.match``,
which decides: the bulk path gives the same answers as matching one by one, only faster.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterator, KeysView, Sequence
from typing import NamedTuple, Protocol

import ahocorasick
from rapidfuzz.distance import OSA

from brandcrawl.matching import words
from brandcrawl.matching.candidates import SECOND_LEVEL
from brandcrawl.matching.text import LEET, LEET_DIGITS, SKELETON_LETTERS, SKELETON_PAIRS

try:
    from brandcrawl.matching._bulkscan import LabelJudge, PieceScanner
except ImportError:  # not built (no compiler at install time) or built for another platform
    LabelJudge = PieceScanner = None

# Whether the per-piece work runs in C.
COMPILED = PieceScanner is not None
SEPARATORS = b"-._"
# How the Python scan marks the letters the skeleton pairs merge into.
_MERGED_CAPITALS = tuple(letter.upper() for _pair, letter in SKELETON_PAIRS)
# The matcher's own readings (text.py), every digit read as leetspeak: a superset of what it folds.
_LETTERS = {**LEET, "i": "l", "q": "g"}


def _byte_table(table: dict[int, str]) -> bytes:
    """A ``str.maketrans`` table of single characters as a 256-byte table."""
    return bytes(range(256)).decode("latin-1").translate(table).encode("latin-1")


_FOLD = _byte_table(str.maketrans({**_LETTERS, **dict.fromkeys(SEPARATORS.decode(), "|")}))
_TLD = re.compile(r"\.[^.\n]*$", re.MULTILINE)
# Anything a plain domain does not hold.
_SPECIAL = re.compile(r"[^a-z0-9.\-_\n]")
_PIECES = re.compile(r"[-._]")


class WordChecks(NamedTuple):
    """What the filter needs to read the words around the labels it finds as the matcher does."""

    # By label number (the skeletons' order): its text, its skeleton, whether its brand is a common
    # word, and whether its brand has affixes of its own (the matcher's code reads those).
    labels: Sequence[tuple[str, str, bool, bool]]
    plurals: frozenset[str]
    max_word: int
    # The matcher's own answer for one domain, where the C judge leaves it (and without C): whether
    # the words around every label it holds say it is not the brand.
    says_no: Callable[[str], bool]


class _Pieces(Protocol):
    def scan(self, chunk: bytes) -> tuple[set[int], list[tuple[int, str]], set[int]]: ...


class BulkFilter:
    """Built once per watch-list from the matcher's own tables, so both find the same things."""

    def __init__(
        self,
        skeletons: Sequence[str],
        one_edit_variants: KeysView[str],
        two_typo_anchors: ahocorasick.Automaton,
        word_checks: WordChecks | None = None,
        *,
        compiled: bool | None = None,
    ) -> None:
        """``skeletons``: each label's skeleton; ``one_edit_variants``: the keys of the matcher's
        one-typo table; ``two_typo_anchors``: its automaton of anchors → label numbers (indexes of
        ``skeletons``); ``word_checks``: how to read the words around a label found (without them,
        every line holding one is picked); ``compiled``: whether the scan runs in C, by default where
        it is built (``COMPILED``)."""
        self._pieces: _Pieces
        self._word_checks = word_checks
        self._judge = None
        if not (COMPILED if compiled is None else compiled):
            self._pieces = PythonPieces(skeletons, one_edit_variants, two_typo_anchors)
        elif PieceScanner is None:
            raise RuntimeError("brandcrawl.matching._bulkscan is not built")
        else:
            anchors = two_typo_anchors.items()
            self._pieces = PieceScanner(one_edit_variants, anchors, skeletons, SKELETON_PAIRS, _FOLD)
            if word_checks is not None:
                self._judge = _label_judge(word_checks)

    def candidates(self, domains: Sequence[str]) -> list[int]:
        """The domains worth matching (indexes, in order)."""
        text = "\n".join(domains).lower()
        if text.count("\n") != len(domains) - 1:
            return list(range(len(domains)))  # a line break: no line is trusted
        holding, near, unread = self._pieces.scan(text.encode())
        typo_words: dict[int, set[str]] = {}
        for line, word in near:
            typo_words.setdefault(line, set()).add(word)
        may_be_typos = {
            line for line, near_words in typo_words.items() if not _ordinary(domains[line], near_words)
        }
        labels_only = holding - may_be_typos
        said_no = self._labels_say_no(domains, sorted(labels_only))
        return sorted(unread | may_be_typos | (labels_only - said_no))

    def _labels_say_no(self, domains: Sequence[str], lines: list[int]) -> set[int]:
        """Of ``lines``, which hold a label but no word that may be a typo, those where the words
        around every label say it is not the brand: matching them would find nothing."""
        if self._word_checks is None:
            return set()
        says_no = self._word_checks.says_no
        held = [domains[line] for line in lines]
        verdicts = self._judge.settle(held) if self._judge is not None else [None] * len(held)
        return {
            line
            for line, domain, verdict in zip(lines, held, verdicts, strict=True)
            if verdict or (verdict is None and says_no(domain))
        }


class PythonPieces:
    """The exact scan and per-piece work of the bulk filter in Python, where ``_bulkscan`` is not
    built, and the reference its C scanner follows."""

    def __init__(
        self,
        skeletons: Sequence[str],
        one_edit_variants: KeysView[str],
        two_typo_anchors: ahocorasick.Automaton,
    ) -> None:
        self._variants = one_edit_variants
        self._anchors = two_typo_anchors
        self._skeletons = skeletons
        self._exact = ahocorasick.Automaton()
        for skeleton in skeletons:
            self._exact.add_word(skeleton, None)  # an empty one is left out
        if len(self._exact):
            self._exact.make_automaton()

    def scan(self, chunk: bytes) -> tuple[set[int], list[tuple[int, str]], set[int]]:
        """Of a chunk of domains (lower case, UTF-8, one a line), folded: the lines holding a label's
        skeleton (separators skipped); ``(line, skeleton)`` for each piece that is a one-typo variant
        or within two typos of a label; the lines left unread (see ``_unread_lines``)."""
        text = chunk.decode()
        unread = _unread_lines(text)
        if unread:
            lines = text.split("\n")
            for line in unread:
                lines[line] = ""  # emptied, so the others keep their numbers
            text = "\n".join(lines)
        # The TLD goes, as in the matcher: "com" must not pass for a typo of a three-letter brand.
        text = _TLD.sub("", text).encode("ascii").translate(_FOLD).decode("ascii")
        # The pairs merged in capitals, so that the two-typo check knows where they were.
        marked = text
        for pair, letter in SKELETON_PAIRS:
            marked = marked.replace(pair, letter.upper())
        folded = marked.lower()
        joined = folded.replace("|", "")
        words = "|" + folded.replace("\n", "|\n|") + "|"
        found: set[int] = set()
        if len(self._exact):
            found = _lines_at(joined, [end for end, _ in self._exact.iter(joined)])
        near: list[tuple[int, str]] = []
        # Typos are looked up as the matcher does: skeleton words, and words with rn/vv unmerged.
        typos = self._variants & {*folded.replace("\n", "|").split("|"), *text.replace("\n", "|").split("|")}
        if typos:
            automaton = ahocorasick.Automaton()
            for word in typos:
                skeleton = _skeleton_pairs(word)
                automaton.add_word(f"|{skeleton}|", skeleton)
            automaton.make_automaton()
            near = list(automaton.iter(words))
        if len(self._anchors):
            near += self._two_typo_ends(words, "|" + marked.replace("\n", "|\n|") + "|")
        near.sort()
        lines = _line_numbers(words, [end for end, _ in near])
        return found, [(line, word) for line, (_end, word) in zip(lines, near, strict=True)], unread

    def _two_typo_ends(self, words: str, marked: str) -> Iterator[tuple[int, str]]:
        """``words`` with its merged pairs in capitals in ``marked``."""
        # The hot loop of the Python path (one pass per piece found): names bound locally.
        rfind, find, skeletons, distance = words.rfind, words.find, self._skeletons, OSA.distance
        for end, anchored in self._anchors.iter(words):
            start = rfind("|", 0, end) + 1
            length = find("|", end) - start
            word = words[start : start + length]
            # The matcher also measures the word with rn/vv unmerged, two edits from each merged
            # letter: within two edits there is within two more here for each pair merged.
            merged = sum(marked.count(capital, start, start + length) for capital in _MERGED_CAPITALS)
            slack = 2 + 2 * merged
            # Labels sharing an anchor are sorted by length: only those near the word's are measured.
            low = bisect_left(anchored.lengths, length - slack)
            high = bisect_right(anchored.lengths, length + slack)
            for number in anchored.numbers[low:high]:
                if distance(word, skeletons[number], score_cutoff=slack) <= slack:
                    yield end, word
                    break


def _label_judge(checks: WordChecks) -> LabelJudge:
    """The C reading of the words around a label, from the tables the matcher reads them by."""
    return LabelJudge(
        labels=checks.labels,
        frequencies=words.frequencies(),
        in_word=words.IN_WORD,
        word=words.WORD,
        word_short=words.WORD_SHORT,
        short_affixes=words.SHORT_AFFIXES,
        commerce=words.COMMERCE_AFFIXES,
        second_level=SECOND_LEVEL,
        plurals=checks.plurals,
        max_word=checks.max_word,
        readings=words.readings(),
        pairs=SKELETON_PAIRS,
        letters=_byte_table(SKELETON_LETTERS),
        leet=_byte_table(LEET_DIGITS),
    )


def _ordinary(domain: str, near_words: set[str]) -> bool:
    """Whether each word of ``domain`` (TLD left out) that may be a typo of a label is an ordinary
    word as written: the matcher reads none of them as a typo ("a dictionary word is not a typo"),
    so the domain needs no matching for them (the exact scan finds a brand written inside one).
    Only letters are read as written: the matcher reads the digits of "mp3" as leetspeak."""
    pieces = _words_of(domain)
    near = [
        p for p in pieces if _skeleton_pairs(p.encode("ascii").translate(_FOLD).decode("ascii")) in near_words
    ]
    return bool(near) and all(piece.isalpha() and words.is_word(piece, words.TYPO_WORD) for piece in near)


def _words_of(domain: str) -> list[str]:
    """The words of a plain domain as written, lower-cased, its TLD left out (as ``_TLD`` does)."""
    name, dot, last = domain.lower().rpartition(".")
    return _PIECES.split(name if dot else last)


def _unread_lines(text: str) -> set[int]:
    """The lines of ``text`` the bulk fold is not trusted with, which the matcher reads whole:
    Unicode, punycode, URLs, spaces, and dots the TLD rule would misread (a label left empty, first
    or last). They are few, so matching them all is cheaper than folding them here."""
    unread = [m.start() for m in _SPECIAL.finditer(text)]
    for needle in ("xn--", "..", ".\n"):
        unread += _find_all(text, needle)
    unread += [position + 1 for position in _find_all(text, "\n.")]
    unread += [0] * text.startswith(".") + [len(text) - 1] * text.endswith(".")
    return _lines_at(text, unread)


def _line_numbers(text: str, positions: list[int]) -> list[int]:
    """The line number of each of ``positions`` (in increasing order) in ``text``."""
    numbers, line, previous = [], 0, 0
    for position in positions:
        line += text.count("\n", previous, position)
        previous = position
        numbers.append(line)
    return numbers


def _skeleton_pairs(text: str) -> str:
    for pair, letter in SKELETON_PAIRS:
        text = text.replace(pair, letter)
    return text


def _find_all(text: str, needle: str) -> list[int]:
    found, position = [], text.find(needle)
    while position != -1:
        found.append(position)
        position = text.find(needle, position + len(needle))
    return found


def _lines_at(text: str, positions: list[int]) -> set[int]:
    """The line numbers of ``positions`` in ``text``, counting newlines once through the text."""
    lines: set[int] = set()
    line, previous = 0, 0
    for position in sorted(positions):
        line += text.count("\n", previous, position)
        previous = position
        lines.add(line)
    return lines


class AnchoredLabels(NamedTuple):
    """The labels one two-typo anchor stands for, shortest first, with their lengths."""

    numbers: tuple[int, ...]
    lengths: tuple[int, ...]


def two_typo_anchors(skeleton: str, one_edit: Callable[[str], set[str]]) -> set[str]:
    """Strings one of which any whole word within two edits of ``skeleton`` holds, each tied to a
    word boundary so that few ordinary words hold one.

    Cut the label in three, long outer parts around a short middle (the longer an anchor, the fewer
    words hold it): two edits leave one part untouched. If it is the first part, the word starts
    with it (``|gall``); if the last, the word ends with it (``mard|``); if only the middle one, each
    of the others took exactly one edit, so the word starts with a one-edit variant of the first
    part followed by the middle one (``|gxlli``). (A transposition across two parts plus one more
    edit can break all three: those words are missed.)"""
    side = (len(skeleton) - 1) // 2
    first, middle, last = skeleton[:side], skeleton[side:-side], skeleton[-side:]
    return {f"|{first}", f"{last}|", *(f"|{variant}{middle}" for variant in one_edit(first) | {first})}
