"""The deal-history commands: metrics, conformance, discover."""

from __future__ import annotations

from typing import Any, cast

import click

from flowsim.cli._common import (
    emit,
    format_option,
    guard,
    input_errors,
    load_or_exit,
    parse_as_of,
)
from flowsim.cli._logs import LogSource, log_options, read_log_or_exit
from flowsim.cli.feedback import feedback_options


@click.command()
@log_options
@click.argument("log", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--process",
    "flow",
    type=click.Path(dir_okay=False),
    help="The designed process (.flow): stage order, outcomes, labels as stage names.",
)
@format_option(
    ["text", "json", "overlay"],
    default="text",
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
@feedback_options(
    "Customer feedback (CSV, Excel, Parquet) with deal ids: the win rate by score band "
    "per stage, with 95% CIs (needs --process)."
)
@guard
def metrics(
    log: str | None,
    flow: str | None,
    fmt: str,
    output: str | None,
    funnel: str,
    as_of: str | None,
    by: str | None,
    curves: str,
    feedback_file: str | None,
    feedback_scale: str | None,
    source: LogSource,
) -> None:
    """Measure the real funnel in a deal log (CSV, Excel, Parquet, XES, SQL)."""
    from flowsim.history.metrics import Curves, Funnel
    from flowsim.history.metrics import metrics as measure

    when = parse_as_of(as_of, source.tz)
    process = load_or_exit(flow)[0] if flow else None
    if feedback_file is not None and (process is None or by is not None or fmt == "overlay"):
        raise click.UsageError("--feedback needs --process, and no --by or --format overlay")

    if by is not None and fmt == "overlay":
        raise click.BadParameter("an overlay is one picture: drop --by", param_hint="--format")
    deal_log = read_log_or_exit(log, source, funnel=True, process=process, as_of=when)
    if by is not None:
        _emit_breakdown(deal_log, by, process, funnel, when, fmt, output)
        return
    result = measure(deal_log, process, funnel=cast("Funnel", funnel), as_of=when)
    if feedback_file is not None:
        bands = _feedback_bands(deal_log, process, feedback_file, feedback_scale, source)
        _emit_with_feedback(result, bands, fmt, output)
        return
    if fmt == "overlay":
        emit(result.to_overlay(process).model_dump_json(indent=2) + "\n", output)
    elif fmt == "json":
        emit(result.to_json(curves=cast("Curves", curves)) + "\n", output)
    else:
        emit(result.text(), output)


def _feedback_bands(
    deal_log: Any, process: Any, path: str, scale: str | None, source: LogSource
) -> Any:
    """The win rate by score band of ``--feedback`` (read with ``--tz``/``--lenient``/``-q``)."""
    from flowsim.cli.feedback import plain_read, read_feedback_or_exit
    from flowsim.history.feedback.outcomes import score_outcomes

    read = plain_read(source.tz, source.options.lenient, source.quiet)
    return score_outcomes(read_feedback_or_exit(path, read, scale), deal_log, process)


def _emit_with_feedback(result: Any, bands: Any, fmt: str, output: str | None) -> None:
    """``metrics --feedback``: the funnel, then the win rate by score band per stage."""
    import json

    if fmt == "json":
        data = json.loads(result.to_json())
        data["feedback"] = json.loads(bands.to_json())
        emit(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", output)
    else:
        emit(result.text() + "\n" + bands.text(), output)


def _emit_breakdown(
    deal_log: Any, by: str, process: Any, funnel: str, when: Any, fmt: str, output: str | None
) -> None:
    """``metrics --by``: one comparison table (or its JSON), a row per group and ``all``."""
    from flowsim.history.breakdown import breakdown
    from flowsim.history.metrics import Funnel

    try:
        table = breakdown(deal_log, by, process, funnel=cast("Funnel", funnel), as_of=when)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--by") from None
    emit(table.to_json() + "\n" if fmt == "json" else table.text(), output)


@click.command()
@log_options
@click.argument("log", required=False, type=click.Path(dir_okay=False))
@click.option(
    "--process",
    "flow",
    required=True,
    type=click.Path(dir_okay=False),
    help="The designed process (.flow) to replay the deals on.",
)
@format_option(
    ["text", "json"], default="text", help="A report for people, or every finding as JSON."
)
@click.option("-o", "--output", help="Write here instead of stdout.")
@click.option(
    "--confidence",
    type=click.FloatRange(0.5, 0.999),
    default=0.95,
    show_default=True,
    help="Level of the Wilson intervals on observed conversions.",
)
@guard
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

    process = load_or_exit(flow)[0]
    deal_log = read_log_or_exit(log, source, process=process)
    report = replay(deal_log, process, confidence=confidence)
    if fmt == "json":
        emit(report.to_json() + "\n", output)
    else:
        emit(report.text(), output)


@click.command()
@log_options
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
@guard
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

    deal_log = read_log_or_exit(log, source)
    with input_errors(log):
        found = learn(
            deal_log,
            min_share=min_share,
            min_support=min_support,
            role_mode=role_mode,  # type: ignore[arg-type]
            name=name,
            tz=source.tz,
        )
    if not source.quiet:
        for note in found.notes:
            click.echo(f"flowsim: note: {note}", err=True)
    emit(found.to_flow(), output)
    if output not in (None, "-") and not source.quiet:
        click.echo(str(output), err=True)
