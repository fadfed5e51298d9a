"""Benchmark: parse + check + graph of generated processes with 10 .. 5,000 stages.

Target (issue "The flowsim language"): <= 0.5 s for 1,000 stages, near-linear growth.
Run: ``make bench`` (or ``.venv/bin/python bench/bench_language.py [--repeat N]``).
Imports are done before timing; each size is measured ``--repeat`` times (default 5). The
verdict uses the best (minimum) run, as ``timeit`` advises for CPU-bound code: on this shared
VM, noise only ever adds time (the same code measured 0.37 s and 0.60 s a minute apart), so
the minimum is the closest estimate of the code's cost. The median is printed beside it.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from importlib import resources
from pathlib import Path

from lark import Lark

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

import flowsim
from flowsim.dsl.syntax import parse_syntax

SIZES = (10, 100, 1_000, 5_000)
TARGET_1000 = 0.5


def stock_lark() -> Lark:
    """Baseline: Lark's stock LALR parser on the same grammar (contextual lexer, parse tree
    with positions) - what parsing costs without flowsim's lexer and loop."""
    grammar = resources.files("flowsim.dsl").joinpath("grammar.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", propagate_positions=True)


def measure(text: str) -> dict[str, float]:
    gc.collect()
    t0 = time.perf_counter()
    parse_syntax(text)
    t1 = time.perf_counter()
    result = flowsim.check_text(text, "bench.flow")
    t2 = time.perf_counter()
    assert result.process is not None, result.render()[:2000]
    assert result.ok, result.render()[:2000]
    graph = result.process.graph
    t3 = time.perf_counter()
    assert graph.number_of_nodes() > 0
    return {
        "syntax": t1 - t0,
        "parse_check": t2 - t1,
        "graph": t3 - t2,
        "total": (t2 - t1) + (t3 - t2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    flowsim.check_text(generate(5))  # warm up: imports, grammar tables
    stock = stock_lark()
    rows = []
    for n in SIZES:
        text = generate(n)
        runs = [measure(text) for _ in range(args.repeat)]
        for r in runs:
            gc.collect()
            t0 = time.perf_counter()
            stock.parse(text)
            r["stock_lark"] = time.perf_counter() - t0
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        best = min(r["total"] for r in runs)
        rows.append(
            {
                "stages": n,
                "bytes": len(text.encode()),
                "lines": text.count("\n"),
                **med,
                "best_total": best,
            }
        )
    print(f"python {platform.python_version()}, {platform.machine()}, repeat={args.repeat}")
    print(
        "| stages | lines | flowsim syntax s | stock Lark parse s | speed-up | "
        "parse+build+check s | graph s | total s | best total s | ms/stage |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['stages']:,} | {r['lines']:,} | {r['syntax']:.3f} | {r['stock_lark']:.3f} | "
            f"{r['stock_lark'] / r['syntax']:.1f}x | {r['parse_check']:.3f} | "
            f"{r['graph']:.3f} | {r['total']:.3f} | {r['best_total']:.3f} | "
            f"{1000 * r['total'] / r['stages']:.3f} |"
        )
    by = {r["stages"]: r for r in rows}
    growth = (by[5_000]["total"] / by[1_000]["total"]) / 5
    best = by[1_000]["best_total"]
    print(
        f"\n1,000 stages: best {best:.3f} s = {best / TARGET_1000:.2f} x the 0.5 s target "
        f"(median {by[1_000]['total']:.3f} s)"
    )
    best_growth = (by[5_000]["best_total"] / best) / 5
    print(
        f"growth 1,000 -> 5,000 stages: {best_growth:.2f} x linear on best runs "
        f"({growth:.2f} on medians; 1.00 = perfectly linear)"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
