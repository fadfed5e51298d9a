"""Conformance: replay each deal of a log on the designed flowchart and say where they differ.

``conformance(log, process)`` returns :class:`ConformanceReport`. Every rule and figure is
defined in ``docs/metrics.md`` ("Conformance"); the short version:

- log stage values are matched to the process's stage and outcome ids or labels exactly as
  :func:`flowsim.history.metrics.metrics` does (case-insensitive, blanks ignored);
- a deal **fits** when its first record is an entry stage of the process (any stage of an
  entry mix), every consecutive move
  is a designed transition, no record follows its first outcome later than it (the same
  instant is the close's own bookkeeping), and every stage value is
  known; it may end in an outcome or be open in any stage;
- for every designed edge: observed count, exits of the source, observed conversion, a Wilson
  score interval for it, and a flag when the designed probability lies outside the interval.

Vectorised with polars: Python loops run over distinct stages, edges and stage pairs only.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from statistics import NormalDist
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import networkx as nx
import polars as pl
from pydantic import ConfigDict, Field

from flowsim._base import FlowsimModel
from flowsim._extras import missing
from flowsim.errors import InputError
from flowsim.history._close import after_close
from flowsim.history.branches import branch_next, next_stage_of
from flowsim.history.log import DealLog
from flowsim.history.metrics import _classify, _round
from flowsim.model import Outcome, Process

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "REASONS",
    "ConformanceReport",
    "EdgeConformance",
    "ReasonCount",
    "RepeatedStage",
    "SkippedStage",
    "UndesignedTransition",
    "UnknownStage",
    "conformance",
    "conformance_table",
    "deal_fit",
    "verdict",
    "wilson_interval",
]

Reason = Literal["wrong-start", "undesigned-transition", "unknown-stage", "after-outcome"]

#: how an undesigned move relates to the designed flow (see :class:`UndesignedTransition`)
MoveKind = Literal["skip", "backward", "repeat", "cross"]

#: The tables of :meth:`ConformanceReport.to_frame`.
ConformanceView = Literal["edges", "undesigned", "skipped", "repeated", "unknown"]

#: non-fitting reasons, in the order they are reported
REASONS: tuple[Reason, ...] = (
    "wrong-start",
    "undesigned-transition",
    "unknown-stage",
    "after-outcome",
)

#: how many example deal ids are kept per finding
EXAMPLES = 3

RULES = (
    "a deal fits when: its first record is an entry stage; every move between consecutive "
    "records is a designed transition (stage -> stage or stage -> outcome); no record follows "
    "its first outcome at a later time; every stage value names a stage or outcome (id or "
    "label). It may end in an outcome or be open in any stage."
)


class _M(FlowsimModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReasonCount(_M):
    """How often one non-fitting reason occurs: deals with it, and occurrences."""

    deals: int = Field(description="Deals with at least one occurrence (a deal may have several).")
    occurrences: int = Field(description="Moves, records or deals, as the reason counts them.")
    examples: list[str] = Field(description="Up to 3 deal ids (sorted).")


class UnknownStage(_M):
    """A log stage value that names no stage or outcome of the process."""

    stage: str
    records: int
    deals: int
    examples: list[str] = Field(description="Up to 3 deal ids (sorted).")


class UndesignedTransition(_M):
    """A move the log shows between two process nodes that the design has no transition for."""

    source: str
    target: str
    kind: MoveKind = Field(
        description=(
            "skip: the design reaches the target from the source along forward transitions; "
            "backward: the design reaches the source from the target; repeat: source = target; "
            "cross: neither (e.g. between two alternative branches)."
        )
    )
    count: int = Field(description="Moves (consecutive record pairs) source -> target.")
    deals: int
    examples: list[str] = Field(description="Up to 3 deal ids (sorted).")
    skipped: list[str] = Field(
        default_factory=list,
        description="For a skip: the stages of the shortest designed forward path left out.",
    )


class SkippedStage(_M):
    """A designed stage jumped over by skip moves."""

    stage: str
    count: int = Field(description="Skip moves that left this stage out.")
    deals: int


class RepeatedStage(_M):
    """A stage entered more than once by some deals."""

    stage: str
    visits: int
    deals: int = Field(description="Distinct deals that entered the stage.")
    reentries: int = Field(description="visits - deals.")
    deals_reentering: int = Field(description="Deals that entered the stage more than once.")
    designed_loop: bool = Field(description="The stage lies on a designed loop (rework).")


class EdgeConformance(_M):
    """Observed vs designed conversion of one designed transition."""

    source: str
    target: str
    designed: float = Field(description="The design's probability (remainder resolved).")
    count: int = Field(description="Moves source -> target in the log.")
    exits: int = Field(
        description="Records of the source followed by any record of the deal, before its close."
    )
    observed: float | None = Field(description="count / exits (None without exits).")
    low: float | None = Field(description="Wilson score interval, lower bound.")
    high: float | None = Field(description="Wilson score interval, upper bound.")
    flagged: bool = Field(description="The designed probability is outside [low, high].")
    undesigned_exits: int = Field(
        default=0, description="Exits of the source along moves the design lacks."
    )
    verdict: str | None = Field(default=None, description="One line for the designer when flagged.")


class ConformanceReport(_M):
    """Everything :func:`conformance` finds; see ``docs/metrics.md`` ("Conformance")."""

    source: str
    process: str
    rows_read: int
    rows_used: int
    rows_skipped: int
    skipped_by_reason: dict[str, int]
    entry: str | None
    rules: str
    entries: list[str] = Field(
        default_factory=list, description="Every entry stage (several for an entry mix)."
    )
    confidence: float
    deals: int
    fitting: int
    non_fitting: int
    fitting_share: float | None
    fitting_closed: int = Field(description="Fitting deals that ended in an outcome.")
    fitting_open: int = Field(description="Fitting deals still open in a stage.")
    reasons: dict[str, ReasonCount]
    wrong_starts: dict[str, int] = Field(description="First stage -> deals, for wrong starts.")
    unknown_stages: list[UnknownStage]
    undesigned: list[UndesignedTransition]
    skipped: list[SkippedStage]
    repeated: list[RepeatedStage]
    edges: list[EdgeConformance]

    @property
    def flagged(self) -> list[EdgeConformance]:
        """Designed edges whose probability history contradicts."""
        return [e for e in self.edges if e.flagged]

    def verdicts(self) -> list[str]:
        """One line per flagged edge, for the designer."""
        return [e.verdict for e in self.edges if e.verdict]

    def to_frame(self, kind: ConformanceView = "edges") -> pl.DataFrame:
        """A polars view: one row per designed edge (default), or per finding of ``kind``.

        Parameters
        ----------
        kind : {"edges", "undesigned", "skipped", "repeated", "unknown"}
            The table.

        Returns
        -------
        polars.DataFrame
            One column per field of the row's type (e.g. :class:`EdgeConformance`).
        """
        rows, columns = self._rows(kind)
        if not rows:
            return pl.DataFrame(schema=columns)
        return pl.DataFrame(rows, infer_schema_length=None)

    def to_pandas(self, kind: ConformanceView = "edges") -> pd.DataFrame:
        """:meth:`to_frame`'s table as a pandas DataFrame (needs the ``pandas`` extra).

        Parameters
        ----------
        kind : {"edges", "undesigned", "skipped", "repeated", "unknown"}
            The table.

        Returns
        -------
        pandas.DataFrame
            One column per field; a table without rows has no columns.
        """
        try:
            import pandas as pd
        except ImportError as err:
            raise missing(err, "ConformanceReport.to_pandas()") from err

        rows, columns = self._rows(kind)
        return pd.DataFrame(rows, columns=columns if rows else None)

    def _rows(self, kind: ConformanceView) -> tuple[list[dict[str, Any]], list[str]]:
        """The rows of the ``kind`` table, and its columns."""
        tables: dict[str, tuple[Sequence[_M], type[_M]]] = {
            "edges": (self.edges, EdgeConformance),
            "undesigned": (self.undesigned, UndesignedTransition),
            "skipped": (self.skipped, SkippedStage),
            "repeated": (self.repeated, RepeatedStage),
            "unknown": (self.unknown_stages, UnknownStage),
        }
        if kind not in tables:
            raise InputError(
                f"unknown frame kind {kind!r}: edges, undesigned, skipped, repeated or unknown"
            )
        items, row_type = tables[kind]
        return [r.model_dump() for r in items], list(row_type.model_fields)

    def text(self) -> str:
        """The report for people (what ``flowsim conformance`` prints)."""
        return conformance_table(self)

    def to_json(self, *, indent: int | None = 2) -> str:
        """Deterministic JSON: sorted keys, floats rounded to 6 significant digits."""
        return json.dumps(
            _round(self.model_dump(mode="json")), sort_keys=True, indent=indent, ensure_ascii=False
        )

    def _repr_html_(self) -> str:
        from flowsim.result import html_table

        frame = self.to_frame().select(["source", "target", "designed", "observed", "flagged"])
        return html_table("conformance of the history to the design", frame)


# ----------------------------------------------------------------------------------------------


def wilson_interval(count: int, n: int, confidence: float = 0.95) -> tuple[float, float] | None:
    """Wilson score interval for a binomial proportion ``count / n`` (None when ``n == 0``).

    ``p̂ = k/n``, ``z`` the two-sided normal quantile; centre ``(p̂ + z²/2n) / (1 + z²/n)``,
    half-width ``z / (1 + z²/n) · sqrt(p̂(1 − p̂)/n + z²/4n²)``. It stays inside [0, 1] and
    behaves at 0 and n successes, where the normal (Wald) interval collapses.
    """
    if n <= 0:
        return None
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, not {confidence}")
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = count / n
    z2 = z * z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low = 0.0 if count == 0 else max(0.0, centre - half)
    high = 1.0 if count == n else min(1.0, centre + half)
    return low, high


def _pct(x: float) -> str:
    return f"{x * 100:.1f}%"


def _designed_pct(x: float) -> str:
    text = f"{x * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text}%"


def verdict(
    source: str,
    target: str,
    designed: float,
    count: int,
    exits: int,
    interval: tuple[float, float],
    elsewhere: int = 0,
) -> str:
    """One line a designer can act on, for an edge whose design history contradicts.

    ``elsewhere``: exits of ``source`` along moves the design lacks (they lower every designed
    edge's share, so the line says so instead of suggesting a new percentage).
    """
    low, high = interval
    observed = count / exits
    direction = "lower" if designed > high else "higher"
    text = (
        f"{source} -> {target}: design says {_designed_pct(designed)}; history says "
        f"{_pct(observed)} [{_pct(low)}, {_pct(high)}] of {exits:,} exits, {direction} than "
        "designed"
    )
    if elsewhere:
        verb = "takes" if elsewhere == 1 else "take"
        return text + f" ({elsewhere:,} of the exits {verb} moves the design lacks)"
    return text + f" (consider {_designed_pct(round(observed, 2))})"


def _design_layers(
    process: Process, designed: dict[tuple[str, str], float]
) -> tuple[dict[str, int], nx.DiGraph, set[str]]:
    """Distance of every node from the entry, the designed flow without its loops, loop nodes.

    Distance: fewest designed transitions from the nearest entry (breadth first; unreachable nodes
    after every reachable one). A transition is a *loop* (rework) edge when it lies on a
    designed cycle and goes to a node no farther from the entry than its source; every cycle
    has one, so the rest (the *forward* flow) is acyclic. Unlike a depth-first walk, this does
    not depend on the order transitions were written in.
    """
    flow = nx.DiGraph()
    flow.add_nodes_from(n.id for n in process.iter_nodes())
    flow.add_edges_from(designed)
    entries = {s.id for s, _ in process.entries}
    dist: dict[str, int] = (
        dict(nx.multi_source_dijkstra_path_length(flow, entries)) if entries else {}
    )
    far = len(flow) + 1
    components = list(nx.strongly_connected_components(flow))
    component = {n: i for i, c in enumerate(components) for n in c}
    on_loop = {n for c in components if len(c) > 1 for n in c}
    on_loop.update(src for src, dst in designed if src == dst)
    forward = nx.DiGraph()
    forward.add_nodes_from(flow)
    for src, dst in designed:
        looped = component[src] == component[dst]
        if not (looped and dist.get(dst, far) <= dist.get(src, far)):
            forward.add_edge(src, dst)
    return {n: dist.get(n, far) for n in flow}, forward, on_loop


def _unavoidable(idom: dict[str, str], source: str, target: str) -> list[str]:
    """Stages on every forward path source -> target (the dominators of target), in order.

    ``idom``: immediate dominators in the forward flow walked from ``source``.
    """
    chain: list[str] = []
    node = idom[target]
    while node != source:
        chain.append(node)
        node = idom[node]
    return chain[::-1]


def _examples(col: str = "deal") -> pl.Expr:
    return pl.col(col).unique().sort().head(EXAMPLES).alias("examples")


def _designed_edges(process: Process) -> dict[tuple[str, str], float]:
    """Designed transitions with resolved probabilities (duplicate pairs add up)."""
    designed: dict[tuple[str, str], float] = {}
    for stage in process.stages:
        for t, p in process.outgoing(stage.id):
            designed[(t.source, t.target)] = designed.get((t.source, t.target), 0.0) + p
    return designed


def _parallel_routes(process: Process) -> dict[tuple[str, str], float]:
    """A parallel block's own moves: its source to each branch, each bare branch end to the
    join. Designed (a deal may take them), but no conversion of theirs is checked: a fork
    takes every branch, not one of them."""
    pairs = {(t.source, t.target) for t in process.transitions}
    return {pair: 1.0 for pair in process.routes() if pair not in pairs}


def _branch_next(rec: pl.DataFrame, process: Process) -> pl.DataFrame:
    """``next_stage`` read per branch inside parallel blocks (the rule metrics reads moves
    by too: :func:`flowsim.history.branches.branch_next`)."""
    if not process.parallels:
        return rec
    rows = branch_next(rec["deal"], rec["stage"], process)
    return rec.with_columns(next_stage_of(rec["stage"], rows).alias("next_stage"))


def _design_frame(designed: dict[tuple[str, str], float]) -> pl.DataFrame:
    """The designed moves as rows to join the log's moves on (``designed`` is True)."""
    return pl.DataFrame(
        {
            "stage": [s for s, _ in designed],
            "next_stage": [t for _, t in designed],
            "designed": [True] * len(designed),
        },
        schema={"stage": pl.String, "next_stage": pl.String, "designed": pl.Boolean},
    )


def _replay(log: DealLog, process: Process, designed: dict[tuple[str, str], float]) -> pl.DataFrame:
    """One row per record with its next record and the conformance flags (log order kept)."""
    frame = log.frame
    if not frame["deal"].is_sorted():  # a DealLog built by hand: group deals, keep their order
        frame = frame.sort("deal", maintain_order=True)
    rename, _results, _unmatched = _classify(sorted(frame["stage"].unique().to_list()), process)
    if rename:
        frame = frame.with_columns(pl.col("stage").replace(rename))
    node_ids = [n.id for n in process.iter_nodes()]
    outcome_ids = [n.id for n in process.iter_nodes() if isinstance(n, Outcome)]
    entries = [s.id for s, _ in process.entries]
    # The log is sorted by deal, so a deal's records are contiguous: shifts and running sums
    # with the deal boundaries masked out replace (slower) window expressions over "deal".
    deal = pl.col("deal")
    is_outcome = pl.col("stage").is_in(outcome_ids)
    rec = frame.select("deal", "stage", "source_row", "entered_at").with_columns(
        pl.when(deal.shift(-1) == deal).then(pl.col("stage").shift(-1)).alias("next_stage"),
        (deal.shift(1) != deal).fill_null(True).alias("first"),
        pl.col("stage").is_in(node_ids).alias("known"),
        is_outcome.alias("is_outcome"),
        is_outcome.cast(pl.Int64).cum_sum().alias("running"),
    )
    rec = _branch_next(rec, process)
    rec = rec.with_columns(
        # outcomes of the deal up to and including this record
        (
            pl.col("running")
            - pl.when(pl.col("first"))
            .then(pl.col("running") - pl.col("is_outcome").cast(pl.Int64))
            .forward_fill()
        ).alias("outcomes_so_far")
    )
    # records at the same instant as the close are its own bookkeeping (BPIC 2012 cancels the
    # offers with the application), not moves out of the outcome: the one rule of _close
    rec = rec.with_columns(
        (
            (pl.col("outcomes_so_far") - pl.col("is_outcome").cast(pl.Int32) > 0)
            & after_close(outcome_ids)
        ).alias("after_outcome"),
        pl.col("next_stage").is_in(node_ids).alias("next_known"),
    ).join(
        _design_frame({**designed, **_parallel_routes(process)}),
        on=["stage", "next_stage"],
        how="left",
        maintain_order="left",
    )
    first = pl.col("first")
    return rec.with_columns(
        (
            first & pl.col("known") & ~pl.col("stage").is_in(entries)
            if entries
            else first & pl.col("known")
        ).alias("wrong_start"),
        # a move is checked when both ends are known and no outcome has been reached yet
        (
            pl.col("next_stage").is_not_null()
            & pl.col("known")
            & pl.col("next_known")
            & (pl.col("outcomes_so_far") == 0)
            & pl.col("designed").is_null()
        ).alias("undesigned"),
        (~pl.col("known")).alias("unknown"),
    )


def _per_deal(rec: pl.DataFrame) -> pl.DataFrame:
    return (
        rec.group_by("deal")
        .agg(
            pl.col("is_outcome").any().alias("closed"),
            pl.col("wrong_start").any(),
            pl.col("undesigned").sum().cast(pl.Int64).alias("undesigned_moves"),
            pl.col("unknown").sum().cast(pl.Int64).alias("unknown_records"),
            pl.col("after_outcome").sum().cast(pl.Int64).alias("after_outcome_records"),
        )
        .with_columns(
            (
                ~pl.col("wrong_start")
                & (pl.col("undesigned_moves") == 0)
                & (pl.col("unknown_records") == 0)
                & (pl.col("after_outcome_records") == 0)
            ).alias("fits")
        )
        .select(
            "deal",
            "fits",
            "closed",
            "wrong_start",
            "undesigned_moves",
            "unknown_records",
            "after_outcome_records",
        )
        .sort("deal")
    )


def deal_fit(log: DealLog, process: Process) -> pl.DataFrame:
    """One row per deal (sorted by id): ``fits``, ``closed`` (ended in an outcome), and each
    reason: ``wrong_start``, ``undesigned_moves``, ``unknown_records``, ``after_outcome_records``.
    """
    return _per_deal(_replay(log, process, _designed_edges(process)))


#: reason -> the per-deal column that counts it
_REASON_COLUMNS: dict[str, str] = {
    "wrong-start": "wrong_start",
    "undesigned-transition": "undesigned_moves",
    "unknown-stage": "unknown_records",
    "after-outcome": "after_outcome_records",
}


class _Design(NamedTuple):
    """The designed flow as the replay reads it, computed once per report.

    ``edges``: designed transitions with resolved probabilities; ``forward``: the flow without
    its loop edges (classifies undesigned moves); ``on_loop``: nodes on a designed cycle;
    ``dist`` and ``declared`` give the flow order findings about stages are listed in.
    """

    edges: dict[tuple[str, str], float]
    forward: nx.DiGraph
    on_loop: set[str]
    dist: dict[str, int]
    declared: dict[str, int]

    def order(self, node: str) -> tuple[int, int, str]:
        """Sort key: distance from the entry, then declaration order, then the id."""
        return (
            self.dist.get(node, len(self.dist) + 1),
            self.declared.get(node, len(self.declared)),
            node,
        )


def _design(process: Process) -> _Design:
    """Designed edges, their layers and loops, and the declaration order of the nodes."""
    edges = _designed_edges(process)
    dist, forward, on_loop = _design_layers(process, edges)
    declared = {n.id: i for i, n in enumerate(process.iter_nodes())}
    return _Design(edges, forward, on_loop, dist, declared)


class _Fit(NamedTuple):
    """How many deals fit the design, and why the others do not."""

    deals: int
    fitting: int
    fitting_closed: int
    reasons: dict[str, ReasonCount]


def conformance(log: DealLog, process: Process, *, confidence: float = 0.95) -> ConformanceReport:
    """Replay every deal of ``log`` on ``process`` (see ``docs/metrics.md``, "Conformance").

    Parameters
    ----------
    log : DealLog
        The deal history.
    process : Process
        The design the deals are checked against.
    confidence : float, default 0.95
        The level of the Wilson intervals on observed conversions (``0 < confidence < 1``).

    Returns
    -------
    ConformanceReport
        How many deals fit the design, why the others do not (wrong starts, undesigned moves,
        unknown stages, moves after an outcome), skipped and repeated stages, and the observed
        conversion of every designed edge beside its designed probability.

    Raises
    ------
    InputError
        ``confidence`` is not between 0 and 1.

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> log = flowsim.read_log("examples/history/b2b-cn-deals.csv", tz="Asia/Shanghai")
    >>> report = flowsim.conformance(log, process)
    >>> report.deals, report.fitting, report.fitting_share
    (1049, 1049, 1.0)
    """
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, not {confidence}")
    design = _design(process)
    rec = _replay(log, process, design.edges)
    fit = _fit(_per_deal(rec))
    undesigned, skipped = _undesigned(rec, design)
    rep = log.report
    return ConformanceReport(
        source=rep.source,
        process=process.name,
        rows_read=rep.rows_read,
        rows_used=rep.rows_used,
        rows_skipped=rep.rows_skipped,
        skipped_by_reason=dict(sorted(rep.skipped_by_reason.items())),
        entry=process.entry.id if process.entry is not None else None,
        entries=[s.id for s, _ in process.entries],
        rules=RULES,
        confidence=confidence,
        deals=fit.deals,
        fitting=fit.fitting,
        non_fitting=fit.deals - fit.fitting,
        fitting_share=fit.fitting / fit.deals if fit.deals else None,
        fitting_closed=fit.fitting_closed,
        fitting_open=fit.fitting - fit.fitting_closed,
        reasons=fit.reasons,
        wrong_starts=_wrong_starts(rec),
        unknown_stages=_unknown_stages(rec),
        undesigned=undesigned,
        skipped=skipped,
        repeated=_repeated(rec, process, design),
        edges=_edges(rec, design.edges, confidence),
    )


def _fit(per_deal: pl.DataFrame) -> _Fit:
    """Fitting deals (closed or not) and, per reason, the deals and occurrences that break it."""
    fitting = int(per_deal["fits"].sum())
    fitting_closed = int((per_deal["fits"] & per_deal["closed"]).sum())
    reasons: dict[str, ReasonCount] = {}
    for reason, column in _REASON_COLUMNS.items():
        hit = per_deal.filter(pl.col(column).cast(pl.Int64) > 0)
        reasons[reason] = ReasonCount(
            deals=hit.height,
            occurrences=int(hit[column].cast(pl.Int64).sum()),
            examples=hit["deal"].head(EXAMPLES).to_list(),
        )
    return _Fit(per_deal.height, fitting, fitting_closed, reasons)


def _wrong_starts(rec: pl.DataFrame) -> dict[str, int]:
    """First stage → deals, for the deals that start outside the entry stages."""
    starts = rec.filter(pl.col("wrong_start")).group_by("stage").len().sort("stage")
    return {str(s): int(n) for s, n in starts.iter_rows()}


def _unknown_stages(rec: pl.DataFrame) -> list[UnknownStage]:
    """Stage values the process does not name, the most frequent first."""
    rows = (
        rec.filter(pl.col("unknown"))
        .group_by("stage")
        .agg(pl.len().alias("records"), pl.col("deal").n_unique().alias("deals"), _examples())
        .sort(["records", "stage"], descending=[True, False])
    )
    return [UnknownStage(**r) for r in rows.iter_rows(named=True)]


def _undesigned(
    rec: pl.DataFrame, design: _Design
) -> tuple[list[UndesignedTransition], list[SkippedStage]]:
    """The moves the design lacks (most frequent first) and the stages their skips leave out.

    A skip names the stages on every forward path between its ends; those are counted per
    move of the log, so a stage skipped by many deals ranks by its moves and deals.
    """
    moves = rec.filter(pl.col("undesigned")).select("deal", "stage", "next_stage")
    pairs = (
        moves.group_by("stage", "next_stage")
        .agg(pl.len().alias("count"), pl.col("deal").n_unique().alias("deals"), _examples())
        .sort(["count", "stage", "next_stage"], descending=[True, False, False])
    )
    undesigned: list[UndesignedTransition] = []
    dominators: dict[str, dict[str, str]] = {}
    skip_rows: dict[str, list[str]] = {"stage": [], "next_stage": [], "skipped": []}
    for row in pairs.iter_rows(named=True):
        src, dst = row["stage"], row["next_stage"]
        kind, skipped = _move_kind(design.forward, src, dst, dominators)
        for stage_id in skipped:
            skip_rows["stage"].append(src)
            skip_rows["next_stage"].append(dst)
            skip_rows["skipped"].append(stage_id)
        undesigned.append(
            UndesignedTransition(
                source=src,
                target=dst,
                kind=kind,
                count=row["count"],
                deals=row["deals"],
                examples=row["examples"],
                skipped=skipped,
            )
        )
    return undesigned, _skipped_stages(moves, skip_rows, design)


def _move_kind(
    forward: nx.DiGraph, src: str, dst: str, dominators: dict[str, dict[str, str]]
) -> tuple[MoveKind, list[str]]:
    """Classify one undesigned move, with the stages a skip leaves out.

    ``dominators`` caches the immediate dominators of the forward flow per source.
    """
    if src == dst:
        return "repeat", []
    if nx.has_path(forward, src, dst):
        if src not in dominators:
            dominators[src] = nx.immediate_dominators(forward, src)
        return "skip", _unavoidable(dominators[src], src, dst)
    if nx.has_path(forward, dst, src):
        return "backward", []
    return "cross", []


def _skipped_stages(
    moves: pl.DataFrame, skip_rows: dict[str, list[str]], design: _Design
) -> list[SkippedStage]:
    """Per skipped stage: the skip moves that left it out and their deals, in flow order."""
    skip_frame = pl.DataFrame(
        skip_rows, schema={"stage": pl.String, "next_stage": pl.String, "skipped": pl.String}
    )
    per_skipped = (
        moves.join(skip_frame, on=["stage", "next_stage"])
        .group_by("skipped")
        .agg(pl.len().alias("count"), pl.col("deal").n_unique().alias("deals"))
    )
    return sorted(
        (
            SkippedStage(stage=s, count=c, deals=d)
            for s, c, d in per_skipped.select("skipped", "count", "deals").iter_rows()
        ),
        key=lambda x: design.order(x.stage),
    )


def _repeated(rec: pl.DataFrame, process: Process, design: _Design) -> list[RepeatedStage]:
    """Stages some deals enter more than once, in flow order, marked when the design loops."""
    stage_ids = [s.id for s in process.stages]
    visits = (
        rec.filter(pl.col("stage").is_in(stage_ids))
        .group_by("stage", "deal")
        .len()
        .group_by("stage")
        .agg(
            pl.col("len").sum().alias("visits"),
            pl.len().alias("deals"),
            (pl.col("len") > 1).sum().alias("again"),
        )
        .filter(pl.col("visits") > pl.col("deals"))
    )
    return sorted(
        (
            RepeatedStage(
                stage=s,
                visits=v,
                deals=d,
                reentries=v - d,
                deals_reentering=a,
                designed_loop=s in design.on_loop,
            )
            for s, v, d, a in visits.select("stage", "visits", "deals", "again").iter_rows()
        ),
        key=lambda x: design.order(x.stage),
    )


def _edges(
    rec: pl.DataFrame, designed: dict[tuple[str, str], float], confidence: float
) -> list[EdgeConformance]:
    """Every designed edge: its observed conversion, Wilson interval, and a verdict if outside.

    Only moves on the way to the close count: what a deal does after its outcome is not
    the design's.
    """
    before = rec.filter(pl.col("next_stage").is_not_null() & (pl.col("outcomes_so_far") == 0))
    exits = dict(before.group_by("stage").len().iter_rows())
    observed = {
        (s, t): int(n)
        for s, t, n in before.filter(pl.col("designed").is_not_null())
        .group_by("stage", "next_stage")
        .len()
        .iter_rows()
    }
    designed_exits: dict[str, int] = {}
    for (src, _dst), k in observed.items():
        designed_exits[src] = designed_exits.get(src, 0) + k
    edges: list[EdgeConformance] = []
    for (src, dst), p in designed.items():
        n = int(exits.get(src, 0))
        k = observed.get((src, dst), 0)
        edges.append(_edge(src, dst, p, k, n, n - designed_exits.get(src, 0), confidence))
    return edges


def _edge(
    src: str, dst: str, p: float, k: int, n: int, elsewhere: int, confidence: float
) -> EdgeConformance:
    """One designed edge: ``k`` of the source's ``n`` exits took it, ``elsewhere`` none."""
    ci = wilson_interval(k, n, confidence)
    flagged = ci is not None and not (ci[0] <= p <= ci[1])
    return EdgeConformance(
        source=src,
        target=dst,
        designed=p,
        count=k,
        exits=n,
        observed=k / n if n else None,
        low=ci[0] if ci is not None else None,
        high=ci[1] if ci is not None else None,
        flagged=flagged,
        undesigned_exits=elsewhere,
        verdict=verdict(src, dst, p, k, n, ci, elsewhere) if ci is not None and flagged else None,
    )


# ---- text for a terminal ---------------------------------------------------------------------

#: rows shown per list in the text report (``--format json`` has them all)
TEXT_ROWS = 20


def _more(shown: int, total: int) -> list[str]:
    return [f"  ... and {total - shown:,} more (see --format json)"] if total > shown else []


def conformance_table(r: ConformanceReport) -> str:
    """The report as text: fit summary, reasons, undesigned moves, skips, repeats, edges.

    Each part is a list of lines (empty when there is nothing to say), so a part is left
    out rather than shown empty; long lists stop at :data:`TEXT_ROWS` rows.
    """
    out = [
        *_summary_lines(r),
        *_reason_lines(r),
        *_undesigned_lines(r),
        *_skipped_lines(r),
        *_repeated_lines(r),
        *_edge_lines(r),
        *_verdict_lines(r),
    ]
    return "\n".join(out) + "\n"


def _summary_lines(r: ConformanceReport) -> list[str]:
    """Where the deals came from, which process, how many fit, and the rule they are held to."""
    skipped = ", ".join(f"{k} {v}" for k, v in r.skipped_by_reason.items()) or "none"
    share = "-" if r.fitting_share is None else _pct(r.fitting_share)
    return [
        f"source: {r.source}",
        f"rows read {r.rows_read:,}, used {r.rows_used:,}, skipped {r.rows_skipped:,} ({skipped})",
        f"process: {r.process} (entry {r.entry or '-'})",
        f"fitting deals: {r.fitting:,} of {r.deals:,} ({share}; {r.fitting_closed:,} closed, "
        f"{r.fitting_open:,} open); not fitting: {r.non_fitting:,}",
        f"rule: {r.rules}",
    ]


#: what each reason counts, in the text report
_REASON_UNITS = {
    "wrong-start": "deals",
    "undesigned-transition": "moves",
    "unknown-stage": "records",
    "after-outcome": "records",
}


def _reason_lines(r: ConformanceReport) -> list[str]:
    """Why deals do not fit, the most common reason first, with wrong starts and unknowns."""
    reasons = sorted(
        ((k, v) for k, v in r.reasons.items() if v.deals),
        key=lambda kv: (-kv[1].deals, REASONS.index(kv[0])),
    )
    if not reasons:
        return []
    out = ["", "why deals do not fit (a deal can have several reasons):"]
    for name, count in reasons:
        out.append(
            f"  {name}: {count.deals:,} deals ({count.occurrences:,} {_REASON_UNITS.get(name, '')})"
        )
    if r.wrong_starts:
        starts = ", ".join(f"{k} {v:,}" for k, v in r.wrong_starts.items())
        entries = ", ".join(r.entries) if r.entries else r.entry
        out.append(f"  first stages other than {entries}: {starts}")
    if r.unknown_stages:
        names = ", ".join(f"{u.stage!r} ({u.records:,})" for u in r.unknown_stages[:TEXT_ROWS])
        out.append(f"  stage values the process does not name: {names}")
    return out


def _undesigned_lines(r: ConformanceReport) -> list[str]:
    """The moves the design lacks, as a table."""
    from flowsim.history.table import _table

    if not r.undesigned:
        return []
    rows = [
        [
            f"{u.source} -> {u.target}",
            u.kind,
            f"{u.count:,}",
            f"{u.deals:,}",
            ", ".join(u.skipped) or "-",
            ", ".join(u.examples),
        ]
        for u in r.undesigned[:TEXT_ROWS]
    ]
    return [
        "",
        "transitions the design lacks:",
        _table(["move", "kind", "moves", "deals", "skips", "e.g. deals"], rows),
        *_more(len(rows), len(r.undesigned)),
    ]


def _skipped_lines(r: ConformanceReport) -> list[str]:
    """The designed stages that skip moves leave out, as a table."""
    from flowsim.history.table import _table

    if not r.skipped:
        return []
    rows = [[s.stage, f"{s.count:,}", f"{s.deals:,}"] for s in r.skipped[:TEXT_ROWS]]
    return [
        "",
        "designed stages skipped (on every designed path of the move):",
        _table(["stage", "moves", "deals"], rows),
        *_more(len(rows), len(r.skipped)),
    ]


def _repeated_lines(r: ConformanceReport) -> list[str]:
    """The stages deals enter again, as a table."""
    from flowsim.history.table import _table

    if not r.repeated:
        return []
    rows = [
        [
            s.stage,
            f"{s.reentries:,}",
            f"{s.deals_reentering:,}",
            "yes" if s.designed_loop else "no",
        ]
        for s in r.repeated[:TEXT_ROWS]
    ]
    return [
        "",
        "repeated stages:",
        _table(["stage", "re-entries", "deals", "designed loop"], rows),
        *_more(len(rows), len(r.repeated)),
    ]


def _edge_lines(r: ConformanceReport) -> list[str]:
    """Every designed edge: designed vs observed conversion and its interval (always shown)."""
    from flowsim.history.table import _table

    rows = [
        [
            f"{e.source} -> {e.target}",
            _designed_pct(e.designed),
            "-" if e.observed is None else _pct(e.observed),
            "-" if e.low is None or e.high is None else f"[{_pct(e.low)}, {_pct(e.high)}]",
            f"{e.count:,}",
            f"{e.exits:,}",
            "OUTSIDE" if e.flagged else "",
        ]
        for e in r.edges
    ]
    level = _designed_pct(r.confidence)
    return [
        "",
        f"designed edges: observed conversion = moves / exits, {level} Wilson interval",
        _table(["edge", "designed", "observed", "interval", "moves", "exits", "design"], rows),
    ]


def _verdict_lines(r: ConformanceReport) -> list[str]:
    """One line per flagged edge for the designer, or the sentence that none is."""
    lines = r.verdicts()
    if not lines:
        return ["", "every designed percentage is inside its interval (or has no exits)"]
    return ["", f"{len(lines)} designed percentage(s) outside the interval:"] + [
        f"  {line}" for line in lines
    ]
