"""Bottlenecks: where deals spend their time, which role holds them up, and what would help.

Three rankings, each with its evidence and confidence intervals:

* **capacity** — roles by utilization, and by the share of a deal's cycle time it spends
  queueing for that role (``Σ visits per deal × mean queue``, over the role's stages);
* **time** — stages by their share of the cycle time (``visits per deal × mean time in
  stage ÷ mean cycle time``), split into queue, off-calendar, effort and customer wait;
* **conversion** — stages by the deals they lose (with history: observed against designed).

The *principal* bottleneck is the stage whose queue for its owner role takes the largest share
of the cycle time when that role is busy (≥ 85% or its queue share ≥ 10%); otherwise the stage
taking the largest share of the cycle time. ``suggest`` runs the one-step what-ifs a manager
can pull (:func:`plan_levers`: +1 person for a role that owns work, −20% effort or customer
wait per stage, +5 points on a forward move, −5 points on a loop; never a move into a loss),
at most a budget of them, with common random numbers, and ranks them by an objective
(revenue, won, win rate or cycle time; :data:`OBJECTIVES`) with the paired deltas' CIs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.errors import InputError, OptionError
from flowsim.graph import back_edges
from flowsim.model import (
    DurationChange,
    Process,
    RoleChange,
    Scenario,
    TransitionChange,
    infer_result,
)
from flowsim.overlay import EdgeFigures, Overlay, RoleFigures, StageFigures
from flowsim.sim.result import SimulationResult
from flowsim.sim.stats import Estimate

if TYPE_CHECKING:
    import polars as pl

    from flowsim.sim.table import Terms

__all__ = [
    "Bottleneck",
    "BottleneckReport",
    "Suggestion",
    "analyse",
    "bottlenecks",
    "default_objective",
    "one_step_scenarios",
    "plan_levers",
    "qualify",
    "with_suggestions",
]

BUSY = 0.85
QUEUE_SHARE = 0.10


class Bottleneck(FlowsimModel):
    """One ranked item with the numbers that put it there."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["capacity", "time", "conversion"]
    name: str
    label: str
    score: float = Field(description="What it is ranked by (a share of cycle time, or of deals).")
    evidence: dict[str, Estimate] = Field(default_factory=dict)
    text: str = ""


class Suggestion(FlowsimModel):
    """A one-step what-if and its paired effects (scenario − baseline)."""

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str | None = Field(default=None, description="capacity, effort, conversion, ...")
    cycle_days: Estimate
    revenue: Estimate | None = None
    won: Estimate | None = None
    win_rate: Estimate | None = None
    objective: Estimate | None = Field(
        default=None, description="The paired delta of the objective's KPI."
    )
    significant: bool = Field(
        default=False, description="The objective's 95% CI lies wholly on the better side."
    )


class BottleneckReport(FlowsimModel):
    """The rankings, the principal bottleneck in one sentence, and ranked suggestions."""

    model_config = ConfigDict(frozen=True)

    principal: str
    capacity: list[Bottleneck]
    time: list[Bottleneck]
    conversion: list[Bottleneck]
    suggestions: list[Suggestion] = Field(default_factory=list)
    objective: str | None = Field(default=None, description="What the suggestions rank by.")
    not_tried: list[str] = Field(
        default_factory=list, description="What-ifs the budget left out, most promising first."
    )
    idle_roles: list[str] = Field(
        default_factory=list, description="Roles owning no stage with effort: no +1 person."
    )
    verdict: str | None = Field(
        default=None, description="The fidelity verdict when the model fails its check."
    )
    warnings: list[str] = Field(default_factory=list)

    def text(self, terms: Terms | None = None) -> str:
        """The terminal report (what ``flowsim bottlenecks`` prints), worded by ``terms``
        (:func:`flowsim.report.terminal.terms`; default English)."""
        from flowsim.sim.table import EN, bottleneck_table

        return bottleneck_table(self, terms or EN)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The report as JSON (the contract of ``flowsim bottlenecks --format json``)."""
        return self.model_dump_json(indent=indent)

    def to_frame(self) -> pl.DataFrame:
        """The ranking, one row per bottleneck: kind (capacity, time, conversion), rank
        within its kind, name, label, score and the sentence."""
        import polars as pl

        rows = [
            {
                "kind": b.kind,
                "rank": n,
                "name": b.name,
                "label": b.label,
                "score": b.score,
                "text": b.text,
            }
            for items in (self.capacity, self.time, self.conversion)
            for n, b in enumerate(items, 1)
        ]
        schema = {
            "kind": pl.String,
            "rank": pl.Int64,
            "name": pl.String,
            "label": pl.String,
            "score": pl.Float64,
            "text": pl.String,
        }
        return pl.DataFrame(rows, schema=schema)

    def _repr_html_(self) -> str:
        from flowsim.result import html_table

        return html_table(f"bottlenecks: {self.principal}", self.to_frame())

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
    base = result.baseline
    cycle = base.kpis["cycle_days_mean"].mean
    cycle_h = cycle * 24 if cycle else None
    found = _time_bottlenecks(base, process, cycle_h, lang)
    capacity = _capacity_bottlenecks(base, process, found.queue_share, lang)
    lost = dict(conversion) if conversion is not None else _lost_share(process)
    conv = _conversion_bottlenecks(process, lost, lang)
    principal = _principal(process, base, capacity, found.time, found.queue_share, cycle_h, lang)
    return BottleneckReport(
        principal=principal,
        capacity=capacity,
        time=found.time,
        conversion=conv,
        warnings=list(result.warnings),
    )


@dataclass(frozen=True)
class _TimeFindings:
    """The stages ranked by their share of the cycle time, and each stage's queueing share
    (hours queued per closed deal over the cycle), which the roles' ranking sums up."""

    time: list[Bottleneck]
    queue_share: dict[str, float]


def _time_bottlenecks(
    base: Any, process: Process, cycle_h: float | None, lang: str
) -> _TimeFindings:
    """Each stage's share of a closed deal's cycle, largest first (without a cycle: none)."""
    t = _t(lang)
    arrived = base.kpis["arrived"].mean or 0.0
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
    return _TimeFindings(time, queue_share)


def _capacity_bottlenecks(
    base: Any, process: Process, queue_share: dict[str, float], lang: str
) -> list[Bottleneck]:
    """Each role scored by the cycle share its stages spend queueing for it, largest first
    (ties: the busier role first)."""
    t = _t(lang)
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
    return capacity


def _conversion_bottlenecks(
    process: Process, lost: dict[str, float], lang: str
) -> list[Bottleneck]:
    """The stages ranked by the share of their deals lost, largest first."""
    t = _t(lang)
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
    return conv


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


#: what a what-if can be ranked by: the KPI, and +1 when more is better (-1: less)
OBJECTIVES: dict[str, tuple[str, int]] = {
    "revenue": ("revenue", 1),
    "won": ("won", 1),
    "win-rate": ("win_rate", 1),
    "cycle": ("cycle_days_mean", -1),
}

#: the levers a manager can pull, in the order a budget takes them (one of each kind per round)
LEVER_KINDS = ("capacity", "effort", "conversion", "rework", "wait")

#: the size of each one-step what-if
STAFF_STEP = 1
TIME_FACTOR = 0.8
POINTS = 0.05


class Lever(FlowsimModel):
    """One candidate what-if: its kind and the scenario that pulls it."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["capacity", "effort", "conversion", "rework", "wait"]
    scenario: Scenario


class LeverPlan(FlowsimModel):
    """The one-step what-ifs to run, the ones a budget left out, and the roles skipped."""

    model_config = ConfigDict(frozen=True)

    levers: list[Lever]
    not_tried: list[str] = Field(default_factory=list)
    idle_roles: list[str] = Field(
        default_factory=list, description="Roles that own no stage with effort: no +1 person."
    )

    @property
    def scenarios(self) -> list[Scenario]:
        return [x.scenario for x in self.levers]


def default_objective(result: SimulationResult, process: Process) -> str:
    """Revenue when the deals carry amounts, else won deals (cycle time when nothing can win).

    A model without a won outcome wins nothing in any what-if, so ranking by won deals would
    rank nothing: the cycle time is the one objective left.
    """
    if not any(o.result == "won" for o in process.outcomes):
        return "cycle"  # revenue is the amounts of won deals: none either
    if result.baseline.kpis["revenue"].mean is not None:
        return "revenue"
    return "won"


def check_objective(objective: str | None, process: Process, history: Any = None) -> None:
    """Refuse an objective the run cannot measure, before anything is simulated.

    ``revenue`` needs amounts (the model's ``amount`` or the history's); ``revenue``, ``won``
    and ``win-rate`` need a won outcome.
    """
    if objective is None:
        return
    if objective not in OBJECTIVES:
        raise InputError(f"no objective {objective!r} (objectives: {', '.join(OBJECTIVES)})")
    if objective == "revenue" and process.amount is None and not _has_amounts(history):
        raise InputError(
            "--objective revenue needs deal amounts: the model has no `amount` and the "
            "history none (use won, win-rate or cycle)"
        )
    if objective != "cycle" and not any(o.result == "won" for o in process.outcomes):
        raise InputError(
            f"--objective {objective} needs a won outcome: the model has none "
            "(mark one with `result won`, or use cycle)"
        )


def _has_amounts(history: Any) -> bool:
    frame = getattr(history, "frame", None)
    if frame is None or "amount" not in frame.columns:
        return False
    return bool(frame["amount"].is_not_null().any())


def plan_levers(process: Process, budget: int | None = None, *, replay: bool = False) -> LeverPlan:
    """The one-step what-ifs a manager can pull, most promising first, within ``budget``.

    * **capacity** — +1 person for each role that owns a stage with effort (a role that owns
      no work is never short of people), by offered load;
    * **effort** — −20% effort per stage, by expected effort per deal (visits × mean);
    * **conversion** — +5 points on a forward move (:func:`forward_moves`), by the visits of
      its source;
    * **rework** — −5 points on a move back (a loop), when that does not lose deals;
    * **wait** — −20% customer-side wait per stage, by expected wait per deal.

    ``budget`` caps the number of what-ifs: the kinds take turns (the best of each, then the
    second of each...), and the rest are named in ``not_tried``. A ``replay`` follows
    history's paths, so moves (conversion, rework) cannot change it: they are left out.
    """
    working = {s.owner for s in process.stages if s.owner is not None and s.effort is not None}
    queues = _candidates(process, working, replay)
    order = [lv for rnd in _rounds(queues) for lv in rnd]
    cap = len(order) if budget is None else max(0, budget)
    idle = sorted(r.id for r in process.roles if r.id not in working)
    return LeverPlan(
        levers=order[:cap],
        not_tried=[lv.scenario.name for lv in order[cap:]],
        idle_roles=idle,
    )


def _candidates(process: Process, working: set[str], replay: bool) -> dict[str, list[Lever]]:
    """Every lever of each kind, most promising first (see :func:`plan_levers`)."""
    from flowsim.checks import expected_visits
    from flowsim.sim.analytic import offered_load

    visits = expected_visits(process)
    load = {x.role: x.load or 0.0 for x in offered_load(process)}
    roles = [r for r in process.roles if r.id in working]
    roles.sort(key=lambda r: (-load.get(r.id, 0.0), r.id))
    queues: dict[str, list[Lever]] = {k: [] for k in LEVER_KINDS}
    for r in roles:
        staff = RoleChange(role=r.id, headcount=r.headcount + STAFF_STEP)
        queues["capacity"].append(_lever("capacity", f"+1 {r.id}", staff))
    for field in ("effort", "wait"):
        timed = [s for s in process.stages if getattr(s, field) is not None]
        timed.sort(key=lambda s: (-visits.get(s.id, 0.0) * getattr(s, field).expected, s.id))
        for s in timed:
            time = DurationChange(stage=s.id, field=field, factor=TIME_FACTOR)
            queues[field].append(_lever(field, f"{s.id} {field} -20%", time))
    kinds = () if replay else (("conversion", forward_moves), ("rework", rework_moves))
    for kind, find in kinds:
        moves = find(process)
        step = POINTS if kind == "conversion" else -POINTS
        sign = "+" if step > 0 else "-"
        for src, dst, p in moves:
            share = TransitionChange(
                source=src, target=dst, probability=min(1.0, max(0.0, p + step))
            )
            queues[kind].append(_lever(kind, f"{src}->{dst} {sign}5pt", share))
    return queues


def _lever(kind: str, name: str, change: RoleChange | DurationChange | TransitionChange) -> Lever:
    return Lever.model_validate({"kind": kind, "scenario": Scenario(name=name, changes=(change,))})


def _rounds(queues: dict[str, list[Lever]]) -> list[list[Lever]]:
    """The best lever of each kind, then the second of each, and so on."""
    depth = max((len(v) for v in queues.values()), default=0)
    return [[queues[k][i] for k in LEVER_KINDS if i < len(queues[k])] for i in range(depth)]


#: words of a deal leaving the funnel that :func:`~flowsim.model.infer_result` does not
#: read as lost (an application cancelled or withdrawn is not won either)
_EXIT = re.compile(
    r"(?<![A-Za-z])(?:cancell?ed|cancel|cancellation|abandoned|withdrawn|withdrew)(?![A-Za-z])"
    r"|取消|撤回|撤销",
    re.IGNORECASE,
)


def _reads_lost(process: Process, node: str) -> bool:
    """A lost outcome, or a node whose words read as a loss (``A_DECLINED``, ``O_CANCELLED``)."""
    for o in process.outcomes:
        if o.id == node:
            return o.result == "lost" or _words_lost(o.id, o.label)
    n = process.node(node)
    label = getattr(n, "label", None)
    return infer_result(n.id, label) == "lost" or _words_lost(n.id, label)


def _words_lost(node_id: str, label: str | None) -> bool:
    text = f"{node_id.replace('_', ' ')} {label or ''}"
    return infer_result(node_id, label) == "lost" or bool(_EXIT.search(text))


def _chances(process: Process) -> tuple[float, float]:
    """The designed chance that a deal ends won, and that it ends lost."""
    from flowsim.checks import expected_visits

    visits = expected_visits(process)
    won = sum(visits.get(o.id, 0.0) for o in process.outcomes if o.result == "won")
    lost = sum(visits.get(o.id, 0.0) for o in process.outcomes if o.result == "lost")
    return won, lost


def _no_worse(process: Process, src: str, dst: str, p: float) -> tuple[bool, bool]:
    """Setting ``src -> dst`` to ``p``: (no worse, wins more) by the designed chances.

    No worse: a model with a won outcome wins no fewer deals; one without loses no more.
    (Where deals won rise, deals lost may rise too: deals that ended with no result now
    reach a verdict.) The siblings give up (or take) the difference (see
    :mod:`flowsim.scenario`), so a move can look forward and still take its share from a
    better one.
    """
    from flowsim.scenario import apply_scenario

    change = TransitionChange(source=src, target=dst, probability=p)
    trial = process.model_copy(update={"scenarios": (Scenario(name="?", changes=(change,)),)})
    won0, lost0 = _chances(process)
    won1, lost1 = _chances(apply_scenario(trial, "?"))
    eps = 1e-9
    can_win = any(o.result == "won" for o in process.outcomes)
    safe = won1 >= won0 - eps if can_win else lost1 <= lost0 + eps
    return safe, won1 > won0 + eps


def _moves(process: Process) -> list[tuple[float, str, str, float]]:
    """Every move out of a stage with a share strictly between 0 and 1, once, by traffic."""
    from flowsim.checks import expected_visits

    visits = expected_visits(process)
    seen: set[tuple[str, str]] = set()
    out: list[tuple[float, str, str, float]] = []
    for s in process.stages:
        for t, p in process.outgoing(s.id):
            key = (t.source, t.target)
            if key in seen or p >= 1 or p <= 0:
                continue
            seen.add(key)
            out.append((visits.get(s.id, 0.0), t.source, t.target, p))
    out.sort(key=lambda m: (-m[0], m[1], m[2]))
    return out


def forward_moves(process: Process) -> list[tuple[str, str, float]]:
    """The moves whose share a manager would raise: toward the next stage or a win.

    A move qualifies when it goes forward (not back, not to itself), to a won outcome or a
    stage, never to a lost outcome nor to a stage or outcome whose words read as a loss
    (``A_DECLINED``, ``Closed Lost``), nor to an outcome that is neither won nor lost; and
    when raising it by 5 points loses no deal by the designed chances (with won outcomes,
    it must win more). Busiest source first.
    """
    rework = back_edges(process)
    outcomes = {o.id: o.result for o in process.outcomes}
    can_win = "won" in outcomes.values()
    out = []
    for _, src, dst, p in _moves(process):
        if (src, dst) in rework or src == dst or _reads_lost(process, dst):
            continue
        if dst in outcomes and outcomes[dst] != "won":
            continue
        safe, wins = _no_worse(process, src, dst, min(1.0, p + POINTS))
        if safe and (wins or not can_win):
            out.append((src, dst, p))
    return out


def rework_moves(process: Process) -> list[tuple[str, str, float]]:
    """The moves back (loops, a stage to itself) whose 5-point cut loses no deal.

    A move back into a stage that reads as a loss is not rework (it is no lever either).
    """
    rework = back_edges(process)
    out = []
    for _, src, dst, p in _moves(process):
        if ((src, dst) not in rework and src != dst) or _reads_lost(process, dst):
            continue
        if _no_worse(process, src, dst, max(0.0, p - POINTS))[0]:
            out.append((src, dst, p))
    return out


def one_step_scenarios(process: Process, limit: int | None = None) -> list[Scenario]:
    """The one-step what-ifs of :func:`plan_levers`, at most ``limit`` of each kind."""
    plan = plan_levers(process)
    if limit is None:
        return plan.scenarios
    count: dict[str, int] = {}
    out = []
    for lv in plan.levers:
        count[lv.kind] = count.get(lv.kind, 0) + 1
        if count[lv.kind] <= limit:
            out.append(lv.scenario)
    return out


def objective_delta(estimates: dict[str, Estimate], objective: str) -> Estimate | None:
    """The paired delta of ``objective``'s KPI (None when the run has no such figure)."""
    kpi, _ = OBJECTIVES[objective]
    e = estimates.get(kpi)
    return e if e is not None and e.mean is not None else None


def gain(e: Estimate | None, objective: str) -> float | None:
    """The improvement a delta means for ``objective`` (positive is better)."""
    if e is None or e.mean is None:
        return None
    return OBJECTIVES[objective][1] * e.mean


def improves(e: Estimate | None, objective: str) -> bool:
    """The delta's 95% interval lies wholly on the better side of zero."""
    g = gain(e, objective)
    return bool(e is not None and e.significant and g is not None and g > 0)


def suggestions(
    result: SimulationResult,
    names: list[str],
    objective: str = "cycle",
    kinds: Mapping[str, str] | None = None,
) -> list[Suggestion]:
    """The paired effects of each one-step scenario, the best for ``objective`` first.

    Ranked by the delta's gain for the objective (unmeasurable last), ties by name.
    """
    out = []
    for name in names:
        s = result.scenario(name)
        out.append(
            Suggestion(
                name=name,
                kind=(kinds or {}).get(name),
                cycle_days=s.deltas["cycle_days_mean"],
                revenue=s.deltas.get("revenue"),
                won=s.deltas.get("won"),
                win_rate=s.deltas.get("win_rate"),
                objective=objective_delta(s.deltas, objective),
                significant=improves(s.deltas.get(OBJECTIVES[objective][0]), objective),
            )
        )
    out.sort(key=lambda x: (_rank(gain(x.objective, objective)), x.name))
    return out


def _rank(g: float | None) -> float:
    """Sort key: the largest gain first, an unmeasured one last."""
    return math.inf if g is None else -g


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
    objective: str | None = None,
    budget: int | None = None,
    lang: str = "en",
    check_fidelity: bool = True,
    tz: str = "UTC",
    **options: Any,
) -> tuple[BottleneckReport, SimulationResult]:
    """Simulate ``process`` (replaying ``history`` if given) and rank its bottlenecks.

    Parameters
    ----------
    process : Process
        The model.
    history : DealLog, optional
        Replay this history instead of sampling arrivals.
    suggest : bool, default False
        Also run the one-step what-ifs of :func:`plan_levers` (at most ``budget`` of them),
        with common random numbers, ranked by ``objective``.
    objective : str, optional
        A key of :data:`OBJECTIVES` (default :func:`default_objective`).
    budget : int, optional
        At most this many what-ifs.
    lang : str, default "en"
        The language of the verdict and the suggestions' text.
    check_fidelity : bool, default True
        With ``history``, run the trust gate (:mod:`flowsim.sim.trust`): a model that fails
        its fidelity check has the verdict (in ``lang``) opening the report, and its findings
        worded as conditional (:func:`qualify`), as ``flowsim bottlenecks`` does.
    tz : str, default "UTC"
        The history's time zone, for the fidelity check.
    **options
        Passed to :func:`flowsim.simulate` (``replications``, ``seed``, ``until``,
        ``workers``, ...).

    Returns
    -------
    tuple of (BottleneckReport, SimulationResult)
        The ranking (the principal constraint, capacity and conversion findings, idle roles,
        suggestions) and the simulation it was read from.

    Raises
    ------
    OptionError
        An ``objective`` without ``suggest``: it ranks the what-ifs, and there are none.
    InputError
        An unknown ``objective``, or one the model cannot measure (revenue without amounts,
        a won objective without a won outcome).
    UnknownScenario, DurationError, UnknownStages
        As :func:`flowsim.simulate`.

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> report, result = flowsim.bottlenecks(process, replications=2, until="60d")
    >>> type(report).__name__, result.replications
    ('BottleneckReport', 2)
    >>> report.principal.startswith("The principal bottleneck is ")
    True
    >>> report.capacity[0].kind, report.capacity[0].name in {r.id for r in process.roles}
    ('capacity', True)
    """
    from flowsim.sim.simulate import simulate

    check_objective(objective, process, history)
    if objective is not None and not suggest:
        raise OptionError(
            "--objective ranks the what-ifs of --suggest (objective needs suggest=True)"
        )
    replay = history is not None and options.get("as_of") is None
    plan = plan_levers(process, budget, replay=replay) if suggest else LeverPlan(levers=[])
    extra = plan.scenarios
    if extra:
        process = process.model_copy(update={"scenarios": (*process.scenarios, *extra)})
    options.setdefault("keep_log", False)
    result = simulate(
        process, history, scenarios=[s.name for s in extra], check_fidelity=False, **options
    )
    report = analyse(result, process, lang=lang)
    if suggest:
        report = with_suggestions(report, result, process, plan, objective)
    if check_fidelity:
        report = gated(report, process, history, options.get("seed", 0), tz, lang)
    return report, result


def with_suggestions(
    report: BottleneckReport,
    result: SimulationResult,
    process: Process,
    plan: LeverPlan,
    objective: str | None = None,
) -> BottleneckReport:
    """``report`` with the what-ifs of ``plan`` (run in ``result``) ranked by ``objective``.

    ``objective`` None: :func:`default_objective`. What the plan left out and the roles it
    skipped come along.
    """
    goal = objective or default_objective(result, process)
    kinds = {lv.scenario.name: lv.kind for lv in plan.levers}
    warnings = list(report.warnings)
    if result.mode == "replay" and goal != "cycle" and kinds:
        warnings.append(REPLAY_NOTE.format(objective=goal))
    return report.model_copy(
        update={
            "suggestions": suggestions(result, list(kinds), goal, kinds),
            "objective": goal,
            "not_tried": plan.not_tried,
            "idle_roles": plan.idle_roles,
            "warnings": warnings,
        }
    )


#: why a replay's what-ifs hardly move deals won or revenue
REPLAY_NOTE = (
    "a replay keeps history's paths and outcomes: a what-if moves {objective} only through "
    "the deals that close inside the window or not; --objective cycle ranks by what the "
    "what-ifs do change (the times)"
)


def lower_first(text: str) -> str:
    """The first word in lower case after a colon (``No role`` → ``no role``; ``A_X`` stays)."""
    if len(text) > 1 and text[0].isupper() and text[1].islower():
        return text[0].lower() + text[1:]
    return text


#: how a failed fidelity check words the bottleneck's sentences
CONDITIONAL = {
    "en": "If the model were right (it is not, see above): ",
    "zh": "假如模型可信（实际上并不可信，见上文）：",
}


def gated(
    report: BottleneckReport, process: Process, history: Any, seed: int, tz: str, lang: str
) -> BottleneckReport:
    """The report qualified by the trust gate's verdict in ``lang`` (unchanged when passing)."""
    from flowsim.sim.trust import trust_check

    check = trust_check(process, history, seed=seed, tz=tz)
    return qualify(report, check.verdict(lang) if check is not None else None, lang)


def qualify(report: BottleneckReport, verdict: str | None, lang: str = "en") -> BottleneckReport:
    """The report with the fidelity ``verdict`` first and its findings worded as conditional.

    Nothing changes when ``verdict`` is None (the model passed, or was not checked).
    """
    if verdict is None:
        return report
    return report.model_copy(
        update={
            "verdict": verdict,
            "principal": CONDITIONAL.get(lang, CONDITIONAL["en"]) + lower_first(report.principal),
        }
    )
