"""An inline SVG picture in an HTML page: scaled to its column, opened full size on a click.

Every page that inlines a flowsim picture (the Sphinx directive, the MkDocs fence, Jupyter's
``_repr_html_``, the report page) wraps it here, so a picture wider than the page's column
is scaled down to the column (aspect ratio kept; still SVG, so its text stays text: it can be
selected, searched and read by a screen reader) instead of being cut off at the column's
edge. A picture wider than :data:`WIDE_PX` is a label for a hidden check box: a click shows it
at full size over the page (scrolling both ways), a second click closes it. This is CSS
only, no script, so it works under a page policy that forbids scripts (the report's) and in
documentation tools that strip them. A click that ends a text selection does not toggle it
(browsers do not activate a label on a selection), so the text can still be copied.

This wrapper is no part of the layout: the picture's own markup is left as the renderer wrote
it, with one ``style`` attribute added to the root ``<svg>`` (which also scales an SVG shown
where the page's ``<style>`` is stripped, as some notebook viewers do).
"""

from __future__ import annotations

import html
import re

__all__ = ["CSS", "WIDE_PX", "framed", "natural_width", "scalable"]

#: pictures wider than this (CSS px at full size) open full size on a click
WIDE_PX = 600.0

#: the wrapper's rules; every selector is under a flowsim class, so the page's own styles
#: are left alone (``!important`` beats the scaling style on the ``<svg>`` itself)
CSS = (
    ".flowsim-svg{display:block;max-width:100%}"
    ".flowsim-svg>svg{display:block;max-width:100%;height:auto}"
    "label.flowsim-svg{cursor:zoom-in}"
    ".flowsim-full{position:absolute;opacity:0;width:1px;height:1px;margin:0;pointer-events:none}"
    ".flowsim-full:focus-visible+.flowsim-svg{outline:2px solid #2f6feb;outline-offset:2px}"
    ".flowsim-full:checked+.flowsim-svg{position:fixed;inset:0;z-index:2147483647;"
    "max-width:none;overflow:auto;background:#fff;padding:16px;cursor:zoom-out}"
    ".flowsim-full:checked+.flowsim-svg>svg{max-width:none!important;margin:0 auto}"
)

_SVG_TAG = re.compile(r"<svg\b[^>]*>")
_WIDTH = re.compile(r'\swidth="([\d.]+)(px|pt)?"')
_PX_PER_UNIT = {None: 1.0, "px": 1.0, "pt": 4.0 / 3.0}
_STYLE = "display:block;max-width:100%;height:auto"


def natural_width(svg: str) -> float | None:
    """The width in CSS px the root ``<svg>`` asks for (``None``: none or a relative one)."""
    tag = _SVG_TAG.search(svg)
    found = _WIDTH.search(tag.group(0)) if tag else None
    if found is None:
        return None
    return float(found.group(1)) * _PX_PER_UNIT[found.group(2)]


def scalable(svg: str) -> str:
    """``svg`` with the root element styled to shrink to its container, keeping its ratio."""
    tag = _SVG_TAG.search(svg)
    if tag is None or " style=" in tag.group(0):
        return svg
    start = tag.start() + len("<svg")
    return f'{svg[:start]} style="{_STYLE}"{svg[start:]}'


def framed(svg: str, *, toggle_id: str, alt: str, css: bool = True) -> str:
    """The inline ``svg`` markup (no XML prolog) in its frame, as HTML.

    ``toggle_id`` must be unique in the page (the full-size check box's id); ``alt`` is
    what screen readers announce for the picture; ``css=False`` leaves out the ``<style>``
    element (for a page that has :data:`CSS` in its own style sheet).
    """
    label = html.escape(alt)
    body = scalable(svg)
    style = f"<style>{CSS}</style>" if css else ""
    width = natural_width(svg)
    if width is None or width <= WIDE_PX:
        return f'{style}<div class="flowsim-svg" role="img" aria-label="{label}">\n{body}\n</div>'
    toggle = html.escape(toggle_id)
    return (
        f'{style}<input type="checkbox" class="flowsim-full" id="{toggle}"'
        f' aria-label="{label}: show full size">'
        f'<label class="flowsim-svg" for="{toggle}" role="img" aria-label="{label}"'
        ' title="Click to show full size; click again to close">'
        f"\n{body}\n</label>"
    )
