"""A forecast, scored when it can be: what ``flowsim forecast`` runs.

From a date early enough that the horizon ends before the history does, what happened next
is known, so :func:`outlook` runs the :func:`~flowsim.sim.backtest.backtest` (the forecast
and its score against the history); otherwise it forecasts, and from a past date whose
horizon runs past the history it says why there is no score. The result prints with
:meth:`Outlook.text` and serialises with :meth:`Outlook.to_json`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowsim.errors import FlowsimError, OptionError
from flowsim.model import Duration, Process, parse_duration
from flowsim.sim.backtest import Backtest, backtest
from flowsim.sim.forecast import Forecast, forecast, last_event

if TYPE_CHECKING:
    from flowsim.history.log import DealLog
    from flowsim.sim.forecast import Progress, Uncertainty

__all__ = ["EmptyHistory", "Outlook", "horizon_hours", "outlook"]


class EmptyHistory(FlowsimError, ValueError):
    """A history with no timestamp: there is no "today" to forecast from."""


@dataclass(frozen=True)
class Outlook:
    """A forecast and, when the history covers its horizon, its backtest."""

    forecast: Forecast
    backtest: Backtest | None = None

    def text(self) -> str:
        """The forecast's table, then the backtest's when there is one."""
        scored = self.backtest
        return self.forecast.text() + ("\n" + scored.text() if scored is not None else "")

    def to_json(self) -> str:
        """``{"forecast": ..., "backtest": ... or null}`` (the backtest without its forecast)."""
        scored = self.backtest
        data = {
            "forecast": self.forecast.model_dump(mode="json"),
            "backtest": scored.model_dump(mode="json", exclude={"forecast"}) if scored else None,
        }
        return json.dumps(data, ensure_ascii=False, indent=2)


def horizon_hours(horizon: Duration) -> float:
    """The horizon in hours (``"90d"`` or hours); 0 is refused (:class:`OptionError`)."""
    hours = parse_duration(horizon, what="the horizon")
    if not hours:
        raise OptionError("the horizon must be longer than 0", "horizon")
    return hours


def outlook(
    process: Process,
    history: DealLog,
    *,
    horizon: Duration = "90d",
    as_of: dt.datetime | None = None,
    replications: int = 200,
    seed: int = 0,
    workers: int | None = None,
    cluster: str | None = None,
    drop_stale: bool = True,
    progress: Progress | None = None,
    uncertainty: Uncertainty = "parameters",
    scenario: str | None = None,
) -> Outlook:
    """Forecast from ``as_of`` (default: the history's end), backtested when it can be.

    With ``as_of`` and ``as_of + horizon`` not after the history's last event, the forecast
    is scored against what happened (:func:`~flowsim.sim.backtest.backtest`); with an
    ``as_of`` inside the history but a horizon running past it, the forecast's notes say why
    there is no backtest. Other arguments as :func:`~flowsim.sim.forecast.forecast`
    (``scenario``: its what-if beside the forecast).

    Raises
    ------
    OptionError
        A horizon of 0 (``option == "horizon"``).
    EmptyHistory
        A history without timestamps.
    """
    hours = horizon_hours(horizon)
    try:
        end = last_event(history)
    except ValueError as err:
        raise EmptyHistory(str(err)) from None
    if as_of is not None and as_of + dt.timedelta(hours=hours) <= end:
        scored = backtest(
            process,
            history,
            as_of,
            hours,
            replications=replications,
            seed=seed,
            workers=workers,
            cluster=cluster,
            drop_stale=drop_stale,
            uncertainty=uncertainty,
            progress=progress,
            scenario=scenario,
        )
        return Outlook(scored.forecast, scored)
    result = forecast(
        process,
        history,
        horizon_hours=hours,
        as_of=as_of,
        replications=replications,
        seed=seed,
        workers=workers,
        cluster=cluster,
        drop_stale=drop_stale,
        uncertainty=uncertainty,
        progress=progress,
        scenario=scenario,
    )
    if as_of is not None and as_of < end:
        note = (
            f"no backtest: the horizon runs past the history's last event "
            f"({end:%Y-%m-%d}); choose an earlier --as-of or a shorter --horizon"
        )
        result = result.model_copy(update={"notes": [*result.notes, note]})
    return Outlook(result)
