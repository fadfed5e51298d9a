"""What the studio's editor knows about the ``.flow`` language, and the ids of a model.

``GET /api/language`` sends :func:`language_info` once per page: the keywords (the
parser's own list, :data:`flowsim.dsl.keywords.KEYWORDS`), the distribution names and a
short hover text for each, taken from docs/language.md at build time
(:mod:`flowsim.studio.keyword_help`). The render answer carries :func:`symbols`, the ids
the editor offers to complete.
"""

from __future__ import annotations

from typing import Any

from flowsim.dsl.keywords import KEYWORDS
from flowsim.model import Process
from flowsim.studio.keyword_help import DISTRIBUTIONS, HELP

__all__ = ["language_info", "symbols"]


def language_info() -> dict[str, Any]:
    """Keywords, distribution names and hover help, JSON-ready."""
    return {
        "keywords": sorted(KEYWORDS),
        "distributions": list(DISTRIBUTIONS),
        "help": dict(HELP),
    }


def symbols(process: Process) -> dict[str, list[str]]:
    """The ids a ``.flow`` text declares, by kind (includes' departments, roles, personas too)."""
    return {
        "stage": [s.id for s in process.stages],
        "outcome": [o.id for o in process.outcomes],
        "role": [r.id for r in process.roles],
        "department": [d.id for d in process.departments],
        "persona": [p.id for p in process.personas],
    }
