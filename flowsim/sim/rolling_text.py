"""The rolling-origin backtest as text: per cutoff, then the summary over cutoffs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flowsim.sim.forecast_text import NAMES, _n, _pct, _table

if TYPE_CHECKING:
    from flowsim.sim.rolling import RollingBacktest

__all__ = ["rolling_text"]


def _crps(x: float | None, money: bool) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if money else f"{x:,.1f}"


def rolling_text(r: RollingBacktest) -> str:
    """Wins per cutoff (total error, weekly scores), then every method's summary."""
    first, last = r.backtests[0].as_of[:10], r.backtests[-1].as_of[:10]
    lines = [
        f"Rolling backtest: {len(r.backtests)} cutoff{'s' if len(r.backtests) != 1 else ''} "
        f"from {first} to {last}, "
        f"{r.horizon_hours / 24:g} days each, {r.replications} replications, seed {r.seed}; "
        f"model {r.model}",
        "",
        "Wins per cutoff: error of the total, weekly MAPE, weekly actuals inside P10–P90, "
        "weekly CRPS",
    ]
    rows = [["as of", "actual", "method", "total", "week MAPE", "P10–P90", "CRPS"]]
    for b in r.backtests:
        label, actual = b.as_of[:10], _n(b.actual_total.wins)
        for s in b.scores:
            if s.measure != "wins" or s.view != "week":
                continue
            total = b.score(s.method, "wins", "total")
            inside = "—" if s.coverage is None else f"{round(s.coverage * s.periods)}/{s.periods}"
            scores = [_pct(total.mape), _pct(s.mape), inside, _crps(s.crps, False)]
            rows.append([label, actual, NAMES[s.method], *scores])
            label = actual = ""
    lines += _table(rows, right=3)
    lines += ["", *_summary_lines(r), *_split_lines(r)]
    lines += [f"Skipped {k.as_of[:10]}: {k.reason}" for k in r.skipped]
    return "\n".join(lines) + "\n"


def _summary_lines(r: RollingBacktest) -> list[str]:
    """The summary table; the Monte Carlo's share of cutoffs at least as good as each method."""
    lines = [
        "Summary over cutoffs: mean MAPE and CRPS, share of all periods inside the bands "
        "(calibrated: 80% and 50%), share of cutoffs where the Monte Carlo did at least as well"
    ]
    rows = [["measure", "method", "MAPE", "CRPS", "P10–P90", "P25–P75", "MC ≤ MAPE", "MC ≤ CRPS"]]
    for measure in ("wins", "revenue"):
        for view in ("week", "total"):
            label = f"{measure} per {view}" if view != "total" else f"{measure}, whole horizon"
            for s in r.summary:
                if (s.measure, s.view) != (measure, view):
                    continue
                rows.append(
                    [
                        label,
                        NAMES[s.method],
                        _pct(s.mape),
                        _crps(s.crps, measure == "revenue"),
                        _pct(s.coverage),
                        _pct(s.coverage_50),
                        _pct(s.mc_mape_wins),
                        _pct(s.mc_crps_wins),
                    ]
                )
                label = ""
    lines += _table(rows, right=2)
    pit = [s for s in r.summary if (s.measure, s.view) == ("wins", "week") and s.pit_histogram]
    if pit:
        lines += ["", "PIT histogram of the weekly wins (10 bins over [0, 1]; flat: calibrated)"]
        lines += _table([[NAMES[s.method], *map(str, s.pit_histogram)] for s in pit])
    return lines


def _split_lines(r: RollingBacktest) -> list[str]:
    """Per cutoff the wins of the open pipeline and of new deals against the Monte Carlo's
    parts; then each part's scores over the cutoffs."""
    if not r.split_summary:
        return []
    lines = [
        "",
        "Wins over the horizon by source: actual, and the Monte Carlo's P50 [P10–P90] "
        "(open pipeline: deals recorded by the cutoff; new: created after it)",
    ]
    rows = [["as of", "open pipeline", "Monte Carlo", "weighted", "new deals", "Monte Carlo"]]
    for b in r.backtests:
        split = b.forecast.split
        if split is None or not b.actual_split:
            continue
        old, new = split.existing.wins, split.new.wins
        rows.append(
            [
                b.as_of[:10],
                _n(b.actual("existing").total.wins),
                f"{_n(old.p50)} [{_n(old.p10)}–{_n(old.p90)}]",
                _n(b.forecast.weighted.wins.mean),
                _n(b.actual("new").total.wins),
                f"{_n(new.p50)} [{_n(new.p10)}–{_n(new.p90)}]",
            ]
        )
    lines += _table(rows)
    rows = [["wins", "source", "method", "MAPE", "CRPS", "P10–P90", "P25–P75"]]
    for view in ("week", "total"):
        label = "per week" if view == "week" else "whole horizon"
        for s in r.split_summary:
            if (s.measure, s.view) != ("wins", view):
                continue
            source = "open pipeline" if s.part == "existing" else "new deals"
            rows.append(
                [
                    label,
                    source,
                    NAMES[s.method],
                    _pct(s.mape),
                    _crps(s.crps, False),
                    _pct(s.coverage),
                    _pct(s.coverage_50),
                ]
            )
            label = ""
    return [*lines, "", *_table(rows, right=3)]
