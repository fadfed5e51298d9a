"""Syntax tree to model: give every value its meaning, unit and position.

The builder reads the :class:`~flowsim.dsl.syntax.SyntaxNode` statements of a file (and of the
files it includes), converts literals (durations to hours, ``60%`` to 0.6, weekday lists to
numbers), validates each value where it was written, and assembles the pydantic model. It
collects every problem it finds instead of stopping at the first one.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from flowsim.diagnostics import Diagnostic, Severity, Span
from flowsim.dsl.keywords import DAY_NAMES
from flowsim.dsl.lexer import Tok as Token
from flowsim.dsl.profile import build_profile, timezone
from flowsim.dsl.syntax import SyntaxNode, parse_syntax
from flowsim.errors import ModelError
from flowsim.model import (
    DISTRIBUTIONS,
    UNITS_IN_HOURS,
    ArrivalsChange,
    Calendar,
    Change,
    Comment,
    Department,
    DurationChange,
    Empirical,
    Fixed,
    HeadcountStep,
    Include,
    IntervalArrivals,
    Outcome,
    Parallel,
    Persona,
    RateArrivals,
    Role,
    RoleChange,
    Scenario,
    Stage,
    Target,
    TimeWindow,
    Touchpoint,
    Transition,
    TransitionChange,
    infer_result,
)

__all__ = ["Build", "build_process", "decode_source", "infer_result"]

Reader = Callable[[Path], bytes]

#: reads one value of a distribution (a duration or an amount), or reports why it cannot
_ValueReader = Callable[[SyntaxNode | Token, str], float | None]


def decode_source(data: bytes, filename: str) -> tuple[str | None, Diagnostic | None]:
    """Bytes of a .flow file to text: UTF-8 (a BOM is fine), else a located E005 error."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        before = data[: err.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        col = len(before) - (before.rfind("\n") + 1) + 1
        hint = "save the file as UTF-8"
        if b"\x00" in data[:1024]:
            hint = "this looks like a binary file, not a .flow text file"
        elif _looks_chinese(data):
            hint = (
                "the file looks GBK/GB18030-encoded (common for Chinese Windows): save it as UTF-8"
            )
        span = Span(file=filename, line=line, column=col, end_line=line, end_column=col + 1)
        return None, Diagnostic(
            code="E005",
            severity=Severity.ERROR,
            message=f"not valid UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start})",
            span=span,
            hint=hint,
        )
    return text, None


def _looks_chinese(data: bytes) -> bool:
    """Do the non-ASCII bytes read as GB2312-zone pairs (both bytes 0xA1..0xFE)?

    GB18030 decodes almost any byte string, so "it decodes" proves nothing; but Chinese text
    in GBK is made of pairs whose both bytes are high, while Latin-1 text (``für``) puts a
    single high byte before ASCII.
    """
    pairs = zone = 0
    i, n = 0, len(data)
    while i < n:
        b = data[i]
        if b < 0x80:
            i += 1
            continue
        if 0x81 <= b <= 0xFE and i + 1 < n:
            pairs += 1
            if 0xA1 <= b <= 0xF7 and 0xA1 <= data[i + 1] <= 0xFE:
                zone += 1
            i += 2
            continue
        return False
    return pairs > 0 and zone >= 0.9 * pairs


class _Skip(Exception):
    """Abandon the current statement after reporting why (e.g. a number too large to use)."""


@dataclass
class Build:
    """What building produced: model fields (if any), diagnostics, and every source read."""

    fields: dict[str, Any] | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str]
    #: After syntax errors only (every statement that parsed was read without error, and every
    #: file was parsed to its end): the fields of what parsed, for reference checks. Never a
    #: model to use: a text with a syntax error has no process.
    partial: dict[str, Any] | None = None


@dataclass
class _Ctx:
    file: str
    path: Path | None
    reader: Reader
    stack: tuple[Path, ...]
    diags: list[Diagnostic]
    sources: dict[str, str]
    top: bool = True
    syntax_errors: int = 0
    incomplete: bool = False  # a parse stopped before the end of its file


def build_process(
    text: str,
    filename: str = "<string>",
    *,
    reader: Reader | None = None,
) -> Build:
    """Parse and build ``text``; ``reader`` reads included files (default: the file system)."""
    path = Path(filename) if not filename.startswith("<") else None
    ctx = _Ctx(
        file=filename,
        path=path,
        reader=reader or (lambda p: p.read_bytes()),
        stack=(path.resolve(),) if path else (),
        diags=[],
        sources={filename: text},
    )
    b = _Builder(ctx)
    b.file(text)
    errors = sum(d.is_error for d in ctx.diags)
    if not errors:
        return Build(b.finish(), ctx.diags, ctx.sources)
    partial = None
    if ctx.syntax_errors and errors == ctx.syntax_errors and not ctx.incomplete:
        partial = b.finish()
    return Build(None, ctx.diags, ctx.sources, partial)


class _Builder:
    def __init__(self, ctx: _Ctx):
        self.ctx = ctx
        self.process_name: str | None = None
        self.process_fields: dict[str, Any] = {}
        self.process_spans: dict[str, Span] = {}
        self.process_span: Span | None = None
        self.includes: list[Include] = []
        self.departments: list[Department] = []
        self.roles: list[Role] = []
        self.personas: list[Persona] = []
        self.stages: list[Stage] = []
        self.outcomes: list[Outcome] = []
        self.idle_span: Span | None = None
        self.transitions: list[Transition] = []
        self.parallels: list[Parallel] = []
        self.scenarios: list[Scenario] = []
        self.comments: list[Comment] = []

    # ---- diagnostics ----

    def span(self, node: SyntaxNode | Token, end: SyntaxNode | Token | None = None) -> Span:
        last = end or node
        line = node.line or 1
        col = node.column or 1
        end_line = last.end_line or line
        end_col = last.end_column or col + 1
        return Span(
            file=self.ctx.file, line=line, column=col, end_line=end_line, end_column=end_col
        )

    def error(
        self, code: str, message: str, at: SyntaxNode | Token | Span, hint: str | None = None
    ) -> None:
        span = at if isinstance(at, Span) else self.span(at)
        self.ctx.diags.append(
            Diagnostic(code=code, severity=Severity.ERROR, message=message, span=span, hint=hint)
        )

    # ---- file ----

    def file(self, text: str) -> None:
        parsed = parse_syntax(text)
        if self.ctx.top:
            for line, col, comment, trailing in parsed.comments:
                span = Span(
                    file=self.ctx.file,
                    line=line,
                    column=col,
                    end_line=line,
                    end_column=col + len(comment),
                )
                self.comments.append(Comment(text=comment, trailing=trailing, span=span))
        for p in parsed.problems:
            span = Span(
                file=self.ctx.file,
                line=p.line,
                column=p.column,
                end_line=p.end_line,
                end_column=p.end_column,
            )
            self.error(p.code, p.message, span, p.hint)
        self.ctx.syntax_errors += len(parsed.problems)
        self.ctx.incomplete = self.ctx.incomplete or not parsed.complete
        for stmt in parsed.statements:
            handler = getattr(self, f"on_{stmt.kind}")
            if not self.ctx.top and stmt.kind not in (
                "include_decl",
                "department_decl",
                "role_decl",
                "persona_decl",
            ):
                self.error(
                    "E303",
                    f"an included file may only declare departments, roles and personas "
                    f"(found {stmt.kind.removesuffix('_decl').replace('_', ' ')})",
                    stmt,
                    "move stages, outcomes, transitions and scenarios into the main file",
                )
                continue
            try:
                handler(stmt)
            except _Skip:  # the problem is reported; go on with the next statement
                continue
        for node in parsed.kept:  # the ids of skipped declarations, unless declared anyway
            allowed = self.ctx.top or node.kind in ("role_decl", "department_decl", "persona_decl")
            if allowed and str(node.children[1]) not in self._declared(node.kind):
                getattr(self, f"on_{node.kind}")(node)

    def _declared(self, kind: str) -> set[str]:
        """The ids declared so far that a ``kind`` declaration would duplicate."""
        if kind == "role_decl":
            return {r.id for r in self.roles}
        if kind == "department_decl":
            return {d.id for d in self.departments}
        if kind == "persona_decl":
            return {p.id for p in self.personas}
        return {n.id for n in (*self.stages, *self.outcomes)}

    def finish(self) -> dict[str, Any]:
        name = self.process_name
        if name is None:
            stem = Path(self.ctx.file).stem if not self.ctx.file.startswith("<") else "process"
            name = stem
        # Without a process block, findings about the whole process point at the file's start.
        span = self.process_span or Span(
            file=self.ctx.file, line=1, column=1, end_line=1, end_column=1
        )
        return dict(
            name=name,
            span=span,
            field_spans=self.process_spans,
            includes=tuple(self.includes),
            departments=tuple(self.departments),
            roles=tuple(self.roles),
            personas=tuple(self.personas),
            stages=tuple(self.stages),
            outcomes=tuple(self.outcomes),
            transitions=tuple(self.transitions),
            parallels=tuple(self.parallels),
            scenarios=tuple(self.scenarios),
            comments=tuple(self.comments),
            **self.process_fields,
        )

    # ---- literals ----

    def string(self, tok: Token) -> str:
        raw = str(tok)
        if raw.startswith("\u201c"):
            return raw[1:-1]
        body = raw[1:-1]
        if "\\" not in body:
            return body
        out: list[str] = []
        i = 0
        while i < len(body):
            ch = body[i]
            if ch == "\\" and i + 1 < len(body):
                nxt = body[i + 1]
                if nxt in '"\\':
                    out.append(nxt)
                elif nxt == "n":
                    out.append("\n")
                else:
                    col = (tok.column or 1) + 1 + i
                    span = Span(
                        file=self.ctx.file,
                        line=tok.line or 1,
                        column=col,
                        end_line=tok.line or 1,
                        end_column=col + 2,
                    )
                    self.error(
                        "E004",
                        f"unknown escape '\\{nxt}' in string",
                        span,
                        'strings know three escapes: \\" (quote), \\\\ (backslash), \\n (new line)',
                    )
                    out.append(nxt)
                i += 2
                continue
            out.append(ch)
            i += 1
        return "".join(out)

    def number(self, node: SyntaxNode | Token) -> float:
        tok = node if isinstance(node, Token) else node.children[0]
        value = float(str(tok))
        if not math.isfinite(value) or abs(value) > 1e15:
            self.error("E204", f"the number {_short(str(tok))} is too large", tok)
            raise _Skip
        return value

    def duration(self, tok: SyntaxNode | Token, what: str = "duration") -> float | None:
        """A duration literal in hours; a bare number is E203 (a time needs its unit).

        The counterpart for money is :meth:`money`: the two read the same literals with
        opposite rules, so each place says which one it means.
        """
        if isinstance(tok, SyntaxNode):  # a bare number where a duration belongs
            value = str(tok.children[0])
            self.error(
                "E203",
                f"{what} needs a unit: '{value}'",
                tok,
                f"write {value}h, {value}d, ... (units: m minutes, h hours, d days, w weeks)",
            )
            return None
        text = str(tok)
        hours = float(text[:-1]) * UNITS_IN_HOURS[text[-1]]
        if not math.isfinite(hours) or abs(hours) > 1e15:
            self.error("E204", f"the duration {_short(text)} is too large", tok)
            raise _Skip
        return hours

    def money(self, tok: SyntaxNode | Token, what: str = "amount") -> float | None:
        """A deal amount's value: a plain number in the process currency; a time is E203.

        ``what`` is accepted so that :meth:`money` and :meth:`duration` read the values of a
        distribution interchangeably; the message about money needs no name.
        """
        if isinstance(tok, SyntaxNode):
            return self.number(tok)
        self.error(
            "E203",
            f"an amount is money, not time: '{tok}'",
            tok,
            f"write a plain number such as {_short(str(tok)[:-1])}",
        )
        return None

    def probability(
        self, node: SyntaxNode, code: str = "E210", what: str = "probability"
    ) -> float | None:
        value = self.number(node.nodes("number")[0])
        if node.kind == "percent":
            if not 0 <= value <= 100:
                self.error(code, f"{what} {value:g}% is outside 0%..100%", node)
                return None
            return value / 100
        if not 0 <= value <= 1:
            hint = f"write {value:g}% for a percentage" if 1 < value <= 100 else None
            self.error(code, f"{what} {value:g} is outside 0..1", node, hint)
            return None
        return value

    def start_share(self, prop: SyntaxNode, values: dict[str, Any]) -> None:
        """``start 30%``: the share of new deals entering at this stage (E216 if not in (0, 1]).

        Parameters
        ----------
        prop : SyntaxNode
            The ``start`` property, with an optional probability.
        values : dict
            The stage's fields; ``start_share`` is set when the share is valid.
        """
        found = prop.nodes("percent", "fraction")
        if not found:
            return
        share = self.probability(found[0], "E216", "start share")
        if share == 0:
            self.error(
                "E216",
                "a start share must be above 0%",
                found[0],
                "leave `start` out on stages no deal enters at",
            )
        elif share is not None:
            values["start_share"] = share

    def suggest(self, word: str, options: list[str]) -> str:
        close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
        return f" (did you mean '{close[0]}'?)" if close else ""

    # ---- distributions ----

    _PARAMS: ClassVar[dict[str, tuple[tuple[str, ...], dict[str, str]]]] = {
        "fixed": (("value",), {"value": "value"}),
        "uniform": (("low", "high"), {"min": "low", "low": "low", "max": "high", "high": "high"}),
        "triangular": (
            ("low", "mode", "high"),
            {"min": "low", "low": "low", "mode": "mode", "max": "high", "high": "high"},
        ),
        "exponential": (("mean",), {"mean": "mean"}),
        "normal": (("mean", "sd"), {"mean": "mean", "sd": "sd", "std": "sd"}),
        "lognormal": (("mean", "sd"), {"mean": "mean", "sd": "sd", "std": "sd"}),
        "gamma": (("mean", "sd"), {"mean": "mean", "sd": "sd", "std": "sd"}),
    }

    def dist(self, node: SyntaxNode) -> Any:
        """A distribution of durations (effort, wait, arrival interval): values in hours."""
        return self._distribution(node, self.duration)

    def _distribution(self, node: SyntaxNode, read: _ValueReader) -> Any:
        """A distribution whose values ``read`` converts: durations or amounts.

        Durations and amounts share the syntax (``2h``, ``uniform(a, b)``, ``empirical[...]``)
        but not the meaning of a value, so the caller passes :meth:`duration` or :meth:`money`.
        """
        if node.kind == "dist_bare":
            return self._bare(node, read)
        name_tok = node.tokens("NAME")[0]
        name = str(name_tok).lower()
        if node.kind == "dist_list":
            return self._empirical(node, name_tok, read)
        if not self._known_call(name, name_tok):
            return None
        params = self._dist_params(node, name, read)
        return None if params is None else self._make(DISTRIBUTIONS[name], params, node)

    def _bare(self, node: SyntaxNode, read: _ValueReader) -> Any:
        """``2h`` alone: a fixed value, never negative."""
        hours = read(node.children[0], "duration")
        if hours is not None and hours < 0:
            self.error("E202", f"a duration cannot be negative ({node.children[0]})", node)
            return None
        return None if hours is None else self._make(Fixed, {"value": hours}, node)

    def _empirical(self, node: SyntaxNode, name_tok: Token, read: _ValueReader) -> Any:
        """``empirical[2h, 3h, 1d]``: the observed values; square brackets are for it alone."""
        if str(name_tok).lower() != "empirical":
            self.error(
                "E201",
                f"'{name_tok}[...]' is not a distribution",
                name_tok,
                "a list of observed durations is written empirical[2h, 3h, 1d]",
            )
            return None
        values = [read(v, "duration") for v in node.children[2:-1] if not _punct(v)]
        if any(v is None for v in values):
            return None
        return self._make(Empirical, {"values": tuple(values)}, node)

    def _known_call(self, name: str, name_tok: Token) -> bool:
        """Is ``name(...)`` a distribution with parameters? E203 or E201 if not."""
        if name == "empirical":
            self.error(
                "E203",
                "empirical takes a list in square brackets, not parentheses",
                name_tok,
                "write empirical[2h, 3h, 1d]",
            )
            return False
        if name not in self._PARAMS:
            known = [*self._PARAMS, "empirical"]
            hint = "known distributions: " + ", ".join(known)
            self.error(
                "E201",
                f"unknown distribution '{name_tok}'{self.suggest(name, known)}",
                name_tok,
                hint,
            )
            return False
        return True

    def _dist_params(
        self, node: SyntaxNode, name: str, read: _ValueReader
    ) -> dict[str, float] | None:
        """The arguments of ``name(...)`` by parameter name, or None after reporting why.

        Every argument is checked (so one pass reports every mistake); a missing parameter is
        reported only when the given ones are all right, as it is often their consequence.
        """
        order, keys = self._PARAMS[name]
        params: dict[str, float] = {}
        ok = True
        positional = 0
        for arg in node.nodes("dist_arg"):
            key = self._param_key(arg, name, keys, order, positional)
            if key is None:
                ok = False
                continue
            if arg.token("NAME") is None:
                positional += 1
            if key in params:
                self.error("E203", f"{name}() got '{key}' twice", arg, f"write {_signature(name)}")
                ok = False
                continue
            value = read(arg.children[-1], f"{name}() {key}")
            if value is None:
                ok = False
                continue
            params[key] = value
        missing = [k for k in order if k not in params]
        if ok and missing:
            self.error(
                "E203",
                f"{name}() is missing {', '.join(missing)}",
                node,
                f"write {_signature(name)}",
            )
            return None
        return params if ok else None

    def _param_key(
        self,
        arg: SyntaxNode,
        name: str,
        keys: dict[str, str],
        order: tuple[str, ...],
        positional: int,
    ) -> str | None:
        """The parameter an argument sets: by its name (``sd 1d``) or by its position."""
        key_tok = arg.token("NAME")
        if key_tok is not None:
            key = keys.get(str(key_tok).lower())
            if key is None:
                self.error(
                    "E203",
                    f"{name}() has no parameter '{key_tok}'"
                    + self.suggest(str(key_tok), list(keys)),
                    key_tok,
                    f"write {_signature(name)}",
                )
            return key
        if positional >= len(order):
            self.error("E203", f"too many arguments for {name}()", arg, f"write {_signature(name)}")
            return None
        return order[positional]

    def amount(self, node: SyntaxNode) -> Any:
        """A deal's value: a number or a distribution of plain numbers (money, not time)."""
        if node.kind == "number":
            value = self.number(node)
            if value < 0:
                self.error("E202", f"an amount cannot be negative ({value:g})", node)
                return None
            return self._make(Fixed, {"value": value}, node)
        if node.kind == "dist_bare":
            self.money(node.children[0])
            return None
        return self._distribution(node, self.money)

    def _make(self, cls: Any, params: dict[str, Any], node: SyntaxNode) -> Any:
        try:
            return cls(**params, span=self.span(node))
        except ModelError as err:
            reasons = [str(e.get("ctx", {}).get("error", e["msg"])) for e in err.errors()]
            kind = cls.__name__.lower()
            hint = f"write {_signature(kind)}" if kind in self._PARAMS else None
            self.error("E202", f"bad {kind} parameters: " + "; ".join(reasons), node, hint)
            return None

    # ---- calendar ----

    def calendar(self, node: SyntaxNode) -> Calendar | None:
        days_tok = node.tokens("DAYS")[0]
        days = self.days(days_tok)
        found: list[tuple[TimeWindow, Token]] = []
        for tok in node.tokens("TIMERANGE"):
            w = self.window(tok)
            if w is not None:
                found.append((w, tok))
        found.sort(key=lambda wt: wt[0].start)
        for (a, _), (b, b_tok) in itertools.pairwise(found):
            if b.start < a.end:
                self.error(
                    "E501",
                    f"working hours '{b_tok}' overlap an earlier window",
                    b_tok,
                    "list windows in order without overlap, like 09:00-12:00 13:00-18:00",
                )
                return None
        windows = [w for w, _ in found]
        tz = None
        tz_tok = node.token("STRING")
        if tz_tok is not None:
            tz = timezone(self, tz_tok)
            if tz is None:
                return None
        if days is None or len(windows) != len(node.tokens("TIMERANGE")):
            return None
        return Calendar(days=days, windows=tuple(windows), timezone=tz, span=self.span(node))

    def days(self, tok: Token) -> tuple[int, ...] | None:
        result: set[int] = set()
        for part in re.split(r"\s*[,\uff0c]\s*", str(tok).strip()):
            ends = re.split(r"\s*[-\u2013~\uff5e]\s*", part)
            idx = [DAY_NAMES[e.lower()] for e in ends]
            if len(idx) == 1:
                result.add(idx[0])
            else:
                a, b = idx
                d = a
                while True:
                    result.add(d)
                    if d == b:
                        break
                    d = (d + 1) % 7
        return tuple(sorted(result))

    def window(self, tok: Token) -> TimeWindow | None:
        m = re.fullmatch(
            r"(\d{1,2})[:\uff1a](\d{2})\s*[-\u2013~\uff5e]\s*(\d{1,2})[:\uff1a](\d{2})", str(tok)
        )
        assert m is not None
        h1, m1, h2, m2 = (int(x) for x in m.groups())
        start, end = h1 * 60 + m1, h2 * 60 + m2
        if m1 > 59 or m2 > 59 or start >= 1440 or end > 1440:
            self.error(
                "E501", f"'{tok}' is not a time of day range", tok, "hours run 00:00 to 24:00"
            )
            return None
        if end <= start:
            self.error(
                "E501",
                f"working hours '{tok}' end before they start",
                tok,
                "overnight shifts are two windows: 22:00-24:00 00:00-06:00",
            )
            return None
        return TimeWindow(start=start, end=end)

    def arrivals(self, node: SyntaxNode) -> Any:
        if node.kind == "arrivals_every":
            dist = self.dist(node.nodes()[0])
            return None if dist is None else IntervalArrivals(interval=dist, span=self.span(node))
        count = self.number(node.nodes("number")[0])
        periods = ["hour", "day", "week", "month", "quarter", "year"]
        per = self.period(node.tokens("NAME")[0], periods, "E503", "period", "rates are")
        if per is None:
            return None
        if count <= 0:
            self.error("E503", "the arrival rate must be greater than 0", node)
            return None
        found = node.nodes("arrival_profile")
        profile = build_profile(self, found[0] if found else None, node.token("STRING"))
        if profile is False:
            return None
        return RateArrivals(count=count, per=per, profile=profile, span=self.span(node))

    def period(self, tok: Token, periods: list[str], code: str, what: str, subject: str) -> Any:
        """The period word after ``per`` (plurals accepted), or None after an error."""
        per = str(tok).lower()
        if per.endswith("s") and per[:-1] in periods:
            per = per[:-1]
        if per not in periods:
            self.error(
                code,
                f"unknown {what} '{tok}'{self.suggest(per, periods)}",
                tok,
                f"{subject} given per " + ", ".join(periods),
            )
            return None
        return per

    def headcount(self, node: SyntaxNode) -> int | None:
        value = self.number(node)
        if value != int(value):
            self.error("E402", f"headcount must be a whole number (got {value:g})", node)
            return None
        if value < 1:
            self.error(
                "E401",
                f"headcount must be at least 1 (got {value:g})",
                node,
                "a role needs at least one person; remove it if nobody does this work",
            )
            return None
        return int(value)

    def headcount_step(self, prop: SyntaxNode) -> HeadcountStep | None:
        date_tok = prop.tokens("DATE")[0]
        hc = self.headcount(prop.nodes("number")[0])
        import datetime

        try:
            datetime.date.fromisoformat(str(date_tok))
        except ValueError:
            self.error(
                "E505", f"'{date_tok}' is not a calendar date", date_tok, "that day does not exist"
            )
            return None
        if hc is None:
            return None
        return HeadcountStep(date=str(date_tok), headcount=hc, span=self.span(prop))

    def ordered_steps(self, steps: list[HeadcountStep], at: SyntaxNode) -> list[HeadcountStep]:
        steps = sorted(steps, key=lambda s: s.date)
        for a, b in itertools.pairwise(steps):
            if a.date == b.date:
                self.error("E505", f"two headcount changes on {a.date}", b.span or at, "keep one")
                return []
        return steps

    # ---- declarations ----

    def header(self, node: SyntaxNode) -> tuple[Token, str | None, dict[str, Span]]:
        name = node.tokens("NAME")[0]
        spans = {"id": self.span(name)}
        label_tok = None
        idx = node.children.index(name)
        if idx + 1 < len(node.children):
            nxt = node.children[idx + 1]
            if isinstance(nxt, Token) and nxt.type == "STRING":
                label_tok = nxt
        return name, (self.string(label_tok) if label_tok is not None else None), spans

    def single(self, seen: dict[str, SyntaxNode], key: str, prop: SyntaxNode) -> bool:
        """Record a property that may be given once; report the repeat."""
        if key in seen:
            first = seen[key]
            self.error(
                "E106",
                f"'{key}' is given twice (first at line {first.line})",
                prop,
                f"keep one '{key}'",
            )
            return False
        seen[key] = prop
        return True

    def on_include_decl(self, node: SyntaxNode) -> None:
        tok = node.tokens("STRING")[0]
        rel = self.string(tok)
        if self.ctx.top:
            self.includes.append(Include(path=rel, span=self.span(node)))
        base = self.ctx.path.parent if self.ctx.path else Path.cwd()
        target = (base / rel).resolve()
        if target in self.ctx.stack:
            chain = " -> ".join(p.name for p in (*self.ctx.stack, target))
            self.error(
                "E302", f"include cycle: {chain}", tok, "remove one of the includes in the cycle"
            )
            return
        try:
            data = self.ctx.reader(target)
        except OSError as err:
            reason = err.strerror or type(err).__name__
            self.error(
                "E301",
                f"cannot include '{rel}': {reason}",
                tok,
                f"paths are relative to the including file ({base})",
            )
            return
        fname = str(Path(self.ctx.file).parent / rel) if self.ctx.path else rel
        text, problem = decode_source(data, fname)
        if problem is not None or text is None:
            if problem is not None:
                self.ctx.diags.append(problem)
            return
        self.ctx.sources[fname] = text
        sub = _Ctx(
            file=fname,
            path=target,
            reader=self.ctx.reader,
            stack=(*self.ctx.stack, target),
            diags=self.ctx.diags,
            sources=self.ctx.sources,
            top=False,
        )
        child = _Builder(sub)
        child.file(text)
        self.departments.extend(child.departments)
        self.roles.extend(child.roles)
        self.personas.extend(child.personas)

    def on_process_decl(self, node: SyntaxNode) -> None:
        if self.process_span is not None:
            self.error(
                "E111",
                f"a second process block (the first is at line {self.process_span.line})",
                node,
                "a file describes one process: merge the blocks",
            )
            return
        self.process_span = self.span(node)
        name_tok = node.tokens("STRING", "NAME")[0]
        self.process_name = self.string(name_tok) if name_tok.type == "STRING" else str(name_tok)
        self.process_spans["name"] = self.span(name_tok)
        seen: dict[str, SyntaxNode] = {}
        for prop in node.nodes():
            if not self.single(seen, prop.kind, prop):
                continue
            self.process_spans[prop.kind] = self.span(prop)
            if prop.kind == "currency":
                self.process_fields["currency"] = str(prop.tokens("NAME")[0])
            elif prop.kind == "arrivals":
                value = self.arrivals(prop.nodes()[0])
                if value is not None:
                    self.process_fields["arrivals"] = value
            elif prop.kind == "calendar":
                cal = self.calendar(prop.nodes()[0])
                if cal is not None:
                    self.process_fields["calendar"] = cal
            elif prop.kind == "amount":
                amount = self.amount(prop.nodes()[0])
                if amount is not None:
                    self.process_fields["amount"] = amount
            elif prop.kind == "target":
                target = self.target(prop)
                if target is not None:
                    self.process_fields["target"] = target
        self.target_currency(seen.get("target"))

    def target(self, node: SyntaxNode) -> Target | None:
        """``target 2000000 CNY per quarter``: won revenue to reach per calendar period."""
        value = self.number(node.nodes("number")[0])
        names = node.tokens("NAME")
        periods = ["week", "month", "quarter", "year"]
        per = self.period(names[-1], periods, "E506", "target period", "a target is")
        if per is None:
            return None
        if value <= 0:
            self.error("E506", f"a target must be greater than 0 (got {value:g})", node)
            return None
        currency = str(names[0]) if len(names) == 2 else None
        return Target(amount=value, currency=currency, per=per, span=self.span(node))

    def target_currency(self, node: SyntaxNode | None) -> None:
        """A target's currency word must be the process currency: amounts are not converted."""
        target = self.process_fields.get("target")
        currency = self.process_fields.get("currency")
        if node is None or target is None or target.currency is None or currency is None:
            return
        if target.currency != currency:
            self.error(
                "E506",
                f"the target is in {target.currency} but the process currency is {currency}",
                node.tokens("NAME")[0],
                f"write the target in {currency} (deal amounts are in the process currency), "
                "or leave the currency word out",
            )
            del self.process_fields["target"]

    def on_department_decl(self, node: SyntaxNode) -> None:
        name, label, spans = self.header(node)
        self.departments.append(
            Department(id=str(name), label=label, span=self.span(node), field_spans=spans)
        )

    def on_role_decl(self, node: SyntaxNode) -> None:
        name, label, spans = self.header(node)
        seen: dict[str, SyntaxNode] = {}
        values: dict[str, Any] = {}
        steps: list[HeadcountStep] = []
        for prop in node.nodes():
            if prop.kind == "member_of":
                if self.single(seen, "in", prop):
                    values["department"] = str(prop.tokens("NAME")[0])
                    spans["department"] = self.span(prop.tokens("NAME")[0])
            elif prop.kind == "headcount":
                if self.single(seen, "headcount", prop):
                    spans["headcount"] = self.span(prop)
                    hc = self.headcount(prop.nodes("number")[0])
                    if hc is not None:
                        values["headcount"] = hc
            elif prop.kind == "headcount_from":
                spans[f"headcount_steps.{len(steps)}"] = self.span(prop)
                step = self.headcount_step(prop)
                if step is not None:
                    steps.append(step)
            elif prop.kind == "calendar" and self.single(seen, "calendar", prop):
                spans["calendar"] = self.span(prop)
                cal = self.calendar(prop.nodes()[0])
                if cal is not None:
                    values["calendar"] = cal
        steps = self.ordered_steps(steps, node)
        self.roles.append(
            Role(
                id=str(name),
                label=label,
                headcount_steps=tuple(steps),
                span=self.span(node),
                field_spans=spans,
                **values,
            )
        )

    def _texts(
        self, node: SyntaxNode, kinds: dict[str, str], spans: dict[str, Span]
    ) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {v: [] for v in kinds.values()}
        for prop in node.nodes(*kinds):
            target = kinds[prop.kind]
            spans[f"{target}.{len(out[target])}"] = self.span(prop)
            out[target].append(self.string(prop.tokens("STRING")[0]))
        return out

    def on_persona_decl(self, node: SyntaxNode) -> None:
        name, label, spans = self.header(node)
        texts = self._texts(node, {"goal": "goals", "note": "notes"}, spans)
        self.personas.append(
            Persona(
                id=str(name),
                label=label,
                goals=tuple(texts["goals"]),
                notes=tuple(texts["notes"]),
                span=self.span(node),
                field_spans=spans,
            )
        )

    def touchpoint(self, node: SyntaxNode) -> Touchpoint:
        name_tok = node.tokens("STRING")[0]
        spans: dict[str, Span] = {"name": self.span(name_tok)}
        seen: dict[str, SyntaxNode] = {}
        values: dict[str, Any] = {}
        for prop in node.nodes("channel", "emotion"):
            if not self.single(seen, prop.kind, prop):
                continue
            spans[prop.kind] = self.span(prop)
            if prop.kind == "channel":
                values["channel"] = str(prop.tokens("NAME")[0])
            else:
                values["emotion"] = self.number(prop.nodes("number")[0])
        texts = self._texts(node, {"pain": "pains", "idea": "ideas", "action": "actions"}, spans)
        return Touchpoint(
            name=self.string(name_tok),
            pains=tuple(texts["pains"]),
            ideas=tuple(texts["ideas"]),
            actions=tuple(texts["actions"]),
            span=self.span(node),
            field_spans=spans,
            **values,
        )

    def on_stage_decl(self, node: SyntaxNode) -> None:
        name, label, spans = self.header(node)
        seen: dict[str, SyntaxNode] = {}
        values: dict[str, Any] = {}
        touchpoints: list[Touchpoint] = []
        for prop in node.nodes():
            kind = prop.kind
            if kind == "owner":
                if self.single(seen, "owner", prop):
                    values["owner"] = str(prop.tokens("NAME")[0])
                    spans["owner"] = self.span(prop.tokens("NAME")[0])
            elif kind in ("effort", "wait"):
                if self.single(seen, kind, prop):
                    spans[kind] = self.span(prop)
                    dist = self.dist(prop.nodes()[0])
                    if dist is not None:
                        values[kind] = dist
            elif kind == "start":
                if self.single(seen, "start", prop):
                    values["start"] = True
                    spans["start"] = self.span(prop)
                    self.start_share(prop, values)
            elif kind == "touchpoint":
                touchpoints.append(self.touchpoint(prop))
        texts = self._texts(node, {"goal": "goals", "exit": "exits", "note": "notes"}, spans)
        self.stages.append(
            Stage(
                id=str(name),
                label=label,
                touchpoints=tuple(touchpoints),
                goals=tuple(texts["goals"]),
                exits=tuple(texts["exits"]),
                notes=tuple(texts["notes"]),
                span=self.span(node),
                field_spans=spans,
                **values,
            )
        )

    def on_outcome_decl(self, node: SyntaxNode) -> None:
        name, label, spans = self.header(node)
        seen: dict[str, SyntaxNode] = {}
        values: dict[str, Any] = {}
        for prop in node.nodes("owner", "result", "idle"):
            if not self.single(seen, prop.kind, prop):
                continue
            if prop.kind == "idle":
                self.idle(prop, values, spans)
                continue
            word = prop.tokens("NAME")[0]
            spans[prop.kind] = self.span(word)
            if prop.kind == "owner":
                values["owner"] = str(word)
            elif str(word).lower() in ("won", "lost", "other"):
                values["result"] = str(word).lower()
            else:
                self.error(
                    "E504",
                    f"unknown result '{word}'"
                    + self.suggest(str(word).lower(), ["won", "lost", "other"]),
                    word,
                    "an outcome's result is won, lost or other",
                )
        if "result" not in values:
            values["result"] = infer_result(str(name), label)
        texts = self._texts(node, {"goal": "goals", "note": "notes"}, spans)
        self.outcomes.append(
            Outcome(
                id=str(name),
                label=label,
                goals=tuple(texts["goals"]),
                notes=tuple(texts["notes"]),
                span=self.span(node),
                field_spans=spans,
                **values,
            )
        )

    def idle(self, prop: SyntaxNode, values: dict[str, Any], spans: dict[str, Span]) -> None:
        """``idle 90d``: no activity that long ends a deal in this outcome (one per process)."""
        tok = prop.tokens("DURATION")[0]
        spans["idle"] = self.span(tok)
        hours = self.duration(tok, "an idle time")
        if hours is None:
            return
        if hours <= 0:
            self.error("E507", f"an idle time must be greater than 0 (got {tok})", tok)
            return
        if self.idle_span is not None:
            self.error(
                "E507",
                f"a second idle rule (the first is at line {self.idle_span.line})",
                tok,
                "one outcome takes the deals that go quiet: keep one `idle`",
            )
            return
        self.idle_span = self.span(tok)
        values["idle"] = hours

    def on_transition(self, node: SyntaxNode) -> None:
        src, dst = node.tokens("NAME")[:2]
        spans = {"source": self.span(src), "target": self.span(dst)}
        prob = None
        prob_nodes = node.nodes("percent", "fraction")
        if prob_nodes:
            prob = self.probability(prob_nodes[0])
            if prob is None:
                return
        label_tok = node.token("STRING")
        label = None
        if label_tok is not None:
            label = self.string(label_tok)
        self.transitions.append(
            Transition(
                source=str(src),
                target=str(dst),
                probability=prob,
                label=label,
                span=self.span(node),
                field_spans=spans,
            )
        )

    def on_parallel_decl(self, node: SyntaxNode) -> None:
        """``a -> parallel { b, c -> d } -> e``: the block, and a transition per chain link."""
        src, join = node.tokens("NAME")
        spans = {"source": self.span(src), "join": self.span(join)}
        entries: list[str] = []
        for i, branch in enumerate(node.nodes("branch")):
            names = branch.tokens("NAME")
            spans[f"branches.{i}"] = self.span(names[0])
            entries.append(str(names[0]))
            for a, b in itertools.pairwise(names):
                self.transitions.append(
                    Transition(
                        source=str(a),
                        target=str(b),
                        span=self.span(a, b),
                        field_spans={"source": self.span(a), "target": self.span(b)},
                    )
                )
        label_tok = node.token("STRING")
        self.parallels.append(
            Parallel(
                source=str(src),
                branches=tuple(entries),
                join=str(join),
                label=self.string(label_tok) if label_tok is not None else None,
                span=self.span(node),
                field_spans=spans,
            )
        )

    def on_scenario_decl(self, node: SyntaxNode) -> None:
        name_tok = node.tokens("STRING", "NAME")[0]
        name = self.string(name_tok) if name_tok.type == "STRING" else str(name_tok)
        spans = {"name": self.span(name_tok)}
        changes: list[Change] = []
        notes: list[str] = []
        for item in node.nodes():
            if item.kind == "note":
                spans[f"notes.{len(notes)}"] = self.span(item)
                notes.append(self.string(item.tokens("STRING")[0]))
            else:
                changes.extend(self.change(item))
        self.scenarios.append(
            Scenario(
                name=name,
                changes=tuple(changes),
                notes=tuple(notes),
                span=self.span(node),
                field_spans=spans,
            )
        )

    def change(self, item: SyntaxNode) -> list[Change]:
        """The changes one scenario line makes (a ``stage x`` line may make several)."""
        make = {
            "role_override": self._role_change,
            "stage_override": self._stage_changes,
            "transition_override": self._transition_change,
            "arrivals_override": self._arrivals_change,
            "arrivals_scale": self._arrivals_scale,
        }.get(item.kind)
        if make is None:
            return []
        try:
            return make(item)
        except ModelError as err:  # pragma: no cover - the checks above should prevent it
            self.error("E404", f"invalid scenario change: {err.errors()[0]['msg']}", item)
            return []

    def _role_change(self, item: SyntaxNode) -> list[Change]:
        """``role rep headcount 5 from 2025-09-01 headcount 6``: a new headcount or plan."""
        role = item.tokens("NAME")[0]
        headcount = None
        steps: list[HeadcountStep] = []
        for sub in item.nodes():
            if sub.kind == "headcount":
                headcount = self.headcount(sub.nodes("number")[0])
                if headcount is None:
                    return []
            else:
                step = self.headcount_step(sub)
                if step is None:
                    return []
                steps.append(step)
        return [
            RoleChange(
                role=str(role),
                headcount=headcount,
                headcount_steps=tuple(self.ordered_steps(steps, item)),
                span=self.span(item),
                field_spans={"role": self.span(role)},
            )
        ]

    def _stage_changes(self, item: SyntaxNode) -> list[Change]:
        """``stage demo effort * 0.7 wait 2d``: one :class:`DurationChange` per setting."""
        stage = item.tokens("NAME")[0]
        result: list[Change] = []
        for sub in item.nodes():
            change = self._duration_change(stage, sub)
            if change is not None:
                result.append(change)
        return result

    def _duration_change(self, stage: Token, sub: SyntaxNode) -> DurationChange | None:
        """A stage's effort or wait set to a distribution, or scaled by a factor (≥ 0)."""
        which = str(sub.tokens("EFFORT_OR_WAIT")[0])
        spans = {"stage": self.span(stage)}
        if sub.kind == "set_duration":
            dist = self.dist(sub.nodes()[0])
            if dist is None:
                return None
            return DurationChange(
                stage=str(stage),
                field=which,
                distribution=dist,
                span=self.span(sub),
                field_spans=spans,
            )
        factor = self.number(sub.nodes("number")[0])
        if factor < 0:
            self.error("E404", f"a duration factor cannot be negative (got {factor:g})", sub)
            return None
        return DurationChange(
            stage=str(stage), field=which, factor=factor, span=self.span(sub), field_spans=spans
        )

    def _transition_change(self, item: SyntaxNode) -> list[Change]:
        """``a -> b 40%``: a new probability for an existing transition."""
        src, dst = item.tokens("NAME")[:2]
        prob = self.probability(item.nodes("percent", "fraction")[0])
        if prob is None:
            return []
        return [
            TransitionChange(
                source=str(src),
                target=str(dst),
                probability=prob,
                span=self.span(item),
                field_spans={"source": self.span(src), "target": self.span(dst)},
            )
        ]

    def _arrivals_change(self, item: SyntaxNode) -> list[Change]:
        """``arrivals 30 per week``: new arrivals in place of the process's."""
        arrivals = self.arrivals(item.nodes()[0])
        return [] if arrivals is None else [ArrivalsChange(arrivals=arrivals, span=self.span(item))]

    def _arrivals_scale(self, item: SyntaxNode) -> list[Change]:
        """``arrivals * 1.2``: the process's arrivals scaled (the factor must be above 0)."""
        factor = self.number(item.nodes("number")[0])
        if factor <= 0:
            self.error("E404", f"an arrivals factor must be greater than 0 (got {factor:g})", item)
            return []
        return [ArrivalsChange(factor=factor, span=self.span(item))]


def _punct(node: Any) -> bool:
    return isinstance(node, Token) and node.type.startswith("_")


def _signature(name: str) -> str:
    return {
        "fixed": "fixed(2h) or just 2h",
        "uniform": "uniform(2h, 6h)",
        "triangular": "triangular(1h, 2h, 4h)  (min, mode, max)",
        "exponential": "exponential(mean 4d)",
        "normal": "normal(mean 3d, sd 1d)",
        "lognormal": "lognormal(mean 3d, sd 2d)",
        "gamma": "gamma(mean 6h, sd 2h)",
    }[name]


def _short(text: str) -> str:
    return text if len(text) <= 20 else text[:17] + "..."
