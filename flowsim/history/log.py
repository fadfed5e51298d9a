"""The one internal deal/event log every importer feeds: :class:`DealLog` and its report.

A ``DealLog`` is a polars DataFrame with a fixed schema (:data:`SCHEMA`), one row per stay of
a deal in a stage (or per activity instance of an event log), sorted by
``(deal, entered_at, source_row)``. Importers build a *candidate* frame in that schema and
hand it to :func:`assemble`, which runs the row checks every format shares (empty ids,
unparseable or missing dates, negative durations, duplicate events), skips or refuses bad rows
and accounts for every source row in the :class:`ImportReport`.
"""

from __future__ import annotations

import importlib.util
from collections import Counter
from typing import Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from flowsim.history import problems as p
from flowsim.history.problems import LogError, LogProblem, Severity

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


class ImportReport(BaseModel):
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
    problems: list[LogProblem] = Field(default_factory=list)
    problems_omitted: int = 0

    def summary(self) -> str:
        """One line for a metrics header: rows read / used / skipped and why."""
        text = f"{self.source}: {self.rows_read} rows read, {self.rows_used} used"
        if self.rows_skipped:
            why = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped_by_reason.items()))
            text += f", {self.rows_skipped} skipped ({why})"
        return text


class DealLog:
    """An imported log: ``frame`` in the canonical :data:`SCHEMA` plus its ``report``.

    ``roles`` is the owner → role table given with the import (empty when none was given).
    """

    def __init__(
        self, frame: pl.DataFrame, report: ImportReport, roles: dict[str, str] | None = None
    ) -> None:
        if dict(frame.schema) != SCHEMA:
            raise ValueError(f"DealLog frame schema {dict(frame.schema)} is not {SCHEMA}")
        self.frame = frame
        self.report = report
        self.roles: dict[str, str] = dict(roles or {})

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
        if importlib.util.find_spec("pandas") is None:
            raise ImportError("DealLog.to_pandas() needs pandas: pip install pandas")
        return self.frame.to_pandas()


class RowChecks:
    """Collects row-level problems vectorised: one boolean mask per check.

    Each flagged row remembers its *first* problem code, which becomes its skip reason in
    lenient mode, so ``skipped_by_reason`` adds up to ``rows_skipped``.
    """

    def __init__(self, source: str, source_rows: pl.Series, *, lenient: bool) -> None:
        self.source = source
        self.rows = source_rows
        self.lenient = lenient
        self.reason = pl.Series("reason", [None] * len(source_rows), dtype=pl.String)
        self.problems: list[LogProblem] = []
        self.omitted = 0
        self._per_code: Counter[str] = Counter()

    def flag(
        self,
        code: str,
        mask: pl.Series,
        *,
        message: str,
        column: str | None,
        values: pl.Series | None = None,
        hint: str | None = None,
    ) -> None:
        """Flag the rows where ``mask`` is true (nulls count as false) as bad with ``code``."""
        mask = mask.fill_null(False)
        if not mask.any():
            return
        self.reason = (
            pl.select(
                pl.when(pl.lit(self.reason).is_null() & pl.lit(mask))
                .then(pl.lit(code))
                .otherwise(pl.lit(self.reason))
            )
            .to_series()
            .rename("reason")
        )
        rows = self.rows.filter(mask)
        vals = values.filter(mask) if values is not None else None
        self.note_many(
            code,
            rows.to_list(),
            vals.to_list() if vals is not None else None,
            message=message,
            column=column,
            hint=hint,
            severity="warning" if self.lenient else "error",
        )

    def note_many(
        self,
        code: str,
        rows: list[int],
        values: list[Any] | None,
        *,
        message: str,
        column: str | None,
        hint: str | None = None,
        severity: Severity = "warning",
    ) -> None:
        """Record problems for the given rows without marking them bad (warnings, notes)."""
        room = max(0, MAX_PROBLEMS_PER_CODE - self._per_code[code])
        self._per_code[code] += len(rows)
        self.omitted += max(0, len(rows) - room)
        for i, row in enumerate(rows[:room]):
            value = None if values is None or values[i] is None else str(values[i])
            self.problems.append(
                LogProblem(
                    code=code,
                    severity=severity,
                    message=message,
                    source=self.source,
                    row=int(row),
                    column=column,
                    value=value,
                    hint=hint,
                )
            )

    def note(self, problem: LogProblem) -> None:
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
            raise LogError(errors)


def _first_per_key(frame: pl.DataFrame, keys: list[str]) -> pl.Series:
    """True for the first row (by source_row) of each key; frame must be in source order."""
    return frame.select(pl.struct(keys).is_first_distinct()).to_series()


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
    """
    weights = cand["sources"] if "sources" in cand.columns else pl.Series([1] * cand.height)
    cand = cand.select(list(SCHEMA)).cast(SCHEMA)  # type: ignore[arg-type]
    good = ~checks.bad
    # duplicate events among the rows that are otherwise fine: the first one wins
    first = _first_per_key(cand.filter(good), ["deal", "stage", "entered_at"])
    dup = pl.Series([False] * cand.height)
    if not first.all():
        good_idx = pl.Series(range(cand.height)).filter(good)
        dup_idx = good_idx.filter(~first)
        dup = pl.Series(range(cand.height)).is_in(dup_idx.implode())
        checks.flag(
            p.DUPLICATE_EVENT,
            dup,
            message="duplicate event (same deal, stage and time as an earlier row)",
            column=entered_column,
            values=cand["entered_at"].dt.to_string("%Y-%m-%d %H:%M:%S%.f%:z"),
            hint="remove the repeated row, or import with --lenient to skip it",
        )
    checks.raise_if_strict()
    skipped: Counter[str] = Counter()
    bad = checks.bad
    for reason, weight in zip(
        checks.reason.filter(bad).to_list(), weights.filter(bad).to_list(), strict=True
    ):
        skipped[reason] += int(weight)
    used = int(weights.filter(~bad).sum())
    frame = cand.filter(~bad).sort(["deal", "entered_at", "source_row"], maintain_order=True)
    if collapse_repeats and frame.height:
        same = (frame["deal"] == frame["deal"].shift(1)) & (
            frame["stage"] == frame["stage"].shift(1)
        )
        same = same.fill_null(False)
        n = int(same.sum())
        if n:
            checks.note_many(
                p.UNCHANGED_STAGE,
                frame["source_row"].filter(same).to_list(),
                frame["stage"].filter(same).to_list(),
                message="save without a stage change, folded into the previous row",
                column=None,
                severity="info",
            )
            skipped[p.UNCHANGED_STAGE] += n
            used -= n
            frame = frame.filter(~same)
    report.records = frame.height
    report.rows_skipped = sum(skipped.values()) + report.rows_skipped
    report.skipped_by_reason = dict(sorted((Counter(report.skipped_by_reason) + skipped).items()))
    report.rows_used = used
    report.problems = report.problems + checks.problems
    report.problems_omitted += checks.omitted
    if report.rows_read != report.rows_used + report.rows_skipped:
        raise AssertionError(
            f"row accounting broken: read {report.rows_read}, used {report.rows_used}, "
            f"skipped {report.rows_skipped}"
        )
    return DealLog(frame, report)


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
) -> DealLog:
    """Turn a table of strings into a :class:`DealLog`, checking every row.

    ``raw`` has String columns named after the mapping's fields (``deal``, ``stage`` and at
    least one of ``timestamp``/``start``/``end``; optionally ``owner``, ``amount``), an Int64
    ``source_row`` and optionally ``sources``; ``labels`` gives each field's name in the
    source, for messages. Timestamps (see :mod:`flowsim.history.timestamps`):

    - ``entered_at`` is ``timestamp`` when that field is mapped, else ``start``, else ``end``;
    - ``started_at`` is ``start``;
    - ``left_at`` is ``end``, except when ``end`` is the only time (then it is ``entered_at``).
    """
    from flowsim.history.timestamps import parse_timestamps

    source = report.source
    checks = RowChecks(source, raw["source_row"], lenient=lenient)

    def text(name: str) -> pl.Series:
        return raw[name].cast(pl.String).str.strip_chars()

    deal = text("deal")
    stage = text("stage")
    checks.flag(
        p.EMPTY_DEAL,
        deal.is_null() | (deal == ""),
        message="empty deal id",
        column=labels["deal"],
        hint="every row needs the deal (case) it belongs to",
    )
    checks.flag(
        p.EMPTY_STAGE,
        stage.is_null() | (stage == ""),
        message="empty stage",
        column=labels["stage"],
        hint="every row needs the stage (activity) the deal entered",
    )
    times: dict[str, pl.Series] = {}
    failed_any = pl.Series([False] * raw.height)
    for name in ("timestamp", "start", "end"):
        if name not in raw.columns:
            continue
        parsed = parse_timestamps(raw[name], column=name, tz=tz, dayfirst=dayfirst, source=source)
        report.timestamp_formats[labels[name]] = parsed.format
        for note in parsed.notes:
            checks.note(note.model_copy(update={"column": labels[name]}))
        checks.flag(
            p.BAD_DATE,
            parsed.failed,
            message="unparseable date",
            column=labels[name],
            values=raw[name],
            hint=f"the column reads as {parsed.format}; a local time in a DST gap fails too",
        )
        times[name] = parsed.values
        failed_any = failed_any | parsed.failed
    null_time = pl.Series([None] * raw.height, dtype=UTC_US)
    first = "timestamp" if "timestamp" in times else "start" if "start" in times else "end"
    if first == "start" and "end" in times:
        entered = times["start"].fill_null(times["end"])
    else:
        entered = times[first]
    missing = entered.is_null() & ~failed_any
    checks.flag(
        p.MISSING_DATE,
        missing,
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
    amount = pl.Series([None] * raw.height, dtype=pl.Float64)
    if "amount" in raw.columns:
        amount_text = text("amount").str.replace_all(r"[\s,]", "")
        amount = amount_text.cast(pl.Float64, strict=False)
        checks.flag(
            p.BAD_AMOUNT,
            amount.is_null() & amount_text.is_not_null() & (amount_text != ""),
            message="not a number",
            column=labels["amount"],
            values=raw["amount"],
            hint="amounts are plain numbers such as 12500 or 12500.50",
        )
    if stage_aliases:
        stage = stage.replace(stage_aliases)
    owner = text("owner") if "owner" in raw.columns else pl.Series([None] * raw.height)
    owner = pl.select(pl.when(pl.lit(owner) != "").then(pl.lit(owner))).to_series()
    cand = pl.DataFrame(
        {
            "deal": deal,
            "stage": stage,
            "entered_at": entered,
            "left_at": left,
            "started_at": started,
            "owner": owner.cast(pl.String),
            "amount": amount,
            "source_row": raw["source_row"].cast(pl.Int64),
            "sources": raw["sources"] if "sources" in raw.columns else [1] * raw.height,
        }
    )
    return assemble(
        cand,
        checks,
        report,
        entered_column=labels[first],
        collapse_repeats=collapse_repeats,
    )
