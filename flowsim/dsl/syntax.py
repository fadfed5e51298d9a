"""Text to syntax tree: the Lark LALR parser driven by our lexer, and syntax errors.

The parse produces a light tree of :class:`SyntaxNode` (rule name, children, position). Turning
that tree into the model is :mod:`flowsim.dsl.builder`'s job; this module only knows grammar.

Syntax errors become :class:`~flowsim.diagnostics.Diagnostic` objects with a position, a
message in the user's terms ("expected a stage property such as owner, goal, effort") and, when
we recognise the mistake, a hint.
"""

from __future__ import annotations

import difflib
import itertools
import threading
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from lark import Lark, Tree
from lark.parsers.lalr_analysis import Shift

from flowsim._extras import MissingExtra
from flowsim.dsl.keywords import KEYWORDS
from flowsim.dsl.lexer import UNIT_WORDS, Lexer, LexError
from flowsim.dsl.lexer import Tok as Token
from flowsim.gc_pause import gc_paused

__all__ = ["LARK_TESTED", "LarkVersionError", "SyntaxNode", "SyntaxProblem", "parse_syntax"]


@dataclass(slots=True)
class SyntaxNode:
    """A grammar rule match: ``kind`` is the rule (or alias) name in grammar.lark."""

    kind: str
    children: list[Any]
    line: int = 0
    column: int = 0
    end_line: int = 0
    end_column: int = 0

    def tokens(self, *types: str) -> list[Token]:
        return [c for c in self.children if isinstance(c, Token) and (not types or c.type in types)]

    def token(self, *types: str) -> Token | None:
        for c in self.children:
            if isinstance(c, Token) and c.type in types:
                return c
        return None

    def nodes(self, *kinds: str) -> list[SyntaxNode]:
        return [
            c for c in self.children if isinstance(c, SyntaxNode) and (not kinds or c.kind in kinds)
        ]


@dataclass
class SyntaxProblem:
    """A syntax error, before it is given a file name."""

    code: str
    message: str
    line: int
    column: int
    end_line: int
    end_column: int
    hint: str | None = None


@dataclass
class ParsedSyntax:
    """Statements, comments and syntax errors of one text.

    After a syntax error the parser recovers (see :class:`_Recovery`), so ``problems`` lists
    every independent syntax error in text order, ``statements`` every statement that parsed,
    and ``kept`` a bare ``kind id`` node for each declaration that was skipped but whose id
    was read (so references to it do not turn into errors of their own). ``complete`` is
    false when the parse stopped before the end (a character no token starts with, or
    :data:`MAX_PROBLEMS` errors).
    """

    statements: list[SyntaxNode] = field(default_factory=list)
    kept: list[SyntaxNode] = field(default_factory=list)
    comments: list[tuple[int, int, str, bool]] = field(default_factory=list)
    problems: list[SyntaxProblem] = field(default_factory=list)
    complete: bool = True

    @property
    def problem(self) -> SyntaxProblem | None:
        """The first syntax error, if any."""
        return self.problems[0] if self.problems else None


class _ToNodes:
    """Inline LALR callbacks: every rule becomes a SyntaxNode spanning its tokens."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or not name.islower():
            raise AttributeError(name)

        def make(children: list[Any]) -> SyntaxNode:
            kids = [c for c in children if c is not None]
            node = SyntaxNode(name, kids)
            if kids:
                first, last = kids[0], kids[-1]
                node.line, node.column = first.line, first.column
                node.end_line, node.end_column = last.end_line, last.end_column
            return node

        return make


_GRAMMAR = "grammar.lark"


@lru_cache(maxsize=1)
def _lark() -> Lark:
    text = resources.files("flowsim.dsl").joinpath(_GRAMMAR).read_text(encoding="utf-8")
    return Lark(
        text,
        parser="lalr",
        lexer="contextual",
        keep_all_tokens=True,
        transformer=_ToNodes(),
        maybe_placeholders=False,
    )


_lock = threading.Lock()


@lru_cache(maxsize=1)
def _lexer() -> Lexer:
    return Lexer(_lark())


#: Syntax errors reported per text; past this the parse stops (``ParsedSyntax.complete``).
MAX_PROBLEMS = 50


def parse_syntax(text: str) -> ParsedSyntax:
    """Parse ``text`` into statements and every independent syntax error.

    A syntax error is recorded and the parser resynchronises at the next statement (see
    :class:`_Recovery`); a lexical error (a character no token starts with, an unterminated
    string) ends the parse there.
    """
    lark = _lark()
    with _lock, gc_paused():  # the lexer's comment list is per parse
        lexer = _lexer()
        lexer.comments = []
        result = ParsedSyntax()
        recovery = _Recovery()
        try:
            _drive(lark, lexer, text, recovery)
        except LexError as err:
            code = {"string": "E003", "char": "E002"}.get(err.kind, "E002")
            recovery.problems.append(
                SyntaxProblem(
                    code,
                    err.message,
                    err.line,
                    err.column,
                    err.line,
                    err.column + err.length,
                    err.hint,
                )
            )
            recovery.complete = False
        except _Unexpected as err:  # the cap on errors was reached
            recovery.problems.append(err.problem)
            recovery.complete = False
        result.statements = recovery.parsed
        result.kept = recovery.kept
        result.problems = recovery.problems
        result.complete = recovery.complete
        result.comments = lexer.comments
    return result


class _Unexpected(Exception):
    def __init__(self, problem: SyntaxProblem):
        self.problem = problem


@dataclass(frozen=True)
class _Table:
    """Lark's LALR table with plain-``str`` keys and rules pre-digested for the loop.

    ``states[s][terminal]`` is ``(True, next_state)`` for a shift or ``(False, rule)`` for a
    reduce, where ``rule`` is ``(size, callback, nonterminal)``.
    """

    states: dict[int, dict[str, tuple[bool, Any]]]
    start: int
    end: int


class LarkVersionError(MissingExtra):
    """The installed Lark is outside the range flowsim's parser is built and tested on."""


#: The Lark releases whose LALR table layout :func:`_table` reads (``pyproject.toml`` pins it).
LARK_TESTED = ">=1.2,<1.4"


@lru_cache(maxsize=1)
def _table() -> _Table:
    """Lark's LALR table, read from its internals (the fast loop in :func:`_drive` needs it).

    Those internals are not Lark's public API: an incompatible Lark fails here, loudly, with
    the version to install, not somewhere in a parse.
    """
    try:
        return _read_table(_lark())
    except (AttributeError, KeyError, TypeError, IndexError) as err:
        import lark

        raise LarkVersionError(
            f"flowsim's parser cannot read Lark {lark.__version__}'s parse table ({err}); "
            f"it is tested with lark{LARK_TESTED}: pip install 'lark{LARK_TESTED}'"
        ) from err


def _read_table(lark: Lark) -> _Table:
    inner = lark.parser.parser.parser  # ParsingFrontend -> LALR_Parser -> _Parser
    table = inner.parse_table
    start = lark.options.start[0]
    rules: dict[Any, tuple[int, Any, str]] = {}
    states: dict[int, dict[str, tuple[bool, Any]]] = {}
    for state, actions in table.states.items():
        row: dict[str, tuple[bool, Any]] = {}
        for term, (action, arg) in actions.items():
            if action is Shift:
                row[str(term)] = (True, arg)
            else:
                if arg not in rules:
                    rules[arg] = (len(arg.expansion), inner.callbacks[arg], str(arg.origin.name))
                row[str(term)] = (False, rules[arg])
        states[state] = row
    return _Table(states, table.start_states[start], table.end_states[start])


def _drive(lark: Lark, lexer: Lexer, text: str, recovery: _Recovery) -> None:
    """The LALR(1) loop over Lark's parse table, fed by our lexer; results go to ``recovery``.

    This is Lark's own algorithm (``ParserState.feed_token``) written out in one function:
    the per-token function calls and Lark ``Token`` objects were most of the parse time.
    A syntax error hands over to ``recovery``, which drops the broken statement and skips
    tokens until one can begin the next; the fast path pays one flag test per token.
    """
    compiled = _table()
    states = compiled.states
    end_state = compiled.end
    state_stack: list[int] = [compiled.start]
    value_stack: list[Any] = []
    opened: list[Token] = []  # unclosed braces, for end-of-file messages
    prev: Token | None = None
    recovery.level = _statement_level(compiled)
    recovery.states = states

    def accepts() -> dict[str, tuple[bool, Any]]:
        return states[state_stack[-1]]

    def shiftable(term: str) -> bool:
        return _shiftable(states, state_stack, term)

    line = text.count("\n") + 1
    col = len(text) - (text.rfind("\n") + 1) + 1
    eof = Token("$END", "", len(text), line, col, line, col, len(text))
    for tok in itertools.chain(lexer.tokens(text, accepts, shiftable), (eof,)):
        if recovery.skipping:
            resume = recovery.skip(tok, prev, state_stack, value_stack)
            prev = tok
            if resume is None:
                continue
            opened.clear()  # top-level statements are never nested: no block is open
            tok = resume  # a keyword, the '->' after an identifier or the end: never a brace
        ttype = tok.type
        if ttype == "_LBRACE":
            opened.append(tok)
        elif ttype == "_RBRACE" and opened:
            opened.pop()
        while True:
            act = states[state_stack[-1]].get(ttype)
            if act is None:
                again = _failed(states, state_stack, value_stack, tok, prev, opened, recovery)
                if again is None:
                    break
                tok, ttype = again, again.type  # resume at this token
                continue
            if act[0]:
                state_stack.append(act[1])
                value_stack.append(tok)
                break
            size, callback, origin = act[1]
            if size:
                children = value_stack[-size:]
                del state_stack[-size:]
                del value_stack[-size:]
            else:
                children = []
            value_stack.append(callback(children))
            state_stack.append(states[state_stack[-1]][origin][1])
            if tok is eof and state_stack[-1] == end_state:
                break
        prev = tok
    recovery.finish(value_stack)


def _failed(
    states: dict[int, dict[str, tuple[bool, Any]]],
    state_stack: list[int],
    value_stack: list[Any],
    tok: Token,
    prev: Token | None,
    opened: list[Token],
    recovery: _Recovery,
) -> Token | None:
    """Describe the syntax error at ``tok`` and recover: the token to feed next, or None."""
    expected = _expected(states, state_stack)
    if tok.type == "$END":
        problem = _describe_eof(tok, opened, expected)
    else:
        problem = _describe(tok, prev, expected, opened)
    opened.clear()
    return recovery.fail(problem, tok, prev, states, state_stack, value_stack)


def _reduce(
    states: dict[int, dict[str, tuple[bool, Any]]],
    state_stack: list[int],
    value_stack: list[Any],
    rule: tuple[int, Any, str],
) -> None:
    size, callback, origin = rule
    if size:
        children = value_stack[-size:]
        del state_stack[-size:]
        del value_stack[-size:]
    else:
        children = []
    value_stack.append(callback(children))
    state_stack.append(states[state_stack[-1]][origin][1])


def _statement_level(table: _Table) -> tuple[int, int]:
    """The start state and the state after one or more statements: where statements begin."""
    star = next(v[1] for k, v in table.states[table.start].items() if k.startswith("__start"))
    return table.start, star


def _retyped(tok: Token, ttype: str) -> Token:
    """``tok`` as a token of type ``ttype`` (a keyword the lexer read as an identifier)."""
    return Token(
        ttype,
        tok.value,
        tok.start_pos,
        tok.line,
        tok.column,
        tok.end_line,
        tok.end_column,
        tok.end_pos,
    )


def _last_token(value: Any) -> Token | None:
    """The last token of a parsed statement (or of the statements so far)."""
    while isinstance(value, (SyntaxNode, Tree)):
        if not value.children:
            return None
        value = value.children[-1]
    return value if isinstance(value, Token) else None


#: Declarations whose id survives when the rest of the declaration is skipped.
_DECLARATIONS = {
    "STAGE": "stage_decl",
    "OUTCOME": "outcome_decl",
    "ROLE": "role_decl",
    "DEPARTMENT": "department_decl",
    "PERSONA": "persona_decl",
}


class _Recovery:
    """Panic-mode error recovery at statement level, and what the parse produced.

    On a syntax error (its message and position are exactly those of a parse that stops
    there): a statement that is complete before the bad token is kept; otherwise the broken
    statement is dropped, keeping only ``kind id`` when it declares a stage, outcome, role,
    department or persona whose id was read (references to it stay valid). Then tokens are
    skipped up to the first token that begins a line and can begin a statement: a declaration
    keyword, or an identifier followed by ``->``, outside the broken statement's braces (after
    its block's closing ``}``), or at a line that starts no further right than the broken
    statement's own first word (its ``}`` is then missing, which the first error already said).
    """

    def __init__(self) -> None:
        self.problems: list[SyntaxProblem] = []
        self.complete = True
        self.kept: list[SyntaxNode] = []
        self.parsed: list[SyntaxNode] = []
        self.level = (0, 0)
        self.states: dict[int, dict[str, tuple[bool, Any]]] = {}
        self.skipping = False
        self.depth = 0  # braces of the dropped statement still open
        self.column = 1  # column of the dropped statement's first token
        self.held: Token | None = None  # a line-initial identifier: a transition if '->' follows
        self.resumed: Token | None = None  # the token the last recovery resumed at

    def fail(
        self,
        problem: SyntaxProblem,
        tok: Token,
        prev: Token | None,
        states: dict[int, dict[str, tuple[bool, Any]]],
        state_stack: list[int],
        value_stack: list[Any],
    ) -> Token | None:
        """Record ``problem`` at ``tok`` and resynchronise; the token to feed again, or None."""
        self.problems.append(problem)
        if len(self.problems) >= MAX_PROBLEMS:
            self.problems.pop()
            raise _Unexpected(problem)
        again = tok is not self.resumed  # never resume twice at the same token
        if tok.type == "NAME" and prev is not None and prev.type == "NAME":
            self._keep([tok], prev)  # `effort` + a new line `stage b`: `b` is a stage still
        first = self._drop(states, state_stack, value_stack)
        self.column = first.column if first is not None else tok.column
        if tok.type == "$END":
            return tok
        self.skipping = True
        self.held = None
        resume = self.skip(tok, prev, state_stack, value_stack, again)
        return resume

    def _drop(
        self,
        states: dict[int, dict[str, tuple[bool, Any]]],
        state_stack: list[int],
        value_stack: list[Any],
    ) -> Token | SyntaxNode | None:
        """End the statement at hand: reduce it if it is complete, else drop it (keeping a
        declaration's id). Returns the statement's first token or node, if there is one."""
        base = 2 if len(state_stack) > 1 and state_stack[1] == self.level[1] else 1
        first = value_stack[base - 1] if len(value_stack) >= base else None
        while True:  # reduce as if a new statement began here
            act = states[state_stack[-1]].get("STAGE")
            if act is None or act[0]:
                break
            _reduce(states, state_stack, value_stack, act[1])
        base = 2 if len(state_stack) > 1 and state_stack[1] == self.level[1] else 1
        dropped = value_stack[base - 1 :]
        del state_stack[base:]
        del value_stack[base - 1 :]
        toks = [v for v in dropped if isinstance(v, Token)]
        self.depth = sum(t.type == "_LBRACE" for t in toks) - sum(t.type == "_RBRACE" for t in toks)
        self._keep(dropped, _last_token(value_stack[0]) if value_stack else None)
        return first if isinstance(first, (Token, SyntaxNode)) else None

    def _keep(self, dropped: list[Any], before: Token | None) -> None:
        """Keep ``kind id`` of a dropped declaration: ``stage b ...``, or ``b ...`` right after
        a ``stage`` that the statement before took as its value (``owner`` with its role
        missing reads the next line's ``stage`` as the role)."""
        if not dropped or not isinstance(dropped[0], Token):
            return
        head, rest = dropped[0], dropped[1:]
        if head.type == "NAME" and before is not None and before.value.upper() in _DECLARATIONS:
            head, rest = _retyped(before, before.value.upper()), dropped
        kind = _DECLARATIONS.get(head.type)
        if kind is None or not rest or not isinstance(rest[0], Token) or rest[0].type != "NAME":
            return
        node = SyntaxNode(kind, [head, rest[0]])
        node.line, node.column = head.line, head.column
        node.end_line, node.end_column = rest[0].end_line, rest[0].end_column
        self.kept.append(node)

    def skip(
        self,
        tok: Token,
        prev: Token | None,
        state_stack: list[int],
        value_stack: list[Any],
        may_resume: bool = True,
    ) -> Token | None:
        """Skip ``tok``, or end the skip: the token to feed (statement level), else None."""
        line_start = prev is None or tok.line > prev.end_line
        held, self.held = self.held, None
        if held is not None and tok.type == "_ARROW":
            self.skipping = False
            self.depth = 0
            self.resumed = held
            state_stack.append(self._name_state(state_stack))
            value_stack.append(held)
            return tok
        if tok.type == "$END":
            self.skipping = False
            return tok
        if tok.type == "_LBRACE":
            self.depth += 1
        elif tok.type == "_RBRACE":  # a stray '}' in the skipped text is part of the damage
            self.depth = max(self.depth - 1, 0)
        elif line_start and may_resume:
            word = tok.value if tok.type.isupper() else ""
            if word in _STATEMENT_WORDS and (self.depth == 0 or tok.column <= self.column):
                self.skipping = False
                self.depth = 0
                self.resumed = tok
                if tok.type != word.upper():
                    tok = _retyped(tok, word.upper())
                    self.resumed = tok
                return tok
            if tok.type == "NAME" and (self.depth == 0 or tok.column <= self.column):
                self.held = tok
        return None

    def _name_state(self, state_stack: list[int]) -> int:
        """The state after shifting an identifier at statement level (a transition begins)."""
        act: tuple[bool, int] = self.states[state_stack[-1]]["NAME"]
        return act[1]

    def finish(self, value_stack: list[Any]) -> None:
        """Collect the statements parsed (all of them, or those before the parse stopped)."""
        # At the end the stack holds the start node; after an abort, the statements so far.
        top = value_stack[0] if value_stack else None
        if isinstance(top, Tree) or (isinstance(top, SyntaxNode) and top.kind == "start"):
            self.parsed = [k for k in top.children if isinstance(k, SyntaxNode)]


def _expected(states: dict[int, dict[str, tuple[bool, Any]]], state_stack: list[int]) -> set[str]:
    """Terminals that can really come next: LALR's merged look-aheads, filtered by simulation."""
    candidates = {t for t in states[state_stack[-1]] if t.isupper() or t == "$END"}
    return {t for t in candidates if _shiftable(states, state_stack, t)} or candidates


def _shiftable(
    states: dict[int, dict[str, tuple[bool, Any]]], state_stack: list[int], term: str
) -> bool:
    """Would ``term`` be shifted from this parser state (after reductions)? Simulated on the
    state stack alone, so it costs nothing like copying the parser."""
    stack = list(state_stack)
    for _ in range(10_000):  # reductions are finite; the bound only guards against surprises
        act = states[stack[-1]].get(term)
        if act is None:
            return False
        if act[0]:
            return True
        size, _, origin = act[1]
        if size:
            del stack[-size:]
        goto = states[stack[-1]].get(origin) if stack else None
        if goto is None:
            return term == "$END"
        stack.append(goto[1])
    return False


# ---- messages --------------------------------------------------------------------------------

_WHAT = {
    "NAME": "an identifier",
    "STRING": 'a quoted string ("...")',
    "DURATION": "a duration such as 4h or 3d",
    "NUMBER": "a number",
    "DATE": "a date such as 2025-03-01",
    "DAYS": "weekdays such as Mon-Fri",
    "MONTHS": "months such as Jan-Mar",
    "PLUS": "'+'",
    "TIMERANGE": "working hours such as 09:00-18:00",
    "PERCENT": "'%'",
    "_ARROW": "'->'",
    "_LBRACE": "'{'",
    "_RBRACE": "'}'",
    "_LPAR": "'('",
    "_RPAR": "')'",
    "_LBRACK": "'['",
    "_RBRACK": "']'",
    "_COMMA": "','",
    "_TIMES": "'*'",
    "EFFORT_OR_WAIT": "'effort' or 'wait'",
    "$END": "end of file",
}

_STATEMENT_KEYWORDS = {"PROCESS", "INCLUDE", "DEPARTMENT", "ROLE", "PERSONA", "STAGE", "OUTCOME"}
_STATEMENT_WORDS = {k.lower() for k in _STATEMENT_KEYWORDS} | {"scenario"}
_ALL_KEYWORDS = sorted(KEYWORDS)


def _what(term: str) -> str:
    if term in _WHAT:
        return _WHAT[term]
    return f"'{term.lower()}'"


def _found(tok: Token) -> str:
    if tok.type == "$END":
        return "end of file"
    value = str(tok)
    if len(value) > 30:
        value = value[:27] + "..."
    if tok.type == "NAME":
        return f"identifier '{value}'"
    if tok.type == "STRING":
        return f"string {value}"
    if tok.type in ("NUMBER", "DURATION", "DATE", "TIMERANGE", "DAYS", "MONTHS"):
        return f"{tok.type.lower()} '{value}'"
    if tok.type.isalpha() and tok.type.isupper() and tok.type not in _WHAT:
        return f"keyword '{value}'"
    return f"'{value}'"


def _expected_text(expected: set[str]) -> str:
    keywords = sorted(t.lower() for t in expected if t.isalpha() and t.isupper() and t not in _WHAT)
    others = sorted(_what(t) for t in expected if t not in _STATEMENT_KEYWORDS and t in _WHAT)
    if expected >= _STATEMENT_KEYWORDS:
        # At a statement boundary the list is long; say what that means instead.
        props = [k for k in keywords if k.upper() not in _STATEMENT_KEYWORDS | {"SCENARIO"}]
        head = "a new declaration (stage, outcome, role, `a -> b`, ...)"
        if props:
            return (
                f"a property ({', '.join(props[:8])}{', ...' if len(props) > 8 else ''}) or {head}"
            )
        return head
    parts = [f"'{k}'" for k in keywords] + others
    if len(parts) > 8:
        parts = [*parts[:8], "..."]
    if len(parts) == 1:
        return parts[0]
    return "one of " + ", ".join(parts)


def _describe(
    tok: Token, prev: Token | None, expected: set[str], opened: list[Token]
) -> SyntaxProblem:
    if prev is not None and prev.type == "NAME" and "_ARROW" in expected:
        # `stage x ower rep`: 'ower' began a transition, but was meant as a keyword.
        close = difflib.get_close_matches(str(prev).lower(), _ALL_KEYWORDS, n=1, cutoff=0.7)
        if close and tok.type != "_ARROW":
            return SyntaxProblem(
                "E001",
                f"unexpected identifier '{prev}'; did you mean the keyword '{close[0]}'?",
                prev.line,
                prev.column,
                prev.end_line,
                prev.end_column,
                f"write {close[0]} {tok}" if tok.type in ("NAME", "STRING") else None,
            )
    if tok.type == "_ARROW" and prev is not None and prev.type.isalpha() and prev.type not in _WHAT:
        # `goal -> won`: a stage named like a keyword was read as the keyword.
        return SyntaxProblem(
            "E001",
            f"'{prev}' is a keyword here, so it cannot start a transition",
            prev.line,
            prev.column,
            prev.end_line,
            prev.end_column,
            f"a keyword cannot be the id of a stage or outcome: rename it (e.g. {prev}_stage) "
            f"and keep '{prev}' as its label",
        )
    message = f"unexpected {_found(tok)}; expected {_expected_text(expected)}"
    hint = _hint(tok, prev, expected)
    if hint is None and opened and str(tok) in _STATEMENT_WORDS:
        brace = opened[-1]
        hint = f"the '{{' opened at line {brace.line} is not closed: add a '}}' before this line"
    return SyntaxProblem(
        "E001",
        message,
        tok.line or 1,
        tok.column or 1,
        tok.end_line or tok.line or 1,
        tok.end_column or (tok.column or 1) + 1,
        hint,
    )


def _describe_eof(end: Token, opened: list[Token], expected: set[str]) -> SyntaxProblem:
    if opened:
        brace = opened[-1]
        return SyntaxProblem(
            "E006",
            f"unexpected end of file: the '{{' opened at line {brace.line} is never closed",
            brace.line or 1,
            brace.column or 1,
            brace.line or 1,
            (brace.column or 1) + 1,
            "add a '}' to close the block",
        )
    return SyntaxProblem(
        "E006",
        f"unexpected end of file; expected {_expected_text(expected)}",
        end.line or 1,
        end.column or 1,
        end.line or 1,
        end.column or 1,  # an empty span: nothing lies past the end to underline
    )


# Unit words the lexer knows, plus seconds, which the language has no unit for.
_UNIT_WORDS: dict[str, str | None] = {**UNIT_WORDS, "s": None, "sec": None, "seconds": None}


#: the clauses of an arrival profile (``arrivals 40 per week weekdays ...``)
_PROFILE_WORDS = frozenset(("weekdays", "hours", "months", "trend"))


def _hint(tok: Token, prev: Token | None, expected: set[str]) -> str | None:
    value = str(tok)
    if prev is not None and prev.type == "NUMBER" and tok.type == "NAME":
        if value.lower() in _UNIT_WORDS:
            unit = _UNIT_WORDS[value.lower()]
            if unit is None:
                return "the smallest duration unit is m (minutes); units are m h d w"
            spacer = " " if prev.end_pos != tok.start_pos else ""
            return f"write durations as one word with a unit m h d w: {prev}{unit}" + (
                " (no space)" if spacer else ""
            )
        if value[:1].lower() in "mhdw" and prev.end_pos == tok.start_pos:
            return "duration units are m, h, d and w (e.g. 30m, 4h, 3d, 2w)"
    if tok.type == "NAME" and value in _PROFILE_WORDS and value.upper() not in expected:
        return (
            f"'{value}' belongs to an arrival profile, right after a rate: "
            f"arrivals 40 per week {value} ... (`arrivals every` has no profile)"
        )
    if tok.type == "NAME":
        keywords = [t.lower() for t in expected if t.isalpha() and t.isupper() and t not in _WHAT]
        close = difflib.get_close_matches(value.lower(), keywords, n=1, cutoff=0.7)
        if close:
            return f"did you mean '{close[0]}'?"
        if prev is not None and prev.type == "NAME" and "_ARROW" in expected:
            return f"a transition needs an arrow: {prev} -> {value}"
    if "DAYS" in expected or (prev is not None and prev.type == "DAYS"):
        return (
            "weekdays are Mon Tue Wed Thu Fri Sat Sun (or 周一 .. 周日); write a range with '-' "
            "and a list with ',': Mon-Fri, Sat or 周一-周五"
        )
    if "MONTHS" in expected or (prev is not None and prev.type == "MONTHS"):
        return (
            "months are Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec (or 一月 .. 十二月), each "
            "followed by its weight: months Jan-Feb 0.8 Mar 1.3"
        )
    if tok.type in ("NUMBER", "PERCENT") and prev is not None and prev.type == "STRING":
        return 'the probability comes before the label: a -> b 60% "label"'
    if tok.type == "NUMBER" and "DURATION" in expected:
        return f"durations need a unit: {value}h, {value}d, ... (units are m h d w)"
    if tok.type == "STRING" and "NAME" in expected and prev is not None:
        kinds = {"STAGE", "OUTCOME", "ROLE", "DEPARTMENT", "PERSONA"}
        if prev.type in kinds:
            return (
                f"give the {str(prev).lower()} an identifier before its label: {prev} my_id {value}"
            )
        return "refer to things by their identifier (a word without quotes), not their label"
    if tok.type in ("NUMBER", "DURATION") and "PERCENT" in expected:
        return None
    if tok.type == "_LBRACE" and prev is not None:
        return "a block '{' may only follow a declaration header such as `stage id \"label\"`"
    # `parallel { }` or `parallel { a, }`: only a branch's first stage may come here
    branch_list = prev is not None and prev.type in ("_LBRACE", "_COMMA")
    if tok.type == "_RBRACE" and expected == {"NAME"} and branch_list:
        return "a parallel block lists the first stage of each branch: parallel { a, b }"
    if tok.type == "_RBRACE" and "_RBRACE" not in expected:
        return "this '}' closes nothing: check the braces above"
    if tok.type in ("NUMBER", "DURATION") and prev is not None and prev.type == "NAME":
        return "probabilities come after the target: `a -> b 60%`"
    if tok.type == "_COMMA":
        return "no ',' is needed here: properties and declarations are separated by spaces or lines"
    return None
