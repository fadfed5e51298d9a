"""The forecast command: wins and revenue ahead, one backtest or a rolling one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import click

from flowsim.cli._common import (
    Progress,
    emit,
    format_option,
    guard,
    input_errors,
    load_or_exit,
    parse_as_of,
    sim_options,
    to_hours,
    usage_error,
    with_scenario,
)
from flowsim.cli._logs import LogSource, log_options, read_log_or_exit
from flowsim.errors import OptionError

if TYPE_CHECKING:
    from flowsim.sim.forecast import Uncertainty


@click.command()
@log_options
@click.argument("file", required=False, type=click.Path(dir_okay=False))
@click.option("--history", required=True, type=click.Path(dir_okay=False), help="The deals so far.")
@click.option("--horizon", default="90d", show_default=True, help="How far ahead: 90d, 13w.")
@click.option(
    "--as-of",
    "as_of",
    help="Forecast from the pipeline open at this date (default: the log's last event); "
    "earlier than the log's end, the forecast is also scored against what happened.",
)
@click.option(
    "--backtest",
    "cutoffs",
    help="Rolling backtest instead: 'monthly' or dates (2017-06-01,2017-07-01); without FILE "
    "the model is discovered before each cutoff.",
)
@click.option(
    "--backtest-from",
    "start",
    help="With --backtest monthly: the first cutoff's earliest date (--from filters deals).",
)
@sim_options(
    (1, None, "Monte Carlo runs (default 200; 50 per cutoff with --backtest)."),
    workers=True,
    cluster=True,
)
@click.option(
    "--keep-stale", is_flag=True, help="Keep open deals older than the model's stays in the run."
)
@click.option(
    "--uncertainty",
    type=click.Choice(["parameters", "simulation"]),
    default="parameters",
    show_default=True,
    help="The Monte Carlo's bands: bootstrap refits of the model and simulation noise, or the "
    "simulation's noise only.",
)
@click.option(
    "--scenario",
    help="Forecast this scenario of FILE beside the model, on the same random numbers: its "
    "difference in wins and revenue with an 80% interval.",
)
@format_option(["text", "json"], default="text")
@click.option("-o", "--output", help="Write the forecast here instead of stdout.")
@guard
def forecast(
    file: str | None,
    history: str,
    horizon: str,
    as_of: str | None,
    cutoffs: str | None,
    start: str | None,
    keep_stale: bool,
    uncertainty: Uncertainty,
    scenario: str | None,
    fmt: str,
    output: str | None,
    source: LogSource,
    run: dict[str, Any],
) -> None:
    """Forecast wins and revenue from the open pipeline, beside the CRM weighted pipeline
    and the baselines; or, with --backtest, score every method from many cutoffs."""
    from flowsim.sim.outlook import horizon_hours, outlook

    try:
        hours = horizon_hours(to_hours(horizon, "--horizon") or 0.0)
    except OptionError as err:
        raise usage_error(err) from None
    if cutoffs is not None:
        if scenario is not None:
            raise click.UsageError("--scenario goes with a forecast, not with --backtest")
        asked = _Rolling(file, history, hours, cutoffs, start, uncertainty, keep_stale, run)
        _rolling(asked, as_of, fmt, output, source)
        return
    if file is None:
        raise click.UsageError("give the model FILE (only --backtest can discover one)")
    if start is not None:
        raise click.UsageError("--backtest-from goes with --backtest monthly")
    process = load_or_exit(file)[0]
    with_scenario(process, scenario)  # an unknown name: a usage error naming the known ones
    when = parse_as_of(as_of, source.tz)
    deal_log = read_log_or_exit(history, source, process=process, as_of=when)
    with input_errors(history), Progress(source.quiet) as progress:
        found = outlook(
            process,
            deal_log,
            horizon=hours,
            as_of=when,
            drop_stale=not keep_stale,
            progress=progress,
            uncertainty=uncertainty,
            scenario=scenario,
            **run,
        )
    emit(found.to_json() + "\n" if fmt == "json" else found.text(), output)


@dataclass(frozen=True)
class _Rolling:
    """What ``flowsim forecast --backtest`` was asked."""

    file: str | None
    history: str
    hours: float
    cutoffs: str
    start: str | None
    uncertainty: Uncertainty
    keep_stale: bool
    run: dict[str, Any]


def _rolling(run: _Rolling, as_of: str | None, fmt: str, output: str | None, source: Any) -> None:
    """The rolling backtest (:func:`flowsim.rolling_backtest`), printed or as JSON."""
    from flowsim.sim.rolling import rolling_backtest

    if as_of is not None:
        raise click.UsageError("--as-of and --backtest do not go together (the cutoffs are dates)")
    hint = "--backtest/--backtest-from"
    dates: Literal["monthly"] | list[Any] = "monthly"
    if run.cutoffs != "monthly":
        dates = [parse_as_of(d.strip(), source.tz, hint) for d in run.cutoffs.split(",")]
    start = parse_as_of(run.start, source.tz, hint)
    process = load_or_exit(run.file)[0] if run.file is not None else None
    deal_log = read_log_or_exit(run.history, source, process=process)
    with input_errors(run.history), Progress(source.quiet, "cutoffs") as progress:
        result = rolling_backtest(
            process,
            deal_log,
            dates,
            start=start,
            horizon_hours=run.hours,
            tz=source.tz or "UTC",
            drop_stale=not run.keep_stale,
            progress=progress,
            uncertainty=run.uncertainty,
            **run.run,
        )
    emit(result.model_dump_json(indent=2) + "\n" if fmt == "json" else result.text(), output)
