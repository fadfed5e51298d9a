"""Conformance: hand-built logs for each reason, Wilson bounds, pm4py running example, Maven."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from flowsim.api import parse
from flowsim.history import read_csv, read_log
from flowsim.history.conformance import (
    ConformanceReport,
    conformance,
    conformance_table,
    deal_fit,
    wilson_interval,
)
from flowsim.history.log import DealLog
from flowsim.history.metrics import metrics

DATA = Path("/work/shared/data")
PM4PY = DATA / "pm4py-logs"
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
needs_pm4py_logs = pytest.mark.skipif(not PM4PY.exists(), reason="shared data not available")
needs_maven = pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")
approx = pytest.approx

# lead -> demo -> proposal -> won/lost, with a trial branch straight to an outcome:
#   forward paths lead->proposal: only via demo; demo->won: only via proposal;
#   lead->won: via demo+proposal or via trial (no stage on every path); demo->trial: neither way.
TINY_FLOW = """process "Tiny"
stage lead "Lead"
stage demo "Demo"
stage proposal "Proposal"
stage trial "Trial"
outcome won "Won" { result won }
outcome lost "Lost" { result lost }
lead -> demo 70%
lead -> trial 10%
lead -> lost
demo -> proposal 50%
demo -> lost
proposal -> won 40%
proposal -> lost
trial -> won 30%
trial -> lost
"""

# One deal per case, days from 2024-01-01:
#   F1 fits, closed; F2 fits, open (stage written as its label, different case)
#   S1 skips demo (lead -> proposal); S2 lead -> won (skip, alternatives); S3 demo -> won
#   W1 starts in demo; U1 has an unknown stage; A1 has a record after its outcome
#   B1 goes back proposal -> demo (re-entries of demo and proposal); R1 repeats lead
#   C1 crosses demo -> trial
TINY = """deal,stage,timestamp
F1,lead,2024-01-01
F1,demo,2024-01-02
F1,proposal,2024-01-03
F1,won,2024-01-04
F2, LEAD ,2024-01-01
F2,demo,2024-01-02
S1,lead,2024-01-01
S1,proposal,2024-01-02
S1,lost,2024-01-03
S2,lead,2024-01-01
S2,won,2024-01-02
S3,lead,2024-01-01
S3,demo,2024-01-02
S3,won,2024-01-03
W1,demo,2024-01-01
W1,proposal,2024-01-02
U1,lead,2024-01-01
U1,qualify,2024-01-02
U1,demo,2024-01-03
A1,lead,2024-01-01
A1,lost,2024-01-02
A1,demo,2024-01-03
B1,lead,2024-01-01
B1,demo,2024-01-02
B1,proposal,2024-01-03
B1,demo,2024-01-04
B1,proposal,2024-01-05
B1,won,2024-01-06
R1,lead,2024-01-01
R1,lead,2024-01-02
R1,demo,2024-01-03
C1,lead,2024-01-01
C1,demo,2024-01-02
C1,trial,2024-01-03
C1,won,2024-01-04
"""


def log_of(tmp_path: Path, text: str, name: str = "deals.csv") -> DealLog:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return read_csv(path)


@pytest.fixture
def tiny(tmp_path: Path) -> ConformanceReport:
    return conformance(log_of(tmp_path, TINY), parse(TINY_FLOW))


# --- Wilson score interval -----------------------------------------------------------------


def test_wilson_interval_by_hand() -> None:
    # z = 1.959964: centre (0.4 + z²/200) / (1 + z²/100) = 0.403697,
    # half-width z / (1 + z²/100) · sqrt(0.4·0.6/100 + z²/40000) = 0.094296
    low, high = wilson_interval(40, 100)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.3094, 0.4980)
    # k = 0: [0, z²/(n + z²)] = [0, 3.841459/13.841459]
    low, high = wilson_interval(0, 10)  # type: ignore[misc]
    assert low == 0.0
    assert high == approx(0.277532, abs=1e-6)
    assert wilson_interval(10, 10) == (approx(1 - 0.277532, abs=1e-6), 1.0)
    assert wilson_interval(0, 0) is None
    # 99%: z = 2.575829, centre 0.406222, half-width 0.122361
    low, high = wilson_interval(40, 100, 0.99)  # type: ignore[misc]
    assert (round(low, 4), round(high, 4)) == (0.2839, 0.5286)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, 1.5)


# --- every reason on a hand-built log -------------------------------------------------------


def test_fitting_deals_and_reasons(tiny: ConformanceReport, tmp_path: Path) -> None:
    assert tiny.deals == 11
    assert tiny.entry == "lead"
    fits = deal_fit(log_of(tmp_path, TINY), parse(TINY_FLOW))
    assert fits.filter("fits")["deal"].to_list() == ["F1", "F2"]
    assert (tiny.fitting, tiny.non_fitting, tiny.fitting_closed, tiny.fitting_open) == (2, 9, 1, 1)
    assert tiny.fitting_share == approx(2 / 11)
    r = {k: (v.deals, v.occurrences, v.examples) for k, v in tiny.reasons.items()}
    assert r["wrong-start"] == (1, 1, ["W1"])
    # S1, S2, S3, B1 (proposal -> demo), R1 (lead -> lead), C1 (demo -> trial); U1's moves
    # touch the unknown stage and A1's come after its outcome, so neither is checked
    assert r["undesigned-transition"] == (6, 6, ["B1", "C1", "R1"])
    assert r["unknown-stage"] == (1, 1, ["U1"])
    assert r["after-outcome"] == (1, 1, ["A1"])
    assert tiny.wrong_starts == {"demo": 1}
    assert [(u.stage, u.records, u.deals, u.examples) for u in tiny.unknown_stages] == [
        ("qualify", 1, 1, ["U1"])
    ]
    row = fits.filter(fits["deal"] == "A1").row(0, named=True)
    assert row == {
        "deal": "A1",
        "fits": False,
        "closed": True,  # it closed at its first outcome (lost); the later demo is after it
        "wrong_start": False,
        "undesigned_moves": 0,
        "unknown_records": 0,
        "after_outcome_records": 1,
    }


def test_undesigned_transitions_kinds_and_skipped_stages(tiny: ConformanceReport) -> None:
    got = {(u.source, u.target): (u.kind, u.count, u.deals, u.skipped) for u in tiny.undesigned}
    assert got == {
        ("lead", "proposal"): ("skip", 1, 1, ["demo"]),
        ("lead", "won"): ("skip", 1, 1, []),  # via demo+proposal or via trial
        ("demo", "won"): ("skip", 1, 1, ["proposal"]),
        ("proposal", "demo"): ("backward", 1, 1, []),
        ("lead", "lead"): ("repeat", 1, 1, []),
        ("demo", "trial"): ("cross", 1, 1, []),
    }
    # deterministic order: most moves first, then source, then target
    assert [(u.source, u.target) for u in tiny.undesigned] == sorted(got)
    # stages in flow order (distance from the entry, then declaration)
    assert [(s.stage, s.count, s.deals) for s in tiny.skipped] == [
        ("demo", 1, 1),
        ("proposal", 1, 1),
    ]


def test_repeated_stages(tiny: ConformanceReport) -> None:
    got = {
        s.stage: (s.visits, s.deals, s.reentries, s.deals_reentering, s.designed_loop)
        for s in tiny.repeated
    }
    assert got == {
        "lead": (11, 10, 1, 1, False),  # R1; W1 never entered lead
        "demo": (10, 9, 1, 1, False),  # B1
        "proposal": (5, 4, 1, 1, False),  # B1
    }


def test_edges_observed_vs_designed(tiny: ConformanceReport, tmp_path: Path) -> None:
    edges = {(e.source, e.target): e for e in tiny.edges}
    assert list(edges) == [
        ("lead", "demo"),
        ("lead", "trial"),
        ("lead", "lost"),
        ("demo", "proposal"),
        ("demo", "lost"),
        ("proposal", "won"),
        ("proposal", "lost"),
        ("trial", "won"),
        ("trial", "lost"),
    ]
    e = edges[("lead", "demo")]
    # exits of lead: every lead record followed by another (11 lead records, none last)
    # F1, F2, S3, B1, R1 (its second lead), C1
    assert (e.designed, e.count, e.exits) == (0.7, 6, 11)
    assert e.observed == approx(6 / 11)
    assert (e.low, e.high) == wilson_interval(6, 11)
    assert not e.flagged
    assert edges[("lead", "lost")].designed == approx(0.2)  # the remainder
    assert edges[("trial", "lost")].designed == approx(0.7)
    assert edges[("trial", "lost")].exits == 1
    # observed conversion is metrics' next-step conversion (the log as it is: its 'qualify'
    # records, which the design lacks, would be refused by metrics' funnel checks)
    m = metrics(log_of(tmp_path, TINY), parse(TINY_FLOW), check=False)
    for (src, dst), edge in edges.items():
        assert edge.observed == m.stages[src].next_step_conversion.get(dst, 0.0)


def test_ci_flag_and_verdict(tmp_path: Path) -> None:
    flow = (
        'process "Flag"\nstage needs\nstage design\noutcome won { result won }\n'
        "outcome lost { result lost }\nneeds -> design 55%\nneeds -> lost\ndesign -> won\n"
    )
    rows = ["deal,stage,timestamp"]
    for i in range(100):
        rows.append(f"d{i:03},needs,2024-01-01")
        rows.append(f"d{i:03},{'design' if i < 40 else 'lost'},2024-01-02")
    log = log_of(tmp_path, "\n".join(rows) + "\n")
    r = conformance(log, parse(flow))
    assert r.fitting == 100
    e = r.edges[0]
    assert (e.count, e.exits, e.observed) == (40, 100, 0.4)
    assert (round(e.low or 0, 4), round(e.high or 0, 4)) == (0.3094, 0.4980)
    assert e.flagged  # 55% > 49.8%
    assert r.edges[1].flagged  # 45% < 60% [50.2%, 69.1%]
    assert e.verdict == (
        "needs -> design: design says 55%; history says 40.0% [30.9%, 49.8%] of 100 exits, "
        "lower than designed (consider 40%)"
    )
    assert [x.target for x in r.flagged] == ["design", "lost"]
    inside = conformance(log, parse(flow.replace("55%", "45%")))
    assert not inside.edges[0].flagged
    assert inside.edges[0].verdict is None
    assert inside.verdicts() == []
    # a wider interval (99%: [28.6%, 52.6%]) does not flag 50%
    fifty = parse(flow.replace("55%", "50%"))
    assert conformance(log, fifty).edges[0].flagged
    assert not conformance(log, fifty, confidence=0.99).edges[0].flagged


def test_undesigned_exits_named_in_the_verdict(tiny: ConformanceReport) -> None:
    # demo's exits: F1, W1 and B1 twice to proposal; S3 -> won and C1 -> trial (undesigned)
    e = next(e for e in tiny.edges if (e.source, e.target) == ("demo", "proposal"))
    assert (e.count, e.exits) == (4, 6)
    assert not e.flagged  # 50% is inside [30.0%, 90.3%]
    lost = next(e for e in tiny.edges if (e.source, e.target) == ("demo", "lost"))
    assert (lost.count, lost.exits, lost.low) == (0, 6, 0.0)
    assert lost.flagged  # 50% > 39.0%
    assert lost.verdict is not None
    assert lost.verdict.endswith("(2 of the exits take moves the design lacks)")


def test_verdict_mentions_moves_the_design_lacks(tmp_path: Path) -> None:
    flow = 'process "P"\nstage a\nstage b\nstage c\noutcome done\na -> b\nb -> c\nc -> done\n'
    rows = ["deal,stage,timestamp"]
    for i in range(30):
        rows += [f"d{i},a,2024-01-01", f"d{i},{'b' if i < 10 else 'c'},2024-01-02"]
    r = conformance(log_of(tmp_path, "\n".join(rows) + "\n"), parse(flow))
    assert r.edges[0].verdict is not None
    assert r.edges[0].verdict.endswith("(20 of the exits take moves the design lacks)")
    assert [(s.stage, s.count, s.deals) for s in r.skipped] == [("b", 20, 20)]


def test_json_is_deterministic_and_frames(tiny: ConformanceReport, tmp_path: Path) -> None:
    again = conformance(log_of(tmp_path, TINY, "again.csv"), parse(TINY_FLOW))
    assert tiny.to_json().replace("deals.csv", "again.csv") == again.to_json()
    data = json.loads(tiny.to_json())
    assert data["reasons"]["wrong-start"]["deals"] == 1
    frame = tiny.to_frame()
    assert frame.columns[:4] == ["source", "target", "designed", "count"]
    assert frame.height == 9
    assert tiny.to_frame("undesigned").height == 6
    assert tiny.to_frame("unknown")["stage"].to_list() == ["qualify"]
    assert tiny.to_pandas("unknown")["stage"].to_list() == ["qualify"]
    for view in (tiny.to_frame, tiny.to_pandas):
        with pytest.raises(ValueError, match="frame kind"):
            view("nope")  # type: ignore[arg-type]


def test_text_report(tiny: ConformanceReport) -> None:
    text = conformance_table(tiny)
    assert "fitting deals: 2 of 11 (18.2%; 1 closed, 1 open); not fitting: 9" in text
    assert "undesigned-transition: 6 deals (6 moves)" in text
    assert "first stages other than lead: demo 1" in text
    assert "'qualify' (1)" in text
    assert "lead -> proposal" in text and "cross" in text


def test_unsorted_hand_built_log_same_report(tmp_path: Path) -> None:
    log = log_of(tmp_path, TINY)
    # deals in descending order, each deal's records still in time order
    shuffled = DealLog(log.frame.sort("deal", descending=True, maintain_order=True), log.report)
    assert not shuffled.frame["deal"].is_sorted()
    process = parse(TINY_FLOW)
    assert conformance(shuffled, process).to_json() == conformance(log, process).to_json()


def test_empty_design_edges_without_exits(tmp_path: Path) -> None:
    log = log_of(tmp_path, "deal,stage,timestamp\nd1,lead,2024-01-01\n")
    r = conformance(log, parse(TINY_FLOW))
    assert (r.deals, r.fitting, r.fitting_open) == (1, 1, 1)
    e = r.edges[0]
    assert (e.exits, e.observed, e.low, e.high, e.flagged) == (0, None, None, None, False)


# --- the pm4py running example ---------------------------------------------------------------

RUNNING_FLOW = """process "Running example"
stage register "register request"
stage examine_casually "examine casually"
stage examine_thoroughly "examine thoroughly"
stage check "check ticket"
stage decide "decide"
stage reinitiate "reinitiate request"
outcome pay "pay compensation" { result won }
outcome reject "reject request" { result lost }
register -> examine_casually 60%
register -> examine_thoroughly
examine_casually -> check
examine_thoroughly -> check
check -> decide
decide -> pay 40%
decide -> reject 30%
decide -> reinitiate
reinitiate -> examine_casually 50%
reinitiate -> examine_thoroughly
"""


@needs_pm4py_logs
@pytest.mark.parametrize("name", ["running-example.xes", "running-example.csv"])
def test_running_example(name: str) -> None:
    log = read_log(PM4PY / name)
    process = parse(RUNNING_FLOW)
    fits = deal_fit(log, process)
    # 1: register, examine thoroughly, check, decide, reject
    # 3: ... decide, reinitiate, examine thoroughly, check, decide, pay
    # 6: register, examine casually, check, decide, pay
    # 2 and 4 check the ticket before examining; 5 also reinitiates straight to the check
    assert fits.filter("fits")["deal"].to_list() == ["1", "3", "6"]
    r = conformance(log, process)
    assert (r.deals, r.fitting, r.fitting_closed) == (6, 3, 3)
    assert r.reasons["undesigned-transition"].deals == 3
    assert {k: v.deals for k, v in r.reasons.items() if k != "undesigned-transition"} == {
        "wrong-start": 0,
        "unknown-stage": 0,
        "after-outcome": 0,
    }
    got = {(u.source, u.target): (u.kind, u.count, u.skipped) for u in r.undesigned}
    assert got == {
        ("register", "check"): ("skip", 2, []),  # either examination could have come first
        ("check", "examine_casually"): ("backward", 2, []),
        ("examine_casually", "decide"): ("skip", 2, ["check"]),
        ("check", "examine_thoroughly"): ("backward", 1, []),
        ("examine_thoroughly", "decide"): ("skip", 1, ["check"]),
        ("reinitiate", "check"): ("backward", 1, []),
    }
    assert [(s.stage, s.count, s.deals) for s in r.skipped] == [("check", 3, 3)]
    assert {s.stage: s.reentries for s in r.repeated} == {
        "examine_casually": 2,
        "check": 3,
        "decide": 3,
        "reinitiate": 1,
    }
    assert all(s.designed_loop for s in r.repeated)
    flagged = [(e.source, e.target) for e in r.flagged]
    assert flagged == [("examine_casually", "check"), ("examine_thoroughly", "check"),
                       ("check", "decide")]  # fmt: skip
    decide = {e.target: (e.count, e.exits) for e in r.edges if e.source == "decide"}
    assert decide == {"pay": (3, 9), "reject": (3, 9), "reinitiate": (3, 9)}


# --- Maven CRM (wide shape, open deals) -----------------------------------------------------

MAVEN_FLOW = """process "Maven CRM"
stage engaging "Engaging"
outcome won "Won" { result won }
outcome lost "Lost" { result lost }
engaging -> won 60%
engaging -> lost
"""


@needs_maven
def test_maven_crm_win_rate_against_a_60_percent_design() -> None:
    log = read_log(MAVEN)
    assert log.report.shape == "wide"
    r = conformance(log, parse(MAVEN_FLOW))
    assert (r.rows_read, r.rows_used, r.rows_skipped) == (8800, 8300, 500)
    # every deal starts Engaging and is won, lost or still open there
    assert (r.deals, r.fitting, r.fitting_closed, r.fitting_open) == (8300, 8300, 6711, 1589)
    won, lost = r.edges
    assert (won.count, won.exits) == (4238, 6711)
    assert round(100 * (won.observed or 0), 1) == 63.2
    # p = 0.631501, z²/n = 0.000572, centre 0.631426, half-width 0.011538
    assert (round(won.low or 0, 4), round(won.high or 0, 4)) == (0.6199, 0.6430)
    assert won.flagged  # 60% is below the interval: the design undersells the win rate
    assert won.verdict == (
        "engaging -> won: design says 60%; history says 63.2% [62.0%, 64.3%] of 6,711 exits, "
        "higher than designed (consider 63%)"
    )
    assert lost.flagged
    assert r.undesigned == [] and r.skipped == [] and r.repeated == []
    # a 63% design is inside the interval
    ok = conformance(log, parse(MAVEN_FLOW.replace("60%", "63%")))
    assert not any(e.flagged for e in ok.edges)


# --- CLI --------------------------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run([exe, *args], capture_output=True, text=True, check=False)


def test_cli_end_to_end(tmp_path: Path) -> None:
    log = tmp_path / "deals.csv"
    log.write_text(TINY, encoding="utf-8")
    flow = tmp_path / "tiny.flow"
    flow.write_text(TINY_FLOW, encoding="utf-8")
    r = run("conformance", str(log), "--process", str(flow))
    assert r.returncode == 0, r.stderr  # deals that do not fit are findings, not errors
    assert "fitting deals: 2 of 11" in r.stdout
    assert "transitions the design lacks:" in r.stdout
    assert "designed edges:" in r.stdout
    out = tmp_path / "conformance.json"
    r = run("conformance", str(log), "--process", str(flow), "--format", "json", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""
    data = json.loads(out.read_text(encoding="utf-8"))
    assert (data["deals"], data["fitting"]) == (11, 2)
    assert (
        out.read_text(encoding="utf-8")
        == conformance(read_csv(log), parse(TINY_FLOW)).to_json() + "\n"
    )


def test_cli_map_and_lenient(tmp_path: Path) -> None:
    log = tmp_path / "export.csv"
    log.write_text(
        "opp,phase,when\nd1,Lead,2024-01-01\nd1,Won,2024-13-45\nd2,Lead,2024-01-01\n",
        encoding="utf-8",
    )
    flow = tmp_path / "tiny.flow"
    flow.write_text(TINY_FLOW, encoding="utf-8")
    args = ["conformance", str(log), "--process", str(flow)]
    args += ["--map", "deal=opp,stage=phase,entered_at=when"]
    bad = run(*args)
    assert bad.returncode == 1
    assert "export.csv:3" in bad.stderr and "Traceback" not in bad.stderr
    ok = run(*args, "--lenient", "--format", "json")
    assert ok.returncode == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert (data["rows_read"], data["rows_used"], data["rows_skipped"]) == (3, 2, 1)
    assert (data["deals"], data["fitting"]) == (2, 2)


def test_cli_unreadable_inputs_exit_1(tmp_path: Path) -> None:
    flow = tmp_path / "tiny.flow"
    flow.write_text(TINY_FLOW, encoding="utf-8")
    log = tmp_path / "deals.csv"
    log.write_text(TINY, encoding="utf-8")
    assert run("conformance", str(tmp_path / "missing.csv"), "--process", str(flow)).returncode == 1
    broken = tmp_path / "broken.flow"
    broken.write_text("stage a\na -> nowhere\n", encoding="utf-8")
    r = run("conformance", str(log), "--process", str(broken))
    assert r.returncode == 1
    assert "nowhere" in r.stderr
    assert run("conformance", str(log)).returncode == 2  # --process is required


def test_a_deal_may_start_at_any_entry_of_a_mix(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    process = parse((root / "examples/language/19-entry-mix.flow").read_text(encoding="utf-8"))
    path = tmp_path / "mix.csv"
    path.write_text(
        "deal,stage,timestamp\n"
        "D1,contact,2024-01-01\nD1,proposal,2024-01-02\nD1,won,2024-01-03\n"
        "D2,inbound,2024-01-01\nD2,proposal,2024-01-02\n"
        "D3,proposal,2024-01-01\nD3,lost,2024-01-02\n",
        encoding="utf-8",
    )
    report = conformance(read_csv(path), process)
    assert report.entries == ["contact", "inbound"] and report.entry == "contact"
    assert report.reasons["wrong-start"].deals == 1  # D3 only: proposal is no entry
    assert report.wrong_starts == {"proposal": 1}
    assert "first stages other than contact, inbound: proposal 1" in conformance_table(report)
