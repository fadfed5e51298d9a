"""Fidelity distances: hand-computed tiny logs, scipy's Wasserstein, splits, BPIC 2012's floor."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import scipy.stats

import flowsim
from flowsim.history import read_log
from flowsim.history.distances import (
    FidelityReport,
    UnknownMeasure,
    absolute_event_distribution_distance,
    case_arrival_distribution_distance,
    chronological_split,
    circadian_event_distribution_distance,
    circadian_workforce_distance,
    cycle_time_distribution_distance,
    fidelity_report,
    n_gram_distance,
    noise_floor,
    relative_event_distribution_distance,
    split_half,
    wasserstein_distance,
)
from flowsim.history.log import SCHEMA, DealLog, ImportReport
from flowsim.history.problems import LogError

DATA = Path("/work/shared/data")
BPIC = DATA / "bpic2012" / "bpic2012.xes.gz"
RUNNING = DATA / "pm4py-logs" / "running-example.xes"
MONDAY = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday, midnight UTC

# (deal, stage, start hour, end hour or None, owner) with hours counted from MONDAY
Row = tuple[str, str, float, float | None, str | None]


def make_log(rows: list[Row], source: str = "tiny") -> DealLog:
    """A DealLog straight from rows, sorted as importers leave it."""
    frame = pl.DataFrame(
        {
            "deal": [r[0] for r in rows],
            "stage": [r[1] for r in rows],
            "entered_at": [MONDAY + timedelta(hours=r[2]) for r in rows],
            "left_at": [None if r[3] is None else MONDAY + timedelta(hours=r[3]) for r in rows],
            "started_at": [None] * len(rows),
            "owner": [r[4] for r in rows],
            "amount": [None] * len(rows),
            "source_row": list(range(1, len(rows) + 1)),
        },
        schema=SCHEMA,
    ).sort(["deal", "entered_at", "source_row"], maintain_order=True)
    n = len(rows)
    report = ImportReport(source=source, format="csv", rows_read=n, rows_used=n, records=n)
    return DealLog(frame, report)


def shift(log: DealLog, hours: float) -> DealLog:
    delta = timedelta(hours=hours)
    frame = log.frame.with_columns(
        pl.col("entered_at") + delta, pl.col("left_at") + delta, pl.col("started_at") + delta
    )
    return DealLog(frame, log.report.model_copy(update={"source": f"shifted {hours} h"}))


SALES: list[Row] = [
    ("D1", "lead", 1.5, None, "ann"),
    ("D1", "demo", 30.0, 32.0, "ann"),
    ("D1", "won", 50.25, None, "ann"),
    ("D2", "lead", 3.0, None, "bo"),
    ("D2", "lost", 27.0, None, "bo"),
    ("D3", "lead", 9.0, None, "ann"),
    ("D3", "demo", 60.0, 61.5, "bo"),
    ("D3", "demo", 80.0, None, None),
]


# --- Wasserstein ------------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(6))
def test_wasserstein_matches_scipy_on_random_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    u = rng.normal(0, 3, size=int(rng.integers(1, 400)))
    v = rng.exponential(2, size=int(rng.integers(1, 400)))
    assert wasserstein_distance(u, v) == pytest.approx(scipy.stats.wasserstein_distance(u, v))
    ui, vi = rng.integers(0, 24, size=300), rng.integers(0, 24, size=77)  # many ties, like bins
    assert wasserstein_distance(ui, vi) == pytest.approx(scipy.stats.wasserstein_distance(ui, vi))
    uw, vw = rng.integers(0, 300, size=ui.size), rng.random(vi.size)
    assert wasserstein_distance(ui, vi, uw, vw) == pytest.approx(
        scipy.stats.wasserstein_distance(ui, vi, uw, vw)
    )


def test_wasserstein_by_hand_and_bad_input() -> None:
    assert wasserstein_distance([0, 0, 1], [0, 0, 1]) == 0.0
    assert wasserstein_distance([0], [5]) == 5.0
    assert wasserstein_distance([0, 10], [0]) == 5.0
    assert wasserstein_distance([9], [9, 10], None, [2, 1]) == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="at least one value"):
        wasserstein_distance([], [1])
    with pytest.raises(ValueError, match="finite"):
        wasserstein_distance([math.nan], [1])
    with pytest.raises(ValueError, match="2 weights for 1 values"):
        wasserstein_distance([1], [1], [1, 2])
    with pytest.raises(ValueError, match="non-negative"):
        wasserstein_distance([1, 2], [1], [-1, 2])


# --- the measures on hand-computed logs --------------------------------------------------


def test_identical_logs_are_at_distance_zero() -> None:
    report = fidelity_report(make_log(SALES), make_log(SALES, "copy"))
    assert {name: m.value for name, m in report.measures.items()} == dict.fromkeys(
        report.measures, 0.0
    )


def test_shift_by_two_hours_moves_only_the_absolute_measures() -> None:
    log = make_log(SALES)
    moved = shift(log, 2)
    assert absolute_event_distribution_distance(log, moved) == 2.0
    assert case_arrival_distribution_distance(log, moved) == 2.0
    assert absolute_event_distribution_distance(moved, log) == 2.0  # t0 from either log
    assert relative_event_distribution_distance(log, moved) == 0.0
    assert cycle_time_distribution_distance(log, moved) == 0.0
    assert n_gram_distance(log, moved) == 0.0
    # a shift by whole weeks keeps weekday and hour: the calendar measures cannot see it
    week = shift(log, 7 * 24)
    assert circadian_event_distribution_distance(log, week) == 0.0
    assert circadian_workforce_distance(log, week) == 0.0
    assert absolute_event_distribution_distance(log, week) == 168.0


def test_relative_cycle_and_arrival_by_hand() -> None:
    # one deal each, same arrival: instants at 0 h and 3 h against 0 h and 5 h
    a = make_log([("A", "x", 0, None, None), ("A", "y", 3, None, None)])
    b = make_log([("B", "x", 0, None, None), ("B", "y", 5, None, None)])
    # relative bins {0,0,3,3} vs {0,0,5,5}: half of the mass moves 2 h
    assert relative_event_distribution_distance(a, b) == 1.0
    assert absolute_event_distribution_distance(a, b) == 1.0
    # durations 3 h and 5 h binned from d_min = 3 h: bins 0 and 2
    assert cycle_time_distribution_distance(a, b) == 2.0
    assert cycle_time_distribution_distance(a, b, bin_size=timedelta(minutes=30)) == 4.0
    assert case_arrival_distribution_distance(a, b) == 0.0
    with pytest.raises(ValueError, match="bin_size must be positive"):
        cycle_time_distribution_distance(a, b, bin_size=timedelta(0))


def test_open_stay_counts_as_an_instant_and_left_at_extends_a_case() -> None:
    instant = make_log([("A", "x", 0, None, None), ("A", "y", 4, None, None)])
    explicit = make_log([("A", "x", 0, 0, None), ("A", "y", 4, 4, None)])
    for measure in (
        absolute_event_distribution_distance,
        relative_event_distribution_distance,
        cycle_time_distribution_distance,
        n_gram_distance,
    ):
        assert measure(instant, explicit) == 0.0, measure.__name__
    # the same case told as one 4-hour stay: same cycle time, different instants and n-grams
    stay = make_log([("A", "x", 0, 4, None)])
    assert cycle_time_distribution_distance(instant, stay) == 0.0
    assert relative_event_distribution_distance(instant, stay) == 0.0  # bins {0,4} both ways
    assert n_gram_distance(instant, stay) > 0


def test_n_gram_counts_by_hand() -> None:
    # ABAB padded once (n=2): ∅A, AB, BA, AB, B∅; two traces AB: ∅A ×2, AB ×2, B∅ ×2
    o = make_log(
        [
            ("1", "A", 0, None, None),
            ("1", "B", 1, None, None),
            ("1", "A", 2, None, None),
            ("1", "B", 3, None, None),
        ]
    )
    s = make_log(
        [
            ("1", "A", 0, None, None),
            ("1", "B", 1, None, None),
            ("2", "A", 0, None, None),
            ("2", "B", 1, None, None),
        ]
    )
    # |1-2| ∅A + |2-2| AB + |1-0| BA + |1-2| B∅ = 3, over 5 + 6 n-grams
    assert n_gram_distance(o, s, n=2, normalize=False) == 3.0
    assert n_gram_distance(o, s, n=2) == pytest.approx(3 / 11)
    # n=3, AB vs AC: ∅∅A shared, the other three of each differ: 6 / 8
    ab = make_log([("1", "A", 0, None, None), ("1", "B", 1, None, None)])
    ac = make_log([("1", "A", 0, None, None), ("1", "C", 1, None, None)])
    assert n_gram_distance(ab, ac) == 0.75
    # n=1 compares activity frequencies only (no padding)
    assert n_gram_distance(ab, ac, n=1, normalize=False) == 2.0


def test_n_gram_orders_by_start_then_end() -> None:
    # X and Y start together; Y ends first, so the trace reads Y X
    tie = make_log([("1", "X", 0, 2, None), ("1", "Y", 0, 1, None)])
    ordered = make_log([("1", "Y", 0, None, None), ("1", "X", 1, None, None)])
    assert n_gram_distance(tie, ordered) == 0.0


def test_n_gram_keeps_the_log_order_of_full_ties() -> None:
    # a wide CRM row gives one deal several stays with one source row; a deal won the day it
    # was engaged has two stays at the same instant, kept in the importer's order
    same = make_log([("1", "Engaging", 0, None, None), ("1", "Won", 0, None, None)])
    same = DealLog(same.frame.with_columns(pl.lit(7, pl.Int64).alias("source_row")), same.report)
    apart = make_log([("1", "Engaging", 0, None, None), ("1", "Won", 1, None, None)])
    assert n_gram_distance(same, apart) == 0.0


def test_circadian_weekday_rules() -> None:
    # Monday hours {9, 10} vs {9, 12}: 1; Tuesday only in s: 23; five empty weekdays: 0 each
    o = make_log([("1", "a", 9, None, None), ("1", "b", 10, None, None)])
    s = make_log(
        [("1", "a", 9, None, None), ("1", "b", 12, None, None), ("2", "a", 24 + 9, None, None)]
    )
    assert circadian_event_distribution_distance(o, s) == pytest.approx((1 + 23) / 7)
    # the clock matters: 20:00 vs 10:00 UTC on Monday is Tuesday 04:00 vs Monday 18:00 in
    # Shanghai, so each weekday is seen in one log only
    late = make_log([("1", "a", 20, None, None)])
    early = make_log([("1", "a", 10, None, None)])
    assert circadian_event_distribution_distance(late, early) == pytest.approx(10 / 7)
    assert circadian_event_distribution_distance(late, early, tz="Asia/Shanghai") == pytest.approx(
        46 / 7
    )
    with pytest.raises(LogError, match="unknown time zone"):
        circadian_event_distribution_distance(late, early, tz="Mars/Olympus")


def test_circadian_workforce_by_hand() -> None:
    # Monday: o has ann at 9; s has ann and bo at 9 and ann at 10 (one Monday each)
    o = make_log([("1", "a", 9, None, "ann")])
    s = make_log(
        [("1", "a", 9, None, "ann"), ("2", "a", 9.5, None, "bo"), ("2", "b", 10, None, "ann")]
    )
    # workforce o {9: 1}, s {9: 2, 10: 1}: a third of the mass moves one hour; 6 empty days
    assert circadian_workforce_distance(o, s) == pytest.approx((1 / 3) / 7)
    # a row without owner adds no worker
    unowned = make_log([("1", "a", 9, None, "ann"), ("3", "c", 11, None, None)])
    assert circadian_workforce_distance(o, unowned) == 0.0
    # two Mondays with ann at 9 on one of them: workforce 0.5, weight 50
    two = make_log([("1", "a", 9, None, "ann"), ("2", "a", 7 * 24 + 15, None, None)])
    assert circadian_workforce_distance(o, two) == 0.0  # same hour shape, weights differ only
    nobody = make_log([("1", "a", 9, None, None)])
    assert circadian_workforce_distance(o, nobody) is None
    assert fidelity_report(o, nobody).value("circadian_workforce_distance") is None


def test_bad_input_is_refused_clearly() -> None:
    log = make_log(SALES)
    empty = DealLog(pl.DataFrame(schema=SCHEMA), ImportReport(source="empty.csv", format="csv"))
    with pytest.raises(ValueError, match=r"simulated log \(empty.csv\) has no stays"):
        n_gram_distance(log, empty)
    with pytest.raises(ValueError, match="n must be a whole number"):
        n_gram_distance(log, log, n=0)
    with pytest.raises(TypeError, match="must be a DealLog, not DataFrame"):
        absolute_event_distribution_distance(log.frame, log)  # type: ignore[arg-type]


# --- the report ---------------------------------------------------------------------------


def test_report_names_units_definitions_and_round_trips() -> None:
    log = make_log(SALES)
    report = fidelity_report(log, shift(log, 2))
    assert list(report.measures) == [
        "n_gram_distance",
        "absolute_event_distribution_distance",
        "circadian_event_distribution_distance",
        "relative_event_distribution_distance",
        "case_arrival_distribution_distance",
        "cycle_time_distribution_distance",
        "circadian_workforce_distance",
    ]
    assert report.value("absolute_event_distribution_distance") == 2.0
    assert report.measures["absolute_event_distribution_distance"].unit == "hours"
    assert all(m.definition and m.unit for m in report.measures.values())
    assert (report.original_deals, report.simulated_deals, report.tz) == (3, 3, "UTC")
    assert FidelityReport.model_validate(json.loads(report.model_dump_json())) == report
    text = report.text()
    assert text.startswith("original:  tiny, 3 deals\nsimulated: shifted 2 h, 3 deals\n")
    assert "absolute_event_distribution_distance" in text and "hours" in text
    with pytest.raises(KeyError, match="no measure 'cfld'"):  # a KeyError, as it always was
        report.value("cfld")


def test_an_unknown_measure_is_a_flowsim_error_listing_the_measures() -> None:
    log = make_log(SALES)
    report = fidelity_report(log, log)
    with pytest.raises(flowsim.FlowsimError) as caught:
        report.value("cfld")
    err = caught.value
    assert isinstance(err, UnknownMeasure) and isinstance(err, KeyError)
    assert (err.name, err.known) == ("cfld", tuple(report.measures))
    assert err.known[0] == "n_gram_distance" and len(err.known) == 7
    assert str(err) == "no measure 'cfld'; measures: " + ", ".join(report.measures)


# --- splits -------------------------------------------------------------------------------


def deals(log: DealLog) -> set[str]:
    return set(log.frame["deal"].to_list())


def test_chronological_split_holds_out_the_later_deals() -> None:
    log = make_log(SALES)  # arrivals: D1 1.5 h, D2 3 h, D3 9 h
    train, hold = chronological_split(log, train_share=0.7)
    assert (deals(train), deals(hold)) == ({"D1", "D2"}, {"D3"})
    assert train.frame.height + hold.frame.height == log.frame.height
    assert hold.frame.equals(log.frame.filter(pl.col("deal") == "D3"))
    for part in (train, hold):
        r = part.report
        assert r.rows_read == r.rows_used + r.rows_skipped == r.records == part.frame.height
    assert train.report.source == "tiny (first 70% of deals)"
    assert hold.report.source == "tiny (last 30% of deals)"
    with pytest.raises(ValueError, match="between 0 and 1"):
        chronological_split(log, 1.0)
    with pytest.raises(ValueError, match="3 deals cannot be split 10% / 90%"):
        chronological_split(log, 0.1)


def test_split_half_is_a_random_half_and_follows_the_seed() -> None:
    rows: list[Row] = [(f"D{i:02}", "lead", i * 5.0, None, None) for i in range(20)]
    log = make_log(rows)
    a, b = split_half(log, seed=3)
    assert deals(a) | deals(b) == deals(log) and not deals(a) & deals(b)
    assert len(deals(a)) == len(deals(b)) == 10
    odd = make_log(rows[:7])
    assert sorted(len(deals(h)) for h in split_half(odd, seed=1)) == [3, 4]
    again = split_half(log, seed=3)
    assert again[0].frame.equals(a.frame) and again[1].frame.equals(b.frame)
    assert deals(split_half(log, seed=4)[0]) != deals(a)
    with pytest.raises(ValueError, match="at least two deals"):
        split_half(make_log(rows[:1]))


def test_noise_floor_of_the_running_example_is_deterministic() -> None:
    log = read_log(RUNNING)
    floor = noise_floor(log, seed=2)
    assert floor == noise_floor(log, seed=2)
    assert floor.original_deals == floor.simulated_deals == 3
    assert floor.original.endswith("(half A, seed 2)")


# --- BPIC 2012: a real floor ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bpic(bpic_log: DealLog) -> DealLog:
    return bpic_log


def test_bpic2012_noise_floor_is_small_next_to_a_week_shift(bpic: DealLog) -> None:
    floor = noise_floor(bpic)
    values = {name: m.value for name, m in floor.measures.items()}
    assert all(v is not None and math.isfinite(v) and v > 0 for v in values.values()), values
    assert abs(floor.original_deals - floor.simulated_deals) <= 1
    week = fidelity_report(bpic, shift(bpic, 7 * 24))
    # every instant and every arrival moves by exactly 168 hour bins
    assert week.value("absolute_event_distribution_distance") == 168.0
    assert week.value("case_arrival_distribution_distance") == 168.0
    # ... while two random halves of the same history are far closer
    floor_absolute = values["absolute_event_distribution_distance"]
    floor_arrival = values["case_arrival_distribution_distance"]
    assert floor_absolute is not None and 3 * floor_absolute < 168.0
    assert floor_arrival is not None and 3 * floor_arrival < 168.0
    # n-grams, durations and the weekly clock cannot see a shift by one week
    for name in (
        "n_gram_distance",
        "circadian_event_distribution_distance",
        "relative_event_distribution_distance",
        "cycle_time_distribution_distance",
        "circadian_workforce_distance",
    ):
        assert week.value(name) == 0.0, name
