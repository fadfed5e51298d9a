"""Mermaid exports, checked by Mermaid's own parser.

Every diagram this module builds is parsed once per session by ``tests/js/mermaid-parse.mjs``
(the pinned ``mermaid`` npm package under Node, with jsdom for DOMPurify), in one batch. The
script reports whether ``mermaid.parse`` accepted the text and what Mermaid understood (nodes,
edges, subgraphs, sections, tasks, scores, actors, requested config), so the tests can check
that user text stayed text: hostile labels must come back as exactly the labels we wrote,
with no extra nodes, links, click handlers, directives or sections.
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import flowsim
from flowsim.graph import back_edges, fork_key, join_gateways, join_key, phase_order
from flowsim.model import (
    Department,
    Outcome,
    Persona,
    Process,
    Role,
    Stage,
    Touchpoint,
    Transition,
)
from flowsim.render.mermaid import (
    FLOWCHART_SUBSTITUTES,
    JOURNEY_SUBSTITUTES,
    MermaidExport,
    export,
    flowchart,
    journey,
    mermaid_label,
    render,
)
from flowsim.render.options import RenderOptions
from flowsim.render.theme import Theme

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "tests" / "js"
SCRIPT = JS / "mermaid-parse.mjs"
GOLDEN = Path(__file__).parent / "golden"
EXAMPLES = ROOT / "examples"

sys.path.insert(0, str(ROOT / "bench"))
from generate import generate  # type: ignore[import-not-found]  # noqa: E402

HOSTILE = [
    '<script>alert(1)</script>" onload="x',
    "]]>",
    "end",
    "subgraph",
    "click s0 call alert()",
    '%%{init: {"securityLevel":"loose"}}%%',
    "first line\nsecond line\r\nthird",
    "`**markdown**` and ``code``",
    "a --> b -.-> c ==> d",
    '"]; click s0 call alert(); s9["',
    '|"60%"| s1',
    "#quot; #35; &amp; &lt;b&gt; #lt;img src=x onerror=alert(1)#gt;",
    "title injected: 5: me",
    "section injected",
    "journey",
    "%% a comment",
    "x%%y: 1: z",
    "a; b: c, d # e",
    "accDescr { x }",
    "---\ntitle: x\n---",
    "style s0 fill:#f00",
    "\u2028sep\u2029 \x85nel\x00nul\ttab",
    "\ufefftitle bom: 3: me",
    "\u3000section ideographic space",
    "journeyé",
    "Journey-map workshop",
    "",
    "   ",
]


# ---- the diagrams under test -----------------------------------------------------------------


def hostile_process(k: int) -> Process:
    """A process with hostile text in every text field, rotated by ``k``."""
    h = HOSTILE[k:] + HOSTILE[:k]
    n = len(h)
    emotions: list[float | None] = [None, 0, 2.5, 3.49, 7, 4, 1, 5]
    stages = []
    for i, text in enumerate(h):
        owner = None if i % 7 == 0 else ("loner" if i % 7 == 1 else f"r{i}")
        touchpoints = tuple(
            Touchpoint(
                name=h[(i + j) % n],
                channel="web",
                emotion=emotions[(i + j) % len(emotions)],
                pains=(text,),
                ideas=(text,),
                actions=(text,),
            )
            for j in range(i % 3)
        )
        stages.append(
            Stage(
                id=f"st{i}",
                label=text,
                owner=owner,
                goals=(text,),
                exits=(text,),
                touchpoints=touchpoints,
            )
        )
    transitions = []
    for i in range(n - 1):
        transitions.append(
            Transition(source=f"st{i}", target=f"st{i + 1}", probability=0.5, label=h[i])
        )
        transitions.append(Transition(source=f"st{i}", target="lost", label=h[(i + 1) % n]))
    last = f"st{n - 1}"
    transitions += [
        Transition(source=last, target="won", probability=0.5, label=h[0]),
        Transition(source=last, target="meh", probability=0.1, label=h[1]),
        Transition(source=last, target="st0", probability=0.1, label=h[2]),  # rework
        Transition(source=last, target="lost", label=h[3]),
    ]
    return Process(
        name=h[0],
        departments=tuple(Department(id=f"d{i}", label=t) for i, t in enumerate(h)),
        roles=(
            *(Role(id=f"r{i}", label=t, department=f"d{i}") for i, t in enumerate(h)),
            Role(id="loner", label=h[1]),
        ),
        personas=(Persona(id="buyer", label=h[2], goals=(h[3],)),),
        stages=tuple(stages),
        outcomes=(
            Outcome(id="won", label=h[4], result="won", owner="r1"),
            Outcome(id="lost", label=h[5], result="lost"),
            Outcome(id="meh", label=h[6], result="other", owner="loner"),
        ),
        transitions=tuple(transitions),
    )


def example_processes() -> dict[str, Process]:
    out = {
        "b2b-cn": flowsim.load(EXAMPLES / "b2b-cn.flow"),
        "saas-en": flowsim.load(EXAMPLES / "saas-en.flow"),
    }
    for path in sorted([*EXAMPLES.glob("language/*.flow"), *EXAMPLES.glob("tutorial/*.flow")]):
        result = flowsim.check_file(path)
        if result.process is None or not result.process.stages:
            continue  # include-only files: declarations without stages
        out[str(path.relative_to(EXAMPLES).with_suffix(""))] = result.process
    out["generated-50"] = flowsim.parse(generate(50))
    return out


def golden_options(name: str) -> RenderOptions:
    return RenderOptions(lang="zh" if name.endswith("-cn") else "en")


@functools.cache
def cases() -> dict[str, tuple[Process, RenderOptions, MermaidExport]]:
    """Every diagram, by name: the process, the options and the export."""
    out: dict[str, tuple[Process, RenderOptions, MermaidExport]] = {}
    for name, process in example_processes().items():
        base = golden_options(name)
        for view, make in (("flowchart", flowchart), ("journey", journey)):
            out[f"{view}:{name}"] = (process, base, make(process, base))
    for k in range(3):
        process = hostile_process(k)
        variants = {
            "flowchart:hostile{k}": RenderOptions(),
            "flowchart:hostile{k}:role-TB": RenderOptions(lanes="role", direction="TB"),
            "flowchart:hostile{k}:none-zh": RenderOptions(lanes="none", lang="zh"),
            "journey:hostile{k}": RenderOptions(),
        }
        for name, options in variants.items():
            make = journey if name.startswith("journey") else flowchart
            out[name.format(k=k)] = (process, options, make(process, options))
    return out


# Inputs Mermaid must reject or read differently: they prove the check has teeth.
BROKEN = {
    "broken:flowchart-unterminated": "flowchart LR\n a-->",
    "broken:journey-hash-in-task": "journey\n section A\n  a#b: 3: me\n",
    "broken:journey-extra-colon": "journey\n section A\n  a: b: 3: me\n",
    "broken:journey-title-injection": "journey\n section A\n  title x: 3: me\n",
    "broken:init-directive": '%%{init: {"theme":"dark"}}%%\nflowchart LR\n a --> b\n',
    "broken:click-href": 'flowchart LR\n a --> b\n click a href "https://example.com"\n',
}


@functools.cache
def too_big() -> MermaidExport:
    """500 stages: more edges than Mermaid's default maxEdges (a known, noted limit)."""
    return flowchart(flowsim.parse(generate(500)), RenderOptions())


# ---- running Mermaid -------------------------------------------------------------------------


def _node_ready() -> str:
    """Node and tests/js/node_modules, installed by scripts/node-deps.sh when missing/stale."""
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "node-deps.sh")],
        capture_output=True,
        text=True,
        timeout=900,
    )
    if proc.returncode != 0:
        pytest.fail(f"scripts/node-deps.sh failed:\n{proc.stderr}", pytrace=False)
    node = shutil.which("node")
    assert node is not None, "node is still missing after scripts/node-deps.sh"
    return node


@pytest.fixture(scope="session")
def parsed() -> dict[str, dict[str, Any]]:
    """Mermaid's verdict on every diagram, by name (one Node process for the whole session)."""
    node = _node_ready()
    items = [{"name": name, "text": ex.text} for name, (_, _, ex) in cases().items()]
    items += [{"name": name, "text": text} for name, text in BROKEN.items()]
    items.append({"name": "limit:generated-500", "text": too_big().text})
    proc = subprocess.run(
        [node, str(SCRIPT)],
        input=json.dumps(items, ensure_ascii=False),
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=JS,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    results = json.loads(proc.stdout)
    assert [r["name"] for r in results] == [i["name"] for i in items]
    return {r["name"]: r for r in results}


# ---- what Mermaid must have understood -------------------------------------------------------


def expected_flowchart(process: Process, options: RenderOptions) -> dict[str, Any]:
    """The structure Mermaid should read back: our nodes, lanes and edges, and nothing else."""
    ids = {sid: f"s{i}" for i, sid in enumerate(phase_order(process))}
    ids.update({o.id: f"o{i}" for i, o in enumerate(process.outcomes)})
    nodes: dict[str, tuple[str, str]] = {}  # id -> (label, shape)
    if process.entry is not None:
        nodes["start"] = (mermaid_label("start" if options.lang == "en" else "起点"), "circle")
    for s in process.stages:
        text = mermaid_label(s.display)
        if s.owner is not None and options.lanes != "role":
            text += "<br>" + mermaid_label(process.role(s.owner).display)
        nodes[ids[s.id]] = (text, "roundedRect")
    for o in process.outcomes:
        nodes[ids[o.id]] = (mermaid_label(o.display), "stadium")
    for i, block in enumerate(process.parallels):  # fork and join bars, outside the lanes
        ids[fork_key(block.source)], ids[join_key(block.source)] = f"fork{i}", f"join{i}"
        nodes[f"fork{i}"], nodes[f"join{i}"] = (f"fork{i}", "fork"), (f"join{i}", "fork")
    # lanes: declared order, "unassigned" last, empty ones left out; ownerless outcomes outside
    lanes: dict[str | None, tuple[str, set[str]]] = {}
    if options.lanes != "none":
        for key, title in (
            [(d.id, d.display) for d in process.departments]
            if options.lanes == "department"
            else [(r.id, r.display) for r in process.roles]
        ):
            lanes[key] = (mermaid_label(title), set())
        lanes[None] = (mermaid_label("unassigned" if options.lang == "en" else "未分配"), set())
        for n in process.iter_nodes():
            owner: str | None = n.owner
            if owner is not None and options.lanes == "department":
                owner = process.role(owner).department
            if owner is None and isinstance(n, Outcome):
                continue
            lanes[owner][1].add(ids[n.id])
    back = back_edges(process)
    edges = []
    mix = len(process.entries) > 1  # an entry mix labels each entry with its share
    for stage, share in process.entries:
        text = f"{share * 100:.1f}".rstrip("0").rstrip(".") + "%" if mix else ""
        edges.append(("start", ids[stage.id], "normal", text))
    for sid in phase_order(process):
        for t, p in process.outgoing(sid):
            pct = f"{p * 100:.1f}".rstrip("0").rstrip(".") + "%"
            text = pct + (" " + mermaid_label(t.label) if t.label else "")
            stroke = "dotted" if (t.source, t.target) in back else "normal"
            target = join_gateways(process).get((t.source, t.target), t.target)
            edges.append((ids[t.source], ids[target], stroke, text))
    edges += parallel_edges(process, ids)
    return {
        "nodes": nodes,
        "lanes": [(title, members) for title, members in lanes.values() if members],
        "edges": edges,
    }


def parallel_edges(process: Process, ids: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """A block's own unlabelled edges: source to fork, fork to branches, bare ends to the join
    (a branch stage with no transition out), join to the node it joins into."""
    edges = []
    for block in process.parallels:
        fork, join = ids[fork_key(block.source)], ids[join_key(block.source)]
        edges.append((ids[block.source], fork, "normal", ""))
        edges += [(fork, ids[e], "normal", "") for e in block.branches]
        for region in process.branch_stages(block):
            bare = sorted(s for s in region if not process.outgoing(s))
            edges += [(ids[s], join, "normal", "") for s in bare]
        edges.append((join, ids[block.join], "normal", ""))
    return edges


def expected_journey(process: Process) -> list[tuple[str, str, int, list[str]]]:
    tasks = []
    for sid in phase_order(process):
        stage = process.node(sid)
        assert isinstance(stage, Stage)
        section = mermaid_label(stage.display, "journey")
        people = (
            [mermaid_label(process.role(stage.owner).display, "actor")]
            if stage.owner is not None
            else []
        )
        if not stage.touchpoints:
            tasks.append((section, mermaid_label(stage.display, "task"), 3, people))
        for tp in stage.touchpoints:
            score = 3 if tp.emotion is None else min(5, max(1, math.floor(tp.emotion + 0.5)))
            tasks.append((section, mermaid_label(tp.name, "task"), score, people))
    return tasks


FLOWCHART_NAMES = [n for n in cases() if n.startswith("flowchart:")]
JOURNEY_NAMES = [n for n in cases() if n.startswith("journey:")]


@pytest.mark.parametrize("name", list(cases()))
def test_mermaid_parses(parsed: dict[str, dict[str, Any]], name: str) -> None:
    result = parsed[name]
    assert result["ok"], f"{name}: {result['error']}\n{cases()[name][2].text}"
    assert result["config"] == {}, "an export must not ask Mermaid for configuration"


@pytest.mark.parametrize("name", FLOWCHART_NAMES)
def test_flowchart_reads_back_exactly(parsed: dict[str, dict[str, Any]], name: str) -> None:
    process, options, _ = cases()[name]
    got = parsed[name]["structure"]
    want = expected_flowchart(process, options)
    assert got["direction"] == ("LR" if options.direction == "auto" else options.direction)
    # what the renderer will draw: exactly our nodes, with our labels and shapes
    drawn = {n["id"]: (n["label"], n["shape"]) for n in got["nodes"] if not n["group"]}
    assert drawn == want["nodes"]
    groups = [n for n in got["nodes"] if n["group"]]
    assert all(re.fullmatch(r"lane\d+", g["id"]) and g["parent"] is None for g in groups)
    lanes = [(s["title"], set(s["nodes"])) for s in got["subgraphs"]]
    assert sorted(lanes, key=lambda x: sorted(x[1])) == sorted(
        want["lanes"], key=lambda x: sorted(x[1])
    )
    assert [s["title"] for s in got["subgraphs"]] == [title for title, _ in want["lanes"]]
    assert [(e["start"], e["end"], e["stroke"], e["text"]) for e in got["edges"]] == want["edges"]
    assert all(e["type"] == "arrow_point" for e in got["edges"])
    # no links, click handlers or extra classes: user text never became a statement
    assert not any(n["link"] for n in got["nodes"])
    assert not any(v["link"] or v["callback"] for v in got["vertices"])
    assert not any("clickable" in v["classes"] for v in got["vertices"])
    assert set(got["classDefs"]) <= {"stage", "entry", "won", "lost", "other", "marker"}


@pytest.mark.parametrize("name", JOURNEY_NAMES)
def test_journey_reads_back_exactly(parsed: dict[str, dict[str, Any]], name: str) -> None:
    process, _, _ = cases()[name]
    got = parsed[name]["structure"]
    want = expected_journey(process)
    tasks = [(t["section"], t["task"], t["score"], t["people"]) for t in got["tasks"]]
    assert tasks == want
    sections = [mermaid_label(process.node(sid).display, "journey") for sid in phase_order(process)]
    assert got["sections"] == sections
    assert got["title"].startswith(mermaid_label(process.name, "journey"))


def test_the_parser_check_has_teeth(parsed: dict[str, dict[str, Any]]) -> None:
    assert not parsed["broken:flowchart-unterminated"]["ok"]
    assert not parsed["broken:journey-hash-in-task"]["ok"]
    # Mermaid accepts these, but reads them differently from what was meant: the structure
    # comparison above is what catches them.
    extra = parsed["broken:journey-extra-colon"]
    assert extra["ok"] and extra["structure"]["tasks"][0]["people"] == ["3"]
    injected = parsed["broken:journey-title-injection"]
    assert injected["ok"] and injected["structure"]["tasks"] == []
    assert injected["structure"]["title"] == "x: 3: me"
    assert parsed["broken:init-directive"]["config"] == {"theme": "dark"}
    link = parsed["broken:click-href"]["structure"]["vertices"][0]
    assert link["link"].startswith("https://example.com")


def test_mermaid_limits_are_noted(parsed: dict[str, dict[str, Any]]) -> None:
    result = parsed["limit:generated-500"]
    assert not result["ok"] and "Edge limit exceeded" in result["error"]
    assert any("more than Mermaid's default maxEdges (500)" in n for n in too_big().dropped)


# ---- the text itself: nothing but our own statements -----------------------------------------

_Q = r'"[^"\n]*"'
FLOWCHART_LINE = re.compile(
    "|".join(
        [
            r"---",
            rf"title: {_Q}",
            r"%% [^{}\n]*",
            r"flowchart (LR|TB)",
            rf"  start\(\({_Q}\)\)",
            rf"  subgraph lane\d+\[{_Q}\]",
            r"  end",
            rf" {{2,4}}[so]\d+(\[{_Q}\]|\({_Q}\)|\(\[{_Q}\]\))",
            r"  start --> s\d+",
            r'  start -->\|"[\d.]+%"\| s\d+',  # an entry of an entry mix, with its share
            rf"  s\d+ (-->|-\.->)\|{_Q}\| ([so]\d+|join\d+)",
            r"  (fork|join)\d+@\{ shape: fork \}",  # a parallel block's bars
            r"  (s\d+ --> fork\d+|fork\d+ --> s\d+|s\d+ --> join\d+|join\d+ --> [so]\d+)",
            r"  classDef (stage|entry|won|lost|other|marker) [a-z-]+:[#\w]+(,[a-z-]+:[#\w]+)*",
            r"  class ([so]\d+(,[so]\d+)*|start) (stage|entry|won|lost|other|marker)",
            r"  style lane\d+ [a-z-]+:[#\w]+(,[a-z-]+:[#\w]+)*",
            r"  linkStyle \d+(,\d+)* stroke:[#\w]+",
        ]
    )
)
_J = r"[^#:;%\n]+"
JOURNEY_LINE = re.compile(
    "|".join(
        [
            r"%% [^{}\n]*",
            r"journey",
            rf"  title {_J}",
            rf"  section {_J}",
            rf"    {_J}: [1-5](: [^#:;%,\n]+)?",
        ]
    )
)


@pytest.mark.parametrize("name", list(cases()))
def test_every_line_is_one_of_ours(name: str) -> None:
    _, _, ex = cases()[name]
    grammar = JOURNEY_LINE if name.startswith("journey") else FLOWCHART_LINE
    lines = ex.text.split("\n")
    assert lines[-1] == ""
    for line in lines[:-1]:
        assert grammar.fullmatch(line), f"{name}: unexpected line {line!r}"
    assert not re.search(r"(?im)^\s*click\s", ex.text)
    assert "%%{" not in ex.text
    assert "<script" not in ex.text.lower()
    assert "<" not in ex.text.replace("<br>", "")


@pytest.mark.parametrize("name", list(cases()))
def test_notes_are_comments_at_the_top(name: str) -> None:
    _, _, ex = cases()[name]
    lines = ex.text.split("\n")
    if lines[0] == "---":
        lines = lines[3:]
    comments = [line[3:] for line in lines[: len(ex.dropped)]]
    assert comments == ex.dropped
    assert not lines[len(ex.dropped)].startswith("%%")


# ---- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize("view", ["flowchart", "journey"])
@pytest.mark.parametrize("example", ["b2b-cn", "saas-en"])
def test_golden(view: str, example: str) -> None:
    text = cases()[f"{view}:{example}"][2].text
    path = GOLDEN / f"{view}-{example}.mmd"
    if os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    assert path.exists(), f"{path.name} is missing: create it with FLOWSIM_UPDATE_GOLDEN=1"
    assert path.read_bytes() == text.encode("utf-8"), (
        f"{path.name} is out of date: rerun with FLOWSIM_UPDATE_GOLDEN=1 and review the diff"
    )


def test_golden_entry_mix() -> None:
    """Only a file with an entry mix draws shares on the start edges (the others' goldens
    stay as they were)."""
    text = cases()["flowchart:language/19-entry-mix"][2].text
    path = GOLDEN / "flowchart-entry-mix.mmd"
    if os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    assert path.read_bytes() == text.encode("utf-8"), f"{path.name} is out of date"
    assert '  start -->|"70%"| s0' in text and '  start -->|"30%"| s1' in text
    assert "  class s0,s1 entry" in text


def test_golden_parallel_block(parsed: dict[str, dict[str, Any]]) -> None:
    """Fork and join as Mermaid's `fork` shape (a bar), which its parser reads as such."""
    name = "flowchart:language/20-parallel"
    text = cases()[name][2].text
    path = GOLDEN / "flowchart-parallel.mmd"
    if os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1":
        path.write_bytes(text.encode("utf-8"))
    assert path.read_bytes() == text.encode("utf-8"), f"{path.name} is out of date"
    shapes = {n["id"]: n["shape"] for n in parsed[name]["structure"]["nodes"]}
    assert shapes["fork0"] == shapes["join0"] == "fork"
    assert "  s0 --> fork0" in text and '  s1 -->|"90%"| join0' in text
    journey_notes = cases()["journey:language/20-parallel"][2].dropped
    assert any("parallel block" in note for note in journey_notes)


# ---- behaviour -------------------------------------------------------------------------------


def test_deterministic() -> None:
    process = flowsim.load(EXAMPLES / "b2b-cn.flow")
    for view in ("flowchart", "journey"):
        options = RenderOptions(view=view)
        assert render(process, options) == render(process.model_copy(), options)


def test_render_and_export_follow_the_view() -> None:
    process = flowsim.load(EXAMPLES / "saas-en.flow")
    journey_text = render(process, RenderOptions(view="journey"))
    assert "\njourney\n" in journey_text
    assert "\nflowchart LR\n" in render(process, RenderOptions())
    assert export(process, RenderOptions(view="journey")).text == journey_text


def test_flowchart_shapes_edges_and_lanes() -> None:
    process = flowsim.load(EXAMPLES / "b2b-cn.flow")
    text = flowchart(process, RenderOptions(lang="zh", direction="TB")).text
    assert "\nflowchart TB\n" in text
    assert '  subgraph lane0["销售部"]\n    s0("初步接触<br>销售代表")\n' in text
    assert '    o0(["赢单"])' in text  # won is owned by csm: in 售后服务部's lane
    assert '\n  o1(["输单"])\n' in text  # ownerless outcome: outside the lanes
    assert '  s2 -.->|"10% 需求变更"| s1' in text  # rework: dotted
    assert '  s0 -->|"40%"| o1' in text  # remainder edge with its resolved share
    assert "  class s0 entry" in text and '  start(("起点"))' in text
    assert "classDef won fill:#dafbe1,stroke:#1a7f37" in text
    by_role = flowchart(process, RenderOptions(lanes="role")).text
    assert '  subgraph lane0["销售代表"]\n    s0("初步接触")\n' in by_role
    assert "subgraph" not in flowchart(process, RenderOptions(lanes="none")).text


def test_journey_scores_and_notes() -> None:
    process = Process(
        name="Scores",
        roles=(Role(id="rep", label="Rep, senior"),),
        stages=(
            Stage(
                id="a",
                label="A",
                owner="rep",
                touchpoints=(
                    Touchpoint(name="half", emotion=2.5),
                    Touchpoint(name="high", emotion=9),
                    Touchpoint(name="none"),
                    Touchpoint(name="exact", emotion=4, pains=("p",), ideas=("i", "j")),
                ),
            ),
            Stage(id="b", label="B: the end; #1"),
        ),
        outcomes=(Outcome(id="won", result="won"),),
        transitions=(
            Transition(source="a", target="b", probability=1.0),
            Transition(source="b", target="won", probability=1.0),
        ),
    )
    ex = journey(process, RenderOptions(title=False))
    body = ex.text.split("journey\n", 1)[1]
    assert body == (
        "  section A\n"
        "    half: 3: Rep， senior\n"
        "    high: 5: Rep， senior\n"
        "    none: 3: Rep， senior\n"
        "    exact: 4: Rep， senior\n"
        "  section B： the end； ＃1\n"
        "    B： the end； ＃1: 3\n"
    )
    notes = "\n".join(ex.dropped)
    assert "pain points (1) and ideas (2) are not part of Mermaid journey diagrams" in notes
    assert "1 emotion score rounded" in notes
    assert "1 emotion score outside 1-5 clamped" in notes
    assert "1 touchpoint without emotion shown with score 3" in notes
    assert "1 stage without touchpoints shown as one task named after the stage" in notes
    assert "colon as ：" in notes and "semicolon as ；" in notes and "hash as ＃" in notes
    assert "comma as ，" in notes


def test_labels_are_inert_in_every_position() -> None:
    for text in HOSTILE:
        for where, table in (
            ("flowchart", FLOWCHART_SUBSTITUTES),
            ("journey", JOURNEY_SUBSTITUTES),
            ("task", JOURNEY_SUBSTITUTES),
            ("actor", {**JOURNEY_SUBSTITUTES, ",": ","}),
        ):
            out = mermaid_label(text, where)  # type: ignore[arg-type]
            assert out and "\n" not in out and "\r" not in out and "\t" not in out
            assert out == out.strip()
            assert not any(ch in out for ch in table), (where, out)
    assert mermaid_label("title x", "task") == "\u2060title x"
    assert mermaid_label("title x", "journey") == "title x"
    assert mermaid_label('say "hi" <b>', "flowchart") == "say ＂hi＂ ‹b›"
    assert mermaid_label("a: b; c | [d] (e)", "flowchart") == "a: b; c | [d] (e)"


def test_hostile_theme_colours_are_left_out() -> None:
    process = flowsim.load(EXAMPLES / "saas-en.flow")
    theme = Theme(stage_fill="#fff\nclick s0 call alert()", won_border="red;x")
    ex = flowchart(process, RenderOptions(theme=theme))
    assert "click" not in ex.text and "red;x" not in ex.text
    assert "  classDef stage stroke:#57606a,color:#1f2328" in ex.text
    assert any("stage_fill" in n and "won_border" in n for n in ex.dropped)


def test_title_is_optional() -> None:
    process = flowsim.load(EXAMPLES / "saas-en.flow")
    assert flowchart(process, RenderOptions(title=False)).text.startswith("%% ")
    assert "title" not in journey(process, RenderOptions(title=False)).text
