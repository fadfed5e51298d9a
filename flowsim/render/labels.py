"""Edge labels that overlap nothing: after Graphviz routes the flowchart's edges, a label that
sits on a node, on a lane's name or on another edge's label is moved along its own edge.

Graphviz's orthogonal router does not place edge labels itself ("Orthogonal edges do not
currently handle edge labels"): ``neato -n2`` puts each at its edge's middle, and where edges
run close (a lane's edges into its copy of ``lost``) labels can land on nodes or on each
other. The routed layout (``-Tjson``) gives every label's box with Graphviz's own text widths;
labels are taken in edge order, and one that collides is moved to the first free spot beside
its edge at 50%, 40%, 60%, 30%, 70%... of the edge's length. The routes and the label positions
are then written into the DOT (``pos``, ``lp``), so the drawing pass does not route again.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Any, NamedTuple

__all__ = ["place_labels", "with_routes"]

_MARGIN = 1.0  # points kept free around a label
_FRACTIONS = (0.5, 0.4, 0.6, 0.3, 0.7, 0.2, 0.8, 0.1, 0.9)

Rect = tuple[float, float, float, float]


class Route(NamedTuple):
    """An edge as Graphviz routed it: its ``pos`` and its label position (or None)."""

    pos: str
    lp: str | None


def _overlap(a: Rect, b: Rect) -> bool:
    return min(a[2], b[2]) - max(a[0], b[0]) > 0 and min(a[3], b[3]) - max(a[1], b[1]) > 0


def _text_rect(ops: list[dict[str, Any]]) -> Rect | None:
    """The box around the text a Graphviz draw list writes (None when it writes none)."""
    size, xs, ys = 14.0, [], []
    for op in ops:
        if op["op"] == "F":
            size = float(op["size"])
        elif op["op"] == "T":
            x, y = (float(v) for v in op["pt"])
            w = float(op["width"])
            x0 = {"l": x, "c": x - w / 2, "r": x - w}[op["align"]]
            xs += [x0, x0 + w]
            ys += [y - 0.25 * size, y + 0.8 * size]
    if not xs:
        return None
    return (min(xs) - _MARGIN, min(ys) - _MARGIN, max(xs) + _MARGIN, max(ys) + _MARGIN)


def _shape_rect(ops: list[dict[str, Any]]) -> Rect | None:
    xs: list[float] = []
    ys: list[float] = []
    for op in ops:
        if op["op"] in ("p", "P", "L", "b", "B"):
            xs += [float(p[0]) for p in op["points"]]
            ys += [float(p[1]) for p in op["points"]]
        elif op["op"] in ("e", "E"):
            cx, cy, rx, ry = (float(v) for v in op["rect"])
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
    return (min(xs), min(ys), max(xs), max(ys)) if xs else None


def _obstacles(data: dict[str, Any]) -> list[Rect]:
    """Node boxes and the lane names: what no edge label may cover."""
    out: list[Rect] = []
    for obj in data.get("objects", []):
        if obj["name"].startswith("cluster"):
            rect = _text_rect(obj.get("_ldraw_", []))
        else:
            rect = _shape_rect(obj.get("_draw_", [])) or _text_rect(obj.get("_ldraw_", []))
        if rect is not None:
            out.append(rect)
    return out


def _path(edge: dict[str, Any]) -> list[tuple[float, float]]:
    """The edge's control points in order (orthogonal routes: the corners, repeated)."""
    return [
        (float(p[0]), float(p[1]))
        for op in edge.get("_draw_", [])
        if op["op"] in ("b", "B")
        for p in op["points"]
    ]


def _candidates(path: list[tuple[float, float]], w: float, h: float) -> list[Rect]:
    """Label boxes beside the path at :data:`_FRACTIONS` of its length, both sides."""
    steps = [math.dist(a, b) for a, b in itertools.pairwise(path)]
    total = sum(steps)
    out: list[Rect] = []
    for f in _FRACTIONS if total > 0 else ():
        at, i = f * total, 0
        while i < len(steps) - 1 and at > steps[i]:
            at -= steps[i]
            i += 1
        (ax, ay), (bx, by) = path[i], path[i + 1]
        t = at / steps[i] if steps[i] else 0.0
        x, y = ax + t * (bx - ax), ay + t * (by - ay)
        if abs(bx - ax) >= abs(by - ay):  # along a horizontal run: above, then below
            centres = [(x, y + h / 2 + 2), (x, y - h / 2 - 2)]
        else:  # along a vertical run: right, then left
            centres = [(x + w / 2 + 2, y), (x - w / 2 - 2, y)]
        out += [(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2) for cx, cy in centres]
    return out


def place_labels(routed: bytes, source: str) -> dict[str, Route]:
    """Every edge's route from Graphviz's ``-Tjson`` of the pinned flowchart ``source``, by
    edge id, with labels that collided moved beside their edge where they collide with
    nothing; in the coordinates of ``source`` (Graphviz shifts its output to its bounding
    box, so the routes are shifted back)."""
    data = json.loads(routed)
    dx, dy = _offset(source, data)
    obstacles = _obstacles(data)
    placed: list[Rect] = []
    routes: dict[str, Route] = {}
    for edge in data.get("edges", []):
        rect = _text_rect(edge.get("_ldraw_", []))
        lp = edge.get("lp")
        if rect is not None and lp is not None:
            taken = obstacles + placed
            if any(_overlap(rect, o) for o in taken):
                w, h = rect[2] - rect[0], rect[3] - rect[1]
                free = (c for c in _candidates(_path(edge), w, h) if not _collides(c, taken))
                new = next(free, rect)
                rect, lp = new, _moved(lp, new[0] - rect[0], new[1] - rect[1])
            placed.append(rect)
            lp = _moved(lp, -dx, -dy)
        if "id" in edge and "pos" in edge:
            pos = " ".join(_point(p, -dx, -dy) for p in str(edge["pos"]).split())
            routes[str(edge["id"])] = Route(pos, lp)
    return routes


def _moved(point: str, dx: float, dy: float) -> str:
    x, y = (float(v) for v in point.split(","))
    return f"{x + dx:.2f},{y + dy:.2f}"


def _point(text: str, dx: float, dy: float) -> str:
    """One point of a Graphviz ``pos`` (``x,y``, or ``e,x,y`` / ``s,x,y``) moved."""
    if text[:2] in ("e,", "s,"):
        return text[:2] + _moved(text[2:], dx, dy)
    return _moved(text, dx, dy)


_NODE_POS = re.compile(r'^\s*(\w+) \[.*?\bpos="([-\d.]+),([-\d.]+)"', re.M)


def _offset(source: str, data: dict[str, Any]) -> tuple[float, float]:
    """How far Graphviz moved the pinned nodes of ``source`` in its output."""
    given = {m.group(1): (float(m.group(2)), float(m.group(3))) for m in _NODE_POS.finditer(source)}
    for obj in data.get("objects", []):
        if obj.get("name") in given and "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            gx, gy = given[obj["name"]]
            return x - gx, y - gy
    return 0.0, 0.0


def _collides(rect: Rect, others: list[Rect]) -> bool:
    return any(_overlap(rect, o) for o in others)


_EDGE_ID = re.compile(r'id="(e\d+)"\]$', re.M)


def with_routes(source: str, routes: dict[str, Route]) -> str:
    """The pinned DOT with every edge's route and label position written in, so Graphviz
    draws it without routing again."""

    def fill(m: re.Match[str]) -> str:
        route = routes.get(m.group(1))
        if route is None:
            return m.group(0)
        lp = f', lp="{route.lp}"' if route.lp is not None else ""
        return f'id="{m.group(1)}", pos="{route.pos}"{lp}]'

    return _EDGE_ID.sub(fill, source)
