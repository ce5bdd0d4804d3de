"""Render and build the digest e-mail for 10,000 hits across 50 brands; print time and peak memory.

Target (issue: the daily digest e-mail): under 2 s and under 200 MB on one core.
Run: .venv/bin/python benchmarks/digest_render.py [--hits N] [--brands N] [--language fr]
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from brandcrawl.delivery import build_message
from brandcrawl.render import render_digest
from brandcrawl.report import BrandSection, DigestReport, Health, ReportedChange, ReportedHit

NOW = datetime(2026, 11, 27, 6, 0, tzinfo=UTC)


def report(hits: int, brands: int, seed: int = 7) -> DigestReport:
    rng = random.Random(seed)
    sections = [BrandSection(f"Brand{number:02d}") for number in range(brands)]
    for number in range(hits):
        section = sections[number % brands]
        name = section.brand.lower()
        section.new_hits.append(
            ReportedHit(
                hit_id=number,
                brand=section.brand,
                marketplace="ebay",
                site=rng.choice(["ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"]),
                title=f"Premium domain {name}-shop{number}.com <b>for sale</b> & more",
                url=f"https://www.ebay.com/itm/{100000000000 + number}",
                asset_kind="domain",
                asset=f"{name}-shop{number}.com",
                matched=name,
                explanation=f"{section.brand} with 'shop{number}' after",
                score=0.9,
                price=Decimal(rng.randint(100, 500000)) / 100,
                currency=rng.choice(["EUR", "USD", "GBP"]),
                price_is_range=False,
                bid_count=rng.randint(0, 40),
                end_time=NOW + timedelta(minutes=rng.randint(1, 10000)),
                status="active",
                seller=f"seller{number % 300}",
            )
        )
        if number % 10 == 0:
            section.changes.append(
                ReportedChange(
                    change_id=number,
                    brand=section.brand,
                    marketplace="ebay",
                    title=f"{name}.shop domain",
                    url=f"https://www.ebay.com/itm/{200000000000 + number}",
                    asset=f"{name}.shop",
                    field="price",
                    old_value="100.00",
                    new_value="150.00",
                    changed_at=NOW,
                )
            )
    health = [Health("ebay", "ok", "", 120, 5400, hits, NOW)]
    return DigestReport(NOW, "Europe/Paris", sections, health, list(range(hits)), [])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hits", type=int, default=10_000)
    parser.add_argument("--brands", type=int, default=50)
    parser.add_argument("--language", default="en", choices=["en", "fr"])
    args = parser.parse_args()
    data = report(args.hits, args.brands)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started = time.perf_counter()
    rendered = render_digest(data, language=args.language, timezone="Europe/Paris")
    message = build_message(
        "Veille <veille@example.org>", "team@example.org", rendered, "<b@example.org>", NOW
    )
    size = len(message.as_bytes())
    elapsed = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.hits:,} hits, {args.brands} brands, {args.language}: {elapsed:.2f} s")
    print(f"peak RSS {peak:.0f} MB ({before:.0f} MB with the report built, before rendering)")
    html_mb, text_mb = len(rendered.html) / 1e6, len(rendered.text) / 1e6
    print(f"message {size / 1e6:.1f} MB: HTML {html_mb:.1f} MB, text {text_mb:.1f} MB")
    print(f"under 2 s: {'yes' if elapsed < 2 else 'NO'}; under 200 MB: {'yes' if peak < 200 else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
