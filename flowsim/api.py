"""The Python API: from text or a file to a checked :class:`~flowsim.model.Process`.

``load`` and ``parse`` give a process or raise :class:`~flowsim.diagnostics.FlowError`;
``check_file`` and ``check_text`` never raise on bad input and return every diagnostic (with
the process when one could be built), which is what editors and the CLI want.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowsim.checks import check
from flowsim.diagnostics import Diagnostic, FlowError, Severity, format_diagnostics
from flowsim.dsl.builder import build_process, decode_source
from flowsim.errors import ModelError
from flowsim.gc_pause import gc_paused
from flowsim.model import Process
from flowsim.structure import structure_diagnostics

if TYPE_CHECKING:
    import polars as pl

__all__ = ["CheckResult", "check_file", "check_text", "load", "parse", "read_source"]


@dataclass
class CheckResult:
    """Everything ``flowsim check`` knows about one file."""

    filename: str
    process: Process | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        return not self.errors

    def render(self) -> str:
        """Compiler-style text of all diagnostics, with source excerpts."""
        return format_diagnostics(self.diagnostics, self.sources)

    def summary(self) -> str:
        """One line: 'N stages, N outcomes, ...' (empty when no process was built)."""
        p = self.process
        if p is None:
            return ""
        parts = [
            _count(len(p.stages), "stage"),
            _count(len(p.outcomes), "outcome"),
            _count(len(p.roles), "role"),
            _count(len(p.departments), "department"),
            _count(len(p.transitions), "transition"),
        ]
        if p.parallels:
            parts.append(_count(len(p.parallels), "parallel block"))
        if p.scenarios:
            parts.append(_count(len(p.scenarios), "scenario"))
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.filename,
            "ok": self.ok,
            "errors": len(self.errors),
            "warnings": len(self.warnings),
            "summary": self.summary() or None,
            "diagnostics": [d.model_dump(mode="json") for d in self.diagnostics],
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, indent=2)

    def text(self) -> str:
        """What ``flowsim check`` prints for the file: the diagnostics with their source
        excerpts (:meth:`render`), a blank line, then ``<file>: ok - <summary>`` (and the
        warning count) or ``<file>: <n> errors``."""
        lines = [self.render(), ""] if self.diagnostics else []
        if self.ok:
            warn = len(self.warnings)
            extra = f" ({_count(warn, 'warning')})" if warn else ""
            lines.append(f"{self.filename}: ok - {self.summary()}{extra}")
        else:
            lines.append(f"{self.filename}: {_count(len(self.errors), 'error')}")
        return "\n".join(lines)

    def to_frame(self) -> pl.DataFrame:
        """The diagnostics as a polars DataFrame: code, severity, message, line, column."""
        import polars as pl

        rows = [
            {
                "code": d.code,
                "severity": d.severity.value,
                "message": d.message,
                "line": d.span.line if d.span else None,
                "column": d.span.column if d.span else None,
            }
            for d in self.diagnostics
        ]
        schema = {
            "code": pl.String,
            "severity": pl.String,
            "message": pl.String,
            "line": pl.Int64,
            "column": pl.Int64,
        }
        return pl.DataFrame(rows, schema=schema)

    def _repr_html_(self) -> str:
        from flowsim.result import html_table

        return html_table(
            f"check of {self.filename}: {'ok' if self.ok else 'errors'}", self.to_frame()
        )


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def check_text(text: str, filename: str = "<string>") -> CheckResult:
    """Parse, build and check ``text`` as a ``.flow`` file. Never raises on bad input.

    Parameters
    ----------
    text : str
        The ``.flow`` source.
    filename : str, default "<string>"
        The name diagnostics give the text (``includes`` are resolved beside it).

    Returns
    -------
    CheckResult
        Every diagnostic (errors and warnings), the process when there are no errors, and the
        sources read (for excerpts: ``result.render()``).

    Raises
    ------
    None
        Bad input is never raised: every problem of the text is a diagnostic of the result.

    See Also
    --------
    check_file : the same for a file.
    parse : the process, or :class:`FlowError`.

    Examples
    --------
    >>> import flowsim
    >>> result = flowsim.check_text("stage a\\n", "sales.flow")
    >>> result.ok
    False
    >>> for d in result.errors:
    ...     print(d)
    sales.flow:1:1: error[E110]: the process has no outcome, so no deal can ever end
    sales.flow:1:7: error[E213]: stage 'a' has no way out
    """
    with gc_paused():
        return _check_text(text, filename)


def _check_text(text: str, filename: str) -> CheckResult:
    built = build_process(text, filename)
    diags = list(built.diagnostics)
    process: Process | None = None
    if built.fields is not None:
        try:
            process = Process(**built.fields)
        except ModelError:
            # The builder reports structural problems itself; this is a safety net.
            probe = Process.model_construct(**built.fields)
            diags.extend(check(probe))
        else:
            diags.extend(check(process))
    elif built.partial is not None:
        diags.extend(_references(built.partial))
    if built.partial is not None or any(d.code in _SYNTAX for d in diags):
        diags = _by_position(diags, filename)
    return CheckResult(filename, process, _dedupe(diags), built.sources)


def _references(partial: dict[str, Any]) -> list[Diagnostic]:
    """After syntax errors: references among the statements that parsed (unknown role,
    stage, department, duplicate ids). Whole-process checks (reachability, shares, warnings)
    and scenarios' changes of transitions wait for a text that parses: a skipped line may
    hold the transition or declaration they would miss."""
    probe = Process.model_construct(**partial)
    scenarios = tuple(
        s.model_copy(update={"changes": tuple(c for c in s.changes if c.kind != "transition")})
        for s in probe.scenarios
    )
    return structure_diagnostics(probe.model_copy(update={"scenarios": scenarios}))


#: Syntax error codes: unexpected token, bad character, unterminated string, unexpected end.
_SYNTAX = frozenset({"E001", "E002", "E003", "E006"})


def _by_position(diags: list[Diagnostic], filename: str) -> list[Diagnostic]:
    """``diags`` in text order: unplaced first, then this file's, then included files'."""
    files = {filename: 0}

    def key(d: Diagnostic) -> tuple[int, int, int]:
        if d.span is None:
            return (-1, 0, 0)
        rank = files.setdefault(d.span.file, len(files))
        return (rank, d.span.line, d.span.column)

    return sorted(diags, key=key)


def _dedupe(diags: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for d in diags:
        key = (d.code, d.message, d.span)
        if key not in seen:
            seen.add(key)
            out.append(d)
    return out


def read_source(path: str | os.PathLike[str]) -> tuple[str | None, Diagnostic | None]:
    """Read a .flow file as text; problems (missing, not UTF-8) come back as a diagnostic."""
    name = os.fspath(path)
    try:
        data = Path(name).read_bytes()
    except OSError as err:
        return None, Diagnostic(
            code="E300",
            severity=Severity.ERROR,
            message=f"cannot read '{name}': {err.strerror or type(err).__name__}",
        )
    return decode_source(data, name)


def check_file(path: str | os.PathLike[str]) -> CheckResult:
    """Read and check a ``.flow`` file. Never raises on bad input.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.flow`` file.

    Returns
    -------
    CheckResult
        As :func:`check_text`; a file that cannot be read (missing, not UTF-8) is an ``E300`` or
        ``E005`` diagnostic.

    Raises
    ------
    None
        Bad input is never raised: an unreadable file is a diagnostic of the result.

    See Also
    --------
    load : the process, or :class:`FlowError`.

    Examples
    --------
    >>> import flowsim
    >>> result = flowsim.check_file("examples/b2b-cn.flow")
    >>> result.ok, result.summary()
    (True, '4 stages, 2 outcomes, 4 roles, 4 departments, 9 transitions, 2 scenarios')
    >>> print(flowsim.check_file("nowhere.flow").errors[0])
    error[E300]: cannot read 'nowhere.flow': No such file or directory
    """
    name = os.fspath(path)
    text, problem = read_source(name)
    if text is None:
        assert problem is not None
        return CheckResult(name, None, [problem], {})
    return check_text(text, name)


def _require(result: CheckResult) -> Process:
    if result.errors or result.process is None:
        raise FlowError(result.diagnostics, result.sources)
    return result.process


def parse(text: str, filename: str = "<string>") -> Process:
    """The process described by ``text``.

    Parameters
    ----------
    text : str
        The ``.flow`` source.
    filename : str, default "<string>"
        The name diagnostics give the text.

    Returns
    -------
    Process
        The validated model (warnings are not raised; :func:`check_text` lists them).

    Raises
    ------
    FlowError
        The text has errors: ``err.diagnostics`` lists every one, ``err.render()`` shows them
        with source excerpts.

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.parse(
    ...     "process demo { arrivals 5 per week }\\n"
    ...     "role rep\\n"
    ...     'stage call { owner rep effort 1h goal "book a demo" exit "demo booked" }\\n'
    ...     "outcome won\\n"
    ...     "call -> won\\n"
    ... )
    >>> process.name, [s.id for s in process.stages], process.stages[0].effort
    ('demo', ['call'], Fixed(kind='fixed', value=1.0))
    >>> try:
    ...     flowsim.parse("stage a -> b\\n", "x.flow")
    ... except flowsim.FlowError as err:
    ...     print(err.diagnostics[0].code, err.diagnostics[0].span)
    E001 x.flow:1:9
    """
    return _require(check_text(text, filename))


def load(path: str | os.PathLike[str]) -> Process:
    """The process in the ``.flow`` file at ``path``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.flow`` file (its ``include`` files are read beside it).

    Returns
    -------
    Process
        The validated model: ``process.graph`` (networkx), ``process.to_flow()`` (canonical
        text), ``process.with_scenario(name)``.

    Raises
    ------
    FlowError
        The file cannot be read or has errors; ``err.render()`` shows every one.

    Examples
    --------
    >>> import flowsim
    >>> process = flowsim.load("examples/b2b-cn.flow")
    >>> [s.id for s in process.stages]
    ['contact', 'needs', 'design', 'negotiate']
    >>> [o.id for o in process.outcomes], process.currency
    (['won', 'lost'], 'CNY')
    >>> len(process.transitions), [s.name for s in process.scenarios]
    (9, ['增加两名售前', '方案提速30%'])
    """
    return _require(check_file(path))
