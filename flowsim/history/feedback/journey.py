"""The measured journey: what the answers say at each touchpoint and phase, beside the design.

Each answer is placed on the process (:func:`place`): its touchpoint value names a
touchpoint of the process (a name given in two stages needs the stage column to choose), or
a stage (id or label), as does its stage value; an answer that names neither is *unplaced*
(``unknown-touchpoint``, H506, a warning with its count: never silently dropped). Then per
touchpoint and per phase (a stage: its touchpoints' answers and those naming the stage):

- ``responses`` n, ``mean`` score with a 95% Student-t interval, mean ± t₀.₉₇₅,ₙ₋₁ · s/√n;
- on the 0-10 scale, ``nps`` = 100 · (promoters 9-10 − detractors 0-6) / n with a 95%
  interval by the standard variance formula, Var = (p + d − (p − d)²) / n, NPS ± 100 · z √Var;
- ``negative`` share (1-5: 1-2; 0-10: 0-6; −2..+2: below 0) with its Wilson interval;
- the designed ``emotion`` (1-5; a phase's: its touchpoints', weighted by their answers — what
  the design predicts for those answers — or their plain mean without answers) mapped linearly onto
  the measured scale (1 → the scale's low end, 5 → its high end: on 0-10, emotion 4 is 7.5),
  and a ``verdict``: ``worse`` when the interval lies wholly below the designed value,
  ``better`` when wholly above, ``agrees`` when it holds it; ``no design`` without an emotion,
  ``too few`` under 2 answers.
"""

from __future__ import annotations

import json
import math
from statistics import NormalDist
from typing import Any

import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.diagnostics import Diagnostic
from flowsim.graph import phase_order
from flowsim.history import problems as p
from flowsim.history.conformance import wilson_interval
from flowsim.history.feedback.read import FeedbackLog
from flowsim.history.feedback.scale import Scale
from flowsim.history.log import DealLog
from flowsim.model import Process, Touchpoint
from flowsim.result import html_table
from flowsim.tdist import t_quantile

__all__ = ["JourneyRow", "MeasuredJourney", "measure_journey", "place"]

LEVEL = 0.95


def _key(text: str) -> str:
    return " ".join(text.split()).casefold()


def _index(process: Process) -> tuple[dict[str, list[tuple[str, str]]], dict[str, str]]:
    """Touchpoint name → [(stage id, name)], and stage id/label → stage id (normalised)."""
    touchpoints: dict[str, list[tuple[str, str]]] = {}
    stages: dict[str, str] = {}
    for stage in process.stages:
        stages.setdefault(_key(stage.id), stage.id)
        if stage.label:
            stages.setdefault(_key(stage.label), stage.id)
        for tp in stage.touchpoints:
            touchpoints.setdefault(_key(tp.name), []).append((stage.id, tp.name))
    return touchpoints, stages


def _place_one(
    stage: str | None,
    touchpoint: str | None,
    touchpoints: dict[str, list[tuple[str, str]]],
    stages: dict[str, str],
) -> tuple[str | None, str | None]:
    """(stage id, touchpoint name) of one distinct (stage, touchpoint) pair; None: unplaced."""
    stage_id = stages.get(_key(stage)) if stage else None
    if touchpoint:
        found = touchpoints.get(_key(touchpoint), [])
        if stage_id is not None:
            found = [f for f in found if f[0] == stage_id]
        if len(found) == 1:
            return found[0]
        if not found and _key(touchpoint) in stages:
            return stages[_key(touchpoint)], None
        return (stage_id, None) if stage_id is not None and not found else (None, None)
    return stage_id, None


def place(feedback: FeedbackLog, process: Process) -> pl.DataFrame:
    """The answers with ``stage_id`` and ``touchpoint_name`` (null: unplaced), vectorised by
    distinct (stage, touchpoint) pair."""
    touchpoints, stages = _index(process)
    pairs = feedback.frame.select("stage", "touchpoint").unique(maintain_order=True)
    placed = [_place_one(s, t, touchpoints, stages) for s, t in pairs.iter_rows()]
    pairs = pairs.with_columns(
        pl.Series("stage_id", [a for a, _ in placed], pl.String),
        pl.Series("touchpoint_name", [b for _, b in placed], pl.String),
    )
    return feedback.frame.join(pairs, on=["stage", "touchpoint"], how="left", nulls_equal=True)


class JourneyRow(FlowsimModel):
    """The measured figures of one touchpoint (``level == "touchpoint"``) or phase."""

    model_config = ConfigDict(frozen=True)

    level: str
    stage: str
    phase: str
    touchpoint: str | None
    responses: int
    mean: float | None
    low: float | None
    high: float | None
    nps: float | None = None
    nps_low: float | None = None
    nps_high: float | None = None
    negative: float | None = None
    negative_low: float | None = None
    negative_high: float | None = None
    designed_emotion: float | None = None
    designed: float | None = None
    measured_emotion: float | None = None
    emotion_low: float | None = None
    emotion_high: float | None = None
    verdict: str
    #: phases, with a deal history: deals that entered, share of exits to a lost outcome,
    #: median days of the latest stay, re-entries (rework)
    deals: int | None = None
    drop_off: float | None = None
    median_days: float | None = None
    rework: int | None = None


class MeasuredJourney(FlowsimModel):
    """Measured scores per touchpoint and phase beside the design (module doc).

    Follows :class:`flowsim.Result`: ``text()``, ``to_json()``, ``to_frame()`` (polars),
    ``_repr_html_()``.
    """

    model_config = ConfigDict(frozen=True)

    process: str
    source: str
    scale: str
    answers: int
    placed: int
    rows_read: int = 0
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    rows: list[JourneyRow]
    problems: list[Diagnostic]

    def to_frame(self) -> pl.DataFrame:
        """One row per touchpoint and phase, in journey order (a phase after its touchpoints)."""
        return pl.DataFrame([r.model_dump() for r in self.rows], infer_schema_length=None)

    def to_json(self) -> str:
        """Every figure as JSON."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2)

    def _repr_html_(self) -> str:
        return html_table(f"measured journey: {self.process}", self.to_frame())

    def text(self) -> str:
        """The table a person reads (``flowsim feedback`` prints it)."""
        from flowsim.history.feedback.report import journey_text

        return journey_text(self)


def _stats(frame: pl.DataFrame, scale: Scale) -> dict[str, float | int | None]:
    """n, mean with its t interval, NPS with its interval, negative share with Wilson's."""
    s = frame.select(
        pl.len().alias("n"),
        pl.col("score").mean().alias("mean"),
        pl.col("score").std(ddof=1).alias("sd"),
        (pl.col("score") <= scale.negative_below).sum().alias("neg"),
        (pl.col("score") >= 9).sum().alias("pro"),
    ).row(0, named=True)
    n, mean, sd = int(s["n"]), s["mean"], s["sd"]
    out: dict[str, float | int | None] = {"responses": n, "mean": mean, "low": None, "high": None}
    if n >= 2 and sd is not None:
        half = t_quantile(0.5 + LEVEL / 2, n - 1) * sd / math.sqrt(n)
        out |= {"low": mean - half, "high": mean + half}
    if n:
        wilson = wilson_interval(int(s["neg"]), n, LEVEL)
        out |= {"negative": s["neg"] / n}
        if wilson is not None:
            out |= {"negative_low": wilson[0], "negative_high": wilson[1]}
    if n and scale.is_nps:
        pro, det = s["pro"] / n, s["neg"] / n
        nps = 100 * (pro - det)
        half = (
            100
            * NormalDist().inv_cdf(0.5 + LEVEL / 2)
            * math.sqrt(max(pro + det - (pro - det) ** 2, 0.0) / n)
        )
        out |= {"nps": nps, "nps_low": nps - half, "nps_high": nps + half}
    return out


def _verdict(stats: dict[str, float | int | None], designed: float | None) -> str:
    low, high = stats["low"], stats["high"]
    if designed is None:
        return "no design"
    if low is None or high is None:
        return "too few"
    if high < designed:
        return "worse"
    if low > designed:
        return "better"
    return "agrees"


def _row(
    level: str,
    stage: tuple[str, str],
    tp: Touchpoint | None,
    frame: pl.DataFrame,
    scale: Scale,
    emotion: float | None,
) -> JourneyRow:
    stats = _stats(frame, scale)
    designed = scale.from_emotion(emotion) if emotion is not None else None
    mean = stats["mean"]
    return JourneyRow(
        level=level,
        stage=stage[0],
        phase=stage[1],
        touchpoint=tp.name if tp is not None else None,
        designed_emotion=emotion,
        designed=designed,
        measured_emotion=scale.to_emotion(float(mean)) if mean is not None else None,
        emotion_low=None if stats["low"] is None else scale.to_emotion(float(stats["low"])),
        emotion_high=None if stats["high"] is None else scale.to_emotion(float(stats["high"])),
        verdict=_verdict(stats, designed),
        **stats,
    )


def measure_journey(
    feedback: FeedbackLog, process: Process, history: DealLog | None = None
) -> MeasuredJourney:
    """The measured journey of ``process`` from ``feedback`` (module doc).

    Parameters
    ----------
    feedback : FeedbackLog
        The answers (:func:`~flowsim.history.feedback.read_feedback`).
    process : Process
        The designed process: its phases, touchpoints and emotions.
    history : DealLog, optional
        The deal history: each phase row also says what it says (deals that entered, the
        drop-off to lost outcomes, the median days of the latest stay, re-entries), as
        :func:`flowsim.metrics` measures them.

    Returns
    -------
    MeasuredJourney
        A row per touchpoint and per phase, in the journey's order, and the unplaced answers'
        warnings (``unknown-touchpoint``, H506).

    Raises
    ------
    Nothing for the data
        Answers the process cannot place are warnings, never errors (a feedback file is
        refused earlier, by :func:`read_feedback`).

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> fb = flowsim.read_feedback("examples/history/b2b-cn-feedback.csv")
    >>> m = flowsim.measure_journey(fb, process)
    >>> [(r.touchpoint, r.verdict) for r in m.rows if r.touchpoint == "方案演示"]
    [('方案演示', 'worse')]
    """
    placed = place(feedback, process)
    stages = {s.id: s for s in process.stages}
    deal_figures = _history_figures(history, process) if history is not None else {}
    rows: list[JourneyRow] = []
    for sid in phase_order(process):
        stage = stages[sid]
        label = (stage.id, stage.label or stage.id)
        mine = placed.filter(pl.col("stage_id") == sid)
        mine_rows = []
        for tp in stage.touchpoints:
            answers = mine.filter(pl.col("touchpoint_name") == tp.name)
            mine_rows.append(_row("touchpoint", label, tp, answers, feedback.scale, tp.emotion))
        designed = _phase_emotion(stage.touchpoints, mine_rows)
        phase = _row("phase", label, None, mine, feedback.scale, designed)
        rows += [*mine_rows, phase.model_copy(update=deal_figures.get(sid, {}))]
    return MeasuredJourney(
        process=process.name,
        source=feedback.report.source,
        scale=feedback.scale.name,
        answers=feedback.frame.height,
        placed=int(placed["stage_id"].is_not_null().sum()),
        rows_read=feedback.report.rows_read,
        skipped_by_reason=dict(feedback.report.skipped_by_reason),
        rows=rows,
        problems=_unplaced(placed, feedback),
    )


def _history_figures(history: DealLog, process: Process) -> dict[str, dict[str, Any]]:
    """Per stage id: what the deal log says (the funnel's figures, without survival curves)."""
    from flowsim.history.metrics import metrics

    funnel = metrics(history, process, survival=False)
    out: dict[str, dict[str, Any]] = {}
    for sid, s in funnel.stages.items():
        if s.kind != "stage":
            continue
        median = s.time_latest.median
        out[sid] = {
            "deals": s.entered,
            "drop_off": s.leakage,
            "median_days": None if median is None else median / 24,
            "rework": s.reentries,
        }
    return out


def _phase_emotion(touchpoints: tuple[Touchpoint, ...], rows: list[JourneyRow]) -> float | None:
    """A phase's designed emotion: its touchpoints' emotions weighted by their answers (what
    the design predicts for these answers), or their plain mean when none has answers."""
    pairs = [(tp.emotion, r.responses) for tp, r in zip(touchpoints, rows, strict=True)]
    known = [(e, n) for e, n in pairs if e is not None]
    if not known:
        return None
    weight = sum(n for _, n in known)
    if weight == 0:
        return sum(e for e, _ in known) / len(known)
    return sum(e * n for e, n in known) / weight


def _unplaced(placed: pl.DataFrame, feedback: FeedbackLog) -> list[Diagnostic]:
    """One warning per distinct unplaced (stage, touchpoint): its count and first row."""
    lost = placed.filter(pl.col("stage_id").is_null())
    if lost.height == 0:
        return []
    groups = (
        lost.group_by("stage", "touchpoint", maintain_order=True)
        .agg(pl.len().alias("n"), pl.col("source_row").first().alias("row"))
        .sort("row")
    )
    column = feedback.report.mapping.get("touchpoint") or feedback.report.mapping.get("stage")
    out = []
    for stage, touchpoint, n, row in groups.iter_rows():
        out.append(
            p.problem(
                kind=p.UNKNOWN_TOUCHPOINT,
                severity="warning",
                source=feedback.report.source,
                row=row,
                column=column,
                value=touchpoint or stage,
                message=f"names no touchpoint or stage of the process ({n} answers left out)",
                hint="use a touchpoint's name or a stage's id or label; a touchpoint in "
                "several stages needs a stage column",
            )
        )
    return out
