"""``flowsim.simulate``: replications of the baseline and each scenario, summarised with CIs.

Every scenario runs the same replication numbers as the baseline, on the same per-purpose
random streams (:mod:`flowsim.sim.sampling`), so the baseline and a scenario see the same
deals: their per-replication differences are *paired*, which is what makes a what-if's
confidence interval narrow enough to be useful.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from flowsim.errors import InputError, OptionError
from flowsim.model import Duration, Process, parse_duration
from flowsim.sim.analytic import RoleLoad, offered_load
from flowsim.sim.engine import Priority, Run, Settings, run_once
from flowsim.sim.eventlog import event_log
from flowsim.sim.executors import default_workers, run_batches
from flowsim.sim.kpis import kpis
from flowsim.sim.replay import OpenDeal, ReplayPlan, open_deals, prepare_replay
from flowsim.sim.result import ScenarioResult, SimulationResult
from flowsim.sim.stats import Estimate, estimate, paired
from flowsim.sim.trust import gate

__all__ = ["DEFAULT_START", "REPLAY_RUN_PAST", "event_log", "simulate"]

#: where a stochastic run's clock starts unless told otherwise: a fixed Monday, so that the
#: same input and seed give the same output on any day
DEFAULT_START = date(2026, 1, 5)

#: hours a replay goes on after its window (the end of history) so that the deals still open
#: then finish as the model says; the statistics stay those of the window
REPLAY_RUN_PAST = 365 * 24.0

#: a replication without a deal log keeps every deal until it holds this many stays (about
#: 21 MB of them), then folds its closed deals into running statistics (flowsim.sim.tally):
#: below it, figures are exactly those of a run that keeps every deal
FOLD_AT = 1 << 18

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class _Payload:
    """What every worker needs, shipped once per batch."""

    processes: tuple[Process, ...]
    base: Process
    settings: Settings
    seed: int
    replay: ReplayPlan | None


def simulate(
    process: Process,
    history: Any = None,
    *,
    scenarios: Sequence[str] = (),
    replications: int = 30,
    seed: int = 0,
    until: Duration | None = None,
    deals: int | None = None,
    warmup: Duration | None = None,
    start: date | datetime | None = None,
    as_of: datetime | None = None,
    priority: Priority = "fifo",
    unlimited: bool = False,
    workers: int | None = None,
    cluster: str | None = None,
    executor: Executor | None = None,
    progress: Progress | None = None,
    keep_log: bool = True,
    strict_stages: bool = True,
    check_fidelity: bool = True,
    tz: str = "UTC",
) -> SimulationResult:
    """Simulate ``process`` (and each named scenario) ``replications`` times.

    Without ``history`` the run is *stochastic*: deals arrive by the model's ``arrivals`` and
    durations are sampled; ``until`` or ``deals`` bounds it, and the first ``warmup`` hours are
    left out of the statistics. With ``history`` it is a *replay*: history's deals arrive at
    their real times and follow their real paths; the statistics cover history's span
    (``until`` overrides), and the run goes on up to :data:`REPLAY_RUN_PAST` hours more so that
    the deals still open at the end of history finish by the model (the event log shows them).
    With ``history`` and ``as_of`` the run *starts from today*: the deals open at ``as_of``
    continue from their current stage (conditioned on the time spent there so far) and new
    deals arrive by the model. Same arguments and ``seed`` give the same result whatever
    ``workers``, ``cluster`` or ``executor`` runs the replications.

    Parameters
    ----------
    process : Process
        The model.
    history : DealLog, optional
        Replay this history (or, with ``as_of``, continue its open deals).
    scenarios : sequence of str, default ()
        Scenario names of the process, each simulated beside the baseline with common random
        numbers.
    replications : int, default 30
        Independent runs (at least 1); estimates carry confidence intervals over them.
    seed : int, default 0
        The random seed.
    until : float or str, optional
        The horizon: hours, or a duration such as ``"180d"`` or ``"12w"``
        (:func:`~flowsim.model.parse_duration`). Default 365 days; 90 days from ``as_of``.
    deals : int, optional
        Stop after this many arrivals instead.
    warmup : float or str, optional
        Hours (or a duration) left out of the statistics; default 30 days.
    start : date or datetime, optional
        The calendar date the run starts (working hours and dated headcount steps use it).
    as_of : datetime, optional
        With ``history``: start from the deals open at this (time-zone aware) moment.
    priority : {"fifo", "amount"}, default "fifo"
        The order a role takes waiting work in: first come first served, or larger deals
        first.
    unlimited : bool, default False
        Lifts every headcount limit (a replay then reproduces history exactly).
    workers, cluster, executor : optional
        Where the replications run: local processes, a Dask scheduler, or an executor.
    progress : callable, optional
        Called as replications finish.
    keep_log : bool, default True
        Keep the simulated event log (``result.event_log``).
    strict_stages : bool, default True
        A replay refuses history with stages the model lacks; False leaves their records out
        (the result's warnings count them).
    check_fidelity : bool, default True
        With ``history``, run the trust gate (:mod:`flowsim.sim.trust`, as ``flowsim simulate``
        does): a model that fails its fidelity check has the verdict first among the warnings
        (``result.fidelity_check`` holds the check).
    tz : str, default "UTC"
        The history's time zone, for the fidelity check.

    Returns
    -------
    SimulationResult
        ``baseline`` and ``scenarios`` (:class:`ScenarioResult`: KPI estimates, per stage, role
        and edge), deltas against the baseline, warnings and the event log.

    Raises
    ------
    UnknownScenario
        A scenario name the process does not have (a ``FlowsimError`` and a ``KeyError``).
    DurationError
        ``until`` or ``warmup`` is not a duration.
    UnknownStages
        A replay of history with stages the model lacks (``strict_stages``).
    OptionError
        ``as_of`` without ``history`` (it continues the deals open at that date).
    InputError
        Fewer than 1 replication, a model without arrivals for a stochastic run, a warm-up
        not ending before the horizon, a naive ``as_of``.

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> result = flowsim.simulate(process, replications=2, until="60d", seed=1)
    >>> won = result.baseline.kpis["won"]
    >>> won.n, won.mean > 0, len(result.baseline.replications["won"])
    (2, True, 2)
    >>> sorted(result.baseline.roles)
    ['counsel', 'csm', 'rep', 'se']
    >>> flowsim.simulate(process, scenarios=["faster"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flowsim.errors.UnknownScenario: no scenario named 'faster' (known: '增加两名售前', ...)
    """
    if replications < 1:
        raise InputError("replications must be at least 1")
    until = None if until is None else parse_duration(until, what="until")
    warmup = None if warmup is None else parse_duration(warmup, what="warmup")
    names = list(dict.fromkeys(scenarios))
    processes = [process] + [process.with_scenario(n) for n in names]
    plan = _plan(process, history, until, deals, warmup, start, as_of, strict_stages)
    settings = plan.settings(deals=deals, priority=priority, unlimited=unlimited)
    payload = _Payload(tuple(processes), process, settings, int(seed), plan.replay)
    collected, first_run = _run_all(
        payload, replications, keep_log, workers, cluster, executor, progress
    )
    loads = offered_load(process, plan.rate)
    result = SimulationResult(
        process=process.name,
        mode=plan.mode,
        seed=int(seed),
        replications=replications,
        epoch=_local(plan.epoch, process).isoformat(),
        horizon_hours=float(plan.horizon) if plan.horizon is not None else float("nan"),
        warmup_hours=plan.warm,
        history_deals=plan.history_deals,
        offered_load=loads,
        warnings=_warnings(plan.replay, loads, unlimited),
        scenarios=[
            _summarise(name, collected[s], collected[0] if s else None)
            for s, name in enumerate(["baseline", *names])
        ],
    )
    if first_run is not None:
        result._event_log = event_log(first_run, plan.epoch, process.name)
    return gate(result, process, history, seed=seed, tz=tz) if check_fidelity else result


@dataclass(frozen=True)
class _Plan:
    """How the replications run: the mode, its clock and statistics window, what it replays."""

    mode: Literal["stochastic", "replay", "from_today"]
    epoch: datetime
    horizon: float | None
    warm: float
    #: history's arrival rate (a replay's offered load is history's)
    rate: float | None = None
    replay: ReplayPlan | None = None
    #: the deals open at ``as_of`` (start from today)
    pipeline: tuple[OpenDeal, ...] = ()

    def settings(self, deals: int | None, priority: Priority, unlimited: bool) -> Settings:
        """The engine's settings for this plan (see :func:`simulate` for the arguments)."""
        return Settings(
            epoch=self.epoch,
            until=self.horizon,
            deals=deals,
            warmup=self.warm,
            priority=priority,
            unlimited=unlimited,
            open_deals=self.pipeline,
            run_past=REPLAY_RUN_PAST if self.replay is not None else 0.0,
            won_amount=self.replay.won_amount if self.replay is not None else math.nan,
        )

    @property
    def history_deals(self) -> int | None:
        if self.replay is not None:
            return len(self.replay.deals)
        return len(self.pipeline) or None


def _plan(
    process: Process,
    history: Any,
    until: float | None,
    deals: int | None,
    warmup: float | None,
    start: date | datetime | None,
    as_of: datetime | None,
    strict_stages: bool,
) -> _Plan:
    """The run's mode and window from :func:`simulate`'s arguments (see there), checked."""
    if as_of is not None and history is None:
        raise OptionError("--as-of needs --history: as_of continues the deals open at that date")
    if history is not None and as_of is not None:
        plan = _from_today(process, history, as_of, until, warmup)
    elif history is not None:
        replay = prepare_replay(
            history, process, epoch=_epoch(start, process) if start else None, strict=strict_stages
        )
        horizon = until if until is not None else replay.end
        warm = warmup if warmup is not None else 0.0
        plan = _Plan("replay", replay.epoch, horizon, warm, _history_rate(replay), replay)
    else:
        if until is None and deals is None:
            until = 365 * 24.0
        warm = warmup if warmup is not None else (0.0 if deals is not None else 30 * 24.0)
        plan = _Plan("stochastic", _epoch(start, process), until, warm)
        if process.arrivals is None:
            raise InputError(
                "the model has no arrivals: add `arrivals N per week` to the process block, "
                "or replay a history"
            )
    if plan.horizon is not None and plan.warm >= plan.horizon:
        raise InputError(
            f"the warm-up ({plan.warm:g} h) must end before the horizon ({plan.horizon:g} h)"
        )
    if plan.mode == "from_today" and process.arrivals is None and not plan.pipeline:
        raise InputError(f"no deal is open at {as_of} and the model has no arrivals")
    return plan


def _from_today(
    process: Process, history: Any, as_of: datetime, until: float | None, warmup: float | None
) -> _Plan:
    """Start from today: history's deals open at ``as_of`` go on, new ones arrive (90 days)."""
    if as_of.tzinfo is None:
        raise InputError("as_of needs a time zone")
    epoch = as_of.astimezone(UTC)
    pipeline = tuple(open_deals(history, process, epoch))
    horizon = until if until is not None else 90 * 24.0
    warm = warmup if warmup is not None else 0.0
    return _Plan("from_today", epoch, horizon, warm, pipeline=pipeline)


def _run_all(
    payload: _Payload,
    replications: int,
    keep_log: bool,
    workers: int | None,
    cluster: str | None,
    executor: Executor | None,
    progress: Progress | None,
) -> tuple[list[list[Any]], Run | None]:
    """Per scenario, every replication's KPIs in order; and the run whose log is kept, if any."""
    jobs = [(s, r) for s in range(len(payload.processes)) for r in range(replications)]
    n_workers = 1 if executor is None and cluster is None and workers == 1 else workers
    if n_workers is None and executor is None and cluster is None:
        n_workers = default_workers()
    batches = _batches(jobs, n_workers or 8, keep_log)
    collected: dict[tuple[int, int], Any] = {}
    first_run: Run | None = None
    done = 0
    for results in run_batches(
        _run_batch, payload, batches, workers=n_workers, cluster=cluster, executor=executor
    ):
        for (s, r), k, run in results:
            collected[(s, r)] = k
            if run is not None:
                first_run = run
        done += len(results)
        if progress is not None:
            progress(done, len(jobs))
    by_scenario = [
        [collected[(s, r)] for r in range(replications)] for s in range(len(payload.processes))
    ]
    return by_scenario, first_run


def _warnings(plan: ReplayPlan | None, loads: list[RoleLoad], unlimited: bool) -> list[str]:
    """What a run's reader must know: history left out of a replay, roles overloaded."""
    warnings: list[str] = []
    if plan is not None and plan.unmatched:
        lacking = ", ".join(f"{k!r} ({v})" for k, v in sorted(plan.unmatched.items())[:8])
        warnings.append(
            f"{sum(plan.unmatched.values())} history records of stages the model lacks were "
            f"left out of the replay: {lacking}"
        )
    warnings += [
        f"role {x.role!r} is offered {x.load:.0%} of its capacity "
        f"({x.offered_hours_per_week:.1f} of {x.capacity_hours_per_week:.1f} person-hours a "
        "week): its queue grows without bound, so averages depend on the run length"
        for x in loads
        if x.overloaded and x.load is not None and not unlimited
    ]
    return warnings


def _epoch(start: date | datetime | None, process: Process) -> datetime:
    if isinstance(start, datetime):
        return start.astimezone(UTC) if start.tzinfo else start.replace(tzinfo=UTC)
    day = start or DEFAULT_START
    tz = (process.calendar.timezone if process.calendar else None) or "UTC"
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(tz))
    return local.astimezone(UTC)


def _local(epoch: datetime, process: Process) -> datetime:
    """The epoch in the process calendar's time zone, for people to read."""
    tz = (process.calendar.timezone if process.calendar else None) or "UTC"
    return epoch.astimezone(ZoneInfo(tz))


def _history_rate(plan: ReplayPlan) -> float | None:
    if len(plan.deals) < 2:
        return None
    first, last = plan.deals[0].arrival, plan.deals[-1].arrival
    return (len(plan.deals) - 1) / (last - first) if last > first else None


def _batches(
    jobs: list[tuple[int, int]], workers: int, keep_log: bool
) -> list[list[tuple[int, int, bool]]]:
    """About sixteen batches per worker, the log kept for (baseline, 0) only.

    Small batches balance the load: a worker that finishes early (or runs on a less busy
    core) takes the next one, so the last batch, the one the others may wait for, is short.
    With four per worker, 200 replications of 0.2 s on two workers came in batches of 25:
    up to 5 s at the end with one worker idle. On a local pool a batch costs well under a
    millisecond to send and return (the payload reaches each worker once, see
    ``run_batches``), so sixteen per worker cost nothing measurable.
    """
    size = max(1, math.ceil(len(jobs) / (16 * max(workers, 1))))
    flagged = [(s, r, keep_log and s == 0 and r == 0) for s, r in jobs]
    return [flagged[i : i + size] for i in range(0, len(flagged), size)]


def _run_batch(
    payload: _Payload, batch: list[tuple[int, int, bool]]
) -> list[tuple[tuple[int, int], Any, Run | None]]:
    out: list[tuple[tuple[int, int], Any, Run | None]] = []
    deals = payload.replay.deals if payload.replay is not None else None
    for s, r, keep in batch:
        settings = replace(payload.settings, keep_log=keep, fold_at=None if keep else FOLD_AT)
        run = run_once(
            payload.processes[s], settings, payload.seed, r, base=payload.base, replay=deals
        )
        k = kpis(run)
        k["events"] = run.events
        out.append(((s, r), k, run if keep else None))
    return out


def _summarise(name: str, runs: list[Any], baseline: list[Any] | None) -> ScenarioResult:
    process_keys = list(runs[0]["process"])
    per_rep = {k: [r["process"][k] for r in runs] for k in process_keys}
    kpis_est = {k: estimate(v) for k, v in per_rep.items()}
    deltas: dict[str, Estimate] = {}
    if baseline is not None:
        for k in process_keys:
            deltas[k] = paired(per_rep[k], [b["process"][k] for b in baseline])

    def table(part: str) -> dict[str, dict[str, Estimate]]:
        out: dict[str, dict[str, Estimate]] = {}
        for item in runs[0][part]:
            out[item] = {m: estimate([r[part][item][m] for r in runs]) for m in runs[0][part][item]}
        return out

    edge_keys = sorted({e for r in runs for e in r["edges"]})
    return ScenarioResult(
        name=name,
        kpis=kpis_est,
        edges={e: estimate([r["edges"].get(e, 0.0) for r in runs]) for e in edge_keys},
        stages=table("stages"),
        roles=table("roles"),
        deltas=deltas,
        replications=per_rep,
        events_per_replication=float(np.mean([r["events"] for r in runs])),
    )
