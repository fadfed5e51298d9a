"""Shared helpers for render tests: golden files and hostile labels."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("FLOWSIM_UPDATE_GOLDEN") == "1"

#: Labels that try to break out of every format flowsim writes.
HOSTILE = [
    '<script>alert(1)</script>" onload="x',
    "]]><x/>&amp;&lt;",
    "a\\nb\\\\c\"d'e",
    '}] -> evil [label="x"',
    "<<TABLE><TR><TD>x</TD></TR></TABLE>>",
    '%%{init: {"securityLevel":"loose"}}%%',
    "click s0 call alert()",
    "end\nsubgraph x",
    "`rm -rf /`; #comment: x",
    "\u202eevil\u2028line",
]


def check_golden(name: str, actual: str) -> None:
    """Compare with tests/render/golden/NAME; rewrite it when FLOWSIM_UPDATE_GOLDEN=1."""
    path = GOLDEN / name
    if UPDATE or not path.exists():
        if not UPDATE:
            raise AssertionError(f"missing golden {path}: run with FLOWSIM_UPDATE_GOLDEN=1")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
        return
    expected = path.read_text(encoding="utf-8")
    if expected != actual:
        diff = "".join(
            list(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    actual.splitlines(keepends=True),
                    fromfile=str(path),
                    tofile="actual",
                )
            )[:60]
        )
        raise AssertionError(f"{name} differs from its golden file:\n{diff}")
