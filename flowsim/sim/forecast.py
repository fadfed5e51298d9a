"""Pipeline forecast: Monte Carlo from today's open deals, beside the CRM weighted pipeline.

``forecast(process, history)`` starts from the deals open at ``as_of`` (each continues from
its current stage, conditioned on the time it has already spent there: the engine's "start
from today"), adds new deals arriving by the model, and runs the horizon ``replications``
times. Every replication's wins and revenue are binned by calendar week and month in the
worker (a few numbers per replication travel back, not the deals), and the bands are the
10th, 50th and 90th percentiles over replications.

Beside it stands the number a CRM shows: the *weighted pipeline*, Σ over open deals of
P(win | current stage) × amount. P(win | stage) is taken from the model (the probability of
eventually reaching a ``won`` outcome from the stage: an absorbing Markov chain over the
transition probabilities), so both methods rest on the same fitted model and differ only in
what they assume about time and new deals. Its P10-P90 band treats each open deal as an
independent coin with that probability.

Amounts: an open deal's amount from history, else a draw from the model's ``amount``; new
deals draw from ``amount``. Without any amount the forecast counts deals only, and says so.
A ``target`` in the model adds the probability of reaching it in each target period (revenue
won since the period start before ``as_of`` counts), and which scenario raises it most: every
scenario runs the same replications on the same random streams (common random numbers).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.errors import InputError
from flowsim.model import Distribution, Duration, Process, RateArrivals, Target, parse_duration
from flowsim.sim.engine import Settings, run_once
from flowsim.sim.executors import default_workers, run_batches
from flowsim.sim.periods import Per, Period, bin_sums, calendar_periods
from flowsim.sim.replay import OpenDeal, open_deals
from flowsim.sim.sampling import Streams, block_sampler
from flowsim.sim.wins import won_records

__all__ = [
    "Band",
    "BaselineForecast",
    "Difference",
    "Drawn",
    "Forecast",
    "PeriodForecast",
    "SourceSplit",
    "StageWin",
    "TargetForecast",
    "TargetPeriod",
    "WeightedPipeline",
    "WhatIf",
    "forecast",
    "forecast_draws",
    "last_event",
    "win_probabilities",
]

Progress = Callable[[int, int], None]
Uncertainty = Literal["parameters", "simulation"]

#: the views every forecast bins into (the target's period is added when there is a target)
VIEWS: tuple[Per, ...] = ("week", "month")


class Band(FlowsimModel):
    """A quantity over replications: mean and the 10th, 50th and 90th percentiles (and the
    25th and 75th, the inner band of the report's fan chart)."""

    model_config = ConfigDict(frozen=True)

    mean: float
    p10: float
    p50: float
    p90: float
    p25: float | None = None
    p75: float | None = None

    @classmethod
    def of(cls, values: np.ndarray) -> Band:
        q = np.quantile(values, [0.1, 0.25, 0.5, 0.75, 0.9]) if values.size else np.zeros(5)
        return cls(
            mean=float(values.mean()) if values.size else 0.0,
            p10=float(q[0]),
            p50=float(q[2]),
            p90=float(q[4]),
            p25=float(q[1]),
            p75=float(q[3]),
        )


class PeriodForecast(FlowsimModel):
    """Wins (deals) and revenue inside one calendar period's part of the forecast window."""

    model_config = ConfigDict(frozen=True)

    period: str = Field(description="'2026-W03', '2026-01', or 'total'.")
    start: str = Field(description="Start of the window part (ISO, process time zone).")
    end: str
    whole: bool = Field(description="The window covers the whole calendar period.")
    wins: Band
    revenue: Band | None = None


class StageWin(FlowsimModel):
    """One stage's line of the weighted pipeline."""

    model_config = ConfigDict(frozen=True)

    stage: str = Field(description="The stage id.")
    win_probability: float = Field(description="P(eventually won | in this stage).")
    open_deals: int
    amount: float | None = Field(description="Sum of the open deals' amounts.")
    expected_wins: float
    expected_revenue: float | None


class WeightedPipeline(FlowsimModel):
    """The classic CRM number: Σ over open deals of P(win | stage) × amount."""

    model_config = ConfigDict(frozen=True)

    method: str = (
        "P(win | stage) from the model: the probability of eventually reaching a won outcome "
        "from the stage (absorbing Markov chain over the transition probabilities)"
    )
    open_deals: int
    amounts_from_model: int = Field(
        0, description="Open deals without an amount in history, valued at the model's mean."
    )
    stages: list[StageWin]
    wins: Band = Field(description="Expected eventual wins; P10-P90 from independent deals.")
    revenue: Band | None = None


class TargetPeriod(FlowsimModel):
    """The probability of reaching the target in one target period."""

    model_config = ConfigDict(frozen=True)

    period: str = Field(description="'2026-Q1', '2026-03', '2026-W09' or '2026'.")
    complete: bool = Field(description="The horizon reaches the period's end.")
    already_won: float = Field(description="Revenue won in the period before as_of.")
    start: str = Field(description="The calendar period's start (ISO).")
    end: str
    revenue: Band = Field(description="already_won + forecast revenue up to the horizon.")
    probability: float = Field(description="Share of replications reaching the target.")
    scenarios: dict[str, float] = Field(
        default_factory=dict, description="The same probability under each scenario."
    )


class TargetForecast(FlowsimModel):
    """The model's sales target against the forecast."""

    model_config = ConfigDict(frozen=True)

    amount: float
    currency: str | None
    per: Per
    periods: list[TargetPeriod]
    best_scenario: str | None = Field(
        None, description="The scenario raising the probability most (mean over periods)."
    )
    best_gain: float | None = Field(None, description="Its gain in probability (0..1).")


class BaselineForecast(FlowsimModel):
    """A baseline's forecast: what the recent past alone says (:mod:`flowsim.sim.baselines`)."""

    model_config = ConfigDict(frozen=True)

    method: str = Field(description="'run_rate' or 'seasonal_naive'.")
    description: str = Field(description="What it carries forward, in words.")
    point_only: bool = Field(description="One value per period: its bands have no width.")
    weeks: list[PeriodForecast]
    months: list[PeriodForecast]
    total: PeriodForecast


class SourceSplit(FlowsimModel):
    """The Monte Carlo's wins and revenue by where the deal comes from, as CRMs split them:
    today's open pipeline (the deals open at ``as_of`` the Monte Carlo continued) and the deals
    not yet created (arriving by the model). Per replication the two parts add up to the
    forecast's total, so their means add up; their quantiles do not (each is its own
    distribution)."""

    model_config = ConfigDict(frozen=True)

    open_deals: int = Field(
        description="The open deals the Monte Carlo continued (stale ones left out when dropped)."
    )
    existing: PeriodForecast = Field(description="Over the horizon, from the open pipeline.")
    new: PeriodForecast = Field(description="Over the horizon, from deals created after as_of.")
    existing_months: list[PeriodForecast] = Field(default_factory=list)
    new_months: list[PeriodForecast] = Field(default_factory=list)


class Difference(FlowsimModel):
    """One measure over the horizon under a scenario against the model as it is."""

    model_config = ConfigDict(frozen=True)

    measure: Literal["wins", "revenue"]
    baseline: Band = Field(description="The model as it is.")
    scenario: Band = Field(description="The model under the scenario.")
    paired: Band = Field(
        description="Per replication, scenario minus baseline on the same random numbers: "
        "P10-P90 is the difference's 80% interval."
    )
    unpaired: Band = Field(
        description="Scenario minus the next replication's baseline (independent runs): "
        "how wide the interval would be without common random numbers."
    )
    mean_low: float = Field(description="95% confidence interval of the mean difference.")
    mean_high: float


class WhatIf(FlowsimModel):
    """A scenario's forecast against the model's, paired replication by replication."""

    model_config = ConfigDict(frozen=True)

    scenario: str
    replications: int
    measures: list[Difference] = Field(description="Wins, then revenue when it is known.")

    def of(self, measure: str) -> Difference:
        """The difference in ``"wins"`` or ``"revenue"``."""
        for d in self.measures:
            if d.measure == measure:
                return d
        raise KeyError(measure)


class Forecast(FlowsimModel):
    """The result of :func:`forecast` (plain data; its JSON is the contract)."""

    model_config = ConfigDict(frozen=True)

    process: str
    as_of: str
    end: str
    horizon_hours: float
    timezone: str
    seed: int
    replications: int
    uncertainty: Uncertainty = Field(
        "parameters",
        description="'parameters': each replication runs its own bootstrap refit of the model; "
        "'simulation': all run the model as given.",
    )
    models: int = Field(1, description="How many models the replications ran (bootstrap refits).")
    open_deals: int
    stale_deals: int = Field(
        0, description="Open deals in their stage longer than 99% of the model's stays."
    )
    stale_dropped: bool = Field(True, description="The Monte Carlo left the stale deals out.")
    arrivals_per_week: float | None
    currency: str | None
    revenue_known: bool
    weeks: list[PeriodForecast]
    months: list[PeriodForecast]
    total: PeriodForecast
    weighted: WeightedPipeline
    split: SourceSplit | None = Field(
        None, description="The Monte Carlo's wins and revenue: open pipeline against new deals."
    )
    baselines: list[BaselineForecast] = Field(
        default_factory=list, description="Run-rate and seasonal naive, when the history allows."
    )
    target: TargetForecast | None = None
    whatif: WhatIf | None = Field(
        None, description="The scenario asked for, against the model (common random numbers)."
    )
    notes: list[str] = Field(default_factory=list)

    def text(self) -> str:
        """The report a person reads (see :mod:`flowsim.sim.forecast_text`)."""
        from flowsim.sim.forecast_text import forecast_text

        return forecast_text(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The forecast as JSON (the contract of ``flowsim forecast --format json``)."""
        return self.model_dump_json(indent=indent)

    def to_frame(self) -> pl.DataFrame:
        """The forecast's periods, one row each (weeks, months, then the total).

        Columns: ``view``, ``period``, ``start``, ``end``, ``whole``, then ``wins_`` and
        ``revenue_`` mean, p10, p50, p90 (revenue null when amounts are unknown).
        """
        views = [("week", p) for p in self.weeks] + [("month", p) for p in self.months]
        return pl.DataFrame(
            [_period_row(v, p) for v, p in [*views, ("total", self.total)]],
            schema=_PERIOD_SCHEMA,
            orient="row",
        )

    def _repr_html_(self) -> str:
        from flowsim.result import html_table

        return html_table(f"forecast of {self.process} from {self.as_of}", self.to_frame())


_BANDS = ("mean", "p10", "p50", "p90")
_PERIOD_SCHEMA: dict[str, Any] = {
    "view": pl.String,
    "period": pl.String,
    "start": pl.String,
    "end": pl.String,
    "whole": pl.Boolean,
    **{f"wins_{b}": pl.Float64 for b in _BANDS},
    **{f"revenue_{b}": pl.Float64 for b in _BANDS},
}


def _period_row(view: str, p: PeriodForecast) -> list[Any]:
    revenue = [None] * 4 if p.revenue is None else [getattr(p.revenue, b) for b in _BANDS]
    return [
        view,
        p.period,
        p.start,
        p.end,
        p.whole,
        *(getattr(p.wins, b) for b in _BANDS),
        *revenue,
    ]


# ---- the model's stage win probabilities ------------------------------------------------------


def win_probabilities(process: Process) -> dict[str, float]:
    """P(a deal in each stage eventually reaches a ``won`` outcome), from the model.

    Solves ``x = r + Q x`` (``Q``: stage-to-stage probabilities, ``r``: the probability of
    moving straight to a won outcome). The language refuses trap loops (E215), so ``I - Q`` is
    invertible.
    """
    stages = [s.id for s in process.stages]
    index = {s: i for i, s in enumerate(stages)}
    won = {o.id for o in process.outcomes if o.result == "won"}
    n = len(stages)
    q = np.zeros((n, n))
    r = np.zeros(n)
    for s in stages:
        for t, p in process.outgoing(s):
            if t.target in index:
                q[index[s], index[t.target]] += p
            elif t.target in won:
                r[index[s]] += p
    x = np.linalg.solve(np.eye(n) - q, r) if n else r
    return {s: float(min(1.0, max(0.0, x[i]))) for i, s in enumerate(stages)}


# ---- history helpers ---------------------------------------------------------------------------


def last_event(log: Any) -> datetime:
    """The log's last timestamp (entry, start or exit): where "today" is by default."""
    frame = log.frame
    ends = [
        v
        for v in (frame["entered_at"].max(), frame["left_at"].max(), frame["started_at"].max())
        if isinstance(v, datetime)
    ]
    if not ends:
        raise InputError("the history has no timestamps")
    return max(ends)


# ---- the Monte Carlo ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Payload:
    """What every worker needs, shipped once per batch: the runs, and how to bin them."""

    processes: tuple[tuple[Process, ...], ...]  # per model: the baseline, then each scenario
    settings: Settings
    seed: int
    won: tuple[int, ...]  # node indices of won outcomes
    fill: Distribution | None  # amount for deals without one (open deals from history)
    views: dict[str, list[Period]]


def _run_batch(payload: _Payload, batch: list[tuple[int, int]]) -> list[tuple[int, int, Any]]:
    """Run each (scenario, replication) and bin its wins and revenue by period (in the worker)."""
    out: list[tuple[int, int, Any]] = []
    horizon = payload.settings.until or 0.0
    for s, r in batch:
        models = payload.processes[r % len(payload.processes)]  # replication r: its own model
        run = run_once(models[s], payload.settings, payload.seed, r, base=models[0])
        amount = run.amount.copy()
        unknown = np.isnan(amount)
        if payload.fill is not None and unknown.any():
            rng = Streams(payload.seed, r).rng("amount:open-deals")
            amount[unknown] = block_sampler(payload.fill)(rng, int(unknown.sum()))
        won = np.isin(run.outcome, payload.won) & (run.finish >= 0) & (run.finish <= horizon)
        # the open deals are the run's first deals (made before any arrival): its pipeline
        existing = won & (np.arange(len(won)) < len(payload.settings.open_deals))
        out.append(
            (
                s,
                r,
                {
                    v: _binned(run.finish, amount, won, existing, ps)
                    for v, ps in payload.views.items()
                },
            )
        )
    return out


def _binned(
    finish: np.ndarray, amount: np.ndarray, won: np.ndarray, existing: np.ndarray, ps: list[Period]
) -> np.ndarray:
    """Per period: wins and revenue of all deals, of the open pipeline's, of the new ones."""
    a = np.where(np.isnan(amount), 0.0, amount)
    new = won & ~existing
    return np.array(
        [bin_sums(finish[m], w, ps) for m in (won, existing, new) for w in (None, a[m])]
    )


def _batches(jobs: list[tuple[int, int]], workers: int) -> list[list[tuple[int, int]]]:
    size = max(1, math.ceil(len(jobs) / (4 * max(workers, 1))))
    return [jobs[i : i + size] for i in range(0, len(jobs), size)]


def _limits(process: Process, seed: int) -> dict[int, float]:
    """Per stage index, the 99th percentile of the model's stay (effort + wait, 4,096 draws).

    An open deal older than that is *stale*: the model knows almost no stay that long.
    """
    streams = Streams(seed, 0)
    q99: dict[int, float] = {}
    for i, stage in enumerate(process.stages):
        total = np.zeros(4096)
        for dist, name in ((stage.effort, "effort"), (stage.wait, "wait")):
            if dist is not None:
                total += block_sampler(dist)(streams.rng(f"stale:{name}:{stage.id}"), 4096)
        q99[i] = float(np.quantile(total, 0.99))
    return q99


def _weighted(
    process: Process, pipeline: list[OpenDeal], fill: float | None, seed: int
) -> tuple[WeightedPipeline, np.ndarray]:
    """The weighted pipeline, and its draws (2,000 × wins/revenue): independent coins per deal."""
    probs = win_probabilities(process)
    stages = [s.id for s in process.stages]
    p = np.array([probs[stages[d.node]] for d in pipeline])
    raw = np.array([d.amount for d in pipeline], dtype=float)
    missing = np.isnan(raw)
    known = not missing.any() or fill is not None
    amount = np.where(missing, fill if fill is not None else 0.0, raw)
    rows: list[StageWin] = []
    for i, s in enumerate(stages):
        here = np.array([d.node == i for d in pipeline], dtype=bool)
        if not here.any():
            continue
        rows.append(
            StageWin(
                stage=s,
                win_probability=probs[s],
                open_deals=int(here.sum()),
                amount=float(amount[here].sum()) if known else None,
                expected_wins=float(p[here].sum()),
                expected_revenue=float((p * amount)[here].sum()) if known else None,
            )
        )
    draws = _coins(p, amount, seed)

    def band(values: np.ndarray, mean: float) -> Band:
        return Band.of(values).model_copy(update={"mean": mean})

    weighted = WeightedPipeline(
        open_deals=len(pipeline),
        amounts_from_model=int(missing.sum()) if fill is not None else 0,
        stages=rows,
        wins=band(draws[:, 0], float(p.sum())),
        revenue=band(draws[:, 1], float(p @ amount)) if known else None,
    )
    return weighted, draws


def _coins(p: np.ndarray, amount: np.ndarray, seed: int) -> np.ndarray:
    """2,000 draws of (wins, revenue): each open deal an independent coin with probability p."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x5EED,)))
    draws = np.zeros((2000, 2))
    for lo in range(0, len(p), 512):
        coins = rng.random((2000, len(p[lo : lo + 512]))) < p[lo : lo + 512]
        draws[:, 0] += coins.sum(axis=1)
        draws[:, 1] += coins @ amount[lo : lo + 512]
    return draws


def _iso(moment: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    return moment.astimezone(ZoneInfo(tz)).isoformat()


def forecast(
    process: Process,
    history: Any,
    *,
    horizon_hours: Duration = 90 * 24,
    as_of: datetime | None = None,
    replications: int = 200,
    seed: int = 0,
    workers: int | None = None,
    cluster: str | None = None,
    progress: Progress | None = None,
    drop_stale: bool = True,
    run_rate_weeks: int = 13,
    uncertainty: Uncertainty = "parameters",
    scenario: str | None = None,
) -> Forecast:
    """Forecast wins and revenue from the pipeline open at ``as_of`` (default: the log's end).

    Records after ``as_of`` are ignored. Same arguments and ``seed`` give the same result
    whatever ``workers`` or ``cluster`` runs the replications.

    Parameters
    ----------
    process : Process
        The model the open deals continue by, and new deals arrive by.
    history : DealLog
        The deal history: its deals open at ``as_of`` are the pipeline.
    horizon_hours : float or str, default 2160 (90 days)
        Hours, or a duration such as ``"90d"`` or ``"13w"``.
    as_of : datetime, optional
        "Today" (time-zone aware); default the history's last event.
    replications : int, default 200
        Monte Carlo runs (at least 1).
    seed : int, default 0
        The random seed.
    workers, cluster : optional
        Where the replications run: local processes or a Dask scheduler.
    progress : callable, optional
        Called as replications finish.
    drop_stale : bool, default True
        Leaves out of the Monte Carlo the open deals older than 99% of the model's stays in
        their stage (the weighted pipeline always counts them).
    run_rate_weeks : int, default 13
        The weeks the run-rate baseline carries forward (:mod:`flowsim.sim.baselines`).
    uncertainty : {"parameters", "simulation"}, default "parameters"
        What the Monte Carlo's bands hold: ``"parameters"`` runs every replication on its own
        refit of the model on a bootstrap resample of the history's deals
        (:mod:`flowsim.sim.bootstrap`), so they hold the fitted numbers' error as well as the
        simulation's noise; ``"simulation"`` runs every replication on the model as given.
    scenario : str, optional
        A scenario of the model to forecast beside it (``Forecast.whatif``): every
        replication runs the model and the scenario on the same random numbers (and the same
        bootstrap refit), so the per-replication difference is the scenario's effect without
        the runs' noise, and its P10-P90 is an 80% interval ("+¥X next quarter, [a, b]").

    Returns
    -------
    Forecast
        Wins and revenue by week and month with intervals, the total, the weighted pipeline
        and the baselines (run-rate, seasonal naive) beside it, and the target when the
        process has one (``text()``).

    Raises
    ------
    DurationError
        ``horizon_hours`` is not a duration.
    InputError
        Fewer than 1 replication, a horizon not above 0, a naive ``as_of``, a history without
        timestamps, or no open deal and no arrivals.
    UnknownScenario
        ``scenario`` is not a scenario of the model (the message lists those there are).

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> future = flowsim.forecast(process, log, horizon_hours="30d", replications=20)
    >>> future.open_deals, future.replications, future.horizon_hours
    (62, 20, 720.0)
    >>> future.as_of  # the log's last event, in the log's time zone
    '2025-11-30T23:40:00+08:00'
    """
    return forecast_draws(
        process,
        history,
        horizon_hours=horizon_hours,
        as_of=as_of,
        replications=replications,
        seed=seed,
        workers=workers,
        cluster=cluster,
        progress=progress,
        drop_stale=drop_stale,
        run_rate_weeks=run_rate_weeks,
        uncertainty=uncertainty,
        scenario=scenario,
    ).forecast


@dataclass(frozen=True)
class Drawn:
    """A forecast and every method's draws, for scoring (:mod:`flowsim.sim.scores`).

    ``draws[method][view]`` is an array (draw, wins/revenue, period) and
    ``points[method][view]`` (wins/revenue, period) the method's point forecast: the Monte
    Carlo's median, the others' mean. Methods: ``monte_carlo``, ``weighted_pipeline`` (its
    eventual total spread over the horizon by hours), and the available baselines.
    """

    forecast: Forecast
    draws: dict[str, dict[str, np.ndarray]]
    points: dict[str, dict[str, np.ndarray]]
    #: the Monte Carlo's draws by source, ``parts["existing" or "new"][view]``, shaped as draws
    parts: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)


def forecast_draws(
    process: Process,
    history: Any,
    *,
    horizon_hours: Duration = 90 * 24,
    as_of: datetime | None = None,
    replications: int = 200,
    seed: int = 0,
    workers: int | None = None,
    cluster: str | None = None,
    progress: Progress | None = None,
    drop_stale: bool = True,
    run_rate_weeks: int = 13,
    uncertainty: Uncertainty = "parameters",
    scenario: str | None = None,
) -> Drawn:
    """:func:`forecast`, keeping every method's draws (same arguments)."""
    _check_budget(replications, uncertainty)
    horizon_hours = parse_duration(horizon_hours, what="the horizon")
    when = _as_of(history, as_of, horizon_hours)
    tz = (process.calendar.timezone if process.calendar else None) or "UTC"
    pipe = _pipeline(history, process, when, int(seed), drop_stale)
    notes: list[str] = []
    fill = process.amount
    revenue_known = _amount_notes(process, pipe.deals, notes)
    runs = _runs(process, revenue_known, notes, scenario)
    models = _models(process, history, when, runs, replications, uncertainty, int(seed))
    views = _views(when, horizon_hours, tz, runs.target.per if runs.target is not None else None)
    won_nodes = _won_nodes(process, notes)
    settings = Settings(epoch=when, until=float(horizon_hours), open_deals=tuple(pipe.running))
    payload = _Payload(models, settings, int(seed), won_nodes, fill, views)
    per_view = _monte_carlo(payload, replications, workers, cluster, progress)
    if pipe.stale:
        notes.append(_stale_note(len(pipe.stale), drop_stale))
    weighted, coins = _weighted(
        process, pipe.deals, fill.expected if fill is not None else None, int(seed)
    )
    scored = {v: views[v] for v in ("week", "month", "total")}
    methods = _Methods(when, tz, revenue_known, scored)
    methods.add("monte_carlo", {v: per_view[v][0, :, :2] for v in scored}, None)
    methods.add_weighted(weighted, coins, scored, horizon_hours)
    baselines = methods.add_baselines(
        won_records(history, process).filter(pl.col("entered_at") <= when),
        scored,
        horizon_hours,
        run_rate_weeks,
        int(seed),
        notes,
    )
    result = Forecast(
        process=process.name,
        as_of=_iso(when, tz),
        end=_iso(when + timedelta(hours=horizon_hours), tz),
        horizon_hours=float(horizon_hours),
        timezone=tz,
        seed=int(seed),
        replications=replications,
        uncertainty=uncertainty,
        models=len(models),
        open_deals=len(pipe.deals),
        stale_deals=len(pipe.stale),
        stale_dropped=drop_stale,
        arrivals_per_week=_new_per_week(process, when, horizon_hours),
        currency=process.currency,
        revenue_known=revenue_known,
        weeks=methods.tables["monte_carlo"]["week"],
        months=methods.tables["monte_carlo"]["month"],
        total=methods.tables["monte_carlo"]["total"][0],
        weighted=weighted,
        split=_split(methods, per_view, len(pipe.running)),
        baselines=baselines,
        target=_goal(runs, views, per_view, history, process, when, tz),
        whatif=_whatif(scenario, runs.names, per_view["total"], revenue_known),
        notes=notes,
    )
    return Drawn(result, methods.draws, methods.points, _parts(per_view, scored))


def _parts(
    per_view: dict[str, np.ndarray], views: dict[str, list[Period]]
) -> dict[str, dict[str, np.ndarray]]:
    """The baseline model's wins and revenue per replication by source: the open pipeline's
    deals, and the rest (deals created after as_of), each (replication, wins/revenue, period)."""
    return {
        "existing": {v: per_view[v][0, :, 2:4] for v in views},
        "new": {v: per_view[v][0, :, 4:6] for v in views},
    }


def _split(methods: _Methods, per_view: dict[str, np.ndarray], running: int) -> SourceSplit:
    """The Monte Carlo's bands by source, over the horizon and per month."""
    parts = _parts(per_view, {v: methods.periods[v] for v in ("month", "total")})

    def table(part: str, view: str) -> list[PeriodForecast]:
        data = parts[part][view]
        return _table(data, methods.periods[view], methods.when, methods.tz, methods.revenue_known)

    return SourceSplit(
        open_deals=running,
        existing=table("existing", "total")[0],
        new=table("new", "total")[0],
        existing_months=table("existing", "month"),
        new_months=table("new", "month"),
    )


def _check_budget(replications: int, uncertainty: str) -> None:
    """Refuse a replication count or an uncertainty the forecast cannot run."""
    if replications < 1:
        raise InputError("replications must be at least 1")
    if uncertainty not in ("parameters", "simulation"):
        raise InputError(f"uncertainty must be 'parameters' or 'simulation' (got {uncertainty!r})")


class _Methods:
    """Every method's draws, points and tables, gathered for the forecast and its scores."""

    def __init__(
        self, when: datetime, tz: str, revenue_known: bool, periods: dict[str, list[Period]]
    ) -> None:
        self.when, self.tz, self.revenue_known = when, tz, revenue_known
        self.periods = periods
        self.draws: dict[str, dict[str, np.ndarray]] = {}
        self.points: dict[str, dict[str, np.ndarray]] = {}
        self.tables: dict[str, dict[str, list[PeriodForecast]]] = {}

    def add(
        self,
        method: str,
        draws: dict[str, np.ndarray],
        points: dict[str, np.ndarray] | None,
    ) -> None:
        """One method: its draws per view; points default to the draws' median."""
        self.draws[method] = draws
        self.points[method] = points or {v: np.median(d, axis=0) for v, d in draws.items()}
        self.tables[method] = {
            v: _table(d, self.periods[v], self.when, self.tz, self.revenue_known)
            for v, d in draws.items()
        }
        if points is not None:  # the band's mean is the method's exact point
            for v, rows in self.tables[method].items():
                exact = points[v]
                self.tables[method][v] = [_with_mean(r, exact[:, k]) for k, r in enumerate(rows)]

    def add_weighted(
        self,
        weighted: WeightedPipeline,
        coins: np.ndarray,
        views: dict[str, list[Period]],
        horizon_hours: float,
    ) -> None:
        """The weighted pipeline's eventual total, spread over the horizon by hours."""
        mean = np.array([weighted.wins.mean, weighted.revenue.mean if weighted.revenue else 0.0])
        share = {v: np.array([p.hi - p.lo for p in ps]) / horizon_hours for v, ps in views.items()}
        self.add(
            "weighted_pipeline",
            {v: coins[:, :, None] * s[None, None, :] for v, s in share.items()},
            {v: np.outer(mean, s) for v, s in share.items()},
        )

    def add_baselines(
        self,
        won: pl.DataFrame,
        views: dict[str, list[Period]],
        horizon_hours: float,
        weeks: int,
        seed: int,
        notes: list[str],
    ) -> list[BaselineForecast]:
        """Run-rate and seasonal naive, or a note saying why one is missing.

        The wins' history starts with the first win recorded: before it nothing says how
        many deals were won (an export of deals closed since some date, say)."""
        from flowsim.sim.baselines import run_rate, seasonal_naive

        out: list[BaselineForecast] = []
        first = won["entered_at"].min()
        if not isinstance(first, datetime):
            notes.append("no baseline: the history records no win before the as-of date")
            return out
        for made in (
            run_rate(won, first, self.when, views, horizon_hours, weeks=weeks, seed=seed),
            seasonal_naive(won, first, self.when, views, horizon_hours),
        ):
            if isinstance(made, str):
                notes.append(made)
                continue
            self.add(made.method, made.draws, made.points)
            t = self.tables[made.method]
            out.append(
                BaselineForecast(
                    method=made.method,
                    description=made.description,
                    point_only=made.point_only,
                    weeks=t["week"],
                    months=t["month"],
                    total=t["total"][0],
                )
            )
        return out


def _with_mean(row: PeriodForecast, point: np.ndarray) -> PeriodForecast:
    """The period's bands with the method's exact point forecast as their mean."""
    wins = row.wins.model_copy(update={"mean": float(point[0])})
    revenue = row.revenue.model_copy(update={"mean": float(point[1])}) if row.revenue else None
    return row.model_copy(update={"wins": wins, "revenue": revenue})


@dataclass(frozen=True)
class _Runs:
    """What the Monte Carlo runs: the model, then each scenario when a target compares them."""

    target: Target | None
    names: list[str]
    processes: tuple[Process, ...]


def _runs(
    process: Process, revenue_known: bool, notes: list[str], scenario: str | None = None
) -> _Runs:
    """The target, when it can be assessed (it needs revenue), and the scenarios to run: all
    of them for the target, and the what-if's ``scenario`` (an unknown name is refused).

    Without a target or a what-if the scenarios are not run: nothing would read them.
    """
    target = process.target if revenue_known else None
    if process.target is not None and target is None:
        notes.append("the target cannot be assessed without deal amounts")
    names = [s.name for s in process.scenarios] if target is not None else []
    if scenario is not None:
        process.with_scenario(scenario)  # UnknownScenario names the known ones
        names = names if scenario in names else [*names, scenario]
    return _Runs(target, names, (process, *(process.with_scenario(n) for n in names)))


def _models(
    process: Process,
    history: Any,
    when: datetime,
    runs: _Runs,
    replications: int,
    uncertainty: Uncertainty,
    seed: int,
) -> tuple[tuple[Process, ...], ...]:
    """Per model, the baseline and each scenario: one model as given, or with parameter
    uncertainty one bootstrap refit per replication (B = replications, r = 1: the engine
    builds its state per replication anyway, so more models cost no more simulation, and
    independent (model, run) pairs are independent draws of the predictive distribution)."""
    if uncertainty == "simulation":
        return (runs.processes,)
    from flowsim.sim.bootstrap import bootstrap_models, evidence

    refits = bootstrap_models(process, evidence(history, process, when), replications, seed)
    return tuple((m, *(m.with_scenario(n) for n in runs.names)) for m in refits)


def _won_nodes(process: Process, notes: list[str]) -> tuple[int, ...]:
    """The engine's node indices of the won outcomes (a note when there is none)."""
    index = {n.id: i for i, n in enumerate(process.iter_nodes())}
    won_nodes = tuple(index[o.id] for o in process.outcomes if o.result == "won")
    if not won_nodes:
        notes.append("the model has no outcome with `result won`: every forecast is zero")
    return won_nodes


def _as_of(history: Any, as_of: datetime | None, horizon_hours: float) -> datetime:
    """The forecast's start in UTC (the history's last event by default); bad arguments refused."""
    if not horizon_hours > 0:
        raise InputError("the horizon must be longer than 0 hours")
    when = last_event(history) if as_of is None else as_of
    if when.tzinfo is None:
        raise InputError("as_of needs a time zone")
    return when.astimezone(UTC)


@dataclass(frozen=True)
class _Pipeline:
    """The deals open at ``as_of``: all of them, the stale ones, and those the Monte Carlo runs."""

    deals: list[OpenDeal]
    stale: list[OpenDeal]
    running: list[OpenDeal]


def _pipeline(
    history: Any, process: Process, when: datetime, seed: int, drop_stale: bool
) -> _Pipeline:
    """The open pipeline, stale deals told apart (:func:`_limits`); nothing at all to forecast
    (no open deal, no arrivals) is refused."""
    pipeline = open_deals(history, process, when)
    limits = _limits(process, seed)
    stale = [d for d in pipeline if d.age > limits.get(d.node, math.inf)]
    running = [d for d in pipeline if not drop_stale or d.age <= limits.get(d.node, math.inf)]
    if not running and process.arrivals is None:
        raise InputError(
            f"no deal of the history is open at {when:%Y-%m-%d %H:%M} UTC and the model has no "
            "arrivals: nothing to forecast"
        )
    return _Pipeline(pipeline, stale, running)


def _amount_notes(process: Process, pipeline: list[OpenDeal], notes: list[str]) -> bool:
    """Can revenue be forecast? Adds a note saying why not, or where amounts come from.

    Revenue needs an amount for every deal: from the history, else from the model's
    ``amount`` (open deals without one, and every new deal).
    """
    fill = process.amount
    missing = sum(1 for d in pipeline if math.isnan(d.amount))
    revenue_known = fill is not None or (missing == 0 and process.arrivals is None)
    if fill is None and not revenue_known:
        notes.append(
            "deal counts only: "
            + (
                f"{missing} open deals have no amount in history and "
                if missing
                else "new deals have no amount and "
            )
            + "the model has no `amount` (add e.g. `amount lognormal(mean 20000, sd 8000)` to the "
            "process block)"
        )
    elif missing and fill is not None:
        notes.append(
            f"{missing} of {len(pipeline)} open deals have no amount in history: each replication "
            "draws theirs from the model's `amount`"
        )
    return revenue_known


def _views(
    when: datetime, horizon_hours: float, tz: str, target_per: Per | None
) -> dict[str, list[Period]]:
    """The periods each view bins wins into: weeks, months, the whole horizon, the target's."""
    views: dict[str, list[Period]] = {
        v: calendar_periods(when, horizon_hours, v, tz) for v in VIEWS
    }
    views["total"] = [
        Period("total", when, when + timedelta(hours=horizon_hours), 0.0, horizon_hours, True)
    ]
    if target_per is not None:
        views["target"] = calendar_periods(when, horizon_hours, target_per, tz)
    return views


def _monte_carlo(
    payload: _Payload,
    replications: int,
    workers: int | None,
    cluster: str | None,
    progress: Progress | None,
) -> dict[str, np.ndarray]:
    """Run every (scenario, replication); per view an array (scenario, replication,
    wins/revenue of all deals, then of the open pipeline's, then of the new ones, period).
    Results land by index, so the worker count changes nothing."""
    views = payload.views
    n_processes = len(payload.processes[0])
    jobs = [(s, r) for s in range(n_processes) for r in range(replications)]
    n_workers = 1 if cluster is None and workers == 1 else workers
    if n_workers is None and cluster is None:
        n_workers = default_workers()
    per_view = {v: np.zeros((n_processes, replications, 6, len(ps))) for v, ps in views.items()}
    done = 0
    for results in run_batches(
        _run_batch, payload, _batches(jobs, n_workers or 8), workers=n_workers, cluster=cluster
    ):
        for s, r, binned in results:
            for v, sums in binned.items():
                per_view[v][s, r] = sums
        done += len(results)
        if progress is not None:
            progress(done, len(jobs))
    return per_view


def _table(
    data: np.ndarray, periods: list[Period], when: datetime, tz: str, revenue_known: bool
) -> list[PeriodForecast]:
    """The baseline's bands per period (``data``: replication, wins/revenue, period)."""
    return [
        PeriodForecast(
            period=p.label,
            start=_iso(when + timedelta(hours=p.lo), tz),
            end=_iso(when + timedelta(hours=p.hi), tz),
            whole=p.whole,
            wins=Band.of(data[:, 0, k]),
            revenue=Band.of(data[:, 1, k]) if revenue_known else None,
        )
        for k, p in enumerate(periods)
    ]


def _stale_note(stale: int, drop_stale: bool) -> str:
    """What happened to the stale open deals, in each method."""
    return (
        f"{stale} open deals have been in their stage longer than 99% of the model's "
        "stays (stale, in CRM terms): "
        + (
            "the Monte Carlo leaves them out (the model knows no stay that long)"
            if drop_stale
            else "the Monte Carlo keeps them, and they move on within days of as_of"
        )
        + "; the weighted pipeline counts them, as a CRM does"
    )


def _goal(
    runs: _Runs,
    views: dict[str, list[Period]],
    per_view: dict[str, np.ndarray],
    history: Any,
    process: Process,
    when: datetime,
    tz: str,
) -> TargetForecast | None:
    """The target's forecast when the model has one that can be assessed."""
    if runs.target is None:
        return None
    periods, data = views["target"], per_view["target"]
    return _target(runs.target, periods, data, runs.names, history, process, when, tz)


def _target(
    target: Any,
    periods: list[Period],
    data: np.ndarray,
    names: list[str],
    history: Any,
    process: Process,
    when: datetime,
    tz: str,
) -> TargetForecast:
    """P(revenue in the period >= target), per period and scenario; the best scenario."""
    won = won_records(history, process).filter(pl.col("entered_at") <= when)
    horizon_end = when + timedelta(hours=periods[-1].hi) if periods else when
    rows: list[TargetPeriod] = []
    gains = np.zeros(len(names))
    for k, p in enumerate(periods):
        before = won.filter(pl.col("entered_at") >= p.start)["amount"].fill_null(0.0).sum()
        already = float(before) if p.start < when else 0.0
        revenue = data[:, :, 1, k] + already  # (scenario, replication)
        reached = (revenue >= target.amount).mean(axis=1)
        gains += reached[1:] - reached[0]
        rows.append(
            TargetPeriod(
                period=p.label,
                start=_iso(p.start, tz),
                end=_iso(p.end, tz),
                complete=p.end <= horizon_end,
                already_won=already,
                revenue=Band.of(revenue[0]),
                probability=float(reached[0]),
                scenarios={n: float(reached[i + 1]) for i, n in enumerate(names)},
            )
        )
    best: str | None = None
    gain: float | None = None
    if names and periods:
        i = int(np.argmax(gains))
        if gains[i] > 0:
            best, gain = names[i], float(gains[i] / len(periods))
    return TargetForecast(
        amount=target.amount,
        currency=target.currency or process.currency,
        per=target.per,
        periods=rows,
        best_scenario=best,
        best_gain=gain,
    )


def _new_per_week(process: Process, when: datetime, hours: float) -> float | None:
    """New deals a week by the model over the horizon: with a profile, its mean there (the
    trend carried past the history), else the stated rate."""
    from flowsim.sim.arrivals import mean_rate

    arrivals = process.arrivals
    if arrivals is None:
        return None
    if not isinstance(arrivals, RateArrivals):
        return arrivals.per_hour * 168
    tz = (process.calendar.timezone if process.calendar else None) or "UTC"
    return mean_rate(arrivals, when, hours, tz) * 168


def _whatif(
    scenario: str | None, names: list[str], total: np.ndarray, revenue_known: bool
) -> WhatIf | None:
    """The scenario against the model from the horizon's totals (``total``: run, replication,
    measure, 1), replication r of both on the same random numbers. The unpaired difference
    pairs the scenario's replication r with the baseline's r + 1 (independent runs): the
    interval a comparison without common random numbers gets. Revenue only when the forecast
    knows it; None without a scenario."""
    if scenario is None:
        return None
    totals = total[[0, names.index(scenario) + 1], :, :2, 0]
    n = totals.shape[1]
    measures: list[Difference] = []
    for m, measure in enumerate(("wins", "revenue")):
        base, alt = totals[0, :, m], totals[1, :, m]
        if measure == "revenue" and not revenue_known:
            continue
        paired = alt - base
        sd = float(paired.std(ddof=1)) if n > 1 else 0.0
        half = 1.96 * sd / math.sqrt(n)
        measures.append(
            Difference(
                measure=measure,
                baseline=Band.of(base),
                scenario=Band.of(alt),
                paired=Band.of(paired),
                unpaired=Band.of(alt - np.roll(base, -1)),
                mean_low=float(paired.mean()) - half,
                mean_high=float(paired.mean()) + half,
            )
        )
    return WhatIf(scenario=scenario, replications=n, measures=measures)
