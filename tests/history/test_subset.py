"""Filters shared by every log command (``--where``, ``--from``/``--to``, ``--stages``) and the
``metrics --by`` comparison table.

Unit tests on a tiny log whose every figure can be counted by eye; a property test (filtering
then measuring equals measuring a frame filtered beforehand with polars); the real logs'
figures cross-checked with polars (Maven by product, Olist by origin) or with a plain count
of the XES file (BPIC 2012's ``A_`` events); and the CLI end to end on them.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from flowsim.cli import main
from flowsim.history import DealLog, FilterError, LogFilter, from_table, read_csv, read_log
from flowsim.history.breakdown import breakdown
from flowsim.history.metrics import FunnelMetrics, metrics
from flowsim.history.table import breakdown_table
from tests.data import DATA

MAVEN = DATA / "maven-crm-sales-opportunities" / "sales_pipeline.csv"
OLIST_DIR = DATA / "olist-marketing-funnel"
OLIST = OLIST_DIR / "olist_marketing_qualified_leads_dataset.csv"
BPIC = DATA / "bpic2012" / "bpic2012.xes.gz"
RUNNING = DATA / "pm4py-logs" / "running-example.csv"
needs_data = pytest.mark.skipif(not MAVEN.exists(), reason="shared data not available")

#: d1 GTX in the north, won; d2 enters at 23:30 UTC on Jan 31 with no product on its first
#: record (MG from its second), lost; d3 has no product and no region at all, open
TINY = """\
deal,stage,entered_at,owner,product,region
d1,lead,2024-01-01 09:00,ann,GTX,north
d1,demo,2024-01-03 09:00,ann,GTX,north
d1,won,2024-01-10 09:00,ann,,north
d2,lead,2024-01-31 23:30,bob,,south
d2,demo,2024-02-02 10:00,bob,MG,south
d2,lost,2024-02-05 10:00,bob,MG,south
d3,lead,2024-02-01 00:00,ann,,
d3,demo,2024-02-03 00:00,ann,,
"""


@pytest.fixture
def tiny(tmp_path: Path) -> DealLog:
    path = tmp_path / "deals.csv"
    path.write_text(TINY, encoding="utf-8")
    return read_csv(path)


def deals_of(log: DealLog) -> list[str]:
    return sorted(log.frame["deal"].unique().to_list())


def cli(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    return result.exit_code, result.stdout, result.stderr


# ---- the rules, on a tiny log --------------------------------------------------------------


def test_the_source_columns_are_kept_beside_the_canonical_frame(tiny: DealLog) -> None:
    assert tiny.attributes is not None
    assert tiny.attributes.columns[-1] == "source_row"
    assert {"product", "region", "owner"} <= set(tiny.attributes.columns)
    assert tiny.attributes["source_row"].to_list() == list(range(2, 10))


def test_where_keeps_whole_deals_by_their_first_non_empty_value(tiny: DealLog) -> None:
    assert deals_of(tiny.filter(where={"product": ["GTX"]})) == ["d1"]
    assert deals_of(tiny.filter(where={"product": ["MG"]})) == ["d2"]  # empty on its first row
    gtx = tiny.filter(where={"product": ["GTX"]})
    assert gtx.frame.height == 3  # the won record has no product but belongs to the deal
    assert deals_of(tiny.filter(where={"product": ["GTX", "MG"]})) == ["d1", "d2"]


def test_where_none_and_where_not(tiny: DealLog) -> None:
    assert deals_of(tiny.filter(where={"product": ["(none)"]})) == ["d3"]
    assert deals_of(tiny.filter(where={"product": [""]})) == ["d3"]
    assert deals_of(tiny.filter(where_not={"product": ["GTX"]})) == ["d2", "d3"]
    both = tiny.filter(where={"region": ["north", "south"]}, where_not={"owner": ["bob"]})
    assert deals_of(both) == ["d1"]


def test_a_field_name_reads_the_canonical_frame(tiny: DealLog) -> None:
    assert deals_of(tiny.filter(where={"owner": ["bob"]})) == ["d2"]
    assert deals_of(tiny.filter(where={"stage": ["lead"]})) == ["d1", "d2", "d3"]


def test_every_rule_says_what_it_kept(tiny: DealLog) -> None:
    out = tiny.filter(where={"product": ["GTX", "MG"]}, stages=["lead", "demo"])
    first, second = out.report.filters
    assert (first.rule, first.selects) == ("product = GTX, MG", "deals")
    assert (first.deals_before, first.deals_after) == (3, 2)
    assert (first.records_before, first.records_after) == (8, 6)
    assert (second.rule, second.selects) == ("stages lead, demo", "records")
    assert (second.deals_after, second.records_after) == (2, 4)
    assert out.report.rows_read == 8 and out.report.rows_used == 8  # the import's accounting
    assert tiny.report.filters == []  # the original log is untouched
    assert "filter product = GTX, MG: kept 2 of 3 deals, 6 of 8 records" in out.report.summary()


def test_window_selects_deals_by_their_entry_and_keeps_their_whole_history(
    tiny: DealLog,
) -> None:
    january = tiny.filter(start=dt.date(2024, 1, 1), end=dt.date(2024, 1, 31))
    assert deals_of(january) == ["d1", "d2"]  # d2 entered on the 31st at 23:30: a whole day
    assert january.frame.filter(pl.col("deal") == "d2").height == 3  # its February records too
    assert deals_of(tiny.filter(start=dt.date(2024, 2, 1))) == ["d3"]
    # a time is an instant, included
    assert deals_of(tiny.filter(end=dt.datetime(2024, 1, 31, 23, 30))) == ["d1", "d2"]
    assert deals_of(tiny.filter(end=dt.datetime(2024, 1, 31, 23, 29))) == ["d1"]
    # dates are days in the filter's time zone: 23:30 UTC is Feb 1 in Shanghai
    shanghai = tiny.filter(end=dt.date(2024, 1, 31), tz="Asia/Shanghai")
    assert deals_of(shanghai) == ["d1"]
    assert january.report.filters[0].rule == "entered from 2024-01-01 to 2024-01-31"


def test_stage_rules_take_names_and_globs(tiny: DealLog) -> None:
    assert sorted(tiny.filter(stages=["d*"]).frame["stage"].unique()) == ["demo"]
    open_only = tiny.filter(exclude_stages=["won", "lost"])
    assert open_only.frame.height == 6
    m = metrics(open_only)
    assert (m.header.won, m.header.lost, m.header.open) == (0, 0, 3)
    gone = tiny.filter(stages=["won"])
    assert deals_of(gone) == ["d1"]  # a deal without records left is gone, and counted
    assert gone.report.filters[0].deals_after == 1


def test_unknown_column_value_or_stage_is_refused_naming_what_there_is(tiny: DealLog) -> None:
    with pytest.raises(FilterError, match=r"no column 'prodct' \(did you mean product\?\)") as e:
        tiny.filter(where={"prodct": ["GTX"]})
    assert "columns: deal, stage, owner, amount, deal, " not in str(e.value)
    assert "region" in str(e.value)
    with pytest.raises(FilterError, match=r"no deal has product = 'gtx'.*its values: GTX, MG"):
        tiny.filter(where={"product": ["gtx"]})
    with pytest.raises(FilterError, match=r"--stages 'Z\*' matches no stage; stages: demo"):
        tiny.filter(stages=["Z*"])


def test_a_log_without_source_columns_says_so(tiny: DealLog) -> None:
    bare = DealLog(tiny.frame, tiny.report)
    with pytest.raises(FilterError, match="keeps no other columns"):
        bare.filter(where={"product": ["GTX"]})
    assert deals_of(bare.filter(where={"owner": ["ann"]})) == ["d1", "d3"]


def test_a_log_built_in_any_order_is_grouped_by_deal_first(tiny: DealLog) -> None:
    shuffled = DealLog(tiny.frame.reverse(), tiny.report, attributes=tiny.attributes)
    assert deals_of(shuffled.filter(where={"product": ["MG"]})) == ["d2"]
    assert deals_of(shuffled.filter(end=dt.date(2024, 1, 31))) == ["d1", "d2"]
    assert breakdown(shuffled, "product") == breakdown(tiny, "product")


def test_read_log_takes_the_same_filter(tmp_path: Path, tiny: DealLog) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(TINY, encoding="utf-8")
    subset = LogFilter(where={"region": ["south"]})
    assert read_log(path, subset=subset).frame.equals(tiny.filter(subset).frame)


def test_breakdown_rows_sorted_by_deals_then_all(tiny: DealLog) -> None:
    table = breakdown(tiny, "owner")
    assert [r.group for r in table.groups] == ["ann", "bob"]
    ann, bob = table.groups
    assert (ann.deals, ann.won, ann.open, ann.win_rate) == (2, 1, 1, 1.0)
    assert (bob.deals, bob.lost, bob.win_rate) == (1, 1, 0.0)
    assert (table.all.deals, table.all.won, table.all.lost, table.all.win_rate) == (3, 1, 1, 0.5)
    assert table.stages == ["lead", "demo"]  # stages, not outcomes
    assert ann.stage_days["lead"] == pytest.approx(2.0)  # d1 2 days, d3 2 days
    assert ann.won_cycle_days == pytest.approx(9.0)
    by_product = breakdown(tiny, "product")
    assert [r.group for r in by_product.groups] == ["(none)", "GTX", "MG"]  # ties by name
    text = breakdown_table(by_product)
    assert text.count("\nall ") == 1
    with pytest.raises(ValueError, match="cannot break down by 'nope'"):
        breakdown(tiny, "nope")


# ---- filtering then measuring = measuring a frame filtered beforehand -----------------------

STAGES = ["lead", "A_demo", "A_offer", "won", "lost"]


@st.composite
def logs(draw: st.DrawFn) -> pl.DataFrame:
    """A long table: deals with a product each, 1-5 records at strictly increasing times."""
    rows = []
    for d in range(draw(st.integers(1, 10))):
        product = draw(st.sampled_from(["p1", "p2", "p3"]))
        t = dt.datetime(2024, 1, 1) + dt.timedelta(hours=draw(st.integers(0, 24 * 90)))
        for stage in draw(st.lists(st.sampled_from(STAGES), min_size=1, max_size=5)):
            t += dt.timedelta(hours=draw(st.integers(1, 24 * 10)))
            rows.append((f"d{d}", stage, t.isoformat(sep=" "), product))
    return pl.DataFrame(rows, schema=["deal", "stage", "entered_at", "product"], orient="row")


def _measured(log: DealLog) -> dict[str, object]:
    m: FunnelMetrics = metrics(log, survival=False)
    figures = m.model_dump(exclude={"header"})
    h = m.header
    figures["counts"] = (h.records, h.deals, h.won, h.lost, h.open, h.stage_order)
    return figures


@settings(max_examples=60, deadline=None)
@given(
    table=logs(),
    products=st.sets(st.sampled_from(["p1", "p2", "p3"]), min_size=1),
    patterns=st.sets(st.sampled_from(["lead", "A_*", "won", "lost"]), min_size=1),
    start_day=st.integers(0, 60),
)
def test_filtering_then_measuring_equals_measuring_a_prefiltered_frame(
    table: pl.DataFrame, products: set[str], patterns: set[str], start_day: int
) -> None:
    log = from_table(table, source="t.csv", format="csv")
    start = dt.date(2024, 1, 1) + dt.timedelta(days=start_day)
    present = set(table["product"])
    stages = set(table["stage"])
    chosen = {s for s in stages if any(re.fullmatch(p.replace("*", ".*"), s) for p in patterns)}
    if not products <= present or not all(
        any(re.fullmatch(p.replace("*", ".*"), s) for s in stages) for p in patterns
    ):  # a value or a stage the log does not have is refused
        with pytest.raises(FilterError):
            log.filter(where={"product": sorted(products)}, stages=sorted(patterns), start=start)
        return
    filtered = log.filter(where={"product": sorted(products)}, stages=sorted(patterns), start=start)
    # the same selection written out directly: deals by product and first entry, then stages
    first = table.group_by("deal").agg(pl.col("entered_at").min().alias("first"))
    entered = first.filter(pl.col("first") >= start.isoformat())["deal"]
    expected = table.filter(
        pl.col("product").is_in(sorted(products))
        & pl.col("deal").is_in(entered.implode())
        & pl.col("stage").is_in(sorted(chosen))
    )
    if expected.height == 0:
        assert filtered.frame.height == 0
        return
    assert _measured(filtered) == _measured(from_table(expected, source="t.csv", format="csv"))


# ---- real logs ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def maven() -> DealLog:
    return read_log(MAVEN)


@needs_data
def test_maven_by_product_matches_polars(maven: DealLog) -> None:
    """Deals, won, lost and win rate per product, counted on the file with polars alone."""
    raw = pl.read_csv(MAVEN, infer_schema=False)
    # a deal without any date (still prospecting) cannot enter the timeline: skipped, counted
    dated = raw.filter(pl.col("engage_date").is_not_null() | pl.col("close_date").is_not_null())
    expected = {
        product: (deals, won, lost)
        for product, deals, won, lost in dated.group_by("product")
        .agg(
            pl.len().alias("deals"),
            (pl.col("deal_stage") == "Won").sum().alias("won"),
            (pl.col("deal_stage") == "Lost").sum().alias("lost"),
        )
        .iter_rows()
    }
    table = breakdown(maven, "product")
    got = {r.group: (r.deals, r.won, r.lost) for r in table.groups}
    assert got == expected
    assert len(got) == 7 and "GTXPro" in got  # the pipeline spells it without the space
    for r in table.groups:
        assert r.win_rate == pytest.approx(r.won / (r.won + r.lost))
    deals = [r.deals for r in table.groups]
    assert deals == sorted(deals, reverse=True)
    assert (table.all.deals, table.all.won, table.all.lost) == (8300, 4238, 2473)
    assert sum(deals) == table.all.deals


@needs_data
def test_maven_where_product_equals_that_products_row(maven: DealLog) -> None:
    """--where keeps a group's deals by the rule --by groups them: the same figures."""
    table = breakdown(maven, "product")
    row = next(r for r in table.groups if r.group == "GTX Plus Pro")
    alone = metrics(maven.filter(where={"product": ["GTX Plus Pro"]}), survival=False)
    assert (alone.header.deals, alone.header.won, alone.header.lost) == (
        row.deals,
        row.won,
        row.lost,
    )
    assert alone.process.win_rate == row.win_rate


@needs_data
def test_olist_by_origin_matches_polars() -> None:
    """Leads and won deals per origin: the two files joined with polars alone."""
    leads = pl.read_csv(OLIST, infer_schema=False)
    closed = pl.read_csv(OLIST_DIR / "olist_closed_deals_dataset.csv", infer_schema=False)
    joined = leads.join(closed, on="mql_id", how="left")
    # --lenient skips the one lead won before its first contact (SOURCE.md)
    joined = joined.filter(
        pl.col("won_date").is_null() | (pl.col("won_date") >= pl.col("first_contact_date"))
    )
    expected = {
        origin or "(none)": (n, won)
        for origin, n, won in joined.group_by("origin")
        .agg(pl.len().alias("leads"), pl.col("won_date").is_not_null().sum().alias("won"))
        .iter_rows()
    }
    table = breakdown(read_log(OLIST, lenient=True), "origin")
    assert {r.group: (r.deals, r.won) for r in table.groups} == expected
    assert expected["(none)"] == (60, 14) and expected["email"] == (493, 15)  # SOURCE.md
    assert table.groups[0].group == "organic_search"
    assert (table.all.deals, table.all.won) == (7999, 841)


@needs_data
def test_bpic_application_events_only(bpic_log: DealLog) -> None:
    """--stages 'A_*' keeps the A_ events: their number counted in the XES text itself."""
    text = gzip.decompress(BPIC.read_bytes())
    a_events = len(re.findall(rb'key="concept:name" value="A_', text))
    full = bpic_log
    only_a = full.filter(stages=["A_*"])
    assert a_events == 60_849
    assert only_a.frame.height == a_events  # A_ events are instants: one record each
    step = only_a.report.filters[0]
    assert (step.records_before, step.records_after, step.deals_after) == (
        164_580,
        60_849,
        13_087,
    )
    prefiltered = DealLog(full.frame.filter(pl.col("stage").str.starts_with("A_")), full.report)
    assert _measured(only_a) == _measured(prefiltered)


@needs_data
def test_bpic_by_a_case_attribute(bpic_log: DealLog) -> None:
    """XES case attributes are columns ``case:<key>``: loans by the amount applied for,
    counted in the XES text (each trace's attributes come before its first event)."""
    text = gzip.decompress(BPIC.read_bytes())
    heads = [t.split(b"<event", 1)[0] for t in text.split(b"<trace>")[1:]]
    amounts = [re.search(rb'key="AMOUNT_REQ" value="([^"]*)"', h) for h in heads]
    wanted = [m.group(1).decode() for m in amounts if m is not None]
    assert len(heads) == len(wanted) == 13_087
    log = bpic_log
    assert log.filter(where={"case:AMOUNT_REQ": ["5000"]}).deals == wanted.count("5000")
    table = breakdown(log, "case:AMOUNT_REQ")
    top = table.groups[0]
    most = min(set(wanted), key=lambda v: (-wanted.count(v), v))  # ties: by name
    assert (top.group, top.deals) == (most, wanted.count(most))
    assert sum(r.deals for r in table.groups) == 13_087


# ---- the CLI, end to end -------------------------------------------------------------------


@needs_data
def test_cli_maven_by_product_is_one_table() -> None:
    code, out, _ = cli("metrics", str(MAVEN), "--by", "product")
    assert code == 0
    assert "==" not in out  # not one report per group
    lines = out.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("product "))
    rows = [line.split("  ")[0].strip() for line in lines[header + 2 :] if line[:1] != "-"]
    assert rows[0] == "GTX Basic" and rows[-1] == "all" and len(rows) == 8
    assert "Engaging" in lines[header]
    code, out, _ = cli("metrics", str(MAVEN), "--by", "product", "--format", "json")
    data = json.loads(out)
    assert data["by"] == "product" and data["all"]["deals"] == 8300
    assert [g["group"] for g in data["groups"]][:2] == ["GTX Basic", "MG Special"]


@needs_data
def test_cli_olist_by_origin() -> None:
    code, out, _ = cli("metrics", str(OLIST), "--lenient", "--by", "origin")
    assert code == 0
    assert re.search(r"^organic_search +2,295 +270 ", out, re.M)
    assert re.search(r"^all +7,999 +841 ", out, re.M)


@needs_data
def test_cli_filters_in_the_header_and_on_stderr() -> None:
    code, out, err = cli(
        "metrics",
        str(MAVEN),
        "--where",
        "product=GTXPro",
        "--from",
        "2017-01-01",
        "--to",
        "2017-03-31",
        "--format",
        "json",
    )
    assert code == 0
    header = json.loads(out)["header"]
    rules = [(f["rule"], f["deals_after"]) for f in header["filters"]]
    raw = pl.read_csv(MAVEN, infer_schema=False)
    q1 = raw.filter(
        (pl.col("product") == "GTXPro")
        & pl.col("engage_date").is_between(pl.lit("2017-01-01"), pl.lit("2017-03-31"))
    )
    assert rules == [
        ("product = GTXPro", 1400),
        ("entered from 2017-01-01 to 2017-03-31", q1.height),
    ]
    assert header["deals"] == q1.height == 259
    assert "flowsim: note: filter product = GTXPro: kept 1,400 of 8,300 deals" in err


@needs_data
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--where", "prodct=GTXPro"], "no column 'prodct' (did you mean product?)"),
        (["--where", "product=GTX Pro"], "did you mean 'GTXPro'"),
        (["--where", "product"], "use COLUMN=VALUE"),
        (["--stages", "Z*"], "matches no stage; stages: Engaging, Lost, Won"),
        (["--from", "Jan 2017"], "is not a date"),
        (["--by", "prodct"], "cannot break down by 'prodct'"),
    ],
)
def test_cli_bad_rules_are_usage_errors(args: list[str], message: str) -> None:
    code, _, err = cli("metrics", str(MAVEN), *args)
    assert code == 2
    assert message in err


@needs_data
def test_every_log_command_takes_the_filters(tmp_path: Path) -> None:
    """discover reads the log the same way: the excluded stage is not in the model."""
    out = tmp_path / "d.flow"
    code, _, err = cli("discover", str(RUNNING), "--exclude-stages", "reinitiate*", "-o", str(out))
    assert code == 0, err
    assert "reinitiate" not in out.read_text(encoding="utf-8")
    assert "filter without stages reinitiate*: kept 6 of 6 deals, 39 of 42 records" in err


@needs_data
def test_values_with_a_comma_are_quoted(tmp_path: Path) -> None:
    path = tmp_path / "deals.csv"
    path.write_text(TINY.replace("north", '"north, east"'), encoding="utf-8")
    code, out, err = cli(
        "metrics", str(path), "--where", 'region="north, east"', "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["header"]["deals"] == 1


def test_conformance_measures_the_deals_of_the_window() -> None:
    """The simulated Chinese example (times in Shanghai): deals that entered from September."""
    log = Path(__file__).resolve().parents[2] / "examples" / "history" / "b2b-cn-deals.csv"
    flow = log.parents[1] / "b2b-cn.flow"
    raw = pl.read_csv(log, comment_prefix="#", infer_schema=False)
    first = raw.group_by("商机编号").agg(pl.col("进入时间").min())
    expected = first.filter(pl.col("进入时间") >= "2025-09-01").height
    code, out, err = cli(
        "conformance",
        str(log),
        "--process",
        str(flow),
        "--tz",
        "Asia/Shanghai",
        "--from",
        "2025-09-01",
        "--format",
        "json",
    )
    assert code == 0, err
    assert 0 < expected < first.height
    assert json.loads(out)["deals"] == expected
    assert f"kept {expected:,} of {first.height:,} deals" in err


def test_filters_without_a_history_are_refused() -> None:
    flow = Path(__file__).resolve().parents[2] / "examples" / "saas-en.flow"
    code, _, err = cli("simulate", str(flow), "--stages", "contact")
    assert code == 2
    assert "filter --history" in err


@needs_data
def test_typed_sources_give_the_same_table(tmp_path: Path, maven: DealLog) -> None:
    """Maven as Parquet with typed columns (dates, integers): the same groups as the CSV."""
    parquet = tmp_path / "sales_pipeline.parquet"
    pl.read_csv(MAVEN, try_parse_dates=True).write_parquet(parquet)
    typed = read_log(parquet)
    assert typed.attributes is not None and typed.attributes["close_value"].dtype.is_integer()
    assert breakdown(typed, "product").groups == breakdown(maven, "product").groups
    raw = pl.read_csv(MAVEN, infer_schema=False)
    zero = raw.filter(pl.col("close_value") == "0").height  # typed 0, text "0": one value
    assert typed.filter(where={"close_value": ["0"]}).deals == zero
    assert maven.filter(where={"close_value": ["0"]}).deals == zero
