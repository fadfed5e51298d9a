"""The terminal summaries speak the process's language, as the report does.

A process written in Chinese (here: Chinese ids, no labels) gets Chinese from ``flowsim
simulate`` and ``flowsim bottlenecks`` without asking: headings, KPI names, percentages,
what-ifs named by what they change. ``--lang`` overrides the choice either way, and English
is the tables as they always were.
"""

from __future__ import annotations

import json
import re
import string
from pathlib import Path

import pytest
from click.testing import CliRunner

from flowsim import parse
from flowsim.cli import main
from flowsim.report.i18n import KPIS
from flowsim.report.terminal import CHINESE, terms
from flowsim.sim.bottlenecks import TEXT
from flowsim.sim.table import ENGLISH, SHOWN, Terms
from tests.report.test_i18n import CHINESE_IDS
from tests.sim.test_verdict import B2B, HISTORY, OPENING

RUN = ["-n", "3", "--workers", "1", "--until", "120d", "--warmup", "0d"]


def run(tmp_path: Path, *args: str) -> str:
    flow = tmp_path / "大客户.flow"
    flow.write_text(CHINESE_IDS, encoding="utf-8")
    result = CliRunner().invoke(main, [args[0], str(flow), *RUN, *args[1:]])
    assert result.exit_code == 0, result.output
    return result.output


def terminal_english(text: str) -> list[str]:
    """The English of the terminal catalogues found in ``text``: every fragment of four
    letters or more of a table word or bottleneck sentence, the KPI keys, the baseline."""
    fragments = {
        f
        for message in (*ENGLISH.values(), *TEXT["en"].values())
        for part in re.split(r"\{[^}]*\}", message)
        for f in re.findall(r"[A-Za-z][A-Za-z' -]*[A-Za-z]", part)
        if len(f) >= 4
    } | {*SHOWN, "baseline"}
    found = [f for f in fragments if re.search(rf"(?<![\w-]){re.escape(f)}(?![\w-])", text)]
    return sorted(found)


def latin_words(text: str) -> set[str]:
    """Latin words left, but for the option a sentence tells the user to raise (a delta
    of minutes is written out, ``-0.0000025``, never in e-notation)."""
    return set(re.findall(r"[A-Za-z][A-Za-z_]*", text)) - {"budget"}


@pytest.fixture(scope="module")
def zh_simulate(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run(tmp_path_factory.mktemp("sim"), "simulate")


@pytest.fixture(scope="module")
def zh_bottlenecks(tmp_path_factory: pytest.TempPathFactory) -> str:
    return run(tmp_path_factory.mktemp("bn"), "bottlenecks", "--suggest", "--budget", "3")


def test_simulate_of_a_chinese_process_shows_no_english(zh_simulate: str) -> None:
    assert terminal_english(zh_simulate) == []
    assert latin_words(zh_simulate) == set()
    # the scan finds what it looks for: today's English heading and KPI keys fail it
    assert terminal_english("kpi  baseline\nwin_rate  8.5%") == ["baseline", "win_rate"]


def test_simulate_in_chinese_names_kpis_stages_and_roles(zh_simulate: str) -> None:
    lines = zh_simulate.splitlines()
    assert lines[0].startswith(
        "大客户销售：随机模拟，3 次重复，随机种子 0，自 2026-01-05 起 120 天"
    )
    assert lines[1] == CHINESE["means"]
    assert lines[3].split() == ["指标", "基线", "加人"]
    # the report's catalogue names the KPIs it has; a share keeps its % and its points
    assert re.search(rf"^{KPIS['zh']['win_rate']} +\d+\.\d% ± \d+\.\d 个百分点", zh_simulate, re.M)
    assert re.search(r"^联系 +\d", zh_simulate, re.M) and re.search(
        r"^销售代表 +\d", zh_simulate, re.M
    )
    assert "阶段" in zh_simulate and "利用率" in zh_simulate


def test_bottlenecks_of_a_chinese_process_show_no_english(zh_bottlenecks: str) -> None:
    assert terminal_english(zh_bottlenecks) == []
    assert latin_words(zh_bottlenecks) == set()
    assert "主要瓶颈是" in zh_bottlenecks or "没有角色构成产能瓶颈" in zh_bottlenecks
    for title in ("capacity", "time", "conversion", "whatif_cols"):
        assert CHINESE[title].split("|")[0] in zh_bottlenecks


def test_what_ifs_are_named_by_what_they_change(zh_bottlenecks: str) -> None:
    # "+1 销售代表" (the lever's id name) reads as the report names it
    assert "+1 人 销售代表" in zh_bottlenecks
    assert re.search(r"联系 → 谈判 \+5 个百分点|联系 工作量 -20%|谈判 工作量 -20%", zh_bottlenecks)
    assert "未尝试（" in zh_bottlenecks


def test_lang_en_keeps_the_english_tables(tmp_path: Path) -> None:
    out = run(tmp_path, "bottlenecks", "--lang", "en")
    assert "The principal bottleneck" in out or "No role is a capacity bottleneck" in out
    assert "capacity (share of cycle time spent queueing for the role)" in out
    assert "主要瓶颈是" not in out
    sim = run(tmp_path, "simulate", "--lang", "en")
    assert sim.splitlines()[3].split() == ["kpi", "baseline", "加人"]
    assert re.search(r"^win_rate +\d+\.\d% ± \d+\.\d+pt", sim, re.M)


def test_english_terms_are_the_tables_as_they_always_were() -> None:
    model = parse(CHINESE_IDS)
    assert terms(model, "en") == Terms()


def test_both_catalogues_have_the_same_words_and_placeholders() -> None:
    fields = string.Formatter()
    assert set(CHINESE) == set(ENGLISH)
    for key, en in ENGLISH.items():
        assert {f for _, f, _, _ in fields.parse(en) if f} == {
            f for _, f, _, _ in fields.parse(CHINESE[key]) if f
        }, key
        assert en.count("|") == CHINESE[key].count("|"), key


def test_an_overloaded_role_is_warned_of_in_chinese_by_its_label(tmp_path: Path) -> None:
    flow = tmp_path / "overloaded.flow"
    text = B2B.read_text(encoding="utf-8")
    flow.write_text(text.replace("in presales headcount 3", "in presales headcount 2"), "utf-8")
    args = ["simulate", str(flow), "-n", "2", "--until", "60d", "--workers", "1", "-q"]
    out = CliRunner().invoke(main, args).output
    assert "警告：角色「解决方案顾问」承担的工作量是其产能的 132%（每周 118.7 / 90.0 人时）" in out
    assert "warning" not in out and "'se'" not in out


def test_a_failed_fidelity_check_opens_in_chinese_and_stays_english_in_json(
    tmp_path: Path,
) -> None:
    # the bundled model with five times the leads its history has (as tests/sim/test_verdict)
    bad = tmp_path / "b2b-bad.flow"
    text = B2B.read_text(encoding="utf-8")
    bad.write_text(text.replace("arrivals 40 per week", "arrivals 200 per week"), "utf-8")
    args = [str(bad), "--history", str(HISTORY), "--tz", "Asia/Shanghai", "-n", "2", "-q"]
    text = CliRunner().invoke(main, ["simulate", *args]).output
    assert text.startswith("模型未能重现历史数据：")
    assert text.count("模型未能重现历史数据") == 1 and OPENING not in text
    data = json.loads(CliRunner().invoke(main, ["simulate", *args, "--format", "json"]).output)
    assert data["warnings"][0].startswith(OPENING)
    found = CliRunner().invoke(main, ["bottlenecks", *args, "--suggest", "--budget", "2"]).output
    assert found.startswith("模型未能重现历史数据：") and OPENING not in found
    assert CHINESE["model_only"] in found


def test_the_json_speaks_english_unless_asked(tmp_path: Path) -> None:
    english = json.loads(run(tmp_path, "bottlenecks", "--format", "json"))
    assert english["principal"].startswith(("The principal bottleneck", "No role is"))
    chinese = json.loads(run(tmp_path, "bottlenecks", "--format", "json", "--lang", "zh"))
    assert chinese["principal"].startswith(("主要瓶颈是", "没有角色构成产能瓶颈"))
    assert chinese["time"][0]["name"] == english["time"][0]["name"]  # ids stay ids


def test_warnings_on_stderr_follow_the_table_when_it_goes_to_a_file(tmp_path: Path) -> None:
    flow = tmp_path / "overloaded.flow"
    text = B2B.read_text(encoding="utf-8")
    flow.write_text(text.replace("in presales headcount 3", "in presales headcount 2"), "utf-8")
    table = tmp_path / "table.txt"
    args = ["simulate", str(flow), "-n", "2", "--until", "60d", "--workers", "1", "-o", str(table)]
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    said = [x for x in r.stderr.splitlines() if x.startswith("flowsim: ")]
    assert "flowsim: 警告：角色「解决方案顾问」承担的工作量是其产能的 132%" in r.stderr, said
    assert not any(x.startswith("flowsim: warning") for x in said)
    english = CliRunner().invoke(main, [*args, "--lang", "en"])
    assert "flowsim: warning: role 'se' is offered 132% of its capacity" in english.stderr
