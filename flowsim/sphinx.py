"""Sphinx extension: ``.. flowsim:: sales.flow`` draws a process into the page at build time.

Add ``"flowsim.sphinx"`` to ``extensions`` in ``conf.py``, then::

    .. flowsim:: ../examples/b2b-cn.flow
       :view: journey
       :scenario: 双方案工程师
       :overlay: ../examples/overlay/b2b-cn.metrics.json
       :caption: The sales process as the customer lives it

Paths work like ``literalinclude``: relative to the page's own file, or to the source
directory when they start with ``/``. The picture is drawn while the page is read (so a bad
file is reported with its ``file:line:col`` while Sphinx still knows which page asked for it)
and every file it read is a dependency of the page, so editing the .flow file, a file it
includes, the overlay or the theme rebuilds the page on the next ``sphinx-build``.

HTML builders get the SVG inline (text stays selectable and searchable, no extra request);
LaTeX gets a PDF next to the ``.tex`` file; every other builder (text, man, texinfo, ...)
gets the alt text, which is what such output can show.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, ClassVar

from docutils import nodes  # type: ignore[import-untyped]
from docutils.parsers.rst import directives  # type: ignore[import-untyped]
from sphinx.application import Sphinx
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from flowsim import __version__
from flowsim._output import make_directory, write_output
from flowsim.embed import CHOICES, EmbedError, Spec, draw, figure_html, unique_id

__all__ = ["FlowsimDirective", "flowsim_diagram", "setup"]

logger = logging.getLogger(__name__)


class flowsim_diagram(nodes.General, nodes.Element):  # type: ignore[misc]
    """A drawn process. ``svg`` is the picture; ``spec`` (plain values, so doctrees pickle and
    parallel reads work) lets the LaTeX writer draw the same picture again as PDF."""


def _choice(values: tuple[str, ...]) -> Any:
    """An option converter for one of ``values``, exactly as written (docutils' own
    ``choice`` lower-cases, which would refuse ``:direction: TB``)."""

    def check(argument: str | None) -> str:
        value = (argument or "").strip()
        if value not in values:
            raise ValueError(f"{value!r} unknown; use {', '.join(values)}")
        return value

    return check


class FlowsimDirective(SphinxDirective):
    """``.. flowsim:: PATH`` with the options of :data:`flowsim.embed.OPTIONS`."""

    has_content = False
    required_arguments = 1
    optional_arguments = 0
    final_argument_whitespace = True
    option_spec: ClassVar[dict[str, Any]] = {
        **{option: _choice(values) for option, values in CHOICES.items()},
        "scenario": directives.unchanged_required,
        "overlay": directives.path,
        "theme": directives.unchanged_required,
        "touchpoints": directives.flag,
        "alt": directives.unchanged,
        "caption": directives.unchanged,
        "name": directives.unchanged,
        "class": directives.class_option,
    }

    def _path(self, name: str) -> str:
        """``name`` resolved like ``literalinclude`` does it, as an absolute path."""
        return self.env.relfn2path(name, self.env.docname)[1]

    def _theme(self) -> str | None:
        """The ``:theme:`` option (a .toml relative to the page), else ``flowsim_theme`` from
        conf.py (a .toml relative to the source directory), else the default theme."""
        theme: str | None = self.options.get("theme")
        if theme is not None:
            return self._path(theme) if theme.lower().endswith(".toml") else theme
        theme = self.config.flowsim_theme or None
        if theme is not None and theme.lower().endswith(".toml"):
            return os.path.join(self.env.srcdir, theme)
        return theme

    def _spec(self) -> Spec:
        overlay = self.options.get("overlay")
        return Spec(
            path=self._path(self.arguments[0]),
            view=self.options.get("view", "flowchart"),
            scenario=self.options.get("scenario"),
            overlay=self._path(overlay) if overlay else None,
            color_by=self.options.get("color-by"),
            theme=self._theme(),
            lang=self.options.get("lang"),
            detail=self.options.get("detail"),
            direction=self.options.get("direction"),
            lanes=self.options.get("lanes"),
            touchpoints="touchpoints" in self.options,
        )

    def run(self) -> list[Any]:
        # Even a missing or broken file is a dependency: fixing it must rebuild the page.
        for dep in self._named_files():
            self.env.note_dependency(dep)
        try:
            spec = self._spec()
            picture = draw(spec)
        except EmbedError as err:
            # The build goes on (or stops under -W); the page simply has no picture here.
            for message in err.messages:
                logger.warning("flowsim: %s", message, location=self.get_location(), type="flowsim")
            return []
        for path in picture.files:
            self.env.note_dependency(path)
        node = flowsim_diagram()
        node["svg"] = picture.data.decode("utf-8")
        node["view"] = spec.view
        node["alt"] = self.options.get("alt") or picture.alt
        node["spec"] = vars(spec).copy()
        node["classes"] += self.options.get("class", [])
        self.set_source_info(node)
        caption = self.options.get("caption")
        target: Any = node
        if caption:
            inodes, messages = self.state.inline_text(caption, self.lineno)
            target = nodes.figure("", node, nodes.caption(caption, "", *inodes))
            self.set_source_info(target)
            self.add_name(target)
            result = [target, *messages]
        else:
            self.add_name(node)
            result = [node]
        if not target["ids"]:
            ids = unique_id(spec.path, spec.view, self.state.document.ids)
            target["ids"].append(ids)
            self.state.document.ids[ids] = target
        node["prefix"] = target["ids"][0]
        return result

    def _named_files(self) -> list[str]:
        deps = [self._path(self.arguments[0])]
        if self.options.get("overlay"):
            deps.append(self._path(self.options["overlay"]))
        theme = self._theme()
        if theme is not None and theme.lower().endswith(".toml"):
            deps.append(theme)
        return deps


def _visit_html(translator: Any, node: Any) -> None:
    html = figure_html(
        node["svg"].encode("utf-8"),
        element_id=node["prefix"],
        view=node["view"],
        alt=node["alt"],
        tag="div",
        classes=node["classes"],
        # Inside a captioned figure the figure carries the id; the picture needs no second one.
        own_id=not isinstance(node.parent, nodes.figure),
    )
    translator.body.append(html + "\n")
    raise nodes.SkipNode


def _visit_latex(translator: Any, node: Any) -> None:
    """Draw the picture again as PDF beside the .tex file and include it."""
    spec = Spec(**node["spec"])
    try:
        pdf = draw(spec, format="pdf").data
    except EmbedError as err:
        for message in err.messages:
            logger.warning("flowsim: %s", message, location=node, type="flowsim")
        raise nodes.SkipNode from None
    name = f"flowsim-{hashlib.sha256(pdf).hexdigest()[:16]}.pdf"
    outdir = Path(translator.builder.outdir)
    write_output(make_directory(outdir) / name, pdf)
    translator.body.append(f"\n\\sphinxincludegraphics{{{name}}}\n")
    raise nodes.SkipNode


def _depart(translator: Any, node: Any) -> None:
    """Nothing to close: the visitors write the whole picture and skip the node."""


def _alt_text_elsewhere(app: Sphinx, doctree: Any, docname: str) -> None:
    """Builders that cannot show an SVG or a PDF (text, man, texinfo, ...) get the alt text."""
    if app.builder.format in ("html", "latex"):
        return
    for node in list(doctree.findall(flowsim_diagram)):
        node.replace_self(nodes.paragraph("", f"[{node['alt']}]"))


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the ``flowsim`` directive; safe for parallel reading and writing."""
    app.add_config_value("flowsim_theme", None, "env", types=frozenset({str, type(None)}))
    app.add_node(
        flowsim_diagram,
        html=(_visit_html, _depart),
        latex=(_visit_latex, _depart),
    )
    app.add_directive("flowsim", FlowsimDirective)
    app.connect("doctree-resolved", _alt_text_elsewhere)
    return {"version": __version__, "parallel_read_safe": True, "parallel_write_safe": True}
