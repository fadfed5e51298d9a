"""Deal history: import CRM exports and event logs into one :class:`DealLog` (issue 4).

``read_log(path)`` picks the reader by file name (or ``format=``): ``.csv``/``.tsv``/``.txt``
→ :func:`read_csv`, ``.xlsx`` → :func:`read_excel`, ``.parquet`` → :func:`read_parquet`,
``.xes``/``.xes.gz`` → :func:`read_xes`; ``read_log(sql="SELECT ...", db=URL)`` →
:func:`read_sql`. Tables come in the long or the wide shape (:mod:`.read_wide`), detected
from their columns. Bad input raises :class:`LogError` with every problem located by file,
row and column, unless ``lenient=True``. ``read_log(..., subset=LogFilter(...))`` (or
``DealLog.filter``) keeps part of the log: see :mod:`flowsim.history.subset`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowsim.diagnostics import Diagnostic
from flowsim.history import problems as p
from flowsim.history.log import SCHEMA, DealLog, ImportReport
from flowsim.history.mapping import Mapping, load_roles
from flowsim.history.problems import LogError, problem
from flowsim.history.read_csv import from_table, read_csv
from flowsim.history.read_excel import read_excel
from flowsim.history.read_parquet import read_parquet
from flowsim.history.read_sql import read_sql
from flowsim.history.read_xes import read_xes
from flowsim.history.subset import FilterError, LogFilter, apply_filter

if TYPE_CHECKING:
    from flowsim.history.options import ReadOptions

__all__ = [
    "FORMATS",
    "SCHEMA",
    "DealLog",
    "Diagnostic",
    "FilterError",
    "ImportReport",
    "LogError",
    "LogFilter",
    "Mapping",
    "from_table",
    "load_roles",
    "read_csv",
    "read_excel",
    "read_log",
    "read_parquet",
    "read_sql",
    "read_wide",
    "read_xes",
]

#: ``format=`` names and the file endings that choose them
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt", ".tab"),
    "xlsx": (".xlsx", ".xlsm"),
    "parquet": (".parquet", ".pq"),
    "xes": (".xes", ".xes.gz"),
}


def _format_of(path: Path) -> str:
    name = path.name.lower()
    for fmt, endings in FORMATS.items():
        if name.endswith(endings):
            return fmt
    if name.endswith(".xls"):
        raise LogError(
            [
                problem(
                    kind=p.UNKNOWN_FORMAT,
                    source=path.name,
                    message="old Excel .xls files are not supported",
                    hint="save the sheet as .xlsx (Excel Workbook) or CSV",
                )
            ]
        )
    return "csv"  # CRM exports often come without a telling extension


def read_log(
    path: str | Path | None = None,
    *,
    format: str | None = None,
    sql: str | None = None,
    db: str | Path | None = None,
    subset: LogFilter | None = None,
    options: ReadOptions | None = None,
    **kwargs: Any,
) -> DealLog:
    """Import a deal log, choosing the reader from the file name, ``format``, or ``sql``/``db``.

    Parameters
    ----------
    path : str or Path, optional
        A CSV/TSV, Excel (``.xlsx``), Parquet or XES (``.xes``, ``.xes.gz``) file. Omitted for
        a SQL import.
    format : {"csv", "xlsx", "parquet", "xes"}, optional
        The reader, when the file name does not tell (default: by the name's ending, else CSV).
    sql, db : str, optional
        A query and the database it runs on (an SQLAlchemy URL or a SQLite file).
    subset : LogFilter, optional
        Filters the imported log (:class:`flowsim.history.subset.LogFilter`: stages, a window
        of deal entries, values of any column); its effect is in ``report.filters``.
    options : ReadOptions, optional
        The reader options in one value (:class:`~flowsim.history.options.ReadOptions`), in
        the forms the command line writes them (``sheet="2"``, ``mapping="crm.toml"``,
        ``sql=``/``db=``); keyword arguments override them.
    **kwargs
        The reader's options: ``tz`` (the IANA zone of naive times, default UTC), ``mapping``
        (a :class:`~flowsim.history.Mapping`: which column is which; a mapping with an
        ``[outcomes]`` table declares which stage values close a deal, remembered as
        :attr:`DealLog.outcomes`), ``lenient`` (skip bad rows, counted, instead of refusing),
        ``encoding``, ``delimiter``, ``dayfirst``, ``date_format``, ``decimal``; Excel:
        ``sheet``.

    Returns
    -------
    DealLog
        The records (``log.frame``, a polars DataFrame of one schema whatever the source) and
        how they were read (``log.report``: columns, formats, rows read, used and skipped, and
        every problem found as a :class:`~flowsim.diagnostics.Diagnostic`).

    Raises
    ------
    LogError
        The log cannot be read, or (strict, the default) has bad rows: ``err.problems`` lists
        each with its file, row, column, value and ``H`` code (docs/history.md).
    MissingExtra
        The format needs an optional dependency that is not installed (Excel, SQL).

    Examples
    --------
    >>> import flowsim
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> log
    DealLog('b2b-cn-deals.csv': 1049 deals, 3272 records)
    >>> log.report.mapping["deal"], log.report.mapping["timestamp"], log.report.rows_skipped
    ('商机编号', '进入时间', 0)
    >>> try:
    ...     flowsim.read_log("tests/history/bad/unparseable-date.tsv")
    ... except flowsim.LogError as err:
    ...     q = err.problems[0]
    ...     print(q.code, q.name, q.row, q.column, q.value)
    H202 bad-date 4 entered_at 2024-02-30 11:00
    """
    if options is not None:
        kwargs = options.reader_kwargs() | kwargs
        if sql is None and options.sql is not None:
            sql, db = options.sql, options.db if db is None else db
    log = _read(path, format=format, sql=sql, db=db, **kwargs)
    mapping = kwargs.get("mapping")
    if mapping is not None and mapping.outcomes:
        log.outcomes = dict(mapping.outcomes)
    return log if subset is None else apply_filter(log, subset)


def read_wide(path: str | Path, **options: Any) -> DealLog:
    """Import a wide-shape file (CSV, Excel or Parquet): :func:`read_log` (the shape is found
    from the columns, see :mod:`flowsim.history.read_wide`)."""
    return read_log(path, **options)


def _read(
    path: str | Path | None,
    *,
    format: str | None,
    sql: str | None,
    db: str | Path | None,
    **options: Any,
) -> DealLog:
    if sql is not None or db is not None or format == "sql":
        if path is not None and db is None:
            db = path
        if sql is None or db is None:
            raise LogError(
                [
                    problem(
                        kind=p.BAD_QUERY,
                        message="a SQL import needs both the query and the database",
                        hint="read_log(sql='SELECT ...', db='sqlite:///deals.db')",
                    )
                ]
            )
        return read_sql(sql, db, **options)
    if path is None:
        raise TypeError("read_log() needs a path, or sql= and db=")
    path = Path(path)
    fmt = format.lower().lstrip(".") if format else _format_of(path)
    if fmt in ("tsv", "txt"):
        fmt = "csv"
    if fmt == "xes":
        return read_xes(path, **options)
    if fmt == "xlsx":
        return read_excel(path, **options)
    if fmt == "parquet":
        return read_parquet(path, **options)
    if fmt == "csv":
        return read_csv(path, **options)
    raise LogError(
        [
            problem(
                kind=p.UNKNOWN_FORMAT,
                source=path.name,
                message="unknown format",
                value=format,
                hint="formats: " + ", ".join([*FORMATS, "sql"]),
            )
        ]
    )
