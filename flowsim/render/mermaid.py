"""Mermaid exports: the flowchart as ``flowchart LR|TB``, the journey as ``journey``.

Mermaid is lossy for flowsim: it has no aligned swimlanes, no pains or ideas in a journey, no
distributions. Each export returns its text together with human-readable notes of what it
dropped (:class:`MermaidExport`); the notes are also written as ``%%`` comments at the top.

Safety: no user string is ever an identifier (nodes are ``s0``, ``o0``, lanes ``lane0``), and
every user string goes through :func:`mermaid_label`, which knows the position it is written
in. Mermaid has no reliable escapes (its ``#quot;`` entity codes are a renderer feature and
mean nothing in a journey), so characters that are syntax where the text stands are replaced
by look-alikes, and the substitutions are reported. See ``docs/design.md`` ("Mermaid export").
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Literal

from flowsim.graph import back_edges, phase_order
from flowsim.model import Outcome, Process, Stage
from flowsim.render.i18n import words
from flowsim.render.options import RenderOptions
from flowsim.render.text import clean
from flowsim.render.theme import Theme

__all__ = [
    "FLOWCHART_SUBSTITUTES",
    "JOURNEY_SUBSTITUTES",
    "MERMAID_MAX_EDGES",
    "MERMAID_MAX_TEXT_SIZE",
    "MermaidExport",
    "export",
    "flowchart",
    "journey",
    "mermaid_label",
    "render",
]

#: Mermaid's default ``maxTextSize``: longer diagrams are replaced by an error box.
MERMAID_MAX_TEXT_SIZE = 50_000
#: Mermaid's default ``maxEdges``: a flowchart with more edges fails to parse.
MERMAID_MAX_EDGES = 500

#: Characters that are syntax inside a quoted flowchart label (``["..."]``, ``|"..."|``,
#: ``subgraph id["..."]``, front-matter title), and their look-alikes. The quote ends the
#: string; ``#...;`` is an entity code; ``<``, ``>``, ``&`` are HTML (labels are HTML);
#: a backtick starts a Markdown string; ``{``/``}`` could form a ``%%{init}%%`` directive,
#: which Mermaid looks for anywhere in the text. Everything else (``: ; | [ ] ( )``, ``-->``,
#: keywords such as ``end`` or ``click``) is plain text inside the quotes.
FLOWCHART_SUBSTITUTES: dict[str, str] = {
    '"': "＂",
    "#": "＃",
    "&": "＆",
    "<": "‹",
    ">": "›",
    "`": "ˋ",
    "{": "｛",
    "}": "｝",
}

#: Journey lines have no quoting at all: ``task: score: actor, actor``. On top of the
#: flowchart set, ``:`` splits a task from its score and actors, ``#`` and ``%`` start
#: comments, ``;`` ends a statement. Actors are also split at ``,`` (``actor`` position only).
JOURNEY_SUBSTITUTES: dict[str, str] = {
    **FLOWCHART_SUBSTITUTES,
    ":": "：",
    ";": "；",
    "%": "％",
}
_ACTOR_SUBSTITUTES: dict[str, str] = {**JOURNEY_SUBSTITUTES, ",": "，"}

# A journey task line starting with one of these words is read as that statement
# (`title x: 3: me` would become the title). An invisible WORD JOINER in front defuses it:
# it is not whitespace to Mermaid's lexer, so the keyword rules no longer match. No word
# boundary is required: Mermaid's `journey\b` is ASCII-only (`journeyé` matches it).
_JOURNEY_KEYWORD = re.compile(r"(?i)(?:journey|title|section|acctitle|accdescr|click)")
_WORD_JOINER = "\u2060"
# C1 controls (NEL is a line break to some readers), the tab, and U+FEFF, which JavaScript's
# `\s` counts as whitespace (Python's does not): never wanted in a label.
_JUNK = re.compile(r"[\t\x80-\x9f\ufeff]")

Position = Literal["flowchart", "journey", "task", "actor"]


@dataclass
class MermaidExport:
    """Mermaid text, and notes of what Mermaid could not express (also ``%%`` comments)."""

    text: str
    dropped: list[str] = field(default_factory=list)


class _Escaper:
    """Every user string goes through :meth:`__call__`; it remembers what it replaced."""

    def __init__(self) -> None:
        self.replaced: Counter[str] = Counter()
        self.defused = 0

    def __call__(self, text: str, where: Position) -> str:
        out, replaced, defused = _escape(text, where)
        self.replaced.update(replaced)
        self.defused += defused
        return out

    def notes(self, view: str) -> list[str]:
        notes = []
        if self.replaced:
            table = FLOWCHART_SUBSTITUTES if view == "flowchart" else _ACTOR_SUBSTITUTES
            pairs = ", ".join(
                f"{_CHAR_NAMES[ch]} as {table[ch]}" for ch in table if ch in self.replaced
            )
            notes.append(
                f"characters that are Mermaid {view} syntax and cannot be escaped were "
                f"replaced by look-alikes: {pairs}"
            )
        if self.defused:
            notes.append(
                f"{_n(self.defused, 'task name')} starting with a journey keyword "
                "(title, section, ...) got an invisible word joiner (U+2060) in front"
            )
        return notes


# Names for the notes, so that the notes themselves hold no syntax characters.
_CHAR_NAMES = {
    '"': "double quote",
    "#": "hash",
    "&": "ampersand",
    "<": "less-than",
    ">": "greater-than",
    "`": "backtick",
    "{": "left brace",
    "}": "right brace",
    ":": "colon",
    ";": "semicolon",
    "%": "percent",
    ",": "comma",
}


def _escape(text: str, where: Position) -> tuple[str, Counter[str], int]:
    table = _ACTOR_SUBSTITUTES if where == "actor" else JOURNEY_SUBSTITUTES
    if where == "flowchart":
        table = FLOWCHART_SUBSTITUTES
    text = unicodedata.normalize("NFC", clean(text))
    text = " ".join(_JUNK.sub(" ", text).split())  # one line, single spaces
    replaced: Counter[str] = Counter(ch for ch in text if ch in table)
    out = "".join(table.get(ch, ch) for ch in text) or "-"
    defused = 0
    if where == "task" and _JOURNEY_KEYWORD.match(out):
        out = _WORD_JOINER + out
        defused = 1
    return out, replaced, defused


def mermaid_label(text: str, where: Position = "flowchart") -> str:
    """``text`` made inert for a Mermaid position: one line, syntax characters substituted.

    ``flowchart``: inside a quoted label; ``journey``: a journey title or section name;
    ``task``: a journey task name (a line of its own: a leading keyword is defused too);
    ``actor``: a journey actor (commas separate actors, so they are substituted too).
    """
    return _escape(text, where)[0]


def _n(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _pct(p: float) -> str:
    text = f"{p * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}|[A-Za-z]{1,30}")


class _Styles:
    """``classDef``/``style`` properties from the theme; only plain colours get through."""

    def __init__(self, theme: Theme) -> None:
        self.theme = theme
        self.rejected: set[str] = set()

    def colour(self, value: str, name: str) -> str | None:
        if _COLOUR.fullmatch(value):
            return value
        self.rejected.add(name)
        return None

    def props(self, *extra: str, **fields: str) -> str:
        """``fill:#fff,stroke:#000`` from theme fields (``fill="stage_fill"``), then ``extra``."""
        out = []
        for prop, name in fields.items():
            value = self.colour(getattr(self.theme, name), name)
            if value is not None:
                out.append(f"{prop}:{value}")
        return ",".join([*out, *extra])


def _header(notes: list[str], title: str | None = None) -> list[str]:
    lines = []
    if title is not None:
        # Front matter is YAML; a JSON string is a YAML double-quoted scalar.
        lines += ["---", f"title: {json.dumps(title, ensure_ascii=False)}", "---"]
    lines += [f"%% {_comment(note)}" for note in notes]
    return lines


def _comment(note: str) -> str:
    """A note as a comment line: one line, and never a ``%%{...}%%`` directive."""
    return " ".join(clean(note).split()).replace("%%", "% %")


# ---- flowchart -------------------------------------------------------------------------------


def flowchart(process: Process, options: RenderOptions | None = None) -> MermaidExport:
    """The process as a Mermaid ``flowchart`` with one subgraph per lane (department/role)."""
    options = options or RenderOptions()
    w = words(options.lang)
    esc = _Escaper()
    styles = _Styles(options.theme)
    theme = options.theme
    dropped: list[str] = []

    order = phase_order(process)
    stages = {s.id: s for s in process.stages}
    ids: dict[str, str] = {sid: f"s{i}" for i, sid in enumerate(order)}
    for s in process.stages:  # phase_order covers every stage; be safe anyway
        ids.setdefault(s.id, f"s{len(ids)}")
    for i, o in enumerate(process.outcomes):
        ids[o.id] = f"o{i}"
    ordered_stages = [stages[sid] for sid in order] + [
        s for s in process.stages if s.id not in set(order)
    ]
    entry = process.entry
    rounded = "rounded" in theme.stage_style

    def role_label(owner: str | None) -> str | None:
        if owner is None:
            return None
        return process.role(owner).display

    def node(n: Stage | Outcome) -> str:
        nid = ids[n.id]
        label = esc(n.display, "flowchart")
        if isinstance(n, Outcome):
            return f'{nid}(["{label}"])'
        owner = role_label(n.owner)
        if owner is not None and options.lanes != "role":
            label += "<br>" + esc(owner, "flowchart")
        return f'{nid}("{label}")' if rounded else f'{nid}["{label}"]'

    # lanes: (title, nodes), declared order, "unassigned" last, empty lanes left out
    lanes: list[tuple[str, list[Stage | Outcome]]] = []
    loose: list[Stage | Outcome] = []
    nodes: list[Stage | Outcome] = [*ordered_stages, *process.outcomes]
    if options.lanes == "none":
        loose = nodes
    else:
        keyed: dict[str, list[Stage | Outcome]] = {}
        titles: list[tuple[str, str]] = (
            [(d.id, d.display) for d in process.departments]
            if options.lanes == "department"
            else [(r.id, r.display) for r in process.roles]
        )
        unassigned: list[Stage | Outcome] = []
        for n in nodes:
            key = n.owner
            if key is not None and options.lanes == "department":
                key = process.role(key).department
            if key is not None:
                keyed.setdefault(key, []).append(n)
            elif isinstance(n, Outcome):
                loose.append(n)  # ownerless outcomes sit outside the lanes
            else:
                unassigned.append(n)
        lanes = [(label, keyed[k]) for k, label in titles if k in keyed]
        if unassigned:
            lanes.append((w["unassigned"], unassigned))
        empty = len(titles) - sum(k in keyed for k, _ in titles)
        if empty:
            kind = "department" if options.lanes == "department" else "role"
            dropped.append(f"lanes not drawn: {_n(empty, kind)} without stages or outcomes")
        if lanes:
            dropped.append(
                "lanes are Mermaid subgraphs: boxes placed by Mermaid's layout, not aligned "
                "swimlanes in declared order"
            )

    body: list[str] = [f"flowchart {options.direction}"]
    if entry is not None:
        body.append(f'  start(("{esc(w["entry"], "flowchart")}"))')
    for i, (lane_title, members) in enumerate(lanes):
        body.append(f'  subgraph lane{i}["{esc(lane_title, "flowchart")}"]')
        body += [f"    {node(n)}" for n in members]
        body.append("  end")
    body += [f"  {node(n)}" for n in loose]

    # edges: the entry marker, then each stage's transitions in flow order
    back = back_edges(process)
    outcomes = {o.id: o for o in process.outcomes}
    link = 0
    rework_links: list[int] = []
    lost_links: list[int] = []
    mix = len(process.entries) > 1
    for stage, share in process.entries:  # an entry mix labels each entry with its share
        body.append(
            f'  start -->|"{_pct(share)}"| {ids[stage.id]}'
            if mix
            else f"  start --> {ids[stage.id]}"
        )
        link += 1
    reworks = 0
    for s in ordered_stages:
        for t, p in process.outgoing(s.id):
            text = _pct(p)
            if t.label:
                text += " " + esc(t.label, "flowchart")
            arrow = "-.->" if (t.source, t.target) in back else "-->"
            body.append(f'  {ids[t.source]} {arrow}|"{text}"| {ids[t.target]}')
            if (t.source, t.target) in back:
                rework_links.append(link)
                reworks += 1
            elif t.target in outcomes and outcomes[t.target].result == "lost":
                lost_links.append(link)
            link += 1

    # styles, from the theme's colours
    class_defs = {
        "stage": styles.props(fill="stage_fill", stroke="stage_border", color="text"),
        "entry": styles.props("stroke-width:3px", stroke="entry_border"),
        **{
            result: styles.props(fill=f"{result}_fill", stroke=f"{result}_border", color="text")
            for result in ("won", "lost", "other")
        },
        "marker": styles.props(fill="entry_border", stroke="entry_border", color="background"),
    }
    body += [f"  classDef {name} {props}" for name, props in class_defs.items() if props]
    if ordered_stages:
        body.append("  class " + ",".join(ids[s.id] for s in ordered_stages) + " stage")
    if entry is not None:
        body.append("  class " + ",".join(ids[e.id] for e, _ in process.entries) + " entry")
        body.append("  class start marker")
    for result in ("won", "lost", "other"):
        ends = [ids[o.id] for o in process.outcomes if o.result == result]
        if ends:
            body.append(f"  class {','.join(ends)} {result}")
    for i, _ in enumerate(lanes):
        fill = theme.lane_fills[i % len(theme.lane_fills)] if theme.lane_fills else None
        fill = styles.colour(fill, "lane_fills") if fill is not None else None
        props = styles.props(stroke="lane_border", color="lane_label")
        props = ",".join(x for x in (f"fill:{fill}" if fill else "", props) if x)
        if props:
            body.append(f"  style lane{i} {props}")
    for links, name in ((rework_links, "edge_rework"), (lost_links, "edge_lost")):
        colour = styles.colour(getattr(theme, name), name)
        if links and colour:
            body.append(f"  linkStyle {','.join(map(str, links))} stroke:{colour}")

    # what Mermaid cannot say
    if reworks:
        dropped.append(
            f"{_n(reworks, 'rework loop')} drawn as dotted edges; Mermaid's layout ranks "
            "them like forward edges"
        )
    goals = sum(bool(s.goals or s.exits) for s in process.stages)
    if goals and options.detail != "none":
        dropped.append(f"goals and exit criteria ({_n(goals, 'stage')}) are not shown")
    touchpoints = sum(len(s.touchpoints) for s in process.stages)
    if touchpoints:
        dropped.append(f"{_n(touchpoints, 'touchpoint')} not shown (see the journey export)")
    timed = sum(s.effort is not None or s.wait is not None for s in process.stages)
    if timed:
        dropped.append(f"effort/wait distributions ({_n(timed, 'stage')}) are not shown")
    if process.arrivals or process.calendar or process.roles:
        dropped.append("arrivals, calendars and headcounts are not shown")
    if process.scenarios:
        dropped.append(
            f"{_n(len(process.scenarios), 'scenario')} not shown (export one with --scenario)"
        )
    if options.overlay is not None:
        dropped.append("the metrics overlay (colours and edge widths) is not shown")
    if link > MERMAID_MAX_EDGES:
        dropped.append(
            f"the flowchart has {link} edges, more than Mermaid's default maxEdges "
            f"({MERMAID_MAX_EDGES}): the viewer must raise it (mermaid.initialize) to draw it"
        )
    dropped += _common_notes(esc, styles, "flowchart")
    title = esc(process.name, "flowchart") if options.title else None
    return _finish(dropped, body, title)


def _common_notes(esc: _Escaper, styles: _Styles | None, view: str) -> list[str]:
    notes = esc.notes(view)
    if styles is not None and styles.rejected:
        names = ", ".join(sorted(styles.rejected))
        notes.append(f"theme values that are not plain colours were left out: {names}")
    return notes


def _finish(dropped: list[str], body: list[str], title: str | None = None) -> MermaidExport:
    text = "\n".join([*_header(dropped, title), *body]) + "\n"
    if len(text) > MERMAID_MAX_TEXT_SIZE:
        note = (
            f"the diagram is {len(text)} characters, more than Mermaid's default maxTextSize "
            f"({MERMAID_MAX_TEXT_SIZE}): the viewer must raise it (mermaid.initialize) to draw it"
        )
        dropped = [*dropped, note]
        text = "\n".join([*_header(dropped, title), *body]) + "\n"
    return MermaidExport(text=text, dropped=dropped)


# ---- journey ---------------------------------------------------------------------------------


def _score(emotion: float) -> int:
    """Half-up rounding, then clamped to Mermaid's 1..5."""
    return min(5, max(1, math.floor(emotion + 0.5)))


def journey(process: Process, options: RenderOptions | None = None) -> MermaidExport:
    """The customer journey as a Mermaid ``journey``: a section per phase, a task per
    touchpoint, score = emotion (1-5), actors = the stage owner's role."""
    options = options or RenderOptions()
    w = words(options.lang)
    esc = _Escaper()
    dropped: list[str] = []
    body = ["journey"]
    if options.title:
        title = f"{esc(process.name, 'journey')} — {esc(w['journey'], 'journey')}"
        if process.personas:
            names = ", ".join(esc(p.display, "journey") for p in process.personas)
            title += f" ({names})"
        body.append(f"  title {title}")

    stages = {s.id: s for s in process.stages}
    rounded = clamped = defaulted = bare = 0
    for sid in phase_order(process):
        stage = stages[sid]
        body.append(f"  section {esc(stage.display, 'journey')}")
        actors = ""
        if stage.owner is not None:
            actors = ": " + esc(process.role(stage.owner).display, "actor")
        if not stage.touchpoints:
            bare += 1
            body.append(f"    {esc(stage.display, 'task')}: 3{actors}")
            continue
        for tp in stage.touchpoints:
            if tp.emotion is None:
                defaulted += 1
                score = 3
            else:
                score = _score(tp.emotion)
                if not 1 <= tp.emotion <= 5:
                    clamped += 1
                elif score != tp.emotion:
                    rounded += 1
            body.append(f"    {esc(tp.name, 'task')}: {score}{actors}")

    def count(attr: str) -> int:
        return sum(len(getattr(tp, attr)) for s in process.stages for tp in s.touchpoints)

    pains, ideas, actions = count("pains"), count("ideas"), count("actions")
    lost_lanes = [f"{name} ({n})" for name, n in (("pain points", pains), ("ideas", ideas)) if n]
    if lost_lanes:
        dropped.append(f"{' and '.join(lost_lanes)} are not part of Mermaid journey diagrams")
    if actions:
        dropped.append(f"customer actions ({actions}) are not shown")
    channels = sum(tp.channel is not None for s in process.stages for tp in s.touchpoints)
    if channels:
        dropped.append(f"touchpoint channels ({channels}) are not shown")
    if any(p.goals or p.notes for p in process.personas):
        dropped.append("persona goals and notes are not shown")
    if process.roles:
        dropped.append("actors are the owner roles; their departments are not shown")
    if rounded:
        dropped.append(
            f"{_n(rounded, 'emotion score')} rounded to whole numbers (Mermaid scores are 1-5)"
        )
    if clamped:
        dropped.append(f"{_n(clamped, 'emotion score')} outside 1-5 clamped into it")
    if defaulted:
        dropped.append(f"{_n(defaulted, 'touchpoint')} without emotion shown with score 3")
    if bare:
        dropped.append(
            f"{_n(bare, 'stage')} without touchpoints shown as one task named after the "
            "stage (score 3)"
        )
    if process.outcomes or process.transitions:
        dropped.append(
            "outcomes, conversion rates and rework loops are not part of a journey "
            "(sections follow the main path)"
        )
    dropped += _common_notes(esc, None, "journey")
    return _finish(dropped, body)


# ---- dispatch --------------------------------------------------------------------------------


def export(process: Process, options: RenderOptions | None = None) -> MermaidExport:
    """The Mermaid export of ``options.view``."""
    options = options or RenderOptions()
    return journey(process, options) if options.view == "journey" else flowchart(process, options)


def render(process: Process, options: RenderOptions | None = None) -> str:
    """Mermaid text of ``options.view`` (the notes are in the text as ``%%`` comments)."""
    return export(process, options).text
