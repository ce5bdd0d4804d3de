"""Quality of the brand matcher against the labelled set, side by side with two peers.

Runs our ``BrandMatcher``, a dnstwist-style matcher and openSquat on the same records and prints,
per kind and family, the recall (positives) or false-positive rate (negatives), the overall
precision, candidates per second for each, and which targets are met.

    .venv/bin/python benchmarks/matcher_quality.py [--limit N] [--show 20] [--peers dnstwist,opensquat]

openSquat is slow (every keyword against every candidate), so it runs in a worker process on the
second core while ours and the dnstwist peer run in this one; each speed is measured in its process.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from evalset import BRANDS, DATA_DIR, Record, load_evalset

from brandcrawl.matching import BrandMatcher

# Near-misses that look most like a brand: the 2 % false-positive target applies to these.
HARD_FAMILIES = (
    "brand-inside-word",
    "straddle",
    "dictionary-word-typo",
    "lookalike-brand",
    "ordinary-sense",
    "passing-mention",
)
RECALL_TARGETS = {"domain": 0.98, "handle": 0.95, "title": 0.95}
FP_TARGET, HARD_FP_TARGET = 0.002, 0.02


class Result:
    """One matcher's answers on the records, and its timings."""

    def __init__(self, name: str, found: list[set[str]], build_s: float, run_s: float) -> None:
        self.name = name
        self.found = [{b.casefold() for b in f} for f in found]
        self.build_s = build_s
        self.run_s = run_s

    def hit(self, index: int, record: Record) -> bool:
        """A positive is detected when the expected brand is among the answers; a negative is a
        false positive when there is any answer."""
        if record.expected is None:
            return bool(self.found[index])
        return record.expected.casefold() in self.found[index]


def run_ours(records: Sequence[Record]) -> tuple[Result, list[list]]:
    """Our matcher through its bulk path, one ``match_many`` call per kind."""
    start = time.perf_counter()
    matcher = BrandMatcher(BRANDS)
    build_s = time.perf_counter() - start
    found: list[set[str]] = [set() for _ in records]
    details: list[list] = [[] for _ in records]
    run_s = 0.0
    for kind in ("domain", "handle", "title"):
        positions = [i for i, r in enumerate(records) if r.kind == kind]
        candidates = [records[i].candidate for i in positions]
        start = time.perf_counter()
        try:
            for index, matches in matcher.match_many(candidates, kind):
                found[positions[index]] = {m.brand for m in matches}
                details[positions[index]] = matches
        except Exception as error:  # a matcher being rewritten: go on one candidate at a time
            print(f"match_many({kind!r}) raised {error!r}; retrying one by one", file=sys.stderr)
            errors = 0
            for index, candidate in enumerate(candidates):
                try:
                    matches = matcher.match(candidate, kind)
                except Exception:
                    errors += 1
                    continue
                found[positions[index]] = {m.brand for m in matches}
                details[positions[index]] = matches
            print(f"  {errors} {kind} candidates raised (counted as no match)", file=sys.stderr)
        run_s += time.perf_counter() - start
    return Result("ours", found, build_s, run_s), details


def run_dnstwist(records: Sequence[Record]) -> Result:
    """The dnstwist-style peer: build its permutation index, then exact look-ups."""
    from peers import DnstwistMatcher

    start = time.perf_counter()
    matcher = DnstwistMatcher(BRANDS)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    found = [matcher.match(r.candidate, r.kind) for r in records]
    return Result("dnstwist", found, build_s, time.perf_counter() - start)


def _opensquat_worker(pairs: list[tuple[str, str]]) -> tuple[list[list[str]], float, float]:
    from peers import OpenSquatMatcher

    start = time.perf_counter()
    matcher = OpenSquatMatcher(BRANDS)
    build_s = time.perf_counter() - start
    start = time.perf_counter()
    found = matcher.match_records(pairs)
    return [sorted(f) for f in found], build_s, time.perf_counter() - start


def pct(value: float | None) -> str:
    return "   -  " if value is None else f"{100 * value:6.2f}"


def report(records: Sequence[Record], results: list[Result]) -> dict:
    """Print the tables and return the figures (also written to benchmarks/data/quality.json)."""
    groups: dict[tuple[str, bool, str], list[int]] = defaultdict(list)
    for i, record in enumerate(records):
        groups[(record.kind, record.expected is None, record.family)].append(i)

    def rate(result: Result, indexes: Sequence[int]) -> float | None:
        if not indexes:
            return None
        return sum(result.hit(i, records[i]) for i in indexes) / len(indexes)

    names = [r.name for r in results]
    header = f"{'kind':7} {'family':28} {'n':>6} " + " ".join(f"{n:>9}" for n in names)
    figures: dict = {"families": {}, "summary": {}}
    for negative in (False, True):
        print("\n" + ("FALSE-POSITIVE RATE % (negatives)" if negative else "RECALL % (positives)"))
        print(header)
        for (kind, neg, family), indexes in sorted(groups.items()):
            if neg != negative:
                continue
            values = [rate(r, indexes) for r in results]
            print(f"{kind:7} {family:28} {len(indexes):6} " + " ".join(f"{pct(v):>9}" for v in values))
            figures["families"][f"{kind}/{family}"] = {
                "n": len(indexes),
                "negative": neg,
                **dict(zip(names, values, strict=True)),
            }

    positives = {k: [i for i, r in enumerate(records) if r.expected and r.kind == k] for k in RECALL_TARGETS}
    negatives = [i for i, r in enumerate(records) if r.expected is None]
    hard = [i for i in negatives if records[i].family in HARD_FAMILIES]
    print("\nSUMMARY")
    print(f"{'':38}" + " ".join(f"{n:>9}" for n in names))
    rows: list[tuple[str, Callable[[Result], float | None], float | None, bool]] = []
    for kind, target in RECALL_TARGETS.items():
        rows.append(
            (f"recall {kind} (>= {100 * target:.0f}%)", lambda r, k=kind: rate(r, positives[k]), target, True)
        )
    rows.append(("false-positive rate, all (<= 0.2%)", lambda r: rate(r, negatives), FP_TARGET, False))
    rows.append(("false-positive rate, hard (<= 2%)", lambda r: rate(r, hard), HARD_FP_TARGET, False))
    all_pos = [i for ids in positives.values() for i in ids]
    for label, func, target, higher in rows:
        values = [func(r) for r in results]
        marks = []
        for v in values:
            ok = v is not None and (v >= target if higher else v <= target)
            marks.append(f"{pct(v)}{'✓' if ok else '✗'}")
        print(f"{label:38}" + " ".join(f"{m:>9}" for m in marks))
        figures["summary"][label] = dict(zip(names, values, strict=True))
    precisions, speeds, builds = [], [], []
    for r in results:
        tp = sum(r.hit(i, records[i]) for i in all_pos)
        fp = sum(r.hit(i, records[i]) for i in negatives)
        precisions.append(tp / (tp + fp) if tp + fp else None)
        speeds.append(len(records) / r.run_s if r.run_s else None)
        builds.append(r.build_s)
    print(f"{'precision':38}" + " ".join(f"{pct(p):>9}" for p in precisions))
    print(f"{'candidates/s':38}" + " ".join(f"{s:>9,.0f}" for s in speeds))
    print(f"{'build s':38}" + " ".join(f"{b:>9.2f}" for b in builds))
    figures["summary"]["precision"] = dict(zip(names, precisions, strict=True))
    figures["summary"]["candidates_per_s"] = dict(zip(names, speeds, strict=True))
    figures["summary"]["build_s"] = dict(zip(names, builds, strict=True))
    return figures


def show_samples(records: Sequence[Record], ours: Result, details: list[list], count: int) -> None:
    """Print up to ``count`` misses and false positives of ours, spread over families."""
    rng = random.Random(0)
    misses = [i for i, r in enumerate(records) if r.expected and not ours.hit(i, r)]
    false_pos = [i for i, r in enumerate(records) if r.expected is None and ours.hit(i, r)]
    for title, indexes in (("MISSES (ours)", misses), ("FALSE POSITIVES (ours)", false_pos)):
        print(f"\n{title}: {len(indexes)}")
        by_family: dict[str, list[int]] = defaultdict(list)
        for i in indexes:
            by_family[f"{records[i].kind}/{records[i].family}"].append(i)
        picked: list[int] = []
        pools = {f: rng.sample(ids, len(ids)) for f, ids in sorted(by_family.items())}
        while len(picked) < count and any(pools.values()):
            for pool in pools.values():
                if pool and len(picked) < count:
                    picked.append(pool.pop())
        for i in picked:
            r = records[i]
            why = "; ".join(f"{m.brand}: {m.rule} {m.explanation}" for m in details[i]) or "-"
            print(f"  [{r.kind}/{r.family}] {r.candidate!r} expected={r.expected} got={why}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="evaluate a random sample of N records")
    parser.add_argument("--show", type=int, default=20, help="samples of our misses and false positives")
    parser.add_argument("--peers", default="dnstwist,opensquat", help="comma list, or 'none'")
    parser.add_argument("--rebuild", action="store_true", help="regenerate the evaluation set")
    args = parser.parse_args(argv)

    records = load_evalset(rebuild=args.rebuild)
    if args.limit and args.limit < len(records):
        records = random.Random(1).sample(records, args.limit)
    peers = {p.strip() for p in args.peers.split(",")} - {"none", ""}
    print(f"{len(records)} records, {len(BRANDS)} brands; peers: {', '.join(sorted(peers)) or 'none'}")

    pool = None
    if "opensquat" in peers:
        pool = multiprocessing.get_context("spawn").Pool(1)
        pending = pool.apply_async(_opensquat_worker, ([(r.candidate, r.kind) for r in records],))
    results = []
    ours, details = run_ours(records)
    results.append(ours)
    if "dnstwist" in peers:
        results.append(run_dnstwist(records))
    if pool is not None:
        found, build_s, run_s = pending.get()
        pool.close()
        results.append(Result("opensquat", [set(f) for f in found], build_s, run_s))

    figures = report(records, results)
    figures["records"] = len(records)
    if args.show:
        show_samples(records, ours, details, args.show)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    (DATA_DIR / "quality.json").write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
