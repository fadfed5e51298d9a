"""`flowsim metrics`, `conformance` and `discover` end to end, per format and shape.

Real logs from ``/work/shared/data`` (the pm4py running example and Helpdesk log, BPI
Challenge 2012, the Maven CRM pipeline, the Olist marketing funnel) or files written here from
them (TSV, GBK with Chinese names, Excel, Parquet, SQLite), plus the synthetic Pipedrive export
in ``layouts/``. Every command goes through the real CLI (click's runner, in process); every
discovered model must pass ``flowsim check``. The figures asserted are the logs' documented
counts (see each SOURCE.md), not numbers copied from flowsim's output.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from flowsim.cli import main
from flowsim.history.discover import slug
from tests.history.test_cli_metrics import _running_example_frames

DATA = Path("/work/shared/data")
RUNNING = DATA / "pm4py-logs" / "running-example.csv"
MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
OLIST = DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv"
LAYOUTS = Path(__file__).parent / "layouts"

#: the running example's activity counts (6 cases, 42 events; pm4py's documentation)
VISITS = {
    "register request": 6,
    "examine casually": 6,
    "examine thoroughly": 3,
    "check ticket": 9,
    "decide": 9,
    "reinitiate request": 3,
    "pay compensation": 3,
    "reject request": 3,
}
#: the same activities as a Chinese CRM would name them
CHINESE = {
    "register request": "登记申请",
    "examine casually": "初步审查",
    "examine thoroughly": "详细审查",
    "check ticket": "核对票据",
    "decide": "决定",
    "reinitiate request": "重新申请",
    "pay compensation": "赔付",
    "reject request": "拒绝",
}

#: the running example's design: every activity named (by label), outcomes won/lost
RUNNING_FLOW = """process "Claims" {{
  arrivals 2 per week
}}

stage register "{register request}"
stage casual "{examine casually}"
stage thorough "{examine thoroughly}"
stage ticket "{check ticket}"
stage decide "{decide}"
stage reinitiate "{reinitiate request}"
outcome pay "{pay compensation}" {{ result won }}
outcome reject "{reject request}" {{ result lost }}

register -> casual 50%
register -> thorough 20%
register -> ticket
casual -> ticket
thorough -> ticket
ticket -> decide
decide -> pay 35%
decide -> reject 35%
decide -> reinitiate
reinitiate -> ticket
"""


def cli(*args: str) -> str:
    """Run flowsim; stdout on success, else fail with its stderr."""
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout


def checked_flow(path: Path) -> str:
    """The discovered file's text, after `flowsim check` accepted it (warnings allowed)."""
    cli("check", str(path))
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, tuple[str, ...]]]:
    """The running example in every long format: path and extra CLI arguments."""
    out = tmp_path_factory.mktemp("formats")
    files = _running_example_frames(out)  # CSV, Parquet, Excel and SQLite copies
    frame = pl.read_csv(files["csv"], infer_schema=False)
    frame.write_csv(out / "claims.tsv", separator="\t")
    chinese = frame.with_columns(pl.col("stage").replace(CHINESE)).rename(
        {"deal_id": "商机", "stage": "阶段", "entered_at": "进入时间", "owner": "负责人"}
    )
    (out / "claims-gbk.csv").write_bytes(chinese.write_csv().encode("gbk"))
    sql = ("--sql", "select * from history", "--db", f"sqlite:///{files['db']}")
    return {
        "csv": (RUNNING, ()),
        "tsv": (out / "claims.tsv", ()),
        "gbk-csv": (out / "claims-gbk.csv", ()),
        "xlsx": (files["xlsx"], ()),
        "parquet": (files["parquet"], ()),
        "xes": (DATA / "pm4py-logs" / "running-example.xes", ()),
        "sqlite": (Path(), sql),
    }


def _log_args(entry: tuple[Path, tuple[str, ...]]) -> list[str]:
    path, extra = entry
    return [*([str(path)] if extra == () else []), *extra]


@pytest.mark.parametrize("fmt", ["csv", "tsv", "gbk-csv", "xlsx", "parquet", "xes", "sqlite"])
def test_long_formats_metrics_conformance_discover(
    logs: dict[str, tuple[Path, tuple[str, ...]]], fmt: str, tmp_path: Path
) -> None:
    names = CHINESE if fmt == "gbk-csv" else {k: k for k in CHINESE}
    args = _log_args(logs[fmt])
    data = json.loads(cli("metrics", *args, "--format", "json"))
    assert (data["header"]["rows_read"], data["header"]["deals"]) == (42, 6)
    assert {s: v["visits"] for s, v in data["stages"].items()} == {
        names[k]: v for k, v in VISITS.items()
    }
    flow = tmp_path / "claims.flow"
    flow.write_text(_flow(names), encoding="utf-8")
    measured = json.loads(cli("metrics", *args, "--process", str(flow), "--format", "json"))
    assert (measured["header"]["won"], measured["header"]["lost"]) == (3, 3)
    report = json.loads(cli("conformance", *args, "--process", str(flow), "--format", "json"))
    assert (report["deals"], report["rows_read"], report["unknown_stages"]) == (6, 42, [])
    edges = {(e["source"], e["target"]): e for e in report["edges"]}
    # decide is left 9 times: 3 to pay, 3 to reject, 3 to reinitiate (the log's 9 decisions)
    assert edges[("decide", "pay")]["observed"] == pytest.approx(3 / 9)
    discovered = tmp_path / "discovered.flow"
    cli("discover", *args, "-o", str(discovered))
    text = checked_flow(discovered)
    assert "  arrivals 1.67 per week\n" in text  # 6 deals: too few for an arrival profile
    assert f"stage {slug(names['check ticket'])}" in text  # Chinese names stay Chinese


def _flow(names: dict[str, str]) -> str:
    text = RUNNING_FLOW
    for key, value in names.items():
        text = text.replace("{" + key + "}", value)
    return text.replace("{{", "{").replace("}}", "}")


def test_xes_gz_bpic2012_application_funnel() -> None:
    """BPI Challenge 2012 (13,087 cases, 262,200 events), read once, through the CLI."""
    data = json.loads(
        cli("metrics", str(DATA / "bpic2012" / "bpic2012.xes.gz"), "--format", "json")
    )
    header = data["header"]
    assert (header["rows_read"], header["deals"]) == (262_200, 13_087)
    share = {s: round(100 * v["entered"] / header["deals"], 1) for s, v in data["stages"].items()}
    assert share["A_SUBMITTED"] == 100.0
    assert share["A_PREACCEPTED"] == 56.3
    assert share["A_ACCEPTED"] == 39.1
    assert share["A_FINALIZED"] == 38.3
    assert share["A_APPROVED"] == 17.2


def test_xes_gz_helpdesk_conformance_and_discover(tmp_path: Path) -> None:
    """Helpdesk (4,580 cases, 21,348 events, 14 activities): discover, then replay on it."""
    log = str(DATA / "pm4py-logs" / "helpdesk.xes.gz")
    flow = tmp_path / "helpdesk.flow"
    # the log repeats some events (same case, activity and second): skipped and counted
    found = CliRunner().invoke(main, ["discover", log, "--lenient", "-o", str(flow)])
    assert found.exit_code == 0, found.stderr
    left_out = {
        line.split("'")[1] for line in found.stderr.splitlines() if line.endswith(": left out")
    }
    # some tickets start at 'Insert ticket', none move into it: an entry of the mix, kept
    assert "Insert ticket" not in left_out
    text = checked_flow(flow)
    assert '"Insert ticket" {\n  start 2.6%\n' in text
    # 4,580 tickets over four years with times of day: weekdays and hours, no trend. The
    # export holds only closed tickets and its last weeks thin out (42 starts in the last 53
    # days where 172 are due): a right-truncated log, so the written rate is the corrected one,
    # above the plain 4,580 tickets / 207.3 weeks = 22.1 (docs/metrics.md, "Right-truncated logs")
    assert "arrival rate: right-truncated" in found.stderr
    assert "= 22.1 per week" in found.stderr
    assert "  arrivals 22.8 per week {\n    weekdays Mon 1.3  Tue 1.6" in text
    assert "\n    hours 06:00-07:00 0.042  07:00-08:00 2" in text
    report = json.loads(
        cli("conformance", log, "--lenient", "--process", str(flow), "--format", "json")
    )
    assert (report["deals"], report["rows_read"]) == (4580, 21_348)
    assert report["rows_used"] + report["rows_skipped"] == 21_348
    assert set(report["skipped_by_reason"]) == {"duplicate-event"}
    # the replay meets exactly the activities the discovery said it left out (unreachable)
    assert {u["stage"] for u in report["unknown_stages"]} == left_out
    # a ticket starting at any entry of the mix starts where the model says
    assert report["reasons"]["wrong-start"]["deals"] <= 4  # the 4 mapped rare first stages
    data = json.loads(cli("metrics", log, "--lenient", "--format", "json"))
    assert len(data["stages"]) == 14


MAVEN_FLOW = """process "Maven CRM" {
  arrivals 50 per week
}

stage engaging "Engaging"
outcome won "Won" { result won }
outcome lost "Lost" { result lost }

engaging -> won 63%
engaging -> lost
"""


@pytest.fixture(scope="module")
def maven_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("maven")
    typed = pl.read_csv(MAVEN, try_parse_dates=True)
    typed.write_parquet(out / "sales_pipeline.parquet")
    flow = out / "maven.flow"
    flow.write_text(MAVEN_FLOW, encoding="utf-8")
    return {"csv": MAVEN, "parquet": out / "sales_pipeline.parquet", "flow": flow}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_wide_maven_crm(maven_files: dict[str, Path], fmt: str, tmp_path: Path) -> None:
    """8,800 opportunities: 500 Prospecting without a date, 4,238 won, 2,473 lost (63.2%)."""
    log, flow = str(maven_files[fmt]), str(maven_files["flow"])
    text = cli("metrics", log, "--process", flow)
    assert "rows read 8,800, used 8,300, skipped 500 (deal-without-events 500)" in text
    assert "won 4,238, lost 2,473, open 1,589" in text
    report = json.loads(cli("conformance", log, "--process", flow, "--format", "json"))
    edge = next(e for e in report["edges"] if (e["source"], e["target"]) == ("engaging", "won"))
    assert round(edge["observed"], 3) == round(4238 / 6711, 3)
    discovered = tmp_path / "maven.flow"
    cli("discover", log, "-o", str(discovered))
    # Maven's engage dates: flat over the week, 14 months with no clear trend: a flat rate
    assert "  arrivals 133 per week\n}" in checked_flow(discovered)


def test_wide_pipedrive_export(tmp_path: Path) -> None:
    """Pipedrive's deals export: detected, current stages and Won/Lost times as the funnel."""
    log = str(LAYOUTS / "pipedrive-deals.csv")
    data = json.loads(cli("metrics", log, "--format", "json"))
    h = data["header"]
    assert (h["rows_read"], h["deals"], h["won"], h["lost"], h["open"]) == (12, 12, 5, 3, 4)
    # the 10 deals that changed stage have a "created" record before their current stage
    assert data["stages"]["created"]["entered"] == 10
    assert data["stages"]["Proposal Made"]["entered"] == 3
    mapping = tmp_path / "pipedrive.toml"
    mapping.write_text('[stages]\ncreated = "Qualified"\n', encoding="utf-8")
    aliased = json.loads(cli("metrics", log, "--map", str(mapping), "--format", "json"))
    assert aliased["stages"]["Qualified"]["entered"] == 12  # every deal starts there
    flow = tmp_path / "pipedrive.flow"
    cli("discover", log, "--map", str(mapping), "-o", str(flow))
    checked_flow(flow)
    report = json.loads(
        cli("conformance", log, "--map", str(mapping), "--process", str(flow), "--format", "json")
    )
    assert (report["deals"], report["unknown_stages"]) == (12, [])


def test_olist_marketing_funnel_two_files(tmp_path: Path) -> None:
    """8,000 leads, 842 closed deals; one won before its first contact (SOURCE.md)."""
    log = str(OLIST)
    refused = CliRunner().invoke(main, ["metrics", log])
    assert refused.exit_code == 1
    assert "olist_marketing_qualified_leads_dataset.csv:" in refused.stderr
    assert "enters 'MQL' after the deal closed as 'won'" in refused.stderr
    data = json.loads(cli("metrics", log, "--lenient", "--format", "json"))
    h = data["header"]
    assert (h["rows_read"], h["rows_used"], h["rows_skipped"]) == (8000, 7999, 1)
    assert h["skipped_by_reason"] == {"event-after-close": 1}
    assert (data["stages"]["MQL"]["entered"], data["stages"]["won"]["entered"]) == (7999, 841)
    assert round(100 * (841 + 1) / 8000, 1) == 10.5  # the documented conversion, anomaly included
    flow = tmp_path / "olist.flow"
    cli("discover", log, "--lenient", "-o", str(flow))
    checked_flow(flow)
    report = json.loads(
        cli("conformance", log, "--lenient", "--process", str(flow), "--format", "json")
    )
    assert report["deals"] == 7999


def test_olist_with_a_join_mapping(tmp_path: Path) -> None:
    """The documented recipe: the same funnel from an explicit [join] mapping file."""
    mapping = tmp_path / "olist.toml"
    deals = OLIST.with_name("olist_closed_deals_dataset.csv")
    mapping.write_text(
        f'[join]\nfile = "{deals}"\non = "mql_id"\n\n[stage_dates]\n'
        'MQL = "first_contact_date"\nwon = "won_date"\n\n[columns]\ndeal = "mql_id"\n'
        'owner = "sr_id"\n',
        encoding="utf-8",
    )
    copy = tmp_path / "leads.csv"  # not the Kaggle name: no automatic join
    copy.write_bytes(OLIST.read_bytes())
    data = json.loads(
        cli("metrics", str(copy), "--map", str(mapping), "--lenient", "--format", "json")
    )
    assert (data["stages"]["MQL"]["entered"], data["stages"]["won"]["entered"]) == (7999, 841)
    by_owner = json.loads(
        cli(
            "metrics",
            str(copy),
            "--map",
            str(mapping),
            "--lenient",
            "--by",
            "owner",
            "--format",
            "json",
        )
    )
    top = max(by_owner["groups"], key=lambda row: row["won"])
    assert top["won"] == 133  # the top sales rep (SOURCE.md)
    assert by_owner["all"]["won"] == 841


def test_arrival_profile_in_the_deals_time_zone(tmp_path: Path) -> None:
    """300 deals over 25 weeks: every Monday 9 created at 09:00 and every Friday 3 at 14:00 in
    Shanghai, logged in UTC. The profile is written in Shanghai time (weekdays, hours)."""
    monday = datetime(2024, 3, 4, 1, tzinfo=UTC)  # Mon 09:00 +08:00
    created = [monday + timedelta(weeks=w) for w in range(25) for _ in range(9)]
    created += [monday + timedelta(weeks=w, days=4, hours=5) for w in range(25) for _ in range(3)]
    text = "deal_id,stage,entered_at\n" + "".join(
        f"D{k},lead,{t:%Y-%m-%dT%H:%M:%SZ}\nD{k},won,{t + timedelta(days=1):%Y-%m-%dT%H:%M:%SZ}\n"
        for k, t in enumerate(created)
    )
    log = tmp_path / "deals.csv"
    log.write_text(text, encoding="utf-8")
    flow = tmp_path / "found.flow"
    cli("discover", str(log), "--tz", "Asia/Shanghai", "-o", str(flow))
    found = checked_flow(flow)
    # Mondays hold 3/4 of the deals, Fridays 1/4; per day of history (25 of each weekday,
    # the last Friday's deals end the history a day later): Mon 7 x 3/4, Fri 7 x 1/4
    assert 'arrivals 12.1 per week "Asia/Shanghai" {\n    weekdays Mon 5.2  Fri 1.8\n' in found
    assert "    hours 09:00-10:00 18  14:00-15:00 6\n" in found  # 24 x 3/4, 24 x 1/4
    assert cli("fmt", "--check", str(flow)) == ""
    from flowsim.history import read_log
    from flowsim.history.discover import discover

    profile = discover(read_log(log), tz="UTC").arrivals
    assert profile is not None
    assert profile.weekday["Mon"] == 0.75 and profile.hour == {
        h: (0.75 if h == 1 else 0.25 if h == 6 else 0.0) for h in range(24)
    }
