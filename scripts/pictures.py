"""Regenerate the README's pictures (docs/img/*.svg) from the bundled example.

Usage: .venv/bin/python scripts/pictures.py [--check]
With --check, exit 1 if a committed picture differs from a fresh rendering (used by tests).
"""

from __future__ import annotations

import sys
from pathlib import Path

import flowsim

ROOT = Path(__file__).resolve().parent.parent
PICTURES = {
    "docs/img/b2b-cn.flowchart.svg": dict(view="flowchart", format="svg", touchpoints=True),
    "docs/img/b2b-cn.journey.svg": dict(view="journey", format="svg"),
}


def pictures() -> dict[str, bytes]:
    process = flowsim.load(ROOT / "examples" / "b2b-cn.flow")
    return {path: flowsim.render(process, lang="zh", **opts) for path, opts in PICTURES.items()}


def main() -> int:
    check = "--check" in sys.argv[1:]
    stale = []
    for rel, data in pictures().items():
        path = ROOT / rel
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(rel)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(rel)
    if stale:
        print("stale pictures (run `make pictures`): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
