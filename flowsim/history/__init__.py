"""Deal history: import CRM exports and event logs into one :class:`DealLog` (issue 4).

``read_log(path)`` picks the reader by file name: ``.xes``/``.xes.gz`` → :func:`read_xes`,
anything else → :func:`read_csv` (long shape). Bad input raises :class:`LogError` with every
problem located by file, row and column, unless ``lenient=True``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flowsim.history.log import SCHEMA, DealLog, ImportReport
from flowsim.history.mapping import Mapping
from flowsim.history.problems import LogError, LogProblem
from flowsim.history.read_csv import read_csv
from flowsim.history.read_xes import read_xes

__all__ = [
    "SCHEMA",
    "DealLog",
    "ImportReport",
    "LogError",
    "LogProblem",
    "Mapping",
    "read_csv",
    "read_log",
    "read_xes",
]


def read_log(path: str | Path, **options: Any) -> DealLog:
    """Import a deal log, choosing the reader from the file name."""
    name = Path(path).name.lower()
    if name.endswith((".xes", ".xes.gz")):
        return read_xes(path, **options)
    return read_csv(path, **options)
