"""The replica marketplace serves eBay's real search markup over HTTP on 127.0.0.1."""

import urllib.error
import urllib.request

import pytest
from parsel import Selector

from brandcrawl.replica import ReplicaMarketplace, SeedListing, load_seed

SEARCH = "/sch/i.html?_nkw=gallimard&_sop=10"


@pytest.fixture
def replica():
    with ReplicaMarketplace() as server:
        yield server


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode("utf-8")


def page(replica: ReplicaMarketplace, site: str, path: str = SEARCH) -> Selector:
    status, headers, body = fetch(replica.site_url(site) + path)
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    return Selector(text=body)


def test_seed_is_consistent():
    seed = load_seed()
    ids = [item.listing_id for item in seed]
    assert len(ids) == len(set(ids)) >= 14
    assert all(len(i) == 12 and i.isdigit() for i in ids)
    assert {item.site for item in seed} == {"ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"}


def test_current_markup_search_pages_and_pagination(replica):
    first = page(replica, "ebay.com")
    cards = first.css("li.s-card[data-listingid]")
    # eBay's "Shop on eBay" placeholder comes first (twice, in hidden wrappers), then 4 hits
    assert [c.css(".s-card__title span::text").get() for c in cards[:2]] == ["Shop on eBay"] * 2
    hits = first.css("ul.srp-results > li.s-card")
    assert len(cards) == 6
    assert len(hits) == 4
    ids = [c.attrib["data-listingid"] for c in hits]
    assert ids == sorted(ids, reverse=True)
    assert " ".join(first.css("h1.srp-controls__count-heading ::text").getall()).split() == [
        "5", "results", "for", "gallimard",
    ]  # fmt: skip
    next_url = first.css("a.pagination__next::attr(href)").get()
    assert next_url == replica.site_url("ebay.com") + "/sch/i.html?_nkw=gallimard&_sop=10&_pgn=2"
    second = page(replica, "ebay.com", next_url.removeprefix(replica.site_url("ebay.com")))
    assert len(second.css("ul.srp-results > li.s-card")) == 1
    assert not second.css("a.pagination__next")
    twitter = second.css('li.s-card[data-listingid="306112458731"]')
    assert twitter.css(".s-card__title span::text").getall() == [
        "Twitter account @Gallimard - 1,800 followers - rare handle",
        "Opens in a new window or tab",
    ]
    assert twitter.css(".s-card__price::text").get() == "$1,500.00"
    assert twitter.css(".s-card__attribute-row span.su-styled-text.secondary.large::text").get() == "17 bids"
    assert twitter.css(".s-card__time-left::text").get() == "1d 6h left"
    link = twitter.css("a.s-card__link:not(.image-treatment)::attr(href)").get()
    assert link == replica.site_url("ebay.com") + "/itm/306112458731"
    status, _, body = fetch(link)
    assert status == 200
    assert "$1,500.00" in body


@pytest.mark.parametrize(
    ("site", "heading", "hidden", "price"),
    [
        ("ebay.de", "Ergebnisse für", "Wird in neuem Fenster oder Tab geöffnet", "EUR 1.500,00"),
        (
            "ebay.fr",
            "résultats pour",
            "S'ouvre dans une nouvelle fenêtre ou un nouvel onglet",
            "1\u00a0500,00\u00a0EUR",
        ),
    ],
)
def test_localized_sites(replica, site, heading, hidden, price):
    result = page(replica, site)
    assert heading in "".join(result.css("h1.srp-controls__count-heading ::text").getall())
    assert hidden in result.css("ul.srp-results .s-card__title span.clipped::text").getall()
    assert price in result.css(".s-card__price::text").getall()


def test_accents_and_separators_are_folded(replica):
    result = page(replica, "ebay.com", "/sch/i.html?_nkw=PLEIADE+recherche&_sop=10")
    assert result.css("ul.srp-results > li.s-card::attr(data-listingid)").getall() == ["306112463540"]
    result = page(replica, "ebay.de", "/sch/i.html?_nkw=gallimard+officiel&_sop=10")
    assert result.css("ul.srp-results > li.s-card::attr(data-listingid)").getall() == ["305612850419"]


def test_older_markup_on_ebay_co_uk(replica):
    result = page(replica, "ebay.co.uk")
    items = result.css("ul.srp-results li.s-item")
    assert not result.css("li.s-card")
    assert [" ".join(i.css(".s-item__title::text").get().split()) for i in items] == [
        "Gallimard Folio job lot 25 paperbacks Camus Sartre",
        "gallimard-shop.co.uk premium domain name",
    ]
    domain = items[1]
    assert domain.css(".s-item__price::text").get() == "£1,299.99"
    assert domain.css(".s-item__bidCount::text").get() == "4 bids"
    assert domain.css(".s-item__time-left::text").get() == "2d 5h left"
    link = domain.css("a.s-item__link::attr(href)").get()
    assert link.endswith("/ebay.co.uk/itm/gallimard-shop-co-uk-premium-domain-name/314928390215")
    assert fetch(link)[0] == 200
    assert not result.css("a.pagination__next")


def test_no_results_page(replica):
    result = page(replica, "ebay.fr", "/sch/i.html?_nkw=nothing+here&_sop=10")
    assert "".join(result.css("h1.srp-controls__count-heading ::text").getall()).startswith("0 ")
    assert result.css(".srp-save-null-search__heading::text").get()
    assert not result.css("ul.srp-results > li")


def test_robots_txt_and_unknown_paths():
    with ReplicaMarketplace(robots_txt="User-agent: *\nDisallow: /\n") as replica:
        status, headers, body = fetch(replica.base_url + "/robots.txt")
        assert (status, body) == (200, "User-agent: *\nDisallow: /\n")
        assert headers["Content-Type"] == "text/plain; charset=utf-8"
        for path in (
            "/nope",
            "/ebay.nl/sch/i.html?_nkw=x",
            "/ebay.com/itm/999999999999",
            "/ebay.fr/itm/306112458731",
        ):
            assert fetch(replica.base_url + path)[0] == 404
        assert replica.requests[0] == "/robots.txt"


def test_blocked_and_layout_changed_modes(replica):
    replica.blocked = True
    blocked = page(replica, "ebay.com")
    assert blocked.css("title::text").get() == "Pardon Our Interruption..."
    replica.blocked, replica.layout_changed = False, True
    changed = page(replica, "ebay.com")
    assert not changed.css("li.s-card, [data-listingid]")
    assert len(changed.css("ul.srp-results > li.s-listing[data-id]")) == 4
    assert "".join(changed.css("h1.srp-controls__count-heading ::text").getall()).startswith("5 ")


def test_throttle_then_recover(replica):
    replica.throttle_status, replica.throttle_times = 429, 2
    url = replica.site_url("ebay.com") + SEARCH
    for _ in range(2):
        status, headers, _ = fetch(url)
        assert (status, headers["Retry-After"]) == (429, "0")
    assert fetch(url)[0] == 200


def test_update_add_remove_between_crawls(replica):
    replica.ebay.update("306112458731", price="$2,100.00", bids="21 bids")
    twitter = "/sch/i.html?_nkw=twitter+gallimard&_sop=10"
    card = page(replica, "ebay.com", twitter).css('li.s-card[data-listingid="306112458731"]')
    assert card.css(".s-card__price::text").get() == "$2,100.00"
    replica.ebay.remove("306112458731")
    replica.ebay.add(SeedListing("ebay.com", "306112499999", "<script>alert(1)</script> gallimard", "$1.00"))
    _, _, body = fetch(replica.site_url("ebay.com") + SEARCH)
    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    ids = Selector(text=body).css("ul.srp-results > li.s-card::attr(data-listingid)").getall()
    assert ids[0] == "306112499999"
    assert "306112458731" not in ids
