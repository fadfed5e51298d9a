"""The options of every command that reads a deal log, and reading it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from flowsim.cli._common import F, usage_error
from flowsim.errors import OptionError
from flowsim.model import Process

if TYPE_CHECKING:
    from flowsim.history.options import ReadOptions


#: the options of ``ReadOptions`` (the reader's), and of the filters (``parse_filter``'s)
_READ_FIELDS = (
    "mapping", "encoding", "tz", "lenient", "sql", "db", "delimiter", "dayfirst", "date_format",
    "decimal", "sheet",
)  # fmt: skip
#: (simulate has its own --start: --from and --to keep their own names until parse_filter)
_FILTER_FIELDS = {
    "stages": "stages",
    "exclude_stages": "exclude_stages",
    "entered_from": "start",
    "entered_to": "end",
    "where": "where",
}


@dataclass(frozen=True)
class LogSource:
    """How a command reads its deal log: the reader's options, the filters, the idle rule.

    Parameters
    ----------
    options : ReadOptions
        The reader's options (``--map``, ``--tz``, ``--sql``, ...).
    filters : dict
        :func:`~flowsim.history.options.parse_filter`'s keywords (``--stages``, ``--where``,
        ``--from``, ...), as given.
    idle_lost : str or None
        ``--idle-lost``.
    quiet : bool
        ``-q``: no notes on stderr.
    """

    options: ReadOptions
    filters: dict[str, Any]
    idle_lost: str | None = None
    quiet: bool = False

    @property
    def tz(self) -> str:
        """``--tz``: the time zone of naive timestamps."""
        return self.options.tz


#: the options of every command that reads a deal log (a decorator makes new ones each use)
_LOG_OPTIONS = [
    click.option(
        "--map",
        "mapping",
        help="Column mapping: 'deal=opportunity_id,stage=StageName' or a mapping .toml file.",
    ),
    click.option("--encoding", help="Force the text encoding (default: UTF-8, else GB18030)."),
    click.option("--tz", default="UTC", show_default=True, help="Time zone of naive timestamps."),
    click.option(
        "--lenient", is_flag=True, help="Skip bad rows (counted and listed) instead of failing."
    ),
    click.option("--sql", help="Read the log with this SQL query (with --db)."),
    click.option("--db", help="Database URL for --sql: sqlite:///deals.db or postgresql://..."),
    click.option("--delimiter", help="Field delimiter of a CSV (default: sniffed)."),
    click.option(
        "--dayfirst/--monthfirst",
        default=None,
        help="Read ambiguous slashed or dotted dates as DD/MM/YYYY (or MM/DD/YYYY).",
    ),
    click.option(
        "--date-format",
        "date_format",
        metavar="PATTERN",
        help="Read every time column with this strftime pattern, e.g. '%d-%b-%Y %H:%M' "
        "(default: detected per column).",
    ),
    click.option(
        "--decimal",
        type=click.Choice(["comma", "point"]),
        help="The amounts' decimal separator: comma (1.234,56) or point (1,234.56) "
        "(default: decided per column).",
    ),
    click.option("--sheet", help="The sheet of an .xlsx workbook: a name or a 0-based index."),
    click.option(
        "--stages",
        multiple=True,
        help="Keep only records of these stages: names or globs, comma-separated ('A_*').",
    ),
    click.option(
        "--exclude-stages",
        "exclude_stages",
        multiple=True,
        help="Drop the records of these stages: names or globs, comma-separated.",
    ),
    click.option(
        "--from", "entered_from", help="Keep deals that entered on or after this date (YYYY-MM-DD)."
    ),
    click.option("--to", "entered_to", help="Keep deals that entered on or before this date."),
    click.option(
        "--where",
        multiple=True,
        help="Keep deals whose COLUMN (any column of the source) is one of the values: "
        "'product=GTXPro,GTK 500'; 'COLUMN!=VALUES' drops them. Repeatable (all must hold).",
    ),
    click.option(
        "--idle-lost",
        "idle_lost",
        metavar="DURATION",
        help="A deal open with no activity for this long is lost: 90d, 12w (the idle rule; "
        "a process's `idle` outcome states it too).",
    ),
    click.option(
        "-q",
        "--quiet",
        is_flag=True,
        help="No warnings, notes or progress on stderr (errors are still printed).",
    ),
]


def log_options(func: F) -> F:
    """The options of every command that reads a deal log, handed over as ``source``."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from flowsim.history.options import ReadOptions

        read = {name: kwargs.pop(name) for name in _READ_FIELDS}
        options = ReadOptions(**{**read, "mapping": read["mapping"] or None})
        filters = {key: kwargs.pop(name) for name, key in _FILTER_FIELDS.items()}
        source = LogSource(options, filters, kwargs.pop("idle_lost"), kwargs.pop("quiet"))
        return func(*args, source=source, **kwargs)

    for option in reversed(_LOG_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


#: lines of log problems printed at most (after folding repeats into one line per kind)
_SHOWN_KINDS = 50


def _exit_on_log_error(err: Any, what: str = "the log") -> None:
    """Print the problems of a :class:`LogError`, one line per kind, then exit 1."""
    from flowsim.history.problems import FILE_LEVEL, fold

    lines = fold(err.problems, err.omitted)
    for line in lines[:_SHOWN_KINDS]:
        click.echo(f"flowsim: {line}", err=True)
    if len(lines) > _SHOWN_KINDS:
        click.echo(f"flowsim: ... and {len(lines) - _SHOWN_KINDS} more kinds of problem", err=True)

    rows = any(q.code not in FILE_LEVEL for q in err.problems)
    tail = " (use --lenient to skip bad rows)" if rows else ""
    click.echo(f"flowsim: {what} was not read{tail}", err=True)
    sys.exit(1)


def read_log_or_exit(
    log: str | None,
    source: LogSource,
    *,
    funnel: bool = False,
    process: Process | None = None,
    as_of: Any = None,
) -> Any:
    """Read the log as :func:`flowsim.history.load.load_history` does, printing what each
    step did (filters, skipped rows, the idle rule) unless quiet; exit 1 with every problem
    when it cannot be read, 2 for an option that cannot be used.

    ``funnel`` applies the funnel's checks (``metrics``: stages the ``process`` names, no
    record after a close); the idle rule is ``--idle-lost``'s or the ``process``'s.
    """
    from flowsim.history.load import load_history
    from flowsim.history.options import parse_filter

    with log_errors():
        options = replace(source.options, mapping=source.options.resolved_mapping())
        if log is None and options.sql is None:
            raise click.UsageError("give a log file, or --sql with --db")
        subset = parse_filter(**source.filters, tz=source.tz)
        return load_history(
            log,
            options,
            subset=subset,
            funnel=funnel,
            process=process,
            idle=source.idle_lost,
            as_of=as_of,
            on_step=None if source.quiet else _print_step,
        )


@contextmanager
def log_errors(what: str = "the log") -> Iterator[None]:
    """A log that cannot be read exits 1 with its problems; a bad option or filter exits 2."""
    from flowsim.history import FilterError, LogError

    try:
        yield
    except LogError as err:  # the log's problems, or a malformed mapping's
        _exit_on_log_error(err, what)
    except OptionError as err:
        raise usage_error(err) from None
    except FilterError as err:  # a column, stage or value the log does not have
        raise click.UsageError(str(err)) from None
    except TypeError as err:  # an option this reader does not take (e.g. --encoding for XES)
        raise click.UsageError(str(err)) from None


def _print_step(step: str, deal_log: Any) -> None:
    """What a step of the reading did, on stderr: filters kept, rows skipped, the idle rule."""
    report = deal_log.report
    if step == "filtered":
        for done in report.filters:
            click.echo(f"flowsim: note: filter {done.line()}", err=True)
    elif step == "checked":
        _list_skipped(report)
    elif step == "idle":
        click.echo(f"flowsim: note: {report.notes[-1]}", err=True)


def history_or_none(history: str | None, source: LogSource, process: Process | None = None) -> Any:
    """The ``--history`` log, or None; filters without a history to filter are refused."""
    if history:
        return read_log_or_exit(history, source, process=process)
    if any(source.filters.values()):
        raise click.UsageError("--where, --from, --to and --stages filter --history: give it")
    if source.idle_lost:
        raise click.UsageError("--idle-lost applies to --history: give it")
    return None


def _list_skipped(report: Any) -> None:
    """The import's warnings and row notes, one line per kind: message, rows, examples.

    Skipped rows are also counted by reason in a command's output header; warnings about
    rows that were kept (e.g. XES completes without a start) are counted on their line only.
    """
    from flowsim.history.problems import fold

    shown = [q for q in report.problems if q.severity == "warning" or q.row is not None]
    notes = {q.code for q in shown if q.severity == "info"}
    for kind in ("warning", "info"):
        problems = sorted(
            (q for q in shown if q.severity == kind), key=lambda q: (q.row is not None, q.row or 0)
        )
        # a code is listed (up to 200 problems) before any of it is omitted
        more = {c: n for c, n in report.omitted_by_code.items() if (c in notes) is (kind == "info")}
        label = "warning" if kind == "warning" else "note"
        for line in fold(problems, more)[:_SHOWN_KINDS]:
            click.echo(f"flowsim: {label}: {line}", err=True)
