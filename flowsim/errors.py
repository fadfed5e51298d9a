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
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "FlowsimError",
    "InputError",
    "ModelError",
    "OptionError",
    "UnknownScenario",
    "one_line",
]


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


#: At most this many problems are spelled out in a :class:`ModelError`'s message.
_MODEL_PROBLEMS_SHOWN = 5


def _location(loc: tuple[int | str, ...]) -> str:
    """A pydantic error location as a field path: ``("stages", 0, "id")`` → ``stages.0.id``."""
    return ".".join(str(part) for part in loc) or "(top level)"


class ModelError(InputError):
    """A flowsim model (``flowsim.Calendar(...)``, ``Process.model_validate(...)``, any public
    pydantic model of flowsim) was given values it does not take.

    Raised instead of pydantic's ``ValidationError`` by every flowsim model's constructor,
    ``model_validate``, ``model_validate_json``, ``model_validate_strings`` and attribute
    assignment, so ``except flowsim.FlowsimError`` catches it; an :class:`InputError`, so a
    ``ValueError`` as pydantic's error was. The message names each field path and its problem;
    :meth:`errors` is pydantic's structured list, unchanged.

    Parameters
    ----------
    title : str
        The model's name (``"Calendar"``).
    errors : list of dict
        Pydantic's ``ValidationError.errors()``: one dict per problem, with ``loc``, ``msg``,
        ``type``, ``input`` and (for a validator's refusal) ``ctx``.

    Examples
    --------
    >>> import flowsim
    >>> try:
    ...     flowsim.Calendar(days="sometimes", windows=())
    ... except flowsim.FlowsimError as err:
    ...     print(err)
    ...     print(err.errors()[0]["loc"])
    Calendar: days: Input should be a valid tuple
    ('days',)
    """

    def __init__(self, title: str, errors: list[Any]) -> None:
        self.title = title
        self._errors = errors
        lines = [
            f"{_location(e['loc'])}: {e['msg']}" if e["loc"] else str(e["msg"])
            for e in errors[:_MODEL_PROBLEMS_SHOWN]
        ]
        more = len(errors) - _MODEL_PROBLEMS_SHOWN
        if more > 0:
            lines.append(f"and {more} more")
        super().__init__(f"{title}: " + "; ".join(lines))

    @classmethod
    def of(cls, err: ValidationError) -> ModelError:
        """The flowsim error for pydantic's ``err``.

        Parameters
        ----------
        err : pydantic.ValidationError
            What pydantic raised.

        Returns
        -------
        ModelError
            Same model name and problems.
        """
        return cls(err.title, list(err.errors()))

    def errors(self) -> list[Any]:
        """Pydantic's structured problems: one dict per problem (``loc``, ``msg``, ``type``, …).

        Returns
        -------
        list of dict
            As ``pydantic.ValidationError.errors()`` returned them.
        """
        return list(self._errors)

    def error_count(self) -> int:
        """How many problems there are.

        Returns
        -------
        int
            ``len(self.errors())``.
        """
        return len(self._errors)


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
    """The reason of ``err`` in one line: for model validation errors, where and what.

    >>> one_line(ValueError("no such column\\nsecond line"))
    'no such column'
    """
    from pydantic import ValidationError

    if isinstance(err, ValidationError | ModelError):
        first = err.errors()[0]
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        return f"{_location(first['loc'])}: {first['msg']}{more}"
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__
