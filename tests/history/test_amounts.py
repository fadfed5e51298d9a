"""Amounts read with the column's decimal convention, decided from the whole column.

``12.000,50`` is twelve thousand and a half in a European or Chinese Excel export, and
``1,234.56`` a thousand and more in a US one; reading either with the other's rule is 1000x
wrong without a word. A column shows its convention; when it cannot (``1,234`` alone), it is
refused, and ``decimal=`` (``--decimal``) decides.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.cli import main
from flowsim.history import LogError, read_log
from flowsim.history.amounts import read_amounts


def read(values: list[str | None], **kw: object) -> list[float | None]:
    return read_amounts(pl.Series(values, dtype=pl.String), **kw).values.to_list()  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("values", "expected", "decimal"),
    [
        (["12.000,50", "1.234,56", "12,5"], [12000.5, 1234.56, 12.5], "comma"),
        (["12 500,00", "3,5"], [12500.0, 3.5], "comma"),
        (["1.234.567", "8"], [1234567.0, 8.0], "comma"),  # several dot groups: thousands
        (["0,125", "12"], [0.125, 12.0], "comma"),
        (["1,234.56", "12.5", "7"], [1234.56, 12.5, 7.0], "point"),
        (["1,234,567", "8"], [1234567.0, 8.0], "point"),
        (["0.125", "1.250"], [0.125, 1.25], "point"),  # no thousands group starts with 0
        (["1.500", "2400"], [1.5, 2400.0], "point"),  # 2400: the column groups no thousands
        (["1,234", "2,5"], [1.234, 2.5], "comma"),
        (["31545.55", "12"], [31545.55, 12.0], "point"),
        (["1 234.50", "1'234.50"], [1234.5, 1234.5], "point"),
    ],
)
def test_the_convention_is_read_from_the_column(
    values: list[str], expected: list[float], decimal: str
) -> None:
    r = read_amounts(pl.Series(values))
    assert r.values.to_list() == pytest.approx(expected)
    assert (r.decimal, r.wrong, r.ambiguous) == (decimal, None, None)


@pytest.mark.parametrize(
    "values",
    [
        ["1,234", "2,500"],
        ["1.500", "12"],
        ["1,234", "1.234", "5000"],
        ["12"] * 1500 + ["1.500"],  # past the head a clean column is looked at first
    ],
)
def test_an_undecidable_column_is_not_guessed(values: list[str]) -> None:
    r = read_amounts(pl.Series(values))
    assert r.ambiguous and r.decimal is None


def test_the_decimal_option_decides() -> None:
    assert read(["1,234", "2,500"], decimal="point") == [1234.0, 2500.0]
    assert read(["1,234", "2,500"], decimal="comma") == [1.234, 2.5]
    assert read(["12.000", "7"], decimal="comma") == [12000.0, 7.0]


def test_values_of_the_other_convention_are_bad_rows() -> None:
    r = read_amounts(pl.Series(["12.000,50", "1.234,56", "1,234.56", "12k", None]))
    assert r.decimal == "comma"
    assert r.values.to_list()[:2] == [12000.5, 1234.56]
    assert r.wrong is not None and r.wrong.to_list() == [False, False, True, True, False]
    assert r.other is not None and r.other.to_list() == [False, False, True, False, False]


def _european(x: float) -> str:
    """``x`` as a European spreadsheet writes it: dots group thousands, comma decimals."""
    whole, frac = f"{abs(x):,.2f}".split(".")
    return ("-" if x < 0 else "") + whole.replace(",", ".") + "," + frac


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.decimals(min_value=-(10**9), max_value=10**9, places=2, allow_nan=False).map(float),
        min_size=1,
        max_size=30,
    ),
    st.booleans(),
)
def test_written_amounts_round_trip(amounts: list[float], european: bool) -> None:
    """Whatever the amounts, each convention written in full reads back to the same numbers."""
    text = [_european(x) if european else f"{x:,.2f}" for x in amounts]
    r = read_amounts(pl.Series(text))
    assert r.wrong is None and r.ambiguous is None
    assert r.values.to_list() == pytest.approx(amounts)


def _deals(tmp_path: Path, amounts: list[str]) -> Path:
    rows = [f"D{i};contact;2024-02-0{i + 1};{a}" for i, a in enumerate(amounts)]
    path = tmp_path / "deals.csv"
    path.write_text("deal_id;stage;entered_at;amount\n" + "\n".join(rows) + "\n", "utf-8")
    return path


def test_a_semicolon_export_with_decimal_commas_reads_right(tmp_path: Path) -> None:
    log = read_log(_deals(tmp_path, ["12.000,50", "980,00", "1.250.000,00"]))
    assert log.frame.sort("source_row")["amount"].to_list() == [12000.5, 980.0, 1250000.0]


def test_an_ambiguous_column_is_refused_then_decided_on_the_command_line(tmp_path: Path) -> None:
    path = _deals(tmp_path, ["1,234", "2,500"])
    with pytest.raises(LogError) as caught:
        read_log(path, lenient=True)  # no row to skip: the whole column is in question
    assert caught.value.problems[0].name == "ambiguous-decimal"
    runner = CliRunner()
    refused = runner.invoke(main, ["metrics", str(path)])
    assert refused.exit_code == 1
    assert "deals.csv: column 'amount': the decimal separator of the amounts is ambiguous" in (
        refused.stderr
    )
    assert "--decimal comma" in refused.stderr
    assert "use --lenient" not in refused.stderr
    for decimal, total in (("point", 3734.0), ("comma", 3.734)):
        r = runner.invoke(main, ["metrics", str(path), "--decimal", decimal, "--format", "json"])
        assert r.exit_code == 0, r.stderr
        log = read_log(path, decimal=decimal)
        assert sum(log.frame["amount"].to_list()) == pytest.approx(total)


def test_a_wide_export_reads_its_dates_and_amounts_the_same_way(tmp_path: Path) -> None:
    """Maven-style wide rows, as a German Excel export writes them, with --date-format."""
    path = tmp_path / "pipeline.csv"
    path.write_text(
        "opportunity_id;sales_agent;deal_stage;engage_date;close_date;close_value\n"
        "O1;Anna;Won;02.01.24;10.02.24;1.200,50\n"
        "O2;Bo;Lost;03.01.24;20.01.24;0\n"
        "O3;Anna;Won;04.01.24;01.02.24;12.000\n",
        encoding="utf-8",
    )
    log = read_log(path, date_format="%d.%m.%y", decimal="comma")
    won = log.frame.filter(pl.col("stage") == "Won").sort("source_row")
    assert won["amount"].to_list() == [1200.5, 12000.0]
    assert won["entered_at"].dt.strftime("%Y-%m-%d").to_list() == ["2024-02-10", "2024-02-01"]
    # without the options: the column decides (1.200,50 shows a decimal comma), and the
    # two-digit years are no format flowsim guesses: one problem per column, not per row
    with pytest.raises(LogError) as caught:
        read_log(path)
    assert {q.name for q in caught.value.problems} == {"unreadable-date-column"}
    assert {q.column for q in caught.value.problems} == {"engage_date", "close_date"}


def test_typed_numbers_are_never_ambiguous(tmp_path: Path) -> None:
    """Parquet floats such as 1.234 are numbers, long or wide, whatever their decimals."""
    wide = pl.DataFrame(
        {
            "opportunity_id": ["O1", "O2"],
            "deal_stage": ["Won", "Lost"],
            "engage_date": ["2024-01-02", "2024-01-03"],
            "close_date": ["2024-02-10", "2024-01-20"],
            "close_value": [1.234, 2.125],
        }
    )
    wide.write_parquet(tmp_path / "wide.parquet")
    log = read_log(tmp_path / "wide.parquet")
    assert sorted(set(log.frame["amount"].to_list())) == [1.234, 2.125]
    long = pl.DataFrame(
        {"deal_id": ["D1", "D2"], "stage": ["a", "a"], "entered_at": ["2024-01-02"] * 2}
    ).with_columns(amount=pl.Series([1.234, 2.125]))
    long.write_parquet(tmp_path / "long.parquet")
    assert read_log(tmp_path / "long.parquet").frame["amount"].to_list() == [1.234, 2.125]
    # a database NUMERIC(10,3) column arrives as polars Decimal: a number too
    from decimal import Decimal

    from flowsim.history.read_csv import from_table

    numeric = pl.Series([Decimal("1.234"), Decimal("2.125")], dtype=pl.Decimal(10, 3))
    table = long.with_columns(amount=numeric)
    assert from_table(table, source="q", format="sql").frame["amount"].to_list() == [1.234, 2.125]


def test_excel_number_cells_are_numbers(tmp_path: Path) -> None:
    """Number cells with fractions stay numbers; text cells follow the column's convention."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["deal_id", "stage", "entered_at", "amount"])
    sheet.append(["D1", "contact", "2024-02-01", 1.125])
    sheet.append(["D2", "contact", "2024-02-02", 2.375])
    sheet.append(["D3", "contact", "2024-02-03", None])
    book.save(tmp_path / "numbers.xlsx")
    log = read_log(tmp_path / "numbers.xlsx")
    assert log.frame.sort("source_row")["amount"].to_list() == [1.125, 2.375, None]
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["deal_id", "stage", "entered_at", "amount"])
    sheet.append(["D1", "contact", "2024-02-01", "12.000,50"])  # text, as a German export
    sheet.append(["D2", "contact", "2024-02-02", "1.250,00"])
    book.save(tmp_path / "text.xlsx")
    log = read_log(tmp_path / "text.xlsx")
    assert log.frame.sort("source_row")["amount"].to_list() == [12000.5, 1250.0]
