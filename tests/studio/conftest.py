"""Studio fixtures: a small model in a temporary folder and a live server for it."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.studio.helpers import SMALL, Live, live_studio


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    """A copy of small.flow (one role, two stages, one scenario) the test may change."""
    path = tmp_path / "sales.flow"
    shutil.copyfile(SMALL, path)
    return path


@pytest.fixture
def live(flow: Path) -> Iterator[Live]:
    with live_studio(flow) as running:
        yield running


# the browser tests' fixtures (one Chromium per module, a live studio and page per test)
from tests.studio.browser import browser, session  # noqa: E402, F401
