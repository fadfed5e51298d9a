"""The options of every command that reads a deal log, and reading it."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import TYPE_CHECKING, Any

import click

from flowsim.cli._common import F, to_hours, why
from flowsim.model import Process

if TYPE_CHECKING:
    pass


@dataclass(frozen=True)
class LogSource:
    """Where and how a command reads its deal log (the options every log command shares)."""

    mapping: str | None
    encoding: str | None
    tz: str
    lenient: bool
    sql: str | None
    db: str | None
    delimiter: str | None
    dayfirst: bool | None
    date_format: str | None
    decimal: str | None
    sheet: str | None
    stages: tuple[str, ...] = ()
    exclude_stages: tuple[str, ...] = ()
    entered_from: str | None = None
    entered_to: str | None = None
    where: tuple[str, ...] = ()
    idle_lost: str | None = None
    quiet: bool = False


_LOG_FIELDS = tuple(LogSource.__dataclass_fields__)


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
        "--from",
        "entered_from",
        help="Keep deals that entered on or after this date (YYYY-MM-DD).",
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
        source = LogSource(**{name: kwargs.pop(name) for name in _LOG_FIELDS})
        return func(*args, source=source, **kwargs)

    for option in reversed(_LOG_OPTIONS):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


#: lines of log problems printed at most (after folding repeats into one line per kind)
_SHOWN_KINDS = 50


def _exit_on_log_error(err: Any) -> None:
    """Print the problems of a :class:`LogError`, one line per kind, then exit 1."""
    from flowsim.history.problems import FILE_LEVEL, fold

    lines = fold(err.problems, err.omitted)
    for line in lines[:_SHOWN_KINDS]:
        click.echo(f"flowsim: {line}", err=True)
    if len(lines) > _SHOWN_KINDS:
        click.echo(f"flowsim: ... and {len(lines) - _SHOWN_KINDS} more kinds of problem", err=True)

    rows = any(q.code not in FILE_LEVEL for q in err.problems)
    tail = " (use --lenient to skip bad rows)" if rows else ""
    click.echo(f"flowsim: the log was not read{tail}", err=True)
    sys.exit(1)


def read_log_or_exit(
    log: str | None,
    source: LogSource,
    check: Callable[[Any, Any], Any] | None = None,
    process: Process | None = None,
    as_of: Any = None,
) -> Any:
    """Read the log (exit 1 with every problem when it cannot be read).

    ``check(deal_log, mapping)`` runs before the skipped rows are listed: a command's own
    checks (``metrics --process``: unknown stages, events after the close), which may refuse
    the log with a ``LogError`` or, lenient, return it with more rows skipped. The idle rule
    (``--idle-lost``, or the ``process``'s ``idle`` outcome) applies last.
    """
    from flowsim.history import LogError, Mapping, read_log

    options: dict[str, Any] = {"tz": source.tz, "lenient": source.lenient}
    if source.encoding:
        options["encoding"] = source.encoding
    if source.delimiter is not None:
        options["delimiter"] = source.delimiter.replace("\\t", "\t")
    if source.dayfirst is not None:
        options["dayfirst"] = source.dayfirst
    if source.date_format is not None:
        options["date_format"] = source.date_format
    if source.decimal is not None:
        options["decimal"] = source.decimal
    if source.sheet is not None:
        options["sheet"] = int(source.sheet) if source.sheet.isdigit() else source.sheet
    if source.mapping:
        mapping = source.mapping
        try:
            options["mapping"] = (
                Mapping.load(mapping) if mapping.endswith(".toml") else Mapping.parse(mapping)
            )
        except LogError as err:  # a malformed mapping is the user's input, like the log
            _exit_on_log_error(err)
        except (ValueError, OSError) as err:
            raise click.BadParameter(why(err), param_hint="--map") from None
    sql, db = source.sql, source.db
    if log is None and sql is None:
        raise click.UsageError("give a log file, or --sql with --db")
    subset = _log_filter(source)
    try:
        if sql is not None:
            deal_log = read_log(log, sql=sql, db=db, **options)
        else:
            deal_log = read_log(log, **options)
        deal_log = _apply_filter(deal_log, subset, quiet=source.quiet)
        if check is not None:
            deal_log = check(deal_log, options.get("mapping"))
    except LogError as err:
        _exit_on_log_error(err)
    except TypeError as err:  # an option this reader does not take (e.g. --encoding for XES)
        raise click.UsageError(str(err)) from None
    if not source.quiet:
        _list_skipped(deal_log.report)
    return _apply_idle(deal_log, source, process, as_of)


def _apply_idle(
    deal_log: Any, source: LogSource, process: Process | None, as_of: Any = None
) -> Any:
    """The idle rule of ``--idle-lost`` or of the process's ``idle`` outcome, with a note.

    With a process, the deals it closes take the process's idle outcome; a process without
    one cannot name where ``--idle-lost`` deals end (a usage error with the fix).
    """
    from flowsim.history.idle import apply_idle_rule

    hours = to_hours(source.idle_lost, "--idle-lost")
    quiet = process.idle_outcome if process is not None else None
    if hours is None and quiet is not None:
        hours = quiet.idle
    if hours is None:
        return deal_log
    if process is not None and quiet is None:
        raise click.UsageError(
            "--idle-lost needs an outcome for the deals that go quiet: add "
            f"`idle {source.idle_lost}` to a lost outcome of {process.name!r}"
        )
    if hours <= 0:
        raise click.BadParameter("an idle time must be greater than 0", param_hint="--idle-lost")
    stage = (quiet.label or quiet.id) if quiet is not None else None
    deal_log, rule = apply_idle_rule(deal_log, hours, stage=stage, as_of=as_of, process=process)
    if not source.quiet:
        click.echo(f"flowsim: note: {rule.note()}", err=True)
    return deal_log


def history_or_none(history: str | None, source: LogSource, process: Process | None = None) -> Any:
    """The ``--history`` log, or None; filters without a history to filter are refused."""
    if history:
        return read_log_or_exit(history, source, process=process)
    rules = (source.where, source.stages, source.exclude_stages)
    if any(rules) or source.entered_from or source.entered_to:
        raise click.UsageError("--where, --from, --to and --stages filter --history: give it")
    if source.idle_lost:
        raise click.UsageError("--idle-lost applies to --history: give it")
    return None


def _split_values(text: str) -> list[str]:
    """``a,b,"c, d"`` -> ``['a', 'b', 'c, d']`` (CSV quoting for values holding a comma)."""
    import csv

    return [v.strip() for v in next(csv.reader([text], skipinitialspace=True), [])]


def _log_filter(source: LogSource) -> Any:
    """The ``LogFilter`` of --stages, --exclude-stages, --from, --to and --where."""
    from flowsim.history.subset import LogFilter, parse_when

    where: dict[str, list[str]] = {}
    where_not: dict[str, list[str]] = {}
    for rule in source.where:
        column, sep, values = rule.partition("=")
        negate = column.endswith("!")
        column = column.removesuffix("!").strip()
        if not sep or not column:
            raise click.BadParameter(
                f"{rule!r}: use COLUMN=VALUE[,VALUE...] or COLUMN!=VALUE", param_hint="--where"
            )
        target = where_not if negate else where
        target.setdefault(column, []).extend(_split_values(values) or [""])
    bounds: dict[str, Any] = {}
    for key, text, hint in (
        ("start", source.entered_from, "--from"),
        ("end", source.entered_to, "--to"),
    ):
        if text is not None:
            try:
                bounds[key] = parse_when(text)
            except ValueError as err:
                raise click.BadParameter(str(err), param_hint=hint) from None
    return LogFilter(
        stages=[v for text in source.stages for v in _split_values(text)],
        exclude_stages=[v for text in source.exclude_stages for v in _split_values(text)],
        where=where,
        where_not=where_not,
        tz=source.tz,
        **bounds,
    )


def _apply_filter(deal_log: Any, subset: Any, *, quiet: bool = False) -> Any:
    """``deal_log`` filtered; what each rule kept goes to stderr (and the metrics header)."""
    from flowsim.history.subset import FilterError, apply_filter

    try:
        deal_log = apply_filter(deal_log, subset)
    except FilterError as err:
        raise click.UsageError(str(err)) from None
    for step in [] if quiet else deal_log.report.filters:
        click.echo(f"flowsim: note: filter {step.line()}", err=True)
    return deal_log


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
