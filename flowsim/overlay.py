"""Figures measured on a process, to draw on top of it: the metrics overlay.

History analysis (measured deals) and simulation (simulated deals) both emit this shape, and
the flowchart reads it to colour stages and size edges, which is how a bottleneck becomes
visible at a glance. It is plain data keyed by the ids of the process, saved as JSON
(``flowsim metrics --format json``, ``flowsim simulate --format json``) and loaded with
:meth:`Overlay.load`.

Units: durations in hours, shares as fractions in [0, 1], counts as deals.
"""

from __future__ import annotations

import json
import os
from typing import Literal

from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel

__all__ = ["COLOR_METRICS", "EdgeFigures", "Overlay", "RoleFigures", "StageFigures"]

#: What a flowchart can colour stages by, and what each means.
COLOR_METRICS: dict[str, str] = {
    "dwell": "mean time in stage (hours)",
    "queue": "mean wait for a free owner (hours)",
    "leakage": "share of deals lost from the stage",
    "utilization": "utilization of the owner role",
}

ColorMetric = Literal["dwell", "queue", "leakage", "utilization"]


class _Data(FlowsimModel):
    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)


class StageFigures(_Data):
    """Figures for one stage (or outcome). Every field is optional: tools fill what they know."""

    entered: float | None = Field(default=None, ge=0, description="Deals that entered.")
    dwell_hours: float | None = Field(default=None, ge=0, description="Mean time in stage.")
    dwell_p90_hours: float | None = Field(default=None, ge=0)
    queue_hours: float | None = Field(default=None, ge=0, description="Mean wait for a person.")
    leakage: float | None = Field(default=None, ge=0, le=1, description="Share lost from here.")
    conversion: float | None = Field(default=None, ge=0, le=1, description="Share moving on.")
    utilization: float | None = Field(
        default=None, ge=0, description="Utilization of the owner role (1.0 = fully busy)."
    )


class EdgeFigures(_Data):
    """Figures for one transition: how many deals took it."""

    source: str
    target: str
    label: str | None = None
    count: float = Field(ge=0, description="Deals (or mean deals per replication) that moved.")
    share: float | None = Field(default=None, ge=0, le=1, description="Share of the source.")


class RoleFigures(_Data):
    utilization: float | None = Field(default=None, ge=0)
    utilization_low: float | None = Field(default=None, ge=0, description="CI lower bound.")
    utilization_high: float | None = Field(default=None, ge=0, description="CI upper bound.")


class Overlay(_Data):
    """Measured or simulated figures keyed by stage, transition and role ids."""

    source: str = Field(default="", description="Where the figures come from, for the legend.")
    stages: dict[str, StageFigures] = Field(default_factory=dict)
    edges: tuple[EdgeFigures, ...] = ()
    roles: dict[str, RoleFigures] = Field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Overlay:
        """Read an overlay JSON file (raises ``ValueError`` with the reason if it is invalid)."""
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
        return cls.model_validate(data)

    def stage_value(self, stage_id: str, metric: str, owner: str | None = None) -> float | None:
        """The figure ``metric`` for a stage; utilization falls back to the owner role's."""
        figures = self.stages.get(stage_id)
        value = None
        if figures is not None:
            value = {
                "dwell": figures.dwell_hours,
                "queue": figures.queue_hours,
                "leakage": figures.leakage,
                "utilization": figures.utilization,
            }.get(metric)
        if value is None and metric == "utilization" and owner is not None:
            role = self.roles.get(owner)
            value = role.utilization if role else None
        return value

    def edge_count(self, source: str, target: str, label: str | None = None) -> float | None:
        """Deals that took ``source -> target`` (matching the label when several edges do)."""
        found = [e for e in self.edges if e.source == source and e.target == target]
        if len(found) > 1:
            found = [e for e in found if e.label == label] or found
        return sum(e.count for e in found) if found else None
