"""Which source column (or XES key) holds which field of a deal log.

A :class:`Mapping` names columns explicitly (``--map deal=opportunity_id,stage=StageName`` or a
TOML file with ``[columns]`` and ``[stages]`` tables); :meth:`Mapping.resolve` fills every field
left open by auto-detection over the source's column names (case-, space-, ``_``- and
``-``-insensitive), in the priority order of :data:`CANDIDATES`.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ConfigDict, Field, field_validator

from flowsim._base import FlowsimModel
from flowsim.diagnostics import Diagnostic
from flowsim.errors import ModelError
from flowsim.history import problems as p
from flowsim.history._decode import decode, sniff_delimiter
from flowsim.history.problems import LogError, problem

FIELDS = ("deal", "stage", "timestamp", "end", "start", "owner", "amount", "lifecycle")
#: wide shape only: the column with the date a deal reached its current (outcome) stage
WIDE_FIELDS = ("close_date",)

#: accepted spellings of the field names in ``--map`` and ``[columns]``
FIELD_ALIASES = {
    "deal": "deal",
    "case": "deal",
    "stage": "stage",
    "activity": "stage",
    "timestamp": "timestamp",
    "time": "timestamp",
    "entered": "timestamp",
    "entered_at": "timestamp",
    "end": "end",
    "left": "end",
    "left_at": "end",
    "complete": "end",
    "start": "start",
    "started_at": "start",
    "owner": "owner",
    "resource": "owner",
    "amount": "amount",
    "lifecycle": "lifecycle",
    "close_date": "close_date",
    "closed": "close_date",
    "closed_at": "close_date",
    "outcome_date": "close_date",
}

#: default outcome values of a stage column (compared after :func:`normalise`)
DEFAULT_OUTCOMES = {"won": "won", "closedwon": "won", "lost": "lost", "closedlost": "lost"}

#: HubSpot deal-export stage-date columns: property names (API/Airbyte/Fivetran exports,
#: ``hs_v2_`` and the legacy ``hs_`` set) and the UI export's labels
HUBSPOT_ENTERED = re.compile(r"^hs_(?:v2_)?date_entered_(.+)$", re.IGNORECASE)
HUBSPOT_EXITED = re.compile(r"^hs_(?:v2_)?date_exited_(.+)$", re.IGNORECASE)
HUBSPOT_LABEL_ENTERED = re.compile(r'^Date entered "(.+)"$', re.IGNORECASE)
HUBSPOT_LABEL_EXITED = re.compile(r'^Date exited "(.+)"$', re.IGNORECASE)

#: wide-shape candidates for the deal, stage, owner and amount (HubSpot and Maven CRM first)
WIDE_CANDIDATES: dict[str, list[str]] = {
    "deal": ["hs_object_id", "Record ID", "dealId", "deal_id", "opportunity_id", "id"],
    "stage": ["dealstage", "Deal Stage", "deal_stage", "stage", "status"],
    "owner": ["hubspot_owner_id", "Deal owner", "sales_agent", "owner"],
    "amount": ["amount", "close_value", "value"],
}

#: auto-detection candidates per field, best first (compared after :func:`normalise`); the
#: Chinese names are the usual headers of Chinese CRM exports (商机 = opportunity)
CANDIDATES: dict[str, list[str]] = {
    "deal": [
        "case:concept:name",
        "deal_id",
        "opportunity_id",
        "case_id",
        "deal",
        "case",
        "id",
        "商机编号",
        "商机ID",
        "商机",
    ],
    "stage": [
        "concept:name",
        "stage",
        "StageName",
        "deal_stage",
        "status",
        "activity",
        "销售阶段",
        "商机阶段",
        "阶段",
    ],
    "timestamp": [
        "time:timestamp",
        "entered_at",
        "timestamp",
        "changed_at",
        "CreatedDate",
        "date",
        "time",
        "进入时间",
        "变更时间",
        "时间",
        "日期",
    ],
    "end": [
        "left_at",
        "exited_at",
        "end_timestamp",
        "complete_timestamp",
        "ended_at",
        "end",
        "离开时间",
        "结束时间",
    ],
    "start": ["start_timestamp", "started_at", "start", "开始时间"],
    "owner": [
        "org:resource",
        "owner",
        "sales_agent",
        "OwnerId",
        "resource",
        "hubspot_owner_id",
        "负责人",
        "负责角色",
        "销售",
    ],
    "amount": ["amount", "close_value", "value", "AMOUNT_REQ", "金额", "商机金额"],
    "lifecycle": ["lifecycle:transition"],
}

#: Pipedrive's deals export (CSV/XLSX from the UI): "Deal - " columns; header variants of
#: the same field in order of preference. No stage history: only the current stage, when it
#: was last changed, the status (Open/Won/Lost) and the won/lost times.
PIPEDRIVE: dict[str, list[str]] = {
    "deal": ["Deal - ID"],
    "stage": ["Deal - Stage"],
    "status": ["Deal - Status"],
    "created": ["Deal - Deal created", "Deal - Creation date", "Deal - Add time"],
    "since": ["Deal - Last stage change", "Deal - Stage change time"],
    "won": ["Deal - Won time", "Deal - Closed on", "Deal - Close time"],
    "lost": ["Deal - Lost time", "Deal - Closed on", "Deal - Close time"],
    "owner": ["Deal - Owner"],
    "amount": ["Deal - Value"],
}
#: the stage a Pipedrive deal was in before its last stage change (the export does not say)
PIPEDRIVE_CREATED = "created"

#: Olist's marketing funnel (Kaggle): leads file, joined with the closed-deals file
OLIST_LEADS = "olist_marketing_qualified_leads_dataset.csv"
OLIST_DEALS = "olist_closed_deals_dataset.csv"

REQUIRED_HINT = "map it with --map deal=<column>,stage=<column>,timestamp=<column>"


def normalise(name: str) -> str:
    """Column-name key for matching: lower case without spaces, ``_`` and ``-``."""
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


def _error(
    message: str,
    *,
    value: str | None = None,
    hint: str | None = None,
    source: str = "--map",
    row: int | None = None,
) -> LogError:
    return LogError(
        [
            problem(
                kind=p.BAD_MAPPING,
                source=source,
                row=row,
                message=message,
                value=value,
                hint=hint,
            )
        ]
    )


class ResolvedMapping(FlowsimModel):
    """A mapping applied to real columns: every field is a column name or ``None``."""

    model_config = ConfigDict(frozen=True)

    columns: dict[str, str]
    auto: list[str] = Field(default_factory=list)
    layout: str = "generic"
    stage_aliases: dict[str, str] = Field(default_factory=dict)
    collapse_repeats: bool = False
    shape: str = "long"
    #: wide shape: stage → entered-date column, stage → exited-date column
    stage_dates: dict[str, str] = Field(default_factory=dict)
    stage_exits: dict[str, str] = Field(default_factory=dict)
    #: stage value → ``won``/``lost``
    outcomes: dict[str, str] = Field(default_factory=dict)
    roles: dict[str, str] = Field(default_factory=dict)
    close_column: str | None = None
    #: snapshot exports (Pipedrive): creation date, date the current stage was entered, the
    #: column holding the outcome (Open/Won/Lost) and each outcome's date column
    created_column: str | None = None
    since_column: str | None = None
    status_column: str | None = None
    outcome_dates: dict[str, str] = Field(default_factory=dict)
    #: wide: a stage date after the date of a stage that is an outcome is refused
    check_order: bool = False

    def get(self, name: str) -> str | None:
        return self.columns.get(name)


class Mapping(FlowsimModel):
    """Column names for the log's fields; ``None`` means "detect it"."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deal: str | None = None
    stage: str | None = None
    timestamp: str | None = None
    end: str | None = None
    start: str | None = None
    owner: str | None = None
    amount: str | None = None
    lifecycle: str | None = None
    stage_aliases: dict[str, str] = Field(default_factory=dict)
    collapse_repeats: bool | None = None
    #: wide shape (one row per deal): stage → the column holding the date it was entered
    stage_dates: dict[str, str] = Field(default_factory=dict)
    #: wide shape: column with the date the deal reached its current stage, an outcome
    close_date: str | None = None
    #: stage values that end a deal → ``"won"`` or ``"lost"`` (default: Won/Lost, Closed Won...)
    outcomes: dict[str, str] = Field(default_factory=dict)
    #: owner → role (e.g. from ``sales_teams.csv`` via :func:`load_roles`)
    roles: dict[str, str] = Field(default_factory=dict)
    #: a second table joined on :attr:`join_on` before mapping (CSV logs; see
    #: :mod:`flowsim.history.join`), e.g. Olist's closed deals onto its leads
    join: str | None = None
    join_on: str | None = None

    @field_validator("outcomes")
    @classmethod
    def _outcome_values(cls, value: dict[str, str]) -> dict[str, str]:
        bad = {k: v for k, v in value.items() if v not in ("won", "lost")}
        if bad:
            raise ValueError(f"outcomes must map stage values to 'won' or 'lost', not {bad}")
        return value

    @classmethod
    def parse(cls, text: str) -> Mapping:
        """``"deal=opportunity_id,stage=StageName"`` (the CLI's ``--map``) as a mapping.

        Wide shape: ``date:<stage>=<column>`` names a stage's entered-date column and
        ``close_date=<column>`` the date of the deal's outcome.
        """
        values: dict[str, object] = {}
        dates: dict[str, str] = {}
        for part in filter(None, (s.strip() for s in text.split(","))):
            key, sep, column = part.partition("=")
            if not sep or not column.strip():
                raise _error("expected field=column in --map", value=part, hint=REQUIRED_HINT)
            if key.strip().lower().startswith("date:") and key.strip()[5:].strip():
                dates[key.strip()[5:].strip()] = column.strip()
                continue
            field = FIELD_ALIASES.get(key.strip().lower())
            if field is None:
                raise _error(
                    "unknown field in --map",
                    value=key.strip(),
                    hint="fields are " + ", ".join(FIELDS + WIDE_FIELDS) + ", date:<stage>",
                )
            values[field] = column.strip()
        if dates:
            values["stage_dates"] = dates
        return cls.model_validate(values)

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        """A TOML mapping file: ``[columns]`` field = column, ``[stages]`` source = stage."""
        path = Path(path)
        name = path.name
        data = _read_toml(path)
        _check_tables(data, name)
        values: dict[str, object] = _column_fields(data, name)
        values["stage_aliases"] = dict(data.get("stages", {}))
        values["stage_dates"] = dict(data.get("stage_dates", {}))
        values["outcomes"] = dict(data.get("outcomes", {}))
        options = dict(data.get("options", {}))
        roles = dict(data.get("roles", {}))
        roles_file = options.pop("roles_file", None)
        role_column = options.pop("role_column", None)
        if roles_file is not None:
            roles = {
                **load_roles(path.parent / str(roles_file), role=role_column and str(role_column)),
                **roles,
            }
        values["roles"] = roles
        values.update(_join_fields(dict(data.get("join", {})), path))
        values.update(options)
        try:
            return cls.model_validate(values)
        except ModelError as exc:
            first = exc.errors()[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise _error(
                f"bad value in the mapping file: {first['msg']}",
                source=name,
                value=loc or None,
            ) from None

    def resolve(self, columns: list[str], *, source: str | None = None) -> ResolvedMapping:
        """Apply the mapping to a source's ``columns``, detecting the fields left open."""
        by_key: dict[str, str] = {}
        for c in columns:
            by_key.setdefault(normalise(c), c)
        chosen = self._given(columns, by_key, source)
        wide = self._resolve_wide(columns, by_key, chosen, source)
        if wide is not None:
            return wide
        keys = {normalise(c) for c in columns}
        # pm4py interval logs: time:timestamp is the completion when start_timestamp exists
        interval = "time:timestamp" in keys and "starttimestamp" in keys
        auto = _detect_long(chosen, by_key, interval)
        _require_long(chosen, columns, source)
        layout = _layout(keys, interval)
        collapse = self.collapse_repeats
        if collapse is None:
            collapse = layout == "Salesforce OpportunityHistory"
        return ResolvedMapping(
            columns=chosen,
            auto=auto,
            layout=layout,
            stage_aliases=dict(self.stage_aliases),
            collapse_repeats=collapse,
            outcomes=dict(self.outcomes),
        )

    def _given(
        self, columns: list[str], by_key: dict[str, str], source: str | None
    ) -> dict[str, str]:
        """Field → column for the fields the mapping names; every unknown column refused."""
        chosen: dict[str, str] = {}
        problems: list[Diagnostic] = []
        for name in FIELDS:
            given = getattr(self, name)
            if given is None:
                continue
            real = _find(given, columns, by_key)
            if real is None:
                problems.append(_unknown(name, given, columns, source))
            else:
                chosen[name] = real
        if problems:
            raise LogError(problems)
        return chosen

    def _resolve_wide(
        self,
        columns: list[str],
        by_key: dict[str, str],
        chosen: dict[str, str],
        source: str | None,
    ) -> ResolvedMapping | None:
        """The wide-shape mapping when the mapping or the columns say so, else ``None``.

        Wide when :attr:`stage_dates` is given, or the columns are a Maven CRM
        ``sales_pipeline.csv`` (``engage_date``, ``close_date``, ``deal_stage``) or a HubSpot
        deal export (``hs_v2_date_entered_<stage>`` or ``Date entered "<stage>"`` columns).
        """
        dates, close = self._given_wide(columns, by_key, source)
        found = _wide_layout(columns, by_key, dates, close)
        if found is None:
            return None
        cols, auto = _wide_columns(found, by_key, chosen)
        _require_wide(cols, found.close, columns, source)
        for name in ("timestamp", "start", "end", "lifecycle"):
            cols.pop(name, None)  # a wide table's times are its stage-date columns
        snapshot = found.snapshot
        return ResolvedMapping(
            columns=cols,
            auto=auto,
            layout=found.layout,
            stage_aliases=dict(self.stage_aliases),
            shape="wide",
            stage_dates=found.dates,
            stage_exits=found.exits,
            outcomes=dict(self.outcomes),
            roles=dict(self.roles),
            close_column=found.close,
            created_column=snapshot.get("created"),
            since_column=snapshot.get("since"),
            status_column=snapshot.get("status"),
            outcome_dates={k: snapshot[k] for k in ("won", "lost") if k in snapshot},
            check_order=found.layout in ("generic wide", "Olist marketing funnel"),
        )

    def _given_wide(
        self, columns: list[str], by_key: dict[str, str], source: str | None
    ) -> tuple[dict[str, str], str | None]:
        """The stage-date and close-date columns the mapping names; unknown ones refused."""
        dates: dict[str, str] = {}
        close: str | None = None
        problems: list[Diagnostic] = []
        for stage, given in self.stage_dates.items():
            real = _find(given, columns, by_key)
            if real is None:
                problems.append(_unknown(f"date:{stage}", given, columns, source))
            else:
                dates[stage] = real
        if self.close_date is not None:
            close = _find(self.close_date, columns, by_key)
            if close is None:
                problems.append(_unknown("close_date", self.close_date, columns, source))
        if problems:
            raise LogError(problems)
        return dates, close


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed TOML file; unreadable, non-UTF-8 and invalid files are located errors."""
    name = path.name
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _error(
            f"cannot read mapping file: {exc.strerror}", value=str(path), source=name
        ) from None
    except UnicodeDecodeError as exc:
        raise _error(
            f"mapping file is not UTF-8 (byte {exc.start})",
            source=name,
            hint="save the mapping file as UTF-8",
        ) from None
    except tomllib.TOMLDecodeError as exc:
        where = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        raise _error(
            "mapping file is not valid TOML: "
            + re.sub(r"\s*\(at line.*\)$", "", str(exc))
            + (f" (column {where.group(2)})" if where else ""),
            source=name,
            row=int(where.group(1)) if where else None,
            hint='tables are [columns], [stages]...; values are quoted: deal = "Deal ID"',
        ) from None


def _check_tables(data: dict[str, Any], name: str) -> None:
    """Only the known tables, each one a table: a typo must not be ignored silently."""
    tables = {"columns", "stages", "options", "stage_dates", "outcomes", "roles", "join"}
    unknown = set(data) - tables
    if unknown:
        raise _error(
            "unknown table in mapping file",
            source=name,
            value=", ".join(sorted(unknown)),
            hint="use " + ", ".join(f"[{t}]" for t in sorted(tables)),
        )
    for table in sorted(tables & set(data)):
        if not isinstance(data[table], dict):
            raise _error(
                f"'{table}' must be a table",
                source=name,
                hint=f"write [{table}] on its own line, then key = value lines",
            )


def _column_fields(data: dict[str, Any], name: str) -> dict[str, object]:
    """Field → column from the ``[columns]`` table (field names or their aliases)."""
    values: dict[str, object] = {}
    for key, column in dict(data.get("columns", {})).items():
        field = FIELD_ALIASES.get(str(key).lower())
        if field is None or not isinstance(column, str):
            raise _error(
                "bad entry in [columns]",
                source=name,
                value=str(key),
                hint="fields are " + ", ".join(FIELDS + WIDE_FIELDS),
            )
        values[field] = column
    return values


def _join_fields(join: dict[str, Any], path: Path) -> dict[str, object]:
    """``join``/``join_on`` from the ``[join]`` table (its file next to the mapping file)."""
    if not join:
        return {}
    if not isinstance(join.get("file"), str) or not isinstance(join.get("on"), str):
        raise _error(
            "[join] needs file and on",
            source=path.name,
            hint='file = "closed_deals.csv" (next to the mapping file), on = "deal_id"',
        )
    return {"join": str(path.parent / join["file"]), "join_on": join["on"]}


def _detect_long(chosen: dict[str, str], by_key: dict[str, str], interval: bool) -> list[str]:
    """Fill ``chosen`` with the usual column names for the fields left open; their names.

    A column serves one field, the first one in :data:`FIELDS` order that names it.
    """
    auto: list[str] = []
    taken = set(chosen.values())
    for name in FIELDS:
        if name in chosen or (interval and name == "timestamp" and "end" not in chosen):
            continue
        cands = CANDIDATES[name]
        if interval and name == "end":
            cands = ["time:timestamp", *cands]
        for cand in cands:
            real = by_key.get(normalise(cand))
            if real is not None and real not in taken:
                chosen[name] = real
                taken.add(real)
                auto.append(name)
                break
    return auto


def _require_long(chosen: dict[str, str], columns: list[str], source: str | None) -> None:
    """Refuse a long table without a deal, a stage or any time column.

    A one-column header is named as such: almost always the wrong delimiter.
    """
    missing = [f for f in ("deal", "stage") if f not in chosen]
    if not ({"timestamp", "start", "end"} & set(chosen)):
        missing.append("timestamp")
    if missing and len(columns) == 1:
        raise LogError(
            [
                problem(
                    kind=p.MISSING_COLUMN,
                    source=source,
                    row=1,
                    message="the header is one single column",
                    value=columns[0],
                    hint="wrong delimiter? name it with --delimiter (e.g. ';' or '\\t')",
                )
            ]
        )
    if missing:
        raise LogError(
            [
                problem(
                    kind=p.MISSING_COLUMN,
                    source=source,
                    message=f"no column for required field '{f}'",
                    hint=f"columns found: {', '.join(columns) or '(none)'}; "
                    + _closest_hint(f, columns, CANDIDATES[f])
                    + f"; {REQUIRED_HINT}",
                )
                for f in missing
            ]
        )


@dataclass(frozen=True)
class _WideLayout:
    """A wide table's layout and its date columns: stage → entered / exited column, the
    close column, the snapshot fields (Pipedrive) and the columns the layout fixes."""

    layout: str
    dates: dict[str, str]
    exits: dict[str, str]
    close: str | None
    snapshot: dict[str, str]
    fixed: dict[str, str]


def _wide_layout(
    columns: list[str], by_key: dict[str, str], dates: dict[str, str], close: str | None
) -> _WideLayout | None:
    """The wide layout: the mapping's dates, else the first known export the columns match.

    ``None`` when nothing says the table is wide (then it is read as the long shape).
    """
    keys = set(by_key)
    if dates or close is not None:
        return _WideLayout("generic wide", dates, {}, close, {}, {})
    snapshot = _pipedrive(by_key)
    if snapshot:  # all of them shown in the report's mapping
        return _WideLayout("Pipedrive deals export", {}, {}, None, snapshot, dict(snapshot))
    if {"mqlid", "firstcontactdate"} <= keys:
        dates = {"MQL": by_key["firstcontactdate"]}
        if "wondate" in keys:
            dates["won"] = by_key["wondate"]
        fixed = {"deal": by_key["mqlid"]}
        if "srid" in keys:
            fixed["owner"] = by_key["srid"]
        return _WideLayout("Olist marketing funnel", dates, {}, None, {}, fixed)
    if {"opportunityid", "dealstage", "engagedate", "closedate"} <= keys:
        engaging = {"Engaging": by_key["engagedate"]}
        return _WideLayout("Maven CRM sales_pipeline", engaging, {}, by_key["closedate"], {}, {})
    dates, exits = _hubspot_dates(columns)
    if not dates:
        return None
    return _WideLayout("HubSpot deal export", dates, exits, None, {}, {})


def _wide_columns(
    found: _WideLayout, by_key: dict[str, str], chosen: dict[str, str]
) -> tuple[dict[str, str], list[str]]:
    """Field → column of a wide table (fixed, then given, then detected) and the detected.

    A date column of the layout is never taken for another field.
    """
    close = found.close
    taken = set(found.dates.values()) | set(found.exits.values()) | ({close} if close else set())
    taken |= set(found.snapshot.values())
    cols = {**found.fixed, **chosen}
    auto: list[str] = []
    for name, cands in WIDE_CANDIDATES.items():
        if name in cols:
            continue
        for cand in cands:
            real = by_key.get(normalise(cand))
            if real is not None and real not in taken and real not in cols.values():
                cols[name] = real
                auto.append(name)
                break
    return cols, auto


def _require_wide(
    cols: dict[str, str], close: str | None, columns: list[str], source: str | None
) -> None:
    """Refuse a wide table without its deal column, or a stage column beside a close date."""
    missing = ["deal"] if "deal" not in cols else []
    if close is not None and "stage" not in cols:
        missing.append("stage")
    if missing:
        raise LogError(
            [
                problem(
                    kind=p.MISSING_COLUMN,
                    source=source,
                    message=f"no column for required field '{f}' (wide shape)",
                    hint=f"columns found: {', '.join(columns)}; "
                    + _closest_hint(f, columns, WIDE_CANDIDATES[f])
                    + f"; map it with --map {f}=<column>",
                )
                for f in missing
            ]
        )


def _pipedrive(by_key: dict[str, str]) -> dict[str, str]:
    """Field → column of a Pipedrive deals export, or ``{}`` when the columns are not one."""
    found: dict[str, str] = {}
    for field_name, names in PIPEDRIVE.items():
        for name in names:
            real = by_key.get(normalise(name))
            if real is not None:
                found[field_name] = real
                break
    required = {"deal", "stage", "status", "created"}
    return found if required <= set(found) else {}


def _find(given: str, columns: list[str], by_key: dict[str, str]) -> str | None:
    return given if given in columns else by_key.get(normalise(given))


def _unknown(name: str, given: str, columns: list[str], source: str | None) -> Diagnostic:
    return problem(
        kind=p.UNKNOWN_COLUMN,
        source=source,
        message=f"the mapping names a column for '{name}' that is not there",
        value=given,
        hint=_closest_hint(given, columns),
    )


def _hubspot_dates(columns: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """HubSpot stage → entered-date column and stage → exited-date column.

    ``hs_v2_`` properties win over the legacy ``hs_date_entered_`` ones for the same stage;
    the UI export's ``Date entered "Appointment Scheduled (Sales Pipeline)"`` labels give the
    stage label, pipeline included.
    """
    entered: dict[str, str] = {}
    exited: dict[str, str] = {}
    for pattern, into in (
        (HUBSPOT_ENTERED, entered),
        (HUBSPOT_EXITED, exited),
        (HUBSPOT_LABEL_ENTERED, entered),
        (HUBSPOT_LABEL_EXITED, exited),
    ):
        for column in columns:
            match = pattern.match(column.strip())
            if match is None:
                continue
            stage = match.group(1).strip().strip('"').strip()  # polars keeps "" in headers
            if stage not in into or column.lower().startswith("hs_v2_"):
                into[stage] = column
    return entered, {s: c for s, c in exited.items() if s in entered}


def outcome_of(values: dict[str, str], stage: str) -> str | None:
    """``"won"``/``"lost"`` for a stage value by the mapping's outcomes, else the defaults."""
    if values:
        return values.get(stage)
    return DEFAULT_OUTCOMES.get(normalise(stage))


def load_roles(
    path: str | Path,
    *,
    owner: str | None = None,
    role: str | None = None,
    encoding: str | None = None,
) -> dict[str, str]:
    """An owner → role table from a CSV file such as Maven's ``sales_teams.csv``.

    The owner column is ``owner`` if given, else the first of the usual owner names
    (``owner``, ``sales_agent``, ``OwnerId``...), else the first column; the role column is
    ``role`` if given, else ``role``/``team``/``title``, else the column after the owner.
    """
    import polars as pl

    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _error(
            f"cannot read the owner → role table: {exc.strerror}", value=str(path)
        ) from None
    text, _ = decode(data, name, encoding)
    try:
        table = pl.read_csv(
            text.encode("utf-8"), separator=sniff_delimiter(text), infer_schema=False
        )
    except pl.exceptions.PolarsError as exc:
        raise _error(f"the owner → role table is not a readable CSV: {exc}", value=name) from None
    columns = table.columns
    by_key = {normalise(c): c for c in columns}
    own = _find(owner, columns, by_key) if owner else None
    if own is None and owner is None:
        own = next(
            (by_key[normalise(c)] for c in CANDIDATES["owner"] if normalise(c) in by_key),
            columns[0] if columns else None,
        )
    rol = _find(role, columns, by_key) if role else None
    if rol is None and role is None and own is not None:
        rol = next((by_key[k] for k in ("role", "team", "title") if k in by_key), None)
        if rol is None and columns.index(own) + 1 < len(columns):
            rol = columns[columns.index(own) + 1]
    if own is None or rol is None:
        raise _error(
            "the owner → role table needs an owner and a role column",
            value=name,
            hint=f"columns found: {', '.join(columns)}; set role_column in [options]",
        )
    pairs = table.select(pl.col(own).str.strip_chars(), pl.col(rol).str.strip_chars()).drop_nulls()
    return dict(zip(pairs[own].to_list(), pairs[rol].to_list(), strict=True))


def _layout(keys: set[str], interval: bool) -> str:
    if {"opportunityid", "stagename", "createddate"} <= keys:
        return "Salesforce OpportunityHistory"
    if "case:concept:name" in keys and "concept:name" in keys:
        return "pm4py interval log" if interval else "pm4py/XES keys"
    return "generic"


def _closest_hint(name: str, columns: list[str], candidates: list[str] | None = None) -> str:
    norm = {normalise(c): c for c in columns}
    close: list[str] = []
    for probe in [name, *(candidates or [])]:
        for match in difflib.get_close_matches(normalise(probe), list(norm), n=3, cutoff=0.6):
            if norm[match] not in close:
                close.append(norm[match])
    if close:
        return "closest: " + ", ".join(close[:3])
    return "no similar column"
