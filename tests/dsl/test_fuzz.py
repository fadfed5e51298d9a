"""No input may produce a Python traceback: garbage, binary, empty, huge, deeply nested."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowsim
from flowsim.api import CheckResult
from flowsim.dsl.builder import decode_source

EXAMPLES = sorted(Path(__file__).resolve().parents[2].joinpath("examples").rglob("*.flow"))
TOKENS = [
    "stage",
    "outcome",
    "role",
    "department",
    "persona",
    "process",
    "scenario",
    "include",
    "owner",
    "goal",
    "exit",
    "effort",
    "wait",
    "touchpoint",
    "channel",
    "emotion",
    "pain",
    "calendar",
    "arrivals",
    "per",
    "every",
    "headcount",
    "from",
    "in",
    "result",
    "start",
    "->",
    "→",
    "{",
    "}",
    "(",
    ")",
    "[",
    "]",
    ",",
    "%",
    "％",
    "*",
    "#",
    '"',
    "“",
    "”",
    "a",
    "b",
    "won",
    "lost",
    "60%",
    "0.5",
    "2h",
    "3d",
    "-1h",
    "1e9",
    "Mon-Fri",
    "09:00-18:00",
    "2025-01-01",
    "lognormal(mean 3d, sd 2d)",
    "triangular(",
    "\n",
    " ",
    "\t",
    "\x00",
    "\\",
    "初步接触",
    "（",
    "）",
    "，",
    "：",
    "\u3000",
    "\ufeff",
    "\r",
]


def assert_clean(result: CheckResult) -> None:
    """A result is a result: diagnostics render, errors have positions or say why not."""
    text = result.render()
    assert isinstance(text, str)
    for d in result.errors:
        assert d.message
    if result.errors:
        assert not result.ok


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    assert_clean(flowsim.check_text(text, "fuzz.flow"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(TOKENS), max_size=80))
def test_random_token_soup(tokens: list[str]) -> None:
    assert_clean(flowsim.check_text(" ".join(tokens), "soup.flow"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_examples(data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(EXAMPLES))
    text = path.read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text)))
        j = data.draw(st.integers(i, min(len(text), i + 20)))
        op = data.draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        if op == "delete":
            text = text[:i] + text[j:]
        elif op == "insert":
            text = text[:i] + data.draw(st.sampled_from(TOKENS)) + text[i:]
        elif op == "replace":
            text = text[:i] + data.draw(st.text(max_size=5)) + text[j:]
        else:
            text = text[:j] + text[i:j] + text[j:]
    assert_clean(flowsim.check_text(text, str(path)))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes(data: bytes) -> None:
    text, problem = decode_source(data, "bin.flow")
    if text is None:
        assert problem is not None and problem.code == "E005"
        assert problem.span is not None
    else:
        assert_clean(flowsim.check_text(text, "bin.flow"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "\n\n\n",
        "# only a comment",
        "{" * 100_000,
        "(" * 100_000,
        "stage a effort " + "(" * 50_000,
        '"' + "x" * 1_000_000,
        "#" + "x" * 10_000_000,
        "stage a " + "goal " * 200_000,
        "a -> " * 100_000,
        "stage " + "a" * 1_000_000,
    ],
    ids=[
        "empty",
        "newlines",
        "comment",
        "braces",
        "parens",
        "deep-dist",
        "open-string",
        "10MB-comment",
        "repeated-keyword",
        "arrow-chain",
        "1MB-identifier",
    ],
)
def test_pathological_inputs(text: str) -> None:
    assert_clean(flowsim.check_text(text, "big.flow"))


def test_ten_megabytes_of_valid_declarations() -> None:
    block = 'department d{i} "' + "部门职责说明" * 20 + ' {i}"\n'
    text = "".join(block.format(i=i) for i in range(28_000))
    assert len(text.encode()) > 10_000_000
    result = flowsim.check_text(text + "stage a\noutcome won\na -> won\n", "huge.flow")
    assert result.ok, result.render()[:500]
    assert result.process is not None and len(result.process.departments) == 28_000


def test_binary_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "x.flow"
    path.write_bytes(bytes(range(256)) * 10)
    result = flowsim.check_file(path)
    assert [d.code for d in result.errors] == ["E005"]


def test_gbk_file_gets_an_encoding_hint(tmp_path: Path) -> None:
    path = tmp_path / "gbk.flow"
    path.write_bytes('stage a "初步接触"\n'.encode("gbk"))
    (diag,) = flowsim.check_file(path).errors
    assert diag.code == "E005"
    assert diag.hint is not None and "GBK" in diag.hint
    assert diag.span is not None and (diag.span.line, diag.span.column) == (1, 10)


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "bom.flow"
    path.write_bytes(b"\xef\xbb\xbfstage a\noutcome won\na -> won\n")
    assert flowsim.check_file(path).ok


def test_missing_file() -> None:
    result = flowsim.check_file("/nonexistent/nope.flow")
    assert [d.code for d in result.errors] == ["E300"]
