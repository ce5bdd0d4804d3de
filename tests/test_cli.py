"""The command line: clear one-line errors, and the README's demo command end to end."""

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import pytest

from brandcrawl.cli import UsageProblem, main
from brandcrawl.lock import run_lock
from tests.conftest import WATCH


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


@pytest.mark.sqlite_only(reason="the demo makes its own SQLite file, whatever the database tested")
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


def test_the_watch_and_database_are_not_scrapy_settings(
    tmp_path: Path, watch_path: Path, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # the default database, and the run's lock beside it, are made here
    arguments = ["run", "--watch", str(watch_path), "-s", f"BRANDCRAWL_DB_URL=sqlite:///{tmp_path}/other.db"]
    assert main(arguments) == 2
    assert "set BRANDCRAWL_DB_URL with --watch and --db, not -s" in capsys.readouterr().err


def test_a_marketplace_that_cannot_start_is_a_broken_run_in_the_digest(tmp_path: Path, db_url: str) -> None:
    watch = tmp_path / "watch.toml"
    watch.write_text(
        '[digest]\nsender = "x@example.org"\n[marketplaces.ebay]\nsites = ["ebay.it"]\n'
        '[[brands]]\nname = "Gallimard"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "brandcrawl.cli", "run", "--watch", str(watch), "--db", db_url,
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


def replica_watch(replica) -> str:
    """The test watch file, its eBay read on one site of the replica, one page a search."""
    return WATCH.replace(
        'sites = ["ebay.com", "ebay.fr", "ebay.de", "ebay.co.uk"]',
        f'sites = ["ebay.fr"]\nmax_pages = 1\nbase_url = "{replica.base_url}/{{site}}"',
    )


@pytest.mark.parametrize(
    ("situation", "exit_status", "status", "said"),
    [
        ("every marketplace checked", 0, "ok", ""),
        ("the marketplace blocks us", 3, "incomplete", ""),
        ("the digest folder is a file", 1, "failed", "Traceback (most recent call last)"),
        ("the watch file is broken", 2, "usage_error", "invalid TOML"),
        ("another run holds the lock", 75, "skipped", f"another brandcrawl run (pid {os.getpid()} on "),
    ],
)
def test_the_exit_status_and_the_run_summary_tell_cron_what_happened(
    tmp_path: Path, replica, situation: str, exit_status: int, status: str, said: str
) -> None:
    watch, out, summary = tmp_path / "watch.toml", tmp_path / "digest", tmp_path / "last-run.json"
    watch.write_text(replica_watch(replica), encoding="utf-8")
    lock = tmp_path / "brandcrawl.db.lock"
    with ExitStack() as situations:
        if situation == "the marketplace blocks us":
            replica.blocked = True
        elif situation == "the digest folder is a file":
            out.write_text("", encoding="utf-8")
        elif situation == "the watch file is broken":
            watch.write_text("[digest\n", encoding="utf-8")
        elif situation == "another run holds the lock":
            situations.enter_context(run_lock(lock))
        done = subprocess.run(
            [sys.executable, "-m", "brandcrawl.cli", "run", "--watch", str(watch),
             "--db", f"sqlite:///{tmp_path}/brandcrawl.db", "--out", str(out), "--summary-json", str(summary),
             "-s", "DOWNLOAD_DELAY=0", "-s", "AUTOTHROTTLE_ENABLED=False", "--log-level", "ERROR"],
            capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
            env={name: value for name, value in os.environ.items() if not name.startswith("BRANDCRAWL_")},
        )  # fmt: skip

    assert done.returncode == exit_status, done.stderr
    assert said in done.stderr
    assert ("Traceback" in done.stderr) == (status == "failed")
    [line] = summary.read_text(encoding="utf-8").splitlines()
    report = json.loads(line)
    assert (report["command"], report["status"], report["exit_status"]) == ("run", status, exit_status)
    assert datetime.fromisoformat(report["started"]) <= datetime.fromisoformat(report["finished"])
    assert report["lock"] == (None if status == "usage_error" else str(lock))
    assert (report["error"] is None) == (status in ("ok", "incomplete"))
    crawled = report["marketplaces"].get("ebay", {}).get("status")
    assert crawled == {"ok": "ok", "incomplete": "blocked", "failed": "ok"}.get(status)
    if status == "ok":
        assert report["marketplaces"]["ebay"]["new_hits"] > 0
        assert Path(report["digest"]).is_file()
        [eml] = report["recipients"]["written"]
        assert Path(eml).name.startswith("veille@gallimard.example-")
    if status == "failed":
        assert report["error"].startswith("FileExistsError")


def test_a_refused_run_can_write_its_summary_to_standard_output(
    tmp_path: Path, watch_path: Path, capsys
) -> None:
    lock = tmp_path / "run.lock"
    arguments = ["run", "--watch", str(watch_path), "--lock", str(lock), "--summary-json", "-"]
    with run_lock(lock):
        assert main(arguments) == 75
    out, err = capsys.readouterr()
    report = json.loads(out.splitlines()[-1])
    assert (report["status"], report["lock"]) == ("skipped", str(lock))
    assert report["error"] in err
    assert err.count("\n") == 1


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        (["--summary-json", "{tmp}/nope/run.json"], "--summary-json: no folder {tmp}/nope"),
        (["--lock", "{tmp}/watch.toml/run.lock"], "cannot open the run lock {tmp}/watch.toml/run.lock: "),
    ],
)
def test_a_run_told_to_write_where_it_cannot_says_so_in_one_line(
    tmp_path: Path, watch_path: Path, capsys, arguments: list[str], said: str
) -> None:
    given = [argument.format(tmp=tmp_path) for argument in arguments]
    assert main(["run", "--watch", str(watch_path), "--db", f"sqlite:///{tmp_path}/db", *given]) == 2
    error = capsys.readouterr().err
    assert error.startswith(f"brandcrawl: {said.format(tmp=tmp_path)}")
    assert error.count("\n") == 1


def test_an_unexpected_error_is_its_traceback_and_status_1(tmp_path: Path, watch_path: Path, capsys) -> None:
    out = tmp_path / "digest"
    out.write_text("", encoding="utf-8")  # a file where the digest folder should be: nothing checks that
    arguments = ["digest", "--watch", str(watch_path), "--db", f"sqlite:///{tmp_path}/db", "--out", str(out)]
    assert main(arguments) == 1
    error = capsys.readouterr().err
    assert error.startswith("Traceback (most recent call last)")
    assert error.rstrip().endswith(f"FileExistsError: [Errno 17] File exists: '{out}'")


def test_a_digest_run_losing_the_race_for_the_team_digest_still_serves_the_recipients(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL, of two digest runs marking the same hits at once, one gets a serialization
    failure: the team digest is the other's, and this run goes on to the recipients (each claimed
    once a day), instead of failing the cron job."""
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    import brandcrawl.digest

    def lost_the_race(*args: object, **kwargs: object) -> Path:
        raise OperationalError(
            "UPDATE hits SET reported_in=…",
            {},
            psycopg.errors.SerializationFailure("could not serialize access due to concurrent update"),
        )

    watch = tmp_path / "watch.toml"
    watch.write_text(WATCH, encoding="utf-8")
    monkeypatch.setattr(brandcrawl.digest, "write_digest", lost_the_race)
    assert main(["digest", "--watch", str(watch), "--db", db_url, "--out", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert "the team digest is being written by another digest run" in err


def test_any_other_database_error_in_the_team_digest_fails_the_run(
    tmp_path: Path, db_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import psycopg.errors
    from sqlalchemy.exc import OperationalError

    import brandcrawl.digest

    def disk_full(*args: object, **kwargs: object) -> Path:
        raise OperationalError("UPDATE hits …", {}, psycopg.errors.DiskFull("could not extend file"))

    watch = tmp_path / "watch.toml"
    watch.write_text(WATCH, encoding="utf-8")
    monkeypatch.setattr(brandcrawl.digest, "write_digest", disk_full)
    assert main(["digest", "--watch", str(watch), "--db", db_url, "--out", str(tmp_path / "out")]) == 1
    assert "database error: could not extend file" in capsys.readouterr().err
