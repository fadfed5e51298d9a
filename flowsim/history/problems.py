"""Problems found while importing a deal log, and the error that carries them.

Every problem names where it is (source, row, column) and what was there, so a user can open
the file and fix it. Strict imports raise :class:`LogError` with all problems found in one
pass; lenient imports keep them as counted warnings in the :class:`ImportReport`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from flowsim.errors import FlowsimError

Severity = Literal["error", "warning", "info"]

#: problem codes, one per kind of bad data (stable: tests and tools match on them)
MISSING_COLUMN = "missing-column"
UNKNOWN_COLUMN = "unknown-column"
BAD_MAPPING = "bad-mapping"
BAD_ENCODING = "bad-encoding"
BAD_CSV = "bad-csv"
BAD_XML = "bad-xml"
EMPTY_FILE = "empty-file"
BAD_TIMEZONE = "bad-timezone"
BAD_DATE = "bad-date"
MISSING_DATE = "missing-date"
AMBIGUOUS_DATE_ORDER = "ambiguous-date-order"
UNREADABLE_DATE_COLUMN = "unreadable-date-column"
AMBIGUOUS_DECIMAL = "ambiguous-decimal"
EMPTY_DEAL = "empty-deal"
EMPTY_STAGE = "empty-stage"
BAD_AMOUNT = "bad-amount"
DUPLICATE_EVENT = "duplicate-event"
NEGATIVE_DURATION = "negative-duration"
UNCHANGED_STAGE = "unchanged-stage"
UNPAIRED_START = "unpaired-start"
UNPAIRED_SCHEDULE = "unpaired-schedule"
UNPAIRED_COMPLETE = "unpaired-complete"
UNSUPPORTED_LIFECYCLE = "unsupported-lifecycle"
EVENT_OUTSIDE_TRACE = "event-outside-trace"
DEAL_WITHOUT_EVENTS = "deal-without-events"
DUPLICATE_DEAL = "duplicate-deal"
EVENT_AFTER_CLOSE = "event-after-close"
CLOSE_WITHOUT_OUTCOME = "close-without-outcome"
OWNER_WITHOUT_ROLE = "owner-without-role"
BAD_EXCEL = "bad-excel"
BAD_PARQUET = "bad-parquet"
BAD_DATABASE = "bad-database"
BAD_QUERY = "bad-query"
UNKNOWN_FORMAT = "unknown-format"
MIXED_TIMEZONE = "mixed-timezone"
UNKNOWN_STAGE = "unknown-stage"
BAD_JOIN = "bad-join"
JOINED = "joined"
JOIN_WITHOUT_DEAL = "join-without-deal"

#: problems about the whole input (not one row): ``--lenient`` cannot skip past them
FILE_LEVEL = frozenset(
    {
        MISSING_COLUMN,
        UNKNOWN_COLUMN,
        BAD_MAPPING,
        BAD_ENCODING,
        BAD_CSV,
        BAD_XML,
        EMPTY_FILE,
        BAD_TIMEZONE,
        UNSUPPORTED_LIFECYCLE,
        BAD_EXCEL,
        BAD_PARQUET,
        BAD_DATABASE,
        BAD_QUERY,
        UNKNOWN_FORMAT,
        BAD_JOIN,
        AMBIGUOUS_DECIMAL,
    }
)


class LogProblem(BaseModel):
    """One finding about the input, located as precisely as the input allows."""

    model_config = ConfigDict(frozen=True)

    code: str
    severity: Severity = "error"
    message: str
    source: str | None = None
    row: int | None = None
    column: str | None = None
    value: str | None = None
    hint: str | None = None

    def __str__(self) -> str:
        where = self.source or "<input>"
        if self.row is not None:
            where += f":{self.row}"
        text = f"{where}: "
        if self.column is not None:
            text += f"column '{self.column}': "
        text += self.message
        if self.value is not None:
            text += f" '{self.value}'"
        if self.hint:
            text += f" (hint: {self.hint})"
        return text


class LogError(FlowsimError):
    """A log could not be imported; ``problems`` holds every error found (strict mode)."""

    #: at most this many problems are spelled out in ``str(error)``
    SHOWN = 20

    def __init__(
        self, problems: list[LogProblem], omitted: Mapping[str, int] | None = None
    ) -> None:
        self.problems = problems
        #: problems found but not listed (a cap per code), by code
        self.omitted: dict[str, int] = {k: v for k, v in (omitted or {}).items() if v}
        super().__init__(self._text())

    @classmethod
    def of(cls, code: str, source: str, message: str, **extra: Any) -> LogError:
        """An error of one problem (a file-level refusal): ``LogProblem`` fields as keywords."""
        return cls([LogProblem(code=code, source=source, message=message, **extra)])

    def _text(self) -> str:
        lines = [str(p) for p in self.problems[: self.SHOWN]]
        rest = len(self.problems) - self.SHOWN + sum(self.omitted.values())
        if rest > 0:
            lines.append(f"... and {rest} more problem(s)")
        return "\n".join(lines) if lines else "the log could not be imported"


#: rows named as examples in a folded line
EXAMPLES = 3


def fold(
    problems: Sequence[LogProblem],
    omitted: Mapping[str, int] | None = None,
    examples: int = EXAMPLES,
) -> list[str]:
    """The problems as lines, one per kind: repeated problems folded into a count.

    Problems of one kind (code, severity, source, column, message and hint alike) become one
    line: the message, how many rows, and the first ``examples`` rows with their values. A
    kind of one problem, or a problem without a row, is its own ``str``. ``omitted`` counts,
    per code, problems found but not listed (the report's cap per code): added to the kind's
    count when the code has one kind, else said on a line of its own.
    """
    groups: dict[tuple[Any, ...], list[LogProblem]] = {}
    for i, q in enumerate(problems):
        key = (q.code, q.severity, q.source, q.column, q.message, q.hint)
        groups.setdefault(key if q.row is not None else (i,), []).append(q)
    kinds: dict[str, int] = {}
    for group in groups.values():
        kinds[group[0].code] = kinds.get(group[0].code, 0) + 1
    more = dict(omitted or {})
    lines = []
    for group in groups.values():
        first = group[0]
        extra = more.pop(first.code, 0) if kinds[first.code] == 1 else 0
        lines.append(_folded(group, len(group) + extra, examples))
    for code, n in more.items():
        if n > 0:
            lines.append(f"... and {n:,} more '{code}' problem(s), not listed")
    return lines


def _folded(group: list[LogProblem], count: int, examples: int) -> str:
    """One line for ``count`` problems of one kind, ``group`` the listed ones."""
    first = group[0]
    if count == 1:
        return str(first)
    text = f"{first.source or '<input>'}: "
    if first.column is not None:
        text += f"column '{first.column}': "
    shown = []
    for q in group[:examples]:
        shown.append(f"row {q.row}" + (f" '{q.value}'" if q.value is not None else ""))
    text += f"{first.message}: {count:,} rows, e.g. " + ", ".join(shown)
    if first.hint:
        text += f" (hint: {first.hint})"
    return text
