"""The README's pictures are what flowsim draws today (regenerate: `make pictures`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readme_pictures_are_current() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "pictures.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/img/b2b-cn.flowchart.svg" in readme
    assert "docs/img/b2b-cn.journey.svg" in readme
