"""Themes are data: fonts, colours and shapes for every view, as a pydantic model.

Four are built in (``default``, ``mono``, ``dark``, ``print``); a TOML file can define another,
starting from a built-in one (``extends = "print"``) and overriding any field::

    extends = "default"
    name = "acme"
    stage_fill = "#fff7e6"
    won_fill = "#2da44e"
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim.errors import FlowsimError, ModelError

__all__ = ["BUILTIN_THEMES", "Theme", "ThemeError", "load_theme"]

#: CJK-capable families first, so Chinese renders as glyphs wherever these fonts exist
#: (PNG/PDF through fontconfig; SVG viewers take the first family they have).
DEFAULT_FONT = (
    "Noto Sans CJK SC,WenQuanYi Micro Hei,Source Han Sans SC,PingFang SC,Microsoft YaHei,"
    "Helvetica,Arial,sans-serif"
)


class ThemeError(FlowsimError, ValueError):
    """A theme name or file that cannot be used."""


#: A Graphviz shape or style name: plain words only, so a theme cannot inject DOT attributes.
_GV_WORD = r"^[A-Za-z_]+$"
_GV_STYLE = r"^[A-Za-z_]+(,[A-Za-z_]+)*$"


class Theme(FlowsimModel):
    """Every colour, font and shape the renderers use."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = "default"
    font: str = DEFAULT_FONT
    font_size: float = Field(default=11.0, gt=0)
    small_font_size: float = Field(default=9.0, gt=0)
    background: str = "#ffffff"
    text: str = "#1f2328"
    muted_text: str = "#57606a"
    # swimlanes
    lane_fills: tuple[str, ...] = Field(default=("#f6f8fa", "#eef3f8"), min_length=1)
    lane_border: str = "#d0d7de"
    lane_label: str = "#24292f"
    # stages
    stage_shape: str = Field(default="box", pattern=_GV_WORD)
    stage_style: str = Field(default="rounded,filled", pattern=_GV_STYLE)
    stage_fill: str = "#ffffff"
    stage_border: str = "#57606a"
    entry_border: str = "#0969da"
    # outcomes
    won_shape: str = Field(default="doubleoctagon", pattern=_GV_WORD)
    won_fill: str = "#dafbe1"
    won_border: str = "#1a7f37"
    lost_shape: str = Field(default="octagon", pattern=_GV_WORD)
    lost_fill: str = "#eaeef2"
    lost_border: str = "#6e7781"
    other_shape: str = Field(default="octagon", pattern=_GV_WORD)
    other_fill: str = "#fff8c5"
    other_border: str = "#9a6700"
    # edges
    edge: str = "#57606a"
    edge_rework: str = "#bc4c00"
    edge_lost: str = "#8c959f"
    edge_label: str = "#24292f"
    # touchpoints and journey
    touchpoint_fill: str = "#fff8c5"
    touchpoint_border: str = "#d4a72c"
    emotion_colors: tuple[str, str, str, str, str] = (
        "#cf222e",
        "#fb8500",
        "#bf8700",
        "#57ab5a",
        "#1a7f37",
    )
    curve: str = "#0969da"
    grid: str = "#d0d7de"
    header_fill: str = "#24292f"
    header_text: str = "#ffffff"
    pain: str = "#cf222e"
    idea: str = "#1a7f37"
    # metrics overlay: a sequential scale from low to high
    heat: tuple[str, ...] = Field(
        default=("#fff5eb", "#fdd0a2", "#fd8d3c", "#d94801", "#7f2704"), min_length=2
    )
    heat_text_dark: str = "#1f2328"
    heat_text_light: str = "#ffffff"


_MONO = dict(
    name="mono",
    lane_fills=("#ffffff", "#f2f2f2"),
    lane_border="#999999",
    stage_border="#333333",
    entry_border="#000000",
    won_fill="#ffffff",
    won_border="#000000",
    lost_fill="#e0e0e0",
    lost_border="#666666",
    other_fill="#ffffff",
    other_border="#666666",
    edge="#333333",
    edge_rework="#333333",
    edge_lost="#888888",
    touchpoint_fill="#ffffff",
    touchpoint_border="#666666",
    emotion_colors=("#000000", "#333333", "#666666", "#333333", "#000000"),
    curve="#000000",
    header_fill="#333333",
    pain="#000000",
    idea="#000000",
    heat=("#ffffff", "#d9d9d9", "#a6a6a6", "#737373", "#404040"),
)

_DARK = dict(
    name="dark",
    background="#0d1117",
    text="#e6edf3",
    muted_text="#8d96a0",
    lane_fills=("#161b22", "#1c2128"),
    lane_border="#30363d",
    lane_label="#e6edf3",
    stage_fill="#21262d",
    stage_border="#8d96a0",
    entry_border="#2f81f7",
    won_fill="#033a16",
    won_border="#3fb950",
    lost_fill="#30363d",
    lost_border="#8d96a0",
    other_fill="#3b2300",
    other_border="#d29922",
    edge="#8d96a0",
    edge_rework="#f0883e",
    edge_lost="#6e7681",
    edge_label="#e6edf3",
    touchpoint_fill="#3b2300",
    touchpoint_border="#d29922",
    curve="#2f81f7",
    grid="#30363d",
    header_fill="#30363d",
    header_text="#e6edf3",
    pain="#f85149",
    idea="#3fb950",
    heat=("#2d1b0e", "#6e3a12", "#b35a16", "#e8761c", "#ffa657"),
    heat_text_dark="#0d1117",
    heat_text_light="#e6edf3",
)

_PRINT = dict(
    name="print",
    font_size=10.0,
    small_font_size=8.0,
    lane_fills=("#ffffff", "#ffffff"),
    lane_border="#000000",
    stage_style="rounded",
    won_fill="#ffffff",
    lost_fill="#ffffff",
    other_fill="#ffffff",
    touchpoint_fill="#ffffff",
    header_fill="#ffffff",
    header_text="#000000",
    text="#000000",
    edge="#000000",
)

BUILTIN_THEMES: dict[str, Theme] = {
    "default": Theme(),
    "mono": Theme.model_validate(_MONO),
    "dark": Theme.model_validate(_DARK),
    "print": Theme.model_validate(_PRINT),
}


def load_theme(spec: str | os.PathLike[str] | Theme | None) -> Theme:
    """A built-in theme by name, a theme TOML file by path, or a ``Theme`` as it is."""
    if spec is None:
        return BUILTIN_THEMES["default"]
    if isinstance(spec, Theme):
        return spec
    name = os.fspath(spec)
    if name in BUILTIN_THEMES:
        return BUILTIN_THEMES[name]
    path = Path(name)
    if path.suffix.lower() != ".toml":
        known = ", ".join(BUILTIN_THEMES)
        raise ThemeError(f"unknown theme '{name}' (built-in: {known}; or a .toml file)")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ThemeError(f"cannot read theme '{name}': {err.strerror}") from None
    except tomllib.TOMLDecodeError as err:
        raise ThemeError(f"{name}: not valid TOML: {err}") from None
    base_name = data.pop("extends", "default")
    if base_name not in BUILTIN_THEMES:
        raise ThemeError(f"{name}: extends unknown theme '{base_name}'")
    base = BUILTIN_THEMES[base_name].model_dump()
    base["name"] = path.stem
    base.update(data)
    try:
        return Theme.model_validate(base)
    except ModelError as err:
        first = err.errors()[0]
        where = ".".join(str(x) for x in first["loc"])
        raise ThemeError(f"{name}: {where}: {first['msg']}") from None
