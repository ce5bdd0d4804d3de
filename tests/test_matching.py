"""The brand matcher, one table per family of the product rule: what is a hit, what is not, and why."""

import math
import random
import re
import subprocess
import sys

import pytest

from brandcrawl.config import Brand, OfficialHandle
from brandcrawl.matching import BrandMatcher, candidates, label, text, words
from brandcrawl.matching import matcher as matcher_module

MATCHER = BrandMatcher(
    [
        Brand(
            "Gallimard",
            aliases=("Éditions Gallimard",),
            official_domains=("gallimard.fr",),
            official_handles=(
                OfficialHandle("instagram", "gallimard"),
                OfficialHandle(None, "editions_gallimard"),
            ),
            exclusions=("la pléiade",),
        ),
        Brand("Decathlon"),
        Brand("Société Générale", aliases=("SocGen",)),
        Brand("Nike"),
        Brand("Uber"),
        Brand("L'Oréal"),
        Brand("PayPal"),
        Brand("Deezer"),
        Brand("Lego"),
        Brand("Dezer"),
        Brand("Folio", common_word=True, affixes=("poche",)),
        Brand("La Poste", common_word=True),
        Brand("Apple", common_word=True),
        Brand("Free", common_word=True),
        Brand("Orange", common_word=True),
    ]
)


def hit(candidate: str, kind: str) -> tuple[str, str, str, str]:
    """(brand, rule, matched text, explanation) of the single match expected."""
    [match] = MATCHER.match(candidate, kind)
    start, end = match.span
    assert candidate[start:end] == match.matched
    return match.brand, match.rule, match.matched, match.explanation


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("société générale", "societegenerale"),
        ("l'oréal", "loreal"),
        ("La Poste", "laposte"),
        ("GÅLLIMARD", "gallimard"),
    ],
)
def test_label_folds_accents_case_spaces_and_punctuation(written: str, expected: str) -> None:
    assert label(written) == expected


VARIANTS = [
    # (family, candidate, kind, brand, rule, matched, explanation)
    ("exact", "gallimard.com", "domain", "Gallimard", "exact", "gallimard", "is 'Gallimard'"),
    (
        "omission",
        "gallimrd.com",
        "domain",
        "Gallimard",
        "typo",
        "gallimrd",
        "typo of Gallimard: 1 letter missing (a)",
    ),
    ("insertion", "galliomard.com", "domain", "Gallimard", "typo", "galliomard", "1 letter added (o)"),
    ("keyboard", "gallimsrd.com", "domain", "Gallimard", "typo", "gallimsrd", "1 letter replaced (a→s)"),
    ("bit-flip", "gallimcrd.com", "domain", "Gallimard", "typo", "gallimcrd", "1 letter replaced (a→c)"),
    ("transposition", "gallimadr.com", "domain", "Gallimard", "typo", "gallimadr", "letters swapped (rd→dr)"),
    ("repetition", "gallimaard.fr", "domain", "Gallimard", "typo", "gallimaard", "1 letter repeated (a)"),
    ("vowel-swap", "gallimerd.com", "domain", "Gallimard", "typo", "gallimerd", "1 letter replaced (a→e)"),
    ("two-edits", "galimrd.net", "domain", "Gallimard", "typo", "galimrd", "1 letter missing"),
    ("short-typo", "nikr.com", "domain", "Nike", "typo", "nikr", "typo of Nike: 1 letter replaced (e→r)"),
    ("rn-for-m", "gallirnard.com", "domain", "Gallimard", "homoglyph", "gallirnard", "rn for m"),
    ("zero-for-o", "decathl0n.com", "domain", "Decathlon", "homoglyph", "decathl0n", "0 for o"),
    ("one-for-l", "ga11imard.com", "domain", "Gallimard", "homoglyph", "ga11imard", "1 for l"),
    ("l-for-i", "galllmard.com", "domain", "Gallimard", "homoglyph", "galllmard", "l for i"),
    # A look-alike, not a typo: it counts even for a common-word brand, which allows no typo.
    ("q-for-g", "oranqe.com", "domain", "Orange", "homoglyph", "oranqe", "q for g"),
    ("cyrillic", "gаllimard.com", "domain", "Gallimard", "homoglyph", "gаllimard", "Cyrillic а"),
    ("greek", "decathlοn.shop", "domain", "Decathlon", "homoglyph", "decathlοn", "Greek ο"),
    ("accented", "gallimárd.com", "domain", "Gallimard", "homoglyph", "gallimárd", "accented á"),
    ("punycode", "xn--gllimard-16g.com", "domain", "Gallimard", "idn", "xn--gllimard-16g", "reads gаllimard"),
    ("leetspeak", "g4ll1m4rd.com", "domain", "Gallimard", "homoglyph", "g4ll1m4rd", "4 for a, 1 for l"),
    ("hyphenation", "galli-mard.com", "domain", "Gallimard", "separators", "galli-mard", "split spelling"),
    ("subdomain-split", "galli.mard.fr", "domain", "Gallimard", "separators", "galli.mard", "split spelling"),
    ("plural", "gallimards.com", "domain", "Gallimard", "exact+affix", "gallimard", "with 's' after"),
    ("tld-swap", "gallimard.co.uk", "domain", "Gallimard", "exact", "gallimard", "is 'Gallimard'"),
    ("www", "www.gallimard-shop.net", "domain", "Gallimard", "exact+affix", "gallimard", "'shop' after"),
    (
        "affix-separated",
        "naked-nike.com",
        "domain",
        "Nike",
        "exact+affix",
        "nike",
        "Nike with 'naked' before",
    ),
    ("affix-joined", "shopgallimard.com", "domain", "Gallimard", "exact+affix", "gallimard", "'shop' before"),
    ("affix-number", "gallimard2024.com", "domain", "Gallimard", "exact+affix", "gallimard", "'2024' after"),
    ("affix-short", "egallimard.com", "domain", "Gallimard", "exact+affix", "gallimard", "'e' before"),
    ("typo-affix", "galimard-shop.fr", "domain", "Gallimard", "typo+affix", "galimard", "'shop' after"),
    ("multiword-hyphen", "la-poste.fr", "domain", "La Poste", "separators", "la-poste", "split spelling"),
    ("multiword-underscore", "la_poste", "handle", "La Poste", "separators", "la_poste", "split spelling"),
    ("multiword-joined", "laposte.fr", "domain", "La Poste", "exact", "laposte", "is 'La Poste'"),
    ("common-exact", "folio.shop", "domain", "Folio", "exact", "folio", "is 'Folio'"),
    ("common-affix", "apple-store.com", "domain", "Apple", "exact+affix", "apple", "'store' after"),
    ("common-joined-affix", "freelogin.fr", "domain", "Free", "exact+affix", "free", "'login' after"),
    ("common-watch-affix", "folio-poche.fr", "domain", "Folio", "exact+affix", "folio", "'poche' after"),
    ("handle-at", "@gallimard", "handle", "Gallimard", "exact", "gallimard", "is 'Gallimard'"),
    (
        "handle-suffix",
        "gallimard_officiel",
        "handle",
        "Gallimard",
        "exact+affix",
        "gallimard",
        "'officiel' after",
    ),
    ("handle-dot", "@the.gallimard", "handle", "Gallimard", "exact+affix", "gallimard", "'the' before"),
    ("handle-joined", "officialgallimard", "handle", "Gallimard", "exact+affix", "gallimard", "'official'"),
    ("handle-platform", "x:gallimard", "handle", "Gallimard", "exact", "gallimard", "is 'Gallimard'"),
    ("handle-typo", "@galimard_fr", "handle", "Gallimard", "typo+affix", "galimard", "1 letter missing (l)"),
    ("handle-common", "instagram:folio_officiel", "handle", "Folio", "exact+affix", "folio", "'officiel'"),
    (
        "title-fr",
        "Vends compte Twitter @gallimard_officiel 1 800 abonnés",
        "title",
        "Gallimard",
        "exact",
        "gallimard",
        "",
    ),
    ("title-en", "Premium domain GALLIMARD-BOOKS.COM", "title", "Gallimard", "exact", "GALLIMARD", ""),
    (
        "title-typo",
        "Instagram page @nikr 12k followers",
        "title",
        "Nike",
        "typo",
        "nikr",
        "1 letter replaced",
    ),
    (
        "title-common",
        "Nom de domaine la-poste-officiel.fr à vendre",
        "title",
        "La Poste",
        "separators",
        "la-poste",
        "",
    ),
    (
        "alias",
        "socgen-login.com",
        "domain",
        "Société Générale",
        "exact+affix",
        "socgen",
        "SocGen with 'login' after",
    ),
    (
        "multiword-accents",
        "Compte @societe_generale_pro",
        "title",
        "Société Générale",
        "separators",
        "societe_generale",
        "",
    ),
]


@pytest.mark.parametrize(
    ("family", "candidate", "kind", "brand", "rule", "matched", "explanation"),
    VARIANTS,
    ids=[v[0] for v in VARIANTS],
)
def test_variants_are_hits(
    family: str, candidate: str, kind: str, brand: str, rule: str, matched: str, explanation: str
) -> None:
    found = hit(candidate, kind)
    assert found[:3] == (brand, rule, matched)
    assert explanation in found[3]


NOT_HITS = [
    # (family, candidate, kind)
    ("inside-a-word", "tuberose.com", "domain"),
    ("inside-a-word-common", "unfree.net", "domain"),
    ("inside-a-word-common-2", "pineapple.com", "domain"),
    ("inside-a-word-common-3", "portfolio.com", "domain"),
    ("straddling-two-words", "hellorealise.com", "domain"),
    ("dictionary-word-typo", "bike.com", "domain"),
    ("dictionary-word-typo-2", "nice-shop.com", "domain"),
    ("ordinary-sense", "apple-tree.com", "domain"),
    ("ordinary-sense-2", "free-sample.net", "domain"),
    ("ordinary-sense-3", "orangejuice.fr", "domain"),
    ("common-word-in-a-title", "Free delivery on all orders", "title"),
    ("common-word-in-a-title-2", "Housse compatible Apple iPhone 12", "title"),
    ("payment-method", "Lot de 3 livres, paiement PayPal accepté", "title"),
    ("payment-method-en", "Vintage lamp - PayPal accepted", "title"),
    ("accessory", "Laces for Nike trainers", "title"),
    ("official-domain", "gallimard.fr", "domain"),
    ("official-domain-www", "www.gallimard.fr", "domain"),
    ("official-subdomain", "shop.gallimard.fr", "domain"),
    ("official-handle-platform", "instagram:gallimard", "handle"),
    ("official-handle-any-platform", "tiktok:editions_gallimard", "handle"),
    ("official-handle-in-title", "Suivez @editions_gallimard pour les nouveautés", "title"),
    ("exclusion", "Proust, À la recherche du temps perdu, Gallimard La Pléiade", "title"),
    ("unrelated", "example.org", "domain"),
    ("count-with-unit", "Instagram page @cooking 139k followers, 2nd owner", "title"),
    ("empty", "", "title"),
]


@pytest.mark.parametrize(("family", "candidate", "kind"), NOT_HITS, ids=[n[0] for n in NOT_HITS])
def test_not_hits(family: str, candidate: str, kind: str) -> None:
    assert MATCHER.match(candidate, kind) == []


def test_another_watched_brand_is_not_a_typo() -> None:
    assert [m.brand for m in MATCHER.match("dezer.com", "domain")] == ["Dezer"]
    assert [m.brand for m in MATCHER.match("deezer.com", "domain")] == ["Deezer"]


def test_the_same_brand_on_another_platform_is_a_hit() -> None:
    """instagram:gallimard is the brand's own; x:gallimard is someone else's."""
    assert hit("x:gallimard", "handle")[0] == "Gallimard"
    assert MATCHER.official_brands("instagram:gallimard", "handle") == {"Gallimard"}
    assert MATCHER.official_brands("x:gallimard", "handle") == set()


def test_excluded_brands_reads_the_title() -> None:
    assert MATCHER.excluded_brands("Gallimard La Pléiade, tome 2") == {"Gallimard"}


def test_the_strongest_match_comes_first_and_scores_rank_the_rules() -> None:
    scores = {
        candidate: MATCHER.match(candidate, "domain")[0].score
        for candidate in (
            "gallimard.com",
            "gаllimard.com",
            "gallimard-shop.com",
            "gallimrd.com",
            "galimrd.com",
        )
    }
    assert list(scores) == sorted(scores, key=scores.get, reverse=True)


def test_several_brands_in_one_title() -> None:
    brands = {
        m.brand for m in MATCHER.match("Lot compte Twitter @gallimard + domaine nike-store.fr", "title")
    }
    assert brands == {"Gallimard", "Nike"}


def test_from_names_and_unknown_kind() -> None:
    matcher = BrandMatcher.from_names(["gallimard", "la poste"])
    assert [m.brand for m in matcher.match("galli-mard.fr", "domain")] == ["gallimard"]
    with pytest.raises(ValueError, match="kind must be one of"):
        matcher.match("x", "url")


def test_match_many_yields_only_the_hits_with_their_index() -> None:
    found = list(
        MATCHER.match_many(["example.org", "gallimrd.com", "bike.com", "xn--gllimard-16g.fr"], "domain")
    )
    assert [(index, [m.brand for m in matches]) for index, matches in found] == [
        (1, ["Gallimard"]),
        (3, ["Gallimard"]),
    ]


def test_a_hit_of_the_bulk_path_is_answered_again_without_matching(monkeypatch: pytest.MonkeyPatch) -> None:
    """The match pipeline asks again about each feed hit: the answer is the one match_many gave."""
    matcher = BrandMatcher.from_names(["gallimard"])
    monkeypatch.setattr(matcher_module, "RECENT_HITS", 2)
    domains = ["gallimrd.com", "example.org", "galimard.fr", "gallimard-shop.net"]
    bulk = dict(matcher.match_many(domains, "domain"))

    def no_more_matching(*_: object) -> None:
        raise AssertionError("matched again")

    monkeypatch.setattr(matcher, "_occurrences", no_more_matching)
    assert matcher.match("galimard.fr", "domain") == bulk[2]
    assert matcher.match("gallimard-shop.net", "domain") == bulk[3]
    with pytest.raises(AssertionError, match="matched again"):
        matcher.match("gallimrd.com", "domain")  # the oldest of three, forgotten
    with pytest.raises(AssertionError, match="matched again"):
        matcher.match("galimard.fr", "title")  # remembered as a domain only


def test_the_match_command_streams_stdin(tmp_path) -> None:
    lines = "gallimrd.com\nexample.org\n@gallimard_officiel\nVends compte Twitter @Gallimard 1800 abonnés\n"
    done = subprocess.run(
        [sys.executable, "-m", "brandcrawl.cli", "match", "--brand", "Gallimard"],
        input=lines,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.splitlines() == [
        "gallimrd.com\tGallimard (typo, 0.85): typo of Gallimard: 1 letter missing (a)",
        "example.org\t-",
        "@gallimard_officiel\tGallimard (exact+affix, 0.90): Gallimard with 'officiel' after",
        "Vends compte Twitter @Gallimard 1800 abonnés\tGallimard (exact, 1.00): is 'Gallimard'",
    ]


def test_the_bulk_path_gives_the_same_answers_as_one_by_one() -> None:
    domains = [
        "gаllimard.fr",  # Cyrillic а: matched outside the bulk fold
        "example.org",
        "xn--gllimard-16g.com",
        "bnp-ok.com",
        "gallimrd.com",
        "galimrd.net",
        "tuberose.com",
        "naked-nike.com",
        "com.gallimard",
        "société-générale.fr",
    ] * 3
    one_by_one = [(i, [m.brand for m in MATCHER.match(d, "domain")]) for i, d in enumerate(domains)]
    bulk = [(i, [m.brand for m in matches]) for i, matches in MATCHER.match_many(domains, "domain")]
    assert bulk == [(i, brands) for i, brands in one_by_one if brands]
    assert len(bulk) == 18


@pytest.mark.parametrize(
    ("candidate", "kind", "matched"),
    [
        ("  gallimard.com", "domain", "gallimard"),  # leading spaces count in the span
        ("shop..gallimard.com", "domain", "gallimard"),
        ("http://user@gallimrd.com:8080/path", "domain", "gallimrd"),
        (" xn--gllimard-16g.com", "domain", "xn--gllimard-16g"),
    ],
)
def test_spans_point_at_the_brand_in_odd_candidates(candidate: str, kind: str, matched: str) -> None:
    [match] = MATCHER.match(candidate, kind)
    assert candidate[match.span[0] : match.span[1]] == match.matched == matched


def test_official_assets_compare_as_registries_and_platforms_do() -> None:
    matcher = BrandMatcher(
        [
            Brand(
                "Gallimard",
                official_domains=("gallimárd.fr",),
                official_handles=(OfficialHandle("ig", "gallimard"),),
            )
        ]
    )
    assert matcher.match("xn--gallimrd-eza.fr", "domain") == []  # the punycode of the official domain
    assert matcher.match("instagram:gallimard", "handle") == []
    assert matcher.match("insta:@gallimard", "handle") == []
    assert [m.brand for m in matcher.match("x:gallimard", "handle")] == ["Gallimard"]


def test_a_very_long_word_is_read_quickly_and_safely() -> None:
    assert MATCHER.match("apple" + "store" * 400 + ".com", "domain") == []
    assert MATCHER.match("Gallimard shop " * 5000, "title")  # read up to the first 1,000 characters


def test_the_bulk_path_sends_odd_lines_to_the_matcher() -> None:
    domains = [" gallimrd.com", "http://gallimrd.com/x", "n!ke.com", ".gallimard", "example.org"]
    bulk = [i for i, _ in MATCHER.match_many(domains, "domain")]
    assert bulk == [i for i, d in enumerate(domains) if MATCHER.match(d, "domain")] == [0, 1, 2, 3]


def test_plain_text_folds_the_same_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Letters between separators skip the character-by-character reading; what comes out must be
    what that reading gives, spans and word starts included."""
    rng = random.Random(7)
    alphabet = "abcdefghilmnrtvwxyzABCIRNV.-_ 0123456789"
    samples = ["", ".", "--", "gallimard", "Gallimard-Shop.", ".the.gallimard", "tw rn vv _x_", "RNvv"]
    samples += ["ga11imard", "2024", "shop-2024", "139k", "12K", "2nd", "3eme", "70ta1-shop", "g4ll1m4rd"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 16))) for _ in range(3000)]
    fast = [text.fold(sample) for sample in samples]
    monkeypatch.setattr(text, "PLAIN", re.compile(r"(?!)"))  # every sample through the general path
    assert fast == [text.fold(sample) for sample in samples]


def test_plain_domains_read_the_same_on_the_fast_path() -> None:
    """Bare ASCII domains skip URL and punycode handling; their region must be what it gives."""
    rng = random.Random(11)
    alphabet = "abcdefgilmnorwx019-.ACGLMWX"
    samples = ["gallimard.fr", "www.gallimard.co.uk", "www.www.gallimard.com", "ww1.shop.gallimard.fr"]
    samples += ["GALLIMARD-SHOP.COM", "WWW.Gallimard.CO.UK", "Ww2.gallimard.fr"]
    samples += ["www.com", "a.b", "x.com.au", "gallimard.org.fr", "-gallimard-.fr", "0.0"]
    samples += ["".join(rng.choice(alphabet) for _ in range(rng.randint(3, 20))) for _ in range(3000)]
    plain = [sample for sample in samples if candidates.PLAIN_DOMAIN.fullmatch(sample)]
    assert len(plain) > 500
    assert [candidates.domain_region(s) for s in plain] == [candidates._any_domain_region(s) for s in plain]
    assert not candidates.PLAIN_DOMAIN.fullmatch("xn--gllimard-16g.com")
    assert not candidates.PLAIN_DOMAIN.fullmatch("XN--GLLIMARD-16G.FR")


def test_words_inside_a_token_are_every_priced_word() -> None:
    """One automaton pass finds what looking up every substring finds, numbers included."""
    rng = random.Random(13)
    samples = ["", "a", "123", "shop2024gallimard", "x" * 40, "99problems", "mp3player", "officialstore"]
    samples += ["hellorealise", "a1b22c333" + "7" * 30]
    samples += ["".join(rng.choice("aeilnorst0123") for _ in range(rng.randint(1, 30))) for _ in range(500)]
    for sample in samples:
        expected = [
            [
                (stop, cost)
                for stop in range(begin + 1, min(len(sample), begin + words.LONGEST_WORD) + 1)
                if (cost := words._word_cost(sample[begin:stop])) != math.inf
            ]
            for begin in range(len(sample))
        ]
        assert words._words_at(sample) == expected, sample


@pytest.fixture
def fresh_dictionary(tmp_path, monkeypatch: pytest.MonkeyPatch):
    """The word automaton with the cache folder in tmp_path, forgotten before and after the test."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    words.dictionary.cache_clear()
    yield tmp_path / "brandcrawl"
    words.dictionary.cache_clear()


def test_the_word_automaton_is_built_once_then_loaded_from_its_cache(fresh_dictionary) -> None:
    (fresh_dictionary / "dictionary-0123456789abcdef.pickle").parent.mkdir(parents=True)
    (fresh_dictionary / "dictionary-0123456789abcdef.pickle").write_bytes(b"another version's")
    built = words._words_at("hellorealiseshop2024")
    [cached] = fresh_dictionary.glob("dictionary-*.pickle")  # the other version's file is gone
    assert cached.name != "dictionary-0123456789abcdef.pickle"
    written = cached.stat().st_mtime_ns
    words.dictionary.cache_clear()
    assert words._words_at("hellorealiseshop2024") == built
    assert cached.stat().st_mtime_ns == written, "loaded, not built again"


def test_a_cache_file_that_does_not_load_is_built_again(fresh_dictionary) -> None:
    built = words._words_at("hellorealise")
    [cached] = fresh_dictionary.glob("dictionary-*.pickle")
    cached.write_bytes(b"\x80\x05 cut short")
    words.dictionary.cache_clear()
    assert words._words_at("hellorealise") == built
    words.dictionary.cache_clear()
    assert words._words_at("hellorealise") == built  # from the file written again
