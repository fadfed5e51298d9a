"""The funnel as plain text for a terminal: header, stages, process figures."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowsim.diagnostics import display_width

if TYPE_CHECKING:
    from flowsim.history.breakdown import Breakdown, GroupRow
    from flowsim.history.metrics import Durations, FunnelMetrics, Header

__all__ = ["breakdown_table", "metrics_table"]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.1f}%"


def _days(d: Durations) -> str:
    if d.n == 0 or d.median is None or d.mean is None or d.p90 is None:
        return "-"
    return f"{d.median / 24:.1f} / {d.mean / 24:.1f} / {d.p90 / 24:.1f}"


def _num(x: float | None, digits: int = 1) -> str:
    return "-" if x is None else f"{x:,.{digits}f}"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(display_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        out = []
        for i, cell in enumerate(cells):
            pad = widths[i] - display_width(cell)
            out.append(cell + " " * pad if i == 0 else " " * pad + cell)
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _accounting(h: Header) -> list[str]:
    """The source, the import's row accounting and every filter's effect."""
    skipped = ", ".join(f"{k} {v}" for k, v in sorted(h.skipped_by_reason.items())) or "none"
    return [
        f"source: {h.source}",
        f"rows read {h.rows_read:,}, used {h.rows_used:,}, skipped {h.rows_skipped:,} ({skipped})",
        *(f"filter {step.line()}" for step in h.filters),
    ]


def metrics_table(m: FunnelMetrics) -> str:
    """Everything a person reads first; ``--format json`` has every figure."""
    h, p = m.header, m.process
    out = [
        *_accounting(h),
        f"deals {h.deals:,}: won {h.won:,}, lost {h.lost:,}, open {h.open:,}, other {h.other:,}"
        + (f"; open deals censored at {h.as_of:%Y-%m-%d %H:%M} UTC" if h.as_of else ""),
        f"funnel: {h.funnel} ({h.funnel_rule}); stage order: "
        + ("the process's" if h.order_from == "process" else "as observed"),
        "",
    ]
    rows = []
    for name in h.stage_order + [s for s in m.stages if s not in h.stage_order]:
        s = m.stages.get(name)
        if s is None:
            continue
        rows.append(
            [
                name,
                f"{s.entered:,}",
                f"{s.reached:,}",
                _pct(s.cohort_conversion),
                _pct(s.leakage),
                f"{s.still_open:,}",
                f"{s.reentries:,}",
                _days(s.time_latest),
            ]
        )
    out.append(
        _table(
            [
                "stage",
                "entered",
                "reached",
                "cohort",
                "leakage",
                "open",
                "rework",
                "days in stage med/mean/p90",
            ],
            rows,
        )
    )
    out += [
        "",
        f"win rate {_pct(p.win_rate)} of closed deals ({_pct(p.win_rate_all_deals)} of all deals)",
        f"arrivals {_num(p.arrivals_per_week)}/week, closed {_num(p.throughput_per_week)}/week",
    ]
    for outcome, c in sorted(p.cycle_time.items()):
        out.append(
            f"cycle time {outcome}: {c.deals:,} deals, median {_num(c.median_days)} d, "
            f"mean {_num(c.mean_days)} d"
        )
    if p.sales_velocity_per_day is not None:
        out.append(f"sales velocity {_num(p.sales_velocity_per_day, 0)} per day")
    if p.weighted_pipeline is not None:
        out.append(
            f"weighted pipeline {_num(p.weighted_pipeline, 0)} "
            f"({p.weighted_pipeline_unpriced:,} open deals unpriced)"
        )
    if p.wip:
        peak = max(p.wip, key=lambda w: w.open_deals)
        out.append(
            f"work in progress: {p.wip[-1].open_deals:,} open deals at the end "
            f"(peak {peak.open_deals:,} on {peak.at:%Y-%m-%d}; weekly series in --format json)"
        )
    out.append(f"moves: {p.skips:,} skips, {p.backward_moves:,} backward, {p.repeats:,} repeats")
    return "\n".join(out) + "\n"


def _group_cells(r: GroupRow, stages: list[str]) -> list[str]:
    return [
        r.group,
        f"{r.deals:,}",
        f"{r.won:,}",
        f"{r.lost:,}",
        f"{r.open:,}",
        _pct(r.win_rate),
        _pct(r.win_rate_all_deals),
        _num(r.won_cycle_days),
        _num(r.lost_cycle_days),
        *(_num(r.stage_days.get(s)) for s in stages),
    ]


def breakdown_table(b: Breakdown) -> str:
    """One row per group (most deals first), then ``all``; ``--format json`` has the same."""
    h = b.header
    out = [
        *_accounting(h),
        f"by {b.by}: {len(b.groups):,} groups of {h.deals:,} deals (each deal in the group of "
        "its first record)"
        + (f"; open deals censored at {h.as_of:%Y-%m-%d %H:%M} UTC" if h.as_of else ""),
        f"funnel: {h.funnel}; win rate = won / (won + lost); cycle = median days from the first "
        "record to the outcome; under each stage: median days in it (latest visit)",
        "",
    ]
    headers = [b.by, "deals", "won", "lost", "open", "win rate", "won/deals"]
    headers += ["won cycle", "lost cycle"]
    rows = [_group_cells(r, b.stages) for r in b.groups]
    table = _table([*headers, *b.stages], [*rows, _group_cells(b.all, b.stages)])
    lines = table.split("\n")
    # a rule above the "all" row, like a total
    lines.insert(len(lines) - 1, lines[1])
    out.append("\n".join(lines))
    return "\n".join(out) + "\n"
