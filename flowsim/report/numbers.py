"""Numbers as a report writes them, for its language and the process currency.

English and Chinese both group thousands with a comma and write the decimal point as a
point (CLDR ``en`` and ``zh``); they differ in the currency symbols and in the word for
percentage points. Money follows the CLDR patterns: the symbol before the number (``¥1,234``,
``-$1,234``) for the currencies of :data:`SYMBOLS`; any other ISO code is written after the
number (``1,234 CHF``), and a process without a currency gets a plain number.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["NA", "SYMBOLS", "Numbers"]

#: what a report writes for a missing or infinite value, by language
NA = {"en": "n/a", "zh": "无"}

#: currency symbols by language (CLDR short symbols): ``¥`` is the yuan in Chinese, the yen in
#: English, so each language names the other one's ``¥`` in full
SYMBOLS: dict[str, dict[str, str]] = {
    "en": {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CNY": "CN¥", "HKD": "HK$"},
    "zh": {"USD": "US$", "EUR": "€", "GBP": "£", "JPY": "JP¥", "CNY": "¥", "HKD": "HK$"},
}

_POINTS = {"en": "pt", "zh": "个百分点"}


def _finite(x: float | None) -> bool:
    return x is not None and math.isfinite(x)


@dataclass(frozen=True)
class Numbers:
    """How one report writes numbers: its language (``en``/``zh``) and the process currency."""

    lang: str = "en"
    currency: str | None = None

    @property
    def na(self) -> str:
        """The word for a missing value."""
        return NA.get(self.lang, NA["en"])

    def number(self, x: float | None, digits: int = 1, *, sign: bool = False) -> str:
        """``x`` with thousands separators and ``digits`` decimals (``+`` first with ``sign``)."""
        if not _finite(x):
            return self.na
        assert x is not None
        text = f"{x:,.{digits}f}"
        if _zero(text):  # -0.04 to one decimal is 0.0, not -0.0
            text = text.lstrip("-")
        return "+" + text if sign and not text.startswith("-") else text

    def percent(self, share: float | None, digits: int = 1) -> str:
        """A share (0.085) as a percentage: ``8.5%``."""
        if not _finite(share):
            return self.na
        assert share is not None
        return f"{self.number(share * 100, digits)}%"

    def points(self, delta: float | None, digits: int = 1) -> str:
        """A change of a share (0.019) in percentage points: ``+1.9 pt`` / ``+1.9 个百分点``."""
        if not _finite(delta):
            return self.na
        assert delta is not None
        return f"{self.number(delta * 100, digits, sign=True)} {self.points_unit}"

    @property
    def points_unit(self) -> str:
        """The word for percentage points."""
        return _POINTS.get(self.lang, _POINTS["en"])

    @property
    def currency_unit(self) -> str:
        """The currency as an axis writes its unit: its symbol, else its code ("" without)."""
        if self.currency is None:
            return ""
        return SYMBOLS.get(self.lang, SYMBOLS["en"]).get(self.currency.upper(), self.currency)

    def money(self, x: float | None, digits: int = 0, *, sign: bool = False) -> str:
        """An amount in the process currency: ``¥22,272,739``, ``-$12``, ``1,234 CHF``."""
        if not _finite(x):
            return self.na
        assert x is not None
        body = self.number(abs(x), digits)
        neg = x < 0 and not _zero(body)
        lead = "-" if neg else ("+" if sign else "")
        code = self.currency
        if code is None:
            return lead + body
        symbol = SYMBOLS.get(self.lang, SYMBOLS["en"]).get(code.upper())
        if symbol is None:
            return f"{lead}{body} {code}"
        return f"{lead}{symbol}{body}"


def _zero(text: str) -> bool:
    """Whether a formatted number reads as zero (``-0.0`` is written ``0.0``)."""
    return not any(ch in "123456789" for ch in text)
