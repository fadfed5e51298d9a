"""The language of a process's user-facing words: ``zh`` for a Chinese process, else ``en``.

One rule for every place that writes sentences (the report, the terminal summaries of
``flowsim simulate`` and ``flowsim bottlenecks``), so they agree on a process's language.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from flowsim.model import Process

if TYPE_CHECKING:
    from flowsim.history.log import DealLog

__all__ = ["detect_language", "process_language"]

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def detect_language(process: Process, stages: Iterable[str] = ()) -> str:
    """``zh`` when at least half of the names a report shows are Chinese, else ``en``.

    The names: the process name and every stage, outcome, role and department as the report
    writes it (the label, else the id), plus the distinct ``stages`` of the history (the
    data). A name is Chinese when it holds a Han character. Each name is one vote, so a
    model with Chinese ids and no labels reads as Chinese, and one English word among Chinese
    labels (``B2B``) does not tip it.
    """
    names = [process.name]
    names += [x.display for x in (*process.stages, *process.outcomes)]
    names += [x.display for x in (*process.roles, *process.departments)]
    names += sorted({str(s) for s in stages if s})
    chinese = sum(1 for n in names if _HAN.search(n))
    return "zh" if 2 * chinese >= len(names) else "en"


def process_language(process: Process, log: DealLog | None = None) -> str:
    """:func:`detect_language` from the model's names and the stage values of ``log``."""
    stages = log.frame["stage"].unique().to_list() if log is not None else []
    return detect_language(process, stages)
