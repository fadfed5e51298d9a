"""Seeded generator of realistic .flow files of any size, for benchmarks.

Each stage looks like the bundled example's: owner, goal, exit criteria, effort and wait
distributions, one or two touchpoints with pains; every stage converts forward, leaks to
``lost``, and every tenth stage has a rework loop two stages back. Roles and departments grow
with the process (one role per ten stages, one department per three roles).
"""

from __future__ import annotations

import random

DISTS = (
    "triangular({a}h, {b}h, {c}h)",
    "uniform({a}h, {c}h)",
    "lognormal(mean {b}d, sd {a}d)",
    "exponential(mean {b}d)",
    "gamma(mean {b}h, sd {a}h)",
)


def generate(stages: int, seed: int = 42) -> str:
    rng = random.Random(seed)
    roles = max(1, stages // 10)
    depts = max(1, roles // 3)
    out = [
        f'process "Generated {stages}" {{\n  currency CNY\n  arrivals 40 per week\n'
        '  calendar Mon-Fri 09:00-18:00 "Asia/Shanghai"\n}\n\n'
    ]
    out += [f'department d{i} "部门 {i}"\n' for i in range(depts)]
    out += [
        f'role r{i} "角色 {i}" in d{i % depts} headcount {rng.randint(1, 9)}\n'
        for i in range(roles)
    ]
    out.append('persona buyer "采购负责人"\n\n')
    for i in range(stages):
        a, b, c = sorted(rng.randint(1, 12) for _ in range(3))
        c = c + 1
        effort = rng.choice(DISTS).format(a=a, b=b, c=c)
        wait = rng.choice(DISTS).format(a=a, b=b, c=c)
        out.append(
            f'stage s{i} "阶段 {i}" {{\n'
            f"  owner r{i % roles}\n"
            f'  goal "完成第 {i} 步的客户沟通"\n'
            f'  exit "客户确认第 {i} 步的结果"\n'
            f"  effort {effort}\n"
            f"  wait {wait}\n"
            f'  touchpoint "电话沟通 {i}" channel phone emotion {rng.randint(1, 5)}\n'
        )
        if rng.random() < 0.5:
            out.append(f'  touchpoint "邮件 {i}" channel email emotion 3 pain "回复慢"\n')
        out.append("}\n")
    out.append('outcome won "赢单"\noutcome lost "输单"\n\n')
    for i in range(stages):
        nxt = f"s{i + 1}" if i + 1 < stages else "won"
        forward = rng.randint(55, 85)
        out.append(f"s{i} -> {nxt} {forward}%\n")
        if i >= 2 and i % 10 == 0:
            out.append(f's{i} -> s{i - 2} 5% "返工"\n')
        out.append(f"s{i} -> lost\n")
    out.append('\nscenario "more people" {\n  role r0 headcount 12\n}\n')
    return "".join(out)
