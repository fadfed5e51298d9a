"""Score scales of customer feedback: which one a column uses, read right or refused.

Three scales are known: ``1-5`` (satisfaction, CSAT), ``0-10`` (likelihood to recommend, NPS)
and ``-2..2`` (a five-point agreement scale centred on 0). A column's scale is, in order:

1. the one given (``scale="1-5"``, ``"0-10"``, ``"-2..2"``; also ``"csat"`` and ``"nps"``);
2. the one its header states: a range written in it (``评分(1-5)``, ``Score 0-10``), or the
   word ``NPS`` / ``推荐`` (recommend), which is asked on 0-10;
3. the one its values prove, looking only at values inside some scale (−2 to 10; values
   outside every scale are bad rows whatever the scale): a negative value → ``-2..2``; a
   value above 5 → ``0-10``; a 0 with a value above 2 → ``0-10``. Values that fit two scales
   (all in 1-5: a 1-5 or a 0-10 survey; all in 0-2: 0-10 or −2..+2) are **refused**
   (``ambiguous-scale``, H503) with the hint to pass the scale: a 4 means "satisfied" on one
   and "detractor" on the other, so no guess is safe.

>>> parse_scale("nps").name, detect_scale([3.0, 9.0, 10.0]).name
('0-10', '0-10')
>>> detect_scale([1.0, 4.0, 5.0])
['1-5', '0-10']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from flowsim.errors import OptionError

__all__ = ["SCALES", "Scale", "detect_scale", "header_scale", "parse_scale"]


@dataclass(frozen=True)
class Scale:
    """A score scale: its bounds, what counts as a negative answer, and the NPS bands.

    ``negative_below``: a score at or below it is a negative answer (1-5: 1 and 2; 0-10: the
    NPS detractors 0-6; −2..+2: −2 and −1).
    """

    name: str
    low: float
    high: float
    negative_below: float

    @property
    def is_nps(self) -> bool:
        """0-10: the scale NPS is defined on."""
        return self.name == "0-10"

    def to_emotion(self, score: float) -> float:
        """``score`` on the designed emotion scale 1-5 (linear: low → 1, high → 5)."""
        return 1 + 4 * (score - self.low) / (self.high - self.low)

    def from_emotion(self, emotion: float) -> float:
        """A designed emotion (1-5) on this scale (the inverse of :meth:`to_emotion`)."""
        return self.low + (emotion - 1) * (self.high - self.low) / 4


SCALES: dict[str, Scale] = {
    "1-5": Scale("1-5", 1, 5, 2),
    "0-10": Scale("0-10", 0, 10, 6),
    "-2..2": Scale("-2..2", -2, 2, -1),
}

_ALIASES = {
    "csat": "1-5",
    "1-5": "1-5",
    "1..5": "1-5",
    "nps": "0-10",
    "0-10": "0-10",
    "0..10": "0-10",
    "-2..2": "-2..2",
    "-2..+2": "-2..2",
    "-2-2": "-2..2",
    "-2-+2": "-2..2",
}


def parse_scale(text: str | Scale) -> Scale:
    """The scale named by ``text`` (``1-5``/``csat``, ``0-10``/``nps``, ``-2..2``).

    Raises
    ------
    OptionError
        ``text`` names no known scale (``option == "scale"``).
    """
    if isinstance(text, Scale):
        return text
    key = re.sub(r"\s+", "", text).lower().replace("−", "-").replace("–", "-")
    if key not in _ALIASES:
        raise OptionError(f"unknown score scale {text!r}: use 1-5, 0-10 or -2..2", "scale")
    return SCALES[_ALIASES[key]]


#: a range written in a header: ``(1-5)``, ``0~10``, ``1到5``, ``-2..+2``
_RANGE = re.compile(r"([-−]?\d+)\s*(?:-|–|~|～|\.\.|到|至)\s*\+?(\d+)")


def header_scale(header: str) -> Scale | None:
    """The scale a column's header states (a range in it, or NPS / 推荐), else ``None``."""
    for low, high in _RANGE.findall(header):
        low = low.replace("−", "-")
        key = "-2..2" if (low, high) == ("-2", "2") else f"{low}-{high}"
        if key in _ALIASES:
            return SCALES[_ALIASES[key]]
    lowered = header.lower()
    if "nps" in lowered or "推荐" in header:
        return SCALES["0-10"]
    return None


def detect_scale(values: Sequence[float]) -> Scale | list[str]:
    """The scale ``values`` prove (module doc, rule 3), or the names of the scales they fit.

    ``values`` are the distinct scores of a column; those outside −2..10 are ignored here.
    """
    inside = [v for v in values if -2 <= v <= 10]
    if not inside:
        return list(SCALES)
    low, high = min(inside), max(inside)
    if low < 0:
        return SCALES["-2..2"] if high <= 2 else []
    if high > 5 or (low == 0 and high > 2):
        return SCALES["0-10"]
    if low == 0:
        return ["0-10", "-2..2"]
    if high <= 2:
        return ["1-5", "0-10", "-2..2"]
    return ["1-5", "0-10"]
