"""The studio as a running server: file events, stopping, cancelling runs, the command."""

from __future__ import annotations

import gc
import hashlib
import http.client
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.studio.helpers import TOKEN, Live, Reply, call, live_studio, wait_for

#: about 7 s of simulation in batches of four replications (0.3 s each): cancelling must
#: take effect long before it would end
LONG_RUN = {"scenarios": ["One more rep"], "replications": 50, "days": 200}


class Events:
    """A reader of ``/api/events`` (server-sent events) over a plain HTTP connection."""

    def __init__(self, live: Live) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", live.port, timeout=10)
        self.conn.request("GET", f"/api/events?token={TOKEN}")
        self.response = self.conn.getresponse()
        assert self.response.status == 200
        assert self.response.getheader("content-type", "").startswith("text/event-stream")

    def next(self) -> tuple[str, dict[str, object]]:
        event, data = "", ""
        while True:
            line = self.response.readline().decode()
            if line.startswith("event: "):
                event = line[7:].strip()
            elif line.startswith("data: "):
                data = line[6:].strip()
            elif line == "\n" and event:
                return event, json.loads(data)

    def close(self) -> None:
        self.conn.close()


def test_events_say_hello_then_announce_each_new_version(live: Live, flow: Path) -> None:
    events = Events(live)
    try:
        event, data = events.next()
        assert event == "hello"
        assert data == {"version": hashlib.sha256(flow.read_bytes()).hexdigest(), "exists": True}
        flow.write_text(flow.read_text(encoding="utf-8") + "# changed\n", encoding="utf-8")
        event, data = events.next()
        assert event == "change"
        assert data["version"] == hashlib.sha256(flow.read_bytes()).hexdigest()
        # an editor's save-by-rename is seen too (the watch is on the folder)
        tmp = flow.with_name("sales.flow.new")
        tmp.write_text("# renamed over\n", encoding="utf-8")
        os.replace(tmp, flow)
        event, data = events.next()
        assert data["version"] == hashlib.sha256(b"# renamed over\n").hexdigest()
        flow.unlink()
        event, data = events.next()
        assert data == {"version": None, "exists": False}
    finally:
        events.close()


def test_a_save_through_the_api_is_announced_to_other_pages(live: Live, flow: Path) -> None:
    events = Events(live)
    try:
        assert events.next()[0] == "hello"
        base = call(live, "GET", "/api/source").json()
        saved = call(
            live, "PUT", "/api/source", {"text": "# saved\n", "base_version": base["version"]}
        )
        event, data = events.next()
        assert (event, data["version"]) == ("change", saved.json()["version"])
    finally:
        events.close()


def test_closing_an_event_stream_leaves_no_task_behind(
    live: Live, caplog: pytest.LogCaptureFixture
) -> None:
    """A closed tab ends its stream completely: no pending ``queue.get`` task stays in the
    server's loop, and none is later destroyed pending ("Task was destroyed but it is
    pending!" in the server log)."""
    before = live.pending_tasks()
    for _ in range(3):  # a page that is reloaded a few times
        events = Events(live)
        assert events.next()[0] == "hello"
        wait_for(lambda: live.studio.events.listeners == 1)
        events.close()
        wait_for(lambda: live.studio.events.listeners == 0)
    wait_for(lambda: len(live.pending_tasks()) == len(before))
    gc.collect()  # a task that is only referenced by a dead stream is destroyed here
    time.sleep(0.1)
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not [m for m in logged if "destroyed" in m or "coroutine" in m], logged
    assert not [t for t in live.pending_tasks() if "Queue.get" in t]


def test_stopping_does_not_wait_for_open_event_streams(flow: Path) -> None:
    with live_studio(flow) as live:
        events = Events(live)
        assert events.next()[0] == "hello"
        started = time.monotonic()
    assert time.monotonic() - started < 2.5
    events.close()


def _post_raw(live: Live, body: dict[str, object]) -> socket.socket:
    """Send a simulate request on a raw socket and leave it open (to drop it later)."""
    data = json.dumps(body).encode()
    sock = socket.create_connection(("127.0.0.1", live.port))
    head = (
        f"POST /api/simulate HTTP/1.1\r\nHost: 127.0.0.1:{live.port}\r\n"
        f"X-Flowsim-Token: {TOKEN}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    sock.sendall(head.encode() + data)
    return sock


def test_a_run_stops_when_the_page_drops_the_request(live: Live, flow: Path) -> None:
    runner = live.studio.runner
    sock = _post_raw(live, {"text": flow.read_text(encoding="utf-8"), **LONG_RUN})
    wait_for(lambda: runner.running)
    time.sleep(0.3)
    started = time.monotonic()
    sock.close()  # what fetch's AbortController does
    wait_for(lambda: not runner.running, timeout=10)
    assert time.monotonic() - started < 5  # the whole run takes far longer


def test_a_new_run_cancels_the_one_before(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    first: list[Reply] = []
    thread = threading.Thread(
        target=lambda: first.append(call(live, "POST", "/api/simulate", {"text": text, **LONG_RUN}))
    )
    thread.start()
    wait_for(lambda: live.studio.runner.running)
    second = call(live, "POST", "/api/simulate", {"text": text, "replications": 2, "days": 30})
    thread.join(30)
    assert second.status == 200
    assert first[0].status == 409
    assert first[0].json()["error"] == "the simulation was cancelled"


def test_the_cancel_request_stops_a_run(live: Live, flow: Path) -> None:
    text = flow.read_text(encoding="utf-8")
    replies: list[Reply] = []
    thread = threading.Thread(
        target=lambda: replies.append(
            call(live, "POST", "/api/simulate", {"text": text, **LONG_RUN})
        )
    )
    thread.start()
    wait_for(lambda: live.studio.runner.running)
    assert call(live, "POST", "/api/simulate/cancel", {}).json() == {"cancelled": True}
    thread.join(10)
    assert replies[0].status == 409


def test_a_run_over_the_time_limit_is_504(flow: Path) -> None:
    with live_studio(flow, time_limit=0.05) as live:
        text = flow.read_text(encoding="utf-8")
        r = call(live, "POST", "/api/simulate", {"text": text, **LONG_RUN})
        assert r.status == 504
        assert "fewer days" in r.json()["error"]
        assert not live.studio.runner.running


def _flowsim() -> str:
    return shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"


def test_the_command_prints_a_tokened_url_and_serves_until_interrupted(flow: Path) -> None:
    proc = subprocess.Popen(
        [_flowsim(), "studio", str(flow), "--port", "0", "--no-browser"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        m = re.fullmatch(r"flowsim studio: http://127\.0\.0\.1:(\d+)/\?token=([\w-]{40,})\n", line)
        assert m, line
        port, token = int(m.group(1)), m.group(2)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/api/source", headers={"X-Flowsim-Token": token})
        reply = conn.getresponse()
        assert reply.status == 200
        assert json.loads(reply.read())["text"] == flow.read_text(encoding="utf-8")
        conn.close()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_command_explains_what_stops_it(flow: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from flowsim.cli import main

    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    bad = tmp_path / "gbk.flow"
    bad.write_bytes('stage 初步 "x"\n'.encode("gb18030"))
    missing = tmp_path / "nowhere" / "x.flow"
    try:
        for path, port_arg, needles in [
            (flow, port, [f"cannot listen on 127.0.0.1:{port}", "--port 0"]),
            (bad, 0, ["UTF-8"]),
            (missing, 0, ["folder does not exist"]),
        ]:
            args = ["studio", str(path), "--port", str(port_arg), "--no-browser"]
            r = CliRunner().invoke(main, args)
            assert r.exit_code == 1, r.output
            for needle in needles:
                assert needle in r.stderr
            assert r.exception is None or isinstance(r.exception, SystemExit)
    finally:
        busy.close()
