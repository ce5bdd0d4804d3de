"""What a crawl's stats say about whether brandcrawl could look at the marketplace."""

import pytest

from brandcrawl.runs import judge

KEYS = {
    "pages": "response_received_count",
    "parsed": "brandcrawl/pages/parsed",
    "challenges": "brandcrawl/pages/blocked",
    "empty": "brandcrawl/pages/unexpected_empty",
    "forbidden": "robotstxt/forbidden",
    "exceptions": "spider_exceptions/count",
    "s403": "downloader/response_status_count/403",
    "s429": "downloader/response_status_count/429",
    "recovered": "brandcrawl/responses/recovered",
}


def stats(**counts: int) -> dict[str, int]:
    """A crawl's stats; one robots.txt answer is counted among the responses, as Scrapy does."""
    values = {KEYS[name]: count for name, count in counts.items()}
    values["robotstxt/response_count"] = 1
    values[KEYS["pages"]] = values.get(KEYS["pages"], 0) + 1
    return values


@pytest.mark.parametrize(
    ("crawl", "reason", "status", "detail"),
    [
        pytest.param(stats(pages=8, parsed=8), "finished", "ok", "", id="ok"),
        pytest.param(
            stats(pages=8, parsed=6, challenges=2),
            "finished",
            "blocked",
            "bot-challenge page on 2 of 8",
            id="challenge",
        ),
        pytest.param(
            stats(pages=6, s429=4), "finished", "blocked", "4 of 6 answers were 403/429", id="429-storm"
        ),
        pytest.param(stats(pages=11, parsed=8, s403=3), "finished", "ok", "", id="a-few-403-among-many"),
        pytest.param(
            stats(pages=8, parsed=4, s403=4, recovered=4),
            "finished",
            "ok",
            "",
            id="403s-answered-another-way",
        ),
        pytest.param(
            stats(forbidden=8), "finished", "disallowed", "robots.txt forbids the 8 search", id="robots"
        ),
        pytest.param(
            stats(pages=4, parsed=4, forbidden=2),
            "finished",
            "disallowed",
            "the others were read",
            id="robots-partly",
        ),
        pytest.param(
            stats(pages=4, parsed=4, empty=4),
            "finished",
            "broken",
            "no listing could be read",
            id="layout-change",
        ),
        pytest.param(
            stats(pages=4, parsed=4, exceptions=1), "finished", "broken", "1 parse errors", id="exception"
        ),
        pytest.param(
            stats(pages=2, parsed=2), "shutdown", "broken", "stopped early: shutdown", id="shutdown"
        ),
        pytest.param(stats(), "finished", "broken", "no search page could be read", id="nothing-read"),
    ],
)
def test_judge(crawl: dict[str, int], reason: str, status: str, detail: str) -> None:
    verdict = judge(crawl, reason)
    assert verdict.status == status
    assert detail in verdict.detail


@pytest.mark.parametrize(
    ("extra", "status", "detail"),
    [
        pytest.param(
            {"ebay.de/refused": 2}, "blocked", "ebay.de refused every search", id="one-site-refused"
        ),
        pytest.param(
            {"ebay.de/failed": 2}, "broken", "lost after retries: 2 on ebay.de", id="one-site-failed"
        ),
        pytest.param({"ebay.com/failed": 1}, "broken", "1 on ebay.com", id="one-page-lost"),
    ],
)
def test_judge_per_site(extra: dict[str, int], status: str, detail: str) -> None:
    crawl = stats(pages=6, parsed=6)
    crawl["brandcrawl/site/ebay.com/parsed"] = 6
    crawl.update({f"brandcrawl/site/{key}": count for key, count in extra.items()})
    verdict = judge(crawl, "finished")
    assert verdict.status == status
    assert detail in verdict.detail


def test_judge_database_errors_and_unreadable_prices() -> None:
    crawl = stats(pages=2, parsed=2)
    assert judge({**crawl, "brandcrawl/db/errors": 1}, "finished").status == "broken"
    unpriced = {**crawl, "brandcrawl/listings/seen": 10, "brandcrawl/listings/price_unparsed": 6}
    assert "no readable price on 6 of 10" in judge(unpriced, "finished").detail
