"""A fast, context-aware tokenizer for the terminals declared in ``grammar.lark``.

Why not Lark's own lexer: it tries terminal regexes one by one per token, which costs about
7 µs a token here, most of the parse time for a 1,000-stage file. This lexer compiles the
grammar's own terminal definitions into one master regex (so the grammar stays the single
source of truth for what a token looks like) and asks the LALR parser's current state which
tokens it accepts only where that matters:

* a word such as ``goal`` is the keyword where a keyword ``goal`` is acceptable, and an
  identifier elsewhere (so ``stage goal`` declares a stage named "goal");
* weekday lists (``Mon-Fri``) are recognised only inside ``calendar``, so a stage may be
  called ``Mon``.

Positions are 1-based lines and columns counted in characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass

from lark import Lark

from flowsim.errors import FlowsimError

__all__ = ["UNIT_WORDS", "LexError", "Lexer", "Tok"]


class Tok:
    """A token: type, text and position (1-based line/column in characters, 0-based offsets).

    A plain slotted class rather than Lark's ``Token`` (a ``str`` subclass): creating one is
    several times cheaper, and a 1,000-stage file has ~45,000 of them.
    """

    __slots__ = (
        "column",
        "end_column",
        "end_line",
        "end_pos",
        "line",
        "start_pos",
        "type",
        "value",
    )

    def __init__(
        self,
        type: str,
        value: str,
        start_pos: int,
        line: int,
        column: int,
        end_line: int,
        end_column: int,
        end_pos: int,
    ) -> None:
        self.type = type
        self.value = value
        self.start_pos = start_pos
        self.line = line
        self.column = column
        self.end_line = end_line
        self.end_column = end_column
        self.end_pos = end_pos

    def __str__(self) -> str:
        return self.value

    def __repr__(self) -> str:
        return f"Tok({self.type}, {self.value!r}, {self.line}:{self.column})"


# Characters people type with a Chinese (or Japanese) input method, and what we expect instead.
FULLWIDTH_HINTS: dict[str, str] = {
    "\u201c": '"',
    "\u201d": '"',
    "\u2018": '"',
    "\u2019": '"',
    "\uff05": "%",
    "\uff08": "(",
    "\uff09": ")",
    "\uff0c": ",",
    "\uff1a": ":",
    "\uff1b": ";",
    "\uff03": "#",
    "\uff1d": "=",
    "\uff0d": "-",
    "\uff1e": ">",
    "\u3001": ",",
    "\u3002": ".",
    "\uff0e": ".",
    "\uff5b": "{",
    "\uff5d": "}",
    "\u3010": "[",
    "\u3011": "]",
    "\uff0a": "*",
    "\u2014": "-",
}
FULLWIDTH_HINTS.update({chr(0xFF10 + i): str(i) for i in range(10)})  # full-width digits

# Words people write after a number instead of a unit letter.
UNIT_WORDS = {
    "min": "m",
    "mins": "m",
    "minute": "m",
    "minutes": "m",
    "hr": "h",
    "hrs": "h",
    "hour": "h",
    "hours": "h",
    "day": "d",
    "days": "d",
    "week": "w",
    "weeks": "w",
    "wk": "w",
    "wks": "w",
}

# Terminals tried first, in this order; the rest (punctuation) follow, longest first.
_ORDER = ("STRING", "DATE", "TIMERANGE", "DURATION", "NUMBER", "NAME")
# Terminals whose text is also a valid identifier; only lexed where the parser expects them.
_CONTEXTUAL = ("DAYS", "MONTHS")  # tried only where the parser accepts them


@dataclass
class LexError(FlowsimError):
    """Text that is no token at all. ``kind`` is 'char', 'string' or 'escape'."""

    kind: str
    message: str
    line: int
    column: int
    hint: str | None = None
    length: int = 1


class Lexer:
    """Tokens for one grammar; build once, then iterate :meth:`tokens` from the parse loop."""

    def __init__(self, lark: Lark) -> None:
        terminals = {t.name: t for t in lark.terminals}
        ignore = set(lark.ignore_tokens)
        name_re = re.compile(terminals["NAME"].pattern.to_regexp())
        self.keywords: dict[str, list[str]] = {}
        pieces: list[tuple[str, str]] = []
        for name in _ORDER:
            pieces.append((name, terminals[name].pattern.to_regexp()))
        rest = []
        for term in terminals.values():
            if term.name in _ORDER or term.name in _CONTEXTUAL:
                continue
            regexp = term.pattern.to_regexp()
            if term.name in ignore:
                pieces.insert(0, (term.name, regexp))
                continue
            words = _keyword_words(term.pattern.value if term.pattern.type == "str" else regexp)
            if words and all(name_re.fullmatch(w) for w in words):
                for word in words:
                    self.keywords.setdefault(word, []).append(term.name)
                continue
            rest.append((term.name, regexp))
        rest.sort(key=lambda item: -len(item[1]))
        pieces.extend(rest)
        self.ignore = frozenset(ignore)
        ws = terminals["WS"].pattern.to_regexp()
        pieces = [(name, regexp) for name, regexp in pieces if name != "WS"]
        alternatives = "|".join(f"(?P<{n}>{r})" for n, r in pieces)
        self.master = re.compile(f"(?:{ws})?(?:{alternatives})")
        self.ws = re.compile(ws)
        self.contextual = {
            name: re.compile(terminals[name].pattern.to_regexp()) for name in _CONTEXTUAL
        }
        self.comments: list[tuple[int, int, str, bool]] = []

    def tokens(
        self,
        text: str,
        accepts: Callable[[], Collection[str]],
        shiftable: Callable[[str], bool],
    ) -> Iterator[Tok]:
        """Tokens of ``text``, one at a time, as the parser asks for them.

        ``accepts()`` gives the terminals the parser's *current* state has actions for; it is
        consulted only for words (keyword or identifier?) and weekday lists. ``shiftable(t)``
        tells whether ``t`` would really be shifted after any pending reductions (LALR merges
        look-aheads, so ``accepts()`` alone can mislead when two keyword terminals share a
        word, such as ``wait`` and ``effort|wait``). Comments are recorded in
        :attr:`comments` as (line, column, text, trailing) so the formatter can keep them.
        Raises :class:`LexError` at text that is no token.
        """
        match = self.master.match
        keywords = self.keywords
        n = len(text)
        pos, line, line_start = 0, 1, 0
        while True:
            # One regex call per token: the master pattern skips leading whitespace itself.
            m = match(text, pos)
            if m is None:
                ws = self.ws.match(text, pos)
                skip = ws.end() if ws else pos
                if skip > pos:
                    line, line_start = _advance(text, pos, skip, line, line_start)
                    pos = skip
                if pos >= n:
                    return
                raise self._error(text, pos, line, line_start)
            kind = m.lastgroup
            assert kind is not None
            start = m.start(kind)
            if start > pos:
                line, line_start = _advance(text, pos, start, line, line_start)
                pos = start
            value = m.group(kind)
            if kind == "COMMENT":
                trailing = text[line_start:pos].strip(" \t\u3000\ufeff\u00a0\f\r") != ""
                self.comments.append((line, pos - line_start + 1, value, trailing))
                pos = m.end()
                continue
            if kind == "NAME":
                acc = accepts()
                special = self._special(text, pos, acc, shiftable)
                if special is not None:
                    tok, pos, line, line_start = _make(*special, pos, line, line_start)
                    yield tok
                    continue
                candidates = keywords.get(value)
                if candidates:
                    fits = [c for c in candidates if c in acc]
                    if len(fits) > 1:
                        fits = [c for c in fits if shiftable(c)] or fits
                    elif fits and "NAME" in acc and not shiftable(fits[0]) and shiftable("NAME"):
                        # a merged look-ahead (`goal` after `start 30%` and after `a -> b
                        # 30%`): only the identifier really fits here
                        fits = []
                    chosen = fits[0] if fits else None
                    if chosen is None and "NAME" not in acc:
                        chosen = candidates[0]
                    if chosen is not None:
                        kind = chosen
            col = pos - line_start + 1
            end = m.end()
            yield Tok(kind, value, pos, line, col, line, col + len(value), end)
            pos = end

    def _special(
        self, text: str, pos: int, acc: Collection[str], shiftable: Callable[[str], bool]
    ) -> tuple[str, str] | None:
        """A weekday or month list at ``pos`` where the parser takes one: (terminal, text).

        LALR merges look-aheads (after a number both may be listed), so when both match the
        one that would really be shifted wins."""
        found = [
            (name, m.group())
            for name in _CONTEXTUAL
            if name in acc and (m := self.contextual[name].match(text, pos))
        ]
        if len(found) > 1:
            found = [f for f in found if shiftable(f[0])] or found
        return found[0] if found else None

    def _error(self, text: str, pos: int, line: int, line_start: int) -> LexError:
        col = pos - line_start + 1
        ch = text[pos]
        if ch == '"' or ch == "\u201c":
            close = '"' if ch == '"' else "\u201d"
            eol = text.find("\n", pos)
            eol = len(text) if eol < 0 else eol
            return LexError(
                "string",
                "unterminated string",
                line,
                col,
                f"close it with {close} on the same line (strings cannot span lines; "
                'write \\" for a quote inside a string)',
                length=max(1, eol - pos),
            )
        hint: str | None
        if ch in FULLWIDTH_HINTS:
            ascii_ch = FULLWIDTH_HINTS[ch]
            if ascii_ch in ";:=":
                hint = (
                    "properties are written as `keyword value`, without ':', '=' or ';' "
                    "(full-width or not)"
                )
            else:
                hint = (
                    f"use the ASCII character '{ascii_ch}' here (switch the input method to "
                    "half-width)"
                )
            return LexError(
                "char", f"unexpected full-width character '{ch}' (U+{ord(ch):04X})", line, col, hint
            )
        m = re.match(r"-?[0-9]+(?:\.[0-9]+)?([^\W\d_]+)", text[pos : pos + 40])
        if m:
            word = m.group(1)
            unit = UNIT_WORDS.get(word.lower())
            number = m.group()[: -len(word)]
            hint = (
                f"write {number}{unit}: duration units are m, h, d and w"
                if unit
                else "duration units are m (minutes), h (hours), d (days) and w (weeks)"
            )
            message = f"'{m.group()}' is not a number or a duration"
            return LexError("char", message, line, col, hint, len(m.group()))
        if ch == "\x00" or not (ch.isprintable() or ch in "\t\r\n"):
            shown = f"U+{ord(ch):04X}"
            return LexError(
                "char",
                f"unexpected control character {shown}",
                line,
                col,
                "is this a binary file? .flow files are UTF-8 text",
            )
        hint = None
        if ch == "'":
            hint = 'strings use double quotes: "like this"'
        elif text.startswith("=>", pos):
            hint = "transitions are written `from -> to` with the arrow '->'"
        elif ch in ";:=":
            hint = "properties are written as `keyword value`, without ':', '=' or ';'"
        elif ch == "/" and text.startswith("//", pos):
            hint = "comments start with '#'"
        elif ch == "-" or ch == ">":
            hint = "transitions are written `from -> to` with the arrow '->'"
        elif ch == ".":
            hint = "numbers need a digit before the point: 0.5"
        return LexError("char", f"unexpected character '{ch}'", line, col, hint)


def _keyword_words(pattern: str) -> list[str]:
    """Literal words of a keyword terminal: 'stage' or '(?:effort|wait)' -> the words."""
    if re.fullmatch(r"\w+", pattern):
        return [pattern]
    m = re.fullmatch(r"\(\?:(\w+(?:\|\w+)*)\)", pattern)
    return m.group(1).split("|") if m else []


def _advance(text: str, start: int, end: int, line: int, line_start: int) -> tuple[int, int]:
    """Line and line start after skipping ``text[start:end]`` (whitespace)."""
    newlines = text.count("\n", start, end)
    if newlines:
        return line + newlines, text.rindex("\n", start, end) + 1
    return line, line_start


def _make(kind: str, value: str, pos: int, line: int, line_start: int) -> tuple[Tok, int, int, int]:
    """A token that may span lines (weekday lists can, through whitespace)."""
    col = pos - line_start + 1
    end = pos + len(value)
    newlines = value.count("\n")
    if newlines:
        end_line = line + newlines
        new_start = pos + value.rindex("\n") + 1
        end_col = end - new_start + 1
        return Tok(kind, value, pos, line, col, end_line, end_col, end), end, end_line, new_start
    return Tok(kind, value, pos, line, col, line, col + len(value), end), end, line, line_start
