"""Shared fixtures: paths to the bundled examples and the real-data folder."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


@pytest.fixture
def b2b_path() -> Path:
    return EXAMPLES / "b2b-cn.flow"


@pytest.fixture
def b2b_text(b2b_path: Path) -> str:
    return b2b_path.read_text(encoding="utf-8")
