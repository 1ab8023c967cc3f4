"""Peak extra resident memory of a query: the ``VmHWM`` probe, inline or in child processes.

Resident memory counts numpy, torch and BLAS allocations alike (``tracemalloc``
would miss torch's; ``ru_maxrss`` cannot be reset). :func:`start_peak` runs
``gc.collect()``, glibc ``malloc_trim(0)`` (freed heap pages go back to the
kernel, so the query cannot reuse them unseen), ``echo 5 > /proc/self/clear_refs``
(the kernel resets the peak resident set size ``VmHWM`` to the current one) and
reads ``VmRSS``; :func:`end_peak` reads ``VmHWM``. Peak extra = ``VmHWM - VmRSS``
before: every page the query made resident, at its highest point. The peak RSS
is the whole process's ``VmHWM`` (interpreter, torch, the pool).

:func:`peak_extra` wraps one call in the timing process itself. :func:`attach_memory`
measures instead in fresh child processes, one per (pool, N, n) or one per strategy
too, each loading the same pickled nets and saved pool and running every strategy
once on a small pool first; the child is this module run as a script::

    python -m benchmarks.memory STATE KIND N_POOL N_LABELLED NAMES [--threads T]
"""

from __future__ import annotations

import argparse
import ctypes
import functools
import gc
import json
import math
import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .queries import strategies
from .report import Row
from .timing import thread_limit
from .workloads import WARMUP_POOL, Workload, make_case


@functools.cache
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc
        return None


def _malloc_trim() -> None:
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


def _status_bytes(key: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"/proc/self/status has no {key} line.")


def reset_peak() -> None:
    """Reset the kernel's peak RSS (VmHWM) to the current RSS (Linux >= 4.0)."""
    with open("/proc/self/clear_refs", "w") as clear_refs:
        clear_refs.write("5")


def memory_supported() -> bool:
    """Whether this process can reset and read its peak RSS."""
    try:
        reset_peak()
        _status_bytes("VmHWM")
    except OSError:
        return False
    return True


def start_peak() -> int:
    """Collect garbage, return freed heap to the kernel, reset VmHWM; the RSS before."""
    gc.collect()
    _malloc_trim()
    reset_peak()
    return _status_bytes("VmRSS")


def end_peak(before: int) -> tuple[int, int]:
    """(peak extra bytes, peak total bytes) since :func:`start_peak` returned ``before``."""
    peak = _status_bytes("VmHWM")
    return max(0, peak - before), peak


def peak_extra(fn: Callable[[], Any]) -> tuple[int, int]:
    """(peak extra bytes, peak total bytes) of resident memory while ``fn()`` runs."""
    before = start_peak()
    fn()
    return end_peak(before)


def _probe(state: Path, kind: str, n_pool: int, n_labelled: int, names: Sequence[str]) -> dict:
    """Child side: peak memory of each named strategy on one (pool, N, n)."""
    with open(state / f"{kind}.pkl", "rb") as handle:
        workload = pickle.load(handle)
    workload.pool = np.load(state / f"{kind}_pool.npy")
    chosen = [s for s in strategies() if s.name in names]
    small = make_case(workload, min(WARMUP_POOL, n_pool), n_labelled, outputs=False)
    for strategy in chosen:
        strategy.query(small)
    case = make_case(workload, n_pool, n_labelled, outputs=False)
    del small
    return {s.name: peak_extra(lambda s=s: s.query(case)) for s in chosen}


def measure_memory(state: Path, kind: str, n_pool: int, n_labelled: int,
                   names: Sequence[str], *, isolated: bool,
                   threads: int | None = None) -> dict[str, tuple[int, int]]:
    """Parent side: run the probe in fresh child processes; {name: (extra, peak)}."""
    groups = [[name] for name in names] if isolated else [list(names)]
    results = {}
    for group in groups:
        command = [sys.executable, "-m", "benchmarks.memory", str(state), kind,
                   str(n_pool), str(n_labelled), json.dumps(group)]
        if threads:
            command += ["--threads", str(threads)]
        done = subprocess.run(command, capture_output=True, text=True, check=False,
                              cwd=Path(__file__).resolve().parent.parent)
        if done.returncode != 0:
            raise RuntimeError(f"The memory probe failed:\n{done.stderr[-3000:]}")
        results.update({k: tuple(v) for k, v in json.loads(done.stdout.splitlines()[-1]).items()})
    return results


def attach_memory(workload: Workload, rows: list[Row], *, isolated: bool,
                  threads: int | None, log: Callable[[str], None]) -> None:
    """Measure every row's peak memory in child processes and store it on the rows."""
    with tempfile.TemporaryDirectory(prefix="query_speed_") as tmp:
        state = Path(tmp)
        np.save(state / f"{workload.kind}_pool.npy", workload.pool)
        pool, workload.pool = workload.pool, None
        try:
            with open(state / f"{workload.kind}.pkl", "wb") as handle:
                pickle.dump(workload, handle)
        finally:
            workload.pool = pool
        cases = sorted({(r.n_pool, r.n_labelled) for r in rows})
        for n_pool, n_labelled in cases:
            group = [r for r in rows if (r.n_pool, r.n_labelled) == (n_pool, n_labelled)]
            log(f"  memory: {workload.kind} N={n_pool:,} n={n_labelled:,}")
            found = measure_memory(state, workload.kind, n_pool, n_labelled,
                                   [r.strategy for r in group], isolated=isolated,
                                   threads=threads)
            for r in group:
                r.peak_extra_bytes, r.peak_rss_bytes = found.get(r.strategy, (math.nan, math.nan))


def _child(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.memory",
                                description="The child side of --memory grouped/isolated.")
    p.add_argument("state", type=Path, help="folder holding KIND.pkl and KIND_pool.npy")
    p.add_argument("kind", help="pool kind, 'vector' or 'image'")
    p.add_argument("n_pool", type=int, help="pool size N")
    p.add_argument("n_labelled", type=int, help="labelled-set size n")
    p.add_argument("names", type=json.loads, help="JSON list of strategy names")
    p.add_argument("--threads", type=int, default=None,
                   help="torch, BLAS and OpenMP threads (default: as the libraries start)")
    args = p.parse_args(argv)
    with thread_limit(args.threads):
        found = _probe(args.state, args.kind, args.n_pool, args.n_labelled, args.names)
    print(json.dumps(found))
    return 0


if __name__ == "__main__":
    sys.exit(_child())
