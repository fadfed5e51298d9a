"""Write flowsim/studio/keyword_help.py: the studio editor's hover help, from docs/language.md.

Usage: .venv/bin/python scripts/build_editor_help.py   (run by `make editor`;
tests/studio/test_language.py checks the committed module is what this makes now)

Each keyword and distribution name gets one short plain text, taken from the language
reference in this order: the syntax line and first sentence of the section named after it
(``## 8. `stage```), a table row whose first cell starts with it (the property tables), a
paragraph that starts with it, a table row that mentions it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowsim.dsl.keywords import KEYWORDS  # noqa: E402

DOC = ROOT / "docs" / "language.md"
OUT = ROOT / "flowsim" / "studio" / "keyword_help.py"
DISTRIBUTIONS = ("fixed", "uniform", "triangular", "exponential", "normal", "lognormal",
                 "gamma", "empirical")  # fmt: skip


def plain(markdown: str) -> str:
    """Markdown inline text as plain text: no backticks, emphasis or link targets."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    text = text.replace("`", "").replace("**", "")
    return re.sub(r"\s+", " ", text).strip()


def first_sentence(paragraph: str) -> str:
    m = re.match(r"(.+?\.)(\s|$)", paragraph.strip(), flags=re.S)
    return plain(m.group(1) if m else paragraph)


def sections(doc: str) -> dict[str, str]:
    """``## N. `kw` ...`` → its syntax line and the first sentence after the block."""
    found: dict[str, str] = {}
    pattern = r"^## \d+\. ([^\n]+)\n\n```text\n(.+?)\n```\n\n(.+?)\n(?=##|```)"
    for m in re.finditer(pattern, doc, re.M | re.S):
        syntax = m.group(2).split("\n")[0]
        paragraphs = m.group(3).split("\n\n")
        named = re.findall(r"`(\w+)`", m.group(1)) or [m.group(1).split()[0].lower().rstrip("s")]
        for word in named:
            lines = [ln for ln in m.group(2).split("\n") if ln.startswith(word + " ")]
            about = [p for p in paragraphs if re.search(rf"\b{word}\b", p, re.I)] or paragraphs
            found[word] = f"{(lines or [syntax])[0].strip()} — {first_sentence(about[0])}"
    return found


def rows(doc: str) -> list[list[str]]:
    out = []
    for line in doc.splitlines():
        if line.startswith("| `"):
            cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
            out.append(cells)
    return out


def from_rows(word: str, table: list[list[str]], leading: bool) -> str | None:
    for cells in table:
        first = re.match(r"`(\w+)", cells[0])
        starts = first is not None and first.group(1) == word
        mentions = re.search(rf"`[^`]*\b{word}\b[^`]*`", " ".join(cells[:-1])) is not None
        if (starts if leading else mentions) and len(cells) >= 2:
            return f"{plain(' '.join(cells[:-1]))}: {plain(cells[-1])}"
    return None


def from_paragraph(word: str, doc: str) -> str | None:
    m = re.search(rf"^`{word}\b[^`]*`(.+?)(\n\n|\Z)", doc, re.M | re.S)
    return first_sentence(m.group(0)) if m else None


def build(doc: str) -> dict[str, str]:
    """Help text per keyword and distribution name (a missing one raises ``KeyError``)."""
    heads, table = sections(doc), rows(doc)
    out: dict[str, str] = {}
    for word in sorted(KEYWORDS) + list(DISTRIBUTIONS):
        text = (
            heads.get(word)
            or from_rows(word, table, leading=True)
            or from_paragraph(word, doc)
            or from_rows(word, table, leading=False)
        )
        if text is None:
            raise KeyError(f"docs/language.md says nothing about {word!r}")
        out[word] = text
    return out


def module(help_texts: dict[str, str]) -> str:
    lines = [
        '"""Hover help of the studio editor: one short text per keyword and distribution name.',
        "",
        "GENERATED from docs/language.md by scripts/build_editor_help.py (`make editor`): do not",
        "edit by hand; tests/studio/test_language.py checks it is current.",
        '"""',
        "",
        "# ruff: noqa: E501",
        "",
        f"DISTRIBUTIONS = {DISTRIBUTIONS!r}",
        "",
        "HELP: dict[str, str] = {",
        *(f"    {word!r}: {text!r}," for word, text in help_texts.items()),
        "}",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    OUT.write_text(module(build(DOC.read_text(encoding="utf-8"))), encoding="utf-8")
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
