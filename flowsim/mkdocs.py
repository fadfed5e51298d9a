"""Markdown extension for MkDocs (and any Python-Markdown site): a ``flowsim`` fence draws a
process into the page at build time.

In ``mkdocs.yml``::

    markdown_extensions:
      - flowsim.mkdocs

and in a page::

    ```flowsim
    file: examples/b2b-cn.flow
    view: journey
    caption: The sales process as the customer lives it
    ```

The fence holds ``key: value`` lines with the same options as the Sphinx directive
(:data:`flowsim.embed.OPTIONS`, plus ``file`` and ``id``). It is a Markdown extension rather
than an MkDocs plugin because MkDocs imports extensions by module path: nothing to register,
and the same fence works with plain Python-Markdown. A fence keeps the page readable where it
is not rendered (GitHub shows the options as a code block).

Paths are relative to ``base_path`` (default: the directory ``mkdocs`` runs in, normally the
one holding ``mkdocs.yml``), as ``pymdownx.snippets`` does, because a Markdown extension is not
told which page it is converting. A bad file is a warning on the ``mkdocs`` logger (so
``mkdocs build --strict`` fails) with its ``file:line:col``, and the page shows the message
where the picture would be.
"""

from __future__ import annotations

import html
import logging
import os
import re
from typing import Any

from markdown import Markdown  # type: ignore[import-untyped]
from markdown.extensions import Extension  # type: ignore[import-untyped]
from markdown.preprocessors import Preprocessor  # type: ignore[import-untyped]

from flowsim.embed import (
    OPTIONS,
    EmbedError,
    Spec,
    draw,
    figure_html,
    slug,
    suggest,
    unique_id,
)

__all__ = ["FlowsimExtension", "makeExtension"]

# Under "mkdocs" so that MkDocs counts these warnings (and --strict fails on them).
log = logging.getLogger("mkdocs.flowsim")

KEYS = ["file", *OPTIONS, "id"]
_OPEN = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")


class FlowsimExtension(Extension):  # type: ignore[misc]
    """Registers the fence preprocessor; config: ``base_path`` and a default ``theme``."""

    def __init__(self, **kwargs: Any) -> None:
        self.config = {
            "base_path": [".", "directory that paths in flowsim fences are relative to"],
            "theme": ["", "default theme: a built-in name or a .toml file (under base_path)"],
        }
        super().__init__(**kwargs)

    def extendMarkdown(self, md: Markdown) -> None:
        # Before fenced_code (25) so our fences are ours, after whitespace normalisation (30).
        md.preprocessors.register(FlowsimFences(md, self.getConfigs()), "flowsim", 28)


class FlowsimFences(Preprocessor):  # type: ignore[misc]
    """Replaces each ```` ```flowsim ```` fence by the picture (stashed raw HTML).

    Other fences are copied through untouched, with their content: a page that *shows* the
    flowsim syntax inside a longer ```` ```` ```` fence keeps it as text.
    """

    def __init__(self, md: Markdown, config: dict[str, Any]) -> None:
        super().__init__(md)
        self.base = str(config["base_path"])
        self.theme = str(config["theme"]) or None
        self.taken: set[str] = set()

    def run(self, lines: list[str]) -> list[str]:
        self.taken = set()  # ids are unique per page
        out: list[str] = []
        i = 0
        while i < len(lines):
            m = _OPEN.match(lines[i])
            end = _closing(lines, i, m) if m else None
            if m is None or end is None:
                out.append(lines[i])
                i += 1
                continue
            if m["info"] != "flowsim":
                out.extend(lines[i : end + 1])
            else:
                indent = m["indent"]
                body = [
                    line[len(indent) :] if line.startswith(indent) else line
                    for line in lines[i + 1 : end]
                ]
                placeholder = self.md.htmlStash.store(self.picture(body))
                out.extend(["", indent + placeholder, ""])
            i = end + 1
        return out

    def picture(self, body: list[str]) -> str:
        """The figure HTML for one fence, or a visible error block (and a logged warning)."""
        try:
            fields = _fields(body)
            spec = self._spec(fields)
            picture = draw(spec)
        except EmbedError as err:
            for message in err.messages:
                log.warning("flowsim: %s", message)
            text = html.escape("\n".join(err.messages))
            return f'<pre class="flowsim-error">flowsim: {text}</pre>'
        element_id = slug(fields.get("id", "")) or unique_id(spec.path, spec.view, self.taken)
        self.taken.add(element_id)
        return figure_html(
            picture.data,
            element_id=element_id,
            view=spec.view,
            alt=fields.get("alt") or picture.alt,
            caption=fields.get("caption"),
        )

    def _path(self, name: str) -> str:
        return os.path.normpath(os.path.join(self.base, name))

    def _spec(self, fields: dict[str, str]) -> Spec:
        if "file" not in fields:
            raise EmbedError(["a flowsim fence needs a `file: path/to/process.flow` line"])
        theme = fields.get("theme") or self.theme
        if theme is not None and theme.lower().endswith(".toml"):
            theme = self._path(theme)
        overlay = fields.get("overlay")
        return Spec(
            path=self._path(fields["file"]),
            view=fields.get("view", "flowchart"),
            scenario=fields.get("scenario"),
            overlay=self._path(overlay) if overlay else None,
            color_by=fields.get("color-by"),
            theme=theme,
            lang=fields.get("lang"),
            detail=fields.get("detail"),
            direction=fields.get("direction"),
            lanes=fields.get("lanes"),
            touchpoints=_flag(fields.get("touchpoints", "false")),
        )


def _closing(lines: list[str], start: int, opener: re.Match[str]) -> int | None:
    """Index of the line closing the fence opened at ``start`` (None: never closed, so it is
    not a fence): the same character, at least as many, nothing else on the line."""
    char, size = opener["fence"][0], len(opener["fence"])
    close = re.compile(rf"^[ \t]*{re.escape(char)}{{{size},}}[ \t]*$")
    for j in range(start + 1, len(lines)):
        if close.match(lines[j]):
            return j
    return None


def _flag(value: str) -> bool:
    """``touchpoints: true`` (YAML's spellings of yes and no)."""
    word = value.lower()
    if word in ("true", "yes", "on", ""):
        return True
    if word in ("false", "no", "off"):
        return False
    raise EmbedError([f"touchpoints: expected true or false, got {value!r}"])


def _fields(body: list[str]) -> dict[str, str]:
    """``key: value`` lines (blank lines and ``#`` comments skipped); quotes around a value
    are dropped, as YAML would."""
    fields: dict[str, str] = {}
    problems = []
    for line in body:
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        key, sep, value = text.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key:
            problems.append(f"expected `key: value` in a flowsim fence, got {text!r}")
        elif key not in KEYS:
            problems.append(suggest(key, KEYS))
        elif key in fields:
            problems.append(f"option {key!r} is given twice")
        else:
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            fields[key] = value
    if problems:
        raise EmbedError(problems)
    return fields


def makeExtension(**kwargs: Any) -> FlowsimExtension:
    """Entry point Python-Markdown calls for ``extensions=["flowsim.mkdocs"]``."""
    return FlowsimExtension(**kwargs)
