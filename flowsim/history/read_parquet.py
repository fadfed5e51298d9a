"""Read a deal log from a Parquet file (long or wide shape).

``pl.read_parquet`` loads the typed columns and :func:`flowsim.history.read_csv.from_table`
runs the same mapping, shape detection and row checks as CSV. Datetime and date columns of a
long log are read as they are (a naive one as local time in ``tz``), numeric amounts as
numbers; other columns are read as the text a CSV export would hold (wide logs entirely).
This gives the DealLog and the problems the same rows give as CSV text, without writing 4M
datetimes out as text and parsing them back. Row numbers are 1-based record numbers
(Parquet has no header row).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flowsim.history import problems as p
from flowsim.history.amounts import DecimalMark
from flowsim.history.log import DealLog
from flowsim.history.mapping import Mapping
from flowsim.history.problems import LogError, problem
from flowsim.history.read_csv import from_table


def read_parquet(
    path: str | Path,
    *,
    mapping: Mapping | None = None,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal: DecimalMark | None = None,
    lenient: bool = False,
    source: str | None = None,
) -> DealLog:
    """Import a Parquet deal log; bad data raises :class:`LogError` unless ``lenient``."""
    path = Path(path)
    name = source or path.name
    table = parquet_table(path, name)
    return from_table(
        table,
        source=name,
        format="parquet",
        mapping=mapping,
        tz=tz,
        dayfirst=dayfirst,
        date_format=date_format,
        decimal=decimal,
        lenient=lenient,
        first_row=1,
    )


def parquet_table(path: Path, name: str) -> pl.DataFrame:
    """A Parquet file as a typed table: the raw-table step every Parquet import shares.

    Raises
    ------
    LogError
        No such file, or not a readable Parquet file.
    """
    if not path.is_file():
        raise LogError(
            [problem(kind=p.BAD_PARQUET, source=name, message="cannot read the file: no such file")]
        )
    try:
        table = pl.read_parquet(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LogError(
            [
                problem(
                    kind=p.BAD_PARQUET,
                    source=name,
                    message=f"not a readable Parquet file: {first}",
                    hint="write it with pyarrow, polars, pandas or DuckDB",
                )
            ]
        ) from None
    return table
