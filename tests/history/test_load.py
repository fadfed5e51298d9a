"""Reading a log the way the commands do, from Python: ReadOptions, parse_filter, load_history.

The rules that used to live in the ``flowsim`` command (options in their written forms, the
filters' text, the funnel's checks, the idle rule and its note) are the API's; the command
prints what they recorded. These tests hold Python and the command to the same results on
Maven's raw export, cross-checked with polars.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

import flowsim
from flowsim.cli import main
from flowsim.errors import OptionError
from flowsim.history import LogError, Mapping, read_log
from flowsim.history.load import apply_idle, load_history
from flowsim.history.options import ReadOptions, parse_filter
from tests.data import DATA

MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
needs_maven = pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")

#: Maven's stages but "Lost", which this design calls "Gone": every lost deal is unknown to it
NO_LOST = """process "Maven without Lost"
stage engaging "Engaging"
outcome won "Won" { result won }
outcome gone "Gone" { result lost }
engaging -> won 60%
engaging -> gone
"""


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.stdout, result.stderr


# --- ReadOptions: the options in the forms a person writes them -----------------------------


def test_read_options_take_the_written_forms() -> None:
    kwargs = ReadOptions(sheet="2", delimiter="\\t", decimal="comma", tz="Asia/Shanghai")
    assert kwargs.reader_kwargs() == {
        "tz": "Asia/Shanghai",
        "lenient": False,
        "delimiter": "\t",  # a backslash and a t: a tab
        "sheet": 2,  # digits: the sheet's 0-based index
        "decimal": "comma",
    }
    assert ReadOptions(sheet="Deals").reader_kwargs()["sheet"] == "Deals"


def test_a_mapping_written_as_text_is_parsed_and_a_bad_one_is_a_log_error() -> None:
    mapping = ReadOptions(mapping="deal=opportunity_id,stage=deal_stage").resolved_mapping()
    assert isinstance(mapping, Mapping)
    with pytest.raises(LogError) as caught:  # located, like a log's problems: exit 1
        ReadOptions(mapping="deal").reader_kwargs()
    [problem] = caught.value.problems
    assert problem.message.startswith("expected field=column")
    code, _, err = invoke("metrics", "any.csv", "--map", "deal")
    assert code == 1
    assert f"flowsim: {problem.source}: {problem.message}" in err or problem.message in err


def test_read_log_takes_the_options_and_keywords_override_them(tmp_path: Path) -> None:
    path = tmp_path / "deals.tsv"
    path.write_text("deal\tstage\ttimestamp\nd1\tLead\t2024-01-02\nd1\tWon\t2024-01-05\n")
    log = read_log(path, options=ReadOptions(delimiter="\\t", tz="Europe/Berlin"))
    assert (log.deals, len(log)) == (1, 2)
    assert log.report.delimiter == "\t"
    assert read_log(path, options=ReadOptions(delimiter=","), delimiter="\t").deals == 1


# --- parse_filter: the filters as the command line writes them ------------------------------


def test_filters_written_as_text() -> None:
    rules = parse_filter(
        stages=["A_*,W_*"],
        where=['product=GTX Pro,"MG, Special"', "region!=East"],
        start="2017-01-01",
        tz="UTC",
    )
    assert rules.stages == ["A_*", "W_*"]
    assert rules.where == {"product": ["GTX Pro", "MG, Special"]}
    assert rules.where_not == {"region": ["East"]}
    assert str(rules.start) == "2017-01-01"


@pytest.mark.parametrize(
    ("kwargs", "option"),
    [({"where": ["product"]}, "where"), ({"start": "March"}, "start"), ({"end": "x"}, "end")],
)
def test_a_bad_rule_names_its_option(kwargs: dict[str, object], option: str) -> None:
    with pytest.raises(OptionError) as caught:
        parse_filter(**kwargs)  # type: ignore[arg-type]
    assert caught.value.option == option


# --- load_history: read, filter, check, idle; recorded, never printed -----------------------


@needs_maven
def test_load_history_records_filters_and_the_idle_note_without_printing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    log = load_history(
        MAVEN,
        ReadOptions(lenient=True),
        subset=parse_filter(where=["product=GTXPro"]),
        idle="90d",
    )
    assert capsys.readouterr() == ("", "")
    raw = pl.read_csv(MAVEN, infer_schema=False)
    dated = raw.filter(pl.col("engage_date").is_not_null())
    gtx = dated.filter(pl.col("product") == "GTXPro")
    assert log.deals == gtx.height  # a deal per dated row of the product
    [kept] = log.report.filters
    assert kept.rule == "product = GTXPro" and kept.deals_after == gtx.height
    # open deals (no close) whose engagement is 90 days or more before the last date of the
    # kept deals: the idle rule's (their last activity is the engagement)
    dates = gtx.select(pl.col("engage_date", "close_date").str.to_date())
    end = max(dates["engage_date"].max(), dates["close_date"].max())  # type: ignore[type-var]
    quiet = dates.filter(
        pl.col("close_date").is_null(),
        pl.col("engage_date") + pl.duration(days=90) <= pl.lit(end),
    )
    still_open = quiet.height
    assert 0 < still_open < gtx.filter(pl.col("close_date").is_null()).height
    [note] = log.report.notes
    assert note.startswith(f"idle rule: {still_open} open deal(s) with no activity for 90d")


@needs_maven
def test_the_command_prints_what_the_api_recorded() -> None:
    code, _, err = invoke(
        "metrics", str(MAVEN), "--lenient", "--where", "product=GTXPro", "--idle-lost", "90d"
    )
    assert code == 0
    log = load_history(
        MAVEN, ReadOptions(lenient=True), subset=parse_filter(where=["product=GTXPro"]), idle="90d"
    )
    lines = err.splitlines()
    assert f"flowsim: note: filter {log.report.filters[0].line()}" in lines
    assert f"flowsim: note: {log.report.notes[-1]}" in lines
    # the order the steps ran: the filter, the skipped rows, the idle rule
    assert lines[0].startswith("flowsim: note: filter ")
    assert lines[-1] == f"flowsim: note: {log.report.notes[-1]}"


def test_the_idle_rule_needs_a_positive_time_and_an_outcome_to_close_into(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text("deal,stage,timestamp\nd1,Lead,2024-01-02\nd2,Lead,2024-06-01\n")
    log = read_log(path)
    with pytest.raises(OptionError) as caught:
        apply_idle(log, "0d")
    assert caught.value.option == "idle"
    process = flowsim.parse('process "p"\nstage lead "Lead"\noutcome won "Won" { result won }\n'
                            "lead -> won\n")  # fmt: skip
    with pytest.raises(OptionError, match="add `idle 30d` to a lost outcome of 'p'"):
        apply_idle(log, "30d", process)
    closed = apply_idle(log, "30d")
    assert closed.report.notes == [
        "idle rule: 1 open deal(s) with no activity for 30d are lost ('Lost (idle 30d)', "
        "dated their last activity + 30d)"
    ]
    assert log.report.notes == []  # the caller's log is untouched


# --- the funnel's checks: flowsim.metrics(log, process) and the command agree ---------------


@needs_maven
def test_metrics_with_a_process_refuses_unknown_stages_like_the_command(tmp_path: Path) -> None:
    flow = tmp_path / "no-lost.flow"
    flow.write_text(NO_LOST, encoding="utf-8")
    process = flowsim.load(flow)
    code, _, err = invoke("metrics", str(MAVEN), "--process", str(flow))
    assert code == 1
    assert "stage not in the process" in err
    with pytest.raises(LogError) as caught:
        flowsim.metrics(read_log(MAVEN), process)
    found = len(caught.value.problems) + sum(caught.value.omitted.values())
    raw = pl.read_csv(MAVEN, infer_schema=False)
    lost_rows = raw.filter(pl.col("deal_stage") == "Lost", pl.col("engage_date").is_not_null())
    assert found == lost_rows.height  # one problem per lost deal's row, as polars counts them
    assert f"{lost_rows.height} rows" in err or f"{lost_rows.height:,} rows" in err


@needs_maven
def test_metrics_with_a_process_lenient_gives_the_command_s_json(tmp_path: Path) -> None:
    flow = tmp_path / "no-lost.flow"
    flow.write_text(NO_LOST, encoding="utf-8")
    process = flowsim.load(flow)
    code, out, _ = invoke(
        "metrics", str(MAVEN), "--process", str(flow), "--lenient", "-q", "--format", "json"
    )
    assert code == 0
    python = flowsim.metrics(read_log(MAVEN, lenient=True), process, lenient=True)
    assert out == python.to_json() + "\n"
    code, table, _ = invoke("metrics", str(MAVEN), "--process", str(flow), "--lenient", "-q")
    assert (code, table) == (
        0,
        python.text() if python.text().endswith("\n") else python.text() + "\n",
    )
    raw = pl.read_csv(MAVEN, infer_schema=False)
    dated = raw.filter(pl.col("engage_date").is_not_null())
    lost = dated.filter(pl.col("deal_stage") == "Lost").height
    header = json.loads(out)["header"]
    assert header["skipped_by_reason"]["unknown-stage"] == lost
    assert header["deals"] == dated.height - lost
    assert header["lost"] == 0 and header["won"] == dated["deal_stage"].eq("Won").sum()
    # load_history(funnel=True) is the command's path: the same figures again
    loaded = load_history(MAVEN, ReadOptions(lenient=True), funnel=True, process=process)
    assert flowsim.metrics(loaded, process).to_json() == python.to_json()
    # check=False measures the log as it is: the lost stage is unmatched, not skipped
    raw_figures = flowsim.metrics(read_log(MAVEN), process, check=False)
    assert raw_figures.header.unmatched_stages == ["Lost"]
