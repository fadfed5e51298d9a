"""The ``flowsim.mkdocs`` Markdown extension: real ``mkdocs build --strict`` runs on tiny sites in
tmp_path, and plain Python-Markdown for the fence parsing details."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import markdown

ROOT = Path(__file__).resolve().parents[2]
MKDOCS = Path(sys.executable).parent / "mkdocs"

CONFIG = """site_name: demo
markdown_extensions:
  - admonition
  - flowsim.mkdocs
"""

INDEX = """# Sales process

```flowsim
file: examples/b2b-cn.flow
view: journey
```

```flowsim
# the bottleneck, coloured
file: examples/b2b-cn.flow
overlay: examples/overlay/b2b-cn.metrics.json
color-by: dwell
caption: "售前是瓶颈 <b>"
```

!!! note "A what-if"

    ```flowsim
    file: examples/language/10-scenarios.flow
    scenario: Sharper qualification
    alt: Sharper qualification flowchart
    ```
"""

BAD_FLOW = (Path(__file__).parent / "bad.flow").read_text(encoding="utf-8")  # 6:9 bad role


def make_site(root: Path, index: str) -> Path:
    (root / "docs").mkdir(parents=True)
    (root / "examples" / "language").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "b2b-cn.flow", root / "examples")
    shutil.copy(
        ROOT / "examples" / "language" / "10-scenarios.flow", root / "examples" / "language"
    )
    shutil.copytree(ROOT / "examples" / "overlay", root / "examples" / "overlay")
    (root / "mkdocs.yml").write_text(CONFIG, encoding="utf-8")
    (root / "docs" / "index.md").write_text(index, encoding="utf-8")
    return root


def mkdocs_build(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MKDOCS), "build", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_mkdocs_build_strict_inlines_the_pictures(tmp_path: Path) -> None:
    make_site(tmp_path, INDEX)
    done = mkdocs_build(tmp_path, "--strict")
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    pictures = re.findall(r'<figure class="flowsim flowsim-\w+".*?</figure>', html, re.S)
    assert len(pictures) == 3
    journey, heat, scenario = pictures
    assert journey.startswith('<figure class="flowsim flowsim-journey" id="flowsim-b2b-cn-journey"')
    assert "<svg" in journey and "客户旅程" in journey and "初步接触" in journey
    assert 'aria-label="B2B 大客户销售: 客户旅程"' in journey
    assert 'id="flowsim-b2b-cn-flowchart"' in heat and "停留时间: 9.8天" in heat
    assert "<figcaption>售前是瓶颈 &lt;b&gt;</figcaption>" in heat
    assert re.findall(r">(\d+%)</text>", scenario) == ["35%", "65%", "55%", "45%"]
    assert '<div class="admonition note">' in html  # the fence inside it still drew
    ids = Counter(re.findall(r'\sid="([^"]*)"', html))
    assert [i for i, n in ids.items() if n > 1] == []


def test_bad_flow_file_fails_strict_with_its_location(tmp_path: Path) -> None:
    make_site(tmp_path, "# Broken\n\n```flowsim\nfile: examples/bad.flow\n```\n")
    (tmp_path / "examples" / "bad.flow").write_text(BAD_FLOW, encoding="utf-8")
    done = mkdocs_build(tmp_path, "--strict")
    assert done.returncode == 1
    assert (
        "WARNING -  flowsim: examples/bad.flow:6:9: error[E104]: unknown role 'reps'"
        " (did you mean 'rep'?)" in done.stderr
    )
    assert "Traceback" not in done.stderr
    done = mkdocs_build(tmp_path)  # without --strict the site is built, the error shown
    assert done.returncode == 0
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert '<pre class="flowsim-error">flowsim: examples/bad.flow:6:9: error[E104]' in html


def convert(text: str, **config: str) -> str:
    return markdown.markdown(
        text,
        extensions=["fenced_code", "flowsim.mkdocs"],
        extension_configs={"flowsim.mkdocs": config},
    )


def test_paths_relative_to_base_path_and_explicit_id() -> None:
    text = (
        "```flowsim\nfile: b2b-cn.flow\nid: Sales Map\nlang: en\nscenario: 方案提速30%\n"
        "detail: full\ndirection: TB\ntouchpoints: yes\n```\n"
    )
    html = convert(text, base_path=str(ROOT / "examples"))
    assert html.startswith('<figure class="flowsim flowsim-flowchart" id="sales-map">')
    assert 'id="sales-map--graph0"' in html and "owner: 销售代表" in html
    # design: triangular(4h, 7.5h, 14h) has mean 8.5h, x 0.7 = 5.95h, shown as 6.0h
    assert "effort ≈6.0h · wait ≈4.0d" in html and "[video] 方案演示 · 4/5" in html


def test_other_fences_showing_the_syntax_stay_text() -> None:
    text = "````markdown\n```flowsim\nfile: nowhere.flow\n```\n````\n"
    html = convert(text)
    assert "<svg" not in html and "flowsim-error" not in html
    assert "```flowsim\nfile: nowhere.flow\n```" in html


def test_fence_mistakes_are_reported_in_the_page() -> None:
    html = convert("```flowsim\nveiw: journey\nfile: x.flow\nfile: y.flow\nnonsense\n```\n")
    assert html == (
        '<pre class="flowsim-error">flowsim: unknown option &#x27;veiw&#x27;'
        " (did you mean &#x27;view&#x27;?)\noption &#x27;file&#x27; is given twice\n"
        "expected `key: value` in a flowsim fence, got &#x27;nonsense&#x27;</pre>"
    )
    html = convert(f"```flowsim\nfile: {ROOT}/examples/b2b-cn.flow\ncolor-by: dwell\n```\n")
    assert "color-by needs an overlay" in html
    html = convert("```flowsim\nfile: x.flow\nview: map\ntouchpoints: maybe\n```\n")
    assert "touchpoints: expected true or false, got &#x27;maybe&#x27;" in html
    html = convert("```flowsim\nfile: x.flow\nview: map\n```\n")
    assert "unknown view &#x27;map&#x27;: use flowchart, journey" in html
    html = convert(f"```flowsim\nfile: {ROOT}/examples/b2b-cn.flow\nscenario: nope\n```\n")
    assert "no scenario named &#x27;nope&#x27; (known: &#x27;增加两名售前&#x27;" in html


def test_the_bundled_handbook_builds(tmp_path: Path) -> None:
    """examples/embed/mkdocs, which docs/embedding.md shows, builds under --strict."""
    site = ROOT / "examples" / "embed" / "mkdocs"
    done = mkdocs_build(site, "--strict", "--site-dir", str(tmp_path / "site"))
    assert done.returncode == 0, done.stderr
    html = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert html.count('<figure class="flowsim flowsim-') == 3
    assert '<figure class="flowsim flowsim-flowchart" id="where-deals-wait">' in html
