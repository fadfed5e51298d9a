"""Text-column helpers shared by the importers: clean text, typed values as text.

:func:`clean` is how every check reads a text column (stripped, empty as null), in at most
two vectorised passes. :func:`text_expr` is how a typed column (Parquet, databases) reads as
text, the way a CSV export would write it; used only where text is needed (a typed deal id,
the value quoted in a problem), so typed time and amount columns are never written out.

(Measured and rejected: skipping the strip when no value's first or last byte is
whitespace, read from the Arrow string views with numpy: no faster than polars'
``strip_chars`` itself, ≈ 25 ns a value.)
"""

from __future__ import annotations

import polars as pl

#: "few distinct values": at most this many (and at most 1/16 of it in the first this many rows)
_FEW = 4096

#: the text of a typed datetime, as :func:`text_expr` writes it (with the offset when aware)
DATETIME_TEXT = "%Y-%m-%d %H:%M:%S%.f"


def stripped(series: pl.Series) -> pl.Series:
    """``series`` (String) without surrounding whitespace.

    A long column with few distinct values (stages, owners) is checked on its distinct
    values, ≈ 2.5x cheaper than stripping every value, and returned as it is when none
    needs stripping; anything else is stripped (≈ 25 ns a value).
    """
    if series.len() > 16 * _FEW and series.head(_FEW).n_unique() <= _FEW // 16:
        distinct = series.unique()
        if distinct.len() <= _FEW and bool((distinct.str.strip_chars() == distinct).all()):
            return series
    return series.str.strip_chars()


def blank_to_null(series: pl.Series) -> pl.Series:
    """``series`` (String) with empty values as nulls (a pass only when there is one)."""
    empty = series.str.len_bytes() == 0
    if not empty.any():
        return series
    return series.set(empty, None)


def clean(series: pl.Series) -> pl.Series:
    """Text as the checks read it: cast to String, stripped, empty values null."""
    return blank_to_null(stripped(as_text(series)))


def text_expr(name: str, dtype: pl.DataType) -> pl.Expr:
    """Column ``name`` of type ``dtype`` as text, the way a CSV export would write it.

    Datetimes become ISO 8601 (with the offset when they have a time zone), dates
    ``YYYY-MM-DD``, numbers their shortest text (whole floats without ``.0``: Excel-serial
    days and ids stay integral text).
    """
    col = pl.col(name)
    if isinstance(dtype, pl.Datetime):
        return col.dt.to_string(DATETIME_TEXT + ("%:z" if dtype.time_zone else ""))
    if dtype == pl.Date:
        return col.dt.to_string("%Y-%m-%d")
    if dtype.is_float():
        return (
            pl.when(col == col.round(0))
            .then(col.cast(pl.Int64, strict=False).cast(pl.String))
            .otherwise(col.cast(pl.String))
        )
    if dtype == pl.String:
        return col
    return col.cast(pl.String, strict=False)


def as_text(series: pl.Series) -> pl.Series:
    """``series`` as text (:func:`text_expr`); for a problem's value, or a typed id column."""
    if series.dtype == pl.String:
        return series
    return series.to_frame().select(text_expr(series.name, series.dtype)).to_series()
