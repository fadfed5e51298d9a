"""The root of flowsim's exceptions.

Every exception flowsim raises on bad input derives from :class:`FlowsimError`, so a program
can catch them all with one ``except``; each keeps the built-in base users already catch
(``ValueError`` for a bad value, ``OSError`` for a file that cannot be written). This module
imports nothing of flowsim, so every layer may use it.

>>> from flowsim.model import parse_duration
>>> try:
...     parse_duration("soon")
... except FlowsimError as err:
...     print(type(err).__name__)
DurationError
"""

from __future__ import annotations

__all__ = ["FlowsimError"]


class FlowsimError(Exception):
    """Base class of every exception flowsim raises on bad input (files, logs, options)."""
