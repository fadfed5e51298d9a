"""Geometry of a rendered picture: its size, its text, its edges; crossings and overlaps.

Used by ``bench_layout.py`` and by the layout tests. Three sources give the same record
(:class:`Geometry`): Graphviz's ``-Tjson`` output (exact text widths as Graphviz measured
them), flowsim's own journey-map SVG (text widths estimated with the journey map's own,
conservative estimator), and a browser's measurements of a Mermaid SVG.

* A **label overlap** is a text box that intersects a text box of another object (an edge
  label over another edge's label, over a stage's text or over a lane's name), or an edge
  label that sits on a node's box. Lines of one label never count against each other.
* An **edge crossing** is a point where two edges' drawn paths properly cross, away from
  either edge's ends (edges that meet at a shared node do not count).
"""

from __future__ import annotations

import itertools
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any

import numpy as np

PAGE_PX = 1600.0
PT_PX = 96.0 / 72.0
EPS = 0.5  # points of overlap that are rounding, not overlap


@dataclass(frozen=True)
class Box:
    """An axis-aligned box ``(x0, y0, x1, y1)`` owned by one object (``owner``)."""

    owner: str
    x0: float
    y0: float
    x1: float
    y1: float
    text: str = ""
    size: float = 0.0


@dataclass
class Geometry:
    """What a picture holds, in its own user units (``unit_px`` pixels each)."""

    width: float
    height: float
    unit_px: float
    texts: list[Box] = field(default_factory=list)
    edge_labels: list[Box] = field(default_factory=list)
    nodes: list[Box] = field(default_factory=list)
    paths: list[list[tuple[float, float]]] = field(default_factory=list)

    @property
    def page_scale(self) -> float:
        """The factor that fits the picture to a 1,600 px page (never enlarged)."""
        return min(1.0, PAGE_PX / (self.width * self.unit_px))

    @property
    def min_text_px(self) -> float:
        """The smallest text, in pixels, once fitted to the page."""
        sizes = [b.size for b in [*self.texts, *self.edge_labels] if b.size > 0]
        return min(sizes, default=0.0) * self.unit_px * self.page_scale

    @property
    def fitted(self) -> tuple[float, float]:
        """Width and height in pixels once fitted to the page."""
        s = self.unit_px * self.page_scale
        return self.width * s, self.height * s


def _intersects(a: Box, b: Box) -> bool:
    return min(a.x1, b.x1) - max(a.x0, b.x0) > EPS and min(a.y1, b.y1) - max(a.y0, b.y0) > EPS


def label_overlaps(g: Geometry) -> list[tuple[Box, Box]]:
    """Pairs of text boxes of different objects that intersect, and edge labels on nodes."""
    boxes = sorted([*g.texts, *g.edge_labels], key=lambda b: b.x0)
    found: list[tuple[Box, Box]] = []
    for i, a in enumerate(boxes):  # sweep along x
        for b in boxes[i + 1 :]:
            if b.x0 >= a.x1:
                break
            if a.owner != b.owner and _intersects(a, b):
                found.append((a, b))
    for lab in g.edge_labels:
        found += [(lab, n) for n in g.nodes if n.owner != lab.owner and _intersects(lab, n)]
    return found


def _segments(paths: list[list[tuple[float, float]]]) -> tuple[np.ndarray, np.ndarray]:
    """Every path's segments as rows (x0, y0, x1, y1), and the path each belongs to."""
    rows: list[tuple[float, float, float, float]] = []
    owner: list[int] = []
    for k, pts in enumerate(paths):
        for (ax, ay), (bx, by) in itertools.pairwise(pts):
            if (ax, ay) != (bx, by):
                rows.append((ax, ay, bx, by))
                owner.append(k)
    return np.array(rows, dtype=float).reshape(-1, 4), np.array(owner, dtype=int)


def edge_crossings(paths: list[list[tuple[float, float]]], end_gap: float = 4.0) -> int:
    """Proper crossings between different paths, not within ``end_gap`` of a path's ends."""
    seg, owner = _segments(paths)
    ends = np.array([[p[0], p[-1]] for p in paths], dtype=float).reshape(-1, 2, 2)
    count = 0
    for i in range(len(seg)):
        x0, y0, x1, y1 = seg[i]
        j = np.arange(i + 1, len(seg))
        j = j[owner[j] != owner[i]]
        s = seg[j]
        dx, dy = x1 - x0, y1 - y0
        ex, ey = s[:, 2] - s[:, 0], s[:, 3] - s[:, 1]
        den = dx * ey - dy * ex
        ok = np.abs(den) > 1e-9
        den = np.where(ok, den, 1.0)
        t = ((s[:, 0] - x0) * ey - (s[:, 1] - y0) * ex) / den
        u = ((s[:, 0] - x0) * dy - (s[:, 1] - y0) * dx) / den
        hit = ok & (t > 1e-6) & (t < 1 - 1e-6) & (u > 1e-6) & (u < 1 - 1e-6)
        if not hit.any():
            continue
        px, py = x0 + t[hit] * dx, y0 + t[hit] * dy
        near = np.zeros(px.shape, dtype=bool)
        for k in {int(owner[i]), *(int(v) for v in owner[j][hit])}:
            for ex_, ey_ in ends[k]:
                near |= np.hypot(px - ex_, py - ey_) < end_gap
        count += int((~near).sum())
    return count


# ---- Graphviz -Tjson --------------------------------------------------------------------------


def _bezier(points: list[list[float]], steps: int = 6) -> list[tuple[float, float]]:
    """A piecewise cubic Bézier (Graphviz ``b`` op) as a polyline."""
    out = [(points[0][0], points[0][1])]
    for i in range(0, len(points) - 3, 3):
        p0, p1, p2, p3 = (np.array(points[i + k]) for k in range(4))
        if _collinear(p0, p1, p2, p3):
            out.append((float(p3[0]), float(p3[1])))
            continue
        for s in range(1, steps + 1):
            t = s / steps
            q = (1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t**2 * p2 + t**3 * p3
            out.append((float(q[0]), float(q[1])))
    return out


def _collinear(*pts: np.ndarray) -> bool:
    a, b = pts[0], pts[-1]
    d = b - a
    n = float(np.hypot(*d)) or 1.0
    return all(abs(float(d[0] * (p[1] - a[1]) - d[1] * (p[0] - a[0]))) / n < 0.1 for p in pts)


def _text_boxes(owner: str, ops: list[dict[str, Any]]) -> list[Box]:
    size, out = 14.0, []
    for op in ops:
        if op["op"] == "F":
            size = float(op["size"])
        elif op["op"] == "T" and op["text"].strip():
            x, y = op["pt"]
            w = float(op["width"])
            x0 = {"l": x, "c": x - w / 2, "r": x - w}[op["align"]]
            out.append(Box(owner, x0, y - 0.22 * size, x0 + w, y + 0.78 * size, op["text"], size))
    return out


def _shape_box(owner: str, ops: list[dict[str, Any]]) -> Box | None:
    xs: list[float] = []
    ys: list[float] = []
    for op in ops:
        if op["op"] in ("p", "P", "L", "b", "B"):
            xs += [p[0] for p in op["points"]]
            ys += [p[1] for p in op["points"]]
        elif op["op"] in ("e", "E"):
            cx, cy, rx, ry = op["rect"]
            xs += [cx - rx, cx + rx]
            ys += [cy - ry, cy + ry]
    return Box(owner, min(xs), min(ys), max(xs), max(ys)) if xs else None


def from_graphviz_json(raw: bytes) -> Geometry:
    """The geometry of a Graphviz ``-Tjson`` layout (units: points)."""
    data = json.loads(raw)
    x0, y0, x1, y1 = (float(v) for v in data["bb"].split(","))
    g = Geometry(x1 - x0, y1 - y0, PT_PX)
    g.texts += _text_boxes("graph", data.get("_ldraw_", []))
    for obj in data.get("objects", []):
        owner = f"n:{obj['name']}"
        g.texts += _text_boxes(owner, obj.get("_ldraw_", []))
        is_cluster = "nodes" in obj or obj["name"].startswith("cluster")
        shape = _shape_box(owner, obj.get("_draw_", []))
        if shape is not None and not is_cluster and obj.get("style") != "invis":
            g.nodes.append(shape)
    for k, edge in enumerate(data.get("edges", [])):
        owner = f"e:{k}"
        for key in ("_ldraw_", "_hldraw_", "_tldraw_"):
            g.edge_labels += _text_boxes(owner, edge.get(key, []))
        for op in edge.get("_draw_", []):
            if op["op"] in ("b", "B"):
                g.paths.append(_bezier(op["points"]))
    return g


# ---- flowsim's SVG (the journey map) ---------------------------------------------------------

_SVG = "{http://www.w3.org/2000/svg}"


def from_journey_svg(svg: bytes) -> Geometry:
    """The geometry of a journey-map SVG: its text lines as boxes (units: pixels)."""
    from flowsim.render.journey import text_width

    root = ET.fromstring(svg)
    vb = [float(v) for v in root.get("viewBox", "0 0 0 0").split()]
    g = Geometry(vb[2], vb[3], 1.0)
    base = float(root.get("font-size", "12"))
    for k, el in enumerate(root.iter(f"{_SVG}text")):
        text = "".join(el.itertext())
        size = float(el.get("font-size", base))
        w = text_width(text, size, el.get("font-weight") == "bold")
        x, y = float(el.get("x", 0)), float(el.get("y", 0))
        anchor = el.get("text-anchor", "start")
        x0 = {"start": x, "middle": x - w / 2, "end": x - w}[anchor]
        g.texts.append(Box(f"t:{k}", x0, y - 0.78 * size, x0 + w, y + 0.22 * size, text, size))
    return g


def from_browser(data: dict[str, Any]) -> Geometry:
    """The geometry a browser measured (see ``bench_layout.MEASURE_JS``; units: CSS px)."""
    g = Geometry(float(data["width"]), float(data["height"]), 1.0)
    for t in data["texts"]:
        box = Box(t["owner"], t["x0"], t["y0"], t["x1"], t["y1"], t["text"], t["size"])
        (g.edge_labels if t["kind"] == "edge" else g.texts).append(box)
    g.nodes += [Box(n["owner"], n["x0"], n["y0"], n["x1"], n["y1"]) for n in data["nodes"]]
    g.paths += [[(float(x), float(y)) for x, y in p] for p in data["paths"]]
    return g
