"""Applying a what-if scenario to a process: a new model, the original untouched.

A scenario is a list of changes (headcount, durations, conversion rates, arrivals). Applying it
gives an ordinary :class:`~flowsim.model.Process`, so everything that reads a process (render,
simulate, check) works on a scenario without knowing about scenarios.

Rules, in the order changes are written:

* ``role r headcount n`` sets the role's headcount; ``from DATE headcount n`` steps replace the
  role's schedule.
* ``stage s effort <dist>`` replaces the distribution; ``effort * f`` stretches it.
* ``a -> b p`` sets that transition's probability. If another transition from ``a`` takes the
  remainder, it absorbs the difference; otherwise the other transitions from ``a`` are scaled
  proportionally so the total stays 100%.
* ``arrivals ...`` replaces the arrival process; ``arrivals * f`` multiplies the rate.
"""

from __future__ import annotations

import math
from typing import Any

from flowsim.errors import UnknownScenario
from flowsim.model import (
    ArrivalsChange,
    DurationChange,
    IntervalArrivals,
    Process,
    RateArrivals,
    RoleChange,
    Scenario,
    Transition,
    TransitionChange,
    tidy,
)

__all__ = ["apply_scenario", "find_scenario"]


def find_scenario(process: Process, name: str) -> Scenario:
    """The scenario called ``name``.

    Raises :class:`~flowsim.errors.UnknownScenario` (a ``KeyError`` and a ``FlowsimError``)
    naming the known ones if there is none.
    """
    for scenario in process.scenarios:
        if scenario.name == name:
            return scenario
    raise UnknownScenario(name, [s.name for s in process.scenarios])


def apply_scenario(process: Process, name: str) -> Process:
    """``process`` as it would be under scenario ``name`` (without its scenarios)."""
    scenario = find_scenario(process, name)
    roles = list(process.roles)
    stages = list(process.stages)
    transitions = list(process.transitions)
    arrivals = process.arrivals
    for change in scenario.changes:
        if isinstance(change, RoleChange):
            roles = [_role(r, change) if r.id == change.role else r for r in roles]
        elif isinstance(change, DurationChange):
            stages = [_duration(s, change) if s.id == change.stage else s for s in stages]
        elif isinstance(change, TransitionChange):
            transitions = _rebalance(transitions, change)
        elif isinstance(change, ArrivalsChange):
            arrivals = _arrivals(arrivals, change)
    # Comments written inside scenario blocks describe the scenarios, which are gone now.
    blocks = [(sc.span.file, sc.span.line, sc.span.end_line) for sc in process.scenarios if sc.span]
    comments = tuple(
        c
        for c in process.comments
        if c.span is None
        or not any(f == c.span.file and a <= c.span.line <= b for f, a, b in blocks)
    )
    update: dict[str, Any] = {
        "comments": comments,
        "roles": tuple(roles),
        "stages": tuple(stages),
        "transitions": tuple(transitions),
        "arrivals": arrivals,
        "scenarios": (),
    }
    result = process.model_copy(update=update)
    result._graph = None  # copied caches would describe the base process
    result._index = None
    result._branches = None
    return result


def _role(role: Any, change: RoleChange) -> Any:
    update: dict[str, Any] = {}
    if change.headcount is not None:
        update["headcount"] = change.headcount
    if change.headcount_steps:
        update["headcount_steps"] = change.headcount_steps
    return role.model_copy(update=update)


def _duration(stage: Any, change: DurationChange) -> Any:
    current = getattr(stage, change.field)
    if change.distribution is not None:
        new = change.distribution
    elif current is None:
        return stage
    else:
        assert change.factor is not None
        new = current.scaled(change.factor)
    return stage.model_copy(update={change.field: new})


def _rebalance(transitions: list[Transition], change: TransitionChange) -> list[Transition]:
    siblings = [t for t in transitions if t.source == change.source]
    targets = [t for t in siblings if t.target == change.target]
    if not targets:
        return transitions
    target = targets[0]
    others = [t for t in siblings if t is not target]
    has_remainder = any(t.probability is None for t in others)
    new: dict[int, Transition] = {
        id(target): target.model_copy(update={"probability": change.probability})
    }
    if not has_remainder:
        explicit = math.fsum(t.probability or 0.0 for t in others)
        room = max(0.0, 1.0 - change.probability)
        if explicit > 0:
            for t in others:
                p = tidy((t.probability or 0.0) * room / explicit)
                new[id(t)] = t.model_copy(update={"probability": min(1.0, p)})
    return [new.get(id(t), t) for t in transitions]


def _arrivals(arrivals: Any, change: ArrivalsChange) -> Any:
    if change.arrivals is not None:
        return change.arrivals
    assert change.factor is not None
    if isinstance(arrivals, RateArrivals):
        return arrivals.model_copy(update={"count": tidy(arrivals.count * change.factor)})
    if isinstance(arrivals, IntervalArrivals):
        return arrivals.model_copy(update={"interval": arrivals.interval.scaled(1 / change.factor)})
    return arrivals
