"""Build the labelled evaluation set for the brand matcher, deterministically.

Each record is ``(candidate, kind, expected, family)``: ``expected`` is the watched brand's name (as
passed to ``BrandMatcher``) for a positive, ``None`` for a negative. The labels follow the rule of
the matcher issue (a brand token or a recognisable variant of it, not an ordinary word; common-word
brands only exactly or with a commerce affix). Variants come from dnstwist's offline ``Fuzzer`` plus
our own affix/handle/title/IDN generators; negatives from wordfreq word combinations and hard
near-misses. The set is cached as JSON lines in ``benchmarks/data/evalset.jsonl``.

Run ``python benchmarks/evalset.py --rebuild`` to regenerate and print a summary.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import random
import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

import dnstwist
import idna
from rapidfuzz.distance import OSA
from rapidfuzz.process import extract
from wordfreq import top_n_list, zipf_frequency

from brandcrawl.config import Brand, OfficialHandle

SEED = 20250130
VERSION = 4  # bump when the generator changes, so a stale cache is rebuilt
DATA_DIR = Path(__file__).resolve().parent / "data"
CACHE = DATA_DIR / "evalset.jsonl"
KINDS = ("domain", "handle", "title")


class Record(NamedTuple):
    """One labelled candidate."""

    candidate: str
    kind: str  # "domain" | "handle" | "title"
    expected: str | None  # brand name for a positive, None for a negative
    family: str


# --- The watch list ---------------------------------------------------------------------------

_H = OfficialHandle
BRANDS: tuple[Brand, ...] = (
    # Long, distinctive, French and English.
    Brand(
        "Gallimard",
        official_domains=("gallimard.fr",),
        official_handles=(_H(None, "editionsgallimard"),),
    ),
    Brand("Société Générale", official_domains=("societegenerale.fr", "societegenerale.com")),
    Brand("L'Oréal", official_domains=("loreal.com", "loreal.fr")),
    Brand("Decathlon", official_domains=("decathlon.fr",), official_handles=(_H("x", "decathlon"),)),
    Brand("Carrefour", official_domains=("carrefour.fr",)),
    Brand("Michelin", exclusions=("guide michelin",)),
    Brand("Peugeot"),
    Brand("Renault"),
    Brand("Hermès", exclusions=("hermes parcel", "myhermes")),
    Brand("Chanel"),
    Brand("Louboutin"),
    Brand("Lacoste"),
    Brand("Sephora", official_handles=(_H("instagram", "sephorafrance"),)),
    Brand("Ubisoft"),
    Brand("Dailymotion"),
    Brand("Leboncoin", official_domains=("leboncoin.fr",)),
    Brand("Doctolib", official_domains=("doctolib.fr",)),
    Brand("BlaBlaCar"),
    Brand("Deezer"),
    Brand("La Poste", official_domains=("laposte.fr", "laposte.net")),
    Brand("Crédit Agricole"),
    Brand("Galeries Lafayette"),
    Brand("Air France"),
    Brand("Yves Rocher"),
    Brand("Bouygues"),
    Brand("PayPal", official_domains=("paypal.com",)),
    Brand("Netflix"),
    Brand("Spotify"),
    Brand("Airbnb"),
    # Short, distinctive.
    Brand("Nike"),
    Brand("Lego"),
    Brand("Uber"),
    Brand("IKEA"),
    Brand("SNCF", official_domains=("sncf.com", "sncf-connect.com")),
    Brand("AXA"),
    Brand("BNP"),
    Brand("Fnac"),
    Brand("Zara"),
    Brand("Dior"),
    # Ordinary words: only the exact label or with a commerce affix.
    Brand("Apple", official_domains=("apple.com",), common_word=True),
    Brand("Orange", official_domains=("orange.fr",), exclusions=("orange county",), common_word=True),
    Brand("Free", official_domains=("free.fr",), common_word=True),
    Brand("Amazon", exclusions=("amazon rainforest",), common_word=True),
    Brand("Folio", official_domains=("folio-lesite.fr",), common_word=True),
    Brand("Le Monde", official_domains=("lemonde.fr",), common_word=True),
    Brand("Total", common_word=True),
    Brand("Shell", common_word=True),
    Brand("Gap", common_word=True),
    Brand("Coach", common_word=True),
    Brand("Target", common_word=True),
)

# The commerce/brand affixes the issue names (plus a few unambiguous ones): the only affixes that
# make a common-word brand a hit.
COMMERCE_AFFIXES = (
    "official",
    "officiel",
    "shop",
    "store",
    "login",
    "compte",
    "support",
    "app",
    "fr",
    "boutique",
    "account",
    "online",
)
# Given to dnstwist as its 'dictionary' and 'tld_dictionary' (the peer uses the same lists).
DNSTWIST_DICTIONARY = ("shop", "store", "official", "login", "app", "online", "support", "secure")
DNSTWIST_TLDS = ("net", "org", "fr", "shop", "store", "io", "co", "eu", "info", "online")
# Drop-list-like TLD mix for generated domains.
TLD_MIX = (
    ("com", 50),
    ("net", 8),
    ("org", 6),
    ("fr", 10),
    ("shop", 3),
    ("store", 2),
    ("online", 3),
    ("io", 2),
    ("co", 2),
    ("eu", 2),
    ("info", 3),
    ("co.uk", 3),
    ("de", 3),
    ("xyz", 3),
)
PLATFORMS = ("x", "instagram", "tiktok", "youtube", "twitch", "facebook")
DNSTWIST_FAMILIES = (
    "addition",
    "bitsquatting",
    "cyrillic",
    "homoglyph",
    "hyphenation",
    "insertion",
    "omission",
    "plural",
    "repetition",
    "replacement",
    "subdomain",
    "transposition",
    "vowel-swap",
    "dictionary",
    "tld-swap",
    "various",
)
# dnstwist families that stay positives for common-word brands (disguises of the exact label, or
# the exact label with a commerce word); typos of an ordinary word are left out of the set.
COMMON_WORD_DNSTWIST = ("cyrillic", "homoglyph", "dictionary", "tld-swap")
TYPO_FUZZERS = (
    "addition",
    "bitsquatting",
    "insertion",
    "omission",
    "repetition",
    "replacement",
    "transposition",
    "vowel-swap",
)
LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7", "l": "1", "g": "9", "b": "8"}
# Look-alike characters for IDN variants: Cyrillic, Greek and accented Latin.
CONFUSABLE = {
    "a": ("а", "à", "á", "ɑ"),
    "c": ("с", "ç"),
    "d": ("ԁ",),
    "e": ("е", "é", "è", "ё"),
    "h": ("һ",),
    "i": ("і", "í", "ï"),
    "j": ("ј",),
    "k": ("κ",),
    "n": ("ñ",),
    "o": ("о", "ο", "ó", "ö"),
    "p": ("р",),
    "s": ("ѕ",),
    "u": ("ü", "ù", "υ"),
    "x": ("х",),
    "y": ("у",),
}

# Product words that make a common-word brand + word compound about the brand after all (appletv).
PRODUCT_AFFIXES = frozenset(
    {"tv", "pay", "music", "id", "watch", "care", "basics", "prime", "box", "mobile", "energies", "news"}
)
DOMAINISH = frozenset({"com", "net", "org", "fr", "www", "app"})
# Other real brands that look like a watched one (hard near-misses).
LOOKALIKE_BRANDS = {
    "SNCF": ("sncb",),
    "PayPal": ("paypay", "payplug"),
    "Nike": ("nikon",),
    "AXA": ("axe", "axalta"),
    "Apple": ("snapple", "applebees"),
    "Orange": ("orangina", "orangetheory"),
    "Spotify": ("shopify",),
    "Airbnb": ("airbus",),
    "Michelin": ("michelob", "michelina"),
    "Fnac": ("fnaim",),
    "Deezer": ("dezeen",),
    "Amazon": ("amazfit",),
    "Chanel": ("chantelle",),
    "Target": ("targus",),
    "Coach": ("coachella",),
    "Uber": ("uberti",),
    "Lacoste": ("lacrosse",),
    "Zara": ("zora",),
}
# Common-word brands used in their ordinary sense ({} is where the brand goes).
ORDINARY_SENSE = {
    "Apple": ("{} tree", "{} pie", "{} juice", "{} orchard", "{} cider", "{} crumble", "big {}", "{} seeds"),
    "Orange": ("{} juice", "{} peel", "{} marmalade", "{} blossom", "jus d {}", "{} sanguine", "{} tree"),
    "Free": ("{} sample", "{} trial", "{} fonts", "{} games", "{} recipes", "{} range eggs", "{} hugs"),
    "Amazon": ("{} river", "{} parrot", "{} jungle", "{} basin", "{} tribe", "{} expedition"),
    "Folio": ("{} case", "{} leather", "{} binder", "ipad {} cover", "{} paper"),
    "Le Monde": ("tout {}", "bonjour {}", "{} entier", "{} du vin", "{} des enfants", "autour de {}"),
    "Total": ("{} eclipse", "{} recall", "{} fitness", "{} control", "prix {}", "{} look"),
    "Shell": ("{} beach", "{} script", "{} jewelry", "sea {} art", "{} collection", "hermit crab {}"),
    "Gap": ("{} year", "{} analysis", "{} filler", "mind the {}", "{} insurance", "{} bridge"),
    "Coach": ("{} trip", "{} tours", "life {}", "{} sportif", "business {}", "{} holidays"),
    "Target": ("{} practice", "{} audience", "{} market", "{} shooting", "archery {}", "{} zero"),
}
PASSING_MENTIONS = {
    "PayPal": ("PayPal accepted", "payment via PayPal only", "paiement PayPal accepté", "PayPal ou virement"),
    "Free": ("Free delivery", "free shipping worldwide", "Free transfer included", "free escrow"),
    "Apple": ("compatible with Apple devices", "works on Apple and Android", "compatible Apple et Android"),
    "La Poste": ("envoi par La Poste", "envoi suivi La Poste", "remise en main propre ou La Poste"),
    "Leboncoin": ("annonce aussi sur Leboncoin", "vu sur leboncoin", "paiement sécurisé Leboncoin"),
    "Amazon": ("also listed on Amazon", "cheaper than Amazon", "invoice from Amazon available"),
    "Orange": ("colour: orange", "couleur orange", "orange and black theme"),
    "Total": ("total price negotiable", "prix total négociable", "total 3 items"),
    "Target": ("target audience: moms", "public cible / target 18-25"),
    "Coach": ("ideal for a fitness coach", "parfait pour un coach sportif"),
}
GENERIC_LISTINGS_EN = (
    "Vintage leather jacket size M",
    "Instagram cooking page 25k followers",
    "Domain bestrecipes.net for sale",
    "Used road bike 54cm",
    "Aged Twitter account 2012 with 3k followers",
    "Lot of 20 paperback novels",
    "Premium domain homegarden.io",
    "TikTok travel account 40k followers",
    "Gaming YouTube channel monetized",
    "Three seat grey sofa",
)
GENERIC_LISTINGS_FR = (
    "Veste en cuir vintage taille M",
    "Compte Instagram cuisine 25k abonnés",
    "Nom de domaine jardinage.fr à vendre",
    "Vélo de course taille 54",
    "Lot de 20 livres de poche",
    "Compte TikTok voyage 40k abonnés",
    "Chaîne YouTube jeux vidéo monétisée",
    "Canapé 3 places gris",
    "Page Facebook recettes 12 000 mentions j'aime",
    "Domaine premium immobilier-paris.com",
)

TITLES_EN = (
    "Premium domain {DOMAIN} for sale",
    "Instagram page @{h} {k}k followers",
    "Selling Twitter account @{h} - {n_en} followers",
    "{d} - brandable domain, make an offer",
    "TikTok account @{h} for sale, {k}k followers, high engagement",
    "Aged domain {d} (registered 2014) for sale",
    "YouTube channel {h} monetized {k}k subs",
    "Domain name {d} - instant transfer",
    "Verified X handle @{h} available",
    "Buy {DOMAIN} today, premium name",
)
TITLES_FR = (
    "Vends compte Twitter @{h} {n_fr} abonnés",
    "Nom de domaine {d} à vendre",
    "Compte Instagram @{h} {k}k abonnés à céder",
    "Domaine premium {DOMAIN} - prix négociable",
    "Cède page Facebook {h} {n_fr} mentions j'aime",
    "Vente du nom de domaine {d}, transfert immédiat",
    "Compte TikTok @{h} certifié, {k} k abonnés",
    "À vendre : {d} (ancienneté 10 ans)",
    "Chaîne YouTube {h} monétisée {k}k abonnés",
    "Pseudo @{h} disponible sur X, cession rapide",
)
NAME_TITLES_EN = (
    "Instagram page about {name} - {k}k followers",
    "{name} fan account for sale ({k}k followers)",
    "Selling {name} community Discord server",
    "{name} collectors group, {n_en} members, for sale",
)
NAME_TITLES_FR = (
    "Page Instagram {name} {k}k abonnés",
    "Vends compte fan {name} {n_fr} abonnés",
    "Groupe Facebook {name} France à céder",
    "Compte X fan de {name}, {k}k abonnés",
)


# --- Text helpers -----------------------------------------------------------------------------


def fold(text: str) -> str:
    """Accents and case folded, only letters and digits kept: the brand's label."""
    out = []
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char):
            continue
        out.extend(c for c in char.casefold() if c.isalnum())
    return "".join(out)


def brand_label(brand: Brand) -> str:
    """``Société Générale`` → ``societegenerale``."""
    return fold(brand.name)


def brand_words(brand: Brand) -> list[str]:
    """The brand's words, folded: ``L'Oréal`` → ``['l', 'oreal']``."""
    return [w for w in (fold(p) for p in re.split(r"[\s'’\-_.]+", brand.name)) if w]


def to_punycode(domain: str) -> str:
    """Encode each non-ASCII label as ``xn--`` (raw punycode: no IDNA script rules applied)."""
    return ".".join(
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii")
        for label in domain.split(".")
    )


def from_punycode(domain: str) -> str:
    """Decode ``xn--`` labels; leave undecodable ones as they are."""
    out = []
    for label in domain.split("."):
        if label.startswith("xn--"):
            try:
                label = idna.decode(label)
            except idna.IDNAError:
                with contextlib.suppress(UnicodeError):
                    label = label[4:].encode("ascii").decode("punycode")
        out.append(label)
    return ".".join(out)


def _ascii_word(word: str) -> str | None:
    folded = fold(word)
    return folded if folded.isalpha() and folded.isascii() else None


@functools.cache
def word_set(size: int) -> frozenset[str]:
    """The ``size`` most frequent English and French words, folded to ASCII letters."""
    words = set()
    for lang in ("en", "fr"):
        for word in top_n_list(lang, size):
            if (folded := _ascii_word(word)) and len(folded) >= 2:
                words.add(folded)
    return frozenset(words)


@functools.cache
def frequent_words(size: int, min_len: int = 3, max_len: int = 10) -> tuple[str, ...]:
    """Frequent words in frequency order (English and French interleaved), deduplicated."""
    seen: dict[str, None] = {}
    en, fr = top_n_list("en", size), top_n_list("fr", size)
    for pair in zip(en, fr, strict=False):
        for word in pair:
            folded = _ascii_word(word)
            if folded and min_len <= len(folded) <= max_len:
                seen.setdefault(folded)
    return tuple(seen)


def labels_of(brands: Iterable[Brand]) -> frozenset[str]:
    """Every watched brand's label."""
    return frozenset(brand_label(b) for b in brands)


def is_official(brand: Brand, candidate: str, kind: str) -> bool:
    """Same notion as the matcher's: the brand's own domain, or its handle (on that platform)."""
    text = candidate.strip().lower()
    if kind == "domain":
        return text.removeprefix("www.") in {d.lower() for d in brand.official_domains}
    if kind == "handle":
        platform, _, handle = text.rpartition(":")
        key = fold(handle)
        owned = {(h.platform, fold(h.handle)) for h in brand.official_handles}
        return (None, key) in owned or ((platform or None), key) in owned
    return False


def names_official(brand: Brand, title: str) -> bool:
    """A title word is one of the brand's own domains or platform-wide handles."""
    domains = {d.lower() for d in brand.official_domains}
    handles = {fold(h.handle) for h in brand.official_handles if h.platform is None}
    for word in title.split():
        word = word.strip(".,;:!?()[]\"'").lower()
        if word.removeprefix("www.") in domains or (word.startswith("@") and fold(word) in handles):
            return True
    return False


# --- The generator ----------------------------------------------------------------------------


class _Builder:
    """Holds the RNG, word lists and the growing record list."""

    def __init__(self, brands: tuple[Brand, ...], seed: int) -> None:
        self.brands = brands
        self.rng = random.Random(seed)
        self.records: list[Record] = []
        self.seen: set[tuple[str, str]] = set()
        self.labels = labels_of(brands)
        # A variant that is one of these is an ordinary word, so never a positive.
        self.big_words = word_set(100_000) - self.labels
        # Clearly words: used for the dictionary-word typos and for segmentation checks.
        self.mid_words = word_set(30_000) - self.labels
        self.small_words = word_set(20_000) - self.labels
        self.affix_words = [
            w
            for w in frequent_words(3000, 3, 8)
            if w not in self.labels and not any(lab in w or OSA.distance(lab, w) <= 1 for lab in self.labels)
        ]
        self.tlds = [t for t, _ in TLD_MIX]
        self.tld_weights = [w for _, w in TLD_MIX]

    # Small helpers.
    def tld(self) -> str:
        return self.rng.choices(self.tlds, self.tld_weights)[0]

    def add(self, candidate: str, kind: str, brand: Brand | None, family: str) -> None:
        if not candidate or (candidate, kind) in self.seen:
            return
        if brand is not None and (is_official(brand, candidate, kind) or names_official(brand, candidate)):
            return
        self.seen.add((candidate, kind))
        self.records.append(Record(candidate, kind, brand.name if brand else None, family))

    def sample(self, items: Iterable[str], k: int) -> list[str]:
        pool = sorted(set(items))
        return self.rng.sample(pool, min(k, len(pool)))

    def is_word(self, text: str) -> bool:
        return fold(text) in self.big_words

    def has_other_label(self, text: str, own: str | None) -> bool:
        folded = fold(text)
        return any(lab in folded for lab in self.labels if lab != own)

    @functools.cache  # noqa: B019 - one builder per run
    def typos(self, label: str) -> dict[str, tuple[str, ...]]:
        """One-edit typos of ``label`` by dnstwist fuzzer, ASCII, ordinary words removed."""
        fuzzer = dnstwist.Fuzzer(f"{label}.com")
        fuzzer.generate(fuzzers=list(TYPO_FUZZERS))
        out: dict[str, set[str]] = {}
        for perm in fuzzer.domains:
            variant = perm["domain"].removesuffix(".com")
            if variant.isalnum() and variant != label and not self.is_word(variant):
                out.setdefault(perm["fuzzer"], set()).add(variant)
        return {k: tuple(sorted(v)) for k, v in out.items()}

    def any_typo(self, label: str) -> str | None:
        pool = [v for vs in self.typos(label).values() for v in vs if v.isalpha()]
        return self.rng.choice(sorted(pool)) if pool else None

    def leet(self, label: str) -> str | None:
        spots = [i for i, c in enumerate(label) if c in LEET]
        if not spots:
            return None
        chosen = self.rng.sample(spots, self.rng.randint(1, min(3, len(spots))))
        return "".join(LEET[c] if i in chosen else c for i, c in enumerate(label))

    def confusable(self, label: str, count: int = 1) -> str | None:
        spots = [i for i, c in enumerate(label) if c in CONFUSABLE]
        if not spots:
            return None
        chosen = set(self.rng.sample(spots, min(count, len(spots))))
        return "".join(self.rng.choice(CONFUSABLE[c]) if i in chosen else c for i, c in enumerate(label))

    def handle_form(self, core: str) -> str:
        roll = self.rng.random()
        if roll < 0.45:
            return "@" + core
        if roll < 0.7:
            return core
        platform = self.rng.choice(PLATFORMS)
        return f"{platform}:@{core}" if roll < 0.85 else f"{platform}:{core}"

    def title(self, lang: str, *, h: str | None = None, d: str | None = None, name: str | None = None) -> str:
        k = self.rng.randint(2, 250)
        n = self.rng.randint(1000, 99_000)
        fields = {
            "k": k,
            "n_en": f"{n:,}",
            "n_fr": f"{n:,}".replace(",", " "),
            "h": h or "",
            "d": d or "",
            "DOMAIN": (d or "").upper(),
            "name": name or "",
        }
        if name is not None:
            templates = NAME_TITLES_EN if lang == "en" else NAME_TITLES_FR
        else:
            pool = TITLES_EN if lang == "en" else TITLES_FR
            wanted = "{h}" if h is not None else "{d"
            wanted_upper = "{DOMAIN}" if d is not None else "{h}"
            templates = tuple(t for t in pool if wanted in t or wanted_upper in t)
        return self.rng.choice(templates).format(**fields)

    # Positives ------------------------------------------------------------------------------
    def dnstwist_domains(self, brand: Brand) -> None:
        label = brand_label(brand)
        fuzzer = dnstwist.Fuzzer(
            f"{label}.com", dictionary=list(DNSTWIST_DICTIONARY), tld_dictionary=list(DNSTWIST_TLDS)
        )
        fuzzer.generate()
        by_family: dict[str, set[str]] = {}
        for perm in fuzzer.domains:
            family = perm["fuzzer"]
            if family == "*original":
                continue
            if brand.common_word and family not in COMMON_WORD_DNSTWIST:
                continue
            domain = from_punycode(perm["domain"])
            stem = domain.rsplit(".", 1)[0]
            if stem.isascii() and self.is_word(stem.replace("-", "").replace(".", "")):
                continue  # "a dictionary word is not a typo"
            if family in ("addition", "plural", "repetition") and self.is_word(stem):
                continue
            if family == "dictionary" and brand.common_word:
                extra = stem.replace(label, "", 1).strip("-")
                if extra not in COMMERCE_AFFIXES:
                    continue
            by_family.setdefault(family, set()).add(domain)
        quota = {"homoglyph": 10, "tld-swap": 3, "cyrillic": 1, "various": 2}
        for family in DNSTWIST_FAMILIES:
            for domain in self.sample(by_family.get(family, ()), quota.get(family, 6)):
                self.add(domain, "domain", brand, family)

    def own_domains(self, brand: Brand) -> None:
        label = brand_label(brand)
        words = brand_words(brand)
        for _ in range(3):
            self.add(f"{label}.{self.tld()}", "domain", brand, "exact")
        # Affixes: any word for distinctive brands, commerce words only for common-word brands.
        affixes = COMMERCE_AFFIXES if brand.common_word else self.affix_words
        for _ in range(4 if brand.common_word else 10):
            word = self.rng.choice(affixes)
            pattern = self.rng.choice(("{b}-{w}", "{b}{w}", "{w}-{b}", "{w}{b}"))
            stem = pattern.format(b=label, w=word)
            if not self.is_word(stem) and not self.has_other_label(stem, label):
                self.add(f"{stem}.{self.tld()}", "domain", brand, "affix")
        for prefix in ("www.", "www-", "www"):
            self.add(f"{prefix}{label}.{self.tld()}", "domain", brand, "www")
        for count in (1, 1, 2, 2):
            if look := self.confusable(label, count):
                self.add(to_punycode(f"{look}.{self.tld()}"), "domain", brand, "idn-punycode")
        for _ in range(3):
            if leet := self.leet(label):
                self.add(f"{leet}.{self.tld()}", "domain", brand, "leetspeak")
        if len(words) > 1:
            for sep in ("-", ".") if min(map(len, words)) > 1 else ("-",):
                self.add(f"{sep.join(words)}.{self.tld()}", "domain", brand, "multiword-separators")
                stem = f"{sep.join(words)}-{self.rng.choice(COMMERCE_AFFIXES)}"
                self.add(f"{stem}.com", "domain", brand, "multiword-separators")
        if brand.common_word:
            return
        for _ in range(3 if len(label) >= 5 else 0):
            cut = self.rng.randint(2, len(label) - 2)
            if 0 < cut < len(label):
                self.add(f"{label[:cut]}.{label[cut:]}.{self.tld()}", "domain", brand, "subdomain-split")
        plural = label + ("es" if label[-1] in "sxz" else "s")
        if not self.is_word(plural):
            self.add(f"{plural}.{self.tld()}", "domain", brand, "plural-suffix")
            self.add(f"{plural}-{self.rng.choice(self.affix_words)}.com", "domain", brand, "plural-suffix")
        for _ in range(5):
            typo = self.any_typo(label)
            word = self.rng.choice(self.affix_words)
            if typo:
                stem = f"{typo}-{word}" if self.rng.random() < 0.6 else f"{word}-{typo}"
                self.add(f"{stem}.{self.tld()}", "domain", brand, "typo-affix")
        if len(label) >= 8:
            for _ in range(6):
                first = self.any_typo(label)
                second = first and self.any_typo(first)
                if second and OSA.distance(label, second) == 2 and not self.is_word(second):
                    self.add(f"{second}.{self.tld()}", "domain", brand, "double-typo")

    def handles(self, brand: Brand) -> None:
        label = brand_label(brand)
        words = brand_words(brand)
        for _ in range(4):
            self.add(self.handle_form(label), "handle", brand, "handle-exact")
        fixed = ("{b}_{a}", "{b}.{a}", "{a}{b}", "{a}_{b}", "the.{b}", "{b}{a}", "{b}_{a}_")
        for _ in range(8):
            pool = COMMERCE_AFFIXES if brand.common_word or self.rng.random() < 0.5 else self.affix_words
            core = self.rng.choice(fixed).format(b=label, a=self.rng.choice(pool))
            if not self.has_other_label(core, label):
                self.add(self.handle_form(core), "handle", brand, "handle-affix")
        if not brand.common_word:
            for _ in range(6):
                if typo := self.any_typo(label):
                    core = typo if self.rng.random() < 0.5 else f"{typo}_{self.rng.choice(COMMERCE_AFFIXES)}"
                    self.add(self.handle_form(core), "handle", brand, "handle-typo")
        for _ in range(2):
            if leet := self.leet(label):
                self.add(self.handle_form(leet), "handle", brand, "handle-lookalike")
            if look := self.confusable(label):
                self.add(self.handle_form(look), "handle", brand, "handle-lookalike")
        if len(words) > 1:
            for sep in ("_", ".", "-"):
                core = sep.join(words)
                self.add(self.handle_form(core), "handle", brand, "handle-separators")
                affix = self.rng.choice(COMMERCE_AFFIXES)
                self.add(self.handle_form(f"{core}{sep}{affix}"), "handle", brand, "handle-separators")

    def titles(self, brand: Brand) -> None:
        label = brand_label(brand)
        for lang in ("en", "fr"):
            for _ in range(3):
                affix = self.rng.choice(COMMERCE_AFFIXES)
                core = self.rng.choice((label, f"{label}_{affix}", f"{label}{affix}", f"{label}.{affix}"))
                self.add(self.title(lang, h=core), "title", brand, f"title-{lang}-handle")
                stem = self.rng.choice((label, f"{label}-{affix}", f"{affix}{label}"))
                self.add(self.title(lang, d=f"{stem}.{self.tld()}"), "title", brand, f"title-{lang}-domain")
            for _ in range(2):
                look = self.leet(label) if self.rng.random() < 0.5 else self.confusable(label)
                if look:
                    family = f"title-{lang}-lookalike"
                    if self.rng.random() < 0.5:
                        self.add(self.title(lang, h=look), "title", brand, family)
                    else:
                        self.add(self.title(lang, d=f"{look}.{self.tld()}"), "title", brand, family)
            if brand.common_word:
                continue
            for _ in range(3):
                if typo := self.any_typo(label):
                    family = f"title-{lang}-typo"
                    if self.rng.random() < 0.5:
                        self.add(self.title(lang, h=typo), "title", brand, family)
                    else:
                        self.add(self.title(lang, d=f"{typo}.{self.tld()}"), "title", brand, family)
            for _ in range(2):
                written = brand.name if self.rng.random() < 0.7 else brand.name.upper()
                self.add(self.title(lang, name=written), "title", brand, f"title-{lang}-name")

    # Negatives ------------------------------------------------------------------------------
    def clean(self, text: str) -> bool:
        """No watched label anywhere in it (so a negative by any reading of the rule)."""
        folded = fold(text)
        return not any(lab in folded for lab in self.labels)

    def combo(self, words: tuple[str, ...]) -> str:
        parts = self.rng.sample(words, self.rng.choice((1, 2, 2, 2, 3)))
        sep = "-" if self.rng.random() < 0.25 else ""
        stem = sep.join(parts)
        if self.rng.random() < 0.1:
            stem += str(self.rng.randint(1, 999))
        return stem

    def random_negatives(self, n_domains: int, n_handles: int, n_titles: int) -> None:
        words = frequent_words(20_000, 3, 10)
        made = 0
        while made < n_domains:
            domain = f"{self.combo(words)}.{self.tld()}"
            if self.clean(domain):
                before = len(self.records)
                self.add(domain, "domain", None, "random-word-combos")
                made += len(self.records) - before
        made = 0
        while made < n_handles:
            core = self.combo(words).replace("-", self.rng.choice(("_", ".", "")))
            if self.clean(core):
                before = len(self.records)
                self.add(self.handle_form(core), "handle", None, "random-handles")
                made += len(self.records) - before
        made = 0
        while made < n_titles:
            lang = self.rng.choice(("en", "fr"))
            core = self.combo(words)
            if self.rng.random() < 0.5:
                text = self.title(lang, h=core.replace("-", "_"))
            else:
                text = self.title(lang, d=f"{core}.{self.tld()}")
            if self.clean(text):
                before = len(self.records)
                self.add(text, "title", None, "random-titles")
                made += len(self.records) - before

    def spread(self, stem: str, family: str, weights: tuple[int, int, int] = (6, 2, 2)) -> None:
        """Put one negative stem into a domain, a handle or a title."""
        kind = self.rng.choices(KINDS, weights)[0]
        if kind == "domain":
            self.add(f"{stem}.{self.tld()}", "domain", None, family)
        elif kind == "handle":
            self.add(self.handle_form(stem.replace("-", "_")), "handle", None, family)
        else:
            lang = self.rng.choice(("en", "fr"))
            if self.rng.random() < 0.5:
                self.add(self.title(lang, h=stem.replace("-", "_")), "title", None, family)
            else:
                self.add(self.title(lang, d=f"{stem}.{self.tld()}"), "title", None, family)

    def inside_words(self, brand: Brand) -> None:
        label = brand_label(brand)
        plurals = {label + "s", label + "es"}
        found = []
        for word in sorted(self.big_words):
            if label not in word or word == label or word in plurals:
                continue
            if self.has_other_label(word, label):
                continue
            start = word.index(label)
            before, after = word[:start], word[start + len(label) :]
            if (
                {before, after} & DOMAINISH
                or (not before and len(after) <= 2)
                or (not after and len(before) <= 1)
            ):
                continue  # amazoncom, uberx, legon: the brand after all, or too close to call
            if brand.common_word:
                if {before, after} & (set(COMMERCE_AFFIXES) | PRODUCT_AFFIXES):
                    continue
            else:
                # brand + a real word on each side would be a legitimate affix reading.
                side_ok = [(not s) or (len(s) >= 4 and s in self.small_words) for s in (before, after)]
                if all(side_ok):
                    continue
            found.append(word)
        for word in self.sample(found, 40):
            for _ in range(3):
                self.spread(word, "brand-inside-word")

    @functools.cached_property
    def _affix_index(self) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
        ends: dict[str, list[str]] = {}
        starts: dict[str, list[str]] = {}
        for word in frequent_words(20_000, 3, 10):
            if word in self.labels:
                continue
            for k in range(1, min(len(word), 12)):
                ends.setdefault(word[-k:], []).append(word)
                starts.setdefault(word[:k], []).append(word)
        return ends, starts

    def straddles(self, brand: Brand) -> None:
        label = brand_label(brand)
        ends, starts = self._affix_index
        found = set()
        for cut in range(1, len(label)):
            head, tail = label[:cut], label[cut:]
            lefts = [w for w in ends.get(head, ()) if len(w) > len(head)]
            rights = [w for w in starts.get(tail, ()) if len(w) > len(tail)]
            for _ in range(min(60, len(lefts) * len(rights))):
                left, right = self.rng.choice(lefts), self.rng.choice(rights)
                rest_l, rest_r = left[: -len(head)], right[len(tail) :]
                if rest_l in self.small_words or rest_r in self.small_words:
                    continue  # the brand could be read as a token between two words
                joined = left + right
                if joined.count(label) != 1 or self.has_other_label(joined, label):
                    continue
                if label in left or label in right:
                    continue
                found.add((left, right))
        for left, right in self.rng.sample(sorted(found), min(60, len(found))):
            sep = "-" if self.rng.random() < 0.2 else ""
            self.spread(f"{left}{sep}{right}", "straddle", (7, 2, 1))

    def word_typos(self, brand: Brand) -> None:
        label = brand_label(brand)
        radius = 2 if len(label) >= 8 else 1
        plurals = {label + "s", label + "es"}
        words = sorted(self.mid_words)
        hits = extract(label, words, scorer=OSA.distance, score_cutoff=radius, limit=None)
        found = [
            w
            for w, _, _ in hits
            if w != label
            and label not in w
            and w not in plurals
            and len(w) >= 3
            and max(zipf_frequency(w, "en"), zipf_frequency(w, "fr")) >= 3.0  # clearly a word
            and not self.has_other_label(w, label)
        ]
        for word in self.sample(found, 30):
            for _ in range(3):
                self.spread(word, "dictionary-word-typo")
            if self.rng.random() < 0.3:
                self.spread(f"{word}-{self.rng.choice(COMMERCE_AFFIXES)}", "dictionary-word-typo")

    def near_brand_lists(self, brand: Brand) -> None:
        for other in LOOKALIKE_BRANDS.get(brand.name, ()):
            self.add(f"{other}.com", "domain", None, "lookalike-brand")
            self.add(f"{other}.{self.tld()}", "domain", None, "lookalike-brand")
            self.add(f"www.{other}.com", "domain", None, "lookalike-brand")
            self.add(f"@{other}", "handle", None, "lookalike-brand")
            self.add(
                f"{other}_{self.rng.choice(('fan', 'france', 'news'))}", "handle", None, "lookalike-brand"
            )
            for lang in ("en", "fr"):
                self.add(self.title(lang, h=other), "title", None, "lookalike-brand")
                self.add(self.title(lang, d=f"{other}.{self.tld()}"), "title", None, "lookalike-brand")
        for phrase in ORDINARY_SENSE.get(brand.name, ()):
            text = phrase.format(" ".join(brand_words(brand)))
            parts = text.split()
            for sep in ("-", ""):
                self.add(f"{sep.join(parts)}.{self.tld()}", "domain", None, "ordinary-sense")
            self.add(self.handle_form("_".join(parts)), "handle", None, "ordinary-sense")
            self.add(self.handle_form("".join(parts)), "handle", None, "ordinary-sense")
            for lang in ("en", "fr"):
                self.add(
                    self.title(lang, d=f"{'-'.join(parts)}.{self.tld()}"), "title", None, "ordinary-sense"
                )
        for mention in PASSING_MENTIONS.get(brand.name, ()):
            for listings in (GENERIC_LISTINGS_EN, GENERIC_LISTINGS_FR):
                for base in self.rng.sample(listings, 4):
                    sep = self.rng.choice((" - ", ", ", " | ", " / "))
                    self.add(f"{base}{sep}{mention}", "title", None, "passing-mention")
            for _ in range(6):
                lang = self.rng.choice(("en", "fr"))
                stem = self.combo(frequent_words(20_000, 3, 10))
                if not self.clean(stem):
                    continue
                if self.rng.random() < 0.5:
                    base = self.title(lang, h=stem.replace("-", "_"))
                else:
                    base = self.title(lang, d=f"{stem}.{self.tld()}")
                self.add(f"{base}, {mention}", "title", None, "passing-mention")

    def officials_and_exclusions(self, brand: Brand) -> None:
        for domain in brand.official_domains:
            self.add(domain, "domain", None, "official")
            self.add(f"www.{domain}", "domain", None, "official")
            self.add(domain.upper(), "domain", None, "official")
        for handle in brand.official_handles:
            platforms = (handle.platform,) if handle.platform else PLATFORMS[:3]
            for platform in platforms:
                self.add(f"{platform}:@{handle.handle}", "handle", None, "official")
                self.add(f"{platform}:{handle.handle}", "handle", None, "official")
            if handle.platform is None:
                self.add(f"@{handle.handle}", "handle", None, "official")
        for phrase in brand.exclusions:
            words = [fold(w) for w in phrase.split()]
            for sep in ("-", ""):
                stem = sep.join(words)
                self.add(f"{stem}.{self.tld()}", "domain", None, "exclusions")
                self.add(
                    f"{stem}-{self.rng.choice(self.affix_words)}.{self.tld()}", "domain", None, "exclusions"
                )
            self.add(self.handle_form("_".join(words)), "handle", None, "exclusions")
            self.add(self.handle_form("".join(words) + "_fan"), "handle", None, "exclusions")
            for lang in ("en", "fr"):
                self.add(self.title(lang, d=f"{'-'.join(words)}.com"), "title", None, "exclusions")
            self.add(f"{phrase.title()} account for sale, 5k followers", "title", None, "exclusions")


def build_evalset(brands: tuple[Brand, ...] = BRANDS, seed: int = SEED) -> list[Record]:
    """Generate every record (about 35k) from scratch; deterministic for a given seed."""
    builder = _Builder(brands, seed)
    for brand in brands:
        builder.officials_and_exclusions(brand)  # first, so a variant never shadows them
    for brand in brands:
        builder.dnstwist_domains(brand)
        builder.own_domains(brand)
        builder.handles(brand)
        builder.titles(brand)
    for brand in brands:
        builder.inside_words(brand)
        builder.straddles(brand)
        builder.word_typos(brand)
        builder.near_brand_lists(brand)
    builder.random_negatives(n_domains=16_000, n_handles=3_000, n_titles=3_000)
    return builder.records


def planted_domains(n: int, seed: int = SEED, brands: tuple[Brand, ...] = BRANDS) -> list[Record]:
    """``n`` positive domain records (variants of the real brands) to plant in a drop list."""
    names = {b.name for b in brands}
    positives = [r for r in load_evalset() if r.kind == "domain" and r.expected in names]
    return random.Random(seed).sample(positives, min(n, len(positives)))


def load_evalset(path: Path = CACHE, rebuild: bool = False) -> list[Record]:
    """The cached set, built first if missing, stale or ``rebuild`` is asked."""
    if not rebuild and path.exists():
        with path.open(encoding="utf-8") as handle:
            header = json.loads(handle.readline())
            if header.get("version") == VERSION and header.get("seed") == SEED:
                return [Record(*json.loads(line)) for line in handle]
    records = build_evalset()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(json.dumps({"version": VERSION, "seed": SEED, "records": len(records)}) + "\n")
        for record in records:
            handle.write(json.dumps(list(record), ensure_ascii=False) + "\n")
    return records


def summary(records: list[Record]) -> str:
    """Count of records per (kind, polarity, family)."""
    counts = Counter((r.kind, "pos" if r.expected else "neg", r.family) for r in records)
    lines = [f"{len(records)} records"]
    lines += [f"  {kind:7} {pol} {family:28} {n:6}" for (kind, pol, family), n in sorted(counts.items())]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="regenerate the cached set")
    args = parser.parse_args(argv)
    print(summary(load_evalset(rebuild=args.rebuild)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
