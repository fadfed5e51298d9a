"""Bottlenecks: where deals spend their time, which role holds them up, and what would help.

Three rankings, each with its evidence and confidence intervals:

* **capacity** — roles by utilization, and by the share of a deal's cycle time it spends
  queueing for that role (``Σ visits per deal × mean queue``, over the role's stages);
* **time** — stages by their share of the cycle time (``visits per deal × mean time in
  stage ÷ mean cycle time``), split into queue, off-calendar, effort and customer wait;
* **conversion** — stages by the deals they lose (with history: observed against designed).

The *principal* bottleneck is the stage whose queue for its owner role takes the largest share
of the cycle time when that role is busy (≥ 85% or its queue share ≥ 10%); otherwise the stage
taking the largest share of the cycle time. ``suggest`` runs the one-step what-ifs (+1 person
per role, −20% effort per stage, +5 points conversion per forward edge) with common random
numbers and ranks them by their effect on cycle time and revenue: a sensitivity tornado.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from flowsim.graph import back_edges
from flowsim.model import (
    DurationChange,
    Process,
    RoleChange,
    Scenario,
    TransitionChange,
)
from flowsim.overlay import EdgeFigures, Overlay, RoleFigures, StageFigures
from flowsim.sim.result import SimulationResult
from flowsim.sim.stats import Estimate

__all__ = [
    "Bottleneck",
    "BottleneckReport",
    "Suggestion",
    "analyse",
    "bottlenecks",
    "one_step_scenarios",
]

BUSY = 0.85
QUEUE_SHARE = 0.10


class Bottleneck(BaseModel):
    """One ranked item with the numbers that put it there."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["capacity", "time", "conversion"]
    name: str
    label: str
    score: float = Field(description="What it is ranked by (a share of cycle time, or of deals).")
    evidence: dict[str, Estimate] = Field(default_factory=dict)
    text: str = ""


class Suggestion(BaseModel):
    """A one-step what-if and its paired effects (scenario − baseline)."""

    model_config = ConfigDict(frozen=True)

    name: str
    cycle_days: Estimate
    revenue: Estimate | None = None
    won: Estimate | None = None


class BottleneckReport(BaseModel):
    """The rankings, the principal bottleneck in one sentence, and ranked suggestions."""

    model_config = ConfigDict(frozen=True)

    principal: str
    capacity: list[Bottleneck]
    time: list[Bottleneck]
    conversion: list[Bottleneck]
    suggestions: list[Suggestion] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    def to_overlay(self, result: SimulationResult, process: Process) -> Overlay:
        """Baseline figures for the flowchart (colour by queue, dwell, utilization)."""
        return overlay(result, process)


def _label(process: Process, node_id: str) -> str:
    try:
        node = process.node(node_id)
    except KeyError:
        return node_id
    return node.label or node.id


def _role_label(process: Process, role_id: str) -> str:
    try:
        role = process.role(role_id)
    except KeyError:
        return role_id
    return role.label or role.id


def _scale(e: Estimate, f: float) -> Estimate:
    def m(x: float | None) -> float | None:
        return None if x is None else x * f

    return Estimate(mean=m(e.mean), low=m(e.low), high=m(e.high), sd=m(e.sd), n=e.n, level=e.level)


def _days(h: float | None) -> str:
    if h is None:
        return "n/a"
    return f"{h / 24:.1f} days" if h >= 48 else f"{h:.1f} h"


def _ci_days(e: Estimate) -> str:
    if e.low is None or e.high is None:
        return ""
    return f" (95% CI {_days(e.low)}–{_days(e.high)})"


def analyse(
    result: SimulationResult, process: Process, *, conversion: dict[str, float] | None = None
) -> BottleneckReport:
    """Rank the baseline's bottlenecks. ``conversion``: observed lost share per stage."""
    base = result.baseline
    arrived = base.kpis["arrived"].mean or 0.0
    cycle = base.kpis["cycle_days_mean"].mean
    cycle_h = cycle * 24 if cycle else None
    per_deal: dict[str, float] = {}
    for sid, m in base.stages.items():
        entered = m["entered"].mean or 0.0
        per_deal[sid] = entered / arrived if arrived else 0.0
    time: list[Bottleneck] = []
    queue_share: dict[str, float] = {}
    for sid, m in base.stages.items():
        stay = m["time_in_stage_hours"].mean
        in_stage = m["hours_per_closed_deal"].mean
        if stay is None or in_stage is None or not cycle_h:
            continue
        share = in_stage / cycle_h
        queue_share[sid] = (m["queue_hours_per_closed_deal"].mean or 0.0) / cycle_h
        time.append(
            Bottleneck(
                kind="time",
                name=sid,
                label=_label(process, sid),
                score=share,
                evidence={
                    k: m[k]
                    for k in (
                        "time_in_stage_hours",
                        "queue_hours",
                        "off_calendar_hours",
                        "effort_hours",
                        "customer_wait_hours",
                    )
                },
                text=(
                    f"{_label(process, sid)} takes {share:.0%} of the cycle time: "
                    f"{_days(stay)} a stay, {per_deal[sid]:.2f} stays per deal"
                ),
            )
        )
    time.sort(key=lambda b: (-b.score, b.name))
    capacity: list[Bottleneck] = []
    owners = {s.id: s.owner for s in process.stages}
    for rid, m in base.roles.items():
        share = sum(v for sid, v in queue_share.items() if owners.get(sid) == rid)
        util = m["utilization"]
        capacity.append(
            Bottleneck(
                kind="capacity",
                name=rid,
                label=_role_label(process, rid),
                score=share,
                evidence={"utilization": util, "queue_mean": m["queue_mean"]},
                text=(
                    f"{_role_label(process, rid)}: {_pct(util)} busy; waiting for them takes "
                    f"{share:.0%} of the cycle time"
                ),
            )
        )
    capacity.sort(key=lambda b: (-b.score, -(b.evidence["utilization"].mean or 0), b.name))
    lost = _lost_share(process, result, conversion)
    conv = [
        Bottleneck(
            kind="conversion",
            name=sid,
            label=_label(process, sid),
            score=share,
            text=f"{_label(process, sid)} loses {share:.0%} of the deals that reach it",
        )
        for sid, share in lost.items()
    ]
    conv.sort(key=lambda b: (-b.score, b.name))
    principal = _principal(process, base, capacity, time, queue_share, cycle_h)
    return BottleneckReport(
        principal=principal,
        capacity=capacity,
        time=time,
        conversion=conv,
        warnings=list(result.warnings),
    )


def _pct(e: Estimate) -> str:
    if e.mean is None:
        return "n/a"
    text = f"{e.mean:.0%}"
    if e.low is not None and e.high is not None:
        text += f" (95% CI {e.low:.0%}–{e.high:.0%})"
    return text


def _lost_share(
    process: Process, result: SimulationResult, observed: dict[str, float] | None
) -> dict[str, float]:
    if observed is not None:
        return dict(observed)
    lost = {o.id for o in process.outcomes if o.result == "lost"}
    out: dict[str, float] = {}
    for s in process.stages:
        share = sum(p for t, p in process.outgoing(s.id) if t.target in lost)
        out[s.id] = share
    return out


def _principal(
    process: Process,
    base: Any,
    capacity: list[Bottleneck],
    time: list[Bottleneck],
    queue_share: dict[str, float],
    cycle_h: float | None,
) -> str:
    if not time or not cycle_h:
        return "No deal finished inside the window: run longer to find the bottleneck."
    owners = {s.id: s.owner for s in process.stages}
    roles = {b.name: b for b in capacity}
    candidates = sorted(queue_share.items(), key=lambda kv: (-kv[1], kv[0]))
    for sid, share in candidates:
        rid = owners.get(sid)
        if rid is None or rid not in roles:
            continue
        util = roles[rid].evidence["utilization"]
        if share >= QUEUE_SHARE or (util.mean or 0) >= BUSY:
            m = base.stages[sid]
            role = process.role(rid)
            return (
                f"The principal bottleneck is {_label(process, sid)}: deals wait "
                f"{_days(m['queue_hours'].mean)}{_ci_days(m['queue_hours'])} for one of the "
                f"{role.headcount} {_role_label(process, rid)}, who are {_pct(util)} busy; "
                f"that wait is {share:.0%} of the mean cycle time of "
                f"{_days(cycle_h)}."
            )
    top = time[0]
    stay = top.evidence["time_in_stage_hours"]
    wait = top.evidence["customer_wait_hours"].mean or 0.0
    why = "mostly customer-side waiting" if stay.mean and wait > stay.mean / 2 else "mostly work"
    return (
        f"No role is a capacity bottleneck; {top.label} takes the most time: "
        f"{top.score:.0%} of the mean cycle time of {_days(cycle_h)} "
        f"({_days(stay.mean)} a stay{_ci_days(stay)}, {why})."
    )


def one_step_scenarios(process: Process) -> list[Scenario]:
    """+1 person per role, −20% effort per stage, +5 points per forward (non-lost) edge."""
    out: list[Scenario] = []
    for r in process.roles:
        out.append(
            Scenario(name=f"+1 {r.id}", changes=(RoleChange(role=r.id, headcount=r.headcount + 1),))
        )
    for s in process.stages:
        if s.effort is not None:
            out.append(
                Scenario(
                    name=f"{s.id} effort -20%",
                    changes=(DurationChange(stage=s.id, field="effort", factor=0.8),),
                )
            )
    lost = {o.id for o in process.outcomes if o.result == "lost"}
    rework = back_edges(process)
    seen: set[tuple[str, str]] = set()
    for s in process.stages:
        for t, p in process.outgoing(s.id):
            key = (t.source, t.target)
            if t.target in lost or key in rework or key in seen or p >= 1 or p <= 0:
                continue
            seen.add(key)
            out.append(
                Scenario(
                    name=f"{t.source}->{t.target} +5pt",
                    changes=(
                        TransitionChange(
                            source=t.source, target=t.target, probability=min(1.0, p + 0.05)
                        ),
                    ),
                )
            )
    return out


def suggestions(result: SimulationResult, names: list[str]) -> list[Suggestion]:
    """The paired effects of each one-step scenario, biggest cycle-time cut first."""
    out = []
    for name in names:
        s = result.scenario(name)
        out.append(
            Suggestion(
                name=name,
                cycle_days=s.deltas["cycle_days_mean"],
                revenue=s.deltas.get("revenue"),
                won=s.deltas.get("won"),
            )
        )
    out.sort(key=lambda x: (x.cycle_days.mean if x.cycle_days.mean is not None else 0, x.name))
    return out


def overlay(result: SimulationResult, process: Process) -> Overlay:
    """The baseline's figures as a flowchart overlay (the render issue's format)."""
    base = result.baseline
    lost = _lost_share(process, result, None)
    stages = {}
    for sid, m in base.stages.items():
        owner = next((s.owner for s in process.stages if s.id == sid), None)
        util = base.roles[owner]["utilization"].mean if owner in base.roles else None
        stages[sid] = StageFigures(
            entered=_pos(m["entered"].mean),
            dwell_hours=_pos(m["time_in_stage_hours"].mean),
            dwell_p90_hours=_pos(m["time_in_stage_p90_hours"].mean),
            queue_hours=_pos(m["queue_hours"].mean),
            leakage=min(1.0, max(0.0, lost.get(sid, 0.0))),
            utilization=_pos(util),
        )
    roles = {
        rid: RoleFigures(
            utilization=_pos(m["utilization"].mean),
            utilization_low=_pos(m["utilization"].low),
            utilization_high=_pos(m["utilization"].high),
        )
        for rid, m in base.roles.items()
    }
    edges = tuple(
        EdgeFigures(source=src, target=dst, count=max(0.0, e.mean or 0.0))
        for (src, dst), e in sorted(base_edges(result).items())
    )
    return Overlay(
        source=f"simulation of {result.process}, {result.replications} replications",
        stages=stages,
        edges=edges,
        roles=roles,
    )


def base_edges(result: SimulationResult) -> dict[tuple[str, str], Estimate]:
    """Mean moves per replication along each transition of the baseline."""
    out: dict[tuple[str, str], Estimate] = {}
    for key, e in result.baseline.edges.items():
        src, _, dst = key.partition("->")
        out[(src, dst)] = e
    return out


def _pos(x: float | None) -> float | None:
    return None if x is None else max(0.0, x)


def bottlenecks(
    process: Process, history: Any = None, *, suggest: bool = False, **options: Any
) -> tuple[BottleneckReport, SimulationResult]:
    """Simulate ``process`` (replaying ``history`` if given) and rank its bottlenecks.

    ``options`` go to :func:`flowsim.simulate` (replications, seed, until, workers, ...).
    With ``suggest`` the one-step what-ifs run too, with common random numbers.
    """
    from flowsim.sim.simulate import simulate

    extra = one_step_scenarios(process) if suggest else []
    if extra:
        process = process.model_copy(update={"scenarios": (*process.scenarios, *extra)})
    options.setdefault("keep_log", False)
    result = simulate(process, history, scenarios=[s.name for s in extra], **options)
    report = analyse(result, process)
    if extra:
        report = report.model_copy(
            update={"suggestions": suggestions(result, [s.name for s in extra])}
        )
    return report, result
