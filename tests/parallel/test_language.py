"""Parallel blocks in the language: syntax, model, checks E219-E222, formatter round trip."""

from __future__ import annotations

import pytest

import flowsim
from flowsim.checks import expected_visits

HEAD = """\
stage proposal
stage legal
stage validation
stage sign_off
stage contract
outcome won
outcome lost
contract -> won
"""


def errors(text: str) -> list[str]:
    return [d.code for d in flowsim.check_text(text).diagnostics if d.is_error]


def test_a_block_is_a_fork_its_branches_and_a_join() -> None:
    p = flowsim.parse(HEAD + "proposal -> parallel { legal, validation -> sign_off } -> contract")
    (block,) = p.parallels
    assert (block.source, block.branches, block.join) == (
        "proposal",
        ("legal", "validation"),
        "contract",
    )
    # the chain link is an ordinary transition that takes the whole branch
    assert [(t.source, t.target, t.probability) for t in p.transitions][-1] == (
        "validation",
        "sign_off",
        None,
    )
    assert p.branch_stages(block) == (frozenset({"legal"}), frozenset({"validation", "sign_off"}))
    assert p.branch_ends(block) == (frozenset({"legal"}), frozenset({"sign_off"}))
    assert ("proposal", "legal") in p.routes() and ("sign_off", "contract") in p.routes()
    assert p.fork_at("proposal") is block and p.fork_at("legal") is None


def test_branches_on_new_lines_with_a_label_and_unicode_arrows() -> None:
    text = HEAD + 'proposal → parallel {\n  legal\n  validation → sign_off\n} → contract "both"\n'
    (block,) = flowsim.parse(text).parallels
    assert block.branches == ("legal", "validation") and block.label == "both"


def test_an_outcome_inside_a_branch_and_a_share_to_the_join() -> None:
    text = HEAD + (
        "proposal -> parallel { legal, validation -> sign_off } -> contract\n"
        "legal -> lost 10%\nlegal -> contract\n"
    )
    p = flowsim.parse(text)
    visits = expected_visits(p)
    assert visits["legal"] == visits["validation"] == visits["sign_off"] == 1.0
    # the deal reaches the join when every branch finishes: 90% x 100%
    assert visits["contract"] == pytest.approx(0.9)
    both = flowsim.parse(text + "sign_off -> lost 20%\nsign_off -> contract\n")
    assert expected_visits(both)["contract"] == pytest.approx(0.9 * 0.8)
    looped = flowsim.parse(text + "sign_off -> validation 50%\nsign_off -> contract\n")
    assert expected_visits(looped)["sign_off"] == pytest.approx(2.0)  # rework inside a branch
    assert expected_visits(looped)["contract"] == pytest.approx(0.9)


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ("proposal -> parallel { legal, validation } -> contract\nproposal -> lost 10%", "E219"),
        ("proposal -> parallel { legal, validation } -> contract\n"
         "proposal -> parallel { sign_off, validation } -> contract", "E219"),
        ("proposal -> parallel { legal } -> contract", "E220"),
        ("proposal -> parallel { legal, legal } -> contract", "E220"),
        ("proposal -> parallel { legal, lost } -> contract", "E220"),
        ("proposal -> parallel { legal, validation } -> contract\nlegal -> proposal", "E221"),
        ("proposal -> parallel { legal, validation } -> contract\nlegal -> validation", "E221"),
        ("proposal -> parallel { legal, validation } -> contract\ncontract -> legal 10%", "E221"),
        ("proposal -> parallel { legal, validation } -> contract\nlegal -> legal", "E222"),
        ("proposal -> parallel { legal, validation } -> contract\n"
         "legal -> parallel { sign_off, validation } -> contract", "E222"),
        ("proposal -> parallel { legal, validatoin } -> contract", "E102"),
    ],
)  # fmt: skip
def test_malformed_blocks_have_a_code_and_a_hint(extra: str, code: str) -> None:
    text = HEAD.replace("contract -> won\n", "contract -> won 90%\ncontract -> lost\n")
    text += "sign_off -> won\n" if "sign_off," not in extra else ""
    found = flowsim.check_text(text + extra + "\n").diagnostics
    hits = [d for d in found if d.code == code]
    assert hits, [str(d) for d in found]
    assert all(d.hint and d.span is not None for d in hits)


def test_a_sound_block_has_no_flow_errors() -> None:
    """Branch ends are no dead ends (E213), branch stages are reachable (E214)."""
    text = HEAD + "proposal -> parallel { legal, validation -> sign_off } -> contract\n"
    assert errors(text) == []


def test_parallel_is_a_keyword_and_cannot_name_a_stage() -> None:
    assert "E112" in errors("stage parallel\noutcome won\nparallel -> won\n")


@pytest.mark.parametrize(
    "line",
    [
        "proposal -> parallel { legal, validation -> sign_off } -> contract",
        'proposal -> parallel {\n  legal\n  validation\n} -> contract "reviews"  # both',
    ],
)
def test_the_formatter_writes_blocks_back(line: str) -> None:
    p = flowsim.check_text(HEAD + line + "\n").process  # flow errors do not matter here
    assert p is not None
    text = p.to_flow()
    assert "-> parallel {" in text
    again = flowsim.check_text(text).process
    assert again is not None
    assert again == p and again.to_flow() == text
    assert "# both" in text or "#" not in line


def test_a_chain_written_outside_the_block_stays_outside() -> None:
    """The formatter only inlines what was written inline: the transitions keep their order."""
    text = HEAD + "validation -> sign_off\nproposal -> parallel { legal, validation } -> contract\n"
    p = flowsim.check_text(text).process
    assert p is not None
    out = p.to_flow()
    assert "validation -> sign_off\nproposal -> parallel { legal, validation } -> contract" in out


def test_a_scenario_changes_a_branch_s_conversion() -> None:
    """A what-if on a transition inside a branch re-balances that stage as anywhere else."""
    text = HEAD + (
        "proposal -> parallel { legal, validation -> sign_off } -> contract\n"
        "legal -> lost 10%\nlegal -> contract\n"
        'scenario "tougher legal" {\n  legal -> lost 30%\n}\n'
    )
    p = flowsim.parse(text)
    tougher = p.with_scenario("tougher legal")
    assert tougher.parallels == p.parallels
    assert expected_visits(p)["contract"] == pytest.approx(0.9)
    assert expected_visits(tougher)["contract"] == pytest.approx(0.7)


@pytest.mark.parametrize(
    "line",
    ["proposal -> parallel { legal, } -> contract", "proposal -> parallel { } -> contract"],
)
def test_an_empty_branch_list_gets_a_syntax_error_with_a_hint(line: str) -> None:
    (problem,) = [d for d in flowsim.check_text(HEAD + line + "\n").diagnostics if d.is_error]
    assert problem.code == "E001" and problem.hint is not None
    assert "parallel { a, b }" in problem.hint


def test_a_block_without_its_join_is_a_syntax_error() -> None:
    (problem,) = [
        d
        for d in flowsim.check_text(
            HEAD + "proposal -> parallel { legal, validation }\n"
        ).diagnostics
        if d.is_error
    ]
    assert problem.code == "E006" and "'->'" in problem.message
