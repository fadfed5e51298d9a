"""``flowsim run``: the whole job in one command, and the report it writes.

check → render both views → history metrics and conformance (with history) → fidelity →
simulate the baseline and every scenario → bottlenecks (with one-step what-ifs) → forecast →
report. The report is three things made from the same figures:

* ``index.html`` — one self-contained page: inline SVG and CSS, no script, no network;
* ``report.md`` plus ``*.svg`` — for Markdown docs and Git hosting;
* ``results.json`` — every number, for tools (sorted keys, no timestamps: deterministic).

Every section is built by one function from the results; a section whose inputs are missing
(no history, no amounts) is left out rather than drawn empty.
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import polars as pl

from flowsim._output import make_directory, write_output
from flowsim.errors import InputError
from flowsim.history.consistency import to_node_ids
from flowsim.history.log import DealLog
from flowsim.language import process_language
from flowsim.model import Duration, Process, parse_duration
from flowsim.render.frame import CSS as FRAME_CSS
from flowsim.render.frame import framed
from flowsim.report import charts
from flowsim.report.i18n import (
    edge_verdict,
    fidelity_warning,
    kpi_name,
    lever_label,
    measure_name,
    quality_summary,
    reason_name,
    report_warning,
    skip_name,
    words,
)
from flowsim.report.numbers import Numbers
from flowsim.report.style import chart_numbers

if TYPE_CHECKING:
    from flowsim.diagnostics import Diagnostic
    from flowsim.history.conformance import ConformanceReport
    from flowsim.history.feedback import MeasuredJourney
    from flowsim.history.metrics import FunnelMetrics
    from flowsim.overlay import Overlay
    from flowsim.sim.backtest import Backtest
    from flowsim.sim.bottlenecks import BottleneckReport
    from flowsim.sim.fidelity import FidelityResult
    from flowsim.sim.forecast import Forecast
    from flowsim.sim.result import ScenarioResult, SimulationResult
    from flowsim.sim.rolling import RollingBacktest

__all__ = ["Report", "Section", "build_report"]

Step = Callable[[str], None]

#: how many one-step what-ifs ``flowsim run`` tries by default
BUDGET = 15


@dataclass
class Section:
    """One part of the report: a title, an optional chart, a paragraph or a table."""

    key: str
    title: str
    svg: str | None = None
    text: str = ""
    table: list[list[str]] | None = None


@dataclass
class Report:
    """What ``flowsim run`` produced: the sections, every result, and the files written.

    ``warnings`` are as the command line prints them and ``results.json`` keeps them (English,
    but for the fidelity verdict, which is in the report's language like the headline);
    ``shown_warnings`` are the same in the report's language, as the report shows them.
    """

    title: str
    sections: list[Section]
    results: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    shown_warnings: list[str] = field(default_factory=list)


def _ci(e: Any, write: Callable[[float | None], str], unit: str = "") -> str:
    """An estimate as ``mean [low, high]`` (``unit`` after the bracket), each by ``write``."""
    if e is None or e.mean is None:
        return write(None)
    text = write(e.mean)
    if e.low is not None and e.high is not None:
        text += f" [{write(e.low)}, {write(e.high)}]"
    return f"{text} {unit}" if unit else text


def build_report(
    flow: str | Path,
    history: DealLog | str | Path | None = None,
    out: str | Path = "report",
    *,
    lang: str | None = None,
    seed: int = 0,
    replications: int = 30,
    until: Duration | None = None,
    workers: int | None = None,
    log_options: dict[str, Any] | None = None,
    step: Step | None = None,
    objective: str | None = None,
    budget: int | None = BUDGET,
    feedback: MeasuredJourney | None = None,
    backtest: Literal["last", "monthly", "none"] = "last",
) -> Report:
    """Run the whole job on ``flow`` (and ``history``) and write the report into ``out``.

    ``history`` is a :class:`DealLog`, or a path read with ``log_options``. The one-step
    what-ifs (at most ``budget``; None: all) are ranked by ``objective`` (revenue, won,
    win-rate or cycle; default: revenue when deals carry amounts, else won). When the model
    fails its fidelity check the headline opens with the verdict. ``until`` is hours or a
    duration such as ``"180d"``. ``out`` is made first; a file there, or a folder that cannot
    be made, raises :class:`~flowsim._output.OutputError` before any work. ``feedback`` (the
    measured journey of customer feedback) adds its scores to the journey map and a table.
    With a history longer than 90 days the forecast is backtested: ``backtest="last"`` from
    90 days before the history's end, ``"monthly"`` from the first of every month that allows
    it (the fan shows the last, the calibration pools them all), ``"none"`` not at all.
    """
    say = step or (lambda _msg: None)
    until = None if until is None else parse_duration(until, what="until")
    flow = Path(flow)
    out = make_directory(out)  # first, so a folder that cannot be made fails before the work
    say("check")
    process, check_warnings = _checked(flow)
    deal_log = _read_history(history, log_options, say)
    lang = lang or process_language(process, deal_log)
    if backtest not in ("last", "monthly", "none"):
        raise InputError(f"backtest must be 'last', 'monthly' or 'none' (got {backtest!r})")
    asked = _Settings(seed, replications, until, workers, objective, budget, backtest)
    job = _Job(flow, process, deal_log, lang, asked, say, feedback)
    results = _results(job, check_warnings)
    warnings = _Warnings()
    simulated = _simulate(job, results, warnings)
    past = _history(process, deal_log, seed, results, say)
    judged = _judge(job, past, simulated.bottleneck, warnings, results)
    fc = _Forecasts(_forecast(job, results), *_backtests(job, results))
    say("charts")
    sections = _sections(job, simulated, past, judged, fc, results)
    title = f"{process.name} — {job.w['title']}"
    report = Report(
        title, sections, results, warnings=warnings.printed, shown_warnings=warnings.shown
    )
    results["warnings"] = warnings.printed
    say("write")
    _write(report, out, job.w, flow)
    return report


# ---- the steps of the job ---------------------------------------------------------------------


class _Settings(NamedTuple):
    """What the run was asked for, beside its inputs."""

    seed: int
    replications: int
    until: float | None  # hours
    workers: int | None
    objective: str | None  # the what-ifs' ranking
    budget: int | None  # at most this many what-ifs
    backtest: str = "last"  # the forecast's backtest: last, monthly or none


@dataclass(frozen=True)
class _Job:
    """The run's inputs, read and checked, and its settings: what every step reads."""

    flow: Path
    process: Process
    deal_log: DealLog | None
    lang: str
    asked: _Settings
    say: Step
    feedback: MeasuredJourney | None = None
    w: dict[str, str] = field(init=False)  # the report's words
    nf: Numbers = field(init=False)  # the report's number format

    def __post_init__(self) -> None:
        object.__setattr__(self, "w", words(self.lang))
        object.__setattr__(self, "nf", Numbers(self.lang, self.process.currency))


@dataclass
class _Warnings:
    """The run's warnings twice: as the command line prints them (and ``results.json`` keeps
    them), and in the report's language, as the report shows them; the same order in both."""

    printed: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)

    def add(self, printed: str, shown: str) -> None:
        self.printed.append(printed)
        self.shown.append(shown)


class _Simulated(NamedTuple):
    """The simulation and what the report draws from it."""

    sim: SimulationResult
    file_scenarios: list[ScenarioResult]  # the .flow file's own scenarios, in its order
    bottleneck: BottleneckReport  # with suggestions, before the fidelity verdict qualifies it
    heat: Overlay  # the baseline's figures, to colour the flowchart
    labels: dict[str, str]  # every lever's scenario name → what it changes, in words
    source: str  # the simulated charts' source line


class _Judged(NamedTuple):
    """The fidelity verdict (None: passed or not checked), and the bottlenecks it qualifies."""

    verdict: str | None
    bottleneck: BottleneckReport


def _checked(flow: Path) -> tuple[Process, list[Diagnostic]]:
    """The process of ``flow`` and its warnings; a file with errors stops the run."""
    import flowsim

    checked = flowsim.check_file(flow)
    if checked.process is None or not checked.ok:
        raise InputError(checked.render())
    return checked.process, checked.warnings


def _read_history(
    history: DealLog | str | Path | None, log_options: dict[str, Any] | None, say: Step
) -> DealLog | None:
    """The deal log: as given, or read from a path with the command's log options."""
    import flowsim

    if history is None:
        return None
    say("history")
    if isinstance(history, DealLog):
        return history
    return flowsim.read_log(history, **(log_options or {}))


def _results(job: _Job, check_warnings: list[Diagnostic]) -> dict[str, Any]:
    """The start of ``results.json``: what ran on what, the checker's warnings, and the
    history's data quality; each step adds its figures after."""
    import flowsim

    results: dict[str, Any] = {
        "flowsim": flowsim.__version__,
        "process": job.process.name,
        "file": job.flow.name,
        "lang": job.lang,
        "seed": job.asked.seed,
        "replications": job.asked.replications,
        "check": {
            "warnings": [
                {"code": d.code, "message": d.message, "line": d.span.line if d.span else None}
                for d in check_warnings
            ]
        },
    }
    if job.deal_log is not None:
        results["data_quality"] = job.deal_log.report.model_dump(mode="json", exclude={"problems"})
    if job.feedback is not None:
        results["feedback"] = job.feedback.model_dump(mode="json")
    return results


def _simulate(job: _Job, results: dict[str, Any], warnings: _Warnings) -> _Simulated:
    """The baseline, the file's scenarios and the one-step what-ifs, then the bottlenecks.

    With history the baseline is a replay: deals keep their real paths, so only the levers
    of capacity and time can move it.
    """
    from flowsim.sim.bottlenecks import (
        analyse,
        check_objective,
        overlay,
        plan_levers,
        with_suggestions,
    )
    from flowsim.sim.simulate import simulate

    process, lang, replay = job.process, job.lang, job.deal_log is not None
    check_objective(job.asked.objective, process, job.deal_log)
    job.say("simulate")
    plan = plan_levers(process, job.asked.budget, replay=replay)
    names = [s.name for s in process.scenarios]
    model = process.model_copy(update={"scenarios": (*process.scenarios, *plan.scenarios)})
    sim = simulate(
        model,
        job.deal_log,
        scenarios=names + [s.name for s in plan.scenarios],
        replications=job.asked.replications,
        seed=job.asked.seed,
        until=job.asked.until,
        workers=job.asked.workers,
        strict_stages=False,
        check_fidelity=False,  # the report runs its own, with more replications (_history)
    )
    for x in sim.warnings:
        warnings.add(x, report_warning(x, sim, process, lang))
    # every lever by what it changes, the ones the budget left out too
    every = plan_levers(process, None, replay=replay).scenarios
    labels = {s.name: lever_label(s, process, lang) for s in every}
    job.say("bottlenecks")
    bottleneck = with_suggestions(
        analyse(sim, process, lang=lang), sim, process, plan, job.asked.objective
    )
    for note in bottleneck.warnings:
        if note not in warnings.printed:
            warnings.add(note, _bottleneck_note(note, bottleneck.objective, sim, process, lang))
    source = job.w["source_overlay"].format(process=process.name, n=job.asked.replications)
    heat = overlay(sim, process).model_copy(update={"source": source})
    file_scenarios = [sim.scenario(n) for n in names]
    results["simulation"] = json.loads(
        sim.model_copy(update={"scenarios": [sim.baseline, *file_scenarios]}).model_dump_json()
    )
    src_sim = job.w["source_sim"].format(
        process=process.name, n=job.asked.replications, seed=job.asked.seed
    )
    return _Simulated(sim, file_scenarios, bottleneck, heat, labels, src_sim)


def _judge(
    job: _Job,
    past: _History,
    bottleneck: BottleneckReport,
    warnings: _Warnings,
    results: dict[str, Any],
) -> _Judged:
    """The fidelity verdict opens the warnings, like the headline, and qualifies the
    bottlenecks: a model that fails its check speaks only for itself."""
    from flowsim.sim.bottlenecks import qualify

    if past.fidelity_error is not None:
        warnings.add(
            f"fidelity: {past.fidelity_error}",
            job.w["fidelity_failed"].format(error=past.fidelity_error),
        )
    fid = past.fidelity
    verdict = fid.verdict(job.lang) if fid is not None else None  # None: passed or not checked
    if verdict:
        warnings.printed.insert(0, verdict)
        warnings.shown.insert(0, verdict)
    bottleneck = qualify(bottleneck, verdict, job.lang)
    results["bottlenecks"] = json.loads(bottleneck.model_dump_json())
    return _Judged(verdict, bottleneck)


def _forecast(job: _Job, results: dict[str, Any]) -> Forecast | None:
    """Wins and revenue from the open pipeline, with history; None when it cannot be made."""
    from flowsim.sim.forecast import forecast

    if job.deal_log is None:
        return None
    job.say("forecast")
    try:
        fc = forecast(
            job.process,
            job.deal_log,
            seed=job.asked.seed,
            replications=100,
            workers=job.asked.workers,
        )
    except ValueError:
        return None
    results["forecast"] = json.loads(fc.model_dump_json())
    return fc


class _Forecasts(NamedTuple):
    """The forecast from the history's end, and the backtest from one horizon before it."""

    forecast: Forecast | None
    backtest: Backtest | None
    rolling: RollingBacktest | None = None


#: the report's backtest: its horizon, and its replications (those of its forecast)
BACKTEST_HOURS = 90 * 24
BACKTEST_REPLICATIONS = 100


def _backtests(
    job: _Job, results: dict[str, Any]
) -> tuple[Backtest | None, RollingBacktest | None]:
    """The backtest the run was asked for: the last, or every monthly cutoff's (with the
    model as given); the last of them for the fan."""
    if job.asked.backtest == "none" or job.deal_log is None:
        return None, None
    if job.asked.backtest == "last":
        return _backtest(job, results), None
    from flowsim.sim.rolling import rolling_backtest

    job.say("backtest")
    try:
        rolled = rolling_backtest(
            job.process,
            job.deal_log,
            "monthly",
            horizon_hours=BACKTEST_HOURS,
            replications=BACKTEST_REPLICATIONS,
            seed=job.asked.seed,
            workers=job.asked.workers,
        )
    except ValueError:
        return None, None
    last = rolled.backtests[-1]
    _record(results, last)
    results["rolling_backtest"] = json.loads(rolled.model_dump_json(exclude={"backtests"}))
    results["rolling_backtest"]["cutoffs"] = [b.as_of for b in rolled.backtests]
    return last, rolled


def _record(results: dict[str, Any], scored: Backtest) -> None:
    """The backtest in ``results.json`` (without its forecast), with its verdict."""
    results["backtest"] = json.loads(scored.model_dump_json(exclude={"forecast"}))
    results["backtest"]["verdict"] = {"not_beaten": _not_beaten(scored), "errors": _totals(scored)}


def _backtest(job: _Job, results: dict[str, Any]) -> Backtest | None:
    """The forecast made one horizon (90 days) before the history's end, midnight UTC, with
    the model as given, scored against what happened; None when the history is too short
    or the backtest cannot be made."""
    from flowsim.sim.backtest import backtest
    from flowsim.sim.forecast import last_event

    if job.deal_log is None:
        return None
    try:
        end = last_event(job.deal_log)
    except ValueError:
        return None
    as_of = (end - timedelta(hours=BACKTEST_HOURS)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    first = job.deal_log.frame["entered_at"].min()
    if not isinstance(first, datetime) or as_of <= first:
        return None
    job.say("backtest")
    try:
        scored = backtest(
            job.process,
            job.deal_log,
            as_of,
            BACKTEST_HOURS,
            replications=BACKTEST_REPLICATIONS,
            seed=job.asked.seed,
            workers=job.asked.workers,
        )
    except ValueError:
        return None
    _record(results, scored)
    return scored


def _sections(
    job: _Job,
    simulated: _Simulated,
    past: _History,
    judged: _Judged,
    fc: _Forecasts,
    results: dict[str, Any],
) -> list[Section]:
    """Every section in reading order, the charts' ticks in the report's language; the
    headline goes into ``results`` too."""
    fid = past.fidelity
    with chart_numbers(job.nf):
        finding = _finding(
            job.w,
            job.nf,
            judged.bottleneck,
            simulated.sim,
            simulated.file_scenarios,
            simulated.labels,
        )
        results["headline"] = {
            "text": finding.text,
            "verdict": judged.verdict,
            "trusted": None if fid is None else fid.trusted,
            "objective": judged.bottleneck.objective,
            "budget": job.asked.budget,
            "not_tried": judged.bottleneck.not_tried,
        }
        return [
            finding,
            *_pictures(job, simulated.heat),
            *_charts(job, simulated, past, judged, fc),
        ]


def _pictures(job: _Job, heat: Overlay) -> list[Section]:
    """The flowchart, coloured by the simulated queues, and the journey map."""
    from flowsim.render import render as draw

    w, process, lang = job.w, job.process, job.lang
    chart = draw(process, view="flowchart", format="svg", overlay=heat, color_by="queue", lang=lang)
    trip = draw(process, view="journey", format="svg", lang=lang, measured=job.feedback)
    title = w["journey"] if job.feedback is None else w["journey_measured"]
    return [
        Section("flowchart", w["flowchart"], svg=chart.decode()),
        Section("journey", title, svg=trip.decode()),
        *([] if job.feedback is None else [_feedback(w, job.feedback)]),
    ]


def _feedback(w: dict[str, str], m: MeasuredJourney) -> Section:
    """The measured journey as a table: a row per phase, its touchpoints after it."""
    names = ["worse", "better", "agrees", "too few", "no design"]
    verdicts = dict(zip(names, w["feedback_verdicts"].split("|"), strict=True))

    def cells(r: Any) -> list[str]:
        name = r.phase if r.level == "phase" else f"· {r.touchpoint}"
        ci = "-" if r.low is None else f"{r.low:.2f}–{r.high:.2f}"
        mean = "-" if r.mean is None else f"{r.mean:.2f}"
        designed = "-" if r.designed is None else f"{r.designed:.2f}"
        return [name, str(r.responses), mean, ci, designed, verdicts.get(r.verdict, r.verdict)]

    rows: list[list[str]] = [w["feedback_head"].split("|")]
    pending: list[list[str]] = []
    for r in m.rows:  # a phase's touchpoints come before it: the phase first
        if r.level == "touchpoint":
            pending.append(cells(r))
        else:
            rows += [cells(r), *pending]
            pending = []
    text = w["feedback_note"].format(answers=m.answers, scale=m.scale)
    return Section("feedback", w["feedback"], text=text, table=rows)


def _charts(
    job: _Job, simulated: _Simulated, past: _History, judged: _Judged, fc: _Forecasts
) -> list[Section]:
    """The charts and tables after the pictures; those whose inputs are missing are left out."""
    import flowsim

    w, nf, process, deal_log = job.w, job.nf, job.process, job.deal_log
    sim, src_sim = simulated.sim, simulated.source
    sim_metrics = flowsim.metrics(sim.event_log, process) if sim.event_log is not None else None
    sections = [
        _funnel(w, process, past.metrics, sim_metrics, src_sim),
        _stage_times(w, process, sim, src_sim),
    ]
    # history if given, else the simulated deals; stage values as the model's ids, once
    observed = to_node_ids(deal_log or sim.event_log, process)
    sections.append(_distributions(w, process, observed, src_sim))
    sections.append(_cycle(w, observed, process, src_sim))
    sections.append(_cfd(w, process, observed, src_sim))
    sections.append(_utilization(w, process, sim, src_sim))
    if simulated.file_scenarios:
        table = _scenarios(w, nf, sim, simulated.file_scenarios, src_sim)
        table.text = w["model_only"] if judged.verdict else ""
        sections.append(table)
    sections.append(_tornado(w, nf, judged.bottleneck, src_sim, job.asked.budget, simulated.labels))
    if past.fidelity is not None:
        sections.append(_scorecard(w, past.fidelity, job.lang))
    if fc.forecast is not None:
        sections.append(_fan(w, nf, fc.forecast, src_sim))
    if fc.backtest is not None and deal_log is not None:
        src = _backtest_source(w, fc.backtest, deal_log.report.source, job.asked.seed)
        sections += [
            _backtest_fan(w, nf, fc.backtest, src, fc.rolling),
            _calibration(w, fc.rolling.backtests if fc.rolling else [fc.backtest], src),
        ]
    if past.conformance is not None:
        sections.append(_conformance(w, past.conformance, process, job.lang))
    if deal_log is not None:
        sections.append(_quality(w, deal_log, job.lang))
    return sections


def _bottleneck_note(note: str, goal: str | None, sim: Any, process: Process, lang: str) -> str:
    """A warning of the what-ifs in the report's words (the replay's note, or as simulated)."""
    from flowsim.sim.bottlenecks import REPLAY_NOTE

    w = words(lang)
    if goal is not None and note == REPLAY_NOTE.format(objective=goal):
        return w["replay_note"].format(objective=w[f"obj_{goal}"])
    return report_warning(note, sim, process, lang)


# ---- sections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _History:
    """What the report measures on history: the funnel, conformance, the model's fidelity."""

    metrics: FunnelMetrics | None = None
    conformance: ConformanceReport | None = None
    fidelity: FidelityResult | None = None
    fidelity_error: str | None = None  # why the fidelity check could not run


def _history(
    process: Process,
    deal_log: DealLog | None,
    seed: int,
    results: dict[str, Any],
    say: Step,
) -> _History:
    """History's figures (into ``results`` too); without history, nothing.

    The fidelity check needs the model's arrivals; one that cannot run is a warning of the
    report, not a failure of it.
    """
    import flowsim

    if deal_log is None:
        return _History()
    say("metrics")
    measured = flowsim.metrics(deal_log, process, check=False)
    results["metrics"] = json.loads(measured.to_json(indent=None))
    say("conformance")
    conf = flowsim.conformance(deal_log, process)
    results["conformance"] = json.loads(conf.model_dump_json())
    if process.arrivals is None:
        return _History(measured, conf)
    say("fidelity")
    try:
        fid = flowsim.fidelity(process, deal_log, replications=2, seed=seed)
    except ValueError as err:
        return _History(measured, conf, fidelity_error=str(err))
    results["fidelity"] = json.loads(
        fid.model_dump_json(exclude={"replication_reports", "floor_report"})
    )
    return _History(measured, conf, fid)


def _finding(
    w: dict[str, str],
    nf: Numbers,
    bottleneck: Any,
    sim: Any,
    scenarios: list[Any],
    labels: dict[str, str],
) -> Section:
    """The headline: the fidelity verdict first (when the model fails), the principal
    bottleneck, then the best what-if for the objective, worded as the model's alone."""
    from flowsim.sim.bottlenecks import OBJECTIVES, improves, lower_first

    goal = bottleneck.objective or "cycle"
    kpi = OBJECTIVES[goal][0]
    parts = [bottleneck.verdict] if bottleneck.verdict else []
    parts.append(bottleneck.principal)
    candidates = [*scenarios, *(sim.scenario(x.name) for x in bottleneck.suggestions)]
    better = [s for s in candidates if improves(s.deltas.get(kpi), goal)]
    what = w[f"obj_{goal}"]
    if better:
        sign = OBJECTIVES[goal][1]
        best = min(better, key=lambda s: (-sign * s.deltas[kpi].mean, s.name))
        other = "won" if goal == "cycle" else "cycle_days_mean"
        text = w["best_whatif"].format(
            objective=what,
            name=labels.get(best.name, best.name),
            other=w["obj_won" if goal == "cycle" else "obj_cycle"],
            **_delta_words(best.deltas[kpi], 100.0 if kpi == "win_rate" else 1.0, "", goal, nf),
            **_delta_words(best.deltas[other], 1.0, "o", nf=nf),
        )
    else:
        text = w["no_whatif"].format(objective=what)
        if sim.mode == "replay" and goal != "cycle" and bottleneck.suggestions:
            text += " " + w["replay_fixed"]
    parts.append(w["conditional"] + lower_first(text) if bottleneck.verdict else text)
    if bottleneck.verdict:  # the verdict is a paragraph of its own, the rest follows it
        return Section("finding", w["finding"], text=parts[0] + "\n" + " ".join(parts[1:]))
    return Section("finding", w["finding"], text=" ".join(parts))


def _delta_words(
    e: Any, scale: float, prefix: str, goal: str = "", nf: Numbers | None = None
) -> dict[str, str]:
    """A paired delta's mean and bounds as signed text (``delta``, ``low``, ``high``).

    Money in whole units (in the currency of ``nf``, the report's number format), everything
    else to one decimal; a delta whose figures would all round to zero keeps two significant
    digits (a replay's what-if can move the cycle by minutes).
    """
    nf = nf or Numbers()
    digits = 0 if goal == "revenue" else 1
    values = [x * scale for x in (e.mean, e.low, e.high) if x is not None]
    tiny = any(values) and all(abs(v) < 0.5 * 10**-digits for v in values)

    def signed(x: float | None) -> str:
        if x is None:
            return nf.na
        v = x * scale
        if tiny:
            return f"{v:+.2g}"
        return nf.money(v, sign=True) if goal == "revenue" else nf.number(v, digits, sign=True)

    return {
        f"{prefix}delta": signed(e.mean),
        f"{prefix}low": signed(e.low),
        f"{prefix}high": signed(e.high),
    }


def _funnel(w: dict[str, str], process: Process, hist: Any, simulated: Any, source: str) -> Section:
    stages = [s.id for s in process.stages]
    series: dict[str, list[float | None]] = {}
    for name, m in ((w["history"], hist), (w["model"], simulated)):
        if m is None:
            continue
        series[name] = [m.stages[s].cohort_conversion if s in m.stages else None for s in stages]
    svg = charts.funnel(
        [process.node(s).display for s in stages],
        series,
        title=w["funnel"],
        ylabel=w["funnel_y"],
        source=source,
        empty_note=w["no_data"],
    )
    return Section("funnel", w["funnel"], svg=svg)


def _stage_times(w: dict[str, str], process: Process, sim: Any, source: str) -> Section:
    base = sim.baseline
    stages = [s.id for s in process.stages]
    keys = (
        ("queue_hours", "queue"),
        ("off_calendar_hours", "off_calendar"),
        ("effort_hours", "effort"),
        ("customer_wait_hours", "customer_wait"),
    )
    parts = {w[name]: [base.stages[s][k].mean or 0.0 for s in stages] for k, name in keys}
    svg = charts.stage_times(
        [process.node(s).display for s in stages],
        parts,
        title=w["stage_times"],
        xlabel=w["hours"],
        source=source,
        empty_note=w["no_data"],
    )
    return Section("stage_times", w["stage_times"], svg=svg)


def _stays(log: Any) -> pl.DataFrame:
    """Each finished stay with its hours: to its exit, or else to the deal's next record."""
    f = log.frame.sort(["deal", "entered_at", "source_row"]).with_columns(
        pl.col("entered_at").shift(-1).over("deal").alias("next")
    )
    end = pl.coalesce(pl.col("left_at"), pl.col("next"))
    out: pl.DataFrame = (
        f.with_columns(end.alias("end"))
        .filter(pl.col("end").is_not_null())
        .with_columns(
            ((pl.col("end") - pl.col("entered_at")).dt.total_seconds() / 3600).alias("hours")
        )
    )
    return out


def _distributions(w: dict[str, str], process: Process, log: Any, source: str) -> Section:
    stays = _stays(log)
    stages = [s.id for s in process.stages]
    samples = [stays.filter(pl.col("stage") == s)["hours"].to_list() for s in stages]
    svg = charts.distributions(
        [process.node(s).display for s in stages],
        samples,
        title=w["distributions"],
        xlabel=w["hours"],
        source=_source(w, log, source),
        log_scale=True,
        empty_note=w["no_data"],
    )
    return Section("distributions", w["distributions"], svg=svg)


def _source(w: dict[str, str], log: Any, sim_source: str) -> str:
    if log.report.format == "simulation":
        return sim_source
    return w["source_history"].format(source=log.report.source)


def _outcomes(log: Any, process: Process) -> pl.DataFrame:
    """Per closed deal: outcome result and cycle days (stages already node ids)."""
    results = {o.id: o.result for o in process.outcomes}
    f = log.frame.sort(["deal", "entered_at"])
    g = f.group_by("deal").agg(
        pl.col("stage").last().alias("last"),
        pl.col("entered_at").min().alias("start"),
        pl.col("entered_at").max().alias("end"),
    )
    g = g.with_columns(
        pl.col("last")
        .replace_strict(results, default=None, return_dtype=pl.String)
        .alias("result"),
        ((pl.col("end") - pl.col("start")).dt.total_seconds() / 86400).alias("days"),
    )
    closed: pl.DataFrame = g.filter(pl.col("result").is_in(["won", "lost"]))
    return closed


def _cycle(w: dict[str, str], log: Any, process: Process, source: str) -> Section:
    closed = _outcomes(log, process)
    groups = {
        w[r]: closed.filter(pl.col("result") == r)["days"].sort().to_list() for r in ("won", "lost")
    }
    svg = charts.histogram(
        groups,
        title=w["cycle"],
        xlabel=w["days"],
        source=_source(w, log, source),
        empty_note=w["no_data"],
    )
    return Section("cycle", w["cycle"], svg=svg)


def _cfd(w: dict[str, str], process: Process, log: Any, source: str) -> Section:
    """A cumulative flow diagram at up to 121 points in time (:func:`cfd_bands`)."""
    order = [n.id for n in process.iter_nodes()]
    f = log.frame.filter(pl.col("stage").is_in(order))
    if f.height == 0:
        return Section(
            "cfd",
            w["cfd"],
            svg=charts.cumulative_flow([], {}, title=w["cfd"], ylabel=w["deals"], source=source),
        )
    start = f["entered_at"].min()
    end = max(v for v in (f["entered_at"].max(), f["left_at"].max()) if v is not None)
    points = min(120, max(1, math.ceil((end - start).total_seconds() / 86400)))
    ticks = [start + (end - start) * (i / points) for i in range(points + 1)]
    tick_us = np.array([int(t.timestamp() * 1e6) for t in ticks], dtype=np.int64)
    bands = cfd_bands(f, [s.id for s in process.stages], [o.id for o in process.outcomes], tick_us)
    names = {n: process.node(n).display for n in order} | {ENDED: w["cfd_ended"]}
    svg = charts.cumulative_flow(
        [t.strftime("%Y-%m-%d") for t in ticks],
        {names[n]: v.astype(float).tolist() for n, v in bands.items()},
        title=w["cfd"],
        ylabel=w["deals"],
        source=_source(w, log, source),
    )
    return Section("cfd", w["cfd"], svg=svg)


#: the cumulative flow diagram's state for a deal whose last stay ended without an outcome
ENDED = "(ended)"  # not a node id: ids are words


def cfd_bands(
    frame: pl.DataFrame, stages: list[str], outcomes: list[str], ticks_us: np.ndarray
) -> dict[str, np.ndarray]:
    """Deals in each state at each tick (µs since the Unix epoch), stacked bottom to top.

    A deal is in one state at a time: from a record's entry to the next record's entry it is
    in that record's stage (a gap before the next entry counts as still being there), and
    after its last record it stays in that stage (open), in that outcome (closed) or, when
    its last stage has an exit time and no outcome follows, in :data:`ENDED` from that exit
    on. So the bands at any time add up to the deals arrived by then, the top line of the
    diagram; each band's height is the stage's work in progress. Bottom to top: outcomes,
    then :data:`ENDED` (only if any deal gets there), then the stages from the last to the
    entry stage, so each boundary is the cumulative arrivals into the states below it when
    the flow runs forward. ``frame`` has the log's columns, stage values as node ids.
    """
    f = frame.sort(["deal", "entered_at", "source_row"])
    deal = f["deal"].to_numpy()
    node = f["stage"].to_numpy()
    start = f["entered_at"].dt.epoch("us").to_numpy()
    left = f["left_at"].dt.epoch("us").fill_null(-1).to_numpy()
    nxt = np.append(deal[1:] == deal[:-1], False)  # the deal has a later record
    last = ~nxt
    closed_here = np.isin(node, outcomes)
    never = np.iinfo(np.int64).max
    end = np.full(len(f), never, dtype=np.int64)
    end[nxt] = start[1:][nxt[:-1]]
    ended = last & ~closed_here & (left >= 0)
    end[ended] = np.maximum(left[ended], start[ended])
    # a deal's records after an outcome (if any) are not states: it is closed
    closed_before = np.zeros(len(f), dtype=bool)
    if len(f) > 1:
        done = pl.Series(closed_here).cast(pl.Int32)
        after = pl.DataFrame({"d": deal, "c": done}).select(
            pl.col("c").cum_sum().over("d") - pl.col("c")
        )
        closed_before = after.to_series().to_numpy() > 0
    end[closed_here] = never
    keep = ~closed_before
    ended &= keep
    bands: dict[str, np.ndarray] = {}
    for state in [*outcomes, ENDED, *reversed(stages)]:
        if state == ENDED:
            enter, leave = end[ended], np.zeros(0, dtype=np.int64)
            if not enter.size:
                continue
        else:
            mine = keep & (node == state)
            enter, leave = start[mine], end[mine]
        bands[state] = _at(np.sort(enter), ticks_us) - _at(np.sort(leave), ticks_us)
    return bands


def _at(times: np.ndarray, ticks: np.ndarray) -> np.ndarray:
    """How many of the sorted ``times`` are at or before each tick."""
    return np.searchsorted(times, ticks, side="right").astype(np.int64)


def _utilization(w: dict[str, str], process: Process, sim: Any, source: str) -> Section:
    roles = [r for r in process.roles if r.id in sim.baseline.roles]
    est = [sim.baseline.roles[r.id]["utilization"] for r in roles]
    svg = charts.intervals(
        [r.label or r.id for r in roles],
        [e.mean for e in est],
        [e.low for e in est],
        [e.high for e in est],
        title=w["utilization"],
        xlabel=w["utilization_x"],
        source=source,
        percent=True,
        empty_note=w["no_data"],
    )
    return Section("utilization", w["utilization"], svg=svg)


_SCENARIO_KPIS = ("won", "win_rate", "revenue", "cycle_days_mean", "wip_mean")


def _kpi_writers(
    nf: Numbers, kpi: str
) -> tuple[Callable[[float | None], str], Callable[[float | None], str], str]:
    """How a KPI's value and its paired delta are written, and the delta's unit.

    The win rate as a percentage and its change in points; revenue in the process currency,
    whole units; the rest to one decimal. Deltas carry their sign.
    """
    if kpi == "win_rate":
        return (
            lambda x: nf.percent(x),
            lambda x: nf.na if x is None else nf.number(x * 100, sign=True),
            nf.points_unit,
        )
    if kpi == "revenue":
        return nf.money, lambda x: nf.money(x, sign=True), ""
    return nf.number, lambda x: nf.number(x, sign=True), ""


def _scenarios(
    w: dict[str, str], nf: Numbers, sim: Any, scenarios: list[Any], source: str
) -> Section:
    header = [w["kpi"], w["baseline"], *(s.name for s in scenarios)]
    rows = [header]
    for kpi in _SCENARIO_KPIS:
        value, delta, unit = _kpi_writers(nf, kpi)
        row = [kpi_name(kpi, nf.lang), _ci(sim.baseline.kpis[kpi], value)]
        for s in scenarios:
            d = s.deltas[kpi]
            mark = " *" if d.significant else ""
            row.append(f"{_ci(s.kpis[kpi], value)} (Δ {_ci(d, delta, unit)}{mark})")
        rows.append(row)
    deltas = [s.deltas["cycle_days_mean"] for s in scenarios]
    svg = charts.intervals(
        [s.name for s in scenarios],
        [d.mean for d in deltas],
        [d.low for d in deltas],
        [d.high for d in deltas],
        title=w["forest"],
        xlabel=w["forest_x"],
        source=source,
        zero_line=True,
        empty_note=w["no_data"],
    )
    return Section("scenarios", w["scenarios"], svg=svg, table=rows)


def _tornado(
    w: dict[str, str],
    nf: Numbers,
    bottleneck: Any,
    source: str,
    budget: int | None,
    labels: dict[str, str],
) -> Section:
    """The one-step what-ifs in the objective's rank order, each paired delta with its CI."""
    goal = bottleneck.objective or "cycle"
    scale = 100.0 if goal == "win-rate" else 1.0
    items = [s for s in bottleneck.suggestions if s.objective is not None][:12]

    def scaled(x: float | None) -> float | None:
        return None if x is None else x * scale

    what = w[f"obj_{goal}"]
    unit = f" ({nf.currency_unit})" if goal == "revenue" and nf.currency_unit else ""
    svg = charts.intervals(
        [labels.get(s.name, s.name) for s in items],
        [scaled(s.objective.mean) for s in items],
        [scaled(s.objective.low) for s in items],
        [scaled(s.objective.high) for s in items],
        title=w["tornado_obj"].format(objective=what),
        xlabel=w["tornado_obj_x"].format(objective=what) + unit,
        source=source,
        zero_line=True,
        empty_note=w["no_data"],
    )
    text = w["model_only"] if bottleneck.verdict else ""
    if bottleneck.not_tried:
        shown = [labels.get(x, x) for x in bottleneck.not_tried[:5]]
        more = len(bottleneck.not_tried) > len(shown)
        text += (" " if text else "") + w["not_tried"].format(
            budget=budget,
            n=len(bottleneck.not_tried),
            names=w["list"].join(shown) + (w["list"] + "…" if more else ""),
        )
    return Section("tornado", w["tornado"], svg=svg, text=text)


def _scorecard(w: dict[str, str], fid: Any, lang: str) -> Section:
    ms = fid.measures
    svg = charts.scorecard(
        [measure_name(m.name, lang) for m in ms],
        [m.model for m in ms],
        [m.floor for m in ms],
        title=w["fidelity"],
        xlabel=w["fidelity_x"],
        source=w["source_history"].format(source=fid.history),
        empty_note=w["no_data"],
    )
    return Section("fidelity", w["fidelity"], svg=svg, text=fidelity_warning(fid, lang) or "")


def _fan(w: dict[str, str], nf: Numbers, fc: Forecast, source: str) -> Section:
    weeks = fc.weeks
    svg = charts.fan(
        [p.period for p in weeks],
        [p.wins.p10 for p in weeks],
        [p.wins.p50 for p in weeks],
        [p.wins.p90 for p in weeks],
        title=w["forecast"],
        ylabel=w["forecast_y"],
        source=source,
        empty_note=w["no_data"],
    )
    lines = _split_lines(w, nf, fc)
    if fc.target is not None:
        for period in fc.target.periods:
            lines.append(
                w["target_probability"].format(
                    target=Numbers(nf.lang, fc.target.currency or nf.currency).money(
                        fc.target.amount
                    ),
                    period=period.period,
                    p=nf.percent(period.probability, 0),
                )
            )
    return Section("forecast", w["forecast"], svg=svg, text="\n".join(lines))


def _backtest_source(w: dict[str, str], b: Backtest, source: str, seed: int) -> str:
    return w["source_backtest"].format(
        source=source, date=b.as_of[:10], n=b.forecast.replications, seed=seed
    )


def _backtest_fan(
    w: dict[str, str], nf: Numbers, b: Backtest, source: str, rolled: RollingBacktest | None
) -> Section:
    """The backtest's weekly wins: P10–P90 and P25–P75 bands, P50, and the actuals; below it
    the 90-day error of every method and the verdict against the baselines."""
    weeks = b.forecast.weeks

    def inner(q: str) -> list[float]:
        return [getattr(p.wins, q) if getattr(p.wins, q) is not None else math.nan for p in weeks]

    svg = charts.fan(
        [p.period for p in weeks],
        [p.wins.p10 for p in weeks],
        [p.wins.p50 for p in weeks],
        [p.wins.p90 for p in weeks],
        inner=(inner("p25"), inner("p75")),
        actual=[a.wins for a in b.actual_weeks],
        actual_label=w["actual"],
        title=w["backtest"].format(date=b.as_of[:10]),
        ylabel=w["forecast_y"],
        source=source,
        empty_note=w["no_data"],
    )
    lines = _verdict(w, nf, b) if rolled is None else _rolling_verdict(w, nf, rolled)
    title = w["backtest"].format(date=b.as_of[:10])
    return Section("backtest", title, svg=svg, text="\n".join(lines))


def _verdict(w: dict[str, str], nf: Numbers, b: Backtest) -> list[str]:
    """Every method's 90-day error on the wins, the band's weekly coverage, and whether the
    Monte Carlo beats every baseline (its 90-day error at most theirs)."""
    totals = _totals(b)
    scores = ", ".join(f"{w['method_' + m]} {nf.percent(e)}" for m, e in totals.items())
    week = b.score("monte_carlo", "wins", "week")
    inside = round((week.coverage or 0.0) * week.periods)
    losses = [w["method_" + m] for m in _not_beaten(b)]
    lines = [w["backtest_scores"].format(scores=scores, inside=inside, weeks=week.periods)]
    if losses:
        lines.append(w["backtest_loses"].format(methods=", ".join(losses)))
    else:
        lines.append(w["backtest_beats"])
    lines.append(w["backtest_model"])
    return lines


def _totals(b: Backtest) -> dict[str, float | None]:
    """Every method's 90-day error on the wins (MAPE of the total), in the tables' order."""
    return {s.method: s.mape for s in b.scores if (s.measure, s.view) == ("wins", "total")}


def _not_beaten(b: Backtest) -> list[str]:
    """The methods whose 90-day error on the wins is below the Monte Carlo's."""
    totals = _totals(b)
    mc = totals.get("monte_carlo")
    return [
        m
        for m, e in totals.items()
        if m != "monte_carlo" and e is not None and (mc is None or mc > e)
    ]


def _rolling_verdict(w: dict[str, str], nf: Numbers, r: RollingBacktest) -> list[str]:
    """Over every cutoff: each method's mean 90-day error on the wins, the pooled weekly
    P10–P90 coverage, and whether the Monte Carlo's mean error is at most every baseline's."""
    means = {s.method: s.mape for s in r.summary if (s.measure, s.view) == ("wins", "total")}
    scores = ", ".join(f"{w['method_' + m]} {nf.percent(e)}" for m, e in means.items())
    week = r.summary_of("monte_carlo", "wins", "week")
    losses = [w["method_" + m] for m in _not_beaten_over(r.backtests)]
    first, last = r.backtests[0].as_of[:10], r.backtests[-1].as_of[:10]
    lines = [
        w["rolling_scores"].format(
            n=len(r.backtests),
            first=first,
            last=last,
            scores=scores,
            coverage=nf.percent(week.coverage),
        )
    ]
    lines.append(
        w["rolling_loses"].format(methods=", ".join(losses)) if losses else w["rolling_beats"]
    )
    return [*lines, w["backtest_model"]]


def _not_beaten_over(done: list[Backtest]) -> list[str]:
    """The methods whose mean 90-day error on the wins is below the Monte Carlo's, each
    compared on the cutoffs where both have one (a baseline may lack the early ones)."""
    pairs: dict[str, list[tuple[float, float]]] = {}
    for b in done:
        totals = _totals(b)
        mc = totals.get("monte_carlo")
        for m, e in totals.items():
            if m != "monte_carlo" and mc is not None and e is not None:
                pairs.setdefault(m, []).append((mc, e))
    return [
        m
        for m, both in pairs.items()
        if np.mean([a for a, _ in both]) > np.mean([b for _, b in both])
    ]


def _calibration(w: dict[str, str], done: list[Backtest], source: str) -> Section:
    """PIT histogram and nominal-against-observed coverage of the weekly wins' forecasts,
    pooled over every backtest given."""
    pits: dict[str, list[float]] = {}
    for b in done:
        for s in b.scores:
            if (s.measure, s.view) == ("wins", "week") and s.pit:
                pits.setdefault(w["method_" + s.method], []).extend(s.pit)
    first, last = done[0].as_of[:10], done[-1].as_of[:10]
    title = (
        w["calibration"].format(date=first)
        if len(done) == 1
        else w["calibration_rolling"].format(n=len(done), first=first, last=last)
    )
    svg = charts.calibration(
        pits,
        title=title,
        source=source,
        pit_label=w["pit"],
        count_label=w["pit_count"],
        nominal_label=w["nominal"],
        observed_label=w["observed"],
        ideal_label=w["calibrated"],
        empty_note=w["no_data"],
    )
    return Section("calibration", title, svg=svg)


def _split_lines(w: dict[str, str], nf: Numbers, fc: Forecast) -> list[str]:
    """The forecast's wins (and revenue) by source: open pipeline against new deals."""
    split = fc.split
    if split is None:
        return []

    def band(b: Any, write: Callable[[float | None], str]) -> str:
        return f"{write(b.p50)} [{write(b.p10)}, {write(b.p90)}]"

    def count(x: float | None) -> str:
        return nf.number(x, 0)

    lines = [
        w["forecast_split"].format(
            existing=band(split.existing.wins, count), new=band(split.new.wins, count)
        )
    ]
    if split.existing.revenue is not None and split.new.revenue is not None:
        lines.append(
            w["forecast_split_revenue"].format(
                existing=band(split.existing.revenue, nf.money),
                new=band(split.new.revenue, nf.money),
            )
        )
    return lines


def _conformance(w: dict[str, str], conf: Any, process: Process, lang: str) -> Section:
    labels = [w["fitting"], w["non_fitting"]] + [reason_name(str(k), lang) for k in conf.reasons]
    values = [float(conf.fitting), float(conf.non_fitting)] + [
        float(v.deals) for v in conf.reasons.values()
    ]
    svg = charts.bars(
        labels,
        values,
        title=w["conformance"],
        xlabel=w["deals"],
        source=w["source_history"].format(source=conf.source),
        empty_note=w["no_data"],
    )
    lines = [edge_verdict(e, process, lang) for e in conf.edges]
    return Section("conformance", w["conformance"], svg=svg, text="\n".join(x for x in lines if x))


def _quality(w: dict[str, str], log: Any, lang: str) -> Section:
    r = log.report
    labels = [w["used"]] + [
        f"{w['skipped']}: {skip_name(k, lang)}" for k in sorted(r.skipped_by_reason)
    ]
    values = [float(r.rows_used)] + [
        float(r.skipped_by_reason[k]) for k in sorted(r.skipped_by_reason)
    ]
    svg = charts.bars(
        labels,
        values,
        title=w["quality"],
        xlabel=w["rows"],
        source=w["source_history"].format(source=r.source),
        empty_note=w["no_data"],
    )
    return Section("quality", w["quality"], svg=svg, text=quality_summary(r, lang))


# ---- writing ----------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;
max-width:1100px;margin:2em auto;padding:0 1em;color:#222;line-height:1.5}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
figure{margin:1em 0}figure svg{max-width:100%;height:auto}
table{border-collapse:collapse;font-size:.9em}td,th{border:1px solid #ccc;padding:.3em .6em;
text-align:right}td:first-child,th:first-child{text-align:left}
.finding{font-size:1.1em;background:#f5f7fa;border-left:4px solid #0072B2;padding:.8em 1em}
.verdict{border-left-color:#D55E00;background:#fdf1e8;font-weight:600}
.warning{color:#8a4b00}nav ol{columns:2}
@media print{nav{display:none}h2{page-break-before:auto}figure{page-break-inside:avoid}}
"""


def _write(report: Report, out: Path, w: dict[str, str], flow: Path) -> None:
    """Every file of the report: one SVG per chart, index.html, report.md, results.json."""
    import flowsim

    make_directory(out)
    files: list[Path] = []
    for s in report.sections:
        if s.svg is not None:
            path = out / f"{s.key}.svg"
            write_output(path, s.svg)
            files.append(path)
    footer = w["generated"].format(version=flowsim.__version__, file=flow.name)
    write_output(out / "index.html", _html_page(report, w, footer))
    write_output(out / "report.md", _markdown(report, w, footer))
    write_output(
        out / "results.json",
        json.dumps(report.results, ensure_ascii=False, indent=2, sort_keys=True, default=_json)
        + "\n",
    )
    files += [out / "index.html", out / "report.md", out / "results.json"]
    report.files = files


def _html_page(report: Report, w: dict[str, str], footer: str) -> str:
    """index.html: one self-contained page (inline SVG and CSS, no script, nothing loaded);
    the contents come after the headline, so the headline is on the first screen."""
    esc = html.escape
    body = [f"<h1>{esc(report.title)}</h1>"]
    nav = (
        f"<nav><h2>{esc(w['contents'])}</h2><ol>"
        + "".join(f'<li><a href="#{s.key}">{esc(s.title)}</a></li>' for s in report.sections)
        + "</ol></nav>"
    )
    verdict = bool(report.results.get("headline", {}).get("verdict"))
    for s in report.sections:
        if s.key != "finding" and nav:
            body.append(nav)
            nav = ""
        body += _html_section(s, verdict)
    if report.shown_warnings:
        body.append(f'<section id="warnings"><h2>{esc(w["warnings"])}</h2>')
        body += [f'<p class="warning">{esc(x)}</p>' for x in report.shown_warnings]
        body.append("</section>")
    body.append(f"<footer><p>{esc(footer)}</p></footer>")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{"zh-CN" if w is words("zh") else "en"}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(report.title)}</title><style>{_CSS}{FRAME_CSS}</style></head><body>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def _html_section(s: Section, verdict: bool) -> list[str]:
    """One section as HTML: its paragraphs (a failed verdict's own paragraph marked), its
    chart inline, its table."""
    esc = html.escape
    body = [f'<section id="{s.key}"><h2>{esc(s.title)}</h2>']
    if s.text:
        for i, para in enumerate(s.text.split("\n")):
            cls = ""
            if s.key == "finding":
                cls = ' class="finding verdict"' if verdict and i == 0 else ' class="finding"'
            body.append(f"<p{cls}>{esc(para)}</p>")
    if s.svg is not None:
        inline = _inline(s.svg, s.key)
        body.append(
            f"<figure>{framed(inline, toggle_id=f'{s.key}--full', alt=s.title, css=False)}</figure>"
        )
    if s.table:
        head, *rows = s.table
        body.append(
            "<table><tr>"
            + "".join(f"<th>{esc(c)}</th>" for c in head)
            + "</tr>"
            + "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in r) + "</tr>" for r in rows)
            + "</table>"
        )
    body.append("</section>")
    return body


def _markdown(report: Report, w: dict[str, str], footer: str) -> str:
    """report.md: the same sections for Markdown docs and Git hosting, charts as files."""
    md = [f"# {report.title}", ""]
    for s in report.sections:
        md += [f"## {s.title}", ""]
        if s.text:
            md += [s.text, ""]
        if s.svg is not None:
            md += [f"![{s.title}]({s.key}.svg)", ""]
        if s.table:
            head, *rows = s.table
            md += ["| " + " | ".join(_md(c) for c in head) + " |"]
            md += ["|" + "---|" * len(head)]
            md += ["| " + " | ".join(_md(c) for c in r) + " |" for r in rows]
            md += [""]
    if report.shown_warnings:
        md += [f"## {w['warnings']}", ""] + [f"- {x}" for x in report.shown_warnings] + [""]
    md += [f"_{footer}_", ""]
    return "\n".join(md)


_ID = re.compile(r'\bid="([^"]+)"')


def _inline(svg: str, prefix: str) -> str:
    """An SVG document as inline markup in a page holding several.

    The XML prolog and DOCTYPE go, and every ``id`` (and each reference to it) gets the
    section's prefix, so two charts' clip paths or Graphviz's ``node1`` never collide.
    """
    start = svg.find("<svg")
    if start < 0:
        return ""
    svg = svg[start:]
    ids = set(_ID.findall(svg))
    if not ids:
        return svg

    def rename(m: re.Match[str]) -> str:
        name = m.group(2)
        return f"{m.group(1)}{prefix}-{name}" if name in ids else m.group(0)

    svg = re.sub(r'(\bid=")([^"]+)', rename, svg)
    svg = re.sub(r"(url\(#)([^)]+)", rename, svg)
    return re.sub(r'((?:xlink:)?href="#)([^"]+)', rename, svg)


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _json(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON: {type(value).__name__}")
