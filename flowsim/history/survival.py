"""Kaplan–Meier time in stage and cumulative incidence of exits, with right-censoring.

A *visit* is one record of a deal in a stage. It either ends (the deal's next record, or the
record's own ``left_at``) after ``duration`` hours, or is still running at ``as_of``: then it is
right-censored at ``as_of - entered_at``. Dropping censored visits biases time in stage
downwards (long stays are the ones still running); counting them as finished biases it too.

- :func:`kaplan_meier` estimates ``S(t) = P(still in the stage after t hours)``:
  ``S(t) = Π_{t_i <= t} (1 - d_i / n_i)`` over the distinct exit times ``t_i``, with ``d_i`` exits
  at ``t_i`` and ``n_i`` visits still at risk just before ``t_i`` (a visit censored at ``t_i``
  is still at risk at ``t_i``, the usual convention).
- :func:`cumulative_incidence` is the Aalen–Johansen estimate for competing exits (e.g. moved on
  vs lost): ``F_k(t) = Σ_{t_i <= t} S(t_i-) · d_{k,i} / n_i``, so ``Σ_k F_k(t) + S(t) = 1``.

Everything is vectorised with numpy (sort once, ``np.unique`` + ``bincount``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

import numpy as np
import numpy.typing as npt
from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import core_schema

from flowsim.errors import InputError

__all__ = [
    "KMCurve",
    "Steps",
    "competing_risks",
    "cumulative_incidence",
    "kaplan_meier",
    "median_survival",
]

FloatArray = npt.NDArray[np.float64]


class Steps(Sequence[float]):
    """An immutable sequence of floats held in one read-only numpy array.

    A Kaplan–Meier curve has a step at every distinct exit time: a million steps per stage on
    a log of a million deals. As Python lists, its times and values were 32 bytes per point
    and the single most expensive part of the metrics (converting them took longer than the
    estimate). ``Steps`` keeps the array and behaves as the list did: ``len``, indexing,
    iteration, equality with a list or tuple of the same floats, and a JSON list in
    ``model_dump(mode="json")``; ``np.asarray(steps)`` gives the array without a copy.
    """

    __slots__ = ("_values",)

    def __init__(self, values: Iterable[float] | npt.ArrayLike = ()) -> None:
        array = np.array(values, dtype=np.float64)  # a copy: nobody else may change it
        if array.ndim != 1:
            raise ValueError(f"Steps holds a flat sequence of floats, not shape {array.shape}")
        array.setflags(write=False)
        self._values = array

    @classmethod
    def of(cls, array: FloatArray) -> Steps:
        """Wrap ``array`` (1-D float64, no longer written by its owner) without copying it."""
        out = cls.__new__(cls)
        array.setflags(write=False)
        out._values = array
        return out

    def __len__(self) -> int:
        return len(self._values)

    @overload
    def __getitem__(self, index: int) -> float: ...

    @overload
    def __getitem__(self, index: slice) -> Steps: ...

    def __getitem__(self, index: int | slice) -> float | Steps:
        if isinstance(index, slice):
            return Steps.of(self._values[index])
        return float(self._values[index])

    def __iter__(self) -> Iterator[float]:
        return iter(self.tolist())

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> FloatArray:
        if copy:
            return np.array(self._values, dtype=dtype)
        return self._values if dtype is None else self._values.astype(dtype, copy=False)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Steps):
            return bool(np.array_equal(self._values, other._values))
        if isinstance(other, list | tuple):
            return len(other) == len(self._values) and self.tolist() == list(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._values.tobytes())

    def __repr__(self) -> str:
        if len(self._values) <= 8:
            return f"Steps({self.tolist()!r})"
        head = ", ".join(repr(v) for v in self._values[:3].tolist())
        tail = ", ".join(repr(v) for v in self._values[-2:].tolist())
        return f"Steps([{head}, ..., {tail}], n={len(self._values)})"

    def tolist(self) -> list[float]:
        values: list[float] = self._values.tolist()
        return values

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        def validate(value: Any) -> Steps:
            return value if isinstance(value, Steps) else Steps(value)

        return core_schema.no_info_plain_validator_function(
            validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                Steps.tolist, return_schema=core_schema.list_schema(core_schema.float_schema())
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "array", "items": {"type": "number"}}


@dataclass(frozen=True)
class KMCurve:
    """A Kaplan–Meier step function: ``survival[j]`` holds on ``[times[j], times[j+1])``.

    Only distinct *exit* times are kept (the curve only steps there); ``S(t) = 1`` before
    ``times[0]``.
    """

    times: FloatArray
    survival: FloatArray
    at_risk: npt.NDArray[np.int64]
    exits: npt.NDArray[np.int64]
    n: int
    n_exits: int
    n_censored: int

    def at(self, t: float) -> float:
        """``S(t)``: the probability of still being in the stage after ``t`` hours."""
        j = int(np.searchsorted(self.times, t, side="right")) - 1
        return 1.0 if j < 0 else float(self.survival[j])

    @property
    def median(self) -> float | None:
        """The median time in stage: the first time ``S(t) <= 0.5`` (None if never reached)."""
        return median_survival(self)


def _risk_table(
    durations: FloatArray, observed: npt.NDArray[np.bool_]
) -> tuple[FloatArray, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Distinct times, visits at risk just before each, exits and all endings at each."""
    times, inverse = np.unique(durations, return_inverse=True)
    total = np.bincount(inverse, minlength=len(times)).astype(np.int64)
    exits = np.bincount(inverse, weights=observed.astype(np.float64), minlength=len(times))
    at_risk = len(durations) - np.concatenate(([0], np.cumsum(total)[:-1]))
    return times, at_risk.astype(np.int64), exits.astype(np.int64), total


def _curve(
    times: FloatArray,
    at_risk: npt.NDArray[np.int64],
    exits: npt.NDArray[np.int64],
    n: int,
    n_exits: int,
) -> tuple[KMCurve, FloatArray]:
    """The curve kept at exit times, and ``S`` at every distinct time (for the incidences)."""
    surv: FloatArray = np.divide(exits, at_risk, dtype=np.float64)
    np.subtract(1.0, surv, out=surv)
    np.cumprod(surv, out=surv)
    keep = exits > 0
    if keep.all():  # no censoring-only times: the arrays are the curve
        times_k, surv_k, at_risk_k, exits_k = times, surv, at_risk, exits
    else:
        times_k, surv_k, at_risk_k, exits_k = times[keep], surv[keep], at_risk[keep], exits[keep]
    curve = KMCurve(
        times=times_k,
        survival=surv_k,
        at_risk=at_risk_k,
        exits=exits_k,
        n=n,
        n_exits=n_exits,
        n_censored=n - n_exits,
    )
    return curve, surv


def kaplan_meier(durations: npt.ArrayLike, observed: npt.ArrayLike) -> KMCurve:
    """The Kaplan–Meier estimate from durations (hours) and exit flags (False = censored)."""
    d = np.asarray(durations, dtype=np.float64)
    e = np.asarray(observed, dtype=np.bool_)
    if d.shape != e.shape:
        raise InputError("durations and observed must have the same length")
    if len(d) == 0:
        return _empty_curve()
    times, at_risk, exits, _ = _risk_table(d, e)
    return _curve(times, at_risk, exits, len(d), int(e.sum()))[0]


def _empty_curve() -> KMCurve:
    empty = np.zeros(0, dtype=np.float64)
    none = np.zeros(0, dtype=np.int64)
    return KMCurve(empty, empty, none, none, 0, 0, 0)


def competing_risks(
    durations: npt.NDArray[np.floating] | npt.NDArray[np.integer],
    cause: npt.NDArray[np.integer],
    n_causes: int,
    *,
    unit: float = 1.0,
) -> tuple[KMCurve, FloatArray, float]:
    """Kaplan–Meier curve and Aalen–Johansen incidences from *sorted* durations, in one pass.

    ``durations`` ascending (any unit: the curve's times are ``durations / unit``, so integer
    microseconds with ``unit=3.6e9`` give hours); ``cause`` 0 for a censored visit,
    ``1..n_causes`` for an exit's cause. Returns the curve, ``F_k(t_max)`` for
    k = 1..n_causes (index k - 1) and ``S(t_max)``. The same figures as :func:`kaplan_meier`
    and :func:`cumulative_incidence` without their sorts (``np.unique`` twice per stage was
    most of the metrics' survival part): the caller sorts every stage at once.

    ``F_k = Σ_i S(t_i-) d_{k,i} / n_i`` is summed per visit, ``Σ_v [cause_v = k] S(t(v)-) /
    n(v)``: one ``bincount`` over the causes instead of one per cause, and no per-time counts
    at all when no two visits share a time (the usual case with timestamps to the second).
    """
    n = len(durations)
    if n == 0:
        return _empty_curve(), np.zeros(n_causes, dtype=np.float64), 1.0
    new = np.empty(n, dtype=np.bool_)
    new[0] = True
    np.not_equal(durations[1:], durations[:-1], out=new[1:])
    starts = np.flatnonzero(new)
    ties = len(starts) < n
    at_risk = n - starts
    exited = cause > 0
    if ties:  # exits per distinct time: differences of a running count at each time's end
        ends = np.append(starts[1:], n) - 1
        exits = np.diff(np.cumsum(exited, dtype=np.int64)[ends], prepend=0)
    else:
        exits = exited.astype(np.int64)
    n_exits = int(exits.sum())
    times = np.divide(durations[starts], unit, dtype=np.float64)
    curve, surv = _curve(times, at_risk, exits, n, n_exits)
    weight = np.empty(len(surv), dtype=np.float64)  # S(t_i-) / n_i per distinct time
    weight[0] = 1.0
    weight[1:] = surv[:-1]
    weight /= at_risk
    if ties:  # per visit: each time's weight repeated for the visits at that time
        weight = np.repeat(weight, np.diff(starts, append=n))
    per_cause = np.bincount(cause, weights=weight, minlength=n_causes + 1).astype(np.float64)
    return curve, per_cause[1 : n_causes + 1], float(surv[-1])


def median_survival(curve: KMCurve) -> float | None:
    """The first exit time at which ``S(t) <= 0.5``; None when the curve stays above 0.5."""
    hit = np.nonzero(curve.survival <= 0.5)[0]
    return float(curve.times[hit[0]]) if len(hit) else None


def cumulative_incidence(
    durations: npt.ArrayLike, cause: npt.ArrayLike, causes: list[str]
) -> dict[str, float]:
    """Aalen–Johansen cumulative incidence of each cause at the end of follow-up.

    ``cause`` holds a cause name per visit, or "" for a censored visit. Returns
    ``{cause: F_k(t_max)}`` plus ``"still"`` = ``S(t_max)``; the values add up to 1.
    """
    d = np.asarray(durations, dtype=np.float64)
    c = np.asarray(cause, dtype=np.str_)
    if len(d) == 0:
        return {**dict.fromkeys(causes, 0.0), "still": 1.0}
    observed = c != ""
    times, inverse = np.unique(d, return_inverse=True)
    total = np.bincount(inverse, minlength=len(times))
    at_risk = (len(d) - np.concatenate(([0], np.cumsum(total)[:-1]))).astype(np.float64)
    exits = np.bincount(inverse, weights=observed.astype(np.float64), minlength=len(times))
    surv = np.cumprod(1.0 - exits / at_risk)
    before = np.concatenate(([1.0], surv[:-1]))
    out: dict[str, float] = {}
    for k in causes:
        dk = np.bincount(inverse, weights=(c == k).astype(np.float64), minlength=len(times))
        out[k] = float(np.sum(before * dk / at_risk))
    out["still"] = float(surv[-1])
    return out
