"""Layout at scale: big processes stay readable at page width (issue 16).

The goals are measured the way ``bench/bench_layout.py`` measures them: from Graphviz's
``-Tjson`` of the very DOT that draws the flowchart (exact text widths), and from the journey
map's SVG; the processes come from the bench's seeded generator (5 departments, the owner
changing department at two stages in three, rework loops, three outcomes).
"""

from __future__ import annotations

import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import flowsim
from flowsim.model import Process
from flowsim.render import flowchart
from flowsim.render.options import RenderOptions
from tests.render.long_flow import long_process

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from layout_gen import generate  # noqa: E402
from layout_measure import from_graphviz_json, from_journey_svg, label_overlaps  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"


def generated(stages: int) -> Process:
    return flowsim.parse(generate(stages))


def chart_json(process: Process, **options: str) -> bytes:
    return flowchart.route(process, RenderOptions(**options), "json")  # type: ignore[arg-type]


def copies_per_lane(raw: bytes) -> dict[tuple[str, str], int]:
    """How many times each outcome is drawn in each lane band (by its tooltip)."""
    data = json.loads(raw)
    lane_of = {
        gvid: obj["name"]
        for obj in data["objects"]
        if obj["name"].startswith("cluster")
        for gvid in obj.get("nodes", [])
    }
    counts: dict[tuple[str, str], int] = {}
    for obj in data["objects"]:
        if str(obj.get("class", "")).startswith("outcome"):
            key = (obj["tooltip"], lane_of.get(obj["_gvid"], ""))
            counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.parametrize("stages", [30, 60])
def test_generated_processes_meet_the_page_width_goals(stages: int) -> None:
    raw = chart_json(generated(stages))
    g = from_graphviz_json(raw)
    assert g.min_text_px >= 7.0, "smallest text at 1,600 px"
    assert g.fitted[1] <= 8000.0, "height at 1,600 px"
    assert label_overlaps(g) == []
    counts = copies_per_lane(raw)
    assert max(counts.values()) == 1
    lost = [lane for (name, lane), _ in counts.items() if name == "Lost"]
    assert len(lost) > 5, "lost is drawn in the lanes (of every row) that lead to it"


@pytest.mark.parametrize("name", ["saas-en", "b2b-cn", "language/19-entry-mix"])
def test_no_label_of_a_bundled_example_overlaps_anything(name: str) -> None:
    """In the entry-mix example the router put "60%" on the Proposal box; it is moved."""
    g = from_graphviz_json(chart_json(flowsim.load(ROOT / "examples" / f"{name}.flow")))
    assert label_overlaps(g) == []


def test_a_long_flow_wraps_into_rows_and_an_explicit_direction_does_not() -> None:
    p = generated(30)
    auto = flowchart.layout(p, RenderOptions(direction="LR"), wrap=True)
    one_piece = flowchart.layout(p, RenderOptions(direction="LR"))
    assert auto.bb[2] <= flowchart.ROW_MAX + 100 < one_piece.bb[2]
    lanes = {b.lane for b in auto.bands if b.lane >= 0}
    assert len(lanes) == 5
    assert len([b for b in auto.bands if b.lane >= 0]) > 2 * len(lanes), "lanes repeat per row"
    assert len([b for b in one_piece.bands if b.lane >= 0]) == 5
    # every stage is drawn exactly once, in one band of its own department
    drawn = [n for b in auto.bands for n in b.nodes if re.fullmatch(r"s\d+", n)]
    assert sorted(drawn) == sorted(f"s{i}" for i in range(30))


def test_a_parallel_block_in_a_wrapped_flow_keeps_its_bars_with_their_stages() -> None:
    """The fork bar is drawn in the band (row and lane) of the block's source, the join bar
    in the band of the stage it joins into, each once; the block's own edges are routed and
    no label overlaps anything."""
    p = flowsim.parse(long_process())  # s20 -> parallel { b1, b2 -> b3 } -> s21, 40 stages
    lay = flowchart.layout(p, RenderOptions(direction="LR"), wrap=True)
    assert lay.bb[2] <= flowchart.ROW_MAX + 100  # wrapped
    y = {name: pos[1] for name, pos in lay.pos.items()}

    def band(name: str) -> int:
        (index,) = [i for i, b in enumerate(lay.bands) if b.box[1] <= y[name] <= b.box[3]]
        return index

    assert band("fork0") == band("s20") and band("join0") == band("s21")
    assert band("s20") != band("s21")  # the block crosses a row: both bars still belong
    raw = chart_json(p)
    edges = {(e["tail"], e["head"]) for e in json.loads(raw)["edges"]}
    names = {o["_gvid"]: o["name"] for o in json.loads(raw)["objects"]}
    drawn = {(names[a], names[b]) for a, b in edges}
    # b1, b2, b3 are s40, s41, s42: fork -> each branch, the bare end and b1's share -> join
    for a, b in (("s20", "fork0"), ("fork0", "s40"), ("fork0", "s41"), ("s42", "join0")):
        assert (a, b) in drawn
    assert ("s40", "join0") in drawn and ("join0", "s21") in drawn
    assert any(a == "s40" and b.startswith("o1_l") for a, b in drawn), "to its lane's lost"
    assert label_overlaps(from_graphviz_json(raw)) == []


def test_small_processes_do_not_wrap() -> None:
    p = flowsim.load(ROOT / "examples" / "saas-en.flow")
    auto = flowchart.pinned_dot(p, RenderOptions())
    assert auto == flowchart.pinned_dot(p, RenderOptions(direction="LR"))


def test_lanes_are_reordered_only_when_that_shortens_crossing_edges() -> None:
    weights = {(0, 2): 5, (1, 2): 1}  # lanes 0 and 2 talk a lot; 1 sits between them
    assert flowchart.lane_order(["a", "b", "c"], weights) == ["a", "c", "b"]
    chain = {(0, 1): 1, (1, 2): 1, (2, 3): 1}
    assert flowchart.lane_order(["a", "b", "c", "d"], chain) == ["a", "b", "c", "d"]
    # beyond 7 lanes a local search: a lane that talks only to the first moves next to it
    many = {(i, i + 1): 2 for i in range(8)} | {(0, 9): 9}
    order = flowchart.lane_order(list("abcdefghij"), many)
    assert abs(order.index("a") - order.index("j")) == 1


def test_a_layout_the_router_cannot_take_is_snapped_and_routed() -> None:
    """Seed 2's 60 stages put two node sides 0.0008 pt apart: Graphviz 2.43's orthogonal
    router aborts on it (maze.c), so the layout is snapped to whole points and routed."""
    p = flowsim.parse(generate(60, seed=2))
    g = from_graphviz_json(chart_json(p))
    assert len(g.nodes) > 60
    assert g.min_text_px >= 7.0
    assert label_overlaps(g) == []


def test_the_picture_is_deterministic() -> None:
    p = generated(30)
    assert flowsim.render(p, format="svg") == flowsim.render(p, format="svg")


def test_journey_wraps_its_phases_into_rows() -> None:
    p = generated(12)
    svg = flowsim.render(p, view="journey")
    g = from_journey_svg(svg)
    assert g.min_text_px >= 7.0
    assert label_overlaps(g) == []
    root = ET.fromstring(svg)
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), "ids stay unique across rows"
    assert {"phases", "phases-2"} <= set(ids) and "phases-3" not in ids  # 12 = 6 + 6
    heads = [el for el in root.iter(f"{SVG}g") if re.fullmatch(r"phase-\d+", el.get("id", ""))]
    assert len(heads) == 12


@pytest.mark.parametrize("stages", [30, 60])
def test_journey_of_a_long_process_is_readable_at_page_width(stages: int) -> None:
    g = from_journey_svg(flowsim.render(generated(stages), view="journey"))
    assert g.min_text_px >= 7.0
    assert g.fitted[1] <= 8000.0


def test_journey_draws_a_parallel_band_in_each_row_its_branches_span() -> None:
    """21 phases wrap into rows of 7; the block's branches are phases 12-14 (0-based), so its
    band is drawn over the last two phases of row 2 and the first of row 3, where its text
    takes two lines and the band grows to hold them."""
    p = flowsim.parse(long_process(stages=18, fork_at=11))
    root = ET.fromstring(flowsim.render(p, view="journey"))
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), "ids stay unique across rows"
    bands = {el.get("id"): el for el in root.iter(f"{SVG}g") if el.get("class") == "parallel"}
    assert set(bands) == {"parallel-0-2", "parallel-0-3"}
    widths = []
    for band in bands.values():
        rect = band.find(f"{SVG}rect")
        assert rect is not None
        top, height = float(rect.get("y", 0)), float(rect.get("height", 0))
        widths.append(float(rect.get("width", 0)))
        lines = [
            (float(t.get("y", 0)), float(t.get("font-size", 0))) for t in band.iter(f"{SVG}text")
        ]
        # every line, its descenders too (a quarter of the size below the baseline), inside
        assert lines and all(top + size < y and y + size / 4 < top + height for y, size in lines)
    assert widths[0] > 1.5 * widths[1]  # two columns, then one


def test_a_wrapped_journey_draws_the_measured_scores_in_each_row() -> None:
    """The measured curve (feedback) follows the rows: each row's marks sit over its own
    touchpoints, inside the map, with ids of their own."""
    from flowsim.render.options import MeasuredPoint

    p = generated(12)  # 12 phases: two rows of 6
    anchors = [(s.id, tp.name) for s in p.stages for tp in s.touchpoints]
    measured = tuple(MeasuredPoint(stage=s, touchpoint=t, mean=3.0) for s, t in anchors)
    svg = flowsim.render(p, view="journey", measured=measured)
    root = ET.fromstring(svg)
    ids = [el.get("id") for el in root.iter() if el.get("id")]
    assert len(ids) == len(set(ids)), "ids stay unique across rows"
    assert {"measured", "measured-2", "measured-curve", "measured-curve-2"} <= set(ids)
    width = float(root.get("width", "0").removesuffix("px"))
    marks = 0
    for gid in ("measured", "measured-2"):
        (layer,) = [g for g in root.iter(f"{SVG}g") if g.get("id") == gid]
        curve = layer.find(f"{SVG}path")
        assert curve is not None
        xs = [float(v) for v in re.findall(r"[ML]([\d.]+),", curve.get("d", ""))]
        assert xs and max(xs) < width, "every mark within the map's width"
        marks += len(xs)
    assert marks == len(anchors), "each touchpoint measured once, in its own row"
