"""The customer journey map: phases across, lanes down, an emotion curve through the middle.

The map is SVG 1.1 written directly (no Graphviz): a fixed grid of phase columns and lane rows
whose heights grow to fit their tallest cell. Text is wrapped by display width (CJK counts two
columns) against a conservative width estimate, so labels stay inside their cells without a
font to measure with. Every user string goes through :func:`xml_text` / :func:`xml_attr`; ids
come from indices only, and nothing depends on time or chance, so the same process gives the
same bytes. PNG and PDF are converted from the SVG with cairosvg. See ``docs/design.md``.
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from flowsim._extras import missing
from flowsim.diagnostics import display_width
from flowsim.errors import InputError
from flowsim.graph import phase_order
from flowsim.model import Persona, Process, Stage, Touchpoint
from flowsim.render.i18n import Lang, words
from flowsim.render.journey_measured import measured_layer
from flowsim.render.options import RenderOptions
from flowsim.render.pdf import pin_dates
from flowsim.render.text import wrap, xml_attr, xml_text
from flowsim.render.theme import Theme

__all__ = ["fit", "raster_family", "render", "text_width", "to_svg"]

# ---- grid (pixels) ---------------------------------------------------------------------------

MARGIN = 24.0
HEADER_W = 168.0  # the lane-name column on the left
COL_W = 184.0  # every phase column: fixed, so printing is predictable
BODY_X = MARGIN + HEADER_W  # where the first phase column starts
PAD = 10.0  # inside every cell
CHEVRON = 10.0  # depth of the arrow point of a phase header
EMOTION_STEP = 22.0  # vertical distance between two emotion scores
EMOTION_PAD = 20.0  # above score 5 and below score 1
ITEM_GAP = 5.0  # between two bullets or two cards in a cell
MIN_ROW_H = 40.0
#: Most phases in one row of the map: ten columns keep the map within 2,056 px, so the
#: smallest text (9 px) is still 7 px once the map is fitted to a 1,600 px page. Longer
#: journeys wrap into rows of about equal length, each with its own phase headers.
MAX_PHASES_PER_ROW = 10
ROW_GAP = 28.0  # between two rows of a wrapped map

#: Text cannot be measured without the font, so widths are estimated from the characters, in
#: em, on the wide side of common sans-serif faces (Helvetica metrics plus ~12%, which covers
#: DejaVu Sans and the Latin glyphs of the CJK fonts). A wide (CJK) character is 1 em.
_NARROW = frozenset("ijlI.,:;'!|")
_SEMI = frozenset('frt()[]{}-"` /\\')
_BROAD = frozenset("mwCDGHNOQU&")
_WIDEST = frozenset("MW@%")
BOLD_FACTOR = 1.08
#: Where wrapping starts: display columns per em (a CJK character is two columns). Lines are
#: then re-wrapped narrower until the estimate fits.
COLUMN_EM = 0.5
LINE_EM = 1.4

#: Built-in channel names, how each language says them, and the icon drawn for them.
_CHANNELS: dict[str, tuple[str, str, str]] = {
    "phone": ("phone", "电话", "phone"),
    "call": ("call", "电话", "phone"),
    "email": ("email", "邮件", "email"),
    "mail": ("mail", "邮件", "email"),
    "web": ("web", "网站", "web"),
    "website": ("website", "网站", "web"),
    "form": ("form", "表单", "web"),
    "video": ("video", "视频会议", "video"),
    "webinar": ("webinar", "网络研讨会", "video"),
    "visit": ("visit", "上门拜访", "visit"),
    "meeting": ("meeting", "会议", "visit"),
    "store": ("store", "门店", "visit"),
    "chat": ("chat", "在线沟通", "chat"),
    "im": ("IM", "即时通讯", "chat"),
    "wechat": ("WeChat", "微信", "chat"),
    "sms": ("SMS", "短信", "chat"),
    "social": ("social", "社交媒体", "chat"),
    "event": ("event", "活动", "event"),
    "app": ("app", "应用", "app"),
    "mobile": ("mobile", "移动端", "app"),
}


# ---- small helpers ---------------------------------------------------------------------------


def _n(x: float) -> str:
    """A coordinate: at most two decimals, no trailing zeros, never ``-0``."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _t(text: str) -> str:
    """User text as XML character data (lone surrogates, which UTF-8 cannot carry, replaced)."""
    return xml_text(_SURROGATE.sub("\ufffd", text))


def _a(text: str) -> str:
    """User text as an XML attribute value."""
    return xml_attr(_SURROGATE.sub("\ufffd", text))


def _escaped_theme(theme: Theme) -> Theme:
    """The theme with every text value escaped for attributes (a TOML theme is user data)."""
    update: dict[str, object] = {}
    for name, value in theme:
        if isinstance(value, str):
            update[name] = _a(value)
        elif isinstance(value, tuple):
            update[name] = tuple(_a(v) if isinstance(v, str) else v for v in value)
    return theme.model_copy(update=update)


def _score(value: float) -> str:
    return f"{value:g}"


def _clamp(score: float) -> float:
    return min(5.0, max(1.0, score))


def _emotion_color(theme: Theme, score: float) -> str:
    index = math.floor(_clamp(score) + 0.5) - 1
    return theme.emotion_colors[index]


def _char_em(ch: str) -> float:
    if display_width(ch) == 2:
        return 1.0
    if ch in _NARROW:
        return 0.32
    if ch in _SEMI:
        return 0.42
    if ch in _WIDEST:
        return 1.05
    if ch in _BROAD:
        return 0.9
    if ch.isupper():
        return 0.78
    if ch.isascii():
        return 0.62
    return 0.8 if display_width(ch) else 0.0


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated width of ``text`` in pixels at font ``size`` (never less than the real one
    for the fonts flowsim's themes name)."""
    em = math.fsum(_char_em(ch) for ch in text)
    return em * size * (BOLD_FACTOR if bold else 1.0)


def fit(text: str, width: float, size: float, bold: bool = False) -> list[str]:
    """``text`` wrapped (by :func:`wrap`) into lines whose estimated width fits ``width``."""
    columns = max(4, int(width / (size * COLUMN_EM)))
    while True:
        lines = wrap(text, columns)
        if columns <= 4 or all(text_width(line, size, bold) <= width for line in lines):
            return lines
        columns -= 1


@dataclass(frozen=True)
class _Fonts:
    size: float
    small: float
    title: float

    def line(self, size: float) -> float:
        return size * LINE_EM


def _chunks(n: int) -> list[range]:
    """Phase indices row by row: at most :data:`MAX_PHASES_PER_ROW` a row, rows about equal
    (13 phases: 7 and 6); one (empty) row when there are none."""
    rows = max(1, math.ceil(n / MAX_PHASES_PER_ROW))
    size = math.ceil(n / rows) if n else 0
    return [range(i, min(n, i + size)) for i in range(0, n, size)] if n else [range(0)]


# A cell's content: its height, and how to draw it with its top-left corner at (x, y).
Draw = Callable[[float, float], list[str]]


def _nothing(x: float, y: float) -> list[str]:
    return []


@dataclass(frozen=True)
class _Block:
    height: float
    draw: Draw


def _stack(blocks: Sequence[_Block], gap: float = ITEM_GAP) -> _Block:
    """Blocks one under the other."""
    blocks = [b for b in blocks if b.height > 0]
    if not blocks:
        return _Block(0.0, _nothing)
    height = sum(b.height for b in blocks) + gap * (len(blocks) - 1)

    def draw(x: float, y: float) -> list[str]:
        out: list[str] = []
        for b in blocks:
            out.extend(b.draw(x, y))
            y += b.height + gap
        return out

    return _Block(height, draw)


def _text_line(
    x: float,
    baseline: float,
    content: str,
    *,
    size: float,
    fill: str,
    bold: bool = False,
    anchor: str = "start",
) -> str:
    attrs = [f'x="{_n(x)}"', f'y="{_n(baseline)}"', f'font-size="{_n(size)}"', f'fill="{fill}"']
    if bold:
        attrs.append('font-weight="bold"')
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    return f"<text {' '.join(attrs)}>{_t(content)}</text>"


def _baseline(top: float, size: float) -> float:
    """Where the baseline goes to centre a line of ``size`` in its line box starting at ``top``."""
    return top + size * LINE_EM / 2 + size * 0.36


class _Drawn(NamedTuple):
    """SVG lines of one part of the map, and the y where the next part starts."""

    lines: list[str]
    bottom: float


_LaneRow = tuple[str, "_Block", list["_Block"]]  # key, row header, one cell per phase


class _Rows(NamedTuple):
    """The lane rows: their SVG lines, where they end, the y of every row boundary, and the
    emotion row's (top, height) when there is one."""

    lines: list[str]
    bottom: float
    separators: list[float]
    emotion_band: tuple[float, float] | None


# ---- the map ---------------------------------------------------------------------------------


class _Journey:
    def __init__(self, process: Process, options: RenderOptions) -> None:
        self.process = process
        self.options = options
        self.theme = _escaped_theme(options.theme)
        self.lang: Lang = options.lang
        self.words = words(options.lang)
        self.fonts = _Fonts(
            size=self.theme.font_size,
            small=self.theme.small_font_size,
            title=self.theme.font_size * 1.6,
        )
        stages = {s.id: s for s in process.stages}
        self.phases: list[Stage] = [stages[sid] for sid in phase_order(process)]
        self.persona: Persona | None = process.personas[0] if process.personas else None

    # -- text blocks --

    def para(
        self,
        text: str,
        width: float,
        *,
        size: float | None = None,
        fill: str | None = None,
        bold: bool = False,
        anchor: str = "start",
    ) -> _Block:
        size = size or self.fonts.size
        fill = fill or self.theme.text
        lines = fit(text, width, size, bold)
        lh = self.fonts.line(size)

        def draw(x: float, y: float) -> list[str]:
            tx = x + width / 2 if anchor == "middle" else x
            return [
                _text_line(
                    tx,
                    _baseline(y + i * lh, size),
                    line,
                    size=size,
                    fill=fill,
                    bold=bold,
                    anchor=anchor,
                )
                for i, line in enumerate(lines)
            ]

        return _Block(lh * len(lines), draw)

    def bullet(self, text: str, width: float, color: str, shape: str) -> _Block:
        """One list item: a small coloured marker and the wrapped text beside it."""
        size = self.fonts.size
        indent = 12.0
        body = self.para(text, width - indent, size=size)
        mid = self.fonts.line(size) / 2

        def draw(x: float, y: float) -> list[str]:
            cx, cy = x + 3.5, y + mid
            if shape == "pain":  # a small warning triangle
                pts = [(cx, cy - 4.2), (cx + 4, cy + 3), (cx - 4, cy + 3)]
                mark = (
                    f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in pts)}" '
                    f'fill="{color}"/>'
                )
            elif shape == "idea":  # a small diamond
                pts = [(cx, cy - 4), (cx + 4, cy), (cx, cy + 4), (cx - 4, cy)]
                mark = (
                    f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in pts)}" '
                    f'fill="{color}"/>'
                )
            else:  # a dot
                mark = f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="2.5" fill="{color}"/>'
            return [mark, *body.draw(x + indent, y)]

        return _Block(body.height, draw)

    def bullets(self, items: Sequence[str], width: float, color: str, shape: str) -> _Block:
        return _stack([self.bullet(item, width, color, shape) for item in items])

    # -- cells of each lane --

    def goals_cell(self, stage: Stage, width: float) -> _Block:
        return self.bullets(stage.goals, width, self.theme.muted_text, "dot")

    def actions_cell(self, stage: Stage, width: float) -> _Block:
        items = [a for tp in stage.touchpoints for a in tp.actions]
        return self.bullets(items, width, self.theme.curve, "dot")

    def pains_cell(self, stage: Stage, width: float) -> _Block:
        items = [p for tp in stage.touchpoints for p in tp.pains]
        return self.bullets(items, width, self.theme.pain, "pain")

    def ideas_cell(self, stage: Stage, width: float) -> _Block:
        items = [i for tp in stage.touchpoints for i in tp.ideas]
        return self.bullets(items, width, self.theme.idea, "idea")

    def owners_cell(self, stage: Stage, width: float) -> _Block:
        if stage.owner is None:
            return _Block(0.0, _nothing)
        role = self.process.role(stage.owner)
        blocks = [self.para(role.display, width, bold=True)]
        if role.department is not None:
            dept = next((d for d in self.process.departments if d.id == role.department), None)
            name = dept.display if dept is not None else role.department
            blocks.append(self.para(name, width, size=self.fonts.small, fill=self.theme.muted_text))
        return _stack(blocks, gap=1.0)

    def touchpoints_cell(self, phase: int, stage: Stage, width: float) -> _Block:
        return _stack([self.card(phase, i, tp, width) for i, tp in enumerate(stage.touchpoints)])

    def card(self, phase: int, index: int, tp: Touchpoint, width: float) -> _Block:
        """A touchpoint: a rounded card with the channel icon, the name and the channel."""
        theme = self.theme
        icon_d = 20.0
        inner = 8.0
        text_x = inner + icon_d + 7.0
        text_w = width - text_x - inner
        name = self.para(tp.name, text_w, fill=theme.text)
        parts = [name]
        if tp.channel is not None:
            parts.append(
                self.para(
                    self.channel_label(tp.channel),
                    text_w,
                    size=self.fonts.small,
                    fill=theme.muted_text,
                )
            )
        body = _stack(parts, gap=1.0)
        height = max(icon_d, body.height) + 2 * inner
        kind = _CHANNELS.get(tp.channel.lower(), ("", "", "other"))[2] if tp.channel else "other"

        def draw(x: float, y: float) -> list[str]:
            cx, cy = x + inner + icon_d / 2, y + inner + icon_d / 2
            title = tp.name if tp.emotion is None else f"{tp.name} ({_score(tp.emotion)}/5)"
            out = [
                f'<g id="tp-{phase}-{index}">',
                f"<title>{_t(title)}</title>",
                f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" '
                f'rx="5" fill="{theme.touchpoint_fill}" stroke="{theme.touchpoint_border}"/>',
                f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(icon_d / 2)}" '
                f'fill="{theme.background}" stroke="{theme.touchpoint_border}"/>',
                *_icon(kind, cx, cy, theme.text),
                *body.draw(x + text_x, y + inner),
                "</g>",
            ]
            return out

        return _Block(height, draw)

    def channel_label(self, channel: str) -> str:
        known = _CHANNELS.get(channel.lower())
        if known is None:
            return channel
        return known[1] if self.lang == "zh" else known[0]

    def persona_block(self, persona: Persona, width: float) -> _Block:
        """The persona in the row header: a person icon, the name, and the persona's goals."""
        icon_w = 16.0
        name = self.para(persona.display, width - icon_w, bold=True)
        goals = self.bullets(persona.goals, width, self.theme.muted_text, "dot")
        mid = self.fonts.line(self.fonts.size) / 2

        def draw(x: float, y: float) -> list[str]:
            return [
                '<g id="persona">',
                *_icon("visit", x + 5.5, y + mid, self.theme.text),
                *name.draw(x + icon_w, y),
                *goals.draw(x, y + name.height + ITEM_GAP),
                "</g>",
            ]

        return _Block(name.height + (goals.height + ITEM_GAP if goals.height else 0), draw)

    # -- lanes --

    def lanes(self) -> list[tuple[str, _Block, list[_Block]]]:
        """(key, row-header block, cells) for every lane that has something to show."""
        head_w = HEADER_W - 2 * PAD
        cell_w = COL_W - 2 * PAD
        phases = list(enumerate(self.phases))
        has_emotion = any(tp.emotion is not None for s in self.phases for tp in s.touchpoints)
        emotion_h = 2 * EMOTION_PAD + 4 * EMOTION_STEP - 2 * PAD  # drawn by emotion()
        lanes: list[tuple[str, list[_Block], list[_Block]]] = [
            (
                "persona",
                [self.goals_cell(s, cell_w) for s in self.phases],
                [self.persona_block(self.persona, head_w)] if self.persona else [],
            ),
            ("actions", [self.actions_cell(s, cell_w) for s in self.phases], []),
            ("touchpoints", [self.touchpoints_cell(i, s, cell_w) for i, s in phases], []),
            ("emotion", [_Block(emotion_h if has_emotion else 0.0, _nothing)] * len(phases), []),
            ("pains", [self.pains_cell(s, cell_w) for s in self.phases], []),
            ("ideas", [self.ideas_cell(s, cell_w) for s in self.phases], []),
            ("owners", [self.owners_cell(s, cell_w) for s in self.phases], []),
        ]
        out: list[tuple[str, _Block, list[_Block]]] = []
        for key, cells, extra in lanes:
            if not extra and not any(c.height for c in cells):
                continue  # an empty lane is left out
            label = self.words["persona_goals" if key == "persona" else key]
            name = self.para(label, head_w, bold=True, fill=self.theme.lane_label)
            out.append((key, _stack([name, *extra], gap=6.0), cells))
        return out

    # -- the whole picture --

    def build(self, font_family: str) -> str:
        """The SVG document, drawn top to bottom: title, then per row of phases the phase
        headers, lanes, grid and curve.

        Each step returns its lines and where the next one starts, so a step's height is
        known only once it is drawn (rows grow to fit their tallest cell).
        """
        n = len(self.phases)
        chunks = _chunks(n)
        table_w = HEADER_W + max(1, max(len(c) for c in chunks)) * COL_W
        title_text = f"{self.process.name} · {self.words['journey']}"
        title = self.title_lines(title_text, table_w, MARGIN)
        lanes = self.lanes()
        drawn: list[str] = []
        y = title.bottom
        for r, cols in enumerate(chunks):
            part = self.section(lanes, cols, y, "" if r == 0 else f"-{r + 1}")
            drawn += part.lines
            y = part.bottom + ROW_GAP
        head = self.svg_head(2 * MARGIN + table_w, y - ROW_GAP + MARGIN, font_family, title_text)
        return "\n".join([*head, *title.lines, *drawn, "</svg>"]) + "\n"

    def section(self, lanes: list[_LaneRow], cols: range, y: float, suffix: str) -> _Drawn:
        """One row of the map: the parallel bands over phases ``cols``, their headers, lanes,
        grid and curve (element ids end with ``suffix`` after the first row, so they stay
        unique)."""
        bands = self.parallel_bands(y, cols, suffix)
        heads = self.phase_headers(bands.bottom, cols, suffix)
        rows = self.lane_rows(heads.bottom, lanes, cols, suffix)
        grid = self.grid_lines(rows, heads.bottom, len(cols), suffix)
        emotion = []
        if rows.emotion_band:
            emotion = self.emotion(rows.emotion_band, BODY_X, cols, suffix)
        drawn = [*bands.lines, *heads.lines, *rows.lines, *grid, *emotion]
        return _Drawn(drawn, rows.bottom)

    def title_lines(self, text: str, table_w: float, y: float) -> _Drawn:
        """The map's title across the table (when the options ask for one)."""
        if not self.options.title:
            return _Drawn([], y)
        title = self.para(text, table_w, size=self.fonts.title, bold=True)
        lines = ['<g id="title">', *title.draw(MARGIN, y), "</g>"]
        return _Drawn(lines, y + title.height + 12.0)

    def parallel_groups(self) -> list[tuple[int, int, str]]:
        """Per parallel block, the phase columns its branches span (first, last) and its
        text: "in parallel: Legal review | Solution validation"."""
        column = {s.id: i for i, s in enumerate(self.phases)}
        out = []
        for block in self.process.parallels:
            cols = [column[sid] for region in self.process.branch_stages(block) for sid in region]
            if not cols:
                continue
            names = " | ".join(self.process.node(e).display for e in block.branches)
            out.append((min(cols), max(cols), f"{self.words['parallel_phases']}: {names}"))
        return out

    def parallel_bands(self, y: float, cols: range, suffix: str = "") -> _Drawn:
        """A band above the phases of ``cols`` each parallel block's branches span: they run
        at once (a block cut by the end of a row gets a band in each row it spans)."""
        groups = [
            (i, max(first, cols.start), min(last, cols.stop - 1), text)
            for i, (first, last, text) in enumerate(self.parallel_groups())
            if first < cols.stop and last >= cols.start
        ]
        if not groups:
            return _Drawn([], y)
        theme = self.theme
        size = self.fonts.small
        labels = [
            self.para(text, (last - first + 1) * COL_W - 2 - 2 * PAD, size=size, anchor="middle")
            for _, first, last, text in groups
        ]  # a band cut to one column by a row's end may take two lines
        height = max(self.fonts.line(size), *(label.height for label in labels)) + 2 * PAD
        # later rows: "parallel-row-2" (a bare "parallel-2" is block 2's id in the first row)
        body = [f'<g id="parallel{"-row" if suffix else ""}{suffix}">']
        for (i, first, last, _), label in zip(groups, labels, strict=True):
            x0 = BODY_X + (first - cols.start) * COL_W + 1
            width = (last - first + 1) * COL_W - 2
            body.append(f'<g id="parallel-{i}{suffix}" class="parallel">')
            body.append(
                f'<rect x="{_n(x0)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" '
                f'rx="4" fill="none" stroke="{theme.text}" stroke-width="1.5"/>'
            )
            body.extend(label.draw(x0 + PAD, y + PAD))
            body.append("</g>")
        body.append("</g>")
        return _Drawn(body, y + height + 4.0)

    def phase_headers(self, y: float, cols: range, suffix: str = "") -> _Drawn:
        """The corner cell and a chevron per phase of ``cols``, pointing along the journey
        (the very first one flat on its left)."""
        theme = self.theme
        head_blocks = [
            self.para(
                s.display,
                COL_W - 2 * CHEVRON - 2 * PAD,
                bold=True,
                fill=theme.header_text,
                anchor="middle",
            )
            for s in self.phases[cols.start : cols.stop]
        ]
        corner = self.para(self.words["phase"], HEADER_W - 2 * PAD, bold=True, fill=theme.text)
        head_h = max([corner.height, *(b.height for b in head_blocks)]) + 2 * PAD
        body = [f'<g id="phases{suffix}">']
        body.extend(corner.draw(MARGIN + PAD, y + (head_h - corner.height) / 2))
        for i, block in zip(cols, head_blocks, strict=True):
            x0 = BODY_X + (i - cols.start) * COL_W + 1
            x1 = x0 + COL_W - 2
            mid = y + head_h / 2
            notch = CHEVRON if i else 0.0
            pts = [
                (x0, y),
                (x1 - CHEVRON, y),
                (x1, mid),
                (x1 - CHEVRON, y + head_h),
                (x0, y + head_h),
                (x0 + notch, mid),
            ]
            body.append(f'<g id="phase-{i}">')
            body.append(
                f'<polygon points="{" ".join(f"{_n(a)},{_n(b)}" for a, b in pts)}" '
                f'fill="{theme.header_fill}" stroke="{theme.lane_border}" stroke-linejoin="round"/>'
            )
            inner_x = x0 + CHEVRON + PAD
            body.extend(block.draw(inner_x, y + (head_h - block.height) / 2))
            body.append("</g>")
        body.append("</g>")
        return _Drawn(body, y + head_h + 8.0)

    def lane_rows(self, top: float, lanes: list[_LaneRow], cols: range, suffix: str) -> _Rows:
        """Every lane as a row as tall as its tallest cell among phases ``cols``; the
        emotion row is left empty for :meth:`emotion`, which draws its curve across it."""
        theme = self.theme
        y = top
        emotion_band: tuple[float, float] | None = None
        rows: list[str] = []
        separators: list[float] = []
        for r, (key, header, all_cells) in enumerate(lanes):
            cells = all_cells[cols.start : cols.stop]
            row_h = max(MIN_ROW_H, max([header.height, *(c.height for c in cells)]) + 2 * PAD)
            fill = theme.lane_fills[r % len(theme.lane_fills)] if theme.lane_fills else "none"
            rows.append(f'<g id="lane-{key}{suffix}">')
            rows.append(
                f'<rect x="{_n(MARGIN)}" y="{_n(y)}" width="{_n(HEADER_W)}" '
                f'height="{_n(row_h)}" fill="{fill}"/>'
            )
            head = header.draw(MARGIN + PAD, y + PAD)
            if suffix:  # the persona's group is repeated in every row: keep ids unique
                head = [x.replace('<g id="persona">', f'<g id="persona{suffix}">') for x in head]
            rows.extend(head)
            if key == "emotion":
                emotion_band = (y, row_h)
            else:
                for i, cell in enumerate(cells):
                    rows.extend(cell.draw(BODY_X + i * COL_W + PAD, y + PAD))
            rows.append("</g>")
            if r:
                separators.append(y)
            y += row_h
        return _Rows(rows, y, separators, emotion_band)

    def grid_lines(self, rows: _Rows, top: float, columns: int, suffix: str) -> list[str]:
        """Row separators, column lines and the table's frame, drawn over the cells."""
        theme = self.theme
        table_w = HEADER_W + max(columns, 1) * COL_W
        grid: list[str] = [f'<g id="grid{suffix}" fill="none">']
        for sy in rows.separators:
            grid.append(
                f'<line x1="{_n(MARGIN)}" y1="{_n(sy)}" x2="{_n(MARGIN + table_w)}" '
                f'y2="{_n(sy)}" stroke="{theme.grid}"/>'
            )
        for i in range(columns + 1):
            gx = BODY_X + i * COL_W
            grid.append(
                f'<line x1="{_n(gx)}" y1="{_n(top)}" x2="{_n(gx)}" '
                f'y2="{_n(rows.bottom)}" stroke="{theme.grid}"/>'
            )
        if rows.bottom > top:
            grid.append(
                f'<rect x="{_n(MARGIN)}" y="{_n(top)}" width="{_n(table_w)}" '
                f'height="{_n(rows.bottom - top)}" stroke="{theme.lane_border}"/>'
            )
        grid.append("</g>")
        return grid

    def svg_head(self, width: float, height: float, font_family: str, title: str) -> list[str]:
        """The XML declaration, the ``<svg>`` element with its accessible name, and the
        background."""
        lang = "zh-CN" if self.lang == "zh" else "en"
        return [
            '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
            f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{_n(width)}" '
            f'height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" xml:lang="{lang}" '
            f'font-family="{_a(font_family)}" font-size="{_n(self.fonts.size)}" '
            f'role="img" aria-labelledby="journey-title journey-desc">',
            f'<title id="journey-title">{_t(title)}</title>',
            f'<desc id="journey-desc">{_t(self.description())}</desc>',
            f'<rect id="background" width="100%" height="100%" fill="{self.theme.background}"/>',
        ]

    def description(self) -> str:
        """The ``<desc>``: the phases in order, the persona and the emotion scores, in words."""
        w = self.words
        colon, comma, stop, semi, space = (
            ("：", "，", "。", "；", "") if self.lang == "zh" else (": ", ", ", ".", "; ", " ")
        )
        phases = comma.join(f"{i + 1}. {s.display}" for i, s in enumerate(self.phases))
        parts = [f"{w['journey']}{colon}{self.process.name}{stop}"]
        parts.append(f"{w['phase']}{colon}{phases}{stop}")
        parts += [f"{text}{stop}" for _, _, text in self.parallel_groups()]
        if self.persona is not None:
            parts.append(f"{w['persona_goals']}{colon}{self.persona.display}{stop}")
        scores = [
            f"{tp.name} {_score(tp.emotion)}"
            for s in self.phases
            for tp in s.touchpoints
            if tp.emotion is not None
        ]
        if scores:
            parts.append(f"{w['emotion']} (1-5){colon}{semi.join(scores)}{stop}")
        return space.join(parts)

    def emotion(
        self, band: tuple[float, float], body_x: float, cols: range, suffix: str = ""
    ) -> list[str]:
        """Gridlines for scores 1..5, scale labels, the smooth curve and its markers, for
        the phases ``cols``."""
        top, row_h = band
        y5 = top + (row_h - 4 * EMOTION_STEP) / 2

        def y_of(score: float) -> float:
            return y5 + (5.0 - _clamp(score)) * EMOTION_STEP

        out = [f'<g id="emotion{suffix}">', *self.emotion_scale(y_of, body_x, len(cols))]
        points: list[tuple[float, float, float, str, str]] = []
        anchors: list[tuple[str, str, float]] = []  # every touchpoint of the row, for measured
        for p in cols:
            stage = self.phases[p]
            count = len(stage.touchpoints)
            for i, tp in enumerate(stage.touchpoints):
                x = body_x + (p - cols.start) * COL_W + (i + 0.5) / count * COL_W
                anchors.append((stage.id, tp.name, x))
                if tp.emotion is None:
                    continue
                points.append((x, y_of(tp.emotion), tp.emotion, f"{p}-{i}", tp.name))
        if len(points) > 1:
            d = _smooth_path([(x, y) for x, y, *_ in points])
            out.append(
                f'<path id="emotion-curve{suffix}" d="{d}" fill="none" stroke="{self.theme.curve}" '
                f'stroke-width="2.5" stroke-linecap="round" stroke-linejoin="round"/>'
            )
        for x, y, score, key, name in points:
            out += self.emotion_marker(x, y, score, key, name)
        measured = self.options.measured
        out += measured_layer(anchors, y_of, measured, self.theme, self.fonts.small, suffix=suffix)
        out.append("</g>")
        return out

    def emotion_scale(
        self, y_of: Callable[[float], float], body_x: float, columns: int
    ) -> list[str]:
        """A gridline and a label per score 1..5; the neutral 3 solid, the others dashed."""
        theme = self.theme
        right = body_x + columns * COL_W
        out = []
        for s in range(1, 6):
            gy = y_of(s)
            dash = "" if s == 3 else ' stroke-dasharray="2 3"'
            out.append(
                f'<line x1="{_n(body_x)}" y1="{_n(gy)}" x2="{_n(right)}" y2="{_n(gy)}" '
                f'stroke="{theme.grid}"{dash}/>'
            )
            out.append(
                _text_line(
                    body_x - 8,
                    gy + self.fonts.small * 0.35,
                    str(s),
                    size=self.fonts.small,
                    fill=theme.muted_text,
                    anchor="end",
                )
            )
        return out

    def emotion_marker(self, x: float, y: float, score: float, key: str, name: str) -> list[str]:
        """A touchpoint's score on the curve: a dot in the score's colour, the figure beside
        it (below it for the lowest scores, which sit at the bottom of the row)."""
        theme = self.theme
        label_y = y - 10 if score >= 2 else y + 10 + self.fonts.small * 0.7
        return [
            f'<g id="emotion-{key}">',
            f"<title>{_t(f'{name}: {_score(score)}/5')}</title>",
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="6" fill="{_emotion_color(theme, score)}" '
            f'stroke="{theme.background}" stroke-width="2"/>',
            _text_line(
                x,
                label_y,
                _score(score),
                size=self.fonts.small,
                fill=theme.muted_text,
                bold=True,
                anchor="middle",
            ),
            "</g>",
        ]


def _smooth_path(points: Sequence[tuple[float, float]]) -> str:
    """A smooth path through ``points`` (x increasing): monotone cubic Hermite, as Béziers.

    Monotone (Fritsch-Carlson) tangents never overshoot the data, so the curve stays between
    neighbouring scores and inside the 1..5 band; a straight run stays straight.
    """
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    k = len(points)
    slopes = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) for i in range(k - 1)]
    tangents = [slopes[0]]
    for i in range(1, k - 1):
        a, b = slopes[i - 1], slopes[i]
        tangents.append(0.0 if a * b <= 0 else 2 * a * b / (a + b))  # harmonic mean
    tangents.append(slopes[-1])
    d = [f"M{_n(xs[0])},{_n(ys[0])}"]
    for i in range(k - 1):
        h = (xs[i + 1] - xs[i]) / 3
        c1 = (xs[i] + h, ys[i] + tangents[i] * h)
        c2 = (xs[i + 1] - h, ys[i + 1] - tangents[i + 1] * h)
        d.append(
            f"C{_n(c1[0])},{_n(c1[1])} {_n(c2[0])},{_n(c2[1])} {_n(xs[i + 1])},{_n(ys[i + 1])}"
        )
    return " ".join(d)


def _icon(kind: str, cx: float, cy: float, color: str) -> list[str]:
    """A channel icon drawn with a few strokes in a 12x12 box centred on (cx, cy)."""
    s = f'fill="none" stroke="{color}" stroke-width="1.2" stroke-linecap="round" ' + (
        'stroke-linejoin="round"'
    )

    def p(dx: float, dy: float) -> str:
        return f"{_n(cx + dx)},{_n(cy + dy)}"

    if kind == "phone":  # a handset
        return [
            f'<path d="M{p(-4.5, -5)} L{p(-2, -5)} L{p(-1, -2.5)} L{p(-2.5, -1.2)} '
            f"Q{p(-1, 1.5)} {p(1.2, 2.5)} L{p(2.5, 1)} L{p(5, 2)} L{p(5, 4.5)} "
            f'Q{p(-5, 5)} {p(-4.5, -5)} Z" {s}/>'
        ]
    if kind == "email":  # an envelope
        return [
            f'<rect x="{_n(cx - 5.5)}" y="{_n(cy - 4)}" width="11" height="8" rx="1" {s}/>',
            f'<path d="M{p(-5.5, -3.5)} L{p(0, 0.8)} L{p(5.5, -3.5)}" {s}/>',
        ]
    if kind == "web":  # a globe
        return [
            f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="5.5" {s}/>',
            f'<ellipse cx="{_n(cx)}" cy="{_n(cy)}" rx="2.3" ry="5.5" {s}/>',
            f'<path d="M{p(-5.5, 0)} L{p(5.5, 0)}" {s}/>',
        ]
    if kind == "video":  # a camera
        return [
            f'<rect x="{_n(cx - 6)}" y="{_n(cy - 3.5)}" width="8" height="7" rx="1.2" {s}/>',
            f'<path d="M{p(2, -1)} L{p(6, -3.5)} L{p(6, 3.5)} L{p(2, 1)} Z" {s}/>',
        ]
    if kind == "visit":  # a person
        return [
            f'<circle cx="{_n(cx)}" cy="{_n(cy - 2.8)}" r="2.4" {s}/>',
            f'<path d="M{p(-4.5, 5.5)} Q{p(-4.5, 0.8)} {p(0, 0.8)} '
            f'Q{p(4.5, 0.8)} {p(4.5, 5.5)}" {s}/>',
        ]
    if kind == "chat":  # a speech bubble
        return [
            f'<path d="M{p(-5.5, -4)} L{p(5.5, -4)} L{p(5.5, 2.5)} L{p(-1, 2.5)} '
            f'L{p(-3.5, 5)} L{p(-3.5, 2.5)} L{p(-5.5, 2.5)} Z" {s}/>'
        ]
    if kind == "event":  # a calendar page
        return [
            f'<rect x="{_n(cx - 5)}" y="{_n(cy - 4)}" width="10" height="9" rx="1" {s}/>',
            f'<path d="M{p(-5, -1)} L{p(5, -1)} M{p(-2.5, -5.5)} L{p(-2.5, -3)} '
            f'M{p(2.5, -5.5)} L{p(2.5, -3)}" {s}/>',
        ]
    if kind == "app":  # a phone screen
        return [
            f'<rect x="{_n(cx - 3.5)}" y="{_n(cy - 5.5)}" width="7" height="11" rx="1.5" {s}/>',
            f'<path d="M{p(-1, 3.5)} L{p(1, 3.5)}" {s}/>',
        ]
    return [f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="2.5" fill="{color}"/>']


def to_svg(process: Process, options: RenderOptions) -> str:
    """The journey map of ``process`` as a standalone SVG 1.1 document."""
    return _Journey(process, options).build(options.theme.font)


# ---- PNG and PDF -----------------------------------------------------------------------------


@functools.cache
def _installed_families(lang: str | None) -> frozenset[str]:
    """Font families fontconfig knows (lower case), optionally only those covering ``lang``."""
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return frozenset()
    pattern = f":lang={lang}" if lang else ":"
    try:
        result = subprocess.run(
            [fc_list, pattern, "family"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return frozenset()
    names = {
        name.strip().lower() for line in result.stdout.splitlines() for name in line.split(",")
    }
    names.discard("")
    return frozenset(names)


def _wide(text: str) -> bool:
    return display_width(text) != len(text)


def raster_family(font: str, text: str) -> str:
    """The one family cairo should use for ``text``, picked from the theme's font list.

    cairosvg hands only the *first* family of ``font-family`` to cairo, which does no
    per-character fallback, so a list that starts with a font this machine lacks would draw
    Chinese as empty boxes. Pick the first listed family that is installed (and covers Chinese
    when the text has wide characters); failing that, any installed Chinese font.
    """
    families = [f.strip().strip("\"'") for f in font.split(",") if f.strip()]
    generic = {"serif", "sans-serif", "monospace", "cursive", "fantasy"}
    needs_cjk = _wide(text)
    available = _installed_families("zh" if needs_cjk else None)
    if not available:
        return families[0] if families else "sans-serif"
    for family in families:
        if family.lower() in available or (not needs_cjk and family.lower() in generic):
            return family
    if needs_cjk:
        return min(available)
    return families[0] if families else "sans-serif"


def render(process: Process, options: RenderOptions) -> bytes:
    """The journey map as ``options.format``: ``svg``, ``png`` (2x scale) or ``pdf``."""
    if options.format == "svg":
        return to_svg(process, options).encode("utf-8")
    if options.format not in ("png", "pdf"):
        raise InputError(f"the journey map renders as svg, png or pdf, not {options.format!r}")
    try:
        import cairosvg  # type: ignore[import-untyped]
    except ImportError as err:
        raise missing(err, "a PNG or PDF journey map") from err

    journey = _Journey(process, options)
    family = raster_family(options.theme.font, journey.build(options.theme.font))
    svg = journey.build(family).encode("utf-8")
    if options.format == "png":
        png = cairosvg.svg2png(bytestring=svg, scale=2, unsafe=False)
        assert isinstance(png, bytes)
        return png
    pdf = cairosvg.svg2pdf(bytestring=svg, unsafe=False)
    assert isinstance(pdf, bytes)
    return pin_dates(pdf)
