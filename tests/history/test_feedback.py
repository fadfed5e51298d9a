"""Customer feedback (issue 18): read like a deal log, measured against the designed journey.

Hand-made files with known answers check the reading rules (scales, bad rows by row and column,
decimal commas, encodings, every format); the bundled simulated file checks the measured
journey and the complaint themes against independent computations (polars, scipy's t, jieba
called directly).
"""

from __future__ import annotations

import math
import sqlite3
from collections import Counter
from pathlib import Path

import jieba
import openpyxl
import polars as pl
import pytest
from click.testing import CliRunner
from scipy import stats

import flowsim
from flowsim.cli import main
from flowsim.history.feedback import read_feedback
from flowsim.history.feedback.scale import detect_scale, header_scale
from flowsim.history.feedback.themes import STOP_WORDS, words
from flowsim.history.options import ReadOptions

ROOT = Path(__file__).resolve().parents[2]
FLOW = ROOT / "examples" / "b2b-cn.flow"
BUNDLED = ROOT / "examples" / "history" / "b2b-cn-feedback.csv"
PROCESS = flowsim.load(FLOW)


def write(tmp_path: Path, text: str, name: str = "fb.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- reading ------------------------------------------------------------------------------


def test_the_bundled_file_is_labelled_simulated_and_reads_with_its_chinese_headers() -> None:
    assert BUNDLED.read_text(encoding="utf-8").startswith("# SIMULATED customer feedback")
    fb = flowsim.read_feedback(BUNDLED)
    assert fb.report.mapping == {
        "deal": "商机编号",
        "stage": "阶段",
        "touchpoint": "问卷",
        "channel": "渠道",
        "score": "评分(1-5)",
        "comment": "评价",
        "date": "日期",
    }
    assert (fb.scale.name, fb.report.scale_from) == ("1-5", "header")
    assert fb.report.rows_read == fb.report.rows_used == len(fb) == 810
    # three preamble lines and the header: the first answer is line 5 of the file
    assert fb.frame["source_row"][0] == 5


def test_scale_rules() -> None:
    assert detect_scale([0.0, 3.0, 10.0]).name == "0-10"  # type: ignore[union-attr]
    assert detect_scale([0.0, 4.0]).name == "0-10"  # type: ignore[union-attr]  # 1-5 has no 0
    assert detect_scale([-2.0, 1.0]).name == "-2..2"  # type: ignore[union-attr]
    assert detect_scale([1.0, 5.0]) == ["1-5", "0-10"]  # refused: 4 is good or a detractor
    assert detect_scale([0.0, 1.0, 2.0]) == ["0-10", "-2..2"]
    assert detect_scale([-1.0, 7.0]) == []  # no scale holds both
    assert detect_scale([1.0, 4.0, 44.0]) == ["1-5", "0-10"]  # a typo proves nothing
    assert header_scale("评分(1-5)").name == "1-5"  # type: ignore[union-attr]
    assert header_scale("NPS").name == "0-10"  # type: ignore[union-attr]
    assert header_scale("Score (-2..+2)").name == "-2..2"  # type: ignore[union-attr]
    assert header_scale("score 2-5") is None and header_scale("满意度") is None


def test_an_ambiguous_scale_is_refused_and_a_given_one_reads(tmp_path: Path) -> None:
    path = write(tmp_path, "deal,touchpoint,score\nA,电话沟通,4\nB,电话沟通,5\n")
    with pytest.raises(flowsim.LogError) as caught:
        read_feedback(path)
    (q,) = caught.value.problems
    assert (q.code, q.name, q.column) == ("H503", "ambiguous-scale", "score")
    assert "scale='1-5'" in (q.hint or "")
    fb = read_feedback(path, scale="csat")
    assert (fb.scale.name, fb.report.scale_from) == ("1-5", "given")
    nps = read_feedback(path, scale="0-10")
    assert nps.frame["score"].to_list() == [4.0, 5.0]


BAD = """\
deal,touchpoint,score,date,comment
A,电话沟通,4,2025-03-01,ok
B,电话沟通,,2025-03-02,
C,电话沟通,abc,2025-03-03,
D,电话沟通,7,2025-03-04,
E,,3,2025-03-05,
F,电话沟通,2,2025-02-30,
G,官网表单,10,2025-03-06,
"""


def test_bad_rows_are_named_by_row_and_column_with_stable_codes(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    with pytest.raises(flowsim.LogError) as caught:
        read_feedback(path, ReadOptions(), scale="1-5")
    found = [(q.code, q.name, q.row, q.column, q.value) for q in caught.value.problems]
    assert found == [
        ("H504", "empty-score", 3, "score", None),
        ("H501", "bad-score", 4, "score", "abc"),
        ("H502", "score-out-of-scale", 5, "score", "7"),
        ("H505", "empty-touchpoint", 6, "touchpoint", None),
        ("H202", "bad-date", 7, "date", "2025-02-30"),
        ("H502", "score-out-of-scale", 8, "score", "10"),
    ]


def test_lenient_skips_bad_rows_and_counts_them(tmp_path: Path) -> None:
    fb = read_feedback(write(tmp_path, BAD), ReadOptions(lenient=True), scale="1-5")
    assert fb.frame["deal"].to_list() == ["A"]
    r = fb.report
    assert (r.rows_read, r.rows_used, r.rows_skipped) == (7, 1, 6)
    assert r.skipped_by_reason == {
        "empty-score": 1,
        "bad-score": 1,
        "score-out-of-scale": 2,
        "empty-touchpoint": 1,
        "bad-date": 1,
    }
    assert all(q.severity.value == "warning" for q in r.problems)
    text = flowsim.measure_journey(fb, PROCESS).text()
    assert "rows read 7, skipped 6 (bad-date 1, bad-score 1, empty-score 1," in text


def test_gbk_semicolons_decimal_commas_and_a_mapping(tmp_path: Path) -> None:
    text = "客户;环节;打分;日期\nK1;方案演示;1,5;01.03.2025\nK2;方案演示;-1,5;13.03.2025\n"
    path = write(tmp_path, text, encoding="gbk")
    fb = read_feedback(path, ReadOptions(mapping="touchpoint=环节"))
    assert (fb.report.encoding, fb.report.delimiter) == ("gb18030", ";")
    assert fb.report.mapping == {
        "deal": "客户",
        "touchpoint": "环节",
        "score": "打分",
        "date": "日期",
    }
    assert fb.scale.name == "-2..2"  # a negative score proves it
    assert fb.frame["score"].to_list() == [1.5, -1.5]
    # one day above 12 settles the order: day first
    assert [d.day for d in fb.frame["date"].to_list()] == [1, 13]


def test_a_mapping_naming_a_missing_column_and_a_file_without_scores(tmp_path: Path) -> None:
    path = write(tmp_path, "deal,touchpoint,rating\nA,x,3\n")
    with pytest.raises(flowsim.LogError) as caught:
        read_feedback(path, ReadOptions(mapping="score=评分"))
    assert caught.value.problems[0].code == "H102"
    with pytest.raises(flowsim.LogError) as caught:
        read_feedback(write(tmp_path, "deal,touchpoint,remark\nA,x,3\n", "g.csv"))
    (q,) = caught.value.problems
    assert (q.code, q.row) == ("H101", 1) and "score" in q.message


def _frame() -> pl.DataFrame:
    return pl.DataFrame(
        {"deal_id": ["A", "B", "C"], "touchpoint": ["合同评审"] * 3, "nps": [9, 3, 10]}
    )


def test_excel_parquet_and_sql_read_like_csv(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in [list(_frame().columns), *_frame().rows()]:
        sheet.append(list(row))
    book.save(tmp_path / "fb.xlsx")
    _frame().write_parquet(tmp_path / "fb.parquet")
    with sqlite3.connect(tmp_path / "fb.db") as conn:
        conn.execute("CREATE TABLE fb (deal_id TEXT, touchpoint TEXT, nps INTEGER)")
        conn.executemany("INSERT INTO fb VALUES (?, ?, ?)", _frame().rows())
    reads = [
        read_feedback(tmp_path / "fb.xlsx"),
        read_feedback(tmp_path / "fb.parquet"),
        read_feedback(None, ReadOptions(sql="SELECT * FROM fb", db=str(tmp_path / "fb.db"))),
    ]
    for fb in reads:
        assert fb.frame["score"].to_list() == [9.0, 3.0, 10.0]
        assert (fb.scale.name, fb.report.scale_from) == ("0-10", "header")  # "nps"
    assert [fb.frame["source_row"][0] for fb in reads] == [2, 1, 1]
    assert [fb.report.format for fb in reads] == ["xlsx", "parquet", "sql"]


# --- the measured journey -----------------------------------------------------------------


def _reference(frame: pl.DataFrame, negative_below: float) -> dict[str, float]:
    """Mean, t interval and negative share of a group, with polars and scipy only."""
    s = frame.select(
        pl.col("score").mean().alias("mean"),
        pl.col("score").std().alias("sd"),
        pl.len().alias("n"),
        (pl.col("score") <= negative_below).mean().alias("neg"),
    ).row(0, named=True)
    half = stats.t.ppf(0.975, s["n"] - 1) * s["sd"] / math.sqrt(s["n"])
    return {"mean": s["mean"], "low": s["mean"] - half, "high": s["mean"] + half, "neg": s["neg"]}


def test_scores_and_intervals_equal_an_independent_polars_computation() -> None:
    fb = flowsim.read_feedback(BUNDLED)
    journey = flowsim.measure_journey(fb, PROCESS)
    raw = pl.read_csv(BUNDLED, comment_prefix="#")
    for row in journey.rows:
        group = raw.filter(pl.col("阶段") == row.phase)
        if row.touchpoint is not None:
            group = group.filter(pl.col("问卷") == row.touchpoint)
        ref = _reference(group.rename({"评分(1-5)": "score"}), 2)
        assert row.responses == group.height
        assert row.mean == pytest.approx(ref["mean"], rel=1e-12)
        assert row.low == pytest.approx(ref["low"], rel=1e-6)
        assert row.high == pytest.approx(ref["high"], rel=1e-6)
        assert row.negative == pytest.approx(ref["neg"], rel=1e-12)
    demo = next(r for r in journey.rows if r.touchpoint == "方案演示")
    # designed 4 (delighted), measured about 2.4: the interval lies wholly below the design
    assert (demo.designed, demo.verdict) == (4.0, "worse")
    assert demo.high is not None and demo.high < 4
    assert journey.placed == journey.answers == 810 and journey.problems == []
    # a phase's design: its touchpoints' emotions weighted by their answers (3 and 2 here)
    contact = next(r for r in journey.rows if r.level == "phase" and r.stage == "contact")
    assert contact.designed == pytest.approx((3 * 181 + 2 * 192) / 373)


def test_nps_and_its_interval_equal_the_standard_formula(tmp_path: Path) -> None:
    scores = [10, 9, 9, 8, 7, 6, 3, 0, 10, 9, 5, 8]
    text = "touchpoint,NPS\n" + "".join(f"合同评审,{s}\n" for s in scores)
    fb = read_feedback(write(tmp_path, text))
    row = next(r for r in flowsim.measure_journey(fb, PROCESS).rows if r.touchpoint == "合同评审")
    s = pl.Series(scores)
    pro, det = float((s >= 9).mean()), float((s <= 6).mean())  # type: ignore[arg-type]
    half = 100 * 1.959963984540054 * math.sqrt((pro + det - (pro - det) ** 2) / len(scores))
    assert row.nps == pytest.approx(100 * (pro - det))
    assert (row.nps_low, row.nps_high) == (
        pytest.approx(100 * (pro - det) - half),
        pytest.approx(100 * (pro - det) + half),
    )
    # the design's emotion 2 on 0-10 is 2.5; the mean 7.0 lies above its interval's low end
    assert row.designed == 2.5 and row.verdict == "better"


def test_unplaced_answers_are_warned_about_with_their_count(tmp_path: Path) -> None:
    text = "stage,touchpoint,score\nnegotiate,,2\n谈判签约,合同评审,1\n,nowhere,3\n,nowhere,3\n"
    journey = flowsim.measure_journey(read_feedback(write(tmp_path, text), scale="1-5"), PROCESS)
    phase = next(r for r in journey.rows if r.level == "phase" and r.stage == "negotiate")
    assert phase.responses == 2  # by stage id and by the touchpoint
    (q,) = journey.problems
    assert (q.code, q.row, q.value) == ("H506", 4, "nowhere") and "2 answers" in q.message


def test_the_results_follow_the_result_protocol_and_escape_user_text(tmp_path: Path) -> None:
    fb = read_feedback(write(tmp_path, "touchpoint,score\n<script>,1\n<script>,2\n"), scale="1-5")
    hostile = PROCESS.model_copy(update={"name": "<b>p</b>"})
    for result in (flowsim.measure_journey(fb, hostile), flowsim.pain_points(fb, hostile)):
        assert isinstance(result, flowsim.Result)
        assert "<b>p</b>" not in result._repr_html_()
        assert isinstance(result.to_frame(), pl.DataFrame)
        assert result.text() and result.to_json().startswith("{")


# --- pain points --------------------------------------------------------------------------


def test_theme_counts_equal_a_reference_jieba_segmentation() -> None:
    fb = flowsim.read_feedback(BUNDLED)
    pains = flowsim.pain_points(fb, PROCESS, top=3)
    raw = pl.read_csv(BUNDLED, comment_prefix="#")
    complaints = raw.filter(
        (pl.col("问卷") == "合同评审") & (pl.col("评分(1-5)") <= 2) & pl.col("评价").is_not_null()
    )["评价"].to_list()
    reference: Counter[str] = Counter()
    for comment in complaints:
        reference.update(
            {w for w in jieba.lcut(comment) if len(w) >= 2 and w not in STOP_WORDS and w.isalnum()}
        )
    contract = next(t for t in pains.touchpoints if t.touchpoint == "合同评审")
    assert contract.complaints == len(complaints)
    assert [(t.word, t.count) for t in contract.themes] == sorted(
        reference.items(), key=lambda kv: (-kv[1], kv[0])
    )[:3]
    legal = contract.themes[0]
    assert legal.word == "法务" and legal.pains == ["法务往返次数多"]
    assert len(legal.examples) == 2 and all("法务" in e for e in legal.examples)


def test_english_comments_are_words_without_stop_words(tmp_path: Path) -> None:
    text = (
        "touchpoint,score,comment\n"
        "方案演示,1,The demo environment was slow\n"
        "方案演示,2,Demo environment crashed twice\n"
        "方案演示,1,Too slow and the demo was late\n"
        "方案演示,5,The demo was great\n"
    )
    pains = flowsim.pain_points(read_feedback(write(tmp_path, text), scale="1-5"), PROCESS)
    demo = next(t for t in pains.touchpoints if t.touchpoint == "方案演示")
    assert demo.complaints == 3  # the 5 is praise, not a complaint
    assert [(t.word, t.count) for t in demo.themes] == [
        ("demo", 3),
        ("environment", 2),
        ("slow", 2),
    ]
    assert demo.themes[0].examples == [
        "The demo environment was slow",
        "Demo environment crashed twice",
    ]
    assert words("It was the very best of the best") == {"best"}


# --- the command --------------------------------------------------------------------------


def test_the_command_prints_the_journey_and_refuses_an_ambiguous_scale(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["feedback", str(FLOW), str(BUNDLED), "--top", "1"])
    assert ok.exit_code == 0, ok.output
    assert "方案演示" in ok.output and "worse" in ok.output and "法务 ×27" in ok.output
    path = write(tmp_path, "touchpoint,score\n电话沟通,4\n电话沟通,5\n")
    refused = runner.invoke(main, ["feedback", str(FLOW), str(path)])
    assert refused.exit_code == 1 and "H503" not in refused.output
    assert "the scale cannot be told" in refused.output
    assert "the feedback was not read" in refused.output
    assert runner.invoke(main, ["feedback", str(FLOW), str(path), "--scale", "x"]).exit_code == 2
    js = runner.invoke(
        main, ["feedback", str(FLOW), str(path), "--scale", "1-5", "--format", "json"]
    )
    assert js.exit_code == 0 and '"journey"' in js.output


def test_chinese_comments_without_jieba_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from flowsim._extras import MissingExtra
    from flowsim.history.feedback import themes

    themes._jieba.cache_clear()
    monkeypatch.setitem(__import__("sys").modules, "jieba", None)
    with pytest.raises(MissingExtra, match=r"pip install 'flowsim\[text\]'"):
        words("表单字段太多")
    assert words("no chinese here") == {"chinese"}  # English needs no segmenter
    themes._jieba.cache_clear()


# --- feedback and outcomes ----------------------------------------------------------------


def test_win_rate_by_score_band_equals_an_independent_polars_computation() -> None:
    from flowsim.history.feedback import score_outcomes

    deals = ROOT / "examples" / "history" / "b2b-cn-deals.csv"
    log = flowsim.read_log(deals, tz="Asia/Shanghai")
    bands = score_outcomes(flowsim.read_feedback(BUNDLED), log, PROCESS)
    raw = pl.read_csv(deals, comment_prefix="#")
    result = raw.filter(pl.col("阶段").is_in(["赢单", "输单"])).select(
        pl.col("商机编号"), (pl.col("阶段") == "赢单").alias("won")
    )
    answers = pl.read_csv(BUNDLED, comment_prefix="#").rename({"评分(1-5)": "score"})
    votes = answers.group_by("商机编号", "阶段").agg(pl.col("score").mean())
    for row in bands.rows:
        lo, hi = {"1-2": (0, 2), "3": (2.0001, 3.9999), "4-5": (4, 5)}[row.band]
        group = votes.filter((pl.col("阶段") == row.phase) & pl.col("score").is_between(lo, hi))
        closed = group.join(result, on="商机编号", how="inner")
        won = int(closed["won"].sum())
        assert (row.deals, row.won, row.lost) == (group.height, won, closed.height - won)
        ci = stats.binomtest(won, closed.height).proportion_ci(method="wilson")
        assert (row.low, row.high) == (pytest.approx(ci.low), pytest.approx(ci.high))
    assert bands.unmatched == 0 and isinstance(bands, flowsim.Result)


def test_metrics_with_feedback_prints_the_bands_and_needs_a_process() -> None:
    deals = str(ROOT / "examples" / "history" / "b2b-cn-deals.csv")
    args = ["metrics", deals, "--tz", "Asia/Shanghai", "--feedback", str(BUNDLED), "-q"]
    runner = CliRunner()
    assert runner.invoke(main, args).exit_code == 2  # no --process
    ok = runner.invoke(main, [*args, "--process", str(FLOW)])
    assert ok.exit_code == 0, ok.output
    assert "win rate by score band" in ok.output and "谈判签约" in ok.output


# --- the measured curve on the journey map ------------------------------------------------


def test_the_journey_map_draws_the_measured_scores_beside_the_designed_curve(
    tmp_path: Path,
) -> None:
    journey = flowsim.measure_journey(flowsim.read_feedback(BUNDLED), PROCESS)
    plain = flowsim.render(PROCESS, view="journey").decode()
    svg = flowsim.render(PROCESS, view="journey", measured=journey).decode()
    assert 'id="measured"' not in plain and 'id="measured"' in svg
    assert svg == flowsim.render(PROCESS, view="journey", measured=journey).decode()
    layer = svg.split('<g id="measured">', 1)[1].split('<g id="emotion-', 1)[0]
    # a diamond and an interval band per touchpoint with answers, a ring per disagreement
    assert layer.count("<rect ") == 5 and layer.count(' Z"') == 5
    differs = [r for r in journey.rows if r.level == "touchpoint" and r.verdict != "agrees"]
    assert layer.count("<circle ") == len(differs) == 3
    assert "方案演示: measured 2.37/5, 95% CI 2.19–2.54, n=120, worse" in layer
    out = tmp_path / "map.svg"
    runner = CliRunner()
    args = ["render", str(FLOW), "--view", "journey", "--feedback", str(BUNDLED), "-o", str(out)]
    assert runner.invoke(main, args).exit_code == 0
    assert out.read_text(encoding="utf-8") == svg
    flowchart = runner.invoke(main, ["render", str(FLOW), "--feedback", str(BUNDLED), "-o", "-"])
    assert flowchart.exit_code == 2 and "--view journey" in flowchart.output


def test_the_report_shows_the_measured_journey(tmp_path: Path) -> None:
    import json

    deals = str(ROOT / "examples" / "history" / "b2b-cn-deals.csv")
    out = tmp_path / "report"
    args = ["run", str(FLOW), "--history", deals, "--tz", "Asia/Shanghai", "-n", "2"]
    args += ["--budget", "1", "-q", "-o", str(out), "--feedback", str(BUNDLED)]
    result = CliRunner().invoke(main, [*args, "--backtest", "none"])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert "backtest" not in results  # --backtest none: the report backtests nothing
    demo = next(r for r in results["feedback"]["rows"] if r["touchpoint"] == "方案演示")
    assert (demo["responses"], demo["verdict"]) == (120, "worse")
    markdown = (out / "report.md").read_text(encoding="utf-8")
    assert "| · 方案演示 | 120 | 2.37 | 2.19–2.54 | 4.00 | 低于设计 |" in markdown
    assert 'id="journey-measured-curve"' in (out / "index.html").read_text(encoding="utf-8")


def test_with_history_each_phase_says_what_the_deal_log_says() -> None:
    deals = ROOT / "examples" / "history" / "b2b-cn-deals.csv"
    log = flowsim.read_log(deals, tz="Asia/Shanghai")
    journey = flowsim.measure_journey(flowsim.read_feedback(BUNDLED), PROCESS, log)
    funnel = flowsim.metrics(log, PROCESS)
    raw = pl.read_csv(deals, comment_prefix="#")
    for row in (r for r in journey.rows if r.level == "phase"):
        entered = raw.filter(pl.col("阶段") == row.phase)["商机编号"].n_unique()
        stage = funnel.stages[row.stage]
        assert row.deals == entered == stage.entered
        assert (row.drop_off, row.rework) == (stage.leakage, stage.reentries)
        assert row.median_days == pytest.approx(stage.time_latest.median / 24)  # type: ignore[operator]
    assert all(r.deals is None for r in journey.rows if r.level == "touchpoint")
    result = CliRunner().invoke(
        main,
        ["feedback", str(FLOW), str(BUNDLED), "--history", str(deals), "--tz", "Asia/Shanghai"],
    )
    assert result.exit_code == 0, result.output
    assert (
        "谈判签约                 93  2.10  1.94–2.26      2.00   agrees  73%    239   34%   7.6"
        in (result.output)
    )
