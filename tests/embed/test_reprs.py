"""Jupyter rich reprs: a process shows as its flowchart, metrics and simulation results as tables.

User text (labels from a .flow file, stage names from a CRM export, scenario names) must reach
the notebook escaped, so a stage called ``<script>`` is shown, never run.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree import ElementTree

import flowsim
from flowsim.history import read_csv
from flowsim.history.metrics import metrics

ROOT = Path(__file__).resolve().parents[2]
HOSTILE = "<b>&x</b>"

FLOW = f"""process "Webinar {HOSTILE}" {{
  arrivals 20 per week
}}

role rep "Sales rep" headcount 2

stage contact "Contact {HOSTILE}" {{
  owner rep
  effort 1h
}}
stage meeting "Meeting" {{
  owner rep
  effort 2h
}}

outcome won "Won"
outcome lost "Lost"

contact -> meeting 40%
contact -> lost
meeting -> won 30%
meeting -> lost

scenario "More {HOSTILE}" {{
  role rep headcount 3
}}
"""

LOG = """deal,stage,timestamp
D1,<b>&x</b>,2024-01-01 00:00
D1,demo,2024-01-02 00:00
D1,won,2024-01-04 00:00
D2,<b>&x</b>,2024-01-01 00:00
D2,lost,2024-01-01 06:00
D3,<b>&x</b>,2024-01-03 00:00
"""


def test_process_repr_svg_is_escaped_svg() -> None:
    process = flowsim.parse(FLOW)
    svg = process._repr_svg_()
    assert svg is not None
    root = ElementTree.fromstring(svg)  # well-formed: the hostile label did not break it
    assert root.tag.endswith("svg")
    assert HOSTILE not in svg
    assert "&lt;b&gt;&amp;x&lt;/b&gt;" in svg


def test_process_repr_svg_scales_to_the_output_width() -> None:
    svg = flowsim.parse(FLOW)._repr_svg_()
    assert svg is not None
    root = ElementTree.fromstring(svg)
    assert root.get("style") == "display:block;max-width:100%;height:auto"
    assert root.get("viewBox")  # the ratio the browser keeps


def test_process_repr_html_is_the_framed_flowchart_with_escaped_labels() -> None:
    process = flowsim.parse(FLOW)
    first, second = process._repr_html_(), process._repr_html_()
    assert first is not None and second is not None
    assert HOSTILE not in first and "&lt;b&gt;&amp;x&lt;/b&gt;" in first
    assert 'aria-label="Webinar &lt;b&gt;&amp;x&lt;/b&gt;' in first
    assert "<script" not in first and "<?xml" not in first
    # a flowchart wider than the column opens full size; two outputs on one notebook page
    # never share the toggle's id
    wide = flowsim.load(ROOT / "examples" / "b2b-cn.flow")
    pattern = r'<input type="checkbox" class="flowsim-full" id="([^"]+)"'
    ids = [re.findall(pattern, wide._repr_html_() or "") for _ in range(2)]
    assert len(ids[0]) == len(ids[1]) == 1 and ids[0] != ids[1]


def test_process_repr_svg_of_chinese_example() -> None:
    svg = flowsim.load(ROOT / "examples" / "b2b-cn.flow")._repr_svg_()
    assert svg is not None and "初步接触" in svg


def test_funnel_metrics_repr_html_is_an_escaped_table(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(LOG, encoding="utf-8")
    funnel = metrics(read_csv(path))
    html = funnel._repr_html_()
    assert html.startswith('<table class="flowsim-metrics">')
    ElementTree.fromstring(html)  # well-formed
    assert HOSTILE not in html
    assert "<td>&lt;b&gt;&amp;x&lt;/b&gt;</td><td>3</td>" in html  # the stage and its entries
    assert "3 deals (1 won, 1 lost, 1 open), win rate 50%" in html
    rows = re.findall(r"<tr><td>([^<]*)</td>", html)
    assert rows == ["&lt;b&gt;&amp;x&lt;/b&gt;", "demo", "lost", "won"]  # funnel order
    assert "<td>won</td><td>1</td><td>1</td><td>33%</td><td></td><td></td>" in html


def test_simulation_result_repr_html_is_an_escaped_table() -> None:
    process = flowsim.parse(FLOW)
    result = flowsim.simulate(
        process, scenarios=[f"More {HOSTILE}"], replications=2, until=24 * 28, warmup=0
    )
    html = result._repr_html_()
    ElementTree.fromstring(html)
    assert HOSTILE not in html
    assert "<th>More &lt;b&gt;&amp;x&lt;/b&gt;</th>" in html
