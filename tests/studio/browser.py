"""Headless Chromium on a live studio: the browser, a page per test, and polling helpers.

Shared by the studio's browser tests (``test_studio_e2e.py``, ``test_studio_surface.py``);
``conftest.py`` makes ``browser`` and ``session`` fixtures of the folder.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Response, sync_playwright

from tests.studio.helpers import Live, live_studio

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def wait_js(page: Page, expression: str, timeout: float = 20.0) -> None:
    """Poll a JavaScript expression until it is truthy.

    ``page.wait_for_function`` evaluates its predicate with ``eval`` inside the page, which
    the studio's Content-Security-Policy forbids (as it should); ``page.evaluate`` goes
    through the debugger protocol instead.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(30)


#: the editor's CodeMirror view, through the bundle's own API (static/editor.js)
VIEW = "FlowEditor.viewOf(document.querySelector('#editor .cm-editor'))"


def editor_text(page: Page) -> str:
    """The whole text in the editor (its DOM holds only the lines on screen)."""
    text: str = page.evaluate(f"{VIEW}.state.doc.toString()")
    return text


#: the system's Chromium (Debian's package, installed by `make test`)
CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser"))), None)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    assert CHROMIUM, "Chromium is missing: `make test` installs it (scripts/system-deps.sh)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@dataclass
class Session:
    """A page on a live studio, with what the page said and asked for on the way."""

    page: Page
    live: Live
    flow: Path
    errors: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    renders: list[dict[str, Any]] = field(default_factory=list)
    render_requests: list[dict[str, Any]] = field(default_factory=list)

    def text(self) -> str:
        return editor_text(self.page)

    def renders_done(self) -> int:
        return int(self.page.get_attribute("#image", "data-renders") or 0)

    def wait_render(self, after: int) -> None:
        """Wait for the page to show a new picture and for every render answer to arrive here."""
        wait_js(self.page, f"Number(document.querySelector('#image').dataset.renders) > {after}")
        self._catch_up()

    def _catch_up(self) -> None:
        """Let the answers of the render requests sent so far reach the recorded list."""
        deadline = time.monotonic() + 20
        while len(self.renders) < len(self.render_requests) and time.monotonic() < deadline:
            self.page.wait_for_timeout(20)

    def wait_idle(self) -> None:
        """Wait until the page shows the render of the text as it is now."""
        wait_js(self.page, "document.querySelector('#picture').dataset.state === 'ready'")
        self._catch_up()

    def caret_line_col(self) -> tuple[int, int]:
        offset = self.page.evaluate(f"{VIEW}.state.selection.main.head")
        before = self.text()[:offset]
        return before.count("\n") + 1, len(before) - (before.rfind("\n") + 1) + 1

    def select(self, start: int, end: int) -> None:
        """Focus the editor and select ``[start, end)`` (UTF-16 offsets, as in JavaScript)."""
        self.page.focus("#editor .cm-content")
        self.page.evaluate(f"{VIEW}.dispatch({{selection: {{anchor: {start}, head: {end}}}}})")

    def put_caret(self, offset: int) -> None:
        self.select(offset, offset)

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"studio-{name}.png"))


@pytest.fixture
def session(browser: Browser, flow: Path) -> Iterator[Session]:
    with live_studio(flow) as live:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        s = Session(page, live, flow)
        page.on("console", lambda m: s.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: s.errors.append(str(e)))

        def dialog(d: Any) -> None:
            s.dialogs.append(d.message)
            d.dismiss()

        def request(r: Any) -> None:
            # recorded when sent, so the last one is always the page's latest render request
            if r.url.endswith("/api/render"):
                s.render_requests.append(json.loads(r.post_data or "{}"))

        def response(r: Response) -> None:
            if r.url.endswith("/api/render"):
                s.renders.append(r.json() if r.status == 200 else {})

        page.on("dialog", dialog)
        page.on("request", request)
        page.on("response", response)
        page.goto(live.url)
        page.wait_for_selector("#image[data-renders='1']")
        yield s
        context.close()
    assert s.dialogs == []
    assert s.errors == [], s.errors
