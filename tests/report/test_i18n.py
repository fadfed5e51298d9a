"""The report's language: how it is decided, and that a Chinese report has no English left.

A report is written in the language of the names it shows (``--lang`` overrides); every word
it adds comes from one catalogue (:mod:`flowsim.report.i18n`), numbers from
:class:`flowsim.report.numbers.Numbers`. ``results.json`` stays English and numeric.
"""

from __future__ import annotations

import html
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from flowsim import parse
from flowsim.report.i18n import (
    KPIS,
    MEASURES,
    REASONS,
    SKIPS,
    WORDS,
    capacity_warning,
    detect_language,
    edge_verdict,
    lever_label,
    quality_summary,
)
from flowsim.sim.bottlenecks import one_step_scenarios
from tests.report.test_run import B2B, HISTORY, flowsim

#: a model written in Chinese ids alone: no labels anywhere
CHINESE_IDS = """\
process "大客户销售" {
  currency CNY
  arrivals 10 per week
  amount uniform(100000, 300000)
}
role 销售代表 headcount 3
stage 联系 {
  owner 销售代表
  effort triangular(1h, 2h, 4h)
  wait exponential(mean 2d)
}
stage 谈判 {
  owner 销售代表
  effort uniform(2h, 4h)
  wait exponential(mean 3d)
}
outcome 赢单 { result won }
outcome 输单 { result lost }
联系 -> 谈判 60%
联系 -> 输单
谈判 -> 赢单 50%
谈判 -> 输单
scenario 加人 {
  role 销售代表 headcount 4
}
"""

ENGLISH = """\
process "Inbound" {
  arrivals 10 per week
}
role rep "Sales rep" headcount 3
stage contact "First contact" { owner rep effort uniform(1h, 2h) }
stage demo "Demo" { owner rep effort uniform(1h, 2h) }
outcome won "Won"
outcome lost "Lost"
contact -> demo 60%
contact -> lost
demo -> won 50%
demo -> lost
"""


def test_chinese_ids_without_labels_read_as_chinese() -> None:
    assert detect_language(parse(CHINESE_IDS)) == "zh"


def test_english_ids_with_chinese_labels_read_as_chinese() -> None:
    assert detect_language(parse(B2B.read_text(encoding="utf-8"))) == "zh"


def test_english_model_reads_as_english() -> None:
    assert detect_language(parse(ENGLISH)) == "en"


def test_one_chinese_name_does_not_tip_an_english_model() -> None:
    one = ENGLISH.replace('"Demo"', '"产品演示"')
    assert detect_language(parse(one)) == "en"


def test_the_history_stage_names_vote_too() -> None:
    model = parse(ENGLISH)  # 8 English names
    assert detect_language(model, ["初步接触", "需求分析", "方案设计", "谈判", "赢单"]) == "en"
    many = [f"阶段{i}" for i in range(8)]
    assert detect_language(model, many) == "zh"


def test_levers_are_named_by_what_they_change_with_labels() -> None:
    model = parse(B2B.read_text(encoding="utf-8"))
    names = {s.name: s for s in one_step_scenarios(model, limit=5)}
    assert lever_label(names["+1 se"], model, "zh") == "+1 人 解决方案顾问"
    assert lever_label(names["+1 se"], model, "en") == "+1 解决方案顾问"
    assert lever_label(names["contact effort -20%"], model, "zh") == "初步接触 工作量 -20%"
    assert lever_label(names["negotiate->won +5pt"], model, "zh") == "谈判签约 → 赢单 +5 个百分点"
    english = parse(ENGLISH)
    levers = {s.name: s for s in one_step_scenarios(english)}
    assert lever_label(levers["contact->demo +5pt"], english, "en") == "First contact → Demo +5 pt"
    # a scenario of several changes keeps its name (the report names only its own what-ifs)
    two = model.scenarios[1]
    assert len(two.changes) == 2 and lever_label(two, model, "en") == two.name == "方案提速30%"


def test_every_catalogue_key_is_in_both_languages() -> None:
    for table in (WORDS, KPIS, MEASURES, REASONS, SKIPS):
        assert set(table["en"]) == set(table["zh"])
        for key, text in table["zh"].items():
            # no English word outside the placeholders, commands and the measure n-gram
            words = re.sub(r"\{[^}]*\}|`[^`]*`|n-gram|flowsim|results\.json", "", text)
            assert not re.search(r"[A-Za-z]{2,}", words), (key, text)


# ---- a whole Chinese report -------------------------------------------------------------------

#: English the Chinese report used to show: KPI keys, header lines, warnings, the flowchart
#: legend, lever names, fidelity measures and conformance reasons
ENGLISH_LEFT = re.compile(
    r"\b(won|win_rate|revenue|cycle_days_mean|wip_mean|rows read|used|skipped|role '|"
    r"offered|capacity|person-hours|simulation of|replications|effort|wait|pt|"
    r"n_gram|case_arrival|circadian|absolute_event|relative_event|cycle_time|"
    r"wrong-start|undesigned-transition|unknown-stage|after-outcome|no data|n/a|"
    r"design says|history says|floor)\b|\+1 [a-z]|->"
)

#: Latin words a Chinese report may hold: the tool's name and the measure n-gram
ALLOWED = {"flowsim", "n-gram"}

#: Latin text that is no word of English: the user's file names and process name, the
#: report's own results.json and command-line options the report suggests
USER_TEXT = (
    "b2b-cn-deals.csv",
    "b2b-cn.flow",
    "B2B 大客户销售",
    "results.json",
    "`--objective cycle`",
    "`flowsim fidelity`",
)


class _Text(HTMLParser):
    """The text a reader sees on the page (SVG text included; no styles, titles, comments)."""

    HIDDEN = ("style", "title", "metadata", "defs")

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: object) -> None:
        self.hidden += tag in self.HIDDEN

    def handle_endtag(self, tag: str) -> None:
        self.hidden -= tag in self.HIDDEN

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def visible_text(out: Path) -> str:
    """The page's text, report.md without its image paths, and what the charts draw.

    Matplotlib draws text as glyph paths and writes each string in a comment before them.
    """
    page = _Text()
    page.feed((out / "index.html").read_text(encoding="utf-8"))
    md = re.sub(r"\]\([^)]*\.svg\)", "]", (out / "report.md").read_text(encoding="utf-8"))
    drawn = [
        html.unescape(c)
        for f in sorted(out.glob("*.svg"))
        if f.stem not in ("flowchart", "journey")  # Graphviz and our own SVG: real <text>
        for c in re.findall(r"<!-- (.*?) -->", f.read_text(encoding="utf-8"))
    ]
    return "\n".join([*page.parts, md, *drawn])


@pytest.fixture(scope="module")
def zh_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zh") / "report"
    r = flowsim(
        "run", str(B2B), "--history", str(HISTORY), "--tz", "Asia/Shanghai",
        "-o", str(out), "-n", "3", "--seed", "1", "-q",
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    return out


def test_chinese_report_has_no_english_left(zh_report: Path) -> None:
    text = visible_text(zh_report)
    for user in USER_TEXT:
        text = text.replace(user, "")
    left = sorted({m.group(0) for m in ENGLISH_LEFT.finditer(text)})
    assert left == [], left
    latin = set(re.findall(r"[A-Za-z][A-Za-z0-9_'-]*[A-Za-z]", text)) - ALLOWED
    assert latin == set(), sorted(latin)


def catalogue_english(text: str) -> list[str]:
    """The English of the report's catalogue found in ``text``, and numbers in e-notation.

    Every English message (words, KPI and measure names, reasons, skips) is split at its
    placeholders; a fragment of four letters or more is English a Chinese report must not
    show. Matplotlib's own tick markers (``1e6``, ``1e−5``) count too.
    """
    fragments = {
        f
        for table in (WORDS, KPIS, MEASURES, REASONS, SKIPS)
        for message in table["en"].values()
        for part in re.split(r"\{[^}]*\}", message)
        for f in re.findall(r"[A-Za-z][A-Za-z' -]*[A-Za-z]", part)
        if len(f) >= 4 and f not in ALLOWED
    }
    found = [f for f in fragments if re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)]
    return sorted(found) + re.findall(r"\d(?:\.\d+)?e[+\-−]?\d+", text)


def test_chinese_report_shows_no_catalogue_english(zh_report: Path) -> None:
    text = visible_text(zh_report)
    for user in USER_TEXT:
        text = text.replace(user, "")
    assert catalogue_english(text) == []
    # the scan finds what it looks for: the English report of the same run would fail it
    assert "deals won" in catalogue_english("| deals won | 1e6 |")
    assert "1e6" in catalogue_english("| deals won | 1e6 |")


def test_chinese_report_writes_its_numbers_and_labels(zh_report: Path) -> None:
    md = (zh_report / "report.md").read_text(encoding="utf-8")
    assert "| 赢率 | " in md and re.search(r"\| 赢率 \| \d+\.\d% \[", md)
    assert re.search(r"\| 赢单金额 \| ¥\d{1,3}(,\d{3})+ \[¥", md)
    assert "个百分点" in md
    assert "b2b-cn-deals.csv：读取 3,272 行，使用 3,272 行" in md
    assert "承担的工作量是其产能的" not in md  # the example is stable: no role overloaded
    tornado = (zh_report / "tornado.svg").read_text(encoding="utf-8")
    assert "<!-- +1 人 解决方案顾问 -->" in tornado
    assert "来源: B2B 大客户销售 的仿真，3 次重复" in (zh_report / "index.html").read_text(
        encoding="utf-8"
    )


def test_results_json_stays_english_and_numeric(zh_report: Path) -> None:
    results = json.loads((zh_report / "results.json").read_text(encoding="utf-8"))
    assert results["lang"] == "zh"
    kpis = results["simulation"]["scenarios"][0]["kpis"]
    assert {"won", "win_rate", "revenue", "cycle_days_mean"} <= set(kpis)
    assert isinstance(kpis["win_rate"]["mean"], float) and kpis["win_rate"]["mean"] < 1
    assert set(results["conformance"]["reasons"]) <= set(REASONS["en"])
    # the command line's warnings (and results.json's) stay in English
    assert any(w.startswith("a replay keeps history's paths") for w in results["warnings"])


def test_chinese_ids_give_a_chinese_report_and_lang_overrides(tmp_path: Path) -> None:
    flow = tmp_path / "ids.flow"
    flow.write_text(CHINESE_IDS, encoding="utf-8")
    args = ["-n", "2", "--until", "60d", "--workers", "1", "-q"]
    r = flowsim("run", str(flow), "-o", str(tmp_path / "zh"), *args)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "zh" / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# 大客户销售 — 销售流程报告")
    text = visible_text(tmp_path / "zh")
    assert set(re.findall(r"[A-Za-z][A-Za-z0-9_'-]*[A-Za-z]", text)) <= {"flowsim", "ids", "flow"}
    assert "+1 人 销售代表" in text and "联系 工作量 -20%" in text
    assert catalogue_english(text) == []  # nor a "1e−5" tick when the deltas are tiny
    r = flowsim("run", str(flow), "-o", str(tmp_path / "en"), "--lang", "en", *args)
    assert r.returncode == 0, r.stderr
    md = (tmp_path / "en" / "report.md").read_text(encoding="utf-8")
    assert md.startswith("# 大客户销售 — Sales process report")
    # in English the yuan is CN¥ (¥ alone is the yen)
    assert "| deals won | " in md and "CN¥" in md and not re.search(r"(?<!CN)¥", md)


# ---- sentences built from the results ---------------------------------------------------------


def test_quality_line_with_skips_and_a_filter() -> None:
    from flowsim.history.log import ImportReport
    from flowsim.history.subset import FilterStep

    report = ImportReport(
        source="deals.csv",
        format="csv",
        rows_read=8800,
        rows_used=8300,
        rows_skipped=500,
        skipped_by_reason={"deal-without-events": 480, "bad-date": 20},
        filters=[
            FilterStep(
                rule="product = GTX Pro",
                selects="deals",
                records_before=8300,
                records_after=1480,
                deals_before=8300,
                deals_after=1480,
            )
        ],
    )
    assert quality_summary(report, "en") == (
        "deals.csv: 8,800 rows read, 8,300 used, 500 skipped (unreadable date 20, deal without "
        "events 480); filter product = GTX Pro: kept 1,480 of 8,300 deals, 1,480 of 8,300 records"
    )
    assert quality_summary(report, "zh") == (
        "deals.csv：读取 8,800 行，使用 8,300 行，跳过 500 行（日期无法识别 20、商机没有事件 480）"
        "；筛选 product = GTX Pro：保留 8,300 个商机中的 1,480 个、8,300 条记录中的 1,480 条"
    )


def test_conformance_verdict_with_labels() -> None:
    from flowsim.history.conformance import EdgeConformance

    model = parse(B2B.read_text(encoding="utf-8"))
    edge = EdgeConformance(
        source="needs",
        target="design",
        designed=0.55,
        count=310,
        exits=812,
        observed=310 / 812,
        low=0.351,
        high=0.414,
        flagged=True,
    )
    assert edge_verdict(edge, model, "en") == (
        "需求分析 → 方案设计: design says 55%; history says 38.2% [35.1%, 41.4%] of 812 exits, "
        "lower than designed (consider 38%)"
    )
    assert edge_verdict(edge, model, "zh") == (
        "需求分析 → 方案设计：设计为 55%；历史为 38.2% [35.1%, 41.4%]（共 812 次离开），低于设计"
        "（可考虑改为 38%）"
    )
    moved = edge.model_copy(update={"undesigned_exits": 40})
    assert edge_verdict(moved, model, "zh").endswith("（其中 40 次离开走了设计中没有的流转）")
    assert edge_verdict(edge.model_copy(update={"flagged": False}), model, "zh") is None


def test_capacity_warning_names_the_role_by_its_label() -> None:
    from flowsim.sim.analytic import offered_load

    # the example with one solution consultant fewer: 3 carry about 88% of the design work
    text = B2B.read_text(encoding="utf-8")
    model = parse(text.replace("in presales headcount 3", "in presales headcount 2"))
    se = next(x for x in offered_load(model) if x.role == "se")
    assert se.overloaded
    text = capacity_warning(se, model, "zh")
    assert text.startswith("角色「解决方案顾问」承担的工作量是其产能的 ")
    assert "se" not in text
    assert capacity_warning(se, model, "en").startswith("role 解决方案顾问 is offered ")
