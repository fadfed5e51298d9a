"""What the studio page downloads and compares: pictures, what-if tables, the conflict diff.

Pictures go through the ordinary renderer (:func:`flowsim.render.render_with_notes`), so a
picture exported from the page is byte for byte what ``flowsim render`` writes for the same
text and options. A what-if table is made from the simulate answer the page holds (the same
JSON ``POST /api/simulate`` sent), checked field by field, never trusted. The diff is
:mod:`difflib`'s unified diff; the page shows it as text.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from typing import Any

from flowsim.errors import FlowsimError
from flowsim.model import Process
from flowsim.overlay import Overlay
from flowsim.render import RenderError, ThemeError, render_with_notes
from flowsim.render import options as render_options

__all__ = [
    "KPIS",
    "PICTURE_FORMATS",
    "RESULT_FORMATS",
    "ExportError",
    "fit_overlay",
    "picture",
    "results_table",
    "unified_diff",
]

#: picture formats the page exports: format → (media type, file extension)
PICTURE_FORMATS: dict[str, tuple[str, str]] = {
    "svg": ("image/svg+xml", "svg"),
    "png": ("image/png", "png"),
    "pdf": ("application/pdf", "pdf"),
    "mermaid": ("text/plain; charset=utf-8", "mmd"),
}

#: what-if table formats: format → (media type, file extension)
RESULT_FORMATS: dict[str, tuple[str, str]] = {
    "markdown": ("text/markdown; charset=utf-8", "md"),
    "csv": ("text/csv; charset=utf-8", "csv"),
}

#: the KPIs the what-if panel shows, in its order: key → row label
KPIS: dict[str, str] = {
    "won_per_week": "Won per week",
    "win_rate": "Win rate",
    "cycle_days_mean": "Cycle time (days)",
    "wip_mean": "Deals in progress",
    "revenue": "Revenue",
}


class ExportError(FlowsimError, ValueError):
    """A request for an export that cannot be made (unknown format, a malformed table)."""


def picture(process: Process, *, fmt: str, overlay: Overlay | None = None, **fields: Any) -> bytes:
    """``process`` drawn as ``fmt`` by the ordinary renderer, with the page's options.

    ``fields`` are :class:`~flowsim.render.RenderOptions` fields (``view``, ``direction``,
    ``lanes``, ``detail``, ``theme`` as a built-in name, ``color_by``).
    """
    if fmt not in PICTURE_FORMATS:
        raise ExportError(f"'format' must be one of {', '.join(PICTURE_FORMATS)}")
    try:
        opts = render_options(format=fmt, overlay=overlay, process=process, **fields)
    except (RenderError, ThemeError) as err:
        raise ExportError(str(err)) from None
    return render_with_notes(process, opts)[0]


def fit_overlay(overlay: Overlay, process: Process) -> tuple[Overlay, list[str]]:
    """``overlay`` without the figures of ids ``process`` no longer has, and those ids.

    A run's figures are keyed by the ids of the model it ran on; after a rename the old id's
    figures belong to nothing, and must not colour a stage that merely took its place.
    """
    nodes = {s.id for s in process.stages} | {o.id for o in process.outcomes}
    roles = {r.id for r in process.roles}
    gone = {k for k in overlay.stages if k not in nodes} | {
        k for k in overlay.roles if k not in roles
    }
    gone |= {end for e in overlay.edges for end in (e.source, e.target) if end not in nodes}
    edges = tuple(e for e in overlay.edges if e.source in nodes and e.target in nodes)
    kept = overlay.model_copy(
        update={
            "stages": {k: v for k, v in overlay.stages.items() if k in nodes},
            "roles": {k: v for k, v in overlay.roles.items() if k in roles},
            "edges": edges,
        }
    )
    return kept, sorted(gone)


def unified_diff(disk: str, mine: str, name: str) -> str:
    """The unified diff from the file on disk to the editor's text ("" when they are equal)."""
    lines = difflib.unified_diff(
        disk.splitlines(keepends=True),
        mine.splitlines(keepends=True),
        fromfile=f"{name} (on disk)",
        tofile=f"{name} (your edits)",
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ExportError(f"{where} must be a number or null")
    return float(value)


def _estimate(table: Any, key: str, where: str) -> tuple[float | None, float | None, float | None]:
    """``(mean, low, high)`` of ``table[key]``; ``None``s when the run had no such figure."""
    if not isinstance(table, dict):
        raise ExportError(f"{where} must be an object of estimates")
    est = table.get(key)
    if est is None:
        return None, None, None
    if not isinstance(est, dict):
        raise ExportError(f"{where}.{key} must be an estimate object")
    return tuple(  # type: ignore[return-value]
        _number(est.get(part), f"{where}.{key}.{part}") for part in ("mean", "low", "high")
    )


def _rows(results: Any) -> tuple[list[str], list[list[float | None]]]:
    """Column names and one row per KPI: baseline mean, then each scenario's change and CI."""
    if not isinstance(results, dict):
        raise ExportError("'results' must be the answer of POST /api/simulate")
    scenarios = results.get("scenarios", [])
    if not isinstance(scenarios, list) or not all(isinstance(s, dict) for s in scenarios):
        raise ExportError("'results.scenarios' must be a list of scenario objects")
    names = [str(s.get("name", "")) for s in scenarios]
    columns = ["baseline"]
    for name in names:
        columns += [f"{name}: change", f"{name}: 95% CI low", f"{name}: 95% CI high"]
    rows = []
    for key in KPIS:
        row: list[float | None] = [_estimate(results.get("baseline"), key, "baseline")[0]]
        for i, s in enumerate(scenarios):
            row += list(_estimate(s.get("deltas"), key, f"scenarios[{i}].deltas"))
        rows.append(row)
    return columns, rows


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.6g}"


def _csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text: a leading ``= + - @`` would start a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def results_table(results: Any, fmt: str) -> str:
    """The what-if answer as a Markdown or CSV table: one row per KPI (see :data:`KPIS`)."""
    if fmt not in RESULT_FORMATS:
        raise ExportError(f"'format' must be one of {', '.join(RESULT_FORMATS)}")
    columns, rows = _rows(results)
    header = ["KPI", *columns]
    body = [
        [label, *(_cell(v) for v in row)] for label, row in zip(KPIS.values(), rows, strict=True)
    ]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["kpi", *(_csv_cell(c) for c in columns)])
        writer.writerows([k, *r[1:]] for k, r in zip(KPIS, body, strict=True))
        return out.getvalue()
    lines = ["| " + " | ".join(_markdown_cell(c) for c in header) + " |"]
    lines.append("|" + "---|" * len(header))
    lines += ["| " + " | ".join(_markdown_cell(c) for c in r) + " |" for r in body]
    return "\n".join(lines) + "\n"
