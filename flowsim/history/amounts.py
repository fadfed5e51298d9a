"""Amounts written as text, read with the column's decimal convention (vectorised).

Exports write ``12500.50``, ``12,500.50`` (a thousands comma), ``12.500,50`` or ``12500,50``
(a decimal comma: Europe, many Chinese Excel exports), or ``12 500,50``. The convention is
decided per column, from every value of it:

- evidence for a decimal comma: ``1.234,56``, a comma followed by other than 3 digits
  (``12,5``, ``0,125``, ``1234,567``), or several dot groups (``1.234.567``);
- evidence for a decimal point: the same with the roles swapped (``1,234.56``, ``12.5``...);
- ``1,234`` or ``1.234`` alone fits both (a thousands separator or 3 decimals): decided by
  the other values, by a plain integer of 4 digits or more (the column groups no thousands,
  so the separator is the decimal one), or refused (:data:`problems.AMBIGUOUS_DECIMAL`)
  with a hint to pass ``decimal="comma"``/``"point"`` (``--decimal``);
- a column with evidence for both reads as the convention most values show; values of the
  other one are bad rows (``bad-amount``, row and column), never silently wrong.

Spaces (also no-break spaces) and apostrophes group thousands too and are dropped. A clean
column (every value a plain number) is one cast plus one look at where its dots are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl

from flowsim.history.textcol import as_text

DecimalMark = Literal["comma", "point"]

_INT = r"^[-+]?"
#: the whole grammar of an amount in each convention
GRAMMAR: dict[DecimalMark, str] = {
    "comma": _INT + r"(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$",
    "point": _INT + r"(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$",
}
#: values that fit one convention only
EVIDENCE: dict[DecimalMark, str] = {
    "comma": _INT + r"(\d{1,3}(\.\d{3})+,\d+|\d+,(\d{1,2}|\d{4,})|0,\d+|\d{4,},\d+|\d{1,3}"
    r"(\.\d{3}){2,})$",
    "point": _INT + r"(\d{1,3}(,\d{3})+\.\d+|\d+\.(\d{1,2}|\d{4,})|0\.\d+|\d{4,}\.\d+|\d{1,3}"
    r"(,\d{3}){2,})$",
}
#: one separator and 3 digits after it: a thousands separator or 3 decimals
AMBIGUOUS = _INT + r"[1-9]\d{0,2}[.,]\d{3}$"
#: a plain integer of 4 digits or more: the column does not group thousands
UNGROUPED = _INT + r"\d{4,}$"


@dataclass
class Amounts:
    """An amount column read: the numbers and what was decided.

    ``wrong``: rows holding text that is not a number in the column's convention (or None
    when there is none); ``other``: those of them written in the other convention;
    ``ambiguous``: examples of values that cannot be read either way (then the column must
    be refused, or read again with a ``decimal`` given).
    """

    values: pl.Series
    wrong: pl.Series | None = None
    decimal: DecimalMark | None = None
    other: pl.Series | None = None
    ambiguous: list[str] | None = None


def read_amounts(raw: pl.Series, decimal: DecimalMark | None = None) -> Amounts:
    """The amount column as Float64, in the column's decimal convention (see module doc).

    Typed numbers are taken as they are (NaN and infinities as no amount).
    """
    if raw.dtype.is_numeric():
        amount = raw.cast(pl.Float64)
        finite = pl.select(pl.when(pl.lit(amount).is_finite()).then(pl.lit(amount))).to_series()
        return Amounts(finite.rename("amount"))
    text = as_text(raw)
    if decimal is None:
        amount = text.cast(pl.Float64, strict=False)
        if not (amount.is_null() & text.is_not_null()).any() and _dots_are_decimal(text):
            return Amounts(amount.rename("amount"), decimal="point")
    squeezed = text.str.replace_all(r"[\s\u00a0\u202f']", "")
    squeezed = pl.select(pl.when(pl.lit(squeezed) != "").then(pl.lit(squeezed))).to_series()
    if decimal is None:
        decided = _decide(squeezed)
        if isinstance(decided, list):
            return Amounts(text.cast(pl.Float64, strict=False), ambiguous=decided)
        decimal = decided
    return _read_as(squeezed, text, decimal)


def _dots_are_decimal(text: pl.Series) -> bool:
    """Every value casts as a number: do its dots read as decimal points for sure?

    Only a column whose every dotted value is ``1.234``-like (a thousands dot or 3 decimals)
    needs the whole decision; one dot with 1, 2 or 4+ digits after it settles the column,
    so the head usually settles it without a pass over the column.
    """
    if _settling_dot(text.head(_HEAD)):
        return True
    if not text.str.contains(".", literal=True).any():
        return True  # integers only
    return _settling_dot(text)


#: values looked at first for a dot that settles the convention
_HEAD = 1000


def _settling_dot(text: pl.Series) -> bool:
    """Does some value have a dot that can only be a decimal point (not ``1.234``-like)?"""
    dot = text.str.find(".", literal=True)
    after = text.str.len_chars() - dot - 1
    if bool((after != 3).any()):  # null where there is no dot
        return True
    dotted = text.filter(dot.is_not_null())
    return bool(dotted.len() and dotted.str.contains(AMBIGUOUS).not_().any())


def _decide(values: pl.Series) -> DecimalMark | list[str]:
    """The column's convention from every value, or examples of its ambiguous values."""
    comma = int(values.str.contains(EVIDENCE["comma"]).sum())
    point = int(values.str.contains(EVIDENCE["point"]).sum())
    if comma or point:
        return "comma" if comma > point else "point"
    ambiguous = values.filter(values.str.contains(AMBIGUOUS))
    if ambiguous.len() == 0:
        return "point"
    separators = set(ambiguous.str.extract(r"([.,])").unique().to_list())
    if len(separators) == 1 and values.str.contains(UNGROUPED).any():
        return "comma" if separators == {","} else "point"  # the separator is the decimal one
    return ambiguous.unique(maintain_order=True).head(3).to_list()


def _read_as(squeezed: pl.Series, text: pl.Series, decimal: DecimalMark) -> Amounts:
    """Read ``squeezed`` values (no spaces) in ``decimal``; the rest is wrong."""
    fits = squeezed.str.contains(GRAMMAR[decimal]).fill_null(False)
    if decimal == "comma":
        number = squeezed.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    else:
        number = squeezed.str.replace_all(",", "", literal=True)
    plain = squeezed.cast(pl.Float64, strict=False)  # 1e5, inf: what a plain cast reads
    if decimal == "comma":  # no separator at all: 1e5 and inf only, never 1.5
        separated = squeezed.str.contains(r"[.,]").fill_null(False)
        plain = pl.select(pl.when(~pl.lit(separated)).then(pl.lit(plain))).to_series()
    values = pl.select(
        pl.when(pl.lit(fits)).then(pl.lit(number).cast(pl.Float64, strict=False)).otherwise(plain)
    ).to_series()
    wrong = values.is_null() & squeezed.is_not_null()
    other_name: DecimalMark = "point" if decimal == "comma" else "comma"
    other = wrong & squeezed.str.contains(EVIDENCE[other_name]).fill_null(False)
    return Amounts(
        values.rename("amount"),
        wrong=wrong if wrong.any() else None,
        decimal=decimal,
        other=other if other.any() else None,
    )
