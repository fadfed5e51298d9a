"""Join a second table onto a CSV log before mapping: leads + closed deals, deals + owners.

Some CRM datasets split one funnel over two files, e.g. Olist's marketing funnel: the leads
(``mql_id``, ``first_contact_date``) and the closed deals (``mql_id``, ``won_date``, ``sr_id``).
A mapping names the second file and the key (TOML ``[join] file = ..., on = ...``); the leads
of Olist's Kaggle release find their closed-deals file by its name, next to them.

The join is a left join that keeps the first table's rows, order and row numbers, so every
message still points at the first file. The second file must have one row per key (a
repeated key is refused, naming its row); its rows that match no row of the first table are
problems too (errors, or warnings with ``lenient``): nothing is dropped silently.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flowsim.diagnostics import Diagnostic
from flowsim.history import problems as p
from flowsim.history._decode import decode, sniff_delimiter
from flowsim.history.log import MAX_PROBLEMS_PER_CODE
from flowsim.history.mapping import OLIST_DEALS, Mapping, normalise
from flowsim.history.problems import LogError, problem


def join_for(table: pl.DataFrame, mapping: Mapping, path: Path) -> tuple[str, str] | None:
    """(file, key) to join onto ``table``: the mapping's, else Olist's sibling file, else None."""
    if mapping.join is not None:
        return mapping.join, mapping.join_on or ""
    keys = {normalise(c) for c in table.columns}
    sibling = path.with_name(OLIST_DEALS)
    if {"mqlid", "firstcontactdate"} <= keys and "wondate" not in keys and sibling.exists():
        return str(sibling), "mql_id"
    return None


def join_table(
    table: pl.DataFrame,
    file: str,
    on: str,
    *,
    source: str,
    encoding: str | None = None,
    lenient: bool = False,
) -> tuple[pl.DataFrame, list[Diagnostic]]:
    """``table`` with the columns of CSV ``file`` joined on column ``on`` (see module doc).

    A column name both tables have (other than ``on``) keeps the first table's values; the
    second one's is named ``<column> (<file name>)``.
    """
    other_name = Path(file).name
    other = _read_other(file, encoding)
    for name, columns in ((source, table.columns), (other_name, other.columns)):
        if on not in columns:
            raise LogError.of(
                p.BAD_JOIN,
                name,
                "the join key is not a column",
                value=on,
                hint=f"columns found: {', '.join(columns)}; set on = <column> in [join]",
            )
    key = _unique_key(other, on, other_name)
    problems = _orphans(table[on].str.strip_chars(), key, on, source, other_name, lenient)
    renamed = {
        c: f"{c} ({other_name})" for c in other.columns if c != on and c in set(table.columns)
    }
    other = other.rename(renamed).with_columns(key.alias(on))
    joined = (
        table.with_columns(pl.col(on).str.strip_chars().alias("\x00key"))
        .join(other.rename({on: "\x00key"}), on="\x00key", how="left", maintain_order="left")
        .drop("\x00key")
    )
    return joined, problems


def _read_other(file: str, encoding: str | None) -> pl.DataFrame:
    """The second table as text columns; an unreadable file is one error naming it."""
    other_path = Path(file)
    other_name = other_path.name
    try:
        data = other_path.read_bytes()
    except OSError as exc:
        raise LogError.of(
            p.BAD_JOIN, other_name, f"cannot read the file to join: {exc.strerror}", value=str(file)
        ) from None
    text, _ = decode(data, other_name, encoding)
    try:
        return pl.read_csv(
            text.encode("utf-8"), separator=sniff_delimiter(text), infer_schema=False
        )
    except pl.exceptions.PolarsError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LogError.of(
            p.BAD_JOIN, other_name, f"the file to join is not a readable CSV: {first}"
        ) from None


def _unique_key(other: pl.DataFrame, on: str, other_name: str) -> pl.Series:
    """The second table's keys (stripped); the first repeated one refused with its row.

    A repeated key would copy the deal's row: one row per key keeps the log's rows.
    """
    key = other[on].str.strip_chars()
    repeated = key.is_not_null() & ~key.is_first_distinct()
    if repeated.any():
        row = int(repeated.arg_true()[0]) + 2
        raise LogError(
            [
                problem(
                    kind=p.BAD_JOIN,
                    source=other_name,
                    row=row,
                    column=on,
                    message="the key is on an earlier row too; a joined table has one row per key",
                    value=str(key[row - 2]),
                    hint="remove the repeated row",
                )
            ]
        )
    return key


def _orphans(
    ours: pl.Series, key: pl.Series, on: str, source: str, other_name: str, lenient: bool
) -> list[Diagnostic]:
    """The second table's rows that match no deal: warnings (lenient), else refused.

    Strict mode lists the first few and counts the rest; lenient lists every one, which
    the importer's report caps.
    """
    orphan = key.is_not_null() & ~key.is_in(ours.drop_nulls().implode())
    problems = [
        problem(
            kind=p.JOIN_WITHOUT_DEAL,
            severity="warning" if lenient else "error",
            source=other_name,
            row=int(i) + 2,
            column=on,
            message=f"no row of {source} has this key; the row is not used",
            value=str(key[int(i)]),
            hint=f"add the deal to {source}, or remove the row (--lenient goes on without it)",
        )
        for i in orphan.arg_true().to_list()[: None if lenient else MAX_PROBLEMS_PER_CODE]
    ]
    if problems and not lenient:
        raise LogError(problems, {p.CODES[p.JOIN_WITHOUT_DEAL]: int(orphan.sum()) - len(problems)})
    return problems
