from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from brandcrawl.normalize import (
    Price,
    TimeLeft,
    find_followers,
    find_price_text,
    parse_count,
    parse_followers,
    parse_price,
    parse_time_left,
    to_utc,
)

NOW = datetime(2025, 3, 14, 12, 0, 0, 750_000, tzinfo=UTC)
NOW_FLOOR = NOW.replace(microsecond=0)


def price(amount: str, currency: str | None, is_range: bool = False) -> Price:
    return Price(Decimal(amount), currency, is_range)


@pytest.mark.parametrize(
    ("text", "default", "expected"),
    [
        pytest.param("EUR 1.500,00", "EUR", price("1500.00", "EUR"), id="eur-code-german-format"),
        pytest.param("1 500 €", "EUR", price("1500", "EUR"), id="space-thousands"),
        pytest.param("1\u202f500 €", "EUR", price("1500", "EUR"), id="narrow-nbsp-thousands"),
        pytest.param("1\u00a0500\u00a0€", "EUR", price("1500", "EUR"), id="nbsp-thousands"),
        pytest.param("US $1,500.00", "USD", price("1500.00", "USD"), id="us-dollar-spaced"),
        pytest.param("US $1,500.00", "EUR", price("1500.00", "USD"), id="us-dollar-on-ebay-fr"),
        pytest.param("US$20", "GBP", price("20", "USD"), id="us-dollar-glued"),
        pytest.param("1 500,00 $US", "EUR", price("1500.00", "USD"), id="us-dollar-french-suffix"),
        pytest.param("20,00 $ CA", "EUR", price("20.00", "CAD"), id="canadian-french-suffix"),
        pytest.param("20,00 $AU", "EUR", price("20.00", "AUD"), id="australian-french-suffix"),
        pytest.param("USD 20.00", None, price("20.00", "USD"), id="usd-code"),
        pytest.param("$20.00", "USD", price("20.00", "USD"), id="bare-dollar-ebay-com"),
        pytest.param("$20.00", "CAD", price("20.00", "CAD"), id="bare-dollar-dollar-site"),
        pytest.param("$20.00", "EUR", price("20.00", "USD"), id="bare-dollar-euro-site"),
        pytest.param("$20.00", None, price("20.00", "USD"), id="bare-dollar-no-default"),
        pytest.param("£1,299.99", "GBP", price("1299.99", "GBP"), id="pound"),
        pytest.param("GBP 5.00", "EUR", price("5.00", "GBP"), id="gbp-code"),
        pytest.param("1.234,56 €", "EUR", price("1234.56", "EUR"), id="euro-suffix"),
        pytest.param("EUR 350,00", "EUR", price("350.00", "EUR"), id="ebay-de"),
        pytest.param("Eur 350,00", "USD", price("350.00", "EUR"), id="eur-titlecase"),
        pytest.param("12 Euros", None, price("12", "EUR"), id="euros-word"),
        pytest.param("C $25.00", "USD", price("25.00", "CAD"), id="canadian-spaced"),
        pytest.param("C$25.00", "USD", price("25.00", "CAD"), id="canadian-glued"),
        pytest.param("CA$25", "USD", price("25", "CAD"), id="canadian-ca"),
        pytest.param("CAD 25", "USD", price("25", "CAD"), id="canadian-code"),
        pytest.param("AU $1,234.50", "USD", price("1234.50", "AUD"), id="australian-spaced"),
        pytest.param("A$5", "GBP", price("5", "AUD"), id="australian-a"),
        pytest.param("AUD 5", "GBP", price("5", "AUD"), id="australian-code"),
        pytest.param("NZ$ 5", "USD", price("5", "NZD"), id="new-zealand"),
        pytest.param("CHF 12.50", "EUR", price("12.50", "CHF"), id="franc"),
        pytest.param("¥1,200", "USD", price("1200", "JPY"), id="yen"),
        pytest.param("JPY 1200", "USD", price("1200", "JPY"), id="yen-code"),
        pytest.param("SEK 100", "EUR", price("100", "SEK"), id="other-iso-code"),
        pytest.param("100 kr", "EUR", price("100", None), id="ambiguous-local-sign"),
        pytest.param("20,00", "EUR", price("20.00", "EUR"), id="no-currency-default"),
        pytest.param("20.00", None, price("20.00", None), id="no-currency-no-default"),
        pytest.param("$3.25 to $195.87", "USD", price("3.25", "USD", True), id="range-en"),
        pytest.param("US $3.25 to US $195.87", "EUR", price("3.25", "USD", True), id="range-us-dollar"),
        pytest.param("EUR 3,25 bis EUR 195,87", "EUR", price("3.25", "EUR", True), id="range-de"),
        pytest.param("3,25 EUR à 195,87 EUR", "EUR", price("3.25", "EUR", True), id="range-fr"),
        pytest.param("3,25 à 195,87 EUR", "USD", price("3.25", "EUR", True), id="range-currency-at-end"),
        pytest.param("£3.25 to £195.87", "GBP", price("3.25", "GBP", True), id="range-uk"),
        pytest.param("£3.25 – £195.87", "GBP", price("3.25", "GBP", True), id="range-en-dash"),
        pytest.param("£3.25 - £195.87", "GBP", price("3.25", "GBP", True), id="range-spaced-hyphen"),
        pytest.param("  \n  $20.00\n  ", "USD", price("20.00", "USD"), id="reindented"),
        pytest.param("$1,234,567,890.12", "USD", price("1234567890.12", "USD"), id="huge"),
        pytest.param("9" * 30 + " €", "EUR", price("9" * 30, "EUR"), id="huge-no-separators"),
        pytest.param("$0.99", "USD", price("0.99", "USD"), id="cents"),
        pytest.param("$0.00", "USD", price("0.00", "USD"), id="zero"),
        pytest.param(None, "USD", None, id="none"),
        pytest.param("", "USD", None, id="empty"),
        pytest.param("   ", "USD", None, id="blank"),
        pytest.param("Make offer", "USD", None, id="make-offer"),
        pytest.param("Free", "USD", None, id="free"),
        pytest.param("Free shipping", "USD", None, id="free-shipping"),
        pytest.param("€€€", "EUR", None, id="garbage-symbols"),
        pytest.param("-$5.00", "USD", None, id="negative-sign-first"),
        pytest.param("$-5.00", "USD", None, id="negative-sign-after-symbol"),
        pytest.param("−5,00 €", "EUR", None, id="negative-unicode-minus"),
        pytest.param("20%", "USD", None, id="percentage"),
    ],
)
def test_parse_price(text: str | None, default: str | None, expected: Price | None) -> None:
    assert parse_price(text, default) == expected


def test_parse_price_default_currency_is_optional() -> None:
    assert parse_price("€5") == price("5", "EUR")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("17 bids", 17, id="en"),
        pytest.param("1 bid", 1, id="en-singular"),
        pytest.param("0 bids", 0, id="zero"),
        pytest.param("1,234 bids", 1234, id="en-thousands"),
        pytest.param("3 Gebote", 3, id="de"),
        pytest.param("1 Gebot", 1, id="de-singular"),
        pytest.param("2.345 Gebote", 2345, id="de-thousands"),
        pytest.param("5 enchères", 5, id="fr"),
        pytest.param("1 enchère", 1, id="fr-singular"),
        pytest.param("12 offres", 12, id="fr-offers"),
        pytest.param("1 234 enchères", 1234, id="fr-space-thousands"),
        pytest.param("1\u00a0234 enchères", 1234, id="fr-nbsp-thousands"),
        pytest.param("1\u202f234 enchères", 1234, id="fr-narrow-nbsp-thousands"),
        pytest.param("\n   17 bids\n", 17, id="reindented"),
        pytest.param("1,234,567 bids", 1234567, id="huge"),
        pytest.param("12345 bids", 12345, id="no-separator"),
        pytest.param("bids", None, id="no-number"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_count(text: str | None, expected: int | None) -> None:
    assert parse_count(text) == expected


def left(**delta: int) -> TimeLeft:
    return TimeLeft(NOW_FLOOR + timedelta(**delta), False)


ENDED = TimeLeft(None, True)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("1d 6h left", left(days=1, hours=6), id="en-days-hours"),
        pytest.param("4d 23h left", left(days=4, hours=23), id="en-days-hours-2"),
        pytest.param("2m left", left(minutes=2), id="en-minutes"),
        pytest.param("33s left", left(seconds=33), id="en-seconds"),
        pytest.param("0s left", left(), id="en-zero"),
        pytest.param("1h 5m left", left(hours=1, minutes=5), id="en-hours-minutes"),
        pytest.param("12h left", left(hours=12), id="en-hours"),
        pytest.param("2 days left", left(days=2), id="en-long-unit"),
        pytest.param("1d\n      6h left", left(days=1, hours=6), id="en-reindented"),
        pytest.param("  1d 6h left\n", left(days=1, hours=6), id="en-padded"),
        pytest.param("1d\u00a06h\u00a0left", left(days=1, hours=6), id="en-nbsp"),
        pytest.param("Noch 2 T. 3 Std.", left(days=2, hours=3), id="de"),
        pytest.param("Noch 2T 3Std", left(days=2, hours=3), id="de-compact"),
        pytest.param("Noch 45 Min.", left(minutes=45), id="de-minutes"),
        pytest.param("Noch 30 Sek.", left(seconds=30), id="de-seconds"),
        pytest.param("2 T 3 Std", left(days=2, hours=3), id="de-no-prefix"),
        pytest.param("Noch 1 Tag 2 Stunden", left(days=1, hours=2), id="de-long-units"),
        pytest.param("Noch\u00a02\u00a0T.\u202f3\u00a0Std.", left(days=2, hours=3), id="de-nbsp"),
        pytest.param("Il reste 1 j 2 h", left(days=1, hours=2), id="fr"),
        pytest.param("1j 2h", left(days=1, hours=2), id="fr-compact"),
        pytest.param("Il reste 45 min", left(minutes=45), id="fr-minutes"),
        pytest.param("Il reste 30 s", left(seconds=30), id="fr-seconds"),
        pytest.param("Il reste 3 jours", left(days=3), id="fr-long-unit"),
        pytest.param("999d left", left(days=999), id="huge"),
        pytest.param("99999999999d left", None, id="overflow"),
        pytest.param("Ended", ENDED, id="en-ended"),
        pytest.param("Beendet", ENDED, id="de-ended"),
        pytest.param("Terminé", ENDED, id="fr-ended"),
        pytest.param("Terminée", ENDED, id="fr-ended-feminine"),
        pytest.param("Vente terminée", ENDED, id="fr-sale-ended"),
        pytest.param("\n  Ended\n", ENDED, id="ended-reindented"),
        pytest.param("left", None, id="no-duration"),
        pytest.param("Buy It Now", None, id="garbage"),
        pytest.param("5 Gebote", None, id="not-a-unit"),
        pytest.param("-1d left", None, id="negative"),
        pytest.param("1d 6h left and more", None, id="trailing-garbage"),
        pytest.param("", None, id="empty"),
        pytest.param(None, None, id="none"),
    ],
)
def test_parse_time_left(text: str | None, expected: TimeLeft | None) -> None:
    assert parse_time_left(text, NOW) == expected


def test_parse_time_left_converts_now_to_utc() -> None:
    paris_now = NOW.astimezone(timezone(timedelta(hours=1)))
    result = parse_time_left("1h left", paris_now)
    assert result == left(hours=1)
    assert result.end_time.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(datetime(2025, 3, 14, 12), datetime(2025, 3, 14, 12, tzinfo=UTC), id="naive"),
        pytest.param(
            datetime(2025, 3, 14, 13, tzinfo=timezone(timedelta(hours=1))),
            datetime(2025, 3, 14, 12, tzinfo=UTC),
            id="aware-offset",
        ),
        pytest.param(NOW, NOW, id="already-utc"),
    ],
)
def test_to_utc(value: datetime, expected: datetime) -> None:
    result = to_utc(value)
    assert result == expected
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12K followers", 12_000),
        ("1,8 M abonnés", 1_800_000),
        ("2.5k", 2_500),
        ("1 800 abonnés", 1_800),
        ("1,800 followers", 1_800),
        ("1.800 Follower", 1_800),
        ("350K+ followers", 350_000),
        ("1.2 million subscribers", 1_200_000),
        ("3 Mio. Abonnenten", 3_000_000),
        ("no figure", None),
        (None, None),
    ],
)
def test_parse_followers(text: str | None, expected: int | None) -> None:
    assert parse_followers(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Instagram @gallimard_officiel, 45k real followers, $2,500", "45k real followers"),
        ("compte TikTok 1,8 M abonnés, prix 2 500 €", "1,8 M abonnés"),
        ("Selling a YouTube channel with 120 000 subscribers", "120 000 subscribers"),
        ("Selling for $2,500 - DM me", None),
        ("Followers: 12.4K, engagement 4%", "Followers: 12.4K"),
        ("Abonnés : 1,8 M", "Abonnés : 1,8 M"),
        ("12k IG followers", "12k IG followers"),
        ("growth of 10% followers a month", None),
    ],
)
def test_find_followers(text: str, expected: str | None) -> None:
    assert find_followers(text) == expected


@pytest.mark.parametrize(
    ("text", "currency", "expected"),
    [
        ("Selling @gallimard 12K followers. Price: $2,500 OBO", "USD", Price(Decimal(2500), "USD", False)),
        ("$517K revenue, 50% margin, asking $1.2M", "USD", Price(Decimal(1_200_000), "USD", False)),
        ("prix : 1 800 € négociable", None, Price(Decimal(1800), "EUR", False)),
        ("BIN $2.5k, SB $1k", "USD", Price(Decimal(2500), "USD", False)),
        ("Earning $40/mo, selling for $300", "USD", Price(Decimal(300), "USD", False)),
        ("2500 USD or best offer", None, Price(Decimal(2500), "USD", False)),
        ("12K followers, DM for price", "USD", None),
        ("12K followers, asking 2.5k", "USD", Price(Decimal(2500), "USD", False)),
        ("Price: 2500, negotiable", "EUR", Price(Decimal(2500), "EUR", False)),
        ("asking 3x revenue", "USD", None),
    ],
)
def test_a_price_read_from_a_sales_pitch(text: str, currency: str | None, expected: Price | None) -> None:
    found = find_price_text(text)
    parsed = parse_price(found, currency) if found else None
    assert parsed == expected
