"""Feedback and outcomes: the win rate of the deals that scored a stage low, middling or high.

Each answer with a deal id is placed on the process (:func:`~.journey.place`); a deal's score
at a stage is the mean of its answers there (one deal, one vote). The deal's result is that
of its first record in an outcome of the process (by id or label; ``won``/``lost`` as the
process declares), else it is open. Per stage and score band:

- 1-5: ``1-2`` (≤ 2), ``3`` (between), ``4-5`` (≥ 4);
- 0-10: ``detractor 0-6`` (≤ 6), ``passive 7-8``, ``promoter 9-10`` (≥ 9);
- −2..+2: ``negative`` (≤ −1), ``neutral``, ``positive`` (≥ 1);

the deals, won, lost and open, and the win rate won / (won + lost) with its 95% Wilson
interval. Answers whose deal is not in the log are counted (``unmatched``), never guessed.
"""

from __future__ import annotations

import json

import polars as pl
from pydantic import ConfigDict

from flowsim._base import FlowsimModel
from flowsim.graph import phase_order
from flowsim.history.conformance import wilson_interval
from flowsim.history.feedback.journey import place
from flowsim.history.feedback.read import FeedbackLog
from flowsim.history.log import DealLog
from flowsim.model import Process
from flowsim.result import html_table

__all__ = ["BANDS", "BandRow", "ScoreOutcomes", "score_outcomes"]

#: per scale: (low band, its upper bound), middle band, (high band, its lower bound)
BANDS: dict[str, tuple[tuple[str, float], str, tuple[str, float]]] = {
    "1-5": (("1-2", 2), "3", ("4-5", 4)),
    "0-10": (("detractor 0-6", 6), "passive 7-8", ("promoter 9-10", 9)),
    "-2..2": (("negative", -1), "neutral", ("positive", 1)),
}


class BandRow(FlowsimModel):
    """One stage and score band: its deals and their win rate with a 95% Wilson interval."""

    model_config = ConfigDict(frozen=True)

    stage: str
    phase: str
    band: str
    deals: int
    won: int
    lost: int
    open: int
    win_rate: float | None
    low: float | None
    high: float | None


class ScoreOutcomes(FlowsimModel):
    """Win rate by score band per stage (module doc); follows :class:`flowsim.Result`."""

    model_config = ConfigDict(frozen=True)

    scale: str
    answers_with_deal: int
    unmatched: int
    rows: list[BandRow]

    def to_frame(self) -> pl.DataFrame:
        """One row per stage and band."""
        return pl.DataFrame([r.model_dump() for r in self.rows], schema=_SCHEMA)

    def to_json(self) -> str:
        """Every figure as JSON."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, indent=2)

    def _repr_html_(self) -> str:
        return html_table("win rate by score band", self.to_frame())

    def text(self) -> str:
        """The table (``flowsim metrics --feedback`` prints it)."""
        from flowsim.history.table import _table

        def pct(x: float | None) -> str:
            return "-" if x is None else f"{x * 100:.0f}%"

        def interval(r: BandRow) -> str:
            return "-" if r.low is None else f"{pct(r.low)}–{pct(r.high)}"

        cells = [
            [r.phase, r.band, f"{r.deals:,}", f"{r.won:,}", f"{r.lost:,}", pct(r.win_rate)]
            for r in self.rows
        ]
        cells = [[*c, interval(r)] for c, r in zip(cells, self.rows, strict=True)]
        head = ["stage", f"score ({self.scale})", "deals", "won", "lost", "win rate", "95% CI"]
        lines = [
            f"win rate by score band: {self.answers_with_deal:,} answers with a deal id, "
            f"{self.unmatched:,} of them on deals not in the log",
            _table(head, cells),
        ]
        return "\n".join(lines) + "\n"


_SCHEMA = {
    "stage": pl.String,
    "phase": pl.String,
    "band": pl.String,
    "deals": pl.Int64,
    "won": pl.Int64,
    "lost": pl.Int64,
    "open": pl.Int64,
    "win_rate": pl.Float64,
    "low": pl.Float64,
    "high": pl.Float64,
}


def deal_results(log: DealLog, process: Process) -> pl.DataFrame:
    """``deal`` → ``result`` (won/lost/other) of each closed deal: its first outcome record."""
    results = {}
    for outcome in process.outcomes:
        results[outcome.id] = outcome.result
        if outcome.label:
            results[outcome.label] = outcome.result
    closing = pl.DataFrame(
        {"stage": list(results), "result": list(results.values())},
        schema={"stage": pl.String, "result": pl.String},
    )
    return (
        log.frame.select("deal", "stage", "entered_at")
        .join(closing, on="stage", how="inner")
        .sort("deal", "entered_at", maintain_order=True)
        .group_by("deal", maintain_order=True)
        .agg(pl.col("result").first())
    )


def _band(scale: str) -> pl.Expr:
    (low, upper), middle, (high, lower) = BANDS[scale]
    score = pl.col("score")
    return (
        pl.when(score <= upper)
        .then(pl.lit(low))
        .when(score >= lower)
        .then(pl.lit(high))
        .otherwise(pl.lit(middle))
    )


def score_outcomes(feedback: FeedbackLog, log: DealLog, process: Process) -> ScoreOutcomes:
    """Win rate by score band per stage of ``process`` (module doc).

    Parameters
    ----------
    feedback : FeedbackLog
        The answers; only those with a deal id count.
    log : DealLog
        The deal history: each deal's result.
    process : Process
        The designed process: its stages and which outcomes are won or lost.

    Returns
    -------
    ScoreOutcomes
        A row per stage and band (bands without deals left out), in the journey's order.
    """
    placed = place(feedback, process).filter(
        pl.col("deal").is_not_null() & pl.col("stage_id").is_not_null()
    )
    results = deal_results(log, process)
    known = placed["deal"].is_in(log.frame["deal"].unique().implode())
    votes = (
        placed.filter(known)
        .group_by("deal", "stage_id")
        .agg(pl.col("score").mean())
        .with_columns(_band(feedback.scale.name).alias("band"))
        .join(results, on="deal", how="left")
    )
    labels = {s.id: s.label or s.id for s in process.stages}
    order = BANDS[feedback.scale.name]
    rows = []
    for sid in phase_order(process):
        for band in (order[0][0], order[1], order[2][0]):
            group = votes.filter((pl.col("stage_id") == sid) & (pl.col("band") == band))
            if group.height:
                rows.append(_band_row(sid, labels[sid], band, group))
    return ScoreOutcomes(
        scale=feedback.scale.name,
        answers_with_deal=placed.height,
        unmatched=int((~known).sum()),
        rows=rows,
    )


def _band_row(sid: str, phase: str, band: str, group: pl.DataFrame) -> BandRow:
    won = int((group["result"] == "won").sum())
    lost = int((group["result"] == "lost").sum())
    interval = wilson_interval(won, won + lost)
    return BandRow(
        stage=sid,
        phase=phase,
        band=band,
        deals=group.height,
        won=won,
        lost=lost,
        open=group.height - won - lost,
        win_rate=won / (won + lost) if won + lost else None,
        low=interval[0] if interval else None,
        high=interval[1] if interval else None,
    )
