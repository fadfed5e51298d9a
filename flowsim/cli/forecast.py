"""The forecast command: wins and revenue ahead, one backtest or a rolling one."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import click

from flowsim.cli._common import (
    Progress,
    emit,
    format_option,
    guard,
    load_or_exit,
    parse_as_of,
    to_hours,
    usage_error,
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
@click.option(
    "--replications",
    "-n",
    type=click.IntRange(1),
    help="Monte Carlo runs (default 200; 50 per cutoff with --backtest).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--workers", type=click.IntRange(1), help="Local worker processes (default: cores).")
@click.option("--cluster", help="Run replications on this Dask scheduler (tcp://host:8786).")
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
    replications: int | None,
    seed: int,
    workers: int | None,
    cluster: str | None,
    keep_stale: bool,
    uncertainty: Uncertainty,
    fmt: str,
    output: str | None,
    source: LogSource,
) -> None:
    """Forecast wins and revenue from the open pipeline, beside the CRM weighted pipeline
    and the baselines; or, with --backtest, score every method from many cutoffs."""
    from flowsim.sim.outlook import EmptyHistory, horizon_hours, outlook

    try:
        hours = horizon_hours(to_hours(horizon, "--horizon") or 0.0)
    except OptionError as err:
        raise usage_error(err) from None
    if cutoffs is not None:
        run = _Rolling(
            file, history, hours, cutoffs, start, replications, seed, workers, cluster, uncertainty
        )
        _rolling(run, as_of, keep_stale, fmt, output, source)
        return
    if file is None:
        raise click.UsageError("give the model FILE (only --backtest can discover one)")
    if start is not None:
        raise click.UsageError("--backtest-from goes with --backtest monthly")
    process = load_or_exit(file)[0]
    try:
        when = parse_as_of(as_of, source.tz) if as_of is not None else None
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--as-of") from None
    deal_log = read_log_or_exit(history, source, process=process, as_of=when)
    try:
        with Progress(source.quiet) as progress:
            found = outlook(
                process,
                deal_log,
                horizon=hours,
                as_of=when,
                replications=replications or 200,
                seed=seed,
                workers=workers,
                cluster=cluster,
                drop_stale=not keep_stale,
                progress=progress,
                uncertainty=uncertainty,
            )
    except EmptyHistory as err:
        click.echo(f"flowsim: {history}: {err}", err=True)
        sys.exit(1)
    except (ValueError, RuntimeError) as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    emit(found.to_json() + "\n" if fmt == "json" else found.text(), output)


@dataclass(frozen=True)
class _Rolling:
    """What ``flowsim forecast --backtest`` was asked."""

    file: str | None
    history: str
    hours: float
    cutoffs: str
    start: str | None
    replications: int | None
    seed: int
    workers: int | None
    cluster: str | None
    uncertainty: Uncertainty


def _rolling(
    run: _Rolling, as_of: str | None, keep_stale: bool, fmt: str, output: str | None, source: Any
) -> None:
    """The rolling backtest (:func:`flowsim.rolling_backtest`), printed or as JSON."""
    from flowsim.sim.rolling import ROLLING_REPLICATIONS, rolling_backtest

    if as_of is not None:
        raise click.UsageError("--as-of and --backtest do not go together (the cutoffs are dates)")
    dates: Literal["monthly"] | list[Any] = "monthly"
    try:
        if run.cutoffs != "monthly":
            dates = [parse_as_of(d.strip(), source.tz) for d in run.cutoffs.split(",")]
        start = parse_as_of(run.start, source.tz) if run.start is not None else None
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--backtest/--backtest-from") from None
    if run.start is not None and dates != "monthly":
        raise click.UsageError("--backtest-from goes with --backtest monthly")
    process = load_or_exit(run.file)[0] if run.file is not None else None
    deal_log = read_log_or_exit(run.history, source, process=process)
    try:
        with Progress(source.quiet, "cutoffs") as progress:
            result = rolling_backtest(
                process,
                deal_log,
                dates,
                start=start,
                horizon_hours=run.hours,
                seed=run.seed,
                workers=run.workers,
                cluster=run.cluster,
                tz=source.tz or "UTC",
                drop_stale=not keep_stale,
                progress=progress,
                replications=run.replications or ROLLING_REPLICATIONS,
                uncertainty=run.uncertainty,
            )
    except (ValueError, RuntimeError) as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    emit(result.model_dump_json(indent=2) + "\n" if fmt == "json" else result.text(), output)
