"""Pictures of a process: the swimlane flowchart and the customer journey map.

Each view keeps its own layout and style code (``flowchart.py``, ``journey.py``); each output
format is one function from the model and :class:`RenderOptions` to text or bytes. Renderers
read the model only; they never import the simulator.
"""

from __future__ import annotations

import os
import sys
import types
from typing import Any

from flowsim.errors import ModelError
from flowsim.model import Process
from flowsim.overlay import Overlay
from flowsim.render.graphviz import GraphvizError, GraphvizMissing
from flowsim.render.options import FORMATS, VIEWS, RenderError, RenderOptions, options_error
from flowsim.render.theme import BUILTIN_THEMES, Theme, ThemeError, load_theme

__all__ = [
    "BUILTIN_THEMES",
    "FORMATS",
    "VIEWS",
    "GraphvizError",
    "GraphvizMissing",
    "RenderError",
    "RenderOptions",
    "Theme",
    "ThemeError",
    "guess_lang",
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


def guess_lang(process: Process) -> str:
    """zh when the process is written in Chinese (its name or a stage label has Han text)."""
    texts = [process.name, *(s.display for s in process.stages)]
    return "zh" if any("\u4e00" <= ch <= "\u9fff" for t in texts for ch in t) else "en"


def options(
    *,
    theme: str | os.PathLike[str] | Theme | None = None,
    overlay: str | os.PathLike[str] | Overlay | None = None,
    lang: str | None = None,
    process: Process | None = None,
    **fields: Any,
) -> RenderOptions:
    """Render options from friendly values: a theme name or TOML path, an overlay JSON path,
    and ``lang=None`` meaning "the process's own language" (needs ``process``)."""
    if isinstance(overlay, str | os.PathLike):
        overlay = Overlay.load(overlay)
    if lang is None:
        lang = guess_lang(process) if process is not None else "en"
    theme = load_theme(theme)
    measured = fields.pop("measured", None)
    if measured is not None and hasattr(measured, "rows"):  # a MeasuredJourney
        from flowsim.render.journey_measured import measured_points

        measured = measured_points(measured)
    if measured is not None:
        fields["measured"] = measured
    try:
        return RenderOptions(theme=theme, overlay=overlay, lang=lang, **fields)
    except ModelError as err:
        raise options_error(err) from None


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
            raise RenderError("the journey map is drawn directly as SVG; there is no DOT for it")
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
    """``process`` as a picture of ``view`` in ``format``.

    Parameters
    ----------
    process : Process
        The model.
    view : {"flowchart", "journey"}, default "flowchart"
        The swimlane flowchart or the customer journey map.
    format : {"svg", "png", "pdf", "dot", "mermaid", "html"}, default "svg"
        The output format (png and pdf are converted from the SVG with cairosvg).
    **kwargs
        :class:`RenderOptions` fields: ``theme`` (a built-in name or a TOML path),
        ``direction``, ``lang`` (default the process's own), ``lanes``, ``detail``,
        ``touchpoints``, ``overlay`` (metrics JSON path or object), ``color_by``, ``title``,
        ``measured`` (a :class:`~flowsim.history.feedback.MeasuredJourney`: the journey map
        draws the measured scores beside the designed curve).

    Returns
    -------
    bytes
        The picture (UTF-8 text for svg, dot, mermaid and html).

    Raises
    ------
    RenderError
        An unknown view, format or option, or a combination that does not exist (a journey
        as DOT).
    ThemeError
        A theme that cannot be read.
    GraphvizError
        Graphviz is missing or fails (svg, png and pdf flowcharts run ``dot``).

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> svg = flowsim.render(process)
    >>> svg.startswith(b"<?xml") and b"</svg>" in svg
    True
    >>> print(flowsim.render(process, format="mermaid").decode().splitlines()[1])
    title: "B2B 大客户销售"
    >>> flowsim.render(process, view="journey", format="dot")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    flowsim.render.options.RenderError: the journey map is drawn directly as SVG; ...
    """
    opts = options(view=view, format=format, process=process, **kwargs)
    return render_with_notes(process, opts)[0]


class _CallableModule(types.ModuleType):
    """``flowsim.render`` is this package *and* the function :func:`render`.

    So ``flowsim.render(process, ...)`` draws, while ``flowsim.render.options`` and
    ``import flowsim.render.flowchart`` keep working as for any package.
    """

    def __call__(self, process: Process, **kwargs: Any) -> bytes:
        return render(process, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
