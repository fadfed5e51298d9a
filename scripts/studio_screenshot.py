"""Take the README's screenshot of `flowsim studio` (docs/img/studio.png).

Usage: .venv/bin/python scripts/studio_screenshot.py

Serves a copy of examples/saas-en.flow, opens it in headless Chromium (the system's), runs the
what-if panel with every scenario, colours the flowchart by simulated queue time and saves
the window. The picture depends on fonts and timing text, so no test compares it.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

from flowsim.studio import create_app
from flowsim.studio.server import LOOPBACK, bind, make_server, new_token

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "img" / "studio.png"


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("Chromium is missing: scripts/system-deps.sh installs it", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        flow = Path(tmp) / "saas-en.flow"
        shutil.copyfile(ROOT / "examples" / "saas-en.flow", flow)
        token = new_token()
        sock = bind("127.0.0.1", 0)
        server = make_server(create_app(flow, token, hosts=LOOPBACK))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.02)
        url = f"http://127.0.0.1:{sock.getsockname()[1]}/?token={token}"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
                page = browser.new_page(viewport={"width": 1440, "height": 900})
                page.goto(url)
                page.wait_for_selector("#image[data-renders='1']")
                page.click("#run")
                page.wait_for_selector("#results table", timeout=120_000)
                page.select_option("#color-by", "queue")
                page.wait_for_selector("#image[data-renders='2']")
                page.evaluate("document.querySelector('#source').scrollTop = 440")
                page.wait_for_timeout(300)
                page.screenshot(path=str(OUT))
                browser.close()
        finally:
            server.should_exit = True
            thread.join(10)
    print(OUT.relative_to(ROOT))
    return 0


if __name__ == "__main__":
    sys.exit(main())
