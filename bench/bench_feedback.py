"""Benchmark: a 100k-answer customer-feedback file imported and summarised (issue 18).

Target: ``read_feedback`` + ``measure_journey`` of a 100,000-answer CSV in ≤ 2 s. Reported
beside a plain polars read of the same file (``pl.read_csv``, every column inferred: no
checks, no mapping) measured in the same run, as a ratio, per bench/README.md. The complaint
themes (``pain_points``, jieba) are timed apart, with jieba's one-time dictionary load in a
separate column (it is paid once per process).

The file is ``scripts/make_feedback.py --responses 100000`` (seed 18: the bundled example's
assumptions, visits drawn with replacement), cached under ``/tmp/flowsim-bench``.

Run: ``.venv/bin/python bench/bench_feedback.py [--repeat N] [--responses N]``.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

import flowsim

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path("/tmp/flowsim-bench")
TARGET_S = 2.0


def _file(responses: int) -> Path:
    path = CACHE / f"feedback-{responses}.csv"
    if not path.exists():
        script = ROOT / "scripts" / "make_feedback.py"
        cmd = [sys.executable, str(script), "--responses", str(responses), "--out", str(path)]
        subprocess.run(cmd, check=True)
    return path


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    """Measure and print one table row per case (median of ``--repeat`` runs)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--responses", type=int, default=100_000)
    args = parser.parse_args()
    path = _file(args.responses)
    process = flowsim.load(ROOT / "examples" / "b2b-cn.flow")
    fb = flowsim.read_feedback(path)
    load_jieba = _timed(lambda: flowsim.pain_points(fb, process))  # jieba's dictionary, once
    polars_s, read_s, measure_s, themes_s = [], [], [], []
    for _ in range(args.repeat):
        polars_s.append(_timed(lambda: pl.read_csv(path, comment_prefix="#")))
        start = time.perf_counter()
        fb = flowsim.read_feedback(path)
        read_s.append(time.perf_counter() - start)
        measure_s.append(_timed(lambda fb=fb: flowsim.measure_journey(fb, process)))
        themes_s.append(_timed(lambda fb=fb: flowsim.pain_points(fb, process)))
    med = statistics.median
    total = med([r + m for r, m in zip(read_s, measure_s, strict=True)])
    print(f"{args.responses:,} answers, {path.stat().st_size / 1e6:.1f} MB, --repeat {args.repeat}")
    print(
        "| polars read s | read_feedback s | measure_journey s | import+summary s | ratio to "
        "polars | target | pain_points s | first pain_points (jieba load) s |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(
        f"| {med(polars_s):.3f} | {med(read_s):.3f} | {med(measure_s):.3f} | {total:.3f} | "
        f"{total / med(polars_s):.1f}x | {'met' if total <= TARGET_S else 'MISSED'} "
        f"(≤ {TARGET_S:g} s) | {med(themes_s):.3f} | {load_jieba:.3f} |"
    )


if __name__ == "__main__":
    main()
