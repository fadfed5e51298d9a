"""One replication of a process on SimPy: deals walk the flowchart, people do the work.

The semantics (docs/simulation.md pins each one):

* A deal enters at the entry stage. In a stage it first waits any *lead time* (replay only:
  customer time before work started), queues for a free person of the stage's owner role,
  holds that person for the stage's **effort** (counted only inside the role's working
  calendar), releases them, waits the stage's **wait** (customer-side latency, calendar time,
  nobody held), then moves on by the transition probabilities. Stages without an owner have
  no queue. An outcome ends the deal.
* Each stay records its time split: queue for the role, effort, off-calendar time (the part
  of the work span outside working hours) and customer wait, so a bottleneck is explained.
* Stochastic mode samples arrivals and durations from the model; replay mode
  (:mod:`flowsim.sim.replay`) sends history's deals along their real paths at their real
  times, and only a scenario's changes move them off it.

The engine records plain Python values while running (each finished stay packed as ten
doubles into one buffer) and hands back numpy arrays (:class:`Run`): the statistics and the
event log are built from those afterwards, vectorised. With ``Settings.fold_at`` a long run
folds its closed deals into a :class:`~flowsim.sim.tally.Tally` now and then and forgets
them, so that its memory follows the deals in flight rather than the deals simulated.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from heapq import heappush
from itertools import chain, repeat
from typing import Any, Literal

import numpy as np
import simpy

from flowsim.errors import InputError
from flowsim.gc_pause import gc_paused
from flowsim.model import Distribution, Process, RateProfile, Stage
from flowsim.sim import driver
from flowsim.sim.arrivals import ArrivalClock
from flowsim.sim.calendar import WorkingTime
from flowsim.sim.capacity import Staff, available_person_hours, headcount_schedule
from flowsim.sim.driver import NORMAL, Join, Joined, Wake, Walk
from flowsim.sim.replay import OpenDeal, ReplayDeal, win_value
from flowsim.sim.sampling import BLOCK, Sampler, Streams
from flowsim.sim.tally import VISIT_COLUMNS, Deals, Tally, Window, tally

__all__ = ["VISIT_COLUMNS", "Run", "Settings", "run_once"]

Priority = Literal["fifo", "amount"]
#: one stay's (lead, effort, wait) hours
Durations = tuple[float, float, float]

#: one finished stay as packed doubles (VISIT_COLUMNS), native byte order as numpy reads it
_VISIT = struct.Struct(f"={len(VISIT_COLUMNS)}d")
#: the fields of an Engine.deals entry
_FINISH, _OUTCOME, _AMOUNT = 1, 2, 3
#: one minute in hours: a stay seen open at the end of history ends no earlier than this after
_MINUTE = 1 / 60


@dataclass(frozen=True)
class Settings:
    """How long and how to run. Times are hours on the simulation clock (0 = ``epoch``)."""

    epoch: datetime
    until: float | None = None
    deals: int | None = None
    warmup: float = 0.0
    priority: Priority = "fifo"
    unlimited: bool = False
    keep_log: bool = False
    #: deals already in the pipeline at time 0 ("start from today"), continued by the model
    open_deals: tuple[OpenDeal, ...] = ()
    #: hours the run goes on after ``until`` (a replay: deals open at the end of history
    #: finish by the model); the statistics window still ends at ``until``
    run_past: float = 0.0
    #: replay: mean amount of history's won deals, the last resort for a new win's value
    won_amount: float = math.nan
    #: stochastic runs: new deals arrive at these hours (sorted) instead of by the model's
    #: ``arrivals``; they still enter by the model's entry mix ("--arrivals replay")
    arrival_times: tuple[float, ...] | None = None
    #: None: keep every deal to the end (a deal log, a forecast read them). N: once the run
    #: holds N stays, fold its closed deals into a :class:`~flowsim.sim.tally.Tally` and
    #: forget them, so that memory follows the deals in flight (see flowsim.sim.tally)
    fold_at: int | None = None


@dataclass
class Run:
    """What one replication produced, as arrays (cheap to pickle between processes)."""

    nodes: tuple[str, ...]
    outcomes: dict[int, str]
    results: dict[int, str]
    roles: tuple[str, ...]
    start: float
    end: float
    warmup: float
    deal_ids: list[str]
    arrival: np.ndarray
    finish: np.ndarray  # NaN while open
    outcome: np.ndarray  # node index, -1 open, -2 left at a dead end
    amount: np.ndarray
    visits: np.ndarray  # (n, len(VISIT_COLUMNS)) float; open stays have NaN left
    busy: np.ndarray  # per role: effort hours worked inside the statistics window
    available: np.ndarray  # per role: person-hours on calendar inside the window
    queue_area: np.ndarray  # per role: ∫ queue length dt inside the window
    max_queue: np.ndarray
    owner_of: dict[int, str] = field(default_factory=dict)
    events: int = 0
    #: the deals' indices (the stays' ``deal``) when some were folded away; None: 0, 1, ...
    keys: np.ndarray | None = None
    #: the deals folded away during the run (Settings.fold_at), not in the arrays above
    folded: Tally | None = None


class _StageRun:
    """Everything the deal process needs about one stage, looked up once."""

    __slots__ = (
        "always_open",
        "base_effort",
        "cum",
        "draw_effort",
        "draw_wait",
        "effort",
        "fork",
        "idx",
        "join",
        "next_node",
        "role",
        "route",
        "staff",
        "targets",
        "wait",
        "wait_ratio",
        "working",
    )

    def __init__(self) -> None:
        self.idx = 0
        self.role = -1
        self.staff: Staff | None = None
        self.working: WorkingTime
        self.effort: Sampler | None = None
        self.base_effort: Sampler | None = None
        self.wait: Sampler | None = None
        self.wait_ratio = 1.0
        self.route: Sampler
        self.targets: list[int] = []
        self.cum: list[float] = []
        # Hot-path views of the samplers (see _draw): C-level callables, 0.0 without a dist.
        self.draw_effort: Callable[[], float] = float
        self.draw_wait: Callable[[], float] = float
        #: the next node (see _chooser), or -2 (a dead end) when the stage has no way out
        self.next_node: Callable[[], int] = _DEAD_END
        self.always_open = True
        #: a fork: the first stage of each branch, and the node the block joins into
        self.fork: list[int] | None = None
        self.join = -1


#: a walk's key in Engine.where: the deal, or (deal, first stage) for a branch of it
Slot = int | tuple[int, int]
#: a next node: no way out (a dead end; in a branch, where the branch ends)
_DEAD = -2
#: a next node: the deal already ended (an outcome inside a parallel branch)
_ENDED = -3

#: the stages as a walk sees them (Engine.stages, or Engine.tail off a replayed path)
Runs = list[_StageRun]


def _mean(dist: Distribution | None) -> float:
    return 0.0 if dist is None else float(dist.expected)


class Engine:
    """Builds the SimPy world for one replication of ``process`` and runs it."""

    def __init__(
        self,
        process: Process,
        settings: Settings,
        streams: Streams,
        *,
        base: Process | None = None,
        replay: list[ReplayDeal] | None = None,
    ) -> None:
        self.process = process
        self.base = base or process
        self.settings = settings
        self.streams = streams
        self.env = simpy.Environment()
        self.queue, self.eid = driver.check_environment(self.env)
        nodes = [n.id for n in process.iter_nodes()]
        self.nodes = tuple(nodes)
        self.index = {n: i for i, n in enumerate(nodes)}
        self.n_stages = len(process.stages)
        self.roles = tuple(r.id for r in process.roles)
        self.role_index = {r: i for i, r in enumerate(self.roles)}
        default_tz = (process.calendar.timezone if process.calendar else None) or "UTC"
        self.default_tz = default_tz
        self.process_time = WorkingTime(process.calendar, settings.epoch, default_tz)
        self.role_time: list[WorkingTime] = []
        self.staff: list[Staff | None] = []
        self.schedules: list[list[tuple[float, int]]] = []
        for role in process.roles:
            working = (
                WorkingTime(role.calendar, settings.epoch, default_tz)
                if role.calendar is not None
                else self.process_time
            )
            self.role_time.append(working)
            schedule = headcount_schedule(role, settings.epoch, default_tz)
            self.schedules.append(schedule)
            self.staff.append(
                None
                if settings.unlimited
                else Staff(self.env, role.id, schedule, priority=settings.priority == "amount")
            )
        # a replay re-routes on the stages' route streams (_divert), one draw at a time
        shared = replay is not None
        self.stages = [self._stage_run(s, i, shared=shared) for i, s in enumerate(process.stages)]
        # a stage inside a parallel branch -> the node its block joins into
        self.branch_join = {
            self.index[sid]: self.index[block.join]
            for block in process.parallels
            for region in process.branch_stages(block)
            for sid in region
        }
        # A replayed deal off its real path (diverted by a scenario, or open at the end of
        # history) walks the model on streams of its own, so that the replayed stays' coupled
        # draws (_split: baseline and scenario effort in step) never shift.
        self.tail = (
            [self._stage_run(s, i, "after:") for i, s in enumerate(process.stages)]
            if replay is not None
            else self.stages
        )
        self.won_nodes = frozenset(
            self.index[o.id] for o in process.outcomes if o.result == "won" and o.id in self.index
        )
        self.entry = self.index[process.entry.id] if process.entry is not None else -1
        self.draw_entry = self._entry_mix()
        self.amounts = streams.sampler(process.amount, "amount")
        self.replay = replay
        self._start_recording(settings)

    # ---- set-up ----

    def _start_recording(self, settings: Settings) -> None:
        """What the run records: stays, per-deal state, and the roles' busy hours."""
        # one _VISIT row per finished stay: no tuple (and its ten float objects) kept per
        # stay, nothing for the GC to track, and numpy reads the buffer as it is at the end
        self.visits = bytearray()
        # per deal, by its index k (dicts: a fold forgets closed deals); names only for a log
        self.n_deals = 0
        self.keep_names = settings.keep_log
        self.deal_ids: list[str] = []
        # [arrival, finish (NaN while open), outcome (-1 open, -2 dead end), amount]: one
        # dict entry per deal, not one per field (a deal's set-up is a third of the price)
        self.deals: dict[int, list[float]] = {}
        self.folding = Folding(settings.fold_at) if settings.fold_at is not None else None
        # where each walk is (a deal's own, or one branch of it: keyed by its Slot), and
        # who works on it now
        self.where: dict[Slot, tuple[int, int, float]] = {}
        self.working_now: dict[Slot, tuple[int, float, float]] = {}
        # deals inside a parallel block now: their number of blocks in progress
        self.forked: dict[int, int] = {}
        n_roles = len(self.roles)
        self.busy = [0.0] * n_roles
        # the statistics window effort is counted in (see _count_busy)
        self.busy_lo = settings.warmup
        self.busy_hi = settings.until if settings.until is not None else math.inf
        self.warm_stats: list[Any] = [None] * n_roles
        self.end_stats: list[Any] | None = None

    def _stage_run(
        self, stage: Stage, i: int, prefix: str = "", *, shared: bool = False
    ) -> _StageRun:
        """What a walk needs of ``stage``. ``shared``: its route stream also serves ``route``
        (a replay's ``_divert``), so ``next_node`` draws from it one value at a time."""
        run = _StageRun()
        run.idx = i
        base_stage = self._base_stage(stage.id)
        if stage.owner is not None and stage.owner in self.role_index:
            run.role = self.role_index[stage.owner]
            run.staff = self.staff[run.role]
            run.working = self.role_time[run.role]
        else:
            run.working = self.process_time
        run.effort = self.streams.sampler(stage.effort, f"{prefix}effort:{stage.id}")
        base_dist = base_stage.effort if base_stage is not None else None
        run.base_effort = self.streams.sampler(base_dist, f"{prefix}effort:{stage.id}")
        run.wait = self.streams.sampler(stage.wait, f"{prefix}wait:{stage.id}")
        base_wait = _mean(base_stage.wait if base_stage is not None else None)
        run.wait_ratio = _mean(stage.wait) / base_wait if base_wait > 0 else 1.0
        purpose = f"{prefix}route:{stage.id}"
        run.route = self.streams.uniform(purpose)
        run.draw_effort = _draw(run.effort)
        run.draw_wait = _draw(run.wait)
        run.always_open = run.working.always_open
        total = 0.0
        for t, p in self.process.outgoing(stage.id):
            total += p
            run.targets.append(self.index[t.target])
            run.cum.append(total)
        run.next_node = (
            _chooser(run.targets, run.cum, run.route.next)
            if shared
            else _router(run.targets, run.cum, self.streams.rng(purpose))
        )
        block = self.process.fork_at(stage.id)
        if block is not None:
            run.fork = [self.index[entry] for entry in block.branches]
            run.join = self.index[block.join]
        return run

    def _entry_mix(self) -> Callable[[], int]:
        """Where each new deal enters: the one entry, or a draw from the entry mix.

        The draw has a random stream of its own (``"entry"``), so it is deterministic for a
        seed and shifts no other stream; a process with one entry draws nothing at all.

        Returns
        -------
        callable
            A function returning the node index of the next deal's entry stage.
        """
        entries = self.process.entries
        if len(entries) <= 1:
            entry = self.entry
            return lambda: entry
        total = math.fsum(share for _, share in entries)
        nodes, cum, acc = [], [], 0.0
        for stage, share in entries:
            acc += share / total
            nodes.append(self.index[stage.id])
            cum.append(acc)
        return _chooser(nodes, cum, self.streams.uniform("entry").next)

    def _base_stage(self, stage_id: str) -> Stage | None:
        for s in self.base.stages:
            if s.id == stage_id:
                return s
        return None

    # ---- running ----

    def run(self) -> Run:
        env = self.env
        s = self.settings
        if self.replay is not None:
            env.process(self._replay_arrivals(self.replay))
        elif self.entry >= 0 and (self.process.arrivals is not None or s.arrival_times is not None):
            wake = Wake()
            driver.start(env, wake, self._arrivals(wake))
        for od in s.open_deals:
            k = self._new_deal(od.deal, od.amount, arrival=-od.since)
            wake = Wake()
            driver.start(env, wake, self._resume(wake, k, od))
        if s.warmup > 0:
            env.process(self._warm())
        until = s.until if s.until is not None else math.inf
        stop = until + s.run_past
        if s.run_past > 0 and math.isfinite(until):
            env.process(self._window_end(until))
        # Not env.run(until=...): SimPy stops *before* events at exactly `until`; a horizon
        # is inclusive here. driver.run steps the environment (counting the steps: Run.events)
        # while the next event is at or before `stop`; without a horizon until none is left.
        # The cyclic GC is paused meanwhile: the run makes no cyclic garbage step by step
        # (each event <-> process cycle is broken as the event is processed), but every
        # waiting deal is a live generator, so with thousands in the queues each full
        # collection rescans them all: about a tenth of an overloaded run.
        with gc_paused():
            events = driver.run(env, stop)
        end = until if math.isfinite(until) else env.now
        return self._collect(end, events)

    def _warm(self) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.settings.warmup)
        self.warm_stats = [st.stats(self.env.now) if st is not None else None for st in self.staff]

    def _window_end(self, until: float) -> Generator[simpy.Event, Any, None]:
        """The queues' statistics at the end of the window, when the run goes on after it."""
        yield self.env.timeout(until)
        self.end_stats = [st.stats(self.env.now) if st is not None else None for st in self.staff]

    def _arrivals(self, wake: Wake) -> Walk:
        from flowsim.model import IntervalArrivals, RateArrivals

        env = self.env
        arrivals = self.process.arrivals
        limit = self.settings.deals
        times = self.settings.arrival_times
        if times is not None:
            limit = len(times) if limit is None else min(limit, len(times))
            next_gap = _gaps(times).__next__
        else:
            if isinstance(arrivals, RateArrivals):
                gap = self.streams.sampler(_exp(1 / arrivals.per_hour), "arrivals")
            else:
                assert isinstance(arrivals, IntervalArrivals)
                gap = self.streams.sampler(arrivals.interval, "arrivals")
            assert gap is not None
            next_gap = gap.next
            if isinstance(arrivals, RateArrivals) and arrivals.profile is not None:
                next_gap = self._profiled(arrivals.profile, next_gap)
        walk, entry, start, new_deal = self._walk, self.draw_entry, driver.start, self._new_deal
        stages = self.stages
        queue, eid, resume = self.queue, self.eid, wake.resume
        amounts = self.amounts.next if self.amounts is not None else None
        named = self.keep_names
        k = 0
        while limit is None or k < limit:
            wait = next_gap()
            if math.isinf(wait):  # a profile with no more rate before the run ends
                return
            wake.callbacks = [resume]
            heappush(queue, (env._now + wait, NORMAL, next(eid), wake))  # Timeout(env, wait)
            yield
            amount = amounts() if amounts is not None else math.nan
            deal = Wake()
            name = f"D{k + 1:06d}" if named else ""  # a name is only kept for a deal log
            start(env, deal, walk(deal, new_deal(name, amount), entry(), None, stages))
            k += 1

    def _profiled(self, profile: RateProfile, gap: Callable[[], float]) -> Callable[[], float]:
        """Gaps of the non-homogeneous process: each flat-rate gap is operational time,
        mapped through the profile's clock (:mod:`flowsim.sim.arrivals`)."""
        s = self.settings
        horizon = (s.until + s.run_past) if s.until is not None else math.inf
        clock = ArrivalClock(profile, s.epoch, self.default_tz, horizon)
        env = self.env

        def next_gap() -> float:
            now = env.now
            return clock.advance(now, gap()) - now

        return next_gap

    def _new_deal(self, name: str, amount: float, arrival: float | None = None) -> int:
        k = self.n_deals
        self.n_deals += 1
        if self.keep_names:
            self.deal_ids.append(name)
        self.deals[k] = [self.env._now if arrival is None else arrival, math.nan, -1, amount]
        if self.folding is not None and self.folding.due(len(self.visits)):
            self._fold()
        return k

    def _deal(self, wake: Wake, k: int, node: int) -> Walk:
        """A deal walking the model from ``node`` on, sampling every duration and route."""
        return self._walk(wake, k, node, None, self.stages)

    def _resume(self, wake: Wake, k: int, od: OpenDeal) -> Walk:
        """An open deal, ``od.age`` hours into its stage: finish the stay, then walk on.

        The rest of the stay is drawn conditioned on having lasted ``age`` already: effort
        and wait are redrawn until their sum exceeds the age (up to 100 tries; a stay that
        long is past anything the model expects, so the deal moves on at once). Work not
        yet done (effort beyond the age) still needs a person of the owner role.
        """
        st = self.stages[od.node]
        effort, wait, found = _beyond(st, od.age)
        if not found:
            effort = wait = 0.0
        done = min(od.age, effort)
        left_wait = max(0.0, effort + wait - max(od.age, effort)) if effort + wait else 0.0
        yield from self._stay(wake, k, st, 0.0, effort - done, left_wait)
        yield from self._go_on(wake, k, st.idx, st.next_node(), self.stages)

    def _end(self, k: int, node: int) -> None:
        self.where.pop(k, None)
        deal = self.deals[k]
        if deal[_FINISH] == deal[_FINISH]:  # already ended, by another branch
            return
        deal[_FINISH] = self.env._now
        deal[_OUTCOME] = node
        if self.folding is not None and k not in self.forked:
            self.folding.closed.append(k)

    def _stay(
        self, wake: Wake, k: int, st: _StageRun, lead: float, effort: float, wait: float
    ) -> Walk:
        """One stay with the given durations (replay): see ``_walk``."""
        return self._walk(wake, k, st.idx, (lead, effort, wait), self.stages)

    def _walk(
        self,
        wake: Wake,
        k: int,
        node: int,
        given: Durations | None,
        stages: Runs,
        join: int = -1,
    ) -> Walk:
        """Deal ``k``'s stays from ``node`` on, one record each (the module doc's semantics).

        ``given = (lead, effort, wait)``: one stay with these durations (replay); else each
        stay samples its durations and next node, until an outcome or a dead end. Waits on
        ``wake`` (flowsim.sim.driver); ``stages``: the streams (``self.stages``, ``self.tail``).
        ``join >= 0``: the walk is one branch of a parallel block joining at that node; it
        ends where the branch does (at the join, or a stage without a way out), or ends the
        deal at an outcome; it stops before its next stay once the deal has ended.
        """
        n_stages = self.n_stages
        env, where, working_now, busy = self.env, self.where, self.working_now, self.busy
        record, pack, lo, hi = self.visits.extend, _VISIT.pack, self.busy_lo, self.busy_hi
        queue, eid, resume = self.queue, self.eid, wake.resume
        slot: Slot = k if join < 0 else (k, node)
        deal = self.deals[k]
        while given is not None or 0 <= node < n_stages:
            if join >= 0 and deal[_FINISH] == deal[_FINISH]:  # another branch ended the deal
                where.pop(slot, None)
                return
            st = stages[node]
            if given is None:
                lead, effort, wait = 0.0, st.draw_effort(), st.draw_wait()
            else:
                lead, effort, wait = given
            t0 = env._now
            where[slot] = (k, node, t0)
            if lead > 0:
                wake.callbacks = [resume]
                heappush(queue, (t0 + lead, NORMAL, next(eid), wake))
                yield
            ready = start = env._now if lead > 0 else t0
            staff = st.staff
            if staff is not None:
                # Largest deal first; a deal without an amount counts as 0 (never NaN).
                amount = self.deals[k][_AMOUNT] if staff.priority else 0.0
                req = staff.request(-amount if amount == amount else 0.0)
                req.callbacks.append(resume)
                yield
                start = env._now
            end = start
            if effort > 0:
                end = start + effort if st.always_open else st.working.add(start, effort)
                role = st.role
                if role >= 0:
                    working_now[slot] = (role, start, end)
                wake.callbacks = [resume]
                heappush(queue, (start + (end - start), NORMAL, next(eid), wake))
                yield
                if role >= 0:
                    del working_now[slot]
                    if lo <= start and end <= hi:  # all inside the statistics window
                        busy[role] += effort
                    else:
                        self._count_busy(st, start, end, effort)
            if staff is not None:
                staff.release(req)
            if wait > 0:
                wake.callbacks = [resume]
                heappush(queue, (env._now + wait, NORMAL, next(eid), wake))
                yield
            off = end - start - effort
            record(pack(k, node, t0, start, end, env._now, start - ready, effort, off, wait + lead))
            if given is not None:
                return
            node = st.next_node()
            if st.fork is not None:
                node = yield from self._parallel(wake, k, st, stages)
            if join >= 0 and node in (join, _DEAD):  # the branch is done
                where.pop(slot, None)
                return
        if join >= 0:
            where.pop(slot, None)
        self._end(k, node)

    def _parallel(
        self, wake: Wake, k: int, st: _StageRun, stages: Runs
    ) -> Generator[None, Any, int]:
        """Deal ``k`` leaves ``st`` into its parallel block: every branch at once (a walk
        each), the join once all have ended. Returns the join's node, or ``_ENDED`` when an
        outcome inside a branch ended the deal (then nothing more happens to it).

        The branches are walks of their own, started in the block's order as
        ``simpy.Process`` starts them; a :class:`~flowsim.sim.driver.Join` resumes this walk
        (on ``wake``) once the last one's end is processed, as ``simpy.AllOf`` would."""
        assert st.fork is not None
        env = self.env
        self.where.pop(k, None)
        self.forked[k] = self.forked.get(k, 0) + 1
        join = Join(env, wake, len(st.fork))
        for node in st.fork:
            branch = Wake()
            driver.start(env, branch, self._branch(branch, k, node, stages, st.join, join))
        yield
        if self.forked[k] == 1:
            del self.forked[k]
        else:
            self.forked[k] -= 1
        deal = self.deals[k]
        if deal[_FINISH] != deal[_FINISH]:
            return st.join
        if self.folding is not None and k not in self.forked:
            self.folding.closed.append(k)
        return _ENDED

    def _branch(self, wake: Wake, k: int, node: int, stages: Runs, at: int, join: Join) -> Joined:
        """One branch of deal ``k``'s parallel block, from ``node`` to the join ``at``; its
        end event tells ``join`` (as a process's end tells ``simpy.AllOf``)."""
        yield from self._walk(wake, k, node, None, stages, at)
        return join.done

    def _count_busy(self, st: _StageRun, t_work: float, end: float, effort: float) -> None:
        """Add a stay's effort to its role's busy hours, the part inside the window."""
        lo, hi = self.busy_lo, self.busy_hi
        if t_work >= lo and end <= hi:
            self.busy[st.role] += effort
        elif end > lo and t_work < hi:
            self.busy[st.role] += st.working.working_hours(max(t_work, lo), min(end, hi))

    # ---- replay ----

    def _replay_arrivals(self, deals: list[ReplayDeal]) -> Generator[simpy.Event, Any, None]:
        env = self.env
        factor = self._arrival_factor()
        extra = self.streams.rng("arrivals")
        starts: list[tuple[float, int, ReplayDeal, str]] = []
        for i, d in enumerate(deals):
            copies = 1
            if factor != 1.0:
                # Thinning (f < 1) keeps each real deal with probability f; f > 1 adds
                # Poisson(f - 1) copies of it, arriving within the following week.
                copies = (
                    int(extra.random() < factor) if factor < 1 else 1 + extra.poisson(factor - 1)
                )
            for c in range(copies):
                shift = 0.0 if c == 0 else float(extra.random() * 168.0)
                name = d.deal if c == 0 else f"{d.deal}+{c}"
                starts.append((d.arrival + shift, i, d, name))
        starts.sort(key=lambda s: (s[0], s[1], s[3]))
        until = self.settings.until if self.settings.until is not None else math.inf
        for t, _, d, name in starts:
            if t > until:  # the run may go on after the window; no deal arrives then
                break
            if t > env.now:
                yield env.timeout(t - env.now)
            amount = d.amount
            if math.isnan(amount) and self.amounts is not None:
                amount = self.amounts()
            wake = Wake()
            driver.start(env, wake, self._replay_deal(wake, self._new_deal(name, amount), d))

    def _arrival_factor(self) -> float:
        new, old = self.process.arrivals, self.base.arrivals
        if new is None or old is None or new == old:
            return 1.0
        return float(new.per_hour / old.per_hour) if old.per_hour > 0 else 1.0

    def _replay_deal(self, wake: Wake, k: int, deal: ReplayDeal) -> Walk:
        """A real deal on its real path; a scenario's routing change may divert it."""
        stays = deal.stays
        for i, stay in enumerate(stays):
            if stay.gap > 0:
                driver.sleep(self.env, wake, stay.gap)
                yield
            if stay.node >= self.n_stages:  # an outcome reached
                self._end(k, stay.node)
                return
            st = self.stages[stay.node]
            if math.isinf(stay.span):  # open at the end of history
                yield from self._open_stay(wake, k, stay.node, stay.age)
                return
            lead, effort, wait = self._split(st, stay.start_offset, stay.span, self.env.now)
            yield from self._stay(wake, k, st, lead, effort, wait)
            if i + 1 == len(stays):
                break
            nxt = stays[i + 1].node
            diverted = self._divert(st, nxt)
            if diverted != nxt:
                yield from self._off_path(wake, k, diverted)
                return
        self._end(k, -2)

    def _open_stay(self, wake: Wake, k: int, node: int, age: float) -> Walk:
        """A stay still open at the end of history, ``age`` hours old by then, and what follows.

        It runs from its real entry like any stay: it queues for the owner role and holds a
        person for the model's effort, then waits. Effort and wait are drawn conditioned on
        the stay outlasting ``age``, as a start from today does (redrawn until their sum
        exceeds it, at most 100 times: the last draw stands), and the stay never ends before
        a minute past the end of history, when it was seen open. The deal then walks the
        model on (:meth:`_off_path`).
        """
        st = self.tail[node]
        effort, wait, _ = _beyond(st, age)
        wait = max(wait, age + _MINUTE - effort)
        yield from self._walk(wake, k, node, (0.0, effort, wait), self.tail)
        yield from self._go_on(wake, k, node, st.next_node(), self.tail)

    def _off_path(self, wake: Wake, k: int, node: int) -> Walk:
        """Deal ``k`` leaves its real path for ``node`` and walks the model from there.

        It samples durations and routes on the streams kept for deals off their real path
        (``self.tail``). A win it reaches this way is a win history did not have: it brings
        in :func:`~flowsim.sim.replay.win_value`, never the 0 a lost deal's amount may be.
        """
        yield from self._go_on(wake, k, -1, node, self.tail)

    def _go_on(self, wake: Wake, k: int, after: int, node: int, stages: Runs) -> Walk:
        """Deal ``k`` walks the model from ``node`` on, after a stay at ``after`` (-1: none).

        A deal history saw inside a parallel branch (open there, or diverted into it) has no
        fork behind it: it finishes that branch, then goes on from the block's join. (The
        other branches' state is not known; the join waits for this one only.)
        """
        join = self.branch_join.get(after if after >= 0 else node, -1)
        if join >= 0 and node != join:
            if node == _DEAD:
                node = join
            elif 0 <= node < self.n_stages and self.branch_join.get(node) == join:
                yield from self._walk(wake, k, node, None, stages, join)
                deal = self.deals[k]
                if deal[_FINISH] == deal[_FINISH]:  # an outcome inside the branch
                    return
                node = join
        if 0 <= node < self.n_stages:
            yield from self._walk(wake, k, node, None, stages)
        else:
            self._end(k, node)
        deal = self.deals[k]
        if deal[_OUTCOME] in self.won_nodes:
            deal[_AMOUNT] = win_value(deal[_AMOUNT], self.amounts, self.settings.won_amount)

    def _split(
        self, st: _StageRun, start_offset: float | None, span: float, t0: float
    ) -> tuple[float, float, float]:
        """Observed stay → (lead, effort, wait) so that unhindered it takes exactly ``span``.

        With a start timestamp the work is the observed start→end working time and the time
        before it is lead time. Without one, the modelled effort (sampled, capped at the
        working time the stay offers) comes first and the rest is customer wait. Under a
        scenario the effort is the scenario's draw on the same random stream (common random
        numbers) and the customer wait scales by the ratio of the modelled means.
        """
        working = st.working
        if start_offset is not None:
            lead = min(max(start_offset, 0.0), span)
            base = working.working_hours(t0 + lead, t0 + span)
            new = base
            if st.effort is not None and st.base_effort is not None:
                b, n = st.base_effort(), st.effort()
                new = base * (n / b) if b > 0 else base
        else:
            lead = 0.0
            avail = working.working_hours(t0, t0 + span)
            b = st.base_effort() if st.base_effort is not None else 0.0
            n = st.effort() if st.effort is not None else b
            base = min(b, avail)
            new = n if b <= avail else (n * avail / b if b > 0 else 0.0)
        work_end = working.add(t0 + lead, base) if base > 0 else t0 + lead
        wait = max(t0 + span - work_end, 0.0) * st.wait_ratio
        return lead, new, wait

    def _divert(self, st: _StageRun, observed: int) -> int:
        """Keep the observed next node, or re-route it where the scenario moved probability.

        A maximal coupling of the designed (baseline) and scenario routing: with p the
        baseline and q the scenario probabilities, the observed target j stays with
        probability min(1, q_j / p_j); otherwise the deal goes to k with probability
        proportional to max(0, q_k - p_k). Unchanged routing never diverts (and draws
        nothing), and transitions the design lacks are kept as they happened.
        """
        base = self._base_probs(st.idx)
        new = dict(zip(st.targets, _diffs(st.cum), strict=True))
        if base == new:
            return observed
        p_j = base.get(observed, 0.0)
        q_j = new.get(observed, 0.0)
        if p_j <= 0:
            return observed
        u = st.route()
        if u < min(1.0, q_j / p_j):
            return observed
        gains = [(t, max(0.0, q - base.get(t, 0.0))) for t, q in new.items()]
        total = sum(g for _, g in gains)
        if total <= 0:
            return observed
        v = (u - q_j / p_j) / (1 - q_j / p_j) * total  # the rest of the same uniform
        acc = 0.0
        for t, g in gains:
            acc += g
            if v < acc:
                return t
        return gains[-1][0]

    def _base_probs(self, i: int) -> dict[int, float]:
        cache: dict[int, dict[int, float]] = self.__dict__.setdefault("_bp", {})
        found = cache.get(i)
        if found is None:
            stage_id = self.nodes[i]
            found = {}
            for t, p in self.base.outgoing(stage_id):
                if t.target in self.index:
                    found[self.index[t.target]] = found.get(self.index[t.target], 0.0) + p
            cache[i] = found
        return found

    # ---- folding (Settings.fold_at) ----

    def _fold(self) -> None:
        """Fold the closed deals into the run's tally, and forget them and their stays.

        Called as a deal arrives (never between a deal's end and a replay's last word on
        its amount, see ``_off_path``). The window's end is the horizon (with none, every
        stay so far ends before the run does).
        """
        folding = self.folding
        assert folding is not None
        keys = np.array(sorted(folding.closed), dtype=np.int64)
        folding.closed.clear()
        rows, kept = _take_rows(self.visits, keys)
        self.visits[:] = kept  # the same buffer: the deals' walks hold its `extend`
        columns = _columns([self.deals.pop(k) for k in keys.tolist()])
        deals = Deals(keys, *columns, rows)
        folding.add(tally(deals, self._window(self.busy_hi)), len(self.visits))

    def _window(self, hi: float) -> Window:
        results = [(self.index[o.id], o.result) for o in self.process.outcomes]
        return Window(
            lo=self.settings.warmup,
            hi=hi,
            n_nodes=len(self.nodes),
            n_stages=self.n_stages,
            won=tuple(i for i, r in results if r == "won"),
            lost=tuple(i for i, r in results if r == "lost"),
        )

    # ---- results ----

    def _collect(self, end: float, events: int) -> Run:
        s = self.settings
        arrival, finish, outcome, amount = _columns(list(self.deals.values()))
        lo, hi = s.warmup, end
        n_roles = len(self.roles)
        busy = np.array(self.busy, dtype=float)
        for role, t_work, t_end in self.working_now.values():
            a, b = max(t_work, lo), min(t_end, hi)
            if b > a:
                busy[role] += self.role_time[role].working_hours(a, b)
        available = np.array(
            [
                available_person_hours(self.schedules[r], self.role_time[r], lo, hi)
                for r in range(n_roles)
            ],
            dtype=float,
        )
        queue_area = np.zeros(n_roles)
        max_queue = np.zeros(n_roles)
        for r, staff in enumerate(self.staff):
            if staff is None:
                continue
            now_stats = self.end_stats[r] if self.end_stats is not None else staff.stats(hi)
            before = self.warm_stats[r]
            queue_area[r] = now_stats.queue_hours - (before.queue_hours if before else 0.0)
            max_queue[r] = now_stats.max_queue
        width = len(VISIT_COLUMNS)
        visits = np.frombuffer(self.visits, dtype=float).reshape(-1, width).copy()
        open_rows = [
            (k, node, t0, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan, math.nan)
            for k, node, t0 in sorted(self.where.values())
        ]
        if open_rows:
            visits = np.vstack([visits, np.array(open_rows, dtype=float)])
        results: dict[int, str] = {
            self.index[o.id]: o.result for o in self.process.outcomes if o.id in self.index
        }
        return Run(
            nodes=self.nodes,
            outcomes={self.index[o.id]: o.id for o in self.process.outcomes},
            results=results,
            roles=self.roles,
            start=0.0,
            end=end,
            warmup=s.warmup,
            deal_ids=self.deal_ids,
            arrival=arrival,
            finish=finish,
            outcome=outcome,
            amount=amount,
            visits=visits,
            busy=busy,
            available=available,
            queue_area=queue_area,
            max_queue=max_queue,
            owner_of={st.idx: self.roles[st.role] for st in self.stages if st.role >= 0},
            events=events,
            keys=None if self.folding is None else np.array(list(self.deals), dtype=np.int64),
            folded=None if self.folding is None else self.folding.tally,
        )


class Folding:
    """When a run folds its closed deals away, and the tally of those it folded."""

    def __init__(self, at: int) -> None:
        self.at = max(1, at)
        self.closed: list[int] = []
        self.next = self.at * _VISIT.size
        self.tally: Tally | None = None

    def due(self, held_bytes: int) -> bool:
        """``held_bytes`` of stays held, or ``at`` closed deals: time to fold."""
        return held_bytes >= self.next or len(self.closed) >= self.at

    def add(self, part: Tally, held_bytes: int) -> None:
        """Take a fold's tally; the next fold waits for twice the stays still held."""
        self.tally = part if self.tally is None else self.tally.merge(part)
        self.next = max(self.at * _VISIT.size, 2 * held_bytes)


def _take_rows(buffer: bytearray, keys: np.ndarray) -> tuple[np.ndarray, bytes]:
    """The stays of deals ``keys`` (a copy), and the other stays' bytes, from ``buffer``.

    Nothing here keeps a view of the buffer, so that it can be resized afterwards.
    """
    view = np.frombuffer(buffer, dtype=float).reshape(-1, len(VISIT_COLUMNS))
    mine = np.isin(view[:, 0], keys)
    return view[mine], view[~mine].tobytes()


def _columns(deals: list[list[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Arrival, finish, outcome and amount arrays of per-deal ``Engine.deals`` entries.

    Each a contiguous array, as numpy's pairwise sums over it must not depend on a stride.
    The entries are read flat (``np.fromiter``: the same values, about 1.5x faster than
    ``np.array`` of the nested lists).
    """
    flat = chain.from_iterable(deals)
    table = np.fromiter(flat, dtype=float, count=4 * len(deals)).reshape(-1, 4)
    arrival, finish, amount = (np.ascontiguousarray(table[:, i]) for i in (0, 1, 3))
    return arrival, finish, table[:, _OUTCOME].astype(np.int64), amount


def _DEAD_END() -> int:
    return -2


def _chooser(nodes: list[int], cum: list[float], draw: Callable[[], float]) -> Callable[[], int]:
    """The one routing rule: where a deal goes next (or which entry a new deal takes).

    ``cum`` are the cumulative probabilities of ``nodes``; the choice is the first node
    whose cumulative probability exceeds a uniform ``draw()``, and the last node takes what
    float rounding (or probabilities summing to less than 1) leaves. Without nodes: -2, a
    dead end, and nothing is drawn.
    """
    if not nodes:
        return _DEAD_END
    bounds = [*cum[:-1], math.inf]
    return lambda: nodes[bisect_right(bounds, draw())]


def _router(nodes: list[int], cum: list[float], rng: np.random.Generator) -> Callable[[], int]:
    """:func:`_chooser`'s rule on ``rng``'s uniforms, a block of them at a time.

    The same nodes as ``_chooser(nodes, cum, Streams.uniform(...).next)`` on a stream in the
    same state (``np.searchsorted(..., side="right")`` is ``bisect_right``, element by
    element; blocks of ``BLOCK`` drawn lazily as a ``Sampler`` draws them), handed out by a C
    call (``chain.__next__``) instead of a Python one per stay.
    """
    if not nodes:
        return _DEAD_END
    table, bounds = np.array(nodes), np.array([*cum[:-1], math.inf])
    blocks = (
        table[np.searchsorted(bounds, rng.random(BLOCK), side="right")].tolist()
        for _ in repeat(None)
    )
    return chain.from_iterable(blocks).__next__


def _draw(sampler: Sampler | None) -> Callable[[], float]:
    """The sampler's ``next``, or ``float`` (which returns 0.0) when there is no distribution.

    Both are C callables: the deal loop asks for two durations per stay without a Python call
    or a ``None`` test, and gets exactly what ``sampler()`` (or the 0.0 default) would give.
    """
    return float if sampler is None else sampler.next


def _beyond(st: _StageRun, age: float) -> tuple[float, float, bool]:
    """Effort and wait of ``st`` whose sum exceeds ``age``, and whether they do.

    Redrawn up to 100 times; when no draw lasts that long the last one is returned with
    False (a stay longer than anything the model expects).
    """
    effort = wait = 0.0
    for _ in range(100):
        effort = st.effort() if st.effort is not None else 0.0
        wait = st.wait() if st.wait is not None else 0.0
        if effort + wait > age:
            return effort, wait, True
    return effort, wait, False


def _diffs(cum: list[float]) -> Iterator[float]:
    prev = 0.0
    for c in cum:
        yield c - prev
        prev = c


def _gaps(times: tuple[float, ...]) -> Iterator[float]:
    """The time from one arrival to the next, the first from 0 (``Settings.arrival_times``)."""
    prev = 0.0
    for t in times:
        if not t >= prev:
            raise InputError(f"arrival times must be sorted and not negative: {t} after {prev}")
        yield t - prev
        prev = t


def _exp(mean: float) -> Distribution:
    from flowsim.model import Exponential

    return Exponential(mean=mean)


def run_once(
    process: Process,
    settings: Settings,
    seed: int,
    replication: int,
    *,
    base: Process | None = None,
    replay: list[ReplayDeal] | None = None,
) -> Run:
    """Run replication ``replication`` of ``process`` (a scenario of ``base``) and collect it."""
    engine = Engine(process, settings, Streams(seed, replication), base=base, replay=replay)
    return engine.run()
