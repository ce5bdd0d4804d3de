"""Two peer matchers with the shape ``match(candidate, kind) -> set[brand name]``.

- ``DnstwistMatcher``: per brand, every permutation dnstwist's offline ``Fuzzer`` generates for
  ``{label}.com`` (all fuzzers, with a small affix 'dictionary' and TLD list), then exact look-up of
  the candidate's registrable part; for handles and titles, of every token (and 2-3 token joins).
- ``OpenSquatMatcher``: openSquat's own detection code, ``opensquat.squatting_detector.
  SquattingDetector(confidence_level=1).check(keyword, domains)`` (the CLI default confidence is 1),
  one call per keyword, domains lower-cased as its feed reader does. Handles and titles are split
  into tokens, each token given to it as a "domain".

Both get the brands' official domains/handles and exclusion phrases applied after matching (any
deployment would whitelist those), so the comparison is about matching alone. No DNS, no network:
``dns_validator`` is None and ``doppelganger_only`` False (the only paths that reach the network).
"""

from __future__ import annotations

import io
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evalset import DNSTWIST_DICTIONARY, DNSTWIST_TLDS, fold, is_official

from brandcrawl.config import Brand

# Public suffixes of more than one label that the generated feeds use (the rest: the last label).
MULTI_SUFFIXES = frozenset({"co.uk", "org.uk", "com.fr", "com.br", "co.jp", "com.au", "com.cn", "co.in"})
_TOKEN_SPLIT = re.compile(r"[\s,;:!?()\[\]\"'/|]+")
_PART_SPLIT = re.compile(r"[._\-]+")


def _strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _to_ascii(text: str) -> str:
    """IDNA-encode a (possibly Unicode) dotted name the way dnstwist stores its permutations."""
    if text.isascii():
        return text
    out = []
    for label in text.split("."):
        if label.isascii():
            out.append(label)
            continue
        try:
            out.append(label.encode("idna").decode("ascii"))
        except UnicodeError:
            out.append("xn--" + label.encode("punycode").decode("ascii"))
    return ".".join(out)


def _brands(items: Iterable[Brand | str]) -> list[Brand]:
    return [item if isinstance(item, Brand) else Brand(item) for item in items]


class _OwnListFilter:
    """What any deployment of a peer adds: never report a brand's own domain/handle or a candidate
    holding one of its exclusion phrases (same semantics as the watch file)."""

    def __init__(self, brands: list[Brand]) -> None:
        self.by_name = {b.name: b for b in brands if b.official_domains or b.official_handles or b.exclusions}
        self.exclusions = {b.name: [fold(p) for p in b.exclusions] for b in brands if b.exclusions}

    def __call__(self, found: set[str], candidate: str, kind: str) -> set[str]:
        if not found or not self.by_name:
            return found
        kept = set()
        for name in found:
            brand = self.by_name.get(name)
            if brand is not None:
                if kind != "title" and is_official(brand, candidate, kind):
                    continue
                if any(p in fold(candidate) for p in self.exclusions.get(name, ())):
                    continue
            kept.add(name)
        return kept


def split_suffix(domain: str) -> tuple[str, str]:
    """``galli.mard.co.uk`` → ``("galli.mard", "co.uk")``."""
    head, _, last = domain.rpartition(".")
    if not head:
        return domain, ""
    body, _, second = head.rpartition(".")
    if body and f"{second}.{last}" in MULTI_SUFFIXES:
        return body, f"{second}.{last}"
    return head, last


class DnstwistMatcher:
    """Precomputed dnstwist permutations per brand, exact look-up."""

    def __init__(self, brands: Iterable[Brand | str]) -> None:
        import dnstwist

        self.index: dict[str, str] = {}
        listed = _brands(brands)
        self.own_list = _OwnListFilter(listed)
        for brand in listed:
            name = brand.name
            label = fold(name)
            if not label:
                continue
            fuzzer = dnstwist.Fuzzer(
                f"{label}.com", dictionary=list(DNSTWIST_DICTIONARY), tld_dictionary=list(DNSTWIST_TLDS)
            )
            fuzzer.generate()
            for perm in fuzzer.domains:
                key, _ = split_suffix(perm["domain"])
                self.index.setdefault(key, name)
            self.index.setdefault(label, name)
        self.permutations = len(self.index)

    def _lookup_domain(self, domain: str, found: set[str]) -> None:
        domain = _to_ascii(domain.strip().lower().rstrip("."))
        body, _ = split_suffix(domain)
        for key in (body, body.removeprefix("www."), body.rpartition(".")[2]):
            if (name := self.index.get(key)) is not None:
                found.add(name)

    def _lookup_token(self, token: str, found: set[str]) -> None:
        token = token.strip(".,;:!?()[]\"'@").lower()
        if not token:
            return
        if "." in token:
            self._lookup_domain(token, found)
        for key in {token, _to_ascii(token), _strip_accents(token)}:
            if (name := self.index.get(key)) is not None:
                found.add(name)
        for part in _PART_SPLIT.split(token):
            if part and (name := self.index.get(_to_ascii(part))) is not None:
                found.add(name)

    def match(self, candidate: str, kind: str) -> set[str]:
        """The brands one of whose precomputed permutations the candidate (or a token of it) is."""
        found: set[str] = set()
        if kind == "domain":
            self._lookup_domain(candidate, found)
        elif kind == "handle":
            self._lookup_token(candidate.rpartition(":")[2], found)
        else:
            tokens = [t for t in _TOKEN_SPLIT.split(candidate) if t]
            for token in tokens:
                self._lookup_token(token, found)
            words = [fold(t) for t in tokens]
            for size in (2, 3):  # multi-word brands written as words: "Société Générale"
                for start in range(len(words) - size + 1):
                    if (name := self.index.get("".join(words[start : start + size]))) is not None:
                        found.add(name)
        return self.own_list(found, candidate, kind)

    def match_domains(self, domains: Iterable[str]) -> Iterator[int]:
        """Bulk path for the speed benchmark (lower-case ASCII feeds): indexes of the hits."""
        index = self.index
        for position, domain in enumerate(domains):
            body = domain.rpartition(".")[0]
            if (
                body in index
                or body.rpartition(".")[2] in index
                or ("." in body and split_suffix(domain)[0] in index)
            ):
                yield position


class OpenSquatMatcher:
    """openSquat 2.3.1's ``SquattingDetector.check`` (Levenshtein ≤ 1 on the part before the first
    dot, homograph mapping to Latin, keyword-anywhere-in-the-domain), keywords = brand labels."""

    def __init__(self, brands: Iterable[Brand | str], confidence_level: int = 1) -> None:
        from opensquat.squatting_detector import SquattingDetector

        self.detector = SquattingDetector(confidence_level=confidence_level)
        self.keywords: dict[str, str] = {}
        listed = _brands(brands)
        self.own_list = _OwnListFilter(listed)
        for brand in listed:
            if label := fold(brand.name):
                self.keywords.setdefault(label, brand.name)

    @staticmethod
    def _domains_of(candidate: str, kind: str) -> list[str]:
        if kind == "domain":
            return [candidate.lower().strip()]
        if kind == "handle":
            return [candidate.rpartition(":")[2].lower().strip().lstrip("@")]
        tokens = (t.strip(".,;:!?()[]\"'@").lower() for t in _TOKEN_SPLIT.split(candidate))
        return [t for t in tokens if t]

    def check_many(self, domains: Sequence[str]) -> dict[str, set[str]]:
        """openSquat's own loop: every keyword against the whole list; domain → brands."""
        hits: dict[str, set[str]] = {}
        sink = io.StringIO()
        for keyword, name in self.keywords.items():
            for domain in self.detector.check(keyword, list(domains), sink):
                hits.setdefault(domain, set()).add(name)
            sink.seek(0)
            sink.truncate()
        return hits

    def match(self, candidate: str, kind: str) -> set[str]:
        """The brands openSquat reports for the candidate (any token of it)."""
        found: set[str] = set()
        for names in self.check_many(self._domains_of(candidate, kind)).values():
            found |= names
        return self.own_list(found, candidate, kind)

    def match_records(self, candidates: Sequence[tuple[str, str]]) -> list[set[str]]:
        """``match`` for many ``(candidate, kind)`` at once, batched the way openSquat runs."""
        pieces = [self._domains_of(c, k) for c, k in candidates]
        unique = sorted({d for ds in pieces for d in ds})
        hits = self.check_many(unique)
        return [
            self.own_list(set().union(*(hits.get(d, set()) for d in ds)), candidate, kind)
            for ds, (candidate, kind) in zip(pieces, candidates, strict=True)
        ]
