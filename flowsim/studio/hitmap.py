"""Where each stage, outcome, transition and lane of a flowchart is, and where it was written.

The studio shows the picture as an image (it cannot run script, whatever the labels say), so
the page cannot ask the picture what was clicked. Instead the render answer carries this hit
map: for every element of the flowchart SVG that stands for something in the text, its box in
the SVG's own coordinates (the ``viewBox``), for a transition also the points of its line, and
the span of the text it came from. The page turns a click into SVG coordinates and looks the
point up here. Only numbers, ids and spans are sent, never markup.

The SVG is the renderer's own output (Graphviz's, for the flowchart): the groups are found by
the ids and titles flowsim gives them (``stage-3``, ``outcome-1``; ``outcome-1_l0`` for lane
0's copy of an outcome drawn once per lane, ``outcome-1_l0_r2`` for its copy in row 2 of a
wrapped flowchart; ``lane-0``; edges titled ``s0->s1``, ``s0->o1_l0`` to a copy, and
``s1->join0`` for a branch's transition into the node a parallel block joins into, drawn to
the block's join bar). A lane is known by the name written in it, as a wrapped flowchart
draws a lane once per row it is used in.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import Any

from flowsim.diagnostics import Span
from flowsim.graph import phase_order
from flowsim.model import Process

__all__ = ["hit_map"]

_SVG = "{http://www.w3.org/2000/svg}"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
_TRANSLATE = re.compile(r"translate\(\s*(-?[\d.]+)[\s,]+(-?[\d.]+)\s*\)")
_STAGE = re.compile(r"stage-(\d+)$")
_COPY = r"(?:_[lr]\d+)*"  # an outcome's copy per lane (and row): o1_l0, o1_l0_r2
_OUTCOME = re.compile(rf"outcome-(\d+){_COPY}$")
_LANE = re.compile(r"lane-(\d+)$")
_NODE = re.compile(rf"([so])(\d+){_COPY}$")
_JOIN = re.compile(r"join(\d+)$")
_PHASE = re.compile(r"phase-(\d+)$")
_CARD = re.compile(r"tp-(\d+)-(\d+)$")

Point = tuple[float, float]


def _points(element: ET.Element) -> list[Point]:
    """The coordinates an element's shape passes through (control points for curves)."""
    tag = element.tag.removeprefix(_SVG)
    if tag in ("path", "polygon", "polyline"):
        raw = element.get("d" if tag == "path" else "points", "")
        nums = [float(n) for n in _NUMBER.findall(raw)]
        return list(zip(nums[0::2], nums[1::2], strict=False))
    if tag == "rect":
        x, y = float(element.get("x", 0)), float(element.get("y", 0))
        return [(x, y), (x + float(element.get("width", 0)), y + float(element.get("height", 0)))]
    if tag in ("ellipse", "circle"):
        cx, cy = float(element.get("cx", 0)), float(element.get("cy", 0))
        rx = float(element.get("rx", element.get("r", 0)))
        ry = float(element.get("ry", element.get("r", 0)))
        return [(cx - rx, cy - ry), (cx + rx, cy + ry)]
    if tag == "text":
        x, y = float(element.get("x", 0)), float(element.get("y", 0))
        size = float(element.get("font-size", 10))
        width = 0.6 * size * len(element.text or "")  # a label's box, roughly: enough to hit
        left = x - width / 2 if element.get("text-anchor") == "middle" else x
        return [(left, y - size), (left + width, y + size * 0.25)]
    return []


def _box(points: list[Point], shift: Point) -> dict[str, float]:
    xs = [p[0] + shift[0] for p in points]
    ys = [p[1] + shift[1] for p in points]
    x, y = min(xs), min(ys)
    return {
        "x": round(x, 2),
        "y": round(y, 2),
        "w": round(max(xs) - x, 2),
        "h": round(max(ys) - y, 2),
    }


def _span(span: Span | None, here: str) -> dict[str, int] | None:
    """The span as the page's editor counts (``None`` when it is in another file)."""
    if span is None or span.file != here:
        return None
    return {
        "line": span.line,
        "column": span.column,
        "end_line": span.end_line,
        "end_column": span.end_column,
    }


def _groups(root: ET.Element) -> Iterator[tuple[ET.Element, Point]]:
    """Every ``<g>`` with an id, with the translation its ancestors apply."""

    def walk(node: ET.Element, shift: Point) -> Iterator[tuple[ET.Element, Point]]:
        match = _TRANSLATE.search(node.get("transform", ""))
        if match:
            shift = (shift[0] + float(match.group(1)), shift[1] + float(match.group(2)))
        if node.tag == f"{_SVG}g" and node.get("id"):
            yield node, shift
        for child in node:
            yield from walk(child, shift)

    yield from walk(root, (0.0, 0.0))


def _shape(group: ET.Element, *, texts: bool = True) -> list[Point]:
    return [
        p
        for e in group.iter()
        if e is not group and (texts or e.tag != f"{_SVG}text")
        for p in _points(e)
    ]


def _view_box(root: ET.Element) -> list[float]:
    nums = [float(n) for n in _NUMBER.findall(root.get("viewBox", ""))]
    if len(nums) != 4:
        raise ValueError("the SVG has no viewBox")
    return nums


def _node(process: Process, ident: str) -> tuple[str, Any] | None:
    """The model element a stage or outcome group stands for, by the group's id."""
    if m := _STAGE.match(ident):
        i = int(m.group(1))
        return ("stage", process.stages[i]) if i < len(process.stages) else None
    if m := _OUTCOME.match(ident):
        i = int(m.group(1))
        return ("outcome", process.outcomes[i]) if i < len(process.outcomes) else None
    return None


def _edge(process: Process, group: ET.Element, seen: dict[tuple[str, ...], int]) -> Any:
    """The transition an edge group draws, from its title ``s0->s1`` (``None``: not one)."""
    title = group.findtext(f"{_SVG}title") or ""
    ends = title.split("->")
    if len(ends) != 2:
        return None
    nodes = [_end(process, ends[0].strip()), _end(process, ends[1].strip(), head=True)]
    if None in nodes:
        return None
    key = (str(nodes[0]), str(nodes[1]))
    found = [t for t in process.transitions if (t.source, t.target) == key]
    n = seen.get(key, 0)  # two transitions between the same stages: in the order written
    seen[key] = n + 1
    return found[n] if n < len(found) else None


def _end(process: Process, end: str, *, head: bool = False) -> str | None:
    """The model id an edge's end stands for: a stage, an outcome (or a copy of one), or,
    at the ``head`` end, a join bar as the node its block joins into (``None``: a bar's
    own edge, or unknown)."""
    if m := _NODE.match(end):
        pool = process.stages if m.group(1) == "s" else process.outcomes
        i = int(m.group(2))
        return pool[i].id if i < len(pool) else None
    if head and (m := _JOIN.match(end)) and int(m.group(1)) < len(process.parallels):
        return process.parallels[int(m.group(1))].join
    return None


def _lane(process: Process, group: ET.Element, lanes: str) -> Any:
    """The department or role a lane stands for, by the name written in it."""
    label = "".join(group.itertext()).replace(group.findtext(f"{_SVG}title") or "", "").strip()
    pool = process.departments if lanes == "department" else process.roles
    return next((x for x in pool if x.display == label), None)


def journey_hit_map(svg: str, process: Process, here: str) -> dict[str, Any]:
    """The journey map's phase headers (as their stages) and touchpoint cards, as
    :func:`hit_map` gives the flowchart's elements (kinds ``stage`` and ``touchpoint``)."""
    root = ET.fromstring(svg)
    by_id = {s.id: s for s in process.stages}
    phases = [by_id[i] for i in phase_order(process) if i in by_id]
    items: list[dict[str, Any]] = []
    for group, shift in _groups(root):
        ident = group.get("id", "")
        item: dict[str, Any] | None = None
        if (m := _PHASE.match(ident)) and int(m.group(1)) < len(phases):
            stage = phases[int(m.group(1))]
            item = {"kind": "stage", "id": stage.id, "span": _span(stage.span, here)}
        elif (m := _CARD.match(ident)) and int(m.group(1)) < len(phases):
            cards = phases[int(m.group(1))].touchpoints
            if int(m.group(2)) < len(cards):
                card = cards[int(m.group(2))]
                item = {"kind": "touchpoint", "id": card.name, "span": _span(card.span, here)}
        points = _shape(group, texts=False)
        if item is not None and points:
            items.append(item | _box(points, shift))
    return {"view_box": _view_box(root), "items": items}


def hit_map(svg: str, process: Process, here: str, *, lanes: str = "department") -> dict[str, Any]:
    """The flowchart ``svg``'s clickable elements with their boxes and source spans.

    Returns ``{"view_box": [x, y, w, h], "items": [...]}``; each item has ``kind`` (stage,
    outcome, edge, lane), ``id`` (the model's id; ``source -> target`` for an edge), a box
    ``x y w h`` in viewBox units, ``points`` for an edge (its line, for a precise hit) and
    ``span`` (where the text declares it; ``null`` when it is not in ``here``, the file
    being edited, but in a file it includes).
    """
    root = ET.fromstring(svg)
    items: list[dict[str, Any]] = []
    seen: dict[tuple[str, ...], int] = {}
    for group, shift in _groups(root):
        ident = group.get("id", "")
        classes = group.get("class", "").split()
        item: dict[str, Any] | None = None
        if "edge" in classes:
            tr = _edge(process, group, seen)
            if tr is not None:
                line = [
                    (round(x + shift[0], 2), round(y + shift[1], 2))
                    for e in group.iter(f"{_SVG}path")
                    for x, y in _points(e)
                ]
                item = {"kind": "edge", "id": f"{tr.source} -> {tr.target}", "points": line}
                item["span"], points = _span(tr.span, here), _shape(group)
        elif (node := _node(process, ident)) is not None:
            item = {"kind": node[0], "id": node[1].id, "span": _span(node[1].span, here)}
            points = _shape(group, texts=False)
        elif _LANE.match(ident) and (owner := _lane(process, group, lanes)) is not None:
            item = {"kind": "lane", "id": owner.id, "span": _span(owner.span, here)}
            points = _shape(group, texts=False)
        if item is not None and points:
            items.append(item | _box(points, shift))
    return {"view_box": _view_box(root), "items": items}
