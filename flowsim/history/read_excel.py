"""Read a deal log from an Excel ``.xlsx`` workbook (first sheet, or ``sheet=``).

openpyxl streams the sheet in read-only mode; each cell becomes the text a CSV export would
hold (dates as ISO 8601, whole numbers without ``.0``) and the table goes through the same
mapping, shape detection and row checks as CSV (:func:`flowsim.history.read_csv.from_table`).
Rows keep their spreadsheet numbers (header = row 1); fully empty rows are not records.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl

from flowsim._extras import missing
from flowsim.history import problems as p
from flowsim.history.amounts import DecimalMark
from flowsim.history.log import DealLog
from flowsim.history.mapping import Mapping
from flowsim.history.problems import LogError, problem
from flowsim.history.read_csv import from_table


def cell_text(value: Any) -> str | None:
    """A cell or database value as the text a CSV export would hold."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


_NUMBER = {"fraction", "integer", "empty"}


def _kind(cell: Any) -> str:
    """What a cell holds, as far as telling number columns goes."""
    if cell is None or (isinstance(cell, str) and not cell.strip()):
        return "empty"
    if isinstance(cell, bool) or not isinstance(cell, int | float | Decimal):
        return "other"
    return "integer" if float(cell).is_integer() else "fraction"


def header_names(cells: list[Any]) -> list[str]:
    """Column names from a header row: blanks become ``column<N>``, repeats get ``_2``..."""
    names: list[str] = []
    for i, cell in enumerate(cells, start=1):
        text = (cell_text(cell) or "").strip() or f"column{i}"
        base, k = text, 2
        while text in names:
            text, k = f"{base}_{k}", k + 1
        names.append(text)
    return names


def read_excel(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    mapping: Mapping | None = None,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal: DecimalMark | None = None,
    lenient: bool = False,
    source: str | None = None,
) -> DealLog:
    """Import a long- or wide-shape deal log from an ``.xlsx`` sheet (name or 0-based index)."""
    path = Path(path)
    table, label, numbers = excel_table(path, sheet, source or path.name)
    return from_table(
        table,
        source=label,
        format="xlsx",
        mapping=mapping,
        tz=tz,
        dayfirst=dayfirst,
        date_format=date_format,
        decimal=decimal,
        lenient=lenient,
        source_rows=numbers,
    )


def excel_table(
    path: Path, sheet: str | int | None, name: str
) -> tuple[pl.DataFrame, str, list[int]]:
    """A sheet as a table: the raw-table step every ``.xlsx`` import shares.

    Cells become the text a CSV export would hold, except number columns holding fractions,
    which stay numbers (written as text, ``1.125`` would look like a thousands separator).

    Returns
    -------
    tuple
        The table, the source's label (``book.xlsx[Sheet]`` when a sheet was chosen) and the
        spreadsheet number of each row (empty rows are not records).

    Raises
    ------
    LogError
        The workbook or the sheet cannot be read, or the sheet is empty.
    """
    book = _open_book(path, name)
    try:
        read = _read_sheet(_worksheet(book, sheet, name), name)
    finally:
        book.close()
    label = name if sheet is None else f"{name}[{read.title}]"
    names = read.names
    table = pl.DataFrame(
        dict(zip(names, read.columns, strict=True)), schema=dict.fromkeys(names, pl.String)
    )
    fractions = [
        c for c, k in zip(names, read.kinds, strict=True) if "fraction" in k and k <= _NUMBER
    ]
    return table.with_columns(pl.col(fractions).cast(pl.Float64)), label, list(read.numbers)


def _open_book(path: Path, name: str) -> Any:
    """The workbook, streamed (read-only, cached values); an unreadable file is one error."""
    try:
        import openpyxl
        from openpyxl.utils.exceptions import InvalidFileException
    except ImportError as err:
        raise missing(err, "reading .xlsx deal logs") from err

    try:
        return openpyxl.load_workbook(path, read_only=True, data_only=True)
    except OSError as exc:
        raise LogError.of(
            p.BAD_EXCEL, name, f"cannot read the file: {exc.strerror or exc}"
        ) from None
    except (InvalidFileException, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LogError.of(
            p.BAD_EXCEL,
            name,
            f"not a readable .xlsx workbook: {exc}",
            hint="save it from Excel as .xlsx (Excel Workbook); .xls is not supported",
        ) from None


def _worksheet(book: Any, sheet: str | int | None, name: str) -> Any:
    """The sheet asked for (the first by default); an unknown one is refused, listing all."""
    if sheet is None:
        return book.worksheets[0]
    if isinstance(sheet, int):
        if not 0 <= sheet < len(book.worksheets):
            raise LogError.of(
                p.BAD_EXCEL, name, f"no sheet number {sheet}", hint=f"sheets: {book.sheetnames}"
            )
        return book.worksheets[sheet]
    if sheet not in book.sheetnames:
        raise LogError.of(
            p.BAD_EXCEL,
            name,
            f"no sheet named '{sheet}'",
            hint=f"sheets: {book.sheetnames}",
        )
    return book[sheet]


@dataclass(frozen=True)
class _Sheet:
    """A sheet's cells as CSV text: its title, column names, text columns, the kinds of
    cell seen per column (:func:`_kind`) and the spreadsheet number of each row kept."""

    title: str
    names: list[str]
    columns: list[list[str | None]]
    kinds: list[set[str]]
    numbers: list[int]


def _read_sheet(ws: Any, name: str) -> _Sheet:
    """Every non-empty row below the header as text cells (an empty sheet is refused)."""
    title = ws.title
    rows = ws.iter_rows(values_only=True)
    header = next(rows, None)
    if header is None or all(c is None for c in header):
        raise LogError(
            [
                problem(
                    kind=p.EMPTY_FILE,
                    source=name,
                    message=f"sheet '{title}' is empty",
                    hint="the first row must be the header",
                )
            ]
        )
    names = header_names(list(header))
    width = len(names)
    columns: list[list[str | None]] = [[] for _ in names]
    kinds: list[set[str]] = [set() for _ in names]
    numbers: list[int] = []
    for number, row in enumerate(rows, start=2):
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in row):
            continue
        numbers.append(number)
        for i in range(width):
            cell = row[i] if i < len(row) else None
            columns[i].append(cell_text(cell))
            kinds[i].add(_kind(cell))
    return _Sheet(title, names, columns, kinds, numbers)
