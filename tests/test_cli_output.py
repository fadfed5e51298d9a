"""``-o`` from the command line, one test per kind of target (flowsim/_output.py).

Every command writes through the same writer: regular files atomically with their mode kept,
devices and named pipes written through, ``-`` to stdout, symbolic links followed; a
directory, a missing folder or no permission is exit 2 with one line, never a traceback.
Devices are made in the test's own directory, never the machine's ``/dev/null``.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
B2B = ROOT / "examples" / "b2b-cn.flow"
LOG = ROOT / "examples" / "history" / "b2b-cn-deals.csv"


def run(*args: str, prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("flowsim", path=str(Path(sys.executable).parent)) or "flowsim"
    return subprocess.run(
        [*prefix, exe, *args], capture_output=True, text=True, encoding="utf-8", check=False
    )


def test_a_new_file_then_a_rewrite_keeps_the_mode(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    assert run("schema", "-o", str(out)).returncode == 0
    out.chmod(0o640)
    r = run("export", str(B2B), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["name"]
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["schema.json"]


def _reader(master: int, got: list[bytes]) -> None:
    chunks = []
    while True:
        try:
            chunk = os.read(master, 1 << 16)
        except OSError:  # EIO: every writer closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    got.append(b"".join(chunks))


def _terminal(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], bytes | None]]]:
    """A pseudo-terminal (a character device anyone may open) and what was written to it."""
    master, slave = os.openpty()
    tty.setraw(slave)  # no newline translation
    got: list[bytes] = []
    thread = threading.Thread(target=_reader, args=(master, got))
    thread.start()

    def received() -> bytes:
        os.close(slave)  # the reader drains what is left, then sees the terminal hang up
        thread.join(timeout=30)
        return got[0]

    yield Path(os.ttyname(slave)), received
    os.close(master)


def _null(tmp_path: Path) -> Iterator[tuple[Path, Callable[[], bytes | None]]]:
    """The issue's case (as root, ``-o /dev/null`` replaced the device) on a null device of
    our own, made with mknod (root only); what went in is gone, the node is what counts."""
    null = tmp_path / "null"
    os.mknod(null, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    yield null, lambda: None


@pytest.fixture(
    params=[_terminal, *([_null] if os.geteuid() == 0 else [])],
    ids=lambda make: str(make.__name__).strip("_"),
)
def device(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[Path, Callable[[], bytes | None]]]:
    yield from request.param(tmp_path)


def test_metrics_to_a_character_device(device: tuple[Path, Callable[[], bytes | None]]) -> None:
    path, received = device
    before = path.stat()
    r = run("metrics", str(LOG), "--format", "json", "-q", "-o", str(path))
    assert r.returncode == 0, r.stderr
    after = path.stat()
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    data = received()  # None: a null device keeps nothing
    assert data is None or json.loads(data)["header"]["deals"] > 0


def test_render_to_a_named_pipe(tmp_path: Path) -> None:
    fifo = tmp_path / "picture"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    r = run("render", str(B2B), "--format", "svg", "-q", "-o", str(fifo))
    reader.join(timeout=30)
    assert r.returncode == 0, r.stderr
    assert b"<svg" in got[0]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dash_is_stdout_for_text_and_for_bytes() -> None:
    assert json.loads(run("schema", "-o", "-").stdout)["title"] == "Process"
    r = run("render", str(B2B), "--format", "svg", "-q", "-o", "-")
    assert r.returncode == 0 and "<svg" in r.stdout


def test_fmt_and_o_follow_a_symbolic_link(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "sales.flow"
    target.write_text("stage a\noutcome won\na->won\n", encoding="utf-8")
    link = tmp_path / "sales.flow"
    link.symlink_to(Path("models") / "sales.flow")
    assert run("fmt", "-q", str(link)).returncode == 0
    assert link.is_symlink() and "a -> won" in target.read_text(encoding="utf-8")
    dangling = tmp_path / "latest.json"
    dangling.symlink_to(tmp_path / "models" / "schema.json")
    assert run("schema", "-o", str(dangling)).returncode == 0
    assert dangling.is_symlink()
    assert json.loads((tmp_path / "models" / "schema.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("where", "reason"),
    [(".", "it is a directory"), ("nowhere/out.json", "does not exist")],
)
def test_a_directory_or_a_missing_folder_is_exit_2(tmp_path: Path, where: str, reason: str) -> None:
    target = tmp_path / where
    r = run("export", str(B2B), "-o", str(target))
    assert r.returncode == 2
    assert r.stderr.startswith(f"flowsim: cannot write {target}: ")
    assert r.stderr.rstrip().endswith(reason)
    assert "Traceback" not in r.stderr


@pytest.fixture
def read_only() -> Iterator[Path]:
    base = Path(tempfile.mkdtemp(prefix="flowsim-cli-output-"))
    base.chmod(0o555)
    yield base
    base.chmod(0o755)
    shutil.rmtree(base)


def test_no_permission_is_exit_2(read_only: Path) -> None:
    # root may write anywhere: run it without the capability that lets it
    unprivileged = (
        ("setpriv", "--bounding-set", "-dac_override,-dac_read_search") if os.geteuid() == 0 else ()
    )
    out = read_only / "schema.json"
    r = run("schema", "-o", str(out), prefix=unprivileged)
    assert (r.returncode, r.stderr) == (2, f"flowsim: cannot write {out}: permission denied\n")
    assert list(read_only.iterdir()) == []


def test_a_report_into_a_file_is_exit_2_before_any_work(tmp_path: Path) -> None:
    taken = tmp_path / "report"
    taken.write_text("not a folder\n", encoding="utf-8")
    r = run("run", str(B2B), "-o", str(taken), "-q")
    assert (r.returncode, r.stderr) == (
        2,
        f"flowsim: cannot write into {taken}: it is not a directory\n",
    )
    assert taken.read_text(encoding="utf-8") == "not a folder\n"
