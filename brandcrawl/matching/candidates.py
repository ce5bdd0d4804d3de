"""What part of a domain, handle or title can carry a brand, as text mapped back to the candidate."""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import pairwise

from brandcrawl.assets import ascii_host, canonical_platform, unicode_label
from brandcrawl.matching.text import Folded, fold

# Second-level labels under a country code that belong to the suffix (gallimard.co.uk, .com.au).
SECOND_LEVEL = frozenset("co com org net gov gouv ac edu ltd plc asso nom me".split())
WWW = re.compile(r"^w{2,3}\d*$")
# A bare domain as drop lists write them (most candidates; GoDaddy's in capitals): no URL, no
# Unicode, no punycode to read.
PLAIN_DOMAIN = re.compile(r"(?!.*xn--)[a-z0-9-]+(?:\.[a-z0-9-]+)+", re.IGNORECASE)
URL_PARTS = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]*@)?(?P<host>[^/:?#]*)", re.IGNORECASE)


@dataclass(frozen=True)
class Region:
    """The text a brand is looked for in, folded, with where each of its characters came from."""

    folded: Folded
    # Span in the candidate of each character of folded.original; None: the character at index i
    # is the candidate's character at ``offset + i`` (no punycode was decoded).
    sources: tuple[tuple[int, int], ...] | None
    decoded: tuple[tuple[str, str], ...] = ()  # punycode labels and what they read as
    platform: str | None = None
    host: str = ""  # a domain's whole host, lower-cased, without www
    offset: int = 0

    def candidate_span(self, text_start: int, text_end: int) -> tuple[int, int]:
        start, end = self.folded.original_span(text_start, text_end)
        if self.sources is None:
            return self.offset + start, self.offset + end
        return self.sources[start][0], self.sources[end - 1][1]


def domain_region(candidate: str) -> Region:
    """The labels of a domain before its public suffix, punycode decoded, ``www`` left out."""
    if PLAIN_DOMAIN.fullmatch(candidate):
        return _plain_domain_region(candidate)
    return _any_domain_region(candidate)


def _any_domain_region(candidate: str) -> Region:
    stripped = candidate.strip()
    host = URL_PARTS.match(stripped)
    host_text = host.group("host") if host else stripped
    # Offsets are in the candidate as given: leading spaces count.
    offset = (host.start("host") if host else 0) + len(candidate) - len(candidate.lstrip())
    labels, position = [], offset
    for raw in host_text.split("."):
        labels.append((raw, position))
        position += len(raw) + 1
    labels = [(raw, start) for raw, start in labels if raw]
    while len(labels) > 2 and WWW.match(labels[0][0].lower()):
        labels = labels[1:]
    host_name = ascii_host(".".join(raw for raw, _ in labels))
    labels = labels[: _suffix_start([raw for raw, _ in labels])]
    texts = [unicode_label(raw) for raw, _ in labels]
    decoded = [(raw, text) for (raw, _), text in zip(labels, texts, strict=True) if text != raw]
    side_by_side = all(a[1] + len(a[0]) + 1 == b[1] for a, b in pairwise(labels))
    if not decoded and side_by_side:
        # The labels stand side by side in the candidate, dots and all: an offset maps them back.
        start = labels[0][1] if labels else 0
        return Region(fold(".".join(raw for raw, _ in labels)), None, host=host_name, offset=start)
    pieces, sources = [], []
    for number, ((raw, start), text) in enumerate(zip(labels, texts, strict=True)):
        if number:
            pieces.append(".")
            sources.append((start - 1, start))
        if text != raw:
            sources.extend([(start, start + len(raw))] * len(text))
        else:
            sources.extend((start + index, start + index + 1) for index in range(len(raw)))
        pieces.append(text)
    return Region(fold("".join(pieces)), tuple(sources), tuple(decoded), host=host_name)


def _plain_domain_region(domain: str) -> Region:
    """``domain_region`` of a domain ``PLAIN_DOMAIN`` matches, without what it cannot hold."""
    labels, offset = domain.split("."), 0
    while len(labels) > 2 and WWW.match(labels[0].lower()):
        offset += len(labels.pop(0)) + 1
    host = domain[offset:].lower()
    return Region(fold(".".join(labels[: _suffix_start(labels)])), None, host=host, offset=offset)


def handle_region(candidate: str) -> Region:
    """A handle, with or without ``@``, and an optional ``platform:`` in front."""
    platform, colon, handle = candidate.rpartition(":")
    offset = len(platform) + len(colon)
    return Region(fold(handle), None, platform=canonical_platform(platform) or None, offset=offset)


def title_region(candidate: str) -> Region:
    return Region(fold(candidate), None)


REGIONS = {"domain": domain_region, "handle": handle_region, "title": title_region}


def _suffix_start(labels: list[str]) -> int:
    """How many labels come before the public suffix (at least one is kept)."""
    if len(labels) <= 1:
        return len(labels)
    keep = len(labels) - 1
    if len(labels) > 2 and len(labels[-1]) == 2 and labels[-2].lower() in SECOND_LEVEL:
        keep -= 1
    return keep
