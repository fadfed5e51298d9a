"""The idle rule: a deal with no activity for a given time is lost, read the same everywhere."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

import flowsim
from flowsim.history import read_csv, read_log
from flowsim.history.discover import discover
from flowsim.history.idle import apply_idle_rule, idle_stage_name
from flowsim.history.metrics import metrics
from tests.data import DATA

OLIST = DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv"
CLOSED = DATA / "olist-marketing-funnel" / "olist_closed_deals_dataset.csv"

LOG = """deal,stage,timestamp
a,Lead,2024-01-01
a,Won,2024-01-05
b,Lead,2024-01-01
c,Lead,2024-01-01
c,Demo,2024-03-01
d,Lead,2024-03-20
"""


@pytest.fixture
def small(tmp_path: Path) -> flowsim.DealLog:
    path = tmp_path / "deals.csv"
    path.write_text(LOG, encoding="utf-8")
    return read_csv(path)


def test_only_open_deals_idle_that_long_are_lost(small: flowsim.DealLog) -> None:
    # the history ends 2024-03-20; 30 days of silence is dead
    idle, rule = apply_idle_rule(small, 30 * 24.0)
    assert rule.closed == 1 and rule.stage == "Lost (idle 30d)"
    added = idle.frame.filter(pl.col("source_row") < 0)
    # b: quiet since Jan 1 -> lost on Jan 31. c: Demo on Mar 1 is 19 days ago: still open.
    # a is won; d started on the last day.
    assert added["deal"].to_list() == ["b"]
    assert added["entered_at"].to_list() == [datetime(2024, 1, 31, tzinfo=UTC)]
    m = metrics(idle)
    assert (m.header.won, m.header.lost, m.header.open) == (1, 1, 2)
    assert "1 open deal(s) with no activity for 30d are lost" in rule.note()


def test_as_of_and_a_process_outcome(small: flowsim.DealLog) -> None:
    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    idle, rule = apply_idle_rule(small, 30 * 24.0, as_of=as_of, stage="quiet")
    assert rule.closed == 3  # b, c and d are all quiet by June
    assert set(idle.frame.filter(pl.col("stage") == "quiet")["deal"]) == {"b", "c", "d"}
    with pytest.raises(ValueError, match="greater than 0"):
        apply_idle_rule(small, 0.0)


def test_a_process_outcome_closes_a_deal_whatever_its_name(small: flowsim.DealLog) -> None:
    """With a process, its outcomes close deals, by id or label, whatever their words: its
    'Demo' closes deal c, and 'Won', which it does not name, closes nothing (a is quiet)."""
    process = flowsim.parse(
        'stage Lead\noutcome demo "Demo" { result won }\n'
        "outcome quiet { result lost idle 30d }\nLead -> demo"
    )
    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    by_words, _ = apply_idle_rule(small, 30 * 24.0, as_of=as_of, stage="quiet")
    idle, rule = apply_idle_rule(small, 30 * 24.0, as_of=as_of, stage="quiet", process=process)
    quiet = pl.col("stage") == "quiet"
    assert set(by_words.frame.filter(quiet)["deal"]) == {"b", "c", "d"}
    assert set(idle.frame.filter(quiet)["deal"]) == {"a", "b", "d"}
    assert rule.closed == 3


def test_discovery_writes_the_rule_into_the_model(small: flowsim.DealLog) -> None:
    idle, _ = apply_idle_rule(small, 30 * 24.0)
    p = discover(idle).process
    quiet = p.idle_outcome
    assert quiet is not None and quiet.label == idle_stage_name(30 * 24.0)
    assert (quiet.idle, quiet.result) == (30 * 24.0, "lost")
    assert "idle 30d" in p.to_flow()


def test_olist_leads_that_go_quiet_are_lost() -> None:
    """Olist records no lost lead: with 90 days of silence as dead, every lead that did not
    convert and was last touched 90 days before the data ends is lost (checked with polars)."""
    log = read_log(OLIST, lenient=True)
    idle, rule = apply_idle_rule(log, 90 * 24.0)
    leads = pl.read_csv(OLIST).select(
        "mql_id", first=pl.col("first_contact_date").str.to_datetime("%Y-%m-%d", time_zone="UTC")
    )
    won = pl.read_csv(CLOSED).select(
        "mql_id",
        won=pl.col("won_date").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC"),
    )
    both = leads.join(won, on="mql_id", how="left")
    end = max(both["first"].max(), both["won"].max())  # type: ignore[type-var]
    quiet = both.filter(
        pl.col("won").is_null() & (pl.col("first") + timedelta(days=90) <= end)
    ).height
    assert rule.closed == quiet
    m = metrics(idle)
    assert (m.header.won, m.header.lost, m.header.open) == (841, quiet, 7999 - 841 - quiet)


# --- one rule on every command: the CLI ------------------------------------------------------


def test_cli_discover_writes_the_rule_and_every_command_applies_it(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flowsim.cli import main

    runner = CliRunner()
    flow = tmp_path / "olist.flow"
    found = runner.invoke(
        main, ["discover", str(OLIST), "--lenient", "--idle-lost", "90d", "-o", str(flow)]
    )
    assert found.exit_code == 0, found.output
    text = flow.read_text(encoding="utf-8")
    assert 'outcome lost_idle_90d "Lost (idle 90d)" { idle 90d }' in text
    assert "MQL -> won 10.5%" in text
    # the model's rule applies to its history without the option: 841 won, the rest lost
    measured = runner.invoke(main, ["metrics", str(OLIST), "--lenient", "--process", str(flow)])
    assert measured.exit_code == 0, measured.output
    assert "won 841, lost 7,158, open 0" in measured.output
    assert "idle rule: 7158 open deal(s) with no activity for 90d are lost" in measured.output
    checked = runner.invoke(
        main, ["conformance", str(OLIST), "--lenient", "--process", str(flow), "--format", "json"]
    )
    assert checked.exit_code == 0, checked.output
    # a model without an idle outcome cannot say where quiet deals end
    plain = tmp_path / "plain.flow"
    plain.write_text("stage MQL\noutcome won\nMQL -> won\n", encoding="utf-8")
    refused = runner.invoke(
        main,
        ["metrics", str(OLIST), "--lenient", "--process", str(plain), "--idle-lost", "90d"],
    )
    assert refused.exit_code == 2
    assert "add `idle 90d` to a lost outcome" in refused.output
    bad = runner.invoke(main, ["metrics", str(OLIST), "--lenient", "--idle-lost", "soon"])
    assert bad.exit_code == 2 and "is not a duration" in bad.output


def test_forecast_from_a_past_date_applies_the_rule_as_of_then(tmp_path: Path) -> None:
    """On 2018-06-01 the open pipeline is the leads contacted in the 90 days before that
    were not won by then (a lead won in July was open, not lost, in June): polars count."""
    from click.testing import CliRunner

    from flowsim.cli import main

    runner = CliRunner()
    flow = tmp_path / "olist.flow"
    runner.invoke(
        main, ["discover", str(OLIST), "--lenient", "--idle-lost", "90d", "-o", str(flow)]
    )
    args = ["forecast", str(flow), "--history", str(OLIST), "--lenient", "-n", "5"]
    out = runner.invoke(main, [*args, "--horizon", "30d", "--as-of", "2018-06-01"])
    assert out.exit_code == 0, out.output
    as_of = datetime(2018, 6, 1, tzinfo=UTC)
    leads = pl.read_csv(OLIST).select(
        "mql_id", first=pl.col("first_contact_date").str.to_datetime("%Y-%m-%d", time_zone="UTC")
    )
    won = pl.read_csv(CLOSED).select(
        "mql_id",
        won=pl.col("won_date").str.to_datetime("%Y-%m-%d %H:%M:%S", time_zone="UTC"),
    )
    both = leads.join(won, on="mql_id", how="left").filter(
        pl.col("won").is_null() | (pl.col("won") >= pl.col("first"))
    )
    open_then = both.filter(
        (pl.col("first") <= as_of)
        & (pl.col("won").is_null() | (pl.col("won") > as_of))
        & (pl.col("first") + timedelta(days=90) > as_of)
    ).height
    assert f"Open pipeline: {open_then} deals" in out.output
