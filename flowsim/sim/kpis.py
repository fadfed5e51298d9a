"""The KPIs of one replication, computed from its arrays (vectorised, no loop per deal).

The statistics window is ``[warmup, end]``. Counts and money are *period* figures, the way a
sales report reads: deals won or lost inside the window, revenue of the deals won inside it.
Times are *cohort* figures: cycle times of deals that arrived after the warm-up and closed
inside the window, so the empty system the run starts from does not shorten them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowsim.sim.engine import Run
from flowsim.sim.tally import Deals, Tally, Window, tally

__all__ = ["PROCESS_KPIS", "ROLE_KPIS", "STAGE_KPIS", "Kpis", "kpis"]

Value = float | None
Kpis = dict[str, Any]

#: process-level KPIs: name → (unit, meaning)
PROCESS_KPIS: dict[str, tuple[str, str]] = {
    "arrived": ("deals", "deals that entered inside the window"),
    "won": ("deals", "deals won inside the window"),
    "lost": ("deals", "deals lost inside the window"),
    "open_at_end": ("deals", "deals in flight at the end"),
    "win_rate": ("share", "won / (won + lost), deals closed inside the window"),
    "revenue": ("money", "amounts of the deals won inside the window"),
    "pipeline_value": ("money", "amounts of the deals in flight at the end"),
    "won_per_week": ("deals/week", "deals won per week of the window"),
    "closed_per_week": ("deals/week", "deals won or lost per week of the window"),
    "wip_mean": ("deals", "mean number of deals in flight over the window"),
    "cycle_days_mean": ("days", "first entry to outcome, deals closed in the window"),
    "cycle_days_p50": ("days", "median cycle time"),
    "cycle_days_p90": ("days", "90th percentile of cycle time"),
    "won_cycle_days_mean": ("days", "mean cycle time of won deals"),
    "won_cycle_days_p50": ("days", "median cycle time of won deals"),
    "won_cycle_days_p90": ("days", "90th percentile cycle time of won deals"),
    "lost_cycle_days_mean": ("days", "mean cycle time of lost deals"),
    "lost_cycle_days_p50": ("days", "median cycle time of lost deals"),
    "lost_cycle_days_p90": ("days", "90th percentile cycle time of lost deals"),
}

#: per-stage KPIs (completed stays that entered inside the window; hours)
STAGE_KPIS: dict[str, tuple[str, str]] = {
    "entered": ("stays", "stays begun inside the window"),
    "completed": ("stays", "of those, stays finished by the end"),
    "queue_hours": ("hours", "mean wait for a free person of the owner role"),
    "effort_hours": ("hours", "mean working time"),
    "off_calendar_hours": ("hours", "mean time the work span lay outside working hours"),
    "customer_wait_hours": ("hours", "mean customer-side wait (nobody held)"),
    "time_in_stage_hours": ("hours", "mean entry to exit"),
    "time_in_stage_p90_hours": ("hours", "90th percentile entry to exit"),
    "hours_per_closed_deal": (
        "hours",
        "time a closed deal of the cohort spent in the stage, all its stays, per deal",
    ),
    "queue_hours_per_closed_deal": ("hours", "of that, queueing for the owner role"),
}

#: per-role KPIs over the window
ROLE_KPIS: dict[str, tuple[str, str]] = {
    "utilization": ("share", "effort hours worked / person-hours on calendar"),
    "busy_hours": ("hours", "effort hours worked"),
    "available_hours": ("hours", "person-hours on the working calendar"),
    "queue_mean": ("deals", "mean number of deals waiting for this role"),
    "queue_max": ("deals", "longest queue"),
}

#: the stage KPIs that are means of STAY_MEASURES, in that order
_MEAN_KPIS = ("queue_hours", "effort_hours", "off_calendar_hours", "customer_wait_hours")


def kpis(run: Run) -> Kpis:
    """``{"process": {...}, "stages": {stage: {...}}, "roles": {role: {...}}}`` of one run.

    From the tally of the deals the run kept, merged with the tally of those it folded away
    (a long run's, see :mod:`flowsim.sim.tally`).
    """
    lo, hi = run.warmup, run.end
    span = max(hi - lo, 1e-12)
    window = Window(
        lo,
        hi,
        len(run.nodes),
        len(run.nodes) - len(run.outcomes),
        tuple(i for i, r in run.results.items() if r == "won"),
        tuple(i for i, r in run.results.items() if r == "lost"),
    )
    keys = np.arange(run.arrival.size) if run.keys is None else run.keys
    kept = Deals(keys, run.arrival, run.finish, run.outcome, run.amount, run.visits)
    t = tally(kept, window)
    if run.folded is not None:
        t = run.folded.merge(t)
    return {
        "process": _process(t, span),
        "stages": _stages(t, run.nodes[: window.n_stages]),
        "roles": _roles(run, span),
        "edges": _edges(t, run.nodes),
    }


def _process(t: Tally, span: float) -> dict[str, Value]:
    weeks = span / 168
    closed = t.won + t.lost
    out: dict[str, Value] = {
        "arrived": float(t.arrived),
        "won": float(t.won),
        "lost": float(t.lost),
        "open_at_end": float(t.open_at_end),
        "win_rate": t.won / closed if closed else None,
        "revenue": t.revenue if t.has_amount else None,
        "pipeline_value": t.pipeline if t.has_amount else None,
        "won_per_week": t.won / weeks,
        "closed_per_week": closed / weeks,
        "wip_mean": t.wip_hours / span,
    }
    for prefix, sample in t.cycles.items():
        out[f"{prefix}cycle_days_mean"] = sample.mean()
        out[f"{prefix}cycle_days_p50"] = sample.quantile(0.5)
        out[f"{prefix}cycle_days_p90"] = sample.quantile(0.9)
    return out


def _edges(t: Tally, nodes: tuple[str, ...]) -> dict[str, float]:
    """Moves along each transition, ``"source->target"``, of stays that ended in the window."""
    n = len(nodes)
    return {f"{nodes[k // n]}->{nodes[k % n]}": float(c) for k, c in t.edges.items()}


def _stages(t: Tally, stages: tuple[str, ...]) -> dict[str, dict[str, Value]]:
    p = t.stages
    out: dict[str, dict[str, Value]] = {}
    for i, name in enumerate(stages):
        done = int(p.completed[i])
        means = {
            kpi: float(p.stay_sums[i, m]) / done if done else None
            for m, kpi in enumerate(_MEAN_KPIS)
        }
        out[name] = {
            "entered": float(p.entered[i]),
            "completed": float(done),
            **means,
            "time_in_stage_hours": p.stays[i].mean(),
            "time_in_stage_p90_hours": p.stays[i].quantile(0.9),
            "hours_per_closed_deal": float(p.hours_per_deal[i]) / t.cohort if t.cohort else None,
            "queue_hours_per_closed_deal": (
                float(p.queue_per_deal[i]) / t.cohort if t.cohort else None
            ),
        }
    return out


def _roles(run: Run, span: float) -> dict[str, dict[str, Value]]:
    out: dict[str, dict[str, Value]] = {}
    for r, role in enumerate(run.roles):
        avail = float(run.available[r])
        out[role] = {
            "utilization": float(run.busy[r]) / avail if avail > 0 else None,
            "busy_hours": float(run.busy[r]),
            "available_hours": avail,
            "queue_mean": float(run.queue_area[r]) / span,
            "queue_max": float(run.max_queue[r]),
        }
    return out


def _markdown() -> str:
    """The KPI definitions as a Markdown table (docs/simulation.md is built from this)."""
    rows = ["| level | KPI | unit | definition |", "|---|---|---|---|"]
    for level, table in (("process", PROCESS_KPIS), ("stage", STAGE_KPIS), ("role", ROLE_KPIS)):
        rows += [f"| {level} | `{k}` | {u} | {d} |" for k, (u, d) in table.items()]
    return "\n".join(rows)


if __name__ == "__main__":  # pragma: no cover - used by scripts/build_docs.py
    print(_markdown())
