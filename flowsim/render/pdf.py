"""Deterministic PDF bytes: cairo writes the wall-clock time into every PDF it makes."""

from __future__ import annotations

import re

__all__ = ["pin_dates"]

_PDF_DATE = re.compile(rb"/(CreationDate|ModDate) *\(D:(\d{14})")


def pin_dates(pdf: bytes) -> bytes:
    """Replace cairo's creation/modification dates with a fixed one of the same length.

    Equal length keeps every byte offset in the cross-reference table valid, so the same
    picture gives the same PDF bytes (cairo 1.16 ignores SOURCE_DATE_EPOCH).
    """
    return _PDF_DATE.sub(lambda m: b"/" + m.group(1) + b" (D:20000101000000", pdf)
