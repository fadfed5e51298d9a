"""The process model: the single source of truth every flowsim feature reads.

A ``Process`` is what a ``.flow`` file means, with the text gone: stages and outcomes, the
transitions between them with their conversion rates, who owns each stage, the touchpoints a
customer meets, and the what-if scenarios. Renderers, history analysis and the simulator all
read this model; none of them look at the text again.

Models are immutable pydantic v2 objects. Each node remembers where it came from (``span``) so
later findings can point at the line the user wrote, but spans never take part in equality:
two models are equal when they *mean* the same thing.

Units: every duration is a float number of **hours** (``3d`` is ``72.0``); probabilities are
fractions in [0, 1]; a transition whose ``probability`` is ``None`` takes the remainder.
"""

from __future__ import annotations

import datetime
import json
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SerializerFunctionWrapHandler,
    field_validator,
    model_serializer,
    model_validator,
)

from flowsim._base import FlowsimModel
from flowsim.diagnostics import Span
from flowsim.errors import InputError
from flowsim.structure import structure_diagnostics

if TYPE_CHECKING:
    import networkx as nx

__all__ = [
    "MONTH_NAMES",
    "RATE_PERIODS_IN_HOURS",
    "UNITS_IN_HOURS",
    "Arrivals",
    "ArrivalsChange",
    "Calendar",
    "Change",
    "Comment",
    "Conveniences",
    "Department",
    "Distribution",
    "Duration",
    "DurationChange",
    "DurationError",
    "Empirical",
    "Exponential",
    "Fixed",
    "Gamma",
    "HeadcountStep",
    "HourWeight",
    "Include",
    "IntervalArrivals",
    "LogNormal",
    "Normal",
    "Outcome",
    "Parallel",
    "Persona",
    "Process",
    "RateArrivals",
    "RateProfile",
    "Role",
    "RoleChange",
    "Scenario",
    "Stage",
    "Target",
    "TimeWindow",
    "Touchpoint",
    "Transition",
    "TransitionChange",
    "Trend",
    "Triangular",
    "Uniform",
    "conveniences",
    "infer_result",
    "parse_duration",
    "register_conveniences",
]

#: Duration units of the language, in hours.
UNITS_IN_HOURS: dict[str, float] = {"m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}
#: A duration as the API takes it: hours (a number), text such as ``"90d"``, or a timedelta.
Duration = float | str | datetime.timedelta

_DURATION_TEXT = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([mhdw])\s*")
_DURATION_HINT = "write a number and a unit: 90m, 36h, 180d or 12w (or a number of hours)"


class DurationError(InputError):
    """A duration that cannot be read, with what was expected in ``hint``.

    An :class:`~flowsim.errors.InputError`: a :class:`~flowsim.errors.FlowsimError`, and a
    ``ValueError`` as a bad value is.

    Examples
    --------
    >>> try:
    ...     parse_duration("3 months", what="the horizon")
    ... except DurationError as err:
    ...     print(str(err).partition(";")[0])
    ...     print(err.hint)
    the horizon: '3 months' is not a duration
    write a number and a unit: 90m, 36h, 180d or 12w (or a number of hours)
    """

    def __init__(self, what: str, value: object, problem: str, hint: str = _DURATION_HINT) -> None:
        #: the value and what is wrong with it, and the hint (without ``what``)
        self.reason = f"{value!r} {problem}; {hint}"
        self.hint = hint
        super().__init__(f"{what}: {self.reason}")


def parse_duration(value: Duration, *, what: str = "a duration") -> float:
    """Hours in ``value``: the one reading of durations for the API and the command line.

    Parameters
    ----------
    value
        A number of hours (``36``, ``1.5``), text in the language's units (``"90m"``,
        ``"36h"``, ``"180d"``, ``"12w"``; see :data:`UNITS_IN_HOURS`), or a
        :class:`~datetime.timedelta`.
    what
        What the value is, for the message (``"until"``, ``"--horizon"``).

    Returns
    -------
    float
        The duration in hours, finite and not negative.

    Raises
    ------
    DurationError
        Text that is not a number and a unit, a negative or infinite value, or another type.

    Examples
    --------
    >>> parse_duration("180d"), parse_duration("12w"), parse_duration("90m")
    (4320.0, 2016.0, 1.5)
    >>> parse_duration(36), parse_duration(datetime.timedelta(days=1))
    (36.0, 24.0)
    """
    if isinstance(value, str):
        m = _DURATION_TEXT.fullmatch(value)
        if m is None:
            raise DurationError(what, value, "is not a duration")
        hours = float(m.group(1)) * UNITS_IN_HOURS[m.group(2)]
    elif isinstance(value, datetime.timedelta):
        hours = value.total_seconds() / 3600
    elif isinstance(value, int | float) and not isinstance(value, bool):
        hours = float(value)
    else:
        raise DurationError(what, value, "is not a duration")
    if not math.isfinite(hours):
        raise DurationError(what, value, "is not finite", "give a finite time")
    if hours < 0:
        raise DurationError(what, value, "is negative", "give a time of 0 or more")
    return hours


#: Periods an arrival rate may be given per, in hours (a month is 365.25 / 12 days).
RATE_PERIODS_IN_HOURS: dict[str, float] = {
    "hour": 1.0,
    "day": 24.0,
    "week": 168.0,
    "month": 365.25 * 24 / 12,
    "quarter": 365.25 * 24 / 4,
    "year": 365.25 * 24,
}

#: What an identifier looks like: a Unicode word, inner hyphens allowed (`closed-won`, `初步接触`).
WORD_RE = re.compile(r"[^\W\d]\w*(?:-\w+)*")


def _word(value: str) -> str:
    if not WORD_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an identifier (a word of letters, digits, '_' and inner '-', "
            "not starting with a digit)"
        )
    return value


#: An identifier or other bare word of the language.
Word = Annotated[str, AfterValidator(_word)]

#: Tolerance for out-probabilities summing to 100%.
PROBABILITY_TOLERANCE = 0.005


def _strip_spans(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip_spans(v) for k, v in value.items() if k not in ("span", "field_spans")}
    if isinstance(value, list | tuple):
        return [_strip_spans(v) for v in value]
    return value


class Node(FlowsimModel):
    """Base of every model object: frozen, strict about unknown fields, compared by meaning."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    span: Span | None = Field(default=None, repr=False, description="Where it was written.")
    field_spans: dict[str, Span] = Field(
        default_factory=dict,
        repr=False,
        description="Where individual properties were written (e.g. 'owner', 'goal.0').",
    )

    def semantic_dump(self) -> Any:
        """The model as plain data without source positions: what equality compares."""
        return _strip_spans(self.model_dump(mode="json", exclude={"comments"}))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, BaseModel) or type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, Node)
        return bool(self.semantic_dump() == other.semantic_dump())

    def __hash__(self) -> int:
        return hash(json.dumps(self.semantic_dump(), sort_keys=True, ensure_ascii=False))

    def where(self, field: str | None = None) -> Span | None:
        """Span of a property if known, else of the node itself."""
        if field is not None and field in self.field_spans:
            return self.field_spans[field]
        return self.span


# ---- distributions ---------------------------------------------------------------------------


class _Dist(Node):
    """Common behaviour of duration distributions (all parameters in hours)."""

    @model_validator(mode="after")
    def _valid(self) -> _Dist:
        problems = self.problems()
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def problems(self) -> list[str]:
        """Why the parameters are invalid (empty when they are fine)."""
        return []

    @property
    def expected(self) -> float:
        """The mean duration in hours."""
        raise NotImplementedError

    def scaled(self, factor: float) -> Distribution:
        """The same shape stretched by ``factor`` (scenarios' ``effort * 0.7``).

        ``* 0`` removes the duration altogether (a fixed zero), whatever the shape.
        """
        if factor == 0:
            return Fixed(value=0.0)
        data = self.model_dump(exclude={"span", "field_spans", "kind"})
        scaled = {
            k: (
                tuple(tidy(x * factor) for x in v)
                if isinstance(v, tuple | list)
                else tidy(v * factor)
            )
            for k, v in data.items()
        }
        values = [x for v in data.values() for x in (v if isinstance(v, tuple | list) else [v])]
        new = [x for v in scaled.values() for x in (v if isinstance(v, tuple | list) else [v])]
        if any(a != 0 and b == 0 for a, b in zip(values, new, strict=True)):
            # a factor so small that the durations underflow to 0: what `* 0` means
            return Fixed(value=0.0)
        return type(self)(**scaled)  # type: ignore[return-value]


def tidy(x: float) -> float:
    """Round away float noise from arithmetic (3h * 0.7 = 2.0999999999999996 -> 2.1).

    Twelve significant digits keep every meaningful figure of a business parameter while
    letting the formatter print what a person would have typed.
    """
    return float(f"{x:.12g}")


def _nonneg(**params: float) -> list[str]:
    return [f"{k} must not be negative (got {_h(v)})" for k, v in params.items() if v < 0]


def _positive(**params: float) -> list[str]:
    return [f"{k} must be greater than 0 (got {_h(v)})" for k, v in params.items() if v <= 0]


def _h(hours: float) -> str:
    if hours and hours % 24 == 0:
        return f"{hours / 24:g}d"
    return f"{hours:g}h"


class Fixed(_Dist):
    """Always the same duration."""

    kind: Literal["fixed"] = "fixed"
    value: float

    def problems(self) -> list[str]:
        return _nonneg(value=self.value)

    @property
    def expected(self) -> float:
        return self.value


class Uniform(_Dist):
    """Any duration between ``low`` and ``high`` equally likely."""

    kind: Literal["uniform"] = "uniform"
    low: float
    high: float

    def problems(self) -> list[str]:
        out = _nonneg(low=self.low, high=self.high)
        if self.low > self.high:
            out.append(f"low ({_h(self.low)}) must not exceed high ({_h(self.high)})")
        return out

    @property
    def expected(self) -> float:
        return (self.low + self.high) / 2


class Triangular(_Dist):
    """Three-point estimate: shortest, most likely, longest."""

    kind: Literal["triangular"] = "triangular"
    low: float
    mode: float
    high: float

    def problems(self) -> list[str]:
        out = _nonneg(low=self.low, mode=self.mode, high=self.high)
        if not self.low <= self.mode <= self.high:
            out.append(
                f"need min <= mode <= max (got {_h(self.low)}, {_h(self.mode)}, {_h(self.high)})"
            )
        return out

    @property
    def expected(self) -> float:
        return (self.low + self.mode + self.high) / 3


class Exponential(_Dist):
    """Memoryless waiting: most short, a few very long."""

    kind: Literal["exponential"] = "exponential"
    mean: float

    def problems(self) -> list[str]:
        return _positive(mean=self.mean)

    @property
    def expected(self) -> float:
        return self.mean


class _MeanSd(_Dist):
    mean: float
    sd: float

    def problems(self) -> list[str]:
        return _positive(mean=self.mean, sd=self.sd)

    @property
    def expected(self) -> float:
        return self.mean


class Normal(_MeanSd):
    """Bell curve, truncated at zero (durations cannot be negative)."""

    kind: Literal["normal"] = "normal"


class LogNormal(_MeanSd):
    """Right-skewed: the usual shape of customer latency. Parameterised by mean and sd."""

    kind: Literal["lognormal"] = "lognormal"


class Gamma(_MeanSd):
    """Right-skewed with a lighter tail than lognormal. Parameterised by mean and sd."""

    kind: Literal["gamma"] = "gamma"


class Empirical(_Dist):
    """Resample observed durations (e.g. from history)."""

    kind: Literal["empirical"] = "empirical"
    values: tuple[float, ...]

    def problems(self) -> list[str]:
        if not self.values:
            return ["needs at least one value"]
        return [f"values must not be negative (got {_h(v)})" for v in self.values if v < 0][:1]

    @property
    def expected(self) -> float:
        return math.fsum(self.values) / len(self.values)


Distribution = Annotated[
    Fixed | Uniform | Triangular | Exponential | Normal | LogNormal | Gamma | Empirical,
    Field(discriminator="kind"),
]

#: Distribution classes by the name used in the language.
DISTRIBUTIONS: dict[str, type[_Dist]] = {
    "fixed": Fixed,
    "uniform": Uniform,
    "triangular": Triangular,
    "exponential": Exponential,
    "normal": Normal,
    "lognormal": LogNormal,
    "gamma": Gamma,
    "empirical": Empirical,
}


# ---- calendar and arrivals -------------------------------------------------------------------


class TimeWindow(Node):
    """Working hours within a day, in minutes since midnight (end may be 1440)."""

    start: int = Field(ge=0, le=1440)
    end: int = Field(ge=0, le=1440)

    @model_validator(mode="after")
    def _ordered(self) -> TimeWindow:
        if self.end <= self.start:
            raise ValueError("a working-hours window must end after it starts")
        return self


def _known_zone(tz: str) -> None:
    """Raise ValueError unless ``tz`` is an IANA time zone name."""
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {tz!r}") from None


class Calendar(Node):
    """When people work: weekdays (0 = Monday) and daily windows, in a time zone."""

    days: tuple[int, ...]
    windows: tuple[TimeWindow, ...]
    timezone: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> Calendar:
        if (
            not self.days
            or list(self.days) != sorted(set(self.days))
            or not (self.days[0] >= 0 and self.days[-1] <= 6)
        ):
            raise ValueError("days must be distinct weekdays 0 (Mon) .. 6 (Sun), in order")
        if not self.windows:
            raise ValueError("a calendar needs at least one working-hours window")
        for a, b in zip(self.windows, self.windows[1:], strict=False):
            if b.start < a.end:
                raise ValueError("working-hours windows must be in order and not overlap")
        if self.timezone is not None:
            _known_zone(self.timezone)
        return self

    @property
    def hours_per_week(self) -> float:
        return len(self.days) * sum(w.end - w.start for w in self.windows) / 60


#: Month names as the language writes them (``months Jan 0.8 ...``).
MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
#: Days per month of the mean year (February 28.25), which weights the months' factors.
MONTH_DAYS = (31, 28.25, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
#: The largest relative weight a profile may give (a ratio beyond any real rhythm).
MAX_WEIGHT = 1e6


def _weights(values: tuple[float, ...], n: int, what: str) -> None:
    if len(values) != n:
        raise ValueError(f"{what} weights need {n} values, got {len(values)}")
    if any(not (0 <= v <= MAX_WEIGHT) for v in values):
        raise ValueError(f"{what} weights must be between 0 and {MAX_WEIGHT:g}")
    if not any(v > 0 for v in values):
        raise ValueError(f"at least one {what} weight must be above 0")


class HourWeight(TimeWindow):
    """A time-of-day window of an arrival profile and its relative weight."""

    weight: float = Field(ge=0, le=MAX_WEIGHT)


class Trend(Node):
    """A steady growth (or decline) of the arrival rate: ``change`` per ``per``, compounded.

    The stated rate holds on ``since`` (an ISO date, midnight in the profile's time zone), or
    at the simulation's start when ``since`` is None; ``+2% per month`` is ``change=0.02``.
    """

    change: float = Field(gt=-1, le=1e3)
    per: Literal["week", "month", "quarter", "year"]
    since: str | None = Field(default=None, pattern=r"^\d{4}-\d{2}-\d{2}$")

    @model_validator(mode="after")
    def _valid(self) -> Trend:
        if self.since is not None:
            try:
                datetime.date.fromisoformat(self.since)
            except ValueError:
                raise ValueError(f"{self.since!r} is not a calendar date") from None
        return self

    @property
    def per_hour(self) -> float:
        """The continuous growth rate: ``log(1 + change)`` per hour."""
        return math.log1p(self.change) / RATE_PERIODS_IN_HOURS[self.per]


class RateProfile(Node):
    """How the arrival rate varies around its mean: over the week, the day and the year, and
    a trend (``arrivals 40 per week { weekdays ... hours ... months ... trend ... }``).

    Weights are relative and normalised (:meth:`week_scale`, :meth:`month_factors`), so the
    stated rate stays the mean: ``40 per week`` with any weekday and hour weights is still 40
    deals in an average week, and with month weights 40 a week over an average year.
    ``weekdays`` has 7 weights (Monday first), ``months`` 12 (January first); a day, month or
    time of day not listed in the text has weight 0. None means flat. ``hours`` are windows
    of the day in order without overlap; no window means the whole day, evenly. Weekdays,
    times of day, months and the trend's date are read in ``timezone`` (None: the process
    calendar's time zone, else UTC).
    """

    weekdays: tuple[float, ...] | None = None
    hours: tuple[HourWeight, ...] = ()
    months: tuple[float, ...] | None = None
    trend: Trend | None = None
    timezone: str | None = None

    @model_validator(mode="after")
    def _valid(self) -> RateProfile:
        if self.weekdays is not None:
            _weights(self.weekdays, 7, "weekday")
        if self.months is not None:
            _weights(self.months, 12, "month")
        if self.hours:
            if not any(h.weight > 0 for h in self.hours):
                raise ValueError("at least one hours weight must be above 0")
            for a, b in zip(self.hours, self.hours[1:], strict=False):
                if b.start < a.end:
                    raise ValueError("hours windows must be in order and not overlap")
        if self.timezone is not None:
            _known_zone(self.timezone)
        return self

    @property
    def periodic(self) -> bool:
        """Whether the rate varies with the weekday, the time of day or the month."""
        return self.weekdays is not None or bool(self.hours) or self.months is not None

    def week_scale(self) -> float:
        """The factor that makes the weekday × hour weights average 1 over a week."""
        days = self.weekdays if self.weekdays is not None else (1.0,) * 7
        day_hours = (
            sum(h.weight * (h.end - h.start) / 60 for h in self.hours) if self.hours else 24.0
        )
        return 168.0 / (math.fsum(days) * day_hours)

    def month_factors(self) -> tuple[float, ...]:
        """Each month's factor, normalised so that the mean year (by days) averages 1."""
        if self.months is None:
            return (1.0,) * 12
        mean = math.fsum(w * d for w, d in zip(self.months, MONTH_DAYS, strict=True)) / 365.25
        return tuple(w / mean for w in self.months)


class RateArrivals(Node):
    """New deals arrive as a Poisson process: ``count`` per ``period`` on average.

    With a ``profile`` the process is non-homogeneous: the rate at each instant is the mean
    rate times the profile's normalised weekday, hour and month weights and its trend, so
    ``count`` per ``period`` stays the average (at the trend's date, when there is a trend).
    """

    kind: Literal["rate"] = "rate"
    count: float = Field(gt=0)
    per: Literal["hour", "day", "week", "month", "quarter", "year"]
    profile: RateProfile | None = None

    @field_validator("profile")
    @classmethod
    def _no_empty_profile(cls, value: RateProfile | None) -> RateProfile | None:
        """A profile that says nothing (no clause, no time zone) is a flat rate: None."""
        if value is not None and not value.periodic and value.trend is None:
            return value if value.timezone is not None else None
        return value

    @model_serializer(mode="wrap")
    def _serialise(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        if data.get("profile", 0) is None:  # a flat rate reads as it always has
            del data["profile"]
        return data

    @property
    def per_hour(self) -> float:
        return self.count / RATE_PERIODS_IN_HOURS[self.per]


class Target(Node):
    """A sales target: ``amount`` of won revenue per calendar ``per`` (``target 2000000 CNY
    per quarter``). The forecast reports the probability of reaching it in each period.

    ``currency`` is optional; written next to a process currency it must be the same one (the
    forecast adds up deal amounts, which are in the process currency).
    """

    amount: float = Field(gt=0, le=1e15)
    currency: Word | None = None
    per: Literal["week", "month", "quarter", "year"]


class IntervalArrivals(Node):
    """New deals arrive one after another, ``interval`` apart (``arrivals every ...``)."""

    kind: Literal["every"] = "every"
    interval: Distribution

    @property
    def per_hour(self) -> float:
        mean = self.interval.expected
        return math.inf if mean == 0 else 1 / mean


Arrivals = Annotated[RateArrivals | IntervalArrivals, Field(discriminator="kind")]


# ---- organisation ----------------------------------------------------------------------------


class _Named(Node):
    id: Word
    label: str | None = None

    @property
    def display(self) -> str:
        """What a person reads: the label, or the id when there is none.

        A blank label (``stage a ""``) is no label: a box with no name helps nobody, and
        Graphviz refuses the empty bold text it would draw.
        """
        return self.label if self.label is not None and self.label.strip() else self.id


class Department(_Named):
    """A team in the organisation chart; departments become swimlanes."""


class HeadcountStep(Node):
    """From ``date`` on, the role has ``headcount`` people."""

    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    headcount: int = Field(ge=1)


def _check_steps(steps: tuple[HeadcountStep, ...]) -> None:
    dates = [s.date for s in steps]
    if dates != sorted(set(dates)):
        raise ValueError("headcount changes must be on distinct dates, in order")


class Role(_Named):
    """A kind of person who does the work in a stage, and how many of them there are."""

    department: Word | None = None
    headcount: int = Field(default=1, ge=1)
    headcount_steps: tuple[HeadcountStep, ...] = ()
    calendar: Calendar | None = None

    @model_validator(mode="after")
    def _steps_in_order(self) -> Role:
        _check_steps(self.headcount_steps)
        return self


class Persona(_Named):
    """The customer whose journey the journey map tells."""

    goals: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


# ---- the flow --------------------------------------------------------------------------------


class Touchpoint(Node):
    """A moment where the customer meets the company, and how it feels to them (1-5)."""

    name: str
    channel: Word | None = None
    emotion: float | None = None
    pains: tuple[str, ...] = ()
    ideas: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()


class Stage(_Named):
    """A step of the sales process that a deal spends time in."""

    owner: Word | None = None
    goals: tuple[str, ...] = ()
    exits: tuple[str, ...] = Field(default=(), description="Exit criteria.")
    effort: Distribution | None = Field(
        default=None, description="Owner's working time (hours): needs a free person."
    )
    wait: Distribution | None = Field(
        default=None, description="Customer-side latency (calendar hours): needs nobody."
    )
    start: bool = False
    start_share: float | None = Field(
        default=None,
        gt=0.0,
        le=1.0,
        description="Share of new deals entering here (`start 30%`); None: all of them.",
    )
    touchpoints: tuple[Touchpoint, ...] = ()
    notes: tuple[str, ...] = ()


OutcomeResult = Literal["won", "lost", "other"]


class Outcome(_Named):
    """Where a deal ends. ``result`` says whether it counts as won, lost or neither.

    ``idle`` (hours) makes this the outcome of deals with no activity for that long: the
    *idle rule* that metrics, discovery, conformance, replay and forecast apply alike to the
    history (a CRM rarely records a loss; leads simply go quiet).
    """

    result: OutcomeResult = "other"
    idle: float | None = Field(
        default=None, gt=0, description="No activity for this many hours ends a deal here."
    )
    owner: Word | None = None
    goals: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class Transition(Node):
    """A possible next step with its conversion rate; ``None`` takes the remainder."""

    source: Word
    target: Word
    probability: float | None = Field(default=None, ge=0.0, le=1.0)
    label: str | None = None


class Parallel(Node):
    """``proposal -> parallel { legal, validation } -> contract``: an AND split and join.

    When a deal leaves ``source`` it enters every branch at once (each branch is named by
    its first stage); a branch runs along the ordinary transitions of its stages and ends at
    a stage with no transition out, or by a transition to the join. When every branch has
    ended, the deal moves on to ``join`` (a stage or an outcome). A branch that reaches an
    outcome ends the whole deal there, and the other branches stop. The checks (E219-E222)
    keep blocks well formed.
    """

    source: Word
    branches: tuple[Word, ...]
    join: Word
    label: str | None = None


# ---- scenarios -------------------------------------------------------------------------------


class RoleChange(Node):
    """Scenario: change a role's headcount (now, and/or from a date)."""

    kind: Literal["role"] = "role"
    role: Word
    headcount: int | None = Field(default=None, ge=1)
    headcount_steps: tuple[HeadcountStep, ...] = ()

    @model_validator(mode="after")
    def _steps_in_order(self) -> RoleChange:
        _check_steps(self.headcount_steps)
        return self


class DurationChange(Node):
    """Scenario: replace a stage's effort or wait, or multiply it by ``factor``."""

    kind: Literal["duration"] = "duration"
    stage: Word
    field: Literal["effort", "wait"]
    distribution: Distribution | None = None
    factor: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one(self) -> DurationChange:
        if (self.distribution is None) == (self.factor is None):
            raise ValueError("give either a distribution or a factor")
        return self


class TransitionChange(Node):
    """Scenario: set a transition's probability; the others from that stage re-balance."""

    kind: Literal["transition"] = "transition"
    source: Word
    target: Word
    probability: float = Field(ge=0.0, le=1.0)


class ArrivalsChange(Node):
    """Scenario: replace the arrival process, or multiply its rate by ``factor``."""

    kind: Literal["arrivals"] = "arrivals"
    arrivals: Arrivals | None = None
    factor: float | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one(self) -> ArrivalsChange:
        if (self.arrivals is None) == (self.factor is None):
            raise ValueError("give either arrivals or a factor")
        return self


Change = Annotated[
    RoleChange | DurationChange | TransitionChange | ArrivalsChange, Field(discriminator="kind")
]


class Scenario(Node):
    """A named what-if: changes applied on top of the base process."""

    name: str
    changes: tuple[Change, ...] = ()
    notes: tuple[str, ...] = ()


# ---- the process -----------------------------------------------------------------------------


class Include(Node):
    """``include "path"``: declarations pulled in from another file (path as written)."""

    path: str


class Comment(Node):
    """A ``#`` comment, kept so the formatter can put it back. Not part of the meaning."""

    text: str
    trailing: bool = False


class Process(Node):
    """A whole sales process. Build one with :func:`flowsim.load` or :func:`flowsim.parse`."""

    name: str
    currency: Word | None = None
    arrivals: Arrivals | None = None
    amount: Distribution | None = Field(
        default=None, description="Value of one deal, in the process currency (no time unit)."
    )
    calendar: Calendar | None = None
    target: Target | None = Field(
        default=None, description="Won revenue to reach per week, month, quarter or year."
    )
    includes: tuple[Include, ...] = ()
    departments: tuple[Department, ...] = ()
    roles: tuple[Role, ...] = ()
    personas: tuple[Persona, ...] = ()
    stages: tuple[Stage, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    transitions: tuple[Transition, ...] = ()
    parallels: tuple[Parallel, ...] = Field(
        default=(), description="AND splits and joins: deals work on several branches at once."
    )
    scenarios: tuple[Scenario, ...] = ()
    comments: tuple[Comment, ...] = Field(default=(), repr=False)

    _graph: Any = PrivateAttr(default=None)
    _index: Any = PrivateAttr(default=None)
    _names: Any = PrivateAttr(default=None)
    _branches: Any = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _structurally_sound(self) -> Process:
        errors = [d for d in structure_diagnostics(self) if d.is_error]
        if errors:
            raise ValueError("; ".join(d.message for d in errors[:5]))
        return self

    # -- lookups --

    @property
    def idle_outcome(self) -> Outcome | None:
        """The outcome of deals with no activity for its ``idle`` time (the idle rule)."""
        return next((o for o in self.outcomes if o.idle is not None), None)

    @property
    def entry(self) -> Stage | None:
        """The main entry stage: the one with the largest share in :attr:`entries` (the
        first declared on a tie), i.e. the one marked ``start``, else the first declared."""
        return self._lookup()[2]

    @property
    def entries(self) -> tuple[tuple[Stage, float], ...]:
        """The entry mix: every stage new deals enter at, with its share, in file order.

        Stages marked ``start 30%`` enter that share of deals; one ``start`` without a share
        (or none: the first stage declared) takes them all. A ``start`` without a share next
        to shared ones takes what they leave (the checks report it, E218), so the shares of
        a sound process add up to 1 within the transitions' tolerance.
        """
        return self._lookup()[3]  # type: ignore[no-any-return]

    def _lookup(
        self,
    ) -> tuple[dict[str, Stage | Outcome], dict[str, list[Transition]], Stage | None, Any]:
        if self._index is None:
            nodes: dict[str, Stage | Outcome] = {}
            for node in self.iter_nodes():
                nodes.setdefault(node.id, node)
            out: dict[str, list[Transition]] = {}
            for t in self.transitions:
                out.setdefault(t.source, []).append(t)
            entries = _entry_mix(self.stages)
            entry = max(entries, key=lambda e: e[1])[0] if entries else None
            self._index = (nodes, out, entry, entries)
        return self._index  # type: ignore[no-any-return]

    def node(self, node_id: str) -> Stage | Outcome:
        """The stage or outcome with this id (``KeyError`` if there is none)."""
        return self._lookup()[0][node_id]

    def node_names(self) -> dict[str, str]:
        """How a log names the nodes: casefolded id or label → node id.

        The one matching rule for stage values in deal history (ids first, then labels, so
        Chinese labels match too). Use :meth:`find_node` for a single value.
        """
        if self._names is None:
            names: dict[str, str] = {}
            for node in self.iter_nodes():
                for text in (node.id, node.label):
                    if text:
                        names.setdefault(text.strip().casefold(), node.id)
            self._names = names
        return self._names  # type: ignore[no-any-return]

    def find_node(self, name: str) -> str | None:
        """The id of the node a log's stage value ``name`` means (id or label), or None."""
        return self.node_names().get(str(name).strip().casefold())

    def role(self, role_id: str) -> Role:
        for role in self.roles:
            if role.id == role_id:
                return role
        raise KeyError(role_id)

    def outgoing(self, node_id: str) -> list[tuple[Transition, float]]:
        """Transitions leaving ``node_id`` with resolved probabilities (remainder filled in)."""
        edges = self._lookup()[1].get(node_id, [])
        return list(zip(edges, resolve_probabilities(edges), strict=True))

    def fork_at(self, stage_id: str) -> Parallel | None:
        """The parallel block a deal enters when it leaves ``stage_id`` (None: no fork)."""
        return next((b for b in self.parallels if b.source == stage_id), None)

    def branch_stages(self, block: Parallel) -> tuple[frozenset[str], ...]:
        """The stages of each branch of ``block``: those its first stage leads to.

        A walk along the transitions from the branch's first stage that stops at outcomes
        and at the block's own source, join and other branches' first stages (a sound block
        never reaches those; the checks report it when one does).
        """
        if self._branches is None:
            self._branches = {}
        key = (block.source, block.branches, block.join)
        if key not in self._branches:
            out = self._lookup()[1]
            outcomes = {o.id for o in self.outcomes}
            regions = []
            for entry in block.branches:
                stop = {block.source, block.join, *block.branches} - {entry}
                seen, todo = {entry}, [entry]
                while todo:
                    for t in out.get(todo.pop(), []):
                        nxt = t.target
                        if nxt not in seen and nxt not in stop and nxt not in outcomes:
                            seen.add(nxt)
                            todo.append(nxt)
                regions.append(frozenset(seen))
            self._branches[key] = tuple(regions)
        return self._branches[key]  # type: ignore[no-any-return]

    def branch_ends(self, block: Parallel) -> tuple[frozenset[str], ...]:
        """Per branch, the stages where it can end: those with no transition out (the
        branch always ends there) and those with a transition to the block's join (the
        branch ends there with that transition's probability)."""
        out = self._lookup()[1]
        return tuple(
            frozenset(
                s for s in region if not out.get(s) or any(t.target == block.join for t in out[s])
            )
            for region in self.branch_stages(block)
        )

    def routes(self) -> list[tuple[str, str]]:
        """Every (from, to) a deal can move along: the transitions, then for each parallel
        block the fork (source to each branch's first stage) and the join (each branch's
        bare ends to the join). Reachability and flow order read these, not only transitions."""
        pairs = [(t.source, t.target) for t in self.transitions]
        for block in self.parallels:
            pairs.extend((block.source, entry) for entry in block.branches)
            out = self._lookup()[1]
            for region in self.branch_stages(block):
                pairs.extend((end, block.join) for end in sorted(region) if not out.get(end))
        return pairs

    def iter_nodes(self) -> Iterator[Stage | Outcome]:
        yield from self.stages
        yield from self.outcomes

    # -- derived views --

    @property
    def graph(self) -> nx.MultiDiGraph[Any]:
        """Everything as one typed networkx ``MultiDiGraph`` (frozen; see flowsim.graph)."""
        if self._graph is None:
            self._graph = conveniences().graph(self)
        return self._graph

    def flow_graph(self) -> nx.MultiDiGraph[Any]:
        """Only stages, outcomes and ``flow`` edges: the graph the process moves along."""
        return conveniences().flow_graph(self.graph)

    def with_scenario(self, name: str) -> Process:
        """The process as it would be under scenario ``name``."""
        return conveniences().with_scenario(self, name)

    def to_flow(self) -> str:
        """The canonical ``.flow`` text of this model (comments kept when known)."""
        return conveniences().to_flow(self)

    def _repr_svg_(self) -> str | None:
        """Jupyter shows a process as its flowchart (None, i.e. text, without Graphviz)."""
        return conveniences().svg(self)

    def _repr_html_(self) -> str | None:
        """The flowchart inline, scaled to the notebook's width, full size on a click."""
        return conveniences().html(self)

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(
            f"<Process {self.name!r}: {len(self.stages)} stages, {len(self.outcomes)} outcomes>"
        )


# Whole words only ("closed" contains "lose"; "deadline" contains "dead"). Explicit phrases
# first, then losses before wins: "未成交" (not closed) must not read as "成交" (closed).
_NOT_LETTER_BEFORE = r"(?<![a-z])"
_NOT_LETTER_AFTER = r"(?![a-z])"
_CLOSED_WON = re.compile(_NOT_LETTER_BEFORE + r"closed[-_ ]?won" + _NOT_LETTER_AFTER)
_CLOSED_LOST = re.compile(_NOT_LETTER_BEFORE + r"closed[-_ ]?lost" + _NOT_LETTER_AFTER)
_LOST = re.compile(
    _NOT_LETTER_BEFORE
    + r"(?:lost|lose|loss|failed|failure|fail|churned|churn|disqualified|rejected|declined|dead)"
    + _NOT_LETTER_AFTER
    + r"|未成交|输|丢|流失|失败|未中标|放弃"
)
_WON = re.compile(
    _NOT_LETTER_BEFORE
    + r"(?:won|win|wins|success|successful|signed)"
    + _NOT_LETTER_AFTER
    + r"|赢|成交|签约成功|中标|成功"
)


def infer_result(outcome_id: str, label: str | None) -> str:
    """Whether an outcome reads as a win or a loss from its id and label ('other' if neither)."""
    text = f"{outcome_id} {label or ''}".lower()
    if _CLOSED_WON.search(text):
        return "won"
    if _CLOSED_LOST.search(text):
        return "lost"
    if _LOST.search(text):
        return "lost"
    if _WON.search(text):
        return "won"
    return "other"


@dataclass(frozen=True)
class Conveniences:
    """The functions behind :class:`Process`'s conveniences, which live in higher layers.

    ``process.graph``, ``flow_graph()``, ``with_scenario()``, ``to_flow()`` and Jupyter's
    ``_repr_svg_`` and ``_repr_html_`` are the graph builder's, the scenario applier's, the
    formatter's and the renderer's work. The model imports none of them: ``flowsim/__init__``
    registers these functions with :func:`register_conveniences` (importing ``flowsim.model``
    always runs ``flowsim/__init__`` first), so the arrows of the import graph all point down.
    """

    graph: Callable[[Process], nx.MultiDiGraph[Any]]
    flow_graph: Callable[[nx.MultiDiGraph[Any]], nx.MultiDiGraph[Any]]
    with_scenario: Callable[[Process, str], Process]
    to_flow: Callable[[Process], str]
    svg: Callable[[Process], str | None]
    html: Callable[[Process], str | None]


_CONVENIENCES: list[Conveniences] = []


def register_conveniences(functions: Conveniences) -> None:
    """Give :class:`Process` the functions its conveniences call (``flowsim/__init__`` does)."""
    _CONVENIENCES[:] = [functions]


def conveniences() -> Conveniences:
    """The registered :class:`Conveniences` (registered when the ``flowsim`` package loads)."""
    if not _CONVENIENCES:  # only if flowsim/__init__ failed half-way
        raise RuntimeError("flowsim's conveniences are not registered: import flowsim first")
    return _CONVENIENCES[0]


def _entry_mix(stages: tuple[Stage, ...]) -> tuple[tuple[Stage, float], ...]:
    """The stages marked ``start`` with their shares (see :attr:`Process.entries`).

    Parameters
    ----------
    stages : tuple of Stage
        The process's stages, in file order.

    Returns
    -------
    tuple of (Stage, float)
        Each entry stage and its share; the first stage with share 1 when none is marked.
    """
    marked = [s for s in stages if s.start]
    if not marked:
        return ((stages[0], 1.0),) if stages else ()
    explicit = math.fsum(s.start_share for s in marked if s.start_share is not None)
    unshared = sum(s.start_share is None for s in marked)
    rest = max(0.0, 1.0 - explicit) / unshared if unshared else 0.0
    return tuple((s, s.start_share if s.start_share is not None else rest) for s in marked)


def resolve_probabilities(edges: list[Transition]) -> list[float]:
    """Fill in the remainder edge: it takes whatever the explicit ones leave (never below 0)."""
    explicit = math.fsum(t.probability for t in edges if t.probability is not None)
    remainder_edges = sum(t.probability is None for t in edges)
    rest = max(0.0, 1.0 - explicit) / remainder_edges if remainder_edges else 0.0
    return [t.probability if t.probability is not None else rest for t in edges]
