"""Queries from several threads at once (a web service, a labelling back end) on one model.

Each thread must get exactly the picks a query alone gets, and the model, the
caller's arrays and the global random state must be left as they were.
"""

from __future__ import annotations

import threading
import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from conftest import assert_same_query, assert_same_rng_states, global_rng_states, net_learner

from modal_ibal.strategies._registry import STRATEGIES

N_THREADS, REPEATS, BATCH = 4, 3, 5


@pytest.fixture(scope="module")
def learner_and_pool(digits):
    X, y = digits
    rng = np.random.default_rng(0)
    order = rng.permutation(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        learner = net_learner(X[order[:40]], y[order[:40]])
    return learner, X[order[40:340]]


def _query(name, learner, X_pool):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return STRATEGIES[name].resolve()(learner, X_pool, BATCH, random_state=3)


def test_concurrent_queries_equal_single_thread_ones_and_leave_the_model_alone(
        learner_and_pool):
    learner, X_pool = learner_and_pool
    module = learner.estimator.module_
    module.train()  # a model between epochs: every flag must come back as it was
    parameters = {name: p.detach().clone() for name, p in module.named_parameters()}
    gradients = {name: None if p.grad is None else p.grad.clone()
                 for name, p in module.named_parameters()}
    pool_before = X_pool.copy()
    expected = {name: _query(name, learner, X_pool) for name in STRATEGIES}
    rng_before = global_rng_states()
    start = threading.Barrier(N_THREADS)

    def work(names):
        start.wait()
        return [(name, _query(name, learner, X_pool)) for name in names]

    names = list(STRATEGIES) * REPEATS
    shares = [names[i::N_THREADS] for i in range(N_THREADS)]
    with ThreadPoolExecutor(N_THREADS) as executor:
        results = [item for part in executor.map(work, shares) for item in part]
    assert len(results) == len(names)
    for name, got in results:
        assert np.all((got[0] >= 0) & (got[0] < len(X_pool))), name
        assert_same_query(got, expected[name])
    assert all(m.training for m in module.modules()), "a query left the model in eval mode"
    assert not any(m._forward_hooks for m in module.modules()), "a query left a hook behind"
    for name, p in module.named_parameters():
        np.testing.assert_array_equal(p.detach(), parameters[name])
        assert (p.grad is None) == (gradients[name] is None), name
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, gradients[name])
    np.testing.assert_array_equal(X_pool, pool_before)
    assert_same_rng_states(rng_before, global_rng_states())
