"""Does the model reproduce history? Fidelity on a hold-out, against the noise floor.

The protocol (the one Simod and the Tartu framework use, with flowsim's noise floor beside it):

1. Split the history chronologically: the earlier part is what a model may be fitted on,
   the later part (the *hold-out*) is what it must reproduce.
2. Simulate the model stochastically over the whole span of the history, ``replications``
   times: from its first arrival (so the queues the model builds up by the hold-out's start
   are its own) to its last event (so deals still open at the end are open in both logs).
   The simulated deals arriving in the hold-out's period are compared.
3. Measure each replication's log against the hold-out with the distances of
   :mod:`flowsim.history.distances` and average them.
4. The **noise floor** is the same distances between two random halves of the hold-out:
   what two samples of the very same process, in the very same period, differ by. The
   halves hold half as many deals as the comparison, and these distances shrink like
   1/√n with sample size, so the floor is their value ÷ √2. Halves of the *whole* history
   would compare other periods (a queue that grows, a season) and understate the noise of
   the hold-out's period. A model within ~2× of the floor is as good as the data can tell;
   far above it, its what-ifs are not to be trusted.
"""

from __future__ import annotations

import math
from datetime import datetime

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from flowsim.history.consistency import to_node_ids
from flowsim.history.distances import (
    FidelityReport,
    chronological_split,
    fidelity_report,
    noise_floor,
)
from flowsim.history.log import DealLog
from flowsim.model import Process
from flowsim.sim.engine import Settings, run_once
from flowsim.sim.eventlog import event_log

__all__ = [
    "MEASURE_NAMES",
    "TRUST_FACTOR",
    "FidelityResult",
    "MeasureVerdict",
    "fidelity",
    "verdict_text",
]

#: a measure worse than this many times its noise floor fails the trust gate
TRUST_FACTOR = 2.0


class MeasureVerdict(BaseModel):
    """One measure: the model's distance, the noise floor, and their ratio."""

    model_config = ConfigDict(frozen=True)

    name: str
    unit: str
    model: float | None
    floor: float | None
    ratio: float | None
    ok: bool | None = Field(description="ratio <= TRUST_FACTOR (None: not measurable).")


class FidelityResult(BaseModel):
    """Fidelity of a model against a history hold-out, measure by measure."""

    model_config = ConfigDict(frozen=True)

    process: str
    history: str
    train_deals: int
    holdout_deals: int
    replications: int
    seed: int
    measures: list[MeasureVerdict]
    replication_reports: list[FidelityReport] = Field(default_factory=list, repr=False)
    floor_report: FidelityReport | None = Field(default=None, repr=False)

    @property
    def failing(self) -> list[MeasureVerdict]:
        return [m for m in self.measures if m.ok is False]

    @property
    def trusted(self) -> bool:
        return not self.failing

    def warning(self) -> str | None:
        """The trust-gate sentence, or None when the model is within the noise."""
        if self.trusted:
            return None
        worst = ", ".join(
            f"{m.name.replace('_distribution_distance', '').replace('_distance', '')} "
            f"{m.model:.3g} vs floor {m.floor:.3g} ({m.ratio:.1f}×)"
            for m in self.failing
            if m.model is not None and m.floor is not None and m.ratio is not None
        )
        return (
            f"the model is worse than {TRUST_FACTOR:g}× the noise floor of the history on: "
            f"{worst}; treat its what-if results with care (see `flowsim fidelity`)"
        )

    def distrusted(self) -> list[str]:
        """The conclusions (keys of :data:`CONCLUSIONS`) the failing measures undermine.

        Each measure speaks for what it compares (:data:`UNDERMINES`); the what-if deltas
        depend on the whole model, so any failing measure undermines them.
        """
        keys = {k for m in self.failing for k in UNDERMINES.get(m.name, ())}
        if self.failing:
            keys.add("whatifs")
        return [k for k in CONCLUSIONS["en"] if k in keys]

    def verdict(self, lang: str = "en") -> str | None:
        """The headline's first sentences when the model fails, else None.

        What failed (the worst measure and its ratio to the noise floor, then the others),
        which conclusions cannot be trusted, and which still can (what history measured).
        """
        return verdict_text(self, lang)

    def text(self) -> str:
        lines = [
            f"fidelity of {self.process} against {self.history}: "
            f"hold-out {self.holdout_deals} deals (fitted part {self.train_deals}), "
            f"{self.replications} replications, seed {self.seed}",
            "",
        ]
        width = max(len(m.name) for m in self.measures)
        lines.append(f"{'measure':<{width}}  {'model':>10}  {'noise floor':>11}  {'ratio':>6}  ok")
        for m in self.measures:
            model = "-" if m.model is None else f"{m.model:.4g}"
            floor = "-" if m.floor is None else f"{m.floor:.4g}"
            ratio = "-" if m.ratio is None else f"{m.ratio:.2f}"
            ok = "-" if m.ok is None else ("yes" if m.ok else "NO")
            lines.append(f"{m.name:<{width}}  {model:>10}  {floor:>11}  {ratio:>6}  {ok}  {m.unit}")
        w = self.warning()
        lines += [
            "",
            f"warning: {w}" if w else "the model is within the noise floor on every measure",
        ]
        return "\n".join(lines) + "\n"


#: what each measure compares, as the conclusions it undermines when it fails
UNDERMINES: dict[str, tuple[str, ...]] = {
    "n_gram_distance": ("paths",),
    "absolute_event_distribution_distance": ("queues",),
    "circadian_event_distribution_distance": ("queues",),
    "relative_event_distribution_distance": ("cycle_times", "queues"),
    "case_arrival_distribution_distance": ("queues",),
    "cycle_time_distribution_distance": ("cycle_times",),
    "circadian_workforce_distance": ("queues",),
}

#: the conclusions a report draws from the simulation, in the order the verdict lists them
CONCLUSIONS: dict[str, dict[str, str]] = {
    "en": {
        "cycle_times": "the absolute cycle times and times in stage",
        "queues": "the queue waits, utilizations and the principal bottleneck",
        "paths": "the simulated paths, won and lost deals",
        "whatifs": "every what-if delta",
    },
    "zh": {
        "cycle_times": "销售周期和各阶段停留时间的绝对值",
        "queues": "排队等待、利用率和主要瓶颈",
        "paths": "仿真的路径及赢单、输单数",
        "whatifs": "所有假设方案的差值",
    },
}

#: the fidelity measures' names for people, per language (the report's catalogue uses them)
MEASURE_NAMES: dict[str, dict[str, str]] = {
    "en": {
        "n_gram_distance": "n-gram (paths)",
        "absolute_event_distribution_distance": "absolute event timing",
        "circadian_event_distribution_distance": "circadian event timing",
        "relative_event_distribution_distance": "relative event timing",
        "case_arrival_distribution_distance": "case arrival",
        "cycle_time_distribution_distance": "cycle time",
        "circadian_workforce_distance": "circadian workforce",
    },
    "zh": {
        "n_gram_distance": "n-gram（路径）",
        "absolute_event_distribution_distance": "绝对事件时间",
        "circadian_event_distribution_distance": "昼夜事件时间",
        "relative_event_distribution_distance": "相对事件时间",
        "case_arrival_distribution_distance": "商机到达",
        "cycle_time_distribution_distance": "销售周期",
        "circadian_workforce_distance": "昼夜人力",
    },
}

_VERDICT: dict[str, dict[str, str]] = {
    "en": {
        "fails": "The model does not reproduce the history: its {measure} distance is "
        "{ratio:.1f}× the noise floor{others} (a model is trusted within {limit:g}×).",
        "others": "; also {items}",
        "item": "{measure} {ratio:.1f}×",
        "join": ", ",
        "list": "; ",
        "untrusted": " Not to be trusted: {items}.",
        "trusted": " Still sound: the funnel, conversion and durations measured from the "
        "history itself.",
        "and": "; and ",
    },
    "zh": {
        "fails": "模型未能重现历史数据：其{measure}距离是噪声基线的 {ratio:.1f} 倍{others}"
        "（可信模型应在 {limit:g} 倍以内）。",
        "others": "；另有{items}",
        "item": "{measure} {ratio:.1f} 倍",
        "join": "、",
        "list": "；",
        "untrusted": "不可信：{items}。",
        "trusted": "仍然可信：直接从历史数据测得的漏斗、转化率和停留时间。",
        "and": "；以及",
    },
}


def verdict_text(result: FidelityResult, lang: str = "en") -> str | None:
    """The fidelity verdict for a headline (None when every measure is within the gate)."""
    ranked = sorted(
        (m for m in result.failing if m.ratio is not None),
        key=lambda m: (-(m.ratio or 0.0), m.name),
    )
    if not ranked:
        return None
    t = _VERDICT.get(lang, _VERDICT["en"])
    names = MEASURE_NAMES.get(lang, MEASURE_NAMES["en"])
    head, *rest = ranked
    others = ""
    if rest:
        items = t["join"].join(
            t["item"].format(measure=names.get(m.name, m.name), ratio=m.ratio) for m in rest
        )
        others = t["others"].format(items=items)
    text = t["fails"].format(
        measure=names.get(head.name, head.name),
        ratio=head.ratio,
        others=others,
        limit=TRUST_FACTOR,
    )
    words = CONCLUSIONS.get(lang, CONCLUSIONS["en"])
    parts = [words[k] for k in result.distrusted()]
    listed = t["list"].join(parts[:-1]) + t["and"] + parts[-1] if len(parts) > 1 else parts[0]
    return text + t["untrusted"].format(items=listed) + t["trusted"]


def _instant(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError("the history has no timestamps")
    return value


def _arrived_from(log: DealLog, cut: datetime) -> DealLog:
    """The deals of ``log`` whose first record is at or after ``cut``."""
    firsts = log.frame.group_by("deal").agg(pl.col("entered_at").min().alias("first"))
    keep = firsts.filter(pl.col("first") >= cut)["deal"]
    return log.derive(log.frame.filter(pl.col("deal").is_in(keep.implode())))


def fidelity(
    process: Process,
    history: DealLog,
    *,
    train_share: float = 0.5,
    replications: int = 3,
    seed: int = 0,
    tz: str = "UTC",
    max_days: float = 3 * 365,
) -> FidelityResult:
    """Measure how closely ``process`` reproduces the later part of ``history``.

    The history is split chronologically; the model is simulated over the history's span and
    its deals arriving in the hold-out's period (the later ``1 - train_share``) are compared
    with the hold-out by the distances of :mod:`flowsim.history.distances` (docs/fidelity.md),
    each set beside the noise floor: the same distance between two halves of the hold-out.

    Parameters
    ----------
    process : Process
        The model (it needs ``arrivals``).
    history : DealLog
        The real deal history.
    train_share : float, default 0.5
        The earlier share of the history that is not scored.
    replications : int, default 3
        Simulated logs compared, each against the hold-out.
    seed : int, default 0
        The random seed.
    tz : str, default "UTC"
        The clock of the circadian measures (weekday, hour of day).
    max_days : float, default 1095
        At most this many days of hold-out are simulated.

    Returns
    -------
    FidelityResult
        Each measure's value, spread over replications and noise floor, the measures that fail,
        and a verdict (``trusted``, ``text()``).

    Raises
    ------
    ValueError
        The model has no arrivals, the history has no timestamps, or its hold-out has fewer
        than 2 deals.

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> result = flowsim.fidelity(process, log, replications=1)
    >>> type(result).__name__, result.replications, isinstance(result.trusted, bool)
    ('FidelityResult', 1, True)
    >>> [m.name for m in result.measures][:2]
    ['n_gram_distance', 'absolute_event_distribution_distance']
    >>> result.train_deals + result.holdout_deals == log.frame["deal"].n_unique()
    True
    """
    if process.arrivals is None:
        raise ValueError("fidelity simulates the model: it needs `arrivals` in the process block")
    history = to_node_ids(history, process)
    train, holdout = chronological_split(history, train_share)
    n_deals = holdout.deals
    if n_deals < 2:
        raise ValueError("the hold-out has fewer than 2 deals: the history is too short")
    frame = history.frame
    start = _instant(frame["entered_at"].min())
    firsts = holdout.frame.group_by("deal").agg(pl.col("entered_at").min())
    cut = _instant(firsts["entered_at"].min())
    end = max(
        _instant(v) for v in (frame["entered_at"].max(), frame["left_at"].max()) if v is not None
    )
    horizon = min((end - start).total_seconds() / 3600, max_days * 24)
    floor = noise_floor(holdout, seed=seed, tz=tz)
    reports: list[FidelityReport] = []
    for r in range(replications):
        # The model runs over the whole history (so the state it reaches by the hold-out's
        # start is its own, queues included) and is cut where history ends (so deals open
        # at the end are open in both); the deals arriving in the hold-out are compared.
        settings = Settings(epoch=start, until=horizon, warmup=0.0, keep_log=True)
        run = run_once(process, settings, seed, r)
        simulated = _arrived_from(event_log(run, start, process.name), cut)
        reports.append(fidelity_report(holdout, simulated, tz=tz))
    names = list(reports[0].measures)
    verdicts = []
    for name in names:
        values = [rep.value(name) for rep in reports]
        finite = [v for v in values if v is not None and math.isfinite(v)]
        model = sum(finite) / len(finite) if finite else None
        raw = floor.value(name) if name in floor.measures else None
        f = raw / math.sqrt(2) if raw is not None else None
        ratio = model / f if model is not None and f is not None and f > 0 else None
        # A floor of 0 (e.g. circadian distances on date-only history) cannot judge anything.
        ok = None if ratio is None else ratio <= TRUST_FACTOR
        verdicts.append(
            MeasureVerdict(
                name=name,
                unit=reports[0].measures[name].unit,
                model=model,
                floor=f,
                ratio=ratio,
                ok=ok,
            )
        )
    return FidelityResult(
        process=process.name,
        history=history.report.source,
        train_deals=train.deals,
        holdout_deals=n_deals,
        replications=replications,
        seed=seed,
        measures=verdicts,
        replication_reports=reports,
        floor_report=floor,
    )
