"""The KPIs of one replication, computed from its arrays (vectorised, no loop per deal).

The statistics window is ``[warmup, end]``. Counts and money are *period* figures, the way a
sales report reads: deals won or lost inside the window, revenue of the deals won inside it.
Times are *cohort* figures: cycle times of deals that arrived after the warm-up and closed
inside the window, so the empty system the run starts from does not shorten them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from flowsim.sim.engine import VISIT_COLUMNS, Run

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

_C = {name: i for i, name in enumerate(VISIT_COLUMNS)}


def _q(values: np.ndarray, q: float) -> Value:
    return float(np.quantile(values, q)) if values.size else None


def _m(values: np.ndarray) -> Value:
    return float(values.mean()) if values.size else None


def kpis(run: Run) -> Kpis:
    """``{"process": {...}, "stages": {stage: {...}}, "roles": {role: {...}}}`` of one run."""
    lo, hi = run.warmup, run.end
    span = max(hi - lo, 1e-12)
    weeks = span / 168
    finished = ~np.isnan(run.finish)
    in_window = finished & (run.finish >= lo) & (run.finish <= hi)
    won_idx = [i for i, r in run.results.items() if r == "won"]
    lost_idx = [i for i, r in run.results.items() if r == "lost"]
    won = in_window & np.isin(run.outcome, won_idx)
    lost = in_window & np.isin(run.outcome, lost_idx)
    n_won, n_lost = int(won.sum()), int(lost.sum())
    has_amount = bool(np.isfinite(run.amount).any())
    open_end = (run.arrival <= hi) & (~finished | (run.finish > hi))
    cohort = in_window & (run.arrival >= lo)
    cycle = (run.finish - run.arrival) / 24
    out: dict[str, Value] = {
        "arrived": float(((run.arrival >= lo) & (run.arrival <= hi)).sum()),
        "won": float(n_won),
        "lost": float(n_lost),
        "open_at_end": float(open_end.sum()),
        "win_rate": n_won / (n_won + n_lost) if n_won + n_lost else None,
        "revenue": float(np.nansum(run.amount[won])) if has_amount else None,
        "pipeline_value": float(np.nansum(run.amount[open_end])) if has_amount else None,
        "won_per_week": n_won / weeks,
        "closed_per_week": (n_won + n_lost) / weeks,
        "wip_mean": _wip_mean(run, lo, hi) / span,
    }
    for prefix, mask in (("", cohort), ("won_", cohort & won), ("lost_", cohort & lost)):
        c = cycle[mask]
        out[f"{prefix}cycle_days_mean"] = _m(c)
        out[f"{prefix}cycle_days_p50"] = _q(c, 0.5)
        out[f"{prefix}cycle_days_p90"] = _q(c, 0.9)
    return {
        "process": out,
        "stages": _stages(run, lo, hi, cohort),
        "roles": _roles(run, span),
        "edges": _edges(run, lo, hi),
    }


def _edges(run: Run, lo: float, hi: float) -> dict[str, float]:
    """Moves along each transition, ``"source->target"``, of stays that ended in the window."""
    v = run.visits
    if not len(v):
        return {}
    deal = v[:, _C["deal"]].astype(np.int64)
    left = v[:, _C["left"]]
    order = np.lexsort((v[:, _C["entered"]], deal))
    deal, node, left = deal[order], v[order, _C["node"]].astype(np.int64), left[order]
    same = np.append(deal[1:] == deal[:-1], False)
    nxt = np.where(same, np.append(node[1:], -1), run.outcome[deal])
    ok = ~np.isnan(left) & (left >= lo) & (left <= hi) & (nxt >= 0)
    pairs = node[ok] * len(run.nodes) + nxt[ok]
    keys, counts = np.unique(pairs, return_counts=True)
    n = len(run.nodes)
    return {
        f"{run.nodes[k // n]}->{run.nodes[k % n]}": float(c)
        for k, c in zip(keys.tolist(), counts.tolist(), strict=True)
    }


def _wip_mean(run: Run, lo: float, hi: float) -> float:
    """∫ WIP dt over the window: the sum of each deal's time in flight inside it."""
    end = np.where(np.isnan(run.finish), hi, run.finish)
    overlap = np.minimum(end, hi) - np.maximum(run.arrival, lo)
    return float(np.clip(overlap, 0, None).sum())


def _stages(run: Run, lo: float, hi: float, cohort: np.ndarray) -> dict[str, dict[str, Value]]:
    v = run.visits
    node = v[:, _C["node"]].astype(np.int64)
    entered = v[:, _C["entered"]]
    left = v[:, _C["left"]]
    began = (entered >= lo) & (entered <= hi)
    done = began & ~np.isnan(left) & (left <= hi)
    out: dict[str, dict[str, Value]] = {}
    n_stages = len(run.nodes) - len(run.outcomes)
    # The time composition of closed deals (the same cohort as the cycle time), so that the
    # stages' shares of the cycle time add up to at most 100%.
    n_cohort = int(cohort.sum())
    mine = cohort[v[:, _C["deal"]].astype(np.int64)] if len(v) else np.zeros(0, dtype=bool)
    stays = np.where(mine, left - entered, 0.0)
    queued = np.where(mine, v[:, _C["queue"]], 0.0)
    per_deal = np.bincount(node, weights=stays, minlength=n_stages)
    queue_per_deal = np.bincount(node, weights=queued, minlength=n_stages)
    for i in range(n_stages):
        here = node == i
        d = done & here
        rows = v[d]
        stay = rows[:, _C["left"]] - rows[:, _C["entered"]]
        out[run.nodes[i]] = {
            "entered": float((began & here).sum()),
            "completed": float(d.sum()),
            "queue_hours": _m(rows[:, _C["queue"]]),
            "effort_hours": _m(rows[:, _C["effort"]]),
            "off_calendar_hours": _m(rows[:, _C["off_calendar"]]),
            "customer_wait_hours": _m(rows[:, _C["wait"]]),
            "time_in_stage_hours": _m(stay),
            "time_in_stage_p90_hours": _q(stay, 0.9),
            "hours_per_closed_deal": float(per_deal[i]) / n_cohort if n_cohort else None,
            "queue_hours_per_closed_deal": (
                float(queue_per_deal[i]) / n_cohort if n_cohort else None
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
