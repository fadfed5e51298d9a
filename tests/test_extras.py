"""Optional dependencies: the core install is light, and a missing extra says how to get it.

``pyproject.toml`` declares the extras; :data:`flowsim._extras.EXTRAS` says which module each
installs. Each feature is tried here with its module hidden (as if not installed): it must
raise :class:`~flowsim._extras.MissingExtra` naming ``pip install 'flowsim[...]'``, and the
CLI must print that and exit 2, never a traceback.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet

import flowsim
from flowsim._extras import EXTRAS, MissingExtra
from flowsim.cli import main
from flowsim.dsl import syntax

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
EXAMPLE = ROOT / "examples" / "b2b-cn.flow"
DISTRIBUTION = {"psycopg": "psycopg", "distributed": "distributed"}  # module -> dist name


def _names(requirements: list[str]) -> set[str]:
    return {Requirement(r).name for r in requirements}


def _hide(monkeypatch: pytest.MonkeyPatch, module: str) -> None:
    """Make ``import module`` fail as if it were not installed (restored after the test)."""
    for name in [m for m in sys.modules if m == module or m.startswith(module + ".")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, module, None)


def test_every_optional_module_is_installed_by_its_extra_and_by_all() -> None:
    extras = PROJECT["optional-dependencies"]
    for module, extra in EXTRAS.items():
        assert DISTRIBUTION.get(module, module) in _names(extras[extra]), module
    features = set().union(*(_names(extras[e]) for e in set(EXTRAS.values())))
    assert _names(extras["all"]) == features


def test_the_core_install_holds_no_optional_dependency() -> None:
    optional = _names(PROJECT["optional-dependencies"]["all"])
    assert not _names(PROJECT["dependencies"]) & optional


def test_excel_without_openpyxl_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _hide(monkeypatch, "openpyxl")
    book = tmp_path / "deals.xlsx"
    book.write_bytes(b"not read")
    with pytest.raises(MissingExtra, match=re.escape("pip install 'flowsim[excel]'")):
        flowsim.read_log(book)
    result = CliRunner().invoke(main, ["metrics", str(book)])
    assert result.exit_code == 2
    assert "reading .xlsx deal logs needs openpyxl: pip install 'flowsim[excel]'" in result.output
    assert "Traceback" not in result.output


def test_png_journey_without_cairosvg_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    _hide(monkeypatch, "cairosvg")
    out = tmp_path / "journey.png"
    result = CliRunner().invoke(main, ["render", str(EXAMPLE), "--view", "journey", "-o", str(out)])
    assert result.exit_code == 2, result.output
    assert "pip install 'flowsim[png]'" in result.output


def test_studio_without_its_server_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in [m for m in sys.modules if m.startswith("flowsim.studio")]:
        monkeypatch.delitem(sys.modules, name)
    _hide(monkeypatch, "starlette")
    result = CliRunner().invoke(main, ["studio", str(tmp_path / "new.flow")])
    assert result.exit_code == 2, result.output
    assert "flowsim studio needs starlette: pip install 'flowsim[studio]'" in result.output


def test_pandas_views_without_pandas_name_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    log = flowsim.read_log(ROOT / "examples" / "history" / "b2b-cn-deals.csv")
    _hide(monkeypatch, "pandas")
    with pytest.raises(MissingExtra, match=re.escape("pip install 'flowsim[pandas]'")):
        log.to_pandas()
    funnel = flowsim.metrics(log)
    with pytest.raises(MissingExtra, match=re.escape("FunnelMetrics.to_pandas()")):
        funnel.to_pandas()
    assert funnel.to_frame().height == len(funnel.stages)  # polars: a core dependency


def test_the_installed_lark_is_in_the_range_the_parser_is_tested_with() -> None:
    import lark

    pinned = next(Requirement(r) for r in PROJECT["dependencies"] if r.startswith("lark"))
    assert pinned.specifier == SpecifierSet(syntax.LARK_TESTED)
    assert lark.__version__ in pinned.specifier


def test_an_incompatible_lark_fails_loudly_with_the_version_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Reshaped:  # a Lark whose internals moved
        parser: Any = None
        options: Any = None

    monkeypatch.setattr(syntax, "_lark", Reshaped)
    syntax._table.cache_clear()
    try:
        with pytest.raises(
            syntax.LarkVersionError, match=re.escape("pip install 'lark>=1.2,<1.4'")
        ):
            syntax._table()
    finally:
        syntax._table.cache_clear()


def test_the_core_commands_run_with_every_extra_missing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for module in EXTRAS:
        _hide(monkeypatch, module)
    history = ROOT / "examples" / "history" / "b2b-cn-deals.csv"
    runner = CliRunner()
    for args in (
        ["check", str(EXAMPLE)],
        ["render", str(EXAMPLE), "-o", str(tmp_path / "flow.svg"), "-q"],
        ["render", str(EXAMPLE), "--view", "journey", "-o", str(tmp_path / "map.svg"), "-q"],
        ["metrics", str(history), "-q"],
        ["simulate", str(EXAMPLE), "-n", "2", "--seed", "1", "-q"],
    ):
        result = runner.invoke(main, args)
        assert result.exit_code in (0, 1), (args, result.output)
        assert "pip install 'flowsim[" not in result.output, args
        assert "internal error" not in result.output, args
