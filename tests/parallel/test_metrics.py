"""Metrics of a parallel history: a deal's moves inside a block are read per branch.

In time order a deal working legal and validation at once seems to jump between them (legal
-> validation backwards, legal -> sign_off over a stage); read per branch, as conformance
reads it (flowsim.history.branches), each branch's records follow each other and every
branch ends at the join, or where the deal's outcome stopped it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from math import sqrt
from pathlib import Path

import polars as pl
import pytest

import flowsim
from flowsim.history import read_csv
from flowsim.history.metrics import FunnelMetrics, metrics

ROOT = Path(__file__).resolve().parents[2]

PROCESS = """
process "parallel"
stage proposal
stage legal
stage validation
stage sign_off
stage contract
outcome won
outcome lost
proposal -> parallel { legal, validation -> sign_off } -> contract
legal -> lost 10%
legal -> contract
contract -> won 80%
contract -> lost
"""

# An event log (one timestamp per record), hours from 2024-01-01 00:00 UTC:
#   D1 proposal 0, validation 10, legal 12, sign_off 20, contract 40, won 44
#   D2 proposal 0, legal 5, validation 5, lost 30 (legal refused: validation is stopped)
#   D3 proposal 0, legal 2, validation 3, sign_off 50 -> open (legal waits at the join)
LOG = """deal,stage,timestamp
D1,proposal,2024-01-01 00:00
D1,validation,2024-01-01 10:00
D1,legal,2024-01-01 12:00
D1,sign_off,2024-01-01 20:00
D1,contract,2024-01-02 16:00
D1,won,2024-01-02 20:00
D2,proposal,2024-01-01 00:00
D2,legal,2024-01-01 05:00
D2,validation,2024-01-01 05:00
D2,lost,2024-01-02 06:00
D3,proposal,2024-01-01 00:00
D3,legal,2024-01-01 02:00
D3,validation,2024-01-01 03:00
D3,sign_off,2024-01-03 02:00
"""


@pytest.fixture
def funnel(tmp_path: Path) -> FunnelMetrics:
    path = tmp_path / "deals.csv"
    path.write_text(LOG, encoding="utf-8")
    return metrics(read_csv(path), flowsim.parse(PROCESS))


def test_no_skip_and_no_backward_move_inside_the_block(funnel: FunnelMetrics) -> None:
    p = funnel.process
    assert (p.skips, p.backward_moves, p.repeats) == (0, 0, 0)
    assert {s.stage: s.reentries for s in funnel.stages.values()} == dict.fromkeys(
        ["proposal", "legal", "validation", "sign_off", "contract", "won", "lost"], 0
    )
    assert {(t.source, t.target): t.move for t in funnel.transitions} == {
        ("proposal", "legal"): "forward",  # the fork: the first branch record in time
        ("proposal", "validation"): "forward",
        ("legal", "contract"): "forward",  # the legal branch ends at the join
        ("legal", "lost"): "outcome",
        ("validation", "sign_off"): "forward",
        ("sign_off", "contract"): "forward",  # a bare branch end -> the join
        ("contract", "won"): "outcome",
    }


def test_each_branch_stage_exits_along_its_own_branch(funnel: FunnelMetrics) -> None:
    legal, validation = funnel.stages["legal"], funnel.stages["validation"]
    # D3's legal waits for sign-off at the join: it is still open, not an exit
    assert (legal.visits, legal.exits, legal.still_open) == (3, 2, 1)
    assert legal.next_step_conversion == {"contract": 0.5, "lost": 0.5}
    assert legal.leakage == 0.5
    # D2's validation was stopped by legal's refusal: no move, not a leak of validation's
    assert (validation.visits, validation.exits, validation.still_open) == (3, 2, 0)
    assert validation.next_step_conversion == {"sign_off": 1.0}
    assert validation.leakage == 0.0
    assert funnel.stages["sign_off"].still_open == 1
    assert (funnel.header.won, funnel.header.lost, funnel.header.open) == (1, 1, 1)


def test_a_branch_stay_ends_at_its_own_branch_next_record_or_the_join(
    funnel: FunnelMetrics,
) -> None:
    hours = {(t.source, t.target): t.mean_hours for t in funnel.transitions}
    assert hours[("legal", "contract")] == pytest.approx(28.0)  # 12 -> 40, not 12 -> 20
    assert hours[("validation", "sign_off")] == pytest.approx((10 + 47) / 2)
    assert hours[("proposal", "legal")] == pytest.approx((5 + 2) / 2)
    latest = {s: funnel.stages[s].time_latest for s in ("legal", "validation", "sign_off")}
    assert (latest["legal"].n, latest["legal"].mean) == (2, pytest.approx((28 + 25) / 2))
    # D2's cut-short validation has no end of its own: left out, censored at the close
    assert (latest["validation"].n, latest["validation"].mean) == (2, pytest.approx(28.5))
    assert (latest["sign_off"].n, latest["sign_off"].mean) == (1, pytest.approx(20.0))
    km = funnel.survival["validation"]
    assert (km.visits, km.exits, km.censored) == (3, 2, 1)
    assert funnel.stages["legal"].censored_visits == 1  # D3's, at as_of


def test_the_strict_funnel_reads_each_branch_on_its_own(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(LOG, encoding="utf-8")
    strict = metrics(read_csv(path), flowsim.parse(PROCESS), funnel="strict")
    # D1 entered validation before legal: still in order on the validation branch
    reached = {s: strict.stages[s].reached for s in ("legal", "validation", "sign_off")}
    assert reached == {"legal": 3, "validation": 3, "sign_off": 2}
    assert strict.stages["contract"].reached == 1  # after every branch's stages


def flowsim_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowsim.cli", *args], capture_output=True, text=True, check=False
    )


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], Path]:
    """``flowsim simulate`` of examples/language/20-parallel.flow (with arrivals added, the
    example has none), its log through ``flowsim metrics --process``. 8 deals a week keep
    the engineers below capacity (about 70%): an overloaded validation would leave many
    legal stays waiting at the join, open, so the exits seen would over-weight the losses."""
    tmp = tmp_path_factory.mktemp("parallel")
    text = (ROOT / "examples/language/20-parallel.flow").read_text(encoding="utf-8")
    flow = tmp / "parallel.flow"
    flow.write_text(
        text.replace('process "Parallel work"', 'process "Parallel work" { arrivals 8 per week }'),
        encoding="utf-8",
    )
    log = tmp / "deals.csv"
    sim = flowsim_cli("simulate", str(flow), "-n", "1", "--until", "365d", "--seed", "7",
                      "--log-out", str(log), "-q")  # fmt: skip
    assert sim.returncode == 0, sim.stderr
    out = flowsim_cli("metrics", str(log), "--process", str(flow), "--format", "json", "-q")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout), log


def test_a_simulated_parallel_log_agrees_with_its_model(
    simulated: tuple[dict[str, object], Path],
) -> None:
    data, _ = simulated
    process = data["process"]
    assert isinstance(process, dict)
    assert (process["skips"], process["backward_moves"], process["repeats"]) == (0, 0, 0)
    model = flowsim.load(ROOT / "examples/language/20-parallel.flow")
    moves = data["transitions"]
    assert isinstance(moves, list)
    # every observed move is one the model can make (a transition, a fork or a join)
    assert {(t["source"], t["target"]) for t in moves} <= set(model.routes())
    share = {(t["source"], t["target"]): (t["share"], t["count"]) for t in moves}
    assert share[("validation", "sign_off")][0] == 1.0
    assert share[("sign_off", "contract")][0] == 1.0
    for edge, designed in ((("legal", "lost"), 0.1), (("contract", "won"), 0.8)):
        observed, count = share[edge]
        exits = count / observed
        assert abs(observed - designed) <= 3 * sqrt(designed * (1 - designed) / exits), edge


def test_the_validation_to_sign_off_time_against_polars(
    simulated: tuple[dict[str, object], Path],
) -> None:
    """The mean time from validation to sign-off, from the log with polars alone: each deal's
    sign-off entry minus its validation entry (one visit of each per deal here)."""
    data, log = simulated
    iso = "%Y-%m-%dT%H:%M:%S%.f%z"
    frame = pl.read_csv(log).with_columns(pl.col("entered_at").str.to_datetime(iso))
    at = frame.pivot(on="stage", index="deal", values="entered_at", aggregate_function="first")
    both = at.filter(pl.col("validation").is_not_null() & pl.col("sign_off").is_not_null())
    hours = (both["sign_off"] - both["validation"]).dt.total_microseconds() / 3.6e9
    moves = data["transitions"]
    assert isinstance(moves, list)
    move = next(t for t in moves if (t["source"], t["target"]) == ("validation", "sign_off"))
    assert move["count"] == both.height
    assert move["mean_hours"] == pytest.approx(hours.mean(), abs=5e-5)  # JSON: 4 decimals


def test_without_left_at_a_branch_stay_still_ends_at_its_own_branch(
    simulated: tuple[dict[str, object], Path], tmp_path: Path
) -> None:
    """The simulated log as an event log (``left_at`` dropped): validation's stay now ends at
    its branch's next record, sign-off, which the engine enters when validation is left, so
    its times are those of the validation -> sign-off moves (in time order they ended at
    legal's record: a median of 0.0 days instead of 1.0). The stays legal's refusal cut short
    have no end of their own here, and are left out."""
    data, log = simulated
    events = tmp_path / "events.csv"
    pl.read_csv(log).drop("left_at", "started_at").write_csv(events)
    model = flowsim.load(ROOT / "examples/language/20-parallel.flow")
    funnel = metrics(read_csv(events), model)
    moves = data["transitions"]
    assert isinstance(moves, list)
    move = next(t for t in moves if (t["source"], t["target"]) == ("validation", "sign_off"))
    mine = funnel.stages["validation"].time_latest
    # effort 1d; most deals find an engineer free
    assert (mine.n, mine.median) == (move["count"], 24.0)
    assert mine.mean == pytest.approx(move["mean_hours"], abs=5e-5)
    assert funnel.process.skips == funnel.process.backward_moves == 0
