"""Checks on a process model: is it sound, and is it a good process description?

Two layers, both pure functions of the model:

* :func:`structure_diagnostics` - names: duplicates, references to things that do not exist.
  A ``Process`` cannot be built while these fail (its validator calls this function, which
  lives below the model in :mod:`flowsim.structure`; re-exported here).
* :func:`check` - the flow: probabilities that add up, every stage reachable and able to reach
  an outcome, plus the method's advice (every stage has an owner, a goal and exit criteria).

Each finding has a stable code; docs/language.md lists them all.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING, NamedTuple

from flowsim.blocks import parallel_checks
from flowsim.diagnostics import Diagnostic, Span
from flowsim.dsl.keywords import KEYWORDS
from flowsim.model import PROBABILITY_TOLERANCE
from flowsim.structure import diagnostic as _diag
from flowsim.structure import structure_diagnostics

if TYPE_CHECKING:
    from flowsim.model import Process, Transition

__all__ = ["KEYWORDS", "check", "expected_visits", "structure_diagnostics"]

#: A loop whose stages are expected to be visited more often than this gets a warning.
MAX_EXPECTED_VISITS = 5.0


def _share_sum_checks(process: Process) -> list[Diagnostic]:
    """E217: the shares of an entry mix add up to 100% (within the transitions' tolerance).

    Parameters
    ----------
    process : Process
        A process whose starts all have a share, or none has (E218 covers the rest).

    Returns
    -------
    list of Diagnostic
        At most one error, at the first ``start`` with a share.
    """
    shared = [s for s in process.stages if s.start and s.start_share is not None]
    if not shared or len(shared) != sum(s.start for s in process.stages):
        return []
    total = math.fsum(s.start_share for s in shared if s.start_share is not None)
    if abs(total - 1) <= PROBABILITY_TOLERANCE + 1e-9:  # 1e-9: 99.5% is in
        return []
    missing = (1 - total) * 100
    names = ", ".join(f"'{s.id}'" for s in shared)
    return [
        _diag(
            "E217",
            f"the start shares of {names} add up to {total * 100:.4g}%, not 100%",
            shared[0].where("start"),
            f"add the missing {missing:.4g}% to a start"
            if missing > 0
            else "lower the shares to total 100%",
        )
    ]


def check(process: Process) -> list[Diagnostic]:
    """Every finding about a structurally sound process, errors first, then in file order.

    Parameters
    ----------
    process : Process
        A model (from :func:`load`, :func:`parse` or built in Python).

    Returns
    -------
    list of Diagnostic
        The errors (``E`` codes) and warnings (``W`` codes) of docs/language.md; empty when
        the process is clean.

    Raises
    ------
    None
        Findings are returned, never raised.

    Examples
    --------
    >>> import flowsim
    >>> flowsim.check(flowsim.load("examples/b2b-cn.flow"))
    []
    >>> lazy = flowsim.parse("role rep\\nstage a { owner rep }\\noutcome won\\na -> won\\n")
    >>> [d.code for d in flowsim.check(lazy)]
    ['W102', 'W103']
    """
    out = list(structure_diagnostics(process))
    if any(d.is_error for d in out):
        return out
    out.extend(_flow_checks(process))
    out.extend(_advice(process))
    out.extend(_scenario_checks(process))
    return _ordered(out)


def _ordered(diags: list[Diagnostic]) -> list[Diagnostic]:
    def key(d: Diagnostic) -> tuple[int, str, int, int, str]:
        s = d.span
        return (
            0 if d.is_error else 1,
            s.file if s else "",
            s.line if s else 0,
            s.column if s else 0,
            d.code,
        )

    return sorted(diags, key=key)


def _probability_checks(
    process: Process, context: str = "", at: Span | None = None
) -> list[Diagnostic]:
    """E211, E212 and W107 for the transitions out of each stage, in order of first transition.

    ``context`` prefixes the messages and ``at`` overrides the position, for a scenario's
    changed process (its findings point at the scenario, where the fix is made).
    """
    out: list[Diagnostic] = []
    by_source: dict[str, list[Transition]] = defaultdict(list)
    for t in process.transitions:
        by_source[t.source].append(t)
    for source, edges in by_source.items():
        out.extend(_source_probabilities(process, source, edges, context, at))
    return out


def _source_probabilities(
    process: Process, source: str, edges: list[Transition], context: str, at: Span | None
) -> list[Diagnostic]:
    """The probabilities out of one stage: one remainder at most, and together 100%."""
    remainder = [t for t in edges if t.probability is None]
    explicit = math.fsum(t.probability for t in edges if t.probability is not None)
    # Point at the transitions, where the fix is made (the stage may be far away).
    where = at or edges[0].span or source_span(process, source)
    if len(remainder) > 1:
        return [
            _diag(
                "E212",
                f"{context}'{source}' has {len(remainder)} transitions without a probability",
                at or t.span,
                "only one transition per stage may take the remainder; give the others a %",
            )
            for t in remainder[1:]
        ]
    if remainder:
        if explicit > 1 + 1e-9:
            return [
                _diag(
                    "E211",
                    f"{context}transitions from '{source}' already add up to "
                    f"{explicit * 100:g}%, leaving nothing for "
                    f"{source} -> {remainder[0].target}",
                    where,
                    "lower the percentages so they stay under 100%",
                )
            ]
        if explicit > 1 - 1e-9 and not context:
            return [
                _diag(
                    "W107",
                    f"transitions from '{source}' add up to 100% without "
                    f"{source} -> {remainder[0].target}, so it is never taken",
                    remainder[0].span,
                    "give it a probability or remove it",
                    warning=True,
                )
            ]
        return []
    if abs(explicit - 1) <= PROBABILITY_TOLERANCE + 1e-9:  # 1e-9: 99.5% is in
        return []
    missing = (1 - explicit) * 100
    hint = (
        f"add the missing {missing:.4g}% or leave one transition without a probability "
        "so it takes the remainder"
        if missing > 0
        else "lower the percentages to total 100%"
    )
    return [
        _diag(
            "E211",
            f"{context}transitions from '{source}' add up to {explicit * 100:.4g}%, not 100%",
            where,
            hint,
        )
    ]


def source_span(process: Process, node_id: str) -> Span | None:
    try:
        return process.node(node_id).where("id")
    except KeyError:
        return None


class _Flow(NamedTuple):
    """The designed flow as adjacency lists both ways, with the ids the flow checks compare.

    Built once so the reachability rules (E213, E214, E215, W109) read the same graph.
    """

    succ: dict[str, list[str]]
    pred: dict[str, list[str]]
    stage_ids: list[str]
    outcome_ids: set[str]


def _flow(process: Process) -> _Flow:
    """The transitions of ``process`` as successor and predecessor lists."""
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for source, target in process.routes():
        succ[source].append(target)
        pred[target].append(source)
    return _Flow(succ, pred, [s.id for s in process.stages], {o.id for o in process.outcomes})


def _flow_checks(process: Process) -> list[Diagnostic]:
    """The flow's soundness: something to do, ways out, reachable, finishable, bounded loops.

    The expected-visits rules run only on an otherwise sound flow: on a broken one the
    Markov chain they solve is not meaningful, and the errors already say what to fix.
    """
    if not process.stages:
        return [
            _diag(
                "E109",
                "the process has no stages",
                process.span,
                'declare at least one `stage <id> "label"`',
            )
        ]
    out = _no_outcome(process)
    out.extend(_probability_checks(process))
    out.extend(_share_sum_checks(process))
    out.extend(parallel_checks(process))
    flow = _flow(process)
    dead_ends = {s for s in flow.stage_ids if not flow.succ[s]}
    out.extend(_dead_end_checks(process, flow.stage_ids, dead_ends))
    out.extend(_reach_checks(process, flow))
    out.extend(_trapped_checks(process, flow, dead_ends))
    if not any(d.is_error for d in out):
        out.extend(_visit_checks(process, flow.outcome_ids))
    return out


def _no_outcome(process: Process) -> list[Diagnostic]:
    """E110: without an outcome no deal can end (the simulation would never finish one)."""
    if process.outcomes:
        return []
    return [
        _diag(
            "E110",
            "the process has no outcome, so no deal can ever end",
            process.span or process.stages[0].span,
            'declare where deals end, e.g. `outcome won "Won"` and `outcome lost "Lost"`',
        )
    ]


def _dead_end_checks(
    process: Process, stage_ids: list[str], dead_ends: set[str]
) -> list[Diagnostic]:
    """E213: a stage without transitions out would hold its deals for ever."""
    return [
        _diag(
            "E213",
            f"stage '{sid}' has no way out",
            source_span(process, sid),
            f"add transitions, e.g. `{sid} -> <next> 60%` and `{sid} -> lost`",
        )
        for sid in stage_ids
        if sid in dead_ends
    ]


def _reach_checks(process: Process, flow: _Flow) -> list[Diagnostic]:
    """E214 (stage) and W109 (outcome): nodes no deal can reach from the entry stages."""
    entries = [s.id for s, _ in process.entries]
    reachable = _walk(entries, flow.succ)
    origin = (
        f"the entry stage '{entries[0]}'"
        if len(entries) == 1
        else "the entry stages " + ", ".join(f"'{e}'" for e in entries)
    )
    out: list[Diagnostic] = []
    for node in process.iter_nodes():
        if node.id not in reachable:
            is_stage = node.id not in flow.outcome_ids
            out.append(
                _diag(
                    "E214" if is_stage else "W109",
                    f"{'stage' if is_stage else 'outcome'} '{node.id}' cannot be reached from "
                    f"{origin}",
                    node.where("id"),
                    f"add a transition into '{node.id}', or remove it",
                    warning=not is_stage,
                )
            )
    return out


def _trapped_checks(process: Process, flow: _Flow, dead_ends: set[str]) -> list[Diagnostic]:
    """E215: stages from which no path leads to an outcome (dead ends are E213 already)."""
    if not flow.outcome_ids:
        return []
    can_finish = _walk(list(flow.outcome_ids), flow.pred)
    trapped = [s for s in flow.stage_ids if s not in can_finish and s not in dead_ends]
    names = ", ".join(trapped[:6]) + (", ..." if len(trapped) > 6 else "")
    return [
        _diag(
            "E215",
            f"deals in '{sid}' can never reach an outcome (trapped in a loop: {names})",
            source_span(process, sid),
            "add a way out of the loop, e.g. a transition to an outcome",
        )
        for sid in trapped
    ]


def _visit_checks(process: Process, outcome_ids: set[str]) -> list[Diagnostic]:
    """E215 for loops whose every exit has 0%, W105 for loops a deal runs more than 5 times.

    Both read the expected visits of the absorbing Markov chain: infinite means no way out.
    """
    visits = expected_visits(process)
    stuck = [n for n, v in visits.items() if math.isinf(v) and n not in outcome_ids]
    out = [
        _diag(
            "E215",
            f"deals in '{node_id}' can never reach an outcome: every way out of its "
            "loop has probability 0%",
            source_span(process, node_id),
            "give a transition out of the loop a probability above 0%",
        )
        for node_id in stuck
    ]
    for node_id, v in visits.items():
        if node_id in stuck:
            continue
        if v > MAX_EXPECTED_VISITS and node_id not in outcome_ids:
            out.append(
                _diag(
                    "W105",
                    f"a deal is expected to visit '{node_id}' {v:.1f} times "
                    f"(more than {MAX_EXPECTED_VISITS:g}): the rework loop is very likely",
                    source_span(process, node_id),
                    "check the loop's probabilities",
                    warning=True,
                )
            )
    return out


def _walk(starts: list[str], adj: dict[str, list[str]]) -> set[str]:
    seen = set(starts)
    todo = list(starts)
    while todo:
        node = todo.pop()
        for nxt in adj.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def expected_visits(process: Process) -> dict[str, float]:
    """Expected number of times one deal enters each stage/outcome (an absorbing Markov chain).

    A deal starts at each entry stage with its share of the entry mix.

    Solves ``v = e + v Q`` strongly connected component by component in topological order,
    so only loops cost a dense solve and a long acyclic funnel stays linear.
    """
    import networkx as nx

    g = nx.DiGraph()
    nodes = [n.id for n in process.iter_nodes()]
    g.add_nodes_from(nodes)
    prob = _route_probabilities(process)
    g.add_edges_from(prob)
    visits = dict.fromkeys(nodes, 0.0)
    if not process.entries:
        return visits
    inflow = dict.fromkeys(nodes, 0.0)
    total = math.fsum(share for _, share in process.entries)
    for stage, share in process.entries:  # a mix: each entry gets its share of the deals
        inflow[stage.id] += share / total
    order = {n: i for i, n in enumerate(nodes)}
    cond = nx.condensation(g)
    for comp in nx.topological_sort(cond):
        members = sorted(cond.nodes[comp]["members"], key=order.__getitem__)
        if len(members) == 1 and (members[0], members[0]) not in prob:
            v = {members[0]: inflow[members[0]]}
        else:
            member_set = set(members)
            inner = {
                (a, b): prob[(a, b)] for a in members for b in g.successors(a) if b in member_set
            }
            v = _solve_component(members, inner, inflow)
        for node, value in v.items():
            visits[node] = value
            for nxt in g.successors(node):
                if nxt not in v:
                    inflow[nxt] += value * prob[(node, nxt)]
    return visits


def _route_probabilities(process: Process) -> dict[tuple[str, str], float]:
    """The chance a deal leaving a node takes each route, for :func:`expected_visits`.

    A fork sends the deal into every branch (1 each). Branch ``i`` finishes (reaches its
    end rather than an outcome) with probability ``p_i``, independently of the others (its
    own routing draws), and the deal reaches the join when all do: ``prod(p)`` per fork.
    So each branch's ways to the join are weighted by ``prod(p) / (n p_i)``: the join gets
    exactly ``prod(p)`` per fork. (The branch stages' own visits are an upper bound when an
    outcome inside a branch can stop the others early.)
    """
    prob: dict[tuple[str, str], float] = defaultdict(float)
    for stage in process.stages:
        for t, p in process.outgoing(stage.id):
            prob[(t.source, t.target)] += p
    for block in process.parallels:
        regions = process.branch_stages(block)
        finish = [
            _finish_probability(process, block.join, e, r)
            for e, r in zip(block.branches, regions, strict=True)
        ]
        everyone = math.prod(finish)
        for entry, region, p_i in zip(block.branches, regions, finish, strict=True):
            prob[(block.source, entry)] += 1.0
            weight = everyone / (len(block.branches) * p_i) if p_i > 0 else 0.0
            for sid in region:
                if not process.outgoing(sid):
                    prob[(sid, block.join)] += weight
                elif (sid, block.join) in prob:
                    prob[(sid, block.join)] *= weight
    return prob


def _finish_probability(process: Process, join: str, entry: str, region: frozenset[str]) -> float:
    """The chance a branch entered at ``entry`` reaches its end (not an outcome): the
    absorbing chain of its stages, absorbed by the join (bare ends go there) or outcomes."""
    import numpy as np

    members = sorted(region)
    at = {sid: i for i, sid in enumerate(members)}
    q = np.zeros((len(members), len(members)))
    done = np.zeros(len(members))
    for sid in members:
        edges = process.outgoing(sid)
        if not edges:
            done[at[sid]] = 1.0
        for t, p in edges:
            if t.target == join:
                done[at[sid]] += p
            elif t.target in at:
                q[at[sid], at[t.target]] += p
    try:
        reach = np.linalg.solve(np.eye(len(members)) - q, done)
    except np.linalg.LinAlgError:  # a loop with no way out: E215 reports it
        return 0.0
    return float(min(1.0, max(0.0, reach[at[entry]])))


def _solve_component(
    members: list[str], prob: dict[tuple[str, str], float], inflow: dict[str, float]
) -> dict[str, float]:
    """Solve v (I - Q) = b on one loop by Gaussian elimination (components are small)."""
    n = len(members)
    idx = {m: i for i, m in enumerate(members)}
    # Transposed system: (I - Q)^T v = b
    a = [[0.0] * (n + 1) for _ in range(n)]
    for i, m in enumerate(members):
        a[i][i] = 1.0
        a[i][n] = inflow[m]
    for (src, dst), p in prob.items():
        if src in idx and dst in idx:
            a[idx[dst]][idx[src]] -= p
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-12:
            return dict.fromkeys(members, math.inf)
        a[col], a[pivot] = a[pivot], a[col]
        piv = a[col][col]
        for r in range(n):
            if r != col and a[r][col] != 0.0:
                f = a[r][col] / piv
                row, prow = a[r], a[col]
                for c in range(col, n + 1):
                    row[c] -= f * prow[c]
    return {m: a[i][n] / a[i][i] for i, m in enumerate(members)}


def _advice(process: Process) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    for stage in process.stages:
        at = stage.where("id")
        if stage.owner is None:
            out.append(
                _diag(
                    "W101",
                    f"stage '{stage.id}' has no owner",
                    at,
                    "say who does the work: `owner <role>`",
                    warning=True,
                )
            )
        if not stage.goals:
            out.append(
                _diag(
                    "W102",
                    f"stage '{stage.id}' has no goal",
                    at,
                    'say what the stage is for: `goal "..."`',
                    warning=True,
                )
            )
        if not stage.exits:
            out.append(
                _diag(
                    "W103",
                    f"stage '{stage.id}' has no exit criteria",
                    at,
                    'say when a deal may leave it: `exit "..."`',
                    warning=True,
                )
            )
        for tp in stage.touchpoints:
            if tp.emotion is not None and not 1 <= tp.emotion <= 5:
                out.append(
                    _diag(
                        "W104",
                        f"touchpoint '{tp.name}' has emotion {tp.emotion:g}, outside 1-5",
                        tp.where("emotion"),
                        "emotion is scored 1 (very unhappy) to 5 (delighted)",
                        warning=True,
                    )
                )
    owners = {n.owner for n in process.iter_nodes() if n.owner}
    for role in process.roles:
        if role.id not in owners:
            out.append(
                _diag(
                    "W106",
                    f"role '{role.id}' owns no stage",
                    role.where("id"),
                    "make it the owner of a stage, or remove it",
                    warning=True,
                )
            )
    return out


def _scenario_checks(process: Process) -> list[Diagnostic]:
    from flowsim.scenario import apply_scenario

    out: list[Diagnostic] = []
    for scenario in process.scenarios:
        for change in scenario.changes:
            if change.kind == "duration" and change.factor is not None:
                stage = process.node(change.stage)
                if getattr(stage, change.field, None) is None:
                    out.append(
                        _diag(
                            "W110",
                            f"scenario '{scenario.name}' scales the {change.field} of "
                            f"'{change.stage}', which has none, so it changes nothing",
                            change.span,
                            f"give '{change.stage}' a {change.field} or set one in the scenario",
                            warning=True,
                        )
                    )
        changed = apply_scenario(process, scenario.name)
        touched = [c for c in scenario.changes if c.kind == "transition"]
        at = touched[0].span if touched else scenario.span
        out.extend(
            d
            for d in _probability_checks(changed, f"in scenario '{scenario.name}': ", at)
            if d.is_error
        )
    return out
