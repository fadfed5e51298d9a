"""Embedded pictures fit their column: measured in headless Chromium on real built pages.

The bundled Sphinx and MkDocs examples are built as a user builds them, a notebook-like page
holds Jupyter's ``_repr_html_``, and ``flowsim run`` writes a report page. In each, at a wide
and at a narrow window, every flowsim picture must lie inside its column (no horizontal
scroll of the page), keep its aspect ratio and its text as SVG text that a drag selects; a
picture wider than the column opens at its full size on a click and closes on another.
"""

from __future__ import annotations

import html
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from sphinx.cmd.build import build_main

import flowsim
from flowsim.render.frame import WIDE_PX

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).parent / "mkdocs"
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)
WINDOWS = [(1280, 900), (700, 900)]

#: for each picture on the page: its box, its column's box, its viewBox, natural width, texts
MEASURE = """() => [...document.querySelectorAll('.flowsim-svg > svg')].map((svg) => {
  const frame = svg.parentElement;
  const column = frame.closest('figure, div.flowsim, .jp-output').parentElement;
  const r = svg.getBoundingClientRect(), c = column.getBoundingClientRect();
  const vb = svg.viewBox.baseVal;
  return {
    left: r.left, right: r.right, width: r.width, height: r.height,
    columnLeft: c.left + parseFloat(getComputedStyle(column).paddingLeft),
    columnRight: c.right - parseFloat(getComputedStyle(column).paddingRight),
    ratio: vb.width / vb.height, natural: svg.width.baseVal.value,
    texts: svg.querySelectorAll('text').length,
    toggle: frame.tagName === 'LABEL' ? frame.htmlFor : null,
    section: svg.closest('section') ? svg.closest('section').id : null,
  };
})"""


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "Chromium is missing: `make test` installs it (scripts/system-deps.sh)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The built pages: Sphinx's and MkDocs' bundled examples, a notebook, a report."""
    out = tmp_path_factory.mktemp("scaling")
    assert (
        build_main(["-q", "-b", "html", str(ROOT / "examples/embed/sphinx"), str(out / "sx")]) == 0
    )
    done = subprocess.run(
        [str(MKDOCS), "build", "--strict", "--site-dir", str(out / "mk")],
        cwd=ROOT / "examples" / "embed" / "mkdocs",
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    notebook = out / "notebook.html"
    notebook.write_text(_notebook(), encoding="utf-8")
    report = out / "report"
    run = subprocess.run(
        [sys.executable, "-m", "flowsim.cli", "run", str(ROOT / "examples/b2b-cn.flow"),
         "--history", str(ROOT / "examples/history/b2b-cn-deals.csv"), "--tz", "Asia/Shanghai",
         "-o", str(report), "-n", "2", "--seed", "1", "-q"],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    return {
        "sphinx": out / "sx" / "index.html",
        "mkdocs": out / "mk" / "index.html",
        "jupyter": notebook,
        "report": report / "index.html",
    }


def _notebook() -> str:
    """A page laid out like JupyterLab's output area, holding the process's rich HTML."""
    process = flowsim.load(ROOT / "examples" / "b2b-cn.flow")
    cell = process._repr_html_()
    assert cell is not None
    title = html.escape(process.name)
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        "<body style='margin:0'><main style='max-width:900px;margin:0 auto;padding:0 16px'>"
        f"<div class='jp-output' style='padding:8px'>{cell}</div></main></body></html>"
    )


def _open(browser: Browser, path: Path, size: tuple[int, int]) -> Page:
    page = browser.new_context(viewport={"width": size[0], "height": size[1]}).new_page()
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page


@pytest.mark.parametrize("site", ["sphinx", "mkdocs", "jupyter", "report"])
@pytest.mark.parametrize("size", WINDOWS, ids=["wide", "narrow"])
def test_every_picture_fits_its_column(
    browser: Browser, pages: dict[str, Path], site: str, size: tuple[int, int]
) -> None:
    page = _open(browser, pages[site], size)
    pictures: list[dict[str, Any]] = page.evaluate(MEASURE)
    # every picture of the page is framed: the flowsim ones and, in the report, its charts
    assert len(pictures) == page.evaluate("document.querySelectorAll('svg:not(svg svg)').length")
    assert len(pictures) >= {"sphinx": 3, "mkdocs": 3, "jupyter": 1, "report": 10}[site]
    wide = 0
    for p in pictures:
        assert p["left"] >= p["columnLeft"] - 0.5 and p["right"] <= p["columnRight"] + 0.5, p
        assert abs(p["width"] / p["height"] - p["ratio"]) / p["ratio"] < 0.01, p
        if site != "report" or p["section"] in ("flowchart", "journey"):
            assert p["texts"] > 0  # still SVG text, not an image of it (the report's charts
            # are matplotlib's, which draws its glyphs as paths)
        assert p["width"] <= p["natural"] + 0.5  # scaled down, never up
        if p["natural"] > WIDE_PX:
            assert p["toggle"], p  # a wide picture opens full size
            wide += 1
    assert wide >= 1
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    page.screenshot(path=str(ROOT / "tests" / "artifacts" / f"embed-{site}-{size[0]}.png"))
    page.context.close()


@pytest.mark.parametrize("site", ["sphinx", "mkdocs", "jupyter", "report"])
def test_a_wide_picture_opens_full_size_and_its_text_stays_selectable(
    browser: Browser, pages: dict[str, Path], site: str
) -> None:
    page = _open(browser, pages[site], WINDOWS[1])
    pictures = page.evaluate(MEASURE)
    index, picture = next((i, p) for i, p in enumerate(pictures) if p["width"] < p["natural"] - 1)
    svg = page.locator(".flowsim-svg > svg").nth(index)
    svg.scroll_into_view_if_needed()
    # a drag across a label selects its text and does not open the picture
    text = svg.locator("text").first
    box = text.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 1, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] - 1, box["y"] + box["height"] / 2, steps=4)
    page.mouse.up()
    assert page.evaluate("getSelection().toString().length") > 0
    toggle = page.locator(f"[id='{picture['toggle']}']")
    assert not toggle.is_checked()
    # a click opens it at its natural size over the page; a second click closes it
    page.evaluate("getSelection().removeAllRanges()")
    svg.click(position={"x": 5, "y": 5})
    assert toggle.is_checked()
    opened = svg.bounding_box()
    assert opened is not None and abs(opened["width"] - picture["natural"]) < 1
    frame = page.evaluate(
        f"(() => {{ const r = document.querySelectorAll('.flowsim-svg')[{index}]"
        ".getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()"
    )
    assert frame == [0, 0, WINDOWS[1][0], WINDOWS[1][1]]  # covers the window, scrolls inside
    page.screenshot(path=str(ROOT / "tests" / "artifacts" / f"embed-{site}-full.png"))
    page.mouse.click(WINDOWS[1][0] - 30, 10)
    assert not toggle.is_checked()
    assert abs((svg.bounding_box() or {"width": 0})["width"] - picture["width"]) < 1
    page.context.close()
