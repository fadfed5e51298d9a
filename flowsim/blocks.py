"""Checks of parallel blocks (``a -> parallel { b, c } -> d``): E219 to E222.

A block is well formed when:

* its source is a stage whose only way out is the fork, forking once (E219);
* it has two branches or more, each starting at a distinct stage that is not the source
  or the join (E220);
* each branch keeps to itself: its stages lead only to stages of the same branch, to the
  join (the branch is done) or to outcomes (which end the whole deal), and no transition
  from outside enters it (E221);
* each branch can end: some stage of it has no transition out or one to the join, and no
  stage of it forks again (blocks do not nest, E222).

Probabilities inside branches are the ordinary transition checks (E211, E212).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowsim.diagnostics import Diagnostic
from flowsim.structure import diagnostic

if TYPE_CHECKING:
    from flowsim.model import Parallel, Process

__all__ = ["parallel_checks"]


def parallel_checks(process: Process) -> list[Diagnostic]:
    """E219-E222 for every parallel block of ``process`` (see the module docstring)."""
    out: list[Diagnostic] = []
    forked: set[str] = set()
    for block in process.parallels:
        found = _source_checks(process, block, forked) + _branch_checks(process, block)
        forked.add(block.source)
        if not found:
            found = _escape_checks(process, block) + _end_checks(process, block)
        out.extend(found)
    return out


def _source_checks(process: Process, block: Parallel, forked: set[str]) -> list[Diagnostic]:
    """E219: the source is a stage, forks once, and has no other way out."""
    at = block.where("source") or block.span
    stage_ids = {s.id for s in process.stages}
    if block.source not in stage_ids:
        problem, hint = "is an outcome, and an outcome ends the deal", "fork from a stage"
    elif block.source in forked:
        problem, hint = "forks twice", "merge the two blocks into one with all the branches"
    elif process.outgoing(block.source):
        problem = "forks into a parallel block and also has transitions"
        hint = "the fork is the stage's only way out: move the other routes to a stage before it"
    else:
        return []
    return [diagnostic("E219", f"'{block.source}' {problem}", at, hint)]


def _branch_checks(process: Process, block: Parallel) -> list[Diagnostic]:
    """E220: two branches or more, each starting at its own stage."""
    out: list[Diagnostic] = []
    if len(block.branches) < 2:
        out.append(
            diagnostic(
                "E220",
                f"the parallel block after '{block.source}' has one branch",
                block.span,
                "a block needs two branches or more; for one, write plain transitions",
            )
        )
    stage_ids = {s.id for s in process.stages}
    seen: set[str] = set()
    for i, entry in enumerate(block.branches):
        problem = None
        if entry not in stage_ids:
            problem = "is an outcome; a branch starts at a stage"
        elif entry in seen:
            problem = "starts two branches"
        elif entry in (block.source, block.join):
            problem = "is the block's own source or join"
        seen.add(entry)
        if problem is not None:
            at = block.where(f"branches.{i}") or block.span
            out.append(
                diagnostic("E220", f"'{entry}' {problem}", at, "start each branch at a new stage")
            )
    return out


def _escape_checks(process: Process, block: Parallel) -> list[Diagnostic]:
    """E221: transitions that leave a branch for a stage of the flow, or enter it."""
    regions = process.branch_stages(block)
    outcomes = {o.id for o in process.outcomes}
    owner = {sid: i for i, region in enumerate(regions) for sid in region}
    out: list[Diagnostic] = []
    for t in process.transitions:
        src, dst = owner.get(t.source), owner.get(t.target)
        if src is not None and dst != src and t.target not in outcomes | {block.join}:
            message = (
                f"branch '{block.branches[src]}' of the parallel block after '{block.source}' "
                f"leaves it: {t.source} -> {t.target}"
            )
            hint = (
                f"a branch ends at a stage with no transition out or by one to '{block.join}' "
                "(the join); besides those, only an outcome may end it"
            )
        elif dst is not None and src != dst and t.target != block.branches[dst]:
            message = (
                f"{t.source} -> {t.target} enters branch '{block.branches[dst]}' of the "
                f"parallel block after '{block.source}' from outside"
            )
            hint = "a deal enters a branch only through the fork at its first stage"
        elif dst is not None and src != dst:
            message = (
                f"{t.source} -> {t.target} enters the first stage of a branch of the parallel "
                f"block after '{block.source}' from outside"
            )
            hint = "a deal enters a branch only through the fork"
        else:
            continue
        out.append(diagnostic("E221", message, t.span, hint))
    return out


def _end_checks(process: Process, block: Parallel) -> list[Diagnostic]:
    """E222: every branch has an end, and no stage in it forks again (no nesting)."""
    out: list[Diagnostic] = []
    for entry, region, ends in zip(
        block.branches, process.branch_stages(block), process.branch_ends(block), strict=True
    ):
        at = block.where(f"branches.{block.branches.index(entry)}") or block.span
        nested = sorted(sid for sid in region if process.fork_at(sid) is not None)
        if nested:
            message = f"branch '{entry}' forks again at '{nested[0]}': blocks do not nest"
            hint = "put the inner branches into the outer block, or join before forking again"
        elif not ends:
            message = f"branch '{entry}' never ends: no stage of it leads to the join"
            hint = (
                f"end it with a transition to '{block.join}' (the join), or leave its last "
                "stage without transitions"
            )
        else:
            continue
        out.append(diagnostic("E222", message, at, hint))
    return out
