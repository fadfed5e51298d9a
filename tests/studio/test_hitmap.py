"""The click map of a big flowchart: outcome copies, wrapped rows and parallel blocks.

A long flowchart wraps into rows, draws ``lost`` once per lane in each row (``outcome-1_l0_r2``)
and a parallel block as fork and join bars; a click on any of these still lands on what the
text says (no server or browser needed: the hit map is read from the SVG the renderer writes).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import Counter
from typing import Any

import flowsim
from flowsim.model import Process
from flowsim.studio.hitmap import hit_map
from tests.render.long_flow import long_process

SVG = "{http://www.w3.org/2000/svg}"


def picture() -> tuple[Process, str, dict[str, Any]]:
    process = flowsim.parse(long_process())
    svg = flowsim.render(process, format="svg").decode("utf-8")
    return process, svg, hit_map(svg, process, "<memory>")


def test_every_copy_of_an_outcome_is_a_click_on_that_outcome() -> None:
    process, svg, hits = picture()
    root = ET.fromstring(svg)
    drawn = [g.get("id", "") for g in root.iter(f"{SVG}g") if g.get("id", "").startswith("o")]
    lost = "outcome-1_"  # lost is the second outcome: drawn once per lane and row
    copies = [i for i in drawn if i.startswith(lost)]
    assert any("_r" in i for i in copies)  # the flow wrapped: copies per row too
    assert len(copies) > len(process.departments)
    outcomes = Counter(i["id"] for i in hits["items"] if i["kind"] == "outcome")
    assert outcomes == {"lost": len(copies), "won": 1}


def test_every_transition_is_clickable_once_including_a_branch_into_the_join() -> None:
    process, _, hits = picture()
    edges = Counter(i["id"] for i in hits["items"] if i["kind"] == "edge")
    written = Counter(f"{t.source} -> {t.target}" for t in process.transitions)
    assert edges == written
    # drawn to the join bar and to legal's copy of lost, they still are what the text says
    assert edges["b1 -> s21"] == 1 and edges["b1 -> lost"] == 1


def test_a_lane_repeated_in_each_row_is_its_department_each_time() -> None:
    _, _, hits = picture()
    lanes = Counter(i["id"] for i in hits["items"] if i["kind"] == "lane")
    assert set(lanes) == {"sales", "legal", "delivery"}
    assert all(count >= 2 for count in lanes.values())  # one band per row it is used in
