"""Rendering a digest report with the Jinja templates in reports/ (HTML and plain text)."""

from __future__ import annotations

from decimal import Decimal
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from brandcrawl.report import DigestReport


def template_environment() -> Environment:
    """Jinja for reports/: HTML autoescaped (listing titles are attacker-controlled), no silent blanks."""
    environment = Environment(
        loader=PackageLoader("reports", "."),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["money"] = format_money
    return environment


def format_money(amount: Decimal | None, currency: str | None, is_range: bool = False) -> str:
    if amount is None:
        return "—"
    text = f"{amount:,.2f} {currency or ''}".strip()
    return f"from {text}" if is_range else text


def render(report: DigestReport) -> tuple[str, str]:
    """The digest as (HTML, plain text), from the same data."""
    environment = template_environment()
    zone = ZoneInfo(report.timezone)
    context = {
        "report": report,
        "local": lambda moment: moment.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z") if moment else "—",
    }
    return (
        environment.get_template("digest.html").render(context),
        environment.get_template("digest.txt").render(context),
    )
