"""The one internal deal/event log every importer feeds: :class:`DealLog` and its report.

A ``DealLog`` is a polars DataFrame with a fixed schema (:data:`SCHEMA`), one row per stay of
a deal in a stage (or per activity instance of an event log), sorted by
``(deal, entered_at, source_row)``. Importers build a *candidate* frame in that schema and
hand it to :func:`assemble`, which runs the row checks every format shares (empty ids,
unparseable or missing dates, negative durations, duplicate events), skips or refuses bad rows
and accounts for every source row in the :class:`ImportReport`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim._extras import missing
from flowsim.diagnostics import Diagnostic, Severity, SeverityName
from flowsim.errors import InputError
from flowsim.history import problems as p
from flowsim.history.amounts import Amounts, DecimalMark, read_amounts
from flowsim.history.problems import LogError, problem
from flowsim.history.records import same_as_previous
from flowsim.history.subset import FilterStep, LogFilter, apply_filter
from flowsim.history.textcol import as_text, clean

if TYPE_CHECKING:
    from flowsim.history.timestamps import ParsedTimestamps
    from flowsim.model import Process

UTC_US = pl.Datetime("us", "UTC")

#: the canonical columns, in order, with their dtypes
SCHEMA: dict[str, pl.DataType] = {
    "deal": pl.String(),
    "stage": pl.String(),
    "entered_at": UTC_US,
    "left_at": UTC_US,
    "started_at": UTC_US,
    "owner": pl.String(),
    "amount": pl.Float64(),
    "source_row": pl.Int64(),
}

#: problems of one code spelled out in a report; the rest are counted in ``problems_omitted``
MAX_PROBLEMS_PER_CODE = 200


class ImportReport(FlowsimModel):
    """What an import read, used and skipped, and why. ``rows_read == rows_used + rows_skipped``."""

    model_config = ConfigDict(extra="forbid")

    source: str
    format: Literal["csv", "xes", "xlsx", "parquet", "sql", "simulation"]
    shape: Literal["long", "wide"] = "long"
    encoding: str | None = None
    delimiter: str | None = None
    layout: str = "generic"
    mapping: dict[str, str] = Field(default_factory=dict)
    timestamp_formats: dict[str, str] = Field(default_factory=dict)
    rows_read: int = 0
    rows_used: int = 0
    rows_skipped: int = 0
    records: int = 0
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    problems: list[Diagnostic] = Field(default_factory=list)
    #: problems found but not listed in ``problems`` (at most 200 per code are), in all and
    #: by code: every problem is counted, listed or not
    problems_omitted: int = 0
    filters: list[FilterStep] = Field(
        default_factory=list,
        description="Filters applied after the import, in order, with what each removed.",
    )
    omitted_by_code: dict[str, int] = Field(default_factory=dict)
    notes: list[str] = Field(
        default_factory=list,
        description="What was done to the log after the import, e.g. the idle rule's note.",
    )

    def add_problems(
        self, problems: Sequence[Diagnostic], omitted: Mapping[str, int] | None = None
    ) -> None:
        """List ``problems`` and count ``omitted`` (per code) ones found but not listed."""
        self.problems = self.problems + list(problems)
        for code, n in (omitted or {}).items():
            if n > 0:
                self.omitted_by_code[code] = self.omitted_by_code.get(code, 0) + n
                self.problems_omitted += n

    def summary(self) -> str:
        """One line for a metrics header: rows read / used / skipped and why, then filters."""
        text = f"{self.source}: {self.rows_read} rows read, {self.rows_used} used"
        if self.rows_skipped:
            why = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped_by_reason.items()))
            text += f", {self.rows_skipped} skipped ({why})"
        for step in self.filters:
            text += f"; filter {step.line()}"
        return text


class DealLog:
    """An imported log: ``frame`` in the canonical :data:`SCHEMA` plus its ``report``.

    ``roles`` is the owner → role table given with the import (empty when none was given);
    ``outcomes`` maps the stage values that close a deal to ``"won"`` or ``"lost"`` (a
    mapping's ``[outcomes]`` table; empty: stages named Won/Lost/Closed Won... close deals).
    ``attributes`` keeps every column of a tabular source as it was read (text for CSV,
    typed for Parquet, Excel and SQL; a joined table's columns too), one row per source row,
    keyed by the Int64 column ``source_row`` (the frame's ``source_row``), so a deal's
    ``product`` or ``origin`` can be looked up for ``--where`` and ``--by``
    (:mod:`flowsim.history.subset`); for XES one row per event with its trace's attributes
    as ``case:<key>`` columns. None when the source has none (a simulation's log). A table's
    columns are kept without a copy: they are the read ones.
    """

    def __init__(
        self,
        frame: pl.DataFrame,
        report: ImportReport,
        roles: dict[str, str] | None = None,
        outcomes: dict[str, str] | None = None,
        attributes: pl.DataFrame | None = None,
    ) -> None:
        if dict(frame.schema) != SCHEMA:
            raise InputError(f"DealLog frame schema {dict(frame.schema)} is not {SCHEMA}")
        if attributes is not None and attributes.schema.get("source_row") != pl.Int64():
            raise InputError("DealLog attributes need an Int64 source_row column")
        self.frame = frame
        self.report = report
        self.roles: dict[str, str] = dict(roles or {})
        self.outcomes: dict[str, str] = dict(outcomes or {})
        self.attributes = attributes
        #: the idle rule applied (:func:`flowsim.history.idle.apply_idle_rule`): the outcome
        #: stage of the deals it closed and its hours
        self.idle: tuple[str, float] | None = None
        #: the processes (None: no process) this log passed the funnel's checks against
        #: (:func:`flowsim.history.consistency.check_funnel`), so they run once
        self.funnel_checked: tuple[Process | None, ...] = ()
        self._first_records: tuple[pl.DataFrame, np.ndarray] | None = None

    def derive(self, frame: pl.DataFrame, report: ImportReport | None = None) -> DealLog:
        """A log of ``frame`` (a subset or a rewrite of this one) that keeps the roles,
        outcomes, attributes and idle rule of this one (and its report unless ``report`` is
        given)."""
        out = DealLog(frame, report or self.report, self.roles, self.outcomes, self.attributes)
        out.idle = self.idle
        out.funnel_checked = self.funnel_checked
        if frame is self.frame:
            out._first_records = self._first_records
        return out

    def filter(self, subset: LogFilter | None = None, **rules: Any) -> DealLog:
        """The deals and records that ``subset`` (or a :class:`LogFilter` of ``rules``) keeps.

        ``log.filter(stages=["A_*"], where={"product": ["GTX Pro"]}, start="2017-01-01")``;
        what was removed is in ``report.filters`` (see :mod:`flowsim.history.subset`).
        """
        return apply_filter(self, subset if subset is not None else LogFilter(**rules))

    def first_records(self) -> np.ndarray | None:
        """Which records start a deal (one bool per record), when the import found it.

        The import compares every deal id with the one before while it checks the order; the
        metrics reuse that instead of comparing 4M ids again. None when not known for the
        current ``frame`` (built by hand, or replaced since).
        """
        known = self._first_records
        return known[1] if known is not None and known[0] is self.frame else None

    def remember_first_records(self, mask: np.ndarray) -> None:
        """Record :meth:`first_records` for the current ``frame`` (sorted by deal)."""
        if len(mask) != self.frame.height:
            raise ValueError("one flag per record is needed")
        self._first_records = (self.frame, mask)

    @property
    def deals(self) -> int:
        """Number of distinct deals (cases)."""
        return int(self.frame["deal"].n_unique())

    def __len__(self) -> int:
        return self.frame.height

    def __repr__(self) -> str:
        return f"DealLog({self.report.source!r}: {self.deals} deals, {len(self)} records)"

    def to_arrow(self) -> Any:
        """The frame as a ``pyarrow.Table`` (zero-copy), for pandas, DuckDB or Parquet."""
        return self.frame.to_arrow()

    def to_pandas(self) -> Any:
        """The frame as a pandas DataFrame; needs pandas, which flowsim does not require."""
        try:
            import pandas  # noqa: F401  (polars converts through it)
        except ImportError as err:
            raise missing(err, "DealLog.to_pandas()") from err
        return self.frame.to_pandas()


class RowChecks:
    """Collects row-level problems vectorised: one boolean mask per check.

    Each flagged row remembers its *first* problem kind, which becomes its skip reason in
    lenient mode, so ``skipped_by_reason`` adds up to ``rows_skipped``.
    """

    def __init__(self, source: str, source_rows: pl.Series, *, lenient: bool) -> None:
        self.source = source
        self.rows = source_rows
        self.lenient = lenient
        self.reason = pl.repeat(None, len(source_rows), dtype=pl.String, eager=True)
        self.problems: list[Diagnostic] = []
        #: problems not listed (past :data:`MAX_PROBLEMS_PER_CODE`), by code
        self.omitted: Counter[str] = Counter()
        self._per_code: Counter[str] = Counter()

    def flag(
        self,
        kind: str,
        mask: pl.Series,
        *,
        message: str,
        column: str | None,
        values: pl.Series | None = None,
        hint: str | None = None,
        summary: Diagnostic | None = None,
    ) -> None:
        """Flag the rows where ``mask`` is true (nulls count as false) as bad with ``kind``.

        ``values`` (text or typed) are written as text for the flagged rows only.
        ``summary``: one problem about all of them (a column no value of which reads),
        recorded instead of one per row, as an error or, lenient, a warning.
        """
        mask = mask.fill_null(False)
        if not mask.any():
            return
        self.reason = (
            pl.select(
                pl.when(pl.lit(self.reason).is_null() & pl.lit(mask))
                .then(pl.lit(kind))
                .otherwise(pl.lit(self.reason))
            )
            .to_series()
            .rename("reason")
        )
        if summary is not None:
            severity = Severity.WARNING if self.lenient else Severity.ERROR
            self.problems.append(summary.model_copy(update={"severity": severity}))
            return
        rows = self.rows.filter(mask)
        vals = as_text(values.filter(mask)) if values is not None else None
        self.note_many(
            kind,
            rows.to_list(),
            vals.to_list() if vals is not None else None,
            message=message,
            column=column,
            hint=hint,
            severity="warning" if self.lenient else "error",
        )

    def note_many(
        self,
        kind: str,
        rows: list[int],
        values: list[Any] | None,
        *,
        message: str,
        column: str | None,
        hint: str | None = None,
        severity: SeverityName = "warning",
    ) -> None:
        """Record problems for the given rows without marking them bad (warnings, notes)."""
        code = p.CODES[kind]
        room = max(0, MAX_PROBLEMS_PER_CODE - self._per_code[code])
        self._per_code[code] += len(rows)
        self.omitted[code] += max(0, len(rows) - room)
        for i, row in enumerate(rows[:room]):
            value = None if values is None or values[i] is None else str(values[i])
            self.problems.append(
                problem(
                    kind=kind,
                    severity=severity,
                    message=message,
                    source=self.source,
                    row=int(row),
                    column=column,
                    value=value,
                    hint=hint,
                )
            )

    def note(self, problem: Diagnostic) -> None:
        """Record a problem that is not about one row (a note, a file-level warning)."""
        self.problems.append(problem)

    @property
    def bad(self) -> pl.Series:
        return self.reason.is_not_null()

    def raise_if_strict(self) -> None:
        if self.lenient:
            return
        errors = [q for q in self.problems if q.severity == "error"]
        if errors:
            errors.sort(key=lambda q: q.row or 0)  # stable: check order within a row
            codes = {q.code for q in errors}
            raise LogError(errors, {c: n for c, n in self.omitted.items() if c in codes})


def _neighbours(frame: pl.DataFrame) -> tuple[bool, np.ndarray, np.ndarray]:
    """Is ``frame`` sorted by ``(deal, entered_at, source_row)``, which rows tie the row
    before on deal and time, and which have the deal of the row before (boolean arrays)?

    Exports are usually grouped by deal in time order: this is one string comparison of
    each deal id with the previous one plus integer differences (numpy), ≈ 10x cheaper
    than sorting 4M rows by a string key. Nulls in the keys: not known to be in order.
    """
    deal, entered = frame["deal"], frame["entered_at"]
    same = same_as_previous(deal)
    step = np.diff(entered.to_physical().to_numpy(), prepend=0)
    tie = same & (step == 0)
    if deal.null_count() or entered.null_count() or not deal.is_sorted():
        return False, tie, same
    back = same & (step < 0)
    if tie.any():
        back |= tie & (np.diff(frame["source_row"].to_numpy(), prepend=0) < 0)
    return not back.any(), tie, same


def _duplicates(frame: pl.DataFrame, tie: np.ndarray, pos: pl.Series) -> pl.Series:
    """Positions (``pos``) of the rows repeating an earlier row's (deal, stage, entered_at).

    ``frame`` is sorted by ``(deal, entered_at, ...)`` and ``pos`` gives each row's place in
    the source, so rows with one deal and time are neighbours (``tie``: same deal and time
    as the row before): only those runs (usually none) are compared, in source order; the
    first of each key wins.
    """
    if not tie.any():
        return pos.clear()
    member = pl.Series(tie | np.append(tie[1:], False))
    runs = frame.filter(member)[["deal", "stage", "entered_at"]]
    runs = runs.with_columns(pos.filter(member).rename("_pos")).sort("_pos")
    first = runs.select(pl.struct("deal", "stage", "entered_at").is_first_distinct()).to_series()
    return runs["_pos"].filter(~first)


def assemble(
    cand: pl.DataFrame,
    checks: RowChecks,
    report: ImportReport,
    *,
    entered_column: str,
    collapse_repeats: bool = False,
) -> DealLog:
    """Finish an import: duplicate and repeat checks, skip bad rows, sort, account for rows.

    ``cand`` is in :data:`SCHEMA`, one row per record, in source order, optionally with a
    ``sources`` column: how many source rows made the record (a paired start/complete is two
    events; default one). ``checks`` already holds the per-row problems the importer found.
    ``report.rows_read`` must be set, and ``report.rows_skipped``/``skipped_by_reason`` may hold
    rows the importer skipped itself; rows neither used nor skipped are a bug, never a silent drop.

    The good rows are sorted once (not at all when already in order); duplicate events are
    found on the sorted rows, where they are neighbours.
    """
    weights = cand["sources"] if "sources" in cand.columns else None
    cand = _in_schema(cand)
    # each good row's place in cand, kept beside the frame (a column would realign chunks)
    pos = pl.int_range(0, cand.height, dtype=pl.Int64, eager=True).rename("_pos")
    ordered = _ordered(cand, pos, ~checks.bad)
    frame = _drop_duplicates(cand, ordered, pos, checks, entered_column)
    checks.raise_if_strict()
    skipped, used = _skipped(checks, weights, cand.height)
    if collapse_repeats and frame.height:
        frame, n = _collapse_repeats(frame, checks)
        if n:
            skipped[p.UNCHANGED_STAGE] += n
            used -= n
    _settle(report, frame.height, skipped, used, checks)
    log = DealLog(frame, report)
    if frame is ordered.frame:  # no row dropped since the order check: its deal runs hold
        log.remember_first_records(~ordered.same_deal)
    return log


def _in_schema(cand: pl.DataFrame) -> pl.DataFrame:
    """``cand``'s :data:`SCHEMA` columns, the odd ones cast.

    Indexing, and a cast of the odd columns only: select and cast align the columns' chunks
    first (0.2-0.5 s for 4M rows read from Parquet).
    """
    cand = cand[list(SCHEMA)]
    odd = {c: t for c, t in SCHEMA.items() if cand.schema[c] != t}
    if odd:
        cand = cand.cast(odd)  # type: ignore[arg-type]
    return cand


@dataclass(frozen=True)
class _Ordered:
    """The good rows sorted by ``(deal, entered_at, source_row)`` and what the sort knows.

    ``kept`` is each row's place in the candidates, ``tie`` the rows with the deal and time
    of the row before, ``same_deal`` those with its deal (numpy boolean arrays).
    """

    frame: pl.DataFrame
    kept: pl.Series
    tie: np.ndarray
    same_deal: np.ndarray


def _ordered(cand: pl.DataFrame, pos: pl.Series, good: pl.Series) -> _Ordered:
    """Keep the good rows and sort them, only when they are not in order already."""
    frame, kept = (cand, pos) if good.all() else (cand.filter(good), pos.filter(good))
    ordered, tie, same_deal = _neighbours(frame)
    if not ordered:
        frame = frame.with_columns(kept).sort(
            ["deal", "entered_at", "source_row"], maintain_order=True
        )
        kept = frame["_pos"]
        frame = frame.drop("_pos")
        _, tie, same_deal = _neighbours(frame)
    return _Ordered(frame, kept, tie, same_deal)


def _drop_duplicates(
    cand: pl.DataFrame,
    ordered: _Ordered,
    pos: pl.Series,
    checks: RowChecks,
    entered_column: str,
) -> pl.DataFrame:
    """Flag and drop the duplicate events among the rows that are otherwise fine.

    The first of each (deal, stage, time) wins; without duplicates the sorted frame itself
    is returned (the caller relies on that to keep its deal runs).
    """
    dup_pos = _duplicates(ordered.frame, ordered.tie, ordered.kept)
    if not dup_pos.len():
        return ordered.frame
    checks.flag(
        p.DUPLICATE_EVENT,
        pos.is_in(dup_pos.implode()),
        message="duplicate event (same deal, stage and time as an earlier row)",
        column=entered_column,
        values=cand["entered_at"],
        hint="remove the repeated row, or import with --lenient to skip it",
    )
    return ordered.frame.filter(~ordered.kept.is_in(dup_pos.implode()))


def _skipped(checks: RowChecks, weights: pl.Series | None, height: int) -> tuple[Counter[str], int]:
    """Source rows skipped per reason, and source rows used.

    A record made of several source rows (``weights``) counts all of them.
    """
    skipped: Counter[str] = Counter()
    bad = checks.bad
    if bad.any():
        w = weights if weights is not None else pl.repeat(1, height, eager=True)
        per_reason = (
            pl.DataFrame({"reason": checks.reason, "w": w.cast(pl.Int64)})
            .filter(bad)
            .group_by("reason")
            .agg(pl.col("w").sum())
        )
        for reason, weight in per_reason.iter_rows():
            skipped[reason] += int(weight)
    used = int(bad.len() - bad.sum()) if weights is None else int(weights.filter(~bad).sum())
    return skipped, used


def _collapse_repeats(frame: pl.DataFrame, checks: RowChecks) -> tuple[pl.DataFrame, int]:
    """Fold rows repeating the previous row's deal and stage (saves without a stage change).

    Returns the frame (itself when nothing folds) and how many rows were folded.
    """
    same = (frame["deal"] == frame["deal"].shift(1)) & (frame["stage"] == frame["stage"].shift(1))
    same = same.fill_null(False)
    n = int(same.sum())
    if not n:
        return frame, 0
    checks.note_many(
        p.UNCHANGED_STAGE,
        frame["source_row"].filter(same).to_list(),
        frame["stage"].filter(same).to_list(),
        message="save without a stage change, folded into the previous row",
        column=None,
        severity="info",
    )
    return frame.filter(~same), n


def _settle(
    report: ImportReport, records: int, skipped: Counter[str], used: int, checks: RowChecks
) -> None:
    """Write the row accounting and the problems into ``report``; a broken count is a bug."""
    report.records = records
    report.rows_skipped = sum(skipped.values()) + report.rows_skipped
    report.skipped_by_reason = dict(sorted((Counter(report.skipped_by_reason) + skipped).items()))
    report.rows_used = used
    report.add_problems(checks.problems, checks.omitted)
    if report.rows_read != report.rows_used + report.rows_skipped:
        raise AssertionError(
            f"row accounting broken: read {report.rows_read}, used {report.rows_used}, "
            f"skipped {report.rows_skipped}"
        )


def start_columns(
    raw: pl.DataFrame, pool: Executor, decimal: DecimalMark | None = None
) -> dict[str, Future[Any]]:
    """Start reading the text columns (:func:`clean`) and the amounts on ``pool``.

    They are independent column passes in polars, which releases the GIL, so they run side by
    side, and beside the time columns' parsing when the caller submits that too: stripping
    4M deal ids alone is a third of reading a Parquet log.
    """
    jobs: dict[str, Future[Any]] = {
        c: pool.submit(clean, raw[c]) for c in ("deal", "stage", "owner") if c in raw.columns
    }
    if "amount" in raw.columns:
        jobs["amount"] = pool.submit(read_amounts, raw["amount"], decimal)
    return jobs


def check_amounts(read: Amounts, raw: pl.Series, checks: RowChecks, label: str) -> pl.Series:
    """Flag the amounts that are not numbers in the column's convention; the values.

    A column whose decimal separator cannot be told (only ``1,234``-like values) is refused
    as a whole: guessing would make every amount 1000x wrong, or not.
    """
    if read.ambiguous:
        examples = ", ".join(f"'{v}'" for v in read.ambiguous)
        raise LogError.of(
            p.AMBIGUOUS_DECIMAL,
            checks.source,
            f"the decimal separator of the amounts is ambiguous (e.g. {examples}: a thousands "
            "separator, or 3 decimals?) and no other value tells",
            column=label,
            hint="pass --decimal comma (1.234,56) or --decimal point (1,234.56); "
            "API: decimal='comma' or 'point'",
        )
    usual = "a decimal comma (1.234,56)" if read.decimal == "comma" else "a decimal point"
    if read.other is not None:
        odd = "decimal point" if read.decimal == "comma" else "decimal comma"
        checks.flag(
            p.BAD_AMOUNT,
            read.other,
            message=f"written with a {odd}, but the column's amounts have {usual}",
            column=label,
            values=raw,
            hint="export every amount the same way, or pass --decimal to choose",
        )
    if read.wrong is not None:
        rest = read.wrong & ~read.other if read.other is not None else read.wrong
        checks.flag(
            p.BAD_AMOUNT,
            rest,
            message="not a number",
            column=label,
            values=raw,
            hint=f"amounts are plain numbers; this column reads with {usual}, "
            + ("such as 12.500,50 or 12500,5" if read.decimal == "comma" else "such as 12500.50"),
        )
    return read.values


def build_log(
    raw: pl.DataFrame,
    labels: dict[str, str],
    report: ImportReport,
    *,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    lenient: bool = False,
    stage_aliases: dict[str, str] | None = None,
    collapse_repeats: bool = False,
    parsed: dict[str, ParsedTimestamps] | None = None,
    columns: dict[str, Future[Any]] | None = None,
    date_format: str | None = None,
    decimal: DecimalMark | None = None,
) -> DealLog:
    """Turn a table (text, or typed columns) into a :class:`DealLog`, checking every row.

    ``raw`` has columns named after the mapping's fields (``deal``, ``stage`` and at least one
    of ``timestamp``/``start``/``end``; optionally ``owner``, ``amount``), an Int64
    ``source_row`` and optionally ``sources``; ``labels`` gives each field's name in the
    source, for messages. Columns are text, except that time columns may be Datetime or Date
    (Parquet, databases: read directly, no text round trip) and ``amount`` numeric.
    ``parsed`` holds time columns the caller already read (:func:`read_timestamps`);
    ``columns`` the caller's :func:`start_columns` jobs, when it started them.
    ``date_format`` is a strftime/chrono pattern every time column is read with (else each
    column's format is detected); ``decimal`` the amounts' decimal separator (else decided
    per column, :mod:`flowsim.history.amounts`).
    Timestamps (see :mod:`flowsim.history.timestamps`):

    - ``entered_at`` is ``timestamp`` when that field is mapped, else ``start``, else ``end``;
    - ``started_at`` is ``start``;
    - ``left_at`` is ``end``, except when ``end`` is the only time (then it is ``entered_at``).
    """
    checks = RowChecks(report.source, raw["source_row"], lenient=lenient)
    if columns is None:
        with ThreadPoolExecutor(max_workers=2) as pool:
            columns = start_columns(raw, pool, decimal)
    cleaned = {name: job.result() for name, job in columns.items()}
    deal, stage = cleaned["deal"], cleaned["stage"]
    _flag_empty_keys(deal, stage, labels, checks)
    times = _read_times(
        raw, labels, report, checks, parsed, _TimeOptions(tz, dayfirst, date_format)
    )
    stay = _stay(raw, times, labels, checks)
    n = raw.height
    if "amount" in cleaned:
        amount = check_amounts(cleaned["amount"], raw["amount"], checks, labels["amount"])
    else:
        amount = pl.repeat(None, n, dtype=pl.Float64, eager=True)
    if stage_aliases:
        stage = stage.replace(stage_aliases)
    owner = cleaned["owner"] if "owner" in cleaned else pl.repeat(None, n, eager=True)
    cand = pl.DataFrame(
        {
            "deal": deal,
            "stage": stage,
            "entered_at": stay.entered,
            "left_at": stay.left,
            "started_at": stay.started,
            "owner": owner.cast(pl.String),
            "amount": amount,
            "source_row": raw["source_row"].cast(pl.Int64),
            "sources": raw["sources"]
            if "sources" in raw.columns
            else pl.repeat(1, n, dtype=pl.Int64, eager=True),
        }
    )
    return assemble(
        cand,
        checks,
        report,
        entered_column=labels[stay.first],
        collapse_repeats=collapse_repeats,
    )


def _flag_empty_keys(
    deal: pl.Series, stage: pl.Series, labels: dict[str, str], checks: RowChecks
) -> None:
    """Every row needs its deal and its stage."""
    checks.flag(
        p.EMPTY_DEAL,
        deal.is_null(),
        message="empty deal id",
        column=labels["deal"],
        hint="every row needs the deal (case) it belongs to",
    )
    checks.flag(
        p.EMPTY_STAGE,
        stage.is_null(),
        message="empty stage",
        column=labels["stage"],
        hint="every row needs the stage (activity) the deal entered",
    )


@dataclass(frozen=True)
class _TimeOptions:
    """How text times read (the importer's options, passed as one)."""

    tz: str
    dayfirst: bool | None
    date_format: str | None


@dataclass(frozen=True)
class _Times:
    """The time columns read (``timestamp``, ``start``, ``end``; UTC), the rows where any failed."""

    values: dict[str, pl.Series]
    failed: pl.Series


def _read_times(
    raw: pl.DataFrame,
    labels: dict[str, str],
    report: ImportReport,
    checks: RowChecks,
    parsed: dict[str, ParsedTimestamps] | None,
    options: _TimeOptions,
) -> _Times:
    """Read each time column present (unless the caller did), flagging unparseable cells.

    The failed rows are remembered so that they are not blamed again for a missing date.
    """
    from flowsim.history.timestamps import read_timestamps, unreadable_column

    source = report.source
    times: dict[str, pl.Series] = {}
    failed_any = pl.repeat(False, raw.height, eager=True)
    for name in ("timestamp", "start", "end"):
        if name not in raw.columns:
            continue
        read = (parsed or {}).get(name) or read_timestamps(
            raw[name],
            column=name,
            tz=options.tz,
            dayfirst=options.dayfirst,
            source=source,
            date_format=options.date_format,
        )
        report.timestamp_formats[labels[name]] = read.format
        for note in read.notes:
            checks.note(note.model_copy(update={"column": labels[name]}))
        checks.flag(
            p.BAD_DATE,
            read.failed,
            message="unparseable date",
            column=labels[name],
            values=raw[name],
            hint=f"the column reads as {read.format}; a local time in a DST gap fails too",
            summary=unreadable_column(
                read, raw[name], label=labels[name], source=source, date_format=options.date_format
            ),
        )
        times[name] = read.values
        failed_any = failed_any | read.failed
    return _Times(times, failed_any)


@dataclass(frozen=True)
class _Stay:
    """Each row's stay: entered, started and left at, and the field ``entered_at`` came from."""

    first: str
    entered: pl.Series
    started: pl.Series
    left: pl.Series


def _stay(raw: pl.DataFrame, read: _Times, labels: dict[str, str], checks: RowChecks) -> _Stay:
    """The stay of each row from its times (the rules of :func:`build_log`'s doc).

    A row without its entry time, and a stay that ends before it starts, are flagged.
    """
    times = read.values
    null_time = pl.repeat(None, raw.height, dtype=UTC_US, eager=True)
    first = "timestamp" if "timestamp" in times else "start" if "start" in times else "end"
    if first == "start" and "end" in times:
        entered = times["start"].fill_null(times["end"])
    else:
        entered = times[first]
    checks.flag(
        p.MISSING_DATE,
        entered.is_null() & ~read.failed,
        message="no date",
        column=labels[first],
        hint="every row needs the time the deal entered the stage",
    )
    started = times.get("start", null_time)
    left = times["end"] if "end" in times and first != "end" else null_time
    if first == "start":
        left = pl.select(pl.when(pl.lit(started).is_not_null()).then(pl.lit(left))).to_series()
    for later, earlier, column in (
        (left, entered, "end"),
        (started, entered, "start"),
        (left, started, "end"),
    ):
        if column not in labels or (column == "start" and first == "start"):
            continue
        checks.flag(
            p.NEGATIVE_DURATION,
            later < earlier,
            message="ends before it starts (negative duration)",
            column=labels[column],
            values=raw[column],
            hint="check the column mapping and the time zones of the two columns",
        )
    return _Stay(first, entered, started, left)
