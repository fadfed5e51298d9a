"""The forecast and the backtest as text: tables a person reads in a terminal."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from flowsim.sim.periods import Per

if TYPE_CHECKING:
    from flowsim.sim.backtest import Backtest, Score
    from flowsim.sim.forecast import Band, Forecast, PeriodForecast, TargetForecast

__all__ = ["backtest_text", "forecast_text"]


def _n(x: float) -> str:
    """Deals: whole numbers stay whole, others get one decimal."""
    return f"{x:,.0f}" if abs(x - round(x)) < 1e-9 or abs(x) >= 100 else f"{x:,.1f}"


def _money(x: float) -> str:
    return f"{x:,.0f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}%"


def _table(rows: list[list[str]], right: int = 1) -> list[str]:
    """Columns padded to their widest cell; all but the first ``right``-aligned."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [
            c.ljust(w) if i < right else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        out.append("  " + "  ".join(cells).rstrip())
    return out


def _band_cells(b: Band | None, fmt: object) -> list[str]:
    if b is None:
        return ["", "", "", ""]
    f = fmt if callable(fmt) else _n
    return [f(b.p10), f(b.p50), f(b.p90), f(b.mean)]


def _periods(
    title: str, periods: list[PeriodForecast], total: PeriodForecast, money: bool
) -> list[str]:
    head = [title, "wins P10", "P50", "P90", "mean"]
    if money:
        head += ["revenue P10", "P50", "P90", "mean"]
    rows = [head]
    for p in [*periods, total]:
        label = p.period if p.whole or p.period == "total" else f"{p.period} (part)"
        cells = [label, *_band_cells(p.wins, _n)]
        if money:
            cells += _band_cells(p.revenue, _money)
        rows.append(cells)
    return _table(rows)


def _uncertainty_line(f: Forecast) -> str:
    """Which uncertainty the Monte Carlo's bands hold."""
    if f.uncertainty == "parameters":
        return (
            f"Bands: parameter and simulation uncertainty ({f.models} bootstrap refits of the "
            "model on the history's deals, one per replication)"
        )
    return "Bands: simulation noise only (every replication runs the model as given)"


def forecast_text(f: Forecast) -> str:
    """The forecast: per-week and per-month bands, the weighted pipeline, the target."""
    money = f.revenue_known
    lines = [
        f"Forecast for {f.process!r}: {f.as_of[:16].replace('T', ' ')} to "
        f"{f.end[:16].replace('T', ' ')} ({f.timezone}), {f.horizon_hours / 24:g} days, "
        f"{f.replications} replications, seed {f.seed}",
        _uncertainty_line(f),
        f"Open pipeline: {f.open_deals} deals"
        + (f" ({f.stale_deals} stale)" if f.stale_deals else "")
        + (
            f"; new deals: {f.arrivals_per_week:,.1f} a week by the model"
            if f.arrivals_per_week
            else "; no new deals (the model has no arrivals)"
        ),
        "",
        "Monte Carlo (wins = deals won in the period"
        + (
            f"; revenue = their amounts{', ' + f.currency if f.currency else ''})" if money else ")"
        ),
        *_periods("week", f.weeks, f.total, money),
        "",
        *_periods("month", f.months, f.total, money),
        "",
        *_split_lines(f),
        *_weighted_lines(f),
        *_baseline_lines(f),
    ]
    if f.target is not None:
        lines += _target_lines(f.target)
    if f.whatif is not None:
        lines += _whatif_lines(f)
    if f.notes:
        lines += ["", *(f"Note: {n}" for n in f.notes)]
    return "\n".join(lines) + "\n"


def _split_lines(f: Forecast) -> list[str]:
    """The Monte Carlo's horizon by source: today's open pipeline, deals not yet created."""
    split = f.split
    if split is None:
        return []
    money = f.revenue_known
    new_label = (
        f"new deals ({f.arrivals_per_week:,.1f} a week)" if f.arrivals_per_week else "new deals"
    )
    rows = [["source", "wins P10", "P50", "P90", "mean"]]
    if money:
        rows[0] += ["revenue P10", "P50", "P90", "mean"]
    for label, p in (
        (f"open pipeline ({split.open_deals} deals)", split.existing),
        (new_label, split.new),
        ("total", f.total),
    ):
        cells = [label, *_band_cells(p.wins, _n)]
        if money:
            cells += _band_cells(p.revenue, _money)
        rows.append(cells)
    return [
        "Where the wins come from (Monte Carlo over the horizon; the means add up, the "
        "percentiles do not)",
        *_table(rows),
        "",
    ]


def _weighted_lines(f: Forecast) -> list[str]:
    """The weighted pipeline per stage, its band, and the Monte Carlo's total beside it
    (the two count different things: eventual wins against wins within the horizon)."""
    money = f.revenue_known
    cur = f" {f.currency}" if f.currency else ""
    w = f.weighted
    lines = [
        "Weighted pipeline (classic CRM: Σ P(win | stage) × amount over the open deals; "
        "P(win | stage) from the model, an absorbing Markov chain)"
    ]
    rows = [
        ["stage", "P(win)", "open deals", "expected wins"] + (["expected revenue"] if money else [])
    ]
    for s in w.stages:
        row = [s.stage, _pct(s.win_probability), str(s.open_deals), _n(s.expected_wins)]
        if money:
            row.append(_money(s.expected_revenue) if s.expected_revenue is not None else "")
        rows.append(row)
    total_row = ["total", "", str(w.open_deals), _n(w.wins.mean)]
    if money:
        total_row.append(_money(w.revenue.mean) if w.revenue is not None else "")
    rows.append(total_row)
    lines += _table(rows)
    band = f"  P10–P90 (independent deals): wins {_n(w.wins.p10)}–{_n(w.wins.p90)}"
    if money and w.revenue is not None:
        band += f", revenue {_money(w.revenue.p10)}–{_money(w.revenue.p90)}{cur}"
    lines.append(band)
    mc = f"  Monte Carlo over the horizon: wins P50 {_n(f.total.wins.p50)}"
    if money and f.total.revenue is not None:
        mc += f", revenue P50 {_money(f.total.revenue.p50)}{cur}"
    lines.append(mc + " (new deals included; the weighted pipeline counts eventual wins)")
    if w.amounts_from_model:
        lines.append(
            f"  {w.amounts_from_model} open deals without an amount are valued at the model's mean"
        )
    return lines


def _baseline_lines(f: Forecast) -> list[str]:
    """The baselines' totals over the horizon (point: their mean; band: their P10-P90)."""
    if not f.baselines:
        return []
    money = f.revenue_known
    head = ["baseline", "wins P10", "point", "P90"]
    rows = [head + (["revenue P10", "point", "P90"] if money else [])]
    for b in f.baselines:
        t = b.total
        cells = [NAMES[b.method], _n(t.wins.p10), _n(t.wins.mean), _n(t.wins.p90)]
        if money and t.revenue is not None:
            cells += [_money(t.revenue.p10), _money(t.revenue.mean), _money(t.revenue.p90)]
        rows.append(cells)
    lines = ["", "Baselines over the horizon (what the recent past alone says)", *_table(rows)]
    lines += [f"  {NAMES[b.method]}: {b.description}" for b in f.baselines]
    return lines


def _signed(x: float, fmt: Callable[[float], str]) -> str:
    text = fmt(x)
    return text if text.startswith("-") or text == fmt(0.0) else "+" + text


def _whatif_lines(f: Forecast) -> list[str]:
    """The scenario against the model over the horizon: the paired difference's mean and
    80% interval, beside the unpaired interval and the mean's 95% CI; then one sentence."""
    w = f.whatif
    if w is None:
        return []
    lines = [
        "",
        f"What-if {w.scenario!r} against the model over the horizon ({w.replications} "
        "replications, each running both on the same random numbers)",
    ]
    head = ["measure", "model P50", "scenario P50", "difference", "80% interval"]
    rows = [[*head, "unpaired 80%", "mean's 95% CI"]]
    for d in w.measures:
        fmt = _n if d.measure == "wins" else _money

        def span(lo: float, hi: float, fmt: Callable[[float], str] = fmt) -> str:
            return f"[{_signed(lo, fmt)}, {_signed(hi, fmt)}]"

        rows.append(
            [
                d.measure,
                fmt(d.baseline.p50),
                fmt(d.scenario.p50),
                _signed(d.paired.mean, fmt),
                span(d.paired.p10, d.paired.p90),
                span(d.unpaired.p10, d.unpaired.p90),
                span(d.mean_low, d.mean_high),
            ]
        )
    lines += _table(rows)
    main = w.measures[-1]
    fmt = _n if main.measure == "wins" else _money
    unit = " wins" if main.measure == "wins" else (f" {f.currency}" if f.currency else "")
    lines.append(
        f"  Reads: {_signed(main.paired.mean, fmt)}{unit} over the next {f.horizon_hours / 24:g} "
        f"days, 80% interval [{_signed(main.paired.p10, fmt)}, {_signed(main.paired.p90, fmt)}]"
    )
    return lines


def _target_lines(t: TargetForecast) -> list[str]:
    """P(reaching the target) per period, for the model and each of its scenarios."""
    tcur = f" {t.currency}" if t.currency else ""
    lines = ["", f"Target {_money(t.amount)}{tcur} per {t.per}"]
    names = list(t.periods[0].scenarios) if t.periods else []
    rows = [["period", "already won", "revenue P50", "P(reach)", *names]]
    for p in t.periods:
        label = p.period if p.complete else f"{p.period} (to horizon)"
        rows.append(
            [
                label,
                _money(p.already_won),
                _money(p.revenue.p50),
                _pct(p.probability),
                *(_pct(p.scenarios[n]) for n in names),
            ]
        )
    lines += _table(rows)
    if t.best_scenario is not None and t.best_gain is not None:
        lines.append(
            f"  Raises it most: scenario {t.best_scenario!r}, "
            f"+{100 * t.best_gain:.1f} points on average over the periods"
        )
    elif names:
        lines.append("  No scenario of the model raises it.")
    return lines


#: how the tables name the methods
NAMES = {
    "monte_carlo": "Monte Carlo",
    "weighted_pipeline": "weighted pipeline",
    "run_rate": "run-rate",
    "seasonal_naive": "seasonal naive",
}


def _score_cells(s: Score, money: bool) -> list[str]:
    def share(x: float | None) -> str:
        return "—" if x is None else f"{round(x * s.periods)}/{s.periods}"

    crps = "—" if s.crps is None else (_money(s.crps) if money else f"{s.crps:,.1f}")
    return [_pct(s.mape), share(s.coverage), share(s.coverage_50), crps]


def backtest_text(b: Backtest) -> str:
    """Every method's scores, then the actuals beside the Monte Carlo's forecast."""
    lines = [
        f"Backtest from {b.as_of[:10]} (history to {b.data_end[:10]}); model: {b.model}",
        "Scores over the whole periods: MAPE of the point forecast (Monte Carlo P50, the others' "
        "mean), how many actuals lie inside the P10–P90 and P25–P75 bands (— for a point "
        "forecast), mean CRPS (lower is better)",
    ]
    rows = [["measure", "method", "MAPE", "P10–P90", "P25–P75", "CRPS"]]
    for measure in ("wins", "revenue"):
        view: Per | str
        for view in ("week", "month", "total"):
            label = f"{measure} per {view}" if view != "total" else f"{measure}, whole horizon"
            for s in b.scores:
                if (s.measure, s.view) == (measure, view):
                    rows.append([label, NAMES[s.method], *_score_cells(s, measure == "revenue")])
                    label = ""
    lines += _table(rows, right=2)
    for base in b.forecast.baselines:
        lines.append(f"  {NAMES[base.method]}: {base.description}")
    lines += ["", "Actual against the Monte Carlo band (wins)"]
    rows = [["period", "actual", "P10", "P50", "P90"]]
    for a, p in zip(b.actual_months, b.forecast.months, strict=True):
        rows.append([a.period, _n(a.wins), _n(p.wins.p10), _n(p.wins.p50), _n(p.wins.p90)])
    t = b.forecast.total.wins
    rows.append(["total", _n(b.actual_total.wins), _n(t.p10), _n(t.p50), _n(t.p90)])
    lines += _table(rows)
    lines.append(f"  weighted pipeline: {_n(b.forecast.weighted.wins.mean)} wins")
    lines += _split_score_lines(b)
    if b.notes:
        lines += ["", *(f"Note: {n}" for n in b.notes)]
    return "\n".join(lines) + "\n"


def _split_score_lines(b: Backtest) -> list[str]:
    """Each source's actual over the horizon against its Monte Carlo band, and its scores
    (the weighted pipeline, today's open deals' eventual value, beside the open pipeline)."""
    if not b.split_scores or b.forecast.split is None:
        return []
    lines = [
        "",
        "Open pipeline against new deals (existing: deals the history records by the as-of "
        "date; new: created after it)",
    ]
    head = ["measure", "source", "method", "actual", "P10", "P50", "P90", "error", "week MAPE"]
    rows = [[*head, "P10–P90", "CRPS"]]
    bands = {"existing": b.forecast.split.existing, "new": b.forecast.split.new}
    for measure in ("wins", "revenue"):
        fmt = _n if measure == "wins" else _money
        label = measure
        for a in b.actual_split:
            actual = a.total.wins if measure == "wins" else a.total.revenue
            source = "open pipeline" if a.part == "existing" else "new deals"
            for s in b.split_scores:
                if (s.measure, s.view, s.part) != (measure, "total", a.part) or actual is None:
                    continue
                made = bands[a.part] if s.method == "monte_carlo" else b.forecast.weighted
                band = getattr(made, measure)
                week = b.score(s.method, measure, "week", a.part)
                weekly = _score_cells(week, measure == "revenue")
                cells = [fmt(actual), *(_band_cells(band, fmt)[:3] if band else ["", "", ""])]
                scores = [_pct(s.mape), _pct(week.mape), weekly[1], weekly[3]]
                rows.append([label, source, NAMES[s.method], *cells, *scores])
                label = source = ""
    return lines + _table(rows, right=3)
