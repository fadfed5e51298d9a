"""What to draw and how: the options every renderer takes."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, model_validator

from flowsim._base import FlowsimModel
from flowsim.errors import FlowsimError, ModelError
from flowsim.overlay import ColorMetric, Overlay
from flowsim.render.i18n import Lang
from flowsim.render.theme import Theme

__all__ = ["FORMATS", "VIEWS", "MeasuredPoint", "RenderError", "RenderOptions", "options_error"]

View = Literal["flowchart", "journey"]
Format = Literal["svg", "png", "pdf", "dot", "mermaid", "html"]
VIEWS: tuple[str, ...] = ("flowchart", "journey")
FORMATS: tuple[str, ...] = ("svg", "png", "pdf", "dot", "mermaid", "html")


class MeasuredPoint(FlowsimModel):
    """A touchpoint's measured score for the journey map, on the designed emotion scale 1-5.

    ``low``/``high``: its 95% interval (None under 2 answers); ``verdict``: ``worse``,
    ``better``, ``agrees``... as :class:`flowsim.history.feedback.MeasuredJourney` says.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    stage: str
    touchpoint: str
    mean: float
    low: float | None = None
    high: float | None = None
    responses: int = 0
    verdict: str = ""


class RenderOptions(FlowsimModel):
    """Options of ``flowsim render`` / :func:`flowsim.render`. Defaults draw a useful picture."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    view: View = "flowchart"
    format: Format = "svg"
    theme: Theme = Field(default_factory=Theme)
    direction: Literal["auto", "LR", "TB"] = "auto"
    lang: Lang = "en"
    lanes: Literal["department", "role", "none"] = "department"
    detail: Literal["none", "brief", "full"] = "brief"
    touchpoints: bool = False
    overlay: Overlay | None = None
    color_by: ColorMetric | None = None
    title: bool = True
    measured: tuple[MeasuredPoint, ...] = ()

    @model_validator(mode="after")
    def _color_needs_figures(self) -> RenderOptions:
        if self.color_by is not None and self.overlay is None:
            raise ValueError("color_by needs an overlay (the figures to colour by)")
        return self


class RenderError(FlowsimError, ValueError):
    """A picture that cannot be asked for: an unknown view, format or option, or a value the
    option does not take (``flowsim.render(p, view="jurney")``), or a view/format pair that
    does not exist (the journey map has no DOT)."""


def options_error(err: ModelError) -> RenderError:
    """:class:`RenderError` in the user's words for the options pydantic refused.

    Parameters
    ----------
    err : flowsim.errors.ModelError
        What :class:`RenderOptions` raised.

    Returns
    -------
    RenderError
        One clause per refused option, e.g. ``unknown view 'jurney' (expected 'flowchart' or
        'journey')``.
    """
    parts = []
    for e in err.errors():
        name = ".".join(str(x) for x in e["loc"]) or "options"
        if not e["loc"] and e["type"] == "value_error":  # a rule across options
            parts.append(str(e["ctx"]["error"]))
        elif e["type"] == "extra_forbidden":
            known = ", ".join(RenderOptions.model_fields)
            parts.append(f"unknown option {name!r} (options: {known})")
        elif e["type"] == "literal_error":
            parts.append(f"unknown {name} {e['input']!r} (expected {e['ctx']['expected']})")
        else:
            parts.append(f"{name}: {e['msg']} (got {e['input']!r})")
    return RenderError("; ".join(parts))
