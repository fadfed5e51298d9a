"""Subsets of a deal log: the filters every log-reading command shares, and deal groups.

A :class:`LogFilter` keeps part of a :class:`~flowsim.history.log.DealLog`, in this order:

1. **where** (``--where column=value[,value]``, ``--where column!=value``): whole deals, by
   the deal's value of the column on its **first** record (the first non-empty one, the
   rule ``metrics --by`` groups by); any column of the source, or a field (``deal``,
   ``stage``, ``owner``, ``amount``);
2. **window** (``--from DATE``, ``--to DATE``): whole deals, by when they **entered** (their
   first record's ``entered_at``); the history of a kept deal is kept whole, also after
   ``--to`` (that is a cohort: the deals that came in during the window, and what became of
   them); a date without a time is a whole day in the log's time zone, so ``--to
   2017-03-31`` keeps deals that entered on the 31st;
3. **stages** (``--stages``, ``--exclude-stages``): records, by stage name: a name or a glob
   pattern (``A_*``, ``*Lead*``; ``*`` ``?`` ``[...]``, case-sensitive). A deal left without
   records is gone.

Deal rules come first, on the whole history, so "the deals that entered in March" does not
depend on which stages are kept. Every rule's effect is recorded in
``report.filters`` (:class:`~flowsim.history.log.FilterStep`: deals and records before and
after), which the metrics header prints: nothing is dropped silently. A column, stage or
value that the log does not have is a :class:`FilterError` naming what it does have.
"""

from __future__ import annotations

import datetime as dt
import difflib
import zoneinfo
from fnmatch import fnmatchcase

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from flowsim.history.log import DealLog, FilterStep
from flowsim.history.textcol import text_expr

__all__ = [
    "FIELDS",
    "NONE_VALUE",
    "FilterError",
    "LogFilter",
    "apply_filter",
    "columns_of",
    "deal_values",
    "parse_when",
]

#: the canonical fields a rule or a breakdown may name besides the source's columns
FIELDS = ("deal", "stage", "owner", "amount")
#: how a deal without a value is shown by ``--by`` and matched by ``--where``
NONE_VALUE = "(none)"
#: values listed in full in an error message when a column has at most this many
_LISTED = 30


class FilterError(ValueError):
    """A rule names a column, stage or value the log does not have (a usage error)."""


class LogFilter(BaseModel):
    """Which deals and records of a log to keep (see the module doc for the rules)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    stages: list[str] = Field(default_factory=list, description="Keep these stages (globs).")
    exclude_stages: list[str] = Field(default_factory=list, description="Drop these (globs).")
    start: dt.date | dt.datetime | None = Field(
        default=None, description="Deals that entered at or after (a date: from its start)."
    )
    end: dt.date | dt.datetime | None = Field(
        default=None, description="Deals that entered at or before (a date: to its end)."
    )
    where: dict[str, list[str]] = Field(
        default_factory=dict, description="column -> values: deals with one of the values."
    )
    where_not: dict[str, list[str]] = Field(
        default_factory=dict, description="column -> values: deals with none of the values."
    )
    tz: str = Field(default="UTC", description="Time zone of dates and naive times.")

    def is_empty(self) -> bool:
        """True when the filter keeps everything."""
        return not (
            self.stages
            or self.exclude_stages
            or self.start is not None
            or self.end is not None
            or self.where
            or self.where_not
        )


def parse_when(text: str) -> dt.date | dt.datetime:
    """``2017-03-31`` as a date (a whole day), ``2017-03-31 12:00`` or ISO 8601 as a datetime."""
    text = text.strip()
    try:
        if len(text) == 10:
            return dt.date.fromisoformat(text)
        return dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a date: use YYYY-MM-DD or YYYY-MM-DD HH:MM[:SS][+HH:MM]"
        ) from None


def apply_filter(log: DealLog, subset: LogFilter) -> DealLog:
    """The part of ``log`` that ``subset`` keeps, with each rule's effect in its report."""
    if subset.is_empty():
        return log
    frame = log.frame
    steps: list[FilterStep] = []

    def step(rule: str, keep: pl.Series, selects: str) -> None:
        nonlocal frame
        after = frame.filter(keep)
        steps.append(
            FilterStep(
                rule=rule,
                selects="deals" if selects == "deals" else "records",
                records_before=frame.height,
                records_after=after.height,
                deals_before=_deals(frame),
                deals_after=_deals(after),
            )
        )
        frame = after

    for negate, rules in ((False, subset.where), (True, subset.where_not)):
        for column, values in rules.items():
            kept = _matching_deals(log, column, values, negate)
            shown = ", ".join(v if v.strip() else NONE_VALUE for v in values)
            step(
                f"{column} {'!=' if negate else '='} {shown}",
                frame["deal"].is_in(kept.implode()),
                "deals",
            )
    if subset.start is not None or subset.end is not None:
        rule, keep = _window(frame, subset)
        step(rule, keep, "deals")
    # patterns are checked against the whole log's stages: a typo is an error, a stage that
    # the deal rules happened to leave out is not
    stages = log.frame["stage"].unique().drop_nulls().sort().to_list()
    if subset.stages:
        chosen = _stages_matching(subset.stages, stages, "--stages")
        step("stages " + ", ".join(subset.stages), frame["stage"].is_in(chosen), "records")
    if subset.exclude_stages:
        dropped = _stages_matching(subset.exclude_stages, stages, "--exclude-stages")
        rule = "without stages " + ", ".join(subset.exclude_stages)
        step(rule, ~frame["stage"].is_in(dropped), "records")
    report = log.report.model_copy(update={"filters": [*log.report.filters, *steps]})
    out = log.derive(frame, report)
    if all(s.selects == "deals" for s in steps) and (mask := log.first_records()) is not None:
        # whole deals removed: the deals that remain still start where they started
        keep_rows = log.frame["deal"].is_in(frame["deal"].unique().implode()).to_numpy()
        out.remember_first_records(mask[keep_rows])
    return out


def _deals(frame: pl.DataFrame) -> int:
    return int(frame["deal"].n_unique()) if frame.height else 0


def columns_of(log: DealLog) -> list[str]:
    """What a rule or a breakdown may name: the fields, then the source's columns."""
    extra = [] if log.attributes is None else log.attributes.columns
    return [*FIELDS, *(c for c in extra if c not in FIELDS and c != "source_row")]


def deal_values(log: DealLog, column: str, frame: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per deal of ``frame`` (default: the log's): ``deal`` and its ``value`` (text).

    The value is the deal's first non-empty value of ``column`` in record order (the first
    record's, unless that one is empty), stripped; None when every record's is empty. A field
    name (:data:`FIELDS`) reads the frame, anything else the source's columns
    (``log.attributes``); a name that is neither is a :class:`FilterError`.
    """
    frame = log.frame if frame is None else frame
    attrs = log.attributes
    if column in FIELDS:
        values = frame.select("deal", pl.col(column).cast(pl.String).alias("value"))
    elif attrs is not None and column in attrs.columns and column != "source_row":
        lookup = attrs.select("source_row", text_expr(column, attrs.schema[column]).alias("value"))
        values = frame.select("deal", "source_row").join(
            lookup, on="source_row", how="left", maintain_order="left"
        )
    else:
        known = columns_of(log)
        close = difflib.get_close_matches(column, known, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        where = "" if attrs is not None else " (this source keeps no other columns)"
        raise FilterError(
            f"the log has no column {column!r}{hint}; columns: {', '.join(known)}{where}"
        )
    value = pl.col("value").str.strip_chars()
    return (
        values.with_columns(pl.when(value != "").then(value).alias("value"))
        .group_by("deal", maintain_order=True)
        .agg(pl.col("value").drop_nulls().first())
    )


def _matching_deals(log: DealLog, column: str, values: list[str], negate: bool) -> pl.Series:
    """The deals whose value of ``column`` is (or, ``negate``, is not) one of ``values``.

    An empty value or ``(none)`` matches deals without a value. A value no deal has is a
    :class:`FilterError` listing the column's values (a typo would otherwise keep nothing).
    """
    per_deal = deal_values(log, column)
    present = per_deal["value"].drop_nulls().unique().sort().to_list()
    wanted = {v.strip() for v in values}
    blank = bool(wanted & {"", NONE_VALUE})
    unknown = sorted(wanted - set(present) - {"", NONE_VALUE})
    if unknown:
        raise FilterError(_unknown_values(column, unknown, present))
    match = pl.col("value").is_in(sorted(wanted)).fill_null(False)
    if blank:
        match = match | pl.col("value").is_null()
    if negate:
        match = ~match
    return per_deal.filter(match)["deal"]


def _unknown_values(column: str, unknown: list[str], present: list[str]) -> str:
    text = f"no deal has {column} = {', '.join(repr(v) for v in unknown)}"
    close = difflib.get_close_matches(unknown[0], present, n=3)
    if close:
        text += f" (did you mean {', '.join(repr(c) for c in close)}?)"
    if len(present) <= _LISTED:
        return f"{text}; its values: {', '.join(present)}"
    return f"{text}; the column has {len(present):,} distinct values"


def _stages_matching(patterns: list[str], stages: list[str], option: str) -> list[str]:
    """The stages that match any of ``patterns``; a pattern matching none is an error."""
    chosen: set[str] = set()
    for pattern in patterns:
        found = [s for s in stages if fnmatchcase(s, pattern)]
        if not found:
            listed = ", ".join(stages[:_LISTED]) + (" ..." if len(stages) > _LISTED else "")
            raise FilterError(f"{option} {pattern!r} matches no stage; stages: {listed}")
        chosen.update(found)
    return sorted(chosen)


def _bound(when: dt.date | dt.datetime, tz: str, *, end: bool) -> dt.datetime:
    """A window bound as an aware datetime; a date is its day's start (or the next day's)."""
    zone = zoneinfo.ZoneInfo(tz)
    if isinstance(when, dt.datetime):
        aware = when if when.tzinfo is not None else when.replace(tzinfo=zone)
    else:
        day = when + dt.timedelta(days=1) if end else when
        aware = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
    return aware.astimezone(dt.UTC)  # the log's times are UTC


def _window(frame: pl.DataFrame, subset: LogFilter) -> tuple[str, pl.Series]:
    """The rule's text and the records of the deals that entered in the window."""
    first = frame.group_by("deal").agg(pl.col("entered_at").min().alias("first"))
    keep = pl.lit(True)
    parts = []
    if subset.start is not None:
        keep = keep & (pl.col("first") >= _bound(subset.start, subset.tz, end=False))
        parts.append(f"from {subset.start}")
    if subset.end is not None:
        bound = _bound(subset.end, subset.tz, end=True)
        # a date's end is the next day's start, excluded; a time is included
        inclusive = isinstance(subset.end, dt.datetime)
        keep = keep & ((pl.col("first") <= bound) if inclusive else (pl.col("first") < bound))
        parts.append(f"to {subset.end}")
    kept = first.filter(keep)["deal"]
    return "entered " + " ".join(parts), frame["deal"].is_in(kept.implode())
