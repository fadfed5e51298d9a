"""Which records close a deal: declared outcomes, or outcomes inferred from the log.

A CRM export names its outcomes (``Won``, ``Closed Lost``); an event log often does not:
BPIC 2012 ends its applications with ``A_DECLINED``, ``A_CANCELLED`` or ``A_ACTIVATED``
followed, at the same instant, by the bank's own bookkeeping (offers cancelled, work items
closed). :func:`closing_stages` finds such *closing* activities from the log's structure (as
process-mining tools find end activities) and :func:`cut_after_close` ends each deal at its
first one, so that discovery, metrics and conformance read one log the same way.

The rules (also in ``docs/metrics.md``, "Discovery"):

- **declared** outcomes (a mapping's ``[outcomes]`` table, :attr:`DealLog.outcomes`) are the
  outcomes, and nothing is inferred;
- else a stage is **closing** when it is rarely a deal's first record (at most
  :data:`MAX_FIRST_SHARE` of its deals), rarely repeated within a deal (at most
  :data:`MAX_REPEAT_SHARE`), and at least :data:`MIN_CLOSING_SHARE` of the deals that reach it
  record nothing later than :data:`CLOSE_TAIL_SECONDS` after it;
- its **result** comes from its words (:func:`read_result`: won, approved, activated...; lost,
  declined, cancelled...), else from the closing stages it co-occurs with in at least
  :data:`MIN_CLOSING_SHARE` of its deals, else ``other`` (a note asks for a mapping).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from flowsim.history._close import after_close, before_close
from flowsim.model import infer_result

__all__ = [
    "CLOSE_TAIL_SECONDS",
    "MAX_FIRST_SHARE",
    "MAX_REPEAT_SHARE",
    "MIN_CLOSING_SHARE",
    "Closing",
    "closing_stages",
    "cut_after_close",
    "read_result",
]

#: Records this close after a closing activity belong to the closing step, not to new work.
CLOSE_TAIL_SECONDS = 60.0
#: Share of a stage's deals that must end within the tail for the stage to close deals.
MIN_CLOSING_SHARE = 0.9
#: A stage that starts more of its deals than this is where deals begin, not end.
MAX_FIRST_SHARE = 0.01
#: A stage repeated in more of its deals than this is work that recurs, not a close.
MAX_REPEAT_SHARE = 0.01

# Words of closing activities beyond infer_result's (which names outcomes in a .flow file):
# read only for stages that close deals by the log's structure, so that "A_ACCEPTED" in the
# middle of a funnel is never a win.
_WON_WORDS = re.compile(
    r"(?<![a-z])(?:approved?|activated?|accepted|converted|paid|signed|completed|granted)(?![a-z])"
)
_LOST_WORDS = re.compile(
    r"(?<![a-z])(?:cancell?ed|cancel|withdrawn|abandoned|expired|refused|denied|reject|rejected)"
    r"(?![a-z])|取消|拒绝|撤回"
)


def read_result(stage: str) -> str:
    """``won``, ``lost`` or ``other`` for a closing activity's name.

    Examples
    --------
    >>> read_result("A_DECLINED"), read_result("A_APPROVED"), read_result("A_CANCELLED")
    ('lost', 'won', 'lost')
    >>> read_result("A_REGISTERED")
    'other'
    """
    words = infer_result(stage, None)
    if words != "other":
        return words
    text = stage.lower().replace("_", " ")
    if _LOST_WORDS.search(text):
        return "lost"
    if _WON_WORDS.search(text):
        return "won"
    return "other"


@dataclass(frozen=True)
class Closing:
    """The stages that close deals, each with its result, and how they were found."""

    results: dict[str, str]
    declared: bool
    notes: list[str]


def _profiles(frame: pl.DataFrame) -> pl.DataFrame:
    """Per stage: deals, share first, share repeated, share ending within the tail."""
    tail_us = int(CLOSE_TAIL_SECONDS * 1e6)
    rec = frame.select(
        "deal",
        "stage",
        "entered_at",
        first=pl.int_range(pl.len()).over("deal") == 0,
        end=pl.max_horizontal(pl.coalesce("left_at", "entered_at"), "entered_at")
        .max()
        .over("deal"),
    )
    per_deal = rec.group_by("deal", "stage").agg(
        visits=pl.len(),
        first=pl.col("first").any(),
        ends=(
            (pl.col("end").first() - pl.col("entered_at").min()).dt.total_microseconds() <= tail_us
        ),
    )
    return per_deal.group_by("stage").agg(
        deals=pl.len(),
        first=pl.col("first").mean(),
        repeat=(pl.col("visits") > 1).mean(),
        ends=pl.col("ends").cast(pl.Float64).mean(),
    )


def closing_stages(frame: pl.DataFrame, declared: dict[str, str] | None = None) -> Closing:
    """The stages that close deals in ``frame`` (a :class:`DealLog` frame) and their results.

    ``declared`` (stage → won/lost, a mapping's outcomes) wins when given; else closing
    activities are inferred as the module docstring says.
    """
    if declared:
        present = set(frame["stage"].unique().to_list())
        results = {s: r for s, r in declared.items() if s in present}
        return Closing(results, True, [])
    prof = _profiles(frame)
    candidates = prof.filter(
        (pl.col("first") <= MAX_FIRST_SHARE)
        & (pl.col("repeat") <= MAX_REPEAT_SHARE)
        & (pl.col("ends") >= MIN_CLOSING_SHARE)
    )["stage"].to_list()
    results = {s: read_result(s) for s in sorted(candidates)}
    notes: list[str] = []
    unread = [s for s, r in results.items() if r == "other"]
    if unread:
        results.update(_results_by_company(frame, results, unread))
    for s in sorted(results):
        why = "its name" if read_result(s) != "other" else "the closing activities beside it"
        result = f"result {results[s]} (read from {why})"
        if results[s] == "other":
            result = "result other (add it to a mapping's [outcomes] table to say won or lost)"
        notes.append(
            f"'{s}' closes deals (never first, never repeated, the deal's history ends within "
            f"{CLOSE_TAIL_SECONDS:g} s of it in at least {MIN_CLOSING_SHARE:.0%} of its deals): "
            f"an outcome, {result}"
        )
    return Closing(results, False, notes)


def _results_by_company(
    frame: pl.DataFrame, results: dict[str, str], unread: list[str]
) -> dict[str, str]:
    """The result of the closing stages whose names say nothing, from the ones beside them."""
    worded = [s for s, r in results.items() if r != "other"]
    if not worded:
        return {}
    reached = frame.filter(pl.col("stage").is_in([*worded, *unread])).select("deal", "stage")
    reached = reached.unique()
    named = pl.DataFrame({"stage": worded, "result": [results[s] for s in worded]})
    deals = reached.filter(pl.col("stage").is_in(unread)).rename({"stage": "unread"})
    seen = reached.join(named, on="stage").select("deal", "result").unique()
    totals = deals.group_by("unread").len("deals")
    votes = (
        deals.join(seen, on="deal")
        .group_by("unread", "result")
        .len("votes")
        .join(totals, on="unread")
        # the most votes wins; a tie goes to the later result name, as max() over (votes, name)
        .sort(["unread", "votes", "result"], descending=[False, True, True])
        .group_by("unread", maintain_order=True)
        .first()
        .filter(pl.col("votes") >= MIN_CLOSING_SHARE * pl.col("deals"))
    )
    return dict(zip(votes["unread"].to_list(), votes["result"].to_list(), strict=True))


def cut_after_close(frame: pl.DataFrame, closing: dict[str, str]) -> tuple[pl.DataFrame, int, int]:
    """``frame`` without the records after each deal's first closing record; how many at the
    instant of the close (its own bookkeeping) and how many later (moves out of an outcome,
    which conformance reports as ``after-outcome``).

    ``frame`` is sorted by deal and time (the :class:`DealLog` order).
    """
    if not closing or frame.height == 0:
        return frame, 0, 0
    marked = frame.with_columns(keep=before_close(closing), later=after_close(closing))
    kept = marked.filter(pl.col("keep")).drop("keep", "later")
    later = int(marked.select((~pl.col("keep") & pl.col("later")).sum()).item())
    return kept, frame.height - kept.height - later, later
