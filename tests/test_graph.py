"""The typed networkx graph built from the model."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

import flowsim


def test_graph_schema(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    g = p.graph
    assert isinstance(g, nx.MultiDiGraph)
    kinds = {
        k: sum(1 for _, d in g.nodes(data=True) if d["kind"] == k)
        for k in ("stage", "outcome", "role", "department", "persona", "touchpoint")
    }
    assert kinds == {
        "stage": 4,
        "outcome": 2,
        "role": 4,
        "department": 4,
        "persona": 1,
        "touchpoint": 5,
    }
    assert g.nodes["contact"]["entry"] is True
    assert g.nodes["won"]["result"] == "won"
    edge_kinds = {d["kind"] for _, _, d in g.edges(data=True)}
    assert edge_kinds == {"flow", "owned_by", "member_of", "at"}
    assert g.has_edge("contact", "role:rep")
    assert g.has_edge("role:rep", "department:sales")
    assert g.has_edge("touchpoint:contact:1", "contact")
    lost = [d for _, v, d in g.out_edges("contact", data=True) if v == "lost"]
    assert lost[0]["remainder"] is True
    assert lost[0]["probability"] == pytest.approx(0.4)


def test_flow_graph_is_the_stage_subgraph(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    f = p.flow_graph()
    assert set(f.nodes) == {"contact", "needs", "design", "negotiate", "won", "lost"}
    assert f.number_of_edges() == 9
    for node in f.nodes:
        out = sum(d["probability"] for _, _, d in f.out_edges(node, data=True))
        assert out == pytest.approx(1.0) or f.nodes[node]["kind"] == "outcome"
    assert list(nx.simple_cycles(nx.DiGraph(f))) == [["needs", "design"]] or any(
        set(c) == {"needs", "design"} for c in nx.simple_cycles(nx.DiGraph(f))
    )


def test_graph_is_frozen_and_cached(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    assert p.graph is p.graph
    with pytest.raises(nx.NetworkXError):
        p.graph.add_node("x")


def test_parallel_edges_are_kept() -> None:
    p = flowsim.parse('stage a\noutcome won\na -> won 50% "fast"\na -> won "slow"\n')
    assert p.flow_graph().number_of_edges("a", "won") == 2


REWORK = [
    "register -> casually 50%",
    "register -> thoroughly 25%",
    "register -> check",
    "casually -> check",
    "thoroughly -> check",
    "check -> decide",
    "decide -> reinitiate 20%",
    "decide -> pay 40%",
    "decide -> reject",
    "reinitiate -> casually 50%",
    "reinitiate -> thoroughly",
]


@pytest.mark.parametrize("seed", range(6))
def test_back_edges_do_not_depend_on_the_order_transitions_are_written(seed: int) -> None:
    import random

    from flowsim.graph import back_edges, phase_order

    lines = REWORK[:]
    random.Random(seed).shuffle(lines)
    p = flowsim.parse(
        "stage register\nstage casually\nstage thoroughly\nstage check\nstage decide\n"
        "stage reinitiate\noutcome pay\noutcome reject\n" + "\n".join(lines)
    )
    assert back_edges(p) == {("reinitiate", "casually"), ("reinitiate", "thoroughly")}
    assert phase_order(p) == ["register", "casually", "thoroughly", "check", "decide", "reinitiate"]


ROOT = Path(__file__).resolve().parent.parent


def test_graph_marks_every_entry_of_a_mix_with_its_share() -> None:
    p = flowsim.load(ROOT / "examples" / "language" / "19-entry-mix.flow")
    g = p.graph
    marked = {n: d["entry_share"] for n, d in g.nodes(data=True) if d.get("entry")}
    assert marked == {"contact": 0.7, "inbound": 0.3}
    assert g.nodes["proposal"]["entry"] is False and g.nodes["proposal"]["entry_share"] == 0.0


def test_one_entry_has_the_whole_share(b2b_path: Path) -> None:
    g = flowsim.load(b2b_path).graph
    assert [n for n, d in g.nodes(data=True) if d.get("entry")] == ["contact"]
    assert g.nodes["contact"]["entry_share"] == 1.0


def test_back_edges_are_measured_from_the_nearest_entry() -> None:
    from flowsim.graph import back_edges

    text = (
        "stage a start 50%\nstage b\nstage c start 50%\noutcome won\n"
        "a -> b\nb -> c 50%\nb -> won\nc -> b 50%\nc -> won\n"
    )
    # from the entry `c` the loop b <-> c is entered at c: b -> c goes back
    assert back_edges(flowsim.parse(text)) == {("b", "c")}
