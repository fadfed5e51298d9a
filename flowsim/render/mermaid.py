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
from typing import Literal, NamedTuple

from flowsim.graph import back_edges, fork_key, join_gateways, join_key, phase_order
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

Node = Stage | Outcome


@dataclass(frozen=True)
class _Chart:
    """What every step of the flowchart export reads.

    Built once so that the steps agree on node ids and flow order, and share one escaper
    and one style reader: their counts become the notes at the end.
    """

    process: Process
    options: RenderOptions
    words: dict[str, str]
    esc: _Escaper
    styles: _Styles
    ids: dict[str, str]  # model id → Mermaid id (s0…, o0…)
    stages: list[Stage]  # in flow order


class _Lanes(NamedTuple):
    """The subgraphs (title, members) in declared order, the nodes outside them, and notes."""

    lanes: list[tuple[str, list[Node]]]
    loose: list[Node]
    notes: list[str]


class _Links(NamedTuple):
    """The edge lines, how many links they are, and which (by index) to colour."""

    lines: list[str]
    edges: int
    rework: list[int]
    lost: list[int]


def flowchart(process: Process, options: RenderOptions | None = None) -> MermaidExport:
    """The process as a Mermaid ``flowchart`` with one subgraph per lane (department/role).

    Steps: ids and flow order (:func:`_chart`), lanes, nodes, links, theme styles, then the
    notes of what Mermaid cannot say, counted over everything written before the title.
    """
    chart = _chart(process, options or RenderOptions())
    lanes = _lanes(chart)
    links = _links(chart)
    body = [*_nodes(chart, lanes), *links.lines, *_style_lines(chart, lanes, links)]
    dropped = [*lanes.notes, *_flowchart_notes(chart, links)]
    dropped += _common_notes(chart.esc, chart.styles, "flowchart")
    title = chart.esc(process.name, "flowchart") if chart.options.title else None
    return _finish(dropped, body, title)


def _chart(process: Process, options: RenderOptions) -> _Chart:
    """Ids by flow order (``s0`` is the first stage of the main path), outcomes after."""
    order = phase_order(process)
    stages = {s.id: s for s in process.stages}
    ids: dict[str, str] = {sid: f"s{i}" for i, sid in enumerate(order)}
    for s in process.stages:  # phase_order covers every stage; be safe anyway
        ids.setdefault(s.id, f"s{len(ids)}")
    for i, o in enumerate(process.outcomes):
        ids[o.id] = f"o{i}"
    for i, block in enumerate(process.parallels):
        ids[fork_key(block.source)] = f"fork{i}"
        ids[join_key(block.source)] = f"join{i}"
    ordered = [stages[sid] for sid in order] + [s for s in process.stages if s.id not in set(order)]
    return _Chart(
        process=process,
        options=options,
        words=words(options.lang),
        esc=_Escaper(),
        styles=_Styles(options.theme),
        ids=ids,
        stages=ordered,
    )


def _lanes(chart: _Chart) -> _Lanes:
    """Lanes in declared order, "unassigned" last, empty lanes left out (and noted)."""
    process, mode = chart.process, chart.options.lanes
    nodes: list[Node] = [*chart.stages, *process.outcomes]
    if mode == "none":
        return _Lanes([], nodes, [])
    keyed: dict[str, list[Node]] = {}
    titles: list[tuple[str, str]] = (
        [(d.id, d.display) for d in process.departments]
        if mode == "department"
        else [(r.id, r.display) for r in process.roles]
    )
    loose: list[Node] = []
    unassigned: list[Node] = []
    for n in nodes:
        key = n.owner
        if key is not None and mode == "department":
            key = process.role(key).department
        if key is not None:
            keyed.setdefault(key, []).append(n)
        elif isinstance(n, Outcome):
            loose.append(n)  # ownerless outcomes sit outside the lanes
        else:
            unassigned.append(n)
    lanes = [(label, keyed[k]) for k, label in titles if k in keyed]
    if unassigned:
        lanes.append((chart.words["unassigned"], unassigned))
    notes: list[str] = []
    empty = len(titles) - sum(k in keyed for k, _ in titles)
    if empty:
        kind = "department" if mode == "department" else "role"
        notes.append(f"lanes not drawn: {_n(empty, kind)} without stages or outcomes")
    if lanes:
        notes.append(
            "lanes are Mermaid subgraphs: boxes placed by Mermaid's layout, not aligned "
            "swimlanes in declared order"
        )
    return _Lanes(lanes, loose, notes)


def _node(chart: _Chart, n: Node) -> str:
    """One node: an outcome as a stadium, a stage as a box with its owner's role below."""
    nid = chart.ids[n.id]
    label = chart.esc(n.display, "flowchart")
    if isinstance(n, Outcome):
        return f'{nid}(["{label}"])'
    if n.owner is not None and chart.options.lanes != "role":
        label += "<br>" + chart.esc(chart.process.role(n.owner).display, "flowchart")
    rounded = "rounded" in chart.options.theme.stage_style
    return f'{nid}("{label}")' if rounded else f'{nid}["{label}"]'


def _nodes(chart: _Chart, lanes: _Lanes) -> list[str]:
    """The header line, the entry marker, a subgraph per lane, then the loose nodes."""
    direction = "LR" if chart.options.direction == "auto" else chart.options.direction
    body = [f"flowchart {direction}"]
    if chart.process.entry is not None:
        body.append(f'  start(("{chart.esc(chart.words["entry"], "flowchart")}"))')
    for i, (lane_title, members) in enumerate(lanes.lanes):
        body.append(f'  subgraph lane{i}["{chart.esc(lane_title, "flowchart")}"]')
        body += [f"    {_node(chart, n)}" for n in members]
        body.append("  end")
    body += [f"  {_node(chart, n)}" for n in lanes.loose]
    for block in chart.process.parallels:  # Mermaid's fork/join bar (shape `fork`, 11.3+)
        body.append(f"  {chart.ids[fork_key(block.source)]}@{{ shape: fork }}")
        body.append(f"  {chart.ids[join_key(block.source)]}@{{ shape: fork }}")
    return body


def _links(chart: _Chart) -> _Links:
    """The entry marker's links, then each stage's transitions in flow order.

    Mermaid styles links by their index, so the indices of rework and lost links are kept.
    """
    process, ids, esc = chart.process, chart.ids, chart.esc
    back = back_edges(process)
    outcomes = {o.id: o for o in process.outcomes}
    lines: list[str] = []
    rework: list[int] = []
    lost: list[int] = []
    mix = len(process.entries) > 1
    joins = join_gateways(process)
    for stage, share in process.entries:  # an entry mix labels each entry with its share
        lines.append(
            f'  start -->|"{_pct(share)}"| {ids[stage.id]}'
            if mix
            else f"  start --> {ids[stage.id]}"
        )
    for s in chart.stages:
        for t, p in process.outgoing(s.id):
            text = _pct(p)
            if t.label:
                text += " " + esc(t.label, "flowchart")
            arrow = "-.->" if (t.source, t.target) in back else "-->"
            if (t.source, t.target) in back:
                rework.append(len(lines))
            elif t.target in outcomes and outcomes[t.target].result == "lost":
                lost.append(len(lines))
            target = ids[joins.get((t.source, t.target), t.target)]
            lines.append(f'  {ids[t.source]} {arrow}|"{text}"| {target}')
    lines += _block_links(chart)
    return _Links(lines, len(lines), rework, lost)


def _block_links(chart: _Chart) -> list[str]:
    """Each parallel block's own links: into the fork, to each branch, from the branches'
    bare ends to the join, and on from the join (no label: every deal takes them)."""
    process, ids = chart.process, chart.ids
    lines: list[str] = []
    for block in process.parallels:
        fork, join = ids[fork_key(block.source)], ids[join_key(block.source)]
        pairs = [(ids[block.source], fork), *((fork, ids[e]) for e in block.branches)]
        for region in process.branch_stages(block):
            ends = sorted(sid for sid in region if not process.outgoing(sid))
            pairs += [(ids[sid], join) for sid in ends]
        pairs.append((join, ids[block.join]))
        lines += [f"  {a} --> {b}" for a, b in pairs]
    return lines


def _style_lines(chart: _Chart, lanes: _Lanes, links: _Links) -> list[str]:
    """``classDef``, ``class``, ``style`` and ``linkStyle`` lines from the theme's colours."""
    process, ids, styles, theme = chart.process, chart.ids, chart.styles, chart.options.theme
    class_defs = {
        "stage": styles.props(fill="stage_fill", stroke="stage_border", color="text"),
        "entry": styles.props("stroke-width:3px", stroke="entry_border"),
        **{
            result: styles.props(fill=f"{result}_fill", stroke=f"{result}_border", color="text")
            for result in ("won", "lost", "other")
        },
        "marker": styles.props(fill="entry_border", stroke="entry_border", color="background"),
    }
    body = [f"  classDef {name} {props}" for name, props in class_defs.items() if props]
    if chart.stages:
        body.append("  class " + ",".join(ids[s.id] for s in chart.stages) + " stage")
    if process.entry is not None:
        body.append("  class " + ",".join(ids[e.id] for e, _ in process.entries) + " entry")
        body.append("  class start marker")
    for result in ("won", "lost", "other"):
        ends = [ids[o.id] for o in process.outcomes if o.result == result]
        if ends:
            body.append(f"  class {','.join(ends)} {result}")
    for i, _ in enumerate(lanes.lanes):
        fill = theme.lane_fills[i % len(theme.lane_fills)] if theme.lane_fills else None
        fill = styles.colour(fill, "lane_fills") if fill is not None else None
        props = styles.props(stroke="lane_border", color="lane_label")
        props = ",".join(x for x in (f"fill:{fill}" if fill else "", props) if x)
        if props:
            body.append(f"  style lane{i} {props}")
    for indices, name in ((links.rework, "edge_rework"), (links.lost, "edge_lost")):
        colour = styles.colour(getattr(theme, name), name)
        if indices and colour:
            body.append(f"  linkStyle {','.join(map(str, indices))} stroke:{colour}")
    return body


def _flowchart_notes(chart: _Chart, links: _Links) -> list[str]:
    """What the Mermaid flowchart cannot say, in the order a reader meets it."""
    process, options = chart.process, chart.options
    notes: list[str] = []
    if links.rework:
        notes.append(
            f"{_n(len(links.rework), 'rework loop')} drawn as dotted edges; Mermaid's layout "
            "ranks them like forward edges"
        )
    goals = sum(bool(s.goals or s.exits) for s in process.stages)
    if goals and options.detail != "none":
        notes.append(f"goals and exit criteria ({_n(goals, 'stage')}) are not shown")
    touchpoints = sum(len(s.touchpoints) for s in process.stages)
    if touchpoints:
        notes.append(f"{_n(touchpoints, 'touchpoint')} not shown (see the journey export)")
    timed = sum(s.effort is not None or s.wait is not None for s in process.stages)
    if timed:
        notes.append(f"effort/wait distributions ({_n(timed, 'stage')}) are not shown")
    if process.arrivals or process.calendar or process.roles:
        notes.append("arrivals, calendars and headcounts are not shown")
    if process.scenarios:
        notes.append(
            f"{_n(len(process.scenarios), 'scenario')} not shown (export one with --scenario)"
        )
    if options.overlay is not None:
        notes.append("the metrics overlay (colours and edge widths) is not shown")
    if links.edges > MERMAID_MAX_EDGES:
        notes.append(
            f"the flowchart has {links.edges} edges, more than Mermaid's default maxEdges "
            f"({MERMAID_MAX_EDGES}): the viewer must raise it (mermaid.initialize) to draw it"
        )
    return notes


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


class _Sections(NamedTuple):
    """The journey's section and task lines, and counts of the scores Mermaid changed."""

    lines: list[str]
    rounded: int  # emotions that are not whole numbers
    clamped: int  # emotions outside 1..5
    defaulted: int  # touchpoints without an emotion (score 3)
    bare: int  # stages without touchpoints (one task named after the stage)


def journey(process: Process, options: RenderOptions | None = None) -> MermaidExport:
    """The customer journey as a Mermaid ``journey``: a section per phase, a task per
    touchpoint, score = emotion (1-5), actors = the stage owner's role."""
    options = options or RenderOptions()
    esc = _Escaper()
    body = ["journey"]
    if options.title:
        body.append(f"  title {_journey_title(process, words(options.lang), esc)}")
    sections = _journey_sections(process, esc)
    body += sections.lines
    dropped = [*_journey_notes(process, sections), *_common_notes(esc, None, "journey")]
    return _finish(dropped, body)


def _journey_title(process: Process, w: dict[str, str], esc: _Escaper) -> str:
    """The title line, "process — journey (personas)": a Mermaid journey has no persona box."""
    title = f"{esc(process.name, 'journey')} — {esc(w['journey'], 'journey')}"
    if process.personas:
        names = ", ".join(esc(p.display, "journey") for p in process.personas)
        title += f" ({names})"
    return title


def _journey_sections(process: Process, esc: _Escaper) -> _Sections:
    """A section per phase (main path order) and a task per touchpoint, scored 1-5.

    Mermaid scores are whole numbers in 1..5: emotions are rounded half up and clamped, and
    every change is counted for the notes.
    """
    stages = {s.id: s for s in process.stages}
    lines: list[str] = []
    rounded = clamped = defaulted = bare = 0
    for sid in phase_order(process):
        stage = stages[sid]
        lines.append(f"  section {esc(stage.display, 'journey')}")
        actors = ""
        if stage.owner is not None:
            actors = ": " + esc(process.role(stage.owner).display, "actor")
        if not stage.touchpoints:
            bare += 1
            lines.append(f"    {esc(stage.display, 'task')}: 3{actors}")
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
            lines.append(f"    {esc(tp.name, 'task')}: {score}{actors}")
    return _Sections(lines, rounded, clamped, defaulted, bare)


def _journey_notes(process: Process, sections: _Sections) -> list[str]:
    """What the Mermaid journey cannot say: lanes it lacks, and the scores it changed."""
    touchpoints = [tp for s in process.stages for tp in s.touchpoints]
    pains, ideas, actions = (
        sum(len(getattr(tp, attr)) for tp in touchpoints) for attr in ("pains", "ideas", "actions")
    )
    notes: list[str] = []
    lost_lanes = [f"{name} ({n})" for name, n in (("pain points", pains), ("ideas", ideas)) if n]
    if lost_lanes:
        notes.append(f"{' and '.join(lost_lanes)} are not part of Mermaid journey diagrams")
    if actions:
        notes.append(f"customer actions ({actions}) are not shown")
    channels = sum(tp.channel is not None for tp in touchpoints)
    if channels:
        notes.append(f"touchpoint channels ({channels}) are not shown")
    if any(p.goals or p.notes for p in process.personas):
        notes.append("persona goals and notes are not shown")
    if process.parallels:
        notes.append(
            f"{_n(len(process.parallels), 'parallel block')}: their phases are listed one "
            "after another (a Mermaid journey has no parallel sections)"
        )
    if process.roles:
        notes.append("actors are the owner roles; their departments are not shown")
    if sections.rounded:
        notes.append(
            f"{_n(sections.rounded, 'emotion score')} rounded to whole numbers "
            "(Mermaid scores are 1-5)"
        )
    if sections.clamped:
        notes.append(f"{_n(sections.clamped, 'emotion score')} outside 1-5 clamped into it")
    if sections.defaulted:
        notes.append(f"{_n(sections.defaulted, 'touchpoint')} without emotion shown with score 3")
    if sections.bare:
        notes.append(
            f"{_n(sections.bare, 'stage')} without touchpoints shown as one task named after "
            "the stage (score 3)"
        )
    if process.outcomes or process.transitions:
        notes.append(
            "outcomes, conversion rates and rework loops are not part of a journey "
            "(sections follow the main path)"
        )
    return notes


# ---- dispatch --------------------------------------------------------------------------------


def export(process: Process, options: RenderOptions | None = None) -> MermaidExport:
    """The Mermaid export of ``options.view``."""
    options = options or RenderOptions()
    return journey(process, options) if options.view == "journey" else flowchart(process, options)


def render(process: Process, options: RenderOptions | None = None) -> str:
    """Mermaid text of ``options.view`` (the notes are in the text as ``%%`` comments)."""
    return export(process, options).text
