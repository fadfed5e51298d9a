"""End-to-end CLI tests: one per command, through the installed console script."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
B2B = ROOT / "examples" / "b2b-cn.flow"


def run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [exe, *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=cwd,
        check=False,
    )


def test_check_ok() -> None:
    # the bundled example is clean: `make demo` checks it without a warning
    r = run("check", str(B2B))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == (
        f"{B2B}: ok - 4 stages, 2 outcomes, 4 roles, 4 departments, 9 transitions, 2 scenarios"
    )
    assert run("check", "--strict", str(B2B)).returncode == 0


@pytest.fixture
def vague(tmp_path: Path) -> Path:
    """The example without the goal and exit criteria of its design stage."""
    text = B2B.read_text(encoding="utf-8")
    for line in ('  goal "制定解决方案与报价"\n', '  exit "客户认可方案与报价"\n'):
        assert line in text
        text = text.replace(line, "")
    path = tmp_path / "vague.flow"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_ok_with_warnings(vague: Path) -> None:
    r = run("check", str(vague))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith(
        "ok - 4 stages, 2 outcomes, 4 roles, 4 departments, 9 transitions, 2 scenarios (2 warnings)"
    )
    assert "warning[W102]" in r.stdout


def test_check_strict_fails_on_warnings(vague: Path) -> None:
    assert run("check", "--strict", str(vague)).returncode == 1


def test_check_reports_errors_like_a_compiler(tmp_path: Path) -> None:
    bad = tmp_path / "sales.flow"
    bad.write_text(
        "role rep in sales\ndepartment sales\nstage contact {\n  owner rep\n}\n"
        "stage needs {\n  owner reps\n}\noutcome won\ncontact -> needs\nneeds -> won\n",
        encoding="utf-8",
    )
    r = run("check", str(bad))
    assert r.returncode == 1
    assert f"{bad}:7:9: error[E104]: unknown role 'reps' (did you mean 'rep'?)" in r.stderr
    assert "7 |   owner reps\n  |         ^^^^" in r.stderr
    assert "Traceback" not in r.stderr


def test_check_json(vague: Path) -> None:
    r = run("check", "--format", "json", str(vague))
    data = json.loads(r.stdout)
    assert data["ok"] is True
    assert {d["code"] for d in data["diagnostics"]} == {"W102", "W103"}
    assert data["diagnostics"][0]["span"]["line"] > 0


def test_check_stdin() -> None:
    r = run("check", "-", stdin="stage a\noutcome won\na -> won 50%\n")
    assert r.returncode == 1
    assert "<stdin>:3:1: error[E211]" in r.stderr


def test_usage_error_exits_2() -> None:
    assert run("check").returncode == 2
    assert run("frobnicate").returncode == 2
    assert run("export", str(B2B), "--format", "yaml").returncode == 2


def test_fmt_in_place_and_check(tmp_path: Path) -> None:
    path = tmp_path / "x.flow"
    path.write_text("stage a   owner r # note\nrole r\noutcome won\na->won\n", encoding="utf-8")
    assert run("fmt", "--check", str(path)).returncode == 1
    r = run("fmt", str(path))
    assert r.returncode == 0, r.stderr
    text = path.read_text(encoding="utf-8")
    assert "stage a {  # note\n  owner r\n}" in text
    assert run("fmt", "--check", str(path)).returncode == 0


def test_fmt_stdin_to_stdout() -> None:
    r = run("fmt", "-", stdin="stage a\noutcome won\na->won\n")
    assert r.returncode == 0
    assert r.stdout.endswith("stage a\noutcome won\n\na -> won\n")


def test_fmt_refuses_broken_files(tmp_path: Path) -> None:
    path = tmp_path / "x.flow"
    path.write_text("stage a owner\n", encoding="utf-8")
    r = run("fmt", str(path))
    assert r.returncode == 1
    assert path.read_text(encoding="utf-8") == "stage a owner\n"


def test_export_json_and_scenario() -> None:
    r = run("export", str(B2B), "--format", "json")
    assert r.returncode == 0
    data = json.loads(r.stdout)
    assert data["name"] == "B2B 大客户销售"
    assert "span" not in json.dumps(data)
    r = run("export", str(B2B), "--scenario", "增加两名售前")
    roles = {x["id"]: x["headcount"] for x in json.loads(r.stdout)["roles"]}
    assert roles["se"] == 5  # 3 in the baseline, two more
    r = run("export", str(B2B), "--scenario", "nope")
    assert r.returncode == 2
    assert "known:" in r.stderr


def test_export_flow_and_spans(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    assert run("export", str(B2B), "--spans", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text(encoding="utf-8"))["stages"][0]["span"]["line"] == 20
    r = run("export", str(B2B), "--format", "flow")
    assert r.stdout.startswith("# B2B")


def test_schema() -> None:
    r = run("schema")
    assert r.returncode == 0
    schema = json.loads(r.stdout)
    assert schema["title"] == "Process"


@pytest.mark.parametrize("payload", [b"\x00\x01\xff\xfe", b"stage \xe4\xb8"])
def test_binary_input_is_a_clean_error(tmp_path: Path, payload: bytes) -> None:
    path = tmp_path / "bin.flow"
    path.write_bytes(payload)
    r = run("check", str(path))
    assert r.returncode == 1
    assert "E005" in r.stderr
    assert "Traceback" not in r.stderr


def test_fmt_diff_prints_and_does_not_write(tmp_path: Path) -> None:
    path = tmp_path / "x.flow"
    original = "stage a\noutcome won\na->won\n"
    path.write_text(original, encoding="utf-8")
    r = run("fmt", "--diff", str(path))
    assert r.returncode == 0, r.stderr
    assert "-a->won\n+\n+a -> won" in r.stdout
    assert path.read_text(encoding="utf-8") == original


def test_schema_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert run("schema", "-o", str(out)).returncode == 0
    assert json.loads(out.read_text(encoding="utf-8"))["title"] == "Process"


def test_check_several_files_as_json(tmp_path: Path) -> None:
    bad = tmp_path / "bad.flow"
    bad.write_text("stage a owner nobody\n", encoding="utf-8")
    r = run("check", "--format", "json", str(B2B), str(bad))
    assert r.returncode == 1
    data = json.loads(r.stdout)
    assert [d["ok"] for d in data] == [True, False]
    assert data[1]["diagnostics"][0]["code"] == "E104"


def test_every_command_that_talks_on_stderr_takes_quiet() -> None:
    """-q/--quiet silences warnings, notes and progress (errors are always printed).

    ``export`` and ``schema`` print only their result; every other command takes -q.
    """
    from flowsim.cli import main

    silent = {"export", "schema"}
    for name, command in main.commands.items():
        flags = {o for p in command.params for o in getattr(p, "opts", [])}
        if name in silent:
            continue
        assert {"-q", "--quiet"} <= flags, f"flowsim {name} has no -q/--quiet"


def test_quiet_fmt_and_render(tmp_path: Path) -> None:
    path = tmp_path / "x.flow"
    path.write_text("stage a   owner r\nrole r\noutcome won\na->won\n", encoding="utf-8")
    loud = run("fmt", str(path))
    assert loud.returncode == 0 and f"reformatted {path}" in loud.stderr
    path.write_text("stage a   owner r\nrole r\noutcome won\na->won\n", encoding="utf-8")
    quiet = run("fmt", "-q", str(path))
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert "stage a {" in path.read_text(encoding="utf-8")
    out = tmp_path / "x.dot"
    r = run("render", str(B2B), "--format", "dot", "-o", str(out), "-q")
    assert r.returncode == 0 and r.stderr == "" and out.exists()


def test_render_draws_the_format_its_output_name_says(tmp_path: Path) -> None:
    png = tmp_path / "journey.png"
    r = run("render", str(B2B), "--view", "journey", "-o", str(png), "-q")
    assert r.returncode == 0, r.stderr
    assert png.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    mermaid = tmp_path / "flow.mmd"
    assert run("render", str(B2B), "-o", str(mermaid), "-q").returncode == 0
    assert mermaid.read_text(encoding="utf-8").startswith(("flowchart", "%%", "---"))


def test_render_refuses_a_format_its_output_name_contradicts(tmp_path: Path) -> None:
    out = tmp_path / "journey.png"
    r = run("render", str(B2B), "--format", "svg", "-o", str(out))
    assert r.returncode == 2
    assert "names a .png file but --format is svg" in r.stderr
    assert not out.exists()


def test_no_two_options_of_a_command_share_a_name() -> None:
    """The shared option groups (@log_options, @sim_options) and a command's own options
    never hand the command one keyword twice (click would silently keep only the last)."""
    from flowsim.cli import main as cli

    for name, command in cli.commands.items():
        names = [p.name for p in command.params]
        assert len(names) == len(set(names)), (name, names)
