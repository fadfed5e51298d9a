"""Resource pools: group the people of a log by the work they do (``flowsim discover``).

A CRM export names the agent of each deal; an event log names the clerk of each work item.
Making every person a role of one invents queues that do not exist (30 agents who all work
the same stages are one team of 30). Like Simod and AgentSimulator, flowsim groups resources
by the similarity of their *activity profiles* (the share of their records in each stage):

- **profile** of a resource: its records per work stage, as shares (rows sum to 1);
- **pools**: average-linkage agglomerative clustering on the cosine similarity of the profiles,
  merging while the most similar pair of clusters is at least :data:`SIMILARITY` alike;
- **headcount** of a pool: the median, over the weeks of the log, of its members active that
  week (a person with a record that week) — the people at work at a time, not everyone who
  ever appeared (at least 1);
- **owner** of a stage: the pool that did most of its records.

A ``roles`` table (owner → team, e.g. Maven's ``sales_teams.csv``) replaces the clustering:
the teams are the pools.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import polars as pl

__all__ = ["SIMILARITY", "Pool", "resource_pools"]

#: Clusters of resources at least this alike (cosine of their activity profiles) are merged.
SIMILARITY = 0.7


@dataclass(frozen=True)
class Pool:
    """People who do the same work: members, records per stage, weekly headcount, a label."""

    members: tuple[str, ...]
    work: dict[str, int]
    headcount: int
    label: str


def _cluster(profiles: np.ndarray) -> list[list[int]]:
    """Average-linkage clusters of the rows of ``profiles`` (cosine similarity)."""
    norms = np.linalg.norm(profiles, axis=1, keepdims=True)
    unit = profiles / np.where(norms == 0, 1, norms)
    sim = unit @ unit.T
    clusters: list[list[int]] = [[i] for i in range(len(profiles))]
    link = sim.copy()
    np.fill_diagonal(link, -np.inf)
    sizes = np.ones(len(profiles))
    alive = np.ones(len(profiles), dtype=bool)
    while alive.sum() > 1:
        masked = np.where(alive[:, None] & alive[None, :], link, -np.inf)
        flat = int(np.argmax(masked))
        i, j = divmod(flat, len(profiles))
        if masked[i, j] < SIMILARITY:
            break
        i, j = min(i, j), max(i, j)
        # average linkage: the merged row is the size-weighted mean of the two
        merged = (link[i] * sizes[i] + link[j] * sizes[j]) / (sizes[i] + sizes[j])
        link[i, :] = merged
        link[:, i] = merged
        link[i, i] = -np.inf
        sizes[i] += sizes[j]
        alive[j] = False
        clusters[i].extend(clusters[j])
        clusters[j] = []
    return [sorted(c) for c in clusters if c]


def _weekly_headcount(frame: pl.DataFrame, members: list[str]) -> int:
    """Median over the log's weeks of the members with a record that week (at least 1)."""
    active = (
        frame.filter(pl.col("owner").is_in(members))
        .select(week=pl.col("entered_at").dt.truncate("1w"), owner="owner")
        .unique()
        .group_by("week")
        .len()
    )
    if active.height == 0:
        return 1
    span_us = frame.select(
        (pl.col("entered_at").max() - pl.col("entered_at").min()).dt.total_microseconds()
    ).item()
    weeks = int(span_us // (7 * 86400 * 10**6)) + 1
    counts = np.zeros(max(weeks, active.height))
    counts[: active.height] = np.sort(active["len"].to_numpy())[::-1]
    return max(1, round(float(np.median(counts))))


def _label(work: Counter[str], team: str | None) -> str:
    if team is not None:
        return team
    top = [s for s, _ in work.most_common(2)]
    if len(top) == 2 and work[top[1]] >= 0.25 * work[top[0]]:
        return f"{top[0]} / {top[1]} team"
    return f"{top[0]} team"


def resource_pools(
    frame: pl.DataFrame, stages: list[str], teams: dict[str, str] | None = None
) -> list[Pool]:
    """The pools of the owners who work in ``stages`` (largest first; see the module doc).

    Examples
    --------
    >>> from datetime import datetime, UTC
    >>> t = datetime(2024, 1, 1, tzinfo=UTC)
    >>> frame = pl.DataFrame({
    ...     "owner": ["ann", "bob", "ann", "bob", "cy"],
    ...     "stage": ["call", "call", "call", "call", "offer"],
    ...     "entered_at": [t] * 5,
    ... })
    >>> [(p.members, p.headcount, p.label) for p in resource_pools(frame, ["call", "offer"])]
    [(('ann', 'bob'), 2, 'call team'), (('cy',), 1, 'offer team')]
    """
    owned = frame.filter(pl.col("owner").is_not_null() & pl.col("stage").is_in(stages))
    if owned.height == 0:
        return []
    counts = owned.group_by("owner", "stage").len().sort("owner", "stage")
    people = sorted(set(counts["owner"].to_list()))
    col = {s: k for k, s in enumerate(sorted(set(counts["stage"].to_list())))}
    row = {o: k for k, o in enumerate(people)}
    matrix = np.zeros((len(people), len(col)))
    for o, s, n in counts.iter_rows():
        matrix[row[o], col[s]] = n
    if teams:
        by_team: dict[str, list[int]] = {}
        for o in people:
            by_team.setdefault(teams.get(o, o), []).append(row[o])
        groups = list(by_team.values())
    else:
        groups = _cluster(matrix / matrix.sum(axis=1, keepdims=True))
    names = {k: s for s, k in col.items()}
    pools = []
    for g in groups:
        members = [people[i] for i in g]
        totals = matrix[g].sum(axis=0)
        work = Counter({names[k]: int(v) for k, v in enumerate(totals) if v > 0})
        team = teams.get(members[0], members[0]) if teams else None
        pools.append(
            Pool(
                members=tuple(members),
                work=dict(work),
                headcount=_weekly_headcount(owned, members),
                label=_label(work, team),
            )
        )
    pools.sort(key=lambda p: (-sum(p.work.values()), p.members))
    return pools
