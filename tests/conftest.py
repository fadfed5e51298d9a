"""Shared fixtures (the bundled examples, BPIC 2012 read once) and the memory guard."""

from __future__ import annotations

import resource
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowsim.history import DealLog, read_log
from tests.data import DATA

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: No test may take more memory than this (issue 17): the suite must pass on a shared machine.
MEMORY_LIMIT_MB = 2048


def _peaks_mb() -> tuple[int, int]:
    """Peak resident memory so far of pytest itself and of its largest finished child (MB).

    Linux reports ``ru_maxrss`` in KiB. Children count once they have been waited for, which
    ``subprocess.run`` and a process pool's shutdown do before the test returns.
    """
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return own // 1024, child // 1024


def _check_memory(before: tuple[int, int]) -> None:
    """Fail the test that lifted pytest's peak, or a child process's, above the limit.

    A peak is a high-water mark, so a test is blamed only when it raises one past the
    limit: the test (or its fixtures' set-up) that did it, not a later one.
    """
    after = _peaks_mb()
    for who, was, now in zip(("pytest", "a child process"), before, after, strict=True):
        if now > max(was, MEMORY_LIMIT_MB):
            pytest.fail(f"{who} peaked at {now:,} MB in this test (limit {MEMORY_LIMIT_MB:,} MB)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    before = _peaks_mb()
    result = yield
    _check_memory(before)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    before = _peaks_mb()
    result = yield
    _check_memory(before)
    return result


@pytest.fixture
def b2b_path() -> Path:
    return EXAMPLES / "b2b-cn.flow"


@pytest.fixture
def b2b_text(b2b_path: Path) -> str:
    return b2b_path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def bpic_log() -> DealLog:
    """BPIC 2012 (13,087 cases, 262,200 events), read once for the whole session.

    Eight test files check things on it; each used to read the 14 MB XES again. Tests treat
    it as read-only (filters and ``derive`` return new logs; its frame is a polars DataFrame,
    which no operation changes in place), so one test cannot leak changes into another.
    """
    return read_log(DATA / "bpic2012" / "bpic2012.xes.gz")
