"""The foundation's first matcher: the brand's label inside the candidate, official assets and
exclusions left out, common-word brands only as whole words."""

import pytest

from brandcrawl.config import Brand, OfficialHandle
from brandcrawl.matching import BrandMatcher, label

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
        Brand("Folio", common_word=True),
        Brand("La Poste", common_word=True),
        Brand("L'Oréal"),
    ]
)


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("société générale", "societegenerale"),
        ("l'oréal", "loreal"),
        ("La Poste", "laposte"),
        ("GÅLLIMARD", "gallimard"),
    ],
)
def test_label_folds_accents_case_and_punctuation(written: str, expected: str) -> None:
    assert label(written) == expected


@pytest.mark.parametrize(
    ("candidate", "kind", "brand", "matched"),
    [
        ("Vends compte Twitter @Gallimard 1800 abonnés", "title", "Gallimard", "Gallimard"),
        ("gallimard-shop.net", "domain", "Gallimard", "gallimard"),
        ("Premium domain GALLIMARD-BOOKS.COM", "title", "Gallimard", "GALLIMARD"),
        ("x:gallimard", "handle", "Gallimard", "gallimard"),
        ("@the.gallimard", "handle", "Gallimard", "gallimard"),
        ("folio-shop.net", "domain", "Folio", "folio"),
        ("foliostore.com", "domain", "Folio", "folio"),
        ("instagram:folio_officiel", "handle", "Folio", "folio"),
        ("la-poste.fr", "domain", "La Poste", "la-poste"),
        ("la_poste", "handle", "La Poste", "la_poste"),
        ("loreal-paris-shop.com", "domain", "L'Oréal", "loreal"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_hits(candidate: str, kind: str, brand: str, matched: str) -> None:
    matches = MATCHER.match(candidate, kind)
    assert [(m.brand, m.matched) for m in matches] == [(brand, matched)]
    start, end = matches[0].span
    assert candidate[start:end] == matched
    assert matches[0].explanation


@pytest.mark.parametrize(
    ("candidate", "kind"),
    [
        ("gallimard.fr", "domain"),  # the brand's own domain
        ("www.gallimard.fr", "domain"),
        ("instagram:gallimard", "handle"),  # its own account on that platform
        ("tiktok:editions_gallimard", "handle"),  # its own handle on any platform
        ("Suivez @editions_gallimard pour les nouveautés", "title"),
        ("Proust, À la recherche du temps perdu, Gallimard La Pléiade", "title"),  # an exclusion
        ("portfolio.com", "domain"),  # a common-word brand inside a longer word
        ("Leather portfolio case", "title"),
        ("Poster lampe", "title"),
        ("", "title"),
    ],
)
def test_not_hits(candidate: str, kind: str) -> None:
    assert MATCHER.match(candidate, kind) == []


def test_official_brands_tells_the_pipeline_which_brand_owns_an_asset() -> None:
    assert MATCHER.official_brands("instagram:gallimard", "handle") == {"Gallimard"}
    assert MATCHER.official_brands("x:gallimard", "handle") == set()
    assert MATCHER.official_brands("gallimard.fr", "domain") == {"Gallimard"}


def test_from_names_and_unknown_kind() -> None:
    matcher = BrandMatcher.from_names(["gallimard", "la poste"])
    # Separators inside a distinctive brand do not hide it (galli-mard, galli.mard).
    assert [m.brand for m in matcher.match("galli-mard-la-poste.fr", "domain")] == ["gallimard", "la poste"]
    with pytest.raises(ValueError, match="kind must be one of"):
        matcher.match("x", "url")
