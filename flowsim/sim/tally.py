"""A run's statistics as partial sums that add up, so that a long run need not keep every deal.

The KPIs of :mod:`flowsim.sim.kpis` are counts, sums, means and quantiles over deals and
stays. A :class:`Tally` holds them for a set of *whole* deals (all their stays, and their
outcome when they have one): counts and sums as they are, each quantile's values in a
:class:`Sample`. The tallies of two disjoint sets of deals add up (:meth:`Tally.merge`) to
the tally of both.

While a run holds fewer stays than ``Settings.fold_at`` the engine keeps every deal, and its
KPIs come from one tally of all of them, built with the same numpy reductions over the same
rows in the same order as ever: the figures are bit-for-bit those of a run that kept
everything. Past that (only when no deal log is asked for), the engine now and then folds
its closed deals into a tally and forgets them, so its memory follows the deals in flight,
not the deals simulated. Then a sum is a sum of partial sums (it differs from one sum only
by floating-point rounding, about 1e-15 relative per fold), and a merged sample keeps a
log-bucket histogram instead of its values: a quantile is then within
:data:`RELATIVE_ERROR` (0.01%) of the exact one (each order statistic is read as its
bucket's centre, and the linear interpolation between two of them keeps that bound).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "RELATIVE_ERROR",
    "VISIT_COLUMNS",
    "Deals",
    "Sample",
    "StageParts",
    "Tally",
    "Window",
    "tally",
]

#: visit record columns, in order
VISIT_COLUMNS = (
    "deal",
    "node",
    "entered",
    "started",
    "worked",
    "left",
    "queue",
    "effort",
    "off_calendar",
    "wait",
)
_C = {name: i for i, name in enumerate(VISIT_COLUMNS)}
#: the measures of a finished stay whose mean each stage reports, in STAGE_KPIS order
STAY_MEASURES = ("queue", "effort", "off_calendar", "wait")

#: a merged sample's quantiles are within this relative error of the exact ones
RELATIVE_ERROR = 1e-4
_GAMMA = (1 + RELATIVE_ERROR) / (1 - RELATIVE_ERROR)
_LOG_GAMMA = math.log(_GAMMA)
_NONE = np.zeros(0, dtype=np.int64)


@dataclass(frozen=True)
class Sample:
    """Values (durations, never negative) whose count, mean and quantiles are reported.

    Either the values themselves (``values``, exact), or a histogram of them: ``zeros``
    values of 0 and ``counts[j]`` values in the bucket ``(g^(keys[j] - 1), g^keys[j]]``,
    ``g`` = (1 + e) / (1 - e) for the relative error e = :data:`RELATIVE_ERROR`.
    """

    n: int
    total: float
    values: np.ndarray | None
    keys: np.ndarray
    counts: np.ndarray
    zeros: int

    @classmethod
    def of(cls, values: np.ndarray) -> Sample:
        """The exact sample of ``values`` (their sum as numpy's ``mean`` sums them)."""
        return cls(int(values.size), float(values.sum()), values, _NONE, _NONE, 0)

    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def quantile(self, q: float) -> float | None:
        """numpy's (linear) quantile ``q``: exact, or within RELATIVE_ERROR of it."""
        if not self.n:
            return None
        if self.values is not None:
            return float(np.quantile(self.values, q))
        h = (self.n - 1) * q
        i = math.floor(h)
        low = self._order_statistic(i)
        if h == i:
            return low
        return low + (h - i) * (self._order_statistic(i + 1) - low)

    def _order_statistic(self, rank: int) -> float:
        """The ``rank``-th smallest value (from 0), as the centre of its bucket."""
        if rank < self.zeros:
            return 0.0
        j = int(np.searchsorted(np.cumsum(self.counts), rank - self.zeros, side="right"))
        return float(2 * _GAMMA ** float(self.keys[j]) / (_GAMMA + 1))

    def histogram(self) -> Sample:
        """The same sample as a histogram."""
        if self.values is None:
            return self
        positive = self.values[self.values > 0]
        keys, counts = np.unique(
            np.ceil(np.log(positive) / _LOG_GAMMA).astype(np.int64), return_counts=True
        )
        return Sample(self.n, self.total, None, keys, counts, self.n - int(positive.size))

    def merge(self, other: Sample) -> Sample:
        """The sample of both (a histogram)."""
        a, b = self.histogram(), other.histogram()
        keys, inverse = np.unique(np.concatenate([a.keys, b.keys]), return_inverse=True)
        counts = np.bincount(inverse, np.concatenate([a.counts, b.counts]), len(keys))
        return Sample(
            a.n + b.n, a.total + b.total, None, keys, counts.astype(np.int64), a.zeros + b.zeros
        )


@dataclass(frozen=True)
class Deals:
    """Whole deals, as arrays in the order of their (global) indices ``keys``.

    ``finish`` is NaN while a deal is open; ``outcome`` its node index, -1 while open, -2
    left at a dead end. ``visits`` are all their stays (VISIT_COLUMNS; ``deal`` a key).
    """

    keys: np.ndarray
    arrival: np.ndarray
    finish: np.ndarray
    outcome: np.ndarray
    amount: np.ndarray
    visits: np.ndarray


@dataclass(frozen=True)
class StageParts:
    """Per stage (arrays indexed by stage): its stays, and the cohort's time in it.

    ``entered`` counts the stays begun inside the window, ``completed`` those of them also
    finished inside it; ``stay_sums[i, m]`` sums measure ``STAY_MEASURES[m]`` over the
    completed stays of stage ``i``, ``stays[i]`` their times in the stage.
    ``hours_per_deal`` and ``queue_per_deal`` sum the time (and its queueing part) the
    cohort's deals spent in each stage.
    """

    entered: np.ndarray
    completed: np.ndarray
    stay_sums: np.ndarray
    stays: list[Sample]
    hours_per_deal: np.ndarray
    queue_per_deal: np.ndarray

    def merge(self, other: StageParts) -> StageParts:
        """The parts of both sets of deals."""
        return StageParts(
            self.entered + other.entered,
            self.completed + other.completed,
            self.stay_sums + other.stay_sums,
            [a.merge(b) for a, b in zip(self.stays, other.stays, strict=True)],
            self.hours_per_deal + other.hours_per_deal,
            self.queue_per_deal + other.queue_per_deal,
        )


@dataclass(frozen=True)
class Tally:
    """The KPIs' counts, sums and samples over a set of whole deals (see the module doc).

    Deal counts are period figures (inside the window), cycle times (days) cohort figures:
    deals that arrived after the warm-up and closed inside the window.
    """

    arrived: int
    won: int
    lost: int
    open_at_end: int
    has_amount: bool
    revenue: float
    pipeline: float
    wip_hours: float
    cycles: dict[str, Sample]
    cohort: int
    stages: StageParts
    edges: dict[int, int]

    def merge(self, other: Tally) -> Tally:
        """The tally of both sets of deals (which must not overlap)."""
        edges = dict(self.edges)
        for k, c in other.edges.items():
            edges[k] = edges.get(k, 0) + c
        return Tally(
            arrived=self.arrived + other.arrived,
            won=self.won + other.won,
            lost=self.lost + other.lost,
            open_at_end=self.open_at_end + other.open_at_end,
            has_amount=self.has_amount or other.has_amount,
            revenue=self.revenue + other.revenue,
            pipeline=self.pipeline + other.pipeline,
            wip_hours=self.wip_hours + other.wip_hours,
            cycles={k: s.merge(other.cycles[k]) for k, s in self.cycles.items()},
            cohort=self.cohort + other.cohort,
            stages=self.stages.merge(other.stages),
            edges=dict(sorted(edges.items())),
        )


@dataclass(frozen=True)
class Window:
    """What a tally needs besides the deals: the statistics window and the model's nodes."""

    lo: float
    hi: float
    n_nodes: int
    n_stages: int
    won: tuple[int, ...]
    lost: tuple[int, ...]


def tally(deals: Deals, w: Window) -> Tally:
    """The tally of ``deals`` over the window ``[w.lo, w.hi]`` (vectorised, no loop per deal)."""
    lo, hi = w.lo, w.hi
    finished = ~np.isnan(deals.finish)
    in_window = finished & (deals.finish >= lo) & (deals.finish <= hi)
    won = in_window & np.isin(deals.outcome, w.won)
    lost = in_window & np.isin(deals.outcome, w.lost)
    open_end = (deals.arrival <= hi) & (~finished | (deals.finish > hi))
    cohort = in_window & (deals.arrival >= lo)
    cycle = (deals.finish - deals.arrival) / 24
    amount = deals.amount
    # the local index of each stay's deal (keys are sorted)
    local = np.searchsorted(deals.keys, deals.visits[:, _C["deal"]].astype(np.int64))
    return Tally(
        arrived=int(((deals.arrival >= lo) & (deals.arrival <= hi)).sum()),
        won=int(won.sum()),
        lost=int(lost.sum()),
        open_at_end=int(open_end.sum()),
        has_amount=bool(np.isfinite(amount).any()),
        revenue=float(np.nansum(amount[won])),
        pipeline=float(np.nansum(amount[open_end])),
        wip_hours=_wip_hours(deals, lo, hi),
        cycles={
            prefix: Sample.of(cycle[mask])
            for prefix, mask in (("", cohort), ("won_", cohort & won), ("lost_", cohort & lost))
        },
        cohort=int(cohort.sum()),
        stages=_stage_parts(deals.visits, cohort[local], w),
        edges=_edges(deals, local, w),
    )


def _wip_hours(deals: Deals, lo: float, hi: float) -> float:
    """∫ WIP dt over the window: the sum of each deal's time in flight inside it."""
    end = np.where(np.isnan(deals.finish), hi, deals.finish)
    overlap = np.minimum(end, hi) - np.maximum(deals.arrival, lo)
    return float(np.clip(overlap, 0, None).sum())


def _edges(deals: Deals, local: np.ndarray, w: Window) -> dict[int, int]:
    """Moves ``node * n_nodes + next`` → count, of stays that ended inside the window."""
    v = deals.visits
    if not len(v):
        return {}
    left = v[:, _C["left"]]
    order = np.lexsort((v[:, _C["entered"]], local))
    deal, node, left = local[order], v[order, _C["node"]].astype(np.int64), left[order]
    same = np.append(deal[1:] == deal[:-1], False)
    nxt = np.where(same, np.append(node[1:], -1), deals.outcome[deal])
    ok = ~np.isnan(left) & (left >= w.lo) & (left <= w.hi) & (nxt >= 0)
    keys, counts = np.unique(node[ok] * w.n_nodes + nxt[ok], return_counts=True)
    return dict(zip(keys.tolist(), counts.tolist(), strict=True))


def _stage_parts(v: np.ndarray, mine: np.ndarray, w: Window) -> StageParts:
    """The per-stage part of a tally: stays begun inside the window, and the cohort's time.

    ``mine``: per stay, whether its deal is in the cohort (closed inside the window, arrived
    after the warm-up), whose time in each stage makes up its cycle time.
    """
    node = v[:, _C["node"]].astype(np.int64)
    entered = v[:, _C["entered"]]
    left = v[:, _C["left"]]
    began = (entered >= w.lo) & (entered <= w.hi)
    done = began & ~np.isnan(left) & (left <= w.hi)
    n = w.n_stages
    counts = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    sums = np.zeros((n, len(STAY_MEASURES)))
    stays: list[Sample] = []
    for i in range(n):
        here = node == i
        d = done & here
        rows = v[d]
        counts[0][i], counts[1][i] = int((began & here).sum()), int(d.sum())
        for m, measure in enumerate(STAY_MEASURES):
            sums[i, m] = float(rows[:, _C[measure]].sum())
        stays.append(Sample.of(rows[:, _C["left"]] - rows[:, _C["entered"]]))
    stay = np.where(mine, left - entered, 0.0)
    queued = np.where(mine, v[:, _C["queue"]], 0.0)
    return StageParts(
        entered=counts[0],
        completed=counts[1],
        stay_sums=sums,
        stays=stays,
        hours_per_deal=np.bincount(node, weights=stay, minlength=n),
        queue_per_deal=np.bincount(node, weights=queued, minlength=n),
    )
