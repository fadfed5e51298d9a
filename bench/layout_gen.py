"""Seeded generator of cross-department processes for the layout benchmark.

A process of ``stages`` stages owned by ten roles in five departments. The owner moves between
departments as the deal advances (a random walk that changes department at two stages in
three), most stages can leak to ``lost``, every fifth stage or so has a rework loop one to three
stages back, some stages skip one ahead, some stages end in ``no decision``, and the last one
converts to ``won``. Every stage has a goal, an exit criterion and one or two touchpoints with
an emotion score, so the journey map has something in every row.
"""

from __future__ import annotations

import random

DEPARTMENTS = (
    ("marketing", "Marketing"),
    ("sdr", "Sales Development"),
    ("sales", "Sales"),
    ("solutions", "Solutions Engineering"),
    ("success", "Customer Success"),
)
VERBS = (
    "Qualify",
    "Review",
    "Schedule",
    "Prepare",
    "Present",
    "Confirm",
    "Negotiate",
    "Validate",
    "Approve",
    "Draft",
    "Send",
    "Collect",
    "Check",
    "Agree",
    "Plan",
)
NOUNS = (
    "lead",
    "demo",
    "budget",
    "proposal",
    "contract",
    "security review",
    "pilot",
    "pricing",
    "references",
    "legal terms",
    "kick-off",
    "requirements",
    "business case",
    "data import",
)
CHANNELS = ("email", "phone", "web", "video", "visit", "chat")


def _head(stages: int, rng: random.Random) -> list[str]:
    out = [
        f'process "Generated {stages}-stage process" {{\n  currency USD\n'
        "  arrivals 40 per week\n}\n\n"
    ]
    out += [f'department {key} "{name}"\n' for key, name in DEPARTMENTS]
    for key, name in DEPARTMENTS:
        for j in range(2):
            out.append(f'role {key}{j} "{name.split()[0]} {j + 1}" in {key} headcount ')
            out.append(f"{rng.randint(1, 6)}\n")
    out.append('persona buyer "Head of Operations" {\n  goal "Replace spreadsheets"\n}\n\n')
    return out


def _stage(i: int, dept: int, rng: random.Random) -> str:
    name = f"{rng.choice(VERBS)} {rng.choice(NOUNS)} {i + 1}"
    owner = f"{DEPARTMENTS[dept][0]}{rng.randint(0, 1)}"
    tps = [
        f'  touchpoint "{rng.choice(NOUNS).capitalize()} {rng.choice(("call", "mail", "form"))}"'
        f" channel {rng.choice(CHANNELS)} emotion {rng.randint(1, 5)}"
        + (' pain "Waiting for an answer"' if rng.random() < 0.3 else "")
        + "\n"
        for _ in range(rng.randint(1, 2))
    ]
    return (
        f'stage s{i} "{name}" {{\n  owner {owner}\n  goal "Move step {i + 1} forward"\n'
        f'  exit "Step {i + 1} agreed with the buyer"\n'
        f"  effort triangular({rng.randint(1, 3)}h, {rng.randint(4, 6)}h, 9h)\n"
        f"  wait exponential(mean {rng.randint(1, 5)}d)\n" + "".join(tps) + "}\n"
    )


def _transitions(i: int, stages: int, rng: random.Random) -> list[str]:
    out = []
    nxt = f"s{i + 1}" if i + 1 < stages else "won"
    out.append(f"s{i} -> {nxt} {rng.randint(55, 80)}%\n")
    if i + 2 < stages and rng.random() < 0.12:
        out.append(f's{i} -> s{i + 2} {rng.randint(3, 8)}% "fast track"\n')
    if i >= 3 and rng.random() < 0.2:
        back = rng.randint(1, 3)
        out.append(f's{i} -> s{i - back} {rng.randint(3, 10)}% "rework"\n')
    if rng.random() < 0.15:
        out.append(f"s{i} -> no_decision {rng.randint(2, 6)}%\n")
    out.append(f"s{i} -> lost\n")
    return out


def generate(stages: int, seed: int = 7) -> str:
    """``.flow`` text of a generated process with ``stages`` stages (same seed, same text)."""
    rng = random.Random(seed * 1000 + stages)
    out = _head(stages, rng)
    dept = 0
    for i in range(stages):
        if i and rng.random() < 2 / 3:
            dept = rng.choice([d for d in range(len(DEPARTMENTS)) if d != dept])
        out.append(_stage(i, dept, rng))
    out.append('outcome won "Won"\noutcome lost "Lost"\noutcome no_decision "No decision"\n\n')
    for i in range(stages):
        out += _transitions(i, stages, rng)
    return "".join(out)
