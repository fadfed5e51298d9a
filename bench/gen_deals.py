"""Seeded generator of long deal logs (CSV and Parquet) for ``bench_history.py``.

One row per stay of a deal in a stage, columns ``deal_id, stage, entered_at, left_at, owner,
amount``, sorted by ``(deal_id, entered_at)``. The process: contact -> needs -> design ->
negotiate -> won | lost, with leakage to ``lost`` from every stage (20 / 25 / 15 / 45 %), a
rework loop design -> needs (10 % of design exits), lognormal dwell (medians 2 / 6 / 9 / 12
days, sigma 0.7-0.9), 8 owners with skewed shares, lognormal amounts (median 25,000) and
arrivals uniform over two years (2023-2024). A deal's terminal row (``won``/``lost``) has
``entered_at`` = close time and an empty ``left_at``; every other row's ``left_at`` is the next
row's ``entered_at``. Every deal is closed (no right-censoring), so every figure is exact.

Vectorised with numpy: one loop over *steps* (a deal's n-th stage visit, about 4-12 steps),
never over deals or rows. The same ``(deals, seed)`` gives byte-identical files. Files go to a
cache directory under ``/tmp`` (``--dir``), never into the repository, and are reused when
present.

Run: ``.venv/bin/python bench/gen_deals.py --deals 200000 [--seed 42] [--dir DIR]``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import polars as pl

CACHE = Path("/tmp/flowsim-bench")
#: bump when the generator's output changes, so cached files are not reused
VERSION = 1

STAGES = ("contact", "needs", "design", "negotiate", "won", "lost")
CONTACT, NEEDS, DESIGN, NEGOTIATE, WON, LOST = range(6)
#: per open stage: dwell median (days), lognormal sigma, share leaking to lost
DWELL_MEDIAN_DAYS = {CONTACT: 2.0, NEEDS: 6.0, DESIGN: 9.0, NEGOTIATE: 12.0}
DWELL_SIGMA = {CONTACT: 0.7, NEEDS: 0.8, DESIGN: 0.9, NEGOTIATE: 0.8}
LEAK = {CONTACT: 0.20, NEEDS: 0.25, DESIGN: 0.15, NEGOTIATE: 0.45}
REWORK = 0.10  # design -> needs, share of design exits
OWNERS = ("ana", "bo", "chen", "dev", "eli", "fay", "gus", "hui")
OWNER_SHARES = np.array([0.30, 0.20, 0.15, 0.10, 0.09, 0.07, 0.05, 0.04])
AMOUNT_MEDIAN = 25_000.0
AMOUNT_SIGMA = 0.8
WINDOW_START = np.datetime64("2023-01-01T00:00:00", "s")
WINDOW_SECONDS = 2 * 365 * 86_400
MAX_STEPS = 40  # rework is geometric; no deal comes near this


def paths(deals: str | Path | int, seed: int = 42, cache: Path = CACHE) -> tuple[Path, Path]:
    """The cached CSV and Parquet paths for ``deals`` deals and ``seed``."""
    stem = f"deals-v{VERSION}-n{int(deals)}-s{seed}"
    return cache / f"{stem}.csv", cache / f"{stem}.parquet"


def generate(deals: int, seed: int = 42) -> pl.DataFrame:
    """The log of ``deals`` deals as a polars frame (timestamps: Datetime('us', 'UTC'))."""
    rng = np.random.default_rng(seed)
    ids = np.arange(deals, dtype=np.int64)
    owner = rng.choice(len(OWNERS), size=deals, p=OWNER_SHARES)
    amount = np.round(np.exp(np.log(AMOUNT_MEDIAN) + AMOUNT_SIGMA * rng.standard_normal(deals)), 2)
    start = rng.integers(0, WINDOW_SECONDS, size=deals)

    rows_deal: list[np.ndarray] = []
    rows_step: list[np.ndarray] = []
    rows_stage: list[np.ndarray] = []
    rows_in: list[np.ndarray] = []
    rows_out: list[np.ndarray] = []

    active = ids
    stage = np.full(deals, CONTACT, dtype=np.int8)
    clock = start.astype(np.int64)
    for step in range(MAX_STEPS):
        if active.size == 0:
            break
        n = active.size
        terminal = stage >= WON
        dwell = np.zeros(n, dtype=np.int64)
        nxt = stage.copy()
        u = rng.random(n)
        z = rng.standard_normal(n)
        for s in (CONTACT, NEEDS, DESIGN, NEGOTIATE):
            m = stage == s
            if not m.any():
                continue
            days = np.exp(np.log(DWELL_MEDIAN_DAYS[s]) + DWELL_SIGMA[s] * z[m])
            dwell[m] = np.maximum(1, np.round(days * 86_400)).astype(np.int64)
            lost = u[m] < LEAK[s]
            forward = {CONTACT: NEEDS, NEEDS: DESIGN, DESIGN: NEGOTIATE, NEGOTIATE: WON}[s]
            go = np.where(lost, LOST, forward).astype(np.int8)
            if s == DESIGN:
                back = (u[m] >= LEAK[s]) & (u[m] < LEAK[s] + REWORK)
                go[back] = NEEDS
            nxt[m] = go
        rows_deal.append(active)
        rows_step.append(np.full(n, step, dtype=np.int16))
        rows_stage.append(stage)
        rows_in.append(clock)
        rows_out.append(np.where(terminal, -1, clock + dwell))
        keep = ~terminal
        active, stage, clock = active[keep], nxt[keep], (clock + dwell)[keep]
    else:  # pragma: no cover - only with absurd parameters
        raise RuntimeError("deals still open after MAX_STEPS")

    deal = np.concatenate(rows_deal)
    order = np.lexsort((np.concatenate(rows_step), deal))
    deal = deal[order]
    entered = np.concatenate(rows_in)[order]
    left = np.concatenate(rows_out)[order]
    width = len(str(max(deals - 1, 0)))
    base_us = WINDOW_START.astype("datetime64[us]").astype(np.int64)
    frame = pl.DataFrame(
        {
            "deal": deal,
            "stage": np.concatenate(rows_stage)[order],
            "entered_at": base_us + entered * 1_000_000,
            "left_at": np.where(left < 0, np.int64(-1), base_us + left * 1_000_000),
            "owner": owner[deal],
            "amount": amount[deal],
        }
    )
    utc = pl.Datetime("us", "UTC")
    return frame.select(
        ("D" + pl.col("deal").cast(pl.String).str.zfill(width)).alias("deal_id"),
        pl.col("stage").replace_strict(dict(enumerate(STAGES)), return_dtype=pl.String),
        pl.col("entered_at").cast(utc),
        pl.when(pl.col("left_at") >= 0).then(pl.col("left_at")).cast(utc).alias("left_at"),
        pl.col("owner").replace_strict(dict(enumerate(OWNERS)), return_dtype=pl.String),
        pl.col("amount"),
    )


def write(deals: int, seed: int = 42, cache: Path = CACHE, *, force: bool = False) -> dict:
    """Write (or reuse) the CSV and Parquet files; returns paths, rows and timings."""
    csv_path, pq_path = paths(deals, seed, cache)
    info: dict = {"deals": deals, "seed": seed, "csv": str(csv_path), "parquet": str(pq_path)}
    if csv_path.is_file() and pq_path.is_file() and not force:
        info["rows"] = pl.scan_parquet(pq_path).select(pl.len()).collect().item()
        info["cached"] = True
        return info
    cache.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    frame = generate(deals, seed)
    t1 = time.perf_counter()
    # CSV: naive "YYYY-MM-DD HH:MM:SS" in UTC, as a CRM export writes it; empty left_at = open
    tmp_csv = csv_path.with_suffix(".csv.tmp")
    frame.with_columns(pl.col("entered_at", "left_at").dt.strftime("%Y-%m-%d %H:%M:%S")).write_csv(
        tmp_csv
    )
    tmp_pq = pq_path.with_suffix(".parquet.tmp")
    frame.write_parquet(tmp_pq, compression="snappy", statistics=False)
    tmp_csv.replace(csv_path)
    tmp_pq.replace(pq_path)
    t2 = time.perf_counter()
    info.update(rows=frame.height, generate_s=t1 - t0, write_s=t2 - t1, cached=False)
    return info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deals", type=int, action="append", help="deals (repeatable)")
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--dir", type=Path, default=CACHE, help=f"cache directory (default {CACHE})")
    ap.add_argument("--force", action="store_true", help="regenerate even when cached")
    args = ap.parse_args()
    for n in args.deals or [200_000]:
        info = write(n, args.seed, args.dir, force=args.force)
        csv_mb = Path(info["csv"]).stat().st_size / 1e6
        pq_mb = Path(info["parquet"]).stat().st_size / 1e6
        took = "cached" if info["cached"] else f"{info['generate_s'] + info['write_s']:.1f} s"
        print(
            f"{n:,} deals: {info['rows']:,} rows, CSV {csv_mb:.0f} MB, Parquet {pq_mb:.0f} MB "
            f"({took}): {info['csv']}"
        )


if __name__ == "__main__":
    main()
