"""Report charts: golden SVGs, byte-for-byte determinism, CJK glyphs, escaping, empty input.

Regenerate the golden files with ``FLOWSIM_UPDATE_GOLDEN=1 pytest tests/report/test_charts.py``
and look at the changed charts before committing them (e.g. open them in a browser).
The goldens hold for the fonts CI installs (DejaVu Sans from matplotlib, WenQuanYi Micro Hei
from ``fonts-wqy-microhei``) and the pinned matplotlib.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from flowsim.report import charts
from flowsim.report.marks import fmts
from flowsim.report.numbers import Numbers
from flowsim.report.style import ChartError, chart_numbers, font_families

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "golden"
SVG = "{http://www.w3.org/2000/svg}"
DC = "{http://purl.org/dc/elements/1.1/}"

# The four stages of examples/b2b-cn.flow, and the same process in English.
ZH = ["初步接触", "需求分析", "方案设计", "谈判签约"]
EN = ["First contact", "Needs analysis", "Solution design", "Negotiation"]
ZH_SOURCE = "来源：模拟 30 次重复，种子 7；历史 1,248 个商机"
EN_SOURCE = "Source: simulation, 30 replications, seed 7; history 1,248 deals"


def _hours(scale: float, n: int) -> list[float]:
    """Skewed, exactly reproducible time-in-stage samples (plain arithmetic, no RNG)."""
    return [round(scale * (0.3 + 1.31 ** (i % 13)) + (i * 7 % 5), 2) for i in range(n)]


def _weeks(n: int) -> list[datetime]:
    return [datetime(2024, 1, 1) + timedelta(weeks=i) for i in range(n)]


CASES: dict[str, Callable[[], str]] = {
    "funnel-zh": lambda: charts.funnel(
        ZH,
        {"历史": [1.0, 0.61, 0.34, 0.24], "模型": [1.0, 0.6, 0.36, 0.23]},
        title="各阶段到达率：历史与模型",
        ylabel="到达该阶段的商机占比",
        source=ZH_SOURCE,
    ),
    "funnel-en": lambda: charts.funnel(
        EN,
        {"history": [1.0, 0.58, 0.31, None], "model": [1.0, 0.6, 0.33, 0.21]},
        title="Share of deals reaching each stage",
        ylabel="deals reaching the stage (%)",
        source=EN_SOURCE,
    ),
    "stage_times-zh": lambda: charts.stage_times(
        ZH,
        {
            "排队": [3.5, 10.2, 41.0, 26.3],
            "非工作时间": [18.0, 30.5, 52.4, 40.1],
            "处理": [2.3, 4.0, 9.3, 6.0],
            "客户等待": [72.0, 120.0, 96.0, 168.0],
        },
        title="各阶段时间构成（平均）",
        xlabel="小时",
        source=ZH_SOURCE,
    ),
    "distributions-zh": lambda: charts.distributions(
        ZH,
        [_hours(4, 80), _hours(9, 60), _hours(15, 40), _hours(22, 30)],
        title="各阶段停留时间分布",
        xlabel="小时（对数刻度）",
        source=ZH_SOURCE,
        log_scale=True,
    ),
    "histogram-en": lambda: charts.histogram(
        {"won": [d / 3 for d in _hours(5, 90)], "lost": [d / 5 for d in _hours(3, 140)]},
        title="Cycle time by outcome",
        xlabel="days from first contact to close",
        ylabel="deals",
        source=EN_SOURCE,
        bins=20,
    ),
    "cumulative_flow-en": lambda: charts.cumulative_flow(
        _weeks(12),
        {  # deals in each state each week: 40 arrive a week, the top is 40, 80, ... 480
            "Lost": [float(12 * i) for i in range(12)],
            "Won": [float(4 * i) for i in range(12)],
            "Negotiation": [float(min(3 * i, 12)) for i in range(12)],
            "First contact": [float(40 * (i + 1) - 16 * i - min(3 * i, 12)) for i in range(12)],
        },
        title="Work in progress over time (cumulative flow)",
        ylabel="deals",
        source=EN_SOURCE,
    ),
    "intervals-utilization-zh": lambda: charts.intervals(
        ["销售代表", "解决方案顾问", "法务", "客户成功经理"],
        [0.48, 0.91, 0.77, None],
        [0.45, 0.87, 0.70, None],
        [0.51, 0.95, 0.84, None],
        title="角色利用率（95% 置信区间）",
        xlabel="利用率",
        source=ZH_SOURCE,
        percent=True,
    ),
    "intervals-forest-zh": lambda: charts.intervals(
        ["增加两名售前", "方案提速30%", "法务外包"],
        [-6.8, -1.2, 0.4],
        [-8.9, -2.9, -0.6],
        [-4.7, 0.5, 1.4],
        title="情景与基线的配对差异：平均周期",
        xlabel="周期变化（天）",
        source=ZH_SOURCE,
        zero_line=True,
    ),
    "tornado-en": lambda: charts.tornado(
        ["Solution consultants", "Arrivals", "Legal headcount", "Design effort"],
        [2.1, -3.4, 0.6, -1.1],
        [-5.5, 4.0, -0.2, 1.3],
        title="Sensitivity of the mean cycle time",
        xlabel="change in mean cycle time (days)",
        source=EN_SOURCE,
        low_label="input −20%",
        high_label="input +20%",
    ),
    "scorecard-en": lambda: charts.scorecard(
        ["cycle time", "win rate", "stage visits", "WIP", "rework share"],
        [0.12, 0.021, 0.4, 9.0, 0.05],
        [0.09, 0.018, 0.1, None, 0.06],
        title="Fidelity against the noise floor",
        xlabel="model error / noise floor (×)",
        source=EN_SOURCE,
    ),
    "fan-en": lambda: charts.fan(
        [f"W{i}" for i in range(1, 14)],
        [1.0 + 1.5 * i for i in range(13)],
        [2.0 + 2.2 * i for i in range(13)],
        [4.0 + 3.1 * i for i in range(13)],
        title="Forecast: cumulative wins, next 13 weeks",
        ylabel="wins (cumulative)",
        source=EN_SOURCE,
        actual=[2.0, 4.0, 7.0, 8.0, 11.0, 13.0, *([None] * 7)],
        reference=18.5,
        reference_label="weighted pipeline",
        actual_label="actual",
    ),
    "fan-bands-en": lambda: charts.fan(
        [f"2017-W{w}" for w in range(40, 53)],
        [118.0 - 4 * i for i in range(13)],
        [132.0 - 4 * i for i in range(13)],
        [146.0 - 4 * i for i in range(13)],
        inner=([125.0 - 4 * i for i in range(13)], [139.0 - 4 * i for i in range(13)]),
        title="Backtest: deals won per week from 2017-10-02, against what happened",
        ylabel="deals won",
        source=EN_SOURCE,
        actual=[53.0, 67.0, 53.0, 72.0, 92.0, 92.0, 95.0, 93.0, 88.0, 118.0, 108.0, 119.0, 131.0],
        actual_label="actual",
    ),
    "calibration-zh": lambda: charts.calibration(
        {
            "蒙特卡洛": [0.01, 0.03, 0.05, 0.08, 0.12, 0.35, 0.5, 0.93, 0.96, 0.97, 0.99, 1.0],
            "运行率": [0.05, 0.15, 0.25, 0.31, 0.38, 0.45, 0.52, 0.64, 0.71, 0.79, 0.88, 0.97],
        },
        title="每周预测的校准（自 2017-10-02 起的回测）",
        source=ZH_SOURCE,
        pit_label="概率积分变换：实际值在预测分布中的位置",
        count_label="周数",
        nominal_label="中心区间（名义）",
        observed_label="实际值落入比例",
        ideal_label="完全校准",
    ),
    "bars-zh": lambda: charts.bars(
        ["已使用", "跳过：缺少日期", "跳过：阶段未知", "跳过：重复行"],
        [1248.0, 37.0, 12.0, 3.0],
        title="数据质量：读取的行",
        xlabel="行数",
        source="来源：deals.csv",
    ),
}

TITLE = re.compile(r"<!-- (.*?) -->")


@pytest.fixture(scope="module")
def fresh() -> Iterator[subprocess.Popen[bytes]]:
    """A fresh interpreter (another hash seed) rendering one case, started early to run beside."""
    script = (
        "import sys; from tests.report.test_charts import CASES; "
        "sys.stdout.buffer.write(CASES['funnel-zh']().encode('utf-8'))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    with subprocess.Popen(
        [sys.executable, "-c", script], cwd=ROOT, env=env, stdout=subprocess.PIPE
    ) as proc:
        yield proc


@pytest.fixture(scope="module")
def rendered(fresh: subprocess.Popen[bytes]) -> dict[str, tuple[str, list[str]]]:
    """Every case rendered once, with the warnings each one raised."""
    out: dict[str, tuple[str, list[str]]] = {}
    for name, make in CASES.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            svg = make()
        out[name] = (svg, [str(w.message) for w in caught])
    return out


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / f"{name}.svg"
    if os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"no golden file {path.name}: run with FLOWSIM_UPDATE_GOLDEN=1"
    expected = path.read_text(encoding="utf-8")
    if actual != expected:
        lines = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), path.name, "actual", lineterm=""
        )
        shown = "\n".join(list(lines)[:40])
        pytest.fail(f"{path.name} differs (FLOWSIM_UPDATE_GOLDEN=1 updates it):\n{shown}")


def _root(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def _group(root: ET.Element, gid: str) -> ET.Element:
    found = root.find(f".//{SVG}g[@id='{gid}']")
    assert found is not None, f"no <g id={gid!r}> in the SVG"
    return found


@pytest.mark.parametrize("name", list(CASES))
def test_matches_golden(name: str, rendered: dict[str, tuple[str, list[str]]]) -> None:
    _golden(name, rendered[name][0])


@pytest.mark.parametrize("name", list(CASES))
def test_accessible_title_and_drawn_source(
    name: str, rendered: dict[str, tuple[str, list[str]]]
) -> None:
    svg, caught = rendered[name]
    assert caught == []
    root = _root(svg)
    # The chart title is the root's first child <title> (the accessible name) ...
    assert root[0].tag == f"{SVG}title"
    title = root[0].text
    assert title
    assert title in svg.split("<metadata>")[1]
    # ... and is drawn, as glyph outlines, together with the source line.
    for gid in ("chart-title", "chart-source"):
        group = _group(root, gid)
        assert len(group.findall(f".//{SVG}use")) >= 3, f"{gid} has no glyphs"
    source = root.find(f".//{DC}description")
    assert source is not None
    assert source.text in (ZH_SOURCE, EN_SOURCE, "来源：deals.csv")
    drawn = TITLE.findall(svg)  # matplotlib notes each drawn text in a comment
    assert title in drawn
    assert source.text in drawn


def test_chinese_is_drawn_with_a_cjk_font(rendered: dict[str, tuple[str, list[str]]]) -> None:
    """Every Chinese character becomes a real glyph of the CJK font, never a missing-glyph box."""
    assert len(font_families()) >= 2, "no CJK font found: install fonts-wqy-microhei"
    cjk_font = font_families()[1].replace(" ", "")
    svg, caught = rendered["funnel-zh"]
    assert not [m for m in caught if "missing" in m]
    text = "".join(ZH) + "各阶段到达率：历史与模型到达该阶段的商机占比" + ZH_SOURCE
    distinct = {ch for ch in text if ord(ch) > 0x2E80}
    glyphs = set(re.findall(rf'<path id="({cjk_font}-[0-9a-f]+)"', svg))
    assert len(glyphs) >= len(distinct) - 2  # full-width "：" "；" may come from DejaVu


def test_missing_glyphs_are_detectable() -> None:
    """The check above is meaningful: a character no font has does raise the warning."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        charts.bars(["\U000f0000"], [1.0], title="t", xlabel="x", source="s")
    assert any("missing" in str(w.message) for w in caught)


def test_same_input_same_bytes_in_process(rendered: dict[str, tuple[str, list[str]]]) -> None:
    assert CASES["funnel-zh"]() == rendered["funnel-zh"][0]


def test_same_bytes_in_a_fresh_interpreter(
    fresh: subprocess.Popen[bytes], rendered: dict[str, tuple[str, list[str]]]
) -> None:
    """Another process, another hash seed: still the same bytes (ids come from a fixed salt)."""
    out, _ = fresh.communicate(timeout=120)
    assert fresh.returncode == 0
    assert out.decode("utf-8") == rendered["funnel-zh"][0]


def test_global_matplotlib_state_is_untouched() -> None:
    import matplotlib

    before = dict(matplotlib.rcParams)
    charts.bars(["a"], [1.0], title="t", xlabel="x", source="s")
    assert dict(matplotlib.rcParams) == before


HOSTILE = '<script>alert(1)</script> & "x" --> ]]> $a$ \x00\x1b'


def test_user_text_never_becomes_markup() -> None:
    svg = charts.funnel(
        [HOSTILE, "ok"],
        {HOSTILE: [0.5, 0.2]},
        title=HOSTILE,
        ylabel=HOSTILE,
        source=HOSTILE,
    )
    root = _root(svg)  # parses: no control character, no broken comment
    assert not [e for e in root.iter() if e.tag.endswith("script")]
    assert "<script" not in svg
    assert "-->" not in "".join(TITLE.findall(svg))
    assert root[0].text == '<script>alert(1)</script> & "x" --> ]]> $a$ '
    assert '&lt;script&gt;alert(1)&lt;/script&gt; &amp; "x" - -&gt; ]]&gt; $a$' in svg


def test_calibration_and_fan_bands_keep_user_text_literal() -> None:
    names = {HOSTILE: [0.1, 0.5, 0.9]}
    texts = dict.fromkeys(("pit_label", "count_label", "nominal_label", "observed_label"), HOSTILE)
    svg = charts.calibration(names, title=HOSTILE, source=HOSTILE, ideal_label=HOSTILE, **texts)
    fan = charts.fan(
        ["W1", "W2"], [1.0, 2.0], [2.0, 3.0], [3.0, 4.0], inner=([1.5, 2.5], [2.5, 3.5]),
        actual=[2.2, None], actual_label=HOSTILE, title=HOSTILE, ylabel=HOSTILE, source=HOSTILE,
    )  # fmt: skip
    for drawn in (svg, fan):
        root = _root(drawn)
        assert not [e for e in root.iter() if e.tag.endswith("script")]
        assert "<script" not in drawn


def test_the_calibration_chart_reads_the_pit_values() -> None:
    """A calibrated method's line follows the diagonal; PIT values all at the ends (bands far
    too narrow) keep the line at 0% until the widest band; the panels are two axes."""
    even = [(i + 0.5) / 100 for i in range(100)]  # exactly uniform: each band holds its level
    ends = [0.01] * 50 + [0.99] * 50
    svg = charts.calibration(
        {"even": even, "ends": ends}, title="t", source="s", pit_label="p", count_label="n",
        nominal_label="x", observed_label="y", ideal_label="calibrated",
    )  # fmt: skip
    root = _root(svg)
    assert len(root.findall(f".//{SVG}g[@id='axes_1']")) == 1
    assert len(root.findall(f".//{SVG}g[@id='axes_2']")) == 1
    assert {"even", "ends", "calibrated"} <= set(_drawn(svg))
    with pytest.raises(ChartError, match="bins must be at least 1"):
        charts.calibration(
            {"a": [0.5]}, title="t", source="s", pit_label="p", count_label="n",
            nominal_label="x", observed_label="y", ideal_label="i", bins=0,
        )  # fmt: skip
    with pytest.raises(ChartError, match="p25 has 1 values for 2 labels"):
        charts.fan(
            ["a", "b"], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0], inner=([1.5], [2.5, 2.5]),
            title="t", ylabel="y", source="s",
        )  # fmt: skip


def test_dollar_signs_stay_literal() -> None:
    """``$...$`` in a label is text, not mathtext: the dollars are drawn as glyphs."""
    svg = charts.bars(["cost $5 to $10"], [5.0], title="t", xlabel="x", source="s")
    assert "<!-- cost $5 to $10 -->" in svg


EMPTY: dict[str, Callable[[], str]] = {
    "funnel": lambda: charts.funnel([], {}, title="T", ylabel="y", source="S"),
    "funnel-gaps": lambda: charts.funnel(
        ZH, {"历史": [None] * 4}, title="T", ylabel="y", source="S", empty_note="暂无数据"
    ),
    "stage_times": lambda: charts.stage_times([], {}, title="T", xlabel="h", source="S"),
    "distributions": lambda: charts.distributions(
        ZH, [[], [], [], []], title="T", xlabel="h", source="S"
    ),
    "histogram": lambda: charts.histogram({"won": []}, title="T", xlabel="d", source="S"),
    "cumulative_flow": lambda: charts.cumulative_flow([], {}, title="T", ylabel="n", source="S"),
    "intervals": lambda: charts.intervals([], [], [], [], title="T", xlabel="x", source="S"),
    "tornado": lambda: charts.tornado([], [], None, title="T", xlabel="x", source="S"),
    "scorecard": lambda: charts.scorecard([], [], [], title="T", xlabel="x", source="S"),
    "fan": lambda: charts.fan([], [], [], [], title="T", ylabel="y", source="S"),
    "bars": lambda: charts.bars([], [], title="T", xlabel="x", source="S"),
    "calibration": lambda: charts.calibration(
        {"Monte Carlo": [], "run-rate": [None]},
        title="T",
        source="S",
        pit_label="p",
        count_label="n",
        nominal_label="x",
        observed_label="y",
        ideal_label="i",
    ),
}


@pytest.mark.parametrize("name", list(EMPTY))
def test_empty_data_gives_a_chart_with_a_note(name: str) -> None:
    svg = EMPTY[name]()
    root = _root(svg)
    assert root[0].text == "T"
    note = _group(root, "no-data")
    assert note.findall(f".//{SVG}use"), "the note is drawn"
    written = re.search(r'<g id="no-data">\s*<!-- (.*?) -->', svg)
    assert written is not None
    assert written.group(1) == ("暂无数据" if name == "funnel-gaps" else "no data")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: charts.funnel(ZH, {"model": [0.5]}, title="t", ylabel="y", source="s"),
            "funnel: series 'model' has 1 values for 4 labels",
        ),
        (
            lambda: charts.intervals(["a"], [1.0], [], [2.0], title="t", xlabel="x", source="s"),
            "intervals: lows has 0 values for 1 labels",
        ),
        (
            lambda: charts.histogram({"a": [1.0]}, title="t", xlabel="x", source="s", bins=0),
            "bins must be at least 1",
        ),
        (
            lambda: charts.scorecard(
                ["a"], [1.0], [1.0], title="t", xlabel="x", source="s", threshold=0
            ),
            "threshold must be a positive number",
        ),
    ],
)
def test_misaligned_input_is_a_clear_error(call: Callable[[], str], message: str) -> None:
    with pytest.raises(ChartError, match=re.escape(message)):
        call()


def test_numbers_share_one_precision_and_a_true_minus() -> None:
    assert fmts([-6.8, -8.9, -4.7]) == ["\u22126.80", "\u22128.90", "\u22124.70"]
    assert fmts([1248.0, 37.0, 3.0]) == ["1,248", "37", "3"]
    assert fmts([-0.001, 12.5]) == ["0.0", "12.5"]
    assert fmts([0.48, 0.05], percent=True) == ["48.0%", "5.0%"]


def test_large_samples_and_zero_hours_on_a_log_axis() -> None:
    """100,000 stays (a third of them zero hours) give a small file: no outlier dots drawn."""
    many = [float(i % 500) for i in range(100_000)]
    svg = charts.distributions(
        ["a", "b"], [many, [0.0, 0.0]], title="t", xlabel="h", source="s", log_scale=True
    )
    assert len(svg) < 60_000
    assert "no-data" not in svg


def test_fan_with_a_reference_per_period() -> None:
    def fan(reference: list[float]) -> str:
        quantiles = ([1.0, 2.0], [2.0, 3.0], [3.0, 4.0])
        return charts.fan(
            ["Q1", "Q2"], *quantiles, title="t", ylabel="y", source="s",
            reference=reference, reference_label="pipeline",
        )  # fmt: skip

    assert "<!-- pipeline -->" in fan([2.5, 2.5])
    with pytest.raises(ChartError, match="reference has 1 values for 2 labels"):
        fan([2.5])


def _drawn(svg: str) -> list[str]:
    """The strings a chart draws (matplotlib writes each in a comment before its glyphs)."""
    return re.findall(r"<!-- (.*?) -->", svg)


@pytest.mark.parametrize(
    ("lang", "ticks"),
    [("zh", ["0", "200万", "400万", "600万"]), ("en", ["0", "2M", "4M", "6M"])],
)
def test_ticks_from_a_million_on_are_written_in_the_reports_unit(
    lang: str, ticks: list[str]
) -> None:
    # revenue deltas of millions: matplotlib alone writes 0..6 and a "1e6" at the axis end
    with chart_numbers(Numbers(lang, "CNY")):
        svg = charts.tornado(
            ["+1 se", "design effort -20%"],
            [5_693_556.0, 888_008.0],
            None,
            title="T",
            xlabel="revenue",
            source="S",
        )
    drawn = _drawn(svg)
    assert [t for t in ticks if t in drawn] == ticks, drawn
    assert not [d for d in drawn if re.fullmatch(r"[−-]?\d(\.\d+)?e[−+-]?\d+|.*\\times.*", d)]


def test_tiny_ticks_are_plain_decimals() -> None:
    # a what-if equal to the baseline moves the cycle by rounding noise only (about 1e-5
    # days): matplotlib alone writes 0..6 and "1e−5" at the axis end
    svg = charts.intervals(
        ["same"], [-2e-5], [-6e-5], [2e-5], title="T", xlabel="x", source="S", zero_line=True
    )
    drawn = _drawn(svg)
    assert "−0.00004" in drawn and "0.00002" in drawn, drawn
    assert not [d for d in drawn if "e−" in d or "e-" in d or "\\times" in d]
