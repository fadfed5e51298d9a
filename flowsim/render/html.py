"""One self-contained HTML page with both views and a legend: inline SVG, inline CSS, no
scripts and no network (a Content-Security-Policy says so to the browser, too)."""

from __future__ import annotations

import re

from flowsim.model import Process
from flowsim.render.i18n import words
from flowsim.render.options import RenderOptions
from flowsim.render.text import xml_attr, xml_text

__all__ = ["page"]

#: Nothing may load or run: inline styles and data: images only.
_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_PROLOG = re.compile(r"^\s*<\?xml[^>]*\?>\s*(<!DOCTYPE[^>]*>\s*)?", re.S)


def _inline(svg: bytes) -> str:
    """An SVG document as an element to inline in HTML (no XML prolog or DOCTYPE)."""
    return _PROLOG.sub("", svg.decode("utf-8")).strip()


def page(process: Process, options: RenderOptions, flowchart_svg: bytes, journey_svg: bytes) -> str:
    """The HTML page: title, flowchart, journey map, legend."""
    t, w = options.theme, words(options.lang)
    lang = "zh-CN" if options.lang == "zh" else "en"
    legend = [
        (
            f'<span class="sw" style="border:2px solid {xml_attr(t.entry_border)}"></span>',
            w["entry"],
        ),
        (
            f'<span class="sw" style="border:1px solid {xml_attr(t.stage_border)}"></span>',
            w["stage"],
        ),
        (
            f'<span class="sw" style="background:{xml_attr(t.won_fill)};'
            f'border:1px solid {xml_attr(t.won_border)}"></span>',
            w["won"],
        ),
        (
            f'<span class="sw" style="background:{xml_attr(t.lost_fill)};'
            f'border:1px solid {xml_attr(t.lost_border)}"></span>',
            w["lost"],
        ),
        (
            f'<span class="ln" style="border-top:2px dashed {xml_attr(t.edge_rework)}"></span>',
            w["rework"],
        ),
        (
            f'<span class="ln" style="border-top:2px solid {xml_attr(t.edge)}"></span>',
            "% = " + w["conversion"],
        ),
    ]
    items = "".join(f"<li>{sw} {xml_text(label)}</li>" for sw, label in legend)
    title = xml_text(process.name)
    return f"""<!DOCTYPE html>
<html lang="{lang}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="flowsim">
<title>{title}</title>
<style>
body {{ margin: 24px; background: {xml_attr(t.background)}; color: {xml_attr(t.text)};
  font-family: {xml_attr(t.font)}; }}
h1 {{ font-size: 22px; margin: 0 0 16px; }}
h2 {{ font-size: 17px; margin: 28px 0 8px; }}
figure {{ margin: 0; overflow-x: auto; }}
figure svg {{ max-width: 100%; height: auto; }}
ul.legend {{ list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 8px 20px;
  font-size: 13px; color: {xml_attr(t.muted_text)}; }}
.sw {{ display: inline-block; width: 22px; height: 12px; border-radius: 3px;
  vertical-align: middle; }}
.ln {{ display: inline-block; width: 26px; vertical-align: middle; }}
@media print {{ body {{ margin: 0; }} figure {{ overflow: visible; break-inside: avoid; }} }}
</style>
</head>
<body>
<h1>{title}</h1>
<h2>{xml_text(w["flowchart"])}</h2>
<figure id="flowchart">
{_inline(flowchart_svg)}
</figure>
<ul class="legend">{items}</ul>
<h2>{xml_text(w["journey"])}</h2>
<figure id="journey">
{_inline(journey_svg)}
</figure>
</body>
</html>
"""
