"""The report's cumulative flow diagram: bands are work in progress, the top is arrivals."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

import flowsim
from flowsim.history.consistency import to_node_ids
from flowsim.report.build import ENDED, _cfd, cfd_bands
from flowsim.report.i18n import words
from tests.data import DATA

MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"

MODEL = """
process "cfd" { }
stage s1
stage s2
outcome won
outcome lost
s1 -> s2 50%
s1 -> lost
s2 -> won
"""


def _us(day: float) -> int:
    return int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1e6 + day * 86_400e6)


def test_bands_match_a_hand_computation(tmp_path: Path) -> None:
    """A: s1 on day 0, s2 on day 2, won on day 5. B: s1 on day 1, lost on day 3.
    C: s1 on day 4, still open. D: s2 from day 1 to day 2 (an exit, no outcome).

    day   s1  s2  ended  lost  won   top (= deals arrived)
    0      1   0      0     0    0   1
    1      2   1      0     0    0   3
    2      1   1      1     0    0   3
    3      0   1      1     1    0   3
    4      1   1      1     1    0   4
    5      1   0      1     1    1   4
    6      1   0      1     1    1   4
    """
    path = tmp_path / "deals.csv"
    path.write_text(
        "deal,stage,start,end\n"
        "A,s1,2026-01-01,\nA,s2,2026-01-03,\nA,won,2026-01-06,\n"
        "B,s1,2026-01-02,\nB,lost,2026-01-04,\n"
        "C,s1,2026-01-05,\n"
        "D,s2,2026-01-02,2026-01-03\n",
        encoding="utf-8",
    )
    log = flowsim.read_log(path)
    process = flowsim.parse(MODEL)
    ticks = np.array([_us(d) for d in range(7)])
    bands = cfd_bands(log.frame, ["s1", "s2"], ["won", "lost"], ticks)
    # bottom to top: outcomes, the ended state, then the stages from last to first
    assert list(bands) == ["won", "lost", ENDED, "s2", "s1"]
    assert {k: v.tolist() for k, v in bands.items()} == {
        "s1": [1, 2, 1, 0, 1, 1, 1],
        "s2": [0, 1, 1, 1, 1, 0, 0],
        ENDED: [0, 0, 1, 1, 1, 1, 1],
        "lost": [0, 0, 0, 1, 1, 1, 1],
        "won": [0, 0, 0, 0, 0, 1, 1],
    }
    top = np.sum(list(bands.values()), axis=0)
    assert top.tolist() == [1, 3, 3, 3, 4, 4, 4]
    section = _cfd(words("en"), process, log, "test")
    assert section.svg is not None and "left its last stage, no outcome recorded" in section.svg


def _y_ticks(svg: str) -> list[float]:
    """The y axis's tick labels, as numbers (matplotlib writes each label as a comment)."""
    labels = re.findall(r'<g id="ytick_\d+">.*?<!-- (.*?) -->', svg, flags=re.S)
    return [float(x.replace(",", "").replace("\u2212", "-")) for x in labels]


def test_maven_diagram_tops_out_at_the_number_of_deals() -> None:
    log = flowsim.read_log(MAVEN, lenient=True)
    process = flowsim.discover(log).process
    observed = to_node_ids(log, process)
    deals = pl.read_csv(MAVEN).filter(pl.col("engage_date").is_not_null()).height
    assert log.deals == deals == 8300
    start = log.frame["entered_at"].min()
    ticks = np.linspace(_stamp(start), _stamp(log.frame["entered_at"].max()), 50).astype(np.int64)
    bands = cfd_bands(
        observed.frame, [s.id for s in process.stages], [o.id for o in process.outcomes], ticks
    )
    top = np.sum(list(bands.values()), axis=0)
    arrived = np.searchsorted(
        np.sort(
            log.frame.group_by("deal")
            .agg(pl.col("entered_at").min())["entered_at"]
            .dt.epoch("us")
            .to_numpy()
        ),
        ticks,
        side="right",
    )
    assert top.tolist() == arrived.tolist()
    assert top.max() == deals
    # work in progress in Engaging: the deals engaged and not yet closed
    engaged = bands["Engaging"]
    assert engaged.max() < deals / 2
    svg = _cfd(words("en"), process, observed, "Maven").svg
    assert svg is not None
    assert 0 < max(_y_ticks(svg)) <= deals  # was about 15,000 when entries were stacked


def _stamp(value: object) -> int:
    assert isinstance(value, datetime)
    return int(value.timestamp() * 1e6)
