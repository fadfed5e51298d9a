"""Helpers for the studio tests: the token, a live server in a thread, HTTP, polling.

Requests go through ``http.client`` to a real uvicorn: the standard library sends a path
exactly as written (``..`` and all), which a traversal test needs, and no extra test
dependency is involved.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from flowsim.studio import create_app
from flowsim.studio.routes import Studio
from flowsim.studio.server import LOOPBACK, bind, make_server

HERE = Path(__file__).parent
SMALL = HERE / "small.flow"
TOKEN = "test-token-0123456789"


@dataclass
class Live:
    """A studio running on uvicorn in a background thread."""

    app: Starlette
    base: str
    port: int
    loop: asyncio.AbstractEventLoop

    @property
    def url(self) -> str:
        return f"{self.base}/?token={TOKEN}"

    @property
    def studio(self) -> Studio:
        studio: Studio = self.app.state.studio
        return studio

    def pending_tasks(self) -> list[str]:
        """The server loop's tasks other than the one asking, as their reprs."""

        async def others() -> list[str]:
            me = asyncio.current_task()
            return [repr(t) for t in asyncio.all_tasks() if t is not me and not t.done()]

        return asyncio.run_coroutine_threadsafe(others(), self.loop).result(5)


@contextmanager
def live_studio(path: Path, time_limit: float = 120.0) -> Iterator[Live]:
    """Serve ``path`` on a free port; stop (``should_exit``) and join the thread on exit."""
    app = create_app(path, TOKEN, hosts=LOOPBACK, time_limit=time_limit)
    sock = bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = make_server(app)
    loop = asyncio.new_event_loop()  # ours, so a test can look at the server's tasks
    thread = threading.Thread(
        target=lambda: loop.run_until_complete(server.serve(sockets=[sock])), daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the studio did not start"
        time.sleep(0.01)
    try:
        yield Live(app, f"http://127.0.0.1:{port}", port, loop)
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
        if not thread.is_alive():
            loop.close()
        assert not thread.is_alive(), "the studio did not stop"


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Poll ``condition`` until it holds (fails the test after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.02)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def call(
    live: Live,
    method: str,
    path: str,
    body: Any = None,
    *,
    token: str | None = TOKEN,
    headers: dict[str, str] | None = None,
) -> Reply:
    """One request; ``body`` is JSON unless bytes; the token goes in the header."""
    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=60)
    sent = dict(headers or {})
    if token is not None:
        sent["X-Flowsim-Token"] = token
    data: bytes | None = None
    if isinstance(body, bytes):
        data = body
    elif body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=data, headers=sent)
        response = conn.getresponse()
        return Reply(
            response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
        )
    finally:
        conn.close()
