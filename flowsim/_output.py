"""The one way flowsim writes a file it was asked to write (``-o``, reports, the studio).

What is at the target decides how it is written:

- a regular file, or nothing yet: **atomically** — the bytes go to a temporary file in the
  same directory, are flushed to disk (``fsync``) and renamed over the target, so a crash or
  a full disk leaves the old file or the new one, never half of one. An existing file keeps
  its permission bits (and, when the writer may set them, its owner and group); a new file
  gets the default mode of the process's umask, as ``open`` would give it.
- a character or block device, a named pipe (FIFO): **written through**, never replaced
  (``-o /dev/null`` discards the output; a pipe's reader receives it).
- ``-``: standard output, text or bytes.
- a symbolic link: followed to its target, which is written as above; the link stays a
  link. A dangling link creates its target.

A directory, a missing parent directory or a permission problem raises :class:`OutputError`
with the path and the reason, and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from flowsim.errors import FlowsimError

__all__ = ["OutputError", "make_directory", "open_output", "write_output"]

#: A target of :func:`write_output`: a path, or ``"-"`` for standard output.
Target = str | os.PathLike[str]


class OutputError(FlowsimError, OSError):
    """A requested output cannot be written: ``cannot <action> <path>: <reason>``.

    A :class:`~flowsim.errors.FlowsimError`, and an ``OSError`` as the failed write was.

    Parameters
    ----------
    path
        The path as the user gave it.
    reason
        Why, in a few lower-case words (``permission denied``, ``it is a directory``).
    action
        What was attempted (``write``, ``make the directory``).

    Examples
    --------
    >>> import tempfile
    >>> try:
    ...     write_output(tempfile.gettempdir(), "text")
    ... except OutputError as err:
    ...     print(str(err).endswith("is a directory"))
    True
    """

    def __init__(self, path: str, reason: str, action: str = "write") -> None:
        super().__init__(f"cannot {action} {path}: {reason}")
        self.path = path
        self.reason = reason


def write_output(target: Target, data: str | bytes) -> None:
    """Write ``data`` (text is encoded as UTF-8) to ``target`` by the rules of this module.

    Parameters
    ----------
    target
        A path (a regular file, a device, a named pipe, a symbolic link to one) or ``"-"``
        for standard output.
    data
        The whole content: ``str`` is written as UTF-8, ``bytes`` as they are.

    Raises
    ------
    OutputError
        The target is a directory, its directory does not exist, or it cannot be written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "out.json"
    >>> write_output(path, '{"won": 3}\\n')
    >>> path.read_text(encoding="utf-8")
    '{"won": 3}\\n'
    >>> write_output("-", "to stdout\\n")
    to stdout
    """
    if os.fspath(target) == "-" and isinstance(data, str):
        sys.stdout.write(data)
        sys.stdout.flush()
        return
    with open_output(target) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)


@contextlib.contextmanager
def open_output(target: Target) -> Iterator[BinaryIO]:
    """A binary file object for ``target``, committed when the ``with`` block ends well.

    For a regular file the object is a temporary file beside the target, renamed over it at
    the end; when the block raises, the temporary file is removed and the target is left as
    it was. Use it for writers that take a file object (``DataFrame.write_parquet``).

    Parameters
    ----------
    target
        As for :func:`write_output`.

    Yields
    ------
    BinaryIO
        Where to write the bytes; do not close it.

    Raises
    ------
    OutputError
        As for :func:`write_output`.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "log.csv"
    >>> with open_output(path) as f:
    ...     _ = f.write(b"deal,stage\\n")
    >>> path.read_bytes()
    b'deal,stage\\n'
    """
    if os.fspath(target) == "-":
        stdout: BinaryIO | None = getattr(sys.stdout, "buffer", None)
        if stdout is None:  # a notebook's output stream, for one
            raise OutputError("-", "standard output takes text only here")
        sys.stdout.flush()  # text written before comes first
        yield stdout
        stdout.flush()
        return
    shown = os.fspath(target)
    path = Path(os.path.realpath(target))  # through symbolic links, dangling ones included
    existing = _stat(path, shown)
    if existing is not None and not stat.S_ISREG(existing.st_mode):
        with _through(path, shown) as out:
            yield out
        return
    with _atomic(path, shown, existing) as out:
        yield out


def make_directory(target: Target) -> Path:
    """The directory ``target``, made with its parents when missing (a report's folder).

    Parameters
    ----------
    target
        A path that is a directory, a symbolic link to one, or nothing yet.

    Returns
    -------
    Path
        ``target`` as a path.

    Raises
    ------
    OutputError
        Something else is there (a file), or it cannot be made.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> make_directory(Path(tempfile.mkdtemp()) / "report" / "en").is_dir()
    True
    """
    path = Path(target)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OutputError(os.fspath(target), "it is not a directory", "write into") from None
    except OSError as err:
        raise OutputError(os.fspath(target), _reason(err), "make the directory") from None
    return path


def _stat(path: Path, shown: str) -> os.stat_result | None:
    """The target's status (None: nothing there yet, in an existing directory)."""
    try:
        st = path.stat()
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise OutputError(shown, f"the directory {path.parent} does not exist") from None
        return None
    except OSError as err:
        raise OutputError(shown, _reason(err)) from None
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(shown, "it is a directory")
    return st


@contextlib.contextmanager
def _through(path: Path, shown: str) -> Iterator[BinaryIO]:
    """Open a device or a named pipe and write into it (no temporary file, no rename)."""
    try:
        out = path.open("wb")
    except OSError as err:
        raise OutputError(shown, _reason(err)) from None
    with out:
        yield out


@contextlib.contextmanager
def _atomic(path: Path, shown: str, existing: os.stat_result | None) -> Iterator[BinaryIO]:
    """Write a temporary file beside ``path``, fsync it, keep the mode, rename it over."""
    fd, tmp = _temporary(path, shown, existing)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException as err:
        tmp.unlink(missing_ok=True)
        if isinstance(err, OSError) and not isinstance(err, OutputError):
            raise OutputError(shown, _reason(err)) from None
        raise
    _sync_directory(path.parent)


def _temporary(path: Path, shown: str, existing: os.stat_result | None) -> tuple[int, Path]:
    """A new file beside ``path`` with the mode the target has (or a new file would get)."""
    # 0o666 through the umask is exactly what a new file would get; the bits of an existing
    # target are set explicitly (fchmod ignores the umask).
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        try:
            fd = os.open(tmp, flags, 0o600 if existing is not None else 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            raise OutputError(shown, _reason(err)) from None
        if existing is not None:
            _keep_mode(fd, existing)
        return fd, tmp
    raise OutputError(shown, f"no free temporary name in {path.parent}")


def _keep_mode(fd: int, existing: os.stat_result) -> None:
    """Give the temporary file the target's permission bits, and its owner when allowed."""
    if existing.st_uid != os.geteuid() or existing.st_gid != os.getegid():
        with contextlib.suppress(OSError):  # only root may give a file away
            os.fchown(fd, existing.st_uid, existing.st_gid)
    os.fchmod(fd, stat.S_IMODE(existing.st_mode))


def _sync_directory(directory: Path) -> None:
    """Make the rename durable; some file systems cannot, which only costs durability."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _reason(err: OSError) -> str:
    if isinstance(err, PermissionError):
        return "permission denied"
    return (err.strerror or str(err)).lower()
