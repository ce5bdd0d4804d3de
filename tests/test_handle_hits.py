"""A handle sale read through the pipelines: which handle is on sale, its followers and price, and
the brand's own accounts never reported."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from scrapy.exceptions import DropItem
from scrapy.utils.test import get_crawler

from brandcrawl.items import Listing
from brandcrawl.pipelines import MatchPipeline, NormalizePipeline
from spiders.ebay import EbaySpider
from tests.conftest import project_settings

NOW = datetime(2026, 11, 27, 8, 0, tzinfo=UTC)


@pytest.fixture
def pipelines(watch_path: Path) -> tuple[NormalizePipeline, MatchPipeline]:
    crawler = get_crawler(EbaySpider, project_settings(BRANDCRAWL_WATCH=str(watch_path)))
    crawler.stats.open_spider()
    return NormalizePipeline.from_crawler(crawler), MatchPipeline.from_crawler(crawler)


def through(pipelines: tuple[NormalizePipeline, MatchPipeline], title: str, **fields: object) -> Listing:
    listing = Listing(
        marketplace="swapd", listing_id="1", url="https://swapd.co/t/x/1", title=title, seen_at=NOW, **fields
    )
    normalise, match = pipelines
    return match.process_item(normalise.process_item(listing))  # type: ignore[return-value]


def test_the_handle_price_and_followers_come_from_the_description(pipelines) -> None:
    listing = through(
        pipelines,
        "Instagram page for sale - books niche",
        description="Handle: @Gallimard_Officiel, 12K followers, 4% engagement. Price: $2,500 OBO.",
        default_currency="USD",
    )
    assert (listing.asset_kind, listing.asset, listing.asset_text) == (
        "handle",
        "instagram:gallimard_officiel",
        "@Gallimard_Officiel",
    )
    assert (listing.followers, listing.followers_text) == (12_000, "12K followers")
    assert (listing.price, listing.currency) == (Decimal(2500), "USD")
    assert [m["brand"] for m in listing.matches] == ["Gallimard"]


def test_french_follower_and_price_texts(pipelines) -> None:
    listing = through(
        pipelines, "Vends compte TikTok @gallimardjeunesse", description="1,8 M abonnés, prix 2 500 €"
    )
    assert listing.asset == "tiktok:gallimardjeunesse"
    assert listing.followers == 1_800_000
    assert (listing.price, listing.currency) == (Decimal(2500), "EUR")


def test_the_brands_own_account_on_sale_is_not_reported(pipelines) -> None:
    # instagram:@gallimard is official in the watch file: a listing of it is the brand's own.
    with pytest.raises(DropItem):
        through(pipelines, "Selling IG @gallimard 50k followers", description="Instagram account, books.")


def test_the_category_says_the_platform_of_a_bare_handle(pipelines) -> None:
    # instagram:@gallimard is official: under an Instagram category, "@gallimard" is the brand's own.
    with pytest.raises(DropItem):
        through(pipelines, "Selling @gallimard, 50k", category="instagram")
    listing = through(pipelines, "Selling @gallimard, 50k", category="twitter")
    assert listing.asset == "x:gallimard"


def test_the_official_handle_named_in_passing_does_not_hide_the_one_on_sale(pipelines) -> None:
    listing = through(
        pipelines,
        "Book-themed IG page",
        description="Similar audience to @editions_gallimard. Selling IG: gallimard.livres, 8k followers",
    )
    assert listing.asset == "instagram:gallimard.livres"
    assert [m["kind"] for m in listing.matches] == ["handle"]


def test_a_bare_title_keeps_the_first_named_asset_when_none_carries_a_brand(pipelines) -> None:
    # The pipeline drops it (no brand), but the normaliser's reading is the listing's first asset.
    normalise, _match = pipelines
    listing = Listing(
        marketplace="swapd",
        listing_id="2",
        url="https://swapd.co/t/y/2",
        title="Twitter @cooking_daily 40k",
        seen_at=NOW,
        description="also x.com/recipes_fr",
    )
    normalise.process_item(listing)
    assert [asset.value for asset in listing.assets] == ["x:cooking_daily", "x:recipes_fr"]
    assert listing.asset == "x:cooking_daily"


def test_an_auction_is_told_by_its_bids(pipelines) -> None:
    listing = through(pipelines, "Twitter account @Gallimard", bids_text="17 bids", price_text="$1,500.00")
    assert (listing.sale_method, listing.bid_count) == ("auction", 17)
