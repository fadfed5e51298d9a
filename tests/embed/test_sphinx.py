"""The Sphinx extension, through real ``sphinx-build`` runs on tiny projects in tmp_path.

Each project copies the bundled examples next to its pages, so paths in the pages read as a
user would write them (relative to the page, or to the source directory with a leading ``/``).
"""

from __future__ import annotations

import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from sphinx.cmd.build import build_main

ROOT = Path(__file__).resolve().parents[2]

INDEX = """Sales process
=============

.. flowsim:: b2b-cn.flow
   :view: journey

.. flowsim:: b2b-cn.flow
   :overlay: overlay/b2b-cn.metrics.json
   :color-by: dwell
   :caption: 售前是 *瓶颈*
   :name: heat

.. flowsim:: scenarios.flow
   :scenario: Sharper qualification
   :alt: Sharper qualification flowchart
   :class: wide

See :ref:`heat` and :numref:`heat`.

.. toctree::

   sub/page
"""

PAGE = """Sub page
========

.. flowsim:: ../b2b-cn.flow

.. flowsim:: /b2b-cn.flow
   :lang: en
   :scenario: 方案提速30%
   :detail: full
   :direction: TB
   :touchpoints:
"""

BAD_FLOW = (Path(__file__).parent / "bad.flow").read_text(encoding="utf-8")


def make_project(root: Path, index: str = INDEX) -> Path:
    src = root / "src"
    (src / "sub").mkdir(parents=True)
    (src / "overlay").mkdir()
    shutil.copy(ROOT / "examples" / "b2b-cn.flow", src / "b2b-cn.flow")
    shutil.copy(ROOT / "examples" / "language" / "10-scenarios.flow", src / "scenarios.flow")
    shutil.copy(ROOT / "examples" / "overlay" / "b2b-cn.metrics.json", src / "overlay")
    (src / "conf.py").write_text(
        'project = "demo"\nextensions = ["flowsim.sphinx"]\nnumfig = True\n', encoding="utf-8"
    )
    (src / "index.rst").write_text(index, encoding="utf-8")
    if "sub/page" in index:
        (src / "sub" / "page.rst").write_text(PAGE, encoding="utf-8")
    return src


def build(src: Path, out: Path, *args: str) -> tuple[int, str]:
    """Run sphinx-build; the exit code and the warnings it wrote."""
    warnings = out.parent / f"{out.name}-warnings.txt"
    code = build_main(["-q", "-b", "html", *args, "-w", str(warnings), str(src), str(out)])
    return code, warnings.read_text(encoding="utf-8") if warnings.exists() else ""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sphinx")
    src = make_project(root)
    code, warnings = build(src, root / "html", "-W")
    assert (code, warnings) == (0, "")
    return root


def figures(html: str) -> list[str]:
    return re.findall(
        r'<div class="flowsim flowsim-\w+[^"]*".*?</svg>\s*</(?:div|label)>', html, re.S
    )


def test_pictures_are_inline_svg_with_chinese_labels(site: Path) -> None:
    html = (site / "html" / "index.html").read_text(encoding="utf-8")
    pictures = figures(html)
    assert len(pictures) == 3
    journey, heat, scenario = pictures
    assert journey.startswith('<div class="flowsim flowsim-journey" id="flowsim-b2b-cn-journey"')
    assert "<svg" in journey and "<?xml" not in html
    assert "客户旅程" in journey and "初步接触" in journey
    assert 'aria-label="B2B 大客户销售: 客户旅程"' in journey  # default alt, the file's language
    assert '<a style="text-decoration:none" xlink:title="初步接触">' in heat  # not underlined
    assert "停留时间: 9.8天" in heat and "CRM 2026&#45;Q3, 400 deals" in heat  # overlay drawn
    assert scenario.startswith('<div class="flowsim flowsim-flowchart wide" id="flowsim-scenarios-')
    assert 'aria-label="Sharper qualification flowchart"' in scenario
    assert re.findall(r">(\d+%)</text>", scenario) == ["35%", "65%", "55%", "45%"]


def test_caption_name_and_unique_ids(site: Path) -> None:
    html = (site / "html" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<figure class="[^"]*" id="heat">\s*<div class="flowsim flowsim-fl', html)
    assert re.search(
        r"<figcaption>\s*<p><span class=\"caption-number\">Fig. 1 </span>"
        r"<span class=\"caption-text\">售前是 <em>瓶颈</em>",
        html,
    )
    # :ref: and :numref: reach the captioned picture by its :name:.
    assert re.search(
        r'<a class="reference internal" href="#heat"><span class="std std-ref">'
        r"售前是 瓶颈</span></a>",
        html,
    )
    assert re.search(r'href="#heat"><span class="std std-numref">Fig. 1</span></a>', html)
    ids = Counter(re.findall(r'\sid="([^"]*)"', html))
    assert [i for i, n in ids.items() if n > 1] == []
    # The journey's accessible name points at its own (prefixed) title.
    assert 'aria-labelledby="flowsim-b2b-cn-journey--journey-title' in html
    assert 'id="flowsim-b2b-cn-journey--journey-title"' in html


def test_paths_relative_to_the_page_or_the_source_dir(site: Path) -> None:
    html = (site / "html" / "sub" / "page.html").read_text(encoding="utf-8")
    first, second = figures(html)
    assert 'id="flowsim-b2b-cn-flowchart"' in first and "初步接触" in first
    assert 'id="flowsim-b2b-cn-flowchart-2"' in second
    assert "负责人: 销售代表" in first  # the file's own language
    assert "owner: 销售代表" in second  # :lang: en: flowsim's own words in English
    assert "effort ≈6.0h · wait ≈4.0d" in second  # the scenario's effort * 0.7, shown in full
    assert "[video] 方案演示 · 4/5" in second  # touchpoint notes


def test_editing_the_flow_file_or_the_theme_rebuilds_the_page(tmp_path: Path) -> None:
    src = make_project(tmp_path, ".. flowsim:: b2b-cn.flow\n")
    shutil.copy(ROOT / "examples" / "themes" / "acme.toml", src / "acme.toml")
    with (src / "conf.py").open("a", encoding="utf-8") as conf:
        conf.write('flowsim_theme = "acme.toml"\n')  # relative to the source directory
    assert build(src, tmp_path / "html", "-W") == (0, "")
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert 'stroke="#e35205"' in html  # acme's entry_border
    theme = src / "acme.toml"
    theme.write_text(theme.read_text(encoding="utf-8").replace("#e35205", "#123456"), "utf-8")
    assert build(src, tmp_path / "html", "-W") == (0, "")  # incremental: same output dir
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert 'stroke="#123456"' in html and "#e35205" not in html
    flow = src / "b2b-cn.flow"
    flow.write_text(flow.read_text(encoding="utf-8").replace("初步接触", "首次接触"), "utf-8")
    assert build(src, tmp_path / "html", "-W") == (0, "")
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "首次接触" in html and "初步接触" not in html


def test_editing_an_included_file_rebuilds_the_page(tmp_path: Path) -> None:
    src = make_project(tmp_path, ".. flowsim:: language/11-include.flow\n")
    shutil.copytree(ROOT / "examples" / "language", src / "language")
    assert build(src, tmp_path / "html", "-W") == (0, "")
    assert "owner: Account executive" in (tmp_path / "html" / "index.html").read_text("utf-8")
    org = src / "language" / "shared" / "org.flow"
    org.write_text(org.read_text("utf-8").replace("Account executive", "Closer"), "utf-8")
    assert build(src, tmp_path / "html", "-W") == (0, "")
    assert "owner: Closer" in (tmp_path / "html" / "index.html").read_text("utf-8")


def test_bad_flow_file_is_a_located_warning_not_a_traceback(tmp_path: Path) -> None:
    index = (
        ".. flowsim:: bad.flow\n\n.. flowsim:: b2b-cn.flow\n   :scenario: nope\n\n"
        ".. flowsim:: b2b-cn.flow\n   :direction: lr\n"
    )
    src = make_project(tmp_path, index)
    (src / "bad.flow").write_text(BAD_FLOW, encoding="utf-8")
    code, warnings = build(src, tmp_path / "html")
    assert code == 0
    lines = warnings.splitlines()
    assert lines[0] == (
        f"{src / 'index.rst'}:1: WARNING: flowsim: {src / 'bad.flow'}:6:9: error[E104]:"
        " unknown role 'reps' (did you mean 'rep'?)"
        ' (hint: declare it with `role <id> "label" in <department> headcount <n>`)'
        " [flowsim]"
    )
    assert "Traceback" not in warnings
    assert f"{src / 'index.rst'}:3: WARNING: flowsim: {src / 'b2b-cn.flow'}: no scenario" in (
        warnings
    )
    assert (
        f'{src / "index.rst"}:6: ERROR: Error in "flowsim" directive:\ninvalid option value:'
        " (option: \"direction\"; value: 'lr')\n'lr' unknown; use LR, TB." in warnings
    )
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert "<svg" not in html  # no picture where the input is wrong; the page is still built
    code, _ = build(src, tmp_path / "strict", "-W")
    assert code != 0


def test_latex_gets_a_pdf_and_text_gets_the_alt_text(tmp_path: Path) -> None:
    src = make_project(tmp_path, ".. flowsim:: b2b-cn.flow\n   :view: journey\n")
    assert build_main(["-q", "-W", "-b", "latex", str(src), str(tmp_path / "latex")]) == 0
    tex = (tmp_path / "latex" / "demo.tex").read_text(encoding="utf-8")
    name = re.search(r"\\sphinxincludegraphics\{(flowsim-[0-9a-f]{16}\.pdf)\}", tex)
    assert name is not None
    assert (tmp_path / "latex" / name.group(1)).read_bytes().startswith(b"%PDF")
    assert build_main(["-q", "-W", "-b", "text", str(src), str(tmp_path / "text")]) == 0
    text = (tmp_path / "text" / "index.txt").read_text(encoding="utf-8")
    assert text.strip() == "[B2B 大客户销售: 客户旅程]"


def test_the_bundled_handbook_builds(tmp_path: Path) -> None:
    """examples/embed/sphinx, which docs/embedding.md shows, builds without a warning."""
    code, warnings = build(ROOT / "examples" / "embed" / "sphinx", tmp_path / "html", "-W")
    assert (code, warnings) == (0, "")
    html = (tmp_path / "html" / "index.html").read_text(encoding="utf-8")
    assert len(figures(html)) == 3
    assert '<figure class="align-default" id="where-deals-wait">' in html
