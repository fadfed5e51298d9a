"""The studio page's picture as a working surface, and its honest state (headless Chromium).

Honest state: after an edit the what-if results and the colours say they belong to an older
model; figures of ids the model no longer has colour nothing; the conflict banner shows the
diff; the picture and the results download through the server's renderers. The surface: zoom
steps, wheel zoom, drag to pan, a minimap for a big process, the toolbar's options, and a click
on a stage, a transition or a lane that puts the caret on its text.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page

import flowsim
from tests.studio.browser import ARTIFACTS, VIEW, Session, wait_js
from tests.studio.helpers import live_studio


def run_what_if(page: Page) -> None:
    page.fill("#reps", "3")
    page.fill("#days", "60")
    page.click("#run")
    wait_js(page, "document.querySelector('#run-status').textContent.startsWith('Done')")


def replace_all(session: Session, old: str, new: str) -> None:
    """Replace every ``old`` in the editor with ``new``, as one edit (a rename)."""
    text = session.text()
    session.page.evaluate(
        f"{VIEW}.dispatch({{changes: {{from: 0, to: {len(text)}, "
        f"insert: {json.dumps(text.replace(old, new))}}}}})"
    )


# ---- honest state ---------------------------------------------------------------------------


def test_an_edit_marks_results_and_colours_stale_and_drops_figures_of_gone_ids(
    session: Session,
) -> None:
    page = session.page
    run_what_if(page)
    assert page.is_hidden("#run-stale")
    before = session.renders_done()
    page.select_option("#color-by", "queue")
    session.wait_render(before)
    assert page.inner_text("#picture-note") == "coloured by simulated queue time"
    coloured = session.renders[-1]["svg"]

    # rename stage `lead`: the run's figures for `lead` belong to nothing now
    before = session.renders_done()
    replace_all(session, "lead", "prospect")
    session.wait_render(before)
    assert page.is_visible("#run-stale")
    assert page.inner_text("#run-stale") == "Model changed since this run — run again."
    assert "stale" in (page.get_attribute("#whatif", "class") or "")
    assert set(session.render_requests[-1]["overlay"]["stages"]) == {"lead", "offer"}
    assert session.renders[-1]["overlay_dropped"] == ["lead"]
    note = page.inner_text("#picture-note")
    assert "model changed since this run — run again" in note
    assert "no figures for lead" in note
    assert "stale-colours" in (page.get_attribute("#picture", "class") or "")
    # the renamed stage is drawn without a colour ("no data"), the same as a fresh stage
    fresh = flowsim.render(
        flowsim.parse(session.text()), overlay=_overlay_without(session, "lead"), color_by="queue"
    ).decode()
    assert session.renders[-1]["svg"] == fresh
    assert session.renders[-1]["svg"] != coloured
    session.shot("stale")

    # run again: current once more
    run_what_if(page)
    assert page.is_hidden("#run-stale")
    wait_js(page, "!document.querySelector('#picture-note').textContent.includes('changed')")
    assert "stale" not in (page.get_attribute("#whatif", "class") or "")


def _overlay_without(session: Session, stage: str) -> flowsim.Overlay:
    data = dict(session.render_requests[-1]["overlay"])
    data["stages"] = {k: v for k, v in data["stages"].items() if k != stage}
    data["edges"] = [e for e in data["edges"] if stage not in (e["source"], e["target"])]
    return flowsim.Overlay.model_validate(data)


def test_the_conflict_banner_shows_the_diff_as_text(session: Session) -> None:
    page, flow = session.page, session.flow
    session.put_caret(0)
    page.keyboard.type("# my <b>unsaved</b> line\n")
    flow.write_text(flow.read_text(encoding="utf-8") + "# <i>their</i> line\n", encoding="utf-8")
    page.locator("#conflict").wait_for()
    wait_js(page, "document.querySelector('#conflict-diff').textContent.includes('@@')")
    diff = page.inner_text("#conflict-diff")
    assert "--- sales.flow (on disk)" in diff and "+++ sales.flow (your edits)" in diff
    assert page.locator("#conflict-diff .add").all_inner_texts() == ["+# my <b>unsaved</b> line\n"]
    assert page.locator("#conflict-diff .del").all_inner_texts() == ["-# <i>their</i> line\n"]
    assert page.locator("#conflict-diff b, #conflict-diff i").count() == 0  # text, not markup
    session.shot("conflict-diff")

    # a refused save carries the diff too
    page.click("#conflict-keep")
    flow.write_text("# replaced on disk\n", encoding="utf-8")
    page.locator("#conflict").wait_for()
    page.click("#save")
    wait_js(page, "document.querySelector('#conflict-diff').textContent.includes('replaced')")
    assert "-# replaced on disk\n" in page.locator("#conflict-diff .del").all_inner_texts()
    # Chromium logs every 4xx answer; this one is the refusal the test asked for
    refused = "Failed to load resource: the server responded with a status of 409 (Conflict)"
    for _ in range(100):
        if session.errors:
            break
        page.wait_for_timeout(20)
    assert session.errors == [refused]
    session.errors.clear()


def _download(page: Page, button: str) -> tuple[str, bytes]:
    with page.expect_download() as info:
        page.click(button)
    download = info.value
    path = download.path()
    return download.suggested_filename, Path(path).read_bytes()


def test_the_picture_downloads_as_svg_png_pdf_and_mermaid(session: Session) -> None:
    page = session.page
    page.select_option("#direction", "TB")
    session.wait_idle()
    process = flowsim.parse(session.text())
    expected = {
        "svg": flowsim.render(process, format="svg", direction="TB"),
        "mermaid": flowsim.render(process, format="mermaid", direction="TB"),
    }
    magic = {"png": b"\x89PNG\r\n\x1a\n", "pdf": b"%PDF-"}
    for fmt, ext in (("svg", "svg"), ("png", "png"), ("pdf", "pdf"), ("mermaid", "mmd")):
        page.select_option("#export-format", fmt)
        name, data = _download(page, "#export")
        assert name == f"sales-flowchart.{ext}"
        if fmt in expected:
            assert data == expected[fmt]  # the very bytes `flowsim render` writes
        else:
            assert data.startswith(magic[fmt]) and len(data) > 1000
    # the journey map too
    page.click("[role=tab][data-view=journey]")
    session.wait_idle()
    page.select_option("#export-format", "svg")
    name, data = _download(page, "#export")
    assert name == "sales-journey.svg"
    assert data == flowsim.render(process, view="journey", format="svg")


def test_what_if_results_download_as_markdown_and_csv(session: Session) -> None:
    page = session.page
    assert page.is_disabled("#export-md") and page.is_disabled("#export-csv")
    answers: list[dict[str, Any]] = []
    page.on("response", lambda r: answers.append(r.json()) if r.url.endswith("/simulate") else None)
    run_what_if(page)
    for _ in range(250):  # the answer reaches this handler a moment after the page shows it
        if answers:
            break
        page.wait_for_timeout(20)
    answer = answers[-1]
    name, data = _download(page, "#export-md")
    assert name == "sales-what-if.md"
    lines = data.decode().splitlines()
    assert lines[0].startswith("| KPI | baseline | One more rep: change | One more rep: 95% CI low")
    assert lines[2].startswith("| Won per week | ")
    name, data = _download(page, "#export-csv")
    assert name == "sales-what-if.csv"
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["kpi"] for r in rows] == [
        "won_per_week",
        "win_rate",
        "cycle_days_mean",
        "wip_mean",
        "revenue",
    ]
    won = rows[0]
    assert float(won["baseline"]) == float(f"{answer['baseline']['won_per_week']['mean']:.6g}")
    delta = answer["scenarios"][0]["deltas"]["cycle_days_mean"]
    assert float(rows[2]["One more rep: change"]) == float(f"{delta['mean']:.6g}")


# ---- the surface ----------------------------------------------------------------------------


def zoom(page: Page) -> float:
    return float(page.get_attribute("#picture", "data-zoom") or 0)


def test_zoom_steps_fit_and_actual_size(session: Session) -> None:
    page = session.page
    fitted = zoom(page)
    width = page.evaluate("document.querySelector('#image').getBoundingClientRect().width")
    panel = page.evaluate("document.querySelector('#picture').getBoundingClientRect().width")
    assert 0 < fitted <= 1 and width <= panel
    page.click("#zoom-100")
    assert zoom(page) == 1 and page.inner_text("#zoom-level") == "100%"
    page.click("#zoom-in")
    assert zoom(page) == 1.25
    page.click("#zoom-in")
    assert zoom(page) == 1.5
    page.click("#zoom-out")
    page.click("#zoom-out")
    page.click("#zoom-out")
    assert zoom(page) == 0.9
    page.click("#zoom-fit")
    assert zoom(page) == fitted
    # the zoom stays while the text changes (no jump back on every keystroke)
    page.click("#zoom-in")
    kept = zoom(page)
    before = session.renders_done()
    replace_all(session, '"Offer"', '"Quote"')
    session.wait_render(before)
    page.wait_for_timeout(100)
    assert zoom(page) == kept


def picture_point(page: Page, client_x: float, client_y: float) -> tuple[float, float]:
    """The image pixel under a client point (the inverse of the canvas transform)."""
    rect = page.evaluate(
        "(() => { const r = document.querySelector('#image').getBoundingClientRect();"
        " return [r.left, r.top, r.width / document.querySelector('#image').naturalWidth]; })()"
    )
    return (client_x - rect[0]) / rect[2], (client_y - rect[1]) / rect[2]


def test_the_wheel_zooms_about_the_pointer(session: Session) -> None:
    page = session.page
    for _ in range(4):  # 200%: the picture overflows the panel, so no edge pulls it back
        page.click("#zoom-in")
    box = page.locator("#picture").bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] * 0.4, box["y"] + box["height"] * 0.3
    under = picture_point(page, x, y)
    before = zoom(page)
    page.mouse.move(x, y)
    page.mouse.wheel(0, -300)
    wait_js(page, f"Number(document.querySelector('#picture').dataset.zoom) > {before * 1.2}")
    after = picture_point(page, x, y)
    assert abs(after[0] - under[0]) < 1 and abs(after[1] - under[1]) < 1
    page.mouse.wheel(0, 600)
    wait_js(page, f"Number(document.querySelector('#picture').dataset.zoom) < {before}")


def test_dragging_pans_the_picture_and_does_not_click(session: Session) -> None:
    page = session.page
    for _ in range(4):  # 100% -> 200%: larger than the panel, so there is room to pan
        page.click("#zoom-in")
    start = page.locator("#image").bounding_box()
    box = page.locator("#picture").bounding_box()
    assert start is not None and box is not None
    x, y = box["x"] + 200, box["y"] + 200
    caret = session.caret_line_col()
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - 60, y - 40, steps=5)
    page.mouse.up()
    moved = page.locator("#image").bounding_box()
    assert moved is not None
    assert abs(moved["x"] - (start["x"] - 60)) < 1 and abs(moved["y"] - (start["y"] - 40)) < 1
    assert session.caret_line_col() == caret  # a drag is not a click on the text
    assert not page.get_attribute("#picture", "data-selected")


def _big_process(stages: int) -> str:
    depts = ["sales", "presales", "legal", "finance", "delivery"]
    lines = ['process "Big" {', "  arrivals 10 per week", "}"]
    for d in depts:
        lines += [f'department {d} "{d.title()}"', f'role r_{d} "{d} person" in {d} headcount 3']
    for i in range(stages):
        nxt = f"s{i + 1}" if i < stages - 1 else "won"
        lines += [f'stage s{i} "Stage {i}" {{', f"  owner r_{depts[i % 5]}", "  effort 1h", "}"]
        lines += [f"s{i} -> {nxt} 90%", f"s{i} -> lost"]
    lines += ['outcome won "Won"', 'outcome lost "Lost"']
    return "\n".join(lines) + "\n"


def test_a_big_process_gets_a_minimap_that_moves_the_view(browser: Browser, tmp_path: Path) -> None:
    path = tmp_path / "big.flow"
    path.write_text(_big_process(30), encoding="utf-8")
    with live_studio(path) as live:
        page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(live.url)
        page.wait_for_selector("#image[data-renders='1']")
        wait_js(page, "document.querySelector('#image').naturalWidth > 0")
        assert page.is_hidden("#minimap")  # fitted, the whole picture is in view
        page.click("#zoom-100")
        page.locator("#minimap").wait_for()
        frame = page.locator("#minimap-view").bounding_box()
        mini = page.locator("#minimap-image").bounding_box()
        assert frame is not None and mini is not None
        assert frame["width"] < mini["width"] / 2  # the view is a small part of the whole
        page.screenshot(path=str(ARTIFACTS / "studio-minimap.png"))
        # a click on the minimap's right end shows the process's end
        page.mouse.click(mini["x"] + mini["width"] - 5, mini["y"] + mini["height"] / 2)
        moved = page.locator("#minimap-view").bounding_box()
        assert moved is not None and moved["x"] > frame["x"] + 40
        assert abs(moved["x"] + moved["width"] - (mini["x"] + mini["width"])) < 2
        image = page.locator("#image").bounding_box()
        panel = page.locator("#picture").bounding_box()
        assert image is not None and panel is not None  # the picture's end is in the panel
        assert panel["x"] < image["x"] + image["width"] <= panel["x"] + panel["width"]
        page.context.close()
    assert errors == []


def test_the_toolbar_sets_direction_lanes_detail_and_theme(session: Session) -> None:
    page = session.page
    for select, value, seen in (
        ("#direction", "TB", lambda svg: "Sales" in svg),
        ("#lanes", "role", lambda svg: ">Sales rep<" in svg),
        ("#detail", "none", lambda svg: "owner: " not in svg),
        ("#theme", "dark", lambda svg: svg != ""),
    ):
        before = session.renders_done()
        page.select_option(select, value)
        session.wait_render(before)
        request = session.render_requests[-1]
        assert request[select[1:]] == value
        svg = session.renders[-1]["svg"]
        assert seen(svg)
        process = flowsim.parse(session.text())
        options = {k: request[k] for k in ("direction", "lanes", "detail", "theme")}
        assert svg == flowsim.render(process, **options).decode()
    session.shot("toolbar")
    # direction, lanes and detail are the flowchart's: off for the journey map
    page.click("[role=tab][data-view=journey]")
    assert page.is_disabled("#direction") and page.is_disabled("#lanes")
    assert page.is_enabled("#theme")


def click_item(session: Session, kind: str, ident: str, where: str = "centre") -> None:
    """Click on an element of the picture, found in the hit map the page was sent."""
    wait_js(
        session.page,
        "document.querySelector('#picture').dataset.shown === "
        "document.querySelector('#image').dataset.renders",
    )
    items = session.renders[-1]["hitmap"]["items"]
    item = next(i for i in items if i["kind"] == kind and i["id"] == ident)
    vx, vy, vw, vh = session.renders[-1]["hitmap"]["view_box"]
    if kind == "edge":  # the middle of its longest segment
        pts = item["points"]
        a, b = max(
            itertools.pairwise(pts), key=lambda s: abs(s[1][0] - s[0][0]) + abs(s[1][1] - s[0][1])
        )
        x, y = (a[0] + b[0]) / 2, (a[1] + b[1]) / 2
    elif where == "corner":  # inside the box, clear of what it holds
        x, y = item["x"] + 4, item["y"] + item["h"] - 4  # bottom left: no arrow runs there
    else:
        x, y = item["x"] + item["w"] / 2, item["y"] + item["h"] / 2
    rect = session.page.locator("#image").bounding_box()
    assert rect is not None
    session.page.mouse.click(
        rect["x"] + (x - vx) / vw * rect["width"], rect["y"] + (y - vy) / vh * rect["height"]
    )


def test_clicking_a_stage_transition_or_lane_goes_to_its_text(session: Session) -> None:
    page = session.page
    lines = session.text().split("\n")
    line_of = {text: lines.index(text) + 1 for text in lines}
    page.click("#zoom-100")
    for kind, ident, written, where in (
        ("stage", "offer", 'stage offer "Offer" {', "centre"),
        ("outcome", "won", 'outcome won "Won"', "centre"),
        ("edge", "lead -> offer", "lead -> offer 50%", "centre"),
        ("edge", "offer -> lost", "offer -> lost", "centre"),
        ("lane", "sales", 'department sales "Sales"', "corner"),
    ):
        session.put_caret(0)
        click_item(session, kind, ident, where)
        assert page.get_attribute("#picture", "data-selected") == f"{kind}:{ident}"
        assert session.caret_line_col() == (line_of[written], 1), (kind, ident)
        assert page.is_visible("#highlight")
    session.shot("click-to-text")
    # with roles as lanes, a lane is its role
    before = session.renders_done()
    page.select_option("#lanes", "role")
    session.wait_render(before)
    page.wait_for_timeout(100)
    click_item(session, "lane", "rep", "corner")
    assert session.caret_line_col() == (line_of['role rep "Sales rep" in sales headcount 2'], 1)


def test_the_hit_map_holds_numbers_ids_and_spans_only(session: Session) -> None:
    """The picture's click data carries no markup: only kinds, model ids, boxes and spans."""
    session.wait_idle()
    hitmap = session.renders[-1]["hitmap"]
    assert len(hitmap["view_box"]) == 4
    kinds = {"stage", "outcome", "edge", "lane"}
    for item in hitmap["items"]:
        assert item["kind"] in kinds
        assert set(item) <= {"kind", "id", "x", "y", "w", "h", "points", "span"}
        assert all(isinstance(item[k], int | float) for k in "xywh")
    ids = {(i["kind"], i["id"]) for i in hitmap["items"]}
    assert ids == {
        ("stage", "lead"),
        ("stage", "offer"),
        ("outcome", "won"),
        ("outcome", "lost"),
        ("lane", "sales"),
        ("edge", "lead -> offer"),
        ("edge", "lead -> lost"),
        ("edge", "offer -> won"),
        ("edge", "offer -> lost"),
    }


# ---- visual edits -----------------------------------------------------------------------------


def edit_and_wait(session: Session, button: str, expect: str) -> None:
    """Press an edit button; wait for the editor's text to hold ``expect`` and the picture."""
    before = session.renders_done()
    session.page.click(button)
    wait_js(session.page, f"{VIEW}.state.doc.toString().includes({json.dumps(expect)})")
    session.wait_render(before)
    session.page.wait_for_timeout(50)


def test_visual_edits_write_the_text_and_keep_the_rest(session: Session) -> None:
    page = session.page
    original = session.text()
    page.click("#zoom-100")
    assert page.is_hidden("#edit-panel")

    # a transition: its probability, as the one line it is on
    click_item(session, "edge", "lead -> offer")
    assert page.is_visible("#edit-edge") and page.is_hidden("#edit-stage")
    assert page.inner_text("#edit-what") == "edge lead -> offer"
    page.fill("#edit-prob", "30")
    edit_and_wait(session, "#set-prob", "lead -> offer 30%")
    assert session.text() == original.replace("lead -> offer 50%", "lead -> offer 30%")
    assert page.is_visible("#dirty")

    # a stage after `lead`: it takes lead's arrows, and lead leads into it
    click_item(session, "stage", "lead")
    page.fill("#new-stage-id", "qualify")
    edit_and_wait(session, "#add-stage", "stage qualify")
    text = session.text()
    assert "stage qualify {\n  owner rep\n}\nlead -> qualify\n" in text
    assert "qualify -> offer 30%\nqualify -> lost\n" in text
    assert text.startswith("# A small process for the studio's tests.\n")  # comments kept
    assert {"qualify", "lead"} <= set(session.renders[-1]["symbols"]["stage"])
    assert session.renders[-1]["ok"]

    # a new transition from a stage, then its removal
    click_item(session, "stage", "offer")
    page.select_option("#edit-target", "lead")
    page.fill("#new-arrow-prob", "10")
    edit_and_wait(session, "#add-arrow", "offer -> lead 10%")
    with_arrow = session.text()
    click_item(session, "edge", "offer -> lead")
    before = session.renders_done()
    page.click("#remove-arrow")
    wait_js(page, f"!{VIEW}.state.doc.toString().includes('offer -> lead')")
    session.wait_render(before)
    assert session.text() == with_arrow.replace("offer -> lead 10%\n", "")


def test_visual_edits_of_owners_and_headcounts(session: Session) -> None:
    page = session.page
    page.click("#zoom-100")
    # the owner of a stage, among the model's roles
    text = session.text().replace(
        "headcount 2\n", 'headcount 2\nrole closer "Closer" in sales headcount 1\n', 1
    )
    replace_all(session, session.text(), text)
    session.wait_idle()
    click_item(session, "stage", "offer")
    page.select_option("#edit-owner", "closer")
    edit_and_wait(session, "#set-owner", "owner closer")
    assert session.text() == text.replace(
        'stage offer "Offer" {\n  owner rep', 'stage offer "Offer" {\n  owner closer'
    )

    # a role's headcount, from its lane when the lanes are roles
    before = session.renders_done()
    page.select_option("#lanes", "role")
    session.wait_render(before)
    page.wait_for_timeout(100)
    click_item(session, "lane", "rep", "corner")
    assert page.get_attribute("#picture", "data-selected") == "lane:rep"
    assert page.is_visible("#edit-role")
    page.fill("#edit-headcount", "4")
    edit_and_wait(session, "#set-headcount", 'role rep "Sales rep" in sales headcount 4')
    session.shot("visual-edit")

    # each edit is one undoable change
    page.focus("#editor .cm-content")
    page.keyboard.press("Control+z")
    assert 'role rep "Sales rep" in sales headcount 2' in session.text()


def test_clicking_a_journey_phase_or_touchpoint_goes_to_its_text(session: Session) -> None:
    page = session.page
    text = session.text().replace(
        "  wait 1d\n", '  wait 1d\n  touchpoint "Call" channel phone\n', 1
    )
    replace_all(session, session.text(), text)
    before = session.renders_done()
    page.click("[role=tab][data-view=journey]")
    session.wait_render(before)
    lines = text.split("\n")
    kinds = {(i["kind"], i["id"]) for i in session.renders[-1]["hitmap"]["items"]}
    assert kinds == {("stage", "lead"), ("stage", "offer"), ("touchpoint", "Call")}
    for kind, ident, written in (
        ("stage", "offer", 'stage offer "Offer" {'),
        ("touchpoint", "Call", '  touchpoint "Call" channel phone'),
    ):
        session.put_caret(0)
        click_item(session, kind, ident)
        assert page.get_attribute("#picture", "data-selected") == f"{kind}:{ident}"
        line = lines.index(written) + 1
        assert session.caret_line_col() == (line, len(written) - len(written.lstrip()) + 1)
