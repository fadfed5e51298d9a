"""The words of the terminal summaries (``flowsim simulate``, ``flowsim bottlenecks``) in the
process's language: the report's catalogue (KPI and objective names, lever labels) and the
model's labels for its ids. English keeps the ids and KPI keys the tables always showed.
"""

from __future__ import annotations

from flowsim.model import Process
from flowsim.report.i18n import KPIS, lever_label, report_warning, words
from flowsim.sim.bottlenecks import one_step_scenarios
from flowsim.sim.result import SimulationResult
from flowsim.sim.table import Terms, terminal_width

__all__ = ["CHINESE", "terms"]

#: the fixed words of the tables in Chinese (the keys of :data:`flowsim.sim.table.ENGLISH`)
CHINESE: dict[str, str] = {
    "head": "{process}：{mode}，{n} 次重复，随机种子 {seed}，自 {epoch} 起 {days:g} 天",
    "mode_stochastic": "随机模拟",
    "mode_replay": "历史回放模拟",
    "mode_from_today": "从当前在途商机起模拟",
    "warmup": "（前 {days:g} 天为预热期，不计入）",
    "from_today": "；期初在途的 {n} 个商机按历史继续",
    "replayed": "；回放历史中的 {n} 个商机",
    "means": "各次重复的均值及 95% 置信区间",
    "kpi": "指标",
    "paired": "与基线的配对差值，95% 置信区间（* = 区间不含 0）",
    "stage_cols": "阶段|进入次数|排队（小时）|工作量（小时）|非工作时间（小时）|客户等待（小时）"
    "|停留（小时）",
    "role_cols": "角色|利用率|排队（平均）|排队（最多）",
    "warning": "警告：{w}",
    "na": "无",
    "pt": " 个百分点",
    "capacity": "产能（为等待该角色而排队的时间占销售周期的比例）",
    "time": "时间（停留在该阶段的时间占销售周期的比例）",
    "conversion": "转化（到达该阶段的商机在此流失的比例）",
    "split": "{name} {value} 小时",
    "split_names": "排队|非工作时间|工作量|客户等待",
    "sep": "，",
    "evidence": "{text}（{split}）",
    "whatifs": "单步假设分析，按{goal}排序，与基线配对比较（95% 置信区间；* = 不含 0）",
    "model_only": "仅在模型中成立：模型未通过保真度检验（见开头）",
    "whatif_cols": "假设|类型|周期（天）|赢单金额|赢单数|赢率",
    "more": "等另外 {n} 项",
    "idle": "{names}{more}没有“+1 人”的假设：没有哪个有工作量的阶段归他们负责",
    "not_tried": "未尝试（{n} 项，超出预算；加大 --budget 即可运行）：{shown}{more}",
}

#: KPI names the report's catalogue lacks; the rest come from it
_KPIS_ZH = {
    "arrived": "进入商机数",
    "lost": "输单数",
    "open_at_end": "期末在途商机数",
    "won_per_week": "每周赢单数",
    "cycle_days_p90": "周期第 90 百分位（天）",
    "won_cycle_days_mean": "赢单平均周期（天）",
}

#: the kinds of one-step what-if
_KINDS_ZH = {
    "capacity": "产能",
    "effort": "工作量",
    "conversion": "转化",
    "rework": "返工",
    "wait": "等待",
}


def terms(
    process: Process,
    lang: str,
    result: SimulationResult | None = None,
    notes: dict[str, str] | None = None,
) -> Terms:
    """The words of the terminal tables of ``process`` in ``lang`` (``en`` or ``zh``).

    ``result`` (the run the tables show) lets a warning be reworded: an overloaded role's
    warning is rebuilt from its offered load, with the role's label; ``notes`` words others
    (the fidelity verdict, English → ``lang``).
    """
    if lang != "zh":
        return Terms()
    kpis = {**_KPIS_ZH, **KPIS["zh"]}
    w = words("zh")
    levers = {s.name: lever_label(s, process, "zh") for s in one_step_scenarios(process)}
    levers["baseline"] = w["baseline"]
    return Terms(
        text=CHINESE,
        kpi=lambda key, _unit: kpis.get(key, key),
        stage=lambda sid: _display(process, sid, stage=True),
        role=lambda rid: _display(process, rid, stage=False),
        scenario=lambda name: levers.get(name, name),
        kind=lambda kind: _KINDS_ZH.get(kind, kind),
        goal=lambda goal: w.get(f"obj_{goal}", goal),
        note=lambda note: _note(note, process, result, notes or {}),
        width=terminal_width,
    )


def _note(
    note: str, process: Process, result: SimulationResult | None, notes: dict[str, str]
) -> str:
    """A warning in Chinese: as ``notes`` words it, else as the report does, else as written."""
    if note in notes:
        return notes[note]
    return note if result is None else report_warning(note, result, process, "zh")


def _display(process: Process, name: str, stage: bool) -> str:
    """A stage's or role's label, else its id (also for a name the model lacks)."""
    try:
        return (process.node(name) if stage else process.role(name)).display
    except KeyError:
        return name
