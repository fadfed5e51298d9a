"""Text from a log file's bytes: the encoding (forced, UTF-8, else GB18030) and the delimiter.

Shared by the CSV reader, the mapping file and joined side tables; a leaf of the history
package (it imports only the problem codes), so every reader can use it without a cycle.
"""

from __future__ import annotations

import codecs
import csv

from flowsim.history import problems as p
from flowsim.history.problems import LogError, problem

__all__ = ["AUTO_ENCODINGS", "DELIMITERS", "decode", "sniff_delimiter"]

DELIMITERS = ",;\t|"
AUTO_ENCODINGS = ("utf-8", "gb18030")


def decode(data: bytes, source: str, encoding: str | None) -> tuple[str, str]:
    """Decode ``data``: the forced ``encoding``, or UTF-8 (with or without BOM), or GB18030."""
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            raise LogError.of(
                p.BAD_ENCODING,
                source,
                "unknown encoding",
                value=encoding,
                hint="e.g. utf-8, utf-8-sig, gbk, gb18030, latin-1",
            ) from None
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError as exc:
            raise LogError(
                [
                    problem(
                        kind=p.BAD_ENCODING,
                        source=source,
                        row=data[: exc.start].count(b"\n") + 1,
                        message=f"the file is not valid {encoding} at byte {exc.start}",
                        hint="try another --encoding, or leave it out to detect UTF-8 or GBK",
                    )
                ]
            ) from None
    if data.startswith(codecs.BOM_UTF8):
        try:
            return data[len(codecs.BOM_UTF8) :].decode("utf-8"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise LogError.of(
                p.BAD_ENCODING, source, f"UTF-8 BOM but invalid UTF-8 at byte {exc.start + 3}"
            ) from None
    for name in AUTO_ENCODINGS:
        try:
            return data.decode(name), name
        except UnicodeDecodeError:
            continue
    raise LogError.of(
        p.BAD_ENCODING,
        source,
        "the file is neither UTF-8 nor GBK/GB18030",
        hint="pass --encoding (e.g. latin-1, cp1252, big5)",
    )


def sniff_delimiter(text: str) -> str:
    """The delimiter of ``text``, from csv.Sniffer on the first KB, else the header line."""
    head = text[:1024]
    try:
        found = csv.Sniffer().sniff(head, delimiters=DELIMITERS).delimiter
    except csv.Error:
        found = ""
    if found in DELIMITERS and found:
        return found
    header = head.splitlines()[0] if head else ""
    counts = {d: header.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","
