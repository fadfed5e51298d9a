"""False alarms of the fidelity check: the bundled model against histories it made itself.

A model checked against a log it generated must pass, except at the check's false-alarm
rate. This measures that rate: ``examples/b2b-cn.flow`` (with the deal amounts
``scripts/make_history.py`` adds) simulates ``--histories`` 26-week histories (seeds 100,
101, ...), and :func:`flowsim.fidelity` judges the model against each, with fidelity seed 7
(not a history's seed: replication 0 of the same seed would be the history's own twin), for
each ``--replications`` value. A history raises an alarm when any of the seven measures is
above 2× its noise floor.

Run: ``.venv/bin/python bench/fidelity_noise.py [--histories 100] [-n 1 -n 3]`` (about 3 s a
history and value of ``-n`` on an idle machine). Measured (docs/fidelity.md): 2 of 100 with
one replication, 4 of 100 with three.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flowsim  # noqa: E402
from flowsim.model import LogNormal  # noqa: E402
from flowsim.sim.fidelity import fidelity  # noqa: E402
from flowsim.sim.simulate import simulate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--histories", type=int, default=100)
    parser.add_argument("-n", "--replications", type=int, action="append")
    args = parser.parse_args()
    process = flowsim.load(ROOT / "examples" / "b2b-cn.flow")
    model = process.model_copy(update={"amount": LogNormal(mean=300_000, sd=150_000)})
    histories = [
        simulate(
            model, replications=1, seed=seed, start=date(2025, 6, 2), until=26 * 7 * 24.0,
            warmup=0.0, workers=1,
        ).event_log
        for seed in range(100, 100 + args.histories)
    ]  # fmt: skip
    for n in args.replications or [1, 3]:
        alarms, measures, worst = 0, Counter[str](), []
        for history in histories:
            r = fidelity(process, history, replications=n, seed=7, tz="Asia/Shanghai")
            alarms += not r.trusted
            measures.update(m.name for m in r.failing)
            worst.append(max(m.ratio for m in r.measures if m.ratio is not None))
        top = ", ".join(f"{w:.2f}" for w in sorted(worst)[-5:])
        print(
            f"replications {n}: {alarms} of {len(histories)} histories raised an alarm "
            f"({dict(measures)}); the five largest worst ratios: {top}"
        )


if __name__ == "__main__":
    main()
