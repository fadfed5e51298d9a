"""Read a deal log from a SQL query: SQLite (stdlib ``sqlite3``) or PostgreSQL (psycopg 3).

``read_sql("SELECT ...", "sqlite:///deals.db")`` or ``"postgresql://user@host:5432/db"``. The
result's columns are written as text the way a CSV export would (datetimes as ISO 8601 with
their offset) and go through the same mapping, shape detection and row checks as CSV
(:func:`flowsim.history.read_csv.from_table`); row numbers are 1-based result rows. Both
databases are opened read-only. A bad URL, a bad query or a refused connection is a
:class:`LogError` with a hint, never a traceback.

SQLite URLs follow SQLAlchemy: ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``;
a plain path to an existing file is taken as SQLite too.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from flowsim._extras import missing
from flowsim.history import problems as p
from flowsim.history.amounts import DecimalMark
from flowsim.history.log import DealLog
from flowsim.history.mapping import Mapping
from flowsim.history.problems import LogError
from flowsim.history.read_csv import from_table
from flowsim.history.read_excel import cell_text

URL_HINT = "use sqlite:///path/to/file.db or postgresql://user:password@host:5432/dbname"


def _redact(url: str) -> str:
    """The URL without its password, for messages and reports."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sqlite(query: str, path: str, source: str) -> tuple[list[str], Sequence[Sequence[Any]]]:
    if not path or path == ":memory:":
        raise LogError.of(p.BAD_DATABASE, source, "an SQLite URL needs a file path", hint=URL_HINT)
    if not Path(path).is_file():
        raise LogError.of(
            p.BAD_DATABASE, source, f"no SQLite database file at '{path}'", hint=URL_HINT
        )
    try:
        conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise LogError.of(p.BAD_DATABASE, source, f"cannot open the database: {exc}") from None
    try:
        cur = conn.execute(query)
        names = [d[0] for d in cur.description or []]
        return names, cur.fetchall()
    except sqlite3.DatabaseError as exc:
        code = p.BAD_DATABASE if "not a database" in str(exc) else p.BAD_QUERY
        raise LogError.of(
            code,
            source,
            f"the query failed: {_first_line(exc)}",
            hint="check table and column names (SQLite: SELECT name FROM sqlite_master)"
            if code == p.BAD_QUERY
            else "the file is not an SQLite database",
        ) from None
    except sqlite3.Error as exc:
        raise LogError.of(p.BAD_QUERY, source, f"the query failed: {_first_line(exc)}") from None
    finally:
        conn.close()


def _postgres(
    query: str, url: str, source: str, connect_timeout: int
) -> tuple[list[str], Sequence[Sequence[Any]]]:
    try:
        import psycopg
    except ImportError as err:
        raise missing(err, "reading PostgreSQL deal logs") from err

    try:
        conn = psycopg.connect(url, connect_timeout=connect_timeout, autocommit=False)
    except psycopg.ProgrammingError as exc:
        raise LogError.of(
            p.BAD_DATABASE, source, f"bad PostgreSQL URL: {_first_line(exc)}", hint=URL_HINT
        ) from None
    except psycopg.Error as exc:
        raise LogError.of(
            p.BAD_DATABASE,
            source,
            f"cannot connect to PostgreSQL: {_first_line(exc)}",
            hint="is the server running and listening there? check host, port, user, "
            "password and database name",
        ) from None
    try:
        conn.read_only = True
        with conn.cursor() as cur:
            cur.execute(query.encode("utf-8"))
            if cur.description is None:
                raise LogError.of(
                    p.BAD_QUERY,
                    source,
                    "the statement returned no rows to read",
                    hint="give a SELECT query",
                )
            names = [d.name for d in cur.description]
            return names, cur.fetchall()
    except psycopg.Error as exc:
        raise LogError.of(
            p.BAD_QUERY,
            source,
            f"the query failed: {_first_line(exc)}",
            hint="check table and column names; the connection is read-only",
        ) from None
    finally:
        conn.close()


def read_sql(
    query: str,
    db: str | Path,
    *,
    mapping: Mapping | None = None,
    tz: str = "UTC",
    dayfirst: bool | None = None,
    date_format: str | None = None,
    decimal: DecimalMark | None = None,
    lenient: bool = False,
    source: str | None = None,
    connect_timeout: int = 10,
) -> DealLog:
    """Import the result of ``query`` on the database ``db`` (a URL, or an SQLite file path)."""
    name = source or _redact(str(db))
    columns = sql_table(query, db, name, connect_timeout)
    return from_table(
        columns,
        source=name,
        format="sql",
        mapping=mapping,
        tz=tz,
        dayfirst=dayfirst,
        date_format=date_format,
        decimal=decimal,
        lenient=lenient,
        first_row=1,
    )


def sql_table(
    query: str, db: str | Path, name: str, connect_timeout: int = 10
) -> dict[str, list[str | None]]:
    """A query's result as text columns: the raw-table step every SQL import shares.

    Values are written as a CSV export would (:func:`~flowsim.history.read_excel.cell_text`);
    a column name given twice gets ``_2``, ``_3``...

    Raises
    ------
    LogError
        An empty query, a bad URL, a refused connection or a failing query.
    """
    url = str(db)
    if not query or not query.strip():
        raise LogError.of(p.BAD_QUERY, name, "empty query", hint="e.g. --sql 'SELECT * FROM deals'")
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower().split("+", 1)[0]
    if sep and scheme == "sqlite":
        names, rows = _sqlite(query, rest[1:] if rest.startswith("/") else rest, name)
    elif sep and scheme in ("postgresql", "postgres"):
        names, rows = _postgres(query, f"postgresql://{rest}", name, connect_timeout)
    elif not sep and Path(url).is_file():
        names, rows = _sqlite(query, url, name)
    else:
        raise LogError.of(
            p.BAD_DATABASE,
            name,
            f"unsupported database URL '{name}'",
            hint=URL_HINT,
        )
    if not names:
        raise LogError.of(p.BAD_QUERY, name, "the query returned no columns")
    columns: dict[str, list[str | None]] = {}
    for i, column in enumerate(names):
        key, k = column, 2
        while key in columns:
            key, k = f"{column}_{k}", k + 1
        columns[key] = [cell_text(row[i]) for row in rows]
    return columns
