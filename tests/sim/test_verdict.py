"""A model that fails its fidelity check says so first: headline, report, simulate, bottlenecks."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowsim.sim.fidelity import FidelityResult, MeasureVerdict

ROOT = Path(__file__).resolve().parents[2]
B2B = ROOT / "examples" / "b2b-cn.flow"
HISTORY = ROOT / "examples" / "history" / "b2b-cn-deals.csv"
OPENING = "The model does not reproduce the history: its "


def run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, encoding="utf-8", check=False
    )


def result(*measures: tuple[str, float, float]) -> FidelityResult:
    verdicts = [
        MeasureVerdict(name=n, unit="hours", model=m, floor=f, ratio=m / f, ok=m / f <= 2)
        for n, m, f in measures
    ]
    return FidelityResult(
        process="p", history="h.csv", train_deals=10, holdout_deals=10, replications=1, seed=0,
        measures=verdicts,
    )  # fmt: skip


def test_the_verdict_names_the_worst_measure_and_what_cannot_be_trusted() -> None:
    fid = result(
        ("n_gram_distance", 0.09, 0.01),  # 9x
        ("cycle_time_distribution_distance", 175.0, 1.0),  # 175x
        ("case_arrival_distribution_distance", 1.5, 1.0),  # within the gate
    )
    text = fid.verdict()
    assert text is not None
    first = text.split(". ")[0]
    assert first == (
        "The model does not reproduce the history: its cycle time distance is 175.0× the "
        "noise floor; also n-gram (paths) 9.0× (a model is trusted within 2×)"
    )
    assert fid.distrusted() == ["cycle_times", "paths", "whatifs"]
    assert "Not to be trusted: the absolute cycle times and times in stage;" in text
    assert "every what-if delta" in text
    assert "queue waits" not in text  # the arrivals passed: the verdict does not blame them
    assert "Still sound: the funnel, conversion and durations measured from the history" in text
    zh = fid.verdict("zh")
    assert zh is not None and zh.startswith(
        "模型未能重现历史数据：其销售周期距离是噪声基线的 175.0 倍"
    )


def test_a_model_within_the_noise_has_no_verdict() -> None:
    fid = result(("n_gram_distance", 0.015, 0.01), ("cycle_time_distribution_distance", 1, 1))
    assert fid.trusted and fid.verdict() is None and fid.distrusted() == []


@pytest.fixture(scope="module")
def bad_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bundled model with five times the leads its history has: fidelity fails."""
    path = tmp_path_factory.mktemp("bad") / "b2b-bad.flow"
    text = B2B.read_text(encoding="utf-8")
    assert "arrivals 40 per week" in text
    path.write_text(text.replace("arrivals 40 per week", "arrivals 200 per week"), "utf-8")
    return path


def test_bottlenecks_open_with_the_verdict_and_word_the_rest_as_conditional(
    bad_model: Path,
) -> None:
    r = run(
        "bottlenecks", str(bad_model), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "-n", "2", "--suggest", "--budget", "3", "-q", "--lang", "en",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith(OPENING) and "× the noise floor" in lines[0]
    assert lines[2].startswith("If the model were right (it is not, see above): ")
    assert "in the model only: the model fails its fidelity check" in r.stdout
    j = run(
        "bottlenecks", str(bad_model), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "-n", "2", "--format", "json", "-q",
    )  # fmt: skip
    assert j.returncode == 0, j.stderr
    data = json.loads(j.stdout)
    assert data["verdict"].startswith(OPENING)


def test_simulate_opens_with_the_verdict(bad_model: Path) -> None:
    r = run(
        "simulate", str(bad_model), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "-n", "2", "-q", "--lang", "en",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith(OPENING)
    assert r.stdout.count(OPENING) == 1  # not repeated among the warnings at the end
    j = run(
        "simulate", str(bad_model), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "-n", "2", "--format", "json", "-q",
    )  # fmt: skip
    assert json.loads(j.stdout)["warnings"][0].startswith(OPENING)


def test_a_trusted_model_has_no_verdict() -> None:
    r = run(
        "bottlenecks", str(B2B), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "-n", "2", "--format", "json", "-q",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["verdict"] is None
    # a trusted model's finding is stated, not conditional (which finding: a replay of the
    # 26-week history, begun empty, keeps the consultants below the 85% "busy" line)
    assert data["principal"].startswith(("The principal bottleneck is", "No role is"))


def test_the_report_headline_and_first_screen_open_with_the_verdict(
    bad_model: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    r = run(
        "run", str(bad_model), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "--lang", "en", "-o", str(out), "-n", "2", "--budget", "4",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stderr.startswith(f"flowsim: warning: {OPENING}")
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    head = results["headline"]
    assert head["trusted"] is False
    assert head["text"].startswith(head["verdict"]) and head["verdict"].startswith(OPENING)
    assert results["warnings"][0] == head["verdict"]
    assert results["bottlenecks"]["verdict"] == head["verdict"]
    assert len(head["not_tried"]) > 0 and head["budget"] == 4
    assert "In the model only (not a forecast" in head["text"]
    # a replay keeps history's paths: ranking by revenue comes with a note on what can move
    assert head["objective"] == "revenue"
    assert any(x.startswith("a replay keeps history's paths") for x in results["warnings"])
    md = (out / "report.md").read_text(encoding="utf-8")
    first_paragraph = md.split("\n\n")[2]  # after the title and the section's heading
    assert first_paragraph.startswith(OPENING)
    # the what-if sections carry the same caveat
    caveat = "In the model only: it fails its fidelity check"
    for title in ("## One-step what-ifs", "## Scenario comparison"):
        assert md.split(title)[1].lstrip().startswith(caveat), title
    page = (out / "index.html").read_text(encoding="utf-8")
    body = page[page.index("<body>") :]
    # the first screen: the title, then the verdict, before the table of contents
    first = re.search(r"<p[^>]*>(.*?)</p>", body)
    assert first is not None
    assert 'class="finding verdict"' in first.group(0)
    assert html.unescape(first.group(1)).startswith(OPENING)
    assert body.index("verdict") < body.index("<nav>")
