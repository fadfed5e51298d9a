"""The terminal summaries speak the process's language, as the report does.

A process written in Chinese (here: Chinese ids, no labels) gets Chinese from ``flowsim
bottlenecks`` without asking; ``--lang`` overrides the choice either way.
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from flowsim.cli import main
from tests.report.test_i18n import CHINESE_IDS

RUN = ["-n", "3", "--workers", "1", "--until", "120d", "--warmup", "0d"]


def run(tmp_path: Path, *args: str) -> str:
    flow = tmp_path / "大客户.flow"
    flow.write_text(CHINESE_IDS, encoding="utf-8")
    result = CliRunner().invoke(main, [args[0], str(flow), *RUN, *args[1:]])
    assert result.exit_code == 0, result.output
    return result.output


def test_bottlenecks_of_a_chinese_process_are_named_in_chinese(tmp_path: Path) -> None:
    out = run(tmp_path, "bottlenecks")
    assert "主要瓶颈是" in out or "没有角色构成产能瓶颈" in out
    assert "The principal bottleneck" not in out and "takes the most time" not in out


def test_lang_en_keeps_the_english_sentences(tmp_path: Path) -> None:
    out = run(tmp_path, "bottlenecks", "--lang", "en")
    assert "The principal bottleneck" in out or "No role is a capacity bottleneck" in out
    assert "主要瓶颈是" not in out
