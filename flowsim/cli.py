"""The ``flowsim`` command: a thin layer over the Python API.

Exit codes: 0 ok, 1 problems in the user's input (or findings), 2 usage errors, 3 internal
errors (a bug: please report it; set FLOWSIM_DEBUG=1 for the traceback).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import click

from flowsim import __version__
from flowsim._extras import MissingExtra, missing
from flowsim._output import OutputError, open_output, write_output
from flowsim.api import CheckResult, check_file, check_text
from flowsim.diagnostics import format_diagnostics
from flowsim.language import process_language
from flowsim.model import DurationError, Process, parse_duration

if TYPE_CHECKING:
    import datetime

#: what ``--objective`` ranks the what-ifs by (flowsim.sim.bottlenecks.OBJECTIVES)
OBJECTIVE_CHOICES = ("revenue", "won", "win-rate", "cycle")

F = TypeVar("F", bound=Callable[..., Any])


def _guard(func: F) -> F:
    """Turn unexpected exceptions into a one-line message instead of a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except (click.exceptions.Exit, click.ClickException, click.Abort, SystemExit):
            raise
        except MissingExtra as err:
            click.echo(f"flowsim: {err}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)
        except (OutputError, DurationError) as err:  # -o a directory..., a bad duration
            click.echo(f"flowsim: {err}", err=True)
            sys.exit(2)
        except BrokenPipeError:
            # The reader (e.g. `| head`) went away: stop quietly, as Unix tools do.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        except Exception as err:  # pragma: no cover - only reached through bugs
            if os.environ.get("FLOWSIM_DEBUG"):
                raise
            click.echo(
                f"flowsim: internal error: {type(err).__name__}: {err}\n"
                "This is a bug in flowsim; rerun with FLOWSIM_DEBUG=1 for details.",
                err=True,
            )
            sys.exit(3)

    return wrapper  # type: ignore[return-value]


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


def _log_options(func: F) -> F:
    """The options of every command that reads a deal log, handed over as ``source``."""
    options = [
        click.option(
            "--map",
            "mapping",
            help="Column mapping: 'deal=opportunity_id,stage=StageName' or a mapping .toml file.",
        ),
        click.option("--encoding", help="Force the text encoding (default: UTF-8, else GB18030)."),
        click.option(
            "--tz", default="UTC", show_default=True, help="Time zone of naive timestamps."
        ),
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

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        source = LogSource(**{name: kwargs.pop(name) for name in _LOG_FIELDS})
        return func(*args, source=source, **kwargs)

    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="flowsim")
def main() -> None:
    """Design a sales process as text, draw it, and test it against its own history."""


def _print_result(result: CheckResult, fmt: str, quiet: bool, strict: bool = False) -> None:
    if fmt == "json":
        return
    failing = not result.ok or (strict and bool(result.warnings))
    if quiet and not failing:
        pass
    elif quiet:
        shown = result.diagnostics if strict else result.errors
        click.echo(format_diagnostics(shown, result.sources), err=True)
        click.echo("", err=True)
    elif result.diagnostics:
        click.echo(result.render(), err=not result.ok)
        click.echo("", err=not result.ok)
    if result.ok:
        warn = len(result.warnings)
        extra = f" ({warn} warning{'s' if warn != 1 else ''})" if warn else ""
        click.echo(f"{result.filename}: ok - {result.summary()}{extra}")
    else:
        n = len(result.errors)
        click.echo(f"{result.filename}: {n} error{'s' if n != 1 else ''}", err=True)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="Diagnostics as compiler-style text or JSON for tools.",
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors and the summary line.")
@_guard
def check(files: tuple[str, ...], fmt: str, strict: bool, quiet: bool) -> None:
    """Check .flow files: syntax, names, probabilities, reachability, and advice."""
    results = [_check_path(f) for f in files]
    for result in results:
        _print_result(result, fmt, quiet, strict)
    if fmt == "json":
        payload: Any = [r.to_dict() for r in results]
        click.echo(
            json.dumps(payload[0] if len(payload) == 1 else payload, ensure_ascii=False, indent=2)
        )
    failed = any(not r.ok or (strict and r.warnings) for r in results)
    sys.exit(1 if failed else 0)


def _check_path(path: str) -> CheckResult:
    if path == "-":
        return check_text(_read_stdin(), "<stdin>")
    return check_file(path)


def _read_stdin() -> str:
    data = sys.stdin.buffer.read()
    from flowsim.dsl.builder import decode_source

    text, problem = decode_source(data, "<stdin>")
    if text is None:
        assert problem is not None
        click.echo(format_diagnostics([problem]), err=True)
        sys.exit(1)
    return text


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Do not write; exit 1 if any file is not in canonical form.",
)
@click.option("--diff", is_flag=True, help="Print a unified diff instead of writing.")
@click.option("-q", "--quiet", is_flag=True, help="Do not name the files reformatted.")
@_guard
def fmt(files: tuple[str, ...], check_only: bool, diff: bool, quiet: bool) -> None:
    """Rewrite .flow files in canonical form (comments kept). Use - for stdin to stdout."""
    status = 0
    for path in files:
        result = _check_path(path)
        if result.process is None or result.errors:
            click.echo(result.render(), err=True)
            click.echo(f"{path}: not formatted (fix the errors first)", err=True)
            status = 1
            continue
        original = result.sources.get(result.filename, "")
        formatted = result.process.to_flow()
        if path == "-":
            if check_only:
                status = status or int(formatted != original)
            else:
                click.echo(formatted, nl=False)
            continue
        if formatted == original:
            continue
        if diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        original.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        fromfile=path,
                        tofile=path + " (formatted)",
                    )
                ),
                nl=False,
            )
        if check_only:
            click.echo(f"would reformat {path}", err=True)
            status = 1
        elif not diff:
            write_output(path, formatted)
            if not quiet:
                click.echo(f"reformatted {path}", err=True)
    sys.exit(status)


def _load_or_exit(path: str) -> tuple[Process, CheckResult]:
    result = _check_path(path)
    if result.process is None or result.errors:
        click.echo(result.render(), err=True)
        click.echo(f"{result.filename}: {len(result.errors)} error(s)", err=True)
        sys.exit(1)
    return result.process, result


def _emit(text: str, output: str | None) -> None:
    if output in (None, "-"):
        click.echo(text, nl=not text.endswith("\n"))
    else:
        assert output is not None
        write_output(output, text)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["json", "flow"]),
    default="json",
    show_default=True,
    help="The model as JSON, or as canonical .flow text.",
)
@click.option("--scenario", help="Apply this scenario first.")
@click.option("--spans", is_flag=True, help="Include source positions in the JSON.")
@click.option("-o", "--output", help="Write here instead of stdout.")
@_guard
def export(file: str, fmt: str, scenario: str | None, spans: bool, output: str | None) -> None:
    """Print the model of a .flow file (JSON for tools)."""
    process, _ = _load_or_exit(file)
    if scenario is not None:
        try:
            process = process.with_scenario(scenario)
        except KeyError as err:
            raise click.BadParameter(str(err.args[0]), param_hint="--scenario") from None
    if fmt == "flow":
        _emit(process.to_flow(), output)
        return
    data = (
        process.model_dump(mode="json", exclude={"comments"}) if spans else process.semantic_dump()
    )
    _emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--view", type=click.Choice(["flowchart", "journey"]), default="flowchart", show_default=True
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["svg", "png", "pdf", "dot", "mermaid", "html"]),
    default=None,
    help="Picture format  [default: from -o's extension (.svg .png .pdf .dot .gv .mmd .html), "
    "else svg]",
)
@click.option(
    "-o",
    "--output",
    help="Output path, '-' for stdout (default: next to FILE, named FILE.VIEW.EXT).",
)
@click.option("--scenario", help="Draw the process under this scenario.")
@click.option(
    "--theme",
    default="default",
    show_default=True,
    help="default, mono, dark, print, or a theme .toml file.",
)
@click.option("--direction", type=click.Choice(["LR", "TB"]), default="LR", show_default=True)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default=None,
    help="Language of built-in words (default: zh if the process has Chinese text).",
)
@click.option(
    "--lanes",
    type=click.Choice(["department", "role", "none"]),
    default="department",
    show_default=True,
)
@click.option(
    "--detail",
    type=click.Choice(["none", "brief", "full"]),
    default="brief",
    show_default=True,
    help="How much of goals and exit criteria to show.",
)
@click.option("--touchpoints", is_flag=True, help="Attach touchpoints as notes (flowchart).")
@click.option(
    "--overlay",
    type=click.Path(dir_okay=False, exists=True),
    help="Metrics JSON (from `flowsim metrics` or `flowsim simulate`).",
)
@click.option(
    "--color-by",
    type=click.Choice(["dwell", "queue", "leakage", "utilization"]),
    help="Colour stages by this overlay metric.",
)
@click.option("-q", "--quiet", is_flag=True, help="No notes on stderr (errors are still printed).")
@_guard
def render(
    file: str,
    view: str,
    fmt: str | None,
    output: str | None,
    scenario: str | None,
    theme: str,
    direction: str,
    lang: str | None,
    lanes: str,
    detail: str,
    touchpoints: bool,
    overlay: str | None,
    color_by: str | None,
    quiet: bool,
) -> None:
    """Draw a .flow file: the swimlane flowchart or the customer journey map."""
    from flowsim.render import EXTENSIONS, GraphvizError, ThemeError, render_with_notes

    fmt = _picture_format(fmt, output)
    process, _ = _load_or_exit(file)
    if scenario is not None:
        try:
            process = process.with_scenario(scenario)
        except KeyError as err:
            raise click.BadParameter(str(err.args[0]), param_hint="--scenario") from None
    if color_by and not overlay:
        raise click.BadParameter("needs --overlay", param_hint="--color-by")
    from flowsim.render import options as make_options

    try:
        opts = make_options(
            process=process,
            view=view,
            format=fmt,
            theme=theme,
            direction=direction,
            lang=lang,
            lanes=lanes,
            detail=detail,
            touchpoints=touchpoints,
            overlay=overlay,
            color_by=color_by,
        )
    except ThemeError as err:
        raise click.BadParameter(str(err), param_hint="--theme") from None
    except (ValueError, OSError) as err:  # a bad overlay file is the user's input
        click.echo(f"flowsim: {overlay}: not a valid metrics overlay: {_why(err)}", err=True)
        sys.exit(1)
    try:
        data, notes = render_with_notes(process, opts)
    except GraphvizError as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    except ValueError as err:  # a view/format pair that does not exist
        raise click.UsageError(str(err)) from None
    for note in [] if quiet else notes:
        click.echo(f"flowsim: note: {note}", err=True)
    if output is None:
        base = Path(file)
        output = str(base.with_name(f"{base.stem}.{view}.{EXTENSIONS[fmt]}"))
    write_output(output, data)
    if output != "-":
        click.echo(str(Path(output)))


def _picture_format(fmt: str | None, output: str | None) -> str:
    """``--format``, else the one ``-o``'s extension names, else svg; a mismatch is refused.

    ``-o map.png`` with no ``--format`` draws a PNG (writing SVG bytes into a ``.png`` file
    would be silently wrong); ``-o map.png --format svg`` is a contradiction, exit 2.
    """
    from flowsim.render import EXTENSIONS

    by_suffix = {ext: f for f, ext in EXTENSIONS.items()} | {"gv": "dot"}
    suffix = Path(output).suffix.lower().lstrip(".") if output and output != "-" else ""
    named = by_suffix.get(suffix)
    if fmt is None:
        return named or "svg"
    if named is not None and named != fmt:
        raise click.BadParameter(
            f"-o {output} names a .{suffix} file but --format is {fmt}: drop --format, "
            f"or give -o a .{EXTENSIONS[fmt]} name",
            param_hint="--format",
        )
    return fmt


def _why(err: Exception) -> str:
    """The reason in one line: for validation errors, where and what."""
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        more = f" (and {err.error_count() - 1} more)" if err.error_count() > 1 else ""
        return f"{where}: {first['msg']}{more}"
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


@main.command()
@_log_options
@click.argument("log", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--process",
    "flow",
    type=click.Path(dir_okay=False),
    help="The designed process (.flow): stage order, outcomes, labels as stage names.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "overlay"]),
    default="text",
    show_default=True,
    help="A table, all figures as JSON, or a render --overlay file.",
)
@click.option("-o", "--output", help="Write here instead of stdout.")
@click.option(
    "--funnel", type=click.Choice(["touched", "strict"]), default="touched", show_default=True
)
@click.option("--as-of", "as_of", help="Censor open deals at this date (default: last event).")
@click.option(
    "--by",
    help="One comparison table, a row per group: owner, month, quarter or any column of the "
    "source (the deal's value on its first record).",
)
@click.option(
    "--curves",
    type=click.Choice(["steps", "full"]),
    default="steps",
    show_default=True,
    help="JSON: each Kaplan-Meier curve where S(t) crosses a 0.1% step, or every step.",
)
@_guard
def metrics(
    log: str | None,
    flow: str | None,
    fmt: str,
    output: str | None,
    funnel: str,
    as_of: str | None,
    by: str | None,
    curves: str,
    source: LogSource,
) -> None:
    """Measure the real funnel in a deal log (CSV, Excel, Parquet, XES, SQL)."""
    from flowsim.history.metrics import Curves, Funnel
    from flowsim.history.metrics import metrics as measure

    when = None
    if as_of is not None:
        try:
            when = _parse_as_of(as_of, source.tz)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--as-of") from None
    process = _load_or_exit(flow)[0] if flow else None

    def check(deal_log: Any, mapping: Any) -> Any:
        """A funnel needs stages the design names and no moves out of an outcome."""
        from flowsim.history.consistency import events_after_close, unknown_stages

        if process is not None:
            aliases = mapping.stage_aliases if mapping is not None else None
            deal_log = unknown_stages(deal_log, process, lenient=source.lenient, aliases=aliases)
        outcomes = mapping.outcomes if mapping is not None else None
        return events_after_close(
            deal_log, lenient=source.lenient, outcomes=outcomes, process=process
        )

    if by is not None and fmt == "overlay":
        raise click.BadParameter("an overlay is one picture: drop --by", param_hint="--format")
    deal_log = _read_log_or_exit(log, source, check, process, as_of=when)
    if by is not None:
        _emit_breakdown(deal_log, by, process, funnel, when, fmt, output)
        return
    result = measure(deal_log, process, funnel=cast("Funnel", funnel), as_of=when)
    if fmt == "overlay":
        _emit(result.to_overlay(process).model_dump_json(indent=2) + "\n", output)
    elif fmt == "json":
        _emit(result.to_json(curves=cast("Curves", curves)) + "\n", output)
    else:
        from flowsim.history.table import metrics_table

        _emit(metrics_table(result), output)


def _emit_breakdown(
    deal_log: Any, by: str, process: Any, funnel: str, when: Any, fmt: str, output: str | None
) -> None:
    """``metrics --by``: one comparison table (or its JSON), a row per group and ``all``."""
    from flowsim.history.breakdown import breakdown
    from flowsim.history.metrics import Funnel
    from flowsim.history.table import breakdown_table

    try:
        table = breakdown(deal_log, by, process, funnel=cast("Funnel", funnel), as_of=when)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--by") from None
    _emit(table.to_json() + "\n" if fmt == "json" else breakdown_table(table), output)


@main.command()
@_log_options
@click.argument("log", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--process",
    "flow",
    required=True,
    type=click.Path(dir_okay=False),
    help="The designed process (.flow) to replay the deals on.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="A report for people, or every finding as JSON.",
)
@click.option("-o", "--output", help="Write here instead of stdout.")
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Level of the Wilson intervals on observed conversions.",
)
@_guard
def conformance(
    log: str | None,
    flow: str,
    fmt: str,
    output: str | None,
    confidence: float,
    source: LogSource,
) -> None:
    """Replay a deal log on the designed process: fit, undesigned moves, edge conversions.

    Findings are the output, so deals that do not fit still exit 0; a log or .flow file that
    cannot be read exits 1.
    """
    from flowsim.history.conformance import conformance as replay
    from flowsim.history.conformance import conformance_table

    process = _load_or_exit(flow)[0]
    deal_log = _read_log_or_exit(log, source, process=process)
    report = replay(deal_log, process, confidence=confidence)
    if fmt == "json":
        _emit(report.to_json() + "\n", output)
    else:
        _emit(conformance_table(report), output)


def _parse_as_of(text: str, tz: str) -> Any:
    import datetime as dt
    import zoneinfo

    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return value


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


def _read_log_or_exit(
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
            raise click.BadParameter(_why(err), param_hint="--map") from None
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

    hours = _hours(source.idle_lost, "--idle-lost")
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


def _history_or_none(history: str | None, source: LogSource, process: Process | None = None) -> Any:
    """The ``--history`` log, or None; filters without a history to filter are refused."""
    if history:
        return _read_log_or_exit(history, source, process=process)
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


@main.command()
@_log_options
@click.argument("log", required=False, type=click.Path(dir_okay=False))
@click.option("-o", "--output", help="Write the .flow file here instead of stdout.")
@click.option(
    "--min-share",
    type=click.FloatRange(0, 0.5, max_open=True),
    default=0.02,
    show_default=True,
    help="Fold moves rarer than this share of a stage's exits into its largest move.",
)
@click.option(
    "--min-support",
    type=click.FloatRange(0, 1, max_open=True),
    default=0.0,
    show_default=True,
    help="Leave out stages fewer than this share of the deals visit (0: keep every stage).",
)
@click.option(
    "--roles",
    "role_mode",
    type=click.Choice(["pools", "per-person", "none"]),
    default="pools",
    show_default=True,
    help="Roles: pools of people who do the same work, one per person, or none.",
)
@click.option("--name", help="The process name (default: the log's file name).")
@_guard
def discover(
    log: str | None,
    output: str | None,
    min_share: float,
    min_support: float,
    role_mode: str,
    name: str | None,
    source: LogSource,
) -> None:
    """Learn a .flow model from a deal log; notes on what was folded and fitted go to stderr."""
    from flowsim.history.discover import discover as learn

    deal_log = _read_log_or_exit(log, source)
    try:
        found = learn(
            deal_log,
            min_share=min_share,
            min_support=min_support,
            role_mode=role_mode,  # type: ignore[arg-type]
            name=name,
            tz=source.tz,
        )
    except ValueError as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    if not source.quiet:
        for note in found.notes:
            click.echo(f"flowsim: note: {note}", err=True)
    _emit(found.to_flow(), output)
    if output not in (None, "-") and not source.quiet:
        click.echo(str(output), err=True)


@main.command()
@click.option("-o", "--output", help="Write here instead of stdout.")
@_guard
def schema(output: str | None) -> None:
    """Print the JSON Schema of the process model."""
    data = Process.model_json_schema()
    _emit(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", output)


# ---- simulation ------------------------------------------------------------------------------


def _hours(text: str | None, param: str) -> float | None:
    """``180d``, ``12w``, ``36h`` → hours, read as the API reads them; a usage error if bad."""
    if text is None:
        return None
    try:
        return parse_duration(text, what=param)
    except DurationError as err:
        raise click.BadParameter(err.reason, param_hint=param) from None


class _Progress:
    """A rich progress bar on stderr when it is a terminal; nothing when quiet or not a TTY."""

    def __init__(self, quiet: bool, label: str = "replications") -> None:
        self.bar: Any = None
        self.task: Any = None
        self.label = label
        if quiet or not sys.stderr.isatty():
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        self.bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            transient=True,
            console=Console(stderr=True),  # stdout is the result, often piped to a file
        )

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.__enter__()
            self.task = self.bar.add_task(self.label, total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)

    def __call__(self, done: int, total: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=done, total=total)


@contextmanager
def _input_errors(history: str | None) -> Iterator[None]:
    """A model or history the run cannot use: one line and exit 1, never a traceback.

    ``RuntimeError`` is executor trouble (an unreachable ``--cluster``), also the user's input.
    """
    from flowsim.sim.replay import UnknownStages

    try:
        yield
    except UnknownStages as err:
        click.echo(f"flowsim: {history}: {err}", err=True)
        sys.exit(1)
    except (ValueError, RuntimeError) as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)


def _scenario_names(process: Process, chosen: tuple[str, ...], none: bool) -> list[str]:
    known = [s.name for s in process.scenarios]
    if none:
        return []
    if not chosen:
        return known
    missing = [c for c in chosen if c not in known]
    if missing:
        raise click.BadParameter(
            f"no scenario {missing[0]!r} in the model (scenarios: "
            + (", ".join(repr(k) for k in known) or "none")
            + ")",
            param_hint="--scenario",
        )
    return list(chosen)


def _lang_option(func: F) -> F:
    """``--lang`` of the commands that print a summary (simulate, bottlenecks)."""
    return click.option(
        "--lang",
        type=click.Choice(["en", "zh"]),
        help="Language of the summary (default: zh when at least half the names it shows are "
        "Chinese, as the report decides).",
    )(func)


def _simulate_options(func: F) -> F:
    """The run options of every command that simulates (simulate, bottlenecks)."""
    options = [
        click.option(
            "--history", type=click.Path(dir_okay=False), help="Replay the deals of this log."
        ),
        click.option("--replications", "-n", type=click.IntRange(1), default=30, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option(
            "--until", help="Horizon: 180d, 26w (default: 365d; a replay: history's end)."
        ),
        click.option(
            "--warmup", help="Leave this first stretch out of the statistics (default 30d)."
        ),
        click.option(
            "--workers", type=click.IntRange(1), help="Local worker processes (default: cores)."
        ),
        click.option(
            "--cluster", help="Run replications on this Dask scheduler (tcp://host:8786)."
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@main.command()
@_log_options
@click.argument("file", type=click.Path(dir_okay=False))
@_simulate_options
@click.option(
    "--scenario", "chosen", multiple=True, help="Run this scenario (repeatable; default: all)."
)
@click.option("--no-scenarios", is_flag=True, help="Run the baseline only.")
@_lang_option
@click.option(
    "--sweep",
    multiple=True,
    help="One scenario per value: se.headcount=2..6, design.effort=0.5,0.8",
)
@click.option("--deals", type=click.IntRange(1), help="Stop arrivals after this many deals.")
@click.option("--start", help="Calendar date the clock starts (default 2026-01-05, a Monday).")
@click.option(
    "--as-of",
    "as_of",
    help="With --history: start from the pipeline open at this date instead of replaying.",
)
@click.option(
    "--priority", type=click.Choice(["fifo", "amount"]), default="fifo", show_default=True
)
@click.option("--unlimited-capacity", "unlimited", is_flag=True, help="Lift every headcount limit.")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("-o", "--output", help="Write the result here instead of stdout.")
@click.option("--log-out", help="Write the first baseline replication's deals as CSV/Parquet.")
@_guard
def simulate(
    file: str,
    history: str | None,
    chosen: tuple[str, ...],
    no_scenarios: bool,
    lang: str | None,
    sweep: tuple[str, ...],
    replications: int,
    seed: int,
    until: str | None,
    deals: int | None,
    warmup: str | None,
    start: str | None,
    as_of: str | None,
    priority: str,
    unlimited: bool,
    workers: int | None,
    cluster: str | None,
    fmt: str,
    output: str | None,
    log_out: str | None,
    source: LogSource,
) -> None:
    """Simulate the process (or replay history through it) with what-if scenarios."""
    from flowsim.report.terminal import terms
    from flowsim.sim.simulate import simulate as run_simulation
    from flowsim.sim.sweep import sweep_scenarios
    from flowsim.sim.table import result_table

    process = _load_or_exit(file)[0]
    names = _scenario_names(process, chosen, no_scenarios or bool(sweep))
    for spec in sweep:
        try:
            extra = sweep_scenarios(process, spec)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--sweep") from None
        process = process.model_copy(update={"scenarios": (*process.scenarios, *extra)})
        names += [s.name for s in extra]
    start_day = _start_day(start)
    when = None
    if as_of is not None:
        if history is None:
            raise click.UsageError("--as-of needs --history (the deals open at that date)")
        try:
            when = _parse_as_of(as_of, source.tz)
        except ValueError as err:
            raise click.BadParameter(str(err), param_hint="--as-of") from None
    deal_log = _history_or_none(history, source, process)
    with _input_errors(history), _Progress(source.quiet) as progress:
        result = run_simulation(
            process,
            deal_log,
            scenarios=names,
            replications=replications,
            seed=seed,
            until=_hours(until, "--until"),
            deals=deals,
            warmup=_hours(warmup, "--warmup"),
            start=start_day,
            as_of=when,
            priority=priority,  # type: ignore[arg-type]
            unlimited=unlimited,
            workers=workers,
            cluster=cluster,
            progress=progress,
        )
    lang = lang or process_language(process, deal_log)
    verdict, shown = _trust_gate(process, deal_log, seed, source.tz, lang)
    if verdict:
        result = result.model_copy(update={"warnings": [verdict, *result.warnings]})
    _write_log(result, log_out)
    if fmt == "json":
        _emit(result.model_dump_json(indent=2) + "\n", output)
    else:
        words = terms(process, lang, result, {verdict: shown} if verdict and shown else None)
        _emit(result_table(result, verdict, words), output)
        if not source.quiet and output not in (None, "-"):
            for w in result.warnings:  # in the table's language, as the table shows them
                click.echo("flowsim: " + words.text["warning"].format(w=words.note(w)), err=True)


def _write_log(result: Any, log_out: str | None) -> None:
    """``--log-out``: the first baseline replication's deals as CSV or Parquet."""
    if log_out and result.event_log is not None:
        frame = result.event_log.frame
        with open_output(log_out) as out:
            if log_out.endswith(".parquet"):
                frame.write_parquet(out)
            else:
                frame.write_csv(out)


def _start_day(start: str | None) -> datetime.date | None:
    """``--start`` as a date, or a clear error."""
    import datetime as dt

    if start is None:
        return None
    try:
        return dt.date.fromisoformat(start)
    except ValueError:
        raise click.BadParameter(
            f"{start!r} is not a date YYYY-MM-DD", param_hint="--start"
        ) from None


def _trust_gate(
    process: Process, deal_log: Any, seed: int, tz: str = "UTC", lang: str = "en"
) -> tuple[str | None, str | None]:
    """The fidelity verdict when the model is worse than 2x the history's noise floor, in
    English (for the JSON) and in ``lang`` (for the text).

    One replication of :func:`flowsim.fidelity`; None without history, without arrivals to
    simulate, or when the model is within the gate.
    """
    from flowsim.sim.fidelity import fidelity as measure

    if deal_log is None or process.arrivals is None:
        return None, None
    try:
        result = measure(process, deal_log, replications=1, seed=seed, tz=tz)
    except ValueError:
        return None, None
    return result.verdict(), result.verdict(lang)


def _whatif_options(budget: int) -> Callable[[F], F]:
    """``--objective`` and ``--budget`` of the commands that rank one-step what-ifs."""

    def decorate(func: F) -> F:
        func = click.option(
            "--budget",
            type=click.IntRange(0),
            default=budget,
            show_default=True,
            help="Run at most this many one-step what-ifs (the most promising; the rest are "
            "listed).",
        )(func)
        return click.option(
            "--objective",
            type=click.Choice(OBJECTIVE_CHOICES),
            help="Rank the what-ifs by this (default: revenue with amounts, else won).",
        )(func)

    return decorate


@main.command()
@_log_options
@click.argument("file", type=click.Path(dir_okay=False))
@_simulate_options
@_lang_option
@click.option("--suggest", is_flag=True, help="Run the one-step what-ifs and rank them.")
@_whatif_options(budget=20)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("-o", "--output", help="Write the report here instead of stdout.")
@click.option("--overlay", "overlay_out", help="Write a flowchart overlay JSON here.")
@_guard
def bottlenecks(
    file: str,
    history: str | None,
    replications: int,
    seed: int,
    until: str | None,
    warmup: str | None,
    workers: int | None,
    cluster: str | None,
    lang: str | None,
    suggest: bool,
    objective: str | None,
    budget: int,
    fmt: str,
    output: str | None,
    overlay_out: str | None,
    source: LogSource,
) -> None:
    """Rank the bottlenecks (capacity, time, conversion) and name the principal one."""
    from flowsim.sim.bottlenecks import bottlenecks as find
    from flowsim.sim.bottlenecks import overlay, qualify

    process = _load_or_exit(file)[0]
    if objective is not None and not suggest:
        raise click.UsageError("--objective ranks the what-ifs of --suggest")
    deal_log = _history_or_none(history, source, process)
    # the text speaks the process's language; the JSON's sentences stay English unless asked
    lang = lang or ("en" if fmt == "json" else process_language(process, deal_log))
    label = "baseline and what-ifs" if suggest else "replications"
    with _input_errors(history), _Progress(source.quiet, label) as progress:
        report, result = find(
            process,
            deal_log,
            suggest=suggest,
            objective=objective,
            budget=budget,
            replications=replications,
            seed=seed,
            until=_hours(until, "--until"),
            warmup=_hours(warmup, "--warmup"),
            workers=workers,
            cluster=cluster,
            progress=progress,
            lang=lang,
        )
    report = qualify(report, _trust_gate(process, deal_log, seed, source.tz, lang)[1], lang)
    if overlay_out:
        _emit(overlay(result, process).model_dump_json(indent=2) + "\n", overlay_out)
    if fmt == "json":
        _emit(report.model_dump_json(indent=2) + "\n", output)
    else:
        from flowsim.report.terminal import terms
        from flowsim.sim.table import bottleneck_table

        _emit(bottleneck_table(report, terms(process, lang, result)), output)


@main.command()
@_log_options
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--history", required=True, type=click.Path(dir_okay=False), help="The real deals.")
@click.option(
    "--train-share",
    type=click.FloatRange(0.1, 0.9),
    default=0.5,
    show_default=True,
    help="Share of deals (the earliest) left out; the later ones are the hold-out.",
)
@click.option("--discovered", is_flag=True, help="Judge a model discovered from the earlier part.")
@click.option("--replications", "-n", type=click.IntRange(1), default=3, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("-o", "--output", help="Write here instead of stdout.")
@_guard
def fidelity(
    file: str,
    history: str,
    train_share: float,
    discovered: bool,
    replications: int,
    seed: int,
    fmt: str,
    output: str | None,
    source: LogSource,
) -> None:
    """Does the model reproduce history? Distances on a hold-out vs the noise floor."""
    from flowsim.history.discover import discover as learn
    from flowsim.history.distances import chronological_split
    from flowsim.sim.fidelity import fidelity as measure

    process = _load_or_exit(file)[0]
    deal_log = _read_log_or_exit(history, source, process=process)
    try:
        if discovered:
            train, _ = chronological_split(deal_log, train_share)
            process = learn(train, tz=source.tz).process
        result = measure(
            process,
            deal_log,
            train_share=train_share,
            replications=replications,
            seed=seed,
            tz=source.tz,
        )
    except ValueError as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    if fmt == "json":
        _emit(
            result.model_dump_json(indent=2, exclude={"replication_reports", "floor_report"})
            + "\n",
            output,
        )
    else:
        _emit(result.text(), output)
    if not result.trusted:
        sys.exit(1)


@main.command("run")
@_log_options
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--history", type=click.Path(dir_okay=False), help="The real deals (any format).")
@click.option("-o", "--output", default="report", show_default=True, help="Report directory.")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    help="Report language (default: zh when at least half the names it shows are Chinese).",
)
@click.option("--replications", "-n", type=click.IntRange(2), default=30, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--until", help="Simulated horizon without history (default 365d).")
@click.option("--workers", type=click.IntRange(1), help="Local worker processes (default: cores).")
@_whatif_options(budget=15)
@_guard
def run_cmd(
    file: str,
    history: str | None,
    output: str,
    lang: str | None,
    replications: int,
    seed: int,
    until: str | None,
    workers: int | None,
    objective: str | None,
    budget: int,
    source: LogSource,
) -> None:
    """The whole job: check, render, measure, simulate, find bottlenecks, forecast, report."""
    from flowsim.report.build import build_report

    process = _load_or_exit(file)[0]
    # the same reader and options (--map, --sql, --delimiter...) as every log command
    deal_log = _history_or_none(history, source, process)
    with _input_errors(history), _Steps(source.quiet) as steps:
        report = build_report(
            file,
            deal_log,
            output,
            lang=lang,
            seed=seed,
            replications=replications,
            until=_hours(until, "--until"),
            workers=workers,
            step=steps,
            objective=objective,
            budget=budget,
        )
    from flowsim.report.terminal import CHINESE

    said = CHINESE["warning"] if report.results.get("lang") == "zh" else "warning: {w}"
    for w in report.shown_warnings:  # as the report's first screen words them
        if not source.quiet:
            click.echo("flowsim: " + said.format(w=w), err=True)
    index = Path(output) / "index.html"
    click.echo(f"report: {index}")


class _Steps:
    """The job's steps on a terminal (a rich status line); quiet when asked or not a TTY."""

    def __init__(self, quiet: bool) -> None:
        self.status: Any = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console

            self.status = Console(stderr=True).status("starting")

    def __enter__(self) -> _Steps:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def __call__(self, name: str) -> None:
        if self.status is not None:
            self.status.update(name)


@main.command()
@_log_options
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--history", required=True, type=click.Path(dir_okay=False), help="The deals so far.")
@click.option("--horizon", default="90d", show_default=True, help="How far ahead: 90d, 13w.")
@click.option(
    "--as-of",
    "as_of",
    help="Forecast from the pipeline open at this date (default: the log's last event); "
    "earlier than the log's end, the forecast is also scored against what happened.",
)
@click.option("--replications", "-n", type=click.IntRange(1), default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1), help="Local worker processes (default: cores).")
@click.option("--cluster", help="Run replications on this Dask scheduler (tcp://host:8786).")
@click.option(
    "--keep-stale", is_flag=True, help="Keep open deals older than the model's stays in the run."
)
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True
)
@click.option("-o", "--output", help="Write the forecast here instead of stdout.")
@_guard
def forecast(
    file: str,
    history: str,
    horizon: str,
    as_of: str | None,
    replications: int,
    seed: int,
    workers: int | None,
    cluster: str | None,
    keep_stale: bool,
    fmt: str,
    output: str | None,
    source: LogSource,
) -> None:
    """Forecast wins and revenue from the open pipeline, beside the CRM weighted pipeline."""
    import datetime as dt

    from flowsim.sim.backtest import backtest as score
    from flowsim.sim.forecast import forecast as predict
    from flowsim.sim.forecast import last_event

    process = _load_or_exit(file)[0]
    hours = _hours(horizon, "--horizon")
    if not hours:
        raise click.BadParameter("the horizon must be longer than 0", param_hint="--horizon")
    try:
        when = _parse_as_of(as_of, source.tz) if as_of is not None else None
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--as-of") from None
    deal_log = _read_log_or_exit(history, source, process=process, as_of=when)
    try:
        end = last_event(deal_log)
    except ValueError as err:
        click.echo(f"flowsim: {history}: {err}", err=True)
        sys.exit(1)
    scored = None
    note = None
    options: dict[str, Any] = {
        "replications": replications,
        "seed": seed,
        "workers": workers,
        "cluster": cluster,
        "drop_stale": not keep_stale,
    }
    try:
        with _Progress(source.quiet) as progress:
            if when is not None and when + dt.timedelta(hours=hours) <= end:
                scored = score(process, deal_log, when, hours, progress=progress, **options)
                result = scored.forecast
            else:
                if when is not None and when < end:
                    note = (
                        f"no backtest: the horizon runs past the history's last event "
                        f"({end:%Y-%m-%d}); choose an earlier --as-of or a shorter --horizon"
                    )
                result = predict(
                    process, deal_log, horizon_hours=hours, as_of=when, progress=progress, **options
                )
    except (ValueError, RuntimeError) as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    if note is not None:
        result = result.model_copy(update={"notes": [*result.notes, note]})
    if fmt == "json":
        data = {
            "forecast": result.model_dump(mode="json"),
            "backtest": scored.model_dump(mode="json", exclude={"forecast"}) if scored else None,
        }
        _emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output)
    else:
        _emit(result.text() + ("\n" + scored.text() if scored is not None else ""), output)


@main.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--port", type=click.IntRange(0, 65535), default=8765, show_default=True,
    help="TCP port (0: any free port).",
)  # fmt: skip
@click.option(
    "--host", default="127.0.0.1", show_default=True,
    help="Interface to listen on (not loopback: the network can reach the file).",
)  # fmt: skip
@click.option("--no-browser", is_flag=True, help="Do not open a browser; just print the URL.")
@click.option("-q", "--quiet", is_flag=True, help="Print only the URL (and errors).")
@_guard
def studio(file: str, port: int, host: str, no_browser: bool, quiet: bool) -> None:
    """Edit FILE in the browser: live picture, diagnostics and quick what-ifs (docs/studio.md).

    FILE may not exist yet: the first save creates it.
    """
    try:
        from flowsim.studio.document import Document, DocumentError
        from flowsim.studio.server import LOOPBACK, bind, new_token, serve, url_for
    except ImportError as err:
        raise missing(err, "flowsim studio") from err

    if not Path(file).resolve().parent.is_dir():
        click.echo(f"flowsim: {file}: the folder does not exist", err=True)
        sys.exit(1)
    try:
        Document(file).read()
    except DocumentError as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    try:
        sock = bind(host, port)
    except OSError as err:
        reason = err.strerror or str(err)
        click.echo(
            f"flowsim: cannot listen on {host}:{port}: {reason} (--port 0 picks a free port)",
            err=True,
        )
        sys.exit(1)
    token = new_token()
    url = url_for(host, sock.getsockname()[1], token)
    if host not in LOOPBACK and not quiet:
        click.echo(
            f"flowsim: warning: listening on {host}: anyone who can reach this machine and has "
            "the URL can edit the file; the connection is not encrypted",
            err=True,
        )
    click.echo(f"flowsim studio: {url}")
    if not quiet:
        click.echo("Press Ctrl+C to stop.", err=True)
    sys.stdout.flush()
    try:
        serve(file, sock, token, url=url, open_browser=not no_browser)
    except KeyboardInterrupt:  # Ctrl+C is how a server is meant to stop: exit 0, no message
        return


if __name__ == "__main__":  # pragma: no cover
    main()
