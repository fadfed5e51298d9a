"""What every command shares: the error guard, output, loading a .flow file, progress."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import Any, TypeVar

import click

from flowsim._extras import MissingExtra
from flowsim._output import OutputError, write_output
from flowsim.api import CheckResult, check_file, check_text
from flowsim.diagnostics import format_diagnostics
from flowsim.errors import OptionError
from flowsim.model import DurationError, Process, parse_duration

F = TypeVar("F", bound=Callable[..., Any])


def guard(func: F) -> F:
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


def check_path(path: str) -> CheckResult:
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


def load_or_exit(path: str) -> tuple[Process, CheckResult]:
    result = check_path(path)
    if result.process is None or result.errors:
        click.echo(result.render(), err=True)
        click.echo(f"{result.filename}: {len(result.errors)} error(s)", err=True)
        sys.exit(1)
    return result.process, result


def emit(text: str, output: str | None) -> None:
    if output in (None, "-"):
        click.echo(text, nl=not text.endswith("\n"))
    else:
        assert output is not None
        write_output(output, text)


#: the command-line option of each :class:`~flowsim.errors.OptionError` parameter
_OPTION_FLAGS = {
    "mapping": "--map",
    "where": "--where",
    "start": "--from",
    "end": "--to",
    "idle": "--idle-lost",
    "horizon": "--horizon",
    "sweep": "--sweep",
}


def usage_error(err: OptionError) -> click.UsageError:
    """The usage error (exit 2) of an option the API refused, naming the flag when it can."""
    flag = _OPTION_FLAGS.get(err.option or "")
    if flag is None:
        return click.UsageError(err.message)
    return click.BadParameter(err.message, param_hint=flag)


def parse_as_of(text: str | None, tz: str, hint: str = "--as-of") -> Any:
    """A date option (``--as-of``) as a datetime, naive ones in ``tz``; None when not given.

    A date that cannot be read is a usage error naming ``hint``.
    """
    import datetime as dt
    import zoneinfo

    if text is None:
        return None
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint=hint) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=zoneinfo.ZoneInfo(tz))
    return value


def with_scenario(process: Process, scenario: str | None) -> Process:
    """``--scenario``: the process under that scenario (a usage error if it has none)."""
    if scenario is None:
        return process
    try:
        return process.with_scenario(scenario)
    except KeyError as err:
        raise click.BadParameter(str(err.args[0]), param_hint="--scenario") from None


def to_hours(text: str | None, param: str) -> float | None:
    """``180d``, ``12w``, ``36h`` → hours, read as the API reads them; a usage error if bad."""
    if text is None:
        return None
    try:
        return parse_duration(text, what=param)
    except DurationError as err:
        raise click.BadParameter(err.reason, param_hint=param) from None


class Progress:
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

    def __enter__(self) -> Progress:
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


class Steps:
    """The job's steps on a terminal (a rich status line); quiet when asked or not a TTY."""

    def __init__(self, quiet: bool) -> None:
        self.status: Any = None
        if not quiet and sys.stderr.isatty():
            from rich.console import Console

            self.status = Console(stderr=True).status("starting")

    def __enter__(self) -> Steps:
        if self.status is not None:
            self.status.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.status is not None:
            self.status.__exit__(*exc)

    def __call__(self, name: str) -> None:
        if self.status is not None:
            self.status.update(name)


@contextmanager
def input_errors(history: str | None) -> Iterator[None]:
    """A model or history the run cannot use: one line and exit 1, never a traceback.

    ``RuntimeError`` is executor trouble (an unreachable ``--cluster``), also the user's input.
    """
    from flowsim.sim.outlook import EmptyHistory
    from flowsim.sim.replay import UnknownStages

    try:
        yield
    except OptionError as err:  # options that do not go together, refused by the API
        raise usage_error(err) from None
    except (UnknownStages, EmptyHistory) as err:
        click.echo(f"flowsim: {history}: {err}", err=True)
        sys.exit(1)
    except (ValueError, RuntimeError) as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)


def format_option(
    choices: list[str], *, default: str | None, help: str | None = None
) -> Callable[[F], F]:
    """``--format`` (as ``fmt``): the one option every command that writes a result has."""
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(choices),
        default=default,
        show_default=default is not None,
        help=help,
    )


#: what ``@sim_options`` can declare besides ``--replications`` and ``--seed``, in order
_RUN_OPTIONS: dict[str, Callable[[Any], Any]] = {
    "until": lambda text: click.option("--until", help=text),
    "warmup": lambda _: click.option(
        "--warmup", help="Leave this first stretch out of the statistics (default 30d)."
    ),
    "workers": lambda _: click.option(
        "--workers", type=click.IntRange(1), help="Local worker processes (default: cores)."
    ),
    "cluster": lambda _: click.option(
        "--cluster", help="Run replications on this Dask scheduler (tcp://host:8786)."
    ),
}


def sim_options(
    replications: tuple[int, int | None, str | None] = (1, 30, None), **declared: Any
) -> Callable[[F], F]:
    """The run options of a command that simulates, handed over as one dict ``run``.

    ``replications`` is ``--replications``'s (minimum, default, help); ``--seed`` always
    follows; ``declared`` names the others (``until="help"``, ``warmup=True``,
    ``workers=True``, ``cluster=True``). ``run`` holds the API's keywords of the options
    given (the API's defaults stand for the others): ``until`` and ``warmup`` in hours,
    read as the API reads durations (a usage error if bad).
    """
    low, default, text = replications
    options = [
        click.option(
            "--replications",
            "-n",
            type=click.IntRange(low),
            default=default,
            show_default=default is not None,
            help=text,
        ),
        click.option("--seed", type=int, default=0, show_default=True),
    ]
    names = ["replications", "seed", *(n for n in _RUN_OPTIONS if declared.get(n))]
    options += [_RUN_OPTIONS[n](declared[n]) for n in names[2:]]

    def decorate(func: F) -> F:
        @wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            given = {name: kwargs.pop(name) for name in names}
            run = {
                n: to_hours(v, f"--{n}") if n in ("until", "warmup") else v
                for n, v in given.items()
            }
            return func(*args, run={n: v for n, v in run.items() if v is not None}, **kwargs)

        for option in reversed(options):
            wrapper = option(wrapper)
        return wrapper  # type: ignore[return-value]

    return decorate
