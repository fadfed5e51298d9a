"""Backtest: forecast from an earlier date and score it against what happened afterwards.

``backtest(process, history, as_of)`` cuts the history at ``as_of`` (what was known then),
forecasts the horizon from that state with both methods, and compares them with the wins and
revenue the full history records inside the horizon, per calendar week, per month and in
total.

No peeking: the forecast sees only records that began by ``as_of``, with exits and work
starts after it removed. Amounts are the subtle part: a wide CRM export (Maven's
``close_value``) writes a deal's *final* value on all its records, and 0 on lost deals, so an
open deal's amount in the file is news from the future. The backtest therefore blanks the
amount of every deal without an outcome by ``as_of``; those deals draw from the model's
``amount`` instead. Without a ``process`` the model is discovered from the cut history, and
a model without ``amount`` gets one: the amounts of the deals won before ``as_of``.

Scores, for wins and revenue, per week and per month:

Per-period scores use the *whole* calendar weeks and months inside the horizon: the partial
first and last periods (a two-day week) would weigh as much as a full one in the mean.

* **MAPE**: mean of |forecast − actual| / actual over the periods with a non-zero actual
  (periods with nothing won are left out of the mean and counted).
* **coverage**: the share of periods whose actual lies inside the forecast's P10–P90 band.
* **total**: the absolute percentage error over the whole horizon, and whether the band
  holds the actual total.

The Monte Carlo's forecast is its P50 and its band P10–P90. The weighted pipeline predicts a
single total (today's open deals' eventual wins, no timing, no new deals): per period it is
spread evenly over the horizon (each period gets the total × its share of the horizon's
hours, and so does its band, P10–P90 of independent coin flips per deal). That flat
run-rate is how a CRM's number is read against a weekly or monthly actual.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import numpy as np
import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.errors import InputError
from flowsim.history.log import DealLog
from flowsim.model import Duration, Empirical, Process, parse_duration
from flowsim.sim.forecast import (
    Drawn,
    Forecast,
    Progress,
    Uncertainty,
    forecast_draws,
    last_event,
)
from flowsim.sim.periods import calendar_periods
from flowsim.sim.scores import ape, covered, crps_sample, pit
from flowsim.sim.wins import won_records

__all__ = ["Actual", "ActualSplit", "Backtest", "Score", "backtest", "history_at"]

Method = Literal["monte_carlo", "weighted_pipeline", "run_rate", "seasonal_naive"]
Part = Literal["all", "existing", "new"]

#: the methods in the order the tables show them
METHODS: tuple[Method, ...] = ("monte_carlo", "weighted_pipeline", "run_rate", "seasonal_naive")


class Actual(FlowsimModel):
    """What happened in one period's part of the window."""

    model_config = ConfigDict(frozen=True)

    period: str
    whole: bool = Field(description="The window covers the whole calendar period.")
    wins: float
    revenue: float | None


class Score(FlowsimModel):
    """One method's accuracy on one measure at one granularity."""

    model_config = ConfigDict(frozen=True)

    method: Method
    measure: Literal["wins", "revenue"]
    view: Literal["week", "month", "total"]
    mape: float | None = Field(description="Mean absolute percentage error (0.1 = 10%).")
    coverage: float | None = Field(
        description="Share of periods inside the P10-P90 band (None for a point forecast)."
    )
    coverage_50: float | None = Field(
        None, description="Share of periods inside the P25-P75 band (None for a point forecast)."
    )
    crps: float | None = Field(
        None, description="Mean CRPS over the periods (the absolute error for a point forecast)."
    )
    pit: list[float] = Field(
        default_factory=list, description="Each period's randomised PIT (empty for a point one)."
    )
    periods: int
    zero_periods: int = Field(0, description="Periods with an actual of 0 (not in the MAPE).")
    part: Part = Field(
        "all",
        description="Which deals: 'all', 'existing' (open at as_of) or 'new' (created after).",
    )


class ActualSplit(FlowsimModel):
    """What happened, counting only the deals open at as_of (``existing``: created by then)
    or only those created after it (``new``)."""

    model_config = ConfigDict(frozen=True)

    part: Literal["existing", "new"]
    weeks: list[Actual]
    months: list[Actual]
    total: Actual


class Backtest(FlowsimModel):
    """The result of :func:`backtest`."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    data_end: str
    model: str = Field(description="Which model forecast, and what it was fitted on.")
    forecast: Forecast
    actual_weeks: list[Actual]
    actual_months: list[Actual]
    actual_total: Actual
    scores: list[Score]
    actual_split: list[ActualSplit] = Field(
        default_factory=list,
        description="The actuals of the deals open at as_of, then of those created after it.",
    )
    split_scores: list[Score] = Field(
        default_factory=list,
        description="The Monte Carlo's open-pipeline and new-deal parts scored against the "
        "actuals split the same way; the weighted pipeline against the open pipeline's.",
    )
    notes: list[str] = Field(default_factory=list)

    def score(self, method: Method, measure: str, view: str, part: Part = "all") -> Score:
        for s in self.scores if part == "all" else self.split_scores:
            if (s.method, s.measure, s.view, s.part) == (method, measure, view, part):
                return s
        raise KeyError((method, measure, view, part))

    def actual(self, part: Literal["existing", "new"]) -> ActualSplit:
        """The actuals of one part (:attr:`actual_split`)."""
        for a in self.actual_split:
            if a.part == part:
                return a
        raise KeyError(part)

    def text(self) -> str:
        from flowsim.sim.forecast_text import backtest_text

        return backtest_text(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The backtest as JSON (the contract of ``flowsim backtest --format json``)."""
        return self.model_dump_json(indent=indent)

    def to_frame(self) -> pl.DataFrame:
        """The scores, one row per (method, measure, view): MAPE, coverage, CRPS, periods."""
        return scores_frame(self.scores)

    def _repr_html_(self) -> str:
        from flowsim.result import html_table

        return html_table(f"backtest at {self.as_of}: {self.model}", self.to_frame())


def scores_frame(rows: list[Any]) -> pl.DataFrame:
    """Pydantic rows as a polars frame (list fields such as ``pit`` left out)."""
    dumped = [
        {k: v for k, v in r.model_dump().items() if not isinstance(v, list | dict)} for r in rows
    ]
    return pl.DataFrame(dumped, infer_schema_length=None)


def history_at(log: DealLog, as_of: datetime, process: Process | None = None) -> DealLog:
    """The log as it stood at ``as_of``: later records dropped, later exits and starts blanked.

    With ``process``, the amounts of deals without an outcome by ``as_of`` are blanked too
    (see the module docstring: an export's amount of an open deal is its final value).
    """
    cut = log.frame.filter(pl.col("entered_at") <= as_of).with_columns(
        pl.when(pl.col(c) <= as_of).then(pl.col(c)).otherwise(None).alias(c)
        for c in ("left_at", "started_at")
    )
    if process is not None:
        ends = {o.id for o in process.outcomes}
        names = [n for n in cut["stage"].unique().to_list() if process.find_node(n) in ends]
        closed = cut.filter(pl.col("stage").is_in(names))["deal"].unique()
        cut = cut.with_columns(
            pl.when(pl.col("deal").is_in(closed.to_list())).then(pl.col("amount")).otherwise(None)
        )
    return log.derive(cut)


def backtest(
    process: Process | None,
    history: DealLog,
    as_of: datetime,
    horizon_hours: Duration = 90 * 24,
    *,
    replications: int = 200,
    seed: int = 0,
    workers: int | None = None,
    cluster: str | None = None,
    progress: Progress | None = None,
    tz: str = "UTC",
    drop_stale: bool = True,
    run_rate_weeks: int = 13,
    uncertainty: Uncertainty = "parameters",
    scenario: str | None = None,
) -> Backtest:
    """Forecast from the state at ``as_of`` and score both methods against the history after.

    Every method is scored against what the history shows happened in the horizon
    (:mod:`flowsim.sim.scores`): the Monte Carlo, the weighted pipeline, run-rate over
    ``run_rate_weeks`` weeks and seasonal naive.

    Parameters
    ----------
    process : Process or None
        The model; None discovers it from the history before ``as_of`` only (``tz`` is the
        discovery's time zone).
    history : DealLog
        The deal history; it must go on past ``as_of`` for the whole horizon.
    as_of : datetime
        The (time-zone aware) moment the forecast starts from.
    horizon_hours : float or str, default 2160 (90 days)
        Hours, or a duration such as ``"90d"``; must end inside the history.
    replications, seed, workers, cluster, progress, drop_stale, run_rate_weeks, uncertainty
        As :func:`flowsim.forecast` (``uncertainty="parameters"``: the bootstrap refits are
        drawn from the history as it stood at ``as_of``).
    scenario : str, optional
        As :func:`flowsim.forecast`: the forecast's what-if (not scored).
    tz : str, default "UTC"
        The time zone of the discovery when ``process`` is None.

    Returns
    -------
    Backtest
        The forecast, the actual wins and revenue by week and month, and the scores of every
        method (``text()``).

    Raises
    ------
    DurationError
        ``horizon_hours`` is not a duration.
    InputError
        A naive ``as_of``, a horizon that ends after the history, or no record by ``as_of``.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> scored = flowsim.backtest(process, log, datetime(2025, 10, 1, tzinfo=UTC), "30d",
    ...                           replications=20)
    >>> scored.as_of, scored.forecast.open_deals > 0
    ('2025-10-01T08:00:00+08:00', True)
    """
    window = _window(history, as_of, horizon_hours)
    notes: list[str] = []
    fitted = _fit(process, history, window.as_of, tz, notes)
    drawn = forecast_draws(
        fitted.process,
        fitted.known,
        horizon_hours=horizon_hours,
        as_of=window.as_of,
        replications=replications,
        seed=seed,
        workers=workers,
        cluster=cluster,
        progress=progress,
        drop_stale=drop_stale,
        run_rate_weeks=run_rate_weeks,
        uncertainty=uncertainty,
        scenario=scenario,
    )
    result = drawn.forecast
    actual = _actuals(history, fitted.process, result, window)
    scores, split_scores = _scores(drawn, actual, seed)
    return Backtest(
        as_of=result.as_of,
        data_end=window.data_end.isoformat(),
        model=fitted.model,
        forecast=result,
        actual_weeks=actual.weeks,
        actual_months=actual.months,
        actual_total=actual.total,
        scores=scores,
        actual_split=actual.split,
        split_scores=split_scores,
        notes=notes,
    )


@dataclass(frozen=True)
class _Window:
    """The backtest's window in UTC: from ``as_of`` to ``end``, inside the history's data."""

    as_of: datetime
    end: datetime
    hours: float
    data_end: datetime


def _window(history: DealLog, as_of: datetime, horizon_hours: Duration) -> _Window:
    """The window; one that ends after the history's last event cannot be scored: refused."""
    if as_of.tzinfo is None:
        raise InputError("as_of needs a time zone")
    horizon_hours = parse_duration(horizon_hours, what="the horizon")
    as_of = as_of.astimezone(UTC)
    data_end = last_event(history)
    end = as_of + timedelta(hours=horizon_hours)
    if end > data_end:
        raise InputError(
            f"the backtest horizon ends {end:%Y-%m-%d}, after the history's last event "
            f"({data_end:%Y-%m-%d}): choose an earlier as-of date or a shorter horizon"
        )
    return _Window(as_of, end, horizon_hours, data_end)


@dataclass(frozen=True)
class _Fitted:
    """The model to forecast with, how it was made (for the report), and the history it sees."""

    process: Process
    model: str
    known: DealLog


def _fit(
    process: Process | None, history: DealLog, as_of: datetime, tz: str, notes: list[str]
) -> _Fitted:
    """The model and the history as they stood at ``as_of``: no peeking at later data.

    Without a process the model is discovered from the records by ``as_of``; without an
    amount, deals are valued like the deals won before it.
    """
    from flowsim.history.discover import discover

    known = history_at(history, as_of)
    if known.frame.height == 0:
        raise InputError(f"the history has no records by {as_of:%Y-%m-%d}: nothing to start from")
    if process is None:
        process = discover(known, tz=tz).process
        model = f"discovered from the {known.deals} deals with records by the as-of date"
    else:
        model = "the given model (fitted on whatever it was fitted on: check it saw no later data)"
    known = history_at(history, as_of, process)
    if process.amount is None:
        won = won_records(known, process)["amount"].drop_nulls()
        won = won.filter(won.is_finite() & (won >= 0))
        if won.len():
            process = process.model_copy(update={"amount": Empirical(values=tuple(won.to_list()))})
            notes.append(
                f"the model has no amount: deals are valued like the {won.len()} deals won "
                "before the as-of date (resampled)"
            )
    notes.append(
        "open deals' amounts in the history were hidden (an export holds their final value); "
        "they draw from the model's amount"
    )
    return _Fitted(process, model, known)


@dataclass(frozen=True)
class _Actuals:
    """What happened in the window: wins and revenue per week, month and in total, of all
    deals, then of the deals open at as_of and of those created after it (``split``)."""

    weeks: list[Actual]
    months: list[Actual]
    total: Actual
    has_amount: bool
    split: list[ActualSplit]


def _actuals(history: DealLog, process: Process, result: Forecast, window: _Window) -> _Actuals:
    """The deals won in the window, binned like the forecast (its periods and time zone).

    Revenue is scored only when the forecast knows revenue and the wins have amounts. A won
    deal is *existing* when the history records it by ``as_of`` (its first record), *new*
    when its first record comes after.
    """
    as_of = window.as_of
    first = history.frame.group_by("deal").agg(pl.col("entered_at").min().alias("created"))
    won_all = (
        won_records(history, process)
        .filter((pl.col("entered_at") > as_of) & (pl.col("entered_at") <= window.end))
        .join(first, on="deal", how="left")
    )
    hours = (
        (won_all["entered_at"].dt.epoch("us") - int(as_of.timestamp() * 1e6)) / 3.6e9
    ).to_numpy()
    amounts = won_all["amount"].to_numpy().astype(float)
    has_amount = result.revenue_known and not bool(np.isnan(amounts).all())
    amounts = np.where(np.isnan(amounts), 0.0, amounts)
    existing = (won_all["created"] <= as_of).to_numpy()
    binned = _Binner(as_of, window.hours, result.timezone, has_amount)
    weeks, months, total = binned(hours, amounts)
    split = [
        ActualSplit(
            part=part,
            **dict(zip(("weeks", "months", "total"), binned(hours[m], amounts[m]), strict=True)),
        )
        for part, m in (("existing", existing), ("new", ~existing))
    ]
    return _Actuals(weeks, months, total, has_amount, split)


@dataclass(frozen=True)
class _Binner:
    """Wins (at hours after as_of) and their amounts binned by week, month and in total."""

    as_of: datetime
    hours: float
    tz: str
    has_amount: bool

    def __call__(
        self, hours: np.ndarray, amounts: np.ndarray
    ) -> tuple[list[Actual], list[Actual], Actual]:
        from flowsim.sim.periods import bin_sums

        def actual(view: Literal["week", "month"]) -> list[Actual]:
            periods = calendar_periods(self.as_of, self.hours, view, self.tz)
            wins = bin_sums(hours, None, periods)
            revenue = bin_sums(hours, amounts, periods)
            return [
                Actual(
                    period=p.label,
                    whole=p.whole,
                    wins=float(w),
                    revenue=float(r) if self.has_amount else None,
                )
                for p, w, r in zip(periods, wins, revenue, strict=True)
            ]

        total = Actual(
            period="total",
            whole=True,
            wins=float(len(hours)),
            revenue=float(amounts.sum()) if self.has_amount else None,
        )
        return actual("week"), actual("month"), total


def _scores(drawn: Drawn, actual: _Actuals, seed: int) -> tuple[list[Score], list[Score]]:
    """Every method scored per view and measure (revenue only when it is known); then the
    Monte Carlo's parts against the actuals split the same way (the weighted pipeline, today's
    open deals' eventual value, against the open pipeline's)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x917,)))
    scores: list[Score] = []
    whole = _Views(actual.weeks, actual.months, actual.total)
    for measure, view, values in whole.each(actual.has_amount):
        for method in METHODS:
            if method in drawn.draws:
                draws, point = whole.drawn(
                    drawn.draws[method], drawn.points[method], view, _M[measure]
                )
                scores.append(_score(method, measure, view, draws, point, values, rng))
    split: list[Score] = []
    for part in actual.split:
        if part.part not in drawn.parts:
            continue
        mc = drawn.parts[part.part]
        made: dict[Method, tuple[dict[str, np.ndarray], dict[str, np.ndarray]]] = {
            "monte_carlo": (mc, {v: np.median(d, axis=0) for v, d in mc.items()})
        }
        if part.part == "existing" and "weighted_pipeline" in drawn.draws:
            made["weighted_pipeline"] = (
                drawn.draws["weighted_pipeline"],
                drawn.points["weighted_pipeline"],
            )
        views = _Views(part.weeks, part.months, part.total)
        for measure, view, values in views.each(actual.has_amount):
            for name, (d, p) in made.items():
                draws, point = views.drawn(d, p, view, _M[measure])
                s = _score(name, measure, view, draws, point, values, rng)
                split.append(s.model_copy(update={"part": part.part}))
    return scores, split


_M = {"wins": 0, "revenue": 1}


@dataclass(frozen=True)
class _Views:
    """One set of actuals by view, and which of its periods are whole (the scored ones)."""

    weeks: list[Actual]
    months: list[Actual]
    total: Actual

    def each(self, has_amount: bool) -> list[tuple[str, str, np.ndarray]]:
        """(measure, view, the whole periods' actuals), revenue only with amounts."""
        out = []
        for view, act in (("week", self.weeks), ("month", self.months), ("total", [self.total])):
            whole = np.array([a.whole for a in act], dtype=bool)
            for m, measure in enumerate(("wins", "revenue")):
                if measure == "revenue" and not has_amount:
                    continue
                values = np.array([a.wins if m == 0 else (a.revenue or 0.0) for a in act])
                out.append((measure, view, values[whole]))
        return out

    def drawn(
        self, draws: dict[str, np.ndarray], points: dict[str, np.ndarray], view: str, m: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Measure ``m``'s draws (draw, whole period) and point forecast in one view."""
        act = {"week": self.weeks, "month": self.months, "total": [self.total]}[view]
        whole = np.array([a.whole for a in act], dtype=bool)
        return draws[view][:, m, :][:, whole], points[view][m][whole]


def _score(
    method: Method,
    measure: Any,
    view: Any,
    draws: np.ndarray,
    point: np.ndarray,
    values: np.ndarray,
    rng: np.random.Generator,
) -> Score:
    """One method's scores over the whole periods of one view (draws: draw × period)."""
    n = len(values)
    errors = ape(point, values)
    probabilistic = draws.shape[0] > 1 and n > 0
    return Score(
        method=method,
        measure=measure,
        view=view,
        mape=float(np.nanmean(errors)) if n and not np.isnan(errors).all() else None,
        coverage=float(covered(draws, values, 0.1, 0.9).mean()) if probabilistic else None,
        coverage_50=float(covered(draws, values, 0.25, 0.75).mean()) if probabilistic else None,
        crps=float(crps_sample(draws, values).mean()) if n else None,
        pit=[float(v) for v in pit(draws, values, rng)] if probabilistic else [],
        periods=n,
        zero_periods=int((values == 0).sum()),
    )
