"""The bulk filter's exact scan and per-piece work in C (brandcrawl/matching/_bulkscan.c) find what
the Python reference (bulk.PythonPieces) finds: the same candidate lines, the same matches, on
generated feeds and on hostile lines; the exact scan's and the two-typo rule's edge cases; the
extension's errors, references and memory; and a machine without a compiler still builds the
package."""

from __future__ import annotations

import gc
import random
import subprocess
import sys
import tarfile
import tracemalloc
import zipfile
from array import array
from pathlib import Path
from typing import Any

import ahocorasick
import pytest

from brandcrawl.config import Brand
from brandcrawl.matching import BrandMatcher, bulk, words
from brandcrawl.matching.text import LEET_DIGITS, SKELETON_LETTERS, SKELETON_PAIRS
from tests.scrapyd_nodes import project_copy

needs_c = pytest.mark.skipif(
    not bulk.COMPILED,
    reason="brandcrawl.matching._bulkscan is not built (no C compiler at install): only the Python path runs",
)
BOTH = [pytest.param(True, id="C", marks=needs_c), pytest.param(False, id="Python")]

BRANDS = [
    Brand("Gallimard", aliases=("Éditions Gallimard",)),
    Brand("Decathlon"),
    Brand("Michelin"),
    Brand("Carrefour"),
    Brand("Bernardaud"),  # rn: its skeleton is "bemardaud"
    Brand("Wimbledon"),  # w and m: the two-typo slack widens
    Brand("Vivienne Westwood"),
    Brand("Lacoste"),
    Brand("Deezer"),
    Brand("BNP Paribas", aliases=("BNP",)),
    Brand("Kaжdyiden"),  # a letter with no Latin reading: never one of the (ASCII) text's
    Brand("Apple", common_word=True),
    Brand("Orange", common_word=True),
    # Labels sharing anchors: the same start, lengths around each other's.
    Brand("Valorinex"),
    Brand("Valorinexa"),
    Brand("Valoriplex"),
]
MATCHER = BrandMatcher(BRANDS)
WORDS = "shop store online best the my new paris france achat vente 2024 tv ren vvv rnrn mmm".split()
TLDS = ["com", "fr", "net", "co.uk", "shop", "de"]


def filters(matcher: BrandMatcher) -> dict[bool, bulk.BulkFilter]:
    """The C (True) and Python (False) bulk filters of ``matcher``, from its tables, as match_many
    builds its own."""
    skeletons = [lab.skeleton for lab in matcher._labels]
    tables = (skeletons, matcher._one_typo.keys(), matcher._anchors, matcher.word_checks())
    return {
        compiled: bulk.BulkFilter(*tables, compiled=compiled)
        for compiled in (True, False)
        if compiled is False or bulk.COMPILED
    }


def exact_only(skeletons: list[str]) -> dict[bool, bulk.BulkFilter]:
    """The C (True) and Python (False) bulk filters of ``skeletons`` with no typo tables: what they
    find, the exact scan alone finds."""
    return {
        compiled: bulk.BulkFilter(skeletons, {}.keys(), ahocorasick.Automaton(), compiled=compiled)
        for compiled in (True, False)
        if compiled is False or bulk.COMPILED
    }


def typo(rng: random.Random, word: str) -> str:
    """``word`` with one edit of the kinds squatters use (a letter changed, dropped, added or
    swapped, a look-alike pair or digit)."""
    if not word:
        return rng.choice("abm")
    i = rng.randrange(len(word))
    kind = rng.randrange(8)
    if kind == 0:
        return word[:i] + rng.choice("abcdefghijklmnopqrstuvwxyz") + word[i + 1 :]
    if kind == 1:
        return word[:i] + word[i + 1 :]
    if kind == 2:
        return word[:i] + rng.choice("aeilmnorstuvw") + word[i:]
    if kind == 3 and i + 1 < len(word):
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    look_alikes = {
        "m": "rn",
        "rn": "m",
        "w": "vv",
        "vv": "w",
        "l": "1",
        "i": "l",
        "o": "0",
        "e": "3",
        "g": "q",
    }
    found = [(key, value) for key, value in look_alikes.items() if key in word]
    if found:
        key, value = rng.choice(found)
        return word.replace(key, value, 1)
    return word + rng.choice("sxz")


def feed(count: int, seed: int) -> list[str]:
    """Drop-list-style domains: ordinary words, random letters and the watched brands with up to
    three edits, affixes, separators and look-alikes."""
    rng = random.Random(seed)
    labels = [lab.text for lab in MATCHER._labels]
    domains = []
    for _ in range(count):
        roll = rng.random()
        if roll < 0.4:
            label = rng.choice(labels)
            for _ in range(rng.choice((0, 1, 1, 2, 2, 3))):
                label = typo(rng, label)
            parts = [label, *rng.sample(WORDS, rng.randrange(3))]
            rng.shuffle(parts)
        elif roll < 0.8:
            parts = rng.sample(WORDS, rng.randint(1, 3))
        else:
            parts = ["".join(rng.choice("abcdeilmnorstuvwxyz0123456789") for _ in range(rng.randint(1, 20)))]
        domains.append(rng.choice(["", "-", "_", "."]).join(parts) + "." + rng.choice(TLDS))
    return domains


HOSTILE = [
    "",
    "-",
    "---",
    "-_-.com",
    "a--b.com",
    "gallimard--shop.fr",
    "_gallimrd_.fr",
    "-decathlno-.com",
    "g" * 300 + ".com",
    "gallimard" + "x" * 291 + ".com",
    "decat" + "m" * 300 + ".com",  # a slack wider than any label
    "w" * 5000,
    "decathlon" * 40 + ".net",
    "mmmmmmmm.com",
    "rnrnrnrnrn.fr",
    "vvvvvvvvv.de",
    "bernardaud.fr",
    "bemardaud.fr",
    "bernadraud.com",
    "vivienne-westwood.com",
    "viviennevvestwood.com",
    "kaxdyiden.com",
    "kaжdyiden.com",  # non-ASCII: matched outside the bulk fold
    "gаllimard.fr",  # Cyrillic а
    "xn--gllimard-16g.com",
    "GALLIMARD.FR",
    "..gallimard",
    ".gallimard.fr",
    "gallimard.",
    "http://gallimrd.com/x",
    "gallimrd com",
    "valorinexx.com",
    "valoriplexa.com",
    "valorinecs.com",
    "1234567.com",
    "d3c4thl0n.fr",
    "a.b.c.d.e",
    "com",
    ".",
]


@needs_c
@pytest.mark.parametrize("tables", ["all", "exact scan only"])
@pytest.mark.parametrize(("count", "seed"), [(3000, 1), (3000, 2), (500, 3)])
def test_the_c_and_python_paths_pick_the_same_lines(tables: str, count: int, seed: int) -> None:
    domains = feed(count, seed)
    both = filters(MATCHER) if tables == "all" else exact_only([lab.skeleton for lab in MATCHER._labels])
    found = {compiled: bulk_filter.candidates(domains) for compiled, bulk_filter in both.items()}
    assert found[True] == found[False]
    assert len(found[True]) > count // 10  # the feed plants enough to compare


@needs_c
def test_hostile_lines_pick_the_same_lines() -> None:
    both = filters(MATCHER)
    assert both[True].candidates(HOSTILE) == both[False].candidates(HOSTILE)
    for line in HOSTILE:
        assert both[True].candidates([line]) == both[False].candidates([line]), line


@needs_c
def test_long_variants_and_many_pieces_spelled_apart() -> None:
    """Variants of 300 letters (the C set stores a long length), and more pieces whose letters, not
    their skeleton, are a variant than the scan's set of them first has room for: each letter before
    an n written r ("rnbncn…"), which the skeleton reads as m."""
    names = ["Anbncndnenfngnhn", "Jnknlnonpnsntnun", "K" + "a" * 299]
    matcher = BrandMatcher.from_names(names)
    spelled_apart = [
        name[:i] + "r" + name[i + 1 :] for name in map(str.lower, names[:2]) for i in range(0, 16, 2)
    ]
    pieces = [*spelled_apart, "k" + "a" * 298, "shop"]  # already folded
    one_typo = {
        compiled: {line for line, _ in f._pieces.scan("\n".join(pieces).encode())[1]}
        for compiled, f in filters(matcher).items()
    }
    assert one_typo[True] == one_typo[False] == set(range(len(pieces) - 1))
    domains = [f"{piece}.com" for piece in pieces]
    found = {compiled: f.candidates(domains) for compiled, f in filters(matcher).items()}
    assert found[True] == found[False] == list(range(len(domains) - 1))
    assert [i for i, _ in matcher.match_many(domains, "domain")] == found[True]


@pytest.mark.parametrize("compiled", BOTH)
def test_match_many_gives_the_answers_of_matching_one_by_one(
    compiled: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "COMPILED", compiled)
    matcher = BrandMatcher(BRANDS)  # its bulk filter is built on the first match_many, by COMPILED
    domains = feed(2000, 4) + HOSTILE
    bulk_matches = list(matcher.match_many(domains, "domain"))
    one_by_one = [(i, matches) for i, d in enumerate(domains) if (matches := matcher.match(d, "domain"))]
    assert bulk_matches == one_by_one
    assert len(one_by_one) > 300


@needs_c
@pytest.mark.parametrize(
    "letters",
    [
        b"",
        b"\n",
        b"\n\n\n",
        b"|",
        b"|||\n|\n||",
        b"decathlon|\n|decahtlon",
        b"a" * 300,
        b"m" * 300 + b"\n" + b"decatm" + b"m" * 20,
        b"gallimard" * 50,
        b"rnrnrn|vvvv|rnvv\nvvrn",
        b"bernardaud|bemardaud|bernadraud\nbemadraud",
        b"valorlnexx|valorlnexa|valorlplex|valorlpexa",
        b"kaxdylden|kadylden",
        b"2026|6|22",
        b"a.b.c\nabc.\n.\nnodot\n.com\n..\nx..y\n",
        b"gallimrd.co.uk\ndecathlno.fr.\n.decathlno\ngallimrd.\ngallimrd",
        b"-.-\n_._\n.-_\n...\n",
        b"d3cathl0n.c0m\n7ga11imard-2024.net\nbernardaud_shop.ac.uk",
        # A piece whose letters, not its skeleton, are a variant (bemarnaud: bemamaud) makes the other
        # lines with that skeleton count, also when its own line was already taken.
        b"decathlom|bemarnaud\nbemamaud",
        b"galllmard|bemarnaud\nbemamaud",
        # Lines left unread.
        b".gallimrd\ngallimrd.\ngall..imrd.fr\nxn--gallimrd.fr\ngallimrd.xn--fr\nGALLIMRD.FR\ngallimrd fr",
        "gallimård.fr\ngallimrd.fr\nxn-\nxn-gallimrd.fr\nx.n--gallimrd\n".encode(),
    ],
)
def test_scans_of_raw_chunks_agree(letters: bytes) -> None:
    """``scan`` itself, on chunks the bulk filter would never hand it too (written as folded, its
    separators "|", which scan reads as a character no domain holds, and as written, "-")."""
    c, python = (f._pieces for f in filters(MATCHER).values())
    for chunk in (letters, letters.replace(b"|", b"-")):
        c_lines, c_near, c_unread = c.scan(chunk)
        python_lines, python_near, python_unread = python.scan(chunk)
        assert (c_lines, c_unread) == (python_lines, python_unread)
        # Python reports a piece once per anchor it holds, C once: the consumer reads them as sets.
        assert set(c_near) == set(python_near)


@pytest.mark.parametrize("compiled", BOTH)
@pytest.mark.parametrize(
    ("skeletons", "domains", "lines"),
    [
        # A label split by separators is still found (i reads as l: gallimard's skeleton is galllmard).
        pytest.param(
            ["galllmard"],
            ["galli-mard.fr", "g.a.l.l.i.m.a.r.d.com", "galli_-mard.net", "gallimar.fr"],
            [0, 1, 2],
            id="split by separators",
        ),
        # ...but never across a line end, nor with its TLD taken for a part of it.
        pytest.param(
            ["galllmard"], ["shop-galli.fr", "mard.fr", "gallimar.d"], [], id="not across a line end"
        ),
        # A label inside another's path: "bc" ends at a suffix of "abc" (a fail link's flag).
        pytest.param(
            ["abcd", "bc"],
            ["xabcx.com", "xabx.com", "xacbx.com", "abdc.com", "xabcd.com"],
            [0, 4],
            id="a suffix, by a fail link",
        ),
        # A label that is another's prefix. (None of these domains is a dictionary word: the filter
        # leaves out a label inside one, see test_a_brand_only_inside_ordinary_words_is_left_out.)
        pytest.param(["abcd", "ab"], ["xabx.com", "abcx.com", "acd.com"], [0, 1], id="a prefix"),
        # A missing child goes on where the fail link does: "abc" of abce, then d, is "bcd".
        pytest.param(
            ["bcd", "abce"],
            ["xabcd.com", "abce.com", "abcf.com"],
            [0, 1],
            id="a missing child, by a fail link",
        ),
        pytest.param(["aab"], ["aaab.com", "aaxab.com"], [0], id="a fail link to a prefix of itself"),
        # At the very start and the very end of the chunk (no TLD: nothing after the label).
        pytest.param(
            ["galllmard"], ["gallimard", "x.com", "shop-gallimard"], [0, 2], id="at the chunk's start and end"
        ),
        # A label with a character outside ASCII is never in the text; the others still are.
        pytest.param(
            ["kaжdylden"], ["kaxdyiden.com", "kadyiden.com", "ka-dyiden.com"], [], id="a label outside ASCII"
        ),
        pytest.param(
            ["kaжdylden", "dylden"],
            ["kaxdyiden.com", "kadyiden.com", "dyide.com"],
            [0, 1],
            id="a label outside ASCII and others",
        ),
        # An empty label is no label; no label at all finds nothing.
        pytest.param(["", "abc"], ["xyz.com", "abc.com"], [1], id="an empty label"),
        pytest.param([], ["abc.com", "gallimard.fr"], [], id="no label"),
    ],
)
def test_the_exact_scan(compiled: bool, skeletons: list[str], domains: list[str], lines: list[int]) -> None:
    bulk_filter = exact_only(skeletons)[compiled]
    assert bulk_filter.candidates(domains) == lines
    assert bulk_filter._pieces.scan(b"") == (set(), [], set())  # an empty chunk
    assert bulk_filter.candidates([]) == []


@needs_c
def test_random_words_near_the_labels_are_measured_alike() -> None:
    """Thousands of words a few edits from the labels, m/w-heavy ones included: the banded OSA in C
    decides as rapidfuzz's does."""
    rng = random.Random(5)
    skeletons = [lab.skeleton for lab in MATCHER._labels if lab.edits == 2]
    words = []
    for _ in range(6000):
        word = rng.choice(skeletons)
        for _ in range(rng.randint(1, 5)):
            word = typo(rng, word)
        words.append(word)
    letters = "\n".join(w for w in words if w.isascii()).encode("ascii")
    c, python = (f._pieces for f in filters(MATCHER).values())
    c_lines, c_near, c_unread = c.scan(letters)
    python_lines, python_near, python_unread = python.scan(letters)
    assert (c_lines, set(c_near), c_unread) == (python_lines, set(python_near), python_unread)
    assert 1000 < len(set(c_near)) < 5500  # some near, some not


@needs_c
def test_a_label_letter_outside_ascii_equals_no_letter_of_the_text() -> None:
    """Kaжdyiden's ж, put in place of each letter and digit (but m and w, which widen the bound),
    with two more edits: three in all, past the bound, whatever stands for ж in C."""
    words = [f"ka{char}dyldxx" for char in "abcdefghjklnoprstuvxyz0123456789"]
    c, python = (f._pieces for f in filters(MATCHER).values())
    letters = "\n".join(words).encode("ascii")
    assert c.scan(letters) == python.scan(letters) == (set(), [], set())
    assert {word for _, word in c.scan(b"kandyldxx-kandyldex")[1]} == {"kandyldex"}  # two edits: near


def two_typo_scanner(compiled: bool, skeleton: str) -> Any:
    """The per-piece scanner of one label allowed two typos, with no one-typo table."""
    from brandcrawl.matching.matcher import _one_edit

    anchors = ahocorasick.Automaton()
    for anchor in bulk.two_typo_anchors(skeleton, _one_edit):
        anchors.add_word(anchor, bulk.AnchoredLabels((0,), (len(skeleton),)))
    anchors.make_automaton()
    bulk_filter = bulk.BulkFilter([skeleton], {}.keys(), anchors, compiled=compiled)
    return bulk_filter._pieces


@pytest.mark.parametrize("compiled", BOTH)
@pytest.mark.parametrize(
    ("word", "near"),
    [
        ("decathlon", True),  # the label itself
        ("decahtlon", True),  # a transposition is one edit
        ("edcathlno", True),  # two transpositions, the middle part untouched
        ("edcahtlon", False),  # a transposition across two parts plus one more: every anchor broken
        ("dxcatxlon", True),  # the first part one edit away, then the middle one
        ("xxcathlon", True),  # the last part untouched
        ("xxxathlon", False),  # three edits
        ("decathxxx", False),  # three edits, no m or w
        ("decathmmm", False),  # three edits: m written as m is no rn
        ("decathrnrnrn", True),  # three rn read as m: the matcher also measures them unmerged
        ("decathvvvvvv", True),  # vv read as w: the same
        ("decathlonxx", True),  # two letters longer: at the bound
        ("decathlonxxx", False),  # three longer: past it
        ("decathl", True),  # two shorter: at the bound
        ("decath", False),  # three shorter: past it
        ("deca", False),  # the anchor alone
        ("decathlonm", True),
    ],
)
def test_the_two_typo_rule(compiled: bool, word: str, near: bool) -> None:
    scanner = two_typo_scanner(compiled, "decathlon")
    lines, found, _ = scanner.scan(f"shop-{word}.com\nother.fr".encode())
    assert lines == ({0} if "decathlon" in word else set())  # no one-typo table: the exact scan's
    assert ((0, bulk._skeleton_pairs(word)) in found) is near
    assert all(line == 0 for line, _ in found)


LONG = "decathlon" * 4


@pytest.mark.parametrize("compiled", BOTH)
@pytest.mark.parametrize("skeleton", [LONG[:31], LONG], ids=["31 letters", "36 letters"])
@pytest.mark.parametrize(
    ("word", "near"),
    [
        (lambda label: label, True),
        (lambda label: "xx" + label[2:], True),
        (lambda label: "xxx" + label[3:], False),
        (lambda label: label[:-2], True),
        (lambda label: label[:-3], False),
        (lambda label: label + "xx", True),
        (lambda label: label + "xxx", False),
    ],
    ids=[
        "itself",
        "two changed",
        "three changed",
        "two shorter",
        "three shorter",
        "two longer",
        "three longer",
    ],
)
def test_the_two_typo_rule_past_the_lengths_told_apart(
    compiled: bool, skeleton: str, word: Any, near: bool
) -> None:
    """The C walk skips a trie node below which no label has a length near the piece's, telling lengths
    apart up to 31 letters: longer labels and pieces are measured all the same."""
    scanner = two_typo_scanner(compiled, skeleton)
    _lines, found, _unread = scanner.scan(f"shop-{word(skeleton)}.com".encode())
    assert bool(found) is near


LABEL = bulk.AnchoredLabels((0,), (3,))


@needs_c
@pytest.mark.parametrize(
    ("wrong", "error", "message"),
    [
        ({"variants": [1]}, TypeError, "one-typo variants are str"),
        ({"anchors": [("|abc", LABEL)], "skeletons": []}, ValueError, "label number 0: there are 0 labels"),
        ({"anchors": [("abc", LABEL)]}, ValueError, "'abc' is not tied to one word boundary"),
        ({"anchors": [("|abc|", LABEL)]}, ValueError, "not tied"),
        ({"anchors": [("|a|c", LABEL)]}, ValueError, "not tied"),
        ({"anchors": [("|", LABEL)]}, ValueError, "not tied"),
        ({"anchors": [("|abc", LABEL), ("|abc", LABEL)]}, ValueError, "the same two-typo anchor twice"),
        ({"anchors": [["|abc", LABEL]]}, TypeError, "anchors are .str, labels. tuples"),
        ({"anchors": [("|abc", (0,))]}, AttributeError, "numbers"),
        ({"skeletons": [3]}, TypeError, "skeletons are str"),
        ({"pairs": [("rn", "mm")]}, ValueError, "skeleton pairs"),
        ({"pairs": [("r", "m")]}, ValueError, "skeleton pairs"),
        # Merged in one pass: no pair may make or unmake another.
        ({"pairs": [("rn", "m"), ("nr", "x")]}, ValueError, "skeleton pairs share no letter"),
        ({"pairs": [("rn", "m"), ("mm", "w")]}, ValueError, "skeleton pairs share no letter"),
        ({"pairs": [("mm", "m")]}, ValueError, "skeleton pairs share no letter"),
        ({"pairs": 3}, TypeError, "not iterable"),
        ({"fold": bulk._FOLD[:255]}, ValueError, "the fold table has 256 bytes"),
        ({"fold": "x" * 256}, TypeError, "bytes-like"),
    ],
)
def test_the_scanner_refuses_tables_it_cannot_read(wrong: dict, error: type, message: str) -> None:
    from brandcrawl.matching._bulkscan import PieceScanner

    arguments = {
        "variants": [],
        "anchors": [],
        "skeletons": ["abc"],
        "pairs": SKELETON_PAIRS,
        "fold": bulk._FOLD,
    }
    with pytest.raises(error, match=message):
        PieceScanner(**{**arguments, **wrong})


@needs_c
def test_the_scanner_reads_bytes_and_leaves_unread_what_is_no_plain_domain() -> None:
    scanner = filters(MATCHER)[True]._pieces
    with pytest.raises(TypeError):
        scanner.scan("gallimard")
    assert scanner.scan(b"gallimrd.fr") == scanner.scan(bytearray(b"gallimrd.fr"))
    # An "a" dropped: a one-typo variant and within two typos, a piece worth matching either way.
    assert scanner.scan(b"gallimrd.fr") == (set(), [(0, "galllmrd"), (0, "galllmrd")], set())
    assert scanner.scan("gallimård.fr\n\xffgallimrd\ngallimard.fr".encode("latin-1")) == (
        {2},
        [(2, "galllmard")],
        {0, 1},
    )


@needs_c
def test_the_scanner_holds_no_reference_and_leaks_nothing() -> None:
    from brandcrawl.matching._bulkscan import PieceScanner

    shared = bulk.AnchoredLabels((0, 1), (7, 9))
    anchors = [("|valor", shared), ("|valorl", shared), ("nex|", bulk.AnchoredLabels((1,), (9,)))]
    skeletons = ["valorlx", "valorlnex"]
    variants = {"valorlxx": (0,), "valorlnexx": (1,)}
    chunk = "\n".join(d for d in feed(3000, 6) if d.isascii()).encode("ascii")
    before = sys.getrefcount(shared), sys.getrefcount(skeletons[0])
    scanner = PieceScanner(variants.keys(), anchors, skeletons, SKELETON_PAIRS, bulk._FOLD)
    scanner.scan(chunk)
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            PieceScanner(variants.keys(), anchors, skeletons, SKELETON_PAIRS, bulk._FOLD).scan(chunk)
        for _ in range(20):
            scanner.scan(chunk)
        del scanner
        gc.collect()
        assert tracemalloc.get_traced_memory()[0] - start < 4096
    finally:
        tracemalloc.stop()
    assert (sys.getrefcount(shared), sys.getrefcount(skeletons[0])) == before


def test_a_built_extension_is_the_one_used() -> None:
    """An extension built next to bulk.py that does not import (a broken build) would quietly leave
    the filter in Python."""
    built = sorted(Path(bulk.__file__).parent.glob("_bulkscan.*"))
    if not [path for path in built if path.suffix in (".so", ".pyd")]:
        pytest.skip("brandcrawl.matching._bulkscan is not built")
    assert bulk.COMPILED
    assert type(bulk.BulkFilter([], {}.keys(), ahocorasick.Automaton())._pieces).__name__ == "PieceScanner"


def test_without_a_compiler_the_package_still_builds(tmp_path: Path) -> None:
    """The extension is optional: a failed compile leaves it out of the wheel, which carries its
    source, as the sdist does."""
    project = project_copy(tmp_path)
    for built in (project / "brandcrawl" / "matching").glob("_bulkscan*"):
        if built.suffix != ".c":
            built.unlink()  # the checkout's own build, copied with it
    out = tmp_path / "dist"
    for hook in ("build_wheel", "build_sdist"):
        # setuptools' PEP 517 hooks, one process each as pip runs them; CC=false: every compile fails.
        code = f"import sys, setuptools.build_meta as b; b.{hook}(sys.argv[1])"
        done = subprocess.run(
            [sys.executable, "-c", code, str(out)],
            cwd=project,
            env={"PATH": "/usr/bin:/bin", "CC": "false", "HOME": str(tmp_path)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr[-3000:]
        if hook == "build_wheel":
            assert 'building extension "brandcrawl.matching._bulkscan" failed' in done.stderr
    [wheel_path] = out.glob("*.whl")
    with zipfile.ZipFile(wheel_path) as wheel:
        inside = wheel.namelist()
    assert "brandcrawl/matching/_bulkscan.c" in inside
    assert not [name for name in inside if "_bulkscan" in name and not name.endswith(".c")]
    [sdist_path] = out.glob("*.tar.gz")
    with tarfile.open(sdist_path) as sdist:
        assert "brandcrawl-0.1.0/brandcrawl/matching/_bulkscan.c" in sdist.getnames()


AROUND = BrandMatcher([Brand("Nike"), Brand("Uber"), Brand("Free", common_word=True), Brand("La Poste")])


@pytest.mark.parametrize(
    ("matcher", "domains", "picked", "hit"),
    [
        # "like" is a letter away from Nike, but a dictionary word is not a typo. A word with digits
        # is not read as written: "mp3" is a word, but "mpe" to the matcher, a letter away from MPA.
        pytest.param(
            BrandMatcher.from_names(["Nike", "MPA"]),
            ["like.com", "bike-shop.fr", "nikr.com", "like-nikr.com", "mp3.com", "nike.com"],
            ["nikr.com", "like-nikr.com", "mp3.com", "nike.com"],
            "mp3.com",
            id="typos that are ordinary words",
        ),
        # "moniker" holds nike and "freedom" free, but a brand inside a longer word is not the brand,
        # nor beside letters that are no words (monikerz), unless a word, or words run together,
        # spell a label (la-poste, free, nike).
        pytest.param(
            AROUND,
            [
                *("moniker.com", "freedom-tuberose.fr", "la-poste.fr", "free-sample.com"),
                *("monikerz.com", "moniker-nike.net", "www.moniker.co.uk"),
            ],
            ["la-poste.fr", "free-sample.com", "moniker-nike.net"],
            "la-poste.fr",
            id="labels only inside ordinary words",
        ),
    ],
)
def test_domains_of_ordinary_words_are_left_out(
    matcher: BrandMatcher, domains: list[str], picked: list[str], hit: str
) -> None:
    for bulk_filter in filters(matcher).values():
        assert [domains[i] for i in bulk_filter.candidates(domains)] == picked
    hits = [domains[i] for i, _ in matcher.match_many(domains, "domain")]
    assert hits == [domain for domain in domains if matcher.match(domain, "domain")]
    assert hit in hits


@pytest.mark.parametrize(
    ("domain", "says_no"),
    [
        ("xnikeqz.com", True),  # letters around it that are no words
        ("ubertnikez.fr", True),  # uber and nike, each beside letters that do not read as words
        ("freedomz-cart.com", True),  # free (a common word) beside letters that are no commerce words
        ("monikerz.com", True),
        ("nikeshop.com", False),  # an affix: the matcher decides (a hit)
        ("shop-nike.com", False),  # the label fills its word
        ("la-poste.fr", False),  # whole words spell it
        ("nike2x.com", True),  # a word mixing letters and digits reads as leetspeak: "2x" is no word
        ("nike2024.com", False),  # a number after the label: an affix
        ("2024nike.com", False),  # a word that starts with a digit: the matcher reads it its own way
    ],
)
def test_what_the_words_around_a_label_say_before_matching(domain: str, says_no: bool) -> None:
    """A pick with a label but no possible typo is first read for what the words around each label
    say; a "no" there is the matcher's own answer, and the domain is not matched."""
    for bulk_filter in filters(AROUND).values():
        assert bulk_filter.candidates([domain]) == ([] if says_no else [0])
    assert AROUND._labels_only_say_no(domain) is says_no
    hit = bool(AROUND.match(domain, "domain"))
    assert not (says_no and hit)
    assert [i for i, _ in AROUND.match_many([domain], "domain")] == ([0] if hit else [])


JUDGED = BrandMatcher(
    [
        *(Brand("Nike"), Brand("Uber"), Brand("La Poste"), Brand("Bernardaud"), Brand("Lacoste")),
        *(Brand("Free", common_word=True), Brand("Orange", common_word=True)),
        Brand("Gallimard", affixes=("editions",)),  # affixes of its own: read by the matcher's code
    ]
)
# Ordinary words and strings that are none, to put around the labels as drop lists do.
AROUND_WORDS = "shop store the my official moniker dom costes tree sample rose pay".split()
AROUND_WORDS += "qz xk zzt a e 2024 b4 7up".split()  # no words, and numbers


@needs_c
@pytest.mark.parametrize(
    ("domain", "verdict"),
    [
        ("xnikeqz.com", True),  # letters around it that are no words
        ("nikeshop.com", False),  # an affix
        ("NIKESHOP.COM", False),
        ("shop-nike-zz.com", False),  # the label fills its word
        ("moniker.com", True),  # inside an ordinary word
        ("www.moniker.co.uk", True),  # www and the public suffix left out
        ("nike.co.uk", False),
        ("lapostez.fr", True),
        ("la-poste.fr", False),  # whole words spell it
        ("lap-ostez.fr", True),  # split across words it does not fill
        ("bernardaudz.fr", True),  # found in its skeleton, "rn" read as "m"
        ("bern-ardaud.fr", False),  # whole words spell it
        ("ber-nardaud.fr", True),  # "rn" never merged across words: no label at all
        ("freeshop.com", False),  # a common word with a commerce word
        ("freedomz.com", True),
        ("lacostes.com", False),  # a plural
        ("lacostestore.com", False),
        ("editionsgallimard.fr", None),
        ("nike2024.com", False),  # a number after the label
        ("n1keshop.com", False),  # leetspeak
        ("xn1keqz.com", True),
        ("www2.moniker.com", True),
        ("2nike.com", None),  # a word that starts with a digit: the matcher reads it its own way
        ("nike-2024.com", None),
        ("nike_shop.com", None),
        ("xn--nike-abc.com", None),
        ("nike..com", None),
        ("nike", None),
        ("a" * 250 + "nike.com", None),
        ("nïke.com", None),
    ],
)
def test_the_c_judge_reads_the_words_around_labels_as_the_matcher(domain: str, verdict: bool | None) -> None:
    judge = bulk._label_judge(JUDGED.word_checks())
    assert judge.settle([domain]) == [verdict]
    if verdict is not None:
        assert JUDGED._labels_only_say_no(domain) is verdict


@needs_c
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_c_judge_agrees_with_the_matcher_on_a_feed(seed: int) -> None:
    rng = random.Random(seed)
    labels = [lab.text for lab in JUDGED._labels]
    domains = []
    for _ in range(3000):
        parts = [rng.choice(labels), *rng.sample(AROUND_WORDS, rng.randrange(3))]
        rng.shuffle(parts)
        name = rng.choice(["", "", "", "-", "."]).join(parts)
        domains.append(f"{rng.choice(['', 'www.', 'WWW.'])}{name}.{rng.choice(TLDS)}")
    verdicts = bulk._label_judge(JUDGED.word_checks()).settle(domains)
    decided = [
        (domain, verdict) for domain, verdict in zip(domains, verdicts, strict=True) if verdict is not None
    ]
    assert [verdict for _, verdict in decided] == [
        JUDGED._labels_only_say_no(domain) for domain, _ in decided
    ]
    assert len(decided) > 2000
    assert min(sum(verdict is answer for _, verdict in decided) for answer in (True, False)) > 300


def _readings() -> Any:
    from brandcrawl.matching._bulkscan import Readings

    return Readings(["shop", "moniker", "nik", "eq"], array("d", [1.0, 4.2, 3.5, 2.5]), 1.0, 24)


def _judge_arguments(**wrong: object) -> dict:
    """LabelJudge's arguments for two small labels, with ``wrong`` ones instead."""
    return {
        "labels": [("nike", "nlke", False, False), ("free", "free", True, False)],
        "frequencies": {"shop": 4.5, "moniker": 2.0},
        "in_word": 1.5,
        "word": 3.0,
        "word_short": 5.0,
        "short_affixes": ["my"],
        "commerce": ["shop"],
        "second_level": ["co"],
        "plurals": ["s"],
        "max_word": 63,
        "readings": _readings(),
        "pairs": SKELETON_PAIRS,
        "letters": bulk._byte_table(SKELETON_LETTERS),
        "leet": bulk._byte_table(LEET_DIGITS),
        **wrong,
    }


@needs_c
@pytest.mark.parametrize(
    ("wrong", "error", "message"),
    [
        ({"labels": [("nike", "nlke")]}, TypeError, "labels are .text, skeleton, common word, own affixes."),
        ({"labels": [(1, "nlke", False, False)]}, TypeError, "labels are"),
        ({"frequencies": [("shop", 4.5)]}, TypeError, "frequencies is a dict of str to float"),
        ({"frequencies": {"shop": "often"}}, TypeError, "frequencies is a dict of str to float"),
        ({"frequencies": {3: 4.5}}, TypeError, "words are str"),
        ({"commerce": [b"shop"]}, TypeError, "words are str"),
        ({"letters": b"x" * 255}, ValueError, "the letters and leet tables have 256 bytes"),
        ({"leet": b"x" * 257}, ValueError, "the letters and leet tables have 256 bytes"),
        ({"pairs": [("rn", "mm")]}, ValueError, "skeleton pairs"),
        ({"max_word": "63"}, TypeError, "integer"),
        ({"max_word": 65}, ValueError, "max_word is 0 to 64"),
        ({"readings": object()}, ValueError, "readings a Readings"),
    ],
)
def test_the_judge_refuses_tables_it_cannot_read(wrong: dict, error: type, message: str) -> None:
    from brandcrawl.matching._bulkscan import LabelJudge

    right = LabelJudge(**_judge_arguments())
    domains = ["xnikeqz.com", "nikeshop.com", "mynike.co.uk", "freeshop.com", "freeq.com"]
    assert right.settle(domains) == [True, False, False, False, True]
    with pytest.raises(error, match=message):
        LabelJudge(**_judge_arguments(**wrong))


@needs_c
def test_the_judge_holds_no_reference_and_leaks_nothing() -> None:
    from brandcrawl.matching._bulkscan import LabelJudge

    arguments = _judge_arguments()
    domains = [d for d in feed(3000, 8) if d.isascii()]
    with pytest.raises(TypeError, match="domains are str"):
        LabelJudge(**arguments).settle(["nike.com", b"nike.com"])
    before = sys.getrefcount(arguments["labels"][0][0]), sys.getrefcount(domains[0])
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(20):
            LabelJudge(**arguments).settle(domains)
        gc.collect()
        assert tracemalloc.get_traced_memory()[0] - start < 4096
    finally:
        tracemalloc.stop()
    assert (sys.getrefcount(arguments["labels"][0][0]), sys.getrefcount(domains[0])) == before


@needs_c
def test_readings_in_c_are_words_py_s() -> None:
    """``words.straddles`` in C reads every token as its Python reference does, numbers included."""
    rng = random.Random(21)
    tokens = [
        "hellorealise",
        "shopgallimard",
        "loreal",
        "a",
        "2024",
        "nike2024shop",
        "mp3player",
        "99problems",
    ]
    tokens += ["".join(rng.choice("aeilnorst0123") for _ in range(rng.randint(1, 40))) for _ in range(3000)]
    tokens += ["".join(rng.choice("helorasi") for _ in range(rng.randint(1, 64))) for _ in range(500)]
    readings = words.readings()
    for token in tokens:
        for start, end in {(0, len(token)), (len(token) // 3, len(token) // 2), (1, len(token)), (0, 1)}:
            if 0 <= start <= end <= len(token):
                assert readings.straddles(token, start, end) is words._straddles(token, start, end), (
                    token,
                    start,
                )
    assert readings.straddles("x" * 65, 0, 3) is None  # longer than any token asked: words.py reads it
    assert readings.straddles("hélloréalise", 3, 9) is None


@needs_c
@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        (
            (["shop"], array("d", [1.0, 2.0]), 1.0, 24),
            TypeError,
            "a list of words and an array.'d'. of as many",
        ),
        ((("shop",), array("d", [1.0]), 1.0, 24), TypeError, "the dictionary is a list"),
        ((["shop"], [1.0], 1.0, 24), TypeError, r"an array\('d'\) of as many costs"),
        ((["shop"], array("f", [1.0]), 1.0, 24), TypeError, r"an array\('d'\) of as many costs"),
        ((["x" * 33], array("d", [1.0]), 1.0, 24), ValueError, "longer than 32 letters"),
        (([3], array("d", [1.0]), 1.0, 24), TypeError, "words are str"),
        ((["shop"], array("d", [1.0]), 1.0, 33), ValueError, "longest_number is 1 to 32"),
    ],
)
def test_readings_refuse_tables_they_cannot_read(arguments: tuple, error: type, message: str) -> None:
    from brandcrawl.matching._bulkscan import Readings

    with pytest.raises(error, match=message):
        Readings(*arguments)
    with pytest.raises(ValueError, match="not a span"):
        _readings().straddles("shopnike", 5, 3)


@needs_c
def test_the_c_tables_run_no_code_while_they_are_read() -> None:
    """Numbers that only convert to float (whose __float__ may run any code, which could free what is
    being read) are refused, and so is an object only claiming to be a Readings."""
    from brandcrawl.matching._bulkscan import LabelJudge, Readings

    class Converting:
        def __float__(self) -> float:
            return 2.0

    with pytest.raises(TypeError, match="frequencies is a dict of str to float"):
        LabelJudge(**_judge_arguments(frequencies={"shop": 4.5, "moniker": Converting()}))
    with pytest.raises(TypeError, match=r"an array\('d'\) of as many costs"):
        Readings(["shop"], [Converting()], 1.0, 24)

    class Posing:
        __class__ = property(lambda _self: Readings)  # isinstance() believes it

    with pytest.raises(ValueError, match="readings a Readings"):
        LabelJudge(**_judge_arguments(readings=Posing()))
