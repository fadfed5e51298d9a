"""Parameter uncertainty for the forecast: the model refitted on bootstrap resamples of deals.

A forecast run only with the fitted model's simulation noise treats the fitted conversion
rates, stage durations, arrival rate and amounts as exact; they are estimates from a finite
history, and their error is part of what the forecast does not know. :func:`bootstrap_models`
refits the model on resamples of the history's deals, drawn with replacement, keeping its
structure (the same stages, outcomes and transitions, so today's open deals continue in
every refitted model) and refitting its fitted numbers from each resample:

* **routing**: each transition's probability times (moves along it in the resample + ½) /
  (moves along it in the history + ½), renormalised over its stage's exits (the ½ keeps every
  transition of the model possible, and moves the model folded away change nothing);
* **durations**: each stage's effort and wait stretched by the resample's mean closed stay
  over the history's (the family and shape kept);
* **arrivals**: the rate times the resample's deal count over the history's;
* **amounts**: an empirical amount resampled with replacement, another family stretched by
  the resample's mean won amount over the history's.

The resample is the *Poisson bootstrap*: every deal is taken ``Poisson(1)`` times, so the
resample's size varies as a Poisson count does (an arrival rate estimated from ``n`` deals
is uncertain by about ``√n``), and the refit is a weighted sum of per-deal counts: cheap
enough for one model per replication.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import polars as pl

from flowsim.model import Empirical, IntervalArrivals, Process, RateArrivals, Transition
from flowsim.sim.wins import won_records

__all__ = ["Evidence", "bootstrap_models", "evidence"]


@dataclass(frozen=True)
class Evidence:
    """What the history says about each fitted number, per deal (the resampling unit)."""

    deals: int
    move_deal: np.ndarray  # one entry per observed move along a model transition
    move_edge: np.ndarray  # its transition index (into process.transitions)
    stay_deal: np.ndarray  # one entry per closed stay in a stage
    stay_stage: np.ndarray  # its stage index (into process.stages)
    stay_hours: np.ndarray
    won_deal: np.ndarray  # one entry per won deal with an amount
    won_amount: np.ndarray


def evidence(history: object, process: Process, when: datetime) -> Evidence:
    """Per deal, the moves, closed stays and won amounts the history recorded by ``when``."""
    frame: pl.DataFrame = history.frame  # type: ignore[attr-defined]
    values = frame["stage"].cast(pl.Utf8).unique().drop_nulls().to_list()
    names = {v: process.find_node(v) for v in values}
    frame = (
        frame.filter(pl.col("entered_at") <= when)
        .sort(["deal", "entered_at", "source_row"])
        .with_columns(
            pl.col("stage")
            .cast(pl.Utf8)
            .replace_strict(names, default=None, return_dtype=pl.Utf8)
            .alias("node"),
            (pl.col("deal").cast(pl.Utf8).rank("dense").cast(pl.Int64) - 1).alias("d"),
        )
        .with_columns(
            pl.col("node").shift(-1).over("deal").alias("next"),
            pl.coalesce("left_at", pl.col("entered_at").shift(-1).over("deal")).alias("ended"),
        )
    )
    edges = {(t.source, t.target): i for i, t in enumerate(process.transitions)}
    moves = [
        (d, edges[(a, b)])
        for d, a, b in frame.select("d", "node", "next").iter_rows()
        if (a, b) in edges
    ]
    stages = {s.id: i for i, s in enumerate(process.stages)}
    closed = frame.filter(  # a stay ends when it is left, else at the deal's next record
        pl.col("ended").is_not_null()
        & (pl.col("ended") <= when)
        & pl.col("node").is_in(list(stages))
    ).with_columns(
        ((pl.col("ended") - pl.col("entered_at")).dt.total_seconds() / 3600.0).alias("hours")
    )
    won = (
        won_records(history, process)
        .filter(pl.col("entered_at") <= when)
        .join(frame.select("deal", "d").unique(), on="deal")
        .filter(pl.col("amount").is_not_null() & pl.col("amount").is_finite())
    )
    return Evidence(
        deals=int(frame["d"].to_numpy().max()) + 1 if frame.height else 0,
        move_deal=np.array([m[0] for m in moves], dtype=np.int64),
        move_edge=np.array([m[1] for m in moves], dtype=np.int64),
        stay_deal=closed["d"].to_numpy().astype(np.int64),
        stay_stage=np.array([stages[n] for n in closed["node"].to_list()], dtype=np.int64),
        stay_hours=closed["hours"].to_numpy().astype(float),
        won_deal=won["d"].to_numpy().astype(np.int64),
        won_amount=won["amount"].to_numpy().astype(float),
    )


def bootstrap_models(process: Process, found: Evidence, count: int, seed: int) -> list[Process]:
    """``count`` refits of ``process`` on Poisson-bootstrap resamples of ``found``'s deals.

    Deterministic for ``seed``: model ``b`` draws from its own stream.
    """
    out: list[Process] = []
    for b in range(count):
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0xB007, b)))
        weights = rng.poisson(1.0, found.deals).astype(float)
        out.append(_refit(process, found, weights, rng))
    return out


def _refit(process: Process, found: Evidence, w: np.ndarray, rng: np.random.Generator) -> Process:
    """The process with its numbers refitted on the resample weighted by ``w`` (per deal)."""
    update: dict[str, object] = {
        "transitions": _routing(process, found, w),
        "stages": _durations(process, found, w),
    }
    share = float(w.sum()) / found.deals if found.deals else 1.0
    arrivals = process.arrivals
    if isinstance(arrivals, RateArrivals) and share > 0:
        update["arrivals"] = arrivals.model_copy(update={"count": arrivals.count * share})
    elif isinstance(arrivals, IntervalArrivals) and share > 0:
        interval = arrivals.interval.scaled(1 / share)
        update["arrivals"] = arrivals.model_copy(update={"interval": interval})
    update["amount"] = _amount(process, found, w, rng)
    refit = process.model_copy(update=update)
    for attr in ("_graph", "_index", "_names"):  # the copy's caches describe the original
        setattr(refit, attr, None)
    return refit


def _routing(process: Process, found: Evidence, w: np.ndarray) -> tuple[Transition, ...]:
    """Each stage's exit probabilities reweighted by the resample's moves (see the module)."""
    n = len(process.transitions)
    seen = np.bincount(found.move_edge, minlength=n).astype(float)
    drawn = np.bincount(found.move_edge, weights=w[found.move_deal], minlength=n)
    factor = (drawn + 0.5) / (seen + 0.5)
    stages = {s.id for s in process.stages}
    index = {id(t): i for i, t in enumerate(process.transitions)}
    new: dict[int, float] = {}
    for source in stages:
        edges = process.outgoing(source)
        raw = [p * factor[index[id(t)]] for t, p in edges]
        total = sum(raw)
        if total > 0:
            new.update({index[id(t)]: r / total for (t, _), r in zip(edges, raw, strict=True)})
    return tuple(
        t.model_copy(update={"probability": float(min(1.0, new[i]))}) if i in new else t
        for i, t in enumerate(process.transitions)
    )


def _durations(process: Process, found: Evidence, w: np.ndarray) -> tuple[object, ...]:
    """Each stage's effort and wait stretched by the resample's mean closed stay over the
    history's (unchanged where the history has no closed stay)."""
    k = len(process.stages)
    hours = np.bincount(found.stay_stage, weights=found.stay_hours, minlength=k)
    stays = np.bincount(found.stay_stage, minlength=k).astype(float)
    ww = w[found.stay_deal]
    hours_b = np.bincount(found.stay_stage, weights=found.stay_hours * ww, minlength=k)
    stays_b = np.bincount(found.stay_stage, weights=ww, minlength=k)
    out: list[object] = []
    for i, stage in enumerate(process.stages):
        if min(hours[i], stays_b[i], hours_b[i]) <= 0:
            out.append(stage)
            continue
        ratio = (hours_b[i] / stays_b[i]) / (hours[i] / stays[i])
        out.append(
            stage.model_copy(
                update={
                    "effort": stage.effort.scaled(ratio) if stage.effort else None,
                    "wait": stage.wait.scaled(ratio) if stage.wait else None,
                }
            )
        )
    return tuple(out)


def _amount(process: Process, found: Evidence, w: np.ndarray, rng: np.random.Generator) -> object:
    """The amount refitted: an empirical one resampled, another stretched by the mean."""
    amount = process.amount
    if amount is None:
        return None
    if isinstance(amount, Empirical):
        values = np.asarray(amount.values, dtype=float)
        return Empirical(values=tuple(float(v) for v in rng.choice(values, len(values))))
    ww = w[found.won_deal]
    mean, mean_b = found.won_amount.mean() if found.won_amount.size else 0.0, 0.0
    if ww.sum() > 0:
        mean_b = float(ww @ found.won_amount / ww.sum())
    if mean > 0 and mean_b > 0 and math.isfinite(mean_b / mean):
        return amount.scaled(mean_b / mean)
    return amount
