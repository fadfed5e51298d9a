"""SQL import: SQLite files and a real PostgreSQL server (scripts/postgres.sh), never a mock.

The PostgreSQL fixture uses ``FLOWSIM_TEST_PG_URL`` when set, else starts a throwaway cluster
with ``scripts/postgres.sh start`` (installing Debian's postgresql first when missing) and
stops it at the end of the session. It does not skip: a machine that cannot run the server
fails these tests.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import psycopg
import pytest

from flowsim.history import LogError, Mapping, read_csv, read_log, read_sql
from flowsim.history.log import SCHEMA, DealLog

ROOT = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data")
RUNNING = DATA / "pm4py-logs" / "running-example.csv"
needs_data = pytest.mark.skipif(not RUNNING.exists(), reason="shared data not available")
QUERY = 'SELECT * FROM running ORDER BY "row"'


def accounted(log: DealLog) -> None:
    r = log.report
    assert r.rows_read == r.rows_used + r.rows_skipped
    assert sum(r.skipped_by_reason.values()) == r.rows_skipped
    assert dict(log.frame.schema) == SCHEMA


def same_as_csv(log: DealLog) -> None:
    """Equal to the CSV import; result rows are numbered from 1, CSV rows from 2."""
    expected = read_csv(RUNNING).frame.with_columns(pl.col("source_row") - 1)
    assert log.frame.equals(expected)


def running_rows() -> tuple[list[str], list[tuple[object, ...]]]:
    table = pl.read_csv(RUNNING, infer_schema=False).rename({"": "row"})
    return table.columns, [tuple(r) for r in table.iter_rows()]


# ---- SQLite ----------------------------------------------------------------------------------


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    path = tmp_path / "crm.db"
    names, rows = running_rows()
    with sqlite3.connect(path) as conn:
        conn.execute(
            'CREATE TABLE running ("row" INTEGER, "concept:name" TEXT, "org:resource" TEXT, '
            '"time:timestamp" TEXT, "Activity" TEXT, "Resource" TEXT, "Costs" REAL, '
            '"case:concept:name" INTEGER, "case:creator" TEXT)'
        )
        conn.executemany(f"INSERT INTO running VALUES ({','.join('?' * len(names))})", rows)
        conn.execute("CREATE TABLE 商机 (商机编号 TEXT, 阶段 TEXT, 进入时间 TEXT, 金额 REAL)")
        conn.executemany(
            "INSERT INTO 商机 VALUES (?, ?, ?, ?)",
            [
                ("D001", "初步接触", "2024-03-01 09:00", 120000),
                ("D001", "需求分析", "2024-03-05 14:30", 120000),
                ("D002", "初步接触", "2024-03-02 10:00", 80000.5),
            ],
        )
    conn.close()
    return path


@needs_data
def test_sqlite_running_example_equals_csv(sqlite_db: Path) -> None:
    log = read_log(sql=QUERY, db=f"sqlite:///{sqlite_db}")
    accounted(log)
    assert log.report.format == "sql"
    same_as_csv(log)
    # a plain file path is SQLite too
    assert read_sql(QUERY, sqlite_db).frame.equals(log.frame)


def test_sqlite_chinese_table(sqlite_db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(sqlite_db.parent)  # sqlite:///relative.db is relative (SQLAlchemy)
    m = Mapping.parse("deal=商机编号,stage=阶段,timestamp=进入时间,amount=金额")
    log = read_sql("SELECT * FROM 商机", "sqlite:///crm.db", mapping=m, tz="Asia/Shanghai")
    accounted(log)
    assert log.frame["stage"].to_list() == ["初步接触", "需求分析", "初步接触"]
    assert log.frame["amount"].to_list() == [120000.0, 120000.0, 80000.5]
    assert str(log.frame["entered_at"][0]) == "2024-03-01 01:00:00+00:00"


def test_sqlite_bad_row_located(sqlite_db: Path) -> None:
    with sqlite3.connect(sqlite_db) as conn:
        conn.execute("INSERT INTO 商机 VALUES ('D003', '初步接触', 'yesterday', 1)")
    conn.close()
    m = Mapping.parse("deal=商机编号,stage=阶段,timestamp=进入时间")
    with pytest.raises(LogError) as exc:
        read_sql("SELECT * FROM 商机 ORDER BY rowid", sqlite_db, mapping=m)
    q = exc.value.problems[0]
    assert (q.name, q.row, q.column, q.value) == ("bad-date", 4, "进入时间", "yesterday")


@pytest.mark.parametrize(
    ("query", "db", "code", "text"),
    [
        pytest.param("SELECT * FROM nope", "DB", "bad-query", "no such table: nope", id="table"),
        pytest.param("SELEC 1", "DB", "bad-query", "syntax error", id="syntax"),
        pytest.param("  ", "DB", "bad-query", "empty query", id="empty"),
        pytest.param("SELECT 1", "sqlite:///missing.db", "bad-database", "no SQLite", id="file"),
        pytest.param("SELECT 1", "mysql://u@h/db", "bad-database", "unsupported", id="scheme"),
        pytest.param("SELECT 1", "sqlite://", "bad-database", "needs a file path", id="memory"),
        pytest.param(
            "SELECT * FROM running", "NOTDB", "bad-database", "not an SQLite database", id="notdb"
        ),
        pytest.param("DELETE FROM running", "DB", "bad-query", "readonly database", id="read-only"),
    ],
)
def test_sqlite_errors(
    sqlite_db: Path, tmp_path: Path, query: str, db: str, code: str, text: str
) -> None:
    notdb = tmp_path / "notdb.db"
    notdb.write_bytes(b"hello, this is not a database file at all" * 100)
    db = db.replace("NOTDB", str(notdb)).replace("DB", str(sqlite_db))
    with pytest.raises(LogError) as exc:
        read_sql(query, db)
    q = exc.value.problems[0]
    assert q.name == code
    assert text in str(exc.value)


def test_read_log_needs_query_and_db() -> None:
    with pytest.raises(LogError, match="needs both the query and the database"):
        read_log(sql="SELECT 1")


# ---- PostgreSQL (a real server) --------------------------------------------------------------


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    url = os.environ.get("FLOWSIM_TEST_PG_URL")
    if url:
        yield url
        return
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), "start"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, f"scripts/postgres.sh start failed:\n{done.stderr}"
    found = dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)
    try:
        yield found["FLOWSIM_PG_URL"]
    finally:
        subprocess.run(
            ["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", found["FLOWSIM_PG_DIR"]],
            capture_output=True,
            timeout=120,
            check=False,
        )


@pytest.fixture(scope="session")
def pg_running(pg_url: str) -> str:
    """The pm4py running example as a typed PostgreSQL table (timestamptz, integer, numeric)."""
    names, rows = running_rows()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS running")
        conn.execute(
            'CREATE TABLE running ("row" integer, "concept:name" text, "org:resource" text, '
            '"time:timestamp" timestamptz, "Activity" text, "Resource" text, '
            '"Costs" numeric(10, 2), "case:concept:name" integer, "case:creator" text)'
        )
        with conn.cursor() as cur:
            cur.executemany(f"INSERT INTO running VALUES ({', '.join(['%s'] * len(names))})", rows)
        conn.execute("SET TIME ZONE 'UTC'")
    return pg_url


@needs_data
def test_postgres_running_example_equals_csv(pg_running: str) -> None:
    log = read_log(sql=QUERY, db=pg_running)
    accounted(log)
    assert log.report.format == "sql"
    same_as_csv(log)
    assert log.deals == 6


@needs_data
def test_postgres_chinese_rows(pg_running: str) -> None:
    query = (
        "SELECT * FROM (VALUES ('D001', '初步接触', timestamp '2024-03-01 09:00', 120000.00),"
        " ('D001', '需求分析', timestamp '2024-03-05 14:30', 120000.00)) "
        "AS t(商机编号, 阶段, 进入时间, 金额)"
    )
    m = Mapping.parse("deal=商机编号,stage=阶段,timestamp=进入时间,amount=金额")
    log = read_sql(query, pg_running, mapping=m, tz="Asia/Shanghai")
    assert log.frame["stage"].to_list() == ["初步接触", "需求分析"]
    assert str(log.frame["entered_at"][1]) == "2024-03-05 06:30:00+00:00"
    assert log.frame["amount"].to_list() == [120000.0, 120000.0]


@pytest.mark.parametrize(
    ("query", "code", "text"),
    [
        pytest.param("SELECT * FROM nope", "bad-query", 'relation "nope" does not exist', id="t"),
        pytest.param("DELETE FROM running", "bad-query", "read-only transaction", id="ro"),
        pytest.param("SET TIME ZONE 'UTC'", "bad-query", "returned no rows", id="no-rows"),
    ],
)
def test_postgres_query_errors(pg_running: str, query: str, code: str, text: str) -> None:
    with pytest.raises(LogError) as exc:
        read_sql(query, pg_running)
    assert exc.value.problems[0].name == code
    assert text in str(exc.value)
    assert exc.value.problems[0].hint


def test_postgres_connection_errors(pg_url: str) -> None:
    refused = "postgresql://flowsim@127.0.0.1:1/postgres"
    with pytest.raises(LogError) as exc:
        read_sql("SELECT 1", refused, connect_timeout=3)
    q = exc.value.problems[0]
    assert q.name == "bad-database"
    assert "cannot connect to PostgreSQL" in q.message
    assert q.hint is not None and "server running" in q.hint
    wrong_db = pg_url.rsplit("/", 1)[0] + "/no_such_db"
    with pytest.raises(LogError, match='database "no_such_db" does not exist'):
        read_sql("SELECT 1", wrong_db)
    with pytest.raises(LogError) as exc:
        read_sql("SELECT 1", "postgresql://u:secret@127.0.0.1:notaport/db")
    assert exc.value.problems[0].name == "bad-database"
    assert "secret" not in str(exc.value)
