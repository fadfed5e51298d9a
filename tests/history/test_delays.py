"""Waiting-time anatomy: contention is the simulation's queue, the rest is the stage's wait.

A synthetic log where both causes are known by construction: in each block of a day, deal X
finishes its intake and waits ``d`` hours for the customer (the reviewer is idle), then the
one reviewer works on it for 2 h; deal Y finishes its intake half an hour into that review
and waits only for the reviewer (1.5 h of pure contention, no extraneous delay). Both deals
close 3 h after their review.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import flowsim
from flowsim.history import read_csv
from flowsim.history.delays import busy_intervals, waiting_anatomy
from flowsim.history.discover import discover

approx = pytest.approx
T0 = datetime(2024, 1, 1, 8)


def _log(tmp_path: Path, delays: np.ndarray) -> Path:
    rows = ["deal,stage,timestamp,start,end,owner"]

    def item(deal: str, stage: str, start: datetime, hours: float, owner: str) -> None:
        end = start + timedelta(hours=hours)
        rows.append(
            f"{deal},{stage},{start:%Y-%m-%d %H:%M},{start:%Y-%m-%d %H:%M},"
            f"{end:%Y-%m-%d %H:%M},{owner}"
        )

    for k, d in enumerate(delays):
        day = T0 + timedelta(days=k)
        review_x = day + timedelta(hours=1 + float(d))
        item(f"X{k}", "Intake", day, 1.0, f"clerk{k}x")
        item(f"X{k}", "Review", review_x, 2.0, "reviewer")
        rows.append(f"X{k},Won,{review_x + timedelta(hours=5):%Y-%m-%d %H:%M},,,reviewer")
        intake_y = review_x - timedelta(hours=0.5)  # ends half an hour into X's review
        review_y = review_x + timedelta(hours=2)  # the reviewer is free again
        item(f"Y{k}", "Intake", intake_y, 1.0, f"clerk{k}y")
        item(f"Y{k}", "Review", review_y, 2.0, "reviewer")
        rows.append(f"Y{k},Won,{review_y + timedelta(hours=5):%Y-%m-%d %H:%M},,,reviewer")
    path = tmp_path / "anatomy.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> tuple[flowsim.DealLog, np.ndarray]:
    rng = np.random.default_rng(4)
    delays = np.round(rng.uniform(1, 8, 60) * 4) / 4  # quarter hours: exact in minutes
    return read_csv(_log(tmp_path_factory.mktemp("anatomy"), delays)), delays


def test_each_gap_splits_into_its_known_contention_and_extraneous_delay(
    known: tuple[flowsim.DealLog, np.ndarray],
) -> None:
    log, delays = known
    parts = waiting_anatomy(log.frame)
    intake = parts.filter(pl.col("stage") == "Intake")
    # 60 X intakes: all extraneous (the reviewer idle); 60 Y intakes: all contention
    x = intake.filter(pl.col("contention") == 0)
    y = intake.filter(pl.col("contention") > 0)
    assert sorted(x["extraneous"].to_list()) == approx(sorted(delays.tolist()))
    assert y["contention"].to_list() == approx([1.5] * 60)
    assert y["extraneous"].to_list() == approx([0.0] * 60)
    # after a review: 3 h to the close, nobody's queued work
    review = parts.filter(pl.col("stage") == "Review")
    assert review["extraneous"].to_list() == approx([3.0] * 120)
    assert review["contention"].sum() == 0


def test_discovered_wait_leaves_the_queue_to_the_simulation(
    known: tuple[flowsim.DealLog, np.ndarray],
) -> None:
    log, delays = known
    found = discover(log)
    intake = found.process.node("Intake")
    assert isinstance(intake, flowsim.Stage) and intake.wait is not None
    waits = np.r_[delays, np.zeros(60)]
    assert intake.wait.expected == approx(waits.mean(), rel=0.05)
    assert any("of their" in n and "contention" in n for n in found.notes)
    # the whole gap would count Y's 1.5 h of queue in the wait as well
    gap = discover(log, waits="gap").process.node("Intake")
    assert isinstance(gap, flowsim.Stage) and gap.wait is not None
    assert gap.wait.expected == approx(waits.mean() + 0.75, rel=0.05)


def test_busy_time_of_a_person_on_two_deals_at_once_counts_once() -> None:
    at = datetime(2024, 1, 1, tzinfo=None)
    frame = pl.DataFrame(
        {
            "owner": ["ann", "ann", "ann"],
            "started_at": [at, at + timedelta(hours=1), at + timedelta(hours=5)],
            "left_at": [at + timedelta(hours=3), at + timedelta(hours=2), at + timedelta(hours=6)],
        }
    )
    merged = busy_intervals(frame)
    assert merged["before"].to_list() == [0.0, 3.0]  # [0, 3] (the 1–2 h item inside), [5, 6]


def _busy_brute(
    items: list[tuple[str, datetime, datetime]], who: str, a: datetime, b: datetime
) -> float:
    """Hours ``who`` worked inside [a, b]: minute by minute over the union of its items."""
    minutes = 0
    t = a
    while t < b:
        if any(o == who and s <= t < e for o, s, e in items):
            minutes += 1
        t += timedelta(minutes=1)
    return minutes / 60


def test_contention_matches_a_minute_by_minute_count() -> None:
    """Random deals of two items by three people who overlap and multitask: the contention of
    each gap is the minutes the next item's person was working, counted one by one."""
    rng = np.random.default_rng(11)
    people = ["ann", "bob", "cid"]
    rows: list[dict[str, object]] = []
    items: list[tuple[str, datetime, datetime]] = []
    for k in range(40):
        t = T0 + timedelta(minutes=int(rng.integers(0, 600)))
        for stage in ("a", "b"):
            who = people[int(rng.integers(0, 3))]
            start = t + timedelta(minutes=int(rng.integers(0, 120)))
            end = start + timedelta(minutes=int(rng.integers(5, 90)))
            rows.append(
                {
                    "deal": f"D{k:02d}",
                    "stage": stage,
                    "entered_at": t,
                    "started_at": start,
                    "left_at": end,
                    "owner": who,
                }
            )
            items.append((who, start, end))
            t = end
    frame = pl.DataFrame(rows).sort("deal", "entered_at")
    parts = waiting_anatomy(frame)
    firsts = frame.filter(pl.col("stage") == "a")
    seconds = frame.filter(pl.col("stage") == "b")
    expected = []
    for a, b in zip(firsts.iter_rows(named=True), seconds.iter_rows(named=True), strict=True):
        before = _busy_brute(items, a["owner"], a["entered_at"], a["started_at"])
        after = _busy_brute(items, b["owner"], a["left_at"], b["started_at"])
        expected.append(before + after)
    got = parts.filter(pl.col("stage") == "a")["contention"].to_list()
    assert got == approx(expected, abs=1e-9)
    assert sum(expected) > 5  # the people were busy elsewhere for hours in all


def _contention_numpy(frame: pl.DataFrame) -> tuple[float, float]:
    """Total gap and contention hours of the gaps after work items, without the module: each
    person's items merged in a plain loop, busy time read off the cumulative sums by
    ``np.searchsorted``, the gaps walked deal by deal in Python."""
    us = 3.6e9
    rows = frame.select(
        "deal",
        "owner",
        e=pl.col("entered_at").dt.epoch("us"),
        s=pl.col("started_at").dt.epoch("us"),
        l=pl.col("left_at").dt.epoch("us"),
    ).rows()
    spans: dict[str, list[tuple[int, int]]] = {}
    for _, who, _, s, end in rows:
        if who is not None and s is not None and end is not None:
            spans.setdefault(who, []).append((s, end))
    table: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for who, items in spans.items():
        merged: list[list[int]] = []
        for s, end in sorted(items):
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([s, end])
        u = np.array([m[0] for m in merged], dtype=float)
        v = np.array([m[1] for m in merged], dtype=float)
        table[who] = (u, v, np.concatenate(([0.0], np.cumsum(v - u)[:-1])))

    def busy(who: str | None, t: float) -> float:
        if who is None or who not in table:
            return 0.0
        u, v, before = table[who]
        k = int(np.searchsorted(u, t, side="right")) - 1
        return 0.0 if k < 0 else float(before[k] + min(max(t - u[k], 0.0), v[k] - u[k]))

    gap = held = 0.0
    for i, (deal, who, e, s, end) in enumerate(rows):
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1][0] == deal else None
        if s is None or end is None or nxt is None:
            continue
        n_start = nxt[3] if nxt[3] is not None else nxt[2]
        n_who = nxt[1] if nxt[3] is not None else None
        after = max(n_start - end, 0) / us
        gap += after
        held += min(max(busy(n_who, n_start) - busy(n_who, end), 0.0) / us, after)
        if i == 0 or rows[i - 1][0] != deal:  # a deal's first item: its own wait before it
            before = max(s - e, 0) / us
            gap += before
            held += min(max(busy(who, s) - busy(who, e), 0.0) / us, before)
    return gap, held


def test_bpic_work_items_contention_is_cross_checked(bpic_log: flowsim.DealLog) -> None:
    """BPIC 2012's W_ work items (start/complete, org:resource): the module's gap and
    contention hours equal an independent numpy/Python count; contention is a small part."""
    frame = bpic_log.frame.filter(pl.col("stage").str.starts_with("W_"))
    parts = waiting_anatomy(frame)
    gap, held = _contention_numpy(frame)
    assert parts["gap"].sum() == approx(gap, rel=1e-9)
    assert parts["contention"].sum() == approx(held, rel=1e-9)
    assert 0.02 < held / gap < 0.2
