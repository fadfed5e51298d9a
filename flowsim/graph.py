"""The process as a networkx graph: one typed ``MultiDiGraph`` for every graph question.

Node keys: stages and outcomes use their id (``"contact"``), so algorithms on the flow read
naturally; the other kinds are prefixed, because ids only need to be unique per kind:
``"role:rep"``, ``"department:sales"``, ``"persona:buyer"``, ``"touchpoint:contact:0"``.
Every node has ``kind`` (stage, outcome, role, department, persona, touchpoint), ``id`` and
``label``; a stage also has ``entry`` (deals enter there) and ``entry_share`` (its share of
the entry mix, 0.0 when it is no entry); every edge has ``kind``:

========== ============================ ===================================================
kind       from -> to                   attributes
========== ============================ ===================================================
flow       stage -> stage/outcome       probability (resolved), remainder, label, order
owned_by   stage/outcome -> role
member_of  role -> department
at         touchpoint -> stage          index, channel, emotion
========== ============================ ===================================================

The graph is frozen (read-only) because the model it comes from is immutable.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import networkx as nx

if TYPE_CHECKING:
    from flowsim.model import Process

__all__ = ["build_graph", "department_key", "flow_subgraph", "role_key"]


def role_key(role_id: str) -> str:
    return f"role:{role_id}"


def department_key(dept_id: str) -> str:
    return f"department:{dept_id}"


def build_graph(process: Process) -> nx.MultiDiGraph[Any]:
    """Build the typed graph of ``process`` (see the module docstring for the schema)."""
    g: nx.MultiDiGraph[Any] = nx.MultiDiGraph(name=process.name)
    shares = {stage.id: share for stage, share in process.entries}
    for dept in process.departments:
        g.add_node(department_key(dept.id), kind="department", id=dept.id, label=dept.display)
    for role in process.roles:
        key = role_key(role.id)
        g.add_node(key, kind="role", id=role.id, label=role.display, headcount=role.headcount)
        if role.department is not None:
            g.add_edge(key, department_key(role.department), kind="member_of")
    for persona in process.personas:
        g.add_node(f"persona:{persona.id}", kind="persona", id=persona.id, label=persona.display)
    for order, stage in enumerate(process.stages):
        g.add_node(
            stage.id,
            kind="stage",
            id=stage.id,
            label=stage.display,
            order=order,
            entry=stage.id in shares,
            entry_share=shares.get(stage.id, 0.0),
            owner=stage.owner,
        )
        if stage.owner is not None:
            g.add_edge(stage.id, role_key(stage.owner), kind="owned_by")
        for i, tp in enumerate(stage.touchpoints):
            tkey = f"touchpoint:{stage.id}:{i}"
            g.add_node(
                tkey,
                kind="touchpoint",
                id=tkey,
                label=tp.name,
                channel=tp.channel,
                emotion=tp.emotion,
            )
            g.add_edge(tkey, stage.id, kind="at", index=i, channel=tp.channel, emotion=tp.emotion)
    for order, outcome in enumerate(process.outcomes):
        g.add_node(
            outcome.id,
            kind="outcome",
            id=outcome.id,
            label=outcome.display,
            order=order,
            result=outcome.result,
            owner=outcome.owner,
        )
        if outcome.owner is not None:
            g.add_edge(outcome.id, role_key(outcome.owner), kind="owned_by")
    order = 0
    for stage in process.stages:
        for t, p in process.outgoing(stage.id):
            g.add_edge(
                t.source,
                t.target,
                kind="flow",
                probability=p,
                remainder=t.probability is None,
                label=t.label,
                order=order,
            )
            order += 1
    return nx.freeze(g)


def flow_subgraph(g: nx.MultiDiGraph[Any]) -> nx.MultiDiGraph[Any]:
    """Stages, outcomes and ``flow`` edges only (a new, frozen graph)."""
    flow: nx.MultiDiGraph[Any] = nx.MultiDiGraph(name=g.graph.get("name"))
    flow.add_nodes_from((n, d) for n, d in g.nodes(data=True) if d["kind"] in ("stage", "outcome"))
    flow.add_edges_from(
        (u, v, k, d) for u, v, k, d in g.edges(keys=True, data=True) if d["kind"] == "flow"
    )
    return nx.freeze(flow)


def back_edges(process: Process) -> set[tuple[str, str]]:
    """Transitions that go back in the flow (rework loops), as (source, target) pairs.

    An edge ``a -> b`` goes back when both lie on one loop (the same strongly connected
    component) and ``b`` comes no later than ``a`` by (breadth-first distance from the entry,
    declaration order). Keeping only edges that move later makes every loop acyclic, and,
    unlike a depth-first walk, the answer does not depend on the order transitions are
    written: with ``reinitiate -> examine_casually`` and ``reinitiate -> examine_thoroughly``
    both go back and ``examine_thoroughly -> check`` stays forward. Self-loops count.
    Stages the entry cannot reach are measured from themselves, in declaration order. With
    an entry mix, distances are from the nearest entry.
    """
    out: dict[str, list[str]] = {}
    for t in process.transitions:
        out.setdefault(t.source, []).append(t.target)
    dist: dict[str, int] = {}
    entries = [s.id for s, _ in process.entries]
    roots = ([entries] if entries else []) + [[s.id] for s in process.stages]
    for group in roots:
        if group[0] in dist:
            continue
        base = max(dist.values(), default=-1) + 1
        dist.update(dict.fromkeys(group, base))
        queue = list(group)
        for node in queue:  # breadth-first: the list grows while we walk it
            for nxt in out.get(node, []):
                if nxt not in dist:
                    dist[nxt] = dist[node] + 1
                    queue.append(nxt)
    graph = nx.DiGraph()
    graph.add_edges_from((t.source, t.target) for t in process.transitions)
    component: dict[str, int] = {}
    for i, members in enumerate(nx.strongly_connected_components(graph)):
        for member in members:
            component[member] = i
    order = {node.id: i for i, node in enumerate(process.iter_nodes())}

    def key(node: str) -> tuple[int, int]:
        return dist.get(node, 0), order.get(node, 0)

    back: set[tuple[str, str]] = set()
    for t in process.transitions:
        a, b = t.source, t.target
        if component.get(a) == component.get(b) and key(b) <= key(a):
            back.add((a, b))
    return back


def phase_order(process: Process) -> list[str]:
    """Stage ids in flow order along the forward edges (rework loops ignored).

    A topological order of the stages over the transitions that are not back edges, with
    ties broken by declaration order, so a straight funnel reads as it was written. This is
    the column order of the journey map and the rank order of the flowchart.
    """
    back = back_edges(process)
    stage_ids = [s.id for s in process.stages]
    index = {sid: i for i, sid in enumerate(stage_ids)}
    indegree = dict.fromkeys(stage_ids, 0)
    succ: dict[str, list[str]] = {sid: [] for sid in stage_ids}
    for t in process.transitions:
        if (t.source, t.target) in back or t.target not in index or t.source not in index:
            continue
        succ[t.source].append(t.target)
        indegree[t.target] += 1
    import heapq

    ready = [(index[s], s) for s in stage_ids if indegree[s] == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for nxt in succ[node]:
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                heapq.heappush(ready, (index[nxt], nxt))
    return order
