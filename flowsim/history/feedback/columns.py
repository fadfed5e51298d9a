"""Which column of a feedback export holds which field: given (``--map``) or recognised.

Fields: ``deal`` (the deal or customer the answer is about), ``stage`` (a stage of the
process), ``touchpoint`` (a touchpoint's name, or a stage's), ``channel``, ``score``,
``comment`` and ``date``. ``score`` is required, and ``touchpoint`` or ``stage``; the rest
are optional. A mapping is written as for deal history (``score=评分,touchpoint=问卷``), or
is a TOML file with a ``[columns]`` table; fields it leaves open are recognised from the
header as the deal-log mapping does (case, spaces, ``_`` and ``-`` ignored, and a
parenthesised note such as ``(1-5)`` left out), from :data:`CANDIDATES`, best first.

>>> resolve_columns(["商机编号", "问卷", "渠道", "评分(1-5)", "评价", "日期"], source="f.csv")
{'deal': '商机编号', 'touchpoint': '问卷', 'channel': '渠道', 'score': '评分(1-5)', \
'comment': '评价', 'date': '日期'}
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from flowsim.history import problems as p
from flowsim.history.mapping import normalise
from flowsim.history.problems import LogError, problem

__all__ = ["CANDIDATES", "FIELDS", "parse_mapping", "resolve_columns"]

FIELDS = ("deal", "stage", "touchpoint", "channel", "score", "comment", "date")

#: header names recognised per field, best first (compared after :func:`_key`)
CANDIDATES: dict[str, list[str]] = {
    "deal": [
        "deal_id",
        "deal",
        "opportunity_id",
        "case_id",
        "customer_id",
        "account_id",
        "customer",
        "商机编号",
        "商机ID",
        "商机",
        "客户编号",
        "客户ID",
        "客户",
    ],
    "stage": ["stage", "phase", "deal_stage", "阶段", "销售阶段", "商机阶段"],
    "touchpoint": [
        "touchpoint",
        "touch_point",
        "survey",
        "questionnaire",
        "触点",
        "接触点",
        "问卷",
        "问卷名称",
        "回访",
        "回访环节",
    ],
    "channel": ["channel", "medium", "source", "渠道", "回访方式", "反馈渠道", "来源"],
    "score": [
        "score",
        "rating",
        "nps",
        "csat",
        "satisfaction",
        "评分",
        "分数",
        "打分",
        "满意度",
        "推荐度",
        "推荐意愿",
    ],
    "comment": [
        "comment",
        "comments",
        "feedback",
        "review",
        "verbatim",
        "text",
        "评价",
        "评论",
        "意见",
        "留言",
        "评价内容",
        "反馈内容",
        "备注",
    ],
    "date": [
        "date",
        "responded_at",
        "submitted_at",
        "created_at",
        "timestamp",
        "time",
        "日期",
        "回访日期",
        "反馈日期",
        "提交时间",
        "时间",
    ],
}

_ALIASES = {f: f for f in FIELDS} | {"case": "deal", "customer": "deal", "time": "date"}

_NOTE = re.compile(r"[(（][^()（）]*[)）]\s*$")


def _key(name: str) -> str:
    """A header as compared: a trailing ``(...)`` note left out, then :func:`normalise`."""
    return normalise(_NOTE.sub("", name.strip()) or name)


def parse_mapping(text: str, source: str = "--map") -> dict[str, str]:
    """``field=column,...`` or a ``.toml`` file's ``[columns]``: field → column as written.

    Raises
    ------
    LogError
        Not ``field=column``, an unknown field, or an unreadable file (``bad-mapping``, H103).
    """
    if text.endswith(".toml"):
        try:
            data = tomllib.loads(Path(text).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise LogError.of(p.BAD_MAPPING, text, f"cannot read the mapping: {exc}") from None
        pairs = [(str(k), str(v)) for k, v in dict(data.get("columns", {})).items()]
    else:
        pairs = []
        for item in (t for t in text.split(",") if t.strip()):
            field, sep, column = item.partition("=")
            if not sep or not column.strip():
                raise LogError.of(
                    p.BAD_MAPPING, source, "not field=column", value=item, hint=_FIELDS_HINT
                )
            pairs.append((field, column))
    out: dict[str, str] = {}
    for field, column in pairs:
        name = _ALIASES.get(field.strip().lower())
        if name is None:
            raise LogError.of(
                p.BAD_MAPPING, source, "unknown feedback field", value=field, hint=_FIELDS_HINT
            )
        out[name] = column.strip()
    return out


_FIELDS_HINT = "fields: " + ", ".join(FIELDS)


def resolve_columns(
    columns: list[str], given: dict[str, str] | None = None, *, source: str
) -> dict[str, str]:
    """Field → column: the ``given`` ones (checked), the rest recognised (module doc).

    Raises
    ------
    LogError
        A given column the table lacks (``unknown-column``, H102), or no score column, or
        neither a touchpoint nor a stage column (``missing-column``, H101).
    """
    by_key = {_key(c): c for c in reversed(columns)}
    chosen: dict[str, str] = {}
    for field, column in (given or {}).items():
        found = column if column in columns else by_key.get(_key(column))
        if found is None:
            raise LogError.of(
                p.UNKNOWN_COLUMN,
                source,
                f"the mapping names no column of the file for '{field}'",
                value=column,
                hint="columns: " + ", ".join(columns),
            )
        chosen[field] = found
    for field in FIELDS:
        if field in chosen:
            continue
        for candidate in CANDIDATES[field]:
            found = by_key.get(_key(candidate))
            if found is not None and found not in chosen.values():
                chosen[field] = found
                break
    _require(chosen, columns, source)
    return {f: chosen[f] for f in FIELDS if f in chosen}


def _require(chosen: dict[str, str], columns: list[str], source: str) -> None:
    """Refuse a table without a score, or without a touchpoint and a stage."""
    missing = [] if "score" in chosen else ["score"]
    if "touchpoint" not in chosen and "stage" not in chosen:
        missing.append("touchpoint (or stage)")
    if missing:
        raise LogError(
            [
                problem(
                    kind=p.MISSING_COLUMN,
                    source=source,
                    row=1,
                    message=f"no column for {' and '.join(missing)}",
                    hint="map it with --map score=<column>,touchpoint=<column>; columns: "
                    + ", ".join(columns),
                )
            ]
        )
