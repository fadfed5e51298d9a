"""Benchmark: render time of generated processes with 10 .. 500 stages.

Target (issue "Render"): flowsim's own share of the flowchart's render time must stay under
20% of the total at 200 stages; the rest is Graphviz.
Run: ``.venv/bin/python bench/bench_render.py [--repeat N] [--json PATH]``.

The flowchart (SVG) runs Graphviz twice: a sizing pass (``dot -Tjson0``) and a pinned pass
(``neato -n2 -Tsvg``), both through :func:`flowsim.render.graphviz.run_dot`. The benchmark
wraps that function where ``flowsim/render/flowchart.py`` calls it and times every call: *dot*
is the time inside it (the subprocess, its pipes and process start-up), *flowsim* is the rest
of the render (DOT generation twice, reading the sizing JSON, stacking the lanes). The journey
map (SVG) and the Mermaid export of the flowchart are pure flowsim and timed whole.

Processes come from ``bench/generate.py`` and are parsed and checked before timing; built-in
words are Chinese (``lang="zh"``, what the CLI picks for these processes). Each size is
measured ``--repeat`` times (default 5) after a warm-up render of every kind, and the median is
reported. The flowsim share is computed per run (same-run ratio) and its median reported.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from generate import generate

import flowsim
from flowsim.model import Process
from flowsim.render import flowchart as flowchart_module
from flowsim.render.graphviz import dot_version

SIZES = (10, 50, 200, 500)
TARGET_STAGES = 200
TARGET_SHARE = 0.20
LANG = "zh"


class DotTimer:
    """Accumulates the wall time spent inside ``run_dot``, per output format."""

    def __init__(self, inner: Callable[..., bytes]) -> None:
        self.inner = inner
        self.seconds: dict[str, float] = {}

    def __call__(self, source: str, fmt: str, *, pinned: bool = False) -> bytes:
        t0 = time.perf_counter()
        try:
            return self.inner(source, fmt, pinned=pinned)
        finally:
            key = f"{fmt}{' pinned' if pinned else ''}"
            self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - t0

    def reset(self) -> None:
        self.seconds = {}

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


@contextmanager
def timed_dot() -> Iterator[DotTimer]:
    """``flowsim.render.flowchart.run_dot`` replaced by a timing wrapper, restored after."""
    original = flowchart_module.run_dot
    timer = DotTimer(original)
    flowchart_module.run_dot = timer  # type: ignore[assignment]
    try:
        yield timer
    finally:
        flowchart_module.run_dot = original


def timed(fn: Callable[[], bytes]) -> tuple[float, bytes]:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def measure(process: Process, timer: DotTimer) -> dict[str, float]:
    timer.reset()
    total, svg = timed(lambda: flowsim.render(process, format="svg", lang=LANG))
    assert svg.lstrip().startswith(b"<"), svg[:200]
    dot = timer.total
    sizing = timer.seconds.get("json0", 0.0)
    journey, jsvg = timed(lambda: flowsim.render(process, view="journey", lang=LANG))
    assert b"<svg" in jsvg[:400]
    mermaid, mmd = timed(lambda: flowsim.render(process, format="mermaid", lang=LANG))
    assert b"flowchart LR" in mmd
    return {
        "total": total,
        "dot": dot,
        "dot_sizing": sizing,
        "dot_pinned": dot - sizing,
        "flowsim": total - dot,
        "share": (total - dot) / total,
        "journey": journey,
        "mermaid": mermaid,
        "svg_bytes": float(len(svg)),
    }


def load(n: int) -> Process:
    result = flowsim.check_text(generate(n), f"generated-{n}.flow")
    assert result.process is not None, result.render()[:2000]
    assert result.ok, result.render()[:2000]
    return result.process


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    rows: list[dict[str, Any]] = []
    with timed_dot() as timer:
        measure(load(10), timer)  # warm-up: imports, fonts, the dot binary in the page cache
        for n in SIZES:
            process = load(n)
            runs = [measure(process, timer) for _ in range(args.repeat)]
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            rows.append(
                {
                    "stages": n,
                    "edges": len(process.transitions),
                    **med,
                    "share_min": min(r["share"] for r in runs),
                    "share_max": max(r["share"] for r in runs),
                }
            )
    print(
        f"python {platform.python_version()}, {platform.machine()}, "
        f"graphviz {dot_version()}, repeat={args.repeat}"
    )
    print(
        "| stages | total s | dot s | flowsim s | flowsim share % | journey s | mermaid s |\n"
        "|---:|---:|---:|---:|---:|---:|---:|"
    )
    for r in rows:
        print(
            f"| {r['stages']:,} | {r['total']:.3f} | {r['dot']:.3f} | {r['flowsim']:.3f} | "
            f"{100 * r['share']:.1f} | {r['journey']:.3f} | {r['mermaid']:.3f} |"
        )
    at = next(r for r in rows if r["stages"] == TARGET_STAGES)
    print(
        f"\nflowsim share at {TARGET_STAGES} stages: {100 * at['share']:.1f}% "
        f"(target < {100 * TARGET_SHARE:.0f}%; runs {100 * at['share_min']:.1f}-"
        f"{100 * at['share_max']:.1f}%) = {at['share'] / TARGET_SHARE:.2f} x the limit"
    )
    print(
        f"dot at {TARGET_STAGES} stages: sizing pass {at['dot_sizing']:.3f} s, "
        f"pinned pass {at['dot_pinned']:.3f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
