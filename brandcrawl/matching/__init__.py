"""Brand matching: does a listing's domain, handle or title carry a watched brand, or a disguise of it?

``BrandMatcher.from_watch(config).match(candidate, kind)`` with kind ``domain``, ``handle`` or
``title`` returns the matches, each naming the brand, the rule, the matched span, a score and a
one-line explanation. See ``matcher.py`` for the rule and ``text.py`` for how text is folded.
"""

from brandcrawl.matching.matcher import KINDS, BrandMatcher, Match
from brandcrawl.matching.text import label

__all__ = ["KINDS", "BrandMatcher", "Match", "label"]
