"""One result protocol: what every result of the façade functions offers.

:func:`flowsim.metrics`, :func:`~flowsim.conformance`, :func:`~flowsim.discover`,
:func:`~flowsim.simulate`, :func:`~flowsim.bottlenecks`, :func:`~flowsim.fidelity`,
:func:`~flowsim.forecast`, :func:`~flowsim.backtest`, :func:`~flowsim.rolling_backtest` and
:func:`~flowsim.check_file` / :func:`~flowsim.check_text` return objects that each offer

- ``text()``: the report a person reads (what the matching CLI command prints);
- ``to_json()``: the result as JSON text;
- ``to_frame()``: the result's main table as a ``polars.DataFrame`` (polars is a core
  dependency); the results with several tables take the view as an argument
  (``FunnelMetrics``, ``ConformanceReport``, ``SimulationResult``), and those three offer the
  same tables as pandas through ``to_pandas()`` (the ``pandas`` extra);
- ``_repr_html_()``: an HTML table for Jupyter, every user-written value escaped.

:func:`html_table` is the shared renderer of ``_repr_html_``.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import polars as pl

__all__ = ["Result", "html_table"]

#: At most this many rows go into a result's HTML table (the full table is ``to_frame()``).
HTML_ROWS = 200


@runtime_checkable
class Result(Protocol):
    """What every public result offers (see the module docstring)."""

    def text(self) -> str:
        """The report for people."""
        ...

    def to_json(self) -> str:
        """The result as JSON text."""
        ...

    def to_frame(self) -> pl.DataFrame:
        """The result's main table as a polars DataFrame."""
        ...

    def _repr_html_(self) -> str:
        """An HTML table for Jupyter (user text escaped)."""
        ...


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def html_table(heading: str, frame: pl.DataFrame, *, max_rows: int = HTML_ROWS) -> str:
    """A heading and a polars DataFrame as an HTML table; the heading and every cell escaped.

    Parameters
    ----------
    heading
        The table's caption (user text allowed: it is escaped).
    frame
        A ``polars.DataFrame``.
    max_rows
        Rows shown; a note says how many more the frame holds.

    Returns
    -------
    str
        ``<table>`` HTML.

    Examples
    --------
    >>> import polars as pl
    >>> html = html_table("<b>funnel</b>", pl.DataFrame({"stage": ["<script>"]}))
    >>> "<script>" in html, "<td>&lt;script&gt;</td>" in html
    (False, True)
    """
    head = "".join(f"<th>{escape(str(c))}</th>" for c in frame.columns)
    rows = [
        "<tr>" + "".join(f"<td>{escape(_cell(v))}</td>" for v in row) + "</tr>"
        for row in frame.head(max_rows).iter_rows()
    ]
    more = frame.height - max_rows
    note = f"<tr><td colspan='{frame.width}'>… {more} more rows</td></tr>" if more > 0 else ""
    return (
        f"<table><caption>{escape(heading)}</caption><tr>{head}</tr>{''.join(rows)}{note}</table>"
    )
