"""The customer-feedback command: the measured journey and the complaint themes."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

import click

from flowsim.cli._common import F, emit, format_option, guard, load_or_exit
from flowsim.cli._logs import _LOG_OPTIONS, log_errors

#: the deal-log options that say how to read a table (--map ... --sheet), and -q
_READ_NAMES = (
    "mapping",
    "encoding",
    "tz",
    "lenient",
    "sql",
    "db",
    "delimiter",
    "dayfirst",
    "date_format",
    "decimal",
    "sheet",
    "quiet",
)


def feedback_read_options(func: F) -> F:
    """The reading options of the deal-log commands (no filters), handed over as ``read``."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        read = {name: kwargs.pop(name) for name in _READ_NAMES}
        return func(*args, read=read, **kwargs)

    options = [*_LOG_OPTIONS[:11], _LOG_OPTIONS[-1]]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def feedback_options(use: str) -> Callable[[F], F]:
    """``--feedback FILE`` (as ``feedback_file``; ``use`` says what the command does with the
    answers) and ``--feedback-scale`` (as ``feedback_scale``), for commands that take customer
    feedback beside their main input."""

    def decorate(func: F) -> F:
        func = click.option(
            "--feedback-scale",
            "feedback_scale",
            help="The feedback's score scale: 1-5, 0-10 or -2..2 (default: stated or proved).",
        )(func)
        return click.option(
            "--feedback", "feedback_file", type=click.Path(dir_okay=False), help=use
        )(func)

    return decorate


def plain_read(tz: str = "UTC", lenient: bool = False, quiet: bool = False) -> dict[str, Any]:
    """The reading options of a feedback file given beside another input (``--feedback``):
    every reader's defaults, with the command's ``--tz``, ``--lenient`` and ``-q``."""
    read: dict[str, Any] = dict.fromkeys(_READ_NAMES)
    return read | {"tz": tz, "lenient": lenient, "quiet": quiet}


def read_feedback_or_exit(path: str | None, read: dict[str, Any], scale: str | None) -> Any:
    """The feedback file read with the command's options; exit 1 (bad data) or 2 (options)."""
    from flowsim.history.feedback import read_feedback
    from flowsim.history.options import ReadOptions
    from flowsim.history.problems import fold

    if path is None and read["sql"] is None:
        raise click.UsageError("give a feedback file, or --sql with --db")
    with log_errors("the feedback"):
        options = ReadOptions(**{k: v for k, v in read.items() if k != "quiet"})
        answers = read_feedback(path, options, scale=scale)
    if not read["quiet"]:
        for line in fold(answers.report.problems, answers.report.omitted_by_code):
            click.echo(f"flowsim: {line}", err=True)
    return answers


@click.command()
@feedback_read_options
@click.argument("process", type=click.Path(exists=True, dir_okay=False))
@click.argument("answers", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--scale",
    help="The score scale: 1-5 (csat), 0-10 (nps) or -2..2 (default: stated by the header or "
    "proved by the values, else refused).",
)
@click.option(
    "--history",
    type=click.Path(dir_okay=False),
    help="The deal log (CSV, Excel, Parquet, XES): each phase also shows its deals, drop-off, "
    "median days and rework (read with --tz and --lenient; the other options are the "
    "feedback's).",
)
@click.option(
    "--top", default=5, show_default=True, type=click.IntRange(0), help="Themes per touchpoint."
)
@format_option(["text", "json"], default="text", help="Tables, or every figure as JSON.")
@click.option("-o", "--output", help="Write here instead of stdout.")
@guard
def feedback(
    process: str,
    answers: str | None,
    scale: str | None,
    history: str | None,
    top: int,
    fmt: str,
    output: str | None,
    read: dict[str, Any],
) -> None:
    """Measure customer feedback (CSV, Excel, Parquet, SQL) against a process's journey."""
    from flowsim.history.feedback import measure_journey, pain_points

    model = load_or_exit(process)[0]
    log = read_feedback_or_exit(answers, read, scale)
    deals = _history(history, read, model)
    journey = measure_journey(log, model, deals)
    themes = pain_points(log, model, top=top)
    if fmt == "json":
        data = {
            "journey": json.loads(journey.to_json()),
            "pain_points": json.loads(themes.to_json()),
        }
        emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output)
    else:
        emit(journey.text() + "\n" + themes.text(), output)


def _history(path: str | None, read: dict[str, Any], process: Any) -> Any:
    """``--history``: the deal log with the funnel's checks, or None."""
    if path is None:
        return None
    from flowsim.history.load import load_history
    from flowsim.history.options import ReadOptions

    with log_errors():
        options = ReadOptions(tz=read["tz"], lenient=read["lenient"])
        return load_history(path, options, funnel=True, process=process)
