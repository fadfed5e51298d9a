"""Offered load per role, from the routing matrix, before any simulation.

Expected visits per deal solve the traffic equations ``v = e + vQ`` (see
:func:`flowsim.checks.expected_visits`). A role's offered load is the work arriving per hour,
``λ · Σ_stages owned v_s · E[effort_s]``, against the person-hours it has per hour,
``headcount · working hours per week / 168``. At 100% or more the queue grows without bound:
no simulation length makes the averages meaningful, so flowsim says so up front.
"""

from __future__ import annotations

from pydantic import ConfigDict

from flowsim._base import FlowsimModel
from flowsim.checks import expected_visits
from flowsim.model import Process

__all__ = ["RoleLoad", "offered_load"]


class RoleLoad(FlowsimModel):
    """The work a role is offered against what it can do, both in person-hours per week."""

    model_config = ConfigDict(frozen=True)

    role: str
    headcount: int
    offered_hours_per_week: float
    capacity_hours_per_week: float
    load: float | None

    @property
    def overloaded(self) -> bool:
        return self.load is not None and self.load >= 1.0


def offered_load(process: Process, arrivals_per_hour: float | None = None) -> list[RoleLoad]:
    """Offered load of every role; ``arrivals_per_hour`` overrides the model's arrivals."""
    rate = arrivals_per_hour
    if rate is None:
        rate = process.arrivals.per_hour if process.arrivals is not None else 0.0
    visits = expected_visits(process)
    work: dict[str, float] = {r.id: 0.0 for r in process.roles}
    for stage in process.stages:
        if stage.owner in work and stage.effort is not None:
            work[stage.owner] += visits.get(stage.id, 0.0) * stage.effort.expected
    loads = []
    for role in process.roles:
        calendar = role.calendar or process.calendar
        hours = calendar.hours_per_week if calendar is not None else 168.0
        offered = rate * 168 * work[role.id]
        capacity = role.headcount * hours
        loads.append(
            RoleLoad(
                role=role.id,
                headcount=role.headcount,
                offered_hours_per_week=offered,
                capacity_hours_per_week=capacity,
                load=offered / capacity if capacity > 0 else None,
            )
        )
    return loads
