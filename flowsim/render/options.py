"""What to draw and how: the options every renderer takes."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from flowsim.overlay import ColorMetric, Overlay
from flowsim.render.i18n import Lang
from flowsim.render.theme import Theme

__all__ = ["FORMATS", "VIEWS", "RenderOptions"]

View = Literal["flowchart", "journey"]
Format = Literal["svg", "png", "pdf", "dot", "mermaid", "html"]
VIEWS: tuple[str, ...] = ("flowchart", "journey")
FORMATS: tuple[str, ...] = ("svg", "png", "pdf", "dot", "mermaid", "html")


class RenderOptions(BaseModel):
    """Options of ``flowsim render`` / :func:`flowsim.render`. Defaults draw a useful picture."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    view: View = "flowchart"
    format: Format = "svg"
    theme: Theme = Field(default_factory=Theme)
    direction: Literal["LR", "TB"] = "LR"
    lang: Lang = "en"
    lanes: Literal["department", "role", "none"] = "department"
    detail: Literal["none", "brief", "full"] = "brief"
    touchpoints: bool = False
    overlay: Overlay | None = None
    color_by: ColorMetric | None = None
    title: bool = True
