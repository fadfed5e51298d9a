"""The model's structural invariants: unique ids and references that resolve.

A :class:`~flowsim.model.Process` cannot exist while :func:`structure_diagnostics` reports an
error: its validator calls this function. The rules read the model only through its fields
(the model is a type here, never imported at run time), so the model can import them without
a cycle; the flow checks (:mod:`flowsim.checks`) build on the same helpers.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, NamedTuple

from flowsim.diagnostics import Diagnostic, Severity, Span
from flowsim.dsl.keywords import KEYWORDS

if TYPE_CHECKING:
    from flowsim.model import Process, Transition

__all__ = ["diagnostic", "did_you_mean", "structure_diagnostics"]


def diagnostic(
    code: str, message: str, span: Span | None, hint: str | None = None, *, warning: bool = False
) -> Diagnostic:
    """An error (or with ``warning=True`` a warning) with its code, position and hint."""
    return Diagnostic(
        code=code,
        severity=Severity.WARNING if warning else Severity.ERROR,
        message=message,
        span=span,
        hint=hint,
    )


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest of ``options``, or an empty string."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _label_hint(word: str, labelled: dict[str, str], kind: str) -> str | None:
    if word in labelled:
        return f"'{word}' is the label of {kind} '{labelled[word]}'; refer to it by its id"
    return None


class _Declared(NamedTuple):
    """The declared ids references must resolve to, and the duplicates found among them.

    Read in one pass over the declarations, so every later rule resolves against the same
    sets (the first of two duplicates is the one that counts).
    """

    departments: set[str]
    roles: set[str]
    nodes: set[str]
    duplicates: list[Diagnostic]


def structure_diagnostics(process: Process) -> list[Diagnostic]:
    """Duplicate ids and references to undeclared stages, roles, departments.

    The order is the order the rules run in (declarations, then references); callers rely
    on it when the list is shown without sorting.
    """
    declared = _declared(process)
    return [
        *declared.duplicates,
        *_idle_rules(process),
        *_keyword_ids(process),
        *_unknown_departments(process, declared.departments),
        *_unknown_owners(process, declared.roles),
        *_start_diagnostics(process),
        *_transition_diagnostics(process, declared.nodes),
        *_parallel_references(process, declared.nodes),
        *_scenario_references(process, declared.roles),
    ]


def _unique(
    kind: str, items: Sequence[tuple[str, Span | None]]
) -> tuple[set[str], list[Diagnostic]]:
    """E101 for every repeat of an id; the distinct ids (the first declaration wins)."""
    out: list[Diagnostic] = []
    first: dict[str, Span | None] = {}
    for ident, span in items:
        if ident in first:
            where = first[ident]
            at = ""
            if where is not None:
                same = span is not None and where.file == span.file
                at = (
                    f" (first declared at line {where.line})"
                    if same
                    else f" (first declared at {where})"
                )
            out.append(
                diagnostic("E101", f"duplicate {kind} '{ident}'{at}", span, "ids must be unique")
            )
        else:
            first[ident] = span
    return set(first), out


def _declared(process: Process) -> _Declared:
    """The ids of each kind of declaration, checked for duplicates kind by kind."""
    departments, dup_departments = _unique(
        "department", [(d.id, d.where("id")) for d in process.departments]
    )
    roles, dup_roles = _unique("role", [(r.id, r.where("id")) for r in process.roles])
    _, dup_personas = _unique("persona", [(p.id, p.where("id")) for p in process.personas])
    nodes, dup_nodes = _unique(
        "stage or outcome",
        [(n.id, n.where("id")) for n in (*process.stages, *process.outcomes)],
    )
    _, dup_scenarios = _unique("scenario", [(s.name, s.where("name")) for s in process.scenarios])
    duplicates = [*dup_departments, *dup_roles, *dup_personas, *dup_nodes, *dup_scenarios]
    return _Declared(departments, roles, nodes, duplicates)


def _idle_rules(process: Process) -> list[Diagnostic]:
    """E507: one outcome takes the deals that go quiet (the builder reports it at parse time;
    this catches a model built in code)."""
    quiet = [o for o in process.outcomes if o.idle is not None]
    return [
        diagnostic(
            "E507",
            f"outcomes '{quiet[0].id}' and '{again.id}' both have an idle rule",
            again.where("idle"),
            "one outcome takes the deals that go quiet: keep one `idle`",
        )
        for again in quiet[1:]
    ]


def _keyword_ids(process: Process) -> list[Diagnostic]:
    """E112: a stage or outcome named like a keyword would make the file unreadable."""
    return [
        diagnostic(
            "E112",
            f"'{node.id}' is a keyword and cannot name a stage or outcome",
            node.where("id"),
            f"choose another id, e.g. '{node.id}_stage', and keep '{node.id}' as the label",
        )
        for node in process.iter_nodes()
        if node.id in KEYWORDS
    ]


def _unknown_departments(process: Process, departments: set[str]) -> list[Diagnostic]:
    """E103: a role in an undeclared department (a label used as an id is named as such)."""
    labels = {d.label: d.id for d in process.departments if d.label}
    return [
        diagnostic(
            "E103",
            f"unknown department '{role.department}'" + did_you_mean(role.department, departments),
            role.where("department"),
            _label_hint(role.department, labels, "department")
            or 'declare it with `department <id> "label"`',
        )
        for role in process.roles
        if role.department is not None and role.department not in departments
    ]


def _unknown_owners(process: Process, roles: set[str]) -> list[Diagnostic]:
    """E104: a stage or outcome owned by an undeclared role."""
    labels = {r.label: r.id for r in process.roles if r.label}
    return [
        diagnostic(
            "E104",
            f"unknown role '{node.owner}'" + did_you_mean(node.owner, roles),
            node.where("owner"),
            _label_hint(node.owner, labels, "role")
            or 'declare it with `role <id> "label" in <department> headcount <n>`',
        )
        for node in process.iter_nodes()
        if node.owner is not None and node.owner not in roles
    ]


def _transition_diagnostics(process: Process, nodes: set[str]) -> list[Diagnostic]:
    """E102 (unknown end), E105 (out of an outcome), E108 (the same transition twice)."""
    outcome_ids = {o.id for o in process.outcomes}
    out: list[Diagnostic] = []
    seen: dict[tuple[str, str, str | None], Span | None] = {}
    for t in process.transitions:
        out.extend(_unknown_ends(process, t, nodes))
        if t.source in outcome_ids:
            out.append(
                diagnostic(
                    "E105",
                    f"'{t.source}' is an outcome; outcomes end a deal and cannot lead anywhere",
                    t.where("source"),
                    "make it a stage if deals continue from it",
                )
            )
        key = (t.source, t.target, t.label)
        if key in seen:
            first = seen[key]
            at = f" (first at line {first.line})" if first else ""
            out.append(
                diagnostic(
                    "E108",
                    f"duplicate transition {t.source} -> {t.target}{at}",
                    t.span,
                    "merge them into one transition with the combined probability",
                )
            )
        else:
            seen[key] = t.span
    return out


def _unknown_ends(process: Process, t: Transition, nodes: set[str]) -> list[Diagnostic]:
    """E102 for a transition's source and target that name no stage or outcome."""
    return [
        diagnostic(
            "E102",
            f"unknown stage or outcome '{end}'" + did_you_mean(end, nodes),
            t.where(field),
            _node_label_hint(process, end) or "declare it with `stage <id>` or `outcome <id>`",
        )
        for end, field in ((t.source, "source"), (t.target, "target"))
        if end not in nodes
    ]


def _parallel_references(process: Process, nodes: set[str]) -> list[Diagnostic]:
    """E102 for a parallel block's source, branches and join that name no stage or outcome."""
    out: list[Diagnostic] = []
    for block in process.parallels:
        ends = [(block.source, "source")]
        ends += [(entry, f"branches.{i}") for i, entry in enumerate(block.branches)]
        ends.append((block.join, "join"))
        out.extend(
            diagnostic(
                "E102",
                f"unknown stage or outcome '{end}'" + did_you_mean(end, nodes),
                block.where(field) or block.span,
                _node_label_hint(process, end) or "declare it with `stage <id>` or `outcome <id>`",
            )
            for end, field in ends
            if end not in nodes
        )
    return out


def _node_label_hint(process: Process, word: str) -> str | None:
    """The hint for a stage or outcome referred to by its label (read only on an error)."""
    outcome_ids = {o.id for o in process.outcomes}
    labels = {n.label: n.id for n in process.iter_nodes() if n.label}
    label_kind = {
        n.label: "outcome" if n.id in outcome_ids else "stage"
        for n in process.iter_nodes()
        if n.label
    }
    return _label_hint(word, labels, label_kind.get(word, "stage"))


def _scenario_references(process: Process, roles: set[str]) -> list[Diagnostic]:
    """E403: a scenario that changes a role, stage or transition the process lacks."""
    stage_ids = {s.id for s in process.stages}
    edge_keys = {(t.source, t.target) for t in process.transitions}
    out: list[Diagnostic] = []
    for scenario in process.scenarios:
        for change in scenario.changes:
            if change.kind == "role" and change.role not in roles:
                out.append(
                    diagnostic(
                        "E403",
                        f"scenario '{scenario.name}' changes unknown role '{change.role}'"
                        + did_you_mean(change.role, roles),
                        change.where("role"),
                    )
                )
            elif change.kind == "duration" and change.stage not in stage_ids:
                out.append(
                    diagnostic(
                        "E403",
                        f"scenario '{scenario.name}' changes unknown stage '{change.stage}'"
                        + did_you_mean(change.stage, stage_ids),
                        change.where("stage"),
                    )
                )
            elif change.kind == "transition" and (change.source, change.target) not in edge_keys:
                out.append(
                    diagnostic(
                        "E403",
                        f"scenario '{scenario.name}' changes {change.source} -> {change.target}, "
                        "which is not a transition of the process",
                        change.span,
                        "a scenario can change the probability of an existing transition",
                    )
                )
    return out


def _start_diagnostics(process: Process) -> list[Diagnostic]:
    """Starts the entry mix cannot be read from: E107 (several starts, none with a share),
    E218 (starts with and without a share side by side).

    Parameters
    ----------
    process : Process
        The process whose ``start`` marks are checked.

    Returns
    -------
    list of Diagnostic
        One error per offending ``start``.
    """
    starts = [s for s in process.stages if s.start]
    shared = [s for s in starts if s.start_share is not None]
    if not shared:
        return [
            diagnostic(
                "E107",
                f"stage '{extra.id}' is marked start, but so is '{starts[0].id}'",
                extra.where("start"),
                "a process has one entry stage, or an entry mix: give every start a share, "
                "e.g. `start 30%`",
            )
            for extra in starts[1:]
        ]
    first, share = shared[0].id, (shared[0].start_share or 0.0) * 100
    return [
        diagnostic(
            "E218",
            f"stage '{s.id}' is marked start without a share, but '{first}' has one "
            f"(start {share:g}%)",
            s.where("start"),
            "in an entry mix every start has a share, together 100%",
        )
        for s in starts
        if s.start_share is None
    ]
