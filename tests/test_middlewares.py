"""The honest User-Agent and the Retry-After reading of the backoff."""

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from brandcrawl.middlewares import ContactUserAgentMiddleware, _retry_after
from tests.conftest import project_settings


def test_user_agent_names_brandcrawl_and_the_watch_files_contact(watch_path: Path) -> None:
    crawler = get_crawler(settings_dict=project_settings(BRANDCRAWL_WATCH=str(watch_path)))
    middleware = ContactUserAgentMiddleware.from_crawler(crawler)
    request = Request("http://127.0.0.1/")
    middleware.process_request(request)
    assert request.headers[b"User-Agent"].decode() == (
        "brandcrawl/0.1.0 (brand-protection marketplace watch; +mailto:tests@example.org)"
    )


def test_user_agent_falls_back_to_the_contact_setting() -> None:
    crawler = get_crawler(settings_dict=project_settings(BRANDCRAWL_CONTACT="https://example.org/abuse"))
    assert "+https://example.org/abuse)" in ContactUserAgentMiddleware.from_crawler(crawler).user_agent


def after(seconds: int) -> str:
    return format_datetime(datetime.now(UTC) + timedelta(seconds=seconds), usegmt=True)


@pytest.mark.parametrize(
    ("header", "low", "high"),
    [
        (lambda: "120", 120, 120),
        (lambda: after(90), 80, 90),  # the date has whole seconds and the clock moves on
        (lambda: after(-90), 0, 0),
        (lambda: "soon", None, None),
    ],
    ids=["seconds", "date", "past-date", "garbage"],
)
def test_retry_after_in_seconds_or_as_a_date(header, low: float | None, high: float | None) -> None:
    waited = _retry_after(Response("http://127.0.0.1/", status=429, headers={"Retry-After": header()}))
    if low is None:
        assert waited is None
    else:
        assert waited is not None
        assert low <= waited <= high
