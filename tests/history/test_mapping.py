"""Column mapping: --map text, TOML files, auto-detection; problems' wording."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowsim.history import LogError, Mapping
from flowsim.history.problems import BAD_DATE, problem


def test_parse_cli_map() -> None:
    m = Mapping.parse("deal=opportunity_id, stage=StageName,entered_at=CreatedDate,left=exit")
    assert (m.deal, m.stage, m.timestamp, m.end) == (
        "opportunity_id",
        "StageName",
        "CreatedDate",
        "exit",
    )


@pytest.mark.parametrize("text", ["deal", "deal=", "colour=red"])
def test_parse_errors(text: str) -> None:
    with pytest.raises(LogError) as exc:
        Mapping.parse(text)
    assert exc.value.problems[0].name == "bad-mapping"


def test_load_toml(tmp_path: Path) -> None:
    path = tmp_path / "m.toml"
    path.write_text(
        '[columns]\ndeal = "商机编号"\nstage = "阶段"\n\n[stages]\n"初步接触" = "contact"\n\n'
        "[options]\ncollapse_repeats = true\n",
        encoding="utf-8",
    )
    m = Mapping.load(path)
    assert (m.deal, m.stage, m.collapse_repeats) == ("商机编号", "阶段", True)
    assert m.stage_aliases == {"初步接触": "contact"}


@pytest.mark.parametrize(
    "text", ["[columns\n", '[colums]\ndeal = "x"\n', '[columns]\nfoo = "x"\n', "[options]\nx=1\n"]
)
def test_load_toml_errors(tmp_path: Path, text: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LogError) as exc:
        Mapping.load(path)
    assert exc.value.problems[0].name == "bad-mapping"


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="cannot read mapping file"):
        Mapping.load(tmp_path / "none.toml")


@pytest.mark.parametrize(
    ("columns", "expected", "layout"),
    [
        (
            ["", "concept:name", "org:resource", "time:timestamp", "case:concept:name"],
            {
                "deal": "case:concept:name",
                "stage": "concept:name",
                "timestamp": "time:timestamp",
                "owner": "org:resource",
            },
            "pm4py/XES keys",
        ),
        (
            ["Id", "OpportunityId", "CreatedDate", "StageName", "Amount"],
            {
                "deal": "OpportunityId",
                "stage": "StageName",
                "timestamp": "CreatedDate",
                "amount": "Amount",
            },
            "Salesforce OpportunityHistory",
        ),
        (
            ["Opportunity ID", "Deal Stage", "Changed At", "Sales Agent", "Close Value"],
            {
                "deal": "Opportunity ID",
                "stage": "Deal Stage",
                "timestamp": "Changed At",
                "owner": "Sales Agent",
                "amount": "Close Value",
            },
            "generic",
        ),
        (
            ["case:concept:name", "concept:name", "time:timestamp", "start_timestamp"],
            {
                "deal": "case:concept:name",
                "stage": "concept:name",
                "end": "time:timestamp",
                "start": "start_timestamp",
            },
            "pm4py interval log",
        ),
    ],
)
def test_auto_detection(columns: list[str], expected: dict[str, str], layout: str) -> None:
    resolved = Mapping().resolve(columns)
    assert resolved.columns == expected
    assert resolved.layout == layout
    assert resolved.collapse_repeats is (layout == "Salesforce OpportunityHistory")


def test_explicit_mapping_beats_detection() -> None:
    resolved = Mapping(stage="Activity").resolve(["case_id", "concept:name", "Activity", "date"])
    assert resolved.columns["stage"] == "Activity"
    assert "stage" not in resolved.auto


def test_problem_text() -> None:
    q = problem(
        kind=BAD_DATE,
        message="unparseable date",
        source="deals.csv",
        row=17,
        column="close_date",
        value="2017-13-45",
        hint="dates read as ISO 8601",
    )
    assert str(q) == (
        "deals.csv:17: column 'close_date': unparseable date '2017-13-45' "
        "(hint: dates read as ISO 8601)"
    )
    assert str(problem(kind=BAD_DATE, message="m")) == "<input>: m"
