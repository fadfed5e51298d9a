"""One exception root: ``except flowsim.FlowsimError`` catches every refusal of bad input.

Each exception keeps the built-in base it had, so code that caught ``ValueError``,
``KeyError`` or ``RuntimeError`` still does.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from pathlib import Path
from typing import Any

import pydantic
import pytest

import flowsim
from flowsim._base import FlowsimModel
from flowsim.errors import FlowsimError, ModelError, UnknownScenario
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
        ({"color_by": "dwell"}, "color_by needs an overlay (the figures to colour by)"),
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


def _public_models() -> list[type[FlowsimModel]]:
    """Every pydantic model class ``flowsim`` exports (lazy names included)."""
    values = (getattr(flowsim, name) for name in flowsim.__all__)
    return [v for v in values if isinstance(v, type) and issubclass(v, pydantic.BaseModel)]


def _breakable_field(cls: type[pydantic.BaseModel]) -> str:
    """The first field that refuses an arbitrary object (any field not typed ``Any``)."""
    return next(name for name, f in cls.model_fields.items() if f.annotation is not Any)


def test_every_exported_model_is_a_flowsim_model() -> None:
    models = _public_models()
    assert {"Process", "Stage", "Calendar", "Diagnostic", "SimulationResult"} <= {
        m.__name__ for m in models
    }
    assert all(issubclass(m, FlowsimModel) for m in models)


@pytest.mark.parametrize("cls", _public_models(), ids=lambda c: c.__name__)
def test_a_model_built_by_hand_with_a_bad_value_raises_a_flowsim_error(
    cls: type[pydantic.BaseModel],
) -> None:
    field = _breakable_field(cls)
    for build in (lambda: cls(**{field: object()}), lambda: cls.model_validate({field: object()})):
        with pytest.raises(FlowsimError) as caught:
            build()
        err = caught.value
        assert isinstance(err, ModelError) and isinstance(err, ValueError)
        assert not isinstance(err, pydantic.ValidationError)
        assert str(err).startswith(f"{cls.__name__}: ")
        assert f"{field}: " in str(err)  # the field path, then pydantic's reason
        assert field in [e["loc"][0] for e in err.errors()]  # pydantic's structured errors
    with pytest.raises(ModelError, match=f"^{cls.__name__}: Invalid JSON"):
        cls.model_validate_json("{")


def test_the_field_path_reaches_into_nested_models() -> None:
    process = flowsim.load(Path("examples/b2b-cn.flow"))
    data = process.model_dump()
    data["stages"][1]["id"] = "2nd"
    with pytest.raises(ModelError) as caught:
        flowsim.Process.model_validate(data)
    assert str(caught.value).startswith("Process: stages.1.id: Value error, '2nd' is not an")
    assert caught.value.errors()[0]["loc"] == ("stages", 1, "id")
    assert caught.value.error_count() == 1


def test_a_frozen_model_refuses_assignment_with_a_flowsim_error() -> None:
    calendar = flowsim.Calendar(days=(0, 1), windows=({"start": 540, "end": 1080},))
    with pytest.raises(ModelError, match=r"^Calendar: days: Instance is frozen$"):
        calendar.days = (2,)  # type: ignore[misc]


def test_many_problems_are_listed_five_at_a_time() -> None:
    with pytest.raises(ModelError) as caught:
        flowsim.Process.model_validate({f"x{i}": i for i in range(8)})
    assert caught.value.error_count() > 5
    assert str(caught.value).endswith(f"and {caught.value.error_count() - 5} more")
