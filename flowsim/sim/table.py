"""A simulation result as terminal text: KPIs with intervals, scenario deltas, warnings."""

from __future__ import annotations

from flowsim.sim.bottlenecks import BottleneckReport
from flowsim.sim.kpis import PROCESS_KPIS
from flowsim.sim.result import SimulationResult
from flowsim.sim.stats import Estimate

__all__ = ["bottleneck_table", "result_table"]

#: the KPIs the terminal table shows, in order (JSON has them all)
SHOWN = (
    "arrived",
    "won",
    "lost",
    "open_at_end",
    "win_rate",
    "revenue",
    "won_per_week",
    "wip_mean",
    "cycle_days_mean",
    "cycle_days_p90",
    "won_cycle_days_mean",
)


def _fmt(e: Estimate, share: bool = False) -> str:
    if e.mean is None:
        return "n/a"
    if share:
        text = f"{e.mean:.1%}"
        if e.half_width is not None:
            text += f" ± {e.half_width * 100:.1f}pt"
        return text
    text = f"{e.mean:,.1f}" if abs(e.mean) < 1e6 else f"{e.mean:,.0f}"
    if e.half_width is not None:
        text += f" ± {e.half_width:,.1f}"
    return text


def _delta(e: Estimate, share: bool = False, fine: bool = False) -> str:
    """A paired delta with its CI; ``fine``: a delta whose figures would all read ±0.0 (a
    replay's what-if moving the cycle by minutes) keeps 2 significant digits."""
    if e.mean is None:
        return ""
    scale, unit = (100, "pt") if share else (1, "")
    values = [x * scale for x in (e.mean, e.low, e.high) if x is not None]
    tiny = fine and any(values) and all(abs(v) < 0.05 for v in values)

    def num(x: float) -> str:
        v = x * scale
        return f"{v:+.2g}" if tiny else f"{v:+,.1f}"

    text = f"{num(e.mean)}{unit}"
    if e.low is not None and e.high is not None:
        text += f" [{num(e.low)}, {num(e.high)}]"
    return text + (" *" if e.significant else "")


def _grid(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [row[0].ljust(widths[0])] + [
            c.rjust(w) for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def result_table(result: SimulationResult, verdict: str | None = None) -> str:
    """The terminal report of :func:`flowsim.simulate`, the fidelity ``verdict`` first."""
    out: list[str] = [verdict, ""] if verdict else []
    horizon = result.horizon_hours / 24
    head = (
        f"{result.process}: {result.mode} simulation, {result.replications} replications, "
        f"seed {result.seed}, {horizon:g} days from {result.epoch[:10]}"
    )
    if result.warmup_hours:
        head += f" (first {result.warmup_hours / 24:g} days are warm-up, not counted)"
    if result.history_deals is not None:
        if result.mode == "from_today":
            head += f"; {result.history_deals} deals open at the start continue from history"
        else:
            head += f"; {result.history_deals} deals replayed from history"
    out.append(head)
    out.append("means with 95% confidence intervals over replications")
    out.append("")
    names = [s.name for s in result.scenarios]
    rows = [["kpi", *names]]
    for kpi in SHOWN:
        unit = PROCESS_KPIS[kpi][0]
        share = unit == "share"
        label = kpi if unit in ("share", "money") else f"{kpi} ({unit})"
        rows.append([label, *(_fmt(s.kpis[kpi], share) for s in result.scenarios)])
    out.append(_grid(rows))
    if len(result.scenarios) > 1:
        out.append("")
        out.append("paired differences vs baseline, 95% CI (* = the interval excludes 0)")
        drows = [["kpi", *names[1:]]]
        for kpi in SHOWN:
            share = PROCESS_KPIS[kpi][0] == "share"
            drows.append([kpi, *(_delta(s.deltas[kpi], share) for s in result.scenarios[1:])])
        out.append(_grid(drows))
    base = result.baseline
    out.append("")
    srows = [["stage", "entered", "queue h", "effort h", "off-cal h", "cust. wait h", "in stage h"]]
    for stage, m in base.stages.items():
        srows.append(
            [
                stage,
                _fmt(m["entered"]),
                _fmt(m["queue_hours"]),
                _fmt(m["effort_hours"]),
                _fmt(m["off_calendar_hours"]),
                _fmt(m["customer_wait_hours"]),
                _fmt(m["time_in_stage_hours"]),
            ]
        )
    out.append(_grid(srows))
    if base.roles:
        out.append("")
        rrows = [["role", "utilization", "queue (mean)", "queue (max)"]]
        for role, m in base.roles.items():
            rrows.append(
                [role, _fmt(m["utilization"], True), _fmt(m["queue_mean"]), _fmt(m["queue_max"])]
            )
        out.append(_grid(rrows))
    for w in result.warnings:
        if w != verdict:
            out.append("")
            out.append(f"warning: {w}")
    return "\n".join(out) + "\n"


def bottleneck_table(report: BottleneckReport) -> str:
    """The terminal report of ``flowsim bottlenecks``, the fidelity verdict first."""
    out = [report.verdict, ""] if report.verdict else []
    out += [report.principal, ""]
    out.append("capacity (share of cycle time spent queueing for the role)")
    for i, b in enumerate(report.capacity, 1):
        out.append(f"  {i}. {b.text}")
    out.append("")
    out.append("time (share of cycle time spent in the stage)")
    for i, b in enumerate(report.time, 1):
        ev = b.evidence
        split = ", ".join(
            f"{name} {_fmt(ev[key])} h"
            for name, key in (
                ("queue", "queue_hours"),
                ("off-calendar", "off_calendar_hours"),
                ("effort", "effort_hours"),
                ("customer wait", "customer_wait_hours"),
            )
        )
        out.append(f"  {i}. {b.text} ({split})")
    out.append("")
    out.append("conversion (share of the deals reaching the stage that are lost there)")
    for i, b in enumerate(report.conversion, 1):
        out.append(f"  {i}. {b.text}")
    if report.suggestions or report.not_tried:
        out += ["", *_whatif_lines(report)]
    for w in report.warnings:
        out += ["", f"warning: {w}"]
    return "\n".join(out) + "\n"


def _whatif_lines(report: BottleneckReport) -> list[str]:
    """The one-step what-ifs, best for the objective first; what the budget left out."""
    goal = report.objective or "cycle"
    out = [f"one-step what-ifs ranked by {goal}, paired with the baseline (95% CI; * = excludes 0)"]
    if report.verdict:
        out.append("in the model only: the model fails its fidelity check (see the top)")
    rows = [["what-if", "kind", "cycle days", "revenue", "won", "win rate"]]
    for s in report.suggestions:
        rows.append(
            [
                s.name,
                s.kind or "",
                _delta(s.cycle_days, fine=True),
                _delta(s.revenue, fine=True) if s.revenue is not None else "",
                _delta(s.won, fine=True) if s.won is not None else "",
                _delta(s.win_rate, share=True, fine=True) if s.win_rate is not None else "",
            ]
        )
    if report.suggestions:
        out.append(_grid(rows))
    if report.idle_roles:
        names = ", ".join(report.idle_roles[:10])
        more = f" and {len(report.idle_roles) - 10} more" if len(report.idle_roles) > 10 else ""
        out.append(f"no +1 person for {names}{more}: no stage with effort (work) is theirs")
    if report.not_tried:
        shown = ", ".join(report.not_tried[:10])
        more = f" and {len(report.not_tried) - 10} more" if len(report.not_tried) > 10 else ""
        out.append(
            f"not tried ({len(report.not_tried)}, over the budget; raise --budget to run "
            f"them): {shown}{more}"
        )
    return out
