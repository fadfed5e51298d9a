"""The vectorised XES scanner: the file's tags as rows of a polars frame, not callbacks.

Why: expat hands every element to Python (``StartElementHandler`` and
``EndElementHandler``), and building those Python objects is most of the cost: BPIC 2012
(74 MB of XML, 1.36 million elements) took 3.1 s to scan that way, of which 1.0 s was
expat's own parsing. Here the text is split at every ``<`` and each piece classified with
string operations and a few anchored regexes, all inside polars; the nesting level of every
tag is a cumulative sum, and traces, events and their attributes are masks over those
levels. The same file takes well under half the time (see bench/README.md, "XES").

The scanner only *vouches* for what it checks. It reads UTF-8 (or ASCII) XML whose tags are
plain start, end and empty-element tags, comments and processing instructions, attribute
values with the five predefined entities, ``<trace>`` children of the root and ``<event>``
children of traces. Anything else — another encoding, a DOCTYPE, CDATA, a character
reference, a control character, text between tags, a tag it cannot read, mismatched or
unclosed tags — returns ``None`` and ``read_xes`` reads the file with expat instead, which
either reads it the same way or words the XML error with its line. So the fast path is
never the one that accepts a broken file.

The file is read in blocks of :data:`CHUNK` bytes cut after a ``</trace>``; the open
element stack and the running event/trace counts carry from block to block, so memory
stays proportional to a block, not to the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import IO

import numpy as np
import polars as pl
import pyarrow as pa

from flowsim.history.xes_scan import (
    EVENT_SCHEMA,
    TRACE_SCHEMA,
    Keys,
    Scan,
    is_named,
    tidy_trace_attributes,
)

CHUNK = 16 << 20
_WS = " \t\r\n"
_NAME = r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
_TRACE_END = re.compile(rb"</(?:[A-Za-z_][\w.\-]*:)?trace[ \t\r\n]*>")
#: what the fast path does not read: character references and '&' not starting one of
#: the predefined entities; control characters; CDATA; DOCTYPE (entity declarations)
_AMPERSAND = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos);)")
_DECLARATION = re.compile(rb"<\?xml[ \t\r\n][^>]*>")
_ENCODING = re.compile(rb"""encoding[ \t\r\n]*=[ \t\r\n]*["']([A-Za-z0-9._\-]+)["']""")
_UTF8 = {b"utf-8", b"utf8", b"us-ascii", b"ascii"}
#: any start, end or empty-element tag (the general case; most tags never need it)
_TAG = (
    r"(?s)^<(/?)("
    + _NAME
    + r")((?:[ \t\r\n]+"
    + _NAME
    + r"""[ \t\r\n]*=[ \t\r\n]*(?:"[^"]*"|'[^']*'))*)[ \t\r\n]*(/?)>$"""
)
_OPEN, _EMPTY, _CLOSE, _OTHER = 1, 2, 3, 0
_ENTITIES = (["&lt;", "&gt;", "&quot;", "&apos;", "&amp;"], ["<", ">", '"', "'", "&"])


@dataclass
class _State:
    """What carries from one block to the next."""

    stack: list[str] = field(default_factory=list)  # names of the open elements, root first
    events: int = 0
    traces: int = 0
    roots: int = 0
    in_trace: bool = False  # the open level-2 element is a trace
    in_event: bool = False  # the open level-3 element is an event
    first: bool = True


def scan_fast(stream: IO[bytes], keys: Keys) -> Scan | None:
    """Scan a whole XES stream, or None when the file needs expat (see the module doc)."""
    state = _State()
    parts: list[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]] = []
    carry = b""
    while True:
        block = stream.read(CHUNK)
        buf = carry + block
        carry = b""
        if block:
            cut = _after_last_trace(buf)
            if cut is None:  # a trace longer than the block: read on
                carry = buf
                continue
            buf, carry = buf[:cut], buf[cut:]
        if buf:
            part = _block(buf, state, keys)
            if part is None:
                return None
            parts.append(part)
        if not block:
            break
    if state.stack or state.roots != 1:
        return None  # unclosed elements or no root: expat says where
    return _assemble(parts, keys)


def _after_last_trace(buf: bytes) -> int | None:
    """Index just after the last ``</trace>`` (None when there is none)."""
    for start in (max(0, len(buf) - (1 << 20)), 0):
        ends = [m.end() for m in _TRACE_END.finditer(buf, start)]
        if ends:
            return ends[-1]
    return None


def _block(
    buf: bytes, state: _State, keys: Keys
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame] | None:
    """One block's events, event attributes, traces and trace attributes (None: not vouched)."""
    first = state.first
    state.first = False
    if first and buf.startswith(b"\xef\xbb\xbf"):
        buf = buf[3:]
    declared = _DECLARATION.match(buf) if first else None
    if declared:
        enc = _ENCODING.search(declared.group())
        if enc and enc.group(1).lower() not in _UTF8:
            return None
    tokens = _tokens(buf)
    if tokens is None or (b"&" in buf and _AMPERSAND.search(buf)):
        return None
    tags = _classify(tokens)
    if tags is None:
        return None
    if len(tags.declarations) and not (first and declared and tags.declarations.tolist() == [0]):
        return None  # an XML declaration anywhere but at the very start
    level = _levels(tags, state)
    if level is None:
        return None
    return _content(tags, level, state, keys)


def _tokens(buf: bytes) -> pl.Series | None:
    """The block cut before every ``<``: one string per tag and the white space after it.

    The cuts are found with numpy and the pieces are an Arrow string array over ``buf``
    itself (offsets only, no copy); Arrow checks the UTF-8.
    """
    a = np.frombuffer(buf, np.uint8)
    low = a[a < 32]
    if ((low != 9) & (low != 10) & (low != 13)).any():
        return None  # a control character XML does not allow
    cuts = np.flatnonzero(a == 60)  # '<'
    if not len(cuts) or buf[: int(cuts[0])].strip(b" \t\r\n"):
        return None  # no tag, or text before the first tag
    offsets = np.append(cuts, len(buf)).astype(np.int64)
    array = pa.LargeStringArray.from_buffers(len(cuts), pa.py_buffer(offsets), pa.py_buffer(buf))
    try:
        array.validate(full=True)
    except pa.ArrowInvalid:
        return None  # not UTF-8
    series = pl.from_arrow(array)
    assert isinstance(series, pl.Series)
    return series.alias("t")


@dataclass
class _Tags:
    """One block's tags in document order, as numpy arrays for the structure."""

    kind: np.ndarray  # int8 per tag: _OPEN, _EMPTY, _CLOSE or _OTHER (comment, PI)
    name: np.ndarray  # int32 per tag: index into ``names``; -1 for comments and PIs
    names: list[str]
    attrs: pl.DataFrame  # i (tag index), key, value: every tag's key and value attributes
    declarations: np.ndarray  # tag indexes of ``<?xml ...?>``

    def code(self, name: str) -> int:
        """The index of ``name`` in ``names`` (added when new)."""
        try:
            return self.names.index(name)
        except ValueError:
            self.names.append(name)
            return len(self.names) - 1


def _classify(tokens: pl.Series) -> _Tags | None:
    """kind, name, key and value of every tag; None when a piece is not a tag we read.

    Three shapes, each classified its cheapest way: ``<NAME key="K" value="V"/>`` (or
    ``>``), nearly every tag of a XES file, by splitting at the quotes; tags without quotes
    (``<event>``, ``</trace>``, comments) by their few distinct texts; anything else by the
    general tag regex. Names become small integer codes, so the structure is numpy work.
    """
    n = len(tokens)
    f = (
        tokens.to_frame()
        .with_row_index("i")
        .with_columns(p=pl.col("t").str.splitn('"', 5))
        .unnest("p")
    )
    f0, f1, f2, f3, f4 = (pl.col(c) for c in f.columns[2:7])
    f = f.with_columns(end=f4.str.strip_chars(_WS)).with_columns(
        canonical=(
            (f2 == " value=") & pl.col("end").is_in(["/>", ">"]) & f0.str.ends_with(" key=")
        ).fill_null(False),
        plain=(f1.is_null() & ~pl.col("t").str.contains("'", literal=True))
        | pl.col("t").str.starts_with("<!")
        | pl.col("t").str.starts_with("<?"),
    )
    tags = _Tags(
        kind=np.full(n, -1, np.int8),
        name=np.full(n, -1, np.int32),
        names=[],
        attrs=pl.DataFrame(),
        declarations=np.zeros(0, np.int64),
    )
    # <NAME key="K" value="V"/>: the distinct heads '<NAME key=' are few
    canon = f.filter(pl.col("canonical")).select("i", head=f0, key=f1, value=f3, end="end")
    heads = canon["head"].unique(maintain_order=True)
    head_names = heads.str.slice(1).str.head(-5)
    if not head_names.str.contains("^" + _NAME + "$").all():
        return None
    head_codes = np.array([tags.code(x) for x in head_names.to_list()], np.int32)
    idx = canon["i"].to_numpy()
    local = canon["head"].cast(pl.Enum(heads)).to_physical().to_numpy()
    tags.name[idx] = head_codes[local]
    tags.kind[idx] = np.where((canon["end"] == "/>").to_numpy(), _EMPTY, _OPEN)
    attrs = [canon.select("i", "key", "value")]
    # no quotes (or a comment / processing instruction): the distinct texts are few
    plain = f.filter(~pl.col("canonical") & pl.col("plain")).select(
        "i", u=pl.col("t").str.strip_chars_end(_WS)
    )
    texts = plain["u"].unique(maintain_order=True)
    shapes = _plain_shapes(texts)
    if shapes is None:
        return None
    idx = plain["i"].to_numpy()
    local = plain["u"].cast(pl.Enum(texts)).to_physical().to_numpy()
    shape_codes = np.array(
        [-1 if x is None else tags.code(x) for x in shapes["name"].to_list()], np.int32
    )
    tags.kind[idx] = shapes["kind"].to_numpy()[local]
    tags.name[idx] = shape_codes[local]
    tags.declarations = idx[shapes["pi_xml"].to_numpy()[local]]
    # anything else
    rest = f.filter(~pl.col("canonical") & ~pl.col("plain")).select(
        "i", u=pl.col("t").str.strip_chars_end(_WS)
    )
    if rest.height:
        general = _general(rest)
        if general is None:
            return None
        idx = general["i"].to_numpy()
        tags.kind[idx] = general["kind"].to_numpy()
        tags.name[idx] = [tags.code(x) for x in general["name"].to_list()]
        attrs.append(general.select("i", "key", "value"))
    tags.attrs = pl.concat(attrs)
    return tags


def _kind(groups: pl.Expr) -> pl.Expr:
    """Start, empty-element or end tag from a :data:`_TAG` match (null for ``</x/>``)."""
    slash, empty = groups.struct.field("1") == "/", groups.struct.field("4") == "/"
    return (
        pl.when(slash & empty)
        .then(pl.lit(None))
        .when(slash)
        .then(pl.lit(_CLOSE))
        .when(empty)
        .then(pl.lit(_EMPTY))
        .otherwise(pl.lit(_OPEN))
        .cast(pl.Int8)
    )


def _plain_shapes(texts: pl.Series) -> pl.DataFrame | None:
    """kind and name of each distinct tag text without quotes (None: one is not a tag)."""
    u = pl.col("u")
    comment = u.str.contains(r"^<!--(?:[^-]|-[^-])*-->$")
    pi = u.str.contains(r"^<\?" + _NAME + r"(?:[ \t\r\n][\s\S]*)?\?>$")
    g = u.str.extract_groups(_TAG)
    out = texts.to_frame("u").select(
        kind=pl.when(g.struct.field("2").is_not_null())
        .then(_kind(g))
        .when(comment | pi)
        .then(pl.lit(_OTHER, pl.Int8)),
        name=g.struct.field("2"),
        # the target 'xml' in any case: only the declaration itself, first in the file
        pi_xml=(pi & u.str.contains(r"^<\?(?i:xml)[ \t\r\n?]")).fill_null(False),
    )
    if out["kind"].null_count():
        return None
    return out


def _general(rest: pl.DataFrame) -> pl.DataFrame | None:
    """Tags with attributes in any other layout, by the general tag regex."""
    g = rest.select("i", g=pl.col("u").str.extract_groups(_TAG))
    out = g.select(
        "i",
        kind=_kind(pl.col("g")),
        name=pl.col("g").struct.field("2"),
        attrs=pl.col("g").struct.field("3"),
    )
    if out["name"].null_count() or out["kind"].null_count():
        return None  # not a tag we read, or </name/>: expat decides
    names = out["attrs"].str.replace_all(r"[ \t\r\n]+=", "=").str.extract_all(r"[^\s=]+=")
    if (names.list.len() != names.list.n_unique()).any():
        return None  # an attribute given twice
    if ((out["kind"] == _CLOSE) & (out["attrs"] != "")).any():
        return None  # attributes on an end tag
    return out.select(
        "i",
        "kind",
        "name",
        key=_attribute(pl.col("attrs"), "key"),
        value=_attribute(pl.col("attrs"), "value"),
    )


def _attribute(attrs: pl.Expr, name: str) -> pl.Expr:
    """The value of the XML attribute ``name`` in a tag's attribute text (null without)."""
    g = attrs.str.extract_groups(
        r"""(?:^|[ \t\r\n])""" + name + r"""[ \t\r\n]*=[ \t\r\n]*(?:"([^"]*)"|'([^']*)')"""
    )
    return pl.coalesce(g.struct.field("1"), g.struct.field("2"))


def _levels(tags: _Tags, state: _State) -> np.ndarray | None:
    """Each tag's nesting level (1 = the root), checked: every end tag closes the element
    open at its level with the same name, one root, and the stack carried to the next block.
    """
    kind, n, d0 = tags.kind, len(tags.kind), len(state.stack)
    delta = (kind == _OPEN).astype(np.int64) - (kind == _CLOSE)
    after = np.cumsum(delta) + d0
    if n and int(after.min()) < 0:
        return None
    level = np.where(kind == _CLOSE, after + 1, after - delta + 1)
    # per level, in document order: start, end, start, end... with matching names
    el = np.flatnonzero((kind == _OPEN) | (kind == _CLOSE))
    pos = np.concatenate([np.arange(-d0, 0), el])
    lev = np.concatenate([np.arange(1, d0 + 1), level[el]])
    k = np.concatenate([np.full(d0, _OPEN, np.int8), kind[el]])
    nm = np.concatenate([np.array([tags.code(x) for x in state.stack], np.int32), tags.name[el]])
    order = np.lexsort((pos, lev))
    lev, k, nm = lev[order], k[order], nm[order]
    same = lev[1:] == lev[:-1]
    first = np.ones(len(lev), bool)
    first[1:] = ~same
    if (k[first] != _OPEN).any() or (k[1:][same] == k[:-1][same]).any():
        return None
    closing = same & (k[1:] == _CLOSE)
    if (nm[1:][closing] != nm[:-1][closing]).any():
        return None
    depth = int(after[-1]) if n else d0
    last = np.ones(len(lev), bool)
    last[:-1] = ~same
    still = lev[last] <= depth
    if int(still.sum()) != depth or (k[last][still] != _OPEN).any():
        return None
    state.stack = [tags.names[c] for c in nm[last][still]]
    state.roots += int((((kind == _OPEN) | (kind == _EMPTY)) & (level == 1)).sum())
    if state.roots > 1:
        return None
    return level


def _content(
    tags: _Tags, level: np.ndarray, state: _State, keys: Keys
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame] | None:
    """Traces, events and their attributes of one block, numbered on from ``state``."""
    kind, n = tags.kind, len(tags.kind)
    trace_name = np.array([is_named(x, "trace") for x in tags.names] + [False])
    event_name = np.array([is_named(x, "event") for x in tags.names] + [False])
    element = (kind == _OPEN) | (kind == _EMPTY)
    tr = element & trace_name[tags.name]  # name -1 reads the appended False
    ev = element & event_name[tags.name]
    if (tr & (level != 2)).any() or (ev & (level != 3)).any():
        return None  # a trace or event where XES has none: expat's rules decide
    in_trace = _latest(element & (level == 2), tr, state.in_trace)
    in_event = _latest(element & (level == 3), ev, state.in_event)
    if (ev & ~in_trace).any():
        return None
    trace_no = np.cumsum(tr) + state.traces
    event_no = np.cumsum(ev) + state.events
    if n:
        state.in_trace, state.in_event = bool(in_trace[-1]), bool(in_event[-1])
        state.traces, state.events = int(trace_no[-1]), int(event_no[-1])
    events = pl.DataFrame({"event": event_no[ev], "trace": trace_no[ev]})
    traces = pl.DataFrame({"trace": trace_no[tr]})
    attrs = tags.attrs
    at = attrs["i"].to_numpy()
    of_event = (element & (level == 4) & in_event & in_trace)[at]
    of_trace = (element & (level == 3) & ~ev & in_trace)[at]
    event_keys = [keys.stage, keys.timestamp, keys.owner, keys.lifecycle, *keys.amount]
    ev_attrs = _in_order(
        _decoded(attrs.filter(pl.Series(of_event))).filter(pl.col("key").is_in(event_keys))
    )
    # every trace attribute: the fields are picked by _pivot, all are the case attributes
    tr_attrs = _in_order(_decoded(attrs.filter(pl.Series(of_trace))))
    return (
        events,
        ev_attrs.select(
            event=pl.Series(event_no[ev_attrs["i"].to_numpy()]), key="key", value="value"
        ),
        traces,
        tr_attrs.select(
            trace=pl.Series(trace_no[tr_attrs["i"].to_numpy()]), key="key", value="value"
        ),
    )


def _latest(starts: np.ndarray, flag: np.ndarray, before: bool) -> np.ndarray:
    """For every tag: ``flag`` of the latest tag in ``starts`` up to it (``before`` if none)."""
    at = np.maximum.accumulate(np.where(starts, np.arange(len(starts)), -1))
    return np.where(at >= 0, flag[np.maximum(at, 0)], before)


def _in_order(attrs: pl.DataFrame) -> pl.DataFrame:
    """Attributes in document order (the general-regex ones were appended at the end)."""
    return attrs if attrs["i"].is_sorted() else attrs.sort("i")


def _decoded(attrs: pl.DataFrame) -> pl.DataFrame:
    """Keys and values as XML reads them: entities replaced, white space normalised."""
    out = {}
    for c in ("key", "value"):
        s = attrs[c]
        if s.str.contains(r"[\t\n\r]").any():
            s = s.str.replace_all("\r\n", " ", literal=True).str.replace_all(r"[\t\n\r]", " ")
        if s.str.contains("&", literal=True).any():
            s = s.str.replace_many(*_ENTITIES)
        out[c] = s
    return attrs.with_columns(**out)


def _assemble(
    parts: list[tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]], keys: Keys
) -> Scan:
    """The blocks' rows as one :class:`Scan` (later duplicates of a key win)."""
    events = pl.concat([p[0] for p in parts]) if parts else pl.DataFrame(schema=["event", "trace"])
    ev_attrs = pl.concat([p[1] for p in parts])
    traces = pl.concat([p[2] for p in parts])
    tr_attrs = pl.concat([p[3] for p in parts])
    events = _pivot(
        events,
        "event",
        ev_attrs,
        {
            "stage": keys.stage,
            "timestamp": keys.timestamp,
            "owner": keys.owner,
            "lifecycle": keys.lifecycle,
        },
        keys.amount,
    )
    traces = _pivot(traces, "trace", tr_attrs, {"deal": keys.deal}, keys.amount)
    return Scan(
        events=events.select(*(pl.col(c).cast(t) for c, t in EVENT_SCHEMA.items())).sort("event"),
        traces=traces.select(*(pl.col(c).cast(t) for c, t in TRACE_SCHEMA.items())).sort("trace"),
        trace_attributes=tidy_trace_attributes(tr_attrs.select("trace", "key", "value")),
    )


def _pivot(
    rows: pl.DataFrame,
    on: str,
    attrs: pl.DataFrame,
    fields: dict[str, str],
    amount_keys: tuple[str, ...],
) -> pl.DataFrame:
    """One column per field from the (row, key, value) attributes; amount: first key present.

    ``attrs`` are in document order, so the last of a row's values for a key is the one a
    later duplicate leaves (as a dict would); duplicates are rare, so they are looked for
    first rather than removed by a group-by over every attribute.
    """

    def last(key: str) -> pl.DataFrame:
        part = attrs.filter(pl.col("key") == key).select(on, "value")
        if part.height and (part[on].diff() == 0).any():
            part = part.unique(subset=[on], keep="last", maintain_order=True)
        return part

    for column, key in fields.items():
        rows = rows.join(last(key).rename({"value": column}), on=on, how="left")
    amount: pl.DataFrame | None = None
    for key in amount_keys:  # the first key present wins: later keys only fill the rest
        part = last(key).rename({"value": "amount"})
        amount = (
            part if amount is None else pl.concat([amount, part.join(amount, on=on, how="anti")])
        )
    if amount is None:
        return rows.with_columns(amount=pl.lit(None, pl.String))
    return rows.join(amount, on=on, how="left")
