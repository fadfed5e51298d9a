"""The look shared by every report chart, and the one place a figure becomes SVG text.

Charts are static SVG inlined in ``index.html`` and committed next to ``report.md``, so two
runs on the same input must give the same bytes (goldens, clean diffs) and the file must
display anywhere without fonts:

- text is drawn as glyph outlines (``svg.fonttype = "path"``), so a browser without a CJK font
  still shows 谈判签约, and the SVG needs no ``@font-face``;
- ids are hashed with a fixed salt and the metadata carries no date, no matplotlib version;
- figures are built on ``matplotlib.figure.Figure`` directly (no pyplot, no GUI backend, no
  global figure registry) and every rcParam is set inside ``matplotlib.rc_context``, so the
  caller's matplotlib state is left as it was.

Latin text uses DejaVu Sans (shipped with matplotlib, identical everywhere); CJK characters fall
back per glyph to the first installed CJK family (WenQuanYi Micro Hei on Debian/CI, from
``fonts-wqy-microhei``). Without any CJK font the chart still renders and matplotlib warns
about the missing glyphs.
"""

from __future__ import annotations

import io
import math
import re
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import matplotlib
from cycler import cycler
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.ticker import ScalarFormatter

from flowsim.errors import FlowsimError
from flowsim.report.numbers import TICK_UNIT_FROM, Numbers

__all__ = [
    "ACCENT",
    "MUTED",
    "NEUTRAL",
    "PALETTE",
    "TEXT",
    "Chart",
    "ChartError",
    "chart",
    "chart_numbers",
    "check_aligned",
    "clean",
    "finite",
    "font_families",
    "literal",
]

#: Okabe–Ito: distinguishable with every common colour-vision deficiency and in greyscale
#: print. Series take these in order; yellow comes last because it is weak on white.
PALETTE = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#D55E00",  # vermillion
    "#56B4E9",  # sky blue
    "#CC79A7",  # reddish purple
    "#F0E442",  # yellow
    "#000000",  # black
)
#: Highlight for what needs attention (interval excluding zero, ratio beyond the threshold).
ACCENT = "#D55E00"
#: Quiet marks: non-significant intervals, reference lines.
NEUTRAL = "#8C8C8C"
#: Secondary text: the source line, value annotations, the "no data" note.
MUTED = "#57606A"
TEXT = "#1F2328"

#: Latin first so digits and ASCII look the same on every machine; then CJK fallbacks.
_LATIN = "DejaVu Sans"
_CJK_CANDIDATES = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Microsoft YaHei",
    "PingFang SC",
    "SimHei",
)
#: Where Debian puts the fonts if matplotlib's font cache predates their installation.
_CJK_FILES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
)

WIDTH_IN = 7.5
DPI = 100
_SOURCE_BAND_IN = 0.28  # reserved strip at the bottom for the source line
_MARGIN_X = 0.012  # title and source line start here (figure fraction)


class ChartError(FlowsimError, ValueError):
    """Chart input that cannot be drawn (misaligned lists, unknown shapes of data)."""


def _installed() -> set[str]:
    return {f.name for f in font_manager.fontManager.ttflist}


def _fc_match_cjk() -> str | None:
    """Ask fontconfig for a Chinese-capable font file; None when fontconfig is absent."""
    try:
        out = subprocess.run(
            ["fc-match", "-f", "%{file}", ":lang=zh-cn"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out or None


@lru_cache(maxsize=1)
def font_families() -> tuple[str, ...]:
    """The ``font.family`` list: DejaVu Sans, then the installed CJK families in preference order.

    Only installed families are listed, so matplotlib never logs "font family not found". When
    none of the known CJK families is in matplotlib's cache (a font installed after the cache
    was built), the Debian font files and then ``fc-match :lang=zh-cn`` are tried and added.
    """
    have = _installed()
    cjk = [name for name in _CJK_CANDIDATES if name in have]
    if not cjk:
        candidates = [p for p in _CJK_FILES if Path(p).is_file()]
        found = _fc_match_cjk()
        if found and found.lower().endswith((".ttf", ".otf", ".ttc")):
            candidates.append(found)
        for path in candidates:
            try:
                font_manager.fontManager.addfont(path)
            except (OSError, RuntimeError, ValueError):
                continue
            name = font_manager.FontProperties(fname=path).get_name()
            if name and name != _LATIN:
                cjk.append(name)
                break
    return (_LATIN, *cjk)


def _rc() -> dict[str, Any]:
    return {
        "svg.fonttype": "path",
        "svg.hashsalt": "flowsim-report",
        "path.simplify": True,
        "font.family": list(font_families()),
        "font.size": 9.0,
        # Regular weight: CJK fonts such as WenQuanYi have no bold face, and a title mixing
        # bold Latin with regular Chinese looks broken.
        "figure.titlesize": 13.0,
        "figure.titleweight": "normal",
        "axes.labelsize": 9.0,
        "axes.labelcolor": TEXT,
        "axes.edgecolor": "#8C959F",
        "axes.linewidth": 0.8,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.prop_cycle": cycler(color=list(PALETTE)),
        "axes.axisbelow": True,
        "axes.grid": False,
        "grid.color": "#D8DEE4",
        "grid.linewidth": 0.6,
        "xtick.color": MUTED,
        "ytick.color": MUTED,
        "xtick.labelcolor": TEXT,
        "ytick.labelcolor": TEXT,
        "xtick.labelsize": 8.5,
        "ytick.labelsize": 8.5,
        "legend.fontsize": 8.5,
        "legend.frameon": False,
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "text.color": TEXT,
        "axes.unicode_minus": True,
        "hatch.linewidth": 0.8,
    }


def _height(rows: int) -> float:
    """Figure height in inches for ``rows`` category rows: grows with the data, within bounds."""
    return min(12.0, max(3.2, 1.5 + 0.34 * rows))


_PLAIN = re.compile(r"([−-]?)(\d{4,})(\.\d+)?")


#: the number format the charts drawn now write their ticks in (`chart_numbers` sets it)
_NUMBERS: ContextVar[Numbers | None] = ContextVar("flowsim_chart_numbers", default=None)


@contextmanager
def chart_numbers(numbers: Numbers) -> Iterator[None]:
    """Draw the charts made inside with ``numbers``'s tick format (the report's language)."""
    token = _NUMBERS.set(numbers)
    try:
        yield
    finally:
        _NUMBERS.reset(token)


class Thousands(ScalarFormatter):
    """Matplotlib's plain tick labels with thousands grouped by commas (``1,000``), as the
    report writes numbers in both its languages. From a million on, the ticks are written in
    the language's unit (:meth:`flowsim.report.numbers.Numbers.ticks`: ``2.5M``, ``250万``,
    ``1.2亿``) instead of matplotlib's ``1e6`` at the axis end, which no reader of the report's
    language would read as its numbers. Tiny ticks are plain decimals (``0.00004``), never
    ``1e−5`` at the axis end."""

    _ticks: tuple[float, ...] = ()

    def __init__(self) -> None:
        # no "1e−5" / "+1e3" markers at the axis end for tiny ticks or close ones either:
        # plain decimals, as the report writes every number
        super().__init__(useOffset=False)
        self.set_scientific(False)

    def set_locs(self, locs: Any) -> None:
        """Keep the axis's ticks: their largest decides the unit of every label."""
        self._ticks = tuple(float(v) for v in locs)
        super().set_locs(locs)

    def _large(self) -> bool:
        return any(math.isfinite(x) and abs(x) >= TICK_UNIT_FROM for x in self._ticks)

    def get_offset(self) -> str:
        """No ``1e6`` / ``+3.8e7`` marker when the ticks carry their unit."""
        return "" if self._large() else str(super().get_offset())

    def __call__(self, x: float, pos: int | None = None) -> str:
        if self._large():
            locs = list(self._ticks)
            if x not in locs:
                locs.append(x)
            return (_NUMBERS.get() or Numbers()).ticks(locs)[locs.index(x)]
        text = super().__call__(x, pos)
        found = _PLAIN.fullmatch(text)
        if not found:
            return text
        sign, whole, frac = found.groups()
        return f"{sign}{int(whole):,}{frac or ''}"


class Chart:
    """One figure with one axes, its title and source line; ``svg`` is filled on exit of `chart`."""

    def __init__(self, *, title: str, source: str, rows: int) -> None:
        height = _height(rows)
        self.title = title
        self.source = source
        bottom = _SOURCE_BAND_IN / height
        # The layout fits title, labels and legend above a strip kept free for the source line.
        layout = ConstrainedLayoutEngine(rect=(0.0, bottom, 1.0, 1.0 - bottom))
        self.fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, layout=layout)
        self.ax: Axes = self.fig.add_subplot()
        # A figure title (not the axes title), so a legend above the axes never overlaps it.
        self.fig.suptitle(literal(title), x=_MARGIN_X, ha="left", gid="chart-title")
        self.svg = ""

    def decorate(
        self,
        *,
        xlabel: str = "",
        ylabel: str = "",
        grid: Literal["x", "y"],
        legend: bool = False,
        reverse: bool = False,
    ) -> None:
        """Axis labels, light grid lines along the value axis, and the legend above the axes.

        The legend sits in a row between title and plot so it never hides data; ``reverse``
        lists it bottom-up (stacked areas, whose top band should come first).
        """
        self.ax.set_xlabel(literal(xlabel))
        self.ax.set_ylabel(literal(ylabel))
        self.ax.grid(True, axis=grid)
        for axis in (self.ax.xaxis, self.ax.yaxis):
            if type(axis.get_major_formatter()) is ScalarFormatter:
                axis.set_major_formatter(Thousands())
        handles, labels = self.ax.get_legend_handles_labels()
        if not legend or not handles:
            return
        if reverse:
            handles, labels = handles[::-1], labels[::-1]
        self.ax.legend(
            handles,
            labels,
            loc="lower left",
            bbox_to_anchor=(0.0, 1.0),
            ncols=min(len(handles), 4),
            borderaxespad=0.3,
            handlelength=1.4,
            columnspacing=1.2,
        )

    def categories(self, labels: Sequence[str]) -> list[float]:
        """Put ``labels`` on the y axis top to bottom, in the caller's order; returns positions."""
        ys = [float(i) for i in range(len(labels))]
        self.ax.set_yticks(ys, list(labels))
        self.ax.set_ylim(len(labels) - 0.5, -0.5)
        self.ax.tick_params(axis="y", length=0)
        return ys

    def empty(self, note: str) -> None:
        """Draw an empty frame with ``note`` in the middle instead of data."""
        ax = self.ax
        ax.set_xticks([])
        ax.set_yticks([])
        ax.set_xlim(0.0, 1.0)
        ax.set_ylim(0.0, 1.0)
        for side in ("left", "bottom"):
            ax.spines[side].set_color("#D8DEE4")
        ax.text(
            0.5,
            0.5,
            literal(note),
            ha="center",
            va="center",
            color=MUTED,
            fontsize=11,
            gid="no-data",
        )

    def _finish(self) -> str:
        self.fig.text(
            _MARGIN_X,
            0.012,
            literal(self.source),
            ha="left",
            va="bottom",
            fontsize=7.5,
            color=MUTED,
            gid="chart-source",
        )
        buf = io.StringIO()
        metadata: dict[str, Any] = {
            "Title": clean(self.title),
            "Description": clean(self.source),
            "Date": None,
            "Creator": None,
            "Format": None,
            "Type": None,
        }
        self.fig.savefig(buf, format="svg", metadata=metadata)
        return buf.getvalue()


@contextmanager
def chart(*, title: str, source: str, rows: int = 0) -> Iterator[Chart]:
    """Build one chart inside the report's rcParams; its SVG text is in ``.svg`` afterwards.

    ``rows`` is the number of category rows (stages, labels): the figure grows with it so
    labels never overlap; the width is fixed so all charts line up in the report.
    """
    rc: Any = _rc()  # matplotlib types the keys as a Literal union
    with matplotlib.rc_context(rc):
        c = Chart(title=title, source=source, rows=rows)
        yield c
        c.svg = c._finish()


#: Characters XML 1.0 forbids (C0 controls but tab/newline, surrogates, U+FFFE/U+FFFF): they
#: would make the SVG unparsable through the ``<title>`` element or matplotlib's text comments.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: str) -> str:
    """``text`` without the characters an XML document cannot hold."""
    return _NOT_XML.sub("", text)


def literal(text: str) -> str:
    """Caller text as literal glyphs: a ``$`` pair would otherwise start matplotlib mathtext."""
    return clean(text).replace("$", r"\$")


def finite(value: float | None) -> float | None:
    """``value`` as a float, or None for None / NaN / infinity (all drawn as gaps)."""
    if value is None:
        return None
    v = float(value)
    return v if math.isfinite(v) else None


def check_aligned(what: str, n: int, **lists: Sequence[Any] | None) -> None:
    """Raise `ChartError` naming the first list whose length is not ``n``."""
    for name, values in lists.items():
        if values is not None and len(values) != n:
            raise ChartError(f"{what}: {name} has {len(values)} values for {n} labels")
