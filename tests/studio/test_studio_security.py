"""The studio's guards on a live server: token (403), traversal (404), body size (413),
Host header, and the Content-Security-Policy that keeps the page script-only-from-/static."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowsim.studio.guard import CSP, MAX_BODY, page_csp
from tests.studio.helpers import SMALL, TOKEN, Live, call, live_studio

STATIC = Path(__file__).resolve().parents[2] / "flowsim" / "studio" / "static"


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Live, Path]]:
    """One server for the many read-only probes below (starting one per probe is slow)."""
    path = tmp_path_factory.mktemp("shared") / "sales.flow"
    path.write_bytes(SMALL.read_bytes())
    with live_studio(path) as running:
        yield running, path


GUARDED = [
    ("GET", "/api/source", None),
    ("PUT", "/api/source", {"text": "# gone\n", "base_version": None}),
    ("POST", "/api/render", {"text": "# x\n"}),
    ("POST", "/api/simulate", {"text": "# x\n"}),
    ("POST", "/api/simulate/cancel", {}),
    ("GET", "/api/events", None),
]


@pytest.mark.parametrize(
    ("method", "path", "body"), GUARDED, ids=[f"{m} {p}" for m, p, _ in GUARDED]
)
def test_every_api_request_needs_the_token(
    shared: tuple[Live, Path], method: str, path: str, body: object
) -> None:
    live, flow = shared
    before = flow.read_bytes()
    for token in (None, "", "wrong", TOKEN + "x", TOKEN[:-1]):
        r = call(live, method, path, body, token=token)
        assert r.status == 403, (token, r.body)
        assert "token" in r.json()["error"]
    r = call(live, method, f"{path}?token=nope", body, token=None)
    assert r.status == 403
    assert flow.read_bytes() == before


def test_the_token_may_ride_in_the_query(live: Live) -> None:
    r = call(live, "GET", f"/api/source?token={TOKEN}", token=None)
    assert r.status == 200
    assert r.json()["file"] == "sales.flow"


TRAVERSALS = [
    "/static/../../etc/passwd",
    "/static/..%2f..%2f..%2fetc%2fpasswd",
    "/static/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "/static/%252e%252e%252f%252e%252e%252fetc%252fpasswd",
    "/static/..%5c..%5c..%5cetc%5cpasswd",
    "/static/....//....//etc/passwd",
    "/static//etc/passwd",
    "/static/%2fetc%2fpasswd",
    "/static/studio.js/../../sales.flow",
    "/static/../sales.flow",
    "/static/sales.flow",
    "/sales.flow",
    "/../sales.flow",
    "/etc/passwd",
    "/static/",
    "/static/index.html",
    "/static/studio.js%00.flow",
    "/static/STUDIO.JS",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_only_the_pages_own_assets_are_served(shared: tuple[Live, Path], path: str) -> None:
    live = shared[0]
    r = call(live, "GET", path)
    assert r.status == 404, r.body[:200]
    assert b"root:" not in r.body
    assert b"process" not in r.body  # not the .flow file either


def test_the_assets_are_served_with_their_types(live: Live) -> None:
    page = call(live, "GET", "/", token=None)
    assert page.status == 200
    assert page.headers["content-type"].startswith("text/html")
    js = call(live, "GET", "/static/studio.js", token=None)
    assert js.headers["content-type"].startswith("text/javascript")
    assert js.body == (STATIC / "studio.js").read_bytes()
    css = call(live, "GET", "/static/studio.css", token=None)
    assert css.headers["content-type"].startswith("text/css")
    editor = call(live, "GET", "/static/editor.js", token=None)
    assert editor.headers["content-type"].startswith("text/javascript")
    assert editor.body == (STATIC / "editor.js").read_bytes()
    licences = call(live, "GET", "/static/editor.LICENSES.txt", token=None)
    assert licences.headers["content-type"].startswith("text/plain")
    assert b"@codemirror/view@" in licences.body and b"MIT" in licences.body


@pytest.fixture
def big() -> bytes:
    return b'{"text": "' + b"#" * (MAX_BODY + 10) + b'"}'


def test_an_oversized_body_is_refused_with_413(live: Live, flow: Path, big: bytes) -> None:
    before = flow.read_bytes()
    for method, path in [
        ("PUT", "/api/source"),
        ("POST", "/api/render"),
        ("POST", "/api/simulate"),
    ]:
        r = call(live, method, path, big, headers={"Content-Type": "application/json"})
        assert r.status == 413, (method, path)
    assert flow.read_bytes() == before


def test_an_oversized_chunked_body_is_refused_with_413(live: Live, big: bytes) -> None:
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=30)
    chunks = (big[i : i + 65536] for i in range(0, len(big), 65536))
    conn.request(
        "POST",
        "/api/render",
        body=chunks,
        headers={"X-Flowsim-Token": TOKEN, "Transfer-Encoding": "chunked"},
        encode_chunked=True,
    )
    assert conn.getresponse().status == 413
    conn.close()


def test_a_body_under_the_limit_is_fine(live: Live, flow: Path) -> None:
    base = call(live, "GET", "/api/source").json()
    text = base["text"] + ("# a long comment line\n" * 60_000)  # about 1.3 MB
    r = call(live, "PUT", "/api/source", {"text": text, "base_version": base["version"]})
    assert r.status == 200
    assert flow.read_text(encoding="utf-8") == text


def test_a_foreign_host_header_is_refused(live: Live) -> None:
    r = call(live, "GET", "/api/source", headers={"Host": "attacker.example:80"})
    assert r.status == 400
    r = call(live, "GET", "/", headers={"Host": "attacker.example"})
    assert r.status == 400
    for host in (f"127.0.0.1:{live.port}", f"localhost:{live.port}", f"[::1]:{live.port}"):
        assert call(live, "GET", "/api/source", headers={"Host": host}).status == 200, host


def test_every_response_carries_a_strict_policy(live: Live) -> None:
    for path, token in [
        ("/static/studio.js", None),
        ("/static/editor.js", None),
        ("/api/source", TOKEN),
        ("/api/source", None),
        ("/nothing", None),
    ]:
        r = call(live, "GET", path, token=token)
        assert r.headers["content-security-policy"] == CSP, path
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["referrer-policy"] == "no-referrer"
    assert "script-src 'self';" in CSP
    assert "unsafe-inline" not in CSP and "unsafe-eval" not in CSP


def test_the_page_allows_the_editors_style_element_by_a_fresh_nonce(live: Live) -> None:
    """CodeMirror puts its styles in one <style> element; only that element's nonce is let in,
    and it is new on every load of the page."""
    nonces = []
    for _ in range(2):
        r = call(live, "GET", "/", token=None)
        m = re.search(rb'<meta name="flowsim-style-nonce" content="([\w-]{24})">', r.body)
        assert m, r.body[:400]
        nonce = m.group(1).decode()
        assert r.headers["content-security-policy"] == page_csp(nonce)
        assert f"style-src 'self' 'nonce-{nonce}';" in r.headers["content-security-policy"]
        assert r.headers["x-content-type-options"] == "nosniff"
        nonces.append(nonce)
    assert nonces[0] != nonces[1]
    assert b"{{style-nonce}}" not in r.body


def test_the_page_has_no_inline_script_or_handlers() -> None:
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b[^>]*>(.*?)</script>", page, flags=re.S)
    assert scripts == ["", ""]
    assert re.findall(r"<script\b[^>]*>", page) == [
        '<script src="/static/editor.js" defer>',
        '<script src="/static/studio.js" defer>',
    ]
    assert not re.search(r"\son[a-z]+\s*=", page)
    assert "<style" not in page and "style=" not in page
    assert "http://" not in page and "https://" not in page  # works offline: nothing remote
    for name in ("studio.js", "editor.js"):
        js = (STATIC / name).read_text(encoding="utf-8")
        # the bundle names the SVG namespace (an identifier, never fetched); nothing else
        urls = set(re.findall(r"https?://[^\"'\s)]*", js))
        assert urls <= {"http://www.w3.org/2000/svg"}, (name, urls)
        assert "eval(" not in js and "new Function" not in js, name
