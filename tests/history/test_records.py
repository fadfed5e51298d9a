"""The vectorised building blocks of the metrics: integer-coded records and one-sort statistics."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from flowsim.history import DealLog, read_csv
from flowsim.history.metrics import _durations_by, metrics
from flowsim.history.records import group_bounds, records
from flowsim.history.survival import competing_risks, cumulative_incidence, kaplan_meier

LOG = """deal,stage,timestamp,amount
B,lead,2024-01-01 00:00,
B,demo,2024-01-01 10:00,5
B,lead,2024-01-02 00:00,
A,lead,2024-01-01 02:00,7
A,won,2024-01-01 03:00,
"""


def test_records_codes_positions_and_next_stage(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG, encoding="utf-8")
    frame = read_csv(path).frame
    r = records(frame, {"won": "Won"})
    assert r.raw_names == ["demo", "lead", "won"]
    assert r.names == ["Won", "demo", "lead"]
    # sorted by deal: A (lead, won), then B (lead, demo, lead)
    assert r.stage.tolist() == [2, 0, 2, 1, 2]
    assert r.deal.tolist() == [0, 0, 1, 1, 1]
    assert r.position(np.arange(r.n)).tolist() == [0, 1, 0, 1, 2]
    assert (r.starts.tolist(), r.ends.tolist()) == ([0, 2], [1, 4])
    assert r.next_stage.tolist() == [0, -1, 1, 2, -1]
    assert r.has_amount.tolist() == [True, False, False, True, False]
    hour = 3_600_000_000
    assert (r.next_at[0] - r.entered[0], r.next_at[2] - r.entered[2]) == (hour, 10 * hour)
    order, starts = group_bounds(r.deal * 3 + r.stage)
    assert order[starts].tolist() == [1, 0, 3, 2]  # first row of each (deal, stage)
    assert order.tolist() == [1, 0, 3, 2, 4] and starts.tolist() == [0, 1, 2, 3]


def test_competing_risks_equals_the_two_estimators() -> None:
    rng = np.random.default_rng(7)
    t = np.round(rng.exponential(10, 500), 1)  # ties on purpose
    cause = rng.integers(0, 4, 500)
    order = np.argsort(t, kind="stable")
    curve, incidence, still = competing_risks(t[order], cause[order], 3)
    km = kaplan_meier(t, cause > 0)
    assert curve.times.tolist() == km.times.tolist()
    assert curve.survival.tolist() == km.survival.tolist()
    assert (curve.n, curve.n_exits, curve.n_censored) == (km.n, km.n_exits, km.n_censored)
    names = np.array(["", "a", "b", "c"])[cause]
    cif = cumulative_incidence(t, names, ["a", "b", "c"])
    assert incidence.tolist() == pytest.approx([cif["a"], cif["b"], cif["c"]], rel=1e-12)
    assert still == pytest.approx(cif["still"], rel=1e-12)
    empty, none, s = competing_risks(np.zeros(0), np.zeros(0, dtype=np.int64), 2)
    assert (empty.n, none.tolist(), s) == (0, [0.0, 0.0], 1.0)


def test_packed_statistics_equal_polars_and_fall_back_on_wide_values() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(0, 3, 1000)
    micros = rng.integers(0, 10**12, 1000)
    valid = rng.random(1000) > 0.1
    got = _durations_by(codes, micros, valid, ["a", "b", "c"])
    frame = pl.DataFrame({"k": codes[valid], "h": micros[valid] / 3_600_000_000})
    want = frame.group_by("k").agg(
        pl.len(),
        pl.col("h").mean().alias("mean"),
        pl.col("h").median().alias("median"),
        pl.col("h").quantile(0.9, "linear").alias("p90"),
    )
    for k, n, mean, median, p90 in want.iter_rows():
        d = got["abc"[k]]
        assert (d.n, d.mean, d.median, d.p90) == pytest.approx((n, mean, median, p90), rel=1e-12)
    wide = micros.copy()
    wide[0] = 1 << 62  # does not fit beside the code: the polars path answers
    assert _durations_by(codes, wide, valid, ["a", "b", "c"]).keys() == got.keys()


def test_metrics_without_survival_is_the_same_report_minus_the_curves(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG, encoding="utf-8")
    log = read_csv(path)
    full, lean = metrics(log), metrics(log, survival=False)
    assert full.survival and lean.survival == {}
    assert lean.model_copy(update={"survival": full.survival}) == full


def test_import_remembers_where_deals_start_and_metrics_agree_without_it(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG, encoding="utf-8")
    log = read_csv(path)
    known = log.first_records()
    assert known is not None and known.tolist() == [True, False, True, False, False]
    fresh = DealLog(log.frame, log.report)  # built by hand: nothing known
    assert fresh.first_records() is None
    assert metrics(fresh) == metrics(log)
    log.frame = log.frame.head(3)  # replaced: the remembered runs no longer apply
    assert log.first_records() is None
    with pytest.raises(ValueError, match="one flag per record"):
        log.remember_first_records(np.ones(5, dtype=np.bool_))


def test_a_log_with_dropped_duplicates_recomputes_its_deal_runs(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text(LOG + "A,won,2024-01-01 03:00,\n", encoding="utf-8")
    log = read_csv(path, lenient=True)  # the repeated row is skipped after the order check
    assert log.report.rows_skipped == 1 and log.first_records() is None
    assert metrics(log).header.deals == 2


def test_metrics_of_a_log_without_records() -> None:
    from flowsim.history.log import SCHEMA, ImportReport

    report = ImportReport(source="none", format="csv", shape="long", rows_read=0)
    m = metrics(DealLog(pl.DataFrame(schema=SCHEMA), report))
    assert (m.header.records, m.header.deals, m.stages, m.survival) == (0, 0, {}, {})
    assert records(pl.DataFrame(schema=SCHEMA)).ends.tolist() == []


def test_same_as_previous_compares_neighbours_and_never_matches_nulls() -> None:
    from flowsim.history.records import same_as_previous

    ids = pl.Series(["a", "a", None, None, "b", "b", "a"])
    assert same_as_previous(ids).tolist() == [False, True, False, False, False, True, False]
    assert same_as_previous(pl.Series([], dtype=pl.String)).tolist() == []
