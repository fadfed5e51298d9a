"""Parallel work in a deal history: which activities overlap in time, and the blocks they form.

Discovery (:func:`flowsim.history.discover.discover`) writes a ``parallel`` block only when
the history shows it clearly:

* **Concurrency** is read from interval overlap within a deal: an activity instance runs
  from its start (``started_at``, else ``entered_at``) to its end (``left_at``). Two
  activities are *concurrent* when at least :data:`MIN_CASES` deals hold both and in at
  least :data:`OVERLAP_SHARE` of those an instance of one overlaps an instance of the other
  by a positive time. Records that only touch (one ends as the next starts, as a log of
  single timestamps reads) never overlap.
* A **block** is a connected group of concurrent activities whose *branches* (the groups
  of its activities that are not concurrent with each other) are pairwise fully
  concurrent: every activity of one branch is concurrent with every activity of another.
* The **source** is the stay that ends last before the block's first activity starts, and
  the **join** the first record (stage or outcome) that starts after its last one ends;
  each must be the same in at least :data:`CLEAR_SHARE` of the block's deals, and so must
  each branch's first activity.

Inside a branch the routes are the order of the branch's own activities in each deal. The
model with the block must pass the checks; otherwise discovery keeps the plain routes and
says why in its notes.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import networkx as nx
import polars as pl

if TYPE_CHECKING:
    from flowsim.model import Distribution, Process, Transition

__all__ = [
    "CLEAR_SHARE",
    "MIN_CASES",
    "OVERLAP_SHARE",
    "BlockFound",
    "concurrent_pairs",
    "find_blocks",
    "with_blocks",
]

#: deals that must hold both activities before their overlap is judged
MIN_CASES = 20
#: share of those deals where the two overlap in time for them to count as concurrent
OVERLAP_SHARE = 0.5
#: share of a block's deals that must agree on its source, its join and each branch's start
CLEAR_SHARE = 0.9


@dataclass(frozen=True)
class BlockFound:
    """A parallel block seen in the history (stage names as the log writes them)."""

    source: str
    #: per branch, its activities' order: (from, to) -> deals; to None: the branch ends there
    branches: tuple[tuple[str, dict[tuple[str, str | None], int]], ...]
    join: str
    deals: int
    #: per stage that ended a branch last (the branch the join waited for), the hours from
    #: its end to the join's start, one per deal
    end_gaps: dict[str, list[float]] = field(default_factory=dict)


def _intervals(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per finished activity instance: deal, stage, start, end (microseconds)."""
    return frame.select(
        "deal",
        "stage",
        pl.coalesce("started_at", "entered_at").dt.epoch("us").alias("start"),
        pl.col("left_at").dt.epoch("us").alias("end"),
    ).drop_nulls()


def concurrent_pairs(frame: pl.DataFrame, stages: list[str]) -> dict[tuple[str, str], float]:
    """Pairs of ``stages`` (a < b) that run concurrently, with the share of their deals
    where they overlap (see the module docstring)."""
    spans = _intervals(frame.filter(pl.col("stage").is_in(stages)))
    pairs = (
        spans.join(spans, on="deal", suffix="_b")
        .filter(pl.col("stage") < pl.col("stage_b"))
        .with_columns(
            overlap=(pl.col("start") < pl.col("end_b")) & (pl.col("start_b") < pl.col("end"))
        )
        .group_by("deal", "stage", "stage_b")
        .agg(pl.col("overlap").any())
        .group_by("stage", "stage_b")
        .agg(pl.len().alias("both"), pl.col("overlap").sum().alias("overlapping"))
    )
    out: dict[tuple[str, str], float] = {}
    for a, b, both, overlapping in pairs.iter_rows():
        share = overlapping / both
        if both >= MIN_CASES and share >= OVERLAP_SHARE:
            out[(a, b)] = share
    return out


def _groups(pairs: dict[tuple[str, str], float]) -> list[list[list[str]]]:
    """Candidate blocks: connected groups of concurrent activities, split into branches
    (the groups of mutually non-concurrent ones); only fully concurrent ones are kept."""
    graph = nx.Graph()
    graph.add_edges_from(pairs)
    out = []
    for component in sorted(nx.connected_components(graph), key=min):
        members = sorted(component)
        apart = nx.complement(graph.subgraph(members))
        branches = [sorted(b) for b in sorted(nx.connected_components(apart), key=min)]
        crossing = all(
            graph.has_edge(a, b)
            for i, x in enumerate(branches)
            for y in branches[i + 1 :]
            for a in x
            for b in y
        )
        if len(branches) >= 2 and crossing:
            out.append(branches)
    return out


def _clear(counts: Counter[str], total: int) -> str | None:
    """The value at least CLEAR_SHARE of ``total`` agree on, else None."""
    if not counts:
        return None
    value, n = counts.most_common(1)[0]
    return value if n >= CLEAR_SHARE * total else None


def find_blocks(frame: pl.DataFrame, stages: list[str], notes: list[str]) -> list[BlockFound]:
    """The parallel blocks the history shows clearly (the module docstring's rules)."""
    pairs = concurrent_pairs(frame, stages)
    if not pairs:
        return []
    spans = frame.select(
        "deal",
        "stage",
        pl.coalesce("started_at", "entered_at").dt.epoch("us").alias("start"),
        pl.col("left_at").dt.epoch("us").alias("end"),
        pl.col("entered_at").dt.epoch("us").alias("entered"),
    ).sort("deal", "start", "stage")
    by_deal = spans.partition_by("deal", as_dict=True, maintain_order=True)
    found = []
    for branches in _groups(pairs):
        block = _block(branches, [rows.rows() for rows in by_deal.values()])
        names = " | ".join(", ".join(b) for b in branches)
        if isinstance(block, str):
            notes.append(f"no parallel block for {names}: {block}")
            continue
        found.append(block)
    return found


Row = tuple[Any, ...]


def _block(branches: list[list[str]], deals: list[list[Row]]) -> BlockFound | str:
    """One candidate block read off every deal that holds it, or why it is not clear."""
    members = {s for b in branches for s in b}
    sources: Counter[str] = Counter()
    joins: Counter[str] = Counter()
    firsts: list[Counter[str]] = [Counter() for _ in branches]
    orders: list[Counter[tuple[str, str | None]]] = [Counter() for _ in branches]
    gaps: dict[str, list[float]] = {}
    n = 0
    for rows in deals:
        inside = [r for r in rows if r[1] in members]
        if not inside:
            continue
        n += 1
        begin = min(r[2] for r in inside)
        end = max(r[3] if r[3] is not None else r[2] for r in inside)
        before = [r for r in rows if r[1] not in members and r[3] is not None and r[3] <= begin]
        after = [r for r in rows if r[1] not in members and r[2] >= end]
        if before:
            sources[max(before, key=lambda r: r[3])[1]] += 1
        if after:
            joins[after[0][1]] += 1
            last = max(inside, key=lambda r: r[3] if r[3] is not None else r[2])
            # to the join's entry: its queue for a person is the simulation's own
            gaps.setdefault(last[1], []).append(max(0, after[0][4] - end) / 3.6e9)
        for i, branch in enumerate(branches):
            seq = [r[1] for r in inside if r[1] in branch]
            if seq:
                firsts[i][seq[0]] += 1
                orders[i].update(zip(seq, [*seq[1:], None], strict=True))
    source, join = _clear(sources, n), _clear(joins, n)
    if source is None or join is None:
        return f"the stage before it or after it differs between its {n} deals"
    with_source = sum(any(r[1] == source for r in rows) for rows in deals)
    if n < CLEAR_SHARE * with_source:
        return f"only {n} of the {with_source} deals through '{source}' go on into it"
    entries = [_clear(f, n) for f in firsts]
    if any(e is None for e in entries):
        return "a branch does not start at the same activity in its deals"
    ordered = tuple((str(entry), dict(order)) for entry, order in zip(entries, orders, strict=True))
    return BlockFound(source=source, branches=ordered, join=join, deals=n, end_gaps=gaps)


def with_blocks(
    process: Process,
    blocks: list[BlockFound],
    ids: dict[str, str],
    notes: list[str],
    fit: Callable[[list[float]], Distribution | None],
) -> Process:
    """``process`` with each block that keeps it sound (:func:`flowsim.check` without
    errors): the source forks into the branches, the branches' own order replaces the
    interleaved routes, and transitions into a branch from outside are left out.

    The stages that end a branch get their ``wait`` again (``fit``: hours -> the stated
    distribution): the time from their end to the join's start, read only in the deals
    whose join waited for their branch; in the others that time was the wait for another
    branch, which the simulation adds by itself at the join."""
    from flowsim.checks import check

    for block in blocks:
        names = " and ".join(f"'{entry}'" for entry, _ in block.branches)
        if block.source not in ids or block.join not in ids:
            notes.append(f"no parallel block for {names}: its source or join is not modelled")
            continue
        candidate = _apply(process, block, ids)
        errors = [d for d in check(candidate) if d.is_error]
        if errors:
            notes.append(
                f"no parallel block for {names}: with it the model fails its checks "
                f"({errors[0].code}: {errors[0].message})"
            )
            continue
        process = _join_waits(candidate, block, ids, fit, notes)
        notes.append(
            f"parallel block: after '{block.source}', {names} run at the same time "
            f"(their activities overlap in time in {block.deals} deals); "
            f"'{block.join}' waits for both"
        )
    return process


def _apply(process: Process, block: BlockFound, ids: dict[str, str]) -> Process:
    from flowsim.model import Parallel, Process

    source, join = ids[block.source], ids[block.join]
    members = {ids[a] for _, order in block.branches for a, _ in order}
    kept = [
        t
        for t in process.transitions
        if t.source != source and t.source not in members and t.target not in members
    ]
    added = [t for _, order in block.branches for t in _branch_routes(order, ids, join)]
    fork = Parallel(
        source=source, branches=tuple(ids[entry] for entry, _ in block.branches), join=join
    )
    fields = {name: getattr(process, name) for name in type(process).model_fields}
    fields.update(transitions=(*kept, *added), parallels=(*process.parallels, fork))
    return Process(**fields)


def _branch_routes(
    order: dict[tuple[str, str | None], int], ids: dict[str, str], join: str
) -> list[Transition]:
    """A branch's transitions from its activities' order; ending there goes to the join
    (no transition at all where the branch always ends). The largest takes the rest."""
    from flowsim.model import Transition

    by_source: dict[str, Counter[str]] = {}
    for (a, b), n in order.items():
        by_source.setdefault(ids[a], Counter())[join if b is None else ids[b]] += n
    out = []
    for source in sorted(by_source):
        counts = by_source[source]
        if set(counts) == {join}:
            continue  # a bare end: the branch always ends here
        total = sum(counts.values())
        ranked = sorted(counts, key=lambda t: (-counts[t], t))
        out += [
            Transition(source=source, target=t, probability=round(counts[t] / total, 3))
            for t in ranked[1:]
        ]
        out.append(Transition(source=source, target=ranked[0]))
    return out


def _join_waits(
    process: Process,
    block: BlockFound,
    ids: dict[str, str],
    fit: Callable[[list[float]], Distribution | None],
    notes: list[str],
) -> Process:
    """The branch ends' waits from the deals where the join waited for them (see
    :func:`with_blocks`); a branch end that never finished last gets no wait."""
    ends = {
        ids[a]: a
        for _, order in block.branches
        for (a, b), _n in order.items()
        if b is None and a in ids
    }
    stages = []
    for stage in process.stages:
        if stage.id in ends:
            gaps = block.end_gaps.get(ends[stage.id], [])
            wait = fit(gaps) if gaps and max(gaps) > 1 / 60 else None
            if wait != stage.wait:
                notes.append(
                    f"'{ends[stage.id]}' ends a branch: its wait is the time to "
                    f"'{block.join}' in the {len(gaps)} deals whose join waited for it "
                    "(in the others the deal was waiting for another branch)"
                )
            stage = stage.model_copy(update={"wait": wait})
        stages.append(stage)
    fields = {name: getattr(process, name) for name in type(process).model_fields}
    fields["stages"] = tuple(stages)
    return type(process)(**fields)
