"""The wide shape: one row per deal, one date column per stage.

Three layouts, told apart by :meth:`flowsim.history.mapping.Mapping.resolve`:

- **Maven CRM** ``sales_pipeline.csv`` (``opportunity_id, sales_agent, product, account,
  deal_stage, engage_date, close_date, close_value``): "Engaging" at ``engage_date`` and the
  row's ``deal_stage`` (Won/Lost) at ``close_date``;
- **HubSpot** deal exports: an event at each non-empty ``hs_v2_date_entered_<stage>`` (or the
  UI export's ``Date entered "<stage>"``), left at the matching ``..._exited_<stage>``;
- **generic**: ``Mapping(stage_dates={"contact": "date_contact", ...}, close_date=...)``.

Each row becomes zero or more events. Every check works on whole columns and names the row
and the column; a row with a problem is skipped whole (``lenient``) or refused. A row without
any date (Maven's Prospecting deals: open, in an undated stage) is skipped and counted as
``deal-without-events`` with a warning in both modes, never dropped silently. Row accounting
is per deal row: ``rows_read == rows_used + rows_skipped``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from flowsim.history import problems as p
from flowsim.history.amounts import DecimalMark, read_amounts
from flowsim.history.consistency import mixed_offsets
from flowsim.history.log import (
    UTC_US,
    DealLog,
    ImportReport,
    RowChecks,
    assemble,
    check_amounts,
)
from flowsim.history.mapping import PIPEDRIVE_CREATED, ResolvedMapping, outcome_of
from flowsim.history.problems import problem
from flowsim.history.timestamps import parse_timestamps, unreadable_column


def _text(series: pl.Series) -> pl.Series:
    text = series.cast(pl.String).str.strip_chars()
    return pl.select(pl.when(pl.lit(text) != "").then(pl.lit(text))).to_series()


@dataclass(frozen=True)
class _DateOptions:
    """How the date cells of a wide table read: the reader's options, passed as one."""

    tz: str
    dayfirst: bool | None
    date_format: str | None


class _DateColumns:
    """Reads the date columns of one wide table, flagging mixed zones and unparseable cells.

    A callable (``dates(column) -> values``) so that the snapshot reader can share it; it
    remembers the rows where any date failed (``failed``), because a row whose date did not
    read must not be blamed again for a missing date or for having no events.
    """

    def __init__(
        self, table: pl.DataFrame, checks: RowChecks, report: ImportReport, options: _DateOptions
    ) -> None:
        self.table = table
        self.checks = checks
        self.report = report
        self.options = options
        self.failed = pl.Series([False] * table.height)

    def __call__(self, column: str) -> pl.Series:
        """The column's times in UTC (null where empty or unreadable), its problems flagged."""
        table, checks, tz = self.table, self.checks, self.options.tz
        source = self.report.source
        mixed = mixed_offsets(table[column])
        if mixed is not None:
            checks.flag(
                p.MIXED_TIMEZONE,
                mixed,
                message="mixed time zones: some times in the column have a UTC offset, "
                "others none; this one is of the fewer kind",
                column=column,
                values=table[column],
                hint=f"times without an offset would be read in --tz {tz}; export every time "
                "the same way, or pass --lenient to skip these rows",
            )
        date_format = self.options.date_format
        parsed = parse_timestamps(
            table[column],
            column=column,
            tz=tz,
            dayfirst=self.options.dayfirst,
            date_format=date_format,
        )
        self.report.timestamp_formats[column] = parsed.format
        for note in parsed.notes:
            checks.note(note.model_copy(update={"column": column, "source": source}))
        checks.flag(
            p.BAD_DATE,
            parsed.failed,
            message="unparseable date",
            column=column,
            values=table[column],
            hint=f"the column reads as {parsed.format}; a local time in a DST gap fails too",
            summary=unreadable_column(
                parsed, table[column], label=column, source=source, date_format=date_format
            ),
        )
        self.failed = self.failed | parsed.failed
        return parsed.values


@dataclass(frozen=True)
class _Dated:
    """The dated cells of a wide table, per row: the stage entries and exits, the close.

    ``snapshot`` holds the (stage, time) event columns of a Pipedrive-style export.
    """

    entered: dict[str, pl.Series]
    exited: dict[str, pl.Series]
    closed: pl.Series | None
    snapshot: list[tuple[pl.Series, pl.Series]]

    def any_date(self, n: int) -> pl.Series:
        """Rows with at least one dated event: the others cannot enter the timeline."""
        any_date = pl.Series([False] * n)
        for when in [
            *self.entered.values(),
            *([self.closed] if self.closed is not None else []),
            *(event[1] for event in self.snapshot),
        ]:
            any_date = any_date | when.is_not_null()
        return any_date


def wide_log(
    table: pl.DataFrame,
    resolved: ResolvedMapping,
    report: ImportReport,
    *,
    source_rows: pl.Series,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal: DecimalMark | None = None,
    lenient: bool = False,
) -> DealLog:
    """Turn a wide table of strings into a :class:`DealLog` (see the module doc).

    The steps run in a fixed order (ids, dates, closes, order, snapshot, amounts), because
    the problems are listed in the order they are found.
    """
    checks = RowChecks(report.source, source_rows, lenient=lenient)
    cols = resolved.columns
    deal = _deal_ids(table, cols["deal"], checks)
    stage = _text(table[cols["stage"]]) if "stage" in cols else None
    dates = _DateColumns(table, checks, report, _DateOptions(tz, dayfirst, date_format))
    entered, exited = _stage_dates(table, resolved, checks, dates)
    closed = _close_dates(table, resolved, stage, entered, checks, dates)
    if resolved.check_order:
        _check_order(table, resolved, entered, checks)
    snapshot = _snapshot_events(table, resolved, checks, dates) if resolved.created_column else []
    dated = _Dated(entered, exited, closed, snapshot)
    amount = _amounts(table, cols.get("amount"), checks, decimal)
    any_date = dated.any_date(table.height)
    # no date and no stage either: nothing says where the deal is (Maven's Prospecting deals
    # at least name their undated stage, and are counted below)
    failed_any = dates.failed
    checks.flag(
        p.DEAL_WITHOUT_EVENTS,
        ~any_date & ~failed_any & (stage.is_null() if stage is not None else ~failed_any),
        message="deal without any events (no stage and no stage date)",
        column=cols["deal"],
        values=deal,
        hint="fill in the date the deal entered its stage, or remove the row",
    )
    checks.raise_if_strict()
    keep = _account(checks, report, stage, any_date, source_rows, cols.get("stage"))
    owner = _text(table[cols["owner"]]) if "owner" in cols else pl.Series([None] * table.height)
    base = pl.DataFrame(
        {"deal": deal, "owner": owner.cast(pl.String), "amount": amount, "source_row": source_rows}
    )
    cand = _candidates(base, dated, stage, keep)
    if resolved.stage_aliases:
        cand = cand.with_columns(pl.col("stage").replace(resolved.stage_aliases))
    event_checks = RowChecks(report.source, cand["source_row"], lenient=lenient)
    first_date = next(
        iter(resolved.stage_dates.values()),
        resolved.close_column or resolved.created_column or cols["deal"],
    )
    log = assemble(cand, event_checks, report, entered_column=first_date)
    log.roles = dict(resolved.roles)
    if resolved.roles and "owner" in cols:
        note_unknown_owners(log, cols["owner"])
    return log


def _deal_ids(table: pl.DataFrame, column: str, checks: RowChecks) -> pl.Series:
    """The deal id of each row; empty and repeated ids flagged (one row per deal)."""
    deal = _text(table[column])
    checks.flag(
        p.EMPTY_DEAL,
        deal.is_null(),
        message="empty deal id",
        column=column,
        hint="every row needs the deal it describes",
    )
    checks.flag(
        p.DUPLICATE_DEAL,
        deal.is_not_null() & ~deal.is_first_distinct(),
        message="the deal is on an earlier row too",
        column=column,
        values=deal,
        hint="a wide export has one row per deal; remove the repeated row",
    )
    return deal


def _amounts(
    table: pl.DataFrame, column: str | None, checks: RowChecks, decimal: DecimalMark | None
) -> pl.Series:
    """The amount of each row (null without an amount column); bad numbers flagged."""
    if column is None:
        return pl.Series([None] * table.height, dtype=pl.Float64)
    read = read_amounts(_text(table[column]), decimal)
    return check_amounts(read, table[column], checks, column)


def _stage_dates(
    table: pl.DataFrame, resolved: ResolvedMapping, checks: RowChecks, dates: _DateColumns
) -> tuple[dict[str, pl.Series], dict[str, pl.Series]]:
    """When each row entered and left each dated stage; a stay that ends before it starts
    is flagged (usually the two columns are in different time zones)."""
    entered = {s: dates(c) for s, c in resolved.stage_dates.items()}
    exited = {s: dates(c) for s, c in resolved.stage_exits.items()}
    for s, left in exited.items():
        checks.flag(
            p.NEGATIVE_DURATION,
            left < entered[s],
            message="left the stage before entering it (negative duration)",
            column=resolved.stage_exits[s],
            values=table[resolved.stage_exits[s]],
            hint="check the time zones of the entered and exited columns",
        )
    return entered, exited


def _close_dates(
    table: pl.DataFrame,
    resolved: ResolvedMapping,
    stage: pl.Series | None,
    entered: dict[str, pl.Series],
    checks: RowChecks,
    dates: _DateColumns,
) -> pl.Series | None:
    """The close date of each row (Maven's ``close_date``), or None without a close column.

    A close needs an outcome stage and an outcome stage needs a close; no stage may be
    entered after it. Rows whose dates did not read are not blamed for a missing close.
    """
    close_col = resolved.close_column
    if close_col is None or stage is None:
        return None
    closed = dates(close_col)
    kinds = {v: outcome_of(resolved.outcomes, v) for v in stage.drop_nulls().unique()}
    outcome = stage.replace_strict(kinds, default=None, return_dtype=pl.String)
    is_outcome = outcome.is_not_null()
    checks.flag(
        p.MISSING_DATE,
        is_outcome & closed.is_null() & ~dates.failed,
        message="closed deal without a close date",
        column=close_col,
        hint="every won or lost deal needs the date it closed",
    )
    checks.flag(
        p.CLOSE_WITHOUT_OUTCOME,
        closed.is_not_null() & ~is_outcome,
        message="has a close date but its stage is not an outcome",
        column=resolved.columns["stage"],
        values=stage,
        hint="name the won/lost values in the mapping's [outcomes] table",
    )
    for s, when in entered.items():
        checks.flag(
            p.EVENT_AFTER_CLOSE,
            when > closed,
            message=f"enters '{s}' after the deal closed",
            column=resolved.stage_dates[s],
            values=table[resolved.stage_dates[s]],
            hint="check the date columns and their time zones",
        )
    return closed


def _check_order(
    table: pl.DataFrame, resolved: ResolvedMapping, entered: dict[str, pl.Series], checks: RowChecks
) -> None:
    """Flag a stage entered after an outcome stage's date (a HubSpot deal closed, then moved)."""
    closing = [s for s in entered if outcome_of(resolved.outcomes, s) is not None]
    for end in closing:
        for s, when in entered.items():
            if s in closing:
                continue
            checks.flag(
                p.EVENT_AFTER_CLOSE,
                when > entered[end],
                message=f"enters '{s}' after the deal closed as '{end}'",
                column=resolved.stage_dates[s],
                values=table[resolved.stage_dates[s]],
                hint=f"compare with {resolved.stage_dates[end]}; check the dates and their "
                "time zones (--lenient skips the row)",
            )


def _account(
    checks: RowChecks,
    report: ImportReport,
    stage: pl.Series | None,
    any_date: pl.Series,
    source_rows: pl.Series,
    stage_column: str | None,
) -> pl.Series:
    """Count the rows skipped here in ``report`` and return the rows kept.

    Skipped are the bad rows, then the rows without any dated event (open in an undated
    stage: a warning, never dropped silently), so that ``rows_read == rows_used + skipped``.
    """
    bad = checks.bad
    skipped: Counter[str] = Counter(checks.reason.filter(bad).to_list())
    empty = ~bad & ~any_date
    if empty.any():
        checks.note_many(
            p.DEAL_WITHOUT_EVENTS,
            source_rows.filter(empty).to_list(),
            stage.filter(empty).to_list() if stage is not None else None,
            message="deal without any dated stage (open in an undated stage), skipped",
            column=stage_column,
            hint="its stage has no date column; it cannot enter the timeline",
            severity="warning",
        )
        skipped[p.DEAL_WITHOUT_EVENTS] += int(empty.sum())
    report.rows_skipped = sum(skipped.values())
    report.skipped_by_reason = dict(sorted(skipped.items()))
    report.problems = []
    report.add_problems(checks.problems, checks.omitted)
    return ~bad & any_date


def _candidates(
    base: pl.DataFrame, dated: _Dated, stage: pl.Series | None, keep: pl.Series
) -> pl.DataFrame:
    """The kept rows' events in the long shape, in row order then column order.

    One part per stage date column, then the close (the row's own outcome stage), then the
    snapshot events; ``sources`` counts each deal row once in ``rows_used``.
    """
    n = base.height
    null_time = pl.Series([None] * n, dtype=UTC_US)
    parts: list[pl.DataFrame] = []
    events = [(s, dated.entered[s], dated.exited.get(s, null_time)) for s in dated.entered]
    for order, (s, when, left) in enumerate(events):
        parts.append(
            base.with_columns(
                stage=pl.lit(s, dtype=pl.String),
                entered_at=when,
                left_at=left,
                order=pl.lit(order),
            ).filter(keep & when.is_not_null())
        )
    closed = dated.closed
    if closed is not None and stage is not None:
        parts.append(
            base.with_columns(
                stage=stage, entered_at=closed, left_at=null_time, order=pl.lit(len(events))
            ).filter(keep & closed.is_not_null())
        )
    for order, (names, when) in enumerate(dated.snapshot, start=len(parts)):
        parts.append(
            base.with_columns(
                stage=names, entered_at=when, left_at=null_time, order=pl.lit(order)
            ).filter(keep & when.is_not_null() & names.is_not_null())
        )
    return (
        pl.concat(parts, how="diagonal")
        .sort(["source_row", "order"], maintain_order=True)
        .with_columns(
            started_at=pl.lit(None, dtype=UTC_US),
            # each deal row counts once in rows_used: on its first event
            sources=pl.col("source_row").is_first_distinct().cast(pl.Int64),
        )
    )


def _snapshot_events(
    table: pl.DataFrame,
    resolved: ResolvedMapping,
    checks: RowChecks,
    dates: Callable[[str], pl.Series],
) -> list[tuple[pl.Series, pl.Series]]:
    """A Pipedrive-style snapshot as (stage per row, entered at per row) event columns.

    The export holds the current stage, when it was last changed, the status and its date,
    but no stage history. So a deal gets: its current stage from the last stage change (from
    its creation when it never moved); before that, when it moved, a ``created`` record at
    its creation (the earlier stages are unknown: alias ``created`` to your first stage in
    the mapping's ``[stages]`` if deals are always created there); and its status Won/Lost at
    the won/lost time.
    """
    created, current_at, moved = _snapshot_times(table, resolved, checks, dates)
    events: list[tuple[pl.Series, pl.Series]] = [
        (
            pl.Series([PIPEDRIVE_CREATED] * table.height, dtype=pl.String),
            pl.select(pl.when(pl.lit(moved)).then(pl.lit(created))).to_series(),
        ),
        (_text(table[resolved.columns["stage"]]), current_at),
    ]
    if resolved.status_column is not None:
        events.append(_snapshot_status(table, resolved, checks, dates, current_at))
    return events


def _snapshot_times(
    table: pl.DataFrame,
    resolved: ResolvedMapping,
    checks: RowChecks,
    dates: Callable[[str], pl.Series],
) -> tuple[pl.Series, pl.Series, pl.Series]:
    """(created, entered the current stage, moved since creation) per row of a snapshot.

    A deal that never moved entered its current stage when it was created; a stage change
    before the creation is flagged.
    """
    created_col = resolved.created_column
    assert created_col is not None
    created = dates(created_col)
    since = (
        dates(resolved.since_column)
        if resolved.since_column
        else pl.Series([None] * table.height, dtype=UTC_US)
    )
    checks.flag(
        p.MISSING_DATE,
        created.is_null() & table[created_col].is_null(),
        message="deal without a creation date",
        column=created_col,
        hint="every deal needs the date it was created",
    )
    if resolved.since_column:
        checks.flag(
            p.NEGATIVE_DURATION,
            since < created,
            message="stage changed before the deal was created",
            column=resolved.since_column,
            values=table[resolved.since_column],
            hint=f"compare with {created_col}; check the time zones of the two columns",
        )
    moved = (since > created).fill_null(False)
    current_at = pl.select(
        pl.when(pl.lit(moved)).then(pl.lit(since)).otherwise(pl.lit(created))
    ).to_series()
    return created, current_at, moved


def _snapshot_status(
    table: pl.DataFrame,
    resolved: ResolvedMapping,
    checks: RowChecks,
    dates: Callable[[str], pl.Series],
    current_at: pl.Series,
) -> tuple[pl.Series, pl.Series]:
    """The Won/Lost status event of each snapshot row (null where still open).

    A closed deal needs its won/lost time, and its stage may not change after it.
    """
    status_col = resolved.status_column
    assert status_col is not None
    status = _text(table[status_col])
    kinds = {v: outcome_of(resolved.outcomes, v) for v in status.drop_nulls().unique()}
    kind = status.replace_strict(kinds, default=None, return_dtype=pl.String)
    closed = pl.Series([None] * table.height, dtype=UTC_US)
    for outcome, column in resolved.outcome_dates.items():
        closed = pl.select(
            pl.when(pl.lit(kind) == outcome).then(pl.lit(dates(column))).otherwise(pl.lit(closed))
        ).to_series()
    won_or_lost = kind.is_not_null()
    checks.flag(
        p.MISSING_DATE,
        won_or_lost & closed.is_null(),
        message="won or lost deal without its won/lost time",
        column=status_col,
        values=status,
        hint="every won or lost deal needs the time it closed: "
        + " / ".join(resolved.outcome_dates.values()),
    )
    if resolved.since_column is not None:
        checks.flag(
            p.EVENT_AFTER_CLOSE,
            won_or_lost & (current_at > closed),
            message="the stage changed after the deal closed",
            column=resolved.since_column,
            values=table[resolved.since_column],
            hint="compare with the won/lost time; check the dates and their time zones",
        )
    return pl.select(pl.when(pl.lit(won_or_lost)).then(pl.lit(status))).to_series(), closed


def note_unknown_owners(log: DealLog, column: str) -> None:
    """A warning listing owners that the owner → role table does not know."""
    owners = log.frame["owner"].drop_nulls().unique().sort().to_list()
    unknown = [o for o in owners if o not in log.roles]
    if unknown:
        shown = ", ".join(unknown[:10]) + (
            f" and {len(unknown) - 10} more" if len(unknown) > 10 else ""
        )
        log.report.problems.append(
            problem(
                kind=p.OWNER_WITHOUT_ROLE,
                severity="warning",
                source=log.report.source,
                column=column,
                message=f"{len(unknown)} owner(s) not in the owner → role table: {shown}",
                hint="add them to the table, or their deals have no role in --by role",
            )
        )
