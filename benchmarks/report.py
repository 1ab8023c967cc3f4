"""The results: one :class:`Row` per (pool, N, n, strategy), their ratios, the tables.

:func:`fill_ratios` sets medians and the ratios to modAL's ``entropy_sampling``,
to the floor and to floor + scoring; :func:`markdown` writes the report,
:func:`write_csv` the raw table, :func:`machine` and :func:`load_average` what
the report says about the machine.
"""

from __future__ import annotations

import csv
import math
import os
import platform
import statistics
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import torch
from threadpoolctl import threadpool_info

from .queries import ENTROPY, FLOOR
from .workloads import N_INSTANCES


@dataclass
class Row:
    """One strategy on one (pool, N, n): its timed runs and what is derived from them."""

    pool: str
    n_pool: int
    n_labelled: int
    strategy: str
    runs: list[float]
    scoring_runs: list[float] = field(default_factory=list)
    median_s: float = math.nan
    scoring_s: float = math.nan
    floor_plus_scoring_s: float = math.nan
    x_entropy: float = math.nan
    x_floor: float = math.nan
    x_floor_scoring: float = math.nan
    peak_extra_bytes: float = math.nan
    peak_rss_bytes: float = math.nan


def fill_ratios(rows: list[Row]) -> None:
    """Set every row's medians and its ratios to the entropy and floor rows of its case."""
    by_case: dict[tuple, dict[str, Row]] = {}
    for row in rows:
        row.median_s = statistics.median(row.runs)
        if row.scoring_runs:
            row.scoring_s = statistics.median(row.scoring_runs)
        by_case.setdefault((row.pool, row.n_pool, row.n_labelled), {})[row.strategy] = row
    for group in by_case.values():
        entropy, floor = group[ENTROPY].median_s, group[FLOOR].median_s
        for row in group.values():
            row.x_entropy = row.median_s / entropy
            row.x_floor = row.median_s / floor
            if row.scoring_runs:
                row.floor_plus_scoring_s = floor + row.scoring_s
                row.x_floor_scoring = row.median_s / row.floor_plus_scoring_s


def machine() -> dict[str, str]:
    """CPU, core and thread counts, and the versions of the libraries the run used."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    versions = {name: metadata.version(dist) for name, dist in [
        ("torch", "torch"), ("skorch", "skorch"), ("scikit-learn", "scikit-learn"),
        ("numpy", "numpy"), ("scipy", "scipy"), ("modAL", "modAL-python")]}
    return {
        "nproc": str(os.cpu_count()),
        "cpu": model,
        "python": platform.python_version(),
        "torch threads": str(torch.get_num_threads()),
        "BLAS threads": ",".join(str(i["num_threads"]) for i in threadpool_info()
                                 if i["user_api"] == "blas"),
        **versions,
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages, or "n/a"."""
    try:
        return " / ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def _ms(seconds: float) -> str:
    if math.isnan(seconds):
        return "-"
    return f"{1e3 * seconds:,.1f}" if seconds < 10 else f"{1e3 * seconds:,.0f}"


def _x(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{ratio:.3g}"


def _mb(size: float) -> str:
    return "-" if math.isnan(size) else f"{size / 2**20:,.1f}"


def markdown(rows: list[Row], *, command: str, info: dict, loads: dict, notes: list[str],
             memory: str) -> str:
    """The report: how it was run, one table per (pool, N, n), and the growth table."""
    lines = ["# Query speed: IBAL strategies against modAL's entropy_sampling", ""]
    lines += [f"Command: `{command}`", ""]
    lines += ["Machine: " + ", ".join(f"{k} {v}" for k, v in info.items()) + ".", ""]
    lines += ["Load average (1, 5, 15 min): " + "; ".join(f"{k} {v}" for k, v in loads.items())
              + ".", ""]
    lines += [
        f"Each query asks for {N_INSTANCES} points. Time: median of the runs shown "
        "(`time.perf_counter`). Ratios: to modAL's `entropy_sampling` on the same net and pool "
        "(skorch `predict_proba`), to the bare forward pass (floor), and to the floor plus the "
        "strategy's own work given the pool's final-layer outputs (floor + scoring; timed where "
        "one query took less than --budget, for the strategies benchmarks/queries.py scores from "
        "given outputs). Peak extra: "
        f"resident memory a query adds ({memory}; see benchmarks/memory.py); peak RSS: the "
        "whole measuring process. Strategies blind to the labelled set were timed once per N.",
        "",
    ]
    lines += [f"Note: {note}" for note in notes]
    header = ("| strategy | runs | median ms | x entropy | x floor | floor+scoring ms "
              "| x (floor+scoring) | peak extra MB | bytes/point | peak RSS MB |")
    rule = "|" + "---|" * 10
    cases = sorted({(r.pool, r.n_pool, r.n_labelled) for r in rows},
                   key=lambda c: (c[0] != "vector", c[1], c[2]))
    for pool, n_pool, n_labelled in cases:
        lines += ["", f"## {pool} pool, N = {n_pool:,}, n = {n_labelled:,} labelled", "",
                  header, rule]
        for r in (r for r in rows if (r.pool, r.n_pool, r.n_labelled) == (pool, n_pool,
                                                                         n_labelled)):
            per_point = "-" if math.isnan(r.peak_extra_bytes) else \
                f"{r.peak_extra_bytes / n_pool:,.0f}"
            lines.append(
                f"| {r.strategy} | {len(r.runs)} | {_ms(r.median_s)} | {_x(r.x_entropy)} "
                f"| {_x(r.x_floor)} | {_ms(r.floor_plus_scoring_s)} | {_x(r.x_floor_scoring)} "
                f"| {_mb(r.peak_extra_bytes)} | {per_point} | {_mb(r.peak_rss_bytes)} |"
            )
    lines += ["", *growth_table(rows), ""]
    return "\n".join(lines)


def growth_table(rows: list[Row]) -> list[str]:
    """How time and memory grow with N (log-log slope) and with n, on the vector pool."""
    vector = [r for r in rows if r.pool == "vector"]
    sizes = sorted({r.n_pool for r in vector})
    labelled = sorted({r.n_labelled for r in vector})
    if len(sizes) < 2 and len(labelled) < 2:
        return []
    index = {(r.strategy, r.n_pool, r.n_labelled): r for r in vector}
    names = list(dict.fromkeys(r.strategy for r in vector))
    small, large, mid = sizes[0], sizes[-1], sizes[len(sizes) // 2]
    lines = [
        "## Growth (vector pool)", "",
        f"Time exponent: slope of log(time) against log(N) from N = {small:,} to {large:,} "
        "(1 = linear). n ratio: time at the largest n over time at the smallest, at "
        f"N = {mid:,}. Bytes/point: peak extra memory over N at N = {large:,}.", "",
        "| strategy | " + " | ".join(f"time exponent (n={n:,})" for n in labelled)
        + " | n ratio | " + " | ".join(f"bytes/point (n={n:,})" for n in labelled) + " |",
        "|" + "---|" * (2 + 2 * len(labelled)),
    ]
    for name in names:
        exponents, per_point = [], []
        for n in labelled:
            a, b = index.get((name, small, n)), index.get((name, large, n))
            exponents.append("-" if a is None or b is None or small == large else
                             f"{math.log(b.median_s / a.median_s) / math.log(large / small):.2f}")
            per_point.append("-" if b is None or math.isnan(b.peak_extra_bytes) else
                             f"{b.peak_extra_bytes / large:,.0f}")
        lo, hi = index.get((name, mid, labelled[0])), index.get((name, mid, labelled[-1]))
        n_ratio = "-" if lo is None or hi is None else f"{hi.median_s / lo.median_s:.2f}"
        lines.append(f"| {name} | " + " | ".join(exponents) + f" | {n_ratio} | "
                     + " | ".join(per_point) + " |")
    return lines


def write_csv(rows: list[Row], path: Path) -> None:
    """Every row with its raw runs, one line per (pool, N, n, strategy)."""
    fields = ["pool", "n_pool", "n_labelled", "strategy", "n_runs", "median_s", "min_s",
              "scoring_s", "floor_plus_scoring_s", "x_entropy", "x_floor", "x_floor_scoring",
              "peak_extra_bytes", "peak_rss_bytes", "runs_s"]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        for r in rows:
            writer.writerow({
                "pool": r.pool, "n_pool": r.n_pool, "n_labelled": r.n_labelled,
                "strategy": r.strategy, "n_runs": len(r.runs), "median_s": r.median_s,
                "min_s": min(r.runs), "scoring_s": r.scoring_s,
                "floor_plus_scoring_s": r.floor_plus_scoring_s, "x_entropy": r.x_entropy,
                "x_floor": r.x_floor, "x_floor_scoring": r.x_floor_scoring,
                "peak_extra_bytes": r.peak_extra_bytes, "peak_rss_bytes": r.peak_rss_bytes,
                "runs_s": " ".join(f"{t:.6f}" for t in r.runs),
            })
