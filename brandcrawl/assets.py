"""What a listing sells, read from its title: a domain name, a social-media handle, or something else."""

from __future__ import annotations

import re
from dataclasses import dataclass

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
_PROFILE_URL = re.compile(
    r"(?:https?://)?(?:www\.)?(twitter\.com|x\.com|instagram\.com|tiktok\.com/@?|youtube\.com/@?|"
    r"facebook\.com|twitch\.tv)/@?([A-Za-z0-9._]{2,30})",
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
_AT_HANDLE = re.compile(r"(?<![\w.])@([A-Za-z0-9_](?:[A-Za-z0-9._]{0,28}[A-Za-z0-9_])?)")
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


def extract_asset(title: str) -> Asset:
    """The most specific asset a title offers: a profile URL or @handle, else a domain name."""
    if found := _PROFILE_URL.search(title):
        host = found.group(1).split(".", 1)[0].lower()
        return Asset("handle", f"{_HOST_PLATFORM[host]}:{found.group(2).lower()}")
    if found := _AT_HANDLE.search(title):
        platform = _platform_in(title)
        handle = found.group(1).lower()
        return Asset("handle", f"{platform}:{handle}" if platform else f"@{handle}")
    if (found := _LABELLED_HANDLE.search(title)) and not _DOMAIN.fullmatch(found.group(2)):
        platform = found.group(1).lower()
        return Asset("handle", f"{canonical_platform(platform)}:{found.group(2).lower()}")
    if found := _DOMAIN.search(title):
        return Asset("domain", found.group(1).lower().removeprefix("www."))
    return Asset("other", None)


def _platform_in(title: str) -> str | None:
    words = set(re.findall(r"[a-z]+(?:\.com)?", title.lower()))
    spaced = f" {title.lower()} "
    for platform, names in _PLATFORM_WORDS.items():
        if any(name in words or (" " in name and f" {name} " in spaced) for name in names):
            return platform
    return None
