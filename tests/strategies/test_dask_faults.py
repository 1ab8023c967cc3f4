"""Dask queries whose workers die: a clear error in bounded time, on a cluster of each test's own."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import two_worker_client
from sklearn.linear_model import LogisticRegression

from modal_ibal import (
    entropy_distance_sampling,
    entropy_sampling,
    herding_sampling,
    ibal_distance_sampling,
)
from modal_ibal._utils.dask_waits import computed, query_timeout

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

BATCH, CHUNK = 5, 64


@pytest.fixture
def client():
    """Two worker processes that the test may kill: a fresh cluster for every test."""
    with two_worker_client(silence_logs=logging.CRITICAL) as client:
        yield client


@pytest.fixture(scope="module")
def data():
    """A pool of 300 rows, a labelled set of 30 in 4 classes, and a model fitted on it."""
    rng = np.random.default_rng(0)
    X_labelled = rng.random((30, 16), dtype=np.float32)
    y_labelled = np.arange(30) % 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LogisticRegression(max_iter=500).fit(X_labelled, y_labelled)
    return rng.random((300, 16), dtype=np.float32), X_labelled, y_labelled, model


class _FatalCodes:
    """An embedding that kills the worker process it runs in (as an out-of-memory kill would)."""

    def __init__(self):
        self.caller = os.getpid()

    def __call__(self, X):
        if os.getpid() != self.caller:
            os._exit(1)
        return np.asarray(X, dtype=np.float64)


def test_workers_that_die_on_every_attempt_fail_the_query_clearly_within_a_minute(client, data):
    """Out of memory or a crash in the forward pass: every chunk task kills its worker."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    X, X_labelled, y_labelled, model = data
    pool = da.from_array(X, chunks=(CHUNK, -1))
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"Dask workers died each time .* worker logs"):
        ibal_distance_sampling(model, pool, BATCH, embedding=_FatalCodes(),
                               X_labelled=X_labelled, y_labelled=y_labelled)
    assert time.monotonic() - started < 60


class _FatalOnLoad(_FatalCodes):
    """An embedding whose unpickling kills the worker process that loads it."""

    def __setstate__(self, state):
        if os.getpid() != state["caller"]:
            os._exit(1)
        self.__dict__.update(state)


def test_a_model_whose_loading_kills_the_workers_fails_clearly_within_a_minute(client, data):
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    X, X_labelled, y_labelled, model = data
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"Dask workers died each time .* more memory"):
        entropy_distance_sampling(model,
                                  da.from_array(X, chunks=(CHUNK, -1)), BATCH,
                                  embedding=_FatalOnLoad(), X_labelled=X_labelled,
                                  y_labelled=y_labelled)
    assert time.monotonic() - started < 60


@contextlib.contextmanager
def _bounded_cluster(n_workers: int, bound: float):
    """A cluster of its own, its Client not the default but passed as the scheduler.

    Queries wait ``bound`` seconds for each result; the workers have imported
    the package first, so that loading the model fits in the bound on a busy machine.
    """
    with distributed.LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                                  dashboard_address=None,
                                  silence_logs=logging.CRITICAL) as cluster, \
            distributed.Client(cluster, set_as_default=False) as client:
        client.run(exec, "import modal_ibal")
        with dask.config.set({"scheduler": client.get, "modal_ibal.query-timeout": bound}):
            yield cluster, client


def _poll(condition, failure: str, seconds: float = 30) -> None:
    """Wait until ``condition()`` holds, failing with ``failure`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, failure
        time.sleep(0.05)


class _HangingCodes(_FatalCodes):
    """An embedding that, on a worker, writes the worker's pid to ``marker`` and then hangs."""

    def __init__(self, marker):
        super().__init__()
        self.marker = marker

    def __call__(self, X):
        if os.getpid() != self.caller:
            self.marker.write_text(str(os.getpid()))
            time.sleep(120)  # until the worker is closed
        return np.asarray(X, dtype=np.float64)


def test_a_query_whose_workers_are_closed_fails_within_the_time_bound(data, tmp_path):
    """Every worker closed while the chunks run: a TimeoutError naming what to look at."""
    import cloudpickle

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    X, X_labelled, y_labelled, model = data
    marker = tmp_path / "worker-pid"
    executor = ThreadPoolExecutor(1)
    try:
        with _bounded_cluster(2, bound=5) as (cluster, client):
            started = time.monotonic()
            query = executor.submit(ibal_distance_sampling, model,
                                    da.from_array(X, chunks=(CHUNK, -1)), BATCH,
                                    embedding=_HangingCodes(marker), X_labelled=X_labelled,
                                    y_labelled=y_labelled)
            _poll(lambda: marker.exists() and marker.read_text(), "no chunk reached a worker")
            cluster.scale(0)
            _poll(lambda: not client.nthreads(), "the workers were not closed")
            with pytest.raises(TimeoutError, match=r"No result from the Dask cluster within 5 s"
                                                   r".* running workers .*scheduler_info.*"
                                                   r"modal_ibal\.query-timeout"):
                query.result(timeout=60)
            assert time.monotonic() - started < 60
    finally:
        executor.shutdown(wait=False)  # a query that hangs must not hang the test run too


def test_a_cluster_without_workers_fails_every_wait_within_the_time_bound(data):
    """No worker at all: the model load, and a query's first compute, give up in time."""
    X, X_labelled, y_labelled, model = data
    pool = da.from_array(X, chunks=(CHUNK, -1))
    with _bounded_cluster(0, bound=2):
        for query, waited in ((entropy_sampling, "No Dask worker loaded the model"),
                              (herding_sampling, "No result from the Dask cluster")):
            started = time.monotonic()
            with pytest.raises(TimeoutError, match=rf"{waited} within 2 s.*running workers"):
                query(model, pool, BATCH, X_labelled=X_labelled, y_labelled=y_labelled)
            assert time.monotonic() - started < 20
        with pytest.raises(TimeoutError, match="No result from the Dask cluster"):
            computed([pool.sum(), None])


def test_the_time_bound_comes_from_the_dask_config():
    assert query_timeout() == 600.0
    with dask.config.set({"modal_ibal.query-timeout": "2 minutes"}):
        assert query_timeout() == 120.0
    with dask.config.set({"modal_ibal.query_timeout": 7}):  # dask reads - and _ alike
        assert query_timeout() == 7.0
    for bad in (0, -1, "soon", float("inf"), True):
        with dask.config.set({"modal_ibal.query-timeout": bad}), \
                pytest.raises(ValueError, match=r"The Dask config value 'modal_ibal\.query-timeout' "
                                                r"must be a finite number of seconds > 0"):
            query_timeout()
