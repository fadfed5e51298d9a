"""Key numbers of the shared real exports, computed with polars alone (no flowsim import).

docs/real-data.md prints them beside what flowsim says, and tests/test_real_data.py holds the
two equal. Usage: ``python scripts/crosscheck.py maven|olist|bpic|helpdesk [DATA_DIR]``.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parent.parent


def _data(argv: list[str]) -> Path:
    if len(argv) > 2:
        return Path(argv[2])
    for candidate in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if candidate.is_dir():
            return candidate
    raise SystemExit("the shared data folder is missing")


def maven(data: Path) -> dict[str, object]:
    """Deals with a dated stage (Prospecting rows have none), won, lost, open, win rate."""
    f = pl.read_csv(data / "maven-crm-sales-opportunities" / "sales_pipeline.csv")
    dated = f.filter(pl.col("engage_date").is_not_null())
    won = dated.filter(pl.col("deal_stage") == "Won").height
    lost = dated.filter(pl.col("deal_stage") == "Lost").height
    agents = dated["sales_agent"].n_unique()
    return {
        "deals": dated.height,
        "won": won,
        "lost": lost,
        "open": dated.height - won - lost,
        "win rate": f"{100 * won / (won + lost):.1f}%",
        "agents": agents,
        "skipped (no dated stage)": f.height - dated.height,
    }


def _aalen_johansen(days: np.ndarray, event: np.ndarray) -> float:
    order = np.lexsort((~event, days))
    at_risk = len(days) - np.arange(len(days))
    return float(1 - np.prod(np.where(event[order], 1 - 1 / at_risk, 1.0)))


def olist(data: Path) -> dict[str, object]:
    """Leads, won, and P(won) with the leads still open censored (Aalen–Johansen)."""
    folder = data / "olist-marketing-funnel"
    leads = pl.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv").select(
        "mql_id", first=pl.col("first_contact_date").str.to_datetime("%Y-%m-%d")
    )
    won = pl.read_csv(folder / "olist_closed_deals_dataset.csv").select(
        "mql_id", won=pl.col("won_date").str.to_datetime("%Y-%m-%d %H:%M:%S")
    )
    both = leads.join(won, on="mql_id", how="left")
    bad = both.filter(pl.col("won") < pl.col("first")).height  # won before its first contact
    ok = both.filter(pl.col("won").is_null() | (pl.col("won") >= pl.col("first")))
    end = max(ok["first"].max(), ok["won"].max())  # type: ignore[type-var]
    days = (pl.coalesce("won", pl.lit(end)) - pl.col("first")).dt.total_seconds() / 86400
    part = ok.select(days=days, event=pl.col("won").is_not_null())
    p_won = _aalen_johansen(part["days"].to_numpy(), part["event"].to_numpy())
    quiet = ok.filter(
        pl.col("won").is_null() & (pl.col("first") + pl.duration(days=90) <= end)
    ).height
    return {
        "leads": ok.height,
        "won": int(part["event"].sum()),
        "won before first contact (skipped with --lenient)": bad,
        "P(won), open leads censored": f"{100 * p_won:.1f}%",
        "not won and quiet for 90 days": quiet,
    }


def _traces(path: Path) -> list[list[str]]:
    """Each trace's activity names in file order (a regex over the XES text, no XES reader)."""
    with gzip.open(path, "rt", encoding="utf-8") as f:
        text = f.read()
    out = []
    for trace in re.findall(r"<trace>(.*?)</trace>", text, flags=re.S):
        events = re.findall(r"<event>(.*?)</event>", trace, flags=re.S)
        names = [re.search(r'key="concept:name" value="([^"]*)"', e) for e in events]
        out.append([m.group(1) for m in names if m])
    return out


def bpic(data: Path) -> dict[str, object]:
    """Cases by the application's decision activities (SOURCE.md's outcome counts)."""
    traces = _traces(data / "bpic2012" / "bpic2012.xes.gz")
    approved = sum("A_APPROVED" in t for t in traces)
    declined = sum("A_DECLINED" in t for t in traces)
    cancelled = sum("A_CANCELLED" in t for t in traces)
    return {
        "cases": len(traces),
        "approved": approved,
        "declined": declined,
        "cancelled": cancelled,
        "open": len(traces) - approved - declined - cancelled,
        "events": sum(len(t) for t in traces),
    }


def helpdesk(data: Path) -> dict[str, object]:
    traces = _traces(data / "pm4py-logs" / "helpdesk.xes.gz")
    return {
        "tickets": len(traces),
        "closed": sum("Closed" in t for t in traces),
        "starting at 'Insert ticket'": sum(bool(t) and t[0] == "Insert ticket" for t in traces),
    }


def main(argv: list[str]) -> None:
    jobs = {"maven": maven, "olist": olist, "bpic": bpic, "helpdesk": helpdesk}
    if len(argv) < 2 or argv[1] not in jobs:
        raise SystemExit(f"usage: crosscheck.py {'|'.join(jobs)} [DATA_DIR]")
    for key, value in jobs[argv[1]](_data(argv)).items():
        print(f"{key}: {value:,}" if isinstance(value, int) else f"{key}: {value}")


if __name__ == "__main__":
    main(sys.argv)
