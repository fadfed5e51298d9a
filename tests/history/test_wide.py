"""Wide shape (one row per deal, one date column per stage): Maven CRM, HubSpot, generic."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flowsim.history import LogError, Mapping, load_roles, read_csv, read_log
from flowsim.history.log import SCHEMA, DealLog

MAVEN = Path("/work/shared/data/maven-crm-sales-opportunities")
needs_maven = pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")


def accounted(log: DealLog) -> None:
    r = log.report
    assert r.rows_read == r.rows_used + r.rows_skipped
    assert sum(r.skipped_by_reason.values()) == r.rows_skipped
    assert r.records == log.frame.height
    assert dict(log.frame.schema) == SCHEMA


def write(tmp_path: Path, text: str, name: str = "deals.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def cycle_days(log: DealLog) -> pl.DataFrame:
    f = log.frame
    engaged = f.filter(pl.col("stage") == "Engaging").select("deal", engaged="entered_at")
    closed = f.filter(pl.col("stage").is_in(["Won", "Lost"])).select(
        "deal", "stage", closed="entered_at"
    )
    return closed.join(engaged, on="deal").with_columns(
        days=(pl.col("closed") - pl.col("engaged")).dt.total_days()
    )


@needs_maven
def test_maven_sales_pipeline_documented_figures() -> None:
    teams = load_roles(MAVEN / "sales_teams.csv")
    log = read_log(MAVEN / "sales_pipeline.csv", mapping=Mapping(roles=teams))
    accounted(log)
    r = log.report
    assert (r.shape, r.layout) == ("wide", "Maven CRM sales_pipeline")
    assert r.mapping == {
        "deal": "opportunity_id",
        "stage": "deal_stage",
        "owner": "sales_agent",
        "amount": "close_value",
    }
    # 8,800 deals read; the 500 Prospecting deals have no date: counted, not dropped
    assert (r.rows_read, r.rows_used, r.rows_skipped) == (8800, 8300, 500)
    assert r.skipped_by_reason == {"deal-without-events": 500}
    skipped = [q for q in r.problems if q.name == "deal-without-events"]
    assert {q.value for q in skipped} == {"Prospecting"}
    assert all(q.severity == "warning" for q in skipped)
    assert len(skipped) + r.problems_omitted == 500
    assert log.deals == 8300
    stages = dict(log.frame.group_by("stage").len().iter_rows())
    assert stages == {"Engaging": 8300, "Won": 4238, "Lost": 2473}
    assert round(100 * stages["Won"] / (stages["Won"] + stages["Lost"]), 1) == 63.2
    cycles = cycle_days(log)
    assert cycles.height == 6711
    assert cycles["days"].median() == 45
    assert (cycles["days"].min(), cycles["days"].max()) == (1, 138)
    assert round(cycles["days"].mean(), 1) == 48.0
    by = dict(cycles.group_by("stage").agg(pl.col("days").median()).iter_rows())
    assert by == {"Won": 57, "Lost": 14}
    closed = log.frame.filter(pl.col("stage").is_in(["Won", "Lost"]))
    assert closed["amount"].sum() == 10_005_534
    assert closed.filter(pl.col("stage") == "Lost")["amount"].max() == 0
    months = closed.group_by(pl.col("entered_at").dt.strftime("%Y-%m")).len()
    assert dict(months.iter_rows())["2017-03"] == 647
    engaged = log.frame.filter(pl.col("stage") == "Engaging")
    assert engaged.filter(pl.col("entered_at").dt.strftime("%Y-%m") == "2016-10").height == 7
    assert log.frame["owner"].n_unique() == 30
    # owner → role table: sales_teams.csv's manager column
    assert len(log.roles) == 35
    assert log.roles["Moses Frase"] == "Dustin Brinkmann"
    assert not [q for q in r.problems if q.name == "owner-without-role"]
    first = log.frame.filter(pl.col("deal") == "1C1I7A6R")
    assert first["source_row"].to_list() == [2, 2]
    assert first["stage"].to_list() == ["Engaging", "Won"]
    assert first["amount"].to_list() == [1054.0, 1054.0]


@needs_maven
def test_maven_mapping_file_with_roles_file_and_outcomes(tmp_path: Path) -> None:
    toml = tmp_path / "maven.toml"
    toml.write_text(
        f'[options]\nroles_file = "{MAVEN / "sales_teams.csv"}"\nrole_column = "regional_office"\n'
        '\n[stages]\n"Engaging" = "engage"\n',
        encoding="utf-8",
    )
    log = read_csv(MAVEN / "sales_pipeline.csv", mapping=Mapping.load(toml))
    assert log.roles["Moses Frase"] == "Central"
    assert set(log.frame["stage"].unique()) == {"engage", "Won", "Lost"}


HUBSPOT = (
    "hs_object_id,dealname,dealstage,amount,hubspot_owner_id,createdate,pipeline,"
    "hs_v2_date_entered_appointmentscheduled,hs_v2_date_exited_appointmentscheduled,"
    "hs_v2_date_entered_qualifiedtobuy,hs_v2_date_exited_qualifiedtobuy,"
    "hs_v2_date_entered_closedwon,hs_v2_date_entered_closedlost,hs_v2_latest_time_in_closedwon\n"
    "101,Acme renewal,closedwon,12000,55,2024-01-02T09:00:00.000Z,default,"
    "2024-01-02T09:00:00.000Z,2024-01-05T10:00:00.000Z,2024-01-05T10:00:00.000Z,"
    "2024-02-01T08:30:00.000Z,2024-02-01T08:30:00.000Z,,\n"
    "102,Beta new,closedlost,5000,56,2024-01-03T12:00:00.000Z,default,"
    "2024-01-03T12:00:00.000Z,2024-01-10T12:00:00.000Z,,,,2024-01-10T12:00:00.000Z,\n"
    "103,Gamma,qualifiedtobuy,,55,2024-02-01T00:00:00.000Z,default,"
    "2024-02-01T00:00:00.000Z,2024-02-03T00:00:00.000Z,2024-02-03T00:00:00.000Z,,,,\n"
    "104,Delta imported,appointmentscheduled,800,57,2024-02-05T00:00:00.000Z,default,,,,,,,\n"
)


def test_hubspot_deal_export(tmp_path: Path) -> None:
    log = read_csv(write(tmp_path, HUBSPOT))
    accounted(log)
    r = log.report
    assert (r.shape, r.layout) == ("wide", "HubSpot deal export")
    assert r.mapping == {
        "deal": "hs_object_id",
        "stage": "dealstage",
        "owner": "hubspot_owner_id",
        "amount": "amount",
    }
    assert (r.rows_read, r.rows_used, r.rows_skipped) == (4, 3, 1)
    assert r.skipped_by_reason == {"deal-without-events": 1}
    assert [(q.row, q.value) for q in r.problems] == [(5, "appointmentscheduled")]
    f = log.frame
    assert f.filter(pl.col("deal") == "101")["stage"].to_list() == [
        "appointmentscheduled",
        "qualifiedtobuy",
        "closedwon",
    ]
    left = f.filter(pl.col("deal") == "101")["left_at"].to_list()
    assert [str(x) if x else None for x in left] == [
        "2024-01-05 10:00:00+00:00",
        "2024-02-01 08:30:00+00:00",
        None,
    ]
    assert f.filter(pl.col("deal") == "102")["stage"].to_list() == [
        "appointmentscheduled",
        "closedlost",
    ]
    gamma = f.filter(pl.col("deal") == "103")
    assert gamma["amount"].null_count() == 2
    assert gamma["left_at"].null_count() == 1  # still in qualifiedtobuy
    assert set(f["owner"].unique()) == {"55", "56"}


def test_hubspot_ui_export_labels(tmp_path: Path) -> None:
    text = (
        "Record ID,Deal Name,Deal Stage,Amount,Deal owner,"
        '"Date entered ""Appointment Scheduled (Sales Pipeline)""",'
        '"Date exited ""Appointment Scheduled (Sales Pipeline)""",'
        '"Date entered ""Closed Won (Sales Pipeline)"""\n'
        "7,X,Closed Won,100,Li Na,2024-03-01 09:00,2024-03-04 09:00,2024-03-04 09:00\n"
    )
    log = read_csv(write(tmp_path, text), tz="Asia/Shanghai")
    assert log.report.layout == "HubSpot deal export"
    assert log.frame["stage"].to_list() == [
        "Appointment Scheduled (Sales Pipeline)",
        "Closed Won (Sales Pipeline)",
    ]
    assert str(log.frame["entered_at"][0]) == "2024-03-01 01:00:00+00:00"
    assert log.frame["owner"].to_list() == ["Li Na", "Li Na"]


WIDE_ZH = (
    "商机编号,负责人,金额,初步接触日期,需求分析日期,方案报价日期\n"
    "D001,张伟,120000,2024-03-01 09:00,2024-03-05 14:30,\n"
    "D002,李娜,80000,2024-03-02 10:00,,\n"
    "D003,张伟,50000,2024-03-03 11:00,2024-03-04 11:00,2024-03-09 16:00\n"
)
LONG_ZH = (
    "商机编号,阶段,进入时间,负责人,金额\n"
    "D001,初步接触,2024-03-01 09:00,张伟,120000\n"
    "D001,需求分析,2024-03-05 14:30,张伟,120000\n"
    "D002,初步接触,2024-03-02 10:00,李娜,80000\n"
    "D003,初步接触,2024-03-03 11:00,张伟,50000\n"
    "D003,需求分析,2024-03-04 11:00,张伟,50000\n"
    "D003,方案报价,2024-03-09 16:00,张伟,50000\n"
)
ZH_WIDE_MAP = Mapping(
    deal="商机编号",
    owner="负责人",
    amount="金额",
    stage_dates={
        "初步接触": "初步接触日期",
        "需求分析": "需求分析日期",
        "方案报价": "方案报价日期",
    },
)


def test_generic_wide_equals_long(tmp_path: Path) -> None:
    wide = read_csv(write(tmp_path, WIDE_ZH, "wide.csv"), mapping=ZH_WIDE_MAP, tz="Asia/Shanghai")
    accounted(wide)
    assert (wide.report.shape, wide.report.layout) == ("wide", "generic wide")
    long = read_csv(
        write(tmp_path, LONG_ZH, "long.csv"),
        mapping=Mapping.parse(
            "deal=商机编号,stage=阶段,timestamp=进入时间,owner=负责人,amount=金额"
        ),
        tz="Asia/Shanghai",
    )
    assert wide.frame.drop("source_row").equals(long.frame.drop("source_row"))
    assert wide.frame["source_row"].to_list() == [2, 2, 3, 4, 4, 4]


def test_map_text_for_wide_columns(tmp_path: Path) -> None:
    m = Mapping.parse("deal=商机编号,date:初步接触=初步接触日期,date:需求分析=需求分析日期")
    assert m.stage_dates == {"初步接触": "初步接触日期", "需求分析": "需求分析日期"}
    log = read_csv(write(tmp_path, WIDE_ZH), mapping=m)
    assert "owner" not in log.report.mapping  # 负责人 is not a known owner name: map it
    assert len(log) == 5


def test_wide_mapping_names_absent_column(tmp_path: Path) -> None:
    with pytest.raises(LogError) as exc:
        read_csv(write(tmp_path, WIDE_ZH), mapping=Mapping(stage_dates={"x": "报价日期"}))
    q = exc.value.problems[0]
    assert (q.name, q.value) == ("unknown-column", "报价日期")
    assert "date:x" in q.message


# ---- malformed wide rows: (csv text, code, row, column) ---------------------------------------

MH = "opportunity_id,sales_agent,product,account,deal_stage,engage_date,close_date,close_value\n"
MOK = "A1,Moses Frase,GTX Basic,Cancity,Won,2017-01-02,2017-02-01,550\n"
BAD_WIDE = [
    pytest.param(
        MH + MOK + "A2,Moses Frase,GTK 500,,Won,2017-13-45,2017-02-01,1\n",
        "bad-date",
        3,
        "engage_date",
        id="date",
    ),
    pytest.param(
        MH + MOK + "A2,Moses Frase,GTK 500,,Won,2017-03-01,2017-02-01,1\n",
        "event-after-close",
        3,
        "engage_date",
        id="after-close",
    ),
    pytest.param(
        MH + MOK + "A2,Moses Frase,GTK 500,,Lost,2017-01-05,,0\n",
        "missing-date",
        3,
        "close_date",
        id="no-close-date",
    ),
    pytest.param(
        MH + MOK + "A2,Moses Frase,GTK 500,,Engaging,2017-01-05,2017-02-01,\n",
        "close-without-outcome",
        3,
        "deal_stage",
        id="close-open",
    ),
    pytest.param(
        MH + MOK + MOK.replace("Won", "Lost"), "duplicate-deal", 3, "opportunity_id", id="duplicate"
    ),
    pytest.param(
        MH + MOK + ",Moses Frase,GTK 500,,Engaging,2017-01-05,,\n",
        "empty-deal",
        3,
        "opportunity_id",
        id="empty-deal",
    ),
    pytest.param(
        MH + MOK + "A2,Moses Frase,GTK 500,,Won,2017-01-05,2017-02-01,1.2k\n",
        "bad-amount",
        3,
        "close_value",
        id="amount",
    ),
    pytest.param(
        MH + MOK + "A2,Moses Frase,GTK 500,,Won,2017-01-05,2017-02-30,9\n",
        "bad-date",
        3,
        "close_date",
        id="close-date",
    ),
]


@pytest.mark.parametrize(("text", "code", "row", "column"), BAD_WIDE)
def test_malformed_wide_strict(tmp_path: Path, text: str, code: str, row: int, column: str) -> None:
    with pytest.raises(LogError) as exc:
        read_csv(write(tmp_path, text))
    first = exc.value.problems[0]
    assert (first.name, first.row, first.column) == (code, row, column)
    assert str(first).startswith(f"deals.csv:{row}: column '{column}': ")


@pytest.mark.parametrize(("text", "code", "row", "column"), BAD_WIDE)
def test_malformed_wide_lenient(
    tmp_path: Path, text: str, code: str, row: int, column: str
) -> None:
    log = read_csv(write(tmp_path, text), lenient=True)
    accounted(log)
    r = log.report
    assert (r.rows_read, r.rows_used, r.rows_skipped) == (2, 1, 1)
    assert r.skipped_by_reason == {code: 1}
    assert row not in log.frame["source_row"].to_list()
    assert any(q.name == code and q.row == row and q.severity == "warning" for q in r.problems)


def test_owner_without_role_is_a_warning(tmp_path: Path) -> None:
    log = read_csv(
        write(tmp_path, MH + MOK + MOK.replace("A1", "A2").replace("Moses Frase", "Zed")),
        mapping=Mapping(roles={"Moses Frase": "AE"}),
    )
    (q,) = [q for q in log.report.problems if q.name == "owner-without-role"]
    assert (q.severity, q.column) == ("warning", "sales_agent")
    assert "Zed" in q.message
