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

#: the units an axis writes large ticks in, largest first: English counts in thousands
#: (million, billion), Chinese in ten-thousands (万, 亿)
TICK_UNITS: dict[str, tuple[tuple[float, str], ...]] = {
    "en": ((1e9, "B"), (1e6, "M")),
    "zh": ((1e8, "亿"), (1e4, "万")),
}
#: from this tick on an axis writes its ticks in a unit of `TICK_UNITS` (below: ``999,000``)
TICK_UNIT_FROM = 1e6


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

    def ticks(self, locs: list[float]) -> list[str]:
        """An axis's tick labels: grouped thousands, and in a unit from a million on.

        Below :data:`TICK_UNIT_FROM` a tick reads ``250,000``; from it on every tick of the
        axis shares the unit its largest tick needs (``2.5M``, ``250万``, ``1.2亿``), with the
        fewest decimals that write each tick exactly (up to three), so the ticks stay short
        and no ``1e6`` marker is needed at the axis end.
        """
        finite = [abs(x) for x in locs if _finite(x)]
        largest = max(finite, default=0.0)
        size, word = 1.0, ""
        if largest >= TICK_UNIT_FROM:
            units = TICK_UNITS.get(self.lang, TICK_UNITS["en"])
            size, word = next((s, w) for s, w in units if largest >= s)
        scaled = [x / size for x in locs]
        digits = next((d for d in range(4) if _exact(scaled, d)), 3)
        return [_tick(self.number(x, digits), word) if _finite(x) else "" for x in scaled]


def _tick(text: str, word: str) -> str:
    """A scaled tick with its unit; zero is plain ``0`` (no unit, no decimals)."""
    return "0" if _zero(text) else text + word


def _exact(values: list[float], digits: int) -> bool:
    """Whether every finite value is written exactly with ``digits`` decimals."""
    tol = 1e-9 * max((abs(v) for v in values if _finite(v)), default=1.0)
    return all(abs(round(v, digits) - v) <= tol for v in values if _finite(v))


def _zero(text: str) -> bool:
    """Whether a formatted number reads as zero (``-0.0`` is written ``0.0``)."""
    return not any(ch in "123456789" for ch in text)
