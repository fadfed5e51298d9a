"""Read a long-shape CSV/TSV deal log (one row per stage entry or per event).

The file is decoded first (UTF-8, UTF-8 with BOM, else GB18030, a superset of GBK, unless an
encoding is forced), the delimiter is sniffed from the first KB (``,`` ``;`` tab ``|``), every
column is read as a string by polars, and the mapping decides which column is which. Dates
are parsed vectorised per column (:mod:`flowsim.history.timestamps`); every row check is in
:func:`flowsim.history.log.build_log`.
"""

from __future__ import annotations

import codecs
import csv
from pathlib import Path

import polars as pl

from flowsim.history import problems as p
from flowsim.history.log import DealLog, ImportReport, build_log
from flowsim.history.mapping import Mapping
from flowsim.history.problems import LogError, LogProblem
from flowsim.history.timestamps import check_timezone

DELIMITERS = ",;\t|"
AUTO_ENCODINGS = ("utf-8", "gb18030")


def _fail(code: str, source: str, message: str, **extra: str | None) -> LogError:
    return LogError([LogProblem(code=code, source=source, message=message, **extra)])


def decode(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    """Decode ``data``: the forced ``encoding``, or UTF-8 (with or without BOM), or GB18030."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise _fail(
                p.BAD_ENCODING,
                source,
                "unknown encoding",
                value=encoding,
                hint="e.g. utf-8, utf-8-sig, gbk, gb18030, latin-1",
            ) from None
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise _fail(
                p.BAD_ENCODING,
                source,
                f"the file is not valid {encoding} at byte {exc.start}",
                hint="try another --encoding",
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _fail(
                p.BAD_ENCODING, source, f"UTF-8 BOM but invalid UTF-8 at byte {exc.start + 3}"
            ) from None
    for name in AUTO_ENCODINGS:
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    raise _fail(
        p.BAD_ENCODING,
        source,
        "the file is neither UTF-8 nor GBK/GB18030",
        hint="pass --encoding (e.g. latin-1, cp1252, big5)",
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter of ``text``, from csv.Sniffer on the first KB, else the header line."""
    head = text[:1024]
    try:
        found = csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = ""
    if found in DELIMITERS and found:
        return found
    header = head.splitlines()[0] if head else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def read_csv(
    path: str | Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    mapping: Mapping | None = None,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    lenient: bool = False,
    source: str | None = None,
) -> DealLog:
    """Import a long-shape CSV deal log; bad data raises :class:`LogError` unless ``lenient``.

    Rows are numbered as a spreadsheet shows them: the header is row 1, the first record
    row 2 (a quoted field holding a newline does not shift the numbering).
    """
    path = Path(path)
    name = source or path.name
    tz = check_timezone(tz)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _fail(p.BAD_CSV, name, f"cannot read the file: {exc.strerror}") from None
    text, used_encoding = decode(data, name, encoding)
    if not text.strip():
        raise _fail(
            p.EMPTY_FILE, name, "the file is empty", hint="export the log with a header row"
        )
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
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise _fail(
            p.BAD_CSV,
            name,
            f"not a readable CSV file: {first}",
            hint="check the delimiter (--delimiter) and unbalanced quotes",
        ) from None
    columns = table.columns
    resolved = (mapping or Mapping()).resolve(columns, source=name)
    report = ImportReport(
        source=name,
        format="csv",
        encoding=used_encoding,
        delimiter=sep,
        layout=resolved.layout,
        mapping=dict(resolved.columns),
        rows_read=table.height,
    )
    fields = {f: c for f, c in resolved.columns.items() if f != "lifecycle"}
    raw = table.select([pl.col(c).alias(f) for f, c in fields.items()]).with_columns(
        source_row=pl.int_range(2, table.height + 2, dtype=pl.Int64)
    )
    lifecycle = resolved.get("lifecycle")
    if lifecycle is not None:
        values = table[lifecycle].str.strip_chars().str.to_lowercase()
        other = values.is_not_null() & (values != "") & (values != "complete")
        if other.any():
            raise _fail(
                p.UNSUPPORTED_LIFECYCLE,
                name,
                "start/complete pairs in CSV are not supported yet; found lifecycle value",
                column=lifecycle,
                value=str(values.filter(other)[0]),
                hint="use start_timestamp and time:timestamp columns, or XES",
            )
    return build_log(
        raw,
        dict(fields),
        report,
        tz=tz,
        dayfirst=dayfirst,
        lenient=lenient,
        stage_aliases=resolved.stage_aliases,
        collapse_repeats=resolved.collapse_repeats,
    )
