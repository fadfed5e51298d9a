"""One exception root: ``except flowsim.FlowsimError`` catches every refusal of bad input.

Each exception keeps the built-in base it had, so code that caught ``ValueError``,
``KeyError`` or ``RuntimeError`` still does.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path

import pydantic
import pytest

import flowsim
from flowsim.errors import FlowsimError, UnknownScenario
from flowsim.render import RenderError

#: not errors: the studio's signal that the user cancelled a what-if run
NOT_ERRORS = {"flowsim.studio.whatif.Cancelled"}


def _exceptions() -> dict[str, type[BaseException]]:
    """Every public exception class defined in flowsim, by dotted name."""
    found: dict[str, type[BaseException]] = {}
    for info in pkgutil.walk_packages(flowsim.__path__, "flowsim."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == info.name
                and not name.startswith("_")
            ):
                found[f"{info.name}.{name}"] = value
    return found


def test_every_public_exception_derives_from_the_root() -> None:
    found = _exceptions()
    assert len(found) >= 19  # 16 on main before the root, the root, UnknownScenario, RenderError
    outside = sorted(n for n, cls in found.items() if not issubclass(cls, FlowsimError))
    assert outside == sorted(NOT_ERRORS)


@pytest.mark.parametrize(
    ("name", "base"),
    [
        ("flowsim.history.subset.FilterError", ValueError),
        ("flowsim.render.theme.ThemeError", ValueError),
        ("flowsim.report.style.ChartError", ValueError),
        ("flowsim.sim.replay.UnknownStages", ValueError),
        ("flowsim.studio.whatif.RunError", ValueError),
        ("flowsim.render.graphviz.GraphvizError", RuntimeError),
        ("flowsim.render.options.RenderError", ValueError),
        ("flowsim.errors.UnknownScenario", KeyError),
        ("flowsim.history.distances.UnknownMeasure", KeyError),
        ("flowsim._extras.MissingExtra", ImportError),
        ("flowsim._output.OutputError", OSError),
        ("flowsim.model.DurationError", ValueError),
    ],
)
def test_exceptions_keep_the_base_users_catch(name: str, base: type[Exception]) -> None:
    module, _, cls = name.rpartition(".")
    assert issubclass(getattr(importlib.import_module(module), cls), base)


def test_the_root_and_its_family_are_public() -> None:
    for name in ("FlowsimError", "FlowError", "LogError", "RenderError", "UnknownScenario"):
        assert name in flowsim.__all__
        assert issubclass(getattr(flowsim, name), FlowsimError)


def test_bad_flow_text_and_bad_logs_are_caught_by_the_root(tmp_path: Path) -> None:
    with pytest.raises(FlowsimError, match="E102"):
        flowsim.parse("stage a\na -> nowhere\n")
    log = tmp_path / "deals.csv"
    log.write_text("deal,stage,timestamp\n", encoding="utf-8")
    with pytest.raises(FlowsimError, match="no data rows"):
        flowsim.read_log(log)


def test_an_unknown_scenario_names_the_known_ones(b2b_path: Path) -> None:
    process = flowsim.load(b2b_path)
    with pytest.raises(UnknownScenario) as caught:
        process.with_scenario("nope")
    err = caught.value
    assert isinstance(err, KeyError) and isinstance(err, FlowsimError)
    # the message itself, not KeyError's quoted repr
    assert str(err) == "no scenario named 'nope' (known: '增加两名售前', '方案提速30%')"
    assert (err.name, err.known) == ("nope", ("增加两名售前", "方案提速30%"))


def test_an_unknown_scenario_of_a_simulation_result(b2b_path: Path) -> None:
    process = flowsim.load(b2b_path)
    result = flowsim.simulate(process, replications=2, until=24 * 60, keep_log=False)
    with pytest.raises(UnknownScenario, match=r"no scenario named 'x' in this result \(known: '"):
        result.scenario("x")
    with pytest.raises(UnknownScenario, match="no scenario named 'x'"):
        flowsim.simulate(process, scenarios=["x"], replications=1, until=24.0)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"view": "jurney"}, "unknown view 'jurney' (expected 'flowchart' or 'journey')"),
        ({"format": "gif"}, "unknown format 'gif' (expected 'svg', 'png', 'pdf', 'dot',"),
        ({"veiw": "journey"}, "unknown option 'veiw' (options: view, format, theme,"),
        ({"view": "journey", "format": "dot"}, "the journey map is drawn directly as SVG"),
    ],
)
def test_a_bad_render_request_is_a_render_error(
    b2b_path: Path, options: dict[str, str], message: str
) -> None:
    process = flowsim.load(b2b_path)
    with pytest.raises(RenderError) as caught:
        flowsim.render(process, **options)
    assert str(caught.value).startswith(message)
    assert not isinstance(caught.value, pydantic.ValidationError)
    assert isinstance(caught.value, ValueError)  # as pydantic's error was
