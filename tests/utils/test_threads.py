"""BLAS thread limits: one_blas_thread restores the caller's limits, whatever the interleaving."""

from __future__ import annotations

import subprocess
import sys
import threading

import numpy as np
import pytest

import modal_ibal._utils.threads as threads_module
from modal_ibal._utils.threads import one_blas_thread, run_blocks

_NESTING_CHECK = """
from threadpoolctl import ThreadpoolController, threadpool_limits
from modal_ibal._utils.threads import one_blas_thread

def blas_threads():
    return [info["num_threads"] for info in ThreadpoolController().select(user_api="blas").info()]

with threadpool_limits(limits=2, user_api="blas"):
    before = blas_threads()
    if not before or min(before) < 2:
        raise SystemExit(3)  # BLAS cannot run 2 threads here
    with one_blas_thread():
        assert set(blas_threads()) == {1}
        with one_blas_thread():
            assert set(blas_threads()) == {1}
        assert set(blas_threads()) == {1}, "an inner exit must not lift the outer limit"
    assert blas_threads() == before
    try:
        with one_blas_thread():
            raise RuntimeError("a failing block")
    except RuntimeError:
        pass
    assert blas_threads() == before
"""


def test_the_limit_holds_inside_and_is_restored_after_nesting_and_errors():
    """In a fresh process: OpenBLAS 0.3.31 may ignore the main thread's limits once other
    threads of the process (Dask's, a thread pool's) have set and restored theirs, which
    earlier tests in this process do; the real libraries are checked where nothing did."""
    run = subprocess.run([sys.executable, "-c", _NESTING_CHECK], capture_output=True, text=True,
                         timeout=120)
    if run.returncode == 3:
        pytest.skip("BLAS cannot run 2 threads here")
    assert run.returncode == 0, run.stderr


class _RecordingController:
    """Stands for threadpoolctl's controller: one process-wide limit, saved and restored.

    OpenBLAS 0.3.31 ignores a limit set from a thread other than the main one once
    the main thread has set one, so the real libraries cannot show a cross-thread
    interleaving; this stand-in applies every call, as the libraries' contract says.
    """

    def __init__(self, threads):
        self.threads = threads
        self.calls = 0

    def limit(self, limits):
        controller, saved = self, self.threads
        controller.threads, controller.calls = limits, controller.calls + 1

        class Limiter:
            def restore_original_limits(self):
                controller.threads = saved

        return Limiter()


@pytest.fixture
def recording(monkeypatch):
    controller = _RecordingController(threads=4)
    monkeypatch.setattr(threads_module, "_blas_controller", lambda: controller)
    return controller


def test_interleaved_exits_from_two_threads_restore_the_limits(recording):
    """A enters, B enters, A exits, B exits: the order that left the process at one thread."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def first():
        with one_blas_thread():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second():
        a_in.wait(5)
        with one_blas_thread():
            b_in.set()
            a_out.wait(5)
            seen["after A left"] = recording.threads

    workers = [threading.Thread(target=first), threading.Thread(target=second)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(10)
    assert seen["after A left"] == 1, "B is still inside: the limit must hold"
    assert recording.threads == 4, "the caller's limit must come back"
    assert recording.calls == 1, "the second context shares the first one's limit"


def test_many_concurrent_block_runs_restore_the_limits(recording):
    rng = np.random.default_rng(0)
    matrices = rng.standard_normal((8, 64, 64))
    results = np.zeros((6, 8))

    def query(k):
        def block(start):
            assert recording.threads == 1
            results[k, start] = np.linalg.norm(matrices[start] @ matrices[start].T)
        run_blocks(block, range(8), n_workers=2)

    workers = [threading.Thread(target=query, args=(k,)) for k in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    assert recording.threads == 4
    expected = [np.linalg.norm(m @ m.T) for m in matrices]
    np.testing.assert_allclose(results, np.tile(expected, (6, 1)))
