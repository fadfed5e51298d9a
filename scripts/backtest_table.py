"""The rolling-backtest tables of docs/forecast.md, from the shared real exports.

Usage: ``python scripts/backtest_table.py maven|olist [REPLICATIONS] [CUTOFF ...]
[--simulation]``. The Monte Carlo's bands hold parameter uncertainty (bootstrap refits);
``--simulation`` runs the model as fitted, for comparison.
Prints Markdown: per cutoff the wins' 90-day error, weekly MAPE, weekly coverage and CRPS of
every method, then the summary over cutoffs; the wall and CPU time go to stderr. The model
is re-discovered before each cutoff (``flowsim.rolling_backtest(None, ...)``), seed 0.
"""

from __future__ import annotations

import resource
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import flowsim
from flowsim.sim.forecast_text import NAMES
from flowsim.sim.rolling import RollingBacktest

ROOT = Path(__file__).resolve().parent.parent
#: (file under the shared data folder, read_log options, default cutoffs)
DATASETS = {
    "maven": (
        "maven-crm-sales-opportunities/sales_pipeline.csv",
        {},
        ["2017-06-01", "2017-07-01", "2017-08-01", "2017-09-01"],
    ),
    "olist": (
        "olist-marketing-funnel/olist_marketing_qualified_leads_dataset.csv",
        {"lenient": True},
        [f"2018-{m:02d}-01" for m in range(1, 9)],
    ),
}


def _data() -> Path:
    for candidate in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    raise SystemExit("the shared data folder is missing")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _share(x: float | None, n: int) -> str:
    return "—" if x is None else f"{round(x * n)}/{n}"


def per_cutoff(r: RollingBacktest) -> list[str]:
    """Wins: 90-day APE / weekly MAPE / weekly P10–P90 and P25–P75 / weekly CRPS per method."""
    out = [
        "| as of | actual wins | method | 90-day error | weekly MAPE | in P10–P90 | in P25–P75 "
        "| weekly CRPS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for b in r.backtests:
        for s in (x for x in b.scores if (x.measure, x.view) == ("wins", "week")):
            total = b.score(s.method, "wins", "total")
            crps = "—" if s.crps is None else f"{s.crps:.1f}"
            out.append(
                f"| {b.as_of[:10]} | {b.actual_total.wins:,.0f} | {NAMES[s.method]} "
                f"| {_pct(total.mape)} | {_pct(s.mape)} | {_share(s.coverage, s.periods)} "
                f"| {_share(s.coverage_50, s.periods)} | {crps} |"
            )
    return out


def summary(r: RollingBacktest) -> list[str]:
    """Wins per week and over the horizon: means over cutoffs, pooled coverage, MC's share."""
    out = [
        "| wins | method | mean MAPE | mean CRPS | in P10–P90 | in P25–P75 | MC ≤ it (MAPE) "
        "| MC ≤ it (CRPS) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for view in ("week", "total"):
        for s in (x for x in r.summary if (x.measure, x.view) == ("wins", view)):
            crps = "—" if s.crps is None else f"{s.crps:.1f}"
            out.append(
                f"| {'weekly' if view == 'week' else '90-day total'} | {NAMES[s.method]} "
                f"| {_pct(s.mape)} | {crps} | {_pct(s.coverage)} | {_pct(s.coverage_50)} "
                f"| {_pct(s.mc_mape_wins)} | {_pct(s.mc_crps_wins)} |"
            )
    pit = [s for s in r.summary if (s.measure, s.view) == ("wins", "week") and s.pit_histogram]
    out += ["", "| PIT of weekly wins (10 bins) | " + " | ".join(str(i) for i in range(10)) + " |"]
    out.append("|---|" + "---|" * 10)
    out += [f"| {NAMES[s.method]} | " + " | ".join(map(str, s.pit_histogram)) + " |" for s in pit]
    return out


def split(r: RollingBacktest) -> list[str]:
    """Wins by source per cutoff: open pipeline and new deals, actual against the Monte
    Carlo's part (and the weighted pipeline against the open pipeline), then the summary."""
    out = [
        "| as of | open pipeline: actual | Monte Carlo P50 [P10–P90] | weighted pipeline "
        "| new deals: actual | Monte Carlo P50 [P10–P90] |",
        "|---|---|---|---|---|---|",
    ]
    for b in r.backtests:
        f = b.forecast.split
        if f is None:
            continue
        old, new = f.existing.wins, f.new.wins
        out.append(
            f"| {b.as_of[:10]} | {b.actual('existing').total.wins:,.0f} "
            f"| {old.p50:,.0f} [{old.p10:,.0f}–{old.p90:,.0f}] "
            f"| {b.forecast.weighted.wins.mean:,.0f} | {b.actual('new').total.wins:,.0f} "
            f"| {new.p50:,.0f} [{new.p10:,.0f}–{new.p90:,.0f}] |"
        )
    out += [
        "",
        "| wins by source | method | mean MAPE | mean CRPS | in P10–P90 | in P25–P75 |",
        "|---|---|---|---|---|---|",
    ]
    for view in ("week", "total"):
        for s in (x for x in r.split_summary if (x.measure, x.view) == ("wins", view)):
            part = "open pipeline" if s.part == "existing" else "new deals"
            crps = "—" if s.crps is None else f"{s.crps:.1f}"
            out.append(
                f"| {part}, {'weekly' if view == 'week' else '90-day total'} "
                f"| {NAMES[s.method]} | {_pct(s.mape)} | {crps} | {_pct(s.coverage)} "
                f"| {_pct(s.coverage_50)} |"
            )
    return out


def main(argv: list[str]) -> None:
    simulation = "--simulation" in argv
    argv = [a for a in argv if a != "--simulation"]
    name = argv[1] if len(argv) > 1 else "maven"
    path, options, default = DATASETS[name]
    replications = int(argv[2]) if len(argv) > 2 else 200
    dates = argv[3:] or default
    log = flowsim.read_log(_data() / path, **options)
    cutoffs = [datetime.fromisoformat(d).replace(tzinfo=UTC) for d in dates]
    wall = time.perf_counter()
    r = flowsim.rolling_backtest(
        None,
        log,
        cutoffs,
        horizon_hours="90d",
        replications=replications,
        seed=0,
        uncertainty="simulation" if simulation else "parameters",
    )
    wall = time.perf_counter() - wall
    cpu = sum(
        getattr(resource.getrusage(who), f)
        for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
        for f in ("ru_utime", "ru_stime")
    )
    bands = "simulation noise only" if simulation else "parameter + simulation uncertainty"
    print(f"Monte Carlo bands: {bands}.\n")
    print("\n".join([*per_cutoff(r), "", *summary(r), "", *split(r)]))
    for s in r.skipped:
        print(f"\nSkipped {s.as_of[:10]}: {s.reason}")
    print(
        f"{len(cutoffs)} cutoffs, {replications} replications: {wall:.0f} s wall, {cpu:.0f} CPU-s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main(sys.argv)
