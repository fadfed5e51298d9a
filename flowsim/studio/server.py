"""Running the studio: a socket, uvicorn, the URL with its token, the browser.

The socket is bound before uvicorn starts so that a busy port is a one-line error (not a
log record and an exit from inside uvicorn), and ``--port 0`` can print the port the system
chose. Stopping the server first tells open event streams and a running simulation to end,
so Ctrl+C exits at once instead of waiting for pages that never hang up.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
import webbrowser
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

from flowsim.studio.app import create_app
from flowsim.studio.routes import Studio

__all__ = ["LOOPBACK", "StudioServer", "bind", "make_server", "new_token", "url_for"]

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def new_token() -> str:
    """A fresh session token (URL-safe, 256 bits)."""
    return secrets.token_urlsafe(32)


class StudioServer(uvicorn.Server):
    """uvicorn, plus: end the studio's streams and runs first on shutdown; a ready callback."""

    def __init__(
        self, config: uvicorn.Config, studio: Studio, on_ready: Callable[[], None] | None = None
    ) -> None:
        super().__init__(config)
        self.studio = studio
        self.on_ready = on_ready

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started and self.on_ready is not None:
            self.on_ready()

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self.studio.closing is not None:
            self.studio.closing.set()
        self.studio.runner.close()
        await super().shutdown(sockets)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (``OSError`` when busy or not allowed)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(64)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def url_for(host: str, port: int, token: str) -> str:
    """The page's URL: the token rides in the query, where the page's script finds it."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/?token={token}"


def make_server(
    app: Starlette, *, on_ready: Callable[[], None] | None = None, log_level: str = "warning"
) -> StudioServer:
    """A :class:`StudioServer` for ``app`` (run it with ``server.run(sockets=[bind(...)])``)."""
    config = uvicorn.Config(
        app, log_level=log_level, timeout_graceful_shutdown=3, access_log=False, lifespan="on"
    )
    return StudioServer(config, app.state.studio, on_ready)


def serve(
    path: str | os.PathLike[str],
    sock: socket.socket,
    token: str,
    *,
    url: str,
    open_browser: bool = True,
) -> None:
    """Serve the studio for ``path`` on ``sock`` until interrupted (blocking)."""
    host = sock.getsockname()[0]
    hosts = LOOPBACK if host in LOOPBACK else None
    app = create_app(path, token, hosts=hosts)

    def ready() -> None:
        if open_browser:
            threading.Thread(target=webbrowser.open, args=(url,), daemon=True).start()

    make_server(app, on_ready=ready).run(sockets=[sock])
