"""The swimlane flowchart: the process as Graphviz DOT, laid out by ``dot``.

Layout rules (and the Graphviz traps they avoid):

* One lane (cluster) per department in declared order (``--lanes role``: per role), holding
  the stages whose owner belongs to it; stages without one go to an "unassigned" lane.
  Clusters do not line up like lanes by themselves: ``newrank=true`` plus an invisible anchor
  node per lane, all in one rank and chained by invisible edges, pins their order.
* Ranks follow the flow: transitions that go back (rework loops, see
  :func:`flowsim.graph.back_edges`) are drawn dashed with ``constraint=false`` so a loop does
  not pull the whole layout backwards.
* An outcome that many stages lead to (``lost``, typically) is drawn once per lane, after the
  last stage of the lane that leads to it, instead of one node with edges from everywhere
  (or one copy per stage): at 50 stages this is what keeps the picture readable.
* Lanes keep their declared order unless another order shortens the transitions that cross
  lanes (fewer edges cutting through the lanes between); see :func:`lane_order`.
* With ``direction="auto"`` (the default) a flow longer than :data:`ROW_MAX` wraps into rows,
  each row repeating the lanes it uses, so a long process stays readable at page width.
* Labels are Graphviz HTML-like tables; long Chinese labels are wrapped by display width
  (they have no spaces to break at). Every user string goes through :mod:`flowsim.render.text`.

Node ids are generated (``s0``, ``o1``...), never user ids, so any label is safe and the output
is deterministic.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from flowsim.graph import back_edges, fork_key, join_gateways, join_key, phase_order
from flowsim.model import Distribution, Outcome, Process, Stage
from flowsim.render.graphviz import GraphvizError, run_dot
from flowsim.render.i18n import words
from flowsim.render.journey import text_width
from flowsim.render.labels import place_labels, with_routes
from flowsim.render.options import RenderOptions
from flowsim.render.text import dot_string, html_label_text, truncate, wrap
from flowsim.render.theme import Theme

__all__ = ["lane_order", "pinned_dot", "render", "route", "to_dot"]

_T = TypeVar("_T")

LABEL_WIDTH = 22  # display columns per line of a stage label (11 Chinese characters)
DETAIL_WIDTH = 30
SPLIT_AT = 3  # an outcome with this many source stages or more is drawn once per lane


def _pct(p: float) -> str:
    text = f"{p * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def _hours(h: float, w: dict[str, str]) -> str:
    if h >= 24:
        return f"{h / 24:.1f}{w['days']}"
    return f"{h:.1f}{w['hours']}"


def _dist_text(d: Distribution | None, w: dict[str, str], key: str) -> str:
    if d is None:
        return ""
    return f"{w[key]} ≈{_hours(d.expected, w)}"


@dataclass
class Band:
    """One lane in one row of the picture: its box and the nodes drawn in it."""

    lane: int  # index into the lanes; -1 for the nodes no lane holds
    box: tuple[float, float, float, float]
    nodes: list[str]  # DOT ids of its stages, outcomes and outcome copies, in drawing order


@dataclass
class Layout:
    """Pinned geometry in points (Graphviz coordinates, y up): flowsim's lane layout."""

    pos: dict[str, tuple[float, float]]
    bands: list[Band]  # lane boxes, row by row, lanes in order
    bb: tuple[float, float, float, float]
    title: tuple[float, float] | None = None
    copies: dict[tuple[str, str], str] = field(default_factory=dict)  # (outcome, source): node
    sizes: dict[str, tuple[float, float]] = field(default_factory=dict)  # snapped: w, h in pt


@dataclass
class _Lane:
    key: str
    label: str
    members: list[str] = field(default_factory=list)  # node ids in the DOT


class _Builder:
    def __init__(
        self,
        process: Process,
        options: RenderOptions,
        layout: Layout | None = None,
        *,
        sizing: bool = False,
    ):
        self.layout = layout
        self.sizing = sizing  # a pass only for node sizes and ranks: no edge routing
        self.edge_count = 0
        self.p = process
        self.o = options
        self.t: Theme = options.theme
        self.w = words(options.lang)
        self.lines: list[str] = []
        self.ids: dict[str, str] = {}
        for i, s in enumerate(process.stages):
            self.ids[s.id] = f"s{i}"
        for i, o in enumerate(process.outcomes):
            self.ids[o.id] = f"o{i}"
        for i, block in enumerate(process.parallels):
            self.ids[fork_key(block.source)] = f"fork{i}"
            self.ids[join_key(block.source)] = f"join{i}"
        self.back = back_edges(process)
        self.by_dot: dict[str, Stage | Outcome] = {self.ids[n.id]: n for n in process.iter_nodes()}
        self.order = {sid: i for i, sid in enumerate(phase_order(process))}
        self.split = self.split_outcomes()
        self._lanes: list[_Lane] | None = None
        self.lane_index: dict[str, int] = {}
        self.heat: dict[str, tuple[str, str]] = {}
        self.heat_range: tuple[float, float] | None = None
        self._compute_heat()

    # ---- helpers ----

    def edge_at(self, tail: str, head: str) -> str:
        """``, id=...`` for the next edge: ids follow the order edges are written."""
        del tail, head
        key = f"e{self.edge_count}"
        self.edge_count += 1
        return f', id="{key}"'

    def at(self, node_id: str) -> str:
        """``, pos=...`` when the layout pins this node."""
        if self.layout is None or node_id not in self.layout.pos:
            return ""
        x, y = self.layout.pos[node_id]
        size = ""
        if node_id in self.layout.sizes:
            w, h = self.layout.sizes[node_id]
            size = f", width={w / 72:.4f}, height={h / 72:.4f}"
        return f', pos="{x:.2f},{y:.2f}"{size}'

    def emit(self, line: str, depth: int = 1) -> None:
        self.lines.append("  " * depth + line)

    def font(self, text: str, size: float | None = None, color: str | None = None) -> str:
        attrs = []
        if size is not None:
            attrs.append(f'POINT-SIZE="{size:g}"')
        if color is not None:
            attrs.append(f'COLOR="{html_label_text(color)}"')
        return f"<FONT {' '.join(attrs)}>{text}</FONT>" if attrs else text

    def lines_html(self, lines: list[str]) -> str:
        return "<BR/>".join(html_label_text(x) for x in lines)

    # ---- metrics overlay ----

    def _compute_heat(self) -> None:
        o = self.o
        if o.overlay is None or o.color_by is None:
            return
        values = {
            s.id: v
            for s in self.p.stages
            if (v := o.overlay.stage_value(s.id, o.color_by, s.owner)) is not None
        }
        if not values:
            return
        lo, hi = min(values.values()), max(values.values())
        self.heat_range = (lo, hi)
        scale = self.t.heat
        for sid, v in values.items():
            frac = 0.0 if hi == lo else (v - lo) / (hi - lo)
            idx = min(len(scale) - 1, int(frac * len(scale)))
            text = self.t.heat_text_light if idx >= len(scale) - 2 else self.t.heat_text_dark
            self.heat[sid] = (scale[idx], text)

    def metric_text(self, value: float) -> str:
        metric = self.o.color_by
        if metric in ("dwell", "queue"):
            return _hours(value, self.w)
        return _pct(value)

    # ---- labels ----

    def stage_label(self, s: Stage, text_color: str) -> str:
        """A stage's HTML-like label: its name, owner, goals and exits (to ``detail``), and
        the overlay's figure."""
        t, detail = self.t, self.o.detail
        rows = [
            "<TR><TD>"
            + self.font(f"<B>{self.lines_html(wrap(s.display, LABEL_WIDTH))}</B>", color=text_color)
            + "</TD></TR>"
        ]
        muted = t.muted_text if s.id not in self.heat else text_color
        if s.owner is not None and detail != "none":
            role = self.p.role(s.owner)
            rows.append(self.small_row(f"{self.w['owner']}: {role.display}", muted))
        if detail == "brief":
            for key, texts in (("goal", s.goals), ("exit", s.exits)):
                if texts:
                    line = truncate(f"{self.w[key]}: {texts[0]}", DETAIL_WIDTH)
                    rows.append(self.small_row(line, muted))
        elif detail == "full":
            rows += self.full_detail_rows(s, muted)
        if self.o.overlay is not None and self.o.color_by is not None:
            value = self.o.overlay.stage_value(s.id, self.o.color_by, s.owner)
            shown = self.metric_text(value) if value is not None else self.w["no_data"]
            rows.append(self.small_row(f"{self.w[self.o.color_by]}: {shown}", text_color))
        return (
            '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows)
            + "</TABLE>>"
        )

    def small_row(self, text: str, color: str) -> str:
        """One label row of plain ``text`` in the small font."""
        return (
            "<TR><TD>"
            + self.font(html_label_text(text), self.t.small_font_size, color)
            + "</TD></TR>"
        )

    def full_detail_rows(self, s: Stage, muted: str) -> list[str]:
        """``detail full``: every goal and exit, wrapped and left-aligned, then the timing."""
        t, w = self.t, self.w
        rows = []
        for key, texts in (("goal", s.goals), ("exit", s.exits)):
            for text in texts:
                body = self.lines_html(wrap(f"{w[key]}: {text}", DETAIL_WIDTH))
                rows.append(
                    '<TR><TD ALIGN="LEFT" BALIGN="LEFT">'
                    + self.font(body, t.small_font_size, muted)
                    + "</TD></TR>"
                )
        timing = " · ".join(
            x for x in (_dist_text(s.effort, w, "effort"), _dist_text(s.wait, w, "wait")) if x
        )
        if timing:
            rows.append(self.small_row(timing, muted))
        return rows

    # ---- nodes ----

    def stage_node(self, s: Stage, depth: int) -> None:
        t = self.t
        is_entry = any(e.id == s.id for e, _ in self.p.entries)
        fill, text_color = self.heat.get(s.id, (t.stage_fill, t.text))
        attrs = [
            f'id="stage-{self.ids[s.id][1:]}"',
            f'class="stage{" entry" if is_entry else ""}"',
            f"label={self.stage_label(s, text_color)}",
            f"fillcolor={dot_string(fill)}",
            f"color={dot_string(t.entry_border if is_entry else t.stage_border)}",
            f"penwidth={2.2 if is_entry else 1.2}",
            f"tooltip={dot_string(s.display)}",
        ]
        self.emit(f"{self.ids[s.id]} [{', '.join(attrs)}{self.at(self.ids[s.id])}]", depth)

    def outcome_style(self, o: Outcome) -> tuple[str, str, str]:
        t = self.t
        if o.result == "won":
            return t.won_shape, t.won_fill, t.won_border
        if o.result == "lost":
            return t.lost_shape, t.lost_fill, t.lost_border
        return t.other_shape, t.other_fill, t.other_border

    def outcome_node(self, node_id: str, o: Outcome, depth: int, small: bool = False) -> None:
        shape, fill, border = self.outcome_style(o)
        label = self.lines_html(wrap(o.display, LABEL_WIDTH))
        if small:
            label = self.font(label, self.t.small_font_size)
        attrs = [
            f'id="outcome-{node_id[1:]}"',
            f'class="outcome {o.result}"',
            f"label=<{label}>",
            f"shape={shape}",
            'style="filled"',
            f"fillcolor={dot_string(fill)}",
            f"color={dot_string(border)}",
            f"tooltip={dot_string(o.display)}",
        ]
        if small:
            attrs += ["margin=0.04", "height=0.3"]
        self.emit(f"{node_id} [{', '.join(attrs)}{self.at(node_id)}]", depth)

    # ---- lanes ----

    def lanes(self) -> list[_Lane]:
        """The lanes in drawing order (see :func:`lane_order`), each with its members."""
        if self._lanes is None:
            lanes = self.declared_lanes()
            named = [lane for lane in lanes if lane.key]
            rest = [lane for lane in lanes if not lane.key]
            self._lanes = lane_order(named, self.crossing_weights(named)) + rest
            self.lane_index = {m: i for i, lane in enumerate(self._lanes) for m in lane.members}
        return self._lanes

    def crossing_weights(self, lanes: list[_Lane]) -> dict[tuple[int, int], int]:
        """How many moves join each pair of lanes: transitions and a parallel block's fork
        and join moves (:meth:`Process.routes`; drawn copies of outcomes excluded)."""
        where = {m: i for i, lane in enumerate(lanes) for m in lane.members}
        weights: dict[tuple[int, int], int] = {}
        for source, target in self.p.routes():
            a, b = where.get(source), where.get(target)
            if a is None or b is None or a == b or target in self.split:
                continue
            key = (min(a, b), max(a, b))
            weights[key] = weights.get(key, 0) + 1
        return weights

    def declared_lanes(self) -> list[_Lane]:
        """One lane per department (or role), in declared order, then "unassigned"."""
        mode = self.o.lanes
        lanes: list[_Lane] = []
        by_key: dict[str, _Lane] = {}
        if mode == "department":
            for d in self.p.departments:
                by_key[d.id] = _Lane(d.id, d.display)
                lanes.append(by_key[d.id])
        elif mode == "role":
            for r in self.p.roles:
                by_key[r.id] = _Lane(r.id, r.display)
                lanes.append(by_key[r.id])
        unassigned = _Lane("", self.w["unassigned"])
        for node in self.p.iter_nodes():
            key = self.lane_key(node.owner)
            if isinstance(node, Outcome) and (key is None or node.id in self.split):
                continue  # ownerless outcomes sit outside the lanes; split ones in copies
            lane = by_key.get(key or "", unassigned) if mode != "none" else unassigned
            lane.members.append(node.id)
        if unassigned.members:
            lanes.append(unassigned)
        return [lane for lane in lanes if lane.members]

    def lane_key(self, owner: str | None) -> str | None:
        if owner is None:
            return None
        if self.o.lanes == "role":
            return owner
        if self.o.lanes == "department":
            return self.p.role(owner).department
        return None

    # ---- the graph ----

    def build(self) -> str:
        """The DOT text: the graph's defaults, a subgraph per lane, then edges and legend.

        One builder writes all three passes (see :func:`layout`): the sizing pass, which
        ``dot`` ranks; the pinned pass, which it only routes, one cluster per :class:`Band`;
        and the plain DOT of ``--format dot``, which ``dot`` lays out by itself.
        """
        self.lines.append("digraph flowsim {")
        self.defaults()
        lanes = self.lanes()
        if self.layout is not None:
            self.pinned_bands(lanes)
        else:
            for i, lane in enumerate(lanes):
                self.lane(i, lane)
            self.unlaned({node for lane in lanes for node in lane.members})
        self.gateways()
        self.entry_marker(lanes)
        if self.layout is None and not self.sizing:
            self.anchor_lanes(lanes)
        self.edges()
        if self.heat_range is not None or self.edge_scale() is not None:
            self.legend()
        self.lines.append("}")
        return "\n".join(self.lines) + "\n"

    def defaults(self) -> None:
        """Graph, node and edge attributes, and the title (a pinned node once laid out)."""
        t, o, p = self.t, self.o, self.p
        font = dot_string(t.font)
        title = ""
        if o.title:
            title = f"label={dot_string(p.name)}, labelloc=t, labeljust=l, "
        common = (
            f"fontname={font}, fontsize={t.font_size + 1:g}, fontcolor={dot_string(t.text)}, "
            f"bgcolor={dot_string(t.background)}, pad=0.2, "
        )
        if self.layout is None:
            self.emit(
                f"graph [rankdir={o.direction}, newrank=true, compound=true, {common}{title}"
                f"nodesep=0.3, ranksep=0.45, splines={'false' if self.sizing else 'true'}, "
                'outputorder="edgesfirst"]'
            )
        else:
            bb = ",".join(f"{v:.2f}" for v in self.layout.bb)
            # Orthogonal routing around the pinned nodes: the swimlane look, and fast (the
            # spline router took 165 s at 200 stages; ortho takes 0.3 s).
            self.emit(f'graph [{common}bb="{bb}", splines=ortho, outputorder="edgesfirst"]')
        self.emit(
            f"node [fontname={font}, fontsize={t.font_size:g}, fontcolor={dot_string(t.text)}, "
            f'shape={t.stage_shape}, style={dot_string(t.stage_style)}, margin="0.12,0.06"]'
        )
        self.emit(
            f"edge [fontname={font}, fontsize={t.small_font_size:g}, "
            f"fontcolor={dot_string(t.edge_label)}, color={dot_string(t.edge)}, arrowsize=0.7]"
        )
        if self.layout is not None and self.layout.title is not None and o.title:
            tx, ty = self.layout.title
            size = ""
            if self.layout.sizes:  # snapped: a known, even width, left-aligned
                w = _even(text_width(p.name, t.font_size + 5) + 16)
                size, tx = f", width={w / 72:.4f}, fixedsize=true", w / 2 + 8
            self.emit(
                f'title [id="title", class="title", shape=plaintext, style="", '
                f"fontsize={t.font_size + 5:g}, label={dot_string(p.name)}, "
                f'pos="{tx:.2f},{ty:.2f}"{size}]'
            )

    def open_lane(self, i: int, color: int, label: str, box: str = "") -> None:
        """``subgraph`` of lane ``i``: a filled cluster (its ``color``-th fill), unless the
        lanes are off or this is the sizing pass (clusters cost dot 20x the time at 500
        stages, and flowsim stacks the lanes itself afterwards)."""
        t = self.t
        boxed = not self.sizing and self.o.lanes != "none"
        self.emit(f"subgraph cluster_lane{i} {{" if boxed else f"subgraph lane{i} {{")
        fill = t.lane_fills[color % len(t.lane_fills)] if t.lane_fills else t.background
        lane_label = self.font("<B>" + html_label_text(label) + "</B>", color=t.lane_label)
        if boxed:
            self.emit(
                f"graph [label=<{lane_label}>, "
                f'labeljust=l, labelloc=t, style="filled", fillcolor={dot_string(fill)}, '
                f'color={dot_string(t.lane_border)}, id="lane-{i}", class="lane"{box}]',
                2,
            )

    def lane(self, i: int, lane: _Lane) -> None:
        """Lane ``i`` unpinned: its anchor, its nodes in flow order, its outcome copies."""
        self.open_lane(i, i, lane.label)
        if not self.sizing:
            self.emit(f'lane{i} [style=invis, shape=point, width=0, height=0, label=""]', 2)
        for node_id in sorted(lane.members, key=lambda n: self.order.get(n, len(self.order))):
            self.member(self.ids[node_id], 2)
        if not self.sizing:
            members = set(lane.members)
            for oid, sources in self.split.items():
                if members.intersection(sources):
                    self.outcome_node(f"{self.ids[oid]}_l{i}", self.outcome(oid), 2, small=True)
        self.emit("}")

    def pinned_bands(self, lanes: list[_Lane]) -> None:
        """Every band of the layout as a cluster at its place, then the nodes of no lane."""
        assert self.layout is not None
        for b, band in enumerate(self.layout.bands):
            if band.lane < 0:
                continue
            box = ', bb="' + ",".join(f"{v:.2f}" for v in band.box) + '"'
            self.open_lane(b, band.lane, lanes[band.lane].label, box)
            for node in band.nodes:
                self.member(node, 2)
            self.emit("}")
        for band in self.layout.bands:
            if band.lane < 0:
                for node in band.nodes:
                    self.member(node, 1)

    def outcome(self, oid: str) -> Outcome:
        return next(x for x in self.p.outcomes if x.id == oid)

    def member(self, dot_id: str, depth: int) -> None:
        """Node ``dot_id``: a stage with its note, an outcome, or a copy of a split one."""
        node = self.by_dot.get(dot_id)
        if isinstance(node, Stage):
            self.stage_node(node, depth)
            self.touchpoint_notes(node, depth)
        elif node is not None:
            if node.id not in self.split:
                self.outcome_node(dot_id, node, depth)
        else:  # a copy: "o1_l0" (or "o1_l0_r2" in a wrapped layout)
            copy_of = self.by_dot[dot_id.split("_", 1)[0]]
            assert isinstance(copy_of, Outcome)
            self.outcome_node(dot_id, copy_of, depth, small=True)

    def unlaned(self, placed: set[str]) -> None:
        """The nodes no lane holds (ownerless outcomes), and in the sizing pass a sample of
        each split outcome, to learn the size of its copies."""
        for node in self.p.iter_nodes():
            if node.id not in placed:
                self.member(self.ids[node.id], 1)
        if self.sizing:
            for oid in self.split:
                self.outcome_node(f"{self.ids[oid]}_size", self.outcome(oid), 1, small=True)

    def anchor_lanes(self, lanes: list[_Lane]) -> None:
        """Invisible anchors, one rank and chained, that keep the lanes in their order."""
        anchors = [f"lane{i}" for i in range(len(lanes))]
        if len(anchors) > 1:
            self.emit("{rank=same; " + "; ".join(anchors) + "}")
            self.emit(" -> ".join(anchors) + " [style=invis]")
        for anchor, lane in zip(anchors, lanes, strict=True):
            first = sorted(lane.members, key=lambda n: self.order.get(n, len(self.order)))[0]
            self.emit(f"{anchor} -> {self.ids[first]} [style=invis, weight=0]")

    def split_outcomes(self) -> dict[str, list[str]]:
        """Outcomes drawn once per lane: {outcome id: its source stages}, for each outcome
        that :data:`SPLIT_AT` stages or more lead to."""
        sources: dict[str, list[str]] = {}
        for tr in self.p.transitions:
            listed = sources.setdefault(tr.target, [])
            if tr.source not in listed:
                listed.append(tr.source)
        joined = {block.join for block in self.p.parallels}
        return {
            x.id: sources[x.id]
            for x in self.p.outcomes
            if len(sources.get(x.id, [])) >= SPLIT_AT and x.id not in joined
        }

    def gateways(self) -> None:
        """A parallel block's fork and join as bars across the flow (BPMN's AND gateways);
        pinned where the lane layout put them (see :func:`_gateways_with`)."""
        t = self.t
        thin, long = "0.09", "0.55"
        width, height = (thin, long) if self.o.direction == "LR" else (long, thin)
        for block in self.p.parallels:
            for key, kind in ((fork_key(block.source), "fork"), (join_key(block.source), "join")):
                nid = self.ids[key]
                tip = dot_string(f"{self.w['parallel_' + kind]}: {block.label or block.source}")
                self.emit(
                    f'{nid} [id="{nid}", class="{kind}", shape=box, style=filled, label="", '
                    f"width={width}, height={height}, fixedsize=true, "
                    f"fillcolor={dot_string(t.text)}, color={dot_string(t.text)}, "
                    f"tooltip={tip}{self.at(nid)}]"
                )

    def gateway_edges(self) -> None:
        """The block's own edges: into the fork, to each branch, from bare ends, on."""
        color = dot_string(self.t.text)
        for block in self.p.parallels:
            fork, join = self.ids[fork_key(block.source)], self.ids[join_key(block.source)]
            pairs = [(self.ids[block.source], fork)]
            pairs += [(fork, self.ids[e]) for e in block.branches]
            for region in self.p.branch_stages(block):
                ends = sorted(sid for sid in region if not self.p.outgoing(sid))
                pairs += [(self.ids[sid], join) for sid in ends]
            pairs.append((join, self.ids[block.join]))
            for a, b in pairs:
                self.emit(f'{a} -> {b} [color={color}, class="flow parallel"{self.edge_at(a, b)}]')

    def target_of(self, source: str, target: str) -> str | None:
        """The DOT node an edge ``source -> target`` ends at (a lane's copy of a split
        outcome); None in the sizing pass for a split outcome (copies are placed later)."""
        if target not in self.split:
            return self.ids[target]
        if self.layout is not None:
            return self.layout.copies[(target, source)]
        if self.sizing:
            return None
        self.lanes()
        return f"{self.ids[target]}_l{self.lane_index[source]}"

    def entry_marker(self, lanes: list[_Lane]) -> None:
        entry = self.p.entry
        if entry is None:
            return
        t = self.t
        self.emit(
            f'start [id="start", class="start", shape=circle, style=filled, width=0.18, '
            f'height=0.18, fixedsize=true, label="", fillcolor={dot_string(t.entry_border)}, '
            f"color={dot_string(t.entry_border)}, tooltip={dot_string(self.w['entry'])}"
            f"{self.at('start')}]"
        )
        mix = len(self.p.entries) > 1
        for stage, share in self.p.entries:
            # an entry mix labels each entry edge with its share; one entry needs none
            dst = self.ids[stage.id]
            label = f"label=<{self.lines_html([_pct(share)])}>, " if mix else ""
            self.emit(
                f"start -> {dst} [{label}color={dot_string(t.entry_border)}"
                f"{self.edge_at('start', dst)}]"
            )

    def touchpoint_notes(self, s: Stage, depth: int) -> None:
        if not self.o.touchpoints or not s.touchpoints:
            return
        t = self.t
        flat: list[str] = []
        for tp in s.touchpoints:
            line = tp.name
            if tp.channel:
                line = f"[{tp.channel}] {line}"
            if tp.emotion is not None:
                line += f" · {tp.emotion:g}/5"
            flat.extend(wrap(line, DETAIL_WIDTH))
            for pain in tp.pains:
                flat.extend(wrap(f"! {pain}", DETAIL_WIDTH))
        note = f"{self.ids[s.id]}_tp"
        self.emit(
            f'{note} [id="touchpoints-{self.ids[s.id][1:]}", class="touchpoints", shape=note, '
            f'style="filled", fillcolor={dot_string(t.touchpoint_fill)}, '
            f"color={dot_string(t.touchpoint_border)}, fontsize={t.small_font_size:g}, "
            f"label=<{self.lines_html(flat)}>{self.at(note)}]",
            depth,
        )
        self.emit(
            f"{self.ids[s.id]} -> {note} [style=dotted, arrowhead=none, "
            f"color={dot_string(t.touchpoint_border)}, weight=0"
            f"{self.edge_at(self.ids[s.id], note)}]",
            depth,
        )
        if self.layout is None:
            self.emit(f"{{rank=same; {self.ids[s.id]}; {note}}}", depth)

    def edge_scale(self) -> float | None:
        if self.o.overlay is None or not self.o.overlay.edges:
            return None
        top = max(e.count for e in self.o.overlay.edges)
        return top if top > 0 else None

    def edges(self) -> None:
        t = self.t
        top = self.edge_scale()
        outcomes = {x.id: x for x in self.p.outcomes}
        joins = join_gateways(self.p)
        for tr, prob in ((tr, pr) for s in self.p.stages for tr, pr in self.p.outgoing(s.id)):
            src = self.ids[tr.source]
            if (tr.source, tr.target) in joins:  # a branch done: to the join bar
                dst_or_none: str | None = self.ids[joins[(tr.source, tr.target)]]
            else:
                dst_or_none = self.target_of(tr.source, tr.target)
            if dst_or_none is None:
                continue
            dst = dst_or_none
            text = _pct(prob)
            if tr.label:
                text += "\n" + tr.label
            attrs = [f"label=<{self.lines_html(text.split(chr(10)))}>"]
            classes = ["flow"]
            if (tr.source, tr.target) in self.back:
                attrs += ["style=dashed", "constraint=false", f"color={dot_string(t.edge_rework)}"]
                classes.append("rework")
            elif tr.target in outcomes and outcomes[tr.target].result == "lost":
                attrs.append(f"color={dot_string(t.edge_lost)}")
                classes.append("lost")
            if top is not None and self.o.overlay is not None:
                count = self.o.overlay.edge_count(tr.source, tr.target, tr.label)
                if count is not None:
                    attrs.append(f"penwidth={1 + 5 * count / top:.2f}")
            attrs.append(f'class="{" ".join(classes)}"')
            self.emit(f"{src} -> {dst} [{', '.join(attrs)}{self.edge_at(src, dst)}]")
        self.gateway_edges()

    def legend(self) -> None:
        t, w = self.t, self.w
        rows = [f'<TR><TD COLSPAN="{len(t.heat)}"><B>{html_label_text(w["legend"])}</B></TD></TR>']
        if self.heat_range is not None and self.o.color_by is not None:
            lo, hi = self.heat_range
            rows.append(
                f'<TR><TD COLSPAN="{len(t.heat)}">'
                + html_label_text(f"{w[self.o.color_by]}")
                + "</TD></TR>"
            )
            rows.append(
                "<TR>"
                + "".join(f'<TD BGCOLOR="{html_label_text(c)}" WIDTH="18"> </TD>' for c in t.heat)
                + "</TR>"
            )
            rows.append(
                f'<TR><TD COLSPAN="{len(t.heat)}">'
                + html_label_text(f"{self.metric_text(lo)} … {self.metric_text(hi)}")
                + "</TD></TR>"
            )
        if self.edge_scale() is not None:
            rows.append(
                f'<TR><TD COLSPAN="{len(t.heat)}">'
                + html_label_text(w["flow_volume"])
                + "</TD></TR>"
            )
        if self.o.overlay is not None and self.o.overlay.source:
            rows.append(
                f'<TR><TD COLSPAN="{len(t.heat)}">'
                + self.font(
                    html_label_text(f"{w['source']}: {self.o.overlay.source}"),
                    t.small_font_size,
                    t.muted_text,
                )
                + "</TD></TR>"
            )
        table = '<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="2">' + "".join(rows) + "</TABLE>>"
        self.emit(
            f'legend [id="legend", class="legend", shape=box, style="rounded,filled", '
            f"fillcolor={dot_string(t.background)}, color={dot_string(t.lane_border)}, "
            f"label={table}{self.at('legend')}]"
        )


def to_dot(process: Process, options: RenderOptions | None = None) -> str:
    """The flowchart of ``process`` as DOT source (lanes as clusters; lay out with ``dot``)."""
    return _Builder(process, resolve(options or RenderOptions())[0]).build()


# ---- lane layout -------------------------------------------------------------------------------

GAP = 18.0  # points between nodes across the lane axis
RANK_GAP = 10.0  # points between nodes along the rank axis that share a row
LANE_PAD = 12.0
LANE_LABEL = 24.0  # room for the lane's name
TITLE = 34.0
ROW_MAX = 1800.0  # points: with direction "auto", a longer flow wraps into rows
ROW_GAP = 40.0  # points between two rows of a wrapped picture
COPY_GAP = 40.0  # points from a stage to the outcome copy after it: room for the edge's label


@dataclass
class _Box:
    name: str
    r: float  # position along the flow (rank axis)
    c: float  # position across the flow, as dot placed it (for ordering)
    along: float  # size along the rank axis
    across: float  # size across


def _json_boxes(data: dict[str, Any], direction: str) -> dict[str, _Box]:
    boxes: dict[str, _Box] = {}
    for obj in data.get("objects", []):
        if "pos" not in obj or obj.get("name", "").startswith("cluster"):
            continue
        x, y = (float(v) for v in obj["pos"].split(","))
        w, h = float(obj["width"]) * 72, float(obj["height"]) * 72
        if direction == "LR":
            boxes[obj["name"]] = _Box(obj["name"], x, -y, w, h)
        else:
            boxes[obj["name"]] = _Box(obj["name"], -y, x, h, w)
    return boxes


def _even(points: float) -> float:
    """``points`` rounded up to an even number."""
    return 2.0 * math.ceil(points / 2 - 1e-9)


def layout(
    process: Process, options: RenderOptions, *, wrap: bool = False, snap: bool = False
) -> Layout:
    """Where every node goes: ``dot`` ranks the flow, flowsim stacks the lanes.

    ``dot`` alone cannot keep clusters in a given order, so it is run once to rank the flow,
    size every node and order nodes within a lane. With ``wrap``, a flow longer than
    :data:`ROW_MAX` is cut into rows at gaps between ranks. In each row each lane becomes a
    band, in lane order, holding its stages and one copy of each split outcome its stages
    lead to; nodes that would overlap along the flow go on separate rows of their band.
    Graphviz then only routes the edges. With ``snap``, node sizes are rounded up to even
    points and centres to whole points, so node sides are equal or a point apart (see
    :func:`route`).
    """
    builder = _Builder(process, options, sizing=True)
    data = json.loads(run_dot(builder.build(), "json0"))
    boxes = _json_boxes(data, options.direction)
    samples = {name[: -len("_size")]: boxes.pop(name) for name in list(boxes) if "_size" in name}
    lanes = builder.lanes()
    groups = _lane_groups(builder, lanes, boxes)
    row_of = _rows_of(boxes, ROW_MAX if wrap else math.inf)
    _gateway_rows(builder, row_of)
    boxes = _shift_rows(boxes, row_of)
    placed = _band_groups(builder, groups, row_of, boxes, samples)
    bands = _stack_bands(placed.groups, boxes, TITLE if options.title else 0.0)
    result, band_boxes = _orient(bands, boxes, options)
    result.bands = [
        Band(lane, box, _drawn(builder, names))
        for (_, lane, names), box in zip(placed.groups, band_boxes, strict=True)
    ]
    result.copies = placed.copies
    if snap:
        _snap(result, boxes, options.direction)
    return result


def _snap(result: Layout, boxes: dict[str, _Box], direction: str) -> None:
    """Whole-point centres and even-point sizes for every pinned node."""
    for name, (x, y) in result.pos.items():
        result.pos[name] = (float(round(x)), float(round(y)))
        if name in boxes:
            b = boxes[name]
            w, h = (b.along, b.across) if direction == "LR" else (b.across, b.along)
            result.sizes[name] = (_even(w), _even(h))


def _drawn(builder: _Builder, names: list[str]) -> list[str]:
    """The nodes a band draws itself, in flow order (notes and the start marker come with
    their stage; copies of split outcomes last)."""
    model = [n for n in names if n in builder.by_dot]
    copies = [n for n in names if n not in builder.by_dot and "_l" in n]
    order = builder.order
    model.sort(key=lambda n: (order.get(builder.by_dot[n].id, len(order)), n.startswith("o")))
    return model + copies


def lane_order(lanes: list[_T], weights: dict[tuple[int, int], int]) -> list[_T]:
    """``lanes`` reordered so that transitions between lanes are short.

    The cost of an order is the sum over pairs of lanes of (transitions between them) x
    (how many lanes apart they are): every lane in between is one that those edges cut
    through, crossing its edges. Up to 7 lanes every order is tried; beyond, lanes move one
    at a time while that lowers the cost. The declared order is kept unless another is
    strictly better, and ties go to the order found first, so the result is deterministic.
    """
    n = len(lanes)
    if n < 3 or not weights:
        return list(lanes)

    def cost(order: Sequence[int]) -> int:
        at = {lane: i for i, lane in enumerate(order)}
        return sum(w * abs(at[a] - at[b]) for (a, b), w in weights.items())

    best = list(range(n))
    best_cost = cost(best)
    if n <= 7:
        for perm in itertools.permutations(range(n)):
            c = cost(perm)
            if c < best_cost:
                best, best_cost = list(perm), c
        return [lanes[i] for i in best]
    improved = True
    while improved:
        improved = False
        for i, j in itertools.permutations(range(n), 2):
            trial = best[:i] + best[i + 1 :]
            trial.insert(j, best[i])
            c = cost(trial)
            if c < best_cost:
                best, best_cost, improved = trial, c, True
    return [lanes[i] for i in best]


def _rows_of(boxes: dict[str, _Box], limit: float) -> dict[str, int]:
    """Which row each node goes in: the flow cut into rows no longer than ``limit`` (about
    equal), each cut in a gap between nodes when there is one near."""
    if not boxes:
        return {}
    spans = sorted((b.r - b.along / 2, b.r + b.along / 2) for b in boxes.values())
    lo, hi = spans[0][0], max(e for _, e in spans)
    if hi - lo <= limit:
        return dict.fromkeys(boxes, 0)
    count = math.ceil((hi - lo) / limit)
    gaps: list[float] = []
    reach = spans[0][1]
    for start, end in spans[1:]:
        if start > reach:
            gaps.append((start + reach) / 2)
        reach = max(reach, end)
    cuts: list[float] = []
    for k in range(1, count):
        ideal = lo + k * (hi - lo) / count
        free = [g for g in gaps if not cuts or g > cuts[-1]]
        cuts.append(min(free, key=lambda g: abs(g - ideal)) if free else ideal)
    return {name: sum(b.r > c for c in cuts) for name, b in boxes.items()}


def _shift_rows(boxes: dict[str, _Box], row_of: dict[str, int]) -> dict[str, _Box]:
    """Boxes with their flow position measured from the start of their row.

    Row ``k`` starts ``k`` x 2 pt further along: Graphviz's orthogonal router (2.43) aborts
    when node sides of different rows line up exactly (``maze.c: chkSgraph``)."""
    starts: dict[int, float] = {}
    for name, b in boxes.items():
        row = row_of[name]
        starts[row] = min(starts.get(row, math.inf), b.r - b.along / 2)
    lo = min(starts.values(), default=0.0)
    return {
        name: _Box(
            name, b.r - starts[row_of[name]] + lo + 2.0 * row_of[name], b.c, b.along, b.across
        )
        for name, b in boxes.items()
    }


class _Placed(NamedTuple):
    groups: list[tuple[int, int, list[str]]]  # (row, lane or -1, node names) per band
    copies: dict[tuple[str, str], str]


def _band_groups(
    builder: _Builder,
    groups: list[list[str]],
    row_of: dict[str, int],
    boxes: dict[str, _Box],
    samples: dict[str, _Box],
) -> _Placed:
    """The bands, row by row, lane by lane; a band gets one copy of each split outcome that
    its stages lead to, just after the last of them (added to ``boxes``)."""
    rows = max(row_of.values(), default=0) + 1
    lanes = len(builder.lanes())
    out: list[tuple[int, int, list[str]]] = []
    copies: dict[tuple[str, str], str] = {}
    for row in range(rows):
        for index, group in enumerate(groups):
            names = [n for n in group if row_of[n] == row]
            lane = index if index < lanes else -1
            if lane >= 0:
                suffix = f"_l{lane}" + (f"_r{row}" if rows > 1 else "")
                names += _copies(builder, names, suffix, boxes, samples, copies)
            if names:
                out.append((row, lane, names))
    return _Placed(out, copies)


def _copies(
    builder: _Builder,
    names: list[str],
    suffix: str,
    boxes: dict[str, _Box],
    samples: dict[str, _Box],
    copies: dict[tuple[str, str], str],
) -> list[str]:
    """One copy per split outcome the stages ``names`` lead to, after the last of them."""
    made: list[str] = []
    here = {builder.by_dot[n].id: n for n in names if n in builder.by_dot}
    for oid, sources in builder.split.items():
        mine = [boxes[here[s]] for s in sources if s in here]
        if not mine:
            continue
        name = builder.ids[oid] + suffix
        last = max(mine, key=lambda b: (b.r + b.along / 2, b.c))
        sample = samples[builder.ids[oid]]
        r = last.r + last.along / 2 + COPY_GAP + sample.along / 2
        boxes[name] = _Box(name, r, last.c + 0.25, sample.along, sample.across)
        for src in sources:
            if src in here:
                copies[(oid, src)] = name
        made.append(name)
    return made


class _Bands(NamedTuple):
    """Lanes stacked across the flow: node centres (along, across), band extents, the end."""

    pos: dict[str, tuple[float, float]]
    bands: list[tuple[float, float]]  # (start, end) across, growing downwards/rightwards
    total: float


def _lane_groups(builder: _Builder, lanes: list[_Lane], boxes: dict[str, _Box]) -> list[list[str]]:
    """The sized nodes of each lane (its stages' notes and the start marker with them),
    then one more group for what no lane holds."""
    ids = builder.ids
    entry = builder.p.entry
    groups: list[list[str]] = []
    assigned: set[str] = set()
    for lane in lanes:
        names: list[str] = []
        for node in lane.members:
            nid = ids[node]
            names.append(nid)
            names.extend(n for n in (f"{nid}_tp",) if n in boxes)
            names.extend(_gateways_with(builder, node))
            if entry is not None and node == entry.id and "start" in boxes:
                names.append("start")
        groups.append([n for n in names if n in boxes])
        assigned.update(groups[-1])
    rest = [n for n in boxes if n not in assigned and not n.startswith("lane")]
    if rest:
        groups.append(rest)
    return groups


def _gateways_with(builder: _Builder, node: str) -> list[str]:
    """The bars drawn in ``node``'s lane: the fork after its source, the join before the
    node it joins into (when that node is in a lane; else with the source)."""
    p, ids = builder.p, builder.ids
    lane_of = {n for lane in builder.lanes() for n in lane.members}
    out = []
    for block in p.parallels:
        if block.source == node:
            out.append(ids[fork_key(block.source)])
        if block.join == node or (block.source == node and block.join not in lane_of):
            out.append(ids[join_key(block.source)])
    return out


def _gateway_rows(builder: _Builder, row_of: dict[str, int]) -> None:
    """A wrapped flow keeps each bar in the row of the stage it belongs to: the fork in its
    source's row, the join in the row of the node it joins into (a cut never falls between
    a bar and its stage)."""
    ids = builder.ids
    for block in builder.p.parallels:
        fork, join = ids[fork_key(block.source)], ids[join_key(block.source)]
        for bar, owner in ((fork, ids[block.source]), (join, ids[block.join])):
            if bar in row_of and owner in row_of:
                row_of[bar] = row_of[owner]


def _across_key(box: _Box, boxes: dict[str, _Box]) -> float:
    """Across-flow order: a stage's notes stay just after it."""
    name = box.name
    if name.endswith("_tp") and name[:-3] in boxes:
        return boxes[name[:-3]].c + 0.5
    return box.c


def _rows(group: list[str], boxes: dict[str, _Box]) -> list[list[_Box]]:
    """A lane's nodes in rows: each goes on the first row where it overlaps nobody."""
    rows: list[list[_Box]] = []
    for box in sorted((boxes[n] for n in group), key=lambda b: (_across_key(b, boxes), b.r)):
        for row in rows:
            if all(abs(box.r - o.r) >= (box.along + o.along) / 2 + RANK_GAP for o in row):
                row.append(box)
                break
        else:
            rows.append([box])
    return rows


def _stack_bands(
    groups: list[tuple[int, int, list[str]]], boxes: dict[str, _Box], cursor: float
) -> _Bands:
    """Each group a band of rows, one after another across the flow from ``cursor``; a
    wider gap between two rows of the picture."""
    pos: dict[str, tuple[float, float]] = {}
    bands: list[tuple[float, float]] = []
    last_row = 0
    for row, _, g in groups:
        if row != last_row:
            cursor += ROW_GAP
            last_row = row
        start = cursor
        cursor += LANE_LABEL + LANE_PAD
        for line in _rows(g, boxes):
            height = max(b.across for b in line)
            for b in line:
                pos[b.name] = (b.r, cursor + height / 2)
            cursor += height + GAP
        cursor += LANE_PAD - GAP
        bands.append((start, cursor))
        cursor += 6.0
    return _Bands(pos, bands, cursor)


def _orient(
    bands: _Bands, boxes: dict[str, _Box], options: RenderOptions
) -> tuple[Layout, list[tuple[float, float, float, float]]]:
    """Flow-axis and across-axis positions as Graphviz points (y up) for the direction,
    and every band's box."""
    r_min = min((b.r - b.along / 2 for b in boxes.values()), default=0.0)
    r_max = max((b.r + b.along / 2 for b in boxes.values()), default=0.0)
    total = bands.total
    margin = 16.0
    lo, hi = r_min - margin, r_max + margin
    out_pos: dict[str, tuple[float, float]] = {}
    band_boxes: list[tuple[float, float, float, float]] = []
    if options.direction == "LR":
        for name, (r, c) in bands.pos.items():
            out_pos[name] = (r - lo, total - c)
        for band_start, band_end in bands.bands:
            band_boxes.append((0.0, total - band_end, hi - lo, total - band_start))
        bb = (0.0, 0.0, hi - lo, total)
        title = (80.0, total - TITLE / 2) if options.title else None
    else:
        span = hi - lo
        top = span + (TITLE if options.title else 0.0) + LANE_LABEL
        for name, (r, c) in bands.pos.items():
            out_pos[name] = (c, top - LANE_LABEL - (r - lo))
        for band_start, band_end in bands.bands:
            band_boxes.append((band_start, 0.0, band_end, span + LANE_LABEL))
        bb = (0.0, 0.0, total, top)
        title = (80.0, top - TITLE / 2) if options.title else None
    return Layout(out_pos, [], bb, title), band_boxes


def render(process: Process, options: RenderOptions) -> bytes:
    """The flowchart as ``options.format``: dot (text), or svg/png/pdf through Graphviz."""
    if options.format == "dot":
        return to_dot(process, options).encode("utf-8")
    return route(process, options, options.format)


def route(process: Process, options: RenderOptions, fmt: str) -> bytes:
    """The pinned flowchart routed and drawn by Graphviz as ``fmt`` (svg, png, pdf, json).

    Graphviz routes the edges once (``-Tjson``); edge labels that collide are moved along
    their edge (:mod:`flowsim.render.labels`), and the routes are written into the DOT that
    Graphviz then only draws. Graphviz 2.43's orthogonal router aborts (``maze.c:
    chkSgraph``) when two node sides are a hair apart, e.g. 0.0008 pt, which a wrapped layout
    can produce: then the layout is snapped (whole-point centres, even-point sizes) and
    routed again; pictures that route the first time keep their exact geometry.
    """
    source = pinned_dot(process, options)
    try:
        routed = run_dot(source, "json", pinned=True)
    except GraphvizError as err:
        if "maze.c" not in str(err):
            raise
        source = pinned_dot(process, options, snap=True)
        routed = run_dot(source, "json", pinned=True)
    return run_dot(with_routes(source, place_labels(routed, source)), fmt, pinned=True)


def resolve(options: RenderOptions) -> tuple[RenderOptions, bool]:
    """The options with a concrete direction, and whether the flow may wrap into rows.

    ``direction="auto"`` draws left to right and wraps a flow longer than :data:`ROW_MAX`
    into rows (top to bottom would make a long process a tall strip, and its width grows
    with the lanes); an explicit ``LR`` or ``TB`` is drawn as asked, in one piece.
    """
    if options.direction == "auto":
        return options.model_copy(update={"direction": "LR"}), True
    return options, False


def pinned_dot(process: Process, options: RenderOptions, *, snap: bool = False) -> str:
    """The DOT that draws the flowchart: every node pinned where flowsim's lane layout put it
    (Graphviz only routes the edges: ``run_dot(..., pinned=True)``)."""
    concrete, wrap = resolve(options)
    return _Builder(process, concrete, layout(process, concrete, wrap=wrap, snap=snap)).build()
