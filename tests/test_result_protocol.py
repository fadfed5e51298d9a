"""Every result of the façade functions follows one protocol (``flowsim.Result``).

``text()`` for people, ``to_json()`` for programs, ``to_frame()`` for analysis and
``_repr_html_()`` for Jupyter. Each function is called once on the bundled example, its stage
"谈判签约" and its process renamed with a hostile ``<script>`` so the HTML must escape them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
import polars as pl
import pytest

import flowsim
from flowsim.result import html_table

ROOT = Path(__file__).resolve().parent.parent
HOSTILE = "<script>谈判签约"
SHANGHAI = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[flowsim.Process, flowsim.DealLog]:
    """The example process and history, the negotiation stage and the process name hostile."""
    tmp = tmp_path_factory.mktemp("hostile")
    flow = (ROOT / "examples" / "b2b-cn.flow").read_text(encoding="utf-8")
    flow = flow.replace('"谈判签约"', f'"{HOSTILE}"').replace(
        'process "B2B 大客户销售"', 'process "<script>B2B"'
    )
    deals = (ROOT / "examples" / "history" / "b2b-cn-deals.csv").read_text(encoding="utf-8")
    (tmp / "b2b.flow").write_text(flow, encoding="utf-8")
    (tmp / "deals.csv").write_text(deals.replace(",谈判签约,", f",{HOSTILE},"), encoding="utf-8")
    process = flowsim.load(tmp / "b2b.flow")
    return process, flowsim.read_log(tmp / "deals.csv")


AS_OF = datetime(2025, 10, 1, tzinfo=SHANGHAI)

#: façade call -> the key column of its polars table
CALLS: dict[str, tuple[Callable[[flowsim.Process, flowsim.DealLog], Any], str]] = {
    "metrics": (lambda p, log: flowsim.metrics(log), "stage"),
    "conformance": (lambda p, log: flowsim.conformance(log, p), "source"),
    "discover": (lambda p, log: flowsim.discover(log, name="<script>found"), "stage"),
    "simulate": (
        lambda p, log: flowsim.simulate(p, replications=2, until="8w", seed=1),
        "kpi",
    ),
    "bottlenecks": (
        lambda p, log: flowsim.bottlenecks(p, replications=2, until="8w", check_fidelity=False)[0],
        "kind",
    ),
    "fidelity": (lambda p, log: flowsim.fidelity(p, log, replications=2, max_days=120), "name"),
    "forecast": (
        lambda p, log: flowsim.forecast(
            p, log, horizon_hours="4w", as_of=AS_OF, replications=2, workers=1
        ),
        "period",
    ),
    "backtest": (
        lambda p, log: flowsim.backtest(
            p, log, AS_OF, horizon_hours="4w", replications=2, workers=1
        ),
        "method",
    ),
    "rolling_backtest": (
        lambda p, log: flowsim.rolling_backtest(
            p,
            log,
            [AS_OF, datetime(2025, 10, 15, tzinfo=SHANGHAI)],
            horizon_hours="4w",
            replications=2,
            workers=1,
        ),
        "method",
    ),
    "check_text": (
        lambda p, log: flowsim.check_text('process "x" {\n  stage a {\n', "<script>.flow"),
        "code",
    ),
}

#: the results whose HTML shows the hostile stage label, process or file name (escaped); the
#: others show stage ids, scenario and KPI names, methods
HOSTILE_SHOWN = {"metrics", "discover", "fidelity", "forecast", "check_text"}


@pytest.mark.parametrize("name", list(CALLS))
def test_every_facade_result_follows_the_protocol(
    name: str, example: tuple[flowsim.Process, flowsim.DealLog]
) -> None:
    call, key = CALLS[name]
    result = call(*example)
    assert isinstance(result, flowsim.Result)
    assert json.loads(result.to_json())
    assert result.text().strip()
    frame = result.to_frame()
    assert isinstance(frame, pl.DataFrame) and frame.height > 0
    assert key in frame.columns
    html = result._repr_html_()
    assert html.startswith("<table") and "<script" not in html
    if name in HOSTILE_SHOWN:
        assert "&lt;script&gt;" in html


def test_the_html_table_escapes_its_heading_and_every_cell() -> None:
    frame = pl.DataFrame({"stage": ["<b>won</b>", None], "share": [0.123456, 1.0]})
    html = html_table("<i>funnel</i>", frame, max_rows=1)
    assert "<b>" not in html and "<i>" not in html
    assert "&lt;b&gt;won&lt;/b&gt;" in html and "&lt;i&gt;funnel&lt;/i&gt;" in html
    assert "<td>0.1235</td>" in html and "1 more rows" in html


def test_check_text_is_what_flowsim_check_prints(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flowsim.cli import main

    for source in ("examples/b2b-cn.flow", None):
        path = ROOT / source if source else tmp_path / "bad.flow"
        if source is None:
            path.write_text('process "x" {\n  stage a {\n', encoding="utf-8")
        run = CliRunner().invoke(main, ["check", str(path)])
        assert run.output.strip() == flowsim.check_file(path).text().strip()


def test_the_tables_hold_what_the_results_hold(
    example: tuple[flowsim.Process, flowsim.DealLog],
) -> None:
    process, log = example
    funnel = flowsim.metrics(log)
    assert funnel.to_frame()["stage"].to_list() == list(funnel.stages)
    assert funnel.to_frame()["entered"].to_list() == [s.entered for s in funnel.stages.values()]
    report, _ = flowsim.bottlenecks(process, replications=2, until="8w", check_fidelity=False)
    ranking = report.to_frame()
    assert ranking.height == len(report.capacity) + len(report.time) + len(report.conversion)
    assert ranking.filter(pl.col("kind") == "time")["name"].to_list() == [
        b.name for b in report.time
    ]
    f = flowsim.forecast(process, log, horizon_hours="4w", as_of=AS_OF, replications=2, workers=1)
    periods = f.to_frame()
    assert periods.height == len(f.weeks) + len(f.months) + 1
    total = periods.filter(pl.col("view") == "total").row(0, named=True)
    assert total["wins_mean"] == f.total.wins.mean and total["wins_p90"] == f.total.wins.p90


# ---- to_pandas(): what to_frame() returned before it became polars ----------------------------
# The reference functions below are the pandas ``to_frame`` of FunnelMetrics, ConformanceReport
# and SimulationResult as they were before the polars protocol, copied verbatim; ``to_pandas``
# must give byte-identical frames (same CSV text, dtypes, index), and ``to_frame`` the same values.


def _old_metrics_frame(m: Any, kind: str) -> pd.DataFrame:
    if kind == "stages":
        rows = m._stage_rows()
        return pd.DataFrame(rows).set_index("stage") if rows else pd.DataFrame()
    if kind == "transitions":
        return pd.DataFrame([t.model_dump() for t in m.transitions])
    data = m.process.model_dump(exclude={"cycle_time"})
    for result, ct in m.process.cycle_time.items():
        for f, v in ct.model_dump().items():
            data[f"cycle_{result}_{f}"] = v
    return pd.DataFrame([data])


def _old_conformance_frame(r: Any, kind: str) -> pd.DataFrame:
    rows = list(
        {
            "edges": r.edges,
            "undesigned": r.undesigned,
            "skipped": r.skipped,
            "repeated": r.repeated,
            "unknown": r.unknown_stages,
        }[kind]
    )
    fields = list(type(rows[0]).model_fields) if rows else []
    return pd.DataFrame([x.model_dump() for x in rows], columns=fields or None)


def _old_simulation_frame(r: Any, view: str) -> pd.DataFrame:
    rows: list[dict[str, Any]] = []
    for s in r.scenarios:
        if view == "kpis":
            items = [(None, k, e) for k, e in s.kpis.items()]
        elif view == "deltas":
            items = [(None, k, e) for k, e in s.deltas.items()]
        else:
            table = s.stages if view == "stages" else s.roles
            items = [(name, k, e) for name, d in table.items() for k, e in d.items()]
        for key, kpi, e in items:
            row: dict[str, Any] = {"scenario": s.name}
            if key is not None:
                row["stage" if view == "stages" else "role"] = key
            row.update(kpi=kpi, mean=e.mean, low=e.low, high=e.high, n=e.n)
            rows.append(row)
    return pd.DataFrame(rows)


VIEWS: dict[str, tuple[Callable[[Any, str], pd.DataFrame], tuple[str, ...]]] = {
    "metrics": (_old_metrics_frame, ("stages", "transitions", "process")),
    "conformance": (
        _old_conformance_frame,
        ("edges", "undesigned", "skipped", "repeated", "unknown"),
    ),
    "simulate": (_old_simulation_frame, ("kpis", "stages", "roles", "deltas")),
}


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A pandas frame's rows as plain dicts, its index a column, NaN as None."""
    flat = frame.reset_index() if frame.index.name else frame
    return [
        {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
        for row in flat.to_dict("records")
    ]


@pytest.mark.parametrize("name", list(VIEWS))
def test_to_pandas_is_the_old_to_frame_and_to_frame_holds_the_same_values(
    name: str, example: tuple[flowsim.Process, flowsim.DealLog]
) -> None:
    old, views = VIEWS[name]
    result = CALLS[name][0](*example)
    for view in views:
        before, after = old(result, view), result.to_pandas(view)
        pd.testing.assert_frame_equal(after, before, check_exact=True)
        assert after.to_csv() == before.to_csv()
        assert list(after.dtypes.astype(str)) == list(before.dtypes.astype(str))
        frame = result.to_frame(view)
        assert isinstance(frame, pl.DataFrame)
        if not before.empty:
            assert frame.columns == list(before.reset_index() if before.index.name else before)
            polars_rows = [
                {k: None if isinstance(v, float) and v != v else v for k, v in row.items()}
                for row in frame.iter_rows(named=True)
            ]
            assert polars_rows == _records(before)
