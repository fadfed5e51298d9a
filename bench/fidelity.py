"""Fidelity benchmark: the published protocol on BPIC 2012 W and on every shared log.

The protocol of the simulation papers (``/work/shared/reference/fidelity-sota.md``; issue 14):
activity instances ordered by end time, the first 80% the training part and the rest the
test part, deals cut by the split dropped from both (:func:`end_time_split`); a model
discovered on the training part (:func:`flowsim.discover`); the test period simulated
``-n`` times (default 10) from its first arrival, empty, for as many deals as it has, with
the model's arrival process (``model``) and with the test's real arrival times
(``replay``); each measure is the mean over the simulated logs, set beside its noise floor
(the mean distance between simulated logs, :func:`flowsim.sim.fidelity.replicate_floor`)
and, for BPIC 2012 W, beside the best published figure.

BPIC 2012 W as the papers prepare it: the ``W_`` activities only, an instance from its
``start`` to its ``complete`` (instances without both are left out). Discovery sees each
instance as read (``entered_at`` its ``schedule``, so the wait before the work is the
stage's ``wait``); the measures compare start → complete on both sides
(``spans="work"``). Logs with start times are compared that way, the others stay by stay.

Run: ``.venv/bin/python bench/fidelity.py [-n 10] [--only NAME] [-o bench/results/fidelity.md]``
(``-o`` writes the Markdown table that ``docs/src/fidelity.md`` includes; ``python
scripts/build_docs.py fidelity.md`` then puts it into ``docs/fidelity.md``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from flowsim.history import DealLog, read_log  # noqa: E402
from flowsim.history.discover import discover  # noqa: E402
from flowsim.history.distances import end_time_split  # noqa: E402
from flowsim.sim.fidelity import FidelityResult, fidelity  # noqa: E402
from tests.data import DATA  # noqa: E402

#: the five measures the papers publish, as the table's columns
MEASURES = {
    "n_gram_distance": "NGD",
    "absolute_event_distribution_distance": "AED h",
    "circadian_event_distribution_distance": "CED h",
    "relative_event_distribution_distance": "RED h",
    "cycle_time_distribution_distance": "CTD h",
}
#: best published figure per measure on BPIC 2012 W (AgentSimulator, best configuration each)
PUBLISHED = {
    "n_gram_distance": 0.15,
    "absolute_event_distribution_distance": 46.20,
    "circadian_event_distribution_distance": 1.80,
    "relative_event_distribution_distance": 38.24,
    "cycle_time_distribution_distance": 73.63,
}


#: what a row is compared as (``fidelity(spans=...)``)
ROWS = {"work": "start → complete", "stay": "stays"}


def bpic_w() -> DealLog:
    """BPIC 2012's work items as start → complete instances (module docstring)."""
    log = read_log(DATA / "bpic2012" / "bpic2012.xes.gz")
    work = log.frame.filter(
        pl.col("stage").str.starts_with("W_")
        & pl.col("started_at").is_not_null()
        & pl.col("left_at").is_not_null()
    )
    report = log.report.model_copy(
        update={"source": "BPIC 2012 W (start → complete)", "records": work.height}
    )
    return log.derive(work, report)


#: name -> (reader, time zone of the circadian measures)
LOGS: dict[str, tuple[Callable[[], DealLog], str]] = {
    "BPIC 2012 W": (bpic_w, "Europe/Amsterdam"),
    "BPIC 2012": (lambda: read_log(DATA / "bpic2012" / "bpic2012.xes.gz"), "Europe/Amsterdam"),
    "helpdesk": (
        lambda: read_log(DATA / "pm4py-logs" / "helpdesk.xes.gz", lenient=True),
        "UTC",
    ),
    "receipt": (lambda: read_log(DATA / "pm4py-logs" / "receipt.csv", lenient=True), "UTC"),
    "Maven CRM": (
        lambda: read_log(DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"),
        "UTC",
    ),
    "Olist MQL": (
        lambda: read_log(
            DATA / "olist-marketing-funnel" / "olist_marketing_qualified_leads_dataset.csv",
            lenient=True,
        ),
        "UTC",
    ),
}


def run_protocol(
    log: DealLog, tz: str, replications: int, seed: int = 0
) -> tuple[dict[str, FidelityResult], float]:
    """The protocol on one log: both arrival sources, and the seconds it took."""
    t0 = time.perf_counter()
    train, test = end_time_split(log, 0.8)
    model = discover(train, tz=tz).process
    spans = "work" if log.frame["started_at"].is_not_null().any() else "stay"
    out = {
        source: fidelity(
            model,
            train,
            test=test,
            arrivals=source,  # type: ignore[arg-type]
            spans=spans,  # type: ignore[arg-type]
            replications=replications,
            seed=seed,
            tz=tz,
        )
        for source in ("model", "replay")
    }
    return out, time.perf_counter() - t0


def _cell(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if unit == "NGD" else f"{value:.3g}" if value < 10 else f"{value:.0f}"


def _row(label: str, values: dict[str, float | None], extra: str = "") -> str:
    cells = [_cell(values.get(k), u) for k, u in MEASURES.items()]
    return f"| {label} | " + " | ".join(cells) + f" | {extra} |"


def table(results: dict[str, tuple[dict[str, FidelityResult], float]], n: int) -> str:
    """The Markdown table: per log, the model's distances (both arrival sources), the
    result of the trust gate, and the two noise floors; BPIC 2012 W's published best."""
    lines = [
        "| log: what | " + " | ".join(MEASURES.values()) + " | trusted |",
        "|---|" + "---:|" * (len(MEASURES) + 1),
    ]
    for name, (by_source, seconds) in results.items():
        first = by_source["model"]
        lines.append(
            f"| **{name}** ({first.train_deals:,} train / {first.holdout_deals:,} test deals, "
            f"rows: {ROWS[first.spans]}, {seconds:.0f} s) | "
            + " | ".join("" for _ in MEASURES)
            + " | |"
        )
        for source, r in by_source.items():
            got = {m.name: m for m in r.measures}
            lines.append(
                _row(
                    f"flowsim, arrivals {source}",
                    {k: got[k].model for k in MEASURES},
                    "yes" if r.trusted else "no",
                )
            )
        got = {m.name: m for m in first.measures}
        lines.append(
            _row("noise floor: simulated logs", {k: got[k].floor_replicates for k in MEASURES})
        )
        lines.append(
            _row("noise floor: hold-out halves ÷ √2", {k: got[k].floor_holdout for k in MEASURES})
        )
        if name == "BPIC 2012 W":
            lines.append(_row("best published (AgentSimulator)", dict(PUBLISHED)))
    note = (
        f"\nflowsim rows: the mean over {n} simulated logs of each distance to the test "
        "part. Noise floors: the mean distance between the simulated logs (arrivals model), "
        "and between two random halves of the test part divided by √2. *trusted*: every "
        "measure within 2× the larger floor (all seven measures, not only these five). "
        "Seconds: split, discovery and both runs.\n"
    )
    return "\n".join(lines) + "\n" + note


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", "--replications", type=int, default=10)
    parser.add_argument("--only", action="append", choices=list(LOGS))
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    results = {}
    for name, (read, tz) in LOGS.items():
        if args.only and name not in args.only:
            continue
        results[name] = run_protocol(read(), tz, args.replications)
        print(f"{name}: {results[name][1]:.0f} s", file=sys.stderr, flush=True)
    text = table(results, args.replications)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
