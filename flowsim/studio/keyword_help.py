"""Hover help of the studio editor: one short text per keyword and distribution name.

GENERATED from docs/language.md by scripts/build_editor_help.py (`make editor`): do not
edit by hand; tests/studio/test_language.py checks it is current.
"""

# ruff: noqa: E501

DISTRIBUTIONS = (
    "fixed",
    "uniform",
    "triangular",
    "exponential",
    "normal",
    "lognormal",
    "gamma",
    "empirical",
)

HELP: dict[str, str] = {
    "action": 'action "...": what the customer does (may repeat)',
    "amount": "amount a number or a distribution of plain numbers, e.g. lognormal(mean 200000, sd 80000): the value of one deal in the process currency: what a won deal brings in (simulated revenue, pipeline value)",
    "arrivals": "arrivals N per PERIOD (optionally with a profile) or every DISTRIBUTION: how new deals enter the entry stage",
    "calendar": "calendar weekdays, time windows, optional time zone: when people work, unless their role has its own calendar",
    "channel": "channel WORD: how the customer is reached: phone, web, email, visit, video, ... (any word)",
    "currency": "currency a word, e.g. USD, CNY: the currency of money amounts (not validated)",
    "department": 'department ID "LABEL" — A department is a team in the organisation chart; diagrams draw departments as swimlanes.',
    "effort": "effort DIST: the owner's working time per deal; it needs a free person of the owner's role",
    "emotion": "emotion N: how the customer feels, from 1 (very unhappy) to 5 (delighted), as in Mermaid's journey diagram; decimals are allowed; outside 1-5 is warning W104",
    "every": "arrivals N per PERIOD (optionally with a profile) or every DISTRIBUTION: how new deals enter the entry stage",
    "exit": 'exit "...": exit criteria: what must be true before a deal may leave',
    "from": "from DATE headcount N: from that date on, the role has N people; may repeat, one per date (E505)",
    "goal": 'goal "...": what the stage is for',
    "headcount": "headcount N: how many people fill the role; a whole number (E402) of at least 1 (E401); default 1",
    "hours": "hours time windows, each followed by a weight: how busy each time of day is, the same on every day; a time outside every window gets no deals",
    "idea": 'idea "...": an improvement opportunity (may repeat)',
    "idle": "idle 90d states the idle rule: a deal with no activity for that long ends in this outcome.",
    "in": "in DEPARTMENT: the department the role belongs to (unknown: E103)",
    "include": 'include "RELATIVE/PATH.flow" — include pulls the departments, roles and personas of another file into this one, so that several process files can share one organisation.',
    "months": "months Jan ... Dec (or 一月 ... 十二月): single months, ranges (Mar-May, Nov-Feb wraps) or lists (Mar,Jun), each followed by a weight: the season: how busy each month is, relative to the others; a month not listed gets no deals",
    "note": 'note "...": free text',
    "outcome": 'outcome ID "LABEL" { owner ROLE  result won|lost|other  idle DURATION  goal "..."  note "..." } — An outcome is where a deal ends.',
    "owner": "owner ROLE: the role that does the work (unknown: E104)",
    "pain": 'pain "...": what goes wrong for the customer (may repeat)',
    "parallel": "parallel { BRANCH, ...",
    "per": "arrivals N per PERIOD (optionally with a profile) or every DISTRIBUTION: how new deals enter the entry stage",
    "persona": 'persona ID "LABEL" { goal "..."  note "..." } — A persona is the customer whose journey the touchpoints tell: "Head of Operations", "采购负责人".',
    "process": 'process "NAME" { currency WORD  arrivals ARRIVALS  amount AMOUNT  target TARGET  calendar CALENDAR } — The process declaration names the process and holds settings that apply to all of it.',
    "result": "result says whether the outcome counts as a win, a loss or neither (other).",
    "role": 'role ID "LABEL" { in DEPARTMENT  headcount N  from DATE headcount N ...  calendar CALENDAR } — A role is a kind of person who does the work of a stage: "SDR", "Solutions engineer".',
    "scenario": 'scenario "NAME" { — A scenario is a named what-if: a set of changes applied on top of the process.',
    "stage": 'stage ID "LABEL" { — A stage is a step of the sales process that a deal spends time in.',
    "start": "start: deals enter the process here (see below)",
    "target": "target N [CURRENCY] per PERIOD, e.g. target 2000000 CNY per quarter; PERIOD is week, month, quarter or year: the won revenue to reach in each calendar period: flowsim forecast reports the probability of reaching it (forecast). A currency word must be the process currency (E506)",
    "touchpoint": 'touchpoint "NAME" { channel WORD  emotion N  pain "..."  idea "..."  action "..." } — A touchpoint is a moment in a stage where the customer meets the company: a call, a website visit, a contract e-mail.',
    "trend": "trend +N% or -N% per week, month, quarter or year, optionally from DATE: a steady growth or decline, compounded: +2% per month is ×1.02 a month, ×1.27 a year",
    "wait": "wait DIST: time spent waiting for the customer or others; it needs nobody",
    "weekdays": "weekdays weekday lists (Mon, Tue-Thu, Sat,Sun, 周一-周五), each followed by a weight: how busy each day of the week is, relative to the others; a day not listed gets no deals",
    "fixed": "fixed(x) or just x value x ≥ 0: the time barely varies: a scheduled 30-minute call",
    "uniform": "uniform(a, b) low, high 0 ≤ low ≤ high: you only know the bounds, and any value between them is as likely",
    "triangular": "triangular(a, m, b) low (min), mode, high (max) 0 ≤ min ≤ mode ≤ max: a three-point estimate from the team: shortest, most likely, longest",
    "exponential": "exponential(mean x) mean mean > 0: memoryless waiting: most replies come fast, a few take very long",
    "normal": "normal(mean x, sd y) mean, sd mean > 0, sd > 0: symmetric variation around a typical value; truncated at 0",
    "lognormal": 'lognormal(mean x, sd y) mean, sd mean > 0, sd > 0: customer latency: never negative, long right tail (the usual shape of "waiting for the customer")',
    "gamma": "gamma(mean x, sd y) mean, sd mean > 0, sd > 0: right-skewed work time with a lighter tail than lognormal",
    "empirical": "empirical[x1, x2, ...] observed values at least one, none negative: you have measured durations: they are resampled, each equally likely",
}
