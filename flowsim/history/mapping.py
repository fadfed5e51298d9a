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
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from flowsim.history import problems as p
from flowsim.history.problems import LogError, LogProblem

FIELDS = ("deal", "stage", "timestamp", "end", "start", "owner", "amount", "lifecycle")

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
}

#: auto-detection candidates per field, best first (compared after :func:`normalise`)
CANDIDATES: dict[str, list[str]] = {
    "deal": ["case:concept:name", "deal_id", "opportunity_id", "case_id", "deal", "case", "id"],
    "stage": ["concept:name", "stage", "StageName", "deal_stage", "status", "activity"],
    "timestamp": [
        "time:timestamp",
        "entered_at",
        "timestamp",
        "changed_at",
        "CreatedDate",
        "date",
        "time",
    ],
    "end": ["left_at", "exited_at", "end_timestamp", "complete_timestamp", "ended_at", "end"],
    "start": ["start_timestamp", "started_at", "start"],
    "owner": ["org:resource", "owner", "sales_agent", "OwnerId", "resource", "hubspot_owner_id"],
    "amount": ["amount", "close_value", "value", "AMOUNT_REQ"],
    "lifecycle": ["lifecycle:transition"],
}

REQUIRED_HINT = "map it with --map deal=<column>,stage=<column>,timestamp=<column>"


def normalise(name: str) -> str:
    """Column-name key for matching: lower case without spaces, ``_`` and ``-``."""
    return re.sub(r"[\s_\-]+", "", name.strip().lower())


def _error(message: str, *, value: str | None = None, hint: str | None = None) -> LogError:
    return LogError([LogProblem(code=p.BAD_MAPPING, message=message, value=value, hint=hint)])


class ResolvedMapping(BaseModel):
    """A mapping applied to real columns: every field is a column name or ``None``."""

    model_config = ConfigDict(frozen=True)

    columns: dict[str, str]
    auto: list[str] = Field(default_factory=list)
    layout: str = "generic"
    stage_aliases: dict[str, str] = Field(default_factory=dict)
    collapse_repeats: bool = False

    def get(self, name: str) -> str | None:
        return self.columns.get(name)


class Mapping(BaseModel):
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

    @classmethod
    def parse(cls, text: str) -> Mapping:
        """``"deal=opportunity_id,stage=StageName"`` (the CLI's ``--map``) as a mapping."""
        values: dict[str, str] = {}
        for part in filter(None, (s.strip() for s in text.split(","))):
            key, sep, column = part.partition("=")
            field = FIELD_ALIASES.get(key.strip().lower())
            if not sep or not column.strip():
                raise _error("expected field=column in --map", value=part, hint=REQUIRED_HINT)
            if field is None:
                raise _error(
                    "unknown field in --map",
                    value=key.strip(),
                    hint="fields are " + ", ".join(FIELDS),
                )
            values[field] = column.strip()
        return cls.model_validate(values)

    @classmethod
    def load(cls, path: str | Path) -> Mapping:
        """A TOML mapping file: ``[columns]`` field = column, ``[stages]`` source = stage."""
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise _error(f"cannot read mapping file: {exc.strerror}", value=str(path)) from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise _error(f"mapping file is not valid TOML: {exc}", value=str(path)) from None
        unknown = set(data) - {"columns", "stages", "options"}
        if unknown:
            raise _error(
                "unknown table in mapping file",
                value=", ".join(sorted(unknown)),
                hint="use [columns], [stages] and [options]",
            )
        values: dict[str, object] = {}
        for key, column in dict(data.get("columns", {})).items():
            field = FIELD_ALIASES.get(str(key).lower())
            if field is None or not isinstance(column, str):
                raise _error(
                    "bad entry in [columns]", value=str(key), hint="fields are " + ", ".join(FIELDS)
                )
            values[field] = column
        values["stage_aliases"] = dict(data.get("stages", {}))
        values.update(dict(data.get("options", {})))
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise _error(f"bad mapping file {path}: {exc.errors()[0]['msg']}") from None

    def resolve(self, columns: list[str], *, source: str | None = None) -> ResolvedMapping:
        """Apply the mapping to a source's ``columns``, detecting the fields left open."""
        by_key: dict[str, str] = {}
        for c in columns:
            by_key.setdefault(normalise(c), c)
        chosen: dict[str, str] = {}
        problems: list[LogProblem] = []
        for name in FIELDS:
            given = getattr(self, name)
            if given is None:
                continue
            real = given if given in columns else by_key.get(normalise(given))
            if real is None:
                problems.append(
                    LogProblem(
                        code=p.UNKNOWN_COLUMN,
                        source=source,
                        message=f"the mapping names a column for '{name}' that is not there",
                        value=given,
                        hint=_closest_hint(given, columns),
                    )
                )
            else:
                chosen[name] = real
        if problems:
            raise LogError(problems)
        auto: list[str] = []
        taken = set(chosen.values())
        keys = {normalise(c) for c in columns}
        # pm4py interval logs: time:timestamp is the completion when start_timestamp exists
        interval = "time:timestamp" in keys and "starttimestamp" in keys
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
        missing = [f for f in ("deal", "stage") if f not in chosen]
        if not ({"timestamp", "start", "end"} & set(chosen)):
            missing.append("timestamp")
        if missing:
            raise LogError(
                [
                    LogProblem(
                        code=p.MISSING_COLUMN,
                        source=source,
                        message=f"no column for required field '{f}'",
                        hint=f"columns found: {', '.join(columns) or '(none)'}; "
                        + _closest_hint(f, columns, CANDIDATES[f])
                        + f"; {REQUIRED_HINT}",
                    )
                    for f in missing
                ]
            )
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
        )


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
