r"""A pool larger than memory: the strategies on a Dask pool against the same query in memory.

::

    python -m benchmarks.dask_pool [--n 2000000] [--features 64] [--chunk 100000]
                                   [--workers NPROC] [--labelled 100] [--batch 100]
                                   [--strategies ibal,ibal-d,entropy] [--in-memory-n N|0]
                                   [--out results/dask_pool]

The pool is ``--n`` x ``--features`` float32 standard normal rows, generated lazily
by ``dask.array.random.default_rng(0)`` in row chunks of ``--chunk``: no process
ever holds it whole, as if it were read from disk chunk by chunk. The model is a
tiny skorch MLP (``Linear(d, 32)-ReLU-Linear(32, 10)``, ``CrossEntropyLoss``) fitted
on ``--labelled`` rows labelled by a random linear teacher.

Dask
    A ``distributed.LocalCluster`` of ``--workers`` worker processes (default: the
    machine's cores), one thread each. Every strategy first runs once on the first
    two chunks (the workers import torch and load the model), then once on the whole
    pool, timed with ``time.perf_counter``. Peak memory per worker: each worker
    collects garbage, returns freed heap to the kernel and resets its peak resident
    set size (``VmHWM``, see :func:`benchmarks.query_speed.start_peak`) before the
    query; after it, its ``VmHWM`` less its resident size before is its peak extra
    memory, which includes the generated chunks. The caller's own peak extra is
    measured the same way.
In memory
    In a fresh child process, the first ``--in-memory-n`` rows of the same pool
    (default ``--n``; 0 skips it) are computed into one numpy array, and the same
    strategies run once on it, with the process's peak extra resident memory. Set
    ``--in-memory-n`` to the largest pool that fits in one machine's memory. At the
    same N, the picks are compared with the Dask picks: the share of the in-memory
    batch that the Dask query also picked (1 with the same order: the same batch).
"generate only"
    The wall time of a pass that generates every chunk and sums it, on the cluster:
    the share of a Dask query that a pool in memory does not pay.

Timings are single runs; the report says the load average before and after.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from skorch import NeuralNetClassifier
from torch import nn

import modal_ibal
from benchmarks.memory import end_peak, start_peak
from benchmarks.report import load_average, machine

N_CLASSES = 10
HIDDEN = 32
SEED = 0
STRATEGIES = {
    "ibal": modal_ibal.ibal_sampling,
    "ibal-d": modal_ibal.ibal_distance_sampling,
    "entropy-d": modal_ibal.entropy_distance_sampling,
    "entropy": modal_ibal.entropy_sampling,
    "margin": modal_ibal.margin_sampling,
    "default": modal_ibal.default_sampling,
    "herding": modal_ibal.herding_sampling,
}


def lazy_pool(n_pool: int, n_features: int, chunk: int):
    """The pool as a lazy Dask array: float32 standard normal rows, chunked along rows."""
    import dask.array as da

    return da.random.default_rng(SEED).standard_normal(
        (n_pool, n_features), chunks=(chunk, n_features), dtype=np.float32)


def labelled_set(n_labelled: int, n_features: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of the pool's distribution, labelled by a random linear teacher."""
    rng = np.random.default_rng(SEED + 1)
    X = rng.standard_normal((n_labelled, n_features), dtype=np.float32)
    teacher = rng.standard_normal((n_features, N_CLASSES))
    return X, (X @ teacher).argmax(axis=1)


def fit_model(X: np.ndarray, y: np.ndarray) -> NeuralNetClassifier:
    """The tiny MLP, fitted with a forked torch RNG (the caller's state is kept)."""
    module = nn.Sequential(nn.Linear(X.shape[1], HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, N_CLASSES))
    with torch.random.fork_rng():
        torch.manual_seed(SEED)
        net = NeuralNetClassifier(module, criterion=nn.CrossEntropyLoss, lr=0.05,
                                  max_epochs=30, batch_size=32, train_split=None, verbose=0,
                                  classes=np.arange(N_CLASSES))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return net.fit(X, y)


def query(name: str, model, X_pool, X_labelled, y_labelled, batch: int):
    """One query; entropy and margin take no labelled set."""
    if name in ("entropy", "margin"):
        return STRATEGIES[name](model, X_pool, batch)
    return STRATEGIES[name](model, X_pool, batch, X_labelled=X_labelled, y_labelled=y_labelled)


def _worker_start_peak() -> int:
    return start_peak()


def _worker_end_peak(befores: dict, dask_worker=None) -> tuple[int, int]:
    return end_peak(befores[dask_worker.address])


def run_dask(args, model, X_labelled, y_labelled) -> dict:
    """Per strategy: wall time, peak extra memory of each worker and of the caller, picks."""
    from distributed import Client, LocalCluster

    results = {}
    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        pool = lazy_pool(args.n, args.features, args.chunk)
        start = time.perf_counter()
        pool.sum().compute()
        results["generate only"] = {"seconds": time.perf_counter() - start}
        for name in args.strategies:
            query(name, model, pool[: 2 * args.chunk], X_labelled, y_labelled, args.batch)
            befores = client.run(_worker_start_peak)
            caller_before = start_peak()
            start = time.perf_counter()
            indices, _ = query(name, model, pool, X_labelled, y_labelled, args.batch)
            seconds = time.perf_counter() - start
            caller = end_peak(caller_before)
            workers = client.run(_worker_end_peak, befores)
            results[name] = {
                "seconds": seconds,
                "worker_peak_extra": sorted(extra for extra, _ in workers.values()),
                "worker_peak_rss": sorted(total for _, total in workers.values()),
                "caller_peak_extra": caller[0],
                "indices": indices.tolist(),
            }
    return results


def run_in_memory(args, state: Path) -> dict:
    """Child process: the same queries on the first ``--in-memory-n`` rows, held in memory."""
    with open(state, "rb") as handle:
        model, X_labelled, y_labelled = pickle.load(handle)
    pool = lazy_pool(args.n, args.features, args.chunk)[: args.in_memory_n]
    X_pool = pool.compute(scheduler="threads")
    results = {}
    for name in args.strategies:
        query(name, model, X_pool[: 2 * args.chunk], X_labelled, y_labelled, args.batch)
        before = start_peak()
        start = time.perf_counter()
        indices, _ = query(name, model, X_pool, X_labelled, y_labelled, args.batch)
        seconds = time.perf_counter() - start
        extra, peak = end_peak(before)
        results[name] = {"seconds": seconds, "peak_extra": extra, "peak_rss": peak,
                         "indices": indices.tolist()}
    return results


def _mb(size: float) -> str:
    return f"{size / 2**20:,.0f}"


def report(args, dask_results: dict, memory_results: dict | None, loads: tuple[str, str]) -> str:
    lines = [
        f"Pool {args.n:,} x {args.features} float32 in chunks of {args.chunk:,} rows "
        f"({args.n // args.chunk} chunks), {args.labelled} labelled, batch {args.batch}; "
        f"{args.workers} worker processes x 1 thread.",
        f"Machine: {json.dumps(machine())}",
        f"Load average before / after: {loads[0]} | {loads[1]}",
        f"Generating and summing the pool alone on the cluster: "
        f"{dask_results['generate only']['seconds']:.1f} s.",
        "",
        "| strategy | Dask s | peak extra per worker MB | worker peak RSS MB | caller peak "
        f"extra MB | in memory (N = {args.in_memory_n:,}) s | in memory peak extra MB | "
        "share of in-memory picks |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in args.strategies:
        row = dask_results[name]
        memory = (memory_results or {}).get(name)
        same = "-"
        if memory is not None and args.in_memory_n == args.n:
            shared = len(set(memory["indices"]) & set(row["indices"])) / len(row["indices"])
            same = ("1 (same order)" if memory["indices"] == row["indices"]
                    else f"{shared:.3f}")
        lines.append(
            f"| {name} | {row['seconds']:.1f} | "
            f"{' / '.join(_mb(x) for x in row['worker_peak_extra'])} | "
            f"{' / '.join(_mb(x) for x in row['worker_peak_rss'])} | "
            f"{_mb(row['caller_peak_extra'])} | "
            f"{'-' if memory is None else format(memory['seconds'], '.1f')} | "
            f"{'-' if memory is None else _mb(memory['peak_extra'])} | {same} |")
    return "\n".join(lines)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dask_pool",
                                description=__doc__.split("\n", 1)[0])
    p.add_argument("--n", type=int, default=2_000_000, help="pool rows")
    p.add_argument("--features", type=int, default=64)
    p.add_argument("--chunk", type=int, default=100_000, help="rows per Dask chunk")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="worker processes, one thread each (default: the machine's cores)")
    p.add_argument("--labelled", type=int, default=100)
    p.add_argument("--batch", type=int, default=100, help="points per query")
    p.add_argument("--strategies", type=lambda text: text.split(","),
                   default=["ibal", "ibal-d", "entropy"],
                   help=f"comma-separated, from {','.join(STRATEGIES)}")
    p.add_argument("--in-memory-n", type=int, default=None,
                   help="rows of the one-process comparison (default --n; 0 skips it)")
    p.add_argument("--out", type=Path, default=None, help="folder for report.md and results.json")
    p.add_argument("--in-memory-probe", type=Path, help=argparse.SUPPRESS)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    unknown = [name for name in args.strategies if name not in STRATEGIES]
    if unknown:
        parser().error(f"unknown strategies {unknown}; choose from {list(STRATEGIES)}")
    args.in_memory_n = args.n if args.in_memory_n is None else min(args.in_memory_n, args.n)
    if args.in_memory_probe is not None:
        print(json.dumps(run_in_memory(args, args.in_memory_probe)))
        return 0
    loads = [load_average()]
    X_labelled, y_labelled = labelled_set(args.labelled, args.features)
    model = fit_model(X_labelled, y_labelled)
    dask_results = run_dask(args, model, X_labelled, y_labelled)
    memory_results = None
    if args.in_memory_n:
        with tempfile.TemporaryDirectory() as folder:
            state = Path(folder) / "state.pkl"
            with open(state, "wb") as handle:
                pickle.dump((model, X_labelled, y_labelled), handle)
            child = subprocess.run(
                [sys.executable, "-m", "benchmarks.dask_pool", *(argv or sys.argv[1:]),
                 "--in-memory-probe", str(state)],
                capture_output=True, text=True, check=False,
                cwd=Path(__file__).resolve().parent.parent)
        if child.returncode != 0:
            raise RuntimeError(f"The in-memory run failed:\n{child.stderr[-3000:]}")
        memory_results = json.loads(child.stdout.splitlines()[-1])
    loads.append(load_average())
    text = report(args, dask_results, memory_results, tuple(loads))
    print(text)
    if args.out is not None:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "report.md").write_text(text + "\n")
        (args.out / "results.json").write_text(json.dumps(
            {"dask": dask_results, "in_memory": memory_results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
