"""The simulation commands: simulate, bottlenecks, fidelity, run."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import click

from flowsim._output import open_output
from flowsim.cli._common import (
    F,
    Progress,
    Steps,
    emit,
    format_option,
    guard,
    input_errors,
    load_or_exit,
    parse_as_of,
    sim_options,
    usage_error,
)
from flowsim.cli._logs import LogSource, history_or_none, log_options, read_log_or_exit
from flowsim.cli.feedback import feedback_options
from flowsim.errors import OptionError
from flowsim.language import process_language
from flowsim.model import Process

if TYPE_CHECKING:
    import datetime


#: what ``--objective`` ranks the what-ifs by (flowsim.sim.bottlenecks.OBJECTIVES)
OBJECTIVE_CHOICES = ("revenue", "won", "win-rate", "cycle")


def _scenarios(
    process: Process, chosen: tuple[str, ...], sweeps: tuple[str, ...], none: bool
) -> tuple[Process, list[str]]:
    """The process (with the ``--sweep`` scenarios) and the scenario names to run."""
    from flowsim.errors import UnknownScenario
    from flowsim.sim.sweep import chosen_scenarios

    try:
        return chosen_scenarios(process, chosen, sweeps=sweeps, baseline_only=none)
    except UnknownScenario as err:
        raise click.BadParameter(
            f"no scenario {err.name!r} in the model (scenarios: "
            + (", ".join(repr(k) for k in err.known) or "none")
            + ")",
            param_hint="--scenario",
        ) from None
    except OptionError as err:
        raise usage_error(err) from None


def _lang_option(func: F) -> F:
    """``--lang`` of the commands that print a summary (simulate, bottlenecks)."""
    return click.option(
        "--lang",
        type=click.Choice(["en", "zh"]),
        help="Language of the summary (default: zh when at least half the names it shows are "
        "Chinese, as the report decides).",
    )(func)


#: ``--history`` of the commands that replay it (simulate, bottlenecks)
_replay = click.option(
    "--history", type=click.Path(dir_okay=False), help="Replay the deals of this log."
)
#: the run options of simulate and bottlenecks
_simulate_options = sim_options(
    until="Horizon: 180d, 26w (default: 365d; a replay: history's end).",
    warmup=True,
    workers=True,
    cluster=True,
)


@click.command()
@log_options
@click.argument("file", type=click.Path(dir_okay=False))
@_replay
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
@format_option(["text", "json"], default="text")
@click.option("-o", "--output", help="Write the result here instead of stdout.")
@click.option("--log-out", help="Write the first baseline replication's deals as CSV/Parquet.")
@guard
def simulate(
    file: str,
    history: str | None,
    chosen: tuple[str, ...],
    no_scenarios: bool,
    lang: str | None,
    sweep: tuple[str, ...],
    deals: int | None,
    start: str | None,
    as_of: str | None,
    priority: str,
    unlimited: bool,
    fmt: str,
    output: str | None,
    log_out: str | None,
    source: LogSource,
    run: dict[str, Any],
) -> None:
    """Simulate the process (or replay history through it) with what-if scenarios."""
    from flowsim.report.terminal import terms
    from flowsim.sim.simulate import simulate as run_simulation

    process, names = _scenarios(load_or_exit(file)[0], chosen, sweep, no_scenarios)
    start_day = _start_day(start)
    when = parse_as_of(as_of, source.tz)
    deal_log = history_or_none(history, source, process)
    with input_errors(history), Progress(source.quiet) as progress:
        result = run_simulation(
            process,
            deal_log,
            scenarios=names,
            deals=deals,
            start=start_day,
            as_of=when,
            priority=priority,  # type: ignore[arg-type]
            unlimited=unlimited,
            progress=progress,
            tz=source.tz,
            **run,
        )
    lang = lang or process_language(process, deal_log)
    check = result.fidelity_check  # the trust gate's: its verdict opens the warnings
    verdict, shown = (check.verdict(), check.verdict(lang)) if check else (None, None)
    _write_log(result, log_out, deal_log, process, source.tz)
    if fmt == "json":
        emit(result.to_json() + "\n", output)
    else:
        words = terms(process, lang, result, {verdict: shown} if verdict and shown else None)
        emit(result.text(words), output)
        if not source.quiet and output not in (None, "-"):
            for w in result.warnings:  # in the table's language, as the table shows them
                click.echo("flowsim: " + words.text["warning"].format(w=words.note(w)), err=True)


def _write_log(result: Any, log_out: str | None, deal_log: Any, process: Process, tz: str) -> None:
    """``--log-out``: the first baseline replication's deals as CSV or Parquet; with a
    history, only the kinds of rows it has (:func:`flowsim.sim.fidelity.like_history`)."""
    from flowsim.sim.fidelity import like_history

    if log_out and result.event_log is not None:
        log = result.event_log
        if deal_log is not None:
            log = like_history(log, deal_log, process, tz=tz)
        frame = log.frame
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


@click.command()
@log_options
@click.argument("file", type=click.Path(dir_okay=False))
@_replay
@_simulate_options
@_lang_option
@click.option("--suggest", is_flag=True, help="Run the one-step what-ifs and rank them.")
@_whatif_options(budget=20)
@format_option(["text", "json"], default="text")
@click.option("-o", "--output", help="Write the report here instead of stdout.")
@click.option("--overlay", "overlay_out", help="Write a flowchart overlay JSON here.")
@guard
def bottlenecks(
    file: str,
    history: str | None,
    lang: str | None,
    suggest: bool,
    objective: str | None,
    budget: int,
    fmt: str,
    output: str | None,
    overlay_out: str | None,
    source: LogSource,
    run: dict[str, Any],
) -> None:
    """Rank the bottlenecks (capacity, time, conversion) and name the principal one."""
    from flowsim.sim.bottlenecks import bottlenecks as find
    from flowsim.sim.bottlenecks import overlay

    process = load_or_exit(file)[0]
    deal_log = history_or_none(history, source, process)
    # the text speaks the process's language; the JSON's sentences stay English unless asked
    lang = lang or ("en" if fmt == "json" else process_language(process, deal_log))
    label = "baseline and what-ifs" if suggest else "replications"
    with input_errors(history), Progress(source.quiet, label) as progress:
        report, result = find(
            process,
            deal_log,
            suggest=suggest,
            objective=objective,
            budget=budget,
            progress=progress,
            lang=lang,
            tz=source.tz,
            **run,
        )
    if overlay_out:
        emit(overlay(result, process).model_dump_json(indent=2) + "\n", overlay_out)
    if fmt == "json":
        emit(report.to_json() + "\n", output)
    else:
        from flowsim.report.terminal import terms

        emit(report.text(terms(process, lang, result)), output)


@click.command()
@log_options
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--history", required=True, type=click.Path(dir_okay=False), help="The real deals.")
@click.option(
    "--train-share",
    type=click.FloatRange(0.1, 0.9),
    default=0.5,
    show_default=True,
    help="Without --test: share of deals (the earliest) left out; the later ones are the hold-out.",
)
@click.option("--discovered", is_flag=True, help="Judge a model discovered from the earlier part.")
@click.option(
    "--test",
    "test_file",
    type=click.Path(dir_okay=False),
    help="An explicit hold-out (read like --history, which is then the fitted part).",
)
@click.option(
    "--arrivals",
    type=click.Choice(["model", "replay"]),
    default="model",
    show_default=True,
    help="New deals by the model's arrival process, or at the hold-out's real times.",
)
@click.option(
    "--spans",
    type=click.Choice(["stay", "work"]),
    default="stay",
    show_default=True,
    help="Compare rows as whole stays, or from the start of work to its end.",
)
@sim_options(replications=(1, 3, None))
@format_option(["text", "json"], default="text")
@click.option("-o", "--output", help="Write here instead of stdout.")
@guard
def fidelity(
    file: str,
    history: str,
    train_share: float,
    discovered: bool,
    test_file: str | None,
    arrivals: str,
    spans: str,
    fmt: str,
    output: str | None,
    source: LogSource,
    run: dict[str, Any],
) -> None:
    """Does the model reproduce history? Distances on a hold-out vs the noise floor."""
    from flowsim.sim.fidelity import fidelity as measure

    process = load_or_exit(file)[0]
    deal_log = read_log_or_exit(history, source, process=process)
    test = read_log_or_exit(test_file, source, process=process) if test_file else None
    with input_errors(history):
        result = measure(
            None if discovered else process,
            deal_log,
            test=test,
            arrivals=arrivals,  # type: ignore[arg-type]
            spans=spans,  # type: ignore[arg-type]
            train_share=train_share,
            tz=source.tz,
            **run,
        )
    if fmt == "json":
        emit(
            result.model_dump_json(indent=2, exclude={"replication_reports", "floor_report"})
            + "\n",
            output,
        )
    else:
        emit(result.text(), output)
    if not result.trusted:
        sys.exit(1)


@click.command("run")
@log_options
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--history", type=click.Path(dir_okay=False), help="The real deals (any format).")
@click.option("-o", "--output", default="report", show_default=True, help="Report directory.")
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    help="Report language (default: zh when at least half the names it shows are Chinese).",
)
@sim_options((2, 30, None), until="Simulated horizon without history (default 365d).", workers=True)
@feedback_options(
    "Customer feedback (CSV, Excel, Parquet): measured scores on the journey map and a "
    "table per touchpoint in the report."
)
@click.option(
    "--backtest",
    type=click.Choice(["last", "monthly", "none"]),
    default="last",
    show_default=True,
    help="Backtest the forecast (history over 90 days): from 90 days before its end, from "
    "every monthly cutoff, or not at all.",
)
@_whatif_options(budget=15)
@guard
def run_cmd(
    file: str,
    history: str | None,
    output: str,
    lang: str | None,
    backtest: Literal["last", "monthly", "none"],
    objective: str | None,
    budget: int,
    feedback_file: str | None,
    feedback_scale: str | None,
    source: LogSource,
    run: dict[str, Any],
) -> None:
    """The whole job: check, render, measure, simulate, find bottlenecks, forecast, report."""
    from flowsim.report.build import build_report

    process = load_or_exit(file)[0]
    # the same reader and options (--map, --sql, --delimiter...) as every log command
    deal_log = history_or_none(history, source, process)
    measured = None
    if feedback_file is not None:
        from flowsim.cli.feedback import plain_read, read_feedback_or_exit
        from flowsim.history.feedback import measure_journey

        read = plain_read(source.tz, source.options.lenient, source.quiet)
        answers = read_feedback_or_exit(feedback_file, read, feedback_scale)
        measured = measure_journey(answers, process, deal_log)
    with input_errors(history), Steps(source.quiet) as steps:
        report = build_report(
            file,
            deal_log,
            output,
            lang=lang,
            step=steps,
            objective=objective,
            budget=budget,
            backtest=backtest,
            **run,
            feedback=measured,
        )
    from flowsim.report.terminal import CHINESE

    said = CHINESE["warning"] if report.results.get("lang") == "zh" else "warning: {w}"
    for w in report.shown_warnings:  # as the report's first screen words them
        if not source.quiet:
            click.echo("flowsim: " + said.format(w=w), err=True)
    index = Path(output) / "index.html"
    click.echo(f"report: {index}")
