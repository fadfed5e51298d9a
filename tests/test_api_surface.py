"""The public API can be discovered: ``dir(flowsim)`` lists it and mypy sees its real types.

``flowsim/__init__`` imports deal history and simulation only when first used (they pull in
polars and SimPy); the same names are imported under ``TYPE_CHECKING`` so that editors and
``mypy --strict`` see them, and ``__dir__`` lists them.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import flowsim

ROOT = Path(__file__).resolve().parent.parent

USER_SCRIPT = '''\
"""A user's script: every value typed, none Any."""

import flowsim

process = flowsim.load("examples/b2b-cn.flow")
log = flowsim.read_log("deals.csv")
funnel = flowsim.metrics(log, process)
found = flowsim.discover(log)
result = flowsim.simulate(process, replications=2)
future = flowsim.forecast(process, log)
picture = flowsim.render(process, view="journey")
text = process.to_flow()
try:
    flowsim.parse("stage a")
except flowsim.FlowsimError as err:
    message = str(err)
reveal_type(process)
reveal_type(log)
reveal_type(funnel)
reveal_type(found)
reveal_type(result)
reveal_type(future)
reveal_type(picture)
reveal_type(text)
'''

#: flowsim as an installed package is to mypy: followed for types, its own findings silent;
#: the user's script may not hold a single expression of type Any.
MYPY_CONFIG = """\
[mypy]
strict = True
[mypy-user_script]
disallow_any_expr = True
[mypy-flowsim.*]
follow_imports = silent
[mypy-networkx.*,lark.*,simpy.*,pandas.*,pyarrow.*,graphviz.*]
ignore_missing_imports = True
"""


def test_dir_lists_the_public_api() -> None:
    names = dir(flowsim)
    for name in (
        "read_log",
        "metrics",
        "discover",
        "conformance",
        "simulate",
        "bottlenecks",
        "fidelity",
        "forecast",
        "backtest",
        "DealLog",
        "Process",
        "load",
        "parse",
        "render",
        "FlowsimError",
    ):
        assert name in names
    assert names == sorted(flowsim.__all__)


def test_every_public_name_resolves() -> None:
    for name in flowsim.__all__:
        assert getattr(flowsim, name) is not None, name


def test_lazy_names_are_the_type_checking_imports() -> None:
    """Each lazy name is imported for type checkers from the module it is served from."""
    tree = ast.parse((ROOT / "flowsim" / "__init__.py").read_text(encoding="utf-8"))
    typed: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) == "TYPE_CHECKING":
            for stmt in node.body:
                if isinstance(stmt, ast.ImportFrom) and stmt.module != "flowsim.render":
                    typed.update({a.name: str(stmt.module) for a in stmt.names})
    assert typed == flowsim._LAZY


def test_mypy_sees_real_types_in_a_user_script(tmp_path: Path) -> None:
    (tmp_path / "user_script.py").write_text(USER_SCRIPT, encoding="utf-8")
    (tmp_path / "mypy.ini").write_text(MYPY_CONFIG, encoding="utf-8")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--config-file=mypy.ini",
            "--no-incremental",
            "user_script.py",
        ],
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    revealed = [line.split('"')[1] for line in run.stdout.splitlines() if "Revealed type" in line]
    assert revealed == [
        "flowsim.model.Process",
        "flowsim.history.log.DealLog",
        "flowsim.history.metrics.FunnelMetrics",
        "flowsim.history.discover.Discovery",
        "flowsim.sim.result.SimulationResult",
        "flowsim.sim.forecast.Forecast",
        "bytes",
        "str",
    ]
