"""What an XES file says, before lifecycle pairing: one row per event, one per trace.

Two scanners produce the same :class:`Scan`: the vectorised one (:mod:`xes_fast`), which
reads well-formed UTF-8 XES laid out as XES writers lay it out, and the expat one here,
which reads any XML and words the error when the file is not XML. ``read_xes`` tries the
fast one and falls back to expat whenever the fast one cannot vouch for a file, so results
never depend on which one ran (``tests/history/test_xes_scan.py`` holds them equal).

Which XML elements count (both scanners):

- a *trace* is a ``<trace>`` element outside any other trace (in XES: a child of the root
  ``<log>``); an *event* a ``<event>`` child of a trace (an event elsewhere is counted and
  reported, not read); the event's (trace's) attributes are its direct child elements, read as
  ``key`` → ``value`` (the element's type, ``string``/``date``/..., does not matter; an
  element without ``value``, such as a ``<list>``, gives an empty value); nested attributes
  (XES meta-attributes, list items) are not the event's;
- a key given twice on one event or trace: the later one wins;
- the amount is the first of the amount keys that the event has (else the trace's);
- every attribute of a trace is also kept as (trace, key, value) (``Scan.trace_attributes``),
  the case attributes a deal can be selected or grouped by.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import IO
from xml.parsers.expat import ParserCreate

import polars as pl

#: the event columns of a :class:`Scan`, all text but the numbers
EVENT_SCHEMA: dict[str, pl.DataType] = {
    "event": pl.Int64(),
    "trace": pl.Int64(),
    "stage": pl.String(),
    "timestamp": pl.String(),
    "owner": pl.String(),
    "lifecycle": pl.String(),
    "amount": pl.String(),
}
TRACE_SCHEMA: dict[str, pl.DataType] = {
    "trace": pl.Int64(),
    "deal": pl.String(),
    "amount": pl.String(),
}
#: every attribute of every trace (the case attributes: ``--where``/``--by`` read them)
TRACE_ATTRIBUTE_SCHEMA: dict[str, pl.DataType] = {
    "trace": pl.Int64(),
    "key": pl.String(),
    "value": pl.String(),
}


def tidy_trace_attributes(frame: pl.DataFrame) -> pl.DataFrame:
    """(trace, key, value) rows in document order as both scanners give them: keyless
    elements out, a missing value empty, the last value of a repeated key, sorted by
    (trace, key)."""
    return (
        frame.filter(pl.col("key").is_not_null())
        .with_columns(pl.col("value").fill_null(""))
        .unique(subset=["trace", "key"], keep="last", maintain_order=True)
        .sort("trace", "key")
        .select(*(pl.col(c).cast(t) for c, t in TRACE_ATTRIBUTE_SCHEMA.items()))
    )


@dataclass(frozen=True)
class Keys:
    """The attribute keys that carry each field."""

    deal: str  # a trace attribute
    stage: str
    timestamp: str
    owner: str
    lifecycle: str
    amount: tuple[str, ...]  # first present wins, on the event, else on the trace


@dataclass
class Scan:
    """Events (1-based ``event`` in document order; ``trace`` null outside any trace)."""

    events: pl.DataFrame
    traces: pl.DataFrame
    trace_attributes: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema=TRACE_ATTRIBUTE_SCHEMA)
    )


def is_named(name: str, local: str) -> bool:
    """``name`` is ``local`` with or without a namespace prefix."""
    return name == local or name.endswith(":" + local)


class _Expat:
    """expat callbacks collecting events and traces as plain lists, then two frames.

    Depth counting keeps nested attributes out: ``depth`` is the nesting inside an
    attribute element of an event or trace being read.
    """

    def __init__(self, keys: Keys) -> None:
        self.keys = keys
        self.depth = 0
        self.level = 0  # element nesting: 1 = the root
        self.in_event = False
        self.trace_no: int | None = None
        self.trace_level = 0
        self.traces = 0
        self.attrs: dict[str | None, str | None] = {}
        self.trace_attrs: dict[str | None, str | None] = {}
        self.events: list[tuple[object, ...]] = []
        self.trace_rows: list[tuple[object, ...]] = []
        self.trace_attr_rows: list[tuple[object, ...]] = []
        self.parser = ParserCreate()
        self.parser.buffer_text = False
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end

    def start(self, name: str, attrs: dict[str, str]) -> None:
        self.level += 1
        if self.depth:
            self.depth += 1
        elif self.in_event:
            self.attrs[attrs.get("key")] = attrs.get("value")
            self.depth = 1
        elif self.trace_no is not None:  # a direct child of the trace
            if is_named(name, "event"):
                self.in_event = True
                self.attrs = {}
            else:
                self.trace_attrs[attrs.get("key")] = attrs.get("value")
                self.depth = 1
        elif is_named(name, "trace"):
            self.traces += 1
            self.trace_no = self.traces
            self.trace_level = self.level
            self.trace_attrs = {}
        elif is_named(name, "event"):  # an event outside any trace: counted, then skipped
            self.in_event = True
            self.attrs = {}

    def end(self, name: str) -> None:
        self.level -= 1
        if self.depth:
            self.depth -= 1
        elif self.in_event:
            self.in_event = False
            a, k = self.attrs, self.keys
            amount = next((a[key] for key in k.amount if key in a), None)
            self.events.append(
                (
                    len(self.events) + 1,
                    self.trace_no,
                    a.get(k.stage),
                    a.get(k.timestamp),
                    a.get(k.owner),
                    a.get(k.lifecycle),
                    amount,
                )
            )
        elif self.trace_no is not None and self.level < self.trace_level:
            t = self.trace_attrs
            amount = next((t[key] for key in self.keys.amount if key in t), None)
            self.trace_rows.append((self.trace_no, t.get(self.keys.deal), amount))
            self.trace_attr_rows += [(self.trace_no, key, value) for key, value in t.items()]
            self.trace_no = None

    def scan(self) -> Scan:
        return Scan(
            events=pl.DataFrame(self.events, schema=EVENT_SCHEMA, orient="row"),
            traces=pl.DataFrame(self.trace_rows, schema=TRACE_SCHEMA, orient="row"),
            trace_attributes=tidy_trace_attributes(
                pl.DataFrame(self.trace_attr_rows, schema=TRACE_ATTRIBUTE_SCHEMA, orient="row")
            ),
        )


def scan_expat(stream: IO[bytes], keys: Keys) -> Scan:
    """Scan any XML stream (raises ``ExpatError`` where the XML is broken)."""
    reader = _Expat(keys)
    reader.parser.ParseFile(stream)
    return reader.scan()
