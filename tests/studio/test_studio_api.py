"""The studio's HTTP API on a live server: source, save, render, simulate."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

from tests.studio.helpers import Live, call, live_studio


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_get_source_gives_text_and_the_version_of_the_bytes(live: Live, flow: Path) -> None:
    r = call(live, "GET", "/api/source")
    assert r.status == 200
    body = r.json()
    assert body["file"] == "sales.flow"
    assert body["text"] == flow.read_text(encoding="utf-8")
    assert body["version"] == sha(flow.read_bytes())
    assert body["exists"] is True


def test_save_writes_the_file_and_returns_its_new_version(live: Live, flow: Path) -> None:
    base = call(live, "GET", "/api/source").json()
    text = base["text"].replace("headcount 2", "headcount 4")
    r = call(live, "PUT", "/api/source", {"text": text, "base_version": base["version"]})
    assert r.status == 200
    assert flow.read_text(encoding="utf-8") == text
    assert r.json()["version"] == sha(flow.read_bytes())
    # no temporary file is left next to it
    assert sorted(p.name for p in flow.parent.iterdir()) == ["sales.flow"]


def test_save_refuses_with_409_when_the_disk_changed(live: Live, flow: Path) -> None:
    base = call(live, "GET", "/api/source").json()
    flow.write_text(base["text"] + "\n# edited elsewhere\n", encoding="utf-8")
    r = call(live, "PUT", "/api/source", {"text": "# mine\n", "base_version": base["version"]})
    assert r.status == 409
    body = r.json()
    assert body["text"].endswith("# edited elsewhere\n")
    assert body["version"] == sha(flow.read_bytes())
    assert flow.read_text(encoding="utf-8").endswith("# edited elsewhere\n")  # nothing lost
    # saving again on top of what is on disk now is allowed: the user chose to
    again = call(live, "PUT", "/api/source", {"text": "# mine\n", "base_version": body["version"]})
    assert again.status == 200
    assert flow.read_text(encoding="utf-8") == "# mine\n"


def test_save_keeps_crlf_bom_and_file_mode(live: Live, flow: Path) -> None:
    flow.write_bytes(b"\xef\xbb\xbf# one\r\n# two\r\n")
    os.chmod(flow, 0o640)
    base = call(live, "GET", "/api/source").json()
    assert base["text"] == "# one\n# two\n"  # the editor works with \n
    r = call(live, "PUT", "/api/source", {"text": "# one\n# 2\n", "base_version": base["version"]})
    assert r.status == 200
    assert flow.read_bytes() == b"\xef\xbb\xbf# one\r\n# 2\r\n"
    assert stat.S_IMODE(flow.stat().st_mode) == 0o640


def test_save_writes_through_a_symlink(tmp_path: Path, flow: Path) -> None:
    link = tmp_path / "link.flow"
    link.symlink_to(flow)
    with live_studio(link) as live:
        base = call(live, "GET", "/api/source").json()
        assert base["file"] == "link.flow"
        body = {"text": "# via link\n", "base_version": base["version"]}
        assert call(live, "PUT", "/api/source", body).status == 200
    assert link.is_symlink()
    assert flow.read_text(encoding="utf-8") == "# via link\n"


def test_a_missing_file_is_created_by_the_first_save(tmp_path: Path) -> None:
    path = tmp_path / "new.flow"
    with live_studio(path) as live:
        base = call(live, "GET", "/api/source").json()
        assert base == {"file": "new.flow", "text": "", "version": None, "exists": False}
        r = call(live, "PUT", "/api/source", {"text": "# new\n", "base_version": None})
        assert r.status == 200
        # a second page that still thinks the file is missing must not overwrite it
        r = call(live, "PUT", "/api/source", {"text": "# other\n", "base_version": None})
        assert r.status == 409
    assert path.read_text(encoding="utf-8") == "# new\n"


def test_an_undecodable_file_is_a_clear_error(live: Live, flow: Path) -> None:
    flow.write_bytes('stage 初步 "x"\n'.encode("gb18030"))
    r = call(live, "GET", "/api/source")
    assert r.status == 422
    assert "UTF-8" in r.json()["error"]


def test_render_draws_the_text_it_is_given(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8").replace('"Offer"', '"Written proposal"')
    r = call(live, "POST", "/api/render", {"text": text, "view": "flowchart"})
    assert r.status == 200
    body = r.json()
    assert body["ok"] is True
    assert body["diagnostics"] == []
    assert body["scenarios"] == ["One more rep"]
    assert body["svg"].lstrip().startswith(("<?xml", "<svg"))
    assert "Written proposal" in body["svg"]
    journey = call(live, "POST", "/api/render", {"text": text, "view": "journey"}).json()
    assert journey["view"] == "journey"
    assert journey["svg"] != body["svg"]


def test_render_with_errors_returns_located_diagnostics_and_no_picture(
    live: Live, flow: Path
) -> None:
    lines = flow.read_text(encoding="utf-8").splitlines()
    row = lines.index("  owner rep")
    lines[row] = "  owner reps"  # an unknown role
    r = call(live, "POST", "/api/render", {"text": "\n".join(lines) + "\n"})
    body = r.json()
    assert r.status == 200
    assert body["ok"] is False
    assert body["svg"] is None
    first = body["diagnostics"][0]
    assert first["code"] == "E104"
    assert first["span"]["line"] == row + 1
    assert first["span"]["column"] == 9
    assert first["local"] is True
    assert "rep" in first["message"]


def test_render_lists_a_syntax_error_and_an_unknown_role_at_once(live: Live, flow: Path) -> None:
    lines = flow.read_text(encoding="utf-8").splitlines()
    effort = lines.index("  effort 1h")
    lines[effort] = "  effort 1 hour"  # a syntax error in the first stage
    owner = len(lines) - 1 - lines[::-1].index("  owner rep")
    lines[owner] = "  owner reps"  # and an unknown role in the second
    r = call(live, "POST", "/api/render", {"text": "\n".join(lines) + "\n"})
    body = r.json()
    assert r.status == 200
    assert body["ok"] is False
    assert body["svg"] is None
    found = [(d["code"], d["span"]["line"], d["span"]["column"]) for d in body["diagnostics"]]
    assert found == [("E001", effort + 1, 10), ("E104", owner + 1, 9)]


def test_render_refuses_bad_options(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    assert call(live, "POST", "/api/render", {"text": text, "view": "gantt"}).status == 400
    assert call(live, "POST", "/api/render", {"view": "flowchart"}).status == 400
    assert call(live, "POST", "/api/render", b"not json").status == 400
    assert call(live, "POST", "/api/render", ["text"]).status == 400
    r = call(live, "POST", "/api/render", {"text": text, "overlay": {"stages": 3}})
    assert r.status == 400
    assert "overlay" in r.json()["error"]
    r = call(live, "POST", "/api/render", {"text": text, "color_by": "mood"})
    assert r.status == 400


def test_simulate_returns_deltas_with_cis_and_an_overlay_that_colours(
    live: Live, flow: Path
) -> None:
    text = flow.read_text(encoding="utf-8")
    r = call(
        live,
        "POST",
        "/api/simulate",
        {"text": text, "scenarios": ["One more rep"], "replications": 3, "days": 60},
    )
    assert r.status == 200, r.body
    body = r.json()
    assert body["replications"] == 3
    assert body["principal"]
    assert body["baseline"]["arrived"]["mean"] > 0
    (scenario,) = body["scenarios"]
    assert scenario["name"] == "One more rep"
    delta = scenario["deltas"]["cycle_days_mean"]
    assert delta["low"] <= delta["mean"] <= delta["high"]
    assert set(body["overlay"]["stages"]) == {"lead", "offer"}
    plain = call(live, "POST", "/api/render", {"text": text}).json()["svg"]
    coloured = call(
        live, "POST", "/api/render", {"text": text, "overlay": body["overlay"], "color_by": "queue"}
    ).json()["svg"]
    assert coloured != plain
    # same input and seed: the same numbers
    again = call(
        live,
        "POST",
        "/api/simulate",
        {"text": text, "scenarios": ["One more rep"], "replications": 3, "days": 60},
    ).json()
    assert again["scenarios"] == body["scenarios"]


def test_simulate_refuses_what_it_cannot_run(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    r = call(live, "POST", "/api/simulate", {"text": text, "scenarios": ["Nope"]})
    assert r.status == 422
    assert "Nope" in r.json()["error"]
    r = call(live, "POST", "/api/simulate", {"text": text, "replications": 1})
    assert r.status == 400  # the body alone is wrong: see below
    r = call(live, "POST", "/api/simulate", {"text": text, "replications": "five"})
    assert r.status == 400
    r = call(live, "POST", "/api/simulate", {"text": text, "scenarios": "One more rep"})
    assert r.status == 400
    r = call(live, "POST", "/api/simulate", {"text": text.replace("owner rep", "owner nobody")})
    assert r.status == 422
    assert r.json()["diagnostics"][0]["code"] == "E104"
    r = call(live, "POST", "/api/simulate", {"text": text.replace("arrivals 20 per week", "")})
    assert r.status == 422
    assert "arrivals" in r.json()["error"]


def test_cancel_without_a_run_is_harmless(live: Live) -> None:
    r = call(live, "POST", "/api/simulate/cancel", {})
    assert r.status == 200
    assert r.json() == {"cancelled": False}


def test_a_save_without_base_version_is_a_bad_request_not_a_conflict(
    live: Live, flow: Path
) -> None:
    before = flow.read_bytes()
    r = call(live, "PUT", "/api/source", {"text": "# mine\n"})
    assert r.status == 400
    assert "base_version" in r.json()["error"]
    r = call(live, "PUT", "/api/source", {"text": "# mine\n", "base_version": 3})
    assert r.status == 400
    assert flow.read_bytes() == before
    # null is a value: "I loaded a file that did not exist", which is a conflict here
    r = call(live, "PUT", "/api/source", {"text": "# mine\n", "base_version": None})
    assert r.status == 409
    assert r.json()["version"] == sha(before)


def test_run_parameters_out_of_range_are_a_bad_request(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    for field, value, needle in [
        ("replications", 1, "between 2 and 50"),
        ("replications", 51, "between 2 and 50"),
        ("days", 0, "between 1 and 730"),
        ("days", 731, "between 1 and 730"),
        ("days", "ninety", "must be a number"),
        ("seed", 1.5, "must be a number"),
    ]:
        r = call(live, "POST", "/api/simulate", {"text": text, field: value})
        assert r.status == 400, (field, value, r.body)
        assert needle in r.json()["error"]
    # NaN is not JSON, but Python's json reads it: it is refused all the same
    r = call(live, "POST", "/api/simulate", b'{"text": "# x\\n", "days": NaN}')
    assert r.status == 400
    # the body is fine but the text lacks the scenario: 422, as for a text with errors
    r = call(live, "POST", "/api/simulate", {"text": text, "scenarios": ["Nope"]})
    assert r.status == 422
    assert r.json()["error"] == "no scenario 'Nope' in the model (it has: One more rep)"


def test_a_wrong_method_is_405_with_allow_and_a_json_error(live: Live) -> None:
    for method, path, allowed in [
        ("GET", "/api/render", "POST"),
        ("DELETE", "/api/source", "GET, HEAD, PUT"),
        ("POST", "/api/source", "GET, HEAD, PUT"),
        ("GET", "/api/simulate/cancel", "POST"),
        ("PUT", "/api/events", "GET, HEAD"),
    ]:
        r = call(live, method, path, {} if method != "GET" else None)
        assert r.status == 405, (method, path)
        assert r.headers["content-type"] == "application/json"
        assert sorted(r.headers["allow"].split(", ")) == allowed.split(", ")
        assert r.json() == {
            "error": f"{method} is not allowed on {path} (allowed: {r.headers['allow']})"
        }


def test_an_unknown_path_is_a_json_404(live: Live) -> None:
    for path in ("/api/nothing", "/nothing", "/static/nothing.js", "/static/index.html"):
        r = call(live, "GET", path)
        assert r.status == 404, path
        assert r.headers["content-type"] == "application/json"
        assert r.json() == {"error": "not found"}


def test_export_draws_with_the_renderer_and_names_the_download(live: Live, flow: Path) -> None:
    import flowsim

    text = flow.read_text(encoding="utf-8")
    body = {"text": text, "format": "svg", "lanes": "role", "theme": "mono"}
    r = call(live, "POST", "/api/export", body)
    assert r.status == 200
    assert r.headers["content-type"] == "image/svg+xml"
    assert r.headers["content-disposition"] == 'attachment; filename="sales-flowchart.svg"'
    assert r.body == flowsim.render(flowsim.parse(text), lanes="role", theme="mono")
    r = call(live, "POST", "/api/export", {"text": text, "format": "pdf", "view": "journey"})
    assert r.status == 200 and r.body.startswith(b"%PDF-")
    assert r.headers["content-disposition"].endswith('filename="sales-journey.pdf"')


def test_export_refuses_bad_requests(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    r = call(live, "POST", "/api/export", {"text": text, "format": "gif"})
    assert r.status == 400 and r.json()["error"] == "'format' must be one of svg, png, pdf, mermaid"
    r = call(live, "POST", "/api/export", {"text": text, "format": "svg", "theme": "/etc/passwd"})
    assert r.status == 400 and "'theme' must be one of default" in r.json()["error"]
    broken = text.replace("owner rep", "owner nobody", 1)
    r = call(live, "POST", "/api/export", {"text": broken, "format": "svg"})
    assert r.status == 422 and r.json()["diagnostics"][0]["code"] == "E104"
    r = call(live, "POST", "/api/render", {"text": text, "direction": "RL"})
    assert r.status == 400 and r.json() == {"error": "'direction' must be one of LR, TB"}


def test_results_export_as_markdown_and_csv(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    answer = call(
        live,
        "POST",
        "/api/simulate",
        {"text": text, "scenarios": ["One more rep"], "replications": 2, "days": 30},
    )
    results = answer.json()
    r = call(live, "POST", "/api/export/results", {"results": results, "format": "csv"})
    assert r.status == 200 and r.headers["content-type"] == "text/csv; charset=utf-8"
    lines = r.body.decode().splitlines()
    assert lines[0] == (
        "kpi,baseline,One more rep: change,One more rep: 95% CI low,One more rep: 95% CI high"
    )
    assert len(lines) == 6
    r = call(live, "POST", "/api/export/results", {"results": results, "format": "markdown"})
    assert r.status == 200 and r.body.decode().count("\n") == 7
    for bad in ({"results": results, "format": "xlsx"}, {"results": [], "format": "csv"}):
        assert call(live, "POST", "/api/export/results", bad).status == 400
    spoofed = {"baseline": {"won_per_week": {"mean": "=cmd()"}}, "scenarios": []}
    r = call(live, "POST", "/api/export/results", {"results": spoofed, "format": "csv"})
    assert r.status == 400 and "baseline.won_per_week.mean" in r.json()["error"]


def test_a_scenario_name_cannot_become_a_spreadsheet_formula(live: Live) -> None:
    results = {"baseline": {}, "scenarios": [{"name": "=HYPERLINK(1)", "deltas": {}}]}
    r = call(live, "POST", "/api/export/results", {"results": results, "format": "csv"})
    assert r.body.decode().splitlines()[0].split(",")[2] == "'=HYPERLINK(1): change"


def test_diff_and_the_409_carry_the_unified_diff(live: Live, flow: Path) -> None:
    base = call(live, "GET", "/api/source").json()
    mine = base["text"].replace("headcount 2", "headcount 4")
    r = call(live, "POST", "/api/diff", {"text": mine})
    assert r.status == 200
    diff = r.json()["diff"]
    assert diff.startswith("--- sales.flow (on disk)\n+++ sales.flow (your edits)\n@@")
    assert '\n-role rep "Sales rep" in sales headcount 2\n' in diff
    assert '\n+role rep "Sales rep" in sales headcount 4\n' in diff
    assert call(live, "POST", "/api/diff", {"text": base["text"]}).json()["diff"] == ""
    flow.write_text(base["text"] + "# theirs\n", encoding="utf-8")
    r = call(live, "PUT", "/api/source", {"text": mine, "base_version": base["version"]})
    assert r.status == 409 and "\n-# theirs\n" in r.json()["diff"]


def test_the_hit_map_of_a_hostile_file_has_no_markup(live: Live, flow: Path) -> None:
    from tests.studio.test_studio_e2e import HOSTILE

    r = call(live, "POST", "/api/render", {"text": HOSTILE})
    hitmap = r.json()["hitmap"]
    assert {i["id"] for i in hitmap["items"] if i["kind"] == "stage"} == {"lead"}
    assert "<" not in str(hitmap) and ">" not in str(hitmap).replace("->", "")


def test_edit_writes_one_visual_edit_into_the_text(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    change = {"kind": "set_probability", "source": "lead", "target": "offer", "probability": 0.3}
    r = call(live, "POST", "/api/edit", {"text": text, "edit": change})
    assert r.status == 200
    assert r.json() == {"text": text.replace("lead -> offer 50%", "lead -> offer 30%")}
    assert flow.read_text(encoding="utf-8") == text  # the page saves; the edit does not
    r = call(
        live,
        "POST",
        "/api/edit",
        {"text": text, "edit": {"kind": "set_headcount", "role": "rep", "headcount": 4}},
    )
    assert 'role rep "Sales rep" in sales headcount 4' in r.json()["text"]


def test_edit_refuses_what_it_cannot_do(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    r = call(live, "POST", "/api/edit", {"text": text, "edit": {"kind": "paint"}})
    assert r.status == 400 and r.json()["error"].startswith("'edit.kind' must be one of add_stage")
    bad = {"kind": "set_headcount", "role": "rep", "headcount": "four"}
    r = call(live, "POST", "/api/edit", {"text": text, "edit": bad})
    assert r.status == 400 and r.json() == {"error": "'edit.headcount' has the wrong type"}
    ghost = {"kind": "set_owner", "stage": "lead", "role": "ghost"}
    r = call(live, "POST", "/api/edit", {"text": text, "edit": ghost})
    assert r.status == 422 and r.json() == {"error": "there is no role 'ghost'"}
    too_much = {"kind": "set_probability", "source": "offer", "target": "won", "probability": 1.2}
    r = call(live, "POST", "/api/edit", {"text": text, "edit": too_much})
    assert r.status == 422 and "probability 120% is outside 0%..100%" in r.json()["error"]
