"""Pictures of a process: the swimlane flowchart and the customer journey map.

Each view keeps its own layout and style code (``flowchart.py``, ``journey.py``); each output
format is one function from the model and :class:`RenderOptions` to text or bytes. Renderers
read the model only; they never import the simulator.
"""

from __future__ import annotations

from flowsim.render.options import FORMATS, VIEWS, RenderOptions
from flowsim.render.theme import BUILTIN_THEMES, Theme, ThemeError, load_theme

__all__ = [
    "BUILTIN_THEMES",
    "FORMATS",
    "VIEWS",
    "RenderOptions",
    "Theme",
    "ThemeError",
    "load_theme",
]
