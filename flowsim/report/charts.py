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
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
from matplotlib import dates as mdates
from matplotlib.ticker import MaxNLocator

from flowsim.report.marks import (
    MAX_TICKS,
    annotate,
    fmt,
    fmts,
    gaps,
    label_bars,
    lits,
    log_axis,
    pad_x,
    percent_axis,
    thin_ticks,
)

if TYPE_CHECKING:
    from matplotlib.axes import Axes

from flowsim.report.style import (
    ACCENT,
    MUTED,
    NEUTRAL,
    PALETTE,
    ChartError,
    chart,
    check_aligned,
    finite,
    literal,
)

__all__ = [
    "ChartError",
    "bars",
    "calibration",
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
            ys = np.array(c.categories(lits(stages)))
            height = 0.8 / len(series)
            for i, (name, values) in enumerate(series.items()):
                pos = ys - 0.4 + height * (i + 0.5)
                shares = gaps(values)
                c.ax.barh(
                    pos,
                    shares,
                    height=height * 0.92,
                    label=literal(name),
                    color=PALETTE[i % len(PALETTE)],
                )
                label_bars(c.ax, list(pos), list(shares), percent=True)
            top = max(1.0, float(np.nanmax([np.nanmax(gaps(v)) for v in series.values()])))
            pad_x(c.ax, 0.0, top)
            percent_axis(c.ax)
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
        matrix = np.array([np.nan_to_num(gaps(v)) for v in parts.values()]).reshape(
            len(parts), len(stages)
        )
        if not stages or not parts or not matrix.any():
            c.empty(empty_note)
        else:
            ys = c.categories(lits(stages))
            left = np.zeros(len(stages))
            for i, (name, row) in enumerate(zip(parts, matrix, strict=True)):
                c.ax.barh(
                    ys,
                    row,
                    left=left,
                    height=0.62,
                    label=literal(name),
                    color=PALETTE[i % len(PALETTE)],
                )
                left = left + row
            label_bars(c.ax, ys, [t if t > 0 else math.nan for t in left])
            pad_x(c.ax, 0.0, float(left.max()))
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
        arr = gaps(values)
        arr = arr[~np.isnan(arr)]
        cleaned.append(arr[arr > 0] if log_scale else arr)
    with chart(title=title, source=source, rows=len(stages)) as c:
        if not any(len(a) for a in cleaned):
            c.empty(empty_note)
        else:
            ys = c.categories(lits(stages))
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
            c.categories(lits(stages))  # boxplot resets the ticks to its positions
            if log_scale:
                log_axis(c.ax)
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
    cleaned = {name: gaps(v) for name, v in groups.items()}
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
                    values,
                    bins=edges_list,
                    histtype="step",
                    color=color,
                    lw=1.3,
                    label=literal(name),
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
    """Cumulative flow diagram: one stacked band per state (stage or outcome) over time.

    Each band is the number of deals in its state at each time (a stage's work in progress),
    so the top of the stack is the deals arrived by then (see
    :func:`flowsim.report.build.cfd_bands`, which computes them from a log). Bands stack
    bottom to top in the dict's order and the legend lists them top to bottom,
    as the eye meets them. ``times`` are either labels (drawn evenly spaced, a few shown) or
    datetimes (a date axis, ISO-formatted so no month names need translating).
    """
    for name, values in counts.items():
        check_aligned("cumulative_flow", len(times), **{f"counts {name!r}": values})
    with chart(title=title, source=source) as c:
        layers = [gaps(v) for v in counts.values()]
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
                xs, *layers, labels=lits(list(counts)), colors=colors, alpha=0.85, lw=0.0
            )
            c.ax.set_xlim(float(xs[0]), float(xs[-1]) if len(xs) > 1 else float(xs[0]) + 1.0)
            if dated:
                locator = mdates.AutoDateLocator(maxticks=MAX_TICKS)  # type: ignore[no-untyped-call]
                c.ax.xaxis.set_major_locator(locator)
                c.ax.xaxis.set_major_formatter(mdates.DateFormatter("%Y-%m-%d"))  # type: ignore[no-untyped-call]
            else:
                thin_ticks(c.ax, [str(t) for t in times])
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
            ys = c.categories(lits(labels))
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
                mid, *around = fmts([mean, *ends], percent=percent)
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
                percent_axis(c.ax)
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
            ys = c.categories([literal(labels[i]) for i in order])
            two = high_effect is not None
            height = 0.62
            series = [(lows, literal(low_label), PALETTE[0])]
            if two:
                series.append((highs, literal(high_label), PALETTE[1]))
            values: list[float] = [0.0]
            for effects, name, color in series:
                row = np.array([np.nan if effects[i] is None else effects[i] for i in order])
                c.ax.barh(ys, row, height=height, color=color, label=name if name else None)
                label_bars(c.ax, ys, list(row))
                values += [float(v) for v in row if not np.isnan(v)]
            c.ax.axvline(0.0, color=MUTED, lw=0.9)
            pad_x(c.ax, min(values), max(values), share=0.18)
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
            ys = c.categories(lits(measures))
            log_axis(c.ax)
            known = [r for r in ratios if r is not None]
            lo = min([0.5, *known]) / 1.6
            hi = max([threshold * 1.5, *known]) * 2.2
            c.ax.set_xlim(lo, hi)
            for y, r in zip(ys, ratios, strict=True):
                if r is None:
                    annotate(c.ax, 1.0, y, literal(na_label))
                    continue
                color = ACCENT if r > threshold else PALETTE[0]
                c.ax.barh([y], [r - 1.0], left=1.0, height=0.6, color=color)
            drawn = [math.nan if r is None else r for r in ratios]
            label_bars(c.ax, ys, drawn, suffix="×", origin=1.0)
            c.ax.axvline(1.0, color=MUTED, lw=0.9)
            c.ax.axvline(threshold, color=ACCENT, lw=1.1, ls="--")
            c.ax.annotate(
                f"{fmt(threshold)}×",
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
    inner: tuple[list[float], list[float]] | None = None,
) -> str:
    """Forecast fan: the P10–P90 band and the P50 line per period.

    ``inner`` adds the P25–P75 band (its lower and upper values per period), darker inside
    the outer one. ``actual`` adds what really happened (a backtest) as black dots;
    ``reference`` a dashed line, constant or per period (the CRM's weighted-pipeline figure).
    Empty ``periods`` gives a "no data" frame.
    """
    check_aligned("fan", len(periods), p10=p10, p50=p50, p90=p90, actual=actual)
    if isinstance(reference, list):
        check_aligned("fan", len(periods), reference=reference)
    if inner is not None:
        check_aligned("fan", len(periods), p25=inner[0], p75=inner[1])
    with chart(title=title, source=source) as c:
        if not periods:
            c.empty(empty_note)
        else:
            xs = np.arange(len(periods), dtype=float)
            c.ax.fill_between(
                xs, gaps(p10), gaps(p90), color=PALETTE[0], alpha=0.22, lw=0.0, label="P10–P90"
            )
            if inner is not None:
                c.ax.fill_between(
                    xs,
                    gaps(inner[0]),
                    gaps(inner[1]),
                    color=PALETTE[0],
                    alpha=0.30,
                    lw=0.0,
                    label="P25–P75",
                )
            c.ax.plot(xs, gaps(p50), color=PALETTE[0], lw=1.8, marker="o", ms=3, label="P50")
            if actual is not None:
                c.ax.plot(
                    xs,
                    gaps(actual),
                    color=PALETTE[7],
                    lw=0.0,
                    marker="o",
                    ms=4.5,
                    label=literal(actual_label) if actual_label else None,
                )
            if reference is not None:
                ref = [reference] * len(periods) if not isinstance(reference, list) else reference
                c.ax.plot(
                    xs,
                    gaps(ref),
                    color=PALETTE[1],
                    lw=1.4,
                    ls="--",
                    label=literal(reference_label) if reference_label else None,
                )
            c.ax.set_xlim(-0.3, len(periods) - 0.7)
            thin_ticks(c.ax, periods)
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
        row = gaps(values)
        if not labels or np.all(np.isnan(row)):
            c.empty(empty_note)
        else:
            ys = c.categories(lits(labels))
            c.ax.barh(ys, row, height=0.62, color=PALETTE[0])
            label_bars(c.ax, ys, list(row), percent=percent)
            pad_x(c.ax, min(0.0, float(np.nanmin(row))), max(0.0, float(np.nanmax(row))))
            if percent:
                percent_axis(c.ax)
            c.decorate(xlabel=xlabel, grid="x")
    return c.svg


#: the central-interval levels the calibration chart reads off the PIT values
LEVELS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def calibration(
    pits: dict[str, list[float]],
    *,
    title: str,
    source: str,
    pit_label: str,
    count_label: str,
    nominal_label: str,
    observed_label: str,
    ideal_label: str,
    bins: int = 10,
    empty_note: str = NO_DATA,
) -> str:
    """Calibration of probabilistic forecasts, from their PIT values (one list per method).

    Left: the PIT histogram (``bins`` bins over [0, 1]; flat, at the dashed line, when
    calibrated; piled at both ends when the bands are too narrow). Right: each central
    interval's nominal level (10%, 20%, ..., 90%) against the share of actuals inside it,
    which is the share of PIT values within [(1 − level)/2, (1 + level)/2]; the diagonal is
    a calibrated forecast. Methods without a PIT value are left out; none at all gives a
    "no data" frame.
    """
    if bins < 1:
        raise ChartError(f"calibration: bins must be at least 1, got {bins}")
    kept = {name: np.clip(gaps(v), 0.0, 1.0) for name, v in pits.items()}
    kept = {name: a[~np.isnan(a)] for name, a in kept.items()}
    kept = {name: a for name, a in kept.items() if len(a)}
    with chart(title=title, source=source) as c:
        if not kept:
            c.empty(empty_note)
        else:
            c.ax.remove()
            left, right = c.fig.subplots(1, 2)
            c.ax = left
            _pit_panel(left, kept, bins)
            c.decorate(xlabel=pit_label, ylabel=count_label, grid="y")
            c.ax = right
            _coverage_panel(right, kept, ideal_label)
            c.decorate(xlabel=nominal_label, ylabel=observed_label, grid="y")
            # two columns: four names in one row would run past the panel's right edge
            right.legend(
                loc="lower left",
                bbox_to_anchor=(0.0, 1.0),
                ncols=2,
                borderaxespad=0.3,
                handlelength=1.4,
                columnspacing=1.2,
            )
    return c.svg


def _pit_panel(ax: Axes, pits: dict[str, np.ndarray], bins: int) -> None:
    """Each method's PIT histogram as a step line; the dashed line is a flat histogram."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    for i, values in enumerate(pits.values()):
        counts = np.bincount(np.minimum((values * bins).astype(int), bins - 1), minlength=bins)
        ax.stairs(counts, edges, color=PALETTE[i % len(PALETTE)], lw=1.6)
    flat = max(len(v) for v in pits.values()) / bins
    ax.axhline(flat, color=NEUTRAL, lw=1.0, ls="--")
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(bottom=0.0)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))


def _coverage_panel(ax: Axes, pits: dict[str, np.ndarray], ideal_label: str) -> None:
    """Nominal central-interval level against the share of PIT values inside it."""
    levels = np.array(LEVELS)
    ax.plot([0.0, 1.0], [0.0, 1.0], color=NEUTRAL, lw=1.0, ls="--", label=literal(ideal_label))
    for i, (name, values) in enumerate(pits.items()):
        lo, hi = (1 - levels) / 2, (1 + levels) / 2
        inside = ((values[None, :] >= lo[:, None]) & (values[None, :] <= hi[:, None])).mean(1)
        color = PALETTE[i % len(PALETTE)]
        ax.plot(levels, inside, color=color, lw=1.6, marker="o", ms=3.5, label=literal(name))
    ax.set_xlim(0.0, 1.0)
    ax.set_ylim(0.0, 1.0)
    percent_axis(ax, "x")
    percent_axis(ax, "y")
