"""The arrival profile of ``arrivals N per PERIOD { ... }``: syntax nodes to a RateProfile.

A profile says how the arrival rate varies around its mean (docs/language.md, "Arrival
profile"): ``weekdays`` and ``months`` give relative weights to groups of days and months
(``Mon-Thu 1 Fri 0.7``; one not listed is 0), ``hours`` to windows of the day (a time not in a
window is 0), ``trend`` a compounded change per period from a date. Every problem is ``E508``
at the token that causes it (an unknown time zone ``E502``, a date that does not exist
``E505``, a clause given twice ``E106``).
"""

from __future__ import annotations

import datetime
import itertools
import re
import zoneinfo
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from flowsim.dsl.keywords import DAY_NAMES
from flowsim.dsl.lexer import Tok as Token
from flowsim.dsl.syntax import SyntaxNode
from flowsim.model import MAX_WEIGHT, MONTH_NAMES, HourWeight, RateProfile, Trend

if TYPE_CHECKING:
    from flowsim.dsl.builder import _Builder as Build

__all__ = ["MONTH_NUMBERS", "build_profile", "timezone"]

#: Month words to 0 (January) .. 11, English and Chinese (一月 .. 十二月).
MONTH_NUMBERS: dict[str, int] = {m.lower(): i for i, m in enumerate(MONTH_NAMES)}
MONTH_NUMBERS.update(
    {f"{c}月": i for i, c in enumerate("一二三四五六七八九十")} | {"十一月": 10, "十二月": 11}
)
_RANGE = re.compile(r"\s*[-\u2013~\uff5e]\s*")
_LIST = re.compile(r"\s*[,\uff0c]\s*")
_TREND_PERIODS = ["week", "month", "quarter", "year"]


def timezone(b: Build, tok: Token) -> str | None:
    """The IANA zone in the string ``tok``, or None after ``E502``."""
    tz = b.string(tok)
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        options = sorted(zoneinfo.available_timezones())
        b.error(
            "E502",
            f"unknown time zone '{tz}'{b.suggest(tz, options)}",
            tok,
            'use an IANA name such as "Asia/Shanghai" or "Europe/Berlin"',
        )
        return None
    return tz


def build_profile(b: Build, node: SyntaxNode | None, tz_tok: Token | None) -> Any:
    """The profile of an ``arrivals`` rate: a RateProfile, None when there is none, or
    ``False`` after an error (reported)."""
    tz = timezone(b, tz_tok) if tz_tok is not None else None
    if tz_tok is not None and tz is None:
        return False
    clauses = node.nodes() if node is not None else []
    if not clauses:
        return None if tz_tok is None else RateProfile(timezone=tz, span=b.span(tz_tok))
    fields: dict[str, Any] = {"timezone": tz}
    spans = {}
    seen: dict[str, SyntaxNode] = {}
    ok = True
    for clause in clauses:
        if not b.single(seen, clause.kind, clause):
            ok = False
            continue
        spans[clause.kind] = b.span(clause)
        value = _CLAUSES[clause.kind](b, clause)
        if value is None:
            ok = False
        else:
            fields[clause.kind] = value
    if not ok:
        return False
    assert node is not None
    return RateProfile(**fields, span=b.span(node), field_spans=spans)


def _pairs(clause: SyntaxNode, kind: str) -> list[tuple[Token, SyntaxNode]]:
    """The (name, weight) pairs of a clause, in the order written."""
    names = clause.tokens(kind)
    return list(zip(names, clause.nodes("number"), strict=True))


def _weight(b: Build, node: SyntaxNode) -> float | None:
    value = b.number(node)
    if not 0 <= value <= MAX_WEIGHT:
        b.error(
            "E508",
            f"an arrival weight must be 0 or more (got {value:g})",
            node,
            "weights are relative: 1 is an average day, 1.5 half as busy again, 0 none",
        )
        return None
    return value


def _members(text: str, names: dict[str, int], size: int) -> list[int]:
    """The indices a list of names and ranges (``Mon-Wed,Fri``, ``Nov-Feb``) covers."""
    out: list[int] = []
    for part in _LIST.split(text.strip()):
        ends = [names[e.lower()] for e in _RANGE.split(part)]
        a, b = ends[0], ends[-1]
        out.extend((a + i) % size for i in range((b - a) % size + 1))
    return out


def _grouped(
    b: Build, clause: SyntaxNode, kind: str, names: dict[str, int], size: int, what: str
) -> tuple[float, ...] | None:
    """Weights per day or month from ``NAMES weight`` pairs; a repeat or an all-zero is E508."""
    weights: list[float | None] = [None] * size
    ok = True
    for tok, num in _pairs(clause, kind):
        w = _weight(b, num)
        if w is None:
            ok = False
            continue
        for i in _members(str(tok), names, size):
            if weights[i] is not None:
                b.error("E508", f"{what} '{tok}' gives a weight twice to one {what}", tok)
                ok = False
            weights[i] = w
    if not ok:
        return None
    values = tuple(0.0 if w is None else w for w in weights)
    if not any(v > 0 for v in values):
        b.error("E508", f"every {what} weight is 0: no deal would ever arrive", clause)
        return None
    return values


def _weekdays(b: Build, clause: SyntaxNode) -> tuple[float, ...] | None:
    return _grouped(b, clause, "DAYS", DAY_NAMES, 7, "weekday")


def _months(b: Build, clause: SyntaxNode) -> tuple[float, ...] | None:
    return _grouped(b, clause, "MONTHS", MONTH_NUMBERS, 12, "month")


def _hours(b: Build, clause: SyntaxNode) -> tuple[HourWeight, ...] | None:
    found: list[tuple[HourWeight, Token]] = []
    ok = True
    for tok, num in _pairs(clause, "TIMERANGE"):
        window, w = b.window(tok), _weight(b, num)
        if window is None or w is None:
            ok = False
            continue
        found.append((HourWeight(start=window.start, end=window.end, weight=w), tok))
    if not ok:
        return None
    found.sort(key=lambda ht: ht[0].start)
    for (a, _), (c, tok) in itertools.pairwise(found):
        if c.start < a.end:
            b.error("E508", f"hours '{tok}' overlap an earlier window", tok, "one weight per time")
            return None
    if not any(h.weight > 0 for h, _ in found):
        b.error("E508", "every hours weight is 0: no deal would ever arrive", clause)
        return None
    return tuple(h for h, _ in found)


def _trend(b: Build, clause: SyntaxNode) -> Trend | None:
    number = clause.nodes("number")[0]
    value = b.number(number)
    plus = clause.token("PLUS")
    if plus is not None and value < 0:
        b.error("E508", f"a trend is +N% or -N%, not +{value:g}%", clause)
        return None
    if value <= -100:
        b.error("E508", f"a trend cannot fall by {-value:g}% or more", clause, "e.g. -5% per month")
        return None
    per = b.period(clause.tokens("NAME")[0], _TREND_PERIODS, "E508", "trend period", "trends are")
    date_tok = clause.token("DATE")
    since = None
    if date_tok is not None:
        since = str(date_tok)
        try:
            datetime.date.fromisoformat(since)
        except ValueError:
            b.error("E505", f"'{since}' is not a calendar date", date_tok, "no such day")
            return None
    if per is None:
        return None
    change = float(Decimal(str(number.children[0])).scaleb(-2))  # exact decimal shift
    return Trend(change=change, per=per, since=since, span=b.span(clause))


_CLAUSES = {"weekdays": _weekdays, "hours": _hours, "months": _months, "trend": _trend}
