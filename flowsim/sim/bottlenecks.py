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


#: the report's sentences, in English and Chinese (``lang``)
TEXT: dict[str, dict[str, str]] = {
    "en": {
        "days": "{x:.1f} days",
        "hours": "{x:.1f} h",
        "ci": " (95% CI {lo}–{hi})",
        "time": "{stage} takes {share:.0%} of the cycle time: {stay} a stay, "
        "{visits:.2f} stays per deal",
        "capacity": "{role}: {util} busy; waiting for them takes {share:.0%} of the cycle time",
        "conversion": "{stage} loses {share:.0%} of the deals that reach it",
        "principal": "The principal bottleneck is {stage}: a deal that gets there waits {wait}{ci} "
        "for one of the {n} {role}, who are {util} busy; over all deals (not every deal gets "
        "there) that waiting is {share:.0%} of the mean cycle time of {cycle}.",
        "no_capacity": "No role is a capacity bottleneck; {stage} takes the most time: "
        "{share:.0%} of the mean cycle time of {cycle} ({stay} a stay{ci}, {why}).",
        "mostly_wait": "mostly customer-side waiting",
        "mostly_work": "mostly work",
        "no_deal": "No deal finished inside the window: run longer to find the bottleneck.",
    },
    "zh": {
        "days": "{x:.1f} 天",
        "hours": "{x:.1f} 小时",
        "ci": "（95% 置信区间 {lo}–{hi}）",
        "time": "{stage}占销售周期的 {share:.0%}：每次停留 {stay}，每个商机 {visits:.2f} 次",
        "capacity": "{role}：忙碌 {util}；等待他们占销售周期的 {share:.0%}",
        "conversion": "{stage}流失到达该阶段商机的 {share:.0%}",
        "principal": "主要瓶颈是{stage}：到达该阶段的商机平均等待 {wait}{ci}，才能分配到 {n} 名"
        "{role}之一，他们的忙碌程度为 {util}；按全部商机计（并非每个商机都会到达该阶段），"
        "该等待占平均销售周期（{cycle}）的 {share:.0%}。",
        "no_capacity": "没有角色构成产能瓶颈；{stage}耗时最多：占平均销售周期（{cycle}）的 "
        "{share:.0%}（每次停留 {stay}{ci}，{why}）。",
        "mostly_wait": "主要是客户方等待",
        "mostly_work": "主要是工作时间",
        "no_deal": "统计窗口内没有商机结束：请延长仿真时间以找出瓶颈。",
    },
}


def _t(lang: str) -> dict[str, str]:
    return TEXT.get(lang, TEXT["en"])


def _days(h: float | None, lang: str = "en", in_days: bool | None = None) -> str:
    """Hours as days from two days up (or in the unit ``in_days`` says)."""
    if h is None:
        return "n/a"
    t = _t(lang)
    if in_days is None:
        in_days = h >= 48
    return t["days"].format(x=h / 24) if in_days else t["hours"].format(x=h)


def _ci_days(e: Estimate, lang: str = "en") -> str:
    """The CI of a duration, in the unit of its mean; a bound below 0 reads as 0.

    A t-interval over few, skewed replications can dip below zero; a time cannot.
    """
    if e.low is None or e.high is None:
        return ""
    in_days = (e.mean if e.mean is not None else e.high) >= 48
    return _t(lang)["ci"].format(
        lo=_days(max(e.low, 0.0), lang, in_days), hi=_days(e.high, lang, in_days)
    )


def analyse(
    result: SimulationResult,
    process: Process,
    *,
    conversion: dict[str, float] | None = None,
    lang: str = "en",
) -> BottleneckReport:
    """Rank the baseline's bottlenecks. ``conversion``: observed lost share per stage.

    ``lang`` (``en`` or ``zh``) chooses the language of the sentences.
    """
    t = _t(lang)
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
                label=process.node(sid).display,
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
                text=t["time"].format(
                    stage=process.node(sid).display,
                    share=share,
                    stay=_days(stay, lang),
                    visits=per_deal[sid],
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
                label=process.role(rid).display,
                score=share,
                evidence={"utilization": util, "queue_mean": m["queue_mean"]},
                text=t["capacity"].format(
                    role=process.role(rid).display, util=_pct(util, lang), share=share
                ),
            )
        )
    capacity.sort(key=lambda b: (-b.score, -(b.evidence["utilization"].mean or 0), b.name))
    lost = dict(conversion) if conversion is not None else _lost_share(process)
    conv = [
        Bottleneck(
            kind="conversion",
            name=sid,
            label=process.node(sid).display,
            score=share,
            text=t["conversion"].format(stage=process.node(sid).display, share=share),
        )
        for sid, share in lost.items()
    ]
    conv.sort(key=lambda b: (-b.score, b.name))
    principal = _principal(process, base, capacity, time, queue_share, cycle_h, lang)
    return BottleneckReport(
        principal=principal,
        capacity=capacity,
        time=time,
        conversion=conv,
        warnings=list(result.warnings),
    )


def _pct(e: Estimate, lang: str = "en") -> str:
    if e.mean is None:
        return "n/a"
    text = f"{e.mean:.0%}"
    if e.low is not None and e.high is not None:
        text += _t(lang)["ci"].format(lo=f"{e.low:.0%}", hi=f"{e.high:.0%}")
    return text


def _lost_share(process: Process) -> dict[str, float]:
    """The designed share of each stage's exits that go to a lost outcome."""
    lost = {o.id for o in process.outcomes if o.result == "lost"}
    return {
        s.id: sum(p for t, p in process.outgoing(s.id) if t.target in lost) for s in process.stages
    }


def _principal(
    process: Process,
    base: Any,
    capacity: list[Bottleneck],
    time: list[Bottleneck],
    queue_share: dict[str, float],
    cycle_h: float | None,
    lang: str = "en",
) -> str:
    t = _t(lang)
    if not time or not cycle_h:
        return t["no_deal"]
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
            return t["principal"].format(
                stage=process.node(sid).display,
                wait=_days(m["queue_hours"].mean, lang),
                ci=_ci_days(m["queue_hours"], lang),
                n=role.headcount,
                role=process.role(rid).display,
                util=_pct(util, lang),
                share=share,
                cycle=_days(cycle_h, lang),
            )
    top = time[0]
    stay = top.evidence["time_in_stage_hours"]
    wait = top.evidence["customer_wait_hours"].mean or 0.0
    why = t["mostly_wait"] if stay.mean and wait > stay.mean / 2 else t["mostly_work"]
    return t["no_capacity"].format(
        stage=top.label,
        share=top.score,
        cycle=_days(cycle_h, lang),
        stay=_days(stay.mean, lang),
        ci=_ci_days(stay, lang),
        why=why,
    )


def one_step_scenarios(process: Process, limit: int | None = None) -> list[Scenario]:
    """+1 person per role, −20% effort per stage, +5 points per forward (non-lost) edge.

    With ``limit``, at most ``limit`` of each kind, the ones that matter most by the
    traffic equations: roles by offered load, stages by expected effort per deal (visits ×
    mean effort), edges by the expected visits of their source. A discovered model of a
    real log can have dozens of roles and stages; a report needs the few that can matter.
    """
    from flowsim.checks import expected_visits
    from flowsim.sim.analytic import offered_load

    visits = expected_visits(process)
    load = {x.role: x.load or 0.0 for x in offered_load(process)}
    roles = sorted(process.roles, key=lambda r: (-load.get(r.id, 0.0), r.id))[:limit]
    staged = [s for s in process.stages if s.effort is not None]
    staged.sort(
        key=lambda s: (-visits.get(s.id, 0.0) * (s.effort.expected if s.effort else 0.0), s.id)
    )
    out: list[Scenario] = []
    for r in roles:
        out.append(
            Scenario(name=f"+1 {r.id}", changes=(RoleChange(role=r.id, headcount=r.headcount + 1),))
        )
    for s in staged[:limit]:
        out.append(
            Scenario(
                name=f"{s.id} effort -20%",
                changes=(DurationChange(stage=s.id, field="effort", factor=0.8),),
            )
        )
    lost = {o.id for o in process.outcomes if o.result == "lost"}
    rework = back_edges(process)
    seen: set[tuple[str, str]] = set()
    edges: list[tuple[float, int, Scenario]] = []
    for s in process.stages:
        for t, p in process.outgoing(s.id):
            key = (t.source, t.target)
            if t.target in lost or key in rework or key in seen or p >= 1 or p <= 0:
                continue
            seen.add(key)
            edges.append(
                (
                    -visits.get(s.id, 0.0),
                    len(edges),
                    Scenario(
                        name=f"{t.source}->{t.target} +5pt",
                        changes=(
                            TransitionChange(
                                source=t.source, target=t.target, probability=min(1.0, p + 0.05)
                            ),
                        ),
                    ),
                )
            )
    edges.sort(key=lambda e: (e[0], e[1]))
    return out + [e[2] for e in edges[:limit]]


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
    lost = _lost_share(process)
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
    process: Process,
    history: Any = None,
    *,
    suggest: bool = False,
    lang: str = "en",
    **options: Any,
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
    report = analyse(result, process, lang=lang)
    if extra:
        report = report.model_copy(
            update={"suggestions": suggestions(result, [s.name for s in extra])}
        )
    return report, result
