"""How to read a deal log: one options type for every reader, and filters written as text.

:class:`ReadOptions` holds what every reader may be told (encoding, time zone, leniency,
delimiter, date and decimal reading, the sheet, the column mapping, or a SQL query), in the
forms a person writes them: ``sheet="2"`` is the third sheet, ``delimiter="\\t"`` (a
backslash and a t) a tab, ``mapping="deal=id,stage=Stage"`` or ``mapping="crm.toml"`` a
:class:`~flowsim.history.mapping.Mapping`. :func:`parse_filter` reads the filter rules as
the command line writes them (``product=GTX Pro,MG Special``, ``product!=GTX Pro``,
``2017-03-31``). A value that cannot be used raises :class:`OptionError` naming the option;
:func:`flowsim.history.load.load_history` reads, filters and checks a log with them.

>>> ReadOptions(sheet="2", delimiter="\\\\t").reader_kwargs()
{'tz': 'UTC', 'lenient': False, 'delimiter': '\\t', 'sheet': 2}
>>> parse_filter(where=["product=GTX Pro,MG Special", "region!=East"]).where_not
{'region': ['East']}
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from flowsim.errors import OptionError, one_line
from flowsim.history.mapping import Mapping
from flowsim.history.problems import LogError
from flowsim.history.subset import LogFilter, parse_when

__all__ = ["OptionError", "ReadOptions", "parse_filter", "split_values"]


@dataclass(frozen=True)
class ReadOptions:
    """How to read a deal log: the options every reader shares (see the module doc).

    Unset options (None) are left to the reader: the encoding is detected, the delimiter
    sniffed, dates and decimal marks decided per column, the first sheet read.
    """

    encoding: str | None = None
    tz: str = "UTC"
    lenient: bool = False
    delimiter: str | None = None
    dayfirst: bool | None = None
    date_format: str | None = None
    decimal: Literal["comma", "point"] | None = None
    sheet: str | int | None = None
    mapping: Mapping | str | None = None
    sql: str | None = None
    db: str | None = None

    def reader_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of :func:`flowsim.history.read_log` (``sql``/``db`` apart).

        Raises
        ------
        LogError
            A mapping file with problems in it (located, like a log's).
        OptionError
            A mapping that cannot be read at all (``option == "mapping"``).
        """
        kwargs: dict[str, Any] = {"tz": self.tz, "lenient": self.lenient}
        if self.encoding:
            kwargs["encoding"] = self.encoding
        if self.delimiter is not None:
            kwargs["delimiter"] = self.delimiter.replace("\\t", "\t")
        if self.dayfirst is not None:
            kwargs["dayfirst"] = self.dayfirst
        if self.date_format is not None:
            kwargs["date_format"] = self.date_format
        if self.decimal is not None:
            kwargs["decimal"] = self.decimal
        if self.sheet is not None:
            sheet = self.sheet
            kwargs["sheet"] = int(sheet) if isinstance(sheet, str) and sheet.isdigit() else sheet
        if self.mapping is not None and self.mapping != "":
            kwargs["mapping"] = self.resolved_mapping()
        return kwargs

    def resolved_mapping(self) -> Mapping | None:
        """The mapping: a ``.toml`` file's, the ``deal=...,stage=...`` text's, or as given."""
        mapping = self.mapping
        if mapping is None or isinstance(mapping, Mapping):
            return mapping
        try:
            return Mapping.load(mapping) if mapping.endswith(".toml") else Mapping.parse(mapping)
        except LogError:  # problems inside the mapping: located, like a log's
            raise
        except (ValueError, OSError) as err:
            raise OptionError(one_line(err), "mapping") from None


def split_values(text: str) -> list[str]:
    """``a,b,"c, d"`` → ``['a', 'b', 'c, d']`` (CSV quoting for values holding a comma).

    >>> split_values('GTX Pro, "MG, Special"')
    ['GTX Pro', 'MG, Special']
    """
    return [v.strip() for v in next(csv.reader([text], skipinitialspace=True), [])]


def parse_filter(
    *,
    stages: Iterable[str] = (),
    exclude_stages: Iterable[str] = (),
    where: Iterable[str] = (),
    start: str | None = None,
    end: str | None = None,
    tz: str = "UTC",
) -> LogFilter:
    """A :class:`~flowsim.history.subset.LogFilter` from rules written as text.

    ``stages`` and ``exclude_stages`` are comma-separated names or globs; each ``where`` rule
    is ``COLUMN=VALUE[,VALUE...]`` (deals with one of the values) or ``COLUMN!=VALUES`` (deals
    with none); ``start`` and ``end`` are dates (``YYYY-MM-DD``, a whole day) or ISO times.

    Raises
    ------
    OptionError
        A rule that does not parse (``option`` is ``"where"``, ``"start"`` or ``"end"``).
    """
    kept: dict[str, list[str]] = {}
    dropped: dict[str, list[str]] = {}
    for rule in where:
        column, sep, values = rule.partition("=")
        negate = column.endswith("!")
        column = column.removesuffix("!").strip()
        if not sep or not column:
            raise OptionError(f"{rule!r}: use COLUMN=VALUE[,VALUE...] or COLUMN!=VALUE", "where")
        target = dropped if negate else kept
        target.setdefault(column, []).extend(split_values(values) or [""])
    bounds: dict[str, Any] = {}
    for key, text in (("start", start), ("end", end)):
        if text is not None:
            try:
                bounds[key] = parse_when(text)
            except ValueError as err:
                raise OptionError(str(err), key) from None
    return LogFilter(
        stages=[v for text in stages for v in split_values(text)],
        exclude_stages=[v for text in exclude_stages for v in split_values(text)],
        where=kept,
        where_not=dropped,
        tz=tz,
        **bounds,
    )
