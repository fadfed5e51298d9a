"""Parameter sweeps: ``se.headcount=2..6`` becomes one scenario per value.

A sweep is shorthand for scenarios the user would otherwise write by hand, so it produces
ordinary :class:`~flowsim.model.Scenario` objects and everything downstream (common random
numbers, paired deltas) works unchanged. Forms:

* ``ROLE.headcount=2..6`` (step 1, or ``2..10:2``) or ``ROLE.headcount=2,3,5``
* ``STAGE.effort=0.6,0.8`` and ``STAGE.wait=0.5..1:0.25`` — factors on the duration
* ``SOURCE->TARGET=50%,60%`` (or fractions) — the transition's probability
* ``arrivals=1.2,1.5`` — a factor on the arrival rate
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from flowsim.errors import InputError, OptionError, UnknownScenario
from flowsim.model import (
    ArrivalsChange,
    DurationChange,
    Process,
    RoleChange,
    Scenario,
    TransitionChange,
)

__all__ = ["chosen_scenarios", "sweep_scenarios"]

_RANGE = re.compile(r"^\s*([0-9.]+)\s*\.\.\s*([0-9.]+)\s*(?::\s*([0-9.]+))?\s*$")


def _values(text: str, what: str) -> list[Decimal]:
    m = _RANGE.match(text)
    try:
        if m:
            lo, hi = Decimal(m.group(1)), Decimal(m.group(2))
            step = Decimal(m.group(3) or "1")
            if step <= 0 or hi < lo:
                raise InputError(f"{what}: a range is LOW..HIGH[:STEP] with LOW <= HIGH, STEP > 0")
            out: list[Decimal] = []
            v = lo
            while v <= hi and len(out) <= 1000:
                out.append(v)
                v += step
            return out
        return [
            Decimal(v.strip().rstrip("%")) / (100 if v.strip().endswith("%") else 1)
            for v in text.split(",")
            if v.strip()
        ]
    except InvalidOperation:
        raise InputError(f"{what}: cannot read the values {text!r}") from None


def sweep_scenarios(process: Process, spec: str) -> list[Scenario]:
    """The scenarios of one sweep ``spec`` on ``process`` (``InputError`` explains a bad one)."""
    if "=" not in spec:
        raise InputError(f"a sweep is KEY=VALUES, like se.headcount=2..6 (got {spec!r})")
    key, _, text = spec.partition("=")
    key = key.strip()
    values = _values(text, spec)
    if not values:
        raise InputError(f"{spec}: no values")
    stages = {s.id for s in process.stages}
    roles = {r.id for r in process.roles}
    nodes = stages | {o.id for o in process.outcomes}
    out: list[Scenario] = []
    if "->" in key:
        src, _, dst = (part.strip() for part in key.partition("->"))
        if src not in stages or dst not in nodes:
            raise InputError(f"{spec}: the model has no transition {src} -> {dst}")
        if not any(t.source == src and t.target == dst for t in process.transitions):
            raise InputError(f"{spec}: the model has no transition {src} -> {dst}")
        for v in values:
            if not 0 <= v <= 1:
                raise InputError(f"{spec}: probability {v} is outside 0..1 (or 0%..100%)")
            change = TransitionChange(source=src, target=dst, probability=float(v))
            out.append(Scenario(name=f"{src}->{dst}={float(v):.0%}", changes=(change,)))
        return out
    if key == "arrivals":
        for v in values:
            if v <= 0:
                raise InputError(f"{spec}: an arrivals factor must be > 0")
        return [
            Scenario(name=f"arrivals*{v}", changes=(ArrivalsChange(factor=float(v)),))
            for v in values
        ]
    name, _, field = key.rpartition(".")
    if field == "headcount":
        if name not in roles:
            raise InputError(f"{spec}: no role {name!r} (roles: {', '.join(sorted(roles))})")
        for v in values:
            if v != int(v) or v < 1:
                raise InputError(f"{spec}: a headcount is a whole number >= 1 (got {v})")
        return [
            Scenario(
                name=f"{name}.headcount={int(v)}",
                changes=(RoleChange(role=name, headcount=int(v)),),
            )
            for v in values
        ]
    if field in ("effort", "wait"):
        if name not in stages:
            raise InputError(f"{spec}: no stage {name!r}")
        return [
            Scenario(
                name=f"{name}.{field}*{v}",
                changes=(DurationChange(stage=name, field=field, factor=float(v)),),
            )
            for v in values
        ]
    raise InputError(
        f"{spec}: sweep ROLE.headcount, STAGE.effort, STAGE.wait, SOURCE->TARGET or arrivals"
    )


def chosen_scenarios(
    process: Process,
    chosen: Sequence[str] = (),
    *,
    sweeps: Sequence[str] = (),
    baseline_only: bool = False,
) -> tuple[Process, list[str]]:
    """The process to simulate and the scenarios to run, as ``flowsim simulate`` picks them.

    ``chosen`` names scenarios of the process (default: all of them); ``baseline_only`` runs
    none; each of ``sweeps`` (``se.headcount=2..6``) adds one scenario per value to the
    process and runs those, instead of the process's own.

    Raises
    ------
    UnknownScenario
        A chosen name the process does not have.
    OptionError
        A sweep that cannot be read (``option == "sweep"``).
    """
    known = [s.name for s in process.scenarios]
    if baseline_only or sweeps:
        names: list[str] = []
    elif not chosen:
        names = known
    else:
        missing = [c for c in chosen if c not in known]
        if missing:
            raise UnknownScenario(missing[0], known)
        names = list(chosen)
    for spec in sweeps:
        try:
            extra = sweep_scenarios(process, spec)
        except ValueError as err:
            raise OptionError(str(err), "sweep") from None
        process = process.model_copy(update={"scenarios": (*process.scenarios, *extra)})
        names += [s.name for s in extra]
    return process, names
