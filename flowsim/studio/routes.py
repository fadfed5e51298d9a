"""The studio's HTTP API (documented in docs/studio.md). Every handler answers JSON.

Handlers are thin: the file is :mod:`flowsim.studio.document`, quick runs are
:mod:`flowsim.studio.whatif`, checking and drawing is the ordinary flowsim API. Blocking work
(checking, Graphviz, SimPy) runs in worker threads so the event loop keeps serving the page
and its event stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from flowsim import edit
from flowsim.api import CheckResult, check_text
from flowsim.errors import FlowsimError, ModelError
from flowsim.overlay import ColorMetric, Overlay
from flowsim.render import BUILTIN_THEMES, VIEWS, GraphvizError, GraphvizMissing
from flowsim.studio.document import Conflict, Document, DocumentError
from flowsim.studio.export import (
    PICTURE_FORMATS,
    RESULT_FORMATS,
    ExportError,
    fit_overlay,
    picture,
    results_table,
    unified_diff,
)
from flowsim.studio.hitmap import hit_map, journey_hit_map
from flowsim.studio.language import language_info, symbols
from flowsim.studio.watch import Broadcaster
from flowsim.studio.whatif import Cancelled, RunError, Runner, TimeLimit, parse_run

__all__ = [
    "ApiError",
    "Studio",
    "api_error",
    "events",
    "get_language",
    "get_source",
    "http_error",
    "post_diff",
    "post_edit",
    "post_export",
    "post_export_results",
    "post_render",
    "source",
]

#: seconds between keep-alive comments on the event stream (proxies drop silent streams)
KEEPALIVE = 15.0


@dataclass
class Studio:
    """What the handlers share: the file, the event fan-out, the what-if runner."""

    document: Document
    events: Broadcaster
    runner: Runner
    closing: asyncio.Event | None = None  # set when the server stops; made in the lifespan


class ApiError(FlowsimError):
    """A request the API refuses, with the status and the message the client shows."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.extra = extra


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse({"error": str(exc), **exc.extra}, status_code=exc.status)


async def http_error(request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (404 no such path, 405 wrong method) as JSON, like the rest."""
    assert isinstance(exc, HTTPException)
    if exc.status_code == 405:
        allowed = exc.headers.get("Allow", "") if exc.headers else ""
        message = f"{request.method} is not allowed on {request.url.path} (allowed: {allowed})"
    elif exc.status_code == 404:
        message = "not found"
    else:
        message = exc.detail
    return JSONResponse({"error": message}, status_code=exc.status_code, headers=exc.headers)


def _studio(request: Request) -> Studio:
    studio: Studio = request.app.state.studio
    return studio


async def _body(request: Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "the request body must be JSON") from None
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    return data


def _text(body: dict[str, Any]) -> str:
    text = body.get("text")
    if not isinstance(text, str):
        raise ApiError(400, "'text' (the .flow source) must be a string")
    return text


def _diagnostics(result: CheckResult, document: Document) -> list[dict[str, Any]]:
    """Diagnostics as JSON; ``local`` marks those in the edited file (not an included one)."""
    here = str(document.path)
    out = []
    for d in result.diagnostics:
        item = d.model_dump(mode="json")
        item["local"] = d.span is not None and d.span.file == here
        if d.span is not None:  # names, not the machine's absolute paths
            item["span"]["file"] = document.name if item["local"] else Path(d.span.file).name
        out.append(item)
    return out


def _check(document: Document, text: str) -> CheckResult:
    # the real path as the file name, so `include "..."` resolves next to the file
    return check_text(text, str(document.path))


async def source(request: Request) -> Response:
    """``/api/source``: one route for both methods, so a 405 names both in ``Allow``."""
    if request.method == "PUT":
        return await put_source(request)
    return await get_source(request)


async def get_source(request: Request) -> Response:
    """``GET /api/source``: the file's text and version."""
    document = _studio(request).document
    try:
        snap = await run_in_threadpool(document.read)
    except DocumentError as err:
        raise ApiError(422, str(err)) from err
    return JSONResponse(
        {"file": document.name, "text": snap.text, "version": snap.version, "exists": snap.exists}
    )


async def put_source(request: Request) -> Response:
    """``PUT /api/source``: save atomically if the file is still at ``base_version``, else 409."""
    document = _studio(request).document
    body = await _body(request)
    text = _text(body)
    if "base_version" not in body:  # not the same as null: "I loaded a missing file"
        raise ApiError(
            400, "'base_version' is required: the version from GET /api/source (null: no file)"
        )
    base = body["base_version"]
    if base is not None and not isinstance(base, str):
        raise ApiError(400, "'base_version' must be the version string from GET /api/source")
    try:
        version = await run_in_threadpool(document.save, text, base)
    except Conflict as err:
        raise ApiError(
            409,
            "the file changed on disk since it was loaded",
            version=err.current.version,
            text=err.current.text,
            diff=unified_diff(err.current.text, text, document.name),
        ) from err
    except DocumentError as err:
        raise ApiError(500, str(err)) from err
    return JSONResponse({"version": version})


#: the picture options the toolbar sets, with the values each takes (themes: built-in only,
#: so a request never makes the server read a file)
PICTURE_CHOICES: dict[str, tuple[str, ...]] = {
    "direction": ("LR", "TB"),
    "lanes": ("department", "role", "none"),
    "detail": ("none", "brief", "full"),
    "theme": tuple(BUILTIN_THEMES),
}


@dataclass(frozen=True)
class Picture:
    """What to draw, read from a request body: the view, the toolbar's options, the colours."""

    view: str = "flowchart"
    overlay: Overlay | None = None
    color_by: str | None = None
    options: tuple[tuple[str, str], ...] = ()

    def fields(self, overlay: Overlay | None) -> dict[str, Any]:
        """Render option fields; the overlay and ``color_by`` apply to the flowchart only."""
        out: dict[str, Any] = {"view": self.view, **dict(self.options)}
        if overlay is not None and self.view == "flowchart":
            out |= {"overlay": overlay, "color_by": self.color_by}
        return out


def _picture(body: dict[str, Any]) -> Picture:
    """The picture a body asks for; 400 for an unknown view, option value or a bad overlay."""
    view = body.get("view", "flowchart")
    if view not in VIEWS:
        raise ApiError(400, f"'view' must be one of {', '.join(VIEWS)}")
    color_by = body.get("color_by")
    if color_by is not None and color_by not in get_args(ColorMetric):
        raise ApiError(400, f"'color_by' must be one of {', '.join(get_args(ColorMetric))}")
    options = []
    for name, values in PICTURE_CHOICES.items():
        value = body.get(name)
        if value is not None and value not in values:
            raise ApiError(400, f"'{name}' must be one of {', '.join(values)}")
        if value is not None:
            options.append((name, str(value)))
    overlay = None
    if body.get("overlay") is not None:
        try:
            overlay = Overlay.model_validate(body["overlay"])
        except ModelError as err:
            raise ApiError(
                400, f"'overlay' is not a valid overlay: {err.errors()[0]['msg']}"
            ) from err
    return Picture(view, overlay, color_by, tuple(options))


def _render(document: Document, text: str, want: Picture) -> dict[str, Any]:
    result = _check(document, text)
    out: dict[str, Any] = {
        "ok": result.ok,
        "summary": result.summary() or None,
        "diagnostics": _diagnostics(result, document),
        "scenarios": [],
        "view": want.view,
        "svg": None,
        "symbols": None if result.process is None else symbols(result.process),
        "overlay_dropped": [],
        "hitmap": None,
    }
    if result.process is None or not result.ok:
        return out
    process = result.process
    out["scenarios"] = [s.name for s in process.scenarios]
    overlay = want.overlay
    if overlay is not None:
        overlay, out["overlay_dropped"] = fit_overlay(overlay, process)
    svg = picture(process, fmt="svg", **want.fields(overlay)).decode("utf-8")
    out["svg"] = svg
    if want.view == "flowchart":
        lanes = dict(want.options).get("lanes", "department")
        out["hitmap"] = hit_map(svg, process, str(document.path), lanes=lanes)
    else:
        out["hitmap"] = journey_hit_map(svg, process, str(document.path))
    return out


async def post_render(request: Request) -> Response:
    """``POST /api/render``: check the text; when it has no errors, the picture as SVG."""
    body = await _body(request)
    text = _text(body)
    want = _picture(body)
    document = _studio(request).document
    try:
        out = await run_in_threadpool(_render, document, text, want)
    except (GraphvizMissing, GraphvizError) as err:
        raise ApiError(503, str(err)) from err
    return JSONResponse(out)


def _export(document: Document, text: str, want: Picture, fmt: str) -> bytes:
    result = _check(document, text)
    if result.process is None or not result.ok:
        raise ApiError(
            422,
            "the text has errors: fix them to export the picture",
            diagnostics=_diagnostics(result, document),
        )
    overlay = want.overlay
    if overlay is not None:
        overlay = fit_overlay(overlay, result.process)[0]
    return picture(result.process, fmt=fmt, **want.fields(overlay))


def _attachment(data: bytes | str, name: str, media_type: str) -> Response:
    """A download: ``name`` is made of the file's stem and fixed words, quoted all the same."""
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
    return Response(
        data,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{safe}"'},
    )


async def post_export(request: Request) -> Response:
    """``POST /api/export``: the picture as SVG, PNG, PDF or Mermaid, drawn by the renderer."""
    body = await _body(request)
    text = _text(body)
    want = _picture(body)
    fmt = body.get("format")
    if fmt not in PICTURE_FORMATS:
        raise ApiError(400, f"'format' must be one of {', '.join(PICTURE_FORMATS)}")
    document = _studio(request).document
    try:
        data = await run_in_threadpool(_export, document, text, want, fmt)
    except (GraphvizMissing, GraphvizError) as err:
        raise ApiError(503, str(err)) from err
    except ExportError as err:
        raise ApiError(400, str(err)) from err
    media, ext = PICTURE_FORMATS[fmt]
    return _attachment(data, f"{Path(document.name).stem}-{want.view}.{ext}", media)


async def post_export_results(request: Request) -> Response:
    """``POST /api/export/results``: a what-if answer as a Markdown or CSV table."""
    body = await _body(request)
    fmt = body.get("format")
    try:
        table = results_table(body.get("results"), fmt if isinstance(fmt, str) else "")
    except ExportError as err:
        raise ApiError(400, str(err)) from err
    media, ext = RESULT_FORMATS[str(fmt)]
    stem = Path(_studio(request).document.name).stem
    return _attachment(table, f"{stem}-what-if.{ext}", media)


#: the edits the picture makes: kind → (the edit's class, its fields and their JSON types)
EDITS: dict[str, tuple[type, dict[str, tuple[type, ...]]]] = {
    "add_stage": (edit.AddStage, {"after": (str,), "id": (str,), "label": (str, type(None))}),
    "add_transition": (
        edit.AddTransition,
        {"source": (str,), "target": (str,), "probability": (int, float, type(None))},
    ),
    "remove_transition": (edit.RemoveTransition, {"source": (str,), "target": (str,)}),
    "set_probability": (
        edit.SetProbability,
        {"source": (str,), "target": (str,), "probability": (int, float, type(None))},
    ),
    "set_owner": (edit.SetOwner, {"stage": (str,), "role": (str,)}),
    "set_headcount": (edit.SetHeadcount, {"role": (str,), "headcount": (int,)}),
}


def _edit(body: dict[str, Any]) -> edit.Edit:
    """The edit a body asks for (400 for an unknown kind or a field of the wrong type)."""
    spec = body.get("edit")
    if not isinstance(spec, dict) or spec.get("kind") not in EDITS:
        raise ApiError(400, f"'edit.kind' must be one of {', '.join(EDITS)}")
    cls, fields = EDITS[spec["kind"]]
    values = {}
    for name, types in fields.items():
        value = spec.get(name)
        if isinstance(value, bool) or not isinstance(value, types):
            raise ApiError(400, f"'edit.{name}' has the wrong type")
        values[name] = value
    made: edit.Edit = cls(**values)
    return made


async def post_edit(request: Request) -> Response:
    """``POST /api/edit``: the text with one visual edit made (see :mod:`flowsim.edit`)."""
    body = await _body(request)
    text = _text(body)
    change = _edit(body)
    path = str(_studio(request).document.path)
    try:
        new = await run_in_threadpool(edit.apply_edit, text, change, path)
    except edit.EditError as err:
        raise ApiError(422, str(err)) from err
    return JSONResponse({"text": new})


async def post_diff(request: Request) -> Response:
    """``POST /api/diff``: the unified diff from the file on disk now to ``text``."""
    document = _studio(request).document
    text = _text(await _body(request))
    try:
        snap = await run_in_threadpool(document.read)
    except DocumentError as err:
        raise ApiError(422, str(err)) from err
    diff = unified_diff(snap.text, text, document.name)
    return JSONResponse({"diff": diff, "version": snap.version, "exists": snap.exists})


async def post_simulate(request: Request) -> Response:
    """``POST /api/simulate``: a quick what-if run; stops when the client goes away."""
    studio = _studio(request)
    body = await _body(request)
    text = _text(body)
    try:
        spec = parse_run(body)
    except RunError as err:
        raise ApiError(400, str(err)) from err
    result = await run_in_threadpool(_check, studio.document, text)
    if result.process is None or not result.ok:
        raise ApiError(
            422,
            "the text has errors: fix them to run a simulation",
            diagnostics=_diagnostics(result, studio.document),
        )
    flag = studio.runner.start()
    task = asyncio.ensure_future(run_in_threadpool(studio.runner.run, result.process, spec, flag))
    while not task.done():
        await asyncio.wait({task}, timeout=0.2)
        if not task.done() and await request.is_disconnected():
            flag.set()  # the page aborted the request: stop computing
    try:
        return JSONResponse(task.result())
    except Cancelled:
        raise ApiError(409, "the simulation was cancelled") from None
    except TimeLimit:
        limit = studio.runner.time_limit
        message = f"the quick run took over {limit:g} s: try fewer days or replications"
        raise ApiError(504, message) from None
    except RunError as err:
        raise ApiError(422, str(err)) from err


async def get_language(request: Request) -> Response:
    """``GET /api/language``: keywords, distribution names and hover help for the editor."""
    return JSONResponse(language_info())


async def cancel_simulate(request: Request) -> Response:
    """``POST /api/simulate/cancel``: stop the run in progress (if any)."""
    runner = _studio(request).runner
    was = runner.running
    runner.cancel()
    return JSONResponse({"cancelled": was})


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


async def _next_event(
    queue: asyncio.Queue[dict[str, Any]], closing: asyncio.Event
) -> AsyncGenerator[dict[str, Any] | None, None]:
    """The queue's events as they come, ``None`` after each silent keep-alive interval.

    Every wait is a task of its own; whatever ends the iteration (the server stops, the
    client goes away and the stream is cancelled or closed) cancels and awaits both, so no
    ``queue.get`` is left pending in the loop (it would be destroyed pending later).
    """
    stop: asyncio.Future[Any] = asyncio.ensure_future(closing.wait())
    get: asyncio.Future[Any] | None = None
    try:
        while not closing.is_set():
            if get is None:
                get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {get, stop}, timeout=KEEPALIVE, return_when=asyncio.FIRST_COMPLETED
            )
            if get in done:
                event, get = get.result(), None
                yield event
            elif not done:
                yield None  # the same `get` goes on waiting: no event is lost meanwhile
    finally:
        for task in (get, stop):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


async def events(request: Request) -> Response:
    """``GET /api/events``: server-sent events; ``hello`` now, ``change`` per new version."""
    studio = _studio(request)
    queue = studio.events.subscribe()
    closing = studio.closing or asyncio.Event()

    async def stream() -> AsyncIterator[str]:
        try:
            version = await run_in_threadpool(studio.document.current_version)
            yield _sse("hello", {"version": version, "exists": version is not None})
            waits = _next_event(queue, closing)
            try:
                async for event in waits:
                    yield ": keep-alive\n\n" if event is None else _sse("change", event)
            finally:
                await waits.aclose()
        finally:
            studio.events.unsubscribe(queue)

    return StreamingResponse(stream(), media_type="text/event-stream")
