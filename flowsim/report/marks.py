"""Marks shared by the report charts: value labels, number formats and axis set-ups.

Numbers written on a chart share one precision per chart (``1.20`` beside ``3.45``, never
``1.2`` beside ``3.45``), use thousands separators and a true minus sign, and say nothing in
any language, so the charts stay free of fixed wording.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator, PercentFormatter

from flowsim.report.style import MUTED, finite, literal

__all__ = [
    "MAX_TICKS",
    "annotate",
    "fmt",
    "fmts",
    "gaps",
    "label_bars",
    "lits",
    "log_axis",
    "log_tick",
    "pad_x",
    "percent_axis",
    "thin_ticks",
]

#: Most category labels drawn along a time axis; more would overlap at the report's width.
MAX_TICKS = 8


def lits(texts: Sequence[str]) -> list[str]:
    """Several caller texts as literal glyphs."""
    return [literal(t) for t in texts]


def _decimals(values: Sequence[float]) -> int:
    """Decimals that show ``values`` with about three significant digits, the same for all."""
    if all(v == int(v) for v in values):
        return 0
    biggest = max(abs(v) for v in values)
    return 0 if biggest >= 100 else 1 if biggest >= 10 else 2


def fmts(values: Sequence[float], *, percent: bool = False) -> list[str]:
    """Value annotations sharing one precision, with separators and a real minus sign."""
    if percent:
        digits = 0 if all(abs(v) >= 0.1 or v == 0 for v in values) else 1
        texts = [f"{v:.{digits}%}" for v in values]
    else:
        digits = _decimals(values)
        texts = [f"{v:,.{digits}f}" for v in values]
    return [_sign(t) for t in texts]


def _sign(text: str) -> str:
    """A true minus sign; none at all when the value rounds to zero (no "−0.00")."""
    if text.startswith("-") and not any(ch in "123456789" for ch in text):
        return text[1:]
    return text.replace("-", "\u2212")


def fmt(value: float, *, percent: bool = False) -> str:
    """One value annotation (see `fmts`)."""
    return fmts([value], percent=percent)[0]


def log_axis(ax: Axes) -> None:
    """Log x axis with plain tick labels at 1-2-5 steps (no ``10^n`` notation, no minor labels)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: log_tick(float(v))))


def log_tick(value: float) -> str:
    """A 1-2-5 tick as plain digits: 0.05, 0.5, 1, 20, 5,000."""
    if value <= 0:
        return ""
    digits = max(0, -math.floor(math.log10(value) + 1e-9))
    return f"{value:,.{digits}f}"


def percent_axis(ax: Axes, axis: str = "x") -> None:
    """Shares (0..1) on ``axis`` shown as whole percentages."""
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def annotate(ax: Axes, x: float, y: float, text: str, *, left: bool = False) -> None:
    """Small value label just past the end of a bar or interval."""
    ax.annotate(
        text,
        (x, y),
        xytext=(-3 if left else 3, 0),
        textcoords="offset points",
        ha="right" if left else "left",
        va="center",
        fontsize=7.5,
        color=MUTED,
    )


def label_bars(
    ax: Axes,
    ys: Sequence[float],
    xs: Sequence[float],
    *,
    percent: bool = False,
    suffix: str = "",
    origin: float = 0.0,
) -> None:
    """Write each bar's value past its end (left of bars below ``origin``); NaN bars get none."""
    shown = [(float(y), float(x)) for y, x in zip(ys, xs, strict=True) if not math.isnan(x)]
    if not shown:
        return
    texts = fmts([x for _, x in shown], percent=percent)
    for (y, x), text in zip(shown, texts, strict=True):
        annotate(ax, x, y, text + suffix, left=x < origin)


def pad_x(ax: Axes, lo: float, hi: float, *, share: float = 0.12) -> None:
    """Widen the x range so value labels at the bar ends stay inside the axes."""
    span = (hi - lo) or abs(hi) or 1.0
    ax.set_xlim(lo - (share * span if lo < 0 else 0.0), hi + share * span)


def thin_ticks(ax: Axes, labels: Sequence[str]) -> None:
    """Category labels along x, at most `MAX_TICKS` of them, always including the first."""
    step = max(1, math.ceil(len(labels) / MAX_TICKS))
    idx = list(range(0, len(labels), step))
    ax.set_xticks([float(i) for i in idx], [literal(labels[i]) for i in idx])


def gaps(values: Sequence[float | None]) -> np.ndarray:
    """Values as floats with NaN for gaps (matplotlib breaks lines and areas at NaN)."""
    return np.array([np.nan if (v := finite(x)) is None else v for x in values], dtype=float)
