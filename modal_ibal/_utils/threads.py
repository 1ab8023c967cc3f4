"""BLAS thread limits, re-entrant across threads, and a pool of row blocks."""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor

from threadpoolctl import ThreadpoolController

from .locks import SharedHold

__all__ = ["blas_workers", "one_blas_thread", "run_blocks"]


def blas_workers() -> int:
    """Threads for block work: as many as BLAS may use now, at most the usable CPUs.

    A limit set with threadpoolctl or ``OPENBLAS_NUM_THREADS`` is honoured.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    allowed = [info["num_threads"] for info in _blas_controller().info()]
    return max(1, min([cpus, *allowed]))


@functools.cache
def _blas_controller():
    return ThreadpoolController().select(user_api="blas")


_ONE_THREAD = SharedHold(lambda: _blas_controller().limit(limits=1),
                         lambda limiter: limiter.restore_original_limits())


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """A context in which BLAS uses one thread; the caller's limits come back on exit.

    Re-entrant and thread-safe: BLAS limits belong to the whole process, so the
    first context to enter (in any thread) sets the limit and the last to exit
    restores what was there before; contexts entered and left in any order, from
    several threads (Dask's threaded scheduler), never leave the process at one
    thread (:class:`modal_ibal._utils.locks.SharedHold`).

    It reuses one controller of the BLAS libraries: ``threadpool_limits`` scans the
    process's libraries on every call (about 2 ms), which cost an IBAL query over
    1,000,000 pool points, scored in 62 chunks, 0.11 s. The controller knows the BLAS
    libraries loaded at its first use (importing this package loads numpy's, scipy's
    and torch's); one loaded later is not limited.
    """
    with _ONE_THREAD.held():
        yield


def run_blocks(task: Callable[[int], object], starts: Iterable[int], n_workers: int) -> None:
    """``task(start)`` for every start: in ``n_workers`` threads on one BLAS thread each.

    The tasks must write disjoint outputs; a task's error is raised here.
    """
    starts = list(starts)
    if len(starts) <= 1:  # one block, nothing to share out
        for start in starts:
            task(start)
        return
    with one_blas_thread():
        if n_workers == 1:
            for start in starts:
                task(start)
        else:
            with ThreadPoolExecutor(n_workers) as executor:
                for _ in executor.map(task, starts):  # re-raises a block's error
                    pass
