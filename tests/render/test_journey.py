"""The customer journey map: golden files, layout rules, escaping, and PNG/PDF exports.

Regenerate the golden files with ``FLOWSIM_UPDATE_GOLDEN=1 pytest tests/render/test_journey.py``
and review the diff (and the PNGs) before committing them.
"""

from __future__ import annotations

import difflib
import io
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import flowsim
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
from flowsim.render.journey import COL_W, HEADER_W, MARGIN, PAD, render, text_width, to_svg
from flowsim.render.options import RenderOptions
from flowsim.render.text import clean
from flowsim.render.theme import BUILTIN_THEMES, Theme

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def _options(**kw: object) -> RenderOptions:
    return RenderOptions.model_validate({"view": "journey", **kw})


def _parse(svg: str | bytes) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8") if isinstance(svg, str) else svg)


def _by_id(root: ET.Element, ident: str) -> ET.Element | None:
    return next((el for el in root.iter() if el.get("id") == ident), None)


def _ids(root: ET.Element) -> list[str]:
    return [el.get("id", "") for el in root.iter() if el.get("id")]


def _texts(el: ET.Element) -> list[str]:
    return [t.text or "" for t in el.iter(f"{SVG}text")]


def _process(
    *,
    name: str = "P",
    label: str = "Stage",
    touchpoint: str = "Call",
    pain: str | None = "Slow",
    idea: str | None = "Faster",
    action: str | None = "Calls us",
    goal: str = "Goal",
    persona: str = "Buyer",
    role: str = "Rep",
    dept: str = "Sales",
    emotion: float | None = 3,
    touchpoints: bool = True,
) -> Process:
    """A small three-phase process with every text field set from the arguments."""

    def tp(i: int) -> tuple[Touchpoint, ...]:
        if not touchpoints:
            return ()
        return (
            Touchpoint(
                name=f"{touchpoint} {i}",
                channel="phone",
                emotion=emotion,
                pains=(pain,) if pain is not None else (),
                ideas=(idea,) if idea is not None else (),
                actions=(action,) if action is not None else (),
            ),
        )

    return Process(
        name=name,
        departments=(Department(id="sales", label=dept),),
        roles=(Role(id="rep", label=role, department="sales"),),
        personas=(Persona(id="buyer", label=persona, goals=(goal,)),),
        stages=tuple(
            Stage(id=f"s{i}", label=f"{label} {i}", owner="rep", goals=(goal,), touchpoints=tp(i))
            for i in range(3)
        ),
        outcomes=(Outcome(id="won", result="won"),),
        transitions=(
            Transition(source="s0", target="s1"),
            Transition(source="s1", target="s2"),
            Transition(source="s2", target="won"),
        ),
    )


# ---- golden files ----------------------------------------------------------------------------


@pytest.mark.parametrize(("example", "lang"), [("b2b-cn", "zh"), ("saas-en", "en")])
def test_golden(example: str, lang: str) -> None:
    process = flowsim.load(ROOT / "examples" / f"{example}.flow")
    actual = render(process, _options(lang=lang)).decode("utf-8")
    path = GOLDEN / f"journey-{example}.svg"
    if os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8", newline="\n")
    assert path.exists(), f"no golden file {path.name}: run with FLOWSIM_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(),
            actual.splitlines(),
            f"golden/{path.name}",
            "rendered",
            n=1,
            lineterm="",
        )
        shown = "\n".join(list(diff)[:40])
        pytest.fail(
            f"journey map differs from {path.name} (FLOWSIM_UPDATE_GOLDEN=1 updates it):\n{shown}"
        )


def test_golden_parallel_phases() -> None:
    """A band above the phases spans a parallel block's branches, and says so in words."""
    process = flowsim.load(ROOT / "examples" / "language" / "20-parallel.flow")
    actual = render(process, _options(lang="en")).decode("utf-8")
    path = GOLDEN / "journey-parallel.svg"
    if os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8", newline="\n")
    assert path.read_text(encoding="utf-8") == actual, f"{path.name} is out of date"
    assert 'id="parallel-0"' in actual
    assert "in parallel: Legal review | Solution validation" in actual


def test_golden_content(b2b_path: Path) -> None:
    """What the Chinese golden file must show, independent of exact coordinates."""
    root = _parse(to_svg(flowsim.load(b2b_path), _options(lang="zh")))
    assert root.get("version") == "1.1"
    assert root.get(XML_LANG) == "zh-CN"
    assert root.find(f"{SVG}title") is not None
    assert root.find(f"{SVG}desc") is not None
    headers = [" ".join(_texts(_by_id(root, f"phase-{i}") or root)) for i in range(4)]
    assert headers == ["初步接触", "需求分析", "方案设计", "谈判签约"]
    lanes = [i.removeprefix("lane-") for i in _ids(root) if i.startswith("lane-")]
    # the example has no actions and no ideas: those lanes are left out
    assert lanes == ["persona", "touchpoints", "emotion", "pains", "owners"]
    owners = _texts(_by_id(root, "lane-owners") or root)
    assert "解决方案顾问" in owners
    assert "售前部" in owners
    assert "采购负责人" in _texts(_by_id(root, "lane-persona") or root)
    assert _by_id(root, "emotion-curve") is not None
    assert _by_id(root, "tp-0-1") is not None
    assert "电话" in _texts(_by_id(root, "tp-0-0") or root)  # the channel, in Chinese


# ---- qualities -------------------------------------------------------------------------------


def test_deterministic(b2b_path: Path) -> None:
    for fmt in ("svg", "png", "pdf"):
        first = render(flowsim.load(b2b_path), _options(lang="zh", format=fmt))
        second = render(flowsim.load(b2b_path), _options(lang="zh", format=fmt))
        assert first == second, fmt


def test_ids_unique_and_no_external_references(b2b_path: Path) -> None:
    for path, lang in ((b2b_path, "zh"), (ROOT / "examples" / "saas-en.flow", "en")):
        svg = to_svg(flowsim.load(path), _options(lang=lang))
        ids = _ids(_parse(svg))
        assert len(ids) == len(set(ids))
        assert "href" not in svg
        assert "url(" not in svg


def test_empty_lanes_omitted() -> None:
    no_pains = to_svg(_process(pain=None, idea=None, action=None), _options())
    root = _parse(no_pains)
    assert _by_id(root, "lane-pains") is None
    assert _by_id(root, "lane-ideas") is None
    assert _by_id(root, "lane-actions") is None
    assert _by_id(root, "lane-touchpoints") is not None

    no_touchpoints = _parse(to_svg(_process(touchpoints=False), _options()))
    for lane in ("touchpoints", "emotion", "pains", "ideas", "actions"):
        assert _by_id(no_touchpoints, f"lane-{lane}") is None, lane
    assert _by_id(no_touchpoints, "emotion") is None
    assert _by_id(no_touchpoints, "emotion-curve") is None
    assert _by_id(no_touchpoints, "lane-owners") is not None

    no_scores = _parse(to_svg(_process(emotion=None), _options()))
    assert _by_id(no_scores, "lane-touchpoints") is not None
    assert _by_id(no_scores, "lane-emotion") is None


def test_phases_in_flow_order_without_rework() -> None:
    # declared out of order; c -> a is a rework loop and must not reorder the columns
    process = Process(
        name="order",
        stages=(
            Stage(id="c", label="Third"),
            Stage(id="a", label="First", start=True),
            Stage(id="b", label="Second"),
        ),
        outcomes=(Outcome(id="won", result="won"), Outcome(id="lost", result="lost")),
        transitions=(
            Transition(source="a", target="b"),
            Transition(source="b", target="c"),
            Transition(source="c", target="a", probability=0.2),
            Transition(source="c", target="won"),
            Transition(source="a", target="lost", probability=0.1),
        ),
    )
    root = _parse(to_svg(process, _options()))
    phases = [el for el in root.iter() if re.fullmatch(r"phase-\d+", el.get("id", ""))]
    assert [" ".join(_texts(p)) for p in phases] == ["First", "Second", "Third"]
    assert "won" not in _texts(root)


def test_saas_columns_follow_the_flow() -> None:
    root = _parse(to_svg(flowsim.load(ROOT / "examples" / "saas-en.flow"), _options()))
    desc = root.find(f"{SVG}desc")
    assert desc is not None and desc.text is not None
    names = ["Marketing-qualified", "Sales-qualified", "Product demo", "Guided trial", "Proposal"]
    positions = [desc.text.index(n) for n in names]
    assert positions == sorted(positions)


def test_emotion_scores_clamped_into_the_band() -> None:
    process = _process(emotion=9)
    low = _process(emotion=-2)
    for p, score in ((process, "9"), (low, "-2")):
        root = _parse(to_svg(p, _options()))
        band = _by_id(root, "emotion")
        assert band is not None
        grid = [float(line.get("y1", "0")) for line in band.iter(f"{SVG}line")]
        top, bottom = min(grid), max(grid)
        markers = [c for c in band.iter(f"{SVG}circle")]
        assert len(markers) == 3
        for c in markers:
            assert top <= float(c.get("cy", "nan")) <= bottom
        assert score in _texts(band)  # the label still says what was written


def _check_text_inside_columns(svg: str) -> None:
    """Every start-anchored line in a phase column ends before the column's inner edge."""
    body_x = MARGIN + HEADER_W
    root = _parse(svg)
    checked = 0
    for lane in root.iter(f"{SVG}g"):
        if not lane.get("id", "").startswith("lane-"):
            continue
        for t in lane.iter(f"{SVG}text"):
            x = float(t.get("x", "0"))
            if x < body_x or t.get("text-anchor"):
                continue
            column = int((x - body_x) // COL_W)
            right = body_x + (column + 1) * COL_W - PAD
            size = float(t.get("font-size", "11"))
            width = text_width(t.text or "", size, t.get("font-weight") == "bold")
            assert x + width <= right + 0.01, t.text
            checked += 1
    assert checked


def test_long_labels_wrap_inside_their_cells() -> None:
    long_cn = "这是一个非常非常长的中文阶段名称，用于测试自动换行是否正确，并且不会溢出单元格边界"
    process = _process(
        label=long_cn,
        touchpoint=long_cn,
        pain=long_cn,
        idea="W" * 60,
        action="Supercalifragilisticexpialidocious " * 3,
        goal=long_cn,
        role=long_cn,
        dept=long_cn,
    )
    for lang in ("zh", "en"):
        _check_text_inside_columns(to_svg(process, _options(lang=lang)))
    for name, lang in (("b2b-cn", "zh"), ("saas-en", "en")):
        _check_text_inside_columns(
            to_svg(flowsim.load(ROOT / "examples" / f"{name}.flow"), _options(lang=lang))
        )


def test_rows_grow_to_fit_the_tallest_cell() -> None:
    short = _parse(to_svg(_process(pain="a"), _options()))
    tall = _parse(to_svg(_process(pain="word " * 40), _options()))

    def lane_height(root: ET.Element) -> float:
        lane = _by_id(root, "lane-pains")
        assert lane is not None
        rect = lane.find(f"{SVG}rect")
        assert rect is not None
        return float(rect.get("height", "0"))

    assert lane_height(tall) > lane_height(short) + 40


def test_title_and_language() -> None:
    process = _process(name="Acme")
    with_title = _parse(to_svg(process, _options(lang="en")))
    assert _by_id(with_title, "title") is not None
    assert with_title.get(XML_LANG) == "en"
    title = with_title.find(f"{SVG}title")
    assert title is not None and title.text == "Acme · Customer journey"
    without = _parse(to_svg(process, _options(title=False)))
    assert _by_id(without, "title") is None


@pytest.mark.parametrize("theme", sorted(BUILTIN_THEMES))
def test_every_theme_renders_valid_xml(theme: str, b2b_path: Path) -> None:
    options = _options(lang="zh", theme=BUILTIN_THEMES[theme])
    root = _parse(render(flowsim.load(b2b_path), options))
    background = _by_id(root, "background")
    assert background is not None
    assert background.get("fill") == BUILTIN_THEMES[theme].background
    assert root.get("font-family") == BUILTIN_THEMES[theme].font


def test_unknown_format_is_refused(b2b_path: Path) -> None:
    for fmt in ("dot", "mermaid", "html"):
        with pytest.raises(ValueError, match="svg, png or pdf"):
            render(flowsim.load(b2b_path), _options(format=fmt))


# ---- hostile labels --------------------------------------------------------------------------

HOSTILE = [
    '<script>alert(1)</script>" onload="x',
    "]]>",
    "&amp; &lt;b&gt; &#x3C;script&#x3E;",
    "<![CDATA[<script>x</script>]]>",
    "--><svg onload=alert(1)><!--",
    "' onmouseover='alert(1)' x='",
    '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>&e;',
    '<a href="javascript:alert(1)">click</a>',
    "ctl\x00\x07\x1b\u2028chars\ud800",
]


def _expected(text: str) -> str:
    """How a hostile string must read in the picture: control characters gone, whitespace
    ignored (wrapping may break lines at spaces), a lone surrogate shown as U+FFFD."""
    return re.sub(r"\s+", "", clean(text)).replace("\ud800", "\ufffd")


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("lang", ["en", "zh"])
def test_hostile_labels_are_inert(hostile: str, lang: str) -> None:
    process = _process(
        name=hostile,
        label=hostile,
        touchpoint=hostile,
        pain=hostile,
        idea=hostile,
        action=hostile,
        goal=hostile,
        persona=hostile,
        role=hostile,
        dept=hostile,
    )
    data = render(process, _options(lang=lang))
    svg = data.decode("utf-8")
    root = _parse(data)  # well-formed XML
    assert "<script" not in svg.lower()
    assert "<!doctype" not in svg.lower()
    assert "<![cdata[" not in svg.lower()
    assert "href" not in {a.lower() for el in root.iter() for a in el.attrib}
    for el in root.iter():
        assert el.tag.startswith(SVG), el.tag
        assert not el.tag.endswith("script")
        for attr in el.attrib:
            assert not attr.lower().startswith("on"), attr
    # shown literally: every lane holds the text, escaped once, nothing decoded twice
    expected = _expected(hostile)
    for lane in ("persona", "actions", "touchpoints", "pains", "ideas", "owners"):
        element = _by_id(root, f"lane-{lane}")
        assert element is not None, lane
        assert expected in re.sub(r"\s+", "", "".join(_texts(element))), lane
    title = root.find(f"{SVG}title")
    assert title is not None and title.text is not None
    assert expected in re.sub(r"\s+", "", title.text)


def test_hostile_theme_values_are_escaped() -> None:
    theme = Theme(background='#fff" onload="alert(1)', font='x" onload="y')
    root = _parse(to_svg(_process(), _options(theme=theme)))
    for el in root.iter():
        assert not any(a.lower().startswith("on") for a in el.attrib)
    assert root.get("font-family") == 'x" onload="y'


# ---- PNG and PDF -----------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cjk_families() -> list[str]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    out = subprocess.run(
        [fc_list, ":lang=zh", "family"], capture_output=True, text=True, check=False
    ).stdout
    return sorted({name.strip() for line in out.splitlines() for name in line.split(",")} - {""})


def _png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(PNG_SIGNATURE)
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize(("example", "lang"), [("b2b-cn", "zh"), ("saas-en", "en")])
def test_png_and_pdf(example: str, lang: str) -> None:
    process = flowsim.load(ROOT / "examples" / f"{example}.flow")
    svg_root = _parse(to_svg(process, _options(lang=lang)))
    png = render(process, _options(lang=lang, format="png"))
    assert png.startswith(PNG_SIGNATURE)
    width, height = _png_size(png)
    assert (width, height) == (
        round(float(svg_root.get("width", "0")) * 2),
        round(float(svg_root.get("height", "0")) * 2),
    )  # twice the SVG's size
    pdf = render(process, _options(lang=lang, format="pdf"))
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")


def test_chinese_renders_as_glyphs_not_tofu(b2b_path: Path) -> None:
    families = _cjk_families()
    if not families:
        pytest.skip("no CJK font installed (fonts-wqy-microhei or fonts-noto-cjk)")
    process = flowsim.load(b2b_path)

    # 1. the PDF embeds an installed CJK font
    pdf = render(process, _options(lang="zh", format="pdf"))
    embedded = {
        m.decode("latin-1") for m in re.findall(rb"/BaseFont\s*/(?:[A-Z]{6}\+)?([^\s/]+)", pdf)
    }
    wanted = {f.replace(" ", "") for f in families}
    assert embedded & wanted, f"embedded fonts {sorted(embedded)}, CJK fonts {sorted(wanted)}"

    # 2. the PNG differs from the same map drawn in a font without Chinese glyphs (tofu)
    import cairosvg  # type: ignore[import-untyped]
    from PIL import Image, ImageChops

    png = render(process, _options(lang="zh", format="png"))
    latin_only = Theme(font="DejaVu Sans")
    tofu_svg = to_svg(process, _options(lang="zh", theme=latin_only)).encode("utf-8")
    tofu = cairosvg.svg2png(bytestring=tofu_svg, scale=2)
    with Image.open(io.BytesIO(png)) as good, Image.open(io.BytesIO(tofu)) as bad:
        assert good.size == bad.size
        diff = ImageChops.difference(good.convert("RGB"), bad.convert("RGB"))
        assert diff.getbbox() is not None, "the Chinese PNG looks like the tofu rendering"
