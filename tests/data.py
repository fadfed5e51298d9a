"""Where the shared real datasets live (read in place, never copied into the repository).

``FLOWSIM_SHARED_DATA`` wins; else ``../shared/data`` next to the checkout; else the
workspace's ``/work/shared/data`` (a clean clone elsewhere still finds it).
"""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _find() -> Path:
    env = os.environ.get("FLOWSIM_SHARED_DATA")
    candidates = [Path(env)] if env else []
    candidates += [ROOT.parent / "shared" / "data", Path("/work/shared/data")]
    for c in candidates:
        if c.is_dir():
            return c
    return candidates[-1]


DATA = _find()
