"""Edits of a ``.flow`` text made from a picture: a change of the model, written back as text.

Each edit (:class:`AddStage`, :class:`AddTransition`, :class:`RemoveTransition`,
:class:`SetProbability`, :class:`SetOwner`, :class:`SetHeadcount`) is first applied to the
model, then written into the text by replacing only the source of what changed, with the
formatter's spelling of the new declaration (:func:`flowsim.dsl.formatter.format_node`):
every other byte (comments, blank lines, the order and layout of untouched declarations)
stays as the author wrote it. :func:`apply_edit` then checks the new text as ``flowsim check``
does and compares its model with the intended one; an edit that would not give it is
refused (:class:`EditError`), never written half right.

>>> from flowsim.edit import SetProbability, apply_edit
>>> text = "stage a \\"A\\" { effort 1h }\\noutcome won \\"Won\\"\\noutcome lost \\"Lost\\"\\n"
>>> text += "a -> won 40%  # most are lost\\na -> lost\\n"
>>> print(apply_edit(text, SetProbability("a", "won", 0.25)).splitlines()[3])
a -> won 25%  # most are lost
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from flowsim.api import check_text
from flowsim.diagnostics import Span
from flowsim.dsl.formatter import format_node
from flowsim.errors import FlowsimError
from flowsim.model import Process, Stage, Transition

__all__ = [
    "AddStage",
    "AddTransition",
    "Edit",
    "EditError",
    "RemoveTransition",
    "SetHeadcount",
    "SetOwner",
    "SetProbability",
    "apply_edit",
]

_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class EditError(FlowsimError, ValueError):
    """The edit cannot be made: the text has errors, or it names what the model lacks."""


@dataclass(frozen=True)
class AddStage:
    """A new stage right after ``after``: it takes over ``after``'s transitions, and
    ``after -> id`` leads into it. Owned by ``after``'s owner; written after its block."""

    after: str
    id: str
    label: str | None = None


@dataclass(frozen=True)
class AddTransition:
    """``source -> target`` (with ``probability`` when given), after source's other arrows."""

    source: str
    target: str
    probability: float | None = None


@dataclass(frozen=True)
class RemoveTransition:
    """Remove the (first) ``source -> target``."""

    source: str
    target: str


@dataclass(frozen=True)
class SetProbability:
    """Set (``None``: clear, the rest of the stage's share) the probability of an arrow."""

    source: str
    target: str
    probability: float | None


@dataclass(frozen=True)
class SetOwner:
    """Make ``role`` the owner of ``stage``."""

    stage: str
    role: str


@dataclass(frozen=True)
class SetHeadcount:
    """Set the headcount of ``role``."""

    role: str
    headcount: int


Edit = AddStage | AddTransition | RemoveTransition | SetProbability | SetOwner | SetHeadcount


class _Text:
    """The text with edits by span; applied from the end so earlier offsets stay valid."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0]
        for line in text.splitlines(keepends=True):
            self.starts.append(self.starts[-1] + len(line))
        self.patches: list[tuple[int, int, str]] = []

    def offset(self, line: int, column: int) -> int:
        return self.starts[line - 1] + column - 1

    def replace(self, span: Span, new: str) -> None:
        start = self.offset(span.line, span.column)
        self.patches.append((start, self.offset(span.end_line, span.end_column), new))

    def insert_after_line(self, line: int, new: str) -> None:
        at = self.starts[min(line, len(self.starts) - 1)]
        prefix = "" if at == 0 or self.text[at - 1] == "\n" else "\n"
        self.patches.append((at, at, prefix + new))

    def delete_statement(self, span: Span) -> None:
        """Remove the statement; its whole line when nothing else is on it."""
        start, end = (
            self.offset(span.line, span.column),
            self.offset(span.end_line, span.end_column),
        )
        line_start, line_end = self.starts[span.line - 1], self.starts[span.end_line]
        if not (self.text[line_start:start] + self.text[end:line_end]).strip():
            start, end = line_start, line_end
        self.patches.append((start, end, ""))

    def result(self) -> str:
        out = self.text
        for start, end, new in sorted(self.patches, key=lambda p: (p[0], p[1]), reverse=True):
            out = out[:start] + new + out[end:]
        return out


def _build(text: str, filename: str) -> Process | str:
    """The model of ``text``, or its first error (as ``flowsim check`` reports it)."""
    result = check_text(text, filename)
    if result.process is None or result.errors:
        return str(result.errors[0]) if result.errors else "the text has errors"
    return result.process


def _parse(text: str, filename: str) -> Process:
    process = _build(text, filename)
    if isinstance(process, str):
        raise EditError(f"the text has errors; fix them first ({process})")
    return process


def _span(node: Any, filename: str, field: str | None = None) -> Span:
    span: Span | None = node.field_spans.get(field) if field else node.span
    if span is None or span.file != filename:
        raise EditError(f"{_name(node)} is not written in this file: edit it where it is")
    return span


def _name(node: Any) -> str:
    if isinstance(node, Transition):
        return f"{node.source} -> {node.target}"
    return f"{type(node).__name__.lower()} {node.id!r}"


def _transition(p: Process, source: str, target: str) -> Transition:
    for t in p.transitions:
        if (t.source, t.target) == (source, target):
            return t
    raise EditError(f"there is no transition {source} -> {target}")


def _stage(p: Process, stage_id: str) -> Stage:
    for s in p.stages:
        if s.id == stage_id:
            return s
    raise EditError(f"there is no stage {stage_id!r}")


def _swap(items: tuple[Any, ...], old: Any, new: Any) -> tuple[Any, ...]:
    return tuple(new if x is old else x for x in items)


def _with(p: Process, **changes: Any) -> Process:
    """``p`` with new tuples of declarations (validated again, as the builder would)."""
    return Process.model_validate(p.model_dump(exclude={"comments"}) | changes)


def _set_probability(p: Process, e: SetProbability, text: _Text, f: str) -> Process:
    old = _transition(p, e.source, e.target)
    new = old.model_copy(update={"probability": e.probability})
    text.replace(_span(old, f), format_node(new))
    return _with(p, transitions=_swap(p.transitions, old, new))


def _remove_transition(p: Process, e: RemoveTransition, text: _Text, f: str) -> Process:
    old = _transition(p, e.source, e.target)
    text.delete_statement(_span(old, f))
    return _with(p, transitions=tuple(t for t in p.transitions if t is not old))


def _add_transition(p: Process, e: AddTransition, text: _Text, f: str) -> Process:
    source = _stage(p, e.source)
    if e.target not in {n.id for n in p.iter_nodes()}:
        raise EditError(f"there is no stage or outcome {e.target!r}")
    new = Transition(source=e.source, target=e.target, probability=e.probability)
    before = [t for t in p.transitions if t.source == e.source and t.span and t.span.file == f]
    line = (before[-1].span or _span(source, f)).end_line if before else _span(source, f).end_line
    text.insert_after_line(line, format_node(new) + "\n")
    return _with(p, transitions=(*p.transitions, new))


def _set_owner(p: Process, e: SetOwner, text: _Text, f: str) -> Process:
    stage = _stage(p, e.stage)
    if e.role not in {r.id for r in p.roles}:
        raise EditError(f"there is no role {e.role!r}")
    new = stage.model_copy(update={"owner": e.role})
    if "owner" in stage.field_spans:  # just the role's name: the rest of the block untouched
        text.replace(_span(stage, f, "owner"), e.role)
    else:
        text.replace(_span(stage, f), format_node(new))
    return _with(p, stages=_swap(p.stages, stage, new))


def _set_headcount(p: Process, e: SetHeadcount, text: _Text, f: str) -> Process:
    role = next((r for r in p.roles if r.id == e.role), None)
    if role is None:
        raise EditError(f"there is no role {e.role!r}")
    new = role.model_copy(update={"headcount": e.headcount})
    if "headcount" in role.field_spans:
        text.replace(_span(role, f, "headcount"), f"headcount {e.headcount}")
    else:
        text.replace(_span(role, f), format_node(new))
    return _with(p, roles=_swap(p.roles, role, new))


def _add_stage(p: Process, e: AddStage, text: _Text, f: str) -> Process:
    after = _stage(p, e.after)
    if not _ID.fullmatch(e.id) or e.id in {n.id for n in p.iter_nodes()}:
        raise EditError(f"{e.id!r} cannot be the new stage's id: taken, or not an id")
    stage = Stage(id=e.id, label=e.label, owner=after.owner)
    moved = []
    for t in p.transitions:
        if t.source == e.after:
            text.replace(_span(t, f, "source"), e.id)
            t = t.model_copy(update={"source": e.id})
        moved.append(t)
    into = Transition(source=e.after, target=e.id)
    block = f"\n{format_node(stage)}\n{format_node(into)}\n"
    text.insert_after_line(_span(after, f).end_line, block)
    i = p.stages.index(after) + 1
    return _with(p, stages=(*p.stages[:i], stage, *p.stages[i:]), transitions=(*moved, into))


_EDITS: dict[type, Any] = {
    SetProbability: _set_probability,
    RemoveTransition: _remove_transition,
    AddTransition: _add_transition,
    SetOwner: _set_owner,
    SetHeadcount: _set_headcount,
    AddStage: _add_stage,
}


def _canonical(p: Process) -> Any:
    """The model as data, declarations in any order (an edit may write one elsewhere)."""
    data = p.semantic_dump()
    for key, value in data.items():
        if isinstance(value, list):
            data[key] = sorted(value, key=lambda v: json.dumps(v, sort_keys=True))
    return data


def apply_edit(text: str, edit: Edit, filename: str = "<string>") -> str:
    """``text`` with ``edit`` made, everything else kept byte for byte.

    Raises :class:`EditError` when the text has errors, the edit names something the model
    lacks (or that an included file declares), or the model it gives would be invalid.
    """
    process = _parse(text, filename)
    patched = _Text(text)
    try:
        intended = _EDITS[type(edit)](process, edit, patched, filename)
    except ValueError as err:  # pydantic: the edited model is not a valid one
        if isinstance(err, EditError):
            raise
        raise EditError(f"that edit gives an invalid model: {err}") from None
    new_text = patched.result()
    result = _build(new_text, filename)
    if isinstance(result, str):
        raise EditError(f"that edit would make the text invalid ({result})")
    if _canonical(result) != _canonical(intended):
        raise EditError("that edit cannot be written without changing more than it says")
    return new_text
