"""A .flow file drawn for a documentation page: inline SVG, the files it read, located errors.

The Sphinx directive (:mod:`flowsim.sphinx`) and the Markdown extension (:mod:`flowsim.mkdocs`)
both go through here, so a picture takes the same options in both, a bad file is reported the
same way (compiler-style ``file:line:col`` lines, never a traceback) and the markup is the same.

Several pictures can share one HTML page, and Graphviz names its elements ``graph0``, ``e1`` and
so on while the journey map's ``aria-labelledby`` points at its own ``<title>`` id: inlined
as-is, two pictures would have clashing ids and one picture's label would name the other's
title. :func:`inline_svg` therefore puts a page-unique prefix on every id and reference.
"""

from __future__ import annotations

import difflib
import html
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowsim.api import check_file
from flowsim.diagnostics import Diagnostic
from flowsim.errors import FlowsimError
from flowsim.overlay import COLOR_METRICS, Overlay
from flowsim.render import (
    VIEWS,
    GraphvizError,
    RenderError,
    ThemeError,
    load_theme,
    render_with_notes,
)
from flowsim.render import options as render_options
from flowsim.render.frame import framed
from flowsim.render.i18n import words

__all__ = [
    "CHOICES",
    "OPTIONS",
    "EmbedError",
    "Picture",
    "Spec",
    "draw",
    "figure_html",
    "inline_svg",
    "slug",
    "suggest",
    "unique_id",
]

#: Options with a fixed set of values (shared by the Sphinx directive and the Markdown fence).
CHOICES: dict[str, tuple[str, ...]] = {
    "view": VIEWS,
    "color-by": tuple(COLOR_METRICS),
    "lang": ("en", "zh"),
    "detail": ("none", "brief", "full"),
    "direction": ("LR", "TB"),
    "lanes": ("department", "role", "none"),
}

#: Every option a picture takes, with what it means (for messages and the docs).
OPTIONS: dict[str, str] = {
    "view": "flowchart or journey",
    "scenario": "draw the process as this scenario changes it",
    "overlay": "metrics overlay JSON (flowsim metrics/simulate --format overlay)",
    "color-by": ", ".join(COLOR_METRICS) + " (needs overlay)",
    "theme": "default, mono, dark, print or a .toml file",
    "lang": "en or zh (default: the process's own language)",
    "detail": "none, brief or full: what a flowchart stage shows",
    "direction": "LR or TB: flowchart left to right or top to bottom",
    "lanes": "department, role or none: flowchart lanes",
    "touchpoints": "flowchart notes with each stage's touchpoints",
    "alt": "text for screen readers and text-only output",
    "caption": "caption under the picture",
}


class EmbedError(FlowsimError):
    """The picture cannot be drawn; ``messages`` are one-line, located where possible."""

    def __init__(self, messages: list[str]) -> None:
        self.messages = messages
        super().__init__("\n".join(messages))


@dataclass(frozen=True)
class Spec:
    """What to draw. Paths are resolved by the caller (each tool has its own convention)."""

    path: str
    view: str = "flowchart"
    scenario: str | None = None
    overlay: str | None = None
    color_by: str | None = None
    theme: str | None = None
    lang: str | None = None
    detail: str | None = None
    direction: str | None = None
    lanes: str | None = None
    touchpoints: bool = False

    def __post_init__(self) -> None:
        problems = []
        for option, values in CHOICES.items():
            value = getattr(self, option.replace("-", "_"))
            if value is not None and value not in values:
                problems.append(f"unknown {option} {value!r}: use {', '.join(values)}")
        if self.color_by is not None and self.overlay is None:
            problems.append("color-by needs an overlay (the figures to colour by)")
        if problems:
            raise EmbedError(problems)

    def render_fields(self) -> dict[str, Any]:
        """The :class:`~flowsim.render.RenderOptions` fields this spec sets (others default)."""
        fields = {"detail": self.detail, "direction": self.direction, "lanes": self.lanes}
        return {k: v for k, v in fields.items() if v is not None} | {
            "touchpoints": self.touchpoints
        }


@dataclass(frozen=True)
class Picture:
    """A drawn picture: the bytes, words for its default alt text, and every file it read."""

    data: bytes
    alt: str
    files: tuple[str, ...]


def _located(diag: Diagnostic) -> str:
    """One line a build log can show: ``file:line:col: error[E104]: message (hint: ...)``."""
    return f"{diag} (hint: {diag.hint})" if diag.hint else str(diag)


def _overlay(path: str) -> Overlay:
    try:
        return Overlay.load(path)
    except OSError as err:
        raise EmbedError([f"{path}: cannot read the overlay: {err.strerror}"]) from None
    except ValueError as err:  # bad JSON, or JSON that is not an overlay (pydantic)
        reason = str(err).splitlines()
        detail = "; ".join(line.strip() for line in reason[:3])
        raise EmbedError([f"{path}: not a flowsim overlay: {detail}"]) from None


def draw(spec: Spec, *, format: str = "svg") -> Picture:
    """Check, load and draw ``spec``; every problem is an :class:`EmbedError`, not a traceback.

    ``files`` lists the .flow file, the files it includes, the overlay and a theme file, which is
    what a documentation tool must watch to redraw the page when one of them changes.
    """
    result = check_file(spec.path)
    files = [spec.path, *(f for f in result.sources if f != spec.path)]
    if result.process is None or result.errors:
        raise EmbedError([_located(d) for d in result.errors])
    process = result.process
    if spec.scenario is not None:
        try:
            process = process.with_scenario(spec.scenario)
        except KeyError as err:
            raise EmbedError([f"{spec.path}: {err.args[0]}"]) from None
    overlay = None
    if spec.overlay is not None:
        files.append(spec.overlay)
        overlay = _overlay(spec.overlay)
    if spec.theme is not None and spec.theme.lower().endswith(".toml"):
        files.append(spec.theme)
    try:
        opts = render_options(
            view=spec.view,
            format=format,
            theme=load_theme(spec.theme),
            overlay=overlay,
            color_by=spec.color_by,
            lang=spec.lang,
            process=process,
            **spec.render_fields(),
        )
        data = render_with_notes(process, opts)[0]
    except ThemeError as err:
        raise EmbedError([str(err)]) from None
    except (GraphvizError, RenderError) as err:
        raise EmbedError([f"{spec.path}: {err}"]) from None
    w = words(opts.lang)
    alt = f"{process.name}: {w[spec.view]}"
    return Picture(data, alt, tuple(os.path.abspath(f) for f in files))


def suggest(name: str, known: list[str]) -> str:
    """``unknown option 'veiw' (did you mean 'view'?)``, for hand-typed option names."""
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (options: {', '.join(known)})"
    return f"unknown option {name!r}{hint}"


_ID = re.compile(r'(?<=\s)id="([^"]*)"')
_URL_REF = re.compile(r"url\(#([^)]*)\)")
_HREF = re.compile(r'((?:xlink:)?href)="#([^"]*)"')
_ARIA = re.compile(r'(aria-(?:labelledby|describedby))="([^"]*)"')


def inline_svg(svg: bytes, prefix: str) -> str:
    """An SVG document as an element to inline in HTML: from ``<svg`` on, ids made page-unique,
    links not underlined by the page's CSS.

    Every ``id`` becomes ``{prefix}--{id}`` and so does every reference to one (``url(#..)``,
    ``href="#.."``, ``aria-labelledby``). Ids made by :func:`unique_id` never contain ``--``,
    so a prefixed id cannot equal another picture's id or prefixed id.
    """
    text = svg.decode("utf-8")
    text = text[max(text.find("<svg"), 0) :].strip()  # no XML prolog, DOCTYPE or comments
    # Graphviz wraps nodes in <a xlink:title> for tooltips; page CSS for links (Sphinx themes
    # underline every <a>) would otherwise underline every label of the picture.
    text = text.replace("<a ", '<a style="text-decoration:none" ')
    text = _ID.sub(lambda m: f'id="{prefix}--{m.group(1)}"', text)
    text = _URL_REF.sub(lambda m: f"url(#{prefix}--{m.group(1)})", text)
    text = _HREF.sub(lambda m: f'{m.group(1)}="#{prefix}--{m.group(2)}"', text)
    return _ARIA.sub(
        lambda m: m.group(1) + '="' + " ".join(f"{prefix}--{r}" for r in m.group(2).split()) + '"',
        text,
    )


def slug(text: str) -> str:
    """Lower-case ASCII letters, digits and single hyphens (like docutils' ``make_id``)."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def unique_id(path: str, view: str, taken: set[str] | dict[str, object]) -> str:
    """A stable id for a picture: ``flowsim-<file stem>-<view>``, then ``-2``, ``-3`` on a page
    that shows the same file and view again. Stable ids keep links and diffs of built pages
    from changing on every build."""
    base = slug(f"flowsim-{Path(path).stem}-{view}")
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def figure_html(
    svg: bytes,
    *,
    element_id: str,
    view: str,
    alt: str,
    caption: str | None = None,
    tag: str = "figure",
    classes: Sequence[str] = (),
    own_id: bool = True,
) -> str:
    """The picture as HTML: a ``<figure>`` (or ``tag``) holding the inline SVG and a caption.

    The SVG scales down to the page's column, keeping its aspect ratio and its text as text;
    one wider than :data:`~flowsim.render.frame.WIDE_PX` opens full size on a click
    (:func:`flowsim.render.frame.framed`). ``role="img"`` with the alt text is what screen
    readers announce. ``element_id`` prefixes the SVG's ids; ``own_id=False`` leaves it off
    the element itself (when a surrounding figure carries it).
    """
    body = framed(inline_svg(svg, element_id), toggle_id=f"{element_id}--full", alt=alt)
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    names = html.escape(" ".join(["flowsim", f"flowsim-{view}", *classes]))
    ident = f' id="{html.escape(element_id)}"' if own_id else ""
    return f'<{tag} class="{names}"{ident}>{body}{cap}</{tag}>'
