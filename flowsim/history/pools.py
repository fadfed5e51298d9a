"""Resource pools: group the people of a log by the work they do (``flowsim discover``).

A CRM export names the agent of each deal; an event log names the clerk of each work item.
Making every person a role of one invents queues that do not exist (30 agents who all work
the same stages are one team of 30). Like Simod and AgentSimulator, flowsim groups resources
by the similarity of their *activity profiles* (the share of their records in each stage):

- **profile** of a resource: its records per work stage, as shares (rows sum to 1);
- **pools**: average-linkage agglomerative clustering on the cosine similarity of the profiles,
  merging while the most similar pair of clusters is at least :data:`SIMILARITY` alike;
- **headcount** of a pool: its members active in the period (every person the log shows doing
  its work); ``weekly`` tells how many of them were active in a typical week (the median over
  the log's weeks of the members with a record that week), which the notes report beside it;
- **owner** of a stage: the pool that did most of its records.

A ``roles`` table (owner → team, e.g. Maven's ``sales_teams.csv``) makes the teams the units
of the clustering: a team stays whole, teams that do the same work become one pool (named
after them: six managers' teams who all work ``Engaging`` are one pool of 30), teams that do
different work stay apart.
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
    """People who do the same work: members, records per stage, headcount, a label."""

    members: tuple[str, ...]
    work: dict[str, int]
    headcount: int
    weekly: int
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


def _label(work: Counter[str], teams: list[str], members: list[str], cluster: bool) -> str:
    """A pool's name: its team (or its one person, unclustered), else its main stages' team."""
    if len(teams) == 1:
        return teams[0]
    if not cluster and not teams and len(members) == 1:
        return members[0]
    top = [s for s, _ in work.most_common(2)]
    label = f"{top[0]} team"
    if len(top) == 2 and work[top[1]] >= 0.25 * work[top[0]]:
        label = f"{top[0]} / {top[1]} team"
    if teams:
        shown = ", ".join(teams[:3]) + (f" +{len(teams) - 3}" if len(teams) > 3 else "")
        label += f" ({shown})"
    return label


def _profile_matrix(
    counts: pl.DataFrame,
) -> tuple[list[str], list[str], np.ndarray]:
    people = sorted(set(counts["owner"].to_list()))
    stages = sorted(set(counts["stage"].to_list()))
    row = {o: k for k, o in enumerate(people)}
    col = {s: k for k, s in enumerate(stages)}
    matrix = np.zeros((len(people), len(stages)))
    for o, s, n in counts.iter_rows():
        matrix[row[o], col[s]] = n
    return people, stages, matrix


def _groups(
    people: list[str], matrix: np.ndarray, teams: dict[str, str] | None, cluster: bool
) -> list[tuple[list[int], list[str]]]:
    """Clusters of people (row indices) and the declared teams each joins.

    Without ``teams`` every person is a unit; with it every team is one (its members'
    summed profile), and teams doing the same work are one pool, named after them.
    """
    if not teams:
        units = [[i] for i in range(len(people))]
        names: list[str] = []
    else:
        by_team: dict[str, list[int]] = {}
        for i, o in enumerate(people):
            by_team.setdefault(teams.get(o, o), []).append(i)
        names = sorted(by_team)
        units = [by_team[t] for t in names]
    profiles = np.array([matrix[u].sum(axis=0) for u in units])
    clusters = (
        _cluster(profiles / profiles.sum(axis=1, keepdims=True))
        if cluster
        else [[u] for u in range(len(units))]
    )
    out = []
    for c in clusters:
        rows = sorted(i for u in c for i in units[u])
        out.append((rows, [names[u] for u in c] if names else []))
    return out


def resource_pools(
    frame: pl.DataFrame,
    stages: list[str],
    teams: dict[str, str] | None = None,
    *,
    cluster: bool = True,
) -> list[Pool]:
    """The pools of the owners who work in ``stages`` (largest first; see the module doc).

    ``cluster=False`` keeps every unit (a person, or a team of ``teams``) a pool of its own.

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
    >>> teams = {"ann": "North", "bob": "South", "cy": "Offers"}
    >>> [p.label for p in resource_pools(frame, ["call", "offer"], teams)]
    ['call team (North, South)', 'Offers']
    """
    owned = frame.filter(pl.col("owner").is_not_null() & pl.col("stage").is_in(stages))
    if owned.height == 0:
        return []
    people, names, matrix = _profile_matrix(owned.group_by("owner", "stage").len())
    pools = []
    for rows, joined in _groups(people, matrix, teams, cluster):
        members = [people[i] for i in rows]
        totals = matrix[rows].sum(axis=0)
        work = Counter({names[k]: int(v) for k, v in enumerate(totals) if v > 0})
        pools.append(
            Pool(
                members=tuple(members),
                work=dict(work),
                headcount=len(members),
                weekly=_weekly_headcount(owned, members),
                label=_label(work, joined, members, cluster),
            )
        )
    pools.sort(key=lambda p: (-sum(p.work.values()), p.members))
    return pools
