"""Rolling-origin backtest: forecast from many cutoffs and report the distribution of scores.

``rolling_backtest(process, history, "monthly")`` runs :func:`flowsim.sim.backtest.backtest`
from every cutoff (the first of each month, or the dates given): each forecast sees only
the history as it stood at its cutoff, and without a ``process`` the model is re-discovered
from that history alone. Every method (Monte Carlo, weighted pipeline, run-rate, seasonal
naive) is scored per cutoff (:mod:`flowsim.sim.scores`), and the summary gives, per method,
measure and view, the mean over cutoffs of the MAPE and the CRPS, the share of all periods'
actuals inside the P10–P90 and P25–P75 bands, the PIT histogram of all periods, and the share
of cutoffs where the Monte Carlo did at least as well as the method (MAPE, CRPS).

One forecast is one score: a single cutoff says little (the issue's table moves by tens of
points from one month to the next), so read the summary, not one row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.errors import InputError, OptionError
from flowsim.history.log import DealLog
from flowsim.model import Duration, Process, parse_duration
from flowsim.sim.backtest import (
    METHODS,
    Backtest,
    Method,
    Part,
    Score,
    backtest,
    scores_frame,
)
from flowsim.sim.forecast import Uncertainty, last_event
from flowsim.sim.scores import pit_histogram

__all__ = ["RollingBacktest", "Skipped", "Summary", "monthly_cutoffs", "rolling_backtest"]

#: history a default first cutoff needs behind it: one quarter (the run-rate's 13 weeks)
MIN_HISTORY = timedelta(days=91)


class Skipped(FlowsimModel):
    """A cutoff that could not be backtested, and why."""

    model_config = ConfigDict(frozen=True)

    as_of: str
    reason: str


class Summary(FlowsimModel):
    """One method's scores on one measure and view, over every cutoff."""

    model_config = ConfigDict(frozen=True)

    method: Method
    measure: Literal["wins", "revenue"]
    view: Literal["week", "month", "total"]
    cutoffs: int = Field(description="Cutoffs with a score.")
    mape: float | None = Field(description="Mean over cutoffs of the MAPE.")
    crps: float | None = Field(description="Mean over cutoffs of the mean CRPS.")
    coverage: float | None = Field(description="Share of all periods inside P10-P90.")
    coverage_50: float | None = Field(description="Share of all periods inside P25-P75.")
    pit_histogram: list[int] = Field(
        default_factory=list, description="All periods' PIT values in 10 bins over [0, 1]."
    )
    mc_mape_wins: float | None = Field(
        None, description="Share of cutoffs where the Monte Carlo's MAPE is at most this one's."
    )
    mc_crps_wins: float | None = Field(
        None, description="Share of cutoffs where the Monte Carlo's CRPS is at most this one's."
    )
    part: Part = Field(
        "all", description="Which deals: 'all', 'existing' (open at the cutoff) or 'new'."
    )


class RollingBacktest(FlowsimModel):
    """The result of :func:`rolling_backtest`: every cutoff's backtest and the summary."""

    model_config = ConfigDict(frozen=True)

    horizon_hours: float
    replications: int
    seed: int
    model: str = Field(description="'discovered before each cutoff' or 'the given model'.")
    backtests: list[Backtest]
    skipped: list[Skipped] = Field(default_factory=list)
    summary: list[Summary]
    split_summary: list[Summary] = Field(
        default_factory=list,
        description="The Monte Carlo's open-pipeline and new-deal parts (and the weighted "
        "pipeline against the open pipeline's actuals) over every cutoff.",
    )

    def summary_of(self, method: Method, measure: str, view: str, part: Part = "all") -> Summary:
        for s in self.summary if part == "all" else self.split_summary:
            if (s.method, s.measure, s.view, s.part) == (method, measure, view, part):
                return s
        raise KeyError((method, measure, view, part))

    def text(self) -> str:
        from flowsim.sim.rolling_text import rolling_text

        return rolling_text(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The rolling backtest as JSON."""
        return self.model_dump_json(indent=indent)

    def to_frame(self) -> pl.DataFrame:
        """The summary over cutoffs, one row per (method, measure, view)."""
        return scores_frame(self.summary)

    def _repr_html_(self) -> str:
        from flowsim.result import html_table

        heading = f"rolling backtest: {len(self.backtests)} cutoffs, {self.model}"
        return html_table(heading, self.to_frame())


def monthly_cutoffs(
    history: DealLog,
    horizon_hours: float,
    *,
    start: datetime | None = None,
    tz: str = "UTC",
) -> list[datetime]:
    """The first of every month (midnight in ``tz``) from ``start`` whose horizon ends inside
    the history. Without ``start``: from the first month with a quarter of history behind it."""
    zone = ZoneInfo(tz)
    first = history.frame["entered_at"].min()
    if not isinstance(first, datetime):
        raise InputError("the history has no timestamps")
    end = last_event(history)
    begin = (start or first + MIN_HISTORY).astimezone(zone)
    month = begin.replace(day=1, hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    if month.replace(tzinfo=zone) < begin:
        month = _next_month(month)
    out: list[datetime] = []
    while (cut := month.replace(tzinfo=zone)) + timedelta(hours=horizon_hours) <= end:
        out.append(cut)
        month = _next_month(month)
    return out


def _next_month(day: datetime) -> datetime:
    return day.replace(year=day.year + day.month // 12, month=day.month % 12 + 1)


#: the replications per cutoff by default
ROLLING_REPLICATIONS = 50


def rolling_backtest(
    process: Process | None,
    history: DealLog,
    cutoffs: Literal["monthly"] | Sequence[datetime] = "monthly",
    *,
    start: datetime | None = None,
    horizon_hours: Duration = 90 * 24,
    replications: int = ROLLING_REPLICATIONS,
    seed: int = 0,
    workers: int | None = None,
    cluster: str | None = None,
    tz: str = "UTC",
    drop_stale: bool = True,
    run_rate_weeks: int = 13,
    progress: Callable[[int, int], None] | None = None,
    uncertainty: Uncertainty = "parameters",
) -> RollingBacktest:
    """Backtest from every cutoff and summarise the scores (see the module docstring).

    Parameters
    ----------
    process : Process or None
        The model, used as it is at every cutoff (not refitted); None re-discovers it from
        the history before each cutoff only.
    history : DealLog
        The deal history; each cutoff's horizon must end inside it.
    cutoffs : "monthly" or list of datetime, default "monthly"
        The first of every month (:func:`monthly_cutoffs` from ``start``), or the dates.
    start : datetime, optional
        The first monthly cutoff's earliest date (default: a quarter after the first event).
    horizon_hours : float or str, default 2160 (90 days)
        Hours, or a duration such as ``"90d"``.
    replications : int, default 50
        Monte Carlo runs per cutoff.
    seed, workers, cluster, drop_stale, run_rate_weeks, uncertainty
        As :func:`flowsim.backtest`; each cutoff's replications run in parallel.
    tz : str, default "UTC"
        The time zone of the monthly cutoffs and of the discovery.
    progress : callable, optional
        Called with (cutoffs done, cutoffs) after each cutoff.

    Returns
    -------
    RollingBacktest
        Every cutoff's :class:`~flowsim.sim.backtest.Backtest`, the cutoffs skipped (with the
        reason, e.g. nothing to discover yet) and the summary per method (``text()``).

    Raises
    ------
    DurationError
        ``horizon_hours`` is not a duration.
    InputError
        ``cutoffs`` neither "monthly" nor dates, no cutoff, or none that could be backtested.
    OptionError
        ``start`` with explicit cutoff dates (it places the monthly cutoffs).

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> cutoffs = [datetime(2025, 10, 1, tzinfo=UTC), datetime(2025, 11, 1, tzinfo=UTC)]
    >>> r = flowsim.rolling_backtest(process, log, cutoffs, horizon_hours="14d",
    ...                              replications=5)
    >>> [b.as_of[:10] for b in r.backtests]
    ['2025-10-01', '2025-11-01']
    >>> [s.method for s in r.summary if (s.measure, s.view) == ("wins", "total")]
    ['monte_carlo', 'weighted_pipeline', 'run_rate', 'seasonal_naive']
    """
    if start is not None and not isinstance(cutoffs, str):
        raise OptionError(
            "--backtest-from goes with --backtest monthly (start is the earliest monthly cutoff)"
        )
    hours = parse_duration(horizon_hours, what="the horizon")
    dates = (
        monthly_cutoffs(history, hours, start=start, tz=tz)
        if isinstance(cutoffs, str)
        else sorted(cutoffs)
    )
    if isinstance(cutoffs, str) and cutoffs != "monthly":
        raise InputError(f"cutoffs must be 'monthly' or a list of dates, not {cutoffs!r}")
    if not dates:
        raise InputError(
            "no cutoff: the history is too short for a monthly cutoff with "
            f"{hours / 24:g} days of history after it"
        )
    done: list[Backtest] = []
    skipped: list[Skipped] = []
    for i, when in enumerate(dates):
        try:
            done.append(
                backtest(
                    process,
                    history,
                    when,
                    hours,
                    replications=replications,
                    seed=seed,
                    workers=workers,
                    cluster=cluster,
                    tz=tz,
                    drop_stale=drop_stale,
                    run_rate_weeks=run_rate_weeks,
                    uncertainty=uncertainty,
                )
            )
        except ValueError as err:
            skipped.append(Skipped(as_of=when.isoformat(), reason=str(err)))
        if progress is not None:
            progress(i + 1, len(dates))
    if not done:
        raise InputError(
            "no cutoff could be backtested: "
            + "; ".join(f"{s.as_of[:10]}: {s.reason}" for s in skipped)
        )
    return RollingBacktest(
        horizon_hours=hours,
        replications=replications,
        seed=seed,
        model="discovered before each cutoff" if process is None else "the given model",
        backtests=done,
        skipped=skipped,
        summary=_summary(done),
        split_summary=[*_summary(done, "existing"), *_summary(done, "new")],
    )


def _summary(done: list[Backtest], part: Part = "all") -> list[Summary]:
    """Per method, measure and view: the scores over every cutoff (of one part's deals)."""
    out: list[Summary] = []
    for measure in ("wins", "revenue"):
        for view in ("week", "month", "total"):
            mc = [_find(b, "monte_carlo", measure, view, part) for b in done]
            for method in METHODS:
                mine = [_find(b, method, measure, view, part) for b in done]
                if any(s is not None for s in mine):
                    row = _summarise(method, measure, view, mine, mc)
                    out.append(row.model_copy(update={"part": part}))
    return out


def _find(b: Backtest, method: Method, measure: str, view: str, part: Part) -> Score | None:
    try:
        return b.score(method, measure, view, part)
    except KeyError:
        return None


def _summarise(
    method: Method,
    measure: str,
    view: str,
    mine: list[Score | None],
    mc: list[Score | None],
) -> Summary:
    """One summary row; the Monte Carlo's comparison only on cutoffs where both scored."""
    scored = [s for s in mine if s is not None]

    def mean(values: list[float | None]) -> float | None:
        kept = [v for v in values if v is not None]
        return float(np.mean(kept)) if kept else None

    def pooled(attr: str) -> float | None:
        pairs = [(getattr(s, attr), s.periods) for s in scored if getattr(s, attr) is not None]
        n = sum(p for _, p in pairs)
        return sum(c * p for c, p in pairs) / n if n else None

    def mc_share(attr: str) -> float | None:
        if method == "monte_carlo":
            return None
        both = [
            (getattr(m, attr), getattr(s, attr))
            for m, s in zip(mc, mine, strict=True)
            if m is not None and s is not None
        ]
        both = [(a, b) for a, b in both if a is not None and b is not None]
        return sum(a <= b for a, b in both) / len(both) if both else None

    pits = [v for s in scored for v in s.pit]
    return Summary(
        method=method,
        measure=measure,
        view=view,
        cutoffs=len(scored),
        mape=mean([s.mape for s in scored]),
        crps=mean([s.crps for s in scored]),
        coverage=pooled("coverage"),
        coverage_50=pooled("coverage_50"),
        pit_histogram=pit_histogram(np.array(pits)) if pits else [],
        mc_mape_wins=mc_share("mape"),
        mc_crps_wins=mc_share("crps"),
    )
