"""A query never writes to an array the caller passed: the pool, the labelled set, the learner's.

Checked byte for byte after every registered strategy, on an in-memory pool and
on a Dask pool (scored by Dask's local threads, which share the caller's memory).
"""

from __future__ import annotations

import warnings

import pytest
from conftest import net_learner

from modal_ibal.strategies._contract import DASK_POOL_STRATEGIES
from modal_ibal.strategies._registry import STRATEGIES

BATCH = 5


@pytest.fixture(scope="module")
def setting(digits):
    X, y = digits
    X = X * 7.0  # rows of norm far from 1: a unit-row scaling done in place would show
    learner = net_learner(X[:40], y[:40])
    return learner, X[40:400]


def _snapshot(learner, X_pool):
    return [array.tobytes() for array in (learner.X_training, learner.y_training, X_pool)]


def _query(strategy, learner, X_pool, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return strategy(learner, X_pool, BATCH, random_state=0, **kwargs)


@pytest.mark.parametrize("name", list(STRATEGIES))
def test_an_in_memory_query_leaves_the_callers_arrays_as_they_were(setting, name):
    learner, X_pool = setting
    before = _snapshot(learner, X_pool)
    _query(STRATEGIES[name].resolve(), learner, X_pool)
    assert _snapshot(learner, X_pool) == before
    X_labelled, y_labelled = learner.X_training.copy(), learner.y_training.copy()
    passed = X_labelled.tobytes(), y_labelled.tobytes()
    _query(STRATEGIES[name].resolve(), learner.estimator, X_pool,
           X_labelled=X_labelled, y_labelled=y_labelled)
    assert (X_labelled.tobytes(), y_labelled.tobytes()) == passed


@pytest.mark.parametrize("name", [name for name, entry in STRATEGIES.items()
                                  if entry.function.__name__ in DASK_POOL_STRATEGIES])
@pytest.mark.parametrize("representation", [None, "inputs"])
def test_a_dask_query_leaves_the_callers_arrays_as_they_were(setting, name, representation):
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    learner, X_pool = setting
    strategy = STRATEGIES[name].resolve()
    options = {} if representation is None else {"representation": representation}
    if representation is not None and name not in ("default", "herding", "uherding"):
        pytest.skip("only kernel herding takes a representation")
    before = _snapshot(learner, X_pool)
    with dask.config.set(scheduler="threads"):
        _query(strategy, learner, da.from_array(X_pool, chunks=(100, -1)), **options)
    assert _snapshot(learner, X_pool) == before
