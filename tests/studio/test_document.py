"""The studio's document saves through flowsim's one output writer (flowsim/_output.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from flowsim.studio.document import Document, DocumentError


def test_a_save_keeps_the_link_and_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "models" / "sales.flow"
    target.parent.mkdir()
    target.write_text("stage a\r\n", encoding="utf-8")
    target.chmod(0o640)
    link = tmp_path / "sales.flow"
    link.symlink_to(target)
    doc = Document(link)
    doc.save("stage b\n", doc.read().version)
    assert link.is_symlink() and os.readlink(link) == str(target)
    assert target.read_bytes() == b"stage b\r\n"  # the file's CRLF kept
    assert stat.S_IMODE(target.stat().st_mode) == 0o640


def test_a_save_that_cannot_be_written_is_a_document_error(tmp_path: Path) -> None:
    folder = tmp_path / "gone"
    folder.mkdir()
    doc = Document(folder / "sales.flow")
    folder.rmdir()  # the folder went away while the studio was open
    with pytest.raises(
        DocumentError, match=r"^cannot save sales\.flow: the directory .*gone does not exist$"
    ):
        doc.save("stage a\n", None)
