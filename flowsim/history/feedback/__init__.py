"""Customer feedback on the journey (issue 18): answers read, measured, and their complaints.

- :func:`read_feedback` reads a feedback export (CSV, Excel, Parquet, SQL) into a
  :class:`FeedbackLog`, with the deal-log readers' decoding and row-level error rules;
- :func:`measure_journey` compares the answers with a process's touchpoints: responses, mean
  score with a 95% t interval, NPS on 0-10, the share of negative answers, and a verdict where
  the designed ``emotion`` lies outside the measured interval (:class:`MeasuredJourney`);
- :func:`pain_points` finds the frequent complaint themes per touchpoint in the comments;
- :func:`score_outcomes` relates scores to deal outcomes: the win rate by score band per stage.

The package sits at the history level: it reads with the history readers and imports nothing
above them (docs/design.md, Layers).
"""

from __future__ import annotations

from flowsim.history.feedback.journey import JourneyRow, MeasuredJourney, measure_journey
from flowsim.history.feedback.outcomes import ScoreOutcomes, score_outcomes
from flowsim.history.feedback.read import FeedbackLog, FeedbackReport, read_feedback
from flowsim.history.feedback.scale import SCALES, Scale
from flowsim.history.feedback.themes import PainPoints, Theme, TouchpointThemes, pain_points

__all__ = [
    "SCALES",
    "FeedbackLog",
    "FeedbackReport",
    "JourneyRow",
    "MeasuredJourney",
    "PainPoints",
    "Scale",
    "ScoreOutcomes",
    "Theme",
    "TouchpointThemes",
    "measure_journey",
    "pain_points",
    "read_feedback",
    "score_outcomes",
]
