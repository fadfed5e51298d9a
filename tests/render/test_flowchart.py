"""The swimlane flowchart: DOT structure, the lane layout, overlay, safety, real `dot`."""

from __future__ import annotations

import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import flowsim
from flowsim.model import Process
from flowsim.overlay import EdgeFigures, Overlay, StageFigures
from flowsim.render import GraphvizMissing, render
from flowsim.render.flowchart import to_dot
from flowsim.render.options import RenderOptions
from tests.render.conftest import HOSTILE, check_golden

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
EXAMPLES = [("b2b-cn", "zh"), ("saas-en", "en")]


def load(name: str) -> Process:
    return flowsim.load(ROOT / "examples" / f"{name}.flow")


@pytest.mark.parametrize(("name", "lang"), EXAMPLES)
def test_golden_dot_and_svg(name: str, lang: str) -> None:
    p = load(name)
    check_golden(f"flowchart-{name}.dot", to_dot(p, RenderOptions(lang=lang)))
    svg = render(p, view="flowchart", format="svg", lang=lang).decode("utf-8")
    check_golden(f"flowchart-{name}.svg", svg)


def test_golden_entry_mix() -> None:
    """The start marker has an edge to each entry of a mix, labelled with its share."""
    p = flowsim.load(ROOT / "examples" / "language" / "19-entry-mix.flow")
    dot = to_dot(p, RenderOptions(lang="en"))
    check_golden("flowchart-entry-mix.dot", dot)
    svg = render(p, view="flowchart", format="svg", lang="en").decode("utf-8")
    check_golden("flowchart-entry-mix.svg", svg)
    starts = [line.strip() for line in dot.splitlines() if line.strip().startswith("start ->")]
    assert [s.split(" [")[0] for s in starts] == ["start -> s0", "start -> s1"]
    assert "label=<70%>" in starts[0] and "label=<30%>" in starts[1]
    assert dot.count('class="stage entry"') == 2


def test_golden_parallel_block() -> None:
    """A parallel block draws a fork bar after its source and a join bar before the join;
    the block's own edges carry no percentage, a branch's share to the join does."""
    p = flowsim.load(ROOT / "examples" / "language" / "20-parallel.flow")
    dot = to_dot(p, RenderOptions(lang="en"))
    check_golden("flowchart-parallel.dot", dot)
    svg = render(p, view="flowchart", format="svg", lang="en").decode("utf-8")
    check_golden("flowchart-parallel.svg", svg)
    bars = [
        line.strip() for line in dot.splitlines() if line.strip().startswith(("fork0 [", "join0 ["))
    ]
    assert len(bars) == 2 and all("fixedsize=true" in b and 'label=""' in b for b in bars)
    edges = {line.strip().split(" [")[0]: line for line in dot.splitlines() if " -> " in line}
    # proposal (s0) -> fork; fork -> legal (s1) and validation (s2); sign-off (s3) -> join
    for edge in ("s0 -> fork0", "fork0 -> s1", "fork0 -> s2", "s3 -> join0", "join0 -> s4"):
        assert "parallel" in edges[edge] and "label=" not in edges[edge]
    assert "label=<90%>" in edges["s1 -> join0"]  # legal's share that ends its branch
    root = ET.fromstring(svg)
    classes = [g.get("class") for g in root.iter(f"{SVG}g")]
    assert classes.count("node fork") == 1 and classes.count("node join") == 1


def test_one_entry_has_an_unlabelled_start_edge() -> None:
    dot = to_dot(load("saas-en"), RenderOptions(lang="en"))
    (start,) = [line for line in dot.splitlines() if line.strip().startswith("start ->")]
    assert "label=" not in start


def test_deterministic() -> None:
    p = load("b2b-cn")
    assert render(p, format="svg") == render(p, format="svg")
    assert render(p, format="png") == render(p, format="png")
    assert render(p, format="pdf") == render(p, format="pdf")


def _boxes(svg: bytes) -> dict[str, tuple[float, float, float, float]]:
    """Bounding boxes of SVG groups by id (from their first polygon or path/ellipse)."""
    root = ET.fromstring(svg)
    out: dict[str, tuple[float, float, float, float]] = {}
    for g in root.iter(f"{SVG}g"):
        gid = g.get("id", "")
        shape = next((el for el in g.iter() if el.tag in (f"{SVG}polygon", f"{SVG}path")), None)
        if shape is None:
            continue
        geometry = shape.get("points") or shape.get("d") or ""
        nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", geometry)]
        xs, ys = nums[0::2], nums[1::2]
        if xs and ys:
            out[gid] = (min(xs), min(ys), max(xs), max(ys))
    return out


@pytest.mark.parametrize("direction", ["LR", "TB"])
def test_lanes_follow_declaration_order_and_hold_their_stages(direction: str) -> None:
    p = load("b2b-cn")
    boxes = _boxes(render(p, format="svg", direction=direction))
    lanes = [boxes[f"lane-{i}"] for i in range(4)]
    axis = 1 if direction == "LR" else 0  # lanes stack down (LR) or across (TB)
    starts = [box[axis] for box in lanes]
    assert starts == sorted(starts), starts
    # stage i's owner department is lane: contact,needs -> sales(0); design -> presales(1); ...
    for stage, lane in (("stage-0", 0), ("stage-1", 0), ("stage-2", 1), ("stage-3", 2)):
        x0, y0, x1, y1 = boxes[stage]
        lx0, ly0, lx1, ly1 = lanes[lane]
        assert lx0 <= x0 and x1 <= lx1 and ly0 <= y0 and y1 <= ly1, (stage, lane)


def test_structure_of_the_dot() -> None:
    dot = to_dot(load("b2b-cn"), RenderOptions(lang="zh"))
    assert dot.count("subgraph cluster_lane") == 4
    assert 'class="flow rework"' in dot and "constraint=false" in dot
    assert "newrank=true" in dot
    # lost, which four stages in three departments lead to, is drawn once in each lane
    assert re.findall(r"^\s+(o1_l\d+) \[", dot, re.M) == ["o1_l0", "o1_l1", "o1_l2"]
    assert len(re.findall(r"-> o1_l0 ", dot)) == 2  # from both sales stages
    assert 'class="stage entry"' in dot
    assert "start -> s0" in dot


def test_lanes_by_role_and_unassigned() -> None:
    p = flowsim.parse(
        "department d\nrole a in d\nrole b\nstage x owner a\nstage y owner b\nstage z\n"
        "outcome won\nx -> y\ny -> z\nz -> won\n"
    )
    by_dept = to_dot(p, RenderOptions())
    assert by_dept.count("subgraph cluster_lane") == 2  # d, unassigned
    assert "unassigned" in by_dept
    by_role = to_dot(p, RenderOptions(lanes="role"))
    assert by_role.count("subgraph cluster_lane") == 3  # a, b, unassigned


@pytest.mark.parametrize("detail", ["none", "brief", "full"])
def test_detail_levels(detail: str) -> None:
    dot = to_dot(load("saas-en"), RenderOptions(detail=detail))
    assert ("goal:" in dot) is (detail != "none")
    assert ("effort ≈" in dot) is (detail == "full")


def test_touchpoint_notes() -> None:
    dot = to_dot(load("b2b-cn"), RenderOptions(touchpoints=True, lang="zh"))
    assert dot.count('class="touchpoints"') == 4
    assert "表单字段太多" in dot


def test_overlay_colours_stages_and_sizes_edges() -> None:
    p = load("b2b-cn")
    overlay = Overlay(
        source="test figures",
        stages={
            "contact": StageFigures(dwell_hours=10),
            "needs": StageFigures(dwell_hours=50),
            "design": StageFigures(dwell_hours=200),
            "negotiate": StageFigures(dwell_hours=80),
        },
        edges=(
            EdgeFigures(source="contact", target="needs", count=600),
            EdgeFigures(source="needs", target="design", count=300),
            EdgeFigures(source="design", target="negotiate", count=60),
        ),
    )
    opts = RenderOptions(overlay=overlay, color_by="dwell", lang="zh")
    dot = to_dot(p, opts)
    theme = opts.theme
    assert f'fillcolor="{theme.heat[-1]}"' in dot  # design, the slowest, is darkest
    assert f'fillcolor="{theme.heat[0]}"' in dot
    assert 'id="legend"' in dot and "test figures" in dot
    flows = dot.split("legend")[0]
    widths = [float(w) for w in re.findall(r"penwidth=(\d+\.\d+)", flows)]
    assert max(widths) == pytest.approx(6.0)
    svg = render(p, format="svg", overlay=overlay, color_by="dwell", lang="zh")
    ET.fromstring(svg)


def test_overlay_from_file(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text(
        '{"stages": {"contact": {"leakage": 0.4}}, "roles": {"se": {"utilization": 0.9}}}'
    )
    overlay = Overlay.load(path)
    assert overlay.stage_value("contact", "leakage") == 0.4
    assert overlay.stage_value("design", "utilization", owner="se") == 0.9


def _hostile_process(text: str) -> Process:
    from flowsim.model import Department, Outcome, Role, Stage, Touchpoint, Transition

    return Process(
        name=text,
        departments=(Department(id="d", label=text),),
        roles=(Role(id="r", label=text, department="d"),),
        stages=(
            Stage(
                id="a",
                label=text,
                owner="r",
                goals=(text,),
                exits=(text,),
                touchpoints=(Touchpoint(name=text, channel="web", emotion=2, pains=(text,)),),
            ),
        ),
        outcomes=(Outcome(id="won", label=text, result="won"),),
        transitions=(Transition(source="a", target="won", label=text),),
    )


def _graph_shape(dot: str) -> tuple[list[str], list[str]]:
    plain = subprocess.run(["dot", "-Tplain"], input=dot.encode(), capture_output=True, check=True)
    lines = plain.stdout.decode().splitlines()
    nodes = sorted(line.split()[1] for line in lines if line.startswith("node "))
    edges = sorted(" ".join(line.split()[1:3]) for line in lines if line.startswith("edge "))
    return nodes, edges


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_labels_are_inert(text: str) -> None:
    p = _hostile_process(text)
    opts = RenderOptions(detail="full", touchpoints=True)
    dot = to_dot(p, opts)
    # The DOT is well-formed: dot accepts it (and would complain about injected syntax).
    proc = subprocess.run(["dot", "-Tcanon"], input=dot.encode(), capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    # Same nodes and edges as the same process with a harmless label: nothing was injected.
    benign = to_dot(_hostile_process("plain"), opts)
    assert _graph_shape(dot) == _graph_shape(benign)
    svg = render(p, format="svg", detail="full", touchpoints=True)
    root = ET.fromstring(svg)  # well-formed XML
    assert not [el for el in root.iter() if el.tag.endswith("script")]
    assert not [el for el in root.iter() if any(k.startswith("on") for k in el.attrib)]
    assert b"<script" not in svg


def test_chinese_renders_as_glyphs_in_pdf_and_png() -> None:
    fonts = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True).stdout
    assert fonts.strip(), "a CJK font must be installed (make test installs fonts-wqy-microhei)"
    p = load("b2b-cn")
    pdf = render(p, format="pdf", lang="zh")
    assert pdf.startswith(b"%PDF")
    assert re.search(rb"/FontName\s*/[A-Z]{6}\+(WenQuanYi|NotoSansCJK|SourceHanSans)", pdf), (
        "the PDF must embed a CJK font"
    )
    png = render(p, format="png", lang="zh")
    assert png.startswith(b"\x89PNG")


def test_missing_dot_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    p = load("b2b-cn")
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(p, format="svg")
    assert render(p, format="dot").startswith(b"digraph")


def test_500_stages_render() -> None:
    import sys

    sys.path.insert(0, str(ROOT / "bench"))
    from generate import generate

    p = flowsim.parse(generate(500))
    svg = render(p, format="svg")
    root = ET.fromstring(svg)
    stages = [g for g in root.iter(f"{SVG}g") if (g.get("class") or "").startswith("node stage")]
    assert len(stages) == 500


def test_a_blank_label_is_drawn_as_the_id() -> None:
    """``stage a ""`` passes `flowsim check`; drawn, it shows its id (Graphviz refused the
    empty bold text the blank label used to make, so the picture failed)."""
    process = flowsim.parse(
        'process "p" {\n  arrivals 5 per week\n}\ndepartment d "  "\n'
        'role rep in d headcount 1\nstage a "" {\n  owner rep\n  effort 1h\n}\n'
        "outcome won result won\noutcome lost result lost\na -> won 50%\na -> lost\n"
    )
    assert process.stages[0].display == "a"
    svg = render(process, format="svg").decode()
    texts = [t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}text")]
    assert "a" in texts and "d" in texts
