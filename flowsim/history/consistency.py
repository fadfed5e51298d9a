"""Checks across rows that the shared per-row checks of :mod:`flowsim.history.log` do not make.

- **mixed time-zone styles** in one time column: some values carry a UTC offset and others do
  not, so the naive ones would silently be read in ``--tz``. Almost always half of the rows
  were exported by another tool or in another setting; the minority kind is refused.
- **events after the deal closed** (long tables): a record entered after the deal's first
  won/lost record. A closed deal does not move; such rows are usually a wrong deal id or a
  re-opened deal that needs a decision.
- **stages a designed process does not name** (``flowsim metrics --process``): a typo in the
  design or the export, or a stage alias pointing nowhere.

Each check refuses the log (strict: :class:`LogError` naming file, row and column) or, with
``lenient``, drops the rows and counts them in the :class:`ImportReport` under their code, so
``rows_read == rows_used + rows_skipped`` still holds.
"""

from __future__ import annotations

import difflib
from collections import Counter

import polars as pl

from flowsim.diagnostics import Diagnostic
from flowsim.history import problems as p
from flowsim.history._close import after_close, closed_at
from flowsim.history.log import MAX_PROBLEMS_PER_CODE, DealLog
from flowsim.history.mapping import outcome_of
from flowsim.history.problems import LogError, problem
from flowsim.model import Process

#: a time value that states its offset: ``Z``, ``+08:00``, ``-0500`` after a time of day
_OFFSET = r"\d[Tt ]?\d{1,2}:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:[Zz]|[+-]\d\d:?\d\d)$"


def mixed_offsets(text: pl.Series) -> pl.Series | None:
    """Rows of the minority kind when a time column mixes values with and without an offset.

    Only ISO-like values with a time of day count; ``None`` when the column is consistent.
    Ties refuse the values without an offset (their time zone is the one that is guessed).
    """
    values = text.cast(pl.String).str.strip_chars()
    present = values.is_not_null() & (values != "")
    aware = present & values.str.contains(_OFFSET)
    naive = present & ~aware & values.str.contains(r"^\d{4}-\d\d-\d\d[Tt ]\d{1,2}:\d\d")
    n_aware, n_naive = int(aware.sum()), int(naive.sum())
    if not n_aware or not n_naive:
        return None
    return aware if n_aware < n_naive else naive


def mixed_offset_problems(
    columns: dict[str, pl.Series],
    rows: pl.Series,
    *,
    source: str,
    tz: str,
    lenient: bool,
) -> tuple[list[Diagnostic], pl.Series]:
    """Problems for every time column (label → text) that mixes offset styles, and the bad rows."""
    problems: list[Diagnostic] = []
    bad = pl.Series([False] * rows.len())
    for label, text in columns.items():
        minority = mixed_offsets(text)
        if minority is None:
            continue
        bad = bad | minority
        with_offset = bool(text.filter(minority).str.contains(_OFFSET).any())
        message = (
            "mixed time zones: this time has a UTC offset, most times in the column have none"
            if with_offset
            else "mixed time zones: this time has no UTC offset, most times in the column have one"
        )
        for row, value in list(
            zip(rows.filter(minority).to_list(), text.filter(minority).to_list(), strict=True)
        )[:MAX_PROBLEMS_PER_CODE]:
            problems.append(
                problem(
                    kind=p.MIXED_TIMEZONE,
                    severity="warning" if lenient else "error",
                    source=source,
                    row=int(row),
                    column=label,
                    message=message,
                    value=str(value),
                    hint=f"times without an offset would be read in --tz {tz}; export every "
                    "time the same way, or pass --lenient to skip these rows",
                )
            )
    return problems, bad


def _omitted(problems: list[Diagnostic], found: int | None = None) -> dict[str, int]:
    """Per code, the problems past :data:`MAX_PROBLEMS_PER_CODE` (not listed).

    ``found``: how many rows the problems are about when ``problems`` was capped already
    (one code): the difference is omitted too.
    """
    counts = Counter(q.code for q in problems[MAX_PROBLEMS_PER_CODE:])
    if found is not None and problems and found > len(problems):
        counts[problems[0].code] += found - len(problems)
    return dict(counts)


def drop_records(
    log: DealLog,
    bad: pl.Series,
    code: str,
    problems: list[Diagnostic],
    *,
    weight: pl.Series,
    found: int | None = None,
) -> DealLog:
    """``log`` without the records where ``bad``; their ``weight`` (source rows) is skipped.

    ``found``: the number of problems when ``problems`` lists only the first ones.
    """
    report = log.report
    n = int(weight.filter(bad).sum())
    frame = log.frame.filter(~bad)
    reasons = dict(report.skipped_by_reason)
    reasons[code] = reasons.get(code, 0) + n
    report.skipped_by_reason = dict(sorted(reasons.items()))
    report.rows_used -= n
    report.rows_skipped += n
    report.records = frame.height
    report.add_problems(problems[:MAX_PROBLEMS_PER_CODE], _omitted(problems, found))
    return log.derive(frame, report)


def _record_weights(log: DealLog) -> pl.Series:
    """Source rows per record: 1 for tables, events of the instance for XES.

    An XES instance is its first event plus a separate start (a start later than the entry)
    plus a completion: an instant event counts 1, start+complete 2, schedule+start+complete 3.
    """
    f = log.frame
    if log.report.format != "xes":
        return pl.Series([1] * f.height, dtype=pl.Int64)
    return f.select(
        (
            1
            + (pl.col("started_at").is_not_null() & (pl.col("started_at") != pl.col("entered_at")))
            .fill_null(False)
            .cast(pl.Int64)
            + pl.col("left_at").is_not_null().cast(pl.Int64)
        ).alias("w")
    ).to_series()


def entered_column(log: DealLog) -> str | None:
    """The source column that gave ``entered_at``, for messages (``None`` when several did)."""
    mapping = log.report.mapping
    if log.report.format == "xes":
        return "time:timestamp"
    return next((mapping[f] for f in ("timestamp", "start", "end") if f in mapping), None)


def events_after_close(
    log: DealLog,
    *,
    lenient: bool,
    outcomes: dict[str, str] | None = None,
    process: Process | None = None,
) -> DealLog:
    """Refuse (or with ``lenient`` skip) records entered after the deal's first outcome record.

    The outcomes are the ``process``'s (by id or label) when given, else the mapping's
    ``outcomes`` values, else stages named Won/Lost/Closed Won/Closed Lost. Records at the
    same instant as the close are not "after" it. The import does not refuse these rows:
    ``flowsim conformance`` reports them as findings (``after-outcome``); ``flowsim metrics``
    does, since a funnel with moves out of an outcome is not one.
    """
    f = log.frame
    if f.height == 0:
        return log
    values = f["stage"].unique().to_list()
    if process is not None:
        ends = {o.id for o in process.outcomes}
        closing = [s for s in values if process.find_node(s) in ends]
    else:
        closing = [s for s in values if outcome_of(outcomes or {}, s) is not None]
    column = entered_column(log)
    if not closing:
        return log
    after = f.select(after_close(closing)).to_series()
    if not after.any():  # the common case: one window over the log, nothing more
        return log
    late = f.with_columns(
        closed_at=closed_at(closing),
        closed_as=pl.col("stage").filter(pl.col("stage").is_in(closing)).first().over("deal"),
    ).filter(after)
    problems = [
        problem(
            kind=p.EVENT_AFTER_CLOSE,
            severity="warning" if lenient else "error",
            source=log.report.source,
            row=int(row),
            column=column,
            message=f"enters '{stage}' after the deal closed "
            f"('{closed_as}' at {at:%Y-%m-%d %H:%M} UTC)",
            hint="a closed deal does not move: check the deal id, or remove the later rows "
            "(--lenient skips them)",
        )
        for row, stage, closed_as, at in late.select(
            "source_row", "stage", "closed_as", "closed_at"
        ).iter_rows()
    ]
    if not lenient:
        raise LogError(problems[:MAX_PROBLEMS_PER_CODE], _omitted(problems))
    return drop_records(log, after, p.EVENT_AFTER_CLOSE, problems, weight=_record_weights(log))


def unknown_stages(
    log: DealLog,
    process: Process,
    *,
    lenient: bool,
    aliases: dict[str, str] | None = None,
) -> DealLog:
    """Refuse (or with ``lenient`` skip) records whose stage the process does not name.

    A stage matches a stage or outcome of ``process`` by id or label, case-insensitive (the
    metrics' rule). In the wide shape the whole deal row is skipped, as for any bad value of
    a row. ``aliases`` (the mapping's ``[stages]``) explain where a renamed value came from.
    """
    f = log.frame
    values = f["stage"].unique().to_list()
    unknown = sorted(v for v in values if process.find_node(v) is None)
    if not unknown:
        return log
    report = log.report
    column = report.mapping.get("stage") or ("concept:name" if report.format == "xes" else None)
    origin = {target: source for source, target in (aliases or {}).items()}
    bad = f["stage"].is_in(unknown)
    if report.shape == "wide":
        bad = f["source_row"].is_in(f["source_row"].filter(bad).implode())
    names = process.node_names()
    problems: list[Diagnostic] = []
    for row, stage in f.filter(f["stage"].is_in(unknown)).select("source_row", "stage").iter_rows():
        close = difflib.get_close_matches(stage.casefold(), list(names), n=1, cutoff=0.6)
        hint = f"did you mean '{names[close[0]]}'?" if close else "no similar stage"
        if stage in origin:
            hint += f"; it comes from the stage alias '{origin[stage]}' = '{stage}'"
        hint += "; add the stage to the .flow file, or alias it in the mapping's [stages]"
        problems.append(
            problem(
                kind=p.UNKNOWN_STAGE,
                severity="warning" if lenient else "error",
                source=report.source,
                row=int(row),
                column=column,
                message="stage not in the process",
                value=stage,
                hint=hint,
            )
        )
    problems.sort(key=lambda q: q.row or 0)
    if not lenient:
        raise LogError(problems[:MAX_PROBLEMS_PER_CODE], _omitted(problems))
    if report.shape == "wide":
        first = f["source_row"].is_first_distinct()
        weight = first.cast(pl.Int64)
    else:
        weight = _record_weights(log)
    return drop_records(log, bad, p.UNKNOWN_STAGE, problems, weight=weight)


def to_node_ids(log: DealLog, process: Process) -> DealLog:
    """``log`` with each stage value that names a node of ``process`` (id or label) replaced
    by the node's id; other values are kept as they are. One rename of the distinct values,
    not a lookup per row."""
    rename = {
        name: node
        for name in log.frame["stage"].unique().to_list()
        if (node := process.find_node(name)) is not None and node != name
    }
    if not rename:
        return log
    return log.derive(log.frame.with_columns(pl.col("stage").replace(rename)))


def check_funnel(
    log: DealLog,
    process: Process | None = None,
    *,
    lenient: bool = False,
    aliases: dict[str, str] | None = None,
) -> DealLog:
    """What a funnel needs of a log: stages the design names and no move out of an outcome.

    With ``process``, records of stages it does not name (:func:`unknown_stages`); then
    records entered after the deal closed (:func:`events_after_close`, by the process's
    outcomes, else the log's declared ones, else the names). Strict, a problem raises
    :class:`LogError` with its rows; ``lenient`` skips those rows, counted in the report.
    A log runs the checks once per process (``DealLog.funnel_checked``): ``flowsim
    metrics`` checks while it reads, :func:`flowsim.metrics` with a process checks what it
    is given, and a log both read and measured is not checked twice.
    """
    if any(checked is process for checked in log.funnel_checked):
        return log
    if process is not None:
        log = unknown_stages(log, process, lenient=lenient, aliases=aliases)
    out = events_after_close(log, lenient=lenient, outcomes=log.outcomes or None, process=process)
    out.funnel_checked = (*out.funnel_checked, process)
    return out
