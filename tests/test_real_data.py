"""docs/real-data.md: flowsim's numbers on the real exports agree with an independent count.

``scripts/crosscheck.py`` computes the key numbers with polars alone (it never imports
flowsim); these tests compute the same numbers with flowsim and hold them equal, and check
that the generated page states them (so the page cannot drift from the truth).
"""

from __future__ import annotations

import importlib.util
import re
from types import ModuleType

import pytest

import flowsim
from flowsim.history import read_log
from flowsim.history.discover import discover
from flowsim.history.metrics import metrics
from tests.data import DATA, ROOT

PAGE = ROOT / "docs" / "real-data.md"


def _crosscheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crosscheck", ROOT / "scripts" / "crosscheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def check() -> ModuleType:
    return _crosscheck()


@pytest.fixture(scope="module")
def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def _stated(page: str, numbers: dict[str, object]) -> None:
    """The page prints every independent number (as crosscheck.py formats it)."""
    for key, value in numbers.items():
        text = f"{key}: {value:,}" if isinstance(value, int) else f"{key}: {value}"
        assert text in page, text


def test_maven(check: ModuleType, page: str) -> None:
    want = check.maven(DATA)
    log = read_log(DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv", lenient=True)
    h = metrics(log).header
    assert (h.deals, h.won, h.lost, h.open) == (
        want["deals"],
        want["won"],
        want["lost"],
        want["open"],
    )
    assert log.report.rows_skipped == want["skipped (no dated stage)"]
    (role,) = discover(log).process.roles
    assert role.headcount == want["agents"]
    _stated(page, want)
    assert f'role pool_1 "Engaging team" headcount {want["agents"]}' in page


def _outgoing(process: flowsim.Process) -> dict[tuple[str, str], float]:
    return {(t.source, t.target): p for s in process.stages for t, p in process.outgoing(s.id)}


def test_olist(check: ModuleType, page: str) -> None:
    want = check.olist(DATA)
    path = DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv"
    log = read_log(path, lenient=True)
    h = metrics(log).header
    assert (h.deals, h.won) == (want["leads"], want["won"])
    p_won = _outgoing(discover(log).process)[("MQL", "won")]
    assert f"{100 * p_won:.1f}%" == want["P(won), open leads censored"]
    _stated(page, want)
    assert f"MQL -> won {100 * p_won:.1f}%" in page
    quiet = want["not won and quiet for 90 days"]
    assert f"won {want['won']:,}, lost {quiet:,}, open 0" in page


def test_bpic(check: ModuleType, page: str) -> None:
    want = check.bpic(DATA)
    log = read_log(DATA / "bpic2012" / "bpic2012.xes.gz")
    assert (log.deals, log.report.rows_read) == (want["cases"], want["events"])
    mapped = read_log(
        DATA / "bpic2012" / "bpic2012.xes.gz",
        mapping=flowsim.history.Mapping(
            outcomes={"A_APPROVED": "won", "A_DECLINED": "lost", "A_CANCELLED": "lost"}
        ),
        lenient=True,
    )
    h = metrics(mapped).header
    assert (h.won, h.lost, h.open) == (
        want["approved"],
        want["declined"] + want["cancelled"],
        want["open"],
    )
    _stated(page, want)
    # the replay of the discovered model closes exactly the approved applications
    won = re.search(r"won \(deals\)\s+([\d,]+)\.0", page)
    assert won is not None and int(won.group(1).replace(",", "")) == want["approved"]


def test_helpdesk(check: ModuleType, page: str) -> None:
    want = check.helpdesk(DATA)
    log = read_log(DATA / "pm4py-logs" / "helpdesk.xes.gz", lenient=True)
    assert log.deals == want["tickets"]
    found = discover(log)
    assert {o.label or o.id for o in found.process.outcomes} >= {"Closed"}
    # tickets that start at 'Insert ticket' (none moves into it): an entry of the mix
    inserted = want["starting at 'Insert ticket'"]
    assert isinstance(inserted, int)
    mix = {s.label or s.id: share for s, share in found.process.entries}
    assert abs(mix["Insert ticket"] - inserted / log.deals) < 0.001  # 0.1 points, as written
    _stated(page, want)
