"""Diagnostics: what flowsim tells a user about their input, and where.

A diagnostic is the unit of feedback everywhere in flowsim: syntax errors, unknown names,
probabilities that do not add up, stages nobody owns. Each one has a stable code (so tools and
docs can refer to it), a severity, a source span and, when we can guess the fix, a hint.

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

from pydantic import BaseModel, ConfigDict

from flowsim.errors import FlowsimError

__all__ = [
    "Diagnostic",
    "FlowError",
    "Severity",
    "Span",
    "display_width",
    "format_diagnostic",
    "format_diagnostics",
]


class Severity(enum.StrEnum):
    """How bad a finding is: errors stop the pipeline, warnings do not (unless ``--strict``)."""

    ERROR = "error"
    WARNING = "warning"


class Span(BaseModel):
    """A region of a source file. Lines and columns are 1-based; columns count characters."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class Diagnostic(BaseModel):
    """One finding about the input, with a stable ``code`` (see docs/language.md)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    severity: Severity
    message: str
    span: Span | None = None
    hint: str | None = None

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.severity.value}[{self.code}]: {self.message}"


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
    """One diagnostic as compiler-style text; with the source at hand, an excerpt and caret."""
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
