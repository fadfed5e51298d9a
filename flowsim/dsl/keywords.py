"""The words of the .flow language, in one place for the parser, the checks and discovery.

Stage and outcome ids may not be one of them: a transition starts with the id, and at the start
of a statement a keyword wins. This module imports nothing, so every layer may read it.
"""

from __future__ import annotations

__all__ = ["DAY_NAMES", "KEYWORDS"]

#: Words of the language (tests keep this list in sync with the grammar).
KEYWORDS = frozenset(
    (
        "process include currency arrivals per every amount calendar department role in headcount "
        "from persona goal note stage owner exit effort wait start touchpoint channel "
        "emotion pain idea action outcome result idle scenario target parallel weekdays hours "
        "months trend"
    ).split()
)

#: Weekday names to 0 (Monday) .. 6, English and Chinese (calendars, arrival profiles).
DAY_NAMES = {
    "mon": 0,
    "tue": 1,
    "wed": 2,
    "thu": 3,
    "fri": 4,
    "sat": 5,
    "sun": 6,
    "周一": 0,
    "周二": 1,
    "周三": 2,
    "周四": 3,
    "周五": 4,
    "周六": 5,
    "周日": 6,
    "周天": 6,
}
