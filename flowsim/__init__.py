"""flowsim: design a sales process as text, draw it, and test it against its own history.

The pipeline is ``text -> parse -> Process (pydantic) -> networkx graph -> render | simulate``.
Start with :func:`load`::

    import flowsim
    process = flowsim.load("examples/b2b-cn.flow")
    process.graph            # a typed networkx MultiDiGraph
    process.to_flow()        # canonical .flow text
"""

from __future__ import annotations

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
    "Calendar",
    "CheckResult",
    "Department",
    "Diagnostic",
    "Distribution",
    "FlowError",
    "Outcome",
    "Overlay",
    "Persona",
    "Process",
    "RenderOptions",
    "Role",
    "Scenario",
    "Severity",
    "Span",
    "Stage",
    "Touchpoint",
    "Transition",
    "__version__",
    "check",
    "check_file",
    "check_text",
    "load",
    "parse",
    "render",
]
