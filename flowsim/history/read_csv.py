"""Read a long-shape CSV/TSV deal log (one row per stage entry or per event).

The file is decoded first (UTF-8, UTF-8 with BOM, else GB18030, a superset of GBK, unless an
encoding is forced), the delimiter is sniffed from the first KB (``,`` ``;`` tab ``|``), every
column is read as a string by polars, and the mapping decides which column is which. Dates
are parsed vectorised per column (:mod:`flowsim.history.timestamps`); every row check is in
:func:`flowsim.history.log.build_log`.

A plain UTF-8 file (no BOM, no ``#`` preamble) skips the Python decode: only its head is
decoded here and polars, which validates UTF-8 in every String column, reads the file itself.
Anything polars refuses is read again the general way, which words the error.
"""

from __future__ import annotations

import codecs
import csv
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import polars as pl

from flowsim.diagnostics import Diagnostic
from flowsim.errors import InputError
from flowsim.history import problems as p
from flowsim.history._decode import decode, sniff_delimiter
from flowsim.history.amounts import DecimalMark
from flowsim.history.consistency import drop_records, mixed_offset_problems
from flowsim.history.join import join_for, join_table
from flowsim.history.log import (
    MAX_PROBLEMS_PER_CODE,
    DealLog,
    ImportReport,
    build_log,
    start_columns,
)
from flowsim.history.mapping import Mapping, ResolvedMapping
from flowsim.history.problems import LogError, problem
from flowsim.history.read_wide import note_unknown_owners, wide_log
from flowsim.history.textcol import as_text, text_expr
from flowsim.history.timestamps import check_timezone, read_timestamps

TIME_FIELDS = ("timestamp", "start", "end")


def read_csv(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: Mapping | None = None,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal: DecimalMark | None = None,
    lenient: bool = False,
    source: str | None = None,
) -> DealLog:
    """Import a long-shape CSV deal log; bad data raises :class:`LogError` unless ``lenient``.

    Rows are numbered as a spreadsheet shows them: the header is row 1, the first record
    row 2 (a quoted field holding a newline does not shift the numbering). Lines starting
    with ``#`` before the header are a preamble (e.g. where the data came from): skipped,
    and counted in the numbering, so row numbers still match the file's lines.

    ``date_format`` (a strftime pattern) reads every time column instead of the detection;
    ``decimal`` (``"comma"``/``"point"``) is the amounts' decimal separator, else decided per
    column (:mod:`flowsim.history.amounts`).
    """
    path = Path(path)
    name = source or path.name
    tz = check_timezone(tz)
    table, sep, used_encoding, preamble = csv_table(path, name, encoding, delimiter)
    target = join_for(table, mapping or Mapping(), path)
    joined: list[Diagnostic] = []
    if target is not None:
        table, joined = join_table(table, *target, source=name, encoding=encoding, lenient=lenient)
        joined.insert(
            0,
            problem(
                kind=p.JOINED,
                severity="info",
                source=name,
                message=f"joined {Path(target[0]).name} on {target[1]}",
            ),
        )
    log = from_table(
        table,
        source=name,
        format="csv",
        mapping=mapping,
        tz=tz,
        dayfirst=dayfirst,
        date_format=date_format,
        decimal=decimal,
        lenient=lenient,
        encoding=used_encoding,
        delimiter=sep,
        first_row=2 + preamble,
    )
    report = log.report
    listed = [q for q in joined if q.name != p.JOIN_WITHOUT_DEAL]
    orphans = [q for q in joined if q.name == p.JOIN_WITHOUT_DEAL]
    listed += orphans[:MAX_PROBLEMS_PER_CODE]
    report.problems = listed + report.problems
    report.add_problems([], {p.CODES[p.JOIN_WITHOUT_DEAL]: len(orphans) - MAX_PROBLEMS_PER_CODE})
    return log


def csv_table(
    path: Path, name: str, encoding: str | None, delimiter: str | None
) -> tuple[pl.DataFrame, str, str, int]:
    """A CSV file as a table of text columns: the raw-table step every CSV import shares.

    The file is decoded (the forced ``encoding``, else UTF-8, else GB18030), a ``#`` preamble
    skipped, the delimiter sniffed unless given, and a header naming a column twice refused.

    Returns
    -------
    tuple
        The table (every column String), the delimiter, the encoding used and the number of
        preamble lines (the first record is row ``2 + preamble``).

    Raises
    ------
    LogError
        The file cannot be read as CSV (encoding, emptiness, ragged rows, repeated header).
    """
    fast = _read_plain_utf8(path, delimiter) if encoding in (None, "utf-8", "utf8") else None
    if fast is not None:
        table, sep = fast
        used_encoding, preamble = encoding or "utf-8", 0
    else:
        table, sep, used_encoding, preamble = _read_decoded(path, name, encoding, delimiter)
    _refuse_repeated_header(table.columns, name)
    return table, sep, used_encoding, preamble


#: bytes read to validate the header and sniff the delimiter before polars reads the file
HEAD_BYTES = 1 << 16


def _read_plain_utf8(path: Path, delimiter: str | None) -> tuple[pl.DataFrame, str] | None:
    """The common case read in one pass: UTF-8 without BOM or ``#`` preamble.

    Decoding the whole file in Python and encoding it again for polars was ≈ 1 s per 250 MB;
    polars validates UTF-8 in every String column itself, so only the head (the header, which
    polars would read lossily, and the delimiter sniff) is decoded here. ``None`` sends the
    file to :func:`_read_decoded`, which reads it as before and words every error.
    """
    try:
        with path.open("rb") as fh:
            head = fh.read(HEAD_BYTES)
    except OSError:
        return None
    whole = len(head) < HEAD_BYTES
    if not head or head.startswith((codecs.BOM_UTF8, b"#")):
        return None
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head, final=whole)
    except UnicodeDecodeError:
        return None
    if text.isspace() or not (whole or "\n" in text):
        return None
    sep = delimiter or sniff_delimiter(text)
    try:
        table = pl.read_csv(
            path, separator=sep, infer_schema=False, has_header=True, raise_if_empty=False
        )
    except (pl.exceptions.PolarsError, OSError):
        return None
    return table, sep


def _read_decoded(
    path: Path, name: str, encoding: str | None, delimiter: str | None
) -> tuple[pl.DataFrame, str, str, int]:
    """Decode the whole file (:func:`decode`), skip a ``#`` preamble, read it with polars.

    Returns the table, the delimiter, the encoding and the number of preamble lines; every
    file-level problem (encoding, emptiness, ragged rows) is refused here with its message.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise LogError.of(p.BAD_CSV, name, f"cannot read the file: {exc.strerror}") from None
    text, used_encoding = decode(data, name, encoding)
    if not text or text.isspace():
        raise LogError.of(
            p.EMPTY_FILE, name, "the file is empty", hint="export the log with a header row"
        )
    preamble = 0
    if text.startswith("#"):  # splitting 250 MB into lines costs ≈ 0.7 s: only for a preamble
        lines = text.splitlines()
        for line in lines:
            if not line.startswith("#"):
                break
            preamble += 1
        text = "\n".join(lines[preamble:]) + "\n"
        if text.isspace():
            raise LogError.of(p.EMPTY_FILE, name, "the file has only # comment lines, no header")
    sep = delimiter or sniff_delimiter(text)
    try:
        table = pl.read_csv(
            text.encode("utf-8"),
            separator=sep,
            infer_schema=False,
            has_header=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        ragged = _ragged_row(text, sep)
        if ragged is not None:
            row, fields, expected = ragged
            raise LogError(
                [
                    problem(
                        kind=p.BAD_CSV,
                        source=name,
                        row=row,
                        message=f"the row has {fields} fields, the header {expected}",
                        hint="quote values that contain the delimiter "
                        f"({'tab' if sep == chr(9) else repr(sep)}), or check --delimiter",
                    )
                ]
            ) from None
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LogError.of(
            p.BAD_CSV,
            name,
            f"not a readable CSV file: {first}",
            hint="check the delimiter (--delimiter) and unbalanced quotes",
        ) from None
    return table, sep, used_encoding, preamble


def _ragged_row(text: str, sep: str) -> tuple[int, int, int] | None:
    """(row, fields, header fields) of the first row longer than the header, else ``None``.

    Only reached when polars refuses the file, so the pure-Python scan costs nothing on good
    files. Rows are numbered like the log's rows: the header is row 1.
    """
    reader = csv.reader(text.splitlines(), delimiter=sep)
    try:
        header = next(reader)
        for number, record in enumerate(reader, start=2):
            if len(record) > len(header):
                return number, len(record), len(header)
    except (csv.Error, StopIteration):
        return None
    return None


def _refuse_repeated_header(columns: list[str], source: str) -> None:
    """Two columns with one name: polars renames the second, and the wrong one might be used."""
    seen = set(columns)
    for index, column in enumerate(columns):
        base, sep, number = column.rpartition("_duplicated_")
        if sep and number.isdigit() and base in seen:
            raise LogError(
                [
                    problem(
                        kind=p.BAD_CSV,
                        source=source,
                        row=1,
                        column=base,
                        message=f"the header names this column twice (column {index + 1} "
                        f"repeats column {columns.index(base) + 1})",
                        hint="rename or remove one of them",
                    )
                ]
            )


def stringify(table: pl.DataFrame) -> pl.DataFrame:
    """Every column as text, the way a CSV export would write it (vectorised).

    Datetimes become ISO 8601 (with the offset when they have a time zone), dates
    ``YYYY-MM-DD``, numbers their shortest text (:func:`flowsim.history.textcol.text_expr`).
    Used for the wide shape and the columns the long shape reads as text; typed time and
    amount columns of a long table are read directly (:func:`_long_fields`).
    """
    return table.select([text_expr(name, dtype) for name, dtype in table.schema.items()])


def _long_fields(table: pl.DataFrame, fields: dict[str, str]) -> pl.DataFrame:
    """The mapped columns of a long table, named by field, typed where the checks can use it.

    Datetime and Date time columns stay typed (no text round trip: writing 4M datetimes as
    text and parsing them back was most of a Parquet import), numeric amounts stay numbers;
    everything else becomes text as a CSV export would write it.
    """
    exprs: list[pl.Expr] = []
    for field, column in fields.items():
        dtype = table.schema[column]
        temporal = isinstance(dtype, pl.Datetime) or dtype == pl.Date
        numeric = dtype.is_numeric()  # integers, floats and decimals (SQL NUMERIC)
        if (field in TIME_FIELDS and temporal) or (field == "amount" and numeric):
            exprs.append(pl.col(column).alias(field))
        else:
            exprs.append(text_expr(column, dtype).alias(field))
    return table.select(exprs)


def from_table(
    table: pl.DataFrame | dict[str, list[str | None]],
    *,
    source: str,
    format: Literal["csv", "xlsx", "parquet", "sql"],
    mapping: Mapping | None = None,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal: DecimalMark | None = None,
    lenient: bool = False,
    source_rows: pl.Series | list[int] | None = None,
    first_row: int = 2,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> DealLog:
    """Import a table (columns of text, or a typed frame) in the long or wide shape.

    The shared path of every tabular source (CSV, Excel, Parquet, SQL): the mapping decides
    the shape and the columns, then :func:`build_log` (long) or
    :func:`flowsim.history.read_wide.wide_log` (wide) checks every row. Rows are numbered
    ``first_row``, ``first_row + 1``... unless ``source_rows`` gives each row's number.
    """
    tz = check_timezone(tz)
    if isinstance(table, dict):
        table = pl.DataFrame(table, schema={c: pl.String for c in table})
    rows = (
        pl.Series("source_row", source_rows, dtype=pl.Int64)
        if source_rows is not None
        else pl.int_range(first_row, table.height + first_row, dtype=pl.Int64, eager=True)
    ).rename("source_row")
    if rows.len() != table.height:
        raise InputError("source_rows must give one number per row")
    if table.height == 0:
        raise _empty(source, table.columns, format)
    resolved = (mapping or Mapping()).resolve(table.columns, source=source)
    report = ImportReport(
        source=source,
        format=format,
        shape="wide" if resolved.shape == "wide" else "long",
        encoding=encoding,
        delimiter=delimiter,
        layout=resolved.layout,
        mapping=dict(resolved.columns),
        rows_read=table.height,
    )
    opts = _Reading(source, tz, dayfirst, date_format, decimal, lenient)
    if resolved.shape == "wide":
        amount = resolved.get("amount")
        if decimal is None and amount is not None and table.schema[amount].is_numeric():
            # typed numbers, written as text: 1.234 is never a thousand
            opts = replace(opts, decimal="point")
        log = wide_log(
            stringify(table),
            resolved,
            report,
            source_rows=rows,
            tz=tz,
            dayfirst=dayfirst,
            date_format=date_format,
            decimal=opts.decimal,
            lenient=lenient,
        )
    else:
        log = _long_log(table, rows, resolved, report, opts)
        log.roles = dict(resolved.roles)
        if log.roles and "owner" in resolved.columns:
            note_unknown_owners(log, resolved.columns["owner"])
    log.attributes = _attributes(table, rows)
    return log


@dataclass(frozen=True)
class _Reading:
    """How a table's values are read (the options of :func:`from_table`)."""

    source: str
    tz: str
    dayfirst: bool | None
    date_format: str | None
    decimal: DecimalMark | None
    lenient: bool


def _empty(source: str, columns: list[str], format: str) -> LogError:
    """The error for a table with a header and no rows, with where to look instead."""
    return LogError.of(
        p.EMPTY_FILE,
        source,
        "the query returned no rows"
        if format == "sql"
        else f"no data rows: only the header ({', '.join(columns)})"
        if columns
        else "no data rows",
        hint="is the log on another sheet? choose it with --sheet NAME"
        if format == "xlsx"
        else "export the deals with their rows, not only the column names",
    )


def _refuse_lifecycles(table: pl.DataFrame, column: str | None, source: str) -> None:
    """A table's lifecycle column may only say ``complete`` (start/complete pairs: use XES)."""
    if column is None:
        return
    values = as_text(table[column]).str.strip_chars().str.to_lowercase()
    other = values.is_not_null() & (values != "") & (values != "complete")
    if other.any():
        raise LogError.of(
            p.UNSUPPORTED_LIFECYCLE,
            source,
            "start/complete pairs in tables are not supported yet; found lifecycle value",
            column=column,
            value=str(values.filter(other)[0]),
            hint="use start_timestamp and time:timestamp columns, or XES",
        )


def _long_log(
    table: pl.DataFrame,
    rows: pl.Series,
    resolved: ResolvedMapping,
    report: ImportReport,
    opts: _Reading,
) -> DealLog:
    """A long-shape table (one row per record) checked row by row into a :class:`DealLog`.

    Every column pass runs on two threads (polars releases the GIL): the time columns'
    parsing, the text columns' cleaning and the amounts, side by side. The pool is this
    call's, and is shut down when it returns or raises (no thread outlives a refused file).
    """
    fields = {f: c for f, c in resolved.columns.items() if f != "lifecycle"}
    raw = _long_fields(table, fields).with_columns(rows)
    _refuse_lifecycles(table, resolved.get("lifecycle"), opts.source)
    times = [f for f in TIME_FIELDS if f in fields]
    with ThreadPoolExecutor(max_workers=2) as pool:
        reads = [
            pool.submit(
                read_timestamps,
                raw[f],
                column=f,
                tz=opts.tz,
                dayfirst=opts.dayfirst,
                source=opts.source,
                date_format=opts.date_format,
            )
            for f in times
        ]
        column_jobs = start_columns(raw, pool, opts.decimal)
        parsed = {f: job.result() for f, job in zip(times, reads, strict=True)}
        # only text columns where some value has an offset (or failed) can mix offset styles
        suspects = {fields[f]: raw[f] for f, read in parsed.items() if read.offsets}
        mixed: list[Diagnostic] = []
        mixed_rows: pl.Series | None = None
        if suspects:
            mixed, mixed_rows = mixed_offset_problems(
                suspects, raw["source_row"], source=opts.source, tz=opts.tz, lenient=opts.lenient
            )
        try:
            log = build_log(
                raw,
                dict(fields),
                report,
                tz=opts.tz,
                dayfirst=opts.dayfirst,
                date_format=opts.date_format,
                decimal=opts.decimal,
                lenient=opts.lenient,
                stage_aliases=resolved.stage_aliases,
                collapse_repeats=resolved.collapse_repeats,
                parsed=parsed,
                columns=column_jobs,
            )
        except LogError as err:  # strict: every error of the pass, in row order
            omitted = Counter(err.omitted) + Counter(_mixed_omitted(mixed, mixed_rows))
            problems = sorted(mixed + err.problems, key=lambda q: q.row or 0)
            raise LogError(problems, omitted) from None
    return _drop_mixed(log, raw, mixed, mixed_rows, opts.lenient)


def _drop_mixed(
    log: DealLog,
    raw: pl.DataFrame,
    mixed: list[Diagnostic],
    mixed_rows: pl.Series | None,
    lenient: bool,
) -> DealLog:
    """Refuse (or with ``lenient`` drop) the rows whose time columns mix offset styles."""
    if mixed and not lenient:
        raise LogError(mixed, _mixed_omitted(mixed, mixed_rows))
    if not mixed or mixed_rows is None:
        return log
    bad = log.frame["source_row"].is_in(raw["source_row"].filter(mixed_rows).implode())
    return drop_records(
        log,
        bad,
        p.MIXED_TIMEZONE,
        mixed,
        weight=bad.cast(pl.Int64),
        found=int(mixed_rows.sum()),
    )


def _attributes(table: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """Every column of the source as read, keyed by ``source_row`` (no copy: same buffers).

    A source column named ``source_row`` (a flowsim export's) gives way to the row numbers.
    """
    return table.drop("source_row", strict=False).with_columns(rows)


def _mixed_omitted(mixed: list[Diagnostic], rows: pl.Series | None) -> dict[str, int]:
    """Mixed-offset rows found but not listed (the problems stop at 200 per column)."""
    found = int(rows.sum()) if rows is not None else 0
    return {p.CODES[p.MIXED_TIMEZONE]: found - len(mixed)} if found > len(mixed) else {}
