"""`flowsim metrics` end to end on real logs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path("/work/shared/data")
ROOT = Path(__file__).resolve().parents[2]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run([exe, *args], capture_output=True, text=True, check=False)


def test_table_on_the_running_example() -> None:
    r = run("metrics", str(DATA / "pm4py-logs" / "running-example.csv"))
    assert r.returncode == 0, r.stderr
    assert "rows read 42, used 42, skipped 0" in r.stdout
    assert "deals 6:" in r.stdout
    assert "register request" in r.stdout


def test_json_and_overlay_for_render(tmp_path: Path) -> None:
    log = str(DATA / "pm4py-logs" / "running-example.csv")
    r = run("metrics", log, "--format", "json")
    data = json.loads(r.stdout)
    assert data["header"]["rows_read"] == 42
    assert data["header"]["deals"] == 6
    overlay = tmp_path / "overlay.json"
    assert run("metrics", log, "--format", "overlay", "-o", str(overlay)).returncode == 0
    from flowsim.overlay import Overlay

    loaded = Overlay.load(overlay)
    assert loaded.stages["register request"].entered == 6


def test_breakdown_by_month() -> None:
    r = run(
        "metrics",
        str(DATA / "pm4py-logs" / "running-example.csv"),
        "--by",
        "month",
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    table = json.loads(r.stdout)
    assert table["by"] == "month"
    assert {row["group"] for row in table["groups"]} == {"2010-12", "2011-01"}
    assert sum(row["deals"] for row in table["groups"]) == table["all"]["deals"] == 6


def test_bad_rows_fail_with_location_then_lenient_counts(tmp_path: Path) -> None:
    bad = tmp_path / "deals.csv"
    bad.write_text(
        "deal_id,stage,entered_at\nd1,contact,2024-01-02\nd1,won,2024-13-45\nd2,contact,2024-01-03\n",
        encoding="utf-8",
    )
    r = run("metrics", str(bad))
    assert r.returncode == 1
    assert "deals.csv:3" in r.stderr and "entered_at" in r.stderr
    assert "Traceback" not in r.stderr
    ok = run("metrics", str(bad), "--lenient")
    assert ok.returncode == 0, ok.stderr
    assert "rows read 3, used 2, skipped 1" in ok.stdout


def test_lenient_import_that_skips_every_row_still_reports(tmp_path: Path) -> None:
    bad = tmp_path / "deals.csv"
    bad.write_text("deal,stage,timestamp\nA,lead,not a date\nB,lead,also bad\n", encoding="utf-8")
    r = run("metrics", str(bad), "--lenient", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    # one warning for the column, none per row
    assert "column 'timestamp': no value of this column reads as a date (2 values" in r.stderr
    header = json.loads(r.stdout)["header"]
    assert (header["rows_read"], header["rows_used"], header["records"]) == (2, 0, 0)
    assert header["skipped_by_reason"] == {"bad-date": 2}


@pytest.mark.parametrize("args", [["metrics"], ["metrics", "x.csv", "--as-of", "yesterday"]])
def test_usage_errors(args: list[str], tmp_path: Path) -> None:
    assert run(*args).returncode == 2


def test_with_the_designed_process(tmp_path: Path) -> None:
    flow = tmp_path / "claims.flow"
    flow.write_text(
        'stage register "register request"\nstage decide\n'
        'outcome pay "pay compensation" result won\noutcome reject "reject request" result lost\n'
        "register -> decide\ndecide -> pay 50%\ndecide -> reject\n",
        encoding="utf-8",
    )
    log = str(DATA / "pm4py-logs" / "running-example.csv")
    refused = run("metrics", log, "--process", str(flow))  # stages the design does not name
    assert refused.returncode == 1
    # one line per kind of problem (the hint differs: 'did you mean' for one stage), with
    # the count and example rows: 18 + 3 rows, the 21 that --lenient skips
    where = "running-example.csv: column 'concept:name': stage not in the process: "
    assert where + "18 rows, e.g. row 3 'examine casually', row 4 'check ticket'" in refused.stderr
    assert where + "3 rows, e.g. row 6 'reinitiate request'" in refused.stderr
    r = run("metrics", log, "--process", str(flow), "--lenient")
    assert r.returncode == 0, r.stderr
    assert "won 3, lost 3" in r.stdout
    assert "rows read 42, used 21, skipped 21 (unknown-stage 21)" in r.stdout


def test_lenient_names_skipped_rows_and_csv_options(tmp_path: Path) -> None:
    bad = tmp_path / "deals.csv"
    bad.write_text(
        "deal_id;stage;entered_at\nd1;contact;03/04/2024\nd1;won;bad\nd2;contact;05/04/2024\n",
        encoding="utf-8",
    )
    r = run("metrics", str(bad), "--lenient", "--dayfirst", "--delimiter", ";")
    assert r.returncode == 0, r.stderr
    assert "deals.csv:3: column 'entered_at': unparseable date 'bad'" in r.stderr
    assert "ambiguous" not in r.stderr  # --dayfirst settles the order
    assert "rows read 3, used 2, skipped 1 (bad-date 1)" in r.stdout
    xes = str(DATA / "pm4py-logs" / "running-example.xes")
    assert run("metrics", xes, "--delimiter", ";").returncode == 2  # not a CSV option for XES


def _running_example_frames(tmp_path: Path) -> dict[str, Path]:
    """The pm4py running example as CSV, Excel, Parquet and SQLite."""
    import sqlite3

    import polars as pl

    src = DATA / "pm4py-logs" / "running-example.csv"
    frame = pl.read_csv(src, infer_schema=False).select(
        pl.col("case:concept:name").alias("deal_id"),
        pl.col("concept:name").alias("stage"),
        pl.col("time:timestamp").alias("entered_at"),
        pl.col("org:resource").alias("owner"),
    )
    out = {"csv": tmp_path / "deals.csv", "parquet": tmp_path / "deals.parquet"}
    frame.write_csv(out["csv"])
    frame.write_parquet(out["parquet"])
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(frame.columns)
    for row in frame.iter_rows():
        sheet.append(list(row))
    out["xlsx"] = tmp_path / "deals.xlsx"
    book.save(out["xlsx"])
    out["db"] = tmp_path / "deals.db"
    with sqlite3.connect(out["db"]) as con:
        con.execute("create table history (deal_id, stage, entered_at, owner)")
        con.executemany("insert into history values (?, ?, ?, ?)", frame.iter_rows())
    return out


def test_every_format_end_to_end(tmp_path: Path) -> None:
    files = _running_example_frames(tmp_path)
    results = {}
    for kind in ("csv", "parquet", "xlsx"):
        r = run("metrics", str(files[kind]), "--format", "json")
        assert r.returncode == 0, (kind, r.stderr)
        results[kind] = json.loads(r.stdout)
    r = run(
        "metrics",
        "--sql",
        "select * from history",
        "--db",
        f"sqlite:///{files['db']}",
        "--format",
        "json",
    )
    assert r.returncode == 0, r.stderr
    results["sql"] = json.loads(r.stdout)
    xes = run("metrics", str(DATA / "pm4py-logs" / "running-example.xes"), "--format", "json")
    assert xes.returncode == 0, xes.stderr
    results["xes"] = json.loads(xes.stdout)
    baseline = results["csv"]
    for kind, data in results.items():
        assert data["header"]["deals"] == 6, kind
        assert data["header"]["records"] == 42, kind
        assert data["stages"] == baseline["stages"], kind
        assert data["transitions"] == baseline["transitions"], kind


def test_exports_with_named_months_chinese_dates_and_a_date_format(tmp_path: Path) -> None:
    """Common export date styles read without options; anything else with --date-format."""
    named = tmp_path / "named.csv"
    named.write_text(
        "deal_id,stage,entered_at\nd1,contact,20-Oct-2016\nd1,won,2-Nov-2016\n", encoding="utf-8"
    )
    chinese = tmp_path / "chinese.csv"
    chinese.write_text(
        "商机,阶段,进入时间\nS1,初步接触,2016年10月20日 09:30\nS1,赢单,2016年11月2日 17:00\n",
        encoding="gbk",
    )
    for log in (named, chinese):
        r = run("metrics", str(log), "--map", _map_for(log), "--format", "json")
        assert r.returncode == 0, r.stderr
        header = json.loads(r.stdout)["header"]
        assert (header["rows_used"], header["deals"]) == (2, 1)
    custom = tmp_path / "custom.csv"
    custom.write_text(
        "deal_id,stage,entered_at\nd1,contact,20|10|16 09h30\nd1,won,02|11|16 17h00\n",
        encoding="utf-8",
    )
    refused = run("metrics", str(custom))
    assert refused.returncode == 1
    assert refused.stderr.count("custom.csv") == 1  # one line for the column, none per row
    assert "no value of this column reads as a date (2 values" in refused.stderr
    r = run("metrics", str(custom), "--date-format", "%d|%m|%y %Hh%M", "-q")
    assert r.returncode == 0 and r.stderr == ""
    assert "rows read 2, used 2, skipped 0" in r.stdout


def _map_for(log: Path) -> str:
    return "deal=商机,stage=阶段,timestamp=进入时间" if "chinese" in log.name else "deal=deal_id"
