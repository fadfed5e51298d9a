"""Quick what-if runs for the studio: a few replications, one run at a time, cancellable.

A run is :func:`flowsim.simulate` on a one-thread executor, so the replications go one per
batch and the progress callback is called after each one; that callback raises when the run
was cancelled (the browser aborted the request, a newer run started, the server is stopping)
or took longer than the time limit. A cancelled run therefore stops within one replication,
and the server never keeps computing a result nobody will read.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from flowsim.errors import FlowsimError
from flowsim.model import Process
from flowsim.render import guess_lang
from flowsim.sim import bottlenecks
from flowsim.sim.simulate import simulate
from flowsim.sim.stats import Estimate

__all__ = ["Cancelled", "QuickRun", "RunError", "Runner", "TimeLimit", "parse_run"]

MAX_REPLICATIONS = 50
MAX_DAYS = 730.0


class Cancelled(Exception):
    """The run was cancelled before it finished."""


class TimeLimit(FlowsimError):
    """The run took longer than the studio allows a quick run."""


class RunError(FlowsimError, ValueError):
    """The request or the model cannot be simulated (out-of-range days, no arrivals...)."""


@dataclass(frozen=True)
class QuickRun:
    """What to simulate: the baseline plus ``scenarios``, ``replications`` times, ``days`` long."""

    scenarios: tuple[str, ...] = ()
    replications: int = 5
    days: float = 90.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 2 <= self.replications <= MAX_REPLICATIONS:
            raise RunError(f"replications must be between 2 and {MAX_REPLICATIONS}")
        if not (math.isfinite(self.days) and 1 <= self.days <= MAX_DAYS):
            raise RunError(f"days must be between 1 and {MAX_DAYS:g}")

    def check(self, process: Process) -> None:
        """Raise :class:`RunError` when the run names a scenario ``process`` lacks."""
        known = [s.name for s in process.scenarios]
        for name in self.scenarios:
            if name not in known:
                has = ", ".join(known) or "none"
                raise RunError(f"no scenario {name!r} in the model (it has: {has})")

    @property
    def warmup_hours(self) -> float:
        """The simulation's usual 30-day warm-up, shortened to a third of a short horizon."""
        return min(30.0, self.days / 3) * 24.0


class Runner:
    """Runs one quick simulation at a time; starting a run cancels the one before."""

    def __init__(self, time_limit: float = 120.0) -> None:
        self.time_limit = time_limit
        self._lock = threading.Lock()
        self._current: threading.Event | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        with self._lock:
            return self._current is not None

    def cancel(self) -> None:
        """Cancel the run in progress, if any."""
        with self._lock:
            if self._current is not None:
                self._current.set()

    def close(self) -> None:
        """Cancel the run in progress and refuse new ones (the server is stopping)."""
        with self._lock:
            self._closed = True
            if self._current is not None:
                self._current.set()

    def start(self) -> threading.Event:
        """A cancel flag for a new run (cancelling the previous run); see :meth:`run`."""
        with self._lock:
            if self._current is not None:
                self._current.set()
            flag = threading.Event()
            if self._closed:
                flag.set()
            self._current = flag
            return flag

    def run(self, process: Process, spec: QuickRun, flag: threading.Event) -> dict[str, Any]:
        """Simulate (blocking: call it in a worker thread); the JSON-ready summary.

        Raises :class:`Cancelled` when ``flag`` is set, :class:`TimeLimit` when the run
        exceeds the time limit, :class:`RunError` when the model cannot be simulated.
        """
        try:
            spec.check(process)
            deadline = time.monotonic() + self.time_limit

            def progress(done: int, total: int) -> None:
                if flag.is_set():
                    raise Cancelled
                if time.monotonic() > deadline:
                    raise TimeLimit

            if flag.is_set():
                raise Cancelled
            with ThreadPoolExecutor(max_workers=1, thread_name_prefix="flowsim-whatif") as pool:
                try:
                    result = simulate(
                        process,
                        scenarios=list(spec.scenarios),
                        replications=spec.replications,
                        seed=spec.seed,
                        until=spec.days * 24.0,
                        warmup=spec.warmup_hours,
                        executor=pool,
                        progress=progress,
                        keep_log=False,
                    )
                except ValueError as err:
                    raise RunError(str(err)) from err
                finally:
                    pool.shutdown(wait=False, cancel_futures=True)
            report = bottlenecks.analyse(result, process, lang=guess_lang(process))
            return {
                "principal": report.principal,
                "warnings": list(result.warnings),
                "replications": spec.replications,
                "days": spec.days,
                "seed": spec.seed,
                "baseline": _estimates(result.baseline.kpis),
                "scenarios": [
                    {"name": s.name, "kpis": _estimates(s.kpis), "deltas": _estimates(s.deltas)}
                    for s in result.scenarios[1:]
                ],
                "overlay": bottlenecks.overlay(result, process).model_dump(mode="json"),
            }
        finally:
            with self._lock:
                if self._current is flag:
                    self._current = None


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def _estimates(table: dict[str, Estimate]) -> dict[str, dict[str, Any]]:
    """Estimates as JSON (no NaN: JSON has none): mean, 95% CI, whether it excludes zero."""
    return {
        k: {
            "mean": _finite(e.mean),
            "low": _finite(e.low),
            "high": _finite(e.high),
            "significant": e.significant,
        }
        for k, e in table.items()
    }


def parse_run(body: dict[str, Any]) -> QuickRun:
    """A :class:`QuickRun` from a request's JSON fields.

    Raises :class:`RunError` on a wrong type or a value out of range: what the body alone
    decides, before the model is looked at.
    """
    scenarios = body.get("scenarios", [])
    if not isinstance(scenarios, Sequence) or isinstance(scenarios, str):
        raise RunError("scenarios must be a list of scenario names")
    if not all(isinstance(s, str) for s in scenarios):
        raise RunError("scenarios must be a list of scenario names")
    values: dict[str, Any] = {}
    for key, kind in (("replications", int), ("days", (int, float)), ("seed", int)):
        if key in body:
            value = body[key]
            if isinstance(value, bool) or not isinstance(value, kind):
                raise RunError(f"{key} must be a number")
            values[key] = value
    return QuickRun(scenarios=tuple(dict.fromkeys(scenarios)), **values)
