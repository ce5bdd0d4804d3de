"""What a listing sells, read from its title: a domain name, a social-media handle, or something else."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import idna
from publicsuffixlist import PublicSuffixList

# A short list of the suffixes brand squatters use most; the domain-feed issue brings the full
# Public Suffix List. Longer suffixes first so "co.uk" wins over "uk".
_SUFFIXES = sorted(
    (
        "com net org info biz io co ai app dev shop store online site xyz me tv cc ws club top vip pro "
        "fr de uk co.uk org.uk be ch at es it nl eu us ca au com.au nz pl pt se no dk fi ie lu mc ma tn sn "
        "ci ro cz ru jp cn in br mx ar"
    ).split(),
    key=len,
    reverse=True,
)
_DOMAIN = re.compile(
    r"(?<![\w@.-])((?:[a-z0-9\u00c0-\uffff](?:[a-z0-9\u00c0-\uffff-]{0,61}[a-z0-9\u00c0-\uffff])?\.)+"
    r"(?:" + "|".join(re.escape(s) for s in _SUFFIXES) + r"))(?![\w-]|\.\w)",
    re.IGNORECASE,
)
_PLATFORM_WORDS = {
    "x": ("twitter", "tweet", "x.com"),
    "instagram": ("instagram", "insta", "ig"),
    "tiktok": ("tiktok", "tik tok"),
    "youtube": ("youtube", "yt"),
    "facebook": ("facebook", "fb"),
    "twitch": ("twitch",),
    "snapchat": ("snapchat", "snap"),
}
# Paths of the platforms that are pages of theirs, not accounts (facebook.com/profile.php?id=…).
_NOT_HANDLES = (
    "profile.php|watch|channel|c|user|pages|groups|p|reel|reels|explore|hashtag|search|share|status|"
    "intent|home|i|login|shorts|playlist|results|video|tag|discover|directory|videos"
)
_PROFILE_URL = re.compile(
    r"(?:https?://)?(?:www\.|m\.)?(twitter\.com|x\.com|instagram\.com|tiktok\.com/@?|youtube\.com/@?|"
    rf"facebook\.com|twitch\.tv)/@?(?!(?:{_NOT_HANDLES})(?![A-Za-z0-9._]))([A-Za-z0-9._]{{2,30}})",
    re.IGNORECASE,
)
_HOST_PLATFORM = {
    "twitter": "x",
    "x": "x",
    "instagram": "instagram",
    "tiktok": "tiktok",
    "youtube": "youtube",
    "facebook": "facebook",
    "twitch": "twitch",
}
# A handle as the platforms allow it (letters, digits, _ and inner dots, up to 30), and one written with @.
HANDLE = re.compile(r"[A-Za-z0-9_](?:[A-Za-z0-9._]{0,28}[A-Za-z0-9_])?")
AT_HANDLE = re.compile(rf"(?<![\w.])@({HANDLE.pattern})")
# "IG: gallimard_officiel", "TikTok - gallimard.fr": a platform's name, a colon or dash, the handle.
_LABELLED_HANDLE = re.compile(
    r"\b(ig|insta|instagram|tiktok|tt|twitter|x|yt|youtube|fb|facebook|twitch|snap|snapchat)\s*[:\-–]\s*@?"
    r"([A-Za-z0-9_](?:[A-Za-z0-9._]{0,28}[A-Za-z0-9_])?)",
    re.IGNORECASE,
)
_LABELS = {
    "ig": "instagram",
    "insta": "instagram",
    "tt": "tiktok",
    "twitter": "x",
    "yt": "youtube",
    "fb": "facebook",
}
_LABELS |= {"snap": "snapchat"}


def canonical_platform(name: str) -> str:
    """One name per platform: "twitter" and "x" are x, "ig" and "insta" are instagram."""
    lowered = name.strip().lower()
    return _LABELS.get(lowered, lowered)


@dataclass(frozen=True)
class Asset:
    kind: str  # domain | handle | other
    value: str | None  # "gallimard-shop.net", "x:gallimard", or "@gallimard" when the platform is unknown
    written: str | None = None  # as the text has it: "@Gallimard", "x.com/Gallimard", "IG: gallimard"


NO_ASSET = Asset("other", None)
# A profile's address names the platform's own domain: that is no domain on sale.
_PLATFORM_DOMAINS = frozenset(
    {"twitter.com", "x.com", "instagram.com", "tiktok.com", "youtube.com", "facebook.com"}
)
# How far before a bare @handle a platform's name still says which platform it is on.
_PLATFORM_WINDOW = 60


@dataclass(frozen=True)
class DomainParts:
    """A domain as registries see it: ``gallimard-shop.co.uk`` is the label ``gallimard-shop`` under
    the public suffix ``co.uk``."""

    ascii: str  # lower case, punycode: "xn--gllimard-4sa.fr"
    unicode: str  # "gаllimard.fr"
    registrable: str  # "gallimard-shop.co.uk": what is bought, whatever subdomain is shown
    label: str  # "gallimard-shop"
    suffix: str  # "co.uk"


@functools.cache
def _public_suffixes() -> PublicSuffixList:
    # The list bundled with the package: no download, the same answer on every machine.
    return PublicSuffixList(only_icann=True)


def domain_parts(domain: str) -> DomainParts | None:
    """Split a domain by the Public Suffix List; None for a name under no known suffix."""
    ascii_name = ascii_host(domain)
    suffixes = _public_suffixes()
    suffix = suffixes.publicsuffix(ascii_name, accept_unknown=False)
    registrable = suffixes.privatesuffix(ascii_name, accept_unknown=False)
    if not suffix or not registrable:
        return None
    unicode_name = ".".join(unicode_label(label) for label in ascii_name.split("."))
    return DomainParts(ascii_name, unicode_name, registrable, registrable.removesuffix(f".{suffix}"), suffix)


def unicode_label(label: str) -> str:
    """A domain label as it reads: punycode (``xn--``) decoded, anything else as it is."""
    if not label.lower().startswith("xn--"):
        return label
    try:
        return idna.decode(label)
    except (idna.IDNAError, UnicodeError):
        pass
    try:  # registries hold some labels IDNA 2008 refuses; they still read as something
        return label[4:].encode("ascii").decode("punycode")
    except UnicodeError:
        return label


def ascii_host(host: str) -> str:
    """A host name as registries compare them: lower case, Unicode labels in punycode."""
    if host.isascii():
        # What IDNA gives an ASCII host, valid or not (its errors fall back to this too), ~100× faster.
        return host.strip(".").lower()
    try:
        return idna.encode(host.strip(".").lower(), uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return host.strip(".").lower()


def extract_asset(title: str) -> Asset:
    """The most specific asset a title offers: a profile URL or @handle, else a domain name."""
    found = extract_assets(title)
    return found[0] if found else NO_ASSET


def extract_assets(text: str, context: str = "") -> list[Asset]:
    """Every handle and domain a text names, most specific kind first (profile URLs, @handles,
    labelled handles, then domains), each once, in the order written within a kind.

    ``context`` (a listing's title, for its description) may say the platform the text does not.
    """
    assets: dict[str, Asset] = {}
    for found in _PROFILE_URL.finditer(text):
        host = found.group(1).split(".", 1)[0].lower()
        assets.setdefault(f"{_HOST_PLATFORM[host]}:{found.group(2).lower()}", Asset(
            "handle", f"{_HOST_PLATFORM[host]}:{found.group(2).lower()}", found.group(0)
        ))  # fmt: skip
    for found in AT_HANDLE.finditer(text):
        platform = _platform_near(text, found.start(), context)
        handle = found.group(1).lower()
        value = f"{platform}:{handle}" if platform else f"@{handle}"
        if not any(known.endswith(f":{handle}") for known in assets):  # "x.com/@gallimard" is known
            assets.setdefault(value, Asset("handle", value, found.group(0)))
    for found in _LABELLED_HANDLE.finditer(text):
        if _DOMAIN.fullmatch(found.group(2)):
            continue  # "X - gallimard.fr" names a domain
        value = f"{canonical_platform(found.group(1))}:{found.group(2).lower()}"
        assets.setdefault(value, Asset("handle", value, found.group(0)))
    for found in _DOMAIN.finditer(text):
        domain = found.group(1).lower().removeprefix("www.")
        if not any(domain == own or domain.endswith(f".{own}") for own in _PLATFORM_DOMAINS):
            assets.setdefault(domain, Asset("domain", domain, found.group(1)))
    return list(assets.values())


def _platform_near(text: str, position: int, context: str = "") -> str | None:
    """The platform a bare @handle is on: the last one named just before it, else the only one the
    text (and its context) names at all."""
    before = _platforms_named(text[max(0, position - _PLATFORM_WINDOW) : position])
    if before:
        return before[-1]
    anywhere = set(_platforms_named(f"{context} {text}"))
    return anywhere.pop() if len(anywhere) == 1 else None


def _platforms_named(text: str) -> list[str]:
    lowered = text.lower()
    named: list[tuple[int, str]] = []
    for platform, names in _PLATFORM_WORDS.items():
        for name in names:
            pattern = rf"(?<![a-z]){re.escape(name)}(?![a-z])"
            named.extend((found.start(), platform) for found in re.finditer(pattern, lowered))
    return [platform for _position, platform in sorted(named)]
