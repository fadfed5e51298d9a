"""Hypothesis strategies: random valid process models and random .flow-ish text.

Models are built through the public pydantic classes, so "the formatter prints any valid
model" is tested on models no parser produced.
"""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from flowsim.dsl.keywords import KEYWORDS
from flowsim.model import (
    WORD_RE,
    ArrivalsChange,
    Calendar,
    Department,
    DurationChange,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    HeadcountStep,
    HourWeight,
    IntervalArrivals,
    LogNormal,
    Normal,
    Outcome,
    Parallel,
    Persona,
    Process,
    RateArrivals,
    RateProfile,
    Role,
    RoleChange,
    Scenario,
    Stage,
    Target,
    TimeWindow,
    Touchpoint,
    Transition,
    TransitionChange,
    Trend,
    Triangular,
    Uniform,
)

# Letters from several scripts, digits, '_' and '-': identifiers as users write them.
_ID_CHARS = "abcxyzABCZ_初步接触需求分析赢输éß"
ids = (
    st.text(_ID_CHARS + "0123456789-", min_size=1, max_size=8)
    .filter(lambda s: WORD_RE.fullmatch(s) is not None)
    .filter(lambda s: s not in KEYWORDS)
)
# Free text: any printable character (quotes, backslashes, '#', CJK, emoji) and new lines.
texts = st.text(
    st.characters(
        blacklist_categories=("Cc", "Cs", "Co", "Cn"), blacklist_characters="\u2028\u2029"
    )
    | st.sampled_from(['"', "\\", "#", "\n", "“", "”", "{", "}", "%"]),
    max_size=20,
)
hours = st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False)
positive = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)
probability = st.floats(min_value=0, max_value=1, allow_nan=False)


@st.composite
def distributions(draw: Any) -> Any:
    kind = draw(
        st.sampled_from(
            ["fixed", "uniform", "triangular", "exp", "normal", "lognormal", "gamma", "emp"]
        )
    )
    if kind == "fixed":
        return Fixed(value=draw(hours))
    if kind == "uniform":
        a, b = sorted([draw(hours), draw(hours)])
        return Uniform(low=a, high=b)
    if kind == "triangular":
        a, m, b = sorted([draw(hours), draw(hours), draw(hours)])
        return Triangular(low=a, mode=m, high=b)
    if kind == "exp":
        return Exponential(mean=draw(positive))
    if kind == "emp":
        return Empirical(values=tuple(draw(st.lists(hours, min_size=1, max_size=4))))
    cls = {"normal": Normal, "lognormal": LogNormal, "gamma": Gamma}[kind]
    return cls(mean=draw(positive), sd=draw(positive))


@st.composite
def calendars(draw: Any) -> Calendar:
    days = tuple(sorted(draw(st.sets(st.integers(0, 6), min_size=1))))
    cuts = sorted(draw(st.sets(st.integers(0, 1440), min_size=2, max_size=6)))
    windows = tuple(TimeWindow(start=a, end=b) for a, b in zip(cuts[::2], cuts[1::2], strict=False))
    tz = draw(st.sampled_from([None, "Asia/Shanghai", "Europe/Berlin", "UTC"]))
    return Calendar(days=days, windows=windows, timezone=tz)


dates = st.dates().map(lambda d: d.isoformat()).filter(lambda s: len(s) == 10)


@st.composite
def steps(draw: Any) -> tuple[HeadcountStep, ...]:
    when = sorted(draw(st.sets(dates, max_size=3)))
    return tuple(HeadcountStep(date=d, headcount=draw(st.integers(1, 50))) for d in when)


weights = st.floats(min_value=0, max_value=1e6, allow_nan=False) | st.sampled_from([0.0, 1.0])


def _some_weights(n: int) -> Any:
    """``n`` relative weights, at least one above 0 (equal neighbours make ranges)."""
    return st.lists(weights, min_size=n, max_size=n).filter(lambda w: any(x > 0 for x in w))


@st.composite
def hour_weights(draw: Any) -> tuple[HourWeight, ...]:
    cuts = sorted(draw(st.sets(st.integers(0, 1440), min_size=2, max_size=8)))
    pairs = list(zip(cuts[::2], cuts[1::2], strict=False))
    found = tuple(HourWeight(start=a, end=b, weight=draw(weights)) for a, b in pairs)
    if not any(h.weight > 0 for h in found):
        found = (found[0].model_copy(update={"weight": 1.0}), *found[1:])
    return found


trends = st.builds(
    Trend,
    change=st.floats(min_value=-0.99, max_value=10, allow_nan=False),
    per=st.sampled_from(["week", "month", "quarter", "year"]),
    since=st.none() | dates,
)
profiles = st.builds(
    RateProfile,
    weekdays=st.none() | _some_weights(7).map(tuple),
    hours=st.just(()) | hour_weights(),
    months=st.none() | _some_weights(12).map(tuple),
    trend=st.none() | trends,
    timezone=st.sampled_from([None, "Asia/Shanghai", "Europe/Berlin"]),
)
arrivals = st.one_of(
    st.builds(
        RateArrivals,
        count=positive,
        per=st.sampled_from(["hour", "day", "week", "month", "quarter", "year"]),
        profile=st.none() | profiles,
    ),
    st.builds(IntervalArrivals, interval=distributions()),
)


@st.composite
def entry_mixes(draw: Any, stage_ids: list[str]) -> dict[str, float]:
    """No mix (empty), or an entry mix: two or more stages with shares (per mille) adding up
    to 100%."""
    if len(stage_ids) < 2 or not draw(st.booleans()):
        return {}
    chosen = draw(st.lists(st.sampled_from(stage_ids), min_size=2, unique=True))
    cuts = sorted(
        draw(st.sets(st.integers(1, 999), min_size=len(chosen) - 1, max_size=len(chosen) - 1))
    )
    bounds = [0, *cuts, 1000]
    return {s: (b - a) / 1000 for s, a, b in zip(chosen, bounds, bounds[1:], strict=False)}


@st.composite
def processes(draw: Any) -> Process:
    """A structurally valid process (the flow checks may still object; that is fine)."""
    names = draw(st.lists(ids, min_size=2, max_size=9, unique=True))
    n_stages = draw(st.integers(1, len(names) - 1))
    stage_ids, outcome_ids = names[:n_stages], names[n_stages:]
    dept_ids = draw(st.lists(ids, max_size=3, unique=True))
    role_ids = draw(st.lists(ids, max_size=4, unique=True))
    maybe_label = st.none() | texts
    departments = tuple(Department(id=d, label=draw(maybe_label)) for d in dept_ids)
    roles = tuple(
        Role(
            id=r,
            label=draw(maybe_label),
            department=draw(st.none() | st.sampled_from(dept_ids)) if dept_ids else None,
            headcount=draw(st.integers(1, 100)),
            headcount_steps=draw(steps()),
            calendar=draw(st.none() | calendars()),
        )
        for r in role_ids
    )
    owner = st.none() | st.sampled_from(role_ids) if role_ids else st.none()
    touchpoints = st.builds(
        Touchpoint,
        name=texts,
        channel=st.none() | ids,
        emotion=st.none() | st.floats(-10, 10, allow_nan=False),
        pains=st.lists(texts, max_size=2).map(tuple),
        ideas=st.lists(texts, max_size=2).map(tuple),
        actions=st.lists(texts, max_size=2).map(tuple),
    )
    start = draw(st.none() | st.sampled_from(stage_ids))
    shares = draw(entry_mixes(stage_ids))
    stages = tuple(
        Stage(
            id=s,
            label=draw(maybe_label),
            owner=draw(owner),
            goals=tuple(draw(st.lists(texts, max_size=2))),
            exits=tuple(draw(st.lists(texts, max_size=2))),
            effort=draw(st.none() | distributions()),
            wait=draw(st.none() | distributions()),
            start=s in shares if shares else s == start,
            start_share=shares.get(s),
            touchpoints=tuple(draw(st.lists(touchpoints, max_size=2))),
            notes=tuple(draw(st.lists(texts, max_size=1))),
        )
        for s in stage_ids
    )
    outcomes = tuple(
        Outcome(
            id=o,
            label=draw(maybe_label),
            result=draw(st.sampled_from(["won", "lost", "other"])),
            owner=draw(owner),
            goals=tuple(draw(st.lists(texts, max_size=1))),
        )
        for o in outcome_ids
    )
    pairs = draw(
        st.lists(
            st.tuples(st.sampled_from(stage_ids), st.sampled_from(names), st.none() | texts),
            max_size=12,
            unique=True,
        )
    )
    transitions = tuple(
        Transition(source=a, target=b, label=lab, probability=draw(st.none() | probability))
        for a, b, lab in pairs
    )
    # AND splits and joins: names only need to resolve here (the flow checks judge the rest)
    parallels = tuple(
        Parallel(
            source=draw(st.sampled_from(stage_ids)),
            branches=tuple(draw(st.lists(st.sampled_from(stage_ids), min_size=1, max_size=3))),
            join=draw(st.sampled_from(names)),
            label=draw(st.none() | texts),
        )
        for _ in range(draw(st.integers(0, 2)))
    )
    changes: list[Any] = []
    if role_ids:
        changes.append(
            RoleChange(role=draw(st.sampled_from(role_ids)), headcount=draw(st.integers(1, 9)))
        )
    changes.append(
        DurationChange(
            stage=draw(st.sampled_from(stage_ids)),
            field=draw(st.sampled_from(["effort", "wait"])),
            factor=draw(st.floats(0, 10, allow_nan=False)),
        )
    )
    changes.append(
        DurationChange(stage=stage_ids[0], field="wait", distribution=draw(distributions()))
    )
    if transitions:
        t = transitions[0]
        changes.append(
            TransitionChange(source=t.source, target=t.target, probability=draw(probability))
        )
    changes.append(ArrivalsChange(factor=draw(positive)))
    changes.append(ArrivalsChange(arrivals=draw(arrivals)))
    scenarios = tuple(
        Scenario(
            name=name, changes=tuple(draw(st.permutations(changes))[: draw(st.integers(0, 4))])
        )
        for name in draw(st.lists(texts, max_size=2, unique=True))
    )
    currency = draw(st.none() | ids)
    # a target's currency word, when written, is the process currency (else E506)
    target = st.builds(
        Target,
        amount=positive,
        currency=st.just(currency) if currency is not None else st.none() | ids,
        per=st.sampled_from(["week", "month", "quarter", "year"]),
    )
    return Process(
        name=draw(texts),
        currency=currency,
        arrivals=draw(st.none() | arrivals),
        amount=draw(st.none() | distributions()),
        target=draw(st.none() | target),
        calendar=draw(st.none() | calendars()),
        departments=departments,
        roles=roles,
        personas=tuple(
            Persona(id=p, label=draw(maybe_label), goals=tuple(draw(st.lists(texts, max_size=2))))
            for p in draw(st.lists(ids, max_size=2, unique=True))
        ),
        stages=stages,
        outcomes=outcomes,
        transitions=transitions,
        parallels=parallels,
        scenarios=scenarios,
    )
