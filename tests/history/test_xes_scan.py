"""The vectorised XES scanner reads what expat reads, and hands anything else to expat."""

from __future__ import annotations

import gzip
import io
from pathlib import Path
from xml.sax.saxutils import quoteattr

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

import flowsim.history.xes_fast as xes_fast
from flowsim.cli import main
from flowsim.history import LogError, read_xes
from flowsim.history.read_xes import AMOUNT_KEYS
from flowsim.history.xes_fast import scan_fast
from flowsim.history.xes_scan import EVENT_SCHEMA, TRACE_SCHEMA, Keys, Scan, scan_expat
from tests.data import DATA

KEYS = Keys(
    deal="concept:name",
    stage="concept:name",
    timestamp="time:timestamp",
    owner="org:resource",
    lifecycle="lifecycle:transition",
    amount=AMOUNT_KEYS,
)


def both(data: bytes, keys: Keys = KEYS) -> tuple[Scan | None, Scan]:
    return scan_fast(io.BytesIO(data), keys), scan_expat(io.BytesIO(data), keys)


def assert_same(data: bytes, keys: Keys = KEYS) -> Scan:
    fast, slow = both(data, keys)
    assert fast is not None, "the fast scanner should vouch for this file"
    assert_frame_equal(fast.events, slow.events)
    assert_frame_equal(fast.traces, slow.traces)
    assert_frame_equal(fast.trace_attributes, slow.trace_attributes)
    return fast


SHARED = [
    "pm4py-logs/running-example.xes",
    "pm4py-logs/roadtraffic100traces.xes",
    "pm4py-logs/helpdesk.xes.gz",
    "bpic2012/bpic2012.xes.gz",
]


@pytest.mark.parametrize("name", SHARED)
def test_shared_logs_read_the_same(name: str) -> None:
    path = DATA / name
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    scan = assert_same(raw)
    assert scan.events.height > 0


def test_bpic2012_in_small_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = gzip.decompress((DATA / "bpic2012/bpic2012.xes.gz").read_bytes())[:9_000_000]
    raw = raw[: raw.rindex(b"</trace>") + 8] + b"\n</log>\n"
    whole = scan_fast(io.BytesIO(raw), KEYS)
    monkeypatch.setattr(xes_fast, "CHUNK", 50_000)
    blocks = scan_fast(io.BytesIO(raw), KEYS)
    assert whole is not None and blocks is not None
    assert_frame_equal(whole.events, blocks.events)
    assert_frame_equal(whole.traces, blocks.traces)
    assert_frame_equal(whole.trace_attributes, blocks.trace_attributes)
    assert_frame_equal(blocks.events, scan_expat(io.BytesIO(raw), KEYS).events)


FEATURES = b"""\xef\xbb\xbf<?xml version="1.0" encoding="utf-8"?>
<!-- a comment with "quotes" and 'apostrophes' -->
<?xes-writer some instruction?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>
  <global scope="event"><string key="concept:name" value="__INVALID__"/></global>
  <classifier name="Activity" keys="concept:name"/>
  <string key="concept:name" value="log level, not a trace"/>
  <trace>
    <string key="concept:name" value="d&amp;1"/>
    <float key="AMOUNT_REQ" value="1500"/>
    <event>
      <string value="Call &lt;first&gt;" key="concept:name"/>
      <date key='time:timestamp' value='2024-01-01T09:00:00+01:00'/>
      <string key="org:resource" value="tab\there
newline"/>
      <string key="concept:name" value="call (later duplicate wins)"></string>
      <string key="amount" value="7"><string key="meta" value="nested, not the event's"/></string>
    </event>
    <!-- between events -->
    <event >
      <string key="concept:name" value="&quot;quoted&quot; &apos;x&apos;"/>
      <date   key = "time:timestamp"   value = "2024-01-02T09:00:00Z"  />
      <list key="lifecycle:transition"><values><string key="x" value="y"/></values></list>
    </event>
    <event/>
  </trace>
  <trace/>
  <trace>
    <event>
      <string key="concept:name" value="\xe9\xa6\x96\xe6\xac\xa1\xe6\x8b\x9c\xe8\xae\xbf"/>
      <date key="time:timestamp" value="2024-02-01T10:00:00+08:00"/>
      <string key="AMOUNT" value="3"/>
      <string key="amount" value="4"/>
    </event>
    <string key="concept:name" value="late trace name"/>
  </trace>
</log>
"""


def test_features_read_the_same() -> None:
    scan = assert_same(FEATURES)
    ev = scan.events.to_dicts()
    assert [e["stage"] for e in ev] == [
        "call (later duplicate wins)",
        "\"quoted\" 'x'",
        None,
        "首次拜访",
    ]
    assert ev[0]["owner"] == "tab here newline"  # XML normalises white space in attributes
    assert ev[0]["amount"] == "7" and ev[3]["amount"] == "4"  # first amount key present
    assert ev[1]["lifecycle"] is None  # a list has no value
    assert scan.traces.to_dicts() == [
        {"trace": 1, "deal": "d&1", "amount": "1500"},
        {"trace": 2, "deal": None, "amount": None},
        {"trace": 3, "deal": "late trace name", "amount": None},
    ]
    # every case attribute, for --where/--by: the trace's own, not its events'
    assert scan.trace_attributes.rows() == [
        (1, "AMOUNT_REQ", "1500"),
        (1, "concept:name", "d&1"),
        (3, "concept:name", "late trace name"),
    ]


@pytest.mark.parametrize("newline", [b"\r\n", b"\r"])
def test_windows_and_old_mac_line_ends_read_the_same(newline: bytes) -> None:
    assert_same(FEATURES.replace(b"\n", newline))
    assert_same((DATA / SHARED[0]).read_bytes().replace(b"\n", newline))


def test_namespaced_elements_read_the_same() -> None:
    doc = (
        b'<x:log xmlns:x="http://www.xes-standard.org/"><x:trace>'
        b'<x:string key="concept:name" value="d1"/><x:event>'
        b'<x:string key="concept:name" value="a"/>'
        b'<x:date key="time:timestamp" value="2024-01-01T00:00:00Z"/>'
        b"</x:event></x:trace></x:log>"
    )
    scan = assert_same(doc)
    assert scan.events["stage"].to_list() == ["a"]


NOT_VOUCHED = {
    "doctype": b'<!DOCTYPE log [<!ENTITY who "ann">]><log><trace><event>'
    b'<string key="org:resource" value="&who;"/></event></trace></log>',
    "cdata": b"<log><trace><event><![CDATA[<x>]]></event></trace></log>",
    "char-ref": b'<log><trace><event><string key="concept:name" value="&#20320;"/>'
    b"</event></trace></log>",
    "latin-1": '<?xml version="1.0" encoding="ISO-8859-1"?><log><trace><event>'
    '<string key="concept:name" value="caf\xe9"/></event></trace></log>'.encode("latin-1"),
    "text": b"<log><trace>hello<event/></trace></log>",
    "event-outside-trace": b'<log><event><string key="concept:name" value="a"/></event>'
    b"<trace><event/></trace></log>",
    "event-in-global": b'<log><global scope="event"><event/></global><trace><event/></trace></log>',
    "wrapped-log": b"<xes><log><trace><event/></trace></log></xes>",
}


@pytest.mark.parametrize("name", sorted(NOT_VOUCHED))
def test_what_the_fast_scanner_does_not_vouch_for_expat_reads(name: str) -> None:
    data = NOT_VOUCHED[name]
    assert scan_fast(io.BytesIO(data), KEYS) is None
    scan_expat(io.BytesIO(data), KEYS)  # well-formed: expat reads it


BROKEN = {
    "mismatched": b"<log><trace><event></trace></event></log>",
    "unclosed": b"<log><trace><event/></trace>",
    "two-roots": b"<log><trace><event/></trace></log><log/>",
    "duplicate-attribute": b'<log><trace><event><string key="a" key="b" value="c"/>'
    b"</event></trace></log>",
    "lt-in-value": b'<log><trace><event><string key="a" value="a<b"/></event></trace></log>',
    "bare-ampersand": b'<log><trace><event><string key="a" value="a & b"/></event></trace></log>',
    "control-char": b'<log><trace><event><string key="a" value="a\x01b"/></event></trace></log>',
    "bad-utf8": b'<log><trace><event><string key="a" value="\xff"/></event></trace></log>',
    "declaration-late": b'<log><?xml version="1.0"?><trace><event/></trace></log>',
    "attribute-on-end-tag": b'<log><trace><event></event x="1"></trace></log>',
    "no-space-between-attributes": b'<log><trace><event><string key="a"value="b"/>'
    b"</event></trace></log>",
    "double-dash-comment": b"<log><!-- a -- b --><trace><event/></trace></log>",
    "text-after-root": b"<log><trace><event/></trace></log>junk",
    "uppercase-declaration": b'<?XML version="1.0"?><log><trace><event/></trace></log>',
    "duplicate-attribute-spaced": b'<log a="1" a ="2"><trace><event/></trace></log>',
    "whitespace-before-declaration": b' <?xml version="1.0"?><log><trace><event/></trace></log>',
}


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_xml_is_refused_with_expats_words(name: str, tmp_path: Path) -> None:
    data = BROKEN[name]
    assert scan_fast(io.BytesIO(data), KEYS) is None
    path = tmp_path / "broken.xes"
    path.write_bytes(data)
    with pytest.raises(LogError) as exc:
        read_xes(path)
    problem = exc.value.problems[0]
    assert problem.name == "bad-xml"
    assert problem.row is not None  # expat's line
    assert "not a readable XES file" in problem.message


STRAY = (
    b'<log><event><string key="concept:name" value="stray"/></event><trace>'
    b'<string key="concept:name" value="d1"/><event><string key="concept:name" value="a"/>'
    b'<date key="time:timestamp" value="2024-01-01T00:00:00Z"/></event></trace></log>'
)


def test_event_outside_trace_is_counted_not_lost(tmp_path: Path) -> None:
    path = tmp_path / "outside.xes"
    path.write_bytes(STRAY)
    log = read_xes(path)
    r = log.report
    assert r.rows_read == 2 and r.rows_used == 1 and r.rows_skipped == 1
    assert r.skipped_by_reason == {"event-outside-trace": 1}
    assert [(q.name, q.row, q.value) for q in r.problems] == [("event-outside-trace", 1, "stray")]


def test_event_outside_trace_through_the_cli(tmp_path: Path) -> None:
    path = tmp_path / "outside.xes"
    path.write_bytes(STRAY)
    result = CliRunner().invoke(main, ["metrics", str(path)])
    assert result.exit_code == 0, result.stderr
    assert "rows read 2, used 1, skipped 1 (event-outside-trace 1)" in result.stdout
    assert (
        "flowsim: warning: outside.xes:1: event outside any trace (no deal); skipped 'stray'"
        in result.stderr
    )
    assert "Traceback" not in result.stderr


# ---- property: any XES document built from random values reads the same both ways ----------

VALUES = st.text(
    alphabet=st.sampled_from([*list("ab z09:-_."), "&", "<", ">", '"', "'", "\t", "\n", "售", "é"]),
    max_size=8,
)
ATTR_KEYS = st.sampled_from(
    [
        "concept:name",
        "time:timestamp",
        "org:resource",
        "lifecycle:transition",
        "amount",
        "AMOUNT",
        "other",
    ]
)


@st.composite
def attribute(draw: st.DrawFn) -> str:
    key, value = draw(ATTR_KEYS), draw(VALUES)
    tag = draw(st.sampled_from(["string", "date", "int", "x:string"]))
    pair = [f"key={quoteattr(key)}", f"value={quoteattr(value)}"]
    if draw(st.booleans()):
        pair.reverse()
    sep = draw(st.sampled_from([" ", "  ", "\n\t"]))
    close = draw(
        st.sampled_from(["/>", f"></{tag}>", " />", f'><string key="m" value="n"/></{tag}>'])
    )
    return f"<{tag} {sep.join(pair)}{close}"


@st.composite
def document(draw: st.DrawFn) -> bytes:
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<log>']
    if draw(st.booleans()):
        parts.append("<!-- header -->")
    for _ in range(draw(st.integers(0, 4))):
        parts.append("<trace>")
        parts.extend(draw(st.lists(attribute(), max_size=2)))
        for _ in range(draw(st.integers(0, 3))):
            attrs = draw(st.lists(attribute(), max_size=5))
            parts.append("<event>" + draw(st.sampled_from(["", "\n  "])).join(attrs) + "</event>")
        if draw(st.booleans()):
            parts.extend(draw(st.lists(attribute(), max_size=1)))
        parts.append("</trace>")
    parts.append("</log>\n")
    sep = draw(st.sampled_from(["", "\n", "\n    "]))
    return sep.join(parts).encode("utf-8")


@settings(max_examples=150, deadline=None)
@given(document())
def test_random_documents_read_the_same(data: bytes) -> None:
    fast, slow = both(data)
    if b"&#" in data:  # quoteattr writes tab and newline as character references
        assert fast is None
        return
    assert fast is not None  # everything else the generator writes is a layout it reads
    assert_frame_equal(fast.events, slow.events)
    assert_frame_equal(fast.traces, slow.traces)
    assert_frame_equal(fast.trace_attributes, slow.trace_attributes)


@settings(max_examples=40, deadline=None)
@given(document())
def test_random_documents_in_tiny_blocks(data: bytes) -> None:
    slow = scan_expat(io.BytesIO(data), KEYS)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(xes_fast, "CHUNK", 16)
        fast = scan_fast(io.BytesIO(data), KEYS)
    if fast is not None:
        assert_frame_equal(fast.events, slow.events)
        assert_frame_equal(fast.traces, slow.traces)
        assert_frame_equal(fast.trace_attributes, slow.trace_attributes)


# ---- property: vectorised lifecycle pairing == the event-by-event rule ------------------------

EVENT_ROWS = st.lists(
    st.tuples(
        st.integers(1, 3),  # trace
        st.sampled_from(["a", "b", None]),  # stage
        st.sampled_from(["schedule", "start", "complete", "START", "suspend", None, ""]),
        st.sampled_from([None, "", "ann", "bob"]),  # owner
        st.sampled_from([None, "", "5", "7"]),  # amount
    ),
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(EVENT_ROWS, st.sampled_from([None, "", "100"]))
def test_vectorised_pairing_equals_the_rule(rows: list[tuple], trace_amount: str | None) -> None:
    from flowsim.history.read_xes import _RAW_SCHEMA, _instances, _pair

    events = pl.DataFrame(
        [
            (i + 1, t, s, f"2024-01-01T00:00:{i:02d}Z", o, lc, a)
            for i, (t, s, lc, o, a) in enumerate(rows)
        ],
        schema=EVENT_SCHEMA,
        orient="row",
    )
    traces = pl.DataFrame(
        [(t, f"d{t}", trace_amount) for t in (1, 2, 3)], schema=TRACE_SCHEMA, orient="row"
    )
    skipped: dict[str, int] = {}
    warnings: list[tuple[str, int, str | None]] = []
    got = _instances(Scan(events=events, traces=traces), skipped, warnings)
    # the reference: every event through the rule, one at a time
    ref_skipped: dict[str, int] = {}
    ref_warnings: list[tuple[str, int, str | None]] = []
    ref_rows = _pair(
        (
            (t, f"d{t}", trace_amount, s, ts, o, (lc or "complete").lower(), lc, a, n)
            for n, t, s, ts, o, lc, a in events.iter_rows()
        ),
        ref_skipped,
        ref_warnings,
    )
    ref = pl.DataFrame(ref_rows, schema=_RAW_SCHEMA, orient="row").sort("source_row")
    assert_frame_equal(got, ref)
    assert skipped == ref_skipped
    assert sorted(warnings) == sorted(ref_warnings)


def test_the_pm4py_writer_layout_is_read_the_quick_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """pm4py writes ``value="..." />``: still the split-at-quotes shape, not the general regex."""
    raw = gzip.decompress((DATA / "pm4py-logs/helpdesk.xes.gz").read_bytes())
    assert b'" />' in raw
    general: list[int] = []
    original = xes_fast._general

    def counting(rest: pl.DataFrame) -> pl.DataFrame | None:
        general.append(rest.height)
        return original(rest)

    monkeypatch.setattr(xes_fast, "_general", counting)
    assert_same(raw)
    assert sum(general) < 50  # the log header's extension and classifier tags only
