"""The studio's Starlette application: the page, its assets, the API, the file watcher.

Static files are read from the package once, into a dict, and served by name: a request can
only ever get one of those few files (anything else, ``..`` or encoded or not, is 404), so
the server never turns a URL into a file-system path.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
from collections.abc import AsyncIterator, Collection
from importlib import resources

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from flowsim.studio import routes
from flowsim.studio.document import Document
from flowsim.studio.guard import MAX_BODY, Guard, page_csp
from flowsim.studio.watch import Broadcaster, watch_file
from flowsim.studio.whatif import Runner

__all__ = ["ASSETS", "create_app"]

#: the page's own files: name → media type
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "studio.js": "text/javascript; charset=utf-8",
    "studio.css": "text/css; charset=utf-8",
    "editor.js": "text/javascript; charset=utf-8",  # built by `make editor` (CodeMirror 6)
    "editor.LICENSES.txt": "text/plain; charset=utf-8",
}


def _load_assets() -> dict[str, bytes]:
    folder = resources.files("flowsim.studio") / "static"
    try:
        return {name: (folder / name).read_bytes() for name in ASSETS}
    except FileNotFoundError as err:  # a build that left out the package data
        raise RuntimeError(
            f"this flowsim installation lacks the studio's page files ({err.filename}): "
            "reinstall flowsim"
        ) from err


def create_app(
    path: str | os.PathLike[str],
    token: str,
    *,
    watch: bool = True,
    hosts: Collection[str] | None = None,
    max_body: int = MAX_BODY,
    time_limit: float = 120.0,
) -> Starlette:
    """The studio for the ``.flow`` file at ``path``, guarded by ``token``.

    ``hosts``: the only ``Host`` header names accepted (``None``: any); ``watch``: follow the
    file on disk and push changes to ``/api/events``; ``time_limit``: seconds a quick
    simulation may take.
    """
    studio = routes.Studio(Document(path), Broadcaster(), Runner(time_limit))
    assets = _load_assets()

    def asset(name: str) -> Response:
        return Response(assets[name], media_type=ASSETS[name])

    async def index(request: Request) -> Response:
        # CodeMirror injects its styles in a <style> element, which the policy allows by a
        # nonce that is new for every page load (and so useless to anyone who reads one)
        nonce = secrets.token_urlsafe(18)
        page = assets["index.html"].replace(b"{{style-nonce}}", nonce.encode())
        return Response(
            page,
            media_type=ASSETS["index.html"],
            headers={"Content-Security-Policy": page_csp(nonce)},
        )

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in assets or name == "index.html":
            raise HTTPException(404)
        return asset(name)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        studio.closing = asyncio.Event()
        watcher = (
            asyncio.ensure_future(watch_file(studio.document, studio.events, studio.closing))
            if watch
            else None
        )
        try:
            yield
        finally:
            studio.closing.set()
            studio.runner.close()
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/static/{name:path}", static),
            Route("/api/source", routes.source, methods=["GET", "PUT"]),
            Route("/api/render", routes.post_render, methods=["POST"]),
            Route("/api/export", routes.post_export, methods=["POST"]),
            Route("/api/export/results", routes.post_export_results, methods=["POST"]),
            Route("/api/diff", routes.post_diff, methods=["POST"]),
            Route("/api/edit", routes.post_edit, methods=["POST"]),
            Route("/api/simulate", routes.post_simulate, methods=["POST"]),
            Route("/api/simulate/cancel", routes.cancel_simulate, methods=["POST"]),
            Route("/api/events", routes.events, methods=["GET"]),
            Route("/api/language", routes.get_language, methods=["GET"]),
        ],
        middleware=[Middleware(Guard, token=token, max_body=max_body, hosts=hosts)],
        exception_handlers={routes.ApiError: routes.api_error, HTTPException: routes.http_error},
        lifespan=lifespan,
    )
    app.state.studio = studio
    return app
