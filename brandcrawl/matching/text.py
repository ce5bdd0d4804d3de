"""Folding text into comparable letters, remembering where each one came from.

Two views of a candidate are compared with a brand:
- ``text``: letters as a reader sees them (accents folded, look-alike scripts and leetspeak read as
  Latin), used for words, affixes and typos;
- ``skeleton``: ``text`` with the look-alikes a reader cannot tell apart merged (``i``/``l``,
  ``rn``/``m``, ``vv``/``w``), used to find the brand.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

# Leetspeak, read only next to a letter: "ga11imard" is gallimard, "2024" stays a number.
LEET = {"0": "o", "1": "l", "3": "e", "4": "a", "5": "s", "7": "t", "8": "b", "9": "g"}
# Symbols read as letters between letters ("g@llimard"); elsewhere they separate words.
LEET_SYMBOLS = {"@": "a", "$": "s", "!": "l", "|": "l"}
NUMBER_WITH_UNIT = re.compile(r"\d+(?:[kmb]|st|nd|rd|th|er|e|eme|k?m)")
# Pairs a reader takes for one letter, and letters a reader takes for each other (a single-storey
# g is a q with its tail bent: dnstwist's homoglyphs and real squats use q for g).
SKELETON_PAIRS = (("rn", "m"), ("vv", "w"))
SKELETON_LETTERS = str.maketrans({"i": "l", "q": "g"})
# ASCII letters, digits and plain separators only: no symbol or non-ASCII character to read (most
# domains).
PLAIN = re.compile(r"[A-Za-z0-9.\-_ ]*")
WORD_RUN = re.compile(r"[A-Za-z0-9]+")
LEET_DIGITS = str.maketrans(LEET)
_ONE_WORD = frozenset({0})  # the word starts of a text that is one word


@dataclass(frozen=True)
class Folded:
    """A candidate folded for matching; indexes map back to the original string."""

    original: str
    text: str
    origin: tuple[int, ...]  # original index of each text character
    starts: frozenset[int]  # text indexes where a word starts (a separator or the start before it)
    skeleton: str
    skeleton_to_text: tuple[int, ...]  # text index of each skeleton character, plus len(text)

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original string behind ``text[start:end]``."""
        return self.origin[start], self.origin[end - 1] + 1

    def text_span(self, start: int, end: int) -> tuple[int, int]:
        """The span of ``text`` behind ``skeleton[start:end]``."""
        return self.skeleton_to_text[start], self.skeleton_to_text[end]

    def word_bounds(self, start: int, end: int) -> tuple[int, int]:
        """Where the words holding ``text[start:end]`` begin and end."""
        left = max((s for s in self.starts if s <= start), default=0)
        right = min((s for s in self.starts if s >= end), default=len(self.text))
        return left, right


@cache
def confusable_latin() -> dict[str, str]:
    """Characters that look like a Latin letter or digit (Unicode TR39 data) → that letter."""
    data = json.loads(files("confusable_homoglyphs").joinpath("confusables.json").read_text(encoding="utf-8"))
    table: dict[str, str] = {}
    for latin in "abcdefghijklmnopqrstuvwxyz0123456789":
        for key in (latin, latin.upper()):
            for entry in data.get(key, ()):
                char = entry["c"]
                if len(char) == 1 and not char.isascii():
                    table.setdefault(char, latin)
    return table


# Look-alikes TR39 does not list as confusable with a Latin letter, seen in homograph attacks.
EXTRA_LOOK_ALIKES = {
    "ə": "e",
    "т": "t",
    "к": "k",
    "ƿ": "p",
    "ƅ": "b",
    "ɍ": "r",
    "ŋ": "n",
    "ǝ": "e",
    "ԍ": "g",
    "ь": "b",
    "ъ": "b",
    "ɩ": "i",
    "ı": "i",
    "ȷ": "j",
    "ø": "o",
    "œ": "oe",
}


@cache
def fold_char(char: str) -> str | None:
    """Lower-case Latin letters and digits for one character; "" for a mark; None for a separator."""
    if char.isascii():
        lowered = char.lower()
        return lowered if lowered.isalnum() else None
    if unicodedata.combining(char):
        return ""
    letters = []
    for part in unicodedata.normalize("NFKD", char):
        if unicodedata.combining(part):
            continue
        latin = _latin(part)
        if latin is None:
            if not part.isalpha():
                return None
            # A letter of another script that looks like no Latin one: still a letter of the word,
            # never equal to a brand's (a typo of one at most).
            latin = part.casefold()
        letters.append(latin)
    return "".join(letters) or None


def _latin(char: str) -> str | None:
    """The Latin letter(s) one decomposed character reads as: é's e, æ's ae, Cyrillic а's a."""
    if char.isascii():
        return char.lower() if char.isalnum() else None
    for candidate in (char, char.lower()):
        if found := confusable_latin().get(candidate) or EXTRA_LOOK_ALIKES.get(candidate):
            return found
    folded = char.casefold()
    if folded.isascii() and folded.isalnum():
        return folded  # ß → ss
    # "LATIN SMALL LETTER O WITH STROKE", "LATIN LETTER SMALL CAPITAL G": the letter it is built on.
    words = unicodedata.name(char, "").split()
    if words[:1] == ["LATIN"] and "LETTER" in words:
        letter = [word for word in words[words.index("LETTER") + 1 :] if word not in ("SMALL", "CAPITAL")]
        if letter and len(letter[0]) <= 2 and letter[0].isalpha():
            return letter[0].lower()  # "G", and "AE" for æ
    return None


def fold(original: str) -> Folded:
    """Fold ``original`` into ``text`` and ``skeleton`` (see the module docstring)."""
    if original.isascii() and PLAIN.fullmatch(original):
        return _fold_plain(original)
    pieces = [(index, char, fold_char(char)) for index, char in enumerate(original)]
    mixed = _runs_with_letters(pieces)
    chars: list[str] = []
    origin: list[int] = []
    starts: set[int] = {0}
    for position, (index, char, folded) in enumerate(pieces):
        if folded is None and char in LEET_SYMBOLS and _letter_on_both_sides(pieces, position):
            folded = LEET_SYMBOLS[char]
        elif folded is not None and folded in LEET and mixed[position]:
            folded = LEET[folded]
        if folded is None:
            starts.add(len(chars))
            continue
        for letter in folded:
            chars.append(letter)
            origin.append(index)
    text = "".join(chars)
    skeleton, skeleton_to_text = _skeleton(text, starts)
    return Folded(original, text, tuple(origin), frozenset(starts), skeleton, skeleton_to_text)


def _fold_plain(original: str) -> Folded:
    """``fold`` for letters and digits between separators, the bulk path's usual candidate, without
    reading character by character: each run of them is a word, lower-cased, its digits read as
    leetspeak where it mixes them with letters, and nothing else is kept."""
    if original.isalpha():  # one word of letters (most domains): the text is the word, lower-cased
        text = original.lower()
        skeleton, skeleton_to_text = _skeleton(text, _ONE_WORD)
        return Folded(original, text, tuple(range(len(text))), _ONE_WORD, skeleton, skeleton_to_text)
    chars: list[str] = []
    origin: list[int] = []
    starts = {0}
    length = 0
    for run in WORD_RUN.finditer(original):
        start, end = run.span()
        if start:
            starts.add(length)  # a separator came before this word
        word = run.group().lower()
        if not word.isalpha() and not word.isdigit() and not NUMBER_WITH_UNIT.fullmatch(word):
            word = word.translate(LEET_DIGITS)
        chars.append(word)
        origin.extend(range(start, end))
        length += end - start
    if not origin or origin[-1] < len(original) - 1:
        starts.add(length)  # separators after the last word (or nothing but separators)
    text = "".join(chars)
    skeleton, skeleton_to_text = _skeleton(text, starts)
    return Folded(original, text, tuple(origin), frozenset(starts), skeleton, skeleton_to_text)


def _runs_with_letters(pieces: list[tuple[int, str, str | None]]) -> list[bool]:
    """For each character, whether its word mixes letters with digits and so reads as leetspeak:
    "70ta1" does; "2024" and a count with its unit ("139k", "12K", "2nd", "3eme") do not."""
    flags = [False] * len(pieces)
    start = 0
    for end in range(len(pieces) + 1):
        if end == len(pieces) or pieces[end][2] is None:
            run = pieces[start:end]
            word = "".join(piece[2] or "" for piece in run)
            leet = any(_is_letter(piece) for piece in run) and not NUMBER_WITH_UNIT.fullmatch(word)
            for position in range(start, end):
                flags[position] = leet
            start = end + 1
    return flags


def label(written: str) -> str:
    """A brand's label: ``société générale`` → ``societegenerale``, ``l'oréal`` → ``loreal``."""
    return fold(written).text


def skeleton_of(text: str) -> str:
    return _skeleton(text, frozenset())[0]


def _skeleton(text: str, starts: set[int] | frozenset[int]) -> tuple[str, tuple[int, ...]]:
    merged = text.translate(SKELETON_LETTERS)
    if "rn" not in merged and "vv" not in merged:
        return merged, tuple(range(len(text) + 1))
    out: list[str] = []
    to_text: list[int] = []
    index = 0
    while index < len(merged):
        for pair, letter in SKELETON_PAIRS:
            # Never across two words: "twitter netflix" has no m.
            if merged.startswith(pair, index) and index + 1 not in starts:
                out.append(letter)
                to_text.append(index)
                index += len(pair)
                break
        else:
            out.append(merged[index])
            to_text.append(index)
            index += 1
    to_text.append(len(text))
    return "".join(out), tuple(to_text)


def _is_letter(piece: tuple[int, str, str | None]) -> bool:
    folded = piece[2]
    return bool(folded) and folded.isalpha()


def _letter_on_both_sides(pieces: list[tuple[int, str, str | None]], position: int) -> bool:
    return (
        0 < position < len(pieces) - 1
        and _is_letter(pieces[position - 1])
        and _is_letter(pieces[position + 1])
    )
