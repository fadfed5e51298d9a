"""No input may produce a Python traceback: garbage, binary, empty, huge, deeply nested."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import flowsim
from flowsim.api import CheckResult
from flowsim.diagnostics import display_width, format_diagnostic
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
    """A result is a result: every error says what and where, inside the text it is about.

    Each error has a message and a span whose start and end lie in the checked text (lines
    end at "\n", as the lexer counts them; a column may be one past the line's end, where
    "unexpected end of line/file" points). Its rendered form starts with ``file:line:col``,
    then shows that very line of the source with a caret under the column (padded by display
    width, so wide characters before it move the caret two cells).
    """
    rendered = result.render()
    for d in result.errors:
        assert d.message
        span = d.span
        assert span is not None, f"no position: {d}"
        assert span.file in result.sources, f"position in a file that was not read: {d}"
        lines = result.sources[span.file].split("\n")
        assert 1 <= span.line <= span.end_line <= len(lines), f"line outside the input: {d}"
        assert 1 <= span.column <= len(lines[span.line - 1]) + 1, f"column past the line: {d}"
        assert span.end_column <= len(lines[span.end_line - 1]) + 1, f"end past the line: {d}"
        assert (span.line, span.column) <= (span.end_line, span.end_column), str(d)
        text = format_diagnostic(d, result.sources)
        assert text in rendered
        head, _, line, caret, *_ = text.split("\n")
        assert head.startswith(f"{span.file}:{span.line}:{span.column}: error[{d.code}]")
        gutter = f"{span.line} | "
        assert line.startswith(gutter), text
        shown = line[len(gutter) :]
        source_line = lines[span.line - 1].removesuffix("\r").replace("\t", " ")
        if len(source_line) <= 200:  # longer lines are shown as a window around the column
            assert shown == "".join(c if c.isprintable() else "\ufffd" for c in source_line)
            pad = " " * display_width(shown[: span.column - 1])
            assert caret.startswith(" " * len(str(span.line)) + " | " + pad + "^"), text
        else:
            assert "^" in caret, text
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


@pytest.mark.parametrize("separator", ["\r", "\f", "\x1e", "\x85", "\u2028"])
def test_excerpt_shows_the_line_the_position_names(separator: str) -> None:
    # Python's str.splitlines also breaks lines at these; the lexer counts "\n" only, so the
    # excerpt once showed line 4 of a different split (`outcome won`) under "x.flow:4:6".
    text = f"# a{separator}comment\nstage a\noutcome won\na -> nowhere\n"
    result = flowsim.check_text(text, "x.flow")
    assert_clean(result)
    assert result.render().splitlines()[:4] == [
        "x.flow:4:6: error[E102]: unknown stage or outcome 'nowhere'",
        "  |",
        "4 | a -> nowhere",
        "  |      ^^^^^^^",
    ]


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_end_of_file_is_shown_on_the_empty_last_line(newline: str) -> None:
    # A file ending in a newline ends on an empty line: the error points there, with a caret
    # (the excerpt once dropped that line) and an empty span (nothing lies past the end).
    result = flowsim.check_text(newline.join(["stage a", "outcome won", "a ->", ""]), "x.flow")
    assert_clean(result)
    (error,) = result.errors
    assert error.span is not None
    assert (error.span.line, error.span.column, error.span.end_column) == (4, 1, 1)
    assert result.render().splitlines()[-2:] == ["4 | ", "  | ^"]


def test_an_empty_file_gets_its_error_at_line_one() -> None:
    result = flowsim.check_text("", "empty.flow")
    assert_clean(result)
    assert result.render().splitlines()[:4] == [
        "empty.flow:1:1: error[E109]: the process has no stages",
        "  |",
        "1 | ",
        "  | ^",
    ]
