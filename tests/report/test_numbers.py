"""How a report writes numbers: thousands, percentages, points and money per language.

The currency symbols are checked against CLDR through Babel (a test-only dependency, via
Sphinx), so ``¥`` is the yuan in a Chinese report and the yen in an English one.
"""

from __future__ import annotations

import math

import pytest
from babel.numbers import format_currency, format_decimal
from hypothesis import example, given
from hypothesis import strategies as st

from flowsim.report.numbers import SYMBOLS, Numbers

EN, ZH = Numbers("en"), Numbers("zh")


def test_thousands_separators_and_decimals() -> None:
    assert EN.number(22272739.14) == "22,272,739.1"
    assert ZH.number(22272739.14, 0) == "22,272,739"
    assert EN.number(3048, 0) == "3,048"
    assert EN.number(-1234.56, 2) == "-1,234.56"


def test_signs_and_negative_zero() -> None:
    assert EN.number(21.04, sign=True) == "+21.0"
    assert EN.number(-0.6, sign=True) == "-0.6"
    # -0.04 to one decimal is zero: no minus sign before it
    assert EN.number(-0.04) == "0.0"
    assert EN.number(-0.04, sign=True) == "+0.0"


def test_missing_values_in_the_reports_language() -> None:
    for value in (None, math.nan, math.inf):
        assert EN.number(value) == "n/a"
        assert ZH.percent(value) == "无"
        assert Numbers("zh", "CNY").money(value) == "无"


def test_percentages_and_points() -> None:
    assert EN.percent(0.0853) == "8.5%"
    assert ZH.percent(1.44, 0) == "144%"
    assert EN.points(0.019) == "+1.9 pt"
    assert ZH.points(-0.0081) == "-0.8 个百分点"


def test_money_in_the_process_currency() -> None:
    assert Numbers("zh", "CNY").money(22272739.1) == "¥22,272,739"
    assert Numbers("en", "CNY").money(22272739.1) == "CN¥22,272,739"
    assert Numbers("en", "USD").money(-1234.4) == "-$1,234"
    assert Numbers("zh", "USD").money(5852755.2, sign=True) == "+US$5,852,755"
    # an ISO code without a symbol goes after the number; no currency, a plain number
    assert Numbers("en", "CHF").money(1234) == "1,234 CHF"
    assert Numbers("en").money(22272739.1) == "22,272,739"


@pytest.mark.parametrize(("lang", "locale"), [("en", "en"), ("zh", "zh_CN")])
@pytest.mark.parametrize("code", sorted(SYMBOLS["en"]))
def test_currency_symbols_follow_cldr(lang: str, locale: str, code: str) -> None:
    for amount in (0, 7, 1234, -22272739):
        expected = format_currency(
            amount, code, format="¤#,##0", locale=locale, currency_digits=False
        )
        assert Numbers(lang, code).money(amount) == expected


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_integers_group_like_cldr(n: int) -> None:
    for lang, locale in (("en", "en"), ("zh", "zh_CN")):
        assert Numbers(lang).number(n, 0) == format_decimal(n, format="#,##0", locale=locale)


@given(
    st.floats(min_value=-1e12, max_value=1e12, allow_nan=False),
    st.integers(min_value=0, max_value=3),
)
def test_grouping_only_adds_commas(x: float, digits: int) -> None:
    text = EN.number(x, digits)
    plain = f"{x:.{digits}f}"
    if float(plain) == 0:
        plain = plain.lstrip("-")
    assert text.replace(",", "") == plain
    whole = text.lstrip("-").split(".")[0].split(",")
    assert 1 <= len(whole[0]) <= 3 and all(len(g) == 3 for g in whole[1:])


@given(st.floats(min_value=-1e9, max_value=1e9, allow_nan=False))
def test_signed_numbers_read_back_as_the_value(x: float) -> None:
    text = EN.number(x, 2, sign=True)
    assert text[0] in "+-"
    assert float(text.replace(",", "")) == pytest.approx(round(x, 2), abs=0.006)


def test_axis_ticks_from_a_million_on_carry_the_languages_unit() -> None:
    # below a million: grouped thousands, whatever the language
    assert ZH.ticks([0, 250_000, 500_000]) == ["0", "250,000", "500,000"]
    # English counts in millions and billions, Chinese in 万 (10^4) and 亿 (10^8)
    assert EN.ticks([0, 2.5e6, 5e6, 7.5e6]) == ["0", "2.5M", "5.0M", "7.5M"]
    assert ZH.ticks([0, 2.5e6, 5e6, 7.5e6]) == ["0", "250万", "500万", "750万"]
    assert EN.ticks([0, 1e9, 2e9]) == ["0", "1B", "2B"]
    assert ZH.ticks([-1e8, 0, 1e8, 1.5e8]) == ["-1.0亿", "0", "1.0亿", "1.5亿"]
    # ticks close together keep the decimals that tell them apart (no "+3.8e7" offset)
    assert EN.ticks([38e6, 38.05e6, 38.1e6]) == ["38.00M", "38.05M", "38.10M"]
    assert ZH.ticks([38e6, 38.05e6, 38.1e6]) == ["3,800万", "3,805万", "3,810万"]


@given(st.lists(st.integers(-(10**12), 10**12), min_size=2, max_size=8))
@example([1385, 1_000_000])  # 0.1385万 is a tie at three decimals: shown as 0.139万
def test_axis_ticks_read_back_as_the_values(ticks: list[int]) -> None:
    # every label times the axis's unit is the tick again, to the three decimals at most shown
    units = {"M": 1e6, "B": 1e9, "万": 1e4, "亿": 1e8}
    for nf in (EN, ZH):
        labels = nf.ticks([float(t) for t in ticks])
        unit = max((units.get(label[-1:], 1.0) for label in labels), default=1.0)
        for x, label in zip(ticks, labels, strict=True):
            value = float(label.rstrip("MB万亿").replace(",", "")) * (unit if label != "0" else 0)
            # half a unit of the third decimal (a tie such as 0.1385 may round either way;
            # the 1e-9 allows for the binary float of the decimal shown)
            assert math.isclose(value, x, abs_tol=0.5 * unit * 1e-3 * (1 + 1e-9)), (ticks, labels)
