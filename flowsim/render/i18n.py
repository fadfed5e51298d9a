"""Built-in words of the pictures, in English and Chinese (``--lang en|zh``)."""

from __future__ import annotations

from typing import Literal

__all__ = ["Lang", "words"]

Lang = Literal["en", "zh"]

_WORDS: dict[str, dict[str, str]] = {
    "en": {
        "won": "won",
        "lost": "lost",
        "other": "ended",
        "entry": "start",
        "owner": "owner",
        "goal": "goal",
        "exit": "exit",
        "unassigned": "unassigned",
        "conversion": "conversion",
        "rework": "rework",
        "remainder": "remainder",
        "legend": "Legend",
        "stage": "stage",
        "outcome": "outcome",
        "low": "low",
        "high": "high",
        "deals": "deals",
        "flow_volume": "edge width = deals",
        "phase": "Phase",
        "persona_goals": "Persona & goals",
        "actions": "Customer actions",
        "touchpoints": "Touchpoints",
        "emotion": "Emotion",
        "pains": "Pain points",
        "ideas": "Ideas",
        "owners": "Internal owners",
        "journey": "Customer journey",
        "flowchart": "Process",
        "dwell": "time in stage",
        "queue": "wait for owner",
        "leakage": "leakage",
        "utilization": "owner utilization",
        "effort": "effort",
        "wait": "wait",
        "hours": "h",
        "days": "d",
        "source": "source",
        "no_data": "no data",
    },
    "zh": {
        "won": "赢单",
        "lost": "输单",
        "other": "结束",
        "entry": "起点",
        "owner": "负责人",
        "goal": "目标",
        "exit": "出口标准",
        "unassigned": "未分配",
        "conversion": "转化率",
        "rework": "返工",
        "remainder": "其余",
        "legend": "图例",
        "stage": "阶段",
        "outcome": "结果",
        "low": "低",
        "high": "高",
        "deals": "商机",
        "flow_volume": "线宽 = 商机数",
        "phase": "阶段",
        "persona_goals": "客户角色与目标",
        "actions": "客户行为",
        "touchpoints": "触点",
        "emotion": "情绪",
        "pains": "痛点",
        "ideas": "改进机会",
        "owners": "内部负责人",
        "journey": "客户旅程",
        "flowchart": "流程",
        "dwell": "停留时间",
        "queue": "等待负责人",
        "leakage": "流失率",
        "utilization": "负责人利用率",
        "effort": "工作量",
        "wait": "等待",
        "hours": "小时",
        "days": "天",
        "source": "来源",
        "no_data": "无数据",
    },
}


def words(lang: Lang) -> dict[str, str]:
    """The built-in words for ``lang``."""
    return _WORDS[lang]
