"""Filler for the replica's feed files: realistic domain names that carry no demo brand, so a file can
hold the million rows a real feed does (a benchmark raises an app's ``filler`` count) while its hits
stay those of the seed.

Names are built as sellers build them: one to three common English or French words (wordfreq's lists,
shipped in its wheel), glued or hyphenated, sometimes with a number, under the TLDs marketplaces sell
most. Words near a demo brand (Gallimard, Folio) are left out, and so is any name spelling one.
"""

from __future__ import annotations

import base64
import functools
import random
import unicodedata
from collections.abc import Sequence
from typing import TypeVar

from rapidfuzz.distance import OSA
from wordfreq import top_n_list

# The replica's demo brands (brandcrawl/replica/demo_watch.toml), folded: filler must never carry one.
DEMO_BRANDS = ("gallimard", "folio")
# Weighted as registries' shares of aftermarket inventory roughly are: .com first.
TLDS = (
    ("com", 50), ("net", 8), ("org", 6), ("io", 4), ("co", 4), ("ai", 4), ("xyz", 4), ("fr", 3), ("de", 3),
    ("shop", 2), ("online", 2), ("store", 2), ("app", 2), ("info", 2), ("cc", 1), ("pro", 1), ("me", 1),
    ("us", 1),
)  # fmt: skip
SEED = 20261127
T = TypeVar("T")


@functools.cache
def words() -> tuple[str, ...]:
    """Common English and French words, ASCII-folded, 3 to 9 letters, none near a demo brand."""
    found: dict[str, None] = {}
    for language in ("en", "fr"):
        for word in top_n_list(language, 6000):
            folded = unicodedata.normalize("NFKD", word).encode("ascii", "ignore").decode("ascii")
            if folded.isalpha() and 3 <= len(folded) <= 9 and not _near_a_brand(folded):
                found.setdefault(folded.lower())
    return tuple(found)


def _near_a_brand(word: str) -> bool:
    return any(brand[:4] in word or OSA.distance(word, brand) <= 2 for brand in DEMO_BRANDS)


class Filler:
    """A deterministic stream of filler names and the figures rows need beside them, fast enough for
    a million rows in seconds (plain ``random()`` arithmetic; ``random.choices`` costs ten times more)."""

    def __init__(self, seed: int = SEED) -> None:
        generator = random.Random(seed)
        self.random, self.bits = generator.random, generator.getrandbits
        self.words = words()
        self.tlds = tuple(tld for tld, weight in TLDS for _ in range(weight))

    def domains(self, count: int) -> list[str]:
        """``count`` distinct names."""
        seen: dict[str, None] = {}
        while len(seen) < count:
            name = self.domain()
            if not any(brand in name.replace("-", "") for brand in DEMO_BRANDS):
                seen.setdefault(name)
        return list(seen)

    def domain(self) -> str:
        draw, words = self.random, self.words
        size = 1 if draw() < 0.2 else 3 if draw() < 0.25 else 2
        label = ("-" if draw() < 0.15 else "").join(self.pick(words) for _ in range(size))
        if draw() < 0.1:
            label += str(self.below(10_000))
        return f"{label}.{self.pick(self.tlds)}"

    def pick(self, values: Sequence[T]) -> T:
        """One of ``values``; repeat a value to weigh it."""
        return values[int(self.random() * len(values))]

    def below(self, stop: int) -> int:
        return int(self.random() * stop)

    def sale_id(self) -> str:
        """An id like Namecheap's sale ids ("2RWaPo3CJb32sMzrzpuQse")."""
        return base64.b64encode(self.bits(128).to_bytes(16), altchars=b"xK").decode("ascii")[:22]

    def amount(self, low: int, high: int) -> int:
        """Skewed to the low end, as aftermarket prices are."""
        return int(low + (high - low) * self.random() ** 4)


def spread(seed_lines: list[bytes], filler_lines: list[bytes]) -> list[bytes]:
    """The seed's lines spread evenly through the filler, as hits sit anywhere in a real file."""
    if not filler_lines:
        return list(seed_lines)
    step = max(len(filler_lines) // (len(seed_lines) + 1), 1)
    lines: list[bytes] = []
    for index, line in enumerate(seed_lines):
        lines += filler_lines[index * step : (index + 1) * step]
        lines.append(line)
    lines += filler_lines[len(seed_lines) * step :]
    return lines
