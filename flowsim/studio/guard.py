"""The studio's front door: token, request size, host and response headers, in one place.

It is plain ASGI middleware so that every request passes it before any route runs:

- ``/api/*`` needs the session token (header ``X-Flowsim-Token`` or query ``token``; the
  query form exists because ``EventSource`` cannot set headers), else **403**. Another web
  page open in the same browser can send requests to ``127.0.0.1`` but cannot know the token.
- A request body larger than ``max_body`` bytes is refused with **413** before the app reads
  it (by ``Content-Length`` or while counting a chunked body), so no route buffers more.
- With ``hosts`` set, a ``Host`` header naming anything else gets **400**: a DNS-rebinding
  page reaches the server under its own host name and is turned away.
- Every response carries a strict Content-Security-Policy (scripts and styles only from the
  studio's own ``/static``, plus the editor's one ``<style>`` element by a per-load nonce on
  the page itself; pictures from ``blob:`` URLs), ``nosniff``, no referrer (the
  token is in the page URL) and ``no-store``.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Collection
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CSP", "MAX_BODY", "TOKEN_HEADER", "Guard", "page_csp"]

MAX_BODY = 2 * 1024 * 1024
TOKEN_HEADER = "x-flowsim-token"
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)


def page_csp(nonce: str) -> str:
    """The page's own policy: :data:`CSP`, plus the editor's ``<style>`` element by nonce."""
    return CSP.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")


_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


class _TooLarge(Exception):
    pass


class Guard:
    """ASGI middleware enforcing the rules in the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        token: str,
        *,
        max_body: int = MAX_BODY,
        hosts: Collection[str] | None = None,
    ) -> None:
        self.app = app
        self.token = token.encode()
        self.max_body = max_body
        self.hosts = {h.lower() for h in hosts} if hosts is not None else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in _HEADERS if k not in names]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        headers = {k.decode("latin-1").lower(): v for k, v in scope["headers"]}
        if self.hosts is not None and _hostname(headers.get("host", b"")) not in self.hosts:
            await _refuse(send_with_headers, 400, "unexpected Host header")
            return
        if scope["path"].startswith("/api/") and not self._authorised(scope, headers):
            await _refuse(
                send_with_headers,
                403,
                "missing or wrong token: open the URL printed by `flowsim studio`",
            )
            return
        length = headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            await _refuse(send_with_headers, 413, f"request body over {self.max_body} bytes")
            return
        if scope["method"] in ("POST", "PUT", "PATCH"):
            try:
                body = await self._read_body(receive)
            except _TooLarge:
                await _refuse(send_with_headers, 413, f"request body over {self.max_body} bytes")
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send_with_headers)

    def _authorised(self, scope: Scope, headers: dict[str, bytes]) -> bool:
        given = headers.get(TOKEN_HEADER)
        if given is None:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            values = query.get("token", [])
            given = values[0].encode("latin-1") if values else b""
        return secrets.compare_digest(given, self.token)

    async def _read_body(self, receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                raise _TooLarge
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the buffered body, then the real channel (disconnects)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _hostname(host: bytes) -> str:
    text = host.decode("latin-1").lower()
    if text.startswith("["):  # [::1]:8765
        return text[1:].split("]", 1)[0]
    return text.rsplit(":", 1)[0] if text.count(":") == 1 else text


async def _refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
