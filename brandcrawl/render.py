"""Rendering a digest report with the Jinja templates in reports/: a subject line, HTML (CSS inlined)
and plain text from the same data, in the recipient's language and time zone.

Everything a listing wrote (titles, sellers, assets, explanations, URLs) is hostile: the HTML template
is autoescaped, control and bidi-override characters are blanked in both parts, only http(s) links
are kept, and the subject is forced onto one line.

The digest's own words live in ``WORDS`` below, one dict per language; ``LANGUAGES`` says how each
language formats numbers, prices and dates (Babel).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote, urlsplit
from zoneinfo import ZoneInfo

import css_inline
from babel import Locale
from babel.dates import format_datetime, format_timedelta
from babel.numbers import format_currency, format_decimal
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from brandcrawl.items import OFF_SALE
from brandcrawl.report import DigestReport, Health, OtherListing, ReportedChange, ReportedHit


@dataclass(frozen=True)
class RenderedDigest:
    subject: str  # one line, no CR/LF ever (it becomes a mail header)
    html: str  # a complete HTML document, CSS inlined, autoescaped
    text: str  # the plain-text part


@dataclass(frozen=True)
class LanguageStyle:
    """How a language writes dates and prices, as Babel patterns for ``locale``."""

    locale: str
    date_pattern: str
    time_joiner: str  # between the date and the 24-hour HH:MM time
    money_pattern: str | None  # None: the locale's own currency format
    zone_suffix: bool  # add the zone's abbreviation (CET, EST) after each time


LANGUAGES: dict[str, LanguageStyle] = {
    # English readers may be in London or New York: an ISO date (2026-11-28 13:00 CET) and an ISO
    # currency code (1,500.00 EUR, 1,500.00 USD) cannot be misread by either, where 11/28 and $ can.
    # Numbers, plurals and "in 31 hours" follow en_GB.
    "en": LanguageStyle("en_GB", "yyyy-MM-dd", " ", "#,##0.00 ¤¤", zone_suffix=True),
    # fr_FR as written in France: "1 500,00 €", "28 nov. 2026, 15:27"; the zone is named once on top.
    "fr": LanguageStyle("fr_FR", "d MMM y", ", ", None, zone_suffix=False),
}

# Plural entries are (one, other), picked by the language's CLDR plural rule ("0 modification" in French).
WORDS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "Brand watch digest",
        "subject_prefix": "Brand watch",
        "subject_incomplete": "INCOMPLETE: {problems}",
        "subject_quiet": "all quiet, {checked}",
        "subject_nothing_new": "nothing new, {checked}",
        "more_brands": ("+{n} more", "+{n} more"),
        "new_hits": ("{n} new hit", "{n} new hits"),
        "changes": ("{n} change", "{n} changes"),
        "relisted_count": ("{n} relisted after takedown", "{n} relisted after takedown"),
        "listings_checked": ("{n} listing checked", "{n} listings checked"),
        "on_marketplaces": ("on {n} marketplace", "on {n} marketplaces"),
        "checked": "{listings} {marketplaces}",
        "times_in": "Times in {zone}.",
        "colon": ": ",
        "problems_heading": "Some marketplaces could not be checked",
        "problems_body": "no hits from them does not mean nothing is for sale.",
        "new_heading": "New ({n})",
        "relisted_heading": "Relisted after takedown ({n})",
        "relisted_after_takedown": "relisted after takedown",
        "relisted_after_takedown_of": "relisted after takedown of hit #{id}",
        "hit_ref": "hit #{id}",
        "changes_heading": "Changed since the last digest ({n})",
        "quiet": "Nothing new or changed since the last digest: all quiet, {checked}.",
        "quiet_with_problems": "Nothing new or changed since the last digest; {checked}.",
        "health_heading": "Crawl health",
        "no_crawl": "No crawl has run yet.",
        "th_listing": "Listing",
        "th_asset": "For sale",
        "th_price": "Price",
        "th_ends": "Ends",
        "th_marketplace": "Marketplace",
        "th_status": "Status",
        "th_detail": "Detail",
        "th_pages": "Pages",
        "th_listings": "Listings",
        "th_hits": "Hits",
        "th_last_crawl": "Last crawl",
        "pages": "pages",
        "listings": "listings",
        "hits": "hits",
        "last_crawl": "last crawl",
        "asset": "asset",
        "why": "why",
        "matched": "matched",
        "seller": "seller",
        "kind_domain": "domain",
        "kind_handle": "handle",
        "kind_other": "listing",
        "from_price": "from {price}",
        "bids": ("{n} bid", "{n} bids"),
        "followers": ("{n} follower", "{n} followers"),
        "written": "written {text}",
        "sale_auction": "auction",
        "sale_fixed": "fixed price",
        "sale_offer": "offers invited",
        "sale_pending_delete": "pending delete",
        "sale_closeout": "closeout",
        "also_on": "also on {marketplace}",
        "ends": "ends {when}",
        "ended_at": "ended {when}",
        "no_end": "no end time shown",
        "field_price": "price",
        "field_currency": "currency",
        "field_bid_count": "bid count",
        "field_end_time": "end time",
        "field_status": "status",
        "up": "up",
        "down": "down",
        "listing_active": "active",
        "listing_ended": "ended",
        "listing_sold": "sold",
        "listing_gone": "gone",
        "listing_relisted": "relisted",
        "status_ok": "ok",
        "status_blocked": "blocked",
        "status_disallowed": "disallowed",
        "status_broken": "broken",
        "status_stale": "stale",
        "status_needs_login": "needs login",
        "source_api": "API",
        "source_pages": "search pages",
        "detail_stale": "no crawl since the last digest",
    },
    "fr": {
        "title": "Veille de marque : le récapitulatif",
        "subject_prefix": "Veille de marque",
        "subject_incomplete": "INCOMPLET : {problems}",
        "subject_quiet": "rien à signaler, {checked}",
        "subject_nothing_new": "rien de nouveau, {checked}",
        "more_brands": ("+{n} autre", "+{n} autres"),
        "new_hits": ("{n} nouvelle annonce", "{n} nouvelles annonces"),
        "changes": ("{n} modification", "{n} modifications"),
        "relisted_count": ("{n} remise en vente après retrait", "{n} remises en vente après retrait"),
        "listings_checked": ("{n} annonce vérifiée", "{n} annonces vérifiées"),
        "on_marketplaces": ("sur {n} place de marché", "sur {n} places de marché"),
        "checked": "{listings} {marketplaces}",
        "times_in": "Fuseau horaire : {zone}.",
        "colon": " : ",
        "problems_heading": "Certaines places de marché n’ont pas pu être vérifiées",
        "problems_body": "l’absence d’annonce de leur part ne veut pas dire que rien n’y est à vendre.",
        "new_heading": "Nouvelles annonces ({n})",
        "relisted_heading": "Remises en vente après retrait ({n})",
        "relisted_after_takedown": "remise en vente après retrait",
        "relisted_after_takedown_of": "remise en vente après le retrait du n° {id}",
        "hit_ref": "n° {id}",
        "changes_heading": "Modifié depuis le dernier récapitulatif ({n})",
        "quiet": (
            "Rien de nouveau ni de modifié depuis le dernier récapitulatif : rien à signaler, {checked}."
        ),
        "quiet_with_problems": "Rien de nouveau ni de modifié depuis le dernier récapitulatif ; {checked}.",
        "health_heading": "État des collectes",
        "no_crawl": "Aucune collecte n’a encore eu lieu.",
        "th_listing": "Annonce",
        "th_asset": "En vente",
        "th_price": "Prix",
        "th_ends": "Fin",
        "th_marketplace": "Place de marché",
        "th_status": "État",
        "th_detail": "Détail",
        "th_pages": "Pages",
        "th_listings": "Annonces",
        "th_hits": "Résultats",
        "th_last_crawl": "Dernière collecte",
        "pages": "pages",
        "listings": "annonces",
        "hits": "résultats",
        "last_crawl": "dernière collecte",
        "asset": "en vente",
        "why": "pourquoi",
        "matched": "repéré",
        "seller": "vendeur",
        "kind_domain": "domaine",
        "kind_handle": "compte",
        "kind_other": "annonce",
        "from_price": "à partir de {price}",
        "bids": ("{n} enchère", "{n} enchères"),
        "followers": ("{n} abonné", "{n} abonnés"),
        "written": "écrit {text}",
        "sale_auction": "enchères",
        "sale_fixed": "prix fixe",
        "sale_offer": "offres libres",
        "sale_pending_delete": "suppression imminente",
        "sale_closeout": "déstockage",
        "also_on": "aussi sur {marketplace}",
        "ends": "fin le {when}",
        "ended_at": "terminée le {when}",
        "no_end": "pas de date de fin affichée",
        "field_price": "prix",
        "field_currency": "devise",
        "field_bid_count": "nombre d’enchères",
        "field_end_time": "date de fin",
        "field_status": "statut",
        "up": "en hausse",
        "down": "en baisse",
        "listing_active": "en cours",
        "listing_ended": "terminée",
        "listing_sold": "vendue",
        "listing_gone": "disparue",
        "listing_relisted": "remise en vente",
        "status_ok": "ok",
        "status_blocked": "bloquée",
        "status_disallowed": "interdite",
        "status_broken": "en panne",
        "status_stale": "pas à jour",
        "status_needs_login": "connexion requise",
        "source_api": "API",
        "source_pages": "pages de recherche",
        "detail_stale": "aucune collecte depuis le dernier récapitulatif",
    },
}

_PLATFORMS = {
    "x": "X",
    "instagram": "Instagram",
    "tiktok": "TikTok",
    "youtube": "YouTube",
    "facebook": "Facebook",
    "twitch": "Twitch",
    "snapchat": "Snapchat",
}
_STATUSES = ("ok", "blocked", "disallowed", "broken", "stale", "needs_login")
_SOURCES = ("api", "pages")
# The detail digest.py writes for a stale marketplace, translated like the status itself.
_KNOWN_DETAILS = {"no crawl since the last digest": "detail_stale"}
_SUBJECT_BRANDS = 3
_SUBJECT_MAX = 200
_NO_VALUE = "—"

# C0/C1 controls, line and paragraph separators, bidi overrides and marks: a title must not break
# a line of the text part, fake a header, or reverse the text that follows it.
_BLANKED = [
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x2028,
    0x2029,
    0x200E,
    0x200F,
    0x061C,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
]
_BLANK_TABLE = dict.fromkeys(_BLANKED, " ")


def clean(text: str | None) -> str:
    """One line of hostile text, control characters blanked (escaping is the template's job)."""
    return text.translate(_BLANK_TABLE) if text else ""


def one_line(text: str) -> str:
    """Whitespace of any kind collapsed to single spaces: safe as a mail header."""
    return " ".join(clean(text).split())


def template_environment() -> Environment:
    """Jinja for reports/: HTML autoescaped (listing titles are attacker-controlled), no silent blanks."""
    return Environment(
        loader=PackageLoader("reports", "."),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


@cache
def _environment() -> Environment:
    """One environment per process: templates are compiled once."""
    return template_environment()


@cache
def _inliner() -> css_inline.CSSInliner:
    # keep_at_rules: the @media (prefers-color-scheme: dark) rules stay in a <style> in the head.
    return css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True, keep_link_tags=False)


def render_digest(report: DigestReport, *, language: str = "en", timezone: str = "UTC") -> RenderedDigest:
    """The digest's subject, HTML and plain text, in ``language`` ("en" or "fr"), times in ``timezone``."""
    if language not in LANGUAGES:
        raise ValueError(f"unsupported digest language {language!r}: expected one of {', '.join(LANGUAGES)}")
    words = _Words(language, ZoneInfo(timezone), report.generated_at)
    context = _context(report, words, timezone)
    environment = _environment()
    section_template = environment.get_template("digest_section.html")
    # Each brand's section is inlined on its own (all rules are plain element and class selectors,
    # so the result is the same): a whole digest of 10,000 hits at once takes ~130 MB more.
    sections = [
        _inliner().inline_fragment(section_template.render({**context, "section": section}), _stylesheet())
        for section in context["sections"]
    ]
    before, after = (
        _inliner().inline(environment.get_template("digest.html").render(context)).split(SECTIONS, 1)
    )
    html = "".join((before, *sections, after))
    text = environment.get_template("digest.txt").render(context)
    return RenderedDigest(subject=context["subject"], html=html, text=text)


SECTIONS = "<!--brandcrawl:sections-->"  # where digest.html leaves room for the brand sections


@cache
def _stylesheet() -> str:
    """The rules of digest.html's <style>, for inlining the sections rendered apart from it."""
    environment = _environment()
    assert environment.loader is not None
    source = environment.loader.get_source(environment, "digest.html")[0]
    return source.split("<style>", 1)[1].split("</style>", 1)[0]


def render(report: DigestReport, language: str = "en", timezone: str | None = None) -> tuple[str, str]:
    """(HTML, plain text), for callers not yet on ``render_digest``; times in the report's time zone."""
    rendered = render_digest(report, language=language, timezone=timezone or report.timezone)
    return rendered.html, rendered.text


class _Words:
    """The digest's words, numbers, prices and dates in one language and time zone.

    Babel is exact but slow (tens of µs a call): what repeats (plural rules, small numbers, dates,
    "in 31 hours") is memoised for the call, and prices use a per-currency format learned from Babel.
    """

    def __init__(self, language: str, zone: ZoneInfo, now: datetime) -> None:
        self.language = language
        self.style = LANGUAGES[language]
        self.words = WORDS[language]
        self.locale = Locale.parse(self.style.locale)
        self.zone = zone
        self.now = _aware(now)
        self._plural_forms: dict[int, bool] = {}
        self._numbers: dict[int, str] = {}
        self._dates: dict[date, str] = {}
        self._abbreviations: dict[tuple[int, bool], str] = {}
        self._untils: dict[tuple[bool, str, int], str] = {}

    def __call__(self, key: str, **values: object) -> str:
        return self.words[key].format(**values) if values else self.words[key]

    def plural(self, key: str, n: int, **values: object) -> str:
        one, other = self.words[key]
        singular = self._plural_forms.get(n)
        if singular is None:
            singular = self._plural_forms[n] = self.locale.plural_form(n) == "one"
        return (one if singular else other).format(n=self.number(n), **values)

    def number(self, n: int) -> str:
        text = self._numbers.get(n)
        if text is None:
            text = self._numbers[n] = format_decimal(n, locale=self.locale)
        return text

    def money(self, amount: Decimal | None, currency: str | None, is_range: bool = False) -> str:
        if amount is None:
            return _NO_VALUE
        text = _money_format(self.style.locale, self.style.money_pattern, currency or "").format(amount)
        return self("from_price", price=text) if is_range else text

    def moment(self, moment: datetime) -> str:
        """A date and time in the recipient's zone: "2026-11-28 13:00 CET", "28 nov. 2026, 13:00"."""
        local = _aware(moment).astimezone(self.zone)
        text = f"{self.date(local)}{self.style.time_joiner}{local:%H:%M}"
        if not self.style.zone_suffix:
            return text
        offset = local.utcoffset()
        key = (int(offset.total_seconds()) if offset else 0, local.dst() is not None and bool(local.dst()))
        abbreviation = self._abbreviations.get(key)
        if abbreviation is None:
            abbreviation = self._abbreviations[key] = _zone_abbreviation(local)
        return f"{text} {abbreviation}"

    def date(self, moment: datetime) -> str:
        local = _aware(moment).astimezone(self.zone)
        day = local.date()
        text = self._dates.get(day)
        if text is None:
            text = self._dates[day] = format_datetime(
                local, self.style.date_pattern, tzinfo=self.zone, locale=self.locale
            )
        return text

    def until(self, moment: datetime) -> str:
        """ "in 31 hours", "dans 2 jours": memoised on the unit and rounded value Babel would pick."""
        delta = _aware(moment) - self.now
        seconds = abs(delta.total_seconds())
        for unit, size in _TIMEDELTA_UNITS:
            value = seconds / size
            if value >= _TIMEDELTA_THRESHOLD or unit == "second":
                break
        key = (delta >= timedelta(0), unit, round(value))
        text = self._untils.get(key)
        if text is None:
            text = self._untils[key] = format_timedelta(
                delta, threshold=_TIMEDELTA_THRESHOLD, add_direction=True, format="long", locale=self.locale
            )
        return text


# babel.dates.TIMEDELTA_UNITS, for the memo key of _Words.until.
_TIMEDELTA_UNITS = (
    ("year", 3600 * 24 * 365),
    ("month", 3600 * 24 * 30),
    ("week", 3600 * 24 * 7),
    ("day", 3600 * 24),
    ("hour", 3600),
    ("minute", 60),
    ("second", 1),
)
_TIMEDELTA_THRESHOLD = 2  # "31 hours" rather than "1 day"


@dataclass(frozen=True)
class _MoneyFormat:
    """How Babel writes an amount of one currency in one locale, learned once from a probe amount
    ("1 234 567,00 €"), then applied with Python's own formatting: same digits, separators, symbol."""

    prefix: str
    suffix: str
    group: str
    decimal: str
    digits: int
    fallback: tuple[str, str | None, str] | None = None  # (locale, pattern, currency): ask Babel

    def format(self, amount: Decimal) -> str:
        if self.fallback is not None:
            return _babel_money(amount, *self.fallback)
        number = f"{amount:,.{self.digits}f}"
        if self.group != "," or self.decimal != ".":
            number = number.replace(",", "\0").replace(".", self.decimal).replace("\0", self.group)
        return f"{self.prefix}{number}{self.suffix}"


_PROBE = re.compile(r"(\D*)1(?P<group>\D)234(?P=group)567(?:(\D)(0+))?(\D*)")


@cache
def _money_format(locale: str, pattern: str | None, currency: str) -> _MoneyFormat:
    probe = _babel_money(Decimal(1234567), locale, pattern, currency)
    found = _PROBE.fullmatch(probe)
    if found is None:  # a grouping other than by thousands, or non-Latin digits: Babel every time
        return _MoneyFormat("", "", "", "", 0, fallback=(locale, pattern, currency))
    prefix, group, decimal, decimals, suffix = found.groups()
    return _MoneyFormat(prefix, suffix, group, decimal or ".", len(decimals or ""))


def _babel_money(amount: Decimal, locale: str, pattern: str | None, currency: str) -> str:
    if currency:
        try:
            return format_currency(amount, currency, pattern, locale=locale)
        except (ValueError, KeyError):  # not a currency Babel knows: the code as written
            pass
    number = format_decimal(amount, format="#,##0.00", locale=locale)
    return f"{number} {clean(currency)}" if currency else number


def _zone_abbreviation(local: datetime) -> str:
    name = local.tzname() or ""
    return f"UTC{name}" if name[:1] in "+-" else name  # zones without an abbreviation: UTC+04


# -- what the templates show ------------------------------------------------------------------------


@dataclass(frozen=True)
class _HitView:
    ref: str  # "hit #12": the id `brandcrawl hits mark` takes
    takedown: str | None  # "relisted after takedown (of hit #9)"
    title: str
    title_html: Markup
    url: str | None
    marketplace: str
    kind: str
    asset: str | None
    asset_html: Markup | None
    matched: str
    explanation: str
    seller: str | None
    price: str
    bids: str | None
    when: str
    left: str | None
    written: str | None  # the handle as the listing writes it, when that differs from how it is shown
    followers: str | None
    sale: str | None
    also: list[_AlsoView]


@dataclass(frozen=True)
class _AlsoView:
    """Another listing of the same asset: "also on sedo: 900.00 USD, fixed price", and its link."""

    line: str
    url: str | None


@dataclass(frozen=True)
class _ChangeView:
    title: str
    url: str | None
    marketplace: str
    asset: str | None
    label: str
    old: str | None
    new: str | None
    direction: str | None  # "up" | "down" words, for price changes
    rising: bool | None


@dataclass(frozen=True)
class _SectionView:
    brand: str
    relisted: list[_HitView]
    hits: list[_HitView]
    changes: list[_ChangeView]


@dataclass(frozen=True)
class _HealthView:
    marketplace: str
    status: str
    tone: str  # ok | bad | stale: the colour of the status
    detail: str
    pages: str
    listings: str
    hits: str
    last_crawl: str


def _context(report: DigestReport, words: _Words, timezone: str) -> dict[str, Any]:
    health = [_health_view(run, words) for run in report.health]
    problems = [view for run, view in zip(report.health, health, strict=True) if run in report.problems]
    checked_runs = [run for run in report.health if run.status == "ok"]
    checked = words(
        "checked",
        listings=words.plural("listings_checked", sum(run.listings_seen for run in checked_runs)),
        marketplaces=words.plural("on_marketplaces", len(checked_runs)),
    )
    currencies = _change_currencies(report)
    sections = [
        _SectionView(
            brand=clean(section.brand),
            relisted=[_hit_view(hit, words) for hit in section.relisted],
            hits=[_hit_view(hit, words) for hit in section.new_hits],
            changes=[_change_view(change, words, currencies) for change in section.changes],
        )
        for section in report.sections
        if section.relisted or section.new_hits or section.changes
    ]
    counts = _counts(report, words)
    return {
        "t": words,  # t("key", n=3): a word with values
        "w": SimpleNamespace(**{k: v for k, v in words.words.items() if isinstance(v, str)}),  # w.key
        "lang": words.language,
        "subject": _subject(report, words, checked, problems),
        "generated": words.moment(report.generated_at),
        "counts": counts,
        "zone": timezone,
        "problems": problems,
        "quiet": report.quiet,
        "quiet_line": words("quiet_with_problems" if problems else "quiet", checked=checked),
        "sections": sections,
        "health": health,
    }


def _counts(report: DigestReport, words: _Words) -> str:
    """ "2 new hits, 1 change", after "1 relisted after takedown" when there is any"""
    counts = (
        f"{words.plural('new_hits', report.new_hit_count)}, {words.plural('changes', report.change_count)}"
    )
    if report.relisted_count:
        counts = f"{words.plural('relisted_count', report.relisted_count)}, {counts}"
    return counts


def _subject(report: DigestReport, words: _Words, checked: str, problems: list[_HealthView]) -> str:
    parts = [f"{words('subject_prefix')} {words.date(report.generated_at)}"]
    if problems:
        broken = ", ".join(f"{run.marketplace} {run.status}" for run in problems)
        parts.append(words("subject_incomplete", problems=broken))
    if report.quiet:
        parts.append(words("subject_nothing_new" if problems else "subject_quiet", checked=checked))
    else:
        brands = list(
            dict.fromkeys(one_line(s.brand) for s in report.sections if s.relisted or s.new_hits or s.changes)
        )
        named = ", ".join(brand[:60] for brand in brands[:_SUBJECT_BRANDS])
        if len(brands) > _SUBJECT_BRANDS:
            named = f"{named} {words.plural('more_brands', len(brands) - _SUBJECT_BRANDS)}"
        counts = _counts(report, words)
        parts.append(f"{named}{words('colon')}{counts}" if named else counts)
    subject = one_line(" — ".join(parts))
    return subject if len(subject) <= _SUBJECT_MAX else subject[: _SUBJECT_MAX - 1] + "…"


def _hit_view(hit: ReportedHit, words: _Words) -> _HitView:
    title, matched = clean(hit.title), clean(hit.matched)
    asset = _asset_display(hit.asset_kind, clean(hit.asset)) if hit.asset else None
    asset_html = _highlight(asset, matched) if asset else None
    # The matched part is shown in the asset when it is there, else in the title.
    in_asset = asset_html is not None and asset_html != escape(asset)
    title_html = escape(title) if in_asset else _highlight(title, matched)
    site = clean(hit.site)
    marketplace = clean(hit.marketplace) + (f" ({site})" if site else "")
    left = None
    if hit.status in OFF_SALE:
        when = words(f"listing_{hit.status}")
    elif hit.end_time is None:
        when = words("no_end")
    elif _aware(hit.end_time) > words.now:
        when = words("ends", when=words.moment(hit.end_time))
        left = words.until(_aware(hit.end_time))
    else:
        when = words("ended_at", when=words.moment(hit.end_time))
    takedown = None
    if hit.takedown_hit_id is not None:
        takedown = (
            words("relisted_after_takedown")
            if hit.takedown_hit_id == hit.hit_id
            else words("relisted_after_takedown_of", id=hit.takedown_hit_id)
        )
    return _HitView(
        ref=words("hit_ref", id=hit.hit_id),
        takedown=takedown,
        title=title,
        title_html=title_html,
        url=_safe_url(hit.url),
        marketplace=marketplace,
        kind=words(f"kind_{hit.asset_kind}") if f"kind_{hit.asset_kind}" in words.words else hit.asset_kind,
        asset=asset,
        asset_html=asset_html,
        matched=matched,
        explanation=clean(hit.explanation),
        seller=clean(hit.seller) or None,
        price=words.money(hit.price, hit.currency, hit.price_is_range),
        bids=None if hit.bid_count is None else words.plural("bids", hit.bid_count),
        when=when,
        left=left,
        written=_written(hit, asset, words),
        followers=None if hit.followers is None else words.plural("followers", hit.followers),
        sale=_sale(hit.sale_method, words),
        also=[_also_view(other, words) for other in hit.also_listed],
    )


def _sale(method: str | None, words: _Words) -> str | None:
    return words(f"sale_{method}") if f"sale_{method}" in words.words else None


def _also_view(other: OtherListing, words: _Words) -> _AlsoView:
    site = clean(other.site)
    where = clean(other.marketplace) + (f" ({site})" if site else "")
    facts = [words.money(other.price, other.currency, False), _sale(other.sale_method, words)]
    if other.end_time is not None and _aware(other.end_time) > words.now:
        facts.append(words("ends", when=words.moment(other.end_time)))
    line = f"{words('also_on', marketplace=where)}{words('colon')}{', '.join(f for f in facts if f)}"
    return _AlsoView(line=line, url=_safe_url(other.url))


def _written(hit: ReportedHit, shown: str | None, words: _Words) -> str | None:
    """How the listing writes its handle or domain ("x.com/Gallimard"), when the digest shows it
    otherwise ("X @gallimard"): the form to search for on the marketplace."""
    written = clean(hit.asset_text)
    if (
        not written
        or shown is None
        or written.lstrip("@").casefold() in (shown.casefold(), shown.split("@")[-1].casefold())
    ):
        return None
    return words("written", text=written)


def _asset_display(kind: str, asset: str) -> str:
    """ "x:gallimard" → "X @gallimard"; a domain or a bare "@handle" as written."""
    if kind == "handle" and ":" in asset:
        platform, handle = asset.split(":", 1)
        return f"{_PLATFORMS.get(platform, platform)} @{handle.lstrip('@')}"
    return asset


def _highlight(text: str, part: str) -> Markup:
    """``text`` escaped, with the first occurrence of ``part`` (any case) in <mark>."""
    start = _find(text, part)
    if start < 0:
        return escape(text)
    end = start + len(part)
    return (
        escape(text[:start])
        + Markup("<mark>")
        + escape(text[start:end])
        + Markup("</mark>")
        + escape(text[end:])
    )


def _find(text: str, part: str) -> int:
    if not part:
        return -1
    found = text.find(part)
    if found >= 0:
        return found
    folded_text, folded_part = text.lower(), part.lower()
    if len(folded_text) != len(text) or len(folded_part) != len(part):
        return -1  # lowering changed lengths (İ): positions would not map back
    return folded_text.find(folded_part)


def _change_currencies(report: DigestReport) -> dict[str, str]:
    """The currency of each listing (by URL) a currency change names, for its price changes.
    (ReportedChange carries no currency of its own yet.)"""
    return {
        change.url: change.new_value
        for section in report.sections
        for change in section.changes
        if change.field == "currency" and change.new_value
    }


def _change_view(change: ReportedChange, words: _Words, currencies: dict[str, str]) -> _ChangeView:
    old, new = change.old_value, change.new_value
    label = words(f"field_{change.field}") if f"field_{change.field}" in words.words else None
    direction, rising = None, None
    shown_old, shown_new = clean(old) or None, clean(new) or None
    if change.field == "price":
        currency = getattr(change, "currency", None) or currencies.get(change.url)
        old_amount, new_amount = _decimal(old), _decimal(new)
        if old_amount is not None:
            shown_old = words.money(old_amount, currency)
        if new_amount is not None:
            shown_new = words.money(new_amount, currency)
        if old_amount is not None and new_amount is not None and old_amount != new_amount:
            rising = new_amount > old_amount
            direction = words("up" if rising else "down")
    elif change.field == "bid_count":
        shown_old, shown_new = _int_text(old, words), _int_text(new, words)
    elif change.field == "end_time":
        shown_old, shown_new = _moment_text(old, words), _moment_text(new, words)
    elif change.field == "status":
        summary = _status_change(old, new)
        if summary is not None:
            label, shown_old, shown_new = words(f"listing_{summary}"), None, None
        else:
            shown_old, shown_new = _listing_status(old, words), _listing_status(new, words)
    if label is None:
        label = clean(change.field).replace("_", " ")
    return _ChangeView(
        title=clean(change.title),
        url=_safe_url(change.url),
        marketplace=clean(change.marketplace),
        asset=clean(change.asset) or None,
        label=label,
        old=shown_old if shown_old is not None or shown_new is not None else None,
        new=shown_new,
        direction=direction,
        rising=rising,
    )


def _status_change(old: str | None, new: str | None) -> str | None:
    """A listing's status change in one word: ended, sold, gone, relisted."""
    if new in OFF_SALE and old != new:
        return new
    if new == "active" and old in OFF_SALE:
        return "relisted"
    return None


def _listing_status(value: str | None, words: _Words) -> str | None:
    if value is None:
        return None
    key = f"listing_{value}"
    return words(key) if key in words.words else clean(value)


def _decimal(value: str | None) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(value)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def _int_text(value: str | None, words: _Words) -> str | None:
    if value is None:
        return None
    try:
        return words.number(int(value))
    except ValueError:
        return clean(value)


def _moment_text(value: str | None, words: _Words) -> str | None:
    if value is None:
        return None
    try:
        return words.moment(datetime.fromisoformat(value))
    except ValueError:
        return clean(value)


def _health_view(run: Health, words: _Words) -> _HealthView:
    status = words(f"status_{run.status}") if run.status in _STATUSES else clean(run.status)
    detail = clean(run.detail)
    if detail in _KNOWN_DETAILS:
        detail = words(_KNOWN_DETAILS[detail])
    marketplace = clean(run.marketplace)
    if run.source:
        source = words(f"source_{run.source}") if run.source in _SOURCES else clean(run.source)
        marketplace = f"{marketplace} ({source})"
    return _HealthView(
        marketplace=marketplace,
        status=status,
        tone="ok" if run.status == "ok" else "stale" if run.status in ("stale", "needs_login") else "bad",
        detail=detail,
        pages=words.number(run.pages_fetched),
        listings=words.number(run.listings_seen),
        hits=words.number(run.hits),
        last_crawl=words.moment(run.finished_at),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _safe_url(url: str | None) -> str | None:
    """An http(s) link, with anything that has no business in a URL percent-encoded; else None
    (a javascript: or data: link is never rendered)."""
    if not url:
        return None
    url = url.strip()
    try:
        scheme = urlsplit(url).scheme.lower()
    except ValueError:
        return None
    if scheme not in ("http", "https"):
        return None
    return quote(url, safe="/:?#[]@!$&'()*+,;=%~-._")


__all__ = ["LANGUAGES", "WORDS", "RenderedDigest", "render", "render_digest", "template_environment"]
