"""The command line: clear one-line errors, and the README's demo command end to end."""

import subprocess
import sys
from pathlib import Path

import pytest

from brandcrawl.cli import UsageProblem, main


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("[digest\nsender = 1", "invalid TOML at line 1"),
        (
            '[digest]\nsender = "x@example.org"\n[marketplaces.ebay]\n',
            "brands: at least one brand is required",
        ),
        (
            '[digest]\nsender = "x@example.org"\n[marketplaces.ebay]\n'
            '[[brands]]\nname = "A"\nrecipients = ["nope"]\n',
            "brands[0].recipients[0]",
        ),
    ],
)
def test_a_bad_watch_file_gives_one_clear_line(tmp_path: Path, capsys, content: str, message: str) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(content, encoding="utf-8")
    assert main(["digest", "--watch", str(watch), "--out", str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert str(watch) in error
    assert message in error
    assert "Traceback" not in error


def test_a_missing_watch_file(tmp_path: Path, capsys) -> None:
    assert main(["digest", "--watch", str(tmp_path / "nope.toml")]) == 2
    assert "nope.toml: cannot read the file" in capsys.readouterr().err


def test_unknown_marketplace_in_run(tmp_path: Path, watch_path: Path, capsys) -> None:
    assert (
        main(
            ["run", "--watch", str(watch_path), "--spider", "nosuchsite", "--db", f"sqlite:///{tmp_path}/db"]
        )
        == 2
    )
    assert "no marketplace spider named nosuchsite" in capsys.readouterr().err


def test_demo_crawls_the_replica_and_writes_the_digest(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "brandcrawl.cli", "demo", "--out", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    for marketplace in ("ebay", "flippa", "swapd", "socialtradia", "midman", "accsmarket", "atom"):
        assert f"{marketplace}: ok" in done.stdout
    for feed in ("godaddy", "namecheap", "sedo", "dynadot", "parkio", "namejet"):
        assert f"{feed}: ok" in done.stdout
    assert "fameswap: needs_login" in done.stdout
    assert "dropcatch: needs_login" in done.stdout
    digest = next((tmp_path / "demo" / "digest").glob("digest-*.txt")).read_text(encoding="utf-8")
    assert "Twitter @Gallimard" in digest
    assert "La Pléiade" not in digest  # an exclusion in the demo watch file
    # Handle hits from several marketplaces, with their followers; one handle on several is one entry.
    hits = digest.split("-- Crawl health --")[0]
    for marketplace in ("ebay", "swapd", "socialtradia", "midman", "accsmarket"):
        assert f"\n   {marketplace} (" in hits or f"also on {marketplace} (" in hits
    assert "also on " in hits
    # One domain on several feeds: one entry, its other listings under it.
    entry = hits.split(" * gallimard-shop.com\n", 1)[1].split("\n * ", 1)[0]
    assert "also on sedo (sedo.com)" in entry
    assert "followers" in hits
    assert "ebay (search pages): ok" in digest
    assert "fameswap: needs login" in digest


def test_the_watch_and_database_are_not_scrapy_settings(tmp_path: Path, watch_path: Path, capsys) -> None:
    arguments = ["run", "--watch", str(watch_path), "-s", f"BRANDCRAWL_DB_URL=sqlite:///{tmp_path}/other.db"]
    assert main(arguments) == 2
    assert "set BRANDCRAWL_DB_URL with --watch and --db, not -s" in capsys.readouterr().err


def test_a_marketplace_that_cannot_start_is_a_broken_run_in_the_digest(tmp_path: Path) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(
        '[digest]\nsender = "x@example.org"\n[marketplaces.ebay]\nsites = ["ebay.it"]\n'
        '[[brands]]\nname = "Gallimard"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "brandcrawl.cli", "run", "--watch", str(watch), "--db", f"sqlite:///{tmp_path}/db",
         "--out", str(tmp_path / "digest"), "--log-level", "ERROR"],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "ebay could not start: ebay: unknown site(s) ebay.it" in done.stderr
    digest = next((tmp_path / "digest").glob("digest-*.txt")).read_text(encoding="utf-8")
    assert "ebay: broken (could not start: ebay: unknown site(s) ebay.it" in digest


@pytest.mark.parametrize(
    ("environ", "chosen"),
    [
        ({"EBAY_CLIENT_ID": "id", "EBAY_CLIENT_SECRET": "secret"}, "ebay_api"),
        ({"EBAY_CLIENT_ID": "id"}, "ebay"),
        ({}, "ebay"),
    ],
)
def test_ebay_runs_through_the_api_when_its_keyset_is_set(environ: dict[str, str], chosen: str) -> None:
    from scrapy.settings import Settings
    from scrapy.spiderloader import SpiderLoader

    from brandcrawl.cli import choose_spiders
    from brandcrawl.config import load_watch

    loader = SpiderLoader.from_settings(Settings({"SPIDER_MODULES": ["spiders"]}))
    watch = load_watch(Path(__file__).resolve().parents[1] / "watch.example.toml")
    assert choose_spiders(watch, ["ebay"], loader, environ) == [chosen]
    assert choose_spiders(watch, ["ebay_api"], loader, {}) == ["ebay_api"], "a spider named is run as asked"
    with pytest.raises(UsageProblem, match="no marketplace spider named ebey"):
        choose_spiders(watch, ["ebey"], loader, environ)
