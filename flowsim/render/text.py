"""Text for pictures: wrapping by display width, and escaping for every output language.

User text ends up inside DOT, Graphviz HTML-like labels, SVG/XML and Mermaid. Each has its own
rules; each has one function here, and every renderer goes through them.
"""

from __future__ import annotations

import re

from flowsim.diagnostics import display_width

__all__ = [
    "clean",
    "dot_string",
    "html_label_text",
    "truncate",
    "wrap",
    "xml_attr",
    "xml_text",
]

# Characters a line may not start with (closing punctuation), in Chinese line breaking.
_NO_LINE_START = set("，。、；：？！）》」』】〉,.;:?!)]}%％…")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\ufffe\uffff]")


def clean(text: str) -> str:
    """Drop control characters that no output format can carry (newlines become spaces)."""
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def wrap(text: str, width: int) -> list[str]:
    """Break ``text`` into lines at most ``width`` display columns wide (CJK counts 2).

    Latin text breaks at spaces; CJK text, which has no spaces, breaks between characters,
    never putting closing punctuation at the start of a line. Explicit newlines are kept.
    """
    lines: list[str] = []
    for para in clean(text).split("\n"):
        lines.extend(_wrap_para(para, max(4, width)))
    return lines or [""]


def _wrap_para(para: str, width: int) -> list[str]:
    out: list[str] = []
    line = ""
    for token in re.findall(r"[^\s\u2e80-\u9fff\uf900-\ufaff\uff00-\uffef]+|\s+|.", para):
        if token.isspace():
            if line and display_width(line) + 1 <= width:
                line += " "
            elif line:
                out.append(line.rstrip())
                line = ""
            continue
        if display_width(line + token) <= width:
            line += token
            continue
        if token in _NO_LINE_START and line:
            line += token  # let punctuation overhang rather than start a line
            continue
        if line.strip():
            out.append(line.rstrip())
            line = ""
        while display_width(token) > width:  # a single word longer than the line
            cut = _cut(token, width)
            out.append(token[:cut])
            token = token[cut:]
        line = token
    if line.strip() or not out:
        out.append(line.rstrip())
    return out


def _cut(word: str, width: int) -> int:
    used = 0
    for i, ch in enumerate(word):
        used += display_width(ch)
        if used > width:
            return max(1, i)
    return len(word)


def truncate(text: str, width: int) -> str:
    """At most ``width`` display columns, with an ellipsis when cut."""
    text = clean(text).replace("\n", " ")
    if display_width(text) <= width:
        return text
    used = 0
    for i, ch in enumerate(text):
        used += display_width(ch)
        if used > width - 1:
            return text[:i] + "…"
    return text


def xml_text(text: str) -> str:
    """Text content for SVG/XML/HTML."""
    return clean(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def xml_attr(text: str) -> str:
    """An attribute value for SVG/XML/HTML (to go inside double quotes)."""
    return xml_text(text).replace('"', "&quot;").replace("'", "&#39;").replace("\n", "&#10;")


def html_label_text(text: str) -> str:
    """Text inside a Graphviz HTML-like label (an XML dialect; entities are decoded once)."""
    return xml_attr(text)


def dot_string(text: str) -> str:
    """A DOT double-quoted string, quotes included. Backslash sequences are made literal."""
    body = clean(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{body}"'
