"""The language commands: check, fmt, export, render, schema."""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import Any

import click

from flowsim._output import write_output
from flowsim.api import CheckResult
from flowsim.cli._common import (
    check_path,
    emit,
    format_option,
    guard,
    load_or_exit,
    with_scenario,
)
from flowsim.cli.feedback import feedback_options
from flowsim.diagnostics import format_diagnostics
from flowsim.errors import one_line
from flowsim.model import Process


def _print_result(result: CheckResult, fmt: str, quiet: bool, strict: bool = False) -> None:
    if fmt == "json":
        return
    failing = not result.ok or (strict and bool(result.warnings))
    if quiet and not failing:
        pass
    elif quiet:
        shown = result.diagnostics if strict else result.errors
        click.echo(format_diagnostics(shown, result.sources), err=True)
        click.echo("", err=True)
    elif result.diagnostics:
        click.echo(result.render(), err=not result.ok)
        click.echo("", err=not result.ok)
    if result.ok:
        warn = len(result.warnings)
        extra = f" ({warn} warning{'s' if warn != 1 else ''})" if warn else ""
        click.echo(f"{result.filename}: ok - {result.summary()}{extra}")
    else:
        n = len(result.errors)
        click.echo(f"{result.filename}: {n} error{'s' if n != 1 else ''}", err=True)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@format_option(
    ["text", "json"], default="text", help="Diagnostics as compiler-style text or JSON for tools."
)
@click.option("--strict", is_flag=True, help="Treat warnings as errors (exit 1).")
@click.option("-q", "--quiet", is_flag=True, help="Only print errors and the summary line.")
@guard
def check(files: tuple[str, ...], fmt: str, strict: bool, quiet: bool) -> None:
    """Check .flow files: syntax, names, probabilities, reachability, and advice."""
    results = [check_path(f) for f in files]
    for result in results:
        _print_result(result, fmt, quiet, strict)
    if fmt == "json":
        payload: Any = [r.to_dict() for r in results]
        click.echo(
            json.dumps(payload[0] if len(payload) == 1 else payload, ensure_ascii=False, indent=2)
        )
    failed = any(not r.ok or (strict and r.warnings) for r in results)
    sys.exit(1 if failed else 0)


@click.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Do not write; exit 1 if any file is not in canonical form.",
)
@click.option("--diff", is_flag=True, help="Print a unified diff instead of writing.")
@click.option("-q", "--quiet", is_flag=True, help="Do not name the files reformatted.")
@guard
def fmt(files: tuple[str, ...], check_only: bool, diff: bool, quiet: bool) -> None:
    """Rewrite .flow files in canonical form (comments kept). Use - for stdin to stdout."""
    status = 0
    for path in files:
        result = check_path(path)
        if result.process is None or result.errors:
            click.echo(result.render(), err=True)
            click.echo(f"{path}: not formatted (fix the errors first)", err=True)
            status = 1
            continue
        original = result.sources.get(result.filename, "")
        formatted = result.process.to_flow()
        if path == "-":
            if check_only:
                status = status or int(formatted != original)
            else:
                click.echo(formatted, nl=False)
            continue
        if formatted == original:
            continue
        if diff:
            click.echo(
                "".join(
                    difflib.unified_diff(
                        original.splitlines(keepends=True),
                        formatted.splitlines(keepends=True),
                        fromfile=path,
                        tofile=path + " (formatted)",
                    )
                ),
                nl=False,
            )
        if check_only:
            click.echo(f"would reformat {path}", err=True)
            status = 1
        elif not diff:
            write_output(path, formatted)
            if not quiet:
                click.echo(f"reformatted {path}", err=True)
    sys.exit(status)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@format_option(
    ["json", "flow"], default="json", help="The model as JSON, or as canonical .flow text."
)
@click.option("--scenario", help="Apply this scenario first.")
@click.option("--spans", is_flag=True, help="Include source positions in the JSON.")
@click.option("-o", "--output", help="Write here instead of stdout.")
@guard
def export(file: str, fmt: str, scenario: str | None, spans: bool, output: str | None) -> None:
    """Print the model of a .flow file (JSON for tools)."""
    process = with_scenario(load_or_exit(file)[0], scenario)
    if fmt == "flow":
        emit(process.to_flow(), output)
        return
    data = (
        process.model_dump(mode="json", exclude={"comments"}) if spans else process.semantic_dump()
    )
    emit(json.dumps(data, ensure_ascii=False, indent=2) + "\n", output)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option(
    "--view", type=click.Choice(["flowchart", "journey"]), default="flowchart", show_default=True
)
@format_option(
    ["svg", "png", "pdf", "dot", "mermaid", "html"],
    default=None,
    help="Picture format  [default: from -o's extension (.svg .png .pdf .dot .gv .mmd .html), "
    "else svg]",
)
@click.option(
    "-o",
    "--output",
    help="Output path, '-' for stdout (default: next to FILE, named FILE.VIEW.EXT).",
)
@click.option("--scenario", help="Draw the process under this scenario.")
@click.option(
    "--theme",
    default="default",
    show_default=True,
    help="default, mono, dark, print, or a theme .toml file.",
)
@click.option(
    "--direction",
    type=click.Choice(["auto", "LR", "TB"]),
    default="auto",
    show_default=True,
    help="Flowchart direction; auto: left to right, wrapped into rows when the flow is long.",
)
@click.option(
    "--lang",
    type=click.Choice(["en", "zh"]),
    default=None,
    help="Language of built-in words (default: zh if the process has Chinese text).",
)
@click.option(
    "--lanes",
    type=click.Choice(["department", "role", "none"]),
    default="department",
    show_default=True,
)
@click.option(
    "--detail",
    type=click.Choice(["none", "brief", "full"]),
    default="brief",
    show_default=True,
    help="How much of goals and exit criteria to show.",
)
@click.option("--touchpoints", is_flag=True, help="Attach touchpoints as notes (flowchart).")
@click.option(
    "--overlay",
    type=click.Path(dir_okay=False, exists=True),
    help="Metrics JSON (from `flowsim metrics` or `flowsim simulate`).",
)
@click.option(
    "--color-by",
    type=click.Choice(["dwell", "queue", "leakage", "utilization"]),
    help="Colour stages by this overlay metric.",
)
@feedback_options(
    "Customer feedback (CSV, Excel, Parquet): the journey map draws the measured scores "
    "with their 95% CIs beside the designed curve."
)
@click.option("-q", "--quiet", is_flag=True, help="No notes on stderr (errors are still printed).")
@guard
def render(
    file: str,
    view: str,
    fmt: str | None,
    output: str | None,
    scenario: str | None,
    theme: str,
    direction: str,
    lang: str | None,
    lanes: str,
    detail: str,
    touchpoints: bool,
    overlay: str | None,
    color_by: str | None,
    feedback_file: str | None,
    feedback_scale: str | None,
    quiet: bool,
) -> None:
    """Draw a .flow file: the swimlane flowchart or the customer journey map."""
    from flowsim.render import EXTENSIONS, GraphvizError, ThemeError, render_with_notes

    fmt = _picture_format(fmt, output)
    process = with_scenario(load_or_exit(file)[0], scenario)
    from flowsim.render import RenderError
    from flowsim.render import options as make_options

    try:
        opts = make_options(
            process=process,
            view=view,
            format=fmt,
            theme=theme,
            direction=direction,
            lang=lang,
            lanes=lanes,
            detail=detail,
            touchpoints=touchpoints,
            overlay=overlay,
            color_by=color_by,
            measured=_measured(process, view, feedback_file, feedback_scale, quiet),
        )
    except ThemeError as err:
        raise click.BadParameter(str(err), param_hint="--theme") from None
    except RenderError as err:  # options that do not go together (--color-by without --overlay)
        raise click.UsageError(str(err).replace("color_by", "--color-by")) from None
    except (ValueError, OSError) as err:  # a bad overlay file is the user's input
        click.echo(f"flowsim: {overlay}: not a valid metrics overlay: {one_line(err)}", err=True)
        sys.exit(1)
    try:
        data, notes = render_with_notes(process, opts)
    except GraphvizError as err:
        click.echo(f"flowsim: {err}", err=True)
        sys.exit(1)
    except ValueError as err:  # a view/format pair that does not exist
        raise click.UsageError(str(err)) from None
    for note in [] if quiet else notes:
        click.echo(f"flowsim: note: {note}", err=True)
    if output is None:
        base = Path(file)
        output = str(base.with_name(f"{base.stem}.{view}.{EXTENSIONS[fmt]}"))
    write_output(output, data)
    if output != "-":
        click.echo(str(Path(output)))


def _measured(process: Any, view: str, path: str | None, scale: str | None, quiet: bool) -> Any:
    """``--feedback``: the measured journey to draw (None without it)."""
    if path is None:
        return None
    if view != "journey":
        raise click.BadParameter(
            "draws on the journey map: add --view journey", param_hint="--feedback"
        )
    from flowsim.cli.feedback import plain_read, read_feedback_or_exit
    from flowsim.history.feedback import measure_journey

    answers = read_feedback_or_exit(path, plain_read(quiet=quiet), scale)
    journey = measure_journey(answers, process)
    for problem in [] if quiet else journey.problems:
        click.echo(f"flowsim: {problem}", err=True)
    return journey


def _picture_format(fmt: str | None, output: str | None) -> str:
    """``--format``, else the one ``-o``'s extension names, else svg; a mismatch is refused.

    ``-o map.png`` with no ``--format`` draws a PNG (writing SVG bytes into a ``.png`` file
    would be silently wrong); ``-o map.png --format svg`` is a contradiction, exit 2.
    """
    from flowsim.render import EXTENSIONS

    by_suffix = {ext: f for f, ext in EXTENSIONS.items()} | {"gv": "dot"}
    suffix = Path(output).suffix.lower().lstrip(".") if output and output != "-" else ""
    named = by_suffix.get(suffix)
    if fmt is None:
        return named or "svg"
    if named is not None and named != fmt:
        raise click.BadParameter(
            f"-o {output} names a .{suffix} file but --format is {fmt}: drop --format, "
            f"or give -o a .{EXTENSIONS[fmt]} name",
            param_hint="--format",
        )
    return fmt


@click.command()
@click.option("-o", "--output", help="Write here instead of stdout.")
@guard
def schema(output: str | None) -> None:
    """Print the JSON Schema of the process model."""
    data = Process.model_json_schema()
    emit(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) + "\n", output)
