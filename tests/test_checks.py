"""Checks on the flow: probabilities, reachability, traps, loops, and the method's advice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flowsim
from flowsim.checks import expected_visits
from flowsim.dsl.keywords import KEYWORDS


def found(text: str) -> list[tuple[str, int, int]]:
    result = flowsim.check_text(text, "t.flow")
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span]


BASE = (
    'role r\nstage a owner r goal "g" exit "e"\nstage b owner r goal "g" exit "e"\n'
    "outcome won\noutcome lost\n"
)


def test_clean_process_has_no_findings() -> None:
    assert found(BASE + "a -> b 60%\na -> lost\nb -> won 50%\nb -> lost\n") == []


def test_probabilities_must_sum_to_100() -> None:
    assert ("E211", 6, 1) in found(BASE + "a -> b 60%\na -> lost 30%\nb -> won\n")


def test_tolerance_of_half_a_percent() -> None:
    assert found(BASE + "a -> b 60%\na -> lost 39.6%\nb -> won\n") == []


def test_two_remainder_edges() -> None:
    assert ("E212", 8, 1) in found(BASE + "a -> b\na -> won 10%\na -> lost\nb -> won\n")


def test_remainder_with_nothing_left_is_a_warning() -> None:
    codes = [c for c, _, _ in found(BASE + "a -> b 100%\na -> lost\nb -> won\n")]
    assert codes == ["W107"]


def test_dead_end_unreachable_and_trap() -> None:
    text = (
        'role r\nstage a owner r goal "g" exit "e"\nstage b owner r goal "g" exit "e"\n'
        'stage c owner r goal "g" exit "e"\nstage d owner r goal "g" exit "e"\n'
        "outcome won\n"
        "a -> b 50%\na -> won\nb -> c\nc -> b\nd -> won\n"
    )
    codes = {c for c, _, _ in found(text)}
    assert {"E214", "E215"} <= codes  # d unreachable; b and c trapped
    assert ("E213", 2, 7) in found('role r\nstage a owner r goal "g" exit "e"\noutcome won\n')


def test_expected_visits_of_a_rework_loop(b2b_path: Path) -> None:
    visits = expected_visits(flowsim.load(b2b_path))
    # needs is entered 0.6 times from contact, plus 10% rework from design:
    # v_needs = 0.6 + 0.1 * v_design, v_design = 0.55 * v_needs
    v_needs = 0.6 / (1 - 0.1 * 0.55)
    assert visits["needs"] == pytest.approx(v_needs)
    assert visits["design"] == pytest.approx(0.55 * v_needs)
    assert visits["won"] + visits["lost"] == pytest.approx(1.0)


def test_heavy_loop_warns() -> None:
    text = BASE + "a -> b\nb -> a 90%\nb -> won\n"
    assert "W105" in [c for c, _, _ in found(text)]


def test_advice_warnings() -> None:
    text = 'role r\nrole idle\nstage a { touchpoint "t" emotion 9 }\noutcome won\na -> won\n'
    codes = [c for c, _, _ in found(text)]
    assert codes == ["W106", "W106", "W101", "W102", "W103", "W104"]


def test_scenario_that_breaks_probabilities() -> None:
    text = BASE + "a -> b 60%\na -> lost 40%\nb -> won\nscenario s { a -> b 120% }\n"
    assert [c for c, _, _ in found(text)] == ["E210"]
    text = BASE + "a -> b 60%\na -> lost\nb -> won\nscenario s { a -> b 100% }\n"
    assert [c for c, _, _ in found(text)] == []


def test_keyword_list_matches_the_grammar() -> None:
    grammar = Path(flowsim.__file__).parent.joinpath("dsl", "grammar.lark").read_text()
    words = set(re.findall(r'"([a-z]+)"', grammar))
    assert words == set(KEYWORDS)


def test_keyword_stage_id_is_rejected() -> None:
    assert found("stage x\nstage goal\noutcome won\nx -> won\n") == [("E112", 2, 7)]
    result = flowsim.check_text("stage goal\noutcome won\ngoal -> won\n")
    # the parser recovers from the syntax error, so the declaration's own error shows too
    assert [(d.code, d.span and d.span.line) for d in result.errors] == [("E112", 1), ("E001", 3)]
    assert "keyword" in (result.errors[1].hint or "")


def test_diagnostics_are_sorted_errors_first() -> None:
    result = flowsim.check_text("stage a\nstage b\noutcome won\na -> won 50%\nb -> won\n")
    sev = [d.severity.value for d in result.diagnostics]
    assert sev == sorted(sev)  # "error" < "warning"
