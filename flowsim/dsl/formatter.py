"""Model to canonical ``.flow`` text (``flowsim fmt``), keeping the user's comments.

The formatter prints any valid :class:`~flowsim.model.Process`, whether it was parsed from a
file or built in code (model discovery writes its files this way). Two promises, tested with
hypothesis: ``parse(fmt(x)) == parse(x)`` and ``fmt(fmt(x)) == fmt(x)``.

Canonical form: declarations stay in the order they were written (the user's grouping means
something), two-space indentation, one property per line inside blocks, properties in a fixed
order, numbers in their shortest exact form (``72h`` prints as ``3d``), ASCII punctuation.
A blank line separates groups of different kinds and surrounds multi-line blocks; blank lines
the user left between declarations are kept (collapsed to one).

Comments are anchored to source lines: a comment at the end of a line stays at the end of the
line printed for the same construct; a comment on its own line stays before the construct that
followed it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from flowsim.diagnostics import Span
from flowsim.model import (
    MONTH_NAMES,
    UNITS_IN_HOURS,
    ArrivalsChange,
    Calendar,
    Comment,
    Department,
    DurationChange,
    Empirical,
    Exponential,
    Fixed,
    Gamma,
    HeadcountStep,
    Include,
    IntervalArrivals,
    LogNormal,
    Normal,
    Outcome,
    Parallel,
    Persona,
    Process,
    RateArrivals,
    RateProfile,
    Role,
    RoleChange,
    Scenario,
    Stage,
    Touchpoint,
    Transition,
    TransitionChange,
    Triangular,
    Uniform,
    infer_result,
)

__all__ = [
    "fmt_duration",
    "fmt_number",
    "fmt_probability",
    "fmt_string",
    "format_node",
    "format_process",
]

INDENT = "  "
MAX_INLINE = 100
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


# ---- literals --------------------------------------------------------------------------------


def fmt_number(value: float) -> str:
    """Shortest exact decimal, never in exponent notation: 3.0 -> '3', 1e-05 -> '0.00001'."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    text = format(Decimal(repr(value)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt_string(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def fmt_duration(hours: float) -> str:
    """Hours as the duration a person would write, parsing back to exactly the same float.

    Days, hours, minutes in that order (sales people count in days; a week prints as 7d):
    the first unit in which the value is whole, or at least 1 with one decimal (1.5d, 2.5h),
    wins; 12h stays 12h rather than 0.5d.
    """
    for unit in ("d", "h", "m"):
        factor = UNITS_IN_HOURS[unit]
        value = hours * 60 if unit == "m" else hours / factor
        # 56.8 * 24 / 24 is 56.800000000000004: the rounded text may still parse back exactly
        for text in (fmt_number(round(value)), fmt_number(round(value, 1)), fmt_number(value)):
            if float(text) * factor != hours:
                continue
            if "." not in text or (value >= 1 and len(text.split(".")[1]) == 1):
                return f"{text}{unit}"
    for unit in ("h", "m", "d"):  # fractions of a minute, or values no unit hits exactly
        factor = UNITS_IN_HOURS[unit]
        value = hours * 60 if unit == "m" else hours / factor
        text = fmt_number(value)
        if float(text) * factor == hours:
            return f"{text}{unit}"
    return f"{fmt_number(hours)}h"


def fmt_probability(p: float) -> str:
    for digits in range(1, 18):
        text = fmt_number(float(f"{p * 100:.{digits}g}"))
        if float(text) / 100 == p:
            return f"{text}%"
    return fmt_number(p)


def fmt_word(word: str) -> str:
    return word


def fmt_dist(d: Any, value: Callable[[float], str] | None = None) -> str:
    """A distribution as written; ``value`` formats its parameters (default: durations)."""
    f = fmt_duration if value is None else value
    if isinstance(d, Fixed):
        return f(d.value)
    if isinstance(d, Uniform):
        return f"uniform({f(d.low)}, {f(d.high)})"
    if isinstance(d, Triangular):
        return f"triangular({f(d.low)}, {f(d.mode)}, {f(d.high)})"
    if isinstance(d, Exponential):
        return f"exponential(mean {f(d.mean)})"
    if isinstance(d, Normal | LogNormal | Gamma):
        return f"{d.kind}(mean {f(d.mean)}, sd {f(d.sd)})"
    if isinstance(d, Empirical):
        return "empirical[" + ", ".join(f(v) for v in d.values) + "]"
    raise TypeError(f"not a distribution: {d!r}")


def fmt_days(days: tuple[int, ...]) -> str:
    parts: list[str] = []
    run: list[int] = []
    for d in sorted(set(days)):
        if run and d == run[-1] + 1:
            run.append(d)
            continue
        if run:
            parts.append(_run(run))
        run = [d]
    if run:
        parts.append(_run(run))
    return ",".join(parts)


def _run(run: list[int]) -> str:
    if len(run) == 1:
        return _DAY_NAMES[run[0]]
    if len(run) == 2:
        return f"{_DAY_NAMES[run[0]]},{_DAY_NAMES[run[1]]}"
    return f"{_DAY_NAMES[run[0]]}-{_DAY_NAMES[run[-1]]}"


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def fmt_calendar(cal: Calendar) -> str:
    text = (
        fmt_days(cal.days) + " " + " ".join(f"{_hhmm(w.start)}-{_hhmm(w.end)}" for w in cal.windows)
    )
    if cal.timezone is not None:
        text += " " + fmt_string(cal.timezone)
    return text


def fmt_arrivals(a: Any) -> str:
    """The arrivals as written on one line (a profile in braces: ``{ weekdays ... }``)."""
    if isinstance(a, RateArrivals):
        clauses = profile_clauses(a.profile) if a.profile is not None else []
        text = fmt_rate(a)
        inline = "  ".join(f"{w[0]} {'  '.join(w[1:])}".rstrip() for _, w in clauses)
        return f"{text} {{ {inline} }}" if clauses else text
    assert isinstance(a, IntervalArrivals)
    return f"every {fmt_dist(a.interval)}"


def fmt_rate(a: RateArrivals) -> str:
    """``40 per week``, with the profile's time zone when it names one."""
    text = f"{fmt_number(a.count)} per {a.per}"
    if a.profile is not None and a.profile.timezone is not None:
        text += " " + fmt_string(a.profile.timezone)
    return text


def _weight_runs(weights: tuple[float, ...], names: tuple[str, ...]) -> list[str]:
    """``Mon-Thu 1``, ``Fri 0.7``: consecutive equal weights as one range; weight 0 left out."""
    parts: list[str] = []
    i = 0
    while i < len(weights):
        j = i
        while j + 1 < len(weights) and weights[j + 1] == weights[i]:
            j += 1
        if weights[i] != 0:
            group = names[i] if i == j else f"{names[i]}-{names[j]}"
            parts.append(f"{group} {fmt_number(weights[i])}")
        i = j + 1
    return parts


def fmt_percent_change(change: float) -> str:
    """A trend's change as a signed percentage that parses back exactly: ``+2%``.

    The decimal digits of the change shifted two places (``0.07`` → ``7%``, never
    ``7.000000000000001%``); the parser shifts them back in decimal, so the float is the same.
    """
    text = format(Decimal(repr(change)).scaleb(2).normalize(), "f")  # exact: the parser
    return ("+" if change >= 0 else "") + f"{text}%"  # divides the decimal text by 100


#: a profile clause with more (weight) pairs than this continues on the next lines
PAIRS_PER_LINE = {"weekdays": 7, "hours": 4, "months": 6, "trend": 1}


def profile_clauses(p: RateProfile) -> list[tuple[str, list[str]]]:
    """The profile's clauses in canonical order: (clause, [keyword and first words, pairs...])."""
    out: list[tuple[str, list[str]]] = []
    if p.weekdays is not None:
        out.append(("weekdays", ["weekdays", *_weight_runs(p.weekdays, _DAY_NAMES)]))
    if p.hours:
        pairs = [f"{_hhmm(h.start)}-{_hhmm(h.end)} {fmt_number(h.weight)}" for h in p.hours]
        out.append(("hours", ["hours", *pairs]))
    if p.months is not None:
        out.append(("months", ["months", *_weight_runs(p.months, MONTH_NAMES)]))
    if p.trend is not None:
        t = p.trend
        since = f" from {t.since}" if t.since is not None else ""
        out.append(("trend", [f"trend {fmt_percent_change(t.change)} per {t.per}{since}"]))
    return out


def fmt_target(t: Any) -> str:
    """``2000000 CNY per quarter`` (the currency word only when one was given)."""
    currency = f" {t.currency}" if t.currency is not None else ""
    return f"{fmt_number(t.amount)}{currency} per {t.per}"


def _header(kind: str, node: Any) -> str:
    text = f"{kind} {node.id}"
    if node.label is not None:
        text += " " + fmt_string(node.label)
    return text


# ---- lines -----------------------------------------------------------------------------------


@dataclass
class _Line:
    depth: int
    text: str
    anchor: int | None = None
    closing: bool = False
    trailing: list[str] = field(default_factory=list)
    leading: list[str] = field(default_factory=list)


@dataclass
class _Item:
    kind: str
    lines: list[_Line]
    start: int | None  # source line of the first token (None when built in code)
    end: int | None


def _line_of(span: Span | None, main: str | None) -> int | None:
    if span is None or (main is not None and span.file != main):
        return None
    return span.line


class _Printer:
    def __init__(self, main: str | None):
        self.main = main

    def at(self, node: Any, key: str | None = None) -> int | None:
        span = node.field_spans.get(key) if key is not None else node.span
        if span is None and key is not None:
            span = node.span
        return _line_of(span, self.main)

    def block(
        self, header: str, node: Any, body: list[_Line], *, inline_ok: bool = False
    ) -> list[_Line]:
        start = self.at(node)
        if not body:
            return [_Line(0, header, start)]
        if inline_ok and len(body) <= 2:
            text = f"{header} {{ " + " ".join(b.text for b in body) + " }"
            if len(text) <= MAX_INLINE:
                return [_Line(0, text, start)]
        end = _line_of(node.span, self.main)
        end = node.span.end_line if end is not None else None
        lines = [_Line(0, header + " {", start)]
        lines.extend(_Line(b.depth + 1, b.text, b.anchor, b.closing) for b in body)
        lines.append(_Line(0, "}", end, closing=True))
        return lines

    def texts(self, keyword: str, node: Any, values: tuple[str, ...], key: str) -> list[_Line]:
        return [
            _Line(0, f"{keyword} {fmt_string(v)}", self.at(node, f"{key}.{i}"))
            for i, v in enumerate(values)
        ]

    # -- declarations --

    def process(self, p: Process) -> list[_Line]:
        written = "name" in p.field_spans
        if not written:  # no process block was written: nothing to anchor to
            p = p.model_copy(update={"span": None})
        body: list[_Line] = []
        if p.currency is not None:
            body.append(_Line(0, f"currency {p.currency}", self.at(p, "currency")))
        if p.arrivals is not None:
            body.extend(self.arrivals(p))
        if p.amount is not None:
            text = fmt_dist(p.amount, fmt_number)
            body.append(_Line(0, f"amount {text}", self.at(p, "amount")))
        if p.target is not None:
            body.append(_Line(0, f"target {fmt_target(p.target)}", self.at(p, "target")))
        if p.calendar is not None:
            body.append(_Line(0, f"calendar {fmt_calendar(p.calendar)}", self.at(p, "calendar")))
        if not written and not body and self.main is not None:
            # Parsed from a file without a process block: its name is the file's; keep it so.
            return []
        return self.block(f"process {fmt_string(p.name)}", p, body)

    def arrivals(self, p: Process) -> list[_Line]:
        """``arrivals ...``: one line, or a block with one line per clause of a profile."""
        a = p.arrivals
        start = self.at(p, "arrivals")
        if not isinstance(a, RateArrivals) or a.profile is None or not profile_clauses(a.profile):
            return [_Line(0, f"arrivals {fmt_arrivals(a)}", start)]
        prof = a.profile
        lines = [_Line(0, f"arrivals {fmt_rate(a)} {{", start)]
        for key, words in profile_clauses(prof):
            anchor = self.at(prof, key)
            head, pairs = words[0], words[1:]
            step = PAIRS_PER_LINE[key]
            for i in range(0, max(len(pairs), 1), step):
                chunk = "  ".join(pairs[i : i + step])
                text = f"{head} {chunk}".rstrip() if i == 0 else chunk
                lines.append(_Line(1 if i == 0 else 2, text, anchor if i == 0 else None))
        end = prof.span.end_line if prof.span and _line_of(prof.span, self.main) else None
        lines.append(_Line(0, "}", end, closing=True))
        return lines

    def include(self, inc: Include) -> list[_Line]:
        return [_Line(0, f"include {fmt_string(inc.path)}", self.at(inc))]

    def department(self, d: Department) -> list[_Line]:
        return [_Line(0, _header("department", d), self.at(d))]

    def role(self, r: Role) -> list[_Line]:
        text = _header("role", r)
        if r.department is not None:
            text += f" in {r.department}"
        text += f" headcount {r.headcount}"
        for step in r.headcount_steps:
            text += f" from {step.date} headcount {step.headcount}"
        if r.calendar is not None:
            text += f" calendar {fmt_calendar(r.calendar)}"
        return [_Line(0, text, self.at(r))]

    def persona(self, p: Persona) -> list[_Line]:
        body = self.texts("goal", p, p.goals, "goals") + self.texts("note", p, p.notes, "notes")
        return self.block(_header("persona", p), p, body, inline_ok=True)

    def touchpoint(self, t: Touchpoint) -> list[_Line]:
        parts: list[_Line] = []
        if t.channel is not None:
            parts.append(_Line(0, f"channel {t.channel}", self.at(t, "channel")))
        if t.emotion is not None:
            parts.append(_Line(0, f"emotion {fmt_number(t.emotion)}", self.at(t, "emotion")))
        parts += self.texts("pain", t, t.pains, "pains")
        parts += self.texts("idea", t, t.ideas, "ideas")
        parts += self.texts("action", t, t.actions, "actions")
        header = f"touchpoint {fmt_string(t.name)}"
        one_line = " ".join([header, *(p.text for p in parts)])
        anchors = {p.anchor for p in parts} | {self.at(t)}
        if len(one_line) + 2 * len(INDENT) <= MAX_INLINE and len(anchors - {None}) <= 1:
            return [_Line(0, one_line, self.at(t))]
        return self.block(header, t, parts)

    def stage(self, s: Stage) -> list[_Line]:
        body: list[_Line] = []
        if s.start:
            share = "" if s.start_share is None else " " + fmt_probability(s.start_share)
            body.append(_Line(0, "start" + share, self.at(s, "start")))
        if s.owner is not None:
            body.append(_Line(0, f"owner {s.owner}", self.at(s, "owner")))
        body += self.texts("goal", s, s.goals, "goals")
        body += self.texts("exit", s, s.exits, "exits")
        if s.effort is not None:
            body.append(_Line(0, f"effort {fmt_dist(s.effort)}", self.at(s, "effort")))
        if s.wait is not None:
            body.append(_Line(0, f"wait {fmt_dist(s.wait)}", self.at(s, "wait")))
        body += self.texts("note", s, s.notes, "notes")
        for tp in s.touchpoints:
            body += self.touchpoint(tp)
        return self.block(_header("stage", s), s, body)

    def outcome(self, o: Outcome) -> list[_Line]:
        body: list[_Line] = []
        if o.owner is not None:
            body.append(_Line(0, f"owner {o.owner}", self.at(o, "owner")))
        if o.result != infer_result(o.id, o.label):
            body.append(_Line(0, f"result {o.result}", self.at(o, "result")))
        if o.idle is not None:
            body.append(_Line(0, f"idle {fmt_duration(o.idle)}", self.at(o, "idle")))
        body += self.texts("goal", o, o.goals, "goals") + self.texts("note", o, o.notes, "notes")
        return self.block(_header("outcome", o), o, body, inline_ok=True)

    def transition(self, t: Transition) -> list[_Line]:
        text = f"{t.source} -> {t.target}"
        if t.probability is not None:
            text += " " + fmt_probability(t.probability)
        if t.label is not None:
            text += " " + fmt_string(t.label)
        return [_Line(0, text, self.at(t))]

    def parallel(self, block: Parallel, chains: list[list[str]]) -> list[_Line]:
        """``a -> parallel { b, c -> d } -> e "label"``: each branch with its inline chain."""
        branches = ", ".join(" -> ".join(chain) for chain in chains)
        text = f"{block.source} -> parallel {{ {branches} }} -> {block.join}"
        if block.label is not None:
            text += " " + fmt_string(block.label)
        return [_Line(0, text, self.at(block))]

    def scenario(self, s: Scenario) -> list[_Line]:
        body = self.texts("note", s, s.notes, "notes")
        for c in s.changes:
            body.append(_Line(0, self.change(c), self.at(c)))
        lines = self.block(f"scenario {fmt_string(s.name)}", s, body)
        if len(lines) == 1:  # a scenario always has braces
            lines = [
                _Line(0, lines[0].text + " {", lines[0].anchor),
                _Line(0, "}", lines[0].anchor, closing=True),
            ]
        return lines

    def change(self, c: Any) -> str:
        if isinstance(c, RoleChange):
            text = f"role {c.role}"
            if c.headcount is not None:
                text += f" headcount {c.headcount}"
            for step in c.headcount_steps:
                text += _step(step)
            return text
        if isinstance(c, DurationChange):
            if c.factor is not None:
                return f"stage {c.stage} {c.field} * {fmt_number(c.factor)}"
            return f"stage {c.stage} {c.field} {fmt_dist(c.distribution)}"
        if isinstance(c, TransitionChange):
            return f"{c.source} -> {c.target} {fmt_probability(c.probability)}"
        assert isinstance(c, ArrivalsChange)
        if c.factor is not None:
            return f"arrivals * {fmt_number(c.factor)}"
        return f"arrivals {fmt_arrivals(c.arrivals)}"


def _step(step: HeadcountStep) -> str:
    return f" from {step.date} headcount {step.headcount}"


# ---- assembly --------------------------------------------------------------------------------

_GROUP = {
    "process": 0,
    "include": 1,
    "department": 2,
    "role": 3,
    "persona": 4,
    "stage": 5,
    "outcome": 5,
    "transition": 6,
    "scenario": 7,
}


def _main_file(p: Process) -> str | None:
    nodes = (p, *p.includes, *p.stages, *p.outcomes, *p.transitions, *p.parallels)
    for node in (*nodes, *p.scenarios, *p.comments):
        if node.span is not None:
            return node.span.file
    return None


def format_node(node: Department | Role | Stage | Outcome | Transition) -> str:
    """One declaration as :func:`format_process` writes it (without its comments).

    >>> from flowsim.model import Transition
    >>> format_node(Transition(source="lead", target="won", probability=0.4))
    'lead -> won 40%'
    """
    printer = _Printer(None)
    write: dict[type, Callable[[Any], list[_Line]]] = {
        Department: printer.department,
        Role: printer.role,
        Stage: printer.stage,
        Outcome: printer.outcome,
        Transition: printer.transition,
    }
    lines = write[type(node)](node)
    return "\n".join(INDENT * line.depth + line.text for line in lines)


def format_process(process: Process) -> str:
    """The canonical text of ``process``; see the module docstring for the rules."""
    main = _main_file(process)
    printer = _Printer(main)
    items: list[_Item] = []

    def add(kind: str, node: Any, lines: list[_Line]) -> None:
        if not lines:
            return
        span = node.span if node.span is not None and node.span.file == main else None
        if kind == "process" and "name" not in node.field_spans:
            span = None  # the span marks the file's start; no block was written
        items.append(
            _Item(kind, lines, span.line if span else None, span.end_line if span else None)
        )

    def ours(node: Any) -> bool:
        # Declarations pulled in by `include` are printed as the include, not copied.
        return not process.includes or node.span is None or node.span.file == main

    add("process", process, printer.process(process))
    for inc in process.includes:
        add("include", inc, printer.include(inc))
    for d in process.departments:
        if ours(d):
            add("department", d, printer.department(d))
    for r in process.roles:
        if ours(r):
            add("role", r, printer.role(r))
    for pe in process.personas:
        if ours(pe):
            add("persona", pe, printer.persona(pe))
    for s in process.stages:
        add("stage", s, printer.stage(s))
    for o in process.outcomes:
        add("outcome", o, printer.outcome(o))
    inline = _inline_chains(process)
    for t in process.transitions:
        if id(t) not in inline.consumed:
            add("transition", t, printer.transition(t))
    for block, chains in zip(process.parallels, inline.chains, strict=True):
        add("transition", block, printer.parallel(block, chains))
    for sc in process.scenarios:
        add("scenario", sc, printer.scenario(sc))

    placed = [it for it in items if it.start is not None]
    unplaced = [it for it in items if it.start is None]
    placed.sort(key=lambda it: it.start or 0)
    if unplaced and unplaced[0].kind == "process":
        ordered = [unplaced[0], *placed, *unplaced[1:]]
    else:
        ordered = placed + unplaced

    comments = [c for c in process.comments if c.span is not None and c.span.file == main]
    _attach_comments(ordered, comments)
    return _render(ordered, comments)


@dataclass
class _Chains:
    """Per parallel block, each branch as the chain printed inside it, and the transitions
    (by ``id``) printed there instead of on their own line."""

    chains: list[list[list[str]]]
    consumed: set[int]


def _inline_chains(process: Process) -> _Chains:
    """The branch chains to print inside the blocks.

    A transition goes inside a block only where it was written inside it (its span lies in
    the block's), and it carries no probability or label: so the formatted text parses to
    the transitions in the same order, and a model built in code prints them on their own.
    """
    by_source: dict[str, list[Transition]] = {}
    for t in process.transitions:
        by_source.setdefault(t.source, []).append(t)
    result = _Chains([], set())
    for block in process.parallels:
        chains = []
        for entry in block.branches:
            chain = [entry]
            while True:
                edges = by_source.get(chain[-1], [])
                if len(edges) != 1:
                    break
                t = edges[0]
                if not _written_inside(t, block) or t.target in chain:
                    break
                if t.probability is not None or t.label is not None or id(t) in result.consumed:
                    break
                result.consumed.add(id(t))
                chain.append(t.target)
            chains.append(chain)
        result.chains.append(chains)
    return result


def _written_inside(t: Transition, block: Parallel) -> bool:
    a, b = t.span, block.span
    if a is None or b is None or a.file != b.file:
        return False
    return (b.line, b.column) <= (a.line, a.column) and (a.end_line, a.end_column) <= (
        b.end_line,
        b.end_column,
    )


def _attach_comments(items: list[_Item], comments: list[Comment]) -> None:
    lines = [ln for it in items for ln in it.lines]
    anchored = sorted(
        ((ln.anchor, i) for i, ln in enumerate(lines) if ln.anchor is not None),
        key=lambda x: (x[0], x[1]),
    )
    keys = [a for a, _ in anchored]
    orphans: list[str] = []
    for c in comments:
        assert c.span is not None
        line = c.span.line
        if c.trailing:
            pos = bisect.bisect_left(keys, line)
            if pos < len(keys) and keys[pos] == line:
                lines[anchored[pos][1]].trailing.append(c.text)
                continue
            if pos > 0:  # the line had no printed construct of its own: keep it nearby
                lines[anchored[pos - 1][1]].trailing.append(c.text)
                continue
            orphans.append(c.text)
            continue
        pos = bisect.bisect_right(keys, line)
        if pos < len(keys):
            lines[anchored[pos][1]].leading.append(c.text)
        else:
            orphans.append(c.text)
    if orphans:
        items.append(_Item("comment", [_Line(0, "", None, leading=orphans)], None, None))


def _render(items: list[_Item], comments: list[Comment]) -> str:
    comment_lines = sorted(c.span.line for c in comments if c.span is not None and not c.trailing)
    out: list[str] = []
    prev: _Item | None = None
    for item in items:
        if prev is not None and _blank_between(prev, item, comment_lines):
            out.append("")
        for ln in item.lines:
            pad = INDENT * (ln.depth + (1 if ln.closing and ln.leading else 0))
            for text in ln.leading:
                out.append(pad + text)
            if ln.text or not ln.leading:
                text = INDENT * ln.depth + ln.text
                if ln.trailing:
                    text += "  " + "  ".join(ln.trailing)
                if text or item.kind != "comment":
                    out.append(text)
        prev = item
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def _blank_between(prev: _Item, item: _Item, comment_lines: list[int]) -> bool:
    if item.kind == "comment":
        return True
    if _GROUP.get(prev.kind) != _GROUP.get(item.kind):
        return True
    if len(prev.lines) > 1 or len(item.lines) > 1:
        return True
    if prev.end is not None and item.start is not None:
        first = item.start
        # Walk back over the comments directly above the item.
        lo = bisect.bisect_left(comment_lines, prev.end + 1)
        hi = bisect.bisect_left(comment_lines, first)
        above = comment_lines[lo:hi]
        gap_lines = set(range(prev.end + 1, first))
        return bool(gap_lines - set(above))
    return False
