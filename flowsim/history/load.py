"""Reading a deal log the way every command does: read, filter, check, apply the idle rule.

:func:`load_history` is the one path from a file (or a SQL query) to the
:class:`~flowsim.history.log.DealLog` a command works on, so Python and the command line
read a log alike. What it did is in the log's report, never printed: the import's problems
(``report.problems``), what each filter kept (``report.filters``) and notes such as the idle
rule's (``report.notes``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from flowsim.errors import OptionError
from flowsim.history import read_log
from flowsim.history.consistency import check_funnel
from flowsim.history.idle import apply_idle_rule
from flowsim.history.log import DealLog
from flowsim.history.options import ReadOptions
from flowsim.history.subset import LogFilter
from flowsim.model import Duration, DurationError, Process, parse_duration

__all__ = ["apply_idle", "load_history"]


def load_history(
    path: str | Path | None,
    options: ReadOptions | None = None,
    *,
    subset: LogFilter | None = None,
    funnel: bool = False,
    process: Process | None = None,
    idle: Duration | None = None,
    as_of: datetime | None = None,
    on_step: Callable[[str, DealLog], None] | None = None,
) -> DealLog:
    """Read a deal log as the ``flowsim`` commands do.

    In order: :func:`~flowsim.history.read_log` with ``options`` (a SQL query when
    ``options.sql`` is set); the ``subset`` filter; with ``funnel``, the checks a funnel
    needs (:func:`~flowsim.history.consistency.check_funnel`: stages ``process`` names, no
    record after a deal's close; refused, or skipped when ``options.lenient``); then the idle
    rule (``idle``, or the idle outcome of ``process``: :func:`apply_idle`), as of ``as_of``.

    Parameters
    ----------
    path : str, Path or None
        The log file (None with a SQL query).
    options : ReadOptions, optional
        How to read it (default: every reader's defaults, strict).
    subset : LogFilter, optional
        Which deals and records to keep (:func:`~flowsim.history.options.parse_filter`
        reads the command line's rules).
    funnel : bool
        Apply the funnel's checks (what ``flowsim metrics`` and :func:`flowsim.metrics`
        with a process do).
    process : Process, optional
        The designed process: its stages for the checks, its ``idle`` outcome for the rule.
    idle : duration, optional
        Open deals quiet this long are lost (``"90d"``); default: the process's idle time.
    as_of : datetime, optional
        The date the idle rule looks from (default: the log's last event).
    on_step : callable, optional
        Called with ``("filtered", log)`` once the log is read and filtered, ``("checked",
        log)`` after the checks, and ``("idle", log)`` when the idle rule applied (its note
        is the last of ``log.report.notes``): a command prints what each step did as it goes.

    Returns
    -------
    DealLog
        With its report: problems, filters and notes.

    Raises
    ------
    LogError
        The log (or the mapping) cannot be read, or fails a check, with every problem.
    OptionError
        An option's value cannot be used.
    FilterError
        A filter names a column, stage or value the log lacks.

    """
    options = options or ReadOptions()
    kwargs = options.reader_kwargs()
    if options.sql is not None:
        log = read_log(path, sql=options.sql, db=options.db, subset=subset, **kwargs)
    else:
        log = read_log(path, subset=subset, **kwargs)
    tell = on_step or (lambda step, log: None)
    tell("filtered", log)
    if funnel:
        mapping = kwargs.get("mapping")
        aliases = mapping.stage_aliases if mapping is not None else None
        log = check_funnel(log, process, lenient=options.lenient, aliases=aliases)
    tell("checked", log)
    out = apply_idle(log, idle, process, as_of)
    if out is not log:
        tell("idle", out)
    return out


def apply_idle(
    log: DealLog,
    idle: Duration | None,
    process: Process | None = None,
    as_of: datetime | None = None,
) -> DealLog:
    """The idle rule of ``idle`` or of the ``process``'s idle outcome; its note in the report.

    With a process, the deals it closes take the process's idle outcome; a process without
    one cannot name where idle deals end (an :class:`OptionError` saying what to add).
    """
    try:
        hours = None if idle is None else parse_duration(idle, what="--idle-lost")
    except DurationError as err:
        raise OptionError(err.reason, "idle") from None
    quiet = process.idle_outcome if process is not None else None
    if hours is None and quiet is not None:
        hours = quiet.idle
    if hours is None:
        return log
    if process is not None and quiet is None:
        from flowsim.dsl.formatter import fmt_duration

        written = idle if isinstance(idle, str) else fmt_duration(hours)
        raise OptionError(
            "--idle-lost needs an outcome for the deals that go quiet: add "
            f"`idle {written}` to a lost outcome of {process.name!r}"
        )
    if hours <= 0:
        raise OptionError("an idle time must be greater than 0", "idle")
    stage = (quiet.label or quiet.id) if quiet is not None else None
    out, rule = apply_idle_rule(log, hours, stage=stage, as_of=as_of, process=process)
    if out is log:  # nothing closed: a log of its own all the same, the caller's is untouched
        out = log.derive(log.frame)
    out.report = log.report.model_copy(update={"notes": [*out.report.notes, rule.note()]})
    return out
