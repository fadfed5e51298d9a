"""Read a customer-feedback export (CSV, Excel, Parquet, SQL) into a :class:`FeedbackLog`.

The source is read by the deal-log readers' raw-table step (:func:`flowsim.history._raw.
read_table`: encoding detection, delimiter sniffing, sheets, queries), the columns are found
by :mod:`.columns`, and every row is checked, vectorised:

- the score is a number (a decimal comma is read by the amounts' rules: ``4,5`` is 4.5, a
  column of only ``1,234``-like values is refused), inside the column's scale (:mod:`.scale`);
- each row names a touchpoint or a stage;
- the date, when there is a date column, reads by the deal log's date rules
  (:mod:`flowsim.history.timestamps`: day/month order decided from the values, or by
  ``dayfirst``/``date_format``).

Bad rows are named by row and column with an ``H5xx`` code (or ``H202`` for a date); a strict
read (the default) refuses them all in one :class:`~flowsim.history.problems.LogError`, a
lenient one skips them and counts them in ``report.skipped_by_reason``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.diagnostics import Diagnostic, SeverityName
from flowsim.errors import OptionError
from flowsim.history import problems as p
from flowsim.history._raw import RawTable, read_table
from flowsim.history.amounts import read_amounts
from flowsim.history.feedback.columns import parse_mapping, resolve_columns
from flowsim.history.feedback.scale import Scale, detect_scale, header_scale, parse_scale
from flowsim.history.log import MAX_PROBLEMS_PER_CODE
from flowsim.history.mapping import Mapping
from flowsim.history.options import ReadOptions
from flowsim.history.problems import LogError, problem
from flowsim.history.textcol import as_text, clean
from flowsim.history.timestamps import check_timezone, read_timestamps

__all__ = ["FeedbackLog", "FeedbackReport", "read_feedback"]

#: the columns of :attr:`FeedbackLog.frame`, in order
TEXT_FIELDS = ("deal", "stage", "touchpoint", "channel", "comment")


class FeedbackReport(FlowsimModel):
    """What a feedback import read, used and skipped, and why (``rows_read = used + skipped``)."""

    model_config = ConfigDict(extra="forbid")

    source: str
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    mapping: dict[str, str] = Field(default_factory=dict)
    scale: str
    scale_from: str = Field(description="given, header or values")
    rows_read: int = 0
    rows_used: int = 0
    rows_skipped: int = 0
    skipped_by_reason: dict[str, int] = Field(default_factory=dict)
    problems: list[Diagnostic] = Field(default_factory=list)
    omitted_by_code: dict[str, int] = Field(default_factory=dict)


@dataclass
class FeedbackLog:
    """Feedback answers, one row each: ``frame`` and how they were read (``report``).

    ``frame`` columns: ``source_row`` (Int64), ``deal``, ``stage``, ``touchpoint``,
    ``channel``, ``comment`` (String, null where the file has no such column or value),
    ``score`` (Float64, on ``scale``) and ``date`` (UTC datetime, or null).
    """

    frame: pl.DataFrame
    scale: Scale
    report: FeedbackReport
    notes: list[Diagnostic] = field(default_factory=list)

    def __len__(self) -> int:
        return self.frame.height

    def __repr__(self) -> str:
        return (
            f"FeedbackLog({self.report.source!r}: {self.frame.height} answers, "
            f"scale {self.scale.name})"
        )


def _given_mapping(mapping: Mapping | str | None) -> dict[str, str]:
    if mapping is None or mapping == "":
        return {}
    if isinstance(mapping, Mapping):
        raise OptionError("give the feedback mapping as text or a .toml file", "mapping")
    return parse_mapping(mapping)


def read_feedback(
    path: str | Path | None = None,
    options: ReadOptions | None = None,
    *,
    scale: str | Scale | None = None,
    source: str | None = None,
) -> FeedbackLog:
    """Import a customer-feedback export (module doc): every answer checked, row by row.

    Parameters
    ----------
    path : str or Path, optional
        A CSV/TSV, ``.xlsx`` or Parquet file (omitted with ``options.sql``).
    options : ReadOptions, optional
        How to read it, as for deal logs: ``encoding``, ``delimiter``, ``sheet``, ``tz``,
        ``dayfirst``, ``date_format``, ``decimal``, ``lenient``, ``sql``/``db``, and
        ``mapping`` as ``"score=评分,touchpoint=问卷"`` or a ``.toml`` file's ``[columns]``.
    scale : str, optional
        The score scale, ``"1-5"`` (``"csat"``), ``"0-10"`` (``"nps"``) or ``"-2..2"``;
        default: stated by the header or proved by the values, else refused
        (:mod:`flowsim.history.feedback.scale`).
    source : str, optional
        The name problems give the source (default: the file's name).

    Returns
    -------
    FeedbackLog

    Raises
    ------
    LogError
        The source cannot be read, lacks a score or touchpoint column, its scale is
        ambiguous (H503), or (strict) it has bad rows: each named by row and column.
    OptionError
        An option that cannot be used (an unknown scale, a mapping object of deal history).

    Examples
    --------
    >>> import flowsim
    >>> fb = flowsim.read_feedback("examples/history/b2b-cn-feedback.csv")
    >>> fb.scale.name, fb.report.scale_from, fb.report.mapping["score"]
    ('1-5', 'header', '评分(1-5)')
    """
    options = options or ReadOptions()
    tz = check_timezone(options.tz)
    raw = read_table(path, options, source=source)
    given = _given_mapping(options.mapping)
    columns = resolve_columns(raw.table.columns, given, source=raw.source)
    if raw.table.height == 0:
        raise LogError.of(p.EMPTY_FILE, raw.source, "no answers: only the header")
    checked = _Checked.of(raw, columns, options, tz)
    chosen, scale_from = _scale(checked.score, columns["score"], scale, raw.source)
    return checked.finish(chosen, scale_from, options.lenient)


def _scale(
    score: pl.Series, column: str, given: str | Scale | None, source: str
) -> tuple[Scale, str]:
    """The column's scale and where it came from (``given``, ``header``, ``values``)."""
    if given is not None:
        return parse_scale(given), "given"
    stated = header_scale(column)
    if stated is not None:
        return stated, "header"
    distinct = score.drop_nulls().unique().to_list()
    found = detect_scale(distinct)
    if isinstance(found, Scale):
        return found, "values"
    inside = [v for v in distinct if -2 <= v <= 10]
    span = f"{min(inside):g} to {max(inside):g}" if inside else "no score in any scale"
    fits = f"fit the scales {' and '.join(found)}" if found else "fit no single scale"
    raise LogError(
        [
            problem(
                kind=p.AMBIGUOUS_SCALE,
                source=source,
                column=column,
                message=f"the scores ({span}) {fits}: the scale cannot be told",
                hint="pass the scale: scale='1-5' (CLI --scale 1-5), '0-10' or '-2..2', "
                "or write it in the header, e.g. 评分(1-5)",
            )
        ]
    )


@dataclass
class _Checked:
    """The table's fields read, and the rows' problems found so far (before the scale)."""

    raw: RawTable
    columns: dict[str, str]
    frame: pl.DataFrame
    score: pl.Series
    masks: list[tuple[str, str, str, pl.Series]]
    notes: list[Diagnostic]

    @classmethod
    def of(cls, raw: RawTable, columns: dict[str, str], options: ReadOptions, tz: str) -> _Checked:
        """Read every field; note the rows with an empty or unreadable score, no touchpoint
        or a bad date (kind, column, message, mask)."""
        table = raw.table
        data: dict[str, pl.Series] = {"source_row": raw.rows}
        for name in TEXT_FIELDS:
            col = columns.get(name)
            data[name] = (
                clean(table[col]).rename(name)
                if col
                else pl.Series(name, [None] * table.height, pl.String)
            )
        masks: list[tuple[str, str, str, pl.Series]] = []
        score = _read_score(table[columns["score"]], options, raw.source, columns["score"])
        empty = clean(table[columns["score"]]).is_null()
        masks.append((p.EMPTY_SCORE, columns["score"], "no score", empty))
        masks.append((p.BAD_SCORE, columns["score"], "not a number", score.is_null() & ~empty))
        place = data["touchpoint"].is_null() & data["stage"].is_null()
        where = columns.get("touchpoint") or columns["stage"]
        masks.append((p.EMPTY_TOUCHPOINT, where, "no touchpoint or stage", place))
        notes: list[Diagnostic] = []
        data["date"] = pl.Series("date", [None] * table.height, pl.Datetime("us", "UTC"))
        if "date" in columns:
            read = read_timestamps(
                table[columns["date"]],
                column=columns["date"],
                tz=tz,
                dayfirst=options.dayfirst,
                source=raw.source,
                date_format=options.date_format,
            )
            data["date"] = read.values.rename("date")
            notes = list(read.notes)
            masks.append((p.BAD_DATE, columns["date"], "not a date", read.failed))
        frame = pl.DataFrame(data).with_columns(score.rename("score"))
        return cls(raw, columns, frame, score, masks, notes)

    def finish(self, scale: Scale, scale_from: str, lenient: bool) -> FeedbackLog:
        """Check the scores against ``scale``; refuse (strict) or skip (lenient) bad rows."""
        column = self.columns["score"]
        out = (self.score < scale.low) | (self.score > scale.high)
        message = f"outside the scale {scale.name}"
        masks = [*self.masks, (p.SCORE_OUT_OF_SCALE, column, message, out.fill_null(False))]
        problems, omitted, bad, reasons = self._problems(masks, lenient)
        report = FeedbackReport(
            source=self.raw.source,
            format=self.raw.format,
            encoding=self.raw.encoding,
            delimiter=self.raw.delimiter,
            mapping=dict(self.columns),
            scale=scale.name,
            scale_from=scale_from,
            rows_read=self.frame.height,
            rows_used=self.frame.height - int(bad.sum()),
            rows_skipped=int(bad.sum()),
            skipped_by_reason=reasons,
            problems=[*self.notes, *problems],
            omitted_by_code=omitted,
        )
        if problems and not lenient:
            raise LogError(problems, omitted)
        frame = self.frame.filter(~bad).select(
            "source_row", "deal", "stage", "touchpoint", "channel", "score", "comment", "date"
        )
        return FeedbackLog(frame, scale, report, list(self.notes))

    def _problems(
        self, masks: list[tuple[str, str, str, pl.Series]], lenient: bool
    ) -> tuple[list[Diagnostic], dict[str, int], pl.Series, dict[str, int]]:
        """Problems (at most 200 per code, in row order), omitted counts, bad rows, reasons."""
        table, rows = self.raw.table, self.raw.rows
        bad = pl.Series("bad", [False] * table.height)
        found: list[Diagnostic] = []
        omitted: dict[str, int] = {}
        reasons: dict[str, int] = {}
        for kind, column, message, mask in masks:
            mask = mask.fill_null(False) & ~bad  # a row is counted once, by its first problem
            count = int(mask.sum())
            if not count:
                continue
            reasons[kind] = count
            bad = bad | mask
            values = as_text(table[column]).filter(mask).head(MAX_PROBLEMS_PER_CODE)
            numbers = rows.filter(mask).head(MAX_PROBLEMS_PER_CODE)
            severity: SeverityName = "warning" if lenient else "error"
            for row, value in zip(numbers.to_list(), values.to_list(), strict=True):
                found.append(
                    problem(
                        kind=kind,
                        severity=severity,
                        source=self.raw.source,
                        row=row,
                        column=column,
                        message=message,
                        value=value,
                    )
                )
            if count > MAX_PROBLEMS_PER_CODE:
                omitted[p.CODES[kind]] = count - MAX_PROBLEMS_PER_CODE
        found.sort(key=lambda q: q.row or 0)
        return found, omitted, bad, reasons


def _read_score(raw: pl.Series, options: ReadOptions, source: str, column: str) -> pl.Series:
    """Scores as Float64 (null where empty or not a number); decimal commas read as such."""
    if raw.dtype.is_numeric():
        return raw.cast(pl.Float64)
    amounts = read_amounts(clean(raw), options.decimal)
    if amounts.ambiguous:
        raise LogError.of(
            p.AMBIGUOUS_DECIMAL,
            source,
            "scores like these read as thousands or as decimals",
            column=column,
            value=", ".join(amounts.ambiguous),
            hint="pass decimal='comma' or 'point' (--decimal)",
        )
    values = amounts.values
    if amounts.wrong is not None:
        values = pl.select(pl.when(~pl.lit(amounts.wrong)).then(pl.lit(values))).to_series()
    return values.rename("score")
