"""Wall-clock timing under a budget, and the thread limits a whole run shares.

:func:`time_runs` calls a query up to ``repeats`` times with
``time.perf_counter``, garbage collector on, one ``gc.collect()`` before the
first call, and stops once the calls have used ``budget_s`` seconds (at least
one call). :func:`thread_limit` limits torch, BLAS and OpenMP alike.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

import torch
from threadpoolctl import threadpool_limits


def time_runs(fn: Callable[[], Any], repeats: int, budget_s: float, *,
              probe: Callable[[Callable[[], Any]], Any] | None = None) -> tuple[list[float], Any]:
    """Wall times of up to ``repeats`` calls of ``fn``, stopping once they add up to ``budget_s``.

    ``probe``, if given, wraps the first call: ``probe(call)`` runs ``call`` once
    and returns what it measured around it (e.g. :func:`benchmarks.memory.peak_extra`);
    only ``fn`` itself is timed.

    Returns
    -------
    runs : list of float
        Seconds per call, at least one.
    probed : object
        What ``probe`` returned, or None without one.
    """
    runs: list[float] = []
    probed = None

    def call() -> None:
        start = time.perf_counter()
        fn()
        runs.append(time.perf_counter() - start)

    gc.collect()
    while not runs or (len(runs) < repeats and sum(runs) < budget_s):
        if probe is not None and not runs:
            probed = probe(call)
        else:
            call()
    return runs, probed


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """torch, BLAS and OpenMP limited to ``threads`` inside the block (None: untouched)."""
    if not threads:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            yield
    finally:
        torch.set_num_threads(before)
