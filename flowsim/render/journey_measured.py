"""The measured emotion on the journey map: customers' scores beside the designed curve.

:func:`measured_layer` adds to the emotion row the journey map already laid out: at each
touchpoint's x (given by the map), a vertical band for the 95% interval of the measured mean,
a diamond at the mean with its figure, a dashed line through the means, and a ring where the
verdict is ``worse`` or ``better`` (the design lies outside the interval). It reads no
geometry but the anchors and the map's ``y_of`` (score → y), so the map's own layout may
change freely. :func:`measured_points` turns a
:class:`~flowsim.history.feedback.MeasuredJourney` into the points the options carry.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING
from xml.sax.saxutils import escape, quoteattr

from flowsim.render.options import MeasuredPoint
from flowsim.render.theme import Theme

if TYPE_CHECKING:
    from flowsim.history.feedback.journey import MeasuredJourney

__all__ = ["measured_layer", "measured_points"]

#: the measured marks sit this far right of the designed ones, so neither hides the other
OFFSET = 9.0


def measured_points(journey: MeasuredJourney) -> tuple[MeasuredPoint, ...]:
    """The touchpoints of ``journey`` with answers, on the emotion scale 1-5."""
    return tuple(
        MeasuredPoint(
            stage=r.stage,
            touchpoint=r.touchpoint,
            mean=r.measured_emotion,
            low=r.emotion_low,
            high=r.emotion_high,
            responses=r.responses,
            verdict=r.verdict,
        )
        for r in journey.rows
        if r.level == "touchpoint" and r.touchpoint is not None and r.measured_emotion is not None
    )


def _n(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def measured_layer(
    anchors: Sequence[tuple[str, str, float]],
    y_of: Callable[[float], float],
    points: Sequence[MeasuredPoint],
    theme: Theme,
    size: float,
    *,
    suffix: str = "",
) -> list[str]:
    """SVG lines of the measured curve (module doc); nothing without points.

    ``anchors``: (stage id, touchpoint name, x) of every touchpoint the map shows, in order
    (in a map wrapped into rows: those of one row, whose element ids end with ``suffix``).
    """
    by_key = {(m.stage, m.touchpoint): m for m in points}
    placed = [(x, by_key[(s, t)]) for s, t, x in anchors if (s, t) in by_key]
    if not placed:
        return []
    color = theme.edge_rework
    out = [f'<g id="measured{suffix}">']
    if len(placed) > 1:
        d = " ".join(
            f"{'M' if i == 0 else 'L'}{_n(x + OFFSET)},{_n(y_of(m.mean))}"
            for i, (x, m) in enumerate(placed)
        )
        out.append(
            f'<path id="measured-curve{suffix}" d="{d}" fill="none" stroke="{color}" '
            'stroke-width="1.5" stroke-dasharray="5 3"/>'
        )
    for x, m in placed:
        out += _mark(x + OFFSET, m, y_of, color, theme, size)
    out.append("</g>")
    return out


def _mark(
    x: float,
    m: MeasuredPoint,
    y_of: Callable[[float], float],
    color: str,
    theme: Theme,
    size: float,
) -> list[str]:
    """One touchpoint: its interval band, the mean's diamond and figure, a ring if it differs."""
    y = y_of(m.mean)
    interval = "" if m.low is None else f", 95% CI {m.low:.2f}–{m.high:.2f}"
    tip = f"{m.touchpoint}: measured {m.mean:.2f}/5{interval}, n={m.responses}, {m.verdict}"
    out = ["<g>", f"<title>{escape(tip)}</title>"]
    if m.low is not None and m.high is not None:
        top, bottom = y_of(m.high), y_of(m.low)
        out.append(
            f'<rect x="{_n(x - 3)}" y="{_n(top)}" width="6" height="{_n(max(bottom - top, 1))}" '
            f'fill="{color}" fill-opacity="0.25" stroke="{color}" stroke-width="0.8"/>'
        )
    out.append(
        f'<path d="M{_n(x)},{_n(y - 5)} L{_n(x + 5)},{_n(y)} L{_n(x)},{_n(y + 5)} '
        f'L{_n(x - 5)},{_n(y)} Z" fill="{color}" stroke="{theme.background}" stroke-width="1"/>'
    )
    if m.verdict in ("worse", "better"):
        out.append(
            f'<circle cx="{_n(x)}" cy="{_n(y)}" r="9" fill="none" stroke="{color}" '
            'stroke-width="1.5"/>'
        )
    out.append(
        f'<text x="{_n(x + 8)}" y="{_n(y + size * 0.35)}" font-size="{_n(size)}" '
        f'fill={quoteattr(color)} font-weight="bold">{escape(f"{m.mean:.1f}")}</text>'
    )
    out.append("</g>")
    return out
