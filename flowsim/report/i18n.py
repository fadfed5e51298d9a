"""The report's message catalogue in English and Chinese (``--lang en|zh``).

Every word a report adds goes through here: section titles, axis titles and legends, KPI and
fidelity-measure names, conformance and data-quality reasons, the one-step what-ifs' names,
warnings and the header lines. User text (stage, role and scenario names) comes from the model
as written, labels before ids; numbers are written by :class:`flowsim.report.numbers.Numbers`.
``results.json`` is not translated: its keys and codes stay English, its values numbers.
"""

from __future__ import annotations

import re
from typing import Any

from flowsim.errors import InputError
from flowsim.language import detect_language
from flowsim.model import DurationChange, Process, RoleChange, Scenario, TransitionChange
from flowsim.report.numbers import Numbers
from flowsim.sim.fidelity import MEASURE_NAMES

__all__ = [
    "KPIS",
    "MEASURES",
    "REASONS",
    "SKIPS",
    "WORDS",
    "capacity_warning",
    "detect_language",
    "edge_verdict",
    "fidelity_warning",
    "kpi_name",
    "lever_label",
    "measure_name",
    "quality_summary",
    "reason_name",
    "report_warning",
    "skip_name",
    "words",
]

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "title": "Sales process report",
        "finding": "Principal finding",
        "best_whatif": "The best what-if for {objective} is {name}: it changes {objective} by "
        "{delta} (95% CI {low} to {high}) and {other} by {odelta} (95% CI {olow} to {ohigh}).",
        "no_whatif": "No what-if improved {objective} significantly.",
        "replay_note": "a replay keeps history's paths and outcomes: a what-if moves {objective} "
        "only through the deals that close inside the window or not; `--objective cycle` ranks "
        "by what the what-ifs do change (the times)",
        "replay_fixed": "The run replays history, whose deals keep their real paths and "
        "outcomes, so the what-ifs can change little but times: `--objective cycle` ranks them "
        "by those.",
        "conditional": "In the model only (not a forecast while it fails its fidelity check): ",
        "model_only": "In the model only: it fails its fidelity check (see the principal "
        "finding), so these deltas are not a forecast.",
        "obj_revenue": "revenue",
        "obj_won": "the deals won",
        "obj_win-rate": "the win rate (points)",
        "obj_cycle": "the mean cycle time (days)",
        "tornado_obj": "One-step what-ifs: paired effect on {objective} (95% CI)",
        "tornado_obj_x": "change in {objective}",
        "not_tried": "The budget of {budget} what-ifs left {n} untried (the most promising "
        "first: {names}); results.json lists them all.",
        "flowchart": "Flowchart, coloured by queue time",
        "journey": "Customer journey map",
        "journey_measured": "Customer journey map, with the measured scores (95% CI) beside the "
        "designed curve",
        "feedback": "Customer feedback per touchpoint (mean score, 95% CI)",
        "feedback_head": "phase / touchpoint|answers|mean|95% CI|designed|verdict",
        "feedback_verdicts": "worse|better|agrees|too few|no design",
        "feedback_note": "{answers} answers on the {scale} scale; designed = the touchpoint's "
        "emotion on that scale; verdict: the 95% interval of the mean against it.",
        "funnel": "Funnel: share of deals reaching each stage",
        "funnel_y": "share of deals",
        "stage_times": "Where the time goes in each stage (mean hours per stay)",
        "hours": "hours",
        "days": "days",
        "deals": "deals",
        "queue": "queue for the role",
        "off_calendar": "off-calendar",
        "effort": "effort",
        "customer_wait": "customer wait",
        "distributions": "Time in stage",
        "cycle": "Cycle time by outcome",
        "cfd": "Work in progress over time (cumulative flow)",
        "cfd_ended": "left its last stage, no outcome recorded",
        "utilization": "Role utilization (95% CI)",
        "utilization_x": "utilization",
        "scenarios": "Scenario comparison",
        "forest": "Paired effect on the mean cycle time vs baseline (95% CI)",
        "forest_x": "change in mean cycle time (days)",
        "tornado": "One-step what-ifs",
        "fidelity": "Fidelity against history: distance ÷ noise floor",
        "fidelity_x": "ratio to the noise floor (log scale)",
        "forecast": "Forecast: deals won per week",
        "forecast_y": "deals won",
        "weighted": "weighted pipeline",
        "conformance": "Conformance of history to the design",
        "quality": "Data quality: rows read, used and skipped",
        "rows": "rows",
        "history": "history",
        "model": "model",
        "baseline": "baseline",
        "kpi": "KPI",
        "source_sim": "Source: simulation of {process}, {n} replications, seed {seed}",
        "source_history": "Source: {source}",
        "no_history": "No history was given: the report simulates the model alone.",
        "generated": "Generated by flowsim {version} from {file}.",
        "warnings": "Warnings",
        "won": "won",
        "lost": "lost",
        "fitting": "fitting deals",
        "non_fitting": "non-fitting deals",
        "used": "used",
        "skipped": "skipped",
        "contents": "Contents",
        "ci": "95% CI",
        "mean": "mean",
        "target_probability": "Probability of reaching the target ({target}) in {period}: {p}",
        "forecast_split": "Wins over the horizon (P50 [P10–P90]): {existing} from today's open "
        "pipeline, {new} from deals not yet created",
        "forecast_split_revenue": "Revenue over the horizon (P50 [P10–P90]): {existing} from "
        "today's open pipeline, {new} from deals not yet created",
        "backtest": "Backtest: deals won per week from {date}, against what happened",
        "actual": "actual",
        "calibration": "Calibration of the weekly forecasts (backtest from {date})",
        "calibration_rolling": "Calibration of the weekly forecasts ({n} backtests, {first} to "
        "{last})",
        "rolling_scores": "Over {n} monthly backtests ({first} to {last}), mean 90-day error of "
        "the wins: {scores}. The Monte Carlo's P10–P90 bands held {coverage} of the weekly "
        "actuals (about 80% when calibrated).",
        "pit": "PIT: where the actual fell in the forecast",
        "pit_count": "weeks",
        "nominal": "central band (nominal)",
        "observed": "actuals inside",
        "calibrated": "calibrated",
        "source_backtest": "Source: {source}; forecast from {date} with the history as it "
        "stood then, {n} replications, seed {seed}",
        "backtest_scores": "90-day error of the wins: {scores}. The Monte Carlo's P10–P90 band "
        "held {inside} of {weeks} weekly actuals (about 80% when calibrated).",
        "backtest_beats": "Verdict: the Monte Carlo beats every baseline on this backtest.",
        "backtest_loses": "Verdict: the Monte Carlo does not beat {methods} on this backtest; "
        "read its forecast with that in mind.",
        "backtest_model": "The model was used as given: if it was fitted on the whole history, "
        "it saw the backtest's future, and the score flatters it.",
        "rolling_beats": "Verdict: on average over these backtests the Monte Carlo beats every "
        "baseline.",
        "rolling_loses": "Verdict: on average over these backtests the Monte Carlo does not beat "
        "{methods}; read its forecast with that in mind.",
        "method_monte_carlo": "Monte Carlo",
        "method_weighted_pipeline": "weighted pipeline",
        "method_run_rate": "run-rate",
        "method_seasonal_naive": "seasonal naive",
        "no_data": "no data",
        "source_overlay": "simulation of {process}, {n} replications",
        "quality_summary": "{source}: {read} rows read, {used} used",
        "quality_skipped": ", {n} skipped ({why})",
        "quality_filter": "; filter {rule}: kept {deals_after} of {deals_before} deals, "
        "{records_after} of {records_before} records",
        "capacity": "role {role} is offered {load} of its capacity ({offered} of {capacity} "
        "person-hours a week): its queue grows without bound, so averages depend on the run "
        "length",
        "unmatched": "{n} history records of stages the model lacks were left out of the "
        "replay: {stages}",
        "fidelity_warning": "the model is worse than {factor}× the noise floor of the history "
        "on: {worst}; treat its what-if results with care (see `flowsim fidelity`)",
        "fidelity_item": "{measure} {model} vs floor {floor} ({ratio}×)",
        "fidelity_failed": "fidelity: {error}",
        "edge_verdict": "{source} → {target}: design says {designed}; history says {observed} "
        "[{low}, {high}] of {exits} exits, {direction} than designed",
        "lower": "lower",
        "higher": "higher",
        "consider": " (consider {p})",
        "elsewhere": " ({n} of the exits take moves the design lacks)",
        "lever_people": "+{n} {role}",
        "lever_effort": "{stage} effort {change}",
        "lever_wait": "{stage} wait {change}",
        "lever_move": "{source} → {target} {change}",
        "list": ", ",
    },
    "zh": {
        "title": "销售流程报告",
        "finding": "主要结论",
        "best_whatif": "对{objective}最佳的假设方案是「{name}」：{objective}变化 {delta}"
        "（95% 置信区间 {low} 至 {high}），{other}变化 {odelta}"
        "（95% 置信区间 {olow} 至 {ohigh}）。",
        "no_whatif": "没有任何假设方案显著改善{objective}。",
        "replay_note": "回放保持历史数据的路径和结果：假设方案只能通过商机是否在时间窗内"
        "成交来改变{objective}；`--objective cycle` 按假设方案确实改变的时间排序",
        "replay_fixed": "本次运行回放历史数据，商机保持真实的路径和结果，假设方案几乎只能改变时间："
        "可用 `--objective cycle` 按时间排序。",
        "conditional": "仅在模型中成立（模型未通过保真度检验，这不是预测）：",
        "model_only": "仅在模型中成立：模型未通过保真度检验（见主要结论），这些差值不是预测。",
        "obj_revenue": "赢单金额",
        "obj_won": "赢单数",
        "obj_win-rate": "赢率（百分点）",
        "obj_cycle": "平均周期（天）",
        "tornado_obj": "单步假设方案：对{objective}的配对影响（95% 置信区间）",
        "tornado_obj_x": "{objective}变化",
        "not_tried": "按 {budget} 个假设方案的预算，还有 {n} 个未尝试（最有希望的在前：{names}）；"
        "results.json 列出全部。",
        "flowchart": "流程图（按排队时间着色）",
        "journey": "客户旅程图",
        "journey_measured": "客户旅程图，附实测评分（95% 置信区间）与设计曲线对照",
        "feedback": "各触点的客户反馈（平均分，95% 置信区间）",
        "feedback_head": "阶段 / 触点|回答数|平均分|95% 置信区间|设计值|结论",
        "feedback_verdicts": "低于设计|高于设计|符合设计|样本太少|未设计",
        "feedback_note": "共 {answers} 条回答，评分刻度 {scale}；设计值 = 触点情绪在该刻度上的值；"
        "结论：平均分 95% 置信区间与设计值比较。",
        "funnel": "漏斗：到达各阶段的商机比例",
        "funnel_y": "商机比例",
        "stage_times": "各阶段时间构成（每次停留的平均小时数）",
        "hours": "小时",
        "days": "天",
        "deals": "商机",
        "queue": "等待人员",
        "off_calendar": "非工作时间",
        "effort": "工作时间",
        "customer_wait": "客户等待",
        "distributions": "阶段停留时间",
        "cycle": "按结果的销售周期",
        "cfd": "在制商机随时间变化（累积流图）",
        "cfd_ended": "已离开最后阶段（未记录结果）",
        "utilization": "角色利用率（95% 置信区间）",
        "utilization_x": "利用率",
        "scenarios": "假设方案对比",
        "forest": "相对基线的平均周期配对差异（95% 置信区间）",
        "forest_x": "平均周期变化（天）",
        "tornado": "单步假设方案",
        "fidelity": "与历史的拟合度：距离 ÷ 噪声基线",
        "fidelity_x": "与噪声基线之比（对数刻度）",
        "forecast": "预测：每周赢单数",
        "forecast_y": "赢单数",
        "weighted": "加权管道",
        "conformance": "历史与设计的一致性",
        "quality": "数据质量：读取、使用与跳过的行",
        "rows": "行",
        "history": "历史",
        "model": "模型",
        "baseline": "基线",
        "kpi": "指标",
        "source_sim": "来源：{process} 的仿真，{n} 次重复，随机种子 {seed}",
        "source_history": "来源：{source}",
        "no_history": "未提供历史数据：本报告仅基于模型仿真。",
        "generated": "由 flowsim {version} 根据 {file} 生成。",
        "warnings": "警告",
        "won": "赢单",
        "lost": "输单",
        "fitting": "符合设计的商机",
        "non_fitting": "不符合设计的商机",
        "used": "已使用",
        "skipped": "已跳过",
        "contents": "目录",
        "ci": "95% 置信区间",
        "mean": "均值",
        "target_probability": "{period} 达成目标（{target}）的概率：{p}",
        "forecast_split": "预测期内赢单（P50 [P10–P90]）：现有商机 {existing}，"
        "尚未创建的新商机 {new}",
        "forecast_split_revenue": "预测期内收入（P50 [P10–P90]）：现有商机 {existing}，"
        "尚未创建的新商机 {new}",
        "backtest": "回测：自 {date} 起每周赢单数与实际对比",
        "actual": "实际",
        "calibration": "每周预测的校准（自 {date} 起的回测）",
        "calibration_rolling": "每周预测的校准（{n} 次回测，{first} 至 {last}）",
        "rolling_scores": "{n} 次月度回测（{first} 至 {last}）的 90 天赢单数平均误差：{scores}。"
        "蒙特卡洛的 P10–P90 区间覆盖了 {coverage} 的每周实际值（校准良好时约 80%）。",
        "pit": "概率积分变换：实际值在预测分布中的位置",
        "pit_count": "周数",
        "nominal": "中心区间（名义）",
        "observed": "实际值落入比例",
        "calibrated": "完全校准",
        "source_backtest": "来源：{source}；以 {date} 当时的历史预测，{n} 次重复，随机种子 {seed}",
        "backtest_scores": "90 天赢单数误差：{scores}。蒙特卡洛的 P10–P90 区间覆盖了 {weeks} "
        "周实际值中的 {inside} 周（校准良好时约 80%）。",
        "backtest_beats": "结论：在本次回测中，蒙特卡洛优于所有基准方法。",
        "backtest_loses": "结论：在本次回测中，蒙特卡洛不如{methods}；请据此解读其预测。",
        "backtest_model": "模型按原样使用：若它由全部历史拟合而来，则已看到回测期的数据，"
        "评分偏乐观。",
        "rolling_beats": "结论：就这些回测的平均而言，蒙特卡洛优于所有基准方法。",
        "rolling_loses": "结论：就这些回测的平均而言，蒙特卡洛不如{methods}；请据此解读其预测。",
        "method_monte_carlo": "蒙特卡洛",
        "method_weighted_pipeline": "加权管道",
        "method_run_rate": "运行率",
        "method_seasonal_naive": "季节性朴素",
        "no_data": "无数据",
        "source_overlay": "{process} 的仿真，{n} 次重复",
        "quality_summary": "{source}：读取 {read} 行，使用 {used} 行",
        "quality_skipped": "，跳过 {n} 行（{why}）",
        "quality_filter": "；筛选 {rule}：保留 {deals_before} 个商机中的 {deals_after} 个、"
        "{records_before} 条记录中的 {records_after} 条",
        "capacity": "角色「{role}」承担的工作量是其产能的 {load}（每周 {offered} / {capacity} "
        "人时）：排队会无限增长，平均值取决于仿真时长",
        "unmatched": "回放略去了 {n} 条模型中没有的阶段的历史记录：{stages}",
        "fidelity_warning": "模型在以下指标上比历史数据的噪声基线差 {factor} 倍以上：{worst}；"
        "请谨慎对待其假设方案结果（见 `flowsim fidelity`）",
        "fidelity_item": "{measure} {model}，噪声基线 {floor}（{ratio} 倍）",
        "fidelity_failed": "未能测量拟合度：{error}",
        "edge_verdict": "{source} → {target}：设计为 {designed}；历史为 {observed} "
        "[{low}, {high}]（共 {exits} 次离开），{direction}",
        "lower": "低于设计",
        "higher": "高于设计",
        "consider": "（可考虑改为 {p}）",
        "elsewhere": "（其中 {n} 次离开走了设计中没有的流转）",
        "lever_people": "+{n} 人 {role}",
        "lever_effort": "{stage} 工作量 {change}",
        "lever_wait": "{stage} 等待 {change}",
        "lever_move": "{source} → {target} {change}",
        "list": "、",
    },
}


def words(lang: str) -> dict[str, str]:
    """The wording for ``lang`` (``en`` or ``zh``)."""
    if lang not in WORDS:
        raise InputError(f"unknown report language {lang!r}: use en or zh")
    return WORDS[lang]


#: the scenario table's KPIs (keys of a scenario's ``kpis``)
KPIS: dict[str, dict[str, str]] = {
    "en": {
        "won": "deals won",
        "win_rate": "win rate",
        "revenue": "revenue",
        "cycle_days_mean": "mean cycle time (days)",
        "wip_mean": "mean deals in progress",
    },
    "zh": {
        "won": "赢单数",
        "win_rate": "赢率",
        "revenue": "赢单金额",
        "cycle_days_mean": "平均周期（天）",
        "wip_mean": "平均在制商机数",
    },
}

#: fidelity measures (``MeasureVerdict.name``): the names the verdict uses
MEASURES: dict[str, dict[str, str]] = MEASURE_NAMES

#: conformance: why a deal does not fit (``flowsim.history.conformance.REASONS``)
REASONS: dict[str, dict[str, str]] = {
    "en": {
        "wrong-start": "starts elsewhere than the entry",
        "undesigned-transition": "moves the design lacks",
        "unknown-stage": "stages the model lacks",
        "after-outcome": "records after the outcome",
    },
    "zh": {
        "wrong-start": "未从起点阶段开始",
        "undesigned-transition": "存在设计外的流转",
        "unknown-stage": "存在模型中没有的阶段",
        "after-outcome": "结果之后仍有记录",
    },
}

#: data quality: why an import skipped rows (``flowsim.history.problems``)
SKIPS: dict[str, dict[str, str]] = {
    "en": {
        "bad-date": "unreadable date",
        "missing-date": "missing date",
        "empty-deal": "no deal id",
        "empty-stage": "no stage",
        "bad-amount": "unreadable amount",
        "duplicate-event": "duplicate record",
        "negative-duration": "leaves before it enters",
        "unchanged-stage": "saved without a stage change",
        "unpaired-start": "start without completion",
        "unpaired-schedule": "schedule without start",
        "unpaired-complete": "completion without start",
        "unsupported-lifecycle": "unsupported lifecycle",
        "event-outside-trace": "event outside a trace",
        "deal-without-events": "deal without events",
        "duplicate-deal": "duplicate deal",
        "event-after-close": "record after the close",
        "close-without-outcome": "close without an outcome",
        "owner-without-role": "owner without a role",
        "unknown-stage": "stage the model lacks",
        "join-without-deal": "joined row without a deal",
        "mixed-timezone": "mixed time zones",
        "ambiguous-date-order": "ambiguous date order",
    },
    "zh": {
        "bad-date": "日期无法识别",
        "missing-date": "缺少日期",
        "empty-deal": "缺少商机编号",
        "empty-stage": "缺少阶段",
        "bad-amount": "金额无法识别",
        "duplicate-event": "重复记录",
        "negative-duration": "离开早于进入",
        "unchanged-stage": "保存时阶段未变",
        "unpaired-start": "有开始无完成",
        "unpaired-schedule": "有计划无开始",
        "unpaired-complete": "有完成无开始",
        "unsupported-lifecycle": "不支持的生命周期",
        "event-outside-trace": "轨迹之外的事件",
        "deal-without-events": "商机没有事件",
        "duplicate-deal": "重复商机",
        "event-after-close": "关闭之后的记录",
        "close-without-outcome": "关闭但无结果",
        "owner-without-role": "负责人没有角色",
        "unknown-stage": "模型中没有的阶段",
        "join-without-deal": "关联行没有商机",
        "mixed-timezone": "时区混用",
        "ambiguous-date-order": "日期顺序有歧义",
    },
}


def _name(table: dict[str, dict[str, str]], key: str, lang: str) -> str:
    return table.get(lang, table["en"]).get(key, key)


def kpi_name(key: str, lang: str) -> str:
    """A KPI's name (``win_rate`` → ``win rate`` / ``赢率``); an unknown key as it is."""
    return _name(KPIS, key, lang)


def measure_name(key: str, lang: str) -> str:
    """A fidelity measure's name (``n_gram_distance`` → ``n-gram (paths)``)."""
    return _name(MEASURES, key, lang)


def reason_name(key: str, lang: str) -> str:
    """A conformance reason's name (``wrong-start`` → ``starts elsewhere than the entry``)."""
    return _name(REASONS, key, lang)


def skip_name(key: str, lang: str) -> str:
    """A data-quality skip reason's name (``bad-date`` → ``unreadable date``)."""
    return _name(SKIPS, key, lang)


# ---- sentences built from structured results ----------------------------------------------------


def lever_label(scenario: Scenario, process: Process, lang: str) -> str:
    """A one-change what-if by what it changes, in ``lang`` with the model's labels.

    ``+1 se`` → ``+1 人 解决方案顾问``; ``contact effort -20%`` → ``初步接触 工作量 -20%``;
    ``a->b +5pt`` → ``A → B +5 个百分点``. A scenario of several changes (or of a kind not
    listed) keeps its name. The report names its own what-ifs so; the scenarios of the .flow
    file keep the names the user gave them.
    """
    if len(scenario.changes) != 1:
        return scenario.name
    w, nf = words(lang), Numbers(lang)
    change = scenario.changes[0]
    try:
        if isinstance(change, RoleChange) and change.headcount is not None:
            role = process.role(change.role)
            n = change.headcount - role.headcount
            if n > 0 and not change.headcount_steps:
                return w["lever_people"].format(n=n, role=role.display)
        elif isinstance(change, DurationChange) and change.factor is not None:
            pct = nf.number((change.factor - 1) * 100, 0, sign=True) + "%"
            key = "lever_effort" if change.field == "effort" else "lever_wait"
            return w[key].format(stage=process.node(change.stage).display, change=pct)
        elif isinstance(change, TransitionChange):
            designed = dict((t.target, p) for t, p in process.outgoing(change.source))
            if change.target in designed:
                return w["lever_move"].format(
                    source=process.node(change.source).display,
                    target=process.node(change.target).display,
                    change=nf.points(change.probability - designed[change.target], 0),
                )
    except KeyError:  # a change naming something the model lacks keeps the scenario's name
        pass
    return scenario.name


def capacity_warning(load: Any, process: Process, lang: str) -> str:
    """The warning for an overloaded role (a :class:`~flowsim.sim.analytic.RoleLoad`)."""
    nf = Numbers(lang)
    try:
        role = process.role(load.role).display
    except KeyError:
        role = load.role
    return words(lang)["capacity"].format(
        role=role,
        load=nf.percent(load.load, 0),
        offered=nf.number(load.offered_hours_per_week),
        capacity=nf.number(load.capacity_hours_per_week),
    )


_UNMATCHED = re.compile(
    r"^(\d+) history records of stages the model lacks were left out of the replay: (.*)$"
)
_CAPACITY = re.compile(r"^role '([^']*)' is offered ")


def report_warning(text: str, sim: Any, process: Process, lang: str) -> str:
    """A simulation warning (``SimulationResult.warnings``, English) in the report's words.

    The capacity warning is rebuilt from the offered load of its role (with its label), the
    replay's note on unmatched stages from its figures; any other warning is kept as written.
    """
    found = _CAPACITY.match(text)
    if found:
        for load in sim.offered_load:
            if load.role == found.group(1):
                return capacity_warning(load, process, lang)
    found = _UNMATCHED.match(text)
    if found:
        nf = Numbers(lang)
        return words(lang)["unmatched"].format(
            n=nf.number(int(found.group(1)), 0), stages=found.group(2)
        )
    return text


def quality_summary(report: Any, lang: str) -> str:
    """The import's header line (an :class:`~flowsim.history.log.ImportReport`)."""
    w, nf = words(lang), Numbers(lang)
    text = w["quality_summary"].format(
        source=report.source,
        read=nf.number(report.rows_read, 0),
        used=nf.number(report.rows_used, 0),
    )
    if report.rows_skipped:
        why = w["list"].join(
            f"{skip_name(k, lang)} {nf.number(v, 0)}"
            for k, v in sorted(report.skipped_by_reason.items())
        )
        text += w["quality_skipped"].format(n=nf.number(report.rows_skipped, 0), why=why)
    for step in report.filters:
        text += w["quality_filter"].format(
            rule=step.rule,
            deals_after=nf.number(step.deals_after, 0),
            deals_before=nf.number(step.deals_before, 0),
            records_after=nf.number(step.records_after, 0),
            records_before=nf.number(step.records_before, 0),
        )
    return text


def fidelity_warning(result: Any, lang: str) -> str | None:
    """The trust gate's sentence (a :class:`~flowsim.sim.fidelity.FidelityResult`), or None."""
    from flowsim.sim.fidelity import TRUST_FACTOR

    if result.trusted:
        return None
    w, nf = words(lang), Numbers(lang)
    worst = w["list"].join(
        w["fidelity_item"].format(
            measure=measure_name(m.name, lang),
            model=f"{m.model:.3g}",
            floor=f"{m.floor:.3g}",
            ratio=nf.number(m.ratio, 1),
        )
        for m in result.failing
        if m.model is not None and m.floor is not None and m.ratio is not None
    )
    return w["fidelity_warning"].format(factor=f"{TRUST_FACTOR:g}", worst=worst)


def edge_verdict(edge: Any, process: Process, lang: str) -> str | None:
    """A flagged edge's line for the designer (an ``EdgeConformance``), with the labels."""
    if not edge.flagged or edge.observed is None or edge.low is None or edge.high is None:
        return None
    w, nf = words(lang), Numbers(lang)

    def pct(x: float) -> str:  # a designed share as written: 55%, 12.5%
        return nf.percent(x, 1).replace(".0%", "%")

    text = w["edge_verdict"].format(
        source=process.node(edge.source).display,
        target=process.node(edge.target).display,
        designed=pct(edge.designed),
        observed=nf.percent(edge.observed),
        low=nf.percent(edge.low),
        high=nf.percent(edge.high),
        exits=nf.number(edge.exits, 0),
        direction=w["lower" if edge.designed > edge.high else "higher"],
    )
    if edge.undesigned_exits:
        return text + w["elsewhere"].format(n=nf.number(edge.undesigned_exits, 0))
    return text + w["consider"].format(p=pct(round(edge.observed, 2)))
