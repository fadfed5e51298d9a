"""The formatter: canonical text, comments kept, and the two round-trip invariants."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowsim
from flowsim.dsl.formatter import fmt_duration, fmt_number, fmt_probability
from flowsim.model import Process
from tests.strategies import hours, probability, processes

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").rglob("*.flow"))


def reparse(text: str, filename: str = "<fmt>") -> Process:
    result = flowsim.check_text(text, filename)
    assert result.process is not None, result.render()
    return result.process


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip(path: Path) -> None:
    original = flowsim.check_file(path)
    assert original.process is not None
    once = original.process.to_flow()
    again = reparse(once, str(path))
    assert again == original.process
    assert again.to_flow() == once


def test_comments_are_kept(b2b_text: str) -> None:
    p = flowsim.parse(b2b_text, "b2b.flow")
    out = p.to_flow()
    original = [line.split("#", 1)[1] for line in b2b_text.splitlines() if "#" in line]
    for text in original:
        assert "#" + text in out
    assert "effort triangular(1h, 2h, 4h)  # owner's working time: needs a free rep" in out
    assert out.startswith("# B2B 大客户销售流程")


def test_canonical_text_of_messy_input() -> None:
    messy = (
        "# leading comment\nstage   a   'x'\n".replace("'x'", '"A"')
        + "  owner r   effort 120m wait 72h   # trailing\n"
        "role r  headcount 2\n\n\n"
        "outcome won\n"
        "a->won\n"
    )
    assert flowsim.parse(messy).to_flow() == (
        "# leading comment\n"
        'stage a "A" {\n'
        "  owner r  # trailing\n"
        "  effort 2h\n"
        "  wait 3d\n"
        "}\n"
        "\n"
        "role r headcount 2\n"
        "\n"
        "outcome won\n"
        "\n"
        "a -> won\n"
    )


def test_own_line_comment_stays_with_the_next_construct() -> None:
    text = (
        "stage a {\n  # why this owner\n  owner r\n  # closing note\n}\n"
        "role r\noutcome won\na -> won\n"
    )
    out = flowsim.parse(text).to_flow()
    assert "  # why this owner\n  owner r\n" in out
    assert "  # closing note\n}" in out
    assert flowsim.parse(out).to_flow() == out


def test_blank_lines_between_groups_are_kept() -> None:
    text = 'stage a\noutcome won\n\na -> won 50%\n\na -> won 50% "x"\n'
    out = flowsim.parse(text).to_flow()
    assert out.endswith('a -> won 50%\n\na -> won 50% "x"\n')


@given(hours)
def test_durations_print_exactly(h: float) -> None:
    text = fmt_duration(h)
    unit = text[-1]
    factor = {"m": 1 / 60, "h": 1.0, "d": 24.0, "w": 168.0}[unit]
    assert float(text[:-1]) * factor == h
    assert "e" not in text


@given(probability)
def test_probabilities_print_exactly(p: float) -> None:
    text = fmt_probability(p)
    value = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    assert value == p


def test_friendly_units() -> None:
    assert [fmt_duration(h) for h in (0.5, 2, 36, 72, 168, 1.25, 2.5, 12, 336, 0.01)] == [
        "30m",
        "2h",
        "1.5d",
        "3d",
        "7d",
        "75m",
        "2.5h",
        "12h",
        "14d",
        "0.01h",
    ]
    assert fmt_number(1e-5) == "0.00001"
    assert fmt_probability(0.6) == "60%"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(processes())
def test_any_model_prints_and_parses_back(p: Process) -> None:
    text = p.to_flow()
    again = reparse(text)
    assert again == p, text
    assert again.to_flow() == text


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_fmt_is_idempotent_on_examples_with_comments(data: st.DataObject) -> None:
    """Sprinkle comments and blank lines into a valid file: fmt(fmt(x)) == fmt(x)."""
    path = data.draw(st.sampled_from(EXAMPLES))
    lines = path.read_text(encoding="utf-8").splitlines()
    out: list[str] = []
    for line in lines:
        if data.draw(st.integers(0, 5)) == 0:
            out.append("# " + data.draw(st.text('abc 中文#"', max_size=8)))
        if data.draw(st.integers(0, 6)) == 0:
            out.append("")
        suffix = "  # t" if data.draw(st.integers(0, 5)) == 0 and "#" not in line else ""
        out.append(line + suffix)
    text = "\n".join(out) + "\n"
    first = flowsim.check_text(text, str(path))
    if first.process is None:  # a comment can land inside a string; such input is not valid
        return
    once = first.process.to_flow()
    second = reparse(once, str(path))
    assert second == first.process
    assert second.to_flow() == once
    kept = [c.text for c in first.process.comments]
    assert sorted(c.text for c in second.comments) == sorted(kept)
