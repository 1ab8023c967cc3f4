r"""How often one ``default_sampling`` call reads the whole pool to check it, and how long it takes.

::

    python -m benchmarks.pool_scans [--scan-pool 50000] [--time-pool 1000000] [--dims 32]
                                    [--repeats 3] [--skip-time]

Scans
    ``numpy.isfinite`` is counted while one query runs on a ``--scan-pool`` x
    ``--dims`` float32 pool (a fitted logistic regression on 100 labels, so the
    margin weights are read too): a call whose array has at least as many rows as
    the pool and as many elements is a full-size scan, and the line of the library
    that made it is printed. Checking the pool once is the floor.
Time
    The median wall time of ``--repeats`` calls on a ``--time-pool`` x ``--dims``
    pool, same model, the picks printed so that two runs can be compared. The rows
    are 64 Gaussian clusters in 4 dimensions mapped linearly into ``--dims`` (codes
    of low intrinsic dimension, as an encoder gives), so the partitioned neighbour
    search meets its recall target and is kept.
"""

from __future__ import annotations

import argparse
import collections
import statistics
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.linear_model import LogisticRegression

from modal_ibal import default_sampling

N_LABELLED = 100
N_INSTANCES = 10


def clustered_pool(n_points: int, n_dims: int, seed: int = 0) -> tuple[np.ndarray, ...]:
    """``(X_labelled, y_labelled, X_pool)``: float32 rows around 64 centres, 4 classes."""
    rng = np.random.default_rng(seed)
    centres = 4.0 * rng.standard_normal((64, 4))
    which = rng.integers(0, 64, n_points + N_LABELLED)
    latent = centres[which] + rng.standard_normal((which.size, 4))
    X = (latent @ rng.standard_normal((4, n_dims))).astype(np.float32)
    y = which % 4
    return X[:N_LABELLED], y[:N_LABELLED], X[N_LABELLED:]


def count_scans(n_points: int, n_dims: int) -> collections.Counter:
    """The library lines that ran ``np.isfinite`` over a pool-sized array in one query."""
    X_labelled, y_labelled, X_pool = clustered_pool(n_points, n_dims)
    model = LogisticRegression(max_iter=500).fit(X_labelled, y_labelled)
    original, lines = np.isfinite, collections.Counter()

    def counting(x, *args, **kwargs):
        array = np.asarray(x)
        if array.ndim and array.shape[0] >= n_points and array.size >= n_points * n_dims:
            caller = traceback.extract_stack(limit=2)[0]
            lines[f"{Path(caller.filename).name}:{caller.lineno} ({caller.name})"] += 1
        return original(x, *args, **kwargs)

    np.isfinite = counting
    try:
        default_sampling(model, X_pool, N_INSTANCES, X_labelled=X_labelled, y_labelled=y_labelled)
    finally:
        np.isfinite = original
    return lines


def time_query(n_points: int, n_dims: int, repeats: int) -> tuple[float, np.ndarray]:
    """Median seconds of ``repeats`` queries, and the picks of the last."""
    X_labelled, y_labelled, X_pool = clustered_pool(n_points, n_dims)
    model = LogisticRegression(max_iter=500).fit(X_labelled, y_labelled)
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        picks, _ = default_sampling(model, X_pool, N_INSTANCES, X_labelled=X_labelled,
                                    y_labelled=y_labelled)
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds), picks


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scan-pool", type=int, default=50_000)
    parser.add_argument("--time-pool", type=int, default=1_000_000)
    parser.add_argument("--dims", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-time", action="store_true")
    args = parser.parse_args(argv)
    lines = count_scans(args.scan_pool, args.dims)
    print(f"full-size isfinite scans in one query of {args.scan_pool:,} x {args.dims}: "
          f"{sum(lines.values())}")
    for line, count in sorted(lines.items()):
        print(f"  {count} {line}")
    if not args.skip_time:
        seconds, picks = time_query(args.time_pool, args.dims, args.repeats)
        print(f"default_sampling at {args.time_pool:,} x {args.dims}: {seconds:.2f} s "
              f"(median of {args.repeats}); picks {picks.tolist()}")


if __name__ == "__main__":
    main()
