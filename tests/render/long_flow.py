"""A long cross-department process with a parallel block, for the wrapped-layout tests."""

from __future__ import annotations


def long_process(stages: int = 40, fork_at: int = 20) -> str:
    """``stages`` stages in turn owned by three departments, each able to lose the deal, and
    a parallel block after stage ``fork_at`` whose one branch can lose it too."""
    depts = ["sales", "legal", "delivery"]
    lines = ['process "Long parallel"']
    for d in depts:
        lines += [f'department {d} "{d.title()}"', f'role r_{d} "{d} person" in {d} headcount 2']
    for i in range(stages):
        lines.append(f'stage s{i} "Stage {i}" {{ owner r_{depts[i % 3]} effort 1h }}')
    lines += [
        'stage b1 "Branch review" { owner r_legal effort 2h }',
        'stage b2 "Branch check" { owner r_delivery effort 2h }',
        'stage b3 "Branch sign-off" { owner r_delivery effort 1h }',
        'outcome won "Won"',
        'outcome lost "Lost"',
    ]
    for i in range(stages):
        nxt = f"s{i + 1}" if i < stages - 1 else "won"
        if i == fork_at:
            lines.append(f"s{i} -> parallel {{ b1, b2 -> b3 }} -> {nxt}")
            lines += ["b1 -> lost 10%", f"b1 -> {nxt}"]
        else:
            lines += [f"s{i} -> {nxt} 95%", f"s{i} -> lost"]
    return "\n".join(lines) + "\n"
