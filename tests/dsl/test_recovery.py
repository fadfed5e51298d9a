"""Error recovery: a syntax error does not hide the other errors of the text.

After a syntax error the parser drops the broken statement and resumes at the next line that
begins a statement (a declaration keyword, or ``id ->``); inside a block it resumes after the
block's ``}``. Every independent syntax error is reported, and the statements that parsed are
checked for references to undeclared roles, stages and departments. A skipped declaration
keeps its id when it can be read, so references to it are not errors of their own. A text
with any syntax error still has no process.
"""

from __future__ import annotations

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowsim
from flowsim import CheckResult
from flowsim.dsl import syntax

VALID = """\
process "Recovery" currency EUR
department sales "Sales"
role rep "Rep" in sales headcount 3
role lead "Lead" in sales headcount 1
stage lead_in "Lead in" owner rep effort 2h wait 1d start
stage qualify "Qualify" owner rep effort 3h
stage propose "Propose" owner lead effort 4h wait 2d
outcome won "Won" result won
outcome lost "Lost" result lost
lead_in -> qualify 70%
lead_in -> lost 30%
qualify -> propose 60%
qualify -> lost 40%
propose -> won 50%
propose -> lost 50%
"""

SYNTAX = {"E001", "E002", "E003", "E006"}


def found(result: CheckResult) -> list[tuple[str, int, int]]:
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics if d.span]


def test_the_valid_fixture_is_clean() -> None:
    result = flowsim.check_text(VALID)
    assert result.ok and result.errors == []


def test_two_independent_syntax_errors_are_both_reported() -> None:
    text = VALID.replace("effort 3h", "effort 3 hours").replace("lead_in -> lost", "lead_in lost")
    result = flowsim.check_text(text, "two.flow")
    assert found(result) == [("E001", 6, 42), ("E001", 11, 9)]
    assert result.ok is False
    assert result.process is None


def test_a_syntax_error_and_an_unknown_role_elsewhere_are_both_reported() -> None:
    text = VALID.replace("effort 3h", "effort 3").replace("owner lead", "owner leed")
    result = flowsim.check_text(text)
    assert found(result) == [("E001", 6, 42), ("E104", 7, 31)]
    assert "did you mean 'lead'" in result.diagnostics[1].message
    assert result.process is None


def test_a_skipped_stage_keeps_its_id_so_transitions_to_it_are_not_errors() -> None:
    # the whole `qualify` declaration is dropped, but `qualify` is still a stage
    result = flowsim.check_text(VALID.replace("owner rep effort 3h", "owner rep effort 3h }"))
    assert found(result) == [("E001", 6, 45)]


def test_a_declaration_without_a_readable_id_leaves_its_references_unknown() -> None:
    # nothing says the stage was `qualify`: the transitions naming it are real errors too
    result = flowsim.check_text(VALID.replace('stage qualify "Qualify"', 'stage "Qualify"'))
    codes = [(code, line) for code, line, _ in found(result)]
    assert codes == [("E001", 6), ("E102", 10), ("E102", 12), ("E102", 13)]


def test_a_complete_statement_before_the_error_is_kept() -> None:
    # `stage propose ... wait 2d` is complete when the stray `%` comes: its owner is checked
    text = VALID.replace("owner lead effort 4h wait 2d", "owner leed effort 4h wait 2d %")
    assert [code for code, _, _ in found(flowsim.check_text(text))] == ["E104", "E001"]


def test_an_error_inside_a_block_skips_to_the_end_of_the_block() -> None:
    text = (
        "role rep\n"
        'stage a {\n  owner rep\n  effort 3 hours\n  goal "x"\n}\n'
        "stage b {\n  owner bob\n}\n"
        "outcome won\na -> b\nb -> won\n"
    )
    assert found(flowsim.check_text(text)) == [("E001", 4, 10), ("E104", 8, 9)]


def test_a_missing_closing_brace_is_one_error_and_the_rest_is_still_checked() -> None:
    text = "role rep\nstage a {\n  owner rep\nstage b owner bob\noutcome won\na -> b\nb -> won\n"
    result = flowsim.check_text(text)
    assert found(result) == [("E001", 4, 1), ("E104", 4, 15)]
    assert "line 2 is not closed" in (result.diagnostics[0].hint or "")


def test_whole_process_checks_wait_for_a_text_that_parses() -> None:
    # no outcome, no start, an unreachable stage: none of it is reported beside a syntax error
    result = flowsim.check_text("stage a effort 3\nstage b\n")
    assert found(result) == [("E001", 1, 16)]


def test_a_lexical_error_ends_the_parse_and_the_reference_checks() -> None:
    # after `;` nothing is read, so `owner bob` is not checked: `bob` might be declared later
    text = "stage a effort 3\nstage b effort 1h ;\nstage c owner bob\n"
    assert found(flowsim.check_text(text)) == [("E001", 1, 16), ("E002", 2, 19)]


def test_syntax_errors_are_capped() -> None:
    result = flowsim.check_text("stage a effort 3\n" * 80)
    assert [d.code for d in result.diagnostics] == ["E001"] * syntax.MAX_PROBLEMS


def _corrupt(text: str, line: int, at: int, junk: str | None) -> str:
    """``text`` with word ``at`` of ``line`` deleted (``junk`` None) or ``junk`` put before it."""
    lines = text.splitlines()
    words = lines[line].split(" ")
    at = min(at, len(words) - 1)
    if junk is None:
        del words[at]
    else:
        words.insert(at, junk)
    lines[line] = " ".join(words)
    return "\n".join(lines) + "\n"


def _declared_on(line: str) -> str | None:
    m = re.match(r"(?:stage|outcome|role|department|persona) (\w+)", line)
    return m.group(1) if m else None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    line=st.integers(0, VALID.count("\n") - 1),
    at=st.integers(0, 12),
    junk=st.sampled_from([None, "}", "{", "->", "42", "%", ",", "zz", '"x"', "owner", "stage"]),
)
def test_one_corrupted_line_changes_nothing_before_and_blames_nothing_else(
    line: int, at: int, junk: str | None
) -> None:
    text = _corrupt(VALID, line, at, junk)
    result = flowsim.check_text(text)
    syntax_errors = [d for d in result.diagnostics if d.code in SYNTAX]
    if not syntax_errors:
        return  # the corruption left valid syntax (e.g. a probability deleted)
    assert result.process is None
    # the first error is the one a parser that stops at the first error reports
    with pytest.MonkeyPatch.context() as m:
        m.setattr(syntax, "MAX_PROBLEMS", 1)
        stopping = flowsim.check_text(text).diagnostics
    assert stopping == [syntax_errors[0]]
    # every diagnostic is on the corrupted line (or between it and where the parser noticed
    # the error), or names an id declared there: nothing blames the untouched statements
    first = syntax_errors[0].span
    assert first is not None
    lost = _declared_on(VALID.splitlines()[line])
    for d in result.diagnostics:
        assert d.span is not None
        on_line = min(line + 1, first.line) <= d.span.line <= max(line + 1, first.line)
        at_end = d.code == "E006"
        dependent = lost is not None and f"'{lost}'" in d.message
        assert on_line or at_end or dependent, (line, text.splitlines()[line], str(d))
