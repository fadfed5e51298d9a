"""`flowsim run`: the whole job, its report in a real headless Chromium, golden results."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.data import DATA

ROOT = Path(__file__).resolve().parents[2]
B2B = ROOT / "examples" / "b2b-cn.flow"
SAAS = ROOT / "examples" / "saas-en.flow"
HISTORY = ROOT / "examples" / "history" / "b2b-cn-deals.csv"
GOLDEN = Path(__file__).parent / "golden"
ARTIFACTS = ROOT / "tests" / "artifacts"


def flowsim(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [exe, *args], capture_output=True, text=True, encoding="utf-8", check=False
    )


def chromium() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise RuntimeError("Chromium is missing: `make test` installs it (scripts/system-deps.sh)")


@pytest.fixture(scope="module")
def b2b_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("b2b") / "report"
    r = flowsim(
        "run", str(B2B), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "-o", str(out), "-n", "3", "--seed", "1", "-q",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == f"report: {out / 'index.html'}"
    return out


def test_report_files_and_sections(b2b_report: Path) -> None:
    names = {p.name for p in b2b_report.iterdir()}
    assert {"index.html", "report.md", "results.json", "flowchart.svg", "journey.svg"} <= names
    page = (b2b_report / "index.html").read_text(encoding="utf-8")
    # self-contained: nothing refers outside the page (XML namespace URIs are names, not loads)
    assert not re.findall(r'(?:href|src)\s*=\s*"(?!#)', page)
    assert not re.findall(r"url\((?!#)", page)
    for needle in ("<script", "<link", "<iframe", "@import"):
        assert needle not in page, needle
    order = [
        "finding", "flowchart", "journey", "funnel", "stage_times", "distributions", "cycle",
        "cfd", "utilization", "scenarios", "tornado", "fidelity", "forecast", "backtest",
        "calibration", "conformance", "quality",
    ]  # fmt: skip
    positions = [page.find(f'<section id="{key}">') for key in order]
    assert all(p >= 0 for p in positions), dict(zip(order, positions, strict=True))
    assert positions == sorted(positions)
    # the Chinese model renders in Chinese
    assert "主要结论" in page and "客户旅程图" in page and "最佳的假设方案" in page
    md = (b2b_report / "report.md").read_text(encoding="utf-8")
    assert "![" in md and "(flowchart.svg)" in md
    results = json.loads((b2b_report / "results.json").read_text(encoding="utf-8"))
    for key in (
        "simulation", "bottlenecks", "metrics", "conformance", "fidelity", "forecast", "backtest",
    ):  # fmt: skip
        assert key in results, key
    # the forecast's verdict: the methods whose 90-day error beats the Monte Carlo's
    verdict = results["backtest"]["verdict"]
    assert set(verdict["not_beaten"]) <= set(verdict["errors"]) - {"monte_carlo"}
    assert results["data_quality"]["rows_read"] == results["data_quality"]["rows_used"]


def test_report_page_in_headless_chromium(b2b_report: Path) -> None:
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: requests.append(r.url))
        page.goto((b2b_report / "index.html").as_uri())
        page.wait_for_load_state("load")
        assert page.locator("section svg").count() >= 12
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        page.screenshot(path=str(ARTIFACTS / "report-top.png"))
        browser.close()
    assert errors == []
    assert [u for u in requests if not u.startswith("file://")] == []


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1" or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


@pytest.mark.parametrize("flow", [B2B, SAAS], ids=["b2b-cn", "saas-en"])
def test_results_json_golden_for_a_seed(flow: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    r = flowsim(
        "run", str(flow), "-o", str(out), "-n", "2", "--seed", "7", "--until", "90d",
        "--workers", "1", "-q",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    text = (out / "results.json").read_text(encoding="utf-8")
    _golden(f"results-{flow.stem}.json", text)
    again = tmp_path / "again"
    r = flowsim(
        "run", str(flow), "-o", str(again), "-n", "2", "--seed", "7", "--until", "90d",
        "--workers", "2", "-q",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    for name in ("results.json", "report.md", "index.html", "flowchart.svg", "funnel.svg"):
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


@pytest.mark.parametrize(
    ("log", "options"),
    [
        # its first four weeks (2,196 applications): the whole log (13,087 over 24 weeks)
        # took 4 min of replays for no further code path; the full log is tested elsewhere
        (DATA / "bpic2012" / "bpic2012.xes.gz", ["--to", "2011-10-28"]),
        (DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv", []),
    ],
    ids=["bpic2012", "maven"],
)
def test_report_builds_on_real_data(log: Path, options: list[str], tmp_path: Path) -> None:
    flow = tmp_path / "discovered.flow"
    d = flowsim("discover", str(log), "-o", str(flow), *options)
    assert d.returncode == 0, d.stderr
    out = tmp_path / "report"
    r = flowsim("run", str(flow), "--history", str(log), "-o", str(out), "-n", "2", "-q", *options)
    assert r.returncode == 0, r.stderr
    assert (out / "index.html").stat().st_size > 10_000


def test_run_reads_history_with_the_log_options_and_refuses_bad_input(tmp_path: Path) -> None:
    # --map reaches the reader (the same options as every log command)
    bad = flowsim(
        "run", str(B2B), "--history", str(HISTORY), "--map", "deal=no_such_column",
        "-o", str(tmp_path / "r"), "-n", "2", "-q",
    )  # fmt: skip
    assert bad.returncode == 1 and "Traceback" not in bad.stderr
    assert "no_such_column" in bad.stderr
    broken = tmp_path / "broken.flow"
    broken.write_text("stage a { owner nobody }\n", encoding="utf-8")
    r = flowsim("run", str(broken), "-o", str(tmp_path / "r2"), "-q")
    assert r.returncode == 1 and "E104" in r.stdout + r.stderr
