"""flowsim: design a sales process as text, draw it, and test it against its own history.

The pipeline is ``text -> parse -> Process (pydantic) -> networkx graph -> render | simulate``.
Start with :func:`load`::

    import flowsim
    process = flowsim.load("examples/b2b-cn.flow")
    process.graph            # a typed networkx MultiDiGraph
    process.to_flow()        # canonical .flow text
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING, Any

from flowsim import model as _model
from flowsim.api import CheckResult, check_file, check_text, load, parse
from flowsim.checks import check
from flowsim.diagnostics import Diagnostic, FlowError, LogPosition, Severity, Span
from flowsim.errors import FlowsimError, InputError, ModelError, UnknownScenario
from flowsim.model import (
    Calendar,
    Department,
    Distribution,
    Outcome,
    Persona,
    Process,
    Role,
    Scenario,
    Stage,
    Touchpoint,
    Transition,
)
from flowsim.overlay import Overlay
from flowsim.render import RenderError, RenderOptions
from flowsim.result import Result

# ``flowsim.render`` is the package flowsim.render, made callable (see its _CallableModule).
# Type checkers are told it is the function, so ``flowsim.render(process)`` is typed (bytes);
# typed code reaches the package's other names by ``from flowsim.render import ...``.
if TYPE_CHECKING:
    from flowsim.render import render
else:
    from flowsim import render

if TYPE_CHECKING:
    # What the lazy names below are, for editors and mypy (flowsim/__init__ imports them only
    # when first used; tests/test_api_surface.py keeps this list and _LAZY the same).
    import networkx as nx

    from flowsim.history import DealLog, LogError, read_log
    from flowsim.history.conformance import ConformanceReport, conformance
    from flowsim.history.discover import Discovery, discover
    from flowsim.history.feedback import (
        FeedbackLog,
        MeasuredJourney,
        PainPoints,
        measure_journey,
        pain_points,
        read_feedback,
    )
    from flowsim.history.metrics import FunnelMetrics, metrics
    from flowsim.sim.backtest import backtest
    from flowsim.sim.bottlenecks import BottleneckReport, bottlenecks
    from flowsim.sim.fidelity import FidelityResult, fidelity
    from flowsim.sim.forecast import Forecast, forecast
    from flowsim.sim.result import SimulationResult
    from flowsim.sim.rolling import RollingBacktest, rolling_backtest
    from flowsim.sim.simulate import simulate

__version__ = "0.1.0"

__all__ = [
    "BottleneckReport",
    "Calendar",
    "CheckResult",
    "ConformanceReport",
    "DealLog",
    "Department",
    "Diagnostic",
    "Discovery",
    "Distribution",
    "FeedbackLog",
    "FidelityResult",
    "FlowError",
    "FlowsimError",
    "Forecast",
    "FunnelMetrics",
    "InputError",
    "LogError",
    "LogPosition",
    "MeasuredJourney",
    "ModelError",
    "Outcome",
    "Overlay",
    "PainPoints",
    "Persona",
    "Process",
    "RenderError",
    "RenderOptions",
    "Result",
    "Role",
    "RollingBacktest",
    "Scenario",
    "Severity",
    "SimulationResult",
    "Span",
    "Stage",
    "Touchpoint",
    "Transition",
    "UnknownScenario",
    "__version__",
    "backtest",
    "bottlenecks",
    "check",
    "check_file",
    "check_text",
    "conformance",
    "discover",
    "fidelity",
    "forecast",
    "load",
    "measure_journey",
    "metrics",
    "pain_points",
    "parse",
    "read_feedback",
    "read_log",
    "render",
    "rolling_backtest",
    "simulate",
]

# Deal history pulls in polars and pandas; import it only when used, so `flowsim check`
# and `flowsim render` start fast.
_LAZY = {
    "DealLog": "flowsim.history",
    "LogError": "flowsim.history",
    "read_log": "flowsim.history",
    "FunnelMetrics": "flowsim.history.metrics",
    "metrics": "flowsim.history.metrics",
    "conformance": "flowsim.history.conformance",
    "ConformanceReport": "flowsim.history.conformance",
    "discover": "flowsim.history.discover",
    "Discovery": "flowsim.history.discover",
    "read_feedback": "flowsim.history.feedback",
    "FeedbackLog": "flowsim.history.feedback",
    "measure_journey": "flowsim.history.feedback",
    "MeasuredJourney": "flowsim.history.feedback",
    "pain_points": "flowsim.history.feedback",
    "PainPoints": "flowsim.history.feedback",
    "simulate": "flowsim.sim.simulate",
    "SimulationResult": "flowsim.sim.result",
    "bottlenecks": "flowsim.sim.bottlenecks",
    "BottleneckReport": "flowsim.sim.bottlenecks",
    "fidelity": "flowsim.sim.fidelity",
    "FidelityResult": "flowsim.sim.fidelity",
    "forecast": "flowsim.sim.forecast",
    "Forecast": "flowsim.sim.forecast",
    "backtest": "flowsim.sim.backtest",
    "rolling_backtest": "flowsim.sim.rolling",
    "RollingBacktest": "flowsim.sim.rolling",
}


def __getattr__(name: str) -> Any:
    """The names of ``_LAZY``, imported when first used."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'flowsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    """The public API (``__all__``), lazy names included: what ``dir(flowsim)`` shows."""
    return sorted(__all__)


# The model's conveniences (process.graph, .to_flow(), .with_scenario(), Jupyter's picture) are
# the work of higher layers; the model calls them through these registered functions, so it
# imports nothing above itself. Each imports its module when first used (start-up stays lean).


def _graph(process: Process) -> nx.MultiDiGraph[Any]:
    from flowsim.gc_pause import gc_paused
    from flowsim.graph import build_graph

    with gc_paused():  # many small dicts, all kept: see gc_paused
        return build_graph(process)


def _flow_graph(graph: nx.MultiDiGraph[Any]) -> nx.MultiDiGraph[Any]:
    from flowsim.graph import flow_subgraph

    return flow_subgraph(graph)


def _with_scenario(process: Process, name: str) -> Process:
    from flowsim.scenario import apply_scenario

    return apply_scenario(process, name)


def _to_flow(process: Process) -> str:
    from flowsim.dsl.formatter import format_process

    return format_process(process)


def _svg(process: Process) -> str | None:
    """The flowchart as SVG text for Jupyter, or None (text display) without Graphviz.

    The root element is styled to shrink to the output area's width, keeping its ratio.
    """
    from flowsim.render import GraphvizError
    from flowsim.render import render as draw
    from flowsim.render.frame import scalable

    try:
        return scalable(draw(process, view="flowchart", format="svg").decode("utf-8"))
    except GraphvizError:
        return None


_PICTURES = itertools.count(1)  # a notebook page holds many outputs: each toggle its own id


def _html(process: Process) -> str | None:
    """The flowchart for Jupyter's HTML output: inline, fitted, full size on a click."""
    from flowsim.render.frame import framed

    svg = _svg(process)
    if svg is None:
        return None
    svg = svg[svg.find("<svg") :]
    return framed(svg, toggle_id=f"flowsim-picture-{next(_PICTURES)}", alt=process.name)


_model.register_conveniences(
    _model.Conveniences(
        graph=_graph,
        flow_graph=_flow_graph,
        with_scenario=_with_scenario,
        to_flow=_to_flow,
        svg=_svg,
        html=_html,
    )
)
