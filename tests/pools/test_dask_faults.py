"""Dask queries whose workers die: a clear error in bounded time, on a cluster of each test's own."""

from __future__ import annotations

import logging
import os
import sys
import time
import warnings

import numpy as np
import pytest
from conftest import two_worker_client
from sklearn.linear_model import LogisticRegression

from modal_ibal import entropy_distance_sampling, ibal_distance_sampling

da = pytest.importorskip("dask.array")
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
