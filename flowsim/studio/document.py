"""The one file the studio edits: read it with a version, save it atomically, never blindly.

The version is the SHA-256 of the file's bytes on disk. A client saves with the version it
loaded; when the file has changed since (another editor, a ``git checkout``), the save is
refused with :class:`Conflict`, so the user decides instead of one side's work vanishing.
Saves go through flowsim's one output writer (:func:`flowsim._output.write_output`): a
temporary file in the same directory, flushed to disk and renamed over the original, so a
crash or a full disk leaves either the old or the new file, never half of one; the file keeps
its permissions, and a symbolic link stays a link to the file it names. Line endings and a
UTF-8 BOM are kept as the file had them: the browser's textarea speaks ``\\n`` only, and a
save should not rewrite every line of a CRLF file.
"""

from __future__ import annotations

import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from flowsim._output import OutputError, write_output
from flowsim.dsl.builder import decode_source
from flowsim.errors import FlowsimError

__all__ = ["Conflict", "Document", "DocumentError", "Snapshot", "version_of"]

_BOM = b"\xef\xbb\xbf"


def version_of(data: bytes | None) -> str | None:
    """The version of a file's bytes (``None``: the file does not exist)."""
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class Snapshot:
    """The file as it is on disk now: its text (``\\n`` line endings) and version."""

    text: str
    version: str | None

    @property
    def exists(self) -> bool:
        return self.version is not None


class DocumentError(FlowsimError):
    """The file cannot be read or written (permissions, not UTF-8, a directory...)."""


class Conflict(FlowsimError):
    """The file changed on disk since the client loaded it; ``current`` is what is there now."""

    def __init__(self, current: Snapshot) -> None:
        super().__init__("the file changed on disk since it was loaded")
        self.current = current


class Document:
    """The opened ``.flow`` file. Thread-safe: one save at a time, check and write together."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        # Resolved once, so the watcher sees the real path of a symlinked file (the writer
        # follows links too: a save writes the target and the link stays a link).
        self.path = Path(path).resolve()
        self.name = os.path.basename(os.fspath(path))
        self._lock = threading.Lock()

    def _raw(self) -> bytes | None:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            raise DocumentError(f"cannot read {self.name}: {err.strerror or err}") from err

    def current_version(self) -> str | None:
        """The version on disk now, without decoding (what the file watcher compares)."""
        return version_of(self._raw())

    def read(self) -> Snapshot:
        """The file now; a missing file is empty text with version ``None`` (saved on demand)."""
        with self._lock:
            return self._read()

    def _read(self) -> Snapshot:
        data = self._raw()
        if data is None:
            return Snapshot("", None)
        text, problem = decode_source(data, self.name)
        if text is None:
            assert problem is not None
            raise DocumentError(f"{self.name}: {problem.message}; {problem.hint}")
        return Snapshot(text.replace("\r\n", "\n"), version_of(data))

    def save(self, text: str, base_version: str | None) -> str:
        """Write ``text`` if the file is still at ``base_version``; the new version.

        Raises :class:`Conflict` when the file changed on disk since ``base_version``.
        """
        with self._lock:
            data = self._raw()
            if version_of(data) != base_version:
                raise Conflict(self._read())
            # the line endings and BOM the file has now, so a save changes only what was edited
            newline = "\r\n" if data is not None and b"\r\n" in data else "\n"
            body = text.replace("\r\n", "\n").replace("\n", newline).encode("utf-8")
            if data is not None and data.startswith(_BOM):
                body = _BOM + body
            self._write(body)
            return version_of(body) or ""

    def _write(self, body: bytes) -> None:
        try:
            write_output(self.path, body)
        except OutputError as err:
            raise DocumentError(f"cannot save {self.name}: {err.reason}") from err
