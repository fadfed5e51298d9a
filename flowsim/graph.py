"""The process as a networkx graph: one typed ``MultiDiGraph`` for every graph question.

Node keys: stages and outcomes use their id (``"contact"``), so algorithms on the flow read
naturally; the other kinds are prefixed, because ids only need to be unique per kind:
``"role:rep"``, ``"department:sales"``, ``"persona:buyer"``, ``"touchpoint:contact:0"``.
Every node has ``kind`` (stage, outcome, role, department, persona, touchpoint), ``id`` and
``label``; a stage also has ``entry`` (deals enter there) and ``entry_share`` (its share of
the entry mix, 0.0 when it is no entry). A parallel block adds two gateway nodes, kind
``fork`` (key ``"fork:<source>"``) and ``join`` (``"join:<source>"``), with ``source``,
``join`` (the node the block joins into) and ``branches``: the flow goes source -> fork ->
each branch's first stage, and each branch's ends -> join -> the join node (a branch
stage's transition to the join node is drawn to the join gateway, with its probability).
Every edge has ``kind``:

========== ============================ ===================================================
kind       from -> to                   attributes
========== ============================ ===================================================
flow       stage -> stage/outcome       probability (resolved), remainder, label, order,
           (or to/from fork, join)      parallel (True on the block's own edges)
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

__all__ = [
    "build_graph",
    "department_key",
    "flow_subgraph",
    "fork_key",
    "join_gateways",
    "join_key",
    "role_key",
]


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
    joins = join_gateways(process)
    order = 0
    for stage in process.stages:
        for t, p in process.outgoing(stage.id):
            g.add_edge(
                t.source,
                joins.get((t.source, t.target), t.target),
                kind="flow",
                probability=p,
                remainder=t.probability is None,
                label=t.label,
                order=order,
                parallel=False,
            )
            order += 1
    _add_blocks(g, process, order)
    return nx.freeze(g)


def fork_key(source: str) -> str:
    return f"fork:{source}"


def join_key(source: str) -> str:
    return f"join:{source}"


def join_gateways(process: Process) -> dict[tuple[str, str], str]:
    """(branch stage, join node) -> the join gateway its transition is drawn to."""
    out: dict[tuple[str, str], str] = {}
    for block in process.parallels:
        for region in process.branch_stages(block):
            for sid in region:
                out[(sid, block.join)] = join_key(block.source)
    return out


def _add_blocks(g: nx.MultiDiGraph[Any], process: Process, order: int) -> None:
    """The fork and join gateways of each parallel block, and the block's own edges."""
    for block in process.parallels:
        fork, join = fork_key(block.source), join_key(block.source)
        info = {"source": block.source, "join": block.join, "branches": block.branches}
        g.add_node(fork, kind="fork", id=fork, label=block.label or "", **info)
        g.add_node(join, kind="join", id=join, label="", **info)
        edges = [(block.source, fork), *((fork, e) for e in block.branches)]
        for region in process.branch_stages(block):
            edges.extend((sid, join) for sid in sorted(region) if not process.outgoing(sid))
        edges.append((join, block.join))
        for u, v in edges:
            g.add_edge(
                u, v, kind="flow", probability=1.0, remainder=False, label=None, order=order,
                parallel=True,
            )  # fmt: skip
            order += 1


def flow_subgraph(g: nx.MultiDiGraph[Any]) -> nx.MultiDiGraph[Any]:
    """Stages, outcomes and ``flow`` edges only (a new, frozen graph)."""
    flow: nx.MultiDiGraph[Any] = nx.MultiDiGraph(name=g.graph.get("name"))
    kinds = ("stage", "outcome", "fork", "join")
    flow.add_nodes_from((n, d) for n, d in g.nodes(data=True) if d["kind"] in kinds)
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
    routes = process.routes()
    out: dict[str, list[str]] = {}
    for a, b in routes:
        out.setdefault(a, []).append(b)
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
    graph.add_edges_from(routes)
    component: dict[str, int] = {}
    for i, members in enumerate(nx.strongly_connected_components(graph)):
        for member in members:
            component[member] = i
    order = {node.id: i for i, node in enumerate(process.iter_nodes())}

    def key(node: str) -> tuple[int, int]:
        return dist.get(node, 0), order.get(node, 0)

    back: set[tuple[str, str]] = set()
    for a, b in routes:
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
    for a, b in process.routes():
        if (a, b) in back or b not in index or a not in index:
            continue
        succ[a].append(b)
        indegree[b] += 1
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
