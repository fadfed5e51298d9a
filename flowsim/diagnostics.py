"""Diagnostics: what flowsim tells a user about their input, and where.

A diagnostic is the unit of feedback everywhere in flowsim: syntax errors, unknown names,
probabilities that do not add up, stages nobody owns, dates that do not read in a deal log.
Each one has a stable code (so tools and docs can refer to it: ``E``/``W`` codes for the
language, listed in docs/language.md; ``H`` codes for deal history, listed in docs/history.md),
a severity, a place and, when we can guess the fix, a hint. The place is a :class:`Span` of a
``.flow`` file (file, line, column) or a :class:`LogPosition` in a deal log (file, row, column).

The text form imitates a good compiler::

    sales.flow:12:9: error[E104]: unknown role 'reps' (did you mean 'rep'?)
       |
    12 |   owner reps
       |         ^^^^
       = hint: roles are declared with `role <id> ...`

Columns count characters, not bytes, so a Chinese label advances the column by one; the caret
line is padded by display width so it still points at the right place in a terminal.
"""

from __future__ import annotations

import enum
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from pydantic import (
    ConfigDict,
    SerializerFunctionWrapHandler,
    model_serializer,
    model_validator,
)

from flowsim._base import FlowsimModel
from flowsim.errors import FlowsimError

__all__ = [
    "Diagnostic",
    "FlowError",
    "LogPosition",
    "Severity",
    "Span",
    "display_width",
    "format_diagnostic",
    "format_diagnostics",
]


class Severity(enum.StrEnum):
    """How bad a finding is: errors stop the pipeline, warnings do not (unless ``--strict``).

    ``INFO`` is a note that is no problem at all (a deal log: which file was joined on which
    key). A member equals its text: ``Severity.WARNING == "warning"``.
    """

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


#: a severity as text, as deal-history code writes it
SeverityName = Literal["error", "warning", "info"]


class Span(FlowsimModel):
    """A region of a source file. Lines and columns are 1-based; columns count characters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class LogPosition(FlowsimModel):
    """A place in a deal log, as precisely as the input allows.

    ``file`` is the file's name (or the table, the query); ``row`` is 1-based as a spreadsheet
    shows it (header = 1; XES: the event's number, or the XML line); ``column`` is the
    column's name. Each is None when unknown or when the finding is about the whole input.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str | None = None
    row: int | None = None
    column: str | None = None

    def __str__(self) -> str:
        where = self.file or "<input>"
        return f"{where}:{self.row}" if self.row is not None else where


class Diagnostic(FlowsimModel):
    """One finding about the input: a stable ``code``, a severity, a message and a place.

    A finding about a ``.flow`` file has a ``span``; one about a deal log a ``position`` (never
    both), a ``name`` (its kind in words, e.g. ``bad-date``: the skip reason of its rows) and
    often the ``value`` that was there. Codes: docs/language.md (E, W), docs/history.md (H).

    Examples
    --------
    >>> from flowsim.diagnostics import Diagnostic, LogPosition
    >>> bad = Diagnostic(code="H202", name="bad-date", severity="error",
    ...                  message="not a date in the column's format", value="yesterday",
    ...                  position=LogPosition(file="deals.csv", row=4, column="entered"))
    >>> print(bad)
    deals.csv:4: column 'entered': not a date in the column's format 'yesterday'
    >>> bad.row, bad.column, bad.is_error
    (4, 'entered', True)
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity
    message: str
    span: Span | None = None
    position: LogPosition | None = None
    name: str | None = None
    value: str | None = None
    hint: str | None = None

    @model_validator(mode="after")
    def _one_place(self) -> Diagnostic:
        if self.span is not None and self.position is not None:
            raise ValueError("a diagnostic has a span (.flow) or a log position, not both")
        return self

    @model_serializer(mode="wrap")
    def _dump(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """The fields, without the deal-log ones when they are empty (``.flow`` findings)."""
        data: dict[str, Any] = handler(self)
        for key in ("position", "name", "value"):
            if data.get(key) is None:
                data.pop(key, None)
        return data

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def source(self) -> str | None:
        """The file (or table, query) the finding is about, if known."""
        if self.position is not None:
            return self.position.file
        return self.span.file if self.span is not None else None

    @property
    def row(self) -> int | None:
        """The deal log's row (1-based, header = 1), if the finding is about one."""
        return self.position.row if self.position is not None else None

    @property
    def column(self) -> str | None:
        """The deal log's column name, if the finding is about one."""
        return self.position.column if self.position is not None else None

    def __str__(self) -> str:
        if self.position is not None:
            return self._log_text()
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.severity.value}[{self.code}]: {self.message}"

    def _log_text(self) -> str:
        """A deal-log finding as one line: ``file:row: column 'c': message 'value' (hint)``."""
        text = f"{self.position}: "
        if self.column is not None:
            text += f"column '{self.column}': "
        text += self.message
        if self.value is not None:
            text += f" '{self.value}'"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class FlowError(FlowsimError):
    """Raised when input cannot be turned into a valid model; carries every diagnostic found.

    Catch it to show users what went wrong::

        try:
            process = flowsim.load("sales.flow")
        except flowsim.FlowError as err:
            print(err.render())
    """

    def __init__(self, diagnostics: Sequence[Diagnostic], sources: dict[str, str] | None = None):
        self.diagnostics = list(diagnostics)
        self.sources = dict(sources or {})
        first = next((d for d in self.diagnostics if d.is_error), None)
        errors = sum(d.is_error for d in self.diagnostics)
        summary = str(first) if first else "invalid input"
        if errors > 1:
            summary += f" (and {errors - 1} more error{'s' if errors > 2 else ''})"
        super().__init__(summary)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    def render(self) -> str:
        """The full compiler-style text of every diagnostic, with source excerpts."""
        return format_diagnostics(self.diagnostics, self.sources)


def display_width(text: str) -> int:
    """Terminal columns taken by ``text``: East Asian wide and full-width characters take two."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def _excerpt(span: Span, source: str) -> list[str]:
    # Lines end at "\n" only, as the lexer counts them: str.splitlines would also break at
    # "\r", form feeds, U+2028 and others, and show the wrong line. Splitting on "\n" keeps
    # the empty last line of a file ending in a newline, where "unexpected end of file" points.
    lines = source.split("\n")
    if not 1 <= span.line <= len(lines):
        return []
    text = lines[span.line - 1].removesuffix("\r").replace("\t", " ")
    if len(text) > 200:  # keep excerpts of minified or binary-ish lines readable
        start = max(0, span.column - 80)
        text = text[start : start + 160]
        col = span.column - start
    else:
        col = span.column
    col = max(1, min(col, len(text) + 1))
    end = span.end_column if span.end_line == span.line else len(text) + 1
    end = max(col + 1, min(end - (span.column - col), len(text) + 1))
    gutter = str(span.line)
    pad = " " * len(gutter)
    printable = "".join(ch if ch.isprintable() else "\ufffd" for ch in text)
    caret_pad = " " * display_width(printable[: col - 1])
    carets = "^" * max(1, display_width(printable[col - 1 : end - 1]))
    return [f"{pad} |", f"{gutter} | {printable}", f"{pad} | {caret_pad}{carets}"]


def format_diagnostic(diag: Diagnostic, sources: dict[str, str] | None = None) -> str:
    """One diagnostic as compiler-style text; with the source at hand, an excerpt and caret.

    A deal-log diagnostic is its one line (its hint in brackets), as the CLI prints it.
    """
    if diag.position is not None:
        return str(diag)
    out = [str(diag)]
    pad = "  "
    if diag.span is not None and sources and diag.span.file in sources:
        excerpt = _excerpt(diag.span, sources[diag.span.file])
        out.extend(excerpt)
        if excerpt:
            pad = " " * (len(str(diag.span.line)) + 1)
    if diag.hint:
        out.append(f"{pad}= hint: {diag.hint}")
    return "\n".join(out)


def format_diagnostics(diags: Iterable[Diagnostic], sources: dict[str, str] | None = None) -> str:
    return "\n\n".join(format_diagnostic(d, sources) for d in diags)
