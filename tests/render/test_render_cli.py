"""`flowsim render` end to end, and the HTML page and themes it uses."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest

import flowsim
from flowsim.render import ThemeError, load_theme
from tests.render.conftest import HOSTILE

ROOT = Path(__file__).resolve().parents[2]
B2B = ROOT / "examples" / "b2b-cn.flow"


def run(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run([exe, *args], capture_output=True, cwd=cwd, env=env, check=False)


def test_default_output_next_to_the_input(tmp_path: Path) -> None:
    src = tmp_path / "sales.flow"
    src.write_bytes(B2B.read_bytes())
    r = run("render", str(src))
    assert r.returncode == 0, r.stderr
    out = tmp_path / "sales.flowchart.svg"
    assert r.stdout.decode().strip() == str(out)
    ET.fromstring(out.read_bytes())


@pytest.mark.parametrize(
    ("view", "fmt", "magic"),
    [
        ("flowchart", "svg", b"<?xml"),
        ("flowchart", "png", b"\x89PNG"),
        ("flowchart", "pdf", b"%PDF"),
        ("flowchart", "dot", b"digraph"),
        ("flowchart", "mermaid", b"---"),
        ("journey", "svg", b"<?xml"),
        ("journey", "png", b"\x89PNG"),
        ("journey", "pdf", b"%PDF"),
        ("journey", "mermaid", b"%%"),
        ("flowchart", "html", b"<!DOCTYPE html>"),
    ],
)
def test_every_view_and_format_to_stdout(view: str, fmt: str, magic: bytes) -> None:
    r = run("render", str(B2B), "--view", view, "--format", fmt, "-o", "-")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(magic)


def test_mermaid_reports_what_it_drops() -> None:
    r = run("render", str(B2B), "--view", "journey", "--format", "mermaid", "-o", "-")
    assert r.returncode == 0
    assert b"flowsim: note:" in r.stderr


def test_options_reach_the_picture(tmp_path: Path) -> None:
    r = run(
        "render",
        str(B2B),
        "--format",
        "dot",
        "-o",
        "-",
        "--direction",
        "TB",
        "--lang",
        "en",
        "--lanes",
        "role",
        "--detail",
        "full",
        "--touchpoints",
        "--scenario",
        "增加两名售前",
    )
    assert r.returncode == 0, r.stderr
    dot = r.stdout.decode()
    assert "rankdir=TB" in dot
    assert "owner: 销售代表" in dot  # English built-in words, Chinese user text
    assert 'class="touchpoints"' in dot
    assert dot.count("subgraph cluster_lane") == 4  # one per role that owns a stage/outcome


def test_language_defaults_to_chinese_for_chinese_processes() -> None:
    r = run("render", str(B2B), "--format", "dot", "-o", "-")
    assert "负责人" in r.stdout.decode()
    saas = run("render", str(ROOT / "examples" / "saas-en.flow"), "--format", "dot", "-o", "-")
    assert "owner:" in saas.stdout.decode()


def test_overlay_and_color_by(tmp_path: Path) -> None:
    overlay = tmp_path / "m.json"
    overlay.write_text(
        json.dumps(
            {
                "source": "history: deals.csv",
                "stages": {"contact": {"dwell_hours": 20}, "design": {"dwell_hours": 120}},
                "edges": [{"source": "contact", "target": "needs", "count": 40}],
            }
        )
    )
    r = run(
        "render",
        str(B2B),
        "--overlay",
        str(overlay),
        "--color-by",
        "dwell",
        "--format",
        "dot",
        "-o",
        "-",
    )
    assert r.returncode == 0, r.stderr
    assert b'id="legend"' in r.stdout and b"history: deals.csv" in r.stdout


def test_bad_inputs_exit_codes(tmp_path: Path) -> None:
    assert run("render", str(B2B), "--theme", "nope").returncode == 2
    r = run("render", str(B2B), "--color-by", "dwell")
    assert r.returncode == 2
    assert b"Error: --color-by needs an overlay (the figures to colour by)" in r.stderr
    assert run("render", str(B2B), "--scenario", "nope").returncode == 2
    bad = tmp_path / "bad.json"
    bad.write_text('{"stages": {"contact": {"leakage": 7}}}')
    r = run("render", str(B2B), "--overlay", str(bad), "--color-by", "leakage")
    assert r.returncode == 1
    assert b"not a valid metrics overlay" in r.stderr
    broken = tmp_path / "broken.flow"
    broken.write_text("stage a owner nobody\n")
    r = run("render", str(broken))
    assert r.returncode == 1 and b"E104" in r.stderr
    assert b"Traceback" not in r.stderr


def test_missing_dot_names_the_package(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    r = run("render", str(B2B), "-o", str(tmp_path / "x.svg"), env=env)
    assert r.returncode == 1
    assert b"apt-get install graphviz" in r.stderr
    assert run("render", str(B2B), "--format", "dot", "-o", "-", env=env).returncode == 0
    assert run("render", str(B2B), "--format", "mermaid", "-o", "-", env=env).returncode == 0


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))


def test_html_is_self_contained_and_inert() -> None:
    from flowsim.model import Outcome, Process, Stage, Touchpoint, Transition

    for text in HOSTILE:
        p = Process(
            name=text,
            stages=(
                Stage(id="a", label=text, touchpoints=(Touchpoint(name=text, pains=(text,)),)),
            ),
            outcomes=(Outcome(id="w", label=text, result="won"),),
            transitions=(Transition(source="a", target="w", label=text),),
        )
        page = flowsim.render(p, format="html").decode("utf-8")
        parser = _Tags()
        parser.feed(page)
        tags = [t for t, _ in parser.tags]
        assert "script" not in tags
        for _, attrs in parser.tags:
            for name, value in attrs:
                assert not name.startswith("on"), (name, value)
                if name in ("href", "src", "xlink:href"):
                    assert not (value or "").startswith(("http", "//", "javascript"))
        assert "Content-Security-Policy" in page
        assert page.count("<svg") == 2


def test_builtin_themes_and_toml(tmp_path: Path) -> None:
    for name in ("default", "mono", "dark", "print"):
        svg = flowsim.render(flowsim.load(B2B), format="svg", theme=name)
        ET.fromstring(svg)
    theme = tmp_path / "acme.toml"
    theme.write_text('extends = "dark"\nstage_fill = "#123456"\n')
    loaded = load_theme(theme)
    assert loaded.name == "acme" and loaded.stage_fill == "#123456"
    assert loaded.background == load_theme("dark").background
    assert b"#123456" in flowsim.render(flowsim.load(B2B), format="dot", theme=str(theme))
    (tmp_path / "bad.toml").write_text("font_size = -3\n")
    with pytest.raises(ThemeError, match="font_size"):
        load_theme(tmp_path / "bad.toml")
    with pytest.raises(ThemeError, match="unknown theme"):
        load_theme("neon")


def test_jupyter_repr_svg() -> None:
    svg = flowsim.load(B2B)._repr_svg_()
    assert svg is not None and "<svg" in svg


@pytest.mark.parametrize(("name", "lang"), [("b2b-cn", "zh"), ("saas-en", "en")])
def test_golden_html(name: str, lang: str) -> None:
    from tests.render.conftest import check_golden

    process = flowsim.load(ROOT / "examples" / f"{name}.flow")
    page = flowsim.render(process, format="html", lang=lang).decode("utf-8")
    check_golden(f"page-{name}.html", page)
    assert flowsim.render(process, format="html", lang=lang).decode("utf-8") == page


def test_render_is_a_callable_package() -> None:
    import flowsim.render.flowchart as chart

    assert chart.__name__ == "flowsim.render.flowchart"
    assert callable(flowsim.render)
    assert flowsim.render.options is not None  # the package's attributes still work
    p = flowsim.load(B2B)
    assert b"\xe8\xb4\x9f\xe8\xb4\xa3\xe4\xba\xba" in flowsim.render(
        p, format="dot"
    )  # 负责人: zh guessed


def test_theme_cannot_inject_dot() -> None:
    from flowsim.render import Theme

    with pytest.raises(ValueError, match="stage_shape"):
        Theme(stage_shape='box, URL="javascript:alert(1)"')
    with pytest.raises(ValueError, match="heat"):
        Theme(heat=())


def test_journey_has_no_dot_and_pdf_is_deterministic() -> None:
    assert run("render", str(B2B), "--view", "journey", "--format", "dot").returncode == 2
    p = flowsim.load(B2B)
    first = flowsim.render(p, format="pdf")
    import time

    time.sleep(1.1)  # cairo stamps the time: the pinned date must hide it
    assert flowsim.render(p, format="pdf") == first


def test_lanes_none_draws_no_lane_boxes() -> None:
    dot = flowsim.render(flowsim.load(B2B), format="dot", lanes="none").decode()
    assert "cluster_lane" not in dot
