"""Kaplan–Meier building blocks: the ``Steps`` sequence and the one-pass estimator."""

from __future__ import annotations

import copy
import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.history.metrics import StageSurvival
from flowsim.history.survival import Steps, competing_risks, cumulative_incidence, kaplan_meier


def test_steps_behave_as_the_list_they_replace() -> None:
    s = Steps([1.0, 2.5, 3.0])
    assert s == [1.0, 2.5, 3.0] and s == (1.0, 2.5, 3.0)
    assert s != [1.0, 2.5] and s != [1.0, 2.5, 4.0]
    assert list(s) == [1.0, 2.5, 3.0] and len(s) == 3
    assert s[1] == 2.5 and isinstance(s[1], float) and s[-1] == 3.0
    assert s[1:] == [2.5, 3.0] and isinstance(s[1:], Steps)
    assert s == pytest.approx([1.0, 2.5, 3.0])
    assert pickle.loads(pickle.dumps(s)) == s and copy.deepcopy(s) == s
    assert hash(s) == hash(Steps((1.0, 2.5, 3.0)))
    assert "n=20" in repr(Steps(np.arange(20.0)))


def test_steps_are_immutable_and_share_no_caller_array() -> None:
    values = np.array([1.0, 2.0])
    s = Steps(values)
    values[0] = 9.0  # the caller's array is not the one held
    assert s == [1.0, 2.0]
    with pytest.raises(ValueError, match="read-only"):
        np.asarray(s)[0] = 5.0
    with pytest.raises(ValueError, match="flat"):
        Steps([[1.0, 2.0]])


def test_stage_survival_serialises_steps_as_json_lists_and_reads_them_back() -> None:
    ss = StageSurvival(
        visits=2,
        exits=2,
        censored=0,
        median_hours=1.0,
        times_hours=[1.0, 2.0],
        survival=[0.5, 0.0],
        p_advance=1.0,
        p_lost=0.0,
        p_unknown=0.0,
        p_still=0.0,
    )
    assert isinstance(ss.times_hours, Steps)
    assert ss.model_dump()["times_hours"] == [1.0, 2.0]
    assert '"survival":[0.5,0.0]' in ss.model_dump_json()
    assert StageSurvival.model_validate_json(ss.model_dump_json()) == ss
    schema = StageSurvival.model_json_schema()["properties"]["survival"]
    assert schema["type"] == "array" and schema["items"] == {"type": "number"}
    assert ss.at(0.5) == 1.0 and ss.at(1.5) == 0.5


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 40), st.integers(0, 3)),  # small integer times: many ties
        min_size=1,
        max_size=200,
    )
)
def test_one_pass_estimator_equals_the_two_estimators(visits: list[tuple[int, int]]) -> None:
    t = np.array([v[0] for v in visits], dtype=np.int64)
    cause = np.array([v[1] for v in visits], dtype=np.int64)
    order = np.argsort(t, kind="stable")
    curve, incidence, still = competing_risks(t[order], cause[order], 3, unit=2.0)
    km = kaplan_meier(t / 2.0, cause > 0)
    assert curve.times.tolist() == km.times.tolist()
    assert curve.survival.tolist() == pytest.approx(km.survival.tolist(), rel=1e-12)
    cif = cumulative_incidence(t / 2.0, np.array(["", "a", "b", "c"])[cause], ["a", "b", "c"])
    assert incidence.tolist() == pytest.approx([cif["a"], cif["b"], cif["c"]], abs=1e-12)
    assert still == pytest.approx(cif["still"], abs=1e-12)
    assert sum(incidence) + still == pytest.approx(1.0, abs=1e-12)
