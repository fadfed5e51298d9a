"""flowsim: design a sales process as text, draw it, and test it against its own history.

The pipeline is ``text -> parse -> Process (pydantic) -> networkx graph -> render | simulate``.
Start with :func:`load`::

    import flowsim
    process = flowsim.load("examples/b2b-cn.flow")
    process.graph            # a typed networkx MultiDiGraph
    process.to_flow()        # canonical .flow text
"""

from __future__ import annotations

from typing import Any

from flowsim import render
from flowsim.api import CheckResult, check_file, check_text, load, parse
from flowsim.checks import check
from flowsim.diagnostics import Diagnostic, FlowError, Severity, Span
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
from flowsim.render import RenderOptions

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
    "FidelityResult",
    "FlowError",
    "Forecast",
    "FunnelMetrics",
    "LogError",
    "Outcome",
    "Overlay",
    "Persona",
    "Process",
    "RenderOptions",
    "Role",
    "Scenario",
    "Severity",
    "SimulationResult",
    "Span",
    "Stage",
    "Touchpoint",
    "Transition",
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
    "metrics",
    "parse",
    "read_log",
    "render",
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
    "simulate": "flowsim.sim.simulate",
    "SimulationResult": "flowsim.sim.result",
    "bottlenecks": "flowsim.sim.bottlenecks",
    "BottleneckReport": "flowsim.sim.bottlenecks",
    "fidelity": "flowsim.sim.fidelity",
    "FidelityResult": "flowsim.sim.fidelity",
    "forecast": "flowsim.sim.forecast",
    "Forecast": "flowsim.sim.forecast",
    "backtest": "flowsim.sim.backtest",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'flowsim' has no attribute {name!r}")
