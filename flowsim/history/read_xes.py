"""Read an XES event log (``.xes`` or ``.xes.gz``), streamed.

Two scanners read the XML into one row per event and one per trace (:mod:`xes_scan`):
the vectorised one (:mod:`xes_fast`: tags split and classified inside polars, block by
block) for the well-formed UTF-8 XES that XES writers produce, and expat for everything
else, including every broken file, whose error expat words with its XML line. Both give
the same rows. Pairing lifecycle transitions into activity instances is vectorised too:
events of an activity with only ``complete`` transitions are instant records as they are;
only the (trace, activity) groups with other transitions go through the rule below, one
event at a time. Rows in messages are *event numbers* (1-based, file order).

Lifecycle pairing rule (per trace and activity, first in first out, in document order):

- ``schedule`` opens an instance, ``start`` starts the oldest open scheduled instance of the
  activity (or opens one), ``complete`` closes the oldest started one (else the oldest
  scheduled one, else it is an instant event);
- an instance's ``entered_at`` is its first event (schedule, else start, else complete),
  ``started_at`` its start (null without one) and ``left_at`` its completion (null for an
  instant event, which is all a log without lifecycle has);
- at the end of a trace, started or scheduled instances without completion are kept open
  (``left_at`` null) and reported as ``unpaired-start``/``unpaired-schedule`` warnings; a bare
  complete of an activity that has start events elsewhere is reported as ``unpaired-complete``;
- other transitions (suspend, resume, abort, withdraw, ...) are skipped and counted.
"""

from __future__ import annotations

import gzip
import zlib
from collections import Counter, deque
from collections.abc import Iterable
from pathlib import Path
from typing import IO, Any, cast
from xml.parsers.expat import ExpatError

import polars as pl

from flowsim.history import problems as p
from flowsim.history.log import MAX_PROBLEMS_PER_CODE, DealLog, ImportReport, build_log
from flowsim.history.mapping import Mapping
from flowsim.history.problems import LogError, problem
from flowsim.history.timestamps import check_timezone
from flowsim.history.xes_fast import scan_fast
from flowsim.history.xes_scan import Keys, Scan, scan_expat

AMOUNT_KEYS = ("amount", "Amount", "AMOUNT", "AMOUNT_REQ")


def read_xes(
    path: str | Path,
    *,
    mapping: Mapping | None = None,
    tz: str = "UTC",
    lenient: bool = False,
    source: str | None = None,
) -> DealLog:
    """Import an XES log; ``mapping`` may rename the keys (deal = trace key, others event keys)."""
    path = Path(path)
    name = source or path.name
    tz = check_timezone(tz)
    m = mapping or Mapping()
    keys = _keys(m)
    scan = _scan(path, keys, name)
    events = scan.events.height
    if events == 0:
        raise LogError(
            [
                problem(
                    kind=p.EMPTY_FILE,
                    source=name,
                    message="no events: the log has no <event> inside a <trace>",
                    hint="export the event log with its traces and events",
                )
            ]
        )
    skipped: dict[str, int] = {}
    warnings: list[tuple[str, int, str | None]] = []  # (code, row, stage)
    raw = _instances(scan, skipped, warnings)
    report = ImportReport(
        source=name,
        format="xes",
        layout="XES",
        mapping={
            "deal": f"trace {keys.deal}",
            "stage": keys.stage,
            "timestamp": keys.timestamp,
            "owner": keys.owner,
            "lifecycle": keys.lifecycle,
        },
        rows_read=events,
        rows_skipped=sum(skipped.values()),
        skipped_by_reason=dict(skipped),
    )
    _note_unpaired_completes(raw, warnings)
    raw = raw.drop("instant")
    _add_warnings(report, warnings, keys.lifecycle)
    log = build_log(
        raw, _labels(keys), report, tz=tz, lenient=lenient, stage_aliases=m.stage_aliases
    )
    log.attributes = _case_attributes(scan)
    return log


def _keys(m: Mapping) -> Keys:
    """The XES keys to read: the mapping's names, else the standard extensions' keys."""
    return Keys(
        deal=m.deal or "concept:name",
        stage=m.stage or "concept:name",
        timestamp=m.timestamp or "time:timestamp",
        owner=m.owner or "org:resource",
        lifecycle=m.lifecycle or "lifecycle:transition",
        amount=(m.amount,) if m.amount else AMOUNT_KEYS,
    )


def _labels(keys: Keys) -> dict[str, str]:
    """How messages name each field: the XES key it was read from."""
    return {
        "deal": keys.deal,
        "stage": keys.stage,
        "timestamp": keys.timestamp,
        "start": f"{keys.timestamp} (start)",
        "end": f"{keys.timestamp} (complete)",
        "owner": keys.owner,
        "amount": "amount",
    }


def _scan(path: Path, keys: Keys, name: str) -> Scan:
    """Scan the file (the fast scanner, else expat); an unreadable file is one located error.

    A cut-short or non-gzip ``.xes.gz`` gets its own words: those are the usual download
    accidents, and expat's would mislead.
    """
    try:
        with _open(path) as stream:
            scan = scan_fast(stream, keys)
        if scan is None:  # not a file the fast scanner vouches for: expat reads (or refuses) it
            with _open(path) as stream:
                scan = scan_expat(stream, keys)
    except (ExpatError, OSError, EOFError, zlib.error) as exc:
        why = f"not a readable XES file: {exc}"
        if isinstance(exc, EOFError):
            why = "the compressed file is cut short (an incomplete download or copy?)"
        elif isinstance(exc, (zlib.error, gzip.BadGzipFile)):
            why = f"not valid gzip data ({exc})"
        raise LogError(
            [
                problem(
                    kind=p.BAD_XML,
                    source=name,
                    row=getattr(exc, "lineno", None),  # expat: the XML line
                    message=why,
                    hint="XES is XML; a .xes.gz file must be gzip-compressed XES",
                )
            ]
        ) from None
    return scan


def _add_warnings(
    report: ImportReport, warnings: list[tuple[str, int, str | None]], life_key: str
) -> None:
    """List the pairing warnings in event order, at most a capped number per code.

    The rest are counted as omitted, so that a log with millions of open instances still
    gives a readable report.
    """
    warnings.sort(key=lambda w: (w[1], w[0]))
    per_code: Counter[str] = Counter()
    for code, row, stage in warnings:
        per_code[code] += 1
        if per_code[code] > MAX_PROBLEMS_PER_CODE:
            continue
        report.problems.append(
            problem(
                kind=code,
                severity="warning",
                source=report.source,
                row=row,
                column=None if code == p.EVENT_OUTSIDE_TRACE else life_key,
                message=_UNPAIRED[code],
                value=stage,
            )
        )
    report.add_problems([], {p.CODES[k]: n - MAX_PROBLEMS_PER_CODE for k, n in per_code.items()})


def _case_attributes(scan: Scan) -> pl.DataFrame:
    """Every trace attribute as a column ``case:<key>`` (pm4py's naming), one row per event
    (``source_row`` = the event number, a record's first event), for ``--where``/``--by``."""
    rows = scan.events.select(pl.col("event").alias("source_row"), "trace")
    found = scan.trace_attributes
    if found.height == 0:
        return rows.drop("trace")
    wide = found.pivot(on="key", index="trace", values="value")
    wide = wide.rename({c: f"case:{c}" for c in wide.columns if c != "trace"})
    return rows.join(wide, on="trace", how="left", maintain_order="left").drop("trace")


_UNPAIRED = {
    p.UNPAIRED_START: "start without a complete; kept open",
    p.UNPAIRED_SCHEDULE: "schedule without a start or complete; kept open",
    p.UNPAIRED_COMPLETE: (
        "complete without a start, although the activity has starts; kept as an instant"
    ),
    p.UNSUPPORTED_LIFECYCLE: "lifecycle transition not supported yet; event skipped",
    p.EVENT_OUTSIDE_TRACE: "event outside any trace (no deal); skipped",
}


def _open(path: Path) -> IO[bytes]:
    with path.open("rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return cast(IO[bytes], gzip.open(path, "rb"))
    return path.open("rb")


_RAW_SCHEMA: dict[str, pl.DataType] = {
    "deal": pl.String(),
    "stage": pl.String(),
    "timestamp": pl.String(),
    "start": pl.String(),
    "end": pl.String(),
    "owner": pl.String(),
    "amount": pl.String(),
    "source_row": pl.Int64(),
    "sources": pl.Int64(),
    "instant": pl.Boolean(),
}


def _instances(
    scan: Scan, skipped: dict[str, int], warnings: list[tuple[str, int, str | None]]
) -> pl.DataFrame:
    """Activity instances (one raw row each, by first event) from the scanned events."""
    ev = scan.events
    outside = ev.filter(pl.col("trace").is_null())
    if outside.height:
        skipped[p.EVENT_OUTSIDE_TRACE] = outside.height
        warnings.extend(
            (p.EVENT_OUTSIDE_TRACE, row, stage)
            for row, stage in outside.select("event", "stage").iter_rows()
        )
    ev = (
        ev.filter(pl.col("trace").is_not_null())
        .join(scan.traces.rename({"amount": "trace_amount"}), on="trace", how="left")
        .with_columns(
            lc=pl.when(pl.col("lifecycle").fill_null("") == "")
            .then(pl.lit("complete"))
            .otherwise(pl.col("lifecycle").str.to_lowercase())
        )
        .with_columns(paired=(pl.col("lc") != "complete").any().over("trace", "stage"))
    )
    # an activity with only complete transitions: every event is an instant record
    instants = ev.filter(~pl.col("paired")).select(
        "deal",
        "stage",
        "timestamp",
        start=pl.lit(None, pl.String),
        end=pl.lit(None, pl.String),
        owner="owner",
        amount=pl.coalesce("amount", "trace_amount"),
        source_row="event",
        sources=pl.lit(1, pl.Int64),
        instant=pl.lit(True),
    )
    # schedule/start/complete in runs (S? T? C, one instance after another): vectorised
    groups = ["trace", "stage"]
    paired = (
        ev.filter(pl.col("paired"))
        .sort("trace", "stage", "event", nulls_last=True)
        .with_columns(
            prv=pl.col("lc").shift(1).over(groups), nxt=pl.col("lc").shift(-1).over(groups)
        )
    )
    tangled = (
        ~pl.col("lc").is_in(["schedule", "start", "complete"])
        | ((pl.col("lc") == "schedule") & (pl.col("nxt") == "schedule"))
        | ((pl.col("lc") == "start") & pl.col("nxt").is_in(["schedule", "start"]))
    ).fill_null(False)
    paired = paired.with_columns(simple=~tangled.any().over(groups))
    runs = _pair_runs(paired.filter(pl.col("simple")), warnings)
    # anything else (queued schedules or starts, other transitions): the rule, event by event
    rows = _pair(
        paired.filter(~pl.col("simple"))
        .sort("event")
        .select(
            "trace",
            "deal",
            "trace_amount",
            "stage",
            "timestamp",
            "owner",
            "lc",
            "lifecycle",
            "amount",
            "event",
        )
        .iter_rows(),
        skipped,
        warnings,
    )
    rest = pl.DataFrame(rows, schema=_RAW_SCHEMA, orient="row")
    parts = [instants.cast(_RAW_SCHEMA), runs.cast(_RAW_SCHEMA), rest]  # type: ignore[arg-type]
    return pl.concat(parts).sort("source_row")


def _last_set(column: str) -> pl.Expr:
    """``a or b or c`` read backwards: the last non-empty value, else the first one."""
    c = pl.col(column)
    return c.filter(c.is_not_null() & (c != "")).last().fill_null(c.first())


def _pair_runs(events: pl.DataFrame, warnings: list[tuple[str, int, str | None]]) -> pl.DataFrame:
    """Instances of (trace, activity) groups whose transitions come in runs.

    In such a group (sorted by trace, stage, event) a schedule is followed by a start or
    complete, a start by a complete (or the group ends), so the FIFO rule pairs neighbours:
    an instance is a run that begins at a schedule, a start not after a schedule, or a
    complete after neither, which is what :func:`_pair` does one event at a time.
    """
    lc, prv = pl.col("lc"), pl.col("prv")
    begins = (
        (lc == "schedule")
        | ((lc == "start") & (prv != "schedule").fill_null(True))
        | ((lc == "complete") & ~prv.is_in(["schedule", "start"]).fill_null(False))
    )
    ts = pl.col("timestamp")
    inst = (
        events.with_columns(instance=begins.cum_sum())
        .group_by("instance", maintain_order=True)
        .agg(
            deal=pl.col("deal").first(),
            stage=pl.col("stage").first(),
            timestamp=ts.first(),
            start=ts.filter(lc == "start").first(),
            end=ts.filter((lc == "complete") & (pl.int_range(pl.len()) > 0)).first(),
            owner=_last_set("owner"),
            amount=_last_set("amount"),
            trace_amount=pl.col("trace_amount").first(),
            source_row=pl.col("event").first(),
            sources=pl.len().cast(pl.Int64),
            first=lc.first(),
            started=(lc == "start").any(),
            completed=(lc == "complete").any(),
        )
    )
    open_starts = inst.filter(pl.col("started") & ~pl.col("completed"))
    open_schedules = inst.filter((pl.col("first") == "schedule") & (pl.col("sources") == 1))
    for code, part in ((p.UNPAIRED_START, open_starts), (p.UNPAIRED_SCHEDULE, open_schedules)):
        warnings.extend(
            (code, row, stage) for row, stage in part.select("source_row", "stage").iter_rows()
        )
    return inst.select(
        "deal",
        "stage",
        "timestamp",
        "start",
        "end",
        "owner",
        amount=pl.coalesce("amount", "trace_amount"),
        source_row="source_row",
        sources="sources",
        instant=(pl.col("first") == "complete") & (pl.col("sources") == 1),
    )


_Open = tuple[str | None, int, str | None, str | None, str | None, int]


def _pair(
    events: Iterable[tuple[Any, ...]],
    skipped: dict[str, int],
    warnings: list[tuple[str, int, str | None]],
) -> list[tuple[object, ...]]:
    """The lifecycle rule of the module doc, per (trace, activity), in event order."""
    out: list[tuple[object, ...]] = []
    # (trace, stage) -> queues of (entered, first row, start, owner, amount, events)
    scheduled: dict[tuple[int, str | None], deque[_Open]] = {}
    started: dict[tuple[int, str | None], deque[_Open]] = {}
    deal_of: dict[int, tuple[str | None, str | None]] = {}
    for trace, deal, t_amount, stage, ts, owner, lc, life, amount, row in events:
        deal_of[trace] = (deal, t_amount)
        key = (trace, stage)
        if lc == "complete":
            queue = started.get(key) or scheduled.get(key)
            opened = queue.popleft() if queue else None
            out.append(_completed(deal, stage, t_amount, opened, (ts, row, owner, amount)))
        elif lc == "start":
            queue = scheduled.get(key)
            if queue:
                e_ts, e_row, _, e_owner, e_amount, n = queue.popleft()
                item = (e_ts, e_row, ts, owner or e_owner, amount or e_amount, n + 1)
            else:
                item = (ts, row, ts, owner, amount, 1)
            started.setdefault(key, deque()).append(item)
        elif lc == "schedule":
            scheduled.setdefault(key, deque()).append((ts, row, None, owner, amount, 1))
        else:
            reason = f"{p.UNSUPPORTED_LIFECYCLE}:{lc}"
            skipped[reason] = skipped.get(reason, 0) + 1
            warnings.append((p.UNSUPPORTED_LIFECYCLE, row, f"{stage} ({life})"))
    out.extend(_unclosed(started, scheduled, deal_of, warnings))
    return out


def _completed(
    deal: str | None,
    stage: str | None,
    t_amount: str | None,
    opened: _Open | None,
    event: tuple[Any, int, str | None, str | None],
) -> tuple[object, ...]:
    """The record a ``complete`` event closes: the opened instance's, else an instant one.

    ``event`` is the complete's (time, row, owner, amount); its owner and amount win over
    the opening event's, and the trace's amount fills in when neither has one.
    """
    ts, row, owner, amount = event
    if opened is None:
        a: str | None = amount
        return (deal, stage, ts, None, None, owner, a if a is not None else t_amount, row, 1, True)
    e_ts, e_row, s_ts, e_owner, e_amount, n = opened
    a = amount or e_amount
    return (
        deal,
        stage,
        e_ts,
        s_ts,
        ts,
        owner or e_owner,
        a if a is not None else t_amount,
        e_row,
        n + 1,
        False,
    )


def _unclosed(
    started: dict[tuple[int, str | None], deque[_Open]],
    scheduled: dict[tuple[int, str | None], deque[_Open]],
    deal_of: dict[int, tuple[str | None, str | None]],
    warnings: list[tuple[str, int, str | None]],
) -> list[tuple[object, ...]]:
    """The instances left open at the end of their trace: kept open, each one warned about."""
    out: list[tuple[object, ...]] = []
    for code, queues in ((p.UNPAIRED_START, started), (p.UNPAIRED_SCHEDULE, scheduled)):
        for (trace, stage), queue in queues.items():
            deal, t_amount = deal_of[trace]
            for e_ts, e_row, s_ts, e_owner, e_amount, n in queue:
                warnings.append((code, e_row, stage))
                out.append(
                    (
                        deal,
                        stage,
                        e_ts,
                        s_ts,
                        None,
                        e_owner,
                        e_amount if e_amount is not None else t_amount,
                        e_row,
                        n,
                        False,
                    )
                )
    return out


def _note_unpaired_completes(
    raw: pl.DataFrame, warnings: list[tuple[str, int, str | None]]
) -> None:
    """Warn about bare completes of activities that have start events somewhere in the log."""
    frame = raw.select("stage", "start", "source_row", "instant")
    with_starts = frame.filter(pl.col("start").is_not_null())["stage"].unique().implode()
    bare = frame.filter(pl.col("instant") & pl.col("stage").is_in(with_starts))
    warnings.extend(
        (p.UNPAIRED_COMPLETE, row, stage)
        for row, stage in zip(bare["source_row"].to_list(), bare["stage"].to_list(), strict=True)
    )
