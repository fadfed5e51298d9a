"""Problems found while importing a deal log, and the error that carries them.

A problem is a :class:`~flowsim.diagnostics.Diagnostic`, the type of every finding of
flowsim, located at a :class:`~flowsim.diagnostics.LogPosition` (source, row, column) with what
was there, so a user can open the file and fix it. Each kind has a name (``bad-date``: the
skip reason of its rows) and a stable code in the ``H`` range (``H202``), listed in
docs/history.md beside the language's ``E``/``W`` codes (docs/language.md):

- ``H0xx`` the source: formats, files, encodings, connections;
- ``H1xx`` columns, the mapping and joins;
- ``H2xx`` values: dates, time zones, amounts, empty ids;
- ``H3xx`` events and their order;
- ``H4xx`` deals: the wide shape's checks and the funnel's;
- ``H5xx`` customer feedback (:mod:`flowsim.history.feedback`): scores, scales, touchpoints.

Strict imports raise :class:`LogError` with all problems found in one pass; lenient imports
keep them as counted warnings in the :class:`ImportReport`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowsim.diagnostics import Diagnostic, LogPosition, Severity, SeverityName
from flowsim.errors import FlowsimError

#: problem kinds by name, one per kind of bad data (stable: tests and tools match on them)
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
BAD_SCORE = "bad-score"
SCORE_OUT_OF_SCALE = "score-out-of-scale"
AMBIGUOUS_SCALE = "ambiguous-scale"
EMPTY_SCORE = "empty-score"
EMPTY_TOUCHPOINT = "empty-touchpoint"
UNKNOWN_TOUCHPOINT = "unknown-touchpoint"

#: the stable code of each kind (docs/history.md lists them): never renumber, only add
CODES: dict[str, str] = {
    # H0xx: the source
    UNKNOWN_FORMAT: "H001",
    EMPTY_FILE: "H002",
    BAD_ENCODING: "H003",
    BAD_CSV: "H004",
    BAD_XML: "H005",
    BAD_EXCEL: "H006",
    BAD_PARQUET: "H007",
    BAD_DATABASE: "H008",
    BAD_QUERY: "H009",
    # H1xx: columns, mapping, joins
    MISSING_COLUMN: "H101",
    UNKNOWN_COLUMN: "H102",
    BAD_MAPPING: "H103",
    BAD_JOIN: "H104",
    JOIN_WITHOUT_DEAL: "H105",
    JOINED: "H106",
    # H2xx: values
    BAD_TIMEZONE: "H201",
    BAD_DATE: "H202",
    MISSING_DATE: "H203",
    AMBIGUOUS_DATE_ORDER: "H204",
    UNREADABLE_DATE_COLUMN: "H205",
    MIXED_TIMEZONE: "H206",
    BAD_AMOUNT: "H207",
    AMBIGUOUS_DECIMAL: "H208",
    EMPTY_DEAL: "H209",
    EMPTY_STAGE: "H210",
    # H3xx: events and their order
    DUPLICATE_EVENT: "H301",
    NEGATIVE_DURATION: "H302",
    UNCHANGED_STAGE: "H303",
    UNPAIRED_START: "H304",
    UNPAIRED_SCHEDULE: "H305",
    UNPAIRED_COMPLETE: "H306",
    UNSUPPORTED_LIFECYCLE: "H307",
    EVENT_OUTSIDE_TRACE: "H308",
    # H4xx: deals
    DEAL_WITHOUT_EVENTS: "H401",
    DUPLICATE_DEAL: "H402",
    EVENT_AFTER_CLOSE: "H403",
    CLOSE_WITHOUT_OUTCOME: "H404",
    OWNER_WITHOUT_ROLE: "H405",
    UNKNOWN_STAGE: "H406",
    # H5xx: customer feedback
    BAD_SCORE: "H501",
    SCORE_OUT_OF_SCALE: "H502",
    AMBIGUOUS_SCALE: "H503",
    EMPTY_SCORE: "H504",
    EMPTY_TOUCHPOINT: "H505",
    UNKNOWN_TOUCHPOINT: "H506",
}

#: the kind's name of each code
NAMES: dict[str, str] = {code: name for name, code in CODES.items()}

#: codes of problems about the whole input (not one row): ``--lenient`` cannot skip past them
FILE_LEVEL = frozenset(
    CODES[name]
    for name in {
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
        AMBIGUOUS_SCALE,
    }
)


def problem(
    *,
    kind: str,
    message: str,
    severity: Severity | SeverityName = "error",
    source: str | None = None,
    row: int | None = None,
    column: str | None = None,
    value: str | None = None,
    hint: str | None = None,
) -> Diagnostic:
    """A deal-log problem: the :class:`Diagnostic` of one finding, with its kind's code.

    Parameters
    ----------
    kind : str
        The kind's name, one of the constants above (``BAD_DATE``): its code is ``CODES[kind]``.
    message : str
        What is wrong, without the place or the value (they are added when shown).
    severity : Severity or str, default "error"
        ``"error"``, ``"warning"`` (kept or skipped, never refused) or ``"info"`` (a note).
    source, row, column : str, int, str, optional
        Where: the file (table, query), the 1-based row (header = 1), the column's name.
    value : str, optional
        The text that was there.
    hint : str, optional
        How to fix it.

    Returns
    -------
    Diagnostic
        Located at a :class:`LogPosition` (even an empty one: the whole input).

    Raises
    ------
    KeyError
        ``kind`` is no known kind (a bug of flowsim, not of the input).

    Examples
    --------
    >>> q = problem(kind=BAD_DATE, message="not a date", source="deals.csv", row=3,
    ...             column="entered_at", value="yesterday")
    >>> q.code, q.name, str(q)
    ('H202', 'bad-date', "deals.csv:3: column 'entered_at': not a date 'yesterday'")
    """
    return Diagnostic(
        code=CODES[kind],
        name=kind,
        severity=Severity(severity),
        message=message,
        position=LogPosition(file=source, row=row, column=column),
        value=value,
        hint=hint,
    )


class LogError(FlowsimError):
    """A log could not be imported; ``problems`` holds every error found (strict mode)."""

    #: at most this many problems are spelled out in ``str(error)``
    SHOWN = 20

    def __init__(
        self, problems: list[Diagnostic], omitted: Mapping[str, int] | None = None
    ) -> None:
        self.problems = problems
        #: problems found but not listed (a cap per code), by code
        self.omitted: dict[str, int] = {k: v for k, v in (omitted or {}).items() if v}
        super().__init__(self._text())

    @classmethod
    def of(cls, kind: str, source: str, message: str, **extra: Any) -> LogError:
        """An error of one problem (a file-level refusal): :func:`problem`'s keywords."""
        return cls([problem(kind=kind, source=source, message=message, **extra)])

    def _text(self) -> str:
        lines = [str(p) for p in self.problems[: self.SHOWN]]
        rest = len(self.problems) - self.SHOWN + sum(self.omitted.values())
        if rest > 0:
            lines.append(f"... and {rest} more problem(s)")
        return "\n".join(lines) if lines else "the log could not be imported"


#: rows named as examples in a folded line
EXAMPLES = 3


def fold(
    problems: Sequence[Diagnostic],
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
    groups: dict[tuple[Any, ...], list[Diagnostic]] = {}
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
            lines.append(f"... and {n:,} more '{NAMES.get(code, code)}' problem(s), not listed")
    return lines


def _folded(group: list[Diagnostic], count: int, examples: int) -> str:
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
