"""The root of flowsim's exceptions, and the ones that belong to no single layer.

Every exception flowsim raises on bad input derives from :class:`FlowsimError`, so a program
can catch them all with one ``except``; each keeps the built-in base users already catch
(``ValueError`` for a bad value, ``KeyError`` for an unknown name, ``OSError`` for a file
that cannot be written, ``RuntimeError`` for Graphviz). This module imports nothing of
flowsim, so every layer may use it.

>>> import flowsim
>>> try:
...     flowsim.parse("stage a\\n")
... except flowsim.FlowsimError as err:
...     print(type(err).__name__)
FlowError
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FlowsimError", "UnknownScenario"]


class FlowsimError(Exception):
    """Base class of every exception flowsim raises on bad input (files, logs, options)."""


class UnknownScenario(FlowsimError, KeyError):
    """A scenario name the process (or a simulation result) does not have.

    A ``KeyError`` too, as before; its text is the message itself, not the quoted repr that a
    plain ``KeyError`` prints.

    Parameters
    ----------
    name : str
        The name asked for.
    known : Iterable[str]
        The scenario names there are, listed in the message.
    where : str
        What was searched, e.g. ``"in this result"`` (empty: the process).
    """

    def __init__(self, name: str, known: Iterable[str], where: str = "") -> None:
        self.name = name
        self.known = tuple(known)
        listed = ", ".join(repr(k) for k in self.known) or "none"
        place = f" {where}" if where else ""
        super().__init__(f"no scenario named {name!r}{place} (known: {listed})")

    def __str__(self) -> str:
        return str(self.args[0])
