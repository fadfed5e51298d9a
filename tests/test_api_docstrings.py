"""Every public function of the façade has a numpydoc docstring whose examples run.

``dir(flowsim)`` lists the API; each function in it documents its Parameters, Returns, Raises
and Examples (pm4py and networkx style), and the examples are doctests run here from the
repository root, on the bundled ``examples/`` files and the small committed samples (a
simulated B2B deal log, the malformed-log corpus). They stay small: the whole file runs in a
few seconds, and each example prints only what a seed fixes.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import flowsim

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = ("Parameters", "Returns", "Raises", "Examples")
#: modules whose own doctests document the types the façade returns and raises
MODULES = (
    "flowsim.errors",
    "flowsim._base",
    "flowsim.diagnostics",
    "flowsim.history.problems",
    "flowsim.result",
)


def _function(name: str) -> Callable[..., Any]:
    """The function behind ``flowsim.<name>`` (``flowsim.render`` is a callable module)."""
    value = getattr(flowsim, name)
    if inspect.ismodule(value):
        value = getattr(value, name)
    return value  # type: ignore[no-any-return]


FUNCTIONS = sorted(
    name
    for name in flowsim.__all__
    if inspect.isfunction(getattr(flowsim, name)) or inspect.ismodule(getattr(flowsim, name))
)


def _run(tests: list[doctest.DocTest]) -> tuple[int, str]:
    """Run the doctests; the number of examples and the failures' report."""
    out: list[str] = []
    runner = doctest.DocTestRunner()
    examples = 0
    for test in tests:
        examples += len(test.examples)
        runner.run(test, out=out.append)
    return examples, "".join(out) if runner.failures else ""


def test_the_facade_functions_are_all_here() -> None:
    assert FUNCTIONS == [
        "backtest",
        "bottlenecks",
        "check",
        "check_file",
        "check_text",
        "conformance",
        "discover",
        "fidelity",
        "forecast",
        "load",
        "measure_journey",
        "metrics",
        "pain_points",
        "parse",
        "read_feedback",
        "read_log",
        "render",
        "rolling_backtest",
        "simulate",
    ]


@pytest.mark.parametrize("name", FUNCTIONS)
def test_numpydoc_sections(name: str) -> None:
    doc = inspect.getdoc(_function(name)) or ""
    for section in SECTIONS:
        assert f"\n{section}\n{'-' * len(section)}\n" in doc, f"{name}: no {section} section"


@pytest.mark.parametrize("name", FUNCTIONS)
def test_examples_run(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples name files relative to the repository
    function = _function(name)
    tests = doctest.DocTestFinder(recurse=False).find(function, f"flowsim.{name}", globs={})
    examples, failures = _run(tests)
    assert examples >= 2, f"{name}: too few examples"
    assert not failures, failures


@pytest.mark.parametrize("module", MODULES)
def test_module_examples_run(module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    tests = doctest.DocTestFinder().find(importlib.import_module(module))
    examples, failures = _run(tests)
    assert examples > 0 and not failures, failures
