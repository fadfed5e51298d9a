"""Benchmark: deal-history import and funnel metrics against pm4py, polars and DuckDB.

Targets (issue "Deal history", section Performance), all measured in ONE run so the ratios
are same-run:

- XES import of BPI Challenge 2012: flowsim ``read_log`` >= 5x faster than ``pm4py.read_xes``;
- metrics on generated long logs of 200k deals (~800k rows) and 1M deals (~4M rows), CSV and
  Parquet: flowsim no slower than a hand-written polars query and a hand-written DuckDB query
  computing the same per-stage figures from the same loaded log, and >= 10x faster than
  pm4py (``format_dataframe`` + ``discover_performance_dfg``); peak memory < 4 GB each.

Each tool loads the file first (*load*: flowsim ``read_log`` with every row check; polars
``read_parquet``/``read_csv`` + ``str.to_datetime``; DuckDB ``CREATE TABLE AS``; pandas
``read_*``), then computes (*compute*). flowsim's *compute* is ``metrics(log,
survival=False)`` (every figure but the Kaplan–Meier curves, a superset of the baselines'),
and *full metrics* is ``metrics(log)`` on the same loaded log, timed separately.

Every case runs in its own subprocess (``--child``), which times only the measured part with
``time.perf_counter`` (imports excluded, reported apart) and reports its peak RSS
(``ru_maxrss``: the whole process, interpreter and imports included). Cases are repeated
round-robin ``--repeat`` times (default 1) and the median is shown. The baselines compute, per
stage, the same figures flowsim reports (entered = distinct deals, visits, time in stage
mean/median/p90 of a deal's *latest* visit, as ``StageMetrics.time_latest``) and every
transition's count and mean duration; the script asserts that all four tools agree on every
transition count, and flowsim/polars/DuckDB on the per-stage figures (pm4py on the mean
transition durations).

Run: ``.venv/bin/python bench/bench_history.py [--quick] [--repeat N] [--json PATH]``.
``--quick`` runs only the 200k-deal log (and the XES case). Needs the ``bench`` extra
(``pip install -e '.[bench]'``: duckdb, pm4py). Logs come from ``gen_deals.py`` (cached under
``/tmp/flowsim-bench``).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
XES = Path("/work/shared/data/bpic2012/bpic2012.xes.gz")
SIZES = (200_000, 1_000_000)
TOOLS = ("flowsim", "polars", "duckdb", "pm4py")
US_PER_HOUR = 3_600_000_000
TARGET_XES = 5.0
TARGET_PM4PY = 10.0
TARGET_RSS_MB = 4096
TARGET_WHOLE = 1.5  # `flowsim metrics --format json` as a process / the DuckDB child


# ---------------------------------------------------------------------------------------------
# the measured cases (run in a child process)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def case_flowsim(path: str) -> dict:
    from flowsim.history import read_log
    from flowsim.history.metrics import metrics

    t0 = time.perf_counter()
    log = read_log(path)
    t1 = time.perf_counter()
    m = metrics(log, survival=False)
    t2 = time.perf_counter()
    full = metrics(log)
    t3 = time.perf_counter()
    assert log.report.rows_read == log.report.rows_used, log.report.summary()
    assert full.stages == m.stages
    assert full.transitions == m.transitions
    stages = {
        name: {
            "entered": s.entered,
            "visits": s.visits,
            "dwell": [s.time_latest.n, s.time_latest.mean, s.time_latest.median, s.time_latest.p90],
        }
        for name, s in m.stages.items()
    }
    trans = {f"{t.source}->{t.target}": [t.count, t.mean_hours] for t in m.transitions}
    return {
        "load": t1 - t0,
        "compute": t2 - t1,
        "full": t3 - t2,
        "stages": stages,
        "transitions": trans,
    }


def _polars_figures(lf):  # type: ignore[no-untyped-def]
    """The hand-written polars query: one lazy plan per figure, collected together.

    Written for speed with polars' own tools: the deal's next record by a shift with a
    deal-boundary mask (``shift().over(deal)`` is 40x slower here), first and latest visit of a
    (deal, stage) by ``is_first/last_distinct`` on an integer key (deal run x stage code)
    instead of a group-by over two string columns.
    """
    import polars as pl

    same = pl.col("deal_id") == pl.col("deal_id").shift(-1)
    rec = (
        lf.sort("deal_id", "entered_at", maintain_order=True)
        .with_columns(
            pl.when(same).then(pl.col("stage").shift(-1)).alias("next_stage"),
            pl.when(same).then(pl.col("entered_at").shift(-1)).alias("next_at"),
            (pl.col("deal_id") != pl.col("deal_id").shift(1)).fill_null(True).cum_sum().alias("d"),
            pl.col("stage").cast(pl.Categorical).to_physical().alias("s"),
        )
        .with_columns(
            (
                (pl.coalesce("left_at", "next_at") - pl.col("entered_at")).dt.total_microseconds()
                / US_PER_HOUR
            ).alias("dwell"),
            (pl.col("d").cast(pl.UInt64) * 4096 + pl.col("s")).alias("key"),
        )
    )
    counts = rec.group_by("stage").agg(
        pl.col("key").is_first_distinct().sum().alias("entered"), pl.len().alias("visits")
    )
    dwell = (
        rec.filter(pl.col("key").is_last_distinct() & pl.col("dwell").is_not_null())
        .group_by("stage")
        .agg(
            pl.len().alias("n"),
            pl.col("dwell").mean().alias("mean"),
            pl.col("dwell").median().alias("median"),
            pl.col("dwell").quantile(0.9, "linear").alias("p90"),
        )
    )
    trans = (
        rec.filter(pl.col("next_stage").is_not_null())
        .group_by("stage", "next_stage")
        .agg(
            pl.len().alias("count"),
            ((pl.col("next_at") - pl.col("entered_at")).dt.total_microseconds() / US_PER_HOUR)
            .mean()
            .alias("mean_hours"),
        )
    )
    return pl.collect_all([counts, dwell, trans])


def case_polars(path: str) -> dict:
    import polars as pl

    t0 = time.perf_counter()
    if path.endswith(".parquet"):
        df = pl.read_parquet(path)
    else:
        fmt = "%Y-%m-%d %H:%M:%S"
        df = pl.read_csv(
            path, schema_overrides={"entered_at": pl.String, "left_at": pl.String}
        ).with_columns(
            # cache=False: times to the second are nearly all distinct, and polars parses
            # them 2x faster without its cache of parsed strings (flowsim does the same)
            pl.col("entered_at", "left_at").str.to_datetime(
                fmt, time_unit="us", time_zone="UTC", cache=False
            )
        )
    t1 = time.perf_counter()
    counts, dwell, trans = _polars_figures(df.lazy())
    t2 = time.perf_counter()
    d = {r["stage"]: r for r in dwell.iter_rows(named=True)}
    stages = {
        r["stage"]: {
            "entered": r["entered"],
            "visits": r["visits"],
            "dwell": [d[r["stage"]][k] for k in ("n", "mean", "median", "p90")]
            if r["stage"] in d
            else [0, None, None, None],
        }
        for r in counts.iter_rows(named=True)
    }
    transitions = {f"{a}->{b}": [c, h] for a, b, c, h in trans.iter_rows()}
    return {"load": t1 - t0, "compute": t2 - t1, "stages": stages, "transitions": transitions}


DUCKDB_SQL = """
CREATE TEMP TABLE rec AS
SELECT deal_id, stage, entered_at,
       lead(stage) OVER w AS next_stage,
       (epoch_us(lead(entered_at) OVER w) - epoch_us(entered_at)) / {h} AS next_hours,
       (epoch_us(coalesce(left_at, lead(entered_at) OVER w)) - epoch_us(entered_at)) / {h}
           AS dwell,
       row_number() OVER w AS pos
FROM {src}
WINDOW w AS (PARTITION BY deal_id ORDER BY entered_at);
"""
DUCKDB_COUNTS = "SELECT stage, count(DISTINCT deal_id), count(*) FROM rec GROUP BY stage"
DUCKDB_DWELL = """
SELECT stage, count(*), avg(dwell), median(dwell), quantile_cont(dwell, 0.9)
FROM (SELECT deal_id, stage, arg_max(dwell, pos) AS dwell FROM rec GROUP BY deal_id, stage)
WHERE dwell IS NOT NULL GROUP BY stage
"""
DUCKDB_TRANS = """
SELECT stage, next_stage, count(*), avg(next_hours) FROM rec
WHERE next_stage IS NOT NULL GROUP BY stage, next_stage
"""


def case_duckdb(path: str) -> dict:
    import duckdb

    con = duckdb.connect()
    t0 = time.perf_counter()
    if path.endswith(".parquet"):
        src = f"read_parquet('{path}')"
    else:
        src = f"read_csv('{path}', timestampformat='%Y-%m-%d %H:%M:%S')"
    con.execute(f"CREATE TEMP TABLE log AS SELECT * FROM {src}")
    t1 = time.perf_counter()
    con.execute(DUCKDB_SQL.format(src="log", h=US_PER_HOUR))
    counts = con.execute(DUCKDB_COUNTS).fetchall()
    dwell = con.execute(DUCKDB_DWELL).fetchall()
    trans = con.execute(DUCKDB_TRANS).fetchall()
    t2 = time.perf_counter()
    d = {r[0]: list(r[1:]) for r in dwell}
    stages = {
        s: {"entered": e, "visits": v, "dwell": d.get(s, [0, None, None, None])}
        for s, e, v in counts
    }
    transitions = {f"{a}->{b}": [c, h] for a, b, c, h in trans}
    return {"load": t1 - t0, "compute": t2 - t1, "stages": stages, "transitions": transitions}


def case_pm4py(path: str) -> dict:
    import pandas as pd
    import pm4py

    t0 = time.perf_counter()
    df = pd.read_parquet(path) if path.endswith(".parquet") else pd.read_csv(path)
    t1 = time.perf_counter()
    df = pm4py.format_dataframe(
        df, case_id="deal_id", activity_key="stage", timestamp_key="entered_at"
    )
    perf, _, _ = pm4py.discover_performance_dfg(df)
    t2 = time.perf_counter()
    # untimed: the transition counts, for the cross-check
    dfg, _, _ = pm4py.discover_dfg(df)
    transitions = {f"{a}->{b}": [int(dfg[(a, b)]), perf[(a, b)]["mean"] / 3600] for (a, b) in dfg}
    return {"load": t1 - t0, "compute": t2 - t1, "stages": {}, "transitions": transitions}


def case_xes_flowsim(path: str) -> dict:
    from flowsim.history import read_log

    t0 = time.perf_counter()
    log = read_log(path)
    t1 = time.perf_counter()
    return {
        "load": t1 - t0,
        "compute": 0.0,
        "cases": log.deals,
        "records": len(log),
        "rows_read": log.report.rows_read,
    }


def case_xes_pm4py(path: str) -> dict:
    import pm4py

    t0 = time.perf_counter()
    df = pm4py.read_xes(path)
    t1 = time.perf_counter()
    return {
        "load": t1 - t0,
        "compute": 0.0,
        "cases": int(df["case:concept:name"].nunique()),
        "records": len(df),
        "rows_read": len(df),
    }


CASES = {
    "flowsim": case_flowsim,
    "polars": case_polars,
    "duckdb": case_duckdb,
    "pm4py": case_pm4py,
    "xes-flowsim": case_xes_flowsim,
    "xes-pm4py": case_xes_pm4py,
}
IMPORTS = {
    "flowsim": "flowsim.history, flowsim.history.metrics",
    "polars": "polars",
    "duckdb": "duckdb",
    "pm4py": "pandas, pm4py",
    "xes-flowsim": "flowsim.history",
    "xes-pm4py": "pm4py",
}


def child(case: str, path: str, out: str) -> None:
    t0 = time.perf_counter()
    for name in IMPORTS[case].split(", "):
        __import__(name)
    imported = time.perf_counter() - t0
    result = CASES[case](path)
    result["import"] = imported
    result["rss_mb"] = _rss_mb()
    Path(out).write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------------------------------------
# the driver


def run_case(case: str, path: str) -> dict:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = tmp.name
    try:
        proc = subprocess.run(
            [sys.executable, __file__, "--child", case, "--input", path, "--out", out],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{case} on {path} failed:\n{proc.stderr[-3000:]}")
        result = json.loads(Path(out).read_text(encoding="utf-8"))
    finally:
        os.unlink(out)
    result["total"] = result["load"] + result["compute"]
    return result


def whole_process(path: str, repeat: int) -> str:
    """``flowsim metrics PATH --format json -o FILE`` against the DuckDB child, whole processes.

    Both are timed from the outside (wall clock of the subprocess: interpreter start,
    imports, load, compute, JSON written), alternating, ``repeat`` times; medians compared.
    """
    ours: list[float] = []
    theirs: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = (
            ([sys.executable, "-m", "flowsim.cli", "metrics", path, "--format", "json", "-q",
              "-o", f"{tmp}/m.json"], ours),
            ([sys.executable, __file__, "--child", "duckdb", "--input", path,
              "--out", f"{tmp}/d.json"], theirs),
        )  # fmt: skip
        for _ in range(repeat):
            for argv, times in runs:
                t0 = time.perf_counter()
                subprocess.run(argv, check=True, capture_output=True)
                times.append(time.perf_counter() - t0)
        size = Path(f"{tmp}/m.json").stat().st_size
    a, b = statistics.median(ours), statistics.median(theirs)
    return (
        f"whole process ({Path(path).name}): flowsim metrics --format json {a:.2f} s "
        f"({size / 1e6:.2f} MB JSON), DuckDB hand query {b:.2f} s: {a / b:.2f}x "
        f"[{_met(a / b <= TARGET_WHOLE)} target <= {TARGET_WHOLE}x]"
    )


def _close(a: float | None, b: float | None, tol: float = 1e-6) -> bool:
    if a is None or b is None:
        return a is b
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def cross_check(label: str, results: dict[str, dict]) -> list[str]:
    """Assert that every tool found the same transitions (and per-stage figures)."""
    ref = results["flowsim"]
    lines = []
    for tool, res in results.items():
        if tool == "flowsim":
            continue
        counts = {k: v[0] for k, v in res["transitions"].items()}
        want = {k: v[0] for k, v in ref["transitions"].items()}
        assert counts == want, f"{label}: {tool} transition counts differ: {counts} != {want}"
        for k, (_, hours) in res["transitions"].items():
            got = ref["transitions"][k][1]
            assert _close(hours, got), f"{label}: {tool} mean hours of {k}: {hours} != {got}"
        checked = "transition counts and mean durations"
        if res["stages"]:
            assert set(res["stages"]) == set(ref["stages"]), f"{label}: {tool} stages differ"
            for stage, fig in res["stages"].items():
                mine = ref["stages"][stage]
                assert fig["entered"] == mine["entered"], f"{label}: {tool} entered {stage}"
                assert fig["visits"] == mine["visits"], f"{label}: {tool} visits {stage}"
                assert fig["dwell"][0] == mine["dwell"][0], f"{label}: {tool} dwell n {stage}"
                for i, what in ((1, "mean"), (2, "median"), (3, "p90")):
                    assert _close(fig["dwell"][i], mine["dwell"][i]), (
                        f"{label}: {tool} dwell {what} of {stage}: "
                        f"{fig['dwell'][i]} != {mine['dwell'][i]}"
                    )
            checked += ", per-stage entered/visits/dwell n, mean, median, p90"
        lines.append(f"{label}: {tool} = flowsim on {len(counts)} {checked}")
    return lines


def median(samples: list[dict], key: str) -> float:
    return statistics.median(s[key] for s in samples)


def _met(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _row(label: str, case: str, samples: dict) -> tuple[str, list[str]]:
    """One table row and its verdicts. Ratios are the tool's time / flowsim's (> 1: faster).

    *compute ratio*: the tool's query on its loaded frame / flowsim's same figures
    (``metrics(log, survival=False)``) on the loaded DealLog; for pm4py, its format + performance
    DFG / flowsim's full ``metrics(log)``. *total ratio*: load + compute / load + same figures.
    """
    s = samples[(label, case)]
    load, compute, rss = median(s, "load"), median(s, "compute"), median(s, "rss_mb")
    total = load + compute
    full = median(s, "full") if "full" in s[0] else None
    verdicts = []
    if rss >= TARGET_RSS_MB:
        verdicts.append(f"{label} {case}: peak RSS {rss:,.0f} MB >= {TARGET_RSS_MB} MB")
    ref_case = "xes-flowsim" if label.startswith("BPIC") else "flowsim"
    ref = samples.get((label, ref_case))
    ratio = total_ratio = "–"
    if ref is not None and case != ref_case:
        r_load, r_compute = median(ref, "load"), median(ref, "compute")
        r_full = median(ref, "full") if "full" in ref[0] else r_compute
        if case == "xes-pm4py":
            sp = total / r_load
            total_ratio = f"{sp:.2f}x"
            verdicts.append(
                f"{label}: flowsim {sp:.2f}x faster than pm4py.read_xes "
                f"(target >= {TARGET_XES:.0f}x): {_met(sp >= TARGET_XES)}"
            )
        else:
            target = TARGET_PM4PY if case == "pm4py" else 1.0
            mine = r_full if case == "pm4py" else r_compute
            sp, sp_full = compute / mine, compute / r_full
            sp_total = total / (r_load + mine)
            ratio, total_ratio = f"{sp:.2f}x", f"{sp_total:.2f}x"
            what = "full metrics" if case == "pm4py" else "same figures"
            verdicts.append(
                f"{label}: flowsim {what} {sp:.2f}x faster than {case} (target >= "
                f"{target:.0f}x): {_met(sp >= target)}; full metrics {sp_full:.2f}x, "
                f"with load {sp_total:.2f}x"
            )
            if case == "pm4py":  # the measure: pm4py's DFG vs flowsim from the file
                sp_file = compute / (r_load + r_full)
                verdicts.append(
                    f"{label}: flowsim load + full metrics {sp_file:.2f}x faster than pm4py "
                    f"format + performance DFG (target >= {target:.0f}x): {_met(sp_file >= target)}"
                )
            else:
                verdicts.append(
                    f"{label}: flowsim load + same figures {sp_total:.2f}x faster than {case} "
                    f"load + query (target >= 1x): {_met(sp_total >= 1.0)}; load alone "
                    f"{load / r_load:.2f}x"
                )
    row = (
        f"| {label} | {case} | {load:.3f} | {compute:.3f} | "
        f"{'–' if full is None else f'{full:.3f}'} | {total:.3f} | {ratio} | {total_ratio} "
        f"| {rss:,.0f} | {median(s, 'import'):.2f} |"
    )
    return row, verdicts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="only the 200k-deal log (and XES)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per case, round-robin")
    ap.add_argument("--no-xes", action="store_true", help="skip the BPIC 2012 XES case")
    ap.add_argument("--xes-only", action="store_true", help="only the BPIC 2012 XES case")
    ap.add_argument("--tools", default=",".join(TOOLS), help="metrics tools to run")
    ap.add_argument("--json", type=Path, help="write every sample here")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--input", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.input, args.out)
        return

    sys.path.insert(0, str(HERE))
    from gen_deals import write

    tools = [t for t in args.tools.split(",") if t]
    sizes = [] if args.xes_only else SIZES[:1] if args.quick else SIZES
    plan: list[tuple[str, str, str]] = []  # (label, case, path)
    logs = {}
    for n in sizes:
        info = write(n)
        logs[n] = info
        for fmt in ("csv", "parquet"):
            for tool in tools:
                plan.append((f"{n // 1000}k {fmt}", tool, info[fmt]))
    if not args.no_xes:
        plan += [
            ("BPIC 2012 XES", "xes-flowsim", str(XES)),
            ("BPIC 2012 XES", "xes-pm4py", str(XES)),
        ]

    samples: dict[tuple[str, str], list[dict]] = {}
    t_start = time.perf_counter()
    for r in range(args.repeat):
        for label, case, path in plan:
            res = run_case(case, path)
            samples.setdefault((label, case), []).append(res)
            print(
                f"  run {r + 1}/{args.repeat} {label:>14} {case:<12} "
                f"{res['total']:7.3f} s  {res['rss_mb']:6.0f} MB",
                file=sys.stderr,
                flush=True,
            )
    wall = time.perf_counter() - t_start

    # cross-checks (on the first run of each case)
    checks: list[str] = []
    for label in dict.fromkeys(lbl for lbl, _, _ in plan if not lbl.startswith("BPIC")):
        res = {case: samples[(label, case)][0] for case in tools if (label, case) in samples}
        if "flowsim" in res:
            checks += cross_check(label, res)

    print(
        f"Run of {time.strftime('%Y-%m-%d')} (CPython {platform.python_version()}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs), --repeat {args.repeat}, "
        f"{wall:.0f} s wall.\n"
    )
    for n, info in logs.items():
        print(f"- {n:,} deals: {info['rows']:,} rows; {info['csv']} (+ .parquet)")
    print()
    print(
        "| log | tool | load s | compute s | full metrics s | load + compute s "
        "| compute ratio | total ratio | peak RSS MB | import s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    verdicts: list[str] = []
    for label in dict.fromkeys(lbl for lbl, _, _ in plan):
        for case in [c for lbl, c, _ in plan if lbl == label]:
            row, verdict = _row(label, case, samples)
            print(row)
            verdicts += verdict
    xes = {
        c: samples[("BPIC 2012 XES", c)][0]
        for c in ("xes-flowsim", "xes-pm4py")
        if ("BPIC 2012 XES", c) in samples
    }
    print()
    print("```text")
    for line in verdicts:
        print(line)
    for c, r in xes.items():
        print(f"{c}: {r['cases']:,} cases, {r['records']:,} records ({r['rows_read']:,} events)")
    for line in checks:
        print("cross-check ok: " + line)
    if "duckdb" in tools and sizes:
        print(whole_process(logs[sizes[0]]["parquet"], max(args.repeat, 3)))
    print("```")
    if args.json:
        args.json.write_text(
            json.dumps(
                {f"{lbl} | {c}": s for (lbl, c), s in samples.items()}, indent=1, default=str
            ),
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
