"""The measured journey and the pain points as plain text for a terminal."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowsim.history.table import _table

if TYPE_CHECKING:
    from flowsim.history.feedback.journey import JourneyRow, MeasuredJourney
    from flowsim.history.feedback.themes import PainPoints

__all__ = ["journey_text", "themes_text"]


def _f(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def _interval(low: float | None, high: float | None, digits: int = 2) -> str:
    return "-" if low is None or high is None else f"{low:.{digits}f}–{high:.{digits}f}"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x * 100:.0f}%"


def _cells(r: JourneyRow, nps: bool, history: bool) -> list[str]:
    name = f"  {r.touchpoint}" if r.level == "touchpoint" else r.phase
    cells = [
        name,
        f"{r.responses:,}",
        _f(r.mean),
        _interval(r.low, r.high),
        _f(r.designed),
        r.verdict,
        _pct(r.negative),
    ]
    if nps:
        cells += [_f(r.nps, 0), _interval(r.nps_low, r.nps_high, 0)]
    if history:
        deals = "" if r.deals is None else f"{r.deals:,}"
        rework = "" if r.rework is None else f"{r.rework:,}"
        days = "" if r.median_days is None else f"{r.median_days:.1f}"
        cells += [deals, "" if r.drop_off is None else _pct(r.drop_off), days, rework]
    return cells


def journey_text(m: MeasuredJourney) -> str:
    """Header, one line per phase with its touchpoints indented under it, the warnings."""
    nps = m.scale == "0-10"
    headers = ["phase / touchpoint", "answers", "mean", "95% CI", "designed", "verdict", "neg"]
    if nps:
        headers += ["NPS", "NPS 95% CI"]
    history = any(r.deals is not None for r in m.rows)
    if history:
        headers += ["deals", "lost", "days", "rework"]
    rows: list[list[str]] = []
    pending: list[list[str]] = []
    for r in m.rows:  # a phase's touchpoints come before it: print the phase first
        if r.level == "touchpoint":
            pending.append(_cells(r, nps, history))
        else:
            rows += [_cells(r, nps, history), *pending]
            pending = []
    skipped = m.rows_read - m.answers
    reasons = ", ".join(f"{k} {v:,}" for k, v in sorted(m.skipped_by_reason.items()))
    out = [
        f"source: {m.source}; rows read {m.rows_read:,}, skipped {skipped:,}"
        + (f" ({reasons})" if reasons else "")
        + f"; {m.answers:,} answers, {m.placed:,} placed on {m.process!r}; scale {m.scale}",
        "designed = the touchpoint's emotion (1-5) on this scale; verdict: the 95% interval "
        "of the mean against it"
        + (
            "; from the deal log: deals entered, lost = share of exits to a lost outcome, "
            "days = median of the latest stay, rework = re-entries"
            if history
            else ""
        ),
        "",
        _table(headers, rows),
    ]
    out += [str(q) for q in m.problems]
    return "\n".join(out) + "\n"


def themes_text(pp: PainPoints) -> str:
    """Per touchpoint: its complaint themes with counts and examples, and unmatched pains."""
    out = [f"complaints (comments of negative answers): {pp.complaints:,}"]
    for t in pp.touchpoints:
        title = t.touchpoint or "(stage only)"
        out.append(f"{t.phase} / {title}: {t.complaints:,} complaints")
        for th in t.themes:
            pains = f"  = designed pain {', '.join(th.pains)}" if th.pains else ""
            out.append(f"  {th.word} ×{th.count}: " + " | ".join(th.examples) + pains)
        for pain in t.unmatched_pains:
            out.append(f"  designed pain not heard: {pain}")
    return "\n".join(out) + "\n"
