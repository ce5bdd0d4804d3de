"""Rendering the digest: subject, HTML and plain text, in English and French, hostile text escaped.

Reports are built directly (no database). The plain-text part of a full report is compared with
tests/golden/digest_en.txt and digest_fr.txt. After a deliberate change of the text template or of
the words, regenerate them, then read the diff before committing it:

    BRANDCRAWL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py -k golden
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.numbers import format_currency

from brandcrawl.render import (
    LANGUAGES,
    WORDS,
    RenderedDigest,
    _environment,
    _inliner,
    _money_format,
    render,
    render_digest,
    template_environment,
)
from brandcrawl.report import BrandSection, DigestReport, Health, ReportedChange, ReportedHit

GOLDEN = Path(__file__).parent / "golden"
NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)
SCRIPT = '<script>alert("gallimard")</script>'
IMG = '"><img src=x onerror=alert(1)>'


def hit(hit_id: int = 1, brand: str = "Gallimard", **values: object) -> ReportedHit:
    fields: dict[str, object] = {
        "hit_id": hit_id,
        "brand": brand,
        "marketplace": "ebay",
        "site": "ebay.fr",
        "title": "Vends compte Twitter @Gallimard",
        "url": f"https://www.ebay.fr/itm/{hit_id}",
        "asset_kind": "handle",
        "asset": "x:gallimard",
        "matched": "Gallimard",
        "explanation": "is 'Gallimard'",
        "score": 1.0,
        "price": Decimal("1500.00"),
        "currency": "EUR",
        "price_is_range": False,
        "bid_count": 3,
        "end_time": datetime(2026, 11, 28, 14, 27, tzinfo=UTC),
        "status": "active",
        "seller": "vendeur42",
    }
    fields.update(values)
    return ReportedHit(**fields)  # type: ignore[arg-type]


def change(change_id: int, field: str, old: str | None, new: str | None, **values: object) -> ReportedChange:
    fields: dict[str, object] = {
        "change_id": change_id,
        "brand": "Gallimard",
        "marketplace": "ebay",
        "title": "gallimard-shop.net premium",
        "url": "https://www.ebay.fr/itm/900",
        "asset": "gallimard-shop.net",
        "field": field,
        "old_value": old,
        "new_value": new,
        "changed_at": NOW - timedelta(hours=3),
    }
    fields.update(values)
    return ReportedChange(**fields)  # type: ignore[arg-type]


def health(marketplace: str = "ebay", status: str = "ok", detail: str = "", **values: object) -> Health:
    fields: dict[str, object] = {
        "marketplace": marketplace,
        "status": status,
        "detail": detail,
        "pages_fetched": 12,
        "listings_seen": 1234,
        "hits": 3,
        "finished_at": NOW - timedelta(minutes=30),
    }
    fields.update(values)
    return Health(**fields)  # type: ignore[arg-type]


def report(sections: list[BrandSection], runs: list[Health] | None = None) -> DigestReport:
    runs = [health()] if runs is None else runs
    return DigestReport(
        generated_at=NOW,
        timezone="Europe/Paris",
        sections=sections,
        health=runs,
        hit_ids=[h.hit_id for s in sections for h in s.new_hits],
        change_ids=sorted({c.change_id for s in sections for c in s.changes}),
    )


def full_report() -> DigestReport:
    """Two brands, every kind of hit and change, one marketplace of each status."""
    gallimard = BrandSection(
        "Gallimard",
        new_hits=[
            hit(1),
            hit(
                2,
                title="gallimrd.com premium domain for sale",
                url="https://sedo.example/gallimrd.com",
                marketplace="sedo",
                site=None,
                asset_kind="domain",
                asset="gallimrd.com",
                matched="gallimrd",
                explanation="typo of Gallimard: 1 letter missing (a)",
                score=0.85,
                price=Decimal("3.25"),
                currency="USD",
                price_is_range=True,
                bid_count=None,
                end_time=None,
                seller=None,
            ),
            hit(
                3,
                title="Lot livres Gallimard NRF",
                asset_kind="other",
                asset=None,
                explanation="is 'Gallimard'",
                price=Decimal("12.5"),
                currency="GBP",
                site="ebay.co.uk",
                bid_count=1,
                end_time=NOW - timedelta(hours=2),
            ),
            hit(4, title="@gallimard_shop compte", asset="instagram:gallimard_shop", status="ended"),
        ],
        changes=[
            change(10, "price", "100.00", "250.00"),
            change(11, "price", "250.00", "180.00", url="https://www.ebay.fr/itm/901"),
            change(12, "currency", "USD", "EUR", url="https://www.ebay.fr/itm/901"),
            change(13, "bid_count", "3", "5"),
            change(14, "end_time", "2026-11-28T12:00:00+00:00", "2026-11-30T12:00:00+00:00"),
            change(15, "status", "active", "ended"),
            change(16, "status", "active", "sold"),
            change(17, "status", "ended", "active"),
            change(18, "status", "active", "gone"),
            change(19, "seller_note", None, "reserve met"),
        ],
    )
    folio = BrandSection(
        "Folio",
        new_hits=[
            hit(
                5,
                brand="Folio",
                title="Compte X @folio_officiel à vendre",
                asset="x:folio_officiel",
                matched="folio",
                explanation="Folio with 'officiel' after",
                score=0.77,
            )
        ],
    )
    runs = [
        health("ebay"),
        health("catawiki", "blocked", "bot-challenge page on 8 of 8 search pages", listings_seen=0, hits=0),
        health(
            "leboncoin",
            "disallowed",
            "robots.txt forbids /recherche",
            pages_fetched=0,
            listings_seen=0,
            hits=0,
        ),
        health("sedo", "broken", "results exist but no listing parsed", listings_seen=0, hits=0),
        health("dropcatch", "stale", "no crawl since the last digest", finished_at=NOW - timedelta(days=2)),
    ]
    return report([gallimard, folio], runs)


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text of <style> elements."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.styles: list[str] = []
        self._in_style = False
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.styles.append(data)

    def named(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]


def spaces(text: str) -> str:
    """French typography uses no-break and narrow no-break spaces: compare them as spaces."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


# -- hostile text -----------------------------------------------------------------------------------


def test_hostile_titles_sellers_assets_and_explanations_are_escaped_in_html_and_readable_in_text() -> None:
    hostile = hit(
        title=f"Gallimard {IMG}{SCRIPT}",
        seller=f"{IMG}seller",
        asset_kind="domain",
        asset=f"gallimard{SCRIPT}.com",
        matched="gallimard",
        explanation=f"typo of Gallimard: {IMG}",
        site=f"{SCRIPT}ebay.fr",
    )
    rendered = render_digest(report([BrandSection(f"Galli{SCRIPT}", [hostile])]))
    html = rendered.html
    assert "<script" not in html.lower()
    assert "<img" not in html.lower()
    assert "onerror=alert(1)>" not in html
    assert "&lt;script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    tags = Tags(html)
    assert not tags.named("script")
    assert not tags.named("img")
    assert not [attrs for _, attrs in tags.tags if "onerror" in attrs]
    # the same strings, as written, in the plain text
    assert f"Gallimard {IMG}{SCRIPT}" in rendered.text
    assert f"{IMG}seller" in rendered.text
    assert f"gallimard{SCRIPT}.com" in rendered.text
    assert f"typo of Gallimard: {IMG}" in rendered.text
    assert f"Galli{SCRIPT}" in rendered.subject


def test_control_characters_in_listing_text_cannot_break_lines_or_reverse_text() -> None:
    sneaky = hit(title="Gallimard\r\n\r\n-- Crawl health --\nebay: ok\u202egnp.exe", seller="a\x1b[31mred")
    text = render_digest(report([BrandSection("Gallimard", [sneaky])])).text
    assert " * Gallimard    -- Crawl health -- ebay: ok gnp.exe" in text
    assert "\u202e" not in text
    assert "\x1b" not in text
    assert text.count("-- Crawl health --") == 2  # the title's, on the title's line, and the real one


def test_only_http_links_no_remote_resources_and_no_stylesheet_links() -> None:
    trap = hit(2, url="javascript:alert(document.cookie)", title="gallimard trap")
    spaced = hit(3, url='https://www.ebay.fr/itm/3?q="><b>x', title="gallimard spaced")
    html = render_digest(report([BrandSection("Gallimard", [hit(1), trap, spaced])])).html
    tags = Tags(html)
    hrefs = [attrs["href"] for attrs in tags.named("a")]
    assert hrefs == ["https://www.ebay.fr/itm/1", "https://www.ebay.fr/itm/3?q=%22%3E%3Cb%3Ex"]
    assert "javascript:" not in html
    assert not tags.named("link")
    assert not tags.named("script")
    assert not [attrs for _, attrs in tags.tags if "src" in attrs]
    assert "http" not in "".join(tags.styles)  # no @import or url() in what is kept


# -- HTML: inlined CSS and dark mode ----------------------------------------------------------------


def test_css_is_inlined_and_only_the_dark_mode_rules_stay_in_the_head() -> None:
    html = render_digest(full_report()).html
    tags = Tags(html)
    body = tags.named("body")[0]
    assert "background-color: #ffffff" in (body["style"] or "")
    assert "color: #1f1f1f" in (body["style"] or "")
    for name in ("h1", "h2", "th", "td", "mark", "a"):
        assert all(attrs.get("style") for attrs in tags.named(name)), name
    assert "background-color: #ffe08a" in (tags.named("mark")[0]["style"] or "")
    assert {"name": "color-scheme", "content": "light dark"} in tags.named("meta")
    (style,) = tags.styles
    assert style.strip().startswith("@media (prefers-color-scheme: dark)")
    assert "!important" in style
    assert not tags.named("link")


def test_the_matched_part_is_marked_in_the_asset_or_else_the_title() -> None:
    in_asset = hit(
        1, asset_kind="domain", asset="gallimrd.com", matched="gallimrd", title="Domain gallimrd.com"
    )
    in_title = hit(2, asset_kind="other", asset=None, matched="Gallimard", title="Lot Gallimard NRF")
    rendered = render_digest(report([BrandSection("Gallimard", [in_asset, in_title])]))
    html = rendered.html
    assert re.search(r"<mark[^>]*>gallimrd</mark>\.com", html)
    assert re.search(r"Lot <mark[^>]*>Gallimard</mark> NRF", html)
    assert html.count("<mark") == 2  # not in the first hit's title too
    assert "(matched: gallimrd)" in rendered.text


# -- subject ----------------------------------------------------------------------------------------


def test_the_subject_names_the_brands_counts_and_date() -> None:
    sections = [
        BrandSection("Gallimard", [hit(1), hit(2)], [change(10, "price", "1", "2")]),
        BrandSection("Folio", [hit(3, brand="Folio")]),
    ]
    subject = render_digest(report(sections)).subject
    assert subject == "Brand watch 2026-11-27 — Gallimard, Folio: 3 new hits, 1 change"


def test_the_subject_counts_a_change_shown_under_two_brands_once_and_shortens_many_brands() -> None:
    shared = change(10, "price", "1", "2")
    names = ["Gallimard", "Folio", "Pléiade", "Denoël", "Mercure"]
    sections = [BrandSection(name, changes=[shared]) for name in names]
    subject = render_digest(report(sections)).subject
    assert subject == "Brand watch 2026-11-27 — Gallimard, Folio, Pléiade +2 more: 0 new hits, 1 change"


@pytest.mark.parametrize(
    "brand", ["Galli\nmard", "Galli\r\nBcc: attacker@example.org", "Galli\u2028mard\x85"]
)
def test_a_newline_in_a_brand_name_cannot_make_a_multi_line_subject(brand: str) -> None:
    for language in LANGUAGES:
        subject = render_digest(report([BrandSection(brand, [hit(brand=brand)])]), language=language).subject
        assert subject.splitlines() == [subject]
        assert not re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", subject)
        assert "Galli" in subject


def test_a_blocked_marketplace_gets_a_distinct_subject_and_a_health_line() -> None:
    sections = [BrandSection("Gallimard", [hit()])]
    ok = render_digest(report(sections, [health("ebay")]))
    blocked_run = health("ebay", "blocked", "bot-challenge page on 8 of 8 search pages", listings_seen=0)
    blocked = render_digest(report(sections, [blocked_run, health("leboncoin")]), timezone="Europe/Paris")
    assert ok.subject == "Brand watch 2026-11-27 — Gallimard: 1 new hit, 0 changes"
    assert blocked.subject == (
        "Brand watch 2026-11-27 — INCOMPLETE: ebay blocked — Gallimard: 1 new hit, 0 changes"
    )
    assert "!! Some marketplaces could not be checked: no hits from them does not mean" in blocked.text
    assert "   - ebay: blocked (bot-challenge page on 8 of 8 search pages)" in blocked.text
    assert (
        "ebay: blocked (bot-challenge page on 8 of 8 search pages) - pages 12, listings 0, hits 3, "
        "last crawl 2026-11-27 06:30 CET" in blocked.text
    )
    assert "could not be checked" not in ok.text
    assert re.search(r'<td class="tone-bad" style="[^"]*color: #b3261e[^"]*">blocked</td>', blocked.html)
    assert "bot-challenge page on 8 of 8 search pages</td>" in blocked.html
    fr = render_digest(report(sections, [blocked_run]), language="fr")
    assert fr.subject.startswith("Veille de marque 27 nov. 2026 — INCOMPLET : ebay bloquée — ")


# -- quiet day --------------------------------------------------------------------------------------


def test_a_quiet_day_still_renders_a_short_all_quiet_digest() -> None:
    quiet = report([], [health("ebay"), health("leboncoin", listings_seen=66)])
    rendered = render_digest(quiet)
    assert rendered.subject == "Brand watch 2026-11-27 — all quiet, 1,300 listings checked on 2 marketplaces"
    assert (
        "Nothing new or changed since the last digest: all quiet, 1,300 listings checked on 2 marketplaces."
        in rendered.text
    )
    assert "== " not in rendered.text  # no brand sections
    assert "all quiet, 1,300 listings checked on 2 marketplaces" in rendered.html
    assert len(rendered.text.splitlines()) < 12
    fr = render_digest(quiet, language="fr")
    assert spaces(fr.subject) == (
        "Veille de marque 27 nov. 2026 — rien à signaler, 1 300 annonces vérifiées sur 2 places de marché"
    )


def test_a_quiet_day_with_a_broken_marketplace_is_not_called_all_quiet() -> None:
    rendered = render_digest(report([], [health("ebay"), health("sedo", "broken", "layout changed")]))
    assert rendered.subject == (
        "Brand watch 2026-11-27 — INCOMPLETE: sedo broken — "
        "nothing new, 1,234 listings checked on 1 marketplace"
    )
    assert "all quiet" not in rendered.text
    assert "   - sedo: broken (layout changed)" in rendered.text


def test_before_any_crawl_the_digest_says_so() -> None:
    rendered = render_digest(report([], []))
    assert "No crawl has run yet." in rendered.text
    assert "No crawl has run yet." in rendered.html


# -- French -----------------------------------------------------------------------------------------


def test_french_words_prices_and_dates() -> None:
    rendered = render_digest(full_report(), language="fr", timezone="Europe/Paris")
    text, html = spaces(rendered.text), spaces(rendered.html)
    assert spaces(rendered.subject).startswith(
        "Veille de marque 27 nov. 2026 — INCOMPLET : catawiki bloquée, "
    )
    assert spaces(rendered.subject).endswith("Gallimard, Folio : 5 nouvelles annonces, 10 modifications")
    assert "1 500,00 €" in text  # fr_FR: narrow no-break space in thousands, no-break space before €
    assert "1\u202f500,00\xa0€" in rendered.text
    assert "fin le 28 nov. 2026, 15:27 (dans 32 heures)" in text
    assert "à partir de 3,25 $US" in text
    assert "prix 250,00 € -> 180,00 € (en baisse)" in text
    for heading in (
        "Nouvelles annonces (4)",
        "Modifié depuis le dernier récapitulatif (10)",
        "État des collectes",
    ):
        assert heading in text
        assert heading in html
    assert '<html lang="fr">' in rendered.html
    assert "dropcatch : pas à jour (aucune collecte depuis le dernier récapitulatif)" in text
    assert re.search(r"<th[^>]*>Dernière collecte</th>", html)


def test_every_word_of_the_templates_is_in_both_catalogues() -> None:
    assert WORDS["en"].keys() == WORDS["fr"].keys()
    for key, english in WORDS["en"].items():
        assert type(english) is type(WORDS["fr"][key]), key
    environment = template_environment()
    for name in ("digest.html", "digest.txt"):
        source = environment.loader.get_source(environment, name)[0]  # type: ignore[union-attr]
        used = set(re.findall(r"\bw\.(\w+)", source)) | set(re.findall(r"\bt\(\"(\w+)\"", source))
        assert used, name
        assert used <= WORDS["en"].keys(), used - WORDS["en"].keys()
        # No English left in the markup itself: between tags and template tags, only punctuation.
        body = source.split("</head>")[-1]
        stripped = re.sub(r"\{[{%#].*?[}%#]\}|<[^>]*>|&\w+;", " ", body, flags=re.DOTALL)
        leftovers = re.findall(r"[A-Za-z]{2,}", stripped)
        assert leftovers == [], (name, leftovers)


def test_an_unsupported_language_is_an_error() -> None:
    with pytest.raises(ValueError, match="'de'"):
        render_digest(report([]), language="de")


# -- details: changes, prices, times ---------------------------------------------------------------


def test_change_lines_in_english() -> None:
    text = render_digest(full_report(), timezone="Europe/Paris").text
    lines = [
        line.split("): ", 1)[1] for line in text.splitlines() if line.startswith(" * gallimard-shop.net")
    ]
    assert lines == [
        "price 100.00 -> 250.00 (up)",
        "price 250.00 EUR -> 180.00 EUR (down)",  # the listing's currency, from its currency change
        "currency USD -> EUR",
        "bid count 3 -> 5",
        "end time 2026-11-28 13:00 CET -> 2026-11-30 13:00 CET",
        "ended",
        "sold",
        "relisted",
        "gone",
        "seller note - -> reserve met",
    ]


def test_times_are_in_the_recipients_time_zone() -> None:
    one = report([BrandSection("Gallimard", [hit()])])
    assert "ends 2026-11-28 09:27 EST (in 32 hours)" in render_digest(one, timezone="America/New_York").text
    assert "ends 2026-11-28 14:27 UTC (in 32 hours)" in render_digest(one).text
    assert "ends 2026-11-28 23:27 JST" in render_digest(one, timezone="Asia/Tokyo").text


@pytest.mark.parametrize("language", list(LANGUAGES))
@pytest.mark.parametrize("currency", ["EUR", "USD", "GBP", "JPY", "CHF", "SEK"])
def test_the_fast_price_format_matches_babel(language: str, currency: str) -> None:
    style = LANGUAGES[language]
    money = _money_format(style.locale, style.money_pattern, currency)
    assert money.fallback is None
    for amount in ("0", "0.5", "3.25", "12.345", "999.995", "1500", "1234567.89", "1000000000"):
        expected = format_currency(Decimal(amount), currency, style.money_pattern, locale=style.locale)
        assert money.format(Decimal(amount)) == expected, amount


def test_a_price_without_a_known_currency_stays_readable() -> None:
    odd = [hit(1, currency="XBT"), hit(2, currency=None), hit(3, price=None)]
    text = render_digest(report([BrandSection("Gallimard", odd)])).text
    assert "| 1,500.00 XBT, 3 bids |" in text
    assert "| 1,500.00, 3 bids |" in text
    assert "| —, 3 bids |" in text


# -- the golden plain text --------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr"])
def test_golden_plain_text(language: str) -> None:
    text = render_digest(full_report(), language=language, timezone="Europe/Paris").text
    golden = GOLDEN / f"digest_{language}.txt"
    if os.environ.get("BRANDCRAWL_UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8")


# -- API and speed ----------------------------------------------------------------------------------


def test_render_keeps_its_html_and_text_pair_in_the_reports_time_zone() -> None:
    one = report([BrandSection("Gallimard", [hit()])])
    html, text = render(one)
    rendered = render_digest(one, language="en", timezone="Europe/Paris")
    assert (html, text) == (rendered.html, rendered.text)
    assert isinstance(rendered, RenderedDigest)


def test_the_environment_is_autoescaped_and_strict() -> None:
    environment = template_environment()
    assert environment.autoescape("digest.html") is True  # type: ignore[operator]
    assert environment.autoescape("digest.txt") is False  # type: ignore[operator]
    with pytest.raises(Exception, match="undefined"):
        environment.from_string("{{ nothing }}").render()


def test_ten_thousand_hits_across_fifty_brands_render_quickly() -> None:
    sections = [
        BrandSection(
            f"Brand{b}",
            [
                hit(b * 1000 + i, brand=f"Brand{b}", price=Decimal(i) + Decimal("0.5"), bid_count=i % 9)
                for i in range(200)
            ],
            [change(b * 1000 + i, "price", "1.00", "2.00") for i in range(10)],
        )
        for b in range(50)
    ]
    big = report(sections)
    render_digest(big)  # warm: templates compiled, inliner built, once per process
    assert _environment() is _environment()
    assert _inliner() is _inliner()
    started = time.perf_counter()
    rendered = render_digest(big)
    elapsed = time.perf_counter() - started
    assert rendered.text.count("\n * ") == 10_500
    assert elapsed < 4, elapsed  # about 0.8 s on a laptop; generous for a loaded CI runner


def test_a_handle_hit_shows_followers_sale_method_and_the_handle_as_written() -> None:
    sold = hit(
        1,
        asset_text="x.com/Gallimard",
        followers=12000,
        sale_method="auction",
        title="rare handle x.com/Gallimard",
    )
    plain = hit(2, asset_text="@gallimard", followers=None, sale_method=None)
    sections = [BrandSection("Gallimard", [sold, plain])]
    en = render_digest(report(sections))
    assert "X @gallimard (handle, written x.com/Gallimard, 12,000 followers)" in en.text
    assert "auction, 3 bids" in en.text
    assert "written @gallimard" not in en.text, "the same handle as shown is not repeated"
    assert "written x.com/Gallimard · 12,000 followers" in en.html
    fr = render_digest(
        report(sections, [health("ebay", source="api"), health("fameswap", "needs_login")]), language="fr"
    )
    assert "12\u202f000 abonnés" in fr.text or "12\u00a0000 abonnés" in fr.text
    assert "enchères, 3 enchères" in fr.text
    assert "ebay (API) : ok" in fr.text
    assert "fameswap : connexion requise" in fr.text
    assert "INCOMPLET" not in fr.subject, "a marketplace waiting for credentials is the watch file's choice"


# -- triage ----------------------------------------------------------------------------------------


def test_relisted_after_takedown_comes_first_and_is_marked_in_both_languages() -> None:
    relisted = [
        hit(
            7,
            title="gallimard-shop.net again",
            asset_kind="domain",
            asset="gallimard-shop.net",
            takedown_hit_id=3,
        ),
        hit(8, title="Vends @gallimard", takedown_hit_id=8),
    ]
    sections = [
        BrandSection("Gallimard", new_hits=[hit(2)], relisted=relisted),
        BrandSection("Folio", relisted=[hit(9, brand="Folio", takedown_hit_id=4)]),
    ]
    en = render_digest(report(sections))
    assert (
        en.subject
        == "Brand watch 2026-11-27 — Gallimard, Folio: 3 relisted after takedown, 1 new hit, 0 changes"
    )
    gallimard = en.text.split("== Gallimard ==\n", 1)[1].split("== Folio ==", 1)[0]
    assert gallimard.startswith("\n!! Relisted after takedown (2):\n * gallimard-shop.net again\n")
    assert "   !! relisted after takedown of hit #3\n" in gallimard
    assert " * Vends @gallimard\n   !! relisted after takedown\n" in gallimard
    assert gallimard.index("Relisted after takedown") < gallimard.index("New (1):")
    assert re.search(r'<h3 class="alert"[^>]*>Relisted after takedown \(2\)</h3>', en.html)
    assert en.html.index("Relisted after takedown (2)") < en.html.index("New (1)")
    assert re.search(r'<strong class="alert"[^>]*>relisted after takedown of hit #3</strong>', en.html)

    fr = render_digest(report(sections), language="fr")
    assert fr.subject.endswith(
        "Gallimard, Folio : 3 remises en vente après retrait, 1 nouvelle annonce, 0 modification"
    )
    assert "!! Remises en vente après retrait (2) :" in fr.text
    assert "   !! remise en vente après le retrait du n° 3\n" in fr.text
    assert "remise en vente après le retrait du n° 3</strong>" in fr.html


def test_each_hit_shows_the_id_that_hits_mark_takes() -> None:
    rendered = render_digest(report([BrandSection("Gallimard", [hit(1234)])]))
    assert "(in 32 hours) | hit #1234\n" in rendered.text
    assert "seller: vendeur42 · hit #1234</span>" in rendered.html
    assert (
        " | n° 1234\n" in render_digest(report([BrandSection("Gallimard", [hit(1234)])]), language="fr").text
    )


def test_a_digest_with_only_relisted_hits_is_not_quiet() -> None:
    rendered = render_digest(report([BrandSection("Gallimard", relisted=[hit(5, takedown_hit_id=5)])]))
    assert "all quiet" not in rendered.subject
    assert "Nothing new" not in rendered.text
    assert "1 relisted after takedown, 0 new hits, 0 changes" in rendered.text
