"""Pictures of a process: the swimlane flowchart and the customer journey map.

Each view keeps its own layout and style code (``flowchart.py``, ``journey.py``); each output
format is one function from the model and :class:`RenderOptions` to text or bytes. Renderers
read the model only; they never import the simulator.
"""

from __future__ import annotations

import os
from typing import Any

from flowsim.model import Process
from flowsim.overlay import Overlay
from flowsim.render.graphviz import GraphvizError, GraphvizMissing
from flowsim.render.options import FORMATS, VIEWS, RenderOptions
from flowsim.render.theme import BUILTIN_THEMES, Theme, ThemeError, load_theme

__all__ = [
    "BUILTIN_THEMES",
    "FORMATS",
    "VIEWS",
    "GraphvizError",
    "GraphvizMissing",
    "RenderOptions",
    "Theme",
    "ThemeError",
    "load_theme",
    "options",
    "render",
    "render_with_notes",
]

EXTENSIONS = {
    "svg": "svg",
    "png": "png",
    "pdf": "pdf",
    "dot": "dot",
    "mermaid": "mmd",
    "html": "html",
}


def options(
    *,
    theme: str | os.PathLike[str] | Theme | None = None,
    overlay: str | os.PathLike[str] | Overlay | None = None,
    **fields: Any,
) -> RenderOptions:
    """Render options from friendly values: a theme name or TOML path, an overlay JSON path."""
    if isinstance(overlay, str | os.PathLike):
        overlay = Overlay.load(overlay)
    return RenderOptions(theme=load_theme(theme), overlay=overlay, **fields)


def render_with_notes(process: Process, opts: RenderOptions) -> tuple[bytes, list[str]]:
    """The picture, plus notes on what the format could not express (Mermaid is lossy)."""
    fmt = opts.format
    if fmt == "mermaid":
        from flowsim.render import mermaid

        export = (
            mermaid.flowchart(process, opts)
            if opts.view == "flowchart"
            else mermaid.journey(process, opts)
        )
        return export.text.encode("utf-8"), list(export.dropped)
    if fmt == "html":
        from flowsim.render import flowchart, html, journey

        chart = flowchart.render(
            process, opts.model_copy(update={"format": "svg", "view": "flowchart"})
        )
        trip = journey.render(process, opts.model_copy(update={"format": "svg", "view": "journey"}))
        return html.page(process, opts, chart, trip).encode("utf-8"), []
    if opts.view == "journey":
        from flowsim.render import journey

        if fmt == "dot":
            raise ValueError("the journey map is drawn directly as SVG; there is no DOT for it")
        return journey.render(process, opts), []
    from flowsim.render import flowchart

    return flowchart.render(process, opts), []


def render(
    process: Process,
    *,
    view: str = "flowchart",
    format: str = "svg",
    **kwargs: Any,
) -> bytes:
    """``process`` as a picture of ``view`` (flowchart, journey) in ``format``.

    Formats: svg, png, pdf, dot, mermaid, html.

    Other keywords are :class:`RenderOptions` fields (``theme`` may be a built-in name or a
    TOML path, ``overlay`` a metrics JSON path)::

        svg = flowsim.render(process, view="journey", lang="zh")
    """
    return render_with_notes(process, options(view=view, format=format, **kwargs))[0]
