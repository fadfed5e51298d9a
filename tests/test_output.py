"""The output writer (flowsim/_output.py): what each kind of target gets.

Regular files are replaced atomically and keep their permissions; devices, named pipes and
``-`` are written through; symbolic links are followed. Devices are made under the test's
own directory (a pseudo-terminal for everyone, a ``mknod`` null device when run as root),
never the machine's ``/dev/null``.
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import stat
import sys
import tempfile
import threading
import tty
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from flowsim._output import OutputError, open_output, write_output
from flowsim.errors import FlowsimError


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_new_file_gets_the_umask_default_mode(tmp_path: Path, umask_022: None) -> None:
    path = tmp_path / "metrics.json"
    write_output(path, '{"deals": 6}\n')
    assert path.read_text(encoding="utf-8") == '{"deals": 6}\n'
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


def test_an_existing_file_is_replaced_and_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "sales.flow"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    before = path.stat().st_ino
    write_output(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != before  # a new file renamed over the old one
    assert [p.name for p in tmp_path.iterdir()] == ["sales.flow"]  # no temporary file left


def test_bytes_are_written_as_they_are(tmp_path: Path) -> None:
    path = tmp_path / "chart.png"
    write_output(path, b"\x89PNG\r\n\x1a\n")
    assert path.read_bytes() == b"\x89PNG\r\n\x1a\n"


def test_a_failing_writer_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    path.write_bytes(b"old")

    def half_then_fail() -> None:
        with open_output(path) as out:
            out.write(b"half of")
            raise RuntimeError("the writer failed")

    with pytest.raises(RuntimeError, match="the writer failed"):
        half_then_fail()
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["log.parquet"]


def _pty_device(tmp_path: Path) -> tuple[Path, Callable[[], bytes]]:
    """A pseudo-terminal: a character device anyone may open; what is written is read back."""
    master, slave = os.openpty()
    tty.setraw(slave)  # no newline translation
    path = Path(os.ttyname(slave))

    def read() -> bytes:
        data = os.read(master, 1 << 16)
        os.close(slave)
        os.close(master)
        return data

    return path, read


def _null_device(tmp_path: Path) -> tuple[Path, Callable[[], bytes]]:
    """A null device of our own (major 1, minor 3), made with mknod: needs root."""
    path = tmp_path / "null"
    os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    return path, lambda: b"12345"  # what went in is gone; the node is what is checked


DEVICES = [_pty_device] + ([_null_device] if os.geteuid() == 0 else [])


@pytest.mark.parametrize("make", DEVICES, ids=lambda f: f.__name__.strip("_"))
def test_a_character_device_is_written_through_not_replaced(
    tmp_path: Path, make: Callable[[Path], tuple[Path, Callable[[], bytes]]]
) -> None:
    path, read = make(tmp_path)
    before = path.stat()
    write_output(path, b"12345")
    after = path.stat()
    assert stat.S_ISCHR(after.st_mode)
    assert (after.st_ino, after.st_rdev) == (before.st_ino, before.st_rdev)
    assert read() == b"12345"
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_a_block_device_is_never_replaced(tmp_path: Path) -> None:
    if os.geteuid() != 0:  # only root makes device nodes; a missing one is an error as well
        with pytest.raises(OutputError, match="does not exist"):
            write_output(tmp_path / "none" / "sdz", b"x")
        return
    path = tmp_path / "disk"
    # major 240 is reserved for local/experimental use: no driver answers, opening fails
    os.mknod(path, 0o600 | stat.S_IFBLK, os.makedev(240, 0))
    with pytest.raises(OutputError, match=r"cannot write .*disk: no such device"):
        write_output(path, b"x")
    assert stat.S_ISBLK(path.stat().st_mode)


def test_a_named_pipe_is_written_through_to_its_reader(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_output(fifo, "through the pipe\n")
    reader.join(timeout=10)
    assert got == [b"through the pipe\n"]
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_dash_is_standard_output_for_text_and_bytes(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    write_output("-", "text, ")
    write_output("-", b"bytes\n")
    assert capsysbinary.readouterr().out == b"text, bytes\n"


def test_dash_without_a_byte_stream_takes_text_only(monkeypatch: pytest.MonkeyPatch) -> None:
    text = io.StringIO()  # like a notebook's output stream: no .buffer
    monkeypatch.setattr(sys, "stdout", text)
    write_output("-", "text\n")
    with pytest.raises(OutputError, match=r"^cannot write -: standard output takes text only"):
        write_output("-", b"\x89PNG")
    assert text.getvalue() == "text\n"


def test_a_symlink_writes_its_target_and_stays_a_link(tmp_path: Path) -> None:
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "sales.flow"
    target.write_text("old\n", encoding="utf-8")
    target.chmod(0o600)
    link = tmp_path / "current.flow"
    link.symlink_to(Path("models") / "sales.flow")  # relative, as people make them
    write_output(link, "new\n")
    assert link.is_symlink() and os.readlink(link) == os.path.join("models", "sales.flow")
    assert target.read_text(encoding="utf-8") == "new\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_dangling_symlink_creates_its_target(tmp_path: Path) -> None:
    link = tmp_path / "latest.json"
    link.symlink_to(tmp_path / "run-1.json")
    write_output(link, "{}\n")
    assert link.is_symlink()
    assert (tmp_path / "run-1.json").read_text(encoding="utf-8") == "{}\n"


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"cannot write .*: it is a directory$") as caught:
        write_output(tmp_path, "x")
    # one of flowsim's errors, and an OSError as a failed write always was
    assert isinstance(caught.value, FlowsimError) and isinstance(caught.value, OSError)
    assert (caught.value.path, caught.value.reason) == (str(tmp_path), "it is a directory")


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match=r"the directory .*nowhere does not exist$"):
        write_output(tmp_path / "nowhere" / "out.json", "x")
    assert list(tmp_path.iterdir()) == []


def _as_unprivileged(action: Callable[[], None]) -> str:
    """Run ``action`` without root's override of permissions; its OutputError message."""
    if os.geteuid() != 0:
        try:
            action()
        except OutputError as err:
            return str(err)
        return ""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: become nobody, report the message, exit
        os.close(read)
        message = b""
        try:
            nobody = pwd.getpwnam("nobody")
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            action()
        except OutputError as err:
            message = str(err).encode()
        except BaseException as err:  # pragma: no cover - shows in the assertion
            message = repr(err).encode()
        os.write(write, message)
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        message = f.read().decode()
    os.waitpid(pid, 0)
    return message


@pytest.fixture
def shared() -> Iterator[Path]:
    """A read-only directory anyone may enter, holding a read-only ``locked.json``.

    It is outside pytest's private (0o700) temporary tree, so an unprivileged process can
    reach it.
    """
    base = Path(tempfile.mkdtemp(prefix="flowsim-output-"))
    (base / "locked.json").write_text("keep\n", encoding="utf-8")
    (base / "locked.json").chmod(0o444)
    base.chmod(0o555)
    yield base
    base.chmod(0o755)
    shutil.rmtree(base)


def test_no_permission_is_a_clear_error(shared: Path) -> None:
    locked = shared / "locked.json"
    assert _as_unprivileged(lambda: write_output(shared / "new.json", "x")) == (
        f"cannot write {shared / 'new.json'}: permission denied"
    )
    assert _as_unprivileged(lambda: write_output(locked, "x")) == (
        f"cannot write {locked}: permission denied"
    )
    assert locked.read_text(encoding="utf-8") == "keep\n"
    assert sorted(p.name for p in shared.iterdir()) == ["locked.json"]
