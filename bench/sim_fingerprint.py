"""Fingerprints of the engine's output over many configurations: check a change is byte-identical.

Run before and after an engine change and compare the two files::

    PYTHONPATH=. .venv/bin/python bench/sim_fingerprint.py /tmp/before.json
    # ... change the engine ...
    PYTHONPATH=. .venv/bin/python bench/sim_fingerprint.py /tmp/after.json
    cmp /tmp/before.json /tmp/after.json

Each case hashes every ``Run`` the engine returns (all arrays and fields, ``Run.events``
included, and the folded tally) and, for ``simulate`` results, their JSON and event log. The
cases cover the calendar and none, scenarios, warm-up, priority by amount, unlimited capacity,
``deals``, folding, given arrival times, a fixed-duration model full of same-instant ties,
the SaaS and tutorial examples, replays (the pm4py running example, the b2b history with both
scenarios), a start from today (Maven CRM; the shared data of ``tests/data.py``) and parallel
blocks (``examples/language/20-parallel.flow`` with arrivals; a busier block with an outcome
inside a branch, by amount, folded, and with deals open inside its branches), and arrivals
by a profile (``examples/language/20-arrival-profile.flow`` and its scenario).
"""

from __future__ import annotations

import hashlib
import json
import pickle
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

import flowsim
from flowsim.sim import engine
from flowsim.sim.engine import Run, Settings, run_once
from flowsim.sim.replay import OpenDeal
from flowsim.sim.simulate import simulate

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.data import DATA  # noqa: E402

EPOCH = datetime(2026, 1, 5, tzinfo=UTC)
TIES = """
process "ties" { arrivals every fixed(1h)
  calendar Mon-Fri 09:00-18:00 "UTC" }
role rep headcount 2 from 2026-01-08 headcount 3
stage a { owner rep effort fixed(1h) wait fixed(2h) }
stage b { owner rep effort fixed(2h) }
outcome won
outcome lost
a -> b 70%
a -> lost
b -> won 50%
b -> a 20%
b -> lost
"""

PARALLEL = """
process "deal" { arrivals every exponential(mean 3h) }
role rep headcount 2
role counsel headcount 1
stage proposal { owner rep effort 2h }
stage legal { owner counsel effort exponential(mean 2h) wait fixed(1h) }
stage validation { owner rep effort 3h }
stage sign_off { effort 1h }
stage contract { owner rep effort 1h }
outcome won
outcome lost
proposal -> parallel { legal, validation -> sign_off } -> contract
legal -> lost 30%
legal -> contract
contract -> won
"""

runs: list[str] = []


def _hash_run(run: Run) -> str:
    fields = sorted(
        (k, v.tobytes() if isinstance(v, np.ndarray) else v)
        for k, v in vars(run).items()
        if k != "folded"
    )
    h = hashlib.sha256(pickle.dumps(fields, protocol=4))
    if run.folded is not None:
        h.update(pickle.dumps(run.folded, protocol=4))
    return h.hexdigest()[:16]


def _recording(original: Callable[[engine.Engine], Run]) -> Callable[[engine.Engine], Run]:
    def run(self: engine.Engine) -> Run:
        out = original(self)
        runs.append(_hash_run(out))
        return out

    return run


def _result_hash(result: Any) -> str:
    if not hasattr(result, "model_dump_json"):
        return ""
    out = hashlib.sha256(result.model_dump_json().encode()).hexdigest()[:16]
    if getattr(result, "_event_log", None) is not None:
        log = result.event_log.frame.write_csv().encode()
        out += ":" + hashlib.sha256(log).hexdigest()[:16]
    return out


def cases() -> dict[str, Callable[[], Any]]:
    b2b = flowsim.load(str(ROOT / "examples" / "b2b-cn.flow"))
    saas = flowsim.load(str(ROOT / "examples" / "saas-en.flow"))
    nocal = b2b.model_copy(update={"calendar": None})
    ties = flowsim.parse(TIES)
    step5 = flowsim.load(str(ROOT / "examples" / "tutorial" / "step5.flow"))
    sc = [s.name for s in b2b.scenarios]
    running = flowsim.read_log(DATA / "pm4py-logs" / "running-example.xes")
    rp = flowsim.discover(running).process
    hist = flowsim.read_log(ROOT / "examples" / "history" / "b2b-cn-deals.csv")
    maven = flowsim.read_log(DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv")
    mp = flowsim.discover(maven).process
    times = tuple(float(x) for x in range(0, 2000, 3))
    par_text = (ROOT / "examples" / "language" / "20-parallel.flow").read_text(encoding="utf-8")
    par = flowsim.parse(par_text.replace('work"\n', 'work" { arrivals 12 per week }\n', 1))
    par_busy = flowsim.parse(PARALLEL)
    rhythm = flowsim.load(str(ROOT / "examples" / "language" / "20-arrival-profile.flow"))
    nodes = [n.id for n in par_busy.iter_nodes()]
    inside = tuple(
        OpenDeal(deal=f"H{i}", node=nodes.index(s), age=1.0, since=30.0, amount=float(i))
        for i, s in enumerate(["legal", "validation", "sign_off"] * 40)
    )
    one: dict[str, Any] = {"workers": 1}
    return {
        "b2b": lambda: simulate(b2b, replications=2, seed=3, until="120d", **one),
        "b2b-scenarios": lambda: simulate(
            b2b, replications=2, seed=5, until="90d", scenarios=sc, **one
        ),
        "b2b-nocal": lambda: simulate(nocal, replications=2, seed=1, until="120d", **one),
        "b2b-warm0": lambda: simulate(b2b, replications=1, seed=2, until="200d", warmup=0, **one),
        "b2b-amount": lambda: simulate(
            b2b, replications=2, seed=3, until="120d", priority="amount", **one
        ),
        "b2b-unlimited": lambda: simulate(
            b2b, replications=2, seed=3, until="120d", unlimited=True, **one
        ),
        "b2b-deals": lambda: simulate(
            b2b, replications=1, seed=3, deals=3000, keep_log=False, **one
        ),
        "saas": lambda: simulate(saas, replications=2, seed=3, until="180d", **one),
        "saas-scenario": lambda: simulate(
            saas, replications=2, seed=3, until="180d", scenarios=[saas.scenarios[0].name], **one
        ),
        "fold": lambda: run_once(nocal, Settings(epoch=EPOCH, deals=3000, fold_at=500), 1, 0),
        "fold-calendar": lambda: run_once(
            b2b, Settings(epoch=EPOCH, until=24 * 400, fold_at=700, warmup=100), 1, 0
        ),
        "arrival-times": lambda: run_once(
            b2b, Settings(epoch=EPOCH, until=24 * 100, arrival_times=times), 1, 0
        ),
        "b2b-5000": lambda: run_once(b2b, Settings(epoch=EPOCH, deals=5000), 1, 0),
        "ties": lambda: run_once(ties, Settings(epoch=EPOCH, until=24 * 30), 1, 0),
        "ties-nocal": lambda: run_once(
            ties.model_copy(update={"calendar": None}), Settings(epoch=EPOCH, until=24 * 30), 1, 0
        ),
        "ties-amount": lambda: run_once(
            ties, Settings(epoch=EPOCH, until=24 * 30, priority="amount", warmup=48), 1, 0
        ),
        "step5": lambda: simulate(step5, replications=2, seed=3, until="60d", **one),
        "replay-running": lambda: simulate(rp, running, replications=2, seed=1, **one),
        "replay-running-unlimited": lambda: simulate(
            rp, running, replications=1, seed=1, unlimited=True, **one
        ),
        "replay-b2b": lambda: simulate(b2b, hist, replications=2, seed=1, scenarios=sc, **one),
        "from-today": lambda: simulate(
            mp,
            maven,
            as_of=datetime(2017, 9, 30, tzinfo=UTC),
            until=24 * 60.0,
            replications=2,
            seed=1,
            **one,
        ),
        "arrival-profile": lambda: simulate(
            rhythm, replications=2, seed=2, until="120d", scenarios=["Campaign"], **one
        ),
        "parallel": lambda: simulate(par, replications=2, seed=3, until="120d", **one),
        "parallel-busy": lambda: simulate(
            par_busy, replications=2, seed=4, until="60d", priority="amount", **one
        ),
        "parallel-fold": lambda: run_once(
            par_busy, Settings(epoch=EPOCH, deals=3000, fold_at=400, warmup=48), 1, 0
        ),
        "parallel-open": lambda: run_once(
            par_busy, Settings(epoch=EPOCH, until=24 * 30, open_deals=inside), 1, 0
        ),
    }


def main() -> None:
    engine.Engine.run = _recording(engine.Engine.run)  # type: ignore[method-assign]
    out: dict[str, tuple[list[str], str]] = {}
    for name, case in cases().items():
        runs.clear()
        result = case()
        out[name] = (list(runs), _result_hash(result))
        print(name, *out[name], flush=True)
    Path(sys.argv[1]).write_text(json.dumps(out, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
