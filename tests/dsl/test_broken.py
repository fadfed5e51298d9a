"""A corpus of broken .flow files: each must produce the diagnostics its header announces.

Every ``tests/dsl/broken/*.flow`` file (not the helpers under ``broken/include/``) starts with
header comment lines::

    # expect: E104 12:9                         code line:column (1-based, in characters)
    # expect: E302 include/cycle-b.flow:5:9     ... in another file, relative to this one
    # hint: did you mean                        the preceding expectation's hint contains this
    # message: ...                              ... its message contains this
    # not-in-hint: ...  /  # not-in-message: ...  ... and does not contain this
    # xfail: reason                             flowsim gets this case wrong today (strict)

The header ends at the first line that is not a comment. Files that are not valid UTF-8 (the
E005 cases) are checked with ``flowsim.check_file``, everything else with
``flowsim.check_text``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import flowsim
from flowsim import CheckResult, Diagnostic, Severity

BROKEN = Path(__file__).parent / "broken"
CASES = sorted(BROKEN.glob("*.flow"))

_EXPECT = re.compile(r"(?P<code>[EW]\d{3})\s+(?:(?P<file>\S+):)?(?P<line>\d+):(?P<col>\d+)")
_CHECKS = ("hint", "message", "not-in-hint", "not-in-message")


@dataclass
class Expected:
    code: str
    file: str  # as flowsim names it in spans: the checked path, or an included file's
    line: int
    column: int
    checks: list[tuple[str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.code} at {self.file}:{self.line}:{self.column}"


@dataclass
class Header:
    expected: list[Expected]
    xfail: str | None = None


def read_header(path: Path) -> Header:
    """The leading comment lines of ``path`` (read as bytes: E005 files are not UTF-8)."""
    header = Header(expected=[])
    for raw in path.read_bytes().splitlines():
        line = raw.decode("utf-8", errors="replace").strip()
        if not line.startswith("#"):
            break
        key, sep, value = line[1:].strip().partition(":")
        key, value = key.strip(), value.strip()
        if not sep:
            continue
        if key == "expect":
            m = _EXPECT.fullmatch(value)
            assert m, f"{path.name}: malformed expect line {line!r}"
            where = str(path) if m["file"] is None else str(path.parent / m["file"])
            header.expected.append(Expected(m["code"], where, int(m["line"]), int(m["col"])))
        elif key in _CHECKS:
            assert header.expected, f"{path.name}: '{key}:' must follow an 'expect:' line"
            header.expected[-1].checks.append((key, value))
        elif key == "xfail":
            header.xfail = value
    return header


def _params() -> list[object]:
    params = []
    for path in CASES:
        marks = []
        reason = read_header(path).xfail
        if reason:
            marks.append(pytest.mark.xfail(strict=True, reason=reason))
        params.append(pytest.param(path, marks=marks, id=path.name))
    return params


def run_check(path: Path) -> CheckResult:
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return flowsim.check_file(path)
    return flowsim.check_text(text, filename=str(path))


def _same_file(a: str, b: str) -> bool:
    return os.path.normpath(a) == os.path.normpath(b)


def _at(d: Diagnostic, exp: Expected) -> bool:
    s = d.span
    return (
        d.code == exp.code
        and s is not None
        and _same_file(s.file, exp.file)
        and (s.line, s.column) == (exp.line, exp.column)
    )


def _passes(d: Diagnostic, checks: list[tuple[str, str]]) -> bool:
    for key, value in checks:
        text = (d.hint or "") if key.endswith("hint") else d.message
        if (value in text) == key.startswith("not-in-"):
            return False
    return True


def _describe(result: CheckResult) -> str:
    if not result.diagnostics:
        return "  (no diagnostics)"
    lines = []
    for d in result.diagnostics:
        where = f"{d.span.file}:{d.span.line}:{d.span.column}" if d.span else "(no position)"
        lines.append(f"  {d.code} {d.severity.value} at {where}: {d.message} [hint: {d.hint}]")
    return "\n".join(lines)


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 40
    assert not any(p.parent.name == "include" for p in CASES)


@pytest.mark.parametrize("path", CASES, ids=[p.name for p in CASES])
def test_header_is_well_formed(path: Path) -> None:
    header = read_header(path)
    assert header.expected, f"{path.name} has no '# expect:' line"
    first = path.read_bytes().split(b"\n", 1)[0]
    assert first.startswith(b"# expect: "), "the first line must be an expect comment"


@pytest.mark.parametrize("path", _params())
def test_broken_file(path: Path) -> None:
    header = read_header(path)
    try:
        result = run_check(path)
    except Exception as err:  # check_text and check_file must never raise on bad input
        pytest.fail(f"checking {path.name} raised {type(err).__name__}: {err}")
    found = _describe(result)

    for exp in header.expected:
        at = [d for d in result.diagnostics if _at(d, exp)]
        assert at, f"expected {exp}; got:\n{found}"
        if exp.checks:
            assert any(_passes(d, exp.checks) for d in at), (
                f"{exp}: {exp.checks} not satisfied; got:\n{found}"
            )

    if all(exp.code.startswith("W") for exp in header.expected):
        for exp in header.expected:
            assert any(
                _at(d, exp) and d.severity is Severity.WARNING for d in result.diagnostics
            ), f"{exp} should be a warning; got:\n{found}"
        assert not result.errors, f"a warnings-only case produced errors:\n{found}"
    else:
        assert result.errors, f"no error reported; got:\n{found}"

    for d in result.errors:
        assert d.message.strip(), f"{d.code} has an empty message"

    first = header.expected[0]
    rendered = result.render()
    assert f"{first.file}:{first.line}:{first.column}" in rendered, rendered
