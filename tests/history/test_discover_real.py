"""Discovery on the users' own exports: what a designer would write, and true to the history.

Each test reads a raw export from the shared data (documented options only) and checks a
conclusion against a figure computed here independently with polars or numpy.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import polars as pl
import pytest

import flowsim
from flowsim.history import Mapping, read_log
from flowsim.history.conformance import conformance
from flowsim.history.discover import discover
from flowsim.history.mapping import load_roles
from flowsim.model import Stage
from flowsim.sim.simulate import simulate
from tests.data import DATA

BPIC = DATA / "bpic2012" / "bpic2012.xes.gz"
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
TEAMS = DATA / "maven-crm-sales-opportunities" / "sales_teams.csv"
OLIST = DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv"
CLOSED = DATA / "olist-marketing-funnel" / "olist_closed_deals_dataset.csv"


@pytest.fixture(scope="module")
def bpic(bpic_log: flowsim.DealLog) -> flowsim.DealLog:
    return bpic_log


@pytest.fixture(scope="module")
def bpic_found(bpic: flowsim.DealLog) -> flowsim.Discovery:
    return discover(bpic)


def _outgoing(process: flowsim.Process) -> dict[tuple[str, str], float]:
    return {(t.source, t.target): p for s in process.stages for t, p in process.outgoing(s.id)}


# --- outcomes: the closing activities of an event log ----------------------------------------


def test_bpic_outcomes_are_its_closing_activities(bpic_found: flowsim.Discovery) -> None:
    """BPIC 2012 names no outcome Won or Lost; its closing activities are found and read."""
    results = {o.id: o.result for o in bpic_found.process.outcomes}
    assert results == {
        "O_ACCEPTED": "won",
        "A_APPROVED": "won",
        "A_REGISTERED": "won",  # no word: the approvals it always comes with
        "A_ACTIVATED": "won",
        "A_DECLINED": "lost",
        "A_CANCELLED": "lost",
        "O_DECLINED": "lost",
    }
    assert sum("closes deals" in n for n in bpic_found.notes) == 7


def test_bpic_won_share_matches_the_approved_cases(
    bpic: flowsim.DealLog, bpic_found: flowsim.Discovery
) -> None:
    """The model's share of won deals is the share of cases with A_APPROVED (SOURCE.md:
    2,246 of 13,087), between "open = not won" and "open = left out" (399 open)."""
    from flowsim.checks import expected_visits

    approved = bpic.frame.filter(pl.col("stage") == "A_APPROVED")["deal"].n_unique()
    assert approved == 2246
    visits = expected_visits(bpic_found.process)
    won = sum(visits[o.id] for o in bpic_found.process.outcomes if o.result == "won")
    assert approved / 13087 <= won <= (approved + 399) / 13087


# --- roles: pools of people who do the same work ------------------------------------------


def test_bpic_roles_are_pools_and_system_steps_have_no_owner(
    bpic: flowsim.DealLog, bpic_found: flowsim.Discovery
) -> None:
    p = bpic_found.process
    assert 1 < len(p.roles) <= 10  # not 68 roles of one person each
    assert all(r.id.startswith("pool_") and r.label for r in p.roles)
    stages = [n for n in p.stages if isinstance(n, Stage)]
    work = [s for s in stages if (s.label or s.id).startswith("W_")]
    # the W_ work items have start/complete lifecycles and people; A_ and O_ are instants
    assert all(s.owner is not None for s in work if s.id != "w_wijzigen_contractgegevens")
    assert all(s.owner is None for s in stages if not (s.label or s.id).startswith("W_"))
    # headcount = the people active in the period: every resource of the owned W_ stages once
    owned = {s.label for s in work if s.owner is not None}
    people = (
        bpic.frame.filter(pl.col("stage").is_in(list(owned)) & pl.col("owner").is_not_null())[
            "owner"
        ]
        .unique()
        .len()
    )
    assert sum(r.headcount for r in p.roles) == people


def test_maven_agents_are_one_pool() -> None:
    """Maven's 30 agents all work Engaging: one role of 30, not 30 roles of one."""
    log = read_log(MAVEN, lenient=True)
    agents = log.frame["owner"].drop_nulls().n_unique()
    found = discover(log)
    (role,) = found.process.roles
    assert role.headcount == agents == 30
    engaging = found.process.node("Engaging")
    assert isinstance(engaging, Stage) and engaging.owner == role.id
    # with the teams file: the six managers' teams do the same work, one pool named after them
    teams = read_log(MAVEN, lenient=True, mapping=Mapping(roles=load_roles(TEAMS, role="manager")))
    (pool,) = discover(teams).process.roles
    assert pool.headcount == 30 and pool.label is not None and "Cara Losch" in pool.label
    # one role per person on request
    assert len(discover(log, role_mode="per-person").process.roles) == 30
    assert discover(log, role_mode="none").process.roles == ()


# --- routing: open deals are censored, never dropped ----------------------------------------


def _olist_lead_times() -> tuple[np.ndarray, np.ndarray]:
    """Per lead: days from first contact to the win or to the last date of the data, and
    whether it was won — from the two raw CSV files, with polars only."""
    leads = pl.read_csv(OLIST).select(
        "mql_id", first=pl.col("first_contact_date").str.to_datetime("%Y-%m-%d")
    )
    won = pl.read_csv(CLOSED).select(
        "mql_id", won=pl.col("won_date").str.to_datetime("%Y-%m-%d %H:%M:%S")
    )
    both = leads.join(won, on="mql_id", how="left").filter(
        pl.col("won").is_null() | (pl.col("won") >= pl.col("first"))  # one is won before
    )
    end = max(both["first"].max(), both["won"].max())  # type: ignore[type-var]
    days = (pl.coalesce("won", pl.lit(end)) - pl.col("first")).dt.total_seconds() / 86400
    frame = both.select(days=days, event=pl.col("won").is_not_null())
    return frame["days"].to_numpy(), frame["event"].to_numpy()


def _aalen_johansen(days: np.ndarray, event: np.ndarray) -> float:
    """P(won by the end of follow-up) with one cause: 1 - Kaplan–Meier, ties events first."""
    order = np.lexsort((~event, days))
    d, e = days[order], event[order]
    at_risk = len(d) - np.arange(len(d))
    return float(1 - np.prod(np.where(e, 1 - 1 / at_risk, 1.0)))


def test_olist_lead_to_won_counts_open_leads_as_censored() -> None:
    """841 of 7,999 leads won; the 7,158 others are open, not ignored: the discovered
    MQL -> won share is the censoring-aware estimate, inside its bootstrap interval."""
    found = discover(read_log(OLIST, lenient=True))
    p_won = _outgoing(found.process)[("MQL", "won")]
    days, event = _olist_lead_times()
    assert int(event.sum()) == 841 and len(days) == 7999
    estimate = _aalen_johansen(days, event)
    rng = np.random.default_rng(0)
    boot = [
        _aalen_johansen(days[i], event[i])
        for i in (rng.integers(0, len(days), len(days)) for _ in range(200))
    ]
    low, high = np.quantile(boot, [0.025, 0.975])
    assert low <= p_won <= high
    assert p_won == pytest.approx(estimate, abs=0.0006)  # written to 0.1 percentage point
    assert 0.10 < p_won < 0.13  # never "MQL -> won 100%"
    assert any("censored" in n for n in found.notes)


# --- one log, one reading: discovery, conformance and replay agree -------------------------


def test_bpic_discovery_and_conformance_agree(bpic: flowsim.DealLog) -> None:
    found = discover(bpic, min_share=0)
    report = conformance(bpic, found.process)
    by_reason = report.reasons
    for reason in ("undesigned-transition", "wrong-start", "unknown-stage"):
        assert by_reason[reason].deals == 0, reason
    # the records after a close that discovery did not model are the after-outcome findings
    (note,) = [n for n in found.notes if "after a deal's close" in n]
    later = int(re.search(r"(\d+) later", note).group(1))  # type: ignore[union-attr]
    assert by_reason["after-outcome"].occurrences == later
    assert not [e for e in report.edges if e.flagged]
    # with the default min-share, an edge off its interval is one that absorbed folded moves
    folded = discover(bpic)
    flagged = [e for e in conformance(bpic, folded.process).edges if e.flagged]
    notes = " ".join(folded.notes)
    for edge in flagged:
        source = folded.process.node(edge.source)
        assert f"'{source.label or source.id}': moves below min-share" in notes


def test_bpic_discovered_model_replays_its_own_log(
    bpic: flowsim.DealLog, bpic_found: flowsim.Discovery
) -> None:
    """Every stage of the log is in the model (rare ones kept), so the replay runs, and it
    closes exactly the deals the history closed."""
    result = simulate(bpic_found.process, bpic, replications=1, unlimited=True, workers=1)
    kpis = result.baseline.kpis
    assert kpis["arrived"].mean == 13087
    per_case = bpic.frame.group_by("deal").agg(
        won=pl.col("stage").is_in(["A_APPROVED", "O_ACCEPTED", "A_ACTIVATED"]).any()
    )
    assert kpis["won"].mean == int(per_case["won"].sum()) == 2246
    assert "W_Beoordelen fraude" in {s.label for s in bpic_found.process.stages}


# --- durations written as a person would ----------------------------------------------------


def test_durations_read_like_a_person_wrote_them(bpic_found: flowsim.Discovery) -> None:
    text = bpic_found.to_flow()
    assert not re.search(r"0\.0000\d", text)  # nothing finer than 0.0001h (0.36 s)
    for _mean, m_unit, sd, s_unit in re.findall(
        r"(?:lognormal|gamma)\(mean ([\d.]+)([mhd]), sd ([\d.]+)([mhd])\)", text
    ):
        # a spread of at least one of its mean's units is written in that unit
        if float(sd) >= 1 and s_unit != m_unit:
            assert {"m": 1, "h": 60, "d": 1440}[s_unit] < {"m": 1, "h": 60, "d": 1440}[m_unit]


# --- the entry mix: deals start where the history says -------------------------------------


HELPDESK = DATA / "pm4py-logs" / "helpdesk.xes.gz"


def _first_per_case(log: flowsim.DealLog) -> dict[str, int]:
    """Cases per first activity, counted with polars alone (earliest record of each case)."""
    firsts = (
        log.frame.sort("deal", "entered_at", maintain_order=True)
        .group_by("deal", maintain_order=True)
        .agg(pl.col("stage").first())
    )
    return dict(firsts["stage"].value_counts().iter_rows())


def _mapped_into(notes: list[str], entry: str) -> int:
    """Deals of rare first stages that discovery says it mapped to ``entry``."""
    pattern = rf"starts (\d+) deals? .*mapped to the nearest entry '{re.escape(entry)}'"
    return sum(int(m.group(1)) for n in notes if (m := re.search(pattern, n)))


@pytest.fixture(scope="module")
def bpic_w(bpic: flowsim.DealLog) -> flowsim.DealLog:
    """BPIC 2012's work items, as `--stages 'W_*'` keeps them (docs/metrics.md)."""
    from flowsim.history.subset import LogFilter, apply_filter

    return apply_filter(bpic, LogFilter(stages=["W_*"]))


def test_bpic_w_entry_mix_is_each_case_s_first_work_item(bpic_w: flowsim.DealLog) -> None:
    """50.2% of the cases start at W_Completeren aanvraag, 49.1% at W_Afhandelen leads, 0.7%
    at W_Beoordelen fraude: the discovered model enters them there, in those shares."""
    found = discover(bpic_w)
    mix = {s.label or s.id: share for s, share in found.process.entries}
    counted = _first_per_case(bpic_w)
    cases = sum(counted.values())
    assert cases == 9658
    assert (
        set(mix)
        == set(counted)
        == {
            "W_Completeren aanvraag",
            "W_Afhandelen leads",
            "W_Beoordelen fraude",
        }
    )
    for stage, n in counted.items():  # written to 0.1 points, as transitions are
        assert abs(mix[stage] - n / cases) <= 0.0005 + 1e-12, (stage, mix[stage], n / cases)
    text = found.to_flow()
    for share in ("50.2%", "49.1%", "0.7%"):
        assert f"start {share}\n" in text
    assert found.process.entry is not None
    assert found.process.entry.label == "W_Completeren aanvraag"  # the largest share
    assert flowsim.parse(text) == found.process  # the written shares read back exactly


def test_bpic_w_replay_enters_each_deal_at_its_real_first_stage(
    bpic_w: flowsim.DealLog,
) -> None:
    """Replay does not draw from the mix: every deal enters where it really started."""
    found = discover(bpic_w)
    result = simulate(found.process, bpic_w, replications=1, unlimited=True, workers=1)
    assert result.baseline.kpis["arrived"].mean == 9658
    sim = result.event_log.frame
    labels = {s.id: s.display for s in found.process.stages}
    first_sim = (
        sim.sort("deal", "entered_at", maintain_order=True)
        .group_by("deal", maintain_order=True)
        .agg(pl.col("stage").first())
        .with_columns(pl.col("stage").replace(labels))
    )
    first_real = (
        bpic_w.frame.sort("deal", "entered_at", maintain_order=True)
        .group_by("deal", maintain_order=True)
        .agg(pl.col("stage").first().alias("real"))
    )
    both = first_sim.join(first_real, on="deal")
    assert both.height == 9658
    assert (both["stage"] == both["real"]).all()


def test_helpdesk_keeps_insert_ticket_as_an_entry_with_its_share() -> None:
    """118 tickets start at 'Insert ticket' and none moves into it: it is an entry of the mix
    (it used to be left out, so the model could not replay its own log)."""
    log = read_log(HELPDESK, lenient=True)
    found = discover(log)
    mix = {s.label or s.id: share for s, share in found.process.entries}
    counted = _first_per_case(log)
    tickets = sum(counted.values())
    assert (counted["Insert ticket"], tickets) == (118, 4580)
    inserted = counted["Insert ticket"] + _mapped_into(found.notes, "Insert ticket")
    assert abs(mix["Insert ticket"] - inserted / tickets) <= 0.0005 + 1e-12
    assert "start 2.6%\n" in found.to_flow()
    assert not [n for n in found.notes if n.endswith(": left out")]
    # every first stage of the log is an entry or mapped to one, with a note
    for stage, n in counted.items():
        if stage not in mix and stage in {s.label for s in found.process.stages}:
            assert any(f"'{stage}' starts {n} deal" in note for note in found.notes), stage


def test_helpdesk_discovered_model_replays_its_own_log(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flowsim.cli import main

    flow = tmp_path / "helpdesk.flow"
    found = CliRunner().invoke(main, ["discover", str(HELPDESK), "--lenient", "-o", str(flow)])
    assert found.exit_code == 0, found.stderr
    assert "Insert ticket" in flow.read_text(encoding="utf-8")
    args = ["simulate", str(flow), "--history", str(HELPDESK), "--lenient", "-n", "1"]
    replay = CliRunner().invoke(main, args)
    assert replay.exit_code == 0, replay.stderr
