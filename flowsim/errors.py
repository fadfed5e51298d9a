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

__all__ = ["FlowsimError", "InputError", "OptionError", "UnknownScenario", "one_line"]


class FlowsimError(Exception):
    """Base class of every exception flowsim raises on bad input (files, logs, options)."""


class InputError(FlowsimError, ValueError):
    """A value given to flowsim cannot be used: a bad argument, or a log or model that cannot
    answer the question asked (an empty log to discover from, a model without arrivals to
    forecast with, a sweep written wrongly).

    A ``ValueError`` too, so code that caught ``ValueError`` still does; the message is the
    whole explanation (the command line prints it as it is).

    :class:`OptionError` (a bad option) and :class:`~flowsim.model.DurationError` (a duration
    that cannot be read) are the kinds of it with more to say.

    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> try:
    ...     flowsim.simulate(process, replications=0)
    ... except flowsim.InputError as err:
    ...     print(err)
    replications must be at least 1
    """


class OptionError(InputError):
    """An option's value cannot be used: a usage error, not a problem of the input data.

    An :class:`InputError`, so a ``FlowsimError`` and a ``ValueError``.

    Parameters
    ----------
    message : str
        What is wrong, and how to write it instead.
    option : str or None
        The parameter at fault (``"mapping"``, ``"where"``, ``"start"``, ``"end"``,
        ``"idle"``, ``"horizon"``, ``"sweep"``), or None when it is the combination of
        options.
    """

    def __init__(self, message: str, option: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.option = option


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


def one_line(err: Exception) -> str:
    """The reason of ``err`` in one line: for pydantic validation errors, where and what.

    >>> one_line(ValueError("no such column\\nsecond line"))
    'no such column'
    """
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
