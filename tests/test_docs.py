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


PYTHON_EXAMPLES = sorted((ROOT / "examples" / "python").glob("*.py"))


@pytest.mark.parametrize("path", PYTHON_EXAMPLES, ids=lambda p: p.name)
def test_every_python_example_runs_and_prints_what_the_docs_show(path: Path) -> None:
    """A Python example in the docs is a file here; run from the repository root (as the
    docs show it), it prints the output the generated page holds."""
    import subprocess
    import sys

    rel = str(path.relative_to(ROOT))
    run = subprocess.run(
        [sys.executable, rel], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    pages = [d for d in DOCS if f"@@cat {rel}@@" in _source(d)]
    assert pages, f"{rel} is not shown by any docs/src page"
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert path.read_text(encoding="utf-8") in text
        assert run.stdout.strip() in text, f"{page.name}: regenerate it (scripts/build_docs.py)"


def _source(doc: Path) -> str:
    src = ROOT / "docs" / "src" / doc.name
    return src.read_text(encoding="utf-8") if src.exists() else ""
