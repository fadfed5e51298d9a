"""The report's charts: plain data in, one deterministic SVG string out.

Each function draws one chart for ``flowsim run``'s report. They take lists and dicts, not
flowsim objects, so the report builder decides what is shown and the charts stay testable with
ten numbers. All wording (titles, axis labels, legend names, stage names) comes from the caller,
so a Chinese report is Chinese throughout; the charts add only units and statistical symbols
(``%``, ``×``, ``P10–P90``, ``P50``). Lists passed together are aligned with the labels; a
``None`` (or NaN) value is a gap, drawn as nothing. Empty input gives a chart frame with a note
(``empty_note``) rather than an error, so a report section never disappears silently.

Every chart has its title, labelled axes, a source line at the bottom and an SVG ``<title>`` /
``<desc>`` (title and source) for screen readers. See `flowsim.report.style` for how output is
kept byte-identical and self-contained.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

import numpy as np
from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.ticker import (
    FuncFormatter,
    LogLocator,
    MaxNLocator,
    NullLocator,
    PercentFormatter,
)

from flowsim.report.style import (
    ACCENT,
    MUTED,
    NEUTRAL,
    PALETTE,
    ChartError,
    chart,
    check_aligned,
    finite,
)
from flowsim.report.style import literal as _lit

__all__ = [
    "ChartError",
    "bars",
    "cumulative_flow",
    "distributions",
    "fan",
    "funnel",
    "histogram",
    "intervals",
    "scorecard",
    "stage_times",
    "tornado",
]

NO_DATA = "no data"
_MAX_TICKS = 8


def _lits(texts: Sequence[str]) -> list[str]:
    return [_lit(t) for t in texts]


def _decimals(values: Sequence[float]) -> int:
    """Decimals that show ``values`` with about three significant digits, the same for all."""
    if all(v == int(v) for v in values):
        return 0
    biggest = max(abs(v) for v in values)
    return 0 if biggest >= 100 else 1 if biggest >= 10 else 2


def _fmts(values: Sequence[float], *, percent: bool = False) -> list[str]:
    """Value annotations sharing one precision, with separators and a real minus sign."""
    if percent:
        digits = 0 if all(abs(v) >= 0.1 or v == 0 for v in values) else 1
        texts = [f"{v:.{digits}%}" for v in values]
    else:
        digits = _decimals(values)
        texts = [f"{v:,.{digits}f}" for v in values]
    return [t.replace("-", "\u2212") for t in texts]


def _fmt(value: float, *, percent: bool = False) -> str:
    return _fmts([value], percent=percent)[0]


def _log_axis(ax: Axes) -> None:
    """Log x axis with plain tick labels at 1-2-5 steps (no ``10^n`` notation, no minor labels)."""
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: _log_tick(float(v))))


def _log_tick(value: float) -> str:
    """A 1-2-5 tick as plain digits: 0.05, 0.5, 1, 20, 5,000."""
    if value <= 0:
        return ""
    digits = max(0, -math.floor(math.log10(value) + 1e-9))
    return f"{value:,.{digits}f}"


def _percent_axis(ax: Axes, axis: str = "x") -> None:
    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def _annotate(ax: Axes, x: float, y: float, text: str, *, left: bool = False) -> None:
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


def _label_bars(
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
    texts = _fmts([x for _, x in shown], percent=percent)
    for (y, x), text in zip(shown, texts, strict=True):
        _annotate(ax, x, y, text + suffix, left=x < origin)


def _pad_x(ax: Axes, lo: float, hi: float, *, share: float = 0.12) -> None:
    """Widen the x range so value labels at the bar ends stay inside the axes."""
    span = (hi - lo) or abs(hi) or 1.0
    ax.set_xlim(lo - (share * span if lo < 0 else 0.0), hi + share * span)


def _thin_ticks(ax: Axes, labels: Sequence[str]) -> None:
    """Category labels along x, at most `_MAX_TICKS` of them, always including the first."""
    step = max(1, math.ceil(len(labels) / _MAX_TICKS))
    idx = list(range(0, len(labels), step))
    ax.set_xticks([float(i) for i in idx], [_lit(labels[i]) for i in idx])


def _gaps(values: Sequence[float | None]) -> np.ndarray:
    """Values as floats with NaN for gaps (matplotlib breaks lines and areas at NaN)."""
    return np.array([np.nan if (v := finite(x)) is None else v for x in values], dtype=float)


def funnel(
    stages: list[str],
    series: dict[str, list[float | None]],
    *,
    title: str,
    ylabel: str,
    source: str,
    empty_note: str = NO_DATA,
) -> str:
    """Share of deals reaching each stage (0..1, shown as %), one bar per series and stage.

    ``series`` maps a legend name (e.g. history / model) to one share per stage. The bars are
    horizontal so long stage names stay readable; ``ylabel`` names the share and is drawn
    along the value axis.
    """
    for name, values in series.items():
        check_aligned("funnel", len(stages), **{f"series {name!r}": values})
    with chart(title=title, source=source, rows=len(stages) * max(1, len(series))) as c:
        if not stages or not any(finite(v) is not None for vs in series.values() for v in vs):
            c.empty(empty_note)
        else:
            ys = np.array(c.categories(_lits(stages)))
            height = 0.8 / len(series)
            for i, (name, values) in enumerate(series.items()):
                pos = ys - 0.4 + height * (i + 0.5)
                shares = _gaps(values)
                c.ax.barh(
                    pos,
                    shares,
                    height=height * 0.92,
                    label=_lit(name),
                    color=PALETTE[i % len(PALETTE)],
                )
                _label_bars(c.ax, list(pos), list(shares), percent=True)
            top = max(1.0, float(np.nanmax([np.nanmax(_gaps(v)) for v in series.values()])))
            _pad_x(c.ax, 0.0, top)
            _percent_axis(c.ax)
            c.decorate(xlabel=ylabel, grid="x", legend=True)
    return c.svg


def stage_times(
    stages: list[str],
    parts: dict[str, list[float]],
    *,
    title: str,
    xlabel: str,
    source: str,
    empty_note: str = NO_DATA,
) -> str:
    """Mean hours per stage split into parts (queue, off-calendar, effort, customer wait).

    ``parts`` maps a legend name to one mean per stage; bars stack in the dict's order, and the
    total is written at the end of each bar.
    """
    for name, values in parts.items():
        check_aligned("stage_times", len(stages), **{f"part {name!r}": values})
    with chart(title=title, source=source, rows=len(stages)) as c:
        matrix = np.array([np.nan_to_num(_gaps(v)) for v in parts.values()]).reshape(
            len(parts), len(stages)
        )
        if not stages or not parts or not matrix.any():
            c.empty(empty_note)
        else:
            ys = c.categories(_lits(stages))
            left = np.zeros(len(stages))
            for i, (name, row) in enumerate(zip(parts, matrix, strict=True)):
                c.ax.barh(
                    ys,
                    row,
                    left=left,
                    height=0.62,
                    label=_lit(name),
                    color=PALETTE[i % len(PALETTE)],
                )
                left = left + row
            _label_bars(c.ax, ys, [t if t > 0 else math.nan for t in left])
            _pad_x(c.ax, 0.0, float(left.max()))
            c.decorate(xlabel=xlabel, grid="x", legend=True)
    return c.svg


def distributions(
    stages: list[str],
    samples: list[list[float]],
    *,
    title: str,
    xlabel: str,
    source: str,
    log_scale: bool = False,
    empty_note: str = NO_DATA,
) -> str:
    """Box plot of time-in-stage samples, one row per stage.

    Whiskers span the 5th to 95th percentile and outliers are not drawn, so a stage with a
    hundred thousand stays still makes a small file. With ``log_scale`` values ≤ 0 cannot be
    placed and are left out (a zero-hour stay has no position on a log axis). A stage without
    samples keeps its row, empty.
    """
    check_aligned("distributions", len(stages), samples=samples)
    cleaned: list[np.ndarray] = []
    for values in samples:
        arr = _gaps(values)
        arr = arr[~np.isnan(arr)]
        cleaned.append(arr[arr > 0] if log_scale else arr)
    with chart(title=title, source=source, rows=len(stages)) as c:
        if not any(len(a) for a in cleaned):
            c.empty(empty_note)
        else:
            ys = c.categories(_lits(stages))
            rows = [(y, a) for y, a in zip(ys, cleaned, strict=True) if len(a)]
            c.ax.boxplot(
                [a for _, a in rows],
                positions=[y for y, _ in rows],
                orientation="horizontal",
                whis=(5.0, 95.0),
                showfliers=False,
                widths=0.55,
                patch_artist=True,
                boxprops={"facecolor": "#CFE3F2", "edgecolor": PALETTE[0], "linewidth": 1.0},
                medianprops={"color": PALETTE[3], "linewidth": 1.6},
                whiskerprops={"color": PALETTE[0], "linewidth": 1.0},
                capprops={"color": PALETTE[0], "linewidth": 1.0},
            )
            c.categories(_lits(stages))  # boxplot resets the ticks to its positions
            if log_scale:
                _log_axis(c.ax)
            c.decorate(xlabel=xlabel, grid="x")
    return c.svg


def histogram(
    groups: dict[str, list[float]],
    *,
    title: str,
    xlabel: str,
    source: str,
    bins: int = 30,
    ylabel: str = "",
    empty_note: str = NO_DATA,
) -> str:
    """Overlaid histograms (e.g. cycle time of won and of lost deals) on shared bin edges.

    The edges are computed once over all groups, so the bars of different groups compare
    bin for bin; each group is a translucent area with a solid outline.
    """
    if bins < 1:
        raise ChartError(f"histogram: bins must be at least 1, got {bins}")
    cleaned = {name: _gaps(v) for name, v in groups.items()}
    cleaned = {name: a[~np.isnan(a)] for name, a in cleaned.items()}
    with chart(title=title, source=source) as c:
        pooled = np.concatenate([np.zeros(0), *cleaned.values()])
        if not len(pooled):
            c.empty(empty_note)
        else:
            edges_list = [float(e) for e in np.histogram_bin_edges(pooled, bins=bins)]
            for i, (name, values) in enumerate(cleaned.items()):
                color = PALETTE[i % len(PALETTE)]
                if not len(values):
                    continue
                c.ax.hist(values, bins=edges_list, histtype="stepfilled", color=color, alpha=0.28)
                c.ax.hist(
                    values, bins=edges_list, histtype="step", color=color, lw=1.3, label=_lit(name)
                )
            c.ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            c.decorate(xlabel=xlabel, ylabel=ylabel, grid="y", legend=True)
    return c.svg


def cumulative_flow(
    times: list[str] | list[datetime],
    counts: dict[str, list[float]],
    *,
    title: str,
    ylabel: str,
    source: str,
    xlabel: str = "",
    empty_note: str = NO_DATA,
) -> str:
    """Cumulative flow diagram: one stacked band per stage or outcome over time.

    Bands stack bottom to top in the dict's order and the legend lists them top to bottom,
    as the eye meets them. ``times`` are either labels (drawn evenly spaced, a few shown) or
    datetimes (a date axis, ISO-formatted so no month names need translating).
    """
    for name, values in counts.items():
        check_aligned("cumulative_flow", len(times), **{f"counts {name!r}": values})
    with chart(title=title, source=source) as c:
        layers = [_gaps(v) for v in counts.values()]
        if not times or not any(np.any(~np.isnan(layer)) for layer in layers):
            c.empty(empty_note)
        else:
            dated = isinstance(times[0], datetime)
            if dated:
                xs = np.asarray(mdates.date2num(list(times)), dtype=np.float64)  # type: ignore[no-untyped-call]
            else:
                xs = np.arange(len(times), dtype=float)
            colors = [PALETTE[i % len(PALETTE)] for i in range(len(layers))]
            c.ax.stackplot(
                xs, *layers, labels=_lits(list(counts)), colors=colors, alpha=0.85, lw=0.0
            )
            c.ax.set_xlim(float(xs[0]), float(xs[-1]) if len(xs) > 1 else float(xs[0]) + 1.0)
            if dated:
                locator = mdates.AutoDateLocator(maxticks=_MAX_TICKS)  # type: ignore[no-untyped-call]
                c.ax.xaxis.set_major_locator(locator)
                c.ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
            else:
                _thin_ticks(c.ax, [str(t) for t in times])
            c.ax.set_ylim(bottom=0.0)
            c.decorate(xlabel=xlabel, ylabel=ylabel, grid="y", legend=True, reverse=True)
    return c.svg


def intervals(
    labels: list[str],
    means: list[float | None],
    lows: list[float | None],
    highs: list[float | None],
    *,
    title: str,
    xlabel: str,
    source: str,
    zero_line: bool = False,
    percent: bool = False,
    empty_note: str = NO_DATA,
) -> str:
    """A dot (estimate) and a line (confidence interval) per label, the value written beside.

    Used for role utilization with CIs (``percent=True``) and for the forest plot of paired
    scenario deltas (``zero_line=True``): there an interval that excludes 0 — a difference
    the replications can tell apart from noise — is drawn in the accent colour, the others
    in grey.
    """
    check_aligned("intervals", len(labels), means=means, lows=lows, highs=highs)
    rows = [
        (finite(m), finite(lo), finite(hi)) for m, lo, hi in zip(means, lows, highs, strict=True)
    ]
    with chart(title=title, source=source, rows=len(labels)) as c:
        if not any(m is not None for m, _, _ in rows):
            c.empty(empty_note)
        else:
            ys = c.categories(_lits(labels))
            if zero_line:
                c.ax.axvline(0.0, color=NEUTRAL, lw=0.9, ls="--", zorder=1)
            seen: list[float] = [0.0] if zero_line else []
            for y, (mean, lo, hi) in zip(ys, rows, strict=True):
                if mean is None:
                    continue
                excludes = lo is not None and hi is not None and (lo > 0 or hi < 0)
                color = (ACCENT if excludes else NEUTRAL) if zero_line else PALETTE[0]
                ends = [v for v in (lo, hi) if v is not None]
                if len(ends) == 2:
                    c.ax.plot(ends, [y, y], color=color, lw=2.0, solid_capstyle="butt")
                    c.ax.plot(ends, [y, y], ls="none", marker="|", ms=8, color=color)
                c.ax.plot([mean], [y], ls="none", marker="o", ms=6, color=color, zorder=3)
                mid, *around = _fmts([mean, *ends], percent=percent)
                text = f"{mid} [{around[0]}, {around[1]}]" if len(around) == 2 else mid
                # Values in a column right of the axes, as in a printed forest plot.
                c.ax.annotate(
                    text,
                    (1.0, y),
                    xycoords=("axes fraction", "data"),
                    xytext=(8, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=8,
                    color=MUTED,
                )
                seen += [mean, *ends]
            if percent:  # shares read against the whole 0–100% scale
                seen += [0.0, 1.0]
            margin = 0.05 * ((max(seen) - min(seen)) or 1.0)
            c.ax.set_xlim(min(seen) - margin, max(seen) + margin)
            if percent:
                _percent_axis(c.ax)
            c.decorate(xlabel=xlabel, grid="x")
    return c.svg


def tornado(
    labels: list[str],
    low_effect: list[float],
    high_effect: list[float] | None,
    *,
    title: str,
    xlabel: str,
    source: str,
    low_label: str = "",
    high_label: str = "",
    empty_note: str = NO_DATA,
) -> str:
    """Sensitivity tornado: one row per input, largest effect on top.

    With both lists each row has two bars from 0 (the effect of the input's low and of its high
    value; name them with ``low_label`` / ``high_label`` for a legend). With ``high_effect``
    None each row has one bar, left or right of 0 by its sign. Ties keep the caller's order.
    """
    check_aligned("tornado", len(labels), low_effect=low_effect, high_effect=high_effect)
    lows = [finite(v) for v in low_effect]
    highs: list[float | None] = (
        [finite(v) for v in high_effect] if high_effect is not None else [None] * len(labels)
    )

    def size(i: int) -> float:
        return max(abs(v) for v in (lows[i], highs[i], 0.0) if v is not None)

    order = sorted(range(len(labels)), key=lambda i: -size(i))
    with chart(title=title, source=source, rows=len(labels)) as c:
        if not any(v is not None for v in (*lows, *highs)):
            c.empty(empty_note)
        else:
            ys = c.categories([_lit(labels[i]) for i in order])
            two = high_effect is not None
            height = 0.62
            series = [(lows, _lit(low_label), PALETTE[0])]
            if two:
                series.append((highs, _lit(high_label), PALETTE[1]))
            values: list[float] = [0.0]
            for effects, name, color in series:
                row = np.array([np.nan if effects[i] is None else effects[i] for i in order])
                c.ax.barh(ys, row, height=height, color=color, label=name if name else None)
                _label_bars(c.ax, ys, list(row))
                values += [float(v) for v in row if not np.isnan(v)]
            c.ax.axvline(0.0, color=MUTED, lw=0.9)
            _pad_x(c.ax, min(values), max(values), share=0.18)
            c.decorate(xlabel=xlabel, grid="x", legend=True)
    return c.svg


def scorecard(
    measures: list[str],
    model: list[float | None],
    floor: list[float | None],
    *,
    title: str,
    xlabel: str,
    source: str,
    threshold: float = 2.0,
    na_label: str = "n/a",
    empty_note: str = NO_DATA,
) -> str:
    """Fidelity scorecard: the model's error as a multiple of the noise floor, per measure.

    Bars start at 1 (the model is as far from history as history is from itself) on a log
    axis, so "twice the floor" and "half the floor" are equally long. A dashed line marks
    ``threshold``; bars beyond it are in the accent colour. A measure without a usable floor
    (missing, zero) or without a model value is labelled ``na_label`` instead of a bar.
    """
    check_aligned("scorecard", len(measures), model=model, floor=floor)
    if not (threshold > 0 and math.isfinite(threshold)):
        raise ChartError(f"scorecard: threshold must be a positive number, got {threshold}")
    ratios: list[float | None] = []
    for m, f in zip(model, floor, strict=True):
        mv, fv = finite(m), finite(f)
        ratios.append(None if mv is None or fv is None or fv <= 0 else max(mv / fv, 1e-3))
    with chart(title=title, source=source, rows=len(measures)) as c:
        if not measures:
            c.empty(empty_note)
        else:
            ys = c.categories(_lits(measures))
            _log_axis(c.ax)
            known = [r for r in ratios if r is not None]
            lo = min([0.5, *known]) / 1.6
            hi = max([threshold * 1.5, *known]) * 2.2
            c.ax.set_xlim(lo, hi)
            for y, r in zip(ys, ratios, strict=True):
                if r is None:
                    _annotate(c.ax, 1.0, y, _lit(na_label))
                    continue
                color = ACCENT if r > threshold else PALETTE[0]
                c.ax.barh([y], [r - 1.0], left=1.0, height=0.6, color=color)
            drawn = [math.nan if r is None else r for r in ratios]
            _label_bars(c.ax, ys, drawn, suffix="×", origin=1.0)
            c.ax.axvline(1.0, color=MUTED, lw=0.9)
            c.ax.axvline(threshold, color=ACCENT, lw=1.1, ls="--")
            c.ax.annotate(
                f"{_fmt(threshold)}×",
                (threshold, 0.0),
                xycoords=("data", "axes fraction"),
                xytext=(3, 3),
                textcoords="offset points",
                color=ACCENT,
                fontsize=7.5,
            )
            c.decorate(xlabel=xlabel, grid="x")
    return c.svg


def fan(
    periods: list[str],
    p10: list[float],
    p50: list[float],
    p90: list[float],
    *,
    title: str,
    ylabel: str,
    source: str,
    actual: list[float | None] | None = None,
    reference: float | list[float] | None = None,
    reference_label: str = "",
    actual_label: str = "",
    xlabel: str = "",
    empty_note: str = NO_DATA,
) -> str:
    """Forecast fan: the P10–P90 band and the P50 line per period.

    ``actual`` adds what really happened (a backtest) as black dots; ``reference`` a dashed
    line, constant or per period (the CRM's weighted-pipeline figure). Empty ``periods`` gives
    a "no data" frame.
    """
    check_aligned("fan", len(periods), p10=p10, p50=p50, p90=p90, actual=actual)
    if isinstance(reference, list):
        check_aligned("fan", len(periods), reference=reference)
    with chart(title=title, source=source) as c:
        if not periods:
            c.empty(empty_note)
        else:
            xs = np.arange(len(periods), dtype=float)
            c.ax.fill_between(
                xs, _gaps(p10), _gaps(p90), color=PALETTE[0], alpha=0.22, lw=0.0, label="P10–P90"
            )
            c.ax.plot(xs, _gaps(p50), color=PALETTE[0], lw=1.8, marker="o", ms=3, label="P50")
            if actual is not None:
                c.ax.plot(
                    xs,
                    _gaps(actual),
                    color=PALETTE[7],
                    lw=0.0,
                    marker="o",
                    ms=4.5,
                    label=_lit(actual_label) if actual_label else None,
                )
            if reference is not None:
                ref = [reference] * len(periods) if not isinstance(reference, list) else reference
                c.ax.plot(
                    xs,
                    _gaps(ref),
                    color=PALETTE[1],
                    lw=1.4,
                    ls="--",
                    label=_lit(reference_label) if reference_label else None,
                )
            c.ax.set_xlim(-0.3, len(periods) - 0.7)
            _thin_ticks(c.ax, periods)
            c.decorate(xlabel=xlabel, ylabel=ylabel, grid="y", legend=True)
    return c.svg


def bars(
    labels: list[str],
    values: list[float],
    *,
    title: str,
    xlabel: str,
    source: str,
    percent: bool = False,
    empty_note: str = NO_DATA,
) -> str:
    """Plain horizontal bars with their values written at the end (data-quality, conformance)."""
    check_aligned("bars", len(labels), values=values)
    with chart(title=title, source=source, rows=len(labels)) as c:
        row = _gaps(values)
        if not labels or np.all(np.isnan(row)):
            c.empty(empty_note)
        else:
            ys = c.categories(_lits(labels))
            c.ax.barh(ys, row, height=0.62, color=PALETTE[0])
            _label_bars(c.ax, ys, list(row), percent=percent)
            _pad_x(c.ax, min(0.0, float(np.nanmin(row))), max(0.0, float(np.nanmax(row))))
            if percent:
                _percent_axis(c.ax)
            c.decorate(xlabel=xlabel, grid="x")
    return c.svg
