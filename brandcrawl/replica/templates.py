"""The replica's page templates: a tiny mustache-like syntax, and the search rule every site shares."""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from pathlib import Path

PAGES = Path(__file__).with_name("pages")

_SECTION = re.compile(r"\{\{([#^])(\w+)\}\}(.*?)\{\{/\2\}\}", re.S)
_VALUE = re.compile(r"\{\{(\{?)(\w+)\}?\}\}")


@functools.cache
def template(name: str) -> str:
    """A page template under ``pages/`` ("ebay/blocked.html")."""
    return (PAGES / name).read_text(encoding="utf-8")


def render(name: str, **ctx: object) -> str:
    """Fill a template: {{x}} escaped, {{{x}}} raw HTML, {{#x}}..{{/x}} if x, {{^x}}..{{/x}} if not."""
    text, previous = template(name), None
    while text != previous:  # nested sections resolve from the outside in
        previous, text = (
            text,
            _SECTION.sub(lambda m: m[3] if bool(ctx.get(m[2])) == (m[1] == "#") else "", text),
        )
    return _VALUE.sub(lambda m: str(ctx[m[2]]) if m[1] else html.escape(str(ctx[m[2]])), text)


def fold(text: str) -> str:
    """Case- and accent-fold; @ - _ . become spaces so handles and domains split into words."""
    text = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[@\-_.]", " ", "".join(c for c in text if not unicodedata.combining(c)))


def matches(query: str, text: str) -> bool:
    """A marketplace's keyword search: every word of the query is in the text."""
    words, folded = fold(query).split(), fold(text)
    return bool(words) and all(word in folded for word in words)
