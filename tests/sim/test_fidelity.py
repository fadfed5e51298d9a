"""Fidelity as the papers measure it (issue 14): like-for-like logs, an explicit hold-out,
replayed arrivals, and a noise floor that does not raise false alarms."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import flowsim
from flowsim.history import DealLog
from flowsim.history.distances import end_time_split, n_gram_distance
from flowsim.history.log import SCHEMA, ImportReport
from flowsim.model import LogNormal
from flowsim.sim.engine import Settings, run_once
from flowsim.sim.fidelity import fidelity, like_history
from flowsim.sim.simulate import event_log, simulate
from tests.conftest import EXAMPLES

MONDAY = datetime(2024, 1, 1, tzinfo=UTC)

#: a model with no randomness at all: a deal a day, one hour in a, one hour in b, then done
TINY = """\
process "tiny" {
  arrivals every 24h
}
stage a {
  wait 1h
}
stage b {
  wait 1h
}
outcome done
a -> b
b -> done
"""


def tiny_history(days: int, *, outcome_rows: bool) -> DealLog:
    """What the tiny model produces, written by hand: deal k arrives at day k + 1."""
    rows = []
    for k in range(days):
        t = MONDAY + timedelta(days=k + 1)
        rows.append((f"D{k}", "a", t, t + timedelta(hours=1)))
        rows.append((f"D{k}", "b", t + timedelta(hours=1), t + timedelta(hours=2)))
        if outcome_rows:
            rows.append((f"D{k}", "done", t + timedelta(hours=2), t + timedelta(hours=2)))
    frame = pl.DataFrame(
        {
            "deal": [r[0] for r in rows],
            "stage": [r[1] for r in rows],
            "entered_at": [r[2] for r in rows],
            "left_at": [r[3] for r in rows],
            "started_at": [None] * len(rows),
            "owner": [None] * len(rows),
            "amount": [None] * len(rows),
            "source_row": list(range(1, len(rows) + 1)),
        },
        schema=SCHEMA,
    )
    n = len(rows)
    return DealLog(frame, ImportReport(source="tiny", format="csv", rows_read=n, rows_used=n))


def tiny_run(days: int) -> DealLog:
    process = flowsim.parse(TINY)
    run = run_once(process, Settings(epoch=MONDAY, until=days * 24.0 + 3, keep_log=True), 0, 0)
    return event_log(run, MONDAY, "tiny")


def test_a_history_without_outcome_rows_gets_a_simulated_log_without_them() -> None:
    """The simulated log writes a `done` row per deal; the history has none: like for like
    drops them, and the n-gram distance falls from 5/9 (2 of 4 history 3-grams per deal
    shared, of 5 simulated ones) to 0."""
    process = flowsim.parse(TINY)
    history = tiny_history(10, outcome_rows=False)
    simulated = tiny_run(10)
    assert simulated.frame.filter(pl.col("stage") == "done").height == 10
    assert n_gram_distance(history, simulated) == pytest.approx(5 / 9)
    alike = like_history(simulated, history, process)
    assert set(alike.frame["stage"]) == {"a", "b"}
    assert alike.frame.height == 20
    assert n_gram_distance(history, alike) == 0.0


def test_a_history_with_outcome_rows_keeps_them() -> None:
    process = flowsim.parse(TINY)
    history = tiny_history(10, outcome_rows=True)
    simulated = tiny_run(10)
    alike = like_history(simulated, history, process)
    assert alike.frame.filter(pl.col("stage") == "done").height == 10
    assert n_gram_distance(history, alike) == 0.0


def test_a_stage_change_export_of_dates_gets_instants_at_dates() -> None:
    """A CRM export records the date a deal entered each stage: no ends, no starts of work,
    no time of day. The simulated stays (a at 0-1 h, b at 1-2 h after a day's midnight)
    become instants at their entry date, like the history's rows."""
    process = flowsim.parse(TINY)
    history = tiny_history(10, outcome_rows=True)
    history = history.derive(
        history.frame.with_columns(
            pl.col("entered_at").dt.truncate("1d"), pl.lit(None, SCHEMA["left_at"]).alias("left_at")
        )
    )
    simulated = tiny_run(10)
    assert simulated.frame["left_at"].null_count() == 0
    alike = like_history(simulated, history, process)
    f = alike.frame
    assert f["left_at"].null_count() == f["started_at"].null_count() == f.height == 30
    days = [MONDAY + timedelta(days=k + 1) for k in range(10)]
    assert sorted(set(f["entered_at"].to_list())) == days
    # Read in Shanghai, the history's times are 08:00 there, yet all at one time of day
    # (00:00 UTC): dates all the same, read in another zone; so the simulated times are too
    same = like_history(simulated, history, process, tz="Asia/Shanghai")
    assert same.frame.equals(f)
    # dates read in Shanghai (16:00 UTC the day before) and measured on UTC's clock
    local = history.derive(history.frame.with_columns(pl.col("entered_at") - timedelta(hours=8)))
    moved = like_history(simulated, local, process).frame["entered_at"]
    assert set(moved.dt.hour()) == {16}
    assert sorted(set(moved.to_list())) == [d - timedelta(hours=8) for d in days]


def test_a_model_that_is_its_history_is_at_distance_zero_on_every_measure() -> None:
    """Explicit hold-out, arrivals replayed: the deterministic model reproduces the last
    four days exactly, so every measure is 0 (the synthetic `done` rows are not compared).
    The split: 24 instances, the first 15 (65%) train, so deal D7 (its `a` before the cut,
    its `b` after) is dropped."""
    process = flowsim.parse(TINY)
    history = tiny_history(12, outcome_rows=False)
    train, test = end_time_split(history, 0.65)
    assert (train.deals, test.deals) == (7, 4)
    result = fidelity(process, train, test=test, arrivals="replay", replications=2)
    assert {m.name: m.model for m in result.measures if m.model} == {}
    assert result.trusted
    assert (result.train_deals, result.holdout_deals, result.arrivals) == (7, 4, "replay")
    # The model's own arrivals start one interval (24 h) after the test's first deal, and
    # the run ends with the test's last instant: 3 deals at 24, 48, 72 h against 4 at 0, 24,
    # 48, 72 h. Case arrival distance: 1/4 x 24 + (1/2 - 1/3) x 24 + (3/4 - 2/3) x 24 = 12 h.
    sampled = fidelity(process, train, test=test, arrivals="model", replications=2)
    got = {m.name: m.model for m in sampled.measures}
    assert got["case_arrival_distribution_distance"] == pytest.approx(12.0)
    assert got["relative_event_distribution_distance"] == 0.0


#: one person, one hour of work per stage; after `a` the customer takes two hours
WORK = """\
process "work" {
  arrivals every 24h
}
role r headcount 1
stage a {
  owner r
  effort 1h
  wait 2h
}
stage b {
  owner r
  effort 1h
}
outcome done
a -> b
b -> done
"""


def work_history(days: int) -> DealLog:
    """Activity instances start -> complete: `a` 0-1 h and `b` 3-4 h after each arrival."""
    hours = [(f"D{k}", st, 24.0 * (k + 1) + s, 24.0 * (k + 1) + e) for k in range(days)
             for st, s, e in (("a", 0.0, 1.0), ("b", 3.0, 4.0))]  # fmt: skip
    frame = pl.DataFrame(
        {
            "deal": [h[0] for h in hours],
            "stage": [h[1] for h in hours],
            "entered_at": [MONDAY + timedelta(hours=h[2]) for h in hours],
            "left_at": [MONDAY + timedelta(hours=h[3]) for h in hours],
            "started_at": [MONDAY + timedelta(hours=h[2]) for h in hours],
            "owner": ["ann"] * len(hours),
            "amount": [None] * len(hours),
            "source_row": list(range(1, len(hours) + 1)),
        },
        schema=SCHEMA,
    )
    n = len(hours)
    return DealLog(frame, ImportReport(source="work", format="csv", rows_read=n, rows_used=n))


def test_work_spans_compare_start_to_complete_on_both_sides() -> None:
    """A simulated stay of `a` runs 0-3 h (work, then the customer); its work 0-1 h. The
    history records instances 0-1 h and 3-4 h. As stays, the relative instants are
    {0, 3, 3, 4} against {0, 1, 3, 4}: a distance of 1/4 x 2 h = 0.5 h; as work, 0."""
    process = flowsim.parse(WORK)
    history = work_history(10)
    train, test = end_time_split(history, 0.6)
    got = {}
    for spans in ("stay", "work"):
        result = fidelity(process, train, test=test, arrivals="replay", spans=spans)
        got[spans] = {m.name: m.model for m in result.measures}
    assert got["stay"]["relative_event_distribution_distance"] == pytest.approx(0.5)
    assert got["work"]["relative_event_distribution_distance"] == 0.0
    assert got["work"]["n_gram_distance"] == 0.0
    assert got["work"]["cycle_time_distribution_distance"] == 0.0


def test_replayed_arrivals_over_the_whole_history() -> None:
    """Without `test`, replay sends in every deal of the history at its real time; the
    deals arriving in the hold-out (the later half, 6 of 12) are compared: all at 0."""
    process = flowsim.parse(TINY)
    result = fidelity(process, tiny_history(12, outcome_rows=False), arrivals="replay")
    assert (result.train_deals, result.holdout_deals) == (6, 6)
    assert {m.name: m.model for m in result.measures if m.model} == {}


def test_end_time_split_drops_the_deals_it_cuts() -> None:
    """Instances by end: D0 ends at 2 h, D1's `a` at 25 h and `b` at 50 h, D2 at 49-50 h.
    Of 5 instances the first 60% (3) are train: D0's two and D1's `a`; D1 is cut."""
    rows = [
        ("D0", "a", 0, 1), ("D0", "b", 1, 2),
        ("D1", "a", 24, 25), ("D1", "b", 49, 50),
        ("D2", "a", 48, 49.5),
    ]  # fmt: skip
    frame = pl.DataFrame(
        {
            "deal": [r[0] for r in rows],
            "stage": [r[1] for r in rows],
            "entered_at": [MONDAY + timedelta(hours=r[2]) for r in rows],
            "left_at": [MONDAY + timedelta(hours=r[3]) for r in rows],
            "started_at": [None] * 5,
            "owner": [None] * 5,
            "amount": [None] * 5,
            "source_row": list(range(1, 6)),
        },
        schema=SCHEMA,
    )
    log = DealLog(frame, ImportReport(source="cut", format="csv", rows_read=5, rows_used=5))
    train, test = end_time_split(log, 0.6)
    assert sorted(train.frame["deal"].unique()) == ["D0"]
    assert sorted(test.frame["deal"].unique()) == ["D2"]
    with pytest.raises(ValueError, match="between 0 and 1"):
        end_time_split(log, 1.0)


def test_replayed_arrival_times_are_the_given_ones() -> None:
    process = flowsim.parse(TINY)
    times = (0.5, 2.0, 2.0, 7.25)
    run = run_once(process, Settings(epoch=MONDAY, arrival_times=times, keep_log=True), 3, 0)
    assert run.arrival.tolist() == list(times)
    with pytest.raises(ValueError, match="sorted"):
        run_once(process, Settings(epoch=MONDAY, arrival_times=(2.0, 1.0)), 3, 0)


def test_bad_arrival_source_is_refused() -> None:
    process = flowsim.parse(TINY)
    history = tiny_history(6, outcome_rows=False)
    with pytest.raises(ValueError, match="'model' or 'replay'"):
        fidelity(process, history, arrivals="sampled")  # type: ignore[arg-type]


B2B = EXAMPLES / "b2b-cn.flow"


def b2b_history(seed: int) -> DealLog:
    """The bundled example's history as scripts/make_history.py makes it, for any seed."""
    process = flowsim.load(B2B)
    model = process.model_copy(update={"amount": LogNormal(mean=300_000, sd=150_000)})
    result = simulate(
        model, replications=1, seed=seed, start=date(2025, 6, 2), until=26 * 7 * 24.0,
        warmup=0.0, workers=1,
    )  # fmt: skip
    log: DealLog = result.event_log
    return log


@pytest.mark.parametrize("seed", [2025, 1, 2, 3, 4, 5])
def test_the_model_passes_against_a_history_it_made_itself(seed: int) -> None:
    """Seeds 2025 and 4 were false alarms of the old floor (two halves of the hold-out: its
    cycle-time ratios 2.15 and 2.03), 1 and 3 near misses (1.54, 1.90). The rate that
    remains, measured over the histories of seeds 100-199, is about 3% (docs/fidelity.md,
    the noise floor)."""
    result = fidelity(flowsim.load(B2B), b2b_history(seed), replications=3, tz="Asia/Shanghai")
    assert result.trusted, result.text()


def test_a_model_with_five_times_the_leads_still_fails() -> None:
    """The floor does not make the gate blind: five times the arrivals overloads the model's
    people, and the deals' cycle times (and paths cut short) give it away."""
    process = flowsim.load(B2B)
    assert process.arrivals is not None
    busy = process.model_copy(
        update={"arrivals": process.arrivals.model_copy(update={"count": 200.0})}
    )
    result = fidelity(busy, b2b_history(2), replications=3, tz="Asia/Shanghai")
    assert not result.trusted
    failing = {m.name for m in result.failing}
    assert {"cycle_time_distribution_distance", "n_gram_distance"} <= failing


# ------------------------------------------------------------------------------------------
# BPIC 2012 W by the published protocol


@pytest.fixture(scope="module")
def bpic_w(bpic_log: DealLog) -> DealLog:
    """The work items as start -> complete instances (bench/fidelity.py's reading)."""
    work = bpic_log.frame.filter(
        pl.col("stage").str.starts_with("W_")
        & pl.col("started_at").is_not_null()
        & pl.col("left_at").is_not_null()
    )
    return bpic_log.derive(work)


def test_bpic_w_split_by_end_time_agrees_with_polars(bpic_w: DealLog) -> None:
    """71,373 instances; the first 80% by completion are train; 806 cases with instances on
    both sides are dropped, counted here with polars alone."""
    train, test = end_time_split(bpic_w, 0.8)
    f = bpic_w.frame.sort(["left_at", "deal", "source_row"])
    cut = int(f.height * 0.8)
    side = f.with_columns((pl.int_range(pl.len()) >= cut).alias("late"))
    per = side.group_by("deal").agg(pl.col("late").all().alias("all"), pl.col("late").any())
    n_train = per.filter(~pl.col("late")).height
    n_test = per.filter(pl.col("all")).height
    assert (f.height, bpic_w.deals) == (71373, 9657)
    assert (train.deals, test.deals) == (n_train, n_test) == (7421, 1430)
    assert bpic_w.deals - n_train - n_test == 806
    assert train.frame["left_at"].max() <= test.frame["left_at"].min()  # type: ignore[operator]


def test_bpic_w_simulated_logs_hold_what_the_history_holds(bpic_w: DealLog) -> None:
    """The discovered model ends every deal at `ended` ("no outcome recorded"); the work-item
    history has no such row, so the compared logs have none either, and the n-gram distance
    is below the best published figure (0.15, AgentSimulator); it was 0.515 with them."""
    train, test = end_time_split(bpic_w, 0.8)
    model = flowsim.discover(train).process
    assert [o.id for o in model.outcomes] == ["ended"]
    result = simulate(model, replications=1, deals=test.deals, workers=1)
    raw = result.event_log
    assert raw.frame.filter(pl.col("stage") == "ended").height > 0
    alike = like_history(raw, test, model)
    labels = {s.id: s.display for s in model.stages}
    kinds = set(alike.frame["stage"].replace(labels))
    assert kinds <= set(test.frame["stage"]) and "ended" not in kinds
    measured = fidelity(model, train, test=test, spans="work", replications=2)
    ngd = {m.name: m for m in measured.measures}["n_gram_distance"]
    assert ngd.model is not None and ngd.model < 0.15


# ------------------------------------------------------------------------------------------
# the command line: a thin layer over the API


def _write(log: DealLog, path: Path) -> Path:
    log.frame.select("deal", "stage", "entered_at", "left_at", "started_at").write_csv(path)
    return path


def test_cli_fidelity_with_an_explicit_hold_out_and_replayed_arrivals(tmp_path: Path) -> None:
    """`--test` is the hold-out, `--history` the fitted part; the result is the API's."""
    from click.testing import CliRunner

    from flowsim.cli import main

    flow = tmp_path / "work.flow"
    flow.write_text(WORK, encoding="utf-8")
    train, test = end_time_split(work_history(10), 0.6)
    args = [
        "fidelity", str(flow), "--history", str(_write(train, tmp_path / "train.csv")),
        "--test", str(_write(test, tmp_path / "test.csv")), "--arrivals", "replay",
        "--spans", "work", "-n", "2", "--format", "json",
    ]  # fmt: skip
    r = CliRunner().invoke(main, args)
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert (data["arrivals"], data["spans"], data["holdout_deals"]) == ("replay", "work", 4)
    assert {m["name"]: m["model"] for m in data["measures"] if m["model"]} == {}
    r = CliRunner().invoke(main, [*args[:-2], "--arrivals", "sampled"])
    assert r.exit_code == 2 and "'sampled' is not one of 'model', 'replay'" in r.output


def test_simulate_log_out_holds_what_the_history_holds(tmp_path: Path) -> None:
    """A replay of a history without outcome rows writes none (the run still closes deals)."""
    from click.testing import CliRunner

    from flowsim.cli import main

    flow = tmp_path / "tiny.flow"
    flow.write_text(TINY, encoding="utf-8")
    history = _write(tiny_history(5, outcome_rows=False), tmp_path / "history.csv")
    out = tmp_path / "sim.csv"
    args = ["simulate", str(flow), "--history", str(history), "--log-out", str(out), "-n", "1"]
    r = CliRunner().invoke(main, [*args, "-q"])
    assert r.exit_code == 0, r.output
    written = pl.read_csv(out)
    assert sorted(set(written["stage"])) == ["a", "b"]
    assert written.height == 10
