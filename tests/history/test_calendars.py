"""Discovery finds each resource pool's working calendar from when its people start and end work.

A synthetic log is generated with known pools and calendars; discovery must give back the
exact working days and the daily windows within an hour. Exports without times of day of work
items (Maven's dates, Olist's instants) get no calendar.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import flowsim
from flowsim.dsl.formatter import fmt_calendar
from flowsim.history import read_log
from flowsim.history.calendars import MIN_EVENTS, calendar_of, pool_calendar, working_hours
from flowsim.history.discover import discover
from flowsim.model import Calendar, TimeWindow
from tests.data import DATA
from tests.history.test_discover import assert_sound

TZ = "Asia/Shanghai"
MONDAY = datetime(2024, 1, 1)  # a Monday


def _slot(
    rng: np.random.Generator, days: range, hours: tuple[int, int], after: datetime
) -> datetime:
    """A random start on one of ``days`` (0 = Mon) within ``hours``, after ``after``."""
    while True:
        day = after.date() + timedelta(days=int(rng.integers(1, 6)))
        if day.weekday() in days:
            break
    minutes = rng.uniform(hours[0] * 60, hours[1] * 60 - 30)
    return datetime(day.year, day.month, day.day) + timedelta(minutes=float(minutes))


def _log_csv(
    path: Path, a: tuple[range, tuple[int, int]], b: tuple[range, tuple[int, int]]
) -> None:
    """400 deals: pool A (ann, amy, al) does Lead, pool B (bob, ben) Demo, each on its hours."""
    rng = np.random.default_rng(7)
    rows = ["deal,stage,timestamp,start,end,owner"]
    fmt = "%Y-%m-%d %H:%M:%S"
    for k in range(400):
        created = MONDAY + timedelta(days=int(rng.integers(0, 140)))
        lead = _slot(rng, *a, created)
        lead_end = lead + timedelta(minutes=float(rng.uniform(5, 30)))
        demo = _slot(rng, *b, lead_end)
        demo_end = demo + timedelta(minutes=float(rng.uniform(5, 30)))
        who_a, who_b = ["ann", "amy", "al"][k % 3], ["bob", "ben"][k % 2]
        rows += [
            f"D{k},Lead,{created:{fmt}},{lead:{fmt}},{lead_end:{fmt}},{who_a}",
            f"D{k},Demo,{lead_end:{fmt}},{demo:{fmt}},{demo_end:{fmt}},{who_b}",
            f"D{k},{'Won' if k % 3 else 'Lost'},{demo_end + timedelta(days=1):{fmt}},,,{who_b}",
        ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")


def _hours(cal: Calendar) -> list[tuple[float, float]]:
    return [(w.start / 60, w.end / 60) for w in cal.windows]


def test_each_pool_gets_its_own_calendar(tmp_path: Path) -> None:
    """Pool A Mon–Fri 09–17 and pool B Tue–Sat 12–20 (Shanghai time) are found back."""
    path = tmp_path / "work.csv"
    _log_csv(path, (range(0, 5), (9, 17)), (range(1, 6), (12, 20)))
    found = discover(read_log(path, tz=TZ), tz=TZ)
    roles = {r.id: r for r in found.process.roles}
    owner = {s.id: s.owner for s in found.process.stages}
    lead, demo = roles[str(owner["Lead"])].calendar, roles[str(owner["Demo"])].calendar
    assert lead is not None and demo is not None
    assert lead.days == (0, 1, 2, 3, 4) and demo.days == (1, 2, 3, 4, 5)
    assert lead.timezone == demo.timezone == TZ
    assert len(lead.windows) == len(demo.windows) == 1
    assert _hours(lead)[0] == pytest.approx((9, 17), abs=1)
    assert _hours(demo)[0] == pytest.approx((12, 20), abs=1)
    assert found.process.calendar is None  # the pools differ: no process calendar
    assert any(n.startswith("calendars (Asia/Shanghai") for n in found.notes)
    text = found.to_flow()
    assert 'calendar Tue-Sat 12:00-20:00 "Asia/Shanghai"' in text
    assert_sound(found)  # checks clean, parses back to the same model, fmt keeps the text


def test_pools_that_share_a_calendar_give_the_process_one(tmp_path: Path) -> None:
    path = tmp_path / "work.csv"
    _log_csv(path, (range(0, 5), (9, 17)), (range(0, 5), (9, 17)))
    found = discover(read_log(path, tz=TZ), tz=TZ)
    assert found.process.calendar is not None
    assert fmt_calendar(found.process.calendar) == 'Mon-Fri 09:00-17:00 "Asia/Shanghai"'
    assert all(r.calendar is None for r in found.process.roles)
    assert "calendars: every pool has the same one: written as the process calendar" in (
        found.notes
    )
    assert_sound(found)


def test_round_the_clock_work_and_thin_evidence_give_no_calendar() -> None:
    assert calendar_of(np.full((7, 24), 50.0), "UTC") is None  # 24/7
    start = [datetime(2024, 1, 1, 10) + timedelta(days=d) for d in range(MIN_EVENTS // 4)]
    frame = pl.DataFrame(
        {"owner": ["ann"] * len(start), "started_at": start, "left_at": start}
    ).with_columns(pl.col("started_at", "left_at").dt.replace_time_zone("UTC"))
    thin = pool_calendar(frame, ["ann"], "UTC")
    assert thin.calendar is None and thin.events < MIN_EVENTS
    assert "too little evidence" in thin.reason


def test_weekday_office_hours_found_on_bpic_work_items(bpic_log: flowsim.DealLog) -> None:
    """BPIC 2012's W_ work items (start → complete, by resource): Dutch office hours.

    Cross-check: the share of the work-item starts and ends on a weekday between 07:00 and
    20:00 Amsterdam time, computed with polars, is the bulk of the evidence.
    """
    work = bpic_log.frame.filter(pl.col("stage").str.starts_with("W_"))
    found = discover(bpic_log.derive(work, bpic_log.report), tz="Europe/Amsterdam")
    cals = [found.process.calendar] if found.process.calendar else []
    cals += [r.calendar for r in found.process.roles if r.calendar is not None]
    assert cals, found.notes
    for cal in cals:  # weekdays (a small team may not work Wednesdays), never Sunday
        assert len(set(cal.days) & {0, 1, 2, 3, 4}) >= 4 and 6 not in cal.days
        assert cal.windows[0].start >= 6 * 60 and cal.windows[-1].end <= 22 * 60
    items = work.filter(pl.col("started_at").is_not_null() & pl.col("left_at").is_not_null())
    local = pl.concat([items.select(t="started_at"), items.select(t="left_at")]).select(
        pl.col("t").dt.convert_time_zone("Europe/Amsterdam")
    )
    office = local.filter(
        (pl.col("t").dt.weekday() <= 5) & pl.col("t").dt.hour().is_between(7, 19)
    ).height
    assert office / local.height > 0.8
    assert_sound(found)


@pytest.mark.parametrize(
    "path",
    [
        DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv",
        DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv",
    ],
    ids=["maven", "olist"],
)
def test_exports_without_times_of_work_get_no_calendar(path: Path) -> None:
    """Maven (dates) and Olist (one instant per stage change) show no working hours."""
    found = discover(read_log(path, lenient=True))
    assert found.process.calendar is None
    assert all(r.calendar is None for r in found.process.roles)
    assert any(n.startswith("calendars: none") for n in found.notes) or not found.process.roles


def test_effort_is_counted_in_the_owners_working_hours() -> None:
    """The engine runs effort on the owner's calendar, so discovery measures it there too."""
    cal = Calendar(
        days=(0, 1, 2, 3, 4), windows=(TimeWindow(start=9 * 60, end=17 * 60),), timezone=TZ
    )
    shanghai = [
        (datetime(2024, 1, 1, 16, 30), datetime(2024, 1, 2, 9, 30)),  # overnight: 0.5 + 0.5 h
        (datetime(2024, 1, 5, 16, 0), datetime(2024, 1, 8, 10, 0)),  # over a weekend: 1 + 1 h
        (datetime(2024, 1, 6, 10, 0), datetime(2024, 1, 6, 10, 45)),  # a Saturday: as it took
    ]
    frame = pl.DataFrame(
        {"started_at": [a for a, _ in shanghai], "left_at": [b for _, b in shanghai]}
    ).with_columns(
        pl.col("started_at", "left_at").dt.replace_time_zone(TZ).dt.convert_time_zone("UTC")
    )
    assert working_hours(frame, cal).tolist() == [1.0, 2.0, 0.75]
