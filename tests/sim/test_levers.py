"""One-step what-ifs: only levers a manager can pull, within a budget, ranked by an objective."""

from __future__ import annotations

from pathlib import Path

import pytest

import flowsim
from flowsim.model import Process
from flowsim.sim.bottlenecks import (
    OBJECTIVES,
    BottleneckReport,
    bottlenecks,
    check_objective,
    default_objective,
    forward_moves,
    gain,
    plan_levers,
    rework_moves,
    suggestions,
)
from flowsim.sim.result import SimulationResult

ROOT = Path(__file__).resolve().parents[2]
B2B = ROOT / "examples" / "b2b-cn.flow"
SAAS = ROOT / "examples" / "saas-en.flow"

# A funnel whose words hide losses in stages: `declined` is a stage (as discovery makes of
# BPIC's A_DECLINED), `cancelled` too, and `parked` an outcome that is neither won nor lost.
# `clerk` owns no stage at all; `greeter` owns only a stage without effort.
FUNNEL = """
process "levers" {
  arrivals 30 per week
}
role rep "Rep" headcount 2
role clerk "Clerk" headcount 1
role greeter "Greeter" headcount 1
stage intake { owner greeter }
stage review {
  owner rep
  effort triangular(1h, 2h, 4h)
  wait exponential(mean 2d)
}
stage declined { owner rep  effort triangular(0.1h, 0.2h, 0.5h) }
stage cancelled { owner rep }
outcome won
outcome lost
outcome parked "Parked (no result)"
intake -> review 70%
intake -> declined 20%
intake -> parked
review -> lost 30%
review -> review 20% "rework"
review -> cancelled 10%
review -> won
declined -> lost
cancelled -> lost
"""


def funnel() -> Process:
    checked = flowsim.check_text(FUNNEL)
    assert checked.process is not None and checked.ok, checked.render()
    return checked.process


def test_a_lever_into_a_lost_outcome_or_a_losing_stage_is_never_proposed() -> None:
    process = funnel()
    moves = {(s, t) for s, t, _ in forward_moves(process)}
    assert moves == {("intake", "review"), ("review", "won")}
    names = [lv.scenario.name for lv in plan_levers(process).levers]
    for bad in ("->lost", "->declined", "->cancelled", "->parked"):
        assert not any(bad in n and "+5pt" in n for n in names), (bad, names)
    assert "intake->review +5pt" in names and "review->won +5pt" in names


def test_a_forward_move_that_takes_its_share_from_a_better_one_is_not_offered() -> None:
    # raising review -> design takes share from review -> won (the remainder absorbs it):
    # it looks forward but wins fewer deals, so it is no lever
    text = """
process "steal" {
  arrivals 10 per week
}
stage review { effort triangular(1h, 2h, 3h) }
stage design { effort triangular(1h, 2h, 3h) }
outcome won
outcome lost
review -> design 30%
review -> lost 20%
review -> won
design -> won 10%
design -> lost
"""
    checked = flowsim.check_text(text)
    assert checked.process is not None and checked.ok, checked.render()
    moves = {(s, t) for s, t, _ in forward_moves(checked.process)}
    assert moves == {("review", "won"), ("design", "won")}


def test_rework_levers_cut_loops_only() -> None:
    # the cut goes where the scenario rules send it (here the remainder, review -> won)
    assert [(s, t) for s, t, _ in rework_moves(funnel())] == [("review", "review")]
    names = [lv.scenario.name for lv in plan_levers(funnel()).levers]
    assert "review->review -5pt" in names
    # a loop whose cut would go to a loss is no lever: the same funnel, lost the remainder
    worse = FUNNEL.replace("review -> lost 30%", "review -> won 40%").replace(
        "review -> won\n", "review -> lost\n"
    )
    checked = flowsim.check_text(worse)
    assert checked.process is not None and checked.ok, checked.render()
    assert rework_moves(checked.process) == []


def test_only_roles_that_own_work_get_a_person() -> None:
    plan = plan_levers(funnel())
    capacity = [lv.scenario.name for lv in plan.levers if lv.kind == "capacity"]
    assert capacity == ["+1 rep"]
    assert plan.idle_roles == ["clerk", "greeter"]


def test_a_budget_takes_the_kinds_in_turn_and_lists_the_rest() -> None:
    process = funnel()
    everything = plan_levers(process)
    plan = plan_levers(process, budget=3)
    assert [lv.kind for lv in plan.levers] == ["capacity", "effort", "conversion"]
    assert plan.not_tried == [lv.scenario.name for lv in everything.levers[3:]]
    assert len(plan.levers) + len(plan.not_tried) == len(everything.levers)
    assert plan_levers(process, budget=0).levers == []


def test_a_replay_leaves_the_moves_out() -> None:
    kinds = {lv.kind for lv in plan_levers(funnel(), replay=True).levers}
    assert kinds == {"capacity", "effort", "wait"}


def test_the_default_objective_follows_the_model() -> None:
    process = funnel()
    report, result = bottlenecks(process, suggest=True, replications=2, until=60 * 24, seed=1)
    assert default_objective(result, process) == "won"  # no amounts
    assert report.objective == "won"
    saas = flowsim.check_file(SAAS).process
    assert saas is not None and saas.amount is not None
    _, with_amounts = bottlenecks(saas, replications=2, until=60 * 24, seed=1)
    assert default_objective(with_amounts, saas) == "revenue"
    nothing_wins = process.model_copy(
        update={
            "outcomes": tuple(o.model_copy(update={"result": "lost"}) for o in process.outcomes)
        }
    )
    assert default_objective(result, nothing_wins) == "cycle"


def test_an_objective_the_run_cannot_measure_is_refused() -> None:
    with pytest.raises(ValueError, match="needs deal amounts"):
        check_objective("revenue", funnel())
    with pytest.raises(ValueError, match="no objective 'speed'"):
        check_objective("speed", funnel())
    check_objective("won", funnel())
    check_objective(None, funnel())
    saas = flowsim.check_file(SAAS).process
    assert saas is not None and saas.amount is not None
    check_objective("revenue", saas)
    lost = tuple(o.model_copy(update={"result": "lost"}) for o in saas.outcomes)
    with pytest.raises(ValueError, match="needs a won outcome"):
        check_objective("revenue", saas.model_copy(update={"outcomes": lost}))
    check_objective("cycle", saas.model_copy(update={"outcomes": lost}))


@pytest.fixture(scope="module")
def saas_run() -> tuple[BottleneckReport, SimulationResult]:
    saas = flowsim.check_file(SAAS).process
    assert saas is not None
    return bottlenecks(
        saas, suggest=True, objective="cycle", budget=8, replications=3, until=120 * 24, seed=3
    )


@pytest.mark.parametrize("objective", list(OBJECTIVES))
def test_the_ranking_follows_the_objective(
    objective: str, saas_run: tuple[BottleneckReport, SimulationResult]
) -> None:
    report, result = saas_run
    assert report.objective == "cycle"
    names = [s.name for s in report.suggestions]
    ranked = suggestions(result, names, objective)
    kpi, sign = OBJECTIVES[objective]
    gains = [gain(s.objective, objective) for s in ranked]
    assert all(g is not None for g in gains)
    assert gains == sorted(gains, reverse=True)  # type: ignore[type-var]
    # each figure is the paired delta of the simulation, not a copy of another KPI
    for s in ranked:
        delta = result.scenario(s.name).deltas[kpi]
        assert s.objective == delta
        assert gain(s.objective, objective) == sign * delta.mean
        assert s.significant == (delta.significant and sign * delta.mean > 0)
    if objective == "cycle":
        assert [s.name for s in ranked] == names  # what bottlenecks() ranked by


def test_revenue_and_cycle_rank_the_what_ifs_differently(
    saas_run: tuple[BottleneckReport, SimulationResult],
) -> None:
    # shorter cycles and more money are different goals: a conversion lever wins more deals
    # (more revenue) but keeps them in the funnel longer
    report, result = saas_run
    names = [s.name for s in report.suggestions]
    by_revenue = [s.name for s in suggestions(result, names, "revenue")]
    assert by_revenue != names
    assert by_revenue[0].endswith("+5pt")


def test_bpic_levers_on_its_discovered_model(tmp_path: Path) -> None:
    """BPIC 2012: no lever into a declined or cancelled application, +1 only where work is.

    The owners of stages with effort are read from the written .flow text with a regex,
    independently of the model's objects.
    """
    import re
    import subprocess
    import sys

    from tests.data import DATA

    flow = tmp_path / "bpic.flow"
    exe = Path(sys.executable).parent / "flowsim"
    d = subprocess.run(
        [str(exe), "discover", str(DATA / "bpic2012" / "bpic2012.xes.gz"), "-o", str(flow)],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert d.returncode == 0, d.stderr
    text = flow.read_text(encoding="utf-8")
    blocks = re.findall(r"^stage (\S+)[^{]*\{(.*?)^\}", text, re.M | re.S)
    working = {
        m.group(1)
        for _, body in blocks
        if "effort " in body and (m := re.search(r"owner (\S+)", body)) is not None
    }
    roles = set(re.findall(r"^role (\S+)", text, re.M))
    process = flowsim.check_file(flow).process
    assert process is not None
    plan = plan_levers(process)
    capacity = {lv.scenario.name.removeprefix("+1 ") for lv in plan.levers if lv.kind == "capacity"}
    assert working and capacity == working and set(plan.idle_roles) == roles - working
    raised = [lv.scenario.name for lv in plan.levers if lv.kind == "conversion"]
    assert raised, "BPIC has forward moves"
    for name in raised:
        target = name.split("->")[1].removesuffix(" +5pt")
        assert not re.search(r"DECLINED|CANCELLED", target), name
        outcome = next((o for o in process.outcomes if o.id == target), None)
        assert outcome is None or outcome.result == "won", name
