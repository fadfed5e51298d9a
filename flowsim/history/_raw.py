"""A source (CSV, Excel, Parquet, SQL) as one raw table: the step every tabular import shares.

The deal-log readers and the feedback reader read their source the same way: the format by
the file's ending (or ``sql``), then the format's raw-table step
(:func:`~flowsim.history.read_csv.csv_table`, :func:`~flowsim.history.read_excel.excel_table`,
:func:`~flowsim.history.read_parquet.parquet_table`, :func:`~flowsim.history.read_sql.sql_table`)
with its decoding rules (encoding detection, delimiter sniffing, preamble, sheet choice),
and each row's number as the user finds it (a CSV line, a spreadsheet row, a record).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from flowsim.history import FORMATS
from flowsim.history import problems as p
from flowsim.history.options import ReadOptions
from flowsim.history.problems import LogError
from flowsim.history.read_csv import csv_table
from flowsim.history.read_excel import excel_table
from flowsim.history.read_parquet import parquet_table
from flowsim.history.read_sql import _redact, sql_table

__all__ = ["RawTable", "read_table"]


@dataclass(frozen=True)
class RawTable:
    """A source's table as read, before any mapping.

    ``rows`` numbers each row as the user finds it (CSV and Excel: the header is row 1;
    Parquet and SQL: records from 1). ``encoding`` and ``delimiter`` are those of a CSV file.
    """

    table: pl.DataFrame
    source: str
    format: str
    rows: pl.Series
    encoding: str | None = None
    delimiter: str | None = None


def _numbers(first: int, height: int) -> pl.Series:
    return pl.int_range(first, first + height, dtype=pl.Int64, eager=True).rename("source_row")


def read_table(
    path: str | Path | None, options: ReadOptions, *, source: str | None = None
) -> RawTable:
    """Read ``path`` (or ``options.sql`` on ``options.db``) into a :class:`RawTable`.

    Raises
    ------
    LogError
        The source cannot be read (``H0xx``), or is a format without tables (XES).
    """
    if options.sql is not None:
        if options.db is None:
            raise LogError.of(p.BAD_QUERY, "--sql", "a SQL import needs --db as well")
        name = source or _redact(str(options.db))
        columns = sql_table(options.sql, options.db, name)
        table = pl.DataFrame(columns, schema=dict.fromkeys(columns, pl.String))
        return RawTable(table, name, "sql", _numbers(1, table.height))
    if path is None:
        raise LogError.of(p.UNKNOWN_FORMAT, "<input>", "give a file, or sql= with db=")
    path = Path(path)
    name = source or path.name
    lowered = path.name.lower()
    if lowered.endswith(FORMATS["xlsx"]):
        sheet = options.sheet
        if isinstance(sheet, str) and sheet.isdigit():
            sheet = int(sheet)
        table, label, numbers = excel_table(path, sheet, name)
        return RawTable(table, label, "xlsx", pl.Series("source_row", numbers, pl.Int64))
    if lowered.endswith(FORMATS["parquet"]):
        table = parquet_table(path, name)
        return RawTable(table, name, "parquet", _numbers(1, table.height))
    if lowered.endswith((*FORMATS["xes"], ".xls")):
        raise LogError.of(
            p.UNKNOWN_FORMAT, name, "not a table", hint="use CSV, .xlsx, Parquet or a SQL query"
        )
    delimiter = None if options.delimiter is None else options.delimiter.replace("\\t", "\t")
    table, sep, encoding, preamble = csv_table(path, name, options.encoding, delimiter)
    return RawTable(table, name, "csv", _numbers(2 + preamble, table.height), encoding, sep)
