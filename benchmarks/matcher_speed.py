"""Speed and memory of the brand matcher on a drop-list-sized feed, against the two peers.

Generates (and caches under ``benchmarks/data/``) 1,000,000 drop-list-style domains with a few
hundred planted brand variants, and watch lists of 1,000 and 10,000 brands (the 50 real ones plus
synthetic brand-like names built from syllables). Each measurement runs in a fresh subprocess on
one core: construction time (ours: with what the first ``match_many`` call builds, its C tables and
the word automaton), domains/s through ``match_many(domains, "domain")``, peak RSS (VmHWM),
planted variants found. The dnstwist-style peer is built on the 1,000 brands (``--dnstwist-brands``
builds on a subset and extrapolates); openSquat runs on a subsample and is extrapolated.

    .venv/bin/python benchmarks/matcher_speed.py [--domains 1000000] [--brands 1000]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evalset import BRANDS, DATA_DIR, SEED, TLD_MIX
from procstatus import status_mb

SYLLABLES = (
    "ka ko ki ku ze zo za lu lo li ra ro ri ne no na vi vo va ta to ti mo mi ma de do di "
    "bel bor bri cal cor dal dor fen fir gal gor hal jor kel kor lan lor mar mor nal nor "
    "pal por quin ral ron sal sor tal tor val vor wen xan yor zan zor ex ix ox ax on an en in "
    "tri tra pro pra bra bro cla clo dra dro fla flo gra gro pla plo sta sto stra vex lux nix"
).split()
PLANTED = 300


# --- Data -------------------------------------------------------------------------------------


def synthetic_brands(count: int, seed: int = SEED) -> list[dict]:
    """``count`` watch-list entries: the real brands first, then brand-like syllable names."""
    from evalset import fold, word_set

    real = [
        {
            "name": b.name,
            "common_word": b.common_word,
            "official_domains": list(b.official_domains),
            "exclusions": list(b.exclusions),
        }
        for b in BRANDS
    ]
    out = real[:count]
    rng = random.Random(seed)
    words = word_set(100_000)
    taken = {fold(b["name"]) for b in out}
    while len(out) < count:
        parts = [rng.choice(SYLLABLES) for _ in range(rng.choice((2, 2, 3, 3, 4)))]
        name = "".join(parts)
        if not 5 <= len(name) <= 13 or name in words or name in taken:
            continue
        taken.add(name)
        if rng.random() < 0.1:
            second = "".join(rng.choice(SYLLABLES) for _ in range(2))
            name = f"{name} {second}"
            if fold(name) in taken:
                continue
            taken.add(fold(name))
        out.append({"name": name.title(), "common_word": False, "official_domains": [], "exclusions": []})
    return out


def droplist(count: int, seed: int = SEED) -> tuple[Path, Path]:
    """A cached feed of ``count`` domains, one a line, and the JSON of the planted (index, brand)."""
    path = DATA_DIR / f"droplist-{count}.txt"
    planted_path = DATA_DIR / f"droplist-{count}.planted.json"
    if path.exists() and planted_path.exists():
        return path, planted_path
    from evalset import frequent_words, planted_domains, to_punycode

    rng = random.Random(seed)
    words = frequent_words(30_000, 3, 10)
    tlds = [t for t, _ in TLD_MIX]
    weights = [w for _, w in TLD_MIX]
    seen: set[str] = set()
    domains: list[str] = []
    while len(domains) < count:
        roll = rng.random()
        parts = rng.sample(words, 1 if roll < 0.15 else 2 if roll < 0.75 else 3)
        stem = ("-" if rng.random() < 0.15 else "").join(parts)
        extra = rng.random()
        if extra < 0.07:
            stem += str(rng.randint(1, 9999))
        elif extra < 0.09:
            stem = str(rng.randint(1, 99)) + stem
        elif extra < 0.11:
            stem = "".join(
                rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(rng.randint(4, 9))
            )
        domain = f"{stem}.{rng.choices(tlds, weights)[0]}"
        if len(stem) <= 63 and domain not in seen:
            seen.add(domain)
            domains.append(domain)
    planted = []
    for record in planted_domains(min(PLANTED, max(1, count // 1000))):
        domain = to_punycode(record.candidate.lower())
        if domain in seen:
            continue
        position = rng.randrange(len(domains))
        seen.add(domain)
        domains[position] = domain
        planted.append((position, record.expected, domain, record.family))
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(domains) + "\n", encoding="utf-8")
    planted_path.write_text(json.dumps(sorted(planted)), encoding="utf-8")
    return path, planted_path


def brand_file(count: int) -> Path:
    """The cached watch list of ``count`` brands."""
    path = DATA_DIR / f"brands-{count}.json"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(synthetic_brands(count), ensure_ascii=False), encoding="utf-8")
    return path


# --- Children: one measurement each, in a fresh interpreter ------------------------------------


def _feed(path: Path, limit: int | None, deadline: float | None, counter: list[int]) -> Iterator[str]:
    """Stream the feed, stopping at ``limit`` domains or when ``deadline`` (perf_counter) passes."""
    with path.open(encoding="utf-8") as handle:
        for count, line in enumerate(handle):
            if (limit is not None and count >= limit) or (
                deadline is not None and count % 1024 == 0 and time.perf_counter() > deadline
            ):
                return
            counter[0] = count + 1
            yield line.rstrip("\n")


def child(args: argparse.Namespace) -> dict:
    """Run one measurement and return its figures."""
    spec = json.loads(Path(args.brand_file).read_text(encoding="utf-8"))
    if args.brand_subset:
        spec = spec[: args.brand_subset]
    feed = Path(args.feed)
    counter = [0]
    rss_before = status_mb("VmRSS")
    extra: dict = {}
    if args.child == "ours":
        from brandcrawl.config import Brand
        from brandcrawl.matching import BrandMatcher, bulk

        brands = [
            Brand(
                s["name"],
                common_word=s["common_word"],
                official_domains=tuple(s["official_domains"]),
                exclusions=tuple(s["exclusions"]),
            )
            for s in spec
        ]
        rss_before = status_mb("VmRSS")
        start = time.perf_counter()
        matcher = BrandMatcher(brands)
        constructed = time.perf_counter()
        # What the first call builds (the bulk filter's C tables; the word list and automaton, read
        # once a brand is read between words) is construction too: counted in build_s, as the peer's
        # permutations are, not in the rate. Gallimard heads both lists.
        list(matcher.match_many(["shopgallimardstore.com"], "domain"))
        build_s = time.perf_counter() - start
        first_use_s = build_s - (constructed - start)
        extra = {"bulk_scan": "C" if bulk.COMPILED else "Python", "first_use_s": first_use_s}
        start = time.perf_counter()
        deadline = start + args.time_limit
        hits = [i for i, _ in matcher.match_many(_feed(feed, args.limit, deadline, counter), "domain")]
    elif args.child == "dnstwist":
        from peers import DnstwistMatcher

        start = time.perf_counter()
        matcher = DnstwistMatcher(s["name"] for s in spec)
        build_s = time.perf_counter() - start
        start = time.perf_counter()
        deadline = start + args.time_limit
        hits = list(matcher.match_domains(_feed(feed, args.limit, deadline, counter)))
        bulk_s = time.perf_counter() - start
        # The general path the quality run uses (Unicode/punycode, www., suffixes), for comparison.
        general = [0]
        general_start = time.perf_counter()
        for domain in _feed(feed, args.limit, general_start + args.time_limit / 4, general):
            matcher.match(domain, "domain")
        extra = {
            "general_rate": general[0] / (time.perf_counter() - general_start),
            "permutations": len(matcher.index),
        }
        start = time.perf_counter() - bulk_s
    else:
        from peers import OpenSquatMatcher

        start = time.perf_counter()
        matcher = OpenSquatMatcher(s["name"] for s in spec)
        build_s = time.perf_counter() - start
        domains = list(_feed(feed, args.limit, None, counter))
        start = time.perf_counter()
        found = matcher.check_many(domains)
        hits = [i for i, d in enumerate(domains) if d in found]
    run_s = time.perf_counter() - start if args.child != "dnstwist" else bulk_s
    return {
        **extra,
        "brands": len(spec),
        "build_s": build_s,
        "run_s": run_s,
        "processed": counter[0],
        "hits": len(hits),
        "hit_indexes": hits,
        "rss_before_build_mb": rss_before,
        "peak_rss_mb": status_mb("VmHWM"),
    }


def measure(
    kind: str,
    brands: int,
    feed: Path,
    *,
    subset: int = 0,
    limit: int | None = None,
    time_limit: float = 600.0,
) -> dict:
    """Run one child measurement in a fresh subprocess."""
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        kind,
        "--brand-file",
        str(brand_file(brands)),
        "--feed",
        str(feed),
        "--time-limit",
        str(time_limit),
    ]
    if subset:
        command += ["--brand-subset", str(subset)]
    if limit:
        command += ["--limit", str(limit)]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - started
    return result


# --- The report -------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1_000_000, help="feed size")
    parser.add_argument("--brands", type=int, default=1000, help="watch-list size (also run at 10x)")
    parser.add_argument("--no-10x", action="store_true", help="skip the 10x-brands run")
    parser.add_argument("--time-limit", type=float, default=300.0, help="seconds per run; extrapolates")
    parser.add_argument("--dnstwist-brands", type=int, default=0, help="build the peer on a subset")
    parser.add_argument("--opensquat-domains", type=int, default=1000, help="openSquat subsample")
    parser.add_argument("--peers", default="dnstwist,opensquat", help="comma list, or 'none'")
    # Child mode (internal).
    parser.add_argument("--child", choices=("ours", "dnstwist", "opensquat"), help=argparse.SUPPRESS)
    parser.add_argument("--brand-file", help=argparse.SUPPRESS)
    parser.add_argument("--brand-subset", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--feed", help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args)))
        return 0

    feed, planted_path = droplist(args.domains)
    planted = {
        p: (brand, domain, family) for p, brand, domain, family in json.loads(planted_path.read_text())
    }
    peers = {p.strip() for p in args.peers.split(",")} - {"none", ""}
    print(f"feed: {args.domains:,} domains ({len(planted)} planted variants), {feed}")
    figures: dict = {"domains": args.domains, "planted": len(planted)}

    def rate(r: dict) -> float:
        return r["processed"] / r["run_s"] if r["run_s"] else float("inf")

    def planted_found(r: dict) -> str:
        seen = [p for p in planted if p < r["processed"]]
        found = len(set(r["hit_indexes"]) & set(seen))
        return f"{found}/{len(seen)}"

    def line(label: str, r: dict, note: str = "") -> None:
        cut = ""
        if r["processed"] < args.domains:
            cut = f" (on {r['processed']:,} domains, extrapolated)"
        if "first_use_s" in r:
            note = f"{note} (build: {r['first_use_s']:.2f} s of it on first use)"
        print(
            f"{label:30} build {r['build_s']:8.2f} s | {rate(r):>11,.0f} domains/s{cut} | "
            f"peak RSS {r['peak_rss_mb']:7.1f} MB (before build {r['rss_before_build_mb']:.1f}) | "
            f"hits {r['hits']:,} | planted found {planted_found(r)}{note}"
        )

    ours = measure("ours", args.brands, feed, time_limit=args.time_limit)
    scan = "C (brandcrawl.matching._bulkscan)" if ours["bulk_scan"] == "C" else "Python (_bulkscan not built)"
    print(f"bulk filter's per-piece work: {scan}")
    line(f"ours, {args.brands:,} brands", ours)
    figures["ours"] = {k: v for k, v in ours.items() if k != "hit_indexes"}
    big = None
    if not args.no_10x:
        big = measure("ours", args.brands * 10, feed, time_limit=args.time_limit)
        line(f"ours, {args.brands * 10:,} brands", big)
        figures["ours_10x"] = {k: v for k, v in big.items() if k != "hit_indexes"}
        missed = [planted[p] for p in planted if p < ours["processed"] and p not in set(ours["hit_indexes"])]
        if missed:
            print("  planted missed (ours, first 10):", ", ".join(f"{d} [{f}]" for _, d, f in missed[:10]))

    twist = squat = None
    if "dnstwist" in peers:
        subset = args.dnstwist_brands if 0 < args.dnstwist_brands < args.brands else 0
        twist = measure("dnstwist", args.brands, feed, subset=subset, time_limit=args.time_limit)
        note = ""
        if subset:
            factor = args.brands / subset
            note = f" [built on {subset} brands: build x{factor:.1f} ≈ {twist['build_s'] * factor:.0f} s]"
            twist["build_s_extrapolated"] = twist["build_s"] * factor
        line(f"dnstwist-style, {args.brands:,} brands", twist, note)
        print(
            f"{'':30} ({twist['permutations']:,} permutations; general match() path "
            f"{twist['general_rate']:,.0f} domains/s)"
        )
        figures["dnstwist"] = {k: v for k, v in twist.items() if k != "hit_indexes"}
    if "opensquat" in peers:
        squat = measure(
            "opensquat", args.brands, feed, limit=args.opensquat_domains, time_limit=args.time_limit
        )
        line(f"openSquat, {args.brands:,} brands", squat, f" [on {squat['processed']:,} domains]")
        figures["opensquat"] = {k: v for k, v in squat.items() if k != "hit_indexes"}

    print("\nTARGETS")
    checks = [
        (f"construction < 2 s ({args.brands:,} brands)", ours["build_s"] < 2, f"{ours['build_s']:.2f} s"),
        ("peak memory <= 300 MB", ours["peak_rss_mb"] <= 300, f"{ours['peak_rss_mb']:.0f} MB"),
    ]
    if big is not None:
        ratio = (big["run_s"] / max(big["processed"], 1)) / (ours["run_s"] / max(ours["processed"], 1))
        checks.append(("10x brands cost <= 3x time", ratio <= 3, f"x{ratio:.2f} per domain"))
    if twist is not None:
        general = twist["general_rate"]
        checks.append(
            (
                "as fast as dnstwist-style bulk look-up",
                rate(ours) >= rate(twist),
                f"{rate(ours) / rate(twist):.2f}x",
            )
        )
        checks.append(
            ("as fast as dnstwist-style match()", rate(ours) >= general, f"{rate(ours) / general:.2f}x")
        )
    if squat is not None:
        checks.append(
            ("100x openSquat", rate(ours) >= 100 * rate(squat), f"{rate(ours) / rate(squat):,.0f}x")
        )
    for label, ok, value in checks:
        print(f"  {'✓' if ok else '✗'} {label:40} {value}")
    figures["targets"] = {label: {"met": ok, "value": value} for label, ok, value in checks}
    (DATA_DIR / f"speed-{args.domains}-{args.brands}.json").write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
