"""Docs and examples stay true: every ```flow block is a file in examples/, and every example
checks without errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import flowsim

ROOT = Path(__file__).resolve().parent.parent
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
EXAMPLES = sorted((ROOT / "examples").rglob("*.flow"))
BLOCK = re.compile(r"^```flow(?: (\S+))?\n(.*?)^```$", re.M | re.S)
# Files that only hold declarations for others to include: no stages of their own.
INCLUDE_ONLY = {"examples/language/shared/org.flow"}


def flow_blocks() -> list[tuple[str, str | None, str]]:
    out = []
    for doc in DOCS:
        if doc.exists():
            for m in BLOCK.finditer(doc.read_text(encoding="utf-8")):
                out.append((doc.name, m.group(1), m.group(2)))
    return out


@pytest.mark.parametrize(("doc", "path", "body"), flow_blocks(), ids=lambda x: str(x)[:40])
def test_every_flow_block_is_an_example_file(doc: str, path: str | None, body: str) -> None:
    assert path is not None, f"{doc}: a ```flow block must name its examples/ file"
    assert path.startswith("examples/")
    assert (ROOT / path).read_text(encoding="utf-8") == body


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_example_checks(path: Path) -> None:
    result = flowsim.check_file(path)
    rel = str(path.relative_to(ROOT))
    if rel in INCLUDE_ONLY:
        assert [d.code for d in result.errors] == ["E109"]
        return
    assert result.ok, result.render()


def test_bundled_examples() -> None:
    saas = flowsim.check_file(ROOT / "examples" / "saas-en.flow")
    assert saas.ok and not saas.warnings, saas.render()
    assert saas.process is not None
    assert len(saas.process.scenarios) >= 3
    assert {o.result for o in saas.process.outcomes} == {"won", "lost"}
