"""What a simulation reports: KPIs with confidence intervals, per scenario, and paired deltas.

:class:`SimulationResult` is plain data (pydantic): its JSON is the contract for reports and
tools. Per-replication values are kept for process KPIs, so anything downstream (a report, a
test) can recompute an interval or a paired difference. The event log of the first baseline
replication rides along (not in the JSON) in the same schema as imported history, so every
metric and chart works on simulated deals too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import ConfigDict, Field, PrivateAttr

from flowsim._base import FlowsimModel
from flowsim._extras import missing
from flowsim.errors import InputError, UnknownScenario
from flowsim.sim.analytic import RoleLoad
from flowsim.sim.stats import Estimate

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from flowsim.sim.table import Terms

__all__ = ["ScenarioResult", "SimulationResult", "SimulationView"]

#: The tables of :meth:`SimulationResult.to_frame`.
SimulationView = Literal["kpis", "stages", "roles", "deltas"]


class ScenarioResult(FlowsimModel):
    """One scenario (or the baseline) over all replications."""

    model_config = ConfigDict(frozen=True)

    name: str
    kpis: dict[str, Estimate]
    stages: dict[str, dict[str, Estimate]]
    roles: dict[str, dict[str, Estimate]]
    edges: dict[str, Estimate] = Field(
        default_factory=dict, description="Moves per replication along 'source->target'."
    )
    deltas: dict[str, Estimate] = Field(
        default_factory=dict, description="Paired scenario − baseline, per process KPI."
    )
    replications: dict[str, list[float | None]] = Field(
        default_factory=dict, description="Each process KPI's value in every replication."
    )
    events_per_replication: float = 0.0


class SimulationResult(FlowsimModel):
    """The result of :func:`flowsim.simulate`."""

    model_config = ConfigDict(frozen=True)

    process: str
    mode: Literal["stochastic", "replay", "from_today"]
    seed: int
    replications: int
    epoch: str
    horizon_hours: float
    warmup_hours: float
    history_deals: int | None = None
    offered_load: list[RoleLoad] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    scenarios: list[ScenarioResult]

    _event_log: Any = PrivateAttr(default=None)
    _fidelity_check: Any = PrivateAttr(default=None)

    @property
    def baseline(self) -> ScenarioResult:
        return self.scenarios[0]

    def scenario(self, name: str) -> ScenarioResult:
        for s in self.scenarios:
            if s.name == name:
                return s
        raise UnknownScenario(name, [s.name for s in self.scenarios], "in this result")

    def text(self, terms: Terms | None = None) -> str:
        """The terminal report (what ``flowsim simulate`` prints): the trust gate's verdict
        first when the model failed it, then the KPIs per scenario.

        ``terms`` words it (:func:`flowsim.report.terminal.terms` gives the process's language;
        default English); the verdict is worded in the same language.
        """
        from flowsim.sim.table import EN, result_table

        words = terms or EN
        check = self._fidelity_check
        verdict = check.verdict() if check is not None else None
        return result_table(self, verdict, words)

    def to_json(self, *, indent: int | None = 2) -> str:
        """The result as JSON (the contract of ``flowsim simulate --format json``)."""
        return self.model_dump_json(indent=indent)

    @property
    def fidelity_check(self) -> Any:
        """The trust gate's :class:`~flowsim.sim.fidelity.FidelityResult` (None: not run).

        Its :meth:`~flowsim.sim.fidelity.FidelityResult.verdict` opens :attr:`warnings` when
        the model fails (see :mod:`flowsim.sim.trust`); ``verdict("zh")`` words it in Chinese.
        """
        return self._fidelity_check

    @property
    def event_log(self) -> Any:
        """The first baseline replication's deals as a :class:`flowsim.history.DealLog`."""
        return self._event_log

    def to_frame(self, view: SimulationView = "kpis") -> pl.DataFrame:
        """A tidy polars view: one row per (scenario, [stage|role], kpi).

        Parameters
        ----------
        view : {"kpis", "stages", "roles", "deltas"}
            Process KPIs, per-stage or per-role figures, or the paired differences from the
            baseline.

        Returns
        -------
        polars.DataFrame
            Columns ``scenario``, (``stage`` or ``role``,) ``kpi``, ``mean``, ``low``,
            ``high``, ``n``.
        """
        import polars as pl

        key = {"stages": ["stage"], "roles": ["role"]}.get(view, [])
        schema: dict[str, type[pl.DataType]] = {name: pl.String for name in ["scenario", *key]}
        schema.update(kpi=pl.String, mean=pl.Float64, low=pl.Float64, high=pl.Float64, n=pl.Int64)
        return pl.DataFrame(self._rows(view), schema=schema)

    def to_pandas(self, view: SimulationView = "kpis") -> pd.DataFrame:
        """:meth:`to_frame`'s table as a pandas DataFrame (needs the ``pandas`` extra).

        Parameters
        ----------
        view : {"kpis", "stages", "roles", "deltas"}
            The table.

        Returns
        -------
        pandas.DataFrame
            The same columns, with a plain range index.
        """
        try:
            import pandas as pd
        except ImportError as err:
            raise missing(err, "SimulationResult.to_pandas()") from err
        return pd.DataFrame(self._rows(view))

    def _rows(self, view: SimulationView) -> list[dict[str, Any]]:
        """The rows of the ``view`` table."""
        if view not in ("kpis", "stages", "roles", "deltas"):
            raise InputError(f"unknown frame view {view!r}: kpis, stages, roles or deltas")
        rows: list[dict[str, Any]] = []
        for s in self.scenarios:
            items: list[tuple[str | None, str, Estimate]]
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
        return rows

    def _repr_html_(self) -> str:
        from html import escape

        head = "".join(f"<th>{escape(s.name)}</th>" for s in self.scenarios)
        body = []
        for kpi in self.baseline.kpis:
            cells = "".join(f"<td>{escape(str(s.kpis[kpi]))}</td>" for s in self.scenarios)
            body.append(f"<tr><th>{escape(kpi)}</th>{cells}</tr>")
        return f"<table><tr><th></th>{head}</tr>{''.join(body)}</table>"
