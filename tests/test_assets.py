"""What a listing title sells: a handle (with its platform when the title says), a domain, or other."""

import pytest

from brandcrawl.assets import extract_asset, extract_assets


@pytest.mark.parametrize(
    ("title", "kind", "value"),
    [
        ("Twitter account @Gallimard - 1,800 followers - rare handle", "handle", "x:gallimard"),
        ("Vends compte Twitter @Gallimard 1800 abonnés", "handle", "x:gallimard"),
        ("Instagram Account @gallimard_officiel 12K Follower", "handle", "instagram:gallimard_officiel"),
        ("TikTok @gallimard.fr 40k", "handle", "tiktok:gallimard.fr"),
        ("rare handle x.com/Gallimard", "handle", "x:gallimard"),
        ("instagram.com/gallimard_books page for sale", "handle", "instagram:gallimard_books"),
        ("OG username @gallimard", "handle", "@gallimard"),
        ("Page à vendre IG: gallimard_officiel 12k", "handle", "instagram:gallimard_officiel"),
        ("X: Gallimard (2009), 1 800 abonnés", "handle", "x:gallimard"),
        ("FB – gallimard.livres, 4k likes", "handle", "facebook:gallimard.livres"),
        ("Premium domain GALLIMARD-BOOKS.COM", "domain", "gallimard-books.com"),
        ("gallimard-shop.co.uk premium domain name", "domain", "gallimard-shop.co.uk"),
        ("www.folio.shop domain name for sale", "domain", "folio.shop"),
        ('Darth Maul LIGHTSABER for 12" Star Wars Action Figure, Ep.1 - Sixth Scale NEW', "other", None),
        ("Proust - À la recherche du temps perdu - Gallimard", "other", None),
    ],
)
def test_extract_asset(title: str, kind: str, value: str | None) -> None:
    asset = extract_asset(title)
    assert (asset.kind, asset.value) == (kind, value)


@pytest.mark.parametrize(
    ("text", "values"),
    [
        ("page https://www.facebook.com/profile.php?id=100064", []),  # no account name in the address
        ("https://youtube.com/watch?v=abc", []),
        ("instagram.com/p/Cx12/ and x.com/i/status/1", []),
        ("https://m.facebook.com/gallimard.livres", ["facebook:gallimard.livres"]),
        ("twitter.com/Gallimard/status/123", ["x:gallimard"]),
        (
            "IG @gallimard_officiel, also TikTok @gallimard.fr",
            ["instagram:gallimard_officiel", "tiktok:gallimard.fr"],
        ),
        ("x.com/@Gallimard", ["x:gallimard"]),  # once, though written with an @
    ],
)
def test_extract_assets(text: str, values: list[str]) -> None:
    assert [asset.value for asset in extract_assets(text)] == values
