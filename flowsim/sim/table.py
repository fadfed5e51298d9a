"""A simulation result as terminal text: KPIs with intervals, scenario deltas, warnings."""

from __future__ import annotations

import math
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowsim.sim.kpis import PROCESS_KPIS
from flowsim.sim.stats import Estimate

if TYPE_CHECKING:
    from flowsim.sim.bottlenecks import BottleneckReport
    from flowsim.sim.result import SimulationResult

__all__ = ["ENGLISH", "Terms", "bottleneck_table", "result_table", "terminal_width"]

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


#: the fixed words of the tables in English; ``|`` separates column headings
ENGLISH: dict[str, str] = {
    "head": "{process}: {mode} simulation, {n} replications, seed {seed}, {days:g} days from "
    "{epoch}",
    "mode_stochastic": "stochastic",
    "mode_replay": "replay",
    "mode_from_today": "from_today",
    "warmup": " (first {days:g} days are warm-up, not counted)",
    "from_today": "; {n} deals open at the start continue from history",
    "replayed": "; {n} deals replayed from history",
    "means": "means with 95% confidence intervals over replications",
    "kpi": "kpi",
    "paired": "paired differences vs baseline, 95% CI (* = the interval excludes 0)",
    "stage_cols": "stage|entered|queue h|effort h|off-cal h|cust. wait h|in stage h",
    "role_cols": "role|utilization|queue (mean)|queue (max)",
    "warning": "warning: {w}",
    "na": "n/a",
    "pt": "pt",
    "capacity": "capacity (share of cycle time spent queueing for the role)",
    "time": "time (share of cycle time spent in the stage)",
    "conversion": "conversion (share of the deals reaching the stage that are lost there)",
    "split": "{name} {value} h",
    "split_names": "queue|off-calendar|effort|customer wait",
    "sep": ", ",
    "evidence": "{text} ({split})",
    "whatifs": "one-step what-ifs ranked by {goal}, paired with the baseline "
    "(95% CI; * = excludes 0)",
    "model_only": "in the model only: the model fails its fidelity check (see the top)",
    "whatif_cols": "what-if|kind|cycle days|revenue|won|win rate",
    "more": " and {n} more",
    "idle": "no +1 person for {names}{more}: no stage with effort (work) is theirs",
    "not_tried": "not tried ({n}, over the budget; raise --budget to run them): {shown}{more}",
}


def _same(name: str) -> str:
    return name


def _kpi_label(kpi: str, with_unit: bool) -> str:
    """A KPI's English heading: its key, with its unit unless a share or money."""
    unit = PROCESS_KPIS[kpi][0]
    return kpi if not with_unit or unit in ("share", "money") else f"{kpi} ({unit})"


@dataclass(frozen=True)
class Terms:
    """The words of the terminal tables: English and the model's ids unless told otherwise.

    ``text`` holds the fixed words (the keys of :data:`ENGLISH`); ``kpi`` names a KPI (its
    key, and whether the row of the means wants its unit); ``stage``, ``role``, ``scenario``,
    ``kind`` and ``goal`` name an id, a scenario, a what-if kind and an objective; ``note``
    words a warning; ``width``
    measures a cell (:func:`terminal_width` counts a CJK character as two columns).
    """

    text: Mapping[str, str] = field(default_factory=lambda: ENGLISH)
    kpi: Callable[[str, bool], str] = _kpi_label
    stage: Callable[[str], str] = _same
    role: Callable[[str], str] = _same
    scenario: Callable[[str], str] = _same
    kind: Callable[[str], str] = _same
    goal: Callable[[str], str] = _same
    note: Callable[[str], str] = _same
    width: Callable[[str], int] = len

    def cols(self, key: str) -> list[str]:
        """The column headings (or names) under ``key``."""
        return self.text[key].split("|")


EN = Terms()


def _fmt(e: Estimate, share: bool = False, t: Terms = EN) -> str:
    if e.mean is None:
        return t.text["na"]
    if share:
        text = f"{e.mean:.1%}"
        if e.half_width is not None:
            text += f" ± {e.half_width * 100:.1f}{t.text['pt']}"
        return text
    text = f"{e.mean:,.1f}" if abs(e.mean) < 1e6 else f"{e.mean:,.0f}"
    if e.half_width is not None:
        text += f" ± {e.half_width:,.1f}"
    return text


def _two_digits(v: float) -> str:
    """``v`` signed, to 2 significant digits, never in e-notation (``-0.0000025``).

    Examples
    --------
    >>> _two_digits(-2.5e-06), _two_digits(0.0123), _two_digits(0.0)
    ('-0.0000025', '+0.012', '+0')
    """
    if v == 0 or not math.isfinite(v):
        return f"{v:+g}"
    decimals = max(0, 1 - math.floor(math.log10(abs(v))))
    return f"{v:+.{decimals}f}"


def _delta(e: Estimate, share: bool = False, fine: bool = False, t: Terms = EN) -> str:
    """A paired delta with its CI; ``fine``: a delta whose figures would all read ±0.0 (a
    replay's what-if moving the cycle by minutes) keeps 2 significant digits."""
    if e.mean is None:
        return ""
    scale, unit = (100, t.text["pt"]) if share else (1, "")
    values = [x * scale for x in (e.mean, e.low, e.high) if x is not None]
    tiny = fine and any(values) and all(abs(v) < 0.05 for v in values)

    def num(x: float) -> str:
        v = x * scale
        return _two_digits(v) if tiny else f"{v:+,.1f}"

    text = f"{num(e.mean)}{unit}"
    if e.low is not None and e.high is not None:
        text += f" [{num(e.low)}, {num(e.high)}]"
    return text + (" *" if e.significant else "")


def terminal_width(text: str) -> int:
    """Terminal columns: a wide (CJK) character takes two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _grid(rows: list[list[str]], width: Callable[[str], int] = len) -> str:
    widths = [max(width(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for j, row in enumerate(rows):
        cells = [row[0] + " " * (widths[0] - width(row[0]))] + [
            " " * (w - width(c)) + c for c, w in zip(row[1:], widths[1:], strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def result_table(result: SimulationResult, verdict: str | None = None, t: Terms = EN) -> str:
    """The terminal report of :func:`flowsim.simulate`, the fidelity ``verdict`` first."""
    out: list[str] = [t.note(verdict), ""] if verdict else []
    out += [_head(result, t), t.text["means"], ""]
    names = [t.scenario(s.name) for s in result.scenarios]
    rows = [[t.text["kpi"], *names]]
    for kpi in SHOWN:
        share = PROCESS_KPIS[kpi][0] == "share"
        rows.append([t.kpi(kpi, True), *(_fmt(s.kpis[kpi], share, t) for s in result.scenarios)])
    out.append(_grid(rows, t.width))
    if len(result.scenarios) > 1:
        out += ["", t.text["paired"]]
        drows = [[t.text["kpi"], *names[1:]]]
        for kpi in SHOWN:
            share = PROCESS_KPIS[kpi][0] == "share"
            cells = [_delta(s.deltas[kpi], share, t=t) for s in result.scenarios[1:]]
            drows.append([t.kpi(kpi, False), *cells])
        out.append(_grid(drows, t.width))
    out += ["", *_stage_and_role_grids(result, t)]
    for w in result.warnings:
        if w != verdict:
            out += ["", t.text["warning"].format(w=t.note(w))]
    return "\n".join(out) + "\n"


def _head(result: SimulationResult, t: Terms) -> str:
    """The first line: what ran, how often, from when, what history it carries."""
    head = t.text["head"].format(
        process=result.process,
        mode=t.text[f"mode_{result.mode}"],
        n=result.replications,
        seed=result.seed,
        days=result.horizon_hours / 24,
        epoch=result.epoch[:10],
    )
    if result.warmup_hours:
        head += t.text["warmup"].format(days=result.warmup_hours / 24)
    if result.history_deals is not None:
        key = "from_today" if result.mode == "from_today" else "replayed"
        head += t.text[key].format(n=result.history_deals)
    return head


STAGE_COLUMNS = (
    "entered",
    "queue_hours",
    "effort_hours",
    "off_calendar_hours",
    "customer_wait_hours",
    "time_in_stage_hours",
)


def _stage_and_role_grids(result: SimulationResult, t: Terms) -> list[str]:
    """The baseline's stages (stays and hours) and roles (utilization and queues)."""
    base = result.baseline
    srows = [t.cols("stage_cols")]
    for stage, m in base.stages.items():
        srows.append([t.stage(stage), *(_fmt(m[k], t=t) for k in STAGE_COLUMNS)])
    out = [_grid(srows, t.width)]
    if base.roles:
        rrows = [t.cols("role_cols")]
        for role, m in base.roles.items():
            cells = [_fmt(m["utilization"], True, t), _fmt(m["queue_mean"], t=t)]
            rrows.append([t.role(role), *cells, _fmt(m["queue_max"], t=t)])
        out += ["", _grid(rrows, t.width)]
    return out


#: the stage-time evidence of a time bottleneck, in the order of ``split_names``
SPLIT = ("queue_hours", "off_calendar_hours", "effort_hours", "customer_wait_hours")


def bottleneck_table(report: BottleneckReport, t: Terms = EN) -> str:
    """The terminal report of ``flowsim bottlenecks``, the fidelity verdict first."""
    out = [report.verdict, ""] if report.verdict else []
    out += [report.principal, "", t.text["capacity"]]
    out += [f"  {i}. {b.text}" for i, b in enumerate(report.capacity, 1)]
    out += ["", t.text["time"]]
    for i, b in enumerate(report.time, 1):
        split = t.text["sep"].join(
            t.text["split"].format(name=name, value=_fmt(b.evidence[key], t=t))
            for name, key in zip(t.cols("split_names"), SPLIT, strict=True)
        )
        out.append(f"  {i}. " + t.text["evidence"].format(text=b.text, split=split))
    out += ["", t.text["conversion"]]
    out += [f"  {i}. {b.text}" for i, b in enumerate(report.conversion, 1)]
    if report.suggestions or report.not_tried:
        out += ["", *_whatif_lines(report, t)]
    for w in report.warnings:
        out += ["", t.text["warning"].format(w=t.note(w))]
    return "\n".join(out) + "\n"


def _whatif_lines(report: BottleneckReport, t: Terms) -> list[str]:
    """The one-step what-ifs, best for the objective first; what the budget left out."""
    out = [t.text["whatifs"].format(goal=t.goal(report.objective or "cycle"))]
    if report.verdict:
        out.append(t.text["model_only"])
    rows = [t.cols("whatif_cols")]
    for s in report.suggestions:
        rows.append(
            [
                t.scenario(s.name),
                t.kind(s.kind) if s.kind else "",
                _delta(s.cycle_days, fine=True, t=t),
                _delta(s.revenue, fine=True, t=t) if s.revenue is not None else "",
                _delta(s.won, fine=True, t=t) if s.won is not None else "",
                _delta(s.win_rate, True, True, t) if s.win_rate is not None else "",
            ]
        )
    if report.suggestions:
        out.append(_grid(rows, t.width))
    if report.idle_roles:
        names, more = _some([t.role(r) for r in report.idle_roles], t)
        out.append(t.text["idle"].format(names=names, more=more))
    if report.not_tried:
        shown, more = _some([t.scenario(n) for n in report.not_tried], t)
        out.append(t.text["not_tried"].format(n=len(report.not_tried), shown=shown, more=more))
    return out


def _some(names: list[str], t: Terms, limit: int = 10) -> tuple[str, str]:
    """The first ``limit`` names joined, and how many more there are (or "")."""
    more = t.text["more"].format(n=len(names) - limit) if len(names) > limit else ""
    return t.text["sep"].join(names[:limit]), more
