"""The swimlane flowchart: the process as Graphviz DOT, laid out by ``dot``.

Layout rules (and the Graphviz traps they avoid):

* One lane (cluster) per department in declared order (``--lanes role``: per role), holding
  the stages whose owner belongs to it; stages without one go to an "unassigned" lane.
  Clusters do not line up like lanes by themselves: ``newrank=true`` plus an invisible anchor
  node per lane, all in one rank and chained by invisible edges, pins their order.
* Ranks follow the flow: transitions that go back (rework loops, see
  :func:`flowsim.graph.back_edges`) are drawn dashed with ``constraint=false`` so a loop does
  not pull the whole layout backwards.
* A lost outcome that many stages leak into is drawn once per source stage, next to it,
  instead of one node with edges from everywhere: at 50 stages this is what keeps the
  picture readable.
* Labels are Graphviz HTML-like tables; long Chinese labels are wrapped by display width
  (they have no spaces to break at). Every user string goes through :mod:`flowsim.render.text`.

Node ids are generated (``s0``, ``o1``...), never user ids, so any label is safe and the output
is deterministic.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flowsim.graph import back_edges, fork_key, join_gateways, join_key, phase_order
from flowsim.model import Distribution, Outcome, Process, Stage
from flowsim.render.graphviz import run_dot
from flowsim.render.i18n import words
from flowsim.render.options import RenderOptions
from flowsim.render.text import dot_string, html_label_text, truncate, wrap
from flowsim.render.theme import Theme

__all__ = ["pinned_dot", "render", "to_dot"]

LABEL_WIDTH = 22  # display columns per line of a stage label (11 Chinese characters)
DETAIL_WIDTH = 30
SPLIT_LOST_AT = 3  # a lost outcome with this many sources or more is drawn per source


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
class Layout:
    """Pinned geometry in points (Graphviz coordinates, y up): flowsim's lane layout."""

    pos: dict[str, tuple[float, float]]
    lanes: list[tuple[float, float, float, float]]  # cluster boxes, lane order
    bb: tuple[float, float, float, float]
    title: tuple[float, float] | None = None


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
        return f', pos="{x:.2f},{y:.2f}"'

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
            if key is None and isinstance(node, Outcome):
                continue  # ownerless outcomes sit outside the lanes
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

        One builder writes both passes (see :func:`layout`): the sizing pass, which ``dot``
        ranks, and the pinned pass, which it only routes; the steps differ on ``layout``.
        """
        self.lines.append("digraph flowsim {")
        self.defaults()
        split = self.split_outcomes()
        lanes = self.lanes()
        order = {sid: i for i, sid in enumerate(phase_order(self.p))}
        for i, lane in enumerate(lanes):
            self.lane(i, lane, split, order)
        self.unlaned({node for lane in lanes for node in lane.members}, split)
        self.gateways()
        self.entry_marker(lanes)
        if self.layout is None and not self.sizing:
            self.anchor_lanes(lanes, order)
        self.edges(split)
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
            self.emit(
                f'title [id="title", class="title", shape=plaintext, style="", '
                f"fontsize={t.font_size + 5:g}, label={dot_string(p.name)}, "
                f'pos="{tx:.2f},{ty:.2f}"]'
            )

    def lane(self, i: int, lane: _Lane, split: dict[str, list[str]], order: dict[str, int]) -> None:
        """Lane ``i`` as a subgraph: its box (a cluster), anchor and nodes in flow order."""
        t = self.t
        # The sizing pass draws no lanes: clusters cost dot 20x the time at 500 stages,
        # and flowsim stacks the lanes itself afterwards.
        boxed = not self.sizing and self.o.lanes != "none"
        self.emit(f"subgraph cluster_lane{i} {{" if boxed else f"subgraph lane{i} {{")
        fill = t.lane_fills[i % len(t.lane_fills)] if t.lane_fills else t.background
        lane_label = self.font("<B>" + html_label_text(lane.label) + "</B>", color=t.lane_label)
        box = ""
        if self.layout is not None:
            box = ', bb="' + ",".join(f"{v:.2f}" for v in self.layout.lanes[i]) + '"'
        if boxed:
            self.emit(
                f"graph [label=<{lane_label}>, "
                f'labeljust=l, labelloc=t, style="filled", fillcolor={dot_string(fill)}, '
                f'color={dot_string(t.lane_border)}, id="lane-{i}", class="lane"{box}]',
                2,
            )
        if self.layout is None and not self.sizing:
            self.emit(f'lane{i} [style=invis, shape=point, width=0, height=0, label=""]', 2)
        stages = {s.id: s for s in self.p.stages}
        outcomes = {x.id: x for x in self.p.outcomes}
        for node_id in sorted(lane.members, key=lambda n: order.get(n, len(order))):
            if node_id in stages:
                self.stage_with_extras(stages[node_id], split, 2)
            elif node_id not in split.get("__outcomes__", []):
                self.outcome_node(self.ids[node_id], outcomes[node_id], 2)
        self.emit("}")

    def stage_with_extras(self, s: Stage, split: dict[str, list[str]], depth: int) -> None:
        """A stage, its touchpoint note and its own copies of the split lost outcomes."""
        outcomes = {x.id: x for x in self.p.outcomes}
        self.stage_node(s, depth)
        self.touchpoint_notes(s, depth)
        for tgt in split.get(s.id, []):
            self.outcome_node(self.split_id(s.id, tgt), outcomes[tgt], depth, small=True)

    def unlaned(self, placed: set[str], split: dict[str, list[str]]) -> None:
        """The nodes no lane holds: every stage with lanes off, and ownerless outcomes."""
        for s in self.p.stages:
            if s.id not in placed:
                self.stage_with_extras(s, split, 1)
        for outcome in self.p.outcomes:
            if outcome.id not in placed and outcome.id not in split.get("__outcomes__", []):
                self.outcome_node(self.ids[outcome.id], outcome, 1)

    def anchor_lanes(self, lanes: list[_Lane], order: dict[str, int]) -> None:
        """Invisible anchors, one rank and chained, that keep the lanes in declared order."""
        anchors = [f"lane{i}" for i in range(len(lanes))]
        if len(anchors) > 1:
            self.emit("{rank=same; " + "; ".join(anchors) + "}")
            self.emit(" -> ".join(anchors) + " [style=invis]")
        for anchor, lane in zip(anchors, lanes, strict=True):
            first = sorted(lane.members, key=lambda n: order.get(n, len(order)))[0]
            self.emit(f"{anchor} -> {self.ids[first]} [style=invis, weight=0]")

    def gateways(self) -> None:
        """A parallel block's fork and join as bars across the flow (BPMN's AND gateways)."""
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

    def split_outcomes(self) -> dict[str, list[str]]:
        """Lost outcomes drawn once per source: {source stage: [outcome ids]}."""
        sources: dict[str, list[str]] = {}
        for tr in self.p.transitions:
            sources.setdefault(tr.target, [])
            if tr.source not in sources[tr.target]:
                sources[tr.target].append(tr.source)
        split: dict[str, list[str]] = {"__outcomes__": []}
        for x in self.p.outcomes:
            if x.result == "lost" and len(sources.get(x.id, [])) >= SPLIT_LOST_AT:
                split["__outcomes__"].append(x.id)
                for src in sources[x.id]:
                    split.setdefault(src, []).append(x.id)
        return split

    def split_id(self, source: str, outcome: str) -> str:
        return f"{self.ids[outcome]}_{self.ids[source]}"

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

    def edges(self, split: dict[str, list[str]]) -> None:
        t = self.t
        top = self.edge_scale()
        outcomes = {x.id: x for x in self.p.outcomes}
        joins = join_gateways(self.p)
        for tr, prob in ((tr, pr) for s in self.p.stages for tr, pr in self.p.outgoing(s.id)):
            src = self.ids[tr.source]
            if (tr.source, tr.target) in joins:  # a branch done: to the join bar
                dst = self.ids[joins[(tr.source, tr.target)]]
            elif tr.target in split.get(tr.source, []):
                dst = self.split_id(tr.source, tr.target)
            else:
                dst = self.ids[tr.target]
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
    return _Builder(process, options or RenderOptions()).build()


# ---- lane layout -------------------------------------------------------------------------------

GAP = 18.0  # points between nodes across the lane axis
RANK_GAP = 10.0  # points between nodes along the rank axis that share a row
LANE_PAD = 12.0
LANE_LABEL = 24.0  # room for the lane's name
TITLE = 34.0


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


def layout(process: Process, options: RenderOptions) -> Layout:
    """Where every node goes: ``dot`` ranks the flow, flowsim stacks the lanes.

    ``dot`` alone cannot keep clusters in a given order, so it is run once to rank the flow,
    size every node and order nodes within a lane; then each lane becomes a band, in the
    order the departments (or roles) were declared, and nodes that would overlap along the
    flow are put on separate rows of their band. Graphviz then only routes the edges.
    """
    builder = _Builder(process, options, sizing=True)
    data = json.loads(run_dot(builder.build(), "json0"))
    boxes = _json_boxes(data, options.direction)
    lanes = builder.lanes()
    groups = _lane_groups(builder, lanes, boxes)
    bands = _stack_bands(groups, boxes, TITLE if options.title else 0.0)
    return _orient(bands, boxes, len(lanes), options)


class _Bands(NamedTuple):
    """Lanes stacked across the flow: node centres (along, across), band extents, the end."""

    pos: dict[str, tuple[float, float]]
    bands: list[tuple[float, float]]  # (start, end) across, growing downwards/rightwards
    total: float


def _lane_groups(builder: _Builder, lanes: list[_Lane], boxes: dict[str, _Box]) -> list[list[str]]:
    """The sized nodes of each lane (its stages' notes, lost markers and the start marker
    with them), then one more group for what no lane holds."""
    split = builder.split_outcomes()
    ids = builder.ids
    entry = builder.p.entry
    groups: list[list[str]] = []
    assigned: set[str] = set()
    for lane in lanes:
        names: list[str] = []
        for node in lane.members:
            nid = ids[node]
            if node in split.get("__outcomes__", []):
                continue
            names.append(nid)
            names.extend(n for n in (f"{nid}_tp",) if n in boxes)
            names.extend(builder.split_id(node, o) for o in split.get(node, []))
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


def _across_key(box: _Box, boxes: dict[str, _Box]) -> float:
    """Across-flow order: a stage's notes and its lost marker stay just after it."""
    name = box.name
    if name.endswith("_tp") and name[:-3] in boxes:
        return boxes[name[:-3]].c + 0.5
    if name.startswith("o") and "_" in name:
        owner = name.split("_", 1)[1]
        if owner in boxes:
            return boxes[owner].c + 0.25
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


def _stack_bands(groups: list[list[str]], boxes: dict[str, _Box], cursor: float) -> _Bands:
    """Each group a band of rows, one after another across the flow from ``cursor``."""
    pos: dict[str, tuple[float, float]] = {}
    bands: list[tuple[float, float]] = []
    for g in groups:
        start = cursor
        cursor += LANE_LABEL + LANE_PAD
        for row in _rows(g, boxes):
            height = max(b.across for b in row)
            for b in row:
                pos[b.name] = (b.r, cursor + height / 2)
            cursor += height + GAP
        cursor += LANE_PAD - GAP
        bands.append((start, cursor))
        cursor += 6.0
    return _Bands(pos, bands, cursor)


def _orient(bands: _Bands, boxes: dict[str, _Box], lanes: int, options: RenderOptions) -> Layout:
    """Flow-axis and across-axis positions as Graphviz points (y up) for the direction."""
    r_min = min((b.r - b.along / 2 for b in boxes.values()), default=0.0)
    r_max = max((b.r + b.along / 2 for b in boxes.values()), default=0.0)
    total = bands.total
    margin = 16.0
    lo, hi = r_min - margin, r_max + margin
    out_pos: dict[str, tuple[float, float]] = {}
    lane_boxes: list[tuple[float, float, float, float]] = []
    if options.direction == "LR":
        for name, (r, c) in bands.pos.items():
            out_pos[name] = (r - lo, total - c)
        for band_start, band_end in bands.bands[:lanes]:
            lane_boxes.append((0.0, total - band_end, hi - lo, total - band_start))
        bb = (0.0, 0.0, hi - lo, total)
        title = (80.0, total - TITLE / 2) if options.title else None
    else:
        span = hi - lo
        top = span + (TITLE if options.title else 0.0) + LANE_LABEL
        for name, (r, c) in bands.pos.items():
            out_pos[name] = (c, top - LANE_LABEL - (r - lo))
        for band_start, band_end in bands.bands[:lanes]:
            lane_boxes.append((band_start, 0.0, band_end, span + LANE_LABEL))
        bb = (0.0, 0.0, total, top)
        title = (80.0, top - TITLE / 2) if options.title else None
    return Layout(out_pos, lane_boxes, bb, title)


def render(process: Process, options: RenderOptions) -> bytes:
    """The flowchart as ``options.format``: dot (text), or svg/png/pdf through Graphviz."""
    if options.format == "dot":
        return to_dot(process, options).encode("utf-8")
    return run_dot(pinned_dot(process, options), options.format, pinned=True)


def pinned_dot(process: Process, options: RenderOptions) -> str:
    """The DOT that draws the flowchart: every node pinned where flowsim's lane layout put it
    (Graphviz only routes the edges: ``run_dot(..., pinned=True)``)."""
    return _Builder(process, options, layout(process, options)).build()
